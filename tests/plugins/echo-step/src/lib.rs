//! A workflow step that copies its `text` input to the `echo` output and branches on emptiness. It also
//! reports its version (feature `v2` builds a second one, for reload tests) and can busy-wait `spin`
//! iterations first, or POST to `wait_on` (a URL) and wait for the answer, so a test can keep a call in
//! flight for as long as it needs.

use switchboard_plugin_sdk::step::*;

struct Echo;

const VERSION: &str = if cfg!(feature = "v2") { "0.2.0" } else { "0.1.0" };

impl Step for Echo {
    fn describe() -> StepInfo {
        StepInfo {
            id: "echo-step".into(),
            name: "Echo".into(),
            version: VERSION.into(),
            inputs_schema: r#"{"type":"object","properties":{"text":{"type":"string"},"spin":{"type":"integer"}}}"#
                .into(),
            outputs: vec!["echo".into(), "version".into()],
            branches: vec!["empty".into()],
        }
    }

    fn run(_context: serde_json::Value, inputs: serde_json::Value) -> Result<StepResult, String> {
        let mut x = 0u64;
        for i in 0..inputs["spin"].as_u64().unwrap_or(0) {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        if let Some(url) = inputs["wait_on"].as_str() {
            switchboard_plugin_sdk::host::post_json(url, &serde_json::json!({}), &[])
                .map_err(|e| format!("wait_on failed: {e:?}"))?;
        }
        let text = inputs["text"].as_str().unwrap_or_default();
        let mut result = outputs(serde_json::json!({ "echo": text, "version": VERSION, "spun": x > 0 }));
        if text.is_empty() {
            result.branch = "empty".into();
        }
        Ok(result)
    }
}

switchboard_plugin_sdk::register_step!(Echo);
