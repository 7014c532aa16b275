//! The Users, Roles and Audit lists. Only the rows in the window are built; the
//! Roles view adds a read-only preview of the selected role's permissions.

use fuzzy_matcher::FuzzyMatcher;
use fuzzy_matcher::skim::SkimMatcherV2;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use crate::domain::catalog::CheckState;
use crate::text::{display_safe, truncate, width};
use crate::tui::app::{App, ListView};
use crate::tui::editor::highlighted;
use crate::tui::theme::Theme;

/// A column: heading and width in terminal columns (0 = take the rest).
struct Column {
    title: &'static str,
    width: u16,
}

/// One cell: text, and whether the filter highlights matched letters in it.
struct Cell {
    text: String,
    fuzzy: bool,
}

fn cell(text: impl Into<String>) -> Cell {
    Cell {
        text: text.into(),
        fuzzy: false,
    }
}

fn fuzzy(text: impl Into<String>) -> Cell {
    Cell {
        text: text.into(),
        fuzzy: true,
    }
}

/// Widths for `columns` in `total` columns: fixed ones as given, the rest shared.
fn widths(columns: &[Column], total: u16) -> Vec<u16> {
    let fixed: u16 = columns.iter().map(|c| c.width + 1).sum();
    let flexible = columns.iter().filter(|c| c.width == 0).count() as u16;
    let spare = total.saturating_sub(fixed);
    columns
        .iter()
        .map(|c| {
            if c.width == 0 {
                spare / flexible.max(1)
            } else {
                c.width
            }
        })
        .collect()
}

fn row_line(
    cells: Vec<Cell>,
    widths: &[u16],
    query: &str,
    matcher: &SkimMatcherV2,
    t: &Theme,
) -> Line<'static> {
    let mut spans = Vec::new();
    for (c, w) in cells.into_iter().zip(widths) {
        let w = *w as usize;
        let safe = display_safe(&c.text);
        let shown = truncate(&safe, w).into_owned();
        let hits = if c.fuzzy && !query.is_empty() {
            matcher
                .fuzzy_indices(&shown, query)
                .map(|(_, i)| i)
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        let used = width(&shown);
        spans.extend(highlighted(&shown, &hits, t.normal, t.matched));
        spans.push(Span::raw(" ".repeat(w.saturating_sub(used) + 1)));
    }
    Line::from(spans)
}

/// Draws a list: filter line, header, visible rows; records where rows start.
/// What a list is drawn with besides its rows.
struct ListLook<'a> {
    title: &'a str,
    columns: &'a [Column],
    /// The full row count while the rest of the list still loads.
    loading: Option<usize>,
}

fn draw_list<T>(
    app: &App,
    frame: &mut Frame,
    area: Rect,
    view: &ListView<T>,
    look: ListLook<'_>,
    make_row: impl Fn(&T) -> Vec<Cell>,
) {
    let ListLook {
        title,
        columns,
        loading,
    } = look;
    let t = &app.theme;
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(t.border)
        .title(Span::styled(format!(" {title} "), t.title));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height < 3 || inner.width < 4 {
        return;
    }
    let [filter_area, header_area, rows_area] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(0),
    ])
    .areas(inner);
    let list = &view.list;

    // The filter line: what is typed, and how many rows it lets through.
    let count = match (loading, list.is_filtered()) {
        (Some(total), _) => format!("{} of {total} loaded so far", list.total()),
        (None, true) => format!("{} of {}", list.shown(), list.total()),
        (None, false) => format!("{} total", list.total()),
    };
    let filter_line = if list.editing || list.is_filtered() {
        let mut spans = vec![Span::styled("/", t.key)];
        spans.extend(list.query.line(list.editing, t.normal, t.cursor).spans);
        spans.push(Span::styled(format!("   {count}"), t.dim));
        Line::from(spans)
    } else {
        Line::from(Span::styled(format!("{count} · / to filter"), t.dim))
    };
    frame.render_widget(Paragraph::new(filter_line), filter_area);

    let w = widths(columns, inner.width);
    let header: Vec<Span> = columns
        .iter()
        .zip(&w)
        .map(|(c, w)| {
            Span::styled(
                format!("{:<width$} ", c.title, width = *w as usize),
                t.header,
            )
        })
        .collect();
    frame.render_widget(Paragraph::new(Line::from(header)), header_area);

    let mut hit = app.hit.get();
    hit.list_rows = rows_area;
    app.hit.set(hit);
    let (offset, window) = list.window(rows_area.height as usize);
    let query = list.applied_query();
    let matcher = app.matcher();
    let selected = list.selected_position();
    let lines: Vec<Line> = window
        .iter()
        .enumerate()
        .map(|(i, &src)| {
            let line = row_line(make_row(&view.rows[src]), &w, query, matcher, t);
            if offset + i == selected {
                line.style(t.selected)
            } else {
                line
            }
        })
        .collect();
    if lines.is_empty() {
        let empty = if list.is_filtered() {
            "no match; Esc clears the filter"
        } else {
            "nothing here yet"
        };
        frame.render_widget(Paragraph::new(Span::styled(empty, t.dim)), rows_area);
    } else {
        frame.render_widget(Paragraph::new(lines), rows_area);
    }
}

