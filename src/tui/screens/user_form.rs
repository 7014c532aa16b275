//! The user form's model: one text field per profile field, the role and the active
//! flag, inline validation naming each field, time-zone completion from the IANA
//! list, and the user's effective permissions for the role chosen. Pure state: the
//! app saves it through the store, which applies the same rules as the CLI.

use crate::domain::access;
use crate::domain::catalog::{Catalog, Grants};
use crate::domain::user::{Profile, User};
use crate::domain::validate;
use crate::error::Error;
use crate::store::{NewUser, RoleRef, UserChange};
use crate::text::display_safe;
use crate::tui::app::{App, Status};
use crate::tui::dialogs::{Overlay, PickPurpose, Retry};
use crate::tui::keys::Action;
use crate::tui::widgets::input::TextInput;
use crate::tui::widgets::list::FilteredList;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

/// The fields in the order Tab visits them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Username,
    Email,
    FirstName,
    LastName,
    Position,
    Signature,
    Timezone,
    Language,
    Role,
    Active,
    Permissions,
}

impl Field {
    pub const ALL: [Field; 11] = [
        Field::Username,
        Field::Email,
        Field::FirstName,
        Field::LastName,
        Field::Position,
        Field::Signature,
        Field::Timezone,
        Field::Language,
        Field::Role,
        Field::Active,
        Field::Permissions,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Field::Username => "Username",
            Field::Email => "Email",
            Field::FirstName => "First name",
            Field::LastName => "Last name",
            Field::Position => "Position",
            Field::Signature => "Signature",
            Field::Timezone => "Time zone",
            Field::Language => "Language",
            Field::Role => "Role",
            Field::Active => "Active",
            Field::Permissions => "Permissions",
        }
    }

    /// The name errors use for this field (the same as the CLI's).
    fn error_name(self) -> &'static str {
        match self {
            Field::Username => "username",
            Field::Email => "email",
            Field::FirstName => "first_name",
            Field::LastName => "last_name",
            Field::Position => "position",
            Field::Signature => "signature",
            Field::Timezone => "timezone",
            Field::Language => "language",
            Field::Role => "role",
            Field::Active => "active",
            Field::Permissions => "permissions",
        }
    }

    /// True for fields typed into.
    pub fn is_text(self) -> bool {
        !matches!(self, Field::Role | Field::Active | Field::Permissions)
    }
}

/// A new user, or an existing one at the version the form was loaded from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    New,
    Edit {
        /// The user's id: their packages count in the effective-permissions pane.
        id: i64,
        username: String,
        version: i64,
        owner: bool,
    },
}

pub struct UserForm {
    pub mode: Mode,
    /// Text of the eight text fields, in `Field::ALL` order.
    inputs: Vec<TextInput>,
    pub role_id: i64,
    pub role: String,
    pub active: bool,
    pub focus: Field,
    /// True while the focused text field is typed into. Esc leaves the field for the
    /// field list (`false`), where Up/Down move, Enter types again and a second Esc
    /// leaves the form, as in the role editor.
    pub typing: bool,
    /// The grants of the chosen role: what the user will be able to do.
    pub grants: Grants,
    /// Rows of the permissions pane: catalog nodes in order.
    pub permissions: FilteredList,
    original: (Vec<String>, i64, bool),
}

fn max_len(field: Field) -> usize {
    match field {
        Field::Username => validate::MAX_USERNAME,
        Field::Email => validate::MAX_EMAIL,
        Field::Signature => validate::MAX_SIGNATURE,
        Field::Timezone | Field::Language => 64,
        _ => validate::MAX_NAME,
    }
}

impl UserForm {
    /// The key scopes of the form, innermost first: a text field being typed into
    /// has only its own keys and the form's; the field list adds `?` and `1`-`3`.
    pub fn scopes(&self) -> Vec<crate::tui::keys::Scope> {
        use crate::tui::keys::Scope;
        if self.in_text_field() {
            vec![Scope::TextField, Scope::Editor]
        } else {
            vec![Scope::Form, Scope::Editor, Scope::Anywhere]
        }
    }

    /// True while a text field has the keyboard.
    pub fn in_text_field(&self) -> bool {
        self.typing && self.is_editable(self.focus)
    }

    /// Which keys work now: nothing that edits in `--read-only`; Enter on the role
    /// and active fields, or on a text field left with Esc; Space only on the first two.
    pub fn available(&self, action: Action, read_only: bool) -> bool {
        match action {
            Action::Save => !read_only,
            Action::Open => {
                !read_only
                    && (matches!(self.focus, Field::Role | Field::Active)
                        || self.is_editable(self.focus))
            }
            Action::Toggle => !read_only && matches!(self.focus, Field::Role | Field::Active),
            Action::ClearSearch => false,
            _ => true,
        }
    }

