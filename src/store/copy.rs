//! `rolecall copy`: a whole rolecall database from one backend to another (SPEC §12),
//! every row as it is (ids, versions, password hashes, the audit log), so that an
//! export of the copy is the export of the original, byte for byte.

use std::path::Path;

use tokio_postgres::types::Type;

use super::db::{Db, Param, PgValue, Row, SqlResult, params};
use super::{OnExisting, Store, pg};
use crate::error::Result;

/// How a column is read and written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    Bool,
    Text,
}

use Kind::{Bool, Int, Text};

/// Every table, parents before children, with its columns. The same names on both
/// backends; `id` columns are copied as they are.
const TABLES: &[(&str, &[(&str, Kind)])] = &[
    (
        "permissions",
        &[
            ("key", Text),
            ("parent", Text),
            ("label", Text),
            ("description", Text),
            ("position", Int),
        ],
    ),
    (
        "roles",
        &[
            ("id", Int),
            ("name", Text),
            ("name_fold", Text),
            ("description", Text),
            ("builtin", Bool),
            ("version", Int),
            ("created_seq", Int),
            ("created_at", Text),
            ("updated_at", Text),
            ("updated_by", Text),
            ("fixed", Bool),
        ],
    ),
    ("role_grants", &[("role_id", Int), ("permission_key", Text)]),
    (
        "users",
        &[
            ("id", Int),
            ("username", Text),
            ("email", Text),
            ("email_fold", Text),
            ("first_name", Text),
            ("last_name", Text),
            ("position", Text),
            ("signature", Text),
            ("timezone", Text),
            ("language", Text),
            ("role_id", Int),
            ("active", Bool),
            ("owner", Bool),
            ("password_hash", Text),
            ("version", Int),
            ("created_seq", Int),
            ("created_at", Text),
            ("updated_at", Text),
            ("updated_by", Text),
        ],
    ),
    (
        "user_keys",
        &[
            ("id", Int),
            ("user_id", Int),
            ("fingerprint", Text),
            ("key", Text),
            ("comment", Text),
            ("added_at", Text),
            ("added_by", Text),
        ],
    ),
    ("settings", &[("id", Int), ("default_role_id", Int)]),
    (
        "operator_permissions",
        &[("right_name", Text), ("permission", Text)],
    ),
    (
        "audit",
        &[
            ("id", Int),
            ("at", Text),
            ("actor", Text),
            ("action", Text),
            ("target", Text),
            ("before", Text),
            ("after", Text),
        ],
    ),
    (
        "packages",
        &[
            ("id", Int),
            ("name", Text),
            ("name_fold", Text),
            ("description", Text),
            ("version", Int),
            ("created_seq", Int),
            ("created_at", Text),
            ("updated_at", Text),
            ("updated_by", Text),
        ],
    ),
    ("package_roles", &[("package_id", Int), ("role_id", Int)]),
    ("package_members", &[("package_id", Int), ("user_id", Int)]),
    (
        "resource_types",
        &[
            ("key", Text),
            ("label", Text),
            ("team_owned", Bool),
            ("bypass", Text),
            ("position", Int),
        ],
    ),
    (
        "resource_type_scopes",
        &[("type_key", Text), ("node_key", Text), ("position", Int)],
    ),
    (
        "resources",
        &[
            ("id", Int),
            ("type_key", Text),
            ("key", Text),
            ("label", Text),
            ("created_at", Text),
            ("updated_at", Text),
            ("updated_by", Text),
        ],
    ),
    (
        "package_resources",
        &[("package_id", Int), ("resource_id", Int)],
    ),
    (
        "role_exceptions",
        &[("id", Int), ("role_id", Int), ("resource_id", Int)],
    ),
    (
        "role_exception_grants",
        &[("exception_id", Int), ("permission_key", Text)],
    ),
];

/// The tables whose ids come from a sequence (SQLite's AUTOINCREMENT, PostgreSQL's
/// identity): their counters are copied too, so an id used and deleted in the
/// original is never handed out by the copy.
const SEQUENCED: &[&str] = &[
    "roles",
    "users",
    "audit",
    "packages",
    "resources",
    "role_exceptions",
];

