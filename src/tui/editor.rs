//! The role editor's model: the name and description fields, the grants being
//! edited, and the permission tree with its search. Pure state over the catalog:
//! it never touches the store, so every rule here is tested without a terminal.
//!
//! A category's mark is always derived from its leaves. While a search is active,
//! toggles and Check All act only on the leaves the search shows.

use std::cell::RefCell;
use std::collections::HashSet;

use fuzzy_matcher::FuzzyMatcher;
use fuzzy_matcher::skim::SkimMatcherV2;
use ratatui::text::{Line, Span};
use tui_tree_widget::{TreeItem, TreeState};

use crate::domain::catalog::{Catalog, CheckState, Grants};
use crate::domain::role::Role;
use crate::domain::validate;
use crate::text::display_safe;
use crate::tui::theme::Theme;
use crate::tui::widgets::input::TextInput;

/// Which part of the editor has the keyboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Name,
    Description,
    Tree,
    Search,
}

/// What a save would change, shown for confirmation before it lands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaveSummary {
    pub role: String,
    pub rename: Option<(String, String)>,
    pub description_changed: bool,
    /// (key, "Category > Label") of each permission added, in catalog order.
    pub added: Vec<(String, String)>,
    pub removed: Vec<(String, String)>,
    /// Users holding the role: they gain or lose these permissions at once.
    pub users: usize,
}

impl SaveSummary {
    pub fn is_empty(&self) -> bool {
        self.rename.is_none()
            && !self.description_changed
            && self.added.is_empty()
            && self.removed.is_empty()
    }
}

pub struct RoleEditor {
    pub role_id: i64,
    pub version: i64,
    pub builtin: bool,
    pub users: usize,
    pub original_name: String,
    original_description: String,
    original: Grants,
    pub name: TextInput,
    pub description: TextInput,
    pub grants: Grants,
    pub search: TextInput,
    pub focus: Focus,
    /// Nodes the search shows; `None` when no search is active.
    shown: Option<Vec<bool>>,
    /// Matched character positions in each node's label, for highlighting.
    highlights: Vec<Vec<usize>>,
    /// Opened nodes before the search began, restored when it ends.
    opened_before_search: Option<HashSet<Vec<usize>>>,
    pub tree: RefCell<TreeState<usize>>,
    items: Vec<TreeItem<'static, usize>>,
    theme: Theme,
}

impl RoleEditor {
    pub fn new(catalog: &Catalog, role: &Role, theme: Theme) -> RoleEditor {
        let mut tree = TreeState::default();
        if let Some(&first) = catalog.roots().first() {
            tree.select(vec![first]);
        }
        let mut editor = RoleEditor {
            role_id: role.id,
            version: role.version,
            builtin: role.builtin,
            users: role.users,
            original_name: role.name.clone(),
            original_description: role.description.clone(),
            original: role.grants.clone(),
            name: TextInput::new(&role.name, validate::MAX_ROLE_NAME),
            description: TextInput::new(&role.description, validate::MAX_DESCRIPTION),
            grants: role.grants.clone(),
            search: TextInput::new("", 100),
            focus: Focus::Tree,
            shown: None,
            highlights: vec![Vec::new(); catalog.nodes().len()],
            opened_before_search: None,
            tree: RefCell::new(tree),
            items: Vec::new(),
            theme,
        };
        editor.rebuild(catalog);
        editor
    }

    /// Moves the editor onto a new catalog (another process loaded one): grants,
    /// the loaded state and marks are carried over by key, so edits of permissions
    /// that still exist are kept and the tree shows the new shape. Returns how many
    /// marked permissions no longer exist.
    pub fn rebase(&mut self, old: &Catalog, new: &Catalog, matcher: &SkimMatcherV2) -> usize {
        let carry = |g: &Grants| Grants::from_keys(new, g.keys(old));
        let lost = self
            .grants
            .keys(old)
            .into_iter()
            .filter(|k| new.find(k).is_none_or(|i| !new.node(i).is_leaf()))
            .count();
        self.grants = carry(&self.grants);
        self.original = carry(&self.original);
        self.highlights = vec![Vec::new(); new.nodes().len()];
        self.shown = None;
        self.opened_before_search = None;
        let mut tree = TreeState::default();
        if let Some(&first) = new.roots().first() {
            tree.select(vec![first]);
        }
        self.tree = RefCell::new(tree);
        self.apply_search(new, matcher);
        lost
    }

