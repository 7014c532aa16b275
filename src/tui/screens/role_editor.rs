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
use crate::error::Error;
use crate::store::{RoleRef, RoleUpdate};
use crate::text::display_safe;
use crate::tui::app::Tab;
use crate::tui::dialogs::{Overlay, Pending, PickPurpose, Retry, role_pick};
use crate::tui::keys::{Action, Scope};
use crate::tui::screens::{Ctx, Effect, Look};
use crate::tui::theme::Theme;
use crate::tui::widgets::input::TextInput;
use crate::tui::widgets::list::highlighted;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::{Block, Borders, Paragraph};
use tui_tree_widget::Tree;

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
    /// Users who reach the role through packages: affected at once too.
    pub via_packages: usize,
}

impl SaveSummary {
    pub fn is_empty(&self) -> bool {
        self.rename.is_none()
            && !self.description_changed
            && self.added.is_empty()
            && self.removed.is_empty()
    }
}

/// What the editor edits when it edits a role's exception for one resource (SPEC
/// §11, Magnews): only the permissions the resource's type scopes, measured against
/// the role's general grants.
pub struct ExceptionScope {
    /// `TYPE:KEY`.
    pub spec: String,
    pub label: String,
    /// The leaves the type scopes.
    pub mask: Grants,
    /// The role's general grants, as stored.
    pub general: Grants,
    /// The role holds an exception for the resource already.
    pub exists: bool,
    /// Nodes with a scoped leaf under them: the only ones the tree shows.
    in_scope: Vec<bool>,
}

