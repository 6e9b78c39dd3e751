//! The Twilio channel tested offline: its built component in a real host, fed Twilio's recorded webhook and
//! signature vectors, answering a stand-in Messages and Content API at `https://twilio.test`.

use base64::Engine as _;
use serde_json::{Value, json};
use switchboard_plugin_host::testing::{Harness, Request};
use switchboard_plugin_host::{HttpRequest, SendError, WebhookError};
use switchboard_plugin_sdk::event::{ContactProfile, DeliveryStatus, InboundEvent, OutboundMessage};
use switchboard_plugin_sdk::form;

const API: &str = "https://twilio.test";
const ACCOUNT: &str = "AC58f1e8f2b1c6b88ca90a012a4be0c279";
const TOKEN: &str = "12345";
/// Where the signature vectors say Twilio posted the recorded SMS; `connect` is given it as the channel's URL.
const WEBHOOK: &str = "https://example.com/twilio/sms";
const MESSAGES: &str = "https://twilio.test/2010-04-01/Accounts/AC58f1e8f2b1c6b88ca90a012a4be0c279/Messages.json";

// Callbacks as Twilio posts them, with their X-Twilio-Signature for WEBHOOK and TOKEN. The tests have no
// SHA-1 of their own: these were computed with Python's hmac by the algorithm that reproduces Twilio's
// published vectors (which the plugin's unit tests and `every_signature_vector_holds` below check).
const UNDELIVERED: (&str, &str) = (
    "SmsSid=SM5ef8732a3c49700934481addd5ce1659&SmsStatus=undelivered&MessageStatus=undelivered&To=%2B15558675310&MessageSid=SM5ef8732a3c49700934481addd5ce1659&AccountSid=AC58f1e8f2b1c6b88ca90a012a4be0c279&From=%2B15017122661&ApiVersion=2010-04-01&ErrorCode=30003",
    "6+QqQJ8isEoCGSl5nLHSP6CwIxk=",
);
const READ: (&str, &str) = (
    "SmsSid=SM5ef8732a3c49700934481addd5ce1659&SmsStatus=read&MessageStatus=read&ChannelToAddress=%2B15558675310&To=whatsapp%3A%2B15558675310&MessageSid=SM5ef8732a3c49700934481addd5ce1659&AccountSid=AC58f1e8f2b1c6b88ca90a012a4be0c279&From=whatsapp%3A%2B15017122661&ApiVersion=2010-04-01",
    "yx8HPmpi50vldN7B75dCBbKV0Bk=",
);
const QUEUED: (&str, &str) = (
    "SmsSid=SM5ef8732a3c49700934481addd5ce1659&SmsStatus=queued&MessageStatus=queued&To=%2B15558675310&MessageSid=SM5ef8732a3c49700934481addd5ce1659&AccountSid=AC58f1e8f2b1c6b88ca90a012a4be0c279&From=%2B15017122661&ApiVersion=2010-04-01",
    "YfFkDZ00qezq8+SNO6A9eAinu+A=",
);
const WHATSAPP_PHOTO: (&str, &str) = (
    "SmsMessageSid=MM7b6f1a8ab0e2c3d4e5f60718293a4b5c&NumMedia=1&ProfileName=Ana+Lima&MessageType=image&SmsSid=MM7b6f1a8ab0e2c3d4e5f60718293a4b5c&WaId=14155238886&SmsStatus=received&Body=Here+it+is&To=whatsapp%3A%2B15017122661&NumSegments=1&MessageSid=MM7b6f1a8ab0e2c3d4e5f60718293a4b5c&AccountSid=AC58f1e8f2b1c6b88ca90a012a4be0c279&From=whatsapp%3A%2B14155238886&MediaUrl0=https%3A%2F%2Fapi.twilio.com%2F2010-04-01%2FAccounts%2FAC58f1e8f2b1c6b88ca90a012a4be0c279%2FMessages%2FMM7b6f1a8ab0e2c3d4e5f60718293a4b5c%2FMedia%2FME0a1b2c3d4e5f60718293a4b5c6d7e8f&MediaContentType0=image%2Fjpeg&ApiVersion=2010-04-01",
    "gM27Z4CYwd4qPcYlwW8wpobB4QU=",
);
/// QUEUED signed for `https://sb.example.org/webhooks/test?src=twilio`, the URL a proxy's headers name.
const QUEUED_BEHIND_PROXY: &str = "StMBbQE6Fso7jiohso4qx9dNwR4=";

