//! End-to-end tests of the console (SPEC.md section 9): each test starts the real
//! `rolecall` binary inside its own tmux server (a unique socket, a fixed 120x40
//! window, a fresh database in a temporary folder), presses keys with `send-keys`,
//! reads the screen with `capture-pane`, and checks the result with the CLI
//! (`roles show --json`, section 8).
//!
//! No step sleeps a fixed time: every key waits until the screen shows the evidence
//! of the previous one. The tmux server is always killed at the end, pass or fail.
//! The tests are skipped (with a message) only when the `tmux` binary is absent;
//! `.ci/run` installs it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tempfile::TempDir;

/// The binary under test.
const BIN: &str = env!("CARGO_BIN_EXE_rolecall");

/// How long any one step may take to show on screen.
const TIMEOUT: Duration = Duration::from_secs(10);

/// How often the screen is read while waiting.
const POLL: Duration = Duration::from_millis(50);

/// The tmux session every test drives.
const SESSION: &str = "main";

/// The actor name the console and the CLI run as.
const TEST_USER: &str = "tester";

// ---------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------

/// True when a usable `tmux` is on the PATH. A test that gets `false` prints why and
/// returns; nothing else skips a test.
fn tmux_available() -> bool {
    let found = Command::new("tmux")
        .arg("-V")
        .stdin(Stdio::null())
        .output()
        .map(|out| out.status.success())
        .unwrap_or(false);
    if !found {
        eprintln!("skipping: the `tmux` binary is not installed (CI installs it)");
    }
    found
}

/// Sets the clean environment every process of these tests runs with: no
/// `ROLECALL_DB`, `SUDO_USER`, `SSH_CONNECTION` or `TMUX` from the shell running the
/// tests, a fixed actor, and `HOME`/`XDG_DATA_HOME` inside the test's own folder so
/// nothing can touch the real user's data.
fn clean_env(cmd: &mut Command, home: &Path) {
    cmd.env_remove("ROLECALL_DB")
        .env_remove("SUDO_USER")
        .env_remove("SSH_CONNECTION")
        .env_remove("TMUX")
        .env_remove("TMUX_PANE")
        .env("USER", TEST_USER)
        .env("LOGNAME", TEST_USER)
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("xdg-data"))
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
}

/// Quotes `s` for a POSIX shell.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A fresh database path in its own temporary folder (the file is not created yet).
struct Db {
    dir: TempDir,
    path: PathBuf,
}

impl Db {
    fn new() -> Db {
        let dir = tempfile::Builder::new()
            .prefix("rolecall-e2e")
            .tempdir()
            .expect("a temporary folder");
        let path = dir.path().join("rolecall.db");
        let db = Db { dir, path };
        // Created the way a first write creates it; reading commands never create.
        let mut cmd = Command::new(BIN);
        clean_env(&mut cmd, db.home());
        let out = cmd
            .arg("--db")
            .arg(&db.path)
            .args(["roles", "set-default", "Read Only"])
            .output()
            .expect("the rolecall binary runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        db
    }

    fn home(&self) -> &Path {
        self.dir.path()
    }

    fn path_str(&self) -> &str {
        self.path.to_str().expect("the temporary path is UTF-8")
    }

    /// Runs `rolecall --db DB ARGS...`, which must succeed, and parses its stdout
    /// as JSON.
    #[track_caller]
    fn json(&self, args: &[&str]) -> Value {
        let mut cmd = Command::new(BIN);
        clean_env(&mut cmd, self.home());
        let out = cmd
            .arg("--db")
            .arg(&self.path)
            .args(args)
            .output()
            .expect("the rolecall binary runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "rolecall {args:?} failed ({})\nstdout:\n{stdout}\nstderr:\n{stderr}",
            out.status
        );
        serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("rolecall {args:?} printed no JSON ({e}):\n{stdout}"))
    }

    /// `roles show ROLE --json`.
    #[track_caller]
    fn role(&self, name: &str) -> Role {
        let v = self.json(&["roles", "show", name, "--json"]);
        let granted = v["granted"]
            .as_array()
            .unwrap_or_else(|| panic!("`granted` is an array: {v}"))
            .iter()
            .map(|k| k.as_str().expect("a granted key is a string").to_string())
            .collect();
        let total = v["total"]
            .as_u64()
            .unwrap_or_else(|| panic!("`total` is a number: {v}"));
        Role { granted, total }
    }

    /// Every leaf key of `catalog show --json`, in catalog order.
    #[track_caller]
    fn catalog_leaves(&self) -> Vec<String> {
        fn walk(node: &Value, out: &mut Vec<String>) {
            match node["children"].as_array() {
                Some(children) if !children.is_empty() => {
                    for child in children {
                        walk(child, out);
                    }
                }
                _ => out.push(
                    node["key"]
                        .as_str()
                        .unwrap_or_else(|| panic!("a catalog node has a key: {node}"))
                        .to_string(),
                ),
            }
        }
        let tree = self.json(&["catalog", "show", "--json"]);
        let roots = tree
            .as_array()
            .unwrap_or_else(|| panic!("the catalog is an array of nodes: {tree}"));
        let mut leaves = Vec::new();
        for root in roots {
            walk(root, &mut leaves);
        }
        leaves
    }
}

