//! User queries and changes, with the owner rule applied inside each transaction.

use super::db::{Db, OptionalExtension, Param, Row, params};
use serde_json::{Map, Value, json};

use super::roles::{RoleRef, load_role, resolve_role};
use super::{RowVersion, Store, Tx, fold, text};
use crate::domain::access::{self, Decision};
use crate::domain::authz::{Need, Right};
use crate::domain::catalog::{Catalog, Grants};
use crate::domain::password;
use crate::domain::role::ADMINISTRATOR;
use crate::domain::user::{self, Profile, User, UserRow};
use crate::domain::validate;
use crate::error::{Error, Result};
use crate::text::display_safe;

/// A user to add. Empty profile fields take their defaults (UTC, `en`).
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    pub username: String,
    pub profile: Profile,
    /// The role; the default role when `None`.
    pub role: Option<RoleRef>,
    /// Plain text, hashed before it is stored.
    pub password: Option<String>,
    /// Packages (ids) the user joins as they are added.
    pub packages: std::collections::BTreeSet<i64>,
}

/// What a user edit changes; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserChange {
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub position: Option<String>,
    pub signature: Option<String>,
    pub timezone: Option<String>,
    pub language: Option<String>,
    pub role: Option<RoleRef>,
    pub active: Option<bool>,
    /// The packages (ids) the user is in afterwards.
    pub packages: Option<std::collections::BTreeSet<i64>>,
}

/// The columns [`user_row`] reads from `users u`, with `$role_name` for the direct
/// role's name.
macro_rules! user_columns {
    ($role_name:literal) => {
        concat!(
            "u.id, u.username, u.email, u.first_name, u.last_name, u.position, u.signature, \
             u.timezone, u.language, ",
            $role_name,
            ", coalesce(u.role_id, 0), u.active, u.owner, u.password_hash IS NOT NULL, \
             u.created_at, u.updated_at, u.version, u.updated_by, u.created_seq"
        )
    };
}

/// A user's columns, the direct role's name read through `roles r`.
const USER_COLUMNS: &str = user_columns!("coalesce(r.name, '')");

/// A user's columns for a statement that does not join `roles`: the role's name is
/// left empty for the caller to fill in.
pub(super) const USER_COLUMNS_UNNAMED_ROLE: &str = user_columns!("''");

/// How many columns [`user_row`] reads.
pub(super) const USER_COLUMN_COUNT: usize = 19;

pub(super) fn user_row(r: &Row<'_>) -> super::db::SqlResult<User> {
    Ok(User {
        id: r.get(0)?,
        username: text(r, 1)?,
        email: text(r, 2)?,
        first_name: text(r, 3)?,
        last_name: text(r, 4)?,
        position: text(r, 5)?,
        signature: text(r, 6)?,
        timezone: text(r, 7)?,
        language: text(r, 8)?,
        role: text(r, 9)?,
        role_id: r.get(10)?,
        active: r.get(11)?,
        owner: r.get(12)?,
        has_password: r.get(13)?,
        created_at: text(r, 14)?,
        updated_at: text(r, 15)?,
        version: r.get(16)?,
        updated_by: text(r, 17)?,
        created_seq: r.get(18)?,
    })
}

fn user_row_light(r: &Row<'_>) -> super::db::SqlResult<UserRow> {
    Ok(UserRow {
        id: r.get(0)?,
        username: text(r, 1)?,
        first_name: text(r, 2)?,
        last_name: text(r, 3)?,
        email: text(r, 4)?,
        // No direct role is NULL; the console's rows keep 0 for it.
        role_id: r.get::<Option<i64>>(5)?.unwrap_or(0),
        active: r.get(6)?,
        owner: r.get(7)?,
    })
}

pub(super) fn unknown_user(name: &str) -> Error {
    Error::invalid(
        "username",
        format!(
            "there is no user \"{}\"; `rolecall users list` shows them",
            crate::text::excerpt(name)
        ),
    )
}

/// Who a change is for. The command line names users as typed; the console names
/// the rows it showed, which only those rows answer: ids are never reused, so a user
/// deleted and added again under the same name is not the one the operator chose,
/// and a change meant for the first is refused rather than made to the second.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserRef {
    /// A username as typed (ignoring case).
    Typed(String),
    /// A row the caller read: that row, or a conflict when it was deleted.
    Row { id: i64, username: String },
}

impl From<&str> for UserRef {
    fn from(name: &str) -> UserRef {
        UserRef::Typed(name.to_string())
    }
}

impl From<&String> for UserRef {
    fn from(name: &String) -> UserRef {
        UserRef::Typed(name.clone())
    }
}

impl From<String> for UserRef {
    fn from(name: String) -> UserRef {
        UserRef::Typed(name)
    }
}

impl UserRef {
    /// The username the caller gave or read.
    pub fn username(&self) -> &str {
        match self {
            UserRef::Typed(name) | UserRef::Row { username: name, .. } => name,
        }
    }

    /// Usernames as typed, one reference each.
    pub fn typed_all(names: &[String]) -> Vec<UserRef> {
        names.iter().map(UserRef::from).collect()
    }

    /// Whether this names the row with `id`.
    pub fn is_row(&self, id: i64) -> bool {
        matches!(self, UserRef::Row { id: row, .. } if *row == id)
    }
}

/// The user `who` names, as stored now.
pub(super) fn load_ref(conn: &Db, who: &UserRef) -> Result<User> {
    match who {
        UserRef::Typed(name) => load_user(conn, name),
        UserRef::Row { id, username } => conn
            .prepare_cached(&format!(
                "SELECT {USER_COLUMNS} FROM users u LEFT JOIN roles r ON r.id = u.role_id WHERE u.id = ?1"
            ))?
            .query_row([*id], user_row)
            .optional()?
            // A user of that name may exist again: not the one the caller read.
            .ok_or_else(|| {
                let target = format!("user \"{username}\"");
                super::deleted(conn, target, "user.remove", username, 0)
            }),
    }
}

pub(super) fn load_user(conn: &Db, username: &str) -> Result<User> {
    conn.prepare_cached(&format!(
        "SELECT {USER_COLUMNS} FROM users u LEFT JOIN roles r ON r.id = u.role_id WHERE u.username = ?1"
    ))?
    .query_row([fold(username)], user_row)
    .optional()?
    .ok_or_else(|| unknown_user(username))
}

