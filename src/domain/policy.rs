//! Policy as text: the `rolecall/2` document that `export` writes and `import` reads
//! (with `rolecall/1`, the same document before packages),
//! the users CSV, and the plans behind `import` and `catalog load` — what a file
//! would add, change or leave alone in a database.
//!
//! Pure: the store hands in a [`Snapshot`] of the database, gets a plan back, and
//! applies it in one transaction; the CLI prints it. Every field rule is the one the
//! rest of the domain applies (`validate`, `Profile::validated`, the catalog checks,
//! the built-in lock and the owner rule); this module only says *where* in the file
//! a rule was broken (`users[3].email: ...`).

use std::collections::{HashMap, HashSet};
use std::fmt;

use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Value, json};

use crate::domain::catalog::{Catalog, CatalogEntry, Grants};
use crate::domain::package::Package;
use crate::domain::resource::{ResourceModel, ResourceTypeEntry};
use crate::domain::role::{self, ADMINISTRATOR, Role};
use crate::domain::user::{self, Profile, User};
use crate::domain::validate;
use crate::error::{Error, Result};
use crate::text::{display_safe, excerpt, name_key};

/// The format tag of an export file.
pub const FORMAT: &str = "rolecall/2";

/// The format with resources (SPEC §11): `rolecall/2` plus `resource_types`,
/// `resources`, and each role's `fixed` mark and `exceptions`. An export is written
/// in it only when the database has resource types, resources or fixed roles, so a
/// database without them exports exactly as before and older rolecalls still read
/// it; a file that needs the new fields says so in its tag, and an older rolecall
/// refuses it by its tag instead of misreading it.
pub const FORMAT_V3: &str = "rolecall/3";

/// The format before packages: still read, and it says nothing about packages, so an
/// import of it leaves packages and memberships as they are.
pub const FORMAT_V1: &str = "rolecall/1";

/// An export file. Absent parts say nothing: no `catalog` keeps the database's, no
/// `default_role` keeps the current default, and an absent field of a role, package
/// or user keeps what the database has (or the default, for a new one). Packages the
/// file does not list are left alone; a user's `packages`, when present, is that
/// user's whole membership.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    pub format: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog: Option<Vec<CatalogEntry>>,
    #[serde(default)]
    pub roles: Vec<RoleRecord>,
    /// `rolecall/2` only.
    #[serde(default)]
    pub packages: Vec<PackageRecord>,
    #[serde(default)]
    pub users: Vec<UserRecord>,
    /// `rolecall/3` only: the catalog's resource types. Types the file lists are
    /// added or updated; others stay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_types: Option<Vec<ResourceTypeEntry>>,
    /// `rolecall/3` only: resources, by type and key. Listed ones are added or
    /// updated; others stay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Vec<ResourceRecord>>,
}

/// A resource in an export file: `packages`, when present, is its whole set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceRecord {
    #[serde(rename = "type")]
    pub type_key: String,
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packages: Option<Vec<String>>,
}

/// A package in an export file: `roles` lists role names, sorted, and is the
/// package's complete set of roles when present.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageRecord {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
}

/// A role in an export file: `granted` lists leaf keys, sorted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleRecord {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub builtin: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub granted: Option<Vec<String>>,
    /// `rolecall/3` only: a fixed role of the catalog (locked like the built-in role).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed: Option<bool>,
    /// `rolecall/3` only: `TYPE:KEY` → the exception's granted leaf keys, sorted;
    /// when present, the role's whole set of exceptions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exceptions: Option<std::collections::BTreeMap<String, Vec<String>>>,
}

/// A user in an export file: every field but the password. `has_password` is written
/// for people reading the file and ignored on import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserRecord {
    pub username: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The names of the packages the user is in, sorted (`rolecall/2` only): when
    /// present, the user's whole membership.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packages: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_password: Option<bool>,
}

/// Everything an export or an import plan needs from the database, read in one
/// transaction so it is consistent.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub catalog: Catalog,
    /// With their grants, in id order.
    pub roles: Vec<Role>,
    /// In username order.
    pub users: Vec<User>,
    /// With their roles (by name) and members (usernames, sorted), in id order.
    pub packages: Vec<Package>,
    /// Resource types, resources, exceptions and fixed roles (SPEC §11).
    pub model: ResourceModel,
    pub default_role: String,
}

impl Snapshot {
    /// The names of the packages each user is in, sorted, by username (users in
    /// none are left out).
    pub fn memberships(&self) -> HashMap<&str, Vec<&str>> {
        let mut out: HashMap<&str, Vec<&str>> = HashMap::new();
        for p in &self.packages {
            for member in &p.members {
                out.entry(member.as_str())
                    .or_default()
                    .push(p.name.as_str());
            }
        }
        for names in out.values_mut() {
            names.sort();
        }
        out
    }
}

/// An error located at `path` in the file (`users[3].email`).
fn invalid_at(path: impl fmt::Display, message: impl fmt::Display) -> Error {
    Error::invalid("import", format!("{path}: {message}"))
}

/// A domain error moved to its place in the file: a field error of `users[3]` becomes
/// `users[3].email: ...`; a rule refusal keeps its exit code and gains the path.
fn at(path: &str) -> impl Fn(Error) -> Error + '_ {
    move |err| match err {
        Error::Invalid { field, message } => invalid_at(format!("{path}.{field}"), message),
        Error::Refused(message) => Error::Refused(format!("{path}: {message}")),
        other => other,
    }
}

// ---------------------------------------------------------------------------------
// Reading a file
// ---------------------------------------------------------------------------------

/// Only the `format` field of a file, read before the rest so that a file of another
/// kind is refused for what it is rather than for its first unexpected field.
struct Tag(Option<Value>);

