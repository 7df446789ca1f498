//! The SCIM access token as it travels from the modal to Entra.
//!
//! The token is the one secret this bot handles that can grant write access to an AWS
//! identity store, so its type makes leaking it hard: no `Display`, a `Debug` that prints
//! only the fingerprint, zeroized on drop (via `secrecy`), and the only way to read it is
//! [`ScimToken::expose`], called at the two lines that build request bodies.

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use std::fmt;

/// Shortest value accepted as a token. AWS SCIM tokens are several hundred characters;
/// anything under this is a paste of the wrong thing (a token id, a word).
pub const MIN_TOKEN_LEN: usize = 20;
/// Longest value accepted: Slack's `plain_text_input` refuses `max_length` above 3000.
pub const MAX_TOKEN_LEN: usize = 3000;

/// A pasted SCIM token. Parsed once ("parse, don't validate"); afterwards trusted.
pub struct ScimToken {
    secret: SecretString,
    fingerprint: Fingerprint,
}

/// First 12 hex characters of the token's SHA-256: enough to tell two tokens apart in the
/// audit log, far too little to help anyone guess the token.
#[derive(Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Fingerprint(String);

impl Fingerprint {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({})", self.0)
    }
}

/// Why a pasted value is not a token. The texts are shown inside the modal, so they say
/// what to do and never repeat the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenInputError {
    #[error("Paste the access token: the field is empty.")]
    Empty,
    #[error(
        "The token cannot contain spaces or line breaks. Copy it again with the console's copy button."
    )]
    InnerWhitespace,
    #[error(
        "This is too short to be an access token (at least {MIN_TOKEN_LEN} characters). Did you paste the token id instead of the token?"
    )]
    TooShort,
    #[error("This is longer than any access token ({MAX_TOKEN_LEN} characters at most).")]
    TooLong,
    /// A character outside printable ASCII: no access token has one, and it could not be sent
    /// in an `Authorization` header anyway (the check would fail late and unclearly).
    #[error(
        "The token has a character that access tokens do not have (they are plain letters, digits and punctuation). Copy it again with the console's copy button."
    )]
    Unprintable,
}

impl ScimToken {
    /// Parses a pasted value. Surrounding whitespace (a trailing newline from the clipboard)
    /// is forgiven; whitespace inside is not.
    pub fn parse(raw: &str) -> Result<Self, TokenInputError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(TokenInputError::Empty);
        }
        if trimmed.chars().any(char::is_whitespace) {
            return Err(TokenInputError::InnerWhitespace);
        }
        if !trimmed.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(TokenInputError::Unprintable);
        }
        let len = trimmed.chars().count();
        if len < MIN_TOKEN_LEN {
            return Err(TokenInputError::TooShort);
        }
        if len > MAX_TOKEN_LEN {
            return Err(TokenInputError::TooLong);
        }
        Ok(ScimToken {
            fingerprint: fingerprint_of(trimmed),
            secret: SecretString::from(trimmed.to_owned()),
        })
    }

    pub fn fingerprint(&self) -> &Fingerprint {
        &self.fingerprint
    }

    /// The token's value. Call only where a request to AWS or Entra is built.
    pub fn expose(&self) -> &str {
        self.secret.expose_secret()
    }
}

impl fmt::Debug for ScimToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ScimToken(fingerprint={})", self.fingerprint.0)
    }
}

/// Whether free text a person typed may be repeated back to them (in "there is no connection
/// named …"). A token pasted into the wrong place must not be echoed into Slack, so only short
/// single words are: AWS tokens are far longer than this.
pub fn safe_to_echo(text: &str) -> bool {
    /// Longer than any connection name or command, far shorter than any AWS SCIM token.
    const MAX_ECHOED: usize = 32;
    !text.is_empty()
        && text.len() <= MAX_ECHOED
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// The fingerprint of any token value (also used by the sandbox to name tokens it issues).
pub fn fingerprint_of(value: &str) -> Fingerprint {
    let digest = Sha256::digest(value.as_bytes());
    Fingerprint(hex::encode(digest)[..12].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789";

    #[test]
    fn debug_shows_only_the_fingerprint() {
        let token = ScimToken::parse(GOOD).unwrap();
        let printed = format!("{token:?}");
        assert!(!printed.contains(GOOD));
        assert!(printed.contains(token.fingerprint().as_str()));
        assert_eq!(token.fingerprint().as_str().len(), 12);
    }

    #[test]
    fn only_short_words_are_echoed() {
        assert!(safe_to_echo("prod-org"));
        assert!(!safe_to_echo(GOOD), "a token-length value is never echoed");
        assert!(!safe_to_echo("two words"));
        assert!(!safe_to_echo("<!channel>"));
        assert!(!safe_to_echo(""));
    }

    #[test]
    fn surrounding_whitespace_is_forgiven() {
        let token = ScimToken::parse(&format!("  {GOOD}\n")).unwrap();
        assert_eq!(token.expose(), GOOD);
    }

    #[test]
    fn bad_pastes_are_refused_with_a_reason() {
        assert_eq!(ScimToken::parse("  ").unwrap_err(), TokenInputError::Empty);
        for odd in ['\u{0}', '\u{7f}', 'é', '\u{200b}'] {
            assert_eq!(
                ScimToken::parse(&format!("{GOOD}{odd}{GOOD}")).unwrap_err(),
                TokenInputError::Unprintable,
                "{odd:?}"
            );
        }
        assert_eq!(
            ScimToken::parse("abc def ghi jkl mno pqr stu").unwrap_err(),
            TokenInputError::InnerWhitespace
        );
        assert_eq!(
            ScimToken::parse("short").unwrap_err(),
            TokenInputError::TooShort
        );
        assert_eq!(
            ScimToken::parse(&"x".repeat(3001)).unwrap_err(),
            TokenInputError::TooLong
        );
        assert!(ScimToken::parse(&"x".repeat(3000)).is_ok());
    }
}
