//! The package editor: name, description, the roles the package includes (a
//! filterable checklist) and its members (filterable; `a` adds through a user
//! picker, `d` takes one out). Nothing is written until Ctrl-S, which shows every
//! change first; a save that lost a race with another operator opens the conflict
//! dialog, as in the role editor.

use std::collections::BTreeSet;

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use crate::domain::validate;
use crate::error::Error;
use crate::store::{PackageRef, PackageUpdate};
use crate::text::display_safe;
use crate::tui::app::Tab;
use crate::tui::dialogs::{Overlay, Pending, PickPurpose, Retry, role_pick};
use crate::tui::keys::{Action, Scope};
use crate::tui::screens::{Ctx, Effect, ListView, Look, READ_ONLY};
use crate::tui::widgets::input::TextInput;
use crate::tui::widgets::list::{Column, ListLook, cell, draw_list, fuzzy};

/// Which part of the editor has the keyboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PackageFocus {
    Name,
    Description,
    Roles,
    Members,
}

const ORDER: [PackageFocus; 4] = [
    PackageFocus::Name,
    PackageFocus::Description,
    PackageFocus::Roles,
    PackageFocus::Members,
];

/// A role in the checklist: (id, name).
type Choice = (i64, String);

pub struct PackageEditor {
    pub id: i64,
    /// A package that does not exist yet: saving creates it.
    pub is_new: bool,
    pub version: i64,
    pub original_name: String,
    original_description: String,
    original_roles: BTreeSet<i64>,
    /// (user id, username) of the members as loaded.
    original_members: Vec<Choice>,
    pub name: TextInput,
    pub description: TextInput,
    /// Every role, checked when the package includes it.
    pub roles: ListView<Choice>,
    pub included: BTreeSet<i64>,
    /// The members as edited, by username.
    pub members: ListView<Choice>,
    pub focus: PackageFocus,
}

fn name_key(c: &Choice) -> i64 {
    c.0
}

impl PackageEditor {
    fn build(
        cx: &mut Ctx,
        id: i64,
        version: i64,
        name: &str,
        description: &str,
        roles: BTreeSet<i64>,
        members: Vec<Choice>,
    ) -> PackageEditor {
        let mut role_view = ListView::default();
        role_view.load(
            cx.names.roles.clone(),
            |r| r.1.to_lowercase(),
            name_key,
            cx.matcher,
        );
        let mut member_view = ListView::default();
        member_view.load(
            members.clone(),
            |m| m.1.to_lowercase(),
            name_key,
            cx.matcher,
        );
        PackageEditor {
            id,
            is_new: id == 0,
            version,
            original_name: name.to_string(),
            original_description: description.to_string(),
            original_roles: roles.clone(),
            original_members: members,
            name: TextInput::new(name, validate::MAX_ROLE_NAME),
            description: TextInput::new(description, validate::MAX_DESCRIPTION),
            roles: role_view,
            included: roles,
            members: member_view,
            focus: if id == 0 {
                PackageFocus::Name
            } else {
                PackageFocus::Roles
            },
        }
    }

    /// An editor on a package that does not exist yet.
    pub fn new_package(cx: &mut Ctx) -> PackageEditor {
        PackageEditor::build(cx, 0, 0, "", "", BTreeSet::new(), Vec::new())
    }

    /// An editor on package `id` as stored now.
    pub fn load(cx: &mut Ctx, id: i64) -> Result<PackageEditor, Error> {
        let package = cx.store.package(PackageRef::Id(id))?;
        let members = cx.store.package_members(id)?;
        let roles = package.roles.iter().map(|(id, _)| *id).collect();
        Ok(PackageEditor::build(
            cx,
            id,
            package.version,
            &package.name,
            &package.description,
            roles,
            members,
        ))
    }

    fn member_ids(&self) -> BTreeSet<i64> {
        self.members.rows.iter().map(|(id, _)| *id).collect()
    }

    fn original_member_ids(&self) -> BTreeSet<i64> {
        self.original_members.iter().map(|(id, _)| *id).collect()
    }

