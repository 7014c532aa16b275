//! Role queries and changes. Every change runs in one transaction with its audit row.

use rusqlite::{OptionalExtension, Row, params};
use serde_json::json;

use super::{Store, Tx, fold};
use crate::domain::catalog::{Catalog, Grants};
use crate::domain::role::{self, Role, RoleSummary};
use crate::domain::validate;
use crate::error::{Conflict, Error, IN_USE_SAMPLE, Result};
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

const ROLE_COLUMNS: &str = "r.id, r.name, r.description, r.builtin, r.version, r.created_at, r.updated_at, r.updated_by, \
     (SELECT count(*) FROM users u WHERE u.role_id = r.id)";

fn role_without_grants(r: &Row<'_>) -> rusqlite::Result<Role> {
    Ok(Role {
        id: r.get(0)?,
        name: r.get(1)?,
        description: r.get(2)?,
        builtin: r.get(3)?,
        version: r.get(4)?,
        created_at: r.get(5)?,
        updated_at: r.get(6)?,
        updated_by: r.get(7)?,
        users: r.get::<_, i64>(8)? as usize,
        grants: Grants::default(),
    })
}

fn unknown_role(spec: &str) -> Error {
    Error::invalid(
        "role",
        format!(
            "there is no role \"{}\"; `rolecall roles list` shows them",
            display_safe(spec)
        ),
    )
}

