//! `rolecall serve` (SPEC §13): an SSH server (russh) that gives each operator the
//! console, or runs one CLI command, as the rolecall user their public key belongs
//! to. The key decides the user, and that user's Administration permissions decide
//! what the session may change: the store checks them inside every change's own
//! transaction (`Store::serve_as`), as it does for every other front end.
//!
//! ```text
//! mod.rs      options, the host key, authentication, one `Connection` per client
//!             and its channels; a session thread per shell or exec request
//! channel.rs  the channel as a session thread sees it (Write out, input in)
//! console.rs  the console on the client's terminal (`tui::drive`)
//! exec.rs     one CLI command, with the usual output and exit code
//! input.rs    the client's key bytes → crossterm events
//! ```
//!
//! Connections live on a small tokio runtime; the console and the CLI are
//! synchronous, so each session runs on a thread of its own and reaches its
//! channel through the runtime's handle. A dropped connection ends its session
//! without writing: every change is one committed transaction, and an edit not yet
//! saved is simply dropped.

mod channel;
mod console;
mod exec;
pub mod input;

use std::collections::{HashMap, VecDeque};
use std::fs;
use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use russh::keys::ssh_key::LineEnding;
use russh::keys::ssh_key::private::Ed25519Keypair;
use russh::keys::{PrivateKey, PublicKey};
use russh::server::{Auth, Msg, PublicKeyOffer, Server as _, Session, VerifiedPublicKey};
use russh::{Channel, ChannelId, MethodKind, MethodSet};
use tokio::sync::mpsc;

use crate::domain::user_key;
use crate::error::{Error, Result};
use crate::store::{self, Access, KeyCheck, Store};
use crate::text::display_safe;
use channel::{ChannelIn, ChannelOut, INPUT_QUEUE, Input};

/// What `rolecall serve` was asked for.
#[derive(Debug, Clone)]
pub struct Options {
    /// The database (`--db`, else `ROLECALL_DB`, else the default path).
    pub db: Option<PathBuf>,
    pub read_only: bool,
    pub listen: String,
    pub host_key: Option<PathBuf>,
    pub idle_timeout: Duration,
}

/// Who a connection logged in as, with which key, and from where.
#[derive(Debug, Clone)]
pub struct Login {
    pub by: store::ServedBy,
    pub from: String,
}

impl Login {
    fn username(&self) -> &str {
        &self.by.username
    }
}

/// What every connection of one server shares.
pub struct Shared {
    db: PathBuf,
    read_only: bool,
    idle_timeout: Duration,
    stopping: AtomicBool,
    sessions: AtomicUsize,
    /// Connections open now: a stopping server waits for them to close, so what its
    /// sessions last wrote (the terminal put back, why they ended) reaches the client.
    connections: AtomicUsize,
    rt: tokio::runtime::Handle,
}

impl Shared {
    /// The database, opened for `login`: every change needs their rights, and the
    /// audit log names them with where they came from.
    fn open_as(&self, login: &Login, read_only: bool) -> Result<Store> {
        let access = if self.read_only || read_only {
            Access::ReadOnly
        } else {
            Access::ReadWrite
        };
        let mut store = Store::open(&self.db, access)?;
        store.serve(login.by.clone(), &login.from);
        Ok(store)
    }

    /// Why `login` may no longer act (its key removed or given to another user, the
    /// user disabled or removed), or `None` while it may.
    fn revoked(&self, check: &KeyCheck, login: &Login) -> Option<String> {
        let Some(fingerprint) = &login.by.fingerprint else {
            return None;
        };
        match check.owner(fingerprint) {
            Ok(Some(owner)) if owner.user_id == login.by.user_id && owner.active => None,
            Ok(Some(owner)) if owner.user_id == login.by.user_id => Some(format!(
                "\"{}\" was disabled; the session has ended",
                owner.username
            )),
            Ok(_) => Some(format!(
                "the key {fingerprint} no longer belongs to \"{}\"; the session has ended",
                login.username()
            )),
            Err(e) => Some(format!(
                "the key could not be checked ({e}); the session has ended"
            )),
        }
    }

