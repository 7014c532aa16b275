//! Issue 14 against real servers: the parts of a `--db postgres://...` connection
//! string operators rely on (SPEC §12), checked by running the real binary against
//! PostgreSQL clusters this file starts for itself. TLS up to `verify-full` with a
//! throwaway CA, passwords from the URL, `PGPASSWORD` and `.pgpass`, several hosts with
//! `target_session_attrs`, and a write that meets a held lock.
//!
//! It needs no `ROLECALL_TEST_PG`: each cluster is a new `initdb` in a temporary
//! folder, listening on 127.0.0.1 at a free port, started once for the whole file and
//! stopped when the test process exits (a watcher process stops it even when the test
//! process is killed). Without PostgreSQL's server binaries or openssl the tests say
//! they were skipped and pass; with `CI` set they fail instead, as `pg_server()` does.

mod common;

use std::fs;
use std::io::Write;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, Once, OnceLock};
use std::time::{Duration, Instant};

use common::command;

/// The password of the role the TLS and password tests log in as; no output may
/// ever contain it.
const PASSWORD: &str = "Wh1sker-Lantern-7706";
/// A password the server does not know; no output may contain it either.
const WRONG_PASSWORD: &str = "Copper-Kettle-5521";
/// The SCRAM role on the TLS cluster.
const ROLE: &str = "alice";

// ---------------------------------------------------------------------------------
// Clusters
// ---------------------------------------------------------------------------------

/// Says the test was skipped (or fails it when `CI` is set) and returns `None`.
fn skip<T>(why: &str) -> Option<T> {
    if std::env::var_os("CI").is_some() {
        panic!("{why}, and CI is set: the PostgreSQL connection tests must run");
    }
    eprintln!("skipped: {why}");
    None
}

/// The folder of PostgreSQL's server binaries (the newest under
/// /usr/lib/postgresql, else where `pg_ctl` on the PATH lives).
fn bindir() -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|b| b.join("initdb").is_file() && b.join("pg_ctl").is_file())
        .collect();
    found.sort_by_key(|b| {
        b.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    if let Some(b) = found.pop() {
        return Some(b);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).find(|d| d.join("pg_ctl").is_file() && d.join("initdb").is_file())
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// The uid and gid of the `postgres` account, which owns the clusters when the tests
/// run as root (initdb and pg_ctl refuse root).
fn postgres_account() -> Option<(u32, u32)> {
    let id = |flag: &str| -> Option<u32> {
        let out = Command::new("id").arg(flag).arg("postgres").output().ok()?;
        String::from_utf8(out.stdout).ok()?.trim().parse().ok()
    };
    Some((id("-u")?, id("-g")?))
}

/// A PostgreSQL program, run as the cluster's owner.
fn pg_program(bin: &Path, program: &str) -> Command {
    if is_root() {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(bin.join(program));
        cmd
    } else {
        Command::new(bin.join(program))
    }
}

/// Hands `path` to the cluster's owner (a no-op unless running as root).
fn give_to_owner(path: &Path) {
    if let (true, Some((uid, gid))) = (is_root(), postgres_account()) {
        std::os::unix::fs::chown(path, Some(uid), Some(gid)).expect("chown to postgres");
    }
}

/// A port nothing listens on at the moment.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port on 127.0.0.1")
        .port()
}

/// A port on 127.0.0.1 that refuses connections for as long as this lives: a TCP
/// socket bound to it that never listens, so no server started meanwhile can take it.
struct DeadPort {
    _socket: std::os::fd::OwnedFd,
    port: u16,
}

fn dead_port() -> DeadPort {
    use std::os::fd::FromRawFd;
    // SAFETY: plain socket calls on a descriptor this function owns; the address
    // structures are zeroed and sized as the calls require.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        assert!(fd >= 0, "a TCP socket");
        let socket = std::os::fd::OwnedFd::from_raw_fd(fd);
        let mut addr: libc::sockaddr_in = std::mem::zeroed();
        addr.sin_family = libc::AF_INET as libc::sa_family_t;
        addr.sin_addr.s_addr = u32::from(std::net::Ipv4Addr::LOCALHOST).to_be();
        let size = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        let bound = libc::bind(fd, (&raw const addr).cast(), size);
        assert_eq!(bound, 0, "a port for the socket");
        let mut len = size;
        let named = libc::getsockname(fd, (&raw mut addr).cast(), &mut len);
        assert_eq!(named, 0, "the socket's port");
        DeadPort {
            _socket: socket,
            port: u16::from_be(addr.sin_port),
        }
    }
}

/// The clusters still running, by folder, for the exit handler.
static RUNNING: Mutex<Vec<(PathBuf, PathBuf)>> = Mutex::new(Vec::new());

