//! Bytes a client's terminal sends → crossterm events, for consoles served over
//! SSH, where crossterm's own reader (which reads the process's terminal) cannot be
//! used. It knows what xterm-like terminals and the Linux console send for the keys
//! the console binds, and SGR mouse reports; anything else is dropped, never
//! guessed at.
//!
//! A lone ESC at the end of what arrived is the Esc key: a terminal sends an escape
//! sequence in one write, so the SSH packet that carries its ESC carries the rest.

use crossterm::event::{
    Event, KeyCode, KeyEvent, KeyEventKind, KeyEventState, KeyModifiers, MouseButton, MouseEvent,
    MouseEventKind,
};

/// The longest escape sequence kept while waiting for its end.
const MAX_SEQUENCE: usize = 32;

/// Turns a byte stream into events, keeping an incomplete UTF-8 character or escape
/// sequence for the next read.
#[derive(Debug, Default)]
pub struct InputParser {
    pending: Vec<u8>,
}

fn key(code: KeyCode, modifiers: KeyModifiers) -> Event {
    Event::Key(KeyEvent {
        code,
        modifiers,
        kind: KeyEventKind::Press,
        state: KeyEventState::NONE,
    })
}

/// What a parse step found.
enum Step {
    /// An event (or nothing, for bytes that mean nothing to the console) and the
    /// bytes it took.
    Done(Option<Event>, usize),
    /// More bytes are needed.
    Incomplete,
}

impl InputParser {
    /// Every event in `bytes` (and in what was left over from the last call).
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Event> {
        self.pending.extend_from_slice(bytes);
        let mut events = Vec::new();
        let mut at = 0;
        while at < self.pending.len() {
            match parse(&self.pending[at..]) {
                Step::Done(event, used) => {
                    events.extend(event);
                    at += used;
                }
                Step::Incomplete if self.pending.len() - at > MAX_SEQUENCE => {
                    // Not a sequence this parser will ever finish: drop its first byte.
                    at += 1;
                }
                Step::Incomplete => break,
            }
        }
        self.pending.drain(..at);
        // A lone ESC with nothing after it in this read is the Esc key.
        if self.pending == [0x1b] {
            self.pending.clear();
            events.push(key(KeyCode::Esc, KeyModifiers::NONE));
        }
        events
    }
}

fn parse(b: &[u8]) -> Step {
    let none = KeyModifiers::NONE;
    let ctrl = KeyModifiers::CONTROL;
    match b[0] {
        0x1b => parse_escape(b),
        b'\r' | b'\n' => Step::Done(Some(key(KeyCode::Enter, none)), 1),
        b'\t' => Step::Done(Some(key(KeyCode::Tab, none)), 1),
        0x7f | 0x08 => Step::Done(Some(key(KeyCode::Backspace, none)), 1),
        0x00 => Step::Done(Some(key(KeyCode::Char(' '), ctrl)), 1),
        c @ 0x01..=0x1a => Step::Done(Some(key(KeyCode::Char((b'a' + c - 1) as char), ctrl)), 1),
        0x1c..=0x1f => Step::Done(None, 1),
        _ => parse_char(b).map_or(Step::Incomplete, |(c, used)| match c {
            Some(c) => Step::Done(Some(key(KeyCode::Char(c), none)), used),
            None => Step::Done(None, used),
        }),
    }
}

/// One UTF-8 character: `Some((None, n))` for n bytes that are not one.
fn parse_char(b: &[u8]) -> Option<(Option<char>, usize)> {
    let len = match b[0] {
        0x00..=0x7f => 1,
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => return Some((None, 1)),
    };
    if b.len() < len {
        return None;
    }
    match std::str::from_utf8(&b[..len]) {
        Ok(s) => Some((s.chars().next(), len)),
        Err(_) => Some((None, 1)),
    }
}

