//! The Users tab: the list (tags, filter) and what its keys do to the selected or
//! tagged users: the role picker (starting on the user's role, asking before a role
//! that grants more), enable/disable, owner, password, delete.

use ratatui::Frame;
use ratatui::layout::Rect;

use crate::domain::catalog::Grants;
use crate::domain::user::{User, UserRow};
use crate::tui::app::App;
use crate::tui::dialogs::{Overlay, Pending, PickPurpose, role_pick};
use crate::tui::keys::Action;
use crate::tui::widgets::input::TextInput;
use crate::tui::widgets::list::{Column, ListLook, cell, draw_list, fuzzy};

/// Most users a bulk dialog names; the rest are counted.
pub const NAMED: usize = 10;

/// Tags cleared with Esc without asking, up to this many.
pub const CLEAR_TAGS_SILENTLY: usize = 5;

pub fn draw(app: &App, frame: &mut Frame, area: Rect) {
    let columns = [
        Column {
            title: "",
            width: 1,
            min: 1,
        },
        Column {
            title: "USERNAME",
            width: 18,
            min: 12,
        },
        Column {
            title: "NAME",
            width: 0,
            min: 0,
        },
        Column {
            title: "EMAIL",
            width: 0,
            min: 0,
        },
        Column {
            title: "ROLE",
            width: 18,
            min: 12,
        },
        Column {
            title: "STATUS",
            width: 8,
            min: 8,
        },
    ];
    let title = match app.tagged.len() {
        0 => "Users".to_string(),
        n => format!("Users · {n} tagged (Space untags, Esc clears)"),
    };
    let tagged = |src: usize| app.tagged.contains(&app.users.rows[src].id);
    let look = ListLook {
        title: &title,
        columns: &columns,
        loading: app.is_loading_users().then_some(app.users_total),
        empty: "no users yet: n adds the first, who becomes the owner",
        tagged: &tagged,
    };
    draw_list(&app.look(), frame, area, &app.users, look, |u| {
        let status = match (u.active, u.owner) {
            (true, true) => "owner",
            (true, false) => "active",
            (false, _) => "disabled",
        };
        vec![
            cell(if app.tagged.contains(&u.id) { "*" } else { "" }),
            fuzzy(u.username.clone()),
            fuzzy(u.full_name()),
            fuzzy(u.email.clone()),
            cell(app.role_name(u.role_id).to_string()),
            cell(status),
        ]
    });
}

