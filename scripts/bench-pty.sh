#!/usr/bin/env bash
# Measures the console the way an operator over SSH meets it, beside the terminal tools
# it is compared with, in one run on this machine, and prints one table.
#
#   scripts/bench-pty.sh            1k, 10k and 100k users
#   SIZES="1000 10000 100000 1000000" scripts/bench-pty.sh
#
# Needs ../shared/tools/ptybench.py (or PTYBENCH=path) and installs the peers (htop,
# mc, tig, ncdu, fzf, hyperfine) with apt-get when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PTYBENCH=${PTYBENCH:-../shared/tools/ptybench.py}
GEN_USERS=${GEN_USERS:-$(dirname "$PTYBENCH")/gen_users.py}
SIZES=${SIZES:-"1000 10000 100000"}
PEER_USERS=100000
[ -f "$PTYBENCH" ] || { echo "ptybench.py not found at $PTYBENCH (set PTYBENCH)" >&2; exit 2; }

missing=()
for tool in htop mc tig ncdu fzf hyperfine; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
    sudo_cmd=""; [ "$(id -u)" = 0 ] || sudo_cmd=sudo
    $sudo_cmd apt-get update -qq && $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi

cargo build --release --quiet
bin=$PWD/target/release/rolecall
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
out=$work/results
mkdir -p "$out"

bench() { # name, keys, exit keys, ready regex, command...
    local name=$1 keys=$2 exit_keys=$3 ready=$4; shift 4
    python3 "$PTYBENCH" --per-key --keys "$keys" --exit-keys "$exit_keys" --ready "$ready" \
        -- "$@" > "$out/$name.json" 2>/dev/null || echo '{}' > "$out/$name.json"
}

rss_kib() { # RSS of the console 2 s after start, with the whole list loaded
    python3 - "$@" <<'PY'
import os, pty, select, sys, time, signal, struct, fcntl, termios
pid, fd = pty.fork()
if pid == 0:
    os.environ["TERM"] = "xterm-256color"
    os.execv(sys.argv[1], sys.argv[1:])
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
end = time.time() + 2.0
while time.time() < end:
    ready, _, _ = select.select([fd], [], [], 0.1)
    if ready:
        try:
            os.read(fd, 65536)
        except OSError:
            break
rss = 0
with open(f"/proc/{pid}/status") as f:
    for line in f:
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
os.kill(pid, signal.SIGTERM)
os.waitpid(pid, 0)
print(rss)
PY
}

for n in $SIZES; do
    db=$work/users-$n.db
    start=$EPOCHREALTIME
    "$bin" demo --users "$n" --no-tui --db "$db" >/dev/null
    python3 -c "print($EPOCHREALTIME - $start)" > "$out/demo-$n.seconds"
    bench "rolecall-down-$n" 'Down*30' q 'Users' "$bin" --db "$db"
    # Typing waits for the whole list: the filter's cost is measured on all of it.
    bench "rolecall-filter-$n" '/ text:smit' 'Esc Esc q' 'total · / to filter' "$bin" --db "$db"
    rss_kib "$bin" --db "$db" > "$out/rss-$n.kib"
    hyperfine --warmup 3 --runs 30 --export-json "$out/check-$n.json" \
        "$bin --db $db check owner contacts.export" >/dev/null 2>&1 || true
done

# The peers, measured in the same run.
python3 "$GEN_USERS" -n "$PEER_USERS" --seed 42 > "$work/users.txt"
mkdir -p "$work/tree"
(cd "$work/tree" && for i in $(seq 1 400); do mkdir -p "d$i" && : > "d$i/f"; done)
bench htop 'Down*30' q 'PID' htop
bench mc 'Down*30' 'F10' '.' mc -u "$work/tree"
bench tig 'Down*30' q '.' tig
bench ncdu 'Down*30' q '.' ncdu "$work/tree"
bench fzf-down 'Down*30' 'Esc' '.' sh -c "fzf < $work/users.txt"
bench fzf-filter 'text:smit' 'Esc' '.' sh -c "fzf < $work/users.txt"

python3 - "$out" "$SIZES" <<'PY'
import json, os, statistics, sys
out, sizes = sys.argv[1], sys.argv[2].split()

def load(name):
    try:
        with open(os.path.join(out, name + ".json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}

def per_key(d, key, field):
    try:
        return d["per_key"][key][field]["median"]
    except (KeyError, TypeError):
        return None

def letters(d):
    steps = [s for s in d.get("steps", []) if len(str(s.get("key", ""))) == 1 and s.get("key") != "/"]
    return [s.get("settle_ms") for s in steps]

def fmt(v, unit=""):
    return "-" if v is None else (f"{v:.1f}{unit}" if isinstance(v, float) else f"{v}{unit}")

print("| program | users | first frame ms | Down bytes | Down settle ms | letters typed: settle ms each | check ms | demo s | RSS MB |")
print("|---|---|---|---|---|---|---|---|---|")
for n in sizes:
    down, filt = load(f"rolecall-down-{n}"), load(f"rolecall-filter-{n}")
    check = load(f"check-{n}")
    check_ms = statistics.median(check["results"][0]["times"]) * 1000 if check.get("results") else None
    demo = open(os.path.join(out, f"demo-{n}.seconds")).read().strip()
    rss = int(open(os.path.join(out, f"rss-{n}.kib")).read().strip() or 0) / 1024
    print(f"| rolecall | {n} | {fmt(down.get('startup_ms'))} | {fmt(per_key(down, 'Down', 'bytes'))} | "
          f"{fmt(per_key(down, 'Down', 'settle_ms'))} | {', '.join(fmt(x) for x in letters(filt))} | "
          f"{fmt(check_ms)} | {float(demo):.2f} | {rss:.0f} |")
for name, label in [("htop", "htop"), ("mc", "mc -u"), ("tig", "tig"), ("ncdu", "ncdu"), ("fzf-down", "fzf")]:
    d = load(name)
    extra = ""
    if name == "fzf-down":
        extra = ", ".join(fmt(x) for x in letters(load("fzf-filter")))
    print(f"| {label} | {'100000 lines' if name.startswith('fzf') else ''} | {fmt(d.get('startup_ms'))} | "
          f"{fmt(per_key(d, 'Down', 'bytes'))} | {fmt(per_key(d, 'Down', 'settle_ms'))} | {extra} | | | |")
PY
