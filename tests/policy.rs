//! Policy as text, on the real binary: `export`, `import`, `catalog load`, the Casbin
//! policy checked by a real Casbin implementation, and `completions`.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::*;
use serde_json::{Value, json};

/// The default catalog file that ships with rolecall.
fn default_catalog_toml() -> String {
    fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/permissions.toml"))
        .expect("the default catalog")
}

/// The default catalog plus a deeper module (module > feature > action) and a
/// relabelled leaf.
fn extended_catalog_toml() -> String {
    let mut text = default_catalog_toml().replace(
        "label = \"Export contacts\"",
        "label = \"Export contacts to CSV\"",
    );
    text.push_str(
        r#"
[[permission]]
key = "reports"
label = "Reports"

[[permission]]
key = "reports.sales"
label = "Sales reports"

[[permission]]
key = "reports.sales.view"
label = "View sales reports"

[[permission]]
key = "reports.sales.export"
label = "Export sales reports"
description = "Download them as CSV"
"#,
    );
    text
}

fn write(db: &Db, name: &str, text: &str) -> PathBuf {
    let path = db.dir().join(name);
    fs::write(&path, text).expect("a test file");
    path
}

fn arg(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

/// A database with a bit of everything: an extended catalog, custom roles (one with a
/// comma, one named like a user), users with every field, a disabled user, and a
/// changed default role. No passwords, so an import elsewhere gives the same export.
fn rich() -> Db {
    let db = Db::with_owner();
    let catalog = write(&db, "catalog.toml", &extended_catalog_toml());
    db.ok(&["catalog", "load", arg(&catalog)]);
    db.ok(&[
        "roles",
        "create",
        "Sales, EMEA",
        "--description",
        "Sales in Europe (and more)",
        "--from",
        "Basic Access",
    ]);
    db.ok(&["roles", "grant", "Sales, EMEA", "reports.sales.view"]);
    db.ok(&["roles", "create", "support"]);
    db.ok(&["roles", "grant", "support", "contacts", "reports"]);
    db.ok(&["roles", "set-default", "Basic Access"]);
    db.ok(&[
        "users",
        "add",
        "bob",
        "--email",
        "Bob@Example.com",
        "--first-name",
        "Bob",
        "--last-name",
        "O'Brien, Jr.",
        "--position",
        "Sales \"lead\"",
        "--signature",
        "Bob\nSales, EMEA",
        "--timezone",
        "Europe/Rome",
        "--language",
        "pt-BR",
        "--role",
        "Sales, EMEA",
    ]);
    db.ok(&[
        "users",
        "add",
        "support",
        "--email",
        "support@example.com",
        "--role",
        "support",
    ]);
    db.ok(&[
        "users",
        "add",
        "carol",
        "--email",
        "carol@example.com",
        "--role",
        "Read Only",
    ]);
    db.ok(&[
        "users",
        "add",
        "dave",
        "--email",
        "dave@example.com",
        "--role",
        "support",
    ]);
    db.ok(&["users", "set", "dave", "--active", "false"]);
    db
}

/// A package named with every character Casbin's readers treat specially.
const HOSTILE_PACKAGE: &str = "Night: ops, (50%) [\"on call\"]";

/// `rich()` plus packages, so that users reach grants every way there is:
/// - direct role only: carol, alice;
/// - one package only (their direct role grants nothing): ivan;
/// - several packages only: judy (in one that includes no role, too);
/// - packages plus a direct role: bob;
/// - disabled, with a direct role and packages: dave, kim.
///
/// The package "support" is named like a user and a role; `HOSTILE_PACKAGE` needs
/// encoding in Casbin; "Empty" includes no role.
fn with_packages(db: Db) -> Db {
    db.ok(&[
        "roles",
        "create",
        "Nothing",
        "--description",
        "Grants nothing",
    ]);
    db.ok(&[
        "packages",
        "create",
        "EU Marketing",
        "--description",
        "Campaigns in Europe",
    ]);
    db.ok(&[
        "packages",
        "add-role",
        "EU Marketing",
        "Sales, EMEA",
        "Read Only",
    ]);
    db.ok(&["packages", "create", "support"]);
    db.ok(&["packages", "add-role", "support", "support"]);
    db.ok(&["packages", "create", HOSTILE_PACKAGE]);
    db.ok(&["packages", "add-role", HOSTILE_PACKAGE, "Basic Access"]);
    db.ok(&["packages", "create", "Empty"]);
    for (user, role) in [("ivan", "Nothing"), ("judy", "Nothing"), ("kim", "Nothing")] {
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
    db.ok(&["packages", "add-user", "EU Marketing", "ivan", "dave"]);
    db.ok(&["packages", "add-user", "support", "judy", "bob", "kim"]);
    db.ok(&["packages", "add-user", HOSTILE_PACKAGE, "judy"]);
    db.ok(&["packages", "add-user", "Empty", "judy"]);
    db.ok(&["users", "set", "kim", "--active", "false"]);
    db
}

fn export_json(db: &Db) -> String {
    db.ok(&["export"])
}

// ---------------------------------------------------------------------------------
// Export
// ---------------------------------------------------------------------------------

#[test]
fn export_json_has_the_documented_shape_and_no_secrets() {
    let db = rich();
    db.run_stdin(
        &["users", "passwd", "carol", "--password-stdin"],
        "a long secret\n",
    )
    .expect_code(0);
    let text = export_json(&db);
    let doc = parse_json(&text).unwrap();
    assert_eq!(doc["format"], "rolecall/2");
    assert_eq!(doc["default_role"], "Basic Access");
    let catalog = doc["catalog"].as_array().unwrap();
    assert_eq!(
        catalog[0],
        json!({"key": "contact_lists", "label": "Contact Lists", "description": "Lists of contacts and the operations on them."})
    );
    assert!(catalog.iter().any(|e| e["key"] == "reports.sales.export"));
    let names: Vec<String> = doc["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| s(&r["name"]))
        .collect();
    let mut sorted_names = names.clone();
    sorted_names.sort_by_key(|n| n.to_lowercase());
    assert_eq!(names, sorted_names, "roles are sorted by name");
    let admin = doc["roles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "Administrator")
        .unwrap();
    assert_eq!(admin["builtin"], true);
    let granted = strings(&admin["granted"]);
    assert_eq!(granted, sorted(&granted));
    assert_eq!(granted.len(), all_leaf_keys(&db.catalog()).len());
    let users = doc["users"].as_array().unwrap();
    let usernames: Vec<String> = users.iter().map(|u| s(&u["username"])).collect();
    assert_eq!(usernames, ["alice", "bob", "carol", "dave", "support"]);
    let carol = &users[2];
    assert_eq!(carol["has_password"], true);
    assert!(!text.contains("argon2"), "no hash is ever exported");
    assert!(!text.contains("a long secret"));
    let mut keys: Vec<String> = users[1].as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        sorted(&[
            "username",
            "email",
            "first_name",
            "last_name",
            "position",
            "signature",
            "timezone",
            "language",
            "role",
            "packages",
            "active",
            "owner",
            "has_password"
        ])
    );
    assert_eq!(users[3]["active"], false);
    assert_eq!(users[0]["owner"], true);
}

#[test]
fn two_exports_of_the_same_data_are_byte_identical_and_o_writes_the_same_bytes() {
    let db = rich();
    let a = export_json(&db);
    let b = export_json(&db);
    assert_eq!(a, b);
    let out = db.dir().join("out.json");
    db.ok(&["export", "--format", "json", "-o", arg(&out)]);
    assert_eq!(fs::read_to_string(&out).unwrap(), a);
    let mode = fs::metadata(&out).unwrap().permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o600,
        "exports hold emails: private"
    );
}

#[test]
fn export_import_into_a_new_database_export_gives_identical_bytes() {
    let db = with_packages(rich());
    let first = export_json(&db);
    assert!(first.contains(HOSTILE_PACKAGE.replace('"', "\\\"").as_str()));
    let file = write(&db, "export.json", &first);
    let other = Db::new();
    other.ok(&["import", arg(&file)]);
    let second = export_json(&other);
    assert_eq!(first, second, "the round trip changes nothing");
    // The CSV and Casbin exports agree too.
    assert_eq!(
        db.ok(&["export", "--format", "csv"]),
        other.ok(&["export", "--format", "csv"])
    );
    let (a, b) = (db.dir().join("casbin-a"), other.dir().join("casbin-b"));
    db.ok(&["export", "--format", "casbin", "-o", arg(&a)]);
    other.ok(&["export", "--format", "casbin", "-o", arg(&b)]);
    assert_eq!(
        fs::read_to_string(a.join("policy.csv")).unwrap(),
        fs::read_to_string(b.join("policy.csv")).unwrap()
    );
    // Packages, their roles and members, and the grants read by the application (which
    // go through packages) agree for every user.
    for package in ["EU Marketing", "support", HOSTILE_PACKAGE, "Empty"] {
        let (x, y) = (
            db.json(&["packages", "show", package]),
            other.json(&["packages", "show", package]),
        );
        for part in ["name", "description", "roles", "members"] {
            assert_eq!(x[part], y[part], "{package}: {part}");
        }
    }
    for user in [
        "alice", "bob", "carol", "dave", "ivan", "judy", "kim", "support",
    ] {
        assert_eq!(db.view_grants(user), other.view_grants(user), "{user}");
    }
    assert!(
        !other.view_grants("ivan").is_empty(),
        "ivan's come from a package"
    );
}

#[test]
fn importing_the_same_file_twice_changes_nothing_the_second_time() {
    let db = with_packages(rich());
    let file = write(&db, "export.json", &export_json(&db));
    let other = Db::new();
    other.ok(&["import", arg(&file)]);
    let after_first = other.dump();
    let out = other.ok(&["import", arg(&file)]);
    assert!(out.starts_with("nothing to change"), "{out}");
    assert_eq!(other.dump(), after_first, "no row and no audit row changes");
    // And into the database it came from.
    let before = db.dump();
    db.ok(&["import", arg(&file)]);
    assert_eq!(db.dump(), before);
}

#[test]
fn export_csv_has_a_header_and_one_quoted_row_per_user() {
    let db = rich();
    let csv = db.ok(&["export", "--format", "csv"]);
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "username,email,first_name,last_name,position,signature,timezone,language,role,active,owner,has_password"
    );
    assert_eq!(
        lines.next().unwrap(),
        "alice,alice@example.com,,,,,UTC,en,Administrator,true,true,false"
    );
    assert!(
        csv.contains("bob,Bob@example.com,Bob,\"O'Brien, Jr.\",\"Sales \"\"lead\"\"\",\"Bob\nSales, EMEA\",Europe/Rome,pt-BR,\"Sales, EMEA\",true,false,false\n"),
        "{csv}"
    );
    assert!(csv.contains("dave,dave@example.com,,,,,UTC,en,support,false,false,false\n"));
    let path = db.dir().join("users.csv");
    db.ok(&["export", "--format", "csv", "-o", arg(&path)]);
    assert_eq!(fs::read_to_string(&path).unwrap(), csv);
}

#[test]
fn export_casbin_needs_a_folder_and_writes_model_and_policy() {
    let db = rich();
    let run = db.run(&["export", "--format", "casbin"]);
    assert_field_error(&run, 2, "output");
    let dir = db.dir().join("casbin");
    db.ok(&["export", "--format", "casbin", "-o", arg(&dir)]);
    let model = fs::read_to_string(dir.join("model.conf")).unwrap();
    assert!(model.contains("r = sub, obj, act"));
    assert!(model.contains("m = g(r.sub, p.sub) && r.obj == p.obj && r.act == p.act"));
    let policy = fs::read_to_string(dir.join("policy.csv")).unwrap();
    assert!(
        policy.contains("p, Read Only, contacts, view\n"),
        "{policy}"
    );
    assert!(
        policy.contains("p, Sales%2C EMEA, reports.sales, view\n"),
        "{policy}"
    );
    assert!(
        policy.contains("p, role:support, reports.sales, export\n"),
        "a role named like a user is set apart"
    );
    assert!(policy.contains("g, alice, Administrator\n"));
    assert!(policy.contains("g, bob, Sales%2C EMEA\n"));
    assert!(policy.contains("g, support, role:support\n"));
    assert!(!policy.contains("g, dave,"), "disabled users get no role");
}

/// A username another program wrote into the database, bypassing validation: in an
/// unencoded `g, <username>, <role>` line it would give "eve" what the user
/// "support" has (lowercase, so that `check` can look it up).
const HOSTILE_USERNAME: &str = "eve, support\ng, carol";
/// The same username as a policy.csv field.
const HOSTILE_SUBJECT: &str = "eve%2C support%0Ag%2C carol";

/// Adds a user through the CLI, then renames them with raw SQL to `username`, as
/// another program writing into the database could.
fn insert_raw_user(db: &Db, username: &str, email: &str, role: &str) {
    db.ok(&[
        "users",
        "add",
        "placeholder",
        "--email",
        email,
        "--role",
        role,
    ]);
    let n = db.sql_exec(
        "UPDATE users SET username = ?1 WHERE username = 'placeholder'",
        &[username],
    );
    assert_eq!(n, 1);
}

#[test]
fn casbin_policy_lines_cannot_be_forged_by_a_stored_username() {
    let db = rich();
    insert_raw_user(&db, HOSTILE_USERNAME, "eve@example.com", "Read Only");
    let dir = db.dir().join("casbin");
    db.ok(&["export", "--format", "casbin", "-o", arg(&dir)]);
    let policy = fs::read_to_string(dir.join("policy.csv")).unwrap();
    let roles: Vec<&str> = policy.lines().filter(|l| l.starts_with("g,")).collect();
    assert_eq!(
        roles,
        [
            "g, alice, Administrator",
            "g, bob, Sales%2C EMEA",
            "g, carol, Read Only",
            &format!("g, {HOSTILE_SUBJECT}, Read Only"),
            "g, support, role:support",
        ],
        "{policy}"
    );
    for line in policy.lines() {
        let fields = line.split(',').count();
        let want = if line.starts_with("p, ") { 4 } else { 3 };
        assert!(
            line.starts_with("p, ") || line.starts_with("g, "),
            "{line:?}"
        );
        assert_eq!(fields, want, "one field per column: {line:?}");
    }
}

// ---------------------------------------------------------------------------------
// Where -o writes
// ---------------------------------------------------------------------------------

/// The kind of file system node at `path`, without following a symbolic link.
fn node_kind(path: &Path) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let Ok(meta) = fs::symlink_metadata(path) else {
        return "missing";
    };
    let t = meta.file_type();
    if t.is_symlink() {
        "symlink"
    } else if t.is_fifo() {
        "fifo"
    } else if t.is_char_device() {
        "char device"
    } else if t.is_dir() {
        "folder"
    } else if t.is_file() {
        "file"
    } else {
        "other"
    }
}

