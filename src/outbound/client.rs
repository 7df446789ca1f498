//! The one place outbound HTTP clients are built.
//!
//! reqwest is built without its default crypto provider (aws-lc), so it shares `ring` with
//! slack-morphism; rustls then needs the provider installed process-wide before the first
//! client is built, or it panics.

use std::sync::Once;
use std::time::Duration;

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
    install_crypto_provider();
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("scim-rotator/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("an HTTP client with only timeouts and a user agent always builds")
}
