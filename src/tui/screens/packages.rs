//! The Packages tab (seed 001's ROLE → PACKAGE → USER): the list with a preview of
//! the selected package (its roles and members), and what its keys do: new and
//! Enter (the package editor), delete (naming the members who would lose access),
//! and its audit rows.

use fuzzy_matcher::skim::SkimMatcherV2;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use crate::domain::package::{Package, PackageSummary};
use crate::error::Error;
use crate::store::{PackageRef, Store};
use crate::text::display_safe;
use crate::tui::dialogs::Pending;
use crate::tui::keys::Action;
use crate::tui::screens::package_editor::PackageEditor;
use crate::tui::screens::users::name_users;
use crate::tui::screens::{Ctx, Effect, ListView, Look, READ_ONLY};
use crate::tui::widgets::list::{Column, ListLook, cell, draw_list, fuzzy};

/// The Packages tab's state.
#[derive(Default)]
pub struct PackagesScreen {
    pub view: ListView<PackageSummary>,
    /// The list is older than the database: read it when the tab is shown.
    pub stale: bool,
    /// The package under the selection, for the preview.
    pub preview: Option<Package>,
}

impl PackagesScreen {
    /// Reads the packages again, keeping the selection and the filter.
    pub fn load(&mut self, store: &Store, matcher: &SkimMatcherV2) -> Result<(), Error> {
        let packages = store.packages()?;
        self.view
            .load(packages, |p| p.name.to_lowercase(), |p| p.id, matcher);
        self.stale = false;
        self.preview = None;
        self.refresh_preview(store);
        Ok(())
    }

    /// Reads the selected package when the selection moved or the package changed.
    pub fn refresh_preview(&mut self, store: &Store) {
        let id = self.view.selected().map(|p| (p.id, p.version));
        let current = self.preview.as_ref().map(|p| (p.id, p.version));
        if id != current {
            self.preview = id.and_then(|(id, _)| store.package(PackageRef::Id(id)).ok());
        }
    }

    /// Selects package `id`, clearing a filter that hides it.
    pub fn select(&mut self, id: i64, store: &Store, matcher: &SkimMatcherV2) {
        self.view.select(id, |p| p.id, matcher);
        self.refresh_preview(store);
    }

    /// What a key does on the Packages tab.
    pub fn update(&mut self, action: Action, cx: &mut Ctx) -> Vec<Effect> {
        let effects = self.on_key(action, cx);
        self.refresh_preview(cx.store);
        effects
    }

    fn on_key(&mut self, action: Action, cx: &mut Ctx) -> Vec<Effect> {
        if let Some(effects) = self.view.on_key(action, cx.matcher) {
            return effects;
        }
        if matches!(action, Action::New | Action::Delete) && cx.read_only() {
            return vec![Effect::Refuse(READ_ONLY.into())];
        }
        if action == Action::New {
            return vec![
                Effect::EditPackage(Box::new(PackageEditor::new_package(cx))),
                Effect::Info(
                    "a new package: type its name, Tab to its roles and members; Ctrl-S creates it"
                        .into(),
                ),
            ];
        }
        let Some(package) = self.view.selected().cloned() else {
            return Vec::new();
        };
        match action {
            Action::Open => Effect::from_result(PackageEditor::load(cx, package.id), |editor| {
                let mut out = vec![Effect::EditPackage(Box::new(editor))];
                if cx.read_only() {
                    out.push(Effect::Info(
                        "read-only: browsing only; changes are refused".into(),
                    ));
                }
                out
            }),
            Action::Delete => ask_delete(package.id, cx),
            Action::AuditOf => vec![Effect::AuditOf(package.name)],
            _ => Vec::new(),
        }
    }

    /// A key typed into the filter.
    pub fn on_input(&mut self, key: &crossterm::event::KeyEvent, cx: &mut Ctx) {
        self.view.typed(key, cx.matcher);
        self.refresh_preview(cx.store);
    }

    /// The row actions of the Packages list, for the footer.
    pub fn available(&self, action: Action, read_only: bool) -> bool {
        let row = self.view.selected().is_some();
        match action {
            Action::Open | Action::AuditOf => row,
            Action::Back => self.view.list.is_filtered(),
            Action::New => !read_only,
            Action::Delete => !read_only && row,
            _ => true,
        }
    }