/// What `roles show --json` says about a role.
#[derive(Debug, PartialEq)]
struct Role {
    granted: BTreeSet<String>,
    total: u64,
}

/// One tmux server on its own socket, running one session. Dropping it kills the
/// server, so no test leaves a console (or a shell) behind, even when it fails.
struct Tmux {
    /// `-S PATH` (a socket in the test's own folder, removed with it) or, when that
    /// path is too long for a Unix socket, `-L NAME` with a unique name.
    socket: [String; 2],
    home: PathBuf,
}

impl Tmux {
    /// Starts a server on a unique socket with one detached 120x40 session running
    /// `argv` (quoted for the shell). Panes stay after their process exits
    /// (`remain-on-exit`), so a test can read the exit status and the last screen.
    #[track_caller]
    fn start(home: &Path, argv: &[&str]) -> Tmux {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let path = home.join(format!("tmux-{n}.sock"));
        let socket = match path.to_str() {
            Some(path) if path.len() < 100 => ["-S".to_string(), path.to_string()],
            _ => [
                "-L".to_string(),
                format!("rolecall-e2e-{}-{n}-{nanos}", std::process::id()),
            ],
        };
        let tmux = Tmux {
            socket,
            home: home.to_path_buf(),
        };
        let line = argv
            .iter()
            .map(|a| shell_quote(a))
            .collect::<Vec<_>>()
            .join(" ");
        // One command list, so the option is set before the server can notice the
        // process exiting.
        let out = tmux.tmux(&[
            "new-session",
            "-d",
            "-s",
            SESSION,
            "-x",
            "120",
            "-y",
            "40",
            &line,
            ";",
            "set-option",
            "-g",
            "remain-on-exit",
            "on",
        ]);
        assert!(
            out.status.success(),
            "tmux new-session failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        tmux
    }

    /// Starts the console on `db`. A small `sh` wrapper writes the console's exit
    /// status to [`Tmux::exit_file`] once it has exited (tmux 3.3 does not always
    /// record `pane_dead_status`), then the pane dies.
    #[track_caller]
    fn console(db: &Db) -> Tmux {
        let exit_file = Tmux::exit_file(db.home());
        let exit_file = exit_file.to_str().expect("the temporary path is UTF-8");
        let script = r#""$0" --db "$1"; echo "$?" > "$2.part" && mv "$2.part" "$2""#;
        Tmux::start(
            db.home(),
            &["sh", "-c", script, BIN, db.path_str(), exit_file],
        )
    }

    /// Where [`Tmux::console`] writes the console's exit status.
    fn exit_file(home: &Path) -> PathBuf {
        home.join("console-exit-status")
    }

    /// Runs one tmux command against this test's server.
    fn tmux(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new("tmux");
        clean_env(&mut cmd, &self.home);
        cmd.args(&self.socket)
            .args(["-f", "/dev/null"])
            .args(args)
            .output()
            .expect("tmux runs")
    }

    /// Presses keys, by tmux name (`Enter`, `Escape`, `Space`, `C-s`, `a`).
    #[track_caller]
    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", SESSION];
        args.extend_from_slice(keys);
        let out = self.tmux(&args);
        assert!(
            out.status.success(),
            "tmux send-keys {keys:?} failed: {}\nscreen:\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.screen()
        );
    }

