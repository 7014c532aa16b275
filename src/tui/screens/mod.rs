//! The screens, one file each: state, update (what its keys do), drawing, and which
//! of its keys work now (`available`, read by the footer and the help). A screen
//! that needs what only the router may do (open a dialog, say something, switch
//! tab, read the lists again, quit) returns an [`Effect`]; `App::apply` carries it
//! out. This file holds what the lists share: movement, the filter, Esc and Enter,
//! and the routing of typed text to the field that has the focus.

pub mod audit;
pub mod role_editor;
pub mod roles;
pub mod user_form;
pub mod users;

use std::cell::Cell;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use fuzzy_matcher::skim::SkimMatcherV2;

use crate::store::Store;
use crate::tui::app::{HitAreas, ListView};
use crate::tui::theme::Theme;

use crate::tui::app::{App, Tab};
use crate::tui::dialogs::Overlay;
use crate::tui::keys::Action;
use crate::tui::screens::role_editor::{Focus, RoleEditor};
use crate::tui::screens::user_form::Field;

/// What a screen asks of the router, which alone holds the tabs, the dialogs and
/// the status line.
#[derive(Debug)]
pub enum Effect {
    /// Say something in the status line.
    Info(String),
    /// Say why something was refused, in the status line.
    Refuse(String),
    /// Say what went wrong (worded for the console).
    Error(crate::error::Error),
    /// Open a dialog over whatever is open.
    Open(crate::tui::dialogs::Overlay),
    /// Read every list again.
    Reload,
    /// Show the audit rows about this user or role, on the Audit tab.
    AuditOf(String),
    /// End the console.
    Quit,
}

/// What a screen reads while it draws, besides its own state.
pub struct Look<'a> {
    pub theme: &'a Theme,
    pub matcher: &'a SkimMatcherV2,
    /// Where the mouse can hit, written by the draw.
    pub hit: &'a Cell<HitAreas>,
    pub store: &'a Store,
}

/// The keys every list has: movement, `/`, Enter and Esc in the filter, Esc to clear
/// it, `q`. `None` when `action` is not one of them (or Esc has nothing to clear).
pub fn list_key<T>(
    view: &mut ListView<T>,
    action: Action,
    matcher: &SkimMatcherV2,
) -> Option<Vec<Effect>> {
    let list = &mut view.list;
    if list.on_action(action) {
        return Some(Vec::new());
    }
    match action {
        Action::Quit => return Some(vec![Effect::Quit]),
        Action::Filter => list.editing = true,
        Action::Accept => list.editing = false,
        Action::Cancel => list.clear_filter(&view.haystacks, matcher),
        Action::Back if list.is_filtered() => list.clear_filter(&view.haystacks, matcher),
        _ => return None,
    }
    Some(Vec::new())
}

/// A key typed into a list's filter.
pub fn list_typed<T>(view: &mut ListView<T>, key: &KeyEvent, matcher: &SkimMatcherV2) {
    if view.list.query.handle(key) {
        view.list.refilter(&view.haystacks, matcher);
    }
}

/// Which list keys work now: nothing that needs a row on an empty list, nothing
/// that changes anything in `--read-only`, Esc only with a filter or tags to clear.
pub fn list_available(app: &App, action: Action) -> bool {
    let list = app.current_list();
    let has_row = list.selected_source().is_some();
    match action {
        Action::Open => has_row,
        Action::Back => list.is_filtered() || (app.tab == Tab::Users && !app.tagged.is_empty()),
        _ => match app.tab {
            Tab::Users => users::available(app, action),
            Tab::Roles => roles::available(app, action),
            Tab::Audit => app.audit.available(action),
        },
    }
}

