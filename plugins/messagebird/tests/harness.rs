//! The MessageBird channel tested offline: its built component in a real host, fed MessageBird's reference
//! signature vectors and webhooks signed as MessageBird signs them, answering a stand-in Conversations API at
//! `https://messagebird.test`.

use serde_json::{Value, json};
use switchboard_plugin_host::testing::{DEFAULT_NOW_MS, Harness, Request};
use switchboard_plugin_host::{HttpRequest, HttpResponse, SendError, WebhookError};
use switchboard_plugin_sdk::event::{ContactProfile, DeliveryStatus, InboundEvent, OutboundMessage};
use switchboard_plugin_sdk::verify::{jwt, sha256_hex};

const API: &str = "https://messagebird.test";
const SEND: &str = "https://messagebird.test/v1/send";
const ACCESS_KEY: &str = "test_gshuPaZoeEG6ovbc8M79w0QyM";
const SIGNING_KEY: &str = "PlLrKaqvZNRR5zAjm42ZT6q1SQxgbbGd";
/// The channel of the recorded WhatsApp webhooks.
const CHANNEL: &str = "11a976e320d04baaa01382783727e8c5";
/// The URL `connect` is given, which the webhooks below are signed for.
const WEBHOOK: &str = "https://sb.example.org/webhooks/7";
/// 2021-07-05T12:00:00+02:00, when MessageBird's reference vectors were made.
const VECTORS_NOW_MS: i64 = 1_625_479_200_000;

fn fixture_text(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", switchboard_plugin_host::plugin_dir!().display());
    std::fs::read_to_string(&path).expect("fixture")
}

fn fixture(name: &str) -> Value {
    serde_json::from_str(&fixture_text(name)).expect("fixture JSON")
}

fn harness_with(config: Value, signing_key: &str) -> Harness {
    Harness::build(switchboard_plugin_host::plugin_dir!())
        .config(config)
        .secret("access_key", ACCESS_KEY)
        .secret("signing_key", signing_key)
        .grant(API)
}

fn whatsapp(channel: &str) -> Harness {
    harness_with(
        json!({ "channel_id": channel, "platform": "whatsapp", "whatsapp_namespace": "ns", "api_base_url": API }),
        SIGNING_KEY,
    )
}

/// A harness that was given WEBHOOK by `connect`, as the server does when the channel is created.
fn connected(channel: &str) -> Harness {
    let h = whatsapp(channel);
    h.connect(WEBHOOK).expect("connected");
    h
}

/// The JWT MessageBird puts on a delivery of `body` to `url` at the harness's time.
fn token_for(url: &str, body: &[u8], key: &str) -> String {
    let now = DEFAULT_NOW_MS / 1000;
    let mut claims = json!({
        "iss": "MessageBird", "nbf": now, "exp": now + 60, "jti": "59a244dc-e9ad-4e23-9778-371faa238f72",
        "url_hash": sha256_hex(url.as_bytes()),
    });
    if !body.is_empty() {
        claims["payload_hash"] = sha256_hex(body).into();
    }
    jwt::sign_hs256(&claims, key.as_bytes())
}

/// A delivery of `body` to WEBHOOK (as the harness's requests reach no host the URL could be rebuilt from).
fn signed(body: &str) -> HttpRequest {
    Request::post(body.to_owned())
        .header("MessageBird-Signature-JWT", &token_for(WEBHOOK, body.as_bytes(), SIGNING_KEY))
        .into()
}

fn deliver(h: &Harness, body: &str) -> Vec<InboundEvent> {
    let (events, answer) = h.handle_webhook(signed(body)).expect("accepted");
    assert_eq!((answer.status, answer.body.len()), (200, 0));
    events
}

/// A request to `url` (scheme, host, path and query as a proxy passes them on) carrying `token`.
fn request_to(url: &str, body: &str, token: &str) -> HttpRequest {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let (authority, path_query) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let (path, query) = path_query.split_once('?').unwrap_or((path_query, ""));
    let mut request: HttpRequest = Request::post(body.to_owned())
        .header("x-forwarded-proto", scheme)
        .header("host", authority)
        .header("MessageBird-Signature-JWT", token)
        .query(query)
        .into();
    request.path = path.to_owned();
    request
}