/// A FIFO, a symbolic link, a folder and (where mknod is allowed) a device node,
/// made in `dir` under names starting with `prefix`.
fn special_nodes(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let fifo = dir.join(format!("{prefix}fifo"));
    let status = Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(status.success());
    let target = dir.join(format!("{prefix}target.txt"));
    fs::write(&target, "keep me\n").unwrap();
    let link = dir.join(format!("{prefix}link"));
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let folder = dir.join(format!("{prefix}folder"));
    fs::create_dir(&folder).unwrap();
    let mut nodes = vec![fifo, link, folder];
    // The same device as /dev/null, made here so a failure can never touch /dev.
    let device = dir.join(format!("{prefix}null"));
    let made = Command::new("mknod")
        .arg(&device)
        .args(["c", "1", "3"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if made {
        nodes.push(device);
    } else {
        eprintln!("no device node case: mknod is not allowed here");
    }
    nodes
}

#[test]
fn export_refuses_to_replace_a_symlink_fifo_folder_or_device() {
    let db = rich();
    let nodes = special_nodes(db.dir(), "");
    for format in ["json", "csv"] {
        for node in &nodes {
            let kind = node_kind(node);
            let run = db.run(&["export", "--format", format, "-o", arg(node)]);
            assert_field_error(&run, 2, "output");
            assert_eq!(
                node_kind(node),
                kind,
                "{format} export left {node:?} as it was"
            );
        }
    }
    assert_eq!(
        fs::read_to_string(db.dir().join("target.txt")).unwrap(),
        "keep me\n"
    );
    let names: Vec<String> = fs::read_dir(db.dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !names.iter().any(|n| n.ends_with(".tmp")),
        "no temporary file is left behind: {names:?}"
    );

    // The Casbin folder's two files follow the same rule.
    let dir = db.dir().join("casbin");
    fs::create_dir(&dir).unwrap();
    let nodes = special_nodes(&dir, "");
    for (i, name) in ["policy.csv", "model.conf"].iter().enumerate() {
        for node in &nodes {
            let path = dir.join(name);
            let _ = fs::remove_file(&path);
            if node_kind(node) == "folder" {
                continue;
            }
            // Each special node in turn takes the file's name.
            fs::rename(node, &path).unwrap();
            let kind = node_kind(&path);
            let run = db.run(&["export", "--format", "casbin", "-o", arg(&dir)]);
            assert_field_error(&run, 2, "output");
            assert_eq!(node_kind(&path), kind, "{name} left as it was (case {i})");
            fs::rename(&path, node).unwrap();
        }
    }
}

#[test]
fn export_into_a_file_with_several_hard_links_rewrites_it_in_place() {
    use std::os::unix::fs::MetadataExt;
    let db = rich();
    let first = db.dir().join("export.json");
    let second = db.dir().join("export-link.json");
    fs::write(&first, "old\n").unwrap();
    fs::hard_link(&first, &second).unwrap();
    let inode = fs::metadata(&first).unwrap().ino();
    db.ok(&["export", "-o", arg(&first)]);
    let text = export_json(&db);
    assert_eq!(fs::read_to_string(&first).unwrap(), text);
    assert_eq!(
        fs::read_to_string(&second).unwrap(),
        text,
        "the other name sees the export too"
    );
    assert_eq!(fs::metadata(&first).unwrap().ino(), inode);
    assert_eq!(fs::metadata(&second).unwrap().nlink(), 2);

    // A file with one name is replaced, and a new one is private.
    let single = db.dir().join("single.csv");
    fs::write(&single, "old\n").unwrap();
    db.ok(&["export", "--format", "csv", "-o", arg(&single)]);
    assert!(
        fs::read_to_string(&single)
            .unwrap()
            .starts_with("username,")
    );
    let fresh = db.dir().join("fresh.csv");
    db.ok(&["export", "--format", "csv", "-o", arg(&fresh)]);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        fs::metadata(&fresh).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

// ---------------------------------------------------------------------------------
// Casbin: a real implementation must agree with `check`
// ---------------------------------------------------------------------------------

const PYCASBIN: &str = r#"
import json, sys
import casbin
model, policy = sys.argv[1], sys.argv[2]
enforcer = casbin.Enforcer(model, policy)
queries = json.load(sys.stdin)
json.dump([bool(enforcer.enforce(u, o, a)) for u, o, a in queries], sys.stdout)
"#;

/// True when `python3 -c "import casbin"` works.
fn pycasbin_available() -> bool {
    Command::new("python3")
        .args(["-c", "import casbin"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn casbin_export_gives_the_same_answers_as_check_for_every_user_and_leaf() {
    if !pycasbin_available() {
        let why = "python3 with the casbin package is needed (python3 -m pip install casbin)";
        if std::env::var_os("CI").is_some() {
            panic!("{why}; .ci/run installs it");
        }
        eprintln!("SKIPPED casbin_export_gives_the_same_answers_as_check: {why}");
        return;
    }
    // Users reach grants through a direct role only, one package, several packages,
    // packages plus a direct role; some are disabled (see `with_packages`).
    let db = with_packages(rich());
    // A top-level leaf, so that an empty category key is exercised too.
    let mut toml = extended_catalog_toml();
    toml.push_str("\n[[permission]]\nkey = \"beta\"\nlabel = \"Beta features\"\n");
    let catalog = write(&db, "catalog2.toml", &toml);
    db.ok(&["catalog", "load", arg(&catalog)]);
    db.ok(&["roles", "grant", "support", "beta"]);
    db.ok(&["roles", "create", "Ops (night) [50%]: \"on call\""]);
    db.ok(&[
        "roles",
        "grant",
        "Ops (night) [50%]: \"on call\"",
        "triggers",
        "beta",
    ]);
    db.ok(&[
        "users",
        "add",
        "erin",
        "--email",
        "erin@example.com",
        "--role",
        "Ops (night) [50%]: \"on call\"",
    ]);
    db.ok(&[
        "users",
        "add",
        "frank",
        "--email",
        "frank@example.com",
        "--role",
        "Full Access",
    ]);
    // Written by another program: unencoded, it would give "eve" support's grants.
    insert_raw_user(&db, HOSTILE_USERNAME, "eve@example.com", "Read Only");
    // A package whose role is named like a user, and a user in it besides her role.
    db.ok(&["packages", "add-role", "EU Marketing", "support"]);
    db.ok(&["packages", "add-user", "EU Marketing", "erin"]);
    // A user with no direct role: packages only.
    db.ok(&[
        "users",
        "add",
        "gina",
        "--email",
        "gina@example.com",
        "--role",
        "none",
    ]);
    db.ok(&["packages", "add-user", "EU Marketing", "gina"]);
    let dir = db.dir().join("casbin");
    db.ok(&["export", "--format", "casbin", "-o", arg(&dir)]);
    let policy = fs::read_to_string(dir.join("policy.csv")).unwrap();
    for line in [
        "g, ivan, package:EU Marketing",
        "g, package:EU Marketing, role:support",
        "g, package:support, role:support",
        "g, judy, package:Night%3A ops%2C %2850%25%29 %5B%22on call%22%5D",
        "g, bob, Sales%2C EMEA",
        "g, bob, package:support",
    ] {
        assert!(
            policy.lines().any(|l| l == line),
            "no {line:?} in:\n{policy}"
        );
    }
    for disabled in ["dave", "kim"] {
        assert!(
            !policy
                .lines()
                .any(|l| l.starts_with(&format!("g, {disabled},"))),
            "{disabled} is disabled: no g line\n{policy}"
        );
    }

    let users = [
        "alice",
        "bob",
        "carol",
        "dave",
        "erin",
        "frank",
        "gina",
        "ivan",
        "judy",
        "kim",
        "support",
        HOSTILE_USERNAME,
        "nobody",
        "eve",
    ];
    // The subject Casbin knows a user by: the username as a policy.csv field.
    let subject = |user: &'static str| -> &'static str {
        if user == HOSTILE_USERNAME {
            HOSTILE_SUBJECT
        } else {
            user
        }
    };
    let leaves = all_leaf_keys(&db.catalog());
    assert!(leaves.contains(&"beta".to_string()));
    let mut queries = Vec::new();
    for user in users {
        for leaf in &leaves {
            let (obj, act) = leaf.rsplit_once('.').unwrap_or(("", leaf));
            queries.push(json!([subject(user), obj, act]));
        }
    }
    let script = db.dir().join("enforce.py");
    fs::write(&script, PYCASBIN).unwrap();
    let mut child = Command::new("python3")
        .arg(&script)
        .arg(dir.join("model.conf"))
        .arg(dir.join("policy.csv"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(Value::Array(queries.clone()).to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "pycasbin failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answers: Vec<bool> = serde_json::from_slice(&out.stdout).expect("pycasbin's answers");
    assert_eq!(answers.len(), queries.len());

    let mut allowed = 0;
    let mut i = 0;
    for user in users {
        for leaf in &leaves {
            let check = if user == "nobody" || user == "eve" {
                false
            } else {
                match db.run(&["check", user, leaf]).code {
                    0 => true,
                    1 => false,
                    other => panic!("check {user} {leaf} exited {other}"),
                }
            };
            assert_eq!(
                answers[i], check,
                "casbin and check disagree on {user} {leaf}"
            );
            allowed += check as usize;
            i += 1;
        }
    }
    assert!(
        allowed > leaves.len(),
        "the comparison covers allowed answers too"
    );
    // Every way in is exercised: ivan and judy hold only what packages give.
    for user in ["ivan", "judy"] {
        assert!(!db.view_grants(user).is_empty(), "{user} reaches grants");
    }
}

// ---------------------------------------------------------------------------------
// Malformed files
// ---------------------------------------------------------------------------------

/// A small valid export to break in different ways.
fn small_export(db: &Db) -> Value {
    parse_json(&export_json(db)).unwrap()
}

fn assert_refused(db: &Db, name: &str, text: &str, code: i32, needle: &str) {
    let before = db.dump();
    let file = write(db, name, text);
    for args in [
        vec!["import", arg(&file)],
        vec!["import", arg(&file), "--dry-run"],
    ] {
        let run = db.run(&args);
        run.expect_code(code);
        assert!(
            run.stderr.contains(needle),
            "{name}: stderr should name {needle:?}:\n{}",
            run.stderr
        );
        assert_eq!(
            run.stderr.trim_end().lines().count(),
            1,
            "{name}: one line: {}",
            run.stderr
        );
        assert!(
            run.stdout.is_empty(),
            "{name}: nothing printed on stdout: {}",
            run.stdout
        );
    }
    assert_eq!(db.dump(), before, "{name}: the database is unchanged");
}

#[test]
fn malformed_files_are_refused_with_exit_2_a_location_and_no_change() {
    let db = rich();
    let good = small_export(&db);
    let good_text = serde_json::to_string_pretty(&good).unwrap();
    let edit = |f: &dyn Fn(&mut Value)| {
        let mut v = good.clone();
        f(&mut v);
        serde_json::to_string_pretty(&v).unwrap()
    };
    let user_index = |v: &Value, name: &str| {
        v["users"]
            .as_array()
            .unwrap()
            .iter()
            .position(|u| u["username"] == name)
            .unwrap()
    };
    let bob = user_index(&good, "bob");
    let carol = user_index(&good, "carol");
    let role_index = |v: &Value, name: &str| {
        v["roles"]
            .as_array()
            .unwrap()
            .iter()
            .position(|r| r["name"] == name)
            .unwrap()
    };
    let support = role_index(&good, "support");
    let cases: Vec<(&str, String, String)> = vec![
        (
            "truncated",
            good_text[..good_text.len() / 2].to_string(),
            "import: line ".into(),
        ),
        (
            "not json",
            "format = \"rolecall/1\"\n".into(),
            "import: line 1, column 2: expected ident".into(),
        ),
        ("an array", "[1, 2]".into(), "line 1, column".into()),
        (
            "wrong format tag",
            edit(&|v| v["format"] = json!("rolecall/9")),
            "import: format: \"rolecall/9\" is not a format".into(),
        ),
        (
            "no format tag",
            edit(&|v| {
                v.as_object_mut().unwrap().remove("format");
            }),
            "import: format: missing".into(),
        ),
        (
            "wrong type",
            edit(&|v| v["users"][bob]["active"] = json!("yes")),
            format!("import: users[{bob}].active: invalid type: string \"yes\", expected a boolean (line "),
        ),
        (
            "wrong type for a list",
            edit(&|v| v["roles"][support]["granted"] = json!("contacts.add")),
            format!("import: roles[{support}].granted: invalid type"),
        ),
        (
            "unknown field",
            edit(&|v| v["users"][bob]["emial"] = json!("x@example.com")),
            format!("import: users[{bob}].emial: unknown field `emial`"),
        ),
        (
            "unknown permission",
            edit(&|v| v["roles"][support]["granted"].as_array_mut().unwrap().insert(1, json!("contacts.fly"))),
            format!("import: roles[{support}].granted[1]: \"contacts.fly\" is not a permission"),
        ),
        (
            "category granted",
            edit(&|v| v["roles"][support]["granted"] = json!(["contacts"])),
            format!("import: roles[{support}].granted[0]: \"contacts\" is a category"),
        ),
        (
            "duplicate usernames",
            edit(&|v| {
                let copy = v["users"][bob].clone();
                v["users"].as_array_mut().unwrap().push(copy);
            }),
            format!("import: users[5].username: \"bob\" is listed twice (also users[{bob}])"),
        ),
        (
            "duplicate role names ignoring case",
            edit(&|v| {
                let mut copy = v["roles"][support].clone();
                copy["name"] = json!("SUPPORT");
                v["roles"].as_array_mut().unwrap().push(copy);
            }),
            "is listed twice".into(),
        ),
        (
            "bad email",
            edit(&|v| v["users"][bob]["email"] = json!("bob-at-example")),
            format!("import: users[{bob}].email: \"bob-at-example\" is not a valid email address"),
        ),
        (
            "duplicate email",
            edit(&|v| v["users"][bob]["email"] = json!("CAROL@example.com")),
            format!(
                "import: users[{carol}].email: \"carol@example.com\" is already the email of users[{bob}] (\"bob\")"
            ),
        ),
        (
            "bad username",
            edit(&|v| v["users"][bob]["username"] = json!("Bob Smith")),
            format!("import: users[{bob}].username:"),
        ),
        (
            "bad time zone",
            edit(&|v| v["users"][bob]["timezone"] = json!("Mars/Olympus")),
            format!("import: users[{bob}].timezone:"),
        ),
        (
            "unknown role for a user",
            edit(&|v| v["users"][bob]["role"] = json!("Ghosts")),
            format!("import: users[{bob}].role: there is no role \"Ghosts\""),
        ),
        (
            "unknown default role",
            edit(&|v| v["default_role"] = json!("Ghosts")),
            "import: default_role: there is no role \"Ghosts\"".into(),
        ),
        (
            "bad role name",
            edit(&|v| v["roles"][support]["name"] = json!("   ")),
            format!("import: roles[{support}].name:"),
        ),
        (
            "missing parent in the catalog",
            edit(&|v| {
                v["catalog"].as_array_mut().unwrap().insert(0, json!({"key": "orphans.one", "label": "One"}));
            }),
            "import: catalog[0]: the parent \"orphans\" of \"orphans.one\" must be listed before it".into(),
        ),
        (
            "badly formed catalog key",
            edit(&|v| v["catalog"].as_array_mut().unwrap().push(json!({"key": "Bad Key", "label": "x"}))),
            "import: catalog[".into(),
        ),
        (
            "duplicate catalog key",
            edit(&|v| {
                let first = v["catalog"][0].clone();
                v["catalog"].as_array_mut().unwrap().push(first);
            }),
            "key \"contact_lists\" is listed twice".into(),
        ),
        (
            "two owners",
            edit(&|v| v["users"][bob]["owner"] = json!(true)),
            format!("import: users[{bob}].owner: only one user can be the owner"),
        ),
        (
            "new user without email",
            edit(&|v| v["users"].as_array_mut().unwrap().push(json!({"username": "zed"}))),
            "import: users[5].email: is required for a new user".into(),
        ),
        (
            "a role pretending to be built in",
            edit(&|v| v["roles"][support]["builtin"] = json!(true)),
            format!("import: roles[{support}].builtin: only the Administrator role is built in"),
        ),
    ];
    assert!(cases.len() >= 10);
    for (name, text, needle) in &cases {
        assert_refused(&db, name, text, 2, needle);
    }
}

#[test]
fn a_file_that_breaks_a_rule_is_refused_with_exit_3_and_no_change() {
    let db = rich();
    let good = small_export(&db);
    let admin = good["roles"]
        .as_array()
        .unwrap()
        .iter()
        .position(|r| r["name"] == "Administrator")
        .unwrap();
    let alice = good["users"]
        .as_array()
        .unwrap()
        .iter()
        .position(|u| u["username"] == "alice")
        .unwrap();
    let edit = |f: &dyn Fn(&mut Value)| {
        let mut v = good.clone();
        f(&mut v);
        serde_json::to_string_pretty(&v).unwrap()
    };
    assert_refused(
        &db,
        "fewer for Administrator",
        &edit(&|v| {
            v["roles"][admin]["granted"].as_array_mut().unwrap().pop();
        }),
        3,
        &format!("rolecall: roles[{admin}]: role \"Administrator\" is built in"),
    );
    assert_refused(
        &db,
        "Administrator described",
        &edit(&|v| v["roles"][admin]["description"] = json!("mine now")),
        3,
        &format!("roles[{admin}].description: role \"Administrator\" is built in"),
    );
    assert_refused(
        &db,
        "owner disabled",
        &edit(&|v| v["users"][alice]["active"] = json!(false)),
        3,
        &format!("rolecall: users[{alice}]: \"alice\" is the owner and cannot be disabled"),
    );
    assert_refused(
        &db,
        "owner moved off Administrator",
        &edit(&|v| v["users"][alice]["role"] = json!("Read Only")),
        3,
        "is the owner and must keep the Administrator role",
    );
}

#[test]
fn read_only_refuses_an_import_but_allows_a_dry_run_and_export() {
    let db = rich();
    let file = write(&db, "export.json", &export_json(&db));
    let other = Db::new();
    let before = other.dump();
    other
        .run(&["--read-only", "import", arg(&file)])
        .expect_code(3);
    other.ok(&["--read-only", "import", arg(&file), "--dry-run"]);
    other.ok(&["--read-only", "export"]);
    assert_eq!(other.dump(), before);
}

// ---------------------------------------------------------------------------------
// Dry runs, and what import does to what it finds
// ---------------------------------------------------------------------------------

#[test]
fn dry_run_changes_nothing_and_lists_what_the_real_run_then_does() {
    let db = rich();
    let mut doc = small_export(&db);
    // Into a database that already has some of it, differently.
    let other = Db::with_owner();
    other.ok(&[
        "users",
        "add",
        "carol",
        "--email",
        "carol@old.example.com",
        "--role",
        "Full Access",
    ]);
    other.ok(&["users", "add", "zoe", "--email", "zoe@example.com"]);
    other.ok(&["roles", "revoke", "Read Only", "statistics"]);
    other.ok(&["roles", "create", "Leftover"]);
    doc["roles"]
        .as_array_mut()
        .unwrap()
        .retain(|r| r["name"] != "Basic Access");
    let file = write(
        &db,
        "plan.json",
        &serde_json::to_string_pretty(&doc).unwrap(),
    );

    let before = other.dump();
    let text = other.ok(&["import", arg(&file), "--dry-run"]);
    assert_eq!(other.dump(), before, "a dry run changes nothing");
    for line in [
        "catalog: 4 added, 1 relabelled, 0 pruned",
        "  add       reports.sales.view  \"View sales reports\"",
        "  relabel   contacts.export  label \"Export contacts\" → \"Export contacts to CSV\"",
        "  Administrator gains 2 permissions",
        "roles: 2 added, 1 changed, 3 unchanged",
        "  add       \"Sales, EMEA\"  (6 of 69 permissions)",
        "  unchanged \"Administrator\"",
        "users: 3 added, 1 changed, 1 unchanged",
        "  add       bob  (role \"Sales, EMEA\")",
        "  add       dave  (role \"support\", disabled)",
        "  unchanged alice",
        "default role: \"Read Only\" → \"Basic Access\"",
        "not in the file, left as they are: 1 user and 2 roles (\"Basic Access\", \"Leftover\")",
        "dry run: nothing was changed; run without --dry-run to apply the changes above",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in:\n{text}"
        );
    }
    assert!(
        text.lines()
            .any(|l| l.starts_with("  change    \"Read Only\"  grant statistics.")),
        "{text}"
    );
    assert!(text.contains(
        "  change    carol  email: \"carol@old.example.com\" → \"carol@example.com\"; role: \"Full Access\" → \"Read Only\""
    ), "{text}");

    // The JSON plan of the dry run is exactly what the real run reports doing.
    let dry = other
        .run(&["import", arg(&file), "--dry-run", "--json"])
        .expect_code(0)
        .json();
    assert_eq!(other.dump(), before);
    let real = other
        .run(&["import", arg(&file), "--json"])
        .expect_code(0)
        .json();
    assert_eq!(dry["dry_run"], true);
    assert_eq!(real["dry_run"], false);
    for part in [
        "catalog",
        "roles",
        "users",
        "default_role",
        "not_in_file",
        "notes",
        "changes",
    ] {
        assert_eq!(dry[part], real[part], "{part}");
    }
    // ... and the database now holds it.
    assert_eq!(s(&other.user("carol")["role"]), "Read Only");
    assert_eq!(s(&other.user("carol")["email"]), "carol@example.com");
    assert_eq!(other.user("dave")["active"], false);
    assert_eq!(
        other.json(&["roles", "show", "support"])["granted"],
        db.json(&["roles", "show", "support"])["granted"]
    );
    assert!(
        other
            .granted("Administrator")
            .contains(&"reports.sales.export".to_string())
    );
    // Left alone: zoe, Leftover, Basic Access.
    assert_eq!(s(&other.user("zoe")["role"]), "Read Only");
    other.ok(&["roles", "show", "Leftover"]);
    // A second dry run now says there is nothing to do.
    let again = other.ok(&["import", arg(&file), "--dry-run"]);
    assert!(
        again.contains("dry run: the database already matches the file"),
        "{again}"
    );
}

#[test]
fn import_writes_one_audit_row_per_change_and_a_summary() {
    let db = rich();
    let file = write(&db, "export.json", &export_json(&db));
    let other = Db::new();
    let before = other.audit_rows();
    other.ok(&["import", arg(&file)]);
    let audit = other.json(&["audit", "--limit", "100"]);
    let actions: Vec<String> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|a| s(&a["action"]))
        .collect();
    assert_eq!(actions[0], "import", "the summary comes last");
    assert_eq!(
        actions.iter().filter(|a| *a == "import.user.add").count(),
        5
    );
    assert_eq!(
        actions.iter().filter(|a| *a == "import.role.add").count(),
        2
    );
    assert_eq!(actions.iter().filter(|a| *a == "import.catalog").count(), 1);
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "import.default_role")
            .count(),
        1
    );
    assert!(
        actions.contains(&"role.update".to_string()),
        "Administrator gains the new leaves"
    );
    let added = audit
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["action"] == "import.user.add" && a["target"] == "bob")
        .unwrap();
    assert_eq!(added["actor"], TEST_USER);
    assert_eq!(added["after"]["role"], "Sales, EMEA");
    assert!(!added["after"].to_string().contains("argon2"));
    assert_eq!(
        other.audit_rows() as usize,
        before as usize + actions.len() - before as usize
    );
}

#[test]
fn existing_users_keep_their_passwords_and_new_users_have_none() {
    let db = rich();
    let file = write(&db, "export.json", &export_json(&db));
    let other = Db::with_owner();
    other
        .run_stdin(
            &["users", "passwd", "alice", "--password-stdin"],
            "alice's long secret\n",
        )
        .expect_code(0);
    let hash_before: String = other.sql_strings(
        "SELECT password_hash FROM users WHERE username = 'alice'",
        &[],
    )[0]
    .clone();
    other.ok(&["import", arg(&file)]);
    let hash_after: String = other.sql_strings(
        "SELECT password_hash FROM users WHERE username = 'alice'",
        &[],
    )[0]
    .clone();
    assert_eq!(hash_before, hash_after);
    assert_eq!(other.user("bob")["has_password"], false);
}

#[test]
fn ownership_comes_from_the_file_only_into_a_database_without_users() {
    let db = rich();
    let mut doc = small_export(&db);
    // Into an empty database: the file's owner is the owner.
    let file = write(
        &db,
        "export.json",
        &serde_json::to_string_pretty(&doc).unwrap(),
    );
    let empty = Db::new();
    empty.ok(&["import", arg(&file)]);
    assert_eq!(empty.user("alice")["owner"], true);

    // An empty database needs exactly one owner in the file.
    for u in doc["users"].as_array_mut().unwrap() {
        u["owner"] = json!(false);
    }
    let no_owner = write(
        &db,
        "no-owner.json",
        &serde_json::to_string_pretty(&doc).unwrap(),
    );
    let fresh = Db::new();
    let before = fresh.dump();
    let run = fresh.run(&["import", arg(&no_owner)]);
    run.expect_code(2);
    assert!(
        run.stderr.contains(
            "import: users: the database has no users yet, so the file must mark exactly one"
        ),
        "{}",
        run.stderr
    );
    assert_eq!(fresh.dump(), before);

    // A file whose owner is disabled cannot seed an empty database.
    let alice = doc["users"]
        .as_array()
        .unwrap()
        .iter()
        .position(|u| u["username"] == "alice")
        .unwrap();
    doc["users"][alice]["owner"] = json!(true);
    let bob = doc["users"]
        .as_array()
        .unwrap()
        .iter()
        .position(|u| u["username"] == "bob")
        .unwrap();
    doc["users"][alice]["owner"] = json!(false);
    doc["users"][bob]["owner"] = json!(true);
    let bob_owner = write(
        &db,
        "bob-owner.json",
        &serde_json::to_string_pretty(&doc).unwrap(),
    );
    let run = fresh.run(&["import", arg(&bob_owner)]);
    run.expect_code(2);
    assert!(
        run.stderr.contains(&format!(
            "users[{bob}].role: the owner must hold the Administrator role"
        )),
        "{}",
        run.stderr
    );
    assert_eq!(fresh.dump(), before);

    // Into a database with an owner, the file's mark is not applied, and it says so.
    let out = db.ok(&["import", arg(&bob_owner)]);
    assert!(out.contains("note: the file marks \"bob\" as the owner, but import never moves ownership: \"alice\" stays the owner"), "{out}");
    assert_eq!(db.user("alice")["owner"], true);
    assert_eq!(db.user("bob")["owner"], false);
}

#[test]
fn a_partial_hand_written_file_adds_and_changes_only_what_it_names() {
    let db = rich();
    let before_bob = db.user("bob");
    let file = write(
        &db,
        "partial.json",
        r#"{
  "format": "rolecall/1",
  "roles": [{"name": "Auditors", "granted": ["administration.audit", "statistics.broadcasts"]}],
  "users": [
    {"username": "bob", "position": "Head of sales"},
    {"username": "ivan", "email": "ivan@example.com", "role": "auditors"}
  ]
}"#,
    );
    db.ok(&["import", arg(&file)]);
    let bob = db.user("bob");
    assert_eq!(bob["position"], "Head of sales");
    for field in [
        "email",
        "first_name",
        "last_name",
        "signature",
        "timezone",
        "language",
        "role",
        "active",
    ] {
        assert_eq!(bob[field], before_bob[field], "{field} is kept");
    }
    assert_eq!(db.user("ivan")["role"], "Auditors");
    assert_eq!(
        db.granted("Auditors"),
        ["administration.audit", "statistics.broadcasts"]
    );
    assert_eq!(
        s(&db.user("carol")["role"]),
        "Read Only",
        "users not in the file are left alone"
    );
    assert_eq!(
        s(&db.json(&["roles", "show", "Basic Access"])["name"]),
        "Basic Access"
    );
}

#[test]
fn a_json_file_starting_with_a_byte_order_mark_imports() {
    let db = rich();
    let text = export_json(&db);
    let other = Db::new();
    let file = write(&other, "bom.json", &format!("\u{FEFF}{text}"));
    other.ok(&["import", arg(&file), "--dry-run"]);
    other.ok(&["import", arg(&file)]);
    assert_eq!(export_json(&other), text);
}

#[test]
fn import_reads_standard_input() {
    let db = rich();
    let text = export_json(&db);
    let other = Db::new();
    other.run_stdin(&["import", "-"], &text).expect_code(0);
    assert_eq!(export_json(&other), text);
}

// ---------------------------------------------------------------------------------
// catalog load
// ---------------------------------------------------------------------------------

#[test]
fn catalog_load_adds_leaves_relabels_and_administrator_gains_them() {
    let db = Db::with_owner();
    let file = write(&db, "catalog.toml", &extended_catalog_toml());
    let before = db.dump();
    let dry = db.ok(&["catalog", "load", arg(&file), "--dry-run"]);
    assert_eq!(db.dump(), before, "a dry run changes nothing");
    assert!(
        dry.contains("catalog: 4 added, 1 relabelled, 0 pruned"),
        "{dry}"
    );
    assert!(
        dry.contains("  add       reports.sales.export  \"Export sales reports\""),
        "{dry}"
    );
    assert!(
        dry.contains(
            "  relabel   contacts.export  label \"Export contacts\" → \"Export contacts to CSV\""
        ),
        "{dry}"
    );
    assert!(dry.contains("  Administrator gains 2 permissions"), "{dry}");

    let out = db.ok(&["catalog", "load", arg(&file)]);
    assert!(out.contains("loaded the catalog from"), "{out}");
    let catalog = db.json(&["catalog", "show"]);
    let reports = catalog
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["key"] == "reports")
        .unwrap();
    assert_eq!(
        reports["children"][0]["children"][1]["description"],
        "Download them as CSV"
    );
    assert!(
        db.granted("Administrator")
            .contains(&"reports.sales.view".to_string())
    );
    assert!(
        !db.granted("Read Only")
            .contains(&"reports.sales.view".to_string())
    );
    db.run(&["check", "alice", "reports.sales.export"])
        .expect_code(0);
    db.run(&["check", "alice", "reports"]).expect_code(0);
    let label = db.ok(&["catalog", "show"]);
    assert!(label.contains("Export contacts to CSV"));
    let audit = db.json(&["audit", "--limit", "3"]);
    assert_eq!(audit[0]["action"], "catalog.load");
    assert_eq!(
        audit[0]["after"]["added"],
        json!([
            "reports",
            "reports.sales",
            "reports.sales.view",
            "reports.sales.export"
        ])
    );
    // Loading the same file again changes nothing.
    let before = db.dump();
    let again = db.ok(&["catalog", "load", arg(&file)]);
    assert!(again.contains("nothing to change"), "{again}");
    assert_eq!(db.dump(), before);
}

#[test]
fn catalog_load_refuses_a_dropped_granted_leaf_until_prune() {
    let db = Db::with_owner();
    db.ok(&[
        "users",
        "add",
        "bob",
        "--email",
        "bob@example.com",
        "--role",
        "Campaign Manager",
    ]);
    let text = default_catalog_toml().replace(
        "[[permission]]\nkey = \"contacts.export\"\nlabel = \"Export contacts\"\ndescription = \"Download contact data\"\n",
        "",
    );
    assert!(
        !text.contains("\"contacts.export\""),
        "the test removes contacts.export"
    );
    let file = write(&db, "smaller.toml", &text);
    let before = db.dump();
    let run = db.run(&["catalog", "load", arg(&file)]);
    run.expect_code(3);
    assert!(
        run.stderr.contains("the file drops 1 permission the database has: contacts.export (granted by 2 roles besides Administrator); run again with --prune"),
        "{}",
        run.stderr
    );
    assert_eq!(db.dump(), before, "nothing changed");

    let dry = db.ok(&["catalog", "load", arg(&file), "--dry-run", "--prune"]);
    assert!(dry.contains("  prune     contacts.export  \"Export contacts\"  granted by 2 roles besides Administrator: \"Campaign Manager\", \"Full Access\""), "{dry}");
    assert_eq!(db.dump(), before);

    let version = db.json(&["roles", "show", "Campaign Manager"])["version"]
        .as_i64()
        .unwrap();
    db.ok(&["catalog", "load", arg(&file), "--prune"]);
    assert!(
        !db.granted("Campaign Manager")
            .contains(&"contacts.export".to_string())
    );
    assert!(
        !db.granted("Administrator")
            .contains(&"contacts.export".to_string())
    );
    assert!(
        db.json(&["roles", "show", "Campaign Manager"])["version"]
            .as_i64()
            .unwrap()
            > version,
        "editors notice"
    );
    db.run(&["check", "bob", "contacts.export"]).expect_code(2);
    let actions: Vec<String> = db
        .json(&["audit", "--limit", "10"])
        .as_array()
        .unwrap()
        .iter()
        .map(|a| s(&a["action"]))
        .collect();
    assert_eq!(actions[0], "catalog.load");
    assert_eq!(actions.iter().filter(|a| *a == "role.update").count(), 3);
}

#[test]
fn catalog_load_refuses_broken_files_naming_the_line_and_changes_nothing() {
    let db = Db::with_owner();
    let before = db.dump();
    let cases = [
        (
            "missing parent",
            "[[permission]]\nkey = \"a\"\nlabel = \"A\"\n\n[[permission]]\nkey = \"b.c\"\nlabel = \"C\"\n",
            "catalog: line 5: the parent \"b\" of \"b.c\" must be listed before it",
        ),
        (
            "bad key",
            "[[permission]]\nkey = \"Contacts\"\nlabel = \"A\"\n",
            "catalog: line 1: key \"Contacts\" is not lowercase snake_case",
        ),
        (
            "duplicate",
            "[[permission]]\nkey = \"a\"\nlabel = \"A\"\n[[permission]]\nkey = \"a\"\nlabel = \"B\"\n",
            "catalog: line 4: key \"a\" is listed twice",
        ),
        ("syntax", "[[permission]\nkey = \"a\"\n", "catalog: line 1"),
        (
            "empty label",
            "[[permission]]\nkey = \"a\"\nlabel = \"\"\n",
            "the label is empty",
        ),
    ];
    for (name, text, needle) in cases {
        let file = write(&db, "broken.toml", text);
        for args in [
            vec!["catalog", "load", arg(&file)],
            vec!["catalog", "load", arg(&file), "--prune"],
            vec!["catalog", "load", arg(&file), "--dry-run"],
        ] {
            let run = db.run(&args);
            run.expect_code(2);
            assert!(run.stderr.contains(needle), "{name}: {}", run.stderr);
            assert_eq!(db.dump(), before, "{name}");
        }
    }
    let missing = db.run(&["catalog", "load", "/nonexistent/catalog.toml"]);
    assert_field_error(&missing, 2, "file");
}

// ---------------------------------------------------------------------------------
// completions and man
// ---------------------------------------------------------------------------------

#[test]
fn completions_are_printed_for_bash_zsh_and_fish_without_a_database() {
    let db = Db::empty();
    for shell in ["bash", "zsh", "fish"] {
        let out = db
            .run(&["completions", shell])
            .expect_code(0)
            .stdout
            .clone();
        assert!(out.contains("rolecall"), "{shell}");
        assert!(out.contains("import"), "{shell} completes the new commands");
        // Every level of every group, and of `help` (a tree clap copies from the
        // groups, whose arguments a plain start builds only when used).
        for word in ["add-role", "exception", "transfer-ownership"] {
            assert!(out.contains(word), "{shell} completes {word}");
        }
    }
    let bash = db.run(&["completions", "bash"]).stdout.clone();
    assert!(
        bash.contains("rolecall__subcmd__help__subcmd__roles__subcmd__exception__subcmd__show"),
        "bash completes `help roles exception show`"
    );
    assert!(
        !db.path().exists(),
        "no database is created for completions"
    );
    let man = db.run(&["man"]).expect_code(0).stdout.clone();
    assert!(man.contains(".TH rolecall"), "{man}");
    db.run(&["completions", "tcsh"]).expect_code(2);
}

#[test]
fn emails_can_move_between_users_in_one_import() {
    let db = rich();
    let file = write(
        &db,
        "swap.json",
        r#"{
  "format": "rolecall/1",
  "users": [
    {"username": "carol", "email": "dave@example.com"},
    {"username": "dave", "email": "carol@example.com"}
  ]
}"#,
    );
    let dry = db.ok(&["import", arg(&file), "--dry-run"]);
    assert!(
        dry.contains("users: 0 added, 2 changed, 0 unchanged"),
        "{dry}"
    );
    db.ok(&["import", arg(&file)]);
    assert_eq!(db.user("carol")["email"], "dave@example.com");
    assert_eq!(db.user("dave")["email"], "carol@example.com");
    let email_fold: Vec<String> =
        db.sql_strings("SELECT email_fold FROM users ORDER BY username", &[]);
    assert!(email_fold.iter().all(|e| e.contains('@')), "{email_fold:?}");
}

#[test]
fn a_leaf_that_becomes_a_category_needs_prune() {
    let db = Db::with_owner();
    let mut text = default_catalog_toml();
    text.push_str("\n[[permission]]\nkey = \"contacts.export.csv\"\nlabel = \"As CSV\"\n");
    let file = write(&db, "deeper.toml", &text);
    let before = db.dump();
    let run = db.run(&["catalog", "load", arg(&file)]);
    run.expect_code(3);
    assert!(
        run.stderr
            .contains("contacts.export (granted by 2 roles besides Administrator)"),
        "{}",
        run.stderr
    );
    assert_eq!(db.dump(), before);
    // An import that would do the same is refused too.
    let mut doc = parse_json(&export_json(&db)).unwrap();
    doc["catalog"]
        .as_array_mut()
        .unwrap()
        .push(json!({"key": "contacts.export.csv", "label": "As CSV"}));
    let import = write(&db, "deeper.json", &doc.to_string());
    let run = db.run(&["import", arg(&import)]);
    run.expect_code(3);
    assert_eq!(db.dump(), before);
    db.ok(&["catalog", "load", arg(&file), "--prune"]);
    assert!(
        db.granted("Administrator")
            .contains(&"contacts.export.csv".to_string())
    );
    assert!(
        !db.granted("Full Access")
            .iter()
            .any(|k| k.starts_with("contacts.export"))
    );
}

// ---------------------------------------------------------------------------------
// Packages in export and import (rolecall/2)
// ---------------------------------------------------------------------------------

/// `packages show NAME --json`'s roles and members.
fn package_parts(db: &Db, name: &str) -> (Vec<String>, Vec<String>) {
    let p = db.json(&["packages", "show", name]);
    (strings(&p["roles"]), strings(&p["members"]))
}

#[test]
fn export_json_lists_packages_and_each_users_packages_sorted() {
    let db = with_packages(rich());
    let text = export_json(&db);
    let doc = parse_json(&text).unwrap();
    assert_eq!(doc["format"], "rolecall/2");
    // Packages come after the roles they include and before the users in them.
    let at = |key: &str| text.find(&format!("\n  \"{key}\": ")).unwrap();
    assert!(at("roles") < at("packages") && at("packages") < at("users"));
    let packages = doc["packages"].as_array().unwrap();
    let names: Vec<String> = packages.iter().map(|p| s(&p["name"])).collect();
    assert_eq!(names, ["Empty", "EU Marketing", HOSTILE_PACKAGE, "support"]);
    assert_eq!(
        packages[1],
        json!({"name": "EU Marketing", "description": "Campaigns in Europe",
               "roles": ["Read Only", "Sales, EMEA"]})
    );
    assert_eq!(packages[0]["roles"], json!([]));
    let user = |name: &str| {
        doc["users"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["username"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(
        user("judy")["packages"],
        json!(["Empty", HOSTILE_PACKAGE, "support"])
    );
    assert_eq!(user("bob")["packages"], json!(["support"]));
    assert_eq!(
        user("carol")["packages"],
        json!([]),
        "written even when empty"
    );
}

/// `doc` as a rolecall/1 file: the tag, and no packages anywhere.
fn as_v1(mut doc: Value) -> Value {
    doc["format"] = json!("rolecall/1");
    doc.as_object_mut().unwrap().remove("packages");
    for u in doc["users"].as_array_mut().unwrap() {
        u.as_object_mut().unwrap().remove("packages");
    }
    doc
}

#[test]
fn a_rolecall_1_file_imports_and_leaves_packages_and_memberships_alone() {
    let db = with_packages(rich());
    let mut doc = as_v1(small_export(&db));
    // Someone's file from before packages: it still changes what it names.
    for u in doc["users"].as_array_mut().unwrap() {
        if u["username"] == "judy" {
            u["first_name"] = json!("Judith");
        }
    }
    let file = write(&db, "v1.json", &serde_json::to_string_pretty(&doc).unwrap());
    let before: Vec<_> = ["EU Marketing", "support", HOSTILE_PACKAGE, "Empty"]
        .iter()
        .map(|p| package_parts(&db, p))
        .collect();
    let plan = db.ok(&["import", arg(&file), "--dry-run"]);
    assert!(
        plan.contains("packages: 0 added, 0 changed, 0 unchanged"),
        "{plan}"
    );
    assert!(
        plan.contains("4 packages (\"EU Marketing\", \"support\", \"Night: ops, (50%) [\"on call\"]\", \"Empty\")"),
        "{plan}"
    );
    let out = db.ok(&["import", arg(&file)]);
    assert!(out.contains("users 0 added, 1 changed"), "{out}");
    assert_eq!(s(&db.user("judy")["first_name"]), "Judith");
    let after: Vec<_> = ["EU Marketing", "support", HOSTILE_PACKAGE, "Empty"]
        .iter()
        .map(|p| package_parts(&db, p))
        .collect();
    assert_eq!(before, after, "packages and memberships are left alone");

    // A rolecall/1 file that speaks of packages is a mistake, refused where it is.
    let mut with_packages = doc.clone();
    with_packages["packages"] = json!([{"name": "X"}]);
    assert_refused(
        &db,
        "v1 with packages",
        &with_packages.to_string(),
        2,
        "import: packages: is not part of \"rolecall/1\"",
    );
    let mut with_member = doc.clone();
    with_member["users"][1]["packages"] = json!([]);
    assert_refused(
        &db,
        "v1 with a member",
        &with_member.to_string(),
        2,
        "import: users[1].packages: is not part of \"rolecall/1\"",
    );
}

#[test]
fn import_matches_packages_by_name_and_a_users_list_is_their_whole_membership() {
    let db = with_packages(rich());
    let mut doc = small_export(&db);
    // The file: "eu marketing" respelled with one role fewer and a new description;
    // a new package; "Empty" left out; ivan in no package, judy's membership not
    // mentioned, carol into two (one of them new), a new user in one.
    let packages = doc["packages"].as_array_mut().unwrap();
    packages.retain(|p| p["name"] != "Empty");
    for p in packages.iter_mut() {
        if p["name"] == "EU Marketing" {
            *p = json!({"name": "EU marketing", "description": "Europe",
                        "roles": ["sales, emea"]});
        }
    }
    packages.push(json!({"name": "Auditors", "roles": ["Read Only", "support"]}));
    for u in doc["users"].as_array_mut().unwrap() {
        let u = u.as_object_mut().unwrap();
        match u["username"].as_str().unwrap() {
            "ivan" => {
                u.insert("packages".into(), json!([]));
            }
            "judy" => {
                u.remove("packages");
            }
            "carol" => {
                u.insert("packages".into(), json!(["auditors", "SUPPORT"]));
            }
            _ => {}
        }
    }
    doc["users"].as_array_mut().unwrap().push(json!({
        "username": "zed", "email": "zed@example.com", "role": "Nothing",
        "packages": ["Auditors"]
    }));
    let file = write(
        &db,
        "packages.json",
        &serde_json::to_string_pretty(&doc).unwrap(),
    );

    let version = |name: &str| db.json(&["packages", "show", name])["version"].clone();
    let (support_version, empty_version) = (version("support"), version("Empty"));
    let before = db.dump();
    let text = db.ok(&["import", arg(&file), "--dry-run"]);
    assert_eq!(db.dump(), before, "a dry run changes nothing");
    for line in [
        "packages: 1 added, 1 changed, 2 unchanged",
        "  add       \"Auditors\"  (roles \"Read Only\", \"support\")",
        "  change    \"EU marketing\"  name: \"EU Marketing\" → \"EU marketing\"; description: \"Campaigns in Europe\" → \"Europe\"; remove roles \"Read Only\"",
        "  change    ivan  packages: [\"EU Marketing\"] → []",
        "  change    carol  packages: [] → [\"Auditors\",\"support\"]",
        "  add       zed  (role \"Nothing\", package \"Auditors\")",
        "  unchanged judy",
        "not in the file, left as they are: 1 package (\"Empty\")",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in:\n{text}"
        );
    }

    // The JSON plan of the dry run is exactly what the real run reports doing.
    let dry = db
        .run(&["import", arg(&file), "--dry-run", "--json"])
        .expect_code(0)
        .json();
    assert_eq!(db.dump(), before);
    let audit_before = db.audit_rows();
    let real = db
        .run(&["import", arg(&file), "--json"])
        .expect_code(0)
        .json();
    for part in ["packages", "users", "not_in_file", "changes"] {
        assert_eq!(dry[part], real[part], "{part}");
    }

    assert_eq!(
        package_parts(&db, "eu marketing"),
        (vec!["Sales, EMEA".into()], vec!["dave".into()])
    );
    assert_eq!(
        s(&db.json(&["packages", "show", "EU marketing"])["name"]),
        "EU marketing"
    );
    assert_eq!(
        package_parts(&db, "Auditors"),
        (
            vec!["Read Only".into(), "support".into()],
            vec!["carol".into(), "zed".into()]
        )
    );
    assert_eq!(strings(&db.user("ivan")["packages"]), Vec::<String>::new());
    assert_eq!(
        strings(&db.user("judy")["packages"]),
        ["Empty", HOSTILE_PACKAGE, "support"],
        "no list in the file: left alone"
    );
    assert_eq!(
        strings(&db.user("carol")["packages"]),
        ["Auditors", "support"]
    );
    assert_eq!(
        package_parts(&db, "Empty").1,
        ["judy"],
        "not in the file: left alone"
    );
    // A package whose members change gets a new version, so that an editor open on it
    // sees the change; one untouched keeps its version.
    assert_ne!(version("support"), support_version, "carol joined support");
    assert_eq!(version("Empty"), empty_version);
    assert!(
        db.view_grants("ivan").is_empty(),
        "ivan's grants came from his package"
    );

    // Audit rows in the shapes `packages` writes, under import's names.
    let audit = db.json(&["audit", "--limit", "100"]);
    let rows: Vec<&Value> = audit
        .as_array()
        .unwrap()
        .iter()
        .take((db.audit_rows() - audit_before) as usize)
        .collect();
    let row = |action: &str, target: &str| {
        rows.iter()
            .find(|a| a["action"] == action && a["target"] == target)
            .unwrap_or_else(|| panic!("no {action} {target} in {rows:#?}"))
    };
    assert_eq!(
        row("import.package.add", "Auditors")["after"],
        json!({"name": "Auditors", "description": "", "roles": ["Read Only", "support"]})
    );
    let update = row("import.package.update", "EU marketing");
    assert_eq!(
        update["before"],
        json!({"name": "EU Marketing", "description": "Campaigns in Europe",
               "roles": ["Read Only", "Sales, EMEA"]})
    );
    assert_eq!(
        update["after"],
        json!({"name": "EU marketing", "description": "Europe",
               "roles_added": [], "roles_removed": ["Read Only"]})
    );
    let ivan = row("import.user.update", "ivan");
    assert_eq!(ivan["before"], json!({"packages": ["EU Marketing"]}));
    assert_eq!(ivan["after"], json!({"packages": []}));
    assert_eq!(
        row("import.user.add", "zed")["after"]["packages"],
        json!(["Auditors"])
    );
    assert_eq!(row("import", arg(&file))["after"]["packages_added"], 1);

    // And importing it again changes nothing.
    let after_first = db.dump();
    let again = db.ok(&["import", arg(&file)]);
    assert!(again.starts_with("nothing to change"), "{again}");
    assert_eq!(db.dump(), after_first);
}

#[test]
fn unknown_roles_in_packages_and_unknown_packages_on_users_are_refused_by_path() {
    let db = with_packages(rich());
    let good = small_export(&db);
    let edit = |f: &dyn Fn(&mut Value)| {
        let mut v = good.clone();
        f(&mut v);
        serde_json::to_string_pretty(&v).unwrap()
    };
    let user_index = |name: &str| {
        good["users"]
            .as_array()
            .unwrap()
            .iter()
            .position(|u| u["username"] == name)
            .unwrap()
    };
    let judy = user_index("judy");
    let cases: Vec<(&str, String, String)> = vec![
        (
            "unknown role in a package",
            edit(&|v| v["packages"][1]["roles"] = json!(["Read Only", "Ghost"])),
            "import: packages[1].roles[1]: there is no role \"Ghost\" in the file or the database"
                .into(),
        ),
        (
            "role listed twice in a package",
            edit(&|v| v["packages"][1]["roles"] = json!(["Read Only", "read only"])),
            "import: packages[1].roles[1]: \"read only\" is listed twice (also roles[0])".into(),
        ),
        (
            "unknown package on a user",
            edit(&|v| v["users"][judy]["packages"] = json!(["support", "Ghosts"])),
            format!(
                "import: users[{judy}].packages[1]: there is no package \"Ghosts\" in the file or the database"
            ),
        ),
        (
            "package listed twice on a user",
            edit(&|v| v["users"][judy]["packages"] = json!(["support", "Support"])),
            format!(
                "import: users[{judy}].packages[1]: \"Support\" is listed twice (also packages[0])"
            ),
        ),
        (
            "package listed twice",
            edit(&|v| {
                let copy = v["packages"][0].clone();
                v["packages"].as_array_mut().unwrap().push(copy);
            }),
            "import: packages[4].name: \"Empty\" is listed twice (also packages[0])".into(),
        ),
        (
            "empty package name",
            edit(&|v| v["packages"][0]["name"] = json!("  ")),
            "import: packages[0].name: must not be empty".into(),
        ),
        (
            "package field of the wrong type",
            edit(&|v| v["packages"][0]["roles"] = json!("Read Only")),
            "import: packages[0].roles: invalid type".into(),
        ),
        (
            "unknown package field",
            edit(&|v| v["packages"][0]["members"] = json!([])),
            "import: packages[0].members: unknown field `members`".into(),
        ),
    ];
    for (name, text, needle) in cases {
        assert_refused(&db, name, &text, 2, &needle);
    }
}
