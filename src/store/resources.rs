//! Resources, their packages, roles' exceptions and the decision for one resource
//! (SPEC §11). Every change is one transaction with its audit rows; the rules are in
//! `domain::resource`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::db::{Db, OptionalExtension, params};
use serde::Deserialize;
use serde_json::json;

use super::packages::{PackageRef, resolve_package};
use super::roles::{RoleRef, load_grants, resolve_role};
use super::users::load_user;
use super::{Store, Tx, text};
use crate::domain::access::{Allowed, Decision, PathIndex, Via};
use crate::domain::authz::{Need, Right};
use crate::domain::catalog::{Catalog, Grants};
use crate::domain::resource::{self, Resource, ResourcePath, ResourceType, Visibility, parse_spec};
use crate::domain::role;
use crate::error::{Error, Result};
use crate::text::display_safe;

/// One entry of a `resources load` file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceEntry {
    #[serde(rename = "type")]
    pub type_key: String,
    pub key: String,
    #[serde(default)]
    pub label: String,
    #[serde(default)]
    pub packages: Vec<String>,
}

/// What `resources load` does (or would do, on a dry run).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourcesPlan {
    /// `TYPE:KEY` of each, sorted.
    pub added: Vec<String>,
    pub changed: Vec<String>,
    pub unchanged: usize,
    /// Resources the file does not list: removed only with `--prune`.
    pub missing: Vec<String>,
    /// Exceptions the missing resources hold (removed with them).
    pub missing_exceptions: usize,
    pub pruned: bool,
}

/// A role's exception for one resource, with what it is measured against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExceptionView {
    pub role: String,
    pub resource: Resource,
    pub resource_type: ResourceType,
    /// The role's general grants.
    pub general: Grants,
    /// The exception's set of scoped leaves, if the role has one.
    pub exception: Option<Grants>,
}

/// Every resource type, in catalog file order, with its scoped keys in file order.
pub(super) fn resource_types(conn: &Db) -> Result<Vec<ResourceType>> {
    let mut types: Vec<ResourceType> = conn
        .prepare_cached(
            "SELECT key, label, team_owned, bypass FROM resource_types ORDER BY position",
        )?
        .query_map(params![], |r| {
            Ok(ResourceType {
                key: text(r, 0)?,
                label: text(r, 1)?,
                scoped: Vec::new(),
                team_owned: r.get(2)?,
                bypass: super::opt_text(r, 3)?,
            })
        })?
        .collect::<super::db::SqlResult<_>>()?;
    let stmt = conn.prepare_cached(
        "SELECT node_key FROM resource_type_scopes WHERE type_key = ?1 ORDER BY position",
    )?;
    for t in &mut types {
        t.scoped = stmt
            .query_map([&t.key], |r| text(r, 0))?
            .collect::<super::db::SqlResult<_>>()?;
    }
    Ok(types)
}

fn resource_type(conn: &Db, key: &str) -> Result<ResourceType> {
    resource_types(conn)?
        .into_iter()
        .find(|t| t.key == key)
        .ok_or_else(|| unknown_type(conn, key))
}

fn unknown_type(conn: &Db, key: &str) -> Error {
    let known: Vec<String> = resource_types(conn)
        .map(|ts| ts.into_iter().map(|t| t.key).collect())
        .unwrap_or_default();
    Error::invalid(
        "type",
        if known.is_empty() {
            format!(
                "there is no resource type \"{}\": the catalog defines none (add [[resource_type]] tables and run `rolecall catalog load`)",
                crate::text::excerpt(key)
            )
        } else {
            format!(
                "there is no resource type \"{}\"; the catalog defines {}",
                crate::text::excerpt(key),
                known.join(", ")
            )
        },
    )
}

fn unknown_resource(spec: &str) -> Error {
    Error::invalid(
        "resource",
        format!(
            "there is no resource \"{}\"; `rolecall resources list` shows them",
            crate::text::excerpt(spec)
        ),
    )
}

/// The resource `TYPE:KEY` names.
pub(super) fn find_resource(conn: &Db, spec: &str) -> Result<Resource> {
    let (type_key, key) = parse_spec(spec)?;
    let found: Option<(i64, String)> = conn
        .prepare_cached("SELECT id, label FROM resources WHERE type_key = ?1 AND key = ?2")?
        .query_row(params![type_key, key], |r| Ok((r.get(0)?, text(r, 1)?)))
        .optional()?;
    let Some((id, label)) = found else {
        resource_type(conn, type_key)?;
        return Err(unknown_resource(spec));
    };
    Ok(Resource {
        id,
        type_key: type_key.to_string(),
        key: key.to_string(),
        label,
        packages: resource_packages(conn, id)?,
    })
}

fn resource_packages(conn: &Db, id: i64) -> Result<Vec<String>> {
    let mut names: Vec<String> = conn
        .prepare_cached(
            "SELECT p.name FROM package_resources pr JOIN packages p ON p.id = pr.package_id \
             WHERE pr.resource_id = ?1",
        )?
        .query_map([id], |r| text(r, 0))?
        .collect::<super::db::SqlResult<_>>()?;
    names.sort();
    Ok(names)
}

/// Every exception a resource holds: (role name, granted keys), by role name.
fn resource_exceptions(conn: &Db, id: i64) -> Result<Vec<(String, Vec<String>)>> {
    let rows: Vec<(i64, String)> = conn
        .prepare_cached(
            "SELECT e.id, r.name FROM role_exceptions e JOIN roles r ON r.id = e.role_id \
             WHERE e.resource_id = ?1 ORDER BY r.name",
        )?
        .query_map([id], |r| Ok((r.get(0)?, text(r, 1)?)))?
        .collect::<super::db::SqlResult<_>>()?;
    rows.into_iter()
        .map(|(e, role)| Ok((role, exception_keys(conn, e)?)))
        .collect()
}

fn exception_keys(conn: &Db, exception_id: i64) -> Result<Vec<String>> {
    Ok(conn
        .prepare_cached(
            "SELECT permission_key FROM role_exception_grants WHERE exception_id = ?1 ORDER BY permission_key",
        )?
        .query_map([exception_id], |r| text(r, 0))?
        .collect::<super::db::SqlResult<_>>()?)
}

/// Every exception a role holds: (`TYPE:KEY`, granted keys), for the audit row of its
/// deletion.
pub(super) fn role_exceptions(conn: &Db, role_id: i64) -> Result<Vec<(String, Vec<String>)>> {
    let rows: Vec<(i64, String, String)> = conn
        .prepare_cached(
            "SELECT e.id, res.type_key, res.key FROM role_exceptions e \
             JOIN resources res ON res.id = e.resource_id WHERE e.role_id = ?1 \
             ORDER BY res.type_key, res.key",
        )?
        .query_map([role_id], |r| Ok((r.get(0)?, text(r, 1)?, text(r, 2)?)))?
        .collect::<super::db::SqlResult<_>>()?;
    rows.into_iter()
        .map(|(e, t, k)| Ok((format!("{t}:{k}"), exception_keys(conn, e)?)))
        .collect()
}

/// The exception `role_id` holds for `resource_id`, as grants, if any.
fn exception_of(
    conn: &Db,
    catalog: &Catalog,
    role_id: i64,
    resource_id: i64,
) -> Result<Option<Grants>> {
    let id: Option<i64> = conn
        .prepare_cached("SELECT id FROM role_exceptions WHERE role_id = ?1 AND resource_id = ?2")?
        .query_row(params![role_id, resource_id], |r| r.get(0))
        .optional()?;
    let Some(id) = id else {
        return Ok(None);
    };
    let keys = exception_keys(conn, id)?;
    Ok(Some(Grants::from_keys(
        catalog,
        keys.iter().map(String::as_str),
    )))
}

