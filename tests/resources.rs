//! Resources, exceptions and fixed roles (SPEC §11) through the real binary: catalog
//! files with `[[resource_type]]` and `[[role]]`, the lock on fixed roles, resources
//! and their packages, exceptions, and `check --on`, `who-can --on` and the
//! `user_resource_permissions` view agreeing for every user, leaf and resource.

mod common;

use std::collections::BTreeSet;
use std::fs;

use common::*;

const CATALOG: &str = r#"
[[permission]]
key = "contacts"
label = "Contacts"
[[permission]]
key = "contacts.view"
label = "View contacts"
[[permission]]
key = "contacts.export"
label = "Export contacts"
[[permission]]
key = "reports"
label = "Reports"
[[permission]]
key = "administration"
label = "Administration"
[[permission]]
key = "administration.users"
label = "Manage users"
[[permission]]
key = "administration.all_lists"
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
bypass = "administration.all_lists"

[[role]]
name = "Reports Only"
description = "Only reports."
grants = ["reports"]
"#;

fn write(db: &Db, name: &str, text: &str) -> String {
    let path = db.dir().join(name);
    fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// alice (owner, Administrator); bob and carol on "Editor" (contacts, reports), carol
/// disabled later when a test says; dave on the fixed role "Reports Only" (reports),
/// in package "EU" which includes "Viewer" (contacts.view); bob is in "EU" too. Resources: database:news,
/// database:leads, list:weekly (assigned to "EU"), list:monthly (no package).
fn fixture() -> Db {
    let db = Db::with_owner();
    let file = write(&db, "catalog.toml", CATALOG);
    db.ok(&["catalog", "load", &file, "--prune"]);
    db.ok(&["roles", "create", "Editor"]);
    db.ok(&["roles", "grant", "Editor", "contacts", "reports"]);
    db.ok(&["roles", "create", "Viewer"]);
    db.ok(&["roles", "grant", "Viewer", "contacts.view"]);
    for user in ["bob", "carol"] {
        db.ok(&[
            "users",
            "add",
            user,
            "--email",
            &format!("{user}@example.com"),
            "--role",
            "Editor",
        ]);
    }
    db.ok(&[
        "users",
        "add",
        "dave",
        "--email",
        "dave@example.com",
        "--role",
        "Reports Only",
    ]);
    db.ok(&["packages", "create", "EU"]);
    db.ok(&["packages", "add-role", "EU", "Viewer"]);
    db.ok(&["packages", "add-user", "EU", "bob", "dave"]);
    db.ok(&[
        "resources",
        "add",
        "database",
        "news",
        "--label",
        "Newsletter",
    ]);
    db.ok(&["resources", "add", "database", "leads"]);
    db.ok(&["resources", "add", "list", "weekly", "--package", "EU"]);
    db.ok(&["resources", "add", "list", "monthly"]);
    db
}

#[test]
fn a_catalog_file_defines_resource_types_and_fixed_roles() {
    let db = fixture();
    let roles = db.json(&["roles", "list"]);
    let fixed: Vec<(String, bool)> = roles
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (s(&r["name"]), r["fixed"].as_bool().unwrap()))
        .collect();
    assert!(fixed.contains(&("Reports Only".into(), true)), "{fixed:?}");
    assert!(fixed.contains(&("Editor".into(), false)), "{fixed:?}");
    let list = db.ok(&["roles", "list"]);
    let line = list.lines().find(|l| l.contains("Reports Only")).unwrap();
    assert!(line.contains("fixed, locked"), "{list}");
    assert_eq!(db.granted("Reports Only"), ["reports"]);
    assert_eq!(db.json(&["roles", "show", "Reports Only"])["fixed"], true);
    let shown = db.ok(&["roles", "show", "Reports Only"]);
    assert!(
        shown.starts_with("Reports Only  (fixed by the catalog, locked)"),
        "{shown}"
    );
    let types: Vec<String> =
        db.sql_strings("SELECT key FROM resource_types ORDER BY position", &[]);
    assert_eq!(types, ["database", "list"]);
}

#[test]
fn a_broken_catalog_file_is_refused_with_its_line_and_changes_nothing() {
    let db = fixture();
    let before = db.dump();
    for (text, needle) in [
        (
            CATALOG.replace("team_owned = true\n", ""),
            "catalog: line 29: resource type \"list\" has a bypass but is not team_owned",
        ),
        (
            CATALOG.replace("scoped = [\"contacts\"]", "scoped = [\"contact\"]"),
            "catalog: line 24: resource type \"database\" scopes \"contact\", which is not",
        ),
        (
            CATALOG.replace("grants = [\"reports\"]", "grants = [\"report\"]"),
            "catalog: line 36: role \"Reports Only\" grants \"report\"",
        ),
        (
            CATALOG.replace(
                "bypass = \"administration.all_lists\"",
                "bypass = \"administration\"",
            ),
            "catalog: line 29: the bypass \"administration\" of resource type \"list\" must be a permission (a leaf)",
        ),
    ] {
        let file = write(&db, "broken.toml", &text);
        let run = db.run(&["catalog", "load", &file, "--prune"]);
        run.expect_code(2);
        assert!(
            run.stderr.contains(needle),
            "{} should contain {needle}",
            run.stderr
        );
    }
    assert_eq!(db.dump(), before, "nothing changed");
}

