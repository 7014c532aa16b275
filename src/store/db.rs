//! The one way the store runs SQL, on either backend. Queries are written once with
//! SQLite's `?N` placeholders; the methods mirror the part of rusqlite the store uses
//! (`prepare_cached`, `query_row`, `query_map`, `execute`, `optional`), so a query
//! reads the same whichever database answers it. Only opening, the schema, the change
//! token and error mapping differ per backend, and they live in `store/mod.rs`.

use std::cell::{Cell, RefCell};

use rusqlite::types::ValueRef;
use tokio_postgres::types::{IsNull, ToSql, Type};

/// What a query can fail with: the backend's error, no row where one was required,
/// or a column that does not hold the type asked for.
#[derive(Debug)]
pub(crate) enum DbError {
    Sqlite(rusqlite::Error),
    Pg(tokio_postgres::Error),
    NoRows,
    Column(String),
    /// A statement that writes, outside a transaction, on a read-only session.
    ReadOnly,
    /// The connection was lost while a transaction was being committed: whether the
    /// server committed it is unknown.
    CommitLost(tokio_postgres::Error),
    /// The connection was lost, and connecting again failed (or was not tried so
    /// soon after a failure): why the server could not be reached.
    Unreachable(String),
}

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DbError::Sqlite(e) => write!(f, "{e}"),
            DbError::Pg(e) => write!(f, "{}", pg_message(e)),
            DbError::Column(m) => write!(f, "{m}"),
            DbError::NoRows => write!(f, "the query returned no rows"),
            DbError::ReadOnly => write!(f, "a write was refused on a read-only session"),
            DbError::CommitLost(e) => write!(f, "{}", pg_message(e)),
            DbError::Unreachable(why) => write!(f, "{why}"),
        }
    }
}

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> Self {
        match e {
            rusqlite::Error::QueryReturnedNoRows => DbError::NoRows,
            other => DbError::Sqlite(other),
        }
    }
}

impl From<tokio_postgres::Error> for DbError {
    fn from(e: tokio_postgres::Error) -> Self {
        DbError::Pg(e)
    }
}

/// The server's own message when there is one (it names the constraint or the
/// object), else the driver's.
pub(crate) fn pg_message(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => db.message().to_string(),
        None => e.to_string(),
    }
}

/// What a PostgreSQL error means for the operator, in the words SQLite's errors get.
fn pg_error(e: &tokio_postgres::Error) -> crate::error::Error {
    use tokio_postgres::error::SqlState;
    let detail = match e.code() {
        Some(c) if *c == SqlState::DISK_FULL => {
            "the database server's disk is full; nothing was changed".to_string()
        }
        Some(c) if *c == SqlState::LOCK_NOT_AVAILABLE => {
            "the database stayed locked by another process for too long; nothing was changed"
                .to_string()
        }
        Some(c) if *c == SqlState::READ_ONLY_SQL_TRANSACTION => {
            "the database cannot be written (a read-only server or replica); nothing was changed"
                .to_string()
        }
        Some(c) if *c == SqlState::UNDEFINED_TABLE => format!(
            "the database is damaged or is not a rolecall database ({}); nothing was written to it",
            pg_message(e)
        ),
        Some(c) if *c == SqlState::INSUFFICIENT_PRIVILEGE => format!(
            "the database refused this login: {}; nothing was changed",
            pg_message(e)
        ),
        Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED => {
            "another process changed the database at the same moment; nothing was changed: try again"
                .to_string()
        }
        _ if e.is_closed() || e.as_db_error().is_none() => format!(
            "the connection to the database server failed ({}); nothing was changed",
            pg_message(e)
        ),
        _ => format!("database error: {}", pg_message(e)),
    };
    crate::error::Error::Storage(detail)
}

impl From<DbError> for crate::error::Error {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Sqlite(e) => e.into(),
            DbError::Pg(e) => pg_error(&e),
            DbError::Column(m) => crate::error::Error::Storage(format!("database error: {m}")),
            DbError::NoRows => crate::error::Error::Storage(
                "database error: a row the store expected is missing".into(),
            ),
            DbError::ReadOnly => crate::error::Error::Refused(
                "read-only: this session was opened with --read-only, so nothing can be changed"
                    .into(),
            ),
            DbError::Unreachable(why) => crate::error::Error::Storage(format!(
                "the connection to the database server was lost and {why}; nothing was changed (rolecall tries again a few seconds after each failed try)"
            )),
            DbError::CommitLost(e) => crate::error::Error::Storage(format!(
                "the connection to the database server was lost as the change was committed ({}); it may or may not have been made: look before you try again",
                pg_message(&e)
            )),
        }
    }
}

