//! Issue 10, "Trust first": every action hits the row the operator chose, nothing is
//! written that the rules forbid, and no output claims success it did not have. Each
//! test runs the real binary (or the library on a real file) and was seen to fail
//! with its fix taken out.

mod common;

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Stdio};
use std::thread;
use std::time::Duration;

use common::*;
use rolecall::store::{Access, Store};
use rusqlite::Connection;

/// Starts `rolecall --db DB ARGS` without waiting for it.
fn spawn(db: &Db, args: &[&str]) -> Child {
    command(db.dir())
        .arg("--db")
        .arg(db.path())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("rolecall starts")
}

/// Runs `change` inside a write transaction that is already holding the database
/// when `args` starts: the command opens the file, reads what it reads outside its
/// own transaction, then waits for the lock. Whatever it does after that must be
/// decided on the database as `change` left it.
fn race(db: &Db, args: &[&str], change: &[&str]) -> Run {
    let out = if db.is_pg() {
        // On PostgreSQL writers queue on the change counter's row: hold it.
        let mut client = db.pg_client();
        let mut tx = client.transaction().unwrap();
        tx.batch_execute("UPDATE rolecall_meta SET change_seq = change_seq + 1")
            .unwrap();
        let child = spawn(db, args);
        thread::sleep(Duration::from_millis(400));
        for sql in change {
            tx.batch_execute(sql).unwrap();
        }
        tx.commit().unwrap();
        child.wait_with_output().unwrap()
    } else {
        let mut conn = db.conn_rw();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .unwrap();
        let child = spawn(db, args);
        // Long enough for the command to open the file and reach its write.
        thread::sleep(Duration::from_millis(400));
        for sql in change {
            tx.execute_batch(sql).unwrap();
        }
        tx.commit().unwrap();
        child.wait_with_output().unwrap()
    };
    Run {
        args: args.iter().map(|a| a.to_string()).collect(),
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        raw_stdout: out.stdout,
        raw_stderr: out.stderr,
    }
}

fn id_of(db: &Db, table: &str, column: &str, value: &str) -> i64 {
    db.sql_strings(
        &format!("SELECT CAST(id AS TEXT) FROM {table} WHERE {column} = ?1"),
        &[value],
    )[0]
    .parse()
    .unwrap()
}

// ---- 2. Ids are never reused; a stale version never acts on another row --------

#[test]
fn ids_of_deleted_roles_and_users_are_never_given_again() {
    let db = Db::with_owner();
    db.ok(&["roles", "create", "Temp"]);
    let temp = id_of(&db, "roles", "name", "Temp");
    db.ok(&["roles", "delete", "Temp"]);
    db.ok(&["roles", "create", "Next"]);
    assert!(id_of(&db, "roles", "name", "Next") > temp);

    db.ok(&["users", "add", "bob", "--email", "bob@example.com"]);
    let bob = id_of(&db, "users", "username", "bob");
    db.ok(&["users", "remove", "bob"]);
    db.ok(&["users", "add", "carol", "--email", "carol@example.com"]);
    assert!(id_of(&db, "users", "username", "carol") > bob);
}

#[test]
fn if_version_on_a_deleted_role_says_so_and_changes_nothing() {
    let db = Db::with_owner();
    db.ok(&["roles", "create", "Temp"]);
    let v = db.json(&["roles", "show", "Temp"])["version"].to_string();
    db.run_env(&["roles", "delete", "Temp"], &[("USER", "mallory")])
        .expect_code(0);
    let before = db.dump();
    let run = db.run(&["roles", "describe", "Temp", "new words", "--if-version", &v]);
    run.expect_code(3);
    assert!(
        run.stderr.contains("role \"Temp\" was deleted by mallory"),
        "{}",
        run.stderr
    );
    assert_eq!(db.dump(), before);
}

#[test]
fn if_version_older_than_a_row_that_was_never_deleted_says_the_row_never_had_it() {
    let db = Db::with_owner();
    db.ok(&["roles", "create", "Early"]);
    let early = db.json(&["roles", "show", "Early"])["version"].to_string();
    db.ok(&["roles", "create", "Later"]);
    db.ok(&["users", "add", "bob", "--email", "bob@example.com"]);
    db.ok(&["packages", "create", "Team"]);
    let before = db.dump();
    // Early's version given for rows made after it: mistyped, or read from another row.
    let runs = [
        vec!["roles", "grant", "Later", "all", "--if-version", &early],
        vec![
            "users",
            "set",
            "bob",
            "--position",
            "Boss",
            "--if-version",
            &early,
        ],
        vec![
            "packages",
            "describe",
            "Team",
            "words",
            "--if-version",
            &early,
        ],
    ];
    for args in runs {
        let run = db.run(&args);
        run.expect_code(3);
        assert!(
            run.stderr.contains(&format!("never had version {early}")),
            "{args:?}: {}",
            run.stderr
        );
        assert!(
            !run.stderr.contains("was deleted and created again"),
            "{args:?}: {}",
            run.stderr
        );
        assert!(
            run.stderr
                .contains("another program deleted, which leaves no record"),
            "{args:?}: {}",
            run.stderr
        );
    }
    assert_eq!(db.dump(), before);
}

