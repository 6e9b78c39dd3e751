//! The Graph API side of the channel, offline in the plugin harness: what is sent for each message,
//! how the provider's errors are classified, template lists and media downloads.

use serde_json::{Value, json};
use switchboard_plugin_host::SendError;
use switchboard_plugin_host::testing::Harness;
use switchboard_plugin_sdk::event::OutboundMessage;

const MESSAGES_URL: &str = "https://graph.facebook.com/v21.0/1122334455667/messages";
const TEMPLATES_URL: &str = "https://graph.facebook.com/v21.0/5467539754836534/message_templates?limit=100";

fn harness() -> Harness {
    Harness::build(switchboard_plugin_host::plugin_dir!())
        .config(json!({"phone_number_id": "1122334455667", "business_account_id": "5467539754836534"}))
        .secret("access_token", "EAAG-test")
        .secret("app_secret", "s")
        .secret("verify_token", "v")
}

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", switchboard_plugin_host::plugin_dir!().display());
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn fixture_json(name: &str) -> Value {
    serde_json::from_slice(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn message(to: &str, content: Value) -> OutboundMessage {
    OutboundMessage { to: to.into(), content, ..Default::default() }
}

fn hello() -> OutboundMessage {
    message("16505551234", json!({"type": "text", "text": "hello"}))
}

fn failure(error: SendError) -> (&'static str, String) {
    match error {
        SendError::Transient(why) => ("transient", why),
        SendError::Permanent(why) => ("permanent", why),
        SendError::WindowClosed(why) => ("window closed", why),
        SendError::BadCredentials(why) => ("bad credentials", why),
    }
}

#[test]
fn it_describes_itself_as_its_manifest_does() {
    let h = harness();
    let info = h.describe_channel();
    let manifest = h.manifest().expect("plugin.toml");
    assert_eq!(
        (info.id.as_str(), info.name.as_str(), info.version.as_str()),
        (manifest.plugin.id.as_str(), manifest.plugin.name.as_str(), manifest.plugin.version.as_str())
    );
    assert_eq!((info.id.as_str(), info.name.as_str()), ("whatsapp-cloud", "WhatsApp (Cloud API)"));
    let c = &info.capabilities;
    assert!(c.text && c.media && c.templates && c.interactive && c.reactions && c.locations, "{c:?}");
    let w = &info.window;
    assert_eq!((w.free_form_hours, w.templates_outside, w.tags_outside), (Some(24), true, false));
    assert!(h.connect("https://switchboard.test/webhooks/7").is_ok(), "webhooks are set up in Meta's dashboard");
    assert!(h.disconnect().is_ok());
}

#[test]
fn a_text_is_posted_as_the_cloud_api_documents_it() {
    let h = harness();
    h.respond("POST", MESSAGES_URL, 200, fixture("send_response.json"));
    let documented = fixture_json("send_text_request.json");
    let content = json!({"type": "text", "text": documented["text"]["body"]});
    let id = h.send(&message(documented["to"].as_str().expect("to"), content)).expect("sent");
    assert_eq!(id, "wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA");
    let sent = h.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!((sent[0].method.as_str(), sent[0].url.as_str()), ("POST", MESSAGES_URL));
    assert_eq!(sent[0].header("authorization"), Some("Bearer EAAG-test"));
    assert_eq!(sent[0].header("content-type"), Some("application/json"));
    assert_eq!(sent[0].json(), documented);
}

#[test]
fn a_template_carries_its_header_body_and_button_parameters() {
    let h = harness();
    h.respond("POST", MESSAGES_URL, 200, fixture("send_response.json"));
    let content = json!({
        "type": "template",
        "name": "order_shipped",
        "language": "en_US",
        "category": "utility",
        "components": [
            {"type": "HEADER", "format": "IMAGE"},
            {"type": "BODY", "text": "Hi {{1}}, order {{2}} is on its way"},
            {"type": "BUTTONS", "buttons": [{"type": "URL", "text": "Track", "url": "https://shop.test/t/{{1}}"}]},
        ],
        "body": ["Ana", "#1042"],
        "header": {"type": "image", "url": "https://shop.test/parcel.jpg"},
        "buttons": [{"index": 0, "sub_type": "url", "parameter": "1042"}],
    });
    h.send(&message("16505551234", content)).expect("sent");

    // The documented request, with this template's parameters in place of the documented ones.
    let mut expected = fixture_json("send_template_request.json");
    let template = &mut expected["template"];
    template["name"] = json!("order_shipped");
    template["language"]["code"] = json!("en_US");
    template["components"][0]["parameters"][0]["image"]["link"] = json!("https://shop.test/parcel.jpg");
    template["components"][1]["parameters"] =
        json!([{"type": "text", "text": "Ana"}, {"type": "text", "text": "#1042"}]);
    let components = template["components"].as_array_mut().expect("components");
    components.truncate(2);
    components.push(json!({"type": "button", "sub_type": "url", "index": "0",
                           "parameters": [{"type": "text", "text": "1042"}]}));

    let sent = h.requests();
    assert_eq!(sent[0].url, MESSAGES_URL);
    assert_eq!(sent[0].json(), expected);
}

#[test]
fn a_list_is_posted_as_an_interactive_list() {
    let h = harness();
    h.respond("POST", MESSAGES_URL, 200, fixture("send_response.json"));
    let content = json!({
        "type": "list", "text": "Pick a size", "button": "Sizes",
        "sections": [
            {"title": "Shirts", "rows": [
                {"id": "s-m", "title": "Medium", "description": "Chest 96-101 cm"},
                {"id": null, "title": "Large", "description": null},
            ]},
            {"title": "Hoodies", "rows": [{"id": null, "title": "One size", "description": null}]},
        ],
    });
    let id = h.send(&message("16505551234", content)).expect("sent");
    assert_eq!(id, "wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA");
    let sent = h.requests();
    assert_eq!((sent.len(), sent[0].url.as_str()), (1, MESSAGES_URL));
    assert_eq!(
        sent[0].json(),
        json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "16505551234",
            "type": "interactive",
            "interactive": {
                "type": "list",
                "body": {"text": "Pick a size"},
                "action": {
                    "button": "Sizes",
                    "sections": [
                        {"title": "Shirts", "rows": [
                            {"id": "s-m", "title": "Medium", "description": "Chest 96-101 cm"},
                            {"id": "0.1", "title": "Large"},
                        ]},
                        {"title": "Hoodies", "rows": [{"id": "1.0", "title": "One size"}]},
                    ],
                },
            },
        })
    );
}