    /// Types `text` literally.
    #[track_caller]
    fn type_text(&self, text: &str) {
        let out = self.tmux(&["send-keys", "-t", SESSION, "-l", text]);
        assert!(
            out.status.success(),
            "tmux send-keys -l {text:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The visible screen as plain text.
    fn screen(&self) -> String {
        let out = self.tmux(&["capture-pane", "-p", "-t", SESSION]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A tmux format (`#{...}`) evaluated for the session's pane.
    fn format(&self, format: &str) -> String {
        let out = self.tmux(&["display-message", "-p", "-t", SESSION, format]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Polls the screen until `ok` holds; panics after [`TIMEOUT`] with `what` and
    /// the last screen. Returns the screen that matched.
    #[track_caller]
    fn wait_until(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if ok(&screen) {
                return screen;
            }
            if start.elapsed() > TIMEOUT {
                panic!(
                    "timed out after {TIMEOUT:?} waiting for {what}\nlast screen:\n{screen}\
                     \n(pane dead: {})",
                    self.format("#{pane_dead} #{pane_dead_status}")
                );
            }
            thread::sleep(POLL);
        }
    }

    /// Waits until the screen shows `needle`.
    #[track_caller]
    fn wait_for(&self, needle: &str, timeout: Duration) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if screen.contains(needle) {
                return screen;
            }
            if start.elapsed() > timeout {
                panic!(
                    "timed out after {timeout:?} waiting for {needle:?}\nlast screen:\n{screen}\
                     \n(pane dead: {})",
                    self.format("#{pane_dead} #{pane_dead_status}")
                );
            }
            thread::sleep(POLL);
        }
    }

    /// Waits until the screen shows every one of `needles`.
    #[track_caller]
    fn wait_for_all(&self, needles: &[&str]) -> String {
        self.wait_until(&format!("all of {needles:?}"), |s| {
            needles.iter().all(|n| s.contains(n))
        })
    }

    /// Waits until the console started by [`Tmux::console`] has exited and its pane
    /// is dead; returns the console's exit status.
    #[track_caller]
    fn wait_exit(&self) -> i32 {
        let exit_file = Tmux::exit_file(&self.home);
        let start = Instant::now();
        loop {
            let status = std::fs::read_to_string(&exit_file).ok();
            let dead = self.format("#{pane_dead}") == "1";
            if let (Some(status), true) = (&status, dead) {
                return status
                    .trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("the exit status is a number: {status:?}"));
            }
            if start.elapsed() > TIMEOUT {
                panic!(
                    "timed out after {TIMEOUT:?} waiting for the console to exit \
                     (exit status {status:?}, pane dead: {dead})\nlast screen:\n{}",
                    self.screen()
                );
            }
            thread::sleep(POLL);
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        // The pane's process and everything it started, found before the server goes.
        let pids = self
            .format("#{pane_pid}")
            .parse::<u32>()
            .map(process_tree)
            .unwrap_or_default();
        let _ = self.tmux(&["kill-server"]);
        // A console that ignores the hangup (for instance one spinning on a closed
        // tty) must not outlive the test: give it a moment, then SIGKILL it by pid.
        let deadline = Instant::now() + Duration::from_secs(2);
        while pids.iter().any(|&pid| is_running(pid)) && Instant::now() < deadline {
            thread::sleep(POLL);
        }
        for pid in pids.into_iter().filter(|&pid| is_running(pid)) {
            eprintln!("killing process {pid}, still running after the tmux server was killed");
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .stdin(Stdio::null())
                .status();
        }
    }
}

/// The parent pid and state of a process, from `/proc/PID/stat` (Linux only; `None`
/// elsewhere or when the process is gone).
fn proc_stat(pid: u32) -> Option<(u32, char)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "PID (COMM) STATE PPID ...": COMM may hold spaces and parentheses.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((ppid, state))
}

/// True while `pid` exists and is not a zombie.
fn is_running(pid: u32) -> bool {
    matches!(proc_stat(pid), Some((_, state)) if state != 'Z' && state != 'X')
}

/// `root` and all its descendants.
fn process_tree(root: u32) -> Vec<u32> {
    let mut all: Vec<(u32, u32)> = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let pid = entry.file_name().to_str().and_then(|n| n.parse().ok());
            if let Some((pid, (ppid, _))) = pid.and_then(|pid| Some((pid, proc_stat(pid)?))) {
                all.push((pid, ppid));
            }
        }
    }
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        tree.extend(
            all.iter()
                .filter(|&&(_, p)| p == parent)
                .map(|&(pid, _)| pid),
        );
        i += 1;
    }
    tree
}

/// The list footer (a list has focus, no text field is being edited).
const LIST_FOOTER: &str = "q quit  ? help";

/// The role editor's footer while the tree has focus.
const TREE_FOOTER: &str = "a check all / uncheck all";

/// The footer while a text field (filter, search) is being edited.
const FIELD_FOOTER: &str = "Enter done  Esc back";

/// From a fresh console: Roles tab, filter on `filter` (which must leave exactly
/// `role`), Enter to keep the filter, Enter to open the editor. Returns the editor's
/// first screen.
#[track_caller]
fn open_role_editor(tmux: &Tmux, filter: &str, role: &str, roles: usize) -> String {
    tmux.wait_for("Users", TIMEOUT);
    tmux.wait_for_all(&["Users (", "Roles (", "Audit (", LIST_FOOTER]);

    tmux.keys(&["2"]);
    tmux.wait_for_all(&[role, "GRANTED", LIST_FOOTER]);

    tmux.keys(&["/"]);
    tmux.wait_for(FIELD_FOOTER, TIMEOUT);
    tmux.type_text(filter);
    let counter = format!("1 of {roles}");
    let screen = tmux.wait_for_all(&[&format!("/{filter}"), &counter]);
    assert!(
        screen.contains(role),
        "the filter keeps {role:?}:\n{screen}"
    );

    tmux.keys(&["Enter"]);
    let screen = tmux.wait_until("the filter kept and the list focused", |s| {
        s.contains(LIST_FOOTER) && !s.contains(FIELD_FOOTER)
    });
    assert!(
        screen.contains(&format!("/{filter}")) && screen.contains(&counter),
        "Enter keeps the filter:\n{screen}"
    );

    tmux.keys(&["Enter"]);
    tmux.wait_for_all(&[&format!("Role: {role}"), TREE_FOOTER])
}

