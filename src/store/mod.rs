//! The one owner of the SQLite file: opening (create, check, migrate, seed), and the
//! queries and transactions behind every command. Methods return domain types and
//! apply the domain rules inside the transaction that makes the change, together with
//! its audit row, so a rule can never be skipped by either front end.

mod copy;
mod db;
mod keys;
mod packages;
mod pg;
mod pg_client;
mod pg_policy;
mod pg_schema;
mod policy;
mod resources;
mod roles;
mod schema;
mod users;

use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use db::{Db, OptionalExtension, Row, params};
use serde::Serialize;
use serde_json::Value;

use crate::domain::authz::{Need, Operator, OperatorKeys, Right, Rights};
use crate::domain::catalog::{Catalog, CatalogEntry, Grants};
use crate::domain::role::ADMINISTRATOR;
use crate::error::{Conflict, ConflictKind, Error, Result};

pub use copy::Copied;
pub use keys::{KeyCheck, KeyOwner};
pub use packages::{PackageDeleted, PackageRef, PackageUpdate};
pub use pg::{is_url as is_postgres_url, redact as redact_url, refuse_lookalike};
pub use resources::{ExceptionView, ModelImport, ModelPlan, ResourceEntry, ResourcesPlan};
pub use roles::{DeleteOutcome, RoleChange, RoleRef, RoleUpdate};
pub use schema::{EXAMPLE_ROLES, INITIAL_DEFAULT_ROLE};
pub use users::{NewUser, UserChange, UserRef};

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = schema::MIGRATIONS.len() as i64;

/// How long an upgrade of a PostgreSQL database waits for a table or view another
/// transaction is using before it gives up: see [`upgrade_pg`].
const UPGRADE_LOCK_WAIT: Duration = Duration::from_secs(2);

// Every version from the first PostgreSQL one up to this one has its upgrade.
const _: () =
    assert!(pg_schema::FIRST_VERSION + pg_schema::UPGRADES.len() as i64 == SCHEMA_VERSION);

/// How long a writer waits for another process's transaction before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether the store may change the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    ReadWrite,
    ReadOnly,
}

/// One row of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    #[serde(skip)]
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// Which audit rows to show; `None` matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// The actor's name, with or without its ` from ADDRESS` / ` via ...` part.
    pub actor: Option<String>,
    /// A whole action (`role.update`) or its first part (`role`).
    pub action: Option<String>,
    /// The exact target.
    pub target: Option<String>,
    /// UTC RFC 3339, to the second: rows at or after it.
    pub since: Option<String>,
}

/// The open database and the catalog read from it.
pub struct Store {
    conn: Db,
    /// The file is in WAL mode. A file in another journal mode is switched after
    /// its first write lands, not on open: the switch rewrites the header, and a
    /// file that is only read, or refused, must stay exactly as it was.
    wal: bool,
    catalog: Catalog,
    actor: String,
    access: Access,
    /// Where the data is, as shown: the file, or the server's URL less its password.
    path: PathBuf,
    /// Where the data is, as given (a URL keeps its password), to open it again.
    target: PathBuf,
    /// What the resource parts (`rolecall/3`) of the last import changed.
    last_model_import: ModelImport,
    /// The rolecall user a served session acts as (SPEC §13); `None` for a local
    /// run, which may change anything the file system lets it write.
    operator: Option<ServedBy>,
    /// PostgreSQL: this store has seen the policy snapshot ([`pg_policy`]) in the
    /// database, or made it; until then its first write looks, and makes it.
    policy_snapshot: bool,
    /// SQLite: every table's root page has been read ([`probe_tables`]); until then
    /// the first write reads them, before it changes anything.
    probed: bool,
}

impl Drop for Store {
    fn drop(&mut self) {
        // The last connection to close a WAL file folds the log into it and deletes
        // the log and its shared-memory index, which the next process (a `check`
        // per request) must then make again. With nothing in the log there is
        // nothing to fold in: both files are left for the next process, as a
        // connection that stays open would leave them.
        if let Db::Sqlite(conn) = &self.conn
            && self.wal
            && !has_wal_content(&self.path)
        {
            let _ = conn.set_db_config(
                rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
                true,
            );
        }
    }
}

/// A session on the server `target` names; with `--read-only`, one whose every
/// transaction the server itself keeps from writing (see `db::Pg`).
fn pg_session(target: &pg::Target, access: Access) -> Result<Db> {
    Db::pg(target.clone(), access == Access::ReadOnly)
}

/// What [`Store::check_on_server`] found: the decision, or the store to ask.
pub enum Checked {
    Decided(crate::domain::access::Decision),
    Open(Box<Store>),
}

/// Whom a served session acts as: the user's id, so that a user removed and made
/// again under the same name is someone else, and for a login by key the key's
/// fingerprint, which must still be theirs for the session to act at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServedBy {
    pub user_id: i64,
    pub username: String,
    pub fingerprint: Option<String>,
}

/// `<data_dir>/rolecall.db` (SPEC §1).
pub fn default_path() -> Result<PathBuf> {
    directories::ProjectDirs::from("", "", "rolecall")
        .map(|dirs| dirs.data_dir().join("rolecall.db"))
        .ok_or_else(|| {
            Error::Storage(
                "no home folder to keep the database in; pass --db PATH or set ROLECALL_DB".into(),
            )
        })
}

/// Who is making changes, for the audit log: the OS account running rolecall (or the
/// account that ran `sudo`, believed only when the real user id is 0, so an ordinary
/// account cannot write another name into the log), plus the SSH client address.
pub fn actor_from_env() -> String {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    // SAFETY: getuid has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() };
    let sudo = var("SUDO_USER").filter(|_| uid == 0);
    let name = sudo
        .or_else(|| var("USER").filter(|n| may_name_self(n, uid)))
        .or_else(|| var("LOGNAME").filter(|n| may_name_self(n, uid)))
        .or_else(login_name_from_passwd)
        .unwrap_or_else(|| "unknown".into());
    // Only an address: anything else in SSH_CONNECTION is not taken into the log.
    let addr = var("SSH_CONNECTION")
        .and_then(|c| c.split_whitespace().next().map(str::to_string))
        .filter(|a| a.parse::<std::net::IpAddr>().is_ok());
    match addr {
        Some(addr) => format!("{name} from {addr}"),
        None => name,
    }
}

/// Whether `$USER` (or `$LOGNAME`) may name the account with id `uid`: a login name,
/// not text that reads like a served session's actor (`bob via ssh from ...`), and
/// not the name of another account of this machine.
fn may_name_self(name: &str, uid: libc::uid_t) -> bool {
    let plain = name.len() <= 64
        && !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@' | '$'));
    if !plain {
        return false;
    }
    let Ok(c_name) = std::ffi::CString::new(name) else {
        return false;
    };
    // SAFETY: getpwnam reads a NUL-terminated name; its result is read at once, on
    // this thread, before another call could reuse the static buffer.
    let entry = unsafe { libc::getpwnam(c_name.as_ptr()) };
    // A name this machine does not know (a container's, a test's) is taken as given.
    entry.is_null() || unsafe { (*entry).pw_uid } == uid
}

/// The name /etc/passwd gives the process's user id, for sessions without `$USER`
/// (cron, systemd units, containers).
fn login_name_from_passwd() -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let uid = fs::metadata("/proc/self").ok()?.uid();
    let passwd = fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let id = fields.nth(1)?;
        (id.parse::<u32>().ok()? == uid).then(|| name.to_string())
    })
}

/// The current UTC time, RFC 3339 to the second.
pub fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// Case-folded form used for the case-insensitive unique columns.
pub(crate) fn fold(s: &str) -> String {
    s.trim().to_lowercase()
}

fn shown(path: &Path) -> String {
    crate::text::display_safe(&path.display().to_string()).into_owned()
}

