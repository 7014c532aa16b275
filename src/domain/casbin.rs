//! The grants as a Casbin RBAC policy (SPEC §8): a standard model with requests of
//! `sub, obj, act`, `p, <role>, <category key>, <leaf segment>` per grant and
//! `g, <username>, <role>` per active user, so that an enforcer answers
//! `enforce(username, category, segment)` exactly as `rolecall check` does for a leaf.
//!
//! Casbin's policy readers split lines on commas and do not agree on quoting, and
//! they keep users and roles in one namespace. So a role's name is written as it is
//! unless it holds a character those readers treat specially (percent-encoded), and
//! a role whose name is also a username is written `role:<name>` (usernames cannot
//! hold `:`), so no user is ever mistaken for a role or a role for a user.

use std::collections::HashSet;
use std::fmt::Write as _;

use crate::domain::policy::Snapshot;

/// The model: RBAC without domains, a request allowed when any policy allows it.
pub const MODEL: &str = "\
# rolecall: RBAC model for the policy in policy.csv.
# enforce(username, category_key, leaf_segment): contacts.export is (\"contacts\", \"export\").
[request_definition]
r = sub, obj, act

[policy_definition]
p = sub, obj, act

[role_definition]
g = _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = g(r.sub, p.sub) && r.obj == p.obj && r.act == p.act
";

/// Characters written percent-encoded in a role's name: Casbin's separators,
/// brackets and quotes, the escape itself, and `:` (reserved for `role:`).
fn needs_encoding(c: char) -> bool {
    matches!(c, '%' | ',' | '"' | '(' | ')' | '[' | ']' | ':')
        || crate::text::has_unsafe(&c.to_string())
}

/// The subject a role has in the policy.
pub fn role_subject(name: &str, usernames: &HashSet<&str>) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if needs_encoding(c) {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                let _ = write!(out, "%{b:02X}");
            }
        } else {
            out.push(c);
        }
    }
    if usernames.contains(out.as_str()) {
        out.insert_str(0, "role:");
    }
    out
}

/// The object and action of a leaf key: `("contacts", "export")` for
/// `contacts.export`, `("", "audit")` for a top-level leaf `audit`.
pub fn object_action(key: &str) -> (&str, &str) {
    key.rsplit_once('.').unwrap_or(("", key))
}

/// `policy.csv`: every grant of every role, then every active user's role, each
/// block sorted so that the same data always gives the same file.
pub fn policy(snapshot: &Snapshot) -> String {
    let usernames: HashSet<&str> = snapshot.users.iter().map(|u| u.username.as_str()).collect();
    let mut roles: Vec<_> = snapshot.roles.iter().collect();
    roles.sort_by(|a, b| a.name.cmp(&b.name));
    let mut out = String::new();
    for role in roles {
        let subject = role_subject(&role.name, &usernames);
        for key in role.grants.keys(&snapshot.catalog) {
            let (object, action) = object_action(key);
            let _ = writeln!(out, "p, {subject}, {object}, {action}");
        }
    }
    for user in snapshot.users.iter().filter(|u| u.active) {
        let _ = writeln!(
            out,
            "g, {}, {}",
            user.username,
            role_subject(&user.role, &usernames)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_stay_readable() {
        let none = HashSet::new();
        assert_eq!(role_subject("Read Only", &none), "Read Only");
        assert_eq!(role_subject("Campaign Manager", &none), "Campaign Manager");
    }

    #[test]
    fn separators_and_brackets_are_encoded() {
        let none = HashSet::new();
        assert_eq!(role_subject("Sales, EMEA", &none), "Sales%2C EMEA");
        assert_eq!(role_subject("Ops (night)", &none), "Ops %28night%29");
        assert_eq!(role_subject("100% \"real\"", &none), "100%25 %22real%22");
        assert_eq!(role_subject("Tier: gold", &none), "Tier%3A gold");
        assert_eq!(role_subject("a\u{202e}b", &none), "a%E2%80%AEb");
    }

    #[test]
    fn a_role_named_like_a_user_is_prefixed() {
        let users: HashSet<&str> = ["support"].into_iter().collect();
        assert_eq!(role_subject("support", &users), "role:support");
        assert_eq!(role_subject("Support", &users), "Support");
    }

    #[test]
    fn keys_split_into_category_and_segment() {
        assert_eq!(object_action("contacts.export"), ("contacts", "export"));
        assert_eq!(object_action("a.b.c"), ("a.b", "c"));
        assert_eq!(object_action("audit"), ("", "audit"));
    }
}
