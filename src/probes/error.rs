//! Why a probe failed: one variant per failure point, so each failure has a
//! stable reason for conditions and metrics beside its message for humans.
//!
//! Messages reach the XAgent's status, logs and the CLI's output, so every text a
//! client library produced is held as [`Redacted`], which only exists with
//! the password taken out.

use std::error::Error as StdError;
use std::time::Duration;

use super::endpoint::{CaRef, KeyRef};
use super::{Dependency, redact, timeout_message};

/// Everything a probe can fail on.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The password Secret does not exist.
    #[error("Secret {}/{} not found", .0.namespace, .0.name)]
    SecretNotFound(KeyRef),
    /// The API server would not give us the Secret.
    #[error("reading Secret {}/{} failed: {source}", .secret.namespace, .secret.name)]
    SecretUnreadable {
        /// Which Secret.
        secret: KeyRef,
        /// The API error, boxed: it is large and rare, and every probe returns this enum.
        #[source]
        source: Box<kube::Error>,
    },
    /// The Secret exists but lacks the referenced key.
    #[error("Secret {}/{} has no key {}", .0.namespace, .0.name, .0.key)]
    SecretKeyMissing(KeyRef),
    /// The referenced value cannot be a password: it is not text.
    #[error("key {} of Secret {}/{} is not UTF-8", .0.key, .0.namespace, .0.name)]
    SecretNotUtf8(KeyRef),
    /// A probe URL (the `probe` subcommand's) does not parse. The parsers
    /// never echo the URL, so the detail carries no password.
    #[error("invalid {} URL: {detail}", .dependency.display_name())]
    InvalidUrl {
        /// Which kind of URL.
        dependency: Dependency,
        /// What is wrong with it.
        detail: String,
    },
    /// The host name does not resolve.
    #[error("{0}")]
    DnsResolution(Redacted),
    /// Nothing listens on the port.
    #[error("{0}")]
    ConnectionRefused(Redacted),
    /// The connection failed or broke for another reason.
    #[error("{0}")]
    ConnectFailed(Redacted),
    /// No answer within the timeout.
    #[error("{}", timeout_message(*.0))]
    Timeout(Duration),
    /// No TLS client configuration could be built.
    #[error("TLS setup failed: {0}")]
    TlsSetup(#[source] rustls::Error),
    /// The TLS handshake with the server failed.
    #[error("{0}")]
    TlsHandshake(Redacted),
    /// The server's certificate does not chain to the trusted CA or is not
    /// valid for the server's name.
    #[error("{0}")]
    CertificateRejected(Redacted),
    /// The CA bundle's Secret or ConfigMap does not exist.
    #[error("CA {0} not found")]
    CaNotFound(CaRef),
    /// The API server would not give us the CA bundle.
    #[error("reading CA {ca} failed: {source}")]
    CaUnreadable {
        /// Which object.
        ca: CaRef,
        /// The API error, boxed as for Secrets.
        #[source]
        source: Box<kube::Error>,
    },
    /// The CA bundle's object lacks the referenced key.
    #[error("CA {0} has no key {key}", key = .0.key_ref().key)]
    CaKeyMissing(CaRef),
    /// The CA bundle holds no usable certificate (or no CA is set and the
    /// system has none).
    #[error("CA certificates unusable: {0}")]
    CaInvalid(String),
    /// The name to verify the certificate for is neither a DNS name nor an IP address.
    #[error("{0:?} is not a DNS name or IP address to verify a certificate for")]
    InvalidServerName(String),
    /// The XAgent names a password but no verified TLS, and does not allow that.
    #[error(
        "refused to send the {} password over plaintext or unverified TLS; verify the server's certificate or set allowInsecurePassword",
        .0.display_name()
    )]
    InsecurePasswordRefused(Dependency),
    /// A PostgreSQL server asked for the password in cleartext over a
    /// connection without TLS.
    #[error(
        "the PostgreSQL server asked for the password in cleartext over an unencrypted connection; refused to send it (use TLS, or scram-sha-256 in pg_hba.conf)"
    )]
    CleartextPasswordRefused,
    /// The server rejected the credentials (or, for PostgreSQL, the login).
    #[error("{0}")]
    AuthenticationFailed(Redacted),
    /// The PostgreSQL database does not exist.
    #[error("{0}")]
    DatabaseNotFound(Redacted),
    /// The server answered a command with an error, or with something the
    /// client could not understand.
    #[error("{0}")]
    CommandFailed(Redacted),
}

impl ProbeError {
    /// Every value [`ProbeError::reason`] can return.
    pub const REASONS: [&'static str; 22] = [
        "SecretNotFound",
        "SecretUnreadable",
        "SecretKeyMissing",
        "SecretNotUtf8",
        "InvalidUrl",
        "DnsResolutionFailed",
        "ConnectionRefused",
        "ConnectFailed",
        "Timeout",
        "TlsSetupFailed",
        "TlsHandshakeFailed",
        "CertificateRejected",
        "CaNotFound",
        "CaUnreadable",
        "CaKeyMissing",
        "CaInvalid",
        "InvalidServerName",
        "InsecurePasswordRefused",
        "CleartextPasswordRefused",
        "AuthenticationFailed",
        "DatabaseNotFound",
        "CommandFailed",
    ];

