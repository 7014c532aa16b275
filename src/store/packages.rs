//! Package queries and changes (SPEC §10). Every change runs in one transaction with
//! its audit rows: the package's own (`package.*`) and one `user.update` per user whose
//! packages change. Names are resolved inside the transaction that writes.

use std::collections::{BTreeSet, HashMap};

use super::db::{Db, OptionalExtension, Row, params};
use serde_json::json;

use super::roles::{load_grants, resolve_role};
use super::users::{UserRef, load_ref};
use super::{RowVersion, Store, Tx, name_key, text};
use crate::domain::access::{Allowed, PathIndex, Source, Via};
use crate::domain::authz::{Need, Right};
use crate::domain::catalog::{Catalog, Grants};
use crate::domain::package::{self, Package, PackageSummary};
use crate::domain::validate;
use crate::error::{Conflict, ConflictKind, Error, IN_USE_SAMPLE, Result};
use crate::store::RoleRef;

/// How a caller names a package: the console holds ids, the command line holds what
/// the operator typed (a name, ignoring case, else a numeric id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PackageRef {
    Id(i64),
    Typed(String),
}

impl From<i64> for PackageRef {
    fn from(id: i64) -> PackageRef {
        PackageRef::Id(id)
    }
}

impl From<&str> for PackageRef {
    fn from(typed: &str) -> PackageRef {
        PackageRef::Typed(typed.to_string())
    }
}

/// What a package edit changes; `None` leaves a part as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackageUpdate {
    pub name: Option<String>,
    pub description: Option<String>,
    /// The role ids the package includes afterwards.
    pub roles: Option<BTreeSet<i64>>,
    /// The user ids in it afterwards.
    pub members: Option<BTreeSet<i64>>,
}

/// The part of a package a list of names changes.
#[derive(Debug, Clone, Copy)]
enum Part<'a> {
    /// Roles as typed.
    Roles(&'a [String]),
    Members(&'a [UserRef]),
}

/// What a delete did: the package and the users who were in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageDeleted {
    pub name: String,
    pub members: Vec<String>,
}

fn unknown_package(spec: &str) -> Error {
    Error::invalid(
        "package",
        format!(
            "there is no package \"{}\"; `rolecall packages list` shows them",
            crate::text::excerpt(spec)
        ),
    )
}