// ---------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------

/// The acceptance walk: open, go to Roles, filter, open the editor, search, Check
/// All, save, confirm with `rolecall roles show --json`.
#[test]
fn check_all_on_a_search_saves_only_the_permissions_shown() {
    if !tmux_available() {
        return;
    }
    let db = Db::new();
    let role = "Campaign Manager";

    let before = db.role(role);
    let leaves = db.catalog_leaves();
    assert_eq!(
        before.total as usize,
        leaves.len(),
        "total counts every leaf"
    );
    assert_eq!(before.granted.len(), 38, "the seeded {role} grants 38");
    let exports: BTreeSet<String> = leaves
        .iter()
        .filter(|k| k.ends_with(".export"))
        .cloned()
        .collect();
    let missing: BTreeSet<String> = exports.difference(&before.granted).cloned().collect();
    assert!(
        missing.contains("segmentation.export"),
        "the seeded {role} lacks segmentation.export: {:?}",
        before.granted
    );
    let roles = db
        .json(&["roles", "list", "--json"])
        .as_array()
        .expect("roles list --json is an array")
        .len();

    let tmux = Tmux::console(&db);
    let screen = open_role_editor(&tmux, "camp", role, roles);
    let granted_before = format!("{} of {} granted", before.granted.len(), before.total);
    assert!(
        screen.contains(&granted_before),
        "the editor counts {granted_before:?}:\n{screen}"
    );

    // Search: typing filters the tree to the export permissions and their
    // categories; Enter keeps the search and gives the tree the focus.
    tmux.keys(&["/"]);
    tmux.wait_for(FIELD_FOOTER, TIMEOUT);
    tmux.type_text("export");
    let shown = format!("{} permissions shown", exports.len());
    let acting = format!("search: Space/a act on {} shown", exports.len());
    tmux.wait_for_all(&[&shown, &acting]);
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_until("the search kept and the tree focused", |s| {
        s.contains(&acting) && s.contains(TREE_FOOTER) && !s.contains(FIELD_FOOTER)
    });
    for key in &exports {
        assert!(
            screen.contains(key.as_str()),
            "the search shows {key}:\n{screen}"
        );
    }
    assert!(
        !screen.contains("Delete contacts") && !screen.contains("Triggers"),
        "the search hides what does not match:\n{screen}"
    );

    // Check All acts on the permissions shown only.
    tmux.keys(&["a"]);
    let granted_after = before.granted.len() + missing.len();
    let counter = format!("{granted_after} of {} granted", before.total);
    tmux.wait_for_all(&[&counter, "unsaved"]);

    // Ctrl-S shows what will change and asks first.
    tmux.keys(&["C-s"]);
    let screen = tmux.wait_for(&format!("Save \"{role}\"?"), TIMEOUT);
    let adds = if missing.len() == 1 {
        "Add 1 permission:".to_string()
    } else {
        format!("Add {} permissions:", missing.len())
    };
    assert!(
        screen.contains(&adds),
        "the summary says {adds:?}:\n{screen}"
    );
    assert!(
        screen.contains("Export segments"),
        "the summary names the added permission:\n{screen}"
    );
    assert!(
        !screen.contains("Remove"),
        "the summary removes nothing:\n{screen}"
    );

    tmux.keys(&["y"]);
    let saved = format!(
        "saved \"{role}\": {} added, 0 removed, {counter}",
        missing.len()
    );
    tmux.wait_for(&saved, TIMEOUT);
    tmux.wait_for(LIST_FOOTER, TIMEOUT);

    tmux.keys(&["q"]);
    assert_eq!(tmux.wait_exit(), 0, "the console exits 0 on q");

    let after = db.role(role);
    assert!(
        after.granted.is_superset(&exports),
        "{role} now grants every export permission {exports:?}; granted: {:?}",
        after.granted
    );
    assert_eq!(after.granted.len(), 38 + missing.len());
    let expected: BTreeSet<String> = before.granted.union(&exports).cloned().collect();
    assert_eq!(after.granted, expected, "nothing but the exports changed");
    assert_eq!(after.total, before.total);
}

