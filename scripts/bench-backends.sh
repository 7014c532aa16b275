#!/usr/bin/env bash
# The figures of BENCHMARKS.md "SQLite and PostgreSQL", both backends in one run on
# this machine: `demo --users N`, `check` as a whole process, the console's first full
# frame, and one lookup in `user_permissions`. PostgreSQL is a throwaway local server
# on a unix socket (scripts/pg-throwaway), or ROLECALL_TEST_PG when it is set.
#
#   scripts/bench-backends.sh             100,000 users
#   USERS=10000 scripts/bench-backends.sh
#   LOOKUP_SQLITE=0 ...                   without the SQLite lookup (a criterion build)
set -euo pipefail
cd "$(dirname "$0")/.."

USERS=${USERS:-100000}
PTYBENCH=${PTYBENCH:-../shared/tools/ptybench.py}
target=${CARGO_TARGET_DIR:-target}
cargo build --release --quiet
bin=$target/release/rolecall

work=$(mktemp -d)
cleanup() {
    [ -n "${pg_dir:-}" ] && scripts/pg-throwaway stop "$pg_dir"
    rm -rf "$work"
}
trap cleanup EXIT
server=${ROLECALL_TEST_PG:-}
if [ -z "$server" ]; then
    pg=$(scripts/pg-throwaway)
    pg_dir=$(printf '%s\n' "$pg" | sed -n 1p)
    server=$(printf '%s\n' "$pg" | sed -n 2p)
fi
dbname="rolecall_bench_$$"
psql -q "$server" -c "CREATE DATABASE $dbname"
pg_url=$(python3 - "$server" "$dbname" <<'PY'
import sys
url, name = sys.argv[1], sys.argv[2]
scheme, rest = url.split("://", 1)
cut = min([i for i in (rest.find("/"), rest.find("?")) if i >= 0] or [len(rest)])
auth, tail = rest[:cut], rest[cut:]
query = tail.split("?", 1)[1] if "?" in tail else ""
print(f"{scheme}://{auth}/{name}" + (f"?{query}" if query else ""))
PY
)


printf '| backend | demo --users %s s | check whole process ms (median) | first frame ms (median of 5) | user_permissions lookup ms (median) |\n|---|---|---|---|---|\n' "$USERS"
for backend in sqlite postgres; do
    if [ $backend = sqlite ]; then db=$work/bench.db; else db=$pg_url; fi
    start=$(date +%s.%N)
    "$bin" --db "$db" demo --users "$USERS" --no-tui >/dev/null
    demo_s=$(python3 -c "print(round($(date +%s.%N) - $start, 2))")
    owner=$("$bin" --db "$db" users list --json | python3 -c 'import json,sys; print(next(u["username"] for u in json.load(sys.stdin) if u["owner"]))')
    hyperfine --warmup 3 --runs 30 --export-json "$work/check.json" \
        "$bin --db '$db' check $owner contacts.export" >/dev/null 2>&1
    check_ms=$(python3 -c 'import json,statistics; print(round(statistics.median(json.load(open("'"$work/check.json"'"))["results"][0]["times"])*1000,2))')
    frames=()
    for _ in 1 2 3 4 5; do
        frames+=("$(python3 "$PTYBENCH" --keys 'Down' --exit-keys q --ready 'Users' -- "$bin" --db "$db" 2>/dev/null \
            | python3 -c 'import json,sys; print(json.load(sys.stdin)["startup_ms"])')")
    done
    frame_ms=$(printf '%s\n' "${frames[@]}" | python3 -c 'import statistics,sys; print(round(statistics.median(float(l) for l in sys.stdin),1))')
    # One lookup as an application makes it: a user picked at random, one permission.
    if [ $backend = sqlite ] && [ "${LOOKUP_SQLITE:-1}" = 0 ]; then
        lookup_ms="not measured (LOOKUP_SQLITE=0)"
    elif [ $backend = sqlite ]; then
        # In process, through the bundled SQLite (the system's may plan the view
        # differently): criterion's estimate, benches/packages.rs view_lookup.
        lookup_ms=$(cargo bench --quiet --bench packages -- view_lookup 2>/dev/null \
            | python3 -c 'import re,sys
m = re.search(r"time:\s+\[\S+ \S+ (\S+) (\S+)", sys.stdin.read())
v, unit = float(m.group(1)), m.group(2)
print(round(v / {"ns": 1e6, "µs": 1e3, "us": 1e3, "ms": 1}[unit], 4))')
    else
        cat > "$work/lookup.sql" <<'SQL'
\set n random(1, 100000)
SELECT 1 FROM user_permissions WHERE username = (SELECT username FROM users WHERE id = :n) AND permission_key = 'contacts.export';
SQL
        (cd "$work" && pgbench -n -f lookup.sql -t 2000 -c 1 -M extended -l --log-prefix=pglog "$db" >/dev/null 2>&1)
        lookup_ms=$(cat "$work"/pglog.* | awk '{print $3}' | python3 -c 'import statistics,sys; print(round(statistics.median(int(l)/1000 for l in sys.stdin),3))')
    fi
    printf '| %s | %s | %s | %s | %s |\n' "$backend" "$demo_s" "$check_ms" "$frame_ms" "$lookup_ms"
done
psql -q "$server" -c "DROP DATABASE $dbname WITH (FORCE)"
