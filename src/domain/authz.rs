//! Who may change what (SPEC §13): the three Administration rights an operator
//! holds through their own roles, and the rule that an operator without the right
//! over roles hands out only what they hold themselves.
//!
//! A local run has no operator: the account that can write the database file may
//! change anything, as before. A served session (`rolecall serve`) has one, a
//! rolecall user identified by their SSH key, and the store asks this module before
//! every change, inside the change's own transaction, so a right revoked while a
//! session is open counts from the next change on.

use crate::domain::catalog::{Catalog, Grants};
use crate::error::{Error, Result};
use crate::text::display_safe;

/// One part of the administration a change belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Right {
    /// Users: add, edit, enable/disable, delete, passwords, keys, package membership.
    Users,
    /// Roles, grants, packages, resources, exceptions, the default role.
    Roles,
    /// Reading the audit log.
    Audit,
}

impl Right {
    pub const ALL: [Right; 3] = [Right::Users, Right::Roles, Right::Audit];

    /// The permission of the default catalog that carries the right.
    pub fn default_permission(self) -> &'static str {
        match self {
            Right::Users => "administration.users",
            Right::Roles => "administration.roles",
            Right::Audit => "administration.audit",
        }
    }

    /// The right's name in `[operator]` and in the store.
    pub fn name(self) -> &'static str {
        match self {
            Right::Users => "users",
            Right::Roles => "roles",
            Right::Audit => "audit",
        }
    }

    /// What the right is for, in words for a refusal.
    fn purpose(self) -> &'static str {
        match self {
            Right::Users => "adding, editing and removing users",
            Right::Roles => "changing roles, packages and resources",
            Right::Audit => "reading the audit log",
        }
    }
}

/// Which permissions carry the rights: the default catalog's, unless a catalog file
/// names its own in `[operator]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorKeys {
    pub users: String,
    pub roles: String,
    pub audit: String,
}

impl Default for OperatorKeys {
    fn default() -> Self {
        OperatorKeys {
            users: Right::Users.default_permission().into(),
            roles: Right::Roles.default_permission().into(),
            audit: Right::Audit.default_permission().into(),
        }
    }
}

impl OperatorKeys {
    pub fn permission(&self, right: Right) -> &str {
        match right {
            Right::Users => &self.users,
            Right::Roles => &self.roles,
            Right::Audit => &self.audit,
        }
    }

    /// The keys an `[operator]` table names, each checked to be a permission (a leaf)
    /// of `catalog`; what it leaves out keeps the default.
    pub fn from_entry(
        entry: OperatorEntry,
        catalog: &Catalog,
    ) -> std::result::Result<Self, String> {
        let mut keys = OperatorKeys::default();
        for (right, named) in [
            (Right::Users, entry.users),
            (Right::Roles, entry.roles),
            (Right::Audit, entry.audit),
        ] {
            let Some(key) = named else { continue };
            let leaf = catalog
                .find(&key)
                .is_some_and(|i| catalog.node(i).is_leaf());
            if !leaf {
                return Err(format!(
                    "[operator] {} = \"{}\" is not a permission of this file; name one of its [[permission]] keys without children",
                    right.name(),
                    crate::text::excerpt(&key)
                ));
            }
            match right {
                Right::Users => keys.users = key,
                Right::Roles => keys.roles = key,
                Right::Audit => keys.audit = key,
            }
        }
        Ok(keys)
    }
}

/// `[operator]` as written in a catalog file.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorEntry {
    pub users: Option<String>,
    pub roles: Option<String>,
    pub audit: Option<String>,
}

/// The rights a change needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    One(Right),
    /// Changes that rewrite the whole model (catalog load, import, copy).
    All,
}

impl Need {
    fn rights(self) -> &'static [Right] {
        match self {
            Need::One(Right::Users) => &[Right::Users],
            Need::One(Right::Roles) => &[Right::Roles],
            Need::One(Right::Audit) => &[Right::Audit],
            Need::All => &Right::ALL,
        }
    }
}

/// Which of the three rights someone holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rights {
    pub users: bool,
    pub roles: bool,
    pub audit: bool,
}

impl Rights {
    /// A local run: no operator, every right.
    pub const LOCAL: Rights = Rights {
        users: true,
        roles: true,
        audit: true,
    };

    pub fn has(self, right: Right) -> bool {
        match right {
            Right::Users => self.users,
            Right::Roles => self.roles,
            Right::Audit => self.audit,
        }
    }
}

/// The refusal for an operator who lacks `right`: it names the permission.
pub fn lacking(username: &str, catalog: &Catalog, right: Right) -> Error {
    Error::Refused(format!(
        "\"{}\" lacks {}, which {} needs",
        display_safe(username),
        display_safe(catalog.operator().permission(right)),
        right.purpose()
    ))
}

