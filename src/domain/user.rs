//! Users (SPEC §4): the record, the profile fields a form edits, and the owner rule.

use serde::Serialize;

use crate::domain::role::ADMINISTRATOR;
use crate::domain::validate;
use crate::error::{Error, Result};
use crate::text::display_safe;

/// A user as stored, with the name of their role. The password hash never leaves the
/// store: only whether one is set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    #[serde(skip)]
    pub id: i64,
    pub username: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub position: String,
    pub signature: String,
    pub timezone: String,
    pub language: String,
    pub role: String,
    #[serde(skip)]
    pub role_id: i64,
    pub active: bool,
    pub owner: bool,
    pub has_password: bool,
    pub created_at: String,
    pub updated_at: String,
    pub version: i64,
    /// The change number that created the row (see `Role::created_seq`).
    #[serde(skip)]
    pub created_seq: i64,
    #[serde(skip)]
    pub updated_by: String,
}

impl User {
    /// `First Last`, or empty.
    pub fn full_name(&self) -> String {
        join_name(&self.first_name, &self.last_name)
    }
}

/// A user as a list shows them: what the console draws and filters on, and no more,
/// so that a list of 100,000 users loads quickly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub role_id: i64,
    pub active: bool,
    pub owner: bool,
}

impl UserRow {
    /// `First Last`, or empty.
    pub fn full_name(&self) -> String {
        join_name(&self.first_name, &self.last_name)
    }
}

fn join_name(first: &str, last: &str) -> String {
    match (first.is_empty(), last.is_empty()) {
        (false, false) => format!("{first} {last}"),
        (false, true) => first.to_string(),
        (true, false) => last.to_string(),
        (true, true) => String::new(),
    }
}

/// The fields of a user form besides username, role, active flag and password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Profile {
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub position: String,
    pub signature: String,
    pub timezone: String,
    pub language: String,
}

impl Default for Profile {
    fn default() -> Self {
        Profile {
            email: String::new(),
            first_name: String::new(),
            last_name: String::new(),
            position: String::new(),
            signature: String::new(),
            timezone: "UTC".into(),
            language: "en".into(),
        }
    }
}

impl Profile {
    /// Every field checked and normalised; the first problem is returned.
    pub fn validated(self) -> Result<Profile> {
        Ok(Profile {
            email: validate::email(&self.email)?,
            first_name: validate::single_line("first_name", &self.first_name, validate::MAX_NAME)?,
            last_name: validate::single_line("last_name", &self.last_name, validate::MAX_NAME)?,
            position: validate::single_line("position", &self.position, validate::MAX_NAME)?,
            signature: validate::signature(&self.signature)?,
            timezone: validate::timezone(&self.timezone)?,
            language: validate::language(&self.language)?,
        })
    }

