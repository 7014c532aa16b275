//! Reaching a PostgreSQL server: the connection string (as libpq reads it, for the
//! parts operators use: `sslmode` up to `verify-full` with `sslrootcert`,
//! `PGPASSWORD` and `.pgpass`, several hosts with `target_session_attrs`), TLS through
//! rustls, and the URL as it is shown (never with its password).

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio_postgres::config::{Host, SslMode};

use super::pg_client::{Client, ConnectError, resolve};
use crate::error::{Error, Result};

/// How long one host may take to connect, login included, when the URL says nothing.
const DEFAULT_CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// True when `--db` names a PostgreSQL server rather than a file.
pub fn is_url(text: &str) -> bool {
    text.starts_with("postgres://") || text.starts_with("postgresql://")
}

/// The libpq keywords a `key=value` connection string starts with.
const CONNINFO_KEYWORDS: &[&str] = &[
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "password",
    "passfile",
    "service",
    "sslmode",
    "sslrootcert",
    "connect_timeout",
    "options",
    "application_name",
    "target_session_attrs",
];

/// Refuses a `--db` that means a server but is not in the one form rolecall reads:
/// a URL whose scheme is not in lower case, or a libpq `key=value` string. Taken for
/// a file name, either would quietly create a SQLite file named after it, password
/// and all. The value is not repeated: it may hold a password.
pub fn refuse_lookalike(path: &std::path::Path, field: &'static str) -> Result<()> {
    let Some(text) = path.to_str() else {
        return Ok(());
    };
    let lower = text.to_ascii_lowercase();
    if !is_url(text) && (lower.starts_with("postgres://") || lower.starts_with("postgresql://")) {
        return Err(Error::invalid(
            field,
            "a PostgreSQL URL must begin with postgres:// or postgresql:// in lower case",
        ));
    }
    let first = text.split_whitespace().next().unwrap_or("");
    if let Some((key, _)) = first.split_once('=')
        && CONNINFO_KEYWORDS.contains(&key.trim().to_ascii_lowercase().as_str())
    {
        return Err(Error::invalid(
            field,
            "key=value connection strings are not read; give a postgres://user@host/dbname URL",
        ));
    }
    Ok(())
}

/// How much of the server's certificate is checked (libpq's `sslmode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verify {
    /// `disable`: no TLS.
    Off,
    /// `prefer` and `require` without a root certificate: encrypted, the server not
    /// identified (libpq's meaning of those modes).
    Encrypt,
    /// `verify-ca`, or `require` with `sslrootcert`: the certificate is signed by the
    /// root, whatever name it carries.
    Ca,
    /// `verify-full`: signed by the root and issued to the host connected to.
    Full,
}

/// A parsed connection string.
#[derive(Clone)]
pub struct Target {
    /// Everything but where to connect: each of `hosts` is tried with a copy of it.
    config: tokio_postgres::Config,
    /// The servers to try, in order (libpq's host list).
    hosts: Vec<Endpoint>,
    /// Why a password file was passed over, for the error when a password is missing.
    password_note: Option<String>,
    verify: Verify,
    root_cert: Option<PathBuf>,
    /// The string as shown: the operator's URL less its password.
    pub shown: String,
}

/// One server of the host list, with the password `.pgpass` keeps for it when the
/// URL and `PGPASSWORD` give none (libpq looks the file up for each host it tries).
#[derive(Debug, Clone, PartialEq)]
struct Endpoint {
    host: Option<Host>,
    hostaddr: Option<std::net::IpAddr>,
    port: u16,
    password: Option<String>,
}

impl Endpoint {
    /// `host:port` as the error names it.
    fn shown(&self) -> String {
        let host = match (&self.host, &self.hostaddr) {
            (Some(Host::Tcp(h)), _) => h.clone(),
            (Some(Host::Unix(p)), _) => p.display().to_string(),
            (None, Some(a)) => a.to_string(),
            (None, None) => String::new(),
        };
        let host = if host.contains(':') && !host.starts_with('/') {
            format!("[{host}]")
        } else {
            host
        };
        crate::text::display_safe(&format!("{host}:{}", self.port)).into_owned()
    }
}

fn bad_url(shown: &str, why: impl std::fmt::Display) -> Error {
    Error::invalid(
        "db",
        format!("{shown} is not a usable PostgreSQL URL: {why}"),
    )
}

