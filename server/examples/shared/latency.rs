//! What the latency benchmarks (inbox_bench, search_bench) share: one timed GET, and p50/p99 over many.

use std::time::{Duration, Instant};

/// A server and the token its requests carry.
pub struct Target {
    pub http: reqwest::Client,
    pub base: String,
    pub token: String,
}

impl Target {
    pub fn new(base: &str, token: &str) -> Self {
        Self { http: reqwest::Client::new(), base: base.to_owned(), token: token.to_owned() }
    }

    /// One GET, timed, with its JSON body (`Null` when it is not JSON); a failure ends the benchmark.
    pub async fn get(&self, path: &str) -> (Duration, serde_json::Value) {
        let started = Instant::now();
        let resp =
            self.http.get(format!("{}{path}", self.base)).bearer_auth(&self.token).send().await.expect("request");
        let status = resp.status();
        let body = resp.bytes().await.expect("body");
        let took = started.elapsed();
        assert!(status.is_success(), "{status}: {}", String::from_utf8_lossy(&body));
        (took, serde_json::from_slice(&body).unwrap_or_default())
    }

    /// `path` requested `n` times one at a time after 10 unmeasured ones: (p50, p99).
    pub async fn percentiles(&self, path: &str, n: usize) -> (Duration, Duration) {
        for _ in 0..10 {
            self.get(path).await;
        }
        let mut times = Vec::with_capacity(n);
        for _ in 0..n {
            times.push(self.get(path).await.0);
        }
        times.sort();
        (percentile(&times, 0.5), percentile(&times, 0.99))
    }
}

pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}
