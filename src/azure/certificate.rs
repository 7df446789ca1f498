//! Certificate credentials: the bot's app registration proves itself with a JWT it signs with
//! the private key of a certificate uploaded to the app (Microsoft identity platform
//! "certificate credentials"), instead of a client secret.
//!
//! The PEM file is parsed and checked once, when the config is loaded; each login then signs a
//! fresh assertion. Nothing here prints the key: [`ClientCertificate`]'s `Debug` shows only the
//! certificate's thumbprint, which the Entra portal also shows, and errors never quote the PEM.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::digest::{SHA1_FOR_LEGACY_USE_ONLY, SHA256, digest};
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use rustls_pki_types::pem::{PemObject, SectionKind};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use zeroize::Zeroizing;

/// How long a client assertion is valid: Microsoft's examples use ten minutes, far longer than
/// one login with its retries needs.
pub(crate) const ASSERTION_LIFETIME: Duration = Duration::from_secs(10 * 60);

/// A certificate of the bot's app registration and its RSA private key, ready to sign client
/// assertions. Cheap to clone (the key is shared).
#[derive(Clone)]
pub struct ClientCertificate {
    key: Arc<RsaKeyPair>,
    /// `x5t`: base64url of the SHA-1 of the certificate's DER, how Entra finds the key.
    x5t: String,
    /// `x5t#S256`: the same with SHA-256.
    x5t_s256: String,
    /// SHA-1 thumbprint in upper-case hex, as the Entra portal lists it.
    thumbprint: String,
}

/// Why a PEM text is not a usable certificate credential. The texts never quote the PEM.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    /// A BEGIN/END block is broken or its base64 does not decode.
    #[error(
        "is not readable PEM text (a -----BEGIN/-----END block is broken): give file:PATH of a PEM file, or env:NAME holding its text"
    )]
    NotPem,
    /// No `CERTIFICATE` block.
    #[error(
        "holds no certificate (-----BEGIN CERTIFICATE-----): give file:PATH of a PEM file with the certificate and its private key, or env:NAME holding that text"
    )]
    NoCertificate,
    /// The private key is PKCS#1 (`RSA PRIVATE KEY`).
    #[error(
        "holds an RSA PRIVATE KEY (PKCS#1): convert it to PKCS#8 (-----BEGIN PRIVATE KEY-----) with `openssl pkcs8 -topk8 -nocrypt`"
    )]
    Pkcs1Key,
    /// The private key is encrypted.
    #[error(
        "holds an ENCRYPTED PRIVATE KEY: the bot needs it unencrypted (-----BEGIN PRIVATE KEY-----); protect the file instead"
    )]
    EncryptedKey,
    /// No `PRIVATE KEY` block.
    #[error(
        "holds no private key (-----BEGIN PRIVATE KEY-----, PKCS#8): append the certificate's RSA private key to the file"
    )]
    NoPrivateKey,
    /// The private key is not RSA (EC keys included).
    #[error("holds a private key that is not RSA: certificate login signs with RS256")]
    NotRsaKey,
    /// The private key does not parse; `reason` is ring's fixed description, such as
    /// `InvalidEncoding`.
    #[error("holds a private key that does not parse as an RSA PKCS#8 key ({reason})")]
    BadKey { reason: String },
    /// The certificate's public key is not RSA, or the certificate does not parse.
    #[error("holds a certificate without a readable RSA public key")]
    BadCertificate,
    /// The key is not the certificate's.
    #[error(
        "holds a private key that does not belong to its certificate (the first CERTIFICATE block must be the app's certificate)"
    )]
    KeyMismatch,
}

/// Signing a client assertion failed (ring reports no detail).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SigningFailed;

