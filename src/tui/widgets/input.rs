//! A single-line text field: the text, a cursor, and the editing keys every shell
//! user expects (arrows, Home/End, Backspace/Delete, Ctrl-U, Ctrl-W).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::Position;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use crate::text::display_safe;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextInput {
    text: String,
    /// Cursor position in characters.
    cursor: usize,
    /// Longest text accepted, in characters.
    max: usize,
}

impl TextInput {
    pub fn new(text: &str, max: usize) -> Self {
        TextInput {
            text: text.to_string(),
            cursor: text.chars().count(),
            max,
        }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// Replaces the text and puts the cursor at its end.
    pub fn set_text(&mut self, text: &str) {
        self.text = text.chars().take(self.max).collect();
        self.cursor = self.text.chars().count();
    }

    /// Inserts a line break at the cursor (multi-line fields: the signature).
    pub fn insert_newline(&mut self) -> bool {
        if self.text.chars().count() >= self.max {
            return false;
        }
        let at = self.byte_at(self.cursor);
        self.text.insert(at, '\n');
        self.cursor += 1;
        true
    }

    /// The field drawn as one bullet per character, for passwords.
    pub fn masked_line(&self, focused: bool, style: Style, cursor_style: Style) -> Line<'static> {
        let n = self.text.chars().count();
        let mut spans = vec![Span::styled("•".repeat(n), style)];
        if focused {
            spans.push(Span::styled(" ", cursor_style));
        }
        Line::from(spans)
    }

    pub fn clear(&mut self) {
        self.text.clear();
        self.cursor = 0;
    }

    fn byte_at(&self, char_idx: usize) -> usize {
        self.text
            .char_indices()
            .nth(char_idx)
            .map_or(self.text.len(), |(i, _)| i)
    }

    /// Applies an editing key; returns true when the text changed.
    pub fn handle(&mut self, key: &KeyEvent) -> bool {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let len = self.text.chars().count();
        match key.code {
            KeyCode::Char('u') if ctrl => {
                let cut = self.byte_at(self.cursor);
                self.text.replace_range(..cut, "");
                self.cursor = 0;
                true
            }
            KeyCode::Char('w') if ctrl => {
                let chars: Vec<char> = self.text.chars().collect();
                let mut start = self.cursor;
                while start > 0 && chars[start - 1] == ' ' {
                    start -= 1;
                }
                while start > 0 && chars[start - 1] != ' ' {
                    start -= 1;
                }
                let (a, b) = (self.byte_at(start), self.byte_at(self.cursor));
                self.text.replace_range(a..b, "");
                self.cursor = start;
                a != b
            }
            KeyCode::Char(c) if !ctrl && !c.is_control() => {
                if len >= self.max {
                    return false;
                }
                let at = self.byte_at(self.cursor);
                self.text.insert(at, c);
                self.cursor += 1;
                true
            }
            KeyCode::Backspace if self.cursor > 0 => {
                let at = self.byte_at(self.cursor - 1);
                self.text.remove(at);
                self.cursor -= 1;
                true
            }
            KeyCode::Delete if self.cursor < len => {
                let at = self.byte_at(self.cursor);
                self.text.remove(at);
                true
            }
            KeyCode::Left => {
                self.cursor = self.cursor.saturating_sub(1);
                false
            }
            KeyCode::Right => {
                self.cursor = (self.cursor + 1).min(len);
                false
            }
            KeyCode::Home => {
                self.cursor = 0;
                false
            }
            KeyCode::End => {
                self.cursor = len;
                false
            }
            _ => false,
        }
    }

    /// The field as a line, with the cursor drawn as a reversed cell when focused.
    pub fn line(&self, focused: bool, style: Style, cursor_style: Style) -> Line<'static> {
        let safe = display_safe(&self.text).into_owned();
        if !focused {
            return Line::from(Span::styled(safe, style));
        }
        let at = safe
            .char_indices()
            .nth(self.cursor)
            .map_or(safe.len(), |(i, _)| i);
        let (before, rest) = safe.split_at(at);
        let mut chars = rest.chars();
        let under = chars.next().map_or(" ".to_string(), |c| c.to_string());
        Line::from(vec![
            Span::styled(before.to_string(), style),
            Span::styled(under, cursor_style),
            Span::styled(chars.as_str().to_string(), style),
        ])
    }

    /// Where the terminal cursor would sit, for a field drawn at `origin`.
    pub fn cursor_position(&self, origin: Position) -> Position {
        let before: String = self.text.chars().take(self.cursor).collect();
        let w = crate::text::width(&display_safe(&before)) as u16;
        Position::new(origin.x.saturating_add(w), origin.y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn typing_and_editing() {
        let mut t = TextInput::new("", 10);
        for c in "héllo".chars() {
            t.handle(&key(KeyCode::Char(c)));
        }
        t.handle(&key(KeyCode::Left));
        t.handle(&key(KeyCode::Backspace));
        assert_eq!(t.text(), "hélo");
        t.handle(&key(KeyCode::Home));
        t.handle(&key(KeyCode::Delete));
        assert_eq!(t.text(), "élo");
        t.handle(&KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
        assert_eq!(t.text(), "élo", "Ctrl-U at the start cuts nothing");
        t.handle(&key(KeyCode::End));
        t.handle(&KeyEvent::new(KeyCode::Char('w'), KeyModifiers::CONTROL));
        assert_eq!(t.text(), "");
    }

    #[test]
    fn the_limit_is_enforced() {
        let mut t = TextInput::new("abc", 3);
        assert!(!t.handle(&key(KeyCode::Char('d'))));
        assert_eq!(t.text(), "abc");
    }
}
