//! Faults, concurrency and hostile input: the guarantees of the README's "What rolecall
//! guarantees", one test (or a few) each, in the order of that section.
//!
//! Every test here fails when the guarantee it checks is taken away: a change split
//! over several transactions, a missing busy timeout, a version check outside the
//! write transaction, a signal that is not handled, a stored string printed without
//! the sanitising function, a bad file that is written to or panics, an error that
//! drops the operator's edit, a rule that lets the owner go, a hash that is printed.
//!
//! The real binary runs with the same clean environment as `tests/cli.rs`. Console
//! checks that need the real terminal bytes run the binary in a pseudo-terminal
//! through a small Python script (`PTY_DRIVER`, standard library only): it keeps every
//! byte the console writes and a minimal screen model (cursor moves, erases, text
//! with East Asian widths) to wait on and to check alignment. The console's state is
//! also driven directly on ratatui's `TestBackend`, as in `tests/tui.rs`.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::{Db, Run, command, dump, rc, rc_stdin, s, sqlite_only, strings};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use proptest::prelude::*;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::layout::{Position, Rect};
use rolecall::domain::catalog::CheckState;
use rolecall::domain::policy::{Document, UserRecord};
use rolecall::domain::user::Profile;
use rolecall::store::{Access, NewUser, Store, UserChange};
use rolecall::tui::app::{App, Msg, Overlay};
use rolecall::tui::theme::Theme;
use rolecall::tui::views;
use rusqlite::Connection;
use serde_json::{Value, json};
use tempfile::TempDir;

// ---------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------

/// A small deterministic generator (xorshift64*): the same seed gives the same kill
/// points and the same action sequences on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// `PRAGMA integrity_check` through a connection of its own, as the next process to
/// open the file would see it (a crashed writer's log is recovered first).
fn integrity(path: &Path) -> String {
    if path.to_str().is_some_and(|p| p.starts_with("postgres")) {
        // A server keeps its own files consistent; what these tests check there is
        // what the rows say (lockout_problem_in, the exports).
        return "ok".into();
    }
    let conn = Connection::open(path).expect("the database opens");
    conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity_check runs")
}

#[track_caller]
fn assert_intact(path: &Path) {
    assert_eq!(integrity(path), "ok", "PRAGMA integrity_check");
}

/// A run of the binary, decoded like `Db::run` does it.
fn to_run(args: &[&str], out: Output) -> Run {
    Run {
        args: args.iter().map(|a| a.to_string()).collect(),
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        raw_stdout: out.stdout,
        raw_stderr: out.stderr,
    }
}

/// Starts `rolecall --db DB ARGS` for every argument list at once and waits for all.
fn run_at_once(db: &Db, commands: &[Vec<String>]) -> Vec<Run> {
    let children: Vec<Child> = commands
        .iter()
        .map(|args| {
            command(db.dir())
                .arg("--db")
                .arg(db.path())
                .args(args)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("rolecall starts")
        })
        .collect();
    children
        .into_iter()
        .zip(commands)
        .map(|(child, args)| {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            to_run(&args, child.wait_with_output().expect("rolecall finishes"))
        })
        .collect()
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// The owner rule as the application sees it (SPEC §4): while any user exists there
/// is exactly one owner, active, on Administrator, and Administrator holds every
/// permission, so the owner holds every permission through `user_permissions`.
fn lockout_problem(conn: &Connection) -> Option<String> {
    lockout_problem_with(|sql| conn.query_row(sql, [], |r| r.get(0)).expect(sql))
}

/// [`lockout_problem`] on either backend.
fn lockout_problem_in(db: &Db) -> Option<String> {
    lockout_problem_with(|sql| {
        db.sql_strings(&format!("SELECT CAST(({sql}) AS TEXT)"), &[])[0]
            .parse()
            .expect(sql)
    })
}

fn lockout_problem_with(q: impl Fn(&str) -> i64) -> Option<String> {
    let users = q("SELECT count(*) FROM users");
    let leaves = q("SELECT count(*) FROM permissions p WHERE NOT EXISTS \
                    (SELECT 1 FROM permissions c WHERE c.parent = p.key)");
    let admin_grants = q(
        "SELECT count(*) FROM role_grants g JOIN roles r ON r.id = g.role_id \
                          WHERE r.builtin = TRUE AND r.name = 'Administrator'",
    );
    if admin_grants != leaves {
        return Some(format!(
            "Administrator holds {admin_grants} of {leaves} permissions"
        ));
    }
    if users == 0 {
        return None;
    }
    let owners = q("SELECT count(*) FROM users WHERE owner = TRUE");
    if owners != 1 {
        return Some(format!("{owners} owners among {users} users"));
    }
    let good = q(
        "SELECT count(*) FROM users u JOIN roles r ON r.id = u.role_id \
                  WHERE u.owner = TRUE AND u.active = TRUE AND r.name = 'Administrator' AND r.builtin = TRUE",
    );
    if good != 1 {
        return Some("the owner is disabled or not on Administrator".into());
    }
    let owner_grants = q(
        "SELECT count(*) FROM user_permissions p JOIN users u ON u.username = p.username \
                          WHERE u.owner = TRUE",
    );
    if owner_grants != leaves {
        return Some(format!(
            "the owner holds {owner_grants} of {leaves} permissions through user_permissions"
        ));
    }
    None
}

/// Passwords the tests set; none of them, and no stored hash, may ever be shown.
const PASSWORDS: [&str; 3] = [
    "correct-horse-battery-7",
    "Tr0ub4dor&3-second",
    "\u{7f0f}pass phrase \u{1F511} third",
];

/// Checks guarantee 10 for one test: no password and no stored hash in `outputs`
/// (stdout, stderr, pty bytes), in the audit table, or in any file under `dir` other
/// than the database itself (exports, logs); and no plain password in the database
/// files either. Returns how many hashes were looked for.
#[track_caller]
fn assert_no_secrets(db_path: &Path, dir: &Path, outputs: &[&[u8]]) -> usize {
    let conn = Connection::open(db_path).expect("the database opens");
    let column = |sql: &str| -> Vec<String> {
        let mut stmt = conn.prepare(sql).unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    };
    let hashes = column(HASHES_SQL);
    let audit = column(AUDIT_TEXT_SQL);
    drop(conn);
    let db_name = db_path.file_name().unwrap().to_string_lossy().into_owned();
    check_no_secrets(&hashes, &audit, dir, Some(&db_name), outputs)
}

/// [`assert_no_secrets`] for a test database on either backend: the hashes and the
/// audit rows are read through `Db::sql_strings`, and every file in the test's
/// folder is searched (on PostgreSQL none of them is the database).
#[track_caller]
fn assert_no_secrets_in(db: &Db, outputs: &[&[u8]]) -> usize {
    let hashes = db.sql_strings(HASHES_SQL, &[]);
    let audit = db.sql_strings(AUDIT_TEXT_SQL, &[]);
    let db_name = (!db.is_pg()).then(|| {
        db.path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned()
    });
    check_no_secrets(&hashes, &audit, db.dir(), db_name.as_deref(), outputs)
}

const HASHES_SQL: &str = "SELECT password_hash FROM users WHERE password_hash IS NOT NULL";
const AUDIT_TEXT_SQL: &str = "SELECT actor || action || target || coalesce(before, '') \
                              || coalesce(after, '') FROM audit";

/// The searches of [`assert_no_secrets`], given the stored hashes and audit rows;
/// files whose name starts with `db_name` are the database, which may hold hashes.
#[track_caller]
fn check_no_secrets(
    hashes: &[String],
    audit: &[String],
    dir: &Path,
    db_name: Option<&str>,
    outputs: &[&[u8]],
) -> usize {
    let mut needles: Vec<String> = PASSWORDS.iter().map(|p| p.to_string()).collect();
    needles.push("$argon2".into());
    for hash in hashes {
        needles.push(hash.clone());
        // The salt and the digest on their own, as another encoder might print them.
        for part in hash.rsplit('$').take(2) {
            needles.push(part.to_string());
        }
    }
    let contains = |hay: &[u8], needle: &str| {
        !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle.as_bytes())
    };
    for (i, out) in outputs.iter().enumerate() {
        for needle in &needles {
            assert!(
                !contains(out, needle),
                "output #{i} shows a secret ({needle:?}):\n{}",
                String::from_utf8_lossy(out)
            );
        }
    }
    for row in audit {
        for needle in &needles {
            assert!(
                !contains(row.as_bytes(), needle),
                "the audit log holds a secret: {row}"
            );
        }
    }
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        for entry in fs::read_dir(&folder).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let Ok(bytes) = fs::read(&path) else { continue };
            let name = entry.file_name().to_string_lossy().into_owned();
            let is_db = db_name.is_some_and(|db| name.starts_with(db));
            for needle in &needles {
                // The database holds the hashes by design; never a plain password.
                if is_db && !PASSWORDS.contains(&needle.as_str()) {
                    continue;
                }
                assert!(
                    !contains(&bytes, needle),
                    "{} holds a secret ({needle:?})",
                    path.display()
                );
            }
        }
    }
    hashes.len()
}

/// The mode bits of a file.
fn mode(path: &Path) -> u32 {
    fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// True when the tests run as root, which reads files whatever their mode.
fn running_as_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|uid| uid == "0"))
        })
        .unwrap_or(false)
}

// ---------------------------------------------------------------------------------
// The console in a pseudo-terminal
// ---------------------------------------------------------------------------------

/// Runs a program in a pseudo-terminal and follows a list of steps. Prints one JSON
/// object: the screen at each `mark`, the byte offset of each mark, the exit code or
/// signal, how long the program took to exit after a signal or hang-up, and an
/// `error` when a step failed. Every byte the program wrote goes to `raw_out`.
const PTY_DRIVER: &str = r#"
import codecs, fcntl, json, os, pty, select, signal, struct, sys, termios, time, unicodedata

cfg = json.loads(sys.argv[1])
WIDE_REST = "\ue000"  # the second cell of a wide character


class Screen:
    def __init__(self, cols, rows):
        self.resize(cols, rows)
        self.dec = codecs.getincrementaldecoder("utf-8")("replace")
        self.state, self.seq, self.overflow = "text", "", 0

    def resize(self, cols, rows):
        self.cols, self.rows = cols, rows
        self.clear()
        self.r = self.c = 0

    def clear(self):
        self.grid = [[" "] * self.cols for _ in range(self.rows)]

    def put(self, ch):
        if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
            return
        w = 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
        if self.c + w > self.cols or not 0 <= self.r < self.rows:
            self.overflow += 1
            return
        row, c = self.grid[self.r], self.c
        # Writing over half of a wide character blanks its other half, as terminals do.
        if row[c] == WIDE_REST and c > 0:
            row[c - 1] = " "
        end = c + w
        if end < self.cols and row[end] == WIDE_REST:
            row[end] = " "
        row[c] = ch
        if w == 2:
            row[c + 1] = WIDE_REST
        self.c = end

    def csi(self, seq):
        final, params = seq[-1], seq[:-1]
        nums = [int(p) if p.isdigit() else 0 for p in params.lstrip("?").split(";")]
        if final in "Hf" and not params.startswith("?"):
            self.r = (nums[0] or 1) - 1
            self.c = ((nums[1] if len(nums) > 1 else 1) or 1) - 1
        elif final == "J" and nums[0] == 2:
            self.clear()
        elif final == "K" and 0 <= self.r < self.rows:
            for i in range(self.c, self.cols):
                self.grid[self.r][i] = " "
        elif final == "h" and params in ("?1049", "?1047", "?47"):
            self.clear()

    def feed(self, data):
        for ch in self.dec.decode(data):
            if self.state == "esc":
                if ch == "[":
                    self.state, self.seq = "csi", ""
                elif ch in "]P_^X":
                    self.state = "str"
                else:
                    self.state = "text"
            elif self.state == "csi":
                self.seq += ch
                if "\x40" <= ch <= "\x7e":
                    self.csi(self.seq)
                    self.state = "text"
            elif self.state == "str":
                if ch in "\x07\x1b":
                    self.state = "text"
            elif ch == "\x1b":
                self.state = "esc"
            elif ch == "\r":
                self.c = 0
            elif ch == "\n":
                self.r += 1
            elif ch == "\b":
                self.c = max(0, self.c - 1)
            elif ord(ch) >= 0x20 and ch != "\x7f":
                self.put(ch)

    def lines(self):
        return ["".join(row) for row in self.grid]

    def text(self):
        return "\n".join(self.lines()).replace(WIDE_REST, "")


