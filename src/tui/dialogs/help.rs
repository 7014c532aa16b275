//! The help overlay, generated from the key table: first the keys that work in the
//! place it was opened from (only those that work now), then every other place's.
//! Two columns when the screen is wide enough.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::{keys_line, show};
use crate::tui::app::App;
use crate::tui::keys::{self, ALL_SCOPES, Action, Binding};
use crate::tui::widgets::scroll_text::ScrollText;

/// Width at which the help uses two columns.
const TWO_COLUMNS: u16 = 100;

pub fn draw(app: &App, scroll: &ScrollText, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let sections = sections(app);
    let body = if area.width >= TWO_COLUMNS {
        two_columns(sections, (area.width.saturating_sub(10) / 2) as usize)
    } else {
        sections.into_iter().flatten().collect()
    };
    let keys = keys_line(
        t,
        &[("↑/↓ PgUp/PgDn Home/End", "scroll"), ("Esc/?", "close")],
    );
    show(
        t,
        frame,
        area,
        "Keys · Esc closes",
        body,
        keys,
        Some(scroll),
    );
}

fn is_move(a: Action) -> bool {
    matches!(
        a,
        Action::Up | Action::Down | Action::PageUp | Action::PageDown | Action::Home | Action::End
    )
}

fn section(app: &App, title: String, bindings: &[&'static Binding]) -> Vec<Line<'static>> {
    let t = &app.theme;
    let mut out = vec![Line::from(Span::styled(title, t.header))];
    let movement: Vec<String> = bindings
        .iter()
        .filter(|b| is_move(b.action))
        .map(|b| keys::hint(b.label, t.ascii))
        .collect();
    if !movement.is_empty() {
        out.push(Line::from(vec![
            Span::styled(format!("  {}", movement.join(" ")), t.key),
            Span::raw("  move"),
        ]));
    }
    // The key column is as wide as the section's widest key, so a key never runs
    // into its words ("n/Esc/Enter keep editing").
    let width = bindings
        .iter()
        .filter(|b| !is_move(b.action))
        .map(|b| crate::text::width(&keys::hint(b.label, t.ascii)))
        .max()
        .unwrap_or(0)
        .max(10);
    for b in bindings.iter().filter(|b| !is_move(b.action)) {
        let key = keys::hint(b.label, t.ascii);
        let pad = width + 1 - crate::text::width(&key);
        out.push(Line::from(vec![
            Span::styled(format!("  {key}{}", " ".repeat(pad)), t.key),
            Span::raw(b.what),
        ]));
    }
    out
}

/// The help's sections: "here" first, then every scope not in focus.
fn sections(app: &App) -> Vec<Vec<Line<'static>>> {
    let t = &app.theme;
    let here_scopes = app.help_scopes();
    let here = keys::active(&here_scopes, |a| app.available(a));
    let mut out = vec![section(app, format!("Here: {}", app.place_name()), &here)];
    for scope in ALL_SCOPES.iter().filter(|s| !here_scopes.contains(s)) {
        let all: Vec<&'static Binding> = keys::bindings().filter(|b| b.scope == *scope).collect();
        out.push(section(app, keys::scope_title(*scope).to_string(), &all));
    }
    let general = vec![
        Line::from(Span::styled("Everywhere", t.header)),
        Line::from(vec![
            Span::styled("  Ctrl-C     ", t.key),
            Span::raw("quit from anywhere"),
        ]),
        Line::from(vec![
            Span::styled("  mouse      ", t.key),
            Span::raw("click selects, double click opens, click an arrow or box"),
        ]),
        Line::from("             opens it or toggles it, wheel scrolls lists and dialogs"),
    ];
    out.push(general);
    out
}

/// Sections laid out in two columns of `width`, filled left then right.
fn two_columns(sections: Vec<Vec<Line<'static>>>, width: usize) -> Vec<Line<'static>> {
    let total: usize = sections.iter().map(|s| s.len() + 1).sum();
    let mut left: Vec<Line> = Vec::new();
    let mut right: Vec<Line> = Vec::new();
    for s in sections {
        let column = if left.len() < total.div_ceil(2) {
            &mut left
        } else {
            &mut right
        };
        column.extend(s);
        column.push(Line::default());
    }
    let rows = left.len().max(right.len());
    (0..rows)
        .map(|i| {
            let mut spans: Vec<Span> = Vec::new();
            let l = left.get(i).cloned().unwrap_or_default();
            let used = l.width().min(width);
            spans.extend(fit(l, width));
            spans.push(Span::raw(" ".repeat(width.saturating_sub(used) + 2)));
            if let Some(r) = right.get(i) {
                spans.extend(fit(r.clone(), width));
            }
            Line::from(spans)
        })
        .collect()
}

/// A line's spans cut to `width` columns, with `…` where it was cut.
fn fit(line: Line<'static>, width: usize) -> Vec<Span<'static>> {
    if line.width() <= width {
        return line.spans;
    }
    let mut out = Vec::new();
    let mut left = width;
    for span in line.spans {
        let w = span.width();
        if w < left {
            left -= w;
            out.push(span);
        } else {
            let cut = crate::text::truncate(&span.content, left).into_owned();
            out.push(Span::styled(cut, span.style));
            break;
        }
    }
    out
}