fn insert_resource(tx: &Tx<'_>, type_key: &str, key: &str, label: &str) -> Result<i64> {
    tx.tx
        .prepare_cached(
            "INSERT INTO resources (type_key, key, label, created_at, updated_at, updated_by) \
             VALUES (?1, ?2, ?3, ?4, ?4, ?5)",
        )?
        .execute(params![type_key, key, label, tx.at, tx.actor])?;
    Ok(tx.tx.last_insert_rowid()?)
}

/// Links or unlinks packages; returns the names that changed.
fn link_packages(
    tx: &Tx<'_>,
    resource_id: i64,
    packages: &[String],
    on: bool,
) -> Result<Vec<String>> {
    let mut changed = Vec::new();
    for name in packages {
        let id = resolve_package(tx.tx, &PackageRef::from(name.as_str()))?;
        let n = if on {
            tx.tx
                .prepare_cached(
                    "INSERT INTO package_resources (package_id, resource_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                )?
                .execute(params![id, resource_id])?
        } else {
            tx.tx
                .prepare_cached(
                    "DELETE FROM package_resources WHERE package_id = ?1 AND resource_id = ?2",
                )?
                .execute(params![id, resource_id])?
        };
        if n > 0 {
            let canonical: String =
                tx.tx
                    .query_row("SELECT name FROM packages WHERE id = ?1", [id], |r| {
                        text(r, 0)
                    })?;
            changed.push(canonical);
        }
    }
    Ok(changed)
}

/// Removes a resource with its exceptions and package links, and writes one audit row
/// that lists what went with it.
fn delete_resource(tx: &Tx<'_>, resource: &Resource, reason: Option<&str>) -> Result<()> {
    let exceptions = resource_exceptions(tx.tx, resource.id)?;
    tx.tx
        .execute("DELETE FROM resources WHERE id = ?1", [resource.id])?;
    let exceptions: serde_json::Map<String, serde_json::Value> = exceptions
        .into_iter()
        .map(|(role, keys)| (role, json!(keys)))
        .collect();
    tx.audit(
        "resource.remove",
        &resource.spec(),
        Some(json!({
            "type": resource.type_key,
            "key": resource.key,
            "label": resource.label,
            "packages": resource.packages,
            "exceptions": exceptions,
        })),
        reason.map(|r| json!({"reason": r})),
    )
}

/// Writes one resource type at `position` with its scoped nodes, and an audit row
/// when it is new or differs from `before`. True when it changed.
fn write_resource_type(
    tx: &Tx<'_>,
    t: &ResourceType,
    position: usize,
    before: Option<&ResourceType>,
) -> Result<bool> {
    tx.tx.execute(
        "INSERT INTO resource_types (key, label, team_owned, bypass, position) VALUES (?1, ?2, ?3, ?4, ?5) \
         ON CONFLICT (key) DO UPDATE SET label = excluded.label, team_owned = excluded.team_owned, \
         bypass = excluded.bypass, position = excluded.position",
        params![t.key, t.label, t.team_owned, t.bypass, position as i64],
    )?;
    if before == Some(t) {
        return Ok(false);
    }
    tx.tx.execute(
        "DELETE FROM resource_type_scopes WHERE type_key = ?1",
        [&t.key],
    )?;
    for (i, node) in t.scoped.iter().enumerate() {
        tx.tx.execute(
            "INSERT INTO resource_type_scopes (type_key, node_key, position) VALUES (?1, ?2, ?3)",
            params![t.key, node, i as i64],
        )?;
    }
    match before {
        None => tx.audit("resource_type.add", &t.key, None, Some(json!(t)))?,
        Some(old) => tx.audit(
            "resource_type.update",
            &t.key,
            Some(json!(old)),
            Some(json!(t)),
        )?,
    }
    Ok(true)
}

/// What [`upsert_resource`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Upserted {
    Added,
    Changed,
    Unchanged,
}

/// Adds or updates one resource of a sync (`resources load`, import): `label` None
/// keeps the stored one, `packages` (ids) None keeps its links, else they are its
/// whole set. One audit row, saying `reason`, when something changed.
fn upsert_resource(
    tx: &Tx<'_>,
    type_key: &str,
    key: &str,
    label: Option<&str>,
    packages: Option<&[i64]>,
    reason: &str,
) -> Result<Upserted> {
    let spec = format!("{type_key}:{key}");
    let existing: Option<(i64, String)> = tx
        .tx
        .query_row(
            "SELECT id, label FROM resources WHERE type_key = ?1 AND key = ?2",
            params![type_key, key],
            |r| Ok((r.get(0)?, text(r, 1)?)),
        )
        .optional()?;
    let label = label
        .map(str::to_string)
        .or_else(|| existing.as_ref().map(|(_, l)| l.clone()))
        .unwrap_or_default();
    let (id, before) = match &existing {
        Some((id, l)) => (*id, Some((l.clone(), resource_packages(tx.tx, *id)?))),
        None => (insert_resource(tx, type_key, key, &label)?, None),
    };
    if let Some(ids) = packages {
        tx.tx
            .execute("DELETE FROM package_resources WHERE resource_id = ?1", [id])?;
        for pid in ids {
            tx.tx.execute(
                "INSERT INTO package_resources (package_id, resource_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                params![pid, id],
            )?;
        }
    }
    let after = resource_packages(tx.tx, id)?;
    match before {
        None => {
            tx.audit(
                "resource.add",
                &spec,
                None,
                Some(json!({"type": type_key, "key": key, "label": label, "packages": after, "reason": reason})),
            )?;
            Ok(Upserted::Added)
        }
        Some((old, was)) if old != label || was != after => {
            tx.tx.execute(
                "UPDATE resources SET label = ?1, updated_at = ?2, updated_by = ?3 WHERE id = ?4",
                params![label, tx.at, tx.actor, id],
            )?;
            tx.audit(
                "resource.update",
                &spec,
                Some(json!({"label": old, "packages": was})),
                Some(json!({"label": label, "packages": after, "reason": reason})),
            )?;
            Ok(Upserted::Changed)
        }
        Some(_) => Ok(Upserted::Unchanged),
    }
}

/// Makes `keys` the exception of `role_id` for `resource_id` (created if need be).
fn write_exception(tx: &Tx<'_>, role_id: i64, resource_id: i64, keys: &[&str]) -> Result<()> {
    tx.tx.execute(
        "INSERT INTO role_exceptions (role_id, resource_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
        params![role_id, resource_id],
    )?;
    let id: i64 = tx.tx.query_row(
        "SELECT id FROM role_exceptions WHERE role_id = ?1 AND resource_id = ?2",
        params![role_id, resource_id],
        |r| r.get(0),
    )?;
    tx.tx.execute(
        "DELETE FROM role_exception_grants WHERE exception_id = ?1",
        [id],
    )?;
    let insert = tx.tx.prepare_cached(
        "INSERT INTO role_exception_grants (exception_id, permission_key) VALUES (?1, ?2)",
    )?;
    for key in keys {
        insert.execute(params![id, key])?;
    }
    Ok(())
}

