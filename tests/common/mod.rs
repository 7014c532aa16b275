//! Helpers for the integration tests: run the real `rolecall` binary against a fresh
//! database in a temporary folder, read the database directly with rusqlite, and
//! compare full dumps of it.

#![allow(dead_code)]

use std::cell::RefCell;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use serde_json::Value;
use tempfile::TempDir;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_rolecall");

/// The actor name the tests run as unless a test says otherwise.
pub const TEST_USER: &str = "tester";

/// A command for the binary with a clean, predictable environment: no `ROLECALL_DB`,
/// no `SUDO_USER` or `SSH_CONNECTION` from the shell running the tests, `USER` set to
/// [`TEST_USER`], and `HOME`/`XDG_DATA_HOME` pointed at `home` so nothing can ever
/// touch the real user's data folder.
pub fn command(home: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_remove("ROLECALL_DB")
        .env_remove("SUDO_USER")
        .env_remove("SSH_CONNECTION")
        .env("USER", TEST_USER)
        .env("LOGNAME", TEST_USER)
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("xdg-data"))
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    cmd
}

/// Runs `rolecall --db DB ARGS...` and returns its output.
pub fn rc(db: &Path, args: &[&str]) -> Output {
    rc_full(db, args, "", &[])
}

/// As [`rc`], with `stdin` written to the process's standard input.
pub fn rc_stdin(db: &Path, args: &[&str], stdin: &str) -> Output {
    rc_full(db, args, stdin, &[])
}

/// As [`rc`], with extra environment variables.
pub fn rc_env(db: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    rc_full(db, args, "", env)
}

/// Runs the binary with `--db DB`, optional standard input and extra environment.
pub fn rc_full(db: &Path, args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Output {
    let home = db.parent().unwrap_or(Path::new("/nonexistent"));
    let mut cmd = command(home);
    cmd.arg("--db").arg(db).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    if !stdin.is_empty() {
        cmd.stdin(Stdio::piped());
    }
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("the rolecall binary runs");
    if !stdin.is_empty() {
        let mut pipe = child.stdin.take().expect("stdin is piped");
        pipe.write_all(stdin.as_bytes()).expect("stdin is writable");
    }
    let out = child.wait_with_output().expect("rolecall finishes");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("panicked"),
        "rolecall {args:?} panicked:\n{stderr}"
    );
    out
}

/// The result of one run, decoded.
#[derive(Debug, Clone)]
pub struct Run {
    pub args: Vec<String>,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub raw_stdout: Vec<u8>,
    pub raw_stderr: Vec<u8>,
}

impl Run {
    fn from_output(args: &[&str], out: Output) -> Run {
        Run {
            args: args.iter().map(|a| a.to_string()).collect(),
            // A process killed by a signal has no code; -1 never matches a real one.
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            raw_stdout: out.stdout,
            raw_stderr: out.stderr,
        }
    }

    /// Panics with the whole run shown unless the exit code is `code`.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Run {
        assert_eq!(
            self.code, code,
            "rolecall {:?} exited {} (wanted {code})\nstdout:\n{}\nstderr:\n{}",
            self.args, self.code, self.stdout, self.stderr
        );
        self
    }

    /// The stdout parsed as JSON (see [`parse_json`]).
    #[track_caller]
    pub fn json(&self) -> Value {
        parse_json(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "rolecall {:?} printed no JSON: {e}\n{}",
                self.args, self.stdout
            )
        })
    }
}

/// A fresh database in its own temporary folder. Every run's output is kept, so a test
/// can search everything the binary ever printed.
pub struct Db {
    dir: TempDir,
    path: PathBuf,
    transcript: RefCell<Vec<Run>>,
    /// The database on the test server, when the suite runs on PostgreSQL.
    pg: Option<PgDatabase>,
}