/// Esc on an edited role asks first; `n` keeps editing, `y` discards, and the role is
/// unchanged.
#[test]
fn leaving_an_edited_role_asks_and_discarding_changes_nothing() {
    if !tmux_available() {
        return;
    }
    let db = Db::new();
    let role = "Read Only";
    let before = db.role(role);
    assert_eq!(before.granted.len(), 8, "the seeded {role} grants 8");
    let roles = db
        .json(&["roles", "list", "--json"])
        .as_array()
        .expect("roles list --json is an array")
        .len();

    let tmux = Tmux::console(&db);
    let screen = open_role_editor(&tmux, "read", role, roles);
    let granted_before = format!("{} of {} granted", before.granted.len(), before.total);
    assert!(
        screen.contains(&granted_before),
        "the editor counts {granted_before:?}:\n{screen}"
    );

    // Space on the first category (the tree opens with it selected) toggles it.
    tmux.keys(&["Space"]);
    let screen = tmux.wait_until("the first category toggled", |s| {
        s.contains("unsaved") && !s.contains(&granted_before)
    });
    assert!(
        screen.contains(&format!("Role: {role}")),
        "still in the editor:\n{screen}"
    );

    const DISCARD: &str = "Discard unsaved changes?";
    tmux.keys(&["Escape"]);
    tmux.wait_for(DISCARD, TIMEOUT);

    // n cancels: the dialog closes, the edit stays.
    tmux.keys(&["n"]);
    let screen = tmux.wait_until("the dialog closed", |s| {
        !s.contains(DISCARD) && s.contains(TREE_FOOTER)
    });
    assert!(
        screen.contains(&format!("Role: {role} · unsaved")),
        "n keeps the unsaved edit:\n{screen}"
    );

    // Esc asks again; y discards and leaves the editor.
    tmux.keys(&["Escape"]);
    tmux.wait_for(DISCARD, TIMEOUT);
    tmux.keys(&["y"]);
    let screen = tmux.wait_until("the editor left", |s| {
        !s.contains(DISCARD) && !s.contains(&format!("Role: {role}")) && s.contains(LIST_FOOTER)
    });
    assert!(
        screen.contains("discarded"),
        "the status line says the edit was discarded:\n{screen}"
    );

    tmux.keys(&["q"]);
    assert_eq!(tmux.wait_exit(), 0, "the console exits 0 on q");

    let after = db.role(role);
    assert_eq!(after, before, "{role} is unchanged");
    assert_eq!(after.granted.len(), 8);
}

/// After `q` the terminal is restored: the alternate screen is left, mouse capture is
/// off, the cursor shows, the tty is back in cooked mode with echo, and the shell that
/// started the console prints normally.
#[test]
fn quitting_restores_the_terminal() {
    if !tmux_available() {
        return;
    }
    let db = Db::new();
    let script = r#""$0" --db "$1"; echo "EXITED:$?"; if stty -a | tr ' ;' '\n\n' | grep -qx -e -icanon -e -echo; then echo TTY:raw; else echo TTY:cooked; fi; sleep 30"#;
    let tmux = Tmux::start(db.home(), &["sh", "-c", script, BIN, db.path_str()]);

    tmux.wait_for_all(&["Users (", "Roles (", LIST_FOOTER]);
    assert_eq!(
        tmux.format("#{alternate_on}"),
        "1",
        "the console draws on the alternate screen"
    );

    tmux.keys(&["q"]);
    let screen = tmux.wait_for("TTY:", TIMEOUT);
    assert!(
        screen.contains("EXITED:0"),
        "the console exits 0 and the shell prints after it:\n{screen}"
    );
    assert!(
        screen.contains("TTY:cooked"),
        "the tty is back in canonical mode with echo:\n{screen}"
    );
    assert!(
        !screen.contains("Roles (") && !screen.contains(LIST_FOOTER),
        "nothing of the console is left on the screen:\n{screen}"
    );
    // Output post-processing is back: each line starts at column 0.
    let lines: Vec<&str> = screen.lines().map(str::trim_end).collect();
    assert!(
        lines.contains(&"EXITED:0") && lines.contains(&"TTY:cooked"),
        "the shell's lines start at column 0, one per line:\n{screen}"
    );
    let flags = tmux.format(
        "alt=#{alternate_on} cursor=#{cursor_flag} mouse=#{mouse_any_flag}#{mouse_all_flag}\
         #{mouse_button_flag}#{mouse_standard_flag}#{mouse_sgr_flag}",
    );
    assert_eq!(
        flags, "alt=0 cursor=1 mouse=00000",
        "alternate screen left, cursor shown, mouse capture off"
    );
}

