//! What resources cost the application (issue 13): the `user_resource_permissions`
//! view's point query, `check --on` and `who-can --on`, on a real SQLite file of
//! 100,000 users in 50 packages and 1,000 resources (500 databases, 500 team-owned
//! lists, each list assigned to one package), with exceptions for two roles on 50
//! resources each.
//!
//! `cargo bench --bench resources`; `ROLECALL_BENCH_USERS=10000` for a smaller file.
//! The query plans of the point queries are printed first (they must search indexes).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use rolecall::domain::resource::CatalogFile;
use rolecall::store::{Access, ResourceEntry, Store};
use tempfile::TempDir;

const PACKAGES: usize = 50;
const RESOURCES: usize = 1000;

fn users() -> usize {
    std::env::var("ROLECALL_BENCH_USERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000)
}

/// The default catalog with a bypass permission and two resource types.
fn catalog() -> CatalogFile {
    let mut text = rolecall::domain::catalog::DEFAULT_CATALOG_TOML.to_string();
    text.push_str(
        r#"
[[permission]]
key = "administration.all_lists"
label = "Assign Team Resources"

[[resource_type]]
key = "database"
label = "Database"
scoped = ["contacts", "segmentation"]

[[resource_type]]
key = "list"
label = "List"
scoped = ["contact_lists"]
team_owned = true
bypass = "administration.all_lists"
"#,
    );
    CatalogFile::from_toml(&text).expect("a valid catalog")
}

fn database(dir: &TempDir, n: usize) -> (Store, Vec<String>) {
    let path = dir.path().join("bench.db");
    let mut store = Store::open(&path, Access::ReadWrite).expect("a new database");
    store.set_actor("bench");
    store.use_large_cache().expect("cache");
    store
        .catalog_load_file(&catalog(), false, false)
        .expect("catalog");
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
    let entries: Vec<ResourceEntry> = (0..RESOURCES)
        .map(|i| {
            let list = i % 2 == 1;
            ResourceEntry {
                type_key: if list { "list" } else { "database" }.into(),
                key: format!("r{i:04}"),
                label: String::new(),
                packages: if list {
                    vec![format!("Team {:02}", i % PACKAGES)]
                } else {
                    Vec::new()
                },
            }
        })
        .collect();
    store
        .load_resources(&entries, false, false)
        .expect("resources");
    for i in (0..100).step_by(2) {
        store
            .set_exception(
                "Campaign Manager",
                &format!("database:r{i:04}"),
                &[],
                &["contacts.export".to_string()],
            )
            .expect("exception");
        store
            .set_exception(
                "Read Only",
                &format!("list:r{:04}", i + 1),
                &[],
                &["contact_lists.view".to_string()],
            )
            .expect("exception");
    }
    (store, names)
}

fn resources(c: &mut Criterion) {
    let dir = TempDir::new().expect("a temporary folder");
    let (store, names) = database(&dir, users());
    let conn = store.connection();
    for sql in [
        "EXPLAIN QUERY PLAN SELECT permission_key FROM user_resource_permissions WHERE username = 'x' AND resource_type = 'database' AND resource_key = 'r0000'",
        "EXPLAIN QUERY PLAN SELECT 1 FROM user_resource_permissions WHERE username = 'x' AND resource_type = 'list' AND resource_key = 'r0001' AND permission_key = 'contact_lists.view'",
    ] {
        let mut stmt = conn.prepare(sql).expect("explain");
        let plan: Vec<String> = stmt
            .query_map([], |r| r.get::<_, String>(3))
            .expect("plan")
            .map(|r| r.expect("row"))
            .collect();
        eprintln!("{sql}\n  {}", plan.join("\n  "));
    }

    let mut group = c.benchmark_group("resources");
    group.sample_size(20);
    let mut i = 0usize;
    let resource = |i: usize| {
        let r = i % RESOURCES;
        (
            if r % 2 == 1 { "list" } else { "database" },
            format!("r{r:04}"),
        )
    };
    group.bench_function("view_one_user_one_resource_all_leaves", |b| {
        let mut stmt = conn
            .prepare_cached(
                "SELECT permission_key FROM user_resource_permissions \
                 WHERE username = ?1 AND resource_type = ?2 AND resource_key = ?3",
            )
            .expect("prepared");
        b.iter(|| {
            i = (i + 7919) % names.len();
            let (t, k) = resource(i);
            let rows: Vec<String> = stmt
                .query_map(rusqlite::params![names[i], t, k], |r| r.get(0))
                .expect("query")
                .map(|r| r.expect("row"))
                .collect();
            black_box(rows.len())
        })
    });
    group.bench_function("view_one_user_one_resource_one_leaf", |b| {
        let mut stmt = conn
            .prepare_cached(
                "SELECT 1 FROM user_resource_permissions \
                 WHERE username = ?1 AND resource_type = ?2 AND resource_key = ?3 AND permission_key = ?4",
            )
            .expect("prepared");
        b.iter(|| {
            i = (i + 7919) % names.len();
            let (t, k) = resource(i);
            let leaf = if t == "list" { "contact_lists.view" } else { "contacts.export" };
            black_box(
                stmt.exists(rusqlite::params![names[i], t, k, leaf])
                    .expect("query"),
            )
        })
    });
    group.bench_function("check_on", |b| {
        b.iter(|| {
            i = (i + 7919) % names.len();
            let (t, k) = resource(i);
            black_box(
                store
                    .check_on(&names[i], "contacts.export", &format!("{t}:{k}"))
                    .expect("check --on")
                    .0
                    .allowed,
            )
        })
    });
    group.sample_size(10);
    group.bench_function("who_can_on_one_list", |b| {
        b.iter(|| {
            black_box(
                store
                    .who_can_on("contact_lists.view", "list:r0001")
                    .expect("who-can --on")
                    .users
                    .len(),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, resources);
criterion_main!(benches);