/// The id of the package `package` names, looked up through `conn`.
pub(super) fn resolve_package(conn: &Db, package: &PackageRef) -> Result<i64> {
    match package {
        PackageRef::Id(id) => conn
            .prepare_cached("SELECT id FROM packages WHERE id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?
            .ok_or_else(|| {
                Error::Conflict(Conflict {
                    kind: ConflictKind::Deleted,
                    target: format!("the package with id {id}"),
                    expected_version: 0,
                    current_version: 0,
                    changed_by: String::new(),
                    changed_at: String::new(),
                })
            }),
        PackageRef::Typed(spec) => {
            let by_name: Option<i64> = conn
                .prepare_cached(
                    "SELECT id FROM packages WHERE name_fold = ?1 \
                     UNION ALL SELECT id FROM packages WHERE name = ?2 LIMIT 1",
                )?
                .query_row(params![name_key(spec), spec], |r| r.get(0))
                .optional()?;
            let by_id = || -> Result<Option<i64>> {
                let Ok(id) = spec.trim().parse::<i64>() else {
                    return Ok(None);
                };
                Ok(conn
                    .prepare_cached("SELECT id FROM packages WHERE id = ?1")?
                    .query_row([id], |r| r.get(0))
                    .optional()?)
            };
            match by_name {
                Some(id) => Ok(id),
                None => by_id()?.ok_or_else(|| unknown_package(spec)),
            }
        }
    }
}

pub(super) fn load_package(conn: &Db, id: i64) -> Result<Package> {
    let mut package = conn
        .prepare_cached(
            "SELECT id, name, description, version, created_seq, created_at, updated_at, updated_by \
             FROM packages WHERE id = ?1",
        )?
        .query_row([id], |r| {
            Ok(Package {
                id: r.get(0)?,
                name: text(r, 1)?,
                description: text(r, 2)?,
                roles: Vec::new(),
                members: Vec::new(),
                version: r.get(3)?,
                created_seq: r.get(4)?,
                created_at: text(r, 5)?,
                updated_at: text(r, 6)?,
                updated_by: text(r, 7)?,
            })
        })
        .optional()?
        .ok_or_else(|| unknown_package(&id.to_string()))?;
    package.roles = conn
        .prepare_cached(
            "SELECT r.id, r.name FROM package_roles pr JOIN roles r ON r.id = pr.role_id \
             WHERE pr.package_id = ?1",
        )?
        .query_map([id], |r| Ok((r.get(0)?, text(r, 1)?)))?
        .collect::<super::db::SqlResult<_>>()?;
    package.roles.sort_by(|a, b| a.1.cmp(&b.1));
    package.members = conn
        .prepare_cached(
            "SELECT u.username FROM package_members m JOIN users u ON u.id = m.user_id \
             WHERE m.package_id = ?1",
        )?
        .query_map([id], |r| text(r, 0))?
        .collect::<super::db::SqlResult<_>>()?;
    package.members.sort();
    Ok(package)
}

/// The names `sql` selects for `id`, sorted.
fn sorted_names(conn: &Db, sql: &str, id: i64) -> Result<Vec<String>> {
    let mut names: Vec<String> = conn
        .prepare_cached(sql)?
        .query_map([id], |r| text(r, 0))?
        .collect::<super::db::SqlResult<_>>()?;
    names.sort();
    Ok(names)
}

/// The names of the packages user `user_id` is in, sorted.
/// The ids of the packages a user is in.
pub(super) fn package_ids_of(conn: &Db, user_id: i64) -> Result<Vec<i64>> {
    Ok(conn
        .prepare_cached("SELECT package_id FROM package_members WHERE user_id = ?1")?
        .query_map([user_id], |r| r.get(0))?
        .collect::<super::db::SqlResult<_>>()?)
}

pub(super) fn packages_of(conn: &Db, user_id: i64) -> Result<Vec<String>> {
    sorted_names(
        conn,
        "SELECT p.name FROM package_members m JOIN packages p ON p.id = m.package_id \
         WHERE m.user_id = ?1",
        user_id,
    )
}

/// Whose packages [`sources`] reads: a stored user's, or a set of packages given
/// (the console's form, before it is saved).
#[derive(Debug, Clone, Copy)]
pub enum Membership<'a> {
    OfUser(i64),
    Packages(&'a [i64]),
}

/// Every role a user holds and how: the direct role first, then each role of each
/// package they are in, by package and role name.
pub(super) fn sources(
    conn: &Db,
    catalog: &Catalog,
    membership: Membership<'_>,
    direct: Option<(i64, &str)>,
) -> Result<Vec<Source>> {
    let row = |r: &Row<'_>| Ok((text(r, 0)?, text(r, 1)?, r.get(2)?));
    let paths: Vec<(String, String, i64)> = match membership {
        Membership::OfUser(user_id) => conn
            .prepare_cached(
                "SELECT p.name, r.name, r.id FROM package_members m \
                 JOIN packages p ON p.id = m.package_id \
                 JOIN package_roles pr ON pr.package_id = p.id \
                 JOIN roles r ON r.id = pr.role_id WHERE m.user_id = ?1",
            )?
            .query_map([user_id], row)?
            .collect::<super::db::SqlResult<_>>()?,
        Membership::Packages(ids) => {
            let stmt = conn.prepare_cached(
                "SELECT p.name, r.name, r.id FROM packages p \
                 JOIN package_roles pr ON pr.package_id = p.id \
                 JOIN roles r ON r.id = pr.role_id WHERE p.id = ?1",
            )?;
            let mut all = Vec::new();
            for id in ids {
                for path in stmt.query_map([id], row)? {
                    all.push(path?);
                }
            }
            all
        }
    };
    assemble_sources(direct, paths, |role_id| load_grants(conn, catalog, role_id))
}

/// The sources of a user whose direct role is `direct` (id and name) and who reaches
/// `paths` (package name, role name, role id) through packages: the direct role
/// first, then the package paths in name order. Each role's grants are asked for once.
pub(super) fn assemble_sources(
    direct: Option<(i64, &str)>,
    mut paths: Vec<(String, String, i64)>,
    mut grants_of: impl FnMut(i64) -> Result<Grants>,
) -> Result<Vec<Source>> {
    let mut known: HashMap<i64, Grants> = HashMap::new();
    let mut grants = |role_id: i64| -> Result<Grants> {
        if let Some(g) = known.get(&role_id) {
            return Ok(g.clone());
        }
        let g = grants_of(role_id)?;
        known.insert(role_id, g.clone());
        Ok(g)
    };
    let mut out = Vec::new();
    if let Some((id, name)) = direct {
        out.push(Source {
            via: Via {
                role: name.to_string(),
                package: None,
            },
            grants: grants(id)?,
        });
    }
    paths.sort();
    for (package, role, role_id) in paths {
        out.push(Source {
            via: Via {
                role,
                package: Some(package),
            },
            grants: grants(role_id)?,
        });
    }
    Ok(out)
}

/// Names of the packages that include `role_id`, sorted, and how many users reach the
/// role through them.
pub(super) fn packages_including(conn: &Db, role_id: i64) -> Result<(Vec<String>, usize)> {
    let names = package_names_including(conn, role_id)?;
    if names.is_empty() {
        return Ok((names, 0));
    }
    // Distinct members counted in a bit set rather than by SQLite's DISTINCT, which
    // sorts them in a temporary b-tree (55 ms for 30,000 members of 100,000 users).
    let mut seen: Vec<u64> = Vec::new();
    let mut users = 0usize;
    let stmt = conn.prepare_cached(
        "SELECT m.user_id FROM package_roles pr \
         JOIN package_members m ON m.package_id = pr.package_id WHERE pr.role_id = ?1",
    )?;
    for user in stmt.query_map([role_id], |r| r.get::<i64>(0))? {
        let user = usize::try_from(user?).unwrap_or(0);
        let (word, bit) = (user / 64, 1u64 << (user % 64));
        if word >= seen.len() {
            seen.resize(word + 1, 0);
        }
        users += usize::from(seen[word] & bit == 0);
        seen[word] |= bit;
    }
    Ok((names, users))
}

/// Names of the packages that include `role_id`, sorted.
pub(super) fn package_names_including(conn: &Db, role_id: i64) -> Result<Vec<String>> {
    sorted_names(
        conn,
        "SELECT p.name FROM package_roles pr JOIN packages p ON p.id = pr.package_id \
         WHERE pr.role_id = ?1",
        role_id,
    )
}

/// Puts `to` in place of `from` in every package that includes `from` (reassign then
/// delete), one `package.update` audit row per package. Returns how many changed.
pub(super) fn replace_role_in_packages(
    tx: &Tx<'_>,
    from: (i64, &str),
    to: (i64, &str),
) -> Result<usize> {
    let packages: Vec<(i64, String)> = tx
        .tx
        .prepare("SELECT p.id, p.name FROM package_roles pr JOIN packages p ON p.id = pr.package_id WHERE pr.role_id = ?1")?
        .query_map([from.0], |r| Ok((r.get(0)?, text(r, 1)?)))?
        .collect::<super::db::SqlResult<_>>()?;
    for (id, name) in &packages {
        tx.tx.execute(
            "DELETE FROM package_roles WHERE package_id = ?1 AND role_id = ?2",
            params![id, from.0],
        )?;
        tx.tx.execute(
            "INSERT INTO package_roles (package_id, role_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            params![id, to.0],
        )?;
        bump_package(tx, *id)?;
        tx.audit(
            "package.update",
            name,
            Some(json!({"roles_removed": [from.1]})),
            Some(json!({"roles_added": [to.1], "reason": "role deleted, its place given to another"})),
        )?;
    }
    Ok(packages.len())
}

/// Writes the memberships `packages[i]` ∋ `users[i]` (pairs already there are left
/// as they are): in `unnest` batches on a server, one prepared insert each on a file.
pub(super) fn insert_members(conn: &Db, packages: &[i64], users: &[i64]) -> Result<()> {
    use tokio_postgres::types::Type;
    if conn.is_pg() {
        for from in (0..users.len()).step_by(20_000) {
            let to = (from + 20_000).min(users.len());
            conn.pg_execute(
                "INSERT INTO package_members (package_id, user_id) \
                 SELECT p, u FROM unnest(?1::int8[], ?2::int8[]) AS t(p, u) ON CONFLICT DO NOTHING",
                &[
                    (&&packages[from..to], Type::INT8_ARRAY),
                    (&&users[from..to], Type::INT8_ARRAY),
                ],
            )?;
        }
        return Ok(());
    }
    let stmt = conn.prepare_cached(
        "INSERT INTO package_members (package_id, user_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
    )?;
    for (package, user) in packages.iter().zip(users) {
        stmt.execute(params![package, user])?;
    }
    Ok(())
}

pub(super) fn bump_package(tx: &Tx<'_>, id: i64) -> Result<()> {
    tx.tx.execute(
        "UPDATE packages SET version = ?1, updated_at = ?2, updated_by = ?3 WHERE id = ?4",
        params![tx.seq, tx.at, tx.actor, id],
    )?;
    Ok(())
}

pub(super) fn bump_user(tx: &Tx<'_>, id: i64) -> Result<()> {
    tx.tx
        .prepare_cached(
            "UPDATE users SET version = ?1, updated_at = ?2, updated_by = ?3 WHERE id = ?4",
        )?
        .execute(params![tx.seq, tx.at, tx.actor, id])?;
    Ok(())
}

fn ensure_name_free(tx: &Tx<'_>, name: &str, except: Option<i64>) -> Result<()> {
    let clash: Option<String> = tx
        .tx
        .query_row(
            "SELECT name FROM packages WHERE name_fold = ?1 AND id IS DISTINCT FROM ?2",
            params![name_key(name), except],
            |r| text(r, 0),
        )
        .optional()?;
    match clash {
        Some(other) => Err(Error::invalid(
            "name",
            format!(
                "a package named \"{}\" already exists",
                crate::text::display_safe(&other)
            ),
        )),
        None => Ok(()),
    }
}

/// Applies `update` to the package `before` (its version already checked): name,
/// description, roles and members, with a `package.update` row for what the package
/// itself changed and a `user.update` row per user whose packages changed.
/// Inserts a package with `roles` (ids) and writes its `package.create` row.
fn insert_package(
    tx: &Tx<'_>,
    name: &str,
    description: &str,
    roles: &BTreeSet<i64>,
) -> Result<Package> {
    ensure_name_free(tx, name, None)?;
    tx.tx.execute(
        "INSERT INTO packages (name, name_fold, description, version, created_seq, created_at, updated_at, updated_by) \
         VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?5, ?6)",
        params![name, name_key(name), description, tx.seq, tx.at, tx.actor],
    )?;
    let id = tx.tx.last_insert_rowid()?;
    for role in roles {
        tx.tx.execute(
            "INSERT INTO package_roles (package_id, role_id) VALUES (?1, ?2)",
            params![id, role],
        )?;
    }
    let package = load_package(tx.tx, id)?;
    tx.audit(
        "package.create",
        name,
        None,
        Some(json!({"name": name, "description": description, "roles": package.role_names()})),
    )?;
    Ok(package)
}

fn apply_update(tx: &Tx<'_>, before: &Package, update: PackageUpdate) -> Result<Package> {
    let id = before.id;
    let mut was = serde_json::Map::new();
    let mut now = serde_json::Map::new();
    if let Some(name) = update
        .name
        .as_deref()
        .map(validate::role_name)
        .transpose()?
        && name != before.name
    {
        ensure_name_free(tx, &name, Some(id))?;
        tx.tx.execute(
            "UPDATE packages SET name = ?1, name_fold = ?2 WHERE id = ?3",
            params![name, name_key(&name), id],
        )?;
        was.insert("name".into(), json!(before.name));
        now.insert("name".into(), json!(name));
    }
    if let Some(description) = update
        .description
        .as_deref()
        .map(validate::description)
        .transpose()?
        && description != before.description
    {
        tx.tx.execute(
            "UPDATE packages SET description = ?1 WHERE id = ?2",
            params![description, id],
        )?;
        was.insert("description".into(), json!(before.description));
        now.insert("description".into(), json!(description));
    }
    if let Some(roles) = &update.roles
        && let Some((added, removed)) = set_roles(tx, before, roles)?
    {
        was.insert("roles".into(), json!(before.role_names()));
        now.insert("roles_added".into(), json!(added));
        now.insert("roles_removed".into(), json!(removed));
    }
    let members_changed = match &update.members {
        Some(members) => set_members(tx, id, members)?,
        None => false,
    };
    let after_name = now
        .get("name")
        .and_then(|v| v.as_str())
        .unwrap_or(&before.name)
        .to_string();
    let changed = members_changed || !now.is_empty();
    if !now.is_empty() {
        tx.audit(
            "package.update",
            &after_name,
            Some(was.into()),
            Some(now.into()),
        )?;
    }
    if changed {
        bump_package(tx, id)?;
    }
    load_package(tx.tx, id)
}

/// Makes `roles` (ids) the package's roles; the names added and taken out, sorted,
/// or `None` when nothing changed.
fn set_roles(
    tx: &Tx<'_>,
    before: &Package,
    roles: &BTreeSet<i64>,
) -> Result<Option<(Vec<String>, Vec<String>)>> {
    let id = before.id;
    let current: BTreeSet<i64> = before.roles.iter().map(|(id, _)| *id).collect();
    let name_of = |role: i64| -> Result<String> {
        tx.tx
            .query_row("SELECT name FROM roles WHERE id = ?1", [role], |r| {
                text(r, 0)
            })
            .optional()?
            .ok_or_else(|| {
                Error::invalid(
                    "role",
                    format!("there is no role with id {role}: it was deleted by another process; nothing changed"),
                )
            })
    };
    let (mut added, mut removed) = (Vec::new(), Vec::new());
    for role in roles.difference(&current) {
        // Named first: a role deleted meanwhile is a sentence, not a foreign key error.
        added.push(name_of(*role)?);
        tx.tx.execute(
            "INSERT INTO package_roles (package_id, role_id) VALUES (?1, ?2)",
            params![id, role],
        )?;
    }
    for role in current.difference(roles) {
        tx.tx.execute(
            "DELETE FROM package_roles WHERE package_id = ?1 AND role_id = ?2",
            params![id, role],
        )?;
        removed.push(name_of(*role)?);
    }
    if added.is_empty() && removed.is_empty() {
        return Ok(None);
    }
    added.sort();
    removed.sort();
    Ok(Some((added, removed)))
}

/// Makes `members` (user ids) the package's members, with a `user.update` row for
/// each user who joins or leaves. True when anyone did.
fn set_members(tx: &Tx<'_>, id: i64, members: &BTreeSet<i64>) -> Result<bool> {
    let current: BTreeSet<i64> = tx
        .tx
        .prepare_cached("SELECT user_id FROM package_members WHERE package_id = ?1")?
        .query_map([id], |r| r.get(0))?
        .collect::<super::db::SqlResult<_>>()?;
    let mut changed = false;
    for (user, join) in members
        .difference(&current)
        .map(|u| (*u, true))
        .chain(current.difference(members).map(|u| (*u, false)))
    {
        let username: String = tx
            .tx
            .query_row("SELECT username FROM users WHERE id = ?1", [user], |r| {
                text(r, 0)
            })
            .optional()?
            .ok_or_else(|| {
                Error::invalid(
                    "username",
                    format!("there is no user with id {user}: it was deleted by another process; nothing changed"),
                )
            })?;
        let before_packages = packages_of(tx.tx, user)?;
        let sql = if join {
            "INSERT INTO package_members (package_id, user_id) VALUES (?1, ?2)"
        } else {
            "DELETE FROM package_members WHERE package_id = ?1 AND user_id = ?2"
        };
        tx.tx.execute(sql, params![id, user])?;
        bump_user(tx, user)?;
        tx.audit(
            "user.update",
            &username,
            Some(json!({"packages": before_packages})),
            Some(json!({"packages": packages_of(tx.tx, user)?})),
        )?;
        changed = true;
    }
    Ok(changed)
}

/// Every (user id, path) through the `granting` roles ((name index, id), by name):
/// direct holders first, then each package's members by package name and role name,
/// the order in which a user's paths are listed.
fn paths_found(
    conn: &Db,
    granting: &[(usize, i64)],
    package_index: &HashMap<i64, usize>,
) -> Result<Vec<(u32, PathIndex)>> {
    let mut found: Vec<(u32, PathIndex)> = Vec::new();
    let holders = conn.prepare_cached("SELECT id FROM users WHERE role_id = ?1")?;
    for &(r, role) in granting {
        for user in holders.query_map([role], |row| row.get::<i64>(0))? {
            found.push((user? as u32, (None, r)));
        }
    }
    // (package, role) pairs by package name, then role name.
    let mut including: Vec<(usize, usize, i64)> = Vec::new();
    let packages_of_role =
        conn.prepare_cached("SELECT package_id FROM package_roles WHERE role_id = ?1")?;
    for &(r, role) in granting {
        for package in packages_of_role.query_map([role], |row| row.get::<i64>(0))? {
            let package = package?;
            if let Some(&p) = package_index.get(&package) {
                including.push((p, r, package));
            }
        }
    }
    including.sort_unstable();
    let members =
        conn.prepare_cached("SELECT user_id FROM package_members WHERE package_id = ?1")?;
    for pairs in including.chunk_by(|a, b| a.0 == b.0) {
        let users: Vec<i64> = members
            .query_map([pairs[0].2], |row| row.get(0))?
            .collect::<super::db::SqlResult<_>>()?;
        for &(p, r, _) in pairs {
            found.extend(users.iter().map(|u| (*u as u32, (Some(p), r))));
        }
    }
    Ok(found)
}

/// Paths grouped by user id with a stable counting sort: one vector for every path
/// (not one per user), each user's in the order they were found.
struct ByUser {
    /// `start[u]..start[u + 1]` are user u's paths.
    start: Vec<usize>,
    paths: Vec<PathIndex>,
}

impl ByUser {
    fn group(found: Vec<(u32, PathIndex)>) -> ByUser {
        let top = found.iter().map(|(u, _)| *u as usize).max().unwrap_or(0);
        let mut start = vec![0usize; top + 2];
        for (user, _) in &found {
            start[*user as usize + 1] += 1;
        }
        for i in 1..start.len() {
            start[i] += start[i - 1];
        }
        let mut next = start.clone();
        let mut paths = vec![(None, 0); found.len()];
        for (user, path) in found {
            paths[next[user as usize]] = path;
            next[user as usize] += 1;
        }
        ByUser { start, paths }
    }

    /// User `id`'s paths (none for an id never found).
    fn of(&self, id: i64) -> &[PathIndex] {
        match usize::try_from(id) {
            Ok(id) if id + 1 < self.start.len() => &self.paths[self.start[id]..self.start[id + 1]],
            _ => &[],
        }
    }

    /// The ids that have paths, in order.
    fn ids(&self) -> impl Iterator<Item = i64> + '_ {
        (0..self.start.len().saturating_sub(1))
            .filter(|&u| self.start[u + 1] > self.start[u])
            .map(|u| u as i64)
    }
}