/// Stops a cluster and removes its folder; quiet, and harmless when already done.
fn stop_cluster(bin: &Path, dir: &Path) {
    let _ = pg_program(bin, "pg_ctl")
        .arg("-D")
        .arg(dir.join("data"))
        .args(["-m", "immediate", "-w", "stop"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let _ = fs::remove_dir_all(dir);
}

extern "C" fn stop_all_at_exit() {
    let running = match RUNNING.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    };
    for (bin, dir) in running.iter() {
        stop_cluster(bin, dir);
    }
}

/// A throwaway cluster: `dir` holds `data/`, the unix socket, `server.log` and, for
/// the TLS cluster, `tls/`.
struct Cluster {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    /// The watcher's standard input: when this process ends, however it ends, the
    /// pipe closes and the watcher stops the cluster and removes its folder.
    _watcher: ChildStdin,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        stop_cluster(&self.bin, &self.dir);
        if let Ok(mut running) = RUNNING.lock() {
            running.retain(|(_, d)| d != &self.dir);
        }
    }
}

/// How a cluster is set up before it starts.
struct Setup<'a> {
    name: &'a str,
    /// Lines added to postgresql.conf.
    conf: Vec<String>,
    /// pg_hba.conf after the `local all all trust` line the tests' admin client uses.
    hba: &'a str,
    /// Runs with the cluster's folder before the server starts (certificates).
    before_start: &'a dyn Fn(&Path),
}

impl Cluster {
    /// Starts a cluster, or says why not (see [`skip`]).
    fn start(setup: &Setup) -> Option<Cluster> {
        let Some(bin) = bindir() else {
            return skip("no PostgreSQL server binaries (initdb, pg_ctl) found");
        };
        if is_root() && postgres_account().is_none() {
            return skip("running as root, and there is no postgres account to own a cluster");
        }
        static ONCE: Once = Once::new();
        ONCE.call_once(|| {
            // SAFETY: registers a plain function with no arguments to run at exit.
            unsafe { libc::atexit(stop_all_at_exit) };
        });
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "rolecall-pgconn-{}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            setup.name
        ));
        fs::create_dir(&dir).expect("a folder for the cluster");
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).expect("chmod");
        give_to_owner(&dir);
        RUNNING
            .lock()
            .expect("the cluster list")
            .push((bin.clone(), dir.clone()));
        let stop = pg_program(&bin, "pg_ctl");
        let watcher = Command::new("sh")
            .arg("-c")
            .arg(r#"trap '' INT HUP TERM; cat >/dev/null; "$@" >/dev/null 2>&1; rm -rf "$ROLECALL_PGCONN_DIR""#)
            .arg("sh")
            .arg(stop.get_program())
            .args(stop.get_args())
            .arg("-D")
            .arg(dir.join("data"))
            .args(["-m", "immediate", "stop"])
            .env("ROLECALL_PGCONN_DIR", &dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map(|mut c: Child| c.stdin.take().expect("piped"))
            .expect("the watcher starts");
        let mut cluster = Cluster {
            bin,
            dir,
            port: 0,
            _watcher: watcher,
        };
        cluster.init(setup);
        Some(cluster)
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn log(&self) -> String {
        fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    fn init(&mut self, setup: &Setup) {
        let out = pg_program(&self.bin, "initdb")
            .arg("-N")
            .arg("-D")
            .arg(self.data())
            .args(["-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C"])
            .output()
            .expect("initdb runs");
        assert!(
            out.status.success(),
            "initdb failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let mut conf = vec![
            "listen_addresses = '127.0.0.1'".to_string(),
            format!("unix_socket_directories = '{}'", self.dir.display()),
            "fsync = off".into(),
            "synchronous_commit = off".into(),
            "full_page_writes = off".into(),
        ];
        conf.extend(setup.conf.iter().cloned());
        // Appending and rewriting keep the files' owner.
        fs::OpenOptions::new()
            .append(true)
            .open(self.data().join("postgresql.conf"))
            .and_then(|mut f| f.write_all(format!("\n{}\n", conf.join("\n")).as_bytes()))
            .expect("postgresql.conf");
        fs::write(
            self.data().join("pg_hba.conf"),
            format!("local all all trust\n{}\n", setup.hba),
        )
        .expect("pg_hba.conf");
        (setup.before_start)(&self.dir);
        // Another process may take the free port before the server binds it: try again
        // on another.
        for _ in 0..5 {
            self.port = free_port();
            let status = pg_program(&self.bin, "pg_ctl")
                .arg("-D")
                .arg(self.data())
                .arg("-l")
                .arg(self.dir.join("server.log"))
                .args(["-w", "-s", "-t", "60", "-o"])
                .arg(format!("-p {}", self.port))
                .arg("start")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("pg_ctl runs");
            if status.success() {
                return;
            }
            if !self.log().contains("could not bind") {
                break;
            }
        }
        panic!("the {} cluster did not start:\n{}", setup.name, self.log());
    }

    /// A superuser client through the cluster's unix socket.
    fn admin(&self) -> postgres::Client {
        postgres::Config::new()
            .host_path(&self.dir)
            .port(self.port)
            .user("postgres")
            .dbname("postgres")
            .connect(postgres::NoTls)
            .unwrap_or_else(|e| panic!("the admin client connects: {e}\n{}", self.log()))
    }

    /// A new database owned by `owner`, with a name no other test uses.
    fn create_database(&self, owner: &str) -> String {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!("conn_{}", NEXT.fetch_add(1, Ordering::Relaxed));
        self.create_database_named(&name, owner);
        name
    }

    fn create_database_named(&self, name: &str, owner: &str) {
        // One statement at a time: CREATE DATABASE cannot run in a transaction.
        let mut admin = self.admin();
        admin
            .batch_execute("SET default_transaction_read_only = off")
            .expect("a writable session");
        admin
            .batch_execute(&format!("CREATE DATABASE {name} OWNER {owner}"))
            .expect("a test database");
    }

    /// The usernames rolecall wrote in `db` (none when it has no rolecall tables).
    fn usernames(&self, db: &str) -> Vec<String> {
        let mut client = postgres::Config::new()
            .host_path(&self.dir)
            .port(self.port)
            .user("postgres")
            .dbname(db)
            .connect(postgres::NoTls)
            .expect("the admin client connects");
        let has_users = client
            .query_one("SELECT to_regclass('public.users') IS NOT NULL", &[])
            .expect("a catalog query")
            .get::<_, bool>(0);
        if !has_users {
            return Vec::new();
        }
        client
            .query("SELECT username FROM users ORDER BY username", &[])
            .expect("the users")
            .iter()
            .map(|r| r.get(0))
            .collect()
    }
}

/// The TLS cluster: `ssl=on` with a certificate for `localhost` only (no IP address
/// on it) signed by a throwaway CA; TCP only through TLS, with SCRAM passwords.
struct TlsServer {
    cluster: Cluster,
    /// The CA that signed the server's certificate.
    ca: PathBuf,
    /// A CA that signed nothing the server has.
    other_ca: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A self-signed CA in `dir`: NAME.pem and NAME.key.
fn make_ca(dir: &Path, name: &str) {
    let key = format!("{name}.key");
    let pem = format!("{name}.pem");
    let subject = format!("/CN=rolecall test {name}");
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &pem,
            "-days",
            "2",
            "-subj",
            &subject,
        ],
    );
}

fn make_certificates(cluster_dir: &Path) {
    let tls = cluster_dir.join("tls");
    fs::create_dir(&tls).expect("a folder for the certificates");
    make_ca(&tls, "ca");
    make_ca(&tls, "other-ca");
    fs::write(
        tls.join("server.ext"),
        "subjectAltName = DNS:localhost\n\
         basicConstraints = critical, CA:FALSE\n\
         keyUsage = critical, digitalSignature\n\
         extendedKeyUsage = serverAuth\n",
    )
    .expect("server.ext");
    openssl(
        &tls,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ],
    );
    openssl(
        &tls,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ],
    );
    // The server refuses a key others can read, and must be able to read it itself.
    let key = tls.join("server.key");
    fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).expect("chmod");
    give_to_owner(&key);
    fs::set_permissions(tls.join("server.crt"), fs::Permissions::from_mode(0o644)).expect("chmod");
}

