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
        }
    }

    /// The theme the environment asks for (`NO_COLOR`, https://no-color.org).
    pub fn from_env() -> Theme {
        match std::env::var_os("NO_COLOR") {
            Some(v) if !v.is_empty() => Theme::monochrome(),
            _ => Theme::colour(),
        }
    }
}
