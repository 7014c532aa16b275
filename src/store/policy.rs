//! Export, import and catalog load against the file: a consistent snapshot for
//! export and for planning, and each import or catalog load applied in one
//! transaction with its audit rows. What changes is decided by `domain::policy`,
//! inside the same transaction that applies it; this module only reads and writes.

use std::collections::{HashMap, HashSet};

use super::db::{Db, params};
use serde_json::{Map, Value, json};

use super::packages::all_packages;
use super::resources::{ModelImport, ModelPlan, apply_model, import_model};
use super::roles::load_role;
use super::users::all_users;
use super::{Store, Tx, fold, load_catalog, name_key};
use crate::domain::authz::Need;
use crate::domain::catalog::Catalog;
use crate::domain::policy::{self, CatalogPlan, Document, ImportPlan, Outcome, Snapshot};
use crate::domain::resource::CatalogFile;
use crate::domain::role::Role;
use crate::error::{Error, Result};

/// How often an import reports progress, in users.
const PROGRESS_EVERY: usize = 1000;

fn read_roles(conn: &Db, catalog: &Catalog) -> Result<Vec<Role>> {
    let ids: Vec<i64> = conn
        .prepare_cached("SELECT id FROM roles ORDER BY id")?
        .query_map(params![], |r| r.get(0))?
        .collect::<super::db::SqlResult<_>>()?;
    ids.into_iter()
        .map(|id| load_role(conn, catalog, id))
        .collect()
}

fn read_snapshot(conn: &Db) -> Result<Snapshot> {
    let catalog = load_catalog(conn)?;
    let roles = read_roles(conn, &catalog)?;
    let users = all_users(conn)?;
    let packages = all_packages(conn)?;
    let default_role = conn.query_row(
        "SELECT r.name FROM settings s JOIN roles r ON r.id = s.default_role_id WHERE s.id = 1",
        params![],
        |r| r.get(0),
    )?;
    let model = super::resources::read_model(conn)?;
    Ok(Snapshot {
        catalog,
        roles,
        users,
        packages,
        model,
        default_role,
    })
}

/// `[operator]` as the audit log records it.
fn operator_json(keys: &crate::domain::authz::OperatorKeys) -> Value {
    serde_json::json!({"users": keys.users, "roles": keys.roles, "audit": keys.audit})
}

/// `[{key, label, description}]` of `keys` in `catalog`, for the audit log.
fn nodes_json(catalog: &Catalog, keys: &[String]) -> Value {
    Value::Array(
        keys.iter()
            .filter_map(|k| catalog.find(k).map(|i| catalog.node(i)))
            .map(|n| json!({"key": n.key, "label": n.label, "description": n.description}))
            .collect(),
    )
}

