//! The permission catalog: a tree of categories whose leaves are the grantable
//! permissions, and [`Grants`], the set of leaves one role holds.
//!
//! Nodes are kept in depth-first order, so the leaves under any node form one
//! contiguous range of leaf ordinals. A category's state is never stored: it is
//! derived from the leaves in that range ([`Grants::state`]).

use std::collections::HashMap;
use std::ops::Range;

use serde::Deserialize;

use crate::error::{Error, Result};

/// The catalog that ships with rolecall (SPEC §2), embedded in the binary.
pub const DEFAULT_CATALOG_TOML: &str = include_str!("../../assets/permissions.toml");

/// Longest key, label and description a catalog may hold.
const MAX_KEY: usize = 200;
pub(crate) const MAX_LABEL: usize = 100;
const MAX_DESCRIPTION: usize = 500;

/// One `[[permission]]` table of a catalog file, in file order.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogEntry {
    pub key: String,
    pub label: String,
    #[serde(default)]
    pub description: String,
}

/// One node of the tree.
#[derive(Debug, Clone)]
pub struct Node {
    pub key: String,
    pub label: String,
    pub description: String,
    pub parent: Option<usize>,
    pub children: Vec<usize>,
    /// 0 for a top-level category.
    pub depth: usize,
    /// The ordinals of the leaves under this node (just its own for a leaf).
    pub leaves: Range<usize>,
}

impl Node {
    pub fn is_leaf(&self) -> bool {
        self.children.is_empty()
    }

    /// The last segment of the key: `export` for `contacts.export`.
    pub fn segment(&self) -> &str {
        self.key.rsplit('.').next().unwrap_or(&self.key)
    }
}

/// The whole tree, in depth-first order.
#[derive(Debug, Clone)]
pub struct Catalog {
    /// Which stored catalog this is (the store's change number of its catalog; 0
    /// for one that was never stored). Grants remember it, so grants read from one
    /// catalog are never written as if they belonged to another.
    stamp: i64,
    nodes: Vec<Node>,
    index: HashMap<String, usize>,
    roots: Vec<usize>,
    /// Node index of each leaf ordinal.
    leaves: Vec<usize>,
    /// The permissions that carry the three Administration rights (SPEC §13).
    operator: crate::domain::authz::OperatorKeys,
}

/// Tri-state of a node for a set of grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CheckState {
    Checked,
    Partial,
    Unchecked,
}

impl CheckState {
    /// `[x]`, `[-]` or `[ ]`, as the console and `roles show` draw it.
    pub fn mark(self) -> &'static str {
        match self {
            CheckState::Checked => "[x]",
            CheckState::Partial => "[-]",
            CheckState::Unchecked => "[ ]",
        }
    }
}

/// Line numbers of many offsets into one text, found by binary search over the line
/// starts: counting from the top for each of 100,000 entries made loading a large
/// catalog quadratic.
pub(crate) struct Lines(Vec<usize>);

impl Lines {
    pub(crate) fn of(text: &str) -> Lines {
        Lines(text.match_indices('\n').map(|(i, _)| i).collect())
    }

    pub(crate) fn line(&self, offset: usize) -> usize {
        self.0.partition_point(|&nl| nl < offset) + 1
    }
}

pub(crate) fn catalog_error(line: Option<usize>, message: impl std::fmt::Display) -> Error {
    located_error(line.map(|l| format!("line {l}")).as_deref(), message)
}

/// A catalog error at `location` (`line 4` in a TOML file, `catalog[3]` in a JSON one).
fn located_error(location: Option<&str>, message: impl std::fmt::Display) -> Error {
    match location {
        Some(at) => Error::invalid("catalog", format!("{at}: {message}")),
        None => Error::invalid("catalog", message.to_string()),
    }
}

