//! The console without a terminal: state driven by real key events over a real
//! SQLite file, drawn into ratatui's `TestBackend` and compared with insta snapshots.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use proptest::prelude::*;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use rolecall::domain::catalog::CheckState;
use rolecall::domain::user::Profile;
use rolecall::store::{Access, NewUser, RoleRef, Store, UserChange, UserRef};
use rolecall::tui::app::{App, Msg, Overlay, Pending};
use rolecall::tui::theme::Theme;
use rolecall::tui::views;
use tempfile::TempDir;

mod common;

struct Harness {
    _dir: TempDir,
    db: std::path::PathBuf,
    app: App,
    term: Terminal<TestBackend>,
}

fn add(store: &mut Store, username: &str, first: &str, last: &str, role: Option<&str>) {
    store
        .add_user(NewUser {
            username: username.into(),
            profile: Profile {
                email: format!("{username}@example.com"),
                first_name: first.into(),
                last_name: last.into(),
                ..Profile::default()
            },
            role: role.map(RoleRef::from),
            password: None,
            packages: Default::default(),
        })
        .unwrap();
}

/// A database with an owner, twelve campaign managers (one disabled) and a user with
/// a wide-character name.
fn seeded(dir: &TempDir) -> std::path::PathBuf {
    let db = dir.path().join("rolecall.db");
    // Created by the real binary under a fixed name, so the seeding rows of the audit
    // log name the same actor on every machine (not whoever runs the tests).
    let created = std::process::Command::new(env!("CARGO_BIN_EXE_rolecall"))
        .arg("--db")
        .arg(&db)
        .args(["roles", "set-default", "Read Only"])
        .env("USER", "seeder")
        .env_remove("SUDO_USER")
        .env_remove("SSH_CONNECTION")
        .output()
        .unwrap();
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let mut store = Store::open(&db, Access::ReadWrite).unwrap();
    store.set_actor("tester");
    add(&mut store, "olivia", "Olivia", "Owner", None);
    let names = [
        "adam", "bella", "chen", "dora", "emil", "fatima", "goran", "hana", "ivan", "jules",
        "kofi", "lena",
    ];
    for n in names {
        let mut first = n.to_string();
        first[..1].make_ascii_uppercase();
        add(&mut store, n, &first, "Marketer", Some("Campaign Manager"));
    }
    add(&mut store, "misaki", "美咲", "佐藤", Some("Read Only"));
    store
        .update_user(
            "emil",
            None,
            rolecall::store::UserChange {
                active: Some(false),
                ..Default::default()
            },
        )
        .unwrap();
    db
}

impl Harness {
    fn new(width: u16, height: u16) -> Harness {
        let dir = TempDir::new().unwrap();
        let db = seeded(&dir);
        Harness::on(dir, db, width, height)
    }

    fn on(dir: TempDir, db: std::path::PathBuf, width: u16, height: u16) -> Harness {
        let mut store = Store::open(&db, Access::ReadWrite).unwrap();
        store.set_actor("tester");
        let app = App::new(store, Theme::monochrome()).unwrap();
        let term = Terminal::new(TestBackend::new(width, height)).unwrap();
        let mut h = Harness {
            _dir: dir,
            db,
            app,
            term,
        };
        h.draw();
        h
    }

    fn draw(&mut self) {
        let app = &self.app;
        self.term.draw(|f| views::draw(app, f)).unwrap();
    }

    fn resize(&mut self, width: u16, height: u16) {
        self.term.backend_mut().resize(width, height);
        self.term
            .resize(ratatui::layout::Rect::new(0, 0, width, height))
            .unwrap();
        self.draw();
    }

    /// Sends one key as the terminal would, then draws (tree keys use the last draw).
    fn key(&mut self, code: KeyCode, mods: KeyModifiers) {
        if let Some(msg) = self.app.key_to_msg(KeyEvent::new(code, mods)) {
            self.app.update(msg);
        }
        self.draw();
    }

    fn press(&mut self, keys: &str) {
        for c in keys.chars() {
            self.key(KeyCode::Char(c), KeyModifiers::NONE);
        }
    }

    fn code(&mut self, code: KeyCode) {
        self.key(code, KeyModifiers::NONE);
    }

    fn ctrl(&mut self, c: char) {
        self.key(KeyCode::Char(c), KeyModifiers::CONTROL);
    }

    /// The screen as text, with the parts that change between runs replaced.
    fn screen(&self) -> String {
        let today = jiff::Timestamp::now().strftime("%Y-%m-%d").to_string();
        self.term
            .backend()
            .to_string()
            .replace(&self.db.display().to_string(), "<db>")
            .replace(&today, "YYYY-MM-DD")
    }

    fn open_role(&mut self, filter: &str) {
        self.press("2/");
        self.press(filter);
        self.code(KeyCode::Enter);
        self.code(KeyCode::Enter);
        assert!(
            self.app.editor.is_some(),
            "the editor opened:\n{}",
            self.screen()
        );
    }

    fn editor(&self) -> &rolecall::tui::editor::RoleEditor {
        self.app.editor.as_ref().expect("editor open")
    }

    fn node(&self, key: &str) -> usize {
        self.app.store.catalog().find(key).unwrap()
    }

    fn state(&self, key: &str) -> CheckState {
        let catalog = self.app.store.catalog();
        self.editor().grants.state(catalog.node(self.node(key)))
    }

    /// Moves the tree selection to the node with `key` by pressing Down.
    fn select(&mut self, key: &str) {
        let want = self.node(key);
        self.code(KeyCode::Home);
        for _ in 0..200 {
            if self.editor().selected_node() == Some(want) {
                return;
            }
            self.code(KeyCode::Down);
        }
        panic!("could not reach {key}:\n{}", self.screen());
    }
}

const SIZES: [(u16, u16); 2] = [(120, 40), (80, 24)];

fn snapshot(name: &str, h: &Harness) {
    let (w, ht) = (
        h.term.backend().buffer().area.width,
        h.term.backend().buffer().area.height,
    );
    insta::assert_snapshot!(format!("{name}_{w}x{ht}"), h.screen());
}

#[test]
fn snapshot_users_list() {
    for (w, ht) in SIZES {
        let h = Harness::new(w, ht);
        snapshot("users_list", &h);
    }
}

#[test]
fn snapshot_roles_list_with_preview() {
    for (w, ht) in SIZES {
        let mut h = Harness::new(w, ht);
        h.press("2");
        h.code(KeyCode::Down);
        h.code(KeyCode::Down);
        snapshot("roles_list", &h);
    }
}

#[test]
fn snapshot_editor_with_a_partly_granted_category() {
    for (w, ht) in SIZES {
        let mut h = Harness::new(w, ht);
        h.open_role("campaign");
        h.select("contacts");
        h.code(KeyCode::Right);
        assert_eq!(h.state("contacts"), CheckState::Partial);
        snapshot("editor_partial", &h);
    }
}

#[test]
fn snapshot_editor_under_a_search() {
    for (w, ht) in SIZES {
        let mut h = Harness::new(w, ht);
        h.open_role("campaign");
        h.press("/export");
        h.code(KeyCode::Enter);
        snapshot("editor_search", &h);
    }
}

#[test]
fn snapshot_blocked_delete_warning() {
    for (w, ht) in SIZES {
        let mut h = Harness::new(w, ht);
        h.press("2/campaign");
        h.code(KeyCode::Enter);
        h.press("d");
        assert!(matches!(
            h.app.overlay(),
            Some(Overlay::DeleteBlocked { .. })
        ));
        snapshot("delete_blocked", &h);
    }
}

#[test]
fn snapshot_save_summary() {
    for (w, ht) in SIZES {
        let mut h = Harness::new(w, ht);
        h.open_role("campaign");
        h.select("contacts");
        h.press(" ");
        h.select("triggers");
        h.press(" ");
        h.ctrl('s');
        assert!(matches!(
            h.app.overlay(),
            Some(Overlay::Confirm {
                pending: Pending::Save(_),
                ..
            })
        ));
        snapshot("save_summary", &h);
    }
}

#[test]
fn snapshot_help_overlay() {
    for (w, ht) in SIZES {
        let mut h = Harness::new(w, ht);
        h.press("?");
        snapshot("help", &h);
    }
}

#[test]
fn snapshot_terminal_too_small() {
    for (w, ht) in [(59, 24), (120, 14)] {
        let h = Harness::new(w, ht);
        assert!(h.screen().contains("terminal too small"));
        snapshot("too_small", &h);
    }
}

#[test]
fn tiny_sizes_draw_without_panicking() {
    let mut h = Harness::new(1, 1);
    for (w, ht) in [
        (1, 1),
        (2, 1),
        (1, 3),
        (10, 2),
        (60, 15),
        (61, 16),
        (300, 100),
    ] {
        h.resize(w, ht);
        h.press("2?");
        h.code(KeyCode::Esc);
    }
}

#[test]
fn category_toggle_propagates_at_every_depth() {
    let mut h = Harness::new(120, 40);
    h.open_role("read only");
    assert_eq!(h.state("contacts"), CheckState::Partial);
    h.select("contacts");
    h.press(" ");
    assert_eq!(h.state("contacts"), CheckState::Checked, "partial → all");
    h.press(" ");
    assert_eq!(h.state("contacts"), CheckState::Unchecked, "all → none");
    h.code(KeyCode::Right);
    h.code(KeyCode::Down); // first leaf: Add a contact
    h.press(" ");
    assert_eq!(h.state("contacts.add"), CheckState::Checked);
    assert_eq!(
        h.state("contacts"),
        CheckState::Partial,
        "one leaf → partial parent"
    );
    let catalog = h.app.store.catalog();
    assert_eq!(
        h.editor()
            .grants
            .count_in(catalog.node(h.node("contacts")).leaves.clone()),
        1
    );
}

#[test]
fn deeper_catalogs_propagate_through_every_level() {
    use rolecall::domain::catalog::{Catalog, Grants};
    use rolecall::domain::role::Role;
    let catalog = Catalog::from_toml(
        "[[permission]]\nkey = \"m\"\nlabel = \"Module\"\n\
         [[permission]]\nkey = \"m.f\"\nlabel = \"Feature\"\n\
         [[permission]]\nkey = \"m.f.a\"\nlabel = \"Action A\"\n\
         [[permission]]\nkey = \"m.f.b\"\nlabel = \"Action B\"\n\
         [[permission]]\nkey = \"m.g\"\nlabel = \"Other\"\n",
    )
    .unwrap();
    let role = Role {
        id: 1,
        name: "R".into(),
        description: String::new(),
        builtin: false,
        grants: Grants::none(&catalog),
        users: 0,
        version: 1,
        created_seq: 0,
        created_at: String::new(),
        updated_at: String::new(),
        updated_by: String::new(),
    };
    let mut ed = rolecall::tui::editor::RoleEditor::new(&catalog, &role, Theme::monochrome());
    let state = |ed: &rolecall::tui::editor::RoleEditor, k: &str| {
        ed.grants.state(catalog.node(catalog.find(k).unwrap()))
    };
    ed.toggle(&catalog, catalog.find("m.f.a").unwrap());
    assert_eq!(state(&ed, "m.f"), CheckState::Partial);
    assert_eq!(state(&ed, "m"), CheckState::Partial);
    ed.toggle(&catalog, catalog.find("m.f").unwrap());
    assert_eq!(state(&ed, "m.f"), CheckState::Checked);
    assert_eq!(state(&ed, "m"), CheckState::Partial);
    ed.toggle(&catalog, catalog.find("m").unwrap());
    assert_eq!(state(&ed, "m"), CheckState::Checked);
    ed.toggle(&catalog, catalog.find("m").unwrap());
    assert_eq!(state(&ed, "m"), CheckState::Unchecked);
    assert_eq!(state(&ed, "m.f"), CheckState::Unchecked);
}

#[test]
fn check_all_without_and_with_a_search() {
    let mut h = Harness::new(120, 40);
    h.open_role("read only");
    let total = h.app.store.catalog().leaf_count();
    h.press("a");
    assert_eq!(
        h.editor().grants.count(),
        total,
        "Check All checks everything"
    );
    h.press("a");
    assert_eq!(h.editor().grants.count(), 0, "all checked: a unchecks all");

    h.press("/export");
    h.code(KeyCode::Enter);
    let exports = h
        .app
        .store
        .catalog()
        .nodes()
        .iter()
        .filter(|n| n.key.ends_with(".export"))
        .count();
    assert_eq!(exports, 3);
    let shown = h.editor().shown_leaf_count(h.app.store.catalog());
    assert_eq!(shown, exports, "the three Export permissions match");
    assert!(
        h.screen().contains("act on 3 shown"),
        "the footer says how many:\n{}",
        h.screen()
    );
    h.press("a");
    assert_eq!(
        h.editor().grants.count(),
        3,
        "only the shown permissions were checked"
    );
    let catalog = h.app.store.catalog();
    for key in h.editor().grants.keys(catalog) {
        assert!(key.ends_with(".export"), "{key}");
    }
    // A category toggle under the search also acts on its shown leaves only.
    h.select("contacts");
    h.press(" ");
    assert_eq!(h.editor().grants.count(), 2);
    assert_eq!(h.state("contacts"), CheckState::Unchecked);
}

#[test]
fn search_shows_matches_with_their_ancestors() {
    let mut h = Harness::new(120, 40);
    h.open_role("basic");
    h.press("/merge");
    let screen = h.screen();
    assert!(
        screen.contains("Contact Lists"),
        "the ancestor is shown:\n{screen}"
    );
    assert!(screen.contains("Merge into another list"));
    assert!(
        !screen.contains("Add a list"),
        "non-matching siblings are hidden:\n{screen}"
    );
    assert!(!screen.contains("Broadcasts"));
    assert_eq!(h.editor().shown_leaf_count(h.app.store.catalog()), 1);
    // Descriptions and keys match too.
    h.code(KeyCode::Esc);
    h.press("/Verify node");
    assert!(h.screen().contains("Test Connection"), "{}", h.screen());
    h.code(KeyCode::Esc);
    assert!(!h.editor().is_searching(), "Esc clears the search");
}