impl<'de> Deserialize<'de> for Tag {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Tag, D::Error> {
        struct TagVisitor;
        impl<'de> Visitor<'de> for TagVisitor {
            type Value = Tag;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object (a rolecall export)")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Tag, A::Error> {
                let mut format = None;
                while let Some(key) = map.next_key::<String>()? {
                    if key == "format" && format.is_none() {
                        format = Some(map.next_value::<Value>()?);
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(Tag(format))
            }
        }
        deserializer.deserialize_map(TagVisitor)
    }
}

/// A serde_json error as `path: what (line L, column C)`, or `line L, column C: what`
/// when it is not inside a field (broken syntax, a truncated file). serde quotes the
/// input it could not take (`invalid type: string "..."`, ``unknown field `...` ``),
/// so each quoted piece, and the path (its keys come from the file), is an excerpt.
fn json_error(err: &serde_json::Error, path: Option<String>) -> Error {
    let (line, column) = (err.line(), err.column());
    let text = err.to_string();
    let what = text
        .strip_suffix(&format!(" at line {line} column {column}"))
        .unwrap_or(&text);
    let what = quoted_excerpts(what);
    match path.filter(|p| !p.is_empty() && p != ".") {
        Some(path) => invalid_at(
            excerpt(&path),
            format!("{what} (line {line}, column {column})"),
        ),
        None => Error::invalid("import", format!("line {line}, column {column}: {what}")),
    }
}

/// `message` with every `"..."` and `` `...` `` piece cut to an [`excerpt`]. Inside
/// double quotes serde escapes a quote as `\"`.
fn quoted_excerpts(message: &str) -> String {
    let mut out = String::with_capacity(message.len().min(1024));
    let mut rest = message;
    while let Some(open) = rest.find(['"', '`']) {
        let quote = rest.as_bytes()[open];
        out.push_str(&rest[..=open]);
        let body = &rest[open + 1..];
        let mut escaped = false;
        let close = body.bytes().position(|b| {
            let closes = b == quote && !escaped;
            escaped = quote == b'"' && b == b'\\' && !escaped;
            closes
        });
        let Some(close) = close else {
            out.push_str(&excerpt(body));
            return out;
        };
        out.push_str(&excerpt(&body[..close]));
        out.push(quote as char);
        rest = &body[close + 1..];
    }
    out.push_str(rest);
    out
}

/// Parses an export file: the format tag first, then every field's type, naming the
/// line and column and the path of the first problem.
pub fn parse_document(text: &str) -> Result<Document> {
    // Editors on Windows start UTF-8 files with a byte order mark; JSON does not allow
    // one, and it says nothing, so it is skipped.
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    let tag: Tag = serde_json::from_str(text).map_err(|e| json_error(&e, None))?;
    match tag.0 {
        None => {
            return Err(invalid_at(
                "format",
                format!("missing; a rolecall export starts with \"format\": \"{FORMAT}\""),
            ));
        }
        Some(Value::String(s)) if s == FORMAT || s == FORMAT_V1 || s == FORMAT_V3 => {}
        Some(other) => return Err(unknown_format(&other.to_string())),
    }
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let doc: Document = serde_path_to_error::deserialize(&mut deserializer)
        .map_err(|e| json_error(e.inner(), Some(e.path().to_string())))?;
    ensure_fits_format(&doc)?;
    Ok(doc)
}

fn unknown_format(shown: &str) -> Error {
    invalid_at(
        "format",
        format!(
            "{} is not a format this rolecall reads (it reads \"{FORMAT_V3}\", \"{FORMAT}\" and \"{FORMAT_V1}\")",
            excerpt(shown)
        ),
    )
}

/// A `rolecall/1` file has no packages: a `packages` field in one is a mistake (an
/// edited tag, or a file written by hand), refused rather than half understood.
fn ensure_fits_format(doc: &Document) -> Result<()> {
    if doc.format != FORMAT_V3 {
        let why = format!(
            "is not part of \"{}\"; resources need \"format\": \"{FORMAT_V3}\"",
            doc.format
        );
        if doc.resource_types.is_some() {
            return Err(invalid_at("resource_types", why));
        }
        if doc.resources.is_some() {
            return Err(invalid_at("resources", why));
        }
        for (i, r) in doc.roles.iter().enumerate() {
            if r.fixed.is_some() {
                return Err(invalid_at(format!("roles[{i}].fixed"), why));
            }
            if r.exceptions.is_some() {
                return Err(invalid_at(format!("roles[{i}].exceptions"), why));
            }
        }
    }
    if doc.format != FORMAT_V1 {
        return Ok(());
    }
    let why = format!("is not part of \"{FORMAT_V1}\"; packages need \"format\": \"{FORMAT}\"");
    if !doc.packages.is_empty() {
        return Err(invalid_at("packages", why));
    }
    match doc.users.iter().position(|u| u.packages.is_some()) {
        Some(i) => Err(invalid_at(format!("users[{i}].packages"), why)),
        None => Ok(()),
    }
}

// ---------------------------------------------------------------------------------
// Writing a file
// ---------------------------------------------------------------------------------

fn profile_of(u: &User) -> Profile {
    Profile {
        email: u.email.clone(),
        first_name: u.first_name.clone(),
        last_name: u.last_name.clone(),
        position: u.position.clone(),
        signature: u.signature.clone(),
        timezone: u.timezone.clone(),
        language: u.language.clone(),
    }
}

/// The database as a document, sorted so that the same data always gives the same
/// bytes: the catalog in catalog order, roles by name (ignoring case), users by
/// username, grants by key.
pub fn export(snapshot: &Snapshot) -> Document {
    let with_model = !snapshot.model.is_empty();
    Document {
        format: if with_model { FORMAT_V3 } else { FORMAT }.to_string(),
        default_role: Some(snapshot.default_role.clone()),
        catalog: Some(snapshot.catalog.entries()),
        roles: role_records(snapshot, with_model),
        packages: package_records(snapshot),
        users: user_records(snapshot),
        resource_types: with_model.then(|| snapshot.model.types.clone()),
        resources: with_model.then(|| {
            snapshot
                .model
                .resources
                .iter()
                .map(|r| ResourceRecord {
                    type_key: r.type_key.clone(),
                    key: r.key.clone(),
                    label: Some(r.label.clone()),
                    packages: Some(r.packages.clone()),
                })
                .collect()
        }),
    }
}

/// Orders records by name ignoring case, then by exact name, so that names differing
/// only in case still come out in one order.
fn by_name_key(a: &str, b: &str) -> std::cmp::Ordering {
    name_key(a).cmp(&name_key(b)).then_with(|| a.cmp(b))
}

/// The roles of an export, by name. `with_model` (a `rolecall/3` file) adds each
/// role's fixed mark and its exceptions, when it has any.
fn role_records(snapshot: &Snapshot, with_model: bool) -> Vec<RoleRecord> {
    let catalog = &snapshot.catalog;
    let mut roles: Vec<RoleRecord> = snapshot
        .roles
        .iter()
        .map(|r| RoleRecord {
            name: r.name.clone(),
            description: Some(r.description.clone()),
            builtin: r.builtin,
            granted: Some(
                r.grants
                    .keys(catalog)
                    .into_iter()
                    .map(str::to_string)
                    .collect(),
            ),
            fixed: with_model.then(|| snapshot.model.fixed_roles.contains(&r.name)),
            exceptions: {
                let mine: std::collections::BTreeMap<String, Vec<String>> = snapshot
                    .model
                    .exceptions
                    .iter()
                    .filter(|((role, _), _)| *role == r.name)
                    .map(|((_, spec), keys)| (spec.clone(), keys.clone()))
                    .collect();
                (with_model && !mine.is_empty()).then_some(mine)
            },
        })
        .collect();
    roles.sort_by(|a, b| by_name_key(&a.name, &b.name));
    roles
}

/// The users of an export, by username, each with every field but the password and
/// with their whole package membership.
fn user_records(snapshot: &Snapshot) -> Vec<UserRecord> {
    let memberships = snapshot.memberships();
    let mut users: Vec<UserRecord> = snapshot
        .users
        .iter()
        .map(|u| UserRecord {
            username: u.username.clone(),
            email: Some(u.email.clone()),
            first_name: Some(u.first_name.clone()),
            last_name: Some(u.last_name.clone()),
            position: Some(u.position.clone()),
            signature: Some(u.signature.clone()),
            timezone: Some(u.timezone.clone()),
            language: Some(u.language.clone()),
            role: Some(u.role.clone()),
            packages: Some(
                memberships
                    .get(u.username.as_str())
                    .map(|names| names.iter().map(|n| n.to_string()).collect())
                    .unwrap_or_default(),
            ),
            active: Some(u.active),
            owner: Some(u.owner),
            has_password: Some(u.has_password),
        })
        .collect();
    users.sort_by(|a, b| a.username.cmp(&b.username));
    users
}

/// The packages of an export, by name, each with its roles' names, sorted.
fn package_records(snapshot: &Snapshot) -> Vec<PackageRecord> {
    let mut packages: Vec<PackageRecord> = snapshot
        .packages
        .iter()
        .map(|p| {
            let mut roles: Vec<String> = p.roles.iter().map(|(_, n)| n.clone()).collect();
            roles.sort();
            PackageRecord {
                name: p.name.clone(),
                description: Some(p.description.clone()),
                roles: Some(roles),
            }
        })
        .collect();
    packages.sort_by(|a, b| by_name_key(&a.name, &b.name));
    packages
}

/// The columns of the users CSV, in order.
pub const CSV_COLUMNS: &[&str] = &[
    "username",
    "email",
    "first_name",
    "last_name",
    "position",
    "signature",
    "timezone",
    "language",
    "role",
    "active",
    "owner",
    "has_password",
];

/// The first characters that make a spreadsheet read a cell as a formula (or, for
/// tab and carriage return, hide the ones that follow), after OWASP's "CSV
/// Injection" guidance.
const FORMULA_STARTS: &[char] = &['=', '+', '-', '@', '\t', '\r'];

/// One CSV field. A cell that a spreadsheet would run as a formula (`=cmd|' /C
/// calc'!A0`) is neutralised with a leading `'`, as OWASP's CSV Injection guidance
/// advises, since the file is opened by people in Excel or LibreOffice; then the
/// field is quoted (RFC 4180) when it holds a comma, a quote or a line break.
fn csv_field(value: &str) -> String {
    let value = if value.starts_with(FORMULA_STARTS) {
        std::borrow::Cow::Owned(format!("'{value}"))
    } else {
        std::borrow::Cow::Borrowed(value)
    };
    if value.contains([',', '"', '\n', '\r']) || value.starts_with(' ') || value.ends_with(' ') {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.into_owned()
    }
}

/// Stored text as a CSV cell shows it. CSV has no escape for a control character and
/// the file is read by people in spreadsheets, so the text is made display-safe as on
/// a screen (an escape sequence or a bidi override becomes visible), keeping the line
/// breaks of a multi-line signature.
fn csv_text(value: &str) -> std::borrow::Cow<'_, str> {
    if !crate::text::has_unsafe(value) {
        return std::borrow::Cow::Borrowed(value);
    }
    let lines: Vec<_> = value.split('\n').map(display_safe).collect();
    std::borrow::Cow::Owned(lines.join("\n"))
}

