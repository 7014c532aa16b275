//! Acceptance tests: each runs the real `rolecall` binary against a fresh database in a
//! temporary folder (never the user's home) and proves one rule of SPEC.md.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;

use common::*;
use serde_json::Value;

// ---------------------------------------------------------------------------------
// 1. A new database
// ---------------------------------------------------------------------------------

/// The 13 categories of seed 001 and the permissions it lists under each, in order.
const SEED_001: &[(&str, &[&str])] = &[
    (
        "Contact Lists",
        &[
            "Add a list",
            "Make a copy",
            "Merge into another list",
            "Move contacts to another list",
            "Split List",
            "Edit List",
            "Delete Lists",
            "Delete lists Bulk",
        ],
    ),
    (
        "Contacts",
        &[
            "Add a contact",
            "View contact details",
            "View contact log",
            "Edit contact",
            "Delete contacts",
            "Import contacts",
            "Export contacts",
            "Bulk contacts update",
        ],
    ),
    (
        "Custom Fields",
        &[
            "Add a custom field",
            "Edit custom field",
            "Delete custom fields",
        ],
    ),
    (
        "Segmentation",
        &[
            "Add a segment",
            "View segment criteria",
            "View contacts",
            "Delete segments",
            "Export segments",
        ],
    ),
    (
        "Broadcasts",
        &[
            "Add a broadcast",
            "Edit broadcast",
            "Delete broadcasts",
            "Make a copy",
            "Schedule broadcast",
            "View scheduled broadcasts",
            "Delete scheduled broadcasts",
        ],
    ),
    (
        "Drip Campaigns",
        &[
            "View Drips",
            "Add drip group",
            "Add a drip",
            "Edit drip",
            "Delete drips",
            "Start drip campaigns",
        ],
    ),
    (
        "Split Tests",
        &[
            "Create a split test",
            "Edit split test",
            "Delete split tests",
        ],
    ),
    (
        "Triggers",
        &["Add a trigger", "Edit trigger", "Delete triggers"],
    ),
    (
        "Sending Nodes",
        &[
            "Add a sending node",
            "Edit sending node",
            "Delete sending nodes",
            "Test Connection",
        ],
    ),
    (
        "Sending Domains",
        &[
            "Add a sending domain",
            "Edit sending domain",
            "Delete sending domains",
        ],
    ),
    (
        "Web Forms",
        &[
            "Create a web form",
            "Edit web form",
            "Delete web forms",
            "Get HTML content",
        ],
    ),
    (
        "Statistics",
        &[
            "Broadcast statistics",
            "Trigger Statistics",
            "Detailed Stats",
            "Export Statistics",
        ],
    ),
    (
        "Suppression",
        &["Email Suppression", "Domains Suppression", "IP Suppression"],
    ),
];

const EXAMPLE_ROLES: [&str; 4] = [
    "Basic Access",
    "Campaign Manager",
    "Full Access",
    "Read Only",
];

/// The leaf of `category` whose label is `label`.
fn leaf_labelled(catalog: &[Category], category: &str, label: &str) -> String {
    let cat = catalog
        .iter()
        .find(|c| c.key == category)
        .unwrap_or_else(|| panic!("no category {category}"));
    cat.leaves
        .iter()
        .find(|(_, l)| l == label)
        .unwrap_or_else(|| panic!("{category} has no permission labelled {label:?}"))
        .0
        .clone()
}

/// The "View ..." leaf the catalog adds to `category` for the example roles.
fn view_leaf(catalog: &[Category], category: &str) -> String {
    let cat = catalog.iter().find(|c| c.key == category).unwrap();
    let seed: &[&str] = SEED_001
        .iter()
        .find(|(label, _)| *label == cat.label)
        .map(|(_, leaves)| *leaves)
        .unwrap();
    let added: Vec<&(String, String)> = cat
        .leaves
        .iter()
        .filter(|(_, label)| !seed.contains(&label.as_str()))
        .collect();
    assert_eq!(
        added.len(),
        1,
        "{category} should gain exactly one \"View ...\" permission: {added:?}"
    );
    assert!(added[0].1.starts_with("View"), "{added:?}");
    added[0].0.clone()
}

#[test]
fn new_database_has_the_seed_001_categories_and_their_permissions() {
    let db = Db::new();
    let catalog = db.catalog();
    let labels: Vec<&str> = catalog.iter().map(|c| c.label.as_str()).collect();
    let mut expected: Vec<&str> = SEED_001.iter().map(|(l, _)| *l).collect();
    expected.push("Administration");
    assert_eq!(labels, expected);

    for (category, seed_leaves) in SEED_001 {
        let cat = catalog.iter().find(|c| c.label == *category).unwrap();
        let have: Vec<&str> = cat.leaves.iter().map(|(_, l)| l.as_str()).collect();
        for leaf in *seed_leaves {
            assert!(have.contains(leaf), "{category} lacks {leaf:?}: {have:?}");
        }
        // Anything beyond the seed is a "View ..." permission the example roles need.
        for extra in have.iter().filter(|l| !seed_leaves.contains(l)) {
            assert!(extra.starts_with("View "), "{category} has {extra:?}");
        }
        for (key, _) in &cat.leaves {
            assert!(key.starts_with(&format!("{}.", cat.key)), "{key}");
        }
    }
    assert_eq!(
        leaf_labelled(&catalog, "contacts", "Export contacts"),
        "contacts.export"
    );
    let admin = catalog.last().unwrap();
    let admin_labels: Vec<&str> = admin.leaves.iter().map(|(_, l)| l.as_str()).collect();
    assert_eq!(
        admin_labels,
        ["Manage users", "Manage roles", "View audit log"]
    );

    // Every key is lowercase snake_case segments joined by dots, and unique.
    let keys = all_leaf_keys(&catalog);
    let unique: BTreeSet<&String> = keys.iter().collect();
    assert_eq!(unique.len(), keys.len());
    for key in &keys {
        assert!(
            key.split('.').all(|seg| !seg.is_empty()
                && seg.starts_with(|c: char| c.is_ascii_lowercase())
                && seg
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')),
            "{key}"
        );
    }
}

#[test]
fn new_database_has_a_locked_administrator_holding_every_permission() {
    let db = Db::new();
    let all = all_leaf_keys(&db.catalog());
    let admin = db.json(&["roles", "show", "Administrator"]);
    assert_eq!(admin["builtin"], Value::Bool(true));
    assert_eq!(strings(&admin["granted"]), all);
    assert_eq!(admin["total"].as_u64(), Some(all.len() as u64));
    let text = db.ok(&["roles", "list"]);
    let line = text
        .lines()
        .find(|l| l.contains("Administrator"))
        .expect("Administrator is listed");
    assert!(line.contains("locked"), "lock mark on: {line}");
    for name in EXAMPLE_ROLES {
        let line = text.lines().find(|l| l.contains(name)).unwrap();
        assert!(!line.contains("locked"), "{name} is editable: {line}");
        assert_eq!(
            db.json(&["roles", "show", name])["builtin"],
            Value::Bool(false)
        );
    }
}

#[test]
fn new_database_has_the_four_example_roles_with_the_seed_001_grants() {
    let db = Db::new();
    let catalog = db.catalog();
    let names: Vec<String> = db
        .json(&["roles", "list"])
        .as_array()
        .unwrap()
        .iter()
        .map(|r| s(&r["name"]))
        .collect();
    assert_eq!(names.len(), 5, "{names:?}");
    assert!(names.contains(&"Administrator".to_string()));
    for name in EXAMPLE_ROLES {
        assert!(names.contains(&name.to_string()), "{name} in {names:?}");
    }

    let label = |cat: &str, l: &str| leaf_labelled(&catalog, cat, l);
    let view_lists = view_leaf(&catalog, "contact_lists");
    let view_broadcasts = view_leaf(&catalog, "broadcasts");
    let view_fields = view_leaf(&catalog, "custom_fields");
    let contacts_view = label("contacts", "View contact details");
    let contacts_log = label("contacts", "View contact log");

    // Basic Access: lists and broadcasts view only, two contact views, broadcast stats.
    let basic = vec![
        view_lists.clone(),
        contacts_view.clone(),
        contacts_log.clone(),
        view_broadcasts.clone(),
        label("statistics", "Broadcast statistics"),
    ];
    assert_eq!(db.granted("Basic Access"), sorted(&basic));

    // Campaign Manager: lists, broadcasts, drips, split tests and statistics all;
    // contacts all except delete; custom fields view only.
    let mut manager = Vec::new();
    for cat in [
        "contact_lists",
        "broadcasts",
        "drip_campaigns",
        "split_tests",
        "statistics",
    ] {
        manager.extend(leaves_of(&catalog, cat));
    }
    let contacts_delete = label("contacts", "Delete contacts");
    manager.extend(
        leaves_of(&catalog, "contacts")
            .into_iter()
            .filter(|k| *k != contacts_delete),
    );
    manager.push(view_fields);
    assert_eq!(db.granted("Campaign Manager"), sorted(&manager));

    // Full Access: everything.
    assert_eq!(db.granted("Full Access"), all_leaf_keys(&catalog));

    // Read Only: like Basic Access but all statistics.
    let mut read_only = vec![view_lists, contacts_view, contacts_log, view_broadcasts];
    read_only.extend(leaves_of(&catalog, "statistics"));
    assert_eq!(db.granted("Read Only"), sorted(&read_only));
}

#[test]
fn new_database_file_is_mode_0600_and_parent_folders_are_created() {
    if sqlite_only("the file's mode") {
        return;
    }
    let db = Db::empty();
    let nested = db.dir().join("a").join("b").join("roles.db");
    let run = rc(&nested, &["roles", "set-default", "Read Only"]);
    assert_eq!(run.status.code(), Some(0), "{run:?}");
    let mode = fs::metadata(&nested).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "file mode {mode:o}");

    let db = Db::new();
    let mode = fs::metadata(db.path()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "file mode {mode:o}");
}

