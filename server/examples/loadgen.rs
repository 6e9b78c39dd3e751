//! Load generator: signed WhatsApp Cloud API text webhooks, posted concurrently to a running server's
//! `/webhooks/{channel_id}`; reports acknowledged deliveries per second. The crash test (tests/crash.rs)
//! uses the same deliveries.
//!
//! `cargo run --release --example loadgen -- http://127.0.0.1:8080/webhooks/1 APP_SECRET 20000 64`

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// One webhook delivery with its `X-Hub-Signature-256`.
#[derive(Clone)]
pub struct Delivery {
    pub message_id: String,
    pub body: String,
    pub signature: String,
}

/// `n` deliveries of one text message each, from 500 contacts, signed with `app_secret`.
pub fn deliveries(n: usize, app_secret: &str, run: &str) -> Vec<Delivery> {
    use hmac::Mac;
    (0..n)
        .map(|i| {
            let message_id = format!("wamid.{run}.{i}");
            let wa_id = format!("9715{:08}", i % 500);
            let body = format!(
                r#"{{"object":"whatsapp_business_account","entry":[{{"id":"1","changes":[{{"value":{{"messaging_product":"whatsapp","metadata":{{"display_phone_number":"15550001111","phone_number_id":"1122334455667"}},"contacts":[{{"profile":{{"name":"Load {c}"}},"wa_id":"{wa_id}"}}],"messages":[{{"from":"{wa_id}","id":"{message_id}","timestamp":"1700000000","text":{{"body":"message {i}"}},"type":"text"}}]}},"field":"messages"}}]}}]}}"#,
                c = i % 500
            );
            let mut mac = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(app_secret.as_bytes()).expect("key");
            mac.update(body.as_bytes());
            let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
            Delivery { message_id, body, signature }
        })
        .collect()
}

/// Posts every delivery with `concurrency` requests in flight; returns which ones got a 2xx. `acks`
/// counts them as they come (the crash test kills the server once enough were acknowledged).
pub async fn post_all(url: &str, deliveries: &[Delivery], concurrency: usize, acks: Arc<AtomicUsize>) -> Vec<bool> {
    let client = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build().expect("client");
    let next = Arc::new(AtomicUsize::new(0));
    let acked = Arc::new(std::sync::Mutex::new(vec![false; deliveries.len()]));
    let deliveries = Arc::new(deliveries.to_vec());
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (client, next, acked, deliveries, url, acks) =
            (client.clone(), next.clone(), acked.clone(), deliveries.clone(), url.to_owned(), acks.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(d) = deliveries.get(i) else { break };
                let sent = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("x-hub-signature-256", &d.signature)
                    .body(d.body.clone())
                    .send()
                    .await;
                if sent.is_ok_and(|r| r.status().is_success()) {
                    acked.lock().expect("lock")[i] = true;
                    acks.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for w in workers {
        let _ = w.await;
    }
    acked.lock().expect("lock").clone()
}

#[allow(dead_code)]
#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, secret, count, concurrency] = args.as_slice() else {
        eprintln!("usage: loadgen WEBHOOK_URL APP_SECRET COUNT CONCURRENCY");
        std::process::exit(2);
    };
    let count: usize = count.parse().expect("COUNT is a number");
    let concurrency: usize = concurrency.parse().expect("CONCURRENCY is a number");
    let run =
        format!("{:x}", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("time").as_millis());
    let deliveries = deliveries(count, secret, &run);
    let started = Instant::now();
    let acked = post_all(url, &deliveries, concurrency, Arc::default()).await;
    let secs = started.elapsed().as_secs_f64();
    let ok = acked.iter().filter(|a| **a).count();
    println!("{ok} of {count} deliveries acknowledged in {secs:.2} s: {:.0} messages/s", ok as f64 / secs);
}
