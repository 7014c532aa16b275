//! A hostile database: another program (or a person with `sqlite3`) wrote escape
//! sequences, C1 controls, bidi overrides, invisible characters, forged Casbin lines,
//! spreadsheet formulas and invalid UTF-8 into every text column. Every command's
//! output, through the real binary, must stay inert: nothing a terminal would act
//! on, nothing a spreadsheet would run, no forged policy line, and exit 0.
//!
//! Also the input side of the same issue: look-alike names and time zones from the
//! host's zoneinfo are refused.

mod common;

use std::fs;
use std::path::Path;

use common::*;

/// Everything a terminal could act on or hide: a screen clear, an OSC 52 clipboard
/// write, a C1 CSI, a bidi override and isolate, and invisible characters of issue
/// 10's list. Lowercase so that lookups that fold case still find it.
const HOSTILE: &str = "\u{1b}[2j\u{1b}]52;c;aGk=\u{7}\u{9b}31m\u{202e}gnp.exe\u{202c}\u{2066}x\u{2069}\u{e0041}\u{2800}\u{3164}\u{fe0f}\u{200b}\u{34f}\u{115f}\u{fffc}\u{61c}\u{600}\u{1d173}\u{ffa0}\u{180e}";

/// A username with a line break and commas: an unencoded `g,` line would give "eve"
/// the Administrator role in Casbin.
const FORGING_USERNAME: &str = "eve, administrator\ng, carol\u{1b}[2j\u{202e}";

/// A cell a spreadsheet would run.
const FORMULA: &str = "=cmd|' /C calc'!A0";

fn arg(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

/// A database whose every text column holds hostile text, written with raw SQL. The
/// rows are made through the CLI first, so the test follows the schema as it grows.
fn hostile_db() -> Db {
    let db = Db::with_owner();
    db.ok(&["roles", "create", "target"]);
    db.ok(&["roles", "grant", "target", "contacts.view"]);
    db.ok(&[
        "users",
        "add",
        "bob",
        "--email",
        "bob@example.com",
        "--role",
        "target",
    ]);
    db.ok(&[
        "users",
        "add",
        "eve",
        "--email",
        "eve@example.com",
        "--role",
        "target",
    ]);
    let h = |prefix: &str| format!("{prefix}{HOSTILE}");
    db.sql_exec(
        "UPDATE roles SET name = ?1, name_fold = ?2, description = ?3, created_at = ?4,
                          updated_at = ?5, updated_by = ?6 WHERE name = 'target'",
        &[
            h("target"),
            h("target").trim().to_lowercase(),
            h("description"),
            // roles.created_at is hostile in roles_show_prints_a_hostile_created_at_safely,
            // which waits for `roles show` to sanitise it.
            "2026-01-01T00:00:00Z".to_string(),
            h("2026-01-02"),
            h("mallory"),
        ],
    );
    db.sql_exec(
        "UPDATE users SET email = ?1, email_fold = ?1, first_name = ?2, last_name = ?3,
                          position = ?4, signature = ?5, timezone = ?6, language = ?7,
                          created_at = ?8, updated_at = ?9, updated_by = ?10
         WHERE username = 'bob'",
        &[
            h("bob@example.com"),
            FORMULA.to_string(),
            h("+last"),
            h("@position"),
            format!("-sig\n{HOSTILE}\n=2+2"),
            h("Europe/Rome"),
            h("en"),
            h("2026-01-01"),
            h("2026-01-02"),
            h("mallory"),
        ],
    );
    db.sql_exec(
        "UPDATE users SET username = ?1 WHERE username = 'eve'",
        &[FORGING_USERNAME],
    );
    db.sql_exec(
        "UPDATE permissions SET label = ?1, description = ?2 WHERE key IN ('contacts', 'contacts.view')",
        &[h("label"), h("description")],
    );
    let before = serde_json::json!({"name": h("before"), "note": HOSTILE}).to_string();
    db.sql_exec(
        "INSERT INTO audit (at, actor, action, target, before, after)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        &[
            h("2026-01-03T00:00:00Z"),
            h("mallory"),
            h("role.update"),
            h("role "),
            before,
            h("not json "),
        ],
    );
    db
}

/// The hostile role's name.
fn role_name() -> String {
    format!("target{HOSTILE}")
}

/// True for what must never reach a terminal raw: ESC and other controls except the
/// line break, C1 controls, and the invisible and bidi characters `has_unsafe` knows.
fn unsafe_char(c: char) -> bool {
    c != '\n' && rolecall::text::has_unsafe(c.encode_utf8(&mut [0u8; 4]))
}

/// Panics unless `bytes` hold nothing a terminal would act on or hide.
#[track_caller]
fn assert_inert(what: &str, bytes: &[u8]) {
    assert!(
        !bytes.contains(&0x1b),
        "{what}: an ESC byte got through:\n{}",
        String::from_utf8_lossy(bytes)
    );
    let text = String::from_utf8_lossy(bytes);
    if let Some(c) = text.chars().find(|&c| unsafe_char(c)) {
        panic!("{what}: U+{:04X} got through:\n{text}", c as u32);
    }
    assert!(
        !text.chars().any(|c| ('\u{80}'..='\u{9f}').contains(&c)),
        "{what}: a C1 control got through"
    );
}

