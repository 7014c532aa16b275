//! The router: the tabs, the one open dialog, the status line, the tick, and handing
//! each [`Msg`] to the place that has the focus (a dialog, the role editor, the user
//! form, or the current tab's list). The screens live in `screens/`, the dialogs in
//! `dialogs/`; only `update` changes state, and rendering reads it (`views`), so the
//! whole console can be driven in tests without a terminal.

use std::cell::Cell;
use std::time::Instant;

use crossterm::event::KeyEvent;
use fuzzy_matcher::skim::SkimMatcherV2;
use ratatui::layout::{Position, Rect};

use crate::domain::catalog::{Catalog, Grants};
use crate::domain::role::{Role, RoleSummary};
use crate::domain::user::UserRow;
use crate::error::Error;
use crate::store::Store;
use crate::tui::keys::{self, Action, Scope};
use crate::tui::screens::audit::AuditScreen;
use crate::tui::screens::role_editor::{Focus, RoleEditor};
use crate::tui::screens::user_form::UserForm;
use crate::tui::screens::{Effect, Look};
use crate::tui::theme::Theme;
use crate::tui::widgets::list::FilteredList;

pub use crate::tui::dialogs::{Overlay, Pending, PickPurpose, PromptPurpose, Retry};

/// Above this many users the list loads in two steps: the first page at once, for
/// the first frame, and the whole list on a background thread.
pub const LOAD_IN_BACKGROUND_ABOVE: usize = 20_000;

/// The first page loaded when the list loads in the background.
const FIRST_PAGE: usize = 300;

/// The whole users list and its haystacks, read on another thread.
type UsersLoad = Result<(Vec<UserRow>, Vec<String>), Error>;

/// Two clicks on one cell within this many milliseconds are a double click.
const DOUBLE_CLICK_MS: u128 = 400;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Users,
    Roles,
    Audit,
}

impl Tab {
    pub const ALL: [Tab; 3] = [Tab::Users, Tab::Roles, Tab::Audit];

    pub fn title(self) -> &'static str {
        match self {
            Tab::Users => "Users",
            Tab::Roles => "Roles",
            Tab::Audit => "Audit",
        }
    }

    pub fn index(self) -> usize {
        Tab::ALL.iter().position(|t| *t == self).unwrap_or(0)
    }
}

/// One input to `update`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Msg {
    /// A bound key's action in the current context.
    Action(Action),
    /// A key typed into the focused text field.
    Input(KeyEvent),
    /// A left click at a screen cell.
    Click(Position),
    /// Mouse wheel: rows to scroll, negative for up.
    Scroll { at: Position, rows: isize },
    /// About once a second: look for changes made by other processes.
    Tick,
}

/// Where the keyboard is: the status line belongs to a place and goes when the
/// operator leaves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    List(Tab),
    Editor,
    Form,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub text: String,
    pub error: bool,
}

/// A list of rows with their filter haystacks and list model.
pub struct ListView<T> {
    pub rows: Vec<T>,
    pub haystacks: Vec<String>,
    pub list: FilteredList,
}

