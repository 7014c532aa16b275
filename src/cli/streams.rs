//! Where a command's text goes and comes from: the process's standard streams, or,
//! for a command `rolecall serve` runs for an SSH `exec` request, that session's
//! channel. The served streams are set for the one thread that runs the command
//! (`served`), so every other thread, and every local run, uses the process's own.

use std::cell::RefCell;
use std::io::{self, BufRead, IsTerminal, Read, Write};

/// A served command's three streams.
pub struct Streams {
    pub out: Box<dyn Write>,
    pub err: Box<dyn Write>,
    pub input: Box<dyn BufRead>,
}

thread_local! {
    static SERVED: RefCell<Option<Streams>> = const { RefCell::new(None) };
}

/// Runs `f` with this thread's command output and input on `streams`.
pub fn served<T>(streams: Streams, f: impl FnOnce() -> T) -> T {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            SERVED.with(|s| s.borrow_mut().take());
        }
    }
    SERVED.with(|s| *s.borrow_mut() = Some(streams));
    let _reset = Reset;
    f()
}

/// True while this thread runs a served command: files on the server are then out
/// of reach, and nothing is a terminal.
pub fn is_served() -> bool {
    SERVED.with(|s| s.borrow().is_some())
}

/// Writes all of `bytes` to standard output and flushes.
pub(crate) fn write_out(bytes: &[u8]) -> io::Result<()> {
    SERVED.with(|s| match s.borrow_mut().as_mut() {
        Some(streams) => streams
            .out
            .write_all(bytes)
            .and_then(|()| streams.out.flush()),
        None => {
            let mut out = io::stdout().lock();
            out.write_all(bytes).and_then(|()| out.flush())
        }
    })
}

/// Writes all of `bytes` to standard error.
pub(crate) fn write_err(bytes: &[u8]) -> io::Result<()> {
    SERVED.with(|s| match s.borrow_mut().as_mut() {
        Some(streams) => streams
            .err
            .write_all(bytes)
            .and_then(|()| streams.err.flush()),
        None => io::stderr().lock().write_all(bytes),
    })
}

/// The most a served command reads from its standard input (an import of a million
/// users is about 400 MB; the limit keeps one client from filling the server's memory).
pub const MAX_SERVED_INPUT: u64 = 512 * 1024 * 1024;

/// Standard input to its end, as text. A served command's input longer than
/// [`MAX_SERVED_INPUT`] is refused, not cut.
pub(crate) fn read_to_string(text: &mut String) -> io::Result<usize> {
    SERVED.with(|s| match s.borrow_mut().as_mut() {
        Some(streams) => {
            let n = streams
                .input
                .by_ref()
                .take(MAX_SERVED_INPUT + 1)
                .read_to_string(text)?;
            if n as u64 > MAX_SERVED_INPUT {
                text.clear();
                return Err(io::Error::other(format!(
                    "more than {} MiB came in; over ssh, standard input is limited to that",
                    MAX_SERVED_INPUT / (1024 * 1024)
                )));
            }
            Ok(n)
        }
        None => io::stdin().read_to_string(text),
    })
}

/// One line of standard input, reading at most `limit` bytes.
pub(crate) fn read_line(limit: u64, line: &mut Vec<u8>) -> io::Result<usize> {
    SERVED.with(|s| match s.borrow_mut().as_mut() {
        Some(streams) => streams.input.by_ref().take(limit).read_until(b'\n', line),
        None => io::stdin().lock().take(limit).read_until(b'\n', line),
    })
}

pub(crate) fn out_is_terminal() -> bool {
    !is_served() && io::stdout().is_terminal()
}

pub(crate) fn err_is_terminal() -> bool {
    !is_served() && io::stderr().is_terminal()
}
