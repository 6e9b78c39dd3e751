//! The example channel tested offline with the plugin harness: its own built component in a real
//! wasmtime host, with recorded provider answers, in-memory storage and a fixed clock.

use serde_json::json;
use switchboard_plugin_host::testing::{DEFAULT_NOW_MS, Harness, Request};
use switchboard_plugin_host::{SendError, WebhookError};
use switchboard_plugin_sdk::event::{ContactProfile, InboundEvent, OutboundMessage};

fn harness() -> Harness {
    Harness::build(switchboard_plugin_host::plugin_dir!())
        .config(json!({"base_url": "https://provider.test"}))
        .secret("shared_secret", "s3cret")
        // The manifest declares `*`: the plugin gets what an admin grants, here the fake provider.
        .grant("https://provider.test")
}

fn hello() -> OutboundMessage {
    OutboundMessage { to: "user-7".into(), content: json!({"type": "text", "text": "hello"}), ..Default::default() }
}

#[test]
fn the_manifest_and_the_component_agree() {
    let h = harness();
    let info = h.describe_channel();
    let manifest = h.manifest().expect("plugin.toml");
    assert_eq!(
        (info.id.as_str(), info.version.as_str()),
        (manifest.plugin.id.as_str(), manifest.plugin.version.as_str())
    );
    assert!(info.capabilities.text && info.capabilities.media && !info.capabilities.templates);
}

#[test]
fn the_handshake_echoes_the_challenge() {
    let answer = harness().verify(Request::get("challenge=abc").into()).expect("accepted").expect("a handshake");
    assert_eq!((answer.status, answer.body), (200, b"abc".to_vec()));
    assert!(harness().verify(Request::get("").into()).expect("accepted").is_none(), "not a handshake");
}

#[test]
fn a_signed_webhook_becomes_a_message() {
    let body = json!({"from": "user-7", "id": "m-1", "text": "hi there"}).to_string();
    let (events, response) =
        harness().handle_webhook(Request::post(body).header("X-Example-Secret", "s3cret").into()).expect("accepted");
    assert_eq!(response.status, 200);
    assert_eq!(
        events,
        vec![InboundEvent::Message {
            contact: ContactProfile { external_id: "user-7".into(), ..Default::default() },
            provider_message_id: "m-1".into(),
            timestamp_ms: Some(DEFAULT_NOW_MS),
            content: json!({"type": "text", "text": "hi there"}),
        }]
    );
}

#[test]
fn a_webhook_without_the_secret_or_with_bad_json_is_refused() {
    let h = harness();
    let unsigned = h.handle_webhook(Request::post("{}").into());
    assert!(matches!(unsigned, Err(WebhookError::Unauthorized(_))), "{unsigned:?}");
    let garbled = h.handle_webhook(Request::post("{not json").header("x-example-secret", "s3cret").into());
    assert!(matches!(garbled, Err(WebhookError::BadRequest(_))), "{garbled:?}");
}

#[test]
fn sending_posts_to_the_provider_and_returns_its_id() {
    let h = harness();
    h.respond("POST", "https://provider.test/messages", 200, r#"{"id": "prov-9"}"#);
    assert_eq!(h.send(&hello()).expect("sent"), "prov-9");
    let sent = h.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].url, "https://provider.test/messages");
    assert_eq!(sent[0].json(), json!({"to": "user-7", "content": {"type": "text", "text": "hello"}}));
}

#[test]
fn provider_errors_are_classified() {
    let h = harness();
    for (status, check) in [
        (401, (|e: &SendError| matches!(e, SendError::BadCredentials(_))) as fn(&SendError) -> bool),
        (503, |e| matches!(e, SendError::Transient(_))),
        (429, |e| matches!(e, SendError::Transient(_))),
        (400, |e| matches!(e, SendError::Permanent(_))),
    ] {
        h.respond("POST", "https://provider.test/", status, "{}");
        let err = h.send(&hello()).expect_err("an error");
        assert!(check(&err), "{status}: {err:?}");
    }
}

#[test]
fn hosts_the_admin_did_not_grant_are_refused() {
    let h = Harness::build(switchboard_plugin_host::plugin_dir!())
        .config(json!({"base_url": "https://elsewhere.test"}))
        .secret("shared_secret", "s3cret")
        .grant("https://provider.test");
    let err = h.send(&hello()).expect_err("denied");
    assert!(matches!(&err, SendError::Transient(why) if why.contains("not granted")), "{err:?}");
    assert!(h.requests().is_empty(), "nothing was sent");
}

#[test]
fn optional_exports_fall_back_to_the_sdk_defaults() {
    // (`media_request` is the plugin's own: see `a_media_webhook_refers_to_its_file_by_url`.)
    let h = harness();
    assert!(h.connect("https://switchboard.test/webhooks/1").is_ok(), "nothing to register");
    assert!(h.disconnect().is_ok());
    assert!(h.list_templates().expect("no templates").as_array().is_some_and(Vec::is_empty));
}

#[test]
fn a_media_webhook_refers_to_its_file_by_url() {
    let h = harness();
    let body = json!({"from": "user-7", "id": "m-2", "media_url": "https://provider.test/files/cat.jpg"}).to_string();
    let (events, _) = h.handle_webhook(Request::post(body).header("x-example-secret", "s3cret").into()).expect("ok");
    let InboundEvent::Message { content, .. } = &events[0] else { panic!("{events:?}") };
    assert_eq!(content, &json!({"type": "media", "kind": "image", "media_ref": "https://provider.test/files/cat.jpg"}));
    let download = h.media_request("https://provider.test/files/cat.jpg").expect("a download");
    assert_eq!((download.method.as_str(), download.url.as_str()), ("GET", "https://provider.test/files/cat.jpg"));
}
