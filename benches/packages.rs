//! What packages cost the application and the operator (issue 12's targets), on a real
//! SQLite file: 100,000 users, 50 packages of one or two roles, three packages a user
//! on average.
//!
//! - `view_lookup`: `SELECT 1 FROM user_permissions WHERE username = ? AND
//!   permission_key = ?`, the application's point query (target 0.1 ms);
//! - `check`: the store's decision for one user and leaf, as `rolecall check` makes it;
//! - `who_can`: every user allowed one leaf, with their paths (target 300 ms).
//!
//! `cargo bench --bench packages`; `ROLECALL_BENCH_USERS=10000` for a smaller file.
//! The query plans of the view lookups are printed first (they must search indexes).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use rolecall::store::{Access, Store};
use tempfile::TempDir;

const PACKAGES: usize = 50;

fn users() -> usize {
    std::env::var("ROLECALL_BENCH_USERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000)
}

/// A database of `n` demo users in 50 packages, about three each.
fn database(dir: &TempDir, n: usize) -> (Store, Vec<String>) {
    let path = dir.path().join("bench.db");
    let mut store = Store::open(&path, Access::ReadWrite).expect("a new database");
    store.set_actor("bench");
    let users = rolecall::demo::users(n);
    let names: Vec<String> = users.iter().map(|u| u.username.clone()).collect();
    store.add_users(users).expect("users added");
    let roles = [
        "Read Only",
        "Basic Access",
        "Campaign Manager",
        "Full Access",
    ];
    for p in 0..PACKAGES {
        let name = format!("Team {p:02}");
        store.create_package(&name, "", None).expect("package");
        let mut included = vec![roles[p % roles.len()].to_string()];
        if p % 3 == 0 {
            included.push(roles[(p + 1) % roles.len()].to_string());
        }
        store
            .set_package_roles(name.as_str(), &included, true)
            .expect("roles");
    }
    // Three packages a user on average: 1 to 5, spread by a fixed stride.
    let memberships: Vec<(String, Vec<String>)> = names
        .iter()
        .enumerate()
        .skip(1)
        .map(|(i, name)| {
            let count = 1 + i % 5;
            let packages = (0..count)
                .map(|k| format!("Team {:02}", (i * 7 + k * 11) % PACKAGES))
                .collect();
            (name.clone(), packages)
        })
        .collect();
    store.join_packages(&memberships).expect("memberships");
    (store, names)
}

fn packages(c: &mut Criterion) {
    let dir = TempDir::new().expect("a temporary folder");
    let (store, names) = database(&dir, users());
    let conn = store.connection();
    for sql in [
        "EXPLAIN QUERY PLAN SELECT 1 FROM user_permissions WHERE username = 'x' AND permission_key = 'contacts.export'",
        "EXPLAIN QUERY PLAN SELECT role_name, package_name FROM user_permission_sources WHERE username = 'x' AND permission_key = 'contacts.export'",
    ] {
        let mut stmt = conn.prepare(sql).expect("explain");
        let plan: Vec<String> = stmt
            .query_map([], |r| r.get::<_, String>(3))
            .expect("plan")
            .map(|r| r.expect("row"))
            .collect();
        eprintln!("{sql}\n  {}", plan.join("\n  "));
    }

    let mut group = c.benchmark_group("packages");
    group.sample_size(20);
    let mut i = 0usize;
    group.bench_function("view_lookup", |b| {
        let mut stmt = conn
            .prepare_cached(
                "SELECT 1 FROM user_permissions WHERE username = ?1 AND permission_key = ?2",
            )
            .expect("prepared");
        b.iter(|| {
            i = (i + 7919) % names.len();
            let found = stmt
                .exists(rusqlite::params![names[i], "contacts.export"])
                .expect("query");
            black_box(found)
        })
    });
    group.bench_function("check", |b| {
        b.iter(|| {
            i = (i + 7919) % names.len();
            black_box(store.check(&names[i], "contacts.export").expect("check"))
        })
    });
    group.sample_size(10);
    group.bench_function("who_can_one_leaf", |b| {
        b.iter(|| {
            black_box(
                store
                    .who_can("contacts.export")
                    .expect("who-can")
                    .users
                    .len(),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, packages);
criterion_main!(benches);
