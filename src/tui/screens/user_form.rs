//! The user form: one text field per profile field, the role, the packages and the
//! active flag, inline validation naming each field, time-zone completion from the
//! IANA list, and the user's effective permissions as the form stands, each with
//! where it comes from (the direct role or a package's role). It saves through the
//! store, which applies the same rules as the CLI, in one transaction.

use std::collections::BTreeSet;

use crate::domain::access::{self, Decision, Source};
use crate::domain::catalog::Grants;
use crate::domain::user::{Profile, User};
use crate::domain::validate;
use crate::error::Error;
use crate::store::{NewUser, RoleRef, Store, UserChange, UserRef};
use crate::text::display_safe;
use crate::tui::app::Tab;
use crate::tui::dialogs::{Overlay, Pending, PickPurpose, Retry, role_pick};
use crate::tui::keys::Action;
use crate::tui::screens::{Ctx, Effect, Look, READ_ONLY};
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
    Packages,
    Active,
    Permissions,
}

impl Field {
    pub const ALL: [Field; 12] = [
        Field::Username,
        Field::Email,
        Field::FirstName,
        Field::LastName,
        Field::Position,
        Field::Signature,
        Field::Timezone,
        Field::Language,
        Field::Role,
        Field::Packages,
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
            Field::Packages => "Packages",
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
            Field::Packages => "packages",
            Field::Active => "active",
            Field::Permissions => "permissions",
        }
    }

    /// True for fields typed into.
    pub fn is_text(self) -> bool {
        !matches!(
            self,
            Field::Role | Field::Packages | Field::Active | Field::Permissions
        )
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
    /// The grants of the chosen role.
    pub grants: Grants,
    /// The packages the user is in as the form stands: (id, name), by name.
    pub packages: Vec<(i64, String)>,
    /// Every role the user holds as the form stands, and how; read again when the
    /// role or the packages change, not at every frame.
    pub sources: Vec<Source>,
    /// What the user may do as the form stands (nothing while disabled).
    pub effective: Grants,
    /// Rows of the permissions pane: catalog nodes in order.
    pub permissions: FilteredList,
    /// The selected permission's decision and reasons, as `check --explain` gives
    /// them: (catalog node, decision or what went wrong).
    pub explained: Option<(usize, Result<Decision, String>)>,
    /// IANA time-zone names, for completion.
    pub tz_names: Vec<String>,
    original: (Vec<String>, i64, bool, Vec<i64>),
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
                    && (matches!(self.focus, Field::Role | Field::Packages | Field::Active)
                        || self.is_editable(self.focus))
            }
            Action::Toggle => {
                !read_only && matches!(self.focus, Field::Role | Field::Packages | Field::Active)
            }
            Action::ClearSearch => false,
            _ => true,
        }
    }

    /// A blank form for a new user on `role` (the default role).
    pub fn new_user(store: &Store, role: (i64, String, Grants)) -> UserForm {
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
        UserForm::build(store, Mode::New, &values, role, true, Vec::new())
    }

    /// A form holding user `username` as stored.
    pub fn load(store: &Store, username: &str) -> Result<UserForm, Error> {
        let user = store.user(username)?;
        let grants = match user.role_id {
            0 => Grants::none(store.catalog()),
            id => store.role_by_id(id)?.grants,
        };
        let names = store.packages_of(user.id)?;
        let all = store.packages()?;
        let packages = names
            .iter()
            .filter_map(|n| all.iter().find(|p| &p.name == n))
            .map(|p| (p.id, p.name.clone()))
            .collect();
        Ok(UserForm::edit(store, &user, grants, packages))
    }

    /// A form holding `user` as stored, whose role holds `grants`, in `packages`.
    pub fn edit(
        store: &Store,
        user: &User,
        grants: Grants,
        packages: Vec<(i64, String)>,
    ) -> UserForm {
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
            store,
            mode,
            &values,
            (user.role_id, user.role.clone(), grants),
            user.active,
            packages,
        );
        form.focus = Field::Email;
        form
    }

    fn build(
        store: &Store,
        mode: Mode,
        values: &[&str; 8],
        role: (i64, String, Grants),
        active: bool,
        packages: Vec<(i64, String)>,
    ) -> UserForm {
        let catalog = store.catalog();
        let inputs: Vec<TextInput> = Field::ALL[..8]
            .iter()
            .zip(values)
            .map(|(f, v)| TextInput::new(v, max_len(*f)))
            .collect();
        let original = (
            values.iter().map(|v| v.to_string()).collect(),
            role.0,
            active,
            packages.iter().map(|(id, _)| *id).collect(),
        );
        let mut form = UserForm {
            mode,
            inputs,
            role_id: role.0,
            role: role.1,
            active,
            focus: Field::Username,
            typing: true,
            grants: role.2,
            packages,
            sources: Vec::new(),
            effective: Grants::none(catalog),
            permissions: FilteredList::new(catalog.nodes().len()),
            explained: None,
            tz_names: crate::domain::validate::timezone_names(),
            original,
        };
        form.refresh_access(store);
        form
    }

    /// Reads the roles the form holds again (its role or packages changed, or the
    /// catalog did), and what they grant.
    pub fn refresh_access(&mut self, store: &Store) {
        let direct = (self.role_id != 0).then_some((self.role_id, self.role.as_str()));
        let ids: Vec<i64> = self.packages.iter().map(|(id, _)| *id).collect();
        self.sources = store.sources_with(direct, &ids).unwrap_or_else(|_| {
            vec![Source {
                via: access::Via {
                    role: self.role.clone(),
                    package: None,
                },
                grants: self.grants.clone(),
            }]
        });
        self.effective = if self.active {
            access::union(store.catalog(), &self.sources)
        } else {
            Grants::none(store.catalog())
        };
        self.explained = None;
        self.explain(store);
    }

    /// Explains the selected permission when the selection moved.
    fn explain(&mut self, store: &Store) {
        let Some(idx) = self.permissions.selected_source() else {
            return;
        };
        if self.explained.as_ref().is_some_and(|(at, _)| *at == idx) {
            return;
        }
        let key = &store.catalog().node(idx).key;
        let decision = store
            .explain_with(&self.as_user(), &self.sources, key)
            .map_err(|e| e.to_string());
        self.explained = Some((idx, decision));
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
        let packages: Vec<i64> = self.packages.iter().map(|(id, _)| *id).collect();
        (values, self.role_id, self.active, packages) != self.original
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
            role: Some(self.role_ref()),
            password: None,
            packages: self.package_ids(),
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
            role: Some(self.role_ref()),
            active: Some(self.active),
            packages: Some(self.package_ids()),
        }
    }

    /// The role as the store takes it: id 0 is no direct role.
    fn role_ref(&self) -> RoleRef {
        match self.role_id {
            0 => RoleRef::None,
            id => RoleRef::Id(id),
        }
    }

    fn package_ids(&self) -> BTreeSet<i64> {
        self.packages.iter().map(|(id, _)| *id).collect()
    }
}

