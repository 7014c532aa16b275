//! Typed errors and the exit codes they map to (SPEC §8).
//!
//! Every failure the domain or the store can report is one variant here, so both front
//! ends show the same sentence for the same problem. `anyhow` is used only at the
//! outermost edge (terminal setup in `main`), never for rules.

use std::fmt;

/// What went wrong, in words fit for an operator, grouped by the exit code it earns.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A field failed validation: exit 2. `field` is the name the operator typed it under.
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },

    /// A user, role or permission that does not exist: exit 2.
    #[error("{0}")]
    NotFound(String),

    /// A rule refused the change (owner protection, built-in role, read-only): exit 3.
    #[error("{0}")]
    Refused(String),

    /// The role is still assigned or is the default role: exit 3.
    #[error("{0}")]
    RoleInUse(RoleInUse),

    /// Someone else saved the row since it was read: exit 3.
    #[error("{0}")]
    Conflict(Conflict),

    /// The database cannot be used (unreadable, corrupt, newer, disk full): exit 4.
    #[error("{0}")]
    Storage(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Error::Invalid {
            field,
            message: message.into(),
        }
    }

    /// The process exit code of SPEC §8 for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Invalid { .. } | Error::NotFound(_) => 2,
            Error::Refused(_) | Error::RoleInUse(_) | Error::Conflict(_) => 3,
            Error::Storage(_) => 4,
        }
    }
}

/// Why a role cannot be deleted, with enough detail to offer a way forward.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RoleInUse {
    pub role: String,
    /// How many users hold the role directly, disabled ones included.
    pub user_count: usize,
    /// Up to ten of them, in username order: (username, active).
    pub sample: Vec<(String, bool)>,
    /// The role is the default role for new users.
    pub is_default: bool,
    /// The packages that include it, by name (all of them).
    pub packages: Vec<String>,
    /// How many users reach the role through those packages.
    pub users_via_packages: usize,
}

/// How many users a role-in-use warning names at most.
pub const IN_USE_SAMPLE: usize = 10;

impl RoleInUse {
    /// The sample as `alice, bob (disabled), ...` with a trailing count of the rest.
    pub fn names(&self) -> String {
        let mut out = self
            .sample
            .iter()
            .map(|(name, active)| {
                if *active {
                    crate::text::display_safe(name).into_owned()
                } else {
                    format!("{} (disabled)", crate::text::display_safe(name))
                }
            })
            .collect::<Vec<_>>()
            .join(", ");
        let rest = self.user_count.saturating_sub(self.sample.len());
        if rest > 0 {
            out.push_str(&format!(" and {rest} more"));
        }
        out
    }
}

impl RoleInUse {
    /// `"EU", "US" and 3 more`: up to ten of the packages.
    pub fn package_names(&self) -> String {
        let mut out = self
            .packages
            .iter()
            .take(IN_USE_SAMPLE)
            .map(|p| format!("\"{}\"", crate::text::display_safe(p)))
            .collect::<Vec<_>>()
            .join(", ");
        if self.packages.len() > IN_USE_SAMPLE {
            out.push_str(&format!(
                " and {} more",
                self.packages.len() - IN_USE_SAMPLE
            ));
        }
        out
    }
}

impl fmt::Display for RoleInUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let role = crate::text::display_safe(&self.role);
        if !self.packages.is_empty() {
            let n = self.packages.len();
            let users = self.users_via_packages;
            write!(
                f,
                "role \"{role}\" is assigned to {n} package{} ({}), through which {users} user{} reach it",
                if n == 1 { "" } else { "s" },
                self.package_names(),
                if users == 1 { "" } else { "s" },
            )?;
            if self.user_count > 0 {
                write!(
                    f,
                    ", and held directly by {} ({})",
                    self.user_count,
                    self.names()
                )?;
            }
            if self.is_default {
                write!(f, ", and is the default role for new users")?;
            }
            return write!(
                f,
                "; remove the role from all packages first, or move everything to another role with --reassign-to ROLE"
            );
        }
        match (self.user_count, self.is_default) {
            (0, true) => write!(
                f,
                "role \"{role}\" is the default role for new users; make another role the default first with `rolecall roles set-default ROLE`"
            ),
            (n, is_default) => {
                let users = if n == 1 { "user" } else { "users" };
                let default = if is_default {
                    " and is the default role for new users"
                } else {
                    ""
                };
                write!(
                    f,
                    "role \"{role}\" is assigned to {n} {users} ({}){default}; move them with --reassign-to ROLE",
                    self.names()
                )
            }
        }
    }
}

