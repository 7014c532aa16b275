//! The Audit tab: every change, newest first. It opens on the newest row and stays
//! there as rows arrive (unless the operator moved); a CHANGE column says what each
//! row changed; the filter matches actor, action, target and the changed values.
//! Enter shows one row with every field in full.

use fuzzy_matcher::skim::SkimMatcherV2;
use ratatui::Frame;
use ratatui::layout::Rect;
use serde_json::Value;

use crate::store::AuditEntry;
use crate::tui::app::{App, ListView};
use crate::tui::widgets::list::{Column, ListLook, cell, draw_list, fuzzy};

/// Loads the rows, keeping the operator on the newest one when they were there.
pub fn load(view: &mut ListView<AuditEntry>, rows: Vec<AuditEntry>, matcher: &SkimMatcherV2) {
    let on_newest = view.list.selected_position() == 0;
    view.load(
        rows,
        |a| {
            format!(
                "{} {} {} {} {}",
                a.actor,
                a.action,
                a.target,
                a.at,
                change(a)
            )
            .to_lowercase()
        },
        |a| a.id,
        matcher,
    );
    if on_newest {
        view.list.home();
    }
}

fn show(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "-".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// What a row changed, in one line: `field: before → after` for each field that
/// differs, or the values of a row that only adds or removes.
pub fn change(a: &AuditEntry) -> String {
    let empty = serde_json::Map::new();
    let before = a
        .before
        .as_ref()
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let after = a
        .after
        .as_ref()
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let mut keys: Vec<&String> = before.keys().collect();
    keys.extend(after.keys().filter(|k| !before.contains_key(*k)));
    keys.into_iter()
        .filter(|k| before.get(*k) != after.get(*k))
        .map(|k| match (before.get(k), after.get(k)) {
            (Some(b), Some(a)) => format!("{k}: {} → {}", show(Some(b)), show(Some(a))),
            (None, a) => format!("{k}: {}", show(a)),
            (b, None) => format!("{k}: {} → -", show(b)),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

pub fn draw(app: &App, frame: &mut Frame, area: Rect) {
    // Columns as wide as their widest cell in the loaded rows, within limits.
    let widest = |f: &dyn Fn(&AuditEntry) -> usize, cap: usize| {
        app.audit
            .rows
            .iter()
            .map(f)
            .max()
            .unwrap_or(6)
            .clamp(6, cap) as u16
    };
    let actor = widest(&|a| crate::text::width(&a.actor), 16);
    let action = widest(&|a| a.action.len(), 20);
    let target = widest(&|a| crate::text::width(&a.target), 20);
    let columns = [
        Column {
            title: "AT (UTC)",
            width: 20,
            min: 20,
        },
        Column {
            title: "ACTOR",
            width: actor,
            min: 6,
        },
        Column {
            title: "ACTION",
            width: action,
            min: 11,
        },
        Column {
            title: "TARGET",
            width: target,
            min: 8,
        },
        Column {
            title: "CHANGE",
            width: 0,
            min: 0,
        },
    ];
    let look = ListLook {
        title: "Audit log (newest first) · Enter shows a row in full",
        columns: &columns,
        loading: None,
        empty: "nothing has changed yet: every change made here or with the CLI is listed here",
        tagged: &|_| false,
    };
    draw_list(app, frame, area, &app.audit, look, |a| {
        vec![
            cell(a.at.clone()),
            fuzzy(a.actor.clone()),
            fuzzy(a.action.clone()),
            fuzzy(a.target.clone()),
            fuzzy(change(a)),
        ]
    });
}