#[test]
fn the_counter_follows_every_change() {
    let mut h = Harness::new(120, 40);
    h.open_role("campaign");
    let total = h.app.store.catalog().leaf_count();
    assert!(
        h.screen().contains(&format!("38 of {total} granted")),
        "{}",
        h.screen()
    );
    h.select("triggers");
    h.press(" ");
    assert!(
        h.screen().contains(&format!("41 of {total} granted")),
        "{}",
        h.screen()
    );
}

#[test]
fn esc_asks_before_discarding_and_keeps_the_edit_on_no() {
    let mut h = Harness::new(120, 40);
    h.open_role("campaign");
    h.select("triggers");
    h.press(" ");
    h.code(KeyCode::Esc);
    assert!(matches!(
        h.app.overlay(),
        Some(Overlay::Confirm {
            pending: Pending::Discard,
            ..
        })
    ));
    assert!(h.screen().contains("Discard unsaved changes?"));
    h.press("n");
    assert!(
        h.app.editor.as_ref().is_some_and(|e| e.is_dirty()),
        "the edit survives a no"
    );
    h.code(KeyCode::Esc);
    h.press("y");
    assert!(h.app.editor.is_none());
    assert_eq!(
        h.app.store.role("Campaign Manager").unwrap().grants.count(),
        38,
        "nothing saved"
    );
}

#[test]
fn an_unchanged_editor_closes_without_asking() {
    let mut h = Harness::new(120, 40);
    h.open_role("campaign");
    h.code(KeyCode::Esc);
    assert!(h.app.editor.is_none());
    assert!(h.app.overlay().is_none());
}

#[test]
fn save_summary_lists_changes_and_affected_users_then_saves() {
    let mut h = Harness::new(120, 40);
    h.open_role("campaign");
    h.select("contacts");
    h.press(" "); // adds contacts.delete
    h.select("statistics");
    h.press(" "); // removes all four statistics
    h.ctrl('s');
    let Some(Overlay::Confirm {
        pending: Pending::Save(summary),
        ..
    }) = h.app.overlay().cloned()
    else {
        panic!("no summary:\n{}", h.screen());
    };
    let added: Vec<&str> = summary.added.iter().map(|(k, _)| k.as_str()).collect();
    let removed: Vec<&str> = summary.removed.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(added, ["contacts.delete"]);
    assert_eq!(
        removed,
        [
            "statistics.broadcasts",
            "statistics.triggers",
            "statistics.detailed",
            "statistics.export"
        ]
    );
    assert_eq!(summary.users, 12);
    assert!(
        h.screen().contains("12 users hold this role"),
        "{}",
        h.screen()
    );
    h.press("y");
    assert!(h.app.editor.is_none());
    let saved = h.app.store.role("Campaign Manager").unwrap();
    assert_eq!(saved.grants.count(), 38 + 1 - 4);
    assert!(
        h.screen().contains("saved \"Campaign Manager\""),
        "{}",
        h.screen()
    );
}

#[test]
fn built_in_roles_open_read_only() {
    let mut h = Harness::new(120, 40);
    h.open_role("admin");
    assert!(h.screen().contains("built-in, read-only"), "{}", h.screen());
    h.press(" a");
    assert_eq!(
        h.editor().grants.count(),
        h.app.store.catalog().leaf_count()
    );
    h.ctrl('s');
    assert!(
        h.app.overlay().is_none(),
        "no save dialog for a built-in role"
    );
    assert!(
        h.app
            .status
            .as_ref()
            .is_some_and(|s| s.error && s.text.contains("built in"))
    );
}

#[test]
fn blocked_delete_moves_users_then_deletes_in_one_step() {
    let mut h = Harness::new(120, 40);
    h.press("2/campaign");
    h.code(KeyCode::Enter);
    h.press("d");
    let screen = h.screen();
    assert!(screen.contains("assigned to 12 users"), "{screen}");
    assert!(screen.contains("emil (disabled)"), "{screen}");
    assert!(screen.contains("and 2 more"), "{screen}");
    assert!(
        h.app.store.role("Campaign Manager").is_ok(),
        "nothing deleted yet"
    );
    h.code(KeyCode::Enter); // the default role is preselected: Read Only
    assert!(h.app.store.role("Campaign Manager").is_err(), "deleted");
    assert_eq!(
        h.app.store.users(Some("Read Only".into())).unwrap().len(),
        13
    );
}

#[test]
fn deleting_an_unused_role_asks_first() {
    let mut h = Harness::new(120, 40);
    h.press("2/basic");
    h.code(KeyCode::Enter);
    h.press("d");
    assert!(h.screen().contains("Delete role \"Basic Access\"?"));
    h.press("n");
    assert!(h.app.store.role("Basic Access").is_ok());
    h.press("dy");
    assert!(h.app.store.role("Basic Access").is_err());
}

#[test]
fn clone_creates_a_copy_and_selects_it() {
    let mut h = Harness::new(120, 40);
    h.press("2/campaign");
    h.code(KeyCode::Enter);
    h.press("c");
    assert!(
        h.app.store.role("Copy of Campaign Manager").is_err(),
        "c asks for the name first and creates nothing yet"
    );
    h.code(KeyCode::Enter);
    let copy = h.app.store.role("Copy of Campaign Manager").unwrap();
    assert_eq!(
        copy.grants,
        h.app.store.role("Campaign Manager").unwrap().grants
    );
    assert_eq!(h.app.roles.view.selected().map(|r| r.id), Some(copy.id));
}

#[test]
fn filter_keeps_on_enter_and_clears_on_esc() {
    let mut h = Harness::new(120, 40);
    h.press("/lena");
    h.code(KeyCode::Enter);
    assert_eq!(h.app.users.view.list.shown(), 1);
    assert_eq!(
        h.app.users.view.selected().map(|u| u.username.as_str()),
        Some("lena")
    );
    h.press("j"); // navigation works again after Enter
    h.code(KeyCode::Esc);
    assert_eq!(h.app.users.view.list.shown(), 14);
}

#[test]
fn mouse_click_selects_and_toggles_a_checkbox() {
    let mut h = Harness::new(120, 40);
    h.press("2");
    let rows = h.app.hit.get().list_rows;
    h.app.update(Msg::Click(ratatui::layout::Position::new(
        rows.x + 5,
        rows.y + 3,
    )));
    h.draw();
    assert_eq!(
        h.app.roles.view.selected().map(|r| r.name.as_str()),
        Some("Full Access")
    );
    h.code(KeyCode::Up);
    h.code(KeyCode::Enter); // Campaign Manager
    let tree = h.app.hit.get().tree;
    // Row 3 of the tree is "Custom Fields" (a top-level row); its box starts 4 columns in.
    h.app.update(Msg::Click(ratatui::layout::Position::new(
        tree.x + 5,
        tree.y + 2,
    )));
    h.draw();
    assert_eq!(
        h.state("custom_fields"),
        CheckState::Checked,
        "{}",
        h.screen()
    );
    h.app.update(Msg::Scroll {
        at: ratatui::layout::Position::new(tree.x, tree.y),
        rows: 3,
    });
    h.draw();
}

/// Every category row on screen shows the mark its own count implies, and the count
/// is what the grants hold.
fn assert_marks_consistent(h: &Harness) {
    let Some(editor) = &h.app.editor else { return };
    let catalog = h.app.store.catalog();
    for line in h.term.backend().to_string().lines() {
        for (mark, want) in [
            ("[x] ", CheckState::Checked),
            ("[-] ", CheckState::Partial),
            ("[ ] ", CheckState::Unchecked),
        ] {
            let Some(at) = line.find(mark) else { continue };
            let rest = line[at + mark.len()..].trim_end_matches(['│', '"', ' ']);
            let Some((label, count)) = rest.rsplit_once(' ') else {
                continue;
            };
            let Some((n, m)) = count.split_once('/') else {
                continue;
            };
            let (Ok(n), Ok(m)) = (n.parse::<usize>(), m.parse::<usize>()) else {
                continue;
            };
            let implied = if n == 0 {
                CheckState::Unchecked
            } else if n == m {
                CheckState::Checked
            } else {
                CheckState::Partial
            };
            assert_eq!(implied, want, "mark disagrees with its count: {line}");
            if let Some(node) = catalog
                .nodes()
                .iter()
                .find(|c| !c.is_leaf() && c.label == label.trim())
            {
                assert_eq!(
                    editor.grants.count_in(node.leaves.clone()),
                    n,
                    "count is stale: {line}"
                );
                assert_eq!(editor.grants.state(node), want, "mark is stale: {line}");
            }
        }
    }
}