#[test]
fn fixed_roles_are_locked_but_can_be_cloned() {
    let db = fixture();
    let before = db.dump();
    for args in [
        &["roles", "grant", "Reports Only", "contacts.view"][..],
        &["roles", "revoke", "Reports Only", "reports"],
        &["roles", "rename", "Reports Only", "Mine"],
        &["roles", "describe", "Reports Only", "Mine"],
        &["roles", "delete", "Reports Only"],
        &[
            "roles",
            "exception",
            "set",
            "Reports Only",
            "database:news",
            "--grant",
            "contacts.view",
        ],
    ] {
        let run = db.run(args);
        run.expect_code(3);
        assert!(
            run.stderr.contains(
                "role \"Reports Only\" is a fixed role of the catalog: it cannot be edited"
            ),
            "{args:?}: {}",
            run.stderr
        );
        assert_eq!(run.stderr.trim_end().lines().count(), 1);
    }
    assert_eq!(db.dump(), before, "nothing changed");
    db.ok(&["roles", "create", "My Reports", "--from", "Reports Only"]);
    db.ok(&["roles", "grant", "My Reports", "contacts.view"]);
    assert_eq!(db.granted("My Reports"), ["contacts.view", "reports"]);
    assert_eq!(db.json(&["roles", "show", "My Reports"])["fixed"], false);
}

#[test]
fn catalog_load_updates_fixed_roles_and_releases_the_ones_it_drops() {
    let db = fixture();
    let changed = CATALOG.replace(
        "grants = [\"reports\"]",
        "grants = [\"reports\", \"contacts.view\"]",
    );
    let file = write(&db, "v2.toml", &changed);
    let out = db.ok(&["catalog", "load", &file]);
    assert!(out.contains("~ fixed role \"Reports Only\""), "{out}");
    assert_eq!(db.granted("Reports Only"), ["contacts.view", "reports"]);
    let audit = db.json(&["audit", "--target", "Reports Only", "--limit", "1"]);
    assert_eq!(
        audit[0]["after"]["granted"],
        serde_json::json!(["contacts.view", "reports"])
    );
    assert_eq!(
        audit[0]["before"]["granted"],
        serde_json::json!(["reports"])
    );

    let without = &CATALOG[..CATALOG.find("[[role]]").unwrap()];
    let file = write(&db, "v3.toml", without);
    let out = db.ok(&["catalog", "load", &file]);
    assert!(out.contains("- fixed role \"Reports Only\""), "{out}");
    assert_eq!(db.json(&["roles", "show", "Reports Only"])["fixed"], false);
    db.ok(&["roles", "grant", "Reports Only", "contacts.export"]);
    db.ok(&["roles", "delete", "Reports Only", "--reassign-to", "Viewer"]);
}

#[test]
fn a_fixed_role_cannot_take_over_an_editable_role_of_the_same_name() {
    let db = Db::with_owner();
    db.ok(&["roles", "create", "reports only"]);
    let before = db.dump();
    let file = write(&db, "catalog.toml", CATALOG);
    let run = db.run(&["catalog", "load", &file, "--prune"]);
    assert_field_error(&run, 2, "catalog");
    assert!(
        run.stderr.contains("already exists as an editable role"),
        "{}",
        run.stderr
    );
    assert_eq!(db.dump(), before);
}

#[test]
fn a_resource_type_with_resources_is_dropped_only_with_prune() {
    let db = fixture();
    db.ok(&[
        "roles",
        "exception",
        "set",
        "Editor",
        "database:news",
        "--revoke",
        "contacts.export",
    ]);
    let without_db = CATALOG.replace(
        "[[resource_type]]\nkey = \"database\"\nlabel = \"Database\"\nscoped = [\"contacts\"]\n",
        "",
    );
    let file = write(&db, "nodb.toml", &without_db);
    let before = db.dump();
    let run = db.run(&["catalog", "load", &file]);
    run.expect_code(3);
    assert!(
        run.stderr
            .contains("drops resource type \"database\", which has 2 resources"),
        "{}",
        run.stderr
    );
    assert_eq!(db.dump(), before);
    let dry = db.ok(&["catalog", "load", &file, "--dry-run"]);
    assert!(
        dry.contains("refuses this file: it drops resource type \"database\""),
        "{dry}"
    );
    assert_eq!(db.dump(), before, "a dry run changes nothing");
    db.ok(&["catalog", "load", &file, "--prune"]);
    let left: i64 = db.sql_strings(
        &format!(
            "SELECT CAST(({}) AS TEXT)",
            "SELECT count(*) FROM role_exceptions"
        ),
        &[],
    )[0]
    .parse()
    .unwrap();
    assert_eq!(left, 0);
    assert_eq!(db.json(&["resources", "list"]).as_array().unwrap().len(), 2);
}

