//! The Roles tab: the list with a read-only preview of the selected role (its
//! permissions, who holds it and the packages that include it), and what its keys
//! do: new (an editor that creates nothing until saved), clone (its name first),
//! compare, users, make default, delete (with the way forward when in use).

use fuzzy_matcher::skim::SkimMatcherV2;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use crate::domain::catalog::{CheckState, Grants};
use crate::domain::role::{Role, RoleSummary};
use crate::error::{Error, RoleInUse};
use crate::store::{RoleRef, Store};
use crate::text::display_safe;
use crate::tui::app::Tab;
use crate::tui::dialogs::{Overlay, Pending, PickPurpose, PromptPurpose, role_pick};
use crate::tui::keys::Action;
use crate::tui::screens::role_editor::{Focus, RoleEditor};
use crate::tui::screens::{Ctx, Effect, ListView, Look, Names, READ_ONLY};
use crate::tui::widgets::input::TextInput;
use crate::tui::widgets::list::{Column, FilteredList, ListLook, cell, draw_list, fuzzy};

/// The role under the selection, as the preview shows it.
pub struct Preview {
    pub role: Role,
    /// The packages that include it, by name.
    pub packages: Vec<String>,
    /// Users who reach it through those packages.
    pub users_via_packages: usize,
}

/// The Roles tab's state.
#[derive(Default)]
pub struct RolesScreen {
    pub view: ListView<RoleSummary>,
    pub preview: Option<Preview>,
}

impl RolesScreen {
    /// Reads the roles again, keeping the selection and the filter.
    /// Reads the roles again; returns the number of users, counted in the same pass
    /// as each role's holders.
    pub fn load(&mut self, store: &Store, matcher: &SkimMatcherV2) -> Result<usize, Error> {
        let (roles, users) = store.roles_and_user_count()?;
        self.view
            .load(roles, |r| r.name.to_lowercase(), |r| r.id, matcher);
        // Read again when the tab is shown (the router asks).
        self.preview = None;
        Ok(users)
    }

    /// Reads the selected role for the preview when the selection moved to another
    /// role or that role changed.
    pub fn refresh_preview(&mut self, store: &Store) {
        let id = self.view.selected().map(|r| (r.id, r.version));
        let current = self.preview.as_ref().map(|p| (p.role.id, p.role.version));
        if id == current {
            return;
        }
        self.preview = id.and_then(|(id, _)| {
            let role = store.role_by_id(id).ok()?;
            let (packages, users_via_packages) = store.packages_including(id).ok()?;
            Some(Preview {
                role,
                packages,
                users_via_packages,
            })
        });
    }

    /// Selects role `id`, clearing a filter that hides it.
    pub fn select(&mut self, id: i64, store: &Store, matcher: &SkimMatcherV2) {
        self.view.select(id, |r| r.id, matcher);
        self.refresh_preview(store);
    }

    /// What a key does on the Roles tab.
    pub fn update(&mut self, action: Action, cx: &mut Ctx) -> Vec<Effect> {
        let effects = self.on_key(action, cx);
        self.refresh_preview(cx.store);
        effects
    }

    fn on_key(&mut self, action: Action, cx: &mut Ctx) -> Vec<Effect> {
        if let Some(effects) = self.view.on_key(action, cx.matcher) {
            return effects;
        }
        let changes = matches!(
            action,
            Action::New | Action::Delete | Action::Clone | Action::SetDefault
        );
        if changes && cx.read_only() {
            return vec![Effect::Refuse(READ_ONLY.into())];
        }
        if action == Action::New {
            return new_role(cx);
        }
        let Some(role) = self.view.selected().cloned() else {
            return Vec::new();
        };
        match action {
            Action::Open => open_editor(role.id, role.fixed, cx),
            Action::Clone => ask_clone_name(&role, cx.names),
            Action::Delete => ask_delete(&role, cx),
            Action::Compare => vec![Effect::Open(role_pick(
                PickPurpose::CompareWith { role_id: role.id },
                format!("Compare \"{}\" with", role.name),
                cx.names.roles_except(Some(role.id)),
                None,
            ))],
            Action::RoleUsers => show_users(&role, cx),
            Action::SetDefault => make_default(role.id, cx),
            Action::AuditOf => vec![Effect::AuditOf(role.name)],
            _ => Vec::new(),
        }
    }