def set_size(fd, cols, rows):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


pid, fd = pty.fork()
if pid == 0:
    set_size(0, cfg["cols"], cfg["rows"])
    os.execv(cfg["argv"][0], cfg["argv"])

raw = bytearray()
screen = Screen(cfg["cols"], cfg["rows"])
result = {"marks": {}, "screens": {}}
state = {"status": None, "open": True, "t0": time.time()}


def pump(timeout):
    if not state["open"]:
        time.sleep(timeout)
        return False
    ready, _, _ = select.select([fd], [], [], timeout)
    if not ready:
        return True
    try:
        data = os.read(fd, 65536)
    except OSError:
        data = b""
    if not data:
        return False
    raw.extend(data)
    screen.feed(data)
    return True


def reap():
    if state["status"] is None:
        got, st = os.waitpid(pid, os.WNOHANG)
        if got == pid:
            state["status"] = st
    return state["status"] is not None


def finish():
    if not reap():
        os.kill(pid, signal.SIGKILL)
        state["status"] = os.waitpid(pid, 0)[1]
        result.setdefault("error", "the program was still running and was killed")
    st = state["status"]
    if os.WIFEXITED(st):
        result["exit_code"] = os.WEXITSTATUS(st)
    if os.WIFSIGNALED(st):
        result["killed_by"] = os.WTERMSIG(st)
    result["screen"] = screen.lines()
    result["overflow"] = screen.overflow
    with open(cfg["raw_out"], "wb") as f:
        f.write(bytes(raw))
    print(json.dumps(result))
    sys.exit(0)


def fail(why):
    result["error"] = why
    finish()


for step in cfg["steps"]:
    kind = step[0]
    if kind == "wait":
        deadline = time.time() + 15
        while step[1] not in screen.text():
            alive = pump(0.05)
            if time.time() > deadline or (not alive and step[1] not in screen.text()):
                fail("timed out waiting for %r" % step[1])
    elif kind == "send":
        os.write(fd, step[1].encode())
    elif kind == "settle":
        quiet_since, deadline = time.time(), time.time() + 15
        while time.time() - quiet_since < step[1] and time.time() < deadline:
            before = len(raw)
            if not pump(0.02):
                break
            if len(raw) != before:
                quiet_since = time.time()
    elif kind == "mark":
        result["marks"][step[1]] = len(raw)
        result["screens"][step[1]] = screen.lines()
    elif kind == "resize":
        screen.resize(step[1], step[2])
        set_size(fd, step[1], step[2])
    elif kind == "signal":
        result["signalled_at"] = len(raw)
        state["t0"] = time.time()
        os.kill(pid, getattr(signal, "SIG" + step[1]))
    elif kind == "hangup":
        result["signalled_at"] = len(raw)
        state["t0"] = time.time()
        os.close(fd)
        state["open"] = False
    elif kind == "exit":
        deadline = time.time() + step[1]
        while not reap() and time.time() < deadline:
            pump(0.005)
        if state["status"] is None:
            fail("still running %.1f s later" % step[1])
        result["exit_seconds"] = time.time() - state["t0"]
        while pump(0.05):
            pass
finish()
"#;

/// What [`pty_run`] saw.
struct PtyRun {
    result: Value,
    raw: Vec<u8>,
}

impl PtyRun {
    /// The screen at a mark, one string per row; the second cell of a wide character
    /// is `\u{e000}`, so every row has exactly as many characters as the terminal has
    /// columns.
    fn screen(&self, mark: &str) -> Vec<String> {
        strings(&self.result["screens"][mark])
    }

    fn text(&self, mark: &str) -> String {
        self.screen(mark).join("\n").replace('\u{e000}', "")
    }

    fn exit_code(&self) -> Option<i64> {
        self.result["exit_code"].as_i64()
    }
}

/// True when `python3` runs; outside CI a missing one skips the pty tests with a
/// message, under CI (`CI` set) it fails them.
fn python_available() -> bool {
    let ok = Command::new("python3")
        .arg("-c")
        .arg("import pty, termios")
        .stdin(Stdio::null())
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "python3 with the pty module is needed for the pseudo-terminal tests"
        );
        eprintln!("skipping: python3 is not installed");
    }
    ok
}

