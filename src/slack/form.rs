//! One field of an `application/x-www-form-urlencoded` body, decoded to bytes.
//!
//! An interactivity request is one field, `payload=<JSON>`, ~3 KB percent-encoded. Reading it
//! through `serde_urlencoded` decodes every pair into a lossy UTF-8 `String` and then the
//! JSON parser reads that string again; here the one field is percent-decoded straight into
//! the bytes `serde_json::from_slice` reads. The rules are `form_urlencoded`'s (WHATWG URL
//! "application/x-www-form-urlencoded parsing"): pairs split on `&`, empty pairs skipped,
//! name and value split at the first `=`, `+` is a space, `%XX` a byte, any other `%`
//! itself.

/// Why the field could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldError {
    Missing,
    /// Given twice: which one counts would be a guess (serde refuses it too).
    Duplicate,
}

/// The value of the field `name` (decoded), if it is there exactly once.
pub fn field(body: &[u8], name: &str) -> Result<Vec<u8>, FieldError> {
    let mut found = None;
    for pair in body.split(|b| *b == b'&').filter(|pair| !pair.is_empty()) {
        let (key, value) = match pair.iter().position(|b| *b == b'=') {
            Some(at) => (&pair[..at], &pair[at + 1..]),
            None => (pair, &[][..]),
        };
        if !decodes_to(key, name.as_bytes()) {
            continue;
        }
        if found.is_some() {
            return Err(FieldError::Duplicate);
        }
        found = Some(decode(value));
    }
    found.ok_or(FieldError::Missing)
}

/// `+` and `%XX` decoded; a `%` not followed by two hex digits stays as it is.
pub fn decode(encoded: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(encoded.len());
    let mut i = 0;
    while i < encoded.len() {
        match encoded[i] {
            b'+' => out.push(b' '),
            b'%' => match (hex(encoded.get(i + 1)), hex(encoded.get(i + 2))) {
                (Some(high), Some(low)) => {
                    out.push(high << 4 | low);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            byte => out.push(byte),
        }
        i += 1;
    }
    out
}

/// Whether `encoded` decodes to `expected` (names are short: decoded on the stack's worth).
fn decodes_to(encoded: &[u8], expected: &[u8]) -> bool {
    if encoded == expected {
        return true;
    }
    // Only an encoded name can still match; it is at most three times as long.
    encoded.len() <= expected.len() * 3
        && encoded.iter().any(|b| matches!(b, b'%' | b'+'))
        && decode(encoded) == expected
}

fn hex(digit: Option<&u8>) -> Option<u8> {
    let digit = *digit?;
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(serde::Deserialize)]
    struct Form {
        payload: String,
    }

    #[test]
    fn the_payload_field_is_decoded_to_its_bytes() {
        let body = b"payload=%7B%22a%22%3A+%22b+c%25%22%7D&other=x";
        assert_eq!(field(body, "payload").unwrap(), br#"{"a": "b c%"}"#);
        assert_eq!(field(b"p%61yload=1", "payload").unwrap(), b"1");
        assert_eq!(field(b"payload", "payload").unwrap(), b"");
        assert_eq!(field(b"a=1&&b=2", "payload"), Err(FieldError::Missing));
        assert_eq!(
            field(b"payload=1&payload=2", "payload"),
            Err(FieldError::Duplicate)
        );
        assert_eq!(decode(b"100%+%zz%4"), b"100% %zz%4");
    }

    proptest! {
        /// The same answer as `serde_urlencoded` (the parser it replaces) for any body.
        #[test]
        fn it_reads_what_serde_urlencoded_reads(
            body in prop::collection::vec(
                prop_oneof![
                    Just(b'&'), Just(b'='), Just(b'%'), Just(b'+'), Just(b'a'), Just(b'F'),
                    Just(b'2'), Just(b'7'), any::<u8>(),
                ],
                0..64,
            ),
            with_payload in any::<bool>(),
        ) {
            let mut body = body;
            if with_payload {
                body.splice(0..0, b"payload=".iter().copied());
            }
            let ours = field(&body, "payload");
            match serde_urlencoded::from_bytes::<Form>(&body) {
                Ok(form) => prop_assert_eq!(
                    String::from_utf8_lossy(&ours.expect("read by both")).into_owned(),
                    form.payload
                ),
                Err(_) => prop_assert!(ours.is_err(), "{:?}", ours),
            }
        }
    }
}
