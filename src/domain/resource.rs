//! Resources, exceptions and fixed roles (SPEC §11): the `[[resource_type]]` and
//! `[[role]]` tables of a catalog file, the per-resource exception of a role, and the
//! decision for one resource (`check --on`). Pure: the store reads and writes, this
//! decides.
//!
//! The rule, once: for each path by which a user holds a role (direct, or through a
//! package), the role's exception for the resource, if it has one, replaces the
//! role's general grants of the permissions the resource's type scopes; the other
//! permissions come from the general grants. For a team-owned type the user must also
//! share a package with the resource or hold the type's bypass permission (a general
//! grant: exceptions never decide whether a resource can be seen at all).

use std::collections::HashSet;
use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::domain::access::{Decision, Via};
use crate::domain::catalog::{self, Catalog, CatalogEntry, Grants, MAX_LABEL};
use crate::domain::role::ADMINISTRATOR;
use crate::domain::user::User;
use crate::domain::validate;
use crate::error::{Error, Result};
use crate::text::display_safe;

/// One `[[resource_type]]` table of a catalog file, as written.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceTypeEntry {
    pub key: String,
    pub label: String,
    #[serde(default)]
    pub scoped: Vec<String>,
    #[serde(default)]
    pub team_owned: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bypass: Option<String>,
}

/// One `[[role]]` table of a catalog file: a fixed role, as written.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FixedRoleEntry {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub grants: Vec<String>,
}

/// A checked resource type: its key is one snake_case segment, its scoped keys and
/// its bypass are nodes of the catalog it was checked against.
pub type ResourceType = ResourceTypeEntry;

/// A checked fixed role: a valid, unique name that is not `Administrator`, and grant
/// specs that resolve in the catalog.
pub type FixedRole = FixedRoleEntry;

/// A whole catalog file: the permissions, the resource types and the fixed roles, all
/// checked against each other. A file that breaks a rule is refused with the line of
/// the table and the reason.
#[derive(Debug, Clone)]
pub struct CatalogFile {
    pub catalog: Catalog,
    pub resource_types: Vec<ResourceType>,
    pub roles: Vec<FixedRole>,
    /// `[operator]`: the permissions that carry the Administration rights.
    pub operator: crate::domain::authz::OperatorKeys,
}

impl CatalogFile {
    pub fn from_toml(text: &str) -> Result<CatalogFile> {
        let parsed = catalog::parse_file(text)?;
        let catalog = Catalog::from_entries(
            parsed
                .permissions
                .into_iter()
                .map(|(e, line)| (e, Some(line))),
        )?;
        let mut resource_types = Vec::new();
        for (entry, line) in parsed.resource_types {
            check_resource_type(&catalog, &entry, &resource_types)
                .map_err(|m| catalog::catalog_error(Some(line), m))?;
            resource_types.push(entry);
        }
        let mut roles = Vec::new();
        for (mut entry, line) in parsed.roles {
            check_fixed_role(&catalog, &mut entry, &roles)
                .map_err(|m| catalog::catalog_error(Some(line), m))?;
            roles.push(entry);
        }
        let operator = match parsed.operator {
            Some((entry, line)) => crate::domain::authz::OperatorKeys::from_entry(entry, &catalog)
                .map_err(|m| catalog::catalog_error(Some(line), m))?,
            None => Default::default(),
        };
        Ok(CatalogFile {
            catalog,
            resource_types,
            roles,
            operator,
        })
    }

    /// The permissions as entries, for a catalog plan.
    pub fn entries(&self) -> Vec<CatalogEntry> {
        self.catalog.entries()
    }
}

/// Type keys the Casbin export already uses as subject prefixes (`role:NAME`,
/// `package:NAME`, `everyone:`), so a resource `TYPE:KEY` never names one of them.
const RESERVED_TYPE_KEYS: &[&str] = &["role", "package", "everyone"];