pub(crate) type SqlResult<T> = std::result::Result<T, DbError>;

/// `.optional()` on a single-row read, as rusqlite's `OptionalExtension`.
pub(crate) trait OptionalExtension<T> {
    fn optional(self) -> SqlResult<Option<T>>;
}

impl<T> OptionalExtension<T> for SqlResult<T> {
    fn optional(self) -> SqlResult<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(DbError::NoRows) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// A value a query can take as a parameter: what rusqlite binds, and the value and
/// type PostgreSQL is told (every parameter's type is explicit there, so no statement
/// is prepared by name and a NULL has the type of its column).
pub(crate) trait Param: rusqlite::ToSql + Sync {
    fn pg(&self) -> PgValue<'_>;
}

/// The PostgreSQL type of a parameter, for a NULL of it.
pub(crate) trait PgTyped {
    const TYPE: Type;
}

/// A parameter as PostgreSQL is sent it.
pub(crate) enum PgValue<'a> {
    Int(i64),
    Bool(bool),
    Text(&'a str),
    Null(Type),
}

impl Param for i64 {
    fn pg(&self) -> PgValue<'_> {
        PgValue::Int(*self)
    }
}
impl PgTyped for i64 {
    const TYPE: Type = Type::INT8;
}
impl Param for bool {
    fn pg(&self) -> PgValue<'_> {
        PgValue::Bool(*self)
    }
}
impl PgTyped for bool {
    const TYPE: Type = Type::BOOL;
}
impl Param for str {
    fn pg(&self) -> PgValue<'_> {
        PgValue::Text(self)
    }
}
impl PgTyped for &str {
    const TYPE: Type = Type::TEXT;
}
impl Param for String {
    fn pg(&self) -> PgValue<'_> {
        PgValue::Text(self)
    }
}
impl PgTyped for String {
    const TYPE: Type = Type::TEXT;
}
impl PgTyped for &String {
    const TYPE: Type = Type::TEXT;
}
impl<T: Param + ?Sized> Param for &T {
    fn pg(&self) -> PgValue<'_> {
        (**self).pg()
    }
}
impl<T: Param + PgTyped> Param for Option<T> {
    fn pg(&self) -> PgValue<'_> {
        match self {
            Some(v) => v.pg(),
            None => PgValue::Null(T::TYPE),
        }
    }
}
impl<T: Param + ?Sized> Param for Box<T> {
    fn pg(&self) -> PgValue<'_> {
        (**self).pg()
    }
}

/// A NULL of whatever type the statement says.
#[derive(Debug)]
struct Null;

impl ToSql for Null {
    fn to_sql(
        &self,
        _: &Type,
        _: &mut bytes::BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        Ok(IsNull::Yes)
    }
    fn accepts(_: &Type) -> bool {
        true
    }
    tokio_postgres::types::to_sql_checked!();
}

impl PgValue<'_> {
    pub(super) fn arg(&self) -> (&(dyn ToSql + Sync), Type) {
        match self {
            PgValue::Int(i) => (i, Type::INT8),
            PgValue::Bool(b) => (b, Type::BOOL),
            PgValue::Text(s) => (s, Type::TEXT),
            PgValue::Null(t) => (&Null, t.clone()),
        }
    }
}

/// A list of parameters: `params![...]`, `[x, y]` of one type, or `[]`.
pub(crate) trait Params {
    fn with<R>(&self, f: impl FnOnce(&[&dyn Param]) -> R) -> R;
}

impl Params for &[&dyn Param] {
    fn with<R>(&self, f: impl FnOnce(&[&dyn Param]) -> R) -> R {
        f(self)
    }
}

impl<T: Param, const N: usize> Params for [T; N] {
    fn with<R>(&self, f: impl FnOnce(&[&dyn Param]) -> R) -> R {
        f(&self.each_ref().map(|p| p as &dyn Param))
    }
}

impl<T: Param, const N: usize> Params for &[T; N] {
    fn with<R>(&self, f: impl FnOnce(&[&dyn Param]) -> R) -> R {
        f(&self.each_ref().map(|p| p as &dyn Param))
    }
}