    /// A blank form for a new user on `role` (the default role).
    pub fn new_user(catalog: &Catalog, role: (i64, String, Grants)) -> UserForm {
        let defaults = Profile::default();
        let values = [
            "",
            "",
            "",
            "",
            "",
            "",
            &defaults.timezone,
            &defaults.language,
        ];
        UserForm::build(catalog, Mode::New, &values, role, true)
    }

    /// A form holding `user` as stored, whose role holds `grants`.
    pub fn edit(catalog: &Catalog, user: &User, grants: Grants) -> UserForm {
        let values = [
            user.username.as_str(),
            &user.email,
            &user.first_name,
            &user.last_name,
            &user.position,
            &user.signature,
            &user.timezone,
            &user.language,
        ];
        let mode = Mode::Edit {
            id: user.id,
            username: user.username.clone(),
            version: user.version,
            owner: user.owner,
        };
        let mut form = UserForm::build(
            catalog,
            mode,
            &values,
            (user.role_id, user.role.clone(), grants),
            user.active,
        );
        form.focus = Field::Email;
        form
    }

    fn build(
        catalog: &Catalog,
        mode: Mode,
        values: &[&str; 8],
        role: (i64, String, Grants),
        active: bool,
    ) -> UserForm {
        let inputs: Vec<TextInput> = Field::ALL[..8]
            .iter()
            .zip(values)
            .map(|(f, v)| TextInput::new(v, max_len(*f)))
            .collect();
        let original = (
            values.iter().map(|v| v.to_string()).collect(),
            role.0,
            active,
        );
        UserForm {
            mode,
            inputs,
            role_id: role.0,
            role: role.1,
            active,
            focus: Field::Username,
            typing: true,
            grants: role.2,
            permissions: FilteredList::new(catalog.nodes().len()),
            original,
        }
    }

    fn index(field: Field) -> usize {
        Field::ALL.iter().position(|f| *f == field).unwrap_or(0)
    }

    pub fn input(&self, field: Field) -> Option<&TextInput> {
        self.inputs.get(UserForm::index(field))
    }

    /// The focused text field, when the focus is on one that may be typed into.
    pub fn focused_input(&mut self) -> Option<&mut TextInput> {
        if !self.in_text_field() {
            return None;
        }
        let i = UserForm::index(self.focus);
        self.inputs.get_mut(i)
    }

    /// The username of an existing user is fixed; everything else may change.
    pub fn is_editable(&self, field: Field) -> bool {
        field.is_text() && !(field == Field::Username && matches!(self.mode, Mode::Edit { .. }))
    }

    pub fn text(&self, field: Field) -> &str {
        self.input(field).map_or("", TextInput::text)
    }

    /// Moves the focus to the next (`step` 1) or previous (`step` -1) field,
    /// skipping a username that cannot change.
    pub fn move_focus(&mut self, step: isize) {
        let n = Field::ALL.len() as isize;
        let mut i = UserForm::index(self.focus) as isize;
        loop {
            i = (i + step).rem_euclid(n);
            let f = Field::ALL[i as usize];
            if f != Field::Username || self.is_editable(f) {
                self.focus = f;
                return;
            }
        }
    }

    pub fn is_dirty(&self) -> bool {
        let values: Vec<String> = self.inputs.iter().map(|i| i.text().to_string()).collect();
        (values, self.role_id, self.active) != self.original
    }

    /// The problem with one field as it stands, in the words the CLI would use.
    pub fn problem(&self, field: Field) -> Option<String> {
        let v = self.text(field);
        let result = match field {
            Field::Username if self.is_editable(field) => validate::username(v).map(drop),
            Field::Email => validate::email(v).map(drop),
            Field::FirstName | Field::LastName | Field::Position => {
                validate::single_line(field.error_name(), v, validate::MAX_NAME).map(drop)
            }
            Field::Signature => validate::signature(v).map(drop),
            Field::Timezone => validate::timezone(v).map(drop),
            Field::Language => validate::language(v).map(drop),
            _ => Ok(()),
        };
        result.err().map(|e| e.to_string())
    }

    /// Every problem, in field order.
    pub fn problems(&self) -> Vec<(Field, String)> {
        Field::ALL
            .iter()
            .filter_map(|f| self.problem(*f).map(|p| (*f, p)))
            .collect()
    }

