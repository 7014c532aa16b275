//! The seed products' catalogs (`assets/catalogs/*.toml`, SPEC §11): each loads into a
//! fresh database with `catalog load --prune`, and the document's own statements hold
//! for its default roles, which nobody can edit.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::*;

fn asset(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("assets/catalogs")
        .join(name)
        .display()
        .to_string()
}

/// A fresh database with the catalog loaded, the owner `owner`, and one user per
/// role named (`u0`, `u1`, ... in order).
fn loaded(file: &str, roles: &[&str]) -> Db {
    let db = Db::with_owner();
    db.ok(&["catalog", "load", &asset(file), "--prune"]);
    for (i, role) in roles.iter().enumerate() {
        db.ok(&[
            "users",
            "add",
            &format!("u{i}"),
            "--email",
            &format!("u{i}@example.com"),
            "--role",
            role,
        ]);
    }
    db
}

fn leaves(db: &Db) -> BTreeSet<String> {
    db.sql_strings(
        "SELECT key FROM permissions p WHERE NOT EXISTS (SELECT 1 FROM permissions c WHERE c.parent = p.key)",
        &[],
    )
    .into_iter()
    .collect()
}

/// Every fixed role of the file is marked fixed and refuses every edit (exit 3); the
/// built-in Administrator too.
fn assert_locked(db: &Db, roles: &[&str]) {
    let list = db.json(&["roles", "list"]);
    let before = db.dump();
    for role in roles {
        let row = list
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == *role)
            .unwrap_or_else(|| panic!("no role {role}"));
        assert_eq!(row["fixed"], true, "{role}");
        for args in [
            vec!["roles", "grant", role, "all"],
            vec!["roles", "revoke", role, "all"],
            vec!["roles", "rename", role, "Mine"],
            vec!["roles", "describe", role, "Mine"],
            vec!["roles", "delete", role],
        ] {
            let run = db.run(&args);
            run.expect_code(3);
            assert!(
                run.stderr.contains("fixed role of the catalog"),
                "{args:?}: {}",
                run.stderr
            );
        }
    }
    db.run(&["roles", "grant", "Administrator", "all"])
        .expect_code(3);
    assert_eq!(db.dump(), before, "nothing changed");
}

