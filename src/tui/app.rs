//! The console's state and its one `update`: every key, click and tick becomes a
//! [`Msg`], and only `update` changes state or calls the store. Rendering reads the
//! state (`views`), so the whole console can be driven in tests without a terminal.

use std::cell::Cell;

use crossterm::event::KeyEvent;
use fuzzy_matcher::skim::SkimMatcherV2;
use ratatui::layout::{Position, Rect};

use crate::domain::catalog::{Catalog, Grants};
use crate::domain::role::{Role, RoleSummary};
use crate::domain::user::{User, UserRow};
use crate::error::{Error, RoleInUse};
use crate::store::{AuditEntry, RoleRef, RoleUpdate, Store};
use crate::tui::editor::{Focus, RoleEditor, SaveSummary};
use crate::tui::keys::{self, Action, Scope};
use crate::tui::theme::Theme;
use crate::tui::user_form::{Field, Mode, UserForm};
use crate::tui::widgets::input::TextInput;
use crate::tui::widgets::list::FilteredList;

/// Above this many users the list loads in two steps: the first page at once, for
/// the first frame, and the whole list on a background thread.
pub const LOAD_IN_BACKGROUND_ABOVE: usize = 20_000;

/// The first page loaded when the list loads in the background.
const FIRST_PAGE: usize = 300;

/// The whole users list and its haystacks, read on another thread.
type UsersLoad = Result<(Vec<UserRow>, Vec<String>), Error>;

/// How many audit rows the Audit tab loads.
const AUDIT_ROWS: usize = 5000;

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

    fn index(self) -> usize {
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

/// What a confirm dialog will do on "yes".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pending {
    DeleteRole {
        id: i64,
        name: String,
    },
    DeleteUser {
        username: String,
    },
    SetActive {
        usernames: Vec<String>,
        active: bool,
    },
    MakeOwner {
        username: String,
    },
    DiscardEdit,
    DiscardForm,
    Save(SaveSummary),
}

/// A dialog drawn over the current view; it has the keyboard while it is open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overlay {
    /// Every key, scrolled by `scroll` lines.
    Help { scroll: u16 },
    Confirm {
        title: String,
        lines: Vec<String>,
        pending: Pending,
    },
    /// Delete refused because the role is in use, with a role to move its users to.
    DeleteBlocked {
        role_id: i64,
        info: RoleInUse,
        choices: Vec<(i64, String)>,
        selected: usize,
    },
    /// The before/after of one audit row.
    AuditDetail(Box<AuditEntry>),
    /// A filterable list of roles; Enter acts on the choice per `purpose`.
    Pick {
        purpose: PickPurpose,
        title: String,
        choices: Vec<(i64, String)>,
        query: TextInput,
        /// Indices into `choices` that match the query.
        view: Vec<usize>,
        selected: usize,
    },
    /// Two roles side by side: what each can and cannot do.
    Compare {
        a: Box<Role>,
        b: Box<Role>,
        scroll: u16,
    },
    /// A save lost a race with another operator: reload theirs or overwrite.
    Conflict {
        conflict: crate::error::Conflict,
        retry: Retry,
    },
    /// A new password, typed twice and shown masked.
    Password {
        username: String,
        first: TextInput,
        second: TextInput,
        on_second: bool,
    },
    /// The users holding a role.
    RoleUsers {
        role: String,
        users: Vec<(String, bool)>,
        scroll: u16,
    },
}

/// What an overwrite after a conflict saves again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Retry {
    Role(SaveSummary),
    User,
}

