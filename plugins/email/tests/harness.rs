//! The e-mail channel tested offline: its built component in a real host with a recorded mailbox, polling
//! IMAP `imap.example.test` and sending through SMTP `smtp.example.test`, fed the hand-written messages in
//! `tests/fixtures/`.

use base64::Engine as _;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use switchboard_plugin_host::testing::{Harness, Request};
use switchboard_plugin_host::{PollError, SendError, WebhookError};
use switchboard_plugin_sdk::event::{ContactProfile, DeliveryStatus, InboundEvent, OutboundMessage};

const IMAP: &str = "imap.example.test";
const SMTP: &str = "smtp.example.test";
const ANNA: &str = "anna.mueller@example.org";

/// A fixture with CRLF line endings, whatever a checkout did to them.
fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", switchboard_plugin_host::plugin_dir!().display());
    let text = std::fs::read_to_string(&path).expect("fixture");
    text.replace("\r\n", "\n").replace('\n', "\r\n").into_bytes()
}

fn settings() -> Value {
    json!({
        "address": "Hello@Shop.example",
        "display_name": "Shop",
        "imap_host": IMAP,
        "smtp_host": SMTP,
        // Numbers arrive as text or as numbers.
        "smtp_port": "587",
        "imap_port": 993,
    })
}

fn harness_with(config: Value) -> Harness {
    Harness::build(switchboard_plugin_host::plugin_dir!())
        .config(config)
        .secret("password", "pw")
        .grant(IMAP)
        .grant(SMTP)
}

fn harness() -> Harness {
    harness_with(settings())
}

fn text_to(to: &str, text: &str, reference: &str) -> OutboundMessage {
    OutboundMessage {
        to: to.into(),
        content: json!({ "type": "text", "text": text }),
        reference: reference.into(),
        ..Default::default()
    }
}

/// (provider id, contact, content) of each message event.
fn messages(events: &[InboundEvent]) -> Vec<(String, ContactProfile, Value)> {
    events
        .iter()
        .filter_map(|e| match e {
            InboundEvent::Message { provider_message_id, contact, content, .. } => {
                Some((provider_message_id.clone(), contact.clone(), content.clone()))
            }
            _ => None,
        })
        .collect()
}

/// A header of a raw message, unfolded, with RFC 2047 encoded words decoded.
fn header(raw: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(raw);
    let head = text.split("\r\n\r\n").next().unwrap_or_default().replace("\r\n ", " ").replace("\r\n\t", " ");
    let value = head.split("\r\n").find_map(|line| {
        let (field, value) = line.split_once(':')?;
        field.eq_ignore_ascii_case(name).then(|| value.trim().to_owned())
    })?;
    Some(decode_words(&value))
}

/// `=?utf-8?B?…?=` and `=?utf-8?Q?…?=` words decoded; the space between two of them dropped.
fn decode_words(value: &str) -> String {
    let mut out: Vec<u8> = Vec::new();
    let mut last_was_word = false;
    for token in value.split(' ').filter(|t| !t.is_empty()) {
        let word = token
            .strip_prefix("=?")
            .and_then(|t| t.strip_suffix("?="))
            .and_then(|t| t.splitn(3, '?').collect::<Vec<_>>().try_into().ok())
            .map(|[_, encoding, text]: [&str; 3]| match encoding {
                "B" | "b" => base64::engine::general_purpose::STANDARD.decode(text).expect("base64 word"),
                _ => quoted_printable(&text.replace('_', " ")),
            });
        let separated = !(out.is_empty() || (word.is_some() && last_was_word));
        if separated {
            out.push(b' ');
        }
        last_was_word = word.is_some();
        out.extend(word.unwrap_or_else(|| token.as_bytes().to_vec()));
    }
    String::from_utf8(out).expect("UTF-8 header")
}

fn quoted_printable(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).expect("hex");
            out.push(u8::from_str_radix(hex, 16).expect("hex byte"));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

fn decoded(data: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(data.as_str().expect("data")).expect("standard base64")
}

#[test]
fn describes_a_text_and_file_channel_without_a_window() {
    let info = harness().describe_channel();
    assert_eq!((info.id.as_str(), info.name.as_str()), ("email", "E-mail"));
    assert!(info.capabilities.text && info.capabilities.media);
    assert!(!info.capabilities.templates && !info.capabilities.interactive && !info.capabilities.reactions);
    assert!(!info.capabilities.locations);
    assert_eq!(info.window.free_form_hours, None);
}