/// Writes a catalog plan: removed nodes deleted (their grants go with them), nodes
/// upserted in order, then grants of leaves that became categories deleted, and the
/// built-in role given every new leaf. Each role whose grants move gets a version
/// bump and a `role.update` row; the catalog gets one `action` row.
fn apply_catalog(
    ctx: &Tx<'_>,
    old: &Catalog,
    roles: &[Role],
    plan: &CatalogPlan,
    action: &str,
) -> Result<()> {
    if !plan.changes_anything() {
        return Ok(());
    }
    let tx = ctx.tx;
    for key in &plan.removed {
        tx.prepare_cached("DELETE FROM permissions WHERE key = ?1")?
            .execute([key])?;
    }
    {
        let upsert = tx.prepare_cached(
            "INSERT INTO permissions (key, parent, label, description, position) VALUES (?1, ?2, ?3, ?4, ?5) \
             ON CONFLICT (key) DO UPDATE SET label = excluded.label, description = excluded.description, \
             position = excluded.position",
        )?;
        for (pos, e) in plan.entries.iter().enumerate() {
            let parent = e.key.rsplit_once('.').map(|(p, _)| p);
            upsert.execute(params![e.key, parent, e.label, e.description, pos as i64])?;
        }
    }
    // Once they have their children: the built-in role's grant of a leaf cannot be
    // deleted while it is one.
    for dropped in &plan.dropped {
        tx.prepare_cached("DELETE FROM role_grants WHERE permission_key = ?1")?
            .execute([&dropped.key])?;
    }
    let new = &plan.catalog;
    for role in roles {
        let before = role.grants.keys(old);
        let after_grants = plan.carry(old, role);
        let after = after_grants.keys(new);
        let added: Vec<&str> = after
            .iter()
            .filter(|k| before.binary_search(k).is_err())
            .copied()
            .collect();
        let removed: Vec<&str> = before
            .iter()
            .filter(|k| after.binary_search(k).is_err())
            .copied()
            .collect();
        if added.is_empty() && removed.is_empty() {
            continue;
        }
        let insert = tx.prepare_cached(
            "INSERT INTO role_grants (role_id, permission_key) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
        )?;
        for key in &added {
            insert.execute(params![role.id, key])?;
        }
        tx.execute(
            "UPDATE roles SET version = ?1, updated_at = ?2, updated_by = ?3 WHERE id = ?4",
            params![ctx.seq, ctx.at, ctx.actor, role.id],
        )?;
        ctx.audit(
            "role.update",
            &role.name,
            Some(json!({"granted_count": before.len()})),
            Some(json!({
                "granted_count": after.len(),
                "added": added,
                "removed": removed,
                "reason": "catalog changed",
            })),
        )?;
    }
    ctx.audit(
        action,
        "catalog",
        Some(json!({
            "permissions": old.leaf_count(),
            "relabelled": nodes_json(old, &plan.relabelled),
        })),
        Some(json!({
            "permissions": new.leaf_count(),
            "added": plan.added,
            "relabelled": nodes_json(new, &plan.relabelled),
            "removed": plan.removed,
            "reordered": plan.reordered,
        })),
    )
}