    pub fn draw(&self, look: &Look, frame: &mut Frame, area: Rect) {
        let [list_area, preview_area] = super::list_and_preview(area);
        let columns = [
            Column {
                title: "ID",
                width: 4,
                min: 3,
            },
            Column {
                title: "NAME",
                width: 0,
                min: 0,
            },
            Column {
                title: "ROLES",
                width: 6,
                min: 5,
            },
            Column {
                title: "MEMBERS",
                width: 8,
                min: 7,
            },
            Column {
                title: "CREATED ON",
                width: 10,
                min: 10,
            },
        ];
        let list_look = ListLook {
            title: "Packages",
            columns: &columns,
            loading: None,
            empty: "no packages yet: n makes one; a package gives its members every permission of its roles",
            tagged: &|_| false,
        };
        draw_list(look, frame, list_area, &self.view, list_look, |p| {
            vec![
                cell(p.id.to_string()),
                fuzzy(p.name.clone()),
                cell(p.roles.to_string()),
                cell(p.members.to_string()),
                cell(p.created_at.get(..10).unwrap_or(&p.created_at).to_string()),
            ]
        });
        self.draw_preview(look, frame, preview_area);
    }

    fn draw_preview(&self, look: &Look, frame: &mut Frame, area: Rect) {
        let t = look.theme;
        let title = match &self.preview {
            Some(p) => format!(" {} ", display_safe(&p.name)),
            None => " Package ".to_string(),
        };
        let block = Block::default()
            .borders(Borders::ALL)
            .border_style(t.border)
            .title(Span::styled(title, t.title));
        let inner = block.inner(area);
        frame.render_widget(block, area);
        let Some(p) = &self.preview else { return };
        let mut lines = Vec::new();
        if !p.description.is_empty() {
            lines.push(Line::from(Span::styled(
                display_safe(&p.description).into_owned(),
                t.dim,
            )));
        }
        let roles: Vec<String> = p
            .roles
            .iter()
            .map(|(_, name)| display_safe(name).into_owned())
            .collect();
        lines.push(Line::from(vec![
            Span::styled(format!("Roles ({}): ", roles.len()), t.header),
            Span::raw(if roles.is_empty() {
                "none yet: Enter, then Tab to the roles".to_string()
            } else {
                roles.join(", ")
            }),
        ]));
        lines.push(Line::from(vec![
            Span::styled(format!("Members ({}): ", p.members.len()), t.header),
            Span::raw(if p.members.is_empty() {
                "none: g on Users puts users in".to_string()
            } else {
                p.members
                    .iter()
                    .map(|m| display_safe(m).into_owned())
                    .collect::<Vec<_>>()
                    .join(", ")
            }),
        ]));
        frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), inner);
    }
}

/// `d`: what deleting would take away, and a confirm. Members keep their direct
/// roles and other packages; they lose what only this package gave them.
fn ask_delete(id: i64, cx: &mut Ctx) -> Vec<Effect> {
    let package = match cx.store.package(PackageRef::Id(id)) {
        Ok(p) => p,
        Err(e) => return vec![Effect::Error(e)],
    };
    let mut lines = Vec::new();
    if package.members.is_empty() {
        lines.push(format!(
            "No user is in \"{}\"; its roles are kept.",
            package.name
        ));
    } else {
        let n = package.members.len();
        lines.push(format!(
            "{n} member{} leave it and lose what only this package gave them:",
            if n == 1 { "" } else { "s" }
        ));
        lines.push(format!("  {}", name_users(&package.members)));
        lines.push("Their direct roles and other packages are kept; its roles are kept.".into());
    }
    lines.push("Deleting it cannot be undone; the audit log keeps what it held.".into());
    vec![Effect::confirm(
        format!("Delete package \"{}\"?", package.name),
        lines,
        Pending::DeletePackage {
            id,
            name: package.name,
            members: package.members.len(),
            version: package.version,
        },
    )]
}

/// "Yes" on the delete confirm. A package that was empty when asked is deleted only
/// while it stays empty: members who joined since are not dropped unasked.
pub fn delete(id: i64, members: usize, version: i64, cx: &mut Ctx) -> Vec<Effect> {
    Effect::from_result(
        // The dialog named the members as they were: the store refuses the delete when
        // the package changed since, so members who joined meanwhile are not dropped.
        cx.store
            .delete_package_if(PackageRef::Id(id), members > 0, Some(version))
            .map_err(|e| match e {
                Error::Conflict(c) => Error::Refused(format!(
                    "not deleted: {} was changed by another process since you asked; d asks again",
                    c.target
                )),
                other => other,
            }),
        |d| {
            let n = d.members.len();
            let note = match n {
                0 => String::new(),
                n => format!("; {n} member{} left it", if n == 1 { "" } else { "s" }),
            };
            vec![
                Effect::Info(format!("deleted package \"{}\"{note}", d.name)),
                Effect::Reload,
            ]
        },
    )
}