/// What a role picked from [`Overlay::Pick`] is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PickPurpose {
    /// Give these users the role, in one transaction.
    AssignRole { usernames: Vec<String> },
    /// Compare this role with the one picked.
    CompareWith { role_id: i64 },
    /// The role field of the user form.
    FormRole,
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
    fn load(
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
    fn load_with(
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
    pub audit: ListView<AuditEntry>,
    /// The role under the Roles list's selection, for the preview pane.
    pub preview: Option<Role>,
    pub default_role: i64,
    /// Rows in the audit log (the tab loads only the newest few thousand).
    pub audit_total: usize,
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
    users_loading: Option<std::sync::mpsc::Receiver<UsersLoad>>,
    pub editor: Option<RoleEditor>,
    /// The user form (new or edit), over the Users tab.
    pub form: Option<UserForm>,
    /// IANA time-zone names for the form's completion, read when a form first opens.
    pub tz_names: Vec<String>,
    pub overlay: Option<Overlay>,
    /// Users tagged with Space in the Users list (ids); `r` and `x` act on all of them.
    pub tagged: std::collections::BTreeSet<i64>,
    pub status: Option<Status>,
    pub quit: bool,
    pub hit: Cell<HitAreas>,
    matcher: SkimMatcherV2,
    data_version: i64,
}

/// What the users filter matches: username, name and email, lowercased once.
fn user_haystack(u: &UserRow) -> String {
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
            audit: ListView::default(),
            preview: None,
            default_role: 0,
            audit_total: 0,
            users_total: 0,
            load_in_background_above: LOAD_IN_BACKGROUND_ABOVE,
            users_loading: None,
            catalog,
            fatal: None,
            editor: None,
            form: None,
            tz_names: Vec::new(),
            overlay: None,
            tagged: std::collections::BTreeSet::new(),
            status: None,
            quit: false,
            hit: Cell::new(HitAreas::default()),
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
        let audit = self.store.audit(AUDIT_ROWS)?;
        self.audit.load(
            audit,
            |a| format!("{} {} {} {}", a.actor, a.action, a.target, a.at).to_lowercase(),
            |a| a.id,
            &self.matcher,
        );
        self.default_role = self.store.default_role_id()?;
        self.audit_total = self.store.audit_count()?;
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

    fn refresh_preview(&mut self) {
        let id = self.roles.selected().map(|r| (r.id, r.version));
        let current = self.preview.as_ref().map(|r| (r.id, r.version));
        if id != current {
            self.preview = id.and_then(|(id, _)| self.store.role_by_id(id).ok());
        }
    }

    fn info(&mut self, text: impl Into<String>) {
        self.status = Some(Status {
            text: text.into(),
            error: false,
        });
    }

    fn error(&mut self, err: &Error) {
        self.status = Some(Status {
            text: err.to_string(),
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

    /// The key scopes active now, innermost first.
    pub fn scopes(&self) -> Vec<Scope> {
        match &self.overlay {
            Some(Overlay::Help { .. }) => return vec![Scope::Help],
            Some(Overlay::Confirm { .. }) => return vec![Scope::Confirm],
            Some(Overlay::DeleteBlocked { .. }) => return vec![Scope::Picker],
            Some(Overlay::AuditDetail(_) | Overlay::Compare { .. } | Overlay::RoleUsers { .. }) => {
                return vec![Scope::Help];
            }
            Some(Overlay::Pick { .. }) => return vec![Scope::Pick, Scope::TextField],
            Some(Overlay::Conflict { .. }) => return vec![Scope::Conflict],
            Some(Overlay::Password { .. }) => return vec![Scope::TextField],
            None => {}
        }
        if let Some(form) = &self.form {
            return if form.is_editable(form.focus) {
                vec![Scope::TextField, Scope::Editor]
            } else {
                vec![Scope::Form, Scope::Editor]
            };
        }
        if let Some(editor) = &self.editor {
            return match editor.focus {
                Focus::Tree => vec![Scope::Tree, Scope::Editor],
                _ => vec![Scope::TextField, Scope::Editor],
            };
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

    pub fn current_list(&self) -> &FilteredList {
        match self.tab {
            Tab::Users => &self.users.list,
            Tab::Roles => &self.roles.list,
            Tab::Audit => &self.audit.list,
        }
    }

    /// The current tab's list model, its haystacks and the matcher, borrowed apart.
    fn current_list_mut(&mut self) -> (&mut FilteredList, &[String], &SkimMatcherV2) {
        let matcher = &self.matcher;
        match self.tab {
            Tab::Users => (&mut self.users.list, &self.users.haystacks, matcher),
            Tab::Roles => (&mut self.roles.list, &self.roles.haystacks, matcher),
            Tab::Audit => (&mut self.audit.list, &self.audit.haystacks, matcher),
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
        match msg {
            Msg::Action(Action::ForceQuit) => self.quit = true,
            Msg::Action(action) => self.on_action(action),
            Msg::Input(key) => self.on_input(key),
            Msg::Click(at) => self.on_click(at),
            Msg::Scroll { at, rows } => self.on_scroll(at, rows),
            Msg::Tick => self.on_tick(),
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
        if let Some(Overlay::Compare { a, b, .. }) = self.overlay.as_mut() {
            match (self.store.role_by_id(a.id), self.store.role_by_id(b.id)) {
                (Ok(new_a), Ok(new_b)) => {
                    **a = new_a;
                    **b = new_b;
                }
                _ => self.overlay = None,
            }
        }
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
        if self.overlay.is_some() {
            return self.on_overlay_action(action);
        }
        if self.editor.is_some() {
            return self.on_editor_action(action);
        }
        if self.form.is_some() {
            return self.on_form_action(action);
        }
        self.on_list_action(action);
    }

    fn on_overlay_action(&mut self, action: Action) {
        if matches!(action, Action::Up | Action::Down) {
            return self.move_in_overlay(action == Action::Up);
        }
        let Some(overlay) = self.overlay.take() else {
            return;
        };
        match (overlay, action) {
            (Overlay::Confirm { pending, .. }, Action::Confirm) => self.run_pending(pending),
            (Overlay::Confirm { .. }, Action::Cancel) => self.info("cancelled; nothing changed"),
            (
                Overlay::DeleteBlocked {
                    role_id,
                    info,
                    choices,
                    selected,
                },
                Action::Confirm,
            ) => {
                if let Some((target_id, target)) = choices.get(selected) {
                    let target = target.clone();
                    match self
                        .store
                        .delete_role(role_id, Some(RoleRef::Id(*target_id)))
                    {
                        Ok(out) => {
                            self.info(format!(
                                "moved {} user{} to \"{}\" and deleted role \"{}\"",
                                out.moved,
                                if out.moved == 1 { "" } else { "s" },
                                target,
                                out.role
                            ));
                            self.reload_or_report();
                        }
                        Err(e) => self.error(&e),
                    }
                } else {
                    self.info(format!("\"{}\" was not deleted", info.role));
                }
            }
            (Overlay::DeleteBlocked { info, .. }, Action::Cancel) => {
                self.info(format!("\"{}\" was not deleted", info.role));
            }
            (
                Overlay::Pick {
                    purpose,
                    choices,
                    view,
                    selected,
                    ..
                },
                Action::Confirm,
            ) => match view.get(selected).and_then(|&i| choices.get(i)) {
                Some((id, name)) => self.picked(purpose, *id, name.clone()),
                None => self.info("no role matches; nothing changed"),
            },
            (Overlay::Pick { .. }, Action::Cancel) => self.info("cancelled; nothing changed"),
            (
                Overlay::Conflict {
                    conflict,
                    retry: Retry::Role(summary),
                },
                Action::Overwrite,
            ) if conflict.can_overwrite() => self.save(summary, conflict.current_version),
            (
                Overlay::Conflict {
                    conflict,
                    retry: Retry::User,
                },
                Action::Overwrite,
            ) if conflict.can_overwrite() => self.save_form(Some(conflict.current_version)),
            (
                Overlay::Conflict {
                    retry: Retry::Role(_),
                    ..
                },
                Action::Reload,
            ) => self.reload_editor(),
            (
                Overlay::Conflict {
                    retry: Retry::User, ..
                },
                Action::Reload,
            ) => self.reload_form(),
            (
                Overlay::Password {
                    username,
                    first,
                    second,
                    on_second,
                },
                Action::Accept,
            ) => self.password_entered(username, first, second, on_second),
            (Overlay::Password { .. }, Action::Cancel) => self.info("the password was not changed"),
            (Overlay::Conflict { .. }, Action::Cancel) => {
                self.info("still editing; nothing was saved")
            }
            (
                Overlay::Help { .. }
                | Overlay::AuditDetail(_)
                | Overlay::Compare { .. }
                | Overlay::RoleUsers { .. },
                Action::Cancel,
            ) => {}
            (overlay, _) => self.overlay = Some(overlay),
        }
    }

    /// Up/Down inside a dialog: the next choice of a picker, or a line of scrolling.
    fn move_in_overlay(&mut self, up: bool) {
        match self.overlay.as_mut() {
            Some(Overlay::DeleteBlocked {
                choices, selected, ..
            }) => *selected = cycle(*selected, choices.len(), up),
            Some(Overlay::Pick { view, selected, .. }) => {
                *selected = cycle(*selected, view.len(), up)
            }
            Some(Overlay::Help { scroll }) => {
                *scroll = if up {
                    scroll.saturating_sub(1)
                } else {
                    scroll.saturating_add(1).min(200)
                }
            }
            Some(Overlay::Compare { scroll, .. } | Overlay::RoleUsers { scroll, .. }) => {
                *scroll = if up {
                    scroll.saturating_sub(1)
                } else {
                    scroll.saturating_add(1)
                }
            }
            _ => {}
        }
    }

    fn run_pending(&mut self, pending: Pending) {
        match pending {
            Pending::DeleteRole { id, name } => match self.store.delete_role(id, None) {
                Ok(_) => {
                    self.info(format!("deleted role \"{name}\""));
                    self.reload_or_report();
                }
                Err(Error::RoleInUse(info)) => self.show_delete_blocked(id, info),
                Err(e) => self.error(&e),
            },
            Pending::DeleteUser { username } => match self.store.remove_user(&username) {
                Ok(()) => {
                    self.info(format!("deleted user \"{username}\""));
                    self.reload_or_report();
                }
                Err(e) => self.error(&e),
            },
            Pending::SetActive { usernames, active } => {
                match self.store.set_active_for(&usernames, active) {
                    Ok(n) => {
                        let what = if active { "enabled" } else { "disabled" };
                        self.info(format!("{what} {n} user{}", if n == 1 { "" } else { "s" }));
                        self.tagged.clear();
                        self.reload_or_report();
                    }
                    Err(e) => self.error(&e),
                }
            }
            Pending::MakeOwner { username } => match self.store.transfer_ownership(&username) {
                Ok(u) => {
                    self.info(format!(
                        "\"{}\" is now the owner, with role \"{}\"",
                        u.username, u.role
                    ));
                    self.reload_or_report();
                }
                Err(e) => self.error(&e),
            },
            Pending::DiscardForm => {
                self.form = None;
                self.info("discarded the unsaved changes");
            }
            Pending::DiscardEdit => {
                self.editor = None;
                self.info("discarded the unsaved changes");
            }
            Pending::Save(summary) => {
                let version = self.editor.as_ref().map_or(0, |e| e.version);
                self.save(summary, version)
            }
        }
    }

    fn reload_or_report(&mut self) {
        if let Err(e) = self.reload() {
            self.error(&e);
        }
    }

    fn show_delete_blocked(&mut self, role_id: i64, info: RoleInUse) {
        let choices: Vec<(i64, String)> = self
            .roles
            .rows
            .iter()
            .filter(|r| r.id != role_id)
            .map(|r| (r.id, r.name.clone()))
            .collect();
        let selected = choices
            .iter()
            .position(|(id, _)| *id == self.default_role)
            .unwrap_or(0);
        self.overlay = Some(Overlay::DeleteBlocked {
            role_id,
            info,
            choices: if self.default_role == role_id {
                Vec::new()
            } else {
                choices
            },
            selected,
        });
    }

    /// Reopens the editor on the role as it is stored now, dropping the edit.
    fn reload_editor(&mut self) {
        let Some(id) = self.editor.as_ref().map(|e| e.role_id) else {
            return;
        };
        match self.store.role_by_id(id) {
            Ok(role) => {
                self.editor = Some(RoleEditor::new(self.store.catalog(), &role, self.theme));
                self.info(format!(
                    "reloaded \"{}\" as saved by {}; your changes were dropped",
                    role.name, role.updated_by
                ));
                self.reload_or_report();
            }
            Err(e) => {
                self.editor = None;
                self.error(&e);
            }
        }
    }

    /// Saves the editor's role if it is still at `expected_version`; a conflict opens
    /// the reload-or-overwrite dialog instead of overwriting silently.
    fn save(&mut self, summary: SaveSummary, expected_version: i64) {
        let Some(editor) = &self.editor else { return };
        let update = RoleUpdate {
            name: summary.rename.as_ref().map(|(_, new)| new.clone()),
            description: summary
                .description_changed
                .then(|| editor.description.text().to_string()),
            grants: Some(editor.grants.clone()),
        };
        match self
            .store
            .edit_role(editor.role_id, Some(expected_version), |_, _| Ok(update))
        {
            Ok(change) => {
                self.info(format!(
                    "saved \"{}\": {} added, {} removed, {} of {} granted",
                    change.role.name,
                    change.added.len(),
                    change.removed.len(),
                    change.role.grants.count(),
                    self.store.catalog().leaf_count()
                ));
                self.editor = None;
                self.reload_or_report();
                if let Some(pos) = self.roles.rows.iter().position(|r| r.id == change.role.id) {
                    self.roles.list.select_source(pos);
                    self.refresh_preview();
                }
            }
            Err(Error::Conflict(conflict)) => {
                self.overlay = Some(Overlay::Conflict {
                    conflict,
                    retry: Retry::Role(summary),
                });
            }
            Err(e) => self.error(&e),
        }
    }

    fn on_editor_action(&mut self, action: Action) {
        let Some(editor) = self.editor.as_mut() else {
            return;
        };
        let catalog = self.store.catalog();
        let read_only = editor.builtin || self.store.is_read_only();
        let refusal = || {
            if editor.builtin {
                format!(
                    "\"{}\" is built in and holds every permission; clone it (c) to make an editable copy",
                    editor.original_name
                )
            } else {
                "read-only: this session was opened with --read-only, so nothing can be changed"
                    .to_string()
            }
        };
        match action {
            Action::NextField | Action::PrevField => {
                let order = [Focus::Name, Focus::Description, Focus::Tree];
                let at = order.iter().position(|f| *f == editor.focus).unwrap_or(2);
                let next = if action == Action::NextField {
                    (at + 1) % 3
                } else {
                    (at + 2) % 3
                };
                editor.focus = order[next];
            }
            Action::Accept => editor.focus = Focus::Tree,
            Action::Cancel => {
                if editor.focus == Focus::Search {
                    editor.search.clear();
                    editor.apply_search(catalog, &self.matcher);
                }
                editor.focus = Focus::Tree;
            }
            Action::Filter => editor.focus = Focus::Search,
            Action::Up => {
                editor.tree.get_mut().key_up();
            }
            Action::Down => {
                editor.tree.get_mut().key_down();
            }
            Action::PageUp => {
                let tree = editor.tree.get_mut();
                for _ in 0..10 {
                    tree.key_up();
                }
            }
            Action::PageDown => {
                let tree = editor.tree.get_mut();
                for _ in 0..10 {
                    tree.key_down();
                }
            }
            Action::Home => {
                editor.tree.get_mut().select_first();
            }
            Action::End => {
                editor.tree.get_mut().select_last();
            }
            Action::Expand => {
                editor.tree.get_mut().key_right();
            }
            Action::Collapse => {
                editor.tree.get_mut().key_left();
            }
            Action::Toggle | Action::CheckAll if read_only => {
                let text = refusal();
                self.status = Some(Status { text, error: true });
            }
            Action::Toggle => editor.toggle_selected(catalog),
            Action::CheckAll => editor.check_all(catalog),
            Action::Save if read_only => {
                let text = refusal();
                self.status = Some(Status { text, error: true });
            }
            Action::Save => {
                if let Err(e) = crate::domain::validate::role_name(editor.name.text())
                    .and_then(|_| crate::domain::validate::description(editor.description.text()))
                {
                    return self.error(&e);
                }
                let summary = editor.summary(catalog);
                if summary.is_empty() {
                    return self.info("nothing to save: the role is as it was loaded");
                }
                self.overlay = Some(Overlay::Confirm {
                    title: format!("Save \"{}\"?", summary.role),
                    lines: Vec::new(),
                    pending: Pending::Save(summary),
                });
            }
            Action::Back => {
                if editor.is_dirty() && !read_only {
                    self.overlay = Some(Overlay::Confirm {
                        title: "Discard unsaved changes?".into(),
                        lines: vec![format!(
                            "Your changes to \"{}\" have not been saved. Discard them?",
                            editor.original_name
                        )],
                        pending: Pending::DiscardEdit,
                    });
                } else {
                    self.editor = None;
                }
            }
            _ => {}
        }
    }

    fn on_list_action(&mut self, action: Action) {
        let changes = matches!(
            action,
            Action::New
                | Action::Delete
                | Action::Clone
                | Action::AssignRole
                | Action::EnableDisable
                | Action::MakeOwner
                | Action::Password
        );
        if changes && self.store.is_read_only() {
            self.status = Some(Status {
                text:
                    "read-only: this session was opened with --read-only, so nothing can be changed"
                        .into(),
                error: true,
            });
            return;
        }
        match action {
            Action::Quit => self.quit = true,
            Action::Tab(i) => self.tab = Tab::ALL[i.min(2)],
            Action::NextTab => self.tab = Tab::ALL[(self.tab.index() + 1) % 3],
            Action::PrevTab => self.tab = Tab::ALL[(self.tab.index() + 2) % 3],
            Action::Help => self.overlay = Some(Overlay::Help { scroll: 0 }),
            Action::Up
            | Action::Down
            | Action::PageUp
            | Action::PageDown
            | Action::Home
            | Action::End => {
                let (list, _, _) = self.current_list_mut();
                match action {
                    Action::Up => list.move_by(-1),
                    Action::Down => list.move_by(1),
                    Action::PageUp => list.move_by(-list.page_size()),
                    Action::PageDown => list.move_by(list.page_size()),
                    Action::Home => list.home(),
                    _ => list.end(),
                }
            }
            Action::Filter => self.current_list_mut().0.editing = true,
            Action::Accept => self.current_list_mut().0.editing = false,
            Action::Cancel | Action::Back => {
                let (list, hay, matcher) = self.current_list_mut();
                list.clear_filter(hay, matcher);
            }
            Action::Open => self.open_selected(),
            Action::New if self.tab == Tab::Roles => self.new_role(),
            Action::Clone if self.tab == Tab::Roles => self.clone_selected(),
            Action::Delete if self.tab == Tab::Roles => self.delete_selected(),
            Action::Delete if self.tab == Tab::Users => self.delete_user(),
            Action::Tag => self.toggle_tag(),
            Action::New if self.tab == Tab::Users => self.new_user_form(),
            Action::Password => self.ask_password(),
            Action::AssignRole => self.pick_role_for_users(),
            Action::EnableDisable => self.enable_disable(),
            Action::MakeOwner => self.make_owner(),
            Action::Compare => self.pick_role_to_compare(),
            Action::RoleUsers => self.show_role_users(),
            _ => {}
        }
        if self.tab == Tab::Roles {
            self.refresh_preview();
        }
    }

    fn on_input(&mut self, key: KeyEvent) {
        if let Some(Overlay::Password {
            first,
            second,
            on_second,
            ..
        }) = self.overlay.as_mut()
        {
            if *on_second {
                second.handle(&key);
            } else {
                first.handle(&key);
            }
            return;
        }
        if let Some(Overlay::Pick {
            query,
            choices,
            view,
            selected,
            ..
        }) = self.overlay.as_mut()
        {
            if query.handle(&key) {
                let q = query.text().trim().to_string();
                *view = (0..choices.len())
                    .filter(|&i| {
                        q.is_empty()
                            || fuzzy_matcher::FuzzyMatcher::fuzzy_match(
                                &self.matcher,
                                &choices[i].1,
                                &q,
                            )
                            .is_some()
                    })
                    .collect();
                *selected = 0;
            }
            return;
        }
        if let Some(form) = self.form.as_mut() {
            if self.store.is_read_only() {
                return self.refuse_read_only();
            }
            let signature = form.focus == Field::Signature;
            if let Some(input) = form.focused_input() {
                let newline = key.code == crossterm::event::KeyCode::Enter
                    && key.modifiers.contains(crossterm::event::KeyModifiers::ALT);
                if signature && newline {
                    input.insert_newline();
                } else {
                    input.handle(&key);
                }
            }
            return;
        }
        if let Some(editor) = self.editor.as_mut() {
            let read_only = editor.builtin || self.store.is_read_only();
            match editor.focus {
                Focus::Name if !read_only => {
                    editor.name.handle(&key);
                }
                Focus::Description if !read_only => {
                    editor.description.handle(&key);
                }
                Focus::Search if editor.search.handle(&key) => {
                    editor.apply_search(self.store.catalog(), &self.matcher);
                }
                _ => {}
            }
            return;
        }
        let (list, hay, matcher) = self.current_list_mut();
        if list.query.handle(&key) {
            list.refilter(hay, matcher);
        }
        if self.tab == Tab::Roles {
            self.refresh_preview();
        }
    }

    fn open_selected(&mut self) {
        match self.tab {
            Tab::Users => self.edit_user_form(),
            Tab::Roles => {
                let Some(id) = self.roles.selected().map(|r| r.id) else {
                    return;
                };
                match self.store.role_by_id(id) {
                    Ok(role) => {
                        let editor = RoleEditor::new(self.store.catalog(), &role, self.theme);
                        if role.builtin {
                            self.info(format!(
                                "\"{}\" is built in: it always holds every permission, so it opens read-only; clone it (c) to make an editable copy",
                                role.name
                            ));
                        } else if self.store.is_read_only() {
                            self.info("read-only: browsing only; changes are refused");
                        }
                        self.editor = Some(editor);
                    }
                    Err(e) => self.error(&e),
                }
            }
            Tab::Audit => {
                if let Some(a) = self.audit.selected() {
                    self.overlay = Some(Overlay::AuditDetail(Box::new(a.clone())));
                }
            }
        }
    }

    fn select_role(&mut self, id: i64) {
        let matcher = &self.matcher;
        if !self.roles.rows.iter().any(|r| r.id == id) {
            return;
        }
        self.roles.list.clear_filter(&self.roles.haystacks, matcher);
        if let Some(pos) = self.roles.rows.iter().position(|r| r.id == id) {
            self.roles.list.select_source(pos);
        }
        self.refresh_preview();
    }

    fn new_role(&mut self) {
        let names: Vec<String> = self
            .roles
            .rows
            .iter()
            .map(|r| r.name.to_lowercase())
            .collect();
        let name = (1..)
            .map(|n| {
                if n == 1 {
                    "New role".to_string()
                } else {
                    format!("New role {n}")
                }
            })
            .find(|n| !names.contains(&n.to_lowercase()))
            .unwrap_or_default();
        match self.store.create_role(&name, "", None) {
            Ok(role) => {
                self.reload_or_report();
                self.select_role(role.id);
                let mut editor = RoleEditor::new(self.store.catalog(), &role, self.theme);
                editor.focus = Focus::Name;
                self.editor = Some(editor);
                self.info(format!(
                    "created role \"{name}\" with no permissions; name it and pick its permissions"
                ));
            }
            Err(e) => self.error(&e),
        }
    }

    fn clone_selected(&mut self) {
        let Some(source) = self.roles.selected().map(|r| r.id) else {
            return;
        };
        match self.store.clone_role(source, None) {
            Ok(role) => {
                self.reload_or_report();
                self.select_role(role.id);
                self.info(format!(
                    "created \"{}\" with {} permissions",
                    role.name,
                    role.grants.count()
                ));
            }
            Err(e) => self.error(&e),
        }
    }

    fn delete_selected(&mut self) {
        let Some(role) = self.roles.selected().cloned() else {
            return;
        };
        if role.builtin {
            return self
                .error(&crate::domain::role::ensure_editable(&role.name, true).unwrap_err());
        }
        let is_default = role.id == self.default_role;
        if role.users > 0 || is_default {
            let holders = match self
                .store
                .role_holders(role.id, crate::error::IN_USE_SAMPLE)
            {
                Ok(h) => h,
                Err(e) => return self.error(&e),
            };
            let info = RoleInUse {
                role: role.name.clone(),
                user_count: role.users,
                sample: holders,
                is_default,
                ..RoleInUse::default()
            };
            return self.show_delete_blocked(role.id, info);
        }
        self.overlay = Some(Overlay::Confirm {
            title: format!("Delete role \"{}\"?", role.name),
            lines: vec![
                format!(
                    "No user holds \"{}\" and it is not the default role.",
                    role.name
                ),
                "Deleting it cannot be undone; the audit log keeps its permissions.".into(),
            ],
            pending: Pending::DeleteRole {
                id: role.id,
                name: role.name,
            },
        });
    }

    fn refuse_read_only(&mut self) {
        self.status = Some(Status {
            text: "read-only: this session was opened with --read-only, so nothing can be changed"
                .into(),
            error: true,
        });
    }

    fn ensure_tz_names(&mut self) {
        if self.tz_names.is_empty() {
            self.tz_names = crate::domain::validate::timezone_names();
        }
    }

    fn new_user_form(&mut self) {
        // The first user becomes the owner, on Administrator (SPEC §4).
        let first = self.users.rows.is_empty();
        let role = if first {
            self.store.role(crate::domain::role::ADMINISTRATOR)
        } else {
            self.store.default_role()
        };
        match role {
            Ok(role) => {
                self.ensure_tz_names();
                self.form = Some(UserForm::new_user(
                    self.store.catalog(),
                    (role.id, role.name, role.grants),
                ));
                if first {
                    self.info("the first user becomes the owner, with the Administrator role");
                }
            }
            Err(e) => self.error(&e),
        }
    }

    fn edit_user_form(&mut self) {
        let Some(username) = self.users.selected().map(|u| u.username.clone()) else {
            return;
        };
        let loaded = self
            .store
            .user(&username)
            .and_then(|u| self.store.role_by_id(u.role_id).map(|r| (u, r)));
        match loaded {
            Ok((user, role)) => {
                self.ensure_tz_names();
                self.form = Some(UserForm::edit(self.store.catalog(), &user, role.grants));
                if self.store.is_read_only() {
                    self.info("read-only: browsing only; changes are refused");
                }
            }
            Err(e) => self.error(&e),
        }
    }

    fn reload_form(&mut self) {
        let Some(Mode::Edit { username, .. }) = self.form.as_ref().map(|f| f.mode.clone()) else {
            return;
        };
        if let Some(pos) = self.users.rows.iter().position(|u| u.username == username) {
            self.users.list.select_source(pos);
        }
        self.reload_or_report();
        self.edit_user_form();
        self.info(format!(
            "reloaded \"{username}\" as saved; your changes were dropped"
        ));
    }

    fn on_form_action(&mut self, action: Action) {
        let Some(form) = self.form.as_mut() else {
            return;
        };
        match action {
            Action::NextField => form.move_focus(1),
            Action::PrevField => form.move_focus(-1),
            Action::Accept => {
                if form.focus == Field::Timezone && form.problem(Field::Timezone).is_some() {
                    form.complete_timezone(&self.tz_names);
                }
                form.move_focus(1);
            }
            Action::Up
            | Action::Down
            | Action::PageUp
            | Action::PageDown
            | Action::Home
            | Action::End
                if form.focus == Field::Permissions =>
            {
                let list = &mut form.permissions;
                match action {
                    Action::Up => list.move_by(-1),
                    Action::Down => list.move_by(1),
                    Action::PageUp => list.move_by(-list.page_size()),
                    Action::PageDown => list.move_by(list.page_size()),
                    Action::Home => list.home(),
                    _ => list.end(),
                }
            }
            Action::Up => form.move_focus(-1),
            Action::Down => form.move_focus(1),
            Action::Open | Action::Toggle if form.focus == Field::Role => {
                if self.store.is_read_only() {
                    return self.refuse_read_only();
                }
                let choices = self.role_choices(None);
                self.open_pick(PickPurpose::FormRole, "Role".into(), choices);
            }
            Action::Open | Action::Toggle if form.focus == Field::Active => {
                if self.store.is_read_only() {
                    return self.refuse_read_only();
                }
                form.active = !form.active;
            }
            Action::Save => self.save_form(None),
            Action::Back | Action::Cancel => {
                if form.is_dirty() && !self.store.is_read_only() {
                    self.overlay = Some(Overlay::Confirm {
                        title: "Discard unsaved changes?".into(),
                        lines: vec![
                            "The user form has changes that were not saved. Discard them?".into(),
                        ],
                        pending: Pending::DiscardForm,
                    });
                } else {
                    self.form = None;
                }
            }
            _ => {}
        }
    }

    /// Saves the form: every field is checked first (nothing is written while any is
    /// wrong), then one store call applies the same rules as the CLI.
    fn save_form(&mut self, overwrite_version: Option<i64>) {
        if self.store.is_read_only() {
            return self.refuse_read_only();
        }
        let Some(form) = self.form.as_ref() else {
            return;
        };
        let problems = form.problems();
        if let Some((field, first)) = problems.first() {
            let more = match problems.len() {
                1 => String::new(),
                n => format!(" ({} fields need attention)", n),
            };
            let text = format!("not saved: {first}{more}");
            if let Some(form) = self.form.as_mut() {
                form.focus = *field;
            }
            self.status = Some(Status { text, error: true });
            return;
        }
        let result = match &form.mode {
            Mode::New => self
                .store
                .add_user(form.new_user_request())
                .map(|u| ("added", u)),
            Mode::Edit {
                username, version, ..
            } => {
                let expected = overwrite_version.unwrap_or(*version);
                self.store
                    .update_user(username, Some(expected), form.change_request())
                    .map(|u| ("saved", u))
            }
        };
        match result {
            Ok((verb, user)) => {
                let owner = if user.owner { ", and is the owner" } else { "" };
                self.info(format!(
                    "{verb} user \"{}\" with role \"{}\"{owner}",
                    user.username, user.role
                ));
                self.form = None;
                self.reload_or_report();
                if let Some(pos) = self.users.rows.iter().position(|u| u.id == user.id) {
                    self.users.list.select_source(pos);
                }
            }
            Err(Error::Conflict(conflict)) => {
                self.overlay = Some(Overlay::Conflict {
                    conflict,
                    retry: Retry::User,
                });
            }
            Err(e) => self.error(&e),
        }
    }

    fn ask_password(&mut self) {
        let Some(username) = self.users.selected().map(|u| u.username.clone()) else {
            return;
        };
        self.overlay = Some(Overlay::Password {
            username,
            first: TextInput::new("", crate::domain::validate::MAX_PASSWORD),
            second: TextInput::new("", crate::domain::validate::MAX_PASSWORD),
            on_second: false,
        });
    }

    fn password_entered(
        &mut self,
        username: String,
        first: TextInput,
        second: TextInput,
        on_second: bool,
    ) {
        if !on_second {
            if let Err(e) = crate::domain::validate::password(first.text()) {
                self.error(&e);
                self.overlay = Some(Overlay::Password {
                    username,
                    first: TextInput::new("", crate::domain::validate::MAX_PASSWORD),
                    second,
                    on_second: false,
                });
                return;
            }
            self.overlay = Some(Overlay::Password {
                username,
                first,
                second,
                on_second: true,
            });
            return;
        }
        if first.text() != second.text() {
            self.status = Some(Status {
                text: "password: the two entries differ; type it again".into(),
                error: true,
            });
            let empty = || TextInput::new("", crate::domain::validate::MAX_PASSWORD);
            self.overlay = Some(Overlay::Password {
                username,
                first: empty(),
                second: empty(),
                on_second: false,
            });
            return;
        }
        match self.store.set_password(&username, first.text()) {
            Ok(()) => {
                self.info(format!("set the password of \"{username}\""));
                self.reload_or_report();
            }
            Err(e) => self.error(&e),
        }
    }

    /// The usernames `r` and `x` act on: every tagged user, else the selected one.
    fn targets(&self) -> Vec<String> {
        if self.tagged.is_empty() {
            return self
                .users
                .selected()
                .map(|u| vec![u.username.clone()])
                .unwrap_or_default();
        }
        self.users
            .rows
            .iter()
            .filter(|u| self.tagged.contains(&u.id))
            .map(|u| u.username.clone())
            .collect()
    }

    fn toggle_tag(&mut self) {
        let Some(id) = self.users.selected().map(|u| u.id) else {
            return;
        };
        if !self.tagged.remove(&id) {
            self.tagged.insert(id);
        }
        self.users.list.move_by(1);
        let n = self.tagged.len();
        self.info(format!(
            "{n} user{} tagged; r and x act on all of them",
            if n == 1 { "" } else { "s" }
        ));
    }

    fn role_choices(&self, except: Option<i64>) -> Vec<(i64, String)> {
        self.roles
            .rows
            .iter()
            .filter(|r| Some(r.id) != except)
            .map(|r| (r.id, r.name.clone()))
            .collect()
    }

    fn open_pick(&mut self, purpose: PickPurpose, title: String, choices: Vec<(i64, String)>) {
        let view = (0..choices.len()).collect();
        self.overlay = Some(Overlay::Pick {
            purpose,
            title,
            choices,
            query: TextInput::new("", 64),
            view,
            selected: 0,
        });
    }

    fn pick_role_for_users(&mut self) {
        let usernames = self.targets();
        if usernames.is_empty() {
            return;
        }
        let title = match usernames.as_slice() {
            [one] => format!("Role for \"{one}\""),
            many => format!("Role for {} tagged users", many.len()),
        };
        let choices = self.role_choices(None);
        self.open_pick(PickPurpose::AssignRole { usernames }, title, choices);
    }

    fn pick_role_to_compare(&mut self) {
        let Some((id, name)) = self.roles.selected().map(|r| (r.id, r.name.clone())) else {
            return;
        };
        let choices = self.role_choices(Some(id));
        self.open_pick(
            PickPurpose::CompareWith { role_id: id },
            format!("Compare \"{name}\" with"),
            choices,
        );
    }

    fn picked(&mut self, purpose: PickPurpose, role_id: i64, role_name: String) {
        match purpose {
            PickPurpose::AssignRole { usernames } => {
                match self.store.set_role_for(&usernames, role_id) {
                    Ok(n) => {
                        self.info(format!(
                            "gave \"{role_name}\" to {n} user{} ({} already had it)",
                            if n == 1 { "" } else { "s" },
                            usernames.len() - n
                        ));
                        self.tagged.clear();
                        self.reload_or_report();
                    }
                    Err(e) => self.error(&e),
                }
            }
            PickPurpose::FormRole => match self.store.role_by_id(role_id) {
                Ok(role) => {
                    if let Some(form) = self.form.as_mut() {
                        form.role_id = role.id;
                        form.role = role.name;
                        form.grants = role.grants;
                    }
                }
                Err(e) => self.error(&e),
            },
            PickPurpose::CompareWith { role_id: a } => {
                match (self.store.role_by_id(a), self.store.role_by_id(role_id)) {
                    (Ok(a), Ok(b)) => {
                        self.overlay = Some(Overlay::Compare {
                            a: Box::new(a),
                            b: Box::new(b),
                            scroll: 0,
                        })
                    }
                    (Err(e), _) | (_, Err(e)) => self.error(&e),
                }
            }
        }
    }

    fn show_role_users(&mut self) {
        let Some((id, name)) = self.roles.selected().map(|r| (r.id, r.name.clone())) else {
            return;
        };
        match self.store.role_holders(id, usize::MAX >> 1) {
            Ok(users) => {
                self.overlay = Some(Overlay::RoleUsers {
                    role: name,
                    users,
                    scroll: 0,
                })
            }
            Err(e) => self.error(&e),
        }
    }

    fn enable_disable(&mut self) {
        let usernames = self.targets();
        let chosen: Vec<&UserRow> = self
            .users
            .rows
            .iter()
            .filter(|u| usernames.contains(&u.username))
            .collect();
        if chosen.is_empty() {
            return;
        }
        // Mixed selections are disabled: the safe direction.
        let active = chosen.iter().all(|u| !u.active);
        if let Some(owner) = chosen.iter().find(|u| u.owner && !active) {
            let owner = owner.username.clone();
            let refusal = self
                .store
                .user(&owner)
                .and_then(|o| crate::domain::user::ensure_owner_kept(&o, &o.role, false));
            if let Err(err) = refusal {
                return self.error(&err);
            }
        }
        let verb = if active { "Enable" } else { "Disable" };
        let who = match usernames.as_slice() {
            [one] => format!("\"{one}\""),
            many => format!("{} tagged users", many.len()),
        };
        let effect = if active {
            "They regain the permissions of their roles at once."
        } else {
            "They lose every permission at once; their data and roles are kept."
        };
        self.overlay = Some(Overlay::Confirm {
            title: format!("{verb} {who}?"),
            lines: vec![effect.into()],
            pending: Pending::SetActive { usernames, active },
        });
    }

    /// The selected user as stored, for the rules that need the whole record.
    fn selected_user(&mut self) -> Option<User> {
        let name = self.users.selected()?.username.clone();
        match self.store.user(&name) {
            Ok(user) => Some(user),
            Err(e) => {
                self.error(&e);
                None
            }
        }
    }

    fn make_owner(&mut self) {
        let Some(user) = self.selected_user() else {
            return;
        };
        if let Err(e) = crate::domain::user::ensure_can_become_owner(&user) {
            return self.error(&e);
        }
        self.overlay = Some(Overlay::Confirm {
            title: format!("Make \"{}\" the owner?", user.username),
            lines: vec![
                "The owner cannot be removed, disabled or moved off Administrator.".into(),
                format!(
                    "\"{}\" is given the Administrator role; the current owner keeps theirs.",
                    user.username
                ),
            ],
            pending: Pending::MakeOwner {
                username: user.username,
            },
        });
    }

    fn delete_user(&mut self) {
        let Some(user) = self.selected_user() else {
            return;
        };
        if let Err(e) = crate::domain::user::ensure_removable(&user) {
            return self.error(&e);
        }
        self.overlay = Some(Overlay::Confirm {
            title: format!("Delete user \"{}\"?", user.username),
            lines: vec![
                "This cannot be undone; the audit log keeps a record of the user.".into(),
                "To keep the account but remove its access, disable it instead (x).".into(),
            ],
            pending: Pending::DeleteUser {
                username: user.username,
            },
        });
    }

    fn on_click(&mut self, at: Position) {
        let hit = self.hit.get();
        if self.overlay.is_some() {
            return;
        }
        if let Some(editor) = self.editor.as_mut() {
            if !hit.tree.contains(at) {
                return;
            }
            let node = editor.tree.borrow().rendered_at(at).map(<[usize]>::to_vec);
            if let Some(path) = node {
                let depth = path.len() - 1;
                editor.tree.get_mut().select(path);
                editor.focus = Focus::Tree;
                // The checkbox sits after the highlight symbol, the indent and the
                // open/closed symbol: 2 + 2·depth + 2 columns in.
                let box_x = hit.tree.x as usize + 2 + 2 * depth + 2;
                if (box_x..box_x + 3).contains(&(at.x as usize)) {
                    self.on_editor_action(Action::Toggle);
                }
            }
            return;
        }
        if hit.tabs.contains(at) {
            // Tab titles are drawn left to right; each is about 14 columns wide.
            let i = ((at.x - hit.tabs.x) / 14) as usize;
            if i < 3 {
                self.tab = Tab::ALL[i];
            }
            return;
        }
        if hit.list_rows.contains(at) {
            let row = (at.y - hit.list_rows.y) as usize;
            let (list, _, _) = self.current_list_mut();
            if let Some((pos, _)) = list.source_at_row(row) {
                list.select_position(pos);
            }
            if self.tab == Tab::Roles {
                self.refresh_preview();
            }
        }
    }

    fn on_scroll(&mut self, at: Position, rows: isize) {
        if self.overlay.is_some() {
            return;
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
        let _ = at;
        self.current_list_mut().0.scroll(rows);
        if self.tab == Tab::Roles {
            self.refresh_preview();
        }
    }
}

/// The next (or, with `up`, previous) of `len` choices after `selected`, wrapping.
fn cycle(selected: usize, len: usize, up: bool) -> usize {
    let n = len.max(1);
    if up {
        (selected + n - 1) % n
    } else {
        (selected + 1) % n
    }
}
