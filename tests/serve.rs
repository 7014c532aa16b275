//! `rolecall serve` (SPEC §13) driven by the real OpenSSH client (`ssh`, from
//! Debian's `openssh-client`; `.ci/run` installs it) against the real binary on a
//! free localhost port. The console tests run `ssh -tt` inside a tmux server of
//! their own. With `CI` set, a missing `ssh`, `ssh-keygen` or `tmux` fails the test
//! instead of skipping it.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{Db, s};

/// True when the tools a test needs are installed; otherwise says so (and fails
/// under CI).
fn have(tools: &[&str]) -> bool {
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|tool| {
            Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .stdout(Stdio::null())
                .status()
                .map_or(true, |s| !s.success())
        })
        .collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must have {missing:?} (.ci/run installs them)"
    );
    eprintln!("skipping: {missing:?} not installed");
    false
}

/// A running `rolecall serve` on a free port, stopped (SIGTERM) when dropped.
struct Server {
    child: Child,
    port: u16,
    dir: PathBuf,
    log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Server {
    fn start(db: &Db, extra: &[&str]) -> Server {
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            let listen = format!("127.0.0.1:{port}");
            let host_key = db.dir().join("host_key");
            let mut child = common::command(db.dir())
                .arg("--db")
                .arg(db.path())
                .args(["serve", "--listen", &listen, "--host-key"])
                .arg(&host_key)
                .args(extra)
                .stderr(Stdio::piped())
                .spawn()
                .expect("rolecall serve starts");
            let stderr = child.stderr.take().expect("stderr");
            let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
            let (tx, rx) = std::sync::mpsc::channel();
            let sink = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    if line.contains("listening on") {
                        let _ = tx.send(true);
                    }
                    sink.lock().unwrap().push_str(&(line + "\n"));
                }
                let _ = tx.send(false);
            });
            if rx.recv_timeout(Duration::from_secs(20)) == Ok(true) {
                return Server {
                    child,
                    port,
                    dir: db.dir().to_path_buf(),
                    log,
                };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("rolecall serve did not start");
    }

    /// The `ssh` command line as a string (for tmux), with the client's options.
    fn ssh_args(&self, user: &str, key: &Path) -> Vec<String> {
        let mut args: Vec<String> = [
            "-F",
            "/dev/null",
            "-p",
            &self.port.to_string(),
            "-i",
            &key.display().to_string(),
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            &format!(
                "UserKnownHostsFile={}",
                self.dir.join("known_hosts").display()
            ),
            "-o",
            "BatchMode=yes",
            "-o",
            "LogLevel=ERROR",
            "-o",
            "ConnectTimeout=20",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.push(format!("{user}@127.0.0.1"));
        args
    }

    /// `ssh USER@127.0.0.1 -- COMMAND` with `stdin`; its output.
    fn exec(&self, user: &str, key: &Path, command: &str, stdin: &str) -> Output {
        let mut child = Command::new("ssh")
            .args(self.ssh_args(user, key))
            .arg("--")
            .arg(command)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ssh runs");
        let mut pipe = child.stdin.take().expect("stdin");
        let _ = pipe.write_all(stdin.as_bytes());
        drop(pipe);
        child.wait_with_output().expect("ssh finishes")
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Sends SIGTERM and waits for the server to leave; its exit status.
    fn stop(&mut self) -> std::process::ExitStatus {
        // SAFETY: signalling our own child process.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        self.child.wait().expect("the server exits")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.stop();
        }
    }
}

/// A new Ed25519 key pair in `dir`; the private key's path.
fn keygen(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
        .arg(&path)
        .stdin(Stdio::null())
        .status()
        .expect("ssh-keygen runs");
    assert!(status.success());
    path
}

