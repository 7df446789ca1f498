//! Slack request signing (v0): `X-Slack-Signature: v0=hex(HMAC-SHA256(secret, "v0:{ts}:{body}"))`.
//! Used to verify what Slack sends in HTTP mode. The sandbox signs what it sends with its
//! own, independent copy (`scim_sandbox::slack::signing`), written from Slack's documentation: a
//! mistake here then fails the tests instead of being mirrored by the fake.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Requests whose timestamp is further than this from now, either way, are refused
/// (Slack's replay-protection rule).
pub const MAX_CLOCK_SKEW_SECS: i64 = 300;

pub const SIGNATURE_HEADER: &str = "x-slack-signature";
pub const TIMESTAMP_HEADER: &str = "x-slack-request-timestamp";

/// Why a request was refused. The texts go to logs and 401 bodies; none includes the body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing X-Slack-Signature or X-Slack-Request-Timestamp header")]
    Missing,
    #[error("X-Slack-Request-Timestamp is not a number")]
    BadTimestamp,
    #[error(
        "request timestamp is {0} s away from now (more than {MAX_CLOCK_SKEW_SECS} s): refusing a possible replay"
    )]
    Stale(i64),
    #[error("signature does not match")]
    Mismatch,
}

/// The `v0=…` signature of `body` sent at `timestamp`.
pub fn sign(secret: &SecretString, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes())
        .expect("HMAC takes any key length");
    mac.update(format!("v0:{timestamp}:").as_bytes());
    mac.update(body);
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

/// Verifies a request's signature headers against its raw body, at `now`.
pub fn verify(
    secret: &SecretString,
    signature: Option<&str>,
    timestamp: Option<&str>,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), SignatureError> {
    let (Some(signature), Some(timestamp)) = (signature, timestamp) else {
        return Err(SignatureError::Missing);
    };
    let timestamp: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| SignatureError::BadTimestamp)?;
    // The timestamp is the sender's number: a far-off one must neither overflow (a panic in
    // debug builds, a wrapped skew that passes the window in release) nor get through.
    let Some(skew) = now.timestamp().checked_sub(timestamp) else {
        return Err(SignatureError::BadTimestamp);
    };
    if skew.unsigned_abs() > MAX_CLOCK_SKEW_SECS.unsigned_abs() {
        return Err(SignatureError::Stale(skew));
    }
    let expected = sign(secret, timestamp, body);
    if expected
        .as_bytes()
        .ct_eq(signature.trim().as_bytes())
        .into()
    {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const TIMESTAMP: i64 = 1531420618;
    const BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const EXPECTED: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    fn secret() -> SecretString {
        SecretString::from(SECRET)
    }

    fn at(ts: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(ts, 0).unwrap()
    }

    #[test]
    fn slacks_published_test_vector_signs_and_verifies() {
        assert_eq!(sign(&secret(), TIMESTAMP, BODY.as_bytes()), EXPECTED);
        assert_eq!(
            verify(
                &secret(),
                Some(EXPECTED),
                Some("1531420618"),
                BODY.as_bytes(),
                at(TIMESTAMP + 10)
            ),
            Ok(())
        );
    }

    #[test]
    fn a_changed_body_or_wrong_secret_is_refused() {
        let changed = BODY.replace("roadrunner", "coyote");
        assert_eq!(
            verify(
                &secret(),
                Some(EXPECTED),
                Some("1531420618"),
                changed.as_bytes(),
                at(TIMESTAMP)
            ),
            Err(SignatureError::Mismatch)
        );
        let other = SecretString::from("another-secret");
        assert_eq!(
            verify(
                &other,
                Some(EXPECTED),
                Some("1531420618"),
                BODY.as_bytes(),
                at(TIMESTAMP)
            ),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn timestamps_beyond_five_minutes_either_way_are_refused() {
        let stale = verify(
            &secret(),
            Some(EXPECTED),
            Some("1531420618"),
            BODY.as_bytes(),
            at(TIMESTAMP + 301),
        );
        assert_eq!(stale, Err(SignatureError::Stale(301)));
        let future = verify(
            &secret(),
            Some(EXPECTED),
            Some("1531420618"),
            BODY.as_bytes(),
            at(TIMESTAMP - 301),
        );
        assert_eq!(future, Err(SignatureError::Stale(-301)));

        // Numbers at the ends of i64 are refused, not overflowed into the window.
        for far in [i64::MIN, i64::MIN + 1, i64::MAX] {
            let result = verify(
                &secret(),
                Some(&sign(&secret(), far, BODY.as_bytes())),
                Some(&far.to_string()),
                BODY.as_bytes(),
                at(TIMESTAMP),
            );
            assert!(result.is_err(), "{far}: {result:?}");
        }
        assert!(
            verify(
                &secret(),
                Some(EXPECTED),
                Some("1531420618"),
                BODY.as_bytes(),
                at(TIMESTAMP + 300)
            )
            .is_ok()
        );
    }

    #[test]
    fn missing_headers_are_refused() {
        assert_eq!(
            verify(&secret(), None, Some("1"), b"", at(1)),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify(&secret(), Some("v0=00"), Some("soon"), b"", at(1)),
            Err(SignatureError::BadTimestamp)
        );
    }
}
