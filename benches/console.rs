//! The console's costs per keystroke and per save, measured on real parts: the list
//! model and the views on ratatui's TestBackend, the role editor's tree, and the store
//! on a SQLite file in a temporary folder.
//!
//! `cargo bench --bench console` runs them all. `ROLECALL_BENCH_SIZES=1000,10000`
//! limits the list sizes (the default goes up to 1,000,000 rows for the filter and
//! 100,000 users for the database benchmarks).

use std::hint::black_box;
use std::path::Path;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use crossterm::event::{KeyCode, KeyEvent};
use fuzzy_matcher::skim::SkimMatcherV2;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use rolecall::domain::catalog::{Catalog, Grants};
use rolecall::domain::role::Role;
use rolecall::store::{Access, RoleUpdate, Store};
use rolecall::tui::app::{App, Msg};
use rolecall::tui::editor::RoleEditor;
use rolecall::tui::keys::Action;
use rolecall::tui::theme::Theme;
use rolecall::tui::views;
use rolecall::tui::widgets::list::FilteredList;
use tempfile::TempDir;

fn sizes(default: &[usize]) -> Vec<usize> {
    match std::env::var("ROLECALL_BENCH_SIZES") {
        Ok(list) => list
            .split(',')
            .filter_map(|n| n.trim().parse().ok())
            .collect(),
        Err(_) => default.to_vec(),
    }
}

fn label(n: usize) -> String {
    match n {
        n if n >= 1_000_000 => format!("{}M", n / 1_000_000),
        n if n >= 1_000 => format!("{}k", n / 1_000),
        n => n.to_string(),
    }
}

/// The users filter's haystacks for `n` demo users, as the console builds them.
fn haystacks(n: usize) -> Vec<String> {
    rolecall::demo::users(n)
        .iter()
        .map(|u| {
            format!(
                "{} {} {} {}",
                u.username, u.profile.first_name, u.profile.last_name, u.profile.email
            )
            .to_lowercase()
        })
        .collect()
}

fn typed(list: &mut FilteredList, text: &str, hay: &[String], m: &SkimMatcherV2) {
    for c in text.chars() {
        list.query.handle(&KeyEvent::from(KeyCode::Char(c)));
        list.refilter(hay, m);
    }
}

/// One letter typed into the users filter: the first letter (everything is scanned)
/// and a later one (only the previous matches are).
fn filter_letter(c: &mut Criterion) {
    let m = SkimMatcherV2::default();
    let mut group = c.benchmark_group("filter_letter");
    group.sample_size(20);
    for n in sizes(&[1_000, 10_000, 100_000, 1_000_000]) {
        let hay = haystacks(n);
        group.bench_function(format!("first_{}", label(n)), |b| {
            b.iter_batched_ref(
                || FilteredList::new(hay.len()),
                |list| typed(list, "s", &hay, &m),
                BatchSize::LargeInput,
            )
        });
        group.bench_function(format!("fourth_{}", label(n)), |b| {
            b.iter_batched_ref(
                || {
                    let mut list = FilteredList::new(hay.len());
                    typed(&mut list, "smi", &hay, &m);
                    list
                },
                |list| typed(list, "t", &hay, &m),
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

/// A database of `n` demo users in `dir`.
fn demo_db(dir: &Path, n: usize) -> std::path::PathBuf {
    let path = dir.join(format!("users-{n}.db"));
    let mut store = Store::open(&path, Access::ReadWrite).unwrap();
    store.add_users(rolecall::demo::users(n)).unwrap();
    path
}

/// A frame of the users list after Down, and loading the list from the store.
fn users_list(c: &mut Criterion) {
    let dir = TempDir::new().unwrap();
    let mut group = c.benchmark_group("users_list");
    group.sample_size(20);
    for n in sizes(&[1_000, 100_000])
        .into_iter()
        .filter(|n| *n <= 100_000)
    {
        let path = demo_db(dir.path(), n);
        let store = Store::open(&path, Access::ReadWrite).unwrap();
        group.bench_function(format!("store_load_{}", label(n)), |b| {
            b.iter(|| black_box(store.user_rows().unwrap().len()))
        });
        let mut app = App::new(store, Theme::colour()).unwrap();
        app.poll_background(true);
        let mut term = Terminal::new(TestBackend::new(120, 40)).unwrap();
        term.draw(|f| views::draw(&app, f)).unwrap();
        group.bench_function(format!("down_and_frame_{}", label(n)), |b| {
            b.iter(|| {
                app.update(Msg::Action(Action::Down));
                term.draw(|f| views::draw(&app, f)).unwrap();
            })
        });
        group.bench_function(format!("check_{}", label(n)), |b| {
            b.iter(|| black_box(app.store.check("owner", "contacts.export").unwrap().allowed))
        });
    }
    group.finish();
}

/// A catalog of 50 categories with 100 permissions each.
fn big_catalog() -> Catalog {
    let mut toml = String::new();
    for c in 0..50 {
        toml.push_str(&format!(
            "[[permission]]\nkey = \"module{c:02}\"\nlabel = \"Module {c}\"\n"
        ));
        for l in 0..100 {
            toml.push_str(&format!(
                "[[permission]]\nkey = \"module{c:02}.action{l:03}\"\nlabel = \"Action {l} of module {c}\"\ndescription = \"Lets a user do action {l}\"\n"
            ));
        }
    }
    Catalog::from_toml(&toml).unwrap()
}

/// Space on a category and Check All in the editor, 5,000 leaves.
fn editor_tree(c: &mut Criterion) {
    let catalog = big_catalog();
    assert_eq!(catalog.leaf_count(), 5_000);
    let role = Role {
        id: 1,
        name: "Big".into(),
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
    let mut editor = RoleEditor::new(&catalog, &role, Theme::colour());
    let category = catalog.find("module07").unwrap();
    let mut group = c.benchmark_group("editor_5000_leaves");
    group.bench_function("toggle_category", |b| {
        b.iter(|| editor.toggle(&catalog, category))
    });
    group.bench_function("toggle_leaf", |b| {
        let leaf = catalog.find("module07.action042").unwrap();
        b.iter(|| editor.toggle(&catalog, leaf))
    });
    group.bench_function("check_all", |b| b.iter(|| editor.check_all(&catalog)));
    let matcher = SkimMatcherV2::default();
    group.bench_function("search_letter", |b| {
        b.iter(|| {
            editor.search.clear();
            editor.search.handle(&KeyEvent::from(KeyCode::Char('7')));
            editor.apply_search(&catalog, &matcher);
        })
    });
    group.finish();
}

/// Saving a role whose 5,000 grants all change, and back: one transaction each.
fn role_save(c: &mut Criterion) {
    let dir = TempDir::new().unwrap();
    let mut store = Store::open(&dir.path().join("big.db"), Access::ReadWrite).unwrap();
    store.catalog_load(&big_catalog(), true).unwrap();
    let id = store.create_role("Big", "", None).unwrap().id;
    let catalog = store.catalog().clone();
    let mut on = true;
    let mut group = c.benchmark_group("role_save");
    group.sample_size(20);
    group.bench_function("5000_grants", |b| {
        b.iter(|| {
            let grants = if on {
                Grants::all(&catalog)
            } else {
                Grants::none(&catalog)
            };
            on = !on;
            store
                .edit_role(id, None, |_, _| {
                    Ok(RoleUpdate {
                        grants: Some(grants),
                        ..RoleUpdate::default()
                    })
                })
                .unwrap();
        })
    });
    group.finish();
}

criterion_group!(benches, filter_letter, users_list, editor_tree, role_save);
criterion_main!(benches);