impl Store {
    /// Opens the database at `path`, creating and seeding it when missing (read-write
    /// only). A file this build cannot use is refused with a storage error and left
    /// exactly as it was.
    pub fn open(path: &Path, access: Access) -> Result<Store> {
        pg::refuse_lookalike(path, "db")?;
        if let Some(url) = path.to_str().filter(|t| pg::is_url(t)) {
            return Store::open_pg(url, access, true);
        }
        match fs::metadata(path) {
            Ok(meta) if meta.is_dir() => {
                return Err(Error::Storage(format!(
                    "{} is a folder, not a database file",
                    shown(path)
                )));
            }
            Ok(meta) if meta.len() == 0 => {
                return Err(Error::Storage(format!(
                    "{} is an empty file, not a rolecall database; remove it or pass another --db",
                    shown(path)
                )));
            }
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {
                if access == Access::ReadOnly {
                    return Err(Error::Storage(format!(
                        "there is no database at {}; --read-only never creates one",
                        shown(path)
                    )));
                }
                create(
                    path,
                    &|db: &Db| seed(db, &Catalog::builtin()),
                    OnExisting::Use,
                )?;
            }
            Err(e) => return Err(Error::Storage(format!("cannot read {}: {e}", shown(path)))),
        }
        Store::open_existing(path, access)
    }

