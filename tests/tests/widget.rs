//! The website chat through its public endpoints: visitor sessions signed per chat, messages in, the
//! agent's reply out through the webchat plugin and the live stream, the pre-chat form, allowed origins,
//! CORS and rate limits. The same flow in a real browser is tests/browser.rs.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use switchboard::jobs::Worker;
use switchboard_tests::{Backend, TestServer, assert_error, both_backends};

async fn chat(s: &TestServer, name: &str, config: Value) -> i64 {
    let (status, channel) =
        s.post("/api/v1/channels", json!({"name": name, "plugin_id": "webchat", "config": config})).await;
    assert_eq!(status, StatusCode::CREATED, "{channel}");
    channel["id"].as_i64().expect("id")
}

/// A public request (no API credentials), optionally with a visitor token and an Origin.
async fn public(
    s: &TestServer,
    method: Method,
    path: &str,
    token: Option<&str>,
    origin: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = s.http.request(method, format!("{}{path}", s.base));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(o) = origin {
        req = req.header("origin", o);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn session(s: &TestServer, chat: i64, token: Option<&str>) -> Value {
    let (status, body) =
        public(s, Method::POST, &format!("/widget/{chat}/session"), None, None, Some(json!({"token": token}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn say(s: &TestServer, chat: i64, token: &str, body: Value) -> (StatusCode, Value) {
    public(s, Method::POST, &format!("/widget/{chat}/messages"), Some(token), None, Some(body)).await
}

both_backends!(visitor_and_agent_talk, visitor_and_agent_talk_body);

async fn visitor_and_agent_talk_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let chat = chat(&s, "Website", json!({"title": "Talk to Acme", "color": "#112233"})).await;
    let (status, config) = public(&s, Method::GET, &format!("/widget/{chat}/config"), None, None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        config,
        json!({"channel_id": chat, "title": "Talk to Acme", "greeting": null,
               "color": "#112233", "prechat": "off"})
    );

    let vera = session(&s, chat, None).await;
    let token = vera["token"].as_str().expect("token").to_owned();
    let again = session(&s, chat, Some(&token)).await;
    assert_eq!(again["visitor_id"], vera["visitor_id"], "a valid token resumes the same visitor");
    let other = session(&s, chat, Some("v1.00000000000000000000000000000000.forged")).await;
    assert_ne!(other["visitor_id"], vera["visitor_id"], "a forged token starts a new visitor");

    let hello = json!({"client_id": "6f1c0f4e-1", "text": "Hello, is the blue one in stock?", "name": "Vera Visitor"});
    let (status, sent) = say(&s, chat, &token, hello.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    assert_eq!((sent["direction"].as_str(), sent["client_id"].as_str()), (Some("incoming"), Some("6f1c0f4e-1")));
    // The same message again (a retry after a lost answer) is stored once.
    let (status, repeat) = say(&s, chat, &token, hello).await;
    assert_eq!((status, repeat["id"].clone()), (StatusCode::CREATED, sent["id"].clone()));

    // The team sees a contact named from the visitor's answer, and a conversation with the message.
    let conv = s.get("/api/v1/conversations").await.1["items"][0].clone();
    let conv_id = conv["id"].as_i64().expect("conversation");
    let contact = s.get(&format!("/api/v1/contacts/{}", conv["contact_id"])).await.1;
    assert_eq!((contact["first_name"].as_str(), contact["last_name"].as_str()), (Some("Vera"), Some("Visitor")));
    let messages = s.get(&format!("/api/v1/conversations/{conv_id}/messages")).await.1["items"].clone();
    assert_eq!(messages.as_array().map(Vec::len), Some(1), "{messages}");

    // A live stream is open when the agent replies: the reply arrives on it without asking again.
    let stream_url = format!("{}/widget/{chat}/stream?token={token}&after={}", s.base, sent["id"]);
    let mut stream = s.http.get(stream_url).send().await.expect("stream");
    assert_eq!(stream.status(), StatusCode::OK);
    assert!(stream.headers()["content-type"].to_str().expect("type").starts_with("text/event-stream"));
    let (status, reply) = s
        .post(
            &format!("/api/v1/conversations/{conv_id}/messages"),
            json!({"content": {"type": "text", "text": "Yes, 3 left!"}}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{reply}");
    let mut seen = String::new();
    while !seen.contains("Yes, 3 left!") {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), stream.chunk())
            .await
            .expect("the reply is streamed within 10 s")
            .expect("read")
            .expect("stream open");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(seen.contains("event: message") && seen.contains(&format!("id: {}", reply["id"])), "{seen}");
    assert!(seen.contains("\"sender_name\":\"Olivia Owner\""), "{seen}");
    drop(stream);

    // The webchat plugin accepts the reply: sent, under the server's own reference.
    assert!(Worker::new(s.app.clone()).run_once().await.expect("worker"));
    let reply = s.get(&format!("/api/v1/conversations/{conv_id}/messages")).await.1["items"][0].clone();
    assert_eq!(reply["status"], "sent", "{reply}");
    assert_eq!(reply["provider_message_id"], format!("webchat.m{}", reply["id"]));

    // After a reload the widget reads its history: both messages, oldest first.
    let (status, history) =
        public(&s, Method::GET, &format!("/widget/{chat}/messages?after=0"), Some(&token), None, None).await;
    assert_eq!(status, StatusCode::OK);
    let texts: Vec<&str> =
        history["messages"].as_array().expect("list").iter().filter_map(|m| m["text"].as_str()).collect();
    assert_eq!(texts, ["Hello, is the blue one in stock?", "Yes, 3 left!"]);

    // Another visitor of the same chat sees none of it.
    let stranger = session(&s, chat, None).await["token"].as_str().expect("token").to_owned();
    let (_, theirs) = public(&s, Method::GET, &format!("/widget/{chat}/messages"), Some(&stranger), None, None).await;
    assert_eq!(theirs["messages"], json!([]));
    s.stop().await;
}

both_backends!(visitors_are_checked, visitors_are_checked_body);

async fn visitors_are_checked_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let shop = chat(&s, "Shop", json!({"prechat": "required", "allowed_origins": ["https://shop.example"]})).await;
    let other = chat(&s, "Blog", json!({})).await;
    let origin = Some("https://shop.example");

    // A token is good for one chat only, and is required.
    let token = session(&s, other, None).await["token"].as_str().expect("token").to_owned();
    let msg = json!({"client_id": "a-1", "text": "hi", "name": "Ann", "email": "ann@example.test"});
    let wrong_chat =
        public(&s, Method::POST, &format!("/widget/{shop}/messages"), Some(&token), origin, Some(msg.clone())).await;
    assert_error(&wrong_chat, 401, "visitor_token_invalid");
    let none = public(&s, Method::POST, &format!("/widget/{other}/messages"), None, None, Some(msg.clone())).await;
    assert_error(&none, 401, "visitor_token_invalid");
    let stream = public(&s, Method::GET, &format!("/widget/{other}/stream?token=nope"), None, None, None).await;
    assert_error(&stream, 401, "visitor_token_invalid");

    // The allowed origins are enforced; the pre-chat form is required before the first message.
    let (status, body) = public(
        &s,
        Method::POST,
        &format!("/widget/{shop}/session"),
        None,
        Some("https://evil.example"),
        Some(json!({})),
    )
    .await;
    assert_error(&(status, body), 403, "forbidden");
    let (status, body) =
        public(&s, Method::POST, &format!("/widget/{shop}/session"), None, origin, Some(json!({}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let shop_token = body["token"].as_str().expect("token").to_owned();
    let url = format!("/widget/{shop}/messages");
    let bare =
        public(&s, Method::POST, &url, Some(&shop_token), origin, Some(json!({"client_id": "b-1", "text": "hi"})))
            .await;
    assert_error(&bare, 422, "prechat_required");
    let bad_email = json!({"client_id": "b-1", "text": "hi", "name": "Bo", "email": "not-an-email"});
    assert_error(
        &public(&s, Method::POST, &url, Some(&shop_token), origin, Some(bad_email)).await,
        422,
        "validation_failed",
    );
    let empty = json!({"client_id": "b-1", "text": "   ", "name": "Bo", "email": "bo@example.test"});
    assert_error(
        &public(&s, Method::POST, &url, Some(&shop_token), origin, Some(empty)).await,
        422,
        "validation_failed",
    );
    let good = json!({"client_id": "b-1", "text": "hi", "name": "Bo", "email": "bo@example.test"});
    assert_eq!(public(&s, Method::POST, &url, Some(&shop_token), origin, Some(good)).await.0, StatusCode::CREATED);
    // Once known, the visitor does not fill the form again.
    let later = json!({"client_id": "b-2", "text": "and another thing"});
    assert_eq!(public(&s, Method::POST, &url, Some(&shop_token), origin, Some(later)).await.0, StatusCode::CREATED);
    assert_eq!(session(&s, other, None).await["name"], Value::Null);

    // Nothing gets in through the provider webhook of a website chat.
    let forged =
        s.http.post(format!("{}/webhooks/{other}", s.base)).body(r#"{"text":"forged"}"#).send().await.expect("post");
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
    // Another plugin's channel is not a chat.
    let (status, wa) = s
        .post(
            "/api/v1/channels",
            json!({"name": "Ex", "plugin_id": "example-channel",
            "config": {"base_url": "http://127.0.0.1:9"}, "secrets": {"shared_secret": "x"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{wa}");
    let not_chat = public(&s, Method::GET, &format!("/widget/{}/config", wa["id"]), None, None, None).await;
    assert_error(&not_chat, 404, "not_found");

    // CORS: a browser on another origin may call the chat with the visitor token header.
    let preflight = s
        .http
        .request(Method::OPTIONS, format!("{}/widget/{other}/messages", s.base))
        .header("origin", "https://any.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization, content-type")
        .send()
        .await
        .expect("preflight");
    assert!(preflight.status().is_success(), "{:?}", preflight);
    assert_eq!(preflight.headers()["access-control-allow-origin"], "*");
    let allowed = preflight.headers()["access-control-allow-headers"].to_str().expect("headers").to_ascii_lowercase();
    assert!(allowed.contains("authorization") && allowed.contains("content-type"), "{allowed}");

    // A visitor posting in a loop is stopped with 429 and Retry-After.
    let mut limited = None;
    for i in 0..30 {
        let m = json!({"client_id": format!("flood-{i}"), "text": "spam"});
        let resp = s
            .http
            .post(format!("{}/widget/{other}/messages", s.base))
            .bearer_auth(&token)
            .json(&m)
            .send()
            .await
            .expect("post");
        if resp.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(resp.headers().contains_key("retry-after"));
            limited = Some((i, resp.json::<Value>().await.expect("json")));
            break;
        }
        assert_eq!(resp.status(), StatusCode::CREATED);
    }
    let (at, body) = limited.expect("the flood is limited");
    assert_eq!(body["error"]["code"], "rate_limited");
    assert!(at >= 10, "the burst allowance comes first (limited at {at})");

    // The script itself is served to any page.
    let script = s.http.get(format!("{}/widget.js", s.base)).send().await.expect("script");
    assert_eq!(script.status(), StatusCode::OK);
    assert!(script.headers()["content-type"].to_str().expect("type").starts_with("text/javascript"));
    s.stop().await;
}

both_backends!(typing_indicators_pass_both_ways, typing_both_ways);

async fn typing_both_ways(backend: Backend) {
    use switchboard_tests::inbox::{frame, stream};
    let s = TestServer::start(backend).await;
    let chat = chat(&s, "Website", json!({})).await;
    let token = session(&s, chat, None).await["token"].as_str().expect("token").to_owned();
    let typing = format!("/widget/{chat}/typing");
    // Before the first message there is no conversation to show it in: accepted, nothing to see.
    let (status, _) = public(&s, Method::POST, &typing, Some(&token), None, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = public(&s, Method::POST, &typing, Some("v1.forged.token"), None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, sent) = say(&s, chat, &token, json!({"client_id": "c-1", "text": "Hi"})).await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    let conv_id = s.get("/api/v1/conversations").await.1["items"][0]["id"].as_i64().expect("conversation");

    // The visitor types: an agent's realtime stream shows it, with no sequence number.
    let mut ws = stream(&s, &s.token, "", None).await.expect("connect");
    assert_eq!(frame(&mut ws).await["type"], "ready");
    let (status, _) = public(&s, Method::POST, &typing, Some(&token), None, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let got = frame(&mut ws).await;
    assert_eq!(got["type"], "typing", "{got}");
    assert_eq!(got["typing"]["conversation_id"], json!(conv_id));
    assert_eq!(got["typing"]["actor"]["kind"], json!("contact"));
    assert!(got.get("seq").is_none() && got["typing"].get("seq").is_none());

    // The agent types: the visitor's chat stream shows who.
    let stream_url = format!("{}/widget/{chat}/stream?token={token}&after={}", s.base, sent["id"]);
    let mut chat_stream = s.http.get(stream_url).send().await.expect("stream");
    assert_eq!(
        s.call(Method::POST, &format!("/api/v1/conversations/{conv_id}/typing"), Some(&s.token), None).await.0,
        StatusCode::NO_CONTENT
    );
    let mut seen = String::new();
    while !seen.contains("event: typing") {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), chat_stream.chunk())
            .await
            .expect("the indicator is streamed within 10 s")
            .expect("read")
            .expect("stream open");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(seen.contains("\"name\":\"Olivia Owner\""), "{seen}");
    // An agent's own typing is not echoed to them; a closed conversation takes none.
    assert_eq!(s.post(&format!("/api/v1/conversations/{conv_id}/close"), json!({})).await.0, StatusCode::OK);
    let got = s.call(Method::POST, &format!("/api/v1/conversations/{conv_id}/typing"), Some(&s.token), None).await;
    assert_error(&got, 409, "conversation_closed");
    assert_eq!(frame(&mut ws).await["event"]["kind"], "conversation.closed", "no typing frame of one's own");
    s.stop().await;
}
