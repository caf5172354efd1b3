//! TLS for both probes: one rustls client configuration per probe, built from
//! what the XAgent trusts ([`Trust`]) and the CA bundle read for it.
//!
//! The three levels are libpq's: `require` checks nothing about the
//! certificate (the handshake's signatures are still checked, so it is a real
//! TLS session with whoever holds the certificate's key), `verify-ca` checks
//! its chain, `verify-full` its chain and its name.

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::endpoint::{Trust, Verify};
use super::error::ProbeError;

/// A ready client configuration and the name to ask the server for.
#[derive(Clone)]
pub struct TlsClient {
    /// The rustls configuration, shared by the probe's connections.
    pub config: Arc<ClientConfig>,
    /// How much of the certificate is checked, for the status message.
    pub verify: Verify,
}

impl std::fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsClient").field("verify", &self.verify).finish_non_exhaustive()
    }
}

impl TlsClient {
    /// The client for `trust`, trusting the certificates in `ca_pem` (when
    /// the XAgent names a CA) or else the system bundle.
    pub fn new(trust: &Trust, ca_pem: Option<&[u8]>) -> Result<Self, ProbeError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = match trust.verify {
            Verify::Nothing => {
                Checks { webpki: None, check_name: false, name: None, provider: provider.clone() }
            }
            verify => Checks {
                webpki: Some(webpki(roots(ca_pem)?, provider.clone())?),
                check_name: verify == Verify::ChainAndName,
                name: trust.server_name.as_deref().map(server_name).transpose()?,
                provider: provider.clone(),
            },
        };
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(ProbeError::TlsSetup)?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        Ok(Self { config: Arc::new(config), verify: trust.verify })
    }

    /// How the connection was secured, for "answered over …" messages.
    pub fn describe(&self) -> &'static str {
        match self.verify {
            Verify::Nothing => "TLS without certificate verification",
            Verify::Chain => "TLS, certificate chain verified (name not checked)",
            Verify::ChainAndName => "verified TLS",
        }
    }
}

/// `host` as a name to verify, for a host that is a DNS name or an IP address.
pub fn server_name(host: &str) -> Result<ServerName<'static>, ProbeError> {
    ServerName::try_from(host.to_string()).map_err(|_| ProbeError::InvalidServerName(host.to_string()))
}

/// The CA certificates in `pem`, or the system's when there is none.
fn roots(pem: Option<&[u8]>) -> Result<RootCertStore, ProbeError> {
    let mut store = RootCertStore::empty();
    let certificates: Vec<CertificateDer<'static>> = match pem {
        Some(pem) => CertificateDer::pem_slice_iter(pem)
            .collect::<Result<_, _>>()
            .map_err(|e| ProbeError::CaInvalid(format!("not PEM certificates: {e}")))?,
        None => rustls_native_certs::load_native_certs().certs,
    };
    let (added, _ignored) = store.add_parsable_certificates(certificates);
    if added == 0 {
        let detail = match pem {
            Some(_) => "no usable CA certificate in it",
            None => "no ca is set and the operator has no system CA certificates",
        };
        return Err(ProbeError::CaInvalid(detail.into()));
    }
    Ok(store)
}

fn webpki(
    roots: RootCertStore,
    provider: Arc<CryptoProvider>,
) -> Result<Arc<WebPkiServerVerifier>, ProbeError> {
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .map_err(|e| ProbeError::CaInvalid(e.to_string()))
}

/// The checks one trust level asks for.
#[derive(Debug)]
struct Checks {
    /// Chain (and name) verification; `None` checks no certificate.
    webpki: Option<Arc<WebPkiServerVerifier>>,
    /// Whether a certificate for another name fails.
    check_name: bool,
    /// The name to check instead of the host's.
    name: Option<ServerName<'static>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Checks {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(webpki) = &self.webpki else { return Ok(ServerCertVerified::assertion()) };
        let name = self.name.as_ref().unwrap_or(server_name);
        match webpki.verify_server_cert(end_entity, intermediates, name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.check_name => Ok(ServerCertVerified::assertion()),
            verified => verified,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trust(verify: Verify) -> Trust {
        Trust { verify, ca: None, server_name: None }
    }

    #[test]
    fn a_ca_that_is_not_pem_is_a_clear_error() {
        let e = TlsClient::new(&trust(Verify::ChainAndName), Some(b"hello")).unwrap_err();
        assert_eq!(e.reason(), "CaInvalid");
        assert!(e.to_string().contains("no usable CA certificate"), "{e}");
    }

    #[test]
    fn unverified_tls_needs_no_ca() {
        let client = TlsClient::new(&trust(Verify::Nothing), Some(b"ignored")).unwrap();
        assert_eq!(client.describe(), "TLS without certificate verification");
    }

    #[test]
    fn server_names_may_be_dns_names_or_addresses_but_not_junk() {
        assert!(server_name("redis.data.svc").is_ok());
        assert!(server_name("10.0.0.7").is_ok());
        assert_eq!(server_name("not a name!").unwrap_err().reason(), "InvalidServerName");
    }
}