    fn stopping(&self) -> bool {
        self.stopping.load(Ordering::Relaxed)
    }
}

/// How many sessions (shell or exec requests) one connection may run at once.
const SESSIONS_PER_CONNECTION: usize = 4;
/// How many sessions the whole server runs at once.
const MAX_SESSIONS: usize = 256;
/// The largest terminal a session draws on.
const MAX_COLS: u32 = 500;
const MAX_ROWS: u32 = 250;
/// How many failed authentication attempts one connection may make.
const MAX_AUTH_ATTEMPTS: usize = 6;
/// Input held back while the client is not reading its output, at most.
const HELD_INPUT: usize = 64 * 1024;
/// How much longer than a session's idle timeout an idle connection is kept.
const CONNECTION_GRACE: Duration = Duration::from_secs(30);
/// How long a stopping server waits for its sessions to put their clients'
/// terminals back.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Writes one line to the server's log (standard error; journald under systemd).
fn log(line: &str) {
    let _ = writeln!(std::io::stderr(), "rolecall serve: {}", display_safe(line));
}

/// Runs the server until SIGTERM, SIGINT or SIGHUP.
pub fn run(options: Options) -> Result<()> {
    let db = match &options.db {
        Some(path) => path.clone(),
        None => store::default_path()?,
    };
    // The database is checked (and created, as for the console) before listening,
    // so a wrong path fails at once, not at the first login.
    drop(crate::cli::open(Some(&db), options.read_only, true)?);
    let key_path = match &options.host_key {
        Some(path) => path.clone(),
        None => store::default_path()?
            .parent()
            .map(|dir| dir.join("ssh_host_ed25519_key"))
            .ok_or_else(|| Error::invalid("host-key", "has no folder to be kept in"))?,
    };
    let host_key = load_or_create_host_key(&key_path)?;
    let listener = std::net::TcpListener::bind(&options.listen).map_err(|e| {
        Error::invalid(
            "listen",
            format!("cannot listen on {}: {e}", display_safe(&options.listen)),
        )
    })?;
    listener
        .set_nonblocking(true)
        .map_err(|e| Error::Storage(format!("cannot listen: {e}")))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::Storage(format!("cannot start the server: {e}")))?;
    let shared = Arc::new(Shared {
        db,
        read_only: options.read_only,
        idle_timeout: options.idle_timeout,
        stopping: AtomicBool::new(false),
        sessions: AtomicUsize::new(0),
        connections: AtomicUsize::new(0),
        rt: runtime.handle().clone(),
    });
    let config = russh::server::Config {
        methods: MethodSet::from(&[MethodKind::PublicKey][..]),
        keys: vec![host_key],
        max_auth_attempts: MAX_AUTH_ATTEMPTS,
        auth_rejection_time: Duration::from_millis(500),
        auth_rejection_time_initial: Some(Duration::ZERO),
        // A backstop for connections that never start a session: a console ends
        // itself at the idle timeout, and must do so first, to put the client's
        // terminal back and say why, before the connection is dropped under it.
        inactivity_timeout: Some(options.idle_timeout + CONNECTION_GRACE),
        nodelay: true,
        ..Default::default()
    };
    runtime.block_on(serve(shared, config, listener))
}

async fn serve(
    shared: Arc<Shared>,
    config: russh::server::Config,
    listener: std::net::TcpListener,
) -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let listener = tokio::net::TcpListener::from_std(listener)
        .map_err(|e| Error::Storage(format!("cannot listen: {e}")))?;
    if let Ok(addr) = listener.local_addr() {
        log(&format!("listening on {addr}"));
    }
    let mut server = Server {
        shared: shared.clone(),
    };
    let running = server.run_on_socket(Arc::new(config), &listener);
    let stop = running.handle();
    let listen_for = |kind: SignalKind| {
        signal(kind).map_err(|e| Error::Storage(format!("cannot install signal handlers: {e}")))
    };
    let mut term = listen_for(SignalKind::terminate())?;
    let mut int = listen_for(SignalKind::interrupt())?;
    let mut hup = listen_for(SignalKind::hangup())?;
    tokio::select! {
        outcome = running => {
            outcome.map_err(|e| Error::Storage(format!("the server stopped: {e}")))?;
        }
        _ = term.recv() => {}
        _ = int.recv() => {}
        _ = hup.recv() => {}
    }
    // Each session sees the flag within a quarter of a second, puts its client's
    // terminal back and closes its channel.
    log("stopping: ending every session");
    shared.stopping.store(true, Ordering::Relaxed);
    let deadline = Instant::now() + STOP_GRACE;
    let busy = || {
        shared.sessions.load(Ordering::Relaxed) > 0
            || shared.connections.load(Ordering::Relaxed) > 0
    };
    while busy() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.shutdown("rolecall serve is stopping".into());
    log("stopped");
    Ok(())
}