/// rusqlite's `params!`, for [`Params`].
macro_rules! params {
    () => { [] as [&dyn $crate::store::db::Param; 0] };
    ($($p:expr),+ $(,)?) => { [$(&$p as &dyn $crate::store::db::Param),+] };
}
pub(crate) use params;

/// A value read from a column.
pub(crate) trait FromCol: Sized {
    fn from_sqlite(row: &rusqlite::Row<'_>, idx: usize) -> SqlResult<Self>;
    fn from_pg(row: &tokio_postgres::Row, idx: usize) -> SqlResult<Self>;
}

/// An integer column of PostgreSQL, whatever its width (`length()` is INTEGER, a
/// column BIGINT), or a flag read as a number.
fn pg_int(row: &tokio_postgres::Row, idx: usize) -> SqlResult<Option<i64>> {
    let ty = row.columns().get(idx).map(|c| c.type_().clone());
    Ok(match ty {
        Some(Type::INT2) => row.try_get::<_, Option<i16>>(idx)?.map(i64::from),
        Some(Type::INT4) => row.try_get::<_, Option<i32>>(idx)?.map(i64::from),
        Some(Type::BOOL) => row.try_get::<_, Option<bool>>(idx)?.map(i64::from),
        _ => row.try_get::<_, Option<i64>>(idx)?,
    })
}

fn pg_bool(row: &tokio_postgres::Row, idx: usize) -> SqlResult<Option<bool>> {
    match row.columns().get(idx).map(|c| c.type_().clone()) {
        Some(Type::BOOL) => Ok(row.try_get(idx)?),
        _ => Ok(pg_int(row, idx)?.map(|i| i != 0)),
    }
}

fn missing(idx: usize) -> DbError {
    DbError::Column(format!("column {idx} is NULL where a value is required"))
}

impl FromCol for i64 {
    fn from_sqlite(row: &rusqlite::Row<'_>, idx: usize) -> SqlResult<Self> {
        Ok(row.get(idx)?)
    }
    fn from_pg(row: &tokio_postgres::Row, idx: usize) -> SqlResult<Self> {
        pg_int(row, idx)?.ok_or_else(|| missing(idx))
    }
}
impl FromCol for Option<i64> {
    fn from_sqlite(row: &rusqlite::Row<'_>, idx: usize) -> SqlResult<Self> {
        Ok(row.get(idx)?)
    }
    fn from_pg(row: &tokio_postgres::Row, idx: usize) -> SqlResult<Self> {
        pg_int(row, idx)
    }
}
impl FromCol for bool {
    fn from_sqlite(row: &rusqlite::Row<'_>, idx: usize) -> SqlResult<Self> {
        Ok(row.get(idx)?)
    }
    fn from_pg(row: &tokio_postgres::Row, idx: usize) -> SqlResult<Self> {
        pg_bool(row, idx)?.ok_or_else(|| missing(idx))
    }
}
impl FromCol for Option<bool> {
    fn from_sqlite(row: &rusqlite::Row<'_>, idx: usize) -> SqlResult<Self> {
        Ok(row.get(idx)?)
    }
    fn from_pg(row: &tokio_postgres::Row, idx: usize) -> SqlResult<Self> {
        pg_bool(row, idx)
    }
}
impl FromCol for String {
    fn from_sqlite(row: &rusqlite::Row<'_>, idx: usize) -> SqlResult<Self> {
        Ok(row.get(idx)?)
    }
    fn from_pg(row: &tokio_postgres::Row, idx: usize) -> SqlResult<Self> {
        Option::<String>::from_pg(row, idx)?.ok_or_else(|| missing(idx))
    }
}
impl FromCol for Option<String> {
    fn from_sqlite(row: &rusqlite::Row<'_>, idx: usize) -> SqlResult<Self> {
        Ok(row.get(idx)?)
    }
    fn from_pg(row: &tokio_postgres::Row, idx: usize) -> SqlResult<Self> {
        match row.columns().get(idx).map(|c| c.type_().clone()) {
            Some(Type::INT2 | Type::INT4 | Type::INT8 | Type::BOOL) => {
                Ok(pg_int(row, idx)?.map(|i| i.to_string()))
            }
            _ => Ok(row.try_get(idx)?),
        }
    }
}

/// One row of a result.
pub(crate) enum Row<'a> {
    Sqlite(&'a rusqlite::Row<'a>),
    Pg(&'a tokio_postgres::Row),
}

impl Row<'_> {
    pub(crate) fn get<T: FromCol>(&self, idx: usize) -> SqlResult<T> {
        match self {
            Row::Sqlite(r) => T::from_sqlite(r, idx),
            Row::Pg(r) => T::from_pg(r, idx),
        }
    }