fn tls_server() -> Option<&'static TlsServer> {
    static SERVER: OnceLock<Option<TlsServer>> = OnceLock::new();
    SERVER
        .get_or_init(|| {
            if !Path::new("/usr/bin/openssl").is_file()
                && Command::new("openssl").arg("version").output().is_err()
            {
                return skip("no openssl to make the test certificates with");
            }
            let cluster = Cluster::start(&Setup {
                name: "tls",
                conf: vec![
                    "ssl = on".into(),
                    // Relative to the data folder.
                    "ssl_cert_file = '../tls/server.crt'".into(),
                    "ssl_key_file = '../tls/server.key'".into(),
                    "password_encryption = 'scram-sha-256'".into(),
                ],
                hba: "hostssl all all 127.0.0.1/32 scram-sha-256\n\
                      hostssl all all ::1/128 scram-sha-256",
                before_start: &make_certificates,
            })?;
            cluster
                .admin()
                .batch_execute(&format!(
                    "SET password_encryption = 'scram-sha-256';
                     CREATE ROLE {ROLE} LOGIN PASSWORD '{PASSWORD}';"
                ))
                .expect("the SCRAM role");
            let tls = cluster.dir.join("tls");
            Some(TlsServer {
                ca: tls.join("ca.pem"),
                other_ca: tls.join("other-ca.pem"),
                cluster,
            })
        })
        .as_ref()
}

