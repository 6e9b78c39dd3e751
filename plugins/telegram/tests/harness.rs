//! The Telegram channel tested offline: its built component in a real host, fed recorded Bot API updates
//! and answering a fake Bot API at `https://telegram.test`.

use serde_json::{Value, json};
use switchboard_plugin_host::testing::{DEFAULT_NOW_MS, Harness, Request};
use switchboard_plugin_host::{SendError, WebhookError};
use switchboard_plugin_sdk::event::{ContactProfile, InboundEvent, OutboundMessage};

const API: &str = "https://telegram.test";
const TOKEN: &str = "123456:ABC-token";
const BOT: &str = "https://telegram.test/bot123456:ABC-token";

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", switchboard_plugin_host::plugin_dir!().display());
    serde_json::from_str(&std::fs::read_to_string(&path).expect("fixture")).expect("fixture JSON")
}

/// The secret of the shared fixture that documents the header check.
fn secret() -> String {
    fixture("webhook_secret_token.json")["valid_example"]["configured"].as_str().expect("a secret").to_owned()
}

fn harness() -> Harness {
    Harness::build(switchboard_plugin_host::plugin_dir!())
        .config(json!({ "api_base_url": API }))
        .secret("bot_token", TOKEN)
        .secret("webhook_secret", &secret())
        // The manifest declares api.telegram.org; the fake provider is granted as an admin would.
        .grant(API)
}

fn deliver(h: &Harness, update: &Value) -> Result<(Vec<InboundEvent>, u16, Value), WebhookError> {
    let request = Request::post(update.to_string()).header("X-Telegram-Bot-Api-Secret-Token", &secret());
    let (events, answer) = h.handle_webhook(request.into())?;
    Ok((events, answer.status, serde_json::from_slice(&answer.body).unwrap_or_default()))
}

fn one_message(h: &Harness, update: &Value) -> (ContactProfile, String, Option<i64>, Value) {
    let (events, status, _) = deliver(h, update).expect("accepted");
    assert_eq!(status, 200);
    match <[InboundEvent; 1]>::try_from(events) {
        Ok([InboundEvent::Message { contact, provider_message_id, timestamp_ms, content }]) => {
            (contact, provider_message_id, timestamp_ms, content)
        }
        other => panic!("expected one message, got {other:?}"),
    }
}

fn to(chat: &str, content: Value) -> OutboundMessage {
    OutboundMessage { to: chat.into(), content, ..Default::default() }
}

fn sent_ok(chat_id: i64, message_id: i64) -> String {
    json!({ "ok": true, "result": { "message_id": message_id, "chat": { "id": chat_id, "type": "private" }, "date": 1 } })
        .to_string()
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
    assert_eq!(info.name, "Telegram");
    let c = info.capabilities;
    assert!(c.text && c.media && c.interactive && c.locations && !c.templates && !c.reactions);
    assert_eq!(info.window.free_form_hours, None);
}

#[test]
fn the_secret_token_header_is_required_and_exact() {
    let h = harness();
    let update = fixture("update_message_text.json").to_string();
    let wrong = fixture("webhook_secret_token.json")["invalid_example"]["header"].as_str().expect("wrong").to_owned();
    for request in [
        Request::post(update.clone()),
        Request::post(update.clone()).header("x-telegram-bot-api-secret-token", &wrong),
        Request::post(update.clone()).header("x-telegram-bot-api-secret-token", &secret().to_uppercase()),
        Request::post(update.clone()).header("x-telegram-bot-api-secret-token", &format!("{}x", secret())),
    ] {
        let refused = h.handle_webhook(request.into());
        assert!(matches!(refused, Err(WebhookError::Unauthorized(_))), "{refused:?}");
    }
    // Checked before parsing: garbage with a bad secret is unauthorised, with the right one a bad request.
    let garbage = h.handle_webhook(Request::post("{not json").into());
    assert!(matches!(garbage, Err(WebhookError::Unauthorized(_))), "{garbage:?}");
    let garbage =
        h.handle_webhook(Request::post("{not json").header("x-telegram-bot-api-secret-token", &secret()).into());
    assert!(matches!(garbage, Err(WebhookError::BadRequest(_))), "{garbage:?}");
}

#[test]
fn no_secret_configured_accepts_nothing() {
    let h = Harness::build(switchboard_plugin_host::plugin_dir!()).secret("bot_token", TOKEN);
    let refused = h.handle_webhook(Request::post(fixture("update_message_text.json").to_string()).into());
    assert!(matches!(refused, Err(WebhookError::Unauthorized(_))), "{refused:?}");
}

