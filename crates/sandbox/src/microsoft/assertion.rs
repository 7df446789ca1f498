//! Certificate client assertions, checked as Microsoft login does: the JWT header names an
//! uploaded certificate by thumbprint (`x5t`, `x5t#S256`), its RS256 signature must verify
//! with that certificate's public key, and its claims must name the token endpoint and the app.
//!
//! The model cannot check `nbf`/`exp` against its clock: the bot signs with the system time,
//! while the sandbox's clock is injected. It checks instead that the window is well formed
//! (`exp` after `nbf`, at most an hour long). Where Microsoft's code for a failure is unknown
//! (a wrong audience, a malformed token) the model answers AADSTS700027, its code for an
//! invalid signature.
//!
//! Nothing here shares code with the bot's signing side (`crate::azure::certificate`): the
//! certificate is parsed and the signature verified by `rustls-webpki`, the thumbprints
//! computed with the `sha1`/`sha2` crates, so a bug in the bot's X.509 or digest code cannot
//! be mirrored here and pass unnoticed.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rustls_pki_types::CertificateDer;
use serde_json::Value;

/// Clock skew tolerated between the signer and the login endpoint, in seconds (Microsoft's).
const CLOCK_SKEW_SECONDS: u64 = 300;

/// Longest `exp - nbf` accepted, in seconds.
const MAX_WINDOW_SECONDS: u64 = 3600;

/// AADSTS code: "Client assertion contains an invalid signature."
pub(super) const INVALID_SIGNATURE: u32 = 700027;
/// AADSTS code: "Client assertion is not within its valid time range."
pub(super) const OUTSIDE_TIME_RANGE: u32 = 700024;
/// AADSTS code: "Client assertion application identifier doesn't match 'client_id' parameter."
pub(super) const WRONG_APPLICATION: u32 = 700021;

/// A certificate uploaded to the app registration (*Certificates & secrets*): how assertions
/// name it, and the key that verifies them.
pub(super) struct UploadedCertificate {
    x5t: String,
    x5t_s256: String,
    /// The certificate's DER, parsed by webpki when an assertion is checked.
    der: CertificateDer<'static>,
}

impl UploadedCertificate {
    /// `None` when `certificate_der` is not an X.509 certificate webpki can read.
    pub(super) fn from_der(certificate_der: &[u8]) -> Option<Self> {
        let der = CertificateDer::from(certificate_der.to_vec());
        webpki::EndEntityCert::try_from(&der).ok()?;
        use sha1::Digest as _;
        use sha2::Digest as _;
        let x5t = URL_SAFE_NO_PAD.encode(sha1::Sha1::digest(certificate_der));
        let x5t_s256 = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(certificate_der));
        Some(UploadedCertificate { x5t, x5t_s256, der })
    }

    /// Whether `signature` is this certificate's key's RS256 signature of `message`.
    fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        webpki::EndEntityCert::try_from(&self.der).is_ok_and(|certificate| {
            certificate
                .verify_signature(webpki::ring::RSA_PKCS1_2048_8192_SHA256, message, signature)
                .is_ok()
        })
    }
}

/// Why login refuses an assertion: the AADSTS code and the start of its description.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Refusal {
    pub aadsts: u32,
    pub description: String,
}

/// The parts of an assertion whose header names a certificate.
struct Parsed<'a> {
    x5t: Option<String>,
    x5t_s256: Option<String>,
    alg: Option<String>,
    /// `header.payload`, what the signature covers.
    signed: &'a str,
    payload: &'a str,
    signature: &'a str,
}

/// Whether `assertion` is a JWT whose header names a certificate (else it is a federated
/// token, which login matches against the app's federated credential).
pub(super) fn names_certificate(assertion: &str) -> bool {
    parse(assertion).is_some()
}

fn parse(assertion: &str) -> Option<Parsed<'_>> {
    let (signed, signature) = assertion.rsplit_once('.')?;
    let (header, payload) = signed.split_once('.')?;
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
    let text = |name: &str| header.get(name).and_then(Value::as_str).map(str::to_owned);
    let (x5t, x5t_s256) = (text("x5t"), text("x5t#S256"));
    if x5t.is_none() && x5t_s256.is_none() {
        return None;
    }
    Some(Parsed {
        x5t,
        x5t_s256,
        alg: text("alg"),
        signed,
        payload,
        signature,
    })
}

/// Checks a certificate assertion sent to the token endpoint `audience` by `client_id`.
///
/// The bot signs with the system clock (the model's clock may be a test's), so the window is
/// checked against the system clock, with Microsoft's five minutes of skew.
pub(super) fn verify(
    assertion: &str,
    uploaded: &[UploadedCertificate],
    audience: &str,
    client_id: &str,
) -> Result<(), Refusal> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    verify_at(assertion, uploaded, audience, client_id, now)
}

