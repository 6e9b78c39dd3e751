//! The e-mail channel end to end against real mail servers on loopback (Dovecot IMAP and an SMTP server,
//! `tests/mail`): a customer's e-mail opens a conversation when the channel polls the mailbox over IMAPS,
//! the agent's reply reaches the customer's mailbox over SMTP with STARTTLS, threaded and quoting, a copy
//! lands in the business's `Sent`, the customer's answer joins the same conversation, and a file the agent
//! sends arrives attached.

use reqwest::StatusCode;
use serde_json::{Value, json};
use switchboard::jobs::Worker;
use switchboard_tests::mail::{CUSTOMER, MailServer, NEWCOMER, SUPPORT, header};
use switchboard_tests::{Backend, TestServer, assert_error, both_backends};

/// A 1×1 PNG, the customer's attached receipt.
const PNG_BASE64: &str =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

fn first_mail() -> String {
    format!(
        "From: Carla Customer <customer@example.test>\r\n\
         To: Acme Support <support@example.test>\r\n\
         Subject: Order 1234\r\n\
         Message-ID: <order-1234.1@example.test>\r\n\
         Date: Mon, 30 Nov 2026 10:00:00 +0000\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"outer\"\r\n\
         \r\n\
         --outer\r\n\
         Content-Type: multipart/alternative; boundary=\"inner\"\r\n\
         \r\n\
         --inner\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         \r\n\
         Where is my order? It was due on Friday.\r\n\
         --inner\r\n\
         Content-Type: text/html; charset=utf-8\r\n\
         \r\n\
         <p onclick=\"steal()\">Where is my <b>order</b>? It was due on Friday.</p><script>alert(1)</script>\r\n\
         --inner--\r\n\
         --outer\r\n\
         Content-Type: image/png; name=\"receipt.png\"\r\n\
         Content-Disposition: attachment; filename=\"receipt.png\"\r\n\
         Content-Transfer-Encoding: base64\r\n\
         \r\n\
         {PNG_BASE64}\r\n\
         --outer--\r\n"
    )
}

fn answer_mail(reply_id: &str) -> String {
    format!(
        "From: Carla Customer <customer@example.test>\r\n\
         To: Acme Support <support@example.test>\r\n\
         Subject: Re: Order 1234\r\n\
         Message-ID: <order-1234.2@example.test>\r\n\
         In-Reply-To: <{reply_id}>\r\n\
         References: <order-1234.1@example.test> <{reply_id}>\r\n\
         Date: Mon, 30 Nov 2026 12:00:00 +0000\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         \r\n\
         Thanks, that was quick!\r\n\
         \r\n\
         On Mon, 30 Nov 2026 at 11:00, Acme Support wrote:\r\n\
         > It ships today.\r\n"
    )
}

/// A delivery status notification (RFC 3464) saying the message `id` could not be delivered.
fn bounce(id: &str) -> String {
    format!(
        "From: Mail Delivery System <mailer-daemon@example.test>\r\n\
         To: support@example.test\r\n\
         Subject: Undelivered Mail Returned to Sender\r\n\
         Message-ID: <bounce-1@example.test>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"r\"\r\n\
         \r\n\
         --r\r\n\
         Content-Type: text/plain\r\n\
         \r\n\
         Your message could not be delivered.\r\n\
         --r\r\n\
         Content-Type: message/delivery-status\r\n\
         \r\n\
         Reporting-MTA: dns; mail.example.test\r\n\
         \r\n\
         Final-Recipient: rfc822; customer@example.test\r\n\
         Action: failed\r\n\
         Status: 5.2.2\r\n\
         Diagnostic-Code: smtp; 552 5.2.2 Mailbox full\r\n\
         --r\r\n\
         Content-Type: text/rfc822-headers\r\n\
         \r\n\
         From: \"Acme Support\" <support@example.test>\r\n\
         Message-ID: <{id}>\r\n\
         Subject: Re: Order 1234\r\n\
         --r--\r\n"
    )
}

async fn server(backend: Backend, mail: &MailServer) -> TestServer {
    let ca = std::path::PathBuf::from(mail.var("MAIL_CA"));
    TestServer::start_with(backend, move |c| {
        c.plugins.allow_private_addresses = vec!["127.0.0.1".parse().expect("ip")];
        c.plugins.extra_ca_files = vec![ca];
        c.plugins.settings.insert("email".into(), toml::from_str("outbound_hosts = [\"localhost\"]").expect("toml"));
    })
    .await
}