/// The role the exception commands name, refused when it is locked.
/// The role an exception change is for: it must be unlocked, and when the caller
/// read it at `expected_version`, still at that version (an exception is measured
/// against the role's general grants, so any change to the role is a conflict).
fn editable_role(
    tx: &Tx<'_>,
    role: &RoleRef,
    expected_version: Option<i64>,
) -> Result<(i64, String)> {
    let id = resolve_role(tx.tx, role, "role")?;
    let (name, builtin, fixed): (String, bool, bool) = tx.tx.query_row(
        "SELECT name, builtin, fixed FROM roles WHERE id = ?1",
        [id],
        |r| Ok((text(r, 0)?, r.get(1)?, r.get(2)?)),
    )?;
    role::ensure_unlocked(&name, builtin, fixed)?;
    if expected_version.is_some() {
        let before = super::roles::load_role(tx.tx, tx.catalog, id)?;
        tx.check_version(
            format!("role \"{name}\""),
            expected_version,
            super::roles::role_version(&before),
        )?;
    }
    Ok((id, name))
}

impl Store {
    /// The resource types the catalog defines, in file order.
    pub fn resource_types(&self) -> Result<Vec<ResourceType>> {
        resource_types(&self.conn)
    }

    /// Every resource (of one type), by type and key, with its packages.
    pub fn resources(&self, type_key: Option<&str>) -> Result<Vec<Resource>> {
        if let Some(t) = type_key {
            resource_type(&self.conn, t)?;
        }
        let mut out: Vec<Resource> = self
            .conn
            .prepare_cached(
                "SELECT id, type_key, key, label FROM resources \
                 WHERE ?1 IS NULL OR type_key = ?1 ORDER BY type_key, key",
            )?
            .query_map([type_key], |r| {
                Ok(Resource {
                    id: r.get(0)?,
                    type_key: text(r, 1)?,
                    key: text(r, 2)?,
                    label: text(r, 3)?,
                    packages: Vec::new(),
                })
            })?
            .collect::<super::db::SqlResult<_>>()?;
        let mut links: HashMap<i64, Vec<String>> = HashMap::new();
        let stmt = self.conn.prepare_cached(
            "SELECT pr.resource_id, p.name FROM package_resources pr JOIN packages p ON p.id = pr.package_id",
        )?;
        for row in stmt.query_map(params![], |r| Ok((r.get::<i64>(0)?, text(r, 1)?)))? {
            let (id, name) = row?;
            links.entry(id).or_default().push(name);
        }
        for r in &mut out {
            if let Some(mut names) = links.remove(&r.id) {
                names.sort();
                r.packages = names;
            }
        }
        Ok(out)
    }

    /// The resources (ids) role `role_id` holds an exception for.
    pub fn exceptions_of_role(&self, role_id: i64) -> Result<std::collections::HashSet<i64>> {
        let stmt = self
            .conn
            .prepare_cached("SELECT resource_id FROM role_exceptions WHERE role_id = ?1")?;
        let ids = stmt.query_map([role_id], |r| r.get(0))?;
        Ok(ids.collect::<super::db::SqlResult<_>>()?)
    }

    /// How many exceptions each resource holds, by resource id.
    pub fn exception_counts(&self) -> Result<HashMap<i64, usize>> {
        let stmt = self.conn.prepare_cached(
            "SELECT resource_id, count(*) FROM role_exceptions GROUP BY resource_id",
        )?;
        let rows = stmt.query_map(params![], |r| {
            Ok((r.get::<i64>(0)?, r.get::<i64>(1)? as usize))
        })?;
        Ok(rows.collect::<super::db::SqlResult<_>>()?)
    }

    /// The resource `TYPE:KEY` names (exit 2 when there is none).
    pub fn resource(&self, spec: &str) -> Result<Resource> {
        find_resource(&self.conn, spec)
    }

    /// Registers a resource of a type the catalog defines, assigned to `packages`.
    pub fn add_resource(
        &mut self,
        type_key: &str,
        key: &str,
        label: &str,
        packages: &[String],
    ) -> Result<Resource> {
        let key = resource::validate_resource_key(key)?;
        let label = resource::validate_resource_label(label)?;
        let spec = format!("{type_key}:{key}");
        self.write(Need::One(Right::Roles), |tx| {
            resource_type(tx.tx, type_key)?;
            let exists: Option<i64> = tx
                .tx
                .query_row(
                    "SELECT id FROM resources WHERE type_key = ?1 AND key = ?2",
                    params![type_key, key],
                    |r| r.get(0),
                )
                .optional()?;
            if exists.is_some() {
                return Err(Error::invalid(
                    "key",
                    format!("resource {} already exists", display_safe(&spec)),
                ));
            }
            let id = insert_resource(tx, type_key, &key, &label)?;
            let mut linked = link_packages(tx, id, packages, true)?;
            linked.sort();
            tx.audit(
                "resource.add",
                &spec,
                None,
                Some(json!({"type": type_key, "key": key, "label": label, "packages": linked})),
            )?;
            Ok(())
        })?;
        self.resource(&spec)
    }

    /// Removes a resource, its exceptions and its package links, in one transaction.
    pub fn remove_resource(&mut self, spec: &str) -> Result<Resource> {
        self.write(Need::One(Right::Roles), |tx| {
            let resource = find_resource(tx.tx, spec)?;
            delete_resource(tx, &resource, None)?;
            Ok(resource)
        })
    }

    /// Assigns (`on`) or unassigns a resource to or from packages.
    pub fn assign_resource(
        &mut self,
        spec: &str,
        packages: &[String],
        on: bool,
    ) -> Result<Resource> {
        self.write(Need::One(Right::Roles), |tx| {
            let before = find_resource(tx.tx, spec)?;
            link_packages(tx, before.id, packages, on)?;
            let after = resource_packages(tx.tx, before.id)?;
            if after != before.packages {
                tx.tx.execute(
                    "UPDATE resources SET updated_at = ?1, updated_by = ?2 WHERE id = ?3",
                    params![tx.at, tx.actor, before.id],
                )?;
                tx.audit(
                    "resource.update",
                    &before.spec(),
                    Some(json!({"packages": before.packages})),
                    Some(json!({"packages": after})),
                )?;
            }
            Ok(Resource {
                packages: after,
                ..before
            })
        })
    }