/// Checks one key's shape: lowercase `snake_case` segments joined by dots.
pub fn validate_key(key: &str) -> std::result::Result<(), String> {
    if key.is_empty() {
        return Err("the key is empty".into());
    }
    if key.len() > MAX_KEY {
        return Err(format!("the key is longer than {MAX_KEY} characters"));
    }
    if key == "all" {
        return Err("the key \"all\" is reserved for every permission".into());
    }
    for segment in key.split('.') {
        let mut chars = segment.chars();
        let starts_well = chars.next().is_some_and(|c| c.is_ascii_lowercase());
        if !starts_well || !chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(format!(
                "key \"{}\" is not lowercase snake_case segments joined by dots",
                crate::text::display_safe(key)
            ));
        }
    }
    Ok(())
}

pub(crate) fn validate_text(
    what: &str,
    text: &str,
    max: usize,
    required: bool,
) -> std::result::Result<(), String> {
    if required && text.trim().is_empty() {
        return Err(format!("the {what} is empty"));
    }
    if text.chars().count() > max {
        return Err(format!("the {what} is longer than {max} characters"));
    }
    if crate::text::has_unsafe(text) {
        return Err(format!("the {what} holds a control or invisible character"));
    }
    Ok(())
}

/// An entry of a catalog in file order, as the first pass of [`Catalog::build`] reads
/// it: its parent and children are positions in the file.
struct Pending {
    entry: CatalogEntry,
    parent: Option<usize>,
    children: Vec<usize>,
}

/// The entries of a catalog in file order, each parent resolved to an earlier entry,
/// and the positions of the top-level ones.
struct FileOrder {
    pending: Vec<Pending>,
    roots: Vec<usize>,
}

impl FileOrder {
    /// The first pass of [`Catalog::build`]: checks each entry's key (and, with
    /// `check_text`, its label and description), refuses a key listed twice or listed
    /// before its parent, and links each entry to its parent. Errors name the entry's
    /// location when the caller gave one.
    fn read(
        entries: impl IntoIterator<Item = (CatalogEntry, Option<String>)>,
        check_text: bool,
    ) -> Result<FileOrder> {
        let mut pending: Vec<Pending> = Vec::new();
        let mut by_key: HashMap<String, usize> = HashMap::new();
        let mut roots = Vec::new();
        for (entry, at) in entries {
            validate_key(&entry.key).map_err(|m| located_error(at.as_deref(), m))?;
            if check_text {
                validate_text("label", &entry.label, MAX_LABEL, true)
                    .map_err(|m| located_error(at.as_deref(), format!("{} ({})", m, entry.key)))?;
                validate_text("description", &entry.description, MAX_DESCRIPTION, false)
                    .map_err(|m| located_error(at.as_deref(), format!("{} ({})", m, entry.key)))?;
            }
            if by_key.contains_key(&entry.key) {
                return Err(located_error(
                    at.as_deref(),
                    format!("key \"{}\" is listed twice", entry.key),
                ));
            }
            let parent = match entry.key.rsplit_once('.') {
                None => None,
                Some((parent_key, _)) => match by_key.get(parent_key) {
                    Some(&p) => Some(p),
                    None => {
                        return Err(located_error(
                            at.as_deref(),
                            format!(
                                "the parent \"{parent_key}\" of \"{}\" must be listed before it",
                                entry.key
                            ),
                        ));
                    }
                },
            };
            let idx = pending.len();
            match parent {
                Some(p) => pending[p].children.push(idx),
                None => roots.push(idx),
            }
            by_key.insert(entry.key.clone(), idx);
            pending.push(Pending {
                entry,
                parent,
                children: Vec::new(),
            });
        }
        Ok(FileOrder { pending, roots })
    }
}

/// Ends each node's leaf range where its last descendant's ends (a leaf's range is
/// itself). `nodes` are in depth-first order, so walking backwards meets every child
/// before its parent.
fn close_leaf_ranges(nodes: &mut [Node]) {
    for i in (0..nodes.len()).rev() {
        let end = if nodes[i].is_leaf() {
            nodes[i].leaves.start + 1
        } else {
            let last = *nodes[i].children.last().expect("inner node has children");
            nodes[last].leaves.end
        };
        nodes[i].leaves.end = end;
    }
}

impl Catalog {
    /// The default catalog of `assets/permissions.toml`.
    pub fn builtin() -> Catalog {
        Catalog::from_toml(DEFAULT_CATALOG_TOML)
            .expect("assets/permissions.toml is a valid catalog")
    }

