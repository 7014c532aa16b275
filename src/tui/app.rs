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

use crate::domain::authz::{self, Right, Rights};
use crate::domain::catalog::Catalog;
use crate::error::Error;
use crate::store::Store;
use crate::tui::keys::{self, Action, Scope};
use crate::tui::screens::audit::AuditScreen;
use crate::tui::screens::package_editor::PackageEditor;
use crate::tui::screens::packages::PackagesScreen;
use crate::tui::screens::resources::ResourcesScreen;
use crate::tui::screens::role_editor::{Focus, RoleEditor};
use crate::tui::screens::roles::RolesScreen;
use crate::tui::screens::user_form::UserForm;
use crate::tui::screens::users::UsersScreen;
use crate::tui::screens::{Effect, Look, Names};
use crate::tui::theme::Theme;
use crate::tui::widgets::list::FilteredList;

pub use crate::tui::dialogs::{Overlay, Pending, PickPurpose, PromptPurpose, Retry};
pub use crate::tui::screens::ListView;

/// Two clicks on one cell within this many milliseconds are a double click.
const DOUBLE_CLICK_MS: u128 = 400;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Users,
    Roles,
    Packages,
    Audit,
    /// Only when the catalog declares resource types.
    Resources,
}

impl Tab {
    pub const ALL: [Tab; 5] = [
        Tab::Users,
        Tab::Roles,
        Tab::Packages,
        Tab::Audit,
        Tab::Resources,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Tab::Users => "Users",
            Tab::Roles => "Roles",
            Tab::Packages => "Packages",
            Tab::Audit => "Audit",
            Tab::Resources => "Resources",
        }
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
    PackageEditor,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub text: String,
    pub error: bool,
}

/// Screen areas of the last draw, for mouse hit-testing.
#[derive(Debug, Default, Clone, Copy)]
pub struct HitAreas {
    pub tabs: Rect,
    /// Where each tab's title ends, in columns.
    pub tab_ends: [u16; 5],
    /// Where list rows start (below the header row).
    pub list_rows: Rect,
    pub tree: Rect,
}

/// The router: it owns the screens and hands each message to the one with the
/// focus, then carries out the [`Effect`]s it returns.
pub struct App {
    pub store: Store,
    pub theme: Theme,
    pub(crate) matcher: SkimMatcherV2,
    /// Roles and packages by name, the default role: what every screen may name.
    pub names: Names,
    pub tab: Tab,
    pub users: UsersScreen,
    pub roles: RolesScreen,
    pub packages: PackagesScreen,
    pub audit: AuditScreen,
    pub resources: ResourcesScreen,
    pub editor: Option<RoleEditor>,
    /// The user form (new or edit), over the Users tab.
    pub form: Option<UserForm>,
    pub package_editor: Option<PackageEditor>,
    /// The catalog everything on screen was built from. When the store's differs
    /// (another process loaded one), [`App::follow_catalog`] moves every part that
    /// holds grants onto the new one before anything is drawn.
    catalog: Catalog,
    /// Why the console had to stop (a newer rolecall took the file over).
    pub fatal: Option<Error>,
    /// The open dialogs, the top one last: it has the keyboard, Esc closes it and
    /// the one under it has the keyboard again (help over a confirm, say).
    pub(crate) overlays: Vec<Overlay>,
    /// True when the last draw cut the status line short with `…`.
    pub(crate) status_cut: Cell<bool>,
    pub status: Option<Status>,
    /// The tab to switch to once an unsaved edit is discarded.
    pub(crate) after_discard: Option<Tab>,
    pub quit: bool,
    pub hit: Cell<HitAreas>,
    /// The last click, for double clicks.
    last_click: Option<(Position, Instant)>,
    data_version: i64,
    /// What this session may change: every right for a local run; a served
    /// operator's own, read again with every reload and tick.
    pub rights: Rights,
}

