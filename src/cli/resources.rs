//! `rolecall resources ...`, `roles exception ...`, `check --on` and `who-can --on`
//! (SPEC §11): the instances an application registers, a role's different set of
//! scoped permissions for one of them, and the answer for one resource.

use std::path::Path;

use clap::Subcommand;
use serde_json::{Value, json};

use super::{done, out, out_json, print};
use crate::domain::catalog::CheckState;
use crate::domain::resource::Resource;
use crate::error::{Error, Result};
use crate::store::{ExceptionView, ResourceEntry, RoleRef, Store};
use crate::text::display_safe;

#[derive(Debug, Subcommand)]
pub enum ResourcesCommand {
    /// Register a resource of a type the catalog defines (a database, a list, a journey).
    Add {
        /// A resource type key from the catalog's [[resource_type]] tables.
        #[arg(value_name = "TYPE")]
        type_key: String,
        /// The application's own key for it (unique within the type).
        key: String,
        /// A label to show (up to 100 characters).
        #[arg(long, default_value = "")]
        label: String,
        /// Assign it to these packages (teams).
        #[arg(long = "package", value_name = "PACKAGE")]
        packages: Vec<String>,
    },
    /// List resources with their packages and how many roles have exceptions for each.
    List {
        /// Only resources of this type.
        #[arg(long = "type", value_name = "TYPE")]
        type_key: Option<String>,
    },
    /// Remove a resource, its exceptions and its package links, in one step.
    Remove {
        /// TYPE:KEY
        resource: String,
    },
    /// Assign a resource to packages (teams).
    Assign {
        /// TYPE:KEY
        resource: String,
        /// Package names (ignoring case) or ids.
        #[arg(required = true)]
        packages: Vec<String>,
    },
    /// Take a resource out of packages.
    Unassign {
        /// TYPE:KEY
        resource: String,
        /// Package names (ignoring case) or ids.
        #[arg(required = true)]
        packages: Vec<String>,
    },
    /// Sync with the application's list: a JSON array of {"type", "key", "label",
    /// "packages"}. Listed resources are added or updated; ones it leaves out are
    /// removed only with --prune.
    Load {
        /// The file, or - for standard input.
        file: std::path::PathBuf,
        /// Print what would be added, changed and removed; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Remove the resources the file does not list, with their exceptions.
        #[arg(long)]
        prune: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ExceptionCommand {
    /// The role's permissions on one resource: each scoped permission, its general
    /// mark and the exception's.
    Show {
        /// The role: a name (ignoring case) or a numeric id.
        role: String,
        /// TYPE:KEY
        resource: String,
    },
    /// Give the role a different set of the scoped permissions for one resource,
    /// starting from its exception (or its general grants): --grant, then --revoke.
    Set {
        /// The role: a name (ignoring case) or a numeric id.
        role: String,
        /// TYPE:KEY
        resource: String,
        /// Leaf or category keys the type scopes.
        #[arg(long = "grant", value_name = "PERMISSION")]
        grant: Vec<String>,
        /// Leaf or category keys the type scopes.
        #[arg(long = "revoke", value_name = "PERMISSION")]
        revoke: Vec<String>,
    },
    /// Remove the exception: the role's general grants apply to the resource again.
    Clear {
        /// The role: a name (ignoring case) or a numeric id.
        role: String,
        /// TYPE:KEY
        resource: String,
    },
}

fn resource_json(r: &Resource, exceptions: usize) -> Value {
    json!({
        "type": r.type_key,
        "key": r.key,
        "label": r.label,
        "packages": r.packages,
        "exceptions": exceptions,
    })
}

pub(super) fn run(store: &mut Store, cmd: ResourcesCommand, json: bool) -> Result<i32> {
    match cmd {
        ResourcesCommand::Add {
            type_key,
            key,
            label,
            packages,
        } => {
            let r = store.add_resource(&type_key, &key, &label, &packages)?;
            let assigned = if r.packages.is_empty() {
                String::new()
            } else {
                format!(", assigned to {}", quoted(&r.packages))
            };
            done(
                json,
                &resource_json(&r, 0),
                format!("added resource {}{assigned}", r.spec()),
            )
        }
        ResourcesCommand::List { type_key } => {
            let list = store.resources(type_key.as_deref())?;
            let counts = store.exception_counts()?;
            if json {
                let rows: Vec<Value> = list
                    .iter()
                    .map(|r| resource_json(r, counts.get(&r.id).copied().unwrap_or(0)))
                    .collect();
                return out_json(&rows);
            }
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|r| {
                    vec![
                        r.type_key.clone(),
                        r.key.clone(),
                        r.label.clone(),
                        r.packages.join(", "),
                        counts.get(&r.id).copied().unwrap_or(0).to_string(),
                    ]
                })
                .collect();
            out(&print::table(
                &["TYPE", "KEY", "LABEL", "PACKAGES", "EXCEPTIONS"],
                &rows,
            ))
        }
        ResourcesCommand::Remove { resource } => {
            // The count it had, for the JSON of what was removed (read just before;
            // an unknown resource is reported by the removal itself).
            let had = match store.resource(&resource) {
                Ok(r) => store.exception_counts()?.get(&r.id).copied().unwrap_or(0),
                Err(_) => 0,
            };
            let r = store.remove_resource(&resource)?;
            done(
                json,
                &resource_json(&r, had),
                format!(
                    "removed resource {} with its exceptions and package links",
                    r.spec()
                ),
            )
        }
        ResourcesCommand::Assign { resource, packages } => {
            assign(store, &resource, &packages, true, json)
        }
        ResourcesCommand::Unassign { resource, packages } => {
            assign(store, &resource, &packages, false, json)
        }
        ResourcesCommand::Load {
            file,
            dry_run,
            prune,
        } => load(store, &file, dry_run, prune, json),
    }
}

/// `resources assign` / `resources unassign`.
fn assign(
    store: &mut Store,
    resource: &str,
    packages: &[String],
    on: bool,
    json: bool,
) -> Result<i32> {
    let r = store.assign_resource(resource, packages, on)?;
    let exceptions = store.exception_counts()?.get(&r.id).copied().unwrap_or(0);
    let now = if r.packages.is_empty() {
        "no package".to_string()
    } else {
        quoted(&r.packages)
    };
    done(
        json,
        &resource_json(&r, exceptions),
        format!("resource {} is now assigned to {now}", r.spec()),
    )
}

fn quoted(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

fn load(store: &mut Store, file: &Path, dry_run: bool, prune: bool, json: bool) -> Result<i32> {
    let text = super::policy::read_input(file)?;
    let entries: Vec<ResourceEntry> = serde_json::from_str(&text).map_err(|e| {
        let (line, column) = (e.line(), e.column());
        let message = e.to_string();
        let what = message
            .strip_suffix(&format!(" at line {line} column {column}"))
            .unwrap_or(&message);
        Error::invalid(
            "file",
            format!(
                "line {line}, column {column}: {}; a resources file is a JSON list of {{\"type\", \"key\", \"label\", \"packages\"}}",
                crate::text::excerpt(what)
            ),
        )
    })?;
    let plan = store.load_resources(&entries, dry_run, prune)?;
    if json {
        return out_json(&json!({
            "added": plan.added,
            "changed": plan.changed,
            "unchanged": plan.unchanged,
            "not_in_file": plan.missing,
            "pruned": plan.pruned,
            "dry_run": dry_run,
        }));
    }
    let mut lines = vec![format!(
        "resources: {} added, {} changed, {} unchanged, {} not in the file",
        plan.added.len(),
        plan.changed.len(),
        plan.unchanged,
        plan.missing.len()
    )];
    lines.extend(plan.added.iter().map(|s| format!("  + {s}")));
    lines.extend(plan.changed.iter().map(|s| format!("  ~ {s}")));
    let gone = if prune { "-" } else { "?" };
    lines.extend(plan.missing.iter().map(|s| format!("  {gone} {s}")));
    if dry_run {
        if !prune && !plan.missing.is_empty() {
            lines.push(format!(
                "without --prune, resources load refuses this file: it leaves out {} resource{}",
                plan.missing.len(),
                if plan.missing.len() == 1 { "" } else { "s" }
            ));
        }
        lines.push("dry run: nothing was changed".into());
    } else if plan.pruned {
        lines.push(format!(
            "removed {} resource{} the file does not list, with {} exception{}",
            plan.missing.len(),
            if plan.missing.len() == 1 { "" } else { "s" },
            plan.missing_exceptions,
            if plan.missing_exceptions == 1 {
                ""
            } else {
                "s"
            }
        ));
    }
    let text: String = lines
        .iter()
        .map(|l| display_safe(l).into_owned() + "\n")
        .collect();
    out(&text)
}

fn exception_json(store: &Store, view: &ExceptionView) -> Value {
    let catalog = store.catalog();
    let mask = crate::domain::resource::scope(catalog, &view.resource_type);
    let mut general: Vec<&str> = view
        .general
        .ordinals()
        .filter(|&o| mask.contains(o))
        .map(|o| catalog.leaf_node(o).key.as_str())
        .collect();
    general.sort_unstable();
    json!({
        "role": view.role,
        "resource": view.resource.spec(),
        "scoped": view.resource_type.scoped,
        "general": general,
        "exception": view.exception.as_ref().map(|e| e.keys(catalog)),
    })
}

/// The scoped part of the tree: each node with the exception's mark, and where it
/// differs, the general mark beside it.
fn exception_text(store: &Store, view: &ExceptionView) -> String {
    let catalog = store.catalog();
    let mask = crate::domain::resource::scope(catalog, &view.resource_type);
    let mut lines = vec![format!(
        "role \"{}\" on {}: {}",
        view.role,
        view.resource.spec(),
        match &view.exception {
            Some(_) => "an exception replaces its general grants of the scoped permissions",
            None => "no exception: its general grants apply",
        }
    )];
    let shown = view.exception.as_ref().unwrap_or(&view.general);
    for node in catalog.nodes() {
        if mask.count_in(node.leaves.clone()) == 0 {
            continue;
        }
        let state = |g: &crate::domain::catalog::Grants| -> CheckState {
            let on = node
                .leaves
                .clone()
                .filter(|&o| mask.contains(o) && g.contains(o))
                .count();
            let all = node.leaves.clone().filter(|&o| mask.contains(o)).count();
            match on {
                0 => CheckState::Unchecked,
                n if n == all => CheckState::Checked,
                _ => CheckState::Partial,
            }
        };
        let now = state(shown);
        let general = state(&view.general);
        let differs = if now != general {
            format!("   (general {})", general.mark())
        } else {
            String::new()
        };
        lines.push(format!(
            "{}{} {} ({}){differs}",
            "  ".repeat(node.depth),
            now.mark(),
            node.label,
            node.key
        ));
    }
    lines
        .iter()
        .map(|l| display_safe(l).into_owned() + "\n")
        .collect()
}

pub(super) fn exception(store: &mut Store, cmd: ExceptionCommand, json: bool) -> Result<i32> {
    match cmd {
        ExceptionCommand::Show { role, resource } => {
            let view = store.exception(RoleRef::Typed(role), &resource)?;
            if json {
                return out_json(&exception_json(store, &view));
            }
            out(&exception_text(store, &view))
        }
        ExceptionCommand::Set {
            role,
            resource,
            grant,
            revoke,
        } => {
            if grant.is_empty() && revoke.is_empty() {
                return Err(Error::invalid(
                    "grant",
                    "name at least one permission with --grant or --revoke",
                ));
            }
            let view = store.set_exception(RoleRef::Typed(role), &resource, &grant, &revoke)?;
            if json {
                return out_json(&exception_json(store, &view));
            }
            out(&exception_text(store, &view))
        }
        ExceptionCommand::Clear { role, resource } => {
            let view = store.exception(RoleRef::Typed(role.clone()), &resource)?;
            let had = store.clear_exception(RoleRef::Typed(role), &resource)?;
            let sentence = if had {
                format!(
                    "cleared the exception of role \"{}\" for {}: its general grants apply there again",
                    view.role,
                    view.resource.spec()
                )
            } else {
                format!(
                    "role \"{}\" has no exception for {}: nothing to clear",
                    view.role,
                    view.resource.spec()
                )
            };
            done(
                json,
                &json!({"role": view.role, "resource": view.resource.spec(), "cleared": had}),
                sentence,
            )
        }
    }
}

/// `check USERNAME PERMISSION --on TYPE:KEY`.
pub(super) fn check_on(
    store: &Store,
    username: &str,
    permission: &str,
    spec: &str,
    explain: bool,
    json: bool,
) -> Result<i32> {
    let (decision, visibility, resource) = store.check_on(username, permission, spec)?;
    let code = if decision.allowed { 0 } else { 1 };
    if json {
        let mut v = serde_json::to_value(&decision).map_err(|e| Error::Storage(e.to_string()))?;
        v["resource"] = json!(resource.spec());
        if let Some(vis) = visibility {
            v["team"] = json!(vis);
        }
        out_json(&v)?;
        return Ok(code);
    }
    out(&super::decision_text(&decision, explain))?;
    Ok(code)
}

/// `who-can PERMISSION --on TYPE:KEY`.
pub(super) fn who_can_on(store: &Store, permission: &str, spec: &str, json: bool) -> Result<i32> {
    super::packages::print_allowed(&store.who_can_on(permission, spec)?, json)
}