/// [`verify`] at `now`, in seconds since the Unix epoch.
fn verify_at(
    assertion: &str,
    uploaded: &[UploadedCertificate],
    audience: &str,
    client_id: &str,
    now: u64,
) -> Result<(), Refusal> {
    let invalid = |reason: String| Refusal {
        aadsts: INVALID_SIGNATURE,
        description: format!("Client assertion contains an invalid signature. [Reason - {reason}]"),
    };
    let parsed =
        parse(assertion).ok_or_else(|| invalid("The assertion is not a JWT.".to_owned()))?;
    let used = thumbprint_hex(&parsed);
    let certificate = uploaded
        .iter()
        .find(|c| {
            parsed.x5t.as_ref().is_none_or(|t| *t == c.x5t)
                && parsed.x5t_s256.as_ref().is_none_or(|t| *t == c.x5t_s256)
        })
        .ok_or_else(|| {
            invalid(format!(
                "The key was not found., Thumbprint of key used by client: '{used}'"
            ))
        })?;
    if parsed.alg.as_deref() != Some("RS256") {
        return Err(invalid(format!(
            "The algorithm '{}' is not supported.",
            parsed.alg.as_deref().unwrap_or("")
        )));
    }
    let signature = URL_SAFE_NO_PAD
        .decode(parsed.signature)
        .map_err(|_| invalid("The signature is not base64url.".to_owned()))?;
    if !certificate.verifies(parsed.signed.as_bytes(), &signature) {
        return Err(invalid(format!(
            "The provided signature value did not match the expected signature value., Thumbprint of key used by client: '{used}'"
        )));
    }

    let claims: Value = URL_SAFE_NO_PAD
        .decode(parsed.payload)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| invalid("The claims are not JSON.".to_owned()))?;
    let claim = |name: &str| claims.get(name).and_then(Value::as_str);
    if claim("aud") != Some(audience) {
        return Err(invalid(format!(
            "The audience '{}' is not the token endpoint '{audience}'.",
            claim("aud").unwrap_or("")
        )));
    }
    if claim("iss") != Some(client_id) || claim("sub") != Some(client_id) {
        return Err(Refusal {
            aadsts: WRONG_APPLICATION,
            description:
                "Client assertion application identifier doesn't match 'client_id' parameter."
                    .to_owned(),
        });
    }
    let time = |name: &str| claims.get(name).and_then(Value::as_u64);
    match (time("nbf"), time("exp")) {
        (Some(nbf), Some(exp))
            if exp > nbf
                && exp - nbf <= MAX_WINDOW_SECONDS
                && nbf <= now + CLOCK_SKEW_SECONDS
                && now <= exp + CLOCK_SKEW_SECONDS =>
        {
            Ok(())
        }
        _ => Err(Refusal {
            aadsts: OUTSIDE_TIME_RANGE,
            description: "Client assertion is not within its valid time range.".to_owned(),
        }),
    }
}