#[test]
fn polling_reads_the_mailbox_into_threaded_events() {
    let h = harness();
    let html_only = fixture("04-html-only.eml");
    for (uid, name) in [(1, "01-alternative-utf8.eml"), (2, "02-reply.eml"), (3, "03-attachments.eml")] {
        h.mail_message("INBOX", uid, fixture(name));
    }
    h.mail_message("INBOX", 4, html_only.clone());
    let (events, cursor, more) = h.poll("").expect("polled");
    assert_eq!((cursor.as_str(), more), ("1:4", false));
    let got = messages(&events);
    assert_eq!(got.len(), 6, "{events:#?}");

    // A multipart/alternative message with a quoted-printable UTF-8 body and an encoded subject.
    let anna = ContactProfile {
        external_id: ANNA.into(),
        email: Some(ANNA.into()),
        first_name: Some("Anna".into()),
        last_name: Some("Müller".into()),
        ..Default::default()
    };
    assert_eq!(
        events[0],
        InboundEvent::Message {
            contact: anna,
            provider_message_id: "m1.anna@example.org".into(),
            // Mon, 05 Jan 2026 09:30:00 +0100
            timestamp_ms: Some(1_767_601_800_000),
            content: json!({
                "type": "text",
                "text": "Hallo, können wir morgen um 19 Uhr einen Tisch für vier Personen reservieren?\n\nGrüße\nAnna",
                "subject": "Café order – table for four",
                "html": "<p>Hallo, können wir morgen um 19 Uhr einen Tisch für vier Personen reservieren?</p><p>Grüße<br>Anna</p>",
            }),
        }
    );

    // The reply from another address lands in Anna's conversation, its quoted history cut.
    let (id, contact, content) = &got[1];
    assert_eq!(id, "m2.anna@work.example");
    assert_eq!(contact, &ContactProfile { external_id: ANNA.into(), email: Some(ANNA.into()), ..Default::default() });
    assert_eq!(
        content,
        &json!({ "type": "text", "text": "Make it six people, please.\n\nAnna", "subject": "Re: Café order – table for four" })
    );

    // The text, then each attachment as media with its bytes.
    let (id, bob, content) = &got[2];
    assert_eq!((id.as_str(), bob.external_id.as_str()), ("inv-77@example.net", "bob@example.net"));
    assert_eq!((bob.first_name.as_deref(), bob.last_name.as_deref()), (Some("Bob"), Some("Stone")));
    assert_eq!(content["text"], "Hello,\n\nplease find the invoice and our logo attached.\n\nBob");
    assert_eq!(content["subject"], "Invoice March");
    let (id, _, pdf) = &got[3];
    assert_eq!(id, "inv-77@example.net#1");
    assert_eq!((pdf["type"].as_str(), pdf["kind"].as_str()), (Some("media"), Some("document")));
    assert_eq!(
        (pdf["mime_type"].as_str(), pdf["filename"].as_str()),
        (Some("application/pdf"), Some("invoice-march.pdf"))
    );
    assert!(decoded(&pdf["data"]).starts_with(b"%PDF-1.4\n"));
    let (id, _, png) = &got[4];
    assert_eq!(id, "inv-77@example.net#2");
    assert_eq!(
        (png["kind"].as_str(), png["mime_type"].as_str(), png["filename"].as_str()),
        (Some("image"), Some("image/png"), Some("logo.png"))
    );
    assert!(decoded(&png["data"]).starts_with(b"\x89PNG\r\n\x1a\n"));

    // HTML only: sanitised, turned into text, named by its content for want of a Message-ID.
    let (id, _, content) = &got[5];
    assert_eq!(id, &format!("{}@switchboard", hex::encode(Sha256::digest(&html_only))));
    let html = content["html"].as_str().expect("html");
    for banned in ["<script", "onclick", "onmouseover", "javascript:", "<img", "document.cookie", "alert("] {
        assert!(!html.contains(banned), "{banned} in {html}");
    }
    assert!(html.contains("href=\"https://example.com/help\""), "{html}");
    assert!(content["text"].as_str().is_some_and(|t| t.contains("Please confirm or read") && !t.contains("alert")));

    // Threading state, then nothing new.
    let thread: Value = serde_json::from_slice(&h.kv_get(&format!("thread:{ANNA}")).expect("thread")).expect("JSON");
    assert_eq!(thread["message_ids"], json!(["m1.anna@example.org", "m2.anna@work.example"]));
    assert_eq!(h.kv_get("mid:m2.anna@work.example").as_deref(), Some(ANNA.as_bytes()));
    let (events, cursor, more) = h.poll(&cursor).expect("polled again");
    assert!(events.is_empty(), "{events:?}");
    assert_eq!((cursor.as_str(), more), ("1:4", false));
    // A new UIDVALIDITY means the UIDs started over: the mailbox is read again from the start.
    let (events, cursor, _) = h.poll("7:4").expect("polled after a UIDVALIDITY change");
    assert_eq!((messages(&events).len(), cursor.as_str()), (6, "1:4"));
}

