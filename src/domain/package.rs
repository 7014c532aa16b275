//! Packages: seed 001's USER ROLE → PACKAGE → USER. A package includes roles and has
//! users as members; a member holds every permission of every role the package
//! includes, besides their direct role's. Other systems call this a group or a team
//! (Keycloak, Django, AWS IAM, Iterable). There are no packages inside packages and
//! no deny rules, so a user's access is a plain union and can never loop.

use serde::Serialize;

use crate::error::{Error, IN_USE_SAMPLE, Result};
use crate::text::display_safe;

/// A package as `packages show` and the editor load it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Package {
    pub id: i64,
    pub name: String,
    pub description: String,
    /// The roles it includes: (id, name), by name.
    #[serde(skip)]
    pub roles: Vec<(i64, String)>,
    /// Its members' usernames, sorted.
    pub members: Vec<String>,
    pub version: i64,
    #[serde(skip)]
    pub created_seq: i64,
    pub created_at: String,
    pub updated_at: String,
    #[serde(skip)]
    pub updated_by: String,
}

impl Package {
    /// The names of the roles it includes, sorted.
    pub fn role_names(&self) -> Vec<&str> {
        self.roles.iter().map(|(_, name)| name.as_str()).collect()
    }
}

/// A package in a listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackageSummary {
    pub id: i64,
    pub name: String,
    pub description: String,
    /// How many roles it includes.
    pub roles: usize,
    /// How many users are in it.
    pub members: usize,
    pub created_at: String,
    #[serde(skip)]
    pub version: i64,
}

/// The rule for deleting a package: one with members is kept unless `force`, and the
/// refusal names up to ten of them and what they would lose between them.
pub fn ensure_deletable(
    name: &str,
    members: usize,
    sample: &[String],
    permissions_lost: usize,
    force: bool,
) -> Result<()> {
    if members == 0 || force {
        return Ok(());
    }
    let mut names = sample
        .iter()
        .take(IN_USE_SAMPLE)
        .map(|n| display_safe(n).into_owned())
        .collect::<Vec<_>>()
        .join(", ");
    if members > sample.len().min(IN_USE_SAMPLE) {
        names.push_str(&format!(
            " and {} more",
            members - sample.len().min(IN_USE_SAMPLE)
        ));
    }
    let (users, lose) = match (members, permissions_lost) {
        (1, 0) => (
            "member",
            "would keep every permission (they hold them otherwise)".to_string(),
        ),
        (1, n) => ("member", format!("would lose {n} permission{}", plural(n))),
        (_, 0) => (
            "members",
            "would keep every permission (they hold them otherwise)".to_string(),
        ),
        (_, n) => (
            "members",
            format!("would lose {n} permission{} between them", plural(n)),
        ),
    };
    Err(Error::Refused(format!(
        "package \"{}\" has {members} {users} ({names}), who {lose}; take them out first, or delete it anyway with --force",
        display_safe(name)
    )))
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_package_is_deleted_and_one_with_members_only_with_force() {
        assert!(ensure_deletable("EU", 0, &[], 0, false).is_ok());
        let err = ensure_deletable("EU", 12, &["ann".into(), "bob".into()], 5, false).unwrap_err();
        assert_eq!(err.exit_code(), 3);
        let text = err.to_string();
        assert!(text.contains("12 members (ann, bob and 10 more)"), "{text}");
        assert!(
            text.contains("would lose 5 permissions between them"),
            "{text}"
        );
        assert!(text.contains("--force"), "{text}");
        assert!(ensure_deletable("EU", 12, &["ann".into()], 5, true).is_ok());
    }
}