/// Every user in username order, read through `conn` (an import reads them inside
/// its own transaction).
pub(super) fn all_users(conn: &Db) -> Result<Vec<User>> {
    let stmt = conn.prepare_cached(&format!(
        "SELECT {USER_COLUMNS} FROM users u LEFT JOIN roles r ON r.id = u.role_id ORDER BY u.username"
    ))?;
    let rows = stmt.query_map(params![], user_row)?;
    Ok(rows.collect::<super::db::SqlResult<_>>()?)
}

fn ensure_email_free(conn: &Db, email: &str, except: Option<i64>) -> Result<()> {
    let holder: Option<String> = conn
        .prepare_cached(
            "SELECT username FROM users WHERE email_fold = ?1 AND id IS DISTINCT FROM ?2",
        )?
        .query_row(params![fold(email), except], |r| text(r, 0))
        .optional()?;
    match holder {
        Some(other) => Err(Error::invalid(
            "email",
            format!(
                "\"{}\" is already used by \"{}\"",
                crate::text::excerpt(email),
                display_safe(&other)
            ),
        )),
        None => Ok(()),
    }
}

fn profile_json(p: &Profile) -> Map<String, Value> {
    match serde_json::to_value(p) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

/// The built-in role's id: the one role with the built-in mark.
fn administrator_id(tx: &Tx<'_>) -> Result<i64> {
    Ok(tx
        .tx
        .prepare_cached("SELECT id FROM roles WHERE builtin = TRUE ORDER BY id LIMIT 1")?
        .query_row(params![], |r| r.get(0))?)
}

/// Moves every user of one role to another (used by reassign-then-delete), one audit
/// row per user. Returns how many moved.
pub(super) fn move_users(
    tx: &Tx<'_>,
    from: i64,
    from_name: &str,
    to: i64,
    to_name: &str,
) -> Result<usize> {
    let names: Vec<String> = {
        let stmt = tx
            .tx
            .prepare("SELECT username FROM users WHERE role_id = ?1 ORDER BY username")?;
        stmt.query_map([from], |r| text(r, 0))?
            .collect::<super::db::SqlResult<_>>()?
    };
    tx.tx.execute(
        "UPDATE users SET role_id = ?1, version = ?2, updated_at = ?3, updated_by = ?4 WHERE role_id = ?5",
        params![to, tx.seq, tx.at, tx.actor, from],
    )?;
    for name in &names {
        tx.audit(
            "user.update",
            name,
            Some(json!({"role": from_name})),
            Some(json!({"role": to_name})),
        )?;
    }
    Ok(names.len())
}

/// Inserts one validated user with its audit row: uniqueness, the first-user rule
/// and the role are checked inside the caller's transaction.
/// Puts user `id` into exactly `packages` (ids), bumping each package whose members
/// changed. Returns the user's package names before and after. The caller writes the
/// audit row, with the rest of the user's change.
fn set_packages(
    tx: &Tx<'_>,
    id: i64,
    packages: &std::collections::BTreeSet<i64>,
) -> Result<(Vec<String>, Vec<String>)> {
    let before = super::packages::packages_of(tx.tx, id)?;
    let current: std::collections::BTreeSet<i64> = tx
        .tx
        .prepare_cached("SELECT package_id FROM package_members WHERE user_id = ?1")?
        .query_map([id], |r| r.get(0))?
        .collect::<super::db::SqlResult<_>>()?;
    for package in packages.difference(&current) {
        ensure_package_exists(tx.tx, *package)?;
        tx.tx.execute(
            "INSERT INTO package_members (package_id, user_id) VALUES (?1, ?2)",
            params![package, id],
        )?;
    }
    for package in current.difference(packages) {
        tx.tx.execute(
            "DELETE FROM package_members WHERE package_id = ?1 AND user_id = ?2",
            params![package, id],
        )?;
    }
    for package in packages.symmetric_difference(&current) {
        super::packages::bump_package(tx, *package)?;
    }
    Ok((before, super::packages::packages_of(tx.tx, id)?))
}

/// Refuses a package id that is not (or no longer) there.
fn ensure_package_exists(conn: &Db, id: i64) -> Result<()> {
    let exists: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM packages WHERE id = ?1)",
        [id],
        |r| r.get(0),
    )?;
    if exists {
        return Ok(());
    }
    Err(Error::invalid(
        "package",
        format!("there is no package with id {id}; it may have been deleted"),
    ))
}

/// The hand-out rule for an edit: the role it gives and the packages it joins
/// (`Tx::ensure_may_give`).
fn ensure_may_give_edit(
    tx: &Tx<'_>,
    before: &User,
    (role_id, role_name): (Option<i64>, &str),
    change: &UserChange,
) -> Result<()> {
    let new_role = role_id
        .filter(|id| *id != before.role_id)
        .map(|id| (id, role_name));
    let joined: Vec<i64> = match &change.packages {
        Some(packages) => {
            let held = super::packages::package_ids_of(tx.tx, before.id)?;
            packages
                .iter()
                .copied()
                .filter(|p| !held.contains(p))
                .collect()
        }
        None => Vec::new(),
    };
    tx.ensure_may_give(new_role, &joined)?;
    // The sign-in fields and enabling make the user usable by whoever set them.
    let email_changes = change
        .email
        .as_ref()
        .is_some_and(|e| fold(e) != fold(&before.email));
    let enables = change.active == Some(true) && !before.active;
    if email_changes || enables {
        tx.ensure_may_act_as(before.id, &before.username)?;
    }
    Ok(())
}