/// A plain cluster: TCP on 127.0.0.1 without TLS, every login trusted.
fn plain_setup<'a>(name: &'a str, conf: Vec<String>) -> Setup<'a> {
    Setup {
        name,
        conf,
        hba: "host all all 127.0.0.1/32 trust",
        before_start: &|_| {},
    }
}

/// A writable server.
fn writable_server() -> Option<&'static Cluster> {
    static SERVER: OnceLock<Option<Cluster>> = OnceLock::new();
    SERVER
        .get_or_init(|| Cluster::start(&plain_setup("rw", Vec::new())))
        .as_ref()
}

/// A stand-in for a replica: every transaction is read-only unless a session says
/// otherwise, so `SHOW transaction_read_only` answers `on`.
fn read_only_server() -> Option<&'static Cluster> {
    static SERVER: OnceLock<Option<Cluster>> = OnceLock::new();
    SERVER
        .get_or_init(|| {
            Cluster::start(&plain_setup(
                "ro",
                vec!["default_transaction_read_only = on".into()],
            ))
        })
        .as_ref()
}

// ---------------------------------------------------------------------------------
// Running the binary
// ---------------------------------------------------------------------------------

/// One run of the binary.
struct Ran {
    args: Vec<String>,
    code: i32,
    stdout: String,
    stderr: String,
    took: Duration,
}

/// Runs `rolecall --db URL ARGS...` with `HOME` at `home`, none of the libpq
/// variables of the shell running the tests, and `env` added. Fails the test if any
/// output holds a password, or if the run takes over a minute.
fn rolecall(home: &Path, url: &str, args: &[&str], env: &[(&str, &str)]) -> Ran {
    let mut cmd = command(home);
    for var in [
        "PGPASSWORD",
        "PGPASSFILE",
        "PGUSER",
        "PGSSLMODE",
        "PGSSLROOTCERT",
    ] {
        cmd.env_remove(var);
    }
    cmd.arg("--db").arg(url).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let started = Instant::now();
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("rolecall starts");
    while child.try_wait().expect("rolecall is waited on").is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let out = child.wait_with_output().expect("rolecall ends");
            panic!(
                "rolecall {args:?} on {url} still ran after a minute:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("rolecall ends");
    let ran = Ran {
        args: args.iter().map(|a| a.to_string()).collect(),
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        took: started.elapsed(),
    };
    for secret in [PASSWORD, WRONG_PASSWORD] {
        assert!(
            !ran.stdout.contains(secret) && !ran.stderr.contains(secret),
            "rolecall {args:?} showed a password:\nstdout:\n{}\nstderr:\n{}",
            ran.stdout,
            ran.stderr
        );
    }
    assert!(
        !ran.stderr.contains("panicked"),
        "rolecall {args:?} panicked:\n{}",
        ran.stderr
    );
    ran
}

impl Ran {
    #[track_caller]
    fn ok(&self) -> &Ran {
        assert_eq!(
            self.code, 0,
            "rolecall {:?} failed:\nstdout:\n{}\nstderr:\n{}",
            self.args, self.stdout, self.stderr
        );
        self
    }

    /// Failed as a storage error (exit 4, SPEC §8) with one line on stderr that says
    /// `why`.
    #[track_caller]
    fn failed(&self, why: &str) -> &Ran {
        assert_eq!(
            self.code, 4,
            "rolecall {:?} exited {} (wanted 4)\nstdout:\n{}\nstderr:\n{}",
            self.args, self.code, self.stdout, self.stderr
        );
        assert_eq!(
            self.stderr.trim_end().lines().count(),
            1,
            "one line on stderr:\n{}",
            self.stderr
        );
        assert!(
            self.stderr.starts_with("rolecall: ") && self.stderr.contains(why),
            "stderr should say {why:?}:\n{}",
            self.stderr
        );
        self
    }

    /// As [`Ran::failed`], naming the database as `shown` (its URL without the
    /// password).
    #[track_caller]
    fn refused(&self, shown: &str, why: &str) -> &Ran {
        self.failed(why);
        assert!(
            self.stderr.contains(shown),
            "stderr should name {shown}:\n{}",
            self.stderr
        );
        self
    }
}

fn add_user(home: &Path, url: &str, name: &str, env: &[(&str, &str)]) -> Ran {
    let email = format!("{name}@example.com");
    rolecall(home, url, &["users", "add", name, "--email", &email], env)
}

fn home() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("rolecall-pgconn-home")
        .tempdir()
        .expect("a temporary folder")
}

/// A URL for the SCRAM role on the TLS server; `password` may be empty.
fn tls_url(password: &str, host: &str, port: u16, db: &str, query: &str) -> String {
    let user = match password {
        "" => ROLE.to_string(),
        p => format!("{ROLE}:{p}"),
    };
    match query {
        "" => format!("postgres://{user}@{host}:{port}/{db}"),
        q => format!("postgres://{user}@{host}:{port}/{db}?{q}"),
    }
}

