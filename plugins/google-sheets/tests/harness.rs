//! The Google Sheets step tested offline: its built component in a real host, signing in as a service
//! account at a recorded token endpoint (the assertion checked with the key's public half) and appending
//! rows to a recorded Sheets API.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::pkcs8::DecodePrivateKey;
use rsa::sha2::Sha256;
use rsa::signature::Verifier;
use serde_json::{Value, json};
use switchboard_plugin_host::testing::{DEFAULT_NOW_MS, Harness};

const TOKEN_URI: &str = "https://oauth2.test/token";
const SHEETS: &str = "https://sheets.test";

/// A throwaway RSA key made for this test (`openssl genpkey -algorithm RSA`), never used anywhere else.
fn key_pem() -> String {
    std::fs::read_to_string(switchboard_plugin_host::plugin_dir!().join("tests/test_key.pem")).expect("test key")
}

fn harness() -> Harness {
    let account = json!({
        "type": "service_account",
        "client_email": "rows@acme-project.iam.gserviceaccount.com",
        "private_key": key_pem(),
        "token_uri": TOKEN_URI,
    });
    let h = Harness::build(switchboard_plugin_host::plugin_dir!())
        .config(json!({ "api_base_url": SHEETS }))
        .secret("service_account", &account.to_string())
        .grant("https://oauth2.test")
        .grant(SHEETS);
    h.respond("POST", TOKEN_URI, 200, json!({ "access_token": "ya29.test", "expires_in": 3600 }).to_string());
    h.respond(
        "POST",
        &format!("{SHEETS}/v4/spreadsheets/sheet-1/values/"),
        200,
        json!({ "updates": { "updatedRange": "'Leads 2026'!A2:C2", "updatedRows": 1 } }).to_string(),
    );
    h
}

fn row() -> Value {
    json!({ "spreadsheet_id": "sheet-1", "sheet": "Leads 2026", "values": ["Ana", "+971501234567", 3] })
}

#[test]
fn describes_its_inputs_and_branches() {
    let info = harness().describe_step();
    assert_eq!(info.id, "google-sheets");
    assert_eq!(info.branches, ["failure"]);
    let schema: Value = serde_json::from_str(&info.inputs_schema).expect("a JSON schema");
    assert_eq!(schema["required"], json!(["spreadsheet_id", "values"]));
}

#[test]
fn signs_in_as_the_service_account_and_appends_the_row() {
    let h = harness();
    let result = h.run_step(json!({}), row()).expect("ran");
    assert_eq!(result.branch, "default");
    let outputs: Value = serde_json::from_str(&result.outputs).expect("outputs");
    assert_eq!(outputs["updated_range"], "'Leads 2026'!A2:C2");

    let seen = h.requests();
    assert_eq!(seen.len(), 2);
    let token = &seen[0];
    assert_eq!((token.method.as_str(), token.url.as_str()), ("POST", TOKEN_URI));
    let form = String::from_utf8(token.body.clone()).expect("a form");
    let assertion = form
        .strip_prefix("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=")
        .expect("the JWT bearer grant");
    // The assertion is an RS256 JWT for the account, signed with its key.
    let parts: Vec<&str> = assertion.split('.').collect();
    assert_eq!(parts.len(), 3);
    let decode =
        |p: &str| -> Value { serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).expect("base64url")).expect("JSON") };
    assert_eq!(decode(parts[0]), json!({ "alg": "RS256", "typ": "JWT" }));
    let claims = decode(parts[1]);
    let now = DEFAULT_NOW_MS / 1000;
    assert_eq!(
        claims,
        json!({
            "iss": "rows@acme-project.iam.gserviceaccount.com",
            "scope": "https://www.googleapis.com/auth/spreadsheets",
            "aud": TOKEN_URI,
            "iat": now,
            "exp": now + 3600,
        })
    );
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(&key_pem()).expect("key");
    let signature = Signature::try_from(URL_SAFE_NO_PAD.decode(parts[2]).expect("base64url").as_slice()).expect("sig");
    VerifyingKey::<Sha256>::new(key.to_public_key())
        .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature)
        .expect("signed with the account's key");

    let append = &seen[1];
    assert_eq!(
        append.url,
        format!(
            "{SHEETS}/v4/spreadsheets/sheet-1/values/Leads%202026:append?valueInputOption=USER_ENTERED&insertDataOption=INSERT_ROWS"
        )
    );
    assert_eq!(append.header("authorization"), Some("Bearer ya29.test"));
    assert_eq!(append.json(), json!({ "values": [["Ana", "+971501234567", 3]] }));

    // The token is kept: the next row needs no new sign-in.
    h.run_step(json!({}), row()).expect("ran");
    assert_eq!(h.requests().len(), 3);
    assert!(h.requests()[2].url.contains(":append"));
}

#[test]
fn a_refusal_takes_the_failure_branch_with_googles_reason() {
    let h = harness();
    h.respond(
        "POST",
        &format!("{SHEETS}/v4/spreadsheets/sheet-1/values/"),
        403,
        json!({ "error": { "code": 403, "message": "The caller does not have permission" } }).to_string(),
    );
    let result = h.run_step(json!({}), row()).expect("ran");
    assert_eq!(result.branch, "failure");
    let outputs: Value = serde_json::from_str(&result.outputs).expect("outputs");
    assert_eq!(outputs["error"], "Google Sheets answered 403: The caller does not have permission");

    let bad_token = harness();
    bad_token.respond(
        "POST",
        TOKEN_URI,
        400,
        json!({ "error": "invalid_grant", "error_description": "Invalid JWT Signature." }).to_string(),
    );
    let result = bad_token.run_step(json!({}), row()).expect("ran");
    assert_eq!(result.branch, "failure");
    assert!(result.outputs.contains("Invalid JWT Signature."), "{}", result.outputs);
}

#[test]
fn a_misconfigured_step_is_an_error_naming_the_input() {
    let h = harness();
    let no_values = h.run_step(json!({}), json!({ "spreadsheet_id": "sheet-1", "values": [] })).expect_err("refused");
    assert!(no_values.starts_with("values:"), "{no_values}");
    let bad_id = h.run_step(json!({}), json!({ "spreadsheet_id": "../x", "values": ["a"] })).expect_err("refused");
    assert!(bad_id.starts_with("spreadsheet_id:"), "{bad_id}");
    let nested = h.run_step(json!({}), json!({ "spreadsheet_id": "s", "values": [{ "a": 1 }] })).expect_err("refused");
    assert!(nested.starts_with("values:"), "{nested}");
    assert!(h.requests().is_empty(), "nothing was sent");
}
