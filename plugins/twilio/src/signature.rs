//! `X-Twilio-Signature`: base64 HMAC-SHA1, keyed with the auth token, of the URL Twilio called followed by
//! the sorted form parameters (or, for a JSON body, of the URL alone, which then carries the body's
//! `bodySHA256`). Checked as Twilio's own libraries check it, so every vector they publish holds.

use switchboard_plugin_sdk::form;
use switchboard_plugin_sdk::verify::{Algorithm, Encoding, constant_time_eq, sha256_hex, signature_matches};

/// Whether `signature` is Twilio's for a POST of `body` to `url`.
pub fn valid(auth_token: &str, url: &str, body: &[u8], signature: &str) -> bool {
    let query = url.split_once('?').map(|(_, q)| q.split('#').next().unwrap_or(q)).unwrap_or_default();
    let data = match form::value(query, "bodySHA256") {
        // The URL carries the body's hash and is signed alone.
        Some(hash) => {
            if !constant_time_eq(sha256_hex(body).as_bytes(), hash.to_ascii_lowercase().as_bytes()) {
                return false;
            }
            String::new()
        }
        None => sorted_params(&String::from_utf8_lossy(body)),
    };
    // Twilio's own signing is inconsistent about default ports, so its libraries accept either form.
    port_variants(url).iter().any(|u| {
        signature_matches(
            Algorithm::Sha1,
            Encoding::Base64,
            auth_token.as_bytes(),
            (u.clone() + &data).as_bytes(),
            signature,
        )
    })
}

/// `key1value1key2value2…` sorted by key then value, each pair once (as twilio-python does for
/// repeated parameters).
fn sorted_params(body: &str) -> String {
    let mut pairs = form::pairs(body);
    pairs.sort();
    pairs.dedup();
    pairs.into_iter().map(|(k, v)| k + &v).collect()
}