/// Checks one resource type against `catalog` and the types before it: the rules a
/// catalog file's `[[resource_type]]` and an import's `resource_types` share.
pub fn check_resource_type(
    catalog: &Catalog,
    entry: &ResourceTypeEntry,
    earlier: &[ResourceType],
) -> std::result::Result<(), String> {
    catalog::validate_key(&entry.key)
        .map_err(|m| format!("resource type {}", m.trim_start_matches("the ")))?;
    if entry.key.contains('.') {
        return Err(format!(
            "resource type key \"{}\" must be one snake_case word, without dots",
            entry.key
        ));
    }
    if RESERVED_TYPE_KEYS.contains(&entry.key.as_str()) {
        return Err(format!(
            "resource type key \"{}\" is reserved (the Casbin export names roles, packages and everyone with {})",
            entry.key,
            RESERVED_TYPE_KEYS.join(", ")
        ));
    }
    catalog::validate_text("label", &entry.label, MAX_LABEL, true)
        .map_err(|m| format!("{m} (resource type {})", entry.key))?;
    if earlier.iter().any(|t| t.key == entry.key) {
        return Err(format!("resource type \"{}\" is listed twice", entry.key));
    }
    let mut seen = HashSet::new();
    for key in &entry.scoped {
        if catalog.find(key).is_none() {
            return Err(format!(
                "resource type \"{}\" scopes \"{}\", which is not a permission or category of this file",
                entry.key,
                display_safe(key)
            ));
        }
        if !seen.insert(key.as_str()) {
            return Err(format!(
                "resource type \"{}\" scopes \"{key}\" twice",
                entry.key
            ));
        }
    }
    if let Some(bypass) = &entry.bypass {
        if !entry.team_owned {
            return Err(format!(
                "resource type \"{}\" has a bypass but is not team_owned; a bypass only lets users see team-owned resources",
                entry.key
            ));
        }
        let is_leaf = catalog
            .find(bypass)
            .is_some_and(|i| catalog.node(i).is_leaf());
        if !is_leaf {
            return Err(format!(
                "the bypass \"{}\" of resource type \"{}\" must be a permission (a leaf) of this file",
                display_safe(bypass),
                entry.key
            ));
        }
    }
    Ok(())
}

fn check_fixed_role(
    catalog: &Catalog,
    entry: &mut FixedRoleEntry,
    earlier: &[FixedRole],
) -> std::result::Result<(), String> {
    entry.name = validate::role_name(&entry.name).map_err(|e| format!("role {e}"))?;
    entry.description = validate::description(&entry.description)
        .map_err(|e| format!("role \"{}\": {e}", entry.name))?;
    let key = crate::text::name_key(&entry.name);
    if key == crate::text::name_key(ADMINISTRATOR) {
        return Err(format!(
            "role \"{}\" is the built-in role; a catalog cannot define it",
            entry.name
        ));
    }
    if earlier
        .iter()
        .any(|r| crate::text::name_key(&r.name) == key)
    {
        return Err(format!("role \"{}\" is listed twice", entry.name));
    }
    for spec in &entry.grants {
        if catalog.resolve(spec).is_err() {
            return Err(format!(
                "role \"{}\" grants \"{}\", which is not a permission or category of this file (nor `all`)",
                entry.name,
                display_safe(spec)
            ));
        }
    }
    Ok(())
}

/// The grants a fixed role's specs name in `catalog`.
pub fn fixed_role_grants(catalog: &Catalog, role: &FixedRole) -> Result<Grants> {
    let mut grants = Grants::none(catalog);
    for spec in &role.grants {
        grants.set_range(catalog.resolve(spec)?, true);
    }
    Ok(grants)
}

/// The leaves a type scopes, as a set of grants: the leaves of each scoped node.
pub fn scope(catalog: &Catalog, rtype: &ResourceType) -> Grants {
    let mut mask = Grants::none(catalog);
    for key in &rtype.scoped {
        if let Some(i) = catalog.find(key) {
            mask.set_range(catalog.node(i).leaves.clone(), true);
        }
    }
    mask
}

