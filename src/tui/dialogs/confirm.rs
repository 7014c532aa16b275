//! Yes/no dialogs, the save summary among them. "Discard unsaved changes?" takes
//! only `y` for yes: Enter, `n` and Esc keep editing.

use std::collections::BTreeMap;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::{Overlay, Pending, keys_line, safe, show};
use crate::tui::app::App;
use crate::tui::screens::role_editor::SaveSummary;

pub fn draw(app: &App, overlay: &Overlay, frame: &mut Frame, area: Rect) {
    let Overlay::Confirm {
        title,
        lines,
        pending,
        scroll,
    } = overlay
    else {
        return;
    };
    let t = &app.theme;
    let mut body: Vec<Line> = lines.iter().map(|l| Line::from(safe(l))).collect();
    if let Pending::Save(summary) = pending {
        body.extend(save_lines(app, summary));
    }
    let keys = match pending {
        Pending::Discard => keys_line(t, &[("y", "discard"), ("n/Esc/Enter", "keep editing")]),
        _ => keys_line(t, &[("y/Enter", "confirm"), ("n/Esc", "cancel")]),
    };
    show(t, frame, area, &safe(title), body, keys, Some(scroll));
}

/// Every change a save makes, permissions grouped by their category.
pub fn save_lines(app: &App, s: &SaveSummary) -> Vec<Line<'static>> {
    let t = &app.theme;
    let mut out = Vec::new();
    if let Some((old, new)) = &s.rename {
        out.push(Line::from(format!(
            "Rename: \"{}\" → \"{}\"",
            safe(old),
            safe(new)
        )));
    }
    if s.description_changed {
        out.push(Line::from("Description changed"));
    }
    for (label, list, style) in [
        ("Add", &s.added, t.checked),
        ("Remove", &s.removed, t.error),
    ] {
        if list.is_empty() {
            continue;
        }
        out.push(Line::from(Span::styled(
            format!(
                "{label} {} permission{}:",
                list.len(),
                if list.len() == 1 { "" } else { "s" }
            ),
            style,
        )));
        // Grouped by category, in catalog order (the list is in catalog order).
        let mut order: Vec<String> = Vec::new();
        let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (_, path) in list {
            let (category, leaf) = path.rsplit_once(" > ").unwrap_or(("", path));
            if !groups.contains_key(category) {
                order.push(category.to_string());
            }
            groups
                .entry(category.to_string())
                .or_default()
                .push(leaf.to_string());
        }
        for category in order {
            let leaves = &groups[&category];
            if !category.is_empty() {
                out.push(Line::from(Span::styled(
                    format!("  {} ({})", safe(&category), leaves.len()),
                    t.header,
                )));
            }
            for leaf in leaves {
                out.push(Line::from(format!("    {}", safe(leaf))));
            }
        }
    }
    let users = match (s.users, s.via_packages) {
        (0, 0) => "No user holds this role, directly or through a package.".to_string(),
        (d, v) => crate::tui::screens::role_editor::holders_sentence(d, v),
    };
    out.push(Line::from(Span::styled(users, t.header)));
    out
}
