//! The user form: fields with their validation messages on the left, the user's
//! effective permissions on the right with the reason for the selected one (the
//! same answer `rolecall check --explain` gives).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use crate::domain::access;
use crate::text::display_safe;
use crate::tui::app::App;
use crate::tui::user_form::{Field, Mode, UserForm};

pub fn draw(app: &App, form: &UserForm, frame: &mut Frame, area: Rect) {
    let wide = area.width >= 100;
    let [left, right] = if wide {
        Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(area)
    } else {
        Layout::vertical([Constraint::Length(15.min(area.height)), Constraint::Min(0)]).areas(area)
    };
    fields(app, form, frame, left);
    permissions(app, form, frame, right);
}

fn fields(app: &App, form: &UserForm, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let title = match &form.mode {
        Mode::New => " New user ".to_string(),
        Mode::Edit {
            username, owner, ..
        } => {
            format!(
                " User {}{} ",
                display_safe(username),
                if *owner { " · owner" } else { "" }
            )
        }
    };
    let dirty = if form.is_dirty() { " · unsaved " } else { "" };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(t.border)
        .title(Span::styled(format!("{title}{dirty}"), t.title));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let mut lines = Vec::new();
    for field in Field::ALL {
        if field == Field::Permissions {
            continue;
        }
        let focused = form.focus == field;
        let label_style = if focused { t.key } else { t.header };
        let mut spans = vec![Span::styled(format!("{:<13} ", field.label()), label_style)];
        match field {
            Field::Role => {
                let text = format!("{}  (Enter to choose)", display_safe(&form.role));
                spans.push(Span::styled(
                    text,
                    if focused { t.selected } else { t.normal },
                ));
            }
            Field::Active => {
                let text = if form.active {
                    "[x] active"
                } else {
                    "[ ] disabled"
                };
                spans.push(Span::styled(
                    text,
                    if focused { t.selected } else { t.normal },
                ));
            }
            _ => {
                let input = form.input(field).expect("a text field");
                if form.is_editable(field) {
                    spans.extend(input.line(focused, t.normal, t.cursor).spans);
                } else {
                    spans.push(Span::styled(display_safe(input.text()).into_owned(), t.dim));
                }
            }
        }
        lines.push(Line::from(spans));
        if let Some(problem) = form
            .problem(field)
            .filter(|_| !form.text(field).is_empty() || focused)
        {
            lines.push(Line::from(Span::styled(
                format!("{:14}{}", "", display_safe(&problem)),
                t.error,
            )));
        }
        if field == Field::Timezone && focused {
            let names = form.timezone_suggestions(&app.tz_names, 4);
            if !names.is_empty() {
                lines.push(Line::from(Span::styled(
                    format!("{:14}Enter takes {}", "", names.join(", ")),
                    t.dim,
                )));
            }
        }
        if field == Field::Signature && focused {
            lines.push(Line::from(Span::styled(
                format!("{:14}Alt-Enter starts a new line", ""),
                t.dim,
            )));
        }
    }
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
}

fn permissions(app: &App, form: &UserForm, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let catalog = app.store.catalog();
    let focused = form.focus == Field::Permissions;
    let user = form.as_user();
    // Every role the user would hold (the form's role and their packages), as
    // `check` counts them.
    let effective = app
        .store
        .effective_grants(&user)
        .unwrap_or_else(|_| access::effective(catalog, &user, &form.grants));
    let title = format!(
        " Effective permissions · {} of {}{} ",
        effective.count(),
        catalog.leaf_count(),
        if focused {
            ""
        } else {
            " · Tab here to explore"
        }
    );
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(if focused { t.title } else { t.border })
        .title(Span::styled(title, t.title));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height < 2 {
        return;
    }
    // The reasons for the selected permission, from the same function `check
    // --explain` uses, every one of them.
    let explanation: Vec<Line> =
        match form.permissions.selected_source() {
            None => Vec::new(),
            Some(idx) => match app.store.explain(&user, &catalog.node(idx).key) {
                Ok(d) => {
                    let style = if d.allowed { t.ok } else { t.partial };
                    let verdict = if d.allowed { "allowed" } else { "denied" };
                    std::iter::once(Line::from(Span::styled(verdict, style)))
                        .chain(d.reasons.iter().map(|r| {
                            Line::from(Span::styled(format!("· {}", display_safe(r)), style))
                        }))
                        .collect()
                }
                Err(e) => vec![Line::from(Span::styled(
                    display_safe(&e.to_string()).into_owned(),
                    t.partial,
                ))],
            },
        };
    let wrapped: usize = explanation
        .iter()
        .map(|l| l.width().max(1).div_ceil(inner.width.max(1) as usize))
        .sum();
    let explain_height = (wrapped as u16).min(inner.height / 2);
    let [list_area, explain_area] =
        Layout::vertical([Constraint::Min(1), Constraint::Length(explain_height)]).areas(inner);
    let (offset, window) = form.permissions.window(list_area.height as usize);
    let selected = form.permissions.selected_position();
    let lines: Vec<Line> = window
        .iter()
        .enumerate()
        .map(|(i, &idx)| {
            let node = catalog.node(idx);
            let mut text = format!(
                "{}{} {}",
                "  ".repeat(node.depth),
                effective.state(node).mark(),
                display_safe(&node.label)
            );
            if !node.is_leaf() {
                text.push_str(&format!(
                    " {}/{}",
                    effective.count_in(node.leaves.clone()),
                    node.leaves.len()
                ));
            }
            let line = Line::from(text);
            if focused && offset + i == selected {
                line.style(t.selected)
            } else {
                line
            }
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), list_area);

    frame.render_widget(
        Paragraph::new(explanation).wrap(Wrap { trim: true }),
        explain_area,
    );
}