fn parse_escape(b: &[u8]) -> Step {
    let Some(&next) = b.get(1) else {
        return Step::Incomplete;
    };
    match next {
        b'[' => parse_csi(b),
        b'O' => match b.get(2) {
            None => Step::Incomplete,
            Some(&c) => Step::Done(ss3(c).map(|code| key(code, KeyModifiers::NONE)), 3),
        },
        0x1b => Step::Done(Some(key(KeyCode::Esc, KeyModifiers::NONE)), 1),
        _ => match parse(&b[1..]) {
            // Alt with a key: ESC then the key.
            Step::Done(Some(Event::Key(mut k)), used) => {
                k.modifiers |= KeyModifiers::ALT;
                Step::Done(Some(Event::Key(k)), used + 1)
            }
            Step::Done(_, used) => Step::Done(None, used + 1),
            Step::Incomplete => Step::Incomplete,
        },
    }
}

/// `ESC O x`: arrows and Home/End in application mode, F1-F4.
fn ss3(c: u8) -> Option<KeyCode> {
    Some(match c {
        b'A' => KeyCode::Up,
        b'B' => KeyCode::Down,
        b'C' => KeyCode::Right,
        b'D' => KeyCode::Left,
        b'H' => KeyCode::Home,
        b'F' => KeyCode::End,
        b'P' => KeyCode::F(1),
        b'Q' => KeyCode::F(2),
        b'R' => KeyCode::F(3),
        b'S' => KeyCode::F(4),
        _ => return None,
    })
}

/// `ESC [ params final`.
fn parse_csi(b: &[u8]) -> Step {
    if b.get(2) == Some(&b'<') {
        return parse_sgr_mouse(b);
    }
    // The Linux console's F1-F5: ESC [ [ A..E.
    if b.get(2) == Some(&b'[') {
        return match b.get(3) {
            None => Step::Incomplete,
            Some(&c @ b'A'..=b'E') => {
                Step::Done(Some(key(KeyCode::F(c - b'A' + 1), KeyModifiers::NONE)), 4)
            }
            Some(_) => Step::Done(None, 4),
        };
    }
    let Some(end) = b[2..].iter().position(|c| (0x40..=0x7e).contains(c)) else {
        return Step::Incomplete;
    };
    let end = end + 2;
    let params: Vec<u16> = std::str::from_utf8(&b[2..end])
        .unwrap_or("")
        .split(';')
        .map(|p| p.parse().unwrap_or(0))
        .collect();
    let modifiers = params.get(1).map_or(KeyModifiers::NONE, |m| modifiers(*m));
    let code = match b[end] {
        b'A' => Some(KeyCode::Up),
        b'B' => Some(KeyCode::Down),
        b'C' => Some(KeyCode::Right),
        b'D' => Some(KeyCode::Left),
        b'H' => Some(KeyCode::Home),
        b'F' => Some(KeyCode::End),
        b'Z' => return Step::Done(Some(key(KeyCode::BackTab, KeyModifiers::SHIFT)), end + 1),
        b'~' => tilde(params.first().copied().unwrap_or(0)),
        _ => None,
    };
    Step::Done(code.map(|c| key(c, modifiers)), end + 1)
}

/// `ESC [ n ~` keys.
fn tilde(n: u16) -> Option<KeyCode> {
    Some(match n {
        1 | 7 => KeyCode::Home,
        2 => KeyCode::Insert,
        3 => KeyCode::Delete,
        4 | 8 => KeyCode::End,
        5 => KeyCode::PageUp,
        6 => KeyCode::PageDown,
        11..=15 => KeyCode::F((n - 10) as u8),
        17..=21 => KeyCode::F((n - 11) as u8),
        23 | 24 => KeyCode::F((n - 12) as u8),
        _ => return None,
    })
}

/// xterm's modifier parameter: 1 + (shift 1, alt 2, ctrl 4).
fn modifiers(param: u16) -> KeyModifiers {
    let bits = param.saturating_sub(1);
    let mut m = KeyModifiers::NONE;
    if bits & 1 != 0 {
        m |= KeyModifiers::SHIFT;
    }
    if bits & 2 != 0 {
        m |= KeyModifiers::ALT;
    }
    if bits & 4 != 0 {
        m |= KeyModifiers::CONTROL;
    }
    m
}