fn key_strategy() -> impl Strategy<Value = KeyEvent> {
    let codes = prop_oneof![
        Just(KeyCode::Up),
        Just(KeyCode::Down),
        Just(KeyCode::Left),
        Just(KeyCode::Right),
        Just(KeyCode::Enter),
        Just(KeyCode::Esc),
        Just(KeyCode::Tab),
        Just(KeyCode::BackTab),
        Just(KeyCode::PageDown),
        Just(KeyCode::Home),
        Just(KeyCode::End),
        Just(KeyCode::Backspace),
        prop::sample::select(vec![
            ' ', 'a', '/', '2', '1', '3', 'j', 'k', 'l', 'h', 'y', 'n', 'e', 'x', 'c', '?', 'd',
            's'
        ])
        .prop_map(KeyCode::Char),
    ];
    (codes, prop::bool::weighted(0.05)).prop_map(|(code, ctrl)| {
        let ctrl = ctrl && code == KeyCode::Char('s');
        KeyEvent::new(
            code,
            if ctrl {
                KeyModifiers::CONTROL
            } else {
                KeyModifiers::NONE
            },
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn random_keys_at_random_sizes_never_panic_and_marks_stay_true(
        keys in prop::collection::vec(key_strategy(), 1..120),
        sizes in prop::collection::vec((1u16..=300, 1u16..=100), 1..6),
    ) {
        let mut h = Harness::new(120, 40);
        for (i, key) in keys.iter().enumerate() {
            if i % 20 == 0 {
                let (w, ht) = sizes[(i / 20) % sizes.len()];
                h.resize(w, ht);
            }
            if let Some(msg) = h.app.key_to_msg(*key) {
                h.app.update(msg);
            }
            h.draw();
            assert_marks_consistent(&h);
            if h.app.quit {
                break;
            }
        }
    }
}

#[test]
fn hostile_stored_text_never_reaches_the_buffer() {
    let dir = TempDir::new().unwrap();
    let db = seeded(&dir);
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        let evil = "\u{1b}]0;pwned\u{7}Eve\u{1b}[2J\u{9b}31m\u{202e}kcah\u{200d}\0";
        conn.execute(
            "UPDATE users SET first_name = ?1, last_name = ?1, email = 'eve\u{1b}[5m@example.com' WHERE username = 'adam'",
            [evil],
        )
        .unwrap();
        conn.execute(
            "UPDATE roles SET name = ?1, description = ?1 WHERE name = 'Basic Access'",
            [evil],
        )
        .unwrap();
        conn.execute(
            "UPDATE permissions SET label = ?1 WHERE key = 'contacts'",
            [evil],
        )
        .unwrap();
    }
    let mut h = Harness::on(dir, db, 120, 40);
    let check = |h: &Harness, what: &str| {
        for cell in h.term.backend().buffer().content() {
            assert!(
                !cell.symbol().chars().any(|c| c.is_control()
                    || ('\u{202a}'..='\u{202e}').contains(&c)
                    || c == '\u{200d}'),
                "{what}: control character {:?} reached the buffer",
                cell.symbol()
            );
        }
    };
    check(&h, "users list");
    assert!(
        h.screen().contains("␛]0;pwned␇Eve"),
        "made visible, not dropped:\n{}",
        h.screen()
    );
    h.code(KeyCode::Enter);
    check(&h, "user detail");
    h.code(KeyCode::Esc);
    h.press("2");
    h.code(KeyCode::Down);
    check(&h, "roles list and preview");
    h.code(KeyCode::Enter);
    check(&h, "role editor");
    h.code(KeyCode::Esc);
    h.press("4");
    check(&h, "audit");
}

#[test]
fn bulk_role_change_on_three_tagged_users_is_one_step() {
    let mut h = Harness::new(120, 40);
    let audit_before = h.app.store.audit_count().unwrap();
    h.press("   "); // tags adam, bella, chen (Space tags and moves down)
    assert_eq!(h.app.users.tagged.len(), 3);
    h.press("r");
    assert!(
        matches!(h.app.overlay(), Some(Overlay::Pick { .. })),
        "{}",
        h.screen()
    );
    h.press("full");
    h.code(KeyCode::Enter);
    // Full Access grants more than Campaign Manager: the dialog names who gains.
    assert!(
        h.screen().contains("3 users gain") && h.screen().contains("\"adam\", \"bella\", \"chen\""),
        "{}",
        h.screen()
    );
    h.press("y");
    for name in ["adam", "bella", "chen"] {
        assert_eq!(
            h.app.store.user(name).unwrap().role,
            "Full Access",
            "{name}"
        );
    }
    assert_eq!(
        h.app.store.user("dora").unwrap().role,
        "Campaign Manager",
        "untagged users keep their role"
    );
    assert_eq!(
        h.app.store.audit_count().unwrap(),
        audit_before + 3,
        "one audit row per user"
    );
    assert!(
        h.app
            .status
            .as_ref()
            .is_some_and(|s| s.text.contains("to 3 users")),
        "{:?}",
        h.app.status
    );
    assert!(h.app.users.tagged.is_empty(), "tags clear after the change");
}

#[test]
fn snapshot_role_picker_and_compare() {
    for (w, ht) in SIZES {
        let mut h = Harness::new(w, ht);
        h.press(" r");
        snapshot("role_picker", &h);
        let mut h = Harness::new(w, ht);
        h.press("2/read");
        h.code(KeyCode::Enter);
        h.press("vcamp");
        h.code(KeyCode::Enter);
        assert!(
            matches!(h.app.overlay(), Some(Overlay::Compare { .. })),
            "{}",
            h.screen()
        );
        snapshot("compare", &h);
    }
}

#[test]
fn owner_rules_are_refused_from_the_console() {
    let mut h = Harness::new(120, 40);
    h.press("/olivia");
    h.code(KeyCode::Enter);
    assert_eq!(
        h.app.users.view.selected().map(|u| u.username.as_str()),
        Some("olivia")
    );
    let refused = |h: &Harness, needle: &str| {
        let s = h.app.status.as_ref().expect("a status");
        assert!(s.error && s.text.contains(needle), "{s:?}");
        assert!(h.app.overlay().is_none());
    };
    h.press("x");
    refused(&h, "cannot be disabled");
    h.press("d");
    refused(&h, "cannot be removed");
    h.press("o");
    refused(&h, "already the owner");
    h.press("r");
    h.press("read only");
    h.code(KeyCode::Enter);
    refused(&h, "must keep the Administrator role");
    let owner = h.app.store.user("olivia").unwrap();
    assert!(owner.owner && owner.active && owner.role == "Administrator");
    // Ownership can move, with confirmation, to an active user.
    h.code(KeyCode::Esc);
    h.press("/lena");
    h.code(KeyCode::Enter);
    h.press("oy");
    assert!(h.app.store.user("lena").unwrap().owner);
    assert!(!h.app.store.user("olivia").unwrap().owner);
}

#[test]
fn enable_disable_and_delete_ask_first() {
    let mut h = Harness::new(120, 40);
    h.press("/kofi");
    h.code(KeyCode::Enter);
    h.press("x");
    assert!(h.screen().contains("Disable \"kofi\"?"), "{}", h.screen());
    h.press("y");
    assert!(!h.app.store.user("kofi").unwrap().active);
    h.press("xy");
    assert!(h.app.store.user("kofi").unwrap().active);
    h.press("dn");
    assert!(h.app.store.user("kofi").is_ok());
    h.press("dy");
    assert!(h.app.store.user("kofi").is_err());
}

#[test]
fn read_only_refuses_every_change_key() {
    let dir = TempDir::new().unwrap();
    let db = seeded(&dir);
    let before = std::fs::read(&db).unwrap();
    let store = Store::open(&db, Access::ReadOnly).unwrap();
    let app = App::new(store, Theme::monochrome()).unwrap();
    let mut h = Harness {
        _dir: dir,
        db: db.clone(),
        app,
        term: Terminal::new(TestBackend::new(120, 40)).unwrap(),
    };
    h.draw();
    assert!(h.screen().contains("[read-only]"));
    let refused = |h: &Harness, key: &str| {
        let s = h
            .app
            .status
            .as_ref()
            .unwrap_or_else(|| panic!("{key}: no status"));
        assert!(s.error && s.text.contains("read-only"), "{key}: {s:?}");
        assert!(h.app.overlay().is_none(), "{key} opened a dialog");
    };
    for key in ["x", "o", "d", "r"] {
        h.app.status = None;
        h.press(key);
        refused(&h, key);
    }
    h.press("2");
    for key in ["n", "c", "d"] {
        h.app.status = None;
        h.press(key);
        refused(&h, key);
    }
    h.code(KeyCode::Down);
    h.code(KeyCode::Enter); // the editor opens for browsing
    for key in [" ", "a"] {
        h.app.status = None;
        h.press(key);
        refused(&h, key);
    }
    h.app.status = None;
    h.ctrl('s');
    refused(&h, "Ctrl-S");
    assert_eq!(
        h.editor().grants,
        h.app.store.role("Basic Access").unwrap().grants
    );
    assert_eq!(std::fs::read(&db).unwrap(), before, "the file is unchanged");
}

/// Runs the real CLI on the harness's database as another operator.
fn other_operator(db: &std::path::Path, args: &[&str]) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rolecall"))
        .arg("--db")
        .arg(db)
        .args(args)
        .env("USER", "mallory")
        .env_remove("SUDO_USER")
        .env_remove("SSH_CONNECTION")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_save_over_another_processs_change_is_refused_and_theirs_survives() {
    let mut h = Harness::new(120, 40);
    h.open_role("campaign");
    h.select("triggers");
    h.press(" ");
    other_operator(
        &h.db,
        &["roles", "grant", "Campaign Manager", "suppression.ip"],
    );
    h.ctrl('s');
    h.press("y");
    assert!(
        matches!(h.app.overlay(), Some(Overlay::Conflict { .. })),
        "{}",
        h.screen()
    );
    assert!(h.screen().contains("changed by mallory"), "{}", h.screen());
    let stored = h.app.store.role("Campaign Manager").unwrap();
    let catalog = h.app.store.catalog();
    assert!(
        stored.grants.keys(catalog).contains(&"suppression.ip"),
        "the other change survives"
    );
    assert!(
        !stored.grants.keys(catalog).contains(&"triggers.add"),
        "nothing of ours was written"
    );

    h.code(KeyCode::Esc);
    assert!(h.editor().is_dirty(), "Esc keeps the edit");
    h.ctrl('s');
    h.press("y");
    h.press("r");
    assert!(!h.editor().is_dirty(), "reload drops the edit");
    assert_eq!(
        h.state("suppression"),
        CheckState::Partial,
        "and shows their change"
    );

    // Overwrite, deliberately: ours replaces theirs.
    h.select("triggers");
    h.press(" ");
    other_operator(
        &h.db,
        &["roles", "revoke", "Campaign Manager", "suppression.ip"],
    );
    h.ctrl('s');
    h.press("y");
    h.press("o");
    assert!(h.app.editor.is_none(), "saved: {}", h.screen());
    let stored = h.app.store.role("Campaign Manager").unwrap();
    let keys = stored.grants.keys(h.app.store.catalog());
    assert!(keys.contains(&"triggers.add") && keys.contains(&"suppression.ip"));
}

#[test]
fn changes_by_another_process_appear_after_a_tick() {
    let mut h = Harness::new(120, 40);
    h.press("/lena");
    h.code(KeyCode::Enter);
    other_operator(
        &h.db,
        &["users", "add", "zed", "--email", "zed@example.com"],
    );
    assert!(!h.app.users.view.rows.iter().any(|u| u.username == "zed"));
    h.app.update(Msg::Tick);
    h.draw();
    assert!(
        h.app.users.view.rows.iter().any(|u| u.username == "zed"),
        "the new user is listed"
    );
    assert_eq!(
        h.app.users.view.selected().map(|u| u.username.as_str()),
        Some("lena"),
        "selection kept"
    );
    assert!(h.screen().contains("Users (15)"), "{}", h.screen());
}

impl Harness {
    fn type_text(&mut self, text: &str) {
        for c in text.chars() {
            self.key(KeyCode::Char(c), KeyModifiers::NONE);
        }
    }

    fn form(&self) -> &rolecall::tui::user_form::UserForm {
        self.app.form.as_ref().expect("form open")
    }
}

#[test]
fn snapshot_user_form_with_a_validation_error() {
    for (w, ht) in SIZES {
        let mut h = Harness::new(w, ht);
        h.press("n");
        h.type_text("nina");
        h.code(KeyCode::Tab);
        h.type_text("nina@example");
        h.code(KeyCode::Tab);
        h.type_text("Nina");
        snapshot("user_form_error", &h);
    }
}

#[test]
fn snapshot_effective_permissions_with_an_explanation() {
    for (w, ht) in SIZES {
        let mut h = Harness::new(w, ht);
        h.press("/misaki");
        h.code(KeyCode::Enter);
        h.code(KeyCode::Enter); // open misaki (Read Only)
        h.key(KeyCode::BackTab, KeyModifiers::SHIFT); // wraps to the permissions pane
        assert_eq!(h.form().focus, rolecall::tui::user_form::Field::Permissions);
        for _ in 0..11 {
            h.code(KeyCode::Down); // Contacts > Add a contact, not granted
        }
        snapshot("user_permissions", &h);
    }
}

#[test]
fn snapshot_audit_tab() {
    for (w, ht) in SIZES {
        let mut h = Harness::new(w, ht);
        h.press("4");
        let shown = h.screen();
        assert!(
            shown.contains("user.update") && shown.contains("tester"),
            "{shown}"
        );
        // Times change from run to run: blank the clock before comparing.
        let stable: String = shown
            .lines()
            .map(|l| {
                let mut out = l.to_string();
                let mut from = 0;
                while let Some(at) = out[from..].find("YYYY-MM-DDT").map(|i| i + from + 11) {
                    // A time cut short by a column keeps what is shown, blanked.
                    let end = (at..=at + 8)
                        .rev()
                        .find(|&e| {
                            out.is_char_boundary(e)
                                && out[at..e].chars().all(|c| c.is_ascii_digit() || c == ':')
                        })
                        .unwrap_or(at);
                    out.replace_range(at..end, &"hh:mm:ss"[..end - at]);
                    from = at;
                }
                out
            })
            .collect::<Vec<_>>()
            .join("\n");
        let (w, ht) = (
            h.term.backend().buffer().area.width,
            h.term.backend().buffer().area.height,
        );
        insta::assert_snapshot!(format!("audit_{w}x{ht}"), stable);
    }
}

#[test]
fn the_explanation_is_the_one_check_gives() {
    let mut h = Harness::new(120, 40);
    h.press("/misaki");
    h.code(KeyCode::Enter);
    h.code(KeyCode::Enter);
    h.key(KeyCode::BackTab, KeyModifiers::SHIFT);
    for _ in 0..11 {
        h.code(KeyCode::Down);
    }
    let catalog = h.app.store.catalog();
    let node = h.form().permissions.selected_source().unwrap();
    let key = catalog.node(node).key.clone();
    assert_eq!(key, "contacts.add");
    let decision = h.app.store.check("misaki", &key).unwrap();
    assert!(!decision.allowed);
    // The pane wraps each sentence: compare the opening of every reason, on one line.
    let screen = h.term.backend().to_string();
    assert!(screen.contains("││denied "), "{screen}");
    for reason in &decision.reasons {
        let opening: String = reason
            .split_whitespace()
            .take(6)
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            screen.contains(&format!("· {opening}")),
            "{opening}\n{screen}"
        );
    }
}

#[test]
fn a_disabled_users_pane_agrees_with_its_title_and_gives_every_reason() {
    let mut h = Harness::new(120, 40);
    h.press("/emil");
    h.code(KeyCode::Enter);
    h.code(KeyCode::Enter);
    h.key(KeyCode::BackTab, KeyModifiers::SHIFT);
    let screen = h.screen();
    let total = h.app.store.catalog().leaf_count();
    assert!(
        screen.contains(&format!("Effective permissions · 0 of {total}")),
        "{screen}"
    );
    // Campaign Manager grants all of Contact Lists, but emil is disabled: no mark and
    // no count may say otherwise.
    assert!(screen.contains("[ ] Contact Lists 0/9"), "{screen}");
    assert!(
        !screen.contains("[x]") && !screen.contains("[-]"),
        "{screen}"
    );
    let decision = h.app.store.check("emil", "contact_lists").unwrap();
    assert_eq!(decision.reasons.len(), 2, "{:?}", decision.reasons);
    for reason in &decision.reasons {
        let opening: String = reason
            .split_whitespace()
            .take(5)
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            screen.contains(&format!("· {opening}")),
            "{opening}\n{screen}"
        );
    }
}

#[test]
fn a_new_user_is_added_through_the_form() {
    let mut h = Harness::new(120, 40);
    h.press("n");
    h.type_text("nina");
    h.code(KeyCode::Tab);
    h.type_text("nina@example.com");
    h.code(KeyCode::Tab);
    h.type_text("Nina");
    for _ in 0..4 {
        h.code(KeyCode::Tab);
    }
    h.ctrl('u');
    h.type_text("europe/ro");
    h.code(KeyCode::Enter); // completes to Europe/Rome and moves on
    assert_eq!(
        h.form().text(rolecall::tui::user_form::Field::Timezone),
        "Europe/Rome"
    );
    h.ctrl('u');
    h.type_text("pt-br");
    h.code(KeyCode::Tab);
    h.code(KeyCode::Enter); // role picker
    h.type_text("campaign");
    h.code(KeyCode::Enter);
    h.ctrl('s');
    assert!(h.app.form.is_none(), "{}", h.screen());
    let nina = h.app.store.user("nina").unwrap();
    assert_eq!(
        (
            nina.email.as_str(),
            nina.first_name.as_str(),
            nina.timezone.as_str(),
            nina.language.as_str(),
            nina.role.as_str()
        ),
        (
            "nina@example.com",
            "Nina",
            "Europe/Rome",
            "pt-BR",
            "Campaign Manager"
        )
    );
    assert_eq!(
        h.app.users.view.selected().map(|u| u.username.as_str()),
        Some("nina")
    );
}

#[test]
fn an_invalid_form_saves_nothing_and_says_why() {
    let mut h = Harness::new(120, 40);
    let users = h.app.store.user_count().unwrap();
    let audit = h.app.store.audit_count().unwrap();
    h.press("n");
    h.type_text("Nina");
    h.code(KeyCode::Tab);
    h.type_text("nina@@example.com");
    h.ctrl('s');
    assert!(h.app.form.is_some(), "the form stays open");
    let status = h.app.status.clone().unwrap();
    assert!(
        status.error && status.text.starts_with("not saved: username:"),
        "{status:?}"
    );
    assert!(
        status.text.contains("2 fields need attention"),
        "{status:?}"
    );
    assert_eq!(
        h.form().focus,
        rolecall::tui::user_form::Field::Username,
        "focus goes to the first problem"
    );
    assert!(
        h.screen().contains("email: \"nina@@example.com\""),
        "{}",
        h.screen()
    );
    assert_eq!(h.app.store.user_count().unwrap(), users);
    assert_eq!(h.app.store.audit_count().unwrap(), audit);
    // A duplicate email is refused by the store with the same words as the CLI.
    h.ctrl('u');
    h.type_text("nina");
    h.code(KeyCode::Tab);
    h.ctrl('u');
    h.type_text("ADAM@example.com");
    h.ctrl('s');
    let status = h.app.status.clone().unwrap();
    assert!(
        status
            .text
            .contains("email: \"ADAM@example.com\" is already used by \"adam\""),
        "{status:?}"
    );
    assert_eq!(h.app.store.user_count().unwrap(), users);
}