    pub fn is_dirty(&self) -> bool {
        self.is_new && !self.name.text().is_empty()
            || self.name.text() != self.original_name
            || self.description.text() != self.original_description
            || self.included != self.original_roles
            || self.member_ids() != self.original_member_ids()
    }

    fn in_text_field(&self) -> bool {
        matches!(self.focus, PackageFocus::Name | PackageFocus::Description)
            || self.focused_list().is_some_and(|l| l.list.editing)
    }

    fn focused_list(&self) -> Option<&ListView<Choice>> {
        match self.focus {
            PackageFocus::Roles => Some(&self.roles),
            PackageFocus::Members => Some(&self.members),
            _ => None,
        }
    }

    fn focused_list_mut(&mut self) -> Option<&mut ListView<Choice>> {
        match self.focus {
            PackageFocus::Roles => Some(&mut self.roles),
            PackageFocus::Members => Some(&mut self.members),
            _ => None,
        }
    }

    /// The key scopes of the editor, innermost first.
    pub fn scopes(&self) -> Vec<Scope> {
        let filtered = self.focused_list().is_some_and(|l| l.list.is_filtered());
        if self.in_text_field() {
            vec![Scope::TextField, Scope::Editor]
        } else if filtered {
            // Esc clears the filter first, as in the tree under a search; then it
            // leaves the editor.
            vec![
                Scope::TreeSearch,
                Scope::Checklist,
                Scope::Editor,
                Scope::Anywhere,
            ]
        } else {
            vec![Scope::Checklist, Scope::Editor, Scope::Anywhere]
        }
    }

    /// Which keys work now: nothing that edits in `--read-only`; Space on the roles,
    /// `a` and `d` on the members; Esc clears a filter first.
    pub fn available(&self, action: Action, read_only: bool) -> bool {
        let filtered = self.focused_list().is_some_and(|l| l.list.is_filtered());
        match action {
            Action::Save => !read_only,
            Action::Toggle => !read_only && self.focus == PackageFocus::Roles,
            Action::New => !read_only && self.focus == PackageFocus::Members,
            Action::Delete => {
                !read_only
                    && self.focus == PackageFocus::Members
                    && self.members.selected().is_some()
            }
            Action::ClearSearch => filtered,
            _ => true,
        }
    }

    /// What a key does in the editor.
    pub fn update(&mut self, action: Action, cx: &mut Ctx) -> Vec<Effect> {
        let read_only = cx.read_only();
        if let Some(list) = self.focused_list_mut()
            && list.list.on_action(action)
        {
            return Vec::new();
        }
        match action {
            Action::NextField | Action::PrevField => {
                let at = ORDER.iter().position(|f| *f == self.focus).unwrap_or(0);
                let step = if action == Action::NextField { 1 } else { 3 };
                self.focus = ORDER[(at + step) % 4];
            }
            Action::Filter => {
                if let Some(list) = self.focused_list_mut() {
                    list.list.editing = true;
                }
            }
            Action::Accept | Action::Cancel if self.focused_list().is_none() => {
                self.focus = PackageFocus::Roles;
            }
            Action::Accept => {
                if let Some(list) = self.focused_list_mut() {
                    list.list.editing = false;
                }
            }
            Action::Cancel | Action::ClearSearch => {
                if let Some(list) = self.focused_list_mut() {
                    list.list.clear_filter(&list.haystacks, cx.matcher);
                }
            }
            Action::Toggle | Action::New | Action::Delete | Action::Save if read_only => {
                return vec![Effect::Refuse(READ_ONLY.into())];
            }
            Action::Toggle if self.focus == PackageFocus::Roles => self.toggle_role(),
            Action::New if self.focus == PackageFocus::Members => return self.pick_member(cx),
            Action::Delete if self.focus == PackageFocus::Members => return self.take_out(cx),
            Action::Save => return self.ask_save(cx),
            Action::Back if self.is_dirty() && !read_only => return vec![ask_discard(self)],
            Action::Back => return vec![Effect::Close],
            _ => {}
        }
        Vec::new()
    }

