//! Packages (SPEC §10, seed 001's USER ROLE → PACKAGE → USER) through the real binary:
//! effective permissions are the union of the direct role and every package's roles,
//! the rules about deleting roles and packages hold through packages, and `check`,
//! `who-can` and the two SQL views agree.

mod common;

use std::collections::BTreeSet;

use common::*;
use serde_json::Value;

/// alice (owner), bob and carol on Read Only, dave on Read Only and disabled;
/// role "Exporter" grants contacts.export and "Mailer" grants broadcasts;
/// package "EU Marketing" includes Exporter and Campaign Manager and has bob and
/// dave; package "Mail" includes Mailer and has bob and carol.
fn fixture() -> Db {
    let db = Db::with_owner();
    for user in ["bob", "carol", "dave"] {
        db.ok(&[
            "users",
            "add",
            user,
            "--email",
            &format!("{user}@example.com"),
        ]);
    }
    db.ok(&["users", "set", "dave", "--active", "false"]);
    db.ok(&["roles", "create", "Exporter"]);
    db.ok(&["roles", "grant", "Exporter", "contacts.export"]);
    db.ok(&["roles", "create", "Mailer"]);
    db.ok(&["roles", "grant", "Mailer", "broadcasts"]);
    db.ok(&[
        "packages",
        "create",
        "EU Marketing",
        "--description",
        "The EU team",
    ]);
    db.ok(&[
        "packages",
        "add-role",
        "EU Marketing",
        "Exporter",
        "Campaign Manager",
    ]);
    db.ok(&["packages", "add-user", "EU Marketing", "bob", "dave"]);
    db.ok(&["packages", "create", "Mail"]);
    db.ok(&["packages", "add-role", "Mail", "Mailer"]);
    db.ok(&["packages", "add-user", "Mail", "bob", "carol"]);
    db
}

fn allowed(db: &Db, user: &str, key: &str) -> bool {
    match db.run(&["check", user, key]).code {
        0 => true,
        1 => false,
        other => panic!("check {user} {key} exited {other}"),
    }
}

#[test]
fn a_members_permissions_are_the_union_of_the_direct_role_and_every_package() {
    let db = fixture();
    assert!(
        allowed(&db, "bob", "contacts.view"),
        "direct role Read Only"
    );
    assert!(
        allowed(&db, "bob", "contacts.export"),
        "Exporter in EU Marketing"
    );
    assert!(
        allowed(&db, "bob", "drip_campaigns.start"),
        "Campaign Manager in EU Marketing"
    );
    assert!(allowed(&db, "bob", "broadcasts.schedule"), "Mailer in Mail");
    assert!(allowed(&db, "carol", "broadcasts.schedule"));
    assert!(
        !allowed(&db, "carol", "contacts.export"),
        "carol is not in EU Marketing"
    );
    assert!(
        !allowed(&db, "dave", "contacts.export"),
        "a disabled user has nothing"
    );
    assert!(!allowed(&db, "dave", "contacts.view"));
}

#[test]
fn check_the_view_and_the_sources_view_agree_for_every_user_and_leaf() {
    let db = fixture();
    let leaves = all_leaf_keys(&db.catalog());
    for user in ["alice", "bob", "carol", "dave"] {
        let from_view: BTreeSet<String> = db.view_grants(user).into_iter().collect();
        let from_sources: BTreeSet<String> = db
            .sql_strings(
                "SELECT DISTINCT permission_key FROM user_permission_sources WHERE username = ?1",
                &[user],
            )
            .into_iter()
            .collect();
        assert_eq!(from_view, from_sources, "{user}");
        for key in &leaves {
            assert_eq!(
                allowed(&db, user, key),
                from_view.contains(key),
                "{user} {key}"
            );
        }
    }
    // One row per path: bob reaches broadcasts.view directly and through Mail.
    let paths: Vec<String> = db.sql_strings(
        "SELECT role_name || ' via ' || coalesce(package_name, '-') FROM user_permission_sources \
         WHERE username = 'bob' AND permission_key = 'broadcasts.view' \
         ORDER BY package_name NULLS FIRST, role_name",
        &[],
    );
    assert_eq!(
        paths,
        [
            "Read Only via -",
            "Campaign Manager via EU Marketing",
            "Mailer via Mail",
        ]
    );
}