    /// Parses and checks a catalog file, naming the line of the first problem.
    pub fn from_toml(text: &str) -> Result<Catalog> {
        Catalog::from_entries(
            parse_entries(text)?
                .into_iter()
                .map(|(e, line)| (e, Some(line))),
        )
    }

    /// Builds the tree from entries in file order, each with the line it came from.
    pub fn from_entries(
        entries: impl IntoIterator<Item = (CatalogEntry, Option<usize>)>,
    ) -> Result<Catalog> {
        Catalog::build(
            entries
                .into_iter()
                .map(|(e, line)| (e, line.map(|l| format!("line {l}")))),
            true,
        )
    }

    /// As [`Catalog::from_entries`], with each entry's location spelled out by the
    /// caller (`catalog[3]` for an entry of an export file).
    pub fn from_located_entries(
        entries: impl IntoIterator<Item = (CatalogEntry, String)>,
    ) -> Result<Catalog> {
        Catalog::build(entries.into_iter().map(|(e, at)| (e, Some(at))), true)
    }

    /// Builds the tree from rows already in a database. Only the structure is
    /// checked: text another program stored there is made safe when it is shown,
    /// not refused here, so one odd label cannot lock operators out of the file.
    pub fn from_stored(entries: impl IntoIterator<Item = CatalogEntry>) -> Result<Catalog> {
        Catalog::build(entries.into_iter().map(|e| (e, None)), false)
    }

    fn build(
        entries: impl IntoIterator<Item = (CatalogEntry, Option<String>)>,
        check_text: bool,
    ) -> Result<Catalog> {
        let FileOrder { pending, roots } = FileOrder::read(entries, check_text)?;
        if pending.is_empty() {
            return Err(catalog_error(
                None,
                "the catalog has no [[permission]] entries",
            ));
        }

        // Second pass: depth-first order, so each node's leaves are contiguous.
        let mut order = Vec::with_capacity(pending.len());
        let mut stack: Vec<usize> = roots.iter().rev().copied().collect();
        while let Some(i) = stack.pop() {
            order.push(i);
            stack.extend(pending[i].children.iter().rev().copied());
        }
        let mut new_index = vec![0; pending.len()];
        for (new, &old) in order.iter().enumerate() {
            new_index[old] = new;
        }
        let mut depth = vec![0usize; pending.len()];
        let mut nodes: Vec<Node> = Vec::with_capacity(order.len());
        let mut leaves = Vec::new();
        for &old in &order {
            let p = &pending[old];
            let parent = p.parent.map(|q| new_index[q]);
            let d = parent.map_or(0, |q| depth[q] + 1);
            depth[nodes.len()] = d;
            let children: Vec<usize> = p.children.iter().map(|&c| new_index[c]).collect();
            let start = leaves.len();
            if children.is_empty() {
                leaves.push(nodes.len());
            }
            nodes.push(Node {
                key: p.entry.key.clone(),
                label: p.entry.label.clone(),
                description: p.entry.description.clone(),
                parent,
                children,
                depth: d,
                leaves: start..start,
            });
        }
        close_leaf_ranges(&mut nodes);
        let index = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.key.clone(), i))
            .collect();
        let roots = roots.iter().map(|&r| new_index[r]).collect();
        Ok(Catalog {
            stamp: 0,
            nodes,
            index,
            roots,
            leaves,
            operator: Default::default(),
        })
    }

    /// See the `stamp` field.
    pub fn stamp(&self) -> i64 {
        self.stamp
    }

    pub fn with_stamp(mut self, stamp: i64) -> Catalog {
        self.stamp = stamp;
        self
    }

    /// The permissions that carry the Administration rights (`[operator]`).
    pub fn operator(&self) -> &crate::domain::authz::OperatorKeys {
        &self.operator
    }

    pub fn with_operator(mut self, operator: crate::domain::authz::OperatorKeys) -> Catalog {
        self.operator = operator;
        self
    }

    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    pub fn node(&self, idx: usize) -> &Node {
        &self.nodes[idx]
    }

    pub fn roots(&self) -> &[usize] {
        &self.roots
    }

    pub fn find(&self, key: &str) -> Option<usize> {
        self.index.get(key).copied()
    }

    pub fn leaf_count(&self) -> usize {
        self.leaves.len()
    }

    /// The node index of leaf ordinal `ord`.
    pub fn leaf_node_index(&self, ord: usize) -> usize {
        self.leaves[ord]
    }

    /// The node of leaf ordinal `ord`.
    pub fn leaf_node(&self, ord: usize) -> &Node {
        &self.nodes[self.leaves[ord]]
    }

    /// The leaves a grant or revoke argument names: a leaf key, a category key (all its
    /// leaves) or `all`.
    pub fn resolve(&self, spec: &str) -> Result<Range<usize>> {
        if spec == "all" {
            return Ok(0..self.leaf_count());
        }
        self.find(spec).map(|i| self.nodes[i].leaves.clone()).ok_or_else(|| {
            Error::invalid(
                "permission",
                format!(
                    "\"{}\" is not a permission or category key; `rolecall catalog show` lists them",
                    crate::text::display_safe(spec)
                ),
            )
        })
    }

    /// `Contacts > Export contacts`: the labels from the top category down.
    pub fn path_label(&self, idx: usize) -> String {
        let mut labels = vec![self.nodes[idx].label.as_str()];
        let mut cur = self.nodes[idx].parent;
        while let Some(p) = cur {
            labels.push(&self.nodes[p].label);
            cur = self.nodes[p].parent;
        }
        labels.reverse();
        labels.join(" > ")
    }

    /// The entries of the catalog in depth-first order, as a catalog file lists them.
    pub fn entries(&self) -> Vec<CatalogEntry> {
        self.nodes
            .iter()
            .map(|n| CatalogEntry {
                key: n.key.clone(),
                label: n.label.clone(),
                description: n.description.clone(),
            })
            .collect()
    }
}