/// Runs `argv` in a `cols`x`rows` pseudo-terminal through [`PTY_DRIVER`], with the
/// clean environment of the other tests and `TERM=xterm-256color`.
fn pty_run(home: &Path, cols: u16, rows: u16, argv: &[&str], steps: Value) -> PtyRun {
    let raw_out = home.join(format!(
        "pty-{}.raw",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    let config = json!({
        "cols": cols,
        "rows": rows,
        "argv": argv,
        "steps": steps,
        "raw_out": raw_out,
    });
    let out = Command::new("python3")
        .arg("-c")
        .arg(PTY_DRIVER)
        .arg(config.to_string())
        .env_remove("ROLECALL_DB")
        .env_remove("SUDO_USER")
        .env_remove("SSH_CONNECTION")
        .env_remove("TMUX")
        .env("USER", common::TEST_USER)
        .env("LOGNAME", common::TEST_USER)
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("xdg-data"))
        .env("NO_COLOR", "1")
        .env("TERM", "xterm-256color")
        .stdin(Stdio::null())
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "the pty driver failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "the pty driver printed no JSON ({e}):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let raw = fs::read(&raw_out).expect("the raw output was written");
    let _ = fs::remove_file(&raw_out);
    if let Some(err) = result["error"].as_str() {
        panic!(
            "{err}\nscreen:\n{}\nraw tail: {:?}",
            strings(&result["screen"]).join("\n"),
            String::from_utf8_lossy(&raw[raw.len().saturating_sub(600)..])
        );
    }
    PtyRun { result, raw }
}

fn contains_bytes(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

// ---------------------------------------------------------------------------------
// The console on TestBackend (as in tests/tui.rs)
// ---------------------------------------------------------------------------------

fn add(store: &mut Store, username: &str, first: &str, role: Option<&str>) {
    store
        .add_user(NewUser {
            username: username.into(),
            profile: Profile {
                email: format!("{username}@example.com"),
                first_name: first.into(),
                last_name: "Marketer".into(),
                ..Profile::default()
            },
            role: role.map(rolecall::store::RoleRef::from),
            password: None,
            packages: Default::default(),
        })
        .unwrap();
}

/// An owner and six campaign managers.
fn seeded(dir: &Path) -> PathBuf {
    let db = dir.join("rolecall.db");
    let mut store = Store::open(&db, Access::ReadWrite).unwrap();
    store.set_actor("tester");
    add(&mut store, "olivia", "Olivia", None);
    for n in ["adam", "bella", "chen", "dora", "emil", "lena"] {
        add(&mut store, n, n, Some("Campaign Manager"));
    }
    db
}

struct Harness {
    _dir: Option<TempDir>,
    db: PathBuf,
    app: App,
    term: Terminal<TestBackend>,
}

impl Harness {
    fn new(width: u16, height: u16) -> Harness {
        let dir = TempDir::new().unwrap();
        let db = seeded(dir.path());
        let mut h = Harness::on(&db, width, height);
        h._dir = Some(dir);
        h
    }

    /// A second console on the same file.
    fn on(db: &Path, width: u16, height: u16) -> Harness {
        let mut store = Store::open(db, Access::ReadWrite).unwrap();
        store.set_actor("tester");
        let app = App::new(store, Theme::monochrome()).unwrap();
        let mut h = Harness {
            _dir: None,
            db: db.to_path_buf(),
            app,
            term: Terminal::new(TestBackend::new(width, height)).unwrap(),
        };
        h.draw();
        h
    }

    fn draw(&mut self) {
        let app = &self.app;
        self.term.draw(|f| views::draw(app, f)).unwrap();
    }

    fn resize(&mut self, width: u16, height: u16) {
        self.term.backend_mut().resize(width, height);
        self.term.resize(Rect::new(0, 0, width, height)).unwrap();
        self.draw();
    }

    fn key(&mut self, code: KeyCode, mods: KeyModifiers) {
        if let Some(msg) = self.app.key_to_msg(KeyEvent::new(code, mods)) {
            self.app.update(msg);
        }
        self.draw();
    }

    fn press(&mut self, keys: &str) {
        for c in keys.chars() {
            self.key(KeyCode::Char(c), KeyModifiers::NONE);
        }
    }

    fn code(&mut self, code: KeyCode) {
        self.key(code, KeyModifiers::NONE);
    }

    fn ctrl(&mut self, c: char) {
        self.key(KeyCode::Char(c), KeyModifiers::CONTROL);
    }

    fn screen(&self) -> String {
        self.term.backend().to_string()
    }

    fn open_role(&mut self, filter: &str) {
        self.press("2/");
        self.press(filter);
        self.code(KeyCode::Enter);
        self.code(KeyCode::Enter);
        assert!(
            self.app.editor.is_some(),
            "the editor opened:\n{}",
            self.screen()
        );
    }

    fn open_user(&mut self, filter: &str) {
        self.press("1/");
        self.press(filter);
        self.code(KeyCode::Enter);
        self.code(KeyCode::Enter);
        assert!(
            self.app.form.is_some(),
            "the form opened:\n{}",
            self.screen()
        );
    }

    fn editor(&self) -> &rolecall::tui::editor::RoleEditor {
        self.app.editor.as_ref().expect("editor open")
    }

    fn select(&mut self, key: &str) {
        let want = self.app.store.catalog().find(key).unwrap();
        self.code(KeyCode::Home);
        for _ in 0..200 {
            if self.editor().selected_node() == Some(want) {
                return;
            }
            self.code(KeyCode::Down);
        }
        panic!("could not reach {key}:\n{}", self.screen());
    }
}

/// Every category row on screen shows the mark its own count implies, and the count
/// is what the editor's grants hold (the check of `tests/tui.rs`).
fn assert_marks_consistent(h: &Harness) {
    let Some(editor) = &h.app.editor else { return };
    let catalog = h.app.store.catalog();
    for line in h.term.backend().to_string().lines() {
        for (mark, want) in [
            ("[x] ", CheckState::Checked),
            ("[-] ", CheckState::Partial),
            ("[ ] ", CheckState::Unchecked),
        ] {
            let Some(at) = line.find(mark) else { continue };
            let rest = line[at + mark.len()..].trim_end_matches(['│', '"', ' ']);
            let Some((label, count)) = rest.rsplit_once(' ') else {
                continue;
            };
            let Some((n, m)) = count.split_once('/') else {
                continue;
            };
            let (Ok(n), Ok(m)) = (n.parse::<usize>(), m.parse::<usize>()) else {
                continue;
            };
            let implied = if n == 0 {
                CheckState::Unchecked
            } else if n == m {
                CheckState::Checked
            } else {
                CheckState::Partial
            };
            assert_eq!(implied, want, "mark disagrees with its count: {line}");
            if let Some(node) = catalog
                .nodes()
                .iter()
                .find(|c| !c.is_leaf() && c.label == label.trim())
            {
                assert_eq!(
                    editor.grants.count_in(node.leaves.clone()),
                    n,
                    "count is stale: {line}"
                );
                assert_eq!(editor.grants.state(node), want, "mark is stale: {line}");
            }
        }
    }
}

/// No cell of the drawn screen holds a character a terminal would act on.
fn assert_buffer_safe(h: &Harness, after: &dyn std::fmt::Debug) {
    for cell in h.term.backend().buffer().content() {
        let symbol = cell.symbol();
        if symbol.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            continue;
        }
        assert!(
            !rolecall::text::has_unsafe(symbol),
            "after {after:?}: {symbol:?} reached the screen buffer"
        );
    }
}

// ---------------------------------------------------------------------------------
// 1. Crash safety
// ---------------------------------------------------------------------------------

const CRASH_CATEGORIES: usize = 12;
const CRASH_LEAVES: usize = 150;

/// A catalog of 12 categories of 150 permissions each: a grant of several categories
/// writes about a thousand rows, so a kill at a random moment often lands inside the
/// transaction rather than before or after it.
fn crash_catalog() -> String {
    let mut out = String::new();
    for c in 0..CRASH_CATEGORIES {
        out.push_str(&format!(
            "[[permission]]\nkey = \"area_{c:02}\"\nlabel = \"Area {c}\"\n\n"
        ));
        for l in 0..CRASH_LEAVES {
            out.push_str(&format!(
                "[[permission]]\nkey = \"area_{c:02}.action_{l:03}\"\nlabel = \"Action {l} in area {c}\"\n\n"
            ));
        }
    }
    out
}

/// The categories of the role `role` whose every leaf is granted, read straight from
/// the database on either backend; panics when one is half granted.
#[track_caller]
fn granted_categories(db: &Db, role: &str) -> BTreeSet<String> {
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for key in db.sql_strings(
        "SELECT g.permission_key FROM role_grants g JOIN roles r ON r.id = g.role_id \
         WHERE r.name = ?1",
        &[role],
    ) {
        let category = key.split('.').next().unwrap().to_string();
        *counts.entry(category).or_default() += 1;
    }
    for (category, n) in &counts {
        assert_eq!(
            *n, CRASH_LEAVES,
            "category {category} is half applied: {n} of {CRASH_LEAVES} granted"
        );
    }
    counts.into_keys().collect()
}

/// The role's version and how many `role.update` audit rows name it, read straight
/// from the database on either backend.
fn version_and_updates(db: &Db, role: &str) -> (i64, i64) {
    let number = |sql: &str| -> i64 { db.sql_strings(sql, &[role])[0].parse().expect("a number") };
    (
        number("SELECT CAST(version AS TEXT) FROM roles WHERE name = ?1"),
        number(
            "SELECT CAST(count(*) AS TEXT) FROM audit WHERE action = 'role.update' AND target = ?1",
        ),
    )
}

#[test]
fn sigkill_at_random_points_never_leaves_a_category_half_applied() {
    // On both backends: a killed writer leaves SQLite's file, or PostgreSQL's open
    // transaction, as it was. The checks read the rows through `Db::sql_strings`.
    let db = Db::with_owner();
    let catalog = db.dir().join("crash.toml");
    fs::write(&catalog, crash_catalog()).unwrap();
    db.ok(&["catalog", "load", catalog.to_str().unwrap(), "--prune"]);
    db.ok(&["roles", "create", "Crash"]);
    let categories: Vec<String> = (0..CRASH_CATEGORIES)
        .map(|c| format!("area_{c:02}"))
        .collect();
    let start = |on: bool, chosen: &[String]| -> Child {
        command(db.dir())
            .arg("--db")
            .arg(db.path())
            .args(["roles", if on { "grant" } else { "revoke" }, "Crash"])
            .args(chosen)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("rolecall starts")
    };
    // How long a whole grant takes, start to exit: kills are spread over it.
    let mut whole = Duration::ZERO;
    for on in [true, false, true, false] {
        let t = Instant::now();
        assert!(start(on, &categories).wait().unwrap().success());
        whole += t.elapsed();
    }
    let whole = whole / 4;

    let mut rng = Rng(0x00C0_FFEE_5EED_0001);
    let mut state = BTreeSet::new();
    let (mut kills, mut finished, mut unchanged, mut applied) = (0, 0, 0, 0);
    let mut iterations = 0;
    let mut seen = version_and_updates(&db, "Crash");
    while kills < 40 {
        iterations += 1;
        assert!(iterations < 400, "only {kills} kills landed in 400 runs");
        let on = rng.below(2) == 0;
        let mut chosen: Vec<String> = categories
            .iter()
            .filter(|_| rng.below(3) != 0)
            .cloned()
            .collect();
        if chosen.is_empty() {
            chosen.push(rng.pick(&categories).clone());
        }
        let delay = whole.mul_f64(rng.below(1200) as f64 / 1000.0);
        let mut child = start(on, &chosen);
        thread::sleep(delay);
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            kills += 1;
        } else {
            finished += 1;
        }
        child.wait().unwrap();

        // The leftovers of a killed writer are as private as the file.
        for suffix in ["", "-wal", "-shm"] {
            let p = sibling(db.path(), suffix);
            if !db.is_pg() && p.exists() {
                assert_eq!(mode(&p), 0o600, "{}", p.display());
            }
        }
        assert_intact(db.path());
        let now = granted_categories(&db, "Crash");
        let mut target = state.clone();
        for c in &chosen {
            if on {
                target.insert(c.clone());
            } else {
                target.remove(c);
            }
        }
        assert!(
            now == state || now == target,
            "after a kill the role holds {now:?}: neither the old {state:?} nor the new {target:?}"
        );
        if now == state && now != target {
            unchanged += 1;
        } else {
            applied += 1;
        }
        // Each committed change bumped the version and wrote its audit row with it.
        let (version, updates) = version_and_updates(&db, "Crash");
        // Versions are change numbers shared by all rows: each committed change
        // raised this role's and wrote one audit row; a killed one did neither.
        let (last_version, last_updates) = seen;
        assert!(
            (updates == last_updates && version == last_version)
                || (updates == last_updates + 1 && version > last_version),
            "one audit row per committed change: version {last_version} -> {version}, \
             audit rows {last_updates} -> {updates}"
        );
        seen = (version, updates);
        if updates > 0 {
            let last = db
                .sql_strings(
                    "SELECT after FROM audit WHERE action = 'role.update' AND target = ?1 \
                     ORDER BY id DESC LIMIT 1",
                    &["Crash"],
                )
                .remove(0);
            let last: Value = serde_json::from_str(&last).unwrap();
            assert_eq!(
                last["granted_count"].as_u64(),
                Some((now.len() * CRASH_LEAVES) as u64),
                "the last audit row describes the stored grants"
            );
        }
        state = now;
    }
    eprintln!(
        "{kills} kills, {finished} runs finished first, {unchanged} left the role as it was, \
         {applied} applied ({whole:?} per run)"
    );
    // The binary carries on from whatever a kill left.
    let shown = db.json(&["roles", "show", "Crash"]);
    assert_eq!(
        shown["granted_count"].as_u64(),
        Some((state.len() * CRASH_LEAVES) as u64)
    );
    db.ok(&["roles", "grant", "Crash", "all"]);
    assert_intact(db.path());
}

// ---------------------------------------------------------------------------------
// 2. Concurrency
// ---------------------------------------------------------------------------------

