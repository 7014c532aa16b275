//! The grants as a Casbin RBAC policy (SPEC §8, §10): a standard model with requests
//! of `sub, obj, act`, `p, <role>, <category key>, <leaf segment>` per grant,
//! `g, <username>, <role>` for each active user's direct role, `g, <username>,
//! package:<package>` for each package an active user is in, and `g, package:<package>,
//! <role>` for each role a package includes, so that an enforcer answers
//! `enforce(username, category, segment)` exactly as `rolecall check` does for a leaf:
//! Casbin's role graph follows user → package → role as it follows user → role.
//!
//! Casbin's policy readers split lines on commas, trim each field, and do not agree
//! on quoting; and they keep users and roles in one namespace. So every field written
//! to `policy.csv` (username, role name, category key, leaf segment) is written as it
//! is unless it holds a character those readers treat specially, which is
//! percent-encoded: whatever the database holds (another program may have written a
//! username with a line break and commas into it), a field stays one field of one
//! line. Names rolecall itself accepts never need it for a username or a key. A role
//! whose subject is also a user's is written `role:<name>`, and a package is always
//! written `package:<name>`. `:` is always encoded inside a field, so the only `:` in a
//! subject is one of these prefixes: no user, role or package is ever mistaken for
//! another, whatever their names (a package named like a user or a role stays apart).
//! Disabled users get no `g` line at all, so they are denied everything.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt::Write as _;

use crate::domain::catalog::Grants;
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

/// The model when the catalog defines resource types (SPEC §11): the request names the
/// resource too, `enforce(username, "TYPE:KEY", category_key, leaf_segment)`.
///
/// - `p, <role>, TYPE:*, obj, act`: the role grants the leaf on every resource of the
///   type (keyMatch's `*`); a role with exceptions on some resources of a type gets,
///   for the permissions the type scopes, one line per resource of that type instead
///   (its exception there, or its general grant), so nothing needs a deny rule.
/// - `g(r.sub, r.res)` is the team rule, in the same role graph: every active user is
///   in `everyone:`, which reaches every resource of a type that is not team-owned; a
///   team-owned resource is reached from each package it is assigned to, and from
///   each role that holds the type's bypass permission.
pub const MODEL_RESOURCES: &str = "\
# rolecall: RBAC model with resources for the policy in policy.csv.
# enforce(username, \"TYPE:KEY\", category_key, leaf_segment):
# contacts.export on database:news is (\"alice\", \"database:news\", \"contacts\", \"export\").
[request_definition]
r = sub, res, obj, act

[policy_definition]
p = sub, res, obj, act

[role_definition]
g = _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = g(r.sub, p.sub) && g(r.sub, r.res) && keyMatch(r.res, p.res) && r.obj == p.obj && r.act == p.act
";

/// The subject every active user is a member of in the model with resources; the `:`
/// keeps it apart from every user, role and package.
pub const EVERYONE: &str = "everyone:";

/// The model for `snapshot`: with resources when the catalog defines resource types.
pub fn model(snapshot: &Snapshot) -> &'static str {
    if snapshot.model.types.is_empty() {
        MODEL
    } else {
        MODEL_RESOURCES
    }
}

/// A resource as the policy names it: `TYPE:KEY`, the key encoded as any field is
/// (and `*`, which keyMatch reads as a wildcard), so a plain key reads as typed.
pub fn resource_subject(type_key: &str, key: &str) -> String {
    format!("{type_key}:{}", field(key).replace('*', "%2A"))
}

/// Characters written percent-encoded: Casbin's separators, brackets and quotes, the
/// escape itself, `:` (reserved for `role:`), `#` (a comment in some readers),
/// controls and invisible characters (a line break would start a new policy line),
/// and whitespace other than an inner space (readers trim fields).
fn needs_encoding(c: char, at_edge: bool) -> bool {
    matches!(c, '%' | ',' | '"' | '(' | ')' | '[' | ']' | ':' | '#')
        || (c.is_whitespace() && (at_edge || c != ' '))
        || crate::text::has_unsafe(c.encode_utf8(&mut [0u8; 4]))
}