/// The server's host key: read from `path`, or made (Ed25519) and written there
/// with mode 0600 when the file is missing, so clients see the same key after a
/// restart.
fn load_or_create_host_key(path: &Path) -> Result<PrivateKey> {
    let shown = || display_safe(&path.display().to_string()).into_owned();
    match fs::read_to_string(path) {
        Ok(text) => {
            let mode = fs::metadata(path)
                .map(|m| m.permissions().mode())
                .unwrap_or(0);
            if mode & 0o077 != 0 {
                return Err(Error::invalid(
                    "host-key",
                    format!(
                        "{} can be read by other accounts (mode {:o}); run chmod 600 on it",
                        shown(),
                        mode & 0o777
                    ),
                ));
            }
            PrivateKey::from_openssh(text.as_bytes()).map_err(|e| {
                Error::invalid(
                    "host-key",
                    format!("{} is not an OpenSSH private key: {e}", shown()),
                )
            })
        }
        Err(e) if e.kind() == ErrorKind::NotFound => {
            let mut seed = [0u8; 32];
            fs::File::open("/dev/urandom")
                .and_then(|mut random| random.read_exact(&mut seed))
                .map_err(|e| {
                    Error::Storage(format!("cannot read random bytes for a host key: {e}"))
                })?;
            let key = PrivateKey::from(Ed25519Keypair::from_seed(&seed));
            let text = key
                .to_openssh(LineEnding::LF)
                .map_err(|e| Error::Storage(format!("cannot write the host key: {e}")))?;
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(dir)
                    .map_err(|e| Error::Storage(format!("cannot create {}: {e}", dir.display())))?;
            }
            fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .and_then(|mut file| {
                    file.write_all(text.as_bytes())
                        .and_then(|()| file.sync_all())
                })
                .map_err(|e| {
                    Error::Storage(format!("cannot write the host key {}: {e}", shown()))
                })?;
            log(&format!("made a new host key at {}", path.display()));
            Ok(key)
        }
        Err(e) => Err(Error::Storage(format!(
            "cannot read the host key {}: {e}",
            shown()
        ))),
    }
}

struct Server {
    shared: Arc<Shared>,
}

impl russh::server::Server for Server {
    type Handler = Connection;

    fn new_client(&mut self, peer: Option<SocketAddr>) -> Connection {
        self.shared.connections.fetch_add(1, Ordering::Relaxed);
        Connection {
            shared: self.shared.clone(),
            peer: peer.map_or_else(|| "an unknown address".into(), |p| p.ip().to_string()),
            login: None,
            channels: HashMap::new(),
        }
    }
}

