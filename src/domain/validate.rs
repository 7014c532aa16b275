//! Field validation shared by the CLI, the console and import: each function takes
//! what the operator typed and returns the value to store, or an error naming the
//! field and the rule it broke.

use std::sync::OnceLock;

use crate::error::{Error, Result};
use crate::text::{excerpt, has_unsafe};

pub const MAX_ROLE_NAME: usize = 64;
pub const MAX_DESCRIPTION: usize = 500;
pub const MAX_USERNAME: usize = 64;
pub const MAX_EMAIL: usize = 254;
pub const MAX_NAME: usize = 100;
pub const MAX_SIGNATURE: usize = 2000;
pub const MIN_PASSWORD: usize = 8;
pub const MAX_PASSWORD: usize = 1024;

fn chars(s: &str) -> usize {
    s.chars().count()
}

/// Single-line free text: trimmed, at most `max` characters, no control characters.
pub fn single_line(field: &'static str, value: &str, max: usize) -> Result<String> {
    let value = value.trim();
    if chars(value) > max {
        return Err(Error::invalid(
            field,
            format!("must be at most {max} characters (got {})", chars(value)),
        ));
    }
    if has_unsafe(value) {
        return Err(Error::invalid(
            field,
            "must not contain control or invisible formatting characters",
        ));
    }
    Ok(value.to_string())
}

/// A role or package name: 1 to 64 characters after trimming, no control characters.
pub fn role_name(value: &str) -> Result<String> {
    let name = single_line("name", value, MAX_ROLE_NAME)?;
    if name.is_empty() {
        return Err(Error::invalid("name", "must not be empty"));
    }
    Ok(name)
}

pub fn description(value: &str) -> Result<String> {
    single_line("description", value, MAX_DESCRIPTION)
}

/// A username: 1 to 64 of `a-z 0-9 . _ -`, starting with a letter or digit.
pub fn username(value: &str) -> Result<String> {
    let shown = excerpt(value);
    if value.is_empty() {
        return Err(Error::invalid("username", "must not be empty"));
    }
    if chars(value) > MAX_USERNAME {
        return Err(Error::invalid(
            "username",
            format!("must be at most {MAX_USERNAME} characters"),
        ));
    }
    if let Some(bad) = value
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')))
    {
        let hint = if bad.is_ascii_uppercase() {
            " (use lowercase)"
        } else {
            ""
        };
        return Err(Error::invalid(
            "username",
            format!("\"{shown}\" may hold only a-z, 0-9, '.', '_' and '-'{hint}"),
        ));
    }
    if !value.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(Error::invalid(
            "username",
            format!("\"{shown}\" must start with a letter or digit"),
        ));
    }
    Ok(value.to_string())
}

/// An email address: `local@domain`, the local part of RFC 5322 atoms, the domain of
/// LDH labels with an alphabetic top-level label. The domain is lowercased.
pub fn email(value: &str) -> Result<String> {
    let value = value.trim();
    let shown = excerpt(value);
    let bad = |why: &str| {
        Err(Error::invalid(
            "email",
            format!("\"{shown}\" is not a valid email address: {why}"),
        ))
    };
    if value.is_empty() {
        return Err(Error::invalid("email", "must not be empty"));
    }
    if value.len() > MAX_EMAIL {
        return Err(Error::invalid(
            "email",
            format!("must be at most {MAX_EMAIL} characters"),
        ));
    }
    let Some((local, domain)) = value.rsplit_once('@') else {
        return bad("it has no '@'");
    };
    if local.is_empty() || local.len() > 64 {
        return bad("the part before '@' must be 1 to 64 characters");
    }
    let atom_char = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~-".contains(c);
    if local
        .split('.')
        .any(|atom| atom.is_empty() || !atom.chars().all(atom_char))
    {
        return bad("the part before '@' holds a character or dot that is not allowed");
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return bad("the domain needs a dot, as in example.com");
    }
    for label in &labels {
        let ok = !label.is_empty()
            && label.len() <= 63
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return bad("the domain is not a valid host name");
        }
    }
    let tld = labels.last().unwrap_or(&"");
    if tld.len() < 2 || !tld.chars().all(|c| c.is_ascii_alphabetic()) {
        return bad("the top-level domain must be letters");
    }
    Ok(format!("{local}@{}", domain.to_ascii_lowercase()))
}