/// Finds a role by name (ignoring case) or by numeric id.
pub(super) fn find_role_id(conn: &rusqlite::Connection, spec: &str) -> Result<i64> {
    let by_name: Option<i64> = conn
        .prepare_cached("SELECT id FROM roles WHERE name_fold = ?1")?
        .query_row([fold(spec)], |r| r.get(0))
        .optional()?;
    if let Some(id) = by_name {
        return Ok(id);
    }
    if let Ok(id) = spec.trim().parse::<i64>() {
        let by_id: Option<i64> = conn
            .prepare_cached("SELECT id FROM roles WHERE id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?;
        if let Some(id) = by_id {
            return Ok(id);
        }
    }
    Err(unknown_role(spec))
}

pub(super) fn load_role(conn: &rusqlite::Connection, catalog: &Catalog, id: i64) -> Result<Role> {
    let mut role = conn
        .query_row(
            &format!("SELECT {ROLE_COLUMNS} FROM roles r WHERE r.id = ?1"),
            [id],
            role_without_grants,
        )
        .optional()?
        .ok_or_else(|| unknown_role(&id.to_string()))?;
    role.grants = load_grants(conn, catalog, id)?;
    Ok(role)
}

/// Just the grants of a role: what an access check needs, without the role's user
/// count (a scan of its users).
pub(super) fn load_grants(
    conn: &rusqlite::Connection,
    catalog: &Catalog,
    id: i64,
) -> Result<Grants> {
    let mut stmt =
        conn.prepare_cached("SELECT permission_key FROM role_grants WHERE role_id = ?1")?;
    let keys = stmt
        .query_map([id], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(Grants::from_keys(catalog, keys.iter().map(String::as_str)))
}

fn default_role_id(conn: &rusqlite::Connection) -> Result<i64> {
    Ok(conn.query_row(
        "SELECT default_role_id FROM settings WHERE id = 1",
        [],
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
            [fold(name)],
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
        "INSERT INTO roles (name, name_fold, description, builtin, created_at, updated_at, updated_by) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)",
        params![name, fold(name), description, builtin, tx.at, tx.actor],
    )?;
    let id = tx.tx.last_insert_rowid();
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
    let mut stmt = tx.tx.prepare_cached(
        "INSERT OR IGNORE INTO role_grants (role_id, permission_key) VALUES (?1, ?2)",
    )?;
    for ord in ordinals {
        stmt.execute(params![role_id, tx.catalog.leaf_node(ord).key])?;
    }
    Ok(())
}

fn remove_grants(tx: &Tx<'_>, role_id: i64, ordinals: impl Iterator<Item = usize>) -> Result<()> {
    let mut stmt = tx
        .tx
        .prepare_cached("DELETE FROM role_grants WHERE role_id = ?1 AND permission_key = ?2")?;
    for ord in ordinals {
        stmt.execute(params![role_id, tx.catalog.leaf_node(ord).key])?;
    }
    Ok(())
}

fn check_version(what: String, role: &Role, expected: Option<i64>) -> Result<()> {
    match expected {
        Some(v) if v != role.version => Err(Error::Conflict(Conflict {
            target: what,
            expected_version: v,
            current_version: role.version,
            changed_by: role.updated_by.clone(),
            changed_at: role.updated_at.clone(),
        })),
        _ => Ok(()),
    }
}

impl Store {
    /// Every role with its user count and granted count, in id order.
    pub fn roles(&self) -> Result<Vec<RoleSummary>> {
        let total = self.catalog.leaf_count();
        let mut stmt = self.conn.prepare_cached(
            "SELECT r.id, r.name, r.description, r.builtin, r.created_at, r.updated_at, r.version, \
                    (SELECT count(*) FROM users u WHERE u.role_id = r.id), \
                    (SELECT count(*) FROM role_grants g WHERE g.role_id = r.id) \
             FROM roles r ORDER BY r.id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(RoleSummary {
                id: r.get(0)?,
                name: r.get(1)?,
                description: r.get(2)?,
                builtin: r.get(3)?,
                created_at: r.get(4)?,
                updated_at: r.get(5)?,
                version: r.get(6)?,
                users: r.get::<_, i64>(7)? as usize,
                granted_count: r.get::<_, i64>(8)? as usize,
                total,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// One role with its grants, by name (ignoring case) or id.
    pub fn role(&self, spec: &str) -> Result<Role> {
        let id = find_role_id(&self.conn, spec)?;
        load_role(&self.conn, &self.catalog, id)
    }

    pub fn role_by_id(&self, id: i64) -> Result<Role> {
        load_role(&self.conn, &self.catalog, id)
    }

    /// The role new users get.
    /// The id of the role new users get.
    pub fn default_role_id(&self) -> Result<i64> {
        default_role_id(&self.conn)
    }

    pub fn default_role(&self) -> Result<Role> {
        let id = default_role_id(&self.conn)?;
        load_role(&self.conn, &self.catalog, id)
    }

    /// Users holding the role, in username order, up to `limit`: (username, active).
    pub fn role_holders(&self, role_id: i64, limit: usize) -> Result<Vec<(String, bool)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT username, active FROM users WHERE role_id = ?1 ORDER BY username LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![role_id, limit as i64], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Creates a role, empty or with the grants of `from`.
    pub fn create_role(
        &mut self,
        name: &str,
        description: &str,
        from: Option<&str>,
    ) -> Result<Role> {
        let name = validate::role_name(name)?;
        let description = validate::description(description)?;
        let id = self.write(|tx| {
            let grants = match from {
                Some(source) => {
                    let source_id = find_role_id(tx.tx, source).map_err(|_| {
                        Error::invalid(
                            "from",
                            format!("there is no role \"{}\" to copy from", display_safe(source)),
                        )
                    })?;
                    load_role(tx.tx, tx.catalog, source_id)?.grants
                }
                None => Grants::none(tx.catalog),
            };
            insert_role(tx, &name, &description, false, &grants)
        })?;
        self.role_by_id(id)
    }

    /// Clones a role as `Copy of <name>` (or `name`), with the same grants.
    pub fn clone_role(&mut self, source: &str, name: Option<&str>) -> Result<Role> {
        let source_role = self.role(source)?;
        let name = match name {
            Some(n) => n.to_string(),
            None => role::clone_name(&source_role.name),
        };
        self.create_role(
            &name,
            &source_role.description,
            Some(&source_role.id.to_string()),
        )
    }

    /// Applies an edit to a role in one transaction: the built-in lock, the version
    /// check (when `expected_version` is given), validation, then the change and its
    /// audit row. `edit` sees the role as stored at that moment.
    pub fn edit_role(
        &mut self,
        id: i64,
        expected_version: Option<i64>,
        edit: impl FnOnce(&Catalog, &Role) -> Result<RoleUpdate>,
    ) -> Result<RoleChange> {
        self.write(|tx| {
            let before = load_role(tx.tx, tx.catalog, id)?;
            role::ensure_editable(&before.name, before.builtin)?;
            check_version(format!("role \"{}\"", before.name), &before, expected_version)?;
            let update = edit(tx.catalog, &before)?;
            let name = update.name.as_deref().map(validate::role_name).transpose()?;
            let description = update.description.as_deref().map(validate::description).transpose()?;

            let mut before_json = serde_json::Map::new();
            let mut after_json = serde_json::Map::new();
            if let Some(name) = name.as_ref().filter(|n| **n != before.name) {
                let clash: Option<String> = tx
                    .tx
                    .query_row(
                        "SELECT name FROM roles WHERE name_fold = ?1 AND id <> ?2",
                        params![fold(name), id],
                        |r| r.get(0),
                    )
                    .optional()?;
                if let Some(other) = clash {
                    return Err(Error::invalid(
                        "name",
                        format!("a role named \"{}\" already exists", display_safe(&other)),
                    ));
                }
                tx.tx
                    .execute("UPDATE roles SET name = ?1, name_fold = ?2 WHERE id = ?3", params![name, fold(name), id])?;
                before_json.insert("name".into(), json!(before.name));
                after_json.insert("name".into(), json!(name));
            }
            if let Some(description) = description.as_ref().filter(|d| **d != before.description) {
                tx.tx
                    .execute("UPDATE roles SET description = ?1 WHERE id = ?2", params![description, id])?;
                before_json.insert("description".into(), json!(before.description));
                after_json.insert("description".into(), json!(description));
            }
            let (mut added, mut removed) = (Vec::new(), Vec::new());
            if let Some(grants) = &update.grants {
                let (add, remove) = grants.diff(&before.grants);
                write_grants(tx, id, add.iter().copied())?;
                remove_grants(tx, id, remove.iter().copied())?;
                added = add.iter().map(|&o| tx.catalog.leaf_node(o).key.clone()).collect();
                removed = remove.iter().map(|&o| tx.catalog.leaf_node(o).key.clone()).collect();
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
                    "UPDATE roles SET version = version + 1, updated_at = ?1, updated_by = ?2 WHERE id = ?3",
                    params![tx.at, tx.actor, id],
                )?;
                let target = name.as_deref().unwrap_or(&before.name);
                tx.audit("role.update", target, Some(before_json.into()), Some(after_json.into()))?;
            }
            let role = load_role(tx.tx, tx.catalog, id)?;
            Ok(RoleChange {
                role,
                added,
                removed,
                changed,
            })
        })
    }

    /// Grants (`on`) or revokes the leaves named by `specs` (leaf keys, category keys
    /// or `all`), reading and writing in the same transaction.
    pub fn set_permissions(
        &mut self,
        role: &str,
        specs: &[String],
        on: bool,
        expected_version: Option<i64>,
    ) -> Result<RoleChange> {
        let id = find_role_id(&self.conn, role)?;
        // Resolve before writing so an unknown key refuses the whole command.
        let ranges = specs
            .iter()
            .map(|s| self.catalog.resolve(s))
            .collect::<Result<Vec<_>>>()?;
        self.edit_role(id, expected_version, |_, current| {
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
    pub fn delete_role(&mut self, spec: &str, reassign_to: Option<&str>) -> Result<DeleteOutcome> {
        let id = find_role_id(&self.conn, spec)?;
        self.write(|tx| {
            let role = load_role(tx.tx, tx.catalog, id)?;
            role::ensure_editable(&role.name, role.builtin)?;
            let is_default = default_role_id(tx.tx)? == id;
            let mut moved = 0;
            let mut target_name = None;
            if let Some(target) = reassign_to {
                let target_id = find_role_id(tx.tx, target).map_err(|_| {
                    Error::invalid(
                        "reassign_to",
                        format!("there is no role \"{}\" to move the users to", display_safe(target)),
                    )
                })?;
                if target_id == id {
                    return Err(Error::invalid("reassign_to", "must name a role other than the one being deleted"));
                }
                if !is_default {
                    let target_role = load_role(tx.tx, tx.catalog, target_id)?;
                    moved = super::users::move_users(tx, id, &role.name, target_id, &target_role.name)?;
                    target_name = Some(target_role.name);
                }
            }
            let remaining = if moved > 0 { 0 } else { role.users };
            let holders = if remaining > 0 || is_default {
                let mut stmt = tx.tx.prepare_cached(
                    "SELECT username, active FROM users WHERE role_id = ?1 ORDER BY username LIMIT ?2",
                )?;
                stmt.query_map(params![id, IN_USE_SAMPLE as i64], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<rusqlite::Result<Vec<_>>>()?
            } else {
                Vec::new()
            };
            role::ensure_deletable(&role.name, remaining, holders, is_default)?;
            tx.tx.execute("DELETE FROM roles WHERE id = ?1", [id])?;
            tx.audit(
                "role.delete",
                &role.name,
                Some(json!({"name": role.name, "description": role.description, "granted": role.grants.keys(tx.catalog)})),
                target_name.as_ref().map(|t| json!({"users_moved_to": t, "users_moved": moved})),
            )?;
            Ok(DeleteOutcome {
                role: role.name,
                moved,
                reassigned_to: target_name,
            })
        })
    }

    /// Makes `spec` the role new users get.
    pub fn set_default_role(&mut self, spec: &str) -> Result<Role> {
        let id = find_role_id(&self.conn, spec)?;
        self.write(|tx| {
            let old = default_role_id(tx.tx)?;
            let old_name: String =
                tx.tx
                    .query_row("SELECT name FROM roles WHERE id = ?1", [old], |r| r.get(0))?;
            let new_name: String =
                tx.tx
                    .query_row("SELECT name FROM roles WHERE id = ?1", [id], |r| r.get(0))?;
            if old != id {
                tx.tx.execute(
                    "UPDATE settings SET default_role_id = ?1 WHERE id = 1",
                    [id],
                )?;
                tx.audit(
                    "settings.default_role",
                    "default role",
                    Some(json!({"default_role": old_name})),
                    Some(json!({"default_role": new_name})),
                )?;
            }
            Ok(())
        })?;
        self.role_by_id(id)
    }
}