/// One client connection.
struct Connection {
    shared: Arc<Shared>,
    peer: String,
    login: Option<Login>,
    channels: HashMap<ChannelId, SessionChannel>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.shared.connections.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One session channel of a connection.
#[derive(Default)]
struct SessionChannel {
    pty: Option<console::Pty>,
    no_color: Option<String>,
    /// To the session thread, once a shell or exec request started one.
    input: Option<mpsc::Sender<Input>>,
    /// Input held back while the client is not reading its output.
    held: VecDeque<Vec<u8>>,
    held_bytes: usize,
}

/// What a session thread runs.
enum Work {
    Console(console::Pty, Option<String>),
    Exec(String),
}

/// Decides a key: the user it belongs to must be the login name and active.
fn authorize(
    shared: &Shared,
    user: &str,
    key: &PublicKey,
) -> std::result::Result<store::ServedBy, String> {
    let fingerprint = user_key::fingerprint(key);
    let check = KeyCheck::open(&shared.db).map_err(|e| e.to_string())?;
    match check.owner(&fingerprint).map_err(|e| e.to_string())? {
        None => Err(format!("unknown key {fingerprint} offered for \"{user}\"")),
        Some(owner) if owner.username != user => Err(format!(
            "key {fingerprint} of \"{}\" offered for \"{user}\"",
            owner.username
        )),
        Some(owner) if !owner.active => Err(format!("\"{user}\" is disabled (key {fingerprint})")),
        Some(owner) => Ok(store::ServedBy {
            user_id: owner.user_id,
            username: owner.username,
            fingerprint: Some(fingerprint),
        }),
    }
}

impl Connection {
    /// [`authorize`] on a thread of its own: the database may be PostgreSQL, whose
    /// synchronous client runs a runtime of its own and cannot be called from this
    /// one's threads (nor should a key check block them).
    async fn check(
        &self,
        user: &str,
        key: &PublicKey,
    ) -> std::result::Result<store::ServedBy, String> {
        let shared = self.shared.clone();
        let (user, key) = (user.to_string(), key.clone());
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            let _ = tx.send(authorize(&shared, &user, &key));
        });
        rx.await
            .unwrap_or_else(|_| Err("the key check failed".to_string()))
    }

    /// Starts the thread that runs `work` on `channel`.
    fn start(&mut self, channel: ChannelId, session: &mut Session, work: Work) {
        let Some(login) = self.login.clone() else {
            let _ = session.channel_failure(channel);
            return;
        };
        let Some(state) = self.channels.get_mut(&channel) else {
            let _ = session.channel_failure(channel);
            return;
        };
        if state.input.is_some() {
            // One shell or command per channel.
            let _ = session.channel_failure(channel);
            return;
        }
        if self.shared.sessions.load(Ordering::Relaxed) >= MAX_SESSIONS {
            log(&format!(
                "{} via ssh from {}: refused a session: {MAX_SESSIONS} are running",
                login.username(),
                login.from
            ));
            let _ = session.channel_failure(channel);
            return;
        }
        let (tx, rx) = mpsc::channel(INPUT_QUEUE);
        let shared = self.shared.clone();
        let handle = session.handle();
        let out = ChannelOut::new(handle.clone(), channel, shared.rt.clone());
        let closer = ChannelOut::new(handle, channel, shared.rt.clone());
        let input = ChannelIn::new(rx, shared.rt.clone());
        shared.sessions.fetch_add(1, Ordering::Relaxed);
        let what = match &work {
            Work::Console(..) => "console".to_string(),
            Work::Exec(line) => format!("command `{line}`"),
        };
        let spawned = std::thread::Builder::new()
            .name("rolecall-session".into())
            .spawn(move || {
                let started = Instant::now();
                // The key and the user are checked again for every session a
                // connection starts: a connection outlives the key it logged in
                // with otherwise.
                let check = KeyCheck::open(&shared.db);
                let revoked = match &check {
                    Ok(check) => shared.revoked(check, &login),
                    Err(e) => Some(format!("the key could not be checked ({e})")),
                };
                if let Some(why) = revoked {
                    log(&format!(
                        "{} via ssh from {}: refused a session: {why}",
                        login.username(),
                        login.from
                    ));
                    let mut err = closer.stderr();
                    let _ = writeln!(err, "rolecall: {}", display_safe(&why));
                    let _ = err.flush();
                    let mut closer = closer;
                    closer.finish(3);
                    shared.sessions.fetch_sub(1, Ordering::Relaxed);
                    return;
                }
                let run = std::panic::AssertUnwindSafe(|| match work {
                    Work::Console(pty, no_color) => {
                        // The same connection watches the key while the console lasts.
                        let check = check.expect("a failed check ended the session above");
                        console::run(&shared, &login, check, pty, no_color, out, input)
                    }
                    Work::Exec(line) => exec::run(&shared, &login, &line, out, input),
                });
                let status = match std::panic::catch_unwind(run) {
                    Ok(status) => status,
                    Err(_) => {
                        let mut closer = closer;
                        closer.finish(70);
                        70
                    }
                };
                log(&format!(
                    "{} via ssh from {}: {what} ended with status {status} after {:.1} s",
                    login.username(),
                    login.from,
                    started.elapsed().as_secs_f64()
                ));
                shared.sessions.fetch_sub(1, Ordering::Relaxed);
                // A console holds its lists in memory (tens of MB at 100,000 users);
                // hand what the session freed back to the system, or a server that
                // once had many sessions keeps that much for good.
                // SAFETY: malloc_trim only releases free memory of the allocator.
                unsafe { libc::malloc_trim(0) };
            });
        match spawned {
            Ok(_) => {
                state.input = Some(tx);
                let _ = session.channel_success(channel);
            }
            Err(e) => {
                self.shared.sessions.fetch_sub(1, Ordering::Relaxed);
                log(&format!("cannot start a session: {e}"));
                let _ = session.channel_failure(channel);
            }
        }
    }

    /// Hands input to the channel's session, or holds it while the client is not
    /// reading its output (so a client that only sends cannot make the server keep
    /// frames for it without bound).
    async fn deliver(&mut self, channel: ChannelId, data: &[u8], session: &mut Session) {
        let Some(state) = self.channels.get_mut(&channel) else {
            return;
        };
        if session.has_pending_data(channel) || !state.held.is_empty() {
            if state.held_bytes + data.len() <= HELD_INPUT {
                state.held_bytes += data.len();
                state.held.push_back(data.to_vec());
            }
            return;
        }
        if let Some(tx) = &state.input {
            let _ = tx.send(Input::Data(data.to_vec())).await;
        }
    }
}

