//! `MessageBird-Signature-JWT`: an HS256 JWT signed with the account's signing key, issued by `MessageBird`,
//! whose `url_hash` is the SHA-256 of the URL called and `payload_hash` that of the body (when there is one).
//! Checked as MessageBird's own libraries check it, so their reference vectors hold.

use switchboard_plugin_sdk::verify::{constant_time_eq, jwt, sha256_hex};

/// Why `token` is not MessageBird's for a request with `body` to one of `urls` (the URL as MessageBird may
/// have called it) at `now_ms`; `Ok` when it is.
pub fn check(token: &str, signing_key: &str, urls: &[String], body: &[u8], now_ms: i64) -> Result<(), String> {
    let claims = jwt::verify_hs256(token, signing_key.as_bytes(), now_ms)?;
    if claims["iss"].as_str() != Some("MessageBird") {
        return Err(format!("the JWT was issued by {} instead of MessageBird", claims["iss"]));
    }
    let url_hash = claims["url_hash"].as_str().ok_or("the JWT has no url_hash claim")?;
    if !urls.iter().any(|url| hashes_to(url.as_bytes(), url_hash)) {
        return Err(format!("the JWT's url_hash is not that of the URL called ({})", urls.join(" or ")));
    }
    match claims["payload_hash"].as_str() {
        Some(hash) if !hashes_to(body, hash) => Err("the JWT's payload_hash does not match the body".into()),
        // An unsigned body could have been added on the way.
        None if !body.is_empty() => Err("the body is not empty but the JWT has no payload_hash".into()),
        _ => Ok(()),
    }
}

fn hashes_to(data: &[u8], hex: &str) -> bool {
    constant_time_eq(sha256_hex(data).as_bytes(), hex.to_ascii_lowercase().as_bytes())
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    /// 2021-07-05T12:00:00+02:00, the reference vectors' time.
    const VECTORS_NOW_MS: i64 = 1_625_479_200_000;

    fn vectors() -> Vec<Value> {
        serde_json::from_str(include_str!("../tests/fixtures/signature_jwt_vectors.json")).expect("vectors")
    }

    /// The vectors' one signing key, which the `none` vector leaves out.
    const SECRET: &str = "36efdd1aace2e26cd490f0d951138253bef2f7c6d34d18981da781555cc4cebb";

    fn check_vector(v: &Value) -> Result<(), String> {
        let text = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
        assert!(v["secret"].is_null() || v["secret"] == SECRET);
        check(&text("token"), SECRET, &[text("url")], text("payload").as_bytes(), VECTORS_NOW_MS)
    }

    #[test]
    fn every_hs256_reference_vector_holds() {
        let all = vectors();
        let mut checked = 0;
        for v in &all {
            let name = v["name"].as_str().expect("a name");
            if name.starts_with("HS384") || name.starts_with("HS512") {
                continue;
            }
            let result = check_vector(v);
            assert_eq!(result.is_ok(), v["valid"] == true, "{name}: {result:?}");
            checked += 1;
        }
        assert_eq!(checked, 14);
    }

    #[test]
    fn each_refusal_says_why() {
        let why = |prefix: &str| {
            let all = vectors();
            let v = all.iter().find(|v| v["name"].as_str().is_some_and(|n| n.starts_with(prefix))).expect("a vector");
            check_vector(v).expect_err("refused")
        };
        assert!(why("Token received before").contains("not valid yet"));
        assert!(why("Token received after").contains("expired"));
        assert!(why("Token received on different URL").contains("url_hash"));
        assert!(why("Payload does not match").contains("payload_hash"));
        assert!(why("payload was removed").contains("payload_hash"));
        assert!(why("payload was added").contains("no payload_hash"));
        assert!(why("Different secret").contains("signature"));
        assert!(why("none alg").contains("HS256"));
        // MessageBird's libraries also take HS384 and HS512; the SDK's JWT check is HS256 only.
        assert!(why("HS384").contains("HS256"));
        assert!(why("HS512").contains("HS256"));
    }

    fn signed(claims: Value) -> String {
        jwt::sign_hs256(&claims, b"signing-key")
    }

    #[test]
    fn a_signed_webhook_holds_only_for_its_url_body_key_and_time() {
        let url = "https://sb.example.org/webhooks/7";
        let body = br#"{"type":"message.created"}"#;
        let token = signed(json!({
            "iss": "MessageBird", "nbf": 1_700_000_000, "exp": 1_700_000_060, "jti": "a",
            "url_hash": sha256_hex(url.as_bytes()), "payload_hash": sha256_hex(body),
        }));
        let now = 1_700_000_010_000;
        let ok = |token: &str, key: &str, urls: &[&str], body: &[u8], now: i64| {
            let urls: Vec<String> = urls.iter().map(|u| (*u).to_owned()).collect();
            check(token, key, &urls, body, now)
        };
        assert_eq!(ok(&token, "signing-key", &[url], body, now), Ok(()));
        assert_eq!(ok(&token, "signing-key", &["https://other.test/x", url], body, now), Ok(()), "any URL may match");
        assert!(ok(&token, "signing-key", &[url], br#"{"type":"message.updated"}"#, now).is_err(), "tampered body");
        assert!(ok(&token, "signing-key", &[&format!("{url}?x=1")], body, now).is_err(), "another URL");
        assert!(ok(&token, "another-key", &[url], body, now).is_err(), "wrong key");
        assert!(ok(&token, "signing-key", &[url], body, 1_700_000_060_000 + 301_000).is_err(), "expired");
        assert!(ok(&token, "", &[url], body, now).is_err(), "no key");
        assert!(ok("", "signing-key", &[url], body, now).is_err(), "missing");

        let no_url = signed(json!({ "iss": "MessageBird", "payload_hash": sha256_hex(body) }));
        assert_eq!(ok(&no_url, "signing-key", &[url], body, now), Err("the JWT has no url_hash claim".into()));
        let elsewhere = signed(json!({ "iss": "Other", "url_hash": sha256_hex(url.as_bytes()) }));
        assert!(ok(&elsewhere, "signing-key", &[url], b"", now).expect_err("refused").contains("issued by"));
        let upper = signed(json!({ "iss": "MessageBird", "url_hash": sha256_hex(url.as_bytes()).to_uppercase() }));
        assert_eq!(ok(&upper, "signing-key", &[url], b"", now), Ok(()), "hex in either case");
    }
}