    /// A key typed into the focused field or filter.
    pub fn on_input(&mut self, key: &KeyEvent, cx: &mut Ctx) {
        if cx.read_only() && self.focused_list().is_none() {
            return;
        }
        match self.focus {
            PackageFocus::Name => {
                self.name.handle(key);
            }
            PackageFocus::Description => {
                self.description.handle(key);
            }
            _ => {
                if let Some(list) = self.focused_list_mut() {
                    list.typed(key, cx.matcher);
                }
            }
        }
    }

    fn toggle_role(&mut self) {
        let Some(&(id, _)) = self.roles.selected() else {
            return;
        };
        if !self.included.remove(&id) {
            self.included.insert(id);
        }
        self.roles.list.move_by(1);
    }

    /// `a`: a picker of the users not in the package yet.
    fn pick_member(&self, cx: &mut Ctx) -> Vec<Effect> {
        let members = self.member_ids();
        let users = match cx.store.user_rows() {
            Ok(rows) => rows,
            Err(e) => return vec![Effect::Error(e)],
        };
        let choices: Vec<Choice> = users
            .into_iter()
            .filter(|u| !members.contains(&u.id))
            .map(|u| (u.id, u.username))
            .collect();
        if choices.is_empty() {
            return vec![Effect::Info("every user is in this package already".into())];
        }
        vec![Effect::Open(role_pick(
            PickPurpose::Member,
            "Add a member".into(),
            choices,
            None,
        ))]
    }

    /// A user picked to join: added to the edited members (saved with Ctrl-S).
    pub fn add_member(&mut self, id: i64, username: String, cx: &mut Ctx) -> Vec<Effect> {
        if self.members.rows.iter().any(|(m, _)| *m == id) {
            return Vec::new();
        }
        let mut rows = self.members.rows.to_vec();
        rows.push((id, username.clone()));
        rows.sort_by(|a, b| a.1.cmp(&b.1));
        self.members
            .load(rows, |m| m.1.to_lowercase(), name_key, cx.matcher);
        self.members.select(id, name_key, cx.matcher);
        vec![Effect::Info(format!(
            "\"{username}\" joins when you save (Ctrl-S)"
        ))]
    }

    /// `d`: the selected member leaves (saved with Ctrl-S).
    fn take_out(&mut self, cx: &Ctx) -> Vec<Effect> {
        let Some(pos) = self.members.list.selected_source() else {
            return Vec::new();
        };
        let mut rows = self.members.rows.to_vec();
        let (_, username) = rows.remove(pos);
        self.members
            .load(rows, |m| m.1.to_lowercase(), name_key, cx.matcher);
        vec![Effect::Info(format!(
            "\"{username}\" leaves when you save (Ctrl-S)"
        ))]
    }

