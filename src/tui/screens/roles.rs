//! The Roles tab: the list with a read-only preview of the selected role, and what
//! its keys do: new (a form that creates nothing until saved), clone (its name
//! first), compare, users, make default, delete (with the way forward when in use).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use crate::domain::catalog::{CheckState, Grants};
use crate::domain::role::Role;
use crate::error::RoleInUse;
use crate::text::display_safe;
use crate::tui::app::App;
use crate::tui::dialogs::{Overlay, Pending, PickPurpose, PromptPurpose, role_pick};
use crate::tui::keys::Action;
use crate::tui::screens::role_editor::{Focus, RoleEditor};
use crate::tui::widgets::input::TextInput;
use crate::tui::widgets::list::{Column, FilteredList, ListLook, cell, draw_list, fuzzy};

pub fn draw(app: &App, frame: &mut Frame, area: Rect) {
    let wide = area.width >= 110;
    let [list_area, preview_area] = if wide {
        Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(area)
    } else {
        Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(area)
    };
    let columns = [
        Column {
            title: "ID",
            width: 4,
            min: 3,
        },
        Column {
            title: "NAME",
            width: 0,
            min: 0,
        },
        Column {
            title: "USERS",
            width: 6,
            min: 5,
        },
        Column {
            title: "GRANTED",
            width: 8,
            min: 7,
        },
        Column {
            title: "CREATED ON",
            width: 10,
            min: 10,
        },
        Column {
            title: "",
            width: 9,
            min: 7,
        },
    ];
    let default = app.default_role;
    let look = ListLook {
        title: "Roles",
        columns: &columns,
        loading: None,
        empty: "no roles yet: n adds one",
        tagged: &|_| false,
    };
    draw_list(&app.look(), frame, list_area, &app.roles, look, |r| {
        let mark = if r.id == default {
            "* default"
        } else if r.builtin {
            "locked"
        } else {
            ""
        };
        vec![
            cell(r.id.to_string()),
            fuzzy(r.name.clone()),
            cell(r.users.to_string()),
            cell(format!("{}/{}", r.granted_count, r.total)),
            cell(r.created_at.get(..10).unwrap_or(&r.created_at).to_string()),
            cell(mark),
        ]
    });
    preview(app, frame, preview_area);
}