#[test]
fn a_list_beyond_whatsapps_limits_is_refused_before_any_request() {
    let h = harness();
    let list = |sections: Value| json!({"type": "list", "text": "Pick", "button": "Open", "sections": sections});
    let rows: Vec<Value> = (0..11).map(|i| json!({"id": null, "title": format!("Row {i}")})).collect();
    let cases = [
        (list(json!([{"title": null, "rows": rows}])), "WhatsApp takes 1 to 10 list rows in all, not 11"),
        (
            list(json!([{"title": "A", "rows": [{"title": "a"}]}, {"title": null, "rows": [{"title": "b"}]}])),
            "section 1: WhatsApp needs a title on each of several sections",
        ),
        (
            list(json!([{"rows": [{"title": "a", "description": "d".repeat(73)}]}])),
            "section 0, row 0: the description must be at most 72 characters, not 73",
        ),
        (
            list(json!([{"rows": [{"id": "x", "title": "a"}, {"id": "x", "title": "b"}]}])),
            "section 0, row 1: WhatsApp needs distinct row ids, `x` is repeated",
        ),
        (
            json!({"type": "list", "text": "Pick", "button": "Open the list of sizes", "sections": [{"rows": [{"title": "a"}]}]}),
            "the list's button must be 1 to 20 characters, not 22",
        ),
    ];
    for (content, expected) in cases {
        let error = h.send(&message("16505551234", content)).expect_err("refused");
        assert_eq!(failure(error), ("permanent", expected.to_owned()));
    }
    assert!(h.requests().is_empty(), "nothing was sent");
}