fn channel_body(mail: &MailServer, password: &str) -> Value {
    json!({"name": "Support mailbox", "plugin_id": "email",
           "config": {"address": SUPPORT.0, "display_name": "Acme Support",
                      "imap_host": "localhost", "imap_port": mail.port("IMAPS_PORT"), "imap_security": "tls",
                      "smtp_host": "localhost", "smtp_port": mail.port("SMTP_PORT"), "smtp_security": "starttls"},
           "secrets": {"password": password}})
}

/// The conversation's messages, oldest first.
async fn messages(s: &TestServer, conversation: i64) -> Vec<Value> {
    let (status, page) = s.get(&format!("/api/v1/conversations/{conversation}/messages")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let mut items = page["items"].as_array().cloned().expect("messages");
    items.sort_by_key(|m| m["id"].as_i64());
    items
}

both_backends!(email_end_to_end, email);

async fn email(backend: Backend) {
    let Some(mail) = MailServer::start() else { return };
    let s = server(backend, &mail).await;
    let (status, channel) = s.post("/api/v1/channels", channel_body(&mail, SUPPORT.1)).await;
    assert_eq!(status, StatusCode::CREATED, "{channel}");
    let ch = channel["id"].as_i64().expect("id");

    // The customer writes; creating the channel queued its first poll, which the worker runs.
    mail.send(CUSTOMER.0, SUPPORT.0, &first_mail()).await;
    let worker = Worker::new(s.app.clone());
    while worker.run_once().await.expect("worker") {}
    let conv = s.get("/api/v1/conversations").await.1["items"][0].clone();
    let conv_id = conv["id"].as_i64().unwrap_or_else(|| panic!("no conversation: {conv}\n{}", mail.logs()));
    let contact = s.get("/api/v1/contacts").await.1["items"][0].clone();
    assert_eq!(
        (&contact["email"], &contact["first_name"], &contact["last_name"]),
        (&json!(CUSTOMER.0), &json!("Carla"), &json!("Customer")),
        "{contact}"
    );
    let inbound = messages(&s, conv_id).await;
    assert_eq!(inbound.len(), 2, "the text and its attachment: {inbound:#?}");
    let text = &inbound[0]["content"];
    assert_eq!(
        (&text["text"], &text["subject"]),
        (&json!("Where is my order? It was due on Friday."), &json!("Order 1234"))
    );
    let html = text["html"].as_str().expect("the HTML part");
    assert!(html.contains("<b>order</b>"), "{html}");
    assert!(!html.contains("script") && !html.contains("onclick"), "sanitised: {html}");
    assert_eq!(inbound[0]["provider_message_id"], "order-1234.1@example.test");
    let file = &inbound[1]["content"];
    assert_eq!(
        (&file["type"], &file["kind"], &file["filename"]),
        (&json!("media"), &json!("image"), &json!("receipt.png"))
    );
    let url = file["url"].as_str().expect("stored by the server");
    let bytes = s.http.get(format!("{}{url}", s.base)).bearer_auth(&s.token).send().await.expect("media");
    assert_eq!(bytes.headers()["content-type"], "image/png");
    use base64::Engine;
    let png = base64::engine::general_purpose::STANDARD.decode(PNG_BASE64).expect("png");
    assert_eq!(bytes.bytes().await.expect("bytes").as_ref(), png.as_slice());

    // Polling again finds nothing new: the cursor was kept after the commit.
    let (status, report) = s.post(&format!("/api/v1/channels/{ch}/poll"), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!((report["messages"].as_u64(), report["duplicates"].as_u64()), (Some(0), Some(0)), "{report}");
    // A poll that lost its cursor (a crash between the commit and keeping it) reads the mailbox again and
    // stores nothing twice.
    s.app.store.kv_delete(&format!("poll/{ch}"), "cursor").await.expect("forget the cursor");
    let (_, report) = s.post(&format!("/api/v1/channels/{ch}/poll"), json!({})).await;
    assert_eq!((report["messages"].as_u64(), report["duplicates"].as_u64()), (Some(0), Some(2)), "{report}");
    assert_eq!(messages(&s, conv_id).await.len(), 2);

    // The agent's reply: sent over SMTP (STARTTLS, AUTH), threaded under the customer's message.
    let reply = json!({"content": {"type": "text", "text": "It ships today."}});
    assert_eq!(s.post(&format!("/api/v1/conversations/{conv_id}/messages"), reply).await.0, StatusCode::ACCEPTED);
    while worker.run_once().await.expect("worker") {}
    let sent = messages(&s, conv_id).await.pop().expect("the reply");
    assert_eq!(sent["status"], "sent", "{sent}\n{}", mail.logs());
    let reply_id = sent["provider_message_id"].as_str().expect("the Message-ID").to_owned();
    assert!(reply_id.ends_with("@example.test"), "{reply_id}");
    let received = mail.messages(CUSTOMER, "INBOX").await;
    assert_eq!(received.len(), 1, "{}", mail.logs());
    let got = &received[0];
    assert_eq!(header(got, "Subject").as_deref(), Some("Re: Order 1234"));
    assert_eq!(header(got, "Message-ID"), Some(format!("<{reply_id}>")));
    assert_eq!(header(got, "In-Reply-To").as_deref(), Some("<order-1234.1@example.test>"));
    assert!(header(got, "References").is_some_and(|r| r.contains("<order-1234.1@example.test>")), "{got}");
    let from = header(got, "From").expect("From");
    assert!(from.contains("Acme Support") && from.contains(SUPPORT.0), "{from}");
    assert!(got.contains("It ships today."), "{got}");
    assert!(got.contains("> Where is my order? It was due on Friday."), "the reply quotes the customer: {got}");
    let copies = mail.messages(SUPPORT, "Sent").await;
    assert_eq!(copies.len(), 1, "a copy of the reply in the business's Sent folder");
    assert_eq!(header(&copies[0], "Message-ID"), Some(format!("<{reply_id}>")));

    // The customer answers in the thread: the same conversation, the quoted history left out of the text.
    mail.send(CUSTOMER.0, SUPPORT.0, &answer_mail(&reply_id)).await;
    let (status, report) = s.post(&format!("/api/v1/channels/{ch}/poll"), json!({})).await;
    assert_eq!((status, report["messages"].as_u64()), (StatusCode::OK, Some(1)), "{report}");
    let all = messages(&s, conv_id).await;
    assert_eq!(all.len(), 4, "{all:#?}");
    assert_eq!(all[3]["content"]["text"], "Thanks, that was quick!");
    assert_eq!(all[3]["content"]["subject"], "Re: Order 1234");
    assert_eq!(s.get("/api/v1/conversations").await.1["items"].as_array().map(Vec::len), Some(1));

    // A file the agent sends is attached to the mail, not linked (a signed link would expire before the
    // customer reads it).
    let pdf = b"%PDF-1.4 invoice".to_vec();
    let part = reqwest::multipart::Part::bytes(pdf.clone()).file_name("invoice.pdf").mime_str("application/pdf");
    let form = reqwest::multipart::Form::new().part("file", part.expect("mime"));
    let up = s.http.post(format!("{}/api/v1/media", s.base)).bearer_auth(&s.token).multipart(form).send().await;
    let uploaded: Value = up.expect("upload").json().await.expect("json");
    let file =
        json!({"content": {"type": "media", "kind": "document", "url": uploaded["url"], "caption": "Your invoice"}});
    assert_eq!(s.post(&format!("/api/v1/conversations/{conv_id}/messages"), file).await.0, StatusCode::ACCEPTED);
    while worker.run_once().await.expect("worker") {}
    let received = mail.messages(CUSTOMER, "INBOX").await;
    assert_eq!(received.len(), 2, "{}", mail.logs());
    let got = &received[1];
    assert_eq!(header(got, "Subject").as_deref(), Some("Re: Order 1234"), "still the thread");
    assert!(got.contains("Your invoice"), "{got}");
    assert!(got.contains("filename=\"invoice.pdf\""), "an attachment: {got}");
    let encoded = base64::engine::general_purpose::STANDARD.encode(&pdf);
    assert!(got.contains(&encoded), "the file's bytes, not a link: {got}");
    assert!(!got.contains("/media/"), "no link to the server: {got}");

    // The customer's server bounces that mail later: the report fails the message with the server's reason
    // instead of opening a conversation with the mailer daemon.
    let file_message = messages(&s, conv_id).await.pop().expect("the file");
    let file_id = file_message["provider_message_id"].as_str().expect("sent").to_owned();
    mail.send("mailer-daemon@example.test", SUPPORT.0, &bounce(&file_id)).await;
    let (status, report) = s.post(&format!("/api/v1/channels/{ch}/poll"), json!({})).await;
    assert_eq!((status, report["statuses"].as_u64(), report["messages"].as_u64()), (StatusCode::OK, Some(1), Some(0)));
    let bounced = messages(&s, conv_id).await.pop().expect("the file");
    assert_eq!((bounced["id"].clone(), bounced["status"].clone()), (file_message["id"].clone(), json!("failed")));
    assert!(bounced.to_string().contains("Mailbox full"), "the server's reason: {bounced}");

    // The inbound-parse webhook: a raw message POSTed with the channel's token, stored once however often
    // the service retries; without the token, refused and nothing stored.
    let (status, _) = s
        .patch(
            &format!("/api/v1/channels/{ch}"),
            json!({"secrets": {"password": SUPPORT.1,
        "inbound_token": "parse-token"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let parsed = "From: Dan Other <dan@example.test>\r\nTo: support@example.test\r\nSubject: Refund\r\n\
                  Message-ID: <refund-1@example.test>\r\n\r\nI would like a refund.\r\n";
    let hook = format!("{}/webhooks/{ch}", s.base);
    let post = |token: &'static str| s.http.post(&hook).bearer_auth(token).body(parsed).send();
    assert_eq!(post("wrong").await.expect("webhook").status(), StatusCode::UNAUTHORIZED);
    for _ in 0..2 {
        assert_eq!(post("parse-token").await.expect("webhook").status(), StatusCode::OK);
    }
    let conversations = s.get("/api/v1/conversations").await.1["items"].as_array().cloned().expect("list");
    assert_eq!(conversations.len(), 2, "Dan's message opened a conversation of its own, once");
    let dan = conversations.iter().find(|c| c["id"].as_i64() != Some(conv_id)).expect("Dan's conversation");
    let dans = messages(&s, dan["id"].as_i64().expect("id")).await;
    assert_eq!((dans.len(), &dans[0]["content"]["text"]), (1, &json!("I would like a refund.")));

    // An agent writes first to a contact who never wrote: the channel reaches contacts by e-mail address.
    let start = json!({"contact": {"first_name": "Nina", "email": "Nina@Example.test"}, "channel_id": ch,
                       "content": {"type": "text", "text": "Your refund is on its way"}});
    let (status, started) = s.post("/api/v1/conversations/start", start).await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    while worker.run_once().await.expect("worker") {}
    let first = mail.messages(NEWCOMER, "INBOX").await;
    assert_eq!(first.len(), 1, "{}", mail.logs());
    assert_eq!(header(&first[0], "Subject").as_deref(), Some("Message from Acme Support"), "a new thread");
    assert_eq!(header(&first[0], "In-Reply-To"), None);
    assert!(first[0].contains("Your refund is on its way"), "{}", first[0]);
    let no_address = json!({"contact": {"first_name": "Omar", "phone": "+971501234567"}, "channel_id": ch,
                            "content": {"type": "text", "text": "Hello"}});
    let refused = s.post("/api/v1/conversations/start", no_address).await;
    assert_error(&refused, 422, "contact_unreachable");
    assert!(refused.1.to_string().contains("no e-mail address"), "{}", refused.1);

    // A channel with a wrong password says so when polled, naming the login.
    let (status, wrong) = s
        .post(
            "/api/v1/channels",
            json!({"name": "Wrong", "plugin_id": "email",
        "config": channel_body(&mail, "nope")["config"].clone(), "secrets": {"password": "nope"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{wrong}");
    let failed = s.post(&format!("/api/v1/channels/{}/poll", wrong["id"]), json!({})).await;
    assert_error(&failed, 422, "channel_poll_failed");
    s.stop().await;
}
