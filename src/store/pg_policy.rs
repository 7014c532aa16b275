//! The policy snapshot a PostgreSQL database keeps so that `check` takes one trip.
//!
//! A new server process pays for every table it reads for the first time (its catalog
//! caches are cold), about a millisecond each on a small machine. Deciding from the
//! tables themselves reads ten of them; deciding from this snapshot reads three: the
//! snapshot, `users` and `package_members`.
//!
//! `rolecall_policy` holds, as JSON, everything a decision needs but the user: the
//! schema version, the catalog with its change number and operator permissions, every
//! role with its grants and every package with its roles. It is derived data, so it is
//! never exported, copied or audited, and a database made before it existed gains it
//! on its next write.
//!
//! Being derived, it must never be believed when stale:
//! - A statement trigger on every table it is made from moves `changes` on, whoever
//!   writes (this program, another version of it, or `psql`); `built_at` is the
//!   `changes` the body was built at, and the body is used only while they are equal.
//! - The view `rolecall_policy_current` names every source table, so PostgreSQL
//!   records that it depends on them: a source table cannot be dropped while the view
//!   stands, and dropping one with `CASCADE` (or by making it again) drops the view.
//!   `check` names the view as a `regclass` constant, which the server resolves by
//!   name when it parses the statement, without opening the view: once the view is
//!   gone the statement fails and `check` reads the tables. Reading the row through
//!   the view instead cost a quarter of a millisecond more of the server's time, and
//!   looking the eight tables up by name on each `check` about as much again.
//! - Every write of this program rebuilds a stale body just before it commits, after
//!   taking the snapshot row's lock, so the rebuild's own read sees every change
//!   whose trigger ran before it, and a change that commits after it leaves the
//!   snapshot stale again. A write that finds the view gone gives every source table
//!   its trigger again, makes the view again and rebuilds.

use serde::Deserialize;

use super::db::{Db, DbError, SqlResult, params};
use super::users::{self, USER_COLUMN_COUNT, USER_COLUMNS_UNNAMED_ROLE};
use super::{SCHEMA_VERSION, catalog_from_stored, fold, operator_keys, text};
use crate::domain::access::Decision;
use crate::domain::catalog::Grants;
use crate::error::Result;

/// The tables the snapshot is made from, each with a statement trigger that marks it
/// stale. `rolecall_meta` marks it only when `catalog_seq` moves: every write moves
/// its `change_seq`.
const SOURCES: [(&str, &str); 8] = [
    ("rolecall_meta", "UPDATE OF catalog_seq"),
    ("rolecall_schema", ANY_CHANGE),
    ("permissions", ANY_CHANGE),
    ("operator_permissions", ANY_CHANGE),
    ("roles", ANY_CHANGE),
    ("role_grants", ANY_CHANGE),
    ("packages", ANY_CHANGE),
    ("package_roles", ANY_CHANGE),
];

const ANY_CHANGE: &str = "INSERT OR UPDATE OR DELETE OR TRUNCATE";

/// The tables whose changes by another program (`psql`, the application) a console
/// must notice: every table of the schema but the change counters. Each has a
/// statement trigger that counts such changes in `rolecall_changes`, which the
/// console's change token adds in. This program's own writes are skipped (they say
/// so with `SET LOCAL rolecall.writer`): they move `rolecall_meta.change_seq` first
/// thing, and a second counter taken after their rows' locks could deadlock with
/// another writer holding those rows.
fn watched() -> impl Iterator<Item = &'static str> {
    super::schema::required_tables(SCHEMA_VERSION).filter(|t| *t != "rolecall_meta")
}

/// Creates the counter of other programs' changes and its function, when missing,
/// and gives every watched table but those in `have` its trigger.
fn watch(tx: &Db, counter: bool, have: &[String]) -> SqlResult<()> {
    let mut sql = String::new();
    if !counter {
        sql.push_str(
            r#"
CREATE TABLE rolecall_changes (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    n  BIGINT NOT NULL
);
INSERT INTO rolecall_changes (id, n) VALUES (1, 0);
CREATE OR REPLACE FUNCTION rolecall_changed_elsewhere() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('rolecall.writer', true) IS DISTINCT FROM 'on' THEN
        UPDATE rolecall_changes SET n = n + 1 WHERE id = 1;
    END IF;
    RETURN NULL;
END $$;
"#,
        );
    }
    let tables = watched().map(|table| (table, ANY_CHANGE));
    add_triggers(
        &mut sql,
        "changed_elsewhere",
        "rolecall_changed_elsewhere",
        tables,
        have,
    );
    tx.execute_batch(&sql)
}

