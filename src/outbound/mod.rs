//! Outbound HTTP: the one place the clients are built ([`client`]), and the helpers they
//! share (AWS SCIM probe, Microsoft login and Graph): URLs built from a configured base, and
//! bounded reads of answers. Inbound HTTP is `crate::server`.

mod client;

pub use client::{client, install_crypto_provider, tls_config};

use url::Url;

/// `base` with `segments` appended as path segments (each percent-encoded, so an id can
/// never add a path level or a query), whether or not `base` ends with a slash.
pub(crate) fn join(base: &Url, segments: &[&str]) -> Url {
    let mut url = base.clone();
    url.set_query(None);
    url.set_fragment(None);
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty().extend(segments);
    }
    url
}

/// `host[:port]` of a URL, for error texts.
pub(crate) fn host_label(url: &Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_owned(),
        (None, _) => url.as_str().to_owned(),
    }
}

/// Most bytes read from an answer. Every answer we parse (a job, an error body, a token) is a
/// few kilobytes; a misdirected URL answering with a large page must not fill memory.
pub(crate) const MAX_BODY_BYTES: usize = 256 * 1024;

/// Reads an answer's body, stopping at [`MAX_BODY_BYTES`] (the rest is dropped, so a cut
/// body simply fails to parse).
pub(crate) async fn read_body(mut response: reqwest::Response) -> Result<Vec<u8>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = MAX_BODY_BYTES - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() == MAX_BODY_BYTES {
            break;
        }
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_appended_and_encoded() {
        let base = Url::parse("https://scim.eu-west-1.amazonaws.com/abc-123/scim/v2/").unwrap();
        assert_eq!(
            join(&base, &["ServiceProviderConfig"]).as_str(),
            "https://scim.eu-west-1.amazonaws.com/abc-123/scim/v2/ServiceProviderConfig"
        );
        let base = Url::parse("https://graph.microsoft.com").unwrap();
        assert_eq!(
            join(&base, &["v1.0", "servicePrincipals", "a/b?c"]).as_str(),
            "https://graph.microsoft.com/v1.0/servicePrincipals/a%2Fb%3Fc"
        );
    }

    #[test]
    fn host_label_keeps_a_port() {
        let url = Url::parse("http://127.0.0.1:8080/x").unwrap();
        assert_eq!(host_label(&url), "127.0.0.1:8080");
        let url = Url::parse("https://graph.microsoft.com/v1.0").unwrap();
        assert_eq!(host_label(&url), "graph.microsoft.com");
    }
}