#[test]
fn if_version_on_a_row_deleted_and_created_again_is_refused() {
    let db = Db::with_owner();
    db.ok(&["roles", "create", "Temp"]);
    let v = db.json(&["roles", "show", "Temp"])["version"].to_string();
    db.ok(&["roles", "delete", "Temp"]);
    db.ok(&["roles", "create", "Temp"]);
    let before = db.dump();
    let run = db.run(&["roles", "grant", "Temp", "all", "--if-version", &v]);
    run.expect_code(3);
    assert!(
        run.stderr.contains("was deleted and created again"),
        "{}",
        run.stderr
    );
    assert_eq!(db.dump(), before);

    db.ok(&["users", "add", "bob", "--email", "bob@example.com"]);
    let v = db.user("bob")["version"].to_string();
    db.ok(&["users", "remove", "bob"]);
    db.ok(&["users", "add", "bob", "--email", "bob@example.com"]);
    let before = db.dump();
    let run = db.run(&[
        "users",
        "set",
        "bob",
        "--position",
        "Boss",
        "--if-version",
        &v,
    ]);
    run.expect_code(3);
    assert!(
        run.stderr
            .contains("user \"bob\" was deleted and created again"),
        "{}",
        run.stderr
    );
    assert_eq!(db.dump(), before);

    db.ok(&["users", "remove", "bob"]);
    let run = db.run(&[
        "users",
        "set",
        "bob",
        "--position",
        "Boss",
        "--if-version",
        &v,
    ]);
    run.expect_code(3);
    assert!(
        run.stderr.contains("user \"bob\" was deleted"),
        "{}",
        run.stderr
    );
}

#[test]
fn versions_rise_across_rows_so_a_new_row_never_repeats_an_old_version() {
    let db = Db::with_owner();
    let mut seen = std::collections::BTreeSet::new();
    for name in ["a1", "a2", "a3"] {
        db.ok(&["roles", "create", name]);
        let v = db.json(&["roles", "show", name])["version"]
            .as_i64()
            .unwrap();
        assert!(seen.insert(v), "version {v} given twice");
    }
}

// ---- 3. Names are resolved inside the write ----------------------------------

#[test]
fn a_grant_lands_on_the_role_named_when_it_writes_not_when_it_started() {
    let db = Db::with_owner();
    db.ok(&["roles", "create", "Temp"]);
    let run = race(
        &db,
        &["roles", "grant", "Temp", "triggers"],
        &[
            "UPDATE roles SET name = 'Gone', name_fold = 'gone' WHERE name = 'Temp'",
            "INSERT INTO roles (name, name_fold, created_at, updated_at, updated_by) \
             VALUES ('Temp', 'temp', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', 'other')",
        ],
    );
    run.expect_code(0);
    assert!(
        db.granted("Gone").is_empty(),
        "the renamed role was not touched"
    );
    assert_eq!(db.granted("Temp").len(), 3, "{:?}", db.granted("Temp"));
}

#[test]
fn set_default_racing_a_delete_says_there_is_no_such_role() {
    let db = Db::with_owner();
    db.ok(&["roles", "create", "Temp"]);
    let before_change = "DELETE FROM roles WHERE name = 'Temp'";
    let run = race(&db, &["roles", "set-default", "Temp"], &[before_change]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("there is no role \"Temp\""),
        "{}",
        run.stderr
    );
}

// ---- 4. Writes use the catalog as it is when they write -----------------------

#[test]
fn a_grant_after_another_process_turned_the_leaf_into_a_category_grants_its_leaves() {
    let db = Db::with_owner();
    db.ok(&["roles", "create", "Support"]);
    let run = race(
        &db,
        &["roles", "grant", "Support", "contacts.export"],
        &[
            "INSERT INTO permissions (key, parent, label, position) VALUES \
             ('contacts.export.csv', 'contacts.export', 'CSV', 1000), \
             ('contacts.export.pdf', 'contacts.export', 'PDF', 1001)",
            "DELETE FROM role_grants WHERE permission_key = 'contacts.export'",
        ],
    );
    run.expect_code(0);
    assert_eq!(
        db.granted("Support"),
        ["contacts.export.csv", "contacts.export.pdf"],
        "{}",
        run.stdout
    );
    let categories: i64 = db.sql_strings(
        "SELECT CAST(count(*) AS TEXT) FROM role_grants g WHERE EXISTS \
         (SELECT 1 FROM permissions p WHERE p.parent = g.permission_key)",
        &[],
    )[0]
    .parse()
    .unwrap();
    assert_eq!(categories, 0, "no grant of a category was written");
}

