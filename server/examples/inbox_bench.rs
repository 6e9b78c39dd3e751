//! Inbox latency: the requests an agent's screen makes (views, filters, the next page, sidebar counts),
//! each sent one at a time to a running server, with p50 and p99 per request. Baseline in the same run:
//! `GET /healthz` (the HTTP floor) and `GET /api/v1/auth/me` (authentication plus one read).
//!
//! `cargo run --release --example inbox_bench -- http://127.0.0.1:8080 TOKEN TEAM_ID [REQUESTS]`

#[path = "shared/latency.rs"]
mod latency;

use latency::{Target, ms};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, base, token, team, rest @ ..] = args.as_slice() else {
        eprintln!("usage: inbox_bench BASE_URL TOKEN TEAM_ID [REQUESTS]");
        std::process::exit(2);
    };
    let requests: usize = rest.first().and_then(|n| n.parse().ok()).unwrap_or(300);
    let target = Target::new(base, token);
    // The second page starts where the first ended.
    let (_, first) = target.get("/api/v1/conversations?status=open&limit=50").await;
    let cursor = first["next_cursor"].as_str().unwrap_or_default().to_owned();

    let scenarios: Vec<(&str, String)> = vec![
        ("baseline: GET /healthz", "/healthz".into()),
        ("baseline: GET /api/v1/auth/me", "/api/v1/auth/me".into()),
        ("all, open, newest (first page of 50)", "/api/v1/conversations?status=open".into()),
        ("all, open, next page", format!("/api/v1/conversations?status=open&cursor={cursor}")),
        ("all, any status, oldest", "/api/v1/conversations?sort=oldest".into()),
        ("unassigned, open", "/api/v1/conversations?view=unassigned&status=open".into()),
        ("team, open", format!("/api/v1/conversations?view=team:{team}&status=open")),
        ("mine, open", "/api/v1/conversations?view=mine&status=open".into()),
        ("unread, open", "/api/v1/conversations?status=open&unread=true".into()),
        ("tag vip, any status", "/api/v1/conversations?tag=vip".into()),
        ("closed, newest", "/api/v1/conversations?status=closed".into()),
        ("sidebar counts", "/api/v1/inbox/counts".into()),
    ];
    println!("| Request | p50 | p99 |");
    println!("|---|---|---|");
    for (name, path) in scenarios {
        let (p50, p99) = target.percentiles(&path, requests).await;
        println!("| {name} | {} | {} |", ms(p50), ms(p99));
    }
}
