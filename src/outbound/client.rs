//! The one place outbound HTTP clients are built, and the one TLS configuration they share.
//!
//! reqwest is built without its default crypto provider (aws-lc), so it shares `ring` with
//! slack-morphism; rustls then needs the provider installed process-wide before the first
//! client is built, or it panics.
//!
//! The system's root certificates are read once per process ([`tls_config`]): left to
//! themselves, reqwest's platform verifier and hyper-rustls each read `ca-certificates.crt`
//! and every hashed file in `/etc/ssl/certs` for every client built — three times before
//! the bot was ready (~36 ms), and once per connection's Graph client.

use rustls::{ClientConfig, RootCertStore};
use std::sync::{Arc, Once, OnceLock};
use std::time::Duration;

/// The system's root certificates, read on first use.
fn native_roots() -> Arc<RootCertStore> {
    static ROOTS: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    Arc::clone(ROOTS.get_or_init(|| {
        let loaded = rustls_native_certs::load_native_certs();
        if let Some(error) = loaded.errors.first() {
            tracing::warn!(%error, errors = loaded.errors.len(), "some system root certificates could not be read");
        }
        let mut roots = RootCertStore::empty();
        let (_, unparsable) = roots.add_parsable_certificates(loaded.certs);
        if unparsable > 0 {
            tracing::warn!(unparsable, "some system root certificates were not usable");
        }
        Arc::new(roots)
    }))
}

/// The TLS client configuration every outbound connection uses: the system's root
/// certificates (read once), no client certificate, no ALPN (each client adds its own).
/// Fails when the system has no root certificate at all.
pub fn tls_config() -> std::io::Result<ClientConfig> {
    install_crypto_provider();
    let roots = native_roots();
    if roots.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no CA certificates found",
        ));
    }
    Ok(ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// Installs `ring` as rustls's process-wide crypto provider (once; later calls do nothing).
pub fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Err means another provider is already installed, which serves just as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// An HTTP client whose every request times out after `timeout`. No redirects are followed:
/// none of the APIs we call redirects, and following one could send a bearer token elsewhere.
pub fn client(timeout: Duration) -> reqwest::Client {
    // Without any root certificate every https call fails its verification, as it would
    // with reqwest's own verifier; the client still builds (plain http keeps working).
    let mut tls = tls_config().unwrap_or_else(|_| {
        ClientConfig::builder()
            .with_root_certificates(RootCertStore::empty())
            .with_no_client_auth()
    });
    // What reqwest offers by itself (its http2 feature is on).
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("scim-rotator/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("an HTTP client with only timeouts and a user agent always builds")
}