    /// Text as stored, with bytes that are not UTF-8 (written by another program)
    /// shown as U+FFFD, so one bad value cannot make a whole listing unreadable.
    pub(crate) fn text_lossy(&self, idx: usize) -> SqlResult<Option<String>> {
        match self {
            Row::Sqlite(r) => Ok(match r.get_ref(idx)? {
                ValueRef::Null => None,
                ValueRef::Text(bytes) | ValueRef::Blob(bytes) => {
                    Some(String::from_utf8_lossy(bytes).into_owned())
                }
                ValueRef::Integer(i) => Some(i.to_string()),
                ValueRef::Real(f) => Some(f.to_string()),
            }),
            // The server checks that text is valid in its encoding.
            Row::Pg(r) => Option::<String>::from_pg(r, idx),
        }
    }
}

/// A connection to either backend.
pub(crate) enum Db {
    Sqlite(rusqlite::Connection),
    /// Boxed: a client is several times the size of a SQLite handle.
    Pg(Box<Pg>),
}

/// A PostgreSQL session. The store reads through shared references (a transaction
/// is a borrowed `Db`), while the driver wants `&mut` for every call: the client sits
/// in a `RefCell`, and no call re-enters another (rows are read before the caller's
/// closure runs).
pub(crate) struct Pg {
    client: RefCell<super::pg_client::Client>,
    /// Connects to the same server again ([`Pg::run`]); `None` when it cannot.
    reconnect: Box<dyn Fn() -> crate::error::Result<super::pg_client::Client> + Send>,
    /// Rows written by this session's statements, for [`Db::total_changes`].
    changes: Cell<u64>,
    /// A read-only session (`--read-only`, or `rolecall serve`'s key checks): each
    /// transaction is begun `READ ONLY`, so the server refuses any write in it, and a
    /// statement run to write outside a transaction is refused here. Never a session
    /// setting (`SET default_transaction_read_only`): behind a pooler in transaction
    /// mode (PgBouncer) a session's settings stay on the server connection and reach
    /// whichever client gets it next, making their writes fail.
    read_only: bool,
    /// A transaction is open on this session.
    in_tx: Cell<bool>,
    /// After a failed attempt to connect again, none is made before this moment (at
    /// least [`RETRY_PAUSE`] later, and three times as long as the attempt took):
    /// statements fail at once meanwhile, with the failure's reason, so a console
    /// polling a server that is gone is kept waiting a quarter of the time at most.
    down: RefCell<Option<(std::time::Instant, String)>>,
}

/// The least a session waits, after failing to connect again, before it tries again.
const RETRY_PAUSE: std::time::Duration = std::time::Duration::from_secs(5);

impl Pg {
    /// Runs `op` on the session's connection. A connection the server has closed (a
    /// restart, a terminated backend) is made again, outside a transaction, before
    /// `op` runs, and after `op` fails on it: `op` then runs once more, as outside a
    /// transaction rolecall only reads or begins one, so nothing is done twice.
    /// Inside a transaction the error stands: the transaction went with its
    /// connection.
    fn run<T>(
        &self,
        op: impl Fn(&mut super::pg_client::Client) -> Result<T, tokio_postgres::Error>,
    ) -> SqlResult<T> {
        let mut client = self.client.borrow_mut();
        if self.in_tx.get() {
            return Ok(op(&mut client)?);
        }
        // One attempt to connect again per statement: a server that is down costs
        // one connection timeout, not two.
        let reconnected_first = client.is_closed();
        let mut unreachable = None;
        if reconnected_first {
            match self.reconnect_now() {
                Ok(fresh) => *client = fresh,
                Err(why) => unreachable = Some(why),
            }
        }
        match op(&mut client) {
            Err(e) if !reconnected_first && lost(&e) => {
                let fresh = self.reconnect_now().map_err(DbError::Unreachable)?;
                *client = fresh;
                Ok(op(&mut client)?)
            }
            Err(e)
                if lost(&e)
                    && let Some(why) = unreachable =>
            {
                Err(DbError::Unreachable(why))
            }
            done => Ok(done?),
        }
    }