/// The users as CSV: a header row, then one row per user in username order.
pub fn users_csv(snapshot: &Snapshot) -> String {
    let mut out = CSV_COLUMNS.join(",");
    out.push('\n');
    for u in &snapshot.users {
        let flag = |b: bool| if b { "true" } else { "false" }.to_string();
        let row = [
            u.username.clone(),
            u.email.clone(),
            u.first_name.clone(),
            u.last_name.clone(),
            u.position.clone(),
            u.signature.clone(),
            u.timezone.clone(),
            u.language.clone(),
            u.role.clone(),
            flag(u.active),
            flag(u.owner),
            flag(u.has_password),
        ];
        let cells: Vec<String> = row.iter().map(|c| csv_field(&csv_text(c))).collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

// ---------------------------------------------------------------------------------
// Catalog plans (catalog load, and the catalog part of an import)
// ---------------------------------------------------------------------------------

/// A leaf that stops being grantable, with the roles (besides the built-in one) that
/// grant it now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DroppedLeaf {
    pub key: String,
    pub label: String,
    pub roles: Vec<String>,
}

/// What a new catalog changes in the database's.
#[derive(Debug, Clone)]
pub struct CatalogPlan {
    /// The catalog afterwards, in order, parents first.
    pub entries: Vec<CatalogEntry>,
    pub catalog: Catalog,
    /// Keys of new nodes.
    pub added: Vec<String>,
    /// Keys whose label or description changes.
    pub relabelled: Vec<String>,
    /// The order of the nodes kept changes.
    pub reordered: bool,
    /// Keys of nodes removed (with everything under them).
    pub removed: Vec<String>,
    /// Leaves that stop being grantable: removed, or now categories.
    pub dropped: Vec<DroppedLeaf>,
    /// Leaves that become grantable: the built-in role gains them.
    pub gained: Vec<String>,
    /// Nodes the file does not list that stay (an import never removes any).
    pub kept: Vec<String>,
}

impl CatalogPlan {
    /// No change: the database's catalog as it is.
    pub fn unchanged(current: &Catalog) -> CatalogPlan {
        CatalogPlan {
            entries: current.entries(),
            catalog: current.clone(),
            added: Vec::new(),
            relabelled: Vec::new(),
            reordered: false,
            removed: Vec::new(),
            dropped: Vec::new(),
            gained: Vec::new(),
            kept: Vec::new(),
        }
    }

    /// True when applying the plan writes anything.
    pub fn changes_anything(&self) -> bool {
        !self.added.is_empty()
            || !self.relabelled.is_empty()
            || self.reordered
            || !self.removed.is_empty()
            || !self.dropped.is_empty()
    }

    /// A role's grants in the new catalog: the built-in role holds every leaf; any
    /// other keeps the leaves that are still leaves.
    pub fn carry(&self, old: &Catalog, role: &Role) -> Grants {
        if role.builtin {
            Grants::all(&self.catalog)
        } else {
            Grants::from_keys(&self.catalog, role.grants.keys(old))
        }
    }
}

/// Compares `file` with the database's catalog. With `keep_unlisted`, nodes the file
/// does not list stay, after the file's; otherwise the file replaces the catalog.
pub fn plan_catalog(
    current: &Catalog,
    roles: &[Role],
    file: &Catalog,
    keep_unlisted: bool,
) -> Result<CatalogPlan> {
    let mut entries = file.entries();
    let listed: HashSet<&str> = file.nodes().iter().map(|n| n.key.as_str()).collect();
    let mut kept = Vec::new();
    if keep_unlisted {
        for entry in current.entries() {
            if !listed.contains(entry.key.as_str()) {
                kept.push(entry.key.clone());
                entries.push(entry);
            }
        }
    }
    let catalog = if kept.is_empty() {
        file.clone()
    } else {
        Catalog::from_stored(entries.clone())?
    };
    let mut added = Vec::new();
    let mut relabelled = Vec::new();
    for node in file.nodes() {
        match current.find(&node.key).map(|i| current.node(i)) {
            None => added.push(node.key.clone()),
            Some(old) if old.label != node.label || old.description != node.description => {
                relabelled.push(node.key.clone())
            }
            Some(_) => {}
        }
    }
    let removed: Vec<String> = current
        .nodes()
        .iter()
        .filter(|n| catalog.find(&n.key).is_none())
        .map(|n| n.key.clone())
        .collect();
    let is_leaf = |c: &Catalog, key: &str| c.find(key).is_some_and(|i| c.node(i).is_leaf());
    let dropped = (0..current.leaf_count())
        .map(|ord| current.leaf_node(ord))
        .filter(|n| !is_leaf(&catalog, &n.key))
        .map(|n| DroppedLeaf {
            key: n.key.clone(),
            label: n.label.clone(),
            roles: roles
                .iter()
                .filter(|r| !r.builtin && r.grants.contains(n.leaves.start))
                .map(|r| r.name.clone())
                .collect(),
        })
        .collect();
    let gained = (0..catalog.leaf_count())
        .map(|ord| &catalog.leaf_node(ord).key)
        .filter(|k| !is_leaf(current, k))
        .cloned()
        .collect();
    let in_both = |c: &Catalog, other: &Catalog| -> Vec<String> {
        c.nodes()
            .iter()
            .filter(|n| other.find(&n.key).is_some())
            .map(|n| n.key.clone())
            .collect()
    };
    let reordered = in_both(current, &catalog) != in_both(&catalog, current);
    Ok(CatalogPlan {
        entries,
        catalog,
        added,
        relabelled,
        reordered,
        removed,
        dropped,
        gained,
        kept,
    })
}

/// The prune rule of `catalog load`: a file that drops leaves is refused unless the
/// operator said `--prune`, naming each leaf and how many roles grant it.
pub fn ensure_prune_allowed(plan: &CatalogPlan, prune: bool) -> Result<()> {
    if prune || plan.dropped.is_empty() {
        return Ok(());
    }
    let n = plan.dropped.len();
    let list = plan
        .dropped
        .iter()
        .take(10)
        .map(|d| {
            let roles = match d.roles.len() {
                0 => "granted by no role besides Administrator".to_string(),
                1 => "granted by 1 role besides Administrator".to_string(),
                k => format!("granted by {k} roles besides Administrator"),
            };
            format!("{} ({roles})", d.key)
        })
        .collect::<Vec<_>>()
        .join(", ");
    let more = if n > 10 {
        format!(" and {} more", n - 10)
    } else {
        String::new()
    };
    let what = if n == 1 { "permission" } else { "permissions" };
    Err(Error::Refused(format!(
        "the file drops {n} {what} the database has: {list}{more}; run again with --prune to remove them and their grants (--dry-run shows everything that would change)"
    )))
}

// ---------------------------------------------------------------------------------
// Import plans
// ---------------------------------------------------------------------------------

/// What an import does to one role or user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Added,
    Changed,
    Unchanged,
}

/// One field's value before and after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    pub field: &'static str,
    pub before: Value,
    pub after: Value,
}

/// A role of the file and what the import does with it.
#[derive(Debug, Clone)]
pub struct RoleStep {
    pub outcome: Outcome,
    /// The role's id when it exists already.
    pub id: Option<i64>,
    pub name: String,
    pub description: String,
    pub builtin: bool,
    /// The grants afterwards, in the new catalog.
    pub grants: Grants,
    /// Name and description changes.
    pub changes: Vec<FieldChange>,
    /// Leaf keys granted and revoked, sorted.
    pub added: Vec<String>,
    pub removed: Vec<String>,
}

/// A package of the file and what the import does with it.
#[derive(Debug, Clone)]
pub struct PackageStep {
    pub outcome: Outcome,
    /// The package's id when it exists already.
    pub id: Option<i64>,
    pub name: String,
    pub description: String,
    /// The names of its roles afterwards, as stored, sorted.
    pub roles: Vec<String>,
    /// Name and description changes.
    pub changes: Vec<FieldChange>,
    /// Roles it comes to include (names afterwards) and stops including (names
    /// before), sorted.
    pub roles_added: Vec<String>,
    pub roles_removed: Vec<String>,
}

/// A user of the file and what the import does with them.
#[derive(Debug, Clone)]
pub struct UserStep {
    pub outcome: Outcome,
    /// The user's id when they exist already.
    pub id: Option<i64>,
    pub username: String,
    pub profile: Profile,
    /// The role's name as it will be stored.
    pub role: String,
    pub active: bool,
    pub owner: bool,
    /// The names of the user's packages afterwards, as stored, sorted, when the file
    /// lists them; `None` leaves the user's packages as they are.
    pub packages: Option<Vec<String>>,
    /// Packages the user joins (names afterwards) and leaves (names before), sorted.
    pub packages_added: Vec<String>,
    pub packages_removed: Vec<String>,
    pub changes: Vec<FieldChange>,
}

