//! Benchmark: one plugin call (a fresh store and instance, a WhatsApp text webhook handled, the events
//! returned) against the same parse and serialisation done natively, measured in the same run; prints
//! the ratio. Run with `cargo bench -p switchboard-plugin-host --bench plugin_call`; results in
//! docs/performance.md ("Plugin call overhead").

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use criterion::{BatchSize, Criterion};
use switchboard_plugin_host::testing::{Request, build_component};
use switchboard_plugin_host::{CallContext, HttpRequest, Limits, PluginEngine};
use switchboard_plugin_sdk::event::InboundEvent;

/// One WhatsApp Cloud API delivery with one text message (see `fixtures/README.md`).
const BODY: &[u8] = include_bytes!("fixtures/whatsapp_inbound_text.json");

const GROUP: &str = "whatsapp_text_webhook";
/// The design brief's targets for one plugin call.
const TARGET_MICROS: f64 = 10.0;
const TARGET_RATIO: f64 = 5.0;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("plugin-host lives in the repository").to_path_buf()
}

/// What the plugin does: parse, then serialise the events (the SDK returns them as JSON).
fn native(body: &[u8]) -> String {
    let events = whatsapp_parse::parse(body).expect("the fixture parses");
    serde_json::to_string(&events).expect("events serialise")
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
    let wasm = build_component(&repo_root().join("tests/plugins/bench-whatsapp"));
    let limits = Limits::default();
    let plugin = rt
        .block_on(async { PluginEngine::new(limits.memory_bytes) })
        .expect("a plugin engine")
        .load_channel("bench-whatsapp", &wasm, limits)
        .expect("the bench plugin loads as a channel");
    let ctx = CallContext {
        plugin_id: "bench-whatsapp".into(),
        kv_scope: "bench-whatsapp".into(),
        config: serde_json::json!({}),
        ..Default::default()
    };
    let request: HttpRequest = Request::post(BODY).header("x-hub-signature-256", "sha256=unchecked").into();

    // Both sides must do the same work: the plugin's events are exactly the native parse's.
    let expected = whatsapp_parse::parse(BODY).expect("the fixture parses");
    assert!(
        matches!(expected.as_slice(), [InboundEvent::Message { .. }]),
        "the fixture is one text message: {expected:?}"
    );
    let result = rt
        .block_on(plugin.handle_webhook(ctx.clone(), request.clone()))
        .expect("the plugin call runs")
        .expect("the plugin accepts the webhook");
    assert_eq!(result.response.status, 200);
    assert_eq!(result.events, native(BODY), "the plugin's events are the native parse's, byte for byte");
    let events: Vec<InboundEvent> = serde_json::from_str(&result.events).expect("InboundEvent JSON");
    assert_eq!(events, expected);

    let mut group = c.benchmark_group(GROUP);
    group.bench_function("native_parse", |b| {
        b.iter_batched(|| BODY, |body| native(black_box(body)), BatchSize::SmallInput)
    });
    group.bench_function("plugin_call", |b| {
        b.iter_batched(
            || (ctx.clone(), request.clone()),
            |(ctx, request)| {
                let out = rt.block_on(plugin.handle_webhook(ctx, black_box(request)));
                assert!(matches!(out, Ok(Ok(_))), "a plugin call failed while measured: {out:?}");
                out
            },
            BatchSize::SmallInput,
        )
    });
    // The floor under every call: a fresh store and instance, a call that does nothing, the teardown.
    group.bench_function("plugin_describe", |b| {
        b.iter_batched(
            || ctx.clone(),
            |ctx| rt.block_on(plugin.describe(ctx)).expect("describe runs"),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

/// Where criterion writes its estimates, by the rules it uses itself.
fn criterion_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir).join("criterion");
    }
    let from_cargo = std::env::var_os("CARGO").and_then(|cargo| {
        let output = std::process::Command::new(cargo).args(["metadata", "--format-version", "1"]).output().ok()?;
        let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).ok()?;
        metadata["target_directory"].as_str().map(|dir| Path::new(dir).join("criterion"))
    });
    from_cargo.unwrap_or_else(|| PathBuf::from("target/criterion"))
}

/// Criterion's estimate of one benchmark of this run (ns per iteration): the slope of its linear
/// regression, as it prints it, or the mean when it has no slope. `None` when the benchmark did not run.
fn estimate(name: &str, since: SystemTime) -> Option<(f64, f64)> {
    let file = criterion_dir().join(GROUP).join(name).join("new/estimates.json");
    let fresh = std::fs::metadata(&file).and_then(|m| m.modified()).is_ok_and(|t| t >= since);
    if !fresh {
        return None;
    }
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).ok()?).ok()?;
    let point = |key: &str| json[key]["point_estimate"].as_f64();
    Some((point("slope").or_else(|| point("mean"))?, point("median")?))
}

fn main() {
    let started = SystemTime::now();
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
    let (Some((native, native_median)), Some((call, call_median))) =
        (estimate("native_parse", started), estimate("plugin_call", started))
    else {
        println!("plugin_call / native_parse: not computed (both benchmarks must run)");
        return;
    };
    let met = |ok: bool| if ok { "met" } else { "NOT met" };
    println!();
    println!("native_parse: {:.3} µs (median {:.3} µs)", native / 1e3, native_median / 1e3);
    println!(
        "plugin_call:  {:.3} µs (median {:.3} µs); target ≤ {TARGET_MICROS} µs: {}",
        call / 1e3,
        call_median / 1e3,
        met(call / 1e3 <= TARGET_MICROS)
    );
    println!(
        "plugin_call / native_parse: {:.2}× (medians {:.2}×); target ≤ {TARGET_RATIO}×: {}",
        call / native,
        call_median / native_median,
        met(call / native <= TARGET_RATIO)
    );
}