#[test]
fn new_database_has_no_users_and_a_current_schema_version() {
    if sqlite_only("the file's user_version") {
        return;
    }
    let db = Db::new();
    assert_eq!(db.json(&["users", "list"]), Value::Array(vec![]));
    let version: i64 = db
        .conn()
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert!(version >= 1, "user_version {version}");
    let journal: String = db
        .conn()
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(journal.to_lowercase(), "wal");
}

// ---------------------------------------------------------------------------------
// 2. Granting and revoking
// ---------------------------------------------------------------------------------

#[test]
fn granting_a_category_grants_exactly_its_leaves() {
    let db = Db::new();
    let catalog = db.catalog();
    db.ok(&["roles", "create", "Support"]);
    assert_eq!(db.granted("Support"), Vec::<String>::new());

    db.ok(&["roles", "grant", "Support", "contacts"]);
    let shown = db.json(&["roles", "show", "Support"]);
    let contacts = sorted(&leaves_of(&catalog, "contacts"));
    assert_eq!(strings(&shown["granted"]), contacts);
    assert_eq!(
        shown["total"].as_u64(),
        Some(all_leaf_keys(&catalog).len() as u64)
    );

    // A second category adds its leaves and only those.
    db.ok(&[
        "roles",
        "grant",
        "Support",
        "triggers",
        "web_forms.get_html",
    ]);
    let mut expected = contacts.clone();
    expected.extend(leaves_of(&catalog, "triggers"));
    expected.push("web_forms.get_html".into());
    assert_eq!(db.granted("Support"), sorted(&expected));
}

#[test]
fn roles_show_json_reports_sorted_granted_and_total() {
    let db = Db::new();
    let total = all_leaf_keys(&db.catalog()).len();
    for name in [
        "Administrator",
        "Basic Access",
        "Campaign Manager",
        "Read Only",
    ] {
        let role = db.json(&["roles", "show", name]);
        for field in [
            "id",
            "name",
            "description",
            "builtin",
            "users",
            "granted",
            "total",
            "created_at",
            "updated_at",
        ] {
            assert!(role.get(field).is_some(), "{name}: no {field} in {role}");
        }
        assert_eq!(s(&role["name"]), name);
        assert!(role["users"].is_u64(), "users is a number: {role}");
        let granted = strings(&role["granted"]);
        assert_eq!(granted, sorted(&granted), "{name}: granted is sorted");
        assert_eq!(role["total"].as_u64(), Some(total as u64));
    }
}

#[test]
fn revoking_a_category_removes_exactly_its_leaves() {
    let db = Db::new();
    let catalog = db.catalog();
    let before = db.granted("Campaign Manager");
    let contacts = leaves_of(&catalog, "contacts");
    assert!(contacts.iter().any(|k| before.contains(k)));
    db.ok(&["roles", "revoke", "Campaign Manager", "contacts"]);
    let expected: Vec<String> = before
        .iter()
        .filter(|k| !contacts.contains(k))
        .cloned()
        .collect();
    assert_eq!(db.granted("Campaign Manager"), expected);

    // Revoking one leaf removes only that leaf.
    db.ok(&["roles", "revoke", "Campaign Manager", "statistics.export"]);
    let expected: Vec<String> = expected
        .into_iter()
        .filter(|k| k != "statistics.export")
        .collect();
    assert_eq!(db.granted("Campaign Manager"), expected);
    // Other roles are untouched.
    assert_eq!(
        db.granted("Full Access"),
        all_leaf_keys(&catalog),
        "Full Access unchanged"
    );
}

#[test]
fn grant_all_and_revoke_all() {
    let db = Db::new();
    let all = all_leaf_keys(&db.catalog());
    db.ok(&["roles", "create", "Everything"]);
    db.ok(&["roles", "grant", "Everything", "all"]);
    assert_eq!(db.granted("Everything"), all);
    let list = db.json(&["roles", "list"]);
    let row = list
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "Everything")
        .unwrap()
        .clone();
    assert_eq!(row["granted_count"].as_u64(), Some(all.len() as u64));
    assert_eq!(row["total"].as_u64(), Some(all.len() as u64));
    db.ok(&["roles", "revoke", "Everything", "all"]);
    assert_eq!(db.granted("Everything"), Vec::<String>::new());
}

// ---------------------------------------------------------------------------------
// 3. check and the user_permissions view
// ---------------------------------------------------------------------------------

/// Owner alice (Administrator), bob (Read Only, the default), carol (Basic Access),
/// dave (Campaign Manager, disabled), erin (a role with one leaf), frank (a role
/// with nothing), gina (Full Access).
fn people() -> Db {
    let db = Db::with_owner();
    db.ok(&["roles", "create", "Narrow"]);
    db.ok(&["roles", "grant", "Narrow", "suppression.ip"]);
    db.ok(&["roles", "create", "Nothing"]);
    for (user, role) in [
        ("bob", None),
        ("carol", Some("Basic Access")),
        ("dave", Some("Campaign Manager")),
        ("erin", Some("Narrow")),
        ("frank", Some("Nothing")),
        ("gina", Some("Full Access")),
    ] {
        let email = format!("{user}@example.com");
        let mut args = vec!["users", "add", user, "--email", &email];
        if let Some(role) = role {
            args.extend(["--role", role]);
        }
        db.ok(&args);
    }
    db.ok(&["users", "set", "dave", "--active", "false"]);
    db
}

const PEOPLE: [&str; 7] = ["alice", "bob", "carol", "dave", "erin", "frank", "gina"];

#[test]
fn check_prints_allowed_or_denied_with_exit_0_or_1() {
    let db = people();
    let allowed = db.run(&["check", "bob", "contacts.view"]);
    allowed.expect_code(0);
    assert_eq!(allowed.stdout.trim(), "allowed");
    let denied = db.run(&["check", "bob", "contacts.export"]);
    denied.expect_code(1);
    assert_eq!(denied.stdout.trim(), "denied");
    db.run(&["check", "alice", "administration.roles"])
        .expect_code(0);
    db.run(&["check", "frank", "contacts.view"]).expect_code(1);
}

#[test]
fn check_allows_a_category_when_at_least_one_leaf_is_granted() {
    let db = people();
    // erin's role grants only suppression.ip: the Suppression module is visible.
    let run = db.run(&["check", "erin", "suppression"]);
    run.expect_code(0);
    assert_eq!(run.stdout.trim(), "allowed");
    db.run(&["check", "erin", "suppression.email"])
        .expect_code(1);
    db.run(&["check", "erin", "contacts"]).expect_code(1);
    // bob's Read Only holds two of the contact leaves, not all.
    db.run(&["check", "bob", "contacts"]).expect_code(0);
    db.run(&["check", "bob", "triggers"]).expect_code(1);
    // A role with nothing sees no category; a disabled user sees none either.
    db.run(&["check", "frank", "contacts"]).expect_code(1);
    db.run(&["check", "dave", "contacts"]).expect_code(1);
}

#[test]
fn check_exits_2_for_an_unknown_user_or_permission() {
    let db = people();
    let run = db.run(&["check", "nobody", "contacts.view"]);
    assert_field_error(&run, 2, "username");
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    let run = db.run(&["check", "bob", "contacts.fly"]);
    assert_field_error(&run, 2, "permission");
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    let run = db.run(&["check", "bob", "all"]);
    run.expect_code(2);
}

#[test]
fn check_explain_names_the_granting_role() {
    let db = people();
    let run = db.run(&["check", "carol", "contacts.view_log", "--explain"]);
    run.expect_code(0);
    assert!(run.stdout.starts_with("allowed"), "{}", run.stdout);
    assert!(run.stdout.contains("Basic Access"), "{}", run.stdout);
    assert!(run.stdout.contains("grants"), "{}", run.stdout);
}

#[test]
fn check_explain_says_the_permission_is_not_in_the_role() {
    let db = people();
    let run = db.run(&["check", "carol", "contacts.export", "--explain"]);
    run.expect_code(1);
    assert!(run.stdout.starts_with("denied"), "{}", run.stdout);
    assert!(run.stdout.contains("Basic Access"), "{}", run.stdout);
    assert!(run.stdout.contains("does not grant"), "{}", run.stdout);
    assert!(!run.stdout.contains("disabled"), "{}", run.stdout);
}

#[test]
fn check_explain_says_the_user_is_disabled() {
    let db = people();
    // dave's role grants contacts.view, but dave is disabled.
    let run = db.run(&["check", "dave", "contacts.view", "--explain"]);
    run.expect_code(1);
    assert!(run.stdout.starts_with("denied"), "{}", run.stdout);
    assert!(run.stdout.contains("disabled"), "{}", run.stdout);
    // Enabling dave again restores the answer.
    db.ok(&["users", "set", "dave", "--active", "true"]);
    db.run(&["check", "dave", "contacts.view"]).expect_code(0);
}

#[test]
fn the_user_permissions_view_agrees_with_check_for_every_user_and_leaf() {
    let db = people();
    let catalog = db.catalog();
    let leaves = all_leaf_keys(&catalog);
    for user in PEOPLE {
        let view = db.view_grants(user);
        for leaf in &leaves {
            let run = db.run(&["check", user, leaf]);
            let by_check = match run.code {
                0 => true,
                1 => false,
                other => panic!("check {user} {leaf} exited {other}: {}", run.stderr),
            };
            assert_eq!(
                by_check,
                view.contains(leaf),
                "check and user_permissions disagree on {user} / {leaf}"
            );
        }
        // Categories: allowed exactly when the view holds one of their leaves.
        for cat in &catalog {
            let any = cat.leaf_keys().iter().any(|k| view.contains(k));
            let code = db.run(&["check", user, &cat.key]).code;
            assert_eq!(code == 0, any, "category {} for {user}", cat.key);
        }
    }
    // The view follows the roles: spot checks of what each user must see.
    assert_eq!(db.view_grants("alice"), leaves);
    assert_eq!(db.view_grants("gina"), leaves);
    assert_eq!(db.view_grants("bob"), db.granted("Read Only"));
    assert_eq!(db.view_grants("erin"), ["suppression.ip"]);
    assert!(db.view_grants("frank").is_empty());
    assert!(
        db.view_grants("dave").is_empty(),
        "disabled users have no rows"
    );
}

