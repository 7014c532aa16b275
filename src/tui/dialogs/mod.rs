//! Dialogs over the current screen, one file per kind. Each owns its state (the
//! variant of [`Overlay`]), its drawing and its movement keys; what a dialog's
//! answer *does* (a store call) is the business of the screen that opened it,
//! carried by [`Pending`], [`PickPurpose`] or [`Retry`] and routed back to that
//! screen by `answer.rs`.
//!
//! Every dialog is drawn by [`show`]: a centred box that fits its text, wraps long
//! lines, scrolls with the keys every list uses and says how much is above and below,
//! with the dialog's keys on its last line.

mod answer;
mod confirm;
mod conflict;
mod delete_blocked;
mod help;
mod password;
mod pick;
mod prompt;
mod text;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use crate::domain::role::Role;
use crate::error::{Conflict, RoleInUse};
use crate::store::{AuditEntry, UserRef};
use crate::tui::app::App;
use crate::tui::keys::{Action, Scope};
use crate::tui::screens::role_editor::SaveSummary;
use crate::tui::theme::Theme;
use crate::tui::widgets::input::TextInput;
use crate::tui::widgets::list::FilteredList;
use crate::tui::widgets::scroll_text::{ScrollText, wrapped_rows};

pub use pick::role_pick;

/// What a confirm dialog will do on "yes".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pending {
    DeleteRole {
        id: i64,
        name: String,
    },
    DeleteUser {
        user: UserRef,
    },
    DeletePackage {
        id: i64,
        name: String,
        /// Members when the dialog was opened: an empty package is deleted only
        /// while it stays empty.
        members: usize,
        /// The package's version when the dialog named its members: a package
        /// changed since is not deleted on that answer.
        version: i64,
    },
    SetActive {
        users: Vec<UserRef>,
        active: bool,
    },
    MakeOwner {
        user: UserRef,
    },
    /// Give a role that grants more than the users have now.
    GiveRole {
        users: Vec<UserRef>,
        role_id: i64,
        role_name: String,
    },
    /// Put users into a package that grants more than they have now.
    JoinPackage {
        users: Vec<UserRef>,
        package_id: i64,
    },
    /// Clear the tags of many users.
    ClearTags,
    /// Leave the open editor or form, dropping its unsaved changes.
    Discard,
    Save(SaveSummary),
    SavePackage,
    /// Move a role's users and packages to a role that grants more, then delete it.
    Reassign {
        role_id: i64,
        target_id: i64,
        target: String,
    },
    /// Save the exception being edited.
    SaveException,
    /// Drop the exception being edited: the general grants apply again.
    ClearException,
}

/// A dialog drawn over the current view; it has the keyboard while it is open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overlay {
    /// Every key, the current place's first.
    Help { scroll: ScrollText },
    Confirm {
        title: String,
        lines: Vec<String>,
        pending: Pending,
        scroll: ScrollText,
    },
    /// Delete refused because the role is in use, with a role to move its users to.
    DeleteBlocked {
        role_id: i64,
        info: RoleInUse,
        choices: Vec<(i64, String)>,
        list: FilteredList,
    },
    /// The before/after of one audit row, every field in full.
    AuditDetail {
        entry: Box<AuditEntry>,
        scroll: ScrollText,
    },
    /// A filterable list of roles; Enter acts on the choice per `purpose`.
    Pick {
        purpose: PickPurpose,
        title: String,
        choices: Vec<(i64, String)>,
        haystacks: Vec<String>,
        list: FilteredList,
    },
    /// Two roles side by side: what each can and cannot do.
    Compare {
        a: Box<Role>,
        b: Box<Role>,
        scroll: ScrollText,
    },
    /// A save lost a race with another operator: reload theirs or overwrite.
    Conflict { conflict: Conflict, retry: Retry },
    /// A new password, typed twice and shown masked.
    Password {
        username: String,
        first: TextInput,
        second: TextInput,
        on_second: bool,
    },
    /// The users holding a role.
    RoleUsers {
        role: String,
        users: Vec<(String, bool)>,
        scroll: ScrollText,
    },
    /// One line of text to type, such as the name of a clone.
    Prompt {
        title: String,
        input: TextInput,
        purpose: PromptPurpose,
    },
    /// Lines of text under a title (who may do something on a resource).
    Lines {
        title: String,
        lines: Vec<String>,
        scroll: ScrollText,
    },
    /// A status message in full (the status line cut it with `…`).
    Message {
        text: String,
        error: bool,
        scroll: ScrollText,
    },
}

