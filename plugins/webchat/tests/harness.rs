//! The website chat plugin tested offline with the plugin harness: its built component in a real host.

use serde_json::json;
use switchboard_plugin_host::testing::{Harness, Request};
use switchboard_plugin_host::{SendError, WebhookError};
use switchboard_plugin_sdk::event::OutboundMessage;

fn harness() -> Harness {
    Harness::build(switchboard_plugin_host::plugin_dir!())
}

fn message(content: serde_json::Value, reference: &str) -> OutboundMessage {
    OutboundMessage { to: "visitor-1".into(), content, reference: reference.into(), ..Default::default() }
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
    assert_eq!(info.window.free_form_hours, None, "a visitor can be answered at any time");
    assert!(manifest.capabilities.outbound_hosts.is_empty(), "the chat reaches no other host");
}

#[test]
fn replies_are_accepted_under_the_servers_reference() {
    let h = harness();
    let text = message(json!({"type": "text", "text": "Hello Vera"}), "m42");
    assert_eq!(h.send(&text).expect("sent"), "webchat.m42");
    let media = json!({"type": "media", "kind": "image", "url": "https://sb.test/media/x", "caption": null});
    assert_eq!(h.send(&message(media, "m43")).expect("sent"), "webchat.m43");
    assert!(h.requests().is_empty(), "nothing leaves the server");
}

#[test]
fn what_the_chat_cannot_show_or_a_missing_reference_fails_for_good() {
    let h = harness();
    let template = message(json!({"type": "template", "name": "x"}), "m1");
    assert!(matches!(h.send(&template), Err(SendError::Permanent(why)) if why.contains("template")));
    let unreferenced = message(json!({"type": "text", "text": "hi"}), "");
    assert!(matches!(h.send(&unreferenced), Err(SendError::Permanent(_))));
}

#[test]
fn nothing_is_accepted_through_the_provider_webhook() {
    let refused = harness().handle_webhook(Request::post(r#"{"text":"forged"}"#).into());
    assert!(matches!(refused, Err(WebhookError::Unauthorized(_))), "{refused:?}");
}