/// The URL without any port and with its scheme's default port when it has none.
fn port_variants(url: &str) -> [String; 2] {
    let Some((scheme, rest)) = url.split_once("://") else { return [url.to_owned(), url.to_owned()] };
    let (authority, tail) = rest.split_at(rest.find(['/', '?', '#']).unwrap_or(rest.len()));
    let (userinfo, host_port) = match authority.rsplit_once('@') {
        Some((user, host)) => (&authority[..=user.len()], host),
        None => ("", authority),
    };
    let (host, port) = match host_port.rsplit_once(':') {
        Some((host, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => (host, Some(port)),
        _ => (host_port, None),
    };
    let default = if scheme.eq_ignore_ascii_case("https") { "443" } else { "80" };
    [
        format!("{scheme}://{userinfo}{host}{tail}"),
        format!("{scheme}://{userinfo}{host}:{}{tail}", port.unwrap_or(default)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn vectors() -> Value {
        serde_json::from_str(include_str!("../tests/fixtures/signature_vectors.json")).expect("vectors")
    }

    /// A form body of `params` (an object, or a list of `[key, value]` pairs).
    fn body(params: &Value) -> String {
        let pairs: Vec<(String, String)> = match params {
            Value::Object(map) => {
                map.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned())).collect()
            }
            Value::Array(list) => list
                .iter()
                .map(|p| (p[0].as_str().unwrap_or_default().to_owned(), p[1].as_str().unwrap_or_default().to_owned()))
                .collect(),
            _ => Vec::new(),
        };
        form::encode_pairs(&pairs)
    }

    fn text<'a>(v: &'a Value, key: &str) -> &'a str {
        v[key].as_str().unwrap_or_else(|| panic!("no {key}"))
    }

    #[test]
    fn the_official_vector_and_its_port_variants_hold() {
        let all = vectors();
        let v = &all["official_vector"];
        let (token, url, expected) = (text(v, "auth_token"), text(v, "url"), text(v, "expected_signature"));
        let form = body(&v["params"]);
        assert!(valid(token, url, form.as_bytes(), expected));
        assert!(!valid(token, url, form.as_bytes(), "RSOYDt4T1cUTdK1PDd93/VVr8B9="));
        assert!(!valid("12346", url, form.as_bytes(), expected));
        assert!(!valid(token, url, b"Digits=1234", expected));
        assert!(!valid(token, url, form.as_bytes(), ""));

        let ports = &all["port_variants"];
        // Signed with :443 while the URL has none, and the other way round.
        assert!(valid(token, url, form.as_bytes(), text(ports, "expected_signature_443")));
        assert!(valid(token, text(ports, "url_with_port_443"), form.as_bytes(), expected));
        assert!(valid(token, text(ports, "url_with_port_443"), form.as_bytes(), text(ports, "expected_signature_443")));
        // Any port is also tried away, and plain http gets :80.
        let http = url.replace("https", "http");
        let http_1234 = http.replace(".com", ".com:1234");
        assert!(valid(token, &http_1234, form.as_bytes(), text(ports, "http_url_with_port_1234_expected")));
        assert!(valid(token, &url.replace(".com", ".com:1234"), form.as_bytes(), expected));
        assert!(valid(token, &http, form.as_bytes(), text(ports, "http_url_with_port_80_expected")));
        assert!(!valid(token, &http, form.as_bytes(), expected), "the scheme is signed");
    }

    #[test]
    fn a_json_body_is_signed_through_its_hash_in_the_url() {
        let all = vectors();
        let v = &all["json_body_vector"];
        let token = text(&all["official_vector"], "auth_token");
        let (json, url, expected) = (text(v, "body"), text(v, "url"), text(v, "expected_signature"));
        assert_eq!(sha256_hex(json.as_bytes()), text(v, "bodySHA256"));
        assert!(valid(token, url, json.as_bytes(), expected));
        assert!(!valid(token, url, br#"{"property": "other", "boolean": true}"#, expected), "the hash must match");
        assert!(!valid(token, &url.replace("&bodySHA256=0a", "&bodySHA256=1a"), json.as_bytes(), expected));
    }

    #[test]
    fn repeated_parameters_are_sorted_and_counted_once() {
        let all = vectors();
        let v = &all["duplicate_params_vector"];
        let token = text(&all["official_vector"], "auth_token");
        let form = body(&v["params_multi"]);
        assert!(valid(token, text(v, "url"), form.as_bytes(), text(v, "expected_signature")));
        assert_eq!(sorted_params(&form), "Digits1234Digits5678SidCA123SidAccountAC123");
    }

    #[test]
    fn an_empty_body_signs_the_url_alone() {
        let all = vectors();
        let v = &all["empty_body_vector"];
        let (token, url) = (text(v, "auth_token"), text(v, "url"));
        assert!(valid(token, url, b"", text(v, "expected_signature")));
        assert!(!valid(token, url, b"", text(v, "invalid_example")));
    }

    #[test]
    fn the_inbound_sms_fixture_is_signed_over_its_exact_bytes() {
        let all = vectors();
        let v = &all["computed_vector_inbound_sms"];
        let form = include_bytes!("../tests/fixtures/inbound_sms.form");
        assert!(valid(text(v, "auth_token"), text(v, "url"), form, text(v, "expected_signature")));
        assert!(!valid(text(v, "auth_token"), "https://example.com/twilio/other", form, text(v, "expected_signature")));
    }

    #[test]
    fn ports_are_found_past_user_info_and_in_ipv6_hosts() {
        assert_eq!(
            port_variants("https://u:p@h.test:8443/a?b=c:1"),
            ["https://u:p@h.test/a?b=c:1".to_owned(), "https://u:p@h.test:8443/a?b=c:1".to_owned()]
        );
        assert_eq!(port_variants("http://[::1]/x"), ["http://[::1]/x".to_owned(), "http://[::1]:80/x".to_owned()]);
        assert_eq!(port_variants("not a url"), ["not a url".to_owned(), "not a url".to_owned()]);
    }
}