/// True when this run of the suites is for PostgreSQL: `ROLECALL_TEST_BACKEND=postgres`
/// (with `ROLECALL_TEST_PG` naming the server). `.ci/run` runs the store, CLI,
/// policy and fault suites once per backend.
pub fn on_postgres() -> bool {
    std::env::var("ROLECALL_TEST_BACKEND").is_ok_and(|b| b == "postgres")
}

/// For a test that reads or damages the SQLite file itself: true (and says so) when
/// the suite runs on PostgreSQL, where the test has nothing to check.
pub fn sqlite_only(what: &str) -> bool {
    if on_postgres() {
        eprintln!("skipped on PostgreSQL: {what} is about the SQLite file");
        return true;
    }
    false
}

impl Db {
    /// A temporary folder; the database file is not created yet.
    pub fn empty() -> Db {
        let dir = tempfile::Builder::new()
            .prefix("rolecall-test")
            .tempdir()
            .expect("a temporary folder");
        if on_postgres() {
            let server =
                pg_server().expect("ROLECALL_TEST_BACKEND=postgres needs ROLECALL_TEST_PG");
            let pg = PgDatabase::create(&server);
            return Db {
                dir,
                path: PathBuf::from(&pg.url),
                transcript: RefCell::new(Vec::new()),
                pg: Some(pg),
            };
        }
        let path = dir.path().join("rolecall.db");
        Db {
            dir,
            path,
            transcript: RefCell::new(Vec::new()),
            pg: None,
        }
    }

    pub fn is_pg(&self) -> bool {
        self.pg.is_some()
    }

    /// Rows of one text column of `sql` (`?N` placeholders, text parameters), read
    /// straight from the database on either backend.
    pub fn sql_strings(&self, sql: &str, params: &[&str]) -> Vec<String> {
        match &self.pg {
            Some(pg) => {
                let args: Vec<&(dyn postgres::types::ToSql + Sync)> = params
                    .iter()
                    .map(|p| p as &(dyn postgres::types::ToSql + Sync))
                    .collect();
                pg.client()
                    .query(&dollar_placeholders(sql), &args)
                    .expect("the query runs")
                    .iter()
                    .map(|r| r.get::<_, String>(0))
                    .collect()
            }
            None => {
                let conn = self.conn();
                let mut stmt = conn.prepare(sql).expect("the query prepares");
                stmt.query_map(rusqlite::params_from_iter(params), |r| {
                    r.get::<_, String>(0)
                })
                .expect("the query runs")
                .collect::<rusqlite::Result<_>>()
                .expect("rows")
            }
        }
    }

    /// Runs a statement straight on the database, on either backend, to arrange a
    /// state the program would not make; returns the rows it changed.
    pub fn sql_exec<S: AsRef<str>>(&self, sql: &str, params: &[S]) -> u64 {
        self.sql_try_exec(sql, params)
            .unwrap_or_else(|why| panic!("the statement runs: {why}"))
    }

    /// [`Db::sql_exec`] for a statement another program may be refused: the rows it
    /// changed, or the database's own message.
    pub fn sql_try_exec<S: AsRef<str>>(&self, sql: &str, params: &[S]) -> Result<u64, String> {
        let params: Vec<&str> = params.iter().map(AsRef::as_ref).collect();
        match &self.pg {
            Some(pg) => {
                let args: Vec<&(dyn postgres::types::ToSql + Sync)> = params
                    .iter()
                    .map(|p| p as &(dyn postgres::types::ToSql + Sync))
                    .collect();
                pg.client()
                    .execute(&dollar_placeholders(sql), &args)
                    .map_err(|e| {
                        e.as_db_error()
                            .map_or(e.to_string(), |d| d.message().to_string())
                    })
            }
            None => self
                .conn_rw()
                .execute(sql, rusqlite::params_from_iter(params))
                .map(|n| n as u64)
                .map_err(|e| e.to_string()),
        }
    }

    /// True once the database exists: the file, or rolecall's tables on the server.
    pub fn has_database(&self) -> bool {
        match &self.pg {
            Some(pg) => pg
                .client()
                .query_one(
                    "SELECT count(*) FROM information_schema.tables WHERE table_name = 'rolecall_schema'",
                    &[],
                )
                .map(|r| r.get::<_, i64>(0) > 0)
                .unwrap_or(false),
            None => self.path.exists(),
        }
    }