/// The resource part of a database, for export and Casbin: types in catalog order,
/// resources by type and key, and each role's exceptions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceModel {
    pub types: Vec<ResourceType>,
    /// With their packages, by type and key.
    pub resources: Vec<Resource>,
    /// (role name, `TYPE:KEY`) → the exception's granted leaf keys, sorted.
    pub exceptions: std::collections::BTreeMap<(String, String), Vec<String>>,
    /// Names of the fixed roles.
    pub fixed_roles: std::collections::BTreeSet<String>,
}

impl ResourceModel {
    /// True when the database uses nothing of SPEC §11, so exports keep the older
    /// format and Casbin its three-field request.
    pub fn is_empty(&self) -> bool {
        self.types.is_empty() && self.resources.is_empty() && self.fixed_roles.is_empty()
    }
}

/// A registered resource (SPEC §11): `(type, key)` is unique.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resource {
    #[serde(skip)]
    pub id: i64,
    #[serde(rename = "type")]
    pub type_key: String,
    pub key: String,
    pub label: String,
    /// The packages it is assigned to, sorted.
    pub packages: Vec<String>,
}

impl Resource {
    /// `database:newsletter`.
    pub fn spec(&self) -> String {
        format!("{}:{}", self.type_key, self.key)
    }
}

/// Longest resource key and label.
pub const MAX_RESOURCE_KEY: usize = 200;

/// Splits `TYPE:KEY` as typed on the command line.
pub fn parse_spec(spec: &str) -> Result<(&str, &str)> {
    match spec.split_once(':') {
        Some((t, k)) if !t.is_empty() && !k.is_empty() => Ok((t, k)),
        _ => Err(Error::invalid(
            "resource",
            format!(
                "\"{}\" is not TYPE:KEY (for example database:newsletter)",
                crate::text::excerpt(spec)
            ),
        )),
    }
}

/// A resource key: 1 to 200 characters, no control or invisible characters, no
/// leading or trailing space (the application's own id for a database or a list).
pub fn validate_resource_key(key: &str) -> Result<String> {
    if key.is_empty() || key.trim() != key {
        return Err(Error::invalid(
            "key",
            "a resource key must not be empty or start or end with a space",
        ));
    }
    if key.chars().count() > MAX_RESOURCE_KEY {
        return Err(Error::invalid(
            "key",
            format!("a resource key is at most {MAX_RESOURCE_KEY} characters"),
        ));
    }
    if crate::text::has_unsafe(key) {
        return Err(Error::invalid(
            "key",
            "a resource key must not hold control or invisible characters",
        ));
    }
    Ok(key.to_string())
}

/// A resource label: up to 100 characters on one line (empty: the key is shown).
pub fn validate_resource_label(label: &str) -> Result<String> {
    catalog::validate_text("label", label, MAX_LABEL, false)
        .map_err(|m| Error::invalid("label", m))?;
    if label.contains('\n') {
        return Err(Error::invalid("label", "a label is one line"));
    }
    Ok(label.trim().to_string())
}