/// Tables whose ids SQLite takes from the highest row (no AUTOINCREMENT) and
/// PostgreSQL from an identity: a PostgreSQL copy's identity starts above the rows.
const IDENTITY_ONLY: &[&str] = &["user_keys"];

/// Rows in one statement: far below either backend's limit on parameters (SQLite's
/// 32,766, PostgreSQL's 65,535) for the widest table.
const ROWS_PER_INSERT: usize = 500;

/// One value of a copied row.
#[derive(Debug, Clone)]
enum Value {
    Null(Kind),
    Int(i64),
    Bool(bool),
    Text(String),
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, Value as V};
        Ok(match self {
            Value::Null(_) => ToSqlOutput::Owned(V::Null),
            Value::Int(i) => ToSqlOutput::Owned(V::Integer(*i)),
            Value::Bool(b) => ToSqlOutput::Owned(V::Integer(i64::from(*b))),
            Value::Text(s) => ToSqlOutput::Borrowed(rusqlite::types::ValueRef::Text(s.as_bytes())),
        })
    }
}

impl Param for Value {
    fn pg(&self) -> PgValue<'_> {
        match self {
            Value::Null(Int) => PgValue::Null(Type::INT8),
            Value::Null(Bool) => PgValue::Null(Type::BOOL),
            Value::Null(Text) => PgValue::Null(Type::TEXT),
            Value::Int(i) => PgValue::Int(*i),
            Value::Bool(b) => PgValue::Bool(*b),
            Value::Text(s) => PgValue::Text(s),
        }
    }
}

fn read_value(r: &Row<'_>, i: usize, kind: Kind) -> SqlResult<Value> {
    Ok(match kind {
        Int => r
            .get::<Option<i64>>(i)?
            .map_or(Value::Null(Int), Value::Int),
        Bool => r
            .get::<Option<bool>>(i)?
            .map_or(Value::Null(Bool), Value::Bool),
        Text => super::opt_text(r, i)?.map_or(Value::Null(Text), Value::Text),
    })
}