    /// A client straight to the PostgreSQL database (the suite on PostgreSQL).
    pub fn pg_client(&self) -> postgres::Client {
        self.pg
            .as_ref()
            .expect("a PostgreSQL test database")
            .client()
    }

    /// A new, seeded database, created the way a first write creates it (setting
    /// the default role to the one it already is changes nothing else).
    pub fn new() -> Db {
        let db = Db::empty();
        db.ok(&["roles", "set-default", "Read Only"]);
        assert!(db.is_pg() || db.path.is_file(), "the database was created");
        db
    }

    /// A new database whose first user, the owner, is `alice`.
    pub fn with_owner() -> Db {
        let db = Db::new();
        db.ok(&["users", "add", "alice", "--email", "alice@example.com"]);
        db
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn record(&self, args: &[&str], out: Output) -> Run {
        let run = Run::from_output(args, out);
        self.transcript.borrow_mut().push(run.clone());
        run
    }

    /// Runs a command against this database.
    pub fn run(&self, args: &[&str]) -> Run {
        self.record(args, rc(&self.path, args))
    }

    /// Runs a command with standard input.
    pub fn run_stdin(&self, args: &[&str], stdin: &str) -> Run {
        self.record(args, rc_stdin(&self.path, args, stdin))
    }

    /// Runs a command with extra environment variables.
    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        self.record(args, rc_env(&self.path, args, env))
    }

    /// Runs a command that must succeed; returns its stdout.
    #[track_caller]
    pub fn ok(&self, args: &[&str]) -> String {
        self.run(args).expect_code(0).stdout.clone()
    }

    /// Runs `ARGS --json`, which must succeed, and parses the output.
    #[track_caller]
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        self.run(&all).expect_code(0).json()
    }

    /// Every run so far.
    pub fn transcript(&self) -> Vec<Run> {
        self.transcript.borrow().clone()
    }

    /// A read-only connection straight to the file.
    pub fn conn(&self) -> Connection {
        assert!(
            !self.is_pg(),
            "a SQLite connection to a PostgreSQL test database"
        );
        Connection::open_with_flags(&self.path, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("the database opens read-only")
    }

    /// A read-write connection straight to the file, to arrange unusual states.
    pub fn conn_rw(&self) -> Connection {
        Connection::open_with_flags(&self.path, OpenFlags::SQLITE_OPEN_READ_WRITE)
            .expect("the database opens read-write")
    }

    /// Everything in the database as text: the schema version, and every row of every
    /// table (audit included), each table's rows sorted.
    pub fn dump(&self) -> String {
        match &self.pg {
            Some(pg) => pg_dump(&mut pg.client()),
            None => dump(&self.conn()),
        }
    }

    /// The leaves the `user_permissions` view grants `username`, sorted.
    pub fn view_grants(&self, username: &str) -> Vec<String> {
        if let Some(pg) = &self.pg {
            return pg
                .client()
                .query(
                    "SELECT permission_key FROM user_permissions WHERE username = $1 ORDER BY permission_key",
                    &[&username],
                )
                .expect("the user_permissions view can be queried")
                .iter()
                .map(|r| r.get(0))
                .collect();
        }
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT permission_key FROM user_permissions WHERE username = ?1 ORDER BY permission_key",
            )
            .expect("the user_permissions view exists");
        stmt.query_map([username], |r| r.get(0))
            .expect("the view can be queried")
            .collect::<rusqlite::Result<_>>()
            .expect("rows of the view")
    }

    /// The number of audit rows.
    pub fn audit_rows(&self) -> i64 {
        if let Some(pg) = &self.pg {
            return pg
                .client()
                .query_one("SELECT count(*) FROM audit", &[])
                .expect("the audit table")
                .get(0);
        }
        self.conn()
            .query_row("SELECT count(*) FROM audit", [], |r| r.get(0))
            .expect("the audit table")
    }

    /// `roles show ROLE --json`'s `granted` list.
    pub fn granted(&self, role: &str) -> Vec<String> {
        strings(&self.json(&["roles", "show", role])["granted"])
    }

    /// `users show USER --json`.
    pub fn user(&self, username: &str) -> Value {
        self.json(&["users", "show", username])
    }

    /// The permission catalog as `catalog show --json` prints it.
    pub fn catalog(&self) -> Vec<Category> {
        let tree = self.json(&["catalog", "show"]);
        tree.as_array()
            .expect("the catalog is an array of categories")
            .iter()
            .map(Category::from_json)
            .collect()
    }
}