#[test]
fn explain_names_every_path_and_the_missing_link() {
    let db = fixture();
    let run = db.run(&["check", "bob", "broadcasts.view", "--explain"]);
    run.expect_code(0);
    for path in [
        "role \"Read Only\" (direct) grants broadcasts.view",
        "role \"Campaign Manager\" in package \"EU Marketing\" grants broadcasts.view",
        "role \"Mailer\" in package \"Mail\" grants broadcasts.view",
    ] {
        assert!(run.stdout.contains(path), "{path}\n{}", run.stdout);
    }
    let json = db.json(&["check", "bob", "broadcasts.view"]);
    assert_eq!(json["via"].as_array().unwrap().len(), 3);

    // carol lacks contacts.export: Exporter grants it, in EU Marketing, which is not
    // assigned to carol (seed 001: "package not assigned to user").
    let run = db.run(&["check", "carol", "contacts.export", "--explain"]);
    run.expect_code(1);
    assert!(
        run.stdout.contains(
            "role \"Exporter\" grants it and is in package \"EU Marketing\", but the package is not assigned to carol"
        ),
        "{}",
        run.stdout
    );
    // A role that grants it in no package: "role not assigned to package".
    db.ok(&["roles", "create", "Deleter"]);
    db.ok(&["roles", "grant", "Deleter", "contacts.delete"]);
    let run = db.run(&["check", "carol", "contacts.delete", "--explain"]);
    assert!(
        run.stdout
            .contains("role \"Deleter\" grants it but is not assigned to a package"),
        "{}",
        run.stdout
    );
}

#[test]
fn who_can_lists_every_active_user_with_how() {
    let db = fixture();
    let rows = db.json(&["who-can", "contacts.export"]);
    let users: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["username"].as_str().unwrap())
        .collect();
    assert_eq!(users, ["alice", "bob"], "dave is disabled, carol lacks it");
    let bob = &rows[1]["via"];
    assert_eq!(
        bob,
        &serde_json::json!([
            {"role": "Campaign Manager", "package": "EU Marketing"},
            {"role": "Exporter", "package": "EU Marketing"},
        ])
    );
    assert_eq!(
        rows[0]["via"][0]["package"],
        Value::Null,
        "alice holds it directly"
    );
    db.run(&["who-can", "contacts.fly"]).expect_code(2);
}

#[test]
fn a_role_in_a_package_cannot_be_deleted_until_it_is_moved() {
    let db = fixture();
    let before = db.dump();
    let run = db.run(&["roles", "delete", "Exporter"]);
    run.expect_code(3);
    assert!(
        run.stderr.contains(
            "role \"Exporter\" is assigned to 1 package (\"EU Marketing\"), through which 2 users reach it"
        ),
        "{}",
        run.stderr
    );
    assert_eq!(db.dump(), before, "nothing deleted");

    db.ok(&["roles", "delete", "Exporter", "--reassign-to", "Mailer"]);
    let eu = db.json(&["packages", "show", "EU Marketing"]);
    assert_eq!(
        eu["roles"],
        serde_json::json!(["Campaign Manager", "Mailer"])
    );
    assert!(db.run(&["roles", "show", "Exporter"]).code == 2, "deleted");
    let audit = db.json(&["audit", "--action", "package"]);
    assert_eq!(audit[0]["target"], "EU Marketing");
    assert_eq!(
        audit[0]["before"]["roles_removed"],
        serde_json::json!(["Exporter"])
    );

    let shown = db.json(&["roles", "show", "Mailer"]);
    assert_eq!(
        shown["packages"],
        serde_json::json!(["EU Marketing", "Mail"])
    );
    assert_eq!(shown["users_via_packages"], 3);
    assert_eq!(shown["users"], 0, "direct holders only");
}