    /// A new connection, unless the last attempt failed less than [`RETRY_PAUSE`]
    /// ago; else why the server could not be reached.
    fn reconnect_now(&self) -> Result<super::pg_client::Client, String> {
        if let Some((retry_at, why)) = &*self.down.borrow()
            && std::time::Instant::now() < *retry_at
        {
            return Err(why.clone());
        }
        let started = std::time::Instant::now();
        match (self.reconnect)() {
            Ok(fresh) => {
                self.down.replace(None);
                Ok(fresh)
            }
            Err(e) => {
                let why = e.to_string();
                // A try that waited out a timeout blocked its caller for that long:
                // wait three times as long before the next, so a console spends at
                // most a quarter of its time waiting on a server that is gone.
                let pause = RETRY_PAUSE.max(started.elapsed() * 3);
                let retry_at = std::time::Instant::now() + pause;
                self.down.replace(Some((retry_at, why.clone())));
                Err(why)
            }
        }
    }
}

/// True when `e` says the connection is gone: closed, broken, or ended by the
/// server (shut down, or the backend terminated).
fn lost(e: &tokio_postgres::Error) -> bool {
    use tokio_postgres::error::SqlState;
    let io = std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>());
    let ended = e.code().is_some_and(|c| {
        *c == SqlState::ADMIN_SHUTDOWN
            || *c == SqlState::CRASH_SHUTDOWN
            || *c == SqlState::CANNOT_CONNECT_NOW
    });
    e.is_closed() || io || ended
}

/// A statement: its SQL, ready for the backend it runs on.
pub(crate) struct Stmt<'a> {
    db: &'a Db,
    sql: String,
}

impl Db {
    pub(crate) fn sqlite(conn: rusqlite::Connection) -> Db {
        // Every query goes through the statement cache; the store has about a hundred
        // distinct ones and a bulk write cycles through a dozen, so the default of 16
        // would evict statements a loop is about to run again.
        conn.set_prepared_statement_cache_capacity(256);
        Db::Sqlite(conn)
    }

    /// A session on the server `target` names, which connects again when the server
    /// closes it ([`Pg::run`]); with `read_only`, one that writes nothing (see
    /// [`Pg::read_only`]).
    pub(crate) fn pg(target: super::pg::Target, read_only: bool) -> crate::error::Result<Db> {
        let client = super::pg::connect(&target)?;
        Ok(Db::Pg(Box::new(Pg {
            client: RefCell::new(client),
            reconnect: Box::new(move || super::pg::connect(&target)),
            changes: Cell::new(0),
            read_only,
            in_tx: Cell::new(false),
            down: RefCell::new(None),
        })))
    }

    /// Refuses a statement run to write on a read-only session outside a
    /// transaction (inside one, the transaction is `READ ONLY` and the server
    /// refuses it).
    fn writable(pg: &Pg) -> SqlResult<()> {
        match pg.read_only && !pg.in_tx.get() {
            true => Err(DbError::ReadOnly),
            false => Ok(()),
        }
    }

    /// Begins a PostgreSQL transaction with `begin` (`BEGIN ...` and its settings).
    fn begin_pg(&self, pg: &Pg, begin: &str) -> SqlResult<()> {
        self.execute_batch(begin)?;
        pg.in_tx.set(true);
        Ok(())
    }

    /// The SQLite connection, for what only SQLite has (pragmas, backups).
    pub(crate) fn as_sqlite(&self) -> Option<&rusqlite::Connection> {
        match self {
            Db::Sqlite(c) => Some(c),
            Db::Pg(_) => None,
        }
    }

    pub(crate) fn is_pg(&self) -> bool {
        matches!(self, Db::Pg(_))
    }