fn pub_key(key: &Path) -> String {
    std::fs::read_to_string(key.with_extension("pub")).expect("the .pub file")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A database with the owner alice (with a key), and helpdesk, who holds only
/// `administration.users` (with a key). The two private keys' paths.
fn team(db: &Db) -> (PathBuf, PathBuf) {
    let alice = keygen(db.dir(), "alice_key");
    let helpdesk = keygen(db.dir(), "helpdesk_key");
    // What new users get by default (Read Only), and the users right.
    db.ok(&["roles", "create", "Helpdesk", "--from", "Read Only"]);
    db.ok(&["roles", "grant", "Helpdesk", "administration.users"]);
    db.ok(&[
        "users",
        "add",
        "helpdesk",
        "--email",
        "h@example.com",
        "--role",
        "Helpdesk",
    ]);
    db.run_stdin(&["users", "keys", "add", "alice", "-"], &pub_key(&alice))
        .expect_code(0);
    db.run_stdin(&["users", "keys", "add", "helpdesk"], &pub_key(&helpdesk))
        .expect_code(0);
    (alice, helpdesk)
}

#[test]
fn a_known_key_runs_a_command_with_the_usual_output_and_exit_code() {
    if !have(&["ssh", "ssh-keygen"]) {
        return;
    }
    let db = Db::with_owner();
    let (alice, _) = team(&db);
    let server = Server::start(&db, &[]);

    let out = server.exec("alice", &alice, "roles list --json", "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let roles: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert!(
        roles
            .as_array()
            .unwrap()
            .iter()
            .any(|r| s(&r["name"]) == "Helpdesk")
    );

    let out = server.exec("alice", &alice, "roles show 'No Such Role'", "");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("No Such Role"),
        "{}",
        text(&out.stderr)
    );

    // Standard input reaches the command.
    let out = server.exec(
        "alice",
        &alice,
        "users passwd alice --password-stdin",
        "s3cret-Passw0rd\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    // Files on the server are out of reach.
    let before = db.dump();
    let out = server.exec("alice", &alice, "import /etc/passwd", "");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("file on the server"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(db.dump(), before);
}

#[test]
fn unknown_keys_disabled_users_other_login_names_and_passwords_are_refused() {
    if !have(&["ssh", "ssh-keygen"]) {
        return;
    }
    let db = Db::with_owner();
    let (alice, helpdesk) = team(&db);
    let stranger = keygen(db.dir(), "stranger_key");
    db.ok(&["users", "set", "helpdesk", "--active", "false"]);
    let before = db.dump();
    let server = Server::start(&db, &[]);

    for (user, key, why) in [
        ("alice", &stranger, "unknown key"),
        ("helpdesk", &helpdesk, "is disabled"),
        ("helpdesk", &alice, "of \"alice\" offered for \"helpdesk\""),
    ] {
        let out = server.exec(user, key, "roles list", "");
        assert_eq!(
            out.status.code(),
            Some(255),
            "{user}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains("Permission denied"),
            "{}",
            text(&out.stderr)
        );
        assert!(
            server.log().contains(why),
            "the log says {why}:\n{}",
            server.log()
        );
    }

    // A password is never asked for, and never accepted.
    let out = Command::new("ssh")
        .args(server.ssh_args("alice", &stranger))
        .args([
            "-o",
            "PreferredAuthentications=password,keyboard-interactive",
        ])
        .args(["-o", "PubkeyAuthentication=no", "--", "roles", "list"])
        .stdin(Stdio::null())
        .output()
        .expect("ssh runs");
    assert_eq!(out.status.code(), Some(255));
    assert!(
        text(&out.stderr).contains("Permission denied (publickey)"),
        "{}",
        text(&out.stderr)
    );

    // Many keys in one connection: the server stops listening after a few.
    let mut ssh = Command::new("ssh");
    ssh.args(server.ssh_args("alice", &stranger));
    for i in 0..8 {
        ssh.arg("-i").arg(keygen(db.dir(), &format!("extra_{i}")));
    }
    let out = ssh
        .args(["--", "roles", "list"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(255));
    let refused = server.log().matches("refused from").count();
    assert!(refused >= 4, "{}", server.log());

    assert_eq!(db.dump(), before, "nothing was written");
}

#[test]
fn an_operator_with_only_administration_users_adds_users_but_cannot_change_roles() {
    if !have(&["ssh", "ssh-keygen"]) {
        return;
    }
    let db = Db::with_owner();
    let (_, helpdesk) = team(&db);
    let server = Server::start(&db, &[]);

    let out = server.exec(
        "helpdesk",
        &helpdesk,
        "users add carol --email carol@example.com",
        "",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let row = &db.json(&["audit", "--limit", "1"])[0];
    assert_eq!(s(&row["actor"]), "helpdesk via ssh from 127.0.0.1");
    assert_eq!(s(&row["target"]), "carol");

    let export = db.ok(&["export"]);
    let before = db.dump();
    for (command, permission) in [
        ("roles grant Helpdesk contacts", "administration.roles"),
        ("roles create Sneaky", "administration.roles"),
        ("audit --limit 1", "administration.audit"),
        ("import -", "administration.roles"),
    ] {
        let out = server.exec("helpdesk", &helpdesk, command, &export);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{command}: {stderr}");
        assert!(stderr.contains(permission), "{command}: {stderr}");
    }
    // Nor may they give themselves, or another account that can log in, more.
    let out = server.exec(
        "helpdesk",
        &helpdesk,
        "users set helpdesk --role Administrator",
        "",
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(
        text(&out.stderr).contains("administration.roles"),
        "{}",
        text(&out.stderr)
    );
    let out = server.exec(
        "helpdesk",
        &helpdesk,
        "users keys add alice",
        &pub_key(&keygen(db.dir(), "k2")),
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert_eq!(db.dump(), before, "every refusal changed nothing");

    // Nobody is handed, and nobody's account is taken over for, what helpdesk lacks:
    // not a role, not a package, not the owner's password or email.
    db.ok(&["packages", "create", "Admins"]);
    db.ok(&["packages", "add-role", "Admins", "Administrator"]);
    let before = db.dump();
    for (command, stdin, names) in [
        (
            "users set carol --role 'Campaign Manager'",
            "",
            "role \"Campaign Manager\"",
        ),
        (
            "users add x9 --email x9@example.com --role Administrator",
            "",
            "role \"Administrator\"",
        ),
        ("packages add-user Admins carol", "", "package \"Admins\""),
        (
            "packages add-user Admins helpdesk",
            "",
            "package \"Admins\"",
        ),
        (
            "users passwd alice --password-stdin",
            "Pwned-pass-1234\n",
            "acting as \"alice\"",
        ),
        (
            "users set alice --email evil@example.com",
            "",
            "acting as \"alice\"",
        ),
        ("users transfer-ownership helpdesk", "", "ownership"),
    ] {
        let out = server.exec("helpdesk", &helpdesk, command, stdin);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{command}: {stderr}");
        assert!(stderr.contains(names), "{command}: {stderr}");
    }
    assert_eq!(db.dump(), before, "every refusal changed nothing");
    // What helpdesk holds, they may hand out.
    db.ok(&["packages", "create", "Readers"]);
    db.ok(&["packages", "add-role", "Readers", "Read Only"]);
    for command in [
        "packages add-user Readers carol",
        "users set carol --role none",
        "users set carol --role 'Read Only' --first-name Carol",
    ] {
        let out = server.exec("helpdesk", &helpdesk, command, "");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{command}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn fifty_concurrent_sessions_each_run_a_command() {
    if !have(&["ssh", "ssh-keygen"]) {
        return;
    }
    let db = Db::with_owner();
    let (alice, _) = team(&db);
    let server = Server::start(&db, &[]);
    let children: Vec<Child> = (0..50)
        .map(|i| {
            Command::new("ssh")
                .args(server.ssh_args("alice", &alice))
                .arg("--")
                .arg(format!(
                    "users add user{i:02} --email user{i:02}@example.com"
                ))
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("ssh runs")
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
    let users = db.json(&["users", "list"]);
    assert_eq!(users.as_array().unwrap().len(), 2 + 50);
}

#[test]
fn a_client_without_a_terminal_is_told_how_to_get_the_console() {
    if !have(&["ssh", "ssh-keygen"]) {
        return;
    }
    let db = Db::with_owner();
    let (alice, _) = team(&db);
    let server = Server::start(&db, &[]);
    let out = Command::new("ssh")
        .arg("-T")
        .args(server.ssh_args("alice", &alice))
        .stdin(Stdio::null())
        .output()
        .expect("ssh runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("ssh -t"),
        "{}",
        text(&out.stderr)
    );
}

// ---- The console over ssh, in tmux -------------------------------------------------

/// A tmux server of its own running `ssh -tt` to the console.
struct Tmux {
    socket: PathBuf,
}

impl Tmux {
    fn start(server: &Server, user: &str, key: &Path, size: (u16, u16), before: &str) -> Tmux {
        let socket = server.dir.join(format!("tmux-{user}"));
        let ssh: Vec<String> = server
            .ssh_args(user, key)
            .into_iter()
            .map(|a| format!("'{a}'"))
            .collect();
        let script = format!(
            "{before} ssh -tt {}; echo SSH-EXITED-$?; sleep 600",
            ssh.join(" ")
        );
        let status = Command::new("tmux")
            .arg("-S")
            .arg(&socket)
            .args(["-f", "/dev/null", "new-session", "-d", "-x"])
            .arg(size.0.to_string())
            .arg("-y")
            .arg(size.1.to_string())
            .args(["sh", "-c", &script])
            .env_remove("TMUX")
            .env("TERM", "xterm-256color")
            .status()
            .expect("tmux runs");
        assert!(status.success());
        Tmux { socket }
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux runs");
        text(&out.stdout)
    }

    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p"])
    }

    fn keys(&self, keys: &[&str]) {
        for key in keys {
            self.tmux(&["send-keys", key]);
            std::thread::sleep(Duration::from_millis(150));
        }
    }

    /// Waits (up to 20 s) for `text` on the screen.
    #[track_caller]
    fn wait_for(&self, text: &str) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return screen;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "waited for {text:?}; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn alternate_screen_on(&self) -> bool {
        self.tmux(&["display-message", "-p", "#{alternate_on}"])
            .trim()
            == "1"
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.tmux(&["kill-server"]);
    }
}

#[test]
fn the_console_over_ssh_obeys_the_operators_rights_and_says_whose_they_are() {
    if !have(&["ssh", "ssh-keygen", "tmux"]) {
        return;
    }
    let db = Db::with_owner();
    let (_, helpdesk) = team(&db);
    let server = Server::start(&db, &[]);
    let tmux = Tmux::start(&server, "helpdesk", &helpdesk, (100, 30), "");
    let screen = tmux.wait_for("as helpdesk");
    assert!(screen.contains("n new"), "users keys offered:\n{screen}");

    tmux.keys(&["2"]);
    let screen = tmux.wait_for("Roles");
    let footer = screen
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    assert!(
        !footer.contains("n new") && !footer.contains("d delete"),
        "{footer}"
    );
    tmux.keys(&["Down", "Down", "n"]);
    tmux.wait_for("lacks administration.roles");

    tmux.keys(&["4"]);
    tmux.wait_for("lacks administration.audit");

    tmux.keys(&["q"]);
    tmux.wait_for("SSH-EXITED-0");
    assert!(
        !tmux.alternate_screen_on(),
        "the client's terminal is put back"
    );
}

#[test]
fn a_dropped_session_writes_nothing_and_the_server_carries_on() {
    if !have(&["ssh", "ssh-keygen", "tmux"]) {
        return;
    }
    let db = Db::with_owner();
    let (alice, _) = team(&db);
    let server = Server::start(&db, &[]);
    let before = db.dump();
    {
        let tmux = Tmux::start(&server, "alice", &alice, (100, 30), "");
        tmux.wait_for("as alice");
        // Into the last role's editor, change its marks, and drop the line.
        tmux.keys(&["2", "End", "Enter"]);
        tmux.wait_for("Role: Helpdesk");
        tmux.keys(&["Space", "Down", "Space"]);
        tmux.wait_for("unsaved");
    }
    // The ssh client is gone; the server ends that session by itself.
    let start = Instant::now();
    while !server.log().contains("console ended") {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(db.dump(), before, "an unsaved edit is simply dropped");
    let out = server.exec("alice", &alice, "roles list", "");
    assert_eq!(out.status.code(), Some(0), "the server still serves");
}

#[test]
fn a_tiny_window_resizes_and_bursts_of_input_leave_the_server_standing() {
    if !have(&["ssh", "ssh-keygen", "tmux"]) {
        return;
    }
    let db = Db::with_owner();
    let (alice, _) = team(&db);
    let server = Server::start(&db, &[]);
    // A 1x1 terminal at the start, then a normal one.
    let tmux = Tmux::start(&server, "alice", &alice, (100, 30), "stty rows 1 cols 1;");
    std::thread::sleep(Duration::from_millis(1500));
    tmux.tmux(&["resize-window", "-x", "90", "-y", "25"]);
    tmux.keys(&["C-l"]);
    tmux.wait_for("as alice");
    // A burst: a thousand Downs and Ups at once.
    let burst = "\x1b[B\x1b[A".repeat(1000);
    tmux.tmux(&["send-keys", "-l", &burst]);
    tmux.keys(&["q"]);
    tmux.wait_for("SSH-EXITED-0");
    let out = server.exec("alice", &alice, "roles list", "");
    assert_eq!(out.status.code(), Some(0));
    assert!(!server.log().contains("panicked"), "{}", server.log());
}

#[test]
fn sigterm_ends_every_session_and_puts_each_terminal_back() {
    if !have(&["ssh", "ssh-keygen", "tmux"]) {
        return;
    }
    let db = Db::with_owner();
    let (alice, helpdesk) = team(&db);
    let mut server = Server::start(&db, &[]);
    let one = Tmux::start(&server, "alice", &alice, (100, 30), "");
    let two = Tmux::start(&server, "helpdesk", &helpdesk, (80, 24), "");
    one.wait_for("as alice");
    two.wait_for("as helpdesk");
    assert!(one.alternate_screen_on());
    let status = server.stop();
    assert!(status.success(), "{status:?}\n{}", server.log());
    for tmux in [&one, &two] {
        let screen = tmux.wait_for("SSH-EXITED-");
        assert!(screen.contains("server is stopping"), "{screen}");
        assert!(!tmux.alternate_screen_on());
    }
}

#[test]
fn an_idle_session_ends_after_the_timeout() {
    if !have(&["ssh", "ssh-keygen", "tmux"]) {
        return;
    }
    let db = Db::with_owner();
    let (alice, _) = team(&db);
    let server = Server::start(&db, &["--idle-timeout", "2"]);
    let tmux = Tmux::start(&server, "alice", &alice, (100, 30), "");
    tmux.wait_for("as alice");
    let screen = tmux.wait_for("SSH-EXITED-0");
    assert!(screen.contains("idle for 2 s"), "{screen}");
}

// ---- [operator]: an application's own permissions for the rights -----------------

#[test]
fn a_catalogs_operator_table_names_the_permissions_that_carry_the_rights() {
    use rolecall::store::{Access, NewUser, Store};
    let db = Db::with_owner();
    let iterable = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/catalogs/iterable.toml");
    db.ok(&["catalog", "load", iterable, "--prune"]);
    db.ok(&["roles", "create", "User Admins"]);
    db.ok(&[
        "roles",
        "grant",
        "User Admins",
        "administration.manage_users",
    ]);
    db.ok(&[
        "users",
        "add",
        "ursula",
        "--email",
        "u@example.com",
        "--role",
        "User Admins",
    ]);

    let mut store = Store::open(db.path(), Access::ReadWrite).unwrap();
    store.serve_as("ursula", "192.0.2.7").unwrap();
    let rights = store.rights().unwrap();
    assert!(rights.users && !rights.roles && !rights.audit, "{rights:?}");
    let new = NewUser {
        username: "vera".into(),
        profile: rolecall::domain::user::Profile {
            email: "v@example.com".into(),
            ..Default::default()
        },
        role: None,
        password: None,
        packages: Default::default(),
    };
    store
        .add_user(new)
        .expect("manage_users carries the users right");
    let err = store
        .create_role("Sneaky", "", None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("administration.manage_roles"), "{err}");

    // A name that is not a permission of the file is refused with its line.
    let bad = db.dir().join("bad.toml");
    let text = std::fs::read_to_string(iterable).unwrap().replace(
        "users = \"administration.manage_users\"",
        "users = \"nope\"",
    );
    std::fs::write(&bad, text).unwrap();
    let before = db.dump();
    let run = db.run(&["catalog", "load", bad.to_str().unwrap(), "--prune"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("line") && run.stderr.contains("[operator] users"),
        "{}",
        run.stderr
    );
    assert_eq!(db.dump(), before);
}

/// The hand-out rule counts a role's resource exceptions too: a role that grants
/// little in general but more on one Magnews database is not handed out by someone
/// who lacks the more.
#[test]
fn a_role_whose_exceptions_give_more_is_not_handed_out() {
    use rolecall::store::{Access, RoleRef, Store, UserChange};
    let db = Db::with_owner();
    let magnews = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/catalogs/magnews.toml");
    let file = db.dir().join("magnews.toml");
    let text = std::fs::read_to_string(magnews).unwrap()
        + "\n[operator]\nusers = \"users.manage\"\nroles = \"security.rules\"\n";
    std::fs::write(&file, text).unwrap();
    db.ok(&["catalog", "load", file.to_str().unwrap(), "--prune"]);
    db.ok(&["resources", "add", "database", "db1"]);
    db.ok(&["roles", "create", "Viewer"]);
    db.ok(&["roles", "grant", "Viewer", "contacts.view"]);
    db.ok(&[
        "roles",
        "exception",
        "set",
        "Viewer",
        "database:db1",
        "--grant",
        "contacts.edit",
    ]);
    db.ok(&["roles", "create", "UA"]);
    db.ok(&["roles", "grant", "UA", "users.manage", "contacts.view"]);
    db.ok(&[
        "users",
        "add",
        "bob",
        "--email",
        "b@example.com",
        "--role",
        "UA",
    ]);
    db.ok(&[
        "users",
        "add",
        "carol",
        "--email",
        "c@example.com",
        "--role",
        "none",
    ]);
    let before = db.dump();

    let mut store = Store::open(db.path(), Access::ReadWrite).unwrap();
    store.serve_as("bob", "192.0.2.7").unwrap();
    let change = UserChange {
        role: Some(RoleRef::Typed("Viewer".into())),
        ..Default::default()
    };
    let err = store
        .update_user("carol", None, change)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("resource exceptions of role \"Viewer\""),
        "{err}"
    );
    assert!(err.contains("contacts.edit"), "{err}");
    drop(store);
    assert_eq!(db.dump(), before);
}

/// A session acts as the user it logged in as, not as whoever has that name later.
#[test]
fn a_session_outlives_neither_its_user_nor_its_key() {
    use rolecall::store::{Access, Store};
    let db = Db::with_owner();
    db.ok(&[
        "users",
        "add",
        "x1",
        "--email",
        "x1@example.com",
        "--role",
        "none",
    ]);
    let mut store = Store::open(db.path(), Access::ReadWrite).unwrap();
    store.serve_as("x1", "192.0.2.7").unwrap();
    db.ok(&["users", "remove", "x1"]);
    db.ok(&[
        "users",
        "add",
        "x1",
        "--email",
        "new@example.com",
        "--role",
        "Administrator",
    ]);
    let before = db.dump();
    let err = store
        .create_role("Sneaky", "", None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("disabled or was removed"), "{err}");
    assert!(!store.rights().unwrap().roles);
    drop(store);
    assert_eq!(db.dump(), before);
}

#[test]
fn removing_the_key_ends_an_open_console() {
    if !have(&["ssh", "ssh-keygen", "tmux"]) {
        return;
    }
    let db = Db::with_owner();
    let (_, helpdesk) = team(&db);
    let server = Server::start(&db, &[]);
    let tmux = Tmux::start(&server, "helpdesk", &helpdesk, (100, 30), "");
    tmux.wait_for("as helpdesk");
    let keys = db.json(&["users", "keys", "list", "helpdesk"]);
    db.ok(&[
        "users",
        "keys",
        "remove",
        "helpdesk",
        &s(&keys[0]["fingerprint"]),
    ]);
    let screen = tmux.wait_for("SSH-EXITED-");
    assert!(screen.contains("no longer belongs"), "{screen}");
    assert!(!tmux.alternate_screen_on());
}