/// A top-level category of the catalog with its leaves (the default catalog is two
/// levels deep; deeper nodes are flattened into their leaves).
#[derive(Debug, Clone)]
pub struct Category {
    pub key: String,
    pub label: String,
    /// (key, label) of every leaf under the category, in catalog order.
    pub leaves: Vec<(String, String)>,
}

impl Category {
    fn from_json(node: &Value) -> Category {
        fn leaves(node: &Value, out: &mut Vec<(String, String)>) {
            match node.get("children").and_then(Value::as_array) {
                Some(children) if !children.is_empty() => {
                    for c in children {
                        leaves(c, out);
                    }
                }
                _ => out.push((s(&node["key"]), s(&node["label"]))),
            }
        }
        let mut all = Vec::new();
        leaves(node, &mut all);
        Category {
            key: s(&node["key"]),
            label: s(&node["label"]),
            leaves: all,
        }
    }

    pub fn leaf_keys(&self) -> Vec<String> {
        self.leaves.iter().map(|(k, _)| k.clone()).collect()
    }
}

/// Every leaf key of the catalog, sorted.
pub fn all_leaf_keys(catalog: &[Category]) -> Vec<String> {
    let mut keys: Vec<String> = catalog.iter().flat_map(Category::leaf_keys).collect();
    keys.sort();
    keys
}

/// The leaf keys of category `key`.
pub fn leaves_of(catalog: &[Category], key: &str) -> Vec<String> {
    catalog
        .iter()
        .find(|c| c.key == key)
        .unwrap_or_else(|| panic!("no category {key}"))
        .leaf_keys()
}

/// A JSON string's value.
pub fn s(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("{v} is not a string"))
        .to_string()
}

/// A JSON array of strings.
pub fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("{v} is not an array"))
        .iter()
        .map(s)
        .collect()
}

/// Sorted and deduplicated.
pub fn sorted<S: Into<String> + Clone>(items: &[S]) -> Vec<String> {
    let mut v: Vec<String> = items.iter().cloned().map(Into::into).collect();
    v.sort();
    v.dedup();
    v
}

/// Parses JSON output exactly as printed.
pub fn parse_json(text: &str) -> serde_json::Result<Value> {
    serde_json::from_str(text)
}

/// Every row of every table, plus the schema and `user_version`, as text.
pub fn dump(conn: &Connection) -> String {
    let mut out = String::new();
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .expect("user_version");
    out.push_str(&format!("user_version {version}\n"));
    let objects: Vec<(String, String, Option<String>)> = {
        let mut stmt = conn
            .prepare("SELECT type, name, sql FROM sqlite_master ORDER BY type, name")
            .expect("sqlite_master");
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .expect("schema rows")
            .collect::<rusqlite::Result<_>>()
            .expect("schema rows")
    };
    for (kind, name, sql) in &objects {
        out.push_str(&format!(
            "{kind} {name}: {}\n",
            sql.as_deref().unwrap_or("")
        ));
    }
    for (kind, name, _) in &objects {
        if kind != "table" || name.starts_with("sqlite_") {
            continue;
        }
        let mut stmt = conn
            .prepare(&format!("SELECT * FROM \"{name}\""))
            .expect("table rows");
        let columns = stmt.column_count();
        let mut rows: Vec<String> = stmt
            .query_map([], |r| {
                let mut cells = Vec::with_capacity(columns);
                for i in 0..columns {
                    cells.push(match r.get_ref(i)? {
                        ValueRef::Null => "NULL".to_string(),
                        ValueRef::Integer(n) => n.to_string(),
                        ValueRef::Real(f) => f.to_string(),
                        ValueRef::Text(t) => format!("{:?}", String::from_utf8_lossy(t)),
                        ValueRef::Blob(b) => format!("blob{b:?}"),
                    });
                }
                Ok(cells.join("|"))
            })
            .expect("table rows")
            .collect::<rusqlite::Result<_>>()
            .expect("table rows");
        rows.sort();
        out.push_str(&format!("-- {name}: {} rows\n", rows.len()));
        for row in rows {
            out.push_str(&row);
            out.push('\n');
        }
    }
    out
}