    /// Time zones that complete what is typed: names starting with it first, then
    /// names containing it, ignoring case.
    pub fn timezone_suggestions(&self, names: &[String], limit: usize) -> Vec<String> {
        let typed = self.text(Field::Timezone).trim().to_lowercase();
        if typed.is_empty() || names.iter().any(|n| n.to_lowercase() == typed) {
            return Vec::new();
        }
        let starts = names
            .iter()
            .filter(|n| n.to_lowercase().starts_with(&typed));
        let contains = names
            .iter()
            .filter(|n| !n.to_lowercase().starts_with(&typed) && n.to_lowercase().contains(&typed));
        starts.chain(contains).take(limit).cloned().collect()
    }

    /// Replaces the time zone with the first suggestion; true when it did.
    pub fn complete_timezone(&mut self, names: &[String]) -> bool {
        match self.timezone_suggestions(names, 1).into_iter().next() {
            Some(name) => {
                self.inputs[UserForm::index(Field::Timezone)].set_text(&name);
                true
            }
            None => false,
        }
    }

    /// The user as the form stands, for explaining access with the chosen role.
    pub fn as_user(&self) -> User {
        let username = match &self.mode {
            Mode::Edit { username, .. } => username.clone(),
            Mode::New if self.text(Field::Username).is_empty() => "(new user)".into(),
            Mode::New => self.text(Field::Username).to_string(),
        };
        let p = self.profile();
        User {
            id: match self.mode {
                Mode::Edit { id, .. } => id,
                Mode::New => 0,
            },
            username,
            email: p.email,
            first_name: p.first_name,
            last_name: p.last_name,
            position: p.position,
            signature: p.signature,
            timezone: p.timezone,
            language: p.language,
            role: self.role.clone(),
            role_id: self.role_id,
            active: self.active,
            owner: matches!(self.mode, Mode::Edit { owner: true, .. }),
            has_password: false,
            created_at: String::new(),
            updated_at: String::new(),
            version: 0,
            created_seq: 0,
            updated_by: String::new(),
        }
    }

    fn profile(&self) -> Profile {
        Profile {
            email: self.text(Field::Email).to_string(),
            first_name: self.text(Field::FirstName).to_string(),
            last_name: self.text(Field::LastName).to_string(),
            position: self.text(Field::Position).to_string(),
            signature: self.text(Field::Signature).to_string(),
            timezone: self.text(Field::Timezone).to_string(),
            language: self.text(Field::Language).to_string(),
        }
    }

    /// The user to add (new form).
    pub fn new_user_request(&self) -> NewUser {
        NewUser {
            username: self.text(Field::Username).to_string(),
            profile: self.profile(),
            role: Some(RoleRef::Id(self.role_id)),
            password: None,
        }
    }

    /// The change to apply (edit form): every field, so the store sees the form.
    pub fn change_request(&self) -> UserChange {
        let p = self.profile();
        UserChange {
            email: Some(p.email),
            first_name: Some(p.first_name),
            last_name: Some(p.last_name),
            position: Some(p.position),
            signature: Some(p.signature),
            timezone: Some(p.timezone),
            language: Some(p.language),
            role: Some(RoleRef::Id(self.role_id)),
            active: Some(self.active),
        }
    }
}

pub fn draw(app: &App, form: &UserForm, frame: &mut Frame, area: Rect) {
    let wide = area.width >= 100;
    let [left, right] = if wide {
        Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(area)
    } else {
        Layout::vertical([Constraint::Length(15.min(area.height)), Constraint::Min(0)]).areas(area)
    };
    fields(app, form, frame, left);
    permissions(app, form, frame, right);
}