    pub(crate) fn prepare_cached(&self, sql: &str) -> SqlResult<Stmt<'_>> {
        Ok(Stmt {
            db: self,
            sql: match self {
                Db::Sqlite(_) => sql.to_string(),
                Db::Pg(_) => numbered_placeholders(sql),
            },
        })
    }

    /// Statements are cached either way; the name is kept from rusqlite.
    pub(crate) fn prepare(&self, sql: &str) -> SqlResult<Stmt<'_>> {
        self.prepare_cached(sql)
    }

    pub(crate) fn query_row<T>(
        &self,
        sql: &str,
        params: impl Params,
        f: impl FnOnce(&Row<'_>) -> SqlResult<T>,
    ) -> SqlResult<T> {
        self.prepare_cached(sql)?.query_row(params, f)
    }

    pub(crate) fn execute(&self, sql: &str, params: impl Params) -> SqlResult<usize> {
        self.prepare_cached(sql)?.execute(params)
    }

    /// Runs statements without parameters, one after another.
    pub(crate) fn execute_batch(&self, sql: &str) -> SqlResult<()> {
        match self {
            Db::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Db::Pg(pg) => pg.run(|client| client.batch_execute(sql)),
        }
    }

    /// A number that changes when another connection commits: SQLite's
    /// `data_version`, which costs no read of the file; on PostgreSQL the change
    /// counters every write of rolecall bumps, plus the count of other programs'
    /// changes that triggers keep (`rolecall_changes`; a database made before it
    /// gains it on its next write, and until then only rolecall's writes show).
    pub(crate) fn change_token(&self) -> SqlResult<i64> {
        match self {
            Db::Sqlite(c) => Ok(c.pragma_query_value(None, "data_version", |r| r.get(0))?),
            Db::Pg(_) => {
                let all = self.query_row(
                    "SELECT m.change_seq + m.catalog_seq + c.n \
                     FROM rolecall_meta m, rolecall_changes c WHERE m.id = 1 AND c.id = 1",
                    params![],
                    |r| r.get(0),
                );
                match all {
                    Err(DbError::Pg(e))
                        if e.code() == Some(&tokio_postgres::error::SqlState::UNDEFINED_TABLE) =>
                    {
                        self.query_row(
                            "SELECT change_seq + catalog_seq FROM rolecall_meta WHERE id = 1",
                            params![],
                            |r| r.get(0),
                        )
                    }
                    other => other,
                }
            }
        }
    }

    /// The schema version the database says it has.
    pub(crate) fn schema_version(&self) -> SqlResult<i64> {
        match self {
            Db::Sqlite(c) => Ok(c.pragma_query_value(None, "user_version", |r| r.get(0))?),
            Db::Pg(_) => self.query_row(
                "SELECT version FROM rolecall_schema WHERE id = 1",
                params![],
                |r| r.get(0),
            ),
        }
    }

    /// Rows inserted, changed or deleted since the connection opened (on SQLite
    /// triggers included): a write that changed nothing is rolled back.
    pub(crate) fn total_changes(&self) -> u64 {
        match self {
            Db::Sqlite(c) => c.total_changes(),
            Db::Pg(pg) => pg.changes.get(),
        }
    }

    /// Starts a transaction in which the reads made before writing cannot be overtaken
    /// by another writer. SQLite takes its write lock at once. PostgreSQL takes row
    /// locks as it writes, so the caller's first statement must be the one that bumps
    /// `rolecall_meta.change_seq`: that row's lock queues writers one behind the other,
    /// and each statement after it (read committed) sees everything committed before.
    pub(crate) fn begin_write(&self) -> SqlResult<TxGuard<'_>> {
        match self {
            Db::Sqlite(c) => c.execute_batch("BEGIN IMMEDIATE")?,
            // Not `READ WRITE` for a session that may write: that would override the
            // `default_transaction_read_only` of a server that takes no writes.
            Db::Pg(pg) if pg.read_only => self.begin_pg(
                pg,
                "BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY; SET LOCAL lock_timeout = '10s'",
            )?,
            // `rolecall.writer` keeps this program's writes out of the count of other
            // programs' changes (`rolecall_changes`): they move `change_seq`.
            Db::Pg(pg) => self.begin_pg(
                pg,
                "BEGIN ISOLATION LEVEL READ COMMITTED; SET LOCAL lock_timeout = '10s'; \
                 SET LOCAL rolecall.writer = 'on'",
            )?,
        }
        Ok(TxGuard {
            db: self,
            open: true,
        })
    }

    /// Starts a transaction that reads one consistent state of the database (export,
    /// import planning, catalog planning).
    pub(crate) fn begin_snapshot(&self) -> SqlResult<TxGuard<'_>> {
        match self {
            Db::Sqlite(c) => c.execute_batch("BEGIN DEFERRED")?,
            Db::Pg(pg) => self.begin_pg(pg, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")?,
        }
        Ok(TxGuard {
            db: self,
            open: true,
        })
    }

    /// The id of the row the last INSERT made on this connection.
    pub(crate) fn last_insert_rowid(&self) -> SqlResult<i64> {
        match self {
            Db::Sqlite(c) => Ok(c.last_insert_rowid()),
            Db::Pg(_) => self.query_row("SELECT lastval()", params![], |r| r.get(0)),
        }
    }

    /// PostgreSQL only: runs `sql` (`?N` placeholders) with parameters the store's
    /// [`Param`] does not cover, such as the arrays of a batched insert
    /// (`INSERT ... SELECT FROM unnest(...)`), in one round trip. Returns the rows
    /// written.
    pub(crate) fn pg_execute(
        &self,
        sql: &str,
        args: &[(&(dyn ToSql + Sync), Type)],
    ) -> SqlResult<u64> {
        let Db::Pg(pg) = self else {
            return Err(DbError::Column(
                "a PostgreSQL statement was sent to a SQLite database".into(),
            ));
        };
        Db::writable(pg)?;
        let sql = numbered_placeholders(sql);
        let n = pg.run(|client| client.execute_typed(&sql, args.iter().cloned()))?;
        pg.changes.set(pg.changes.get() + n);
        Ok(n)
    }

    /// PostgreSQL only: the rows of `sql` (`?N` placeholders) with parameters the
    /// store's [`Param`] does not cover, such as arrays (`INSERT ... SELECT FROM
    /// unnest(...) RETURNING ...`), in one round trip; the rows count as written.
    pub(crate) fn pg_query_typed(
        &self,
        sql: &str,
        args: &[(&(dyn ToSql + Sync), Type)],
    ) -> SqlResult<Vec<tokio_postgres::Row>> {
        let Db::Pg(pg) = self else {
            return Err(DbError::Column(
                "a PostgreSQL statement was sent to a SQLite database".into(),
            ));
        };
        if writes(sql) {
            Db::writable(pg)?;
        }
        let numbered = numbered_placeholders(sql);
        let rows = pg.run(|client| client.query_typed(&numbered, args))?;
        if writes(sql) {
            pg.changes.set(pg.changes.get() + rows.len() as u64);
        }
        Ok(rows)
    }

    /// PostgreSQL only: one text column of `sql`, whose one parameter is an array of
    /// text (`= ANY(?1)`): a batch checked in one round trip.
    pub(crate) fn pg_query_strings(&self, sql: &str, values: &[&str]) -> SqlResult<Vec<String>> {
        self.pg_query_typed(sql, &[(&values, Type::TEXT_ARRAY)])?
            .iter()
            .map(|r| Ok(r.try_get::<_, String>(0)?))
            .collect()
    }

    /// Starts a transaction that is only ever rolled back (dry runs).
    pub(crate) fn begin_scratch(&self) -> SqlResult<TxGuard<'_>> {
        match self {
            Db::Sqlite(c) => c.execute_batch("BEGIN DEFERRED")?,
            // READ WRITE on a read-only session too: a dry run writes what it plans
            // and is always rolled back (a server that takes no writes refuses it).
            Db::Pg(pg) => self.begin_pg(pg, "BEGIN READ WRITE")?,
        }
        Ok(TxGuard {
            db: self,
            open: true,
        })
    }
}

