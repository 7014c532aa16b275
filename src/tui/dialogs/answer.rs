//! What the answer to a dialog does: movement stays inside the dialog; a yes runs
//! the store call the dialog was holding; the role picked, the name or password
//! typed go where the dialog was opened for.

use crate::error::Error;
use crate::store::RoleRef;
use crate::tui::app::{App, Status};
use crate::tui::dialogs::{Overlay, Pending, PickPurpose, PromptPurpose, Retry};
use crate::tui::keys::Action;
use crate::tui::widgets::input::TextInput;

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
        match (overlay, action) {
            (Overlay::Confirm { pending, .. }, Action::Confirm) => self.run_pending(pending),
            (Overlay::Confirm { pending, .. }, Action::Cancel) => self.cancelled(pending),
            (overlay @ Overlay::DeleteBlocked { .. }, Action::Confirm | Action::Cancel) => {
                self.delete_blocked_answer(overlay, action == Action::Confirm)
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
                None => self.info("no role matches; nothing changed"),
            },
            (Overlay::Pick { .. }, Action::Cancel) => self.info("cancelled; nothing changed"),
            (Overlay::Prompt { .. }, Action::Cancel) => self.info("cancelled; nothing was created"),
            (
                Overlay::Prompt {
                    title,
                    input,
                    purpose,
                },
                Action::Accept,
            ) => self.prompt_answer(title, input, purpose),
            (Overlay::Conflict { conflict, retry }, Action::Overwrite)
                if conflict.can_overwrite() =>
            {
                match retry {
                    Retry::Role(summary) => self.save(summary, conflict.current_version),
                    Retry::User => self.save_form(Some(conflict.current_version)),
                }
            }
            (Overlay::Conflict { retry, .. }, Action::Reload) => match retry {
                Retry::Role(_) => self.reload_editor(),
                Retry::User => self.reload_form(),
            },
            (Overlay::Conflict { .. }, Action::Cancel) => {
                self.info("still editing; nothing was saved")
            }
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
            (
                Overlay::Help { .. }
                | Overlay::AuditDetail { .. }
                | Overlay::Compare { .. }
                | Overlay::RoleUsers { .. }
                | Overlay::Message { .. },
                Action::Cancel,
            ) => {}
            (overlay, _) => self.open(overlay),
        }
    }

    fn cancelled(&mut self, pending: Pending) {
        match pending {
            Pending::DiscardEdit | Pending::DiscardForm => {
                self.after_discard = None;
                self.info("still editing; nothing was discarded")
            }
            _ => self.info("cancelled; nothing changed"),
        }
    }

    fn prompt_answer(&mut self, title: String, input: TextInput, purpose: PromptPurpose) {
        let PromptPurpose::CloneName { source } = purpose;
        if let Some(problem) = self.role_name_problem(input.text(), None) {
            self.refuse(format!("not created: {problem}"));
            self.open(Overlay::Prompt {
                title,
                input,
                purpose,
            });
            return;
        }
        self.clone_role(source, input.text());
    }

    fn delete_blocked_answer(&mut self, overlay: Overlay, confirmed: bool) {
        let Overlay::DeleteBlocked {
            role_id,
            info,
            choices,
            list,
        } = overlay
        else {
            return;
        };
        let target = list.selected_source().and_then(|i| choices.get(i));
        let Some((target_id, target)) = target.filter(|_| confirmed) else {
            return self.info(format!("\"{}\" was not deleted", info.role));
        };
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
    }

    pub(crate) fn run_pending(&mut self, pending: Pending) {
        let done = |n: usize| if n == 1 { "" } else { "s" };
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
                        self.info(format!("{what} {n} user{}", done(n)));
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
            Pending::GiveRole {
                usernames,
                role_id,
                role_name,
            } => self.set_role_now(usernames, role_id, role_name),
            Pending::ClearTags => {
                let n = self.tagged.len();
                self.tagged.clear();
                self.info(format!("cleared {n} tag{}", done(n)));
            }
            Pending::DiscardForm | Pending::DiscardEdit => {
                self.form = None;
                self.editor = None;
                if let Some(tab) = self.after_discard.take() {
                    self.tab = tab;
                }
                self.info("discarded the unsaved changes");
            }
            Pending::Save(summary) => {
                let version = self.editor.as_ref().map_or(0, |e| e.version);
                self.save(summary, version)
            }
        }
    }

    /// "Discard unsaved changes?" for the open editor or form.
    pub(crate) fn ask_discard(&mut self) {
        let (lines, pending) = match &self.editor {
            Some(editor) => (
                vec![format!(
                    "Your changes to \"{}\" have not been saved. Discard them?",
                    if editor.is_new {
                        "the new role"
                    } else {
                        &editor.original_name
                    }
                )],
                Pending::DiscardEdit,
            ),
            None => (
                vec!["The user form has changes that were not saved. Discard them?".into()],
                Pending::DiscardForm,
            ),
        };
        self.confirm("Discard unsaved changes?".into(), lines, pending);
    }

    pub(crate) fn picked(&mut self, purpose: PickPurpose, role_id: i64, role_name: String) {
        match purpose {
            PickPurpose::AssignRole { usernames } => self.give_role(usernames, role_id, role_name),
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
                    (Ok(a), Ok(b)) => self.open(Overlay::Compare {
                        a: Box::new(a),
                        b: Box::new(b),
                        scroll: Default::default(),
                    }),
                    (Err(e), _) | (_, Err(e)) => self.error(&e),
                }
            }
        }
    }

    pub(crate) fn password_entered(
        &mut self,
        username: String,
        first: TextInput,
        second: TextInput,
        on_second: bool,
    ) {
        if !on_second {
            if let Err(e) = crate::domain::validate::password(first.text()) {
                self.error(&e);
                self.open(Overlay::Password {
                    username,
                    first: TextInput::new("", crate::domain::validate::MAX_PASSWORD),
                    second,
                    on_second: false,
                });
                return;
            }
            self.open(Overlay::Password {
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
            self.open(Overlay::Password {
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
}