/// What an overwrite after a conflict saves again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Retry {
    Role(SaveSummary),
    User,
    Package,
}

/// What a role picked from [`Overlay::Pick`] is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PickPurpose {
    /// Give these users the role, in one transaction.
    AssignRole { users: Vec<UserRef> },
    /// Compare this role with the one picked.
    CompareWith { role_id: i64 },
    /// The role field of the user form.
    FormRole,
    /// The packages field of the user form: join or leave the package picked.
    FormPackage,
    /// `g` on Users: put these users into the package picked, or take them out.
    Package { users: Vec<UserRef> },
    /// A user to add to the members in the package editor.
    Member,
    /// A resource whose exception the role editor opens.
    ExceptionFor,
    /// A permission (leaf ordinal) to ask who may do on this resource.
    WhoCanOn { spec: String },
}

/// What the text typed into [`Overlay::Prompt`] is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromptPurpose {
    /// The name of a copy of this role.
    CloneName { source: i64 },
}

impl Overlay {
    /// The key scopes of this dialog, innermost first.
    pub fn scopes(&self) -> Vec<Scope> {
        match self {
            Overlay::Confirm {
                pending: Pending::Discard,
                ..
            } => vec![Scope::Discard, Scope::Dialog, Scope::Scroll],
            Overlay::Confirm { .. } => vec![Scope::Confirm, Scope::Dialog, Scope::Scroll],
            Overlay::DeleteBlocked { .. } => vec![Scope::Picker, Scope::Dialog],
            Overlay::Help { .. }
            | Overlay::AuditDetail { .. }
            | Overlay::Compare { .. }
            | Overlay::RoleUsers { .. }
            | Overlay::Lines { .. }
            | Overlay::Message { .. } => vec![Scope::Scroll],
            Overlay::Pick { .. } => vec![Scope::Pick, Scope::TextField],
            Overlay::Conflict { .. } => vec![Scope::Conflict, Scope::Dialog],
            Overlay::Password { .. } | Overlay::Prompt { .. } => vec![Scope::TextField],
        }
    }

    /// Movement inside the dialog (scrolling, the next choice); false when `action`
    /// is not a movement this dialog has.
    pub fn on_move(&mut self, action: Action) -> bool {
        match self {
            Overlay::Help { scroll }
            | Overlay::Confirm { scroll, .. }
            | Overlay::AuditDetail { scroll, .. }
            | Overlay::Compare { scroll, .. }
            | Overlay::RoleUsers { scroll, .. }
            | Overlay::Lines { scroll, .. }
            | Overlay::Message { scroll, .. } => scroll.on_action(action),
            Overlay::DeleteBlocked { list, .. } | Overlay::Pick { list, .. } => {
                list.on_action(action)
            }
            _ => false,
        }
    }

    /// A key typed into the dialog's field (a password, a name, a picker's filter).
    pub fn on_input(
        &mut self,
        key: &crossterm::event::KeyEvent,
        matcher: &fuzzy_matcher::skim::SkimMatcherV2,
    ) {
        match self {
            Overlay::Password {
                first,
                second,
                on_second,
                ..
            } => {
                let field = if *on_second { second } else { first };
                field.handle(key);
            }
            Overlay::Pick {
                list, haystacks, ..
            } => {
                let changed = list.query.handle(key);
                if changed {
                    list.refilter(haystacks, matcher);
                }
            }
            Overlay::Prompt { input, .. } => {
                input.handle(key);
            }
            _ => {}
        }
    }

    /// The mouse wheel over the dialog.
    pub fn on_wheel(&mut self, rows: isize) {
        let action = if rows < 0 { Action::Up } else { Action::Down };
        for _ in 0..rows.unsigned_abs() {
            self.on_move(action);
        }
    }
}