/// Parses the `[[permission]]` tables of a catalog file with the line each starts on.
pub fn parse_entries(text: &str) -> Result<Vec<(CatalogEntry, usize)>> {
    Ok(parse_file(text)?.permissions)
}

/// The tables of a catalog file, each with the line it starts on: the permissions, and
/// the resource types and fixed roles of SPEC §11 (checked by
/// [`crate::domain::resource::CatalogFile`]).
pub(crate) struct ParsedFile {
    pub permissions: Vec<(CatalogEntry, usize)>,
    pub resource_types: Vec<(crate::domain::resource::ResourceTypeEntry, usize)>,
    pub roles: Vec<(crate::domain::resource::FixedRoleEntry, usize)>,
    pub operator: Option<(crate::domain::authz::OperatorEntry, usize)>,
}

pub(crate) fn parse_file(text: &str) -> Result<ParsedFile> {
    use crate::domain::resource::{FixedRoleEntry, ResourceTypeEntry};
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        #[serde(default)]
        permission: Vec<toml::Spanned<CatalogEntry>>,
        #[serde(default)]
        resource_type: Vec<toml::Spanned<ResourceTypeEntry>>,
        #[serde(default)]
        role: Vec<toml::Spanned<FixedRoleEntry>>,
        operator: Option<toml::Spanned<crate::domain::authz::OperatorEntry>>,
    }
    let lines = Lines::of(text);
    let file: File = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| lines.line(s.start));
        catalog_error(line, e.message().trim_end_matches('\n'))
    })?;
    fn located<T>(lines: &Lines, tables: Vec<toml::Spanned<T>>) -> Vec<(T, usize)> {
        tables
            .into_iter()
            .map(|s| {
                let line = lines.line(s.span().start);
                (s.into_inner(), line)
            })
            .collect()
    }
    Ok(ParsedFile {
        permissions: located(&lines, file.permission),
        resource_types: located(&lines, file.resource_type),
        roles: located(&lines, file.role),
        operator: file.operator.map(|s| {
            let line = lines.line(s.span().start);
            (s.into_inner(), line)
        }),
    })
}