#[test]
fn the_user_permissions_view_follows_grant_changes() {
    let db = people();
    db.ok(&["roles", "grant", "Narrow", "contacts"]);
    let mut expected = leaves_of(&db.catalog(), "contacts");
    expected.push("suppression.ip".into());
    assert_eq!(db.view_grants("erin"), sorted(&expected));
    db.run(&["check", "erin", "contacts.export"]).expect_code(0);
    db.ok(&["roles", "revoke", "Narrow", "all"]);
    assert!(db.view_grants("erin").is_empty());
    db.run(&["check", "erin", "suppression.ip"]).expect_code(1);
}

// ---------------------------------------------------------------------------------
// 4. Deleting roles, and the built-in lock
// ---------------------------------------------------------------------------------

#[test]
fn deleting_a_role_in_use_exits_3_names_ten_users_and_deletes_nothing() {
    let db = Db::with_owner();
    db.ok(&["roles", "create", "Support"]);
    let names: Vec<String> = (1..=12).map(|i| format!("sup{i:02}")).collect();
    for name in &names {
        let email = format!("{name}@example.com");
        db.ok(&["users", "add", name, "--email", &email, "--role", "Support"]);
    }
    db.ok(&["users", "set", "sup03", "--active", "false"]);
    let before = db.dump();

    let run = db.run(&["roles", "delete", "Support"]);
    run.expect_code(3);
    let named: Vec<&String> = names.iter().filter(|n| run.stderr.contains(*n)).collect();
    assert_eq!(named.len(), 10, "exactly ten users named: {}", run.stderr);
    assert!(run.stderr.contains("2 more"), "{}", run.stderr);
    assert!(run.stderr.contains("12"), "the count: {}", run.stderr);
    assert!(
        run.stderr.contains("sup03 (disabled)"),
        "disabled users are marked: {}",
        run.stderr
    );
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert_eq!(db.dump(), before, "nothing changed");
}

#[test]
fn deleting_a_role_held_only_by_a_disabled_user_is_refused() {
    let db = Db::with_owner();
    db.ok(&["roles", "create", "Support"]);
    db.ok(&[
        "users",
        "add",
        "zoe",
        "--email",
        "zoe@example.com",
        "--role",
        "Support",
    ]);
    db.ok(&["users", "set", "zoe", "--active", "false"]);
    let before = db.dump();
    let run = db.run(&["roles", "delete", "Support"]);
    run.expect_code(3);
    assert!(run.stderr.contains("zoe"), "{}", run.stderr);
    assert_eq!(db.dump(), before);
}

#[test]
fn deleting_an_unused_role_works() {
    let db = Db::with_owner();
    db.ok(&["roles", "create", "Spare"]);
    db.ok(&["roles", "delete", "Spare"]);
    db.run(&["roles", "show", "Spare"]).expect_code(2);
}

#[test]
fn reassign_to_moves_the_users_and_deletes_the_role() {
    let db = Db::with_owner();
    db.ok(&["roles", "create", "Support"]);
    for name in ["ann", "ben", "cat"] {
        let email = format!("{name}@example.com");
        db.ok(&["users", "add", name, "--email", &email, "--role", "Support"]);
    }
    db.ok(&["users", "set", "cat", "--active", "false"]);
    db.ok(&[
        "roles",
        "delete",
        "Support",
        "--reassign-to",
        "Basic Access",
    ]);
    db.run(&["roles", "show", "Support"]).expect_code(2);
    for name in ["ann", "ben", "cat"] {
        assert_eq!(s(&db.user(name)["role"]), "Basic Access", "{name}");
    }
    assert_eq!(db.user("cat")["active"], Value::Bool(false));
    assert_eq!(db.json(&["roles", "show", "Basic Access"])["users"], 3);
    let audit = db.json(&["audit"]);
    assert_eq!(s(&audit[0]["action"]), "role.delete");
    assert_eq!(s(&audit[0]["target"]), "Support");
}

#[test]
fn a_refused_reassign_and_delete_moves_nobody() {
    let db = Db::with_owner();
    db.ok(&["roles", "create", "Support"]);
    for name in ["ann", "ben"] {
        let email = format!("{name}@example.com");
        db.ok(&["users", "add", name, "--email", &email, "--role", "Support"]);
    }
    // Support is now also the default role, so the delete must fail after the users
    // could have been moved: one transaction means they stay.
    db.ok(&["roles", "set-default", "Support"]);
    let before = db.dump();
    let run = db.run(&["roles", "delete", "Support", "--reassign-to", "Read Only"]);
    run.expect_code(3);
    assert!(run.stderr.contains("default"), "{}", run.stderr);
    assert_eq!(db.dump(), before, "nobody moved, nothing deleted");

    // Reassigning to the role itself or to a missing role is bad input, no change.
    let run = db.run(&["roles", "delete", "Support", "--reassign-to", "support"]);
    run.expect_code(2);
    assert_eq!(db.dump(), before);
}

#[test]
fn the_default_role_cannot_be_deleted() {
    let db = Db::new();
    let before = db.dump();
    let run = db.run(&["roles", "delete", "Read Only"]);
    run.expect_code(3);
    assert!(run.stderr.contains("default"), "{}", run.stderr);
    assert_eq!(db.dump(), before);

    // Once another role is the default, the old one can go.
    db.ok(&["roles", "set-default", "Basic Access"]);
    db.ok(&["roles", "delete", "Read Only"]);
    db.run(&["roles", "delete", "Basic Access"]).expect_code(3);
}

#[test]
fn administrator_cannot_be_granted_revoked_renamed_described_or_deleted() {
    let db = Db::with_owner();
    let before = db.dump();
    for args in [
        &["roles", "grant", "Administrator", "contacts.export"][..],
        &["roles", "grant", "Administrator", "all"],
        &["roles", "revoke", "Administrator", "contacts.export"],
        &["roles", "revoke", "Administrator", "contacts"],
        &["roles", "revoke", "administrator", "all"],
        &["roles", "rename", "Administrator", "Root"],
        &["roles", "describe", "Administrator", "anything"],
        &["roles", "delete", "Administrator"],
        &[
            "roles",
            "delete",
            "Administrator",
            "--reassign-to",
            "Full Access",
        ],
    ] {
        let run = db.run(args);
        run.expect_code(3);
        assert!(
            run.stderr.starts_with("rolecall: ") && run.stderr.contains("Administrator"),
            "{args:?}: {}",
            run.stderr
        );
        assert_eq!(db.dump(), before, "{args:?} changed the database");
    }
    // It can still be cloned.
    db.ok(&["roles", "create", "Admin copy", "--from", "Administrator"]);
    assert_eq!(db.granted("Admin copy"), all_leaf_keys(&db.catalog()));
}

#[test]
fn example_roles_are_editable_like_custom_roles() {
    let db = Db::new();
    db.ok(&["roles", "rename", "Read Only", "Viewers"]);
    db.ok(&["roles", "describe", "Viewers", "People who look"]);
    db.ok(&["roles", "grant", "Viewers", "triggers"]);
    let role = db.json(&["roles", "show", "viewers"]);
    assert_eq!(s(&role["name"]), "Viewers");
    assert_eq!(s(&role["description"]), "People who look");
    assert!(strings(&role["granted"]).contains(&"triggers.add".to_string()));
}

// ---------------------------------------------------------------------------------
// 5. The owner
// ---------------------------------------------------------------------------------

#[test]
fn the_first_user_becomes_the_owner_on_administrator() {
    let db = Db::new();
    db.ok(&["users", "add", "alice", "--email", "alice@example.com"]);
    let alice = db.user("alice");
    assert_eq!(alice["owner"], Value::Bool(true));
    assert_eq!(s(&alice["role"]), "Administrator");
    assert_eq!(alice["active"], Value::Bool(true));

    db.ok(&["users", "add", "bob", "--email", "bob@example.com"]);
    let bob = db.user("bob");
    assert_eq!(bob["owner"], Value::Bool(false));
    assert_eq!(
        s(&bob["role"]),
        "Read Only",
        "new users get the default role"
    );
}

#[test]
fn the_owner_cannot_be_removed() {
    let db = Db::with_owner();
    db.ok(&["users", "add", "bob", "--email", "bob@example.com"]);
    let before = db.dump();
    let run = db.run(&["users", "remove", "alice"]);
    run.expect_code(3);
    assert!(run.stderr.contains("owner"), "{}", run.stderr);
    assert_eq!(db.dump(), before);
}

#[test]
fn the_owner_cannot_be_disabled() {
    let db = Db::with_owner();
    let before = db.dump();
    let run = db.run(&["users", "set", "alice", "--active", "false"]);
    run.expect_code(3);
    assert!(run.stderr.contains("owner"), "{}", run.stderr);
    assert_eq!(db.dump(), before);
}

#[test]
fn the_owner_cannot_be_moved_off_administrator() {
    let db = Db::with_owner();
    let before = db.dump();
    for role in ["Read Only", "Full Access"] {
        let run = db.run(&["users", "set", "alice", "--role", role]);
        run.expect_code(3);
        assert!(run.stderr.contains("owner"), "{}", run.stderr);
        assert_eq!(db.dump(), before);
    }
    // Other fields of the owner can change.
    db.ok(&["users", "set", "alice", "--first-name", "Alice"]);
    assert_eq!(s(&db.user("alice")["first_name"]), "Alice");
}

#[test]
fn transfer_ownership_moves_the_mark_and_gives_administrator() {
    let db = Db::with_owner();
    db.ok(&["users", "add", "bob", "--email", "bob@example.com"]);
    db.ok(&["users", "transfer-ownership", "bob"]);
    let bob = db.user("bob");
    assert_eq!(bob["owner"], Value::Bool(true));
    assert_eq!(s(&bob["role"]), "Administrator");
    let alice = db.user("alice");
    assert_eq!(alice["owner"], Value::Bool(false));
    let owners = db
        .json(&["users", "list"])
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["owner"] == Value::Bool(true))
        .count();
    assert_eq!(owners, 1, "exactly one owner");

    // The rules now protect bob and no longer alice.
    db.run(&["users", "remove", "bob"]).expect_code(3);
    db.ok(&["users", "set", "alice", "--role", "Read Only"]);
    db.ok(&["users", "remove", "alice"]);
}