/// Rewrites SQLite's `?N` placeholders as PostgreSQL's `$N`, leaving string literals
/// and quoted names alone.
pub(crate) fn numbered_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quote: Option<char> = None;
    for c in sql.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == '?' => {
                out.push('$');
                continue;
            }
            None => {}
        }
        out.push(c);
    }
    out
}

/// An open transaction; dropped without [`TxGuard::commit`], it rolls back.
pub(crate) struct TxGuard<'a> {
    db: &'a Db,
    open: bool,
}

impl TxGuard<'_> {
    pub(crate) fn commit(mut self) -> SqlResult<()> {
        self.end("COMMIT")
    }

    pub(crate) fn rollback(mut self) -> SqlResult<()> {
        self.end("ROLLBACK")
    }

    fn end(&mut self, how: &str) -> SqlResult<()> {
        self.open = false;
        let Db::Pg(pg) = self.db else {
            return self.db.execute_batch(how);
        };
        // Still inside the transaction: a lost connection is not connected again for
        // this statement, whose outcome on the server is what the caller must know.
        let ended = pg.run(|client| client.batch_execute(how));
        pg.in_tx.set(false);
        match ended {
            Err(DbError::Pg(e)) if how == "COMMIT" && lost(&e) => Err(DbError::CommitLost(e)),
            other => other,
        }
    }
}