impl Store {
    /// Every active user allowed `permission` (any leaf under it, for a category), by
    /// username, each with every path that grants it.
    pub fn who_can(&self, permission: &str) -> Result<Allowed> {
        let Some(node) = self.catalog.find(permission).map(|i| self.catalog.node(i)) else {
            return Err(Error::invalid(
                "permission",
                format!(
                    "\"{}\" is not a permission or category key; `rolecall catalog show` lists them",
                    crate::text::excerpt(permission)
                ),
            ));
        };
        let conn = &self.conn;
        // The roles that grant any leaf asked about (a small table), then, per role,
        // its direct holders (users_by_role) and its packages' members (by package):
        // ids only, so a popular permission held by most of 100,000 users costs no
        // string per path.
        let mut roles = BTreeSet::new();
        let stmt =
            conn.prepare_cached("SELECT role_id FROM role_grants WHERE permission_key = ?1")?;
        for ord in node.leaves.clone() {
            for role in stmt.query_map([&self.catalog.leaf_node(ord).key], |r| r.get::<i64>(0))? {
                roles.insert(role?);
            }
        }
        // Names sorted once, so sorting a path's indices sorts it by name.
        let named = |sql: &str| -> Result<(Vec<String>, HashMap<i64, usize>)> {
            let stmt = conn.prepare_cached(sql)?;
            let mut rows: Vec<(String, i64)> = stmt
                .query_map(params![], |r| Ok((text(r, 1)?, r.get(0)?)))?
                .collect::<super::db::SqlResult<_>>()?;
            rows.sort();
            let index = rows
                .iter()
                .enumerate()
                .map(|(i, (_, id))| (*id, i))
                .collect();
            Ok((rows.into_iter().map(|(name, _)| name).collect(), index))
        };
        let (role_names, role_index) = named("SELECT id, name FROM roles")?;
        let (package_names, package_index) = named("SELECT id, name FROM packages")?;
        let disabled: BTreeSet<i64> = conn
            .prepare_cached("SELECT id FROM users WHERE active = FALSE")?
            .query_map(params![], |r| r.get(0))?
            .collect::<super::db::SqlResult<_>>()?;
        let mut granting: Vec<(usize, i64)> = roles.iter().map(|r| (role_index[r], *r)).collect();
        granting.sort_unstable();
        let by_user = ByUser::group(paths_found(conn, &granting, &package_index)?);
        let allowed_ids = by_user.ids().count();
        let mut out = Allowed {
            roles: role_names,
            packages: package_names,
            users: Vec::with_capacity(allowed_ids),
            paths: Vec::with_capacity(by_user.paths.len()),
        };
        let take = |out: &mut Allowed, id: i64, name: String| {
            let paths = by_user.of(id);
            if !paths.is_empty() && !disabled.contains(&id) {
                out.push(name, paths.iter().copied());
            }
        };
        if allowed_ids > 2_000 {
            // Many: walk the username index once, which gives them in order.
            let stmt = conn.prepare_cached("SELECT id, username FROM users ORDER BY username")?;
            for row in stmt.query_map(params![], |r| Ok((r.get::<i64>(0)?, text(r, 1)?)))? {
                let (id, name) = row?;
                take(&mut out, id, name);
            }
        } else {
            let seek = conn.prepare_cached("SELECT username FROM users WHERE id = ?1")?;
            let mut named: Vec<(String, i64)> = Vec::with_capacity(allowed_ids);
            for id in by_user.ids() {
                named.push((seek.query_row([id], |r| text(r, 0))?, id));
            }
            named.sort();
            for (name, id) in named {
                take(&mut out, id, name);
            }
        }
        Ok(out)
    }