    /// Syncs the resources with an application's list (`resources load`): listed ones
    /// are added or updated (label, packages); the ones it does not list are removed
    /// only with `prune`, and without it a file that leaves any out is refused. A dry
    /// run plans inside a transaction that is rolled back.
    pub fn load_resources(
        &mut self,
        entries: &[ResourceEntry],
        dry_run: bool,
        prune: bool,
    ) -> Result<ResourcesPlan> {
        let mut checked = Vec::with_capacity(entries.len());
        let mut seen = BTreeSet::new();
        for (i, e) in entries.iter().enumerate() {
            let at = |err: Error| Error::invalid("file", format!("[{i}]: {err}"));
            let key = resource::validate_resource_key(&e.key).map_err(at)?;
            let label = resource::validate_resource_label(&e.label).map_err(at)?;
            if !seen.insert((e.type_key.clone(), key.clone())) {
                return Err(Error::invalid(
                    "file",
                    format!(
                        "[{i}]: {}:{} is listed twice",
                        e.type_key,
                        display_safe(&key)
                    ),
                ));
            }
            checked.push((e.type_key.clone(), key, label, e.packages.clone()));
        }
        let plan_in = |tx: &Tx<'_>| -> Result<ResourcesPlan> {
            let types: Vec<String> = resource_types(tx.tx)?.into_iter().map(|t| t.key).collect();
            let mut plan = ResourcesPlan::default();
            for (i, (type_key, key, label, packages)) in checked.iter().enumerate() {
                if !types.contains(type_key) {
                    let err = unknown_type(tx.tx, type_key);
                    return Err(Error::invalid("file", format!("[{i}]: {err}")));
                }
                let mut wanted = Vec::new();
                for p in packages {
                    let pid = resolve_package(tx.tx, &PackageRef::from(p.as_str()))
                        .map_err(|e| Error::invalid("file", format!("[{i}]: {e}")))?;
                    wanted.push(pid);
                }
                let spec = format!("{type_key}:{key}");
                match upsert_resource(
                    tx,
                    type_key,
                    key,
                    Some(label),
                    Some(&wanted),
                    "resources load",
                )? {
                    Upserted::Added => plan.added.push(spec),
                    Upserted::Changed => plan.changed.push(spec),
                    Upserted::Unchanged => plan.unchanged += 1,
                }
            }
            let all: Vec<(i64, String, String)> = tx
                .tx
                .prepare("SELECT id, type_key, key FROM resources ORDER BY type_key, key")?
                .query_map(params![], |r| Ok((r.get(0)?, text(r, 1)?, text(r, 2)?)))?
                .collect::<super::db::SqlResult<_>>()?;
            for (_, t, k) in all {
                if !seen.contains(&(t.clone(), k.clone())) {
                    let spec = format!("{t}:{k}");
                    let resource = find_resource(tx.tx, &spec)?;
                    plan.missing_exceptions += resource_exceptions(tx.tx, resource.id)?.len();
                    if prune {
                        delete_resource(tx, &resource, Some("resources load --prune"))?;
                    }
                    plan.missing.push(spec);
                }
            }
            plan.pruned = prune && !plan.missing.is_empty();
            Ok(plan)
        };
        if dry_run {
            return self.dry_run(plan_in);
        }
        self.write(Need::One(Right::Roles), |tx| {
            let plan = plan_in(tx)?;
            if !prune && !plan.missing.is_empty() {
                return Err(Error::Refused(format!(
                    "the file leaves out {} registered resource{} ({}); run with --prune to remove {} and {} exception{}, or list {} in the file; nothing was changed",
                    plan.missing.len(),
                    if plan.missing.len() == 1 { "" } else { "s" },
                    sample(&plan.missing),
                    if plan.missing.len() == 1 { "it" } else { "them" },
                    plan.missing_exceptions,
                    if plan.missing_exceptions == 1 { "" } else { "s" },
                    if plan.missing.len() == 1 { "it" } else { "them" },
                )));
            }
            Ok(plan)
        })
    }

    /// A role's exception for a resource, with the role's general grants.
    pub fn exception(&self, role: impl Into<RoleRef>, spec: &str) -> Result<ExceptionView> {
        let role_id = resolve_role(&self.conn, &role.into(), "role")?;
        let name: String =
            self.conn
                .query_row("SELECT name FROM roles WHERE id = ?1", [role_id], |r| {
                    text(r, 0)
                })?;
        let resource = find_resource(&self.conn, spec)?;
        let resource_type = resource_type(&self.conn, &resource.type_key)?;
        Ok(ExceptionView {
            role: name,
            general: load_grants(&self.conn, &self.catalog, role_id)?,
            exception: exception_of(&self.conn, &self.catalog, role_id, resource.id)?,
            resource,
            resource_type,
        })
    }

    /// Sets a role's exception for a resource: from the exception as it is (or the
    /// role's general grants of the scoped permissions), `grant` then `revoke`. Only
    /// what the type scopes may be named.
    pub fn set_exception(
        &mut self,
        role: impl Into<RoleRef>,
        spec: &str,
        grant: &[String],
        revoke: &[String],
    ) -> Result<ExceptionView> {
        self.set_exception_if(role, spec, grant, revoke, None)
    }

    /// [`Store::set_exception`], refused as a conflict when the role is no longer at
    /// `expected_version` (the console's exception editor read it there).
    pub fn set_exception_if(
        &mut self,
        role: impl Into<RoleRef>,
        spec: &str,
        grant: &[String],
        revoke: &[String],
        expected_version: Option<i64>,
    ) -> Result<ExceptionView> {
        let role = role.into();
        let role_id = self.write(Need::One(Right::Roles), |tx| {
            let (role_id, name) = editable_role(tx, &role, expected_version)?;
            let resource = find_resource(tx.tx, spec)?;
            let rtype = resource_type(tx.tx, &resource.type_key)?;
            let general = load_grants(tx.tx, tx.catalog, role_id)?;
            let current = exception_of(tx.tx, tx.catalog, role_id, resource.id)?;
            let set = resource::edit_exception(
                tx.catalog,
                &rtype,
                &general,
                current.as_ref(),
                grant,
                revoke,
            )?;
            if current.as_ref() == Some(&set) {
                return Ok(role_id);
            }
            write_exception(tx, role_id, resource.id, &set.keys(tx.catalog))?;
            bump_role(tx, role_id)?;
            tx.audit(
                "role.exception",
                &name,
                Some(json!({
                    "resource": resource.spec(),
                    "granted": current.as_ref().map(|c| c.keys(tx.catalog)),
                })),
                Some(json!({"resource": resource.spec(), "granted": set.keys(tx.catalog)})),
            )?;
            Ok(role_id)
        })?;
        self.exception(role_id, spec)
    }

    /// Removes a role's exception for a resource: the general grants apply there again.
    /// True when there was one.
    pub fn clear_exception(&mut self, role: impl Into<RoleRef>, spec: &str) -> Result<bool> {
        self.clear_exception_if(role, spec, None)
    }

    /// [`Store::clear_exception`], refused as a conflict when the role is no longer at
    /// `expected_version`.
    pub fn clear_exception_if(
        &mut self,
        role: impl Into<RoleRef>,
        spec: &str,
        expected_version: Option<i64>,
    ) -> Result<bool> {
        let role = role.into();
        self.write(Need::One(Right::Roles), |tx| {
            let (role_id, name) = editable_role(tx, &role, expected_version)?;
            let resource = find_resource(tx.tx, spec)?;
            let Some(current) = exception_of(tx.tx, tx.catalog, role_id, resource.id)? else {
                return Ok(false);
            };
            tx.tx.execute(
                "DELETE FROM role_exceptions WHERE role_id = ?1 AND resource_id = ?2",
                params![role_id, resource.id],
            )?;
            bump_role(tx, role_id)?;
            tx.audit(
                "role.exception",
                &name,
                Some(json!({"resource": resource.spec(), "granted": current.keys(tx.catalog)})),
                Some(json!({"resource": resource.spec(), "granted": null})),
            )?;
            Ok(true)
        })
    }

    /// May `username` do `permission` on the resource `spec`? With the reasons, and for
    /// a team-owned type whether they may see it and why.
    pub fn check_on(
        &self,
        username: &str,
        permission: &str,
        spec: &str,
    ) -> Result<(Decision, Option<Visibility>, Resource)> {
        let user = load_user(&self.conn, username)?;
        if user.username != username {
            return Err(Error::invalid(
                "username",
                format!(
                    "there is no user \"{}\"; usernames are matched exactly (did you mean \"{}\"?)",
                    crate::text::excerpt(username),
                    display_safe(&user.username)
                ),
            ));
        }
        let resource = find_resource(&self.conn, spec)?;
        let rtype = resource_type(&self.conn, &resource.type_key)?;
        let direct = (user.role_id != 0).then_some((user.role_id, user.role.as_str()));
        let paths = resource_paths(&self.conn, &self.catalog, user.id, direct, resource.id)?;
        let user_packages = super::packages::packages_of(&self.conn, user.id)?;
        let (decision, visibility) = resource::decide_on(
            &self.catalog,
            &user,
            &rtype,
            &resource,
            &paths,
            &user_packages,
            permission,
        )?;
        Ok((decision, visibility, resource))
    }

    /// Every active user allowed `permission` on the resource `spec`, with the paths
    /// that grant it there: the roles that grant it on this resource (general grant
    /// or exception), their holders and their packages' members, less the users a
    /// team-owned resource hides from. Ids throughout, names once at the end, as
    /// `who_can` does.
    pub fn who_can_on(&self, permission: &str, spec: &str) -> Result<Allowed> {
        let idx = self.catalog.find(permission).ok_or_else(|| {
            Error::invalid(
                "permission",
                format!(
                    "\"{}\" is not a permission or category key; `rolecall catalog show` lists them",
                    crate::text::excerpt(permission)
                ),
            )
        })?;
        let leaves = self.catalog.node(idx).leaves.clone();
        let resource = find_resource(&self.conn, spec)?;
        let rtype = resource_type(&self.conn, &resource.type_key)?;
        let (granting, bypassing) = self.roles_granting_on(&rtype, resource.id, leaves)?;
        let visible = if rtype.team_owned {
            Some(self.users_who_see(resource.id, &bypassing)?)
        } else {
            None
        };
        let paths = self.grant_paths(&granting, visible.as_ref())?;
        allowed_by_name(&self.conn, &granting, &paths)
    }

    /// The roles that grant one of `leaves` on resource `resource_id` (of type
    /// `rtype`), by id with their names, and, for a team-owned type, the ids of the
    /// roles that hold its bypass.
    fn roles_granting_on(
        &self,
        rtype: &ResourceType,
        resource_id: i64,
        leaves: std::ops::Range<usize>,
    ) -> Result<(BTreeMap<i64, String>, BTreeSet<i64>)> {
        let conn = &self.conn;
        let mask = resource::scope(&self.catalog, rtype);
        let roles: Vec<(i64, String)> = conn
            .prepare_cached("SELECT id, name FROM roles")?
            .query_map(params![], |r| Ok((r.get(0)?, text(r, 1)?)))?
            .collect::<super::db::SqlResult<_>>()?;
        let bypass = rtype
            .bypass
            .as_ref()
            .and_then(|b| self.catalog.find(b))
            .map(|i| self.catalog.node(i).leaves.start);
        let mut granting: BTreeMap<i64, String> = BTreeMap::new();
        let mut bypassing = BTreeSet::new();
        for (id, name) in roles {
            let general = load_grants(conn, &self.catalog, id)?;
            if rtype.team_owned && bypass.is_some_and(|b| general.contains(b)) {
                bypassing.insert(id);
            }
            let exception = exception_of(conn, &self.catalog, id, resource_id)?;
            let on = resource::grants_on(&general, exception.as_ref(), &mask);
            if on.count_in(leaves.clone()) > 0 {
                granting.insert(id, name);
            }
        }
        Ok((granting, bypassing))
    }

    /// The users who may see a team-owned resource at all: the members of its
    /// packages, and the holders of the bypass (`bypassing`, role ids) directly or
    /// through a package.
    fn users_who_see(&self, resource_id: i64, bypassing: &BTreeSet<i64>) -> Result<BTreeSet<i64>> {
        let conn = &self.conn;
        let holders = conn.prepare_cached(ROLE_HOLDERS)?;
        let members = conn.prepare_cached(ROLE_PACKAGE_MEMBERS)?;
        let mut ids: BTreeSet<i64> = conn
            .prepare_cached(
                "SELECT m.user_id FROM package_resources pr \
                 JOIN package_members m ON m.package_id = pr.package_id WHERE pr.resource_id = ?1",
            )?
            .query_map([resource_id], |r| r.get(0))?
            .collect::<super::db::SqlResult<_>>()?;
        for &role in bypassing {
            for user in holders.query_map([role], |r| r.get::<i64>(0))? {
                ids.insert(user?);
            }
            for row in members.query_map([role], |r| r.get::<i64>(1))? {
                ids.insert(row?);
            }
        }
        Ok(ids)
    }

    /// How each active user who may see the resource (everyone, when `visible` is
    /// `None`) holds the `granting` roles: by user id, each path a role id and the
    /// package it comes through (`None`: held directly).
    fn grant_paths(
        &self,
        granting: &BTreeMap<i64, String>,
        visible: Option<&BTreeSet<i64>>,
    ) -> Result<GrantPaths> {
        let conn = &self.conn;
        let holders = conn.prepare_cached(ROLE_HOLDERS)?;
        let members = conn.prepare_cached(ROLE_PACKAGE_MEMBERS)?;
        let disabled: BTreeSet<i64> = conn
            .prepare_cached("SELECT id FROM users WHERE active = FALSE")?
            .query_map(params![], |r| r.get(0))?
            .collect::<super::db::SqlResult<_>>()?;
        let mut paths: GrantPaths = BTreeMap::new();
        let mut add = |user: i64, path: (Option<i64>, i64)| {
            let shown = visible.is_none_or(|v| v.contains(&user));
            if shown && !disabled.contains(&user) {
                paths.entry(user).or_default().insert(path);
            }
        };
        for &role in granting.keys() {
            for user in holders.query_map([role], |r| r.get::<i64>(0))? {
                add(user?, (None, role));
            }
            for row in members.query_map([role], |r| Ok((r.get::<i64>(0)?, r.get::<i64>(1)?)))? {
                let (package, user) = row?;
                add(user, (Some(package), role));
            }
        }
        Ok(paths)
    }
}