/// Refuses a URL whose user name or password holds a character a URL reserves
/// (`@`, `/`, `?`) unencoded. The driver, as libpq, would take part of the password
/// for a host, a port or a database name, and show it in its errors; the message
/// here does not repeat the URL.
fn refuse_unencoded_credentials(url: &str) -> Result<()> {
    let refuse = |what: &str| {
        Err(Error::invalid(
            "db",
            format!(
                "{what}: a user name or password in the URL must have @ written as %40, / as %2F and ? as %3F"
            ),
        ))
    };
    let (_, authority, tail) = url_parts(url);
    let path = tail.split('?').next().unwrap_or(tail);
    if authority.matches('@').count() > 1 {
        return refuse("the URL holds more than one @ before its host");
    }
    if path.contains('@') {
        return refuse("the URL holds an @ after a /");
    }
    let hosts = authority
        .rsplit_once('@')
        .map_or(authority, |(_, hosts)| hosts);
    let port_is_number = |host: &str| {
        let port = match host.strip_prefix('[') {
            Some(v6) => v6.split_once("]:").map(|(_, port)| port),
            None => host.rsplit_once(':').map(|(_, port)| port),
        };
        port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    };
    if !hosts.split(',').all(port_is_number) {
        return refuse("the URL's port is not a number");
    }
    Ok(())
}

/// `url` in three parts: its scheme (`None` without `://`), its authority (the user
/// part and the hosts) and the rest, from the first `/` or `?` on.
fn url_parts(url: &str) -> (Option<&str>, &str, &str) {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, url),
    };
    let (authority, tail) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
    (scheme, authority, tail)
}

/// `tail` (a URL's path and query) with only the `key=value` parameters `keep`
/// takes.
fn keep_params(tail: &str, keep: impl Fn(&str) -> bool) -> String {
    let Some((path, query)) = tail.split_once('?') else {
        return tail.to_string();
    };
    let kept: Vec<&str> = query.split('&').filter(|kv| keep(kv)).collect();
    if kept.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", kept.join("&"))
    }
}

/// The URL without a password: the `:password` of its user part and any
/// `password=` parameter are left out.
pub fn redact(url: &str) -> String {
    let (scheme, authority, tail) = url_parts(url);
    let authority = match authority.rsplit_once('@') {
        Some((user, hosts)) => match user.split_once(':') {
            Some((name, _)) => format!("{name}@{hosts}"),
            None => authority.to_string(),
        },
        None => authority.to_string(),
    };
    let tail = keep_params(tail, |kv| !kv.to_ascii_lowercase().starts_with("password="));
    let scheme = scheme.unwrap_or_default();
    crate::text::display_safe(&format!("{scheme}://{authority}{tail}")).into_owned()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Reads a connection URL: `sslmode` and `sslrootcert` are taken out and handled
/// here (the driver knows neither `verify-ca`/`verify-full` nor root files); the
/// rest is the driver's. A missing user is `PGUSER`, else the login name; a missing
/// password is `PGPASSWORD`, else the matching line of `.pgpass`.
pub fn parse(url: &str) -> Result<Target> {
    refuse_unencoded_credentials(url)?;
    let shown = redact(url);
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, q),
        None => (url, ""),
    };
    let mut sslmode: Option<String> = None;
    let mut root_cert: Option<PathBuf> = None;
    let mut kept = Vec::new();
    for kv in query.split('&').filter(|kv| !kv.is_empty()) {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        match k {
            "sslmode" => sslmode = Some(percent_decode(v)),
            "sslrootcert" => root_cert = Some(PathBuf::from(percent_decode(v))),
            _ => kept.push(kv),
        }
    }
    let sslmode = sslmode
        .or_else(|| std::env::var("PGSSLMODE").ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "prefer".into());
    if root_cert.is_none() {
        root_cert = std::env::var_os("PGSSLROOTCERT")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
    }
    let (mode, verify) = match sslmode.as_str() {
        "disable" => (SslMode::Disable, Verify::Off),
        "allow" | "prefer" => (SslMode::Prefer, Verify::Encrypt),
        "require" if root_cert.is_some() => (SslMode::Require, Verify::Ca),
        "require" => (SslMode::Require, Verify::Encrypt),
        "verify-ca" => (SslMode::Require, Verify::Ca),
        "verify-full" => (SslMode::Require, Verify::Full),
        other => {
            return Err(bad_url(
                &shown,
                format!(
                    "sslmode \"{}\" is not one of disable, allow, prefer, require, verify-ca, verify-full",
                    crate::text::excerpt(other)
                ),
            ));
        }
    };
    let rest = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    let full = tokio_postgres::Config::from_str(&rest).map_err(|e| bad_url(&shown, e))?;
    let mut config =
        tokio_postgres::Config::from_str(&without_hosts(&rest)).map_err(|e| bad_url(&shown, e))?;
    config.ssl_mode(mode);
    if config.get_user().is_none() {
        let user = std::env::var("PGUSER")
            .ok()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| {
                let actor = super::actor_from_env();
                actor.split(' ').next().unwrap_or("postgres").to_string()
            });
        config.user(&user);
    }
    if config.get_password().is_none() {
        if let Some(p) = std::env::var("PGPASSWORD").ok().filter(|p| !p.is_empty()) {
            config.password(p);
        }
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
    }
    config.application_name("rolecall");
    let mut hosts = endpoints(&full).map_err(|why| bad_url(&shown, why))?;
    let mut password_note = None;
    if config.get_password().is_none() {
        match pgpass_file() {
            Ok(Some(text)) => {
                for host in &mut hosts {
                    host.password = pgpass(&text, &config, host);
                }
            }
            Ok(None) => {}
            Err(note) => password_note = Some(note),
        }
    }
    Ok(Target {
        config,
        hosts,
        password_note,
        verify,
        root_cert,
        shown,
    })
}

