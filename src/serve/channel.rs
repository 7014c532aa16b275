//! The two directions of one SSH channel as a session thread sees them: a `Write`
//! that sends a frame (or a command's output) to the client, and a receiver of what
//! the client typed, with resizes and end-of-input.
//!
//! Session threads are ordinary threads (the console and the CLI are synchronous);
//! they reach the SSH connection's tasks through the runtime's handle. Sending waits
//! for the connection to take the data, so a client that reads slowly slows its own
//! session down instead of making the server buffer without bound.

use std::collections::VecDeque;
use std::io::{self, BufRead, Read, Write};
use std::time::Duration;

use russh::ChannelId;
use russh::server::Handle;
use tokio::runtime;
use tokio::sync::mpsc;

/// What the connection hands a session thread.
#[derive(Debug)]
pub enum Input {
    Data(Vec<u8>),
    Resize(u16, u16),
    /// The client will send nothing more (end of a command's standard input).
    Eof,
}

/// What a write to a client that has gone fails with.
pub const CLIENT_GONE: &str = "the client has gone";

/// How many unread inputs a session may have before the connection stops reading
/// from its client.
pub const INPUT_QUEUE: usize = 32;

/// Output to the client: standard output, or standard error (`ext` 1) of a command.
pub struct ChannelOut {
    handle: Handle,
    channel: ChannelId,
    rt: runtime::Handle,
    ext: Option<u32>,
    buf: Vec<u8>,
    /// The client has gone: later writes are dropped quietly (the first one said so).
    gone: bool,
}

impl ChannelOut {
    pub fn new(handle: Handle, channel: ChannelId, rt: runtime::Handle) -> ChannelOut {
        ChannelOut {
            handle,
            channel,
            rt,
            ext: None,
            buf: Vec::new(),
            gone: false,
        }
    }

    /// Another writer to the same channel's standard output.
    pub fn clone_writer(&self) -> ChannelOut {
        ChannelOut::new(self.handle.clone(), self.channel, self.rt.clone())
    }

    /// The same channel's standard error.
    pub fn stderr(&self) -> ChannelOut {
        ChannelOut {
            ext: Some(1),
            ..ChannelOut::new(self.handle.clone(), self.channel, self.rt.clone())
        }
    }

    /// Ends the channel: the exit status, end of output, close.
    pub fn finish(&mut self, status: u32) {
        let _ = self.flush();
        let (handle, channel) = (self.handle.clone(), self.channel);
        self.rt.block_on(async move {
            let _ = handle.exit_status_request(channel, status).await;
            let _ = handle.eof(channel).await;
            let _ = handle.close(channel).await;
        });
    }
}

impl Write for ChannelOut {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        // A long command output goes out in pieces, not held whole.
        if self.buf.len() >= 32 * 1024 {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let data = std::mem::take(&mut self.buf);
        if self.gone {
            return Ok(());
        }
        let (handle, channel, ext) = (self.handle.clone(), self.channel, self.ext);
        let sent = self.rt.block_on(async move {
            match ext {
                None => handle.data(channel, data).await,
                Some(code) => handle.extended_data(channel, code, data).await,
            }
        });
        sent.map_err(|_| {
            self.gone = true;
            io::Error::new(io::ErrorKind::BrokenPipe, CLIENT_GONE)
        })
    }
}

/// What the client sends, for a session thread.
pub struct ChannelIn {
    rx: mpsc::Receiver<Input>,
    rt: runtime::Handle,
    /// Bytes received and not yet read (a command's standard input).
    buf: VecDeque<u8>,
    eof: bool,
}

/// Why [`ChannelIn::next`] returned nothing.
#[derive(Debug, PartialEq, Eq)]
pub enum Waited {
    /// Nothing came in the time given.
    Timeout,
    /// The connection is gone.
    Closed,
}

impl ChannelIn {
    pub fn new(rx: mpsc::Receiver<Input>, rt: runtime::Handle) -> ChannelIn {
        ChannelIn {
            rx,
            rt,
            buf: VecDeque::new(),
            eof: false,
        }
    }

    /// The next input, waiting at most `wait`.
    pub fn next(&mut self, wait: Duration) -> Result<Input, Waited> {
        let rx = &mut self.rx;
        match self
            .rt
            .block_on(async { tokio::time::timeout(wait, rx.recv()).await })
        {
            Ok(Some(input)) => Ok(input),
            Ok(None) => Err(Waited::Closed),
            Err(_) => Err(Waited::Timeout),
        }
    }
}

impl Read for ChannelIn {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for ChannelIn {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.buf.is_empty() && !self.eof {
            match self.rx.blocking_recv() {
                Some(Input::Data(data)) => self.buf.extend(data),
                Some(Input::Resize(..)) => {}
                Some(Input::Eof) | None => self.eof = true,
            }
        }
        Ok(self.buf.as_slices().0)
    }

    fn consume(&mut self, n: usize) {
        self.buf.drain(..n);
    }
}