/// The holders of a role, by user id.
const ROLE_HOLDERS: &str = "SELECT id FROM users WHERE role_id = ?1";

/// The members of the packages that include a role: package id, user id.
/// (CROSS JOIN keeps SQLite from starting at the members; the join condition sits in
/// WHERE, where PostgreSQL accepts it too.)
const ROLE_PACKAGE_MEMBERS: &str = "SELECT pr.package_id, m.user_id FROM package_roles pr \
     CROSS JOIN package_members m WHERE m.package_id = pr.package_id AND pr.role_id = ?1";

/// Users' paths to a permission on a resource: by user id, the (package id or `None`
/// for a direct role, role id) pairs.
type GrantPaths = BTreeMap<i64, BTreeSet<(Option<i64>, i64)>>;

/// `paths` with names: the roles and packages on them sorted by name, and each user,
/// by username, with their paths as indices into those lists (sorting the indices
/// sorts a path by name). Names are read once, at the end.
fn allowed_by_name(
    conn: &Db,
    granting: &BTreeMap<i64, String>,
    paths: &GrantPaths,
) -> Result<Allowed> {
    let mut role_names: Vec<(String, i64)> =
        granting.iter().map(|(id, n)| (n.clone(), *id)).collect();
    role_names.sort();
    let role_index: HashMap<i64, usize> = role_names
        .iter()
        .enumerate()
        .map(|(i, (_, id))| (*id, i))
        .collect();
    let used: BTreeSet<i64> = paths
        .values()
        .flat_map(|p| p.iter().filter_map(|(pk, _)| *pk))
        .collect();
    let mut package_names: Vec<(String, i64)> = Vec::with_capacity(used.len());
    let package_name = conn.prepare_cached("SELECT name FROM packages WHERE id = ?1")?;
    for id in used {
        package_names.push((package_name.query_row([id], |r| text(r, 0))?, id));
    }
    package_names.sort();
    let package_index: HashMap<i64, usize> = package_names
        .iter()
        .enumerate()
        .map(|(i, (_, id))| (*id, i))
        .collect();
    let mut users = Vec::with_capacity(paths.len());
    let tidy = |found: &BTreeSet<(Option<i64>, i64)>| -> Vec<PathIndex> {
        let mut out: Vec<PathIndex> = found
            .iter()
            .map(|(pk, role)| (pk.map(|p| package_index[&p]), role_index[role]))
            .collect();
        out.sort_unstable();
        out
    };
    if paths.len() > 2_000 {
        let stmt = conn.prepare_cached("SELECT id, username FROM users ORDER BY username")?;
        for row in stmt.query_map(params![], |r| Ok((r.get::<i64>(0)?, text(r, 1)?)))? {
            let (id, name) = row?;
            if let Some(found) = paths.get(&id) {
                users.push((name, tidy(found)));
            }
        }
    } else {
        let seek = conn.prepare_cached("SELECT username FROM users WHERE id = ?1")?;
        for (id, found) in paths {
            users.push((seek.query_row([id], |r| text(r, 0))?, tidy(found)));
        }
        users.sort_by(|a, b| a.0.cmp(&b.0));
    }
    Ok(Allowed::from_users(
        role_names.into_iter().map(|(n, _)| n).collect(),
        package_names.into_iter().map(|(n, _)| n).collect(),
        users,
    ))
}

