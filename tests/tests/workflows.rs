//! Workflows through the API on SQLite and PostgreSQL: drafts with their problems, publishing and
//! versions, each trigger read from the event log, each step, failure paths, waits and jumps, and a step
//! job that runs twice applying its effect once. The trigger reader and the workflow jobs are driven by the
//! test (`drive`), so every step is deterministic.

use chrono::{Duration, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use switchboard::jobs::JobHandler;
use switchboard::service::workflows::engine::RunStep;
use switchboard_tests::inbox::*;
use switchboard_tests::workflows::*;
use switchboard_tests::{Backend, TestServer, assert_error, both_backends};

async fn definitions(backend: Backend) {
    let s = TestServer::start(backend).await;
    let (_, agent) = s.user("agent@acme.test", "agent").await;
    // A draft is kept with its problems, each naming the field and the step.
    let draft = json!({
        "trigger": {"type": "conversation_opened", "sources": ["contact"]},
        "steps": [
            {"id": "greet", "type": "send_message", "text": ""},
            {"id": "pause", "type": "wait", "seconds": 700000},
            {"id": "back", "type": "jump", "to": "nowhere"},
            {"id": "who", "type": "assign", "user_id": 424242}
        ]
    });
    let (status, created) = s.post("/api/v1/workflows", json!({"name": "Welcome", "definition": draft})).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let wf = id(&created);
    assert_eq!(created["status"], "draft");
    let problems: Vec<(Value, Value)> = created["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .map(|p| (p["field"].clone(), p["step_id"].clone()))
        .collect();
    assert_eq!(
        problems,
        vec![
            (json!("steps[0].text"), json!("greet")),
            (json!("steps[1].seconds"), json!("pause")),
            (json!("steps[2].to"), json!("back")),
            (json!("steps[3].user_id"), json!("who")),
        ]
    );
    // Publishing is refused with the first problem.
    let refused = s.post(&format!("/api/v1/workflows/{wf}/publish"), json!({})).await;
    assert_error(&refused, 422, "validation_failed");
    assert_eq!(refused.1["error"]["field"], "definition.steps[0].text");
    let message = refused.1["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("step `greet`: must not be empty") && message.contains("3 more problems"), "{message}");

    // A shape error names the step and the unknown field.
    let typo = json!({"trigger": {"type": "manual"}, "steps": [{"id": "a", "type": "send_message", "txt": "hi"}]});
    let (_, view) =
        s.put(&format!("/api/v1/workflows/{wf}"), Some(json!({"name": "Welcome", "definition": typo}))).await;
    assert_eq!(view["problems"][0]["step_id"], "a");
    assert!(view["problems"][0]["message"].as_str().unwrap_or_default().contains("txt"), "{view}");
    // A missing field is named by its path, as in any request.
    for (definition, field) in [
        (json!({"steps": []}), "trigger"),
        (json!({"trigger": {"type": "manual"}, "steps": [{"id": "a", "text": "hi"}]}), "steps[0].type"),
    ] {
        let (_, view) =
            s.put(&format!("/api/v1/workflows/{wf}"), Some(json!({"name": "Welcome", "definition": definition}))).await;
        assert_eq!(view["problems"][0]["field"], field, "{view}");
        assert_eq!(view["problems"][0]["message"], "is required", "{view}");
    }
    // Not a definition at all, or no name: refused outright.
    let bad = s.post("/api/v1/workflows", json!({"name": "x", "definition": [1]})).await;
    assert_error(&bad, 422, "validation_failed");
    assert_eq!(bad.1["error"]["field"], "definition");
    assert_error(&s.post("/api/v1/workflows", json!({"name": " ", "definition": {}})).await, 422, "validation_failed");

    // Fixed, published: version 1; published again after an edit: version 2.
    let good = json!({"trigger": {"type": "manual"}, "steps": [{"id": "hi", "type": "send_message", "text": "Hi"}]});
    let (_, view) =
        s.put(&format!("/api/v1/workflows/{wf}"), Some(json!({"name": "Welcome", "definition": good}))).await;
    assert_eq!(view["problems"], json!([]));
    let (_, published) = s.post(&format!("/api/v1/workflows/{wf}/publish"), json!({})).await;
    assert_eq!((published["status"].clone(), published["published_version"].clone()), (json!("published"), json!(1)));
    let (_, again) = s.post(&format!("/api/v1/workflows/{wf}/publish"), json!({})).await;
    assert_eq!(again["published_version"], 2);
    let (_, off) = s.post(&format!("/api/v1/workflows/{wf}/unpublish"), json!({})).await;
    assert_eq!((off["status"].clone(), off["published_version"].clone()), (json!("draft"), json!(2)));
    let (_, list) = s.get("/api/v1/workflows").await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));

    // Agents do not see workflows.
    let as_agent = s.call(reqwest::Method::GET, "/api/v1/workflows", Some(&agent), None).await;
    assert_error(&as_agent, 403, "forbidden");
    assert_error(&s.get("/api/v1/workflows/424242").await, 404, "not_found");
    assert_eq!(s.delete(&format!("/api/v1/workflows/{wf}")).await.0, StatusCode::NO_CONTENT);
    assert_error(&s.get(&format!("/api/v1/workflows/{wf}")).await, 404, "not_found");

    // At most 100 per workspace.
    for i in 0..100 {
        let (status, _) = s.post("/api/v1/workflows", json!({"name": format!("w{i}"), "definition": good})).await;
        assert_eq!(status, StatusCode::CREATED);
    }
    assert_error(
        &s.post("/api/v1/workflows", json!({"name": "w100", "definition": good})).await,
        422,
        "workflow_limit",
    );
    s.stop().await;
}
both_backends!(workflow_definitions, definitions);

async fn steps_in_order(backend: Backend) {
    let s = TestServer::start(backend).await;
    let (agent, _) = s.user("agent@acme.test", "agent").await;
    let fields = json!({"key": "plan", "label": "Plan", "field_type": "list", "options": ["gold", "silver"]});
    assert_eq!(s.post("/api/v1/contact-fields", fields).await.0, StatusCode::CREATED);
    let (_, contact_id, conversation) = writer(&s, "1").await;
    let wf = publish(
        &s,
        "Qualify leads",
        json!({
            "trigger": {"type": "contact_tag_updated", "tags": ["lead"], "action": "added"},
            "steps": [
                {"id": "hello", "type": "send_message", "text": "Hi $contact.first_name, thanks ($variables.tags_added)"},
                {"id": "mark", "type": "update_tag", "action": "add", "tags": ["contacted"]},
                {"id": "plan", "type": "update_field", "field": "plan", "value": "gold"},
                {"id": "route", "type": "branch", "branches": [
                    {"name": "Gold", "conditions": [
                        {"variable": "$contact.plan", "operator": "equal", "value": "gold"},
                        {"variable": "$contact.tags", "operator": "has_any_of", "value": ["contacted"]}
                    ], "steps": [{"id": "to-agent", "type": "assign", "user_id": agent}]}
                ], "else": [{"id": "close", "type": "close_conversation"}]}
            ]
        }),
    )
    .await;
    // Events before the workflow went live (the contact's creation, the first message) start nothing.
    assert_eq!(drive(&s).await, 0);
    assert!(runs(&s, wf).await.is_empty());

    // Another tag: nothing. The trigger's tag: a run, its steps in order.
    s.post(&format!("/api/v1/contacts/{contact_id}/tags"), json!({"tags": ["other"]})).await;
    assert_eq!(drive(&s).await, 0);
    s.post(&format!("/api/v1/contacts/{contact_id}/tags"), json!({"tags": ["lead"]})).await;
    assert_eq!(drive(&s).await, 5, "five steps");
    let all = runs(&s, wf).await;
    assert_eq!(all.len(), 1);
    let run = run_log(&s, id(&all[0])).await;
    assert_eq!((run["status"].clone(), run["position"].clone()), (json!("completed"), Value::Null), "{run}");
    assert_eq!(
        path(&run),
        vec![
            ("hello".to_owned(), Value::Null),
            ("mark".to_owned(), Value::Null),
            ("plan".to_owned(), Value::Null),
            ("route".to_owned(), json!("Gold")),
            ("to-agent".to_owned(), Value::Null),
        ]
    );
    assert_eq!(run["conversation_id"], conversation);
    // The message went out on the conversation, by the workflow, with its variables filled in.
    let (_, messages) = s.get(&format!("/api/v1/conversations/{conversation}/messages")).await;
    let latest = &messages["items"][0];
    assert_eq!(latest["content"]["text"], "Hi Contact 1, thanks ([\"lead\"])");
    assert_eq!((latest["sender"]["kind"].clone(), latest["sender"]["id"].clone()), (json!("workflow"), json!(wf)));
    assert_eq!(latest["status"], "pending", "queued for the channel like any reply");
    assert_eq!(run["steps"][0]["output"]["message_id"], latest["id"]);
    let c = contact(&s, contact_id).await;
    assert_eq!(c["tags"], json!(["contacted", "lead", "other"]));
    assert_eq!(c["custom_fields"]["plan"], "gold");
    let (_, conv) = s.get(&format!("/api/v1/conversations/{conversation}")).await;
    assert_eq!(conv["assignee_id"], agent);
    // The branch's log shows what it tested.
    assert_eq!(run["steps"][3]["input"]["$contact.plan"], "gold");
    // The contact's runs list it too.
    let (_, mine) = s.get(&format!("/api/v1/contacts/{contact_id}/workflow-runs")).await;
    assert_eq!(mine["items"][0]["id"], all[0]["id"]);

    // Adding the tag again changes nothing, so starts nothing.
    s.post(&format!("/api/v1/contacts/{contact_id}/tags"), json!({"tags": ["lead"]})).await;
    assert_eq!(drive(&s).await, 0);
    s.stop().await;
}
both_backends!(workflow_steps_in_order, steps_in_order);

async fn failures_waits_and_jumps(backend: Backend) {
    let s = TestServer::start(backend).await;
    // A contact without any channel: sending fails.
    let (_, no_channel) = s.post("/api/v1/contacts", json!({"first_name": "Nadia"})).await;
    let nadia = id(&no_channel);
    let manual = |steps: Value| json!({"trigger": {"type": "manual"}, "steps": steps});
    let with_branch = publish(
        &s,
        "Send or tag",
        manual(json!([
            {"id": "send", "type": "send_message", "text": "hello",
             "on_failure": [{"id": "flag", "type": "update_tag", "action": "add", "tags": ["unreachable"]}]},
            {"id": "never", "type": "update_tag", "action": "add", "tags": ["reached"]}
        ])),
    )
    .await;
    let (status, started) =
        s.post(&format!("/api/v1/workflows/{with_branch}/runs"), json!({"contact_id": nadia})).await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    drive(&s).await;
    let run = run_log(&s, id(&started)).await;
    assert_eq!(run["status"], "completed");
    assert_eq!(path(&run), vec![("send".to_owned(), json!("failure")), ("flag".to_owned(), Value::Null)]);
    assert_eq!(run["steps"][0]["error"], "the contact has no channel to send on");
    assert_eq!(contact(&s, nadia).await["tags"], json!(["unreachable"]));

    // Without a failure branch the contact exits, with the reason.
    let without =
        publish(&s, "Send only", manual(json!([{"id": "send", "type": "send_message", "text": "hello"}]))).await;
    let (_, started) = s.post(&format!("/api/v1/workflows/{without}/runs"), json!({"contact_id": nadia})).await;
    drive(&s).await;
    let run = run_log(&s, id(&started)).await;
    assert_eq!(
        (run["status"].clone(), run["end_reason"].clone()),
        (json!("exited"), json!("the contact has no channel to send on"))
    );

    // A wait pauses the run until its time; the job does not run before.
    let waits = publish(
        &s,
        "Wait",
        manual(json!([
            {"id": "pause", "type": "wait", "seconds": 3600},
            {"id": "after", "type": "update_tag", "action": "add", "tags": ["after-wait"]}
        ])),
    )
    .await;
    let (_, started) = s
        .post(&format!("/api/v1/workflows/{waits}/runs"), json!({"contact_id": nadia, "variables": {"source": "api"}}))
        .await;
    assert_eq!(drive(&s).await, 1);
    let run = run_log(&s, id(&started)).await;
    assert_eq!((run["status"].clone(), run["position"].clone()), (json!("waiting"), json!("after")));
    assert_eq!(run["variables"], json!({"source": "api"}));
    assert_eq!(drive_at(&s, Utc::now() + Duration::minutes(59)).await, 0, "not yet");
    assert_eq!(drive_at(&s, Utc::now() + Duration::minutes(61)).await, 1);
    assert_eq!(run_log(&s, id(&started)).await["status"], "completed");
    assert!(contact(&s, nadia).await["tags"].as_array().is_some_and(|t| t.contains(&json!("after-wait"))));

    // Jumps: at most 10 in a run, then the run continues past the jump.
    let loops = publish(
        &s,
        "Loop",
        manual(json!([
            {"id": "again", "type": "update_field", "field": "first_name", "value": "Nadia"},
            {"id": "jump", "type": "jump", "to": "again"},
            {"id": "done", "type": "update_tag", "action": "remove", "tags": ["unreachable", "not-there"]}
        ])),
    )
    .await;
    let (_, started) = s.post(&format!("/api/v1/workflows/{loops}/runs"), json!({"contact_id": nadia})).await;
    assert_eq!(drive(&s).await, 23, "11 × (field, jump) and the last step");
    let run = run_log(&s, id(&started)).await;
    assert_eq!((run["status"].clone(), run["jumps"].clone()), (json!("completed"), json!(10)));
    let jumped: Vec<Value> = run["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter(|s| s["step_id"] == "jump")
        .map(|s| s["output"]["jumped"].clone())
        .collect();
    assert_eq!(jumped.len(), 11);
    assert_eq!(jumped[10], json!(false));
    assert!(!contact(&s, nadia).await["tags"].as_array().is_some_and(|t| t.contains(&json!("unreachable"))));

    // A field a step cannot set: the contact exits with the reason.
    let bad_value = publish(
        &s,
        "Bad email",
        manual(json!([{"id": "mail", "type": "update_field", "field": "email", "value": "not-an-email"}])),
    )
    .await;
    let (_, started) = s.post(&format!("/api/v1/workflows/{bad_value}/runs"), json!({"contact_id": nadia})).await;
    drive(&s).await;
    let run = run_log(&s, id(&started)).await;
    assert_eq!(run["status"], "exited");
    assert!(run["end_reason"].as_str().unwrap_or_default().starts_with("cannot set `email`"), "{run}");

    // Manual starts: only for manual workflows, only published ones, and once per contact when asked.
    let opened = publish(&s, "On open", json!({"trigger": {"type": "conversation_opened"}, "steps": []})).await;
    let refused = s.post(&format!("/api/v1/workflows/{opened}/runs"), json!({"contact_id": nadia})).await;
    assert_error(&refused, 409, "workflow_not_manual");
    let once = publish(
        &s,
        "Once",
        json!({"trigger": {"type": "manual"}, "trigger_once_per_contact": true,
               "steps": [{"id": "t", "type": "update_tag", "action": "add", "tags": ["once"]}]}),
    )
    .await;
    assert_eq!(
        s.post(&format!("/api/v1/workflows/{once}/runs"), json!({"contact_id": nadia})).await.0,
        StatusCode::CREATED
    );
    let twice = s.post(&format!("/api/v1/workflows/{once}/runs"), json!({"contact_id": nadia})).await;
    assert_error(&twice, 409, "workflow_already_run");
    s.post(&format!("/api/v1/workflows/{once}/unpublish"), json!({})).await;
    let off = s.post(&format!("/api/v1/workflows/{once}/runs"), json!({"contact_id": nadia})).await;
    assert_error(&off, 409, "workflow_not_published");
    let nobody = s.post(&format!("/api/v1/workflows/{loops}/runs"), json!({"contact_id": 424242})).await;
    assert_error(&nobody, 422, "validation_failed");
    s.stop().await;
}
both_backends!(workflow_failures_waits_and_jumps, failures_waits_and_jumps);

async fn triggers_and_versions(backend: Backend) {
    let s = TestServer::start(backend).await;
    let fields = json!({"key": "plan", "label": "Plan", "field_type": "text"});
    assert_eq!(s.post("/api/v1/contact-fields", fields).await.0, StatusCode::CREATED);
    // Opened by the contact only; closed; a custom field; the lifecycle stage.
    let by_contact = publish(
        &s,
        "Opened by contact",
        json!({"trigger": {"type": "conversation_opened", "sources": ["contact"]},
               "steps": [{"id": "t", "type": "update_tag", "action": "add", "tags": ["greeted"]}]}),
    )
    .await;
    let on_close = publish(
        &s,
        "Closed",
        json!({"trigger": {"type": "conversation_closed"},
               "steps": [{"id": "t", "type": "update_tag", "action": "add", "tags": ["closed-once"]}]}),
    )
    .await;
    let on_field = publish(
        &s,
        "Plan changed",
        json!({"trigger": {"type": "contact_field_updated", "fields": ["plan"]},
               "steps": [{"id": "w", "type": "wait", "seconds": 60}, {"id": "t", "type": "update_tag", "action": "add", "tags": ["v1"]}]}),
    )
    .await;
    let on_stage =
        publish(&s, "Customer", json!({"trigger": {"type": "lifecycle_updated", "stages": ["customer"]}, "steps": []}))
            .await;

    let (_, contact_id, conversation) = writer(&s, "7").await;
    drive(&s).await;
    assert_eq!(runs(&s, by_contact).await.len(), 1, "opened by the contact's message");
    assert_eq!(runs(&s, by_contact).await[0]["conversation_id"], conversation);
    // Closing: one run; reopening by a user: not a source the first workflow wants.
    assert_eq!(s.post(&format!("/api/v1/conversations/{conversation}/close"), json!({})).await.0, StatusCode::OK);
    assert_eq!(s.post(&format!("/api/v1/conversations/{conversation}/open"), json!({})).await.0, StatusCode::OK);
    drive(&s).await;
    assert_eq!(runs(&s, on_close).await.len(), 1);
    assert_eq!(runs(&s, by_contact).await.len(), 1);
    assert_eq!(contact(&s, contact_id).await["tags"], json!(["closed-once", "greeted"]));

    // Another field: nothing. The plan: a run that waits on version 1 …
    s.patch(&format!("/api/v1/contacts/{contact_id}"), json!({"first_name": "Omar"})).await;
    drive(&s).await;
    assert!(runs(&s, on_field).await.is_empty());
    s.patch(&format!("/api/v1/contacts/{contact_id}"), json!({"custom_fields": {"plan": "pro"}})).await;
    drive(&s).await;
    let waiting = runs(&s, on_field).await;
    assert_eq!((waiting.len(), waiting[0]["status"].clone()), (1, json!("waiting")));
    // … while version 2 is published: the waiting run finishes on version 1.
    let v2 = json!({"name": "Plan changed", "definition": {"trigger": {"type": "contact_field_updated", "fields": ["plan"]},
        "steps": [{"id": "w", "type": "wait", "seconds": 60}, {"id": "t", "type": "update_tag", "action": "add", "tags": ["v2"]}]}});
    assert_eq!(s.put(&format!("/api/v1/workflows/{on_field}"), Some(v2)).await.0, StatusCode::OK);
    let (_, published) = s.post(&format!("/api/v1/workflows/{on_field}/publish"), json!({})).await;
    assert_eq!(published["published_version"], 2);
    drive_at(&s, Utc::now() + Duration::minutes(2)).await;
    let tags = contact(&s, contact_id).await["tags"].clone();
    assert!(tags.as_array().is_some_and(|t| t.contains(&json!("v1")) && !t.contains(&json!("v2"))), "{tags}");
    assert_eq!(run_log(&s, id(&waiting[0])).await["version"], 1);

    // The lifecycle stage: only the named stage.
    s.patch(&format!("/api/v1/contacts/{contact_id}"), json!({"lifecycle_stage": "lead"})).await;
    drive(&s).await;
    assert!(runs(&s, on_stage).await.is_empty());
    s.patch(&format!("/api/v1/contacts/{contact_id}"), json!({"lifecycle_stage": "customer"})).await;
    drive(&s).await;
    let stage_runs = runs(&s, on_stage).await;
    assert_eq!((stage_runs.len(), stage_runs[0]["status"].clone()), (1, json!("completed")), "no steps: over at once");
    s.stop().await;
}
both_backends!(workflow_triggers_and_versions, triggers_and_versions);

async fn a_step_applies_once(backend: Backend) {
    let s = TestServer::start(backend).await;
    let (_, contact_id, conversation) = writer(&s, "9").await;
    let wf = publish(
        &s,
        "Reply",
        json!({"trigger": {"type": "manual"}, "steps": [
            {"id": "reply", "type": "send_message", "text": "We are on it"},
            {"id": "close", "type": "close_conversation", "summary": "auto"}
        ]}),
    )
    .await;
    let (_, started) = s.post(&format!("/api/v1/workflows/{wf}/runs"), json!({"contact_id": contact_id})).await;
    // The first step's job runs, and runs again as if its worker had died before marking it done.
    let job = claim(&s, Utc::now()).await.expect("the first step's job");
    RunStep::default().run(&s.app, &job).await.expect("first run");
    RunStep::default().run(&s.app, &job).await.expect("second run of the same job");
    s.app.store.complete_job(job.id, Utc::now()).await.expect("complete");
    drive(&s).await;
    let (_, messages) = s.get(&format!("/api/v1/conversations/{conversation}/messages")).await;
    let sent: Vec<&Value> = messages["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|m| m["content"]["text"] == "We are on it")
        .collect();
    assert_eq!(sent.len(), 1, "one message, not two");
    let run = run_log(&s, id(&started)).await;
    assert_eq!(path(&run), vec![("reply".to_owned(), Value::Null), ("close".to_owned(), Value::Null)]);
    let (_, conv) = s.get(&format!("/api/v1/conversations/{conversation}")).await;
    assert_eq!((conv["status"].clone(), conv["closed_by"]["kind"].clone()), (json!("closed"), json!("workflow")));
    s.stop().await;
}
both_backends!(workflow_step_applies_once, a_step_applies_once);

async fn the_server_runs_workflows_by_itself(backend: Backend) {
    let s = TestServer::start_with(backend, |c| {
        c.jobs.enabled = true;
        c.jobs.poll_interval_ms = 50;
    })
    .await;
    let (_, created) = s.post("/api/v1/contacts", json!({"first_name": "Ana"})).await;
    let contact_id = id(&created);
    let wf = publish(
        &s,
        "VIP follow-up",
        json!({"trigger": {"type": "contact_tag_updated", "tags": ["vip"]},
               "steps": [{"id": "w", "type": "wait", "seconds": 1},
                         {"id": "t", "type": "update_tag", "action": "add", "tags": ["welcomed"]}]}),
    )
    .await;
    s.post(&format!("/api/v1/contacts/{contact_id}/tags"), json!({"tags": ["vip"]})).await;
    // The trigger reader and the job worker of the running server take it from here, wait included.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let all = runs(&s, wf).await;
        if all.first().is_some_and(|r| r["status"] == "completed") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the run did not complete: {all:?}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(contact(&s, contact_id).await["tags"], json!(["vip", "welcomed"]));
    s.stop().await;
}
both_backends!(workflow_run_by_the_server, the_server_runs_workflows_by_itself);

/// The texts of a conversation's messages, oldest first.
async fn questions(backend: Backend) {
    let s = TestServer::start(backend).await;
    let wf = publish(
        &s,
        "Survey",
        json!({"trigger": {"type": "manual"}, "steps": [
            {"id": "team", "type": "ask_question", "text": "Which team, $contact.first_name?",
             "answer": {"type": "multiple_choice", "options": ["Sales", "Support"]}, "save_to": "tag",
             "on_failure": [
                {"id": "again", "type": "send_message", "text": "Please answer 1 or 2"},
                {"id": "back", "type": "jump", "to": "team"}
             ]},
            {"id": "rate", "type": "ask_question", "text": "How did we do (1-5)?", "answer": {"type": "rating"},
             "save_to": {"variable": "rating"}, "timeout_seconds": 3600,
             "on_timeout": [{"id": "silent", "type": "update_tag", "action": "add", "tags": ["no-rating"]}]},
            {"id": "mood", "type": "branch", "branches": [
                {"name": "Happy", "conditions": [{"variable": "$variables.rating", "operator": "greater_than", "value": 3}],
                 "steps": [{"id": "happy", "type": "update_tag", "action": "add", "tags": ["happy"]}]}
            ], "else": [{"id": "unhappy", "type": "update_tag", "action": "add", "tags": ["unhappy"]}]}
        ]}),
    )
    .await;
    let (channel, contact_id, conversation) = writer(&s, "5").await;
    let (_, started) = s.post(&format!("/api/v1/workflows/{wf}/runs"), json!({"contact_id": contact_id})).await;
    let run_id = id(&started);
    assert_eq!(drive(&s).await, 1);
    let run = run_log(&s, run_id).await;
    assert_eq!((run["status"].clone(), run["awaiting_answer"].clone()), (json!("waiting"), json!(true)));
    assert_eq!(
        texts(&s, conversation).await.last().map(String::as_str),
        Some("Which team, Contact 5?\n1. Sales\n2. Support")
    );

    // Not an option: the failure path says so and asks again.
    incoming(&s, channel, "5", "billing").await;
    assert_eq!(drive(&s).await, 4, "the answer, the message, the jump, the question again");
    let sent = texts(&s, conversation).await;
    assert_eq!(
        sent[sent.len() - 2..],
        ["Please answer 1 or 2".to_owned(), "Which team, Contact 5?\n1. Sales\n2. Support".to_owned()]
    );
    // The option's number: saved as a tag; the next question is asked.
    incoming(&s, channel, "5", "2").await;
    assert_eq!(drive(&s).await, 2);
    assert_eq!(contact(&s, contact_id).await["tags"], json!(["Support"]));
    assert_eq!(texts(&s, conversation).await.last().map(String::as_str), Some("How did we do (1-5)?"));
    // No rating within the hour: the timeout path.
    assert_eq!(drive_at(&s, Utc::now() + Duration::minutes(59)).await, 0);
    assert_eq!(drive_at(&s, Utc::now() + Duration::minutes(61)).await, 2);
    let run = run_log(&s, run_id).await;
    assert_eq!(run["status"], "completed");
    let taken: Vec<(String, Value)> = path(&run);
    assert_eq!(
        taken,
        vec![
            ("team".to_owned(), Value::Null),
            ("team".to_owned(), json!("failure")),
            ("again".to_owned(), Value::Null),
            ("back".to_owned(), Value::Null),
            ("team".to_owned(), Value::Null),
            ("team".to_owned(), Value::Null),
            ("rate".to_owned(), Value::Null),
            ("rate".to_owned(), json!("timeout")),
            ("silent".to_owned(), Value::Null),
        ]
    );
    assert_eq!(run["steps"][1]["error"], "`billing` is not one of the options");
    assert_eq!(run["steps"][5]["output"]["answer"], "Support");
    // A late reply answers nothing.
    incoming(&s, channel, "5", "5").await;
    assert_eq!(drive(&s).await, 0);

    // Another contact rates: the answer goes into the variable the branch tests.
    let (channel, contact_id, _) = writer(&s, "6").await;
    let (_, started) = s.post(&format!("/api/v1/workflows/{wf}/runs"), json!({"contact_id": contact_id})).await;
    drive(&s).await;
    incoming(&s, channel, "6", "Sales").await;
    drive(&s).await;
    incoming(&s, channel, "6", "⭐⭐⭐⭐").await;
    drive(&s).await;
    let run = run_log(&s, id(&started)).await;
    assert_eq!((run["status"].clone(), run["variables"]["rating"].clone()), (json!("completed"), json!(4)));
    assert_eq!(contact(&s, contact_id).await["tags"], json!(["Sales", "happy"]));

    // A reply during a wait before a question is not its answer; the question is asked after the wait.
    let later = publish(
        &s,
        "Later",
        json!({"trigger": {"type": "manual"}, "steps": [
            {"id": "pause", "type": "wait", "seconds": 60},
            {"id": "mail", "type": "ask_question", "text": "Your e-mail?", "answer": {"type": "email"},
             "save_to": {"contact_field": "email"}}
        ]}),
    )
    .await;
    let (_, started) = s.post(&format!("/api/v1/workflows/{later}/runs"), json!({"contact_id": contact_id})).await;
    drive(&s).await;
    incoming(&s, channel, "6", "too early").await;
    assert_eq!(drive(&s).await, 0, "waiting for time, not for an answer");
    assert_eq!(drive_at(&s, Utc::now() + Duration::minutes(2)).await, 1, "asked");
    incoming(&s, channel, "6", "Nour@Example.com").await;
    drive(&s).await;
    assert_eq!(run_log(&s, id(&started)).await["status"], "completed");
    assert_eq!(contact(&s, contact_id).await["email"], "nour@example.com");

    // Without a channel the question cannot be asked: the contact exits.
    let (_, lonely) = s.post("/api/v1/contacts", json!({"first_name": "Lone"})).await;
    let (_, started) = s.post(&format!("/api/v1/workflows/{wf}/runs"), json!({"contact_id": id(&lonely)})).await;
    drive(&s).await;
    let run = run_log(&s, id(&started)).await;
    assert_eq!(
        (run["status"].clone(), run["end_reason"].clone()),
        (json!("exited"), json!("the contact has no channel to send on"))
    );
    s.stop().await;
}
both_backends!(workflow_questions, questions);

async fn time_and_chains(backend: Backend) {
    let s = TestServer::start(backend).await;
    let (_, created) = s.post("/api/v1/contacts", json!({"first_name": "Ana"})).await;
    let ana = id(&created);
    let all_day: serde_json::Map<String, Value> = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .iter()
        .map(|d| ((*d).to_owned(), json!([["00:00", "24:00"]])))
        .collect();
    // Always open (every day, all day, far east of UTC); a range long past: closed.
    let hours = publish(
        &s,
        "Hours",
        json!({"trigger": {"type": "manual"}, "steps": [
            {"id": "open", "type": "date_time", "timezone": "Pacific/Kiritimati", "business_hours": all_day,
             "on_failure": [{"id": "never", "type": "update_tag", "action": "add", "tags": ["closed-hours"]}]},
            {"id": "past", "type": "date_time", "date_range": {"from": "2020-01-01", "to": "2020-01-02T12:00"},
             "on_failure": [{"id": "late", "type": "update_tag", "action": "add", "tags": ["outside-range"]}]},
            {"id": "unreached", "type": "update_tag", "action": "add", "tags": ["in-range"]}
        ]}),
    )
    .await;
    let (_, started) = s.post(&format!("/api/v1/workflows/{hours}/runs"), json!({"contact_id": ana})).await;
    drive(&s).await;
    let run = run_log(&s, id(&started)).await;
    assert_eq!(
        path(&run),
        vec![("open".to_owned(), Value::Null), ("past".to_owned(), json!("failure")), ("late".to_owned(), Value::Null)]
    );
    assert_eq!(run["steps"][0]["input"]["timezone"], "Pacific/Kiritimati");
    assert_eq!(contact(&s, ana).await["tags"], json!(["outside-range"]));
    // Checked when saved: a bad zone, a span the wrong way round, neither hours nor range.
    let (_, bad) = s
        .post(
            "/api/v1/workflows",
            json!({"name": "Bad hours", "definition": {"trigger": {"type": "manual"}, "steps": [
                {"id": "a", "type": "date_time", "timezone": "Mars/Olympus", "business_hours": {"mon": [["17:00", "09:00"]]}},
                {"id": "b", "type": "date_time"}
            ]}}),
        )
        .await;
    let fields: Vec<&str> =
        bad["problems"].as_array().expect("problems").iter().filter_map(|p| p["field"].as_str()).collect();
    assert_eq!(fields, ["steps[0].timezone", "steps[0].business_hours.mon[0]", "steps[1].business_hours"]);

    // One workflow starts another (manual) for the same contact, passing its variables on.
    let second = publish(
        &s,
        "Second",
        json!({"trigger": {"type": "manual"}, "steps": [
            {"id": "name", "type": "update_field", "field": "last_name", "value": "via $variables.source"}
        ]}),
    )
    .await;
    let first = publish(
        &s,
        "First",
        json!({"trigger": {"type": "manual"}, "steps": [{"id": "next", "type": "trigger_workflow", "workflow_id": second}]}),
    )
    .await;
    let (_, started) = s
        .post(&format!("/api/v1/workflows/{first}/runs"), json!({"contact_id": ana, "variables": {"source": "api"}}))
        .await;
    drive(&s).await;
    let run = run_log(&s, id(&started)).await;
    assert_eq!(run["status"], "completed");
    let chained = runs(&s, second).await;
    assert_eq!(chained.len(), 1);
    assert_eq!(run["steps"][0]["output"]["run_id"], chained[0]["id"]);
    assert_eq!(
        (chained[0]["status"].clone(), chained[0]["variables"].clone()),
        (json!("completed"), json!({"source": "api"}))
    );
    assert_eq!(contact(&s, ana).await["last_name"], "via api");
    // An unpublished target: the contact exits with the reason.
    s.post(&format!("/api/v1/workflows/{second}/unpublish"), json!({})).await;
    let (_, started) = s.post(&format!("/api/v1/workflows/{first}/runs"), json!({"contact_id": ana})).await;
    drive(&s).await;
    let run = run_log(&s, id(&started)).await;
    assert_eq!(
        (run["status"].clone(), run["end_reason"].clone()),
        (json!("exited"), json!("the workflow `Second` is not published"))
    );
    // A reference to a workflow that does not exist is a problem.
    let (_, bad) = s
        .post(
            "/api/v1/workflows",
            json!({"name": "Dangling", "definition": {"trigger": {"type": "manual"},
            "steps": [{"id": "x", "type": "trigger_workflow", "workflow_id": 424242}]}}),
        )
        .await;
    assert_eq!(bad["problems"][0]["field"], "steps[0].workflow_id");
    s.stop().await;
}
both_backends!(workflow_time_and_chains, time_and_chains);

async fn incoming_webhook(backend: Backend) {
    let s = TestServer::start(backend).await;
    let (_, created) = s
        .post(
            "/api/v1/workflows",
            json!({"name": "Orders", "definition": {
                "trigger": {"type": "incoming_webhook", "identify_by": "phone", "key": "customer.phone"},
                "steps": [{"id": "name", "type": "update_field", "field": "first_name", "value": "$variables.name"}]}}),
        )
        .await;
    let wf = id(&created);
    let url = created["webhook_url"].as_str().expect("a webhook URL").to_owned();
    let path = &url[url.find("/hooks/").expect("hooks path")..];
    let post = |path: String, body: Vec<u8>| {
        let (http, base) = (s.http.clone(), s.base.clone());
        async move {
            let resp = http.post(format!("{base}{path}")).body(body).send().await.expect("post");
            let status = resp.status();
            (status, resp.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let order = json!({"customer": {"phone": "+971 50 123 4567"}, "name": "Huda", "order_id": 42});
    // Not published yet.
    assert_error(&post(path.to_owned(), order.to_string().into_bytes()).await, 409, "workflow_not_published");
    s.post(&format!("/api/v1/workflows/{wf}/publish"), json!({})).await;
    let (status, answer) = post(path.to_owned(), order.to_string().into_bytes()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    drive(&s).await;
    let run = run_log(&s, answer["run_id"].as_i64().expect("run id")).await;
    assert_eq!(run["status"], "completed");
    assert_eq!(run["variables"]["order_id"], 42);
    let c = contact(&s, run["contact_id"].as_i64().expect("contact")).await;
    assert_eq!((c["phone"].clone(), c["first_name"].clone()), (json!("+971501234567"), json!("Huda")), "a new contact");
    // The same phone number again: the same contact.
    let (_, again) = post(
        path.to_owned(),
        json!({"customer": {"phone": "+971501234567"}, "name": "Huda A."}).to_string().into_bytes(),
    )
    .await;
    assert_eq!(run_log(&s, again["run_id"].as_i64().expect("run id")).await["contact_id"], run["contact_id"]);
    // A forged URL, a body that is not JSON, a body without the key.
    let forged = format!("/hooks/workflows/{wf}/{}", "0".repeat(64));
    assert_error(&post(forged, order.to_string().into_bytes()).await, 404, "not_found");
    assert_error(&post(path.to_owned(), b"phone=1".to_vec()).await, 422, "validation_failed");
    let missing = post(path.to_owned(), json!({"name": "x"}).to_string().into_bytes()).await;
    assert_error(&missing, 422, "validation_failed");
    assert_eq!(missing.1["error"]["field"], "customer.phone");
    let bad_phone = post(path.to_owned(), json!({"customer": {"phone": "12"}}).to_string().into_bytes()).await;
    assert_error(&bad_phone, 422, "validation_failed");
    s.stop().await;
}
both_backends!(workflow_incoming_webhook, incoming_webhook);

async fn shortcuts(backend: Backend) {
    let s = TestServer::start(backend).await;
    let (agent_id, agent) = s.user("agent@acme.test", "agent").await;
    let (_, _, conversation) = writer(&s, "8").await;
    let wf = publish(
        &s,
        "Order status",
        json!({"trigger": {"type": "shortcut", "fields": [
                {"name": "order_id", "label": "Order number", "required": true},
                {"name": "note", "label": "Note"}]},
               "steps": [{"id": "tell", "type": "send_message", "text": "Order $variables.order_id is on its way"}]}),
    )
    .await;
    let other = publish(&s, "Manual", json!({"trigger": {"type": "manual"}, "steps": []})).await;
    // Agents see the shortcuts (not the workflows) and run them from a conversation.
    let (status, list) = s.call(reqwest::Method::GET, "/api/v1/shortcuts", Some(&agent), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        list,
        json!([{"workflow_id": wf, "name": "Order status", "fields": [
        {"name": "order_id", "label": "Order number", "required": true},
        {"name": "note", "label": "Note", "required": false}]}])
    );
    let path = format!("/api/v1/conversations/{conversation}/shortcuts/{wf}");
    let as_agent = |body: Value| s.call(reqwest::Method::POST, &path, Some(&agent), Some(body));
    let missing = as_agent(json!({"values": {"note": "x"}})).await;
    assert_error(&missing, 422, "validation_failed");
    assert_eq!(missing.1["error"]["field"], "values.order_id");
    let unknown = as_agent(json!({"values": {"order_id": "1", "colour": "red"}})).await;
    assert_eq!(unknown.1["error"]["field"], "values.colour");
    let (status, run) = as_agent(json!({"values": {"order_id": " A-77 "}})).await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    assert_eq!(run["variables"], json!({"order_id": "A-77", "run_by": agent_id}));
    assert_eq!(run["conversation_id"], conversation);
    drive(&s).await;
    let (_, messages) = s.get(&format!("/api/v1/conversations/{conversation}/messages")).await;
    assert_eq!(messages["items"][0]["content"]["text"], "Order A-77 is on its way");
    // Not a shortcut, or not a conversation the caller may see.
    let not_shortcut = format!("/api/v1/conversations/{conversation}/shortcuts/{other}");
    assert_error(&s.call(reqwest::Method::POST, &not_shortcut, Some(&agent), Some(json!({}))).await, 404, "not_found");
    let nowhere = format!("/api/v1/conversations/424242/shortcuts/{wf}");
    assert_error(&s.call(reqwest::Method::POST, &nowhere, Some(&agent), Some(json!({}))).await, 404, "not_found");
    s.stop().await;
}
both_backends!(workflow_shortcuts, shortcuts);
