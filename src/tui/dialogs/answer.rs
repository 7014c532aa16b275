//! Where a dialog's answer goes. Movement stays inside the dialog; a yes, a choice,
//! a typed name or password is handed back to the screen that opened the dialog
//! (the purpose it carries says which), and the screen's effects are applied. The
//! router itself answers only what is its own: discarding an editor, closing a
//! dialog.

use crate::tui::app::App;
use crate::tui::dialogs::{Overlay, Pending, PickPurpose, PromptPurpose, Retry};
use crate::tui::keys::Action;
use crate::tui::screens::role_editor::RoleEditor;
use crate::tui::screens::{Effect, packages, resources, roles};

impl App {
    pub(crate) fn on_overlay_action(&mut self, action: Action) {
        if let Some(overlay) = self.overlays.last_mut()
            && overlay.on_move(action)
        {
            return;
        }
        if action == Action::Help {
            return self.open(Overlay::Help {
                scroll: Default::default(),
            });
        }
        let Some(overlay) = self.overlays.pop() else {
            return;
        };
        let effects = self.answer(overlay, action);
        self.apply(effects);
    }

    fn answer(&mut self, overlay: Overlay, action: Action) -> Vec<Effect> {
        let said = |text: &str| vec![Effect::Info(text.to_string())];
        match (overlay, action) {
            (Overlay::Confirm { pending, .. }, Action::Confirm) => self.run_pending(pending),
            (Overlay::Confirm { pending, .. }, Action::Cancel) => match pending {
                Pending::Discard => {
                    self.after_discard = None;
                    said("still editing; nothing was discarded")
                }
                _ => said("cancelled; nothing changed"),
            },
            (
                Overlay::DeleteBlocked {
                    role_id,
                    info,
                    choices,
                    list,
                },
                Action::Confirm,
            ) => match list.selected_source().and_then(|i| choices.get(i)) {
                Some((id, name)) => roles::ask_reassign(role_id, &info, (*id, name), cx!(self)),
                None => vec![Effect::Info(format!("\"{}\" was not deleted", info.role))],
            },
            (Overlay::DeleteBlocked { info, .. }, Action::Cancel) => {
                vec![Effect::Info(format!("\"{}\" was not deleted", info.role))]
            }
            (
                Overlay::Pick {
                    purpose,
                    choices,
                    list,
                    ..
                },
                Action::Confirm,
            ) => match list.selected_source().and_then(|i| choices.get(i)) {
                Some((id, name)) => self.picked(purpose, *id, name.clone()),
                None => said("nothing matches; nothing changed"),
            },
            (Overlay::Pick { .. }, Action::Cancel) => said("cancelled; nothing changed"),
            (Overlay::Prompt { .. }, Action::Cancel) => said("cancelled; nothing was created"),
            (
                Overlay::Prompt {
                    title,
                    input,
                    purpose: PromptPurpose::CloneName { source },
                },
                Action::Accept,
            ) => roles::clone_named(source, title, input, cx!(self)),
            (Overlay::Conflict { conflict, retry }, Action::Overwrite)
                if conflict.can_overwrite() =>
            {
                self.retry(retry, conflict.current_version)
            }
            (Overlay::Conflict { retry, .. }, Action::Reload) => self.reload_edit(retry),
            (Overlay::Conflict { .. }, Action::Cancel) => said("still editing; nothing was saved"),
            (
                Overlay::Password {
                    username,
                    first,
                    second,
                    on_second,
                },
                Action::Accept,
            ) => self
                .users
                .password_entered(username, first, second, on_second, cx!(self)),
            (Overlay::Password { .. }, Action::Cancel) => said("the password was not changed"),
            (
                Overlay::Help { .. }
                | Overlay::AuditDetail { .. }
                | Overlay::Compare { .. }
                | Overlay::RoleUsers { .. }
                | Overlay::Lines { .. }
                | Overlay::Message { .. },
                Action::Cancel,
            ) => Vec::new(),
            (overlay, _) => vec![Effect::Open(overlay)],
        }
    }