#[test]
fn eight_processes_adding_25_users_each_all_succeed() {
    let db = Db::new();
    let path = db.path().to_path_buf();
    let runs: Vec<Run> = thread::scope(|scope| {
        let workers: Vec<_> = (0..8)
            .map(|w| {
                let path = path.clone();
                scope.spawn(move || {
                    (0..25)
                        .map(|i| {
                            let name = format!("w{w}u{i:02}");
                            let email = format!("{name}@example.com");
                            let mut args = vec!["users", "add", name.as_str(), "--email", &email];
                            // Every fifth user with a password: a longer process
                            // (argon2) that overlaps more of the others.
                            if i % 5 == 0 {
                                args.push("--password-stdin");
                                let password = format!("{}\n", PASSWORDS[w % 2]);
                                to_run(&args, rc_stdin(&path, &args, &password))
                            } else {
                                to_run(&args, rc(&path, &args))
                            }
                        })
                        .collect::<Vec<Run>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("a worker finished"))
            .collect()
    });
    assert_eq!(runs.len(), 200);
    for run in &runs {
        assert!(
            !run.stderr.to_lowercase().contains("locked"),
            "rolecall {:?}: {}",
            run.args,
            run.stderr
        );
        run.expect_code(0);
    }
    let users = db.json(&["users", "list"]);
    let users = users.as_array().unwrap();
    assert_eq!(users.len(), 200, "every add landed");
    assert_eq!(
        users.iter().filter(|u| u["owner"] == true).count(),
        1,
        "exactly one of the racing first adds became the owner"
    );
    assert_eq!(
        users.iter().filter(|u| u["has_password"] == true).count(),
        40
    );
    let adds: i64 = db.sql_strings(
        "SELECT CAST(count(*) AS TEXT) FROM audit WHERE action = 'user.add'",
        &[],
    )[0]
    .parse()
    .unwrap();
    assert_eq!(adds, 200, "one audit row per add");
    assert!(lockout_problem_in(&db).is_none());
    assert_intact(db.path());
    let outputs: Vec<&[u8]> = runs
        .iter()
        .flat_map(|r| [r.raw_stdout.as_slice(), r.raw_stderr.as_slice()])
        .collect();
    assert_eq!(assert_no_secrets_in(&db, &outputs), 40);
}

// ---------------------------------------------------------------------------------
// 3. Lost updates
// ---------------------------------------------------------------------------------

#[test]
fn two_cli_writers_from_one_version_exactly_one_wins_and_the_other_exits_3() {
    let db = Db::with_owner();
    db.ok(&["roles", "create", "Shared"]);
    db.ok(&["users", "add", "bob", "--email", "bob@example.com"]);
    let leaves = common::all_leaf_keys(&db.catalog());
    for round in 0..6 {
        // Two grants of different permissions, both from the version just read.
        let role = db.json(&["roles", "show", "Shared"]);
        let v = role["version"].as_i64().unwrap().to_string();
        let (a, b) = (&leaves[2 * round], &leaves[2 * round + 1]);
        let runs = run_at_once(
            &db,
            &[
                strs(&["roles", "grant", "Shared", a, "--if-version", &v]),
                strs(&["roles", "grant", "Shared", b, "--if-version", &v]),
            ],
        );
        let codes: BTreeSet<i32> = runs.iter().map(|r| r.code).collect();
        assert_eq!(codes, BTreeSet::from([0, 3]), "{runs:#?}");
        let (winner, loser) = if runs[0].code == 0 {
            (a, &runs[1])
        } else {
            (b, &runs[0])
        };
        let lost = if winner == a { b } else { a };
        assert!(
            loser.stderr.contains("was changed by") && loser.stderr.starts_with("rolecall: "),
            "{}",
            loser.stderr
        );
        let granted = db.granted("Shared");
        assert!(granted.contains(winner) && !granted.contains(lost));
        let after = db.json(&["roles", "show", "Shared"]);
        assert!(after["version"].as_i64() > Some(v.parse::<i64>().unwrap()));

        // Two edits of one user from the same version.
        let user = db.user("bob");
        let v = user["version"].as_i64().unwrap().to_string();
        let (pa, pb) = (format!("Position {round}a"), format!("Position {round}b"));
        let runs = run_at_once(
            &db,
            &[
                strs(&["users", "set", "bob", "--position", &pa, "--if-version", &v]),
                strs(&["users", "set", "bob", "--position", &pb, "--if-version", &v]),
            ],
        );
        let codes: BTreeSet<i32> = runs.iter().map(|r| r.code).collect();
        assert_eq!(codes, BTreeSet::from([0, 3]), "{runs:#?}");
        let winner = if runs[0].code == 0 { &pa } else { &pb };
        assert_eq!(&s(&db.user("bob")["position"]), winner);
    }

    // Without --if-version, changes of different things at once all land: each
    // command reads and writes in one transaction, so none undoes another.
    let fresh: Vec<&String> = leaves[20..28].iter().collect();
    let mut commands: Vec<Vec<String>> = fresh
        .iter()
        .map(|leaf| strs(&["roles", "grant", "Shared", leaf]))
        .collect();
    commands.push(strs(&["users", "set", "bob", "--first-name", "Robert"]));
    commands.push(strs(&["users", "set", "bob", "--last-name", "Tables"]));
    for run in run_at_once(&db, &commands) {
        run.expect_code(0);
    }
    let granted = db.granted("Shared");
    for leaf in fresh {
        assert!(granted.contains(leaf), "the grant of {leaf} was lost");
    }
    let bob = db.user("bob");
    assert_eq!(
        (s(&bob["first_name"]), s(&bob["last_name"])),
        ("Robert".into(), "Tables".into())
    );
}

#[test]
fn two_consoles_saving_from_one_version_exactly_one_wins_and_the_other_sees_the_conflict() {
    let mut first = Harness::new(120, 40);
    let mut second = Harness::on(&first.db.clone(), 120, 40);

    // The role editor.
    first.open_role("campaign");
    second.open_role("campaign");
    first.select("triggers");
    first.press(" ");
    second.select("sending_nodes");
    second.press(" ");
    first.ctrl('s');
    first.press("y");
    assert!(first.app.editor.is_none(), "saved: {}", first.screen());
    second.ctrl('s');
    second.press("y");
    assert!(
        matches!(second.app.overlay(), Some(Overlay::Conflict { .. })),
        "{}",
        second.screen()
    );
    assert!(second.editor().is_dirty(), "the losing edit is kept");
    let stored = first.app.store.role("Campaign Manager").unwrap();
    let keys = stored.grants.keys(first.app.store.catalog());
    assert!(keys.contains(&"triggers.add"), "the first save landed");
    assert!(
        !keys.iter().any(|k| k.starts_with("sending_nodes.")),
        "nothing of the second was written"
    );

    // The user form.
    first.open_user("lena");
    second.code(KeyCode::Esc); // the conflict dialog: keep editing
    second.code(KeyCode::Esc); // leave the editor...
    second.press("y"); // ...dropping the edit
    second.open_user("lena");
    for h in [&mut first, &mut second] {
        h.code(KeyCode::Tab); // first name
        h.ctrl('u');
    }
    first.press("Helena");
    second.press("Magdalena");
    first.ctrl('s');
    assert!(first.app.form.is_none(), "saved: {}", first.screen());
    second.ctrl('s');
    assert!(
        matches!(second.app.overlay(), Some(Overlay::Conflict { .. })),
        "{}",
        second.screen()
    );
    assert_eq!(first.app.store.user("lena").unwrap().first_name, "Helena");
}

// ---------------------------------------------------------------------------------
// 4. Hang-up
// ---------------------------------------------------------------------------------

/// Opens the console on `db` in a pty, opens the Campaign Manager editor, toggles a
/// category (an unsaved edit), then `end` (a SIGHUP or a closed terminal).
fn console_with_an_unsaved_edit(db: &Db, end: Value) -> PtyRun {
    pty_run(
        db.dir(),
        100,
        30,
        &[common::BIN, "--db", db.path().to_str().unwrap()],
        json!([
            ["wait", "Users ("],
            ["settle", 0.3],
            ["send", "2"],
            ["wait", "GRANTED"],
            ["settle", 0.2],
            ["send", "/campaign"],
            ["settle", 0.2],
            ["send", "\r"],
            ["settle", 0.2],
            ["send", "\r"],
            ["wait", "Role: Campaign Manager"],
            ["settle", 0.2],
            ["send", " "],
            ["wait", "unsaved"],
            ["settle", 0.3],
            ["mark", "dirty"],
            end,
            ["exit", 3.0],
        ]),
    )
}

#[test]
fn sighup_with_an_unsaved_edit_exits_within_a_second_and_writes_nothing() {
    if !python_available() {
        return;
    }
    let db = Db::with_owner();
    let before = db.dump();
    let run = console_with_an_unsaved_edit(&db, json!(["signal", "HUP"]));
    assert!(
        run.text("dirty").contains("unsaved"),
        "{}",
        run.text("dirty")
    );
    let seconds = run.result["exit_seconds"].as_f64().unwrap();
    assert!(seconds < 1.0, "exited {seconds:.2} s after SIGHUP");
    assert_eq!(run.exit_code(), Some(129), "{}", run.result);
    // After the signal: the terminal modes are put back, and nothing else is drawn.
    let after = &run.raw[run.result["signalled_at"].as_u64().unwrap() as usize..];
    for (sequence, what) in [
        (&b"\x1b[?1049l"[..], "leaves the alternate screen"),
        (b"\x1b[?25h", "shows the cursor"),
        (b"\x1b[?1000l", "stops mouse capture"),
    ] {
        assert!(contains_bytes(after, sequence), "{what}: {after:?}");
    }
    let text: Vec<u8> = strip_escapes(after);
    assert!(
        text.iter().all(|b| b.is_ascii_whitespace()),
        "drew {:?} after the signal",
        String::from_utf8_lossy(&text)
    );
    assert_eq!(db.dump(), before, "the unsaved edit was not written");
    assert_intact(db.path());
}

#[test]
fn a_dropped_terminal_with_an_unsaved_edit_exits_within_a_second_and_writes_nothing() {
    if !python_available() {
        return;
    }
    let db = Db::with_owner();
    let before = db.dump();
    // Closing the pty's master side is what sshd does when the connection drops: the
    // kernel hangs up the terminal and sends SIGHUP to the console.
    let run = console_with_an_unsaved_edit(&db, json!(["hangup"]));
    let seconds = run.result["exit_seconds"].as_f64().unwrap();
    assert!(seconds < 1.0, "exited {seconds:.2} s after the hang-up");
    assert!(
        run.exit_code() == Some(129) || run.result["killed_by"].as_i64() == Some(1),
        "{}",
        run.result
    );
    assert_eq!(db.dump(), before, "the unsaved edit was not written");
    assert_intact(db.path());
    // The next session starts normally.
    db.ok(&["roles", "show", "Campaign Manager"]);
}

/// The bytes of `raw` that are not part of an escape sequence.
fn strip_escapes(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == 0x1b && raw.get(i + 1) == Some(&b'[') {
            i += 2;
            while i < raw.len() && !(0x40..=0x7e).contains(&raw[i]) {
                i += 1;
            }
            i += 1;
        } else if raw[i] == 0x1b {
            i += 2;
        } else {
            out.push(raw[i]);
            i += 1;
        }
    }
    out
}

// ---------------------------------------------------------------------------------
// 5. Hostile text
// ---------------------------------------------------------------------------------

/// Strings another program might put in the database, and an operator might type.
fn hostile_values() -> Vec<String> {
    let mut v: Vec<String> = [
        "\u{1b}]0;pwned\u{7}title", // OSC: set the window title
        "\u{1b}]8;;https://evil.example/\u{1b}\\click\u{1b}]8;;\u{1b}\\", // OSC 8 link
        "\u{1b}[2J\u{1b}[31mRED\u{1b}[6n", // CSI: clear, colour, query
        "\u{1b}P1$rDCS\u{1b}\\",    // DCS
        "\u{9b}31mC1-CSI",          // C1 CSI
        "\u{9d}0;c1-osc\u{9c}",     // C1 OSC and ST
        "\u{202e}kcah\u{202c} bidi \u{2066}isolate\u{2069}", // bidi overrides
        "zero\u{200b}width\u{200d}joiner\u{2060}\u{feff}", // invisible characters
        "family \u{1f468}\u{200d}\u{1f469}\u{200d}\u{1f467}", // an emoji ZWJ sequence
        "nul\0byte",
        "bell\u{7}back\u{8}del\u{7f}",
        "two\nlines\rreturn\ttab",
        "Robert'); DROP TABLE users; --",
        "' OR '1'='1' --",
        "%s%n%x {0} ${HOME} $(id)",
        "\u{1f389} party \u{1f600} time",                    // emoji
        "\u{7f8e}\u{54b2} \u{4f50}\u{85e4}",                 // CJK: 美咲 佐藤
        "\u{d55c}\u{ad6d}\u{c5b4} \u{4e2d}\u{6587}\u{ff21}", // Hangul, Han, fullwidth
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.push("x".repeat(10_000));
    v.push("\u{7f8e}".repeat(10_000));
    v
}

/// Byte sequences from [`hostile_values`] that must never reach a terminal as they
/// are. The console writes escape sequences of its own, so its output is checked for
/// these, not for every ESC.
const FORBIDDEN: &[(&str, &[u8])] = &[
    ("OSC", b"\x1b]"),
    ("DCS", b"\x1bP"),
    ("CSI from a value", b"\x1b[31mRED"),
    ("CSI clear from a value", b"\x1b[2J\x1b[31m"),
    ("cursor query", b"\x1b[6n"),
    ("C1 CSI", b"\xc2\x9b"),
    ("C1 OSC", b"\xc2\x9d"),
    ("C1 ST", b"\xc2\x9c"),
    ("right-to-left override", "\u{202e}".as_bytes()),
    ("pop directional", "\u{202c}".as_bytes()),
    ("isolate", "\u{2066}".as_bytes()),
    ("zero-width space", "\u{200b}".as_bytes()),
    ("zero-width joiner", "\u{200d}".as_bytes()),
    ("word joiner", "\u{2060}".as_bytes()),
    ("byte order mark", "\u{feff}".as_bytes()),
    ("NUL", b"\0"),
    ("BEL", b"\x07"),
    ("BS", b"\x08"),
    ("DEL", b"\x7f"),
];

/// Writes every hostile value straight into the file, past every check of rolecall:
/// user fields (usernames too), role names and descriptions, catalog labels, audit
/// rows, and the `updated_by` a conflict message names. Returns the id of a role
/// with a hostile name that users hold.
fn store_hostile_values(db: &Db) -> i64 {
    let values = hostile_values();
    db.ok(&["roles", "create", "Target"]);
    for i in 0..values.len() {
        let name = format!("h{i:02}");
        let email = format!("{name}@example.com");
        db.ok(&["users", "add", &name, "--email", &email, "--role", "Target"]);
    }
    db.run_stdin(
        &["users", "passwd", "h00", "--password-stdin"],
        PASSWORDS[0],
    )
    .expect_code(0);
    let conn = db.conn_rw();
    for (i, v) in values.iter().enumerate() {
        let name = format!("h{i:02}");
        conn.execute(
            "UPDATE users SET first_name = ?1, last_name = ?1, position = ?1, signature = ?1, \
             updated_by = ?1 WHERE username = ?2",
            rusqlite::params![v, name],
        )
        .unwrap();
        // A few hostile usernames and emails too (the list shows them).
        if i % 3 == 0 {
            conn.execute(
                "UPDATE users SET username = ?1 || ?2, email = ?1 || ?2 || '@example.com', \
                 email_fold = lower(?1 || ?2 || '@example.com') WHERE username = ?2",
                rusqlite::params![v, name],
            )
            .unwrap();
        }
        conn.execute(
            "INSERT INTO roles (name, name_fold, description, created_at, updated_at, updated_by) \
             VALUES (?1 || ?2, lower(?1 || ?2), ?1, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', ?1)",
            rusqlite::params![v, format!(" #{i}")],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO audit (at, actor, action, target, before, after) VALUES \
             ('2026-01-01T00:00:00Z', ?1, ?1, ?1, json_object('name', ?1), json_object('name', ?1))",
            [v],
        )
        .unwrap();
    }
    let evil = &values[0];
    conn.execute(
        "UPDATE roles SET name = ?1, name_fold = lower(?1), description = ?2, updated_by = ?2 WHERE name = 'Target'",
        rusqlite::params![format!("Target {evil}"), values[2]],
    )
    .unwrap();
    conn.execute(
        "UPDATE permissions SET label = ?1, description = ?2 WHERE key = 'contacts'",
        rusqlite::params![values[0], values[4]],
    )
    .unwrap();
    conn.execute(
        "UPDATE permissions SET label = ?1 WHERE key = 'contacts.export'",
        [&values[16]],
    )
    .unwrap();
    conn.query_row("SELECT id FROM roles WHERE name LIKE 'Target %'", [], |r| {
        r.get(0)
    })
    .unwrap()
}

#[track_caller]
fn assert_nothing_forbidden(what: &str, bytes: &[u8]) {
    for (name, seq) in FORBIDDEN {
        assert!(
            !contains_bytes(bytes, seq),
            "{what}: {name} ({seq:?}) reached the terminal:\n{}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(3000)])
        );
    }
}

/// The display column where each column of a table starts, read from its header
/// row: columns are at least two spaces apart.
fn header_columns(header: &str) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut spaces = 2;
    for (i, c) in header.char_indices() {
        if c != ' ' && spaces >= 2 {
            starts.push(rolecall::text::width(&header[..i]));
        }
        spaces = if c == ' ' { spaces + 1 } else { 0 };
    }
    starts
}

/// The character at display column `col` of `line` (a wide character covers two).
fn char_at_column(line: &str, col: usize) -> Option<char> {
    let mut used = 0;
    for c in line.chars() {
        let w = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if used + w > col {
            return Some(c);
        }
        used += w;
    }
    None
}

#[test]
fn hostile_stored_text_never_reaches_the_terminal_from_the_cli() {
    if sqlite_only("hostile bytes written into the file, some not UTF-8") {
        return;
    }
    let db = Db::with_owner();
    let role_id = store_hostile_values(&db).to_string();
    let export = db.dir().join("export.json");
    let casbin = db.dir().join("casbin");
    let commands: Vec<Vec<&str>> = vec![
        vec!["users", "list"],
        vec!["users", "list", "--json"],
        vec!["users", "show", "h01"],
        vec!["users", "show", "h01", "--json"],
        vec!["users", "show", "h17"],
        vec!["roles", "list"],
        vec!["roles", "list", "--json"],
        vec!["roles", "show", &role_id],
        vec!["roles", "show", &role_id, "--json"],
        vec!["roles", "diff", &role_id, "Read Only"],
        vec!["catalog", "show"],
        vec!["catalog", "show", "--json"],
        vec!["check", "h01", "contacts.export", "--explain"],
        vec!["audit", "--limit", "100"],
        vec!["audit", "--limit", "100", "--json"],
        vec!["export"],
        vec!["export", "--format", "csv"],
        vec!["export", "-o", export.to_str().unwrap()],
        vec![
            "export",
            "--format",
            "casbin",
            "-o",
            casbin.to_str().unwrap(),
        ],
        // Refusals that name stored values.
        vec!["roles", "delete", &role_id],
        vec!["roles", "describe", &role_id, "calm", "--if-version", "0"],
        vec![
            "users",
            "set",
            "h01",
            "--position",
            "x",
            "--if-version",
            "0",
        ],
        // Refusals that name what was typed.
        vec!["users", "show", "\u{1b}]0;pwned\u{7}"],
        vec!["roles", "show", "\u{9b}31m\u{202e}"],
        vec!["check", "h01", "\u{1b}[2J\u{1b}[31mRED"],
    ];
    let mut outputs = Vec::new();
    for args in &commands {
        let run = db.run(args);
        // CSV on a pipe or in a file is data and keeps every byte; on a terminal it
        // is made safe (the pty test below).
        if args[..] == ["export", "--format", "csv"] {
            outputs.push(run);
            continue;
        }
        for (what, bytes) in [("stdout", &run.raw_stdout), ("stderr", &run.raw_stderr)] {
            assert_nothing_forbidden(&format!("rolecall {args:?} {what}"), bytes);
            assert!(
                !bytes.contains(&0x1b),
                "rolecall {args:?} wrote ESC on {what}"
            );
        }
        outputs.push(run);
    }
    // The refusals happened, for the right reasons.
    let code = |i: usize| outputs[i].code;
    assert_eq!((code(19), code(20), code(21)), (3, 3, 3));
    assert_eq!((code(22), code(23), code(24)), (2, 2, 2));
    // Values are made visible, not dropped: the stand-ins are there.
    let list = &outputs[0].stdout;
    assert!(list.contains("␛]0;pwned␇title"), "{list}");
    assert!(
        list.contains("\u{7f8e}\u{54b2} \u{4f50}\u{85e4}"),
        "CJK is shown as it is"
    );
    assert!(
        list.contains("\u{1f389} party"),
        "emoji are shown as they are"
    );
    // JSON keeps every value exactly (escaped), so scripts lose nothing.
    let users: Value = outputs[1].json();
    let stored: Vec<String> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| s(&u["first_name"]))
        .collect();
    for v in hostile_values() {
        assert!(
            stored.contains(&v),
            "JSON lost {:?}",
            v.chars().take(20).collect::<String>()
        );
    }
    // Exported files hold the exact values too.
    let exported: Value = serde_json::from_str(&fs::read_to_string(&export).unwrap()).unwrap();
    let exported: Vec<String> = exported["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| s(&u["first_name"]))
        .collect();
    for v in hostile_values() {
        assert!(
            exported.contains(&v),
            "the export lost {:?}",
            v.chars().take(20).collect::<String>()
        );
    }

    // Columns stay aligned: in every table, each column starts at the header's column
    // after two spaces, whatever wide or cut text came before it.
    for i in [0, 5, 13] {
        let text = &outputs[i].stdout;
        let mut lines = text.lines();
        let cols = header_columns(lines.next().unwrap());
        assert!(cols.len() >= 4, "{text}");
        for line in lines {
            for &col in cols.iter().skip(1) {
                assert_eq!(
                    (char_at_column(line, col - 2), char_at_column(line, col - 1)),
                    (Some(' '), Some(' ')),
                    "column at {col} is out of line in:\n{line}"
                );
            }
        }
    }
    let texts: Vec<&[u8]> = outputs
        .iter()
        .flat_map(|r| [r.raw_stdout.as_slice(), r.raw_stderr.as_slice()])
        .collect();
    assert_no_secrets(db.path(), db.dir(), &texts);
}

#[test]
fn hostile_stored_text_never_reaches_the_terminal_through_a_pty() {
    if sqlite_only("hostile bytes written into the file, some not UTF-8") {
        return;
    }
    if !python_available() {
        return;
    }
    let db = Db::with_owner();
    let role_id = store_hostile_values(&db).to_string();
    let bin = common::BIN;
    let path = db.path().to_str().unwrap();
    // The CLI with a terminal on stdout (the CSV export changes its output for one).
    for args in [
        &["users", "list"][..],
        &["users", "show", "h01"],
        &["roles", "show", &role_id],
        &["audit"],
        &["export", "--format", "csv"],
        &["export"],
    ] {
        let mut argv = vec![bin, "--db", path];
        argv.extend_from_slice(args);
        let run = pty_run(db.dir(), 200, 50, &argv, json!([["exit", 10.0]]));
        assert_eq!(run.exit_code(), Some(0), "{args:?}: {}", run.result);
        assert_nothing_forbidden(&format!("rolecall {args:?} in a pty"), &run.raw);
        assert!(
            !run.raw.contains(&0x1b),
            "rolecall {args:?} wrote ESC to a terminal"
        );
    }

    // The console: every view that shows stored text.
    let run = pty_run(
        db.dir(),
        120,
        40,
        &[bin, "--db", path],
        json!([
            ["wait", "Users ("],
            ["settle", 0.3],
            ["mark", "users"],
            ["send", "/h02\r"],
            ["settle", 0.2],
            ["send", "\r"],
            ["wait", "Email"],
            ["settle", 0.3],
            ["mark", "user form"],
            ["send", "\u{1b}"], // leaves the field
            ["settle", 0.3],
            ["send", "\u{1b}"], // leaves the form
            ["settle", 0.3],
            ["send", "/"],
            ["settle", 0.2],
            ["send", "\u{1b}"],
            ["settle", 0.2],
            ["send", "/h17\r"],
            ["settle", 0.2],
            ["send", "\r"],
            ["wait", "Email"],
            ["settle", 0.3],
            ["mark", "wide user form"],
            ["send", "\u{1b}"], // leaves the field
            ["settle", 0.3],
            ["send", "\u{1b}"], // leaves the form
            ["settle", 0.3],
            ["send", "2"],
            ["wait", "GRANTED"],
            ["settle", 0.3],
            ["mark", "roles"],
            ["send", "/Target\r"],
            ["settle", 0.2],
            ["mark", "role preview"],
            ["send", "\r"],
            ["settle", 0.3],
            ["mark", "role editor"],
            ["send", "\u{1b}"],
            ["settle", 0.3],
            ["send", "3"],
            ["settle", 0.3],
            ["mark", "audit"],
            ["send", "\r"],
            ["settle", 0.3],
            ["mark", "audit detail"],
            ["send", "\u{1b}"],
            ["settle", 0.2],
            ["send", "q"],
            ["exit", 5.0],
        ]),
    );
    assert_eq!(run.exit_code(), Some(0), "{}", run.result);
    assert_nothing_forbidden("the console", &run.raw);
    assert_eq!(run.result["overflow"], 0, "text ran past the right edge");
    for mark in [
        "users",
        "user form",
        "wide user form",
        "roles",
        "role preview",
        "role editor",
        "audit",
        "audit detail",
    ] {
        let screen = run.screen(mark);
        // Aligned: every row is exactly as wide as the terminal (each wide character
        // takes the two cells ratatui gave it), and framed rows end on their border.
        for (i, row) in screen.iter().enumerate() {
            assert_eq!(row.chars().count(), 120, "{mark}: row {i}");
            let first = row.chars().next().unwrap();
            let last = row.chars().last().unwrap();
            if first == '│' {
                assert_eq!(
                    last,
                    '│',
                    "{mark}: row {i} does not end on its border:\n{}",
                    screen.join("\n")
                );
            }
        }
    }
    let users = run.text("users");
    assert!(users.contains("␛]0;pwned␇title"), "{users}");
    assert!(
        users.contains("\u{7f8e}\u{54b2} \u{4f50}\u{85e4}"),
        "{users}"
    );
    let form = run.text("user form");
    assert!(form.contains("␛[2J␛[31mRED␛[6n"), "{form}");
    let form = run.text("wide user form");
    assert!(
        form.contains("\u{d55c}\u{ad6d}\u{c5b4} \u{4e2d}\u{6587}\u{ff21}"),
        "{form}"
    );
    let editor = run.text("role editor");
    assert!(editor.contains("Role: Target ␛]0;pwned␇title"), "{editor}");
    assert!(editor.contains("␛]0;pwned␇title 0/8"), "{editor}");
    assert_no_secrets(db.path(), db.dir(), &[&run.raw]);
}

#[test]
fn hostile_values_typed_on_the_cli_are_stored_exactly_or_refused_with_exit_2() {
    let db = Db::with_owner();
    db.ok(&["roles", "create", "Plain"]);
    db.ok(&["users", "add", "bob", "--email", "bob@example.com"]);
    let mut runs = Vec::new();
    for v in hostile_values() {
        if v.contains('\0') {
            continue; // an argument cannot hold NUL; the import below carries it
        }
        for field in ["first-name", "last-name", "position", "signature"] {
            let column = field.replace('-', "_");
            let before = db.dump();
            let flag = format!("--{field}");
            let run = db.run(&["users", "set", "bob", &flag, &v]);
            let stored = db
                .sql_strings(
                    &format!("SELECT {column} FROM users WHERE username = 'bob'"),
                    &[],
                )
                .remove(0);
            match run.code {
                0 => assert_eq!(stored, v, "{field} was stored changed"),
                2 => assert_eq!(db.dump(), before, "a refused {field} changed something"),
                other => panic!("{field}: exit {other}: {}", run.stderr),
            }
            runs.push(run);
        }
        for args in [
            vec!["roles", "create", v.as_str()],
            vec!["roles", "describe", "Plain", v.as_str()],
            vec!["users", "add", v.as_str(), "--email", "new@example.com"],
            vec!["users", "add", "newbie", "--email", v.as_str()],
            vec!["users", "set", "bob", "--timezone", v.as_str()],
            vec!["users", "set", "bob", "--language", v.as_str()],
        ] {
            let before = db.dump();
            let run = db.run(&args);
            match run.code {
                0 => {
                    let found = db.sql_strings(
                        "SELECT CAST((SELECT count(*) FROM roles WHERE name = ?1 OR description = ?1) + \
                                (SELECT count(*) FROM users WHERE username = ?1 OR email = ?1 \
                                 OR timezone = ?1 OR language = ?1) AS TEXT)",
                        &[&v],
                    );
                    assert!(
                        found != ["0"],
                        "{args:?} stored something other than what was typed"
                    );
                    // Put things back for the next value.
                    if args[1] == "create" {
                        db.ok(&["roles", "delete", &v]);
                    }
                    if args[1] == "add" {
                        db.ok(&["users", "remove", args[2]]);
                    }
                }
                2 => assert_eq!(db.dump(), before, "a refused {args:?} changed something"),
                other => panic!("{args:?}: exit {other}: {}", run.stderr),
            }
            runs.push(run);
        }
    }
    // Bytes that are not UTF-8 at all are refused before anything is opened.
    {
        use std::os::unix::ffi::OsStrExt;
        let before = db.dump();
        let out = command(db.dir())
            .arg("--db")
            .arg(db.path())
            .args(["users", "set", "bob", "--first-name"])
            .arg(std::ffi::OsStr::from_bytes(b"\x9b31m\xff"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        assert!(!contains_bytes(&out.stderr, b"\x9b"), "{:?}", out.stderr);
        assert_eq!(db.dump(), before);
    }
    // Import carries what an argument cannot (NUL): stored exactly, or refused with
    // exit 2 and nothing changed.
    for v in hostile_values() {
        let file = db.dir().join("hostile.json");
        let doc = json!({"format": "rolecall/1", "users": [{"username": "bob", "first_name": v}]});
        fs::write(&file, doc.to_string()).unwrap();
        let before = db.dump();
        let run = db.run(&["import", file.to_str().unwrap()]);
        match run.code {
            0 => assert_eq!(s(&db.user("bob")["first_name"]), v),
            2 => assert_eq!(db.dump(), before),
            other => panic!("import: exit {other}: {}", run.stderr),
        }
        runs.push(run);
    }
    for run in &runs {
        for bytes in [&run.raw_stdout, &run.raw_stderr] {
            assert_nothing_forbidden(&format!("rolecall {:?}", run.args), bytes);
            assert!(!bytes.contains(&0x1b), "rolecall {:?} wrote ESC", run.args);
        }
    }
    let stored = runs.iter().filter(|r| r.code == 0).count();
    let refused = runs.iter().filter(|r| r.code == 2).count();
    assert!(
        stored > 20 && refused > 100,
        "{stored} stored, {refused} refused"
    );
}

// ---------------------------------------------------------------------------------
// 6. Bad files
// ---------------------------------------------------------------------------------

/// A fixed pseudo-random byte string.
fn random_bytes(n: usize) -> Vec<u8> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    (0..n).map(|_| rng.next() as u8).collect()
}

/// Everything in `dir`: name, whether it is a folder, size and a hash of the bytes.
fn folder_state(dir: &Path) -> Vec<(String, bool, usize, u64)> {
    let mut all: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            let path = e.path();
            let is_dir = path.is_dir();
            let bytes = if is_dir {
                Vec::new()
            } else {
                fs::read(&path).unwrap_or_default()
            };
            // FNV-1a: enough to see that a file changed.
            let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
            });
            (
                e.file_name().to_string_lossy().into_owned(),
                is_dir,
                bytes.len(),
                hash,
            )
        })
        .collect();
    all.sort();
    all
}