fn sample(specs: &[String]) -> String {
    let mut out = specs
        .iter()
        .take(crate::error::IN_USE_SAMPLE)
        .map(|s| display_safe(s).into_owned())
        .collect::<Vec<_>>()
        .join(", ");
    if specs.len() > crate::error::IN_USE_SAMPLE {
        out.push_str(&format!(
            " and {} more",
            specs.len() - crate::error::IN_USE_SAMPLE
        ));
    }
    out
}

fn bump_role(tx: &Tx<'_>, role_id: i64) -> Result<()> {
    tx.tx.execute(
        "UPDATE roles SET version = ?1, updated_at = ?2, updated_by = ?3 WHERE id = ?4",
        params![tx.seq, tx.at, tx.actor, role_id],
    )?;
    Ok(())
}

/// Every role a user holds, how, and its exception for one resource: the direct role
/// first, then each role of each package, by package and role name.
fn resource_paths(
    conn: &Db,
    catalog: &Catalog,
    user_id: i64,
    direct: Option<(i64, &str)>,
    resource_id: i64,
) -> Result<Vec<ResourcePath>> {
    let mut out = Vec::new();
    let mut add = |role_id: i64, via: Via| -> Result<()> {
        out.push(ResourcePath {
            via,
            grants: load_grants(conn, catalog, role_id)?,
            exception: exception_of(conn, catalog, role_id, resource_id)?,
        });
        Ok(())
    };
    if let Some((id, name)) = direct {
        add(
            id,
            Via {
                role: name.to_string(),
                package: None,
            },
        )?;
    }
    let mut paths: Vec<(String, String, i64)> = conn
        .prepare_cached(
            "SELECT p.name, r.name, r.id FROM package_members m \
             JOIN packages p ON p.id = m.package_id \
             JOIN package_roles pr ON pr.package_id = p.id \
             JOIN roles r ON r.id = pr.role_id WHERE m.user_id = ?1",
        )?
        .query_map([user_id], |r| Ok((text(r, 0)?, text(r, 1)?, r.get(2)?)))?
        .collect::<super::db::SqlResult<_>>()?;
    paths.sort();
    for (package, role, role_id) in paths {
        add(
            role_id,
            Via {
                role,
                package: Some(package),
            },
        )?;
    }
    Ok(out)
}

/// What a catalog file's `[[resource_type]]` and `[[role]]` tables change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelPlan {
    pub types_added: Vec<String>,
    pub types_changed: Vec<String>,
    /// Types the file drops, with how many resources each has (removed with it).
    pub types_removed: Vec<(String, usize)>,
    pub roles_created: Vec<String>,
    pub roles_updated: Vec<String>,
    /// Fixed roles the file no longer lists: they become ordinary roles.
    pub roles_released: Vec<String>,
}

impl ModelPlan {
    pub fn changes_anything(&self) -> bool {
        *self != ModelPlan::default()
    }
}

/// Writes the resource types and fixed roles of a catalog file, after its permissions
/// (`catalog`, the catalog as it now is). A type the file drops goes with its
/// resources only with `prune`; a `[[role]]` whose name an editable role already has
/// is refused.
pub(super) fn apply_model(
    tx: &Tx<'_>,
    catalog: &Catalog,
    types: &[ResourceType],
    roles: &[crate::domain::resource::FixedRole],
    prune: bool,
) -> Result<ModelPlan> {
    let mut plan = ModelPlan::default();
    apply_resource_types(tx, types, prune, &mut plan)?;
    let mut kept = BTreeSet::new();
    for r in roles {
        kept.insert(apply_fixed_role(tx, catalog, r, &mut plan)?);
    }
    let released: Vec<(i64, String)> = tx
        .tx
        .prepare("SELECT id, name FROM roles WHERE fixed = TRUE ORDER BY name")?
        .query_map(params![], |r| Ok((r.get(0)?, text(r, 1)?)))?
        .collect::<super::db::SqlResult<_>>()?;
    for (id, name) in released.into_iter().filter(|(id, _)| !kept.contains(id)) {
        tx.tx.execute(
            "UPDATE roles SET fixed = FALSE, version = ?1, updated_at = ?2, updated_by = ?3 WHERE id = ?4",
            params![tx.seq, tx.at, tx.actor, id],
        )?;
        tx.audit(
            "role.update",
            &name,
            Some(json!({"fixed": true})),
            Some(json!({"fixed": false, "reason": "the catalog no longer defines it"})),
        )?;
        plan.roles_released.push(name);
    }
    Ok(plan)
}

/// Writes a catalog file's resource types in its order and removes the types it
/// drops: a type with resources goes (with them) only with `prune`, but is counted
/// in `plan` either way.
fn apply_resource_types(
    tx: &Tx<'_>,
    types: &[ResourceType],
    prune: bool,
    plan: &mut ModelPlan,
) -> Result<()> {
    let existing = resource_types(tx.tx)?;
    for (pos, t) in types.iter().enumerate() {
        let before = existing.iter().find(|e| e.key == t.key);
        if write_resource_type(tx, t, pos, before)? {
            match before {
                None => plan.types_added.push(t.key.clone()),
                Some(_) => plan.types_changed.push(t.key.clone()),
            }
        }
    }
    for old in existing
        .iter()
        .filter(|e| !types.iter().any(|t| t.key == e.key))
    {
        let keys: Vec<String> = tx
            .tx
            .prepare("SELECT key FROM resources WHERE type_key = ?1 ORDER BY key")?
            .query_map([&old.key], |r| text(r, 0))?
            .collect::<super::db::SqlResult<_>>()?;
        plan.types_removed.push((old.key.clone(), keys.len()));
        if !keys.is_empty() && !prune {
            continue;
        }
        for key in &keys {
            let resource = find_resource(tx.tx, &format!("{}:{key}", old.key))?;
            delete_resource(tx, &resource, Some("its type was pruned from the catalog"))?;
        }
        tx.tx
            .execute("DELETE FROM resource_types WHERE key = ?1", [&old.key])?;
        tx.audit("resource_type.remove", &old.key, Some(json!(old)), None)?;
    }
    Ok(())
}

