//! The Resources tab (SPEC §11), shown when the catalog declares resource types: the
//! resources the application registered (type, key, label, the packages they belong
//! to, how many role exceptions they carry), and from a row, who may do a permission
//! on that resource and by which path (`who-can PERMISSION --on TYPE:KEY`).

use std::collections::HashMap;

use fuzzy_matcher::skim::SkimMatcherV2;
use ratatui::Frame;
use ratatui::layout::Rect;

use crate::domain::resource::Resource;
use crate::error::Error;
use crate::store::Store;
use crate::tui::dialogs::{Overlay, PickPurpose, role_pick};
use crate::tui::keys::Action;
use crate::tui::screens::{Ctx, Effect, ListView, Look};
use crate::tui::widgets::list::{Column, ListLook, cell, draw_list, fuzzy};

/// A resource with the number of exceptions roles hold for it.
pub struct ResourceRow {
    pub resource: Resource,
    pub exceptions: usize,
}

/// The Resources tab's state.
#[derive(Default)]
pub struct ResourcesScreen {
    pub view: ListView<ResourceRow>,
}

impl ResourcesScreen {
    /// Reads the resources again, keeping the selection and the filter.
    pub fn load(&mut self, store: &Store, matcher: &SkimMatcherV2) -> Result<(), Error> {
        let counts: HashMap<i64, usize> = store.exception_counts()?;
        let rows: Vec<ResourceRow> = store
            .resources(None)?
            .into_iter()
            .map(|resource| ResourceRow {
                exceptions: counts.get(&resource.id).copied().unwrap_or(0),
                resource,
            })
            .collect();
        let haystack = |r: &ResourceRow| {
            let r = &r.resource;
            format!(
                "{}:{} {} {}",
                r.type_key,
                r.key,
                r.label,
                r.packages.join(" ")
            )
            .to_lowercase()
        };
        self.view.load(rows, haystack, |r| r.resource.id, matcher);
        Ok(())
    }

    /// What a key does on the Resources tab.
    pub fn update(&mut self, action: Action, cx: &mut Ctx) -> Vec<Effect> {
        if let Some(effects) = self.view.on_key(action, cx.matcher) {
            return effects;
        }
        let Some(row) = self.view.selected() else {
            return Vec::new();
        };
        let spec = row.resource.spec();
        match action {
            Action::Open | Action::WhoCan => pick_permission(spec, cx),
            Action::AuditOf => vec![Effect::AuditOf(spec)],
            _ => Vec::new(),
        }
    }

    /// A key typed into the filter.
    pub fn on_input(&mut self, key: &crossterm::event::KeyEvent, cx: &mut Ctx) {
        self.view.typed(key, cx.matcher);
    }

    /// Which of the tab's keys work now: they read, so read-only changes nothing.
    pub fn available(&self, action: Action) -> bool {
        match action {
            Action::Open | Action::WhoCan | Action::AuditOf => self.view.selected().is_some(),
            Action::Back => self.view.list.is_filtered(),
            _ => true,
        }
    }

    pub fn draw(&self, look: &Look, frame: &mut Frame, area: Rect) {
        let columns = [
            Column {
                title: "TYPE",
                width: 12,
                min: 8,
            },
            Column {
                title: "KEY",
                width: 0,
                min: 0,
            },
            Column {
                title: "LABEL",
                width: 0,
                min: 0,
            },
            Column {
                title: "PACKAGES",
                width: 0,
                min: 0,
            },
            Column {
                title: "EXCEPTIONS",
                width: 10,
                min: 10,
            },
        ];
        let list_look = ListLook {
            title: "Resources",
            columns: &columns,
            loading: None,
            empty: "no resources yet: the application registers them with `rolecall resources add` or `resources load`",
            tagged: &|_| false,
        };
        draw_list(look, frame, area, &self.view, list_look, |row| {
            let r = &row.resource;
            vec![
                cell(r.type_key.clone()),
                fuzzy(r.key.clone()),
                fuzzy(r.label.clone()),
                fuzzy(r.packages.join(", ")),
                cell(row.exceptions.to_string()),
            ]
        });
    }
}

/// Enter or `w`: the permission to ask about, the ones the type scopes first.
fn pick_permission(spec: String, cx: &Ctx) -> Vec<Effect> {
    let catalog = cx.store.catalog();
    let scoped = cx
        .store
        .resource(&spec)
        .and_then(|r| {
            let types = cx.store.resource_types()?;
            Ok(types.into_iter().find(|t| t.key == r.type_key))
        })
        .ok()
        .flatten()
        .map(|t| crate::domain::resource::scope(catalog, &t));
    let mut choices: Vec<(i64, String)> = (0..catalog.leaf_count())
        .map(|ord| {
            let idx = catalog.leaf_node_index(ord);
            let node = catalog.node(idx);
            (
                ord as i64,
                format!("{}  ({})", catalog.path_label(idx), node.key),
            )
        })
        .collect();
    if let Some(mask) = &scoped {
        choices.sort_by_key(|(ord, _)| !mask.contains(*ord as usize));
    }
    vec![Effect::Open(role_pick(
        PickPurpose::WhoCanOn { spec: spec.clone() },
        format!("Who can … on {spec}"),
        choices,
        None,
    ))]
}

/// The permission picked: every user allowed on the resource, with how.
pub fn who_can(spec: &str, ordinal: usize, cx: &mut Ctx) -> Vec<Effect> {
    let catalog = cx.store.catalog();
    let key = catalog.node(catalog.leaf_node_index(ordinal)).key.clone();
    Effect::from_result(cx.store.who_can_on(&key, spec), |allowed| {
        let mut lines = vec![format!(
            "{} user{} may {key} on {spec}:",
            allowed.users.len(),
            if allowed.users.len() == 1 { "" } else { "s" }
        )];
        for (user, range) in &allowed.users {
            let via: Vec<String> = allowed
                .via(range)
                .map(|(role, package)| match package {
                    None => format!("{role} (direct)"),
                    Some(p) => format!("{role} in {p}"),
                })
                .collect();
            lines.push(format!("  {user}  ← {}", via.join("; ")));
        }
        vec![Effect::Open(Overlay::Lines {
            title: format!("Who can {key} on {spec}"),
            lines,
            scroll: Default::default(),
        })]
    })
}