    /// Every user's packages, by user id (users in none are left out).
    pub fn memberships(&self) -> Result<HashMap<i64, Vec<String>>> {
        let mut out: HashMap<i64, Vec<String>> = HashMap::new();
        let stmt = self.conn.prepare_cached(
            "SELECT m.user_id, p.name FROM package_members m JOIN packages p ON p.id = m.package_id",
        )?;
        for row in stmt.query_map(params![], |r| Ok((r.get::<i64>(0)?, text(r, 1)?)))? {
            let (user, package) = row?;
            out.entry(user).or_default().push(package);
        }
        for names in out.values_mut() {
            names.sort();
        }
        Ok(out)
    }

    /// Every package's id and name, by name: what pickers need, without counting.
    pub fn package_names(&self) -> Result<Vec<(i64, String)>> {
        let mut rows: Vec<(i64, String)> = self
            .conn
            .prepare_cached("SELECT id, name FROM packages")?
            .query_map(params![], |r| Ok((r.get(0)?, text(r, 1)?)))?
            .collect::<super::db::SqlResult<_>>()?;
        rows.sort_by(|a, b| a.1.cmp(&b.1));
        Ok(rows)
    }

    /// Every package with its role and member counts, by name.
    pub fn packages(&self) -> Result<Vec<PackageSummary>> {
        let mut rows: Vec<PackageSummary> = self
            .conn
            .prepare_cached(
                "SELECT p.id, p.name, p.description, p.created_at, p.version, \
                    (SELECT count(*) FROM package_roles pr WHERE pr.package_id = p.id), \
                    (SELECT count(*) FROM package_members m WHERE m.package_id = p.id) \
                 FROM packages p",
            )?
            .query_map(params![], |r| {
                Ok(PackageSummary {
                    id: r.get(0)?,
                    name: text(r, 1)?,
                    description: text(r, 2)?,
                    created_at: text(r, 3)?,
                    version: r.get(4)?,
                    roles: r.get::<i64>(5)? as usize,
                    members: r.get::<i64>(6)? as usize,
                })
            })?
            .collect::<super::db::SqlResult<_>>()?;
        rows.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(rows)
    }