#[test]
fn resources_are_added_listed_assigned_and_removed_with_their_exceptions() {
    let db = fixture();
    let list = db.json(&["resources", "list", "--type", "list"]);
    assert_eq!(list[0]["key"], "monthly");
    assert_eq!(list[1]["packages"], serde_json::json!(["EU"]));
    db.ok(&["packages", "create", "US"]);
    db.ok(&["resources", "assign", "list:monthly", "US", "eu"]);
    assert_eq!(
        db.json(&["resources", "list", "--type", "list"])[0]["packages"],
        serde_json::json!(["EU", "US"])
    );
    db.ok(&["resources", "unassign", "list:monthly", "EU"]);
    db.ok(&[
        "roles",
        "exception",
        "set",
        "Editor",
        "list:monthly",
        "--revoke",
        "contacts.view",
    ]);
    assert_eq!(
        db.json(&["resources", "list", "--type", "list"])[0]["exceptions"],
        1
    );

    // Bad input: one sentence, exit 2, nothing changed.
    let before = db.dump();
    assert_field_error(&db.run(&["resources", "add", "journey", "x"]), 2, "type");
    assert_field_error(&db.run(&["resources", "add", "list", "weekly"]), 2, "key");
    assert_field_error(&db.run(&["resources", "add", "list", " x"]), 2, "key");
    assert_field_error(
        &db.run(&["resources", "add", "list", "x", "--package", "Nope"]),
        2,
        "package",
    );
    assert_field_error(
        &db.run(&["resources", "remove", "list:nope"]),
        2,
        "resource",
    );
    assert_field_error(&db.run(&["resources", "remove", "weekly"]), 2, "resource");
    assert_field_error(
        &db.run(&["resources", "assign", "list:weekly", "Nope"]),
        2,
        "package",
    );
    assert_eq!(db.dump(), before);

    let assigned = db.json(&["resources", "assign", "list:monthly", "US"]);
    assert_eq!(assigned["exceptions"], 1);
    let removed = db.json(&["resources", "remove", "list:monthly"]);
    assert_eq!(removed["exceptions"], 1);
    assert_eq!(removed["packages"], serde_json::json!(["US"]));
    let count = |sql: &str| -> i64 {
        db.sql_strings(&format!("SELECT CAST(({sql}) AS TEXT)"), &[])[0]
            .parse()
            .unwrap()
    };
    assert_eq!(count("SELECT count(*) FROM role_exceptions"), 0);
    assert_eq!(count("SELECT count(*) FROM role_exception_grants"), 0);
    assert_eq!(
        count(
            "SELECT count(*) FROM package_resources pr JOIN packages p ON p.id = pr.package_id WHERE p.name = 'US'"
        ),
        0
    );
    let audit = db.json(&["audit", "--target", "list:monthly", "--limit", "1"]);
    assert_eq!(audit[0]["action"], "resource.remove");
    assert_eq!(audit[0]["before"]["packages"], serde_json::json!(["US"]));
    assert_eq!(
        audit[0]["before"]["exceptions"]["Editor"],
        serde_json::json!([])
    );
}

#[test]
fn a_role_created_from_another_takes_its_exceptions_too() {
    let db = fixture();
    db.ok(&[
        "roles",
        "exception",
        "set",
        "Editor",
        "database:news",
        "--revoke",
        "contacts.export",
    ]);
    db.ok(&["roles", "create", "Editor 2", "--from", "Editor"]);
    let copy = db.json(&["roles", "exception", "show", "Editor 2", "database:news"]);
    assert_eq!(copy["exception"], serde_json::json!(["contacts.view"]));
    // The copy's exceptions are its own.
    db.ok(&["roles", "exception", "clear", "Editor 2", "database:news"]);
    let original = db.json(&["roles", "exception", "show", "Editor", "database:news"]);
    assert_eq!(original["exception"], serde_json::json!(["contacts.view"]));
}

#[test]
fn deleting_a_role_removes_its_exceptions() {
    let db = fixture();
    db.ok(&["roles", "create", "Temp"]);
    db.ok(&[
        "roles",
        "exception",
        "set",
        "Temp",
        "database:news",
        "--grant",
        "contacts.export",
    ]);
    db.ok(&["roles", "delete", "Temp"]);
    let left: i64 = db.sql_strings(
        &format!(
            "SELECT CAST(({}) AS TEXT)",
            "SELECT count(*) FROM role_exceptions"
        ),
        &[],
    )[0]
    .parse()
    .unwrap();
    assert_eq!(left, 0);
    let audit = db.json(&["audit", "--target", "Temp", "--limit", "1"]);
    assert_eq!(
        audit[0]["before"]["exceptions"]["database:news"],
        serde_json::json!(["contacts.export"])
    );
}