impl ClientCertificate {
    /// Reads the first certificate and the PKCS#8 RSA private key of `pem`, and checks that
    /// the key belongs to the certificate. Other blocks (a chain) are ignored.
    pub fn from_pem(pem: &SecretString) -> Result<Self, CertificateError> {
        let text = pem.expose_secret();
        let mut certificate: Option<Vec<u8>> = None;
        let mut key: Option<Zeroizing<Vec<u8>>> = None;
        let mut other_key = None;
        for section in <(SectionKind, Vec<u8>)>::pem_slice_iter(text.as_bytes()) {
            // The error may quote a line of the file: never shown.
            let (kind, der) = section.map_err(|_| CertificateError::NotPem)?;
            let der = Zeroizing::new(der);
            match kind {
                SectionKind::Certificate if certificate.is_none() => {
                    certificate = Some(der.to_vec());
                }
                SectionKind::PrivateKey if key.is_none() => key = Some(der),
                SectionKind::RsaPrivateKey => other_key = Some(CertificateError::Pkcs1Key),
                SectionKind::EcPrivateKey => other_key = Some(CertificateError::NotRsaKey),
                _ => {}
            }
        }
        let certificate = certificate.ok_or(CertificateError::NoCertificate)?;
        let key = match key {
            Some(key) => key,
            None if text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") => {
                return Err(CertificateError::EncryptedKey);
            }
            None => return Err(other_key.unwrap_or(CertificateError::NoPrivateKey)),
        };
        // ring's `KeyRejected` displays as a fixed word ("InvalidEncoding"), never the key.
        let key = RsaKeyPair::from_pkcs8(&key).map_err(|rejected| match rejected.to_string() {
            reason if reason == "WrongAlgorithm" => CertificateError::NotRsaKey,
            reason => CertificateError::BadKey { reason },
        })?;
        let public_key = rsa_public_key(&certificate).ok_or(CertificateError::BadCertificate)?;
        if public_key.as_slice() != key.public().as_ref() {
            return Err(CertificateError::KeyMismatch);
        }
        let (x5t, x5t_s256) = thumbprints(&certificate);
        Ok(ClientCertificate {
            key: Arc::new(key),
            x5t,
            x5t_s256,
            thumbprint: hex::encode_upper(digest(&SHA1_FOR_LEGACY_USE_ONLY, &certificate)),
        })
    }

    /// The certificate's SHA-1 thumbprint in upper-case hex, as *Certificates & secrets* in
    /// the Entra portal lists it.
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// A client assertion for the token endpoint `audience`: an RS256 JWT naming the
    /// certificate by its thumbprints, issued by and about `client_id`, valid from `now` for
    /// [`ASSERTION_LIFETIME`].
    pub(crate) fn assertion(
        &self,
        audience: &str,
        client_id: &str,
        now: SystemTime,
    ) -> Result<SecretString, SigningFailed> {
        let header = json!({
            "alg": "RS256",
            "typ": "JWT",
            "x5t": self.x5t,
            "x5t#S256": self.x5t_s256,
        });
        let issued = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let claims = json!({
            "aud": audience,
            "iss": client_id,
            "sub": client_id,
            "jti": random_uuid()?,
            "nbf": issued,
            "exp": issued + ASSERTION_LIFETIME.as_secs(),
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                signing_input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| SigningFailed)?;
        Ok(SecretString::from(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        )))
    }
}

impl fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCertificate")
            .field("thumbprint", &self.thumbprint)
            .field("private_key", &"[REDACTED]")
            .finish()
    }
}

/// `x5t` and `x5t#S256` of a certificate: base64url (unpadded) of the SHA-1 and SHA-256 of
/// its DER.
pub(crate) fn thumbprints(certificate_der: &[u8]) -> (String, String) {
    (
        URL_SAFE_NO_PAD.encode(digest(&SHA1_FOR_LEGACY_USE_ONLY, certificate_der)),
        URL_SAFE_NO_PAD.encode(digest(&SHA256, certificate_der)),
    )
}