/// Appends a statement trigger `name` running `function` on each `(table, events)`
/// but those in `have`. They fire `ALWAYS`: also for rows a logical replication
/// subscriber applies.
fn add_triggers<'a>(
    sql: &mut String,
    name: &str,
    function: &str,
    tables: impl Iterator<Item = (&'a str, &'a str)>,
    have: &[String],
) {
    for (table, events) in tables {
        if have.iter().any(|t| t == table) {
            continue;
        }
        sql.push_str(&format!(
            "CREATE TRIGGER {name} AFTER {events} ON {table} \
             FOR EACH STATEMENT EXECUTE FUNCTION {function}();\n\
             ALTER TABLE {table} ENABLE ALWAYS TRIGGER {name};\n"
        ));
    }
}

/// The tables that have trigger `name`, in the current schema.
fn triggered(tx: &Db, name: &str) -> SqlResult<Vec<String>> {
    tx.prepare(
        "SELECT c.relname::text FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid \
         WHERE t.tgname = ?1 AND c.relnamespace = current_schema()::regnamespace",
    )?
    .query_map([name], |r| text(r, 0))?
    .collect()
}

/// Creates the snapshot's table, trigger function, triggers and view; run in a
/// write transaction, on a new database or on one made before the snapshot existed.
pub(super) fn create(tx: &Db) -> SqlResult<()> {
    tx.execute_batch(
        r#"
CREATE TABLE rolecall_policy (
    id       BIGINT PRIMARY KEY CHECK (id = 1),
    changes  BIGINT NOT NULL,
    built_at BIGINT NOT NULL,
    body     TEXT COLLATE "C" NOT NULL
);
-- Kept in the row, compressed, rather than in the TOAST table, so that reading it
-- opens no second table and index; only a body too large for a page still moves
-- there (the demo's, 7 roles and 81 permissions, is 10.6 kB, 2.5 kB compressed).
ALTER TABLE rolecall_policy ALTER COLUMN body SET STORAGE MAIN;
INSERT INTO rolecall_policy (id, changes, built_at, body) VALUES (1, 1, 0, '');
CREATE OR REPLACE FUNCTION rolecall_policy_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE rolecall_policy SET changes = changes + 1 WHERE id = 1;
    RETURN NULL;
END $$;
"#,
    )?;
    guard(tx, &[])?;
    let counter: bool = tx.query_row(
        "SELECT to_regclass('rolecall_changes') IS NOT NULL",
        params![],
        |r| r.get(0),
    )?;
    let have = if counter {
        triggered(tx, "changed_elsewhere")?
    } else {
        Vec::new()
    };
    watch(tx, counter, &have)
}

/// Gives every source table but those in `have` its trigger, and makes the view that
/// records the snapshot's dependence on them. The triggers fire `ALWAYS`, so a logical
/// replication subscriber's snapshot is never believed over the rows it receives.
fn guard(tx: &Db, have: &[String]) -> SqlResult<()> {
    let mut sql = String::new();
    let tables = SOURCES.into_iter();
    add_triggers(
        &mut sql,
        "policy_changed",
        "rolecall_policy_changed",
        tables,
        have,
    );
    let named: Vec<String> = SOURCES
        .iter()
        .map(|(table, _)| format!("'{table}'::regclass"))
        .collect();
    sql.push_str(&format!(
        "CREATE VIEW rolecall_policy_current AS SELECT id, changes, built_at, body \
         FROM rolecall_policy WHERE ARRAY[{}] IS NOT NULL;\n",
        named.join(", ")
    ));
    tx.execute_batch(&sql)
}

/// Whether the database has the snapshot's table (one made before it existed does
/// not, until its next write).
pub(super) fn exists(conn: &Db) -> SqlResult<bool> {
    conn.query_row(
        "SELECT to_regclass('rolecall_policy') IS NOT NULL",
        params![],
        |r| r.get(0),
    )
}

/// Marks the snapshot stale, for a change its triggers do not see (an upgrade of the
/// schema version it records); the next [`refresh`] rebuilds it.
pub(super) fn mark_stale(tx: &Db) -> SqlResult<()> {
    tx.execute(
        "UPDATE rolecall_policy SET changes = changes + 1 WHERE id = 1",
        params![],
    )
    .map(drop)
}

/// Rebuilds the snapshot when it is stale; run in a write transaction just before it
/// commits. The row's lock is taken first, in its own statement, so the rebuild (a
/// new statement, reading everything committed by then) cannot miss a change whose
/// trigger ran before it. A database missing a source table keeps its snapshot
/// unread, and its writes that do not need the table go on.
pub(super) fn refresh(tx: &Db) -> SqlResult<()> {
    let state = |tx: &Db| -> SqlResult<(bool, bool, bool)> {
        tx.query_row(
            "SELECT changes <> built_at, to_regclass('rolecall_policy_current') IS NOT NULL, \
             to_regclass('rolecall_changes') IS NOT NULL \
             FROM rolecall_policy WHERE id = 1 FOR UPDATE",
            params![],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
    };
    let (stale, viewed, counter) = match state(tx) {
        // The row is derived, so a dump without its data (or a hand's DELETE) loses
        // nothing: it is made again, stale, and rebuilt below.
        Err(DbError::NoRows) => {
            tx.execute(
                "INSERT INTO rolecall_policy (id, changes, built_at, body) VALUES (1, 1, 0, '') \
                 ON CONFLICT (id) DO NOTHING",
                params![],
            )?;
            state(tx)?
        }
        other => other?,
    };
    if !counter {
        // A database made before the counter of other programs' changes.
        watch(tx, false, &[])?;
    }
    if viewed {
        if stale {
            tx.execute(BUILD, params![])?;
        }
        return Ok(());
    }
    // The view was dropped with a source table: give each table its trigger again
    // (one made again by hand has none), make the view again and rebuild.
    let tables: Vec<String> = tx
        .prepare(
            "SELECT c.relname::text FROM pg_class c \
             WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p')",
        )?
        .query_map(params![], |r| text(r, 0))?
        .collect::<SqlResult<_>>()?;
    if SOURCES
        .iter()
        .any(|(table, _)| !tables.iter().any(|t| t == table))
    {
        return Ok(());
    }
    let have = triggered(tx, "policy_changed")?;
    guard(tx, &have)?;
    let watching = triggered(tx, "changed_elsewhere")?;
    watch(tx, true, &watching)?;
    tx.execute(BUILD, params![])?;
    Ok(())
}

/// The snapshot's body, built from the tables in one statement.
const BUILD: &str = "UPDATE rolecall_policy SET built_at = changes, body = json_build_object(\
    'version', (SELECT version FROM rolecall_schema WHERE id = 1), \
    'catalog_seq', (SELECT catalog_seq FROM rolecall_meta WHERE id = 1), \
    'permissions', coalesce((SELECT json_agg(json_build_array(key, label, description) \
        ORDER BY position) FROM permissions), '[]'), \
    'operator', coalesce((SELECT json_agg(json_build_array(right_name, permission)) \
        FROM operator_permissions), '[]'), \
    'roles', coalesce((SELECT json_agg(json_build_array(r.id, r.name, \
        coalesce((SELECT json_agg(g.permission_key) FROM role_grants g WHERE g.role_id = r.id), '[]'))) \
        FROM roles r), '[]'), \
    'packages', coalesce((SELECT json_agg(json_build_array(p.id, p.name, \
        coalesce((SELECT json_agg(pr.role_id) FROM package_roles pr WHERE pr.package_id = p.id), '[]'))) \
        FROM packages p), '[]')\
    )::text WHERE id = 1";

/// The body as [`BUILD`] writes it.
#[derive(Deserialize)]
struct Body {
    version: i64,
    catalog_seq: i64,
    permissions: Vec<(String, String, String)>,
    operator: Vec<(String, String)>,
    roles: Vec<(i64, String, Vec<String>)>,
    packages: Vec<(i64, String, Vec<i64>)>,
}

/// `check USERNAME PERMISSION` in one statement, when the snapshot is current: the
/// same decision and reasons as [`super::Store::check`], which takes the tables one
/// by one. `None` when the snapshot cannot be used (missing, stale, of another
/// version); the caller then opens the store the usual way, which also says what is
/// wrong with a database that is not current.
pub(super) fn check(conn: &Db, username: &str, permission: &str) -> Result<Option<Decision>> {
    let sql = format!(
        "SELECT {USER_COLUMNS_UNNAMED_ROLE}, \
         coalesce(p.changes = p.built_at, FALSE), p.body, \
         (SELECT json_agg(m.package_id) FROM package_members m WHERE m.user_id = u.id)::text \
         FROM rolecall_policy p LEFT JOIN users u ON u.username = ?1 \
         WHERE p.id = 1 AND 'rolecall_policy_current'::regclass IS NOT NULL"
    );
    let found = conn.query_row(&sql, params![fold(username)], |r| {
        let user = match r.get::<Option<i64>>(0)? {
            Some(_) => Some(users::user_row(r)?),
            None => None,
        };
        let current: bool = r.get(USER_COLUMN_COUNT)?;
        let body = text(r, USER_COLUMN_COUNT + 1)?;
        let packages = super::opt_text(r, USER_COLUMN_COUNT + 2)?;
        Ok((user, current, body, packages))
    });
    let (user, current, body, packages) = match found {
        Ok(found) => found,
        // No snapshot or view (a database made before them, or a source table
        // dropped), or a schema this statement does not fit: the usual way says what.
        Err(DbError::Pg(e)) if e.code().is_some() => return Ok(None),
        Err(DbError::NoRows) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    if !current {
        return Ok(None);
    }
    let Ok(body) = serde_json::from_str::<Body>(&body) else {
        return Ok(None);
    };
    let Body {
        version,
        catalog_seq,
        permissions,
        operator,
        roles,
        packages: bundles,
    } = body;
    if version != SCHEMA_VERSION {
        return Ok(None);
    }
    let Some(catalog) = catalog_from_stored(permissions, catalog_seq, operator_keys(operator))
    else {
        return Ok(None);
    };
    let mut user = user.ok_or_else(|| users::unknown_user(username))?;
    users::ensure_exact(&user, username)?;
    let role = |id: i64| roles.iter().find(|(role_id, ..)| *role_id == id);
    let grants = |id: i64| -> Result<Grants> {
        Ok(match role(id) {
            Some((_, _, keys)) => Grants::from_keys(&catalog, keys.iter().map(String::as_str)),
            None => Grants::none(&catalog),
        })
    };
    if user.role_id != 0 {
        // The snapshot is current, so the user's role is in it (a foreign key).
        let Some((_, name, _)) = role(user.role_id) else {
            return Ok(None);
        };
        user.role = name.clone();
    }
    let member_of: Vec<i64> = match packages {
        Some(ids) => serde_json::from_str(&ids)
            .map_err(|e| DbError::Column(format!("the user's packages could not be read: {e}")))?,
        None => Vec::new(),
    };
    let mut paths = Vec::new();
    for id in member_of {
        let Some((_, package, included)) = bundles.iter().find(|(p, ..)| *p == id) else {
            return Ok(None);
        };
        for role_id in included {
            let Some((_, name, _)) = role(*role_id) else {
                return Ok(None);
            };
            paths.push((package.clone(), name.clone(), *role_id));
        }
    }
    let direct = (user.role_id != 0).then_some((user.role_id, user.role.as_str()));
    let sources = super::packages::assemble_sources(direct, paths, grants)?;
    let decision = users::decide_explaining(&catalog, &user, &sources, permission, |held| {
        users::elsewhere(granting(&roles, permission), held, |id| {
            let mut names: Vec<String> = bundles
                .iter()
                .filter(|(_, _, roles)| roles.contains(&id))
                .map(|(_, name, _)| name.clone())
                .collect();
            names.sort();
            Ok(names)
        })
    })?;
    Ok(Some(decision))
}

/// The roles of the snapshot that grant `permission` or anything under it, with
/// their ids, in name order (what `Store::roles_granting` reads from the tables).
fn granting(roles: &[(i64, String, Vec<String>)], permission: &str) -> Vec<(i64, String)> {
    let under = format!("{permission}.");
    let mut granting: Vec<(i64, String)> = roles
        .iter()
        .filter(|(_, _, keys)| {
            keys.iter()
                .any(|k| k == permission || k.starts_with(&under))
        })
        .map(|(id, name, _)| (*id, name.clone()))
        .collect();
    granting.sort_by(|a, b| a.1.cmp(&b.1));
    granting
}