#[test]
fn a_store_opened_before_a_catalog_load_writes_against_the_new_catalog() {
    let db = Db::with_owner();
    db.ok(&["roles", "create", "Support"]);
    let mut store = Store::open(db.path(), Access::ReadWrite).unwrap();
    let stale = store.role("Support").unwrap().grants;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.toml");
    let mut toml = rolecall::domain::catalog::DEFAULT_CATALOG_TOML.to_string();
    toml.push_str("\n[[permission]]\nkey = \"contacts.export.csv\"\nlabel = \"CSV\"\n");
    fs::write(&file, toml).unwrap();
    db.ok(&["catalog", "load", file.to_str().unwrap(), "--prune"]);

    // Grants read before the load are refused as a conflict, not written.
    let err = store
        .edit_role(
            rolecall::store::RoleRef::Typed("Support".into()),
            None,
            |_, _| {
                let mut grants = stale.clone();
                grants.set(0, true);
                Ok(rolecall::store::RoleUpdate {
                    grants: Some(grants),
                    ..Default::default()
                })
            },
        )
        .unwrap_err();
    assert!(
        matches!(&err, rolecall::error::Error::Conflict(c) if c.kind == rolecall::error::ConflictKind::Catalog),
        "{err}"
    );
    // The same store then resolves keys against the new catalog.
    store
        .set_permissions("Support", &["contacts.export".to_string()], true, None)
        .unwrap();
    assert_eq!(db.granted("Support"), ["contacts.export.csv"]);
}

/// SPEC §3: Administrator holds every leaf, always, also leaves added later; here a
/// leaf another program inserts, and a leaf that gains a child from it (which makes it
/// a category, no longer granted). The CLI and the `user_permissions` view agree.
#[test]
fn a_leaf_another_program_inserts_is_held_by_administrator_in_check_and_the_view() {
    let db = Db::with_owner();
    db.ok(&["roles", "create", "Support"]);
    db.ok(&["roles", "grant", "Support", "contacts.export"]);
    let none: &[&str] = &[];
    db.sql_exec(
        "INSERT INTO permissions (key, parent, label, position) VALUES \
         ('contacts.archive', 'contacts', 'Archive', 1000)",
        none,
    );
    db.sql_exec(
        "INSERT INTO permissions (key, parent, label, position) VALUES \
         ('contacts.export.csv', 'contacts.export', 'CSV', 1001)",
        none,
    );
    for leaf in ["contacts.archive", "contacts.export.csv"] {
        let run = db.run(&["check", "alice", leaf, "--explain"]);
        assert_eq!(run.code, 0, "{leaf}: {}", run.stdout);
    }
    let leaves = all_leaf_keys(&db.catalog());
    assert!(leaves.contains(&"contacts.export.csv".to_string()));
    assert!(!leaves.contains(&"contacts.export".to_string()));
    assert_eq!(sorted(&db.granted("Administrator")), leaves);
    assert_eq!(db.view_grants("alice"), leaves, "the view agrees");
    let support = "SELECT g.permission_key FROM role_grants g JOIN roles r ON r.id = g.role_id \
                   WHERE r.name = 'Support' ORDER BY 1";
    assert_eq!(
        db.sql_strings(support, &[]),
        ["contacts.export"],
        "only the built-in role's rows are the triggers' to change"
    );

    // The only child deleted: its parent is a leaf again, and Administrator's.
    db.sql_exec(
        "DELETE FROM permissions WHERE key = 'contacts.export.csv'",
        none,
    );
    // A category inserted after its child, in one statement.
    db.sql_exec(
        "INSERT INTO permissions (key, parent, label, position) VALUES \
         ('reports.pdf', 'reports', 'PDF', 1003), ('reports', NULL, 'Reports', 1002)",
        none,
    );
    let leaves = all_leaf_keys(&db.catalog());
    for key in ["contacts.export", "reports.pdf"] {
        assert!(leaves.contains(&key.to_string()), "{key}: {leaves:?}");
    }
    assert_eq!(sorted(&db.granted("Administrator")), leaves);
    let categories = "SELECT g.permission_key FROM role_grants g JOIN roles r ON r.id = g.role_id \
                      WHERE r.builtin = TRUE AND EXISTS \
                      (SELECT 1 FROM permissions c WHERE c.parent = g.permission_key)";
    assert_eq!(db.sql_strings(categories, &[]), Vec::<String>::new());
    assert_eq!(db.view_grants("alice"), leaves);
    db.run(&["check", "alice", "reports.pdf"]).expect_code(0);

    // Nor can another program take a leaf from it: the statement is refused whole.
    let refused = db.sql_try_exec(
        "DELETE FROM role_grants WHERE permission_key LIKE 'contacts.%'",
        none,
    );
    let why = refused.expect_err("the delete is refused");
    assert!(why.contains("holds every permission"), "{why}");
    assert_eq!(sorted(&db.granted("Administrator")), leaves);
    assert_eq!(db.sql_strings(support, &[]), ["contacts.export"]);
}

