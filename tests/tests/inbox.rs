//! The agent inbox through the API: views (all, mine, unassigned, mentions, a team's, custom inboxes),
//! filters, sort, the caller's pins first across keyset pages, sidebar counts, notifications, what agents
//! may see, auto-assignment, and the realtime websocket — on SQLite and PostgreSQL.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use switchboard_tests::inbox::*;
use switchboard_tests::{Backend, TestServer, assert_error, both_backends};

async fn views_filters_pins_counts(backend: Backend) {
    let s = TestServer::start(backend).await;
    let owner = s.token.clone();
    let (agent_id, agent) = s.user("agent@acme.test", "agent").await;
    let (_, sales) = s.post("/api/v1/teams", json!({"name": "Sales"})).await;
    let (_, support) = s.post("/api/v1/teams", json!({"name": "Support"})).await;
    let (sales, support) = (id(&sales), id(&support));
    assert_eq!(s.put(&format!("/api/v1/teams/{sales}/members/{agent_id}"), None).await.0, StatusCode::OK);
    let (a, b) = (example_channel(&s, "A").await, example_channel(&s, "B").await);

    // 1: waiting for a reply on A, assigned to the agent in Sales. 2: on B, answered. 3: opened by a
    // user for a VIP contact, no messages, the agent mentioned in a comment. 4: on A, closed.
    incoming(&s, a, "111", "hello").await;
    incoming(&s, b, "222", "hi").await;
    let (_, dora) = s.post("/api/v1/contacts", json!({"first_name": "Dora", "tags": ["vip"]})).await;
    let (status, opened) = s.post("/api/v1/conversations", json!({"contact_id": id(&dora)})).await;
    assert_eq!(status, StatusCode::CREATED, "{opened}");
    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    incoming(&s, a, "444", "bye").await;
    let all = ids(&s, &owner, "status=open").await;
    assert_eq!(all.len(), 4, "{all:?}");
    let (c4, c3, c2, c1) = (all[0], all[1], all[2], all[3]);
    assert_eq!(c3, id(&opened), "newest first: the user-opened conversation is second");
    let (status, closed) = s.post(&format!("/api/v1/conversations/{c4}/close"), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{closed}");
    let assign = json!({"user_id": agent_id, "team_id": sales});
    assert_eq!(s.post(&format!("/api/v1/conversations/{c1}/assign"), assign).await.0, StatusCode::OK);
    let (status, sent) = s
        .post(&format!("/api/v1/conversations/{c2}/messages"), json!({"content": {"type": "text", "text": "On it"}}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{sent}");
    let comment = json!({"body": "@agent can you look?", "mentions": [agent_id]});
    assert_eq!(s.post(&format!("/api/v1/conversations/{c3}/comments"), comment).await.0, StatusCode::CREATED);

    // Views.
    assert_eq!(sorted(ids(&s, &owner, "").await), sorted(vec![c1, c2, c3, c4]), "all, any status");
    assert_eq!(sorted(ids(&s, &owner, "view=all&status=open").await), sorted(vec![c1, c2, c3]));
    assert_eq!(ids(&s, &agent, "view=mine").await, vec![c1]);
    assert_eq!(ids(&s, &owner, "view=mine").await, Vec::<i64>::new());
    assert_eq!(sorted(ids(&s, &owner, "view=unassigned&status=open").await), sorted(vec![c2, c3]));
    assert_eq!(ids(&s, &agent, "view=mentions").await, vec![c3]);
    assert_eq!(ids(&s, &owner, "view=mentions").await, Vec::<i64>::new());
    assert_eq!(ids(&s, &owner, &format!("view=team:{sales}")).await, vec![c1]);
    assert_eq!(ids(&s, &owner, &format!("view=team:{support}")).await, Vec::<i64>::new());

    // Filters.
    assert_eq!(ids(&s, &owner, "status=open&unread=true").await, vec![c1], "2 was answered, 3 has no message");
    assert_eq!(sorted(ids(&s, &owner, "unread=true").await), sorted(vec![c1, c4]));
    assert_eq!(ids(&s, &owner, "status=closed").await, vec![c4]);
    assert_eq!(sorted(ids(&s, &owner, &format!("channel={a}")).await), sorted(vec![c1, c4]));
    assert_eq!(ids(&s, &owner, &format!("channel={b}")).await, vec![c2]);
    assert_eq!(ids(&s, &owner, "tag=vip").await, vec![c3]);
    assert_eq!(ids(&s, &owner, "tag=nobody").await, Vec::<i64>::new());
    let (_, page) = s.get(&format!("/api/v1/conversations?view=team:{sales}")).await;
    assert_eq!((page["items"][0]["unread"].clone(), page["items"][0]["pinned"].clone()), (json!(true), json!(false)));

    // Sort: by last activity, newest or oldest first; the answered conversation moved to the top.
    let newest = ids(&s, &owner, "status=open&sort=newest").await;
    assert_eq!(newest[0], c2, "{newest:?}");
    let mut oldest = ids(&s, &owner, "status=open&sort=oldest").await;
    oldest.reverse();
    assert_eq!(newest, oldest);

    // Bad parameters name themselves.
    for (query, field) in [
        ("view=everything", "view"),
        ("view=team:0", "view"),
        ("view=team:424242", "view"),
        ("sort=random", "sort"),
        ("status=pending", "status"),
        ("cursor=zzz", "cursor"),
        ("limit=0", "limit"),
    ] {
        let got = s.get(&format!("/api/v1/conversations?{query}")).await;
        assert_error(&got, 422, "validation_failed");
        assert_eq!(got.1["error"]["field"], field, "{query}");
    }

    // Pins are the caller's, and come first (newest first among themselves), on every page size.
    assert_eq!(s.put(&format!("/api/v1/conversations/{c4}/pin"), None).await.0, StatusCode::NO_CONTENT);
    assert_eq!(s.put(&format!("/api/v1/conversations/{c1}/pin"), None).await.0, StatusCode::NO_CONTENT);
    let full = walk(&s, "view=all", 50).await;
    let (pinned, rest): (Vec<_>, Vec<_>) = full.iter().partition(|(_, p)| *p);
    assert_eq!(pinned.iter().map(|(c, _)| *c).collect::<Vec<_>>(), vec![c4, c1], "{full:?}");
    assert_eq!(rest.iter().map(|(c, _)| *c).collect::<Vec<_>>(), vec![c2, c3], "{full:?}");
    assert_eq!(full[..2], [(c4, true), (c1, true)]);
    for limit in [1, 2, 3] {
        assert_eq!(walk(&s, "view=all", limit).await, full, "limit {limit}");
    }
    assert_eq!(walk(&s, "view=all&sort=oldest", 1).await, vec![(c1, true), (c4, true), (c3, false), (c2, false)]);
    assert_eq!(walk(&s, "status=open", 2).await, vec![(c1, true), (c2, false), (c3, false)]);
    let for_agent = ids(&s, &agent, "view=all").await;
    assert_eq!(for_agent, vec![c2, c4, c3, c1], "another user's pins do not reorder the agent's list");
    let (_, detail) = s.get(&format!("/api/v1/conversations/{c4}")).await;
    assert_eq!(detail["pinned"], json!(true), "{detail}");
    assert_eq!(s.delete(&format!("/api/v1/conversations/{c4}/pin")).await.0, StatusCode::NO_CONTENT);
    assert_eq!(walk(&s, "view=all", 2).await[..2], [(c1, true), (c2, false)]);

    // Sidebar counts: open conversations per view, and how many of them await a reply.
    let (status, counts) = s.call(Method::GET, "/api/v1/inbox/counts", Some(&agent), None).await;
    assert_eq!(status, StatusCode::OK, "{counts}");
    assert_eq!(counts["all"], json!({"open": 3, "unread": 1}));
    assert_eq!(counts["mine"], json!({"open": 1, "unread": 1}));
    assert_eq!(counts["unassigned"], json!({"open": 2, "unread": 0}));
    assert_eq!(counts["mentions"], json!({"open": 1, "unread": 0}));
    assert_eq!(
        counts["teams"],
        json!([{"team_id": sales, "open": 1, "unread": 1}, {"team_id": support, "open": 0, "unread": 0}])
    );
    let (_, counts) = s.get("/api/v1/inbox/counts").await;
    assert_eq!((counts["mine"]["open"].clone(), counts["mentions"]["open"].clone()), (json!(0), json!(0)));

    // Notifications: the agent was assigned a conversation, then mentioned; nobody is told of their own acts.
    let (_, list) = s.call(Method::GET, "/api/v1/notifications", Some(&agent), None).await;
    let kinds: Vec<_> = list["items"].as_array().expect("items").iter().map(|n| n["kind"].clone()).collect();
    assert_eq!(kinds, [json!("mention"), json!("assignment")], "{list}");
    assert_eq!(list["items"][0]["conversation_id"], json!(c3));
    assert_eq!(list["items"][0]["actor"], json!({"kind": "user", "id": s.owner_id}));
    assert_eq!(list["items"][1]["conversation_id"], json!(c1));
    assert_eq!(counts_of(&s, &agent).await["notifications_unread"], json!(2));
    assert_eq!(s.get("/api/v1/notifications").await.1["items"], json!([]), "the owner did it all");
    let first = list["items"][0]["id"].clone();
    let (status, marked) =
        s.call(Method::POST, "/api/v1/notifications/read", Some(&agent), Some(json!({"ids": [first]}))).await;
    assert_eq!((status, marked), (StatusCode::OK, json!({"marked": 1})));
    let (_, unread) = s.call(Method::GET, "/api/v1/notifications?unread=true", Some(&agent), None).await;
    assert_eq!(unread["items"].as_array().map(Vec::len), Some(1), "{unread}");
    let (_, marked) =
        s.call(Method::POST, "/api/v1/notifications/read", Some(&agent), Some(json!({"all": true}))).await;
    assert_eq!(marked, json!({"marked": 1}));
    assert_eq!(counts_of(&s, &agent).await["notifications_unread"], json!(0));
    for body in [json!({}), json!({"ids": [1], "all": true})] {
        let got = s.call(Method::POST, "/api/v1/notifications/read", Some(&agent), Some(body)).await;
        assert_error(&got, 422, "validation_failed");
    }
    s.stop().await;
}
both_backends!(views, views_filters_pins_counts);

async fn counts_of(s: &TestServer, token: &str) -> Value {
    let (status, counts) = s.call(Method::GET, "/api/v1/inbox/counts", Some(token), None).await;
    assert_eq!(status, StatusCode::OK, "{counts}");
    counts
}

/// The next `n` events' (seq, kind).
async fn events(ws: &mut Socket, n: usize) -> Vec<(i64, String)> {
    let mut got = Vec::new();
    while got.len() < n {
        let f = frame(ws).await;
        assert_eq!(f["type"], "event", "{f}");
        got.push((f["event"]["seq"].as_i64().expect("seq"), f["event"]["kind"].as_str().expect("kind").to_owned()));
    }
    got
}

/// The log after `after` as an agent sees it: the inbox's events only.
async fn log_for_agent(s: &TestServer, after: i64) -> Vec<(i64, String)> {
    let (_, page) = s.get(&format!("/api/v1/events?after={after}&limit=1000")).await;
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| (e["seq"].as_i64().expect("seq"), e["kind"].as_str().expect("kind").to_owned()))
        .filter(|(_, kind)| ["message.", "conversation.", "comment.", "contact."].iter().any(|p| kind.starts_with(p)))
        .collect()
}

async fn realtime_resume(backend: Backend) {
    let s = TestServer::start(backend).await;
    let (agent_id, agent) = s.user("agent@acme.test", "agent").await;
    let plain = s.call(Method::GET, "/api/v1/events/ws", None, None).await;
    assert_error(&plain, 401, "unauthorized");
    assert_error(&s.get("/api/v1/events/ws").await, 400, "bad_request");
    assert_eq!(stream(&s, &agent, "", Some("https://evil.test")).await.err(), Some(403));
    assert_eq!(stream(&s, &agent, "after=-1", None).await.err(), Some(422));

    // Without `after`, the stream starts now.
    let mut ws = stream(&s, &agent, "", None).await.expect("connect");
    let ready = frame(&mut ws).await;
    assert_eq!(ready["type"], "ready", "{ready}");
    let head = ready["last_seq"].as_i64().expect("last_seq");
    let (_, contact) = s.post("/api/v1/contacts", json!({"first_name": "Rita"})).await;
    let (_, team) = s.post("/api/v1/teams", json!({"name": "Night shift"})).await;
    let (_, conv) = s.post("/api/v1/conversations", json!({"contact_id": id(&contact)})).await;
    let live = events(&mut ws, 2).await;
    assert_eq!(live.iter().map(|(_, k)| k.as_str()).collect::<Vec<_>>(), ["contact.created", "conversation.opened"]);
    assert!(live[0].0 > head && live[1].0 > live[0].0, "{live:?}");
    assert_eq!(live, log_for_agent(&s, head).await, "the team's event is not the agent's to see");
    let last_seen = live[1].0;
    drop(ws);

    // While disconnected: a comment mentioning the agent, an assignment, a close, a settings change.
    let cid = id(&conv);
    let comment = json!({"body": "for you", "mentions": [agent_id]});
    assert_eq!(s.post(&format!("/api/v1/conversations/{cid}/comments"), comment).await.0, StatusCode::CREATED);
    assert_eq!(s.put(&format!("/api/v1/teams/{}/members/{agent_id}", id(&team)), None).await.0, StatusCode::OK);
    let assign = json!({"user_id": agent_id});
    assert_eq!(s.post(&format!("/api/v1/conversations/{cid}/assign"), assign).await.0, StatusCode::OK);
    assert_eq!(s.post(&format!("/api/v1/conversations/{cid}/close"), json!({})).await.0, StatusCode::OK);
    let missed = log_for_agent(&s, last_seen).await;
    assert!(missed.len() >= 3, "{missed:?}");

    // Reconnecting with the last number seen delivers exactly what was missed, in order, then what is new.
    let mut ws = stream(&s, &agent, &format!("after={last_seen}"), None).await.expect("reconnect");
    assert_eq!(frame(&mut ws).await["last_seq"], json!(last_seen));
    assert_eq!(events(&mut ws, missed.len()).await, missed);
    s.post("/api/v1/contacts", json!({"first_name": "Marker"})).await;
    let next = events(&mut ws, 1).await;
    assert_eq!(next[0].1, "contact.created", "nothing repeated or extra before the new event: {next:?}");
    assert_eq!(next, log_for_agent(&s, missed.last().expect("missed").0).await);

    // A manager's stream carries every event, from the start of the log when asked.
    let mut all = stream(&s, &s.token, "after=0", None).await.expect("owner");
    frame(&mut all).await;
    let (_, page) = s.get("/api/v1/events?after=0&limit=1000").await;
    let log: Vec<(i64, String)> = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| (e["seq"].as_i64().expect("seq"), e["kind"].as_str().expect("kind").to_owned()))
        .collect();
    assert!(log.iter().any(|(_, k)| k.starts_with("team.")), "{log:?}");
    assert_eq!(events(&mut all, log.len()).await, log);
    s.stop().await;
}
both_backends!(realtime, realtime_resume);

async fn custom_inboxes(backend: Backend) {
    let s = TestServer::start(backend).await;
    let (a_id, a) = s.user("a@acme.test", "agent").await;
    let (b_id, b) = s.user("b@acme.test", "agent").await;
    let (_, sales) = s.post("/api/v1/teams", json!({"name": "Sales"})).await;
    let sales = id(&sales);
    assert_eq!(s.put(&format!("/api/v1/teams/{sales}/members/{a_id}"), None).await.0, StatusCode::OK);
    s.post("/api/v1/contact-fields", json!({"key": "plan", "label": "Plan", "field_type": "text"})).await;
    let (ch_a, ch_b) = (example_channel(&s, "A").await, example_channel(&s, "B").await);
    // 1: Ana on A, VIP, gold plan, assigned to agent a in Sales. 2: on B, lead, silver, unassigned.
    // 3: on A, no tags, no plan, unassigned, closed.
    let mut convs = Vec::new();
    for (from, channel, name, tags, plan) in [
        ("1", ch_a, "Ana", vec!["vip"], Some("gold")),
        ("2", ch_b, "محمد", vec!["lead"], Some("silver")),
        ("3", ch_a, "Zed", vec![], None),
    ] {
        incoming(&s, channel, from, "hello").await;
        let conv = ids(&s, &s.token, "").await[0];
        let (_, detail) = s.get(&format!("/api/v1/conversations/{conv}")).await;
        let contact = detail["contact"]["id"].as_i64().expect("contact");
        let mut patch = json!({"first_name": name});
        if let Some(plan) = plan {
            patch["custom_fields"] = json!({"plan": plan});
        }
        assert_eq!(s.patch(&format!("/api/v1/contacts/{contact}"), patch).await.0, StatusCode::OK);
        if !tags.is_empty() {
            assert_eq!(
                s.post(&format!("/api/v1/contacts/{contact}/tags"), json!({"tags": tags})).await.0,
                StatusCode::OK
            );
        }
        convs.push(conv);
    }
    let (c1, c2, c3) = (convs[0], convs[1], convs[2]);
    let assign = json!({"user_id": a_id, "team_id": sales});
    assert_eq!(s.post(&format!("/api/v1/conversations/{c1}/assign"), assign).await.0, StatusCode::OK);
    assert_eq!(s.post(&format!("/api/v1/conversations/{c3}/close"), json!({})).await.0, StatusCode::OK);

    let srv = &s;
    let create = |body: Value| async move {
        let (status, inbox) = srv.post("/api/v1/inboxes", body).await;
        assert_eq!(status, StatusCode::CREATED, "{inbox}");
        id(&inbox)
    };
    let condition = |field: &str, op: &str, value: Value| json!({"field": field, "op": op, "value": value});
    let vip_or_gold_on_a = create(json!({"name": "VIP on A", "sharing": "public", "filter": {"and": [
        condition("last_channel", "is", json!(ch_a)),
        {"or": [condition("tag", "has_any", json!(["VIP"])), condition("contact.plan", "equals", json!("GOLD"))]},
    ]}}))
    .await;
    let cases = [
        (
            json!({"and": [condition("last_channel", "is", json!(ch_a)), {"or": [condition("tag", "has_any", json!(["vip"]))]}]}),
            vec![c1],
        ),
        (condition("contact.plan", "not_equals", json!("gold")), vec![c2, c3]),
        (condition("contact.plan", "exists", Value::Null), vec![c1, c2]),
        (condition("contact.plan", "not_exists", Value::Null), vec![c3]),
        (condition("tag", "has_none", json!(["vip", "lead"])), vec![c3]),
        (condition("tag", "has_all", json!(["vip", "lead"])), vec![]),
        (condition("assignee", "not_exists", Value::Null), vec![c2, c3]),
        (condition("assignee", "is", json!(a_id)), vec![c1]),
        (condition("team", "is_not", json!(sales)), vec![c2, c3]),
        (condition("last_channel", "is_not", json!(ch_a)), vec![c2]),
        (condition("contact.first_name", "contains", json!("AN")), vec![c1]),
        (condition("contact.first_name", "equals", json!("محمد")), vec![c2]),
        (condition("contact.first_name", "not_contains", json!("%")), vec![c1, c2, c3]),
        (condition("last_incoming", "within", json!(60)), vec![c1, c2, c3]),
        (condition("last_incoming", "older_than", json!(60)), vec![]),
    ];
    for (filter, expected) in cases {
        let inbox = create(json!({"name": "case", "filter": filter.clone()})).await;
        let got = sorted(ids(&s, &s.token, &format!("view=inbox:{inbox}")).await);
        assert_eq!(got, sorted(expected), "{filter}");
    }
    assert_eq!(ids(&s, &s.token, &format!("view=inbox:{vip_or_gold_on_a}&status=open")).await, vec![c1]);

    // Sharing: private to the owner, public to all, shared with named users or teams.
    let private = create(json!({"name": "mine", "filter": condition("tag", "has_any", json!(["vip"]))})).await;
    let to_sales = create(json!({"name": "sales", "sharing": "shared", "team_ids": [sales],
                                 "filter": condition("tag", "has_any", json!(["vip"]))}))
    .await;
    let to_b = create(json!({"name": "b", "sharing": "shared", "user_ids": [b_id],
                             "filter": condition("tag", "has_any", json!(["lead"]))}))
    .await;
    let seen = |token: String| async move {
        let (_, list) = srv.call(Method::GET, "/api/v1/inboxes", Some(&token), None).await;
        list.as_array().expect("list").iter().map(id).collect::<Vec<_>>()
    };
    assert_eq!(seen(a.clone()).await, vec![vip_or_gold_on_a, to_sales]);
    assert_eq!(seen(b.clone()).await, vec![vip_or_gold_on_a, to_b]);
    let hidden = s.call(Method::GET, &format!("/api/v1/inboxes/{private}"), Some(&a), None).await;
    assert_error(&hidden, 404, "not_found");
    let view = s.call(Method::GET, &format!("/api/v1/conversations?view=inbox:{private}"), Some(&a), None).await;
    assert_error(&view, 422, "validation_failed");
    assert_eq!(ids(&s, &a, &format!("view=inbox:{to_sales}")).await, vec![c1]);
    let rename = json!({"name": "renamed", "sharing": "public", "filter": condition("tag", "has_any", json!(["vip"]))});
    let by_agent =
        s.call(Method::PUT, &format!("/api/v1/inboxes/{vip_or_gold_on_a}"), Some(&a), Some(rename.clone())).await;
    assert_error(&by_agent, 403, "forbidden");
    let (status, renamed) = s.put(&format!("/api/v1/inboxes/{vip_or_gold_on_a}"), Some(rename)).await;
    assert_eq!((status, renamed["name"].clone()), (StatusCode::OK, json!("renamed")));

    // The sidebar counts every inbox the caller sees (open conversations).
    let (_, counts) = s.call(Method::GET, "/api/v1/inbox/counts", Some(&b), None).await;
    assert_eq!(
        counts["inboxes"],
        json!([{"inbox_id": vip_or_gold_on_a, "open": 1, "unread": 1}, {"inbox_id": to_b, "open": 1, "unread": 1}])
    );

    // Errors name the part of the filter at fault.
    for (body, field) in [
        (
            json!({"name": "x", "filter": {"and": [condition("contact.nope", "equals", json!("x"))]}}),
            "filter.and[0].field",
        ),
        (json!({"name": "x", "filter": condition("tag", "equals", json!(["vip"]))}), "filter.op"),
        (json!({"name": "x", "filter": condition("contact.plan", "equals", Value::Null)}), "filter.value"),
        (json!({"name": "x", "filter": condition("tag", "has_any", json!([]))}), "filter.value"),
        (json!({"name": "x", "filter": condition("last_incoming", "within", json!(0))}), "filter.value"),
        (json!({"name": "x", "filter": condition("last_channel", "is", json!(999_999))}), "filter"),
        (json!({"name": "x", "filter": {"or": []}}), "filter.or"),
        (
            json!({"name": "x", "filter": {"and": [{"and": [{"and": [{"and": [{"and": [condition("tag", "has_any", json!(["v"]))]}]}]}]}]}}),
            "filter.and[0].and[0].and[0].and[0].and[0]",
        ),
        (json!({"name": "x", "sharing": "shared", "filter": condition("tag", "has_any", json!(["v"]))}), "user_ids"),
        (json!({"name": "x", "user_ids": [b_id], "filter": condition("tag", "has_any", json!(["v"]))}), "sharing"),
        (json!({"name": "", "filter": condition("tag", "has_any", json!(["v"]))}), "name"),
    ] {
        let got = s.post("/api/v1/inboxes", body.clone()).await;
        assert_error(&got, 422, "validation_failed");
        assert_eq!(got.1["error"]["field"], field, "{body}");
    }
    // A part that is no filter at all says where it is and what a filter may be.
    for (filter, says) in [
        (json!({"or": [{}]}), "at or[0]: `field` is required; expected {\"and\": [filters]}"),
        (
            json!({"and": [{"or": [7]}]}),
            "at and[0].or[0]: expected {\"and\": [filters]}, {\"or\": [filters]} or a condition",
        ),
        (json!({"and": "vip"}), "`and` must be a list of filters"),
        (json!({"field": "tag", "op": "has_any", "value": ["v"], "and": []}), "unknown field `and`"),
        (json!("vip"), "expected {\"and\": [filters]}"),
    ] {
        let got = s.post("/api/v1/inboxes", json!({"name": "x", "filter": filter})).await;
        assert_error(&got, 422, "validation_failed");
        assert_eq!(got.1["error"]["field"], "filter", "{filter}");
        let message = got.1["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{filter}: {message}");
    }
    assert_eq!(s.delete(&format!("/api/v1/inboxes/{private}")).await.0, StatusCode::NO_CONTENT);
    assert_error(&s.get(&format!("/api/v1/inboxes/{private}")).await, 404, "not_found");
    s.stop().await;
}
both_backends!(custom_inbox_views, custom_inboxes);

async fn agent_access(backend: Backend) {
    let s = TestServer::start(backend).await;
    let (a_id, a) = s.user("a@acme.test", "agent").await;
    let (_, b) = s.user("b@acme.test", "agent").await;
    let (_, manager) = s.user("m@acme.test", "manager").await;
    let (_, sales) = s.post("/api/v1/teams", json!({"name": "Sales"})).await;
    let (_, support) = s.post("/api/v1/teams", json!({"name": "Support"})).await;
    let (sales, support) = (id(&sales), id(&support));
    assert_eq!(s.put(&format!("/api/v1/teams/{sales}/members/{a_id}"), None).await.0, StatusCode::OK);
    assert_eq!(s.put(&format!("/api/v1/teams/{support}/members/{}", s.owner_id), None).await.0, StatusCode::OK);
    let ch = example_channel(&s, "A").await;
    // 1: the agent a's, in Sales. 2: Sales, nobody yet. 3: the owner's, in Support. 4: nobody's.
    let mut convs = Vec::new();
    for (from, assign) in [
        ("1", Some(json!({"user_id": a_id, "team_id": sales}))),
        ("2", Some(json!({"team_id": sales}))),
        ("3", Some(json!({"user_id": s.owner_id, "team_id": support}))),
        ("4", None),
    ] {
        incoming(&s, ch, from, "hello").await;
        let conv = ids(&s, &s.token, "").await[0];
        if let Some(body) = assign {
            assert_eq!(s.post(&format!("/api/v1/conversations/{conv}/assign"), body).await.0, StatusCode::OK);
        }
        convs.push(conv);
    }
    let (c1, c2, c3, c4) = (convs[0], convs[1], convs[2], convs[3]);
    let everything = sorted(convs.clone());
    assert_eq!(sorted(ids(&s, &a, "").await), everything, "a shared inbox by default");

    let (status, ws) = s.patch("/api/v1/workspace", json!({"agent_access": "teams"})).await;
    assert_eq!((status, ws["agent_access"].clone()), (StatusCode::OK, json!("teams")));
    assert_eq!(sorted(ids(&s, &a, "").await), sorted(vec![c1, c2, c4]), "own, own team's, nobody's");
    assert_eq!(ids(&s, &b, "").await, vec![c4]);
    assert_eq!(sorted(ids(&s, &manager, "").await), everything, "managers see everything");
    let (_, counts) = s.call(Method::GET, "/api/v1/inbox/counts", Some(&a), None).await;
    assert_eq!(counts["all"]["open"], json!(3));
    assert_eq!(counts["teams"][1], json!({"team_id": support, "open": 0, "unread": 0}), "{counts}");
    // Out of sight is not found, whatever the way in.
    let text = json!({"content": {"type": "text", "text": "hi"}});
    for (method, path, body) in [
        (Method::GET, format!("/api/v1/conversations/{c3}"), None),
        (Method::GET, format!("/api/v1/conversations/{c3}/messages"), None),
        (Method::POST, format!("/api/v1/conversations/{c3}/messages"), Some(text.clone())),
        (Method::GET, format!("/api/v1/conversations/{c3}/comments"), None),
        (Method::POST, format!("/api/v1/conversations/{c3}/comments"), Some(json!({"body": "x"}))),
        (Method::POST, format!("/api/v1/conversations/{c3}/assign"), Some(json!({"user_id": a_id}))),
        (Method::POST, format!("/api/v1/conversations/{c3}/close"), Some(json!({}))),
        (Method::PUT, format!("/api/v1/conversations/{c3}/pin"), None),
        (Method::GET, format!("/api/v1/conversations/{c3}/export"), None),
    ] {
        let got = s.call(method.clone(), &path, Some(&a), body).await;
        assert_error(&got, 404, "not_found");
    }
    assert_eq!(s.call(Method::GET, &format!("/api/v1/conversations/{c2}"), Some(&a), None).await.0, StatusCode::OK);

    // Live: b's stream carries the events of what b sees only.
    let mut ws_b = stream(&s, &b, "", None).await.expect("connect");
    frame(&mut ws_b).await;
    incoming(&s, ch, "3", "only for the owner").await;
    incoming(&s, ch, "4", "for anyone").await;
    let first = frame(&mut ws_b).await;
    assert_eq!(
        (first["event"]["kind"].clone(), first["event"]["data"]["conversation_id"].clone()),
        (json!("message.created"), json!(c4))
    );

    s.patch("/api/v1/workspace", json!({"agent_access": "assigned"})).await;
    assert_eq!(sorted(ids(&s, &a, "").await), sorted(vec![c1, c2, c4]), "own and without an assignee");
    assert_eq!(sorted(ids(&s, &b, "").await), sorted(vec![c2, c4]));
    let got = s.patch("/api/v1/workspace", json!({"agent_access": "nobody"})).await;
    assert_eq!(got.0.as_u16(), 422, "{}", got.1);
    s.stop().await;
}
both_backends!(agent_access_rules, agent_access);

async fn auto_assignment(backend: Backend) {
    let s = TestServer::start(backend).await;
    let mut agents = Vec::new();
    for name in ["a", "b", "c"] {
        agents.push(s.user(&format!("{name}@acme.test"), "agent").await);
    }
    let (a, b, c) = (agents[0].0, agents[1].0, agents[2].0);
    let (_, team) = s.post("/api/v1/teams", json!({"name": "Support"})).await;
    let team = id(&team);
    for user in [a, b, c] {
        assert_eq!(s.put(&format!("/api/v1/teams/{team}/members/{user}"), None).await.0, StatusCode::OK);
    }
    let mut n = 0;
    // Opens a conversation for the team with a new contact; returns its assignee.
    let mut open = || {
        n += 1;
        let (srv, k) = (&s, n);
        async move {
            let (_, contact) = srv.post("/api/v1/contacts", json!({"first_name": format!("C{k}")})).await;
            let (status, conv) =
                srv.post("/api/v1/conversations", json!({"contact_id": id(&contact), "team_id": team})).await;
            assert_eq!(status, StatusCode::CREATED, "{conv}");
            (id(&conv), conv["assignee_id"].as_i64())
        }
    };
    assert_eq!(open().await.1, None, "off by default: the conversation waits in the team");

    let (status, updated) = s.patch(&format!("/api/v1/teams/{team}"), json!({"auto_assign": "round_robin"})).await;
    assert_eq!((status, updated["auto_assign"].clone()), (StatusCode::OK, json!("round_robin")));
    let mut turns = Vec::new();
    for _ in 0..4 {
        turns.push(open().await.1.expect("assigned"));
    }
    assert_eq!(turns, [a, b, c, a], "in turn");
    let (conv, _) = open().await;
    let (_, detail) = s.get(&format!("/api/v1/conversations/{conv}")).await;
    assert_eq!(
        detail["assignments"].as_array().expect("history").last().expect("one")["actor"],
        json!({"kind": "system", "id": null})
    );

    // Away members are skipped when the team says so.
    let away = s
        .call(Method::PUT, "/api/v1/auth/me/availability", Some(&agents[2].1), Some(json!({"availability": "away"})))
        .await;
    assert_eq!((away.0, away.1["availability"].clone()), (StatusCode::OK, json!("away")));
    s.patch(&format!("/api/v1/teams/{team}"), json!({"only_online": true})).await;
    let next: Vec<_> = [open().await.1, open().await.1, open().await.1].into_iter().flatten().collect();
    assert!(!next.contains(&c), "{next:?}");

    // Least open: whoever has the fewest open conversations (c, who was away).
    s.patch(&format!("/api/v1/teams/{team}"), json!({"auto_assign": "least_open", "only_online": false})).await;
    let open_of = |user: i64| {
        let srv = &s;
        async move { walk(srv, &format!("status=open&assignee_id={user}"), 200).await.len() }
    };
    let (before_a, before_b, before_c) = (open_of(a).await, open_of(b).await, open_of(c).await);
    let fewest = [(before_a, a), (before_b, b), (before_c, c)].into_iter().min().expect("one").1;
    assert_eq!(open().await.1, Some(fewest));

    // A cap leaves the conversation with the team when everyone is full.
    s.patch(&format!("/api/v1/teams/{team}"), json!({"max_open_per_user": 1})).await;
    assert_eq!(open().await.1, None);
    let bad = s.patch(&format!("/api/v1/teams/{team}"), json!({"max_open_per_user": 0})).await;
    assert_eq!(bad.1["error"]["field"], "max_open_per_user");
    let bad = s.patch(&format!("/api/v1/teams/{team}"), json!({"auto_assign": "random"})).await;
    assert_eq!(bad.0.as_u16(), 422, "{}", bad.1);

    // Handing a conversation to the team assigns it by the rule too.
    s.patch(&format!("/api/v1/teams/{team}"), json!({"max_open_per_user": null, "auto_assign": "round_robin"})).await;
    let (_, contact) = s.post("/api/v1/contacts", json!({"first_name": "Late"})).await;
    let (_, conv) = s.post("/api/v1/conversations", json!({"contact_id": id(&contact)})).await;
    assert_eq!(conv["assignee_id"], Value::Null);
    let (_, moved) = s.post(&format!("/api/v1/conversations/{}/assign", id(&conv)), json!({"team_id": team})).await;
    assert!(moved["assignee_id"].as_i64().is_some(), "{moved}");
    s.stop().await;
}
both_backends!(auto_assign, auto_assignment);