#[test]
fn the_text_update_fixture_becomes_one_message() {
    let (events, status, _) = deliver(&harness(), &fixture("update_message_text.json")).expect("accepted");
    assert_eq!(status, 200);
    assert_eq!(
        events,
        vec![InboundEvent::Message {
            contact: ContactProfile {
                external_id: "218485655".into(),
                first_name: Some("Waffle".into()),
                language: Some("en".into()),
                ..Default::default()
            },
            provider_message_id: "218485655:6557".into(),
            timestamp_ms: Some(1_569_518_342_000),
            content: json!({ "type": "text", "text": "hello there" }),
        }]
    );
}

#[test]
fn a_photo_becomes_media_with_the_largest_size() {
    let update = json!({ "update_id": 2, "message": {
        "message_id": 7, "date": 1_700_000_000,
        "from": { "id": 42, "is_bot": false, "first_name": "Ada", "last_name": "Lovelace" },
        "chat": { "id": 42, "type": "private", "first_name": "Ada" },
        "photo": [
            { "file_id": "small", "file_unique_id": "s", "width": 90, "height": 60, "file_size": 1200 },
            { "file_id": "large", "file_unique_id": "l", "width": 1280, "height": 853, "file_size": 98000 },
            { "file_id": "medium", "file_unique_id": "m", "width": 320, "height": 213, "file_size": 14000 }
        ],
        "caption": "our new shop"
    }});
    let (contact, id, at, content) = one_message(&harness(), &update);
    assert_eq!((contact.first_name.as_deref(), contact.last_name.as_deref()), (Some("Ada"), Some("Lovelace")));
    assert_eq!((id.as_str(), at), ("42:7", Some(1_700_000_000_000)));
    assert_eq!(content, json!({ "type": "media", "kind": "image", "media_ref": "large", "caption": "our new shop" }));
}

#[test]
fn documents_locations_and_contacts_are_understood() {
    let h = harness();
    let with = |fields: Value| {
        let mut m =
            json!({ "message_id": 8, "date": 1, "chat": { "id": 42, "type": "private" }, "from": { "id": 42 } });
        m.as_object_mut().expect("object").extend(fields.as_object().expect("object").clone());
        one_message(&h, &json!({ "update_id": 3, "message": m })).3
    };
    assert_eq!(
        with(
            json!({ "document": { "file_id": "doc-1", "file_unique_id": "d", "file_name": "invoice.pdf", "mime_type": "application/pdf" } })
        ),
        json!({ "type": "media", "kind": "document", "media_ref": "doc-1", "filename": "invoice.pdf", "mime_type": "application/pdf" })
    );
    assert_eq!(
        with(json!({ "location": { "latitude": 52.52, "longitude": 13.405 } })),
        json!({ "type": "location", "latitude": 52.52, "longitude": 13.405 })
    );
    let card = json!({ "phone_number": "+15551234567", "first_name": "Grace", "user_id": 77 });
    assert_eq!(with(json!({ "contact": card })), json!({ "type": "contact_card", "card": card }));
    assert_eq!(
        with(json!({ "dice": { "emoji": "🎲", "value": 3 } })),
        json!({ "type": "text", "text": "[unsupported message]" })
    );
}

#[test]
fn a_group_chat_keeps_its_negative_64_bit_id_exactly() {
    // Beyond 2^53: a trip through f64 would turn this into -1001234567890123 ± a few.
    let update = json!({ "update_id": 4, "message": {
        "message_id": 4051, "date": 1,
        "from": { "id": 42, "is_bot": false, "first_name": "Ada" },
        "chat": { "id": -1_001_234_567_890_123_i64, "type": "supergroup", "title": "Support crew" },
        "text": "hi all"
    }});
    let body = update.to_string();
    assert!(body.contains("-1001234567890123"), "the raw update carries the exact id");
    let (contact, id, _, _) = one_message(&harness(), &update);
    assert_eq!(contact.external_id, "-1001234567890123");
    assert_eq!(contact.first_name.as_deref(), Some("Support crew"), "a group is named by its title");
    assert_eq!(id, "-1001234567890123:4051");

    let h = harness();
    h.respond("POST", &format!("{BOT}/sendMessage"), 200, sent_ok(-1_001_234_567_890_123, 10));
    let id = h.send(&to("-1001234567890123", json!({ "type": "text", "text": "hello group" }))).expect("sent");
    assert_eq!(id, "-1001234567890123:10");
    let body = String::from_utf8(h.requests()[0].body.clone()).expect("utf-8");
    assert!(body.contains("\"chat_id\":-1001234567890123"), "sent as an exact integer: {body}");
}