// ---- 7. Output that fails is not success ----------------------------------------

#[test]
fn output_to_a_full_device_exits_4() {
    let db = Db::with_owner();
    for args in [
        &["export"][..],
        &["export", "--format", "csv"],
        &["users", "list", "--json"],
        &["roles", "show", "Read Only"],
        &["audit"],
        &["completions", "bash"],
        &["man"],
    ] {
        let out = command(db.dir())
            .arg("--db")
            .arg(db.path())
            .args(args)
            .stdout(fs::File::create("/dev/full").unwrap())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(4), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("the disk is full"), "{args:?}: {stderr}");
    }
}

// ---- 14. A refused file stays byte for byte -------------------------------------

/// A database with an owner, in rollback-journal mode (so that no write-ahead log
/// stands between a write and the file), whose users table's root page `damage`
/// changed; with the file's bytes after the damage.
fn users_root_damaged(damage: impl FnOnce(&mut [u8])) -> (Db, Vec<u8>) {
    let db = Db::with_owner();
    db.conn_rw()
        .pragma_update(None, "journal_mode", "DELETE")
        .unwrap();
    let root: i64 = db
        .conn()
        .query_row(
            "SELECT rootpage FROM sqlite_master WHERE name = 'users'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let mut bytes = fs::read(db.path()).unwrap();
    let page = 4096 * (root as usize - 1);
    damage(&mut bytes[page..page + 4096]);
    fs::write(db.path(), &bytes).unwrap();
    (db, bytes)
}

#[test]
fn a_damaged_file_in_rollback_journal_mode_is_refused_and_left_as_it_was() {
    if sqlite_only("damage to the file") {
        return;
    }
    // The users table's root page, damaged: every read of a user fails.
    let (db, bytes) = users_root_damaged(|page| page[8..208].fill(0x07));
    for args in [
        &["users", "list"][..],
        &["users", "show", "alice"],
        &["users", "set", "alice", "--position", "x"],
    ] {
        let run = db.run(args);
        assert_eq!(run.code, 4, "{args:?}: {}{}", run.stdout, run.stderr);
        assert_eq!(
            fs::read(db.path()).unwrap(),
            bytes,
            "{args:?} changed the file"
        );
    }
}

#[test]
fn a_change_that_never_reads_the_damaged_table_is_refused_and_leaves_the_file_as_it_was() {
    if sqlite_only("damage to the file") {
        return;
    }
    // The users table's root page no longer says what kind of page it is. Creating
    // a role writes roles, the audit log and the change counter, never users: only
    // the first write's look at every table's root page stops it from landing (and
    // from switching the file to WAL, which rewrites its header).
    let (db, bytes) = users_root_damaged(|page| page[0] = 0x07);
    let run = db.run(&["roles", "create", "Auditor"]);
    assert_eq!(run.code, 4, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("corrupt"), "{}", run.stderr);
    assert_eq!(fs::read(db.path()).unwrap(), bytes, "the file changed");
    // What only reads other tables still answers.
    db.ok(&["catalog", "show"]);
}

// ---- 15. Limits fail cleanly ---------------------------------------------------

#[test]
fn a_file_size_limit_fails_the_export_with_exit_4_and_leaves_no_temp_file() {
    let db = Db::with_owner();
    let out_dir = tempfile::tempdir().unwrap();
    let target = out_dir.path().join("export.json");
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg("ulimit -f 1; exec \"$@\"")
        .arg("sh")
        .arg(BIN)
        .arg("--db")
        .arg(db.path())
        .args(["export", "-o"])
        .arg(&target)
        .env("HOME", db.dir())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(!target.exists(), "no partial export");
    assert_eq!(
        fs::read_dir(out_dir.path()).unwrap().count(),
        0,
        "no temporary file left"
    );
}

#[test]
fn absurd_demo_sizes_and_endless_passwords_are_refused() {
    let db = Db::empty();
    let run = db.run(&["demo", "--users", "100000000000", "--no-tui"]);
    assert_field_error(&run, 2, "users");
    assert!(!db.path().exists());

    let db = Db::with_owner();
    let mut child = command(db.dir())
        .arg("--db")
        .arg(db.path())
        .args(["users", "passwd", "alice", "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let feeder = thread::spawn(move || {
        let chunk = vec![b'x'; 64 * 1024];
        // Stops when rolecall closes the pipe; 64 MiB at most.
        for _ in 0..1024 {
            if stdin.write_all(&chunk).is_err() {
                break;
            }
        }
    });
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("password"));
    assert_eq!(db.user("alice")["has_password"], false);
}

