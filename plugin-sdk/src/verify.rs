//! Proving a webhook came from its provider: HMAC signatures over the raw bytes compared in constant time,
//! and Meta's `hub.*` conventions (the `X-Hub-Signature-256` header and the subscribe handshake) shared by
//! WhatsApp, Messenger and Instagram. Behind the SDK's `verify` feature.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use subtle::ConstantTimeEq;

/// The hash under an HMAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Sha1,
    Sha256,
}

/// How a provider writes a signature in its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Hex,
    Base64,
}

/// The HMAC of `message` keyed with `key`.
pub fn hmac(algorithm: Algorithm, key: &[u8], message: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length, so `new_from_slice` cannot fail; an empty result never matches.
    match algorithm {
        Algorithm::Sha1 => Hmac::<sha1::Sha1>::new_from_slice(key)
            .map(|mut m| {
                m.update(message);
                m.finalize().into_bytes().to_vec()
            })
            .unwrap_or_default(),
        Algorithm::Sha256 => Hmac::<sha2::Sha256>::new_from_slice(key)
            .map(|mut m| {
                m.update(message);
                m.finalize().into_bytes().to_vec()
            })
            .unwrap_or_default(),
    }
}

/// Whether `given` (as the provider wrote it) is the HMAC of `message` with `key`. An empty key, an empty
/// or undecodable signature never match; the comparison takes the same time wherever the bytes differ.
pub fn signature_matches(algorithm: Algorithm, encoding: Encoding, key: &[u8], message: &[u8], given: &str) -> bool {
    let given = given.trim();
    if key.is_empty() || given.is_empty() {
        return false;
    }
    let decoded = match encoding {
        Encoding::Hex => hex::decode(given).ok(),
        Encoding::Base64 => base64::engine::general_purpose::STANDARD.decode(given).ok(),
    };
    decoded.is_some_and(|given| constant_time_eq(&hmac(algorithm, key, message), &given))
}

/// Equality of two byte strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// Standard base64 with padding.
pub fn base64_encode(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The SHA-256 digest of `bytes` in lower-case hex, as providers that sign a body's hash instead of the
/// body (Twilio's `bodySHA256`) write it.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Meta's webhook conventions (WhatsApp Cloud API, Messenger, Instagram).
pub mod meta {
    use super::{Algorithm, Encoding, constant_time_eq, signature_matches};
    use crate::channel::{HttpRequest, HttpResponse, WebhookError};

    /// Checks that the raw body was signed with the app secret: `X-Hub-Signature-256: sha256=<hex>`, or,
    /// when `legacy_sha1` and only the older header came, `X-Hub-Signature: sha1=<hex>`.
    pub fn check_signature(
        request: &HttpRequest,
        app_secret: Option<&str>,
        legacy_sha1: bool,
    ) -> Result<(), WebhookError> {
        let unauthorized = |why: &str| Err(WebhookError::Unauthorized(why.to_owned()));
        let Some(secret) = app_secret.filter(|s| !s.is_empty()) else {
            return unauthorized("the channel's app_secret is not set");
        };
        let (name, algorithm, prefix, header) = match request.header("x-hub-signature-256") {
            Some(h) => ("X-Hub-Signature-256", Algorithm::Sha256, "sha256=", h),
            None => match request.header("x-hub-signature").filter(|_| legacy_sha1) {
                Some(h) => ("X-Hub-Signature", Algorithm::Sha1, "sha1=", h),
                None => return unauthorized("missing X-Hub-Signature-256"),
            },
        };
        let Some(hex) = header.trim().strip_prefix(prefix) else {
            return unauthorized(&format!("{name} is not `{prefix}<hex>`"));
        };
        if !signature_matches(algorithm, Encoding::Hex, secret.as_bytes(), &request.body, hex) {
            return unauthorized(&format!("{name} does not match the body and the app secret"));
        }
        Ok(())
    }

    /// Answers `hub.mode=subscribe&hub.verify_token=…&hub.challenge=…` with the raw challenge when the token
    /// is the channel's; a request without `hub.*` parameters is not a handshake (`None`).
    pub fn handshake(request: &HttpRequest, verify_token: Option<&str>) -> Result<Option<HttpResponse>, WebhookError> {
        let params = crate::form::pairs(&request.query);
        let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        if !params.iter().any(|(k, _)| k.starts_with("hub.")) {
            return Ok(None);
        }
        if param("hub.mode") != Some("subscribe") {
            return Err(WebhookError::BadRequest("hub.mode must be `subscribe`".into()));
        }
        let Some(expected) = verify_token.filter(|t| !t.is_empty()) else {
            return Err(WebhookError::Unauthorized("the channel's verify_token is not set".into()));
        };
        let given = param("hub.verify_token").unwrap_or_default();
        if !constant_time_eq(given.as_bytes(), expected.as_bytes()) {
            return Err(WebhookError::Unauthorized(
                "hub.verify_token does not match the channel's verify_token".into(),
            ));
        }
        let Some(challenge) = param("hub.challenge") else {
            return Err(WebhookError::BadRequest("missing hub.challenge".into()));
        };
        Ok(Some(HttpResponse::text(200, challenge)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 4231 test case 2 and RFC 2202 test case 2 ("Jefe").
    const KEY: &[u8] = b"Jefe";
    const DATA: &[u8] = b"what do ya want for nothing?";
    const SHA256_HEX: &str = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
    const SHA1_HEX: &str = "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79";

    #[test]
    fn known_vectors_match_in_both_encodings() {
        assert!(signature_matches(Algorithm::Sha256, Encoding::Hex, KEY, DATA, SHA256_HEX));
        assert!(signature_matches(Algorithm::Sha1, Encoding::Hex, KEY, DATA, &format!(" {SHA1_HEX}\n")));
        let b64 = base64_encode(&hex::decode(SHA256_HEX).expect("hex"));
        assert!(signature_matches(Algorithm::Sha256, Encoding::Base64, KEY, DATA, &b64));
    }

    #[test]
    fn anything_else_does_not_match() {
        assert!(!signature_matches(Algorithm::Sha256, Encoding::Hex, KEY, b"other body", SHA256_HEX));
        assert!(!signature_matches(Algorithm::Sha1, Encoding::Hex, KEY, DATA, SHA256_HEX));
        assert!(!signature_matches(Algorithm::Sha256, Encoding::Hex, b"", DATA, SHA256_HEX));
        assert!(!signature_matches(Algorithm::Sha256, Encoding::Hex, KEY, DATA, ""));
        assert!(!signature_matches(Algorithm::Sha256, Encoding::Hex, KEY, DATA, "not hex"));
        assert!(!signature_matches(Algorithm::Sha256, Encoding::Base64, KEY, DATA, SHA256_HEX));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }

    #[test]
    fn sha256_hex_matches_the_fips_vector() {
        // FIPS 180-2 appendix B.1.
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