fn fields(app: &App, form: &UserForm, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let title = match &form.mode {
        Mode::New => " New user ".to_string(),
        Mode::Edit {
            username, owner, ..
        } => {
            format!(
                " User {}{} ",
                display_safe(username),
                if *owner { " · owner" } else { "" }
            )
        }
    };
    let dirty = if form.is_dirty() { " · unsaved " } else { "" };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(t.border)
        .title(Span::styled(format!("{title}{dirty}"), t.title));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let mut lines = Vec::new();
    for field in Field::ALL {
        if field == Field::Permissions {
            continue;
        }
        let focused = form.focus == field;
        let label_style = if focused { t.key } else { t.header };
        let mut spans = vec![Span::styled(format!("{:<13} ", field.label()), label_style)];
        match field {
            Field::Role => {
                let text = format!("{}  (Enter to choose)", display_safe(&form.role));
                spans.push(Span::styled(
                    text,
                    if focused { t.selected } else { t.normal },
                ));
            }
            Field::Active => {
                let text = if form.active {
                    "[x] active"
                } else {
                    "[ ] disabled"
                };
                spans.push(Span::styled(
                    text,
                    if focused { t.selected } else { t.normal },
                ));
            }
            _ => {
                let input = form.input(field).expect("a text field");
                if form.is_editable(field) {
                    let typing = focused && form.typing;
                    let style = if focused && !typing {
                        t.selected
                    } else {
                        t.normal
                    };
                    spans.extend(input.line(typing, style, t.cursor).spans);
                } else {
                    spans.push(Span::styled(display_safe(input.text()).into_owned(), t.dim));
                }
            }
        }
        lines.push(Line::from(spans));
        if let Some(problem) = form
            .problem(field)
            .filter(|_| !form.text(field).is_empty() || focused)
        {
            lines.push(Line::from(Span::styled(
                format!("{:14}{}", "", display_safe(&problem)),
                t.error,
            )));
        }
        if field == Field::Timezone && focused {
            let names = form.timezone_suggestions(&app.tz_names, 4);
            if !names.is_empty() {
                lines.push(Line::from(Span::styled(
                    format!("{:14}Enter takes {}", "", names.join(", ")),
                    t.dim,
                )));
            }
        }
        if field == Field::Signature && focused {
            lines.push(Line::from(Span::styled(
                format!("{:14}Alt-Enter starts a new line", ""),
                t.dim,
            )));
        }
    }
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
}

fn permissions(app: &App, form: &UserForm, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let catalog = app.store.catalog();
    let focused = form.focus == Field::Permissions;
    let user = form.as_user();
    // Every role the user would hold (the form's role and their packages), as
    // `check` counts them.
    let effective = app
        .store
        .effective_grants(&user)
        .unwrap_or_else(|_| access::effective(catalog, &user, &form.grants));
    let title = format!(
        " Effective permissions · {} of {}{} ",
        effective.count(),
        catalog.leaf_count(),
        if focused {
            ""
        } else {
            " · Tab here to explore"
        }
    );
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(if focused { t.title } else { t.border })
        .title(Span::styled(title, t.title));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height < 2 {
        return;
    }
    // The reasons for the selected permission, from the same function `check
    // --explain` uses, every one of them.
    let explanation: Vec<Line> = match form.permissions.selected_source() {
        None => Vec::new(),
        Some(idx) => match app.store.explain(&user, &catalog.node(idx).key) {
            Ok(d) => {
                let style = if d.allowed { t.ok } else { t.partial };
                let verdict = if d.allowed { "allowed" } else { "denied" };
                std::iter::once(Line::from(Span::styled(verdict, style)))
                    .chain(d.reasons.iter().map(|r| {
                        let r = crate::tui::console_words(r);
                        Line::from(Span::styled(format!("· {}", display_safe(&r)), style))
                    }))
                    .collect()
            }
            Err(e) => vec![Line::from(Span::styled(
                display_safe(&e.to_string()).into_owned(),
                t.partial,
            ))],
        },
    };
    let wrapped: usize = explanation
        .iter()
        .map(|l| l.width().max(1).div_ceil(inner.width.max(1) as usize))
        .sum();
    let explain_height = (wrapped as u16).min(inner.height / 2);
    let [list_area, explain_area] =
        Layout::vertical([Constraint::Min(1), Constraint::Length(explain_height)]).areas(inner);
    let (offset, window) = form.permissions.window(list_area.height as usize);
    let selected = form.permissions.selected_position();
    let lines: Vec<Line> = window
        .iter()
        .enumerate()
        .map(|(i, &idx)| {
            let node = catalog.node(idx);
            let mut text = format!(
                "{}{} {}",
                "  ".repeat(node.depth),
                effective.state(node).mark(),
                display_safe(&node.label)
            );
            if !node.is_leaf() {
                text.push_str(&format!(
                    " {}/{}",
                    effective.count_in(node.leaves.clone()),
                    node.leaves.len()
                ));
            }
            let line = Line::from(text);
            if focused && offset + i == selected {
                line.style(t.selected)
            } else {
                line
            }
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), list_area);

    frame.render_widget(
        Paragraph::new(explanation).wrap(Wrap { trim: true }),
        explain_area,
    );
}