// ---- 16. --read-only needs no write access anywhere -----------------------------

#[test]
fn read_only_opens_a_file_in_a_folder_it_cannot_write() {
    if sqlite_only("file permissions") {
        return;
    }
    let db = Db::with_owner();
    let folder = db.dir().join("locked");
    fs::create_dir(&folder).unwrap();
    let file = folder.join("rolecall.db");
    fs::copy(db.path(), &file).unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
    fs::set_permissions(&folder, fs::Permissions::from_mode(0o555)).unwrap();
    fs::set_permissions(db.dir(), fs::Permissions::from_mode(0o755)).unwrap();
    let root = unsafe { libc_geteuid() } == 0;
    // Root writes anywhere, so as root the run drops to the `nobody` account.
    let mut cmd = if root {
        let mut c = std::process::Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN]);
        c
    } else {
        std::process::Command::new(BIN)
    };
    let out = cmd
        .arg("--db")
        .arg(&file)
        .args(["--read-only", "users", "list"])
        .env("HOME", "/nonexistent")
        .output()
        .unwrap();
    fs::set_permissions(&folder, fs::Permissions::from_mode(0o755)).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if root && stderr.contains("setpriv") {
        panic!("setpriv is needed to run this test as root: {stderr}");
    }
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("alice"));
    assert_eq!(
        fs::read_dir(&folder).unwrap().count(),
        1,
        "no -wal or -shm made"
    );
}

unsafe extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

// ---- 19. A mistyped --db is noticed ------------------------------------------

#[test]
fn reading_commands_never_create_a_database() {
    let db = Db::empty();
    for args in [
        &["users", "list"][..],
        &["users", "show", "alice"],
        &["roles", "list"],
        &["roles", "show", "Read Only"],
        &["check", "alice", "contacts.view"],
        &["audit"],
        &["export"],
        &["catalog", "show"],
        &["import", "/nonexistent.json", "--dry-run"],
    ] {
        let run = db.run(args);
        run.expect_code(4);
        assert!(
            run.stderr.contains("no database at")
                || run.stderr.contains("no rolecall database at")
                    && run
                        .stderr
                        .contains("it is created when you first open the console"),
            "{args:?}: {}",
            run.stderr
        );
        assert!(!db.has_database(), "{args:?} created the database");
    }
    db.ok(&["roles", "create", "First"]);
    assert!(db.has_database(), "a writing command creates it");
}