    fn open_existing(path: &Path, access: Access) -> Result<Store> {
        let flags = match access {
            Access::ReadWrite => OpenFlags::SQLITE_OPEN_READ_WRITE,
            Access::ReadOnly => OpenFlags::SQLITE_OPEN_READ_ONLY,
        } | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let storage = |what: &str, e: rusqlite::Error| {
            let err = Error::from(e);
            Error::Storage(format!("cannot {what} {}: {err}", shown(path)))
        };
        // A write-ahead log left with content (by a crashed process, or one still
        // running) is folded into the file when a connection that can write closes.
        // Decide through a read-only connection first then, so that a file this build
        // refuses is left exactly as it was, log included.
        if access == Access::ReadWrite && has_wal_content(path) {
            let probe = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(|e| storage("open", e))?;
            probe
                .busy_timeout(BUSY_TIMEOUT)
                .map_err(|e| storage("open", e))?;
            usable_version(&probe, path)?;
        }
        let opened = match open_connection(path, flags) {
            // A read-only session on a WAL file in a folder it cannot write has no
            // way to make the shared-memory index: read the file as immutable then.
            Err(e) if access == Access::ReadOnly && is_cannot_open(&e) => {
                open_connection(&immutable_uri(path), flags | OpenFlags::SQLITE_OPEN_URI)
            }
            other => other,
        };
        let (conn, version) = opened.map_err(|e| match e {
            OpenError::Sqlite(e) => storage("open", e),
            OpenError::Refused(e) => e,
        })?;
        // Everything that can refuse the file is read before anything is written to
        // it (switching to WAL rewrites the header), so a refused file stays as it
        // was, byte for byte.
        check_tables(&conn, path, version)?;
        if version < SCHEMA_VERSION {
            // An upgrade writes below.
            probe_tables(&conn, path, version)?;
        }
        let conn = Db::sqlite(conn);
        let mut catalog = match version {
            SCHEMA_VERSION => Some(load_catalog(&conn).map_err(|e| catalog_error(path, e))?),
            _ => None,
        };
        let raw = conn.as_sqlite().expect("opened above as SQLite");
        raw.pragma_update(None, "foreign_keys", true)
            .map_err(|e| storage("configure", e))?;
        raw.pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| storage("configure", e))?;
        let journal: String = raw
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .map_err(|e| storage("read", e))?;
        let mut wal = journal.eq_ignore_ascii_case("wal");
        if version < SCHEMA_VERSION {
            if access == Access::ReadOnly {
                return Err(Error::Storage(format!(
                    "{} needs upgrading to schema version {SCHEMA_VERSION}; open it once without --read-only",
                    shown(path)
                )));
            }
            switch_to_wal(raw).map_err(|e| storage("configure", e))?;
            wal = true;
            migrate(&conn, Some(&Catalog::builtin()))
                .map_err(|e| Error::Storage(format!("cannot upgrade {}: {e}", shown(path))))?;
            check_tables(raw, path, SCHEMA_VERSION)?;
            probe_tables(raw, path, SCHEMA_VERSION)?;
            catalog = Some(load_catalog(&conn).map_err(|e| catalog_error(path, e))?);
        }
        let Some(catalog) = catalog else {
            unreachable!("the catalog is read for a current file and after every upgrade")
        };
        Ok(Store {
            conn,
            wal,
            catalog,
            actor: actor_from_env(),
            access,
            path: path.to_path_buf(),
            target: path.to_path_buf(),
            last_model_import: ModelImport::default(),
            operator: None,
            policy_snapshot: false,
            probed: version < SCHEMA_VERSION,
        })
    }

    /// Opens a rolecall database on a PostgreSQL server, creating its schema (and
    /// seeding it) when the database has no tables at all.
    fn open_pg(url: &str, access: Access, create: bool) -> Result<Store> {
        let target = pg::parse(url)?;
        let conn = pg_session(&target, access)?;
        Store::open_pg_on(conn, url, target.shown, access, create)
    }

    /// `check USERNAME PERMISSION` on a PostgreSQL database: decided in one statement
    /// from the policy snapshot when it is current ([`pg_policy`]), else the store,
    /// opened on the same connection, to decide the usual way.
    pub fn check_on_server(
        url: &str,
        access: Access,
        username: &str,
        permission: &str,
    ) -> Result<Checked> {
        let target = pg::parse(url)?;
        let conn = pg_session(&target, access)?;
        match pg_policy::check(&conn, username, permission) {
            Ok(Some(decision)) => Ok(Checked::Decided(decision)),
            Ok(None) => Store::open_pg_on(conn, url, target.shown, access, false)
                .map(|store| Checked::Open(Box::new(store))),
            Err(Error::Storage(m)) => {
                Err(Error::Storage(format!("cannot read {}: {m}", target.shown)))
            }
            Err(other) => Err(other),
        }
    }

    /// Opens the rolecall database `conn` is connected to (`url`, shown as `shown`).
    fn open_pg_on(
        conn: Db,
        url: &str,
        shown: String,
        access: Access,
        create: bool,
    ) -> Result<Store> {
        let unreadable =
            |e: db::DbError| Error::Storage(format!("cannot read {shown}: {}", Error::from(e)));
        let opened = |conn: Db, catalog: Catalog| Store {
            conn,
            wal: true,
            catalog,
            actor: actor_from_env(),
            access,
            path: PathBuf::from(&shown),
            target: PathBuf::from(url),
            last_model_import: ModelImport::default(),
            operator: None,
            policy_snapshot: false,
            probed: true,
        };
        // A current database answers in one round trip; anything else (no schema
        // yet, another version, a catalog that does not validate) takes the slow
        // path, which says what is wrong.
        if let Some(catalog) = pg_current_catalog(&conn).map_err(unreadable)? {
            return Ok(opened(conn, catalog));
        }
        let mut tables = pg_tables(&conn).map_err(unreadable)?;
        if !tables.contains("rolecall_schema") {
            if access == Access::ReadOnly {
                return Err(Error::Storage(format!(
                    "there is no rolecall database at {shown}; --read-only never creates one"
                )));
            }
            if !create {
                return Err(Error::Storage(format!(
                    "no rolecall database at {shown} (it is created when you first open the console or add something)"
                )));
            }
            create_pg(
                &conn,
                &shown,
                &|db: &Db| seed(db, &Catalog::builtin()),
                OnExisting::Use,
            )?;
            tables = pg_tables(&conn).map_err(unreadable)?;
        }
        let version = conn.schema_version().map_err(unreadable)?;
        if version > SCHEMA_VERSION {
            return Err(Error::Storage(format!(
                "{shown} has schema version {version}, newer than this rolecall understands ({SCHEMA_VERSION}); use a newer rolecall"
            )));
        }
        if version < SCHEMA_VERSION {
            if version < pg_schema::FIRST_VERSION {
                return Err(Error::Storage(format!(
                    "{shown} has schema version {version}, and this rolecall cannot upgrade a PostgreSQL database from it to {SCHEMA_VERSION}; use the rolecall that made it"
                )));
            }
            if access == Access::ReadOnly {
                return Err(Error::Storage(format!(
                    "{shown} needs upgrading to schema version {SCHEMA_VERSION}; open it once without --read-only"
                )));
            }
            upgrade_pg(&conn, &shown)?;
        }
        if let Some(table) = pg_schema::required_tables().find(|t| !tables.contains(*t)) {
            return Err(Error::Storage(format!(
                "{shown} is damaged: the table \"{table}\" is missing"
            )));
        }
        let catalog = load_catalog(&conn).map_err(|e| match e {
            Error::Storage(m) => Error::Storage(format!("cannot read {shown}: {m}")),
            other => Error::Storage(format!("{shown} holds an invalid catalog: {other}")),
        })?;
        Ok(opened(conn, catalog))
    }

    /// Opens the same database again, as another connection, when called (the
    /// console reads its long lists on a thread of their own).
    pub fn opener(&self, access: Access) -> impl FnOnce() -> Result<Store> + Send + 'static {
        let target = self.target.clone();
        move || Store::open(&target, access)
    }

    /// Opens a database that must already exist: a PostgreSQL database without
    /// rolecall's tables is refused, naming the URL, instead of being set up (the
    /// commands that only read). A file is refused by the caller, which knows how
    /// to say it.
    pub fn open_existing_db(path: &Path, access: Access) -> Result<Store> {
        pg::refuse_lookalike(path, "db")?;
        match path.to_str().filter(|t| pg::is_url(t)) {
            Some(url) => Store::open_pg(url, access, false),
            None => Store::open(path, access),
        }
    }

    /// True when the data is on a PostgreSQL server.
    pub fn is_postgres(&self) -> bool {
        self.conn.is_pg()
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// Reads the catalog again (another process may have run `catalog load` or
    /// `import`); true when it changed.
    pub fn refresh_catalog(&mut self) -> Result<bool> {
        if catalog_seq(&self.conn)? == self.catalog.stamp() {
            return Ok(false);
        }
        self.catalog = load_catalog(&self.conn)?;
        Ok(true)
    }

    /// Refuses (exit 4) once another process has raised the file's schema version: a
    /// newer rolecall owns the file now, and this one must stop writing to it.
    pub fn ensure_schema_current(&self) -> Result<()> {
        ensure_schema(&self.conn, &self.path)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn is_read_only(&self) -> bool {
        self.access == Access::ReadOnly
    }

    /// The name written to the audit log for changes made through this store.
    pub fn actor(&self) -> &str {
        &self.actor
    }

    /// Overrides the actor (tests, and the console when it knows better).
    pub fn set_actor(&mut self, actor: impl Into<String>) {
        self.actor = actor.into();
    }

    /// A number that changes whenever another connection commits (`PRAGMA data_version`).
    pub fn data_version(&self) -> Result<i64> {
        Ok(self.conn.change_token()?)
    }

    /// The change number: it moves on with every change any rolecall process makes.
    pub fn change_seq(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("SELECT change_seq FROM rolecall_meta", params![], |r| {
                r.get(0)
            })?)
    }

    /// The newest audit rows first.
    pub fn audit(&self, limit: usize) -> Result<Vec<AuditEntry>> {
        self.audit_matching(&AuditFilter::default(), limit)
    }

    /// The newest audit rows that match `filter`, first.
    pub fn audit_matching(&self, filter: &AuditFilter, limit: usize) -> Result<Vec<AuditEntry>> {
        self.require_to_read(Right::Audit)?;
        // Prefixes are compared with substr, not LIKE, so `%` and `_` in what the
        // operator typed mean themselves.
        let stmt = self.conn.prepare_cached(
            "SELECT id, at, actor, action, target, before, after FROM audit \
             WHERE (?1 IS NULL OR actor = ?1 \
                    OR substr(actor, 1, length(?1) + 6) = ?1 || ' from ' \
                    OR substr(actor, 1, length(?1) + 5) = ?1 || ' via ') \
               AND (?2 IS NULL OR action = ?2 OR substr(action, 1, length(?2) + 1) = ?2 || '.') \
               AND (?3 IS NULL OR target = ?3) \
               AND (?4 IS NULL OR at >= ?4) \
             ORDER BY id DESC LIMIT ?5",
        )?;
        let limit = limit.min(i64::MAX as usize) as i64;
        let params = params![
            filter.actor,
            filter.action,
            filter.target,
            filter.since,
            limit
        ];
        let rows = stmt.query_map(params, |r| {
            // rolecall stores JSON; text another program stored is shown as it is.
            let json =
                |s: Option<String>| s.map(|s| serde_json::from_str(&s).unwrap_or(Value::String(s)));
            Ok(AuditEntry {
                id: r.get(0)?,
                at: text(r, 1)?,
                actor: text(r, 2)?,
                action: text(r, 3)?,
                target: text(r, 4)?,
                before: json(opt_text(r, 5)?),
                after: json(opt_text(r, 6)?),
            })
        })?;
        Ok(rows.collect::<db::SqlResult<_>>()?)
    }

    /// Rows in the audit log. Rows are never deleted (triggers refuse it), so the
    /// highest id is the count, read from the index end instead of a full scan.
    pub fn audit_count(&self) -> Result<usize> {
        if self.conn.is_pg() {
            // A PostgreSQL sequence skips the numbers of rolled-back inserts, so
            // the highest id is not the count there.
            let n: i64 = self
                .conn
                .query_row("SELECT count(*) FROM audit", params![], |r| r.get(0))?;
            return Ok(n as usize);
        }
        let n: i64 =
            self.conn
                .query_row("SELECT coalesce(max(id), 0) FROM audit", params![], |r| {
                    r.get(0)
                })?;
        Ok(n as usize)
    }

    /// Runs `change` in one immediate transaction and commits it; a read-only store
    /// refuses before touching the file. The transaction first checks that no newer
    /// rolecall has taken the file over, takes the next change number (the version of
    /// every row it writes), and reads the catalog again if another process changed
    /// it, so a change is always checked against the catalog it is written to.
    ///
    /// A served session's operator is read inside the same transaction and must hold
    /// the rights `need` names, so nothing changes when they lack one, and a right
    /// revoked by another process counts from the next change on.
    fn write<T>(&mut self, need: Need, change: impl FnOnce(&Tx<'_>) -> Result<T>) -> Result<T> {
        if self.access == Access::ReadOnly {
            return Err(Error::Refused(
                "read-only: this session was opened with --read-only, so nothing can be changed"
                    .into(),
            ));
        }
        self.probe_before_writing()?;
        let tx = self.conn.begin_write()?;
        // The first statement takes the change counter's row: on PostgreSQL its lock
        // is what queues writers (SQLite's IMMEDIATE lock is already held).
        let (seq, catalog_at_start): (i64, i64) = tx.query_row(
            "UPDATE rolecall_meta SET change_seq = change_seq + 1 RETURNING change_seq, catalog_seq",
            params![],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        ensure_schema(&tx, &self.path)?;
        if catalog_at_start != self.catalog.stamp() {
            self.catalog = load_catalog(&tx)?;
        }
        let operator = match &self.operator {
            Some(by) => {
                let operator = read_operator(&tx, &self.catalog, by)?;
                operator.require(&self.catalog, need)?;
                Some(operator)
            }
            None => None,
        };
        let changes_before = tx.total_changes();
        let ctx = Tx {
            tx: &tx,
            catalog: &self.catalog,
            actor: &self.actor,
            at: now(),
            seq,
            operator,
        };
        let out = change(&ctx)?;
        if tx.total_changes() == changes_before {
            // Nothing changed: leave the file as it was, change number included, so
            // other consoles have nothing to reload.
            tx.rollback()?;
            return Ok(out);
        }
        let fresh = match catalog_seq(&tx)? {
            stamp if stamp == catalog_at_start => None,
            _ => Some(load_catalog(&tx)?),
        };
        if tx.is_pg() {
            if !self.policy_snapshot && !pg_policy::exists(&tx)? {
                pg_policy::create(&tx)?;
            }
            pg_policy::refresh(&tx)?;
        }
        tx.commit()?;
        self.policy_snapshot = self.conn.is_pg();
        if let Some(catalog) = fresh {
            self.catalog = catalog;
        }
        if !self.wal {
            // After the first write has landed, so a write refused on a damaged
            // file leaves it as it was.
            if let Some(conn) = self.conn.as_sqlite() {
                switch_to_wal(conn)?;
            }
            self.wal = true;
        }
        Ok(out)
    }

    /// Reads every table's root page once, before this session's first change to a
    /// SQLite file, so that a damaged file is refused before anything is written.
    fn probe_before_writing(&mut self) -> Result<()> {
        if !self.probed
            && let Some(conn) = self.conn.as_sqlite()
        {
            probe_tables(conn, &self.path, SCHEMA_VERSION)?;
        }
        self.probed = true;
        Ok(())
    }

    /// Runs `change` in a transaction that is always rolled back: a dry run that
    /// plans with the same code that writes, so the two cannot disagree.
    ///
    /// A session opened with `--read-only` cannot write even what it rolls back: it
    /// runs the dry run on a copy of the file in memory instead.
    fn dry_run<T>(&mut self, change: impl FnOnce(&Tx<'_>) -> Result<T>) -> Result<T> {
        let copy;
        let conn = match self.conn.as_sqlite() {
            Some(file) if self.access == Access::ReadOnly => {
                let mut memory = Connection::open_in_memory()?;
                rusqlite::backup::Backup::new(file, &mut memory)?.run_to_completion(
                    1024,
                    Duration::ZERO,
                    None,
                )?;
                memory.pragma_update(None, "foreign_keys", true)?;
                copy = Db::sqlite(memory);
                &copy
            }
            _ => &self.conn,
        };
        let tx = conn.begin_scratch()?;
        let ctx = Tx {
            tx: &tx,
            catalog: &self.catalog,
            actor: &self.actor,
            at: now(),
            seq: 0,
            operator: None,
        };
        let out = change(&ctx);
        tx.rollback()?;
        out
    }

    /// Lets SQLite keep up to 64 MiB of the file in memory for this connection: bulk
    /// writes (demo data, imports of 100,000 users) then stop re-reading pages they
    /// just wrote. The console and single commands keep SQLite's default.
    pub fn use_large_cache(&self) -> Result<()> {
        if let Some(conn) = self.conn.as_sqlite() {
            conn.pragma_update(None, "cache_size", -65_536)?;
        }
        Ok(())
    }

    /// Acts from now on as the rolecall user `username` reached over SSH from `from`
    /// (SPEC §13): every change needs that user's rights, and the audit log names
    /// them with where they came from.
    pub fn serve_as(&mut self, username: &str, from: &str) -> Result<()> {
        let user = users::load_user(&self.conn, username)?;
        self.serve(
            ServedBy {
                user_id: user.id,
                username: user.username,
                fingerprint: None,
            },
            from,
        );
        Ok(())
    }

    /// [`Store::serve_as`] for a login the server has already decided.
    pub fn serve(&mut self, by: ServedBy, from: &str) {
        self.actor = format!("{} via ssh from {from}", by.username);
        self.operator = Some(by);
    }

    /// The served session's operator's username, if any.
    pub fn operator(&self) -> Option<&str> {
        self.operator.as_ref().map(|by| by.username.as_str())
    }

    /// The rights this session holds now: every one for a local run.
    pub fn rights(&self) -> Result<Rights> {
        match &self.operator {
            Some(by) => Ok(read_operator(&self.conn, &self.catalog, by)?.rights(&self.catalog)),
            None => Ok(Rights::LOCAL),
        }
    }

    /// Refuses, before anything is read or planned, a change this session's operator
    /// lacks the rights for (the change itself checks again in its transaction).
    pub fn require(&self, need: Need) -> Result<()> {
        match &self.operator {
            Some(by) => read_operator(&self.conn, &self.catalog, by)?.require(&self.catalog, need),
            None => Ok(()),
        }
    }

    /// Refuses a read a served session's operator lacks the right for (the audit log).
    pub fn require_to_read(&self, right: Right) -> Result<()> {
        match &self.operator {
            Some(by) => read_operator(&self.conn, &self.catalog, by)?
                .require(&self.catalog, Need::One(right)),
            None => Ok(()),
        }
    }

    /// Raw access to a SQLite store, for tests and benchmarks that need to arrange
    /// unusual states. Panics on any other backend: such a test is SQLite's alone.
    pub fn connection(&self) -> &Connection {
        self.conn
            .as_sqlite()
            .expect("raw connection access is for SQLite stores")
    }
}

/// A transaction in progress, with what every change needs: the catalog, the actor
/// and one timestamp for all rows it writes.
pub(crate) struct Tx<'a> {
    tx: &'a Db,
    catalog: &'a Catalog,
    actor: &'a str,
    at: String,
    /// This transaction's change number: the version of every row it writes.
    seq: i64,
    /// A served session's operator, as read in this transaction.
    operator: Option<Operator>,
}

/// What a versioned row says about itself, for [`Tx::check_version`].
pub(crate) struct RowVersion<'a> {
    /// The row's name, and the audit action that deletes a row of its kind.
    pub name: &'a str,
    pub removed_as: &'static str,
    pub version: i64,
    pub created_seq: i64,
    pub updated_by: &'a str,
    pub updated_at: &'a str,
}

impl Tx<'_> {
    /// True when this transaction is a served operator's who lacks the right over
    /// roles: what they hand out is then checked.
    pub(crate) fn restricted(&self) -> bool {
        self.operator
            .as_ref()
            .is_some_and(|op| !op.rights(self.catalog).roles)
    }

    /// [`Tx::ensure_may_hand_out`] for a role given directly (`role`: id and name) and
    /// packages joined (ids). Each role and package is checked on its own, its
    /// resource exceptions included, so the refusal names the one the operator may
    /// not hand out.
    pub(crate) fn ensure_may_give(
        &self,
        role: Option<(i64, &str)>,
        packages: &[i64],
    ) -> Result<()> {
        if !self.restricted() || (role.is_none() && packages.is_empty()) {
            return Ok(());
        }
        let membership = packages::Membership::Packages(packages);
        for source in packages::sources(self.tx, self.catalog, membership, role)? {
            let what = match &source.via.package {
                Some(package) => format!("package \"{}\"", crate::text::display_safe(package)),
                None => format!("role \"{}\"", crate::text::display_safe(&source.via.role)),
            };
            self.ensure_may_hand_out(&what, &source.grants)?;
        }
        let mut role_ids: Vec<i64> = role.map(|(id, _)| id).into_iter().collect();
        for package in packages {
            let stmt = self
                .tx
                .prepare_cached("SELECT role_id FROM package_roles WHERE package_id = ?1")?;
            for id in stmt.query_map([package], |r| r.get(0))? {
                role_ids.push(id?);
            }
        }
        for id in role_ids {
            let (name, grants) = self.exception_grants(id)?;
            let what = format!(
                "the resource exceptions of role \"{}\"",
                crate::text::display_safe(&name)
            );
            self.ensure_may_hand_out(&what, &grants)?;
        }
        Ok(())
    }

    /// Everything role `id`'s resource exceptions grant, on any resource.
    fn exception_grants(&self, id: i64) -> Result<(String, Grants)> {
        let name: String = self
            .tx
            .prepare_cached("SELECT name FROM roles WHERE id = ?1")?
            .query_row([id], |r| text(r, 0))?;
        let keys: Vec<String> = self
            .tx
            .prepare_cached(
                "SELECT DISTINCT eg.permission_key FROM role_exceptions e \
                 JOIN role_exception_grants eg ON eg.exception_id = e.id WHERE e.role_id = ?1",
            )?
            .query_map([id], |r| text(r, 0))?
            .collect::<db::SqlResult<_>>()?;
        Ok((
            name,
            Grants::from_keys(self.catalog, keys.iter().map(String::as_str)),
        ))
    }

    /// Refuses when a served operator without the right over roles would take over
    /// (set the password or email of, enable, add a key to, make owner) a user who
    /// holds what the operator does not: acting as that user would hand it out.
    pub(crate) fn ensure_may_act_as(&self, user_id: i64, username: &str) -> Result<()> {
        if !self.restricted() {
            return Ok(());
        }
        let role: Option<(i64, String)> = self
            .tx
            .prepare_cached(
                "SELECT r.id, r.name FROM users u JOIN roles r ON r.id = u.role_id WHERE u.id = ?1",
            )?
            .query_row([user_id], |r| Ok((r.get(0)?, text(r, 1)?)))
            .optional()?;
        let packages = packages::package_ids_of(self.tx, user_id)?;
        let what = format!("acting as \"{}\"", crate::text::display_safe(username));
        self.ensure_may_give(
            role.as_ref().map(|(id, name)| (*id, name.as_str())),
            &packages,
        )
        .map_err(|e| match e {
            Error::Refused(why) => Error::Refused(format!("{what}: {why}")),
            other => other,
        })
    }

    /// Refuses when a served session's operator, lacking the right over roles, would
    /// hand out (`what`: a role, a package, a key) permissions they do not hold.
    pub(crate) fn ensure_may_hand_out(&self, what: &str, gives: &Grants) -> Result<()> {
        match &self.operator {
            Some(operator) => operator.ensure_may_hand_out(self.catalog, what, gives),
            None => Ok(()),
        }
    }

    /// Refuses an edit made from `expected` (a version the caller read) when the row
    /// has moved on since, or is another row under the same name.
    fn check_version(
        &self,
        target: String,
        expected: Option<i64>,
        row: RowVersion<'_>,
    ) -> Result<()> {
        let Some(expected) = expected.filter(|v| *v != row.version) else {
            return Ok(());
        };
        // A version older than the row is the one before it of that name, when the
        // log shows such a row was deleted; else the row never had it.
        let kind = if expected >= row.created_seq {
            ConflictKind::Changed
        } else if last_deletion(self.tx, row.removed_as, row.name)?.is_some() {
            ConflictKind::Recreated
        } else {
            ConflictKind::NeverHad
        };
        Err(Error::Conflict(Conflict {
            kind,
            target,
            expected_version: expected,
            current_version: row.version,
            changed_by: row.updated_by.to_string(),
            changed_at: row.updated_at.to_string(),
        }))
    }

    /// The conflict for a row the caller read that is gone: see [`deleted`].
    fn deleted(&self, target: String, action: &str, name: &str, expected: i64) -> Error {
        deleted(self.tx, target, action, name, expected)
    }

    /// Refuses grants built against another catalog than the one this transaction
    /// writes to: their leaf numbers would name other permissions. `version` is the
    /// row's, so a caller that has moved its grants onto the new catalog may save
    /// again from it.
    fn ensure_same_catalog(&self, target: String, version: i64, grants: &Grants) -> Result<()> {
        if grants.catalog_stamp() == self.catalog.stamp() {
            return Ok(());
        }
        let who: Option<(String, String)> = self
            .tx
            .query_row(
                "SELECT actor, at FROM audit WHERE action IN ('catalog.load', 'import') ORDER BY id DESC LIMIT 1",
                params![],
                |r| Ok((text(r, 0)?, text(r, 1)?)),
            )
            .optional()?;
        let (changed_by, changed_at) = who.unwrap_or_default();
        Err(Error::Conflict(Conflict {
            kind: ConflictKind::Catalog,
            target,
            expected_version: version,
            current_version: version,
            changed_by,
            changed_at,
        }))
    }

    /// Appends one audit row.
    fn audit(
        &self,
        action: &str,
        target: &str,
        before: Option<Value>,
        after: Option<Value>,
    ) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO audit (at, actor, action, target, before, after) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                self.at,
                self.actor,
                action,
                target,
                before.map(|v| v.to_string()),
                after.map(|v| v.to_string())
            ])?;
        Ok(())
    }

    /// Audit rows of one action, in the order given: in `unnest` batches on a
    /// server (one round trip per 5,000 rows), one prepared insert each on a file.
    /// Each row is its target, its `before` and its `after`.
    fn audit_many(&self, action: &str, rows: Vec<AuditRow<'_>>) -> Result<()> {
        if !self.tx.is_pg() {
            for (target, before, after) in rows {
                self.audit(action, target, before, after)?;
            }
            return Ok(());
        }
        use tokio_postgres::types::Type;
        let json = |v: &Option<Value>| v.as_ref().map(Value::to_string);
        for chunk in rows.chunks(5_000) {
            let targets: Vec<&str> = chunk.iter().map(|(t, _, _)| *t).collect();
            let befores: Vec<Option<String>> = chunk.iter().map(|(_, b, _)| json(b)).collect();
            let afters: Vec<Option<String>> = chunk.iter().map(|(_, _, a)| json(a)).collect();
            let (at, actor): (&str, &str) = (&self.at, self.actor);
            self.tx.pg_execute(
                "INSERT INTO audit (at, actor, action, target, before, after) \
                 SELECT ?1, ?2, ?3, t, b, a \
                 FROM unnest(?4::text[], ?5::text[], ?6::text[]) WITH ORDINALITY AS x(t, b, a, n) \
                 ORDER BY n",
                &[
                    (&at, Type::TEXT),
                    (&actor, Type::TEXT),
                    (&action, Type::TEXT),
                    (&targets, Type::TEXT_ARRAY),
                    (&befores, Type::TEXT_ARRAY),
                    (&afters, Type::TEXT_ARRAY),
                ],
            )?;
        }
        Ok(())
    }
}

