//! The Audit tab: every change, newest first. It opens on the newest row and stays
//! there as rows arrive (unless the operator moved); a CHANGE column says what each
//! row changed; the filter matches actor, action, target and the changed values.
//! Enter shows one row with every field in full.

use crossterm::event::KeyEvent;
use fuzzy_matcher::skim::SkimMatcherV2;
use ratatui::Frame;
use ratatui::layout::Rect;
use serde_json::Value;

use crate::error::Error;
use crate::store::{AuditEntry, Store};
use crate::tui::dialogs::Overlay;
use crate::tui::keys::Action;
use crate::tui::screens::ListView;
use crate::tui::screens::{Effect, Look};
use crate::tui::widgets::list::{Column, ListLook, cell, draw_list, fuzzy};

/// How many audit rows the tab loads.
const AUDIT_ROWS: usize = 5000;

/// The Audit tab's state: the newest rows and how many there are in all.
#[derive(Default)]
pub struct AuditScreen {
    pub view: ListView<AuditEntry>,
    /// The name `f` asked about: rows whose target is it or whose actor is it.
    about: Option<String>,
    /// Rows in the audit log (the tab loads only the newest few thousand).
    pub total: usize,
    /// Why the log is not shown: a served operator without the right to read it.
    pub refused: Option<String>,
    /// The rows are read again when the tab is next shown (only `total` is kept
    /// current while it is hidden: a console left on another tab, or a served
    /// session, does not hold thousands of audit rows it is not showing).
    pub stale: bool,
    /// The count is on its way from the users list's background read.
    pub counting: bool,
}

impl AuditScreen {
    /// The count the users list's background read brings; until it arrives the tab
    /// shows none.
    pub fn counted(&mut self, count: Result<usize, Error>) -> Result<(), Error> {
        self.counting = false;
        self.total = count?;
        Ok(())
    }

    /// True while the count is being made in the background.
    pub fn is_counting(&self) -> bool {
        self.counting
    }

    /// Reads the newest rows again, keeping the operator on the newest one when they
    /// were there.
    pub fn load(&mut self, store: &Store, matcher: &SkimMatcherV2) -> Result<(), Error> {
        let rows = match store.audit(AUDIT_ROWS) {
            Err(Error::Refused(why)) => {
                self.refused = Some(why);
                self.total = 0;
                self.view.load(Vec::new(), haystack, |a| a.id, matcher);
                return Ok(());
            }
            other => other?,
        };
        self.refused = None;
        self.stale = false;
        self.counting = false;
        self.total = store.audit_count()?;
        let on_newest = self.view.list.selected_position() == 0;
        self.view.load(rows, haystack, |a| a.id, matcher);
        if let Some(name) = self.about.clone() {
            self.keep_about(&name);
        }
        if on_newest {
            self.view.list.home();
        }
        Ok(())
    }

    /// Rows about `name`: it is their target, or their actor (with or without the
    /// SSH address after it). Exact, not fuzzy: "alice" is not every row whose letters
    /// happen to spell it.
    fn keep_about(&mut self, name: &str) {
        let rows = &self.view.rows;
        let actor_is = |actor: &str| {
            actor == name
                || actor
                    .strip_prefix(name)
                    .is_some_and(|rest| rest.starts_with(' '))
        };
        self.view
            .list
            .show_only(name, |i| rows[i].target == name || actor_is(&rows[i].actor));
    }

    pub fn selected(&self) -> Option<&AuditEntry> {
        self.view.selected()
    }

    /// What a key does on the Audit tab: the list's keys, and Enter shows the row.
    pub fn update(&mut self, action: Action, matcher: &SkimMatcherV2) -> Vec<Effect> {
        if matches!(action, Action::Back | Action::Cancel | Action::Filter) {
            self.about = None;
        }
        if let Some(effects) = self.view.on_key(action, matcher) {
            return effects;
        }
        match (action, self.selected()) {
            (Action::Open, Some(a)) => vec![Effect::Open(Overlay::AuditDetail {
                entry: Box::new(a.clone()),
                scroll: Default::default(),
            })],
            _ => Vec::new(),
        }
    }

    /// A key typed into the filter.
    pub fn on_input(&mut self, key: &KeyEvent, matcher: &SkimMatcherV2) {
        self.about = None;
        self.view.typed(key, matcher);
    }

    /// `f` on a user or a role: the rows about `name`, newest first.
    pub fn show_about(&mut self, name: &str) -> Effect {
        self.about = Some(name.to_string());
        self.keep_about(name);
        let n = self.view.list.shown();
        Effect::Info(format!(
            "{n} audit row{} about \"{name}\" (as target or actor); Esc clears the filter",
            if n == 1 { "" } else { "s" }
        ))
    }

    /// Which of the tab's keys work now.
    pub fn available(&self, action: Action) -> bool {
        match action {
            Action::Open => self.selected().is_some(),
            Action::Back => self.view.list.is_filtered(),
            _ => true,
        }
    }
}

/// What the audit filter matches: actor, action, target, time and the changed values.
fn haystack(a: &AuditEntry) -> String {
    format!(
        "{} {} {} {} {}",
        a.actor,
        a.action,
        a.target,
        a.at,
        change(a)
    )
    .to_lowercase()
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

impl AuditScreen {
    /// The tab: columns sized to the loaded rows, newest first.
    pub fn draw(&self, look: &Look, frame: &mut Frame, area: Rect) {
        if let Some(why) = &self.refused {
            let block = ratatui::widgets::Block::bordered().title(" Audit log ");
            let text = crate::text::display_safe(why).into_owned();
            let paragraph = ratatui::widgets::Paragraph::new(text)
                .wrap(ratatui::widgets::Wrap { trim: true })
                .style(look.theme.dim)
                .block(block);
            frame.render_widget(paragraph, area);
            return;
        }
        // Columns as wide as their widest cell in the loaded rows, within limits.
        let widest = |f: &dyn Fn(&AuditEntry) -> usize, cap: usize| {
            self.view
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
        let list_look = ListLook {
            title: "Audit log (newest first) · Enter shows a row in full",
            columns: &columns,
            loading: None,
            empty: "nothing has changed yet: every change made here or with the CLI is listed here",
            tagged: &|_| false,
        };
        draw_list(look, frame, area, &self.view, list_look, |a| {
            vec![
                cell(a.at.clone()),
                fuzzy(a.actor.clone()),
                fuzzy(a.action.clone()),
                fuzzy(a.target.clone()),
                fuzzy(change(a)),
            ]
        });
    }
}