/// `url` without where to connect: its authority's host list and the `host`,
/// `hostaddr` and `port` parameters left out (the user part stays).
fn without_hosts(url: &str) -> String {
    let (scheme, authority, tail) = url_parts(url);
    let user = match authority.rsplit_once('@') {
        Some((user, _)) => format!("{user}@"),
        None => String::new(),
    };
    let tail = keep_params(tail, |kv| {
        let key = kv.split_once('=').map_or(kv, |(k, _)| k);
        !matches!(key, "host" | "hostaddr" | "port")
    });
    let scheme = scheme.unwrap_or("postgres");
    format!("{scheme}://{user}{tail}")
}

/// The servers `config` names, in the order they are tried: libpq's pairing of
/// hosts, host addresses and ports (one port serves every host), and the local
/// socket when nothing is named. `load_balance_hosts=random` shuffles them.
fn endpoints(config: &tokio_postgres::Config) -> std::result::Result<Vec<Endpoint>, String> {
    let hosts = config.get_hosts();
    let addrs = config.get_hostaddrs();
    let ports = config.get_ports();
    if !hosts.is_empty() && !addrs.is_empty() && hosts.len() != addrs.len() {
        return Err(format!(
            "it names {} hosts and {} hostaddrs; give one address per host",
            hosts.len(),
            addrs.len()
        ));
    }
    let count = hosts.len().max(addrs.len());
    if ports.len() > 1 && ports.len() != count {
        return Err(format!(
            "it names {count} hosts and {} ports; give one port, or one per host",
            ports.len()
        ));
    }
    if count == 0 {
        // libpq's default: the local server's socket.
        return Ok(vec![Endpoint {
            host: Some(Host::Unix(PathBuf::from(DEFAULT_SOCKET_DIR))),
            hostaddr: None,
            port: ports.first().copied().unwrap_or(5432),
            password: None,
        }]);
    }
    let mut out: Vec<Endpoint> = (0..count)
        .map(|i| Endpoint {
            host: hosts.get(i).cloned(),
            hostaddr: addrs.get(i).copied(),
            port: ports.get(i).or(ports.first()).copied().unwrap_or(5432),
            password: None,
        })
        .collect();
    if config.get_load_balance_hosts() == tokio_postgres::config::LoadBalanceHosts::Random {
        shuffle(&mut out);
    }
    Ok(out)
}

/// Fisher-Yates with a clock-seeded xorshift: spreading logins over the hosts needs
/// no better randomness.
fn shuffle<T>(items: &mut [T]) {
    let mut x = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
        ^ u64::from(std::process::id())
        | 1;
    for i in (1..items.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        items.swap(i, (x % (i as u64 + 1)) as usize);
    }
}

/// Where this system's libpq looks for the local server's socket by default.
const DEFAULT_SOCKET_DIR: &str = "/var/run/postgresql";