impl App {
    pub(crate) fn on_list_action(&mut self, action: Action) {
        if self.tab == Tab::Audit {
            let effects = self.audit.update(action, &self.matcher);
            return self.apply(effects);
        }
        let changes = matches!(
            action,
            Action::New
                | Action::Delete
                | Action::Clone
                | Action::AssignRole
                | Action::EnableDisable
                | Action::MakeOwner
                | Action::Password
                | Action::SetDefault
        );
        if changes && self.store.is_read_only() {
            return self.refuse_read_only();
        }
        let (list, hay, matcher) = self.current_list_mut();
        if list.on_action(action) {
            if self.tab == Tab::Roles {
                self.refresh_preview();
            }
            return;
        }
        match action {
            Action::Quit => self.quit = true,
            Action::Filter => list.editing = true,
            Action::Accept => list.editing = false,
            Action::Cancel => list.clear_filter(hay, matcher),
            Action::Back if list.is_filtered() => list.clear_filter(hay, matcher),
            Action::Back if self.tab == Tab::Users && !self.tagged.is_empty() => self.clear_tags(),
            Action::Open => self.open_selected(),
            _ => self.on_tab_action(action),
        }
        if self.tab == Tab::Roles {
            self.refresh_preview();
        }
    }

    /// The keys only one tab has.
    fn on_tab_action(&mut self, action: Action) {
        match (self.tab, action) {
            (Tab::Roles, Action::New) => self.new_role(),
            (Tab::Roles, Action::Clone) => self.ask_clone_name(),
            (Tab::Roles, Action::Delete) => self.delete_selected(),
            (Tab::Roles, Action::Compare) => self.pick_role_to_compare(),
            (Tab::Roles, Action::RoleUsers) => self.show_role_users(),
            (Tab::Roles, Action::SetDefault) => self.make_default(),
            (Tab::Roles, Action::AuditOf) => {
                if let Some(name) = self.roles.selected().map(|r| r.name.clone()) {
                    self.apply(vec![Effect::AuditOf(name)]);
                }
            }
            (Tab::Users, Action::New) => self.new_user_form(),
            (Tab::Users, Action::Delete) => self.delete_user(),
            (Tab::Users, Action::Tag) => self.toggle_tag(),
            (Tab::Users, Action::TagAll) => self.tag_all_shown(),
            (Tab::Users, Action::Password) => self.ask_password(),
            (Tab::Users, Action::AssignRole) => self.pick_role_for_users(),
            (Tab::Users, Action::EnableDisable) => self.enable_disable(),
            (Tab::Users, Action::MakeOwner) => self.make_owner(),
            (Tab::Users, Action::AuditOf) => {
                if let Some(name) = self.users.selected().map(|u| u.username.clone()) {
                    self.apply(vec![Effect::AuditOf(name)]);
                }
            }
            _ => {}
        }
    }

    /// A key typed into the field that has the focus.
    pub(crate) fn on_input(&mut self, key: KeyEvent) {
        match self.overlays.last_mut() {
            Some(Overlay::Password {
                first,
                second,
                on_second,
                ..
            }) => {
                let field = if *on_second { second } else { first };
                field.handle(&key);
                return;
            }
            Some(Overlay::Pick {
                list, haystacks, ..
            }) => {
                if list.query.handle(&key) {
                    list.refilter(haystacks, &self.matcher);
                }
                return;
            }
            Some(Overlay::Prompt { input, .. }) => {
                input.handle(&key);
                return;
            }
            _ => {}
        }
        if let Some(form) = self.form.as_mut() {
            if self.store.is_read_only() {
                return self.refuse_read_only();
            }
            let signature = form.focus == Field::Signature;
            if let Some(input) = form.focused_input() {
                let newline =
                    key.code == KeyCode::Enter && key.modifiers.contains(KeyModifiers::ALT);
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
        if self.tab == Tab::Audit {
            return self.audit.on_input(&key, &self.matcher);
        }
        let (list, hay, matcher) = self.current_list_mut();
        if list.query.handle(&key) {
            list.refilter(hay, matcher);
        }
        if self.tab == Tab::Roles {
            self.refresh_preview();
        }
    }

    pub(crate) fn open_selected(&mut self) {
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
                                "\"{}\" is built in: it always holds every permission, so it opens read-only; c on Roles makes an editable copy",
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
            Tab::Audit => {}
        }
    }
}