#[test]
fn the_form_asks_before_discarding() {
    let mut h = Harness::new(120, 40);
    h.press("/lena");
    h.code(KeyCode::Enter);
    h.code(KeyCode::Enter);
    h.type_text("x"); // email field: lena@example.comx
    h.code(KeyCode::Esc); // leaves the field: the form's field list
    assert!(h.app.overlay().is_none(), "{}", h.screen());
    assert!(!h.form().typing && h.app.form.is_some());
    h.code(KeyCode::Esc); // leaves the form, asking first
    assert!(matches!(
        h.app.overlay(),
        Some(Overlay::Confirm {
            pending: Pending::Discard,
            ..
        })
    ));
    h.press("n");
    assert!(h.app.form.as_ref().is_some_and(|f| f.is_dirty()));
    h.code(KeyCode::Esc);
    h.press("y");
    assert!(h.app.form.is_none());
    assert_eq!(h.app.store.user("lena").unwrap().email, "lena@example.com");
}

#[test]
fn editing_a_user_saves_with_the_owner_rule_and_versions() {
    let mut h = Harness::new(120, 40);
    h.press("/lena");
    h.code(KeyCode::Enter);
    h.code(KeyCode::Enter);
    h.code(KeyCode::Tab); // first name
    h.ctrl('u');
    h.type_text("Helena");
    other_operator(&h.db, &["users", "set", "lena", "--position", "Editor"]);
    h.ctrl('s');
    assert!(
        matches!(h.app.overlay(), Some(Overlay::Conflict { .. })),
        "{}",
        h.screen()
    );
    h.press("r");
    assert_eq!(
        h.form().text(rolecall::tui::user_form::Field::Position),
        "Editor",
        "reloaded theirs"
    );
    h.code(KeyCode::Tab);
    h.ctrl('u');
    h.type_text("Helena");
    h.ctrl('s');
    let lena = h.app.store.user("lena").unwrap();
    assert_eq!(
        (lena.first_name.as_str(), lena.position.as_str()),
        ("Helena", "Editor")
    );

    // The owner's form refuses to disable them, with the rule's words.
    h.code(KeyCode::Esc);
    h.press("/olivia");
    h.code(KeyCode::Enter);
    h.code(KeyCode::Enter);
    while h.form().focus != rolecall::tui::user_form::Field::Active {
        h.code(KeyCode::Tab);
    }
    h.press(" ");
    h.ctrl('s');
    let status = h.app.status.clone().unwrap();
    assert!(
        status.error && status.text.contains("cannot be disabled"),
        "{status:?}"
    );
    assert!(h.app.store.user("olivia").unwrap().active);
}

#[test]
fn passwords_are_typed_twice_masked_and_never_shown() {
    let mut h = Harness::new(120, 40);
    h.press("/lena");
    h.code(KeyCode::Enter);
    h.press("p");
    h.type_text("s3cret-pass");
    assert!(!h.screen().contains("s3cret"), "masked:\n{}", h.screen());
    assert!(h.screen().contains("•••••••••••"));
    h.code(KeyCode::Enter);
    h.type_text("s3cret-pasS");
    h.code(KeyCode::Enter);
    assert!(
        h.app
            .status
            .as_ref()
            .is_some_and(|s| s.error && s.text.contains("differ"))
    );
    assert!(!h.app.store.user("lena").unwrap().has_password);
    h.type_text("s3cret-pass");
    h.code(KeyCode::Enter);
    h.type_text("s3cret-pass");
    h.code(KeyCode::Enter);
    assert!(h.app.store.verify_password("lena", "s3cret-pass").unwrap());
    assert!(!h.screen().contains("s3cret"));
    for entry in h.app.store.audit(50).unwrap() {
        let text = format!("{:?}{:?}", entry.before, entry.after);
        assert!(
            !text.contains("s3cret") && !text.contains("$argon2"),
            "{text}"
        );
    }
}

#[test]
fn no_color_means_no_colour_at_all() {
    use ratatui::style::{Color, Modifier};
    let dir = TempDir::new().unwrap();
    let db = seeded(&dir);
    let theme = Theme::for_env(Some("1".into()), Some("xterm-256color".into()));
    let store = Store::open(&db, Access::ReadWrite).unwrap();
    let mut h = Harness {
        _dir: dir,
        db,
        app: App::new(store, theme).unwrap(),
        term: Terminal::new(TestBackend::new(120, 40)).unwrap(),
    };
    let screens: [&dyn Fn(&mut Harness); 4] = [
        &|_h| {},
        &|h| h.press("2"),
        &|h| h.code(KeyCode::Enter),
        &|h| h.press("/cont"),
    ];
    let mut saw_reverse = false;
    for step in screens {
        step(&mut h);
        h.draw();
        for cell in h.term.backend().buffer().content() {
            assert_eq!(
                (cell.fg, cell.bg),
                (Color::Reset, Color::Reset),
                "a colour in {:?}",
                cell.symbol()
            );
            saw_reverse |= cell.modifier.contains(Modifier::REVERSED);
        }
    }
    assert!(saw_reverse, "the selection is shown in reverse video");
    assert!(
        Theme::for_env(Some("".into()), None).selected.bg.is_some(),
        "an empty NO_COLOR keeps colour"
    );
}

#[test]
fn term_linux_draws_ascii_only() {
    let dir = TempDir::new().unwrap();
    let db = seeded(&dir);
    let theme = Theme::for_env(None, Some("linux".into()));
    let store = Store::open(&db, Access::ReadWrite).unwrap();
    let mut h = Harness {
        _dir: dir,
        db,
        app: App::new(store, theme).unwrap(),
        term: Terminal::new(TestBackend::new(120, 40)).unwrap(),
    };
    h.press("2");
    h.code(KeyCode::Enter);
    h.select("contacts");
    h.code(KeyCode::Right);
    h.press("?");
    for cell in h.term.backend().buffer().content() {
        let s = cell.symbol();
        // Stored names may hold any script; the console's own drawing is ASCII.
        assert!(
            s.is_ascii() || s == "美" || s == "咲" || s == "佐" || s == "藤" || s.is_empty(),
            "{s:?}\n{}",
            h.screen()
        );
    }
}

#[test]
fn a_long_users_list_shows_its_first_page_then_loads_the_rest_in_the_background() {
    let mut h = Harness::new(120, 40);
    h.app.users.load_in_background_above = 5;
    h.app.users.view.rows = Default::default();
    h.app.reload().unwrap();
    assert!(h.app.is_loading_in_background());
    assert_eq!(h.app.users.total, 14, "the tab counts every user at once");
    h.draw();
    assert!(h.screen().contains("Users (14)"));
    assert!(
        h.screen().contains(" 4 Audit  "),
        "the log is counted in the background too, and not shown uncounted\n{}",
        h.screen()
    );
    assert!(h.app.poll_background(true), "the rest arrives");
    assert!(!h.app.is_loading_in_background());
    assert_eq!(h.app.users.view.rows.len(), 14);
    h.draw();
    let logged = h.app.store.audit_count().unwrap();
    assert!(logged > 0);
    assert!(
        h.screen().contains(&format!(" 4 Audit ({logged}) ")),
        "{}",
        h.screen()
    );
    let names: Vec<&str> = h
        .app
        .users
        .view
        .rows
        .iter()
        .map(|u| u.username.as_str())
        .collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted, "in username order, as the first page was");
}

#[test]
fn a_catalog_loaded_by_another_process_is_followed_at_once_and_keeps_the_edits() {
    let mut h = Harness::new(120, 40);
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("catalog.toml");
    let mut toml = rolecall::domain::catalog::DEFAULT_CATALOG_TOML.to_string();
    toml.push_str("\n[[permission]]\nkey = \"contacts.merge\"\nlabel = \"Merge contacts\"\n");
    std::fs::write(&file, toml).unwrap();
    let before = h.app.store.catalog().leaf_count();
    h.open_role("campaign");
    h.select("triggers");
    h.press(" ");
    assert_eq!(h.state("triggers"), CheckState::Checked);
    other_operator(&h.db, &["catalog", "load", file.to_str().unwrap()]);
    h.app.update(Msg::Tick);
    h.draw();
    assert_eq!(h.app.store.catalog().leaf_count(), before + 1);
    assert_eq!(h.state("triggers"), CheckState::Checked, "the edit is kept");
    assert!(h.screen().contains("catalog was changed"), "{}", h.screen());
    h.ctrl('s');
    h.press("y");
    let saved = h.app.store.role("Campaign Manager").unwrap();
    let catalog = h.app.store.catalog();
    assert!(
        saved
            .grants
            .keys(catalog)
            .iter()
            .any(|k| k.starts_with("triggers."))
    );
    h.code(KeyCode::Esc); // clear the roles filter
    h.open_role("admin");
    assert!(
        h.screen()
            .contains(&format!("{0} of {0} granted", before + 1)),
        "{}",
        h.screen()
    );
}

// ---- Issue 10: every action hits what the operator chose -------------------------

/// The seeded console plus roles named with digits that are also other roles' ids:
/// "7" (id 6), "Temp" (id 7, granting Triggers) and "5" (id 8; Read Only is id 5).
fn with_digit_roles() -> Harness {
    let mut h = Harness::new(120, 40);
    for name in ["7", "Temp", "5"] {
        h.app.store.create_role(name, "", None).unwrap();
    }
    let ids: Vec<(String, i64)> = ["Read Only", "7", "Temp", "5"]
        .iter()
        .map(|n| (n.to_string(), h.app.store.role(*n).unwrap().id))
        .collect();
    assert_eq!(
        ids.iter().map(|(_, id)| *id).collect::<Vec<_>>(),
        [5, 6, 7, 8],
        "the ids this test needs: {ids:?}"
    );
    let catalog = h.app.store.catalog().clone();
    h.app
        .store
        .set_permissions("Temp", &["triggers".to_string()], true, None)
        .unwrap();
    assert!(catalog.find("triggers").is_some());
    h.app.reload().unwrap();
    h.draw();
    h
}

#[test]
fn editing_a_users_name_keeps_their_role_when_a_role_is_named_like_its_id() {
    let mut h = with_digit_roles();
    h.press("/misaki");
    h.code(KeyCode::Enter);
    h.code(KeyCode::Enter);
    h.code(KeyCode::Tab); // first name
    h.ctrl('u');
    h.type_text("Misa");
    h.ctrl('s');
    let misaki = h.app.store.user("misaki").unwrap();
    assert_eq!(misaki.first_name, "Misa", "{}", h.screen());
    assert_eq!(misaki.role, "Read Only", "not the role named \"5\"");
}

#[test]
fn deleting_a_role_deletes_that_role_not_the_one_named_like_its_id() {
    let mut h = with_digit_roles();
    h.press("2/temp");
    h.code(KeyCode::Enter);
    h.press("d");
    assert!(
        h.screen().contains("Delete role \"Temp\"?"),
        "{}",
        h.screen()
    );
    h.press("y");
    assert!(h.app.store.role("Temp").is_err(), "Temp is deleted");
    assert!(
        h.app.store.role("7").is_ok(),
        "the role named \"7\" is untouched"
    );
}

#[test]
fn clone_copies_the_selected_role_not_the_one_named_like_its_id() {
    let mut h = with_digit_roles();
    h.press("2/temp");
    h.code(KeyCode::Enter);
    h.press("c");
    h.code(KeyCode::Enter);
    let copy = h.app.store.role("Copy of Temp").unwrap();
    assert_eq!(copy.grants, h.app.store.role("Temp").unwrap().grants);
    assert!(copy.grants.count() > 0);
}

#[test]
fn the_role_picker_gives_the_role_it_names() {
    let mut h = with_digit_roles();
    h.press("/lena");
    h.code(KeyCode::Enter);
    h.press("r");
    h.press("read only");
    h.code(KeyCode::Enter);
    assert_eq!(
        h.app.store.user("lena").unwrap().role,
        "Read Only",
        "{}",
        h.screen()
    );
}

#[test]
fn a_role_deleted_under_an_open_editor_is_a_conflict_not_another_role() {
    let mut h = Harness::new(120, 40);
    h.app.store.create_role("Doomed", "", None).unwrap();
    h.app.reload().unwrap();
    h.open_role("doomed");
    h.select("triggers");
    h.press(" ");
    other_operator(&h.db, &["roles", "delete", "Doomed"]);
    other_operator(&h.db, &["roles", "create", "Newcomer"]);
    h.ctrl('s');
    h.press("y");
    match h.app.overlay() {
        Some(Overlay::Conflict { conflict, .. }) => {
            assert_eq!(conflict.kind, rolecall::error::ConflictKind::Deleted);
            assert!(!conflict.can_overwrite());
        }
        other => panic!(
            "expected the conflict dialog, got {other:?}\n{}",
            h.screen()
        ),
    }
    assert!(
        h.screen().contains("was deleted by mallory"),
        "{}",
        h.screen()
    );
    h.press("o"); // not offered: nothing happens
    assert_eq!(h.app.store.role("Newcomer").unwrap().grants.count(), 0);
}

/// A catalog file: the default one with `contacts.export` turned into a category of
/// two leaves, and one leaf more.
fn reshaped_catalog(dir: &TempDir) -> std::path::PathBuf {
    let mut toml = rolecall::domain::catalog::DEFAULT_CATALOG_TOML.to_string();
    toml.push_str(
        "\n[[permission]]\nkey = \"contacts.export.csv\"\nlabel = \"Export as CSV\"\n\
         [[permission]]\nkey = \"contacts.export.pdf\"\nlabel = \"Export as PDF\"\n\
         [[permission]]\nkey = \"statistics.raw\"\nlabel = \"Raw statistics\"\n",
    );
    let file = dir.path().join("reshaped.toml");
    std::fs::write(&file, toml).unwrap();
    file
}