/// Magnews's can/cannot tables (seed 004), row by row as the document lays them out:
/// (role, can, statement, the leaves the statement names).
const MAGNEWS: &[(&str, bool, &str, &[&str])] = &[
    // Editor
    (
        "Editor",
        true,
        "Import new contacts and edit existing ones",
        &["contacts.import", "contacts.edit"],
    ),
    (
        "Editor",
        false,
        "Create new databases",
        &["database.create"],
    ),
    ("Editor", true, "Manage contacts", &["contacts.manage"]),
    (
        "Editor",
        false,
        "Manage security rules (including Blacklist)",
        &["security.rules", "security.blacklist"],
    ),
    (
        "Editor",
        true,
        "Create and edit communications",
        &["communications.edit"],
    ),
    ("Editor", false, "Create new journeys", &["journeys.create"]),
    (
        "Editor",
        true,
        "Manage/Create contents",
        &["content.manage"],
    ),
    (
        "Editor",
        false,
        "Create/Manage shared files",
        &["content.shared_files"],
    ),
    (
        "Editor",
        true,
        "Create web pages/on-site messages",
        &["web_pages.manage"],
    ),
    (
        "Editor",
        false,
        "View report details",
        &["insight.report_details"],
    ),
    ("Editor", true, "View reports", REPORTS),
    ("Editor", false, "Manage users", &["users.manage"]),
    (
        "Editor",
        false,
        "Edit general settings",
        &["settings.general"],
    ),
    // Designer
    ("Designer", true, "View contacts", &["contacts.view"]),
    (
        "Designer",
        false,
        "Create new databases",
        &["database.create"],
    ),
    (
        "Designer",
        true,
        "Manage service page flows",
        &["journeys.service_page_flows"],
    ),
    (
        "Designer",
        false,
        "Manage security rules (including Blacklist)",
        &["security.rules", "security.blacklist"],
    ),
    (
        "Designer",
        true,
        "Edit existing journeys",
        &["journeys.edit"],
    ),
    (
        "Designer",
        false,
        "Create new journeys",
        &["journeys.create"],
    ),
    (
        "Designer",
        true,
        "Manage/Create content",
        &["content.manage"],
    ),
    (
        "Designer",
        false,
        "Send communications",
        &["communications.send"],
    ),
    (
        "Designer",
        true,
        "Create and edit communications",
        &["communications.edit"],
    ),
    (
        "Designer",
        false,
        "Manage audience and edit contacts",
        &["contacts.audiences", "contacts.edit"],
    ),
    (
        "Designer",
        true,
        "Create web pages/on-site messages",
        &["web_pages.manage"],
    ),
    (
        "Designer",
        false,
        "View report details",
        &["insight.report_details"],
    ),
    ("Designer", true, "View reports", REPORTS),
    ("Designer", false, "Manage users", &["users.manage"]),
    (
        "Designer",
        true,
        "Proceed with advanced content management",
        &["content.advanced"],
    ),
    (
        "Designer",
        false,
        "Edit general settings",
        &["settings.general"],
    ),
    (
        "Designer",
        true,
        "Create/Manage shared files",
        &["content.shared_files"],
    ),
    // Database manager
    (
        "Database manager",
        true,
        "Create new databases",
        &["database.create"],
    ),
    (
        "Database manager",
        false,
        "Manage security rules",
        &["security.rules"],
    ),
    (
        "Database manager",
        true,
        "View contacts",
        &["contacts.view"],
    ),
    (
        "Database manager",
        false,
        "Create new journeys",
        &["journeys.create"],
    ),
    (
        "Database manager",
        true,
        "Manage/Create content",
        &["content.manage"],
    ),
    (
        "Database manager",
        false,
        "Edit/Send communications",
        &["communications.edit", "communications.send"],
    ),
    (
        "Database manager",
        true,
        "Manage web pages/on-site messages",
        &["web_pages.manage"],
    ),
    (
        "Database manager",
        false,
        "Proceed with advanced content management",
        &["content.advanced"],
    ),
    ("Database manager", true, "View reports", REPORTS),
    ("Database manager", false, "Manage users", &["users.manage"]),
    (
        "Database manager",
        true,
        "View report details",
        &["insight.report_details"],
    ),
    (
        "Database manager",
        false,
        "Edit general settings",
        &["settings.general"],
    ),
    (
        "Database manager",
        true,
        "Manage the blacklist",
        &["security.blacklist"],
    ),
    // Report access
    ("Report access", true, "View reports", REPORTS),
    (
        "Report access",
        false,
        "Manage security rules (including Blacklist)",
        &["security.rules", "security.blacklist"],
    ),
    (
        "Report access",
        true,
        "See contact statistical details",
        &["insight.contact_statistics"],
    ),
    (
        "Report access",
        false,
        "Create new journeys",
        &["journeys.create"],
    ),
    (
        "Report access",
        true,
        "View journey reports",
        &["insight.journey_reports"],
    ),
    (
        "Report access",
        false,
        "Create/Edit/Send communications",
        &["communications.edit", "communications.send"],
    ),
    (
        "Report access",
        true,
        "View report details",
        &["insight.report_details"],
    ),
    (
        "Report access",
        false,
        "Create web pages/on-site messages",
        &["web_pages.manage"],
    ),
    (
        "Report access",
        false,
        "Create/Manage shared files",
        &["content.shared_files"],
    ),
    ("Report access", false, "Manage users", &["users.manage"]),
    (
        "Report access",
        false,
        "Manage general settings",
        &["settings.general"],
    ),
    (
        "Report access",
        false,
        "Create new databases",
        &["database.create"],
    ),
    // Guest
    (
        "Guest",
        true,
        "View communication reports",
        &["insight.communication_reports"],
    ),
    (
        "Guest",
        false,
        "View statistical details",
        &["insight.report_details"],
    ),
    (
        "Guest",
        true,
        "View contact statistics",
        &["insight.contact_statistics"],
    ),
    (
        "Guest",
        false,
        "Manage security rules (including Blacklist)",
        &["security.rules", "security.blacklist"],
    ),
    (
        "Guest",
        true,
        "View web page reports",
        &["insight.web_page_reports"],
    ),
    ("Guest", false, "Create new journeys", &["journeys.create"]),
    (
        "Guest",
        false,
        "Create/Edit/Send communications",
        &["communications.edit", "communications.send"],
    ),
    (
        "Guest",
        false,
        "Create web pages/on-site messages",
        &["web_pages.manage"],
    ),
    (
        "Guest",
        false,
        "Create/Manage shared files",
        &["content.shared_files"],
    ),
    ("Guest", false, "Manage users", &["users.manage"]),
    (
        "Guest",
        false,
        "Manage general settings",
        &["settings.general"],
    ),
    ("Guest", false, "Create new databases", &["database.create"]),
];