#[test]
fn exceptions_are_limited_to_what_the_type_scopes() {
    let db = fixture();
    let before = db.dump();
    let run = db.run(&[
        "roles",
        "exception",
        "set",
        "Editor",
        "database:news",
        "--grant",
        "reports",
    ]);
    assert_field_error(&run, 2, "permission");
    assert!(
        run.stderr
            .contains("reports is not scoped by resource type \"database\""),
        "{}",
        run.stderr
    );
    let run = db.run(&[
        "roles",
        "exception",
        "set",
        "Editor",
        "list:weekly",
        "--revoke",
        "contacts",
    ]);
    assert_field_error(&run, 2, "permission");
    assert_field_error(
        &db.run(&["roles", "exception", "set", "Editor", "database:news"]),
        2,
        "grant",
    );
    assert_field_error(
        &db.run(&["roles", "exception", "show", "Nobody", "database:news"]),
        2,
        "role",
    );
    assert_field_error(
        &db.run(&[
            "roles",
            "exception",
            "set",
            "Editor",
            "database:news",
            "--grant",
            "contacts.fly",
        ]),
        2,
        "permission",
    );
    let run = db.run(&[
        "roles",
        "exception",
        "set",
        "Administrator",
        "database:news",
        "--revoke",
        "contacts",
    ]);
    run.expect_code(3);
    assert!(run.stderr.contains("built in"), "{}", run.stderr);
    assert_eq!(db.dump(), before);

    let shown = db.json(&[
        "roles",
        "exception",
        "set",
        "Editor",
        "database:news",
        "--revoke",
        "contacts.export",
    ]);
    assert_eq!(shown["exception"], serde_json::json!(["contacts.view"]));
    assert_eq!(
        shown["general"],
        serde_json::json!(["contacts.export", "contacts.view"])
    );
    let text = db.ok(&["roles", "exception", "show", "Editor", "database:news"]);
    assert!(
        text.contains("[ ] Export contacts (contacts.export)   (general [x])"),
        "{text}"
    );
    let audit = db.json(&["audit", "--action", "role.exception", "--limit", "1"]);
    assert_eq!(audit[0]["target"], "Editor");
    assert_eq!(
        audit[0]["after"]["granted"],
        serde_json::json!(["contacts.view"])
    );
    db.ok(&["roles", "exception", "clear", "Editor", "database:news"]);
    let shown = db.json(&["roles", "exception", "show", "Editor", "database:news"]);
    assert!(shown["exception"].is_null());
}

#[test]
fn resources_load_syncs_with_a_dry_run_and_a_prune_guard() {
    let db = fixture();
    db.ok(&[
        "roles",
        "exception",
        "set",
        "Editor",
        "database:leads",
        "--revoke",
        "contacts",
    ]);
    let file = write(
        &db,
        "resources.json",
        r#"[
  {"type": "database", "key": "news", "label": "The newsletter"},
  {"type": "list", "key": "weekly", "packages": ["EU"]},
  {"type": "list", "key": "monthly"},
  {"type": "list", "key": "daily", "label": "Daily", "packages": ["EU"]}
]"#,
    );
    let before = db.dump();
    let dry = db.ok(&["resources", "load", &file, "--dry-run"]);
    assert!(
        dry.contains("1 added, 1 changed, 2 unchanged, 1 not in the file"),
        "{dry}"
    );
    assert!(
        dry.contains("+ list:daily") && dry.contains("~ database:news"),
        "{dry}"
    );
    assert!(dry.contains("refuses this file"), "{dry}");
    assert_eq!(db.dump(), before, "a dry run changes nothing");
    let run = db.run(&["resources", "load", &file]);
    run.expect_code(3);
    assert!(
        run.stderr
            .contains("leaves out 1 registered resource (database:leads)"),
        "{}",
        run.stderr
    );
    assert_eq!(db.dump(), before);
    db.ok(&["resources", "load", &file, "--prune"]);
    let keys: Vec<String> = db
        .json(&["resources", "list"])
        .as_array()
        .unwrap()
        .iter()
        .map(|r| format!("{}:{}", s(&r["type"]), s(&r["key"])))
        .collect();
    assert_eq!(
        keys,
        ["database:news", "list:daily", "list:monthly", "list:weekly"]
    );
    let left: i64 = db.sql_strings(
        &format!(
            "SELECT CAST(({}) AS TEXT)",
            "SELECT count(*) FROM role_exceptions"
        ),
        &[],
    )[0]
    .parse()
    .unwrap();
    assert_eq!(left, 0, "the pruned resource's exception went with it");

    for (text, field_text) in [
        (
            "[{\"type\": \"journey\", \"key\": \"x\"}]",
            "[0]: type: there is no resource type",
        ),
        (
            "[{\"type\": \"list\", \"key\": \"x\", \"colour\": 1}]",
            "unknown field",
        ),
        (
            "[{\"type\": \"list\", \"key\": \"x\"}, {\"type\": \"list\", \"key\": \"x\"}]",
            "[1]: list:x is listed twice",
        ),
        (
            "[{\"type\": \"list\", \"key\": \"x\", \"packages\": [\"Nope\"]}]",
            "[0]: package: there is no package",
        ),
    ] {
        let bad = write(&db, "bad.json", text);
        let before = db.dump();
        let run = db.run(&["resources", "load", &bad, "--prune"]);
        assert_field_error(&run, 2, "file");
        assert!(run.stderr.contains(field_text), "{}", run.stderr);
        assert_eq!(db.dump(), before);
    }
}