fn fixture_text(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", switchboard_plugin_host::plugin_dir!().display());
    std::fs::read_to_string(&path).expect("fixture")
}

fn fixture(name: &str) -> Value {
    serde_json::from_str(&fixture_text(name)).expect("fixture JSON")
}

fn harness_with(token: &str) -> Harness {
    Harness::build(switchboard_plugin_host::plugin_dir!())
        .config(json!({
            "account_sid": ACCOUNT, "from": "+15017122661", "api_base_url": API, "content_api_base_url": API
        }))
        .secret("auth_token", token)
        .grant(API)
}

fn harness() -> Harness {
    harness_with(TOKEN)
}

/// A harness that was given WEBHOOK by `connect`, as the server does when the channel is created.
fn connected() -> Harness {
    let h = harness();
    h.connect(WEBHOOK).expect("connected");
    h
}

fn signed(body: &str, signature: &str) -> HttpRequest {
    Request::post(body.to_owned())
        .header("content-type", "application/x-www-form-urlencoded")
        .header("X-Twilio-Signature", signature)
        .into()
}

fn deliver(h: &Harness, (body, signature): (&str, &str)) -> Vec<InboundEvent> {
    let (events, answer) = h.handle_webhook(signed(body, signature)).expect("accepted");
    assert_eq!(answer.status, 200);
    events
}

/// A request to `url` (scheme, host, path and query as a proxy passes them on) with a form of `params`.
fn request_to(url: &str, body: &str, signature: &str) -> HttpRequest {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let (authority, path_query) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let (path, query) = path_query.split_once('?').unwrap_or((path_query, ""));
    let mut request: HttpRequest = Request::post(body.to_owned())
        .header("x-forwarded-proto", scheme)
        .header("host", authority)
        .header("X-Twilio-Signature", signature)
        .query(query)
        .into();
    request.path = path.to_owned();
    request
}

fn form_of(params: &Value) -> String {
    let pairs: Vec<(String, String)> = match params {
        Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), v.as_str().expect("text").to_owned())).collect(),
        Value::Array(list) => list
            .iter()
            .map(|p| (p[0].as_str().expect("key").to_owned(), p[1].as_str().expect("value").to_owned()))
            .collect(),
        _ => Vec::new(),
    };
    form::encode_pairs(&pairs)
}

fn accepted_signature(result: Result<(Vec<InboundEvent>, switchboard_plugin_host::HttpResponse), WebhookError>) {
    // Past the signature, these vectors (voice calls, a JSON body, nothing) are no Messaging webhook.
    assert!(matches!(result, Err(WebhookError::BadRequest(_))), "{result:?}");
}

fn refused(result: Result<(Vec<InboundEvent>, switchboard_plugin_host::HttpResponse), WebhookError>) {
    assert!(matches!(result, Err(WebhookError::Unauthorized(_))), "{result:?}");
}

#[test]
fn it_describes_itself_as_its_manifest_does() {
    let h = harness();
    let info = h.describe_channel();
    let manifest = h.manifest().expect("plugin.toml");
    assert_eq!(
        (info.id.as_str(), info.version.as_str()),
        (manifest.plugin.id.as_str(), manifest.plugin.version.as_str())
    );
    assert_eq!(info.name, "Twilio (SMS and WhatsApp)");
    assert!(info.capabilities.text && info.capabilities.media && info.capabilities.templates);
    assert!(!info.capabilities.interactive);
    assert_eq!(info.window.free_form_hours, None, "Twilio's refusal (63016) closes a WhatsApp window");
}