    /// True when anything differs from what was loaded.
    pub fn is_dirty(&self) -> bool {
        self.grants != self.original
            || self.name.text().trim() != self.original_name
            || self.description.text().trim() != self.original_description
    }

    pub fn items(&self) -> &[TreeItem<'static, usize>] {
        &self.items
    }

    pub fn is_searching(&self) -> bool {
        self.shown.is_some()
    }

    /// The node under the tree's selection.
    pub fn selected_node(&self) -> Option<usize> {
        self.tree.borrow().selected().last().copied()
    }

    fn is_shown(&self, node: usize) -> bool {
        self.shown.as_ref().is_none_or(|s| s[node])
    }

    /// Leaf ordinals under `node` that the current search shows.
    pub fn shown_leaves(&self, catalog: &Catalog, node: usize) -> Vec<usize> {
        catalog
            .node(node)
            .leaves
            .clone()
            .filter(|&ord| self.is_shown(leaf_node_index(catalog, ord)))
            .collect()
    }

    /// How many leaves the search shows (all of them without a search).
    pub fn shown_leaf_count(&self, catalog: &Catalog) -> usize {
        match &self.shown {
            None => catalog.leaf_count(),
            Some(_) => (0..catalog.leaf_count())
                .filter(|&ord| self.is_shown(leaf_node_index(catalog, ord)))
                .count(),
        }
    }

    fn set_leaves(&mut self, catalog: &Catalog, leaves: &[usize]) {
        let all_on = leaves.iter().all(|&o| self.grants.contains(o));
        for &o in leaves {
            self.grants.set(o, !all_on);
        }
        self.rebuild(catalog);
    }

    /// Space on a node: a leaf flips; a category checks all its shown leaves, or
    /// unchecks them when all are already checked.
    pub fn toggle(&mut self, catalog: &Catalog, node: usize) {
        let leaves = self.shown_leaves(catalog, node);
        self.set_leaves(catalog, &leaves);
    }

    pub fn toggle_selected(&mut self, catalog: &Catalog) {
        if let Some(node) = self.selected_node() {
            self.toggle(catalog, node);
        }
    }

    /// `a`: check every shown leaf, or uncheck them all when all are checked.
    pub fn check_all(&mut self, catalog: &Catalog) {
        let leaves: Vec<usize> = (0..catalog.leaf_count())
            .filter(|&ord| self.is_shown(leaf_node_index(catalog, ord)))
            .collect();
        self.set_leaves(catalog, &leaves);
    }

    /// Applies the search text: matches on label (fuzzy), key (fuzzy) or description
    /// (substring), shown with their ancestors; a matching category shows its subtree.
    pub fn apply_search(&mut self, catalog: &Catalog, matcher: &SkimMatcherV2) {
        let query = self.search.text().trim().to_string();
        for h in &mut self.highlights {
            h.clear();
        }
        if query.is_empty() {
            if self.shown.take().is_some()
                && let Some(opened) = self.opened_before_search.take()
            {
                let mut tree = self.tree.borrow_mut();
                tree.close_all();
                for path in opened {
                    tree.open(path);
                }
            }
            self.rebuild(catalog);
            return;
        }
        if self.opened_before_search.is_none() {
            self.opened_before_search = Some(self.tree.borrow().opened().clone());
        }
        let lower = query.to_lowercase();
        let nodes = catalog.nodes();
        let mut direct = vec![false; nodes.len()];
        for (i, node) in nodes.iter().enumerate() {
            if let Some((_, idx)) = matcher.fuzzy_indices(&node.label, &query) {
                direct[i] = true;
                self.highlights[i] = idx;
            } else if matcher.fuzzy_match(&node.key, &query).is_some()
                || node.description.to_lowercase().contains(&lower)
            {
                direct[i] = true;
            }
        }
        // Nodes are in depth-first order, so a parent is decided before its children:
        // a node is in a matched subtree when it or an ancestor matched.
        let mut in_match = vec![false; nodes.len()];
        for i in 0..nodes.len() {
            in_match[i] = direct[i] || nodes[i].parent.is_some_and(|p| in_match[p]);
        }
        // Shown: everything in a matched subtree, and the ancestors of those nodes.
        let mut shown = in_match.clone();
        for i in (0..nodes.len()).filter(|&i| direct[i]) {
            let mut up = nodes[i].parent;
            while let Some(p) = up {
                shown[p] = true;
                up = nodes[p].parent;
            }
        }
        // Open every shown category so matches are visible.
        {
            let mut tree = self.tree.borrow_mut();
            tree.close_all();
            for (i, node) in nodes.iter().enumerate() {
                if shown[i] && !node.is_leaf() {
                    tree.open(path_of(catalog, i));
                }
            }
            let selected_visible = tree.selected().last().is_some_and(|&s| shown[s]);
            if !selected_visible && let Some(first) = (0..nodes.len()).find(|&i| direct[i]) {
                tree.select(path_of(catalog, first));
            }
        }
        self.shown = Some(shown);
        self.rebuild(catalog);
    }