#[test]
fn a_package_with_members_is_deleted_only_with_force() {
    let db = fixture();
    let before = db.dump();
    let run = db.run(&["packages", "delete", "Mail"]);
    run.expect_code(3);
    assert!(
        run.stderr.contains("has 2 members (bob, carol)"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--force"), "{}", run.stderr);
    assert_eq!(db.dump(), before);

    let rows_before = db.audit_rows();
    db.ok(&["packages", "delete", "Mail", "--force"]);
    assert!(
        !allowed(&db, "carol", "broadcasts.schedule"),
        "carol lost Mailer"
    );
    assert_eq!(
        db.audit_rows(),
        rows_before + 3,
        "one row per member and the package"
    );
    let audit = db.json(&["audit", "--target", "carol"]);
    assert_eq!(audit[0]["before"]["packages"], serde_json::json!(["Mail"]));
    assert_eq!(audit[0]["after"]["packages"], serde_json::json!([]));

    db.ok(&["packages", "create", "Empty"]);
    db.ok(&["packages", "delete", "Empty"]);
}

#[test]
fn package_ids_are_never_reused_and_names_are_unique_ignoring_case() {
    let db = fixture();
    let mail = db.json(&["packages", "show", "Mail"])["id"]
        .as_i64()
        .unwrap();
    db.ok(&["packages", "delete", "Mail", "--force"]);
    let next = db.json(&["packages", "create", "Other"])["id"]
        .as_i64()
        .unwrap();
    assert!(next > mail);
    let run = db.run(&["packages", "create", "eu marketing"]);
    assert_field_error(&run, 2, "name");
    let run = db.run(&["packages", "create", "EU\u{200b} Marketing"]);
    assert_field_error(&run, 2, "name");
    assert_field_error(&db.run(&["packages", "create", "  "]), 2, "name");
    db.run(&["packages", "add-role", "Other", "No Such Role"])
        .expect_code(2);
    db.run(&["packages", "add-user", "Other", "nobody"])
        .expect_code(2);
    db.run(&["packages", "show", "Nope"]).expect_code(2);
}

#[test]
fn a_stale_package_version_is_refused_and_a_deleted_one_says_so() {
    let db = fixture();
    let v = db.json(&["packages", "show", "Mail"])["version"].to_string();
    db.run_env(
        &["packages", "describe", "Mail", "Mail team"],
        &[("USER", "mallory")],
    )
    .expect_code(0);
    let before = db.dump();
    let run = db.run(&["packages", "rename", "Mail", "Post", "--if-version", &v]);
    run.expect_code(3);
    assert!(
        run.stderr.contains("was changed by mallory"),
        "{}",
        run.stderr
    );
    assert_eq!(db.dump(), before);

    let v = db.json(&["packages", "show", "Mail"])["version"].to_string();
    db.ok(&["packages", "delete", "Mail", "--force"]);
    let run = db.run(&["packages", "rename", "Mail", "Post", "--if-version", &v]);
    run.expect_code(3);
    assert!(
        run.stderr.contains("package \"Mail\" was deleted"),
        "{}",
        run.stderr
    );
}

#[test]
fn listings_and_users_show_name_packages() {
    let db = fixture();
    let list = db.json(&["packages", "list"]);
    assert_eq!(
        list,
        serde_json::json!([
            {"id": list[0]["id"], "name": "EU Marketing", "description": "The EU team",
             "roles": 2, "members": 2, "created_at": list[0]["created_at"]},
            {"id": list[1]["id"], "name": "Mail", "description": "",
             "roles": 1, "members": 2, "created_at": list[1]["created_at"]},
        ])
    );
    let eu = db.json(&["packages", "show", "EU Marketing"]);
    assert_eq!(eu["members"], serde_json::json!(["bob", "dave"]));
    assert_eq!(
        eu["roles"],
        serde_json::json!(["Campaign Manager", "Exporter"])
    );
    assert_eq!(
        db.user("bob")["packages"],
        serde_json::json!(["EU Marketing", "Mail"])
    );
    let users = db.json(&["users", "list"]);
    let carol = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "carol")
        .unwrap();
    assert_eq!(carol["packages"], serde_json::json!(["Mail"]));
}

#[test]
fn membership_changes_are_audited_per_user_and_bump_versions() {
    let db = fixture();
    let carol = db.user("carol")["version"].as_i64().unwrap();
    let package = db.json(&["packages", "show", "EU Marketing"])["version"]
        .as_i64()
        .unwrap();
    db.ok(&["packages", "add-user", "EU Marketing", "carol"]);
    assert!(db.user("carol")["version"].as_i64().unwrap() > carol);
    assert!(
        db.json(&["packages", "show", "EU Marketing"])["version"]
            .as_i64()
            .unwrap()
            > package
    );
    let row = &db.json(&["audit", "--target", "carol", "--limit", "1"])[0];
    assert_eq!(row["action"], "user.update");
    assert_eq!(row["before"]["packages"], serde_json::json!(["Mail"]));
    assert_eq!(
        row["after"]["packages"],
        serde_json::json!(["EU Marketing", "Mail"])
    );
    // Adding someone already in it changes nothing and writes nothing.
    let rows = db.audit_rows();
    db.ok(&["packages", "add-user", "EU Marketing", "carol"]);
    assert_eq!(db.audit_rows(), rows);
}

#[test]
fn role_none_leaves_a_user_with_their_packages_only() {
    let db = fixture();
    // bob: Read Only directly (the default), plus EU Marketing and Mail.
    assert!(allowed(&db, "bob", "contacts.view"));
    db.ok(&["users", "set", "bob", "--role", "none"]);
    let bob = db.json(&["users", "show", "bob"]);
    assert_eq!(bob["role"], Value::Null, "no direct role is null: {bob}");
    assert!(
        allowed(&db, "bob", "contacts.export"),
        "EU Marketing still gives Exporter"
    );
    assert!(
        allowed(&db, "bob", "broadcasts.view"),
        "Mail still gives Mailer"
    );
    let explain = db.ok(&["check", "bob", "contacts.export", "--explain"]);
    assert!(explain.contains("in package \"EU Marketing\""), "{explain}");
    assert!(!explain.contains("(direct)"), "{explain}");
    // carol has only Mail and her direct role; without the role she loses its grants.
    db.ok(&["users", "set", "carol", "--role", "NONE"]);
    assert!(!allowed(&db, "carol", "contacts.view"), "Read Only is gone");
    let listed = db.json(&["users", "list", "--role", "none"]);
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["bob", "carol"]);
    assert!(db.ok(&["users", "list"]).contains("(none)"));
    // The audit row says what the role was and that there is none now.
    let audit = db.json(&["audit", "--target", "carol"]);
    let row = &audit.as_array().unwrap()[0];
    assert_eq!(row["before"]["role"], "Read Only", "{row}");
    assert_eq!(row["after"]["role"], Value::Null, "{row}");
    // A new user may start without one.
    db.ok(&[
        "users",
        "add",
        "erin",
        "--email",
        "erin@example.com",
        "--role",
        "none",
    ]);
    assert_eq!(db.json(&["users", "show", "erin",])["role"], Value::Null);
    assert!(!allowed(&db, "erin", "contacts.view"));
}