/// Everything an import would do, computed before anything is written.
#[derive(Debug, Clone)]
pub struct ImportPlan {
    pub catalog: CatalogPlan,
    pub roles: Vec<RoleStep>,
    pub packages: Vec<PackageStep>,
    pub users: Vec<UserStep>,
    /// The default role afterwards, and whether it changes.
    pub default_role: String,
    pub default_role_before: String,
    /// Things the import deliberately does not do (ownership), for the operator.
    pub notes: Vec<String>,
    /// Roles of the database the file does not list: left as they are.
    pub roles_not_in_file: Vec<String>,
    /// Packages of the database the file does not list: left as they are.
    pub packages_not_in_file: Vec<String>,
    /// How many users of the database the file does not list: left as they are.
    pub users_not_in_file: usize,
}

impl ImportPlan {
    pub fn default_role_changes(&self) -> bool {
        name_key(&self.default_role) != name_key(&self.default_role_before)
    }

    /// How many roles, or users, have each outcome: (added, changed, unchanged).
    pub fn role_counts(&self) -> (usize, usize, usize) {
        counts(self.roles.iter().map(|r| r.outcome))
    }

    pub fn package_counts(&self) -> (usize, usize, usize) {
        counts(self.packages.iter().map(|p| p.outcome))
    }

    pub fn user_counts(&self) -> (usize, usize, usize) {
        counts(self.users.iter().map(|u| u.outcome))
    }

    /// True when applying the plan writes anything.
    pub fn changes_anything(&self) -> bool {
        self.catalog.changes_anything()
            || self.default_role_changes()
            || self.roles.iter().any(|r| r.outcome != Outcome::Unchanged)
            || self
                .packages
                .iter()
                .any(|p| p.outcome != Outcome::Unchanged)
            || self.users.iter().any(|u| u.outcome != Outcome::Unchanged)
    }
}

fn counts(outcomes: impl Iterator<Item = Outcome>) -> (usize, usize, usize) {
    outcomes.fold((0, 0, 0), |(a, c, u), o| match o {
        Outcome::Added => (a + 1, c, u),
        Outcome::Changed => (a, c + 1, u),
        Outcome::Unchanged => (a, c, u + 1),
    })
}

/// The leaf ordinal of `key` in `catalog`, or why it cannot be granted.
fn leaf_ordinal(catalog: &Catalog, key: &str) -> std::result::Result<usize, String> {
    match catalog.find(key).map(|i| catalog.node(i)) {
        Some(node) if node.is_leaf() => Ok(node.leaves.start),
        Some(_) => Err(format!(
            "\"{}\" is a category, not a permission; list the permissions under it",
            excerpt(key)
        )),
        None => Err(format!(
            "\"{}\" is not a permission of the catalog",
            excerpt(key)
        )),
    }
}

fn change(field: &'static str, before: impl Into<Value>, after: impl Into<Value>) -> FieldChange {
    FieldChange {
        field,
        before: before.into(),
        after: after.into(),
    }
}

/// Entry `i` of the file's roles or packages (`kind` "role" or "package"): its path,
/// its validated name and description, refused when an earlier entry has the same name
/// ignoring case. `seen` maps name keys to entry numbers.
fn unique_entry(
    kind: &str,
    i: usize,
    name: &str,
    description: Option<&str>,
    seen: &mut HashMap<String, usize>,
) -> Result<(String, String, Option<String>)> {
    let path = format!("{kind}s[{i}]");
    let name = validate::role_name(name).map_err(at(&path))?;
    if let Some(j) = seen.insert(name_key(&name), i) {
        return Err(invalid_at(
            format!("{path}.name"),
            format!(
                "\"{}\" is listed twice (also {kind}s[{j}]); {kind} names are unique ignoring case",
                excerpt(&name)
            ),
        ));
    }
    let description = description
        .map(validate::description)
        .transpose()
        .map_err(at(&path))?;
    Ok((path, name, description))
}

/// The changes of a role's or package's name and description, in that order, from
/// `before` to `after` (each a name and a description).
fn name_and_description_changes(
    (name_before, description_before): (&str, &str),
    (name, description): (&str, &str),
) -> Vec<FieldChange> {
    let mut changes = Vec::new();
    if name != name_before {
        changes.push(change("name", name_before, name));
    }
    if description != description_before {
        changes.push(change("description", description_before, description));
    }
    changes
}

/// Checks every part of `doc` against the rules and against the database in
/// `snapshot`, and works out what importing it would do. Nothing in the file is
/// taken on trust: a problem anywhere refuses the whole file, naming where.
///
/// The phases run in the file's order of dependence: the catalog, the roles (which
/// grant its leaves), the default role, the packages (which hold roles), the users
/// (who hold roles and packages), and last the rules across users: the owner and
/// unique emails.
pub fn plan_import(snapshot: &Snapshot, doc: &Document) -> Result<ImportPlan> {
    if doc.format != FORMAT && doc.format != FORMAT_V1 && doc.format != FORMAT_V3 {
        return Err(unknown_format(
            &Value::from(doc.format.as_str()).to_string(),
        ));
    }
    ensure_fits_format(doc)?;
    let file_catalog = file_catalog(doc)?;
    let catalog_plan = import_catalog_plan(snapshot, file_catalog.as_ref())?;
    let roles =
        RolePlanner::new(snapshot, &catalog_plan, file_catalog.as_ref()).plan(&doc.roles)?;

    let role_names = names_after(
        snapshot.roles.iter().map(|r| r.name.as_str()),
        roles.iter().map(|step| step.name.as_str()),
    );
    let default_role = match &doc.default_role {
        Some(spec) => resolve_role(&role_names, "default_role".into(), spec)?,
        None => role_names
            .get(&name_key(&snapshot.default_role))
            .cloned()
            .unwrap_or_else(|| snapshot.default_role.clone()),
    };

    let (packages, package_index) = plan_packages(snapshot, &role_names, &doc.packages)?;
    let package_names = names_after(
        snapshot.packages.iter().map(|p| p.name.as_str()),
        packages.iter().map(|step| step.name.as_str()),
    );

    let planner = UserPlanner {
        existing: snapshot
            .users
            .iter()
            .map(|u| (u.username.as_str(), u))
            .collect(),
        memberships: snapshot.memberships(),
        role_names: &role_names,
        package_names: &package_names,
        default_role: &default_role,
    };
    let PlannedUsers {
        steps: mut users,
        seen,
        marked_owner,
    } = planner.plan(&doc.users)?;
    let notes = settle_ownership(snapshot, &mut users, marked_owner, &seen)?;
    ensure_unique_emails(snapshot, &users, &seen)?;

    let in_file: HashSet<String> = roles.iter().map(|r| name_key(&r.name)).collect();
    let roles_not_in_file = snapshot
        .roles
        .iter()
        .filter(|r| !in_file.contains(&name_key(&r.name)))
        .map(|r| r.name.clone())
        .collect();
    let packages_not_in_file = snapshot
        .packages
        .iter()
        .filter(|p| !package_index.contains_key(&name_key(&p.name)))
        .map(|p| p.name.clone())
        .collect();
    let users_not_in_file = snapshot
        .users
        .iter()
        .filter(|u| !seen.contains_key(&u.username))
        .count();
    Ok(ImportPlan {
        catalog: catalog_plan,
        roles,
        packages,
        users,
        default_role,
        default_role_before: snapshot.default_role.clone(),
        notes,
        roles_not_in_file,
        packages_not_in_file,
        users_not_in_file,
    })
}

/// The file's catalog, checked, or `None` when the file has none (the database's
/// stays). An empty one is refused rather than read as "no nodes".
fn file_catalog(doc: &Document) -> Result<Option<Catalog>> {
    match &doc.catalog {
        None => Ok(None),
        Some(entries) if entries.is_empty() => Err(invalid_at(
            "catalog",
            "is empty; leave it out to keep the database's catalog",
        )),
        Some(entries) => Catalog::from_located_entries(
            entries
                .iter()
                .enumerate()
                .map(|(i, e)| (e.clone(), format!("catalog[{i}]"))),
        )
        .map(Some)
        .map_err(|e| match e {
            Error::Invalid { message, .. } => Error::invalid("import", message),
            other => other,
        }),
    }
}

/// The catalog part of an import: the file's nodes are added or relabelled; nodes it
/// does not list stay. A file that turns a permission into a category is refused, as
/// that takes grants away, which is `catalog load --prune`'s job.
fn import_catalog_plan(snapshot: &Snapshot, file: Option<&Catalog>) -> Result<CatalogPlan> {
    let old = &snapshot.catalog;
    let plan = match file {
        Some(file) => plan_catalog(old, &snapshot.roles, file, true)?,
        None => CatalogPlan::unchanged(old),
    };
    if let Some(d) = plan.dropped.first() {
        return Err(Error::Refused(format!(
            "catalog: the file makes the permission {} a category, so the roles that grant it would lose it; load the new catalog with `rolecall catalog load FILE --prune` first",
            d.key
        )));
    }
    Ok(plan)
}

