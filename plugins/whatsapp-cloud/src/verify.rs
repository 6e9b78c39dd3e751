//! Meta's two webhook checks: the `X-Hub-Signature-256` HMAC of every delivery, and the `hub.*` GET
//! handshake that proves to Meta we own the callback URL.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use switchboard_plugin_sdk::channel::{HttpRequest, HttpResponse, WebhookError};

const SIGNATURE_HEADER: &str = "x-hub-signature-256";

/// Checks that the raw body was signed with the app secret; nothing of the body is read before.
pub fn check_signature(request: &HttpRequest, app_secret: Option<String>) -> Result<(), WebhookError> {
    let unauthorized = |why: &str| Err(WebhookError::Unauthorized(why.to_owned()));
    let Some(secret) = app_secret.filter(|s| !s.is_empty()) else {
        return unauthorized("the channel's app_secret is not set");
    };
    let Some(header) = request.header(SIGNATURE_HEADER) else {
        return unauthorized("missing X-Hub-Signature-256");
    };
    let Some(signature) = header.trim().strip_prefix("sha256=").and_then(|hex| hex::decode(hex).ok()) else {
        return unauthorized("X-Hub-Signature-256 is not `sha256=<hex>`");
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return unauthorized("the channel's app_secret cannot key an HMAC");
    };
    mac.update(&request.body);
    // `verify_slice` compares in constant time.
    mac.verify_slice(&signature)
        .or_else(|_| unauthorized("X-Hub-Signature-256 does not match the body and the app secret"))
}

/// Answers `hub.mode=subscribe&hub.verify_token=…&hub.challenge=…` with the raw challenge when the token
/// is ours; a request without `hub.*` parameters is not a handshake.
pub fn handshake(request: &HttpRequest, verify_token: Option<String>) -> Result<Option<HttpResponse>, WebhookError> {
    let params = query_pairs(&request.query);
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
    if !bool::from(given.as_bytes().ct_eq(expected.as_bytes())) {
        return Err(WebhookError::Unauthorized("hub.verify_token does not match the channel's verify_token".into()));
    }
    let Some(challenge) = param("hub.challenge") else {
        return Err(WebhookError::BadRequest("missing hub.challenge".into()));
    };
    Ok(Some(HttpResponse::text(200, challenge)))
}

/// The `name=value` pairs of a query string, percent-decoded (`+` is a space, as in forms).
fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], escaped) {
            (_, Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b'+', None) => {
                out.push(b' ');
                i += 1;
            }
            (other, None) => {
                out.push(other);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
