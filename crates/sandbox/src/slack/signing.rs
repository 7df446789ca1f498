//! Request signing exactly as Slack does it for HTTP deliveries (Events API,
//! interactivity, slash commands): `X-Slack-Signature: v0=<hex HMAC-SHA256(secret,
//! "v0:" + X-Slack-Request-Timestamp + ":" + raw body)>`.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The only signature version Slack has published; it prefixes both the signed string
/// and the header value.
pub const SIGNATURE_VERSION: &str = "v0";
/// Header carrying the signature.
pub const SIGNATURE_HEADER: &str = "X-Slack-Signature";
/// Header carrying the Unix-seconds timestamp that is part of the signed string.
pub const TIMESTAMP_HEADER: &str = "X-Slack-Request-Timestamp";
/// How far (either way) a receiver should let the timestamp be from its clock, per
/// Slack's guidance against replays. The fake's "stale" option goes one second beyond.
pub const MAX_TIMESTAMP_SKEW_SECS: i64 = 300;

/// `v0=<hex>` for `body` sent at `timestamp` (Unix seconds) and signed with `secret`.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .expect("HMAC-SHA256 accepts keys of any length");
    mac.update(format!("{SIGNATURE_VERSION}:{timestamp}:").as_bytes());
    mac.update(body);
    format!(
        "{SIGNATURE_VERSION}={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

/// How to sign a hand-made request (negative tests of the bot's verification).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SigningOptions {
    pub signature: SignatureMode,
    /// Added to the clock's time for the timestamp header (negative: in the past).
    pub timestamp_offset_secs: i64,
    /// `X-Slack-Retry-Num` / `X-Slack-Retry-Reason`, as on an Events API redelivery.
    pub retry: Option<(u32, String)>,
}

impl SigningOptions {
    /// Signed correctly, timestamped now.
    pub fn valid() -> Self {
        SigningOptions::default()
    }

    /// Signed with a secret other than the bot's.
    pub fn bad_signature() -> Self {
        SigningOptions {
            signature: SignatureMode::WrongSecret,
            ..SigningOptions::default()
        }
    }

    /// Correctly signed, but timestamped just outside the replay window.
    pub fn stale() -> Self {
        SigningOptions {
            timestamp_offset_secs: -(MAX_TIMESTAMP_SKEW_SECS + 1),
            ..SigningOptions::default()
        }
    }

    /// No signature header at all.
    pub fn unsigned() -> Self {
        SigningOptions {
            signature: SignatureMode::Missing,
            ..SigningOptions::default()
        }
    }
}

/// Which signature a hand-made request carries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum SignatureMode {
    /// The right secret over the right body.
    #[default]
    Valid,
    /// A different secret: what a forger without the secret would send.
    WrongSecret,
    /// The right secret over another body: what a tampered request looks like.
    OtherBody(Vec<u8>),
    /// No `X-Slack-Signature` header.
    Missing,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Slack's published example (docs: "Verifying requests from Slack").
    #[test]
    fn matches_slacks_published_example() {
        let body = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        assert_eq!(
            signature(
                "8f742231b10e8888abcd99yyyzzz85a5",
                1531420618,
                body.as_bytes()
            ),
            "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
        );
    }
}
