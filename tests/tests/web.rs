//! The agent web app's server side: the page and its modules served from the binary, the first-run setup
//! that creates the owner and logs them in, and the inbox rows' summaries (contact and latest message).
//! The app itself is driven in a real browser by `browser.rs`.

use reqwest::{Method, StatusCode};
use serde_json::json;
use switchboard_tests::inbox::{example_channel, id, incoming};
use switchboard_tests::{Backend, TestServer, assert_error, both_backends};

both_backends!(first_run_setup_creates_the_owner_and_logs_in, first_run_setup);

async fn first_run_setup(backend: Backend) {
    let s = TestServer::start_uninitialized(backend).await;
    let anonymous = |method, path: &'static str, body| s.call(method, path, None, body);
    assert_eq!(anonymous(Method::GET, "/api/v1/setup", None).await, (StatusCode::OK, json!({"needed": true})));
    assert_error(&anonymous(Method::GET, "/api/v1/auth/me", None).await, 401, "unauthorized");

    // A bad field is named and nothing is created.
    let short = json!({"workspace": "Acme Support", "email": "owner@acme.test", "password": "short"});
    let refused = anonymous(Method::POST, "/api/v1/setup", Some(short)).await;
    assert_error(&refused, 422, "validation_failed");
    assert_eq!(refused.1["error"]["field"], "password", "{}", refused.1);
    let unknown = json!({"workspace": "Acme", "email": "o@acme.test", "password": "long-enough", "admin": true});
    assert_error(&anonymous(Method::POST, "/api/v1/setup", Some(unknown)).await, 422, "validation_failed");
    assert_eq!(anonymous(Method::GET, "/api/v1/setup", None).await.1, json!({"needed": true}));

    // Setup creates the workspace and its owner and starts the owner's session (cookies).
    let body = json!({"workspace": "Acme Support", "name": "Olivia", "email": "owner@acme.test",
                      "password": "a-long-password"});
    let (status, session) = anonymous(Method::POST, "/api/v1/setup", Some(body.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{session}");
    assert_eq!(
        (session["user"]["role"].clone(), session["workspace"]["name"].clone()),
        (json!("owner"), json!("Acme Support"))
    );
    let csrf = session["csrf_token"].as_str().expect("a CSRF token").to_owned();
    let (status, me) = anonymous(Method::GET, "/api/v1/auth/me", None).await;
    assert_eq!((status, me["user"]["email"].clone()), (StatusCode::OK, json!("owner@acme.test")), "{me}");
    // The session works for changes with its CSRF token.
    let tag = s
        .http
        .post(format!("{}/api/v1/tags", s.base))
        .header("x-csrf-token", csrf)
        .json(&json!({"name": "vip"}))
        .send()
        .await
        .expect("post");
    assert_eq!(tag.status(), StatusCode::CREATED);

    // Once is enough: a second setup is refused, whoever asks.
    assert_error(&anonymous(Method::POST, "/api/v1/setup", Some(body)).await, 409, "already_initialized");
    assert_eq!(anonymous(Method::GET, "/api/v1/setup", None).await.1, json!({"needed": false}));
    s.stop().await;
}

#[tokio::test]
async fn the_app_is_served_from_the_binary() {
    let s = TestServer::start(Backend::Sqlite).await;
    let page = s.http.get(format!("{}/", s.base)).send().await.expect("get /");
    assert_eq!(page.status(), StatusCode::OK);
    let header =
        |r: &reqwest::Response, name: &str| r.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    assert_eq!(header(&page, "content-type").as_deref(), Some("text/html; charset=utf-8"));
    let csp = header(&page, "content-security-policy").expect("a CSP");
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    let html = page.text().await.expect("body");
    assert!(html.contains(r#"<script type="module" src="/app/js/main.js">"#), "{html}");

    for (path, content_type) in [
        ("/app/js/main.js", "text/javascript; charset=utf-8"),
        ("/app/app.css", "text/css; charset=utf-8"),
        ("/app/manifest.webmanifest", "application/manifest+json"),
        ("/sw.js", "text/javascript; charset=utf-8"),
    ] {
        let r = s.http.get(format!("{}{path}", s.base)).send().await.expect("get");
        assert_eq!((r.status(), header(&r, "content-type").as_deref()), (StatusCode::OK, Some(content_type)), "{path}");
    }
    let manifest: serde_json::Value = s
        .http
        .get(format!("{}/app/manifest.webmanifest", s.base))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(manifest["start_url"], "/");
    assert_error(&s.call(Method::GET, "/app/js/nothing.js", None, None).await, 404, "not_found");
    assert_error(&s.call(Method::GET, "/app/../Cargo.toml", None, None).await, 404, "not_found");
    s.stop().await;
}

both_backends!(inbox_rows_carry_the_contact_and_the_latest_message, inbox_summaries);

async fn inbox_summaries(backend: Backend) {
    let s = TestServer::start(backend).await;
    let ch = example_channel(&s, "Example").await;
    incoming(&s, ch, "maria", "Hello there").await;
    incoming(&s, ch, "omar", "First question").await;
    incoming(&s, ch, "omar", "مرحبا، هل الطلب جاهز؟").await;
    let list = s.get("/api/v1/conversations?include=summary").await.1;
    let items = list["items"].as_array().expect("items");
    assert_eq!(items.len(), 2, "{list}");
    let omar = &items[0]["summary"];
    assert_eq!(omar["contact_name"], "Contact omar", "{list}");
    let last = &omar["last_message"];
    assert_eq!(
        (last["direction"].clone(), last["kind"].clone(), last["preview"].clone(), last["channel_id"].clone()),
        (json!("incoming"), json!("text"), json!("مرحبا، هل الطلب جاهز؟"), json!(ch)),
        "{list}"
    );
    assert_eq!(items[1]["summary"]["last_message"]["preview"], "Hello there");

    // An agent's reply is the latest message now.
    let maria = id(&items[1]);
    let reply = json!({"content": {"type": "text", "text": "We are open until 8"}});
    assert_eq!(s.post(&format!("/api/v1/conversations/{maria}/messages"), reply).await.0, StatusCode::ACCEPTED);
    let list = s.get("/api/v1/conversations?include=summary").await.1;
    let last = &list["items"][0]["summary"]["last_message"];
    assert_eq!(
        (last["direction"].clone(), last["kind"].clone(), last["preview"].clone(), last["status"].clone()),
        (json!("outgoing"), json!("text"), json!("We are open until 8"), json!("pending")),
        "{list}"
    );

    // A conversation without messages yet; a contact known by phone only.
    let (_, contact) = s.post("/api/v1/contacts", json!({"phone": "+971501234567"})).await;
    let (status, opened) = s.post("/api/v1/conversations", json!({"contact_id": id(&contact)})).await;
    assert_eq!(status, StatusCode::CREATED, "{opened}");
    let list = s.get("/api/v1/conversations?include=summary").await.1;
    let row = list["items"].as_array().expect("items").iter().find(|c| c["id"] == opened["id"]).cloned().expect("row");
    assert_eq!(
        (row["summary"]["contact_name"].clone(), row["summary"]["last_message"].clone()),
        (json!("+971501234567"), json!(null)),
        "{row}"
    );

    // Without include, the rows are plain conversations; an unknown include is named.
    let plain = s.get("/api/v1/conversations").await.1;
    assert!(plain["items"][0].get("summary").is_none(), "{plain}");
    let bad = s.get("/api/v1/conversations?include=everything").await;
    assert_error(&bad, 422, "validation_failed");
    assert_eq!(bad.1["error"]["field"], "include");
    s.stop().await;
}

both_backends!(a_session_switches_workspace, switch_workspace);

async fn switch_workspace(backend: Backend) {
    let s = TestServer::start(backend).await;
    let first = s.app.store.get_workspace(s.workspace_id).await.expect("workspace");
    let second = s.app.store.create_workspace(first.organisation_id, "Sales", s.owner_id).await.expect("workspace");
    let login = json!({"email": "owner@acme.test", "password": "owner-password"});
    let resp = s.http.post(format!("{}/api/v1/auth/login", s.base)).json(&login).send().await.expect("login");
    assert_eq!(resp.status(), StatusCode::OK);
    let old_cookie = resp
        .cookies()
        .find(|c| c.name() == "sb_session")
        .map(|c| format!("sb_session={}", c.value()))
        .expect("a session cookie");
    let session: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(session["workspaces"].as_array().map(Vec::len), Some(2), "{session}");
    let csrf = session["csrf_token"].as_str().expect("csrf").to_owned();

    let switch = |workspace: i64, csrf: String| {
        s.http
            .post(format!("{}/api/v1/auth/workspace", s.base))
            .header("x-csrf-token", csrf)
            .json(&json!({"workspace_id": workspace}))
            .send()
    };
    // Not a workspace of this user: 404, and the session stays where it was.
    assert_eq!(switch(second.id + 100, csrf.clone()).await.expect("post").status(), StatusCode::NOT_FOUND);
    let resp = switch(second.id, csrf).await.expect("post");
    assert_eq!(resp.status(), StatusCode::OK);
    let switched: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(switched["workspace"]["id"], second.id, "{switched}");
    let me = s.call(Method::GET, "/api/v1/auth/me", None, None).await.1;
    assert_eq!(me["workspace"]["name"], "Sales", "{me}");
    // The old session is gone.
    let stale = reqwest::Client::new()
        .get(format!("{}/api/v1/auth/me", s.base))
        .header("cookie", old_cookie)
        .send()
        .await
        .expect("get");
    assert_eq!(stale.status(), StatusCode::UNAUTHORIZED);
    // An API token belongs to its workspace.
    let by_token = s.post("/api/v1/auth/workspace", json!({"workspace_id": second.id})).await;
    assert_error(&by_token, 403, "forbidden");
    s.stop().await;
}

both_backends!(the_language_is_kept_per_user, language);

async fn language(backend: Backend) {
    let s = TestServer::start(backend).await;
    assert_eq!(s.get("/api/v1/auth/me").await.1["user"]["language"], json!(null), "the browser decides at first");
    let (status, user) = s.put("/api/v1/auth/me/language", Some(json!({"language": "ar"}))).await;
    assert_eq!((status, user["language"].clone()), (StatusCode::OK, json!("ar")), "{user}");
    assert_eq!(s.get("/api/v1/auth/me").await.1["user"]["language"], "ar");
    let refused = s.put("/api/v1/auth/me/language", Some(json!({"language": "fr"}))).await;
    assert_error(&refused, 422, "validation_failed");
    assert_eq!(refused.1["error"]["field"], "language");
    assert_eq!(s.get("/api/v1/auth/me").await.1["user"]["language"], "ar", "a refused change changes nothing");
    let (status, user) = s.put("/api/v1/auth/me/language", Some(json!({"language": null}))).await;
    assert_eq!((status, user["language"].clone()), (StatusCode::OK, json!(null)));
    s.stop().await;
}