#[test]
fn check_on_explains_exceptions_and_team_ownership() {
    let db = fixture();
    db.ok(&[
        "roles",
        "exception",
        "set",
        "Editor",
        "database:news",
        "--revoke",
        "contacts.export",
    ]);
    let run = db.run(&[
        "check",
        "carol",
        "contacts.export",
        "--on",
        "database:news",
        "--explain",
    ]);
    run.expect_code(1);
    assert!(run.stdout.contains("role \"Editor\" (direct) grants contacts.export in general, but its exception for database:news does not"), "{}", run.stdout);
    let run = db.run(&[
        "check",
        "carol",
        "contacts.export",
        "--on",
        "database:leads",
        "--explain",
    ]);
    run.expect_code(0);
    assert!(
        run.stdout
            .contains("its general grant, with no exception for database:leads"),
        "{}",
        run.stdout
    );
    // Without --on, the general grants.
    db.run(&["check", "carol", "contacts.export"])
        .expect_code(0);
    // Team-owned: bob shares EU with list:weekly, carol does not, alice holds the bypass.
    let run = db.run(&[
        "check",
        "bob",
        "contacts.view",
        "--on",
        "list:weekly",
        "--explain",
    ]);
    run.expect_code(0);
    assert!(
        run.stdout.contains("share package \"EU\""),
        "{}",
        run.stdout
    );
    let run = db.run(&[
        "check",
        "carol",
        "contacts.view",
        "--on",
        "list:weekly",
        "--explain",
    ]);
    run.expect_code(1);
    assert!(run.stdout.contains("carol shares no package with list:weekly (it is assigned to \"EU\"), nor holds administration.all_lists"), "{}", run.stdout);
    let run = db.run(&[
        "check",
        "alice",
        "contacts.view",
        "--on",
        "list:monthly",
        "--explain",
    ]);
    run.expect_code(0);
    assert!(
        run.stdout
            .contains("holds administration.all_lists, which sees every one"),
        "{}",
        run.stdout
    );
    let json = db.json(&["check", "bob", "contacts.view", "--on", "list:weekly"]);
    assert_eq!(json["team"]["shared_packages"], serde_json::json!(["EU"]));
    // Unknown resource or type: exit 2.
    assert_field_error(
        &db.run(&["check", "bob", "contacts.view", "--on", "list:nope"]),
        2,
        "resource",
    );
    assert_field_error(
        &db.run(&["check", "bob", "contacts.view", "--on", "journey:x"]),
        2,
        "type",
    );
}

/// Every user × leaf × resource: `check --on`, `who-can --on` and the view agree.
#[test]
fn check_on_who_can_on_and_the_view_agree_everywhere() {
    let db = fixture();
    db.ok(&[
        "roles",
        "exception",
        "set",
        "Editor",
        "database:news",
        "--revoke",
        "contacts.export",
    ]);
    db.ok(&[
        "roles",
        "exception",
        "set",
        "Viewer",
        "database:leads",
        "--grant",
        "contacts.export",
    ]);
    db.ok(&[
        "roles",
        "exception",
        "set",
        "Editor",
        "list:weekly",
        "--revoke",
        "contacts.view",
    ]);
    db.ok(&["users", "set", "carol", "--active", "false"]);
    let users = ["alice", "bob", "carol", "dave"];
    let leaves: Vec<String> = db.sql_strings("SELECT key FROM permissions p WHERE NOT EXISTS (SELECT 1 FROM permissions c WHERE c.parent = p.key)", &[]);
    assert_eq!(leaves.len(), 5);
    let resources = [
        "database:news",
        "database:leads",
        "list:weekly",
        "list:monthly",
    ];
    let view: BTreeSet<(String, String, String)> = db
        .sql_strings(
            "SELECT username || '|' || resource_type || ':' || resource_key || '|' || permission_key \
             FROM user_resource_permissions",
            &[],
        )
        .into_iter()
        .map(|row| {
            let mut parts = row.splitn(3, '|').map(str::to_string);
            let mut next = || parts.next().unwrap_or_default();
            (next(), next(), next())
        })
        .collect();
    let mut checked = BTreeSet::new();
    for resource in resources {
        for leaf in &leaves {
            let who: BTreeSet<String> = db
                .json(&["who-can", leaf, "--on", resource])
                .as_array()
                .unwrap()
                .iter()
                .map(|r| s(&r["username"]))
                .collect();
            for user in users {
                let code = db.run(&["check", user, leaf, "--on", resource]).code;
                let allowed = code == 0;
                assert!(code == 0 || code == 1);
                let key = (user.to_string(), resource.to_string(), leaf.clone());
                assert_eq!(
                    allowed,
                    view.contains(&key),
                    "check and the view differ on {key:?}"
                );
                assert_eq!(
                    allowed,
                    who.contains(user),
                    "check and who-can differ on {key:?}"
                );
                if allowed {
                    checked.insert(key);
                }
            }
        }
    }
    assert_eq!(checked, view, "the view holds nothing check denies");
    // The exceptions and team rules made a difference somewhere.
    assert!(!checked.contains(&(
        "bob".into(),
        "database:news".into(),
        "contacts.export".into()
    )));
    assert!(checked.contains(&(
        "dave".into(),
        "database:leads".into(),
        "contacts.export".into()
    )));
    assert!(
        checked.contains(&("bob".into(), "list:weekly".into(), "contacts.view".into())),
        "bob still sees weekly through Viewer in EU"
    );
    assert!(!checked.contains(&("bob".into(), "list:monthly".into(), "contacts.view".into())));
    assert!(!checked.iter().any(|(u, ..)| u == "carol"));
}

