//! A filterable list to pick from: roles (give a role, compare with, the form's role
//! field), packages (`g` on Users, the form's packages field) or users (a new member).
//! It opens on the role the user holds now; typing filters, matched letters lit.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::{Overlay, PickPurpose, keys_line, safe, show};
use crate::tui::app::App;
use crate::tui::widgets::list::{FilteredList, highlighted_row};

/// A picker over `choices`, starting on `current` when it is one of them.
pub fn role_pick(
    purpose: PickPurpose,
    title: String,
    choices: Vec<(i64, String)>,
    current: Option<i64>,
) -> Overlay {
    let haystacks: Vec<String> = choices.iter().map(|(_, n)| n.to_lowercase()).collect();
    let mut list = FilteredList::new(choices.len());
    list.editing = true;
    if let Some(pos) = current.and_then(|c| choices.iter().position(|(id, _)| *id == c)) {
        list.select_source(pos);
    }
    Overlay::Pick {
        purpose,
        title,
        choices,
        haystacks,
        list,
    }
}

pub fn draw(app: &App, overlay: &Overlay, frame: &mut Frame, area: Rect) {
    let Overlay::Pick {
        purpose,
        title,
        choices,
        list,
        ..
    } = overlay
    else {
        return;
    };
    let t = &app.theme;
    let mut filter = vec![Span::styled("Filter ", t.header)];
    filter.extend(list.query.line(true, t.normal, t.cursor).spans);
    let mut body = vec![Line::from(filter)];
    if list.shown() == 0 {
        let what = match purpose {
            PickPurpose::Member => "user",
            PickPurpose::FormPackage | PickPurpose::Package { .. } => "package",
            PickPurpose::ExceptionFor => "resource",
            PickPurpose::WhoCanOn { .. } => "permission",
            _ => "role",
        };
        body.push(Line::from(Span::styled(
            format!("no {what} matches; Ctrl-U clears the filter"),
            t.dim,
        )));
    }
    let room = area.height.saturating_sub(8) as usize;
    let (offset, window) = list.window(room.max(1));
    let selected = list.selected_position();
    for (i, &src) in window.iter().enumerate() {
        let mut spans = vec![Span::raw("  ")];
        spans.extend(highlighted_row(
            &choices[src].1,
            list.applied_query(),
            app.matcher(),
            t,
        ));
        let line = Line::from(spans);
        body.push(if offset + i == selected {
            line.style(t.selected)
        } else {
            line
        });
    }
    let hidden = list.shown().saturating_sub(offset + window.len());
    if hidden > 0 || offset > 0 {
        body.push(Line::from(Span::styled(
            super::more_note(offset, hidden, t.ascii).trim().to_string(),
            t.dim,
        )));
    }
    let what = match purpose {
        PickPurpose::AssignRole { users } => format!(
            "give the role to {} user{}",
            users.len(),
            if users.len() == 1 { "" } else { "s" }
        ),
        PickPurpose::CompareWith { .. } => "compare".to_string(),
        PickPurpose::FormRole | PickPurpose::Member => "choose".to_string(),
        PickPurpose::ExceptionFor => "edit its exception".to_string(),
        PickPurpose::WhoCanOn { .. } => "show who can".to_string(),
        PickPurpose::FormPackage => "join / leave".to_string(),
        PickPurpose::Package { users } => format!(
            "put {} user{} in, or take them out",
            users.len(),
            if users.len() == 1 { "" } else { "s" }
        ),
    };
    let keys = keys_line(
        t,
        &[
            ("type", "to filter"),
            ("↑/↓", "move"),
            ("Enter", &what),
            ("Esc", "cancel"),
        ],
    );
    show(t, frame, area, &safe(title), body, keys, None);
}