/// A random version-4 UUID (the assertion's `jti`), from the operating system's generator.
fn random_uuid() -> Result<String, SigningFailed> {
    let mut bytes = [0u8; 16];
    ring::rand::SecureRandom::fill(&SystemRandom::new(), &mut bytes).map_err(|_| SigningFailed)?;
    Ok(uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .hyphenated()
        .to_string())
}

/// The RSA public key of an X.509 certificate, as PKCS#1 `RSAPublicKey` DER (what ring's RSA
/// verifiers and `RsaKeyPair::public` use), or `None` when the certificate does not parse
/// (as a whole, with nothing after it) or its key is not a well-formed RSA key.
///
/// Parsed with `x509-parser` (a maintained DER/X.509 parser), not by hand.
pub(crate) fn rsa_public_key(certificate_der: &[u8]) -> Option<Vec<u8>> {
    use x509_parser::prelude::{FromDer, X509Certificate};
    use x509_parser::public_key::PublicKey;
    let (rest, certificate) = X509Certificate::from_der(certificate_der).ok()?;
    if !rest.is_empty() {
        return None;
    }
    let spki = certificate.public_key();
    if spki.algorithm.algorithm != x509_parser::oid_registry::OID_PKCS1_RSAENCRYPTION
        || spki.subject_public_key.unused_bits != 0
    {
        return None;
    }
    match spki.parsed().ok()? {
        PublicKey::RSA(rsa) if !rsa.modulus.is_empty() && !rsa.exponent.is_empty() => {
            Some(spki.subject_public_key.data.to_vec())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls_pki_types::CertificateDer;

    const FIXTURE: &str = include_str!("../../tests/fixtures/test-only-client-cert.pem");
    const OTHER: &str = include_str!("../../tests/fixtures/test-only-other-client-cert.pem");

    fn blocks(pem: &str) -> (&str, &str) {
        let key_at = pem.find("-----BEGIN PRIVATE KEY-----").unwrap();
        pem.split_at(key_at)
    }

    fn parse(text: &str) -> Result<ClientCertificate, CertificateError> {
        ClientCertificate::from_pem(&SecretString::from(text))
    }

    #[test]
    fn the_fixture_parses_and_its_thumbprint_is_openssls() {
        let certificate = parse(FIXTURE).unwrap();
        // `openssl x509 -noout -fingerprint -sha1` of the fixture.
        assert_eq!(
            certificate.thumbprint(),
            "5C4E083D3128CF2D9FA341B49DB85CA2A7CC8D50"
        );
        let der = CertificateDer::from_pem_slice(FIXTURE.as_bytes()).unwrap();
        let (x5t, _) = thumbprints(&der);
        assert_eq!(
            URL_SAFE_NO_PAD.decode(&x5t).unwrap(),
            hex::decode(certificate.thumbprint()).unwrap()
        );
    }

    #[test]
    fn the_key_may_come_first_and_text_may_surround_the_blocks() {
        let (cert, key) = blocks(FIXTURE);
        let text = format!("Bag Attributes\n    friendlyName: bot\n{key}\nsubject=CN=x\n{cert}");
        assert!(parse(&text).is_ok());
    }

    #[test]
    fn each_missing_or_wrong_part_is_named() {
        let (cert, key) = blocks(FIXTURE);
        let (other_cert, other_key) = blocks(OTHER);
        assert_eq!(parse(key).unwrap_err(), CertificateError::NoCertificate);
        assert_eq!(
            parse("/etc/bot.pem").unwrap_err(),
            CertificateError::NoCertificate
        );
        assert_eq!(parse(cert).unwrap_err(), CertificateError::NoPrivateKey);
        assert_eq!(
            parse(&format!("{cert}{other_key}")).unwrap_err(),
            CertificateError::KeyMismatch
        );
        assert_eq!(
            parse(&format!("{other_cert}{key}")).unwrap_err(),
            CertificateError::KeyMismatch
        );
        let pkcs1 = format!(
            "{cert}{}",
            key.replace("BEGIN PRIVATE KEY", "BEGIN RSA PRIVATE KEY")
                .replace("END PRIVATE KEY", "END RSA PRIVATE KEY")
        );
        assert_eq!(parse(&pkcs1).unwrap_err(), CertificateError::Pkcs1Key);
        let encrypted = format!(
            "{cert}{}",
            key.replace("BEGIN PRIVATE KEY", "BEGIN ENCRYPTED PRIVATE KEY")
                .replace("END PRIVATE KEY", "END ENCRYPTED PRIVATE KEY")
        );
        assert_eq!(
            parse(&encrypted).unwrap_err(),
            CertificateError::EncryptedKey
        );
        // A key whose body is damaged (but still base64).
        let body_at = key.find('\n').unwrap() + 1;
        let damaged = format!("{cert}{}AAAA{}", &key[..body_at], &key[body_at + 4..]);
        assert!(matches!(
            parse(&damaged).unwrap_err(),
            CertificateError::BadKey { .. }
        ));
        let unterminated = format!("{cert}{}", &key[..key.len() / 2]);
        assert_eq!(parse(&unterminated).unwrap_err(), CertificateError::NotPem);
    }

    #[test]
    fn debug_shows_the_thumbprint_and_never_the_key() {
        let certificate = parse(FIXTURE).unwrap();
        let printed = format!("{certificate:?}");
        assert_eq!(
            printed,
            "ClientCertificate { thumbprint: \"5C4E083D3128CF2D9FA341B49DB85CA2A7CC8D50\", private_key: \"[REDACTED]\" }"
        );
    }

    #[test]
    fn an_assertion_is_an_rs256_jwt_with_the_requested_claims() {
        let certificate = parse(FIXTURE).unwrap();
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let assertion = certificate
            .assertion("https://login.example/t/oauth2/v2.0/token", "client-1", now)
            .unwrap();
        let parts: Vec<&str> = assertion.expose_secret().split('.').collect();
        assert_eq!(parts.len(), 3);
        let decode = |part: &str| -> serde_json::Value {
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
        };
        let der = CertificateDer::from_pem_slice(FIXTURE.as_bytes()).unwrap();
        let (x5t, x5t_s256) = thumbprints(&der);
        assert_eq!(
            decode(parts[0]),
            json!({"alg": "RS256", "typ": "JWT", "x5t": x5t, "x5t#S256": x5t_s256})
        );
        let claims = decode(parts[1]);
        assert_eq!(claims["aud"], "https://login.example/t/oauth2/v2.0/token");
        assert_eq!(
            (claims["iss"].as_str(), claims["sub"].as_str()),
            (Some("client-1"), Some("client-1"))
        );
        assert_eq!(claims["nbf"], 1_800_000_000u64);
        assert_eq!(claims["exp"], 1_800_000_600u64);
        let jti = claims["jti"].as_str().unwrap();
        assert_eq!((jti.len(), jti.as_bytes()[14]), (36, b'4'));

        let public_key = rsa_public_key(&der).unwrap();
        let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        ring::signature::UnparsedPublicKey::new(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            &public_key,
        )
        .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature)
        .unwrap();
        // Each assertion has its own id.
        let again = certificate.assertion("a", "c", now).unwrap();
        assert_ne!(
            decode(again.expose_secret().split('.').nth(1).unwrap())["jti"],
            jti
        );
    }

    #[test]
    fn what_is_not_a_certificate_has_no_key() {
        assert_eq!(rsa_public_key(&[]), None);
        assert_eq!(rsa_public_key(&[0x30, 0x82, 0xff]), None);
        assert_eq!(rsa_public_key(&[0x30, 0x00]), None);
        let der = CertificateDer::from_pem_slice(FIXTURE.as_bytes()).unwrap();
        assert_eq!(rsa_public_key(&der[..der.len() / 2]), None);
    }
}