#[test]
fn an_edit_arrives_as_its_own_message() {
    let update = json!({ "update_id": 5, "edited_message": {
        "message_id": 6557, "date": 1_569_518_342, "edit_date": 1_569_518_400,
        "from": { "id": 218_485_655, "first_name": "Waffle" },
        "chat": { "id": 218_485_655, "type": "private" },
        "text": "hello there!"
    }});
    let (_, id, at, content) = one_message(&harness(), &update);
    assert_eq!((id.as_str(), at), ("218485655:6557:edit:1569518400", Some(1_569_518_400_000)));
    assert_eq!(content, json!({ "type": "text", "text": "hello there!" }));
}

#[test]
fn a_callback_query_becomes_a_reply_with_the_button_title() {
    let keyboard = json!({ "inline_keyboard": [[{ "text": "Yes please", "callback_data": "0" }], [{ "text": "No", "callback_data": "1" }]] });
    let query = |data: &str, markup: Value| {
        json!({ "update_id": 6, "callback_query": {
            "id": "4382bfdwdsb323b2d9", "chat_instance": "-8", "data": data,
            "from": { "id": 42, "is_bot": false, "first_name": "Ada", "language_code": "fr" },
            "message": { "message_id": 11, "date": 1, "chat": { "id": 42, "type": "private" }, "text": "Choose", "reply_markup": markup }
        }})
    };
    let h = harness();
    let (events, status, answer) = deliver(&h, &query("0", keyboard)).expect("accepted");
    assert_eq!(status, 200);
    assert_eq!(answer, json!({ "method": "answerCallbackQuery", "callback_query_id": "4382bfdwdsb323b2d9" }));
    assert_eq!(
        events,
        vec![InboundEvent::Message {
            contact: ContactProfile {
                external_id: "42".into(),
                first_name: Some("Ada".into()),
                language: Some("fr".into()),
                ..Default::default()
            },
            provider_message_id: "cb:4382bfdwdsb323b2d9".into(),
            timestamp_ms: Some(DEFAULT_NOW_MS),
            content: json!({ "type": "reply", "text": "Yes please", "payload": "0" }),
        }]
    );
    // Without the keyboard in the update, the data stands in for the title.
    let (_, _, _, content) = one_message(&h, &query("1", json!(null)));
    assert_eq!(content, json!({ "type": "reply", "text": "1", "payload": "1" }));
}

#[test]
fn unknown_update_kinds_are_acknowledged_without_events() {
    let update = json!({ "update_id": 7, "my_chat_member": { "chat": { "id": 42, "type": "private" }, "date": 1 } });
    let (events, status, _) = deliver(&harness(), &update).expect("accepted");
    assert_eq!((events, status), (vec![], 200));
}

#[test]
fn send_message_matches_the_documented_request_and_returns_chat_and_message_id() {
    let h = harness();
    h.respond("POST", &format!("{BOT}/sendMessage"), 200, sent_ok(427_770_117, 321));
    let id = h.send(&to("427770117", json!({ "type": "text", "text": "Choose an option" }))).expect("sent");
    assert_eq!(id, "427770117:321");
    let sent = h.requests();
    assert_eq!(
        (sent.len(), sent[0].method.as_str(), sent[0].url.as_str()),
        (1, "POST", &*format!("{BOT}/sendMessage"))
    );
    assert_eq!(sent[0].header("content-type"), Some("application/json"));
    let documented = fixture("send_message_request.json");
    assert_eq!(sent[0].json(), json!({ "chat_id": documented["chat_id"], "text": documented["text"] }));
    assert!(sent[0].json()["chat_id"].is_i64(), "numeric ids go out as numbers, as in the documented request");
}

#[test]
fn the_default_api_is_api_telegram_org() {
    let h =
        Harness::build(switchboard_plugin_host::plugin_dir!()).secret("bot_token", TOKEN).secret("webhook_secret", "s");
    h.respond("POST", "https://api.telegram.org/bot123456:ABC-token/sendMessage", 200, sent_ok(5, 6));
    assert_eq!(h.send(&to("5", json!({ "type": "text", "text": "hi" }))).expect("sent"), "5:6");
    // A username is sent as given; the answer's numeric chat id makes the provider id.
    h.respond("POST", "https://api.telegram.org/", 200, sent_ok(-100_777, 8));
    assert_eq!(h.send(&to("@news", json!({ "type": "text", "text": "hi" }))).expect("sent"), "-100777:8");
    assert_eq!(h.requests()[1].json()["chat_id"], "@news");
}