/// One audit row of [`Tx::audit_many`]: its target, `before` and `after`.
type AuditRow<'a> = (&'a str, Option<Value>, Option<Value>);

/// WAL lets the console read while another process writes.
fn switch_to_wal(conn: &Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "journal_mode", "WAL")
}

/// Why a connection could not be opened: SQLite's error, or this build's refusal.
enum OpenError {
    Sqlite(rusqlite::Error),
    Refused(Error),
}

/// Opens `path` and reads its schema version, the first read of the file.
fn open_connection(
    path: &Path,
    flags: OpenFlags,
) -> std::result::Result<(Connection, i64), OpenError> {
    let conn = Connection::open_with_flags(path, flags).map_err(OpenError::Sqlite)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(OpenError::Sqlite)?;
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(OpenError::Sqlite)?;
    usable_version(&conn, path).map_err(OpenError::Refused)?;
    Ok((conn, version))
}

fn is_cannot_open(e: &OpenError) -> bool {
    matches!(e, OpenError::Sqlite(err)
        if matches!(err.sqlite_error_code(),
            Some(rusqlite::ErrorCode::CannotOpen | rusqlite::ErrorCode::ReadOnly)))
}

/// `file:PATH?immutable=1`, with the characters a URI gives meaning escaped.
fn immutable_uri(path: &Path) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    let mut uri = String::from("file:");
    for &b in path.as_os_str().as_bytes() {
        match b {
            b'%' | b'?' | b'#' => uri.push_str(&format!("%{b:02X}")),
            _ if b.is_ascii() => uri.push(b as char),
            _ => uri.push_str(&format!("%{b:02X}")),
        }
    }
    uri.push_str("?immutable=1");
    PathBuf::from(uri)
}

