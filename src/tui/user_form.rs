//! The user form's model: one text field per profile field, the role and the active
//! flag, inline validation naming each field, time-zone completion from the IANA
//! list, and the user's effective permissions for the role chosen. Pure state: the
//! app saves it through the store, which applies the same rules as the CLI.

use crate::domain::catalog::{Catalog, Grants};
use crate::domain::user::{Profile, User};
use crate::domain::validate;
use crate::store::{NewUser, RoleRef, UserChange};
use crate::tui::widgets::input::TextInput;
use crate::tui::widgets::list::FilteredList;

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
        if !self.is_editable(self.focus) {
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
            id: 0,
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