/// Everything in a database, read in one snapshot.
struct Contents {
    tables: Vec<Vec<Vec<Value>>>,
    /// The last id each sequenced table handed out.
    sequences: Vec<(&'static str, i64)>,
    change_seq: i64,
}

fn read_all(db: &Db) -> Result<Contents> {
    let tx = db.begin_snapshot()?;
    let mut tables = Vec::with_capacity(TABLES.len());
    for (table, columns) in TABLES {
        let names: Vec<&str> = columns.iter().map(|(c, _)| *c).collect();
        // Parents before children: a permission's parent is a shorter key.
        let order = match *table {
            "permissions" => "length(key), key".to_string(),
            _ => "1".to_string(),
        };
        let sql = format!("SELECT {} FROM {table} ORDER BY {order}", names.join(", "));
        let rows = tx
            .prepare(&sql)?
            .query_map(params![], |r| {
                columns
                    .iter()
                    .enumerate()
                    .map(|(i, (_, kind))| read_value(r, i, *kind))
                    .collect::<SqlResult<Vec<Value>>>()
            })?
            .collect::<SqlResult<Vec<_>>>()?;
        tables.push(rows);
    }
    let mut sequences = Vec::new();
    for table in SEQUENCED {
        let used: i64 = if tx.is_pg() {
            tx.query_row(
                "SELECT coalesce(pg_sequence_last_value(pg_get_serial_sequence(?1, 'id')), 0)",
                [table],
                |r| r.get(0),
            )?
        } else {
            tx.query_row(
                "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = ?1), 0)",
                [table],
                |r| r.get(0),
            )?
        };
        let max: i64 = tx.query_row(
            &format!("SELECT coalesce(max(id), 0) FROM {table}"),
            params![],
            |r| r.get(0),
        )?;
        sequences.push((*table, used.max(max)));
    }
    let change_seq: i64 = tx.query_row(
        "SELECT change_seq FROM rolecall_meta WHERE id = 1",
        params![],
        |r| r.get(0),
    )?;
    tx.commit()?;
    Ok(Contents {
        tables,
        sequences,
        change_seq,
    })
}

/// Writes `contents` into a database whose schema was just made, in the caller's
/// transaction.
fn write_all(db: &Db, contents: &Contents) -> Result<()> {
    for ((table, columns), rows) in TABLES.iter().zip(&contents.tables) {
        let names: Vec<&str> = columns.iter().map(|(c, _)| *c).collect();
        for chunk in rows.chunks(ROWS_PER_INSERT) {
            let mut sql = format!("INSERT INTO {table} ({}) VALUES ", names.join(", "));
            let mut n = 0;
            for (i, _) in chunk.iter().enumerate() {
                if i > 0 {
                    sql.push_str(", ");
                }
                sql.push('(');
                for c in 0..columns.len() {
                    n += 1;
                    if c > 0 {
                        sql.push_str(", ");
                    }
                    sql.push_str(&format!("?{n}"));
                }
                sql.push(')');
            }
            let values: Vec<&dyn Param> = chunk
                .iter()
                .flat_map(|row| row.iter().map(|v| v as &dyn Param))
                .collect();
            db.execute(&sql, values.as_slice())?;
        }
    }
    for (table, used) in &contents.sequences {
        if *used == 0 {
            continue;
        }
        if db.is_pg() {
            db.query_row(
                "SELECT setval(pg_get_serial_sequence(?1, 'id'), ?2)",
                params![table, used],
                |_| Ok(()),
            )?;
        } else {
            db.execute(
                "INSERT INTO sqlite_sequence (name, seq) SELECT ?1, 0 \
                 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = ?1)",
                params![table],
            )?;
            db.execute(
                "UPDATE sqlite_sequence SET seq = max(seq, ?2) WHERE name = ?1",
                params![table, used],
            )?;
        }
    }
    if db.is_pg() {
        for table in IDENTITY_ONLY {
            db.query_row(
                &format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
                     coalesce((SELECT max(id) FROM {table}), 0) + 1, false)"
                ),
                params![],
                |_| Ok(()),
            )?;
        }
    }
    // Last: loading the catalog bumped the catalog's counter in the copy; both
    // counters are the original's.
    db.execute(
        "UPDATE rolecall_meta SET change_seq = ?1, catalog_seq = ?1 WHERE id = 1",
        [contents.change_seq],
    )?;
    Ok(())
}

/// What a copy wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Copied {
    pub users: usize,
    pub roles: usize,
    pub audit_rows: usize,
}

impl Store {
    /// Copies this whole database to `to`: a PostgreSQL URL naming an empty
    /// database, or the path of a file that does not exist yet. The copy is made in
    /// one transaction (a file under a temporary name), so no other process ever sees
    /// half of it; a target that is not empty is refused and left as it was.
    pub fn copy_to(&self, to: &Path) -> Result<Copied> {
        let contents = read_all(&self.conn)?;
        let count = |table: &str| {
            TABLES
                .iter()
                .position(|(t, _)| *t == table)
                .map_or(0, |i| contents.tables[i].len())
        };
        let copied = Copied {
            users: count("users"),
            roles: count("roles"),
            audit_rows: count("audit"),
        };
        let fill = |db: &Db| write_all(db, &contents);
        pg::refuse_lookalike(to, "to")?;
        match to.to_str().filter(|t| pg::is_url(t)) {
            Some(url) => {
                let target = pg::parse(url)?;
                let conn = Db::pg(target.clone(), false)?;
                // Emptiness is judged under the creation's lock, in its transaction:
                // a process that fills the database first makes this copy refuse.
                super::create_pg(&conn, &target.shown, &fill, OnExisting::Refuse)?;
            }
            None => {
                // Refused early when the file is there already; a file another
                // process links into place while this copy is made is refused too.
                if std::fs::symlink_metadata(to).is_ok() {
                    return Err(super::copy_target_exists(to));
                }
                super::create(to, &fill, OnExisting::Refuse)?;
            }
        }
        Ok(copied)
    }
}