pub fn users(app: &App, frame: &mut Frame, area: Rect) {
    let columns = [
        Column {
            title: "",
            width: 1,
        },
        Column {
            title: "USERNAME",
            width: 18,
        },
        Column {
            title: "NAME",
            width: 0,
        },
        Column {
            title: "EMAIL",
            width: 0,
        },
        Column {
            title: "ROLE",
            width: 18,
        },
        Column {
            title: "STATUS",
            width: 14,
        },
    ];
    let look = ListLook {
        title: "Users",
        columns: &columns,
        loading: app.is_loading_users().then_some(app.users_total),
    };
    draw_list(app, frame, area, &app.users, look, |u| {
        let status = match (u.active, u.owner) {
            (true, true) => "active, owner",
            (true, false) => "active",
            (false, _) => "disabled",
        };
        vec![
            cell(if app.tagged.contains(&u.id) { "*" } else { "" }),
            fuzzy(u.username.clone()),
            fuzzy(u.full_name()),
            fuzzy(u.email.clone()),
            cell(app.role_name(u.role_id).to_string()),
            cell(status),
        ]
    });
}

pub fn roles(app: &App, frame: &mut Frame, area: Rect) {
    let wide = area.width >= 110;
    let [list_area, preview_area] = if wide {
        Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(area)
    } else {
        Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(area)
    };
    let columns = [
        Column {
            title: "ID",
            width: 4,
        },
        Column {
            title: "NAME",
            width: 0,
        },
        Column {
            title: "USERS",
            width: 6,
        },
        Column {
            title: "GRANTED",
            width: 8,
        },
        Column {
            title: "CREATED ON",
            width: 10,
        },
        Column {
            title: "",
            width: 9,
        },
    ];
    let default = app.default_role;
    let look = ListLook {
        title: "Roles",
        columns: &columns,
        loading: None,
    };
    draw_list(app, frame, list_area, &app.roles, look, |r| {
        let mark = if r.builtin {
            "locked"
        } else if r.id == default {
            "default"
        } else {
            ""
        };
        vec![
            cell(r.id.to_string()),
            fuzzy(r.name.clone()),
            cell(r.users.to_string()),
            cell(format!("{}/{}", r.granted_count, r.total)),
            cell(r.created_at.get(..10).unwrap_or(&r.created_at).to_string()),
            cell(mark),
        ]
    });
    preview(app, frame, preview_area);
}