/// Writes an import plan, in an order that keeps every constraint true at each
/// statement: catalog, roles, default role, packages, then users and their
/// memberships (emails that move between users are parked on a placeholder first).
fn apply_import(
    ctx: &Tx<'_>,
    snapshot: &Snapshot,
    plan: &ImportPlan,
    source: &str,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<()> {
    apply_catalog(
        ctx,
        &snapshot.catalog,
        &snapshot.roles,
        &plan.catalog,
        "import.catalog",
    )?;
    let ctx = Tx {
        tx: ctx.tx,
        catalog: &plan.catalog.catalog,
        actor: ctx.actor,
        at: ctx.at.clone(),
        seq: ctx.seq,
        operator: ctx.operator.clone(),
    };
    let role_ids = apply_roles(&ctx, snapshot, plan)?;
    let role_id = |name: &str| role_id_of(&role_ids, name);
    if plan.default_role_changes() {
        ctx.tx.execute(
            "UPDATE settings SET default_role_id = ?1 WHERE id = 1",
            [role_id(&plan.default_role)?],
        )?;
        ctx.audit(
            "import.default_role",
            "default role",
            Some(json!({"default_role": plan.default_role_before})),
            Some(json!({"default_role": plan.default_role})),
        )?;
    }
    let package_ids = apply_packages(&ctx, snapshot, plan, &role_id)?;
    let package_id = |name: &str| -> Result<i64> {
        package_ids.get(&name_key(name)).copied().ok_or_else(|| {
            Error::Storage(format!(
                "the package \"{}\" disappeared during the import; nothing was changed",
                crate::text::excerpt(name)
            ))
        })
    };
    apply_users(&ctx, plan, &role_ids, &package_id, progress)?;
    if plan.changes_anything() {
        audit_import(&ctx, plan, source)?;
    }
    Ok(())
}

/// The id of the role called `name` after the import, from `role_ids` (ids by folded
/// name). A miss means the role went away under the import, which then changes
/// nothing.
fn role_id_of(role_ids: &HashMap<String, i64>, name: &str) -> Result<i64> {
    role_ids.get(&name_key(name)).copied().ok_or_else(|| {
        Error::Storage(format!(
            "the role \"{}\" disappeared during the import; nothing was changed",
            crate::text::excerpt(name)
        ))
    })
}

/// The `before` and `after` of an update's audit row: each changed field's values.
fn changes_json(changes: &[policy::FieldChange]) -> (Map<String, Value>, Map<String, Value>) {
    let mut before = Map::new();
    let mut after = Map::new();
    for c in changes {
        before.insert(c.field.into(), c.before.clone());
        after.insert(c.field.into(), c.after.clone());
    }
    (before, after)
}

/// Writes the roles of an import plan, each with its audit row. Returns every role's
/// id by folded name, new ones included.
fn apply_roles(
    ctx: &Tx<'_>,
    snapshot: &Snapshot,
    plan: &ImportPlan,
) -> Result<HashMap<String, i64>> {
    let mut role_ids: HashMap<String, i64> = snapshot
        .roles
        .iter()
        .map(|r| (name_key(&r.name), r.id))
        .collect();
    for step in &plan.roles {
        match (step.outcome, step.id) {
            (Outcome::Unchanged, _) => {}
            (Outcome::Added, _) | (Outcome::Changed, None) => {
                let id = add_role(ctx, step)?;
                role_ids.insert(name_key(&step.name), id);
            }
            (Outcome::Changed, Some(id)) => update_role(ctx, id, step)?,
        }
    }
    Ok(role_ids)
}

/// Creates the role of `step` with its grants and an `import.role.add` row; returns
/// its id.
fn add_role(ctx: &Tx<'_>, step: &policy::RoleStep) -> Result<i64> {
    let (tx, catalog) = (ctx.tx, ctx.catalog);
    tx.prepare_cached(
        "INSERT INTO roles (name, name_fold, description, builtin, created_at, updated_at, updated_by, \
            version, created_seq) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7, ?7)",
    )?
    .execute(params![
        step.name,
        name_key(&step.name),
        step.description,
        step.builtin,
        ctx.at,
        ctx.actor,
        ctx.seq
    ])?;
    let id = tx.last_insert_rowid()?;
    let insert =
        tx.prepare_cached("INSERT INTO role_grants (role_id, permission_key) VALUES (?1, ?2)")?;
    for ord in step.grants.ordinals() {
        insert.execute(params![id, catalog.leaf_node(ord).key])?;
    }
    let granted: Vec<String> = step
        .grants
        .keys(catalog)
        .into_iter()
        .map(str::to_string)
        .collect();
    ctx.audit(
        "import.role.add",
        &step.name,
        None,
        Some(json!({
            "name": step.name,
            "description": step.description,
            "builtin": step.builtin,
            "granted": granted,
        })),
    )?;
    Ok(id)
}

/// Renames, describes and regrants role `id` as `step` says, with an
/// `import.role.update` row of the changed fields and the grant counts.
fn update_role(ctx: &Tx<'_>, id: i64, step: &policy::RoleStep) -> Result<()> {
    let tx = ctx.tx;
    tx.prepare_cached(
        "UPDATE roles SET name = ?1, name_fold = ?2, description = ?3, version = ?7, \
         updated_at = ?4, updated_by = ?5 WHERE id = ?6",
    )?
    .execute(params![
        step.name,
        name_key(&step.name),
        step.description,
        ctx.at,
        ctx.actor,
        id,
        ctx.seq
    ])?;
    let insert = tx.prepare_cached(
        "INSERT INTO role_grants (role_id, permission_key) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
    )?;
    for key in &step.added {
        insert.execute(params![id, key])?;
    }
    let delete =
        tx.prepare_cached("DELETE FROM role_grants WHERE role_id = ?1 AND permission_key = ?2")?;
    for key in &step.removed {
        delete.execute(params![id, key])?;
    }
    let (mut before, mut after) = changes_json(&step.changes);
    if !step.added.is_empty() || !step.removed.is_empty() {
        let count = step.grants.count();
        before.insert(
            "granted_count".into(),
            json!(count + step.removed.len() - step.added.len()),
        );
        after.insert("granted_count".into(), json!(count));
        after.insert("added".into(), json!(step.added));
        after.insert("removed".into(), json!(step.removed));
    }
    ctx.audit(
        "import.role.update",
        &step.name,
        Some(before.into()),
        Some(after.into()),
    )
}

/// Writes the users of an import plan and their memberships, reporting progress every
/// [`PROGRESS_EVERY`] users and at the end. Emails that move between users are parked
/// on a placeholder first, so no statement sees one email twice. Packages whose
/// members change get a new version (as a membership change made in the console
/// does), without an audit row of their own: the users' rows say it.
fn apply_users(
    ctx: &Tx<'_>,
    plan: &ImportPlan,
    role_ids: &HashMap<String, i64>,
    package_id: &dyn Fn(&str) -> Result<i64>,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<()> {
    let tx = ctx.tx;
    // A user's role "" is no direct role (NULL).
    let user_role_id = |name: &str| -> Result<Option<i64>> {
        if name.is_empty() {
            return Ok(None);
        }
        role_id_of(role_ids, name).map(Some)
    };
    let mut members_changed: HashSet<i64> = HashSet::new();
    let total = plan.users.len();
    let mut done = 0;
    let mut tick = |done: usize| {
        if done % PROGRESS_EVERY == 0 || done == total {
            progress(done, total);
        }
    };
    for step in &plan.users {
        if let (Outcome::Changed, Some(id)) = (step.outcome, step.id)
            && step.changes.iter().any(|c| c.field == "email")
        {
            tx.prepare_cached("UPDATE users SET email_fold = '~import~' || id WHERE id = ?1")?
                .execute([id])?;
        }
    }
    // Users already there first (their emails are free to move now), then the new
    // ones together: 100,000 of them are not 100,000 round trips to a server.
    let mut added = Vec::new();
    for step in &plan.users {
        match (step.outcome, step.id) {
            (Outcome::Unchanged, _) => {}
            (Outcome::Changed, Some(id)) => {
                update_user(ctx, id, step, user_role_id(&step.role)?)?;
                apply_membership(tx, id, step, package_id, &mut members_changed)?;
            }
            (Outcome::Added, _) | (Outcome::Changed, None) => {
                added.push((step, user_role_id(&step.role)?));
                continue;
            }
        }
        done += 1;
        tick(done);
    }
    // A file is written in process: there each user goes in with their packages
    // and audit row together, which keeps SQLite's pages warm (batches of 5,000
    // took a third longer there).
    let at_once = if tx.is_pg() { ADD_USERS_AT_ONCE } else { 1 };
    for chunk in added.chunks(at_once) {
        let ids = add_users(ctx, chunk)?;
        let (mut packages, mut members) = (Vec::new(), Vec::new());
        for ((step, _), id) in chunk.iter().zip(&ids) {
            for name in &step.packages_added {
                let package = package_id(name)?;
                packages.push(package);
                members.push(*id);
                members_changed.insert(package);
            }
        }
        super::packages::insert_members(tx, &packages, &members)?;
        let audit = chunk
            .iter()
            .map(|(step, _)| {
                let mut after = policy::user_audit(step);
                after["has_password"] = json!(false);
                (step.username.as_str(), None, Some(after))
            })
            .collect();
        ctx.audit_many("import.user.add", audit)?;
        for _ in chunk {
            done += 1;
            tick(done);
        }
    }
    let bump = tx.prepare_cached(
        "UPDATE packages SET version = ?1, updated_at = ?2, updated_by = ?3 WHERE id = ?4",
    )?;
    for id in members_changed {
        bump.execute(params![ctx.seq, ctx.at, ctx.actor, id])?;
    }
    Ok(())
}

/// Writes user `id` as `step` says, with its role `role_id` (`None`: no direct role),
/// and an `import.user.update` row of the changed fields.
fn update_user(ctx: &Tx<'_>, id: i64, step: &policy::UserStep, role_id: Option<i64>) -> Result<()> {
    let p = &step.profile;
    ctx.tx
        .prepare_cached(
            "UPDATE users SET email = ?1, email_fold = ?2, first_name = ?3, last_name = ?4, position = ?5, \
                signature = ?6, timezone = ?7, language = ?8, role_id = ?9, active = ?10, \
                version = ?14, updated_at = ?11, updated_by = ?12 WHERE id = ?13",
        )?
        .execute(params![
            p.email,
            fold(&p.email),
            p.first_name,
            p.last_name,
            p.position,
            p.signature,
            p.timezone,
            p.language,
            role_id,
            step.active,
            ctx.at,
            ctx.actor,
            id,
            ctx.seq
        ])?;
    let (before, after) = changes_json(&step.changes);
    ctx.audit(
        "import.user.update",
        &step.username,
        Some(before.into()),
        Some(after.into()),
    )
}

/// New users written together on a server.
const ADD_USERS_AT_ONCE: usize = 5_000;

/// Creates the users of `steps`, without passwords, each with its role (`None`: no
/// direct role); returns their new ids in the same order. On a server, in one
/// `unnest` statement; on a file, one prepared insert each.
fn add_users(ctx: &Tx<'_>, steps: &[(&policy::UserStep, Option<i64>)]) -> Result<Vec<i64>> {
    const COLUMNS: &str = "INSERT INTO users (username, email, email_fold, first_name, last_name, \
        position, signature, timezone, language, role_id, active, owner, password_hash, created_at, \
        updated_at, updated_by, version, created_seq)";
    if !ctx.tx.is_pg() {
        let insert = ctx.tx.prepare_cached(&format!(
            "{COLUMNS} VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, NULL, ?13, ?13, ?14, ?15, ?15)"
        ))?;
        let mut ids = Vec::with_capacity(steps.len());
        for (step, role_id) in steps {
            let p = &step.profile;
            insert.execute(params![
                step.username,
                p.email,
                fold(&p.email),
                p.first_name,
                p.last_name,
                p.position,
                p.signature,
                p.timezone,
                p.language,
                role_id,
                step.active,
                step.owner,
                ctx.at,
                ctx.actor,
                ctx.seq
            ])?;
            ids.push(ctx.tx.last_insert_rowid()?);
        }
        return Ok(ids);
    }
    let rows: Vec<super::users::NewRow<'_>> = steps
        .iter()
        .map(|(step, role_id)| super::users::NewRow {
            username: &step.username,
            profile: &step.profile,
            role_id: *role_id,
            active: step.active,
            owner: step.owner,
        })
        .collect();
    super::users::insert_users_unnest(ctx, &rows)
}

/// The `import` row that sums up a plan that changed anything: how many permissions,
/// roles, packages and users it added or changed, and the default role.
fn audit_import(ctx: &Tx<'_>, plan: &ImportPlan, source: &str) -> Result<()> {
    let (roles_added, roles_changed, _) = plan.role_counts();
    let (packages_added, packages_changed, _) = plan.package_counts();
    let (users_added, users_changed, _) = plan.user_counts();
    ctx.audit(
        "import",
        source,
        None,
        Some(json!({
            "permissions_added": plan.catalog.added.len(),
            "permissions_relabelled": plan.catalog.relabelled.len(),
            "roles_added": roles_added,
            "roles_changed": roles_changed,
            "packages_added": packages_added,
            "packages_changed": packages_changed,
            "users_added": users_added,
            "users_changed": users_changed,
            "default_role": plan.default_role,
        })),
    )
}

/// Writes the packages of an import plan: new ones created with their roles, changed
/// ones renamed, described and given their roles, each with its audit row in the
/// shapes `packages` writes. Returns every package's id by folded name.
fn apply_packages(
    ctx: &Tx<'_>,
    snapshot: &Snapshot,
    plan: &ImportPlan,
    role_id: &dyn Fn(&str) -> Result<i64>,
) -> Result<HashMap<String, i64>> {
    let tx = ctx.tx;
    let mut ids: HashMap<String, i64> = snapshot
        .packages
        .iter()
        .map(|p| (name_key(&p.name), p.id))
        .collect();
    for step in &plan.packages {
        match (step.outcome, step.id) {
            (Outcome::Unchanged, _) => {}
            (Outcome::Added, _) | (Outcome::Changed, None) => {
                tx.prepare_cached(
                    "INSERT INTO packages (name, name_fold, description, version, created_seq, created_at, \
                        updated_at, updated_by) VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?5, ?6)",
                )?
                .execute(params![
                    step.name,
                    name_key(&step.name),
                    step.description,
                    ctx.seq,
                    ctx.at,
                    ctx.actor
                ])?;
                let id = tx.last_insert_rowid()?;
                let insert = tx.prepare_cached(
                    "INSERT INTO package_roles (package_id, role_id) VALUES (?1, ?2)",
                )?;
                for role in &step.roles {
                    insert.execute(params![id, role_id(role)?])?;
                }
                ids.insert(name_key(&step.name), id);
                ctx.audit(
                    "import.package.add",
                    &step.name,
                    None,
                    Some(json!({
                        "name": step.name,
                        "description": step.description,
                        "roles": step.roles,
                    })),
                )?;
            }
            (Outcome::Changed, Some(id)) => {
                tx.prepare_cached(
                    "UPDATE packages SET name = ?1, name_fold = ?2, description = ?3, version = ?4, \
                        updated_at = ?5, updated_by = ?6 WHERE id = ?7",
                )?
                .execute(params![
                    step.name,
                    name_key(&step.name),
                    step.description,
                    ctx.seq,
                    ctx.at,
                    ctx.actor,
                    id
                ])?;
                let insert = tx.prepare_cached(
                    "INSERT INTO package_roles (package_id, role_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                )?;
                for role in &step.roles_added {
                    insert.execute(params![id, role_id(role)?])?;
                }
                let delete = tx.prepare_cached(
                    "DELETE FROM package_roles WHERE package_id = ?1 AND role_id = ?2",
                )?;
                for role in &step.roles_removed {
                    delete.execute(params![id, role_id(role)?])?;
                }
                let mut before = Map::new();
                let mut after = Map::new();
                for c in &step.changes {
                    before.insert(c.field.into(), c.before.clone());
                    after.insert(c.field.into(), c.after.clone());
                }
                if !step.roles_added.is_empty() || !step.roles_removed.is_empty() {
                    let old = snapshot.packages.iter().find(|p| p.id == id);
                    let old: Vec<&str> = old.map(|p| p.role_names()).unwrap_or_default();
                    before.insert("roles".into(), json!(old));
                    after.insert("roles_added".into(), json!(step.roles_added));
                    after.insert("roles_removed".into(), json!(step.roles_removed));
                }
                ctx.audit(
                    "import.package.update",
                    &step.name,
                    Some(before.into()),
                    Some(after.into()),
                )?;
            }
        }
    }
    Ok(ids)
}

/// Puts user `user_id` into the packages `step` adds and takes them out of those it
/// removes; the user's own audit row has said so already.
fn apply_membership(
    tx: &Db,
    user_id: i64,
    step: &policy::UserStep,
    package_id: &dyn Fn(&str) -> Result<i64>,
    changed: &mut HashSet<i64>,
) -> Result<()> {
    if !step.packages_added.is_empty() {
        let insert = tx.prepare_cached(
            "INSERT INTO package_members (package_id, user_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
        )?;
        for name in &step.packages_added {
            let id = package_id(name)?;
            insert.execute(params![id, user_id])?;
            changed.insert(id);
        }
    }
    if !step.packages_removed.is_empty() {
        let delete = tx
            .prepare_cached("DELETE FROM package_members WHERE package_id = ?1 AND user_id = ?2")?;
        for name in &step.packages_removed {
            let id = package_id(name)?;
            delete.execute(params![id, user_id])?;
            changed.insert(id);
        }
    }
    Ok(())
}

impl Store {
    /// Everything export needs, read in one transaction so that a concurrent change
    /// can never leave half its rows in an export.
    pub fn snapshot(&self) -> Result<Snapshot> {
        let tx = self.conn.begin_snapshot()?;
        let snapshot = read_snapshot(&tx)?;
        tx.commit()?;
        Ok(snapshot)
    }

    /// The database as a `rolecall/2` document.
    pub fn export_document(&self) -> Result<Document> {
        Ok(policy::export(&self.snapshot()?))
    }

    /// What importing `doc` would do, without changing anything (`import --dry-run`).
    pub fn plan_import(&self, doc: &Document) -> Result<ImportPlan> {
        policy::plan_import(&self.snapshot()?, doc)
    }

    /// What the resource parts of `doc` (`rolecall/3`) would change, worked out by
    /// running the whole import in a transaction that is rolled back.
    pub fn plan_import_model(&mut self, doc: &Document) -> Result<ModelImport> {
        self.dry_run(|ctx| {
            let snapshot = read_snapshot(ctx.tx)?;
            let plan = policy::plan_import(&snapshot, doc)?;
            apply_import(ctx, &snapshot, &plan, "dry run", &mut |_, _| {})?;
            import_model(ctx, &plan.catalog.catalog, doc)
        })
    }

    /// Imports `doc` in one transaction: the plan is worked out from the database as
    /// it is inside that transaction, so a refusal anywhere writes nothing.
    /// `progress(done, total)` hears about the users as they are written; `source`
    /// names the file in the audit log.
    pub fn import(
        &mut self,
        doc: &Document,
        source: &str,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<ImportPlan> {
        let (plan, model) = self.write(Need::All, |ctx| {
            let snapshot = read_snapshot(ctx.tx)?;
            let plan = policy::plan_import(&snapshot, doc)?;
            apply_import(ctx, &snapshot, &plan, source, progress)?;
            let model = import_model(ctx, &plan.catalog.catalog, doc)?;
            Ok((plan, model))
        })?;
        self.catalog = plan.catalog.catalog.clone();
        self.last_model_import = model;
        Ok(plan)
    }

    /// What the resource parts of the last import changed.
    pub fn last_model_import(&self) -> ModelImport {
        self.last_model_import
    }

    /// What loading `file` as the catalog would do (`catalog load --dry-run`).
    pub fn plan_catalog_load(&self, file: &Catalog) -> Result<CatalogPlan> {
        let tx = self.conn.begin_snapshot()?;
        let current = load_catalog(&tx)?;
        let roles = read_roles(&tx, &current)?;
        tx.commit()?;
        policy::plan_catalog(&current, &roles, file, false)
    }

    /// Loads a whole catalog file (SPEC §2, §11): permissions, resource types and
    /// fixed roles, in one transaction. A file that drops leaves, or a resource type
    /// that has resources, is refused unless `prune`. With `dry_run`, the same steps
    /// run in a transaction that is rolled back, and no guard refuses: the plan says
    /// what would happen.
    pub fn catalog_load_file(
        &mut self,
        file: &CatalogFile,
        prune: bool,
        dry_run: bool,
    ) -> Result<(CatalogPlan, ModelPlan)> {
        let apply = |ctx: &Tx<'_>| -> Result<(CatalogPlan, ModelPlan)> {
            let current = load_catalog(ctx.tx)?;
            let roles = read_roles(ctx.tx, &current)?;
            let plan = policy::plan_catalog(&current, &roles, &file.catalog, false)?;
            if !dry_run {
                policy::ensure_prune_allowed(&plan, prune)?;
            }
            apply_catalog(ctx, &current, &roles, &plan, "catalog.load")?;
            let model = apply_model(
                ctx,
                &plan.catalog,
                &file.resource_types,
                &file.roles,
                prune || dry_run,
            )?;
            if super::write_operator_keys(ctx.tx, &file.operator)? {
                ctx.audit(
                    "catalog.operator",
                    "catalog",
                    Some(operator_json(current.operator())),
                    Some(operator_json(&file.operator)),
                )?;
            }
            if !dry_run && !prune {
                if let Some((key, n)) = model.types_removed.iter().find(|(_, n)| *n > 0) {
                    return Err(Error::Refused(format!(
                        "the file drops resource type \"{key}\", which has {n} resource{}; run with --prune to remove {} with their exceptions, or keep the type in the file; nothing was changed",
                        if *n == 1 { "" } else { "s" },
                        if *n == 1 { "it" } else { "them" }
                    )));
                }
            }
            Ok((plan, model))
        };
        if dry_run {
            return self.dry_run(apply);
        }
        let (plan, model) = self.write(Need::All, apply)?;
        self.refresh_catalog()?;
        Ok((plan, model))
    }

    /// Replaces the catalog with `file` in one transaction (SPEC §2). A file that
    /// drops leaves is refused unless `prune`.
    pub fn catalog_load(&mut self, file: &Catalog, prune: bool) -> Result<CatalogPlan> {
        let plan = self.write(Need::All, |ctx| {
            let current = load_catalog(ctx.tx)?;
            let roles = read_roles(ctx.tx, &current)?;
            let plan = policy::plan_catalog(&current, &roles, file, false)?;
            policy::ensure_prune_allowed(&plan, prune)?;
            apply_catalog(ctx, &current, &roles, &plan, "catalog.load")?;
            Ok(plan)
        })?;
        self.catalog = plan.catalog.clone();
        Ok(plan)
    }
}