/// Refuses a file that lacks a table its schema version has.
fn check_tables(conn: &Connection, path: &Path, version: i64) -> Result<()> {
    let tables: std::collections::HashSet<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .and_then(|mut stmt| stmt.query_map([], |r| r.get(0))?.collect())
        .map_err(|e| unreadable(path, e))?;
    if let Some(table) = schema::required_tables(version).find(|t| !tables.contains(*t)) {
        return Err(Error::Storage(format!(
            "{} is damaged: the table \"{table}\" is missing",
            shown(path)
        )));
    }
    Ok(())
}

/// "cannot read FILE: why", for a file SQLite could not read.
fn unreadable(path: &Path, e: rusqlite::Error) -> Error {
    Error::Storage(format!("cannot read {}: {}", shown(path), Error::from(e)))
}

/// Reads the first row of every table the file's schema version has, so that damage
/// to a table's root page (where it shows first) refuses the file before anything is
/// written to it. One row of each, not a count: a file of 100,000 users is not
/// scanned. A session that only reads never needs it: what it reads fails alone.
fn probe_tables(conn: &Connection, path: &Path, version: i64) -> Result<()> {
    let probe = schema::required_tables(version)
        // NOT INDEXED: the table's own tree, which a smaller index would stand in
        // for otherwise.
        .map(|t| format!("SELECT 1 FROM (SELECT 1 FROM \"{t}\" NOT INDEXED LIMIT 1)"))
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    conn.prepare(&probe)
        .and_then(|mut stmt| {
            stmt.query_map([], |_| Ok(()))?
                .collect::<rusqlite::Result<()>>()
        })
        .map_err(|e| unreadable(path, e))
}

