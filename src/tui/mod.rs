//! The console (SPEC §9): terminal setup and restore, and the synchronous loop
//! event → [`app::Msg`] → [`app::App::update`] → [`views::draw`].
//!
//! ```text
//! src/tui/
//!   mod.rs          this loop; the terminal is restored on every way out; `cx!`
//!   app.rs          the router: it owns the screens, the tabs, the dialog stack, the
//!                   status line and the tick, hands each Msg to the place with the
//!                   focus and carries out the `Effect`s it returns (`apply`)
//!   keys.rs         the key table (one row per key and scope) → Action
//!   views.rs        the frame: tab bar, the focused screen, status line, footer, dialogs
//!   screens/        one file per screen; each owns its state, its `update` (its keys),
//!                   its `draw` and `available` (which keys work now)
//!     mod.rs          `Effect` (what a screen asks of the router), `Ctx` (the store
//!                     and names it acts through), `Look` (what it reads to draw),
//!                     `ListView` (rows, filter, the keys every list has)
//!     users.rs        UsersScreen: tags, background load, role and package pickers,
//!                     enable/disable, owner, password, delete, opening the form
//!     roles.rs        RolesScreen and its preview (grants, who uses the role): new,
//!                     clone, compare, default, delete with the way forward
//!     packages.rs     PackagesScreen and its preview: new, open, delete
//!     audit.rs        AuditScreen: newest first, CHANGE column, filter
//!     role_editor.rs  RoleEditor: name, description, tree, search, save summary, save
//!     user_form.rs    UserForm: fields checked as typed, role and packages, effective
//!                     permissions with their sources, save
//!     package_editor.rs PackageEditor: name, description, roles checklist, members
//!   dialogs/        one file per kind of dialog (confirm, pick, delete_blocked,
//!                   conflict, password, prompt, help, text) drawn by dialogs::show;
//!     answer.rs       routes a dialog's answer back to the screen that opened it
//!   widgets/        list.rs (FilteredList, match highlighting, columns),
//!                   scroll_text.rs (every scrolling dialog), input.rs (every field)
//! ```
//!
//! How a key travels: crossterm `Event` → [`event_to_msg`] → `App::key_to_msg`, which
//! asks the focused place for its scopes (a dialog's, else the editor's, the form's
//! or the tab's list) and resolves the key in the key table, innermost scope first,
//! to `Msg::Action` (or `Msg::Input` for a text field) → `App::update` routes it: the
//! top dialog of the stack (`?` there opens the help over it; Esc closes one level),
//! else `?` and `1`-`4` (the router's own), else the open editor or form, else the
//! current tab's screen. The screen changes its own state and the store (through a
//! `Ctx`) and returns `Effect`s: say something, open a dialog or an editor, close it,
//! read the lists again, select a row, show the audit of a name, quit. A dialog's
//! answer carries what it was opened for (`Pending`, `PickPurpose`, `Retry`), and
//! `dialogs/answer.rs` hands it back to that screen. A status too long for its two
//! rows ends in `…`; Ctrl-L (offered in the footer then) shows it whole. The footer
//! and the help are built from the same table, filtered by `App::available`, so they
//! list only keys that work now.
//!
//! The terminal is restored on every way out: normal quit, an error, a panic (hook),
//! and SIGTERM/SIGHUP (a signal thread that restores and exits). Saved data is never at risk:
//! each save is one transaction, and an unsaved edit is simply dropped.

/// The [`screens::Ctx`] a screen acts through, borrowed from the router's fields
/// (the store, the matcher, the names) beside the screen itself.
macro_rules! cx {
    ($app:ident) => {
        &mut $crate::tui::screens::Ctx {
            store: &mut $app.store,
            matcher: &$app.matcher,
            theme: $app.theme,
            names: &$app.names,
        }
    };
}

pub mod app;
pub mod dialogs;
pub mod keys;
pub mod screens;
pub mod theme;
pub mod views;
pub mod widgets;

pub use screens::role_editor as editor;
pub use screens::user_form;

use std::io::{self, Write};
use std::time::{Duration, Instant};

use crossterm::event::{
    self, DisableMouseCapture, EnableMouseCapture, Event, KeyEventKind, MouseButton, MouseEventKind,
};
use crossterm::execute;
use crossterm::terminal::{self, EnterAlternateScreen, LeaveAlternateScreen};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use ratatui::layout::Position;
use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::error::{Error, Result};
use crate::store::Store;
use app::{App, Msg};
use theme::Theme;

/// How often the console looks for changes by other processes.
const TICK: Duration = Duration::from_millis(1000);

/// Puts the terminal back as it was. Safe to call more than once.
fn restore_terminal() {
    let _ = terminal::disable_raw_mode();
    let _ = execute!(
        io::stdout(),
        DisableMouseCapture,
        LeaveAlternateScreen,
        crossterm::cursor::Show
    );
    let _ = io::stdout().flush();
}

/// Restores the terminal when dropped, so `?` and early returns cannot skip it.
struct TerminalGuard;

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

/// Maps a terminal event to a message for the current state.
pub fn event_to_msg(app: &App, event: Event) -> Option<Msg> {
    match event {
        Event::Key(key) if key.kind != KeyEventKind::Release => app.key_to_msg(key),
        Event::Mouse(m) => {
            let at = Position::new(m.column, m.row);
            match m.kind {
                MouseEventKind::Down(MouseButton::Left) => Some(Msg::Click(at)),
                MouseEventKind::ScrollDown => Some(Msg::Scroll { at, rows: 3 }),
                MouseEventKind::ScrollUp => Some(Msg::Scroll { at, rows: -3 }),
                _ => None,
            }
        }
        _ => None,
    }
}