pub fn draw(app: &App, overlay: &Overlay, frame: &mut Frame, area: Rect) {
    match overlay {
        Overlay::Help { scroll } => help::draw(app, scroll, frame, area),
        Overlay::Confirm { .. } => confirm::draw(app, overlay, frame, area),
        Overlay::DeleteBlocked { .. } => delete_blocked::draw(app, overlay, frame, area),
        Overlay::Pick { .. } => pick::draw(app, overlay, frame, area),
        Overlay::Conflict { conflict, .. } => conflict::draw(app, conflict, frame, area),
        Overlay::Password { .. } => password::draw(app, overlay, frame, area),
        Overlay::Prompt { .. } => prompt::draw(app, overlay, frame, area),
        Overlay::Compare { .. }
        | Overlay::RoleUsers { .. }
        | Overlay::AuditDetail { .. }
        | Overlay::Lines { .. }
        | Overlay::Message { .. } => text::draw(app, overlay, frame, area),
    }
}

/// A key and what it does, for a dialog's last line.
pub fn keys_line(t: &Theme, keys: &[(&str, &str)]) -> Line<'static> {
    let mut spans = Vec::new();
    for (i, (key, what)) in keys.iter().enumerate() {
        if i > 0 {
            spans.push(Span::raw("   "));
        }
        spans.push(Span::styled(crate::tui::keys::hint(key, t.ascii), t.key));
        spans.push(Span::raw(format!(" {what}")));
    }
    Line::from(spans)
}

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

pub fn safe(s: &str) -> String {
    crate::text::display_safe(s).into_owned()
}

/// Draws a dialog: `title`, `body` (scrolled by `scroll` when given, else wrapped
/// whole) and `keys` on the last line. Returns the box.
pub fn show(
    t: &Theme,
    frame: &mut Frame,
    area: Rect,
    title: &str,
    body: Vec<Line<'static>>,
    keys: Line<'static>,
    scroll: Option<&ScrollText>,
) -> Rect {
    let widest = body.iter().map(Line::width).max().unwrap_or(20);
    let width = (widest.max(keys.width()).max(crate::text::width(title) + 4) + 4) as u16;
    let width = width
        .min(area.width.saturating_sub(4))
        .max(20.min(area.width));
    let inner_w = width.saturating_sub(2).max(1) as usize;
    let rows =
        wrapped_rows(&body, inner_w) + wrapped_rows(std::slice::from_ref(&keys), inner_w) + 1;
    let height = (rows as u16)
        .saturating_add(2)
        .min(area.height.saturating_sub(2).max(3));
    let box_area = centered(area, width, height);
    frame.render_widget(Clear, box_area);
    let title = crate::text::truncate(title, inner_w.saturating_sub(2)).into_owned();
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(t.title)
        .title(Span::styled(format!(" {title} "), t.title));
    let inner = block.inner(box_area);
    frame.render_widget(block, box_area);
    let keys_rows = wrapped_rows(std::slice::from_ref(&keys), inner_w) as u16;
    let body_h = inner.height.saturating_sub(keys_rows + 1);
    let body_area = Rect {
        height: body_h,
        ..inner
    };
    let keys_area = Rect {
        y: inner.y + inner.height.saturating_sub(keys_rows),
        height: keys_rows.min(inner.height),
        ..inner
    };
    let (above, below) = match scroll {
        Some(s) => s.render(body, body_area, frame.buffer_mut()),
        None => {
            frame.render_widget(Paragraph::new(body).wrap(Wrap { trim: false }), body_area);
            (0, 0)
        }
    };
    frame.render_widget(Paragraph::new(keys).wrap(Wrap { trim: false }), keys_area);
    if above + below > 0 && box_area.height > 2 {
        let more = more_note(above, below, t.ascii);
        let w = (crate::text::width(&more) as u16).min(box_area.width.saturating_sub(2));
        let at = Rect {
            x: box_area.x + box_area.width.saturating_sub(w + 1),
            y: box_area.y + box_area.height - 1,
            width: w,
            height: 1,
        };
        frame.render_widget(Paragraph::new(Span::styled(more, t.header)), at);
    }
    box_area
}

/// "↑ 3 more · ↓ 12 more (PgDn)": what a scrolled dialog does not show.
pub fn more_note(above: usize, below: usize, ascii: bool) -> String {
    let mut parts = Vec::new();
    if above > 0 {
        parts.push(format!("↑ {above} more"));
    }
    if below > 0 {
        parts.push(format!("↓ {below} more (PgDn, End)"));
    }
    crate::tui::keys::hint(&format!(" {} ", parts.join(" · ")), ascii)
}
