//! The add Google Sheets row workflow step: signs in as the configured service account (an RS256 JWT
//! exchanged at the account's `token_uri` for an access token, kept in the plugin's storage until it
//! nearly expires) and appends one row with the Sheets API's `values:append`. Sheets refusing the row
//! (not shared with the account, no such sheet) takes the `failure` branch with Google's reason.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::sha2::Sha256;
use rsa::signature::{SignatureEncoding, Signer};
use serde_json::{Value, json};
use switchboard_plugin_sdk::host::{self, OutgoingRequest};
use switchboard_plugin_sdk::step::*;

const SCOPE: &str = "https://www.googleapis.com/auth/spreadsheets";
const MAX_VALUES: usize = 50;
const TOKEN_KEY: &str = "access_token";

struct Sheets;

impl Step for Sheets {
    fn describe() -> StepInfo {
        StepInfo {
            id: "google-sheets".into(),
            name: "Add Google Sheets row".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            inputs_schema: json!({
                "type": "object",
                "required": ["spreadsheet_id", "values"],
                "properties": {
                    "spreadsheet_id": { "type": "string", "description": "the id in the sheet's URL: docs.google.com/spreadsheets/d/ID/edit" },
                    "sheet": { "type": "string", "default": "Sheet1", "description": "the sheet (tab) name, or a range such as Sheet1!A:D" },
                    "values": { "type": "array", "maxItems": MAX_VALUES, "items": { "type": "string" },
                                "description": "the row's cells, left to right; variables allowed" }
                }
            })
            .to_string(),
            outputs: vec!["updated_range".into(), "error".into()],
            branches: vec!["failure".into()],
        }
    }

    fn run(_context: Value, inputs: Value) -> Result<StepResult, String> {
        let spreadsheet = inputs["spreadsheet_id"].as_str().map(str::trim).unwrap_or_default();
        if spreadsheet.is_empty() || !spreadsheet.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b)) {
            return Err("spreadsheet_id: the id from the sheet's URL (letters, digits, - and _)".into());
        }
        let sheet = inputs["sheet"].as_str().map(str::trim).filter(|s| !s.is_empty()).unwrap_or("Sheet1");
        let values: Vec<Value> = match &inputs["values"] {
            Value::Array(list) if !list.is_empty() && list.len() <= MAX_VALUES => list
                .iter()
                .map(|v| match v {
                    Value::String(_) | Value::Number(_) | Value::Bool(_) => Ok(v.clone()),
                    Value::Null => Ok(json!("")),
                    _ => Err("values: each cell is a text, a number or true/false".to_owned()),
                })
                .collect::<Result<_, _>>()?,
            _ => return Err(format!("values: a list of 1 to {MAX_VALUES} cells")),
        };
        let token = match access_token() {
            Ok(token) => token,
            Err(e) => return Ok(failure(format!("cannot sign in to Google: {e}"))),
        };
        let base: String = host::config("api_base_url").unwrap_or_else(|| "https://sheets.googleapis.com".into());
        let url = format!(
            "{}/v4/spreadsheets/{spreadsheet}/values/{}:append?valueInputOption=USER_ENTERED&insertDataOption=INSERT_ROWS",
            base.trim_end_matches('/'),
            encode_path(sheet)
        );
        let bearer = format!("Bearer {token}");
        let answer = match host::post_json(&url, &json!({ "values": [values] }), &[("authorization", &bearer)]) {
            Ok(answer) => answer,
            Err(e) => return Ok(failure(format!("Google Sheets cannot be reached: {e:?}"))),
        };
        let body: Value = serde_json::from_slice(&answer.body).unwrap_or_default();
        if !(200..300).contains(&answer.status) {
            if answer.status == 401 {
                // A token revoked early: the next run signs in again.
                let _ = host::store::delete(TOKEN_KEY);
            }
            let why = body["error"]["message"].as_str().unwrap_or("no reason given");
            return Ok(failure(format!("Google Sheets answered {}: {why}", answer.status)));
        }
        Ok(outputs(json!({ "updated_range": body["updates"]["updatedRange"] })))
    }
}

fn failure(error: String) -> StepResult {
    StepResult { outputs: json!({ "error": error }).to_string(), branch: "failure".into() }
}

/// A valid access token: the stored one while it has a minute left, else a new one.
fn access_token() -> Result<String, String> {
    let now = host::now_ms() / 1000;
    if let Ok(Some(stored)) = host::store::get(TOKEN_KEY)
        && let Ok(stored) = serde_json::from_slice::<Value>(&stored)
        && stored["expires_at"].as_i64().is_some_and(|at| at > now + 60)
        && let Some(token) = stored["token"].as_str()
    {
        return Ok(token.to_owned());
    }
    let account: Value = host::secret("service_account")
        .ok_or("the secret service_account is not set")
        .and_then(|text| serde_json::from_str(&text).map_err(|_| "the secret service_account is not JSON"))?;
    let email = account["client_email"].as_str().ok_or("the service account has no client_email")?;
    let key = account["private_key"].as_str().ok_or("the service account has no private_key")?;
    let token_uri = account["token_uri"].as_str().unwrap_or("https://oauth2.googleapis.com/token");
    let assertion = jwt(email, key, token_uri, now)?;
    let form = format!("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={assertion}");
    let answer = host::fetch(&OutgoingRequest {
        method: "POST".into(),
        url: token_uri.into(),
        headers: vec![("content-type".into(), "application/x-www-form-urlencoded".into())],
        body: form.into_bytes(),
        timeout_ms: None,
    })
    .map_err(|e| format!("{e:?}"))?;
    let body: Value = serde_json::from_slice(&answer.body).unwrap_or_default();
    let Some(token) = body["access_token"].as_str().filter(|_| answer.status == 200) else {
        let why = body["error_description"].as_str().or(body["error"].as_str()).unwrap_or("no reason given");
        return Err(format!("the token endpoint answered {}: {why}", answer.status));
    };
    let expires_at = now + body["expires_in"].as_i64().unwrap_or(3600);
    let _ = host::store::set(TOKEN_KEY, json!({ "token": token, "expires_at": expires_at }).to_string().as_bytes());
    Ok(token.to_owned())
}

/// The signed assertion of Google's service-account flow (RFC 7523), valid for an hour.
fn jwt(email: &str, pem: &str, audience: &str, now: i64) -> Result<String, String> {
    let key =
        rsa::RsaPrivateKey::from_pkcs8_pem(pem).map_err(|e| format!("the private_key is not a PKCS#8 RSA key: {e}"))?;
    let header = URL_SAFE_NO_PAD.encode(json!({ "alg": "RS256", "typ": "JWT" }).to_string());
    let claims = URL_SAFE_NO_PAD
        .encode(json!({ "iss": email, "scope": SCOPE, "aud": audience, "iat": now, "exp": now + 3600 }).to_string());
    let signed = format!("{header}.{claims}");
    let signature = SigningKey::<Sha256>::new(key).sign(signed.as_bytes()).to_bytes();
    Ok(format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature)))
}

/// Percent-encodes a range for the URL path (sheet names may hold spaces and other signs).
fn encode_path(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'!' | b':' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

switchboard_plugin_sdk::register_step!(Sheets);

#[cfg(test)]
mod tests {
    use super::*;

    // Signing in and appending are tested through the built component: tests/harness.rs.
    #[test]
    fn ranges_are_encoded_for_the_path() {
        assert_eq!(encode_path("Sheet1!A:D"), "Sheet1!A:D");
        assert_eq!(encode_path("Leads 2026"), "Leads%202026");
    }
}