/// Panics unless `run` failed with `code` and a one-line stderr message that starts
/// with `rolecall: FIELD:` (the field as the code names it, or its flag spelling).
#[track_caller]
pub fn assert_field_error(run: &Run, code: i32, field: &str) {
    run.expect_code(code);
    let dashed = field.replace('_', "-");
    let ok = [field, dashed.as_str()]
        .iter()
        .any(|f| run.stderr.starts_with(&format!("rolecall: {f}:")));
    assert!(
        ok,
        "rolecall {:?}: stderr should start with `rolecall: {field}:`, got:\n{}",
        run.args, run.stderr
    );
    assert_eq!(
        run.stderr.trim_end().lines().count(),
        1,
        "one line on stderr: {}",
        run.stderr
    );
}

// ---------------------------------------------------------------------------------
// PostgreSQL
// ---------------------------------------------------------------------------------

/// The PostgreSQL server the tests may use: `ROLECALL_TEST_PG`, a URL whose database
/// the tests may create other databases from (`.ci/run` starts a throwaway server and
/// sets it). Without it a PostgreSQL test says it was skipped and passes; with `CI`
/// set it fails instead, so CI cannot go green without having run them.
pub fn pg_server() -> Option<String> {
    match std::env::var("ROLECALL_TEST_PG")
        .ok()
        .filter(|v| !v.is_empty())
    {
        Some(url) => Some(url),
        None if std::env::var_os("CI").is_some() => {
            panic!("ROLECALL_TEST_PG is not set, and CI is: the PostgreSQL tests must run")
        }
        None => {
            eprintln!(
                "skipped: set ROLECALL_TEST_PG to a PostgreSQL server's URL to run this test"
            );
            None
        }
    }
}

/// `url` with its database name replaced by `name`.
pub fn pg_url_for(url: &str, name: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let auth_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(auth_end);
    let query = tail.split_once('?').map(|(_, q)| q);
    match query {
        Some(q) => format!("{scheme}://{authority}/{name}?{q}"),
        None => format!("{scheme}://{authority}/{name}"),
    }
}

/// A client on the server's own database, for creating test databases.
pub fn pg_admin(server: &str) -> postgres::Client {
    postgres::Client::connect(server, postgres::NoTls).expect("the test server accepts connections")
}

/// A new, empty database on the test server, dropped when the returned guard goes.
pub struct PgDatabase {
    server: String,
    pub name: String,
    pub url: String,
}

impl PgDatabase {
    pub fn create(server: &str) -> PgDatabase {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "rolecall_test_{}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0)
        );
        pg_admin(server)
            .batch_execute(&format!(
                "CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8'"
            ))
            .expect("a test database");
        PgDatabase {
            server: server.to_string(),
            url: pg_url_for(server, &name),
            name,
        }
    }

    /// A client on this database.
    pub fn client(&self) -> postgres::Client {
        postgres::Client::connect(&self.url, postgres::NoTls).expect("the test database opens")
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        if let Ok(mut admin) = postgres::Client::connect(&self.server, postgres::NoTls) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// The backends a parametrized test runs on: SQLite always, PostgreSQL when the
/// test server is there (see [`pg_server`]).
pub fn backends() -> Vec<Backend> {
    let mut out = vec![Backend::Sqlite];
    if let Some(server) = pg_server() {
        out.push(Backend::Postgres(server));
    }
    out
}

#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite,
    Postgres(String),
}

