//! One line to type, checked as it is typed: the name of a clone.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::{Overlay, PromptPurpose, keys_line, safe, show};
use crate::tui::app::App;

pub fn draw(app: &App, overlay: &Overlay, frame: &mut Frame, area: Rect) {
    let Overlay::Prompt {
        title,
        input,
        purpose,
    } = overlay
    else {
        return;
    };
    let t = &app.theme;
    let mut field = vec![Span::styled("Name  ", t.key)];
    field.extend(input.line(true, t.normal, t.cursor).spans);
    let mut body = vec![Line::from(field)];
    let PromptPurpose::CloneName { .. } = purpose;
    match app.names.role_name_problem(input.text(), None) {
        Some(problem) => body.push(Line::from(Span::styled(safe(&problem), t.error))),
        None => body.push(Line::from(Span::styled(
            "The copy gets every permission of the role it copies.",
            t.dim,
        ))),
    }
    let keys = keys_line(t, &[("Enter", "create the copy"), ("Esc", "cancel")]);
    show(t, frame, area, &safe(title), body, keys, None);
}