/// The set an exception stores after `grant` and `revoke`: it starts from `current`
/// (the exception as it is) or else from the role's general grants of the scoped
/// permissions, and every spec must lie wholly inside what the type scopes.
pub fn edit_exception(
    catalog: &Catalog,
    rtype: &ResourceType,
    general: &Grants,
    current: Option<&Grants>,
    grant: &[String],
    revoke: &[String],
) -> Result<Grants> {
    let mask = scope(catalog, rtype);
    let mut set = Grants::none(catalog);
    let start = current.unwrap_or(general);
    for ord in start.ordinals().filter(|&o| mask.contains(o)) {
        set.set(ord, true);
    }
    let scoped = |spec: &String| -> Result<Range<usize>> {
        let range = catalog.resolve(spec)?;
        if range.is_empty() || range.clone().any(|o| !mask.contains(o)) {
            return Err(Error::invalid(
                "permission",
                format!(
                    "{} is not scoped by resource type \"{}\", so an exception cannot change it (the type scopes: {})",
                    display_safe(spec),
                    rtype.key,
                    if rtype.scoped.is_empty() {
                        "nothing".to_string()
                    } else {
                        rtype.scoped.join(", ")
                    }
                ),
            ));
        }
        Ok(range)
    };
    let grants = grant.iter().map(scoped).collect::<Result<Vec<_>>>()?;
    let revokes = revoke.iter().map(scoped).collect::<Result<Vec<_>>>()?;
    for range in grants {
        set.set_range(range, true);
    }
    for range in revokes {
        set.set_range(range, false);
    }
    Ok(set)
}

/// What one role grants on one resource: its general grants, with the scoped
/// permissions taken from its exception when it has one.
pub fn grants_on(general: &Grants, exception: Option<&Grants>, mask: &Grants) -> Grants {
    let Some(exception) = exception else {
        return general.clone();
    };
    let mut out = general.clone();
    for ord in 0..out.len() {
        if mask.contains(ord) {
            out.set(ord, exception.contains(ord));
        }
    }
    out
}

/// A role the user holds, how, and its exception for the resource asked about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourcePath {
    pub via: Via,
    pub grants: Grants,
    pub exception: Option<Grants>,
}

impl ResourcePath {
    fn describe(&self) -> String {
        let role = display_safe(&self.via.role);
        match &self.via.package {
            None => format!("role \"{role}\" (direct)"),
            Some(p) => format!("role \"{role}\" in package \"{}\"", display_safe(p)),
        }
    }
}

/// Whether the user may see a resource of a team-owned type, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Visibility {
    pub visible: bool,
    /// The packages the user shares with the resource, sorted.
    pub shared_packages: Vec<String>,
    /// The user holds the type's bypass permission.
    pub bypass: bool,
}

/// Decides `key` for `user` on `resource` of type `rtype`. `paths` are the roles the
/// user holds, each with its exception for this resource; `user_packages` are the
/// packages the user is in. A category key is allowed when any leaf under it is.
pub fn decide_on(
    catalog: &Catalog,
    user: &User,
    rtype: &ResourceType,
    resource: &Resource,
    paths: &[ResourcePath],
    user_packages: &[String],
    key: &str,
) -> Result<(Decision, Option<Visibility>)> {
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
    let mask = scope(catalog, rtype);
    let question = Question {
        key,
        leaves: node.leaves.clone(),
        label: catalog.path_label(idx),
        is_leaf: node.is_leaf(),
        rtype,
        spec: display_safe(&resource.spec()).into_owned(),
        scoped_here: node.leaves.clone().any(|o| mask.contains(o)),
        mask,
    };
    let name = display_safe(&user.username);
    let mut reasons = Vec::new();
    if !user.active {
        reasons.push(format!(
            "user \"{name}\" is disabled, and a disabled user has no permissions; enable them with `rolecall users set {name} --active true`"
        ));
    }
    let visibility = rtype
        .team_owned
        .then(|| visibility_of(catalog, rtype, resource, paths, user_packages));
    if let Some(v) = &visibility {
        reasons.push(team_reason(&question, resource, v, &name));
    }
    let visible = visibility.as_ref().is_none_or(|v| v.visible);

    // The reasons so far (disabled, team rule) come first, then the paths that
    // grant (they decide), then the ones that do not.
    let mut denying = Vec::new();
    let mut granting = Vec::new();
    for path in paths {
        let (grants, reason) = question.path_reason(path);
        if grants {
            granting.push((path.via.clone(), reason));
        } else {
            denying.push(reason);
        }
    }
    if paths.is_empty() {
        denying.push(format!(
            "user \"{name}\" has no direct role and is in no package that includes a role, so they hold no permissions"
        ));
    }
    let allowed = user.active && visible && !granting.is_empty();
    reasons.extend(granting.iter().map(|(_, r)| r.clone()));
    reasons.extend(denying);
    Ok((
        Decision {
            username: user.username.clone(),
            permission: key.to_string(),
            allowed,
            role: user.role.clone(),
            via: if allowed {
                granting.into_iter().map(|(v, _)| v).collect()
            } else {
                Vec::new()
            },
            reasons,
        },
        visibility,
    ))
}

