//! Dialogs over the current view: confirmations (with the save summary), the
//! blocked-delete warning with its way forward, help, and read-only details.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use crate::text::display_safe;
use crate::tui::app::{App, Overlay, Pending};
use crate::tui::keys::{self, BINDINGS, Scope};

/// Most permissions a save summary lists by name in each direction.
const SUMMARY_LIST: usize = 8;

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

fn safe(s: &str) -> String {
    display_safe(s).into_owned()
}

pub fn draw(app: &App, overlay: &Overlay, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let (title, lines): (String, Vec<Line>) = match overlay {
        Overlay::Help { scroll } => {
            let lines = help_lines(app);
            let room = area.height.saturating_sub(4) as usize;
            let start = (*scroll as usize).min(lines.len().saturating_sub(room));
            let mut shown: Vec<Line> = lines.into_iter().skip(start).collect();
            if shown.len() > room {
                shown.truncate(room.saturating_sub(1));
                shown.push(Line::from(Span::styled(
                    "↓ more (↑/↓ scroll, Esc closes)",
                    t.dim,
                )));
            }
            ("Keys · Esc closes".into(), shown)
        }
        Overlay::Confirm {
            title,
            lines,
            pending,
        } => {
            let mut out: Vec<Line> = lines.iter().map(|l| Line::from(safe(l))).collect();
            if let Pending::Save(summary) = pending {
                out.extend(save_lines(app, summary));
            }
            out.push(Line::default());
            out.push(Line::from(vec![
                Span::styled("y/Enter", t.key),
                Span::raw(" confirm   "),
                Span::styled("n/Esc", t.key),
                Span::raw(" cancel"),
            ]));
            (safe(title), out)
        }
        Overlay::DeleteBlocked {
            info,
            choices,
            selected,
            ..
        } => {
            let role = safe(&info.role);
            let mut out = Vec::new();
            if info.user_count > 0 {
                let users = if info.user_count == 1 {
                    "user"
                } else {
                    "users"
                };
                out.push(Line::from(format!(
                    "\"{role}\" is still assigned to {} {users}:",
                    info.user_count
                )));
                out.push(Line::from(Span::styled(
                    format!("  {}", info.names()),
                    t.header,
                )));
            }
            if info.is_default {
                out.push(Line::from(format!(
                    "\"{role}\" is the default role for new users."
                )));
            }
            out.push(Line::default());
            if info.is_default {
                out.push(Line::from(
                    "Make another role the default first (rolecall roles set-default ROLE), then delete it.",
                ));
                out.push(Line::default());
                out.push(Line::from(vec![
                    Span::styled("Esc", t.key),
                    Span::raw(" close; nothing was deleted"),
                ]));
            } else {
                out.push(Line::from(
                    "Way forward: move these users to another role and delete, in one step:",
                ));
                for (i, (_, name)) in choices.iter().enumerate() {
                    let line = Line::from(format!(
                        "  {} {}",
                        if i == *selected { ">" } else { " " },
                        safe(name)
                    ));
                    out.push(if i == *selected {
                        line.style(t.selected)
                    } else {
                        line
                    });
                }
                out.push(Line::default());
                let target = choices
                    .get(*selected)
                    .map(|(_, n)| safe(n))
                    .unwrap_or_default();
                out.push(Line::from(vec![
                    Span::styled("↑/↓", t.key),
                    Span::raw(" pick   "),
                    Span::styled("Enter", t.key),
                    Span::raw(format!(" move them to \"{target}\" and delete   ")),
                    Span::styled("Esc", t.key),
                    Span::raw(" cancel"),
                ]));
            }
            (format!("Cannot delete \"{role}\": it is in use"), out)
        }
        Overlay::Pick {
            title,
            choices,
            query,
            view,
            selected,
            purpose,
        } => {
            let mut filter = vec![Span::styled("Filter ", t.header)];
            filter.extend(query.line(true, t.normal, t.cursor).spans);
            let mut out = vec![Line::from(filter)];
            if view.is_empty() {
                out.push(Line::from(Span::styled("no role matches", t.dim)));
            }
            let room = area.height.saturating_sub(8) as usize;
            let start = selected.saturating_sub(room.saturating_sub(1));
            for (pos, &i) in view.iter().enumerate().skip(start).take(room.max(1)) {
                let line = Line::from(format!("  {}", safe(&choices[i].1)));
                out.push(if pos == *selected {
                    line.style(t.selected)
                } else {
                    line
                });
            }
            out.push(Line::default());
            let what = match purpose {
                crate::tui::app::PickPurpose::AssignRole { usernames } => {
                    format!(
                        " give the role to {} user{}   ",
                        usernames.len(),
                        if usernames.len() == 1 { "" } else { "s" }
                    )
                }
                crate::tui::app::PickPurpose::CompareWith { .. } => " compare   ".to_string(),
                crate::tui::app::PickPurpose::FormRole => " choose   ".to_string(),
            };
            out.push(Line::from(vec![
                Span::styled("type", t.key),
                Span::raw(" to filter   "),
                Span::styled("Enter", t.key),
                Span::raw(what),
                Span::styled("Esc", t.key),
                Span::raw(" cancel"),
            ]));
            (safe(title), out)
        }
        Overlay::Compare { a, b, scroll } => {
            let catalog = app.store.catalog();
            let name_w = 34usize;
            let col = |s: &str| format!("{:<12}", crate::text::truncate(&safe(s), 12));
            let mut rows = vec![Line::from(Span::styled(
                format!(
                    "{:<name_w$} {} {}",
                    "Permission",
                    col(&a.name),
                    col(&b.name)
                ),
                t.header,
            ))];
            let (only_b, only_a) = b.grants.diff(&a.grants);
            for node in catalog.nodes() {
                let label = format!("{}{}", "  ".repeat(node.depth), safe(&node.label));
                let label = crate::text::truncate(&label, name_w).into_owned();
                let pad = name_w.saturating_sub(crate::text::width(&label));
                let (ca, cb, differs) = if node.is_leaf() {
                    let o = node.leaves.start;
                    let word = |g: &crate::domain::catalog::Grants| {
                        if g.contains(o) { "can" } else { "cannot" }
                    };
                    (
                        word(&a.grants).to_string(),
                        word(&b.grants).to_string(),
                        a.grants.contains(o) != b.grants.contains(o),
                    )
                } else {
                    let n = node.leaves.len();
                    (
                        format!("{}/{n}", a.grants.count_in(node.leaves.clone())),
                        format!("{}/{n}", b.grants.count_in(node.leaves.clone())),
                        false,
                    )
                };
                let text = format!(
                    "{label}{} {ca:<12} {cb:<12}{}",
                    " ".repeat(pad),
                    if differs { " ≠" } else { "" }
                );
                rows.push(if differs {
                    Line::from(Span::styled(text, t.partial))
                } else {
                    Line::from(text)
                });
            }
            let room = area.height.saturating_sub(7) as usize;
            let start = (*scroll as usize).min(rows.len().saturating_sub(room));
            let mut out: Vec<Line> = vec![rows[0].clone()];
            out.extend(
                rows.into_iter()
                    .skip(1 + start)
                    .take(room.saturating_sub(1)),
            );
            out.push(Line::default());
            out.push(Line::from(format!(
                "Only \"{}\": {}   only \"{}\": {}   ↑/↓ scroll   Esc close",
                safe(&a.name),
                only_a.len(),
                safe(&b.name),
                only_b.len()
            )));
            (
                format!("Compare \"{}\" and \"{}\"", safe(&a.name), safe(&b.name)),
                out,
            )
        }
        Overlay::RoleUsers {
            role,
            users,
            scroll,
        } => {
            let room = area.height.saturating_sub(7) as usize;
            let start = (*scroll as usize).min(users.len().saturating_sub(room));
            let mut out: Vec<Line> = users
                .iter()
                .skip(start)
                .take(room)
                .map(|(name, active)| {
                    Line::from(format!(
                        "  {}{}",
                        safe(name),
                        if *active { "" } else { " (disabled)" }
                    ))
                })
                .collect();
            if users.is_empty() {
                out.push(Line::from(Span::styled("No user holds this role.", t.dim)));
            }
            out.push(Line::default());
            out.push(Line::from(vec![
                Span::styled("↑/↓", t.key),
                Span::raw(" scroll   "),
                Span::styled("Esc", t.key),
                Span::raw(" close"),
            ]));
            (
                format!(
                    "{} user{} in \"{}\"",
                    users.len(),
                    if users.len() == 1 { "" } else { "s" },
                    safe(role)
                ),
                out,
            )
        }
        Overlay::Conflict { conflict, .. } => {
            use crate::error::ConflictKind;
            let mut keys = vec![
                Span::styled("r", t.key),
                Span::raw(" reload theirs (drops your edit)   "),
            ];
            if conflict.can_overwrite() {
                keys.push(Span::styled("o", t.key));
                keys.push(Span::raw(match conflict.kind {
                    ConflictKind::Catalog => " save again on the new catalog   ",
                    _ => " overwrite with yours   ",
                }));
            }
            keys.push(Span::styled("Esc", t.key));
            keys.push(Span::raw(" keep editing"));
            let out = vec![
                Line::from(safe(&conflict.to_string())),
                Line::default(),
                Line::from(keys),
            ];
            let title = match conflict.kind {
                ConflictKind::Changed => "Someone else saved first",
                ConflictKind::Deleted => "It was deleted",
                ConflictKind::Recreated => "It was deleted and created again",
                ConflictKind::Catalog => "The permission catalog changed",
            };
            (title.to_string(), out)
        }
        Overlay::Password {
            username,
            first,
            second,
            on_second,
        } => {
            let row =
                |label: &str, input: &crate::tui::widgets::input::TextInput, focused: bool| {
                    let mut spans = vec![Span::styled(
                        format!("{label:<18}"),
                        if focused { t.key } else { t.header },
                    )];
                    spans.extend(input.masked_line(focused, t.normal, t.cursor).spans);
                    Line::from(spans)
                };
            let out = vec![
                row("New password", first, !on_second),
                row("Type it again", second, *on_second),
                Line::default(),
                Line::from(Span::styled(
                    "At least 8 characters; stored only as an argon2id hash.",
                    t.dim,
                )),
                Line::from(vec![
                    Span::styled("Enter", t.key),
                    Span::raw(" next / set   "),
                    Span::styled("Esc", t.key),
                    Span::raw(" cancel"),
                ]),
            ];
            (format!("Password for \"{}\"", safe(username)), out)
        }
        Overlay::AuditDetail(a) => {
            let mut out = vec![
                Line::from(format!("{} by {}", a.at, safe(&a.actor))),
                Line::from(format!("{} {}", safe(&a.action), safe(&a.target))),
                Line::default(),
            ];
            for (label, value) in [("Before", &a.before), ("After", &a.after)] {
                out.push(Line::from(Span::styled(label, t.header)));
                let text = value
                    .as_ref()
                    .map(|v| serde_json::to_string_pretty(v).unwrap_or_default())
                    .unwrap_or_else(|| "(none)".into());
                out.extend(
                    text.lines()
                        .take(12)
                        .map(|l| Line::from(format!("  {}", safe(l)))),
                );
            }
            out.push(Line::default());
            out.push(Line::from(vec![
                Span::styled("Esc", t.key),
                Span::raw(" close"),
            ]));
            ("Audit entry".into(), out)
        }
    };
    let width = lines
        .iter()
        .map(Line::width)
        .max()
        .unwrap_or(20)
        .max(title.len() + 4) as u16
        + 4;
    let width = width.min(area.width.saturating_sub(4)).max(20);
    // Lines longer than the box wrap: count the rows they take, so the last line
    // (the dialog's keys) is never pushed out of the box.
    let inner = width.saturating_sub(2).max(1) as usize;
    let rows: usize = lines.iter().map(|l| l.width().max(1).div_ceil(inner)).sum();
    let height = (rows as u16).saturating_add(2);
    let box_area = centered(area, width, height);
    frame.render_widget(Clear, box_area);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(t.title)
        .title(Span::styled(format!(" {title} "), t.title));
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        box_area,
    );
}