/// The text of `PGPASSFILE`, else `~/.pgpass`; `Ok(None)` when there is none. A file
/// others can read is passed over, as libpq does, and the reason returned, so that
/// the error for the password the server then misses can say why.
fn pgpass_file() -> std::result::Result<Option<String>, String> {
    use std::os::unix::fs::PermissionsExt;
    let file = std::env::var_os("PGPASSFILE")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".pgpass")));
    let Some(file) = file else { return Ok(None) };
    let Ok(meta) = std::fs::metadata(&file) else {
        return Ok(None);
    };
    let shown = crate::text::display_safe(&file.display().to_string()).into_owned();
    if !meta.is_file() {
        return Ok(None);
    }
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(format!(
            "the password file {shown} was ignored because others can read it (chmod 600 it)"
        ));
    }
    Ok(std::fs::read_to_string(&file).ok())
}

/// The password a password file's `text` gives `config`'s user on `host`, as libpq
/// reads it: `host:port:database:user:password`, `*` matching anything, `\`
/// escaping `:` and `\`. The host is the name the URL gives it (or its address);
/// the default socket folder is `localhost`, another socket folder its path.
fn pgpass(text: &str, config: &tokio_postgres::Config, host: &Endpoint) -> Option<String> {
    let name = match (&host.host, &host.hostaddr) {
        (Some(Host::Tcp(h)), _) => h.clone(),
        (Some(Host::Unix(p)), _) if p == Path::new(DEFAULT_SOCKET_DIR) => "localhost".into(),
        (Some(Host::Unix(p)), _) => p.to_string_lossy().into_owned(),
        (None, Some(addr)) => addr.to_string(),
        (None, None) => "localhost".into(),
    };
    let port = host.port.to_string();
    let user = config.get_user()?.to_string();
    let db = config.get_dbname().unwrap_or(&user).to_string();
    let wanted = [name.as_str(), port.as_str(), db.as_str(), user.as_str()];
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .find_map(|line| {
            let fields = split_pgpass(line);
            if fields.len() < 5 {
                return None;
            }
            let matches = fields[..4]
                .iter()
                .zip(wanted)
                .all(|(f, w)| f == "*" || f == w);
            matches.then(|| fields[4].clone())
        })
}

fn split_pgpass(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let (Some(n), Some(f)) = (chars.next(), fields.last_mut()) {
                    f.push(n);
                }
            }
            ':' if fields.len() < 5 => fields.push(String::new()),
            // As libpq: the password ends at the next unescaped colon.
            ':' => break,
            _ => {
                if let Some(f) = fields.last_mut() {
                    f.push(c)
                }
            }
        }
    }
    fields
}

/// Accepts any certificate: `sslmode=require` without a root, which asks for
/// encryption only. The handshake's signatures are still checked.
#[derive(Debug)]
struct EncryptOnly(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the chain must lead to the root; the name on the certificate is not
/// compared with the host.
#[derive(Debug)]
struct ChainOnly(Arc<rustls::client::WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName))
            | Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// The root certificates `sslrootcert` names (PEM), else `~/.postgresql/root.crt`.
fn roots(target: &Target) -> Result<rustls::RootCertStore> {
    use rustls::pki_types::pem::PemObject;
    let file = target
        .root_cert
        .clone()
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".postgresql/root.crt")));
    let Some(file) = file else {
        return Err(bad_url(
            &target.shown,
            "sslmode verify-ca and verify-full need sslrootcert=FILE (the server's root certificate)",
        ));
    };
    let shown_file = crate::text::display_safe(&file.display().to_string()).into_owned();
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&file)
        .and_then(|it| it.collect())
        .map_err(|e| {
            Error::invalid(
                "sslrootcert",
                format!("cannot read root certificates from {shown_file}: {e}"),
            )
        })?;
    let mut store = rustls::RootCertStore::empty();
    let (added, _) = store.add_parsable_certificates(certs);
    if added == 0 {
        return Err(Error::invalid(
            "sslrootcert",
            format!("{shown_file} holds no usable certificate"),
        ));
    }
    Ok(store)
}