impl russh::server::Handler for Connection {
    type Error = russh::Error;

    async fn auth_none(&mut self, _user: &str) -> std::result::Result<Auth, Self::Error> {
        Ok(Auth::reject())
    }

    async fn auth_password(
        &mut self,
        user: &str,
        _password: &str,
    ) -> std::result::Result<Auth, Self::Error> {
        log(&format!(
            "refused a password for \"{user}\" from {}: only keys are accepted",
            self.peer
        ));
        Ok(Auth::reject())
    }

    async fn auth_publickey_offered(
        &mut self,
        user: &str,
        offer: PublicKeyOffer<'_>,
    ) -> std::result::Result<Auth, Self::Error> {
        match self.check(user, offer.public_key).await {
            Ok(_) => Ok(Auth::Accept),
            Err(reason) => {
                log(&format!("refused from {}: {reason}", self.peer));
                Ok(Auth::reject())
            }
        }
    }

    async fn auth_publickey(
        &mut self,
        user: &str,
        key: VerifiedPublicKey<'_>,
    ) -> std::result::Result<Auth, Self::Error> {
        match self.check(user, key.public_key).await {
            Ok(by) => {
                log(&format!("\"{}\" logged in from {}", by.username, self.peer));
                self.login = Some(Login {
                    by,
                    from: self.peer.clone(),
                });
                Ok(Auth::Accept)
            }
            Err(reason) => {
                log(&format!("refused from {}: {reason}", self.peer));
                Ok(Auth::reject())
            }
        }
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: russh::server::ChannelOpenHandle,
        _session: &mut Session,
    ) -> std::result::Result<(), Self::Error> {
        if self.login.is_none() || self.channels.len() >= SESSIONS_PER_CONNECTION {
            return Ok(());
        }
        self.channels
            .insert(channel.id(), SessionChannel::default());
        reply.accept().await;
        Ok(())
    }

    async fn pty_request(
        &mut self,
        channel: ChannelId,
        term: &str,
        cols: u32,
        rows: u32,
        _pix_width: u32,
        _pix_height: u32,
        _modes: &[(russh::Pty, u32)],
        session: &mut Session,
    ) -> std::result::Result<(), Self::Error> {
        if let Some(state) = self.channels.get_mut(&channel) {
            state.pty = Some(console::Pty {
                term: term.to_string(),
                cols: clamp_cols(cols),
                rows: clamp_rows(rows),
            });
            session.channel_success(channel)?;
        }
        Ok(())
    }