#[test]
fn a_contact_card_is_posted_as_contacts_as_given() {
    let h = harness();
    h.respond("POST", MESSAGES_URL, 200, fixture("send_response.json"));
    let ana = json!({
        "name": {"formatted_name": "Ana Diaz", "first_name": "Ana", "last_name": "Diaz"},
        "phones": [{"phone": "+1 555 0100", "type": "CELL", "wa_id": "15550100"}],
        "emails": [{"email": "ana@example.com", "type": "WORK"}],
        "org": {"company": "Example Ltd", "title": "Buyer"},
    });
    let bo = json!({"name": {"formatted_name": "Bo"}, "phones": [{"phone": "+44 20 7946 0000", "type": "WORK"}]});
    h.send(&message("16505551234", json!({"type": "contact_card", "card": ana}))).expect("sent");
    h.send(&message("16505551234", json!({"type": "contact_card", "card": [ana, bo]}))).expect("sent");
    let sent = h.requests();
    let expected = |contacts: Value| {
        json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "16505551234",
            "type": "contacts",
            "contacts": contacts,
        })
    };
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].json(), expected(json!([ana])));
    assert_eq!(sent[1].json(), expected(json!([ana, bo])));

    let unnamed = json!({"type": "contact_card", "card": [ana, {"name": {"first_name": "Cy"}, "phones": []}]});
    let error = h.send(&message("16505551234", unnamed)).expect_err("refused");
    assert_eq!(failure(error), ("permanent", "contact card 1: WhatsApp needs a `name.formatted_name`".to_owned()));
    assert_eq!(h.requests().len(), 2, "the refused card was not sent");
}

#[test]
fn provider_errors_are_classified() {
    let h = harness();
    let cases = [
        (
            401,
            json!({"error": {"message": "Error validating access token: Session has expired", "type": "OAuthException",
                             "code": 190, "error_subcode": 463, "fbtrace_id": "A1"}}),
            ("bad credentials", "Error validating access token: Session has expired"),
        ),
        (429, json!({}), ("transient", "WhatsApp answered HTTP 429")),
        (
            500,
            json!({"error": {"message": "An unknown error occurred", "type": "OAuthException", "code": 1}}),
            ("transient", "An unknown error occurred"),
        ),
        (
            400,
            json!({"error": {"message": "(#131047) Re-engagement message", "type": "OAuthException", "code": 131047,
                             "error_data": {"messaging_product": "whatsapp", "details": "Message failed to send because more than 24 hours have passed since the customer last replied to this number."}}}),
            (
                "window closed",
                "(#131047) Re-engagement message: Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
            ),
        ),
        (
            400,
            json!({"error": {"message": "(#100) Invalid parameter", "type": "OAuthException", "code": 100}}),
            ("permanent", "(#100) Invalid parameter"),
        ),
    ];
    for (status, body, expected) in cases {
        h.respond("POST", MESSAGES_URL, status, body.to_string());
        let error = h.send(&hello()).expect_err("an error");
        assert_eq!(failure(error), (expected.0, expected.1.to_owned()), "{status}");
    }
}

#[test]
fn an_unreachable_provider_is_transient_and_bad_content_permanent() {
    let h = harness();
    let (kind, why) = failure(h.send(&hello()).expect_err("nothing answers"));
    assert_eq!(kind, "transient");
    assert!(why.starts_with("could not reach WhatsApp: "), "{why}");

    let (kind, why) = failure(
        h.send(&message("1", json!({"type": "interactive", "text": "?", "buttons": []}))).expect_err("refused"),
    );
    assert_eq!((kind, why.as_str()), ("permanent", "WhatsApp takes 1 to 3 reply buttons, not 0"));
    assert_eq!(h.requests().len(), 1, "the refused content was not sent");
}

#[test]
fn missing_credentials_or_settings_are_named() {
    let no_token = Harness::build(switchboard_plugin_host::plugin_dir!()).config(json!({"phone_number_id": "1"}));
    assert_eq!(
        failure(no_token.send(&hello()).expect_err("no token")),
        ("bad credentials", "the channel's access_token is not set".to_owned())
    );
    let no_phone = Harness::build(switchboard_plugin_host::plugin_dir!()).secret("access_token", "t");
    assert_eq!(
        failure(no_phone.send(&hello()).expect_err("no phone number id")),
        ("permanent", "the channel's phone_number_id is not set".to_owned())
    );
    assert!(no_token.requests().is_empty() && no_phone.requests().is_empty());
}

#[test]
fn a_configured_graph_address_and_version_are_used() {
    let h = Harness::build(switchboard_plugin_host::plugin_dir!())
        .config(json!({"phone_number_id": 1122334455667_u64, "api_version": "19.0",
                       "graph_base_url": "http://graph.fake.test/"}))
        .secret("access_token", "EAAG-test")
        .grant("http://graph.fake.test");
    h.respond("POST", "http://graph.fake.test/", 200, fixture("send_response.json"));
    h.send(&hello()).expect("sent");
    assert_eq!(h.requests()[0].url, "http://graph.fake.test/v19.0/1122334455667/messages");
}

