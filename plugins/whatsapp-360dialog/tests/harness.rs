//! The 360dialog WhatsApp channel tested offline: its built component in a real host, fed the Cloud API's
//! recorded webhooks (which 360dialog relays unchanged), answering a stand-in API at `https://d360.test`.

use serde_json::{Value, json};
use switchboard_plugin_host::testing::{Harness, Request};
use switchboard_plugin_host::{SendError, WebhookError};
use switchboard_plugin_sdk::event::{DeliveryStatus, InboundEvent, OutboundMessage};

const API: &str = "https://d360.test";
const KEY: &str = "d360-key";

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", switchboard_plugin_host::plugin_dir!().display());
    std::fs::read_to_string(&path).expect("fixture")
}

fn harness() -> Harness {
    Harness::build(switchboard_plugin_host::plugin_dir!())
        .config(json!({ "api_base_url": API }))
        .secret("api_key", KEY)
        .grant(API)
}

/// Connects the channel and returns the token 360dialog was asked to send back.
fn connect(h: &Harness) -> String {
    h.respond("POST", &format!("{API}/v1/configs/webhook"), 200, r#"{"url":"https://sb.example/webhooks/3"}"#);
    h.connect("https://sb.example/webhooks/3").expect("connected");
    let call = h.requests().into_iter().find(|r| r.url.ends_with("/v1/configs/webhook")).expect("registered");
    assert_eq!(call.header("d360-api-key"), Some(KEY));
    let body = call.json();
    assert_eq!(body["url"], "https://sb.example/webhooks/3");
    body["headers"]["X-Switchboard-Token"].as_str().expect("a token header").to_owned()
}

#[test]
fn deliveries_carry_the_registered_token_or_are_refused() {
    let h = harness();
    let token = connect(&h);
    let text = fixture("inbound_text.json");
    let events =
        h.handle_webhook(Request::post(text.clone()).header("X-Switchboard-Token", &token).into()).expect("accepted").0;
    assert!(
        matches!(&events[..], [InboundEvent::Message { provider_message_id, content, .. }]
            if provider_message_id == "wamid.xyzxyz" && content == &json!({ "type": "text", "text": "Body Text" })),
        "{events:?}"
    );
    let status = fixture("status_delivered.json");
    let events =
        h.handle_webhook(Request::post(status).header("X-Switchboard-Token", &token).into()).expect("accepted").0;
    assert!(matches!(&events[..], [InboundEvent::Status { status: DeliveryStatus::Delivered, .. }]), "{events:?}");
    for refused in [
        h.handle_webhook(Request::post(text.clone()).into()),
        h.handle_webhook(Request::post(text.clone()).header("X-Switchboard-Token", "guess").into()),
    ] {
        assert!(matches!(refused, Err(WebhookError::Unauthorized(_))), "{refused:?}");
    }
    // Another key (a rotated one) derives another token.
    let rotated = Harness::build(switchboard_plugin_host::plugin_dir!()).secret("api_key", "new-key");
    let stale = rotated.handle_webhook(Request::post(text).header("X-Switchboard-Token", &token).into());
    assert!(matches!(stale, Err(WebhookError::Unauthorized(_))), "{stale:?}");
}

#[test]
fn messages_go_to_360dialog_in_the_cloud_api_shape() {
    let h = harness();
    h.respond(
        "POST",
        &format!("{API}/messages"),
        200,
        json!({ "messaging_product": "whatsapp", "contacts": [{ "input": "16315551181", "wa_id": "16315551181" }],
                "messages": [{ "id": "wamid.out-1" }] })
        .to_string(),
    );
    let hello = OutboundMessage {
        to: "16315551181".into(),
        content: json!({ "type": "text", "text": "Hello from 360dialog" }),
        ..Default::default()
    };
    assert_eq!(h.send(&hello).expect("sent"), "wamid.out-1");
    let sent = &h.requests()[0];
    assert_eq!((sent.method.as_str(), sent.url.as_str()), ("POST", format!("{API}/messages").as_str()));
    assert_eq!(sent.header("d360-api-key"), Some(KEY));
    assert_eq!(
        sent.json(),
        json!({ "messaging_product": "whatsapp", "recipient_type": "individual", "to": "16315551181",
                "type": "text", "text": { "body": "Hello from 360dialog" } })
    );
    // The Cloud API's errors, relayed by 360dialog, classified the same way.
    h.respond(
        "POST",
        &format!("{API}/messages"),
        400,
        json!({ "error": { "message": "Re-engagement message", "code": 131047, "type": "OAuthException" } })
            .to_string(),
    );
    assert!(matches!(h.send(&hello), Err(SendError::WindowClosed(_))));
    h.respond("POST", &format!("{API}/messages"), 401, r#"{"meta":{"success":false,"http_code":401}}"#);
    assert!(matches!(h.send(&hello), Err(SendError::BadCredentials(_))));
}

#[test]
fn templates_are_listed_page_by_page_and_media_fetched_through_360dialog() {
    let h = harness();
    let template = |name: &str| {
        json!({ "name": name, "language": "en_US", "category": "UTILITY", "status": "approved", "namespace": "ns",
                "components": [{ "type": "BODY", "text": "Hi {{1}}" }] })
    };
    h.respond(
        "GET",
        &format!("{API}/v1/configs/templates"),
        200,
        json!({ "count": 2, "limit": 100, "offset": 0, "total": 2, "waba_templates": [template("a"), template("b")] })
            .to_string(),
    );
    let listed = h.list_templates().expect("listed");
    let names: Vec<&Value> = listed.as_array().expect("a list").iter().map(|t| &t["name"]).collect();
    assert_eq!(names, vec![&json!("a"), &json!("b")]);
    assert_eq!(h.requests().len(), 1, "the total says there is no second page");

    h.respond(
        "GET",
        &format!("{API}/1037543291543636"),
        200,
        json!({ "url": "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1037543291543636&ext=1",
                "mime_type": "image/jpeg", "id": "1037543291543636" })
        .to_string(),
    );
    let download = h.media_request("1037543291543636").expect("a download");
    assert_eq!(download.url, format!("{API}/whatsapp_business/attachments/?mid=1037543291543636&ext=1"));
    assert!(download.headers.iter().any(|(k, v)| k == "d360-api-key" && v == KEY));
    assert!(matches!(h.media_request("../etc"), Err(SendError::Permanent(_))));
}
