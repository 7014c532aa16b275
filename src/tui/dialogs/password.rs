//! A new password, typed twice into masked fields.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::{Overlay, keys_line, safe, show};
use crate::tui::app::App;
use crate::tui::widgets::input::TextInput;

pub fn draw(app: &App, overlay: &Overlay, frame: &mut Frame, area: Rect) {
    let Overlay::Password {
        username,
        first,
        second,
        on_second,
    } = overlay
    else {
        return;
    };
    let t = &app.theme;
    let row = |label: &str, input: &TextInput, focused: bool| {
        let mut spans = vec![Span::styled(
            format!("{label:<18}"),
            if focused { t.key } else { t.header },
        )];
        spans.extend(input.masked_line(focused, t.normal, t.cursor).spans);
        Line::from(spans)
    };
    let body = vec![
        row("New password", first, !on_second),
        row("Type it again", second, *on_second),
        Line::default(),
        Line::from(Span::styled(
            "At least 8 characters; stored only as an argon2id hash.",
            t.dim,
        )),
    ];
    let keys = keys_line(t, &[("Enter", "next / set"), ("Esc", "cancel")]);
    let title = format!("Password for \"{}\"", safe(username));
    show(t, frame, area, &title, body, keys, None);
}