#[test]
fn media_goes_by_url_with_its_caption() {
    let h = harness();
    h.respond("POST", BOT, 200, sent_ok(42, 12));
    let photo = json!({ "type": "media", "kind": "image", "url": "https://cdn.example/p.jpg", "caption": "menu" });
    assert_eq!(h.send(&to("42", photo)).expect("sent"), "42:12");
    let file = json!({ "type": "media", "kind": "document", "url": "https://cdn.example/a.pdf", "filename": "a.pdf" });
    h.send(&to("42", file)).expect("sent");
    h.send(&to("42", json!({ "type": "media", "kind": "video", "url": "https://cdn.example/v.mp4" }))).expect("sent");
    h.send(&to("42", json!({ "type": "location", "latitude": 1.5, "longitude": -2.25 }))).expect("sent");
    let sent: Vec<(String, Value)> =
        h.requests().iter().map(|r| (r.url.trim_start_matches(BOT).to_owned(), r.json())).collect();
    assert_eq!(
        sent,
        vec![
            ("/sendPhoto".into(), json!({ "chat_id": 42, "photo": "https://cdn.example/p.jpg", "caption": "menu" })),
            ("/sendDocument".into(), json!({ "chat_id": 42, "document": "https://cdn.example/a.pdf" })),
            ("/sendVideo".into(), json!({ "chat_id": 42, "video": "https://cdn.example/v.mp4" })),
            ("/sendLocation".into(), json!({ "chat_id": 42, "latitude": 1.5, "longitude": -2.25 })),
        ]
    );
}

#[test]
fn buttons_become_an_inline_keyboard_with_their_index_as_data() {
    let h = harness();
    h.respond("POST", BOT, 200, sent_ok(427_770_117, 13));
    let question = json!({ "type": "interactive", "text": "Choose an option", "buttons": ["Yes", "No"] });
    h.send(&to("427770117", question)).expect("sent");
    let body = h.requests()[0].json();
    assert_eq!(
        body,
        json!({ "chat_id": 427_770_117, "text": "Choose an option", "reply_markup": { "inline_keyboard": [
            [{ "text": "Yes", "callback_data": "0" }],
            [{ "text": "No", "callback_data": "1" }]
        ]}})
    );
    // Same shape as the documented request (which also sets parse_mode; plain text needs none).
    let documented = fixture("send_message_request.json");
    let button_keys = |v: &Value| {
        v["reply_markup"]["inline_keyboard"][0][0].as_object().map(|o| o.keys().cloned().collect::<Vec<_>>())
    };
    assert_eq!(button_keys(&body), button_keys(&documented));
}

#[test]
fn a_list_becomes_an_inline_keyboard_of_its_rows_with_their_ids_as_data() {
    let h = harness();
    h.respond("POST", &format!("{BOT}/sendMessage"), 200, sent_ok(427_770_117, 14));
    let list = json!({
        "type": "list", "text": "Pick a size", "button": "Sizes",
        "sections": [
            { "title": "Shirts", "rows": [
                { "id": "s-m", "title": "Medium", "description": "Chest 96-101 cm" },
                { "id": null, "title": "Large", "description": null }
            ]},
            { "title": null, "rows": [{ "id": null, "title": "One size", "description": null }] }
        ]
    });
    assert_eq!(h.send(&to("427770117", list)).expect("sent"), "427770117:14");
    let sent = h.requests();
    assert_eq!((sent.len(), sent[0].url.as_str()), (1, &*format!("{BOT}/sendMessage")));
    assert_eq!(
        sent[0].json(),
        json!({ "chat_id": 427_770_117, "text": "Pick a size", "reply_markup": { "inline_keyboard": [
            [{ "text": "Medium", "callback_data": "s-m" }],
            [{ "text": "Large", "callback_data": "0.1" }],
            [{ "text": "One size", "callback_data": "1.0" }]
        ]}})
    );

    // The contact's tap comes back as a reply with the row's title and id.
    let tap = json!({ "update_id": 8, "callback_query": {
        "id": "77", "chat_instance": "-8", "data": "s-m",
        "from": { "id": 427_770_117, "is_bot": false, "first_name": "Ada" },
        "message": { "message_id": 14, "date": 1, "chat": { "id": 427_770_117, "type": "private" },
                     "text": "Pick a size", "reply_markup": sent[0].json()["reply_markup"] }
    }});
    assert_eq!(one_message(&h, &tap).3, json!({ "type": "reply", "text": "Medium", "payload": "s-m" }));
}