    /// One package with its roles and members.
    pub fn package(&self, package: impl Into<PackageRef>) -> Result<Package> {
        let id = resolve_package(&self.conn, &package.into())?;
        load_package(&self.conn, id)
    }

    /// The names of the packages a user is in, sorted.
    pub fn packages_of(&self, user_id: i64) -> Result<Vec<String>> {
        packages_of(&self.conn, user_id)
    }

    /// The packages that include a role, and how many users reach it through them.
    pub fn packages_including(&self, role_id: i64) -> Result<(Vec<String>, usize)> {
        packages_including(&self.conn, role_id)
    }

    /// Puts many users into packages in one transaction (demo data, bulk loads): each
    /// user gets one `user.update` row naming all the packages they joined. Users
    /// already in a package stay; unknown names refuse the whole batch.
    pub fn join_packages(&mut self, memberships: &[(String, Vec<String>)]) -> Result<usize> {
        self.write(Need::One(Right::Users), |tx| join_all(tx, memberships))
    }

    /// The members of package `id` as (user id, username), by username: what the
    /// console's package editor edits.
    pub fn package_members(&self, id: i64) -> Result<Vec<(i64, String)>> {
        let stmt = self.conn.prepare_cached(
            "SELECT u.id, u.username FROM package_members m JOIN users u ON u.id = m.user_id \
             WHERE m.package_id = ?1 ORDER BY u.username",
        )?;
        let rows = stmt.query_map([id], |r| Ok((r.get(0)?, text(r, 1)?)))?;
        Ok(rows.collect::<super::db::SqlResult<_>>()?)
    }