/// A message worded for the console: where the rule's text names a CLI command,
/// the console's key for the same thing is named instead.
pub fn console_words(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("`rolecall ") {
        let Some(len) = rest[at + 1..].find('`') else {
            break;
        };
        let command = &rest[at + 1..at + 1 + len];
        out.push_str(&rest[..at]);
        match console_key_for(command) {
            Some(keys) => out.push_str(keys),
            // Nothing in the console does it yet: keep the command, it still works.
            None => out.push_str(&rest[at..at + len + 2]),
        }
        rest = &rest[at + len + 2..];
    }
    out.push_str(rest);
    out.replace(
        "move them with --reassign-to ROLE",
        "d on the Roles tab offers to move them",
    )
    .replace(
        "move everything to another role with --reassign-to ROLE",
        "d on the Roles tab offers to move everything to another role",
    )
}

/// The console's keys for a CLI command a message names, when it has them.
fn console_key_for(command: &str) -> Option<&'static str> {
    let words: Vec<&str> = command.split_whitespace().collect();
    match words.get(1..3)? {
        ["users", "set"] if words.contains(&"--role") => Some("r on the Users tab"),
        ["users", "set"] if words.contains(&"--active") => Some("x on the Users tab"),
        ["users", "set"] => Some("Enter on the Users tab"),
        ["roles", "grant"] => Some("Space in the role's editor (2, Enter on the role)"),
        ["users", "transfer-ownership"] => Some("o on the Users tab"),
        ["roles", "set-default"] => Some("* on the Roles tab"),
        ["roles", "create"] if words.contains(&"--from") => Some("c on the Roles tab"),
        ["packages", "add-user"] => Some("g on the Users tab"),
        ["resources", "list"] => Some("the Resources tab (5)"),
        ["users", "list"] => Some("the Users tab (1)"),
        ["roles", "list"] => Some("the Roles tab (2)"),
        ["packages", "list"] => Some("the Packages tab (3)"),
        _ => None,
    }
}

/// Runs the console on an open store until the operator quits or a signal arrives.
pub fn run(store: Store) -> Result<()> {
    let mut app = App::new(store, Theme::from_env())?;

    // A signal ends the process from its own thread: when SSH drops, the terminal
    // is gone and crossterm's reader can spin on end-of-input without ever returning
    // to this loop. Nothing is lost by leaving at once: every save is one committed
    // transaction, and an unsaved edit is simply dropped.
    let mut signals = Signals::new([SIGTERM, SIGHUP, SIGINT, SIGQUIT])
        .map_err(|e| Error::Storage(format!("cannot install signal handlers: {e}")))?;
    std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            restore_terminal();
            std::process::exit(128 + signal);
        }
    });
    let previous_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore_terminal();
        previous_hook(info);
    }));

    let io_error = |e: io::Error| Error::Storage(format!("terminal error: {e}"));
    terminal::enable_raw_mode().map_err(io_error)?;
    let _guard = TerminalGuard;
    execute!(io::stdout(), EnterAlternateScreen, EnableMouseCapture).map_err(io_error)?;
    let mut terminal = Terminal::new(CrosstermBackend::new(io::stdout())).map_err(io_error)?;

    let mut next = |wait: Duration| -> io::Result<Option<Event>> {
        if event::poll(wait)? {
            event::read().map(Some)
        } else {
            Ok(None)
        }
    };
    drive(&mut app, &mut terminal, &mut next)?;
    app.fatal.take().map_or(Ok(()), Err)
}

/// The loop itself, on any terminal and any source of events: `next_event` waits up
/// to the time it is given and returns `None` when nothing came. The local console
/// reads crossterm's events; `rolecall serve` parses what its SSH channel receives.
pub fn drive<W: Write>(
    app: &mut App,
    terminal: &mut Terminal<CrosstermBackend<W>>,
    next_event: &mut dyn FnMut(Duration) -> io::Result<Option<Event>>,
) -> Result<()> {
    let io_error = |e: io::Error| Error::Storage(format!("terminal error: {e}"));
    let mut next_tick = Instant::now() + TICK;
    let mut dirty = true;
    while !app.quit {
        if dirty {
            terminal
                .draw(|frame| views::draw(app, frame))
                .map_err(io_error)?;
            dirty = false;
        }
        // While the users list loads in the background, look for it often.
        let cap = if app.is_loading_in_background() {
            20
        } else {
            250
        };
        let wait = next_tick
            .saturating_duration_since(Instant::now())
            .min(Duration::from_millis(cap));
        match next_event(wait).map_err(io_error)? {
            Some(Event::Resize(width, height)) => {
                terminal
                    .resize(ratatui::layout::Rect::new(0, 0, width, height))
                    .map_err(io_error)?;
                dirty = true;
            }
            Some(event) => {
                if let Some(msg) = event_to_msg(app, event) {
                    app.update(msg);
                    dirty = true;
                }
            }
            None => {}
        }
        if app.is_loading_in_background() && app.poll_background(false) {
            dirty = true;
        }
        if Instant::now() >= next_tick {
            let before = app.status.clone();
            dirty |= app.tick() || before != app.status;
            next_tick = Instant::now() + TICK;
        }
    }
    Ok(())
}