/// The names after the import, by folded name: the database's `current` names, with
/// the spelling of the file's `listed` ones winning.
fn names_after<'a>(
    current: impl Iterator<Item = &'a str>,
    listed: impl Iterator<Item = &'a str>,
) -> HashMap<String, String> {
    let mut names: HashMap<String, String> =
        current.map(|n| (name_key(n), n.to_string())).collect();
    for name in listed {
        names.insert(name_key(name), name.to_string());
    }
    names
}

/// The role `spec` names (ignoring case) as it will be called after the import, or an
/// error at `path` when neither the file nor the database has it.
fn resolve_role(role_names: &HashMap<String, String>, path: String, spec: &str) -> Result<String> {
    role_names.get(&name_key(spec)).cloned().ok_or_else(|| {
        invalid_at(
            path,
            format!(
                "there is no role \"{}\" in the file or the database",
                excerpt(spec)
            ),
        )
    })
}

// ---------------------------------------------------------------------------------
// Import plans: roles
// ---------------------------------------------------------------------------------

/// What planning the file's roles needs besides the file: the database, the catalog
/// plan, and the leaves the file's grant lists speak for.
struct RolePlanner<'a> {
    snapshot: &'a Snapshot,
    catalog_plan: &'a CatalogPlan,
    /// The leaves of the file's catalog, when it has one: a grant list speaks only for
    /// those, and grants of other leaves stay.
    spoken: Option<HashSet<&'a str>>,
}

impl<'a> RolePlanner<'a> {
    fn new(
        snapshot: &'a Snapshot,
        catalog_plan: &'a CatalogPlan,
        file_catalog: Option<&'a Catalog>,
    ) -> RolePlanner<'a> {
        let spoken = file_catalog.map(|c| {
            (0..c.leaf_count())
                .map(|o| c.leaf_node(o).key.as_str())
                .collect()
        });
        RolePlanner {
            snapshot,
            catalog_plan,
            spoken,
        }
    }

    /// The file's roles, in the file's order, matched to the database's by name
    /// ignoring case.
    fn plan(&self, records: &[RoleRecord]) -> Result<Vec<RoleStep>> {
        let mut roles = Vec::with_capacity(records.len());
        let mut role_index: HashMap<String, usize> = HashMap::new();
        for (i, record) in records.iter().enumerate() {
            roles.push(self.plan_role(i, record, &mut role_index)?);
        }
        Ok(roles)
    }

    /// Entry `i` of the file's roles: a new role, or the changes to the one it names.
    fn plan_role(
        &self,
        i: usize,
        record: &RoleRecord,
        seen: &mut HashMap<String, usize>,
    ) -> Result<RoleStep> {
        let (path, name, description) =
            unique_entry("role", i, &record.name, record.description.as_deref(), seen)?;
        let current = self
            .snapshot
            .roles
            .iter()
            .find(|r| name_key(&r.name) == name_key(&name));
        let builtin = builtin_mark(&path, &name, record, current)?;
        let listed = self.listed_grants(&path, record)?;
        let before = current.map(|c| self.catalog_plan.carry(&self.snapshot.catalog, c));
        let grants = self.grants_after(&path, &name, builtin, listed, before.as_ref())?;
        let step = RoleStep {
            outcome: Outcome::Added,
            id: None,
            name,
            description: match (description, current) {
                (Some(description), _) => description,
                (None, Some(current)) => current.description.clone(),
                (None, None) => String::new(),
            },
            builtin,
            grants,
            changes: Vec::new(),
            added: Vec::new(),
            removed: Vec::new(),
        };
        match current {
            None => Ok(step),
            Some(current) => self.compare_with(&path, record, current, before, step),
        }
    }

    /// The role's `granted` list as grants in the new catalog, or `None` when the file
    /// has none. Each key must be a permission, listed once.
    fn listed_grants(&self, path: &str, record: &RoleRecord) -> Result<Option<Grants>> {
        let Some(keys) = &record.granted else {
            return Ok(None);
        };
        let new = &self.catalog_plan.catalog;
        let mut grants = Grants::none(new);
        for (j, key) in keys.iter().enumerate() {
            let ord = leaf_ordinal(new, key)
                .map_err(|m| invalid_at(format!("{path}.granted[{j}]"), m))?;
            if grants.contains(ord) {
                return Err(invalid_at(
                    format!("{path}.granted[{j}]"),
                    format!("\"{}\" is listed twice", excerpt(key)),
                ));
            }
            grants.set(ord, true);
        }
        Ok(Some(grants))
    }

    /// The role's grants afterwards. The built-in role holds every leaf, and a file
    /// that leaves out some it speaks for is refused. Another role gets the leaves the
    /// file lists plus those it holds that the file does not speak for, or keeps its
    /// grants (none, for a new role) when the file lists none.
    fn grants_after(
        &self,
        path: &str,
        name: &str,
        builtin: bool,
        listed: Option<Grants>,
        before: Option<&Grants>,
    ) -> Result<Grants> {
        let new = &self.catalog_plan.catalog;
        if builtin {
            if let Some(listed) = &listed {
                let missing = (0..new.leaf_count())
                    .filter(|&o| !listed.contains(o))
                    .filter(|&o| {
                        self.spoken
                            .as_ref()
                            .is_none_or(|s| s.contains(new.leaf_node(o).key.as_str()))
                    })
                    .count();
                if missing > 0 {
                    let err = role::ensure_editable(name, true).unwrap_err();
                    return Err(at(path)(Error::Refused(format!(
                        "{err} (the file leaves out {missing} of its permissions)"
                    ))));
                }
            }
            return Ok(Grants::all(new));
        }
        Ok(match (listed, before) {
            (None, Some(before)) => before.clone(),
            (None, None) => Grants::none(new),
            (Some(mut grants), before) => {
                if let (Some(spoken), Some(before)) = (&self.spoken, before) {
                    for ord in before.ordinals() {
                        if !spoken.contains(new.leaf_node(ord).key.as_str()) {
                            grants.set(ord, true);
                        }
                    }
                }
                grants
            }
        })
    }

    /// `step` measured against `current`, the role it updates: its name, description
    /// and grant changes and its outcome. A change to the built-in role's name or
    /// description is refused, and so is any change to a fixed role from a file that
    /// does not mark it fixed.
    fn compare_with(
        &self,
        path: &str,
        record: &RoleRecord,
        current: &Role,
        before: Option<Grants>,
        mut step: RoleStep,
    ) -> Result<RoleStep> {
        let new = &self.catalog_plan.catalog;
        let changes = name_and_description_changes(
            (&current.name, &current.description),
            (&step.name, &step.description),
        );
        if step.builtin && !changes.is_empty() {
            let err = role::ensure_editable(&current.name, true).unwrap_err();
            return Err(at(&format!("{path}.{}", changes[0].field))(err));
        }
        let before = before.unwrap_or_else(|| Grants::none(new));
        let (added, removed) = step.grants.diff(&before);
        let keys = |ords: Vec<usize>| -> Vec<String> {
            let mut k: Vec<String> = ords.iter().map(|&o| new.leaf_node(o).key.clone()).collect();
            k.sort();
            k
        };
        let (added, removed) = (keys(added), keys(removed));
        // A fixed role changes only with the catalog's definition: from a
        // file that marks it fixed (a rolecall/3 export), as `catalog load`
        // would write it; any other file that would change it is refused.
        let fixed = self.snapshot.model.fixed_roles.contains(&current.name);
        let changes_it = !changes.is_empty() || !added.is_empty() || !removed.is_empty();
        if fixed && changes_it && record.fixed != Some(true) {
            let err = role::ensure_unlocked(&current.name, false, true).unwrap_err();
            return Err(at(path)(err));
        }
        step.outcome = if changes.is_empty() && added.is_empty() && removed.is_empty() {
            Outcome::Unchanged
        } else {
            Outcome::Changed
        };
        step.id = Some(current.id);
        step.changes = changes;
        step.added = added;
        step.removed = removed;
        Ok(step)
    }
}

/// Whether the role at `path` is the built-in one, checked against the file's mark:
/// only the Administrator role is built in, and the file must say so of it.
fn builtin_mark(
    path: &str,
    name: &str,
    record: &RoleRecord,
    current: Option<&Role>,
) -> Result<bool> {
    let is_administrator = name_key(name) == name_key(ADMINISTRATOR);
    if record.builtin && !is_administrator {
        return Err(invalid_at(
            format!("{path}.builtin"),
            format!("only the {ADMINISTRATOR} role is built in"),
        ));
    }
    let builtin = current.map_or(is_administrator, |c| c.builtin);
    if builtin && !record.builtin {
        return Err(invalid_at(
            format!("{path}.builtin"),
            format!(
                "\"{}\" is the built-in role; the file must say \"builtin\": true",
                excerpt(name)
            ),
        ));
    }
    Ok(builtin)
}