/// The conflict for a row the caller read (at version `expected`, 0 when unknown)
/// that is gone: who deleted it and when, from the newest audit row that matches
/// `action` and `name`.
fn deleted(conn: &Db, target: String, action: &str, name: &str, expected: i64) -> Error {
    let who = last_deletion(conn, action, name).ok().flatten();
    let (changed_by, changed_at) = who.unwrap_or_default();
    Error::Conflict(Conflict {
        kind: ConflictKind::Deleted,
        target,
        expected_version: expected,
        current_version: 0,
        changed_by,
        changed_at,
    })
}

/// Who deleted the row of `name` last and when, from the audit log's newest row of
/// `action` (`role.delete`, `user.remove`, `package.delete`) for it.
fn last_deletion(conn: &Db, action: &str, name: &str) -> db::SqlResult<Option<(String, String)>> {
    conn.query_row(
        "SELECT actor, at FROM audit WHERE action = ?1 AND target = ?2 ORDER BY id DESC LIMIT 1",
        params![action, name],
        |r| Ok((text(r, 0)?, text(r, 1)?)),
    )
    .optional()
}

fn catalog_error(path: &Path, e: Error) -> Error {
    match e {
        Error::Storage(m) => Error::Storage(format!("cannot read {}: {m}", shown(path))),
        other => Error::Storage(format!("{} holds an invalid catalog: {other}", shown(path))),
    }
}

/// True when `path` has a `-wal` file that holds something.
fn has_wal_content(path: &Path) -> bool {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    fs::metadata(PathBuf::from(wal)).is_ok_and(|m| m.len() > 0)
}

/// Text read from a column as it is, with any bytes that are not UTF-8 (written by
/// another program) shown as U+FFFD: one bad value must not make the whole file
/// unreadable, and the stand-in is visible wherever the value is shown.
pub(crate) fn text(r: &Row<'_>, idx: usize) -> db::SqlResult<String> {
    Ok(opt_text(r, idx)?.unwrap_or_default())
}

/// [`text`] for a column that may be NULL.
pub(crate) fn opt_text(r: &Row<'_>, idx: usize) -> db::SqlResult<Option<String>> {
    r.text_lossy(idx)
}

/// The operator as stored now. One who was removed, or whose key was, holds nothing
/// and is not active.
fn read_operator(conn: &Db, catalog: &Catalog, by: &ServedBy) -> Result<Operator> {
    let gone = || Operator {
        username: by.username.clone(),
        active: false,
        grants: Grants::none(catalog),
    };
    let username: Option<String> = conn
        .prepare_cached("SELECT username FROM users WHERE id = ?1")?
        .query_row([by.user_id], |r| text(r, 0))
        .optional()?;
    let Some(username) = username else {
        return Ok(gone());
    };
    if let Some(fingerprint) = &by.fingerprint {
        let held: bool = conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM user_keys WHERE user_id = ?1 AND fingerprint = ?2)",
            )?
            .query_row(params![by.user_id, fingerprint], |r| r.get(0))?;
        if !held {
            return Ok(gone());
        }
    }
    let user = users::load_user(conn, &username)?;
    let direct = (user.role_id != 0).then_some((user.role_id, user.role.as_str()));
    let membership = packages::Membership::OfUser(user.id);
    let sources = packages::sources(conn, catalog, membership, direct)?;
    Ok(Operator {
        username: user.username,
        active: user.active,
        grants: crate::domain::access::union(catalog, &sources),
    })
}

/// The catalog's change number (bumped by triggers on `permissions`).
fn catalog_seq(conn: &Db) -> Result<i64> {
    Ok(conn
        .prepare_cached("SELECT catalog_seq FROM rolecall_meta WHERE id = 1")?
        .query_row(params![], |r| r.get(0))?)
}

/// Refuses a file whose schema a newer rolecall has raised since it was opened.
fn ensure_schema(conn: &Db, path: &Path) -> Result<()> {
    let version = conn.schema_version()?;
    if version == SCHEMA_VERSION {
        return Ok(());
    }
    Err(Error::Storage(format!(
        "{} was changed to schema version {version} by another rolecall while this one had it open (this one understands {SCHEMA_VERSION}); this one stops writing: nothing was changed",
        shown(path)
    )))
}

/// The file's schema version, when this build can use the file: not newer than it
/// understands, and not some other application's SQLite database.
fn usable_version(conn: &Connection, path: &Path) -> Result<i64> {
    let storage = |e: rusqlite::Error| unreadable(path, e);
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(storage)?;
    if version > SCHEMA_VERSION {
        return Err(Error::Storage(format!(
            "{} has schema version {version}, newer than this rolecall understands ({SCHEMA_VERSION}); use a newer rolecall",
            shown(path)
        )));
    }
    if version == 0 {
        let objects: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
            .map_err(storage)?;
        if objects > 0 {
            return Err(Error::Storage(format!(
                "{} is a SQLite database but not a rolecall one; pass another --db",
                shown(path)
            )));
        }
    }
    Ok(version)
}

/// What creating a database does when another process made one there first, after
/// the caller looked and before this one was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OnExisting {
    /// Opening: the other process's database serves as well as this one's would.
    Use,
    /// Copying: the target must hold the copy and nothing else, so it is refused
    /// (exit 3, as a target found not empty at the start is).
    Refuse,
}

/// The refusal of a copy to a file that exists.
fn copy_target_exists(path: &Path) -> Error {
    Error::Refused(format!(
        "{} already exists; copy only to a new file",
        shown(path)
    ))
}

/// The refusal of a copy to a PostgreSQL database that has tables.
fn copy_target_not_empty(shown: &str, tables: usize) -> Error {
    let noun = if tables == 1 { "table" } else { "tables" };
    Error::Refused(format!(
        "{shown} is not empty (it has {tables} {noun}); copy only into an empty database"
    ))
}

/// Creates a new database atomically: it is built and seeded under a temporary name
/// in the same folder, then linked into place, so no other process ever sees a
/// half-made file. If another process won the race, its file is used, or with
/// [`OnExisting::Refuse`] refused.
fn create(path: &Path, fill: &dyn Fn(&Db) -> Result<()>, on_existing: OnExisting) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| Error::Storage(format!("cannot create the folder {}: {e}", shown(dir))))?;
    }
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = path.with_file_name(format!(".{file_name}.{}.new", std::process::id()));
    let cleanup = |temp: &Path| {
        for suffix in ["", "-journal", "-wal", "-shm"] {
            let mut p = temp.as_os_str().to_owned();
            p.push(suffix);
            let _ = fs::remove_file(PathBuf::from(p));
        }
    };
    let result = (|| -> Result<()> {
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)
            .map_err(|e| Error::Storage(format!("cannot create {}: {e}", shown(path))))?;
        let conn = Connection::open_with_flags(&temp, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
        conn.pragma_update(None, "foreign_keys", true)?;
        let conn = Db::sqlite(conn);
        migrate(&conn, None).map_err(|e| Error::Storage(e.to_string()))?;
        {
            let tx = conn.begin_write()?;
            fill(&tx)?;
            tx.commit()?;
        }
        let Db::Sqlite(conn) = conn else {
            unreachable!("made as SQLite above")
        };
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.close().map_err(|(_, e)| Error::from(e))?;
        match fs::hard_link(&temp, path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => match on_existing {
                OnExisting::Use => Ok(()),
                OnExisting::Refuse => Err(copy_target_exists(path)),
            },
            Err(e) => Err(Error::Storage(format!(
                "cannot create {}: {e}",
                shown(path)
            ))),
        }
    })();
    cleanup(&temp);
    result
}

/// Applies the migrations this file lacks, one transaction each, with foreign keys
/// off (a migration may rebuild a table) and checked before each commit. A fresh
/// file gets every migration in one transaction, and the seed with them when
/// `catalog` is given (a copy brings its own rows instead).
fn migrate(conn: &Db, catalog: Option<&Catalog>) -> Result<()> {
    let raw = conn.as_sqlite().expect("SQLite migrations run on SQLite");
    raw.pragma_update(None, "foreign_keys", false)?;
    let result = migrate_steps(conn, catalog);
    raw.pragma_update(None, "foreign_keys", true)?;
    result
}