/// The selected role's permissions, read-only: categories with counts and marks,
/// leaves under partly granted categories.
fn preview(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let title = match &app.preview {
        Some(r) => format!(
            " {} · {} of {} ",
            display_safe(&r.name),
            r.grants.count(),
            app.store.catalog().leaf_count()
        ),
        None => " Permissions ".to_string(),
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(t.border)
        .title(Span::styled(title, t.title));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(role) = &app.preview else { return };
    let catalog = app.store.catalog();
    let mut lines = Vec::new();
    if !role.description.is_empty() {
        lines.push(Line::from(Span::styled(
            display_safe(&role.description).into_owned(),
            t.dim,
        )));
    }
    for node in catalog.nodes() {
        if lines.len() >= inner.height as usize {
            break;
        }
        let parent_partial = node
            .parent
            .is_none_or(|p| role.grants.state(catalog.node(p)) == CheckState::Partial);
        if !parent_partial {
            continue;
        }
        let state = role.grants.state(node);
        let style = match state {
            CheckState::Checked => t.checked,
            CheckState::Partial => t.partial,
            CheckState::Unchecked => t.normal,
        };
        let mut spans = vec![
            Span::raw("  ".repeat(node.depth)),
            Span::styled(state.mark(), style),
            Span::raw(" "),
            Span::raw(display_safe(&node.label).into_owned()),
        ];
        if !node.is_leaf() {
            spans.push(Span::styled(
                format!(
                    " {}/{}",
                    role.grants.count_in(node.leaves.clone()),
                    node.leaves.len()
                ),
                t.dim,
            ));
        }
        lines.push(Line::from(spans));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

pub fn audit(app: &App, frame: &mut Frame, area: Rect) {
    let columns = [
        Column {
            title: "AT (UTC)",
            width: 20,
        },
        Column {
            title: "ACTOR",
            width: 16,
        },
        Column {
            title: "ACTION",
            width: 24,
        },
        Column {
            title: "TARGET",
            width: 0,
        },
    ];
    let detail_rows = if area.height >= 24 { 9 } else { 0 };
    let [area, detail] =
        Layout::vertical([Constraint::Min(0), Constraint::Length(detail_rows)]).areas(area);
    if detail_rows > 0 {
        audit_detail(app, frame, detail);
    }
    draw_list(
        app,
        frame,
        area,
        &app.audit,
        ListLook {
            title: "Audit log (newest first)",
            columns: &columns,
            loading: None,
        },
        |a| {
            vec![
                cell(a.at.clone()),
                fuzzy(a.actor.clone()),
                fuzzy(a.action.clone()),
                fuzzy(a.target.clone()),
            ]
        },
    );
}

/// The selected audit row's changes: each field with its value before and after.
fn audit_detail(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(t.border)
        .title(Span::styled(" Change ", t.title));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(entry) = app.audit.selected() else {
        return;
    };
    let show = |v: Option<&serde_json::Value>| match v {
        None | Some(serde_json::Value::Null) => "-".to_string(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    let empty = serde_json::Map::new();
    let before = entry
        .before
        .as_ref()
        .and_then(|v| v.as_object())
        .unwrap_or(&empty);
    let after = entry
        .after
        .as_ref()
        .and_then(|v| v.as_object())
        .unwrap_or(&empty);
    let mut keys: Vec<&String> = before.keys().collect();
    keys.extend(after.keys().filter(|k| !before.contains_key(*k)));
    let mut lines = vec![Line::from(vec![
        Span::styled(format!("{} ", entry.at), t.dim),
        Span::raw(
            display_safe(&format!(
                "{} {} by {}",
                entry.action, entry.target, entry.actor
            ))
            .into_owned(),
        ),
    ])];
    let value_width = (inner.width as usize).saturating_sub(20) / 2;
    for k in keys {
        let b = truncate(&display_safe(&show(before.get(k))), value_width).into_owned();
        let a = truncate(&display_safe(&show(after.get(k))), value_width).into_owned();
        lines.push(Line::from(vec![
            Span::styled(format!("{:<16}", truncate(&display_safe(k), 16)), t.header),
            Span::raw(format!("{b} → {a}")),
        ]));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}
