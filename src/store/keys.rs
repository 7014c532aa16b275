//! Users' SSH public keys (`users keys`, SPEC §13): adding, listing and removing
//! them, each change audited, and the lookup `rolecall serve` makes when a key is
//! offered.

use rusqlite::{Connection, OpenFlags};

use super::db::{Db, OptionalExtension, params};
use serde_json::json;

use super::users::load_user;
use super::{Store, text};
use crate::domain::authz::{Need, Right};
use crate::domain::user_key::{self, KeyEntry};
use crate::error::{Error, Result};
use crate::text::display_safe;

/// Who a key belongs to, as `rolecall serve` decides a login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyOwner {
    pub user_id: i64,
    pub username: String,
    pub active: bool,
}

const KEY_OWNER: &str = "SELECT u.id, u.username, u.active FROM user_keys k \
     JOIN users u ON u.id = k.user_id WHERE k.fingerprint = ?1";

fn key_owner(conn: &Db, fingerprint: &str) -> Result<Option<KeyOwner>> {
    Ok(conn
        .prepare_cached(KEY_OWNER)?
        .query_row([fingerprint], |r| {
            Ok(KeyOwner {
                user_id: r.get(0)?,
                username: text(r, 1)?,
                active: r.get(2)?,
            })
        })
        .optional()?)
}

/// A small read-only connection for `rolecall serve` to decide logins and to see,
/// while a session lasts, that its key and user are still there: no catalog is
/// read, so it opens in well under a millisecond.
pub struct KeyCheck(Db);

impl KeyCheck {
    pub fn open(path: &std::path::Path) -> Result<KeyCheck> {
        super::pg::refuse_lookalike(path, "db")?;
        if let Some(url) = path.to_str().filter(|t| super::pg::is_url(t)) {
            let target = super::pg::parse(url)?;
            return Ok(KeyCheck(Db::pg(target, true)?));
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        Ok(KeyCheck(Db::sqlite(conn)))
    }

    /// Whose key has `fingerprint`.
    pub fn owner(&self, fingerprint: &str) -> Result<Option<KeyOwner>> {
        key_owner(&self.0, fingerprint)
    }
}

impl Store {
    /// Adds one OpenSSH public key line to `username`. A key identifies one user, so
    /// a key already stored (for anyone) is refused.
    pub fn add_key(&mut self, username: &str, line: &str) -> Result<KeyEntry> {
        let key = user_key::parse(line)?;
        self.write(Need::One(Right::Users), |tx| {
            let user = load_user(tx.tx, username)?;
            let owner: Option<String> = tx
                .tx
                .prepare_cached(
                    "SELECT u.username FROM user_keys k JOIN users u ON u.id = k.user_id \
                     WHERE k.fingerprint = ?1",
                )?
                .query_row([&key.fingerprint], |r| text(r, 0))
                .optional()?;
            if let Some(owner) = owner {
                return Err(Error::invalid(
                    "key",
                    format!(
                        "{} is already a key of \"{}\"; a key identifies one user",
                        key.fingerprint,
                        display_safe(&owner)
                    ),
                ));
            }
            // A key lets its holder act as the user: handing one out is handing out
            // everything the user holds.
            tx.ensure_may_act_as(user.id, &user.username)?;
            tx.tx.execute(
                "INSERT INTO user_keys (user_id, fingerprint, key, comment, added_at, added_by) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    user.id,
                    key.fingerprint,
                    key.key,
                    key.comment,
                    tx.at,
                    tx.actor
                ],
            )?;
            super::packages::bump_user(tx, user.id)?;
            tx.audit(
                "user.key.add",
                &user.username,
                None,
                Some(json!({"fingerprint": key.fingerprint, "comment": key.comment})),
            )?;
            Ok(KeyEntry {
                fingerprint: key.fingerprint.clone(),
                comment: key.comment.clone(),
                added_at: tx.at.clone(),
            })
        })
    }

    /// The keys of `username`, oldest first.
    pub fn keys_of(&self, username: &str) -> Result<Vec<KeyEntry>> {
        let user = load_user(&self.conn, username)?;
        let stmt = self.conn.prepare_cached(
            "SELECT fingerprint, comment, added_at FROM user_keys WHERE user_id = ?1 \
             ORDER BY added_at, id",
        )?;
        let rows = stmt.query_map([user.id], |r| {
            Ok(KeyEntry {
                fingerprint: text(r, 0)?,
                comment: text(r, 1)?,
                added_at: text(r, 2)?,
            })
        })?;
        Ok(rows.collect::<super::db::SqlResult<_>>()?)
    }

    /// Removes the key with `fingerprint` (as `users keys list` shows it) from
    /// `username`.
    pub fn remove_key(&mut self, username: &str, fingerprint: &str) -> Result<()> {
        self.write(Need::One(Right::Users), |tx| {
            let user = load_user(tx.tx, username)?;
            let comment: Option<String> = tx
                .tx
                .prepare_cached(
                    "SELECT comment FROM user_keys WHERE user_id = ?1 AND fingerprint = ?2",
                )?
                .query_row(params![user.id, fingerprint.trim()], |r| text(r, 0))
                .optional()?;
            let Some(comment) = comment else {
                return Err(Error::invalid(
                    "fingerprint",
                    format!(
                        "\"{}\" has no key {}; `rolecall users keys list {}` shows theirs",
                        display_safe(&user.username),
                        crate::text::excerpt(fingerprint),
                        display_safe(&user.username)
                    ),
                ));
            };
            tx.tx.execute(
                "DELETE FROM user_keys WHERE user_id = ?1 AND fingerprint = ?2",
                params![user.id, fingerprint.trim()],
            )?;
            super::packages::bump_user(tx, user.id)?;
            tx.audit(
                "user.key.remove",
                &user.username,
                Some(json!({"fingerprint": fingerprint.trim(), "comment": comment})),
                None,
            )
        })
    }

    /// Whose key has `fingerprint`, for `rolecall serve`.
    pub fn key_owner(&self, fingerprint: &str) -> Result<Option<KeyOwner>> {
        key_owner(&self.conn, fingerprint)
    }
}