// ---------------------------------------------------------------------------------
// Import plans: packages
// ---------------------------------------------------------------------------------

/// The file's packages, in the file's order, matched to the database's by name
/// ignoring case; their roles by name, from the file or the database. Also returns
/// the file's package names by folded name, with their entry numbers.
fn plan_packages(
    snapshot: &Snapshot,
    role_names: &HashMap<String, String>,
    records: &[PackageRecord],
) -> Result<(Vec<PackageStep>, HashMap<String, usize>)> {
    let mut packages = Vec::with_capacity(records.len());
    let mut package_index: HashMap<String, usize> = HashMap::new();
    for (i, record) in records.iter().enumerate() {
        packages.push(plan_package(
            snapshot,
            role_names,
            i,
            record,
            &mut package_index,
        )?);
    }
    Ok((packages, package_index))
}

/// Entry `i` of the file's packages: a new package, or the changes to the one it
/// names.
fn plan_package(
    snapshot: &Snapshot,
    role_names: &HashMap<String, String>,
    i: usize,
    record: &PackageRecord,
    seen: &mut HashMap<String, usize>,
) -> Result<PackageStep> {
    let (path, name, description) = unique_entry(
        "package",
        i,
        &record.name,
        record.description.as_deref(),
        seen,
    )?;
    let current = snapshot
        .packages
        .iter()
        .find(|p| name_key(&p.name) == name_key(&name));
    // Its roles before, under the names they will have afterwards.
    let before: Vec<&str> = current
        .map(|c| c.roles.iter().map(|(_, n)| n.as_str()).collect())
        .unwrap_or_default();
    let mut roles_after: Vec<String> = match &record.roles {
        None => before
            .iter()
            .map(|n| {
                role_names
                    .get(&name_key(n))
                    .cloned()
                    .unwrap_or(n.to_string())
            })
            .collect(),
        Some(list) => listed_package_roles(role_names, &path, list)?,
    };
    roles_after.sort();
    let before_keys: HashSet<String> = before.iter().map(|n| name_key(n)).collect();
    let after_keys: HashSet<String> = roles_after.iter().map(|n| name_key(n)).collect();
    let roles_added: Vec<String> = roles_after
        .iter()
        .filter(|n| !before_keys.contains(&name_key(n)))
        .cloned()
        .collect();
    let mut roles_removed: Vec<String> = before
        .iter()
        .filter(|n| !after_keys.contains(&name_key(n)))
        .map(|n| n.to_string())
        .collect();
    roles_removed.sort();
    let Some(current) = current else {
        return Ok(PackageStep {
            outcome: Outcome::Added,
            id: None,
            name,
            description: description.unwrap_or_default(),
            roles: roles_after,
            changes: Vec::new(),
            roles_added,
            roles_removed,
        });
    };
    let description = description.unwrap_or_else(|| current.description.clone());
    let changes =
        name_and_description_changes((&current.name, &current.description), (&name, &description));
    let outcome = if changes.is_empty() && roles_added.is_empty() && roles_removed.is_empty() {
        Outcome::Unchanged
    } else {
        Outcome::Changed
    };
    Ok(PackageStep {
        outcome,
        id: Some(current.id),
        name,
        description,
        roles: roles_after,
        changes,
        roles_added,
        roles_removed,
    })
}

/// A package's `roles` list from the file, as the roles will be called afterwards;
/// each must name a role of the file or the database, once.
fn listed_package_roles(
    role_names: &HashMap<String, String>,
    path: &str,
    list: &[String],
) -> Result<Vec<String>> {
    let mut listed: HashMap<String, usize> = HashMap::with_capacity(list.len());
    let mut out = Vec::with_capacity(list.len());
    for (j, spec) in list.iter().enumerate() {
        let role = resolve_role(role_names, format!("{path}.roles[{j}]"), spec)?;
        if let Some(k) = listed.insert(name_key(&role), j) {
            return Err(invalid_at(
                format!("{path}.roles[{j}]"),
                format!("\"{}\" is listed twice (also roles[{k}])", excerpt(spec)),
            ));
        }
        out.push(role);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------
// Import plans: users
// ---------------------------------------------------------------------------------

/// What planning the file's users needs besides the file: the database's users and
/// their packages, and the names roles and packages will have afterwards.
struct UserPlanner<'a> {
    /// The database's users by username.
    existing: HashMap<&'a str, &'a User>,
    /// The names of each user's packages before, sorted.
    memberships: HashMap<&'a str, Vec<&'a str>>,
    role_names: &'a HashMap<String, String>,
    package_names: &'a HashMap<String, String>,
    /// The default role afterwards, which a new user without a `role` gets.
    default_role: &'a str,
}

/// The file's users as planned, with what the rules across users need.
struct PlannedUsers {
    steps: Vec<UserStep>,
    /// The file's usernames, with their entry numbers.
    seen: HashMap<String, usize>,
    /// The entry that says `"owner": true`, if any.
    marked_owner: Option<usize>,
}

impl UserPlanner<'_> {
    /// The file's users, in the file's order, matched to the database's by username.
    fn plan(&self, records: &[UserRecord]) -> Result<PlannedUsers> {
        let mut planned = PlannedUsers {
            steps: Vec::with_capacity(records.len()),
            seen: HashMap::with_capacity(records.len()),
            marked_owner: None,
        };
        for (i, record) in records.iter().enumerate() {
            let step = self.plan_user(i, record, &mut planned)?;
            planned.steps.push(step);
        }
        Ok(planned)
    }

    /// Entry `i` of the file's users: a new user, or the changes to the one it names.
    /// Records its username and owner mark in `planned`.
    fn plan_user(
        &self,
        i: usize,
        record: &UserRecord,
        planned: &mut PlannedUsers,
    ) -> Result<UserStep> {
        let path = format!("users[{i}]");
        let username = validate::username(&record.username).map_err(at(&path))?;
        if let Some(j) = planned.seen.insert(username.clone(), i) {
            return Err(invalid_at(
                format!("{path}.username"),
                format!("\"{username}\" is listed twice (also users[{j}])"),
            ));
        }
        let current = self.existing.get(username.as_str()).copied();
        if current.is_none() && record.email.is_none() {
            return Err(invalid_at(
                format!("{path}.email"),
                "is required for a new user",
            ));
        }
        let profile = user_profile(&path, record, current)?;
        let role = self.user_role(&path, record, current)?;
        let active = record.active.or(current.map(|u| u.active)).unwrap_or(true);
        if record.owner == Some(true) {
            if let Some(j) = planned.marked_owner {
                return Err(invalid_at(
                    format!("{path}.owner"),
                    format!("only one user can be the owner, and users[{j}] is marked already"),
                ));
            }
            planned.marked_owner = Some(i);
        }
        if let Some(u) = current.filter(|u| u.owner) {
            user::ensure_owner_kept(u, &role, active).map_err(at(&path))?;
        }
        let before: &[&str] = current
            .and_then(|u| self.memberships.get(u.username.as_str()))
            .map_or(&[], |v| v.as_slice());
        let (packages, packages_added, packages_removed) = match &record.packages {
            None => (None, Vec::new(), Vec::new()),
            Some(list) => {
                let (after, added, removed) = self.user_packages(&path, list, before)?;
                (Some(after), added, removed)
            }
        };
        let mut step = UserStep {
            outcome: Outcome::Added,
            id: current.map(|u| u.id),
            owner: current.is_some_and(|u| u.owner),
            username,
            profile,
            role,
            active,
            packages,
            packages_added,
            packages_removed,
            changes: Vec::new(),
        };
        if let Some(u) = current {
            step.changes = user_changes(u, &step, before);
            step.outcome = if step.changes.is_empty() {
                Outcome::Unchanged
            } else {
                Outcome::Changed
            };
        }
        Ok(step)
    }

    /// The user's role afterwards: the file's (`""` is no direct role: the user
    /// reaches roles through packages only), else their current one under its new
    /// name, else, for a new user, the default role.
    fn user_role(&self, path: &str, record: &UserRecord, current: Option<&User>) -> Result<String> {
        Ok(match (&record.role, current) {
            (Some(spec), _) if spec.is_empty() => String::new(),
            (Some(spec), _) => resolve_role(self.role_names, format!("{path}.role"), spec)?,
            (None, Some(u)) => self
                .role_names
                .get(&name_key(&u.role))
                .cloned()
                .unwrap_or_else(|| u.role.clone()),
            (None, None) => self.default_role.to_string(),
        })
    }

    /// The file's `packages` list of a user, which is their whole membership: the
    /// names afterwards (sorted), the packages joined and those left (`before` is the
    /// current membership). Each must name a package of the file or the database, once.
    fn user_packages(
        &self,
        path: &str,
        list: &[String],
        before: &[&str],
    ) -> Result<(Vec<String>, Vec<String>, Vec<String>)> {
        let mut listed: HashMap<String, usize> = HashMap::with_capacity(list.len());
        let mut after = Vec::with_capacity(list.len());
        for (j, spec) in list.iter().enumerate() {
            let key = name_key(spec);
            let Some(name) = self.package_names.get(&key) else {
                return Err(invalid_at(
                    format!("{path}.packages[{j}]"),
                    format!(
                        "there is no package \"{}\" in the file or the database",
                        excerpt(spec)
                    ),
                ));
            };
            if let Some(k) = listed.insert(key, j) {
                return Err(invalid_at(
                    format!("{path}.packages[{j}]"),
                    format!("\"{}\" is listed twice (also packages[{k}])", excerpt(spec)),
                ));
            }
            after.push(name.clone());
        }
        after.sort();
        let added: Vec<String> = after
            .iter()
            .filter(|n| !before.iter().any(|b| name_key(b) == name_key(n)))
            .cloned()
            .collect();
        let removed: Vec<String> = before
            .iter()
            .filter(|b| !listed.contains_key(&name_key(b)))
            .map(|b| b.to_string())
            .collect();
        Ok((after, added, removed))
    }
}