#[test]
fn a_save_after_another_process_reshaped_the_catalog_writes_no_grant_of_a_category() {
    let mut h = Harness::new(120, 40);
    let dir = TempDir::new().unwrap();
    let file = reshaped_catalog(&dir);
    h.open_role("campaign");
    let catalog = h.app.store.catalog();
    assert!(h.editor().grants.keys(catalog).contains(&"contacts.export"));
    h.select("triggers");
    h.press(" ");
    other_operator(
        &h.db,
        &["catalog", "load", file.to_str().unwrap(), "--prune"],
    );
    // No tick between: the save itself finds the new catalog.
    h.ctrl('s');
    h.press("y");
    // The load pruned a grant of this role (a change of its own), so the save is
    // refused as a conflict whatever else it finds.
    assert!(
        matches!(h.app.overlay(), Some(Overlay::Conflict { .. })),
        "{}",
        h.screen()
    );
    let conn = rusqlite::Connection::open(&h.db).unwrap();
    let categories: i64 = conn
        .query_row(
            "SELECT count(*) FROM role_grants g WHERE EXISTS \
             (SELECT 1 FROM permissions p WHERE p.parent = g.permission_key)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(categories, 0, "no role holds a grant of a category");
    // The editor moved onto the new catalog and kept the operator's edit; saving
    // again from there writes leaves of the new catalog only.
    let total = h.app.store.catalog().leaf_count();
    assert!(
        h.screen().contains(&format!("of {total} granted")),
        "{}",
        h.screen()
    );
    h.press("o");
    let saved = h.app.store.role("Campaign Manager").unwrap();
    let keys = saved.grants.keys(h.app.store.catalog());
    assert!(keys.iter().any(|k| k.starts_with("triggers.")), "{keys:?}");
    assert!(!keys.contains(&"contacts.export"), "{keys:?}");
}

#[test]
fn grants_read_from_an_older_catalog_are_refused_then_saved_from_the_new_one() {
    let mut h = Harness::new(120, 40);
    let dir = TempDir::new().unwrap();
    let file = reshaped_catalog(&dir);
    h.app.store.create_role("Support", "", None).unwrap();
    h.app.reload().unwrap();
    h.open_role("support");
    h.select("triggers");
    h.press(" ");
    // Support grants nothing the load touches, so only the catalog differs.
    other_operator(
        &h.db,
        &["catalog", "load", file.to_str().unwrap(), "--prune"],
    );
    h.ctrl('s');
    h.press("y");
    match h.app.overlay() {
        Some(Overlay::Conflict { conflict, .. }) => {
            assert_eq!(conflict.kind, rolecall::error::ConflictKind::Catalog);
        }
        other => panic!(
            "expected the catalog conflict, got {other:?}\n{}",
            h.screen()
        ),
    }
    assert_eq!(
        h.app.store.role("Support").unwrap().grants.count(),
        0,
        "nothing saved"
    );
    assert!(
        h.screen().contains("save again on the new catalog"),
        "{}",
        h.screen()
    );
    h.press("o");
    let saved = h.app.store.role("Support").unwrap();
    let catalog = h.app.store.catalog();
    assert_eq!(
        saved.grants.count(),
        catalog.node(catalog.find("triggers").unwrap()).leaves.len()
    );
}

#[test]
fn the_compare_dialog_survives_a_larger_catalog_loaded_by_another_process() {
    let mut h = Harness::new(120, 40);
    let dir = TempDir::new().unwrap();
    let file = reshaped_catalog(&dir);
    h.press("2/read");
    h.code(KeyCode::Enter);
    h.press("vcamp");
    h.code(KeyCode::Enter);
    assert!(matches!(h.app.overlay(), Some(Overlay::Compare { .. })));
    other_operator(
        &h.db,
        &["catalog", "load", file.to_str().unwrap(), "--prune"],
    );
    h.app.update(Msg::Tick);
    h.draw();
    match h.app.overlay() {
        Some(Overlay::Compare { a, b, .. }) => {
            let total = h.app.store.catalog().leaf_count();
            assert_eq!((a.grants.len(), b.grants.len()), (total, total));
        }
        other => panic!("the compare dialog stays, read again: {other:?}"),
    }
}

#[test]
fn the_console_stops_when_a_newer_rolecall_raises_the_schema() {
    let mut h = Harness::new(120, 40);
    let conn = rusqlite::Connection::open(&h.db).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    h.app.update(Msg::Tick);
    assert!(h.app.quit, "the console ends");
    let err = h.app.fatal.as_ref().expect("with the reason");
    assert_eq!(err.exit_code(), 4);
    assert!(err.to_string().contains("schema version 99"), "{err}");
    // And no write gets through meanwhile, whichever path it takes.
    assert_eq!(
        h.app
            .store
            .create_role("Late", "", None)
            .unwrap_err()
            .exit_code(),
        4
    );
}

// ---- Issue 11: one interaction model --------------------------------------------

fn footer(h: &Harness) -> String {
    let last = h.screen().lines().last().unwrap_or_default().to_string();
    last.trim_matches('"').to_string()
}

#[test]
fn esc_goes_back_one_level_and_only_y_discards() {
    let mut h = Harness::new(120, 40);
    h.open_role("campaign");
    h.select("triggers");
    h.press(" ");
    h.press("/export");
    h.code(KeyCode::Enter);
    assert!(
        footer(&h).contains("Esc clear the search"),
        "{}",
        footer(&h)
    );
    h.code(KeyCode::Esc);
    assert!(!h.editor().is_searching(), "first Esc clears the search");
    assert!(h.app.overlay().is_none());
    h.code(KeyCode::Tab); // the name field
    h.code(KeyCode::Esc);
    assert!(
        h.app.editor.is_some() && h.app.overlay().is_none(),
        "Esc leaves the field"
    );
    h.code(KeyCode::Esc);
    assert!(matches!(
        h.app.overlay(),
        Some(Overlay::Confirm {
            pending: Pending::Discard,
            ..
        })
    ));
    h.code(KeyCode::Enter);
    assert!(
        h.app.editor.as_ref().is_some_and(|e| e.is_dirty()),
        "Enter keeps editing"
    );
    h.code(KeyCode::Esc);
    h.press("y");
    assert!(h.app.editor.is_none(), "only y discards");
}

#[test]
fn footers_list_only_keys_that_work_here() {
    // Read-only: nothing that edits.
    let dir = TempDir::new().unwrap();
    let db = seeded(&dir);
    let store = Store::open(&db, Access::ReadOnly).unwrap();
    let mut h = Harness {
        _dir: dir,
        db,
        app: App::new(store, Theme::monochrome()).unwrap(),
        term: Terminal::new(TestBackend::new(120, 40)).unwrap(),
    };
    h.draw();
    let f = footer(&h);
    assert!(f.starts_with("q quit  ? help"), "{f}");
    for edit in ["n new", "r role", "x enable", "d delete"] {
        assert!(!f.contains(edit), "{edit} in {f}");
    }
    h.press("2");
    h.code(KeyCode::Enter); // Administrator, built in
    let f = footer(&h);
    assert!(!f.contains("Ctrl-S") && !f.contains("Space toggle"), "{f}");
    assert!(f.contains("Esc back"), "{f}");

    // An empty list offers no row keys and says what to do.
    let mut h = Harness::new(80, 24);
    h.press("/zzzz");
    h.code(KeyCode::Enter);
    let f = footer(&h);
    assert!(!f.contains("Enter open") && !f.contains("d delete"), "{f}");
    assert!(h.screen().contains("no match; Esc clears the filter"));
    // In the tree, Ctrl-S and Esc are shown at 80 columns.
    let mut h = Harness::new(80, 24);
    h.open_role("campaign");
    let f = footer(&h);
    assert!(
        f.contains("Ctrl-S save") && f.contains("Esc back") && f.contains("? help"),
        "{f}"
    );
}

#[test]
fn help_and_tabs_work_from_the_tree_but_not_a_text_field() {
    let mut h = Harness::new(120, 40);
    h.open_role("campaign");
    h.press("?");
    assert!(matches!(h.app.overlay(), Some(Overlay::Help { .. })));
    assert!(h.screen().contains("Here: role editor"), "{}", h.screen());
    h.code(KeyCode::Esc);
    h.press("/?");
    assert!(h.app.overlay().is_none(), "? is typed into the search");
    assert_eq!(h.editor().search.text(), "?");
    h.code(KeyCode::Esc);
    h.select("triggers");
    h.press(" 4");
    assert!(
        matches!(
            h.app.overlay(),
            Some(Overlay::Confirm {
                pending: Pending::Discard,
                ..
            })
        ),
        "a tab switch asks first when unsaved"
    );
    h.press("y");
    assert_eq!(h.app.tab, rolecall::tui::app::Tab::Audit);
    assert!(h.app.editor.is_none());
}

#[test]
fn overlays_scroll_and_say_there_is_more() {
    let mut h = Harness::new(80, 24);
    h.press("?");
    assert!(h.screen().contains("more (PgDn"), "{}", h.screen());
    h.code(KeyCode::End);
    assert!(!h.screen().contains("more (PgDn"), "{}", h.screen());
    h.code(KeyCode::Esc);
    h.press("2/read");
    h.code(KeyCode::Enter);
    h.press("vfull");
    h.code(KeyCode::Enter);
    assert!(h.screen().contains("more (PgDn"), "{}", h.screen());
    h.code(KeyCode::PageDown);
    assert!(h.screen().contains("↑ "), "{}", h.screen());
}

#[test]
fn an_audit_entry_shows_every_field_in_full() {
    let mut h = Harness::new(80, 24);
    let long = "x".repeat(150);
    h.app.store.create_role("Long", &long, None).unwrap();
    h.app.reload().unwrap();
    h.press("4");
    h.code(KeyCode::Enter);
    h.code(KeyCode::End);
    let joined: String = h.screen().lines().collect::<Vec<_>>().join("");
    let run = joined.matches('x').count();
    assert!(
        run >= 150,
        "the whole description is shown:\n{}",
        h.screen()
    );
}

#[test]
fn the_picker_starts_on_the_current_role_and_asks_before_more() {
    let mut h = Harness::new(120, 40);
    h.press("/misaki");
    h.code(KeyCode::Enter);
    h.press("r");
    match h.app.overlay() {
        Some(Overlay::Pick { choices, list, .. }) => {
            let at = list.selected_source().unwrap();
            assert_eq!(choices[at].1, "Read Only");
        }
        other => panic!("{other:?}"),
    }
    h.press("admin");
    h.code(KeyCode::Enter);
    let screen = h.screen();
    assert!(screen.contains("1 user gains every permission"), "{screen}");
    assert!(screen.contains("\"misaki\""), "{screen}");
    h.press("n");
    assert_eq!(h.app.store.user("misaki").unwrap().role, "Read Only");
}

#[test]
fn tags_are_visible_tag_all_and_esc_clears_them() {
    let mut h = Harness::new(120, 40);
    h.press("/marketer");
    h.code(KeyCode::Enter);
    h.ctrl('a');
    assert_eq!(h.app.users.tagged.len(), 12);
    assert!(h.screen().contains("12 tagged"), "{}", h.screen());
    h.code(KeyCode::Esc); // clears the filter first
    assert_eq!(h.app.users.tagged.len(), 12);
    h.press("/olivia");
    h.code(KeyCode::Enter);
    h.press("x");
    assert!(
        h.screen().contains("not shown by the filter"),
        "{}",
        h.screen()
    );
    h.press("n");
    h.code(KeyCode::Esc);
    h.code(KeyCode::Esc); // many tags: asks
    assert!(matches!(
        h.app.overlay(),
        Some(Overlay::Confirm {
            pending: Pending::ClearTags,
            ..
        })
    ));
    h.press("y");
    assert!(h.app.users.tagged.is_empty());
}

#[test]
fn new_role_creates_nothing_until_saved_and_checks_the_name() {
    let mut h = Harness::new(120, 40);
    let roles = h.app.store.roles().unwrap().len();
    h.press("2n");
    assert!(h.app.editor.as_ref().is_some_and(|e| e.is_new));
    assert_eq!(
        h.app.store.roles().unwrap().len(),
        roles,
        "nothing created yet"
    );
    h.type_text("read only");
    assert!(h.screen().contains("already exists"), "{}", h.screen());
    h.ctrl('s');
    assert!(
        h.app.overlay().is_none(),
        "a refused Ctrl-S leaves no dialog"
    );
    h.press("y");
    assert_eq!(
        h.editor().name.text(),
        "read onlyy",
        "a stray y stays visible in the name"
    );
    for _ in 0..10 {
        h.code(KeyCode::Backspace);
    }
    h.type_text("Support");
    h.code(KeyCode::Tab);
    h.code(KeyCode::Tab);
    h.select("triggers");
    h.press(" ");
    h.ctrl('s');
    h.press("y");
    let support = h.app.store.role("Support").unwrap();
    assert_eq!(support.grants.count(), 3);
    assert_eq!(h.app.store.roles().unwrap().len(), roles + 1);
}

#[test]
fn audit_opens_on_newest_follows_new_rows_and_filters_by_values() {
    let mut h = Harness::new(120, 40);
    h.press("4");
    assert!(h.screen().contains("CHANGE"));
    assert!(
        h.screen().contains("active: true → false"),
        "{}",
        h.screen()
    );
    other_operator(
        &h.db,
        &["users", "add", "zed", "--email", "zed@example.com"],
    );
    h.app.update(Msg::Tick);
    h.draw();
    assert_eq!(
        h.app.audit.selected().map(|a| a.target.as_str()),
        Some("zed")
    );
    h.press("/zed@example");
    h.code(KeyCode::Enter);
    assert_eq!(
        h.app.audit.selected().map(|a| a.target.as_str()),
        Some("zed"),
        "values match"
    );
    h.code(KeyCode::Esc);
    h.press("1/lena");
    h.code(KeyCode::Enter);
    h.press("f");
    assert_eq!(h.app.tab, rolecall::tui::app::Tab::Audit);
    assert!(h.app.audit.view.list.shown() >= 1);
    assert!(h.app.audit.selected().is_some_and(|a| a.target == "lena"));
    // Exactly the rows about lena: not every row whose letters spell l-e-n-a.
    let rows = &h.app.audit.view.rows;
    let about_lena = rows
        .iter()
        .filter(|a| a.target == "lena" || a.actor == "lena")
        .count();
    assert_eq!(h.app.audit.view.list.shown(), about_lena, "{}", h.screen());
    let fuzzy = h
        .app
        .audit
        .view
        .haystacks
        .iter()
        .filter(|hay| rolecall::tui::widgets::list::is_subsequence("lena", hay))
        .count();
    assert!(
        fuzzy > about_lena,
        "the fixture has rows a fuzzy filter would let through ({fuzzy} > {about_lena})"
    );
    // It stays exact when another process adds rows.
    fresh_store(&h)
        .set_active_for(&["adam".into()], false)
        .unwrap();
    h.app.update(Msg::Tick);
    assert_eq!(h.app.audit.view.list.shown(), about_lena, "{}", h.screen());
}

#[test]
fn status_belongs_to_its_place_and_long_ones_wrap() {
    let mut h = Harness::new(80, 24);
    h.press(" ");
    assert!(h.app.status.is_some());
    h.press("2");
    assert!(
        h.app.status.is_none(),
        "leaving the place clears its status"
    );
    h.app.update(Msg::Tick);
    let long = "w".repeat(120);
    h.app.status = Some(rolecall::tui::app::Status {
        text: long,
        error: false,
    });
    h.draw();
    let ws: usize = h.screen().matches('w').count();
    assert!(ws >= 120, "{}", h.screen());
}

#[test]
fn console_messages_name_console_keys() {
    let mut h = Harness::new(120, 40);
    h.press("/emil");
    h.code(KeyCode::Enter);
    h.code(KeyCode::Enter);
    h.key(KeyCode::BackTab, KeyModifiers::SHIFT);
    assert!(h.screen().contains("x on the Users tab"), "{}", h.screen());
    assert!(!h.screen().contains("rolecall users set"), "{}", h.screen());
    h.code(KeyCode::Esc);
    h.press("2/read");
    h.code(KeyCode::Enter);
    h.press("d");
    assert!(h.screen().contains("press *"), "{}", h.screen());
    assert!(!h.screen().contains("rolecall roles set-default"));
}

#[test]
fn mouse_double_click_opens_and_arrow_click_expands() {
    let mut h = Harness::new(120, 40);
    h.press("2");
    let rows = h.app.hit.get().list_rows;
    let at = ratatui::layout::Position::new(rows.x + 5, rows.y + 2);
    h.app.update(Msg::Click(at));
    h.app.update(Msg::Click(at));
    h.draw();
    assert!(
        h.app.editor.is_some(),
        "double click opens Campaign Manager"
    );
    let tree = h.app.hit.get().tree;
    // Row 1 is Contacts; its arrow is 2 columns in.
    h.app.update(Msg::Click(ratatui::layout::Position::new(
        tree.x + 2,
        tree.y + 1,
    )));
    h.draw();
    assert!(h.screen().contains("Add a contact"), "{}", h.screen());
    h.code(KeyCode::Home);
    h.code(KeyCode::Enter); // Enter on a category opens it
    assert!(h.screen().contains("Add a list"), "{}", h.screen());
}

#[test]
fn term_linux_writes_arrows_as_words() {
    let dir = TempDir::new().unwrap();
    let db = seeded(&dir);
    let store = Store::open(&db, Access::ReadWrite).unwrap();
    let mut h = Harness {
        _dir: dir,
        db,
        app: App::new(store, Theme::for_env(None, Some("linux".into()))).unwrap(),
        term: Terminal::new(TestBackend::new(120, 40)).unwrap(),
    };
    h.press("?");
    assert!(h.screen().contains("Up/k Down/j"), "{}", h.screen());
    assert!(!h.screen().contains("v/j"), "{}", h.screen());
}

#[test]
fn the_default_role_is_set_from_roles_and_marked() {
    let mut h = Harness::new(120, 40);
    h.press("2/basic");
    h.code(KeyCode::Enter);
    assert!(footer(&h).contains("* make default"), "{}", footer(&h));
    h.press("*");
    assert_eq!(h.app.store.default_role().unwrap().name, "Basic Access");
    assert!(h.screen().contains("* default"), "{}", h.screen());
}

#[test]
fn empty_lists_say_what_to_do_next() {
    let dir = TempDir::new().unwrap();
    let db = dir.path().join("rolecall.db");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rolecall"))
        .arg("--db")
        .arg(&db)
        .args(["roles", "set-default", "Read Only"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let h = Harness::on(dir, db, 80, 24);
    assert!(
        h.screen()
            .contains("no users yet: n adds the first, who becomes the owner"),
        "{}",
        h.screen()
    );
}

/// Issue 11: dialogs stack. `?` over a confirm opens the help on top; Esc closes the
/// help and the confirm is back, still holding its action; Esc again cancels it.
#[test]
fn help_opens_over_a_dialog_and_esc_closes_one_level() {
    let mut h = Harness::new(120, 40);
    h.press("/lena");
    h.code(KeyCode::Enter);
    h.press("d");
    assert!(matches!(
        h.app.overlay(),
        Some(Overlay::Confirm {
            pending: Pending::DeleteUser { .. },
            ..
        })
    ));
    h.press("?");
    assert!(matches!(h.app.overlay(), Some(Overlay::Help { .. })));
    assert_eq!(h.app.overlays().len(), 2);
    assert!(h.screen().contains("Here: "), "{}", h.screen());
    assert!(
        h.screen().contains("y/Enter"),
        "the confirm's keys: {}",
        h.screen()
    );
    h.code(KeyCode::Esc);
    assert!(
        matches!(
            h.app.overlay(),
            Some(Overlay::Confirm {
                pending: Pending::DeleteUser { .. },
                ..
            })
        ),
        "Esc closed only the help"
    );
    assert!(
        h.screen().contains("Delete user \"lena\"?"),
        "{}",
        h.screen()
    );
    h.code(KeyCode::Esc);
    assert!(h.app.overlay().is_none());
    assert!(h.app.store.user("lena").is_ok(), "nothing was deleted");
}

/// Issue 11: a status longer than its two rows ends in `…`, the footer offers
/// Ctrl-L, and Ctrl-L shows the whole message in a dialog that Esc closes.
#[test]
fn a_status_cut_short_is_readable_in_full() {
    let mut h = Harness::new(80, 24);
    let words: Vec<String> = (0..60).map(|i| format!("word{i}")).collect();
    let text = words.join(" ");
    h.app.status = Some(rolecall::tui::app::Status {
        text: text.clone(),
        error: true,
    });
    h.draw();
    let screen = h.screen();
    assert!(screen.contains('…'), "{screen}");
    assert!(!screen.contains("word59"), "{screen}");
    assert!(screen.contains("Ctrl-L whole message"), "{screen}");
    h.ctrl('l');
    assert!(matches!(h.app.overlay(), Some(Overlay::Message { .. })));
    let screen = h.screen();
    assert!(
        screen.contains("word59"),
        "the end of the message: {screen}"
    );
    h.code(KeyCode::Esc);
    assert!(h.app.overlay().is_none());
    // A short status is shown whole and the footer does not offer the key.
    h.app.status = Some(rolecall::tui::app::Status {
        text: "short".into(),
        error: false,
    });
    h.draw();
    assert!(!h.screen().contains("Ctrl-L"), "{}", h.screen());
}

/// Issue 11: Esc in the user form goes back one level at a time, as in the role
/// editor: a text field → the form's field list (Up/Down move, Enter types again,
/// `?` opens the help) → out of the form (asking first when unsaved).
#[test]
fn esc_in_the_user_form_leaves_the_field_then_the_form() {
    let mut h = Harness::new(120, 40);
    h.press("/lena");
    h.code(KeyCode::Enter);
    h.code(KeyCode::Enter);
    assert!(h.form().in_text_field());
    assert!(h.screen().contains("Esc back"), "{}", h.screen());
    h.code(KeyCode::Esc);
    assert!(!h.form().in_text_field(), "Esc left the field");
    assert!(h.app.form.is_some(), "but not the form");
    let footer = h.screen().lines().last().unwrap_or_default().to_string();
    assert!(
        footer.contains("? help") && footer.contains("Enter edit / choose"),
        "{footer}"
    );
    h.code(KeyCode::Down);
    assert_eq!(h.form().focus, rolecall::tui::user_form::Field::FirstName);
    assert!(!h.form().in_text_field());
    h.press("?");
    assert!(matches!(h.app.overlay(), Some(Overlay::Help { .. })));
    h.code(KeyCode::Esc);
    h.code(KeyCode::Enter); // types into First name again
    assert!(h.form().in_text_field());
    h.press("x");
    assert_eq!(
        h.form().text(rolecall::tui::user_form::Field::FirstName),
        "Lenax"
    );
    h.code(KeyCode::Esc);
    h.code(KeyCode::Esc);
    assert!(matches!(
        h.app.overlay(),
        Some(Overlay::Confirm {
            pending: Pending::Discard,
            ..
        })
    ));
    h.press("y");
    assert!(h.app.form.is_none());
    // An untouched form: two Esc leave it without asking.
    h.code(KeyCode::Enter);
    h.code(KeyCode::Esc);
    assert!(h.app.form.is_some());
    h.code(KeyCode::Esc);
    assert!(h.app.form.is_none() && h.app.overlay().is_none());
}

#[test]
fn a_members_pane_counts_and_explains_what_their_packages_give() {
    let mut h = Harness::new(120, 40);
    h.app.store.create_package("Exports", "", None).unwrap();
    h.app
        .store
        .set_package_roles("Exports", &["Campaign Manager".to_string()], true)
        .unwrap();
    h.app
        .store
        .set_package_members("Exports", &["misaki".into()], true)
        .unwrap();
    h.app.reload().unwrap();
    h.press("/misaki");
    h.code(KeyCode::Enter);
    h.code(KeyCode::Enter);
    let misaki = h.app.store.user("misaki").unwrap();
    let expected = h.app.store.effective_grants(&misaki).unwrap().count();
    let total = h.app.store.catalog().leaf_count();
    assert!(expected > 8, "the package adds to Read Only's 8");
    assert!(
        h.screen()
            .contains(&format!("Effective permissions · {expected} of {total}")),
        "{}",
        h.screen()
    );
    assert!(
        h.screen().contains("in package \"Exports\""),
        "{}",
        h.screen()
    );
}

/// The seeded database with a package "EU Marketing" that includes Campaign Manager
/// and has adam and bella as members.
fn with_package(width: u16, height: u16) -> Harness {
    let dir = TempDir::new().unwrap();
    let db = seeded(&dir);
    let mut store = Store::open(&db, Access::ReadWrite).unwrap();
    store.set_actor("tester");
    store
        .create_package("EU Marketing", "Campaigns for the EU.", None)
        .unwrap();
    store
        .set_package_roles("EU Marketing", &["Campaign Manager".into()], true)
        .unwrap();
    store
        .set_package_members("EU Marketing", &["adam".into(), "bella".into()], true)
        .unwrap();
    drop(store);
    Harness::on(dir, db, width, height)
}

fn fresh_store(h: &Harness) -> Store {
    let mut store = Store::open(&h.db, Access::ReadWrite).unwrap();
    store.set_actor("someone else");
    store
}

#[test]
fn snapshot_packages_tab_and_package_editor() {
    for (w, ht) in SIZES {
        let mut h = with_package(w, ht);
        h.press("3");
        let shown = h.screen();
        assert!(shown.contains("EU Marketing") && shown.contains("Campaign Manager"));
        snapshot("packages_tab", &h);
        h.code(KeyCode::Enter);
        assert!(h.app.package_editor.is_some(), "{}", h.screen());
        snapshot("package_editor", &h);
    }
}

#[test]
fn snapshot_blocked_delete_naming_packages() {
    for (w, ht) in SIZES {
        let mut h = with_package(w, ht);
        h.press("2/campaign");
        h.code(KeyCode::Enter);
        h.press("d");
        let shown = h.screen();
        assert!(
            shown.contains("EU Marketing"),
            "the warning names the package:\n{shown}"
        );
        snapshot("delete_blocked_packages", &h);
    }
}

#[test]
fn snapshot_effective_permissions_with_their_sources() {
    for (w, ht) in SIZES {
        let mut h = with_package(w, ht);
        // misaki: Read Only directly; put her into the package, then open her form.
        fresh_store(&h)
            .set_package_members("EU Marketing", &["misaki".into()], true)
            .unwrap();
        h.app.update(Msg::Tick);
        h.press("/misaki");
        h.code(KeyCode::Enter);
        h.code(KeyCode::Enter);
        let shown = h.screen();
        assert!(shown.contains("EU Marketing"), "{shown}");
        assert!(
            shown.contains("Campaign Manager in EU Marketing"),
            "a permission names the package it comes through:\n{shown}"
        );
        snapshot("user_sources", &h);
    }
}

#[test]
fn the_package_editor_adds_a_role_and_a_member_in_one_save() {
    let mut h = with_package(120, 40);
    h.press("3");
    h.code(KeyCode::Enter);
    // The roles list has the focus: find Basic Access and include it.
    h.press("/basic");
    h.code(KeyCode::Enter);
    h.press(" ");
    assert!(h.screen().contains("2 included"), "{}", h.screen());
    h.code(KeyCode::Esc); // clears the filter, stays in the editor
    assert!(h.app.package_editor.is_some());
    h.code(KeyCode::Tab);
    h.press("a");
    h.press("misaki");
    h.code(KeyCode::Enter);
    assert!(h.screen().contains("misaki"), "{}", h.screen());
    assert!(
        fresh_store(&h)
            .package(rolecall::store::PackageRef::Typed("EU Marketing".into()))
            .unwrap()
            .members
            .len()
            == 2,
        "nothing is written before Ctrl-S"
    );
    h.ctrl('s');
    let shown = h.screen();
    assert!(
        shown.contains("Roles included: \"Basic Access\"") && shown.contains("\"misaki\""),
        "the save summary lists every change:\n{shown}"
    );
    assert!(
        !shown.contains("members get"),
        "Basic Access gives nothing Campaign Manager does not:\n{shown}"
    );
    h.press("y");
    assert!(h.app.package_editor.is_none(), "{}", h.screen());
    let store = fresh_store(&h);
    let package = store
        .package(rolecall::store::PackageRef::Typed("EU Marketing".into()))
        .unwrap();
    assert_eq!(package.members, ["adam", "bella", "misaki"]);
    assert_eq!(package.role_names(), ["Basic Access", "Campaign Manager"]);
    assert!(
        store.check("misaki", "contacts.add").unwrap().allowed,
        "misaki reaches Campaign Manager through the package"
    );
}

#[test]
fn a_package_changed_by_another_process_is_an_edit_conflict() {
    let mut h = with_package(120, 40);
    h.press("3");
    h.code(KeyCode::Enter);
    h.press(" "); // include Administrator? no: the first row is Administrator
    fresh_store(&h)
        .set_package_members("EU Marketing", &["chen".into()], true)
        .unwrap();
    h.ctrl('s');
    h.press("y");
    assert!(
        matches!(h.app.overlay(), Some(Overlay::Conflict { .. })),
        "another operator saved first: {}",
        h.screen()
    );
    // Reload theirs: chen is there, the edit is gone.
    h.press("r");
    let editor = h.app.package_editor.as_ref().expect("still editing");
    assert!(editor.members.rows.iter().any(|(_, n)| n == "chen"));
    assert!(!editor.is_dirty());
}

#[test]
fn a_package_deleted_under_its_editor_is_not_saved_into_another() {
    let mut h = with_package(120, 40);
    h.press("3");
    h.code(KeyCode::Enter);
    h.press(" ");
    let mut other = fresh_store(&h);
    other
        .delete_package(
            rolecall::store::PackageRef::Typed("EU Marketing".into()),
            true,
        )
        .unwrap();
    other.create_package("EU Marketing", "", None).unwrap();
    h.ctrl('s');
    h.press("y");
    assert!(
        matches!(h.app.overlay(), Some(Overlay::Conflict { .. })),
        "the package was deleted: {}",
        h.screen()
    );
    let fresh = fresh_store(&h)
        .package(rolecall::store::PackageRef::Typed("EU Marketing".into()))
        .unwrap();
    assert!(fresh.roles.is_empty(), "the new package was left alone");
}

#[test]
fn g_puts_tagged_users_into_a_package_and_asks_when_it_grants_more() {
    let mut h = with_package(120, 40);
    h.press("/misaki");
    h.code(KeyCode::Enter);
    h.press(" ");
    h.code(KeyCode::Esc); // clears the filter, keeps the tag
    h.press("/olivia");
    h.code(KeyCode::Enter);
    h.press(" ");
    h.press("g");
    assert!(
        h.screen().contains("Package for 2 tagged users"),
        "{}",
        h.screen()
    );
    h.code(KeyCode::Enter);
    let shown = h.screen();
    assert!(
        shown.contains("It grants more") && shown.contains("\"misaki\""),
        "misaki gains permissions (olivia, Administrator, gains none):\n{shown}"
    );
    assert!(!shown.contains("\"olivia\"  "), "{shown}");
    h.press("y");
    assert!(
        h.screen().contains("put 2 users into \"EU Marketing\""),
        "{}",
        h.screen()
    );
    assert!(h.app.users.tagged.is_empty());
    assert!(
        fresh_store(&h)
            .check("misaki", "contacts.add")
            .unwrap()
            .allowed
    );
    // g again on one member: Enter takes her out, at once.
    h.code(KeyCode::Esc);
    h.press("/misaki");
    h.code(KeyCode::Enter);
    h.press("g");
    assert!(
        h.screen().contains("member: Enter takes out"),
        "{}",
        h.screen()
    );
    h.code(KeyCode::Enter);
    assert!(
        h.screen().contains("took 1 user out of \"EU Marketing\""),
        "{}",
        h.screen()
    );
    assert!(
        !fresh_store(&h)
            .check("misaki", "contacts.add")
            .unwrap()
            .allowed
    );
}

#[test]
fn the_forms_packages_field_joins_a_package_when_saved() {
    let mut h = with_package(120, 40);
    h.press("/misaki");
    h.code(KeyCode::Enter);
    h.code(KeyCode::Enter);
    // Leave the email field, then go down to Packages.
    h.code(KeyCode::Esc);
    while h.app.form.as_ref().unwrap().focus != rolecall::tui::user_form::Field::Packages {
        h.code(KeyCode::Down);
    }
    h.code(KeyCode::Enter);
    h.code(KeyCode::Enter);
    let form = h.app.form.as_ref().unwrap();
    assert_eq!(form.packages.len(), 1);
    assert!(
        form.effective.count() > 8,
        "the pane counts the package's roles before the save"
    );
    assert!(
        !fresh_store(&h)
            .check("misaki", "contacts.add")
            .unwrap()
            .allowed
    );
    h.ctrl('s');
    assert!(h.app.form.is_none(), "{}", h.screen());
    assert!(
        fresh_store(&h)
            .check("misaki", "contacts.add")
            .unwrap()
            .allowed
    );
}

#[test]
fn deleting_a_package_names_its_members_and_keeps_its_roles() {
    let mut h = with_package(120, 40);
    h.press("3d");
    let shown = h.screen();
    assert!(
        shown.contains("\"adam\", \"bella\"") && shown.contains("2 members leave it"),
        "{shown}"
    );
    h.press("n");
    assert!(fresh_store(&h).packages().unwrap().len() == 1, "n keeps it");
    h.press("d");
    h.press("y");
    assert!(
        h.screen()
            .contains("deleted package \"EU Marketing\"; 2 members left it"),
        "{}",
        h.screen()
    );
    let store = fresh_store(&h);
    assert!(store.packages().unwrap().is_empty());
    assert!(store.role("Campaign Manager").is_ok());
}

#[test]
fn packages_are_browsed_not_changed_read_only() {
    let dir = TempDir::new().unwrap();
    let db = seeded(&dir);
    Store::open(&db, Access::ReadWrite)
        .unwrap()
        .create_package("Team", "", None)
        .unwrap();
    let store = Store::open(&db, Access::ReadOnly).unwrap();
    let app = App::new(store, Theme::monochrome()).unwrap();
    let mut h = Harness {
        _dir: dir,
        db,
        app,
        term: Terminal::new(TestBackend::new(80, 24)).unwrap(),
    };
    h.press("3");
    let footer = h.screen().lines().last().unwrap().to_string();
    assert!(
        !footer.contains("n new") && !footer.contains("d delete"),
        "{footer}"
    );
    h.press("n");
    assert!(h.app.package_editor.is_none());
    assert!(h.screen().contains("read-only"), "{}", h.screen());
    h.code(KeyCode::Enter);
    let footer = h.screen().lines().last().unwrap().to_string();
    assert!(
        !footer.contains("Ctrl-S") && !footer.contains("Space"),
        "{footer}"
    );
}

#[test]
fn the_form_can_leave_a_user_with_no_direct_role() {
    let mut h = with_package(120, 40);
    h.press("/adam");
    h.code(KeyCode::Enter);
    h.code(KeyCode::Enter);
    h.code(KeyCode::Esc);
    while h.app.form.as_ref().unwrap().focus != rolecall::tui::user_form::Field::Role {
        h.code(KeyCode::Down);
    }
    h.code(KeyCode::Enter);
    h.press("no direct");
    h.code(KeyCode::Enter);
    assert!(h.screen().contains("(no direct role)"), "{}", h.screen());
    h.ctrl('s');
    assert!(
        h.screen()
            .contains("saved user \"adam\" with no direct role"),
        "{}",
        h.screen()
    );
    let store = fresh_store(&h);
    assert_eq!(store.user("adam").unwrap().role, "");
    assert!(
        store.check("adam", "contacts.add").unwrap().allowed,
        "EU Marketing still gives Campaign Manager"
    );
}

#[test]
fn a_fixed_role_of_the_catalog_opens_locked_and_is_not_deleted() {
    let dir = TempDir::new().unwrap();
    let db = seeded(&dir);
    let mut toml = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/permissions.toml"),
    )
    .unwrap();
    toml.push_str(
        "\n[[role]]\nname = \"Auditor\"\ndescription = \"Reads contacts.\"\ngrants = [\"contacts.view\"]\n",
    );
    let file = dir.path().join("catalog.toml");
    std::fs::write(&file, toml).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rolecall"))
        .arg("--db")
        .arg(&db)
        .args(["catalog", "load"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut h = Harness::on(dir, db, 120, 40);
    h.press("2/auditor");
    h.code(KeyCode::Enter);
    let footer = h.screen().lines().last().unwrap().to_string();
    assert!(
        !footer.contains("d delete"),
        "no delete on a fixed role: {footer}"
    );
    assert!(h.screen().contains("locked"), "{}", h.screen());
    h.press("d");
    assert!(h.screen().contains("fixed role"), "{}", h.screen());
    h.code(KeyCode::Enter);
    let editor = h.app.editor.as_ref().expect("opens, read-only");
    assert!(editor.locked());
    assert!(h.screen().contains("fixed, read-only"), "{}", h.screen());
    h.press(" ");
    assert!(
        h.screen()
            .contains("fixed role of the catalog; c on Roles makes an editable copy"),
        "{}",
        h.screen()
    );
    assert!(!h.app.editor.as_ref().unwrap().is_dirty());
}

/// A database on the Magnews catalog (resource types `database` and `journey`, seven
/// fixed roles), with databases "newsletter" and "crm", a role "Marketer" copied from
/// the fixed Editor, and bo holding it.
fn with_magnews(width: u16, height: u16) -> Harness {
    let dir = TempDir::new().unwrap();
    let db = dir.path().join("rolecall.db");
    let catalog =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/catalogs/magnews.toml");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rolecall"))
        .arg("--db")
        .arg(&db)
        .args(["catalog", "load"])
        .arg(&catalog)
        .arg("--prune")
        .env("USER", "seeder")
        .env_remove("SUDO_USER")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut store = Store::open(&db, Access::ReadWrite).unwrap();
    store.set_actor("tester");
    add(&mut store, "ada", "Ada", "Owner", None);
    store
        .add_resource("database", "newsletter", "Newsletter", &[])
        .unwrap();
    store.add_resource("database", "crm", "CRM", &[]).unwrap();
    store.clone_role("Editor", Some("Marketer")).unwrap();
    add(&mut store, "bo", "Bo", "Marketer", Some("Marketer"));
    drop(store);
    Harness::on(dir, db, width, height)
}

/// Roles tab, the Marketer role's editor, `e`, the newsletter database.
fn open_newsletter_exception(h: &mut Harness) {
    h.press("2/marketer");
    h.code(KeyCode::Enter);
    h.code(KeyCode::Enter);
    assert!(h.app.editor.is_some(), "{}", h.screen());
    h.press("e");
    h.press("newsletter");
    h.code(KeyCode::Enter);
    assert!(
        h.app.editor.as_ref().is_some_and(|e| e.exception.is_some()),
        "the exception editor opened:\n{}",
        h.screen()
    );
}

fn allowed_on(h: &Harness, user: &str, key: &str, spec: &str) -> bool {
    fresh_store(h).check_on(user, key, spec).unwrap().0.allowed
}

#[test]
fn snapshot_resources_tab_and_exception_editor() {
    for (w, ht) in SIZES {
        let mut h = with_magnews(w, ht);
        h.press("5");
        assert!(h.screen().contains("newsletter"), "{}", h.screen());
        snapshot("resources_tab", &h);
        open_newsletter_exception(&mut h);
        h.select("contacts.import");
        h.press(" ");
        assert!(
            h.screen().contains("≠ granted in general"),
            "{}",
            h.screen()
        );
        snapshot("exception_editor", &h);
    }
}

#[test]
fn an_exception_saved_in_the_console_decides_check_on_for_that_resource_only() {
    let mut h = with_magnews(120, 40);
    assert!(allowed_on(
        &h,
        "bo",
        "contacts.import",
        "database:newsletter"
    ));
    open_newsletter_exception(&mut h);
    // Only the permissions the type scopes are in the tree.
    let scoped = h
        .app
        .editor
        .as_ref()
        .unwrap()
        .shown_leaf_count(h.app.store.catalog());
    assert_eq!(
        scoped, 6,
        "database.settings and the five contacts permissions"
    );
    assert!(!h.screen().contains("journeys"), "{}", h.screen());
    h.select("contacts.import");
    h.press(" ");
    h.ctrl('s');
    let shown = h.screen();
    assert!(
        shown.contains("- Profile Studio: contacts > Import new contacts (granted in general)"),
        "the confirm names what differs:\n{shown}"
    );
    assert!(
        allowed_on(&h, "bo", "contacts.import", "database:newsletter"),
        "not before y"
    );
    h.press("y");
    assert!(!allowed_on(
        &h,
        "bo",
        "contacts.import",
        "database:newsletter"
    ));
    assert!(
        allowed_on(&h, "bo", "contacts.import", "database:crm"),
        "only that database"
    );
    assert!(
        fresh_store(&h)
            .check("bo", "contacts.import")
            .unwrap()
            .allowed,
        "general grant kept"
    );
    // Back in the role's own editor, whose next save is not a conflict with the exception.
    let editor = h.app.editor.as_ref().expect("back in the role editor");
    assert!(editor.exception.is_none(), "{}", h.screen());
    h.select("contacts");
    h.press(" ");
    h.ctrl('s');
    h.press("y");
    assert!(
        h.screen().contains("saved \"Marketer\""),
        "the role saves after its exception changed:\n{}",
        h.screen()
    );
}

#[test]
fn x_removes_an_exception_and_esc_goes_back_to_the_role() {
    let mut h = with_magnews(120, 40);
    fresh_store(&h)
        .set_exception(
            RoleRef::Typed("Marketer".into()),
            "database:newsletter",
            &[],
            &["contacts.view".into()],
        )
        .unwrap();
    assert!(!allowed_on(
        &h,
        "bo",
        "contacts.view",
        "database:newsletter"
    ));
    open_newsletter_exception(&mut h);
    h.code(KeyCode::Esc);
    assert!(
        h.app.editor.as_ref().is_some_and(|e| e.exception.is_none()),
        "Esc leaves the exception for the role's editor: {}",
        h.screen()
    );
    h.press("e");
    assert!(h.screen().contains("(has an exception)"), "{}", h.screen());
    h.press("newsletter");
    h.code(KeyCode::Enter);
    h.press("x");
    assert!(
        h.screen().contains("Remove the exception"),
        "{}",
        h.screen()
    );
    h.press("y");
    assert!(allowed_on(&h, "bo", "contacts.view", "database:newsletter"));
    assert!(
        h.screen().contains("removed the exception"),
        "{}",
        h.screen()
    );
}

#[test]
fn exceptions_are_not_offered_on_fixed_or_unsaved_roles() {
    let mut h = with_magnews(120, 40);
    h.press("2/editor");
    h.code(KeyCode::Enter);
    h.code(KeyCode::Enter);
    let footer = h.screen().lines().last().unwrap().to_string();
    assert!(!footer.contains("e exceptions"), "{footer}");
    h.code(KeyCode::Esc);
    h.code(KeyCode::Esc);
    h.press("/marketer");
    h.code(KeyCode::Enter);
    h.code(KeyCode::Enter);
    assert!(h.screen().lines().last().unwrap().contains("e exceptions"));
    h.press(" ");
    h.press("e");
    assert!(
        h.screen()
            .contains("save or discard your changes to the role first"),
        "{}",
        h.screen()
    );
    assert!(h.app.overlay().is_none());
}

#[test]
fn who_can_from_a_resource_row_names_users_and_paths() {
    let mut h = with_magnews(120, 40);
    fresh_store(&h)
        .set_exception(
            RoleRef::Typed("Marketer".into()),
            "database:crm",
            &[],
            &["contacts.view".into()],
        )
        .unwrap();
    h.app.update(Msg::Tick);
    h.press("5/crm");
    h.code(KeyCode::Enter);
    h.code(KeyCode::Enter);
    h.press("contacts.view");
    h.code(KeyCode::Enter);
    let shown = h.screen();
    assert!(
        shown.contains("Who can contacts.view on database:crm"),
        "{shown}"
    );
    assert!(shown.contains("ada"), "{shown}");
    assert!(
        !shown.contains("  bo  "),
        "bo's exception denies it there:\n{shown}"
    );
    h.code(KeyCode::Esc);
    h.code(KeyCode::Esc);
    h.press("/news");
    h.code(KeyCode::Enter);
    h.press("w");
    h.press("contacts.view");
    h.code(KeyCode::Enter);
    assert!(
        h.screen().contains("bo  ← Marketer (direct)"),
        "{}",
        h.screen()
    );
}

#[test]
fn without_resource_types_there_is_no_resources_tab() {
    let mut h = Harness::new(120, 40);
    assert!(!h.screen().contains("Resources"));
    h.press("5");
    assert!(h.screen().contains("no Resources tab"), "{}", h.screen());
    assert_eq!(h.app.tab, rolecall::tui::app::Tab::Users);
}

#[test]
fn esc_leaves_the_package_editor_after_clearing_its_filter() {
    let mut h = with_package(80, 24);
    h.press("3");
    h.code(KeyCode::Enter);
    assert!(h.app.package_editor.is_some());
    h.press("/basic");
    h.code(KeyCode::Enter);
    assert!(
        h.screen()
            .lines()
            .last()
            .unwrap()
            .contains("Esc clear the search")
    );
    h.code(KeyCode::Esc);
    assert!(
        h.app.package_editor.is_some(),
        "the first Esc clears the filter"
    );
    assert!(!h.screen().contains("/basic"), "{}", h.screen());
    h.code(KeyCode::Esc);
    assert!(
        h.app.package_editor.is_none(),
        "the second leaves the unchanged editor: {}",
        h.screen()
    );
}

#[test]
fn a_catalog_change_closes_an_open_exception_editor_instead_of_misreading_it() {
    let mut h = with_magnews(120, 40);
    open_newsletter_exception(&mut h);
    let small = h.db.with_file_name("small.toml");
    std::fs::write(
        &small,
        "[[permission]]\nkey = \"contacts\"\nlabel = \"Contacts\"\n\n[[permission]]\nkey = \"contacts.view\"\nlabel = \"View\"\n\n[[resource_type]]\nkey = \"database\"\nlabel = \"Database\"\nscoped = [\"contacts\"]\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rolecall"))
        .arg("--db")
        .arg(&h.db)
        .args(["catalog", "load"])
        .arg(&small)
        .arg("--prune")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    h.app.update(Msg::Tick);
    h.draw();
    let editor = h.app.editor.as_ref().expect("the role's editor stays");
    assert!(editor.exception.is_none(), "{}", h.screen());
    assert!(
        h.screen().contains("the exception editor was closed"),
        "{}",
        h.screen()
    );
    h.press(" ");
    h.draw();
}

#[test]
fn an_exception_changed_by_another_process_is_not_saved_over() {
    let mut h = with_magnews(120, 40);
    open_newsletter_exception(&mut h);
    fresh_store(&h)
        .set_exception(
            RoleRef::Typed("Marketer".into()),
            "database:newsletter",
            &[],
            &["contacts.view".into(), "contacts.import".into()],
        )
        .unwrap();
    h.select("contacts");
    h.press(" ");
    h.ctrl('s');
    h.press("y");
    assert!(
        h.screen()
            .contains("was changed by another process since you opened it"),
        "{}",
        h.screen()
    );
    assert!(
        !allowed_on(&h, "bo", "contacts.view", "database:newsletter"),
        "theirs stands"
    );
}

#[test]
fn a_role_changed_elsewhere_stays_a_conflict_after_an_exception_is_saved() {
    let mut h = with_magnews(120, 40);
    h.press("2/marketer");
    h.code(KeyCode::Enter);
    h.code(KeyCode::Enter);
    fresh_store(&h)
        .set_permissions(
            RoleRef::Typed("Marketer".into()),
            &["security".into()],
            true,
            None,
        )
        .unwrap();
    h.press("e");
    h.press("crm");
    h.code(KeyCode::Enter);
    h.select("contacts");
    h.press(" ");
    h.ctrl('s');
    h.press("y");
    // The exception is measured against the role as it was read: the store refuses it.
    assert!(
        h.screen()
            .contains("was changed by another process since you opened it"),
        "{}",
        h.screen()
    );
    assert!(
        allowed_on(&h, "bo", "contacts.view", "database:crm"),
        "nothing saved"
    );
    h.code(KeyCode::Esc);
    h.press("y");
    assert!(h.app.editor.as_ref().is_some_and(|e| e.exception.is_none()));
    h.select("contacts");
    h.press(" ");
    h.ctrl('s');
    h.press("y");
    assert!(
        matches!(h.app.overlay(), Some(Overlay::Conflict { .. })),
        "the other operator's grant is not undone silently: {}",
        h.screen()
    );
}

#[test]
fn e_is_refused_on_fixed_new_and_exception_editors() {
    let mut h = with_magnews(120, 40);
    h.press("2/editor");
    h.code(KeyCode::Enter);
    h.code(KeyCode::Enter);
    h.press("e");
    assert!(h.app.overlay().is_none(), "{}", h.screen());
    assert!(
        h.screen().contains("fixed role of the catalog"),
        "{}",
        h.screen()
    );
    h.code(KeyCode::Esc);
    h.code(KeyCode::Esc);
    h.press("n");
    h.code(KeyCode::Esc);
    h.press("e");
    assert!(
        h.screen().contains("save the new role first"),
        "{}",
        h.screen()
    );
    h.code(KeyCode::Esc);
    h.code(KeyCode::Esc);
    open_newsletter_exception(&mut h);
    h.press("e");
    assert!(h.app.overlay().is_none());
    assert!(
        h.screen().contains("this is an exception already"),
        "{}",
        h.screen()
    );
}

#[test]
fn the_role_editor_counts_users_who_reach_the_role_through_packages() {
    let mut h = with_package(120, 40);
    h.press("2/campaign");
    h.code(KeyCode::Enter);
    h.code(KeyCode::Enter);
    assert!(
        h.screen()
            .contains("12 users hold it directly and 2 users reach it through packages"),
        "{}",
        h.screen()
    );
}

#[test]
fn moving_a_deleted_roles_users_to_a_role_that_grants_more_asks_first() {
    let mut h = with_package(120, 40);
    h.press("2/campaign");
    h.code(KeyCode::Enter);
    h.press("d");
    // Up to Administrator in the way-forward list, then Enter.
    for _ in 0..5 {
        h.code(KeyCode::Up);
    }
    h.code(KeyCode::Enter);
    let shown = h.screen();
    assert!(
        shown.contains("Move everything to \"Administrator\"? It grants more")
            && shown.contains("every permission")
            && shown.contains("12 users holding \"Campaign Manager\" directly")
            && shown.contains("1 package (2 users in them)"),
        "{shown}"
    );
    h.press("n");
    assert!(
        fresh_store(&h).role("Campaign Manager").is_ok(),
        "n changes nothing"
    );
    assert!(h.app.overlay().is_none());
}

#[test]
fn including_a_role_that_grants_more_says_what_the_members_get() {
    let mut h = with_package(120, 40);
    h.press("3");
    h.code(KeyCode::Enter);
    h.press("/admin");
    h.code(KeyCode::Enter);
    h.press(" ");
    h.ctrl('s');
    let shown = h.screen();
    assert!(
        shown.contains("Its 2 members get every permission"),
        "{shown}"
    );
}

#[test]
fn a_package_that_changed_after_the_delete_dialog_is_not_deleted_on_that_answer() {
    let mut h = with_package(120, 40);
    h.press("3d");
    assert!(h.screen().contains("2 members leave it"), "{}", h.screen());
    fresh_store(&h)
        .set_package_members("EU Marketing", &["chen".into()], true)
        .unwrap();
    h.press("y");
    assert!(
        h.screen()
            .contains("was changed by another process since you asked"),
        "{}",
        h.screen()
    );
    assert_eq!(
        fresh_store(&h).packages().unwrap().len(),
        1,
        "chen was not dropped unasked"
    );
}

/// The title bar of a console on PostgreSQL names the database: the URL (never its
/// password) when it fits, else shorter forms of it ending in the database's name,
/// never the socket folder of a `?host=` parameter (which is the last segment of
/// the URL's text, taken for a file name before).
#[test]
fn the_title_names_a_postgres_database_not_its_socket_folder() {
    let Some(server) = common::pg_server() else {
        return;
    };
    if !server.contains("host=/") {
        eprintln!("skipped: the test server is not reached through a socket folder");
        return;
    }
    let pg = common::PgDatabase::create(&server);
    let url = std::path::PathBuf::from(&pg.url);
    let socket_folder = server
        .rsplit('/')
        .next()
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_string();
    {
        let mut store = Store::open(&url, Access::ReadWrite).unwrap();
        store.set_actor("tester");
        add(&mut store, "olivia", "Olivia", "Owner", None);
    }
    let mut h = Harness::on(TempDir::new().unwrap(), url, 120, 30);
    let title = |h: &Harness| {
        h.term
            .backend()
            .to_string()
            .lines()
            .next()
            .unwrap()
            .to_string()
    };
    for (width, want) in [
        // Room for the URL less its parameters.
        (120, pg.url.split('?').next().unwrap().to_string()),
        // Room for the database's name, cut at its end.
        (80, "…/rolecall_test_".to_string()),
    ] {
        h.resize(width, 30);
        let top = title(&h);
        assert!(top.contains(&want), "at {width} columns: {top}");
        assert!(
            !top.contains(&socket_folder),
            "at {width} columns the title names the socket folder: {top}"
        );
        assert!(top.contains(" 1 Users (1) "), "the tabs are whole: {top}");
    }
    // Wide enough, the whole URL.
    h.resize(220, 30);
    assert!(title(&h).contains(&pg.url), "{}", title(&h));
}

/// A user deleted and added again under the same name while a dialog is open is not
/// the user the operator chose: the answer is refused as a conflict and the new user
/// is left as they were (the review found `d`, `x` and `r` acting on the new row).
#[test]
fn a_dialog_for_a_user_deleted_and_added_again_spares_the_new_user() {
    for key in ["d", "x"] {
        let mut h = Harness::new(120, 40);
        h.press("/lena");
        h.code(KeyCode::Enter);
        h.press(key);
        assert!(
            matches!(h.app.overlay(), Some(Overlay::Confirm { .. })),
            "{key}: {}",
            h.screen()
        );
        let old = h.app.store.user("lena").unwrap();
        let mut other = fresh_store(&h);
        other.remove_user("lena").unwrap();
        add(&mut other, "lena", "Another", "Lena", None);
        let new = other.user("lena").unwrap();
        assert_ne!(new.id, old.id);
        h.press("y");
        let after = fresh_store(&h).user("lena").unwrap();
        assert_eq!(after.id, new.id, "{key}: the new user is still there");
        assert!(after.active, "{key}: the new user was not disabled");
        assert_eq!(
            after.version, new.version,
            "{key}: nothing was written to them"
        );
        assert!(
            h.screen().contains("user \"lena\" was deleted"),
            "{key}: {}",
            h.screen()
        );
    }
}

/// The same for the store calls the console makes with the rows it read: a role,
/// a package or an edit saved over the form's version (overwrite) never reaches a
/// user who only shares the name.
#[test]
fn changes_for_a_user_row_read_before_never_reach_a_new_user_of_that_name() {
    let h = Harness::new(120, 40);
    let mut store = fresh_store(&h);
    store.create_package("Exports", "", None).unwrap();
    let old = store.user("lena").unwrap();
    let row = UserRef::Row {
        id: old.id,
        username: old.username.clone(),
    };
    store.remove_user("lena").unwrap();
    add(&mut store, "lena", "Another", "Lena", None);
    let new = store.user("lena").unwrap();
    let deleted = |e: rolecall::error::Error| {
        assert!(e.to_string().contains("user \"lena\" was deleted"), "{e}");
    };
    deleted(
        store
            .set_role_for(std::slice::from_ref(&row), "Administrator")
            .unwrap_err(),
    );
    deleted(
        store
            .set_active_for(std::slice::from_ref(&row), false)
            .unwrap_err(),
    );
    deleted(
        store
            .set_package_members("Exports", std::slice::from_ref(&row), true)
            .unwrap_err(),
    );
    deleted(store.transfer_ownership(row.clone()).unwrap_err());
    let change = UserChange {
        email: Some("old@example.com".into()),
        ..UserChange::default()
    };
    let refused = store
        .update_user(row.clone(), Some(new.version), change)
        .unwrap_err();
    match &refused {
        rolecall::error::Error::Conflict(c) => assert!(!c.can_overwrite(), "{refused}"),
        other => panic!("{other}"),
    }
    deleted(store.remove_user(row).unwrap_err());
    let after = store.user("lena").unwrap();
    assert_eq!(
        after.version, new.version,
        "nothing was written to the new lena"
    );
    assert_eq!(after.email, new.email);
    assert!(store.package("Exports").unwrap().members.is_empty());
}
