//! Reading a catalog file: `catalog load` parses the TOML, locates every entry's line
//! and builds the tree. At 100,000 permissions this was quadratic (every entry's line
//! was counted from the top of the file: about 5 minutes); it is linear now.
//!
//! `cargo bench --bench catalog`; `ROLECALL_BENCH_SIZES=1000,10000` limits the sizes.

use std::fmt::Write as _;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use rolecall::domain::catalog::Catalog;

/// A catalog of `n` permissions or a little more: 100 areas of 10 features, each
/// with as many actions as it takes.
fn catalog_toml(n: usize) -> String {
    let actions = (n / 1000).max(1);
    let mut out = String::new();
    for area in 0..100 {
        let _ = write!(
            out,
            "[[permission]]\nkey = \"area_{area:03}\"\nlabel = \"Area {area}\"\n"
        );
        for feature in 0..10 {
            let _ = write!(
                out,
                "[[permission]]\nkey = \"area_{area:03}.feature_{feature:02}\"\nlabel = \"Feature {feature}\"\n"
            );
            for action in 0..actions {
                let _ = write!(
                    out,
                    "[[permission]]\nkey = \"area_{area:03}.feature_{feature:02}.action_{action:03}\"\n\
                     label = \"Action {action}\"\ndescription = \"Does action {action}\"\n"
                );
            }
        }
    }
    out
}

fn sizes() -> Vec<usize> {
    match std::env::var("ROLECALL_BENCH_SIZES") {
        Ok(list) => list
            .split(',')
            .filter_map(|n| n.trim().parse().ok())
            .collect(),
        Err(_) => vec![1_000, 10_000, 100_000],
    }
}

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("catalog_parse");
    group.sample_size(10);
    for n in sizes() {
        let text = catalog_toml(n);
        let leaves = Catalog::from_toml(&text)
            .expect("a valid catalog")
            .leaf_count();
        group.bench_function(format!("{leaves}_leaves"), |b| {
            b.iter(|| Catalog::from_toml(black_box(&text)).expect("a valid catalog"))
        });
    }
    group.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
