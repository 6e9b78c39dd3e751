//! The REST API end to end: the real server on 127.0.0.1:0, every endpoint, every error class, roles,
//! sessions with CSRF, and isolation between workspaces — on SQLite and PostgreSQL.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use switchboard::model::Actor;
use switchboard::service::accounts;
use switchboard_tests::{Backend, TestServer, assert_error, both_backends};

/// A channel of the bundled example plugin, with the settings its manifest requires.
fn example_channel(name: &str) -> Value {
    json!({"name": name, "plugin_id": "example-channel", "config": {"base_url": "https://provider.test"}, "secrets": {"shared_secret": "s"}})
}

fn id(v: &Value) -> i64 {
    v["id"].as_i64().unwrap_or_else(|| panic!("no id in {v}"))
}

async fn contacts_api(backend: Backend) {
    let s = TestServer::start(backend).await;
    s.post(
        "/api/v1/contact-fields",
        json!({"key": "plan", "label": "Plan", "field_type": "list", "options": ["gold", "silver"]}),
    )
    .await;
    let (status, c) = s
        .post(
            "/api/v1/contacts",
            json!({"first_name": "Ana", "last_name": "Silva", "phone": "+44 20 7946 0958", "email": "Ana@Example.com",
                   "language": "pt-BR", "tags": ["vip"], "custom_fields": {"plan": "gold"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    assert_eq!(c["phone"], "+442079460958");
    assert_eq!(c["country"], "GB", "country derived from the phone");
    assert_eq!(c["email"], "ana@example.com");
    assert_eq!(c["tags"], json!(["vip"]));
    let cid = id(&c);

    let (status, got) = s.get(&format!("/api/v1/contacts/{cid}")).await;
    assert_eq!((status, got["first_name"].clone()), (StatusCode::OK, json!("Ana")));
    let (_, list) = s.get("/api/v1/contacts?q=silva").await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));
    let (_, list) = s.get("/api/v1/contacts?tag=nope").await;
    assert_eq!(list["items"], json!([]));

    let (status, patched) = s
        .patch(
            &format!("/api/v1/contacts/{cid}"),
            json!({"last_name": null, "lifecycle_stage": "customer", "custom_fields": {"plan": "silver"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["last_name"], Value::Null);
    assert_eq!(patched["first_name"], "Ana", "absent fields are kept");
    assert_eq!(patched["custom_fields"]["plan"], "silver");

    let (status, tagged) = s.post(&format!("/api/v1/contacts/{cid}/tags"), json!({"tags": ["lead", "vip"]})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(tagged["tags"], json!(["lead", "vip"]));
    let (status, untagged) = s.delete(&format!("/api/v1/contacts/{cid}/tags/lead")).await;
    assert_eq!((status, untagged["tags"].clone()), (StatusCode::OK, json!(["vip"])));
    assert_error(&s.delete(&format!("/api/v1/contacts/{cid}/tags/lead")).await, 404, "not_found");

    let (_, channel) = s
        .post(
            "/api/v1/channels",
            json!({"name": "Example", "plugin_id": "example-channel", "config": {"base_url": "https://provider.test"}, "secrets": {"shared_secret": "EAAG-secret"}}),
        )
        .await;
    assert_eq!(channel["secret_names"], json!(["shared_secret"]), "{channel}");
    assert!(!channel.to_string().contains("EAAG-secret"), "secrets are never returned");
    let (status, with_id) = s
        .post(
            &format!("/api/v1/contacts/{cid}/identities"),
            json!({"channel_id": id(&channel), "external_id": "447911123456"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{with_id}");
    let (_, other) = s.post("/api/v1/contacts", json!({"first_name": "Bob"})).await;
    let taken = s
        .post(
            &format!("/api/v1/contacts/{}/identities", id(&other)),
            json!({"channel_id": id(&channel), "external_id": "447911123456"}),
        )
        .await;
    assert_error(&taken, 409, "identity_taken");

    // Validation errors name the field.
    let bad = s.post("/api/v1/contacts", json!({"first_name": "X", "phone": "12"})).await;
    assert_error(&bad, 422, "validation_failed");
    assert_eq!(bad.1["error"]["field"], "phone");
    let bad = s.post("/api/v1/contacts", json!({"first_name": "X", "custom_fields": {"plan": "bronze"}})).await;
    assert_eq!(bad.1["error"]["field"], "custom_fields.plan");
    let bad = s.post("/api/v1/contacts", json!({"first_name": "X", "shoe_size": 42})).await;
    assert_error(&bad, 422, "validation_failed");
    assert!(bad.1["error"]["message"].as_str().is_some_and(|m| m.contains("shoe_size")), "{}", bad.1);
    assert_error(&s.post("/api/v1/contacts", json!({})).await, 422, "validation_failed");
    assert_error(&s.get("/api/v1/contacts?limit=0").await, 422, "validation_failed");
    assert_error(&s.get("/api/v1/contacts?cursor=garbage").await, 422, "validation_failed");

    let (_, fields) = s.get("/api/v1/contact-fields").await;
    let field_id = id(&fields["items"][0]);
    assert_eq!(s.delete(&format!("/api/v1/contact-fields/{field_id}")).await.0, StatusCode::NO_CONTENT);
    assert_eq!(s.delete(&format!("/api/v1/contacts/{cid}")).await.0, StatusCode::NO_CONTENT);
    assert_error(&s.get(&format!("/api/v1/contacts/{cid}")).await, 404, "not_found");
    s.stop().await;
}
both_backends!(contacts, contacts_api);

async fn conversations_api(backend: Backend) {
    let s = TestServer::start(backend).await;
    let (agent_id, agent) = s.user("agent@acme.test", "agent").await;
    let (_, team) = s.post("/api/v1/teams", json!({"name": "Sales"})).await;
    let tid = id(&team);
    let (_, c) = s.post("/api/v1/contacts", json!({"first_name": "Ana"})).await;
    let cid = id(&c);
    let (status, conv) = s.post("/api/v1/conversations", json!({"contact_id": cid, "team_id": tid})).await;
    assert_eq!(status, StatusCode::CREATED, "{conv}");
    assert_eq!(conv["opened_by"], json!({"kind": "user", "id": s.owner_id}));
    let conv_id = id(&conv);
    assert_error(&s.post("/api/v1/conversations", json!({"contact_id": cid})).await, 409, "conversation_already_open");

    // Assignment: the user must belong to the team named.
    let not_in_team = s.post(&format!("/api/v1/conversations/{conv_id}/assign"), json!({"user_id": agent_id})).await;
    assert_error(&not_in_team, 422, "validation_failed");
    assert_eq!(not_in_team.1["error"]["field"], "user_id");
    assert_eq!(s.put(&format!("/api/v1/teams/{tid}/members/{agent_id}"), None).await.0, StatusCode::OK);
    let (status, assigned) =
        s.post(&format!("/api/v1/conversations/{conv_id}/assign"), json!({"user_id": agent_id})).await;
    assert_eq!(
        (status, assigned["assignee_id"].clone(), assigned["team_id"].clone()),
        (StatusCode::OK, json!(agent_id), json!(tid))
    );
    assert_error(
        &s.post(&format!("/api/v1/conversations/{conv_id}/assign"), json!({"user_id": 424242})).await,
        422,
        "validation_failed",
    );
    let (_, detail) = s.get(&format!("/api/v1/conversations/{conv_id}")).await;
    assert_eq!(detail["contact"]["first_name"], "Ana");
    assert_eq!(detail["assignments"].as_array().map(Vec::len), Some(1));
    assert_eq!(detail["assignments"][0]["to_user_id"], json!(agent_id));

    // The agent works the conversation with their own token.
    let (_, mine) = s
        .call(Method::GET, &format!("/api/v1/conversations?assignee_id={agent_id}&status=open"), Some(&agent), None)
        .await;
    assert_eq!(mine["items"].as_array().map(Vec::len), Some(1));
    let no_channel = s
        .call(
            Method::POST,
            &format!("/api/v1/conversations/{conv_id}/messages"),
            Some(&agent),
            Some(json!({"content": {"type": "text", "text": "Hi"}})),
        )
        .await;
    assert_error(&no_channel, 422, "validation_failed");
    assert_eq!(no_channel.1["error"]["field"], "channel_id");
    let (_, channel) = s.post("/api/v1/channels", example_channel("Example")).await;
    let body = json!({"content": {"type": "text", "text": "Hi Ana"}, "channel_id": id(&channel)});
    let (status, msg) =
        s.call(Method::POST, &format!("/api/v1/conversations/{conv_id}/messages"), Some(&agent), Some(body)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{msg}");
    assert_eq!((msg["status"].clone(), msg["direction"].clone()), (json!("pending"), json!("outgoing")));
    let media = json!({"content": {"type": "media", "kind": "image", "url": "https://cdn.example.com/a.png", "caption": "look"}});
    assert_eq!(
        s.post(&format!("/api/v1/conversations/{conv_id}/messages"), media).await.0,
        StatusCode::ACCEPTED,
        "last channel reused"
    );
    assert_error(
        &s.post(&format!("/api/v1/conversations/{conv_id}/messages"), json!({"content": {"type": "text", "text": ""}}))
            .await,
        422,
        "validation_failed",
    );
    assert_error(
        &s.post(&format!("/api/v1/conversations/{conv_id}/messages"), json!({"content": {"type": "fax"}})).await,
        422,
        "validation_failed",
    );
    let (_, msgs) = s.get(&format!("/api/v1/conversations/{conv_id}/messages?limit=1")).await;
    assert_eq!(msgs["items"][0]["content"]["type"], "media", "newest first");
    let cursor = msgs["next_cursor"].as_str().expect("second page").to_owned();
    let (_, older) = s.get(&format!("/api/v1/conversations/{conv_id}/messages?limit=1&cursor={cursor}")).await;
    assert_eq!(older["items"][0]["content"]["text"], "Hi Ana");
    assert_eq!(older["next_cursor"], Value::Null);
    let (_, detail) = s.get(&format!("/api/v1/conversations/{conv_id}")).await;
    assert!(detail["first_response_at"].is_string(), "a person's reply sets the first response time");

    // Comments with mentions.
    let (status, comment) = s
        .post(
            &format!("/api/v1/conversations/{conv_id}/comments"),
            json!({"body": "VIP, be quick", "mentions": [agent_id]}),
        )
        .await;
    assert_eq!((status, comment["mentions"].clone()), (StatusCode::CREATED, json!([agent_id])));
    let bad_mention =
        s.post(&format!("/api/v1/conversations/{conv_id}/comments"), json!({"body": "x", "mentions": [999999]})).await;
    assert_eq!(bad_mention.1["error"]["field"], "mentions[0]");
    assert_error(
        &s.post(&format!("/api/v1/conversations/{conv_id}/comments"), json!({"body": "x".repeat(1001)})).await,
        422,
        "validation_failed",
    );
    let (_, comments) = s.get(&format!("/api/v1/conversations/{conv_id}/comments")).await;
    assert_eq!(comments["items"][0]["body"], "VIP, be quick");

    // Pins are per user.
    assert_eq!(s.put(&format!("/api/v1/conversations/{conv_id}/pin"), None).await.0, StatusCode::NO_CONTENT);
    assert_eq!(s.get(&format!("/api/v1/conversations/{conv_id}")).await.1["pinned"], true);
    let (_, as_agent) = s.call(Method::GET, &format!("/api/v1/conversations/{conv_id}"), Some(&agent), None).await;
    assert_eq!(as_agent["pinned"], false);
    assert_eq!(s.delete(&format!("/api/v1/conversations/{conv_id}/pin")).await.0, StatusCode::NO_CONTENT);

    // Closing notes follow the workspace's mode. A mode that requires a category needs one to choose, and
    // the last one cannot go while the mode needs it: either would make every close fail.
    let no_category = s.patch("/api/v1/workspace", json!({"closing_note_mode": "category_required"})).await;
    assert_error(&no_category, 422, "validation_failed");
    assert_eq!(no_category.1["error"]["field"], "closing_note_mode");
    assert_eq!(s.get("/api/v1/workspace").await.1["closing_note_mode"], "optional");
    let (_, cat) = s.post("/api/v1/closing-categories", json!({"name": "Resolved"})).await;
    assert_eq!(
        s.patch("/api/v1/workspace", json!({"closing_note_mode": "category_and_summary_required"})).await.0,
        StatusCode::OK
    );
    assert_error(&s.delete(&format!("/api/v1/closing-categories/{}", id(&cat))).await, 409, "last_closing_category");
    let (_, spare) = s.post("/api/v1/closing-categories", json!({"name": "Spare"})).await;
    assert_eq!(s.delete(&format!("/api/v1/closing-categories/{}", id(&spare))).await.0, StatusCode::NO_CONTENT);
    let missing = s.post(&format!("/api/v1/conversations/{conv_id}/close"), json!({"category_id": id(&cat)})).await;
    assert_error(&missing, 422, "validation_failed");
    assert_eq!(missing.1["error"]["field"], "summary");
    let (status, closed) = s
        .post(
            &format!("/api/v1/conversations/{conv_id}/close"),
            json!({"category_id": id(&cat), "summary": "Refunded"}),
        )
        .await;
    assert_eq!((status, closed["status"].clone()), (StatusCode::OK, json!("closed")));
    assert_eq!(closed["closing_summary"], "Refunded");
    assert_error(
        &s.post(&format!("/api/v1/conversations/{conv_id}/close"), json!({"category_id": id(&cat), "summary": "x"}))
            .await,
        409,
        "conversation_closed",
    );
    assert_error(
        &s.post(
            &format!("/api/v1/conversations/{conv_id}/messages"),
            json!({"content": {"type": "text", "text": "late"}}),
        )
        .await,
        409,
        "conversation_closed",
    );
    let (_, open) = s.get("/api/v1/conversations?status=open").await;
    assert_eq!(open["items"], json!([]));
    let (_, closed_list) = s.get("/api/v1/conversations?status=closed").await;
    assert_eq!(closed_list["items"].as_array().map(Vec::len), Some(1));
    assert_error(&s.get("/api/v1/conversations?status=sleeping").await, 422, "validation_failed");
    let (status, reopened) = s.post(&format!("/api/v1/conversations/{conv_id}/open"), json!({})).await;
    assert_eq!((status, reopened["status"].clone()), (StatusCode::OK, json!("open")));
    assert_error(
        &s.post(&format!("/api/v1/conversations/{conv_id}/open"), json!({})).await,
        409,
        "conversation_already_open",
    );
    let (_, msgs) = s.get(&format!("/api/v1/conversations/{conv_id}/messages")).await;
    assert_eq!(msgs["items"].as_array().map(Vec::len), Some(2), "reopening keeps history");

    // The event log records every change in order.
    let (_, events) = s.get("/api/v1/events?after=0&limit=1000").await;
    let kinds: Vec<&str> =
        events["items"].as_array().expect("items").iter().filter_map(|e| e["kind"].as_str()).collect();
    for k in
        ["conversation.opened", "conversation.assigned", "message.created", "comment.created", "conversation.closed"]
    {
        assert!(kinds.contains(&k), "missing {k} in {kinds:?}");
    }
    assert_error(&s.call(Method::GET, "/api/v1/events", Some(&agent), None).await, 403, "forbidden");
    s.stop().await;
}
both_backends!(conversations, conversations_api);

async fn settings_api(backend: Backend) {
    let s = TestServer::start(backend).await;
    // Teams.
    let (_, team) = s.post("/api/v1/teams", json!({"name": "Support"})).await;
    let tid = id(&team);
    assert_error(&s.post("/api/v1/teams", json!({"name": "Support"})).await, 409, "already_exists");
    assert_eq!(s.patch(&format!("/api/v1/teams/{tid}"), json!({"name": "Care"})).await.1["name"], "Care");
    assert_eq!(
        s.put(&format!("/api/v1/teams/{tid}/members/{}", s.owner_id), None).await.1["member_ids"],
        json!([s.owner_id])
    );
    assert_eq!(s.get(&format!("/api/v1/teams/{tid}")).await.1["member_ids"], json!([s.owner_id]));
    assert_eq!(
        s.call(Method::DELETE, &format!("/api/v1/teams/{tid}/members/{}", s.owner_id), Some(&s.token.clone()), None)
            .await
            .1["member_ids"],
        json!([])
    );
    assert_eq!(s.get("/api/v1/teams").await.1["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(s.delete(&format!("/api/v1/teams/{tid}")).await.0, StatusCode::NO_CONTENT);
    // Tags.
    let (status, tag) = s.post("/api/v1/tags", json!({"name": "vip"})).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(s.get("/api/v1/tags").await.1["items"][0]["name"], "vip");
    assert_eq!(s.delete(&format!("/api/v1/tags/{}", id(&tag))).await.0, StatusCode::NO_CONTENT);
    // Closing categories.
    let (_, cat) = s.post("/api/v1/closing-categories", json!({"name": "Spam"})).await;
    assert_eq!(s.get("/api/v1/closing-categories").await.1["items"][0]["name"], "Spam");
    assert_eq!(s.delete(&format!("/api/v1/closing-categories/{}", id(&cat))).await.0, StatusCode::NO_CONTENT);
    // Snippets.
    let (_, sn) = s.post("/api/v1/snippets", json!({"shortcut": "hi", "body": "Hello! How can we help?"})).await;
    let sid = id(&sn);
    assert_error(
        &s.post("/api/v1/snippets", json!({"shortcut": "two words", "body": "x"})).await,
        422,
        "validation_failed",
    );
    assert_eq!(
        s.put(&format!("/api/v1/snippets/{sid}"), Some(json!({"shortcut": "hello", "body": "Hi"}))).await.1["shortcut"],
        "hello"
    );
    assert_eq!(s.get(&format!("/api/v1/snippets/{sid}")).await.1["body"], "Hi");
    assert_eq!(s.get("/api/v1/snippets").await.1["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(s.delete(&format!("/api/v1/snippets/{sid}")).await.0, StatusCode::NO_CONTENT);
    // Templates.
    let tpl = json!({"name": "order_shipped", "language": "en", "category": "utility",
        "components": [{"type": "HEADER", "format": "TEXT", "text": "Order"}, {"type": "BODY", "text": "Order {{1}} shipped"}]});
    let (status, t) = s.post("/api/v1/templates", tpl.clone()).await;
    assert_eq!((status, t["status"].clone()), (StatusCode::CREATED, json!("approved")));
    let tid = id(&t);
    let no_body = s
        .post("/api/v1/templates", json!({"name": "x", "language": "en", "category": "utility", "components": []}))
        .await;
    assert_eq!(no_body.1["error"]["field"], "components");
    let bad_category =
        s.post("/api/v1/templates", json!({"name": "x", "language": "en", "category": "spam", "components": []})).await;
    assert_error(&bad_category, 422, "validation_failed");
    let mut t2 = tpl.clone();
    t2["language"] = json!("ar");
    assert_eq!(s.put(&format!("/api/v1/templates/{tid}"), Some(t2)).await.1["language"], "ar");
    assert_eq!(s.get(&format!("/api/v1/templates/{tid}")).await.1["name"], "order_shipped");
    assert_eq!(s.get("/api/v1/templates").await.1["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(s.delete(&format!("/api/v1/templates/{tid}")).await.0, StatusCode::NO_CONTENT);
    // Channels: secrets sealed at rest and readable only by the server.
    let (_, ch) = s.post("/api/v1/channels", json!({"name": "Web chat", "plugin_id": "example-channel", "config": {"base_url": "https://a.test"}, "secrets": {"shared_secret": "k-123"}})).await;
    let chid = id(&ch);
    let opened = switchboard::service::settings::channel_secrets(&s.app, s.workspace_id, chid).await.expect("secrets");
    assert_eq!(opened.get("shared_secret").map(String::as_str), Some("k-123"));
    let sealed = s.app.store.channel_secrets(s.workspace_id, chid).await.expect("sealed");
    assert!(!sealed.contains("k-123"), "encrypted at rest");
    assert_eq!(s.get(&format!("/api/v1/channels/{chid}")).await.1["config"]["base_url"], "https://a.test");
    assert!(ch["webhook_url"].as_str().is_some_and(|u| u.ends_with(&format!("/webhooks/{chid}"))), "{ch}");
    let (status, patched) = s
        .patch(
            &format!("/api/v1/channels/{chid}"),
            json!({"name": "Site chat", "enabled": false, "secrets": {"shared_secret": "k-456"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!((patched["name"].clone(), patched["enabled"].clone()), (json!("Site chat"), json!(false)));
    assert_eq!(patched["secret_names"], json!(["shared_secret"]));
    assert_eq!(patched["config"]["base_url"], "https://a.test", "absent fields are kept");
    let opened = switchboard::service::settings::channel_secrets(&s.app, s.workspace_id, chid).await.expect("secrets");
    assert_eq!(opened.into_iter().collect::<Vec<_>>(), vec![("shared_secret".to_owned(), "k-456".to_owned())]);
    // The plugin's manifest decides which settings and secrets a channel takes.
    let removed = s.patch(&format!("/api/v1/channels/{chid}"), json!({"secrets": {"shared_secret": null}})).await;
    assert_error(&removed, 422, "validation_failed");
    assert_eq!(removed.1["error"]["field"], "secrets.shared_secret");
    let undeclared = s
        .patch(&format!("/api/v1/channels/{chid}"), json!({"config": {"base_url": "https://a.test", "colour": "red"}}))
        .await;
    assert_eq!(undeclared.1["error"]["field"], "config.colour");
    let missing = s
        .post(
            "/api/v1/channels",
            json!({"name": "x", "plugin_id": "example-channel", "secrets": {"shared_secret": "s"}}),
        )
        .await;
    assert_eq!(missing.1["error"]["field"], "config.base_url");
    let unknown = s.post("/api/v1/channels", json!({"name": "x", "plugin_id": "carrier-pigeon"})).await;
    assert_error(&unknown, 422, "validation_failed");
    assert!(unknown.1["error"]["message"].as_str().is_some_and(|m| m.contains("example-channel")), "{}", unknown.1);
    assert_error(&s.patch(&format!("/api/v1/channels/{chid}"), json!({"config": [1]})).await, 422, "validation_failed");
    assert_eq!(s.get("/api/v1/channels").await.1["items"].as_array().map(Vec::len), Some(1));
    assert_error(
        &s.post("/api/v1/channels", json!({"name": "x", "plugin_id": "Bad Plugin"})).await,
        422,
        "validation_failed",
    );
    assert_eq!(s.delete(&format!("/api/v1/channels/{chid}")).await.0, StatusCode::NO_CONTENT);
    // Workspace settings.
    assert_eq!(s.get("/api/v1/workspace").await.1["name"], "Support");
    assert_eq!(s.patch("/api/v1/workspace", json!({"timezone": "Asia/Dubai"})).await.1["timezone"], "Asia/Dubai");
    assert_eq!(s.patch("/api/v1/workspace", json!({"timezone": "Mars/Olympus"})).await.1["error"]["field"], "timezone");
    s.stop().await;
}
both_backends!(settings, settings_api);

async fn users_tokens_and_roles(backend: Backend) {
    let s = TestServer::start(backend).await;
    let (manager_id, manager) = s.user("manager@acme.test", "manager").await;
    let (agent_id, agent) = s.user("agent@acme.test", "agent").await;
    assert_error(
        &s.post(
            "/api/v1/users",
            json!({"email": "agent@acme.test", "name": "A", "password": "password-123", "role": "agent"}),
        )
        .await,
        409,
        "user_exists",
    );
    assert_error(
        &s.post("/api/v1/users", json!({"email": "nope", "name": "A", "password": "password-123", "role": "agent"}))
            .await,
        422,
        "validation_failed",
    );
    assert_error(
        &s.post("/api/v1/users", json!({"email": "x@acme.test", "name": "A", "password": "short", "role": "agent"}))
            .await,
        422,
        "validation_failed",
    );
    let (_, users) = s.get("/api/v1/users?limit=2").await;
    assert_eq!(users["items"].as_array().map(Vec::len), Some(2));
    let cursor = users["next_cursor"].as_str().expect("more users").to_owned();
    let (_, rest) = s.get(&format!("/api/v1/users?limit=2&cursor={cursor}")).await;
    assert_eq!(rest["items"][0]["id"], json!(agent_id));
    assert_eq!(s.get(&format!("/api/v1/users/{agent_id}")).await.1["role"], "agent");

    // Agents cannot manage users, teams or settings.
    let as_agent = |m: Method, p: &str, b: Option<Value>| {
        let t = agent.clone();
        let p = p.to_owned();
        let s = &s;
        async move { s.call(m, &p, Some(&t), b).await }
    };
    assert_error(
        &as_agent(
            Method::POST,
            "/api/v1/users",
            Some(json!({"email": "e@acme.test", "name": "E", "password": "password-123", "role": "agent"})),
        )
        .await,
        403,
        "forbidden",
    );
    assert_error(
        &as_agent(Method::PATCH, &format!("/api/v1/users/{manager_id}"), Some(json!({"role": "agent"}))).await,
        403,
        "forbidden",
    );
    assert_error(&as_agent(Method::DELETE, &format!("/api/v1/users/{manager_id}"), None).await, 403, "forbidden");
    assert_error(&as_agent(Method::POST, "/api/v1/teams", Some(json!({"name": "T"}))).await, 403, "forbidden");
    assert_error(&as_agent(Method::POST, "/api/v1/tags", Some(json!({"name": "T"}))).await, 403, "forbidden");
    assert_error(
        &as_agent(Method::POST, "/api/v1/closing-categories", Some(json!({"name": "T"}))).await,
        403,
        "forbidden",
    );
    assert_error(
        &as_agent(Method::POST, "/api/v1/snippets", Some(json!({"shortcut": "t", "body": "T"}))).await,
        403,
        "forbidden",
    );
    assert_error(
        &as_agent(Method::POST, "/api/v1/channels", Some(json!({"name": "T", "plugin_id": "t"}))).await,
        403,
        "forbidden",
    );
    assert_error(&as_agent(Method::PATCH, "/api/v1/workspace", Some(json!({"name": "T"}))).await, 403, "forbidden");
    assert_error(
        &as_agent(
            Method::POST,
            "/api/v1/contact-fields",
            Some(json!({"key": "k", "label": "K", "field_type": "text"})),
        )
        .await,
        403,
        "forbidden",
    );
    // … but they read settings and work contacts.
    assert_eq!(as_agent(Method::GET, "/api/v1/snippets", None).await.0, StatusCode::OK);
    assert_eq!(
        as_agent(Method::POST, "/api/v1/contacts", Some(json!({"first_name": "C"}))).await.0,
        StatusCode::CREATED
    );
    // Managers manage users but cannot touch owners or make owners.
    assert_error(
        &s.call(
            Method::POST,
            "/api/v1/users",
            Some(&manager),
            Some(json!({"email": "o2@acme.test", "name": "O", "password": "password-123", "role": "owner"})),
        )
        .await,
        403,
        "forbidden",
    );
    assert_error(
        &s.call(
            Method::PATCH,
            &format!("/api/v1/users/{}", s.owner_id),
            Some(&manager),
            Some(json!({"role": "agent"})),
        )
        .await,
        403,
        "forbidden",
    );
    let (status, promoted) = s
        .call(Method::PATCH, &format!("/api/v1/users/{agent_id}"), Some(&manager), Some(json!({"name": "Agent Smith"})))
        .await;
    assert_eq!((status, promoted["name"].clone()), (StatusCode::OK, json!("Agent Smith")));
    assert_error(&s.patch(&format!("/api/v1/users/{}", s.owner_id), json!({"role": "agent"})).await, 409, "last_owner");

    // Tokens: created once with the secret, listed without it, revoked at once.
    let (status, created) = s.call(Method::POST, "/api/v1/tokens", Some(&agent), Some(json!({"name": "zapier"}))).await;
    assert_eq!(status, StatusCode::CREATED);
    let secret = created["token"].as_str().expect("token shown once").to_owned();
    assert!(secret.starts_with("sb_"));
    let (_, mine) = s.call(Method::GET, "/api/v1/tokens", Some(&agent), None).await;
    assert!(!mine.to_string().contains(&secret), "secrets are not listed");
    assert!(
        mine["items"].as_array().expect("items").iter().all(|t| t["user_id"] == json!(agent_id)),
        "agents see their own tokens"
    );
    let (_, all) = s.get("/api/v1/tokens").await;
    assert!(all["items"].as_array().map(Vec::len) >= Some(3));
    assert_error(
        &s.call(Method::POST, "/api/v1/tokens", Some(&agent), Some(json!({"name": "x", "user_id": s.owner_id}))).await,
        403,
        "forbidden",
    );
    assert_eq!(s.call(Method::GET, "/api/v1/auth/me", Some(&secret), None).await.1["user"]["id"], json!(agent_id));
    assert_eq!(
        s.call(Method::DELETE, &format!("/api/v1/tokens/{}", id(&created)), Some(&agent), None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_error(&s.call(Method::GET, "/api/v1/auth/me", Some(&secret), None).await, 401, "unauthorized");

    // Removing a user unassigns and revokes them.
    assert_eq!(s.delete(&format!("/api/v1/users/{agent_id}")).await.0, StatusCode::NO_CONTENT);
    assert_error(&s.call(Method::GET, "/api/v1/auth/me", Some(&agent), None).await, 401, "unauthorized");
    assert_error(&s.get(&format!("/api/v1/users/{agent_id}")).await, 404, "not_found");
    s.stop().await;
}
both_backends!(users_and_roles, users_tokens_and_roles);

async fn sessions_and_csrf(backend: Backend) {
    let s = TestServer::start(backend).await;
    let login = |email: &str, password: &str| {
        let body = json!({"email": email, "password": password});
        s.call(Method::POST, "/api/v1/auth/login", None, Some(body))
    };
    assert_error(&login("owner@acme.test", "wrong-password").await, 401, "unauthorized");
    assert_error(&login("nobody@acme.test", "owner-password").await, 401, "unauthorized");
    let (status, me) = login("OWNER@acme.test", "owner-password").await;
    assert_eq!(status, StatusCode::OK, "{me}");
    let csrf = me["csrf_token"].as_str().expect("csrf token").to_owned();
    assert_eq!(me["workspace"]["id"], json!(s.workspace_id));
    // The client's cookie jar now holds the session: reads need nothing else.
    let (status, again) = s.call(Method::GET, "/api/v1/auth/me", None, None).await;
    assert_eq!((status, again["user"]["email"].clone()), (StatusCode::OK, json!("owner@acme.test")));
    // Writes with the cookie need the CSRF header.
    let no_csrf = s.call(Method::POST, "/api/v1/tags", None, Some(json!({"name": "from-cookie"}))).await;
    assert_error(&no_csrf, 403, "csrf_failed");
    let resp = s
        .http
        .post(format!("{}/api/v1/tags", s.base))
        .header("x-csrf-token", &csrf)
        .json(&json!({"name": "from-cookie"}))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::CREATED);
    let wrong = s
        .http
        .post(format!("{}/api/v1/tags", s.base))
        .header("x-csrf-token", "nope")
        .json(&json!({"name": "x"}))
        .send()
        .await
        .expect("request");
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    let set_cookie = s
        .http
        .post(format!("{}/api/v1/auth/login", s.base))
        .json(&json!({"email": "owner@acme.test", "password": "owner-password"}))
        .send()
        .await
        .expect("login");
    let cookies: Vec<String> =
        set_cookie.headers().get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).map(str::to_owned).collect();
    let session = cookies.iter().find(|c| c.starts_with("sb_session=")).expect("session cookie");
    assert!(session.contains("HttpOnly") && session.contains("SameSite=Lax"), "{session}");
    let csrf = set_cookie.json::<Value>().await.expect("json")["csrf_token"].as_str().expect("csrf").to_owned();
    let out = s
        .http
        .post(format!("{}/api/v1/auth/logout", s.base))
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .expect("logout");
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    assert_error(&s.call(Method::GET, "/api/v1/auth/me", None, None).await, 401, "unauthorized");
    s.stop().await;
}
both_backends!(sessions, sessions_and_csrf);

async fn error_classes(backend: Backend) {
    let s = TestServer::start(backend).await;
    // 401: missing, malformed and unknown credentials.
    assert_error(&s.call(Method::GET, "/api/v1/contacts", None, None).await, 401, "unauthorized");
    assert_error(&s.call(Method::GET, "/api/v1/contacts", Some("sb_not-a-token"), None).await, 401, "unauthorized");
    let basic = s
        .http
        .get(format!("{}/api/v1/contacts", s.base))
        .header("authorization", "Basic abc")
        .send()
        .await
        .expect("req");
    assert_eq!(basic.status(), StatusCode::UNAUTHORIZED);
    // 400: malformed JSON and path.
    let raw = |body: &'static str, ct: &'static str| {
        s.http
            .post(format!("{}/api/v1/contacts", s.base))
            .bearer_auth(&s.token)
            .header("content-type", ct)
            .body(body)
            .send()
    };
    let resp = raw("{\"first_name\": ", "application/json").await.expect("req");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(resp.json::<Value>().await.expect("json")["error"]["code"], "bad_request");
    // 415: not JSON.
    let resp = raw("first_name=Ana", "application/x-www-form-urlencoded").await.expect("req");
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(resp.json::<Value>().await.expect("json")["error"]["code"], "unsupported_media_type");
    // 413: too large.
    // The server answers 413 without reading the whole body and closes that connection, so this request uses
    // a client of its own: a pooled connection must not be reused after it.
    let huge = json!({"first_name": "x".repeat(3 * 1024 * 1024)});
    let lone = reqwest::Client::builder().pool_max_idle_per_host(0).build().expect("client");
    let resp =
        lone.post(format!("{}/api/v1/contacts", s.base)).bearer_auth(&s.token).json(&huge).send().await.expect("req");
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(resp.json::<Value>().await.expect("json")["error"]["code"], "payload_too_large");
    // A raw-body route (workflow hooks) answers the same, not axum's plain text (provider webhooks, whose
    // limit is their plugin's, are checked in channels.rs).
    let resp = lone
        .post(format!("{}/hooks/workflows/1/signature", s.base))
        .body(vec![b'x'; 3 * 1024 * 1024])
        .send()
        .await
        .expect("req");
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(resp.json::<Value>().await.expect("json")["error"]["code"], "payload_too_large");
    // An upload that is not multipart/form-data, or has no boundary.
    for ct in ["application/octet-stream", "multipart/form-data"] {
        let resp = s
            .http
            .post(format!("{}/api/v1/media", s.base))
            .bearer_auth(&s.token)
            .header("content-type", ct)
            .body("file")
            .send()
            .await
            .expect("req");
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{ct}");
        let body = resp.json::<Value>().await.expect("json");
        assert_eq!(body["error"]["code"], "bad_request", "{ct}");
        assert!(body["error"]["message"].as_str().unwrap_or("").contains("multipart/form-data"), "{body}");
    }
    assert_error(&s.get("/api/v1/contacts/abc").await, 400, "bad_request");
    // 404: unknown id and unknown route; 405: wrong method.
    assert_error(&s.get("/api/v1/contacts/999999").await, 404, "not_found");
    assert_error(&s.get("/api/v1/nothing-here").await, 404, "not_found");
    assert_error(
        &s.call(Method::PUT, "/api/v1/contacts", Some(&s.token.clone()), None).await,
        405,
        "method_not_allowed",
    );
    // 422 naming a required field or parameter that was not sent, at the top level and nested.
    let (_, c) = s.post("/api/v1/contacts", json!({"first_name": "Ana"})).await;
    let missing = s.post("/api/v1/conversations", json!({})).await;
    assert_error(&missing, 422, "validation_failed");
    assert_eq!(missing.1["error"]["field"], "contact_id", "{}", missing.1);
    let missing = s.get("/api/v1/search").await;
    assert_error(&missing, 422, "validation_failed");
    assert_eq!(missing.1["error"]["field"], "q", "{}", missing.1);
    let (_, conversation) = s.post("/api/v1/conversations", json!({"contact_id": id(&c)})).await;
    let missing =
        s.post(&format!("/api/v1/conversations/{}/messages", id(&conversation)), json!({"content": {}})).await;
    assert_error(&missing, 422, "validation_failed");
    assert_eq!(missing.1["error"]["field"], "content.type", "{}", missing.1);
    // 409: conflict.
    assert_error(
        &s.post("/api/v1/conversations", json!({"contact_id": id(&c)})).await,
        409,
        "conversation_already_open",
    );
    // Health, readiness, metrics.
    assert_eq!(s.call(Method::GET, "/healthz", None, None).await.1["status"], "ok");
    assert_eq!(s.call(Method::GET, "/readyz", None, None).await.1["status"], "ready");
    let metrics = s.http.get(format!("{}/metrics", s.base)).send().await.expect("metrics").text().await.expect("text");
    assert!(metrics.contains("switchboard_http_requests_total"), "{metrics}");
    s.stop().await;
}
both_backends!(errors, error_classes);

async fn cross_workspace(backend: Backend) {
    let s = TestServer::start(backend).await;
    let (org, ws) = {
        let ws = s.app.store.get_workspace(s.workspace_id).await.expect("ws");
        (ws.organisation_id, ws.id)
    };
    // A second workspace with its own owner and data.
    let intruder = s.app.store.create_workspace(org, "Other", s.owner_id).await.expect("second workspace");
    let other_token =
        accounts::issue_token(&s.app, intruder.id, s.owner_id, "other", Actor::system()).await.expect("token").token;
    let (_, c) = s.post("/api/v1/contacts", json!({"first_name": "Secret"})).await;
    let (_, conv) = s.post("/api/v1/conversations", json!({"contact_id": id(&c)})).await;
    let (_, team) = s.post("/api/v1/teams", json!({"name": "Private"})).await;
    let (_, snippet) = s.post("/api/v1/snippets", json!({"shortcut": "s", "body": "b"})).await;
    assert_ne!(ws, intruder.id);
    let as_other = |m: Method, p: String, b: Option<Value>| {
        let t = other_token.clone();
        let s = &s;
        async move { s.call(m, &p, Some(&t), b).await }
    };
    let (cid, conv_id, tid, sid) = (id(&c), id(&conv), id(&team), id(&snippet));
    // Another workspace's ids look exactly like unknown ids.
    for (m, p, b) in [
        (Method::GET, format!("/api/v1/contacts/{cid}"), None),
        (Method::PATCH, format!("/api/v1/contacts/{cid}"), Some(json!({"first_name": "Pwned"}))),
        (Method::DELETE, format!("/api/v1/contacts/{cid}"), None),
        (Method::POST, format!("/api/v1/contacts/{cid}/tags"), Some(json!({"tags": ["x"]}))),
        (Method::GET, format!("/api/v1/conversations/{conv_id}"), None),
        (Method::GET, format!("/api/v1/conversations/{conv_id}/messages"), None),
        (Method::POST, format!("/api/v1/conversations/{conv_id}/close"), Some(json!({}))),
        (Method::POST, format!("/api/v1/conversations/{conv_id}/assign"), Some(json!({"user_id": null}))),
        (Method::GET, format!("/api/v1/conversations/{conv_id}/comments"), None),
        (Method::PUT, format!("/api/v1/conversations/{conv_id}/pin"), None),
        (Method::GET, format!("/api/v1/teams/{tid}"), None),
        (Method::DELETE, format!("/api/v1/snippets/{sid}"), None),
    ] {
        let got = as_other(m.clone(), p.clone(), b).await;
        assert_error(&got, 404, "not_found");
    }
    assert_eq!(as_other(Method::GET, "/api/v1/contacts".into(), None).await.1["items"], json!([]));
    assert_eq!(as_other(Method::GET, "/api/v1/conversations".into(), None).await.1["items"], json!([]));
    assert_eq!(s.get(&format!("/api/v1/contacts/{cid}")).await.1["first_name"], "Secret", "untouched");
    s.stop().await;
}
both_backends!(cross_workspace_isolation, cross_workspace);

async fn openapi_matches_routes(backend: Backend) {
    let s = TestServer::start(backend).await;
    let (status, doc) = s.call(Method::GET, "/api/v1/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    let paths = doc["paths"].as_object().expect("paths");
    assert!(paths.len() >= 30, "{} paths", paths.len());
    let mut operations = 0;
    for (path, item) in paths {
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_none() {
                continue;
            }
            operations += 1;
            // Every documented operation exists with that method: unauthenticated, it answers 401
            // (login and first-run setup answer 422 to an empty body; the setup state is public), never 404
            // or 405.
            let concrete = path.replace("{id}", "1").replace("{user_id}", "1").replace("{tag}", "x");
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            let body = if method == "get" || method == "delete" { None } else { Some(json!({})) };
            let (status, body) = s.call(m, &concrete, None, body).await;
            let expected = match (method, path.as_str()) {
                ("post", "/api/v1/auth/login" | "/api/v1/setup") => 422,
                ("get", "/api/v1/setup") => 200,
                _ => 401,
            };
            assert_eq!(status.as_u16(), expected, "{method} {path}: {body}");
        }
    }
    assert!(operations >= 50, "{operations} operations");

    // Every list's `limit` documents its bounds, and the server keeps exactly those: a client generated
    // from the document never sends a page size the server refuses.
    let mut lists = 0;
    for (path, item) in paths {
        let Some(params) = item.pointer("/get/parameters").and_then(Value::as_array) else { continue };
        let Some(limit) = params.iter().find(|p| p["name"] == "limit") else { continue };
        if path.contains('{') {
            continue;
        }
        let (min, max) = (&limit["schema"]["minimum"], &limit["schema"]["maximum"]);
        assert_eq!(min, &json!(1), "{path}: limit's minimum");
        let max = max.as_u64().unwrap_or_else(|| panic!("{path}: limit has no maximum"));
        // The one other required parameter of a list is the search's text.
        let query = if path == "/api/v1/search" { "q=ana&" } else { "" };
        for (limit, ok) in [(1, true), (max, true), (0, false), (max + 1, false)] {
            let got = s.get(&format!("{path}?{query}limit={limit}")).await;
            if ok {
                assert_eq!(got.0, StatusCode::OK, "{path} limit={limit}: {}", got.1);
            } else {
                assert_error(&got, 422, "validation_failed");
                assert_eq!(got.1["error"]["field"], "limit", "{path} limit={limit}");
            }
        }
        lists += 1;
    }
    assert!(lists >= 15, "{lists} lists with a limit");

    // A query parameter documented as a choice of words (`^(a|b)?$`) takes exactly those words.
    let mut choices = 0;
    for (path, item) in paths {
        let Some(params) = item.pointer("/get/parameters").and_then(Value::as_array) else { continue };
        for param in params.iter().filter(|p| p["in"] == "query" && !path.contains('{')) {
            let Some(words) = param["schema"]["pattern"]
                .as_str()
                .and_then(|p| p.strip_prefix("^(")?.strip_suffix(")?$"))
                .filter(|w| w.chars().all(|c| c.is_ascii_lowercase() || c == '_' || c == '|'))
            else {
                continue;
            };
            let name = param["name"].as_str().expect("name");
            for word in words.split('|') {
                let got = s.get(&format!("{path}?{name}={word}")).await;
                assert_eq!(got.0, StatusCode::OK, "{path}?{name}={word}: {}", got.1);
            }
            let got = s.get(&format!("{path}?{name}=bogus")).await;
            assert_error(&got, 422, "validation_failed");
            assert_eq!(got.1["error"]["field"], name, "{path}?{name}=bogus");
            choices += 1;
        }
    }
    assert!(choices >= 3, "{choices} query parameters documented as a choice of words");

    // Names: the documented maximum is the server's for every settings item created by its name alone, and
    // a contact's tag names are documented as the tags' own.
    let schemas = &doc["components"]["schemas"];
    for path in ["/api/v1/tags", "/api/v1/teams", "/api/v1/closing-categories"] {
        let reference = doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            .as_str()
            .unwrap_or_else(|| panic!("{path}: a named request schema"));
        let name = &schemas[reference.rsplit('/').next().expect("schema name")]["properties"]["name"];
        let max = name["maxLength"].as_u64().unwrap_or_else(|| panic!("{path}: name has no maxLength")) as usize;
        assert_eq!(s.post(path, json!({"name": "n".repeat(max)})).await.0, StatusCode::CREATED, "{path}");
        assert_error(&s.post(path, json!({"name": "m".repeat(max + 1)})).await, 422, "validation_failed");
        if path == "/api/v1/tags" {
            for (schema, field) in [("CreateContact", "tags"), ("TagsInput", "tags")] {
                let items = &schemas[schema]["properties"][field]["items"];
                assert_eq!((&items["minLength"], &items["maxLength"]), (&json!(1), &json!(max)), "{schema}.{field}");
            }
        }
    }
    s.stop().await;
}
both_backends!(openapi, openapi_matches_routes);

/// The probes are polled all the time and `/readyz` answers 503 until the plugins are loaded: that answer
/// is expected, so it is not logged as a failed request (tower-http's trace layer logs 5xx at ERROR),
/// while an ordinary request still is traced.
#[tokio::test]
async fn readiness_probe_while_plugins_load_is_not_logged_as_an_error() {
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("log buffer").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let logs = Capture::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    // A current-thread runtime: the server's tasks run on this thread, under this subscriber.
    let _default = tracing::subscriber::set_default(subscriber);
    // While only one subscriber is registered, tracing-core decides whether a log statement is wanted with
    // the subscriber of whichever thread reaches it first (another test's, which has none) and remembers
    // that; with a second one registered it asks all of them, this test's included.
    let _second = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());

    let db = switchboard_tests::TestDb::new(Backend::Sqlite).await;
    let app = db.app().await; // its plugins are never loaded
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(switchboard::run(app, listener, async {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::new();
    for _ in 0..3 {
        let resp = http.get(format!("{base}/readyz")).send().await.expect("readyz");
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body: Value = resp.json().await.expect("json");
        assert_eq!(body["error"]["code"], "plugin_unavailable", "{body}");
    }
    let resp = http.get(format!("{base}/api/v1/contacts")).send().await.expect("contacts");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let _ = stop.send(());
    server.await.expect("server task").expect("server ran");
    db.cleanup().await;

    let logs = String::from_utf8(logs.0.lock().expect("log buffer").clone()).expect("utf-8 logs");
    assert!(logs.contains("/api/v1/contacts"), "ordinary requests are still traced:\n{logs}");
    assert!(!logs.contains("/readyz"), "the probe is not traced:\n{logs}");
    assert!(!logs.contains("ERROR"), "nothing is logged as an error:\n{logs}");
}