    /// "Yes": what the dialog was holding, done by the screen that asked.
    fn run_pending(&mut self, pending: Pending) -> Vec<Effect> {
        match pending {
            Pending::DeleteRole { id, name } => roles::delete(id, &name, cx!(self)),
            Pending::DeletePackage {
                id,
                members,
                version,
                ..
            } => packages::delete(id, members, version, cx!(self)),
            Pending::Reassign {
                role_id,
                target_id,
                target,
            } => roles::reassign_and_delete(role_id, (target_id, &target), cx!(self)),
            Pending::Discard => {
                match self.after_discard.take() {
                    Some(tab) => {
                        self.close_place();
                        self.show_tab(tab);
                    }
                    None => self.leave_place(),
                }
                vec![Effect::Info("discarded the unsaved changes".into())]
            }
            Pending::SaveException => match self.editor.as_mut() {
                Some(editor) => editor.save_exception(cx!(self)),
                None => Vec::new(),
            },
            Pending::ClearException => match self.editor.as_mut() {
                Some(editor) => editor.clear_exception(cx!(self)),
                None => Vec::new(),
            },
            Pending::Save(summary) => match self.editor.as_mut() {
                Some(editor) => {
                    let version = editor.version;
                    editor.save(summary, version, cx!(self))
                }
                None => Vec::new(),
            },
            Pending::SavePackage => match self.package_editor.as_mut() {
                Some(editor) => {
                    let version = editor.version;
                    editor.save(version, cx!(self))
                }
                None => Vec::new(),
            },
            users_pending => self.users.run(users_pending, cx!(self)),
        }
    }

    /// A choice from a picker, handed to the screen that opened it.
    fn picked(&mut self, purpose: PickPurpose, id: i64, name: String) -> Vec<Effect> {
        match purpose {
            PickPurpose::AssignRole { users } => self.users.give_role(users, id, name, cx!(self)),
            PickPurpose::Package { users } => self.users.package_picked(users, id, cx!(self)),
            PickPurpose::CompareWith { role_id } => roles::compare(role_id, id, cx!(self)),
            PickPurpose::FormRole => match self.form.as_mut() {
                Some(form) => form.set_role(id, cx!(self)),
                None => Vec::new(),
            },
            PickPurpose::FormPackage => match self.form.as_mut() {
                Some(form) => form.toggle_package(id, cx!(self)),
                None => Vec::new(),
            },
            PickPurpose::Member => match self.package_editor.as_mut() {
                Some(editor) => editor.add_member(id, name, cx!(self)),
                None => Vec::new(),
            },
            PickPurpose::WhoCanOn { spec } => resources::who_can(&spec, id as usize, cx!(self)),
            PickPurpose::ExceptionFor => match self.editor.take() {
                Some(editor) => match RoleEditor::for_exception(Box::new(editor), id, cx!(self)) {
                    Ok(exception) => {
                        self.editor = Some(exception);
                        Vec::new()
                    }
                    Err((editor, e)) => {
                        self.editor = Some(*editor);
                        vec![Effect::Error(e)]
                    }
                },
                None => Vec::new(),
            },
        }
    }

    /// "Overwrite" after a conflict: the same save against the version now stored.
    fn retry(&mut self, retry: Retry, version: i64) -> Vec<Effect> {
        match retry {
            Retry::Role(summary) => match self.editor.as_mut() {
                Some(editor) => editor.save(summary, version, cx!(self)),
                None => Vec::new(),
            },
            Retry::User => match self.form.as_mut() {
                Some(form) => form.save(Some(version), cx!(self)),
                None => Vec::new(),
            },
            Retry::Package => match self.package_editor.as_mut() {
                Some(editor) => editor.save(version, cx!(self)),
                None => Vec::new(),
            },
        }
    }

    /// "Reload theirs" after a conflict: the edit starts again from what is stored.
    fn reload_edit(&mut self, retry: Retry) -> Vec<Effect> {
        match retry {
            Retry::Role(_) => match self.editor.as_mut() {
                Some(editor) => editor.reload(cx!(self)),
                None => Vec::new(),
            },
            Retry::User => match self.form.as_mut() {
                Some(form) => form.reload(cx!(self)),
                None => Vec::new(),
            },
            Retry::Package => match self.package_editor.as_mut() {
                Some(editor) => editor.reload(cx!(self)),
                None => Vec::new(),
            },
        }
    }
}