/// The tz database built into the binary. Never the host's: jiff's global database
/// reads `TZDIR` and `/usr/share/zoneinfo`, so what a field accepts, and what the
/// completion list offers, would change with the machine and its environment.
fn zone_database() -> &'static jiff::tz::TimeZoneDatabase {
    static DATABASE: OnceLock<jiff::tz::TimeZoneDatabase> = OnceLock::new();
    DATABASE.get_or_init(jiff::tz::TimeZoneDatabase::bundled)
}

/// Names a tz database may answer to that are not places: the host's own setting,
/// the template for POSIX rules, the "time zone not set" placeholder of installers,
/// and jiff's unknown zone.
const NOT_A_PLACE: &[&str] = &["localtime", "posixrules", "Factory", "Etc/Unknown"];

fn is_place(name: &str) -> bool {
    !NOT_A_PLACE.iter().any(|n| n.eq_ignore_ascii_case(name))
}

/// An IANA time zone name, checked against the tz database built into the binary.
/// Returns the canonical spelling (`europe/rome` gives `Europe/Rome`).
pub fn timezone(value: &str) -> Result<String> {
    let value = value.trim();
    if value.is_empty() {
        return Err(Error::invalid("timezone", "must not be empty"));
    }
    let found = zone_database()
        .get(value)
        .ok()
        .map(|tz| tz.iana_name().unwrap_or(value).to_string())
        .filter(|name| is_place(value) && is_place(name));
    found.ok_or_else(|| {
        Error::invalid(
            "timezone",
            format!(
                "\"{}\" is not an IANA time zone name such as Europe/Rome or UTC",
                excerpt(value)
            ),
        )
    })
}

/// Every IANA time zone name the built-in database knows, sorted.
pub fn timezone_names() -> Vec<String> {
    let mut names: Vec<String> = zone_database()
        .available()
        .map(|n| n.to_string())
        .filter(|n| is_place(n))
        .collect();
    names.sort();
    names
}

/// ISO 639-1 two-letter language codes.
const ISO_639_1: &[&str] = &[
    "aa", "ab", "ae", "af", "ak", "am", "an", "ar", "as", "av", "ay", "az", "ba", "be", "bg", "bi",
    "bm", "bn", "bo", "br", "bs", "ca", "ce", "ch", "co", "cr", "cs", "cu", "cv", "cy", "da", "de",
    "dv", "dz", "ee", "el", "en", "eo", "es", "et", "eu", "fa", "ff", "fi", "fj", "fo", "fr", "fy",
    "ga", "gd", "gl", "gn", "gu", "gv", "ha", "he", "hi", "ho", "hr", "ht", "hu", "hy", "hz", "ia",
    "id", "ie", "ig", "ii", "ik", "io", "is", "it", "iu", "ja", "jv", "ka", "kg", "ki", "kj", "kk",
    "kl", "km", "kn", "ko", "kr", "ks", "ku", "kv", "kw", "ky", "la", "lb", "lg", "li", "ln", "lo",
    "lt", "lu", "lv", "mg", "mh", "mi", "mk", "ml", "mn", "mr", "ms", "mt", "my", "na", "nb", "nd",
    "ne", "ng", "nl", "nn", "no", "nr", "nv", "ny", "oc", "oj", "om", "or", "os", "pa", "pi", "pl",
    "ps", "pt", "qu", "rm", "rn", "ro", "ru", "rw", "sa", "sc", "sd", "se", "sg", "si", "sk", "sl",
    "sm", "sn", "so", "sq", "sr", "ss", "st", "su", "sv", "sw", "ta", "te", "tg", "th", "ti", "tk",
    "tl", "tn", "to", "tr", "ts", "tt", "tw", "ty", "ug", "uk", "ur", "uz", "ve", "vi", "vo", "wa",
    "wo", "xh", "yi", "yo", "za", "zh", "zu",
];