#[test]
fn bad_files_exit_4_with_a_clear_message_and_are_left_untouched() {
    if sqlite_only("bad files") {
        return;
    }
    type Arrange = Box<dyn Fn(&Db) -> Vec<&'static str>>;
    let mut cases: Vec<(String, Arrange)> = vec![
        (
            "random bytes".into(),
            Box::new(|db: &Db| {
                fs::write(db.path(), random_bytes(16384)).unwrap();
                vec!["not a SQLite database"]
            }),
        ),
        (
            "an empty file".into(),
            Box::new(|db: &Db| {
                fs::write(db.path(), b"").unwrap();
                vec!["empty"]
            }),
        ),
        (
            "a directory".into(),
            Box::new(|db: &Db| {
                fs::create_dir(db.path()).unwrap();
                vec!["folder"]
            }),
        ),
        (
            "a symlink loop".into(),
            Box::new(|db: &Db| {
                let other = db.dir().join("other.db");
                std::os::unix::fs::symlink(&other, db.path()).unwrap();
                std::os::unix::fs::symlink(db.path(), &other).unwrap();
                vec!["cannot read"]
            }),
        ),
        (
            "a path below a file".into(),
            Box::new(|db: &Db| {
                // Db::path() is DIR/rolecall.db; make DIR/rolecall.db a file and
                // point the test at a path below it instead.
                fs::write(db.path(), b"a plain file").unwrap();
                vec!["cannot"]
            }),
        ),
        (
            "a newer schema".into(),
            Box::new(|db: &Db| {
                db.ok(&["users", "add", "alice", "--email", "alice@example.com"]);
                db.conn_rw()
                    .pragma_update(None, "user_version", 99)
                    .unwrap();
                vec!["newer", "99"]
            }),
        ),
        (
            "another application's database".into(),
            Box::new(|db: &Db| {
                Connection::open(db.path())
                    .unwrap()
                    .execute_batch(
                        "CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('keep');",
                    )
                    .unwrap();
                vec!["not a rolecall"]
            }),
        ),
        (
            "a truncated database".into(),
            Box::new(|db: &Db| {
                db.ok(&["users", "add", "alice", "--email", "alice@example.com"]);
                let bytes = fs::read(db.path()).unwrap();
                fs::write(db.path(), &bytes[..bytes.len() / 3]).unwrap();
                vec!["corrupt", "malformed", "damaged", "missing"]
            }),
        ),
    ];
    for table in [
        "permissions",
        "roles",
        "role_grants",
        "users",
        "settings",
        "audit",
    ] {
        cases.push((
            format!("a database without the table {table}"),
            Box::new(move |db: &Db| {
                db.ok(&["users", "add", "alice", "--email", "alice@example.com"]);
                db.conn_rw()
                    .execute_batch(&format!("PRAGMA foreign_keys = OFF; DROP TABLE {table}"))
                    .unwrap();
                vec![table]
            }),
        ));
    }
    if running_as_root() {
        eprintln!("not checking an unreadable file: root reads files whatever their mode");
    } else {
        cases.push((
            "an unreadable file".into(),
            Box::new(|db: &Db| {
                db.ok(&["roles", "list"]);
                fs::set_permissions(db.path(), fs::Permissions::from_mode(0o000)).unwrap();
                vec!["cannot", "permission"]
            }),
        ));
    }
    for (what, arrange) in cases {
        let db = Db::empty();
        let words = arrange(&db);
        let target = if what == "a path below a file" {
            db.path().join("rolecall.db")
        } else {
            db.path().to_path_buf()
        };
        let before = folder_state(db.dir());
        for args in [
            &["roles", "list"][..],
            &["users", "add", "zed", "--email", "zed@example.com"],
            &["roles", "grant", "Read Only", "all"],
            &["check", "alice", "contacts"],
            &["export"],
            &["--read-only", "users", "list"],
            // The console: the file is refused before the terminal is touched.
            &[],
        ] {
            let run = to_run(args, rc(&target, args));
            let line = run.stderr.trim_end();
            assert_eq!(run.code, 4, "{what}: rolecall {args:?}: {run:?}");
            assert!(
                run.stdout.is_empty(),
                "{what}: {args:?} printed {}",
                run.stdout
            );
            assert!(
                line.starts_with("rolecall: ") && !line.contains('\n'),
                "{what}: one line on stderr: {line}"
            );
            assert!(
                words.iter().any(|w| line.contains(w)),
                "{what}: the message says why ({words:?}): {line}"
            );
            let after = folder_state(db.dir());
            if args.first() == Some(&"--read-only") {
                // A read-only SQLite connection to a WAL-mode file creates the
                // empty log and the shared-memory index beside it if they are not
                // there (and cannot remove them); everything that was there stays.
                for entry in &before {
                    assert!(
                        after.contains(entry),
                        "{what}: --read-only changed {}",
                        entry.0
                    );
                }
                for entry in after.iter().filter(|e| !before.contains(e)) {
                    let wal_or_shm = entry.0 == "rolecall.db-shm"
                        || (entry.0 == "rolecall.db-wal" && entry.2 == 0);
                    assert!(wal_or_shm, "{what}: --read-only left {entry:?}");
                }
            } else {
                assert_eq!(after, before, "{what}: rolecall {args:?} changed the files");
            }
        }
        let _ = fs::set_permissions(db.path(), fs::Permissions::from_mode(0o600));
    }
}