#[test]
fn templates_are_listed_across_pages() {
    let h = harness();
    let after = format!("{TEMPLATES_URL}&after=QVFIUm");
    h.respond(
        "GET",
        TEMPLATES_URL,
        200,
        json!({
            "data": [
                {"name": "hello_world", "language": "en_US", "category": "UTILITY", "status": "APPROVED", "id": "1",
                 "components": [{"type": "BODY", "text": "Hello World"}]},
                {"name": "promo", "language": "es", "category": "MARKETING", "status": "PENDING", "id": "2",
                 "components": [{"type": "HEADER", "format": "IMAGE"}, {"type": "BODY", "text": "{{1}} off"}]},
            ],
            "paging": {"cursors": {"before": "QVFIUl", "after": "QVFIUm"}, "next": after},
        })
        .to_string(),
    );
    h.respond(
        "GET",
        &after,
        200,
        json!({
            "data": [{"name": "otp", "language": "en", "category": "AUTHENTICATION", "status": "REJECTED", "id": "3",
                      "components": [{"type": "BODY", "text": "{{1}} is your code"}]}],
            "paging": {"cursors": {"before": "QVFIUm", "after": "QVFIUn"}},
        })
        .to_string(),
    );
    let templates = h.list_templates().expect("listed");
    assert_eq!(
        templates,
        json!([
            {"name": "hello_world", "language": "en_US", "category": "utility", "status": "approved",
             "components": [{"type": "BODY", "text": "Hello World"}]},
            {"name": "promo", "language": "es", "category": "marketing", "status": "pending",
             "components": [{"type": "HEADER", "format": "IMAGE"}, {"type": "BODY", "text": "{{1}} off"}]},
            {"name": "otp", "language": "en", "category": "authentication", "status": "rejected",
             "components": [{"type": "BODY", "text": "{{1}} is your code"}]},
        ])
    );
    let sent = h.requests();
    let urls: Vec<&str> = sent.iter().map(|r| r.url.as_str()).collect();
    assert_eq!(urls, [TEMPLATES_URL, after.as_str()]);
    assert!(sent.iter().all(|r| r.method == "GET" && r.header("authorization") == Some("Bearer EAAG-test")));
}

#[test]
fn a_next_page_elsewhere_is_not_followed_with_the_token() {
    let h = harness();
    let page = json!({"data": [], "paging": {"next": "https://graph.facebook.com.evil.test/v21.0/next"}});
    h.respond("GET", TEMPLATES_URL, 200, page.to_string());
    assert_eq!(h.list_templates().expect("listed"), json!([]));
    assert_eq!(h.requests().len(), 1);
}

#[test]
fn media_is_downloaded_from_the_url_the_graph_api_gives() {
    let h = harness();
    let download = "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=65463453&ext=1730000000&hash=ATu";
    h.respond(
        "GET",
        "https://graph.facebook.com/v21.0/65463453",
        200,
        json!({"messaging_product": "whatsapp", "url": download, "mime_type": "image/jpeg",
               "sha256": "4654+8g=", "file_size": 303_833, "id": "65463453"})
        .to_string(),
    );
    let request = h.media_request("65463453").expect("a request");
    assert_eq!((request.method.as_str(), request.url.as_str()), ("GET", download));
    assert_eq!(request.headers, vec![("authorization".to_owned(), "Bearer EAAG-test".to_owned())]);
    assert!(request.body.is_empty());
    let sent = h.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].url, "https://graph.facebook.com/v21.0/65463453");
    assert_eq!(sent[0].header("authorization"), Some("Bearer EAAG-test"));

    // The download host is one the manifest declares, so the host may fetch it.
    let granted = h.manifest().expect("plugin.toml").capabilities.outbound_hosts.clone();
    assert!(granted.iter().any(|host| host == "lookaside.fbsbx.com"), "{granted:?}");
}

#[test]
fn a_media_reference_that_is_not_an_id_is_refused_before_any_request() {
    let h = harness();
    assert_eq!(
        failure(h.media_request("../me/messages").expect_err("refused")),
        ("permanent", "`../me/messages` is not a WhatsApp media id".to_owned())
    );
    h.respond(
        "GET",
        "https://graph.facebook.com/v21.0/404",
        404,
        json!({"error": {"message": "Unsupported get request", "code": 100}}).to_string(),
    );
    assert_eq!(failure(h.media_request("404").expect_err("gone")), ("permanent", "Unsupported get request".to_owned()));
    assert_eq!(h.requests().len(), 1);
}
