//! The one gate between stored text and a terminal.
//!
//! Anything read from the database may hold bytes another program put there: escape
//! sequences, C1 controls, bidi overrides, zero-width characters. ratatui writes a
//! `Span`'s text through unchanged and crossterm passes it to the terminal, so every
//! string from storage goes through [`display_safe`] before it is printed or drawn.

use std::borrow::Cow;

/// True for characters that must never reach a terminal as themselves.
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c,
            // bidi embeddings, overrides and isolates
            '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}'
            // zero-width and invisible format characters
            | '\u{200B}'..='\u{200D}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}' | '\u{00AD}'
            // line and paragraph separators
            | '\u{2028}' | '\u{2029}'
            // interlinear annotation, object replacement
            | '\u{FFF9}'..='\u{FFFB}')
}

/// The visible stand-in for an unsafe character: the Unicode control picture for
/// C0 controls and DEL (`␛` for ESC, `␊` for a newline), `�` for everything else.
fn stand_in(c: char) -> char {
    match c {
        '\0'..='\u{1F}' => char::from_u32(0x2400 + c as u32).unwrap_or('\u{FFFD}'),
        '\u{7F}' => '\u{2421}',
        _ => '\u{FFFD}',
    }
}

/// `s` with every control or invisible formatting character replaced by a visible
/// stand-in. Borrowed when nothing needed replacing, which is the common case.
pub fn display_safe(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(
        s.chars()
            .map(|c| if is_unsafe(c) { stand_in(c) } else { c })
            .collect(),
    )
}

/// Escapes the characters a JSON encoder leaves raw but a terminal may act on (C1
/// controls, bidi and zero-width characters) as `\uXXXX`. Valid JSON in, the same
/// JSON value out; structure characters are ASCII so only string contents change.
pub fn json_terminal_safe(json: String) -> String {
    // Line breaks and tabs outside strings are JSON's own whitespace; inside strings
    // the encoder has already escaped them.
    let escape = |c: char| is_unsafe(c) && !matches!(c, '\n' | '\r' | '\t');
    if !json.chars().any(escape) {
        return json;
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if escape(c) {
            let mut buf = [0u16; 2];
            for unit in c.encode_utf16(&mut buf) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// True when `s` holds a character [`display_safe`] would replace; fields that must be
/// stored exactly as shown use this to refuse such input.
pub fn has_unsafe(s: &str) -> bool {
    s.chars().any(is_unsafe)
}

/// The display width of `s` in terminal columns.
pub fn width(s: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(s)
}

/// `s` cut to at most `max` columns, ending in `…` when something was cut.
pub fn truncate(s: &str, max: usize) -> Cow<'_, str> {
    if width(s) <= max {
        return Cow::Borrowed(s);
    }
    if max == 0 {
        return Cow::Borrowed("");
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if used + w > max - 1 {
            break;
        }
        used += w;
        out.push(c);
    }
    out.push('…');
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed() {
        assert!(matches!(display_safe("Read Only"), Cow::Borrowed(_)));
    }

    #[test]
    fn escape_sequences_become_visible() {
        let s = display_safe("a\u{1b}]0;pwned\u{7}b\u{1b}[2J");
        assert_eq!(s, "a␛]0;pwned␇b␛[2J");
        assert!(!s.chars().any(|c| c.is_control()));
    }

    #[test]
    fn c1_bidi_and_zero_width_are_replaced() {
        let s = display_safe("x\u{9b}31my\u{202E}z\u{200D}w\u{0}");
        assert_eq!(s, "x�31my�z�w␀");
    }

    #[test]
    fn json_escaping_keeps_the_value_and_the_layout() {
        let value = serde_json::json!({"name": "a\u{9b}b\u{202e}\u{7f}\n"});
        let json = serde_json::to_string_pretty(&value).unwrap();
        let safe = json_terminal_safe(json.clone());
        assert!(safe.is_ascii());
        assert_eq!(
            safe.lines().count(),
            json.lines().count(),
            "layout newlines stay"
        );
        assert!(!safe.chars().any(|c| c.is_control() && c != '\n'));
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back, value);
    }

    #[test]
    fn truncation_respects_wide_characters() {
        assert_eq!(truncate("日本語テキスト", 5), "日本…");
        assert_eq!(width(&truncate("日本語テキスト", 5)), 5);
        assert_eq!(truncate("abc", 3), "abc");
    }
}