/// The URL as rolecall shows it: without its password.
fn shown(url: &str) -> String {
    url.replace(&format!(":{PASSWORD}@"), "@")
        .replace(&format!(":{WRONG_PASSWORD}@"), "@")
}

// ---------------------------------------------------------------------------------
// TLS
// ---------------------------------------------------------------------------------

#[test]
fn verify_full_checks_the_name_on_the_certificate() {
    let Some(server) = tls_server() else { return };
    let port = server.cluster.port;
    let db = server.cluster.create_database(ROLE);
    let home = home();
    let query = format!("sslmode=verify-full&sslrootcert={}", server.ca.display());

    let by_name = tls_url(PASSWORD, "localhost", port, &db, &query);
    add_user(home.path(), &by_name, "named", &[]).ok();

    // The certificate names localhost only: 127.0.0.1 is not on it.
    let by_address = tls_url(PASSWORD, "127.0.0.1", port, &db, &query);
    add_user(home.path(), &by_address, "addressed", &[])
        .refused(&shown(&by_address), "certificate");
    assert_eq!(server.cluster.usernames(&db), ["named"]);

    // Signed by another CA: refused even under the right name.
    let query = format!(
        "sslmode=verify-full&sslrootcert={}",
        server.other_ca.display()
    );
    let strange = tls_url(PASSWORD, "localhost", port, &db, &query);
    add_user(home.path(), &strange, "strange", &[]).refused(&shown(&strange), "certificate");
    assert_eq!(server.cluster.usernames(&db), ["named"]);
}

#[test]
fn verify_ca_checks_the_signer_but_not_the_name() {
    let Some(server) = tls_server() else { return };
    let port = server.cluster.port;
    let db = server.cluster.create_database(ROLE);
    let home = home();

    let query = format!("sslmode=verify-ca&sslrootcert={}", server.ca.display());
    let url = tls_url(PASSWORD, "127.0.0.1", port, &db, &query);
    add_user(home.path(), &url, "by_ca", &[]).ok();

    for mode in ["verify-ca", "require"] {
        // `require` with a root file checks the chain as verify-ca does (libpq).
        let query = format!("sslmode={mode}&sslrootcert={}", server.other_ca.display());
        let url = tls_url(PASSWORD, "127.0.0.1", port, &db, &query);
        add_user(home.path(), &url, "other_ca", &[]).refused(&shown(&url), "certificate");
    }
    assert_eq!(server.cluster.usernames(&db), ["by_ca"]);
}

#[test]
fn require_encrypts_without_a_root_and_a_tls_only_server_refuses_disable() {
    let Some(server) = tls_server() else { return };
    let port = server.cluster.port;
    let db = server.cluster.create_database(ROLE);
    let home = home();

    let url = tls_url(PASSWORD, "127.0.0.1", port, &db, "sslmode=require");
    add_user(home.path(), &url, "required", &[]).ok();
    // No sslmode is libpq's `prefer`: TLS when the server offers it.
    let url = tls_url(PASSWORD, "127.0.0.1", port, &db, "");
    add_user(home.path(), &url, "preferred", &[]).ok();

    // pg_hba.conf has only hostssl lines: a connection without TLS matches none.
    let url = tls_url(PASSWORD, "127.0.0.1", port, &db, "sslmode=disable");
    add_user(home.path(), &url, "plain", &[]).refused(&shown(&url), "no encryption");
    assert_eq!(server.cluster.usernames(&db), ["preferred", "required"]);
}

// ---------------------------------------------------------------------------------
// Passwords
// ---------------------------------------------------------------------------------

/// Writes a password file with `mode` and returns its path.
fn password_file(dir: &Path, name: &str, lines: &[String], mode: u32) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, lines.join("\n") + "\n").expect("a password file");
    fs::set_permissions(&path, fs::Permissions::from_mode(mode)).expect("chmod");
    path
}

