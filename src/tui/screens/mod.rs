//! The screens, one file each: state, update (what its keys do), drawing, and which
//! of its keys work now (`available`, read by the footer and the help). A screen
//! changes only its own state and the store; what only the router may do (open a
//! dialog, say something, open or close an editor, switch tab, read the lists again,
//! quit) it asks for by returning [`Effect`]s, which `App::apply` carries out.
//!
//! This file holds what the screens share: the [`Ctx`] they act through, the
//! [`Names`] they may show, the list model ([`ListView`]) and the keys every list
//! has.

pub mod audit;
pub mod package_editor;
pub mod packages;
pub mod resources;
pub mod role_editor;
pub mod roles;
pub mod user_form;
pub mod users;

use std::cell::Cell;

use crossterm::event::KeyEvent;
use fuzzy_matcher::skim::SkimMatcherV2;

use crate::store::Store;
use crate::tui::app::{HitAreas, Tab};
use crate::tui::dialogs::{Overlay, Pending};
use crate::tui::keys::Action;
use crate::tui::theme::Theme;
use crate::tui::widgets::list::FilteredList;

/// The refusal every change meets in a `--read-only` session.
pub const READ_ONLY: &str =
    "read-only: this session was opened with --read-only, so nothing can be changed";

/// What a screen asks of the router, which alone holds the tabs, the dialogs, the
/// editors and the status line.
pub enum Effect {
    /// Say something in the status line.
    Info(String),
    /// Say why something was refused, in the status line.
    Refuse(String),
    /// Say what went wrong (worded for the console).
    Error(crate::error::Error),
    /// Open a dialog over whatever is open.
    Open(Overlay),
    /// Open the role editor.
    EditRole(Box<role_editor::RoleEditor>),
    /// Open the user form.
    EditUser(Box<user_form::UserForm>),
    /// Open the package editor.
    EditPackage(Box<package_editor::PackageEditor>),
    /// Close the open editor or form (saved, or left with nothing unsaved).
    Close,
    /// Read every list again.
    Reload,
    /// Select the row with this id on a tab's list (after a reload, say).
    Select(Tab, i64),
    /// Show the audit rows about this user, role or package, on the Audit tab.
    AuditOf(String),
    /// End the console.
    Quit,
}

impl std::fmt::Debug for Effect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Effect::Info(t) => write!(f, "Info({t:?})"),
            Effect::Refuse(t) => write!(f, "Refuse({t:?})"),
            Effect::Error(e) => write!(f, "Error({e})"),
            Effect::Open(o) => write!(f, "Open({o:?})"),
            Effect::EditRole(e) => write!(f, "EditRole({})", e.role_id),
            Effect::EditUser(_) => write!(f, "EditUser"),
            Effect::EditPackage(e) => write!(f, "EditPackage({})", e.id),
            Effect::Close => write!(f, "Close"),
            Effect::Reload => write!(f, "Reload"),
            Effect::Select(tab, id) => write!(f, "Select({tab:?}, {id})"),
            Effect::AuditOf(n) => write!(f, "AuditOf({n:?})"),
            Effect::Quit => write!(f, "Quit"),
        }
    }
}

impl Effect {
    /// A yes/no dialog holding what "yes" does.
    pub fn confirm(title: String, lines: Vec<String>, pending: Pending) -> Effect {
        Effect::Open(Overlay::Confirm {
            title,
            lines,
            pending,
            scroll: Default::default(),
        })
    }

    /// The result of a store call: `ok` on success, the error's words otherwise.
    pub fn from_result<T>(
        result: Result<T, crate::error::Error>,
        ok: impl FnOnce(T) -> Vec<Effect>,
    ) -> Vec<Effect> {
        match result {
            Ok(value) => ok(value),
            Err(e) => vec![Effect::Error(e)],
        }
    }
}

/// What every screen may name without asking the store: roles and packages by id (in
/// the lists' order, for pickers and columns) and the default role. Read again with
/// every list.
#[derive(Debug, Default, Clone)]
pub struct Names {
    pub roles: Vec<(i64, String)>,
    pub packages: Vec<(i64, String)>,
    pub default_role: i64,
    /// The catalog declares resource types: the Resources tab and exceptions show.
    pub resource_types: bool,
}

impl Names {
    /// The name of role `id`, or "" for none (a user with no direct role).
    pub fn role(&self, id: i64) -> &str {
        self.roles
            .iter()
            .find(|(r, _)| *r == id)
            .map_or("", |(_, name)| name.as_str())
    }

    /// The roles but `except`.
    pub fn roles_except(&self, except: Option<i64>) -> Vec<(i64, String)> {
        self.roles
            .iter()
            .filter(|(id, _)| Some(*id) != except)
            .cloned()
            .collect()
    }

    /// What is wrong with `name` for a role (other than role `except`): the rule's
    /// words, or "already used" for a duplicate.
    pub fn role_name_problem(&self, name: &str, except: Option<i64>) -> Option<String> {
        name_problem(&self.roles, "role", name, except)
    }

