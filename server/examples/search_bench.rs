//! Search latency and index freshness against a running server: the searches an agent types (common and
//! rare words, Arabic spelling variants, a word still being typed, phone digits), one at a time, with p50
//! and p99 each; then how long a new contact takes to become findable. Baseline in the same run:
//! `GET /healthz` (the HTTP floor) and `GET /api/v1/auth/me` (authentication plus one read).
//!
//! `cargo run --release --example search_bench -- http://127.0.0.1:8080 TOKEN [REQUESTS]`

use std::time::{Duration, Instant};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn encode(q: &str) -> String {
    q.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, base, token, rest @ ..] = args.as_slice() else {
        eprintln!("usage: search_bench BASE_URL TOKEN [REQUESTS]");
        std::process::exit(2);
    };
    let requests: usize = rest.first().and_then(|n| n.parse().ok()).unwrap_or(300);
    let http = reqwest::Client::new();
    let get = |path: String| {
        let req = http.get(format!("{base}{path}")).bearer_auth(token);
        async move {
            let started = Instant::now();
            let resp = req.send().await.expect("request");
            let status = resp.status();
            let body = resp.bytes().await.expect("body");
            assert!(status.is_success(), "{status}: {}", String::from_utf8_lossy(&body));
            let body: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            (started.elapsed(), body)
        }
    };
    let search = |q: &str, extra: &str| format!("/api/v1/search?q={}{extra}", encode(q));
    let scenarios: Vec<(&str, String)> = vec![
        ("baseline: GET /healthz", "/healthz".into()),
        ("baseline: GET /api/v1/auth/me", "/api/v1/auth/me".into()),
        ("common word: order", search("order", "")),
        ("common Arabic word, other spelling: اين", search("اين", "")),
        ("name, other spelling: احمد", search("احمد", "")),
        ("two words: delivery address", search("delivery address", "")),
        ("word being typed: deliv", search("deliv", "")),
        ("rare word: an order number", search("#482913", "")),
        ("no match: kumquat", search("kumquat", "")),
        ("phone, 7 digits: 5012345", search("5012345", "")),
        ("phone, 4 digits: 5012", search("5012", "")),
        ("common word, newest first", search("order", "&sort=newest&kind=messages")),
    ];
    println!("| Request | hits | p50 | p99 |");
    println!("|---|---|---|---|");
    for (name, path) in scenarios {
        let (_, body) = get(path.clone()).await;
        let hits = body["contacts"].as_array().map_or(0, Vec::len) + body["messages"].as_array().map_or(0, Vec::len);
        for _ in 0..10 {
            get(path.clone()).await;
        }
        let mut times = Vec::with_capacity(requests);
        for _ in 0..requests {
            times.push(get(path.clone()).await.0);
        }
        times.sort();
        let hits = if path.starts_with("/api/v1/search") { hits.to_string() } else { "–".into() };
        println!("| {name} | {hits} | {} | {} |", ms(percentile(&times, 0.5)), ms(percentile(&times, 0.99)));
    }

    // Freshness: from the answer to a contact's creation until a search finds it.
    let rounds = 30;
    let mut lags = Vec::with_capacity(rounds);
    for i in 0..rounds {
        let name = format!("fresh{}x{}", i, std::process::id());
        let resp = http
            .post(format!("{base}/api/v1/contacts"))
            .bearer_auth(token)
            .json(&serde_json::json!({ "first_name": name }))
            .send()
            .await
            .expect("create contact");
        assert!(resp.status().is_success(), "{}", resp.status());
        let created = Instant::now();
        loop {
            let (_, body) = get(search(&name, "&kind=contacts")).await;
            if body["contacts"].as_array().is_some_and(|c| !c.is_empty()) {
                lags.push(created.elapsed());
                break;
            }
            assert!(created.elapsed() < Duration::from_secs(30), "{name} was never found");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    lags.sort();
    println!();
    println!(
        "Index freshness (contact created → found), {rounds} rounds: p50 {}, p99 {}, max {}",
        ms(percentile(&lags, 0.5)),
        ms(percentile(&lags, 0.99)),
        ms(*lags.last().unwrap_or(&Duration::ZERO))
    );
}