fn accepted_signature(result: Result<(Vec<InboundEvent>, HttpResponse), WebhookError>) {
    // Past the signature, the vectors' bodies ("Hello, World!", nothing) are no Conversations webhook.
    assert!(matches!(result, Err(WebhookError::BadRequest(_))), "{result:?}");
}

fn refused(result: Result<(Vec<InboundEvent>, HttpResponse), WebhookError>) {
    assert!(matches!(result, Err(WebhookError::Unauthorized(_))), "{result:?}");
}

#[test]
fn it_describes_itself_as_its_manifest_does() {
    let h = whatsapp(CHANNEL);
    let info = h.describe_channel();
    let manifest = h.manifest().expect("plugin.toml");
    assert_eq!(
        (info.id.as_str(), info.version.as_str()),
        (manifest.plugin.id.as_str(), manifest.plugin.version.as_str())
    );
    assert_eq!(info.name, "MessageBird / Bird (SMS and WhatsApp)");
    assert!(info.capabilities.text && info.capabilities.media && info.capabilities.templates);
    assert!(info.capabilities.locations && !info.capabilities.interactive);
    assert_eq!(info.window.free_form_hours, None, "MessageBird's error 470 closes a WhatsApp window");
}

#[test]
fn the_reference_vectors_hold_on_the_url_the_request_reached() {
    let vectors = fixture("signature_jwt_vectors.json");
    let secret = vectors[0]["secret"].as_str().expect("the vectors' key");
    let h = whatsapp(CHANNEL).secret("signing_key", secret).now_ms(VECTORS_NOW_MS);
    for v in vectors.as_array().expect("a list") {
        let name = v["name"].as_str().expect("a name");
        let text = |key: &str| v[key].as_str().unwrap_or_default();
        let result = h.handle_webhook(request_to(text("url"), text("payload"), text("token")));
        // MessageBird's libraries also take HS384 and HS512; this plugin checks HS256, which MessageBird signs.
        if v["valid"] == true && !name.starts_with("HS384") && !name.starts_with("HS512") {
            accepted_signature(result);
        } else {
            refused(result);
        }
    }
    refused(h.handle_webhook(Request::post("").into()));
}

#[test]
fn connect_keeps_the_url_and_a_signed_message_becomes_a_message() {
    let audio = fixture_text("webhook_audio_received.json");
    let h = whatsapp(CHANNEL);
    // Without the URL MessageBird was given (nor proxy headers naming it), nothing can be checked.
    refused(h.handle_webhook(signed(&audio)));
    h.connect(WEBHOOK).expect("connected");
    assert_eq!(h.kv_get("webhook_url").as_deref(), Some(WEBHOOK.as_bytes()));
    assert!(h.requests().is_empty(), "the webhook is created at MessageBird by hand");

    assert_eq!(
        deliver(&h, &audio),
        vec![InboundEvent::Message {
            contact: ContactProfile {
                external_id: "393383342437".into(),
                phone: Some("+393383342437".into()),
                ..Default::default()
            },
            provider_message_id: "c4a5cb6c9acc4eca9dbee9f619f9c1d7".into(),
            timestamp_ms: None,
            content: json!({ "type": "media", "kind": "audio",
                             "media_ref": "https://media.messagebird.com/v1/media/52296e61-9e62-479b-9ce0-9cadebe40598" }),
        }]
    );
    let reply = fixture_text("webhook_interactive_reply.json");
    assert!(matches!(
        &deliver(&h, &reply)[..],
        [InboundEvent::Message { content, .. }] if *content == json!({ "type": "reply", "text": "Yes", "payload": "confirm_yes" })
    ));

    let token = token_for(WEBHOOK, audio.as_bytes(), SIGNING_KEY);
    let with = |body: &str, token: &str| Request::post(body.to_owned()).header("MessageBird-Signature-JWT", token);
    refused(h.handle_webhook(with(&audio.replace("received", "sent"), &token).into()));
    refused(h.handle_webhook(Request::post(audio.clone()).into()));
    // The query MessageBird called is part of the URL it signed.
    refused(h.handle_webhook(with(&audio, &token).query("x=1").into()));
    refused(h.handle_webhook(with(&audio, &token_for(WEBHOOK, audio.as_bytes(), "another key")).into()));
    let later = connected(CHANNEL).now_ms(DEFAULT_NOW_MS + 10 * 60 * 1000);
    refused(later.handle_webhook(signed(&audio)));
}

