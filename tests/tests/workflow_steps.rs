//! The workflow steps that reach beyond the contact, on SQLite and PostgreSQL: assigning within a team or
//! the workspace (in turn, least open, online only, a cap, the timeout path), comments with mentions,
//! `$message.*` variables, and the step plugins (HTTP request against a loopback API, AI reply against a
//! loopback chat-completions server, Google Sheets against a loopback token endpoint and Sheets API).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use switchboard_tests::FakeProvider;
use switchboard_tests::inbox::*;
use switchboard_tests::workflows::*;
use switchboard_tests::{Backend, TestServer, both_backends};

async fn start_run(s: &TestServer, workflow: i64, contact: i64) -> i64 {
    let (status, run) = s.post(&format!("/api/v1/workflows/{workflow}/runs"), json!({"contact_id": contact})).await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    id(&run)
}

async fn assignee(s: &TestServer, conversation: i64) -> Value {
    s.get(&format!("/api/v1/conversations/{conversation}")).await.1["assignee_id"].clone()
}

async fn assign_and_comment(backend: Backend) {
    let s = TestServer::start(backend).await;
    let (a, a_token) = s.user("a@acme.test", "agent").await;
    let (b, b_token) = s.user("b@acme.test", "agent").await;
    let (_, team) = s.post("/api/v1/teams", json!({"name": "Support"})).await;
    let team = id(&team);
    for user in [a, b] {
        assert_eq!(s.put(&format!("/api/v1/teams/{team}/members/{user}"), None).await.0, StatusCode::OK);
    }
    let wf = publish(
        &s,
        "Route to support",
        json!({
            "trigger": {"type": "manual"},
            "steps": [
                {"id": "route", "type": "assign", "to": "team", "team_id": team},
                {"id": "note", "type": "add_comment", "mentions": [b],
                 "text": "$contact.first_name asked: $message.text (via $message.type)"}
            ]
        }),
    )
    .await;
    let (_, first, c1) = writer(&s, "1").await;
    let (_, second, c2) = writer(&s, "2").await;
    start_run(&s, wf, first).await;
    start_run(&s, wf, second).await;
    assert_eq!(drive(&s).await, 4);
    // In turn within the team, and the conversations moved to the team.
    assert_eq!((assignee(&s, c1).await, assignee(&s, c2).await), (json!(a), json!(b)));
    assert_eq!(s.get(&format!("/api/v1/conversations/{c1}")).await.1["team_id"], json!(team));
    // The comment is the workflow's, its variables filled in; the mentioned agent is told.
    let (_, comments) = s.get(&format!("/api/v1/conversations/{c1}/comments")).await;
    let comment = &comments["items"][0];
    assert_eq!(comment["body"], "Contact 1 asked: hello (via text)", "{comments}");
    assert_eq!((comment["author_id"].clone(), comment["workflow_id"].clone()), (Value::Null, json!(wf)));
    assert_eq!(comment["mentions"], json!([b]));
    let (_, told) = s.call(Method::GET, "/api/v1/notifications", Some(&b_token), None).await;
    let kinds: Vec<&str> = told["items"].as_array().expect("items").iter().filter_map(|n| n["kind"].as_str()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "mention").count(), 2, "{told}");
    assert_eq!(told["items"][0]["actor"], json!({"kind": "workflow", "id": wf}));

    // Least open across the workspace among online users under a cap: the owner has none open.
    let least = publish(
        &s,
        "Least open",
        json!({"trigger": {"type": "manual"}, "steps": [
            {"id": "pick", "type": "assign", "to": "workspace", "rule": "least_open", "online_only": true, "max_open": 1}
        ]}),
    )
    .await;
    let (_, third, c3) = writer(&s, "3").await;
    start_run(&s, least, third).await;
    drive(&s).await;
    assert_eq!(assignee(&s, c3).await, json!(s.owner_id));

    // Nobody eligible (everyone is at the cap or away): the step looks again until its timeout, then
    // goes down the timeout path.
    for token in [&a_token, &b_token] {
        let away = json!({"availability": "away"});
        s.call(Method::PUT, "/api/v1/auth/me/availability", Some(token), Some(away)).await;
    }
    let waiting = publish(
        &s,
        "Wait for someone",
        json!({"trigger": {"type": "manual"}, "steps": [
            {"id": "try", "type": "assign", "to": "workspace", "online_only": true, "max_open": 1,
             "timeout_seconds": 1, "on_timeout": [{"id": "flag", "type": "update_tag", "action": "add", "tags": ["unassigned"]}]},
        ]}),
    )
    .await;
    let (_, fourth, c4) = writer(&s, "4").await;
    let run = start_run(&s, waiting, fourth).await;
    assert_eq!(drive(&s).await, 1);
    let log = run_log(&s, run).await;
    assert_eq!((log["status"].clone(), log["position"].clone()), (json!("waiting"), json!("try")), "{log}");
    assert_eq!(assignee(&s, c4).await, Value::Null);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(drive(&s).await, 2);
    let log = run_log(&s, run).await;
    assert_eq!(log["status"], "completed", "{log}");
    assert_eq!(path(&log).last().expect("a step").0, "flag");
    assert_eq!(log["steps"][1]["branch"], "timeout");
    assert!(contact(&s, fourth).await["tags"].as_array().expect("tags").contains(&json!("unassigned")));

    // Without a timeout the run goes on, the conversation left unassigned.
    let go_on = publish(
        &s,
        "Try once",
        json!({"trigger": {"type": "manual"}, "steps": [
            {"id": "try", "type": "assign", "to": "team", "team_id": team, "online_only": true},
            {"id": "after", "type": "update_tag", "action": "add", "tags": ["tried"]}
        ]}),
    )
    .await;
    let run = start_run(&s, go_on, fourth).await;
    drive(&s).await;
    let log = run_log(&s, run).await;
    assert_eq!(log["steps"][0]["output"], json!({"assigned": null, "reason": "nobody is eligible"}));
    assert_eq!(log["status"], "completed");

    // A draft naming a team or a user that does not exist, or a team step without its team, says so.
    let (_, draft) = s
        .post(
            "/api/v1/workflows",
            json!({"name": "Broken", "definition": {"trigger": {"type": "manual"}, "steps": [
                {"id": "x", "type": "assign", "to": "team", "team_id": 999_999},
                {"id": "y", "type": "assign", "to": "team"},
                {"id": "z", "type": "add_comment", "text": "hi", "mentions": [999_998]},
                {"id": "p", "type": "plugin", "plugin": "no-such-plugin"}
            ]}}),
        )
        .await;
    let fields: Vec<&str> =
        draft["problems"].as_array().expect("problems").iter().filter_map(|p| p["field"].as_str()).collect();
    assert_eq!(fields, ["steps[1].team_id", "steps[0].team_id", "steps[2].mentions[0]", "steps[3].plugin"], "{draft}");
    s.stop().await;
}
both_backends!(workflow_assign_and_comment, assign_and_comment);

