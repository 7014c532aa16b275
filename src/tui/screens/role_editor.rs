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
use crate::store::RoleUpdate;
use crate::text::display_safe;
use crate::tui::app::Tab;
use crate::tui::dialogs::{Overlay, Pending, Retry};
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
    /// A role that does not exist yet: saving creates it.
    pub is_new: bool,
    pub version: i64,
    pub builtin: bool,
    /// A fixed role of the catalog file (`[[role]]`): locked like the built-in one.
    pub fixed: bool,
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

/// The line under the fields: a problem with the name, the built-in warning, or
/// how many users the role's changes reach.
fn note_line(look: &Look, editor: &RoleEditor) -> Span<'static> {
    let t = look.theme;
    let except = (!editor.is_new).then_some(editor.role_id);
    let problem = (!editor.locked())
        .then(|| look.names.role_name_problem(editor.name.text(), except))
        .flatten();
    if let Some(problem) = problem {
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
    } else if editor.users > 0 {
        Span::styled(
            format!(
                "{} user{} hold this role: changes apply to them at once.",
                editor.users,
                if editor.users == 1 { "" } else { "s" }
            ),
            t.dim,
        )
    } else {
        Span::styled("No user holds this role yet.", t.dim)
    }
}

pub fn draw(look: &Look, editor: &RoleEditor, frame: &mut Frame, area: Rect) {
    let t = look.theme;
    let catalog = look.store.catalog();
    let counter = format!(
        " {} of {} granted ",
        editor.grants.count(),
        catalog.leaf_count()
    );
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
                let name = if editor.is_new {
                    "New role".to_string()
                } else {
                    format!("Role: {}", display_safe(&editor.original_name))
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
            Action::ClearSearch => self.is_searching(),
            _ => true,
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
