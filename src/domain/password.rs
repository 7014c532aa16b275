//! Password hashing: argon2id with the crate's recommended parameters and a random
//! salt per hash. The hash is a PHC string; the plain text is never kept.

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

use crate::domain::validate;
use crate::error::{Error, Result};

/// Checks the password's rules and returns its argon2id hash.
pub fn hash(password: &str) -> Result<String> {
    validate::password(password)?;
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| Error::invalid("password", format!("could not be hashed: {e}")))
}

/// True when `password` matches the stored `hash`.
pub fn verify(password: &str, hash: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), hash)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_salted_and_verifiable() {
        let a = hash("correct horse").unwrap();
        let b = hash("correct horse").unwrap();
        assert!(a.starts_with("$argon2id$"), "{a}");
        assert_ne!(a, b, "each hash has its own salt");
        assert!(verify("correct horse", &a));
        assert!(!verify("wrong horse", &a));
        assert!(hash("short").is_err());
    }
}