/// The TLS setup for `target`'s `sslmode`.
fn tls(target: &Target) -> Result<tokio_postgres_rustls::MakeRustlsConnect> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Storage(format!("cannot set up TLS: {e}")))?;
    let config = match target.verify {
        Verify::Off | Verify::Encrypt => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(EncryptOnly(provider)))
            .with_no_client_auth(),
        Verify::Ca => {
            let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
                Arc::new(roots(target)?),
                provider,
            )
            .build()
            .map_err(|e| Error::Storage(format!("cannot set up TLS: {e}")))?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(ChainOnly(verifier)))
                .with_no_client_auth()
        }
        Verify::Full => builder
            .with_root_certificates(roots(target)?)
            .with_no_client_auth(),
    };
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// Connects to `target`, trying its hosts in turn as libpq does: the first that
/// answers, takes the login and (with `target_session_attrs`) is the kind of server
/// asked for. When none will do, the error says what each one answered.
pub(super) fn connect(target: &Target) -> Result<Client> {
    // TLS is set up once, and only when a host is reached over the network: as
    // libpq, a unix socket never carries TLS, so it is not asked for (one round trip
    // and the TLS set-up less on every start of every command).
    let mut tls_setup = None;
    let mut failures = Vec::new();
    for host in &target.hosts {
        let mut config = target.config.clone();
        let local = matches!(host.host, Some(Host::Unix(_)));
        match &host.host {
            Some(Host::Tcp(name)) => config.host(name),
            Some(Host::Unix(path)) => config.host_path(path).ssl_mode(SslMode::Disable),
            None => &mut config,
        };
        if let Some(addr) = host.hostaddr {
            config.hostaddr(addr);
        }
        config.port(host.port);
        if let Some(password) = &host.password {
            config.password(password);
        }
        // libpq's connect_timeout bounds the whole connection to each address of a
        // host, login included; `parse` always sets one.
        let limit = config
            .get_connect_timeout()
            .copied()
            .unwrap_or(DEFAULT_CONNECT_TIMEOUT);
        // A name is looked up here, within the limit, and each of its addresses
        // tried in turn with a limit of its own.
        let addresses = match (&host.host, host.hostaddr) {
            (Some(Host::Tcp(name)), None) => match resolve(name, host.port, limit) {
                Ok(found) => found.into_iter().map(Some).collect(),
                Err(e) => {
                    failures.push((host, failure(&e, target)?));
                    continue;
                }
            },
            _ => vec![None],
        };
        let mut why = Vec::new();
        for address in &addresses {
            let mut config = config.clone();
            if let Some(ip) = address {
                config.hostaddr(*ip);
            }
            let connected = if local {
                Client::connect(&config, tokio_postgres::NoTls, limit)
            } else {
                if tls_setup.is_none() {
                    tls_setup = Some(tls(target)?);
                }
                let Some(tls) = &tls_setup else {
                    unreachable!("set up just above")
                };
                Client::connect(&config, tls.clone(), limit)
            };
            match connected {
                Ok(client) => return Ok(client),
                Err(e) => why.push((address, failure(&e, target)?)),
            }
        }
        let why = match why.as_slice() {
            [(_, one)] => one.clone(),
            [] => "the name has no addresses".into(),
            all => all
                .iter()
                .map(|(ip, why)| match ip {
                    Some(ip) => format!("{ip}: {why}"),
                    None => why.clone(),
                })
                .collect::<Vec<_>>()
                .join("; "),
        };
        failures.push((host, why));
    }
    let why = match failures.as_slice() {
        [(_, why)] => why.clone(),
        all => all
            .iter()
            .map(|(host, why)| format!("{}: {why}", host.shown()))
            .collect::<Vec<_>>()
            .join("; "),
    };
    Err(Error::Storage(format!(
        "cannot connect to {}: {why}",
        target.shown
    )))
}

/// Why one address could not be used, in one clause; `Err` when nothing can be tried
/// at all (no runtime could be made).
fn failure(e: &ConnectError, target: &Target) -> Result<String> {
    match e {
        ConnectError::Pg(e) => Ok(refusal(e, target.password_note.as_deref())),
        ConnectError::TimedOut(limit) => Ok(format!(
            "no answer within connect_timeout ({} s)",
            limit.as_secs_f64()
        )),
        ConnectError::Lookup(e) => Ok(crate::text::display_safe(&format!(
            "its name cannot be looked up: {e}"
        ))
        .into_owned()),
        ConnectError::Io(e) => Err(Error::Storage(format!(
            "cannot start a connection to {}: {e}",
            target.shown
        ))),
    }
}