fn save_lines(app: &App, s: &crate::tui::editor::SaveSummary) -> Vec<Line<'static>> {
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
        for (_, path) in list.iter().take(SUMMARY_LIST) {
            out.push(Line::from(format!("  {}", safe(path))));
        }
        if list.len() > SUMMARY_LIST {
            out.push(Line::from(format!(
                "  … and {} more",
                list.len() - SUMMARY_LIST
            )));
        }
    }
    let users = match s.users {
        0 => "No user holds this role.".to_string(),
        1 => "1 user holds this role and is affected at once.".to_string(),
        n => format!("{n} users hold this role and are affected at once."),
    };
    out.push(Line::from(Span::styled(users, t.header)));
    out
}

/// Every binding of the key table by scope; the movement keys of a scope share a line.
fn help_lines(app: &App) -> Vec<Line<'static>> {
    use crate::tui::keys::Action;
    let t = &app.theme;
    let moves = |a: Action| {
        matches!(
            a,
            Action::Up
                | Action::Down
                | Action::PageUp
                | Action::PageDown
                | Action::Home
                | Action::End
        )
    };
    let mut out = Vec::new();
    for scope in [
        Scope::Anywhere,
        Scope::List,
        Scope::Users,
        Scope::Roles,
        Scope::Editor,
        Scope::Tree,
        Scope::TextField,
        Scope::Confirm,
        Scope::Picker,
        Scope::Pick,
        Scope::Conflict,
    ] {
        out.push(Line::from(Span::styled(keys::scope_title(scope), t.header)));
        let movement: Vec<&str> = BINDINGS
            .iter()
            .filter(|b| b.scope == scope && moves(b.action))
            .map(|b| b.label)
            .collect();
        if !movement.is_empty() {
            out.push(Line::from(vec![
                Span::styled(format!("  {}", movement.join(" ")), t.key),
                Span::raw("  move"),
            ]));
        }
        for b in BINDINGS
            .iter()
            .filter(|b| b.scope == scope && !moves(b.action))
        {
            out.push(Line::from(vec![
                Span::styled(format!("  {:<11}", b.label), t.key),
                Span::raw(b.what),
            ]));
        }
    }
    out.push(Line::from(vec![
        Span::styled("  Ctrl-C     ", t.key),
        Span::raw("quit from anywhere"),
    ]));
    out.push(Line::from(vec![
        Span::styled("  mouse      ", t.key),
        Span::raw("click selects, click a box toggles, wheel scrolls"),
    ]));
    out
}