    /// What saving would change.
    pub fn summary(&self, catalog: &Catalog) -> SaveSummary {
        let (added, removed) = self.grants.diff(&self.original);
        let describe = |ords: Vec<usize>| {
            ords.into_iter()
                .map(|o| {
                    let idx = leaf_node_index(catalog, o);
                    (catalog.node(idx).key.clone(), catalog.path_label(idx))
                })
                .collect()
        };
        let name = self.name.text().trim();
        SaveSummary {
            role: self.original_name.clone(),
            rename: (name != self.original_name)
                .then(|| (self.original_name.clone(), name.to_string())),
            description_changed: self.description.text().trim() != self.original_description,
            added: describe(added),
            removed: describe(removed),
            users: self.users,
        }
    }

    /// Rebuilds the tree items after the grants or the search changed.
    pub fn rebuild(&mut self, catalog: &Catalog) {
        let roots: Vec<usize> = catalog
            .roots()
            .iter()
            .copied()
            .filter(|&r| self.is_shown(r))
            .collect();
        self.items = roots.into_iter().map(|r| self.item(catalog, r)).collect();
    }

    fn item(&self, catalog: &Catalog, idx: usize) -> TreeItem<'static, usize> {
        let node = catalog.node(idx);
        let t = &self.theme;
        let state = self.grants.state(node);
        let mark_style = match state {
            CheckState::Checked => t.checked,
            CheckState::Partial => t.partial,
            CheckState::Unchecked => t.normal,
        };
        let mut spans = vec![Span::styled(state.mark(), mark_style), Span::raw(" ")];
        spans.extend(highlighted(
            &node.label,
            &self.highlights[idx],
            t.normal,
            t.matched,
        ));
        if node.is_leaf() {
            spans.push(Span::styled(format!("  {}", node.key), t.dim));
            TreeItem::new_leaf(idx, Line::from(spans))
        } else {
            let granted = self.grants.count_in(node.leaves.clone());
            spans.push(Span::styled(
                format!(" {granted}/{}", node.leaves.len()),
                t.dim,
            ));
            let children: Vec<TreeItem<'static, usize>> = node
                .children
                .iter()
                .copied()
                .filter(|&c| self.is_shown(c))
                .map(|c| self.item(catalog, c))
                .collect();
            TreeItem::new(idx, Line::from(spans), children).expect("catalog keys are unique")
        }
    }
}

fn leaf_node_index(catalog: &Catalog, ord: usize) -> usize {
    catalog.leaf_node_index(ord)
}

/// The identifier path of a node for the tree widget: its ancestors then itself.
pub fn path_of(catalog: &Catalog, idx: usize) -> Vec<usize> {
    let mut path = vec![idx];
    let mut cur = catalog.node(idx).parent;
    while let Some(p) = cur {
        path.push(p);
        cur = catalog.node(p).parent;
    }
    path.reverse();
    path
}

/// `text` made display-safe, with the characters at `positions` in `hit` style.
pub fn highlighted(
    text: &str,
    positions: &[usize],
    normal: ratatui::style::Style,
    hit: ratatui::style::Style,
) -> Vec<Span<'static>> {
    let safe = display_safe(text);
    if positions.is_empty() {
        return vec![Span::styled(safe.into_owned(), normal)];
    }
    let mut spans = Vec::new();
    let mut run = String::new();
    let mut run_hit = false;
    for (i, c) in safe.chars().enumerate() {
        let is_hit = positions.contains(&i);
        if is_hit != run_hit && !run.is_empty() {
            spans.push(Span::styled(
                std::mem::take(&mut run),
                if run_hit { hit } else { normal },
            ));
        }
        run_hit = is_hit;
        run.push(c);
    }
    if !run.is_empty() {
        spans.push(Span::styled(run, if run_hit { hit } else { normal }));
    }
    spans
}
