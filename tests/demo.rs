//! `rolecall demo`: sample data that is realistic, deterministic and never poured
//! into a database that already has users.

use std::process::Command;

use serde_json::Value;
use tempfile::TempDir;

fn rolecall(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rolecall"))
        .args(args)
        .env_remove("ROLECALL_DB")
        .env("USER", "tester")
        .output()
        .unwrap()
}

fn users(db: &str) -> Vec<Value> {
    let out = rolecall(&["--db", db, "users", "list", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn demo_fills_an_empty_database_with_users_spread_over_the_roles() {
    let dir = TempDir::new().unwrap();
    let db = dir.path().join("demo.db");
    let db = db.to_str().unwrap();
    let out = rolecall(&["demo", "--users", "300", "--no-tui", "--db", db]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("added 300 sample users"));
    let list = users(db);
    assert_eq!(list.len(), 300);
    let owners: Vec<&Value> = list.iter().filter(|u| u["owner"] == true).collect();
    assert_eq!(owners.len(), 1, "exactly one owner");
    assert_eq!(owners[0]["role"], "Administrator");
    for role in [
        "Administrator",
        "Basic Access",
        "Campaign Manager",
        "Full Access",
        "Read Only",
    ] {
        let n = list.iter().filter(|u| u["role"] == role).count();
        assert!(n > 0, "someone holds {role}");
    }
    let disabled = list.iter().filter(|u| u["active"] == false).count();
    assert!(
        (1..30).contains(&disabled),
        "a few users are disabled: {disabled}"
    );
    assert!(
        list.iter().all(|u| u["has_password"] == false),
        "no invented passwords"
    );
}

#[test]
fn demo_is_deterministic() {
    let dir = TempDir::new().unwrap();
    let a = dir.path().join("a.db");
    let b = dir.path().join("b.db");
    for db in [&a, &b] {
        let out = rolecall(&[
            "demo",
            "--users",
            "120",
            "--no-tui",
            "--db",
            db.to_str().unwrap(),
        ]);
        assert!(out.status.success());
    }
    let strip = |mut list: Vec<Value>| {
        for u in &mut list {
            let obj = u.as_object_mut().unwrap();
            obj.remove("created_at");
            obj.remove("updated_at");
        }
        list
    };
    assert_eq!(
        strip(users(a.to_str().unwrap())),
        strip(users(b.to_str().unwrap()))
    );
}

#[test]
fn demo_refuses_a_database_that_has_users() {
    let dir = TempDir::new().unwrap();
    let db = dir.path().join("live.db");
    let db = db.to_str().unwrap();
    assert!(
        rolecall(&[
            "--db",
            db,
            "users",
            "add",
            "alice",
            "--email",
            "alice@example.com"
        ])
        .status
        .success()
    );
    let before = std::fs::read(db).unwrap();
    let out = rolecall(&["demo", "--users", "10", "--no-tui", "--db", db]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already has users"));
    assert_eq!(users(db).len(), 1);
    assert_eq!(std::fs::read(db).unwrap().len(), before.len());
    let out = rolecall(&["--read-only", "demo", "--no-tui", "--db", db]);
    assert_eq!(out.status.code(), Some(3), "read-only refuses demo");
}

#[test]
fn demo_puts_users_into_department_packages() {
    let dir = TempDir::new().unwrap();
    let db = dir.path().join("demo.db");
    let db = db.to_str().unwrap();
    let out = rolecall(&["demo", "--users", "200", "--no-tui", "--db", db]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = rolecall(&["--db", db, "packages", "list", "--json"]);
    let packages: Value = serde_json::from_slice(&out.stdout).unwrap();
    let packages = packages.as_array().unwrap();
    assert_eq!(packages.len(), 5, "one per department");
    assert!(packages.iter().all(|p| p["roles"].as_u64().unwrap() >= 1));
    assert!(packages.iter().all(|p| p["members"].as_u64().unwrap() > 10));
    let users = users(db);
    let counts: Vec<usize> = users
        .iter()
        .map(|u| u["packages"].as_array().unwrap().len())
        .collect();
    assert!(counts.iter().all(|n| *n <= 3));
    assert!(counts.contains(&0) && counts.contains(&3), "{counts:?}");
    // Someone whose direct role lacks contacts.export reaches it through a package.
    let exporter = users
        .iter()
        .find(|u| {
            u["role"] == "Read Only"
                && u["active"] == true
                && u["packages"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|p| p == "Data Team")
        })
        .expect("a Read Only user in Data Team");
    let name = exporter["username"].as_str().unwrap();
    let out = rolecall(&["--db", db, "check", name, "contacts.export", "--explain"]);
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("in package \"Data Team\""),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