#[test]
fn the_view_answers_a_point_query_through_indexes() {
    if sqlite_only("SQLite's query plan") {
        return;
    }
    let db = fixture();
    let plan: Vec<String> = db
        .conn()
        .prepare(
            "EXPLAIN QUERY PLAN SELECT permission_key FROM user_resource_permissions \
             WHERE username = 'bob' AND resource_type = 'database' AND resource_key = 'news'",
        )
        .unwrap()
        .query_map([], |r| r.get::<_, String>(3))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    let text = plan.join("\n");
    assert!(
        !text.contains("SCAN u") && !text.contains("SCAN res"),
        "{text}"
    );
    assert!(
        text.contains("sqlite_autoindex_users_1") || text.contains("USING INDEX"),
        "{text}"
    );
}

#[test]
fn a_schema_1_file_upgrades_to_resources() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rolecall.db");
    fs::copy(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/schema1.db"),
        &path,
    )
    .unwrap();
    let roles = rc(&path, &["roles", "list", "--json"]);
    assert_eq!(roles.status.code(), Some(0));
    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, rolecall::store::SCHEMA_VERSION);
    let fixed: i64 = conn
        .query_row("SELECT count(*) FROM roles WHERE fixed = 1", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(fixed, 0);
    let rows: i64 = conn
        .query_row("SELECT count(*) FROM user_resource_permissions", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(rows, 0, "no resources yet");
}

/// The default catalog with a bypass permission, two resource types and a fixed role:
/// a catalog an import into a new database reproduces exactly.
fn extended_catalog() -> String {
    let mut text = fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/permissions.toml"),
    )
    .unwrap();
    text.push_str(
        r#"
[[permission]]
key = "administration.all_lists"
label = "Assign Team Resources"

[[resource_type]]
key = "database"
label = "Database"
scoped = ["contacts", "segmentation"]

[[resource_type]]
key = "list"
label = "List"
scoped = ["contact_lists"]
team_owned = true
bypass = "administration.all_lists"

[[role]]
name = "Reports Only"
description = "Only the statistics."
grants = ["statistics"]
"#,
    );
    text
}

/// alice (owner); bob on Campaign Manager in "EU"; carol on Read Only; dave on
/// "Reports Only" in "EU", whose role "Listers" grants contact_lists; erin disabled
/// on Full Access. Exceptions: Campaign Manager on database:news (no contacts.export),
/// Listers on list:weekly (view only), Read Only on database:leads (contacts.export).
fn model_fixture() -> Db {
    let db = Db::with_owner();
    let file = write(&db, "catalog.toml", &extended_catalog());
    db.ok(&["catalog", "load", &file]);
    for (user, role) in [
        ("bob", "Campaign Manager"),
        ("carol", "Read Only"),
        ("dave", "Reports Only"),
        ("erin", "Full Access"),
    ] {
        db.ok(&[
            "users",
            "add",
            user,
            "--email",
            &format!("{user}@example.com"),
            "--role",
            role,
        ]);
    }
    db.ok(&["users", "set", "erin", "--active", "false"]);
    db.ok(&["roles", "create", "Listers"]);
    db.ok(&["roles", "grant", "Listers", "contact_lists"]);
    db.ok(&["packages", "create", "EU"]);
    db.ok(&["packages", "add-role", "EU", "Listers"]);
    db.ok(&["packages", "add-user", "EU", "bob", "dave"]);
    db.ok(&[
        "resources",
        "add",
        "database",
        "news",
        "--label",
        "Newsletter",
    ]);
    db.ok(&["resources", "add", "database", "leads"]);
    db.ok(&["resources", "add", "list", "weekly", "--package", "EU"]);
    db.ok(&["resources", "add", "list", "a*b, c"]);
    db.ok(&[
        "roles",
        "exception",
        "set",
        "Campaign Manager",
        "database:news",
        "--revoke",
        "contacts.export",
    ]);
    db.ok(&[
        "roles",
        "exception",
        "set",
        "Listers",
        "list:weekly",
        "--revoke",
        "contact_lists",
        "--grant",
        "contact_lists.view",
    ]);
    db.ok(&[
        "roles",
        "exception",
        "set",
        "Read Only",
        "database:leads",
        "--grant",
        "contacts.export",
    ]);
    db
}