/// A database on one backend, for tests that run the same steps on each: a file in a
/// temporary folder, or a fresh database on the test server. `location` is what
/// `--db` takes.
pub struct Place {
    pub dir: TempDir,
    pub location: PathBuf,
    pub pg: Option<PgDatabase>,
}

impl Place {
    pub fn new(backend: &Backend) -> Place {
        let dir = tempfile::Builder::new()
            .prefix("rolecall-test")
            .tempdir()
            .expect("a temporary folder");
        match backend {
            Backend::Sqlite => Place {
                location: dir.path().join("rolecall.db"),
                dir,
                pg: None,
            },
            Backend::Postgres(server) => {
                let pg = PgDatabase::create(server);
                Place {
                    location: PathBuf::from(&pg.url),
                    dir,
                    pg: Some(pg),
                }
            }
        }
    }

    pub fn is_pg(&self) -> bool {
        self.pg.is_some()
    }

    /// Runs `rolecall --db LOCATION ARGS`, with `HOME` in this place's folder.
    pub fn rc(&self, args: &[&str]) -> Output {
        self.rc_env(args, &[])
    }

    pub fn rc_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = command(self.dir.path());
        cmd.arg("--db").arg(&self.location).args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let out = cmd.output().expect("rolecall runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !stderr.contains("panicked"),
            "rolecall {args:?} panicked:\n{stderr}"
        );
        out
    }

    /// Runs a command that must succeed; returns its stdout.
    #[track_caller]
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.rc(args);
        assert!(
            out.status.success(),
            "rolecall {args:?} on {}: exit {:?}\n{}",
            self.location.display(),
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Rows of one text column, through the backend's own client.
    pub fn strings(&self, sql_sqlite: &str, sql_pg: &str) -> Vec<String> {
        match &self.pg {
            Some(pg) => pg
                .client()
                .query(sql_pg, &[])
                .expect("the query runs")
                .iter()
                .map(|r| r.get::<_, String>(0))
                .collect(),
            None => {
                let conn =
                    Connection::open_with_flags(&self.location, OpenFlags::SQLITE_OPEN_READ_ONLY)
                        .expect("the file opens");
                let mut stmt = conn.prepare(sql_sqlite).expect("the query prepares");
                stmt.query_map([], |r| r.get::<_, String>(0))
                    .expect("the query runs")
                    .collect::<rusqlite::Result<_>>()
                    .expect("rows")
            }
        }
    }
}

/// Every row of every rolecall table on PostgreSQL, plus the schema version, as text:
/// [`dump`] for the other backend (without the SQL of the schema).
pub fn pg_dump(client: &mut postgres::Client) -> String {
    let mut out = String::new();
    let version: i64 = client
        .query_one("SELECT version FROM rolecall_schema", &[])
        .expect("the schema version")
        .get(0);
    out.push_str(&format!("user_version {version}\n"));
    let tables: Vec<String> = client
        .query(
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1",
            &[],
        )
        .expect("the tables")
        .iter()
        .map(|r| r.get(0))
        .collect();
    for name in tables {
        let rows = client
            .query(&format!("SELECT to_jsonb(t)::text FROM \"{name}\" t"), &[])
            .expect("table rows");
        let mut rows: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
        rows.sort();
        out.push_str(&format!("-- {name}: {} rows\n", rows.len()));
        for row in rows {
            out.push_str(&row);
            out.push('\n');
        }
    }
    out
}

/// SQLite's `?N` as PostgreSQL's `$N`.
pub fn dollar_placeholders(sql: &str) -> String {
    sql.replace('?', "$")
}