#[test]
fn a_reply_goes_out_in_the_thread_and_is_kept_in_sent() {
    let h = harness();
    h.mail_message("INBOX", 1, fixture("01-alternative-utf8.eml"));
    h.mail_message("INBOX", 2, fixture("02-reply.eml"));
    h.poll("").expect("polled");

    let id = h.send(&text_to(ANNA, "Six people it is.\nSee you at 7 pm!", "out-1")).expect("sent");
    assert_eq!(id, "sb.out-1@shop.example");
    let sent = h.mail_sent();
    assert_eq!(sent.len(), 1);
    let mail = &sent[0];
    assert_eq!((mail.host.as_str(), mail.port), (SMTP, 587));
    assert_eq!((mail.from.as_str(), mail.recipients.clone()), ("hello@shop.example", vec![ANNA.to_owned()]));
    let raw = &mail.raw;
    assert_eq!(header(raw, "From").as_deref(), Some("\"Shop\" <hello@shop.example>"));
    assert_eq!(header(raw, "To").as_deref(), Some(&*format!("<{ANNA}>")));
    assert_eq!(header(raw, "Subject").as_deref(), Some("Re: Café order – table for four"));
    assert_eq!(header(raw, "Message-ID").as_deref(), Some("<sb.out-1@shop.example>"));
    assert_eq!(header(raw, "In-Reply-To").as_deref(), Some("<m2.anna@work.example>"));
    assert_eq!(header(raw, "References").as_deref(), Some("<m1.anna@example.org> <m2.anna@work.example>"));
    let text = String::from_utf8_lossy(raw);
    assert!(text.contains("multipart/alternative") && text.contains("text/html"), "{text}");
    let quoted = "Six people it is.\r\nSee you at 7 pm!\r\n\r\nOn Mon, 5 Jan 2026 10:15:00 +0100, Anna M. wrote:\r\n\
                  > Make it six people, please.\r\n>\r\n> Anna\r\n";
    assert!(text.contains(quoted), "{text}");
    assert!(text.contains("<blockquote type=\"cite\">"), "{text}");

    assert_eq!(h.mail_appended(), vec![("Sent".to_owned(), raw.clone())]);
    // Our own message showing up in the inbox (a copy to ourselves) is not the contact's.
    h.mail_message("INBOX", 3, raw.clone());
    let (events, cursor, _) = h.poll("1:2").expect("polled");
    assert_eq!((events.len(), cursor.as_str()), (0, "1:3"));
    assert!(h.kv_get("sent:sb.out-1@shop.example").is_some());
    let thread: Value = serde_json::from_slice(&h.kv_get(&format!("thread:{ANNA}")).expect("thread")).expect("JSON");
    assert_eq!(thread["message_ids"][2], "sb.out-1@shop.example");

    // A new contact: the default subject, nothing to answer; a subject of our own wins.
    h.send(&text_to("new@example.net", "Hello!", "out-2")).expect("sent");
    let first = &h.mail_sent()[1].raw;
    assert_eq!(header(first, "Subject").as_deref(), Some("Message from Shop"));
    assert_eq!(header(first, "In-Reply-To"), None);
    let own = OutboundMessage {
        to: "new@example.net".into(),
        content: json!({ "type": "text", "text": "Your order shipped.", "subject": "Order 42" }),
        reference: "out-3".into(),
        ..Default::default()
    };
    h.send(&own).expect("sent");
    let second = &h.mail_sent()[2].raw;
    assert_eq!(header(second, "Subject").as_deref(), Some("Order 42"));
    assert_eq!(header(second, "In-Reply-To").as_deref(), Some("<sb.out-2@shop.example>"));

    // Files go as links, the caption first.
    let file = OutboundMessage {
        to: "new@example.net".into(),
        content: json!({ "type": "media", "kind": "document", "url": "https://files.test/a.pdf", "filename": "a.pdf", "caption": "Your invoice" }),
        reference: "out-4".into(),
        ..Default::default()
    };
    h.send(&file).expect("sent");
    let body = String::from_utf8_lossy(&h.mail_sent()[3].raw).into_owned();
    assert!(body.contains("Your invoice\r\n\r\na.pdf: https://files.test/a.pdf\r\n"), "{body}");
}