    /// A stable CamelCase label for condition reasons and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::SecretNotFound(_) => "SecretNotFound",
            Self::SecretUnreadable { .. } => "SecretUnreadable",
            Self::SecretKeyMissing(_) => "SecretKeyMissing",
            Self::SecretNotUtf8(_) => "SecretNotUtf8",
            Self::InvalidUrl { .. } => "InvalidUrl",
            Self::DnsResolution(_) => "DnsResolutionFailed",
            Self::ConnectionRefused(_) => "ConnectionRefused",
            Self::ConnectFailed(_) => "ConnectFailed",
            Self::Timeout(_) => "Timeout",
            Self::TlsSetup(_) => "TlsSetupFailed",
            Self::TlsHandshake(_) => "TlsHandshakeFailed",
            Self::CertificateRejected(_) => "CertificateRejected",
            Self::CaNotFound(_) => "CaNotFound",
            Self::CaUnreadable { .. } => "CaUnreadable",
            Self::CaKeyMissing(_) => "CaKeyMissing",
            Self::CaInvalid(_) => "CaInvalid",
            Self::InvalidServerName(_) => "InvalidServerName",
            Self::InsecurePasswordRefused(_) => "InsecurePasswordRefused",
            Self::CleartextPasswordRefused => "CleartextPasswordRefused",
            Self::AuthenticationFailed(_) => "AuthenticationFailed",
            Self::DatabaseNotFound(_) => "DatabaseNotFound",
            Self::CommandFailed(_) => "CommandFailed",
        }
    }

    /// The transport failure at the bottom of `error`'s chain, or `otherwise`
    /// when there is none (the server answered, or the client gave up).
    pub(crate) fn from_chain(
        error: &(dyn StdError + 'static),
        detail: Redacted,
        otherwise: fn(Redacted) -> Self,
    ) -> Self {
        match transport_failure(error) {
            Some(Transport::Dns) => Self::DnsResolution(detail),
            Some(Transport::Refused) => Self::ConnectionRefused(detail),
            Some(Transport::Tls) => Self::TlsHandshake(detail),
            Some(Transport::Certificate) => Self::CertificateRejected(detail),
            Some(Transport::Cleartext) => Self::CleartextPasswordRefused,
            Some(Transport::Other) => Self::ConnectFailed(detail),
            None => otherwise(detail),
        }
    }
}

/// A client library's message with the password taken out. The only way to
/// make one is [`Redacted::new`], so an error holding one cannot leak it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redacted(String);

impl Redacted {
    /// `message` with every occurrence of `password` replaced.
    pub fn new(message: &str, password: Option<&str>) -> Self {
        Self(redact(message, password))
    }
}

impl std::fmt::Display for Redacted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What broke below the client protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    Dns,
    Refused,
    Tls,
    Certificate,
    Cleartext,
    Other,
}

/// The first I/O or TLS error in `error`'s source chain, classified. Both
/// clients wrap these in their own errors, so only the chain tells them apart.
fn transport_failure(error: &(dyn StdError + 'static)) -> Option<Transport> {
    let mut next = Some(error);
    while let Some(e) = next {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return Some(classify_io(io));
        }
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(classify_tls(tls));
        }
        next = e.source();
    }
    None
}

/// A certificate the verifier refused, apart from other handshake failures.
fn classify_tls(e: &rustls::Error) -> Transport {
    match e {
        rustls::Error::InvalidCertificate(_) => Transport::Certificate,
        _ => Transport::Tls,
    }
}

/// The I/O error the PostgreSQL cleartext guard fails a read with, so the
/// driver stops before it answers the server's password request.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("the server asked for a cleartext password over an unencrypted connection")]
pub struct CleartextRefused;

/// std reports getaddrinfo failures with this fixed prefix and no ErrorKind
/// a caller can match, so the prefix is the only sign of a DNS failure.
const LOOKUP_FAILED: &str = "failed to lookup address information";

fn classify_io(io: &std::io::Error) -> Transport {
    // tokio-rustls wraps the rustls error in the io::Error, where source() skips it.
    if let Some(tls) = io.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
        classify_tls(tls)
    } else if io.get_ref().is_some_and(|inner| inner.is::<CleartextRefused>()) {
        Transport::Cleartext
    } else if io.kind() == std::io::ErrorKind::ConnectionRefused {
        Transport::Refused
    } else if io.to_string().starts_with(LOOKUP_FAILED) {
        Transport::Dns
    } else {
        Transport::Other
    }
}

#[cfg(test)]
mod tests {
    use std::io;