fn insert_user(
    tx: &Tx<'_>,
    username: &str,
    profile: &Profile,
    role: Option<&RoleRef>,
    hash: Option<String>,
    packages: &[String],
) -> Result<()> {
    let taken: bool = tx
        .tx
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM users WHERE username = ?1)")?
        .query_row([username], |r| r.get(0))?;
    if taken {
        return Err(Error::invalid(
            "username",
            format!("\"{username}\" is already taken"),
        ));
    }
    ensure_email_free(tx.tx, &profile.email, None)?;
    let existing: i64 = tx
        .tx
        .query_row("SELECT EXISTS (SELECT 1 FROM users)", params![], |r| {
            r.get(0)
        })?;
    let first = existing == 0;
    // `None`: the default role; `Some(None)`: no direct role.
    let requested = role
        .map(|r| super::roles::resolve_user_role(tx, r).map(|(id, _)| id))
        .transpose()?;
    let role_id: Option<i64> = if first {
        // Compare the role itself, not how it was spelled (a name or an id).
        let admin = administrator_id(tx)?;
        match requested {
            Some(Some(other)) if other != admin => {
                let name = load_role(tx.tx, tx.catalog, other)?.name;
                user::first_user_role(Some(&name), true)?;
            }
            Some(None) => user::first_user_role(Some("none"), true)?,
            _ => {}
        }
        Some(admin)
    } else {
        match requested {
            Some(id) => id,
            None => Some(tx.tx.query_row(
                "SELECT default_role_id FROM settings WHERE id = 1",
                params![],
                |r| r.get(0),
            )?),
        }
    };
    tx.tx
        .prepare_cached(
            "INSERT INTO users (username, email, email_fold, first_name, last_name, position, signature, \
                timezone, language, role_id, active, owner, password_hash, created_at, updated_at, updated_by, \
                version, created_seq) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, TRUE, ?11, ?12, ?13, ?13, ?14, ?15, ?15)",
        )?
        .execute(params![
            username,
            profile.email,
            fold(&profile.email),
            profile.first_name,
            profile.last_name,
            profile.position,
            profile.signature,
            profile.timezone,
            profile.language,
            role_id,
            first,
            hash,
            tx.at,
            tx.actor,
            tx.seq
        ])?;
    let role_name: Option<String> = match role_id {
        Some(id) => Some(
            tx.tx
                .prepare_cached("SELECT name FROM roles WHERE id = ?1")?
                .query_row([id], |r| text(r, 0))?,
        ),
        None => None,
    };
    tx.ensure_may_give(role_id.zip(role_name.as_deref()), &[])?;
    let mut after = profile_json(profile);
    after.insert("username".into(), json!(username));
    after.insert("role".into(), json!(role_name));
    after.insert("active".into(), json!(true));
    after.insert("owner".into(), json!(first));
    after.insert("has_password".into(), json!(hash.is_some()));
    if !packages.is_empty() {
        after.insert("packages".into(), json!(packages));
    }
    tx.audit("user.add", username, None, Some(after.into()))
}

/// The names of the packages `ids`, sorted, for the audit row of a user who joins
/// them as they are added; an id that is not (or no longer) there is refused.
fn package_names(
    tx: &Db,
    ids: &std::collections::BTreeSet<i64>,
    known: &mut std::collections::HashMap<i64, String>,
) -> Result<Vec<String>> {
    let mut names = Vec::with_capacity(ids.len());
    for id in ids {
        if !known.contains_key(id) {
            ensure_package_exists(tx, *id)?;
            let name: String =
                tx.query_row("SELECT name FROM packages WHERE id = ?1", [id], |r| {
                    text(r, 0)
                })?;
            known.insert(*id, name);
        }
        names.push(known[id].clone());
    }
    names.sort();
    Ok(names)
}

/// Puts users just added, in this transaction, into their packages (each already
/// found by [`package_names`]): the operator may hand them out, the memberships
/// written together (in `unnest` batches on a server), and each package's version
/// moved on once, not once per member.
fn join_added(tx: &Tx<'_>, joins: &[(String, std::collections::BTreeSet<i64>)]) -> Result<()> {
    if joins.is_empty() {
        return Ok(());
    }
    let packages: std::collections::BTreeSet<i64> =
        joins.iter().flat_map(|(_, p)| p.iter().copied()).collect();
    // Each package was found when its name was read for the audit rows.
    tx.ensure_may_give(None, &packages.iter().copied().collect::<Vec<_>>())?;
    let names: Vec<&str> = joins.iter().map(|(u, _)| u.as_str()).collect();
    let ids = user_ids(tx.tx, &names)?;
    let (mut members, mut of) = (Vec::new(), Vec::new());
    for (username, joined) in joins {
        let Some(&id) = ids.get(username) else {
            return Err(Error::invalid(
                "username",
                format!("there is no user \"{}\"", crate::text::excerpt(username)),
            ));
        };
        for package in joined {
            members.push(id);
            of.push(*package);
        }
    }
    super::packages::insert_members(tx.tx, &of, &members)?;
    for package in &packages {
        super::packages::bump_package(tx, *package)?;
    }
    Ok(())
}

/// The ids of the users named, by exact username: one round trip on a server.
pub(super) fn user_ids(
    conn: &Db,
    names: &[&str],
) -> Result<std::collections::HashMap<String, i64>> {
    if conn.is_pg() {
        return Ok(conn
            .pg_query_strings(
                "SELECT username || chr(1) || id FROM users WHERE username = ANY(?1)",
                names,
            )?
            .into_iter()
            .filter_map(|row| {
                let (name, id) = row.split_once('\u{1}')?;
                Some((name.to_string(), id.parse().ok()?))
            })
            .collect());
    }
    let stmt = conn.prepare_cached("SELECT id FROM users WHERE username = ?1")?;
    let mut ids = std::collections::HashMap::with_capacity(names.len());
    for name in names {
        if let Some(id) = stmt.query_row([*name], |r| r.get::<i64>(0)).optional()? {
            ids.insert(name.to_string(), id);
        }
    }
    Ok(ids)
}

/// One column set to one value on several users by a bulk change.
struct BulkSet {
    column: &'static str,
    value: Box<dyn Param>,
    /// The audit row's field, and the value it shows after the change.
    field: &'static str,
    after: Value,
}

/// What one user's bulk change means for the owner rule and the audit row: their
/// role and active flag after it, and the field's value before it.
struct BulkChange {
    role: String,
    active: bool,
    before: Value,
}

/// The users `refs` name, in their order, as [`load_ref`] reads each: on a server in
/// one round trip, on a file one indexed read each.
fn load_refs(conn: &Db, refs: &[UserRef]) -> Result<Vec<User>> {
    if !conn.is_pg() || refs.len() < 2 {
        return refs.iter().map(|who| load_ref(conn, who)).collect();
    }
    use tokio_postgres::types::Type;
    let names: Vec<String> = refs
        .iter()
        .filter_map(|who| match who {
            UserRef::Typed(name) => Some(fold(name)),
            UserRef::Row { .. } => None,
        })
        .collect();
    let ids: Vec<i64> = refs
        .iter()
        .filter_map(|who| match who {
            UserRef::Row { id, .. } => Some(*id),
            UserRef::Typed(_) => None,
        })
        .collect();
    let rows = conn.pg_query_typed(
        &format!(
            "SELECT {USER_COLUMNS} FROM users u LEFT JOIN roles r ON r.id = u.role_id \
             WHERE u.username = ANY(?1) OR u.id = ANY(?2)"
        ),
        &[(&names, Type::TEXT_ARRAY), (&ids, Type::INT8_ARRAY)],
    )?;
    let found: std::collections::HashMap<i64, User> = rows
        .iter()
        .map(|r| user_row(&super::db::Row::Pg(r)).map(|u| (u.id, u)))
        .collect::<super::db::SqlResult<_>>()?;
    let by_name: std::collections::HashMap<&str, &User> =
        found.values().map(|u| (u.username.as_str(), u)).collect();
    let mut names = names.iter();
    refs.iter()
        .map(|who| {
            let user = match who {
                UserRef::Typed(_) => names.next().and_then(|n| by_name.get(n.as_str()).copied()),
                UserRef::Row { id, .. } => found.get(id),
            };
            match user {
                Some(user) => Ok(user.clone()),
                // Not found: the error the one-by-one read gives.
                None => load_ref(conn, who),
            }
        })
        .collect()
}

