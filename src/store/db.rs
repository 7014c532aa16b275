//! The one way the store runs SQL, on either backend. Queries are written once with
//! SQLite's `?N` placeholders; the methods mirror the part of rusqlite the store uses
//! (`prepare_cached`, `query_row`, `query_map`, `execute`, `optional`), so a query
//! reads the same whichever database answers it. Only opening, the schema, the change
//! token and error mapping differ per backend, and they live in `store/mod.rs`.

use rusqlite::types::ValueRef;

/// What a query can fail with: the backend's error, no row where one was required,
/// or a column that does not hold the type asked for.
#[derive(Debug)]
pub(crate) enum DbError {
    Sqlite(rusqlite::Error),
    NoRows,
}

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DbError::Sqlite(e) => write!(f, "{e}"),
            DbError::NoRows => write!(f, "the query returned no rows"),
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

impl From<DbError> for crate::error::Error {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Sqlite(e) => e.into(),
            DbError::NoRows => crate::error::Error::Storage(
                "database error: a row the store expected is missing".into(),
            ),
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

/// A value a query can take as a parameter.
pub(crate) trait Param: rusqlite::ToSql + Sync {}

impl Param for i64 {}
impl Param for bool {}
impl Param for str {}
impl Param for String {}
impl<T: Param + ?Sized> Param for &T {}
impl<T: Param> Param for Option<T> {}
impl<T: Param + ?Sized> Param for Box<T> {}

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
}

macro_rules! from_col_via_rusqlite {
    ($($t:ty),*) => {$(
        impl FromCol for $t {
            fn from_sqlite(row: &rusqlite::Row<'_>, idx: usize) -> SqlResult<Self> {
                Ok(row.get(idx)?)
            }
        }
    )*};
}
from_col_via_rusqlite!(i64, bool, String, Option<i64>, Option<bool>, Option<String>);

/// One row of a result.
pub(crate) enum Row<'a> {
    Sqlite(&'a rusqlite::Row<'a>),
}

impl Row<'_> {
    pub(crate) fn get<T: FromCol>(&self, idx: usize) -> SqlResult<T> {
        match self {
            Row::Sqlite(r) => T::from_sqlite(r, idx),
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
        }
    }
}

/// A connection to either backend.
pub(crate) enum Db {
    Sqlite(rusqlite::Connection),
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

    /// The SQLite connection, for what only SQLite has (pragmas, backups).
    pub(crate) fn as_sqlite(&self) -> Option<&rusqlite::Connection> {
        match self {
            Db::Sqlite(c) => Some(c),
        }
    }

    pub(crate) fn prepare_cached(&self, sql: &str) -> SqlResult<Stmt<'_>> {
        Ok(Stmt {
            db: self,
            sql: sql.to_string(),
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
        }
    }

    /// A number that changes when another connection commits: SQLite's
    /// `data_version`, which costs no read of the file; on PostgreSQL the change
    /// counters every write bumps (the catalog's is also bumped by triggers, for
    /// other programs that change it).
    pub(crate) fn change_token(&self) -> SqlResult<i64> {
        match self {
            Db::Sqlite(c) => Ok(c.pragma_query_value(None, "data_version", |r| r.get(0))?),
        }
    }

    /// The schema version the database says it has.
    pub(crate) fn schema_version(&self) -> SqlResult<i64> {
        match self {
            Db::Sqlite(c) => Ok(c.pragma_query_value(None, "user_version", |r| r.get(0))?),
        }
    }

    /// Rows inserted, changed or deleted since the connection opened (on SQLite
    /// triggers included): a write that changed nothing is rolled back.
    pub(crate) fn total_changes(&self) -> u64 {
        match self {
            Db::Sqlite(c) => c.total_changes(),
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
        }
    }

    /// Starts a transaction that is only ever rolled back (dry runs).
    pub(crate) fn begin_scratch(&self) -> SqlResult<TxGuard<'_>> {
        match self {
            Db::Sqlite(c) => c.execute_batch("BEGIN DEFERRED")?,
        }
        Ok(TxGuard {
            db: self,
            open: true,
        })
    }
}

/// An open transaction; dropped without [`TxGuard::commit`], it rolls back.
pub(crate) struct TxGuard<'a> {
    db: &'a Db,
    open: bool,
}

impl TxGuard<'_> {
    pub(crate) fn commit(mut self) -> SqlResult<()> {
        self.open = false;
        self.db.execute_batch("COMMIT")
    }

    pub(crate) fn rollback(mut self) -> SqlResult<()> {
        self.open = false;
        self.db.execute_batch("ROLLBACK")
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
            let _ = self.db.execute_batch("ROLLBACK");
        }
    }
}

impl Stmt<'_> {
    fn sqlite(&self) -> SqlResult<rusqlite::CachedStatement<'_>> {
        match self.db {
            Db::Sqlite(c) => Ok(c.prepare_cached(&self.sql)?),
        }
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
        }
        Ok(out.into_iter())
    }

    pub(crate) fn execute(&self, params: impl Params) -> SqlResult<usize> {
        match self.db {
            Db::Sqlite(_) => {
                let mut stmt = self.sqlite()?;
                params.with(|p| Ok(stmt.execute(rusqlite::params_from_iter(p))?))
            }
        }
    }
}
