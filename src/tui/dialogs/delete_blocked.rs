//! Delete refused because the role is in use: who holds it, and the way forward
//! (move them to another role and delete, in one step).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::{Overlay, keys_line, safe, show};
use crate::tui::app::App;

pub fn draw(app: &App, overlay: &Overlay, frame: &mut Frame, area: Rect) {
    let Overlay::DeleteBlocked {
        info,
        choices,
        list,
        ..
    } = overlay
    else {
        return;
    };
    let t = &app.theme;
    let role = safe(&info.role);
    let mut body = Vec::new();
    if info.user_count > 0 {
        let users = if info.user_count == 1 {
            "user"
        } else {
            "users"
        };
        body.push(Line::from(format!(
            "\"{role}\" is still assigned to {} {users}:",
            info.user_count
        )));
        body.push(Line::from(Span::styled(
            format!("  {}", info.names()),
            t.header,
        )));
    }
    if !info.packages.is_empty() {
        let n = info.packages.len();
        let via = info.users_via_packages;
        body.push(Line::from(format!(
            "\"{role}\" is assigned to {n} package{} ({}); {via} user{} reach it through them.",
            if n == 1 { "" } else { "s" },
            info.package_names(),
            if via == 1 { "" } else { "s" },
        )));
    }
    if info.is_default {
        body.push(Line::from(format!(
            "\"{role}\" is the default role for new users."
        )));
    }
    body.push(Line::default());
    let title = format!("Cannot delete \"{role}\": it is in use");
    if info.is_default {
        body.push(Line::from(
            "Make another role the default first (select it on Roles and press *), then delete this one.",
        ));
        let keys = keys_line(t, &[("Esc", "close; nothing was deleted")]);
        show(t, frame, area, &title, body, keys, None);
        return;
    }
    body.push(Line::from(if info.packages.is_empty() {
        "Way forward: move these users to another role and delete, in one step:"
    } else {
        "Way forward: give another role their place (in the packages too) and delete, in one step:"
    }));
    let room = area.height.saturating_sub(12).max(3) as usize;
    let (offset, window) = list.window(room);
    let selected = list.selected_position();
    for (i, &src) in window.iter().enumerate() {
        let is_selected = offset + i == selected;
        let line = Line::from(format!(
            "  {} {}",
            if is_selected { ">" } else { " " },
            safe(&choices[src].1)
        ));
        body.push(if is_selected {
            line.style(t.selected)
        } else {
            line
        });
    }
    let target = list
        .selected_source()
        .and_then(|i| choices.get(i))
        .map(|(_, n)| safe(n))
        .unwrap_or_default();
    let enter = format!("move them to \"{target}\" and delete");
    let keys = keys_line(t, &[("↑/↓", "pick"), ("Enter", &enter), ("Esc", "cancel")]);
    show(t, frame, area, &title, body, keys, None);
}