/// A server whose step plugins may call `api` (a loopback stand-in for the outside world).
async fn server_for(backend: Backend, api: &FakeProvider) -> TestServer {
    let base = api.base();
    TestServer::start_with(backend, move |c| {
        c.plugins.allow_private_addresses = vec!["127.0.0.1".parse().expect("ip")];
        for (plugin, extra) in [
            ("http-request", String::new()),
            ("ai-reply", format!("config = {{ base_url = \"{base}/v1\", model = \"local-model\" }}\nsecrets = {{ api_key = \"sk-test\" }}")),
        ] {
            let settings = format!("outbound_hosts = [\"{base}\"]\n{extra}");
            c.plugins.settings.insert(plugin.into(), toml::from_str(&settings).expect("settings"));
        }
    })
    .await
}

async fn http_request(backend: Backend) {
    let api = FakeProvider::start().await;
    let s = server_for(backend, &api).await;
    api.answer(
        "/orders",
        200,
        json!({"data": {"order": {"id": "A-17", "total": 42.5}}, "items": [{"sku": "x"}, {"sku": "y"}]}),
    );
    api.answer("/broken", 503, json!({"error": "down"}));
    let (_, contact_id, conversation) = writer(&s, "1").await;
    let base = api.base();
    let wf = publish(
        &s,
        "Look up the order",
        json!({
            "trigger": {"type": "manual"},
            "steps": [
                {"id": "lookup", "type": "plugin", "plugin": "http-request", "inputs": {
                    "method": "POST",
                    "url": format!("{base}/orders?contact=$contact.id"),
                    "headers": [{"name": "X-Api-Key", "value": "k-$contact.id"}],
                    "body": "{\"phone\": \"$contact.phone\", \"said\": \"$message.text\"}",
                    "mappings": [
                        {"path": "$.data.order.id", "variable": "order_id"},
                        {"path": "$.items[-1].sku", "variable": "last_sku"},
                        {"path": "$.nothing.here", "variable": "missing"}
                    ]
                }, "branches": {"failure": [{"id": "sorry", "type": "send_message", "text": "Lookup failed"}]}},
                {"id": "tell", "type": "send_message", "text": "Order $variables.order_id, last item $variables.last_sku"},
                {"id": "again", "type": "plugin", "plugin": "http-request", "inputs": {"url": format!("{base}/broken")},
                 "branches": {"failure": [{"id": "flag", "type": "update_tag", "action": "add", "tags": ["api-down"]}]}}
            ]
        }),
    )
    .await;
    let run = start_run(&s, wf, contact_id).await;
    drive(&s).await;
    let log = run_log(&s, run).await;
    assert_eq!(log["status"], "completed", "{log}");
    let seen = api.requests();
    assert_eq!(seen.len(), 2, "each request once");
    let order = &seen[0];
    assert_eq!((order.method.as_str(), order.path.clone()), ("POST", format!("/orders?contact={contact_id}")));
    assert_eq!(order.headers.get("x-api-key"), Some(&format!("k-{contact_id}")));
    assert_eq!(order.headers.get("content-type").map(String::as_str), Some("application/json"));
    assert_eq!(order.json()["said"], "hello");
    // The mapped values became variables; a path that finds nothing sets nothing.
    assert_eq!(log["variables"]["order_id"], "A-17");
    let lookup = log["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["step_id"] == "lookup" && s["output"]["status"].is_number());
    assert_eq!(lookup.expect("the call is logged")["output"]["status"], 200);
    assert!(log["variables"].get("missing").is_none(), "{log}");
    assert_eq!(texts(&s, conversation).await.last().map(String::as_str), Some("Order A-17, last item y"));
    // A 503 takes the failure path with the status and the answer in the log.
    let failed =
        log["steps"].as_array().expect("steps").iter().rev().find(|s| s["step_id"] == "again").expect("logged");
    assert_eq!((failed["branch"].clone(), failed["output"]["status"].clone()), (json!("failure"), json!(503)));
    assert!(contact(&s, contact_id).await["tags"].as_array().expect("tags").contains(&json!("api-down")));

    // The server's own address is refused even where it is granted (no loops), as are hosts nobody granted.
    let own = s.base.clone();
    let loops = publish(
        &s,
        "Loop",
        json!({"trigger": {"type": "manual"}, "steps": [
            {"id": "self", "type": "plugin", "plugin": "http-request", "inputs": {"url": format!("{own}/api/v1/workflows")}},
        ]}),
    )
    .await;
    let run = start_run(&s, loops, contact_id).await;
    drive(&s).await;
    let log = run_log(&s, run).await;
    assert_eq!(log["status"], "exited", "{log}");
    let reason = log["end_reason"].as_str().unwrap_or_default();
    assert!(reason.contains("own address"), "{reason}");
    s.stop().await;
}
both_backends!(workflow_http_request, http_request);

async fn ai_reply(backend: Backend) {
    let api = FakeProvider::start().await;
    let s = server_for(backend, &api).await;
    api.answer(
        "/v1/chat/completions",
        200,
        json!({"choices": [{"message": {"role": "assistant", "content": "We open at 9."}}]}),
    );
    let (channel, contact_id, conversation) = writer(&s, "1").await;
    let wf = publish(
        &s,
        "Answer with AI",
        json!({"trigger": {"type": "manual"}, "steps": [
            {"id": "ai", "type": "plugin", "plugin": "ai-reply",
             "inputs": {"instructions": "You answer for Acme. The customer is $contact.first_name.", "handover_keywords": ["human"]},
             "branches": {"handover": [{"id": "human", "type": "update_tag", "action": "add", "tags": ["handover"]}]}}
        ]}),
    )
    .await;
    start_run(&s, wf, contact_id).await;
    drive(&s).await;
    // The contact's last message went to the model with the instructions; the reply went to the contact.
    let asked = api.requests();
    assert_eq!(asked.len(), 1);
    let body = asked[0].json();
    assert_eq!(asked[0].headers.get("authorization").map(String::as_str), Some("Bearer sk-test"));
    assert_eq!(body["model"], "local-model");
    assert!(
        body["messages"][0]["content"]
            .as_str()
            .unwrap_or_default()
            .starts_with("You answer for Acme. The customer is Contact 1.")
    );
    assert_eq!(body["messages"][1], json!({"role": "user", "content": "hello"}));
    assert_eq!(texts(&s, conversation).await.last().map(String::as_str), Some("We open at 9."));

    // "human" hands over without asking the model; so does a model that answers HANDOVER.
    incoming(&s, channel, "1", "Can I talk to a human?").await;
    let run = start_run(&s, wf, contact_id).await;
    drive(&s).await;
    assert_eq!(api.requests().len(), 1, "the model was not asked");
    // The log shows the call started, then its outcome.
    let log = run_log(&s, run).await;
    assert_eq!(
        path(&log),
        [("ai".to_owned(), Value::Null), ("ai".to_owned(), json!("handover")), ("human".to_owned(), Value::Null)]
    );
    assert_eq!(log["steps"][0]["output"], json!({"started": true}));
    api.answer("/v1/chat/completions", 200, json!({"choices": [{"message": {"content": "HANDOVER."}}]}));
    incoming(&s, channel, "1", "My order is broken").await;
    let run = start_run(&s, wf, contact_id).await;
    drive(&s).await;
    assert_eq!(api.requests().len(), 2);
    assert_eq!(path(&run_log(&s, run).await)[1], ("ai".to_owned(), json!("handover")));
    assert_eq!(texts(&s, conversation).await.last().map(String::as_str), Some("My order is broken"), "no reply sent");

    // A model that fails: the run ends with its reason (the step has no failure path).
    api.answer("/v1/chat/completions", 500, json!({"error": {"message": "model overloaded"}}));
    let run = start_run(&s, wf, contact_id).await;
    drive(&s).await;
    let log = run_log(&s, run).await;
    assert_eq!(log["status"], "exited");
    assert!(log["end_reason"].as_str().unwrap_or_default().contains("model overloaded"), "{log}");
    s.stop().await;
}
both_backends!(workflow_ai_reply, ai_reply);

async fn third_party_steps(backend: Backend) {
    let root = tempfile::tempdir().expect("tempdir");
    let folder = root.path().join("plugins/echo");
    std::fs::create_dir_all(&folder).expect("plugin folder");
    let manifest = "[plugin]\nid = \"echo-step\"\nname = \"Echo\"\nversion = \"0.1.0\"\nworld = \"step\"\nwasm = \"plugin.wasm\"\n";
    std::fs::write(folder.join("plugin.toml"), manifest).expect("manifest");
    std::fs::write(folder.join("plugin.wasm"), switchboard_tests::build_wasm("tests/plugins", "echo-step"))
        .expect("wasm");
    let dir = root.path().join("plugins").display().to_string();
    let s = TestServer::start_with(backend, move |c| c.plugins.dir = dir).await;

    // The step list: the built-in steps, then the plugins' with what they declare.
    let (status, steps) = s.get("/api/v1/workflow-steps").await;
    assert_eq!(status, StatusCode::OK, "{steps}");
    let list = steps.as_array().expect("a list");
    let of = |plugin: &str| {
        list.iter().find(|t| t["plugin"] == plugin).cloned().unwrap_or_else(|| panic!("{plugin}: {steps}"))
    };
    assert!(list.iter().any(|t| t["type"] == "ask_question" && t["branches"] == json!(["failure", "timeout"])));
    let echo = of("echo-step");
    assert_eq!((echo["type"].clone(), echo["branches"].clone()), (json!("plugin"), json!(["empty"])));
    assert_eq!(echo["inputs_schema"]["properties"]["text"]["type"], "string");
    assert_eq!(of("http-request")["inputs_schema"]["required"], json!(["url"]));
    assert_eq!(of("ai-reply")["branches"], json!(["handover", "failure"]));
    let (_, agent) = s.user("agent@acme.test", "agent").await;
    assert_eq!(s.call(Method::GET, "/api/v1/workflow-steps", Some(&agent), None).await.0, StatusCode::FORBIDDEN);

    // A branch the plugin never takes, or a missing required input, is a problem of the draft.
    let (_, draft) = s
        .post(
            "/api/v1/workflows",
            json!({"name": "Bad", "definition": {"trigger": {"type": "manual"}, "steps": [
                {"id": "e", "type": "plugin", "plugin": "echo-step", "branches": {"nope": []}},
                {"id": "h", "type": "plugin", "plugin": "http-request", "inputs": {}}
            ]}}),
        )
        .await;
    let messages: Vec<&str> =
        draft["problems"].as_array().expect("problems").iter().filter_map(|p| p["message"].as_str()).collect();
    assert_eq!(
        messages,
        ["`echo-step` never takes a branch `nope` (its branches: empty)", "`http-request` needs the inputs url"],
        "{draft}"
    );

    // Its outputs become variables and its branch runs.
    let (_, contact_id, conversation) = writer(&s, "1").await;
    let wf = publish(
        &s,
        "Echo",
        json!({"trigger": {"type": "manual"}, "steps": [
            {"id": "say", "type": "plugin", "plugin": "echo-step", "inputs": {"text": "hi $contact.first_name"}},
            {"id": "tell", "type": "send_message", "text": "echo: $variables.echo"},
            {"id": "nothing", "type": "plugin", "plugin": "echo-step", "inputs": {"text": ""},
             "branches": {"empty": [{"id": "flag", "type": "update_tag", "action": "add", "tags": ["empty"]}]}}
        ]}),
    )
    .await;
    let run = start_run(&s, wf, contact_id).await;
    drive(&s).await;
    let log = run_log(&s, run).await;
    assert_eq!(log["status"], "completed", "{log}");
    assert_eq!(texts(&s, conversation).await.last().map(String::as_str), Some("echo: hi Contact 1"));
    assert_eq!(path(&log).last().expect("a step").0, "flag");
    s.stop().await;
}
both_backends!(workflow_third_party_steps, third_party_steps);

async fn a_plugin_call_cut_off_is_not_repeated(backend: Backend) {
    use switchboard::service::workflows::engine::{Calling, next_step};
    let api = FakeProvider::start().await;
    let s = server_for(backend, &api).await;
    let (_, contact_id, _) = writer(&s, "1").await;
    let wf = publish(
        &s,
        "Call once",
        json!({"trigger": {"type": "manual"}, "steps": [
            {"id": "call", "type": "plugin", "plugin": "http-request", "inputs": {"url": format!("{}/orders", api.base())},
             "branches": {"failure": [{"id": "flag", "type": "update_tag", "action": "add", "tags": ["cut-off"]}]}}
        ]}),
    )
    .await;
    let run_id = start_run(&s, wf, contact_id).await;
    // A worker marks the step as started, then dies before it calls the plugin (or before it records the
    // answer: from outside the two look the same).
    let run = s.app.store.get_run(s.workspace_id, run_id).await.expect("run");
    let definition = s.app.store.workflow_version(s.workspace_id, wf, run.version).await.expect("version");
    let marked = next_step(&s.app, s.workspace_id, &run, &definition, None, Calling(false)).await.expect("a step");
    assert_eq!(marked.output, json!({"started": true}));
    assert!(s.app.store.commit_step(s.workspace_id, &marked).await.expect("commit"));
    // The worker that takes the run over does not call again: the step goes down its failure path.
    drive(&s).await;
    assert!(api.requests().is_empty(), "{:?}", api.requests().len());
    let log = run_log(&s, run_id).await;
    assert_eq!(
        path(&log),
        [("call".to_owned(), Value::Null), ("call".to_owned(), json!("failure")), ("flag".to_owned(), Value::Null)]
    );
    assert!(log["steps"][1]["error"].as_str().unwrap_or_default().contains("not called again"), "{log}");
    s.stop().await;
}
both_backends!(workflow_plugin_call_not_repeated, a_plugin_call_cut_off_is_not_repeated);

async fn per_channel_content(backend: Backend) {
    let s = TestServer::start(backend).await;
    let (_, contact_id, conversation) = writer(&s, "1").await;
    let image = json!({"type": "media", "kind": "image", "url": "https://cdn.example/welcome.png", "caption": "For $contact.first_name"});
    let wf = publish(
        &s,
        "Per channel",
        json!({"trigger": {"type": "manual"}, "steps": [
            {"id": "welcome", "type": "send_message", "text": "Welcome",
             "per_channel": {"example-channel": image, "telegram": {"type": "text", "text": "on Telegram"}}},
            {"id": "only-telegram", "type": "send_message", "per_channel": {"telegram": {"type": "text", "text": "hi"}},
             "on_failure": [{"id": "noted", "type": "update_tag", "action": "add", "tags": ["no-content"]}]}
        ]}),
    )
    .await;
    let run = start_run(&s, wf, contact_id).await;
    drive(&s).await;
    // This contact is on the example channel: it gets that channel's content, with its variables filled in.
    let (_, messages) = s.get(&format!("/api/v1/conversations/{conversation}/messages")).await;
    let sent = &messages["items"][0]["content"];
    assert_eq!((sent["type"].clone(), sent["caption"].clone()), (json!("media"), json!("For Contact 1")), "{messages}");
    // A step with content for other channels only has nothing to send here: its failure path.
    let log = run_log(&s, run).await;
    assert_eq!(path(&log)[1], ("only-telegram".to_owned(), json!("failure")), "{log}");
    assert!(log["steps"][1]["error"].as_str().unwrap_or_default().contains("no content for this channel"));

    // Content for something that is not a channel plugin, or no content at all, is a problem of the draft.
    let (_, draft) = s
        .post(
            "/api/v1/workflows",
            json!({"name": "Bad", "definition": {"trigger": {"type": "manual"}, "steps": [
                {"id": "a", "type": "send_message", "per_channel": {"http-request": {"type": "text", "text": "x"}}},
                {"id": "b", "type": "send_message"}
            ]}}),
        )
        .await;
    let problems: Vec<(&str, &str)> = draft["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .map(|p| (p["field"].as_str().unwrap_or_default(), p["message"].as_str().unwrap_or_default()))
        .collect();
    assert_eq!(
        problems,
        [
            ("steps[1].text", "must not be empty"),
            ("steps[0].per_channel.http-request", "`http-request` is not a channel plugin")
        ],
        "{draft}"
    );
    s.stop().await;
}
both_backends!(workflow_per_channel_content, per_channel_content);
