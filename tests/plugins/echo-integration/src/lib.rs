//! An integration that subscribes to `message.created` and offers an `echo` action.

use switchboard_plugin_sdk::integration::*;

struct Echo;

impl Integration for Echo {
    fn describe() -> IntegrationInfo {
        IntegrationInfo {
            id: "echo-integration".into(),
            name: "Echo".into(),
            version: "0.1.0".into(),
            subscriptions: vec!["message.created".into()],
            actions: vec![ActionInfo {
                name: "echo".into(),
                description: "Returns its input".into(),
                input_schema: r#"{"type":"object"}"#.into(),
            }],
        }
    }

    fn run_action(name: &str, input: serde_json::Value) -> Result<serde_json::Value, String> {
        match name {
            "echo" => Ok(input),
            other => Err(format!("unknown action {other}")),
        }
    }
}

switchboard_plugin_sdk::register_integration!(Echo);