pub fn draw(look: &Look, form: &UserForm, frame: &mut Frame, area: Rect) {
    let wide = area.width >= 100;
    let [left, right] = if wide {
        Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(area)
    } else {
        Layout::vertical([Constraint::Length(15.min(area.height)), Constraint::Min(0)]).areas(area)
    };
    fields(look, form, frame, left);
    permissions(look, form, frame, right);
}

fn fields(look: &Look, form: &UserForm, frame: &mut Frame, area: Rect) {
    let t = look.theme;
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
        spans.extend(value_spans(look, form, field));
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
            let names = form.timezone_suggestions(&form.tz_names, 4);
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

/// A field's value as the form shows it: a text field with its cursor while typed
/// into, the role and packages with how to choose, the active flag as a box.
fn value_spans(look: &Look, form: &UserForm, field: Field) -> Vec<Span<'static>> {
    let t = look.theme;
    let focused = form.focus == field;
    let mut out = Vec::new();
    match field {
        Field::Role | Field::Packages => {
            let value = match field {
                Field::Role if form.role_id == 0 => "(no direct role)".to_string(),
                Field::Role => display_safe(&form.role).into_owned(),
                _ if form.packages.is_empty() => "(none)".to_string(),
                _ => form
                    .packages
                    .iter()
                    .map(|(_, n)| display_safe(n).into_owned())
                    .collect::<Vec<_>>()
                    .join(", "),
            };
            let text = format!("{value}  (Enter to choose)");
            out.push(Span::styled(
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
            out.push(Span::styled(
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
                out.extend(input.line(typing, style, t.cursor).spans);
            } else {
                out.push(Span::styled(display_safe(input.text()).into_owned(), t.dim));
            }
        }
    }
    out
}

fn permissions(look: &Look, form: &UserForm, frame: &mut Frame, area: Rect) {
    let t = look.theme;
    let catalog = look.store.catalog();
    let focused = form.focus == Field::Permissions;
    let effective = &form.effective;
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
    let explanation: Vec<Line> = match &form.explained {
        None => Vec::new(),
        Some((_, Ok(d))) => {
            let style = if d.allowed { t.ok } else { t.partial };
            let verdict = if d.allowed { "allowed" } else { "denied" };
            std::iter::once(Line::from(Span::styled(verdict, style)))
                .chain(d.reasons.iter().map(|r| {
                    let r = crate::tui::console_words(r);
                    Line::from(Span::styled(format!("· {}", display_safe(&r)), style))
                }))
                .collect()
        }
        Some((_, Err(e))) => vec![Line::from(Span::styled(
            display_safe(e).into_owned(),
            t.partial,
        ))],
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
            let mut spans = vec![Span::raw(format!(
                "{}{} {}",
                "  ".repeat(node.depth),
                effective.state(node).mark(),
                display_safe(&node.label)
            ))];
            if !node.is_leaf() {
                spans.push(Span::raw(format!(
                    " {}/{}",
                    effective.count_in(node.leaves.clone()),
                    node.leaves.len()
                )));
            } else if form.active {
                let from = sources_of_leaf(form, node.leaves.start);
                if !from.is_empty() {
                    spans.push(Span::styled(format!("  ← {from}"), t.dim));
                }
            }
            let line = Line::from(spans);
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

/// Where one permission comes from, shortly: "Editor, Sales in EU Marketing".
fn sources_of_leaf(form: &UserForm, ordinal: usize) -> String {
    form.sources
        .iter()
        .filter(|s| s.grants.contains(ordinal))
        .map(|s| match &s.via.package {
            None => display_safe(&s.via.role).into_owned(),
            Some(p) => format!("{} in {}", display_safe(&s.via.role), display_safe(p)),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

impl UserForm {
    /// What a key does in the form.
    pub fn update(&mut self, action: Action, cx: &mut Ctx) -> Vec<Effect> {
        let effects = self.on_key(action, cx);
        self.explain(cx.store);
        effects
    }

    fn on_key(&mut self, action: Action, cx: &mut Ctx) -> Vec<Effect> {
        let read_only = cx.read_only();
        let choosing = matches!(self.focus, Field::Role | Field::Packages | Field::Active);
        match action {
            Action::NextField | Action::PrevField => {
                self.move_focus(if action == Action::NextField { 1 } else { -1 });
                self.typing = true;
            }
            // Esc in a text field leaves it for the field list; Esc there leaves the form.
            Action::Cancel => self.typing = false,
            Action::Accept => {
                if self.focus == Field::Timezone && self.problem(Field::Timezone).is_some() {
                    let names = std::mem::take(&mut self.tz_names);
                    self.complete_timezone(&names);
                    self.tz_names = names;
                }
                self.move_focus(1);
            }
            _ if self.focus == Field::Permissions && self.permissions.on_action(action) => {}
            Action::Up | Action::Down => {
                self.move_focus(if action == Action::Up { -1 } else { 1 });
                self.typing = false;
            }
            Action::Open | Action::Toggle | Action::Save if read_only => {
                return vec![Effect::Refuse(READ_ONLY.into())];
            }
            Action::Open if self.is_editable(self.focus) => self.typing = true,
            Action::Open | Action::Toggle if choosing => return self.choose(cx),
            Action::Save => return self.save(None, cx),
            Action::Back if self.is_dirty() && !read_only => {
                return vec![Effect::confirm(
                    "Discard unsaved changes?".into(),
                    vec!["The user form has changes that were not saved. Discard them?".into()],
                    Pending::Discard,
                )];
            }
            Action::Back => return vec![Effect::Close],
            _ => {}
        }
        Vec::new()
    }

    /// Enter on the role, packages or active field.
    fn choose(&mut self, cx: &mut Ctx) -> Vec<Effect> {
        match self.focus {
            Field::Role => {
                // The owner holds Administrator directly: no "none" for them.
                let owner = matches!(self.mode, Mode::Edit { owner: true, .. });
                let mut choices = Vec::new();
                if !owner {
                    choices.push((0, "(no direct role: packages only)".to_string()));
                }
                choices.extend(cx.names.roles.iter().cloned());
                vec![Effect::Open(role_pick(
                    PickPurpose::FormRole,
                    "Role".into(),
                    choices,
                    Some(self.role_id),
                ))]
            }
            Field::Packages if cx.names.packages.is_empty() => vec![Effect::Refuse(
                "no packages yet: n on the Packages tab (3) makes one".into(),
            )],
            Field::Packages => {
                let choices = cx
                    .names
                    .packages
                    .iter()
                    .map(|(id, name)| {
                        let mark = if self.packages.iter().any(|(p, _)| p == id) {
                            "[x]"
                        } else {
                            "[ ]"
                        };
                        (*id, format!("{mark} {name}"))
                    })
                    .collect();
                vec![Effect::Open(role_pick(
                    PickPurpose::FormPackage,
                    "Packages: Enter puts the user in or takes them out".into(),
                    choices,
                    None,
                ))]
            }
            Field::Active => {
                self.active = !self.active;
                self.refresh_access(cx.store);
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    /// A key typed into the focused text field.
    pub fn on_input(&mut self, key: &crossterm::event::KeyEvent, cx: &mut Ctx) -> Vec<Effect> {
        if cx.read_only() {
            return vec![Effect::Refuse(READ_ONLY.into())];
        }
        let signature = self.focus == Field::Signature;
        if let Some(input) = self.focused_input() {
            let newline = key.code == crossterm::event::KeyCode::Enter
                && key.modifiers.contains(crossterm::event::KeyModifiers::ALT);
            if signature && newline {
                input.insert_newline();
            } else {
                input.handle(key);
            }
        }
        Vec::new()
    }

    /// The role picked for the form (id 0: no direct role).
    pub fn set_role(&mut self, role_id: i64, cx: &mut Ctx) -> Vec<Effect> {
        if role_id == 0 {
            self.role_id = 0;
            self.role = String::new();
            self.grants = Grants::none(cx.store.catalog());
            self.refresh_access(cx.store);
            return Vec::new();
        }
        match cx.store.role_by_id(role_id) {
            Ok(role) => {
                self.role_id = role.id;
                self.role = role.name;
                self.grants = role.grants;
                self.refresh_access(cx.store);
                Vec::new()
            }
            Err(e) => vec![Effect::Error(e)],
        }
    }

    /// A package picked in the form: the user joins it, or leaves it when in it.
    pub fn toggle_package(&mut self, id: i64, cx: &mut Ctx) -> Vec<Effect> {
        let name = cx
            .names
            .packages
            .iter()
            .find(|(p, _)| *p == id)
            .map(|(_, n)| n.clone())
            .unwrap_or_default();
        let said = if let Some(pos) = self.packages.iter().position(|(p, _)| *p == id) {
            self.packages.remove(pos);
            format!("leaves \"{name}\" when you save (Ctrl-S)")
        } else {
            self.packages.push((id, name.clone()));
            self.packages.sort_by(|a, b| a.1.cmp(&b.1));
            format!("joins \"{name}\" when you save (Ctrl-S)")
        };
        self.refresh_access(cx.store);
        vec![Effect::Info(said)]
    }

    /// "Reload theirs" after a conflict: the user as stored now.
    pub fn reload(&mut self, cx: &mut Ctx) -> Vec<Effect> {
        let Mode::Edit { username, .. } = self.mode.clone() else {
            return Vec::new();
        };
        match UserForm::load(cx.store, &username) {
            Ok(fresh) => {
                *self = fresh;
                vec![
                    Effect::Reload,
                    Effect::Info(format!(
                        "reloaded \"{username}\" as saved; your changes were dropped"
                    )),
                ]
            }
            Err(e) => vec![Effect::Close, Effect::Error(e)],
        }
    }

    /// Saves the form: every field is checked first (nothing is written while any is
    /// wrong), then one store call applies the same rules as the CLI.
    pub fn save(&mut self, overwrite_version: Option<i64>, cx: &mut Ctx) -> Vec<Effect> {
        if cx.read_only() {
            return vec![Effect::Refuse(READ_ONLY.into())];
        }
        let problems = self.problems();
        if let Some((field, first)) = problems.first() {
            let more = match problems.len() {
                1 => String::new(),
                n => format!(" ({n} fields need attention)"),
            };
            self.focus = *field;
            self.typing = true;
            return vec![Effect::Refuse(format!("not saved: {first}{more}"))];
        }
        let result = match &self.mode {
            Mode::New => cx
                .store
                .add_user(self.new_user_request())
                .map(|u| ("added", u)),
            Mode::Edit {
                id,
                username,
                version,
                ..
            } => {
                let expected = overwrite_version.unwrap_or(*version);
                // This row, not whoever has its name now: a user deleted and added
                // again under it is a conflict that cannot be overwritten.
                let row = UserRef::Row {
                    id: *id,
                    username: username.clone(),
                };
                cx.store
                    .update_user(row, Some(expected), self.change_request())
                    .map(|u| ("saved", u))
            }
        };
        match result {
            Ok((verb, user)) => {
                let owner = if user.owner { ", and is the owner" } else { "" };
                let role = if user.role.is_empty() {
                    "no direct role".to_string()
                } else {
                    format!("role \"{}\"", user.role)
                };
                vec![
                    Effect::Info(format!(
                        "{verb} user \"{}\" with {role}{owner}",
                        user.username
                    )),
                    Effect::Close,
                    Effect::Reload,
                    Effect::Select(Tab::Users, user.id),
                ]
            }
            Err(Error::Conflict(conflict)) => vec![Effect::Open(Overlay::Conflict {
                conflict,
                retry: Retry::User,
            })],
            Err(e) => vec![Effect::Error(e)],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> UserForm {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db"), crate::store::Access::ReadWrite).unwrap();
        let g = Grants::none(store.catalog());
        UserForm::new_user(&store, (5, "Read Only".into(), g))
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