// ---------------------------------------------------------------------------------
// 7. Disk full
// ---------------------------------------------------------------------------------

/// Lets the console's own connection grow the file by no more than it is now, as a
/// full disk would (`PRAGMA max_page_count`; `None` lifts the limit).
fn limit_growth(h: &Harness, limit: Option<i64>) {
    let conn = h.app.store.connection();
    let pages: i64 = conn
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .unwrap();
    let max = limit.map_or(1 << 30, |extra| pages + extra);
    let set: i64 = conn
        .query_row(&format!("PRAGMA max_page_count = {max}"), [], |r| r.get(0))
        .unwrap();
    assert_eq!(set, max.max(pages));
}

#[test]
fn a_full_disk_during_a_console_save_keeps_the_edit_for_a_retry_and_the_file_intact() {
    if sqlite_only("a full disk under the file") {
        return;
    }
    let mut h = Harness::new(120, 40);
    h.open_role("campaign");
    h.press("a"); // Check All: 29 more permissions
    if h.editor().grants.count() != h.app.store.catalog().leaf_count() {
        h.press("a");
    }
    assert_eq!(
        h.editor().grants.count(),
        h.app.store.catalog().leaf_count()
    );
    let before = dump(&Connection::open(&h.db).unwrap());
    limit_growth(&h, Some(0));
    h.ctrl('s');
    h.press("y");
    let status = h.app.status.clone().expect("a status");
    assert!(
        status.error && status.text.contains("disk is full"),
        "{status:?}\n{}",
        h.screen()
    );
    assert!(h.screen().contains("disk is full"), "{}", h.screen());
    let editor = h.app.editor.as_ref().expect("the editor stays open");
    assert!(editor.is_dirty(), "the unsaved edit is kept");
    assert_eq!(editor.grants.count(), h.app.store.catalog().leaf_count());
    assert_eq!(
        dump(&Connection::open(&h.db).unwrap()),
        before,
        "nothing of the failed save was written"
    );
    assert_intact(&h.db);

    // Space is freed: the same edit saves on the next try.
    limit_growth(&h, None);
    h.ctrl('s');
    h.press("y");
    assert!(h.app.editor.is_none(), "saved: {}", h.screen());
    assert_eq!(
        h.app.store.role("Campaign Manager").unwrap().grants.count(),
        h.app.store.catalog().leaf_count()
    );
    assert_intact(&h.db);
}

