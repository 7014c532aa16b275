//! Dialogs that only show text, all scrolled by one [`ScrollText`]: two roles
//! compared, the users holding a role, one audit entry with every field in full, and
//! a status message too long for the status line, and lines such as who may do
//! something on a resource.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::{Overlay, keys_line, safe, show};
use crate::domain::catalog::Grants;
use crate::domain::role::Role;
use crate::store::AuditEntry;
use crate::tui::app::App;
use crate::tui::widgets::scroll_text::ScrollText;

pub fn draw(app: &App, overlay: &Overlay, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let scroll_keys = keys_line(t, &[("↑/↓ PgUp/PgDn Home/End", "scroll"), ("Esc", "close")]);
    let (title, body, scroll): (String, Vec<Line<'static>>, &ScrollText) = match overlay {
        Overlay::Compare { a, b, scroll } => (
            format!("Compare \"{}\" and \"{}\"", safe(&a.name), safe(&b.name)),
            compare_lines(app, a, b),
            scroll,
        ),
        Overlay::RoleUsers {
            role,
            users,
            scroll,
        } => {
            let mut body: Vec<Line> = users
                .iter()
                .map(|(name, active)| {
                    Line::from(format!(
                        "  {}{}",
                        safe(name),
                        if *active { "" } else { " (disabled)" }
                    ))
                })
                .collect();
            if users.is_empty() {
                body.push(Line::from(Span::styled("No user holds this role.", t.dim)));
            }
            let title = format!(
                "{} user{} in \"{}\"",
                users.len(),
                if users.len() == 1 { "" } else { "s" },
                safe(role)
            );
            (title, body, scroll)
        }
        Overlay::AuditDetail { entry, scroll } => {
            ("Audit entry".into(), audit_lines(app, entry), scroll)
        }
        Overlay::Lines {
            title,
            lines,
            scroll,
        } => {
            let body = lines.iter().map(|l| Line::from(safe(l))).collect();
            (safe(title), body, scroll)
        }
        Overlay::Message {
            text,
            error,
            scroll,
        } => {
            let style = if *error { t.error } else { t.ok };
            let body = vec![Line::from(Span::styled(safe(text), style))];
            ("Message".into(), body, scroll)
        }
        _ => return,
    };
    show(t, frame, area, &title, body, scroll_keys, Some(scroll));
}

fn compare_lines(app: &App, a: &Role, b: &Role) -> Vec<Line<'static>> {
    let t = &app.theme;
    let catalog = app.store.catalog();
    let name_w = 34usize;
    let col = |s: &str| format!("{:<12}", crate::text::truncate(&safe(s), 12));
    let (only_b, only_a) = b.grants.diff(&a.grants);
    let mut rows = vec![
        Line::from(format!(
            "Only \"{}\": {}   only \"{}\": {}",
            safe(&a.name),
            only_a.len(),
            safe(&b.name),
            only_b.len()
        )),
        Line::from(Span::styled(
            format!(
                "{:<name_w$} {} {}",
                "Permission",
                col(&a.name),
                col(&b.name)
            ),
            t.header,
        )),
    ];
    for node in catalog.nodes() {
        let label = format!("{}{}", "  ".repeat(node.depth), safe(&node.label));
        let label = crate::text::truncate(&label, name_w).into_owned();
        let pad = name_w.saturating_sub(crate::text::width(&label));
        let (ca, cb, differs) = if node.is_leaf() {
            let o = node.leaves.start;
            let word = |g: &Grants| if g.contains(o) { "can" } else { "cannot" };
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
    rows
}

/// Every field of an audit row, values in full (long ones wrap).
fn audit_lines(app: &App, a: &AuditEntry) -> Vec<Line<'static>> {
    let t = &app.theme;
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
        out.extend(text.lines().map(|l| Line::from(format!("  {}", safe(l)))));
    }
    out
}