pub struct RoleEditor {
    pub role_id: i64,
    /// A role that does not exist yet: saving creates it.
    pub is_new: bool,
    pub version: i64,
    pub builtin: bool,
    /// A fixed role of the catalog file (`[[role]]`): locked like the built-in one.
    pub fixed: bool,
    /// Set when this editor edits an exception rather than the role itself.
    pub exception: Option<ExceptionScope>,
    /// The role's own editor, under an exception's: Esc and a save go back to it.
    pub parent: Option<Box<RoleEditor>>,
    /// The catalog declares resource types, so `e` offers exceptions.
    pub resources: bool,
    /// Users who reach the role through packages (besides `users`, its direct holders).
    pub via_packages: usize,
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
            is_new: false,
            version: role.version,
            builtin: role.builtin,
            fixed: false,
            exception: None,
            parent: None,
            resources: false,
            via_packages: 0,
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
            && self.exception.as_ref().is_none_or(|e| e.in_scope[node])
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
        match (&self.shown, &self.exception) {
            (None, None) => catalog.leaf_count(),
            _ => (0..catalog.leaf_count())
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
            via_packages: self.via_packages,
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

    /// (granted, total) leaves under `node`: in an exception, only the scoped ones.
    fn counts(&self, node: &crate::domain::catalog::Node) -> (usize, usize) {
        match &self.exception {
            Some(e) => (
                node.leaves
                    .clone()
                    .filter(|&o| e.mask.contains(o) && self.grants.contains(o))
                    .count(),
                e.mask.count_in(node.leaves.clone()),
            ),
            None => (self.grants.count_in(node.leaves.clone()), node.leaves.len()),
        }
    }

    fn item(&self, catalog: &Catalog, idx: usize) -> TreeItem<'static, usize> {
        let node = catalog.node(idx);
        let t = &self.theme;
        let (granted, total) = self.counts(node);
        let state = match granted {
            0 => CheckState::Unchecked,
            g if g == total => CheckState::Checked,
            _ => CheckState::Partial,
        };
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
            if let Some(e) = &self.exception {
                let ord = node.leaves.start;
                if self.grants.contains(ord) != e.general.contains(ord) {
                    let generally = if e.general.contains(ord) {
                        "granted"
                    } else {
                        "not granted"
                    };
                    spans.push(Span::styled(
                        format!("  ≠ {generally} in general"),
                        t.partial,
                    ));
                }
            }
            TreeItem::new_leaf(idx, Line::from(spans))
        } else {
            spans.push(Span::styled(format!(" {granted}/{total}"), t.dim));
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

/// Who a change to the role reaches: its direct holders and the users who hold it
/// through packages (a user may be both).
pub fn holders_sentence(direct: usize, via_packages: usize) -> String {
    match (direct, via_packages) {
        (0, 0) => "No user holds this role yet.".to_string(),
        (d, 0) => format!(
            "{d} user{} this role: changes apply to them at once.",
            if d == 1 { " holds" } else { "s hold" }
        ),
        (d, v) => format!(
            "{d} user{} it directly and {v} user{} it through packages: changes apply to them at once.",
            if d == 1 { " holds" } else { "s hold" },
            if v == 1 { " reaches" } else { "s reach" }
        ),
    }
}

/// The line under the fields: a problem with the name, the built-in warning, or
/// how many users the role's changes reach.
fn note_line(look: &Look, editor: &RoleEditor) -> Span<'static> {
    let t = look.theme;
    let except = (!editor.is_new).then_some(editor.role_id);
    let problem = (!editor.locked())
        .then(|| look.names.role_name_problem(editor.name.text(), except))
        .flatten();
    if let Some(e) = &editor.exception {
        let (granted, denied) = editor.exception_differences(look.store.catalog());
        Span::styled(
            format!(
                "Only on {}: {} differ{} from the role's general grants (≠); {}",
                display_safe(&e.spec),
                granted.len() + denied.len(),
                if granted.len() + denied.len() == 1 {
                    "s"
                } else {
                    ""
                },
                display_safe(&e.label),
            ),
            t.partial,
        )
    } else if let Some(problem) = problem {
        Span::styled(display_safe(&problem).into_owned(), t.error)
    } else if editor.fixed {
        Span::styled(
            "Fixed by the catalog file: catalog load writes it, nothing else changes it. c on Roles makes an editable copy.",
            t.partial,
        )
    } else if editor.builtin {
        Span::styled(
            "Built in: Administrator always holds every permission, also ones added later. c on Roles makes an editable copy.",
            t.partial,
        )
    } else {
        Span::styled(holders_sentence(editor.users, editor.via_packages), t.dim)
    }
}

pub fn draw(look: &Look, editor: &RoleEditor, frame: &mut Frame, area: Rect) {
    let t = look.theme;
    let catalog = look.store.catalog();
    let counter = match &editor.exception {
        Some(e) => format!(
            " {} of {} scoped granted ",
            e.mask
                .ordinals()
                .filter(|&o| editor.grants.contains(o))
                .count(),
            e.mask.count()
        ),
        None => format!(
            " {} of {} granted ",
            editor.grants.count(),
            catalog.leaf_count()
        ),
    };
    let dirty = if editor.is_dirty() { " · unsaved" } else { "" };
    let lock = if editor.builtin {
        " · built-in, read-only"
    } else if editor.fixed {
        " · fixed, read-only"
    } else {
        ""
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(t.border)
        .title(Span::styled(
            {
                let name = match (&editor.exception, editor.is_new) {
                    (Some(e), _) => format!(
                        "Exception: {} on {}",
                        display_safe(&editor.original_name),
                        display_safe(&e.spec)
                    ),
                    (None, true) => "New role".to_string(),
                    (None, false) => format!("Role: {}", display_safe(&editor.original_name)),
                };
                let room = (area.width as usize).saturating_sub(counter.len() + 6);
                format!(
                    " {} ",
                    crate::text::truncate(&format!("{name}{lock}{dirty}"), room)
                )
            },
            t.title,
        ))
        .title_top(Line::from(Span::styled(counter, t.header)).right_aligned());
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height < 5 {
        return;
    }
    let [fields_area, note_area, tree_area] = Layout::vertical([
        Constraint::Length(3),
        Constraint::Length(1),
        Constraint::Min(1),
    ])
    .areas(inner);
    draw_fields(look, editor, frame, fields_area);
    let note = note_line(look, editor);
    frame.render_widget(Paragraph::new(Line::from(note)), note_area);

    let mut hit = look.hit.get();
    hit.tree = tree_area;
    look.hit.set(hit);
    if let Ok(tree) = Tree::new(editor.items()) {
        let tree = tree
            .highlight_symbol("> ")
            .highlight_style(t.selected)
            .node_closed_symbol("▸ ")
            .node_open_symbol("▾ ")
            .node_no_children_symbol("  ");
        frame.render_stateful_widget(tree, tree_area, &mut editor.tree.borrow_mut());
    }
    if editor.items().is_empty() && editor.is_searching() {
        frame.render_widget(
            Paragraph::new(Span::styled(
                "no permission matches; Esc clears the search",
                t.dim,
            )),
            tree_area,
        );
    }
}

/// The name, description and search lines of the editor.
fn draw_fields(look: &Look, editor: &RoleEditor, frame: &mut Frame, area: Rect) {
    let t = look.theme;
    let catalog = look.store.catalog();
    let [name_area, desc_area, search_area] =
        Layout::vertical([Constraint::Length(1); 3]).areas(area);
    let field = |label: &str, input: &crate::tui::widgets::input::TextInput, focus: Focus| {
        let focused = editor.focus == focus;
        let mut spans = vec![Span::styled(
            format!("{label:<13}"),
            if focused { t.key } else { t.header },
        )];
        spans.extend(input.line(focused, t.normal, t.cursor).spans);
        Line::from(spans)
    };
    frame.render_widget(
        Paragraph::new(field("Name", &editor.name, Focus::Name)),
        name_area,
    );
    frame.render_widget(
        Paragraph::new(field(
            "Description",
            &editor.description,
            Focus::Description,
        )),
        desc_area,
    );
    let mut search = field("Search", &editor.search, Focus::Search);
    if editor.is_searching() {
        search.spans.push(Span::styled(
            format!(
                "   {} permissions shown{}",
                editor.shown_leaf_count(catalog),
                if editor.focus == Focus::Tree {
                    " · Esc clears the search"
                } else {
                    ""
                }
            ),
            t.dim,
        ));
    } else if editor.focus != Focus::Search {
        search.spans.push(Span::styled(
            "/ to search labels, keys and descriptions",
            t.dim,
        ));
    }
    frame.render_widget(Paragraph::new(search), search_area);
}

impl RoleEditor {
    /// "Reload theirs" after a conflict: the role as stored now, edits dropped.
    pub fn reload(&mut self, cx: &mut Ctx) -> Vec<Effect> {
        match cx.store.role_by_id(self.role_id) {
            Ok(role) => {
                *self = RoleEditor::new(cx.store.catalog(), &role, cx.theme);
                vec![
                    Effect::Info(format!(
                        "reloaded \"{}\" as saved by {}; your changes were dropped",
                        role.name, role.updated_by
                    )),
                    Effect::Reload,
                ]
            }
            Err(e) => vec![Effect::Close, Effect::Error(e)],
        }
    }

    /// Saves the role if it is still at `expected_version`; a conflict opens the
    /// reload-or-overwrite dialog instead of overwriting silently. A new role is
    /// created here, and only here.
    pub fn save(
        &mut self,
        summary: SaveSummary,
        expected_version: i64,
        cx: &mut Ctx,
    ) -> Vec<Effect> {
        if self.is_new {
            return self.create(cx);
        }
        let update = RoleUpdate {
            name: summary.rename.as_ref().map(|(_, new)| new.clone()),
            description: summary
                .description_changed
                .then(|| self.description.text().to_string()),
            grants: Some(self.grants.clone()),
        };
        match cx
            .store
            .edit_role(self.role_id, Some(expected_version), |_, _| Ok(update))
        {
            Ok(change) => vec![
                Effect::Info(format!(
                    "saved \"{}\": {} added, {} removed, {} of {} granted",
                    change.role.name,
                    change.added.len(),
                    change.removed.len(),
                    change.role.grants.count(),
                    cx.store.catalog().leaf_count()
                )),
                Effect::Close,
                Effect::Reload,
                Effect::Select(Tab::Roles, change.role.id),
            ],
            Err(Error::Conflict(conflict)) => vec![Effect::Open(Overlay::Conflict {
                conflict,
                retry: Retry::Role(summary),
            })],
            Err(e) => vec![Effect::Error(e)],
        }
    }

    fn create(&mut self, cx: &mut Ctx) -> Vec<Effect> {
        let grants = self.grants.clone();
        let created = cx
            .store
            .create_role(
                self.name.text().trim(),
                self.description.text().trim(),
                None,
            )
            .and_then(|role| {
                if grants.count() == 0 {
                    return Ok(role);
                }
                let update = RoleUpdate {
                    name: None,
                    description: None,
                    grants: Some(grants),
                };
                cx.store
                    .edit_role(role.id, Some(role.version), |_, _| Ok(update))
                    .map(|c| c.role)
            });
        Effect::from_result(created, |role| {
            vec![
                Effect::Info(format!(
                    "created role \"{}\" with {} of {} permissions",
                    role.name,
                    role.grants.count(),
                    cx.store.catalog().leaf_count()
                )),
                Effect::Close,
                Effect::Reload,
                Effect::Select(Tab::Roles, role.id),
            ]
        })
    }

    /// What a key does in the editor.
    pub fn update(&mut self, action: Action, cx: &mut Ctx) -> Vec<Effect> {
        let catalog = cx.store.catalog();
        let read_only = self.locked() || cx.read_only();
        if self.on_tree_key(action) {
            return Vec::new();
        }
        match action {
            // An exception has no name or description of its own.
            Action::NextField | Action::PrevField if self.exception.is_some() => {}
            Action::Exceptions if !self.available(Action::Exceptions, cx.read_only()) => {
                return vec![Effect::Refuse(self.no_exceptions_here())];
            }
            Action::Exceptions => return self.pick_resource(cx),
            Action::ClearException if read_only => {
                return vec![Effect::Refuse(self.refusal(cx.read_only()))];
            }
            Action::ClearException => return self.ask_clear_exception(),
            Action::NextField | Action::PrevField => {
                let order = [Focus::Name, Focus::Description, Focus::Tree];
                let at = order.iter().position(|f| *f == self.focus).unwrap_or(2);
                let next = if action == Action::NextField {
                    (at + 1) % 3
                } else {
                    (at + 2) % 3
                };
                self.focus = order[next];
            }
            Action::Accept => self.focus = Focus::Tree,
            // Esc in a field leaves it; in the search it also clears the search.
            Action::Cancel | Action::ClearSearch => {
                if self.focus == Focus::Search || action == Action::ClearSearch {
                    self.search.clear();
                    self.apply_search(catalog, cx.matcher);
                }
                self.focus = Focus::Tree;
            }
            Action::Filter => self.focus = Focus::Search,
            Action::Toggle | Action::CheckAll | Action::Save if read_only => {
                return vec![Effect::Refuse(self.refusal(cx.read_only()))];
            }
            Action::Toggle => self.toggle_selected(catalog),
            Action::CheckAll => self.check_all(catalog),
            Action::Save if self.exception.is_some() => return self.ask_save_exception(cx),
            Action::Save => return self.ask_save(cx),
            Action::Back if self.is_dirty() && !read_only => return vec![self.ask_discard()],
            Action::Back => return vec![Effect::Close],
            _ => {}
        }
        Vec::new()
    }

    /// A key typed into the focused field or the search.
    pub fn on_input(&mut self, key: &crossterm::event::KeyEvent, cx: &mut Ctx) {
        let read_only = self.locked() || cx.read_only();
        match self.focus {
            Focus::Name if !read_only => {
                self.name.handle(key);
            }
            Focus::Description if !read_only => {
                self.description.handle(key);
            }
            Focus::Search if self.search.handle(key) => {
                self.apply_search(cx.store.catalog(), cx.matcher);
            }
            _ => {}
        }
    }

    /// "Discard unsaved changes?" for this editor.
    pub fn ask_discard(&self) -> Effect {
        Effect::confirm(
            "Discard unsaved changes?".into(),
            vec![format!(
                "Your changes to \"{}\" have not been saved. Discard them?",
                if self.is_new {
                    "the new role"
                } else {
                    &self.original_name
                }
            )],
            Pending::Discard,
        )
    }

    /// Ctrl-S: checks the name and description first (a refusal opens nothing), then
    /// shows every change and asks.
    fn ask_save(&self, cx: &mut Ctx) -> Vec<Effect> {
        let except = (!self.is_new).then_some(self.role_id);
        let problem = cx
            .names
            .role_name_problem(self.name.text(), except)
            .or_else(|| {
                crate::domain::validate::description(self.description.text())
                    .err()
                    .map(|e| e.to_string())
            });
        if let Some(problem) = problem {
            return vec![Effect::Refuse(format!("not saved: {problem}"))];
        }
        let summary = self.summary(cx.store.catalog());
        if self.is_new {
            let n = self.grants.count();
            return vec![Effect::confirm(
                format!("Create role \"{}\"?", self.name.text().trim()),
                vec![format!(
                    "It grants {n} of {} permissions.",
                    cx.store.catalog().leaf_count()
                )],
                Pending::Save(summary),
            )];
        }
        if summary.is_empty() {
            return vec![Effect::Info(
                "nothing to save: the role is as it was loaded".into(),
            )];
        }
        vec![Effect::confirm(
            format!("Save \"{}\"?", summary.role),
            Vec::new(),
            Pending::Save(summary),
        )]
    }

    /// `e`: the resources to edit this role's exception for (marked when it has one).
    fn pick_resource(&self, cx: &mut Ctx) -> Vec<Effect> {
        if self.is_dirty() {
            return vec![Effect::Refuse(
                "save or discard your changes to the role first (Ctrl-S, or Esc then y)".into(),
            )];
        }
        let listed = cx
            .store
            .resources(None)
            .and_then(|r| Ok((r, cx.store.exceptions_of_role(self.role_id)?)));
        Effect::from_result(listed, |(resources, held)| {
            if resources.is_empty() {
                return vec![Effect::Refuse(
                    "no resources yet: the application registers them with `rolecall resources add`"
                        .into(),
                )];
            }
            let choices = resources
                .iter()
                .map(|r| {
                    let mark = if held.contains(&r.id) {
                        "  (has an exception)"
                    } else {
                        ""
                    };
                    (r.id, format!("{}  {}{mark}", r.spec(), r.label))
                })
                .collect();
            vec![Effect::Open(role_pick(
                PickPurpose::ExceptionFor,
                format!("Exception of \"{}\" for", self.original_name),
                choices,
                None,
            ))]
        })
    }

    /// The editor of `parent`'s role's exception for resource `resource_id`: the
    /// scoped permissions only, starting from the exception (or the general grants).
    pub fn for_exception(
        parent: Box<RoleEditor>,
        resource_id: i64,
        cx: &mut Ctx,
    ) -> Result<RoleEditor, (Box<RoleEditor>, Error)> {
        let loaded = cx.store.resources(None).and_then(|all| {
            let resource = all
                .into_iter()
                .find(|r| r.id == resource_id)
                .ok_or_else(|| {
                    Error::invalid(
                        "resource",
                        "it was removed by another process; nothing changed",
                    )
                })?;
            cx.store
                .exception(RoleRef::Id(parent.role_id), &resource.spec())
        });
        let view = match loaded {
            Ok(view) => view,
            Err(e) => return Err((parent, e)),
        };
        let catalog = cx.store.catalog();
        let mask = crate::domain::resource::scope(catalog, &view.resource_type);
        let mut start = Grants::none(catalog);
        for ord in mask.ordinals() {
            let on = match &view.exception {
                Some(set) => set.contains(ord),
                None => view.general.contains(ord),
            };
            start.set(ord, on);
        }
        let in_scope = catalog
            .nodes()
            .iter()
            .map(|n| mask.count_in(n.leaves.clone()) > 0)
            .collect();
        let role = Role {
            id: parent.role_id,
            name: parent.original_name.clone(),
            description: String::new(),
            builtin: false,
            grants: start,
            users: parent.users,
            version: parent.version,
            created_seq: 0,
            created_at: String::new(),
            updated_at: String::new(),
            updated_by: String::new(),
        };
        let mut editor = RoleEditor::new(catalog, &role, cx.theme);
        editor.exception = Some(ExceptionScope {
            spec: view.resource.spec(),
            label: view.resource.label.clone(),
            mask,
            general: view.general,
            exists: view.exception.is_some(),
            in_scope,
        });
        editor.resources = true;
        editor.open_scope(catalog);
        editor.parent = Some(parent);
        Ok(editor)
    }

    /// Opens every category in scope and selects the first node shown.
    fn open_scope(&mut self, catalog: &Catalog) {
        {
            let mut tree = self.tree.borrow_mut();
            tree.close_all();
            for (i, node) in catalog.nodes().iter().enumerate() {
                if self.is_shown(i) && !node.is_leaf() {
                    tree.open(path_of(catalog, i));
                }
            }
            if let Some(first) = (0..catalog.nodes().len()).find(|&i| self.is_shown(i)) {
                tree.select(path_of(catalog, first));
            }
        }
        self.rebuild(catalog);
    }

    /// The scoped permissions where the exception differs from the general grants:
    /// (granted here only, denied here only), as "Category > Label".
    fn exception_differences(&self, catalog: &Catalog) -> (Vec<String>, Vec<String>) {
        let Some(e) = &self.exception else {
            return (Vec::new(), Vec::new());
        };
        let label = |o: usize| catalog.path_label(leaf_node_index(catalog, o));
        let granted = e
            .mask
            .ordinals()
            .filter(|&o| self.grants.contains(o) && !e.general.contains(o))
            .map(label)
            .collect();
        let denied = e
            .mask
            .ordinals()
            .filter(|&o| !self.grants.contains(o) && e.general.contains(o))
            .map(label)
            .collect();
        (granted, denied)
    }

    /// Ctrl-S on an exception: what differs from the general grants, then a confirm.
    fn ask_save_exception(&self, cx: &Ctx) -> Vec<Effect> {
        let Some(e) = &self.exception else {
            return Vec::new();
        };
        if !self.is_dirty() && e.exists {
            return vec![Effect::Info(
                "nothing to save: the exception is as it was loaded".into(),
            )];
        }
        let (granted, denied) = self.exception_differences(cx.store.catalog());
        let mut lines = vec![format!(
            "On {} only, \"{}\" will grant {} of the {} permissions its type scopes.",
            e.spec,
            self.original_name,
            e.mask
                .ordinals()
                .filter(|&o| self.grants.contains(o))
                .count(),
            e.mask.count()
        )];
        if granted.is_empty() && denied.is_empty() {
            lines.push("It grants there exactly what it grants in general.".into());
        }
        for g in granted {
            lines.push(format!("  + {g} (not granted in general)"));
        }
        for d in denied {
            lines.push(format!("  - {d} (granted in general)"));
        }
        vec![Effect::confirm(
            format!("Save the exception for {}?", e.spec),
            lines,
            Pending::SaveException,
        )]
    }

    /// Writes the exception: exactly the scoped permissions checked.
    pub fn save_exception(&mut self, cx: &mut Ctx) -> Vec<Effect> {
        let Some(e) = &self.exception else {
            return Vec::new();
        };
        let catalog = cx.store.catalog();
        let key = |o: usize| catalog.node(leaf_node_index(catalog, o)).key.clone();
        let grant: Vec<String> = e
            .mask
            .ordinals()
            .filter(|&o| self.grants.contains(o))
            .map(key)
            .collect();
        let revoke: Vec<String> = e
            .mask
            .ordinals()
            .filter(|&o| !self.grants.contains(o))
            .map(key)
            .collect();
        let spec = e.spec.clone();
        let saved = cx.store.set_exception_if(
            RoleRef::Id(self.role_id),
            &spec,
            &grant,
            &revoke,
            Some(self.version),
        );
        if let Err(Error::Conflict(_)) = saved {
            return vec![self.changed_elsewhere()];
        }
        Effect::from_result(saved, |_| {
            self.parent_follows(cx);
            vec![
                Effect::Info(format!(
                    "saved the exception of \"{}\" for {spec}: {} of {} scoped permissions granted there",
                    self.original_name,
                    grant.len(),
                    grant.len() + revoke.len()
                )),
                Effect::Close,
                Effect::Reload,
            ]
        })
    }

    /// `x` on an exception: a confirm before the general grants apply again.
    fn ask_clear_exception(&self) -> Vec<Effect> {
        let Some(e) = &self.exception else {
            return Vec::new();
        };
        vec![Effect::confirm(
            format!("Remove the exception for {}?", e.spec),
            vec![format!(
                "\"{}\" then grants on {} what it grants in general.",
                self.original_name, e.spec
            )],
            Pending::ClearException,
        )]
    }

    /// "Yes" to removing the exception.
    pub fn clear_exception(&mut self, cx: &mut Ctx) -> Vec<Effect> {
        let Some(spec) = self.exception.as_ref().map(|e| e.spec.clone()) else {
            return Vec::new();
        };
        let cleared =
            cx.store
                .clear_exception_if(RoleRef::Id(self.role_id), &spec, Some(self.version));
        if let Err(Error::Conflict(_)) = cleared {
            return vec![self.changed_elsewhere()];
        }
        Effect::from_result(cleared, |_| {
            self.parent_follows(cx);
            vec![
                Effect::Info(format!(
                    "removed the exception of \"{}\" for {spec}: its general grants apply there",
                    self.original_name
                )),
                Effect::Close,
                Effect::Reload,
            ]
        })
    }

    /// The refusal when the store found the role changed (its grants or its
    /// exceptions) since the editor read it: saving would undo that without a word.
    fn changed_elsewhere(&self) -> Effect {
        let spec = self.exception.as_ref().map_or("", |e| e.spec.as_str());
        Effect::Refuse(format!(
            "not saved: \"{}\" or its exception for {spec} was changed by another process since you opened it; Esc, then e opens it as it is now",
            self.original_name
        ))
    }

    /// An exception's change raised the role's version, and the store checked that
    /// nobody else changed the role first: the role's own editor (which had nothing
    /// unsaved and was read at the same version) takes the new one.
    fn parent_follows(&mut self, cx: &Ctx) {
        if let (Some(parent), Ok(role)) = (self.parent.as_mut(), cx.store.role_by_id(self.role_id))
        {
            parent.version = role.version;
        }
    }

    /// A click in the tree: on the arrow opens or closes the category, on the box
    /// toggles it, anywhere else selects the row.
    pub fn click(
        &mut self,
        at: ratatui::layout::Position,
        tree_area: Rect,
        cx: &mut Ctx,
    ) -> Vec<Effect> {
        let node = self.tree.borrow().rendered_at(at).map(<[usize]>::to_vec);
        let Some(path) = node else {
            return Vec::new();
        };
        let depth = path.len() - 1;
        self.tree.get_mut().select(path.clone());
        self.focus = Focus::Tree;
        // The arrow sits after the highlight symbol and the indent: 2 + 2·depth
        // columns in; the checkbox follows it.
        let arrow_x = tree_area.x as usize + 2 + 2 * depth;
        let x = at.x as usize;
        if (arrow_x..arrow_x + 2).contains(&x) {
            self.tree.get_mut().toggle(path);
        } else if (arrow_x + 2..arrow_x + 5).contains(&x) {
            return self.update(Action::Toggle, cx);
        }
        Vec::new()
    }
}

impl RoleEditor {
    /// The key scopes of the editor, innermost first: a text field has only its own
    /// keys and the editor's; the tree adds its own and `?`/`1`-`3`.
    pub fn scopes(&self) -> Vec<Scope> {
        match self.focus {
            Focus::Tree if self.is_searching() => {
                vec![
                    Scope::TreeSearch,
                    Scope::Tree,
                    Scope::Editor,
                    Scope::Anywhere,
                ]
            }
            Focus::Tree => vec![Scope::Tree, Scope::Editor, Scope::Anywhere],
            _ => vec![Scope::TextField, Scope::Editor],
        }
    }

    /// Which keys work now: nothing that edits on a built-in role or read-only.
    pub fn available(&self, action: Action, read_only_session: bool) -> bool {
        let read_only = self.locked() || read_only_session;
        match action {
            Action::Toggle | Action::CheckAll | Action::Save => !read_only,
            Action::Exceptions => {
                self.resources && self.exception.is_none() && !self.is_new && !self.locked()
            }
            // An exception has no name or description to move to.
            Action::NextField | Action::PrevField => self.exception.is_none(),
            Action::ClearException => {
                !read_only && self.exception.as_ref().is_some_and(|e| e.exists)
            }
            Action::ClearSearch => self.is_searching(),
            _ => true,
        }
    }

    /// Why `e` does nothing here.
    fn no_exceptions_here(&self) -> String {
        if self.exception.is_some() {
            "this is an exception already: Esc goes back to the role".into()
        } else if self.is_new {
            "save the new role first (Ctrl-S); exceptions belong to a saved role".into()
        } else if self.locked() {
            self.refusal(false)
        } else {
            "the catalog declares no resource types, so there are no exceptions".into()
        }
    }

    /// True for the built-in role and the catalog's fixed roles: browsed, never edited.
    pub fn locked(&self) -> bool {
        self.builtin || self.fixed
    }

    /// Why an edit is refused here, in the console's words.
    pub fn refusal(&self, read_only_session: bool) -> String {
        if self.fixed {
            format!(
                "\"{}\" is a fixed role of the catalog; c on Roles makes an editable copy",
                self.original_name
            )
        } else if self.builtin {
            format!(
                "\"{}\" is built in and holds every permission; c on Roles makes an editable copy",
                self.original_name
            )
        } else if read_only_session {
            "read-only: this session was opened with --read-only, so nothing can be changed"
                .to_string()
        } else {
            String::new()
        }
    }

    /// Movement and opening in the tree; false when `action` is not one.
    fn on_tree_key(&mut self, action: Action) -> bool {
        let tree = self.tree.get_mut();
        match action {
            Action::Up => tree.key_up(),
            Action::Down => tree.key_down(),
            Action::PageUp => (0..10).any(|_| !tree.key_up()),
            Action::PageDown => (0..10).any(|_| !tree.key_down()),
            Action::Home => tree.select_first(),
            Action::End => tree.select_last(),
            Action::Expand => tree.key_right(),
            Action::Collapse => tree.key_left(),
            Action::Open => tree.toggle_selected(),
            _ => return false,
        };
        true
    }
}
