//! Roles (SPEC §3): the record, the built-in lock and the in-use rule.

use serde::Serialize;

use crate::domain::catalog::Grants;
use crate::error::{Error, IN_USE_SAMPLE, Result, RoleInUse};

/// The name of the built-in role that holds every permission.
pub const ADMINISTRATOR: &str = "Administrator";

/// A role as listed: no grants, just their count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoleSummary {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub builtin: bool,
    /// Defined by the catalog file (`[[role]]`): locked like the built-in role.
    pub fixed: bool,
    /// Users holding the role, disabled ones included.
    pub users: usize,
    pub granted_count: usize,
    pub total: usize,
    pub created_at: String,
    pub updated_at: String,
    pub version: i64,
}

/// A role with its grants, as an editor loads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub builtin: bool,
    pub grants: Grants,
    pub users: usize,
    pub version: i64,
    /// The change number that created the row: a version below it belongs to an
    /// earlier row of the same name.
    pub created_seq: i64,
    pub created_at: String,
    pub updated_at: String,
    pub updated_by: String,
}

/// The built-in lock: Administrator is cloned, never edited.
pub fn ensure_editable(name: &str, builtin: bool) -> Result<()> {
    if builtin {
        return Err(Error::Refused(format!(
            "role \"{}\" is built in: it always holds every permission and cannot be edited, renamed or deleted; clone it instead",
            crate::text::display_safe(name)
        )));
    }
    Ok(())
}

/// The lock on built-in and fixed roles. A fixed role is defined by the catalog file
/// (`[[role]]`, SPEC §11): `catalog load` writes it, nothing else changes it. It cannot
/// be edited, renamed, given exceptions or deleted; a catalog file that no longer lists
/// it releases it (it becomes an ordinary role, which may then be deleted).
pub fn ensure_unlocked(name: &str, builtin: bool, fixed: bool) -> Result<()> {
    ensure_editable(name, builtin)?;
    if fixed {
        return Err(Error::Refused(format!(
            "role \"{}\" is a fixed role of the catalog: it cannot be edited, renamed, given exceptions or deleted; clone it with `rolecall roles create NAME --from \"{}\"` to change a copy",
            crate::text::display_safe(name),
            crate::text::display_safe(name)
        )));
    }
    Ok(())
}

/// The in-use rule: a role assigned to anyone, included in a package (seed 001: "you
/// cannot delete a role that is assigned to a package"), or the default role, cannot
/// be deleted. `holders` is the first users in username order (at most ten are
/// kept); `packages` names every package that includes it.
pub fn ensure_deletable(
    name: &str,
    user_count: usize,
    mut holders: Vec<(String, bool)>,
    is_default: bool,
    (packages, users_via_packages): (Vec<String>, usize),
) -> Result<()> {
    if user_count == 0 && !is_default && packages.is_empty() {
        return Ok(());
    }
    holders.truncate(IN_USE_SAMPLE);
    Err(Error::RoleInUse(RoleInUse {
        role: name.to_string(),
        user_count,
        sample: holders,
        is_default,
        packages,
        users_via_packages,
    }))
}

/// The name a clone gets when none is given.
pub fn clone_name(source: &str) -> String {
    let name = format!("Copy of {source}");
    name.chars()
        .take(crate::domain::validate::MAX_ROLE_NAME)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_roles_are_locked() {
        assert!(ensure_editable("Support", false).is_ok());
        let err = ensure_editable(ADMINISTRATOR, true).unwrap_err();
        assert_eq!(err.exit_code(), 3);
        assert!(err.to_string().contains("clone it instead"));
    }

    #[test]
    fn in_use_names_ten_users_and_counts_the_rest() {
        let holders: Vec<(String, bool)> = (0..12).map(|i| (format!("u{i:02}"), i != 3)).collect();
        let err = ensure_deletable("Support", 12, holders, false, (vec![], 0)).unwrap_err();
        let Error::RoleInUse(info) = &err else {
            panic!("{err:?}")
        };
        assert_eq!(info.sample.len(), 10);
        let text = err.to_string();
        assert!(text.contains("assigned to 12 users"), "{text}");
        assert!(text.contains("u03 (disabled)"), "{text}");
        assert!(text.contains("u09 and 2 more"), "{text}");
        assert!(!text.contains("u10"), "{text}");
    }

    #[test]
    fn the_default_role_is_in_use_even_without_users() {
        let err = ensure_deletable("Read Only", 0, vec![], true, (vec![], 0)).unwrap_err();
        assert!(err.to_string().contains("default role"));
        assert!(ensure_deletable("Spare", 0, vec![], false, (vec![], 0)).is_ok());
    }

    #[test]
    fn clone_names_stay_within_the_limit() {
        assert_eq!(clone_name("Support"), "Copy of Support");
        assert_eq!(clone_name(&"x".repeat(64)).chars().count(), 64);
    }

    #[test]
    fn a_role_in_a_package_is_in_use_and_the_warning_names_the_packages() {
        let err = ensure_deletable(
            "Editor",
            0,
            vec![],
            false,
            (vec!["EU".into(), "US".into()], 7),
        )
        .unwrap_err();
        assert_eq!(err.exit_code(), 3);
        let text = err.to_string();
        assert!(
            text.contains(
                "assigned to 2 packages (\"EU\", \"US\"), through which 7 users reach it"
            ),
            "{text}"
        );
        assert!(
            text.contains("remove the role from all packages first"),
            "{text}"
        );
    }
}