/// Writes one `[[role]]` of a catalog file: creates the fixed role, or updates the
/// fixed role of that name when its name, description or grants differ, noting which
/// in `plan`. Returns the role's id; an editable role of that name is refused.
fn apply_fixed_role(
    tx: &Tx<'_>,
    catalog: &Catalog,
    r: &crate::domain::resource::FixedRole,
    plan: &mut ModelPlan,
) -> Result<i64> {
    let grants = resource::fixed_role_grants(catalog, r)?;
    let keys = grants.keys(catalog);
    let found: Option<(i64, String, String, bool, bool)> = tx
        .tx
        .query_row(
            "SELECT id, name, description, builtin, fixed FROM roles WHERE name_fold = ?1",
            [super::name_key(&r.name)],
            |row| {
                Ok((
                    row.get(0)?,
                    text(row, 1)?,
                    text(row, 2)?,
                    row.get(3)?,
                    row.get(4)?,
                ))
            },
        )
        .optional()?;
    let id = match found {
        Some((_, name, _, _, false)) => {
            return Err(Error::invalid(
                "catalog",
                format!(
                    "role \"{}\" already exists as an editable role, and the file defines a fixed role of that name; rename the existing role first (`rolecall roles rename \"{}\" NEW_NAME`)",
                    display_safe(&name),
                    display_safe(&name)
                ),
            ));
        }
        Some((id, name, description, _, true)) => {
            let before: Vec<String> = tx
                .tx
                .prepare_cached("SELECT permission_key FROM role_grants WHERE role_id = ?1 ORDER BY permission_key")?
                .query_map([id], |row| text(row, 0))?
                .collect::<super::db::SqlResult<_>>()?;
            if before == keys && description == r.description && name == r.name {
                return Ok(id);
            }
            tx.tx.execute(
                "UPDATE roles SET name = ?1, description = ?2, version = ?3, updated_at = ?4, updated_by = ?5 WHERE id = ?6",
                params![r.name, r.description, tx.seq, tx.at, tx.actor, id],
            )?;
            tx.tx
                .execute("DELETE FROM role_grants WHERE role_id = ?1", [id])?;
            plan.roles_updated.push(r.name.clone());
            tx.audit(
                "role.update",
                &r.name,
                Some(json!({"name": name, "description": description, "granted": before})),
                Some(json!({"name": r.name, "description": r.description, "granted": keys, "reason": "catalog load"})),
            )?;
            id
        }
        None => {
            tx.tx.execute(
                "INSERT INTO roles (name, name_fold, description, builtin, fixed, version, created_seq, created_at, updated_at, updated_by) \
                 VALUES (?1, ?2, ?3, FALSE, TRUE, ?4, ?4, ?5, ?5, ?6)",
                params![r.name, super::name_key(&r.name), r.description, tx.seq, tx.at, tx.actor],
            )?;
            plan.roles_created.push(r.name.clone());
            let id = tx.tx.last_insert_rowid()?;
            tx.audit(
                "role.create",
                &r.name,
                None,
                Some(json!({"name": r.name, "description": r.description, "fixed": true, "granted": keys})),
            )?;
            id
        }
    };
    let insert = tx
        .tx
        .prepare_cached("INSERT INTO role_grants (role_id, permission_key) VALUES (?1, ?2)")?;
    for key in &keys {
        insert.execute(params![id, key])?;
    }
    Ok(id)
}

/// The resource part of the database for an export: types, resources with their
/// packages, every exception, and the fixed roles' names.
pub(super) fn read_model(conn: &Db) -> Result<crate::domain::resource::ResourceModel> {
    let types = resource_types(conn)?;
    let mut resources: Vec<Resource> = conn
        .prepare("SELECT id, type_key, key, label FROM resources ORDER BY type_key, key")?
        .query_map(params![], |r| {
            Ok(Resource {
                id: r.get(0)?,
                type_key: text(r, 1)?,
                key: text(r, 2)?,
                label: text(r, 3)?,
                packages: Vec::new(),
            })
        })?
        .collect::<super::db::SqlResult<_>>()?;
    for r in &mut resources {
        r.packages = resource_packages(conn, r.id)?;
    }
    let mut exceptions = BTreeMap::new();
    let rows: Vec<(i64, String, String, String)> = conn
        .prepare(
            "SELECT e.id, r.name, res.type_key, res.key FROM role_exceptions e \
             JOIN roles r ON r.id = e.role_id JOIN resources res ON res.id = e.resource_id",
        )?
        .query_map(params![], |r| {
            Ok((r.get(0)?, text(r, 1)?, text(r, 2)?, text(r, 3)?))
        })?
        .collect::<super::db::SqlResult<_>>()?;
    for (id, role, t, k) in rows {
        exceptions.insert((role, format!("{t}:{k}")), exception_keys(conn, id)?);
    }
    let fixed_roles = conn
        .prepare("SELECT name FROM roles WHERE fixed = TRUE")?
        .query_map(params![], |r| text(r, 0))?
        .collect::<super::db::SqlResult<_>>()?;
    Ok(crate::domain::resource::ResourceModel {
        types,
        resources,
        exceptions,
        fixed_roles,
    })
}

/// How many of an import's resource parts changed something.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ModelImport {
    pub types: usize,
    pub resources: usize,
    pub exceptions: usize,
    pub fixed: usize,
}

impl ModelImport {
    pub fn changes_anything(&self) -> bool {
        *self != ModelImport::default()
    }
}

/// Writes the `rolecall/3` parts of an import, after the rest (`catalog` is the
/// catalog as the import left it): resource types and resources the file lists are
/// added or updated, and each listed role's `fixed` mark and, when present, its whole
/// set of exceptions. A bad entry is refused naming its place in the file.
pub(super) fn import_model(
    tx: &Tx<'_>,
    catalog: &Catalog,
    doc: &crate::domain::policy::Document,
) -> Result<ModelImport> {
    let mut counts = ModelImport::default();
    if let Some(types) = &doc.resource_types {
        counts.types = import_resource_types(tx, catalog, types)?;
    }
    if let Some(resources) = &doc.resources {
        let known: Vec<String> = resource_types(tx.tx)?.into_iter().map(|t| t.key).collect();
        for (i, r) in resources.iter().enumerate() {
            counts.resources += usize::from(import_resource(tx, i, r, &known)?);
        }
    }
    let types = resource_types(tx.tx)?;
    for (i, record) in doc.roles.iter().enumerate() {
        if record.fixed.is_none() && record.exceptions.is_none() {
            continue;
        }
        let (id, name, fixed): (i64, String, bool) = tx.tx.query_row(
            "SELECT id, name, fixed FROM roles WHERE name_fold = ?1",
            [super::name_key(&record.name)],
            |r| Ok((r.get(0)?, text(r, 1)?, r.get(2)?)),
        )?;
        if let Some(want) = record.fixed.filter(|w| *w != fixed) {
            tx.tx.execute(
                "UPDATE roles SET fixed = ?1 WHERE id = ?2",
                params![want, id],
            )?;
            counts.fixed += 1;
            tx.audit(
                "role.update",
                &name,
                Some(json!({"fixed": fixed})),
                Some(json!({"fixed": want, "reason": "import"})),
            )?;
        }
        let Some(wanted) = &record.exceptions else {
            continue;
        };
        let desired = wanted_exceptions(tx, catalog, &types, i, wanted)?;
        counts.exceptions += import_exceptions(tx, catalog, (id, &name), &desired)?;
    }
    Ok(counts)
}