/// Runs `rolecall --db DB ARGS` with its files limited to `max_bytes` (SIGXFSZ
/// ignored, so a write past the limit fails as on a full disk instead of killing it).
fn rc_with_file_limit(db: &Db, max_bytes: u64, args: &[&str]) -> Run {
    const LIMIT: &str = "import os, resource, signal, sys\n\
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n\
        n = int(sys.argv[1])\n\
        resource.setrlimit(resource.RLIMIT_FSIZE, (n, n))\n\
        os.execv(sys.argv[2], sys.argv[2:])\n";
    // The clean environment of `common::command`, for python3 and the binary it runs.
    let cmd = command(db.dir());
    let out = Command::new("python3")
        .arg("-c")
        .arg(LIMIT)
        .arg(max_bytes.to_string())
        .arg(common::BIN)
        .arg("--db")
        .arg(db.path())
        .args(args)
        .envs(cmd.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .env_remove("ROLECALL_DB")
        .env_remove("SUDO_USER")
        .env_remove("SSH_CONNECTION")
        .stdin(Stdio::null())
        .output()
        .expect("python3 runs");
    to_run(args, out)
}

#[test]
fn a_full_disk_during_a_cli_save_exits_4_and_the_file_stays_intact() {
    if sqlite_only("a full disk under the file") {
        return;
    }
    if !python_available() {
        return;
    }
    let db = Db::with_owner();
    // Another process holds the file open, so the write-ahead log is not folded back
    // between runs and the next change must grow it.
    let holder = db.conn_rw();
    assert_eq!(lockout_problem(&holder), None);
    db.ok(&["roles", "describe", "Read Only", "warm up the log"]);
    let wal = fs::metadata(sibling(db.path(), "-wal")).unwrap().len();
    assert!(wal > 0);
    let before = dump(&holder);
    let run = rc_with_file_limit(&db, wal, &["roles", "grant", "Read Only", "all"]);
    run.expect_code(4);
    let line = run.stderr.trim_end();
    assert!(
        line.starts_with("rolecall: ") && !line.contains('\n') && line.contains("full"),
        "{line}"
    );
    assert_eq!(
        dump(&holder),
        before,
        "nothing of the failed save was written"
    );
    assert_intact(db.path());
    // With space again, the same command works.
    db.ok(&["roles", "grant", "Read Only", "all"]);
    assert_eq!(
        db.granted("Read Only").len(),
        common::all_leaf_keys(&db.catalog()).len()
    );
    drop(holder);

    // A full disk when a process first opens the file (SQLite cannot create its
    // shared-memory index): refused the same way, and the file is intact.
    let before = db.dump();
    let run = rc_with_file_limit(
        &db,
        0,
        &["users", "add", "zed", "--email", "zed@example.com"],
    );
    run.expect_code(4);
    assert!(run.stderr.contains("full"), "{}", run.stderr);
    assert_eq!(db.dump(), before);
    assert_intact(db.path());
    db.ok(&["users", "add", "zed", "--email", "zed@example.com"]);
}

// ---------------------------------------------------------------------------------
// 8. Random input
// ---------------------------------------------------------------------------------

/// One thing that can happen to the console.
#[derive(Debug, Clone)]
enum Input {
    Key(KeyEvent),
    Resize(u16, u16),
    Click(u16, u16),
    Scroll(u16, u16, isize),
    Tick,
}

fn input_strategy() -> impl Strategy<Value = Input> {
    let code = prop_oneof![
        6 => prop::sample::select(vec![
            KeyCode::Up, KeyCode::Down, KeyCode::Left, KeyCode::Right, KeyCode::Enter,
            KeyCode::Esc, KeyCode::Tab, KeyCode::BackTab, KeyCode::PageUp, KeyCode::PageDown,
            KeyCode::Home, KeyCode::End, KeyCode::Backspace, KeyCode::Delete, KeyCode::Insert,
            KeyCode::F(1), KeyCode::F(5), KeyCode::Null,
        ]),
        10 => prop::sample::select(vec![
            ' ', 'a', '/', '1', '2', '3', 'j', 'k', 'l', 'h', 'y', 'n', 'e', 'x', 'c', '?', 'd',
            's', 'r', 'p', 'o', 'v', 'u', 'b', 'm', '.', '@',
        ])
        .prop_map(KeyCode::Char),
        // What a paste or a hostile keyboard could type into a text field.
        1 => prop::sample::select(vec![
            '\u{1b}', '\u{9b}', '\u{202e}', '\u{200d}', '\0', '\u{7}', '\u{7f}', '\n', '\t',
            '\u{7f8e}', '\u{1f389}', 'é', '\u{301}',
        ])
        .prop_map(KeyCode::Char),
    ];
    let mods = prop::sample::select(vec![
        KeyModifiers::NONE,
        KeyModifiers::NONE,
        KeyModifiers::NONE,
        KeyModifiers::SHIFT,
        KeyModifiers::CONTROL,
        KeyModifiers::ALT,
    ]);
    let key = (code, mods).prop_filter_map("quit keys end the run", |(code, mods)| {
        let quit = code == KeyCode::Char('q')
            || (mods == KeyModifiers::CONTROL && matches!(code, KeyCode::Char('c')));
        (!quit).then(|| Input::Key(KeyEvent::new(code, mods)))
    });
    prop_oneof![
        80 => key,
        3 => (1u16..=200, 1u16..=60).prop_map(|(w, h)| Input::Resize(w, h)),
        2 => (1u16..=6, 1u16..=6).prop_map(|(w, h)| Input::Resize(w, h)),
        3 => (0u16..=260, 0u16..=90).prop_map(|(x, y)| Input::Click(x, y)),
        2 => (0u16..=260, 0u16..=90, -5isize..=5).prop_map(|(x, y, r)| Input::Scroll(x, y, r)),
        2 => Just(Input::Tick),
    ]
}

proptest! {
    // 10 runs of 1,000 inputs: 10,000 keys, resizes, clicks and ticks in all.
    #![proptest_config(ProptestConfig {
        cases: 10,
        // A failure names the input that broke it; shrinking 1,000-input runs is slow.
        max_shrink_iters: 16,
        ..ProptestConfig::default()
    })]

    #[test]
    fn ten_thousand_random_inputs_never_panic_and_the_marks_stay_true(
        inputs in prop::collection::vec(input_strategy(), 1000),
    ) {
        let mut h = Harness::new(120, 40);
        let mut seen_changes = h.app.store.connection().total_changes();
        for input in &inputs {
            match *input {
                Input::Key(key) => {
                    if let Some(msg) = h.app.key_to_msg(key) {
                        h.app.update(msg);
                    }
                }
                Input::Resize(w, ht) => h.resize(w, ht),
                Input::Click(x, y) => h.app.update(Msg::Click(Position::new(x, y))),
                Input::Scroll(x, y, rows) => {
                    h.app.update(Msg::Scroll { at: Position::new(x, y), rows })
                }
                Input::Tick => h.app.update(Msg::Tick),
            }
            // Drawn at the size in force, after every input.
            h.draw();
            assert_marks_consistent(&h);
            assert_buffer_safe(&h, input);
            // Every change is a committed transaction on the console's connection:
            // check the owner rule whenever one happened.
            let changes = h.app.store.connection().total_changes();
            if changes != seen_changes {
                seen_changes = changes;
                if let Some(problem) = lockout_problem(h.app.store.connection()) {
                    panic!("after {input:?}: {problem}");
                }
            }
            prop_assert!(!h.app.quit, "no quit key was sent");
        }
    }
}

// ---------------------------------------------------------------------------------
// 9. Lockout
// ---------------------------------------------------------------------------------

const PEOPLE: [&str; 5] = ["ada", "ben", "cy", "dee", "eve"];
const ROLE_NAMES: [&str; 7] = [
    "Administrator",
    "Basic Access",
    "Campaign Manager",
    "Full Access",
    "Read Only",
    "Extra A",
    "Extra B",
];

/// One change an operator can ask for, through the CLI or the console: both front
/// ends make exactly these store calls.
#[derive(Debug, Clone)]
enum Action {
    Add(usize, Option<usize>),
    Remove(usize),
    SetRole(usize, usize),
    SetActive(usize, bool),
    SetRoleFor(Vec<usize>, usize),
    SetActiveFor(Vec<usize>, bool),
    Transfer(usize),
    DeleteRole(usize, Option<usize>),
    CreateRole(usize),
    SetDefault(usize),
    Import {
        user: usize,
        role: usize,
        active: bool,
        owner: Option<bool>,
    },
}

fn action_strategy() -> impl Strategy<Value = Action> {
    let user = 0..PEOPLE.len();
    let role = 0..ROLE_NAMES.len();
    let users = prop::collection::vec(0..PEOPLE.len(), 1..4);
    prop_oneof![
        4 => (user.clone(), prop::option::of(role.clone())).prop_map(|(u, r)| Action::Add(u, r)),
        2 => user.clone().prop_map(Action::Remove),
        3 => (user.clone(), role.clone()).prop_map(|(u, r)| Action::SetRole(u, r)),
        3 => (user.clone(), any::<bool>()).prop_map(|(u, a)| Action::SetActive(u, a)),
        2 => (users.clone(), role.clone()).prop_map(|(us, r)| Action::SetRoleFor(us, r)),
        2 => (users, any::<bool>()).prop_map(|(us, a)| Action::SetActiveFor(us, a)),
        2 => user.clone().prop_map(Action::Transfer),
        2 => (role.clone(), prop::option::of(role.clone()))
            .prop_map(|(r, to)| Action::DeleteRole(r, to)),
        1 => role.clone().prop_map(Action::CreateRole),
        1 => role.clone().prop_map(Action::SetDefault),
        2 => (user, role, any::<bool>(), prop::option::of(any::<bool>())).prop_map(
            |(user, role, active, owner)| Action::Import { user, role, active, owner }
        ),
    ]
}