/// A language tag: an ISO 639-1 language (or a three-letter ISO 639-2/3 code),
/// optionally a four-letter script and a two-letter or three-digit region:
/// `en`, `pt-BR`, `zh-Hant-TW`. Returned in canonical case.
pub fn language(value: &str) -> Result<String> {
    let value = value.trim();
    let bad = || {
        Err(Error::invalid(
            "language",
            format!(
                "\"{}\" is not a language tag such as en, pt-BR or zh-Hant-TW",
                excerpt(value)
            ),
        ))
    };
    let mut parts = value.split(['-', '_']);
    let lang = parts.next().unwrap_or("").to_ascii_lowercase();
    let known = match lang.len() {
        2 => ISO_639_1.contains(&lang.as_str()),
        3 => lang.chars().all(|c| c.is_ascii_lowercase()),
        _ => false,
    };
    if !known {
        return bad();
    }
    let mut out = lang;
    let mut rest: Vec<&str> = parts.collect();
    if rest.len() > 2 {
        return bad();
    }
    if let Some(script) = rest
        .first()
        .filter(|s| s.len() == 4 && s.chars().all(|c| c.is_ascii_alphabetic()))
    {
        let mut s = script.to_ascii_lowercase();
        s[..1].make_ascii_uppercase();
        out.push('-');
        out.push_str(&s);
        rest.remove(0);
    }
    match rest.as_slice() {
        [] => {}
        [region] if region.len() == 2 && region.chars().all(|c| c.is_ascii_alphabetic()) => {
            out.push('-');
            out.push_str(&region.to_ascii_uppercase());
        }
        [region] if region.len() == 3 && region.chars().all(|c| c.is_ascii_digit()) => {
            out.push('-');
            out.push_str(region);
        }
        _ => return bad(),
    }
    Ok(out)
}

/// A multi-line signature: newlines and tabs are kept, other controls refused.
pub fn signature(value: &str) -> Result<String> {
    let value = value.replace("\r\n", "\n");
    let value = value.trim_end();
    if chars(value) > MAX_SIGNATURE {
        return Err(Error::invalid(
            "signature",
            format!("must be at most {MAX_SIGNATURE} characters"),
        ));
    }
    if value.split(['\n', '\t']).any(has_unsafe) {
        return Err(Error::invalid(
            "signature",
            "must not contain control characters other than line breaks and tabs",
        ));
    }
    Ok(value.to_string())
}