#[test]
fn no_copies_are_kept_when_the_sent_mailbox_is_empty() {
    let mut config = settings();
    config["sent_mailbox"] = json!("");
    let h = harness_with(config);
    h.send(&text_to("new@example.net", "Hello!", "out-1")).expect("sent");
    assert_eq!(h.mail_sent().len(), 1);
    assert!(h.mail_appended().is_empty());
}

#[test]
fn a_bounce_of_our_message_becomes_its_failed_status() {
    let h = harness();
    // Before we sent anything the report is just a message from the mailer daemon, its parts as files.
    h.mail_message("INBOX", 1, fixture("05-bounce.eml"));
    let (events, cursor, _) = h.poll("").expect("polled");
    let got = messages(&events);
    assert_eq!(got.len(), 3, "{events:?}");
    assert_eq!(got[0].0, "20260105100005.A1B2C@mx.shop.example");
    assert_eq!(got[0].1.external_id, "mailer-daemon@mx.shop.example");
    assert_eq!(got[1].2["mime_type"], "message/delivery-status");

    h.send(&text_to("nobody@example.net", "Your order shipped.", "out-bounce-1")).expect("sent");
    h.mail_message("INBOX", 2, fixture("05-bounce.eml"));
    let (events, cursor, more) = h.poll(&cursor).expect("polled");
    assert_eq!((cursor.as_str(), more), ("1:2", false));
    assert_eq!(
        events,
        vec![InboundEvent::Status {
            provider_message_id: "sb.out-bounce-1@shop.example".into(),
            status: DeliveryStatus::Failed,
            reason: Some("550 5.1.1 <nobody@example.net>: Recipient address rejected: User unknown".into()),
            // Mon, 05 Jan 2026 11:00:05 +0100
            timestamp_ms: Some(1_767_607_205_000),
        }]
    );
}

#[test]
fn the_inbound_webhook_takes_raw_mail_with_the_token() {
    let raw = fixture("01-alternative-utf8.eml");
    let off = harness().handle_webhook(Request::post(raw.clone()).header("Authorization", "Bearer t-1").into());
    assert!(
        matches!(&off, Err(WebhookError::Unauthorized(why)) if why == "the inbound webhook is off: set the inbound_token secret"),
        "{off:?}"
    );

    let h = harness().secret("inbound_token", "t-1");
    let post = || Request::post(raw.clone()).header("Content-Type", "message/rfc822");
    let (events, answer) = h.handle_webhook(post().header("Authorization", "Bearer t-1").into()).expect("accepted");
    assert_eq!((answer.status, answer.body.len()), (200, 0));
    assert_eq!(messages(&events)[0].0, "m1.anna@example.org");
    let (events, _) = h.handle_webhook(post().query("token=t-1").into()).expect("accepted by query");
    assert_eq!(events.len(), 1);
    for wrong in [post().header("Authorization", "Bearer t-2"), post().query("token=t-"), post()] {
        let refused = h.handle_webhook(wrong.into());
        assert!(matches!(refused, Err(WebhookError::Unauthorized(_))), "{refused:?}");
    }
    let get = h.handle_webhook(Request::get("token=t-1").into());
    assert!(matches!(get, Err(WebhookError::BadRequest(_))), "{get:?}");
}

/// A message from `from` with one attachment of `size` bytes.
fn with_attachment(from: &str, id: &str, size: usize) -> Vec<u8> {
    let bytes: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
    let encoded = base64::engine::general_purpose::STANDARD.encode(&bytes);
    let lines: Vec<&str> = encoded.as_bytes().chunks(76).map(|c| std::str::from_utf8(c).expect("ascii")).collect();
    format!(
        "From: {from}\r\nTo: hello@shop.example\r\nSubject: Files\r\nMessage-ID: <{id}>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"f\"\r\n\r\n--f\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n\
         --f\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"big.bin\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--f--\r\n",
        lines.join("\r\n")
    )
    .into_bytes()
}