/// Applies `action` through the store; a refusal is an answer, not a failure.
fn apply(store: &mut Store, action: &Action) -> rolecall::error::Result<()> {
    let name = |u: &usize| PEOPLE[*u].to_string();
    match action {
        Action::Add(u, role) => store
            .add_user(NewUser {
                username: name(u),
                profile: Profile {
                    email: format!("{}@example.com", PEOPLE[*u]),
                    ..Profile::default()
                },
                role: role.map(|r| ROLE_NAMES[r].into()),
                password: None,
                packages: Default::default(),
            })
            .map(drop),
        Action::Remove(u) => store.remove_user(name(u)),
        Action::SetRole(u, r) => store
            .update_user(
                name(u),
                None,
                UserChange {
                    role: Some(ROLE_NAMES[*r].into()),
                    ..UserChange::default()
                },
            )
            .map(drop),
        Action::SetActive(u, a) => store
            .update_user(
                name(u),
                None,
                UserChange {
                    active: Some(*a),
                    ..UserChange::default()
                },
            )
            .map(drop),
        Action::SetRoleFor(us, r) => store
            .set_role_for(
                &us.iter().map(|u| name(u).into()).collect::<Vec<_>>(),
                ROLE_NAMES[*r],
            )
            .map(drop),
        Action::SetActiveFor(us, a) => store
            .set_active_for(&us.iter().map(|u| name(u).into()).collect::<Vec<_>>(), *a)
            .map(drop),
        Action::Transfer(u) => store.transfer_ownership(name(u)).map(drop),
        Action::DeleteRole(r, to) => store
            .delete_role(ROLE_NAMES[*r], to.map(|t| ROLE_NAMES[t].into()))
            .map(drop),
        Action::CreateRole(r) => store.create_role(ROLE_NAMES[*r], "", None).map(drop),
        Action::SetDefault(r) => store.set_default_role(ROLE_NAMES[*r]).map(drop),
        Action::Import {
            user,
            role,
            active,
            owner,
        } => {
            let doc = Document {
                format: "rolecall/1".into(),
                default_role: None,
                catalog: None,
                roles: Vec::new(),
                packages: Vec::new(),
                users: vec![UserRecord {
                    username: name(user),
                    email: Some(format!("{}@example.com", PEOPLE[*user])),
                    first_name: None,
                    last_name: None,
                    position: None,
                    signature: None,
                    timezone: None,
                    language: None,
                    role: Some(ROLE_NAMES[*role].into()),
                    packages: None,
                    active: Some(*active),
                    owner: *owner,
                    has_password: None,
                }],
                resource_types: None,
                resources: None,
            };
            store.import(&doc, "proptest", &mut |_, _| {}).map(drop)
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn no_sequence_of_store_actions_leaves_no_active_owner_on_administrator(
        actions in prop::collection::vec(action_strategy(), 1..40),
    ) {
        let dir = TempDir::new().unwrap();
        let mut store = Store::open(&dir.path().join("rolecall.db"), Access::ReadWrite).unwrap();
        store.set_actor("tester");
        let mut done = 0;
        for action in &actions {
            match apply(&mut store, action) {
                Ok(()) => done += 1,
                // A rule's refusal (exit 2 or 3), never a storage error: a rule that
                // only a constraint of the schema enforces would surface as one.
                Err(e) => prop_assert!(e.exit_code() != 4, "{action:?}: {e}"),
            }
            if let Some(problem) = lockout_problem(store.connection()) {
                panic!("after {action:?} ({done} applied before it): {problem}");
            }
        }
    }
}

/// One thing an operator does in the console, as the keys for it.
fn console_intent_strategy() -> impl Strategy<Value = Vec<KeyCode>> {
    let c = KeyCode::Char;
    let moves = (0usize..8, any::<bool>())
        .prop_map(move |(n, down)| vec![c(if down { 'j' } else { 'k' }); n]);
    prop_oneof![
        3 => moves,
        2 => Just(vec![c(' ')]),
        2 => Just(vec![c('x'), c('y')]),
        2 => Just(vec![c('d'), c('y')]),
        2 => Just(vec![c('o'), c('y')]),
        3 => (0usize..7).prop_map(move |n| {
            let mut keys = vec![c('r')];
            keys.extend(std::iter::repeat_n(KeyCode::Down, n));
            keys.push(KeyCode::Enter);
            keys
        }),
        1 => Just(vec![c('1')]),
        2 => (0usize..7, 0usize..5).prop_map(move |(n, to)| {
            // A role's delete: confirmed, or (blocked) its users moved to another.
            let mut keys = vec![c('2')];
            keys.extend(std::iter::repeat_n(c('j'), n));
            keys.push(c('d'));
            keys.extend(std::iter::repeat_n(KeyCode::Down, to));
            keys.extend([c('y'), KeyCode::Enter, c('1')]);
            keys
        }),
        1 => Just(vec![c('2'), c('c'), c('1')]),
        1 => Just(vec![KeyCode::Esc]),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// The console's actions on users and roles: disable, delete, make owner, change
    /// role (also of tagged users), delete a role with its users moved, clone.
    #[test]
    fn no_sequence_of_console_actions_leaves_no_active_owner_on_administrator(
        intents in prop::collection::vec(console_intent_strategy(), 1..60),
    ) {
        let mut h = Harness::new(100, 30);
        let keys: Vec<KeyEvent> = intents
            .iter()
            .flatten()
            .map(|code| KeyEvent::new(*code, KeyModifiers::NONE))
            .collect();
        for key in &keys {
            if let Some(msg) = h.app.key_to_msg(*key) {
                h.app.update(msg);
            }
            h.draw();
            if let Some(problem) = lockout_problem(h.app.store.connection()) {
                panic!("after {key:?}: {problem}\n{}", h.screen());
            }
        }
    }
}

#[test]
fn no_sequence_of_cli_commands_leaves_no_active_owner_on_administrator() {
    // On both backends: the checks read the rows through `Db::sql_strings`.
    let db = Db::new();
    let mut rng = Rng(0x10C0_0017_AB1E_0009);
    let file = db.dir().join("import.json");
    let mut codes = std::collections::BTreeMap::<i32, usize>::new();
    for step in 0..90 {
        let user = rng.pick(&PEOPLE[..]).to_string();
        let role = rng.pick(&ROLE_NAMES[..]).to_string();
        let email = format!("{user}@example.com");
        let flag = if rng.below(2) == 0 { "true" } else { "false" };
        let args: Vec<String> = match rng.below(11) {
            0 | 1 => strs(&["users", "add", &user, "--email", &email]),
            2 => strs(&["users", "add", &user, "--email", &email, "--role", &role]),
            3 => strs(&["users", "remove", &user]),
            4 => strs(&["users", "set", &user, "--role", &role]),
            5 => strs(&["users", "set", &user, "--active", flag]),
            6 => strs(&["users", "transfer-ownership", &user]),
            7 => {
                let to = *rng.pick(&ROLE_NAMES[..]);
                strs(&["roles", "delete", &role, "--reassign-to", to])
            }
            8 => strs(&["roles", "create", &role]),
            9 => {
                let doc = json!({"format": "rolecall/1", "users": [
                    {"username": user, "email": email, "role": role,
                     "active": flag == "true", "owner": rng.below(2) == 0}
                ]});
                fs::write(&file, doc.to_string()).unwrap();
                strs(&["import", file.to_str().unwrap()])
            }
            _ => strs(&["users", "passwd", &user, "--password-stdin"]),
        };
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = if args[1] == "passwd" {
            db.run_stdin(&args, PASSWORDS[step % 2])
        } else {
            db.run(&args)
        };
        assert!(
            matches!(run.code, 0 | 2 | 3),
            "rolecall {args:?} exited {}: {}",
            run.code,
            run.stderr
        );
        *codes.entry(run.code).or_default() += 1;
        if let Some(problem) = lockout_problem_in(&db) {
            panic!("after rolecall {args:?}: {problem}");
        }
    }
    assert!(
        codes.len() == 3,
        "successes and both kinds of refusal: {codes:?}"
    );
    let transcript = db.transcript();
    let outputs: Vec<&[u8]> = transcript
        .iter()
        .flat_map(|r| [r.raw_stdout.as_slice(), r.raw_stderr.as_slice()])
        .collect();
    assert!(assert_no_secrets_in(&db, &outputs) > 0);
}

// ---------------------------------------------------------------------------------
// 10. Secrets
// ---------------------------------------------------------------------------------

#[test]
fn files_are_created_private_whatever_the_umask_and_no_secret_is_ever_shown() {
    let dir = TempDir::new().unwrap();
    let home = dir.path();
    let data = home.join("deep").join("data");
    let db_path = data.join("rolecall.db");
    let export = home.join("export.json");
    let csv = home.join("users.csv");
    let casbin = home.join("casbin");
    let audit = home.join("audit.json");
    // Every command under umask 000, through the shell.
    let script = r#"umask 000
bin="$1"; db="$2"
"$bin" --db "$db" roles set-default "Read Only" >/dev/null || exit 10
echo "$PW1" | "$bin" --db "$db" users add alice --email alice@example.com --password-stdin || exit 11
echo "$PW2" | "$bin" --db "$db" users add bob --email bob@example.com --password-stdin || exit 12
echo "$PW3" | "$bin" --db "$db" users passwd bob --password-stdin || exit 13
"$bin" --db "$db" users show bob || exit 14
"$bin" --db "$db" users list --json || exit 15
"$bin" --db "$db" check bob contacts.view --explain
"$bin" --db "$db" export -o "$3" || exit 16
"$bin" --db "$db" export --format csv -o "$4" || exit 17
"$bin" --db "$db" export --format casbin -o "$5" || exit 18
"$bin" --db "$db" audit --json > "$6" || exit 19
"$bin" --db "$db" export
"$bin" --db "$db" export --format csv
"$bin" --db "$db" audit --limit 500
echo "$PW1" | "$bin" --db "$db" users passwd nobody --password-stdin
echo "short" | "$bin" --db "$db" users passwd bob --password-stdin
exit 0
"#;
    let out = Command::new("sh")
        .env_remove("ROLECALL_DB")
        .env_remove("SUDO_USER")
        .env_remove("SSH_CONNECTION")
        .env("USER", common::TEST_USER)
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("xdg-data"))
        .env("PW1", PASSWORDS[0])
        .env("PW2", PASSWORDS[1])
        .env("PW3", PASSWORDS[2])
        .args(["-c", script, "sh"])
        .arg(common::BIN)
        .arg(&db_path)
        .args([&export, &csv, &casbin, &audit])
        .stdin(Stdio::null())
        .output()
        .expect("sh runs");
    assert!(
        out.status.success(),
        "exit {:?}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(mode(&db_path), 0o600, "the database file");
    assert_eq!(mode(&data), 0o700, "the folder made for it");
    assert_eq!(mode(&home.join("deep")), 0o700, "and its parent");
    assert_eq!(mode(&export), 0o600, "the JSON export (it holds emails)");
    assert_eq!(mode(&csv), 0o600, "the CSV export");
    assert_eq!(mode(&casbin), 0o700, "the Casbin folder");
    assert_eq!(mode(&casbin.join("policy.csv")), 0o600);
    // While a process has it open, SQLite's log and index beside it are as private.
    let holder = Connection::open(&db_path).unwrap();
    holder
        .query_row("SELECT count(*) FROM users", [], |r| r.get::<_, i64>(0))
        .unwrap();
    let run = rc(&db_path, &["users", "set", "bob", "--position", "Clerk"]);
    assert!(run.status.success());
    assert_eq!(mode(&sibling(&db_path, "-wal")), 0o600);
    assert_eq!(mode(&sibling(&db_path, "-shm")), 0o600);
    drop(holder);
    // Secrets: the passwords were set (so the checks mean something)...
    let store = Store::open(&db_path, Access::ReadOnly).unwrap();
    assert!(store.verify_password("alice", PASSWORDS[0]).unwrap());
    assert!(store.verify_password("bob", PASSWORDS[2]).unwrap());
    drop(store);
    // ...and appear nowhere: output, exports, the audit log, any other file.
    assert_eq!(
        assert_no_secrets(&db_path, home, &[&out.stdout, &out.stderr]),
        2
    );
}
