//! A workflow step that copies its `text` input to the `echo` output and branches on emptiness.

use switchboard_plugin_sdk::step::*;

struct Echo;

impl Step for Echo {
    fn describe() -> StepInfo {
        StepInfo {
            id: "echo-step".into(),
            name: "Echo".into(),
            version: "0.1.0".into(),
            inputs_schema: r#"{"type":"object","properties":{"text":{"type":"string"}}}"#.into(),
            outputs: vec!["echo".into()],
            branches: vec!["empty".into()],
        }
    }

    fn run(_context: serde_json::Value, inputs: serde_json::Value) -> Result<StepResult, String> {
        let text = inputs["text"].as_str().unwrap_or_default();
        let mut result = outputs(serde_json::json!({ "echo": text }));
        if text.is_empty() {
            result.branch = "empty".into();
        }
        Ok(result)
    }
}

switchboard_plugin_sdk::register_step!(Echo);
