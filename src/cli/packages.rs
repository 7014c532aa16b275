//! `rolecall packages ...` and `rolecall who-can` (SPEC §10): packages include roles
//! and have users as members; who-can answers "who may do this, and how".

use clap::Subcommand;
use serde_json::{Value, json};

use super::{done, out, out_json, print};
use crate::domain::package::Package;
use crate::error::Result;
use crate::store::{PackageRef, PackageUpdate, Store, UserRef};
use crate::text::display_safe;

#[derive(Debug, Subcommand)]
pub enum PackagesCommand {
    /// List packages with how many roles and members each has.
    List,
    /// Show a package: its roles and its members.
    Show {
        /// The package: a name (ignoring case) or a numeric id.
        package: String,
    },
    /// Create a package, empty or including the roles of another (not its members).
    Create {
        /// 1 to 64 characters, unique ignoring case.
        name: String,
        /// What the package is for (up to 500 characters).
        #[arg(long, default_value = "")]
        description: String,
        /// Start with the roles this package includes.
        #[arg(long, value_name = "PACKAGE")]
        from: Option<String>,
    },
    /// Rename a package.
    Rename {
        /// The package: a name (ignoring case) or a numeric id.
        package: String,
        /// The new name.
        new_name: String,
        /// Refuse (exit 3) unless the package is still at this version.
        #[arg(long, value_name = "N")]
        if_version: Option<i64>,
    },
    /// Set a package's description.
    Describe {
        /// The package: a name (ignoring case) or a numeric id.
        package: String,
        /// The new description (up to 500 characters).
        description: String,
        /// Refuse (exit 3) unless the package is still at this version.
        #[arg(long, value_name = "N")]
        if_version: Option<i64>,
    },
    /// Delete a package; one with members only with --force.
    Delete {
        /// The package: a name (ignoring case) or a numeric id.
        package: String,
        /// Delete it even though users are in it (they lose what only it gave them).
        #[arg(long)]
        force: bool,
    },
    /// Include roles in a package: its members gain their permissions.
    AddRole {
        /// The package: a name (ignoring case) or a numeric id.
        package: String,
        /// Roles, by name (ignoring case) or id.
        #[arg(required = true)]
        roles: Vec<String>,
    },
    /// Take roles out of a package.
    RemoveRole {
        /// The package: a name (ignoring case) or a numeric id.
        package: String,
        /// Roles, by name (ignoring case) or id.
        #[arg(required = true)]
        roles: Vec<String>,
    },
    /// Put users into a package.
    AddUser {
        /// The package: a name (ignoring case) or a numeric id.
        package: String,
        /// Usernames.
        #[arg(required = true)]
        usernames: Vec<String>,
    },
    /// Take users out of a package.
    RemoveUser {
        /// The package: a name (ignoring case) or a numeric id.
        package: String,
        /// Usernames.
        #[arg(required = true)]
        usernames: Vec<String>,
    },
}

/// `packages show --json`, also printed by every change of a package with `--json`.
pub(super) fn package_json(p: &Package) -> Value {
    json!({
        "id": p.id,
        "name": p.name,
        "description": p.description,
        "roles": p.role_names(),
        "members": p.members,
        "version": p.version,
        "created_at": p.created_at,
        "updated_at": p.updated_at,
    })
}

/// `package "EU" includes "Editor", "Exporter"` (or no role now).
fn includes(p: &Package) -> String {
    if p.roles.is_empty() {
        return format!("package \"{}\" includes no role now", p.name);
    }
    let roles = p
        .role_names()
        .iter()
        .map(|n| format!("\"{}\"", display_safe(n)))
        .collect::<Vec<_>>()
        .join(", ");
    format!("package \"{}\" includes {roles}", p.name)
}