/// A new password: 8 to 1024 characters, no control characters.
pub fn password(value: &str) -> Result<()> {
    let n = chars(value);
    if n < MIN_PASSWORD {
        return Err(Error::invalid(
            "password",
            format!("must be at least {MIN_PASSWORD} characters"),
        ));
    }
    if n > MAX_PASSWORD {
        return Err(Error::invalid(
            "password",
            format!("must be at most {MAX_PASSWORD} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(Error::invalid(
            "password",
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// A `--since` value: a UTC date (`2026-11-30`, midnight) or time
/// (`2026-11-30T08:00:00Z`, any RFC 3339 offset), as the audit log writes times.
pub fn since(value: &str) -> Result<String> {
    let value = value.trim();
    let date_only = value.len() == 10;
    let at = if date_only {
        value.parse::<jiff::civil::Date>().ok().and_then(|date| {
            date.to_zoned(jiff::tz::TimeZone::UTC)
                .map(|z| z.timestamp())
                .ok()
        })
    } else {
        value.parse::<jiff::Timestamp>().ok()
    };
    match at {
        Some(t) => Ok(t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()),
        None => Err(Error::invalid(
            "since",
            format!(
                "\"{}\" is not a UTC date (2026-11-30) or time (2026-11-30T08:00:00Z)",
                crate::text::excerpt(value)
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert_eq!(username("alice.b-2_x").unwrap(), "alice.b-2_x");
        assert_eq!(username("7up").unwrap(), "7up");
        for bad in [
            "",
            "-alice",
            ".x",
            "Alice",
            "al ice",
            "al\u{1b}ice",
            &"a".repeat(65),
        ] {
            let err = username(bad).unwrap_err();
            assert!(err.to_string().starts_with("username: "), "{err}");
        }
    }

    #[test]
    fn emails() {
        assert_eq!(email("Alice@Example.COM").unwrap(), "Alice@example.com");
        assert_eq!(
            email("a.b+tag@mail.example.org").unwrap(),
            "a.b+tag@mail.example.org"
        );
        let long = format!("{}@example.com", "x".repeat(230));
        let err = email(&long).unwrap_err().to_string();
        assert!(
            err.contains(&format!("\"{}…\"", "x".repeat(199))),
            "the error quotes an excerpt: {err}"
        );
        for bad in [
            "",
            "alice",
            "alice@",
            "@example.com",
            "a@b",
            "a..b@example.com",
            "a@-x.com",
            "a@example.c0m",
            "a b@example.com",
        ] {
            assert!(
                email(bad).unwrap_err().to_string().starts_with("email: "),
                "{bad}"
            );
        }
    }

    #[test]
    fn timezones_come_from_the_tz_database() {
        assert_eq!(timezone("Europe/Rome").unwrap(), "Europe/Rome");
        assert_eq!(timezone("UTC").unwrap(), "UTC");
        assert_eq!(
            timezone("america/los_angeles").unwrap(),
            "America/Los_Angeles"
        );
        for bad in [
            "Mars/Olympus",
            "",
            "localtime",
            "posixrules",
            "Factory",
            "etc/unknown",
        ] {
            let err = timezone(bad).unwrap_err().to_string();
            assert!(err.starts_with("timezone: "), "{bad}: {err}");
        }
        let names = timezone_names();
        assert!(names.iter().any(|n| n == "America/Los_Angeles"));
        assert!(names.iter().any(|n| n == "UTC"));
        assert!(
            !names.iter().any(|n| !is_place(n)),
            "placeholders are not offered"
        );
    }

    #[test]
    fn languages() {
        assert_eq!(language("en").unwrap(), "en");
        assert_eq!(language("pt-br").unwrap(), "pt-BR");
        assert_eq!(language("zh_hant_tw").unwrap(), "zh-Hant-TW");
        assert_eq!(language("es-419").unwrap(), "es-419");
        for bad in ["", "english", "qq", "en-", "en-USA1", "e1"] {
            assert!(
                language(bad)
                    .unwrap_err()
                    .to_string()
                    .starts_with("language: "),
                "{bad}"
            );
        }
    }

    #[test]
    fn role_names_and_descriptions() {
        assert_eq!(role_name("  Support  ").unwrap(), "Support");
        assert!(role_name("   ").is_err());
        assert!(role_name(&"x".repeat(65)).is_err());
        assert!(role_name("a\u{7}b").is_err());
        for lookalike in [
            "Administrator\u{2800}",
            "Admin\u{E0041}istrator",
            "\u{3164}Admin",
        ] {
            let err = role_name(lookalike).unwrap_err().to_string();
            assert!(err.starts_with("name: must not contain"), "{err}");
        }
        assert!(description(&"d".repeat(501)).is_err());
        assert!(description(&"d".repeat(500)).is_ok());
    }

    #[test]
    fn signatures_keep_lines_but_not_escapes() {
        assert_eq!(signature("Alice\r\nSales\n").unwrap(), "Alice\nSales");
        assert!(signature("x\u{1b}[2J").is_err());
    }

    #[test]
    fn passwords() {
        assert!(password("short").is_err());
        assert!(password("long enough").is_ok());
        assert!(password("with\nnewline").is_err());
    }

    #[test]
    fn since_takes_dates_and_times_in_the_logs_form() {
        assert_eq!(since("2026-11-30").unwrap(), "2026-11-30T00:00:00Z");
        assert_eq!(
            since("2026-11-30T08:00:00Z").unwrap(),
            "2026-11-30T08:00:00Z"
        );
        assert_eq!(
            since("2026-11-30T09:30:00+01:00").unwrap(),
            "2026-11-30T08:30:00Z"
        );
        assert!(since("yesterday").is_err());
        assert!(since("2026-13-01").is_err());
    }
}