/// What one server answered, in one clause: the server's own message when it sent
/// one, else the driver's with its causes (the driver's top line alone, such as
/// "error performing TLS handshake", does not say what went wrong).
fn refusal(e: &tokio_postgres::Error, password_note: Option<&str>) -> String {
    if let Some(db) = e.as_db_error() {
        return crate::text::display_safe(db.message()).into_owned();
    }
    let mut why = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        why.push_str(": ");
        why.push_str(&c.to_string());
        cause = c.source();
    }
    if why.ends_with("password missing") {
        why = "the server asks for a password and none was given (in the URL, PGPASSWORD or a password file line for this host)".into();
        if let Some(note) = password_note {
            why = format!("{why}; {note}");
        }
    }
    crate::text::display_safe(&why).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_never_shown() {
        assert_eq!(
            redact("postgres://alice:s3cret@db.example/app?sslmode=require"),
            "postgres://alice@db.example/app?sslmode=require"
        );
        assert_eq!(
            redact("postgresql://bob@h1:5432,h2/app?password=x&target_session_attrs=read-write"),
            "postgresql://bob@h1:5432,h2/app?target_session_attrs=read-write"
        );
        assert_eq!(redact("postgres://h/db?password=x"), "postgres://h/db");
    }

    #[test]
    fn sslmode_is_checked() {
        let err = parse("postgres://u@h/db?sslmode=sometimes").err().unwrap();
        assert!(err.to_string().contains("sslmode"), "{err}");
        let t = parse("postgres://u@h/db?sslmode=verify-full&sslrootcert=/x.pem").unwrap();
        assert_eq!(t.verify, Verify::Full);
        assert_eq!(t.root_cert.as_deref(), Some(Path::new("/x.pem")));
        let t = parse("postgres://u@h/db?sslmode=require").unwrap();
        assert_eq!(t.verify, Verify::Encrypt);
    }

    #[test]
    fn every_host_of_the_list_is_tried_with_its_own_port() {
        let t =
            parse("postgres://u@h1:5433,h2,[::1]:5435/db?target_session_attrs=read-write").unwrap();
        let shown: Vec<String> = t.hosts.iter().map(Endpoint::shown).collect();
        assert_eq!(shown, ["h1:5433", "h2:5432", "[::1]:5435"]);
        assert!(
            t.config.get_hosts().is_empty(),
            "hosts stay out of the shared part"
        );
        assert_eq!(t.config.get_user(), Some("u"));
        assert_eq!(t.config.get_dbname(), Some("db"));
        assert_eq!(
            t.config.get_target_session_attrs(),
            tokio_postgres::config::TargetSessionAttrs::ReadWrite
        );
        let t = parse("postgres://u@/db?host=/tmp/a&host=/tmp/b&port=6000").unwrap();
        let shown: Vec<String> = t.hosts.iter().map(Endpoint::shown).collect();
        assert_eq!(shown, ["/tmp/a:6000", "/tmp/b:6000"]);
        let t = parse("postgres://u@/db").unwrap();
        assert_eq!(t.hosts.len(), 1);
        assert_eq!(t.hosts[0].shown(), "/var/run/postgresql:5432");
        let err = parse("postgres://u@h1:1,h2:2/db?port=3").err().unwrap();
        assert!(err.to_string().contains("ports"), "{err}");
    }

    #[test]
    fn without_hosts_keeps_the_rest_of_the_url() {
        assert_eq!(
            without_hosts("postgres://u:p@h1:1,h2/db?host=x&sslmode=require&port=2"),
            "postgres://u:p@/db?sslmode=require"
        );
        assert_eq!(without_hosts("postgresql://h/db"), "postgresql:///db");
    }

    #[test]
    fn pgpass_is_looked_up_for_each_host() {
        let text = "# comment\n\
                    h1:5432:db:u:first\n\
                    h2:*:*:u:second\n\
                    /tmp/sock:5432:*:u:socket\n\
                    localhost:5432:*:u:local\n";
        let t = parse("postgres://u@h1,h2,h3/db").unwrap();
        let found: Vec<Option<String>> =
            t.hosts.iter().map(|h| pgpass(text, &t.config, h)).collect();
        assert_eq!(found, [Some("first".into()), Some("second".into()), None]);
        // A socket folder is matched by its path; only the default one is localhost.
        let t = parse("postgres://u@/db?host=/tmp/sock").unwrap();
        assert_eq!(
            pgpass(text, &t.config, &t.hosts[0]).as_deref(),
            Some("socket")
        );
        let t = parse("postgres://u@/db").unwrap();
        assert_eq!(
            pgpass(text, &t.config, &t.hosts[0]).as_deref(),
            Some("local")
        );
        // The database defaults to the user's name.
        let t = parse("postgres://u@h1").unwrap();
        assert_eq!(pgpass(text, &t.config, &t.hosts[0]), None);
    }

    #[test]
    fn pgpass_lines_split_as_libpq_reads_them() {
        assert_eq!(
            split_pgpass(r"db\:1:5432:*:alice:pa\:ss:word"),
            vec!["db:1", "5432", "*", "alice", "pa:ss"]
        );
    }
}