impl<T> Default for ListView<T> {
    fn default() -> Self {
        ListView {
            rows: Vec::new(),
            haystacks: Vec::new(),
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
        let haystacks = rows.iter().map(haystack).collect();
        self.load_with(rows, haystacks, key, matcher);
    }

    /// Replaces the rows, keeping the filter and the selected row (found by `key`).
    pub(crate) fn load_with(
        &mut self,
        rows: Vec<T>,
        haystacks: Vec<String>,
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
}

/// Screen areas of the last draw, for mouse hit-testing.
#[derive(Debug, Default, Clone, Copy)]
pub struct HitAreas {
    pub tabs: Rect,
    /// Where list rows start (below the header row).
    pub list_rows: Rect,
    pub tree: Rect,
}

pub struct App {
    pub store: Store,
    pub theme: Theme,
    pub tab: Tab,
    pub users: ListView<UserRow>,
    pub roles: ListView<RoleSummary>,
    pub audit: AuditScreen,
    /// The role under the Roles list's selection, for the preview pane.
    pub preview: Option<Role>,
    pub default_role: i64,
    /// Users in the database (the list may still be loading).
    pub users_total: usize,
    /// Lists longer than this load in the background ([`LOAD_IN_BACKGROUND_ABOVE`]).
    pub load_in_background_above: usize,
    /// The catalog everything on screen was built from. When the store's differs
    /// (another process loaded one), [`App::follow_catalog`] moves every part that
    /// holds grants onto the new one before anything is drawn.
    catalog: Catalog,
    /// Why the console had to stop (a newer rolecall took the file over).
    pub fatal: Option<Error>,
    /// The whole users list, while a background thread reads it.
    pub(crate) users_loading: Option<std::sync::mpsc::Receiver<UsersLoad>>,
    pub editor: Option<RoleEditor>,
    /// The user form (new or edit), over the Users tab.
    pub form: Option<UserForm>,
    /// IANA time-zone names for the form's completion, read when a form first opens.
    pub tz_names: Vec<String>,
    /// The open dialogs, the top one last: it has the keyboard, Esc closes it and
    /// the one under it has the keyboard again (help over a confirm, say).
    pub(crate) overlays: Vec<Overlay>,
    /// True when the last draw cut the status line short with `…`.
    pub(crate) status_cut: Cell<bool>,
    /// Users tagged with Space in the Users list (ids); `r` and `x` act on all of them.
    pub tagged: std::collections::BTreeSet<i64>,
    pub status: Option<Status>,
    /// The tab to switch to once an unsaved edit is discarded.
    pub(crate) after_discard: Option<Tab>,
    pub quit: bool,
    pub hit: Cell<HitAreas>,
    /// The last click, for double clicks.
    last_click: Option<(Position, Instant)>,
    pub(crate) matcher: SkimMatcherV2,
    data_version: i64,
}

/// What the users filter matches: username, name and email, lowercased once.
pub(crate) fn user_haystack(u: &UserRow) -> String {
    format!(
        "{} {} {} {}",
        u.username, u.first_name, u.last_name, u.email
    )
    .to_lowercase()
}

impl App {
    pub fn new(store: Store, theme: Theme) -> Result<App, Error> {
        let data_version = store.data_version()?;
        let catalog = store.catalog().clone();
        let mut app = App {
            store,
            theme,
            tab: Tab::Users,
            users: ListView::default(),
            roles: ListView::default(),
            audit: AuditScreen::default(),
            preview: None,
            default_role: 0,
            users_total: 0,
            load_in_background_above: LOAD_IN_BACKGROUND_ABOVE,
            users_loading: None,
            catalog,
            fatal: None,
            editor: None,
            form: None,
            tz_names: Vec::new(),
            overlays: Vec::new(),
            status_cut: Cell::new(false),
            tagged: std::collections::BTreeSet::new(),
            status: None,
            after_discard: None,
            quit: false,
            hit: Cell::new(HitAreas::default()),
            last_click: None,
            matcher: SkimMatcherV2::default(),
            data_version,
        };
        app.reload()?;
        Ok(app)
    }

    /// Reads every list again, keeping selections and filters.
    pub fn reload(&mut self) -> Result<(), Error> {
        // Every user holds exactly one role, so the roles' counts add up to the total.
        let roles = self.store.roles()?;
        self.users_total = roles.iter().map(|r| r.users).sum();
        self.roles
            .load(roles, |r| r.name.to_lowercase(), |r| r.id, &self.matcher);
        self.load_users()?;
        self.audit.load(&self.store, &self.matcher)?;
        self.default_role = self.store.default_role_id()?;
        self.refresh_preview();
        self.data_version = self.store.data_version()?;
        Ok(())
    }

    /// Loads the users list: at once when it is small; otherwise the first page now
    /// and the rest from a background thread with its own read-only connection, so
    /// the first frame never waits for 100,000 rows.
    fn load_users(&mut self) -> Result<(), Error> {
        if self.users_total <= self.load_in_background_above {
            let users = self.store.user_rows()?;
            self.users
                .load(users, user_haystack, |u| u.id, &self.matcher);
            self.tagged
                .retain(|id| self.users.rows.iter().any(|u| u.id == *id));
            self.users_loading = None;
            return Ok(());
        }
        if self.users.rows.is_empty() {
            let page = self.store.user_rows_page(FIRST_PAGE)?;
            self.users
                .load(page, user_haystack, |u| u.id, &self.matcher);
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let path = self.store.path().to_path_buf();
        std::thread::spawn(move || {
            let load = Store::open(&path, crate::store::Access::ReadOnly).and_then(|store| {
                let rows = store.user_rows()?;
                let haystacks = rows.iter().map(user_haystack).collect();
                Ok((rows, haystacks))
            });
            let _ = tx.send(load);
        });
        self.users_loading = Some(rx);
        Ok(())
    }

    /// True while the whole users list is still being read.
    pub fn is_loading_users(&self) -> bool {
        self.users_loading.is_some()
    }

    /// Takes the background load of the users list when it has arrived; true when
    /// the list changed. Waits for it when `block` is set (tests, benchmarks).
    pub fn poll_background(&mut self, block: bool) -> bool {
        let Some(rx) = &self.users_loading else {
            return false;
        };
        let received = if block {
            rx.recv().ok()
        } else {
            rx.try_recv().ok()
        };
        let Some(load) = received else { return false };
        self.users_loading = None;
        match load {
            Ok((rows, haystacks)) => {
                self.users_total = rows.len();
                self.users
                    .load_with(rows, haystacks, |u| u.id, &self.matcher);
                self.tagged
                    .retain(|id| self.users.rows.iter().any(|u| u.id == *id));
            }
            Err(e) => self.error(&e),
        }
        true
    }

    pub(crate) fn refresh_preview(&mut self) {
        let id = self.roles.selected().map(|r| (r.id, r.version));
        let current = self.preview.as_ref().map(|r| (r.id, r.version));
        if id != current {
            self.preview = id.and_then(|(id, _)| self.store.role_by_id(id).ok());
        }
    }

    pub(crate) fn info(&mut self, text: impl Into<String>) {
        self.status = Some(Status {
            text: text.into(),
            error: false,
        });
    }

    pub(crate) fn error(&mut self, err: &Error) {
        self.status = Some(Status {
            text: crate::tui::console_words(&err.to_string()),
            error: true,
        });
    }

    pub(crate) fn refuse(&mut self, text: impl Into<String>) {
        self.status = Some(Status {
            text: text.into(),
            error: true,
        });
    }

    /// The fuzzy matcher, for views that highlight matched letters.
    pub fn matcher(&self) -> &SkimMatcherV2 {
        &self.matcher
    }

    /// The name of a role by id, from the loaded roles list.
    pub fn role_name(&self, id: i64) -> &str {
        self.roles
            .rows
            .iter()
            .find(|r| r.id == id)
            .map_or("?", |r| r.name.as_str())
    }

    /// What is wrong with `name` for a role (other than role `except`): the rule's
    /// words, or "already used" for a duplicate.
    pub fn role_name_problem(&self, name: &str, except: Option<i64>) -> Option<String> {
        if let Err(e) = crate::domain::validate::role_name(name) {
            return Some(e.to_string());
        }
        let key = crate::text::name_key(name.trim());
        self.roles
            .rows
            .iter()
            .find(|r| Some(r.id) != except && crate::text::name_key(&r.name) == key)
            .map(|r| format!("name: a role named \"{}\" already exists", r.name))
    }

    /// Where the keyboard is, dialogs aside.
    pub fn place(&self) -> Place {
        if self.editor.is_some() {
            Place::Editor
        } else if self.form.is_some() {
            Place::Form
        } else {
            Place::List(self.tab)
        }
    }

    /// The name of the current place, for the help.
    pub fn place_name(&self) -> &'static str {
        match self.place() {
            Place::Editor => "role editor",
            Place::Form => "user form",
            Place::List(Tab::Users) => "Users list",
            Place::List(Tab::Roles) => "Roles list",
            Place::List(Tab::Audit) => "Audit log",
        }
    }

    /// The dialog on top, which has the keyboard.
    pub fn overlay(&self) -> Option<&Overlay> {
        self.overlays.last()
    }

    /// Every open dialog, the bottom one first.
    pub fn overlays(&self) -> &[Overlay] {
        &self.overlays
    }

    /// Opens a dialog over whatever is open.
    pub(crate) fn open(&mut self, overlay: Overlay) {
        self.overlays.push(overlay);
    }

    /// The key scopes active now, innermost first.
    pub fn scopes(&self) -> Vec<Scope> {
        let mut scopes = match self.overlay() {
            Some(overlay) => overlay.scopes(),
            None => self.place_scopes(),
        };
        if self.status.is_some() {
            scopes.push(Scope::Message);
        }
        scopes
    }

    /// The key scopes of what is under the help (a dialog, or the place under any
    /// dialog), innermost first.
    pub fn help_scopes(&self) -> Vec<Scope> {
        match self
            .overlays
            .iter()
            .rev()
            .find(|o| !matches!(o, Overlay::Help { .. }))
        {
            Some(overlay) => overlay.scopes(),
            None => self.place_scopes(),
        }
    }

    /// The key scopes of the place under any dialog, innermost first.
    pub fn place_scopes(&self) -> Vec<Scope> {
        if let Some(form) = &self.form {
            return form.scopes();
        }
        if let Some(editor) = &self.editor {
            return editor.scopes();
        }
        if self.current_list().editing {
            return vec![Scope::TextField];
        }
        match self.tab {
            Tab::Roles => vec![Scope::Roles, Scope::List, Scope::Anywhere],
            Tab::Users => vec![Scope::Users, Scope::List, Scope::Anywhere],
            Tab::Audit => vec![Scope::List, Scope::Anywhere],
        }
    }

    /// True when `action` does something in the current place and state: the footer
    /// and the help list only these.
    /// With a dialog open this answers for the place under it (the help's "Here").
    pub fn available(&self, action: Action) -> bool {
        if action == Action::ShowStatus {
            return self.status.is_some() && self.status_cut.get();
        }
        if let Some(editor) = &self.editor {
            return editor.available(action, self.store.is_read_only());
        }
        if let Some(form) = &self.form {
            return form.available(action, self.store.is_read_only());
        }
        crate::tui::screens::list_available(self, action)
    }

    pub fn current_list(&self) -> &FilteredList {
        match self.tab {
            Tab::Users => &self.users.list,
            Tab::Roles => &self.roles.list,
            Tab::Audit => &self.audit.view.list,
        }
    }

    /// The current tab's list model, its haystacks and the matcher, borrowed apart.
    pub(crate) fn current_list_mut(&mut self) -> (&mut FilteredList, &[String], &SkimMatcherV2) {
        let matcher = &self.matcher;
        match self.tab {
            Tab::Users => (&mut self.users.list, &self.users.haystacks, matcher),
            Tab::Roles => (&mut self.roles.list, &self.roles.haystacks, matcher),
            Tab::Audit => (
                &mut self.audit.view.list,
                &self.audit.view.haystacks,
                matcher,
            ),
        }
    }

    /// Maps a key to a message in the current context.
    pub fn key_to_msg(&self, key: KeyEvent) -> Option<Msg> {
        let scopes = self.scopes();
        match keys::resolve(&key, &scopes) {
            Some(action) => Some(Msg::Action(action)),
            None if scopes.contains(&Scope::TextField) => Some(Msg::Input(key)),
            None => None,
        }
    }

    /// The one place state changes.
    pub fn update(&mut self, msg: Msg) {
        let place = self.place();
        let status = self.status.clone();
        match msg {
            Msg::Action(Action::ForceQuit) => self.quit = true,
            Msg::Action(action) => self.on_action(action),
            Msg::Input(key) => self.on_input(key),
            Msg::Click(at) => self.on_click(at),
            Msg::Scroll { at, rows } => self.on_scroll(at, rows),
            Msg::Tick => self.on_tick(),
        }
        // A status belongs to the place it was said in: leaving that place without
        // a new word clears it.
        if self.place() != place && self.status == status {
            self.status = None;
        }
        // Any store call may have read a newer catalog (every write reads it again
        // when another process changed it): nothing is drawn from the old one.
        self.follow_catalog();
    }

    /// Moves everything that holds grants onto the store's catalog when it changed:
    /// the editor carries its edits over by key, the form and the preview re-read
    /// their role, and the compare dialog re-reads both roles (or closes).
    fn follow_catalog(&mut self) {
        if self.store.catalog().stamp() == self.catalog.stamp() {
            return;
        }
        let old = std::mem::replace(&mut self.catalog, self.store.catalog().clone());
        let mut note = String::from("the permission catalog was changed by another process");
        if let Some(editor) = self.editor.as_mut() {
            let lost = editor.rebase(&old, &self.catalog, &self.matcher);
            if lost > 0 {
                note.push_str(&format!(
                    "; {lost} permission{} marked in the editor no longer exist{}",
                    if lost == 1 { "" } else { "s" },
                    if lost == 1 { "s" } else { "" }
                ));
            } else {
                note.push_str("; your edits were kept");
            }
        }
        if let Some(form) = self.form.as_mut() {
            form.grants = self
                .store
                .role_by_id(form.role_id)
                .map(|r| r.grants)
                .unwrap_or_else(|_| Grants::none(&self.catalog));
        }
        let store = &self.store;
        self.overlays.retain_mut(|overlay| {
            let Overlay::Compare { a, b, .. } = overlay else {
                return true;
            };
            match (store.role_by_id(a.id), store.role_by_id(b.id)) {
                (Ok(new_a), Ok(new_b)) => {
                    **a = new_a;
                    **b = new_b;
                    true
                }
                _ => false,
            }
        });
        self.preview = None;
        self.refresh_preview();
        self.info(note);
    }

    fn on_tick(&mut self) {
        self.poll_background(false);
        match self.store.data_version() {
            Ok(v) if v != self.data_version => {
                // A newer rolecall that raised the schema owns the file now: stop
                // before reading or writing anything under the old one's rules.
                if let Err(e) = self.store.ensure_schema_current() {
                    self.fatal = Some(e);
                    self.quit = true;
                    return;
                }
                if let Err(e) = self.store.refresh_catalog().and_then(|_| self.reload()) {
                    self.error(&e);
                }
            }
            Ok(_) => {}
            Err(e) => self.error(&e),
        }
    }

    fn on_action(&mut self, action: Action) {
        if action == Action::ShowStatus {
            if let Some(status) = self.status.clone() {
                self.open(Overlay::Message {
                    text: status.text,
                    error: status.error,
                    scroll: Default::default(),
                });
            }
            return;
        }
        if !self.overlays.is_empty() {
            return self.on_overlay_action(action);
        }
        match action {
            Action::Help => {
                return self.open(Overlay::Help {
                    scroll: Default::default(),
                });
            }
            Action::Tab(_) | Action::NextTab | Action::PrevTab => {
                let i = self.tab.index();
                let to = match action {
                    Action::Tab(n) => n.min(2),
                    Action::NextTab => (i + 1) % 3,
                    _ => (i + 2) % 3,
                };
                return self.switch_tab(Tab::ALL[to]);
            }
            _ => {}
        }
        if self.editor.is_some() {
            return self.on_editor_action(action);
        }
        if self.form.is_some() {
            return self.on_form_action(action);
        }
        self.on_list_action(action);
    }

    /// Goes to `tab`, leaving an open editor or form first (asking when unsaved).
    pub(crate) fn switch_tab(&mut self, tab: Tab) {
        let dirty = self
            .editor
            .as_ref()
            .is_some_and(|e| e.is_dirty() && !e.builtin)
            || self.form.as_ref().is_some_and(|f| f.is_dirty());
        if dirty && !self.store.is_read_only() {
            self.after_discard = Some(tab);
            return self.ask_discard();
        }
        self.editor = None;
        self.form = None;
        self.tab = tab;
        if tab == Tab::Roles {
            self.refresh_preview();
        }
    }

    pub(crate) fn reload_or_report(&mut self) {
        if let Err(e) = self.reload() {
            self.error(&e);
        }
    }

    pub(crate) fn refuse_read_only(&mut self) {
        self.refuse(
            "read-only: this session was opened with --read-only, so nothing can be changed",
        );
    }

    fn on_click(&mut self, at: Position) {
        let double = self
            .last_click
            .is_some_and(|(p, when)| p == at && when.elapsed().as_millis() < DOUBLE_CLICK_MS);
        self.last_click = Some((at, Instant::now()));
        let hit = self.hit.get();
        if !self.overlays.is_empty() {
            return;
        }
        if self.editor.is_some() {
            if hit.tree.contains(at) {
                self.click_tree(at, hit.tree);
            }
            return;
        }
        if self.form.is_some() {
            return;
        }
        if hit.tabs.contains(at) {
            // Tab titles are drawn left to right; each is about 14 columns wide.
            let i = ((at.x - hit.tabs.x) / 14) as usize;
            if i < 3 {
                self.switch_tab(Tab::ALL[i]);
            }
            return;
        }
        if hit.list_rows.contains(at) {
            let row = (at.y - hit.list_rows.y) as usize;
            let (list, _, _) = self.current_list_mut();
            if let Some((pos, _)) = list.source_at_row(row) {
                list.select_position(pos);
                if double {
                    self.on_list_action(Action::Open);
                }
            }
            if self.tab == Tab::Roles {
                self.refresh_preview();
            }
        }
    }

    fn on_scroll(&mut self, _at: Position, rows: isize) {
        if let Some(overlay) = self.overlays.last_mut() {
            return overlay.on_wheel(rows);
        }
        if let Some(editor) = self.editor.as_mut() {
            let tree = editor.tree.get_mut();
            if rows < 0 {
                tree.scroll_up(rows.unsigned_abs());
            } else {
                tree.scroll_down(rows as usize);
            }
            return;
        }
        if let Some(form) = self.form.as_mut() {
            return form.permissions.scroll(rows);
        }
        self.current_list_mut().0.scroll(rows);
        if self.tab == Tab::Roles {
            self.refresh_preview();
        }
    }

    /// What the screens read while they draw.
    pub fn look(&self) -> Look<'_> {
        Look {
            theme: &self.theme,
            matcher: &self.matcher,
            hit: &self.hit,
            store: &self.store,
        }
    }

    /// Carries out what a screen asked for, in order.
    pub(crate) fn apply(&mut self, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::Info(text) => self.info(text),
                Effect::Refuse(text) => self.refuse(text),
                Effect::Error(e) => self.error(&e),
                Effect::Open(overlay) => self.open(overlay),
                Effect::Reload => self.reload_or_report(),
                Effect::Quit => self.quit = true,
                Effect::AuditOf(name) => {
                    self.tab = Tab::Audit;
                    let said = self.audit.show_about(&name, &self.matcher);
                    self.apply(vec![said]);
                }
            }
        }
    }

    /// True while the editor's tree has the keyboard.
    pub fn tree_focused(&self) -> bool {
        self.editor.as_ref().is_some_and(|e| e.focus == Focus::Tree)
    }
}