/// Runs `args`, which must exit `code`, and checks both streams.
#[track_caller]
fn inert_run(db: &Db, args: &[&str], code: i32) -> Run {
    let run = db.run(args);
    run.expect_code(code);
    let what = format!("rolecall {args:?}");
    assert_inert(&format!("{what} stdout"), &run.raw_stdout);
    assert_inert(&format!("{what} stderr"), &run.raw_stderr);
    run
}

/// Every reading command, text and `--json`, with the streams checked. JSON output
/// must still carry the stored values, escaped.
fn every_command_is_inert(db: &Db, role: &str, user: &str) {
    for args in [
        vec!["users", "list"],
        vec!["users", "show", user],
        vec!["users", "show", "alice"],
        vec!["roles", "list"],
        vec!["roles", "show", role],
        vec!["roles", "diff", role, "Administrator"],
        vec!["check", user, "contacts.view", "--explain"],
        vec!["catalog", "show"],
        vec!["audit"],
        vec!["export"],
        vec!["export", "--format", "csv"],
    ] {
        inert_run(db, &args, 0);
        let mut json = args.clone();
        json.push("--json");
        if !matches!(args[0], "export" | "check") {
            let run = inert_run(db, &json, 0);
            parse_json(&run.stdout).expect("valid JSON");
        }
    }
    let dir = db.dir().join("out");
    fs::create_dir_all(&dir).unwrap();
    for (format, name) in [("json", "export.json"), ("csv", "users.csv")] {
        let path = dir.join(name);
        inert_run(db, &["export", "--format", format, "-o", arg(&path)], 0);
        assert_inert(name, &fs::read(&path).unwrap());
    }
    let casbin = dir.join("casbin");
    inert_run(db, &["export", "--format", "casbin", "-o", arg(&casbin)], 0);
    for name in ["model.conf", "policy.csv"] {
        assert_inert(name, &fs::read(casbin.join(name)).unwrap());
    }
}

#[test]
fn a_hostile_database_prints_nothing_a_terminal_or_spreadsheet_would_act_on() {
    let db = hostile_db();
    let role = role_name();
    every_command_is_inert(&db, &role, "bob");
    inert_run(
        &db,
        &["check", FORGING_USERNAME, "contacts.view", "--explain"],
        0,
    );

    // JSON output carries the stored text, escaped.
    let user = db.user("bob");
    assert_eq!(user["first_name"], FORMULA);
    assert_eq!(user["last_name"], format!("+last{HOSTILE}"));
    let shown = db.json(&["roles", "show", &role]);
    assert_eq!(shown["name"], role);
    assert_eq!(shown["description"], format!("description{HOSTILE}"));
    let audit = db.json(&["audit"]);
    assert_eq!(audit[0]["actor"], format!("mallory{HOSTILE}"));
    // Text that is not JSON, stored by another program, is shown as the text it is.
    assert_eq!(audit[0]["after"], format!("not json {HOSTILE}"));
    assert_eq!(audit[0]["before"]["note"], HOSTILE);

    // The CSV: no cell a spreadsheet would run.
    let csv = db.ok(&["export", "--format", "csv"]);
    assert!(csv.contains(",'=cmd|' /C calc'!A0,"), "{csv}");
    assert!(csv.contains(",'+last"), "{csv}");
    assert!(csv.contains(",'@position"), "{csv}");
    assert!(csv.contains(",\"'-sig\n"), "{csv}");
    for cell in csv_cells(&csv) {
        assert!(
            !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
            "a live formula: {cell:?}"
        );
    }

    // The Casbin policy: one line per grant and per active user, none forged.
    let policy = fs::read_to_string(db.dir().join("out/casbin/policy.csv")).unwrap();
    let users: Vec<&str> = policy.lines().filter(|l| l.starts_with("g, ")).collect();
    assert_eq!(users.len(), 3, "{policy}");
    assert!(users.contains(&"g, alice, Administrator"), "{policy}");
    assert!(
        !policy.lines().any(|l| l.starts_with("g, carol")),
        "a forged line: {policy}"
    );
    for line in policy.lines() {
        assert!(
            line.starts_with("p, ") || line.starts_with("g, "),
            "{line:?}"
        );
        let want = if line.starts_with("p, ") { 4 } else { 3 };
        assert_eq!(line.split(',').count(), want, "{line:?}");
    }

    // And every error quoting that text stays inert too.
    let run = db.run(&["users", "show", &format!("nobody{HOSTILE}")]);
    assert_ne!(run.code, 0);
    assert_inert("users show error", &run.raw_stderr);
}

/// The cells of an RFC 4180 CSV text, unquoted.
fn csv_cells(csv: &str) -> Vec<String> {
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = csv.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            '"' => quoted = !quoted,
            ',' | '\n' if !quoted => cells.push(std::mem::take(&mut cell)),
            _ => cell.push(c),
        }
    }
    cells
}

