//! The SSH public keys that identify operators to `rolecall serve` (SPEC §13): one
//! OpenSSH public key line, checked, with its fingerprint written as OpenSSH writes
//! it (`SHA256:` and unpadded base64 of the key's SHA-256).

use russh::keys::{HashAlg, PublicKey};
use serde::Serialize;

use crate::error::{Error, Result};

/// The longest key line accepted: an RSA key of 16,384 bits is about 2,800 characters.
const MAX_LINE: usize = 8 * 1024;
/// The longest comment kept.
const MAX_COMMENT: usize = 200;

/// A checked public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserKey {
    /// `SHA256:...`, as `ssh-keygen -lf` and `ssh -v` show it.
    pub fingerprint: String,
    /// `ALGORITHM BASE64`, without the comment.
    pub key: String,
    pub comment: String,
}

/// A stored key as `users keys list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyEntry {
    pub fingerprint: String,
    pub comment: String,
    pub added_at: String,
}

/// The fingerprint of a key as OpenSSH writes it.
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// Parses one OpenSSH public key line (`ssh-ed25519 AAAA... comment`), as found in a
/// `.pub` file. Private keys, `authorized_keys` options and certificates are refused.
pub fn parse(text: &str) -> Result<UserKey> {
    let invalid = |message: String| Error::invalid("key", message);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let line = match lines.as_slice() {
        [] => {
            return Err(invalid(
                "is empty; give one OpenSSH public key line (the .pub file)".into(),
            ));
        }
        [line] => *line,
        _ => {
            return Err(invalid(format!(
                "has {} lines; give one public key at a time",
                lines.len()
            )));
        }
    };
    if line.starts_with("-----BEGIN") {
        return Err(invalid(
            "is a private key; give the public key instead (the .pub file beside it)".into(),
        ));
    }
    if line.len() > MAX_LINE {
        return Err(invalid(format!("is longer than {MAX_LINE} characters")));
    }
    let algorithm = line.split_whitespace().next().unwrap_or_default();
    if algorithm.contains("-cert-v01@openssh.com") {
        return Err(invalid("is a certificate; give a plain public key".into()));
    }
    let key = PublicKey::from_openssh(line).map_err(|_| {
        let shown = crate::text::excerpt(algorithm);
        invalid(format!(
            "is not an OpenSSH public key line (\"{shown} ...\"); it should read like \"ssh-ed25519 AAAA... name@host\", without options"
        ))
    })?;
    let comment = key.comment().to_string().trim().to_string();
    if comment.chars().count() > MAX_COMMENT {
        return Err(invalid(format!(
            "comment must be at most {MAX_COMMENT} characters"
        )));
    }
    if comment.chars().any(char::is_control) {
        return Err(invalid(
            "comment must not contain control characters".into(),
        ));
    }
    let mut bare = key.clone();
    bare.set_comment("");
    let key_text = bare
        .to_openssh()
        .map_err(|e| invalid(format!("cannot be written back: {e}")))?;
    Ok(UserKey {
        fingerprint: fingerprint(&key),
        key: key_text.trim().to_string(),
        comment,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // `ssh-keygen -t ed25519 -C alice@laptop`; its fingerprint from `ssh-keygen -lf`.
    const ED25519: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIr1BAJu2TO4E4JTH2ziNx7MX2iEwVGcnomdaTAYOkpu alice@laptop";
    const ED25519_FINGERPRINT: &str = "SHA256:FixZkUQw+tyNFMal2hMvYlaHPOM+bJDr8qDEX8oaBpc";

    #[test]
    fn a_public_key_line_is_read_with_its_comment() {
        let key = parse(&format!("\n{ED25519}\n")).unwrap();
        assert_eq!(key.fingerprint, ED25519_FINGERPRINT);
        assert_eq!(key.comment, "alice@laptop");
        assert!(key.key.starts_with("ssh-ed25519 AAAA") && !key.key.contains("alice"));
    }

    #[test]
    fn other_text_is_refused_with_the_field_named() {
        for bad in [
            "",
            "-----BEGIN OPENSSH PRIVATE KEY-----",
            "ssh-ed25519 notbase64",
            "command=\"x\" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIr1BAJu2TO4E4JTH2ziNx7MX2iEwVGcnomdaTAYOkpu",
        ] {
            let err = parse(bad).unwrap_err().to_string();
            assert!(err.starts_with("key: "), "{bad:?}: {err}");
        }
        let two = format!("{ED25519}\n{ED25519}");
        assert!(parse(&two).unwrap_err().to_string().contains("2 lines"));
    }
}