#[test]
fn ownership_cannot_go_to_a_disabled_user() {
    let db = Db::with_owner();
    db.ok(&["users", "add", "bob", "--email", "bob@example.com"]);
    db.ok(&["users", "set", "bob", "--active", "false"]);
    let before = db.dump();
    db.run(&["users", "transfer-ownership", "bob"])
        .expect_code(3);
    assert_eq!(db.dump(), before);
}

// ---------------------------------------------------------------------------------
// 6. Bad input: exit 2, the field named, nothing changed
// ---------------------------------------------------------------------------------

#[test]
fn bad_inputs_exit_2_name_the_field_and_change_nothing() {
    let db = Db::with_owner();
    db.ok(&["users", "add", "bob", "--email", "bob@example.com"]);
    db.ok(&["roles", "create", "Support"]);
    db.ok(&["roles", "grant", "Support", "contacts.view"]);

    let long_role = "r".repeat(65);
    let long_user = "u".repeat(65);
    let long_desc = "d".repeat(501);
    let long_name = "n".repeat(101);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        // Role names.
        (vec!["roles", "create", ""], "name"),
        (vec!["roles", "create", "   "], "name"),
        (vec!["roles", "create", &long_role], "name"),
        (vec!["roles", "create", "Bad\u{7}Name"], "name"),
        (vec!["roles", "create", "Esc\u{1b}[31mRed"], "name"),
        (vec!["roles", "create", "support"], "name"),
        (vec!["roles", "create", "  SUPPORT "], "name"),
        (vec!["roles", "create", "administrator"], "name"),
        (vec!["roles", "rename", "Support", "read only"], "name"),
        (vec!["roles", "rename", "Support", ""], "name"),
        // Descriptions.
        (
            vec!["roles", "create", "Fresh", "--description", &long_desc],
            "description",
        ),
        (
            vec!["roles", "describe", "Support", &long_desc],
            "description",
        ),
        (
            vec!["roles", "describe", "Support", "a\u{1b}[2Jb"],
            "description",
        ),
        // Unknown roles.
        (vec!["roles", "create", "Fresh", "--from", "Nope"], "from"),
        (
            vec!["roles", "delete", "Support", "--reassign-to", "Nope"],
            "reassign_to",
        ),
        (vec!["roles", "grant", "Nope", "contacts"], "role"),
        (vec!["roles", "delete", "Nope"], "role"),
        (vec!["roles", "set-default", "Nope"], "role"),
        (
            vec![
                "users",
                "add",
                "carol",
                "--email",
                "carol@example.com",
                "--role",
                "Nope",
            ],
            "role",
        ),
        (vec!["users", "set", "bob", "--role", "Nope"], "role"),
        // Unknown permissions; one bad key spoils the whole command.
        (
            vec!["roles", "grant", "Support", "contacts.fly"],
            "permission",
        ),
        (
            vec!["roles", "grant", "Support", "triggers", "nope"],
            "permission",
        ),
        (
            vec!["roles", "revoke", "Support", "contacts.view", "x.y"],
            "permission",
        ),
        (vec!["roles", "grant", "Support", "Contacts"], "permission"),
        // Usernames.
        (
            vec!["users", "add", "Carol", "--email", "carol@example.com"],
            "username",
        ),
        (
            vec![
                "users",
                "add",
                "--email",
                "carol@example.com",
                "--",
                "-carol",
            ],
            "username",
        ),
        (
            vec!["users", "add", "car ol", "--email", "carol@example.com"],
            "username",
        ),
        (
            vec!["users", "add", &long_user, "--email", "carol@example.com"],
            "username",
        ),
        (
            vec!["users", "add", "", "--email", "carol@example.com"],
            "username",
        ),
        (
            vec!["users", "add", "bob", "--email", "bob2@example.com"],
            "username",
        ),
        (
            vec!["users", "add", "BOB", "--email", "bob2@example.com"],
            "username",
        ),
        (
            vec!["users", "set", "nobody", "--email", "x@example.com"],
            "username",
        ),
        (vec!["users", "remove", "nobody"], "username"),
        (vec!["users", "transfer-ownership", "nobody"], "username"),
        // Emails.
        (
            vec!["users", "add", "carol", "--email", "carol.example.com"],
            "email",
        ),
        (
            vec!["users", "add", "carol", "--email", "carol@localhost"],
            "email",
        ),
        (
            vec!["users", "add", "carol", "--email", "BOB@Example.COM"],
            "email",
        ),
        (vec!["users", "add", "carol"], "email"),
        (
            vec!["users", "set", "bob", "--email", "Alice@EXAMPLE.com"],
            "email",
        ),
        (vec!["users", "set", "bob", "--email", ""], "email"),
        // Time zones and languages.
        (
            vec![
                "users",
                "add",
                "carol",
                "--email",
                "carol@example.com",
                "--timezone",
                "Mars/Base",
            ],
            "timezone",
        ),
        (
            vec!["users", "set", "bob", "--timezone", "Mars/Base"],
            "timezone",
        ),
        (
            vec![
                "users",
                "add",
                "carol",
                "--email",
                "carol@example.com",
                "--language",
                "english",
            ],
            "language",
        ),
        (vec!["users", "set", "bob", "--language", "qq"], "language"),
        (vec!["users", "set", "bob", "--language", "en-"], "language"),
        // Free text with control characters, and too long.
        (
            vec![
                "users",
                "add",
                "carol",
                "--email",
                "carol@example.com",
                "--first-name",
                "Ca\u{1b}rol",
            ],
            "first_name",
        ),
        (
            vec!["users", "set", "bob", "--signature", "Bob\n\u{1b}[2J"],
            "signature",
        ),
        (
            vec!["users", "set", "bob", "--last-name", &long_name],
            "last_name",
        ),
        (
            vec!["users", "set", "bob", "--position", "Boss\u{7}"],
            "position",
        ),
    ];
    assert!(cases.len() >= 25);

    let before = db.dump();
    let audit_before = db.audit_rows();
    for (args, field) in &cases {
        let run = db.run(args);
        assert_field_error(&run, 2, field);
        assert!(
            run.stdout.is_empty(),
            "{args:?} printed on stdout: {}",
            run.stdout
        );
        assert_eq!(db.dump(), before, "{args:?} changed the database");
    }
    assert_eq!(db.audit_rows(), audit_before);
}

#[test]
fn bad_passwords_exit_2_and_change_nothing() {
    let db = Db::with_owner();
    db.ok(&["users", "add", "bob", "--email", "bob@example.com"]);
    let before = db.dump();
    let run = db.run_stdin(&["users", "passwd", "bob", "--password-stdin"], "short\n");
    assert_field_error(&run, 2, "password");
    let run = db.run_stdin(
        &[
            "users",
            "add",
            "carol",
            "--email",
            "carol@example.com",
            "--password-stdin",
        ],
        "short\n",
    );
    assert_field_error(&run, 2, "password");
    assert!(!run.stderr.contains("short"), "{}", run.stderr);
    assert_eq!(db.dump(), before);
}

#[test]
fn good_inputs_are_normalised() {
    let db = Db::with_owner();
    db.ok(&[
        "users",
        "add",
        "carol.b-2_x",
        "--email",
        "Carol@Example.COM",
        "--timezone",
        "europe/rome",
        "--language",
        "pt-br",
        "--signature",
        "Carol\nSales",
    ]);
    let carol = db.user("carol.b-2_x");
    assert_eq!(s(&carol["email"]), "Carol@example.com");
    assert_eq!(s(&carol["timezone"]), "Europe/Rome");
    assert_eq!(s(&carol["language"]), "pt-BR");
    assert_eq!(s(&carol["signature"]), "Carol\nSales");
    db.ok(&["roles", "create", "  Trimmed  "]);
    db.ok(&["roles", "show", "Trimmed"]);
    let exactly = "x".repeat(64);
    db.ok(&["roles", "create", &exactly]);
    db.ok(&["roles", "describe", &exactly, &"d".repeat(500)]);
}

// ---------------------------------------------------------------------------------
// 7. Two operators: stale versions
// ---------------------------------------------------------------------------------

#[test]
fn a_stale_user_edit_is_refused_and_the_newer_data_survives() {
    let db = Db::with_owner();
    db.ok(&["users", "add", "bob", "--email", "bob@example.com"]);
    let old = db.user("bob")["version"].as_i64().expect("version");

    // Another operator changes bob first.
    db.run_env(
        &["users", "set", "bob", "--first-name", "Robert"],
        &[("USER", "mallory")],
    )
    .expect_code(0);
    let newer = db.user("bob");
    assert!(newer["version"].as_i64().unwrap() > old);
    let before = db.dump();

    let old_s = old.to_string();
    let run = db.run(&[
        "users",
        "set",
        "bob",
        "--email",
        "robert@example.com",
        "--if-version",
        &old_s,
    ]);
    run.expect_code(3);
    assert!(run.stderr.contains("mallory"), "names who: {}", run.stderr);
    assert_eq!(db.dump(), before, "nothing changed");
    let bob = db.user("bob");
    assert_eq!(s(&bob["first_name"]), "Robert");
    assert_eq!(s(&bob["email"]), "bob@example.com");

    // With the current version the edit goes through.
    let current = bob["version"].as_i64().unwrap().to_string();
    db.ok(&[
        "users",
        "set",
        "bob",
        "--email",
        "robert@example.com",
        "--if-version",
        &current,
    ]);
    let bob = db.user("bob");
    assert_eq!(s(&bob["email"]), "robert@example.com");
    assert_eq!(s(&bob["first_name"]), "Robert");
}

