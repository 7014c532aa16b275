//! May this user do that? The answer `rolecall check` gives and the reasons
//! `--explain` prints: seed 001's troubleshooting list turned into checks.

use serde::Serialize;

use crate::domain::catalog::{Catalog, Grants};
use crate::domain::user::User;
use crate::error::{Error, Result};
use crate::text::display_safe;

/// The answer and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub username: String,
    pub permission: String,
    pub allowed: bool,
    /// The direct role's name ("" when the user has none).
    pub role: String,
    /// Every path that grants the permission (none on a denial).
    pub via: Vec<Via>,
    /// One sentence per reason, first the deciding one.
    pub reasons: Vec<String>,
}

/// One way a user reaches a role: directly (`package` None) or through a package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Via {
    pub role: String,
    pub package: Option<String>,
}

/// Who may do something, and how (`who-can`): users in username order, each with the
/// paths that grant it as indices into `roles` and `packages`, which are sorted by
/// name; a path's package is `None` for a direct role. Names are kept once, not for
/// each of 100,000 users.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allowed {
    pub roles: Vec<String>,
    pub packages: Vec<String>,
    /// (username, its paths as a range of `paths`), in username order.
    pub users: Vec<(String, std::ops::Range<usize>)>,
    /// Every user's paths, one run per user: the direct role first, then by package
    /// and role name. One vector, not one per user: 100,000 users make 100,000
    /// allocations otherwise.
    pub paths: Vec<PathIndex>,
}

/// One path of [`Allowed`]: (index into `packages`, or `None` for a direct role; index
/// into `roles`).
pub type PathIndex = (Option<usize>, usize);

impl Allowed {
    /// Builds the answer from each user's paths (the few-users case).
    pub fn from_users(
        roles: Vec<String>,
        packages: Vec<String>,
        found: Vec<(String, Vec<PathIndex>)>,
    ) -> Allowed {
        let mut allowed = Allowed {
            roles,
            packages,
            users: Vec::with_capacity(found.len()),
            paths: Vec::new(),
        };
        for (name, paths) in found {
            allowed.push(name, paths);
        }
        allowed
    }

    /// Adds a user (in username order) with their paths.
    pub fn push(&mut self, username: String, paths: impl IntoIterator<Item = PathIndex>) {
        let start = self.paths.len();
        self.paths.extend(paths);
        let end = self.paths.len();
        self.users.push((username, start..end));
    }

    /// The paths of one user (a range of [`Allowed::paths`]), by name.
    pub fn via<'a>(
        &'a self,
        range: &std::ops::Range<usize>,
    ) -> impl Iterator<Item = (&'a str, Option<&'a str>)> + 'a {
        self.paths[range.clone()].iter().map(|(package, role)| {
            (
                self.roles[*role].as_str(),
                package.map(|p| self.packages[p].as_str()),
            )
        })
    }
}

/// A role the user holds, the way they hold it, and what it grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub via: Via,
    pub grants: Grants,
}

impl Source {
    /// `role "Editor" (direct)` or `role "Editor" in package "EU Marketing"`.
    pub fn describe(&self) -> String {
        let role = display_safe(&self.via.role);
        match &self.via.package {
            None => format!("role \"{role}\" (direct)"),
            Some(p) => format!("role \"{role}\" in package \"{}\"", display_safe(p)),
        }
    }
}

/// A role the user does not hold that grants what they were denied, with the packages
/// that include it: the missing link seed 001's troubleshooting asks about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Elsewhere {
    pub role: String,
    pub packages: Vec<String>,
}

/// What `user` may actually do, given their role's `grants`: those grants, or
/// nothing when the user is disabled. Every count and mark of a user's access is
/// taken from this, so a title and the marks below it cannot disagree.
pub fn effective(catalog: &Catalog, user: &User, grants: &Grants) -> Grants {
    if user.active {
        grants.clone()
    } else {
        Grants::none(catalog)
    }
}

/// The union of what every source grants: what an active user may do.
pub fn union(catalog: &Catalog, sources: &[Source]) -> Grants {
    let mut all = Grants::none(catalog);
    for source in sources {
        for ord in source.grants.ordinals() {
            all.set(ord, true);
        }
    }
    all
}