impl std::ops::Deref for TxGuard<'_> {
    type Target = Db;
    fn deref(&self) -> &Db {
        self.db
    }
}

impl Drop for TxGuard<'_> {
    fn drop(&mut self) {
        if self.open {
            let _ = self.end("ROLLBACK");
        }
    }
}

/// True for a statement that writes rows (so rows it returns were written).
fn writes(sql: &str) -> bool {
    let head = sql.trim_start();
    ["INSERT", "UPDATE", "DELETE", "WITH"]
        .iter()
        .any(|w| head.len() >= w.len() && head[..w.len()].eq_ignore_ascii_case(w))
}

impl Stmt<'_> {
    fn sqlite(&self) -> SqlResult<rusqlite::CachedStatement<'_>> {
        match self.db {
            Db::Sqlite(c) => Ok(c.prepare_cached(&self.sql)?),
            Db::Pg(_) => unreachable!("only called for SQLite"),
        }
    }

    /// Runs the statement on PostgreSQL with explicitly typed parameters (no named
    /// prepared statement, so a pooler in transaction mode is no obstacle).
    fn pg_rows(&self, pg: &Pg, params: impl Params) -> SqlResult<Vec<tokio_postgres::Row>> {
        let rows = params.with(|p| {
            let values: Vec<PgValue<'_>> = p.iter().map(|v| v.pg()).collect();
            let args: Vec<(&(dyn ToSql + Sync), Type)> = values.iter().map(PgValue::arg).collect();
            pg.run(|client| client.query_typed(&self.sql, &args))
        })?;
        if writes(&self.sql) {
            pg.changes.set(pg.changes.get() + rows.len() as u64);
        }
        Ok(rows)
    }

    pub(crate) fn query_row<T>(
        &self,
        params: impl Params,
        f: impl FnOnce(&Row<'_>) -> SqlResult<T>,
    ) -> SqlResult<T> {
        match self.db {
            Db::Sqlite(_) => {
                let mut stmt = self.sqlite()?;
                params.with(|p| {
                    let mut rows = stmt.query(rusqlite::params_from_iter(p))?;
                    match rows.next()? {
                        Some(r) => f(&Row::Sqlite(r)),
                        None => Err(DbError::NoRows),
                    }
                })
            }
            Db::Pg(pg) => match self.pg_rows(pg, params)?.first() {
                Some(r) => f(&Row::Pg(r)),
                None => Err(DbError::NoRows),
            },
        }
    }

    /// Every row, mapped by `f`; the results are read before this returns, so `f`
    /// may run other queries.
    pub(crate) fn query_map<T>(
        &self,
        params: impl Params,
        mut f: impl FnMut(&Row<'_>) -> SqlResult<T>,
    ) -> SqlResult<std::vec::IntoIter<SqlResult<T>>> {
        let mut out = Vec::new();
        match self.db {
            Db::Sqlite(_) => {
                let mut stmt = self.sqlite()?;
                params.with(|p| -> SqlResult<()> {
                    let mut rows = stmt.query(rusqlite::params_from_iter(p))?;
                    while let Some(r) = rows.next()? {
                        out.push(f(&Row::Sqlite(r)));
                    }
                    Ok(())
                })?;
            }
            Db::Pg(pg) => {
                for r in &self.pg_rows(pg, params)? {
                    out.push(f(&Row::Pg(r)));
                }
            }
        }
        Ok(out.into_iter())
    }

    pub(crate) fn execute(&self, params: impl Params) -> SqlResult<usize> {
        match self.db {
            Db::Sqlite(_) => {
                let mut stmt = self.sqlite()?;
                params.with(|p| Ok(stmt.execute(rusqlite::params_from_iter(p))?))
            }
            Db::Pg(pg) => {
                Db::writable(pg)?;
                let n = params.with(|p| {
                    let values: Vec<PgValue<'_>> = p.iter().map(|v| v.pg()).collect();
                    let args: Vec<(&(dyn ToSql + Sync), Type)> =
                        values.iter().map(PgValue::arg).collect();
                    pg.run(|client| client.execute_typed(&self.sql, args.iter().cloned()))
                })?;
                pg.changes.set(pg.changes.get() + n);
                Ok(n as usize)
            }
        }
    }
}
