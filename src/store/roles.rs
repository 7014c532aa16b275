//! Role queries and changes. Every change runs in one transaction with its audit row.

use super::db::{Db, OptionalExtension, Row, params};
use serde_json::json;

use super::{RowVersion, Store, Tx, name_key, text};
use crate::domain::authz::{Need, Right};
use crate::domain::catalog::{Catalog, Grants};
use crate::domain::role::{self, Role, RoleSummary};
use crate::domain::validate;
use crate::error::{Error, IN_USE_SAMPLE, Result};
use crate::text::display_safe;

/// What a role edit changes; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct RoleUpdate {
    pub name: Option<String>,
    pub description: Option<String>,
    pub grants: Option<Grants>,
}

/// The outcome of a role edit: the role as saved and what moved.
#[derive(Debug, Clone)]
pub struct RoleChange {
    pub role: Role,
    pub added: Vec<String>,
    pub removed: Vec<String>,
    /// False when the edit asked for what was already there: nothing was written.
    pub changed: bool,
}

/// What a delete did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteOutcome {
    pub role: String,
    /// Users moved to the reassignment role first.
    pub moved: usize,
    pub reassigned_to: Option<String>,
}

/// How a caller names a role. Ids and names never share a lookup inside the
/// program: the console holds the id of the row it showed; only what an operator
/// typed is looked up as a name, then as an id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleRef {
    /// A role the caller read. Ids are never reused, so this finds that role or
    /// nothing; nothing is a conflict (it was deleted), not a typo.
    Id(i64),
    /// What an operator typed: a name (ignoring case), else a numeric id.
    Typed(String),
    /// No direct role: a user who reaches roles only through packages (`--role
    /// none`, the console's "no direct role"). Only a user's role may be none.
    None,
}

impl RoleRef {
    /// What the command line typed for a user's role: `none` (any case) is no
    /// direct role; a role named "none" is then reached by its id.
    pub fn typed_for_user(typed: String) -> RoleRef {
        if typed.trim().eq_ignore_ascii_case("none") {
            RoleRef::None
        } else {
            RoleRef::Typed(typed)
        }
    }
}

impl From<i64> for RoleRef {
    fn from(id: i64) -> RoleRef {
        RoleRef::Id(id)
    }
}

/// Text is what an operator typed; a program holding a role has its id. (No
/// conversion from `String`, so an id turned into text cannot slip in as a name.)
impl From<&str> for RoleRef {
    fn from(typed: &str) -> RoleRef {
        RoleRef::Typed(typed.to_string())
    }
}

const ROLE_COLUMNS: &str = "r.id, r.name, r.description, r.builtin, r.version, r.created_at, r.updated_at, r.updated_by, \
     (SELECT count(*) FROM users u WHERE u.role_id = r.id), r.created_seq";

fn role_without_grants(r: &Row<'_>) -> super::db::SqlResult<Role> {
    Ok(Role {
        id: r.get(0)?,
        name: text(r, 1)?,
        description: text(r, 2)?,
        builtin: r.get(3)?,
        version: r.get(4)?,
        created_at: text(r, 5)?,
        updated_at: text(r, 6)?,
        updated_by: text(r, 7)?,
        users: r.get::<i64>(8)? as usize,
        created_seq: r.get(9)?,
        grants: Grants::default(),
    })
}

fn unknown_role(field: &'static str, spec: &str) -> Error {
    Error::invalid(
        field,
        format!(
            "there is no role \"{}\"; `rolecall roles list` shows them",
            crate::text::excerpt(spec)
        ),
    )
}

