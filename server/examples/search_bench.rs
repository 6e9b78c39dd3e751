//! Search latency and index freshness against a running server: the searches an agent types (common and
//! rare words, Arabic spelling variants, a word still being typed, phone digits), one at a time, with p50
//! and p99 each; then how long a new contact takes to become findable. Baseline in the same run:
//! `GET /healthz` (the HTTP floor) and `GET /api/v1/auth/me` (authentication plus one read).
//!
//! `cargo run --release --example search_bench -- http://127.0.0.1:8080 TOKEN [REQUESTS]`

#[path = "shared/latency.rs"]
mod latency;

use std::time::{Duration, Instant};

use latency::{Target, ms, percentile};

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
    let target = Target::new(base, token);
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
        let (_, body) = target.get(&path).await;
        let hits = body["contacts"].as_array().map_or(0, Vec::len) + body["messages"].as_array().map_or(0, Vec::len);
        let hits = if path.starts_with("/api/v1/search") { hits.to_string() } else { "–".into() };
        let (p50, p99) = target.percentiles(&path, requests).await;
        println!("| {name} | {hits} | {} | {} |", ms(p50), ms(p99));
    }

    // Freshness: from the answer to a contact's creation until a search finds it.
    let rounds = 30;
    let mut lags = Vec::with_capacity(rounds);
    for i in 0..rounds {
        let name = format!("fresh{}x{}", i, std::process::id());
        let resp = target
            .http
            .post(format!("{base}/api/v1/contacts"))
            .bearer_auth(token)
            .json(&serde_json::json!({ "first_name": name }))
            .send()
            .await
            .expect("create contact");
        assert!(resp.status().is_success(), "{}", resp.status());
        let created = Instant::now();
        loop {
            let (_, body) = target.get(&search(&name, "&kind=contacts")).await;
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