    /// Every problem at once, for a form that marks each field.
    pub fn problems(&self) -> Vec<Error> {
        [
            validate::email(&self.email).err(),
            validate::single_line("first_name", &self.first_name, validate::MAX_NAME).err(),
            validate::single_line("last_name", &self.last_name, validate::MAX_NAME).err(),
            validate::single_line("position", &self.position, validate::MAX_NAME).err(),
            validate::signature(&self.signature).err(),
            validate::timezone(&self.timezone).err(),
            validate::language(&self.language).err(),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

/// The owner rule for an edit: the owner stays active and on Administrator.
pub fn ensure_owner_kept(user: &User, new_role: &str, new_active: bool) -> Result<()> {
    if !user.owner {
        return Ok(());
    }
    let name = display_safe(&user.username);
    if !new_active {
        return Err(Error::Refused(format!(
            "\"{name}\" is the owner and cannot be disabled; transfer ownership first with `rolecall users transfer-ownership USERNAME`"
        )));
    }
    if new_role != ADMINISTRATOR {
        return Err(Error::Refused(format!(
            "\"{name}\" is the owner and must keep the {ADMINISTRATOR} role; transfer ownership first with `rolecall users transfer-ownership USERNAME`"
        )));
    }
    Ok(())
}

/// The owner rule for removal.
pub fn ensure_removable(user: &User) -> Result<()> {
    if user.owner {
        return Err(Error::Refused(format!(
            "\"{}\" is the owner and cannot be removed; transfer ownership to another user first with `rolecall users transfer-ownership USERNAME`",
            display_safe(&user.username)
        )));
    }
    Ok(())
}

/// Who may receive ownership: an active user who is not the owner already.
pub fn ensure_can_become_owner(user: &User) -> Result<()> {
    let name = display_safe(&user.username);
    if user.owner {
        return Err(Error::Refused(format!("\"{name}\" is already the owner")));
    }
    if !user.active {
        return Err(Error::Refused(format!(
            "\"{name}\" is disabled; enable the user before making them the owner"
        )));
    }
    Ok(())
}

/// The first user becomes the owner, on Administrator: a different role is refused
/// rather than silently replaced.
pub fn first_user_role(requested: Option<&str>, active: bool) -> Result<()> {
    if let Some(role) = requested.filter(|r| !r.eq_ignore_ascii_case(ADMINISTRATOR)) {
        return Err(Error::Refused(format!(
            "the first user becomes the owner and holds the {ADMINISTRATOR} role, not \"{}\"; add them without a role",
            display_safe(role)
        )));
    }
    if !active {
        return Err(Error::Refused(
            "the first user becomes the owner and must be active".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner() -> User {
        User {
            id: 1,
            username: "olivia".into(),
            email: "olivia@example.com".into(),
            first_name: String::new(),
            last_name: String::new(),
            position: String::new(),
            signature: String::new(),
            timezone: "UTC".into(),
            language: "en".into(),
            role: ADMINISTRATOR.into(),
            role_id: 1,
            active: true,
            owner: true,
            has_password: false,
            created_at: String::new(),
            updated_at: String::new(),
            version: 1,
            created_seq: 0,
            updated_by: String::new(),
        }
    }

    #[test]
    fn the_owner_cannot_be_disabled_moved_or_removed() {
        let o = owner();
        assert!(ensure_owner_kept(&o, ADMINISTRATOR, true).is_ok());
        assert_eq!(
            ensure_owner_kept(&o, ADMINISTRATOR, false)
                .unwrap_err()
                .exit_code(),
            3
        );
        assert_eq!(
            ensure_owner_kept(&o, "Read Only", true)
                .unwrap_err()
                .exit_code(),
            3
        );
        assert_eq!(ensure_removable(&o).unwrap_err().exit_code(), 3);
        let other = User { owner: false, ..o };
        assert!(ensure_owner_kept(&other, "Read Only", false).is_ok());
        assert!(ensure_removable(&other).is_ok());
    }

    #[test]
    fn only_active_non_owners_receive_ownership() {
        let o = owner();
        assert!(ensure_can_become_owner(&o).is_err());
        let disabled = User {
            owner: false,
            active: false,
            ..o.clone()
        };
        assert!(ensure_can_become_owner(&disabled).is_err());
        let fine = User { owner: false, ..o };
        assert!(ensure_can_become_owner(&fine).is_ok());
    }

    #[test]
    fn the_first_user_is_an_active_administrator() {
        assert!(first_user_role(None, true).is_ok());
        assert!(first_user_role(Some("administrator"), true).is_ok());
        assert!(first_user_role(Some("Read Only"), true).is_err());
        assert!(first_user_role(None, false).is_err());
    }

    #[test]
    fn profile_problems_name_each_field() {
        let p = Profile {
            email: "nope".into(),
            timezone: "Nowhere/Town".into(),
            language: "zz".into(),
            ..Profile::default()
        };
        let fields: Vec<String> = p.problems().iter().map(|e| e.to_string()).collect();
        assert_eq!(fields.len(), 3, "{fields:?}");
        assert!(fields[0].starts_with("email:"));
        assert!(fields[1].starts_with("timezone:"));
        assert!(fields[2].starts_with("language:"));
    }
}