#[test]
fn every_signature_vector_holds_on_the_url_the_request_reached() {
    let v = fixture("signature_vectors.json");
    let official = &v["official_vector"];
    let url = official["url"].as_str().expect("url");
    let body = form_of(&official["params"]);
    let expected = official["expected_signature"].as_str().expect("signature");
    let h = harness_with(official["auth_token"].as_str().expect("token"));
    accepted_signature(h.handle_webhook(request_to(url, &body, expected)));
    refused(h.handle_webhook(request_to(url, &body, "RSOYDt4T1cUTdK1PDd93/VVr8B9=")));
    refused(h.handle_webhook(request_to(&url.replace("foo=1", "foo=2"), &body, expected)));
    refused(h.handle_webhook(request_to(url, &body.replace("1234", "1235"), expected)));

    let ports = &v["port_variants"];
    let sig = |name: &str| ports[name].as_str().expect("signature");
    accepted_signature(h.handle_webhook(request_to(url, &body, sig("expected_signature_443"))));
    accepted_signature(h.handle_webhook(request_to(
        ports["url_with_port_443"].as_str().expect("url"),
        &body,
        expected,
    )));
    let http = url.replace("https", "http");
    accepted_signature(h.handle_webhook(request_to(&http, &body, sig("http_url_with_port_80_expected"))));
    accepted_signature(h.handle_webhook(request_to(
        &http.replace(".com", ".com:1234"),
        &body,
        sig("http_url_with_port_1234_expected"),
    )));
    refused(h.handle_webhook(request_to(&http, &body, expected)));

    let json_body = &v["json_body_vector"];
    let (raw, json_url) = (json_body["body"].as_str().expect("body"), json_body["url"].as_str().expect("url"));
    let json_signature = json_body["expected_signature"].as_str().expect("signature");
    accepted_signature(h.handle_webhook(request_to(json_url, raw, json_signature)));
    refused(h.handle_webhook(request_to(json_url, &raw.replace("value", "other"), json_signature)));

    let duplicates = &v["duplicate_params_vector"];
    let duplicate_body = form_of(&duplicates["params_multi"]);
    let duplicate_url = duplicates["url"].as_str().expect("url");
    let duplicate_signature = duplicates["expected_signature"].as_str().expect("signature");
    accepted_signature(h.handle_webhook(request_to(duplicate_url, &duplicate_body, duplicate_signature)));

    let empty = &v["empty_body_vector"];
    let h = harness_with(empty["auth_token"].as_str().expect("token"));
    let empty_url = empty["url"].as_str().expect("url");
    accepted_signature(h.handle_webhook(request_to(empty_url, "", empty["expected_signature"].as_str().expect("sig"))));
    refused(h.handle_webhook(request_to(empty_url, "", empty["invalid_example"].as_str().expect("invalid"))));
    refused(h.handle_webhook(Request::post("").into()));
}