    /// The same for a package (packages follow the rules of role names).
    pub fn package_name_problem(&self, name: &str, except: Option<i64>) -> Option<String> {
        name_problem(&self.packages, "package", name, except)
    }
}

fn name_problem(
    taken: &[(i64, String)],
    what: &str,
    name: &str,
    except: Option<i64>,
) -> Option<String> {
    if let Err(e) = crate::domain::validate::role_name(name) {
        return Some(e.to_string());
    }
    let key = crate::text::name_key(name.trim());
    taken
        .iter()
        .find(|(id, other)| Some(*id) != except && crate::text::name_key(other) == key)
        .map(|(_, other)| format!("name: a {what} named \"{other}\" already exists"))
}

/// What a screen acts through: the store it changes, the names it may show.
pub struct Ctx<'a> {
    pub store: &'a mut Store,
    pub matcher: &'a SkimMatcherV2,
    pub theme: Theme,
    pub names: &'a Names,
}

impl Ctx<'_> {
    pub fn read_only(&self) -> bool {
        self.store.is_read_only()
    }
}

/// What a screen reads while it draws, besides its own state.
pub struct Look<'a> {
    pub theme: &'a Theme,
    pub matcher: &'a SkimMatcherV2,
    /// Where the mouse can hit, written by the draw.
    pub hit: &'a Cell<HitAreas>,
    pub store: &'a Store,
    pub names: &'a Names,
}

/// A list beside its preview when the terminal is wide (110 columns), above it
/// otherwise.
pub fn list_and_preview(area: ratatui::layout::Rect) -> [ratatui::layout::Rect; 2] {
    use ratatui::layout::{Constraint, Layout};
    if area.width >= 110 {
        Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(area)
    } else {
        Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(area)
    }
}

/// A list of rows with their filter haystacks and list model.
pub struct ListView<T> {
    /// Shared, not copied: the served consoles of one process hold one users list.
    pub rows: std::sync::Arc<Vec<T>>,
    pub haystacks: std::sync::Arc<Vec<String>>,
    pub list: FilteredList,
}

impl<T> Default for ListView<T> {
    fn default() -> Self {
        ListView {
            rows: Default::default(),
            haystacks: Default::default(),
            list: FilteredList::new(0),
        }
    }
}

impl<T> ListView<T> {
    pub(crate) fn load(
        &mut self,
        rows: Vec<T>,
        haystack: impl Fn(&T) -> String,
        key: impl Fn(&T) -> i64,
        matcher: &SkimMatcherV2,
    ) {
        let haystacks: Vec<String> = rows.iter().map(haystack).collect();
        self.load_with(rows.into(), haystacks.into(), key, matcher);
    }

    /// Replaces the rows, keeping the filter and the selected row (found by `key`).
    pub(crate) fn load_with(
        &mut self,
        rows: std::sync::Arc<Vec<T>>,
        haystacks: std::sync::Arc<Vec<String>>,
        key: impl Fn(&T) -> i64,
        matcher: &SkimMatcherV2,
    ) {
        let keep_key = self.selected().map(&key);
        self.haystacks = haystacks;
        let keep = keep_key.and_then(|k| rows.iter().position(|r| key(r) == k));
        self.rows = rows;
        self.list.reset(&self.haystacks, matcher, keep);
    }

    pub fn selected(&self) -> Option<&T> {
        self.list.selected_source().and_then(|i| self.rows.get(i))
    }

    /// Selects the row `key` gives `id`, clearing the filter when it hides that row.
    pub(crate) fn select(&mut self, id: i64, key: impl Fn(&T) -> i64, matcher: &SkimMatcherV2) {
        let Some(pos) = self.rows.iter().position(|r| key(r) == id) else {
            return;
        };
        if !self.list.select_source(pos) {
            self.list.clear_filter(&self.haystacks, matcher);
            self.list.select_source(pos);
        }
    }

    /// The keys every list has: movement, `/`, Enter and Esc in the filter, Esc to
    /// clear it, `q`. `None` when `action` is not one of them (or Esc has nothing
    /// to clear).
    pub fn on_key(&mut self, action: Action, matcher: &SkimMatcherV2) -> Option<Vec<Effect>> {
        let list = &mut self.list;
        if list.on_action(action) {
            return Some(Vec::new());
        }
        match action {
            Action::Quit => return Some(vec![Effect::Quit]),
            Action::Filter => list.editing = true,
            Action::Accept => list.editing = false,
            Action::Cancel => list.clear_filter(&self.haystacks, matcher),
            Action::Back if list.is_filtered() => list.clear_filter(&self.haystacks, matcher),
            _ => return None,
        }
        Some(Vec::new())
    }

    /// A key typed into the filter.
    pub fn typed(&mut self, key: &KeyEvent, matcher: &SkimMatcherV2) {
        if self.list.query.handle(key) {
            self.list.refilter(&self.haystacks, matcher);
        }
    }
}
