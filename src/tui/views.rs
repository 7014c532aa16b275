//! The frame around the screens: the tab bar, the focused screen, the status line,
//! the footer and the open dialog. No view touches the store; every stored string is
//! drawn through `display_safe`.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::text::display_safe;
use crate::tui::app::{App, Tab};
use crate::tui::dialogs;
use crate::tui::keys::{self, Action};
use crate::tui::screens;

/// Below this the console draws only "terminal too small".
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 15;

pub fn draw(app: &App, frame: &mut Frame) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        return too_small(frame, area);
    }
    let status_rows = status_rows(app, area.width);
    let [tabs, body, status, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(status_rows),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_tabs(app, frame, tabs);
    let look = app.look();
    if let Some(editor) = &app.editor {
        screens::role_editor::draw(&look, editor, frame, body);
    } else if let Some(form) = &app.form {
        screens::user_form::draw(&look, form, frame, body);
    } else if let Some(editor) = &app.package_editor {
        editor.draw(&look, frame, body);
    } else {
        match app.tab {
            Tab::Users => app.users.draw(&look, frame, body),
            Tab::Roles => app.roles.draw(&look, frame, body),
            Tab::Packages => app.packages.draw(&look, frame, body),
            Tab::Resources => app.resources.draw(&look, frame, body),
            Tab::Audit => app.audit.draw(&look, frame, body),
        }
    }
    draw_status(app, frame, status);
    draw_footer(app, frame, footer);
    for overlay in app.overlays() {
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
    let mut spans = Vec::new();
    let mut hit = app.hit.get();
    let mut x = area.x;
    for (i, tab) in app.tabs().iter().enumerate() {
        let count = match tab {
            Tab::Users => app.users.total,
            Tab::Roles => app.roles.view.rows.len(),
            Tab::Packages => app.names.packages.len(),
            Tab::Audit => app.audit.total,
            Tab::Resources => app.resources.view.rows.len(),
        };
        let label = match tab {
            // A served operator who may not read the log is not told its size.
            Tab::Audit if app.audit.refused.is_some() || app.audit.is_counting() => {
                format!(" {} {} ", i + 1, tab.title())
            }
            _ => format!(" {} {} ({}) ", i + 1, tab.title(), count),
        };
        let style = if *tab == app.tab {
            t.tab_active
        } else {
            t.normal
        };
        x = x.saturating_add(crate::text::width(&label) as u16);
        hit.tab_ends[i] = x;
        spans.push(Span::styled(label, style));
    }
    hit.tabs = Rect {
        width: x.saturating_sub(area.x).min(area.width),
        ..area
    };
    app.hit.set(hit);
    let path = app.store.path();
    let is_pg = app.store.is_postgres();
    let mut right = location_forms(path, is_pg).remove(0);
    let used: usize = spans.iter().map(|s| s.width()).sum();
    let room = (area.width as usize).saturating_sub(used + 1);
    let ro = if app.store.is_read_only() {
        "  [read-only]"
    } else {
        ""
    };
    // A served session says whose rights it acts with (SPEC §13).
    let mut who = app
        .store
        .operator()
        .map(|name| format!("as {}  ", display_safe(name)))
        .unwrap_or_default();
    // A long location gives way to a shorter form of it: a file's name, a URL's
    // database (what tells databases apart).
    let fixed = crate::text::width(&who) + ro.len();
    if fixed + crate::text::width(&right) > room {
        right = fitted_location(path, is_pg, room.saturating_sub(fixed));
    }
    // Still too long: who and read-only matter more than which file.
    if !who.is_empty() && crate::text::width(&who) + crate::text::width(&right) + ro.len() > room {
        right.clear();
        who.truncate(who.trim_end().len());
    }
    right.insert_str(0, &who);
    right.push_str(ro);
    let right = crate::text::truncate(&right, room).into_owned();
    spans.push(Span::raw(
        " ".repeat(room.saturating_sub(crate::text::width(&right))),
    ));
    spans.push(Span::styled(right, t.dim));
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The ways the title bar can name the database, longest first: a file's path, then
/// `…/` and its file name; a PostgreSQL URL without its password, then without its
/// parameters (`?host=/socket/folder`, `sslmode`), then `postgres://…/` and the
/// database's name, then `…/` and the name alone. A URL's path names its database;
/// the socket folder a `host=` parameter names is never shown as if it were one.
pub fn location_forms(path: &std::path::Path, is_pg: bool) -> Vec<String> {
    let full = path.display().to_string();
    let mut forms = Vec::new();
    if is_pg {
        // The store shows URLs without their password already; redacting again costs
        // nothing and keeps the title safe whatever a caller passes.
        let url = crate::store::redact_url(&full);
        let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", &url));
        let (before_query, query) = rest.split_once('?').unwrap_or((rest, ""));
        let in_path = before_query
            .split_once('/')
            .map(|(_, db)| db)
            .filter(|db| !db.is_empty());
        let database = in_path.or_else(|| {
            query
                .split('&')
                .find_map(|kv| kv.strip_prefix("dbname="))
                .filter(|db| !db.is_empty())
        });
        forms.push(url.clone());
        // Without its parameters only while that keeps the database's name.
        if in_path.is_some() && !query.is_empty() {
            forms.push(format!("{scheme}://{before_query}"));
        }
        if let Some(database) = database {
            forms.push(format!("{scheme}://…/{database}"));
            forms.push(format!("…/{database}"));
        }
    } else {
        forms.push(display_safe(&full).into_owned());
        if let Some(name) = path.file_name() {
            forms.push(format!("…/{}", display_safe(&name.to_string_lossy())));
        }
    }
    forms.dedup();
    forms
}

/// The longest of [`location_forms`] that fits in `room` columns, else the shortest
/// (the title bar cuts it, or leaves it out for the operator's name).
pub fn fitted_location(path: &std::path::Path, is_pg: bool, room: usize) -> String {
    let mut forms = location_forms(path, is_pg);
    match forms.iter().position(|f| crate::text::width(f) <= room) {
        Some(i) => forms.swap_remove(i),
        None => forms.pop().unwrap_or_default(),
    }
}

/// The status line takes a second row when its text is longer than one.
fn status_rows(app: &App, width: u16) -> u16 {
    match &app.status {
        Some(s) if crate::text::width(&s.text) > width as usize => 2,
        _ => 1,
    }
}

/// The status: wrapped to two rows when long; beyond that the second row ends in
/// `…` and the footer offers Ctrl-L, which shows the whole message.
fn draw_status(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let Some(s) = &app.status else {
        app.status_cut.set(false);
        return;
    };
    let style = if s.error { t.error } else { t.ok };
    let width = area.width as usize;
    let mut rows = crate::tui::widgets::scroll_text::wrap(
        vec![Line::from(Span::styled(
            display_safe(&s.text).into_owned(),
            style,
        ))],
        width,
    );
    let cut = rows.len() > area.height as usize;
    app.status_cut.set(cut);
    if cut {
        rows.truncate(area.height as usize);
        if let Some(last) = rows.last_mut() {
            let text: String = last.spans.iter().map(|s| s.content.as_ref()).collect();
            let kept = crate::text::truncate(&text, width.saturating_sub(1));
            let kept = kept.trim_end_matches('…').trim_end();
            *last = Line::from(Span::styled(format!("{kept}…"), style));
        }
    }
    frame.render_widget(Paragraph::new(rows), area);
}

/// The keys that work now, from the key table: `?` help and `q` quit first (where
/// they work), then the current place's; under a search, how many permissions the
/// tree keys act on.
fn draw_footer(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let mut spans = Vec::new();
    if let Some(editor) = &app.editor
        && editor.is_searching()
        && app.overlay().is_none()
    {
        let n = editor.shown_leaf_count(app.store.catalog());
        spans.push(Span::styled(
            format!("search: Space/a act on {n} shown  "),
            t.header,
        ));
    }
    let bindings = keys::active(&app.scopes(), |a| app.available(a));
    let first = |b: &&keys::Binding| {
        matches!(
            b.action,
            Action::Help
                | Action::Quit
                | Action::Save
                | Action::Back
                | Action::ClearSearch
                | Action::ShowStatus
        )
    };
    let mut room = area.width as usize;
    room = room.saturating_sub(spans.iter().map(Span::width).sum::<usize>());
    let ordered = bindings
        .iter()
        .filter(|b| b.footer && first(b))
        .chain(bindings.iter().filter(|b| b.footer && !first(b)));
    for b in ordered {
        let label = keys::hint(b.label, t.ascii);
        let cost = crate::text::width(&label) + crate::text::width(b.what) + 3;
        if cost > room {
            continue;
        }
        room -= cost;
        spans.push(Span::styled(label, t.key));
        spans.push(Span::styled(format!(" {}  ", b.what), Style::default()));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    const SOCKET_URL: &str = "postgresql://postgres@/rolecall_prod?host=/tmp/rolecall-pg.Xy12ab";

    #[test]
    fn a_postgres_url_gives_way_to_its_database_never_its_socket_folder() {
        let url = Path::new(SOCKET_URL);
        assert_eq!(fitted_location(url, true, 200), SOCKET_URL);
        let cases = [
            (60, "postgresql://postgres@/rolecall_prod"),
            (30, "postgresql://…/rolecall_prod"),
            (20, "…/rolecall_prod"),
        ];
        for (room, want) in cases {
            let got = fitted_location(url, true, room);
            assert_eq!(got, want, "in {room} columns");
            assert!(crate::text::width(&got) <= room, "{got} fits in {room}");
        }
        // Too narrow for any form: the shortest, which the title bar cuts.
        assert_eq!(fitted_location(url, true, 5), "…/rolecall_prod");
        // Shortened, no form keeps the socket folder (the whole URL names it as
        // its host, where it belongs).
        for room in 0..SOCKET_URL.len() {
            let got = fitted_location(url, true, room);
            assert!(
                !got.contains("rolecall-pg") && got.ends_with("rolecall_prod"),
                "in {room} columns: {got}"
            );
        }
    }

    #[test]
    fn a_postgres_url_is_shown_without_its_password_in_every_form() {
        let url = Path::new(
            "postgres://alice:s3cret@db.example:5432/app?sslmode=require&password=hunter2",
        );
        let forms = location_forms(url, true);
        assert_eq!(
            forms,
            [
                "postgres://alice@db.example:5432/app?sslmode=require",
                "postgres://alice@db.example:5432/app",
                "postgres://…/app",
                "…/app",
            ]
        );
        // A database named only by a parameter.
        let by_param = Path::new("postgres://bob@/?dbname=policy&host=/run/pg");
        assert_eq!(fitted_location(by_param, true, 20), "postgres://…/policy");
    }

    #[test]
    fn a_file_gives_way_to_its_name() {
        let file = Path::new("/srv/teams/marketing/rolecall.db");
        assert_eq!(
            fitted_location(file, false, 80),
            "/srv/teams/marketing/rolecall.db"
        );
        assert_eq!(fitted_location(file, false, 20), "…/rolecall.db");
        assert_eq!(fitted_location(file, false, 3), "…/rolecall.db");
    }
}