#[test]
fn role_none_is_refused_where_a_role_is_needed() {
    let db = fixture();
    let owner = db.run(&["users", "set", "alice", "--role", "none"]);
    owner.expect_code(3);
    assert!(owner.stderr.contains("Administrator"), "{}", owner.stderr);
    let grant = db.run(&["roles", "grant", "none", "contacts.view"]);
    grant.expect_code(2);
    assert!(grant.stderr.contains("role"), "{}", grant.stderr);
    let empty = Db::empty();
    let first = empty.run(&[
        "users",
        "add",
        "ann",
        "--email",
        "ann@example.com",
        "--role",
        "none",
    ]);
    first.expect_code(3);
    assert!(first.stderr.contains("first user"), "{}", first.stderr);
    assert!(
        empty.run(&["users", "list",]).code != 0
            || empty
                .json(&["users", "list",])
                .as_array()
                .unwrap()
                .is_empty(),
        "nothing was added"
    );
}

/// Users added together join their packages in the same write (the demo's path):
/// every membership lands, each package's version moves once, the hand-out rule and
/// a missing package refuse the whole batch, and a password is refused rather than
/// dropped. Several users at once take the batched path on PostgreSQL.
#[test]
fn users_added_together_join_their_packages_in_the_same_write() {
    use rolecall::store::{Access, NewUser, Store};
    let db = fixture();
    let mut store = Store::open(db.path(), Access::ReadWrite).unwrap();
    let eu = store.package("EU Marketing").unwrap();
    let mail = store.package("Mail").unwrap();
    let new = |name: &str, packages: &[i64]| NewUser {
        username: name.into(),
        profile: rolecall::domain::user::Profile {
            email: format!("{name}@example.com"),
            ..Default::default()
        },
        role: None,
        password: None,
        packages: packages.iter().copied().collect(),
    };
    store
        .add_users(vec![
            new("erin", &[eu.id, mail.id]),
            new("frank", &[mail.id]),
            new("gina", &[]),
        ])
        .unwrap();
    let members = |package: &str| -> BTreeSet<String> {
        db.sql_strings(
            "SELECT u.username FROM package_members m JOIN users u ON u.id = m.user_id \
             JOIN packages p ON p.id = m.package_id WHERE p.name = ?1",
            &[package],
        )
        .into_iter()
        .collect()
    };
    let set = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(members("EU Marketing"), set(&["bob", "dave", "erin"]));
    assert_eq!(members("Mail"), set(&["bob", "carol", "erin", "frank"]));
    let (eu_after, mail_after) = (
        store.package("EU Marketing").unwrap(),
        store.package("Mail").unwrap(),
    );
    assert!(
        eu_after.version > eu.version && mail_after.version > mail.version,
        "a package that gained members is a newer version (an open editor sees the change)"
    );
    assert_eq!(eu_after.version, mail_after.version, "one write");
    assert_eq!(db.ok(&["check", "frank", "broadcasts"]).trim(), "allowed");
    let added = |name: &str| -> Value {
        let rows = db.sql_strings(
            "SELECT after FROM audit WHERE action = 'user.add' AND target = ?1",
            &[name],
        );
        assert_eq!(rows.len(), 1, "one user.add row for {name}");
        serde_json::from_str(&rows[0]).unwrap()
    };
    assert_eq!(
        added("erin")["packages"],
        serde_json::json!(["EU Marketing", "Mail"]),
        "the log says which packages a user joined as they were added"
    );
    assert_eq!(added("frank")["packages"], serde_json::json!(["Mail"]));
    assert!(added("gina").get("packages").is_none());
    // Joining afterwards, many at once: only a membership that is new changes a
    // user, with a user.update row naming the packages before and after.
    let joined = store
        .join_packages(&[
            ("gina".to_string(), vec!["Mail".to_string()]),
            ("erin".to_string(), vec!["mail".to_string()]),
        ])
        .unwrap();
    assert_eq!(joined, 1, "erin was in Mail already");
    assert!(members("Mail").contains("gina"));
    let updates = db.sql_strings(
        "SELECT after FROM audit WHERE action = 'user.update' AND target = ?1",
        &["gina"],
    );
    assert_eq!(updates.len(), 1);
    let update: Value = serde_json::from_str(&updates[0]).unwrap();
    assert_eq!(update["packages"], serde_json::json!(["Mail"]));
    assert!(
        db.sql_strings(
            "SELECT after FROM audit WHERE action = 'user.update' AND target = ?1",
            &["erin"],
        )
        .is_empty()
    );
    // One user at a time (the console's user form) says it the same way.
    store.add_user(new("lee", &[mail.id])).unwrap();
    assert_eq!(added("lee")["packages"], serde_json::json!(["Mail"]));
    assert!(members("Mail").contains("lee"));

    // A package deleted meanwhile refuses the batch: nobody is added.
    let err = store
        .add_users(vec![new("hana", &[mail.id]), new("ivan", &[mail.id + 100])])
        .unwrap_err();
    assert!(err.to_string().contains("no package with id"), "{err}");
    let mut with_password = new("jo", &[]);
    with_password.password = Some("correct horse battery".into());
    let err = store
        .add_users(vec![new("kai", &[]), with_password])
        .unwrap_err();
    assert!(err.to_string().contains("password"), "{err}");
    let names = db.sql_strings("SELECT username FROM users", &[]);
    for gone in ["hana", "ivan", "jo", "kai"] {
        assert!(!names.iter().any(|n| n == gone), "{gone} was added");
    }
}