pub(super) fn run(store: &mut Store, cmd: PackagesCommand, json: bool) -> Result<i32> {
    let typed = PackageRef::Typed;
    match cmd {
        PackagesCommand::List => list(store, json),
        PackagesCommand::Show { package } => show(store, package, json),
        PackagesCommand::Create {
            name,
            description,
            from,
        } => {
            let p = store.create_package(&name, &description, from.map(typed))?;
            let sentence = format!(
                "created package \"{}\" (id {}) with {} role{}",
                p.name,
                p.id,
                p.roles.len(),
                if p.roles.len() == 1 { "" } else { "s" }
            );
            done(json, &package_json(&p), sentence)
        }
        PackagesCommand::Rename {
            package,
            new_name,
            if_version,
        } => {
            let p = store.edit_package(typed(package), if_version, |_| {
                Ok(PackageUpdate {
                    name: Some(new_name.clone()),
                    ..PackageUpdate::default()
                })
            })?;
            let sentence = format!("package {} is now named \"{}\"", p.id, p.name);
            done(json, &package_json(&p), sentence)
        }
        PackagesCommand::Describe {
            package,
            description,
            if_version,
        } => {
            let p = store.edit_package(typed(package), if_version, |_| {
                Ok(PackageUpdate {
                    description: Some(description.clone()),
                    ..PackageUpdate::default()
                })
            })?;
            let sentence = format!("updated the description of package \"{}\"", p.name);
            done(json, &package_json(&p), sentence)
        }
        PackagesCommand::Delete { package, force } => {
            let gone = store.delete_package(typed(package), force)?;
            let sentence = match gone.members.len() {
                0 => format!("deleted package \"{}\"", gone.name),
                n => format!(
                    "deleted package \"{}\"; its {n} member{} are no longer in it",
                    gone.name,
                    if n == 1 { "" } else { "s" }
                ),
            };
            let object = json!({"deleted": gone.name, "members": gone.members});
            done(json, &object, sentence)
        }
        PackagesCommand::AddRole { package, roles } => {
            let p = store.set_package_roles(typed(package), &roles, true)?;
            done(json, &package_json(&p), includes(&p))
        }
        PackagesCommand::RemoveRole { package, roles } => {
            let p = store.set_package_roles(typed(package), &roles, false)?;
            done(json, &package_json(&p), includes(&p))
        }
        PackagesCommand::AddUser { package, usernames } => {
            let p =
                store.set_package_members(typed(package), &UserRef::typed_all(&usernames), true)?;
            let sentence = format!("package \"{}\" has {} members", p.name, p.members.len());
            done(json, &package_json(&p), sentence)
        }
        PackagesCommand::RemoveUser { package, usernames } => {
            let p = store.set_package_members(
                typed(package),
                &UserRef::typed_all(&usernames),
                false,
            )?;
            let sentence = format!("package \"{}\" has {} members", p.name, p.members.len());
            done(json, &package_json(&p), sentence)
        }
    }
}

/// `packages list`: id, name, how many roles and members.
fn list(store: &Store, json: bool) -> Result<i32> {
    let packages = store.packages()?;
    if json {
        return out_json(&packages);
    }
    let rows: Vec<Vec<String>> = packages
        .iter()
        .map(|p| {
            vec![
                p.id.to_string(),
                p.name.clone(),
                p.roles.to_string(),
                p.members.to_string(),
                p.created_at.get(..10).unwrap_or(&p.created_at).to_string(),
            ]
        })
        .collect();
    out(&print::table(
        &["ID", "NAME", "ROLES", "MEMBERS", "CREATED ON"],
        &rows,
    ))
}

/// `packages show`: the package, its roles and its members.
fn show(store: &Store, package: String, json: bool) -> Result<i32> {
    let p = store.package(PackageRef::Typed(package))?;
    if json {
        return out_json(&package_json(&p));
    }
    let mut text = format!(
        "{}\n{}\nid {} · {} roles · {} members · created {} · version {}\n\nRoles\n",
        display_safe(&p.name),
        display_safe(&p.description),
        p.id,
        p.roles.len(),
        p.members.len(),
        display_safe(&p.created_at),
        p.version
    );
    for role in p.role_names() {
        text.push_str(&format!("  {}\n", display_safe(role)));
    }
    text.push_str("\nMembers\n");
    for member in &p.members {
        text.push_str(&format!("  {}\n", display_safe(member)));
    }
    out(&text)
}

/// `rolecall who-can PERMISSION`: every active user allowed, with every path.
pub(super) fn who_can(store: &Store, permission: &str, json: bool) -> Result<i32> {
    print_allowed(&store.who_can(permission)?, json)
}

/// Prints who may do something and how: `who-can`, and `who-can --on`.
pub(super) fn print_allowed(allowed: &crate::domain::access::Allowed, json: bool) -> Result<i32> {
    // Written straight into one buffer, each role's and package's name made safe
    // (or encoded) once: at 100,000 users, a value or a cell per user would cost
    // more than finding them.
    let text = if json {
        allowed_json(allowed)
    } else {
        allowed_text(allowed)
    };
    out(&text)
}