/// Sets `set` on each user in the caller's transaction: users `change` returns `None`
/// for already have the value; for the rest the owner rule is checked, the rows and
/// their versions updated, and one audit row written each. Every user is read and
/// checked before anything is written; on a server the rows are read, updated and
/// audited in one round trip each. Returns how many changed.
fn change_each(
    tx: &Tx<'_>,
    users: &[UserRef],
    set: BulkSet,
    change: impl Fn(&User) -> Option<BulkChange>,
) -> Result<usize> {
    // Each user who changes, with the field's value before.
    let mut changed: Vec<(User, Value)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for before in load_refs(tx.tx, users)? {
        // A user named twice changes once, as the second read would find it changed.
        if !seen.insert(before.id) {
            continue;
        }
        let Some(c) = change(&before) else { continue };
        user::ensure_owner_kept(&before, &c.role, c.active)?;
        changed.push((before, c.before));
    }
    let sql = format!(
        "UPDATE users SET {} = ?1, version = ?2, updated_at = ?3, updated_by = ?4 WHERE id = ",
        set.column
    );
    if tx.tx.is_pg() && changed.len() > 1 {
        use tokio_postgres::types::Type;
        let ids: Vec<i64> = changed.iter().map(|(u, _)| u.id).collect();
        let value = set.value.pg();
        let (value, value_type) = value.arg();
        tx.tx.pg_execute(
            &format!("{sql}ANY(?5)"),
            &[
                (value, value_type),
                (&tx.seq, Type::INT8),
                (&tx.at, Type::TEXT),
                (&tx.actor, Type::TEXT),
                (&ids, Type::INT8_ARRAY),
            ],
        )?;
    } else {
        for (user, _) in &changed {
            tx.tx.execute(
                &format!("{sql}?5"),
                params![set.value, tx.seq, tx.at, tx.actor, user.id],
            )?;
        }
    }
    let after = json!({ set.field: set.after });
    let rows = changed
        .iter()
        .map(|(u, before)| {
            let before = json!({ set.field: before });
            (u.username.as_str(), Some(before), Some(after.clone()))
        })
        .collect();
    tx.audit_many("user.update", rows)?;
    Ok(changed.len())
}

impl Store {
    /// Users in username order, optionally only those holding `role`.
    pub fn users(&self, role: Option<RoleRef>) -> Result<Vec<User>> {
        let no_role = role == Some(RoleRef::None);
        let role_id = role
            .filter(|_| !no_role)
            .map(|r| resolve_role(&self.conn, &r, "role"))
            .transpose()?;
        let stmt = self.conn.prepare_cached(&format!(
            "SELECT {USER_COLUMNS} FROM users u LEFT JOIN roles r ON r.id = u.role_id \
             WHERE CASE WHEN ?2 THEN u.role_id IS NULL ELSE ?1 IS NULL OR u.role_id = ?1 END \
             ORDER BY u.username"
        ))?;
        let rows = stmt.query_map(params![role_id, no_role], user_row)?;
        Ok(rows.collect::<super::db::SqlResult<_>>()?)
    }

    /// Every user as the console's list needs them, in username order. One light
    /// query: no join, eight columns, read in table order and sorted here, which is
    /// several times faster than walking the username index and seeking each row.
    pub fn user_rows(&self) -> Result<Vec<UserRow>> {
        let stmt = self.conn.prepare_cached(
            "SELECT id, username, first_name, last_name, email, role_id, active, owner FROM users",
        )?;
        let rows = stmt.query_map(params![], user_row_light)?;
        let mut rows: Vec<UserRow> = rows.collect::<super::db::SqlResult<_>>()?;
        rows.sort_unstable_by(|a, b| a.username.cmp(&b.username));
        Ok(rows)
    }