#[test]
fn export_with_resources_is_rolecall_3_and_round_trips_byte_identical() {
    let plain = Db::with_owner();
    assert_eq!(plain.json(&["export"])["format"], "rolecall/2");
    let db = model_fixture();
    let first = db.ok(&["export"]);
    let doc: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert_eq!(doc["format"], "rolecall/3");
    assert_eq!(
        doc["resource_types"][1]["bypass"],
        "administration.all_lists"
    );
    let reports = doc["roles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "Reports Only")
        .unwrap();
    assert_eq!(reports["fixed"], true);
    let file = write(&db, "export.json", &first);
    let other = Db::new();
    other.ok(&["import", &file]);
    assert_eq!(
        other.ok(&["export"]),
        first,
        "the round trip changes nothing"
    );
    assert_eq!(
        other.json(&["roles", "show", "Reports Only"])["fixed"],
        true
    );
    // Importing the same file again changes nothing.
    let again = other.ok(&["import", &file]);
    assert!(again.contains("nothing to change"), "{again}");
    // The same answers on both sides.
    for (user, perm, res) in [
        ("bob", "contacts.export", "database:news"),
        ("carol", "contacts.export", "database:leads"),
        ("dave", "contact_lists.edit", "list:weekly"),
        ("dave", "contact_lists.view", "list:weekly"),
    ] {
        assert_eq!(
            db.run(&["check", user, perm, "--on", res]).code,
            other.run(&["check", user, perm, "--on", res]).code,
            "{user} {perm} {res}"
        );
    }
}

#[test]
fn an_import_with_bad_resource_parts_is_refused_naming_where_and_changes_nothing() {
    let db = model_fixture();
    let doc: serde_json::Value = serde_json::from_str(&db.ok(&["export"])).unwrap();
    let cases: Vec<(serde_json::Value, &str)> = vec![
        {
            let mut d = doc.clone();
            d["resources"][0]["type"] = "journey".into();
            (
                d,
                "resources[0].type: there is no resource type \"journey\"",
            )
        },
        {
            let mut d = doc.clone();
            d["resource_types"][0]["scoped"] = serde_json::json!(["nope"]);
            (
                d,
                "resource_types[0]: resource type \"database\" scopes \"nope\"",
            )
        },
        {
            let mut d = doc.clone();
            let roles = d["roles"].as_array_mut().unwrap();
            let cm = roles
                .iter_mut()
                .find(|r| r["name"] == "Campaign Manager")
                .unwrap();
            cm["exceptions"]["database:news"] = serde_json::json!(["statistics.export"]);
            (
                d,
                "statistics.export is not a permission resource type \"database\" scopes",
            )
        },
        {
            let mut d = doc.clone();
            d["format"] = "rolecall/2".into();
            (d, "resource_types: is not part of \"rolecall/2\"")
        },
    ];
    let before = db.dump();
    for (bad, needle) in cases {
        let file = write(&db, "bad.json", &bad.to_string());
        for dry in [true, false] {
            let mut args = vec!["import", file.as_str()];
            if dry {
                args.push("--dry-run");
            }
            let run = db.run(&args);
            assert_field_error(&run, 2, "import");
            assert!(run.stderr.contains(needle), "{needle}: {}", run.stderr);
        }
    }
    assert_eq!(db.dump(), before);
}

const PYCASBIN: &str = r#"
import json, sys
import casbin
model, policy = sys.argv[1], sys.argv[2]
enforcer = casbin.Enforcer(model, policy)
queries = json.load(sys.stdin)
json.dump([bool(enforcer.enforce(u, r, o, a)) for u, r, o, a in queries], sys.stdout)
"#;

/// PyCasbin on the exported model and policy answers `enforce(user, TYPE:KEY, obj,
/// act)` exactly as `check --on` does, for every user, leaf and resource.
#[test]
fn casbin_export_with_resources_agrees_with_check_on_everywhere() {
    let available = std::process::Command::new("python3")
        .args(["-c", "import casbin"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !available {
        let why = "python3 with the casbin package is needed (python3 -m pip install casbin)";
        if std::env::var_os("CI").is_some() {
            panic!("{why}");
        }
        eprintln!("SKIPPED casbin_export_with_resources_agrees_with_check_on_everywhere: {why}");
        return;
    }
    let db = model_fixture();
    let dir = db.dir().join("casbin");
    db.ok(&["export", "--format", "casbin", "-o", dir.to_str().unwrap()]);
    let model = fs::read_to_string(dir.join("model.conf")).unwrap();
    assert!(model.contains("r = sub, res, obj, act"), "{model}");
    let policy = fs::read_to_string(dir.join("policy.csv")).unwrap();
    assert!(
        policy.lines().any(|l| l == "g, package:EU, list:weekly"),
        "{policy}"
    );
    assert!(
        policy.lines().any(|l| l.ends_with("list:a%2Ab%2C c")),
        "{policy}"
    );

    let users = ["alice", "bob", "carol", "dave", "erin", "nobody"];
    let resources = [
        "database:news",
        "database:leads",
        "list:weekly",
        "list:a*b, c",
    ];
    let leaves: Vec<String> = db.sql_strings("SELECT key FROM permissions p WHERE NOT EXISTS (SELECT 1 FROM permissions c WHERE c.parent = p.key) ORDER BY key", &[]);
    let mut queries = Vec::new();
    let mut expected = Vec::new();
    let view: BTreeSet<(String, String, String)> = db
        .sql_strings(
            "SELECT username || '|' || resource_type || ':' || resource_key || '|' || permission_key \
             FROM user_resource_permissions",
            &[],
        )
        .into_iter()
        .map(|row| {
            let mut parts = row.splitn(3, '|').map(str::to_string);
            let mut next = || parts.next().unwrap_or_default();
            (next(), next(), next())
        })
        .collect();
    for user in users {
        for res in resources {
            // The policy names a resource with its key encoded like any field.
            let subject = res.replace('*', "%2A").replace(',', "%2C");
            for leaf in &leaves {
                let (obj, act) = leaf.rsplit_once('.').unwrap_or(("", leaf));
                queries.push(serde_json::json!([user, subject, obj, act]));
                expected.push(view.contains(&(user.to_string(), res.to_string(), leaf.clone())));
            }
        }
    }
    let script = db.dir().join("enforce.py");
    fs::write(&script, PYCASBIN).unwrap();
    let mut child = std::process::Command::new("python3")
        .arg(&script)
        .arg(dir.join("model.conf"))
        .arg(dir.join("policy.csv"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(
            serde_json::Value::Array(queries.clone())
                .to_string()
                .as_bytes(),
        )
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "pycasbin: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answers: Vec<bool> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answers.len(), queries.len());
    // The view is check --on's answer (the agreement test above); spot-check here that
    // it is, then compare every answer with Casbin's.
    for (user, res, leaf) in [
        ("bob", "database:news", "contacts.export"),
        ("dave", "list:weekly", "contact_lists.view"),
        ("carol", "list:a*b, c", "contact_lists.view"),
    ] {
        let code = db.run(&["check", user, leaf, "--on", res]).code;
        assert_eq!(
            code == 0,
            view.contains(&(user.into(), res.into(), leaf.into()))
        );
    }
    let mut allowed = 0;
    for (i, q) in queries.iter().enumerate() {
        assert_eq!(
            answers[i], expected[i],
            "casbin and check --on disagree on {q}"
        );
        allowed += expected[i] as usize;
    }
    assert!(allowed > 100 && allowed < queries.len() / 2, "{allowed}");
}

#[test]
fn dry_runs_work_in_a_read_only_session_and_change_nothing() {
    let db = model_fixture();
    let before = db.dump();
    let changed = extended_catalog().replace(
        "grants = [\"statistics\"]",
        "grants = [\"statistics\", \"contacts.view\"]",
    );
    let file = write(&db, "catalog2.toml", &changed);
    let out = db.ok(&["--read-only", "catalog", "load", &file, "--dry-run"]);
    assert!(out.contains("~ fixed role \"Reports Only\""), "{out}");
    assert!(out.contains("dry run: nothing was changed"), "{out}");
    let list = write(
        &db,
        "resources.json",
        r#"[{"type": "list", "key": "daily"}, {"type": "database", "key": "news"}]"#,
    );
    let out = db.ok(&["--read-only", "resources", "load", &list, "--dry-run"]);
    assert!(out.contains("+ list:daily"), "{out}");
    let export = write(&db, "export.json", &db.ok(&["export"]));
    let out = db.ok(&["--read-only", "import", &export, "--dry-run"]);
    assert!(out.contains("dry run"), "{out}");
    // Without --dry-run, a read-only session refuses.
    db.run(&["--read-only", "resources", "load", &list])
        .expect_code(3);
    assert_eq!(db.dump(), before);
}

#[test]
fn an_import_changes_a_fixed_role_only_from_a_file_that_marks_it_fixed() {
    let db = model_fixture();
    let mut doc: serde_json::Value = serde_json::from_str(&db.ok(&["export"])).unwrap();
    let i = doc["roles"]
        .as_array()
        .unwrap()
        .iter()
        .position(|r| r["name"] == "Reports Only")
        .unwrap();
    doc["roles"][i]["granted"] = serde_json::json!(["contacts.view"]);
    let before = db.dump();
    // A rolecall/2 file (no fixed marks) that would change it is refused.
    let mut v2 = doc.clone();
    v2["format"] = "rolecall/2".into();
    let obj = v2.as_object_mut().unwrap();
    obj.remove("resource_types");
    obj.remove("resources");
    for role in v2["roles"].as_array_mut().unwrap() {
        let role = role.as_object_mut().unwrap();
        role.remove("fixed");
        role.remove("exceptions");
    }
    let file = write(&db, "v2.json", &v2.to_string());
    let run = db.run(&["import", &file]);
    run.expect_code(3);
    assert!(
        run.stderr.contains(&format!(
            "roles[{i}]: role \"Reports Only\" is a fixed role"
        )),
        "{}",
        run.stderr
    );
    assert_eq!(db.dump(), before);
    // The same change from a file that marks it fixed is the catalog's definition.
    let file = write(&db, "v3.json", &doc.to_string());
    db.ok(&["import", &file]);
    assert_eq!(db.granted("Reports Only"), ["contacts.view"]);
    assert_eq!(db.json(&["roles", "show", "Reports Only"])["fixed"], true);
}