/// `who-can`'s table: USERNAME, then each path (`Editor (direct)`, `Editor in EU`).
fn allowed_text(allowed: &crate::domain::access::Allowed) -> String {
    let roles: Vec<_> = allowed.roles.iter().map(|r| display_safe(r)).collect();
    let packages: Vec<_> = allowed.packages.iter().map(|p| display_safe(p)).collect();
    let names: Vec<std::borrow::Cow<'_, str>> =
        allowed.users.iter().map(|(u, _)| display_safe(u)).collect();
    let width = names
        .iter()
        .map(|n| crate::text::width(n))
        .max()
        .unwrap_or(0)
        .max("USERNAME".len());
    let mut text = String::with_capacity(allowed.users.len() * (width + 40));
    text.push_str(&print::pad("USERNAME", width));
    text.push_str("  VIA\n");
    for (name, (_, range)) in names.iter().zip(&allowed.users) {
        text.push_str(name);
        let pad = width.saturating_sub(crate::text::width(name)) + 2;
        text.extend(std::iter::repeat_n(' ', pad));
        for (i, (package, role)) in allowed.paths[range.clone()].iter().enumerate() {
            if i > 0 {
                text.push_str("; ");
            }
            text.push_str(&roles[*role]);
            match package {
                None => text.push_str(" (direct)"),
                Some(p) => {
                    text.push_str(" in ");
                    text.push_str(&packages[*p]);
                }
            }
        }
        text.push('\n');
    }
    text
}

/// `who-can --json`, laid out exactly as `serde_json::to_string_pretty` lays out
/// `[{"username", "via": [{"role", "package"}]}]`, with each name encoded once.
fn allowed_json(allowed: &crate::domain::access::Allowed) -> String {
    let encode = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into());
    let roles: Vec<String> = allowed.roles.iter().map(|r| encode(r)).collect();
    let packages: Vec<String> = allowed.packages.iter().map(|p| encode(p)).collect();
    if allowed.users.is_empty() {
        return "[]\n".to_string();
    }
    let mut text = String::with_capacity(allowed.users.len() * 160);
    text.push('[');
    for (i, (user, range)) in allowed.users.iter().enumerate() {
        text.push_str(if i == 0 { "\n  {\n" } else { ",\n  {\n" });
        text.push_str("    \"username\": ");
        text.push_str(&encode(user));
        text.push_str(",\n    \"via\": [");
        let paths = &allowed.paths[range.clone()];
        for (j, (package, role)) in paths.iter().enumerate() {
            text.push_str(if j == 0 {
                "\n      {\n"
            } else {
                ",\n      {\n"
            });
            text.push_str("        \"role\": ");
            text.push_str(&roles[*role]);
            text.push_str(",\n        \"package\": ");
            text.push_str(package.map_or("null", |p| packages[p].as_str()));
            text.push_str("\n      }");
        }
        text.push_str(if paths.is_empty() { "]" } else { "\n    ]" });
        text.push_str("\n  }");
    }
    text.push_str("\n]");
    crate::text::json_terminal_safe(text) + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::access::Allowed;

    /// The hand-written JSON is the JSON `serde_json` would print, byte for byte.
    #[test]
    fn who_can_json_is_laid_out_as_serde_lays_it_out() {
        let allowed = Allowed::from_users(
            vec!["Editor \"EU\"".into(), "Viewer\u{1b}[31m".into()],
            vec!["Ops, night\u{202e}".into()],
            vec![
                ("ann".into(), vec![(None, 0), (Some(0), 1)]),
                ("bo\u{2028}b".into(), vec![(Some(0), 0)]),
            ],
        );
        #[derive(serde::Serialize)]
        struct Path<'a> {
            role: &'a str,
            package: Option<&'a str>,
        }
        #[derive(serde::Serialize)]
        struct Row<'a> {
            username: &'a str,
            via: Vec<Path<'a>>,
        }
        let value: Vec<Row<'_>> = allowed
            .users
            .iter()
            .map(|(user, range)| Row {
                username: user,
                via: allowed
                    .via(range)
                    .map(|(role, package)| Path { role, package })
                    .collect(),
            })
            .collect();
        let want =
            crate::text::json_terminal_safe(serde_json::to_string_pretty(&value).unwrap()) + "\n";
        assert_eq!(allowed_json(&allowed), want);
        assert_eq!(
            allowed_json(&Allowed::default()),
            serde_json::to_string_pretty(&Vec::<serde_json::Value>::new()).unwrap() + "\n"
        );
    }
}