/// Writes the file's resource types, each checked against the catalog and the ones
/// before it, in the file's order, then the database's other types after them.
/// Returns how many were added or changed.
fn import_resource_types(tx: &Tx<'_>, catalog: &Catalog, types: &[ResourceType]) -> Result<usize> {
    let at = |path: String| move |m: String| Error::invalid("import", format!("{path}: {m}"));
    let mut checked: Vec<ResourceType> = Vec::new();
    for (i, t) in types.iter().enumerate() {
        resource::check_resource_type(catalog, t, &checked)
            .map_err(at(format!("resource_types[{i}]")))?;
        checked.push(t.clone());
    }
    let existing = resource_types(tx.tx)?;
    let mut order = checked.clone();
    order.extend(
        existing
            .iter()
            .filter(|e| !checked.iter().any(|t| t.key == e.key))
            .cloned(),
    );
    let mut written = 0;
    for (pos, t) in order.iter().enumerate() {
        let before = existing.iter().find(|e| e.key == t.key);
        written += usize::from(write_resource_type(tx, t, pos, before)?);
    }
    Ok(written)
}

/// Adds or updates entry `i` of the file's resources, whose type must be one of
/// `known`; `packages`, when present, is its whole set. True when it changed
/// anything.
fn import_resource(
    tx: &Tx<'_>,
    i: usize,
    r: &crate::domain::policy::ResourceRecord,
    known: &[String],
) -> Result<bool> {
    let path = format!("resources[{i}]");
    let field_err = |e: Error| match e {
        Error::Invalid { field, message } => {
            Error::invalid("import", format!("{path}.{field}: {message}"))
        }
        other => other,
    };
    if !known.contains(&r.type_key) {
        return Err(Error::invalid(
            "import",
            format!(
                "{path}.type: there is no resource type \"{}\" in the file or the database",
                crate::text::excerpt(&r.type_key)
            ),
        ));
    }
    let key = resource::validate_resource_key(&r.key).map_err(field_err)?;
    let label = r
        .label
        .as_deref()
        .map(resource::validate_resource_label)
        .transpose()
        .map_err(field_err)?;
    let packages = match &r.packages {
        None => None,
        Some(names) => {
            let mut ids = Vec::new();
            for (j, p) in names.iter().enumerate() {
                ids.push(
                    resolve_package(tx.tx, &PackageRef::from(p.as_str())).map_err(|e| match e {
                        Error::Invalid { message, .. } => {
                            Error::invalid("import", format!("{path}.packages[{j}]: {message}"))
                        }
                        other => other,
                    })?,
                );
            }
            Some(ids)
        }
    };
    let done = upsert_resource(
        tx,
        &r.type_key,
        &key,
        label.as_deref(),
        packages.as_deref(),
        "import",
    )?;
    Ok(done != Upserted::Unchanged)
}

/// The exceptions the file gives role entry `i` (`TYPE:KEY` → granted leaf keys), as
/// resource ids and grants by spec. Each resource must exist and each key must be a
/// permission its type scopes.
fn wanted_exceptions(
    tx: &Tx<'_>,
    catalog: &Catalog,
    types: &[ResourceType],
    i: usize,
    wanted: &BTreeMap<String, Vec<String>>,
) -> Result<BTreeMap<String, (i64, Grants)>> {
    let mut desired = BTreeMap::new();
    for (spec, keys) in wanted {
        let path = format!("roles[{i}].exceptions[\"{}\"]", crate::text::excerpt(spec));
        let res = find_resource(tx.tx, spec).map_err(|e| match e {
            Error::Invalid { message, .. } => {
                Error::invalid("import", format!("{path}: {message}"))
            }
            other => other,
        })?;
        let rtype = types
            .iter()
            .find(|t| t.key == res.type_key)
            .ok_or_else(|| unknown_type(tx.tx, &res.type_key))?;
        let mask = resource::scope(catalog, rtype);
        let mut set = Grants::none(catalog);
        for key in keys {
            let ord = catalog
                .find(key)
                .map(|n| catalog.node(n))
                .filter(|n| n.is_leaf())
                .map(|n| n.leaves.start)
                .filter(|&o| mask.contains(o))
                .ok_or_else(|| {
                    Error::invalid(
                        "import",
                        format!(
                            "{path}: {} is not a permission resource type \"{}\" scopes",
                            crate::text::excerpt(key),
                            rtype.key
                        ),
                    )
                })?;
            set.set(ord, true);
        }
        desired.insert(spec.clone(), (res.id, set));
    }
    Ok(desired)
}

/// Makes `desired` the whole set of exceptions of `role` (id and name): new or
/// different ones written, others removed, each with a `role.exception` row. Returns
/// how many changed.
fn import_exceptions(
    tx: &Tx<'_>,
    catalog: &Catalog,
    (id, name): (i64, &str),
    desired: &BTreeMap<String, (i64, Grants)>,
) -> Result<usize> {
    let current: BTreeMap<String, Vec<String>> = role_exceptions(tx.tx, id)?.into_iter().collect();
    let mut changed = 0;
    for (spec, (resource_id, set)) in desired {
        let keys: Vec<String> = set.keys(catalog).into_iter().map(str::to_string).collect();
        if current.get(spec) == Some(&keys) {
            continue;
        }
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        write_exception(tx, id, *resource_id, &refs)?;
        changed += 1;
        tx.audit(
            "role.exception",
            name,
            Some(json!({"resource": spec, "granted": current.get(spec)})),
            Some(json!({"resource": spec, "granted": keys, "reason": "import"})),
        )?;
    }
    for (spec, keys) in current.iter().filter(|(s, _)| !desired.contains_key(*s)) {
        let res = find_resource(tx.tx, spec)?;
        tx.tx.execute(
            "DELETE FROM role_exceptions WHERE role_id = ?1 AND resource_id = ?2",
            params![id, res.id],
        )?;
        changed += 1;
        tx.audit(
            "role.exception",
            name,
            Some(json!({"resource": spec, "granted": keys})),
            Some(json!({"resource": spec, "granted": null, "reason": "import"})),
        )?;
    }
    Ok(changed)
}

/// Gives a new role `to` the exceptions of `from` (a clone is the role with its
/// exceptions, as Magnews copies "the basic characteristics" of the role it starts
/// from), with one `role.exception` audit row each.
pub(super) fn copy_exceptions(tx: &Tx<'_>, from: i64, to: i64, name: &str) -> Result<()> {
    for (spec, keys) in role_exceptions(tx.tx, from)? {
        let resource = find_resource(tx.tx, &spec)?;
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        write_exception(tx, to, resource.id, &refs)?;
        tx.audit(
            "role.exception",
            name,
            Some(json!({"resource": spec, "granted": null})),
            Some(json!({"resource": spec, "granted": keys, "reason": "copied with the role"})),
        )?;
    }
    Ok(())
}
