//! A channel plugin that misbehaves in the way the webhook body names: `loop`, `memory`, `hostcalls`,
//! `huge`, `panic`, `http`; `kv` counts calls in its key-value storage; `remember` leaves state behind for
//! the next call to find; anything else is answered normally.
//! The sandbox tests use it.

use switchboard_plugin_sdk::channel::*;
use switchboard_plugin_sdk::host;

struct Hostile;

impl Channel for Hostile {
    fn describe() -> Info {
        Info {
            id: "hostile".into(),
            name: "Hostile".into(),
            version: "0.1.0".into(),
            capabilities: Capabilities {
                text: true,
                media: false,
                templates: true,
                interactive: false,
                reactions: false,
                locations: false,
            },
            window: WindowPolicy { free_form_hours: Some(24), templates_outside: true, tags_outside: false },
        }
    }

    fn handle_webhook(request: HttpRequest) -> Result<(Vec<InboundEvent>, HttpResponse), WebhookError> {
        let what = String::from_utf8_lossy(&request.body).to_string();
        match what.as_str() {
            "loop" => {
                let mut n: u64 = 0;
                loop {
                    n = n.wrapping_add(1);
                    std::hint::black_box(n);
                }
            }
            "memory" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "hostcalls" => {
                let mut total = 0i64;
                loop {
                    total = total.wrapping_add(host::now_ms());
                    std::hint::black_box(total);
                }
            }
            "huge" => {
                let text = "x".repeat(16 << 20);
                Ok((vec![], HttpResponse::text(200, &text)))
            }
            "panic" => panic!("the plugin panicked on purpose"),
            // Leaves traces in its globals and heap; a later call must never see them (every call gets a fresh
            // instance, whatever the allocator keeps resident between calls).
            "remember" => {
                static CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
                static KEPT: std::sync::Mutex<Vec<u8>> = std::sync::Mutex::new(Vec::new());
                let calls = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                let mut kept = KEPT.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                let seen = kept.iter().filter(|b| **b == 0xAB).count();
                kept.resize(200_000, 0xAB);
                Ok((vec![], HttpResponse::text(200, &format!("calls={calls} seen={seen}"))))
            }
            "http" => {
                let result = host::post_json("https://metadata.example.internal/latest", &serde_json::json!({}), &[]);
                match result {
                    Err(e) => Err(WebhookError::BadRequest(format!("{e:?}"))),
                    Ok(_) => Ok((vec![], HttpResponse::text(200, "reached"))),
                }
            }
            "kv" => {
                let count = host::store::get("count")
                    .map_err(WebhookError::BadRequest)?
                    .and_then(|v| String::from_utf8(v).ok())
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0)
                    + 1;
                host::store::set("count", count.to_string().as_bytes()).map_err(WebhookError::BadRequest)?;
                Ok((vec![], HttpResponse::text(200, &count.to_string())))
            }
            other => Ok((vec![], HttpResponse::text(200, &format!("fine: {other}")))),
        }
    }

    fn send(_message: OutboundMessage) -> Result<String, SendError> {
        Err(SendError::Permanent("hostile plugins do not send".into()))
    }
}

switchboard_plugin_sdk::register_channel!(Hostile);