/// "adam, bella, chen and 4 more": up to [`NAMED`] names.
pub fn name_users(names: &[String]) -> String {
    let mut out = names
        .iter()
        .take(NAMED)
        .map(|n| format!("\"{}\"", crate::text::display_safe(n)))
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > NAMED {
        out.push_str(&format!(" and {} more", names.len() - NAMED));
    }
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

impl App {
    /// The users `r` and `x` act on: every tagged user, else the selected one.
    pub(crate) fn targets(&self) -> Vec<&UserRow> {
        if self.tagged.is_empty() {
            return self.users.selected().into_iter().collect();
        }
        self.users
            .rows
            .iter()
            .filter(|u| self.tagged.contains(&u.id))
            .collect()
    }

    /// Says when tagged users are hidden by the filter, so an action on "all tagged"
    /// never surprises.
    fn note_hidden_tags(&mut self) -> String {
        let shown: std::collections::HashSet<usize> = (0..self.users.list.shown())
            .filter_map(|p| self.users.list.source_at_position(p))
            .collect();
        let hidden = self
            .users
            .rows
            .iter()
            .enumerate()
            .filter(|(i, u)| self.tagged.contains(&u.id) && !shown.contains(i))
            .count();
        match hidden {
            0 => String::new(),
            n => format!(" ({n} of them not shown by the filter)"),
        }
    }

    pub(crate) fn toggle_tag(&mut self) {
        let Some(id) = self.users.selected().map(|u| u.id) else {
            return;
        };
        if !self.tagged.remove(&id) {
            self.tagged.insert(id);
        }
        self.users.list.move_by(1);
        let n = self.tagged.len();
        self.info(format!(
            "{n} user{} tagged; r and x act on all of them, Esc clears the tags",
            plural(n)
        ));
    }

    /// Ctrl-A: tags every row the filter shows.
    pub(crate) fn tag_all_shown(&mut self) {
        for p in 0..self.users.list.shown() {
            if let Some(i) = self.users.list.source_at_position(p) {
                self.tagged.insert(self.users.rows[i].id);
            }
        }
        let n = self.tagged.len();
        self.info(format!(
            "{n} user{} tagged; r and x act on all of them, Esc clears the tags",
            plural(n)
        ));
    }

    /// Esc on the list with tags and no filter: clears them, asking when many.
    pub(crate) fn clear_tags(&mut self) {
        let n = self.tagged.len();
        if n > CLEAR_TAGS_SILENTLY {
            return self.confirm(
                format!("Clear {n} tags?"),
                vec!["Nothing changes but the tags.".into()],
                Pending::ClearTags,
            );
        }
        self.tagged.clear();
        self.info(format!("cleared {n} tag{}", plural(n)));
    }

    pub(crate) fn ask_password(&mut self) {
        let Some(username) = self.users.selected().map(|u| u.username.clone()) else {
            return;
        };
        let empty = || TextInput::new("", crate::domain::validate::MAX_PASSWORD);
        self.open(Overlay::Password {
            username,
            first: empty(),
            second: empty(),
            on_second: false,
        });
    }

    pub(crate) fn role_choices(&self, except: Option<i64>) -> Vec<(i64, String)> {
        self.roles
            .rows
            .iter()
            .filter(|r| Some(r.id) != except)
            .map(|r| (r.id, r.name.clone()))
            .collect()
    }

    /// `r`: the role picker, on the role the users hold now (when they share one).
    pub(crate) fn pick_role_for_users(&mut self) {
        let targets = self.targets();
        let Some(first) = targets.first() else { return };
        let current = first.role_id;
        let same = targets.iter().all(|u| u.role_id == current);
        let usernames: Vec<String> = targets.iter().map(|u| u.username.clone()).collect();
        let hidden = self.note_hidden_tags();
        let title = match usernames.as_slice() {
            [one] => format!("Role for \"{one}\""),
            many => format!("Role for {} tagged users{hidden}", many.len()),
        };
        let choices = self.role_choices(None);
        self.open(role_pick(
            PickPurpose::AssignRole { usernames },
            title,
            choices,
            same.then_some(current),
        ));
    }

    /// A role picked for users: given at once when it grants nothing new to any of
    /// them, else after a dialog naming who gains what.
    pub(crate) fn give_role(&mut self, usernames: Vec<String>, role_id: i64, role_name: String) {
        let role = match self.store.role_by_id(role_id) {
            Ok(r) => r,
            Err(e) => return self.error(&e),
        };
        let mut gaining: Vec<String> = Vec::new();
        let mut gains = Grants::none(self.store.catalog());
        for u in self
            .users
            .rows
            .iter()
            .filter(|u| usernames.contains(&u.username))
        {
            if u.role_id == role_id {
                continue;
            }
            let now = self.store.role_by_id(u.role_id).map(|r| r.grants);
            let (added, _) = match &now {
                Ok(g) => role.grants.diff(g),
                Err(_) => (Vec::new(), Vec::new()),
            };
            if !added.is_empty() {
                gaining.push(u.username.clone());
                for o in added {
                    gains.set(o, true);
                }
            }
        }
        if gaining.is_empty() {
            return self.set_role_now(usernames, role_id, role_name);
        }
        let what = if role.builtin {
            "every permission, also ones added to the catalog later".to_string()
        } else {
            format!(
                "{} permission{} they do not have now",
                gains.count(),
                plural(gains.count())
            )
        };
        let n = gaining.len();
        let lines = vec![
            format!("{} user{} gain {what}:", n, plural(n)),
            format!("  {}", name_users(&gaining)),
            format!(
                "{} of {} chosen user{} change role.",
                usernames
                    .iter()
                    .filter(|n| self
                        .users
                        .rows
                        .iter()
                        .any(|u| &&u.username == n && u.role_id != role_id))
                    .count(),
                usernames.len(),
                plural(usernames.len())
            ),
        ];
        self.confirm(
            format!("Give \"{role_name}\"? It grants more"),
            lines,
            Pending::GiveRole {
                usernames,
                role_id,
                role_name,
            },
        );
    }

    pub(crate) fn set_role_now(&mut self, usernames: Vec<String>, role_id: i64, role_name: String) {
        match self.store.set_role_for(&usernames, role_id) {
            Ok(n) => {
                self.info(format!(
                    "gave \"{role_name}\" to {n} user{} ({} already had it)",
                    plural(n),
                    usernames.len() - n
                ));
                self.tagged.clear();
                self.reload_or_report();
            }
            Err(e) => self.error(&e),
        }
    }

    pub(crate) fn enable_disable(&mut self) {
        let chosen: Vec<(String, bool, bool)> = self
            .targets()
            .iter()
            .map(|u| (u.username.clone(), u.active, u.owner))
            .collect();
        if chosen.is_empty() {
            return;
        }
        // Mixed selections are disabled: the safe direction.
        let active = chosen.iter().all(|(_, a, _)| !a);
        if let Some((owner, _, _)) = chosen.iter().find(|(_, _, o)| *o && !active) {
            let refusal = self
                .store
                .user(owner)
                .and_then(|o| crate::domain::user::ensure_owner_kept(&o, &o.role, false));
            if let Err(err) = refusal {
                return self.error(&err);
            }
        }
        let usernames: Vec<String> = chosen.iter().map(|(n, _, _)| n.clone()).collect();
        let changing: Vec<String> = chosen
            .iter()
            .filter(|(_, a, _)| *a != active)
            .map(|(n, _, _)| n.clone())
            .collect();
        let verb = if active { "Enable" } else { "Disable" };
        let hidden = self.note_hidden_tags();
        let who = match usernames.as_slice() {
            [one] => format!("\"{one}\""),
            many => format!("{} tagged users", many.len()),
        };
        let effect = if active {
            "They regain the permissions of their roles at once."
        } else {
            "They lose every permission at once; their data and roles are kept."
        };
        let mut lines = vec![effect.to_string()];
        if usernames.len() > 1 {
            lines.push(format!(
                "{} change{hidden}: {}",
                changing.len(),
                name_users(&changing)
            ));
        }
        self.confirm(
            format!("{verb} {who}?"),
            lines,
            Pending::SetActive { usernames, active },
        );
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

    pub(crate) fn make_owner(&mut self) {
        let Some(user) = self.selected_user() else {
            return;
        };
        if let Err(e) = crate::domain::user::ensure_can_become_owner(&user) {
            return self.error(&e);
        }
        self.confirm(
            format!("Make \"{}\" the owner?", user.username),
            vec![
                "The owner cannot be removed, disabled or moved off Administrator.".into(),
                format!(
                    "\"{}\" is given the Administrator role; the current owner keeps theirs.",
                    user.username
                ),
            ],
            Pending::MakeOwner {
                username: user.username,
            },
        );
    }

    pub(crate) fn delete_user(&mut self) {
        let Some(user) = self.selected_user() else {
            return;
        };
        if let Err(e) = crate::domain::user::ensure_removable(&user) {
            return self.error(&e);
        }
        self.confirm(
            format!("Delete user \"{}\"?", user.username),
            vec![
                "This cannot be undone; the audit log keeps a record of the user.".into(),
                "To keep the account but remove its access, disable it instead (x).".into(),
            ],
            Pending::DeleteUser {
                username: user.username,
            },
        );
    }

    /// Opens a yes/no dialog holding `pending`.
    pub(crate) fn confirm(&mut self, title: String, lines: Vec<String>, pending: Pending) {
        self.open(Overlay::Confirm {
            title,
            lines,
            pending,
            scroll: Default::default(),
        });
    }
}

/// The row actions of the Users list, for the footer: what works on this row now.
pub fn available(app: &App, action: Action) -> bool {
    let ro = app.store.is_read_only();
    let row = app.users.selected().is_some();
    match action {
        Action::New => !ro,
        Action::Tag | Action::TagAll | Action::AuditOf => row,
        Action::AssignRole | Action::EnableDisable | Action::Password | Action::Delete => {
            !ro && row
        }
        Action::MakeOwner => !ro && app.users.selected().is_some_and(|u| u.active && !u.owner),
        _ => true,
    }
}