#[test]
fn connect_keeps_the_url_and_the_signed_sms_becomes_a_message() {
    let v = fixture("signature_vectors.json");
    let computed = &v["computed_vector_inbound_sms"];
    assert_eq!((computed["url"].as_str(), computed["auth_token"].as_str()), (Some(WEBHOOK), Some(TOKEN)));
    let signature = computed["expected_signature"].as_str().expect("signature");
    let sms = fixture_text("inbound_sms.form");
    let h = harness();
    // Without the URL Twilio was given (nor proxy headers naming it), nothing can be checked.
    refused(h.handle_webhook(signed(&sms, signature)));
    h.connect(WEBHOOK).expect("connected");
    assert_eq!(h.kv_get("webhook_url").as_deref(), Some(WEBHOOK.as_bytes()));
    assert!(h.requests().is_empty(), "the URL is set at Twilio by hand");

    let (events, answer) = h.handle_webhook(signed(&sms, signature)).expect("accepted");
    assert_eq!(
        events,
        vec![InboundEvent::Message {
            contact: ContactProfile {
                external_id: "+19253920364".into(),
                phone: Some("+19253920364".into()),
                ..Default::default()
            },
            provider_message_id: "SM1521fa559fb923c1ed64f56cd1bed8ef".into(),
            timestamp_ms: None,
            content: json!({ "type": "text", "text": "twilio-go testing!" }),
        }]
    );
    // Empty TwiML: Twilio sends no automatic reply.
    assert_eq!(answer.status, 200);
    assert!(answer.headers.iter().any(|(k, v)| k == "content-type" && v == "text/xml"), "{:?}", answer.headers);
    assert!(String::from_utf8_lossy(&answer.body).ends_with("<Response/>"));

    let mut wrong = signature.to_owned();
    wrong.replace_range(0..1, "6");
    refused(h.handle_webhook(signed(&sms, &wrong)));
    refused(h.handle_webhook(Request::post(sms.clone()).into()));
    // The query Twilio called is part of what it signed.
    refused(h.handle_webhook(Request::post(sms).header("X-Twilio-Signature", signature).query("x=1").into()));
}

#[test]
fn whatsapp_contacts_are_known_by_their_number_and_media_download_with_credentials() {
    let h = connected();
    let events = deliver(&h, WHATSAPP_PHOTO);
    let sid = "MM7b6f1a8ab0e2c3d4e5f60718293a4b5c";
    let media = format!(
        "https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Messages/{sid}/Media/ME0a1b2c3d4e5f60718293a4b5c6d7e8f"
    );
    let contact = ContactProfile {
        external_id: "+14155238886".into(),
        first_name: Some("Ana Lima".into()),
        phone: Some("+14155238886".into()),
        ..Default::default()
    };
    assert_eq!(
        events,
        vec![
            InboundEvent::Message {
                contact: contact.clone(),
                provider_message_id: sid.into(),
                timestamp_ms: None,
                content: json!({ "type": "text", "text": "Here it is" }),
            },
            InboundEvent::Message {
                contact,
                provider_message_id: format!("{sid}#2"),
                timestamp_ms: None,
                content: json!({ "type": "media", "kind": "image", "media_ref": media, "mime_type": "image/jpeg" }),
            },
        ]
    );
    // The stand-in API serves the file itself (no redirect): the download is that URL, with Basic auth.
    let stand_in = media.replace("https://api.twilio.com", API);
    h.respond("GET", &stand_in, 200, "JPEG");
    let download = h.media_request(&stand_in).expect("a download");
    assert_eq!((download.method.as_str(), download.url.as_str()), ("GET", stand_in.as_str()));
    let basic = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{ACCOUNT}:{TOKEN}")));
    assert!(download.headers.contains(&("authorization".to_owned(), basic)), "{:?}", download.headers);
    assert_eq!(h.requests().last().expect("the probe").header("range"), Some("bytes=0-0"));
    // Credentials go to the configured API only.
    assert!(matches!(h.media_request("https://evil.test/2010-04-01/Accounts/x"), Err(SendError::Permanent(_))));
}

#[test]
fn status_callbacks_become_statuses() {
    let h = connected();
    assert_eq!(
        deliver(&h, UNDELIVERED),
        vec![InboundEvent::Status {
            provider_message_id: "SM5ef8732a3c49700934481addd5ce1659".into(),
            status: DeliveryStatus::Failed,
            reason: Some("Twilio error 30003: unreachable destination handset".into()),
            timestamp_ms: None,
        }]
    );
    assert!(matches!(
        &deliver(&h, READ)[..],
        [InboundEvent::Status { status: DeliveryStatus::Read, reason: None, .. }]
    ));
    assert_eq!(deliver(&h, QUEUED), Vec::new(), "a step on the way is no status");
    refused(h.handle_webhook(signed(UNDELIVERED.0, READ.1)));

    // Behind a proxy, without connect: the URL is rebuilt from its headers.
    let h = harness();
    let behind_proxy = Request::post(QUEUED.0)
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-host", "sb.example.org")
        .header("host", "10.0.0.5:8080")
        .header("X-Twilio-Signature", QUEUED_BEHIND_PROXY)
        .query("src=twilio");
    let (events, answer) = h.handle_webhook(behind_proxy.into()).expect("accepted");
    assert_eq!((events.len(), answer.status), (0, 200));
}