/// Issue "The console, complete": add a user through the form, change a role through
/// the picker, and check both with `rolecall users show --json`.
#[test]
fn a_user_added_in_the_form_and_moved_with_the_picker() {
    if !tmux_available() {
        return;
    }
    let db = Db::new();
    db.json(&["users", "list", "--json"]);
    let tmux = Tmux::console(&db);
    tmux.wait_for(LIST_FOOTER, TIMEOUT);

    // The form: username, email, first name; the time zone completes on Enter.
    tmux.keys(&["n"]);
    tmux.wait_for("New user", TIMEOUT);
    tmux.type_text("nina");
    tmux.keys(&["Tab"]);
    tmux.type_text("nina@example.com");
    tmux.keys(&["Tab"]);
    tmux.type_text("Nina");
    for _ in 0..4 {
        tmux.keys(&["Tab"]);
    }
    tmux.keys(&["C-u"]);
    tmux.type_text("europe/ro");
    tmux.wait_for("Enter takes Europe/Rome", TIMEOUT);
    tmux.keys(&["Enter"]);
    tmux.wait_for("Europe/Rome", TIMEOUT);
    tmux.keys(&["C-s"]);
    tmux.wait_for("added user \"nina\"", TIMEOUT);

    // The first user is the owner; nina is the second and gets the default role.
    let nina = db.json(&["users", "show", "nina", "--json"]);
    assert_eq!(nina["email"], "nina@example.com");
    assert_eq!(nina["first_name"], "Nina");
    assert_eq!(nina["timezone"], "Europe/Rome");
    assert_eq!(nina["owner"], true, "the first user becomes the owner");
    assert_eq!(nina["role"], "Administrator");

    // A second user through the form, then moved with the role picker.
    tmux.keys(&["n"]);
    tmux.wait_for("New user", TIMEOUT);
    tmux.type_text("omar");
    tmux.keys(&["Tab"]);
    tmux.type_text("omar@example.com");
    tmux.keys(&["C-s"]);
    tmux.wait_for("added user \"omar\" with role \"Read Only\"", TIMEOUT);
    tmux.keys(&["r"]);
    tmux.wait_for("Role for \"omar\"", TIMEOUT);
    tmux.type_text("campaign");
    tmux.keys(&["Enter"]);
    // Campaign Manager grants more than Read Only: the console asks first.
    tmux.wait_for("1 user gains", TIMEOUT);
    tmux.keys(&["y"]);
    tmux.wait_for("gave \"Campaign Manager\" to 1 user", TIMEOUT);
    tmux.keys(&["q"]);
    assert_eq!(tmux.wait_exit(), 0);

    let omar = db.json(&["users", "show", "omar", "--json"]);
    assert_eq!(omar["role"], "Campaign Manager");
    let audit = db.json(&["audit", "--json"]);
    let updates = audit
        .as_array()
        .expect("audit rows")
        .iter()
        .filter(|e| e["target"] == "omar" && e["action"] == "user.update")
        .count();
    assert_eq!(updates, 1, "one change after the add");
}

/// Issue 11: Esc goes back one level at a time: first it clears the tree's search
/// (the editor stays), then it leaves the unchanged editor.
#[test]
fn esc_clears_the_tree_search_then_leaves_the_editor() {
    if !tmux_available() {
        return;
    }
    let db = Db::new();
    let roles = db
        .json(&["roles", "list", "--json"])
        .as_array()
        .map_or(0, Vec::len);
    let tmux = Tmux::console(&db);
    open_role_editor(&tmux, "camp", "Campaign Manager", roles);
    tmux.keys(&["/"]);
    tmux.wait_for(FIELD_FOOTER, TIMEOUT);
    tmux.type_text("export");
    tmux.wait_for("permissions shown", TIMEOUT);
    tmux.keys(&["Enter"]);
    tmux.wait_for_all(&["Esc clear the search", "Esc clears the search"]);
    tmux.keys(&["Escape"]);
    let screen = tmux.wait_until("the search cleared, still in the editor", |s| {
        !s.contains("permissions shown") && s.contains("/ to search labels")
    });
    assert!(screen.contains("Role: Campaign Manager"), "{screen}");
    assert!(
        screen.contains("Triggers"),
        "every category is back:\n{screen}"
    );
    tmux.keys(&["Escape"]);
    tmux.wait_until("the editor left", |s| {
        !s.contains("Role: Campaign Manager") && s.contains(LIST_FOOTER)
    });
    tmux.keys(&["q"]);
    assert_eq!(tmux.wait_exit(), 0);
}

/// Issue 11: the help scrolls with PgDn and End like every list, and says so.
#[test]
fn pgdn_and_end_scroll_the_help() {
    if !tmux_available() {
        return;
    }
    let db = Db::new();
    let tmux = Tmux::console(&db);
    tmux.wait_for(LIST_FOOTER, TIMEOUT);
    tmux.keys(&["?"]);
    let first = tmux.wait_for_all(&["Keys · Esc closes", "Here: Users list", "more (PgDn"]);
    tmux.keys(&["NPage"]);
    let paged = tmux.wait_until("one page down", |s| s != first && s.contains("↑ "));
    assert!(!paged.contains("Here: Users list"), "{paged}");
    tmux.keys(&["End"]);
    tmux.wait_until("at the end: more above, nothing below", |s| {
        !s.contains("more (PgDn") && s.contains("↑ ")
    });
    tmux.keys(&["Escape"]);
    tmux.wait_until("help closed", |s| !s.contains("Keys · Esc closes"));
    tmux.keys(&["q"]);
    assert_eq!(tmux.wait_exit(), 0);
}