/// A served session's operator as the store read them inside a transaction.
#[derive(Debug, Clone)]
pub struct Operator {
    pub username: String,
    pub active: bool,
    /// Everything the operator's roles give them (ignoring `active`).
    pub grants: Grants,
}

impl Operator {
    /// The rights `grants` carry in `catalog`. Someone who holds every permission of
    /// the catalog (Administrator) holds every right, also under a catalog that names
    /// none of the three permissions.
    pub fn rights(&self, catalog: &Catalog) -> Rights {
        if !self.active {
            return Rights {
                users: false,
                roles: false,
                audit: false,
            };
        }
        let everything = self.grants.count() == catalog.leaf_count();
        let holds = |right: Right| {
            everything
                || catalog
                    .find(catalog.operator().permission(right))
                    .is_some_and(|idx| {
                        let node = catalog.node(idx);
                        node.leaves.len() == self.grants.count_in(node.leaves.clone())
                    })
        };
        Rights {
            users: holds(Right::Users),
            roles: holds(Right::Roles),
            audit: holds(Right::Audit),
        }
    }

    /// Refuses, naming the permission, when the operator lacks a right `need` asks for.
    pub fn require(&self, catalog: &Catalog, need: Need) -> Result<()> {
        let name = display_safe(&self.username);
        if !self.active {
            return Err(Error::Refused(format!(
                "\"{name}\" is disabled or was removed, so this session can change nothing"
            )));
        }
        let rights = self.rights(catalog);
        match need.rights().iter().find(|r| !rights.has(**r)) {
            None => Ok(()),
            Some(right) => Err(lacking(&self.username, catalog, *right)),
        }
    }

    /// An operator without the right over roles may hand out (a role, a package, a
    /// key to log in as someone) only what they hold themselves: they cannot grant
    /// themselves, or an account they control, what they lack.
    pub fn ensure_may_hand_out(&self, catalog: &Catalog, what: &str, gives: &Grants) -> Result<()> {
        if self.rights(catalog).roles {
            return Ok(());
        }
        let missing: Vec<&str> = gives
            .ordinals()
            .filter(|ord| !self.grants.contains(*ord))
            .map(|ord| catalog.leaf_node(ord).key.as_str())
            .collect();
        let Some(first) = missing.first() else {
            return Ok(());
        };
        let more = match missing.len() {
            1 => String::new(),
            n => format!(" and {} more", n - 1),
        };
        Err(Error::Refused(format!(
            "{what} gives {first}{more}, which \"{}\" does not hold; only someone with {} may hand out permissions they lack",
            display_safe(&self.username),
            display_safe(catalog.operator().permission(Right::Roles))
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn operator(keys: &[&str]) -> (Catalog, Operator) {
        let catalog = Catalog::builtin();
        let grants = Grants::from_keys(&catalog, keys.iter().copied());
        let op = Operator {
            username: "alice".into(),
            active: true,
            grants,
        };
        (catalog, op)
    }

    #[test]
    fn rights_follow_the_administration_permissions() {
        let (catalog, op) = operator(&["administration.users"]);
        let rights = op.rights(&catalog);
        assert!(rights.users && !rights.roles && !rights.audit);
        assert!(op.require(&catalog, Need::One(Right::Users)).is_ok());
        let err = op
            .require(&catalog, Need::One(Right::Roles))
            .unwrap_err()
            .to_string();
        assert!(err.contains("administration.roles"), "{err}");
        assert!(op.require(&catalog, Need::All).is_err());
    }

    #[test]
    fn holding_everything_holds_every_right() {
        let catalog = Catalog::builtin();
        let op = Operator {
            username: "root".into(),
            active: true,
            grants: Grants::all(&catalog),
        };
        assert_eq!(op.rights(&catalog), Rights::LOCAL);
    }

    #[test]
    fn a_disabled_operator_holds_nothing() {
        let catalog = Catalog::builtin();
        let op = Operator {
            username: "root".into(),
            active: false,
            grants: Grants::all(&catalog),
        };
        let err = op.require(&catalog, Need::One(Right::Users)).unwrap_err();
        assert!(err.to_string().contains("disabled"), "{err}");
    }

    #[test]
    fn without_roles_an_operator_hands_out_only_what_they_hold() {
        let (catalog, op) = operator(&["administration.users", "contacts.view"]);
        let mine = Grants::from_keys(&catalog, ["contacts.view"]);
        assert!(op.ensure_may_hand_out(&catalog, "x", &mine).is_ok());
        let more = Grants::from_keys(&catalog, ["contacts.view", "contacts.export"]);
        let err = op
            .ensure_may_hand_out(&catalog, "role \"Exporter\"", &more)
            .unwrap_err()
            .to_string();
        assert!(err.contains("contacts.export"), "{err}");
        let (catalog, admin) = operator(&["administration.roles"]);
        assert!(admin.ensure_may_hand_out(&catalog, "x", &more).is_ok());
    }
}
