//! Random identifiers and secrets shaped like the real ones.

use rand::Rng;
use rand::distr::{Alphanumeric, SampleString};

/// Length of a fake SCIM token. AWS's are several hundred characters; 192 is long enough to
/// exercise the same handling, short enough to read in a failing test's output.
const SCIM_TOKEN_LEN: usize = 192;

/// A random version-4 UUID, in its usual text form.
pub(crate) fn uuid() -> String {
    let bytes: [u8; 16] = rand::rng().random();
    let hex = hex::encode(bytes);
    format!(
        "{}-{}-4{}-{:x}{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        8 + (bytes[8] & 0x3),
        &hex[17..20],
        &hex[20..32]
    )
}

/// `n` random lowercase hex characters.
pub(crate) fn hex_string(n: usize) -> String {
    let mut rng = rand::rng();
    (0..n)
        .map(|_| char::from_digit(rng.random_range(0..16), 16).unwrap_or('0'))
        .collect()
}

/// `n` random ASCII letters and digits.
pub(crate) fn alphanumeric(n: usize) -> String {
    Alphanumeric.sample_string(&mut rand::rng(), n)
}

/// A SCIM token secret: base64-looking, as AWS's are.
pub(crate) fn scim_token() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut rng = rand::rng();
    let mut token: String = (0..SCIM_TOKEN_LEN - 1)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect();
    token.push('=');
    token
}

/// A Graph access token: JWT-shaped (three dot-separated base64url parts), not a real JWT.
pub(crate) fn access_token() -> String {
    format!(
        "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.{}.{}",
        alphanumeric(120),
        alphanumeric(86)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_look_real() {
        let id = uuid();
        assert_eq!(id.len(), 36);
        assert_eq!(id.as_bytes()[14], b'4');
        assert_eq!(id.matches('-').count(), 4);
        let token = scim_token();
        assert!(token.len() >= 100);
        assert!(scim_domain::secret::ScimToken::parse(&token).is_ok());
        assert_eq!(hex_string(32).len(), 32);
    }
}