/// The id of the role `role` names, looked up through `conn` (inside the caller's
/// transaction for a change, so the role cannot be swapped between lookup and
/// write). `field` names the flag in an error about typed text.
pub(super) fn resolve_role(conn: &Db, role: &RoleRef, field: &'static str) -> Result<i64> {
    match role {
        RoleRef::Id(id) => conn
            .prepare_cached("SELECT id FROM roles WHERE id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?
            .ok_or_else(|| role_gone(conn, *id)),
        RoleRef::Typed(spec) => {
            find_typed_role(conn, spec)?.ok_or_else(|| unknown_role(field, spec))
        }
        RoleRef::None => Err(Error::invalid(
            field,
            "a role is needed here; \"none\" only means a user with no direct role",
        )),
    }
}

/// A user's direct role as stored (NULL for none) and its name ("" for none).
pub(super) fn resolve_user_role(
    tx: &crate::store::Tx<'_>,
    role: &RoleRef,
) -> Result<(Option<i64>, String)> {
    if *role == RoleRef::None {
        return Ok((None, String::new()));
    }
    let id = resolve_role(tx.tx, role, "role")?;
    // Only the name: loading the whole role counts its holders, which made adding
    // n users one by one in a batch take time in n².
    let name = tx
        .tx
        .prepare_cached("SELECT name FROM roles WHERE id = ?1")?
        .query_row([id], |r| text(r, 0))?;
    Ok((Some(id), name))
}

/// A role typed on the command line: by name (ignoring case and invisible
/// characters), else by its exact stored name (a row another program wrote with a
/// key of its own), else by numeric id.
fn find_typed_role(conn: &Db, spec: &str) -> Result<Option<i64>> {
    let by_name: Option<i64> = conn
        .prepare_cached(
            "SELECT id FROM roles WHERE name_fold = ?1 \
             UNION ALL SELECT id FROM roles WHERE name = ?2 LIMIT 1",
        )?
        .query_row(params![name_key(spec), spec], |r| r.get(0))
        .optional()?;
    if by_name.is_some() {
        return Ok(by_name);
    }
    let Ok(id) = spec.trim().parse::<i64>() else {
        return Ok(None);
    };
    Ok(conn
        .prepare_cached("SELECT id FROM roles WHERE id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?)
}

/// The conflict for a role the caller held by id that no longer exists, naming who
/// deleted it when the audit log says.
fn role_gone(conn: &Db, id: i64) -> Error {
    // The audit row keeps the JSON as text; each backend reads a field its own way.
    let sql = if conn.is_pg() {
        "SELECT target, actor, at FROM audit WHERE action = 'role.delete' \
         AND (before::jsonb ->> 'id') = CAST(?1 AS TEXT) ORDER BY id DESC LIMIT 1"
    } else {
        "SELECT target, actor, at FROM audit WHERE action = 'role.delete' \
         AND json_extract(before, '$.id') = ?1 ORDER BY id DESC LIMIT 1"
    };
    let deleted: Option<(String, String, String)> = conn
        .query_row(sql, [id], |r| Ok((text(r, 0)?, text(r, 1)?, text(r, 2)?)))
        .optional()
        .ok()
        .flatten();
    let (target, changed_by, changed_at) = match deleted {
        Some((name, by, at)) => (format!("role \"{name}\""), by, at),
        None => (
            format!("the role with id {id}"),
            String::new(),
            String::new(),
        ),
    };
    Error::Conflict(crate::error::Conflict {
        kind: crate::error::ConflictKind::Deleted,
        target,
        expected_version: 0,
        current_version: 0,
        changed_by,
        changed_at,
    })
}

pub(super) fn load_role(conn: &Db, catalog: &Catalog, id: i64) -> Result<Role> {
    let mut role = conn
        .query_row(
            &format!("SELECT {ROLE_COLUMNS} FROM roles r WHERE r.id = ?1"),
            [id],
            role_without_grants,
        )
        .optional()?
        .ok_or_else(|| role_gone(conn, id))?;
    role.grants = load_grants(conn, catalog, id)?;
    Ok(role)
}

/// Just the grants of a role: what an access check needs, without the role's user
/// count (a scan of its users).
pub(super) fn load_grants(conn: &Db, catalog: &Catalog, id: i64) -> Result<Grants> {
    let stmt = conn.prepare_cached("SELECT permission_key FROM role_grants WHERE role_id = ?1")?;
    let keys = stmt
        .query_map([id], |r| text(r, 0))?
        .collect::<super::db::SqlResult<Vec<_>>>()?;
    Ok(Grants::from_keys(catalog, keys.iter().map(String::as_str)))
}

/// Whether the role is a fixed role of the catalog (SPEC §11).
pub(super) fn is_fixed(conn: &Db, id: i64) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT fixed FROM roles WHERE id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?
        .unwrap_or(false))
}

impl Store {
    /// Whether the role is a fixed role of the catalog: locked like Administrator.
    pub fn role_is_fixed(&self, id: i64) -> Result<bool> {
        is_fixed(&self.conn, id)
    }
}

fn default_role_id(conn: &Db) -> Result<i64> {
    Ok(conn.query_row(
        "SELECT default_role_id FROM settings WHERE id = 1",
        params![],
        |r| r.get(0),
    )?)
}

/// Inserts a role with its grants and its audit row; the name must already be valid.
pub(super) fn insert_role(
    tx: &Tx<'_>,
    name: &str,
    description: &str,
    builtin: bool,
    grants: &Grants,
) -> Result<i64> {
    let taken: Option<String> = tx
        .tx
        .query_row(
            "SELECT name FROM roles WHERE name_fold = ?1",
            [name_key(name)],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(existing) = taken {
        return Err(Error::invalid(
            "name",
            format!(
                "a role named \"{}\" already exists",
                display_safe(&existing)
            ),
        ));
    }
    tx.tx.execute(
        "INSERT INTO roles (name, name_fold, description, builtin, version, created_seq, created_at, updated_at, updated_by) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?6, ?7)",
        params![name, name_key(name), description, builtin, tx.seq, tx.at, tx.actor],
    )?;
    let id = tx.tx.last_insert_rowid()?;
    tx.ensure_same_catalog(format!("role \"{name}\""), tx.seq, grants)?;
    write_grants(tx, id, grants.ordinals())?;
    let keys = grants.keys(tx.catalog);
    tx.audit(
        "role.create",
        name,
        None,
        Some(
            json!({"name": name, "description": description, "builtin": builtin, "granted": keys}),
        ),
    )?;
    Ok(id)
}

fn write_grants(tx: &Tx<'_>, role_id: i64, ordinals: impl Iterator<Item = usize>) -> Result<()> {
    let stmt = tx.tx.prepare_cached(
        "INSERT INTO role_grants (role_id, permission_key) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
    )?;
    for ord in ordinals {
        stmt.execute(params![role_id, tx.catalog.leaf_node(ord).key])?;
    }
    Ok(())
}

fn remove_grants(tx: &Tx<'_>, role_id: i64, ordinals: impl Iterator<Item = usize>) -> Result<()> {
    let stmt = tx
        .tx
        .prepare_cached("DELETE FROM role_grants WHERE role_id = ?1 AND permission_key = ?2")?;
    for ord in ordinals {
        stmt.execute(params![role_id, tx.catalog.leaf_node(ord).key])?;
    }
    Ok(())
}

pub(super) fn role_version(role: &Role) -> RowVersion<'_> {
    RowVersion {
        name: &role.name,
        removed_as: "role.delete",
        version: role.version,
        created_seq: role.created_seq,
        updated_by: &role.updated_by,
        updated_at: &role.updated_at,
    }
}

impl Store {
    /// Every role with its user count and granted count, in id order.
    pub fn roles(&self) -> Result<Vec<RoleSummary>> {
        Ok(self.roles_and_user_count()?.0)
    }

    /// Every role with its counts, and the number of users: both from one pass over
    /// the users' role index (on a server, counting each role's holders and then all
    /// users took twice as long as this one pass; the console's first frame waits
    /// for it).
    pub fn roles_and_user_count(&self) -> Result<(Vec<RoleSummary>, usize)> {
        let mut holders: std::collections::HashMap<Option<i64>, usize> = Default::default();
        let stmt = self
            .conn
            .prepare_cached("SELECT role_id, count(*) FROM users GROUP BY role_id")?;
        for row in stmt.query_map(params![], |r| {
            Ok((r.get::<Option<i64>>(0)?, r.get::<i64>(1)?))
        })? {
            let (role, n) = row?;
            holders.insert(role, n as usize);
        }
        let users = holders.values().sum();
        let total = self.catalog.leaf_count();
        let stmt = self.conn.prepare_cached(
            "SELECT r.id, r.name, r.description, r.builtin, r.created_at, r.updated_at, r.version, \
                    (SELECT count(*) FROM role_grants g WHERE g.role_id = r.id), r.fixed \
             FROM roles r ORDER BY r.id",
        )?;
        let rows = stmt.query_map(params![], |r| {
            let id: i64 = r.get(0)?;
            Ok(RoleSummary {
                id,
                name: text(r, 1)?,
                description: text(r, 2)?,
                builtin: r.get(3)?,
                created_at: text(r, 4)?,
                updated_at: text(r, 5)?,
                version: r.get(6)?,
                users: holders.get(&Some(id)).copied().unwrap_or(0),
                granted_count: r.get::<i64>(7)? as usize,
                fixed: r.get(8)?,
                total,
            })
        })?;
        let roles = rows.collect::<super::db::SqlResult<_>>()?;
        Ok((roles, users))
    }

    /// One role with its grants.
    pub fn role(&self, role: impl Into<RoleRef>) -> Result<Role> {
        let id = resolve_role(&self.conn, &role.into(), "role")?;
        load_role(&self.conn, &self.catalog, id)
    }

    pub fn role_by_id(&self, id: i64) -> Result<Role> {
        load_role(&self.conn, &self.catalog, id)
    }

    /// The id of the role new users get.
    pub fn default_role_id(&self) -> Result<i64> {
        default_role_id(&self.conn)
    }

    /// The role new users get.
    pub fn default_role(&self) -> Result<Role> {
        let id = default_role_id(&self.conn)?;
        load_role(&self.conn, &self.catalog, id)
    }

    /// Users holding the role, in username order, up to `limit`: (username, active).
    pub fn role_holders(&self, role_id: i64, limit: usize) -> Result<Vec<(String, bool)>> {
        holders(&self.conn, role_id, limit)
    }

    /// Creates a role, empty or with the grants (and exceptions) of `from`, read in
    /// the same transaction.
    pub fn create_role(
        &mut self,
        name: &str,
        description: &str,
        from: Option<RoleRef>,
    ) -> Result<Role> {
        let name = validate::role_name(name)?;
        let description = validate::description(description)?;
        let id = self.write(Need::One(Right::Roles), |tx| {
            let (grants, source_id) = match &from {
                Some(source) => {
                    let source_id = resolve_role(tx.tx, source, "from")?;
                    (
                        load_role(tx.tx, tx.catalog, source_id)?.grants,
                        Some(source_id),
                    )
                }
                None => (Grants::none(tx.catalog), None),
            };
            let id = insert_role(tx, &name, &description, false, &grants)?;
            if let Some(source_id) = source_id {
                super::resources::copy_exceptions(tx, source_id, id, &name)?;
            }
            Ok(id)
        })?;
        self.role_by_id(id)
    }

    /// Clones a role as `Copy of <name>` (or `name`), with the same description,
    /// grants and exceptions, all read in the transaction that writes the copy.
    pub fn clone_role(&mut self, source: impl Into<RoleRef>, name: Option<&str>) -> Result<Role> {
        let source = source.into();
        let name = name.map(validate::role_name).transpose()?;
        let id = self.write(Need::One(Right::Roles), |tx| {
            let source_id = resolve_role(tx.tx, &source, "role")?;
            let original = load_role(tx.tx, tx.catalog, source_id)?;
            let name = match name {
                Some(n) => n,
                None => validate::role_name(&role::clone_name(&original.name))?,
            };
            let id = insert_role(tx, &name, &original.description, false, &original.grants)?;
            super::resources::copy_exceptions(tx, source_id, id, &name)?;
            Ok(id)
        })?;
        self.role_by_id(id)
    }

    /// Applies an edit to a role in one transaction: the role resolved, the built-in
    /// lock, the version check (when `expected_version` is given), validation, then
    /// the change and its audit row. `edit` sees the catalog and the role as stored at
    /// that moment; grants it returns must be of that catalog.
    pub fn edit_role(
        &mut self,
        role: impl Into<RoleRef>,
        expected_version: Option<i64>,
        edit: impl FnOnce(&Catalog, &Role) -> Result<RoleUpdate>,
    ) -> Result<RoleChange> {
        let role = role.into();
        self.write(Need::One(Right::Roles), |tx| {
            let id = resolve_role(tx.tx, &role, "role").map_err(|e| {
                match (&role, expected_version, e) {
                    // A version was read, so the role existed: it is gone now.
                    (RoleRef::Typed(name), Some(v), Error::Invalid { .. }) => {
                        tx.deleted(format!("role \"{name}\""), "role.delete", name, v)
                    }
                    (_, _, e) => e,
                }
            })?;
            let before = load_role(tx.tx, tx.catalog, id)?;
            role::ensure_unlocked(&before.name, before.builtin, is_fixed(tx.tx, id)?)?;
            tx.check_version(
                format!("role \"{}\"", before.name),
                expected_version,
                role_version(&before),
            )?;
            let update = edit(tx.catalog, &before)?;
            apply_role_update(tx, &before, update)
        })
    }

    /// Grants (`on`) or revokes the leaves named by `specs` (leaf keys, category keys
    /// or `all`), resolved against the catalog inside the transaction that writes.
    pub fn set_permissions(
        &mut self,
        role: impl Into<RoleRef>,
        specs: &[String],
        on: bool,
        expected_version: Option<i64>,
    ) -> Result<RoleChange> {
        self.edit_role(role, expected_version, |catalog, current| {
            // Every key is resolved before any is applied, so an unknown key refuses
            // the whole command.
            let ranges = specs
                .iter()
                .map(|s| catalog.resolve(s))
                .collect::<Result<Vec<_>>>()?;
            let mut grants = current.grants.clone();
            for range in ranges {
                grants.set_range(range, on);
            }
            Ok(RoleUpdate {
                grants: Some(grants),
                ..RoleUpdate::default()
            })
        })
    }

    /// Deletes a role that nobody holds and that is not the default. With
    /// `reassign_to`, its users are first moved there, in the same transaction.
    pub fn delete_role(
        &mut self,
        role: impl Into<RoleRef>,
        reassign_to: Option<RoleRef>,
    ) -> Result<DeleteOutcome> {
        let role = role.into();
        self.write(Need::One(Right::Roles), |tx| {
            let id = resolve_role(tx.tx, &role, "role")?;
            let role = load_role(tx.tx, tx.catalog, id)?;
            role::ensure_unlocked(&role.name, role.builtin, is_fixed(tx.tx, id)?)?;
            let is_default = default_role_id(tx.tx)? == id;
            let mut moved = 0;
            let mut target_name = None;
            if let Some(target) = &reassign_to {
                let target_id = resolve_role(tx.tx, target, "reassign_to")?;
                if target_id == id {
                    return Err(Error::invalid("reassign_to", "must name a role other than the one being deleted"));
                }
                if !is_default {
                    let target_role = load_role(tx.tx, tx.catalog, target_id)?;
                    moved = super::users::move_users(tx, id, &role.name, target_id, &target_role.name)?;
                    super::packages::replace_role_in_packages(tx, (id, &role.name), (target_id, &target_role.name))?;
                    target_name = Some(target_role.name);
                }
            }
            let remaining = if target_name.is_some() { 0 } else { role.users };
            let sample = if remaining > 0 || is_default {
                holders(tx.tx, id, IN_USE_SAMPLE)?
            } else {
                Vec::new()
            };
            let packages = super::packages::packages_including(tx.tx, id)?;
            role::ensure_deletable(&role.name, remaining, sample, is_default, packages)?;
            let exceptions: serde_json::Map<String, serde_json::Value> =
                super::resources::role_exceptions(tx.tx, id)?
                    .into_iter()
                    .map(|(resource, keys)| (resource, json!(keys)))
                    .collect();
            tx.tx.execute("DELETE FROM roles WHERE id = ?1", [id])?;
            tx.audit(
                "role.delete",
                &role.name,
                Some(json!({"id": id, "name": role.name, "description": role.description, "granted": role.grants.keys(tx.catalog), "exceptions": exceptions})),
                target_name.as_ref().map(|t| json!({"users_moved_to": t, "users_moved": moved})),
            )?;
            Ok(DeleteOutcome {
                role: role.name,
                moved,
                reassigned_to: target_name,
            })
        })
    }

    /// Makes `role` the role new users get.
    pub fn set_default_role(&mut self, role: impl Into<RoleRef>) -> Result<Role> {
        let role = role.into();
        let id = self.write(Need::One(Right::Roles), |tx| {
            let id = resolve_role(tx.tx, &role, "role")?;
            let old = default_role_id(tx.tx)?;
            if old != id {
                let name_of = |id: i64| -> Result<String> {
                    Ok(tx
                        .tx
                        .query_row("SELECT name FROM roles WHERE id = ?1", [id], |r| text(r, 0))?)
                };
                tx.tx.execute(
                    "UPDATE settings SET default_role_id = ?1 WHERE id = 1",
                    [id],
                )?;
                tx.audit(
                    "settings.default_role",
                    "default role",
                    Some(json!({"default_role": name_of(old)?})),
                    Some(json!({"default_role": name_of(id)?})),
                )?;
            }
            Ok(id)
        })?;
        self.role_by_id(id)
    }
}

/// Users holding the role, in username order, up to `limit`: (username, active).
fn holders(conn: &Db, role_id: i64, limit: usize) -> Result<Vec<(String, bool)>> {
    let stmt = conn.prepare_cached(
        "SELECT username, active FROM users WHERE role_id = ?1 ORDER BY username LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![role_id, limit.min(i64::MAX as usize) as i64], |r| {
        Ok((text(r, 0)?, r.get(1)?))
    })?;
    Ok(rows.collect::<super::db::SqlResult<_>>()?)
}