/// What [`decide_on`] asks, worked out once for all the user's paths: the permission
/// (a leaf or a category), the resource and its type, and the leaves the type scopes.
struct Question<'a> {
    key: &'a str,
    /// The permission's leaves and its label path.
    leaves: Range<usize>,
    label: String,
    is_leaf: bool,
    rtype: &'a ResourceType,
    /// The resource as `TYPE:KEY`, display-safe.
    spec: String,
    /// The leaves the resource type scopes.
    mask: Grants,
    /// The type scopes one of the permission's leaves, so an exception decides here.
    scoped_here: bool,
}

impl Question<'_> {
    /// Whether `path` grants the permission on the resource, and the reason that says
    /// so or not: through its exception, or its general grant and why that applies.
    fn path_reason(&self, path: &ResourcePath) -> (bool, String) {
        let (key, spec) = (self.key, &self.spec);
        let on = grants_on(&path.grants, path.exception.as_ref(), &self.mask);
        let count = on.count_in(self.leaves.clone());
        let general = path.grants.count_in(self.leaves.clone());
        let what = if self.is_leaf {
            format!("{key} ({})", self.label)
        } else {
            format!(
                "{count} of the {} permissions under {key} ({})",
                self.leaves.len(),
                self.label
            )
        };
        let reason = match (&path.exception, self.scoped_here, count > 0) {
            (Some(_), true, true) => {
                format!("{}'s exception for {spec} grants {what}", path.describe())
            }
            (Some(_), true, false) => {
                if general > 0 {
                    format!(
                        "{} grants {key} in general, but its exception for {spec} does not",
                        path.describe()
                    )
                } else {
                    format!(
                        "{}'s exception for {spec} does not grant {key}",
                        path.describe()
                    )
                }
            }
            (_, _, true) => {
                let no_exception = if self.scoped_here && path.exception.is_none() {
                    format!(": its general grant, with no exception for {spec}")
                } else if self.scoped_here {
                    String::new()
                } else {
                    format!(
                        ": its general grant, as resource type \"{}\" does not scope {key}",
                        self.rtype.key
                    )
                };
                format!("{} grants {what}{no_exception}", path.describe())
            }
            (_, _, false) => format!("{} does not grant {key}", path.describe()),
        };
        (count > 0, reason)
    }
}

/// Whether a user in `user_packages`, holding `paths`, may see `resource` of the
/// team-owned type `rtype`: through a package they share with it, or the type's
/// bypass permission.
fn visibility_of(
    catalog: &Catalog,
    rtype: &ResourceType,
    resource: &Resource,
    paths: &[ResourcePath],
    user_packages: &[String],
) -> Visibility {
    let mine: HashSet<&str> = user_packages.iter().map(String::as_str).collect();
    let shared_packages: Vec<String> = resource
        .packages
        .iter()
        .filter(|p| mine.contains(p.as_str()))
        .cloned()
        .collect();
    let bypass = rtype.bypass.as_ref().is_some_and(|b| {
        catalog.find(b).is_some_and(|i| {
            let ord = catalog.node(i).leaves.start;
            paths.iter().any(|p| p.grants.contains(ord))
        })
    });
    Visibility {
        visible: !shared_packages.is_empty() || bypass,
        shared_packages,
        bypass,
    }
}