#[test]
fn a_postgres_url_that_cannot_work_is_refused_clearly() {
    let db = Db::empty();
    let out = command(db.dir())
        .args([
            "--db",
            "postgres://app:secret@localhost/rolecall?sslmode=sometimes",
            "roles",
            "list",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("rolecall: db:") && stderr.contains("sslmode"),
        "{stderr}"
    );
    assert!(!stderr.contains("secret"), "{stderr}");
    assert!(!Path::new("postgres:").exists());
}

// ---- 20. Small ones ---------------------------------------------------------------

#[test]
fn an_empty_rolecall_db_means_the_default_file() {
    let db = Db::empty();
    let out = command(db.dir())
        .env("ROLECALL_DB", "")
        .args(["roles", "create", "Here"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(db.dir().join("xdg-data/rolecall/rolecall.db").exists());
}

#[test]
fn errors_quote_at_most_200_characters_of_the_input() {
    let db = Db::with_owner();
    let long = "R".repeat(5000);
    for args in [
        &["roles", "show", &long][..],
        &["users", "show", &long],
        &["check", "alice", &long],
        &["roles", "create", &long],
    ] {
        let run = db.run(args);
        assert_ne!(run.code, 0);
        assert!(run.stderr.chars().count() < 400, "{}", run.stderr.len());
    }
}

#[test]
fn check_matches_usernames_exactly_as_the_view_does() {
    let db = Db::with_owner();
    let run = db.run(&["check", " ALICE ", "contacts.view"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("did you mean \"alice\""),
        "{}",
        run.stderr
    );
    let rows: i64 = db.sql_strings(
        "SELECT CAST(count(*) AS TEXT) FROM user_permissions WHERE username = ' ALICE '",
        &[],
    )[0]
    .parse()
    .unwrap();
    assert_eq!(rows, 0, "the view agrees: nobody by that name");
    db.run(&["check", "alice", "contacts.view"]).expect_code(0);
}

// ---- The upgrade from schema 1 ----------------------------------------------------

/// A copy of the file written by the schema-1 build, in its own folder.
fn schema1_copy() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rolecall.db");
    fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/schema1.db"),
        &path,
    )
    .unwrap();
    (dir, path)
}

#[test]
fn a_schema_1_file_is_upgraded_and_every_check_answer_stays_the_same() {
    let (_dir, path) = schema1_copy();
    let expected: std::collections::BTreeSet<(String, String)> = fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/schema1.allowed.txt"),
    )
    .unwrap()
    .lines()
    .map(|l| {
        let (u, k) = l.split_once(' ').unwrap();
        (u.to_string(), k.to_string())
    })
    .collect();
    let before_ids: Vec<(i64, String)> = {
        let conn = Connection::open(&path).unwrap();
        let mut stmt = conn
            .prepare("SELECT id, username FROM users ORDER BY id")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    };
    let audit_before: i64 = Connection::open(&path)
        .unwrap()
        .query_row("SELECT count(*) FROM audit", [], |r| r.get(0))
        .unwrap();

    let mut store = Store::open(&path, Access::ReadWrite).unwrap();
    let users: Vec<String> = store
        .users(None)
        .unwrap()
        .into_iter()
        .map(|u| u.username)
        .collect();
    let leaves: Vec<String> = (0..store.catalog().leaf_count())
        .map(|o| store.catalog().leaf_node(o).key.clone())
        .collect();
    let mut allowed = std::collections::BTreeSet::new();
    for u in &users {
        for k in &leaves {
            if store.check(u, k).unwrap().allowed {
                allowed.insert((u.clone(), k.clone()));
            }
        }
    }
    assert_eq!(
        allowed, expected,
        "every check answer is the one schema 1 gave"
    );
    assert!(
        store
            .verify_password("ben.popescu11", "secret-password")
            .unwrap()
    );
    assert_eq!(store.audit_count().unwrap() as i64, audit_before);
    assert_eq!(
        store.role("5").unwrap().name,
        "5",
        "a role named with digits keeps its name"
    );

    // Ids stay, and none handed out before (zed, 41, added and removed) comes back.
    let conn = Connection::open(&path).unwrap();
    let mut stmt = conn
        .prepare("SELECT id, username FROM users ORDER BY id")
        .unwrap();
    let after_ids: Vec<(i64, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(after_ids, before_ids);
    store.set_actor("tester");
    let zed = store
        .add_user(rolecall::store::NewUser {
            username: "zed".into(),
            profile: rolecall::domain::user::Profile {
                email: "zed@example.com".into(),
                ..Default::default()
            },
            role: None,
            password: None,
            packages: Default::default(),
        })
        .unwrap();
    assert!(
        zed.id > 41,
        "id {} was handed out before the upgrade",
        zed.id
    );
    store.create_role("Fresh", "", None).unwrap();
    assert!(
        store.role("Fresh").unwrap().id > 8,
        "role 8 (Temp) was deleted before"
    );
}

/// A schema-5 file whose Administrator lacks a leaf another program inserted (the
/// builds before version 6 had no trigger for it): `--read-only` refuses it and leaves
/// it as it was; the first other open upgrades it, completes Administrator and keeps
/// it complete.
#[test]
fn the_upgrade_to_6_gives_administrator_the_leaves_another_program_added() {
    if sqlite_only("the file's schema version (tests/postgres.rs has PostgreSQL's)") {
        return;
    }
    let db = Db::with_owner();
    {
        let conn = db.conn_rw();
        conn.execute_batch(
            "DROP TRIGGER permissions_builtin_holds; \
             DROP TRIGGER permissions_builtin_holds_delete; \
             DROP TRIGGER role_grants_builtin_keeps; \
             INSERT INTO permissions (key, parent, label, position) \
             VALUES ('contacts.archive', 'contacts', 'Archive', 1000); \
             DELETE FROM role_grants WHERE permission_key = 'contacts.view'; \
             PRAGMA user_version = 5;",
        )
        .unwrap();
    }
    let before = fs::read(db.path()).unwrap();
    let run = db.run(&["--read-only", "check", "alice", "contacts.archive"]);
    run.expect_code(4);
    assert!(
        run.stderr.contains("needs upgrading to schema version 6"),
        "{}",
        run.stderr
    );
    assert_eq!(
        fs::read(db.path()).unwrap(),
        before,
        "the refused file is as it was"
    );

    for leaf in ["contacts.archive", "contacts.view"] {
        db.run(&["check", "alice", leaf]).expect_code(0);
    }
    let version: i64 = db
        .conn()
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, 6);
    let leaves = all_leaf_keys(&db.catalog());
    assert_eq!(sorted(&db.granted("Administrator")), leaves);
    assert_eq!(db.view_grants("alice"), leaves);
    // And kept complete from now on.
    db.sql_exec(
        "INSERT INTO permissions (key, parent, label, position) VALUES ('contacts.stamp', 'contacts', 'Stamp', 1001)",
        &[] as &[&str],
    );
    db.run(&["check", "alice", "contacts.stamp"]).expect_code(0);
}

// ---- 21. The CLI says what it does -------------------------------------------------

#[test]
fn every_argument_has_a_help_line() {
    fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
        for arg in cmd.get_arguments() {
            let id = arg.get_id().as_str();
            if matches!(id, "help" | "version") {
                continue;
            }
            if arg.get_help().is_none() && arg.get_long_help().is_none() {
                missing.push(format!("{path} {id}"));
            }
        }
        for sub in cmd.get_subcommands() {
            walk(sub, &format!("{path} {}", sub.get_name()), missing);
        }
    }
    let mut missing = Vec::new();
    walk(&rolecall::cli::command(), "rolecall", &mut missing);
    assert!(missing.is_empty(), "arguments without help: {missing:#?}");
}