#[test]
fn sends_as_a_form_with_basic_auth_and_a_status_callback() {
    let h = connected();
    h.respond("POST", MESSAGES, 201, json!({ "sid": "SM99", "status": "queued", "error_code": null }).to_string());
    let send = |to: &str, content: Value| h.send(&OutboundMessage { to: to.into(), content, ..Default::default() });
    assert_eq!(
        send("+15558675310", json!({ "type": "text", "text": "Hello from Switchboard!" })).expect("sent"),
        "SM99"
    );
    let sent = &h.requests()[0];
    assert_eq!((sent.method.as_str(), sent.url.as_str()), ("POST", MESSAGES));
    let basic = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{ACCOUNT}:{TOKEN}")));
    assert_eq!(sent.header("authorization"), Some(basic.as_str()));
    assert_eq!(sent.header("content-type"), Some("application/x-www-form-urlencoded"));
    assert_eq!(
        String::from_utf8_lossy(&sent.body),
        "To=%2B15558675310&From=%2B15017122661&Body=Hello%20from%20Switchboard%21&StatusCallback=https%3A%2F%2Fexample.com%2Ftwilio%2Fsms"
    );

    send(
        "whatsapp:+15558675310",
        json!({ "type": "media", "kind": "image", "url": "https://cdn.test/a.jpg", "caption": "Receipt" }),
    )
    .expect("sent");
    let template = json!({
        "type": "template", "name": "HXb5b62575e6e4ff6129ad7c8efe1f983e", "language": "en", "category": "utility",
        "components": [{ "type": "BODY", "text": "Your order {{1}} ships on {{2}}" }],
        "body": ["#42", "Monday"], "header": null, "buttons": []
    });
    send("whatsapp:+15558675310", template).expect("sent");
    let bodies: Vec<Vec<(String, String)>> =
        h.requests().iter().map(|r| form::pairs(&String::from_utf8_lossy(&r.body))).collect();
    let field = |i: usize, name: &str| bodies[i].iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    assert_eq!(
        (field(1, "MediaUrl"), field(1, "Body"), field(1, "To")),
        (Some("https://cdn.test/a.jpg".into()), Some("Receipt".into()), Some("whatsapp:+15558675310".into()))
    );
    assert_eq!(field(2, "ContentSid").as_deref(), Some("HXb5b62575e6e4ff6129ad7c8efe1f983e"));
    let variables: Value = serde_json::from_str(&field(2, "ContentVariables").expect("variables")).expect("JSON");
    assert_eq!(variables, json!({ "1": "#42", "2": "Monday" }));
    assert_eq!(field(2, "Body"), None);

    // An API key, when set, authorizes instead of the auth token; the account stays in the path.
    let keyed = harness().secret("api_key_sid", "SK123").secret("api_key_secret", "key-secret");
    keyed.respond("POST", MESSAGES, 201, r#"{"sid":"SM100"}"#);
    keyed
        .send(&OutboundMessage {
            to: "+1555".into(),
            content: json!({ "type": "text", "text": "hi" }),
            ..Default::default()
        })
        .expect("sent");
    let sent = &keyed.requests()[0];
    let basic = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("SK123:key-secret"));
    assert_eq!((sent.url.as_str(), sent.header("authorization")), (MESSAGES, Some(basic.as_str())));
    assert!(!String::from_utf8_lossy(&sent.body).contains("StatusCallback"), "not connected: no callback URL");
}

