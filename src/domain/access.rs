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
    pub role: String,
    /// One sentence per reason, first the deciding one.
    pub reasons: Vec<String>,
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

/// Decides `key` for `user`, whose role holds `grants`. A category key is allowed when
/// at least one leaf under it is granted (seed 001: the module is visible).
pub fn decide(catalog: &Catalog, user: &User, grants: &Grants, key: &str) -> Result<Decision> {
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
    let granted = grants.count_in(node.leaves.clone());
    let role_grants = granted > 0;
    let name = display_safe(&user.username);
    let role = display_safe(&user.role);

    let mut reasons = Vec::new();
    let role_sentence = match (node.is_leaf(), role_grants) {
        (true, true) => format!("role \"{role}\" grants {key} ({path})"),
        (true, false) => format!(
            "role \"{role}\" does not grant {key} ({path}); grant it with `rolecall roles grant \"{role}\" {key}` or give {name} a role that has it"
        ),
        (false, true) => format!(
            "role \"{role}\" grants {granted} of the {} permissions under {key} ({path}); a category is allowed when at least one of them is",
            node.leaves.len()
        ),
        (false, false) => format!(
            "role \"{role}\" grants none of the {} permissions under {key} ({path}); grant one with `rolecall roles grant \"{role}\" {key}.<permission>`",
            node.leaves.len()
        ),
    };
    if !user.active {
        reasons.push(format!(
            "user \"{name}\" is disabled, and a disabled user has no permissions; enable them with `rolecall users set {name} --active true`"
        ));
    }
    reasons.push(role_sentence);
    let allowed = user.active && role_grants;
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
        reasons,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