    /// Every change the editor holds, one line each.
    pub fn changes(&self, cx: &mut Ctx) -> Vec<String> {
        let mut lines = Vec::new();
        let name = self.name.text().trim();
        if !self.is_new && name != self.original_name {
            lines.push(format!(
                "Renamed from \"{}\" to \"{name}\"",
                self.original_name
            ));
        }
        if self.description.text().trim() != self.original_description {
            lines.push("Description changed".into());
        }
        let role_names = |ids: Vec<&i64>| -> String {
            ids.iter()
                .map(|id| format!("\"{}\"", cx.names.role(**id)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let added: Vec<&i64> = self.included.difference(&self.original_roles).collect();
        let removed: Vec<&i64> = self.original_roles.difference(&self.included).collect();
        if !added.is_empty() {
            lines.push(format!("Roles included: {}", role_names(added)));
        }
        if !removed.is_empty() {
            lines.push(format!("Roles taken out: {}", role_names(removed)));
        }
        let now = self.member_ids();
        let before = self.original_member_ids();
        let joining: Vec<String> = self
            .members
            .rows
            .iter()
            .filter(|(id, _)| !before.contains(id))
            .map(|(_, n)| n.clone())
            .collect();
        let leaving: Vec<String> = self
            .original_members
            .iter()
            .filter(|(id, _)| !now.contains(id))
            .map(|(_, n)| n.clone())
            .collect();
        if let Some(line) = self.gains(cx) {
            lines.push(line);
        }
        if !joining.is_empty() {
            lines.push(format!(
                "Members joining ({}): {}",
                joining.len(),
                crate::tui::screens::users::name_users(&joining)
            ));
        }
        if !leaving.is_empty() {
            lines.push(format!(
                "Members leaving ({}): {}",
                leaving.len(),
                crate::tui::screens::users::name_users(&leaving)
            ));
        }
        lines
    }

    /// What the package's roles give after the save that they did not before, as a
    /// sentence for the confirm (None when they give nothing new).
    fn gains(&self, cx: &Ctx) -> Option<String> {
        let catalog = cx.store.catalog();
        let union = |ids: &BTreeSet<i64>| -> Option<(crate::domain::catalog::Grants, bool)> {
            let mut all = crate::domain::catalog::Grants::none(catalog);
            let mut builtin = false;
            for id in ids {
                let role = cx.store.role_by_id(*id).ok()?;
                builtin |= role.builtin;
                for o in role.grants.ordinals() {
                    all.set(o, true);
                }
            }
            Some((all, builtin))
        };
        let (before, _) = union(&self.original_roles)?;
        let (after, builtin) = union(&self.included)?;
        let gained = after.diff(&before).0.len();
        if gained == 0 {
            return None;
        }
        let members = self.members.rows.len();
        let what = if builtin {
            "every permission, also ones added to the catalog later".to_string()
        } else {
            format!(
                "{gained} permission{} more",
                if gained == 1 { "" } else { "s" }
            )
        };
        Some(format!(
            "Its {members} member{} get {what} through it.",
            if members == 1 { "" } else { "s" }
        ))
    }

    /// Ctrl-S: the name and description checked first (a refusal opens nothing),
    /// then every change shown, to confirm.
    fn ask_save(&self, cx: &mut Ctx) -> Vec<Effect> {
        let except = (!self.is_new).then_some(self.id);
        let problem = cx
            .names
            .package_name_problem(self.name.text(), except)
            .or_else(|| {
                validate::description(self.description.text())
                    .err()
                    .map(|e| e.to_string())
            });
        if let Some(problem) = problem {
            return vec![Effect::Refuse(format!("not saved: {problem}"))];
        }
        let lines = self.changes(cx);
        if !self.is_new && lines.is_empty() {
            return vec![Effect::Info(
                "nothing to save: the package is as it was loaded".into(),
            )];
        }
        let title = if self.is_new {
            format!("Create package \"{}\"?", self.name.text().trim())
        } else {
            format!("Save package \"{}\"?", self.original_name)
        };
        vec![Effect::confirm(title, lines, Pending::SavePackage)]
    }

    /// Writes the package if it is still at `expected_version` (or creates it).
    pub fn save(&mut self, expected_version: i64, cx: &mut Ctx) -> Vec<Effect> {
        if cx.read_only() {
            return vec![Effect::Refuse(READ_ONLY.into())];
        }
        let name = self.name.text().trim().to_string();
        let description = self.description.text().trim().to_string();
        let result = if self.is_new {
            cx.store.create_package_with(
                &name,
                &description,
                self.included.clone(),
                self.member_ids(),
            )
        } else {
            let update = PackageUpdate {
                name: Some(name),
                description: Some(description),
                roles: Some(self.included.clone()),
                members: Some(self.member_ids()),
            };
            cx.store
                .edit_package(PackageRef::Id(self.id), Some(expected_version), |_| {
                    Ok(update)
                })
        };
        let verb = if self.is_new { "created" } else { "saved" };
        match result {
            Ok(package) => vec![
                Effect::Info(format!(
                    "{verb} package \"{}\": {} role{}, {} member{}",
                    package.name,
                    package.roles.len(),
                    if package.roles.len() == 1 { "" } else { "s" },
                    package.members.len(),
                    if package.members.len() == 1 { "" } else { "s" },
                )),
                Effect::Close,
                Effect::Reload,
                Effect::Select(Tab::Packages, package.id),
            ],
            Err(Error::Conflict(conflict)) => vec![Effect::Open(Overlay::Conflict {
                conflict,
                retry: Retry::Package,
            })],
            Err(e) => vec![Effect::Error(e)],
        }
    }

    /// "Reload theirs" after a conflict: the package as stored now, edits dropped.
    pub fn reload(&mut self, cx: &mut Ctx) -> Vec<Effect> {
        match PackageEditor::load(cx, self.id) {
            Ok(mut fresh) => {
                fresh.focus = self.focus;
                *self = fresh;
                vec![
                    Effect::Info(format!(
                        "reloaded \"{}\" as saved; your changes were dropped",
                        self.original_name
                    )),
                    Effect::Reload,
                ]
            }
            Err(e) => vec![Effect::Error(e), Effect::Close],
        }
    }

    pub fn draw(&self, look: &Look, frame: &mut Frame, area: Rect) {
        let t = look.theme;
        let [fields, lists] =
            Layout::vertical([Constraint::Length(4), Constraint::Min(3)]).areas(area);
        let title = match (self.is_new, self.is_dirty()) {
            (true, true) => " New package · unsaved ".to_string(),
            (true, false) => " New package ".to_string(),
            (false, true) => format!(" Package {} · unsaved ", display_safe(&self.original_name)),
            (false, false) => format!(" Package {} ", display_safe(&self.original_name)),
        };
        let block = Block::default()
            .borders(Borders::ALL)
            .border_style(t.border)
            .title(Span::styled(title, t.title));
        let inner = block.inner(fields);
        frame.render_widget(block, fields);
        let field = |label: &str, input: &TextInput, focus: PackageFocus| {
            let focused = self.focus == focus;
            let mut spans = vec![Span::styled(
                format!("{label:<12} "),
                if focused { t.key } else { t.header },
            )];
            spans.extend(input.line(focused, t.normal, t.cursor).spans);
            Line::from(spans)
        };
        frame.render_widget(
            Paragraph::new(vec![
                field("Name", &self.name, PackageFocus::Name),
                field("Description", &self.description, PackageFocus::Description),
            ]),
            inner,
        );
        self.draw_lists(look, frame, lists);
    }

    /// The roles checklist and the members, side by side.
    fn draw_lists(&self, look: &Look, frame: &mut Frame, lists: Rect) {
        let [roles_area, members_area] =
            Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
                .areas(lists);
        let roles_title = format!(
            "{}Roles · {} included",
            if self.focus == PackageFocus::Roles {
                "▶ "
            } else {
                ""
            },
            self.included.len()
        );
        let columns = [
            Column {
                title: "",
                width: 3,
                min: 3,
            },
            Column {
                title: "ROLE",
                width: 0,
                min: 0,
            },
        ];
        let no_tags = |_: usize| false;
        draw_list(
            look,
            frame,
            roles_area,
            &self.roles,
            ListLook {
                title: &roles_title,
                columns: &columns,
                loading: None,
                empty: "no roles yet: n on the Roles tab makes one",
                tagged: &no_tags,
            },
            |(id, name)| {
                let mark = if self.included.contains(id) {
                    "[x]"
                } else {
                    "[ ]"
                };
                vec![cell(mark), fuzzy(name.clone())]
            },
        );
        let members_title = format!(
            "{}Members · {}",
            if self.focus == PackageFocus::Members {
                "▶ "
            } else {
                ""
            },
            self.members.rows.len()
        );
        let member_columns = [Column {
            title: "USERNAME",
            width: 0,
            min: 0,
        }];
        draw_list(
            look,
            frame,
            members_area,
            &self.members,
            ListLook {
                title: &members_title,
                columns: &member_columns,
                loading: None,
                empty: "no members: Tab here, then a adds one",
                tagged: &no_tags,
            },
            |(_, name)| vec![fuzzy(name.clone())],
        );
    }
}

/// "Discard unsaved changes?" for the package editor.
fn ask_discard(editor: &PackageEditor) -> Effect {
    let what = if editor.is_new {
        "the new package".to_string()
    } else {
        format!("\"{}\"", editor.original_name)
    };
    Effect::confirm(
        "Discard unsaved changes?".into(),
        vec![format!(
            "Your changes to {what} have not been saved. Discard them?"
        )],
        Pending::Discard,
    )
}
