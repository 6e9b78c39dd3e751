//! The plugin sandbox: a real channel plugin built from `plugins/` runs in the host, and a hostile one
//! built from `tests/plugins/` is stopped by each limit while healthy calls keep succeeding.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use switchboard::plugins::{CallContext, ChannelPlugin, EgressPolicy, Grants, Limits, PluginEngine, PluginError};
use switchboard_plugin_sdk::event::InboundEvent;
use switchboard_tests::build_wasm;

type Request = switchboard::plugins::HttpRequest;

fn request(method: &str, query: &str, headers: &[(&str, &str)], body: &[u8]) -> Request {
    Request {
        method: method.into(),
        path: "/webhooks/1".into(),
        query: query.into(),
        headers: headers.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect(),
        body: body.to_vec(),
    }
}

fn example_context() -> CallContext {
    CallContext {
        plugin_id: "example-channel".into(),
        kv_scope: "example-channel/1".into(),
        config: serde_json::json!({"base_url": "https://provider.example.com"}),
        secrets: BTreeMap::from([("shared_secret".to_owned(), "s3cret".to_owned())]),
        fixed_now_ms: Some(1_700_000_000_000),
    }
}

fn engine() -> PluginEngine {
    PluginEngine::new(Limits::default().memory_bytes).expect("engine")
}

