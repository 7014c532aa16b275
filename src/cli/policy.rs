//! `export`, `import`, `catalog load`, `completions` and `man`: read or write the
//! file, make one store call, print what happened (or, with `--dry-run`, what would).
//! Plans are printed for people (every stored string through `display_safe`) or as
//! JSON with `--json`.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::{ExportFormat, out, out_json, say};
use crate::domain::casbin;
use crate::domain::catalog::Catalog;
use crate::domain::policy::{self, CatalogPlan, ImportPlan, Outcome};
use crate::domain::resource::CatalogFile;
use crate::error::{Error, Result};
use crate::store::{ModelImport, Store};
use crate::text::{display_safe, excerpt, json_terminal_safe};

/// Imports with more users than this show a progress bar (when stderr is a terminal).
const PROGRESS_BAR_FROM: usize = 2000;

/// A path as an error message quotes it.
fn shown(path: &Path) -> String {
    excerpt(&path.display().to_string()).into_owned()
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Reads FILE (or standard input for `-`) as UTF-8 text.
pub(super) fn read_input(path: &Path) -> Result<String> {
    let unreadable =
        |e: io::Error| Error::invalid("file", format!("cannot read {}: {e}", shown(path)));
    if path == Path::new("-") {
        let mut text = String::new();
        super::streams::read_to_string(&mut text).map_err(unreadable)?;
        return Ok(text);
    }
    fs::read_to_string(path).map_err(unreadable)
}

fn write_error(path: &Path, err: io::Error) -> Error {
    use io::ErrorKind::*;
    let message = format!("cannot write {}: {err}", shown(path));
    match err.kind() {
        NotFound | PermissionDenied | IsADirectory | NotADirectory | AlreadyExists
        | InvalidInput => Error::invalid("output", message),
        _ => Error::Storage(message),
    }
}

/// What `-o` names, and so how it is written.
enum Target {
    /// Nothing there yet.
    New,
    /// A regular file with no other name: replaced whole.
    Replace,
    /// A regular file with other hard links: rewritten in place, so every name of it
    /// sees the export (a rename would leave the other names on the old content).
    InPlace(fs::Metadata),
}

/// Sorts out what `path` is. Only a regular file or a new path is written: a rename
/// onto a symbolic link, a device or a FIFO would replace that node with a plain
/// file (and `-o /dev/null` as root would destroy the device).
fn output_target(path: &Path) -> Result<Target> {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Target::New),
        Err(e) => return Err(write_error(path, e)),
    };
    let kind = meta.file_type();
    let refuse = |what: &str| {
        Err(Error::invalid(
            "output",
            format!(
                "{} is {what}; export writes only to a regular file or a new path, and never replaces anything else",
                shown(path)
            ),
        ))
    };
    if kind.is_symlink() {
        refuse("a symbolic link (name the file it points to)")
    } else if kind.is_dir() {
        refuse("a folder")
    } else if !kind.is_file() {
        refuse("not a regular file (a device, FIFO or socket)")
    } else if meta.nlink() > 1 {
        Ok(Target::InPlace(meta))
    } else {
        Ok(Target::Replace)
    }
}

/// Writes `bytes` to `path`, which must be a regular file or a new path (see
/// [`output_target`]). A new or single-linked file is written through a temporary
/// file in the same folder, so a reader never sees half a file; exports hold
/// emails, so that file is private (0600). A file with several hard links keeps its
/// inode, its mode and its other names, and is rewritten in place.
fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| Error::invalid("output", format!("{} names no file", shown(path))))?;
    let target = output_target(path)?;
    if let Target::InPlace(meta) = &target {
        return write_in_place(path, meta, bytes);
    }
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let temp = dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| -> io::Result<()> {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        match target {
            // A hard link never replaces what may have appeared at `path` meanwhile.
            Target::New => match fs::hard_link(&temp, path) {
                Ok(()) => fs::remove_file(&temp),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(e),
                // A file system without hard links.
                Err(_) => fs::rename(&temp, path),
            },
            _ => fs::rename(&temp, path),
        }
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result.map_err(|e| write_error(path, e))
}