const REPORTS: &[&str] = &[
    "insight.database_reports",
    "insight.journey_reports",
    "insight.communication_reports",
    "insight.web_page_reports",
];

const MAGNEWS_ROLES: &[&str] = &[
    "Manager",
    "Editor",
    "Designer",
    "Database manager",
    "Report access",
    "Guest",
];

#[test]
fn magnews_roles_do_what_its_tables_say() {
    let db = loaded("magnews.toml", MAGNEWS_ROLES);
    let all = leaves(&db);
    let user_of = |role: &str| {
        format!(
            "u{}",
            MAGNEWS_ROLES.iter().position(|r| *r == role).unwrap()
        )
    };
    for (role, can, statement, keys) in MAGNEWS {
        let granted: BTreeSet<String> = db.view_grants(&user_of(role)).into_iter().collect();
        for key in *keys {
            assert!(all.contains(*key), "{key} is a permission of the catalog");
            assert_eq!(
                granted.contains(*key),
                *can,
                "{role} {} \"{statement}\" ({key})",
                if *can { "can" } else { "cannot" }
            );
        }
    }
    // Administrator: any operation. Manager: everything but security and users.
    assert_eq!(db.view_grants("alice").len(), all.len());
    let manager: BTreeSet<String> = db.view_grants("u0").into_iter().collect();
    for key in &all {
        let denied = key.starts_with("security.") || key.starts_with("users.");
        assert_eq!(manager.contains(key), !denied, "Manager and {key}");
    }
    assert_locked(&db, MAGNEWS_ROLES);
}

#[test]
fn a_magnews_exception_narrows_a_cloned_role_on_one_database() {
    let db = loaded("magnews.toml", &[]);
    db.ok(&["roles", "create", "Editor EU", "--from", "Editor"]);
    db.ok(&[
        "users",
        "add",
        "eva",
        "--email",
        "eva@example.com",
        "--role",
        "Editor EU",
    ]);
    db.ok(&["resources", "add", "database", "newsletter"]);
    db.ok(&["resources", "add", "database", "crm"]);
    db.ok(&[
        "roles",
        "exception",
        "set",
        "Editor EU",
        "database:newsletter",
        "--revoke",
        "contacts.edit",
        "--revoke",
        "contacts.import",
    ]);
    db.run(&[
        "check",
        "eva",
        "contacts.edit",
        "--on",
        "database:newsletter",
    ])
    .expect_code(1);
    db.run(&["check", "eva", "contacts.edit", "--on", "database:crm"])
        .expect_code(0);
    // Not scoped by databases: an exception cannot touch it.
    let run = db.run(&[
        "roles",
        "exception",
        "set",
        "Editor EU",
        "database:crm",
        "--revoke",
        "journeys.edit",
    ]);
    assert_field_error(&run, 2, "permission");
}

const ITERABLE_ROLES: &[&str] = &[
    "Account Admin",
    "Marketer Admin",
    "Marketer Limited",
    "Reports Only",
];

#[test]
fn iterable_default_roles_have_exactly_the_disabled_permissions_it_lists() {
    let db = loaded("iterable.toml", ITERABLE_ROLES);
    let all = leaves(&db);
    let key_of = |label: &str| -> String {
        db.sql_strings("SELECT key FROM permissions WHERE label = ?1", &[label])
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("no permission labelled {label}"))
    };
    let marketer_admin = [
        "Delete Lists",
        "Change List Type",
        "Rename Lists",
        "Export PII",
        "Manage Roles",
        "Manage Users",
        "Manage Teams",
        "Meter Usage",
    ];
    let marketer_limited = [
        "Delete Lists",
        "Change List Type",
        "Rename Lists",
        "Export PII",
        "Manage Roles",
        "Manage Users",
        "Manage Teams",
        "API Test",
        "Meter Usage",
        "Assign Team Resources",
    ];
    let disabled =
        |labels: &[&str]| -> BTreeSet<String> { labels.iter().map(|l| key_of(l)).collect() };
    let everything_but = |off: &BTreeSet<String>| -> BTreeSet<String> {
        all.iter().filter(|k| !off.contains(*k)).cloned().collect()
    };
    let grants = |user: &str| -> BTreeSet<String> { db.view_grants(user).into_iter().collect() };
    // Account Admin: all permissions enabled.
    assert_eq!(grants("u0"), all);
    assert_eq!(grants("u1"), everything_but(&disabled(&marketer_admin)));
    assert_eq!(grants("u2"), everything_but(&disabled(&marketer_limited)));
    // Reports Only: all permissions are disabled but Analytics, given to all users.
    assert_eq!(grants("u3"), BTreeSet::from([key_of("Analytics")]));
    assert_locked(&db, ITERABLE_ROLES);
}