#[test]
fn help_names_the_exit_codes_and_the_default_database() {
    let db = Db::empty();
    for args in [
        &["--help"][..],
        &["users", "add", "--help"],
        &["check", "--help"],
        &["users", "-h"],
        &["help", "roles", "grant"],
    ] {
        let out = command(db.dir()).args(args).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Exit status:"), "{args:?}: {text}");
        assert!(text.contains("  3  refused by a rule"), "{args:?}: {text}");
        assert!(
            text.contains("xdg-data/rolecall/rolecall.db"),
            "{args:?} names the default file: {text}"
        );
    }
    let out = command(db.dir()).arg("man").output().unwrap();
    let page = String::from_utf8_lossy(&out.stdout);
    for section in [
        ".SH \"EXIT STATUS\"",
        ".SH ENVIRONMENT",
        ".SH FILES",
        ".SH \"CONSOLE KEYS\"",
    ] {
        assert!(page.contains(section), "man has {section}");
    }
    for name in ["ROLECALL_DB", "NO_COLOR", "SUDO_USER", "SSH_CONNECTION"] {
        assert!(page.contains(name), "man names {name}");
    }
    for binding in rolecall::tui::keys::bindings() {
        assert!(
            page.contains(&binding.what.replace('-', "\\-")),
            "man lists the console key {} ({})",
            binding.label,
            binding.what
        );
    }
}

// ---- 22. --json is honoured or refused; audit filters -------------------------

#[test]
fn json_on_a_change_prints_the_resulting_object() {
    let db = Db::with_owner();
    let bob = db.json(&["users", "add", "bob", "--email", "bob@example.com"]);
    assert_eq!(bob["username"], "bob");
    assert_eq!(bob["role"], "Read Only");
    let bob = db.json(&["users", "set", "bob", "--position", "Clerk"]);
    assert_eq!(bob["position"], "Clerk");
    let role = db.json(&["roles", "create", "Support"]);
    assert_eq!(
        (role["name"].as_str(), role["default"].as_bool()),
        (Some("Support"), Some(false))
    );
    let role = db.json(&["roles", "grant", "Support", "triggers"]);
    assert_eq!(role["granted_count"], 3);
    let role = db.json(&["roles", "set-default", "Support"]);
    assert_eq!(role["default"], true);
    let list = db.json(&["roles", "list"]);
    let defaults: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["default"] == true)
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(defaults, ["Support"]);
    let gone = db.json(&["users", "remove", "bob"]);
    assert_eq!(
        (gone["username"].as_str(), gone["removed"].as_bool()),
        (Some("bob"), Some(true))
    );
    db.ok(&["roles", "set-default", "Read Only"]);
    let deleted = db.json(&["roles", "delete", "Support"]);
    assert_eq!(deleted["deleted"], "Support");
}

#[test]
fn json_where_no_json_is_printed_is_refused() {
    let db = Db::with_owner();
    for args in [
        &["completions", "bash", "--json"][..],
        &["man", "--json"],
        &["export", "--format", "csv", "--json"],
        &["demo", "--no-tui", "--json"],
    ] {
        let run = db.run(args);
        assert_field_error(&run, 2, "json");
    }
}