    /// A key typed into the filter.
    pub fn on_input(&mut self, key: &crossterm::event::KeyEvent, cx: &mut Ctx) {
        self.view.typed(key, cx.matcher);
        self.refresh_preview(cx.store);
    }

    /// The row actions of the Roles list, for the footer: what works on this row now.
    pub fn available(&self, action: Action, read_only: bool, default_role: i64) -> bool {
        let role = self.view.selected();
        match action {
            Action::Open => role.is_some(),
            Action::Back => self.view.list.is_filtered(),
            Action::New => !read_only,
            Action::Compare | Action::RoleUsers | Action::AuditOf => role.is_some(),
            Action::Clone => !read_only && role.is_some(),
            Action::Delete => !read_only && role.is_some_and(|r| !r.builtin && !r.fixed),
            Action::SetDefault => !read_only && role.is_some_and(|r| r.id != default_role),
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
                title: "USERS",
                width: 6,
                min: 5,
            },
            Column {
                title: "GRANTED",
                width: 8,
                min: 7,
            },
            Column {
                title: "CREATED ON",
                width: 10,
                min: 10,
            },
            Column {
                title: "",
                width: 9,
                min: 7,
            },
        ];
        let default = look.names.default_role;
        let list_look = ListLook {
            title: "Roles",
            columns: &columns,
            loading: None,
            empty: "no roles yet: n adds one",
            tagged: &|_| false,
        };
        draw_list(look, frame, list_area, &self.view, list_look, |r| {
            let mark = if r.id == default {
                "* default"
            } else if r.builtin || r.fixed {
                "locked"
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
        self.draw_preview(look, frame, preview_area);
    }
    fn draw_preview(&self, look: &Look, frame: &mut Frame, area: Rect) {
        let t = look.theme;
        let catalog = look.store.catalog();
        let title = match &self.preview {
            Some(p) => format!(
                " {} · {} of {} ",
                display_safe(&p.role.name),
                p.role.grants.count(),
                catalog.leaf_count()
            ),
            None => " Permissions ".to_string(),
        };
        let block = Block::default()
            .borders(Borders::ALL)
            .border_style(t.border)
            .title(Span::styled(title, t.title));
        let inner = block.inner(area);
        frame.render_widget(block, area);
        let Some(Preview {
            role,
            packages,
            users_via_packages,
        }) = &self.preview
        else {
            return;
        };
        let mut lines = Vec::new();
        if !role.description.is_empty() {
            lines.push(Line::from(Span::styled(
                display_safe(&role.description).into_owned(),
                t.dim,
            )));
        }
        lines.push(Line::from(Span::styled(
            used_by(role.users, packages, *users_via_packages),
            t.header,
        )));
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
}

/// "Used by 3 users directly; in packages "EU Marketing", "Sales" (12 users)".
pub fn used_by(direct: usize, packages: &[String], via_packages: usize) -> String {
    let s = |n: usize| if n == 1 { "" } else { "s" };
    let mut out = format!("Used by {direct} user{} directly", s(direct));
    if packages.is_empty() {
        out.push_str("; in no package");
    } else {
        let names: Vec<String> = packages
            .iter()
            .take(crate::error::IN_USE_SAMPLE)
            .map(|p| format!("\"{}\"", display_safe(p)))
            .collect();
        let more = packages.len().saturating_sub(names.len());
        out.push_str(&format!(
            "; in package{} {}{} ({via_packages} user{} through them)",
            s(packages.len()),
            names.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            },
            s(via_packages)
        ));
    }
    out
}

/// Enter: the editor on role `id`, read-only for a built-in role or session.
fn open_editor(id: i64, fixed: bool, cx: &mut Ctx) -> Vec<Effect> {
    Effect::from_result(cx.store.role_by_id(id), |role| {
        let mut editor = RoleEditor::new(cx.store.catalog(), &role, cx.theme);
        editor.fixed = fixed;
        editor.resources = cx.names.resource_types;
        editor.via_packages = cx.store.packages_including(id).map_or(0, |(_, n)| n);
        let mut out = vec![Effect::EditRole(Box::new(editor))];
        if fixed {
            out.push(Effect::Info(format!(
                "\"{}\" is a fixed role of the catalog, so it opens read-only; c on Roles makes an editable copy",
                role.name
            )));
        } else if role.builtin {
            out.push(Effect::Info(format!(
                "\"{}\" is built in: it always holds every permission, so it opens read-only; c on Roles makes an editable copy",
                role.name
            )));
        } else if cx.read_only() {
            out.push(Effect::Info(
                "read-only: browsing only; changes are refused".into(),
            ));
        }
        out
    })
}

/// `n`: the editor on a role that does not exist yet; Ctrl-S creates it.
fn new_role(cx: &mut Ctx) -> Vec<Effect> {
    let role = Role {
        id: 0,
        name: String::new(),
        description: String::new(),
        builtin: false,
        grants: Grants::none(cx.store.catalog()),
        users: 0,
        version: 0,
        created_seq: 0,
        created_at: String::new(),
        updated_at: String::new(),
        updated_by: String::new(),
    };
    let mut editor = RoleEditor::new(cx.store.catalog(), &role, cx.theme);
    editor.is_new = true;
    editor.focus = Focus::Name;
    vec![
        Effect::EditRole(Box::new(editor)),
        Effect::Info("a new role: type its name, Tab to its permissions; Ctrl-S creates it".into()),
    ]
}

/// `c`: the name of the copy, to edit before anything is created.
fn ask_clone_name(role: &RoleSummary, names: &Names) -> Vec<Effect> {
    let base = crate::domain::role::clone_name(&role.name);
    let mut proposal = base.clone();
    let mut n = 2;
    while names.role_name_problem(&proposal, None).is_some() && n < 100 {
        proposal = format!("{base} {n}");
        n += 1;
    }
    vec![Effect::Open(Overlay::Prompt {
        title: format!("Clone \"{}\"", role.name),
        input: TextInput::new(&proposal, crate::domain::validate::MAX_ROLE_NAME),
        purpose: PromptPurpose::CloneName { source: role.id },
    })]
}

/// The clone's name typed: checked, then the copy is made and selected.
pub fn clone_named(source: i64, title: String, input: TextInput, cx: &mut Ctx) -> Vec<Effect> {
    if let Some(problem) = cx.names.role_name_problem(input.text(), None) {
        return vec![
            Effect::Refuse(format!("not created: {problem}")),
            Effect::Open(Overlay::Prompt {
                title,
                input,
                purpose: PromptPurpose::CloneName { source },
            }),
        ];
    }
    Effect::from_result(
        cx.store.clone_role(source, Some(input.text().trim())),
        |role| {
            vec![
                Effect::Reload,
                Effect::Select(Tab::Roles, role.id),
                Effect::Info(format!(
                    "created \"{}\" with {} permissions; Enter edits it",
                    role.name,
                    role.grants.count()
                )),
            ]
        },
    )
}

/// `*`: the role becomes the default for new users.
fn make_default(id: i64, cx: &mut Ctx) -> Vec<Effect> {
    Effect::from_result(cx.store.set_default_role(RoleRef::Id(id)), |role| {
        vec![
            Effect::Info(format!(
                "\"{}\" is now the default role for new users",
                role.name
            )),
            Effect::Reload,
        ]
    })
}

/// `d`: a confirm when nothing uses the role; otherwise the warning naming who and
/// what uses it, with a role to move them to.
fn ask_delete(role: &RoleSummary, cx: &mut Ctx) -> Vec<Effect> {
    if let Err(e) = crate::domain::role::ensure_unlocked(&role.name, role.builtin, role.fixed) {
        return vec![Effect::Error(e)];
    }
    let is_default = role.id == cx.names.default_role;
    let (packages, via) = match cx.store.packages_including(role.id) {
        Ok(p) => p,
        Err(e) => return vec![Effect::Error(e)],
    };
    if role.users > 0 || is_default || !packages.is_empty() {
        return Effect::from_result(
            cx.store.role_holders(role.id, crate::error::IN_USE_SAMPLE),
            |holders| {
                let info = RoleInUse {
                    role: role.name.clone(),
                    user_count: role.users,
                    sample: holders,
                    is_default,
                    packages,
                    users_via_packages: via,
                };
                vec![delete_blocked(role.id, info, cx.names)]
            },
        );
    }
    vec![Effect::confirm(
        format!("Delete role \"{}\"?", role.name),
        vec![
            format!(
                "No user or package uses \"{}\" and it is not the default role.",
                role.name
            ),
            "Deleting it cannot be undone; the audit log keeps its permissions.".into(),
        ],
        Pending::DeleteRole {
            id: role.id,
            name: role.name.clone(),
        },
    )]
}

/// The blocked-delete warning, its picker on the default role.
fn delete_blocked(role_id: i64, info: RoleInUse, names: &Names) -> Effect {
    let choices = if names.default_role == role_id {
        Vec::new()
    } else {
        names.roles_except(Some(role_id))
    };
    let mut list = FilteredList::new(choices.len());
    if let Some(pos) = choices.iter().position(|(id, _)| *id == names.default_role) {
        list.select_source(pos);
    }
    Effect::Open(Overlay::DeleteBlocked {
        role_id,
        info,
        choices,
        list,
    })
}

/// "Yes" on the delete confirm: deleted, or the warning when it came into use since.
pub fn delete(id: i64, name: &str, cx: &mut Ctx) -> Vec<Effect> {
    match cx.store.delete_role(id, None) {
        Ok(_) => vec![
            Effect::Info(format!("deleted role \"{name}\"")),
            Effect::Reload,
        ],
        Err(Error::RoleInUse(info)) => vec![delete_blocked(id, info, cx.names)],
        Err(e) => vec![Effect::Error(e)],
    }
}

/// A role chosen in the blocked-delete warning: at once when it grants nothing the
/// deleted role did not, else after a dialog naming who gains how much (Administrator
/// picked by one Enter would give everyone in its packages every permission).
pub fn ask_reassign(
    role_id: i64,
    info: &RoleInUse,
    target: (i64, &str),
    cx: &mut Ctx,
) -> Vec<Effect> {
    let roles = cx
        .store
        .role_by_id(role_id)
        .and_then(|old| Ok((old, cx.store.role_by_id(target.0)?)));
    let (old, new) = match roles {
        Ok(pair) => pair,
        Err(e) => return vec![Effect::Error(e)],
    };
    let gained = new.grants.diff(&old.grants).0.len();
    let affected = info.user_count + info.users_via_packages;
    if gained == 0 || affected == 0 {
        return reassign_and_delete(role_id, target, cx);
    }
    let what = if new.builtin {
        "every permission, also ones added to the catalog later".to_string()
    } else {
        format!(
            "{gained} permission{} \"{}\" did not give",
            if gained == 1 { "" } else { "s" },
            old.name
        )
    };
    let mut lines = vec![format!("\"{}\" grants {what}.", new.name)];
    if info.user_count > 0 {
        lines.push(format!(
            "{} user{} holding \"{}\" directly move to it.",
            info.user_count,
            if info.user_count == 1 { "" } else { "s" },
            old.name
        ));
    }
    if !info.packages.is_empty() {
        lines.push(format!(
            "It takes the role's place in {} package{} ({} user{} in them).",
            info.packages.len(),
            if info.packages.len() == 1 { "" } else { "s" },
            info.users_via_packages,
            if info.users_via_packages == 1 {
                ""
            } else {
                "s"
            }
        ));
    }
    vec![Effect::confirm(
        format!("Move everything to \"{}\"? It grants more", new.name),
        lines,
        Pending::Reassign {
            role_id,
            target_id: target.0,
            target: target.1.to_string(),
        },
    )]
}

/// A role chosen in the blocked-delete warning: its users and packages move there,
/// then the role is deleted, in one transaction.
pub fn reassign_and_delete(role_id: i64, target: (i64, &str), cx: &mut Ctx) -> Vec<Effect> {
    let result = cx.store.delete_role(role_id, Some(RoleRef::Id(target.0)));
    Effect::from_result(result, |out| {
        vec![
            Effect::Info(format!(
                "moved {} user{} to \"{}\" and deleted role \"{}\"",
                out.moved,
                if out.moved == 1 { "" } else { "s" },
                target.1,
                out.role
            )),
            Effect::Reload,
        ]
    })
}

/// `u`: every user holding the role.
fn show_users(role: &RoleSummary, cx: &mut Ctx) -> Vec<Effect> {
    Effect::from_result(cx.store.role_holders(role.id, usize::MAX >> 1), |users| {
        vec![Effect::Open(Overlay::RoleUsers {
            role: role.name.clone(),
            users,
            scroll: Default::default(),
        })]
    })
}

/// The role picked to compare with: both side by side.
pub fn compare(a: i64, b: i64, cx: &mut Ctx) -> Vec<Effect> {
    match (cx.store.role_by_id(a), cx.store.role_by_id(b)) {
        (Ok(a), Ok(b)) => vec![Effect::Open(Overlay::Compare {
            a: Box::new(a),
            b: Box::new(b),
            scroll: Default::default(),
        })],
        (Err(e), _) | (_, Err(e)) => vec![Effect::Error(e)],
    }
}