/// Decides `key` for `user`, who holds the roles of `sources`. A category key is
/// allowed when at least one leaf under it is granted (seed 001: the module is
/// visible). The reasons name every path that grants; on a denial, `elsewhere` (the
/// roles that would grant it and the packages that include them) gives the missing
/// link.
pub fn decide_sources(
    catalog: &Catalog,
    user: &User,
    sources: &[Source],
    key: &str,
    elsewhere: &[Elsewhere],
) -> Result<Decision> {
    let idx = catalog.find(key).ok_or_else(|| {
        Error::invalid(
            "permission",
            format!(
                "\"{}\" is not a permission or category key; `rolecall catalog show` lists them",
                crate::text::excerpt(key)
            ),
        )
    })?;
    let node = catalog.node(idx);
    let path = catalog.path_label(idx);
    let name = display_safe(&user.username);
    let granting: Vec<(&Source, usize)> = sources
        .iter()
        .map(|s| (s, s.grants.count_in(node.leaves.clone())))
        .filter(|(_, n)| *n > 0)
        .collect();

    let mut reasons = Vec::new();
    if !user.active {
        reasons.push(format!(
            "user \"{name}\" is disabled, and a disabled user has no permissions; enable them with `rolecall users set {name} --active true`"
        ));
    }
    for (source, granted) in &granting {
        reasons.push(if node.is_leaf() {
            format!("{} grants {key} ({path})", source.describe())
        } else {
            format!(
                "{} grants {granted} of the {} permissions under {key} ({path}); a category is allowed when at least one of them is",
                source.describe(),
                node.leaves.len()
            )
        });
    }
    if granting.is_empty() {
        reasons.extend(missing_link(
            catalog, user, sources, node, key, &path, elsewhere,
        ));
    }
    let allowed = user.active && !granting.is_empty();
    if allowed {
        reasons.push(
            "if the application still refuses, it may cache permissions in the user's session: have them log out and back in".into(),
        );
    }
    Ok(Decision {
        username: user.username.clone(),
        permission: key.to_string(),
        allowed,
        role: user.role.clone(),
        via: if allowed {
            granting.iter().map(|(s, _)| s.via.clone()).collect()
        } else {
            Vec::new()
        },
        reasons,
    })
}

/// Why nothing the user holds grants `key`, in seed 001's words: what each role they
/// hold lacks, then which roles would grant it and how the user could reach them.
fn missing_link(
    catalog: &Catalog,
    user: &User,
    sources: &[Source],
    node: &crate::domain::catalog::Node,
    key: &str,
    path: &str,
    elsewhere: &[Elsewhere],
) -> Vec<String> {
    let name = display_safe(&user.username);
    let what = if node.is_leaf() {
        format!("{key} ({path})")
    } else {
        format!(
            "any of the {} permissions under {key} ({path})",
            node.leaves.len()
        )
    };
    let mut out = Vec::new();
    if sources.is_empty() {
        out.push(format!(
            "user \"{name}\" has no direct role and is in no package that includes a role, so they hold no permissions"
        ));
    }
    for source in sources {
        let grant_hint = match (&source.via.package, node.is_leaf()) {
            (None, true) => format!(
                "; grant it with `rolecall roles grant \"{}\" {key}` or give {name} a role that has it",
                display_safe(&source.via.role)
            ),
            (None, false) => format!(
                "; grant one with `rolecall roles grant \"{}\" {key}.<permission>`",
                display_safe(&source.via.role)
            ),
            (Some(_), _) => String::new(),
        };
        out.push(format!(
            "{} does not grant {what}{grant_hint}",
            source.describe()
        ));
    }
    for other in elsewhere {
        let role = display_safe(&other.role);
        out.push(if other.packages.is_empty() {
            format!(
                "role \"{role}\" grants it but is not assigned to a package, and {name} does not hold it directly: give it to them with `rolecall users set {name} --role \"{role}\"`, or add it to one of their packages"
            )
        } else {
            let packages = other
                .packages
                .iter()
                .map(|p| format!("\"{}\"", display_safe(p)))
                .collect::<Vec<_>>()
                .join(", ");
            format!(
                "role \"{role}\" grants it and is in package {packages}, but the package is not assigned to {name}: add them with `rolecall packages add-user {} {name}`",
                shell_word(other.packages.first().map(String::as_str).unwrap_or_default())
            )
        });
    }
    if elsewhere.is_empty() && !catalog.nodes().is_empty() {
        out.push(format!("no role grants {what}"));
    }
    out
}