impl App {
    pub fn new(store: Store, theme: Theme) -> Result<App, Error> {
        let data_version = store.data_version()?;
        let catalog = store.catalog().clone();
        let rights = store.rights()?;
        let mut app = App {
            store,
            theme,
            matcher: SkimMatcherV2::default(),
            names: Names::default(),
            tab: Tab::Users,
            users: UsersScreen::default(),
            roles: RolesScreen::default(),
            packages: PackagesScreen::default(),
            audit: AuditScreen::default(),
            resources: ResourcesScreen::default(),
            editor: None,
            form: None,
            package_editor: None,
            catalog,
            fatal: None,
            overlays: Vec::new(),
            status_cut: Cell::new(false),
            status: None,
            after_discard: None,
            quit: false,
            hit: Cell::new(HitAreas::default()),
            last_click: None,
            data_version,
            rights,
        };
        app.reload()?;
        Ok(app)
    }

    /// Reads every list again, keeping selections and filters.
    pub fn reload(&mut self) -> Result<(), Error> {
        self.rights = self.store.rights()?;
        let store = &self.store;
        let users = self.roles.load(store, &self.matcher)?;
        // The Packages tab's list (with its counts) is read when it is shown.
        if self.tab == Tab::Packages {
            self.packages.load(store, &self.matcher)?;
        } else {
            self.packages.stale = true;
        }

        self.names = Names {
            roles: self
                .roles
                .view
                .rows
                .iter()
                .map(|r| (r.id, r.name.clone()))
                .collect(),
            packages: store.package_names()?,
            default_role: store.default_role_id()?,
            resource_types: !store.resource_types()?.is_empty(),
        };
        // A few hundred rows at most, and the tab bar counts them.
        if self.names.resource_types {
            self.resources.load(store, &self.matcher)?;
        } else if self.tab == Tab::Resources {
            self.tab = Tab::Users;
        }
        let audit_now = self.tab == Tab::Audit || !self.rights.audit;
        // A database large enough to read its users in the background counts its
        // log there too.
        let in_background = self.users.load(store, &self.matcher, users, !audit_now)?;
        if audit_now {
            self.audit.load(store, &self.matcher)?;
        } else {
            self.audit.stale = true;
            self.audit.counting = in_background;
            if !in_background {
                self.audit.total = store.audit_count()?;
            }
        }
        self.data_version = store.data_version()?;
        self.refresh_previews();
        Ok(())
    }

    /// True while the whole users list (and with it the audit log's count) is still
    /// being read.
    pub fn is_loading_in_background(&self) -> bool {
        self.users.is_loading()
    }

    /// Takes what the background read (the users list, the audit count) has
    /// brought; true when it arrived. Waits for it when `block` is set (tests,
    /// benchmarks).
    pub fn poll_background(&mut self, block: bool) -> bool {
        let Some((users, audit_count)) = self.users.poll(block, &self.matcher) else {
            return false;
        };
        // A count that never came (the read failed, and says so) leaves the tab
        // without one until the next reload.
        self.audit.counting = false;
        let counted = audit_count.map(|count| self.audit.counted(count));
        for arrived in [Some(users), counted].into_iter().flatten() {
            if let Err(e) = arrived {
                self.apply(vec![Effect::Error(e)]);
            }
        }
        true
    }

    /// The fuzzy matcher, for views that highlight matched letters.
    pub fn matcher(&self) -> &SkimMatcherV2 {
        &self.matcher
    }