    /// Creates a package with its roles and members (ids) in one transaction: the
    /// console's editor saves a new package whole or not at all.
    pub fn create_package_with(
        &mut self,
        name: &str,
        description: &str,
        roles: BTreeSet<i64>,
        members: BTreeSet<i64>,
    ) -> Result<Package> {
        let name = validate::role_name(name)?;
        let description = validate::description(description)?;
        self.write(Need::One(Right::Roles), |tx| {
            let created = insert_package(tx, &name, &description, &BTreeSet::new())?;
            let update = PackageUpdate {
                roles: Some(roles),
                members: Some(members),
                ..PackageUpdate::default()
            };
            if update.roles.as_ref().is_some_and(BTreeSet::is_empty)
                && update.members.as_ref().is_some_and(BTreeSet::is_empty)
            {
                return Ok(created);
            }
            apply_update(tx, &created, update)
        })
    }

    /// Creates a package, empty or with the roles of `from` (not its members).
    pub fn create_package(
        &mut self,
        name: &str,
        description: &str,
        from: Option<PackageRef>,
    ) -> Result<Package> {
        let name = validate::role_name(name)?;
        let description = validate::description(description)?;
        self.write(Need::One(Right::Roles), |tx| {
            let roles: BTreeSet<i64> = match &from {
                Some(source) => {
                    let source = resolve_package(tx.tx, source).map_err(|e| match e {
                        Error::Invalid { message, .. } => Error::Invalid {
                            field: "from",
                            message,
                        },
                        other => other,
                    })?;
                    load_package(tx.tx, source)?
                        .roles
                        .iter()
                        .map(|(id, _)| *id)
                        .collect()
                }
                None => BTreeSet::new(),
            };
            insert_package(tx, &name, &description, &roles)
        })
    }

    /// Applies an edit to a package in one transaction: the version check (when
    /// `expected_version` is given), validation, then the change and its audit rows.
    /// `edit` sees the package as stored at that moment.
    pub fn edit_package(
        &mut self,
        package: impl Into<PackageRef>,
        expected_version: Option<i64>,
        edit: impl FnOnce(&Package) -> Result<PackageUpdate>,
    ) -> Result<Package> {
        let package = package.into();
        self.write(Need::One(Right::Roles), |tx| {
            let id = resolve_package(tx.tx, &package).map_err(|e| {
                match (&package, expected_version, e) {
                    (PackageRef::Typed(name), Some(v), Error::Invalid { .. }) => {
                        tx.deleted(format!("package \"{name}\""), "package.delete", name, v)
                    }
                    (_, _, e) => e,
                }
            })?;
            let before = load_package(tx.tx, id)?;
            tx.check_version(
                format!("package \"{}\"", before.name),
                expected_version,
                RowVersion {
                    name: &before.name,
                    removed_as: "package.delete",
                    version: before.version,
                    created_seq: before.created_seq,
                    updated_by: &before.updated_by,
                    updated_at: &before.updated_at,
                },
            )?;
            let update = edit(&before)?;
            apply_update(tx, &before, update)
        })
    }

    /// Adds roles to (`include`) or removes them from a package, by what was typed.
    pub fn set_package_roles(
        &mut self,
        package: impl Into<PackageRef>,
        roles: &[String],
        include: bool,
    ) -> Result<Package> {
        self.change_package_set(package.into(), Part::Roles(roles), include)
    }

    /// Puts users into (`join`) or takes them out of a package.
    pub fn set_package_members(
        &mut self,
        package: impl Into<PackageRef>,
        users: &[UserRef],
        join: bool,
    ) -> Result<Package> {
        self.change_package_set(package.into(), Part::Members(users), join)
    }