#[test]
fn a_list_row_id_telegram_cannot_carry_is_refused() {
    let h = harness();
    let list = |id: &str| {
        json!({ "type": "list", "text": "Pick", "button": "Open", "sections": [
            { "title": null, "rows": [{ "id": null, "title": "a" }, { "id": id, "title": "b" }] }
        ]})
    };
    // 64 bytes is the limit, counted in bytes: 32 two-byte characters fit, 33 do not.
    h.respond("POST", BOT, 200, sent_ok(42, 15));
    h.send(&to("42", list(&"é".repeat(32)))).expect("sent");
    assert_eq!(h.requests()[0].json()["reply_markup"]["inline_keyboard"][1][0]["callback_data"], "é".repeat(32));
    for (id, bytes) in [("é".repeat(33), 66), ("x".repeat(65), 65), (String::new(), 0)] {
        match h.send(&to("42", list(&id))) {
            Err(SendError::Permanent(why)) => {
                assert_eq!(why, format!("section 0, row 1: Telegram takes an id of 1 to 64 bytes, not {bytes}"));
            }
            other => panic!("{other:?}"),
        }
    }
    let empty =
        json!({ "type": "list", "text": "Pick", "button": "Open", "sections": [{ "title": null, "rows": [] }] });
    assert!(
        matches!(h.send(&to("42", empty)), Err(SendError::Permanent(why)) if why == "a list needs at least one row")
    );
    assert_eq!(h.requests().len(), 1, "only the first list was sent");
}

#[test]
fn a_contact_card_is_sent_with_send_contact() {
    let h = harness();
    h.respond("POST", &format!("{BOT}/sendContact"), 200, sent_ok(42, 16));
    let ana = json!({
        "name": { "formatted_name": "Ana Diaz", "first_name": "Ana", "last_name": "Diaz" },
        "phones": [{ "phone": "+1 555 0100", "type": "CELL", "wa_id": "15550100" }, { "phone": "+1 555 0199", "type": "WORK" }],
        "emails": [{ "email": "ana@example.com", "type": "WORK" }]
    });
    assert_eq!(h.send(&to("42", json!({ "type": "contact_card", "card": ana }))).expect("sent"), "42:16");
    // Without a first name the formatted name stands in; a one-card array is that card.
    let bo = json!({ "name": { "formatted_name": "Bo" }, "phones": [{ "phone": "+44 20 7946 0000" }] });
    h.send(&to("42", json!({ "type": "contact_card", "card": [bo] }))).expect("sent");
    let sent: Vec<(String, Value)> =
        h.requests().iter().map(|r| (r.url.trim_start_matches(BOT).to_owned(), r.json())).collect();
    assert_eq!(
        sent,
        vec![
            (
                "/sendContact".into(),
                json!({ "chat_id": 42, "phone_number": "+1 555 0100", "first_name": "Ana", "last_name": "Diaz" })
            ),
            ("/sendContact".into(), json!({ "chat_id": 42, "phone_number": "+44 20 7946 0000", "first_name": "Bo" })),
        ]
    );
}

#[test]
fn contact_cards_telegram_cannot_send_are_refused() {
    let h = harness();
    let card = |card: Value| h.send(&to("42", json!({ "type": "contact_card", "card": card })));
    let ana = json!({ "name": { "formatted_name": "Ana Diaz" }, "phones": [{ "phone": "+1 555 0100" }] });
    for (result, expected) in [
        (card(json!([ana, ana])), "Telegram sends one contact per message"),
        (
            card(json!({ "name": { "formatted_name": "Ana" }, "phones": [] })),
            "Telegram cannot send a contact card without a phone number",
        ),
        (
            card(json!({ "name": { "formatted_name": "Ana" } })),
            "Telegram cannot send a contact card without a phone number",
        ),
        (card(json!([])), "a contact card needs a contact"),
    ] {
        match result {
            Err(SendError::Permanent(why)) => assert_eq!(why, expected),
            other => panic!("{other:?}"),
        }
    }
    assert!(h.requests().is_empty(), "nothing was sent");
}