/// Rewrites the regular file `path` in place, after checking that what was opened is
/// still the file `meta` describes (not something swapped in since).
fn write_in_place(path: &Path, meta: &fs::Metadata, bytes: &[u8]) -> Result<()> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| write_error(path, e))?;
    let opened = file.metadata().map_err(|e| write_error(path, e))?;
    if !opened.is_file() || opened.dev() != meta.dev() || opened.ino() != meta.ino() {
        return Err(Error::invalid(
            "output",
            format!(
                "{} changed while it was being opened; nothing was written",
                shown(path)
            ),
        ));
    }
    file.set_len(0)
        .and_then(|()| file.write_all(bytes))
        .and_then(|()| file.sync_all())
        .map_err(|e| write_error(path, e))
}

/// `rolecall export`.
pub(super) fn export(store: &Store, format: ExportFormat, output: Option<PathBuf>) -> Result<i32> {
    match format {
        ExportFormat::Json => {
            let doc = store.export_document()?;
            let Some(path) = output else {
                return out_json(&doc);
            };
            let text =
                serde_json::to_string_pretty(&doc).map_err(|e| Error::Storage(e.to_string()))?;
            write_file(&path, (json_terminal_safe(text) + "\n").as_bytes())?;
            say(format!(
                "wrote the catalog ({}), {}, {} and {} to {}",
                plural(store.catalog().leaf_count(), "permission", "permissions"),
                plural(doc.roles.len(), "role", "roles"),
                plural(doc.packages.len(), "package", "packages"),
                plural(doc.users.len(), "user", "users"),
                path.display()
            ))
        }
        ExportFormat::Csv => {
            let snapshot = store.snapshot()?;
            let text = policy::users_csv(&snapshot);
            match output {
                None => out(&text),
                Some(path) => {
                    write_file(&path, text.as_bytes())?;
                    say(format!(
                        "wrote {} to {}",
                        plural(snapshot.users.len(), "user", "users"),
                        path.display()
                    ))
                }
            }
        }
        ExportFormat::Casbin => {
            let dir = output.ok_or_else(|| {
                Error::invalid(
                    "output",
                    "--format casbin writes model.conf and policy.csv into a folder; name it with -o FOLDER",
                )
            })?;
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&dir)
                .map_err(|e| write_error(&dir, e))?;
            let snapshot = store.snapshot()?;
            let text = casbin::policy(&snapshot);
            write_file(&dir.join("model.conf"), casbin::model(&snapshot).as_bytes())?;
            write_file(&dir.join("policy.csv"), text.as_bytes())?;
            let grants = text.lines().filter(|l| l.starts_with("p,")).count();
            let users = snapshot.users.iter().filter(|u| u.active).count();
            say(format!(
                "wrote model.conf and policy.csv to {}: {}, {} and {}",
                dir.display(),
                plural(grants, "grant", "grants"),
                plural(users, "active user", "active users"),
                plural(snapshot.packages.len(), "package", "packages"),
            ))
        }
    }
}

/// `rolecall import`.
pub(super) fn import(store: &mut Store, file: &Path, dry_run: bool, json: bool) -> Result<i32> {
    let text = read_input(file)?;
    let doc = policy::parse_document(&text)?;
    let old_catalog = store.catalog().clone();
    store.use_large_cache()?;
    let (plan, model) = if dry_run {
        let model = if doc.format == policy::FORMAT_V3 {
            store.plan_import_model(&doc)?
        } else {
            Default::default()
        };
        (store.plan_import(&doc)?, model)
    } else {
        import_showing_progress(store, &doc, file)?
    };
    if json {
        let mut v = import_json(&plan, dry_run);
        v["resources"] = json!({
            "resource_types_changed": model.types,
            "resources_changed": model.resources,
            "exceptions_changed": model.exceptions,
            "fixed_marks_changed": model.fixed,
        });
        return out_json(&v);
    }
    let mut lines = Vec::new();
    if dry_run {
        lines.extend(import_details(&plan, &old_catalog));
        lines.extend(model_line(&model));
        lines.push(if plan.changes_anything() || model.changes_anything() {
            "dry run: nothing was changed; run without --dry-run to apply the changes above".into()
        } else {
            "dry run: the database already matches the file; importing it changes nothing".into()
        });
    } else {
        lines.extend(import_summary(&plan, &model, file));
    }
    out(&join_safe(&lines))
}