    /// Adds (`add`) or takes out the roles or users `part` names, resolved inside the
    /// transaction, then applies the package's new set as one update.
    fn change_package_set(
        &mut self,
        package: PackageRef,
        part: Part,
        add: bool,
    ) -> Result<Package> {
        // A package's roles are the roles right's; who is in it, the users right's.
        let need = match part {
            Part::Roles(_) => Need::One(Right::Roles),
            Part::Members(_) => Need::One(Right::Users),
        };
        self.write(need, |tx| {
            let id = resolve_package(tx.tx, &package)?;
            let before = load_package(tx.tx, id)?;
            let mut set: BTreeSet<i64> = match part {
                Part::Roles(_) => before.roles.iter().map(|(id, _)| *id).collect(),
                Part::Members(_) => tx
                    .tx
                    .prepare_cached("SELECT user_id FROM package_members WHERE package_id = ?1")?
                    .query_map([id], |r| r.get(0))?
                    .collect::<super::db::SqlResult<_>>()?,
            };
            let items: Vec<i64> = match part {
                Part::Roles(names) => names
                    .iter()
                    .map(|name| resolve_role(tx.tx, &RoleRef::Typed(name.clone()), "role"))
                    .collect::<Result<_>>()?,
                Part::Members(users) => users
                    .iter()
                    .map(|who| Ok(load_ref(tx.tx, who)?.id))
                    .collect::<Result<_>>()?,
            };
            for item in items {
                if add && matches!(part, Part::Members(_)) && !set.contains(&item) {
                    tx.ensure_may_give(None, &[id])?;
                }
                if add {
                    set.insert(item);
                } else {
                    set.remove(&item);
                }
            }
            let update = match part {
                Part::Roles(_) => PackageUpdate {
                    roles: Some(set),
                    ..PackageUpdate::default()
                },
                Part::Members(_) => PackageUpdate {
                    members: Some(set),
                    ..PackageUpdate::default()
                },
            };
            apply_update(tx, &before, update)
        })
    }

    /// Deletes a package. One with members is refused, naming them and what they
    /// would lose, unless `force`; then every member gets a `user.update` row.
    pub fn delete_package(
        &mut self,
        package: impl Into<PackageRef>,
        force: bool,
    ) -> Result<PackageDeleted> {
        self.delete_package_if(package, force, None)
    }

    /// [`Store::delete_package`], refused as a conflict when the package is no longer
    /// at `expected_version`: the console's dialog named its members as they were.
    pub fn delete_package_if(
        &mut self,
        package: impl Into<PackageRef>,
        force: bool,
        expected_version: Option<i64>,
    ) -> Result<PackageDeleted> {
        let package = package.into();
        self.write(Need::One(Right::Roles), |tx| {
            let id = resolve_package(tx.tx, &package)?;
            let before = load_package(tx.tx, id)?;
            tx.check_version(
                format!("package \"{}\"", before.name),
                expected_version,
                RowVersion {
                    name: &before.name,
                    removed_as: "package.delete",
                    version: before.version,
                    created_seq: before.created_seq,
                    updated_by: &before.updated_by,
                    updated_at: &before.updated_at,
                },
            )?;
            let member_ids: Vec<(i64, String, Option<i64>, String, bool)> = tx
                .tx
                .prepare(
                    "SELECT u.id, u.username, u.role_id, coalesce(r.name, ''), u.active FROM package_members m \
                     JOIN users u ON u.id = m.user_id LEFT JOIN roles r ON r.id = u.role_id \
                     WHERE m.package_id = ?1 ORDER BY u.username",
                )?
                .query_map([id], |r| Ok((r.get(0)?, text(r, 1)?, r.get(2)?, text(r, 3)?, r.get(4)?)))?
                .collect::<super::db::SqlResult<_>>()?;
            let mut lost = Grants::none(tx.catalog);
            for (user, _, role_id, role, _) in &member_ids {
                let direct = role_id.map(|r| (r, role.as_str()));
                let all = sources(tx.tx, tx.catalog, Membership::OfUser(*user), direct)?;
                let (this, others): (Vec<Source>, Vec<Source>) = all
                    .into_iter()
                    .partition(|s| s.via.package.as_deref() == Some(before.name.as_str()));
                let keep = crate::domain::access::union(tx.catalog, &others);
                for ord in crate::domain::access::union(tx.catalog, &this).ordinals() {
                    if !keep.contains(ord) {
                        lost.set(ord, true);
                    }
                }
            }
            let sample: Vec<String> = member_ids
                .iter()
                .take(IN_USE_SAMPLE)
                .map(|(_, name, ..)| name.clone())
                .collect();
            package::ensure_deletable(&before.name, member_ids.len(), &sample, lost.count(), force)?;
            for (user, username, ..) in &member_ids {
                let before_packages = packages_of(tx.tx, *user)?;
                let after: Vec<&String> =
                    before_packages.iter().filter(|p| **p != before.name).collect();
                bump_user(tx, *user)?;
                tx.audit(
                    "user.update",
                    username,
                    Some(json!({"packages": before_packages})),
                    Some(json!({"packages": after, "reason": "package deleted"})),
                )?;
            }
            // Its resources lose the link with it (SPEC §11); the row says which.
            let resources: Vec<String> = tx
                .tx
                .prepare(
                    "SELECT res.type_key || ':' || res.key FROM package_resources pr \
                     JOIN resources res ON res.id = pr.resource_id WHERE pr.package_id = ?1 \
                     ORDER BY res.type_key, res.key",
                )?
                .query_map([id], |r| text(r, 0))?
                .collect::<super::db::SqlResult<_>>()?;
            tx.tx.execute("DELETE FROM packages WHERE id = ?1", [id])?;
            let mut was = json!({
                "id": id,
                "name": before.name,
                "description": before.description,
                "roles": before.role_names(),
                "members": before.members,
            });
            if !resources.is_empty() {
                was["resources"] = json!(resources);
            }
            tx.audit(
                "package.delete",
                &before.name,
                Some(was),
                None,
            )?;
            Ok(PackageDeleted {
                name: before.name,
                members: before.members,
            })
        })
    }
}