#[test]
fn a_stale_role_grant_is_refused_and_the_newer_data_survives() {
    let db = Db::new();
    db.ok(&["roles", "create", "Support"]);
    let old = db.json(&["roles", "show", "Support"])["version"]
        .as_i64()
        .expect("version");

    db.run_env(
        &["roles", "grant", "Support", "triggers"],
        &[("USER", "mallory")],
    )
    .expect_code(0);
    let before = db.dump();
    let old_s = old.to_string();
    let run = db.run(&[
        "roles",
        "grant",
        "Support",
        "contacts",
        "--if-version",
        &old_s,
    ]);
    run.expect_code(3);
    assert!(run.stderr.contains("mallory"), "names who: {}", run.stderr);
    assert_eq!(db.dump(), before);
    assert_eq!(
        db.granted("Support"),
        sorted(&leaves_of(&db.catalog(), "triggers"))
    );

    for args in [
        &[
            "roles",
            "revoke",
            "Support",
            "triggers",
            "--if-version",
            &old_s,
        ][..],
        &[
            "roles",
            "rename",
            "Support",
            "Helpdesk",
            "--if-version",
            &old_s,
        ],
        &["roles", "describe", "Support", "x", "--if-version", &old_s],
    ] {
        db.run(args).expect_code(3);
        assert_eq!(db.dump(), before, "{args:?}");
    }

    let current = db.json(&["roles", "show", "Support"])["version"]
        .as_i64()
        .unwrap()
        .to_string();
    db.ok(&[
        "roles",
        "grant",
        "Support",
        "contacts",
        "--if-version",
        &current,
    ]);
    assert_eq!(
        db.granted("Support").len(),
        leaves_of(&db.catalog(), "triggers").len() + leaves_of(&db.catalog(), "contacts").len()
    );
}

#[test]
fn every_saved_edit_bumps_the_version() {
    let db = Db::with_owner();
    db.ok(&["users", "add", "bob", "--email", "bob@example.com"]);
    let v1 = db.user("bob")["version"].as_i64().unwrap();
    db.ok(&["users", "set", "bob", "--position", "Clerk"]);
    let v2 = db.user("bob")["version"].as_i64().unwrap();
    assert!(v2 > v1);
    db.ok(&["roles", "create", "Support"]);
    let r1 = db.json(&["roles", "show", "Support"])["version"]
        .as_i64()
        .unwrap();
    db.ok(&["roles", "grant", "Support", "contacts.view"]);
    let r2 = db.json(&["roles", "show", "Support"])["version"]
        .as_i64()
        .unwrap();
    assert!(r2 > r1);
}

// ---------------------------------------------------------------------------------
// 8. The audit log, passwords and the actor
// ---------------------------------------------------------------------------------

#[test]
fn every_change_writes_one_audit_row_with_actor_and_before_after() {
    let db = Db::new();
    let steps: Vec<(Vec<&str>, &str, &str, bool, bool)> = vec![
        // (command, action prefix, target, has before, has after)
        (
            vec!["users", "add", "alice", "--email", "alice@example.com"],
            "user",
            "alice",
            false,
            true,
        ),
        (
            vec!["users", "add", "bob", "--email", "bob@example.com"],
            "user",
            "bob",
            false,
            true,
        ),
        (
            vec!["users", "set", "bob", "--position", "Clerk"],
            "user",
            "bob",
            true,
            true,
        ),
        (
            vec!["users", "set", "bob", "--active", "false"],
            "user",
            "bob",
            true,
            true,
        ),
        (
            vec!["roles", "create", "Support", "--description", "Help"],
            "role",
            "Support",
            false,
            true,
        ),
        (
            vec!["roles", "grant", "Support", "contacts"],
            "role",
            "Support",
            true,
            true,
        ),
        (
            vec!["roles", "revoke", "Support", "contacts.export"],
            "role",
            "Support",
            true,
            true,
        ),
        (
            vec!["roles", "describe", "Support", "Helpdesk"],
            "role",
            "Support",
            true,
            true,
        ),
        (
            vec!["roles", "rename", "Support", "Helpdesk"],
            "role",
            "Helpdesk",
            true,
            true,
        ),
        (
            vec!["roles", "set-default", "Helpdesk"],
            "settings",
            "",
            true,
            true,
        ),
        (
            vec!["roles", "set-default", "Read Only"],
            "settings",
            "",
            true,
            true,
        ),
        (
            vec!["users", "set", "bob", "--active", "true"],
            "user",
            "bob",
            true,
            true,
        ),
        (
            vec!["users", "transfer-ownership", "bob"],
            "user",
            "bob",
            true,
            true,
        ),
        (
            vec!["users", "remove", "alice"],
            "user",
            "alice",
            true,
            false,
        ),
        (
            vec!["roles", "delete", "Helpdesk"],
            "role",
            "Helpdesk",
            true,
            false,
        ),
    ];
    let mut seen_actions = Vec::new();
    for (args, prefix, target, has_before, has_after) in &steps {
        let rows = db.audit_rows();
        db.ok(args);
        assert_eq!(db.audit_rows(), rows + 1, "{args:?} wrote one audit row");
        let audit = db.json(&["audit", "--limit", "1"]);
        let entry = &audit[0];
        for field in ["at", "actor", "action", "target", "before", "after"] {
            assert!(entry.get(field).is_some(), "{field} in {entry}");
        }
        assert_eq!(s(&entry["actor"]), TEST_USER);
        let action = s(&entry["action"]);
        assert!(action.starts_with(prefix), "{args:?}: action {action}");
        if !target.is_empty() {
            assert_eq!(s(&entry["target"]), *target, "{args:?}");
        }
        assert_eq!(!entry["before"].is_null(), *has_before, "{args:?}: {entry}");
        assert_eq!(!entry["after"].is_null(), *has_after, "{args:?}: {entry}");
        let at = s(&entry["at"]);
        assert!(
            at.len() >= 20 && at.ends_with('Z') && at.as_bytes()[10] == b'T',
            "UTC RFC 3339: {at}"
        );
        seen_actions.push(action);
    }

    // Before and after hold the changed fields.
    let audit = db.json(&["audit"]);
    let position = audit
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["after"]["position"] == "Clerk")
        .expect("the position change is logged");
    assert_eq!(position["before"]["position"], "");
    let described = audit
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["after"]["description"] == "Helpdesk")
        .expect("the description change is logged");
    assert_eq!(described["before"]["description"], "Help");

    // Newest first: the listing's order is the reverse of the order of the steps.
    let newest: Vec<String> = audit
        .as_array()
        .unwrap()
        .iter()
        .take(steps.len())
        .map(|e| s(&e["action"]))
        .collect();
    seen_actions.reverse();
    assert_eq!(newest, seen_actions);
}

#[test]
fn reassigning_users_logs_each_move() {
    let db = Db::with_owner();
    db.ok(&["roles", "create", "Support"]);
    for name in ["ann", "ben"] {
        let email = format!("{name}@example.com");
        db.ok(&["users", "add", name, "--email", &email, "--role", "Support"]);
    }
    let rows = db.audit_rows();
    db.ok(&["roles", "delete", "Support", "--reassign-to", "Read Only"]);
    assert_eq!(db.audit_rows(), rows + 3, "two moves and the delete");
    let audit = db.json(&["audit", "--limit", "3"]);
    let moved: Vec<String> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["after"]["role"] == "Read Only")
        .map(|e| s(&e["target"]))
        .collect();
    assert_eq!(sorted(&moved), ["ann", "ben"]);
}

#[test]
fn refused_and_no_op_changes_write_no_audit_row() {
    let db = Db::with_owner();
    let rows = db.audit_rows();
    db.run(&["users", "remove", "alice"]).expect_code(3);
    db.run(&["roles", "grant", "Administrator", "all"])
        .expect_code(3);
    // Granting what is already granted changes nothing.
    db.ok(&["roles", "grant", "Full Access", "all"]);
    db.ok(&["users", "set", "alice", "--email", "alice@example.com"]);
    assert_eq!(db.audit_rows(), rows);
}

#[test]
fn no_password_or_hash_appears_in_any_output_or_the_audit_log() {
    if sqlite_only("the bytes of the file") {
        return;
    }
    const FIRST: &str = "correct horse battery staple";
    const SECOND: &str = "Tr0ub4dor&3 second secret";
    let db = Db::with_owner();
    db.run_stdin(
        &[
            "users",
            "add",
            "carol",
            "--email",
            "carol@example.com",
            "--password-stdin",
        ],
        &format!("{FIRST}\n"),
    )
    .expect_code(0);
    let carol = db.user("carol");
    assert_eq!(carol["has_password"], Value::Bool(true));
    assert!(carol.get("password").is_none() && carol.get("password_hash").is_none());
    assert_eq!(db.user("alice")["has_password"], Value::Bool(false));

    db.run_stdin(
        &["users", "passwd", "carol", "--password-stdin"],
        &format!("{SECOND}\n"),
    )
    .expect_code(0);
    // Everything that could show the user or the log.
    db.ok(&["users", "show", "carol"]);
    db.json(&["users", "show", "carol"]);
    db.ok(&["users", "list"]);
    db.json(&["users", "list"]);
    db.ok(&["audit"]);
    let audit = db.json(&["audit"]);
    db.ok(&["check", "carol", "contacts.view", "--explain"]);
    db.ok(&["users", "set", "carol", "--position", "Clerk"]);
    db.run(&["users", "set", "carol", "--role", "Nope"]);

    // The hash really is stored, so the checks below are meaningful.
    let hash: String = db
        .conn()
        .query_row(
            "SELECT password_hash FROM users WHERE username = 'carol'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    let salt_and_digest = hash.rsplit('$').next().unwrap().to_string();

    for run in db.transcript() {
        for text in [&run.stdout, &run.stderr] {
            for secret in ["$argon2", FIRST, SECOND, &salt_and_digest] {
                assert!(
                    !text.contains(secret),
                    "rolecall {:?} printed {secret:?}:\n{text}",
                    run.args
                );
            }
        }
    }
    let log = audit.to_string();
    let stored_log: Vec<String> = {
        let conn = db.conn();
        let mut stmt = conn
            .prepare("SELECT actor || action || target || coalesce(before, '') || coalesce(after, '') FROM audit")
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    };
    for secret in ["argon2", FIRST, SECOND, &salt_and_digest] {
        assert!(!log.contains(secret), "audit --json holds {secret:?}");
        assert!(
            stored_log.iter().all(|row| !row.contains(secret)),
            "the audit table holds {secret:?}"
        );
    }
    // The password change itself is logged, without the password.
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .any(|e| s(&e["target"]) == "carol" && s(&e["action"]).contains("password"))
    );
}