#[test]
fn status_updates_become_statuses_and_the_business_own_messages_are_left_out() {
    let h = connected(CHANNEL);
    let update = |status: &str, error: Value| {
        json!({ "type": "message.updated", "message": {
            "id": "2e15efafec384e1c82e9842075e87beb", "channelId": CHANNEL, "platform": "whatsapp",
            "direction": "sent", "status": status, "error": error, "type": "text", "content": { "text": "hi" } } })
        .to_string()
    };
    assert_eq!(
        deliver(&h, &update("delivered", Value::Null)),
        vec![InboundEvent::Status {
            provider_message_id: "2e15efafec384e1c82e9842075e87beb".into(),
            status: DeliveryStatus::Delivered,
            reason: None,
            timestamp_ms: None,
        }]
    );
    assert!(matches!(
        &deliver(&h, &update("read", Value::Null))[..],
        [InboundEvent::Status { status: DeliveryStatus::Read, .. }]
    ));
    assert_eq!(deliver(&h, &update("pending", Value::Null)), Vec::new(), "a step on the way is no status");

    let failed = connected("853eeb5348e541a595da93b48c61a1ae");
    assert!(matches!(
        &deliver(&failed, &fixture_text("webhook_failed_doc.json"))[..],
        [InboundEvent::Status { status: DeliveryStatus::Failed, reason: Some(r), .. }]
            if r == "MessageBird error 302: The contact is not registered on WhatsApp."
    ));
    assert!(matches!(
        &deliver(&failed, &fixture_text("webhook_window_closed_doc.json"))[..],
        [InboundEvent::Status { status: DeliveryStatus::Failed, reason: Some(r), .. }] if r.starts_with("MessageBird error 470")
    ));
    let sent = connected("1cf5b8c9f58b499fa3cdafaaaaaaaaaa");
    assert_eq!(deliver(&sent, &fixture_text("webhook_text_sent.json")), Vec::new());

    // Behind a proxy, without connect: the URL is rebuilt from its headers.
    let h = whatsapp(CHANNEL);
    let body = update("sent", Value::Null);
    let token = token_for("https://sb.example.org/webhooks/test?src=mb", body.as_bytes(), SIGNING_KEY);
    let behind_proxy = Request::post(body)
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-host", "sb.example.org")
        .header("host", "10.0.0.5:8080")
        .header("MessageBird-Signature-JWT", &token)
        .query("src=mb");
    let (events, answer) = h.handle_webhook(behind_proxy.into()).expect("accepted");
    assert!(matches!(&events[..], [InboundEvent::Status { status: DeliveryStatus::Sent, .. }]));
    assert_eq!(answer.status, 200);
}