#[test]
fn a_password_comes_from_the_url_pgpassword_or_pgpass() {
    let Some(server) = tls_server() else { return };
    let port = server.cluster.port;
    let db = server.cluster.create_database(ROLE);
    let home = home();
    let bare = tls_url("", "127.0.0.1", port, &db, "sslmode=require");

    let url = tls_url(PASSWORD, "127.0.0.1", port, &db, "sslmode=require");
    add_user(home.path(), &url, "from_url", &[]).ok();
    add_user(home.path(), &bare, "from_env", &[("PGPASSWORD", PASSWORD)]).ok();

    // Lines for another port, another database and another user come first and must
    // not match; the `*` line must.
    let wildcard = password_file(
        home.path(),
        "wildcard.pgpass",
        &[
            "# rolecall's test server".to_string(),
            format!("127.0.0.1:{}:*:{ROLE}:{WRONG_PASSWORD}", port + 1),
            format!("127.0.0.1:{port}:other_db:{ROLE}:{WRONG_PASSWORD}"),
            format!("*:{port}:*:bob:{WRONG_PASSWORD}"),
            format!("*:{port}:*:{ROLE}:{PASSWORD}"),
        ],
        0o600,
    );
    let wildcard = wildcard.to_str().expect("a UTF-8 path");
    add_user(
        home.path(),
        &bare,
        "from_wildcard",
        &[("PGPASSFILE", wildcard)],
    )
    .ok();

    let exact = password_file(
        home.path(),
        "exact.pgpass",
        &[format!("127.0.0.1:{port}:{db}:{ROLE}:{PASSWORD}")],
        0o600,
    );
    let exact = exact.to_str().expect("a UTF-8 path");
    add_user(home.path(), &bare, "from_exact", &[("PGPASSFILE", exact)]).ok();

    // Without PGPASSFILE: ~/.pgpass, with the host as the URL names it.
    password_file(
        home.path(),
        ".pgpass",
        &[format!("localhost:{port}:{db}:{ROLE}:{PASSWORD}")],
        0o600,
    );
    let by_name = tls_url("", "localhost", port, &db, "sslmode=require");
    add_user(home.path(), &by_name, "from_home", &[]).ok();

    assert_eq!(
        server.cluster.usernames(&db),
        [
            "from_env",
            "from_exact",
            "from_home",
            "from_url",
            "from_wildcard"
        ]
    );
}

#[test]
fn a_pgpass_others_can_read_is_ignored() {
    let Some(server) = tls_server() else { return };
    let port = server.cluster.port;
    let db = server.cluster.create_database(ROLE);
    let home = home();
    let bare = tls_url("", "127.0.0.1", port, &db, "sslmode=require");
    let file = password_file(
        home.path(),
        "open.pgpass",
        &[format!("*:*:*:{ROLE}:{PASSWORD}")],
        0o644,
    );
    let file_text = file.to_str().expect("a UTF-8 path");
    add_user(home.path(), &bare, "exposed", &[("PGPASSFILE", file_text)])
        .refused(&shown(&bare), "password");
    assert!(server.cluster.usernames(&db).is_empty());

    // The same file, once only its owner can read it.
    fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).expect("chmod");
    add_user(home.path(), &bare, "private", &[("PGPASSFILE", file_text)]).ok();
    assert_eq!(server.cluster.usernames(&db), ["private"]);
}

#[test]
fn each_host_gets_its_own_pgpass_line() {
    let Some(server) = tls_server() else { return };
    let port = server.cluster.port;
    let db = server.cluster.create_database(ROLE);
    let home = home();
    let refusing = dead_port();
    let dead = refusing.port;
    // As libpq does: the line is looked up for the host being tried, so a password
    // kept for the second host serves when the first does not answer.
    let file = password_file(
        home.path(),
        "hosts.pgpass",
        &[
            format!("127.0.0.1:{dead}:*:{ROLE}:{WRONG_PASSWORD}"),
            format!("localhost:{port}:*:{ROLE}:{PASSWORD}"),
        ],
        0o600,
    );
    let file = file.to_str().expect("a UTF-8 path");
    let url = format!("postgres://{ROLE}@127.0.0.1:{dead},localhost:{port}/{db}?sslmode=require");
    add_user(home.path(), &url, "second_line", &[("PGPASSFILE", file)]).ok();
    assert_eq!(server.cluster.usernames(&db), ["second_line"]);
}

#[test]
fn a_wrong_password_fails_without_being_shown() {
    let Some(server) = tls_server() else { return };
    let port = server.cluster.port;
    let db = server.cluster.create_database(ROLE);
    let home = home();

    let url = tls_url(WRONG_PASSWORD, "127.0.0.1", port, &db, "sslmode=require");
    add_user(home.path(), &url, "guessed", &[])
        .refused(&shown(&url), "password authentication failed");
    let bare = tls_url("", "127.0.0.1", port, &db, "sslmode=require");
    add_user(
        home.path(),
        &bare,
        "guessed",
        &[("PGPASSWORD", WRONG_PASSWORD)],
    )
    .refused(&shown(&bare), "password authentication failed");
    assert!(server.cluster.usernames(&db).is_empty());
}

// ---------------------------------------------------------------------------------
// Several hosts
// ---------------------------------------------------------------------------------