#[test]
fn the_actor_is_the_account_plus_the_ssh_client_address_and_sudo_user_only_for_root() {
    let db = Db::new();
    db.run_env(
        &["roles", "create", "Support"],
        &[
            ("SUDO_USER", "opsadmin"),
            ("SSH_CONNECTION", "203.0.113.9 52144 192.0.2.1 22"),
        ],
    )
    .expect_code(0);
    let actor = s(&db.json(&["audit", "--limit", "1"])[0]["actor"]);
    assert!(actor.contains("203.0.113.9"), "{actor}");
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } == 0 {
        assert!(
            actor.starts_with("opsadmin "),
            "root's sudo names who ran it: {actor}"
        );
    } else {
        assert!(
            actor.starts_with(TEST_USER),
            "an ordinary account's SUDO_USER is not believed: {actor}"
        );
    }

    db.run_env(
        &["roles", "describe", "Support", "x"],
        &[("USER", "plainuser")],
    )
    .expect_code(0);
    let actor = s(&db.json(&["audit", "--limit", "1"])[0]["actor"]);
    assert_eq!(actor, "plainuser");
}

/// SPEC §13: an ordinary account cannot write another name into the log by setting
/// `SUDO_USER`. Run as root, the test drops to the `nobody` account for the change.
#[test]
fn sudo_user_set_by_an_ordinary_account_is_not_believed() {
    let db = Db::new();
    // On PostgreSQL the database is no file, so `db.dir()`, where HOME points.
    let dir = match db.is_pg() {
        true => db.dir().to_path_buf(),
        false => db.path().parent().expect("folder").to_path_buf(),
    };
    // SAFETY: getuid has no preconditions.
    let root = unsafe { libc::getuid() } == 0;
    let mut cmd = if root {
        use std::os::unix::fs::PermissionsExt;
        let files = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path());
        for path in files.chain([dir.clone()]) {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777)).unwrap();
        }
        let mut cmd = std::process::Command::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]);
        cmd.arg(env!("CARGO_BIN_EXE_rolecall"));
        cmd
    } else {
        std::process::Command::new(env!("CARGO_BIN_EXE_rolecall"))
    };
    let out = cmd
        .args(["roles", "create", "Spoofed"])
        .env("ROLECALL_DB", db.path())
        .env("SUDO_USER", "root")
        .env("USER", "nobodyreally")
        .env_remove("SSH_CONNECTION")
        .output()
        .expect("run rolecall");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let actor = s(&db.json(&["audit", "--limit", "1"])[0]["actor"]);
    assert_eq!(
        actor, "nobodyreally",
        "the account that ran it, not SUDO_USER"
    );

    // Nor can $USER dress a local change up as a served session's.
    db.run_env(
        &["roles", "describe", "Spoofed", "x"],
        &[
            ("USER", "bob via ssh from 10.9.9.9"),
            ("SSH_CONNECTION", "not-an-address 1 2 3"),
        ],
    )
    .expect_code(0);
    let actor = s(&db.json(&["audit", "--limit", "1"])[0]["actor"]);
    assert!(
        !actor.contains("via ssh") && !actor.contains(" from "),
        "{actor}"
    );
}

#[test]
fn audit_rows_cannot_be_edited_or_deleted() {
    if sqlite_only("SQLite's triggers (tests/postgres.rs has PostgreSQL's)") {
        return;
    }
    let db = Db::new();
    let conn = db.conn_rw();
    assert!(conn.execute("UPDATE audit SET actor = 'x'", []).is_err());
    assert!(conn.execute("DELETE FROM audit", []).is_err());
}

// ---------------------------------------------------------------------------------
// 9. Storage errors
// ---------------------------------------------------------------------------------

#[test]
fn a_newer_database_is_refused_with_exit_4_and_left_byte_for_byte_unchanged() {
    if sqlite_only("the file's user_version (tests/postgres.rs has PostgreSQL's)") {
        return;
    }
    let db = Db::with_owner();
    {
        let conn = db.conn_rw();
        conn.pragma_update(None, "user_version", 99).unwrap();
    }
    let bytes = fs::read(db.path()).unwrap();
    for args in [
        &["roles", "list"][..],
        &["users", "add", "bob", "--email", "bob@example.com"],
        &["roles", "grant", "Read Only", "all"],
        &["check", "alice", "contacts"],
        &["--read-only", "users", "list"],
    ] {
        let run = db.run(args);
        run.expect_code(4);
        assert!(run.stderr.starts_with("rolecall: "), "{}", run.stderr);
        assert!(
            run.stderr.contains("99"),
            "says which version: {}",
            run.stderr
        );
        assert!(run.stdout.is_empty());
        assert!(
            fs::read(db.path()).unwrap() == bytes,
            "{args:?} changed the file"
        );
    }
}

