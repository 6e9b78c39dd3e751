//! Proving a Messages API webhook came from Vonage: the `Authorization: Bearer <JWT>` it carries, HS256-signed
//! with the account's signature secret, whose `payload_hash` claim is the SHA-256 of the body.

use switchboard_plugin_sdk::verify::{constant_time_eq, jwt, sha256_hex};

/// Why the request is refused, if it is: the token is missing, not signed with `secret`, out of its time, for a
/// body other than `body`, or for an account other than `api_key`.
pub fn check(
    authorization: Option<&str>,
    body: &[u8],
    secret: &str,
    api_key: Option<&str>,
    now_ms: i64,
) -> Result<(), String> {
    let token = authorization
        .and_then(|h| h.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|token| !token.is_empty())
        .ok_or("missing `Authorization: Bearer <JWT>`")?;
    let claims = jwt::verify_hs256(token, secret.as_bytes(), now_ms)?;
    // The signature covers the claims only; the hash is what ties the token to this body, so a body without
    // one could be any body.
    match claims["payload_hash"].as_str() {
        Some(hash) if !constant_time_eq(hash.trim().to_ascii_lowercase().as_bytes(), sha256_hex(body).as_bytes()) => {
            return Err("the JWT's payload_hash does not match the body".into());
        }
        None if !body.is_empty() => return Err("the JWT has no payload_hash for the body".into()),
        _ => {}
    }
    // One signature secret may sign for several accounts' keys; the channel's own key is the one it trusts.
    if let (Some(expected), Some(given)) = (api_key, claims["api_key"].as_str())
        && given != expected
    {
        return Err(format!("the JWT was issued for API key `{given}`, not the channel's"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    const SECRET: &str = "a-signature-secret-of-32-chars!!";
    const NOW_MS: i64 = 1_767_225_600_000;
    const BODY: &[u8] = br#"{"channel":"sms","message_uuid":"aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab","text":"Hi"}"#;

    /// Claims as Vonage's signed-webhooks page shows them, for `body` at NOW_MS.
    fn claims(body: &[u8]) -> Value {
        json!({
            "iat": NOW_MS / 1000, "jti": "c5ba8f24-1a14-4c10-bfdf-3fbe8ce511b5", "iss": "Vonage",
            "payload_hash": sha256_hex(body), "api_key": "a1b2c3d",
            "application_id": "aaaaaaaa-bbbb-cccc-dddd-0123456789ab"
        })
    }

    fn bearer(claims: &Value, secret: &str) -> String {
        format!("Bearer {}", jwt::sign_hs256(claims, secret.as_bytes()))
    }

    fn run(header: Option<&str>, body: &[u8]) -> Result<(), String> {
        check(header, body, SECRET, Some("a1b2c3d"), NOW_MS)
    }

    #[test]
    fn a_token_signed_for_the_body_passes() {
        assert_eq!(run(Some(&bearer(&claims(BODY), SECRET)), BODY), Ok(()));
        // The scheme's case and a hash in upper case are Vonage's to choose.
        let mut upper = claims(BODY);
        upper["payload_hash"] = sha256_hex(BODY).to_uppercase().into();
        let header = bearer(&upper, SECRET).replacen("Bearer", "bearer", 1);
        assert_eq!(run(Some(&header), BODY), Ok(()));
        // Without an api_key claim, or without one configured, there is nothing to compare.
        let mut keyless = claims(BODY);
        keyless.as_object_mut().expect("an object").remove("api_key");
        assert_eq!(run(Some(&bearer(&keyless, SECRET)), BODY), Ok(()));
        assert_eq!(check(Some(&bearer(&claims(BODY), SECRET)), BODY, SECRET, None, NOW_MS), Ok(()));
    }

    #[test]
    fn a_tampered_body_fails_on_its_hash() {
        let header = bearer(&claims(BODY), SECRET);
        let tampered = String::from_utf8_lossy(BODY).replace("Hi", "Ho");
        let why = run(Some(&header), tampered.as_bytes()).expect_err("refused");
        assert!(why.contains("payload_hash"), "{why}");
        let mut unhashed = claims(BODY);
        unhashed.as_object_mut().expect("an object").remove("payload_hash");
        let why = run(Some(&bearer(&unhashed, SECRET)), BODY).expect_err("refused");
        assert!(why.contains("no payload_hash"), "{why}");
        assert_eq!(run(Some(&bearer(&unhashed, SECRET)), b""), Ok(()), "an empty body has nothing to hash");
    }

    #[test]
    fn another_secret_time_or_account_fails() {
        let why = run(Some(&bearer(&claims(BODY), "another secret")), BODY).expect_err("refused");
        assert!(why.contains("signature"), "{why}");
        let mut expired = claims(BODY);
        expired["exp"] = (NOW_MS / 1000 - 3600).into();
        assert!(run(Some(&bearer(&expired, SECRET)), BODY).expect_err("refused").contains("expired"));
        let mut future = claims(BODY);
        future["iat"] = (NOW_MS / 1000 + 3600).into();
        assert!(run(Some(&bearer(&future, SECRET)), BODY).expect_err("refused").contains("not valid yet"));
        let mut other = claims(BODY);
        other["api_key"] = "zzz999".into();
        assert!(run(Some(&bearer(&other, SECRET)), BODY).expect_err("refused").contains("zzz999"));
        assert!(check(Some(&bearer(&claims(BODY), SECRET)), BODY, "", None, NOW_MS).is_err(), "no secret");
    }

    #[test]
    fn a_missing_or_malformed_header_fails() {
        for header in [None, Some(""), Some("Bearer "), Some("Basic dXNlcjpwYXNz")] {
            let why = run(header, BODY).expect_err("refused");
            assert!(why.contains("Authorization"), "{header:?}: {why}");
        }
        assert!(run(Some("Bearer not.a.jwt"), BODY).is_err());
    }
}