/// Every package with its roles (by name) and members (usernames, sorted), in id
/// order, read in three queries whatever the number of packages (export and import
/// read them all at once).
pub(super) fn all_packages(conn: &Db) -> Result<Vec<Package>> {
    let mut packages: Vec<Package> = conn
        .prepare_cached(
            "SELECT id, name, description, version, created_seq, created_at, updated_at, updated_by \
             FROM packages ORDER BY id",
        )?
        .query_map(params![], |r| {
            Ok(Package {
                id: r.get(0)?,
                name: text(r, 1)?,
                description: text(r, 2)?,
                roles: Vec::new(),
                members: Vec::new(),
                version: r.get(3)?,
                created_seq: r.get(4)?,
                created_at: text(r, 5)?,
                updated_at: text(r, 6)?,
                updated_by: text(r, 7)?,
            })
        })?
        .collect::<super::db::SqlResult<_>>()?;
    let index: HashMap<i64, usize> = packages
        .iter()
        .enumerate()
        .map(|(i, p)| (p.id, i))
        .collect();
    let roles = conn.prepare_cached(
        "SELECT pr.package_id, r.id, r.name FROM package_roles pr JOIN roles r ON r.id = pr.role_id",
    )?;
    for row in roles.query_map(params![], |r| {
        Ok((r.get::<i64>(0)?, r.get(1)?, text(r, 2)?))
    })? {
        let (package, id, name) = row?;
        if let Some(&i) = index.get(&package) {
            packages[i].roles.push((id, name));
        }
    }
    let members = conn.prepare_cached(
        "SELECT m.package_id, u.username FROM package_members m JOIN users u ON u.id = m.user_id",
    )?;
    for row in members.query_map(params![], |r| Ok((r.get::<i64>(0)?, text(r, 1)?)))? {
        let (package, username) = row?;
        if let Some(&i) = index.get(&package) {
            packages[i].members.push(username);
        }
    }
    for p in &mut packages {
        p.roles.sort_by(|a, b| a.1.cmp(&b.1));
        p.members.sort();
    }
    Ok(packages)
}

/// [`Store::join_packages`]: everything is read and checked first (everyone's
/// memberships in one query, the users' ids in one round trip on a server), then
/// written together: the new memberships, the users' versions and their
/// `user.update` rows (batched on a server), each package's version once.
fn join_all(tx: &Tx<'_>, memberships: &[(String, Vec<String>)]) -> Result<usize> {
    let mut current: HashMap<i64, Vec<String>> = HashMap::new();
    let mut pairs: std::collections::HashSet<(i64, i64)> = std::collections::HashSet::new();
    for row in tx
        .tx
        .prepare(
            "SELECT m.user_id, m.package_id, p.name FROM package_members m \
             JOIN packages p ON p.id = m.package_id",
        )?
        .query_map(params![], |r| {
            Ok((r.get::<i64>(0)?, r.get::<i64>(1)?, text(r, 2)?))
        })?
    {
        let (user, package, name) = row?;
        current.entry(user).or_default().push(name);
        pairs.insert((user, package));
    }
    let names: Vec<&str> = memberships.iter().map(|(u, _)| u.as_str()).collect();
    let ids = super::users::user_ids(tx.tx, &names)?;
    let mut package_ids: HashMap<String, (i64, String)> = HashMap::new();
    let (mut new_users, mut new_packages) = (Vec::new(), Vec::new());
    let (mut changed, mut audit) = (Vec::new(), Vec::new());
    for (username, packages) in memberships {
        let user = *ids.get(username).ok_or_else(|| {
            Error::invalid(
                "username",
                format!("there is no user \"{}\"", crate::text::excerpt(username)),
            )
        })?;
        let mut before = current.remove(&user).unwrap_or_default();
        before.sort();
        let mut after = before.clone();
        for package in packages {
            let (id, name) = match package_ids.get(package) {
                Some(found) => found.clone(),
                None => {
                    let id = resolve_package(tx.tx, &PackageRef::Typed(package.clone()))?;
                    let name: String =
                        tx.tx
                            .query_row("SELECT name FROM packages WHERE id = ?1", [id], |r| {
                                text(r, 0)
                            })?;
                    package_ids.insert(package.clone(), (id, name.clone()));
                    (id, name)
                }
            };
            if pairs.insert((user, id)) {
                tx.ensure_may_give(None, &[id])?;
                new_users.push(user);
                new_packages.push(id);
                after.push(name);
            }
        }
        if after.len() == before.len() {
            continue;
        }
        after.sort();
        changed.push(user);
        audit.push((
            username.as_str(),
            Some(json!({"packages": before})),
            Some(json!({"packages": after})),
        ));
    }
    insert_members(tx.tx, &new_packages, &new_users)?;
    bump_users(tx, &changed)?;
    tx.audit_many("user.update", audit)?;
    for (id, _) in package_ids.values() {
        bump_package(tx, *id)?;
    }
    Ok(changed.len())
}

/// Moves the users `ids` to this write's version: in batches of 20,000 on a server,
/// one prepared update each on a file.
fn bump_users(tx: &Tx<'_>, ids: &[i64]) -> Result<()> {
    if !tx.tx.is_pg() {
        for id in ids {
            bump_user(tx, *id)?;
        }
        return Ok(());
    }
    use tokio_postgres::types::Type;
    let (at, actor): (&str, &str) = (&tx.at, tx.actor);
    for chunk in ids.chunks(20_000) {
        tx.tx.pg_execute(
            "UPDATE users SET version = ?1, updated_at = ?2, updated_by = ?3 WHERE id = ANY(?4::int8[])",
            &[
                (&tx.seq, Type::INT8),
                (&at, Type::TEXT),
                (&actor, Type::TEXT),
                (&chunk, Type::INT8_ARRAY),
            ],
        )?;
    }
    Ok(())
}