#[test]
fn twilio_errors_are_classified_and_long_texts_refused() {
    let h = connected();
    let hi = OutboundMessage {
        to: "+15558675310".into(),
        content: json!({ "type": "text", "text": "hi" }),
        ..Default::default()
    };
    for (status, code, check) in [
        (401, 20003, "bad credentials"),
        (429, 20429, "transient"),
        (503, 0, "transient"),
        (400, 63016, "window closed"),
        (400, 21211, "permanent"),
        (400, 21610, "permanent"),
    ] {
        let body = json!({ "code": code, "message": format!("message {code}"), "more_info": format!("https://www.twilio.com/docs/errors/{code}"), "status": status });
        h.respond("POST", MESSAGES, status, body.to_string());
        let got = h.send(&hi);
        let ok = match (check, &got) {
            ("bad credentials", Err(SendError::BadCredentials(_)))
            | ("transient", Err(SendError::Transient(_)))
            | ("window closed", Err(SendError::WindowClosed(_))) => true,
            ("permanent", Err(SendError::Permanent(why))) => why.contains(&format!("message {code}")),
            _ => false,
        };
        assert!(ok, "{status}/{code}: expected {check}, got {got:?}");
    }
    let before = h.requests().len();
    let long = OutboundMessage { content: json!({ "type": "text", "text": "a".repeat(1531) }), ..hi.clone() };
    match h.send(&long) {
        Err(SendError::Permanent(why)) => assert!(why.contains("11 SMS segments"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(h.requests().len(), before, "refused before any request");
}

#[test]
fn templates_are_listed_from_the_content_api() {
    let h = harness();
    let page = json!({
        "contents": [
            { "sid": "HXb5b62575e6e4ff6129ad7c8efe1f983e", "friendly_name": "order_shipped", "language": "en",
              "account_sid": ACCOUNT, "variables": { "1": "12345", "2": "Monday" },
              "types": { "twilio/text": { "body": "Your order {{1}} ships on {{2}}" } } }
        ],
        "meta": { "page": 0, "page_size": 100, "next_page_url": null, "key": "contents" }
    });
    h.respond("GET", &format!("{API}/v1/Content"), 200, page.to_string());
    let listed = h.list_templates().expect("listed");
    assert_eq!(
        listed,
        json!([{ "name": "HXb5b62575e6e4ff6129ad7c8efe1f983e", "language": "en", "category": "utility", "status": "approved",
                 "components": [{ "type": "BODY", "text": "Your order {{1}} ships on {{2}}" }] }])
    );
    let asked = &h.requests()[0];
    assert_eq!(asked.url, format!("{API}/v1/Content?PageSize=100"));
    assert!(asked.header("authorization").is_some_and(|a| a.starts_with("Basic ")));
}

#[test]
fn a_whatsapp_sender_writes_to_the_number_as_a_whatsapp_address() {
    let h = Harness::build(switchboard_plugin_host::plugin_dir!())
        .config(json!({ "account_sid": ACCOUNT, "from": "whatsapp:+14155238886", "api_base_url": API }))
        .secret("auth_token", TOKEN)
        .grant(API);
    h.respond("POST", MESSAGES, 201, r#"{"sid":"SM7"}"#);
    let hello = json!({ "type": "text", "text": "Hi" });
    h.send(&OutboundMessage { to: "+15558675310".into(), content: hello, ..Default::default() }).expect("sent");
    let form = form::pairs(&String::from_utf8_lossy(&h.requests()[0].body));
    assert_eq!(
        &form[..2],
        &[
            ("To".to_owned(), "whatsapp:+15558675310".to_owned()),
            ("From".to_owned(), "whatsapp:+14155238886".to_owned()),
        ]
    );
    let manifest = h.manifest().expect("a manifest");
    assert_eq!(manifest.channel.phone_address.map(|p| p.of("+15558675310")).as_deref(), Some("+15558675310"));
}