/// `name` as one shell word: quoted when it holds anything but letters, digits and
/// `._-`.
fn shell_word(name: &str) -> String {
    let safe = display_safe(name);
    if !safe.is_empty()
        && safe
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        safe.into_owned()
    } else {
        format!("\"{}\"", safe.replace('"', "\\\""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decides `key` for `user`, whose direct role holds `grants` (and who is in no
    /// package).
    fn decide(catalog: &Catalog, user: &User, grants: &Grants, key: &str) -> Result<Decision> {
        let sources = [Source {
            via: Via {
                role: user.role.clone(),
                package: None,
            },
            grants: grants.clone(),
        }];
        decide_sources(catalog, user, &sources, key, &[])
    }

    fn user(active: bool) -> User {
        User {
            id: 2,
            username: "bob".into(),
            email: "bob@example.com".into(),
            first_name: String::new(),
            last_name: String::new(),
            position: String::new(),
            signature: String::new(),
            timezone: "UTC".into(),
            language: "en".into(),
            role: "Read Only".into(),
            role_id: 5,
            active,
            owner: false,
            has_password: false,
            created_at: String::new(),
            updated_at: String::new(),
            version: 1,
            created_seq: 0,
            updated_by: String::new(),
        }
    }

    #[test]
    fn leaf_and_category_answers() {
        let c = Catalog::builtin();
        let g = Grants::from_keys(&c, ["contacts.view"]);
        let u = user(true);
        assert!(decide(&c, &u, &g, "contacts.view").unwrap().allowed);
        assert!(!decide(&c, &u, &g, "contacts.export").unwrap().allowed);
        let cat = decide(&c, &u, &g, "contacts").unwrap();
        assert!(cat.allowed);
        assert!(cat.reasons[0].contains("1 of the 8"), "{:?}", cat.reasons);
        assert!(!decide(&c, &u, &g, "triggers").unwrap().allowed);
    }

    #[test]
    fn a_disabled_user_is_denied_and_told_why() {
        let c = Catalog::builtin();
        let g = Grants::all(&c);
        let d = decide(&c, &user(false), &g, "contacts.export").unwrap();
        assert!(!d.allowed);
        assert!(d.reasons[0].contains("disabled"));
    }

    #[test]
    fn a_missing_permission_names_the_fix() {
        let c = Catalog::builtin();
        let d = decide(&c, &user(true), &Grants::none(&c), "contacts.export").unwrap();
        assert!(d.reasons[0].contains("rolecall roles grant \"Read Only\" contacts.export"));
    }

    #[test]
    fn unknown_permissions_are_bad_input() {
        let c = Catalog::builtin();
        let err = decide(&c, &user(true), &Grants::none(&c), "contacts.fly").unwrap_err();
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn every_path_that_grants_is_named_and_a_denial_names_the_missing_link() {
        let c = Catalog::builtin();
        let u = user(true);
        let editor = Source {
            via: Via {
                role: "Editor".into(),
                package: Some("EU Marketing".into()),
            },
            grants: Grants::from_keys(&c, ["contacts.export"]),
        };
        let direct = Source {
            via: Via {
                role: "Read Only".into(),
                package: None,
            },
            grants: Grants::from_keys(&c, ["contacts.view", "contacts.export"]),
        };
        let d = decide_sources(
            &c,
            &u,
            &[direct.clone(), editor.clone()],
            "contacts.export",
            &[],
        )
        .unwrap();
        assert!(d.allowed);
        assert_eq!(d.via.len(), 2);
        assert!(d.reasons[0].starts_with("role \"Read Only\" (direct) grants contacts.export"));
        assert!(d.reasons[1].starts_with("role \"Editor\" in package \"EU Marketing\" grants"));

        let elsewhere = [Elsewhere {
            role: "Exporter".into(),
            packages: vec!["US Sales".into()],
        }];
        let d = decide_sources(&c, &u, &[editor], "contacts.import", &elsewhere).unwrap();
        assert!(!d.allowed);
        let text = d.reasons.join("\n");
        assert!(
            text.contains(
                "role \"Editor\" in package \"EU Marketing\" does not grant contacts.import"
            ),
            "{text}"
        );
        assert!(text.contains("the package is not assigned to bob: add them with `rolecall packages add-user \"US Sales\" bob`"), "{text}");

        let d = decide_sources(&c, &u, &[], "contacts.import", &[]).unwrap();
        assert!(
            d.reasons[0].contains("has no direct role and is in no package"),
            "{:?}",
            d.reasons
        );
        assert!(d.reasons[1].contains("no role grants"), "{:?}", d.reasons);
    }
}