/// Writes what `update` changes of `before` (already checked for the lock and the
/// version): the name (unique), the description, the grants (of this catalog), one
/// new version and one audit row; nothing when nothing differs.
fn apply_role_update(tx: &Tx<'_>, before: &Role, update: RoleUpdate) -> Result<RoleChange> {
    let id = before.id;
    let target = format!("role \"{}\"", before.name);
    let name = update
        .name
        .as_deref()
        .map(validate::role_name)
        .transpose()?;
    let description = update
        .description
        .as_deref()
        .map(validate::description)
        .transpose()?;

    let mut before_json = serde_json::Map::new();
    let mut after_json = serde_json::Map::new();
    if let Some(name) = name.as_ref().filter(|n| **n != before.name) {
        let clash: Option<String> = tx
            .tx
            .query_row(
                "SELECT name FROM roles WHERE name_fold = ?1 AND id <> ?2",
                params![name_key(name), id],
                |r| text(r, 0),
            )
            .optional()?;
        if let Some(other) = clash {
            return Err(Error::invalid(
                "name",
                format!("a role named \"{}\" already exists", display_safe(&other)),
            ));
        }
        tx.tx.execute(
            "UPDATE roles SET name = ?1, name_fold = ?2 WHERE id = ?3",
            params![name, name_key(name), id],
        )?;
        before_json.insert("name".into(), json!(before.name));
        after_json.insert("name".into(), json!(name));
    }
    if let Some(description) = description.as_ref().filter(|d| **d != before.description) {
        tx.tx.execute(
            "UPDATE roles SET description = ?1 WHERE id = ?2",
            params![description, id],
        )?;
        before_json.insert("description".into(), json!(before.description));
        after_json.insert("description".into(), json!(description));
    }
    let (mut added, mut removed) = (Vec::new(), Vec::new());
    if let Some(grants) = &update.grants {
        tx.ensure_same_catalog(target, before.version, grants)?;
        let (add, remove) = grants.diff(&before.grants);
        write_grants(tx, id, add.iter().copied())?;
        remove_grants(tx, id, remove.iter().copied())?;
        added = add
            .iter()
            .map(|&o| tx.catalog.leaf_node(o).key.clone())
            .collect();
        removed = remove
            .iter()
            .map(|&o| tx.catalog.leaf_node(o).key.clone())
            .collect();
        added.sort();
        removed.sort();
        if !added.is_empty() || !removed.is_empty() {
            before_json.insert("granted_count".into(), json!(before.grants.count()));
            after_json.insert("granted_count".into(), json!(grants.count()));
            after_json.insert("added".into(), json!(added));
            after_json.insert("removed".into(), json!(removed));
        }
    }
    let changed = !after_json.is_empty();
    if changed {
        tx.tx.execute(
            "UPDATE roles SET version = ?1, updated_at = ?2, updated_by = ?3 WHERE id = ?4",
            params![tx.seq, tx.at, tx.actor, id],
        )?;
        let audit_target = name.as_deref().unwrap_or(&before.name);
        tx.audit(
            "role.update",
            audit_target,
            Some(before_json.into()),
            Some(after_json.into()),
        )?;
    }
    let role = load_role(tx.tx, tx.catalog, id)?;
    Ok(RoleChange {
        role,
        added,
        removed,
        changed,
    })
}