#[test]
fn a_host_that_does_not_answer_is_passed_over() {
    let Some(live) = writable_server() else {
        return;
    };
    let db = live.create_database("postgres");
    let home = home();
    let refusing = dead_port();
    let dead = refusing.port;
    let url = format!(
        "postgres://postgres@127.0.0.1:{dead},127.0.0.1:{}/{db}",
        live.port
    );
    add_user(home.path(), &url, "second_host", &[]).ok();
    assert_eq!(live.usernames(&db), ["second_host"]);

    // Nothing answers at all: one line naming the URL.
    let nowhere = format!("postgres://postgres@127.0.0.1:{dead}/{db}");
    add_user(home.path(), &nowhere, "nobody", &[]).refused(&nowhere, "cannot connect");
}

/// A port on 127.0.0.1 that takes connections and never says a word: a hung server,
/// or a tunnel whose far end is gone. Counts the connections it took.
struct Silent {
    port: u16,
    taken: std::sync::Arc<AtomicUsize>,
}

fn silent_port() -> Silent {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a port on 127.0.0.1");
    let port = listener.local_addr().unwrap().port();
    let taken = std::sync::Arc::new(AtomicUsize::new(0));
    let count = taken.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            count.fetch_add(1, Ordering::SeqCst);
            held.push(stream);
        }
    });
    Silent { port, taken }
}

#[test]
fn a_server_that_never_answers_is_given_up_after_connect_timeout() {
    let home = home();
    let silent = silent_port();
    // With TLS asked for (the first thing said is the request for it) and without.
    for query in ["connect_timeout=1", "connect_timeout=1&sslmode=disable"] {
        let url = format!("postgres://postgres@127.0.0.1:{}/db?{query}", silent.port);
        rolecall(home.path(), &url, &["users", "list"], &[])
            .refused(&url, "no answer within connect_timeout (1 s)");
    }
    assert_eq!(silent.taken.load(Ordering::SeqCst), 2);
    // In a host list it is passed over, as a host that refuses is.
    let Some(live) = writable_server() else {
        return;
    };
    let db = live.create_database("postgres");
    let url = format!(
        "postgres://postgres@127.0.0.1:{},127.0.0.1:{}/{db}?connect_timeout=1",
        silent.port, live.port
    );
    add_user(home.path(), &url, "past_the_silent_one", &[]).ok();
    assert_eq!(live.usernames(&db), ["past_the_silent_one"]);
}

/// A forwarder to a live server that can be made to cut its connections and then take
/// new ones in silence, as a server that vanished from the network; and to forward
/// again. Counts the connections it took.
struct Forwarder {
    port: u16,
    forwarding: std::sync::Arc<std::sync::atomic::AtomicBool>,
    open: std::sync::Arc<Mutex<Vec<std::net::TcpStream>>>,
    taken: std::sync::Arc<AtomicUsize>,
}

impl Forwarder {
    fn start(to: u16) -> Forwarder {
        use std::sync::Arc;
        use std::sync::atomic::AtomicBool;
        let listener = TcpListener::bind("127.0.0.1:0").expect("a port on 127.0.0.1");
        let port = listener.local_addr().unwrap().port();
        let forwarding = Arc::new(AtomicBool::new(true));
        let open: Arc<Mutex<Vec<std::net::TcpStream>>> = Arc::default();
        let taken = Arc::new(AtomicUsize::new(0));
        let (on, streams, count) = (forwarding.clone(), open.clone(), taken.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                count.fetch_add(1, Ordering::SeqCst);
                let mut streams = streams.lock().unwrap();
                if !on.load(Ordering::SeqCst) {
                    streams.push(client);
                    continue;
                }
                let server = std::net::TcpStream::connect(("127.0.0.1", to)).unwrap();
                for (mut from, mut into) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server.try_clone().unwrap(), client.try_clone().unwrap()),
                ] {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut into);
                        let _ = into.shutdown(std::net::Shutdown::Both);
                    });
                }
                streams.extend([client, server]);
            }
        });
        Forwarder {
            port,
            forwarding,
            open,
            taken,
        }
    }

    /// Cuts every connection and takes new ones without a word.
    fn vanish(&self) {
        self.forwarding.store(false, Ordering::SeqCst);
        for stream in self.open.lock().unwrap().drain(..) {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    }

    fn taken(&self) -> usize {
        self.taken.load(Ordering::SeqCst)
    }
}

