//! The one gate between stored text and a terminal.
//!
//! Anything read from the database may hold bytes another program put there: escape
//! sequences, C1 controls, bidi overrides, zero-width and other invisible characters.
//! ratatui writes a `Span`'s text through unchanged and crossterm passes it to the
//! terminal, so every string from storage goes through [`display_safe`] before it is
//! printed or drawn. The same set of characters is refused on input ([`has_unsafe`]),
//! and ignored when names are compared ([`name_key`]), so that no two names can look
//! alike on screen and still be different.

use std::borrow::Cow;

/// True for characters that must never reach a terminal as themselves: controls
/// (Cc), format characters (Cf), Unicode's Default_Ignorable_Code_Point set, and the
/// blanks that render as nothing. Together they let "Administrator" be spelt a dozen
/// invisible ways, or reorder or hide what a terminal shows.
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c,
            // Cf and Default_Ignorable in the Latin-1, Arabic, Syriac and Mongolian blocks:
            // soft hyphen, combining grapheme joiner, Arabic number signs and letter mark,
            // Hangul choseong/jungseong fillers, Khmer inherent vowels, Mongolian free
            // variation selectors and vowel separator.
            '\u{00AD}' | '\u{034F}' | '\u{0600}'..='\u{0605}' | '\u{061C}' | '\u{06DD}'
            | '\u{070F}' | '\u{0890}'..='\u{0891}' | '\u{08E2}' | '\u{115F}'..='\u{1160}'
            | '\u{17B4}'..='\u{17B5}' | '\u{180B}'..='\u{180F}'
            // zero-width space, joiners, direction marks; bidi embeddings and overrides
            | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
            // line and paragraph separators
            | '\u{2028}' | '\u{2029}'
            // word joiner, invisible operators, bidi isolates, deprecated format controls
            | '\u{2060}'..='\u{206F}'
            // braille pattern blank, Hangul filler, variation selectors, BOM, halfwidth
            // Hangul filler
            | '\u{2800}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}'
            // unassigned specials, interlinear annotation, object replacement
            | '\u{FFF0}'..='\u{FFFC}'
            // Kaithi number signs, Egyptian hieroglyph format controls, shorthand format
            // controls, musical symbol formatting
            | '\u{110BD}' | '\u{110CD}' | '\u{13430}'..='\u{1343F}' | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            // tag characters, variation selectors supplement, and the rest of plane 14's
            // default-ignorable block
            | '\u{E0000}'..='\u{E0FFF}')
}

/// True when every byte is printable ASCII, the common case that needs no work.
fn plain_ascii(s: &str) -> bool {
    s.bytes().all(|b| (0x20..0x7F).contains(&b))
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
/// stand-in. Borrowed when nothing needed replacing, which is the common case; plain
/// ASCII is settled by a byte scan, as this runs for every cell of every frame.
pub fn display_safe(s: &str) -> Cow<'_, str> {
    if plain_ascii(s) || !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(
        s.chars()
            .map(|c| if is_unsafe(c) { stand_in(c) } else { c })
            .collect(),
    )
}

/// The form in which names are compared for duplicates and matched: invisible and
/// control characters removed, trimmed, lowercased. Two names with the same key look
/// the same on screen (or differ only in case), so they count as one name.
pub fn name_key(s: &str) -> String {
    if plain_ascii(s) {
        return s.trim().to_ascii_lowercase();
    }
    let visible: String = s.chars().filter(|&c| !is_unsafe(c)).collect();
    visible.trim().to_lowercase()
}

/// Most characters of an input an error message quotes.
pub const EXCERPT_CHARS: usize = 200;

/// Input as an error message quotes it: display-safe, and cut to at most
/// [`EXCERPT_CHARS`] characters, the last one `…`, so a megabyte of pasted text
/// cannot flood a terminal or a log.
pub fn excerpt(s: &str) -> Cow<'_, str> {
    let safe = display_safe(s);
    let mut starts = safe.char_indices().map(|(i, _)| i);
    match (starts.nth(EXCERPT_CHARS - 1), starts.next()) {
        (Some(cut), Some(_)) => {
            let mut out = String::with_capacity(cut + '…'.len_utf8());
            out.push_str(&safe[..cut]);
            out.push('…');
            Cow::Owned(out)
        }
        _ => safe,
    }
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
    !plain_ascii(s) && s.chars().any(is_unsafe)
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

    /// The invisible characters issue 10 lists, one of each kind.
    const INVISIBLE: &[char] = &[
        '\u{E0041}',
        '\u{E007F}',
        '\u{E0001}',
        '\u{115F}',
        '\u{1160}',
        '\u{3164}',
        '\u{FFA0}',
        '\u{180E}',
        '\u{034F}',
        '\u{FE00}',
        '\u{FE0F}',
        '\u{E0100}',
        '\u{E01EF}',
        '\u{2800}',
        '\u{FFFC}',
        '\u{0600}',
        '\u{0605}',
        '\u{06DD}',
        '\u{070F}',
        '\u{08E2}',
        '\u{110BD}',
        '\u{1D173}',
        '\u{1D17A}',
        '\u{2061}',
        '\u{2064}',
        '\u{200B}',
        '\u{2066}',
        '\u{FEFF}',
        '\u{00AD}',
        '\u{17B4}',
        '\u{1BCA0}',
        '\u{13430}',
    ];

    #[test]
    fn invisible_characters_are_unsafe_shown_and_ignored_in_names() {
        for &c in INVISIBLE {
            let name = format!("Admin{c}istrator");
            assert!(has_unsafe(&name), "U+{:04X} passes has_unsafe", c as u32);
            assert_eq!(
                display_safe(&name),
                "Admin\u{FFFD}istrator",
                "U+{:04X}",
                c as u32
            );
            assert_eq!(name_key(&name), "administrator", "U+{:04X}", c as u32);
        }
        // Visible text that merely looks unusual stays as it is.
        for fine in ["Zoë", "日本語", "Ελληνικά", "a\u{0301}", "x\u{FFFD}y", "🙂"] {
            assert!(!has_unsafe(fine), "{fine}");
        }
    }

    #[test]
    fn names_that_look_alike_have_one_key() {
        let keys: std::collections::HashSet<String> = [
            "Administrator",
            "  administrator ",
            "ADMINISTRATOR",
            "Administrator\u{E0020}",
            "\u{2800}Administrator",
            "Admin\u{3164}istrator",
        ]
        .iter()
        .map(|n| name_key(n))
        .collect();
        assert_eq!(keys.len(), 1, "{keys:?}");
        assert_ne!(name_key("Administrators"), name_key("Administrator"));
    }

    #[test]
    fn excerpts_are_safe_and_short() {
        assert!(matches!(excerpt("short"), Cow::Borrowed("short")));
        let exact = "é".repeat(EXCERPT_CHARS);
        assert_eq!(excerpt(&exact), exact);
        let long = format!("\u{1b}[2J{}", "x".repeat(10_000));
        let cut = excerpt(&long);
        assert_eq!(cut.chars().count(), EXCERPT_CHARS);
        assert!(cut.starts_with("␛[2Jxxx") && cut.ends_with("x…"), "{cut}");
    }

    #[test]
    fn truncation_respects_wide_characters() {
        assert_eq!(truncate("日本語テキスト", 5), "日本…");
        assert_eq!(width(&truncate("日本語テキスト", 5)), 5);
        assert_eq!(truncate("abc", 3), "abc");
    }
}