/// The set of leaves one role holds, indexed by leaf ordinal.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Grants {
    bits: Vec<bool>,
    count: usize,
    /// The stamp of the catalog whose leaf ordinals these are.
    catalog: i64,
}

impl Grants {
    pub fn none(catalog: &Catalog) -> Grants {
        Grants {
            bits: vec![false; catalog.leaf_count()],
            count: 0,
            catalog: catalog.stamp,
        }
    }

    pub fn all(catalog: &Catalog) -> Grants {
        Grants {
            bits: vec![true; catalog.leaf_count()],
            count: catalog.leaf_count(),
            catalog: catalog.stamp,
        }
    }

    /// The stamp of the catalog these grants were made for.
    pub fn catalog_stamp(&self) -> i64 {
        self.catalog
    }

    /// Grants for stored leaf keys. Keys that are not leaves of `catalog` are skipped:
    /// the store's foreign keys keep them from existing.
    pub fn from_keys<'a>(catalog: &Catalog, keys: impl IntoIterator<Item = &'a str>) -> Grants {
        let mut grants = Grants::none(catalog);
        for key in keys {
            if let Some(i) = catalog.find(key) {
                let node = catalog.node(i);
                if node.is_leaf() {
                    grants.set(node.leaves.start, true);
                }
            }
        }
        grants
    }

    pub fn len(&self) -> usize {
        self.bits.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bits.is_empty()
    }

    /// How many leaves are granted.
    pub fn count(&self) -> usize {
        self.count
    }

    pub fn contains(&self, ord: usize) -> bool {
        self.bits.get(ord).copied().unwrap_or(false)
    }

    pub fn set(&mut self, ord: usize, on: bool) {
        if let Some(bit) = self.bits.get_mut(ord)
            && *bit != on
        {
            *bit = on;
            if on {
                self.count += 1;
            } else {
                self.count -= 1;
            }
        }
    }

    pub fn set_range(&mut self, range: Range<usize>, on: bool) {
        for ord in range {
            self.set(ord, on);
        }
    }

    /// Granted leaves among `range`; leaves past the end count as not granted, so
    /// grants of a smaller catalog never make a caller panic.
    pub fn count_in(&self, range: Range<usize>) -> usize {
        let end = range.end.min(self.bits.len());
        let start = range.start.min(end);
        self.bits[start..end].iter().filter(|b| **b).count()
    }

    /// All, some or none of the node's leaves.
    pub fn state(&self, node: &Node) -> CheckState {
        let granted = self.count_in(node.leaves.clone());
        if granted == 0 {
            CheckState::Unchecked
        } else if granted == node.leaves.len() {
            CheckState::Checked
        } else {
            CheckState::Partial
        }
    }

    /// Granted leaf ordinals in catalog order.
    pub fn ordinals(&self) -> impl Iterator<Item = usize> + '_ {
        self.bits
            .iter()
            .enumerate()
            .filter(|(_, b)| **b)
            .map(|(i, _)| i)
    }

    /// Granted leaf keys, sorted.
    pub fn keys<'c>(&self, catalog: &'c Catalog) -> Vec<&'c str> {
        let mut keys: Vec<&str> = self
            .ordinals()
            .map(|o| catalog.leaf_node(o).key.as_str())
            .collect();
        keys.sort_unstable();
        keys
    }

    /// Leaf ordinals granted here but not in `before`, and granted there but not here.
    pub fn diff(&self, before: &Grants) -> (Vec<usize>, Vec<usize>) {
        let mut added = Vec::new();
        let mut removed = Vec::new();
        for (i, (now, was)) in self.bits.iter().zip(before.bits.iter()).enumerate() {
            match (now, was) {
                (true, false) => added.push(i),
                (false, true) => removed.push(i),
                _ => {}
            }
        }
        (added, removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Catalog {
        Catalog::from_toml(
            r#"
[[permission]]
key = "a"
label = "A"
[[permission]]
key = "b"
label = "B"
[[permission]]
key = "a.x"
label = "AX"
[[permission]]
key = "a.y"
label = "AY"
[[permission]]
key = "a.y.deep"
label = "Deep"
[[permission]]
key = "a.y.deeper"
label = "Deeper"
"#,
        )
        .unwrap()
    }

    #[test]
    fn builtin_catalog_has_thirteen_seed_categories_and_administration() {
        let c = Catalog::builtin();
        let roots: Vec<&str> = c
            .roots()
            .iter()
            .map(|&r| c.node(r).label.as_str())
            .collect();
        assert_eq!(roots.len(), 14);
        assert_eq!(roots[0], "Contact Lists");
        assert_eq!(roots[13], "Administration");
        assert_eq!(
            c.node(c.find("contacts.export").unwrap()).label,
            "Export contacts"
        );
    }

    #[test]
    fn depth_first_order_makes_leaf_ranges_contiguous() {
        let c = small();
        let keys: Vec<&str> = c.nodes().iter().map(|n| n.key.as_str()).collect();
        assert_eq!(keys, ["a", "a.x", "a.y", "a.y.deep", "a.y.deeper", "b"]);
        assert_eq!(c.node(c.find("a").unwrap()).leaves, 0..3);
        assert_eq!(c.node(c.find("a.y").unwrap()).leaves, 1..3);
        assert_eq!(c.node(c.find("b").unwrap()).leaves, 3..4);
        assert_eq!(c.leaf_count(), 4);
    }

    #[test]
    fn state_is_derived_at_every_depth() {
        let c = small();
        let mut g = Grants::none(&c);
        let a = c.node(c.find("a").unwrap());
        let ay = c.node(c.find("a.y").unwrap());
        assert_eq!(g.state(a), CheckState::Unchecked);
        g.set(c.node(c.find("a.y.deep").unwrap()).leaves.start, true);
        assert_eq!(g.state(ay), CheckState::Partial);
        assert_eq!(g.state(a), CheckState::Partial);
        g.set_range(ay.leaves.clone(), true);
        assert_eq!(g.state(ay), CheckState::Checked);
        assert_eq!(g.state(a), CheckState::Partial);
        g.set_range(c.resolve("a").unwrap(), true);
        assert_eq!(g.state(a), CheckState::Checked);
        assert_eq!(g.count(), 3);
        g.set_range(c.resolve("a.y").unwrap(), false);
        assert_eq!(g.count(), 1);
        assert_eq!(g.keys(&c), ["a.x"]);
    }

    #[test]
    fn resolve_all_and_unknown() {
        let c = small();
        assert_eq!(c.resolve("all").unwrap(), 0..4);
        let err = c.resolve("nope").unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().starts_with("permission:"));
    }

    #[test]
    fn a_child_before_its_parent_is_refused_with_its_line() {
        let err =
            Catalog::from_toml("[[permission]]\nkey = \"a.b\"\nlabel = \"AB\"\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "catalog: line 1: the parent \"a\" of \"a.b\" must be listed before it"
        );
    }

    #[test]
    fn bad_keys_duplicates_and_syntax_are_refused() {
        for (text, needle) in [
            (
                "[[permission]]\nkey = \"Bad\"\nlabel = \"x\"\n",
                "snake_case",
            ),
            (
                "[[permission]]\nkey = \"a\"\nlabel = \"x\"\n[[permission]]\nkey = \"a\"\nlabel = \"y\"\n",
                "line 4: key \"a\" is listed twice",
            ),
            (
                "[[permission]]\nkey = \"a\"\nlabel = \"\"\n",
                "label is empty",
            ),
            ("[[permission]]\nkey = \"a\"\n", "line "),
            ("[[permission]\n", "line 1"),
            ("", "no [[permission]]"),
        ] {
            let err = Catalog::from_toml(text).unwrap_err().to_string();
            assert!(err.contains(needle), "{err:?} should contain {needle:?}");
        }
    }

    #[test]
    fn diff_reports_added_and_removed() {
        let c = small();
        let before = Grants::from_keys(&c, ["a.x", "b"]);
        let after = Grants::from_keys(&c, ["a.x", "a.y.deep"]);
        let (added, removed) = after.diff(&before);
        assert_eq!(added, vec![1]);
        assert_eq!(removed, vec![3]);
    }
}