/// A session whose server vanishes tries to connect again once, waits out its
/// connect_timeout, and then fails at once, without trying, until a few seconds have
/// passed: a console polling every second stays usable. Once the server is back,
/// the next try after the pause connects.
#[test]
fn a_session_whose_server_vanished_tries_again_only_after_a_pause() {
    use rolecall::store::{Access, Store};
    let Some(live) = writable_server() else {
        return;
    };
    let db = live.create_database("postgres");
    let home = home();
    let direct = format!("postgres://postgres@127.0.0.1:{}/{db}", live.port);
    add_user(home.path(), &direct, "alice", &[]).ok();
    let forwarder = Forwarder::start(live.port);
    let url = format!(
        "postgres://postgres@127.0.0.1:{}/{db}?connect_timeout=1",
        forwarder.port
    );
    let store = Store::open(Path::new(&url), Access::ReadWrite).unwrap();
    assert_eq!(store.users(None).unwrap().len(), 1);
    let before = forwarder.taken();

    forwarder.vanish();
    let first = store.users(None).expect_err("the server is gone");
    assert_eq!(forwarder.taken(), before + 1, "one try to connect again");
    let why = "no answer within connect_timeout (1 s)";
    assert!(first.to_string().contains(why), "{first}");
    for _ in 0..3 {
        let again = store.users(None).expect_err("still gone");
        assert!(again.to_string().contains(why), "{again}");
    }
    assert_eq!(
        forwarder.taken(),
        before + 1,
        "no new try within the pause (first error: {first})"
    );

    forwarder.forwarding.store(true, Ordering::SeqCst);
    std::thread::sleep(Duration::from_secs(6));
    assert_eq!(store.users(None).unwrap().len(), 1, "connected again");
    assert_eq!(forwarder.taken(), before + 2);
}

#[test]
fn read_write_skips_a_read_only_server() {
    let (Some(replica), Some(primary)) = (read_only_server(), writable_server()) else {
        return;
    };
    // The same database on both, as on a primary and its replica.
    let db = primary.create_database("postgres");
    replica.create_database_named(&db, "postgres");
    let home = home();
    let hosts = format!("127.0.0.1:{},127.0.0.1:{}", replica.port, primary.port);

    // Without target_session_attrs the first host that answers is used, and a server
    // that takes no writes refuses the write: nothing lands on either.
    let any = format!("postgres://postgres@{hosts}/{db}");
    add_user(home.path(), &any, "to_first", &[]).refused(&any, "cannot be written");
    assert!(replica.usernames(&db).is_empty());
    assert!(primary.usernames(&db).is_empty());

    let writable = format!("postgres://postgres@{hosts}/{db}?target_session_attrs=read-write");
    add_user(home.path(), &writable, "to_primary", &[]).ok();
    assert_eq!(primary.usernames(&db), ["to_primary"]);
    assert!(!replica.usernames(&db).contains(&"to_primary".to_string()));

    // Read back through the primary alone.
    let direct = format!("postgres://postgres@127.0.0.1:{}/{db}", primary.port);
    let listed = rolecall(home.path(), &direct, &["users", "list", "--json"], &[]);
    listed.ok();
    assert!(listed.stdout.contains("to_primary"), "{}", listed.stdout);
}

#[test]
fn read_write_among_read_only_servers_fails_cleanly() {
    let Some(replica) = read_only_server() else {
        return;
    };
    let db = replica.create_database("postgres");
    let home = home();
    let refusing = dead_port();
    let dead = refusing.port;
    for hosts in [
        format!("127.0.0.1:{}", replica.port),
        format!("127.0.0.1:{},127.0.0.1:{dead}", replica.port),
    ] {
        let url = format!("postgres://postgres@{hosts}/{db}?target_session_attrs=read-write");
        add_user(home.path(), &url, "nowhere", &[]).refused(&url, "allow writes");
    }
    assert!(replica.usernames(&db).is_empty());
}

// ---------------------------------------------------------------------------------
// Locks
// ---------------------------------------------------------------------------------

#[test]
fn a_write_behind_a_held_lock_gives_up_and_changes_nothing() {
    let Some(server) = writable_server() else {
        return;
    };
    let db = server.create_database("postgres");
    let home = home();
    let url = format!("postgres://postgres@127.0.0.1:{}/{db}", server.port);
    add_user(home.path(), &url, "first", &[]).ok();

    let mut holder = postgres::Config::new()
        .host_path(&server.dir)
        .port(server.port)
        .user("postgres")
        .dbname(&db)
        .connect(postgres::NoTls)
        .expect("a second client");
    let audit_rows = |client: &mut postgres::Client| -> i64 {
        client
            .query_one("SELECT count(*) FROM audit", &[])
            .expect("the audit log")
            .get(0)
    };
    let audit_before = audit_rows(&mut holder);
    holder
        .batch_execute("BEGIN; UPDATE rolecall_meta SET change_seq = change_seq + 1")
        .expect("the change counter is locked");

    let blocked = add_user(home.path(), &url, "blocked", &[]);
    blocked.failed("locked by another process");
    assert!(
        blocked.took < Duration::from_secs(30),
        "gave up after {:?}",
        blocked.took
    );
    assert_eq!(server.usernames(&db), ["first"]);

    holder
        .batch_execute("ROLLBACK")
        .expect("the lock is let go");
    assert_eq!(audit_rows(&mut holder), audit_before, "nothing was audited");
    add_user(home.path(), &url, "blocked", &[]).ok();
    assert_eq!(server.usernames(&db), ["blocked", "first"]);
}