/// The user's profile afterwards: each field the file gives, else the current one
/// (empty for a new user), validated as a whole.
fn user_profile(path: &str, record: &UserRecord, current: Option<&User>) -> Result<Profile> {
    let base = current.map(profile_of).unwrap_or_default();
    let pick = |new: &Option<String>, old: String| new.clone().unwrap_or(old);
    Profile {
        email: pick(&record.email, base.email),
        first_name: pick(&record.first_name, base.first_name),
        last_name: pick(&record.last_name, base.last_name),
        position: pick(&record.position, base.position),
        signature: pick(&record.signature, base.signature),
        timezone: pick(&record.timezone, base.timezone),
        language: pick(&record.language, base.language),
    }
    .validated()
    .map_err(at(path))
}

/// The fields `step` changes in `u`, the user it updates, in the order a plan shows
/// them; `before` is the user's current membership.
fn user_changes(u: &User, step: &UserStep, before: &[&str]) -> Vec<FieldChange> {
    let old = profile_of(u);
    let profile = &step.profile;
    let mut changes = Vec::new();
    for (field, before, after) in [
        ("email", &old.email, &profile.email),
        ("first_name", &old.first_name, &profile.first_name),
        ("last_name", &old.last_name, &profile.last_name),
        ("position", &old.position, &profile.position),
        ("signature", &old.signature, &profile.signature),
        ("timezone", &old.timezone, &profile.timezone),
        ("language", &old.language, &profile.language),
    ] {
        if before != after {
            changes.push(change(field, before.clone(), after.clone()));
        }
    }
    if name_key(&u.role) != name_key(&step.role) {
        changes.push(change("role", u.role.clone(), step.role.clone()));
    }
    if u.active != step.active {
        changes.push(change("active", u.active, step.active));
    }
    if !step.packages_added.is_empty() || !step.packages_removed.is_empty() {
        changes.push(change("packages", json!(before), json!(step.packages)));
    }
    changes
}

/// Ownership: taken from the file only into a database without users, where the file
/// must mark exactly one active Administrator as the owner. Into a database with an
/// owner, import never moves ownership; the notes say so when the file disagrees.
fn settle_ownership(
    snapshot: &Snapshot,
    users: &mut [UserStep],
    marked_owner: Option<usize>,
    seen: &HashMap<String, usize>,
) -> Result<Vec<String>> {
    let mut notes = Vec::new();
    match snapshot.users.iter().find(|u| u.owner) {
        None if !users.is_empty() => {
            let Some(i) = marked_owner else {
                return Err(invalid_at(
                    "users",
                    "the database has no users yet, so the file must mark exactly one of them as the owner (\"owner\": true), an active Administrator",
                ));
            };
            let step = &mut users[i];
            if !step.active {
                return Err(invalid_at(
                    format!("users[{i}].active"),
                    "the owner must be active",
                ));
            }
            if name_key(&step.role) != name_key(ADMINISTRATOR) {
                return Err(invalid_at(
                    format!("users[{i}].role"),
                    format!("the owner must hold the {ADMINISTRATOR} role"),
                ));
            }
            step.owner = true;
        }
        None => {}
        Some(owner) => {
            let owner_name = excerpt(&owner.username);
            if let Some(i) = marked_owner.filter(|&i| users[i].username != owner.username) {
                notes.push(format!(
                    "the file marks \"{}\" as the owner, but import never moves ownership: \"{owner_name}\" stays the owner (users transfer-ownership moves it)",
                    excerpt(&users[i].username)
                ));
            } else if marked_owner.is_none() && seen.contains_key(&owner.username) {
                notes.push(format!(
                    "the file does not mark \"{owner_name}\" as the owner, but import never moves ownership: \"{owner_name}\" stays the owner"
                ));
            }
        }
    }
    Ok(notes)
}

/// Emails stay unique across the file and the users it leaves alone (`seen` holds the
/// file's usernames).
fn ensure_unique_emails(
    snapshot: &Snapshot,
    users: &[UserStep],
    seen: &HashMap<String, usize>,
) -> Result<()> {
    let mut emails: HashMap<String, String> = HashMap::with_capacity(snapshot.users.len());
    for u in &snapshot.users {
        if !seen.contains_key(&u.username) {
            emails.insert(
                name_key(&u.email),
                format!("\"{}\", who is not in the file", excerpt(&u.username)),
            );
        }
    }
    for (i, step) in users.iter().enumerate() {
        let holder = format!("users[{i}] (\"{}\")", step.username);
        if let Some(other) = emails.insert(name_key(&step.profile.email), holder) {
            return Err(invalid_at(
                format!("users[{i}].email"),
                format!(
                    "\"{}\" is already the email of {other}",
                    excerpt(&step.profile.email)
                ),
            ));
        }
    }
    Ok(())
}

