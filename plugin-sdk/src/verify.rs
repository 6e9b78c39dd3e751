//! Proving a webhook came from its provider: HMAC signatures over the raw bytes compared in constant time,
//! HS256 JWTs (Vonage, MessageBird), and Meta's `hub.*` conventions (the `X-Hub-Signature-256` header and the
//! subscribe handshake) shared by WhatsApp, Messenger and Instagram. Behind the SDK's `verify` feature.

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

/// Standard base64 (with padding) back to bytes; surrounding whitespace is ignored.
pub fn base64_decode(text: &str) -> Result<Vec<u8>, String> {
    base64::engine::general_purpose::STANDARD.decode(text.trim()).map_err(|e| e.to_string())
}

/// The SHA-256 digest of `bytes` in lower-case hex, as providers that sign a body's hash instead of the
/// body (Twilio's `bodySHA256`) write it.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// JSON Web Tokens signed with a shared secret (HS256), as Vonage and MessageBird sign their webhooks.
pub mod jwt {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::{Algorithm, constant_time_eq, hmac};

    /// Seconds of clock difference tolerated on `exp`, `nbf` and `iat`.
    pub const LEEWAY_SECONDS: i64 = 300;

    /// The claims of `token` when it is an HS256 JWT signed with `secret` and valid at `now_ms` (`exp` not
    /// passed, `nbf` reached, `iat` not in the future, each within [`LEEWAY_SECONDS`]); otherwise why not.
    pub fn verify_hs256(token: &str, secret: &[u8], now_ms: i64) -> Result<serde_json::Value, String> {
        if secret.is_empty() {
            return Err("no signing secret is set".into());
        }
        let mut parts = token.trim().split('.');
        let (Some(header), Some(claims), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err("not a JWT (three dot-separated parts)".into());
        };
        let decode = |part: &str, what: &str| {
            URL_SAFE_NO_PAD.decode(part).map_err(|_| format!("the JWT's {what} is not base64url"))
        };
        let header: serde_json::Value = serde_json::from_slice(&decode(header, "header")?)
            .map_err(|_| "the JWT's header is not JSON".to_owned())?;
        if header["alg"].as_str() != Some("HS256") {
            return Err(format!("the JWT is signed with {} instead of HS256", header["alg"]));
        }
        let signed = &token.trim()[..token.trim().len() - signature.len() - 1];
        if !constant_time_eq(&hmac(Algorithm::Sha256, secret, signed.as_bytes()), &decode(signature, "signature")?) {
            return Err("the JWT's signature does not match the signing secret".into());
        }
        let claims: serde_json::Value = serde_json::from_slice(&decode(claims, "claims")?)
            .map_err(|_| "the JWT's claims are not JSON".to_owned())?;
        let now = now_ms.div_euclid(1000);
        let at = |name: &str| claims[name].as_i64();
        if at("exp").is_some_and(|exp| now > exp + LEEWAY_SECONDS) {
            return Err("the JWT has expired".into());
        }
        if at("nbf").is_some_and(|nbf| now + LEEWAY_SECONDS < nbf)
            || at("iat").is_some_and(|iat| now + LEEWAY_SECONDS < iat)
        {
            return Err("the JWT is not valid yet".into());
        }
        Ok(claims)
    }

    /// An HS256 JWT of `claims` signed with `secret` (for tests and for providers that take one).
    pub fn sign_hs256(claims: &serde_json::Value, secret: &[u8]) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
        let signed = format!("{header}.{claims}");
        let signature = URL_SAFE_NO_PAD.encode(hmac(Algorithm::Sha256, secret, signed.as_bytes()));
        format!("{signed}.{signature}")
    }
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
    fn hs256_jwts_are_checked_for_signature_algorithm_and_time() {
        // RFC 7515 appendix A.1's token and key: signed with HS256, `exp` 1300819380.
        let token = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let key = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode("AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow")
            .expect("key");
        let claims = jwt::verify_hs256(token, &key, 1_300_819_000_000).expect("valid");
        assert_eq!(claims["iss"], "joe");
        assert!(jwt::verify_hs256(token, &key, 1_300_819_380_000 + 301_000).is_err(), "expired");
        assert!(jwt::verify_hs256(token, b"another key", 1_300_819_000_000).is_err());
        let made = jwt::sign_hs256(&serde_json::json!({ "iat": 100, "payload_hash": "ab" }), b"secret");
        assert_eq!(jwt::verify_hs256(&made, b"secret", 100_000).expect("valid")["payload_hash"], "ab");
        assert!(jwt::verify_hs256(&made, b"secret", -300_000).is_err(), "issued in the future");
        let none = made.replacen(made.split('.').next().expect("header"), "eyJhbGciOiJub25lIn0", 1);
        assert!(jwt::verify_hs256(&none, b"secret", 100_000).is_err(), "alg none is refused");
    }

    #[test]
    fn sha256_hex_matches_the_fips_vector() {
        // FIPS 180-2 appendix B.1.
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