    async fn env_request(
        &mut self,
        channel: ChannelId,
        name: &str,
        value: &str,
        session: &mut Session,
    ) -> std::result::Result<(), Self::Error> {
        match self.channels.get_mut(&channel) {
            Some(state) if name == "NO_COLOR" => {
                state.no_color = Some(value.to_string());
                session.channel_success(channel)?;
            }
            _ => session.channel_failure(channel)?,
        }
        Ok(())
    }

    async fn shell_request(
        &mut self,
        channel: ChannelId,
        session: &mut Session,
    ) -> std::result::Result<(), Self::Error> {
        let Some(state) = self.channels.get(&channel) else {
            return Ok(());
        };
        match state.pty.clone() {
            Some(pty) => {
                let no_color = state.no_color.clone();
                self.start(channel, session, Work::Console(pty, no_color));
            }
            None => {
                let text = "rolecall: the console needs a terminal; connect with `ssh -t`, or give a command such as `ssh HOST -- roles list`\r\n";
                session.channel_success(channel)?;
                session.extended_data(channel, 1, text.as_bytes().to_vec())?;
                session.exit_status_request(channel, 2)?;
                session.eof(channel)?;
                session.close(channel)?;
            }
        }
        Ok(())
    }

    async fn exec_request(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        session: &mut Session,
    ) -> std::result::Result<(), Self::Error> {
        let line = String::from_utf8_lossy(data).into_owned();
        self.start(channel, session, Work::Exec(line));
        Ok(())
    }

    async fn data(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        session: &mut Session,
    ) -> std::result::Result<(), Self::Error> {
        self.deliver(channel, data, session).await;
        Ok(())
    }

    async fn window_adjusted(
        &mut self,
        channel: ChannelId,
        _new_size: u32,
        session: &mut Session,
    ) -> std::result::Result<(), Self::Error> {
        // The client read some output: hand on what it typed meanwhile.
        while !session.has_pending_data(channel) {
            let Some(state) = self.channels.get_mut(&channel) else {
                break;
            };
            let Some(data) = state.held.pop_front() else {
                break;
            };
            state.held_bytes -= data.len();
            if let Some(tx) = &state.input {
                let _ = tx.send(Input::Data(data)).await;
            }
        }
        Ok(())
    }

    async fn window_change_request(
        &mut self,
        channel: ChannelId,
        cols: u32,
        rows: u32,
        _pix_width: u32,
        _pix_height: u32,
        _session: &mut Session,
    ) -> std::result::Result<(), Self::Error> {
        if let Some(tx) = self.channels.get(&channel).and_then(|s| s.input.as_ref()) {
            let _ = tx
                .send(Input::Resize(clamp_cols(cols), clamp_rows(rows)))
                .await;
        }
        Ok(())
    }

    async fn channel_eof(
        &mut self,
        channel: ChannelId,
        _session: &mut Session,
    ) -> std::result::Result<(), Self::Error> {
        if let Some(tx) = self.channels.get(&channel).and_then(|s| s.input.as_ref()) {
            let _ = tx.send(Input::Eof).await;
        }
        Ok(())
    }

    async fn channel_close(
        &mut self,
        channel: ChannelId,
        _session: &mut Session,
    ) -> std::result::Result<(), Self::Error> {
        // Dropping the sender tells the session thread the client has gone.
        self.channels.remove(&channel);
        Ok(())
    }
}

/// A terminal's width from the client, kept within what a screen shows (a session's
/// frames are kept in memory, so 1000x1000 would cost one client 100 MB).
fn clamp_cols(n: u32) -> u16 {
    n.clamp(1, MAX_COLS) as u16
}

/// A terminal's height from the client, likewise.
fn clamp_rows(n: u32) -> u16 {
    n.clamp(1, MAX_ROWS) as u16
}