/// Applies an import, with a progress bar on a terminal when the file has many
/// users; returns the plan it applied and what it changed in the resources.
fn import_showing_progress(
    store: &mut Store,
    doc: &policy::Document,
    file: &Path,
) -> Result<(ImportPlan, ModelImport)> {
    let bar =
        (doc.users.len() > PROGRESS_BAR_FROM && super::streams::err_is_terminal()).then(|| {
            let bar = indicatif::ProgressBar::new(doc.users.len() as u64);
            if let Ok(style) =
                indicatif::ProgressStyle::with_template("importing users [{bar:40}] {pos}/{len}")
            {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        });
    let mut progress = |done: usize, _total: usize| {
        if let Some(bar) = &bar {
            bar.set_position(done as u64);
        }
    };
    let source = file.display().to_string();
    let plan = store.import(doc, &source, &mut progress);
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    Ok((plan?, store.last_model_import()))
}

/// The line on an import's resource parts, when they changed anything.
fn model_line(model: &ModelImport) -> Option<String> {
    model.changes_anything().then(|| {
        format!(
            "resources: {} changed, {} changed, {} changed, {} changed",
            plural(model.types, "resource type", "resource types"),
            plural(model.resources, "resource", "resources"),
            plural(model.exceptions, "exception", "exceptions"),
            plural(model.fixed, "fixed mark", "fixed marks"),
        )
    })
}

/// What an applied import did: the counts of each kind, the resources line, the new
/// default role, what the file left alone, and the plan's notes.
fn import_summary(plan: &ImportPlan, model: &ModelImport, file: &Path) -> Vec<String> {
    let (ra, rc, ru) = plan.role_counts();
    let (pa, pc, pu) = plan.package_counts();
    let (ua, uc, uu) = plan.user_counts();
    let what = if plan.changes_anything() || model.changes_anything() {
        format!("imported {}", file.display())
    } else {
        format!(
            "nothing to change: the database already matches {}",
            file.display()
        )
    };
    let mut lines = vec![format!(
        "{what}: catalog {} added, {} relabelled; roles {ra} added, {rc} changed, {ru} unchanged; packages {pa} added, {pc} changed, {pu} unchanged; users {ua} added, {uc} changed, {uu} unchanged",
        plan.catalog.added.len(),
        plan.catalog.relabelled.len(),
    )];
    lines.extend(model_line(model));
    if plan.default_role_changes() {
        lines.push(format!("new users now get role \"{}\"", plan.default_role));
    }
    lines.extend(not_in_file(plan));
    lines.extend(plan.notes.iter().map(|n| format!("note: {n}")));
    lines
}

/// Each line made display-safe, joined with line breaks.
fn join_safe(lines: &[String]) -> String {
    let mut text = String::new();
    for line in lines {
        text.push_str(&display_safe(line));
        text.push('\n');
    }
    text
}

fn not_in_file(plan: &ImportPlan) -> Option<String> {
    let users = plan.users_not_in_file;
    let roles = &plan.roles_not_in_file;
    let packages = &plan.packages_not_in_file;
    if users == 0 && roles.is_empty() && packages.is_empty() {
        return None;
    }
    let named = |names: &[String], one: &str, many: &str| {
        let list = names
            .iter()
            .map(|r| format!("\"{r}\""))
            .collect::<Vec<_>>()
            .join(", ");
        format!("{} ({list})", plural(names.len(), one, many))
    };
    let mut parts = Vec::new();
    if users > 0 {
        parts.push(plural(users, "user", "users"));
    }
    if !roles.is_empty() {
        parts.push(named(roles, "role", "roles"));
    }
    if !packages.is_empty() {
        parts.push(named(packages, "package", "packages"));
    }
    Some(format!(
        "not in the file, left as they are: {}",
        parts.join(" and ")
    ))
}

/// A list of names as the plan shows it: `"A", "B"`.
fn quoted_list(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A value as the change lines show it: strings quoted, the rest as JSON.
fn value_text(v: &Value) -> String {
    v.to_string()
}

fn changes_text(changes: &[policy::FieldChange]) -> String {
    changes
        .iter()
        .map(|c| {
            format!(
                "{}: {} → {}",
                c.field,
                value_text(&c.before),
                value_text(&c.after)
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The lines of a catalog plan: one per added, relabelled or dropped node.
fn catalog_details(plan: &CatalogPlan, old: &Catalog) -> Vec<String> {
    let new = &plan.catalog;
    let label = |c: &Catalog, key: &str| {
        c.find(key)
            .map(|i| c.node(i).label.clone())
            .unwrap_or_default()
    };
    let mut lines = Vec::new();
    for key in &plan.added {
        lines.push(format!("  add       {key}  \"{}\"", label(new, key)));
    }
    for key in &plan.relabelled {
        let (o, n) = (
            old.find(key).map(|i| old.node(i)),
            new.find(key).map(|i| new.node(i)),
        );
        if let (Some(o), Some(n)) = (o, n) {
            let mut what = Vec::new();
            if o.label != n.label {
                what.push(format!("label \"{}\" → \"{}\"", o.label, n.label));
            }
            if o.description != n.description {
                what.push(format!(
                    "description \"{}\" → \"{}\"",
                    o.description, n.description
                ));
            }
            lines.push(format!("  relabel   {key}  {}", what.join("; ")));
        }
    }
    for d in &plan.dropped {
        let roles = if d.roles.is_empty() {
            "granted by no role besides Administrator".to_string()
        } else {
            let names: Vec<String> = d.roles.iter().map(|r| format!("\"{r}\"")).collect();
            format!(
                "granted by {} besides Administrator: {}",
                plural(d.roles.len(), "role", "roles"),
                names.join(", ")
            )
        };
        let why = if new.find(&d.key).is_some() {
            " (now a category)"
        } else {
            ""
        };
        lines.push(format!(
            "  prune     {key}{why}  \"{}\"  {roles}",
            d.label,
            key = d.key
        ));
    }
    for key in &plan.removed {
        if old.find(key).is_some_and(|i| !old.node(i).is_leaf()) {
            lines.push(format!("  remove    {key}  (category)"));
        }
    }
    if plan.reordered {
        lines.push("  reorder   the order of the permissions changes".into());
    }
    if !plan.gained.is_empty() {
        lines.push(format!(
            "  Administrator gains {}",
            plural(plan.gained.len(), "permission", "permissions")
        ));
    }
    lines
}

fn catalog_summary(plan: &CatalogPlan) -> String {
    let mut s = format!(
        "catalog: {} added, {} relabelled, {} pruned",
        plan.added.len(),
        plan.relabelled.len(),
        plan.dropped.len()
    );
    if !plan.kept.is_empty() {
        s.push_str(&format!(
            ", {} the file does not list kept as they are",
            plural(plan.kept.len(), "node", "nodes")
        ));
    }
    s
}

/// The whole dry-run listing of an import: every role and user with its outcome.
fn import_details(plan: &ImportPlan, old: &Catalog) -> Vec<String> {
    let mut lines = vec![catalog_summary(&plan.catalog)];
    lines.extend(catalog_details(&plan.catalog, old));
    let (ra, rc, ru) = plan.role_counts();
    lines.push(format!("roles: {ra} added, {rc} changed, {ru} unchanged"));
    for r in &plan.roles {
        lines.push(match r.outcome {
            Outcome::Added => format!(
                "  add       \"{}\"  ({} of {} permissions)",
                r.name,
                r.grants.count(),
                plan.catalog.catalog.leaf_count()
            ),
            Outcome::Changed => {
                let mut what = Vec::new();
                if !r.changes.is_empty() {
                    what.push(changes_text(&r.changes));
                }
                if !r.added.is_empty() {
                    what.push(format!("grant {}", r.added.join(" ")));
                }
                if !r.removed.is_empty() {
                    what.push(format!("revoke {}", r.removed.join(" ")));
                }
                format!("  change    \"{}\"  {}", r.name, what.join("; "))
            }
            Outcome::Unchanged => format!("  unchanged \"{}\"", r.name),
        });
    }
    let (pa, pc, pu) = plan.package_counts();
    lines.push(format!(
        "packages: {pa} added, {pc} changed, {pu} unchanged"
    ));
    for p in &plan.packages {
        lines.push(match p.outcome {
            Outcome::Added if p.roles.is_empty() => {
                format!("  add       \"{}\"  (no roles)", p.name)
            }
            Outcome::Added => format!(
                "  add       \"{}\"  (roles {})",
                p.name,
                quoted_list(&p.roles)
            ),
            Outcome::Changed => {
                let mut what = Vec::new();
                if !p.changes.is_empty() {
                    what.push(changes_text(&p.changes));
                }
                if !p.roles_added.is_empty() {
                    what.push(format!("add roles {}", quoted_list(&p.roles_added)));
                }
                if !p.roles_removed.is_empty() {
                    what.push(format!("remove roles {}", quoted_list(&p.roles_removed)));
                }
                format!("  change    \"{}\"  {}", p.name, what.join("; "))
            }
            Outcome::Unchanged => format!("  unchanged \"{}\"", p.name),
        });
    }
    let (ua, uc, uu) = plan.user_counts();
    lines.push(format!("users: {ua} added, {uc} changed, {uu} unchanged"));
    for u in &plan.users {
        lines.push(match u.outcome {
            Outcome::Added => {
                let mut marks = vec![format!("role \"{}\"", u.role)];
                match u.packages.as_deref() {
                    Some([]) | None => {}
                    Some([one]) => marks.push(format!("package \"{one}\"")),
                    Some(many) => marks.push(format!("packages {}", quoted_list(many))),
                }
                if !u.active {
                    marks.push("disabled".into());
                }
                if u.owner {
                    marks.push("owner".into());
                }
                format!("  add       {}  ({})", u.username, marks.join(", "))
            }
            Outcome::Changed => format!("  change    {}  {}", u.username, changes_text(&u.changes)),
            Outcome::Unchanged => format!("  unchanged {}", u.username),
        });
    }
    if plan.default_role_changes() {
        lines.push(format!(
            "default role: \"{}\" → \"{}\"",
            plan.default_role_before, plan.default_role
        ));
    }
    lines.extend(not_in_file(plan));
    lines.extend(plan.notes.iter().map(|n| format!("note: {n}")));
    lines
}

fn catalog_json(plan: &CatalogPlan) -> Value {
    json!({
        "added": plan.added,
        "relabelled": plan.relabelled,
        "pruned": plan.dropped,
        "removed": plan.removed,
        "reordered": plan.reordered,
        "administrator_gains": plan.gained,
        "kept": plan.kept,
    })
}

fn import_json(plan: &ImportPlan, dry_run: bool) -> Value {
    let roles: Vec<Value> = plan
        .roles
        .iter()
        .map(|r| {
            json!({
                "name": r.name,
                "outcome": r.outcome,
                "changes": r.changes,
                "granted": r.added,
                "revoked": r.removed,
            })
        })
        .collect();
    let packages: Vec<Value> = plan
        .packages
        .iter()
        .map(|p| {
            json!({
                "name": p.name,
                "outcome": p.outcome,
                "changes": p.changes,
                "roles": p.roles,
                "roles_added": p.roles_added,
                "roles_removed": p.roles_removed,
            })
        })
        .collect();
    let users: Vec<Value> = plan
        .users
        .iter()
        .map(|u| json!({"username": u.username, "outcome": u.outcome, "changes": u.changes}))
        .collect();
    json!({
        "dry_run": dry_run,
        "changes": plan.changes_anything(),
        "catalog": catalog_json(&plan.catalog),
        "roles": roles,
        "packages": packages,
        "users": users,
        "default_role": {"before": plan.default_role_before, "after": plan.default_role},
        "not_in_file": {
            "roles": plan.roles_not_in_file,
            "packages": plan.packages_not_in_file,
            "users": plan.users_not_in_file,
        },
        "notes": plan.notes,
    })
}

/// `rolecall catalog load`.
pub(super) fn catalog_load(
    store: &mut Store,
    file: &Path,
    dry_run: bool,
    prune: bool,
    json: bool,
) -> Result<i32> {
    let text = read_input(file)?;
    let catalog_file = CatalogFile::from_toml(&text)?;
    let old = store.catalog().clone();
    let (plan, model) = store.catalog_load_file(&catalog_file, prune, dry_run)?;
    if json {
        let mut v = catalog_json(&plan);
        v["dry_run"] = json!(dry_run);
        v["changes"] = json!(plan.changes_anything() || model.changes_anything());
        v["resource_types"] = json!({
            "added": model.types_added,
            "changed": model.types_changed,
            "removed": model.types_removed.iter().map(|(k, n)| json!({"key": k, "resources": n})).collect::<Vec<_>>(),
        });
        v["fixed_roles"] = json!({
            "created": model.roles_created,
            "updated": model.roles_updated,
            "released": model.roles_released,
        });
        return out_json(&v);
    }
    let mut lines = vec![catalog_summary(&plan)];
    lines.extend(catalog_details(&plan, &old));
    lines.extend(model_details(&model, prune || dry_run));
    if dry_run {
        if let Some((key, n)) = model.types_removed.iter().find(|(_, n)| !prune && *n > 0) {
            lines.push(format!(
                "without --prune, catalog load refuses this file: it drops resource type \"{key}\", which has {}",
                plural(*n, "resource", "resources")
            ));
        }
        if !prune && !plan.dropped.is_empty() {
            lines.push(format!(
                "without --prune, catalog load refuses this file: it drops {}",
                plural(plan.dropped.len(), "permission", "permissions")
            ));
        }
        lines.push(if plan.changes_anything() || model.changes_anything() {
            "dry run: nothing was changed".into()
        } else {
            "dry run: the catalog already matches the file".into()
        });
    } else if plan.changes_anything() || model.changes_anything() {
        lines.push(format!(
            "loaded the catalog from {}: {} permissions in {} nodes",
            file.display(),
            plan.catalog.leaf_count(),
            plan.catalog.nodes().len()
        ));
    } else {
        lines.push(format!(
            "nothing to change: the catalog already matches {}",
            file.display()
        ));
    }
    out(&join_safe(&lines))
}

/// One line per resource type and fixed role the file adds, changes or drops.
fn model_details(model: &crate::store::ModelPlan, pruning: bool) -> Vec<String> {
    let mut lines = Vec::new();
    if model.changes_anything() {
        lines.push(format!(
            "resource types: {} added, {} changed, {} removed; fixed roles: {} created, {} updated, {} released",
            model.types_added.len(),
            model.types_changed.len(),
            model.types_removed.len(),
            model.roles_created.len(),
            model.roles_updated.len(),
            model.roles_released.len()
        ));
    }
    lines.extend(
        model
            .types_added
            .iter()
            .map(|k| format!("  + resource type {k}")),
    );
    lines.extend(
        model
            .types_changed
            .iter()
            .map(|k| format!("  ~ resource type {k}")),
    );
    for (k, n) in &model.types_removed {
        let with = match (*n, pruning) {
            (0, _) => String::new(),
            (n, true) => format!(" with its {}", plural(n, "resource", "resources")),
            (n, false) => format!(" (kept: it has {})", plural(n, "resource", "resources")),
        };
        lines.push(format!("  - resource type {k}{with}"));
    }
    lines.extend(
        model
            .roles_created
            .iter()
            .map(|r| format!("  + fixed role \"{r}\"")),
    );
    lines.extend(
        model
            .roles_updated
            .iter()
            .map(|r| format!("  ~ fixed role \"{r}\"")),
    );
    lines.extend(model.roles_released.iter().map(|r| {
        format!(
            "  - fixed role \"{r}\" (the file no longer defines it: it is an ordinary role now)"
        )
    }));
    lines
}

/// `rolecall completions SHELL`.
pub(super) fn completions(shell: clap_complete::Shell) -> Result<i32> {
    let mut command = super::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "rolecall", &mut script);
    super::out_bytes(&script)
}

/// `rolecall man`: clap's sections, then EXIT STATUS, ENVIRONMENT and FILES.
pub(super) fn man_page() -> Result<i32> {
    let man = clap_mangen::Man::new(super::command());
    let mut page = Vec::new();
    let render = |page: &mut Vec<u8>| -> io::Result<()> {
        man.render_title(page)?;
        man.render_name_section(page)?;
        man.render_synopsis_section(page)?;
        man.render_description_section(page)?;
        man.render_options_section(page)?;
        man.render_subcommands_section(page)?;
        page.write_all(man_sections().as_bytes())?;
        man.render_version_section(page)
    };
    render(&mut page).map_err(|e| Error::Storage(format!("cannot render the manual page: {e}")))?;
    super::out_bytes(&page)
}

/// `text` with roff's escape character and leading control characters made literal.
fn roff_escape(text: &str) -> String {
    let escaped = text.replace('\\', "\\e").replace('-', "\\-");
    match escaped.chars().next() {
        Some('.' | '\'') => format!("\\&{escaped}"),
        _ => escaped,
    }
}

/// The manual's own sections, in roff.
fn man_sections() -> String {
    let item = |tag: &str, text: &str| format!(".TP\n\\fB{tag}\\fR\n{text}\n");
    let mut out = String::from(".SH \"EXIT STATUS\"\n");
    for (code, meaning) in super::EXIT_CODES {
        out.push_str(&item(&code.to_string(), meaning));
    }
    out.push_str(".SH ENVIRONMENT\n");
    for (name, text) in [
        (
            "ROLECALL_DB",
            "The database file when --db is not given (empty means not set).",
        ),
        ("NO_COLOR", "When set, the console draws without colour."),
        (
            "SUDO_USER",
            "The actor written to the audit log for changes made under sudo.",
        ),
        (
            "SSH_CONNECTION",
            "Its client address is added to the audit log's actor.",
        ),
        ("TERM", "linux draws the console with ASCII marks only."),
    ] {
        out.push_str(&item(name, text));
    }
    out.push_str(".SH \"CONSOLE KEYS\"\n");
    out.push_str("The keys of the console, from the table that also draws its footer and help.\n");
    let mut scope = None;
    for binding in crate::tui::keys::bindings() {
        if scope != Some(binding.scope) {
            scope = Some(binding.scope);
            out.push_str(&format!(
                ".SS \"{}\"\n",
                crate::tui::keys::scope_title(binding.scope).replace('"', "'")
            ));
        }
        out.push_str(&item(
            &roff_escape(binding.label),
            &roff_escape(binding.what),
        ));
    }
    out.push_str(".SH FILES\n");
    out.push_str(&item(
        &super::default_path_text().replace('-', "\\-"),
        "The default database (mode 0600), created by the console, demo or the first change.",
    ));
    out
}
