//! Drawing: one function per screen, each reading `App` and writing the frame. No
//! view touches the store; every stored string is drawn through `display_safe`.

mod dialogs;
mod editor;
mod form;
mod lists;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::text::display_safe;
use crate::tui::app::{App, Tab};
use crate::tui::keys;

/// Below this the console draws only "terminal too small".
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 15;

pub fn draw(app: &App, frame: &mut Frame) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        return too_small(frame, area);
    }
    let [tabs, body, status, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_tabs(app, frame, tabs);
    if let Some(editor) = &app.editor {
        editor::draw(app, editor, frame, body);
    } else if let Some(form) = &app.form {
        form::draw(app, form, frame, body);
    } else {
        match app.tab {
            Tab::Users => lists::users(app, frame, body),
            Tab::Roles => lists::roles(app, frame, body),
            Tab::Audit => lists::audit(app, frame, body),
        }
    }
    draw_status(app, frame, status);
    draw_footer(app, frame, footer);
    if let Some(overlay) = &app.overlay {
        dialogs::draw(app, overlay, frame, area);
    }
    if app.theme.ascii {
        asciify(frame.buffer_mut());
    }
}

/// Replaces the box-drawing characters, arrows and marks of a drawn frame with ASCII,
/// in one place rather than at every widget.
fn asciify(buf: &mut ratatui::buffer::Buffer) {
    for cell in buf.content.iter_mut() {
        if let Some(ascii) = crate::tui::theme::ascii_symbol(cell.symbol()) {
            cell.set_symbol(ascii);
        }
    }
}

fn too_small(frame: &mut Frame, area: Rect) {
    let text = format!(
        "terminal too small: need {MIN_WIDTH}x{MIN_HEIGHT}, have {}x{}",
        area.width, area.height
    );
    let y = area.y + area.height / 2;
    let line = Rect {
        y,
        height: 1.min(area.height),
        ..area
    };
    frame.render_widget(Paragraph::new(text).centered(), line);
}

fn draw_tabs(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let counts = [app.users_total, app.roles.rows.len(), app.audit_total];
    let mut spans = Vec::new();
    for (i, tab) in Tab::ALL.iter().enumerate() {
        let label = format!(" {} {} ({}) ", i + 1, tab.title(), counts[i]);
        let label = format!("{label:<14}");
        let style = if *tab == app.tab {
            t.tab_active
        } else {
            t.normal
        };
        spans.push(Span::styled(label, style));
    }
    let mut hit = app.hit.get();
    hit.tabs = Rect {
        width: 42.min(area.width),
        ..area
    };
    app.hit.set(hit);
    let mut right = display_safe(&app.store.path().display().to_string()).into_owned();
    if app.store.is_read_only() {
        right.push_str("  [read-only]");
    }
    let used: usize = spans.iter().map(|s| s.width()).sum();
    let room = (area.width as usize).saturating_sub(used + 1);
    let right = crate::text::truncate(&right, room).into_owned();
    spans.push(Span::raw(
        " ".repeat(room.saturating_sub(crate::text::width(&right))),
    ));
    spans.push(Span::styled(right, t.dim));
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn draw_status(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let line = match &app.status {
        Some(s) => {
            let style = if s.error { t.error } else { t.ok };
            Line::from(Span::styled(display_safe(&s.text).into_owned(), style))
        }
        None => Line::default(),
    };
    frame.render_widget(Paragraph::new(line), area);
}

/// The keys that work now, from the key table; under a search, how many
/// permissions the tree keys act on.
fn draw_footer(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let mut spans = Vec::new();
    if let Some(editor) = &app.editor
        && editor.is_searching()
    {
        let n = editor.shown_leaf_count(app.store.catalog());
        spans.push(Span::styled(
            format!("search: Space/a act on {n} shown  "),
            t.header,
        ));
    }
    // Keys are listed innermost first; the help key always stays visible at the end,
    // so what does not fit is still one keystroke away.
    let bindings = keys::footer(&app.scopes());
    let cost = |b: &keys::Binding| crate::text::width(b.label) + crate::text::width(b.what) + 3;
    let help = bindings.iter().find(|b| b.action == keys::Action::Help);
    let mut room = (area.width as usize)
        .saturating_sub(spans.iter().map(Span::width).sum::<usize>())
        .saturating_sub(help.map_or(0, |b| cost(b)));
    for b in bindings
        .iter()
        .filter(|b| b.action != keys::Action::Help)
        .chain(help)
    {
        if b.action != keys::Action::Help {
            if cost(b) > room {
                continue;
            }
            room -= cost(b);
        }
        spans.push(Span::styled(b.label, t.key));
        spans.push(Span::styled(format!(" {}  ", b.what), Style::default()));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