/// A save that lost a race: the row, or the catalog its edit was made against, is
/// no longer what the editor read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub kind: ConflictKind,
    /// `user "alice"` or `role "Read Only"`.
    pub target: String,
    pub expected_version: i64,
    /// The row's version now (0 when it was deleted).
    pub current_version: i64,
    /// Who made the change that got in the way, and when ("" when unknown).
    pub changed_by: String,
    pub changed_at: String,
}

/// What got in the way of a save.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictKind {
    /// Someone else saved the row first.
    Changed,
    /// The row was deleted.
    Deleted,
    /// The row was deleted and another one created under the same name: the caller's
    /// version belongs to a row that no longer exists.
    Recreated,
    /// The caller's version is older than the row and the audit log shows no row of
    /// that name deleted: a version this row never had (mistyped, read from another
    /// row, or from one another program deleted without a record).
    NeverHad,
    /// Another process changed the permission catalog, so grants read before it
    /// cannot be written.
    Catalog,
}

impl Conflict {
    /// An edit of the same row may be saved again (over someone else's change, or
    /// once its grants are moved onto the new catalog); a deleted or replaced row may
    /// only be reloaded.
    pub fn can_overwrite(&self) -> bool {
        matches!(self.kind, ConflictKind::Changed | ConflictKind::Catalog)
    }

    /// ` by NAME at TIME`, or nothing when the log does not say.
    fn by_whom(&self) -> String {
        match (self.changed_by.is_empty(), self.changed_at.is_empty()) {
            (true, _) => String::new(),
            (false, true) => format!(" by {}", crate::text::display_safe(&self.changed_by)),
            (false, false) => format!(
                " by {} at {}",
                crate::text::display_safe(&self.changed_by),
                crate::text::display_safe(&self.changed_at)
            ),
        }
    }
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let target = crate::text::display_safe(&self.target);
        let by = self.by_whom();
        match self.kind {
            ConflictKind::Changed => write!(
                f,
                "{target} was changed{by} (version {}, yours was {}); reload it and apply your change again",
                self.current_version, self.expected_version
            ),
            ConflictKind::Deleted => write!(
                f,
                "{target} was deleted{by} after you read it; nothing was changed"
            ),
            ConflictKind::Recreated => write!(
                f,
                "{target} was deleted and created again{by} after you read version {}; nothing was changed: look at the new one before changing it",
                self.expected_version
            ),
            ConflictKind::NeverHad => write!(
                f,
                "{target} never had version {} (it was created after that version and is at version {}): the version was read from another row, or from an earlier row of this name that another program deleted, which leaves no record; nothing was changed: pass the version it shows now",
                self.expected_version, self.current_version
            ),
            ConflictKind::Catalog => write!(
                f,
                "the permission catalog was changed{by} after {target} was read; nothing was saved: review the edit on the new catalog and save again, or reload"
            ),
        }
    }
}

impl From<rusqlite::Error> for Error {
    fn from(err: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode;
        let detail = match err.sqlite_error_code() {
            Some(ErrorCode::DiskFull) => "the disk is full; nothing was changed".to_string(),
            // A write the operating system refused: a full disk can show up this way
            // too (growing the shared-memory index, a file size limit).
            Some(ErrorCode::SystemIoFailure) => {
                "the disk refused a read or write (is it full?); nothing was changed".to_string()
            }
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
                "the database stayed locked by another process for too long; nothing was changed"
                    .to_string()
            }
            Some(ErrorCode::NotADatabase) => "the file is not a SQLite database".to_string(),
            Some(ErrorCode::DatabaseCorrupt) => "the database file is corrupt".to_string(),
            Some(ErrorCode::ReadOnly) => {
                "the database cannot be written (read-only file or folder)".to_string()
            }
            Some(ErrorCode::CannotOpen) => "the database file cannot be opened".to_string(),
            _ => format!("database error: {err}"),
        };
        Error::Storage(detail)
    }
}
