//! The console's few styles. With `NO_COLOR` set and non-empty, no colour is used at
//! all: selection is reverse video and emphasis is bold.

use ratatui::style::{Color, Modifier, Style};

#[derive(Debug, Clone, Copy)]
pub struct Theme {
    pub normal: Style,
    pub dim: Style,
    pub title: Style,
    pub tab_active: Style,
    pub header: Style,
    pub selected: Style,
    pub matched: Style,
    pub checked: Style,
    pub partial: Style,
    pub error: Style,
    pub ok: Style,
    pub key: Style,
    pub cursor: Style,
    pub border: Style,
    pub tagged: Style,
    /// Draw with ASCII only (the Linux console's font lacks box drawing and arrows).
    pub ascii: bool,
}

impl Theme {
    pub fn colour() -> Theme {
        Theme {
            normal: Style::new(),
            dim: Style::new().fg(Color::DarkGray),
            title: Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
            tab_active: Style::new()
                .fg(Color::Black)
                .bg(Color::Cyan)
                .add_modifier(Modifier::BOLD),
            header: Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
            selected: Style::new()
                .bg(Color::Blue)
                .fg(Color::White)
                .add_modifier(Modifier::BOLD),
            matched: Style::new()
                .fg(Color::LightMagenta)
                .add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
            checked: Style::new().fg(Color::Green),
            partial: Style::new().fg(Color::Yellow),
            error: Style::new()
                .fg(Color::LightRed)
                .add_modifier(Modifier::BOLD),
            ok: Style::new().fg(Color::Green),
            key: Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
            cursor: Style::new().add_modifier(Modifier::REVERSED),
            border: Style::new().fg(Color::DarkGray),
            tagged: Style::new()
                .fg(Color::LightYellow)
                .add_modifier(Modifier::BOLD),
            ascii: false,
        }
    }

    pub fn monochrome() -> Theme {
        let bold = Style::new().add_modifier(Modifier::BOLD);
        Theme {
            normal: Style::new(),
            dim: Style::new(),
            title: bold,
            tab_active: Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD),
            header: bold,
            selected: Style::new().add_modifier(Modifier::REVERSED),
            matched: Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
            checked: Style::new(),
            partial: Style::new(),
            error: bold,
            ok: Style::new(),
            key: bold,
            cursor: Style::new().add_modifier(Modifier::REVERSED),
            border: Style::new(),
            tagged: bold,
            ascii: false,
        }
    }

    /// The theme the environment asks for: `NO_COLOR` set and non-empty gives no
    /// colour at all (https://no-color.org); `TERM=linux` gives ASCII-only drawing.
    pub fn from_env() -> Theme {
        Theme::for_env(std::env::var("NO_COLOR").ok(), std::env::var("TERM").ok())
    }

    /// [`Theme::from_env`] for given values of `NO_COLOR` and `TERM`.
    pub fn for_env(no_color: Option<String>, term: Option<String>) -> Theme {
        let mut theme = match no_color {
            Some(v) if !v.is_empty() => Theme::monochrome(),
            _ => Theme::colour(),
        };
        theme.ascii = term.as_deref() == Some("linux");
        theme
    }
}

/// The ASCII stand-in for a symbol the console draws, or `None` to keep it.
pub fn ascii_symbol(symbol: &str) -> Option<&'static str> {
    Some(match symbol {
        "─" | "━" | "═" => "-",
        "│" | "┃" | "║" => "|",
        "┌" | "┐" | "└" | "┘" | "├" | "┤" | "┬" | "┴" | "┼" | "╭" | "╮" | "╯" | "╰" => {
            "+"
        }
        "▸" | "▶" => "+",
        "▾" | "▼" => "-",
        "↑" => "^",
        "↓" => "v",
        "←" => "<",
        "→" => ">",
        "…" => "~",
        "·" => "-",
        "•" => "*",
        "≠" => "#",
        s if s
            .chars()
            .next()
            .is_some_and(|c| ('\u{2400}'..='\u{2426}').contains(&c) || c == '\u{FFFD}') =>
        {
            "?"
        }
        _ => return None,
    })
}