    /// The first `limit` users in username order, through the username index: what
    /// the console needs for its first frame before the whole list has loaded.
    pub fn user_rows_page(&self, limit: usize) -> Result<Vec<UserRow>> {
        let stmt = self.conn.prepare_cached(
            "SELECT id, username, first_name, last_name, email, role_id, active, owner FROM users \
             ORDER BY username LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit as i64], user_row_light)?;
        Ok(rows.collect::<super::db::SqlResult<_>>()?)
    }

    pub fn user_count(&self) -> Result<usize> {
        let n: i64 = self
            .conn
            .query_row("SELECT count(*) FROM users", params![], |r| r.get(0))?;
        Ok(n as usize)
    }

    /// One user by username (ignoring case).
    pub fn user(&self, username: &str) -> Result<User> {
        load_user(&self.conn, username)
    }

    /// The user `who` names: for a row read before, that row or a conflict.
    pub fn user_by_ref(&self, who: &UserRef) -> Result<User> {
        load_ref(&self.conn, who)
    }

    /// Adds a user. The first user becomes the owner, on Administrator.
    pub fn add_user(&mut self, new: NewUser) -> Result<User> {
        let username = validate::username(&new.username)?;
        let profile = new.profile.validated()?;
        let hash = new.password.as_deref().map(password::hash).transpose()?;
        self.write(Need::One(Right::Users), |tx| {
            let joined = package_names(tx.tx, &new.packages, &mut Default::default())?;
            insert_user(tx, &username, &profile, new.role.as_ref(), hash, &joined)?;
            if !new.packages.is_empty() {
                let id = load_user(tx.tx, &username)?.id;
                let packages: Vec<i64> = new.packages.iter().copied().collect();
                tx.ensure_may_give(None, &packages)?;
                set_packages(tx, id, &new.packages)?;
            }
            load_user(tx.tx, &username)
        })
    }

    /// Adds many users in one transaction (demo data, imports): every user is checked
    /// before anything is written, and any refusal leaves the database as it was.
    /// Passwords are not taken here; set them afterwards.
    pub fn add_users(&mut self, users: Vec<NewUser>) -> Result<usize> {
        let mut checked = Vec::with_capacity(users.len());
        let mut joins = Vec::new();
        let mut joining = Vec::with_capacity(users.len());
        for new in users {
            if new.password.is_some() {
                return Err(Error::invalid(
                    "password",
                    "users added together are added without passwords; set each one with `users passwd`",
                ));
            }
            let username = validate::username(&new.username)?;
            let profile = new.profile.validated()?;
            joining.push(new.packages.clone());
            if !new.packages.is_empty() {
                joins.push((username.clone(), new.packages));
            }
            checked.push((username, profile, new.role));
        }
        self.write(Need::One(Right::Users), |tx| {
            let mut known = std::collections::HashMap::new();
            let joined = joining
                .iter()
                .map(|ids| package_names(tx.tx, ids, &mut known))
                .collect::<Result<Vec<_>>>()?;
            // A server answers each statement over the network: many users go in
            // batches there, checked by the same rules.
            if tx.tx.is_pg() && checked.len() > 1 {
                add_users_batched(tx, &checked, &joined)?;
            } else {
                for ((username, profile, role), joined) in checked.iter().zip(&joined) {
                    insert_user(tx, username, profile, role.as_ref(), None, joined)?;
                }
            }
            join_added(tx, &joins)?;
            Ok(checked.len())
        })
    }

    /// Applies an edit in one transaction: the version check (when given), field
    /// validation, the owner rule, then the change and its audit row.
    pub fn update_user(
        &mut self,
        who: impl Into<UserRef>,
        expected_version: Option<i64>,
        change: UserChange,
    ) -> Result<User> {
        let who = who.into();
        let username = who.username();
        self.write(Need::One(Right::Users), |tx| {
            let before = match (load_ref(tx.tx, &who), expected_version) {
                // A version was read, so the user existed: they are gone now.
                (Err(Error::Invalid { .. }), Some(v)) => {
                    return Err(tx.deleted(format!("user \"{username}\""), "user.remove", username, v));
                }
                (found, _) => found?,
            };
            tx.check_version(
                format!("user \"{}\"", before.username),
                expected_version,
                RowVersion {
                    name: &before.username,
                    removed_as: "user.remove",
                    version: before.version,
                    created_seq: before.created_seq,
                    updated_by: &before.updated_by,
                    updated_at: &before.updated_at,
                },
            )?;
            let old_profile = Profile {
                email: before.email.clone(),
                first_name: before.first_name.clone(),
                last_name: before.last_name.clone(),
                position: before.position.clone(),
                signature: before.signature.clone(),
                timezone: before.timezone.clone(),
                language: before.language.clone(),
            };
            let pick = |new: &Option<String>, old: &String| new.clone().unwrap_or_else(|| old.clone());
            let profile = Profile {
                email: pick(&change.email, &old_profile.email),
                first_name: pick(&change.first_name, &old_profile.first_name),
                last_name: pick(&change.last_name, &old_profile.last_name),
                position: pick(&change.position, &old_profile.position),
                signature: pick(&change.signature, &old_profile.signature),
                timezone: pick(&change.timezone, &old_profile.timezone),
                language: pick(&change.language, &old_profile.language),
            }
            .validated()?;
            let (role_id, role_name) = match &change.role {
                Some(role) => super::roles::resolve_user_role(tx, role)?,
                None => ((before.role_id != 0).then_some(before.role_id), before.role.clone()),
            };
            let active = change.active.unwrap_or(before.active);
            user::ensure_owner_kept(&before, &role_name, active)?;
            ensure_may_give_edit(tx, &before, (role_id, &role_name), &change)?;
            if fold(&profile.email) != fold(&before.email) {
                ensure_email_free(tx.tx, &profile.email, Some(before.id))?;
            }

            let mut old = profile_json(&old_profile);
            let mut new = profile_json(&profile);
            let role_json = |name: &str| if name.is_empty() { json!(null) } else { json!(name) };
            old.insert("role".into(), role_json(&before.role));
            new.insert("role".into(), role_json(&role_name));
            old.insert("active".into(), json!(before.active));
            new.insert("active".into(), json!(active));
            if let Some(packages) = &change.packages {
                let (was, now) = set_packages(tx, before.id, packages)?;
                old.insert("packages".into(), json!(was));
                new.insert("packages".into(), json!(now));
            }
            old.retain(|k, v| new.get(k) != Some(v));
            new.retain(|k, _| old.contains_key(k));
            if new.is_empty() {
                return Ok(before);
            }
            tx.tx.execute(
                "UPDATE users SET email = ?1, email_fold = ?2, first_name = ?3, last_name = ?4, position = ?5, \
                    signature = ?6, timezone = ?7, language = ?8, role_id = ?9, active = ?10, \
                    version = ?14, updated_at = ?11, updated_by = ?12 WHERE id = ?13",
                params![
                    profile.email,
                    fold(&profile.email),
                    profile.first_name,
                    profile.last_name,
                    profile.position,
                    profile.signature,
                    profile.timezone,
                    profile.language,
                    role_id,
                    active,
                    tx.at,
                    tx.actor,
                    before.id,
                    tx.seq
                ],
            )?;
            tx.audit("user.update", &before.username, Some(old.into()), Some(new.into()))?;
            load_user(tx.tx, &before.username)
        })
    }

    /// Gives several users one role in one transaction, one audit row per user who
    /// changed. Returns how many changed; the owner rule refuses the whole batch.
    pub fn set_role_for(&mut self, users: &[UserRef], role: impl Into<RoleRef>) -> Result<usize> {
        let role = role.into();
        self.write(Need::One(Right::Users), |tx| {
            let (role_id, role_name) = super::roles::resolve_user_role(tx, &role)?;
            tx.ensure_may_give(role_id.map(|id| (id, role_name.as_str())), &[])?;
            let name_json = |name: &str| {
                if name.is_empty() {
                    json!(null)
                } else {
                    json!(name)
                }
            };
            let set = BulkSet {
                column: "role_id",
                value: Box::new(role_id),
                field: "role",
                after: name_json(&role_name),
            };
            change_each(tx, users, set, |before| {
                (before.role_id != role_id.unwrap_or(0)).then(|| BulkChange {
                    role: role_name.clone(),
                    active: before.active,
                    before: name_json(&before.role),
                })
            })
        })
    }

    /// Enables or disables several users in one transaction, one audit row per user
    /// who changed. Returns how many changed; the owner rule refuses the whole batch.
    pub fn set_active_for(&mut self, users: &[UserRef], active: bool) -> Result<usize> {
        self.write(Need::One(Right::Users), |tx| {
            if active && tx.restricted() {
                for user in load_refs(tx.tx, users)? {
                    if !user.active {
                        tx.ensure_may_act_as(user.id, &user.username)?;
                    }
                }
            }
            let set = BulkSet {
                column: "active",
                value: Box::new(active),
                field: "active",
                after: json!(active),
            };
            change_each(tx, users, set, |before| {
                (before.active != active).then(|| BulkChange {
                    role: before.role.clone(),
                    active,
                    before: json!(before.active),
                })
            })
        })
    }

    /// Sets or replaces a user's password (stored as an argon2id hash only).
    pub fn set_password(&mut self, username: &str, password_text: &str) -> Result<()> {
        let hash = password::hash(password_text)?;
        self.write(Need::One(Right::Users), |tx| {
            let before = load_user(tx.tx, username)?;
            tx.ensure_may_act_as(before.id, &before.username)?;
            tx.tx.execute(
                "UPDATE users SET password_hash = ?1, version = ?2, updated_at = ?3, updated_by = ?4 WHERE id = ?5",
                params![hash, tx.seq, tx.at, tx.actor, before.id],
            )?;
            tx.audit(
                "user.password",
                &before.username,
                Some(json!({"has_password": before.has_password})),
                Some(json!({"has_password": true})),
            )
        })
    }

    /// True when `password_text` is the user's password.
    pub fn verify_password(&self, username: &str, password_text: &str) -> Result<bool> {
        let hash: Option<String> = self
            .conn
            .query_row(
                "SELECT password_hash FROM users WHERE username = ?1",
                [fold(username)],
                |r| r.get(0),
            )
            .optional()?
            .flatten();
        Ok(hash.is_some_and(|h| password::verify(password_text, &h)))
    }

    /// Removes a user who is not the owner.
    pub fn remove_user(&mut self, who: impl Into<UserRef>) -> Result<()> {
        let who = who.into();
        self.write(Need::One(Right::Users), |tx| {
            let before = load_ref(tx.tx, &who)?;
            user::ensure_removable(&before)?;
            tx.tx
                .execute("DELETE FROM users WHERE id = ?1", [before.id])?;
            let mut old = profile_json(&Profile {
                email: before.email.clone(),
                first_name: before.first_name.clone(),
                last_name: before.last_name.clone(),
                position: before.position.clone(),
                signature: before.signature.clone(),
                timezone: before.timezone.clone(),
                language: before.language.clone(),
            });
            old.insert("role".into(), json!(before.role));
            old.insert("active".into(), json!(before.active));
            tx.audit("user.remove", &before.username, Some(old.into()), None)
        })
    }

    /// Moves the owner mark to `username`, who is given Administrator.
    pub fn transfer_ownership(&mut self, who: impl Into<UserRef>) -> Result<User> {
        let who = who.into();
        self.write(Need::One(Right::Users), |tx| {
            let target = load_ref(tx.tx, &who)?;
            user::ensure_can_become_owner(&target)?;
            tx.ensure_may_hand_out("ownership", &Grants::all(tx.catalog))?;
            let admin = administrator_id(tx)?;
            let previous: Option<String> = tx
                .tx
                .query_row("SELECT username FROM users WHERE owner = TRUE", params![], |r| text(r, 0))
                .optional()?;
            tx.tx.execute(
                "UPDATE users SET owner = FALSE, version = ?1, updated_at = ?2, updated_by = ?3 WHERE owner = TRUE",
                params![tx.seq, tx.at, tx.actor],
            )?;
            tx.tx.execute(
                "UPDATE users SET owner = TRUE, role_id = ?1, version = ?2, updated_at = ?3, updated_by = ?4 WHERE id = ?5",
                params![admin, tx.seq, tx.at, tx.actor, target.id],
            )?;
            tx.audit(
                "user.transfer_ownership",
                &target.username,
                Some(json!({"owner": previous, "role": target.role})),
                Some(json!({"owner": target.username, "role": ADMINISTRATOR})),
            )?;
            load_user(tx.tx, &target.username)
        })
    }

    /// May `username` do `permission`? With the reasons, for `check --explain`.
    ///
    /// The username is matched exactly, as the `user_permissions` view matches it, so
    /// `check` and the view never disagree about who is asked about.
    pub fn check(&self, username: &str, permission: &str) -> Result<Decision> {
        self.checked(username, permission, true)
    }

    /// [`Store::check`] without the missing link of a denial (the roles that would
    /// grant the permission): the same answer, for a caller that shows only
    /// allowed or denied.
    pub fn decide(&self, username: &str, permission: &str) -> Result<Decision> {
        self.checked(username, permission, false)
    }

    fn checked(&self, username: &str, permission: &str, missing_link: bool) -> Result<Decision> {
        // One read of the database: the user, the roles and the packages as they
        // stood together, not statement by statement (on SQLite also one lock for
        // all of them).
        let read = self.conn.begin_snapshot()?;
        let user = load_user(&self.conn, username)?;
        ensure_exact(&user, username)?;
        let sources = self.sources_of(&user)?;
        let decision = match missing_link {
            true => self.explain_with(&user, &sources, permission)?,
            false => access::decide_sources(&self.catalog, &user, &sources, permission, &[])?,
        };
        read.commit()?;
        Ok(decision)
    }

    /// The decision and its reasons for `user` as given (the console passes a user
    /// as its form stands): the one explanation `check --explain` and the console's
    /// effective-permissions pane both show.
    pub fn explain(&self, user: &User, permission: &str) -> Result<Decision> {
        let sources = self.sources_of(user)?;
        self.explain_with(user, &sources, permission)
    }

    /// The decision for `user` holding `sources` (the roles a form holds before it
    /// is saved), with the missing link on a denial.
    pub fn explain_with(
        &self,
        user: &User,
        sources: &[access::Source],
        permission: &str,
    ) -> Result<Decision> {
        decide_explaining(&self.catalog, user, sources, permission, |held| {
            self.roles_granting(permission, held)
        })
    }

    /// Every role `user` holds and how (direct, or through which package).
    pub fn sources_of(&self, user: &User) -> Result<Vec<access::Source>> {
        let direct = (user.role_id != 0).then_some((user.role_id, user.role.as_str()));
        let membership = super::packages::Membership::OfUser(user.id);
        super::packages::sources(&self.conn, &self.catalog, membership, direct)
    }

    /// Every role a user with direct role `direct` (id and name) and in `packages`
    /// (ids) would hold, and how: what the console's form shows before a save.
    pub fn sources_with(
        &self,
        direct: Option<(i64, &str)>,
        packages: &[i64],
    ) -> Result<Vec<access::Source>> {
        let membership = super::packages::Membership::Packages(packages);
        super::packages::sources(&self.conn, &self.catalog, membership, direct)
    }

    /// What `user` may do: the union of every role they hold, nothing if disabled.
    pub fn effective_grants(&self, user: &User) -> Result<Grants> {
        if !user.active {
            return Ok(Grants::none(&self.catalog));
        }
        Ok(access::union(&self.catalog, &self.sources_of(user)?))
    }

    /// Roles that grant `permission` (any leaf under it, for a category) other than
    /// the ones in `held`, up to ten, each with the packages that include it.
    fn roles_granting(
        &self,
        permission: &str,
        held: &[access::Source],
    ) -> Result<Vec<access::Elsewhere>> {
        let stmt = self.conn.prepare_cached(
            "SELECT DISTINCT r.id, r.name FROM role_grants g JOIN roles r ON r.id = g.role_id \
             WHERE g.permission_key = ?1 OR substr(g.permission_key, 1, length(?1) + 1) = ?1 || '.' \
             ORDER BY r.name",
        )?;
        let roles: Vec<(i64, String)> = stmt
            .query_map([permission], |r| Ok((r.get(0)?, text(r, 1)?)))?
            .collect::<super::db::SqlResult<_>>()?;
        elsewhere(roles, held, |id| {
            super::packages::package_names_including(&self.conn, id)
        })
    }
}

/// Refuses `user`, found for `asked`, when the names differ in more than case: users
/// are matched exactly, as the `user_permissions` view matches them, so `check` and
/// the view never disagree about who is asked about.
pub(super) fn ensure_exact(user: &User, asked: &str) -> Result<()> {
    if user.username == asked {
        return Ok(());
    }
    Err(Error::invalid(
        "username",
        format!(
            "there is no user \"{}\"; usernames are matched exactly (did you mean \"{}\"?)",
            crate::text::excerpt(asked),
            display_safe(&user.username)
        ),
    ))
}

/// The decision for `user` holding `sources`; on a denial of an active user, with
/// the missing link: the roles `granting` finds that would grant the permission.
pub(super) fn decide_explaining(
    catalog: &Catalog,
    user: &User,
    sources: &[access::Source],
    permission: &str,
    granting: impl FnOnce(&[access::Source]) -> Result<Vec<access::Elsewhere>>,
) -> Result<Decision> {
    let decision = access::decide_sources(catalog, user, sources, permission, &[])?;
    if decision.allowed || !user.active {
        return Ok(decision);
    }
    let elsewhere = granting(sources)?;
    access::decide_sources(catalog, user, sources, permission, &elsewhere)
}

/// The roles of `candidates` (id and name, in name order) that `held` does not
/// already hold, up to ten, each with the packages that include it.
pub(super) fn elsewhere(
    candidates: Vec<(i64, String)>,
    held: &[access::Source],
    mut packages_including: impl FnMut(i64) -> Result<Vec<String>>,
) -> Result<Vec<access::Elsewhere>> {
    let held: std::collections::HashSet<&str> = held.iter().map(|s| s.via.role.as_str()).collect();
    candidates
        .into_iter()
        .filter(|(_, name)| !held.contains(name.as_str()))
        .take(crate::error::IN_USE_SAMPLE)
        .map(|(id, role)| {
            let packages = packages_including(id)?;
            Ok(access::Elsewhere { role, packages })
        })
        .collect()
}

/// Users in one statement of a batched add.
const USERS_PER_BATCH: usize = 5_000;

/// [`insert_user`] for many users on PostgreSQL: the same checks (a username or email
/// taken, in the database or earlier in the batch; the first user's role), then the
/// rows and their audit rows written with `unnest`, a few thousand per statement.
fn add_users_batched(
    tx: &Tx<'_>,
    users: &[(String, Profile, Option<RoleRef>)],
    joined: &[Vec<String>],
) -> Result<usize> {
    let mut rest = users;
    let mut rest_joined = joined;
    let empty: bool = !tx
        .tx
        .query_row("SELECT EXISTS (SELECT 1 FROM users)", params![], |r| {
            r.get::<bool>(0)
        })?;
    if empty {
        // The first user becomes the owner: the single-user path says how.
        let (username, profile, role) = &users[0];
        insert_user(tx, username, profile, role.as_ref(), None, &joined[0])?;
        rest = &users[1..];
        rest_joined = &joined[1..];
    }
    let mut names = std::collections::HashSet::with_capacity(rest.len());
    let mut emails = std::collections::HashMap::with_capacity(rest.len());
    for (username, profile, _) in rest {
        if !names.insert(username.as_str()) {
            return Err(Error::invalid(
                "username",
                format!("\"{username}\" is already taken"),
            ));
        }
        if let Some(other) = emails.insert(fold(&profile.email), username.as_str()) {
            return Err(Error::invalid(
                "email",
                format!(
                    "\"{}\" is already used by \"{}\"",
                    crate::text::excerpt(&profile.email),
                    display_safe(other)
                ),
            ));
        }
    }
    let all_names: Vec<&str> = rest.iter().map(|(u, _, _)| u.as_str()).collect();
    let all_emails: Vec<String> = rest.iter().map(|(_, p, _)| fold(&p.email)).collect();
    let taken = pg_strings(
        tx,
        "SELECT username FROM users WHERE username = ANY(?1) LIMIT 1",
        &all_names,
    )?;
    if let Some(name) = taken.into_iter().next() {
        return Err(Error::invalid(
            "username",
            format!("\"{name}\" is already taken"),
        ));
    }
    let email_refs: Vec<&str> = all_emails.iter().map(String::as_str).collect();
    let holders = pg_strings(
        tx,
        "SELECT email_fold || chr(1) || username FROM users WHERE email_fold = ANY(?1) LIMIT 1",
        &email_refs,
    )?;
    if let Some(found) = holders.into_iter().next() {
        let (email, other) = found.split_once('\u{1}').unwrap_or((found.as_str(), ""));
        return Err(Error::invalid(
            "email",
            format!(
                "\"{}\" is already used by \"{}\"",
                crate::text::excerpt(email),
                display_safe(other)
            ),
        ));
    }
    let default_role: i64 = tx.tx.query_row(
        "SELECT default_role_id FROM settings WHERE id = 1",
        params![],
        |r| r.get(0),
    )?;
    let default_name = load_role(tx.tx, tx.catalog, default_role)?.name;
    let mut resolved: Vec<(Option<RoleRef>, Option<i64>, Option<String>)> = Vec::new();
    let mut role_of = |role: &Option<RoleRef>| -> Result<(Option<i64>, Option<String>)> {
        if let Some((_, id, name)) = resolved.iter().find(|(r, _, _)| r == role) {
            return Ok((*id, name.clone()));
        }
        let (id, name) = match role {
            None => (Some(default_role), Some(default_name.clone())),
            Some(r) => {
                let (id, name) = super::roles::resolve_user_role(tx, r)?;
                (id, id.map(|_| name))
            }
        };
        resolved.push((role.clone(), id, name.clone()));
        Ok((id, name))
    };
    for (chunk, chunk_joined) in rest
        .chunks(USERS_PER_BATCH)
        .zip(rest_joined.chunks(USERS_PER_BATCH))
    {
        let mut role_ids: Vec<Option<i64>> = Vec::with_capacity(chunk.len());
        let mut audit = Vec::with_capacity(chunk.len());
        for ((username, profile, role), joined) in chunk.iter().zip(chunk_joined) {
            let (role_id, role_name) = role_of(role)?;
            role_ids.push(role_id);
            let mut after = profile_json(profile);
            after.insert("username".into(), json!(username));
            after.insert("role".into(), json!(role_name));
            after.insert("active".into(), json!(true));
            after.insert("owner".into(), json!(false));
            after.insert("has_password".into(), json!(false));
            if !joined.is_empty() {
                after.insert("packages".into(), json!(joined));
            }
            audit.push((username.as_str(), None, Some(Value::from(after))));
        }
        let rows: Vec<NewRow<'_>> = chunk
            .iter()
            .zip(&role_ids)
            .map(|((username, profile, _), role_id)| NewRow {
                username,
                profile,
                role_id: *role_id,
                active: true,
                owner: false,
            })
            .collect();
        insert_users_unnest(tx, &rows)?;
        tx.audit_many("user.add", audit)?;
    }
    Ok(users.len())
}

/// A new user's row for [`insert_users_unnest`].
pub(super) struct NewRow<'a> {
    pub username: &'a str,
    pub profile: &'a Profile,
    /// `None`: no direct role.
    pub role_id: Option<i64>,
    pub active: bool,
    pub owner: bool,
}