#[test]
fn bot_api_errors_are_classified() {
    let h = harness();
    let error = |code: u16, description: &str, extra: Value| {
        let mut e = json!({ "ok": false, "error_code": code, "description": description });
        if !extra.is_null() {
            e["parameters"] = extra;
        }
        h.respond("POST", BOT, code, e.to_string());
        h.send(&to("42", json!({ "type": "text", "text": "hi" }))).expect_err("refused")
    };
    assert!(matches!(error(401, "Unauthorized", Value::Null), SendError::BadCredentials(_)));
    assert!(matches!(error(404, "Not Found", Value::Null), SendError::BadCredentials(_)));
    match error(403, "Forbidden: bot was blocked by the user", Value::Null) {
        SendError::Permanent(why) => assert!(why.contains("bot was blocked by the user"), "{why}"),
        other => panic!("{other:?}"),
    }
    match error(429, "Too Many Requests: retry after 17", json!({ "retry_after": 17 })) {
        SendError::Transient(why) => assert!(why.contains("retry after 17 s"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(error(500, "Internal Server Error", Value::Null), SendError::Transient(_)));
    assert!(matches!(error(400, "Bad Request: chat not found", Value::Null), SendError::Permanent(_)));
    let unsupported = h.send(&to("42", json!({ "type": "template", "name": "x" })));
    assert!(matches!(unsupported, Err(SendError::Permanent(_))), "{unsupported:?}");
}

#[test]
fn the_token_never_shows_in_errors() {
    // No recorded answer: the host's error quotes the URL, which holds the token.
    let err = harness().send(&to("42", json!({ "type": "text", "text": "hi" }))).expect_err("no provider");
    let why = format!("{err:?}");
    assert!(matches!(err, SendError::Transient(_)) && !why.contains(TOKEN) && why.contains("<bot_token>"), "{why}");
}

#[test]
fn connect_registers_the_webhook_with_its_secret_and_disconnect_removes_it() {
    let h = harness();
    h.respond(
        "POST",
        &format!("{BOT}/setWebhook"),
        200,
        r#"{"ok":true,"result":true,"description":"Webhook was set"}"#,
    );
    h.respond("POST", &format!("{BOT}/deleteWebhook"), 200, r#"{"ok":true,"result":true}"#);
    h.connect("https://switchboard.example/webhooks/17").expect("connected");
    h.disconnect().expect("disconnected");
    let sent = h.requests();
    assert_eq!(sent[0].url, format!("{BOT}/setWebhook"));
    assert_eq!(
        sent[0].json(),
        json!({
            "url": "https://switchboard.example/webhooks/17",
            "secret_token": secret(),
            "allowed_updates": ["message", "edited_message", "callback_query"]
        })
    );
    assert_eq!(sent[1].url, format!("{BOT}/deleteWebhook"));

    h.respond(
        "POST",
        &format!("{BOT}/setWebhook"),
        401,
        r#"{"ok":false,"error_code":401,"description":"Unauthorized"}"#,
    );
    assert!(matches!(h.connect("https://switchboard.example/webhooks/17"), Err(SendError::BadCredentials(_))));
}

#[test]
fn connect_refuses_a_secret_telegram_would_refuse() {
    let h = Harness::build(switchboard_plugin_host::plugin_dir!())
        .secret("bot_token", TOKEN)
        .secret("webhook_secret", "not allowed!");
    assert!(matches!(h.connect("https://switchboard.example/webhooks/1"), Err(SendError::Permanent(_))));
    assert!(h.requests().is_empty(), "nothing was sent");
}

#[test]
fn media_request_resolves_the_file_id_to_a_download() {
    let h = harness();
    h.respond("POST", &format!("{BOT}/getFile"), 200, r#"{"ok":true,"result":{"file_id":"large","file_unique_id":"l","file_size":98000,"file_path":"photos/file_3.jpg"}}"#);
    let request = h.media_request("large").expect("a download");
    assert_eq!(h.requests()[0].json(), json!({ "file_id": "large" }));
    assert_eq!(
        (request.method.as_str(), request.url.as_str()),
        ("GET", "https://telegram.test/file/bot123456:ABC-token/photos/file_3.jpg")
    );
    h.respond(
        "POST",
        &format!("{BOT}/getFile"),
        400,
        r#"{"ok":false,"error_code":400,"description":"Bad Request: file is too big"}"#,
    );
    assert!(matches!(h.media_request("huge"), Err(SendError::Permanent(_))));
}