fn preview(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let title = match &app.preview {
        Some(r) => format!(
            " {} · {} of {} ",
            display_safe(&r.name),
            r.grants.count(),
            app.store.catalog().leaf_count()
        ),
        None => " Permissions ".to_string(),
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(t.border)
        .title(Span::styled(title, t.title));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(role) = &app.preview else { return };
    let catalog = app.store.catalog();
    let mut lines = Vec::new();
    if !role.description.is_empty() {
        lines.push(Line::from(Span::styled(
            display_safe(&role.description).into_owned(),
            t.dim,
        )));
    }
    for node in catalog.nodes() {
        if lines.len() >= inner.height as usize {
            break;
        }
        let parent_partial = node
            .parent
            .is_none_or(|p| role.grants.state(catalog.node(p)) == CheckState::Partial);
        if !parent_partial {
            continue;
        }
        let state = role.grants.state(node);
        let style = match state {
            CheckState::Checked => t.checked,
            CheckState::Partial => t.partial,
            CheckState::Unchecked => t.normal,
        };
        let mut spans = vec![
            Span::raw("  ".repeat(node.depth)),
            Span::styled(state.mark(), style),
            Span::raw(" "),
            Span::raw(display_safe(&node.label).into_owned()),
        ];
        if !node.is_leaf() {
            spans.push(Span::styled(
                format!(
                    " {}/{}",
                    role.grants.count_in(node.leaves.clone()),
                    node.leaves.len()
                ),
                t.dim,
            ));
        }
        lines.push(Line::from(spans));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

impl App {
    pub(crate) fn show_delete_blocked(&mut self, role_id: i64, info: RoleInUse) {
        let choices: Vec<(i64, String)> = if self.default_role == role_id {
            Vec::new()
        } else {
            self.role_choices(Some(role_id))
        };
        let mut list = FilteredList::new(choices.len());
        if let Some(pos) = choices.iter().position(|(id, _)| *id == self.default_role) {
            list.select_source(pos);
        }
        self.open(Overlay::DeleteBlocked {
            role_id,
            info,
            choices,
            list,
        });
    }

    /// Selects role `id` in the list, clearing the filter.
    pub(crate) fn select_role(&mut self, id: i64) {
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

    /// `n`: the editor on a role that does not exist yet; Ctrl-S creates it.
    pub(crate) fn new_role(&mut self) {
        let role = Role {
            id: 0,
            name: String::new(),
            description: String::new(),
            builtin: false,
            grants: Grants::none(self.store.catalog()),
            users: 0,
            version: 0,
            created_seq: 0,
            created_at: String::new(),
            updated_at: String::new(),
            updated_by: String::new(),
        };
        let mut editor = RoleEditor::new(self.store.catalog(), &role, self.theme);
        editor.is_new = true;
        editor.focus = Focus::Name;
        self.editor = Some(editor);
        self.info("a new role: type its name, Tab to its permissions; Ctrl-S creates it");
    }

    /// `c`: the name of the copy, to edit before anything is created.
    pub(crate) fn ask_clone_name(&mut self) {
        let Some((source, name)) = self.roles.selected().map(|r| (r.id, r.name.clone())) else {
            return;
        };
        let mut proposal = crate::domain::role::clone_name(&name);
        let mut n = 2;
        while self.role_name_problem(&proposal, None).is_some() && n < 100 {
            proposal = format!("{} {n}", crate::domain::role::clone_name(&name));
            n += 1;
        }
        self.open(Overlay::Prompt {
            title: format!("Clone \"{name}\""),
            input: TextInput::new(&proposal, crate::domain::validate::MAX_ROLE_NAME),
            purpose: PromptPurpose::CloneName { source },
        });
    }

    pub(crate) fn clone_role(&mut self, source: i64, name: &str) {
        match self.store.clone_role(source, Some(name.trim())) {
            Ok(role) => {
                self.reload_or_report();
                self.select_role(role.id);
                self.info(format!(
                    "created \"{}\" with {} permissions; Enter edits it",
                    role.name,
                    role.grants.count()
                ));
            }
            Err(e) => self.error(&e),
        }
    }

    /// `*`: the selected role becomes the default for new users.
    pub(crate) fn make_default(&mut self) {
        let Some(id) = self.roles.selected().map(|r| r.id) else {
            return;
        };
        match self.store.set_default_role(crate::store::RoleRef::Id(id)) {
            Ok(role) => {
                self.info(format!(
                    "\"{}\" is now the default role for new users",
                    role.name
                ));
                self.reload_or_report();
            }
            Err(e) => self.error(&e),
        }
    }

    pub(crate) fn delete_selected(&mut self) {
        let Some(role) = self.roles.selected().cloned() else {
            return;
        };
        if role.builtin {
            return self
                .error(&crate::domain::role::ensure_editable(&role.name, true).unwrap_err());
        }
        let is_default = role.id == self.default_role;
        let packages = match self.store.packages_including(role.id) {
            Ok(p) => p,
            Err(e) => return self.error(&e),
        };
        if role.users > 0 || is_default || !packages.0.is_empty() {
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
                packages: packages.0,
                users_via_packages: packages.1,
            };
            return self.show_delete_blocked(role.id, info);
        }
        self.confirm(
            format!("Delete role \"{}\"?", role.name),
            vec![
                format!(
                    "No user holds \"{}\" and it is not the default role.",
                    role.name
                ),
                "Deleting it cannot be undone; the audit log keeps its permissions.".into(),
            ],
            Pending::DeleteRole {
                id: role.id,
                name: role.name,
            },
        );
    }

    pub(crate) fn pick_role_to_compare(&mut self) {
        let Some((id, name)) = self.roles.selected().map(|r| (r.id, r.name.clone())) else {
            return;
        };
        let choices = self.role_choices(Some(id));
        self.open(role_pick(
            PickPurpose::CompareWith { role_id: id },
            format!("Compare \"{name}\" with"),
            choices,
            None,
        ));
    }

    pub(crate) fn show_role_users(&mut self) {
        let Some((id, name)) = self.roles.selected().map(|r| (r.id, r.name.clone())) else {
            return;
        };
        match self.store.role_holders(id, usize::MAX >> 1) {
            Ok(users) => self.open(Overlay::RoleUsers {
                role: name,
                users,
                scroll: Default::default(),
            }),
            Err(e) => self.error(&e),
        }
    }
}

/// The row actions of the Roles list, for the footer: what works on this row now.
pub fn available(app: &App, action: Action) -> bool {
    let ro = app.store.is_read_only();
    let role = app.roles.selected();
    match action {
        Action::New => !ro,
        Action::Compare | Action::RoleUsers | Action::AuditOf => role.is_some(),
        Action::Clone => !ro && role.is_some(),
        Action::Delete => !ro && role.is_some_and(|r| !r.builtin),
        Action::SetDefault => !ro && role.is_some_and(|r| r.id != app.default_role),
        _ => true,
    }
}
