//! One served console: the same `App` and loop as a local run (`tui::drive`), on a
//! terminal of the client's size and type, fed by what its channel receives.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::time::{Duration, Instant};

use crossterm::event::{DisableMouseCapture, EnableMouseCapture, Event};
use crossterm::terminal::{EnterAlternateScreen, LeaveAlternateScreen};
use crossterm::{cursor, queue};
use ratatui::backend::CrosstermBackend;
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};

use super::channel::{CLIENT_GONE, ChannelIn, ChannelOut, Input, Waited};
use super::input::InputParser;
use super::{Login, Shared};
use crate::error::{Error, Result};
use crate::store::KeyCheck;
use crate::tui::app::App;
use crate::tui::theme::Theme;

/// How often a console looks at its login's key and user again.
const KEY_CHECK_EVERY: Duration = Duration::from_secs(2);

/// What the client's pty request said.
#[derive(Debug, Clone)]
pub struct Pty {
    pub term: String,
    pub cols: u16,
    pub rows: u16,
}

/// Runs the console for `login` until they quit, the client goes, the session
/// is idle too long or the server stops. Returns the exit status for the client.
pub fn run(
    shared: &Shared,
    login: &Login,
    check: KeyCheck,
    pty: Pty,
    no_color: Option<String>,
    out: ChannelOut,
    mut input: ChannelIn,
) -> u32 {
    let mut err = out.stderr();
    let mut out = out;
    let outcome = console(shared, login, &check, &pty, no_color, &mut out, &mut input);
    // Whatever happened, the client's terminal is put back as it was.
    let _ = queue!(out, DisableMouseCapture, LeaveAlternateScreen, cursor::Show);
    let _ = out.flush();
    let status = match outcome {
        Ok(None) => 0,
        Ok(Some(reason)) => {
            let _ = writeln!(err, "rolecall: {reason}");
            let _ = err.flush();
            0
        }
        Err(e) => {
            let message = crate::text::display_safe(&e.to_string()).into_owned();
            let _ = writeln!(err, "rolecall: {message}");
            let _ = err.flush();
            e.exit_code() as u32
        }
    };
    out.finish(status);
    status
}

fn console(
    shared: &Shared,
    login: &Login,
    check: &KeyCheck,
    pty: &Pty,
    no_color: Option<String>,
    out: &mut ChannelOut,
    input: &mut ChannelIn,
) -> Result<Option<String>> {
    let store = shared.open_as(login, false)?;
    let theme = Theme::for_env(no_color, Some(pty.term.clone()));
    let mut app = App::new(store, theme)?;
    let io_error = |e: io::Error| Error::Storage(format!("terminal error: {e}"));
    queue!(out, EnterAlternateScreen, EnableMouseCapture, cursor::Hide).map_err(io_error)?;
    let size = Rect::new(0, 0, pty.cols.max(1), pty.rows.max(1));
    let options = TerminalOptions {
        viewport: Viewport::Fixed(size),
    };
    let mut terminal =
        Terminal::with_options(CrosstermBackend::new(&mut *out), options).map_err(io_error)?;
    let mut parser = InputParser::default();
    let mut queued: VecDeque<Event> = VecDeque::new();
    let mut last_input = Instant::now();
    let idle = shared.idle_timeout;
    // The key and the user are looked at again every few seconds: a key removed or a
    // user disabled ends the session, not only its next change.
    let mut last_check = Instant::now();
    // Set when the session is ended for the operator rather than by them.
    let mut ended_because: Option<String> = None;
    let mut ended = |reason: String| {
        ended_because = Some(reason.clone());
        io::Error::new(io::ErrorKind::Interrupted, reason)
    };
    let mut next = |wait: Duration| -> io::Result<Option<Event>> {
        if shared.stopping() {
            return Err(ended("the server is stopping; the session ended".into()));
        }
        if let Some(event) = queued.pop_front() {
            return Ok(Some(event));
        }
        if last_check.elapsed() >= KEY_CHECK_EVERY {
            last_check = Instant::now();
            if let Some(why) = shared.revoked(check, login) {
                return Err(ended(why));
            }
        }
        if last_input.elapsed() >= idle {
            return Err(ended(format!(
                "the session was idle for {} s and has ended",
                idle.as_secs()
            )));
        }
        match input.next(wait) {
            Ok(Input::Data(bytes)) => {
                last_input = Instant::now();
                queued.extend(parser.feed(&bytes));
                Ok(queued.pop_front())
            }
            Ok(Input::Resize(cols, rows)) => Ok(Some(Event::Resize(cols.max(1), rows.max(1)))),
            Ok(Input::Eof) | Err(Waited::Timeout) => Ok(None),
            Err(Waited::Closed) => Err(ended(CLIENT_GONE.into())),
        }
    };
    let outcome = crate::tui::drive(&mut app, &mut terminal, &mut next);
    // Put the cursor back here, where a client that has gone is no news, rather than
    // in the terminal's drop, which reports the failure on the server's log.
    let _ = terminal.show_cursor();
    match (outcome, ended_because) {
        // Ended for the operator (idle, the server stopping, the client gone):
        // nothing is half-saved, as every save is one committed transaction.
        (Err(_), Some(reason)) => Ok(Some(reason)),
        (Err(e), None) if e.to_string().contains(CLIENT_GONE) => Ok(Some(CLIENT_GONE.into())),
        (Err(e), None) => Err(e),
        (Ok(()), _) => app.fatal.take().map_or(Ok(None), Err),
    }
}