#[test]
fn a_newer_database_with_a_leftover_write_ahead_log_is_left_untouched() {
    if sqlite_only("the write-ahead log") {
        return;
    }
    // The state a newer rolecall leaves when it is killed: its last change (here the
    // schema version) is still in the -wal file, not yet in the main file.
    let db = Db::with_owner();
    let crashed = db.dir().join("crashed");
    fs::create_dir(&crashed).unwrap();
    let copy = crashed.join("rolecall.db");
    let wal = |p: &std::path::Path| {
        let mut s = p.as_os_str().to_owned();
        s.push("-wal");
        std::path::PathBuf::from(s)
    };
    {
        let conn = db.conn_rw();
        conn.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        // Copy the file and its log while the log still holds the change.
        fs::copy(db.path(), &copy).unwrap();
        fs::copy(wal(db.path()), wal(&copy)).unwrap();
    }
    let main_bytes = fs::read(&copy).unwrap();
    let wal_bytes = fs::read(wal(&copy)).unwrap();
    assert!(!wal_bytes.is_empty());

    for args in [
        &["roles", "list"][..],
        &["users", "add", "bob", "--email", "bob@example.com"],
    ] {
        let out = rc(&copy, args);
        assert_eq!(out.status.code(), Some(4), "{out:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("99"));
        assert!(
            fs::read(&copy).unwrap() == main_bytes,
            "{args:?} wrote the file"
        );
        assert!(
            fs::read(wal(&copy)).ok().as_ref() == Some(&wal_bytes),
            "{args:?} folded or removed the write-ahead log"
        );
    }
}

#[test]
fn a_file_of_random_bytes_gives_exit_4_and_a_message() {
    if sqlite_only("a file of random bytes") {
        return;
    }
    let db = Db::empty();
    // A fixed pseudo-random sequence (xorshift), so the test is deterministic.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let bytes: Vec<u8> = (0..8192)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    fs::write(db.path(), &bytes).unwrap();
    for args in [
        &["roles", "list"][..],
        &["users", "add", "bob", "--email", "bob@example.com"],
        &["--read-only", "roles", "list"],
    ] {
        let run = db.run(args);
        run.expect_code(4);
        assert!(run.stderr.starts_with("rolecall: "), "{}", run.stderr);
        assert_eq!(fs::read(db.path()).unwrap(), bytes, "left untouched");
    }
}

#[test]
fn a_damaged_rolecall_database_gives_exit_4_never_a_panic() {
    if sqlite_only("damage to the file") {
        return;
    }
    let db = Db::with_owner();
    for n in 0..20 {
        let email = format!("user{n}@example.com");
        let name = format!("user{n}");
        db.ok(&["users", "add", &name, "--email", &email]);
    }
    // Keep the header and the first page, overwrite everything after it.
    let mut bytes = fs::read(db.path()).unwrap();
    let page: usize = u16::from_be_bytes([bytes[16], bytes[17]]) as usize;
    assert!(bytes.len() > page * 2, "more than one page");
    for (i, b) in bytes.iter_mut().enumerate().skip(page) {
        *b = (i * 7 % 251) as u8;
    }
    fs::write(db.path(), &bytes).unwrap();
    for args in [
        &["roles", "list"][..],
        &["users", "list"],
        &["check", "alice", "contacts"],
    ] {
        let run = db.run(args);
        // Whatever SQLite notices first, the answer is a storage error, not a crash.
        run.expect_code(4);
        assert!(run.stderr.starts_with("rolecall: "), "{}", run.stderr);
    }
}

#[test]
fn an_empty_file_gives_exit_4_and_stays_empty() {
    if sqlite_only("an empty file") {
        return;
    }
    let db = Db::empty();
    fs::write(db.path(), b"").unwrap();
    let run = db.run(&["roles", "list"]);
    run.expect_code(4);
    assert!(run.stderr.starts_with("rolecall: "), "{}", run.stderr);
    assert!(run.stderr.contains("empty"), "{}", run.stderr);
    assert_eq!(fs::metadata(db.path()).unwrap().len(), 0);
}

#[test]
fn a_directory_gives_exit_4_and_a_message() {
    if sqlite_only("a folder given as the database file") {
        return;
    }
    let db = Db::empty();
    fs::create_dir(db.path()).unwrap();
    let run = db.run(&["roles", "list"]);
    run.expect_code(4);
    assert!(run.stderr.starts_with("rolecall: "), "{}", run.stderr);
    assert!(db.path().is_dir());
}

#[test]
fn a_sqlite_database_of_another_application_is_refused_untouched() {
    if sqlite_only("another application's SQLite file (tests/postgres.rs has PostgreSQL's)") {
        return;
    }
    let db = Db::empty();
    {
        let conn = rusqlite::Connection::open(db.path()).unwrap();
        conn.execute_batch("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes (body) VALUES ('keep me');")
            .unwrap();
    }
    let bytes = fs::read(db.path()).unwrap();
    let run = db.run(&["roles", "list"]);
    run.expect_code(4);
    assert!(run.stderr.starts_with("rolecall: "), "{}", run.stderr);
    assert_eq!(fs::read(db.path()).unwrap(), bytes);
}

#[test]
fn read_only_on_a_missing_database_creates_nothing() {
    let db = Db::empty();
    let run = db.run(&["--read-only", "roles", "list"]);
    run.expect_code(4);
    assert!(!db.path().exists());
}

// ---------------------------------------------------------------------------------
// Read-only, JSON shapes, terminal safety
// ---------------------------------------------------------------------------------

#[test]
fn read_only_refuses_every_change_and_still_lists() {
    let db = Db::with_owner();
    db.ok(&["users", "add", "bob", "--email", "bob@example.com"]);
    db.ok(&["roles", "create", "Support"]);
    let before = db.dump();
    // The file byte for byte; on PostgreSQL every row.
    let state = || match db.is_pg() {
        true => db.dump().into_bytes(),
        false => fs::read(db.path()).unwrap(),
    };
    let bytes = state();
    for args in [
        &["--read-only", "roles", "create", "Other"][..],
        &["--read-only", "roles", "grant", "Support", "contacts"],
        &["--read-only", "roles", "revoke", "Read Only", "all"],
        &["--read-only", "roles", "rename", "Support", "Helpdesk"],
        &["--read-only", "roles", "describe", "Support", "x"],
        &["--read-only", "roles", "delete", "Support"],
        &["--read-only", "roles", "set-default", "Support"],
        &[
            "--read-only",
            "users",
            "add",
            "carol",
            "--email",
            "c@example.com",
        ],
        &["--read-only", "users", "set", "bob", "--position", "Clerk"],
        &["--read-only", "users", "remove", "bob"],
        &["--read-only", "users", "transfer-ownership", "bob"],
    ] {
        let run = db.run(args);
        assert_ne!(run.code, 0, "{args:?} succeeded under --read-only");
        assert!(run.stderr.contains("read-only"), "{args:?}: {}", run.stderr);
        assert_eq!(db.dump(), before, "{args:?}");
    }
    let run = db.run_stdin(
        &["--read-only", "users", "passwd", "bob", "--password-stdin"],
        "a long enough password\n",
    );
    assert_ne!(run.code, 0);
    assert_eq!(db.dump(), before);
    assert_eq!(state(), bytes, "the database is untouched");

    // Browsing still works.
    let list = db.ok(&["--read-only", "users", "list"]);
    assert!(list.contains("alice") && list.contains("bob"), "{list}");
    assert!(db.ok(&["--read-only", "roles", "list"]).contains("Support"));
    db.ok(&["--read-only", "roles", "show", "Read Only"]);
    db.ok(&["--read-only", "audit"]);
    db.ok(&["--read-only", "catalog", "show"]);
    db.run(&["--read-only", "check", "bob", "contacts.view"])
        .expect_code(0);
    assert_eq!(
        db.json(&["--read-only", "users", "list"])
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

const USER_FIELDS: [&str; 14] = [
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
    "created_at",
    "updated_at",
];

#[test]
fn users_json_has_the_spec_field_names_and_no_secret() {
    let db = Db::with_owner();
    db.ok(&[
        "users",
        "add",
        "bob",
        "--email",
        "bob@example.com",
        "--first-name",
        "Bob",
        "--last-name",
        "Stone",
        "--position",
        "Clerk",
        "--signature",
        "Bob\nClerk",
        "--timezone",
        "Europe/Rome",
        "--language",
        "it",
        "--role",
        "Basic Access",
    ]);
    let list = db.json(&["users", "list"]);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    let show = db.user("bob");
    for user in list.iter().chain([&show]) {
        let obj = user.as_object().unwrap();
        for field in USER_FIELDS {
            assert!(obj.contains_key(field), "{field} missing from {user}");
        }
        for key in obj.keys() {
            assert!(
                !key.contains("password") || key == "has_password",
                "{key} in {user}"
            );
            assert!(!key.contains("hash"), "{key} in {user}");
        }
    }
    assert_eq!(
        list.iter().map(|u| s(&u["username"])).collect::<Vec<_>>(),
        ["alice", "bob"]
    );
    assert_eq!(show, list[1]);
    assert_eq!(s(&show["email"]), "bob@example.com");
    assert_eq!(s(&show["first_name"]), "Bob");
    assert_eq!(s(&show["last_name"]), "Stone");
    assert_eq!(s(&show["position"]), "Clerk");
    assert_eq!(s(&show["signature"]), "Bob\nClerk");
    assert_eq!(s(&show["timezone"]), "Europe/Rome");
    assert_eq!(s(&show["language"]), "it");
    assert_eq!(s(&show["role"]), "Basic Access");
    assert_eq!(show["active"], Value::Bool(true));
    assert_eq!(show["owner"], Value::Bool(false));
    assert_eq!(show["has_password"], Value::Bool(false));
    assert!(s(&show["created_at"]).ends_with('Z'));

    let by_role = db.json(&["users", "list", "--role", "basic access"]);
    assert_eq!(by_role.as_array().unwrap().len(), 1);
    assert_eq!(s(&by_role[0]["username"]), "bob");
}

#[test]
fn roles_list_json_has_the_spec_field_names() {
    let db = Db::with_owner();
    let list = db.json(&["roles", "list"]);
    for role in list.as_array().unwrap() {
        for field in [
            "id",
            "name",
            "description",
            "builtin",
            "users",
            "granted_count",
            "total",
            "created_at",
        ] {
            assert!(role.get(field).is_some(), "{field} missing from {role}");
        }
    }
    let admin = list
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "Administrator")
        .unwrap();
    assert_eq!(admin["users"], 1);
    assert_eq!(admin["builtin"], Value::Bool(true));
}

#[test]
fn json_output_is_valid_json_as_printed() {
    let db = Db::with_owner();
    db.ok(&["users", "add", "bob", "--email", "bob@example.com"]);
    for args in [
        &["users", "list", "--json"][..],
        &["users", "show", "bob", "--json"],
        &["roles", "list", "--json"],
        &["roles", "show", "Read Only", "--json"],
        &["catalog", "show", "--json"],
        &["audit", "--json"],
    ] {
        let run = db.run(args);
        run.expect_code(0);
        if let Err(e) = parse_json(&run.stdout) {
            let start: String = run.stdout.chars().take(80).collect();
            panic!("rolecall {args:?} printed invalid JSON ({e}); it starts {start:?}");
        }
    }
}

#[test]
fn text_output_never_contains_escape_bytes_from_stored_values() {
    if sqlite_only("writing the file directly") {
        return;
    }
    let db = Db::with_owner();
    db.ok(&["roles", "create", "Support"]);
    db.ok(&[
        "users",
        "add",
        "bob",
        "--email",
        "bob@example.com",
        "--role",
        "Support",
    ]);
    {
        // Someone writes escape sequences straight into the file.
        let conn = db.conn_rw();
        conn.execute(
            "UPDATE roles SET description = 'calm' || char(27) || '[2J' || char(27) || ']0;pwned' || char(7) WHERE name = 'Support'",
            [],
        )
        .unwrap();
        conn.execute(
            "UPDATE roles SET name = 'Sup' || char(27) || '[31mport' WHERE name = 'Support'",
            [],
        )
        .unwrap();
        conn.execute(
            "UPDATE users SET first_name = 'B' || char(27) || '[5mob', position = char(155) || '31m', \
             signature = 'line' || char(10) || char(27) || '[2J' WHERE username = 'bob'",
            [],
        )
        .unwrap();
    }
    let role_id = db
        .conn()
        .query_row("SELECT id FROM roles WHERE name LIKE 'Sup%'", [], |r| {
            r.get::<_, i64>(0)
        })
        .unwrap()
        .to_string();
    let runs = [
        db.run(&["roles", "list"]),
        db.run(&["roles", "show", &role_id]),
        db.run(&["roles", "diff", &role_id, "Read Only"]),
        db.run(&["users", "list"]),
        db.run(&["users", "show", "bob"]),
        db.run(&["check", "bob", "contacts.export", "--explain"]),
        db.run(&["catalog", "show"]),
        db.run(&["audit"]),
        db.run(&["roles", "delete", &role_id]),
        db.run(&["roles", "describe", &role_id, "quiet", "--if-version", "0"]),
        db.run(&["users", "list", "--json"]),
        db.run(&["roles", "show", &role_id, "--json"]),
    ];
    let mut saw_stand_in = false;
    for run in &runs {
        for (what, bytes) in [("stdout", &run.raw_stdout), ("stderr", &run.raw_stderr)] {
            assert!(
                !bytes.contains(&0x1b),
                "rolecall {:?} wrote ESC on {what}:\n{}",
                run.args,
                String::from_utf8_lossy(bytes)
            );
            assert!(
                !String::from_utf8_lossy(bytes).contains('\u{9b}'),
                "rolecall {:?} wrote a C1 CSI on {what}",
                run.args
            );
            assert!(!bytes.contains(&0x07), "rolecall {:?} wrote BEL", run.args);
        }
        saw_stand_in |= run.stdout.contains("[31mport") || run.stderr.contains("[31mport");
    }
    assert!(saw_stand_in, "the stored name is still shown, made visible");
    // The refusals still happened: the role is in use, and the version was stale.
    assert_eq!(runs[8].code, 3);
    assert_eq!(runs[9].code, 3);
}

#[test]
fn a_catalog_label_with_escapes_written_into_the_file_is_shown_made_safe() {
    if sqlite_only("writing the file directly") {
        return;
    }
    let db = Db::with_owner();
    db.conn_rw()
        .execute(
            "UPDATE permissions SET label = 'Export' || char(27) || ']0;pwned' || char(7), \
             description = 'Down' || char(27) || '[2Jload' WHERE key = 'contacts.export'",
            [],
        )
        .unwrap();
    let mut saw = false;
    for args in [
        &["catalog", "show"][..],
        &["roles", "show", "Full Access"],
        &["roles", "diff", "Full Access", "Read Only"],
        &["check", "alice", "contacts.export", "--explain"],
        &["catalog", "show", "--json"],
    ] {
        let run = db.run(args);
        run.expect_code(0);
        for bytes in [&run.raw_stdout, &run.raw_stderr] {
            assert!(
                !bytes.contains(&0x1b) && !bytes.contains(&0x07),
                "rolecall {args:?} wrote a control byte:\n{}",
                String::from_utf8_lossy(bytes)
            );
        }
        saw |= run.stdout.contains("]0;pwned");
    }
    assert!(saw, "the stored label is still shown, made visible");
}

#[test]
fn a_rolecall_database_missing_a_table_is_refused() {
    if sqlite_only("a table dropped from the file") {
        return;
    }
    let db = Db::with_owner();
    db.conn_rw().execute_batch("DROP TABLE settings").unwrap();
    let run = db.run(&["roles", "list"]);
    run.expect_code(4);
    assert!(run.stderr.contains("settings"), "{}", run.stderr);
}

#[test]
fn a_database_path_below_a_file_gives_exit_4() {
    let db = Db::empty();
    let blocker = db.dir().join("plain-file");
    fs::write(&blocker, b"not a folder").unwrap();
    let out = rc(&blocker.join("rolecall.db"), &["roles", "list"]);
    assert_eq!(out.status.code(), Some(4), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("rolecall: "));
    assert_eq!(fs::read(&blocker).unwrap(), b"not a folder");
}

// ---------------------------------------------------------------------------------
// Several processes at once
// ---------------------------------------------------------------------------------

/// Starts `rolecall --db DB ARGS` for every argument list at once and waits for all.
fn run_at_once(db: &Db, commands: &[Vec<String>]) -> Vec<std::process::Output> {
    use std::process::Stdio;
    let children: Vec<_> = commands
        .iter()
        .map(|args| {
            command(db.dir())
                .arg("--db")
                .arg(db.path())
                .args(args)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("rolecall starts")
        })
        .collect();
    children
        .into_iter()
        .map(|c| c.wait_with_output().expect("rolecall finishes"))
        .collect()
}

#[test]
fn concurrent_first_runs_create_one_seeded_database() {
    if sqlite_only("creating the file") {
        return;
    }
    let db = Db::empty();
    let commands: Vec<Vec<String>> = (0..8)
        .map(|_| {
            ["roles", "set-default", "Read Only"]
                .map(String::from)
                .to_vec()
        })
        .collect();
    for out in run_at_once(&db, &commands) {
        assert_eq!(out.status.code(), Some(0), "{out:?}");
    }
    let conn = db.conn();
    let roles: i64 = conn
        .query_row("SELECT count(*) FROM roles", [], |r| r.get(0))
        .unwrap();
    assert_eq!(roles, 5);
    let creates: i64 = conn
        .query_row(
            "SELECT count(*) FROM audit WHERE action = 'database.create'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(creates, 1, "seeded once");
    let leftovers: Vec<String> = fs::read_dir(db.dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".new"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn concurrent_adds_all_land_and_exactly_one_user_becomes_owner() {
    let db = Db::new();
    let commands: Vec<Vec<String>> = (1..=8)
        .map(|i| {
            [
                "users",
                "add",
                &format!("user{i}"),
                "--email",
                &format!("user{i}@example.com"),
            ]
            .iter()
            .map(|s| s.to_string())
            .collect()
        })
        .collect();
    for out in run_at_once(&db, &commands) {
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let users = db.json(&["users", "list"]);
    let users = users.as_array().unwrap();
    assert_eq!(users.len(), 8);
    let owners: Vec<&Value> = users.iter().filter(|u| u["owner"] == true).collect();
    assert_eq!(owners.len(), 1, "exactly one owner");
    assert_eq!(s(&owners[0]["role"]), "Administrator");
    for u in users.iter().filter(|u| u["owner"] == false) {
        assert_eq!(s(&u["role"]), "Read Only");
    }
}

// ---------------------------------------------------------------------------------
// SSH keys (SPEC §13)
// ---------------------------------------------------------------------------------

#[test]
fn users_keys_are_added_listed_and_removed_with_openssh_fingerprints_and_audited() {
    let db = Db::with_owner();
    let key = db.dir().join("k");
    let made = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "alice@laptop", "-f"])
        .arg(&key)
        .status();
    if !made.is_ok_and(|s| s.success()) {
        assert!(std::env::var_os("CI").is_none(), "CI must have ssh-keygen");
        eprintln!("skipping: ssh-keygen is not installed");
        return;
    }
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    // OpenSSH's own fingerprint of the key.
    let listed = std::process::Command::new("ssh-keygen")
        .arg("-lf")
        .arg(key.with_extension("pub"))
        .output()
        .unwrap();
    let fingerprint = String::from_utf8_lossy(&listed.stdout)
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string();

    let added = db.run_stdin(&["users", "keys", "add", "alice", "--json"], &public);
    added.expect_code(0);
    assert_eq!(s(&added.json()["fingerprint"]), fingerprint);
    let keys = db.json(&["users", "keys", "list", "alice"]);
    assert_eq!(s(&keys[0]["fingerprint"]), fingerprint);
    assert_eq!(s(&keys[0]["comment"]), "alice@laptop");
    let row = &db.json(&["audit", "--limit", "1"])[0];
    assert_eq!(s(&row["action"]), "user.key.add");

    // The same key again, for anyone, and text that is not a key change nothing.
    db.ok(&["users", "add", "bob", "--email", "bob@example.com"]);
    let before = db.dump();
    let again = db.run_stdin(&["users", "keys", "add", "bob"], &public);
    assert_field_error(&again, 2, "key");
    assert!(
        again.stderr.contains("already a key of \"alice\""),
        "{}",
        again.stderr
    );
    let private = std::fs::read_to_string(&key).unwrap();
    assert_field_error(
        &db.run_stdin(&["users", "keys", "add", "bob"], &private),
        2,
        "key",
    );
    assert_field_error(
        &db.run_stdin(&["users", "keys", "add", "bob"], "ssh-ed25519 !!"),
        2,
        "key",
    );
    assert_field_error(
        &db.run(&["users", "keys", "remove", "bob", &fingerprint]),
        2,
        "fingerprint",
    );
    assert_eq!(db.dump(), before);

    db.ok(&["users", "keys", "remove", "alice", &fingerprint]);
    assert_eq!(
        db.json(&["users", "keys", "list", "alice"]),
        serde_json::json!([])
    );
    let row = &db.json(&["audit", "--limit", "1"])[0];
    assert_eq!(s(&row["action"]), "user.key.remove");
    // A removed user takes their keys along.
    db.run_stdin(&["users", "keys", "add", "bob"], &public)
        .expect_code(0);
    db.ok(&["users", "remove", "bob"]);
    let left = db.sql_strings("SELECT CAST(count(*) AS TEXT) FROM user_keys", &[]);
    assert_eq!(left, ["0"]);
}

/// A connection string rolecall does not read (a libpq `key=value` string, a URL
/// whose scheme is not in lower case) is refused with exit 2, without repeating it
/// (it may hold a password), instead of being taken for a file name: the review
/// found such a `--db` quietly creating a SQLite file named after the string,
/// password and all.
#[test]
fn a_connection_string_rolecall_does_not_read_is_refused_not_taken_for_a_file() {
    let dir = tempfile::tempdir().unwrap();
    for db in [
        "host=/tmp/nowhere user=sec password=Secret99 dbname=secdb",
        "dbname=secdb password=Secret99",
        "POSTGRESQL://sec:Secret99@/secdb?host=/tmp/nowhere",
        "Postgres://sec:Secret99@localhost/secdb",
    ] {
        for args in [
            &["users", "add", "a", "--email", "a@example.com"][..],
            &["users", "list"][..],
            &["check", "a", "contacts.view"][..],
        ] {
            let (code, err) = with_db(dir.path(), db.as_ref(), args);
            assert_eq!(code, Some(2), "{db} {args:?}: {err}");
            assert!(err.contains("db"), "names the field: {err}");
            assert!(!err.contains("Secret99"), "{err}");
        }
        let a_db = dir.path().join("a.db");
        let (code, err) = with_db(dir.path(), a_db.as_ref(), &["copy", "--to", db]);
        assert_eq!(code, Some(2), "copy --to {db}: {err}");
        assert!(!err.contains("Secret99"), "{err}");
    }
    let left: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "xdg-data" && n != "a.db" && !n.starts_with("a.db-"))
        .collect();
    assert!(
        left.is_empty(),
        "no file was made from a connection string: {left:?}"
    );
}

/// A password holding `@`, `/` or `?` unencoded: the driver (as libpq) would take
/// part of it for a host, a port or a database name and show that part in its
/// errors (the review saw `Sec@:5432` for a password ending in `@Sec`). Refused
/// before any connection, naming the rule, never repeating the password.
#[test]
fn a_password_with_an_unencoded_reserved_character_is_refused_without_showing_it() {
    let dir = tempfile::tempdir().unwrap();
    for db in [
        "postgres://sec:Top@Secret99@/secdb?host=/tmp/nowhere",
        "postgres://sec:Top@Secret99@127.0.0.1:1/secdb",
        "postgres://sec:Top/Secret99@127.0.0.1:1/secdb",
        "postgres://sec:1234/Secret99@127.0.0.1:1/secdb",
        "postgres://sec:Top?Secret99@127.0.0.1:1/secdb",
    ] {
        for args in [&["users", "list"][..], &["check", "a", "contacts.view"][..]] {
            let (code, err) = with_db(dir.path(), db.as_ref(), args);
            assert_eq!(code, Some(2), "{db} {args:?}: {err}");
            assert!(err.starts_with("rolecall: db: "), "names the field: {err}");
            assert!(err.contains("%40"), "says how to write it: {err}");
            for piece in ["Secret99", "Top", "1234"] {
                assert!(!err.contains(piece), "{db}: {err}");
            }
        }
    }
    // Encoded, the same password is taken as written: the error is the connection's.
    let encoded = "postgres://sec:Top%40Secret99@127.0.0.1:1/secdb";
    let (code, err) = with_db(dir.path(), encoded.as_ref(), &["users", "list"]);
    assert_eq!(code, Some(4), "{err}");
    assert!(err.contains("postgres://sec@127.0.0.1:1/secdb"), "{err}");
    assert!(!err.contains("Secret99"), "{err}");
}

/// `rolecall --db DB ARGS` run in `dir`: its exit code and standard error.
fn with_db(dir: &std::path::Path, db: &std::ffi::OsStr, args: &[&str]) -> (Option<i32>, String) {
    let out = command(dir)
        .current_dir(dir)
        .arg("--db")
        .arg(db)
        .args(args)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code(), err)
}