#[test]
fn audit_filters_by_actor_action_target_and_time_and_keeps_values_whole() {
    let db = Db::with_owner();
    db.run_env(&["roles", "create", "Support"], &[("USER", "mallory")])
        .expect_code(0);
    let long = "d".repeat(300);
    db.run_env(
        &["roles", "describe", "Support", &long],
        &[
            ("USER", "mallory"),
            ("SSH_CONNECTION", "10.0.0.9 5555 10.0.0.1 22"),
        ],
    )
    .expect_code(0);
    db.ok(&["users", "add", "bob", "--email", "bob@example.com"]);

    let rows = db.json(&["audit", "--actor", "mallory"]);
    let actions: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["role.update", "role.create"],
        "both, with and without an address"
    );
    let rows = db.json(&["audit", "--action", "user"]);
    assert!(
        rows.as_array()
            .unwrap()
            .iter()
            .all(|r| r["action"].as_str().unwrap().starts_with("user."))
    );
    assert_eq!(
        db.json(&["audit", "--target", "bob"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        db.json(&["audit", "--since", "2999-01-01"])
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert!(
        db.json(&["audit", "--since", "2000-01-01"])
            .as_array()
            .unwrap()
            .len()
            > 3
    );
    assert_field_error(&db.run(&["audit", "--since", "last week"]), 2, "since");
    assert_eq!(
        db.json(&["audit", "--actor", "%"])
            .as_array()
            .unwrap()
            .len(),
        0
    );

    // Piped, the text table keeps the whole description.
    let text = db.ok(&["audit", "--target", "Support"]);
    assert!(text.contains(&long), "{text}");
}

// ---- 13. Text that is not UTF-8 is shown, not fatal -------------------------------

#[test]
fn the_console_opens_and_draws_a_database_holding_bytes_that_are_not_utf8() {
    if sqlite_only("text that is not UTF-8, which PostgreSQL refuses to store") {
        return;
    }
    let db = Db::with_owner();
    db.ok(&["users", "add", "bob", "--email", "bob@example.com"]);
    {
        let conn = db.conn_rw();
        for sql in [
            "UPDATE users SET first_name = CAST(x'fffe41' AS TEXT) WHERE username = 'bob'",
            "UPDATE roles SET description = CAST(x'80ff' AS TEXT) WHERE name = 'Read Only'",
            "UPDATE permissions SET label = CAST(x'f0908d' AS TEXT) WHERE key = 'contacts.view'",
            "INSERT INTO audit (at, actor, action, target, before, after) VALUES \
             ('2026-01-03T00:00:00Z', CAST(x'ff' AS TEXT), 'role.update', CAST(x'fe41' AS TEXT), NULL, NULL)",
        ] {
            conn.execute(sql, []).unwrap();
        }
    }
    let store = Store::open(db.path(), Access::ReadWrite).unwrap();
    let mut app = rolecall::tui::app::App::new(store, rolecall::tui::theme::Theme::monochrome())
        .expect("the console opens");
    let mut term = ratatui::Terminal::new(ratatui::backend::TestBackend::new(120, 40)).unwrap();
    for tab in ['1', '2', '3'] {
        let key = crossterm::event::KeyEvent::new(
            crossterm::event::KeyCode::Char(tab),
            crossterm::event::KeyModifiers::NONE,
        );
        if let Some(msg) = app.key_to_msg(key) {
            app.update(msg);
        }
        term.draw(|f| rolecall::tui::views::draw(&app, f)).unwrap();
        let screen = term.backend().to_string();
        assert!(!screen.contains('\u{1b}'));
        if tab == '1' {
            assert!(screen.contains("\u{fffd}\u{fffd}A"), "{screen}");
        }
    }
}

#[test]
fn the_upgrade_renames_roles_that_only_invisible_characters_told_apart() {
    let (_dir, path) = schema1_copy();
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute(
            "INSERT INTO roles (name, name_fold, description, builtin, version, created_at, updated_at, updated_by) \
             VALUES (?1, lower(?1), '', 0, 1, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', 'x')",
            ["Administrator\u{e0041}"],
        )
        .unwrap();
    }
    let store = Store::open(&path, Access::ReadWrite).unwrap();
    let names: Vec<String> = store.roles().unwrap().into_iter().map(|r| r.name).collect();
    let renamed: Vec<&String> = names
        .iter()
        .filter(|n| n.starts_with("Administrator (id "))
        .collect();
    assert_eq!(renamed.len(), 1, "{names:?}");
    assert!(
        store.role("Administrator").unwrap().builtin,
        "the real one keeps its name"
    );
    let row = &store.audit(1).unwrap()[0];
    assert_eq!(
        (row.actor.as_str(), row.action.as_str()),
        ("rolecall upgrade", "role.update")
    );
}