#[test]
fn large_attachments_stay_in_the_mailbox() {
    // Above 2 MiB: named, not copied.
    let h = harness().secret("inbound_token", "t-1");
    let big = with_attachment("a@example.org", "big@example.org", 2_621_440);
    let (events, _) =
        h.handle_webhook(Request::post(big).header("Authorization", "Bearer t-1").into()).expect("accepted");
    let got = messages(&events);
    assert_eq!(got[1].0, "big@example.org#1");
    assert_eq!(
        got[1].2,
        json!({ "type": "text", "text": "[attachment big.bin (2.5 MiB) too large to copy; it is still in the mailbox]" })
    );

    // Two messages whose files do not fit one poll's budget together: the second waits for the next poll.
    let h = harness();
    h.mail_message("INBOX", 1, with_attachment("a@example.org", "one@example.org", 1_300_000));
    h.mail_message("INBOX", 2, with_attachment("b@example.org", "two@example.org", 1_300_000));
    let (events, cursor, more) = h.poll("").expect("polled");
    let ids: Vec<String> = messages(&events).into_iter().map(|(id, _, _)| id).collect();
    assert_eq!(ids, vec!["one@example.org", "one@example.org#1"]);
    assert_eq!((cursor.as_str(), more), ("1:1", true));
    assert_eq!(messages(&events)[1].2["kind"], "document");
    let (events, cursor, more) = h.poll(&cursor).expect("polled");
    let ids: Vec<String> = messages(&events).into_iter().map(|(id, _, _)| id).collect();
    assert_eq!(ids, vec!["two@example.org", "two@example.org#1"]);
    assert_eq!((cursor.as_str(), more), ("1:2", false));
}

#[test]
fn errors_name_what_is_wrong() {
    // Plugin-side refusals.
    let h = harness();
    let location = OutboundMessage {
        to: ANNA.into(),
        content: json!({ "type": "location", "latitude": 1.0, "longitude": 2.0 }),
        ..Default::default()
    };
    let refused = h.send(&location);
    assert!(
        matches!(&refused, Err(SendError::Permanent(why)) if why == "e-mail sends text and files only"),
        "{refused:?}"
    );
    let refused = h.send(&text_to("not an address", "hi", "r"));
    assert!(matches!(refused, Err(SendError::Permanent(_))), "{refused:?}");
    let no_password = Harness::build(switchboard_plugin_host::plugin_dir!()).config(settings()).grant(SMTP);
    let refused = no_password.send(&text_to(ANNA, "hi", "r"));
    assert!(matches!(refused, Err(SendError::BadCredentials(_))), "{refused:?}");

    // The host's refusals: a server that is not granted, a mailbox that does not exist.
    let ungranted = Harness::build(switchboard_plugin_host::plugin_dir!()).config(settings()).secret("password", "pw");
    let refused = ungranted.send(&text_to(ANNA, "hi", "r"));
    assert!(matches!(refused, Err(SendError::Permanent(_))), "{refused:?}");
    assert!(ungranted.mail_sent().is_empty());
    let refused = ungranted.poll("");
    assert!(matches!(refused, Err(PollError::Permanent(_))), "{refused:?}");
    let refused = h.poll("");
    assert!(matches!(&refused, Err(PollError::Permanent(why)) if why.contains("INBOX")), "{refused:?}");

    // Settings: `connect` checks them without touching the network.
    h.connect("https://switchboard.test/webhooks/1").expect("valid settings");
    for (key, value) in [("smtp_security", json!("ssl3")), ("imap_port", json!("imap")), ("smtp_host", json!(""))] {
        let mut config = settings();
        config[key] = value;
        let refused = harness_with(config).connect("https://switchboard.test/webhooks/1");
        assert!(matches!(&refused, Err(SendError::Permanent(why)) if why.contains(key)), "{key}: {refused:?}");
    }
    let mut webhook_only = settings();
    webhook_only["imap_host"] = Value::Null;
    let refused = harness_with(webhook_only).poll("");
    assert!(matches!(&refused, Err(PollError::Permanent(why)) if why.contains("imap_host")), "{refused:?}");
}
