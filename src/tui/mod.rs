//! The console (SPEC §9): terminal setup and restore, and the synchronous loop
//! event → [`app::Msg`] → [`app::App::update`] → [`views::draw`].
//!
//! The terminal is restored on every way out: normal quit, an error, a panic (hook),
//! and SIGTERM/SIGHUP (a signal thread that restores and exits). Saved data is never at risk:
//! each save is one transaction, and an unsaved edit is simply dropped.

pub mod app;
pub mod editor;
pub mod keys;
pub mod theme;
pub mod user_form;
pub mod views;
pub mod widgets;

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

    let mut next_tick = Instant::now() + TICK;
    let mut dirty = true;
    while !app.quit {
        if dirty {
            terminal
                .draw(|frame| views::draw(&app, frame))
                .map_err(io_error)?;
            dirty = false;
        }
        // While the users list loads in the background, look for it often.
        let cap = if app.is_loading_users() { 20 } else { 250 };
        let wait = next_tick
            .saturating_duration_since(Instant::now())
            .min(Duration::from_millis(cap));
        if event::poll(wait).map_err(io_error)? {
            match event::read().map_err(io_error)? {
                Event::Resize(..) => dirty = true,
                event => {
                    if let Some(msg) = event_to_msg(&app, event) {
                        app.update(msg);
                        dirty = true;
                    }
                }
            }
        }
        if app.poll_background(false) {
            dirty = true;
        }
        if Instant::now() >= next_tick {
            let before = app.status.clone();
            let rows = (
                app.users.rows.len(),
                app.roles.rows.len(),
                app.audit.rows.len(),
            );
            app.update(Msg::Tick);
            dirty |= before != app.status
                || rows
                    != (
                        app.users.rows.len(),
                        app.roles.rows.len(),
                        app.audit.rows.len(),
                    );
            next_tick = Instant::now() + TICK;
        }
    }
    app.fatal.take().map_or(Ok(()), Err)
}
