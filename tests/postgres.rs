//! SPEC §12 on both backends: the same steps against a SQLite file and a PostgreSQL
//! database (when `ROLECALL_TEST_PG` names a server; see `common::pg_server`), several
//! processes at once on one database, the change counter another process's console
//! polls, and what only PostgreSQL has (the URL shown without its password, its
//! append-only audit triggers, a newer schema refused).

mod common;

use std::collections::BTreeSet;
use std::process::{Child, Stdio};
use std::thread;

use common::*;
use rolecall::store::{Access, Checked, Store, UserRef};
use serde_json::Value;

fn code(out: &std::process::Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json(place: &Place, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    serde_json::from_str(&place.ok(&all)).expect("JSON output")
}

/// Starts every command at once on `place` and waits for all of them.
fn at_once(place: &Place, commands: &[Vec<String>]) -> Vec<std::process::Output> {
    all_at_once(commands.iter().map(|args| {
        let mut c = command(place.dir.path());
        c.arg("--db").arg(&place.location).args(args);
        c
    }))
}

/// Starts every command at once, capturing its output, and waits for all of them.
fn all_at_once(
    commands: impl IntoIterator<Item = std::process::Command>,
) -> Vec<std::process::Output> {
    let children: Vec<Child> = commands
        .into_iter()
        .map(|mut c| {
            c.stdout(Stdio::piped())
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

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn the_views_answer_the_same_on_both_backends() {
    for backend in backends() {
        let place = Place::new(&backend);
        place.ok(&["users", "add", "alice", "--email", "alice@example.com"]);
        place.ok(&[
            "users",
            "add",
            "bob",
            "--email",
            "bob@example.com",
            "--role",
            "Basic Access",
        ]);
        place.ok(&["roles", "create", "Exporters"]);
        place.ok(&["roles", "grant", "Exporters", "contacts.export"]);
        place.ok(&["packages", "create", "Team"]);
        place.ok(&["packages", "add-role", "Team", "Exporters"]);
        place.ok(&["packages", "add-user", "Team", "bob"]);
        let grants = place.strings(
            "SELECT permission_key FROM user_permissions WHERE username = 'bob' ORDER BY 1",
            "SELECT permission_key FROM user_permissions WHERE username = 'bob' ORDER BY 1",
        );
        assert!(
            grants.contains(&"contacts.export".to_string()),
            "{backend:?}: {grants:?}"
        );
        assert!(
            grants.contains(&"contacts.view".to_string()),
            "{backend:?}: {grants:?}"
        );
        let sources = place.strings(
            "SELECT role_name || '/' || coalesce(package_name, '-') FROM user_permission_sources \
             WHERE username = 'bob' AND permission_key = 'contacts.export'",
            "SELECT role_name || '/' || coalesce(package_name, '-') FROM user_permission_sources \
             WHERE username = 'bob' AND permission_key = 'contacts.export'",
        );
        assert_eq!(sources, vec!["Exporters/Team"], "{backend:?}");
        assert_eq!(
            place.ok(&["check", "bob", "contacts.export"]).trim(),
            "allowed"
        );
        place.ok(&["users", "set", "bob", "--active", "false"]);
        let out = place.rc(&["check", "bob", "contacts.export"]);
        assert_eq!(code(&out), 1, "{backend:?}: a disabled user is denied");
        let left = place.strings(
            "SELECT permission_key FROM user_permissions WHERE username = 'bob'",
            "SELECT permission_key FROM user_permissions WHERE username = 'bob'",
        );
        assert!(left.is_empty(), "{backend:?}: {left:?}");
    }
}

/// What `user_permissions` must hold, written the plain way: the grants of each
/// active user's direct role and of every role of their packages.
const USER_PERMISSIONS_BY_DEFINITION: &str = "\
    SELECT u.username || ' ' || g.permission_key FROM users u \
    JOIN role_grants g ON g.role_id = u.role_id WHERE u.active \
    UNION \
    SELECT u.username || ' ' || g.permission_key FROM users u \
    JOIN package_members m ON m.user_id = u.id \
    JOIN package_roles pr ON pr.package_id = m.package_id \
    JOIN role_grants g ON g.role_id = pr.role_id WHERE u.active \
    ORDER BY 1";

#[test]
fn user_permissions_holds_exactly_the_direct_and_package_grants_of_active_users() {
    for backend in backends() {
        let place = Place::new(&backend);
        place.ok(&["users", "add", "alice", "--email", "alice@example.com"]);
        for (name, role) in [("bob", "Basic Access"), ("carol", "Read Only")] {
            let email = format!("{name}@example.com");
            place.ok(&["users", "add", name, "--email", &email, "--role", role]);
        }
        place.ok(&["users", "add", "dave", "--email", "dave@example.com"]);
        place.ok(&["users", "set", "dave", "--role", "none"]);
        place.ok(&["roles", "create", "Exporters"]);
        place.ok(&["roles", "grant", "Exporters", "contacts.export"]);
        place.ok(&["roles", "grant", "Exporters", "contacts.view"]);
        place.ok(&["packages", "create", "Team"]);
        place.ok(&["packages", "add-role", "Team", "Exporters"]);
        place.ok(&["packages", "add-role", "Team", "Basic Access"]);
        for member in ["bob", "carol", "dave"] {
            place.ok(&["packages", "add-user", "Team", member]);
        }
        place.ok(&["users", "set", "carol", "--active", "false"]);
        let view = "SELECT username || ' ' || permission_key FROM user_permissions ORDER BY 1";
        let held = place.strings(view, view);
        let defined = place.strings(
            USER_PERMISSIONS_BY_DEFINITION,
            USER_PERMISSIONS_BY_DEFINITION,
        );
        assert_eq!(held, defined, "{backend:?}");
        // Each case the view must get right is there: a grant through the direct
        // role and through a package both (once), through a package alone, with no
        // direct role, and nothing for a disabled user.
        for row in [
            "bob contacts.export",
            "bob contacts.view",
            "dave contacts.export",
        ] {
            assert!(
                held.iter().any(|h| h == row),
                "{backend:?}: {row} in {held:?}"
            );
        }
        let once = held.iter().filter(|h| *h == "bob contacts.view").count();
        assert_eq!(once, 1, "{backend:?}: {held:?}");
        assert!(
            !held.iter().any(|h| h.starts_with("carol ")),
            "{backend:?}: {held:?}"
        );
    }
}

/// Changes to several users at once (the console's marked rows, `demo`): every user
/// is read and checked before anything is written, a user named twice changes
/// once, and one audit row is written for each user who changed, in order.
#[test]
fn a_bulk_change_reads_every_user_first_and_changes_each_once_on_both_backends() {
    for backend in backends() {
        let place = Place::new(&backend);
        for name in ["alice", "bob", "carol", "dave"] {
            let email = format!("{name}@example.com");
            place.ok(&["users", "add", name, "--email", &email]);
        }
        let mut store = Store::open(&place.location, Access::ReadWrite).unwrap();
        let audit_rows = |store: &Store| {
            store
                .audit_matching(&Default::default(), 1_000)
                .unwrap()
                .into_iter()
                .filter(|e| e.action == "user.update")
                .map(|e| format!("{} {:?} {:?}", e.target, e.before, e.after))
                .collect::<Vec<_>>()
        };
        let names = |names: &[&str]| -> Vec<UserRef> {
            names
                .iter()
                .map(|n| UserRef::Typed(n.to_string()))
                .collect()
        };
        let changed = store
            .set_active_for(&names(&["carol", "bob", "Carol", "dave"]), false)
            .unwrap();
        assert_eq!(changed, 3, "{backend:?}");
        let mut rows = audit_rows(&store);
        rows.reverse();
        assert_eq!(
            rows,
            ["carol", "bob", "dave"]
                .map(|n| format!(
                    "{n} Some(Object {{\"active\": Bool(true)}}) Some(Object {{\"active\": Bool(false)}})"
                ))
                .to_vec(),
            "{backend:?}"
        );
        // One unknown name refuses the whole change, wherever it is in the list.
        let err = store
            .set_active_for(&names(&["bob", "nobody", "carol"]), true)
            .unwrap_err();
        assert!(err.to_string().contains("nobody"), "{backend:?}: {err}");
        assert!(!store.user("bob").unwrap().active, "{backend:?}");
        // The owner rule is checked for every user before any row is written.
        let err = store
            .set_active_for(&names(&["bob", "alice"]), false)
            .unwrap_err();
        assert!(err.to_string().contains("owner"), "{backend:?}: {err}");
        // A row the caller read that was deleted and made again is not the new user.
        let dave = store.user("dave").unwrap();
        store.remove_user("dave").unwrap();
        place.ok(&["users", "add", "dave", "--email", "dave@example.com"]);
        let read = UserRef::Row {
            id: dave.id,
            username: "dave".into(),
        };
        let refs = [names(&["bob"]), vec![read]].concat();
        let role_before = store.user("bob").unwrap().role;
        assert_ne!(role_before, "Administrator", "{backend:?}");
        let err = store.set_role_for(&refs, "Administrator").unwrap_err();
        assert!(err.to_string().contains("dave"), "{backend:?}: {err}");
        assert_eq!(store.user("bob").unwrap().role, role_before, "{backend:?}");
        assert_eq!(
            audit_rows(&store).len(),
            3,
            "{backend:?}: nothing more was written"
        );
    }
}

#[test]
fn lists_sort_alike_on_both_backends() {
    // Punctuation sorts by byte here ('-' < '.' < '_'), where a language's collation
    // would ignore it and put "bob_1" first.
    let names = ["zoe", "bob_1", "alice", "bob.3", "bob-2", "bob", "b0b", "a"];
    let mut listed = Vec::new();
    for backend in backends() {
        let place = Place::new(&backend);
        for name in names {
            let email = format!("{}@example.com", name.replace(['_', '.', '-'], "x"));
            place.ok(&["users", "add", name, "--email", &email]);
        }
        let users = json(&place, &["users", "list"]);
        let order: Vec<String> = users
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["username"].as_str().unwrap().to_string())
            .collect();
        listed.push(order);
    }
    let mut expected: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    expected.sort();
    for order in &listed {
        assert_eq!(order, &expected, "byte order from every backend");
    }
}

#[test]
fn racing_first_adds_make_exactly_one_owner() {
    for backend in backends() {
        let place = Place::new(&backend);
        place.ok(&["roles", "set-default", "Read Only"]);
        let commands: Vec<Vec<String>> = (0..6)
            .map(|i| {
                let name = format!("racer{i}");
                strs(&[
                    "users",
                    "add",
                    &name,
                    "--email",
                    &format!("{name}@example.com"),
                ])
            })
            .collect();
        for out in at_once(&place, &commands) {
            assert_eq!(code(&out), 0, "{backend:?}: {}", stderr(&out));
        }
        let users = json(&place, &["users", "list"]);
        let users = users.as_array().unwrap();
        assert_eq!(users.len(), 6, "{backend:?}");
        assert_eq!(
            users.iter().filter(|u| u["owner"] == true).count(),
            1,
            "{backend:?}: exactly one of the racing first adds became the owner"
        );
    }
}

#[test]
fn two_writers_from_one_version_exactly_one_wins_on_both_backends() {
    for backend in backends() {
        let place = Place::new(&backend);
        place.ok(&["users", "add", "alice", "--email", "alice@example.com"]);
        place.ok(&["roles", "create", "Shared"]);
        let leaves = [
            "contacts.add",
            "contacts.edit",
            "contacts.export",
            "contacts.import",
        ];
        for round in 0..2 {
            let role = json(&place, &["roles", "show", "Shared"]);
            let v = role["version"].as_i64().unwrap().to_string();
            let (a, b) = (leaves[2 * round], leaves[2 * round + 1]);
            let outs = at_once(
                &place,
                &[
                    strs(&["roles", "grant", "Shared", a, "--if-version", &v]),
                    strs(&["roles", "grant", "Shared", b, "--if-version", &v]),
                ],
            );
            let codes: BTreeSet<i32> = outs.iter().map(code).collect();
            assert_eq!(codes, BTreeSet::from([0, 3]), "{backend:?}: {outs:#?}");
            let loser = outs.iter().find(|o| code(o) == 3).unwrap();
            assert!(
                stderr(loser).contains("was changed by"),
                "{}",
                stderr(loser)
            );
        }
        // Without --if-version, grants of different leaves at once all land.
        let fresh = [
            "broadcasts.add",
            "broadcasts.edit",
            "broadcasts.view",
            "statistics.broadcasts",
        ];
        let commands: Vec<Vec<String>> = fresh
            .iter()
            .map(|leaf| strs(&["roles", "grant", "Shared", leaf]))
            .collect();
        for out in at_once(&place, &commands) {
            assert_eq!(code(&out), 0, "{backend:?}: {}", stderr(&out));
        }
        let granted = json(&place, &["roles", "show", "Shared"]);
        let granted: Vec<&str> = granted["granted"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        for leaf in fresh {
            assert!(
                granted.contains(&leaf),
                "{backend:?}: the grant of {leaf} was lost"
            );
        }
    }
}

#[test]
fn a_console_sees_another_process_change_through_the_change_token() {
    for backend in backends() {
        let place = Place::new(&backend);
        place.ok(&["users", "add", "alice", "--email", "alice@example.com"]);
        let store = Store::open(&place.location, Access::ReadOnly).unwrap();
        let before = store.data_version().unwrap();
        assert_eq!(
            store.data_version().unwrap(),
            before,
            "{backend:?}: no change, no new token"
        );
        place.ok(&["users", "add", "bob", "--email", "bob@example.com"]);
        // What the console's poll (every few hundred milliseconds) reads next.
        let after = store.data_version().unwrap();
        assert_ne!(
            after, before,
            "{backend:?}: another process's add changes the token"
        );
        assert_eq!(store.users(None).unwrap().len(), 2, "{backend:?}");
        // A write that changes nothing leaves the token as it was.
        place.ok(&["roles", "set-default", "Read Only"]);
        assert_eq!(store.data_version().unwrap(), after, "{backend:?}");
    }
}

#[test]
fn postgres_urls_are_shown_without_their_password() {
    let Some(server) = pg_server() else { return };
    let db = PgDatabase::create(&server);
    let with_password = db.url.replacen("postgres@", "postgres:hunter2@", 1);
    let place = Place {
        dir: tempfile::tempdir().unwrap(),
        location: with_password.clone().into(),
        pg: None,
    };
    place.ok(&["users", "add", "alice", "--email", "alice@example.com"]);
    let store = Store::open(&place.location, Access::ReadWrite).unwrap();
    let shown = store.path().display().to_string();
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains(&db.name), "{shown}");
    // An error names the database without the password either.
    let out = place.rc(&["users", "show", "nobody"]);
    assert_eq!(code(&out), 2);
    let bad = with_password.replace(&db.name, "no_such_database");
    let out = command(place.dir.path())
        .args(["--db", &bad, "users", "list"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert!(!stderr(&out).contains("hunter2"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no_such_database"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn postgres_audit_rows_cannot_be_changed_deleted_or_truncated() {
    let Some(server) = pg_server() else { return };
    let db = PgDatabase::create(&server);
    let place = Place {
        dir: tempfile::tempdir().unwrap(),
        location: db.url.clone().into(),
        pg: None,
    };
    place.ok(&["users", "add", "alice", "--email", "alice@example.com"]);
    let mut client = db.client();
    let before: i64 = client
        .query_one("SELECT count(*) FROM audit", &[])
        .unwrap()
        .get(0);
    for sql in [
        "UPDATE audit SET actor = 'mallory'",
        "DELETE FROM audit",
        "TRUNCATE audit",
    ] {
        let err = client.batch_execute(sql).expect_err(sql);
        let message = err
            .as_db_error()
            .map(|e| e.message().to_string())
            .unwrap_or_default();
        assert!(
            message.starts_with("audit rows cannot be"),
            "{sql}: {message}"
        );
    }
    let after: i64 = client
        .query_one("SELECT count(*) FROM audit", &[])
        .unwrap()
        .get(0);
    assert_eq!(before, after);
}

#[test]
fn a_newer_postgres_schema_is_refused_with_exit_4_and_left_alone() {
    let Some(server) = pg_server() else { return };
    let db = PgDatabase::create(&server);
    let place = Place {
        dir: tempfile::tempdir().unwrap(),
        location: db.url.clone().into(),
        pg: None,
    };
    place.ok(&["users", "add", "alice", "--email", "alice@example.com"]);
    let mut client = db.client();
    client
        .batch_execute("UPDATE rolecall_schema SET version = version + 1")
        .unwrap();
    let before = pg_dump(&mut client);
    for args in [
        &["users", "list"][..],
        &["users", "add", "bob", "--email", "b@example.com"],
    ] {
        let out = place.rc(args);
        assert_eq!(code(&out), 4, "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("newer than this rolecall"),
            "{}",
            stderr(&out)
        );
    }
    assert_eq!(pg_dump(&mut client), before);
}

#[test]
fn a_postgres_database_with_other_tables_is_not_taken_over() {
    let Some(server) = pg_server() else { return };
    let db = PgDatabase::create(&server);
    let mut client = db.client();
    client
        .batch_execute("CREATE TABLE invoices (id BIGINT)")
        .unwrap();
    let place = Place {
        dir: tempfile::tempdir().unwrap(),
        location: db.url.clone().into(),
        pg: None,
    };
    let out = place.rc(&["users", "add", "alice", "--email", "alice@example.com"]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("not a rolecall one"),
        "{}",
        stderr(&out)
    );
    let tables: i64 = client
        .query_one(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        tables, 1,
        "nothing was created beside the other application's table"
    );
}

#[test]
fn a_reading_command_on_an_empty_postgres_database_exits_4_and_creates_nothing() {
    let Some(server) = pg_server() else { return };
    let db = PgDatabase::create(&server);
    let place = Place {
        dir: tempfile::tempdir().unwrap(),
        location: db.url.clone().into(),
        pg: None,
    };
    let out = place.rc(&["users", "list"]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert!(stderr(&out).contains(&db.name), "{}", stderr(&out));
    let tables: i64 = db
        .client()
        .query_one(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(tables, 0);
}

#[test]
fn many_processes_adding_users_on_postgres_all_succeed() {
    let Some(server) = pg_server() else { return };
    let db = PgDatabase::create(&server);
    let place = Place {
        dir: tempfile::tempdir().unwrap(),
        location: db.url.clone().into(),
        pg: None,
    };
    place.ok(&["roles", "set-default", "Read Only"]);
    let outs: Vec<std::process::Output> = thread::scope(|scope| {
        let workers: Vec<_> = (0..4)
            .map(|w| {
                let place = &place;
                scope.spawn(move || {
                    (0..10)
                        .map(|i| {
                            let name = format!("w{w}u{i:02}");
                            place.rc(&[
                                "users",
                                "add",
                                &name,
                                "--email",
                                &format!("{name}@example.com"),
                            ])
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    for out in &outs {
        assert_eq!(code(out), 0, "{}", stderr(out));
    }
    let users = json(&place, &["users", "list"]);
    assert_eq!(users.as_array().unwrap().len(), 40);
    let adds: i64 = db
        .client()
        .query_one("SELECT count(*) FROM audit WHERE action = 'user.add'", &[])
        .unwrap()
        .get(0);
    assert_eq!(adds, 40, "one audit row per add");
}

/// Data of every kind: users with and without passwords, a disabled one, a deleted
/// one (its id must not come back), roles, a package, grants, the audit log.
fn fill(place: &Place) {
    place.ok(&["users", "add", "alice", "--email", "alice@example.com"]);
    let out = command(place.dir.path())
        .arg("--db")
        .arg(&place.location)
        .args([
            "users",
            "add",
            "bob",
            "--email",
            "bob@example.com",
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(b"correct horse battery staple\n")?;
            child.wait_with_output()
        })
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    place.ok(&[
        "users",
        "add",
        "carol",
        "--email",
        "carol@example.com",
        "--role",
        "Basic Access",
    ]);
    place.ok(&["users", "add", "gone", "--email", "gone@example.com"]);
    place.ok(&["users", "remove", "gone"]);
    place.ok(&[
        "users",
        "set",
        "carol",
        "--active",
        "false",
        "--position",
        "Émigré \"quoted\"",
    ]);
    place.ok(&[
        "roles",
        "create",
        "Exporters",
        "--description",
        "Export, nothing else",
    ]);
    place.ok(&[
        "roles",
        "grant",
        "Exporters",
        "contacts.export",
        "segmentation",
    ]);
    place.ok(&["packages", "create", "Team"]);
    place.ok(&["packages", "add-role", "Team", "Exporters"]);
    place.ok(&["packages", "add-user", "Team", "carol"]);
    place.ok(&["roles", "set-default", "Basic Access"]);
}

/// A PostgreSQL database of [`fill`], then changed by hand (as another program would)
/// with `sql`.
fn filled_then(server: String, sql: &str) -> Place {
    let place = Place::new(&Backend::Postgres(server));
    fill(&place);
    let mut client = place.pg.as_ref().unwrap().client();
    client
        .batch_execute(sql)
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    place
}

/// What must survive a copy: the export, the audit log, the password hashes.
fn state(place: &Place) -> (String, String, Vec<String>) {
    let export = place.ok(&["export"]);
    let audit = place.ok(&["audit", "--limit", "100000", "--json"]);
    let hashes = place.strings(
        "SELECT username || ' ' || coalesce(password_hash, '-') FROM users ORDER BY username",
        "SELECT username || ' ' || coalesce(password_hash, '-') FROM users ORDER BY username",
    );
    (export, audit, hashes)
}

#[test]
fn copy_moves_a_database_both_ways_and_keeps_everything() {
    let Some(server) = pg_server() else { return };
    let sqlite = Place::new(&Backend::Sqlite);
    fill(&sqlite);
    let original = state(&sqlite);
    assert!(
        original.2.iter().any(|h| h.starts_with("bob $argon2")),
        "{:?}",
        original.2
    );

    // SQLite to PostgreSQL.
    let pg = Place::new(&Backend::Postgres(server));
    let out = sqlite.rc(&["copy", "--to", pg.location.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("copied 3 users, 6 roles and"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(
        state(&pg),
        original,
        "the export, audit log and hashes are the same on PostgreSQL"
    );
    assert_eq!(pg.ok(&["check", "bob", "contacts.view"]).trim(), "allowed");

    // And back, to a new file.
    let back = Place::new(&Backend::Sqlite);
    let out = pg.rc(&["copy", "--to", back.location.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        state(&back),
        original,
        "the export, audit log and hashes came back unchanged"
    );

    // The copies go on numbering where the original stopped: the removed user's id
    // is not handed out again.
    for place in [&pg, &back] {
        place.ok(&["users", "add", "dave", "--email", "dave@example.com"]);
        let ids = place.strings(
            "SELECT CAST(id AS TEXT) FROM users WHERE username = 'dave'",
            "SELECT CAST(id AS TEXT) FROM users WHERE username = 'dave'",
        );
        assert_eq!(ids, vec!["5"], "ids 1 to 4 were used by the original");
    }
}

#[test]
fn copy_refuses_a_target_that_is_not_empty_and_leaves_it_alone() {
    for backend in backends() {
        let source = Place::new(&backend);
        fill(&source);
        // An existing file, even a rolecall one.
        let other = Place::new(&Backend::Sqlite);
        other.ok(&["users", "add", "zed", "--email", "zed@example.com"]);
        let before = std::fs::read(&other.location).unwrap();
        let out = source.rc(&["copy", "--to", other.location.to_str().unwrap()]);
        assert_eq!(code(&out), 3, "{backend:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("already exists"), "{}", stderr(&out));
        assert_eq!(std::fs::read(&other.location).unwrap(), before);
        // A PostgreSQL database with any table in it.
        if let Some(server) = pg_server() {
            let db = PgDatabase::create(&server);
            db.client()
                .batch_execute("CREATE TABLE invoices (id BIGINT)")
                .unwrap();
            let out = source.rc(&["copy", "--to", &db.url]);
            assert_eq!(code(&out), 3, "{backend:?}: {}", stderr(&out));
            assert!(stderr(&out).contains("is not empty"), "{}", stderr(&out));
            let tables: i64 = db
                .client()
                .query_one(
                    "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'",
                    &[],
                )
                .unwrap()
                .get(0);
            assert_eq!(tables, 1);
        }
    }
}

/// Starts `rolecall --db SOURCE copy --to TO` for every source at once and waits.
fn copies_at_once(sources: &[&Place], to: &str) -> Vec<std::process::Output> {
    all_at_once(sources.iter().map(|source| {
        let mut c = command(source.dir.path());
        c.arg("--db")
            .arg(&source.location)
            .args(["copy", "--to", to]);
        c
    }))
}

/// Two sources that differ, each a small database of its own.
fn two_sources() -> (Place, Place) {
    let a = Place::new(&Backend::Sqlite);
    a.ok(&["users", "add", "anna", "--email", "anna@example.com"]);
    a.ok(&["roles", "create", "From A"]);
    let b = Place::new(&Backend::Sqlite);
    b.ok(&["users", "add", "bert", "--email", "bert@example.com"]);
    b.ok(&["users", "add", "bea", "--email", "bea@example.com"]);
    b.ok(&["roles", "create", "From B"]);
    (a, b)
}

#[test]
fn two_copies_into_one_new_target_at_once_one_wins_and_the_other_is_refused() {
    let (a, b) = two_sources();
    let exports = [a.ok(&["export"]), b.ok(&["export"])];
    assert_ne!(exports[0], exports[1]);
    for backend in backends() {
        // Several rounds: each starts both copies on a new, empty target, so both
        // usually find it empty and race to create it.
        for round in 0..4 {
            let target = Place::new(&backend);
            let to = target.location.to_str().unwrap().to_string();
            let outs = copies_at_once(&[&a, &b], &to);
            let codes: Vec<i32> = outs.iter().map(code).collect();
            let winners: Vec<usize> = (0..2).filter(|&i| codes[i] == 0).collect();
            assert_eq!(
                winners.len(),
                1,
                "{backend:?} round {round}: exactly one copy succeeds: {outs:#?}"
            );
            let (winner, loser) = (winners[0], 1 - winners[0]);
            let refusal = stderr(&outs[loser]);
            assert_eq!(codes[loser], 3, "{backend:?}: {refusal}");
            assert_eq!(refusal.trim_end().lines().count(), 1, "one line: {refusal}");
            let named = match &target.pg {
                Some(pg) => refusal.contains(&pg.name) && refusal.contains("is not empty"),
                None => refusal.contains(&to) && refusal.contains("already exists"),
            };
            assert!(
                named,
                "{backend:?}: the refusal names the target: {refusal}"
            );
            assert_eq!(
                target.ok(&["export"]),
                exports[winner],
                "{backend:?} round {round}: the target holds exactly the winner's data"
            );
        }
    }
}

#[test]
fn a_copy_refuses_a_postgres_target_that_was_filled_while_it_waited_to_create() {
    let Some(server) = pg_server() else { return };
    let (source, _) = two_sources();
    let target = PgDatabase::create(&server);
    // Another process is creating rolecall's schema in the target: it holds the lock
    // under which every creation looks at the tables.
    let mut holder = target.client();
    let mut tx = holder.transaction().unwrap();
    tx.batch_execute("SELECT pg_advisory_xact_lock(7242643412)")
        .unwrap();
    let child = command(source.dir.path())
        .arg("--db")
        .arg(&source.location)
        .args(["copy", "--to", &target.url])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The copy found the target empty and now waits for the lock.
    let mut admin = pg_admin(&server);
    let started = std::time::Instant::now();
    loop {
        let waiting: i64 = admin
            .query_one(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted \
                 AND database = (SELECT oid FROM pg_database WHERE datname = $1)",
                &[&target.name],
            )
            .unwrap()
            .get(0);
        if waiting > 0 {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "the copy never waited for the creation lock"
        );
        thread::sleep(std::time::Duration::from_millis(20));
    }
    // What a first open leaves once its creation commits (rolecall_schema is the
    // table a creation takes for "already made").
    tx.batch_execute(
        "CREATE TABLE rolecall_schema (id INT PRIMARY KEY, version BIGINT NOT NULL); \
         INSERT INTO rolecall_schema VALUES (1, 1)",
    )
    .unwrap();
    tx.commit().unwrap();
    let out = child.wait_with_output().unwrap();
    let refusal = stderr(&out);
    assert_eq!(
        code(&out),
        3,
        "the copy must not report rows it never wrote:\n{}{refusal}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(
        refusal.trim_end(),
        format!(
            "rolecall: {} is not empty (it has 1 table); copy only into an empty database.",
            target.url
        )
    );
    let tables: i64 = holder
        .query_one(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(tables, 1, "the copy wrote nothing");
}

#[test]
fn a_postgres_database_missing_a_table_is_called_damaged_naming_the_table() {
    let Some(server) = pg_server() else { return };
    let place = filled_then(server, "DROP TABLE package_roles CASCADE");
    let damaged = |args: &[&str]| -> Option<String> {
        let out = place.rc(args);
        let err = stderr(&out);
        if code(&out) == 0 {
            return None;
        }
        assert_eq!(code(&out), 4, "{args:?}: {err}");
        assert_eq!(
            err.trim_end().lines().count(),
            1,
            "{args:?}: one line: {err}"
        );
        assert!(
            err.starts_with("rolecall: ") && err.contains("damaged"),
            "{args:?}: {err}"
        );
        Some(err)
    };
    // Commands that need the table say so, naming it.
    for args in [
        &["packages", "list"][..],
        &["packages", "show", "Team"],
        &["packages", "add-role", "Team", "Basic Access"],
        &["check", "alice", "contacts.export"],
        &["export"],
    ] {
        let err = damaged(args).unwrap_or_else(|| panic!("{args:?} succeeded"));
        assert!(
            err.contains("\"package_roles\""),
            "{args:?} names the table: {err}"
        );
    }
    // The rest do not need it and keep working.
    for args in [
        &["users", "list"][..],
        &["users", "show", "carol"],
        &["roles", "list"],
        &["users", "add", "dave", "--email", "dave@example.com"],
        &["audit"],
    ] {
        assert_eq!(damaged(args), None, "{args:?}");
    }
    // The console opens, and its packages tab shows the damage instead of panicking.
    let store = Store::open(&place.location, Access::ReadWrite).unwrap();
    let mut app =
        rolecall::tui::app::App::new(store, rolecall::tui::theme::Theme::monochrome()).unwrap();
    let mut term = ratatui::Terminal::new(ratatui::backend::TestBackend::new(120, 30)).unwrap();
    for (key, shown) in [
        ('3', "\"package_roles\" does not exist"),
        ('1', "alice@example.com"),
    ] {
        let key = crossterm::event::KeyEvent::new(
            crossterm::event::KeyCode::Char(key),
            crossterm::event::KeyModifiers::NONE,
        );
        if let Some(msg) = app.key_to_msg(key) {
            app.update(msg);
        }
        term.draw(|f| rolecall::tui::views::draw(&app, f)).unwrap();
        let screen = term.backend().to_string();
        assert!(screen.contains(shown), "{shown}:\n{screen}");
    }
}

/// `check` as the policy snapshot answers it (`None`: the snapshot was not used).
fn check_from_snapshot(place: &Place, user: &str, permission: &str) -> Option<String> {
    let url = place.location.to_str().unwrap();
    match Store::check_on_server(url, Access::ReadOnly, user, permission) {
        Ok(Checked::Decided(decision)) => Some(serde_json::to_string(&decision).unwrap()),
        Ok(Checked::Open(_)) => None,
        Err(e) => Some(format!("error: {e}")),
    }
}

/// `check` as the tables answer it, one by one.
fn check_from_tables(place: &Place, user: &str, permission: &str) -> String {
    let store = Store::open(&place.location, Access::ReadOnly).unwrap();
    match store.check(user, permission) {
        Ok(decision) => serde_json::to_string(&decision).unwrap(),
        Err(e) => format!("error: {e}"),
    }
}

#[test]
fn check_answers_from_the_policy_snapshot_exactly_as_from_the_tables() {
    let Some(server) = pg_server() else { return };
    let place = Place::new(&Backend::Postgres(server));
    fill(&place);
    // More paths to the same permission: a role held directly and through two
    // packages, a package with two roles, and more than ten roles that would grant.
    place.ok(&["roles", "create", "Auditors"]);
    place.ok(&[
        "roles",
        "grant",
        "Auditors",
        "contacts.export",
        "statistics",
    ]);
    place.ok(&["packages", "create", "Audit"]);
    place.ok(&["packages", "add-role", "Audit", "Auditors"]);
    place.ok(&["packages", "add-role", "Audit", "Exporters"]);
    place.ok(&["packages", "add-user", "Audit", "alice"]);
    place.ok(&["packages", "add-user", "Team", "alice"]);
    place.ok(&["users", "set", "bob", "--role", "Exporters"]);
    for n in 0..12 {
        let name = format!("Reporter {n:02}");
        place.ok(&["roles", "create", &name]);
        place.ok(&["roles", "grant", &name, "statistics.export"]);
    }
    let keys: Vec<String> = place
        .strings(
            "SELECT key FROM permissions ORDER BY key",
            "SELECT key FROM permissions ORDER BY key",
        )
        .into_iter()
        .chain(["no.such.permission".to_string(), "".to_string()])
        .collect();
    let mut compared = 0;
    for user in ["alice", "bob", "carol", "Alice", "gone", "nobody"] {
        for key in &keys {
            let fast = check_from_snapshot(&place, user, key)
                .unwrap_or_else(|| panic!("{user} {key}: the snapshot was not used"));
            assert_eq!(fast, check_from_tables(&place, user, key), "{user} {key}");
            compared += 1;
        }
    }
    assert!(compared > 100, "{compared}");
    // The command prints what the library decided.
    let out = place.rc(&["check", "alice", "contacts.export", "--explain"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("role \"Auditors\" in package \"Audit\" grants contacts.export"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = place.rc(&["check", "bob", "statistics.export", "--json"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let denied: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        denied,
        serde_json::from_str::<Value>(&check_from_tables(&place, "bob", "statistics.export"))
            .unwrap()
    );
}

#[test]
fn a_policy_change_made_outside_rolecall_is_never_answered_from_a_stale_snapshot() {
    let Some(server) = pg_server() else { return };
    let place = Place::new(&Backend::Postgres(server));
    fill(&place);
    let mut client = place.pg.as_ref().unwrap().client();
    let allowed = |user: &str, key: &str| -> bool {
        let out = place.rc(&["check", user, key]);
        assert!(matches!(code(&out), 0 | 1), "{}", stderr(&out));
        code(&out) == 0
    };
    let heal = |n: usize| {
        // Any write of rolecall rebuilds a stale snapshot before it commits.
        let name = format!("healer{n}");
        place.ok(&[
            "users",
            "add",
            &name,
            "--email",
            &format!("{name}@example.com"),
        ]);
    };
    place.ok(&["users", "set", "bob", "--role", "Exporters"]);
    assert!(check_from_snapshot(&place, "bob", "contacts.export").is_some());
    assert!(allowed("bob", "contacts.export"));
    // Each table the snapshot is made from, changed by another program.
    let changes = [
        (
            "DELETE FROM role_grants WHERE permission_key = 'contacts.export' \
             AND role_id = (SELECT id FROM roles WHERE name = 'Exporters')",
            false,
        ),
        (
            "INSERT INTO role_grants (role_id, permission_key) \
             SELECT id, 'contacts.export' FROM roles WHERE name = 'Exporters'",
            true,
        ),
        (
            "UPDATE users SET role_id = NULL WHERE username = 'bob'; \
             INSERT INTO package_members (package_id, user_id) SELECT p.id, u.id \
             FROM packages p, users u WHERE p.name = 'Team' AND u.username = 'bob'",
            true,
        ),
        (
            "DELETE FROM package_roles WHERE package_id = (SELECT id FROM packages WHERE name = 'Team')",
            false,
        ),
        (
            "INSERT INTO package_roles (package_id, role_id) SELECT p.id, r.id \
             FROM packages p, roles r WHERE p.name = 'Team' AND r.name = 'Exporters'",
            true,
        ),
        ("TRUNCATE role_grants", false),
    ];
    for (n, (sql, then)) in changes.into_iter().enumerate() {
        client
            .batch_execute(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        let role_or_package_changed = !sql.starts_with("UPDATE users");
        if role_or_package_changed {
            assert_eq!(
                check_from_snapshot(&place, "bob", "contacts.export"),
                None,
                "stale after {sql}"
            );
        }
        assert_eq!(allowed("bob", "contacts.export"), then, "after {sql}");
        heal(n);
        assert!(
            check_from_snapshot(&place, "bob", "contacts.export").is_some(),
            "rebuilt after {sql}"
        );
        assert_eq!(
            allowed("bob", "contacts.export"),
            then,
            "rebuilt, after {sql}"
        );
    }
    // The catalog and the operator permissions are in the snapshot too.
    client
        .batch_execute("UPDATE permissions SET label = 'Renamed' WHERE key = 'contacts.export'")
        .unwrap();
    assert_eq!(check_from_snapshot(&place, "bob", "contacts.export"), None);
    heal(100);
    let out = place.rc(&["check", "alice", "contacts.export", "--explain"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Renamed"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    client
        .batch_execute("INSERT INTO operator_permissions VALUES ('audit', 'contacts.export')")
        .unwrap();
    assert_eq!(check_from_snapshot(&place, "bob", "contacts.export"), None);
    heal(102);
    assert!(check_from_snapshot(&place, "bob", "contacts.export").is_some());
    // A source table cannot be dropped while the snapshot depends on it; dropped with
    // CASCADE and made again by hand (without its trigger), the snapshot is not read
    // until the next write gives the table its trigger and rebuilds it.
    let refused = client
        .batch_execute("DROP TABLE operator_permissions")
        .expect_err("the snapshot's view depends on it");
    assert!(
        refused.to_string().contains("depend") || format!("{refused:?}").contains("depend"),
        "{refused:?}"
    );
    client
        .batch_execute(
            "CREATE TABLE held AS SELECT * FROM operator_permissions; \
             DROP TABLE operator_permissions CASCADE; \
             CREATE TABLE operator_permissions (right_name TEXT COLLATE \"C\" PRIMARY KEY \
               CHECK (right_name IN ('users', 'roles', 'audit')), permission TEXT COLLATE \"C\" NOT NULL); \
             INSERT INTO operator_permissions SELECT * FROM held; DROP TABLE held",
        )
        .unwrap();
    assert_eq!(check_from_snapshot(&place, "bob", "contacts.export"), None);
    heal(101);
    assert!(check_from_snapshot(&place, "bob", "contacts.export").is_some());
    client
        .batch_execute("DELETE FROM operator_permissions")
        .unwrap();
    assert_eq!(
        check_from_snapshot(&place, "bob", "contacts.export"),
        None,
        "the new table's changes mark the snapshot stale"
    );
}

/// After a write (which changes carol, who is in [`fill`]'s package), `check` answers
/// from a rebuilt snapshot, as it does from the tables.
fn made_again_by_the_next_write(place: &Place) {
    place.ok(&["users", "set", "carol", "--active", "true"]);
    assert_eq!(
        check_from_snapshot(place, "carol", "contacts.export"),
        Some(check_from_tables(place, "carol", "contacts.export"))
    );
    let out = place.rc(&["check", "carol", "contacts.export"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[test]
fn a_postgres_database_made_before_the_policy_snapshot_gains_it_on_its_next_write() {
    let Some(server) = pg_server() else { return };
    let place = filled_then(
        server,
        "DROP VIEW rolecall_policy_current; DROP TABLE rolecall_policy; \
         DROP FUNCTION rolecall_policy_changed() CASCADE",
    );
    // Read as before, from the tables; a reading command adds nothing.
    assert_eq!(
        check_from_snapshot(&place, "carol", "contacts.export"),
        None
    );
    let out = place.rc(&["check", "carol", "contacts.export"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert_eq!(
        check_from_snapshot(&place, "carol", "contacts.export"),
        None
    );
    made_again_by_the_next_write(&place);
}

/// Takes a database made by this build back to what a schema-5 build left: the
/// earlier `user_permissions`, no trigger keeping Administrator complete, a leaf
/// another program inserted that Administrator therefore lacks, another leaf it lost,
/// and version 5.
const BACK_TO_5: &str = "\
    CREATE OR REPLACE VIEW user_permissions AS \
    SELECT u.username AS username, g.permission_key AS permission_key \
    FROM users u JOIN role_grants g ON g.role_id = u.role_id WHERE u.active \
    UNION \
    SELECT u.username, g.permission_key FROM users u \
    JOIN package_members m ON m.user_id = u.id \
    JOIN package_roles pr ON pr.package_id = m.package_id \
    JOIN role_grants g ON g.role_id = pr.role_id WHERE u.active; \
    DROP TRIGGER permissions_builtin_holds ON permissions; \
    DROP FUNCTION rolecall_builtin_holds(); \
    DROP TRIGGER role_grants_builtin_keeps ON role_grants; \
    DROP FUNCTION rolecall_builtin_keeps(); \
    INSERT INTO permissions (key, parent, label, position) \
    VALUES ('contacts.archive', 'contacts', 'Archive', 1000); \
    DELETE FROM role_grants WHERE permission_key = 'contacts.view' \
    AND role_id IN (SELECT id FROM roles WHERE builtin); \
    UPDATE rolecall_schema SET version = 5";

const SCHEMA_VERSION: &str = "SELECT version::text FROM rolecall_schema";
const LATERAL_VIEW: &str =
    "SELECT (position('LATERAL' IN pg_get_viewdef('user_permissions'::regclass)) > 0)::text";

#[test]
fn a_version_5_postgres_database_is_upgraded_by_its_first_open_that_may_write() {
    let Some(server) = pg_server() else { return };
    let place = filled_then(server, BACK_TO_5);
    let out = place.rc(&["--read-only", "users", "list"]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert!(
        stderr(&out)
            .contains("needs upgrading to schema version 6; open it once without --read-only"),
        "{}",
        stderr(&out)
    );
    assert_eq!(place.strings(SCHEMA_VERSION, SCHEMA_VERSION), ["5"]);
    let audit = place.strings(
        "SELECT count(*)::text FROM audit",
        "SELECT count(*)::text FROM audit",
    );

    // A `check`, the command an application runs, upgrades it.
    for leaf in ["contacts.archive", "contacts.view"] {
        let out = place.rc(&["check", "alice", leaf]);
        assert_eq!(code(&out), 0, "{leaf}: {}", stderr(&out));
    }
    assert_eq!(place.strings(SCHEMA_VERSION, SCHEMA_VERSION), ["6"]);
    assert_eq!(place.strings(LATERAL_VIEW, LATERAL_VIEW), ["true"]);
    let holds = "SELECT p.key FROM permissions p \
        WHERE NOT EXISTS (SELECT 1 FROM permissions c WHERE c.parent = p.key) \
        EXCEPT SELECT g.permission_key FROM role_grants g JOIN roles r ON r.id = g.role_id \
        WHERE r.builtin";
    assert!(
        place.strings(holds, holds).is_empty(),
        "Administrator holds every leaf"
    );
    let view = "SELECT username || ' ' || permission_key FROM user_permissions ORDER BY 1";
    assert_eq!(
        place.strings(view, view),
        place.strings(
            USER_PERMISSIONS_BY_DEFINITION,
            USER_PERMISSIONS_BY_DEFINITION
        )
    );
    assert_eq!(
        place.strings(
            "SELECT count(*)::text FROM audit",
            "SELECT count(*)::text FROM audit"
        ),
        audit,
        "an upgrade is not a change to the policy"
    );
    // The snapshot was built again for version 6, so `check` answers from it.
    let answer = check_from_snapshot(&place, "alice", "contacts.archive");
    assert!(
        answer
            .as_deref()
            .is_some_and(|a| a.contains("\"allowed\":true")),
        "{answer:?}"
    );
    // The trigger keeps Administrator complete from now on.
    let mut client = place.pg.as_ref().unwrap().client();
    client
        .batch_execute(
            "INSERT INTO permissions (key, parent, label, position) \
             VALUES ('contacts.stamp', 'contacts', 'Stamp', 1001)",
        )
        .unwrap();
    let out = place.rc(&["check", "alice", "contacts.stamp"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

/// An application's transaction left open after reading `user_permissions` holds the
/// view: replacing it would wait, and every later lookup would queue behind the wait.
/// The upgrade gives up after a short wait instead, changing nothing, and the next
/// open once the transaction has ended does it.
#[test]
fn an_upgrade_that_would_wait_on_an_open_reader_gives_up_and_changes_nothing() {
    let Some(server) = pg_server() else { return };
    let place = filled_then(server, BACK_TO_5);
    let mut reader = place.pg.as_ref().unwrap().client();
    let mut open = reader.transaction().unwrap();
    open.query("SELECT count(*) FROM user_permissions", &[])
        .unwrap();
    let out = place.rc(&["check", "alice", "contacts.archive"]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("another transaction is using its tables or views (waited 2 s"),
        "{}",
        stderr(&out)
    );
    assert_eq!(place.strings(SCHEMA_VERSION, SCHEMA_VERSION), ["5"]);
    assert_eq!(place.strings(LATERAL_VIEW, LATERAL_VIEW), ["false"]);
    open.commit().unwrap();
    let out = place.rc(&["check", "alice", "contacts.archive"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(place.strings(SCHEMA_VERSION, SCHEMA_VERSION), ["6"]);
}

#[test]
fn a_login_that_does_not_own_the_tables_cannot_upgrade_and_is_told_who_can() {
    let Some(server) = pg_server() else { return };
    let place = filled_then(server, BACK_TO_5);
    let pg = place.pg.as_ref().unwrap();
    let writer = format!("writer_{}", pg.name);
    let mut client = pg.client();
    client
        .batch_execute(&format!(
            "CREATE ROLE {writer} LOGIN; \
             GRANT ALL ON ALL TABLES IN SCHEMA public TO {writer}; \
             GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {writer}"
        ))
        .unwrap();
    let (scheme, rest) = pg.url.split_once("://").unwrap();
    let host_part = rest.split_once('@').map_or(rest, |(_, host)| host);
    let as_writer = format!("{scheme}://{writer}@{host_part}");
    let out = rc(
        std::path::Path::new(&as_writer),
        &["users", "set", "carol", "--active", "true"],
    );
    let dropped = client.batch_execute(&format!("DROP OWNED BY {writer}; DROP ROLE {writer}"));
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("only the login that owns its tables may change them"),
        "{}",
        stderr(&out)
    );
    dropped.unwrap();
    assert_eq!(place.strings(SCHEMA_VERSION, SCHEMA_VERSION), ["5"]);
    assert_eq!(place.strings(LATERAL_VIEW, LATERAL_VIEW), ["false"]);
    let carol = "SELECT active::text FROM users WHERE username = 'carol'";
    assert_eq!(
        place.strings(carol, carol),
        ["false"],
        "nothing was changed"
    );
    // The owner's next open upgrades it, and the change goes through.
    place.ok(&["users", "set", "carol", "--active", "true"]);
    assert_eq!(place.strings(SCHEMA_VERSION, SCHEMA_VERSION), ["6"]);
    assert_eq!(place.strings(carol, carol), ["true"]);
}

/// A connection lost while COMMIT runs leaves the client not knowing whether the
/// change was made: rolecall says so (exit 4) instead of claiming either. A deferred
/// trigger that ends its own server process makes the loss happen inside COMMIT.
#[test]
fn a_connection_lost_during_commit_says_the_change_may_or_may_not_have_been_made() {
    let Some(server) = pg_server() else { return };
    let place = filled_then(
        server,
        "CREATE FUNCTION die_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$ \
         BEGIN PERFORM pg_terminate_backend(pg_backend_pid()); RETURN NULL; END $$; \
         CREATE CONSTRAINT TRIGGER die_at_commit AFTER INSERT ON roles \
         DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION die_at_commit()",
    );
    let audit = "SELECT count(*)::text FROM audit";
    let before = place.strings(audit, audit);
    let out = place.rc(&["roles", "create", "Doomed"]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("lost as the change was committed")
            && stderr(&out).contains("it may or may not have been made"),
        "{}",
        stderr(&out)
    );
    // Here it was not: the server ended before the commit, and nothing of it stays.
    let doomed = "SELECT name FROM roles WHERE name = 'Doomed'";
    assert!(place.strings(doomed, doomed).is_empty());
    assert_eq!(place.strings(audit, audit), before);
    place.ok(&["users", "set", "carol", "--active", "true"]);
}

/// A throwaway PgBouncer (`scripts/pgbouncer-throwaway`) in front of the test server:
/// transaction pooling, one server connection per database. `None` (the test is
/// skipped) without PgBouncer, unless `CI` is set.
struct Pooler {
    dir: String,
    url: String,
}

impl Pooler {
    fn start(server: &str) -> Option<Pooler> {
        let socket_dir = server
            .split(['?', '&'])
            .find_map(|part| part.strip_prefix("host="))
            .expect("the test server is reached through a Unix socket folder (?host=)");
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/pgbouncer-throwaway");
        let out = std::process::Command::new(script)
            .arg(socket_dir)
            .output()
            .expect("the script runs");
        if !out.status.success() {
            let why = String::from_utf8_lossy(&out.stderr);
            assert!(std::env::var_os("CI").is_none(), "PgBouncer: {why}");
            eprintln!("skipped: {why}");
            return None;
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let mut lines = text.lines();
        Some(Pooler {
            dir: lines.next().unwrap().to_string(),
            url: lines.next().unwrap().to_string(),
        })
    }

    fn url_for(&self, database: &str) -> String {
        self.url.replace("DBNAME", database)
    }
}

impl Drop for Pooler {
    fn drop(&mut self) {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/pgbouncer-throwaway");
        let _ = std::process::Command::new(script)
            .args(["stop", &self.dir])
            .status();
    }
}

#[test]
fn read_only_sessions_behind_pgbouncer_leave_the_shared_server_connection_writable() {
    let Some(server) = pg_server() else { return };
    let Some(pooler) = Pooler::start(&server) else {
        return;
    };
    let place = Place::new(&Backend::Postgres(server));
    fill(&place);
    let via = Place {
        dir: tempfile::tempdir().unwrap(),
        location: pooler.url_for(&place.pg.as_ref().unwrap().name).into(),
        pg: None,
    };
    // Every client of this database shares one server connection: what a read-only
    // session left on it would reach the writers after it.
    for args in [
        &["--read-only", "users", "list"][..],
        &["--read-only", "check", "alice", "contacts.export"],
        &["--read-only", "roles", "show", "Exporters"],
    ] {
        let out = via.rc(args);
        assert_eq!(code(&out), 0, "{args:?}: {}", stderr(&out));
    }
    let out = via.rc(&[
        "--read-only",
        "users",
        "add",
        "mallory",
        "--email",
        "m@example.com",
    ]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    // A dry run writes what it plans and rolls it back, read-only session or not.
    let export = via.dir.path().join("export.json");
    std::fs::write(&export, via.ok(&["export"])).unwrap();
    let out = via.ok(&[
        "--read-only",
        "import",
        export.to_str().unwrap(),
        "--dry-run",
    ]);
    assert!(out.contains("dry run"), "{out}");
    via.ok(&["users", "add", "dave", "--email", "dave@example.com"]);
    via.ok(&["roles", "grant", "Exporters", "statistics.export"]);
    // check answers through the pooler as it does directly.
    for (user, key) in [("carol", "contacts.export"), ("dave", "statistics")] {
        let pooled = via.rc(&["check", user, key, "--explain", "--json"]);
        let direct = place.rc(&["check", user, key, "--explain", "--json"]);
        assert_eq!(code(&pooled), code(&direct), "{}", stderr(&pooled));
        assert_eq!(pooled.stdout, direct.stdout);
    }
}

/// A console on PostgreSQL notices what another program (`psql`, the application)
/// changes in any table within its next poll: the review found the token moving only
/// with rolecall's own writes, so a console showed deleted roles for good. A database
/// made before the counter of such changes reads its token as before and gains the
/// counter on its next write.
#[test]
fn a_console_on_postgres_notices_changes_made_by_another_program() {
    let Some(server) = pg_server() else { return };
    let place = filled_then(
        server,
        "DROP TABLE rolecall_changes; DROP FUNCTION rolecall_changed_elsewhere() CASCADE",
    );
    let store = Store::open(&place.location, Access::ReadOnly).unwrap();
    let before = store.data_version().unwrap();
    place.ok(&["users", "set", "carol", "--active", "true"]);
    let mut token = store.data_version().unwrap();
    assert_ne!(token, before, "rolecall's own write moves the token");
    let mut client = place.pg.as_ref().unwrap().client();
    for sql in [
        "UPDATE roles SET name = 'Exporters 2', name_fold = 'exporters 2' WHERE name = 'Exporters'",
        "UPDATE users SET first_name = 'Psql' WHERE username = 'carol'",
        "DELETE FROM package_members",
        "DELETE FROM user_keys",
        "UPDATE settings SET default_role_id = default_role_id",
        "INSERT INTO audit (at, actor, action, target, before, after) \
         VALUES ('2026-11-30T00:00:00Z', 'psql', 'note', 'x', NULL, NULL)",
    ] {
        client
            .batch_execute(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        let now = store.data_version().unwrap();
        assert_ne!(now, token, "the console notices: {sql}");
        token = now;
    }
    let roles: Vec<String> = store.roles().unwrap().into_iter().map(|r| r.name).collect();
    assert!(roles.contains(&"Exporters 2".to_string()), "{roles:?}");
    // A read changes nothing, and rolecall's own write still moves the token.
    assert_eq!(store.data_version().unwrap(), token);
    place.ok(&["users", "set", "carol", "--position", "Lead"]);
    assert_ne!(store.data_version().unwrap(), token);
}

/// The snapshot's row is derived data: a dump restored without it, or a `DELETE` by
/// hand, must not make every write fail (the review found "a row the store expected
/// is missing" on each one). The next write makes it again and `check` reads it.
#[test]
fn a_postgres_database_without_the_snapshot_row_makes_it_again_on_its_next_write() {
    let Some(server) = pg_server() else { return };
    let place = filled_then(server, "DELETE FROM rolecall_policy");
    assert_eq!(
        check_from_snapshot(&place, "carol", "contacts.export"),
        None
    );
    let out = place.rc(&["check", "carol", "contacts.export"]);
    assert_eq!(code(&out), 1, "read from the tables: {}", stderr(&out));
    made_again_by_the_next_write(&place);
}

/// A console left open while the server restarts, or while an administrator ends
/// its backend, must carry on once the server is back: the review found every action
/// failing with "connection closed" until the console was started again.
#[test]
fn a_session_whose_backend_was_terminated_connects_again_and_carries_on() {
    let Some(server) = pg_server() else { return };
    let place = filled_then(server, "SELECT 1");
    let mut store = Store::open(&place.location, Access::ReadWrite).unwrap();
    let mut admin = place.pg.as_ref().unwrap().client();
    let end_sessions = |admin: &mut postgres::Client| -> i64 {
        admin
            .query_one(
                "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = current_database() AND pid <> pg_backend_pid()) t",
                &[],
            )
            .unwrap()
            .get(0)
    };
    let before = store.data_version().unwrap();
    // A read: the first statement finds the connection gone and runs again.
    assert!(end_sessions(&mut admin) >= 1);
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(store.data_version().unwrap(), before);
    assert!(store.user("carol").is_ok());
    // A write: its transaction begins on a new connection.
    assert!(end_sessions(&mut admin) >= 1);
    std::thread::sleep(std::time::Duration::from_millis(200));
    store
        .update_user(
            "carol",
            None,
            rolecall::store::UserChange {
                position: Some("Lead".into()),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(store.user("carol").unwrap().position, "Lead");
    assert_ne!(store.data_version().unwrap(), before);
}

/// Tables dropped by hand to start over leave rolecall's trigger functions behind;
/// the review found setting the database up again (first use, or `copy --to`) then
/// failing with the server's "function already exists" and exit 4.
#[test]
fn a_postgres_database_left_with_only_rolecall_functions_is_set_up_again() {
    let Some(server) = pg_server() else { return };
    let drop_every_table = |client: &mut postgres::Client| {
        client
            .batch_execute(
                "DO $$ DECLARE t text; BEGIN \
                 FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = current_schema() LOOP \
                 EXECUTE format('DROP TABLE IF EXISTS %I CASCADE', t); END LOOP; END $$",
            )
            .unwrap();
        let left: i64 = client
            .query_one(
                "SELECT count(*) FROM pg_proc WHERE proname LIKE 'rolecall%'",
                &[],
            )
            .unwrap()
            .get(0);
        assert!(left >= 3, "the functions stay behind: {left}");
    };
    let place = Place::new(&Backend::Postgres(server.clone()));
    fill(&place);
    drop_every_table(&mut place.pg.as_ref().unwrap().client());
    place.ok(&["users", "add", "nora", "--email", "nora@example.com"]);
    assert_eq!(place.ok(&["check", "nora", "contacts.view"]), "allowed\n");
    // The same for a copy into it.
    let source = Place::new(&Backend::Sqlite);
    fill(&source);
    let target = Place::new(&Backend::Postgres(server));
    target.ok(&["users", "add", "nora", "--email", "nora@example.com"]);
    drop_every_table(&mut target.pg.as_ref().unwrap().client());
    let out = source.rc(&["copy", "--to", target.location.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(state(&target), state(&source));
}