/// One field of a policy line: `value` as it is when nothing in it needs encoding.
pub fn field(value: &str) -> Cow<'_, str> {
    let last = value.chars().count().saturating_sub(1);
    let encode = |(i, c): (usize, char)| needs_encoding(c, i == 0 || i == last);
    if !value.chars().enumerate().any(encode) {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 8);
    for (i, c) in value.chars().enumerate() {
        if encode((i, c)) {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                let _ = write!(out, "%{b:02X}");
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// The subject a role has in the policy; `user_subjects` are the users' fields.
pub fn role_subject(name: &str, user_subjects: &HashSet<String>) -> String {
    let subject = field(name).into_owned();
    if user_subjects.contains(&subject) {
        format!("role:{subject}")
    } else {
        subject
    }
}

/// The subject a package has in the policy: always prefixed, so that it never meets a
/// username or a role name.
pub fn package_subject(name: &str) -> String {
    format!("package:{}", field(name))
}

/// The object and action of a leaf key: `("contacts", "export")` for
/// `contacts.export`, `("", "audit")` for a top-level leaf `audit`.
pub fn object_action(key: &str) -> (&str, &str) {
    key.rsplit_once('.').unwrap_or(("", key))
}

/// `policy.csv`: every grant of every role, then every active user's direct role,
/// every package's roles, and every active user's packages; each block sorted so that
/// the same data always gives the same file.
pub fn policy(snapshot: &Snapshot) -> String {
    if !snapshot.model.types.is_empty() {
        return policy_with_resources(snapshot);
    }
    let user_subjects: HashSet<String> = snapshot
        .users
        .iter()
        .map(|u| field(&u.username).into_owned())
        .collect();
    let mut roles: Vec<_> = snapshot.roles.iter().collect();
    roles.sort_by(|a, b| a.name.cmp(&b.name));
    let mut out = String::new();
    for role in roles {
        let subject = role_subject(&role.name, &user_subjects);
        for key in role.grants.keys(&snapshot.catalog) {
            let (object, action) = object_action(key);
            let _ = writeln!(out, "p, {subject}, {}, {}", field(object), field(action));
        }
    }
    out.push_str(&role_graph(snapshot, &user_subjects));
    out
}

/// The `g` lines of the role graph: each active user's direct role, each package's
/// roles, and each active user's packages.
fn role_graph(snapshot: &Snapshot, user_subjects: &HashSet<String>) -> String {
    let mut out = String::new();
    // A user with no direct role (role "") reaches roles through packages only.
    for user in snapshot
        .users
        .iter()
        .filter(|u| u.active && !u.role.is_empty())
    {
        let _ = writeln!(
            out,
            "g, {}, {}",
            field(&user.username),
            role_subject(&user.role, user_subjects)
        );
    }
    let mut packages: Vec<_> = snapshot.packages.iter().collect();
    packages.sort_by(|a, b| a.name.cmp(&b.name));
    for package in &packages {
        let subject = package_subject(&package.name);
        let mut roles = package.role_names();
        roles.sort();
        for role in roles {
            let _ = writeln!(out, "g, {subject}, {}", role_subject(role, user_subjects));
        }
    }
    let memberships = snapshot.memberships();
    for user in snapshot.users.iter().filter(|u| u.active) {
        for package in memberships
            .get(user.username.as_str())
            .into_iter()
            .flatten()
        {
            let _ = writeln!(
                out,
                "g, {}, {}",
                field(&user.username),
                package_subject(package)
            );
        }
    }
    out
}

/// `policy.csv` for [`MODEL_RESOURCES`]: the grants per type (or per resource, where a
/// role has exceptions), the role graph as in [`policy`], then `everyone:` and each
/// resource's way in.
fn policy_with_resources(snapshot: &Snapshot) -> String {
    use crate::domain::resource::{grants_on, scope};
    let catalog = &snapshot.catalog;
    let model = &snapshot.model;
    let user_subjects: HashSet<String> = snapshot
        .users
        .iter()
        .map(|u| field(&u.username).into_owned())
        .collect();
    let mut roles: Vec<_> = snapshot.roles.iter().collect();
    roles.sort_by(|a, b| a.name.cmp(&b.name));
    let mut out = String::new();
    let mut line = |subject: &str, res: &str, key: &str| {
        let (object, action) = object_action(key);
        let _ = writeln!(
            out,
            "p, {subject}, {res}, {}, {}",
            field(object),
            field(action)
        );
    };
    for role in &roles {
        let subject = role_subject(&role.name, &user_subjects);
        for t in &model.types {
            let mask = scope(catalog, t);
            let of_type: Vec<_> = model
                .resources
                .iter()
                .filter(|r| r.type_key == t.key)
                .collect();
            let excepted = of_type.iter().any(|r| {
                model
                    .exceptions
                    .contains_key(&(role.name.clone(), r.spec()))
            });
            let every = format!("{}:*", t.key);
            for ord in role.grants.ordinals() {
                if !excepted || !mask.contains(ord) {
                    line(&subject, &every, &catalog.leaf_node(ord).key);
                }
            }
            if !excepted {
                continue;
            }
            for r in of_type {
                let exception = model
                    .exceptions
                    .get(&(role.name.clone(), r.spec()))
                    .map(|keys| Grants::from_keys(catalog, keys.iter().map(String::as_str)));
                let on = grants_on(&role.grants, exception.as_ref(), &mask);
                let res = resource_subject(&r.type_key, &r.key);
                for ord in on.ordinals().filter(|&o| mask.contains(o)) {
                    line(&subject, &res, &catalog.leaf_node(ord).key);
                }
            }
        }
    }
    let mut graph = role_graph(snapshot, &user_subjects);
    for user in snapshot.users.iter().filter(|u| u.active) {
        let _ = writeln!(graph, "g, {}, {EVERYONE}", field(&user.username));
    }
    for r in &model.resources {
        let Some(t) = model.types.iter().find(|t| t.key == r.type_key) else {
            continue;
        };
        let res = resource_subject(&r.type_key, &r.key);
        if !t.team_owned {
            let _ = writeln!(graph, "g, {EVERYONE}, {res}");
            continue;
        }
        for package in &r.packages {
            let _ = writeln!(graph, "g, {}, {res}", package_subject(package));
        }
        let bypass = t
            .bypass
            .as_ref()
            .and_then(|b| catalog.find(b))
            .map(|i| catalog.node(i).leaves.start);
        for role in roles
            .iter()
            .filter(|r| bypass.is_some_and(|b| r.grants.contains(b)))
        {
            let _ = writeln!(
                graph,
                "g, {}, {res}",
                role_subject(&role.name, &user_subjects)
            );
        }
    }
    out.push_str(&graph);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subjects(names: &[&str]) -> HashSet<String> {
        names.iter().map(|n| field(n).into_owned()).collect()
    }

    #[test]
    fn plain_names_stay_readable() {
        let none = HashSet::new();
        assert_eq!(role_subject("Read Only", &none), "Read Only");
        assert_eq!(role_subject("Campaign Manager", &none), "Campaign Manager");
        assert!(matches!(field("alice.b-2_x"), Cow::Borrowed(_)));
    }

    #[test]
    fn separators_and_brackets_are_encoded() {
        let none = HashSet::new();
        assert_eq!(role_subject("Sales, EMEA", &none), "Sales%2C EMEA");
        assert_eq!(role_subject("Ops (night)", &none), "Ops %28night%29");
        assert_eq!(role_subject("100% \"real\"", &none), "100%25 %22real%22");
        assert_eq!(role_subject("Tier: gold", &none), "Tier%3A gold");
        assert_eq!(role_subject("a\u{202e}b", &none), "a%E2%80%AEb");
        assert_eq!(role_subject(" edge ", &none), "%20edge%20");
        assert_eq!(field("a\tb\u{2800}"), "a%09b%E2%A0%80");
    }

    #[test]
    fn a_username_holding_a_line_break_stays_one_field() {
        let hostile = "eve\ng, eve, Administrator";
        assert_eq!(field(hostile), "eve%0Ag%2C eve%2C Administrator");
        assert_eq!(field("role:x"), "role%3Ax");
    }

    #[test]
    fn a_role_named_like_a_user_is_prefixed() {
        let users = subjects(&["support", "a,b"]);
        assert_eq!(role_subject("support", &users), "role:support");
        assert_eq!(role_subject("Support", &users), "Support");
        assert_eq!(role_subject("a,b", &users), "role:a%2Cb");
    }

    #[test]
    fn packages_have_a_subject_of_their_own() {
        let users = subjects(&["support"]);
        assert_eq!(package_subject("EU Marketing"), "package:EU Marketing");
        // Named like a user, a role, or another package's subject: still apart.
        assert_eq!(package_subject("support"), "package:support");
        assert_ne!(package_subject("support"), role_subject("support", &users));
        assert_eq!(package_subject("package:x"), "package:package%3Ax");
        assert_eq!(package_subject("role:x"), "package:role%3Ax");
        assert_eq!(role_subject("package:x", &users), "package%3Ax");
        assert_eq!(package_subject("a, b"), "package:a%2C b");
    }

    #[test]
    fn a_resource_is_its_type_and_its_key_encoded_like_a_field() {
        assert_eq!(resource_subject("database", "news"), "database:news");
        // `*` would be keyMatch's wildcard, `:` and `,` are encoded as in any field.
        assert_eq!(resource_subject("list", "a*b, c:d"), "list:a%2Ab%2C c%3Ad");
        assert!(MODEL_RESOURCES.contains("r = sub, res, obj, act"));
        assert!(!MODEL.contains("res"));
    }

    #[test]
    fn keys_split_into_category_and_segment() {
        assert_eq!(object_action("contacts.export"), ("contacts", "export"));
        assert_eq!(object_action("a.b.c"), ("a.b", "c"));
        assert_eq!(object_action("audit"), ("", "audit"));
    }
}
