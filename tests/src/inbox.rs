//! Helpers for the inbox's end-to-end tests: messages arriving as a channel plugin hands them over, lists
//! of conversation ids, every page of a list, downloads, a channel of the example plugin, the realtime
//! websocket.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use switchboard::model::{ContactFields, InboundItem, MessageContent};

use crate::TestServer;

pub fn id(v: &Value) -> i64 {
    v["id"].as_i64().unwrap_or_else(|| panic!("no id in {v}"))
}

/// A message from `from` arriving on `channel`, as its plugin would hand it over.
pub async fn incoming(s: &TestServer, channel: i64, from: &str, text: &str) {
    let item = InboundItem::Message {
        external_id: from.into(),
        profile: ContactFields { first_name: Some(format!("Contact {from}")), ..Default::default() },
        provider_message_id: format!("{from}-{text}"),
        content: MessageContent::text(text),
    };
    s.app.store.ingest(s.workspace_id, channel, &[item]).await.expect("ingest");
    // As the webhook path does after its commit: live readers and cached counts look again.
    s.app.changed();
    // Distinct activity times, so the expected orders do not hang on ties.
    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
}

/// The conversation ids of a list, in order.
pub async fn ids(s: &TestServer, token: &str, query: &str) -> Vec<i64> {
    let (status, page) = s.call(Method::GET, &format!("/api/v1/conversations?{query}"), Some(token), None).await;
    assert_eq!(status, StatusCode::OK, "{query}: {page}");
    page["items"].as_array().expect("items").iter().map(id).collect()
}

pub fn sorted(mut v: Vec<i64>) -> Vec<i64> {
    v.sort_unstable();
    v
}

/// Every page of a list walked with `limit`, as (id, pinned) pairs.
pub async fn walk(s: &TestServer, query: &str, limit: u32) -> Vec<(i64, bool)> {
    let mut seen = Vec::new();
    let mut cursor = String::new();
    for _ in 0..50 {
        let (status, page) = s.get(&format!("/api/v1/conversations?{query}&limit={limit}&cursor={cursor}")).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        for c in page["items"].as_array().expect("items") {
            seen.push((id(c), c["pinned"] == json!(true)));
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => return seen,
        }
    }
    panic!("pagination does not end: {seen:?}");
}

/// The raw body and headers of a GET as the owner.
pub async fn download(s: &TestServer, path: &str) -> (StatusCode, String, String, String) {
    let resp = s.http.get(format!("{}{path}", s.base)).bearer_auth(&s.token).send().await.expect("get");
    let header = |name: &str| resp.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let (content_type, disposition) = (header("content-type"), header("content-disposition"));
    (resp.status(), content_type, disposition, resp.text().await.expect("body"))
}

/// A channel of the bundled example plugin; returns its id.
pub async fn example_channel(s: &TestServer, name: &str) -> i64 {
    let body = json!({"name": name, "plugin_id": "example-channel", "config": {"base_url": "https://provider.test"},
                      "secrets": {"shared_secret": "s"}});
    let (status, channel) = s.post("/api/v1/channels", body).await;
    assert_eq!(status, StatusCode::CREATED, "{channel}");
    id(&channel)
}

pub type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens the realtime stream as `token`; the handshake's error status when it is refused.
pub async fn stream(s: &TestServer, token: &str, query: &str, origin: Option<&str>) -> Result<Socket, u16> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let url = format!("{}/api/v1/events/ws?{query}", s.base.replace("http://", "ws://"));
    let mut req = url.into_client_request().expect("request");
    req.headers_mut().insert("authorization", format!("Bearer {token}").parse().expect("header"));
    if let Some(origin) = origin {
        req.headers_mut().insert("origin", origin.parse().expect("header"));
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((socket, _)) => Ok(socket),
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => Err(resp.status().as_u16()),
        Err(e) => panic!("websocket: {e}"),
    }
}

/// The next JSON frame (a test failure after 10 s without one).
pub async fn frame(ws: &mut Socket) -> Value {
    use futures_util::StreamExt;
    loop {
        let next = tokio::time::timeout(std::time::Duration::from_secs(10), ws.next()).await;
        let msg = next.expect("a frame within 10 s").expect("stream open").expect("frame");
        if let tokio_tungstenite::tungstenite::Message::Text(text) = msg {
            return serde_json::from_str(&text).expect("JSON frame");
        }
    }
}