fn migrate_steps(conn: &Db, catalog: Option<&Catalog>) -> Result<()> {
    let raw = conn.as_sqlite().expect("SQLite migrations run on SQLite");
    loop {
        let tx = conn.begin_write()?;
        let version: i64 = raw.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let steps = match version {
            0 => schema::MIGRATIONS,
            v => match schema::MIGRATIONS.get(v as usize..) {
                Some(rest) if !rest.is_empty() => &rest[..1],
                _ => return Ok(()),
            },
        };
        for (i, batch) in steps.iter().enumerate() {
            tx.execute_batch(batch)?;
            if version as usize + i + 1 == schema::ROLE_KEYS_FROM && version > 0 {
                rekey_role_names(&tx)?;
            }
        }
        if let (0, Some(catalog)) = (version, catalog) {
            seed(&tx, catalog)?;
        }
        let broken: Option<String> = tx
            .query_row(
                "SELECT \"table\" FROM pragma_foreign_key_check LIMIT 1",
                params![],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(table) = broken {
            return Err(Error::Storage(format!(
                "the upgrade found rows of \"{table}\" that point at rows that do not exist; nothing was changed"
            )));
        }
        raw.pragma_update(None, "user_version", version + steps.len() as i64)?;
        tx.commit()?;
    }
}

/// The key a role name is unique under: [`crate::text::name_key`].
pub(crate) fn name_key(name: &str) -> String {
    crate::text::name_key(name)
}

/// Recomputes every role's unique key with [`name_key`], which ignores invisible
/// characters. Roles that only differed by such characters (fourteen that all read
/// "Administrator") would now share a key: each after the first, in id order, is
/// renamed `<visible name> (id N)`, with an audit row saying why.
fn rekey_role_names(tx: &Db) -> Result<()> {
    let roles: Vec<(i64, String)> = tx
        .prepare("SELECT id, name FROM roles ORDER BY id")?
        .query_map(params![], |r| Ok((r.get(0)?, text(r, 1)?)))?
        .collect::<db::SqlResult<_>>()?;
    tx.execute("UPDATE roles SET name_fold = '~' || id", params![])?;
    let mut taken = std::collections::HashSet::new();
    for (id, name) in roles {
        let mut new_name = name.clone();
        let mut key = name_key(&name);
        if !taken.insert(key.clone()) {
            let visible: String = name
                .chars()
                .filter(|c| !crate::text::has_unsafe(&c.to_string()))
                .collect();
            new_name = format!("{} (id {id})", visible.trim());
            key = name_key(&new_name);
            taken.insert(key.clone());
            tx.execute(
                "INSERT INTO audit (at, actor, action, target, before, after) VALUES (?1, 'rolecall upgrade', 'role.update', ?2, ?3, ?4)",
                params![
                    now(),
                    new_name,
                    serde_json::json!({"name": name}).to_string(),
                    serde_json::json!({"name": new_name, "reason": "another role has the same name once invisible characters are ignored"}).to_string()
                ],
            )?;
        }
        tx.execute(
            "UPDATE roles SET name = ?1, name_fold = ?2 WHERE id = ?3",
            params![new_name, key, id],
        )?;
    }
    Ok(())
}

/// The catalog, Administrator, the example roles of seed 001 and the default role,
/// written as change number 1.
fn seed(tx: &Db, catalog: &Catalog) -> Result<()> {
    write_catalog(tx, &catalog.entries())?;
    let seq: i64 = tx.query_row(
        "UPDATE rolecall_meta SET change_seq = change_seq + 1 RETURNING change_seq",
        params![],
        |r| r.get(0),
    )?;
    let catalog = catalog.clone().with_stamp(catalog_seq(tx)?);
    let actor = actor_from_env();
    let ctx = Tx {
        tx,
        catalog: &catalog,
        actor: &actor,
        at: now(),
        seq,
        operator: None,
    };
    let catalog = &catalog;
    roles::insert_role(
        &ctx,
        ADMINISTRATOR,
        "Full system access; holds every permission, always.",
        true,
        &Grants::all(catalog),
    )?;
    for (name, description, specs) in EXAMPLE_ROLES {
        let mut grants = Grants::none(catalog);
        for spec in *specs {
            grants.set_range(catalog.resolve(spec)?, true);
        }
        let id = roles::insert_role(&ctx, name, description, false, &grants)?;
        if *name == INITIAL_DEFAULT_ROLE {
            tx.execute(
                "INSERT INTO settings (id, default_role_id) VALUES (1, ?1)",
                [id],
            )?;
        }
    }
    ctx.audit(
        "database.create",
        "database",
        None,
        Some(serde_json::json!({"schema_version": SCHEMA_VERSION, "permissions": catalog.leaf_count()})),
    )?;
    Ok(())
}

/// Writes catalog rows in order; `position` keeps the file's order.
fn write_catalog(tx: &Db, entries: &[CatalogEntry]) -> Result<()> {
    let stmt = tx.prepare(
        "INSERT INTO permissions (key, parent, label, description, position) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for (pos, e) in entries.iter().enumerate() {
        let parent = e.key.rsplit_once('.').map(|(p, _)| p);
        stmt.execute(params![e.key, parent, e.label, e.description, pos as i64])?;
    }
    Ok(())
}

/// The catalog as stored, stamped with its change number. Call it inside a
/// transaction (or on a connection that writes nothing between) so the stamp and
/// the rows agree.
fn load_catalog(conn: &Db) -> Result<Catalog> {
    let stamp = catalog_seq(conn)?;
    let stmt = conn.prepare("SELECT key, label, description FROM permissions ORDER BY position")?;
    let entries = stmt
        .query_map(params![], |r| {
            Ok(CatalogEntry {
                key: text(r, 0)?,
                label: text(r, 1)?,
                description: text(r, 2)?,
            })
        })?
        .collect::<db::SqlResult<Vec<_>>>()?;
    let operator = load_operator_keys(conn)?;
    Ok(Catalog::from_stored(entries)?
        .with_stamp(stamp)
        .with_operator(operator))
}

/// The permissions `[operator]` named, over the defaults (SPEC §13). A file of an
/// older schema has none.
fn load_operator_keys(conn: &Db) -> Result<OperatorKeys> {
    let version = conn.schema_version()?;
    if version < 5 {
        return Ok(OperatorKeys::default());
    }
    let stmt = conn.prepare_cached("SELECT right_name, permission FROM operator_permissions")?;
    let rows = stmt
        .query_map(params![], |r| Ok((text(r, 0)?, text(r, 1)?)))?
        .collect::<db::SqlResult<Vec<_>>>()?;
    Ok(operator_keys(rows))
}

/// The defaults, with the rights the stored rows name.
pub(super) fn operator_keys(rows: impl IntoIterator<Item = (String, String)>) -> OperatorKeys {
    let mut keys = OperatorKeys::default();
    for (right, permission) in rows {
        match right.as_str() {
            "users" => keys.users = permission,
            "roles" => keys.roles = permission,
            "audit" => keys.audit = permission,
            _ => {}
        }
    }
    keys
}

/// The catalog of a PostgreSQL database whose schema is this build's and whole, read
/// with its version in one statement: one round trip and one snapshot, for a command
/// such as `check` pays for every trip to the server and for every table a new
/// server process reads for the first time. `None` when the database is anything
/// else: no schema, another version, a catalog that does not validate. A table
/// dropped from a current schema by hand is not looked for here: the first
/// statement that needs it says the database is damaged, naming it.
fn pg_current_catalog(conn: &Db) -> db::SqlResult<Option<Catalog>> {
    let sql = "SELECT s.version, m.catalog_seq, \
           coalesce((SELECT json_agg(json_build_array(key, label, description) ORDER BY position) \
             FROM permissions)::text, '[]'), \
           coalesce((SELECT json_agg(json_build_array(right_name, permission)) \
             FROM operator_permissions)::text, '[]') \
         FROM rolecall_schema s, rolecall_meta m WHERE s.id = 1 AND m.id = 1";
    let found = conn.query_row(sql, params![], |r| {
        Ok((r.get::<i64>(0)?, r.get::<i64>(1)?, text(r, 2)?, text(r, 3)?))
    });
    let (version, stamp, entries, operator) = match found {
        Ok(found) => found,
        Err(db::DbError::Pg(e))
            if e.code() == Some(&tokio_postgres::error::SqlState::UNDEFINED_TABLE) =>
        {
            return Ok(None);
        }
        Err(db::DbError::NoRows) => return Ok(None),
        Err(e) => return Err(e),
    };
    if version != SCHEMA_VERSION {
        return Ok(None);
    }
    let bad =
        |e: serde_json::Error| db::DbError::Column(format!("the catalog could not be read: {e}"));
    let entries: Vec<(String, String, String)> = serde_json::from_str(&entries).map_err(bad)?;
    let operator: Vec<(String, String)> = serde_json::from_str(&operator).map_err(bad)?;
    // A stored catalog that does not validate takes the slow path, which says why.
    Ok(catalog_from_stored(entries, stamp, operator_keys(operator)))
}

/// The catalog of stored (key, label, description) rows in position order, with its
/// change number and operator permissions; `None` when the rows do not validate.
pub(super) fn catalog_from_stored(
    entries: Vec<(String, String, String)>,
    stamp: i64,
    operator: OperatorKeys,
) -> Option<Catalog> {
    let entries = entries
        .into_iter()
        .map(|(key, label, description)| CatalogEntry {
            key,
            label,
            description,
        });
    let catalog = Catalog::from_stored(entries).ok()?;
    Some(catalog.with_stamp(stamp).with_operator(operator))
}

/// Stores `keys` (only those that differ from the defaults), moving the catalog's
/// change number on when they changed so every process reads them again.
pub(crate) fn write_operator_keys(tx: &Db, keys: &OperatorKeys) -> Result<bool> {
    if load_operator_keys(tx)? == *keys {
        return Ok(false);
    }
    tx.execute("DELETE FROM operator_permissions", params![])?;
    let defaults = OperatorKeys::default();
    for right in Right::ALL {
        if keys.permission(right) != defaults.permission(right) {
            tx.execute(
                "INSERT INTO operator_permissions (right_name, permission) VALUES (?1, ?2)",
                params![right.name(), keys.permission(right)],
            )?;
        }
    }
    tx.execute(
        "UPDATE rolecall_meta SET catalog_seq = catalog_seq + 1",
        params![],
    )?;
    Ok(true)
}

/// The tables in the connection's current schema.
fn pg_tables(conn: &Db) -> db::SqlResult<std::collections::HashSet<String>> {
    // pg_class, not information_schema.tables: the latter's view costs tens of
    // milliseconds, on every start of every command.
    conn.prepare(
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm', 'f')",
    )?
    .query_map(params![], |r| text(r, 0))?
    .collect()
}

/// Upgrades a PostgreSQL database of an older schema version to this one, in one
/// transaction that queues behind every writer (it first takes the change counter's
/// row) and reads the version again once it holds it, so two rolecalls opening the
/// database at once upgrade it once. Changing the schema takes the rights of the
/// login that owns the tables; another login is told so, and nothing is changed.
///
/// Changing a table or view waits for the transactions using it, and queues every
/// later reader behind it (an application's idle transaction that read
/// `user_permissions` would stall every other lookup): the upgrade gives up after
/// [`UPGRADE_LOCK_WAIT`], changing nothing, and the next open tries again.
fn upgrade_pg(conn: &Db, shown: &str) -> Result<()> {
    let failed = |e: db::DbError| {
        use tokio_postgres::error::SqlState;
        let code = match &e {
            db::DbError::Pg(pg) => pg.code().cloned(),
            _ => None,
        };
        match code {
            Some(c) if c == SqlState::INSUFFICIENT_PRIVILEGE => Error::Storage(format!(
                "{shown} needs upgrading to schema version {SCHEMA_VERSION}, and only the login that owns its tables may change them; open it once as that login (nothing was changed)"
            )),
            Some(c) if c == SqlState::LOCK_NOT_AVAILABLE => Error::Storage(format!(
                "cannot upgrade {shown} now: another transaction is using its tables or views (waited {} s for it, which would have held up every other reader); nothing was changed: try again once it has ended",
                UPGRADE_LOCK_WAIT.as_secs()
            )),
            _ => Error::Storage(format!("cannot upgrade {shown}: {}", Error::from(e))),
        }
    };
    let tx = conn.begin_write().map_err(failed)?;
    tx.execute(
        "UPDATE rolecall_meta SET change_seq = change_seq + 1",
        params![],
    )
    .map_err(failed)?;
    let version = tx.schema_version().map_err(failed)?;
    if version > SCHEMA_VERSION {
        tx.rollback().map_err(failed)?;
        return Err(Error::Storage(format!(
            "{shown} was upgraded to schema version {version} by a newer rolecall while this one waited (this one understands {SCHEMA_VERSION}); use a newer rolecall"
        )));
    }
    if version == SCHEMA_VERSION {
        // Another rolecall upgraded it while this one waited.
        return tx.rollback().map_err(failed);
    }
    tx.execute_batch(&format!(
        "SET LOCAL lock_timeout = '{}ms'",
        UPGRADE_LOCK_WAIT.as_millis()
    ))
    .map_err(failed)?;
    let from = (version - pg_schema::FIRST_VERSION) as usize;
    for step in &pg_schema::UPGRADES[from..] {
        step(&tx).map_err(failed)?;
    }
    tx.execute(
        "UPDATE rolecall_schema SET version = ?1 WHERE id = 1",
        [SCHEMA_VERSION],
    )
    .map_err(failed)?;
    // The policy snapshot records the version it was built for: build it again.
    if pg_policy::exists(&tx).map_err(failed)? {
        pg_policy::mark_stale(&tx).map_err(failed)?;
    } else {
        pg_policy::create(&tx).map_err(failed)?;
    }
    pg_policy::refresh(&tx).map_err(failed)?;
    tx.commit().map_err(failed)
}

/// Creates the schema in an empty PostgreSQL database and fills it, in one
/// transaction. Two processes that start on the same empty database at once queue
/// on an advisory lock, and the second looks at the tables only once it holds it:
/// it finds the schema made and uses it, or with [`OnExisting::Refuse`] (a copy,
/// which must not report rows it never wrote) refuses any table it finds.
fn create_pg(
    conn: &Db,
    shown: &str,
    fill: &dyn Fn(&Db) -> Result<()>,
    on_existing: OnExisting,
) -> Result<()> {
    let failed =
        |e: db::DbError| Error::Storage(format!("cannot create {shown}: {}", Error::from(e)));
    let tx = conn.begin_write().map_err(failed)?;
    tx.execute_batch("SELECT pg_advisory_xact_lock(7242643412)")
        .map_err(failed)?;
    // READ COMMITTED: this statement sees whatever the lock's last holder committed.
    let tables = pg_tables(&tx).map_err(failed)?;
    if on_existing == OnExisting::Refuse && !tables.is_empty() {
        return Err(copy_target_not_empty(shown, tables.len()));
    }
    if tables.contains("rolecall_schema") {
        return tx.commit().map_err(failed);
    }
    if !tables.is_empty() {
        return Err(Error::Storage(format!(
            "{shown} is a PostgreSQL database with other tables in it, not a rolecall one; pass an empty database"
        )));
    }
    tx.execute_batch(pg_schema::CREATE).map_err(failed)?;
    tx.execute_batch(pg_schema::USER_PERMISSIONS)
        .map_err(failed)?;
    tx.execute_batch(pg_schema::BUILTIN_HOLDS).map_err(failed)?;
    pg_policy::create(&tx).map_err(failed)?;
    fill(&tx).map_err(|e| match e {
        Error::Storage(m) => Error::Storage(format!("cannot create {shown}: {m}")),
        other => other,
    })?;
    tx.execute(
        "INSERT INTO rolecall_schema (id, version) VALUES (1, ?1)",
        [SCHEMA_VERSION],
    )
    .map_err(failed)?;
    pg_policy::refresh(&tx).map_err(failed)?;
    tx.commit().map_err(failed)
}