    /// The tabs shown: Resources only when the catalog declares resource types.
    pub fn tabs(&self) -> &'static [Tab] {
        if self.names.resource_types {
            &Tab::ALL
        } else {
            &Tab::ALL[..4]
        }
    }

    /// Where the keyboard is, dialogs aside.
    pub fn place(&self) -> Place {
        if self.editor.is_some() {
            Place::Editor
        } else if self.form.is_some() {
            Place::Form
        } else if self.package_editor.is_some() {
            Place::PackageEditor
        } else {
            Place::List(self.tab)
        }
    }

    /// The name of the current place, for the help.
    pub fn place_name(&self) -> &'static str {
        match self.place() {
            Place::Editor => "role editor",
            Place::Form => "user form",
            Place::PackageEditor => "package editor",
            Place::List(Tab::Users) => "Users list",
            Place::List(Tab::Roles) => "Roles list",
            Place::List(Tab::Packages) => "Packages list",
            Place::List(Tab::Audit) => "Audit log",
            Place::List(Tab::Resources) => "Resources list",
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
        if let Some(editor) = &self.package_editor {
            return editor.scopes();
        }
        if self.current_list().editing {
            return vec![Scope::TextField];
        }
        match self.tab {
            Tab::Roles => vec![Scope::Roles, Scope::List, Scope::Anywhere],
            Tab::Users => vec![Scope::Users, Scope::List, Scope::Anywhere],
            Tab::Packages => vec![Scope::Packages, Scope::List, Scope::Anywhere],
            Tab::Resources => vec![Scope::Resources, Scope::List, Scope::Anywhere],
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
        // A conflict about a row that was deleted has nothing to overwrite.
        if let Some(Overlay::Conflict { conflict, .. }) = self.overlay()
            && action == Action::Overwrite
        {
            return conflict.can_overwrite();
        }
        self.available_with(action, self.rights)
    }

    /// [`App::available`] for a session holding `rights`. Without a right, the keys
    /// of the part it covers are not offered, as in a read-only session.
    fn available_with(&self, action: Action, rights: Rights) -> bool {
        if action == Action::AuditOf && !rights.audit {
            return false;
        }
        let ro = self.store.is_read_only();
        let (users_ro, roles_ro) = (ro || !rights.users, ro || !rights.roles);
        if let Some(editor) = &self.editor {
            return editor.available(action, roles_ro);
        }
        if let Some(form) = &self.form {
            return form.available(action, users_ro);
        }
        if let Some(editor) = &self.package_editor {
            return editor.available(action, roles_ro);
        }
        match self.tab {
            Tab::Users => self.users.available(action, users_ro),
            Tab::Roles => self
                .roles
                .available(action, roles_ro, self.names.default_role),
            Tab::Packages => self.packages.available(action, roles_ro),
            Tab::Resources => self.resources.available(action),
            Tab::Audit => self.audit.available(action),
        }
    }

    /// Why `action` is not offered, when the only reason is a right this served
    /// session's operator lacks.
    fn lacks_right_for(&self, action: Action) -> Option<String> {
        if self.rights == Rights::LOCAL
            || self.available(action)
            || !self.available_with(action, Rights::LOCAL)
        {
            return None;
        }
        let right = match (action, self.place()) {
            (Action::AuditOf, _) => Right::Audit,
            (_, Place::Editor | Place::PackageEditor) => Right::Roles,
            (_, Place::Form | Place::List(Tab::Users)) => Right::Users,
            _ => Right::Roles,
        };
        let operator = self.store.operator().unwrap_or_default();
        Some(authz::lacking(operator, self.store.catalog(), right).to_string())
    }

    pub fn current_list(&self) -> &FilteredList {
        match self.tab {
            Tab::Users => &self.users.view.list,
            Tab::Roles => &self.roles.view.list,
            Tab::Packages => &self.packages.view.list,
            Tab::Resources => &self.resources.view.list,
            Tab::Audit => &self.audit.view.list,
        }
    }

    fn current_list_mut(&mut self) -> &mut FilteredList {
        match self.tab {
            Tab::Users => &mut self.users.view.list,
            Tab::Roles => &mut self.roles.view.list,
            Tab::Packages => &mut self.packages.view.list,
            Tab::Resources => &mut self.resources.view.list,
            Tab::Audit => &mut self.audit.view.list,
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
            Msg::Tick => {
                self.tick();
            }
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
    /// their roles, and the compare dialog re-reads both roles (or closes).
    fn follow_catalog(&mut self) {
        if self.store.catalog().stamp() == self.catalog.stamp() {
            return;
        }
        let old = std::mem::replace(&mut self.catalog, self.store.catalog().clone());
        let mut note = String::from("the permission catalog was changed by another process");
        // An exception is measured against the catalog it was opened on: close it
        // (its edits are not saved) and go back to the role's own editor.
        if self.editor.as_ref().is_some_and(|e| e.exception.is_some()) {
            self.leave_place();
            note.push_str("; the exception editor was closed (e opens it again)");
        }
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
            let id = form.role_id;
            let _ = form.set_role(id, cx!(self));
        }
        let store = &self.store;
        self.overlays.retain_mut(|overlay| {
            // A picker of permissions lists the old catalog's.
            if let Overlay::Pick {
                purpose: PickPurpose::WhoCanOn { .. },
                ..
            } = overlay
            {
                return false;
            }
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
        self.roles.preview = None;
        self.roles.refresh_preview(&self.store);
        self.apply(vec![Effect::Info(note)]);
    }

    /// Looks for changes by other processes; true when anything on screen may have
    /// changed.
    pub fn tick(&mut self) -> bool {
        let arrived = self.poll_background(false);
        match self.store.data_version() {
            Ok(v) if v != self.data_version => {
                // A newer rolecall that raised the schema owns the file now: stop
                // before reading or writing anything under the old one's rules.
                if let Err(e) = self.store.ensure_schema_current() {
                    self.fatal = Some(e);
                    self.quit = true;
                    return true;
                }
                if let Err(e) = self.store.refresh_catalog().and_then(|_| self.reload()) {
                    self.apply(vec![Effect::Error(e)]);
                }
                self.follow_catalog();
                true
            }
            Ok(_) => arrived,
            Err(e) => {
                self.apply(vec![Effect::Error(e)]);
                true
            }
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
        let tabs = self.tabs();
        let n = tabs.len();
        let at = tabs.iter().position(|t| *t == self.tab).unwrap_or(0);
        let effects = match action {
            Action::Help => vec![Effect::Open(Overlay::Help {
                scroll: Default::default(),
            })],
            Action::Tab(i) if i >= n => vec![Effect::Refuse(
                "the catalog declares no resource types, so there is no Resources tab".into(),
            )],
            Action::Tab(i) => return self.switch_tab(tabs[i]),
            _ if let Some(why) = self.lacks_right_for(action) => vec![Effect::Refuse(why)],
            Action::NextTab => return self.switch_tab(tabs[(at + 1) % n]),
            Action::PrevTab => return self.switch_tab(tabs[(at + n - 1) % n]),
            _ => self.route(action),
        };
        self.apply(effects);
    }

    /// Hands `action` to the place with the focus.
    fn route(&mut self, action: Action) -> Vec<Effect> {
        if let Some(editor) = self.editor.as_mut() {
            return editor.update(action, cx!(self));
        }
        if let Some(form) = self.form.as_mut() {
            return form.update(action, cx!(self));
        }
        if let Some(editor) = self.package_editor.as_mut() {
            return editor.update(action, cx!(self));
        }
        match self.tab {
            Tab::Users => self.users.update(action, cx!(self)),
            Tab::Roles => self.roles.update(action, cx!(self)),
            Tab::Packages => self.packages.update(action, cx!(self)),
            Tab::Resources => self.resources.update(action, cx!(self)),
            Tab::Audit => self.audit.update(action, &self.matcher),
        }
    }

    /// A key typed into the field that has the focus: a dialog's, else the place's.
    fn on_input(&mut self, key: KeyEvent) {
        if let Some(overlay) = self.overlays.last_mut() {
            return overlay.on_input(&key, &self.matcher);
        }
        let effects = if let Some(form) = self.form.as_mut() {
            form.on_input(&key, cx!(self))
        } else if let Some(editor) = self.editor.as_mut() {
            editor.on_input(&key, cx!(self));
            Vec::new()
        } else if let Some(editor) = self.package_editor.as_mut() {
            editor.on_input(&key, cx!(self));
            Vec::new()
        } else {
            match self.tab {
                Tab::Users => self.users.on_input(&key, &self.matcher),
                Tab::Roles => self.roles.on_input(&key, cx!(self)),
                Tab::Packages => self.packages.on_input(&key, cx!(self)),
                Tab::Resources => self.resources.on_input(&key, cx!(self)),
                Tab::Audit => self.audit.on_input(&key, &self.matcher),
            }
            Vec::new()
        };
        self.apply(effects);
    }

    /// Leaves the open editor or form, one level: an exception's editor goes back to
    /// its role's editor.
    pub(crate) fn leave_place(&mut self) {
        match self.editor.take() {
            Some(editor) => self.editor = editor.parent.map(|p| *p),
            None => self.close_place(),
        }
    }

    /// Closes every open editor and form.
    pub(crate) fn close_place(&mut self) {
        self.editor = None;
        self.form = None;
        self.package_editor = None;
    }

    /// Goes to `tab`, leaving an open editor or form first (asking when unsaved).
    pub(crate) fn switch_tab(&mut self, tab: Tab) {
        let dirty = self
            .editor
            .as_ref()
            .is_some_and(|e| e.is_dirty() && !e.locked())
            || self.form.as_ref().is_some_and(|f| f.is_dirty())
            || self.package_editor.as_ref().is_some_and(|e| e.is_dirty());
        if dirty && !self.store.is_read_only() {
            self.after_discard = Some(tab);
            let ask = self.route(Action::Back);
            return self.apply(ask);
        }
        self.close_place();
        self.show_tab(tab);
    }

    /// Shows `tab`, reading what only that tab draws (its full list, its preview)
    /// now rather than at every reload: the first frame waits for the Users tab only.
    pub(crate) fn show_tab(&mut self, tab: Tab) {
        self.tab = tab;
        let loaded = match tab {
            Tab::Packages if self.packages.stale => self.packages.load(&self.store, &self.matcher),
            Tab::Audit if self.audit.stale => self.audit.load(&self.store, &self.matcher),
            _ => Ok(()),
        };
        if let Err(e) = loaded {
            self.apply(vec![Effect::Error(e)]);
        }
        self.refresh_previews();
    }

    fn on_click(&mut self, at: Position) {
        let double = self
            .last_click
            .is_some_and(|(p, when)| p == at && when.elapsed().as_millis() < DOUBLE_CLICK_MS);
        self.last_click = Some((at, Instant::now()));
        let hit = self.hit.get();
        if !self.overlays.is_empty() || self.form.is_some() || self.package_editor.is_some() {
            return;
        }
        if let Some(editor) = self.editor.as_mut() {
            if hit.tree.contains(at) {
                let effects = editor.click(at, hit.tree, cx!(self));
                self.apply(effects);
            }
            return;
        }
        if hit.tabs.contains(at) {
            let tabs = self.tabs();
            if let Some(i) = hit.tab_ends[..tabs.len()]
                .iter()
                .position(|end| at.x < *end)
            {
                self.switch_tab(tabs[i]);
            }
            return;
        }
        if hit.list_rows.contains(at) {
            let row = (at.y - hit.list_rows.y) as usize;
            let list = self.current_list_mut();
            if let Some((pos, _)) = list.source_at_row(row) {
                list.select_position(pos);
                self.refresh_previews();
                if double {
                    let effects = self.route(Action::Open);
                    self.apply(effects);
                }
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
        if self.package_editor.is_some() {
            return;
        }
        self.current_list_mut().scroll(rows);
        self.refresh_previews();
    }

    /// The preview of the tab shown follows its list's selection.
    fn refresh_previews(&mut self) {
        match self.tab {
            Tab::Roles => self.roles.refresh_preview(&self.store),
            Tab::Packages => self.packages.refresh_preview(&self.store),
            _ => {}
        }
    }

    /// What the screens read while they draw.
    pub fn look(&self) -> Look<'_> {
        Look {
            theme: &self.theme,
            matcher: &self.matcher,
            hit: &self.hit,
            store: &self.store,
            names: &self.names,
        }
    }

    /// Carries out what a screen asked for, in order.
    pub(crate) fn apply(&mut self, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::Info(text) => self.say(text, false),
                Effect::Refuse(text) => self.say(text, true),
                Effect::Error(e) => self.say(crate::tui::console_words(&e.to_string()), true),
                Effect::Open(overlay) => self.open(overlay),
                Effect::EditRole(editor) => self.editor = Some(*editor),
                Effect::EditUser(form) => self.form = Some(*form),
                Effect::EditPackage(editor) => self.package_editor = Some(*editor),
                Effect::Close => self.leave_place(),
                Effect::Reload => {
                    if let Err(e) = self.reload() {
                        self.say(crate::tui::console_words(&e.to_string()), true);
                    }
                }
                Effect::Select(tab, id) => match tab {
                    Tab::Users => self.users.select(id, &self.matcher),
                    Tab::Roles => self.roles.select(id, &self.store, &self.matcher),
                    Tab::Packages => self.packages.select(id, &self.store, &self.matcher),
                    Tab::Audit | Tab::Resources => {}
                },
                Effect::Quit => self.quit = true,
                Effect::AuditOf(name) => {
                    self.show_tab(Tab::Audit);
                    let said = self.audit.show_about(&name);
                    self.apply(vec![said]);
                }
            }
        }
    }

    fn say(&mut self, text: String, error: bool) {
        self.status = Some(Status { text, error });
    }

    /// True while the editor's tree has the keyboard.
    pub fn tree_focused(&self) -> bool {
        self.editor.as_ref().is_some_and(|e| e.focus == Focus::Tree)
    }
}