impl App {
    fn ensure_tz_names(&mut self) {
        if self.tz_names.is_empty() {
            self.tz_names = crate::domain::validate::timezone_names();
        }
    }

    pub(crate) fn new_user_form(&mut self) {
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

    pub(crate) fn edit_user_form(&mut self) {
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

    pub(crate) fn reload_form(&mut self) {
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

    pub(crate) fn on_form_action(&mut self, action: Action) {
        let Some(form) = self.form.as_mut() else {
            return;
        };
        match action {
            Action::NextField | Action::PrevField => {
                form.move_focus(if action == Action::NextField { 1 } else { -1 });
                form.typing = true;
            }
            // Esc in a text field leaves it for the field list; Esc there leaves the form.
            Action::Cancel => form.typing = false,
            Action::Accept => {
                if form.focus == Field::Timezone && form.problem(Field::Timezone).is_some() {
                    form.complete_timezone(&self.tz_names);
                }
                form.move_focus(1);
            }
            _ if form.focus == Field::Permissions && form.permissions.on_action(action) => {}
            Action::Up | Action::Down => {
                form.move_focus(if action == Action::Up { -1 } else { 1 });
                form.typing = false;
            }
            Action::Open if form.is_editable(form.focus) => {
                if self.store.is_read_only() {
                    return self.refuse_read_only();
                }
                form.typing = true;
            }
            Action::Open | Action::Toggle if form.focus == Field::Role => {
                if self.store.is_read_only() {
                    return self.refuse_read_only();
                }
                let current = form.role_id;
                let choices = self.role_choices(None);
                self.open(crate::tui::dialogs::role_pick(
                    PickPurpose::FormRole,
                    "Role".into(),
                    choices,
                    Some(current),
                ));
            }
            Action::Open | Action::Toggle if form.focus == Field::Active => {
                if self.store.is_read_only() {
                    return self.refuse_read_only();
                }
                form.active = !form.active;
            }
            Action::Save => self.save_form(None),
            Action::Back => {
                if form.is_dirty() && !self.store.is_read_only() {
                    self.ask_discard();
                } else {
                    self.form = None;
                }
            }
            _ => {}
        }
    }

    /// Saves the form: every field is checked first (nothing is written while any is
    /// wrong), then one store call applies the same rules as the CLI.
    pub(crate) fn save_form(&mut self, overwrite_version: Option<i64>) {
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
                form.typing = true;
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
                self.open(Overlay::Conflict {
                    conflict,
                    retry: Retry::User,
                });
            }
            Err(e) => self.error(&e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> UserForm {
        let c = Catalog::builtin();
        let g = Grants::none(&c);
        UserForm::new_user(&c, (5, "Read Only".into(), g))
    }

    #[test]
    fn problems_name_their_fields() {
        let mut f = form();
        f.inputs[UserForm::index(Field::Email)].set_text("nope");
        f.inputs[UserForm::index(Field::Timezone)].set_text("Mars/Base");
        let problems = f.problems();
        let fields: Vec<Field> = problems.iter().map(|(f, _)| *f).collect();
        assert_eq!(fields, [Field::Username, Field::Email, Field::Timezone]);
        assert!(problems[1].1.starts_with("email:"));
    }

    #[test]
    fn time_zones_complete_from_the_iana_list() {
        let names = validate::timezone_names();
        let mut f = form();
        f.inputs[UserForm::index(Field::Timezone)].set_text("europe/ro");
        assert_eq!(f.timezone_suggestions(&names, 3), ["Europe/Rome"]);
        assert!(f.complete_timezone(&names));
        assert_eq!(f.text(Field::Timezone), "Europe/Rome");
        assert!(
            f.timezone_suggestions(&names, 3).is_empty(),
            "a full name needs no suggestion"
        );
    }

    #[test]
    fn focus_skips_a_fixed_username_and_wraps() {
        let c = Catalog::builtin();
        let mut f = form();
        f.move_focus(-1);
        assert_eq!(f.focus, Field::Permissions);
        f.mode = Mode::Edit {
            id: 1,
            username: "x".into(),
            version: 1,
            owner: false,
        };
        f.move_focus(1);
        assert_eq!(f.focus, Field::Email, "username is skipped when editing");
        let _ = c;
    }

    #[test]
    fn dirty_tracks_every_kind_of_field() {
        let mut f = form();
        assert!(!f.is_dirty());
        f.active = false;
        assert!(f.is_dirty());
        f.active = true;
        f.focus = Field::Position;
        f.focused_input().unwrap().set_text("Intern");
        assert!(f.is_dirty());
    }
}
