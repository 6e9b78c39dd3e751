//! Helpers for tests of channels against a fake provider: files of the repository (the plugins' fixtures),
//! a server whose plugin is granted the fake provider, raw webhook deliveries, and Meta's signature.

use reqwest::StatusCode;

use crate::{Backend, FakeProvider, TestServer};

/// A file of the repository, e.g. a plugin's fixture.
pub fn fixture(path: &str) -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("repo root");
    std::fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A server whose plugin `plugin_id` is granted the fake provider (and only it).
pub async fn server(backend: Backend, plugin_id: &str, provider: &FakeProvider) -> TestServer {
    server_with(backend, plugin_id, provider, |_| {}).await
}

/// Like [`server`], with more configuration changed by `adjust`.
pub async fn server_with(
    backend: Backend,
    plugin_id: &str,
    provider: &FakeProvider,
    adjust: impl FnOnce(&mut switchboard::config::Config),
) -> TestServer {
    let (id, base) = (plugin_id.to_owned(), provider.base());
    TestServer::start_with(backend, move |c| {
        c.plugins.allow_private_addresses = vec!["127.0.0.1".parse().expect("ip")];
        let settings = format!("outbound_hosts = [\"{base}\"]");
        c.plugins.settings.insert(id, toml::from_str(&settings).expect("settings"));
        adjust(c);
    })
    .await
}

/// Posts a raw delivery to a channel's webhook.
pub async fn post_webhook(s: &TestServer, channel: i64, headers: &[(&str, &str)], body: &str) -> (StatusCode, String) {
    let mut req = s.http.post(format!("{}/webhooks/{channel}", s.base)).body(body.to_owned());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.expect("webhook");
    (resp.status(), resp.text().await.expect("body"))
}

/// `X-Hub-Signature-256` of a body, as Meta computes it with the app secret.
pub fn meta_signature(secret: &str, body: &str) -> String {
    use hmac::Mac;
    let mut mac = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(body.as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// `X-Twilio-Signature` of a form delivery, as Twilio computes it with the auth token: base64 HMAC-SHA1 of the
/// URL followed by every parameter's name and value, sorted by name.
pub fn twilio_signature(auth_token: &str, url: &str, form: &str) -> String {
    use switchboard_plugin_sdk::verify::{Algorithm, base64_encode, hmac};
    let mut pairs = switchboard_plugin_sdk::form::pairs(form);
    pairs.sort();
    let signed: String = pairs.iter().fold(url.to_owned(), |acc, (k, v)| acc + k + v);
    base64_encode(&hmac(Algorithm::Sha1, auth_token.as_bytes(), signed.as_bytes()))
}