/// Inserts `rows` on PostgreSQL, without passwords, in one `unnest` statement (one
/// round trip however many), and returns their new ids in the same order. The
/// caller has checked them as [`insert_user`] checks one.
pub(super) fn insert_users_unnest(tx: &Tx<'_>, rows: &[NewRow<'_>]) -> Result<Vec<i64>> {
    use tokio_postgres::types::Type;
    let mut text: [Vec<&str>; 8] = Default::default();
    let folds: Vec<String> = rows.iter().map(|r| fold(&r.profile.email)).collect();
    let (mut roles, mut active, mut owner) = (Vec::new(), Vec::new(), Vec::new());
    for row in rows {
        let p = row.profile;
        let fields = [
            row.username,
            &p.email,
            &p.first_name,
            &p.last_name,
            &p.position,
            &p.signature,
            &p.timezone,
            &p.language,
        ];
        for (column, value) in text.iter_mut().zip(fields) {
            column.push(value);
        }
        roles.push(row.role_id);
        active.push(row.active);
        owner.push(row.owner);
    }
    let (at, actor, seq): (&str, &str, i64) = (&tx.at, tx.actor, tx.seq);
    let written = tx.tx.pg_query_typed(
        "INSERT INTO users (username, email, email_fold, first_name, last_name, position, signature, \
            timezone, language, role_id, active, owner, password_hash, created_at, updated_at, \
            updated_by, version, created_seq) \
         SELECT u, e, ef, fn, ln, p, s, tz, lang, r, act, own, NULL, ?13, ?13, ?14, ?15, ?15 \
         FROM unnest(?1::text[], ?2::text[], ?3::text[], ?4::text[], ?5::text[], ?6::text[], \
                     ?7::text[], ?8::text[], ?9::text[], ?10::int8[], ?11::bool[], ?12::bool[]) \
              WITH ORDINALITY AS t(u, e, ef, fn, ln, p, s, tz, lang, r, act, own, n) ORDER BY n \
         RETURNING id, username",
        &[
            (&text[0], Type::TEXT_ARRAY),
            (&text[1], Type::TEXT_ARRAY),
            (&folds, Type::TEXT_ARRAY),
            (&text[2], Type::TEXT_ARRAY),
            (&text[3], Type::TEXT_ARRAY),
            (&text[4], Type::TEXT_ARRAY),
            (&text[5], Type::TEXT_ARRAY),
            (&text[6], Type::TEXT_ARRAY),
            (&text[7], Type::TEXT_ARRAY),
            (&roles, Type::INT8_ARRAY),
            (&active, Type::BOOL_ARRAY),
            (&owner, Type::BOOL_ARRAY),
            (&at, Type::TEXT),
            (&actor, Type::TEXT),
            (&seq, Type::INT8),
        ],
    )?;
    // RETURNING's order is not promised: the ids are matched by username.
    let by_name: std::collections::HashMap<String, i64> = written
        .iter()
        .map(|r| Ok((r.try_get::<_, String>(1)?, r.try_get::<_, i64>(0)?)))
        .collect::<std::result::Result<_, tokio_postgres::Error>>()
        .map_err(super::db::DbError::from)?;
    rows.iter()
        .map(|row| {
            by_name.get(row.username).copied().ok_or_else(|| {
                Error::Storage(format!(
                    "the new user \"{}\" was not written; nothing was changed",
                    crate::text::excerpt(row.username)
                ))
            })
        })
        .collect()
}

/// Rows of one text column for a query taking one text array (PostgreSQL only).
fn pg_strings(tx: &Tx<'_>, sql: &str, values: &[&str]) -> Result<Vec<String>> {
    Ok(tx.tx.pg_query_strings(sql, values)?)
}