fn example(engine: &PluginEngine) -> ChannelPlugin {
    engine.load_channel("example-channel", &build_wasm("plugins", "example-channel"), Limits::default()).expect("load")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn example_channel_plugin_runs_in_the_host() {
    let engine = engine();
    let plugin = example(&engine);
    // Loading the same bytes again reuses the compiled component.
    let again = example(&engine);
    assert_eq!(engine.compiled_count(), 1);
    assert_eq!(again.id(), "example-channel");
    let info = plugin.describe(example_context()).await.expect("describe");
    assert_eq!((info.id.as_str(), info.capabilities.text, info.capabilities.media), ("example-channel", true, true));

    let handshake = plugin.verify(example_context(), request("GET", "challenge=abc123", &[], b"")).await.expect("call");
    let answer = handshake.expect("accepted").expect("a handshake");
    assert_eq!((answer.status, answer.body.as_slice()), (200, b"abc123".as_slice()));

    let body = br#"{"from": "user-7", "id": "m-1", "text": "hello"}"#;
    let unsigned = plugin.handle_webhook(example_context(), request("POST", "", &[], body)).await.expect("call");
    assert!(matches!(unsigned, Err(switchboard::plugins::WebhookError::Unauthorized(_))), "{unsigned:?}");

    let signed = request("POST", "", &[("x-example-secret", "s3cret")], body);
    let result = plugin.handle_webhook(example_context(), signed).await.expect("call").expect("accepted");
    let events: Vec<InboundEvent> = serde_json::from_str(&result.events).expect("events JSON");
    match &events[..] {
        [InboundEvent::Message { contact, provider_message_id, timestamp_ms, content }] => {
            assert_eq!(contact.external_id, "user-7");
            assert_eq!(provider_message_id, "m-1");
            assert_eq!(*timestamp_ms, Some(1_700_000_000_000), "the host's clock, fixed for the test");
            assert_eq!(content, &serde_json::json!({"type": "text", "text": "hello"}));
        }
        other => panic!("unexpected events {other:?}"),
    }
    assert_eq!(result.response.status, 200);

    // Outbound HTTP fails closed: nothing is granted to the plugin, so sending reports the denial.
    let message = serde_json::json!({"to": "user-7", "content": {"type": "text", "text": "hi"}}).to_string();
    let sent = plugin.send(example_context(), message).await.expect("call");
    match sent {
        Err(switchboard::plugins::SendError::Transient(reason)) => assert!(reason.contains("not granted"), "{reason}"),
        other => panic!("expected a denied request, got {other:?}"),
    }
}

fn hostile_context() -> CallContext {
    CallContext { plugin_id: "hostile".into(), kv_scope: "hostile".into(), ..Default::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_plugin_is_stopped_by_each_limit() {
    let engine = engine();
    let limits = Limits { timeout_ms: 1000, memory_bytes: 16 << 20, output_bytes: 1 << 20, ..Limits::default() };
    let hostile = engine.load_channel("hostile", &build_wasm("tests/plugins", "hostile"), limits).expect("load");
    let healthy = example(&engine);
    let webhook = |what: &str| request("POST", "", &[], what.as_bytes());

    // An endless loop is interrupted at its deadline; a healthy plugin answers while it spins.
    let spinning = hostile.clone();
    let started = Instant::now();
    let looping = tokio::spawn(async move {
        let result = spinning.handle_webhook(hostile_context(), request("POST", "", &[], b"loop")).await;
        (result, Instant::now())
    });
    let info = healthy.describe(example_context()).await;
    let healthy_done = Instant::now();
    let (looped, loop_done) = looping.await.expect("join");
    assert_eq!(looped.expect_err("interrupted"), PluginError::Timeout(1000));
    assert!(started.elapsed() < Duration::from_secs(10), "stopped near its deadline: {:?}", started.elapsed());
    assert!(info.is_ok(), "the healthy plugin answered: {info:?}");
    assert!(healthy_done < loop_done, "the healthy call finished while the hostile one was still spinning");

    let memory = hostile.handle_webhook(hostile_context(), webhook("memory")).await.expect_err("memory bomb");
    assert!(matches!(memory, PluginError::Limit(_) | PluginError::Trap(_)), "{memory:?}");

    let flood = hostile.handle_webhook(hostile_context(), webhook("hostcalls")).await.expect_err("host-call flood");
    assert!(matches!(flood, PluginError::Limit(ref why) if why.contains("host calls")), "{flood:?}");

    let huge = hostile.handle_webhook(hostile_context(), webhook("huge")).await.expect_err("huge output");
    assert!(matches!(huge, PluginError::Limit(_)), "{huge:?}");

    let panic = hostile.handle_webhook(hostile_context(), webhook("panic")).await.expect_err("panic");
    assert!(matches!(panic, PluginError::Trap(_)), "{panic:?}");

    let http = hostile.handle_webhook(hostile_context(), webhook("http")).await.expect("no trap");
    match http {
        Err(switchboard::plugins::WebhookError::BadRequest(why)) => assert!(why.contains("Denied"), "{why}"),
        other => panic!("the request should have been denied: {other:?}"),
    }

    // Nothing of one call survives into the next: globals and heap start fresh every time.
    for _ in 0..3 {
        let fresh = hostile.handle_webhook(hostile_context(), webhook("remember")).await.expect("call").expect("ok");
        assert_eq!(String::from_utf8_lossy(&fresh.response.body), "calls=1 seen=0");
    }

    // After all that, both plugins still work.
    let fine = hostile.handle_webhook(hostile_context(), webhook("hello")).await.expect("call").expect("ok");
    assert_eq!(fine.response.body, b"fine: hello");
    assert!(healthy.describe(example_context()).await.is_ok());

    // Oversized input is refused before the plugin runs.
    let big = vec![b'x'; Limits::default().input_bytes + 1];
    let refused = hostile.handle_webhook(hostile_context(), request("POST", "", &[], &big)).await;
    assert!(matches!(refused, Err(PluginError::Limit(_))), "{refused:?}");
}

#[test]
fn a_module_that_is_not_a_plugin_is_refused_with_a_clear_message() {
    let engine = engine();
    let err = engine.load_channel("junk", b"\0asm\x01\0\0\0", Limits::default()).expect_err("not a component");
    assert!(matches!(err, PluginError::Invalid(ref m) if m.starts_with("junk:")), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step_and_integration_plugins_run_through_their_sdk_traits() {
    let engine = engine();
    let step =
        engine.load_step("echo-step", &build_wasm("tests/plugins", "echo-step"), Limits::default()).expect("load");
    let info = step.describe(CallContext::default()).await.expect("describe");
    assert_eq!((info.id.as_str(), info.branches.clone()), ("echo-step", vec!["empty".to_owned()]));
    let ran =
        step.run(CallContext::default(), "{}".into(), r#"{"text":"hi"}"#.into()).await.expect("call").expect("ok");
    let outputs: serde_json::Value = serde_json::from_str(&ran.outputs).expect("outputs are JSON");
    assert_eq!((ran.branch.as_str(), outputs["echo"].as_str()), ("default", Some("hi")));
    let empty = step.run(CallContext::default(), "{}".into(), "{}".into()).await.expect("call").expect("ok");
    assert_eq!(empty.branch, "empty");
    let bad = step.run(CallContext::default(), "{}".into(), "not json".into()).await.expect("call");
    assert!(bad.is_err_and(|e| e.starts_with("bad inputs")));

    let integration = engine
        .load_integration("echo-integration", &build_wasm("tests/plugins", "echo-integration"), Limits::default())
        .expect("load");
    let info = integration.describe(CallContext::default()).await.expect("describe");
    assert_eq!(info.subscriptions, vec!["message.created".to_owned()]);
    assert_eq!(info.actions[0].name, "echo");
    let out = integration.run_action(CallContext::default(), "echo".into(), r#"{"a":1}"#.into()).await.expect("call");
    assert_eq!(out, Ok(r#"{"a":1}"#.to_owned()));
    let unknown = integration.run_action(CallContext::default(), "nope".into(), "{}".into()).await.expect("call");
    assert!(unknown.is_err());
    assert_eq!(integration.on_event(CallContext::default(), "{}".into()).await.expect("call"), Ok(()));

    // A plugin of one world is refused as another, with a message naming it.
    let wrong = engine.load_step("hostile", &build_wasm("tests/plugins", "hostile"), Limits::default());
    assert!(matches!(wrong, Err(PluginError::Invalid(ref m)) if m.contains("not a step plugin")), "{wrong:?}");
}

#[test]
fn a_plugin_built_against_an_unsupported_major_is_refused_by_name() {
    let engine = engine();
    let err = engine
        .load_channel("future-major", &build_wasm("tests/plugins", "future-major"), Limits::default())
        .expect_err("refused");
    let PluginError::Invalid(message) = err else { panic!("{err:?}") };
    assert!(message.contains("built against switchboard:plugin 2.0.0"), "{message}");
    assert!(message.contains("supports 1.x"), "{message}");
}

/// Interface 1.1.0 only added (the `mail` import, the `poller` export): a plugin compiled against the
/// frozen 1.0.0 files, without the SDK, loads on this host and every 1.0.0 import it uses still works.
#[test]
fn a_plugin_built_against_1_0_0_still_loads_and_runs() {
    use switchboard_plugin_host::testing::{Harness, Request};
    let h = Harness::from_wasm(build_wasm("tests/plugins", "v1-channel"))
        .grant("api.v1.test")
        .config(serde_json::json!({"base_url": "https://api.v1.test"}))
        .secret("token", "t0k");
    let info = h.describe_channel();
    assert_eq!((info.id.as_str(), info.version.as_str()), ("v1-channel", "1.0.0"));

    let refused = h.handle_webhook(Request::post("ana:hi").header("x-token", "nope").into());
    assert!(matches!(refused, Err(switchboard::plugins::WebhookError::Unauthorized(_))), "{refused:?}");
    for expected in ["v1-1", "v1-2"] {
        let (events, response) =
            h.handle_webhook(Request::post("ana:hi there").header("x-token", "t0k").into()).expect("accepted");
        assert_eq!(response.status, 200);
        let InboundEvent::Message { contact, provider_message_id, timestamp_ms, content } = &events[0] else {
            panic!("{events:?}")
        };
        assert_eq!((contact.external_id.as_str(), provider_message_id.as_str()), ("ana", expected));
        assert_eq!(*timestamp_ms, Some(switchboard_plugin_host::testing::DEFAULT_NOW_MS), "the clock import");
        assert_eq!(content["text"], "hi there");
    }
    assert_eq!(h.kv_get("seen").as_deref(), Some(b"2".as_slice()), "the kv import");

    h.respond("POST", "https://api.v1.test/send", 200, "provider-9");
    let message = switchboard_plugin_sdk::event::OutboundMessage {
        to: "ana".into(),
        content: serde_json::json!({"type": "text", "text": "hello"}),
        ..Default::default()
    };
    assert_eq!(h.send(&message).expect("sent"), "provider-9", "the config and http imports");
    let sent = h.requests();
    assert_eq!((sent.len(), sent[0].url.as_str()), (1, "https://api.v1.test/send"));
    assert_eq!(sent[0].json()["content"]["text"], "hello");
}

/// A provider on loopback that records what it receives and answers with a message id.
async fn fake_provider() -> (String, std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>) {
    use axum::{Json, Router, routing::post};
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = seen.clone();
    let app = Router::new().route(
        "/messages",
        post(move |Json(body): Json<serde_json::Value>| {
            let record = record.clone();
            async move {
                record.lock().expect("lock").push(body);
                Json(serde_json::json!({"id": "prov-1"}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    (format!("127.0.0.1:{port}"), seen)
}

fn sending_context(base_url: &str) -> CallContext {
    let mut ctx = example_context();
    ctx.config = serde_json::json!({ "base_url": base_url });
    ctx
}

fn message() -> String {
    serde_json::json!({"to": "user-7", "content": {"type": "text", "text": "hi"}}).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbound_http_reaches_only_granted_public_hosts() {
    let (addr, seen) = fake_provider().await;
    let port = addr.rsplit(':').next().expect("port").to_owned();
    let wasm = build_wasm("plugins", "example-channel");

    // The admin allows 127.0.0.1 explicitly (as tests do) and grants the plugin that host: the request goes out.
    let policy =
        EgressPolicy { allow_private_addresses: vec!["127.0.0.1".parse().expect("ip")], ..EgressPolicy::standard() };
    let engine = PluginEngine::with_egress(Limits::default().memory_bytes, policy).expect("engine");
    let granted = Grants { outbound_hosts: vec![format!("http://{addr}")], kv: false, mail: false };
    let plugin = engine.load_channel("example-channel", &wasm, Limits::default()).expect("load").with_grants(granted);
    let sent = plugin.send(sending_context(&format!("http://{addr}")), message()).await.expect("call");
    assert!(matches!(sent, Ok(ref id) if id == "prov-1"), "{sent:?}");
    let bodies = seen.lock().expect("lock").clone();
    assert_eq!(bodies, vec![serde_json::json!({"to": "user-7", "content": {"type": "text", "text": "hi"}})]);

    // Without the admin's allowance the same grant cannot reach loopback, by address or by a name.
    let strict = PluginEngine::new(Limits::default().memory_bytes).expect("engine");
    let grants = Grants {
        outbound_hosts: vec![
            format!("http://{addr}"),
            format!("http://localhost:{port}"),
            "http://169.254.169.254".into(),
        ],
        kv: false,
        mail: false,
    };
    let plugin = strict.load_channel("example-channel", &wasm, Limits::default()).expect("load").with_grants(grants);
    for base in [format!("http://{addr}"), format!("http://localhost:{port}"), "http://169.254.169.254".to_owned()] {
        let refused = plugin.send(sending_context(&base), message()).await.expect("call");
        match refused {
            Err(switchboard::plugins::SendError::Transient(why)) => {
                assert!(why.contains("Denied") && why.contains("non-public"), "{base}: {why}")
            }
            other => panic!("{base}: expected a denial, got {other:?}"),
        }
    }
    // A host that is not granted at all is denied before any lookup.
    let other = plugin.send(sending_context("https://api.telegram.org"), message()).await.expect("call");
    assert!(
        matches!(other, Err(switchboard::plugins::SendError::Transient(ref why)) if why.contains("not granted")),
        "{other:?}"
    );
    assert_eq!(seen.lock().expect("lock").len(), 1, "nothing else reached the provider");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_check_reports_world_version_and_description() {
    let engine = engine();
    let report = engine.inspect(&build_wasm("plugins", "example-channel"), Limits::default()).await.expect("inspect");
    assert_eq!(report.world, "channel");
    assert_eq!(report.interface_versions, vec!["1.1.0".to_owned()]);
    assert_eq!(report.describe["id"], "example-channel");
    assert!(report.imports.iter().any(|i| i == "switchboard:plugin/http@1.1.0"), "{:?}", report.imports);
    let v1 = engine.inspect(&build_wasm("tests/plugins", "v1-channel"), Limits::default()).await.expect("inspect");
    assert_eq!((v1.world, v1.interface_versions.clone(), v1.polls), ("channel", vec!["1.0.0".to_owned()], false));
    let email = engine.inspect(&build_wasm("plugins", "email"), Limits::default()).await.expect("inspect");
    assert_eq!((email.world, email.polls), ("channel", true), "the e-mail channel exports its poller");
    assert!(email.imports.iter().any(|i| i == "switchboard:plugin/mail@1.1.0"), "{:?}", email.imports);
    let step = engine.inspect(&build_wasm("tests/plugins", "echo-step"), Limits::default()).await.expect("inspect");
    assert_eq!(step.world, "step");
    let future = engine.inspect(&build_wasm("tests/plugins", "future-major"), Limits::default()).await;
    assert!(matches!(future, Err(PluginError::Invalid(ref m)) if m.contains("2.0.0")), "{future:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_value_storage_lives_in_the_database_per_scope() {
    let db = switchboard_tests::TestDb::new(switchboard_tests::Backend::Sqlite).await;
    let app = db.app().await;
    let kv = std::sync::Arc::new(switchboard::plugins::StoreKv(app.store.clone()));
    let engine = engine().with_kv(kv);
    let wasm = build_wasm("tests/plugins", "hostile");
    let scoped =
        |scope: &str| CallContext { plugin_id: "hostile".into(), kv_scope: scope.into(), ..Default::default() };
    // Without the grant (the manifest did not declare kv, or the admin turned it off) storage is refused.
    let ungranted = engine.load_channel("hostile", &wasm, Limits::default()).expect("load");
    let refused = ungranted.handle_webhook(scoped("hostile/1"), request("POST", "", &[], b"kv")).await.expect("call");
    assert!(
        matches!(refused, Err(switchboard::plugins::WebhookError::BadRequest(ref why)) if why.contains("not granted")),
        "{refused:?}"
    );
    let plugin = engine
        .load_channel("hostile", &wasm, Limits::default())
        .expect("load")
        .with_grants(Grants { kv: true, ..Grants::default() });
    for expected in ["1", "2"] {
        let out = plugin
            .handle_webhook(scoped("hostile/1"), request("POST", "", &[], b"kv"))
            .await
            .expect("call")
            .expect("ok");
        assert_eq!(out.response.body, expected.as_bytes());
    }
    // Another scope (another channel instance) starts from nothing.
    let other =
        plugin.handle_webhook(scoped("hostile/2"), request("POST", "", &[], b"kv")).await.expect("call").expect("ok");
    assert_eq!(other.response.body, b"1");
    assert_eq!(
        app.store.kv_get("hostile/1", "count").await.expect("read"),
        Some(b"2".to_vec()),
        "stored in the database"
    );
    app.store.close().await;
    db.cleanup().await;
}