/// Issue 11: the save summary lists every one of 60 changes (59 permissions and the
/// description), grouped by category, scrolled to its end with End.
#[test]
fn the_save_summary_lists_sixty_changes() {
    if !tmux_available() {
        return;
    }
    let db = Db::new();
    let before = db.role("Read Only");
    assert_eq!(before.granted.len(), 8);
    let adds = before.total as usize - 8;
    assert_eq!(adds + 1, 60, "59 permissions and the description");
    let roles = db
        .json(&["roles", "list", "--json"])
        .as_array()
        .map_or(0, Vec::len);
    let tmux = Tmux::console(&db);
    open_role_editor(&tmux, "read", "Read Only", roles);
    tmux.keys(&["a"]);
    tmux.wait_for("unsaved", TIMEOUT);
    tmux.keys(&["Tab", "Tab"]); // tree → name → description
    tmux.keys(&["End"]);
    tmux.type_text(" Now with everything.");
    tmux.keys(&["C-s"]);
    let top = tmux.wait_for_all(&[
        "Save \"Read Only\"?",
        "Description changed",
        &format!("Add {adds} permissions:"),
        "more (PgDn",
    ]);
    assert!(!top.contains("this role."), "{top}");
    tmux.keys(&["End"]);
    let end = tmux.wait_for(
        "No user holds this role, directly or through a package.",
        TIMEOUT,
    );
    assert!(end.contains("↑ "), "says there is more above:\n{end}");
    tmux.keys(&["y"]);
    tmux.wait_for(&format!("saved \"Read Only\": {adds} added"), TIMEOUT);
    tmux.keys(&["q"]);
    assert_eq!(tmux.wait_exit(), 0);
    let after = db.role("Read Only");
    assert_eq!(after.granted.len() as u64, after.total);
}