/// A user step as the audit log records it: every stored field but the password.
pub fn user_audit(step: &UserStep) -> Value {
    let mut v = serde_json::to_value(&step.profile).unwrap_or_else(|_| json!({}));
    v["username"] = json!(step.username);
    v["role"] = json!(step.role);
    if let Some(packages) = &step.packages {
        v["packages"] = json!(packages);
    }
    v["active"] = json!(step.active);
    v["owner"] = json!(step.owner);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = "[[permission]]\nkey = \"a\"\nlabel = \"A\"\n[[permission]]\nkey = \"a.x\"\nlabel = \"AX\"\n[[permission]]\nkey = \"a.y\"\nlabel = \"AY\"\n[[permission]]\nkey = \"b\"\nlabel = \"B\"\n[[permission]]\nkey = \"b.z\"\nlabel = \"BZ\"\n";

    fn role(id: i64, name: &str, builtin: bool, catalog: &Catalog, keys: &[&str]) -> Role {
        Role {
            id,
            name: name.into(),
            description: String::new(),
            builtin,
            grants: if builtin {
                Grants::all(catalog)
            } else {
                Grants::from_keys(catalog, keys.iter().copied())
            },
            users: 0,
            version: 1,
            created_seq: 0,
            created_at: String::new(),
            updated_at: String::new(),
            updated_by: String::new(),
        }
    }

    fn user(id: i64, name: &str, role: &str, owner: bool) -> User {
        User {
            id,
            username: name.into(),
            email: format!("{name}@example.com"),
            first_name: String::new(),
            last_name: String::new(),
            position: String::new(),
            signature: String::new(),
            timezone: "UTC".into(),
            language: "en".into(),
            role: role.into(),
            role_id: 0,
            active: true,
            owner,
            has_password: false,
            created_at: String::new(),
            updated_at: String::new(),
            version: 1,
            created_seq: 0,
            updated_by: String::new(),
        }
    }

    fn snapshot() -> Snapshot {
        let catalog = Catalog::from_toml(SMALL).unwrap();
        Snapshot {
            roles: vec![
                role(1, ADMINISTRATOR, true, &catalog, &[]),
                role(2, "Viewer", false, &catalog, &["a.x", "b.z"]),
            ],
            users: vec![
                user(1, "alice", ADMINISTRATOR, true),
                user(2, "bob", "Viewer", false),
            ],
            packages: Vec::new(),
            model: Default::default(),
            default_role: "Viewer".into(),
            catalog,
        }
    }

    #[test]
    fn an_export_planned_against_its_own_database_changes_nothing() {
        let snap = snapshot();
        let plan = plan_import(&snap, &export(&snap)).unwrap();
        assert!(!plan.changes_anything());
        assert_eq!(plan.role_counts(), (0, 0, 2));
        assert_eq!(plan.user_counts(), (0, 0, 2));
        assert!(plan.notes.is_empty());
    }

    #[test]
    fn the_format_tag_is_checked_before_anything_else() {
        let err = parse_document(r#"{"format": "other/9", "users": 3}"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            "import: format: \"other/9\" is not a format this rolecall reads (it reads \"rolecall/3\", \"rolecall/2\" and \"rolecall/1\")"
        );
        let err = parse_document(r#"{"users": []}"#).unwrap_err();
        assert!(
            err.to_string().starts_with("import: format: missing"),
            "{err}"
        );
    }

    #[test]
    fn type_errors_name_the_path_and_the_line() {
        let text = "{\n  \"format\": \"rolecall/1\",\n  \"users\": [\n    {\"username\": \"bob\", \"active\": 1}\n  ]\n}";
        let err = parse_document(text).unwrap_err().to_string();
        assert_eq!(
            err,
            "import: users[0].active: invalid type: integer `1`, expected a boolean (line 4, column 35)"
        );
        let err = parse_document("{\"format\": \"rolecall/1\",").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("import: line 1, column 24: EOF"),
            "{err}"
        );
    }

    #[test]
    fn catalog_plans_find_added_relabelled_dropped_and_gained_leaves() {
        let snap = snapshot();
        let file = Catalog::from_toml(&SMALL.replace("label = \"AX\"", "label = \"AX2\"").replace(
            "[[permission]]\nkey = \"b.z\"\nlabel = \"BZ\"\n",
            "[[permission]]\nkey = \"c\"\nlabel = \"C\"\n",
        ))
        .unwrap();
        let plan = plan_catalog(&snap.catalog, &snap.roles, &file, false).unwrap();
        assert_eq!(plan.added, ["c"]);
        assert_eq!(plan.relabelled, ["a.x"]);
        assert_eq!(plan.removed, ["b.z"]);
        assert_eq!(
            plan.gained,
            ["b", "c"],
            "b lost its only child and is a leaf now"
        );
        assert_eq!(plan.dropped.len(), 1);
        assert_eq!(plan.dropped[0].key, "b.z");
        assert_eq!(plan.dropped[0].roles, ["Viewer"]);
        let err = ensure_prune_allowed(&plan, false).unwrap_err();
        assert_eq!(err.exit_code(), 3);
        assert!(
            err.to_string()
                .contains("b.z (granted by 1 role besides Administrator)"),
            "{err}"
        );
        assert!(ensure_prune_allowed(&plan, true).is_ok());
        let viewer = plan.carry(&snap.catalog, &snap.roles[1]);
        assert_eq!(viewer.keys(&plan.catalog), ["a.x"]);
        let admin = plan.carry(&snap.catalog, &snap.roles[0]);
        assert_eq!(admin.count(), plan.catalog.leaf_count());
    }

    #[test]
    fn an_import_keeps_grants_on_leaves_its_catalog_does_not_list() {
        let snap = snapshot();
        let mut doc = export(&snap);
        // The file knows only category "a"; Viewer's grant of b.z is not its business.
        doc.catalog = Some(Catalog::from_toml(SMALL).unwrap().entries()[..3].to_vec());
        let viewer = doc.roles.iter_mut().find(|r| r.name == "Viewer").unwrap();
        viewer.granted = Some(vec!["a.y".into()]);
        for r in &mut doc.roles {
            if r.builtin {
                r.granted = Some(vec!["a.x".into(), "a.y".into()]);
            }
        }
        let plan = plan_import(&snap, &doc).unwrap();
        assert_eq!(plan.catalog.kept, ["b", "b.z"]);
        let step = plan.roles.iter().find(|r| r.name == "Viewer").unwrap();
        assert_eq!(step.grants.keys(&plan.catalog.catalog), ["a.y", "b.z"]);
        assert_eq!(step.added, ["a.y"]);
        assert_eq!(step.removed, ["a.x"]);
    }

    #[test]
    fn ownership_is_taken_from_the_file_only_into_a_database_without_users() {
        let snap = snapshot();
        let doc = export(&snap);
        let empty = Snapshot {
            users: Vec::new(),
            ..snapshot()
        };
        let plan = plan_import(&empty, &doc).unwrap();
        let owners: Vec<&str> = plan
            .users
            .iter()
            .filter(|u| u.owner)
            .map(|u| u.username.as_str())
            .collect();
        assert_eq!(owners, ["alice"]);

        let mut moved = doc.clone();
        moved.users[0].owner = Some(false);
        moved.users[1].owner = Some(true);
        moved.users[1].role = Some(ADMINISTRATOR.into());
        let plan = plan_import(&snap, &moved).unwrap();
        assert!(
            plan.users
                .iter()
                .find(|u| u.username == "alice")
                .unwrap()
                .owner
        );
        assert!(
            !plan
                .users
                .iter()
                .find(|u| u.username == "bob")
                .unwrap()
                .owner
        );
        assert_eq!(plan.notes.len(), 1);
        assert!(plan.notes[0].contains("import never moves ownership"));
    }

    #[test]
    fn csv_cells_that_a_spreadsheet_would_run_are_neutralised() {
        assert_eq!(csv_field("=cmd|' /C calc'!A0"), "'=cmd|' /C calc'!A0");
        assert_eq!(csv_field("+1"), "'+1");
        assert_eq!(csv_field("-2+3"), "'-2+3");
        assert_eq!(csv_field("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_field("\t=1"), "'\t=1");
        assert_eq!(csv_field("\r=1"), "\"'\r=1\"");
        assert_eq!(csv_field("=1,2"), "\"'=1,2\"");
        let mut snap = snapshot();
        snap.users[1].first_name = "=HYPERLINK(\"http://x\")".into();
        snap.users[1].last_name = "\u{1b}[2J\u{9b}1m\u{202e}".into();
        snap.users[1].signature = "one\ntwo\r".into();
        let csv = users_csv(&snap);
        assert!(csv.contains(",\"'=HYPERLINK(\"\"http://x\"\")\","), "{csv}");
    }

    #[test]
    fn a_byte_order_mark_before_the_document_is_skipped() {
        let text = format!(
            "\u{FEFF}{}",
            serde_json::to_string(&export(&snapshot())).unwrap()
        );
        let doc = parse_document(&text).unwrap();
        assert_eq!(doc.users.len(), 2);
    }

    #[test]
    fn errors_quote_at_most_an_excerpt_of_the_file() {
        let long = "x".repeat(10_000);
        let text = format!(
            r#"{{"format": "rolecall/1", "users": [{{"username": "bob", "active": "{long}"}}]}}"#
        );
        let err = parse_document(&text).unwrap_err().to_string();
        assert!(err.len() < 400, "{err}");
        assert!(
            err.contains("users[0].active: invalid type: string \"xxx"),
            "{err}"
        );
        assert!(err.contains("…\", expected a boolean"), "{err}");
        let text = format!(r#"{{"format": "rolecall/1", "users": [{{"{long}": 1}}]}}"#);
        let err = parse_document(&text).unwrap_err().to_string();
        assert!(err.len() < 1000, "{err}");
        let text = format!(r#"{{"format": "{long}"}}"#);
        let err = parse_document(&text).unwrap_err().to_string();
        assert!(err.len() < 400, "{err}");
    }

    #[test]
    fn an_import_matches_a_stored_role_whose_name_holds_invisible_characters() {
        // Another program stored "Viewer" with a tag character after it; the file's
        // "viewer" is that role, not a second one that looks the same.
        let mut snap = snapshot();
        snap.roles[1].name = "Viewer\u{E0020}".into();
        snap.users[1].role = "Viewer\u{E0020}".into();
        let mut doc = export(&snapshot());
        doc.roles.retain(|r| r.name == "Viewer");
        doc.roles[0].name = "viewer".into();
        doc.users.clear();
        let plan = plan_import(&snap, &doc).unwrap();
        assert_eq!(plan.roles.len(), 1);
        assert_eq!(plan.roles[0].outcome, Outcome::Changed);
        assert_eq!(plan.roles[0].id, Some(2));
        assert_eq!(plan.roles_not_in_file, [ADMINISTRATOR]);
    }

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_field("a=b"), "a=b");
        let csv = users_csv(&snapshot());
        assert_eq!(csv.lines().count(), 3);
        assert!(csv.starts_with("username,email,"));
    }
}