#[test]
fn sends_json_with_the_access_key_from_the_channel_asking_for_reports() {
    let h = connected(CHANNEL);
    h.respond("POST", SEND, 202, fixture_text("send_response.json"));
    let send = |content: Value| h.send(&OutboundMessage { to: "393383342437".into(), content, ..Default::default() });
    assert_eq!(
        send(json!({ "type": "text", "text": "Hello from Switchboard!" })).expect("sent"),
        "2e15efafec384e1c82e9842075e87beb"
    );
    send(json!({ "type": "media", "kind": "image", "url": "https://cdn.test/a.jpg", "caption": "Receipt" }))
        .expect("sent");
    let template = json!({
        "type": "template", "name": "order_shipped", "language": "en", "category": "utility",
        "components": [{ "type": "BODY", "text": "Your order {{1}} ships on {{2}}" }],
        "body": ["#42", "Monday"], "header": null, "buttons": []
    });
    send(template).expect("sent");

    let requests = h.requests();
    let sent = &requests[0];
    assert_eq!((sent.method.as_str(), sent.url.as_str()), ("POST", SEND));
    assert_eq!(sent.header("authorization"), Some(format!("AccessKey {ACCESS_KEY}").as_str()));
    assert_eq!(sent.header("content-type"), Some("application/json"));
    let bodies: Vec<Value> = requests.iter().map(|r| serde_json::from_slice(&r.body).expect("JSON")).collect();
    let common = |kind: &str, content: Value| json!({ "to": "393383342437", "from": CHANNEL, "type": kind, "content": content, "reportUrl": WEBHOOK });
    assert_eq!(bodies[0], common("text", json!({ "text": "Hello from Switchboard!" })));
    assert_eq!(
        bodies[1],
        common("image", json!({ "image": { "url": "https://cdn.test/a.jpg", "caption": "Receipt" } }))
    );
    assert_eq!(
        bodies[2],
        common(
            "hsm",
            json!({ "hsm": { "namespace": "ns", "templateName": "order_shipped",
                                        "language": { "policy": "deterministic", "code": "en" },
                                        "params": [{ "default": "#42" }, { "default": "Monday" }] } })
        )
    );

    // An SMS channel that was not connected: no report URL, and a text too long is refused before any call.
    let sms = harness_with(json!({ "channel_id": "sms-channel", "api_base_url": API }), SIGNING_KEY);
    sms.respond("POST", SEND, 202, r#"{"id":"m2","status":"accepted"}"#);
    let text = |t: String| OutboundMessage {
        to: "31612345678".into(),
        content: json!({ "type": "text", "text": t }),
        ..Default::default()
    };
    assert_eq!(sms.send(&text("hi".into())).expect("sent"), "m2");
    let body: Value = serde_json::from_slice(&sms.requests()[0].body).expect("JSON");
    assert_eq!(
        body,
        json!({ "to": "31612345678", "from": "sms-channel", "type": "text", "content": { "text": "hi" } })
    );
    match sms.send(&text("a".repeat(1531))) {
        Err(SendError::Permanent(why)) => assert!(why.contains("11 SMS segments"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(sms.requests().len(), 1, "refused before any request");
    let template =
        OutboundMessage { content: json!({ "type": "template", "name": "t", "language": "en" }), ..text("x".into()) };
    assert!(matches!(sms.send(&template), Err(SendError::Permanent(why)) if why.contains("WhatsApp")));
}

#[test]
fn messagebird_errors_are_classified() {
    let h = connected(CHANNEL);
    let hi = OutboundMessage {
        to: "393383342437".into(),
        content: json!({ "type": "text", "text": "hi" }),
        ..Default::default()
    };
    h.respond("POST", SEND, 401, fixture_text("error_response.json"));
    assert!(matches!(h.send(&hi), Err(SendError::BadCredentials(why)) if why.contains("invalid credential")));
    for (status, code, check) in
        [(429, 0, "transient"), (503, 0, "transient"), (422, 470, "window closed"), (422, 21, "permanent")]
    {
        let body = json!({ "errors": [{ "code": code, "description": format!("error {code}"), "parameter": null }] });
        h.respond("POST", SEND, status, body.to_string());
        let got = h.send(&hi);
        let ok = match (check, &got) {
            ("transient", Err(SendError::Transient(_))) | ("window closed", Err(SendError::WindowClosed(_))) => true,
            ("permanent", Err(SendError::Permanent(why))) => why.contains("error 21"),
            _ => false,
        };
        assert!(ok, "{status}/{code}: expected {check}, got {got:?}");
    }
    let no_key = whatsapp(CHANNEL).secret("access_key", "");
    assert!(matches!(no_key.send(&hi), Err(SendError::BadCredentials(_))));
}

#[test]
fn media_downloads_carry_the_access_key_to_messagebird_only() {
    let h = connected(CHANNEL);
    let media = "https://media.messagebird.com/v1/media/52296e61-9e62-479b-9ce0-9cadebe40598";
    let download = h.media_request(media).expect("a download");
    assert_eq!((download.method.as_str(), download.url.as_str()), ("GET", media));
    let key = ("authorization".to_owned(), format!("AccessKey {ACCESS_KEY}"));
    assert!(download.headers.contains(&key), "{:?}", download.headers);
    let elsewhere = h.media_request("https://cdn.example.org/tree.png").expect("a download");
    assert!(elsewhere.headers.iter().all(|(k, _)| k != "authorization"), "{:?}", elsewhere.headers);
    assert!(h.requests().is_empty(), "the host downloads");
}