    use super::*;

    fn secret() -> KeyRef {
        KeyRef { namespace: "ns".into(), name: "db".into(), key: "pw".into() }
    }

    fn classified(e: &(dyn StdError + 'static)) -> &'static str {
        ProbeError::from_chain(e, Redacted::new("detail", None), ProbeError::CommandFailed).reason()
    }

    #[test]
    fn every_reason_is_listed_and_camel_case() {
        let d = || Redacted::new("d", None);
        let all = [
            ProbeError::SecretNotFound(secret()),
            ProbeError::SecretKeyMissing(secret()),
            ProbeError::SecretNotUtf8(secret()),
            ProbeError::InvalidUrl { dependency: Dependency::Redis, detail: "x".into() },
            ProbeError::DnsResolution(d()),
            ProbeError::ConnectionRefused(d()),
            ProbeError::ConnectFailed(d()),
            ProbeError::Timeout(Duration::from_secs(1)),
            ProbeError::TlsSetup(rustls::Error::General("x".into())),
            ProbeError::TlsHandshake(d()),
            ProbeError::CertificateRejected(d()),
            ProbeError::CaNotFound(CaRef::ConfigMap(secret())),
            ProbeError::CaKeyMissing(CaRef::Secret(secret())),
            ProbeError::CaInvalid("x".into()),
            ProbeError::InvalidServerName("x y".into()),
            ProbeError::InsecurePasswordRefused(Dependency::Postgres),
            ProbeError::CleartextPasswordRefused,
            ProbeError::AuthenticationFailed(d()),
            ProbeError::DatabaseNotFound(d()),
            ProbeError::CommandFailed(d()),
        ];
        // The *Unreadable errors need a kube::Error; their reasons are checked by name.
        let unreadable = ["SecretUnreadable", "CaUnreadable"];
        let reasons: Vec<&str> = all.iter().map(ProbeError::reason).chain(unreadable).collect();
        let mut listed = ProbeError::REASONS.to_vec();
        listed.sort_unstable();
        let mut got = reasons.clone();
        got.sort_unstable();
        assert_eq!(got, listed);
        for r in reasons {
            assert!(r.starts_with(char::is_uppercase) && r.chars().all(|c| c.is_ascii_alphanumeric()), "{r}");
        }
    }

    #[test]
    fn ca_messages_name_the_kind_object_and_key() {
        assert_eq!(
            ProbeError::CaNotFound(CaRef::ConfigMap(secret())).to_string(),
            "CA ConfigMap ns/db not found"
        );
        assert_eq!(
            ProbeError::CaKeyMissing(CaRef::Secret(secret())).to_string(),
            "CA Secret ns/db has no key pw"
        );
    }

    #[test]
    fn secret_messages_name_the_secret_and_key() {
        assert_eq!(ProbeError::SecretNotFound(secret()).to_string(), "Secret ns/db not found");
        assert_eq!(ProbeError::SecretKeyMissing(secret()).to_string(), "Secret ns/db has no key pw");
        assert_eq!(ProbeError::SecretNotUtf8(secret()).to_string(), "key pw of Secret ns/db is not UTF-8");
    }

    #[test]
    fn url_and_timeout_messages() {
        let e = ProbeError::InvalidUrl { dependency: Dependency::Postgres, detail: "no host".into() };
        assert_eq!(e.to_string(), "invalid PostgreSQL URL: no host");
        assert_eq!(
            ProbeError::Timeout(Duration::from_secs(2)).to_string(),
            "no answer within the 2 s timeout"
        );
    }

    #[test]
    fn redacted_details_hide_the_password() {
        let e = ProbeError::AuthenticationFailed(Redacted::new("user:s3cret refused", Some("s3cret")));
        assert_eq!(e.to_string(), "user:*** refused");
    }

    #[test]
    fn transport_failures_are_told_apart_through_wrappers() {
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(classified(&refused), "ConnectionRefused");
        let dns = io::Error::other(format!("{LOOKUP_FAILED}: Name or service not known"));
        assert_eq!(classified(&dns), "DnsResolutionFailed");
        let tls = io::Error::new(io::ErrorKind::InvalidData, rustls::Error::General("bad cert".into()));
        assert_eq!(classified(&tls), "TlsHandshakeFailed");
        assert_eq!(classified(&io::Error::from(io::ErrorKind::ConnectionReset)), "ConnectFailed");
        let wrapped = Wrapper(io::Error::from(io::ErrorKind::ConnectionRefused));
        assert_eq!(classified(&wrapped), "ConnectionRefused");
        assert_eq!(classified(&rustls::Error::General("x".into())), "TlsHandshakeFailed");
        assert_eq!(classified(&std::fmt::Error), "CommandFailed", "no transport error: the fallback");
    }

    #[derive(Debug, thiserror::Error)]
    #[error("wrapped")]
    struct Wrapper(#[source] io::Error);
}