/// The team rule's reason for user `name` on a team-owned resource: the packages
/// they share with it, the bypass they hold, or why they cannot use it and how to
/// change that.
fn team_reason(question: &Question<'_>, resource: &Resource, v: &Visibility, name: &str) -> String {
    let (rtype, spec) = (question.rtype, &question.spec);
    let quoted = |names: &[String]| {
        names
            .iter()
            .map(|p| format!("\"{}\"", display_safe(p)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let bypass = rtype.bypass.as_deref().unwrap_or_default();
    if !v.shared_packages.is_empty() {
        format!(
            "{} resources are team-owned: {name} may see {spec} because they share package {} with it",
            rtype.label,
            quoted(&v.shared_packages)
        )
    } else if v.bypass {
        format!(
            "{} resources are team-owned: {name} shares no package with {spec}, but holds {bypass}, which sees every one",
            rtype.label
        )
    } else {
        let owners = if resource.packages.is_empty() {
            "it is assigned to no package".to_string()
        } else {
            format!("it is assigned to {}", quoted(&resource.packages))
        };
        let hint = match &rtype.bypass {
            Some(b) => format!(", nor holds {b}"),
            None => String::new(),
        };
        format!(
            "{} resources are team-owned: {name} shares no package with {spec} ({owners}){hint}, so they cannot use it; add them with `rolecall packages add-user PACKAGE {name}` or assign the resource with `rolecall resources assign {spec} PACKAGE`",
            rtype.label
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
[[permission]]
key = "contacts"
label = "Contacts"
[[permission]]
key = "contacts.view"
label = "View"
[[permission]]
key = "contacts.export"
label = "Export"
[[permission]]
key = "reports"
label = "Reports"
[[permission]]
key = "admin"
label = "Admin"
[[permission]]
key = "admin.all_lists"
label = "Assign Team Resources"

[[resource_type]]
key = "database"
label = "Database"
scoped = ["contacts"]

[[resource_type]]
key = "list"
label = "List"
scoped = ["contacts.view"]
team_owned = true
bypass = "admin.all_lists"

[[role]]
name = "Reports Only"
description = "Only reports."
grants = ["reports"]
"#;

    fn file() -> CatalogFile {
        CatalogFile::from_toml(FILE).unwrap()
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
            role: "Editor".into(),
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

    fn resource(t: &str, packages: &[&str]) -> Resource {
        Resource {
            id: 1,
            type_key: t.into(),
            key: "weekly".into(),
            label: String::new(),
            packages: packages.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn path(
        c: &Catalog,
        package: Option<&str>,
        keys: &[&str],
        exception: Option<&[&str]>,
    ) -> ResourcePath {
        ResourcePath {
            via: Via {
                role: "Editor".into(),
                package: package.map(str::to_string),
            },
            grants: Grants::from_keys(c, keys.iter().copied()),
            exception: exception.map(|e| Grants::from_keys(c, e.iter().copied())),
        }
    }

    #[test]
    fn a_catalog_file_with_types_and_roles_parses() {
        let f = file();
        assert_eq!(f.resource_types.len(), 2);
        assert_eq!(f.roles[0].name, "Reports Only");
        let g = fixed_role_grants(&f.catalog, &f.roles[0]).unwrap();
        assert_eq!(g.keys(&f.catalog), ["reports"]);
    }

    #[test]
    fn broken_types_and_roles_are_refused_with_their_line() {
        let cases = [
            (
                FILE.replace("key = \"database\"", "key = \"Data base\""),
                "line 21: resource type key",
            ),
            (
                FILE.replace("key = \"database\"", "key = \"data.base\""),
                "line 21: resource type key \"data.base\" must be one snake_case word",
            ),
            (
                FILE.replace("key = \"database\"", "key = \"package\""),
                "line 21: resource type key \"package\" is reserved",
            ),
            (
                FILE.replace("key = \"list\"", "key = \"database\""),
                "line 26: resource type \"database\" is listed twice",
            ),
            (
                FILE.replace("scoped = [\"contacts\"]", "scoped = [\"contacts.fly\"]"),
                "line 21: resource type \"database\" scopes \"contacts.fly\", which is not",
            ),
            (
                FILE.replace(
                    "scoped = [\"contacts\"]",
                    "scoped = [\"contacts\", \"contacts\"]",
                ),
                "scopes \"contacts\" twice",
            ),
            (
                FILE.replace("team_owned = true\n", ""),
                "line 26: resource type \"list\" has a bypass but is not team_owned",
            ),
            (
                FILE.replace("bypass = \"admin.all_lists\"", "bypass = \"admin\""),
                "line 26: the bypass \"admin\" of resource type \"list\" must be a permission (a leaf)",
            ),
            (
                FILE.replace("label = \"Database\"", "label = \"\""),
                "line 21: the label is empty (resource type database)",
            ),
            (
                FILE.replace("name = \"Reports Only\"", "name = \"administrator\""),
                "line 33: role \"administrator\" is the built-in role",
            ),
            (
                FILE.replace("grants = [\"reports\"]", "grants = [\"reports.fly\"]"),
                "line 33: role \"Reports Only\" grants \"reports.fly\", which is not",
            ),
            (
                FILE.replace("name = \"Reports Only\"", "name = \"\""),
                "line 33: role name: must not be empty",
            ),
            (
                format!("{FILE}\n[[role]]\nname = \"reports only\"\n"),
                "line 38: role \"reports only\" is listed twice",
            ),
            (
                FILE.replace("team_owned = true", "team_owned = true\nshared = 1"),
                "line 31: unknown field `shared`",
            ),
        ];
        for (text, needle) in cases {
            let err = CatalogFile::from_toml(&text).unwrap_err().to_string();
            assert!(err.contains(needle), "{err:?} should contain {needle:?}");
            assert!(err.starts_with("catalog: "), "{err}");
        }
    }

    #[test]
    fn an_exception_replaces_the_general_grants_of_scoped_permissions_only() {
        let f = file();
        let c = &f.catalog;
        let db = &f.resource_types[0];
        let r = resource("database", &[]);
        let u = user(true);
        // General: view, export and reports; exception: view only.
        let p = path(
            c,
            None,
            &["contacts.view", "contacts.export", "reports"],
            Some(&["contacts.view"]),
        );
        let decide = |paths: &[ResourcePath], key: &str| {
            decide_on(c, &u, db, &r, paths, &[], key).unwrap().0
        };
        assert!(decide(std::slice::from_ref(&p), "contacts.view").allowed);
        let d = decide(std::slice::from_ref(&p), "contacts.export");
        assert!(!d.allowed);
        assert!(
            d.reasons[0].contains(
                "grants contacts.export in general, but its exception for database:weekly does not"
            ),
            "{:?}",
            d.reasons
        );
        // Not scoped: the general grant decides.
        let d = decide(std::slice::from_ref(&p), "reports");
        assert!(d.allowed);
        assert!(
            d.reasons[0].contains("does not scope reports"),
            "{:?}",
            d.reasons
        );
        // An exception can grant what the general set lacks.
        let q = path(c, Some("EU"), &[], Some(&["contacts.export"]));
        let d = decide(std::slice::from_ref(&q), "contacts.export");
        assert!(d.allowed);
        assert!(
            d.reasons[0].contains(
                "role \"Editor\" in package \"EU\"'s exception for database:weekly grants"
            ),
            "{:?}",
            d.reasons
        );
        // Without an exception, the general grant.
        let plain = path(c, None, &["contacts.export"], None);
        let d = decide(std::slice::from_ref(&plain), "contacts.export");
        assert!(d.allowed);
        assert!(
            d.reasons[0].contains("with no exception for database:weekly"),
            "{:?}",
            d.reasons
        );
        // Another path that grants in general still allows (the union of paths).
        assert!(decide(&[p, plain], "contacts.export").allowed);
        // A disabled user is denied.
        let (d, _) = decide_on(
            c,
            &user(false),
            db,
            &r,
            &[path(c, None, &["contacts.view"], None)],
            &[],
            "contacts.view",
        )
        .unwrap();
        assert!(!d.allowed);
    }

    #[test]
    fn team_owned_resources_need_a_shared_package_or_the_bypass() {
        let f = file();
        let c = &f.catalog;
        let list = &f.resource_types[1];
        let u = user(true);
        let p = path(c, None, &["contacts.view"], None);
        let mine = vec!["EU".to_string()];
        let decide = |r: &Resource, paths: &[ResourcePath], packages: &[String]| {
            decide_on(c, &u, list, r, paths, packages, "contacts.view").unwrap()
        };
        let (d, v) = decide(&resource("list", &["US"]), std::slice::from_ref(&p), &mine);
        assert!(!d.allowed);
        assert!(!v.unwrap().visible);
        assert!(d.reasons[0].contains("shares no package with list:weekly (it is assigned to \"US\"), nor holds admin.all_lists"), "{:?}", d.reasons);
        let (d, v) = decide(
            &resource("list", &["EU", "US"]),
            std::slice::from_ref(&p),
            &mine,
        );
        assert!(d.allowed);
        assert_eq!(v.unwrap().shared_packages, ["EU"]);
        assert!(
            d.reasons[0].contains("share package \"EU\""),
            "{:?}",
            d.reasons
        );
        let admin = path(c, None, &["contacts.view", "admin.all_lists"], None);
        let (d, v) = decide(&resource("list", &["US"]), &[admin], &mine);
        assert!(d.allowed);
        assert!(v.unwrap().bypass);
        assert!(
            d.reasons[0].contains("but holds admin.all_lists"),
            "{:?}",
            d.reasons
        );
        // A database is not team-owned: no package needed.
        let (d, v) = decide_on(
            c,
            &u,
            &f.resource_types[0],
            &resource("database", &[]),
            &[p],
            &[],
            "contacts.view",
        )
        .unwrap();
        assert!(d.allowed && v.is_none());
    }

    #[test]
    fn exceptions_are_limited_to_scoped_permissions() {
        let f = file();
        let c = &f.catalog;
        let db = &f.resource_types[0];
        let general = Grants::from_keys(c, ["contacts.view", "reports"]);
        let set = edit_exception(
            c,
            db,
            &general,
            None,
            &["contacts.export".into()],
            &["contacts.view".into()],
        )
        .unwrap();
        assert_eq!(set.keys(c), ["contacts.export"]);
        let again = edit_exception(
            c,
            db,
            &general,
            Some(&set),
            &[],
            &["contacts.export".into()],
        )
        .unwrap();
        assert_eq!(again.count(), 0);
        let err = edit_exception(c, db, &general, None, &["reports".into()], &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "permission: reports is not scoped by resource type \"database\", so an exception cannot change it (the type scopes: contacts)"
        );
        let err = edit_exception(c, db, &general, None, &[], &["all".into()]).unwrap_err();
        assert!(err.to_string().contains("all is not scoped"), "{err}");
    }

    #[test]
    fn resource_specs_keys_and_labels_are_checked() {
        assert_eq!(
            parse_spec("database:news:2026").unwrap(),
            ("database", "news:2026")
        );
        for bad in ["database", ":x", "database:"] {
            assert_eq!(parse_spec(bad).unwrap_err().exit_code(), 2);
        }
        assert!(validate_resource_key(" x").is_err());
        assert!(validate_resource_key("a\u{1b}b").is_err());
        assert!(validate_resource_key(&"k".repeat(201)).is_err());
        assert!(validate_resource_label(&"l".repeat(101)).is_err());
        assert_eq!(validate_resource_label(" Weekly ").unwrap(), "Weekly");
    }
}