/// `ESC [ < button ; column ; row (M|m)`, 1-based.
fn parse_sgr_mouse(b: &[u8]) -> Step {
    let Some(end) = b[3..].iter().position(|c| *c == b'M' || *c == b'm') else {
        return Step::Incomplete;
    };
    let end = end + 3;
    let fields: Vec<u16> = std::str::from_utf8(&b[3..end])
        .unwrap_or("")
        .split(';')
        .map(|p| p.parse().unwrap_or(0))
        .collect();
    let [button, column, row] = fields[..] else {
        return Step::Done(None, end + 1);
    };
    let pressed = b[end] == b'M';
    let kind = match (button & !0b11100, pressed) {
        (0, true) if button & 32 == 0 => Some(MouseEventKind::Down(MouseButton::Left)),
        (64, _) => Some(MouseEventKind::ScrollUp),
        (65, _) => Some(MouseEventKind::ScrollDown),
        _ => None,
    };
    let event = kind.map(|kind| {
        Event::Mouse(MouseEvent {
            kind,
            column: column.saturating_sub(1),
            row: row.saturating_sub(1),
            modifiers: KeyModifiers::NONE,
        })
    });
    Step::Done(event, end + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(bytes: &[u8]) -> Vec<(KeyCode, KeyModifiers)> {
        InputParser::default()
            .feed(bytes)
            .into_iter()
            .filter_map(|e| match e {
                Event::Key(k) => Some((k.code, k.modifiers)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn keys_the_console_binds() {
        let n = KeyModifiers::NONE;
        assert_eq!(
            codes(b"\x1b[A\x1b[B\x1bOC\x1b[5~\x1b[6~\x1b[H\x1b[4~\r\t\x7f"),
            vec![
                (KeyCode::Up, n),
                (KeyCode::Down, n),
                (KeyCode::Right, n),
                (KeyCode::PageUp, n),
                (KeyCode::PageDown, n),
                (KeyCode::Home, n),
                (KeyCode::End, n),
                (KeyCode::Enter, n),
                (KeyCode::Tab, n),
                (KeyCode::Backspace, n),
            ]
        );
        assert_eq!(
            codes(b"\x13"),
            vec![(KeyCode::Char('s'), KeyModifiers::CONTROL)]
        );
        assert_eq!(
            codes(b"\x1b[Z"),
            vec![(KeyCode::BackTab, KeyModifiers::SHIFT)]
        );
        assert_eq!(
            codes("é?".as_bytes()),
            vec![(KeyCode::Char('é'), n), (KeyCode::Char('?'), n)]
        );
    }

    #[test]
    fn a_lone_escape_is_esc_and_esc_then_a_letter_is_alt() {
        assert_eq!(codes(b"\x1b"), vec![(KeyCode::Esc, KeyModifiers::NONE)]);
        assert_eq!(
            codes(b"\x1bx"),
            vec![(KeyCode::Char('x'), KeyModifiers::ALT)]
        );
    }

    #[test]
    fn a_sequence_split_across_reads_is_joined() {
        let mut parser = InputParser::default();
        assert!(parser.feed(b"\x1b[").is_empty());
        assert!(parser.feed(&"é".as_bytes()[..0]).is_empty());
        let events = parser.feed(b"B");
        assert!(matches!(
            events[..],
            [Event::Key(KeyEvent {
                code: KeyCode::Down,
                ..
            })]
        ));
        assert!(parser.feed(&"é".as_bytes()[..1]).is_empty());
        let events = parser.feed(&"é".as_bytes()[1..]);
        assert!(matches!(
            events[..],
            [Event::Key(KeyEvent {
                code: KeyCode::Char('é'),
                ..
            })]
        ));
    }

    #[test]
    fn mouse_clicks_and_wheel_are_read_and_garbage_is_dropped() {
        let events = InputParser::default().feed(b"\x1b[<0;5;3M\x1b[<65;1;1M\xff\x1b[99x");
        assert_eq!(events.len(), 2, "{events:?}");
        assert!(matches!(
            events[0],
            Event::Mouse(MouseEvent {
                kind: MouseEventKind::Down(MouseButton::Left),
                column: 4,
                row: 2,
                ..
            })
        ));
        // An endless sequence is given up on, not kept forever.
        let mut parser = InputParser::default();
        parser.feed(b"\x1b[");
        parser.feed(&[b'1'; 100]);
        assert!(parser.pending.len() <= MAX_SEQUENCE);
    }
}
