//! Running a step plugin for a workflow run: the inputs with the run's variables put in, the JSON context
//! the plugin sees (contact, conversation, variables, last incoming message, workspace), and the call
//! itself with the admin's configuration and secrets for the plugin and a key-value scope per workspace.

use serde_json::{Map, Value, json};

use crate::app::App;
use crate::model::*;
use crate::plugins::CallContext;
use crate::service::variables::Scope;

/// What the plugin answered: its outputs (a JSON object) and the branch it took.
#[derive(Debug)]
pub struct Outcome {
    pub outputs: Map<String, Value>,
    pub branch: String,
}

/// `inputs` with every text's variables resolved, at any depth.
pub fn resolve_inputs(scope: &Scope, inputs: &Map<String, Value>) -> Value {
    fn walk(scope: &Scope, v: &Value) -> Value {
        match v {
            Value::String(s) => Value::String(scope.resolve(s)),
            Value::Array(items) => Value::Array(items.iter().map(|i| walk(scope, i)).collect()),
            Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), walk(scope, v))).collect()),
            other => other.clone(),
        }
    }
    walk(scope, &Value::Object(inputs.clone()))
}

/// The context a step plugin runs with.
pub fn context(ws: Id, scope: &Scope, conversation: Option<&Conversation>) -> Value {
    json!({
        "workspace": { "id": ws, "timezone": scope.tz.name() },
        "contact": scope.contact,
        "conversation": conversation,
        "assignee": scope.assignee.as_ref().map(|u| json!({ "id": u.id, "name": u.name, "email": u.email })),
        "variables": scope.variables,
        "message": scope.last_incoming.as_ref().map(|m| json!({
            "id": m.id, "text": m.content.preview(), "type": m.content.type_name(),
            "channel_id": m.channel_id, "created_at": m.created_at,
        })),
    })
}

/// Calls the plugin; `Err(reason)` when it is not a ready step plugin, fails, or breaks a limit.
pub async fn call(app: &App, ws: Id, plugin: &str, context: &Value, inputs: &Value) -> Result<Outcome, String> {
    let entry = app.plugins.get(plugin).ok_or_else(|| format!("no plugin `{plugin}` is installed"))?;
    let step = entry.step().ok_or_else(|| format!("the step plugin `{plugin}` is not ready"))?;
    let settings = app.config.plugins.settings_for(plugin);
    let ctx = CallContext {
        plugin_id: plugin.to_owned(),
        kv_scope: format!("{plugin}/workspace-{ws}"),
        config: Value::Object(settings.config),
        secrets: settings.secrets,
        fixed_now_ms: None,
    };
    let result = step
        .run(ctx, context.to_string(), inputs.to_string())
        .await
        .map_err(|e| format!("the plugin `{plugin}` failed: {e}"))?
        .map_err(|e| format!("the plugin `{plugin}` refused: {e}"))?;
    let outputs = match serde_json::from_str::<Value>(&result.outputs) {
        Ok(Value::Object(map)) => map,
        _ => return Err(format!("the plugin `{plugin}` gave outputs that are not a JSON object")),
    };
    Ok(Outcome { outputs, branch: result.branch })
}