/// Issue 11: the role picker opens on the user's current role: Enter at once gives
/// nothing new.
#[test]
fn the_role_picker_starts_on_the_current_role() {
    if !tmux_available() {
        return;
    }
    let db = Db::new();
    for (name, role) in [("ann", "Administrator"), ("bob", "Full Access")] {
        let email = format!("{name}@example.com");
        let mut cmd = Command::new(BIN);
        clean_env(&mut cmd, db.home());
        let out = cmd
            .arg("--db")
            .arg(&db.path)
            .args(["users", "add", name, "--email", &email, "--role", role])
            .output()
            .expect("the rolecall binary runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let tmux = Tmux::console(&db);
    tmux.wait_for(LIST_FOOTER, TIMEOUT);
    tmux.keys(&["/"]);
    tmux.type_text("bob");
    tmux.keys(&["Enter"]);
    tmux.wait_for("1 of 2", TIMEOUT);
    tmux.keys(&["r"]);
    tmux.wait_for("Role for \"bob\"", TIMEOUT);
    tmux.keys(&["Enter"]);
    tmux.wait_for(
        "gave \"Full Access\" to 0 users (1 already had it)",
        TIMEOUT,
    );
    tmux.keys(&["q"]);
    assert_eq!(tmux.wait_exit(), 0);
    assert_eq!(
        db.json(&["users", "show", "bob", "--json"])["role"],
        "Full Access"
    );
}

/// Issue 12: a role, two users and a package that joins them, all made in the
/// console; `rolecall check` then answers through the package.
#[test]
fn a_package_made_in_the_console_gives_its_members_the_role() {
    if !tmux_available() {
        return;
    }
    let db = Db::new();
    let tmux = Tmux::console(&db);
    tmux.wait_for(LIST_FOOTER, TIMEOUT);

    // Three users through the form: the first is the owner, the others Read Only.
    for name in ["ada", "pia", "quin"] {
        tmux.keys(&["n"]);
        tmux.wait_for("New user", TIMEOUT);
        tmux.type_text(name);
        tmux.keys(&["Tab"]);
        tmux.type_text(&format!("{name}@example.com"));
        tmux.keys(&["C-s"]);
        tmux.wait_for(&format!("added user \"{name}\""), TIMEOUT);
    }

    // A role "Deleters" with what a search for "delete" shows.
    tmux.keys(&["2"]);
    tmux.wait_for("GRANTED", TIMEOUT);
    tmux.keys(&["n"]);
    tmux.wait_for("New role", TIMEOUT);
    tmux.type_text("Deleters");
    tmux.keys(&["Tab", "Tab", "/"]);
    tmux.type_text("delete");
    tmux.keys(&["Enter"]);
    tmux.wait_for(TREE_FOOTER, TIMEOUT);
    tmux.keys(&["a", "C-s"]);
    tmux.wait_for("Create role \"Deleters\"?", TIMEOUT);
    tmux.keys(&["y"]);
    tmux.wait_for("created role \"Deleters\"", TIMEOUT);
    let deleters = db.role("Deleters");
    let leaf = deleters
        .granted
        .iter()
        .find(|k| !db.role("Read Only").granted.contains(*k))
        .expect("Deleters grants something Read Only does not")
        .clone();

    // The package: name, the role from the filtered checklist, two members.
    tmux.keys(&["3"]);
    tmux.wait_for("Packages", TIMEOUT);
    tmux.keys(&["n"]);
    tmux.wait_for("New package", TIMEOUT);
    tmux.type_text("Cleanup");
    tmux.keys(&["Tab", "Tab", "/"]);
    tmux.type_text("deleters");
    tmux.keys(&["Enter", "Space"]);
    tmux.wait_for("1 included", TIMEOUT);
    tmux.keys(&["Tab"]);
    for name in ["pia", "quin"] {
        tmux.keys(&["a"]);
        tmux.wait_for("Add a member", TIMEOUT);
        tmux.type_text(name);
        tmux.keys(&["Enter"]);
        tmux.wait_for(&format!("\"{name}\" joins when you save"), TIMEOUT);
    }
    tmux.keys(&["C-s"]);
    tmux.wait_for("Create package \"Cleanup\"?", TIMEOUT);
    tmux.keys(&["y"]);
    tmux.wait_for("created package \"Cleanup\": 1 role, 2 members", TIMEOUT);
    tmux.keys(&["q"]);
    assert_eq!(tmux.wait_exit(), 0);

    let check = |user: &str| {
        let mut cmd = Command::new(BIN);
        clean_env(&mut cmd, db.home());
        cmd.arg("--db")
            .arg(&db.path)
            .args(["check", user, &leaf, "--explain"])
            .output()
            .expect("rolecall check runs")
    };
    for member in ["pia", "quin"] {
        let out = check(member);
        let said = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{member} may {leaf}: {said}");
        assert!(
            said.contains("role \"Deleters\" in package \"Cleanup\""),
            "{said}"
        );
    }
    let package = db.json(&["packages", "show", "Cleanup", "--json"]);
    assert_eq!(package["members"], serde_json::json!(["pia", "quin"]));
    assert_eq!(package["roles"], serde_json::json!(["Deleters"]));
}

/// Issue 13: an exception added in the console (Magnews: a role that may not import
/// contacts into one database), confirmed with `rolecall check --on`.
#[test]
fn an_exception_added_in_the_console_decides_check_on() {
    if !tmux_available() {
        return;
    }
    let db = Db::new();
    let catalog = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/catalogs/magnews.toml");
    db.json(&[
        "catalog",
        "load",
        catalog.to_str().unwrap(),
        "--prune",
        "--json",
    ]);
    db.json(&[
        "users",
        "add",
        "ada",
        "--email",
        "ada@example.com",
        "--json",
    ]);
    db.json(&["roles", "create", "Marketer", "--from", "Editor", "--json"]);
    db.json(&[
        "users",
        "add",
        "bo",
        "--email",
        "bo@example.com",
        "--role",
        "Marketer",
        "--json",
    ]);
    for key in ["newsletter", "crm"] {
        db.json(&["resources", "add", "database", key, "--json"]);
    }
    let check = |spec: &str| {
        let mut cmd = Command::new(BIN);
        clean_env(&mut cmd, db.home());
        let out = cmd
            .arg("--db")
            .arg(&db.path)
            .args(["check", "bo", "contacts.import", "--on", spec, "--explain"])
            .output()
            .expect("rolecall check runs");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    assert_eq!(
        check("database:newsletter").0,
        Some(0),
        "Editor may import in general"
    );

    let tmux = Tmux::console(&db);
    tmux.wait_for("5 Resources (2)", TIMEOUT);
    tmux.keys(&["2", "/"]);
    tmux.type_text("marketer");
    tmux.keys(&["Enter", "Enter"]);
    tmux.wait_for("Role: Marketer", TIMEOUT);
    tmux.keys(&["e"]);
    tmux.wait_for("Exception of \"Marketer\" for", TIMEOUT);
    tmux.type_text("newsletter");
    tmux.keys(&["Enter"]);
    tmux.wait_for("Exception: Marketer on database:newsletter", TIMEOUT);
    tmux.keys(&["/"]);
    tmux.type_text("import new");
    tmux.keys(&["Enter"]);
    tmux.wait_for("Import new contacts", TIMEOUT);
    tmux.keys(&["a"]);
    tmux.wait_for("≠ granted in general", TIMEOUT);
    tmux.keys(&["C-s"]);
    tmux.wait_for("Save the exception for database:newsletter?", TIMEOUT);
    tmux.keys(&["y"]);
    tmux.wait_for(
        "saved the exception of \"Marketer\" for database:newsletter",
        TIMEOUT,
    );
    tmux.wait_for("Role: Marketer", TIMEOUT);
    // Esc and q apart: together a terminal reads them as Alt-q.
    tmux.keys(&["Escape"]);
    tmux.wait_for(LIST_FOOTER, TIMEOUT);
    tmux.keys(&["q"]);
    assert_eq!(tmux.wait_exit(), 0);

    let (code, said) = check("database:newsletter");
    assert_eq!(code, Some(1), "the exception denies it there: {said}");
    assert!(said.contains("exception for database:newsletter"), "{said}");
    assert_eq!(check("database:crm").0, Some(0), "and only there");
}