#[test]
fn roles_show_prints_a_hostile_created_at_safely() {
    let db = Db::new();
    db.ok(&["roles", "create", "dated"]);
    db.sql_exec(
        "UPDATE roles SET created_at = ?1 WHERE name = 'dated'",
        &[format!("2026-01-01{HOSTILE}")],
    );
    let run = inert_run(&db, &["roles", "show", "dated"], 0);
    assert!(run.stdout.contains("created 2026-01-01"), "{}", run.stdout);
    inert_run(&db, &["roles", "list"], 0);
}

/// Invalid UTF-8 in text columns (another program's bytes): shown with U+FFFD,
/// never a storage error. Depends on the store reading invalid UTF-8 lossily.
#[test]
fn a_database_with_invalid_utf8_text_prints_replacement_characters() {
    if sqlite_only("text that is not UTF-8, which PostgreSQL refuses to store") {
        return;
    }
    let db = Db::with_owner();
    db.ok(&["roles", "create", "broken"]);
    db.ok(&["roles", "grant", "broken", "contacts.view"]);
    db.ok(&[
        "users",
        "add",
        "bob",
        "--email",
        "bob@example.com",
        "--role",
        "broken",
    ]);
    let conn = db.conn_rw();
    for sql in [
        "UPDATE users SET first_name = CAST(x'fffe41' AS TEXT), position = CAST(x'1b5b32cfff' AS TEXT),
                          signature = CAST(x'c0af0a9b' AS TEXT) WHERE username = 'bob'",
        "UPDATE roles SET description = CAST(x'80ff' AS TEXT), updated_by = CAST(x'ed' AS TEXT)
         WHERE name = 'broken'",
        "UPDATE permissions SET label = CAST(x'f0908d' AS TEXT) WHERE key = 'contacts.view'",
        "INSERT INTO audit (at, actor, action, target, before, after)
         VALUES ('2026-01-03T00:00:00Z', CAST(x'ff' AS TEXT), 'role.update', CAST(x'fe41' AS TEXT),
                 NULL, CAST(x'7b22223aff7d' AS TEXT))",
    ] {
        conn.execute(sql, []).expect("raw bytes stored");
    }
    drop(conn);
    every_command_is_inert(&db, "broken", "bob");
    let user = db.user("bob");
    assert_eq!(user["first_name"], "\u{fffd}\u{fffd}A");
}

// ---------------------------------------------------------------------------------
// The input side
// ---------------------------------------------------------------------------------

#[test]
fn names_that_only_look_like_administrator_are_refused() {
    let db = Db::with_owner();
    let before = db.dump();
    for lookalike in [
        "Administrator\u{e0020}",
        "Admin\u{2800}istrator",
        "\u{3164}Administrator",
        "Administrator\u{fe0f}",
        "Admin\u{34f}istrator",
        "Administrator\u{ffa0}",
    ] {
        let run = db.run(&["roles", "create", lookalike]);
        assert_field_error(&run, 2, "name");
        assert_inert("roles create error", &run.raw_stderr);
        let run = db.run(&["users", "set", "alice", "--first-name", lookalike]);
        assert_field_error(&run, 2, "first_name");
    }
    assert_eq!(db.dump(), before, "nothing changed");
}

/// A minimal valid TZif file (version 2, one type: UTC), as a host's zoneinfo holds.
fn tzif_utc() -> Vec<u8> {
    let block = |out: &mut Vec<u8>| {
        out.extend_from_slice(b"TZif2");
        out.extend_from_slice(&[0; 15]);
        // isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt
        for n in [0u32, 0, 0, 0, 1, 4] {
            out.extend_from_slice(&n.to_be_bytes());
        }
        out.extend_from_slice(&[0, 0, 0, 0, 0, 0]); // utoff 0, isdst 0, desigidx 0
        out.extend_from_slice(b"UTC\0");
    };
    let mut out = Vec::new();
    block(&mut out);
    block(&mut out);
    out.extend_from_slice(b"\nUTC0\n");
    out
}

#[test]
fn time_zones_come_from_the_built_in_database_whatever_tzdir_holds() {
    let db = Db::with_owner();
    let zones = db.dir().join("zoneinfo");
    fs::create_dir_all(zones.join("Mars")).unwrap();
    fs::write(zones.join("Mars/Olympus"), tzif_utc()).unwrap();
    fs::write(zones.join("localtime"), tzif_utc()).unwrap();
    let env = [("TZDIR", arg(&zones))];
    let before = db.dump();
    for zone in ["Mars/Olympus", "localtime", "posixrules", "Factory"] {
        let run = db.run_env(&["users", "set", "alice", "--timezone", zone], &env);
        assert_field_error(&run, 2, "timezone");
    }
    assert_eq!(db.dump(), before, "nothing changed");
    let run = db.run_env(
        &["users", "set", "alice", "--timezone", "Europe/Rome"],
        &env,
    );
    run.expect_code(0);
    assert_eq!(db.user("alice")["timezone"], "Europe/Rome");
}
