//! Text output for people: aligned tables and permission trees. Every stored string
//! passes `display_safe` here, and widths are measured in terminal columns so wide
//! characters keep the columns straight.

use std::fmt::Write as _;

use crate::domain::catalog::{Catalog, Grants};
use crate::text::{display_safe, truncate, width};

/// Widest a table cell may be before it is cut with `…`.
const MAX_CELL: usize = 40;

/// `s` padded with spaces to `cols` columns.
pub fn pad(s: &str, cols: usize) -> String {
    let mut out = s.to_string();
    out.extend(std::iter::repeat_n(' ', cols.saturating_sub(width(s))));
    out
}

/// An aligned table with a header row. Cells are made display-safe; on a terminal
/// they are cut to fit, while a pipe or a file gets every value whole.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let max_cell = if super::streams::out_is_terminal() {
        MAX_CELL
    } else {
        usize::MAX
    };
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            row.iter()
                .map(|c| truncate(&display_safe(c), max_cell).into_owned())
                .collect()
        })
        .collect();
    let headers: Vec<String> = headers
        .iter()
        .map(|h| truncate(&display_safe(h), MAX_CELL).into_owned())
        .collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| width(h)).collect();
    for row in &cells {
        for (i, c) in row.iter().enumerate() {
            widths[i] = widths[i].max(width(c));
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, row: &[&str]| {
        let last = row.len() - 1;
        for (i, c) in row.iter().enumerate() {
            if i == last {
                out.push_str(c);
            } else {
                out.push_str(&pad(c, widths[i]));
                out.push_str("  ");
            }
        }
        let trimmed = out.trim_end().len();
        out.truncate(trimmed);
        out.push('\n');
    };
    line(
        &mut out,
        &headers.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    for row in &cells {
        line(
            &mut out,
            &row.iter().map(String::as_str).collect::<Vec<_>>(),
        );
    }
    out
}

/// The permission tree with `[x]`/`[-]`/`[ ]` marks, a count on each category and the
/// key of each leaf.
pub fn grant_tree(catalog: &Catalog, grants: &Grants) -> String {
    let mut out = String::new();
    for node in catalog.nodes() {
        let indent = "    ".repeat(node.depth);
        let mark = grants.state(node).mark();
        let label = display_safe(&node.label);
        if node.is_leaf() {
            let _ = writeln!(out, "{indent}{mark} {label}  ({})", node.key);
        } else {
            let n = grants.count_in(node.leaves.clone());
            let _ = writeln!(out, "{indent}{mark} {label} {n}/{}", node.leaves.len());
        }
    }
    out
}

/// The catalog as an indented list with keys and descriptions.
pub fn catalog_tree(catalog: &Catalog) -> String {
    let rows: Vec<Vec<String>> = catalog
        .nodes()
        .iter()
        .map(|n| {
            vec![
                format!("{}{}", "  ".repeat(n.depth), n.label),
                n.key.clone(),
                n.description.clone(),
            ]
        })
        .collect();
    table(&["PERMISSION", "KEY", "DESCRIPTION"], &rows)
}

/// Side by side: what each of two roles can and cannot do (seed 004's tables), with
/// differing rows marked.
pub fn role_diff(catalog: &Catalog, a_name: &str, a: &Grants, b_name: &str, b: &Grants) -> String {
    let rows: Vec<Vec<String>> = catalog
        .nodes()
        .iter()
        .map(|n| {
            let label = format!("{}{}", "  ".repeat(n.depth), n.label);
            if n.is_leaf() {
                let ord = n.leaves.start;
                let word = |g: &Grants| if g.contains(ord) { "can" } else { "cannot" };
                let marker = if a.contains(ord) != b.contains(ord) {
                    "<>"
                } else {
                    ""
                };
                vec![label, word(a).into(), word(b).into(), marker.into()]
            } else {
                let total = n.leaves.len();
                let ca = a.count_in(n.leaves.clone());
                let cb = b.count_in(n.leaves.clone());
                vec![
                    label,
                    format!("{ca}/{total}"),
                    format!("{cb}/{total}"),
                    String::new(),
                ]
            }
        })
        .collect();
    table(&["PERMISSION", a_name, b_name, ""], &rows)
}
