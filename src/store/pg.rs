//! Reaching a PostgreSQL server: the connection string (as libpq reads it, for the
//! parts operators use: `sslmode` up to `verify-full` with `sslrootcert`,
//! `PGPASSWORD` and `.pgpass`, several hosts with `target_session_attrs`), TLS through
//! rustls, and the URL as it is shown (never with its password).

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use postgres::config::{Host, SslMode};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use crate::error::{Error, Result};

/// True when `--db` names a PostgreSQL server rather than a file.
pub fn is_url(text: &str) -> bool {
    text.starts_with("postgres://") || text.starts_with("postgresql://")
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
pub struct Target {
    pub config: postgres::Config,
    verify: Verify,
    root_cert: Option<PathBuf>,
    /// The string as shown: the operator's URL less its password.
    pub shown: String,
}

fn bad_url(shown: &str, why: impl std::fmt::Display) -> Error {
    Error::invalid(
        "db",
        format!("{shown} is not a usable PostgreSQL URL: {why}"),
    )
}

/// The URL without a password: the `:password` of its user part and any
/// `password=` parameter are left out.
pub fn redact(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let (authority_end, _) = rest
        .char_indices()
        .find(|(_, c)| *c == '/' || *c == '?')
        .unwrap_or((rest.len(), ' '));
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((user, hosts)) => match user.split_once(':') {
            Some((name, _)) => format!("{name}@{hosts}"),
            None => authority.to_string(),
        },
        None => authority.to_string(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let kept: Vec<&str> = query
                .split('&')
                .filter(|kv| !kv.to_ascii_lowercase().starts_with("password="))
                .collect();
            if kept.is_empty() {
                path.to_string()
            } else {
                format!("{path}?{}", kept.join("&"))
            }
        }
        None => tail.to_string(),
    };
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
    let mut config = postgres::Config::from_str(&rest).map_err(|e| bad_url(&shown, e))?;
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
    if config.get_hosts().is_empty() {
        // libpq's default: the local server's socket.
        config.host_path("/var/run/postgresql");
    }
    if config.get_password().is_none() {
        if let Some(p) = std::env::var("PGPASSWORD").ok().filter(|p| !p.is_empty()) {
            config.password(p);
        } else if let Some(p) = pgpass(&config) {
            config.password(p);
        }
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(std::time::Duration::from_secs(10));
    }
    config.application_name("rolecall");
    Ok(Target {
        config,
        verify,
        root_cert,
        shown,
    })
}

/// The password `.pgpass` (or `PGPASSFILE`) gives this user on the first host, as
/// libpq reads it: `host:port:database:user:password`, `*` matching anything, `\`
/// escaping `:` and `\`; a unix socket is `localhost`. A file others can read is
/// ignored, as libpq does.
fn pgpass(config: &postgres::Config) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let file = std::env::var_os("PGPASSFILE")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".pgpass")))?;
    let meta = std::fs::metadata(&file).ok()?;
    if !meta.is_file() || meta.permissions().mode() & 0o077 != 0 {
        return None;
    }
    let text = std::fs::read_to_string(&file).ok()?;
    let host = match config.get_hosts().first()? {
        Host::Tcp(h) => h.clone(),
        Host::Unix(_) => "localhost".to_string(),
    };
    let port = config
        .get_ports()
        .first()
        .copied()
        .unwrap_or(5432)
        .to_string();
    let user = config.get_user()?.to_string();
    let db = config.get_dbname().unwrap_or(&user).to_string();
    let wanted = [host.as_str(), port.as_str(), db.as_str(), user.as_str()];
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

/// Connects to `target`, trying its hosts in turn as the driver does.
pub fn connect(target: &Target) -> Result<postgres::Client> {
    let tls = tls(target)?;
    let mut config = target.config.clone();
    if config
        .get_hosts()
        .iter()
        .all(|h| matches!(h, Host::Unix(_)))
    {
        // As libpq: a unix socket never carries TLS, so it is not asked for (one
        // round trip less on every start).
        config.ssl_mode(SslMode::Disable);
    }
    config.connect(tls).map_err(|e| {
        Error::Storage(format!(
            "cannot connect to {}: {}",
            target.shown,
            super::db::pg_message(&e)
        ))
    })
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
    fn pgpass_lines_split_as_libpq_reads_them() {
        assert_eq!(
            split_pgpass(r"db\:1:5432:*:alice:pa\:ss:word"),
            vec!["db:1", "5432", "*", "alice", "pa:ss:word"]
        );
    }
}