/// The thumbprint the assertion names, in upper-case hex as Microsoft quotes it.
fn thumbprint_hex(parsed: &Parsed<'_>) -> String {
    parsed
        .x5t
        .as_ref()
        .or(parsed.x5t_s256.as_ref())
        .and_then(|t| URL_SAFE_NO_PAD.decode(t).ok())
        .map(hex::encode_upper)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;
    use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivatePkcs8KeyDer};
    use serde_json::json;

    const FIXTURE: &str = include_str!("../../../../tests/fixtures/test-only-client-cert.pem");
    const OTHER: &str = include_str!("../../../../tests/fixtures/test-only-other-client-cert.pem");
    const AUDIENCE: &str = "http://127.0.0.1:1/tenant/oauth2/v2.0/token";
    const CLIENT: &str = "client-1";

    fn uploaded(pem: &str) -> UploadedCertificate {
        let der = CertificateDer::from_pem_slice(pem.as_bytes()).unwrap();
        UploadedCertificate::from_der(&der).unwrap()
    }

    /// An assertion as a client would build it for `pem`'s certificate. (That the bot's own
    /// assertions pass is shown end to end in the integration tests, `graph_client::*`.)
    fn by_a_client(pem: &str) -> String {
        signed(pem, &header_of(pem), &claims())
    }

    /// A JWT with `header` and `claims`, signed with the private key of `pem`.
    fn signed(pem: &str, header: &Value, claims: &Value) -> String {
        let key = PrivatePkcs8KeyDer::from_pem_slice(pem.as_bytes()).unwrap();
        let key = RsaKeyPair::from_pkcs8(key.secret_pkcs8_der()).unwrap();
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signature = vec![0; key.public().modulus_len()];
        key.sign(
            &RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            input.as_bytes(),
            &mut signature,
        )
        .unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    fn header_of(pem: &str) -> Value {
        let uploaded = uploaded(pem);
        json!({"alg": "RS256", "typ": "JWT", "x5t": uploaded.x5t, "x5t#S256": uploaded.x5t_s256})
    }

    /// The one instant every assertion here is signed and checked at (2026-12-01T12:00:00Z):
    /// no second may tick between building claims and checking them.
    const NOW: u64 = 1_796_126_400;

    fn check(assertion: &str, uploaded: &[UploadedCertificate]) -> Result<(), Refusal> {
        verify_at(assertion, uploaded, AUDIENCE, CLIENT, NOW)
    }

    fn claims() -> Value {
        let nbf = NOW;
        json!({"aud": AUDIENCE, "iss": CLIENT, "sub": CLIENT, "jti": "j", "nbf": nbf, "exp": nbf + 600})
    }

    fn code(assertion: &str) -> u32 {
        check(assertion, &[uploaded(FIXTURE)]).unwrap_err().aadsts
    }

    #[test]
    fn a_clients_assertion_passes() {
        let assertion = by_a_client(FIXTURE);
        assert!(names_certificate(&assertion));
        check(&assertion, &[uploaded(FIXTURE)]).unwrap();
    }

    #[test]
    fn a_federated_token_does_not_name_a_certificate() {
        assert!(!names_certificate("eyJhbGciOiJSUzI1NiJ9.first.sig"));
        assert!(!names_certificate("not a jwt"));
    }

    #[test]
    fn an_unknown_certificate_is_named_by_its_thumbprint() {
        let refusal = check(&by_a_client(OTHER), &[uploaded(FIXTURE)]).unwrap_err();
        assert_eq!(refusal.aadsts, INVALID_SIGNATURE);
        let der = CertificateDer::from_pem_slice(OTHER.as_bytes()).unwrap();
        let sha1 = hex::encode_upper(ring::digest::digest(
            &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
            &der,
        ));
        assert!(
            refusal.description.contains("The key was not found."),
            "{}",
            refusal.description
        );
        assert!(
            refusal.description.contains(&sha1),
            "{}",
            refusal.description
        );
    }

    #[test]
    fn a_signature_by_another_key_is_refused() {
        // Claims the uploaded certificate, signed with another key.
        let forged = signed(OTHER, &header_of(FIXTURE), &claims());
        let refusal = check(&forged, &[uploaded(FIXTURE)]).unwrap_err();
        assert_eq!(refusal.aadsts, INVALID_SIGNATURE);
        assert!(
            refusal.description.contains("did not match"),
            "{}",
            refusal.description
        );
        // A valid signature over other claims.
        let genuine = by_a_client(FIXTURE);
        let (header, rest) = genuine.split_once('.').unwrap();
        let (_, signature) = rest.split_once('.').unwrap();
        let mut changed = claims();
        changed["sub"] = json!("someone-else");
        let tampered = format!(
            "{header}.{}.{signature}",
            URL_SAFE_NO_PAD.encode(changed.to_string())
        );
        assert_eq!(code(&tampered), INVALID_SIGNATURE);
        let mut none = header_of(FIXTURE);
        none["alg"] = json!("none");
        assert_eq!(code(&signed(FIXTURE, &none, &claims())), INVALID_SIGNATURE);
    }

    #[test]
    fn the_claims_must_name_the_endpoint_the_app_and_a_short_window() {
        let header = header_of(FIXTURE);
        let with = |name: &str, value: Value| {
            let mut claims = claims();
            claims[name] = value;
            code(&signed(FIXTURE, &header, &claims))
        };
        assert_eq!(
            with(
                "aud",
                json!("https://login.microsoftonline.com/x/oauth2/v2.0/token")
            ),
            INVALID_SIGNATURE
        );
        assert_eq!(with("iss", json!("other")), WRONG_APPLICATION);
        assert_eq!(with("sub", json!("other")), WRONG_APPLICATION);
        let now = NOW;
        assert_eq!(
            with("exp", json!(now)),
            OUTSIDE_TIME_RANGE,
            "exp not after nbf"
        );
        assert_eq!(
            with("exp", json!(now + 3601)),
            OUTSIDE_TIME_RANGE,
            "window over an hour"
        );
        assert_eq!(with("nbf", Value::Null), OUTSIDE_TIME_RANGE);
        // The edge: a window of exactly an hour passes.
        assert_eq!(
            check(
                &signed(FIXTURE, &header, &{
                    let mut claims = claims();
                    claims["exp"] = json!(now + 3600);
                    claims
                }),
                &[uploaded(FIXTURE)]
            ),
            Ok(())
        );
        // A well-formed window, but signed with a clock far from ours (a test's manual clock).
        let shifted = |by: i64| {
            let mut claims = claims();
            claims["nbf"] = json!(now.saturating_add_signed(by));
            claims["exp"] = json!(now.saturating_add_signed(by) + 600);
            code(&signed(FIXTURE, &header, &claims))
        };
        assert_eq!(shifted(-86_400), OUTSIDE_TIME_RANGE, "a day in the past");
        assert_eq!(shifted(86_400), OUTSIDE_TIME_RANGE, "a day in the future");
        // Just past Microsoft's five minutes of skew, either way.
        assert_eq!(shifted(-901), OUTSIDE_TIME_RANGE, "expired 301 s ago");
        assert_eq!(shifted(301), OUTSIDE_TIME_RANGE, "valid from 301 s ahead");
    }
}