#[test]
fn iterable_lists_belong_to_teams_unless_the_user_may_assign_team_resources() {
    let db = loaded("iterable.toml", ITERABLE_ROLES);
    db.ok(&["packages", "create", "Team A"]);
    db.ok(&["packages", "create", "Team B"]);
    db.ok(&["packages", "add-user", "Team A", "u2"]);
    db.ok(&[
        "resources",
        "add",
        "list",
        "newsletter",
        "--package",
        "Team A",
    ]);
    db.ok(&["resources", "add", "list", "promo", "--package", "Team B"]);
    db.ok(&["resources", "add", "template", "welcome"]);
    // Marketer Limited (u2) sees only its team's list; Marketer Admin (u1) all of them.
    let perm = "campaigns.change_campaign_status";
    db.run(&["check", "u2", perm, "--on", "list:newsletter"])
        .expect_code(0);
    db.run(&["check", "u2", perm, "--on", "list:promo"])
        .expect_code(1);
    db.run(&["check", "u2", perm, "--on", "template:welcome"])
        .expect_code(1);
    for res in ["list:newsletter", "list:promo", "template:welcome"] {
        db.run(&["check", "u1", perm, "--on", res]).expect_code(0);
    }
    let who: Vec<String> = db
        .json(&["who-can", perm, "--on", "list:promo"])
        .as_array()
        .unwrap()
        .iter()
        .map(|r| s(&r["username"]))
        .collect();
    assert_eq!(who, ["alice", "u0", "u1"]);
}

const MAILGUN_ROLES: &[&str] = &["Analyst", "Billing", "Support", "Developer", "Admin"];

#[test]
fn mailgun_roles_do_what_its_post_says() {
    let db = loaded("mailgun.toml", MAILGUN_ROLES);
    let check = |user: &str, key: &str| db.run(&["check", user, key]).code == 0;
    // Analyst reads most data, but cannot see API keys or SMTP passwords.
    assert!(check("u0", "dashboard.read"));
    assert!(!check("u0", "credentials.view_api_keys"));
    assert!(!check("u0", "credentials.view_smtp"));
    assert!(!check("u0", "credentials"));
    // Billing: payment settings, invoices, billing issues; no account-level changes.
    for key in [
        "billing.payment_settings",
        "billing.invoices",
        "billing.inquiries",
    ] {
        assert!(check("u1", key), "{key}");
    }
    assert!(!check("u1", "account"));
    // Support: read privileges, suppressions, mailing list members, support tickets.
    for key in [
        "dashboard.read",
        "deliverability.suppressions",
        "deliverability.mailing_list_members",
        "deliverability.support_tickets",
    ] {
        assert!(check("u2", key), "{key}");
    }
    assert!(!check("u2", "credentials"));
    // Developer: reads API keys and SMTP credentials, most settings; not account
    // details, users, or managing API keys and SMTP credentials.
    for key in [
        "credentials.view_api_keys",
        "credentials.view_smtp",
        "settings.domains",
    ] {
        assert!(check("u3", key), "{key}");
    }
    for key in [
        "account.details",
        "account.users",
        "credentials.manage_api_keys",
        "credentials.manage_smtp",
    ] {
        assert!(!check("u3", key), "{key}");
    }
    // Admin: everything.
    assert_eq!(db.view_grants("u4").len(), leaves(&db).len());
    assert_locked(&db, MAILGUN_ROLES);
}

#[test]
fn mautic_bundles_have_view_edit_create_delete_and_publish() {
    let db = loaded("mautic.toml", &[]);
    let all = leaves(&db);
    let bundles: BTreeSet<String> = all
        .iter()
        .filter(|k| k.ends_with(".publish"))
        .map(|k| k.trim_end_matches(".publish").to_string())
        .collect();
    assert!(bundles.contains("assets"), "{bundles:?}");
    assert!(bundles.len() >= 10, "{bundles:?}");
    for bundle in &bundles {
        for action in ["view", "edit", "create", "delete", "publish"] {
            assert!(
                all.contains(&format!("{bundle}.{action}")),
                "{bundle}.{action}"
            );
        }
    }
    // Mautic's one default role is Administrator, with full system access.
    assert_eq!(db.view_grants("alice").len(), all.len());
    let fixed = db
        .json(&["roles", "list"])
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["fixed"] == true)
        .count();
    assert_eq!(fixed, 0);
}
