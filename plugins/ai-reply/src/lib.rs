//! The AI reply workflow step: sends the contact's last message (or the step's `message` input) with the
//! step's instructions to an OpenAI-compatible `chat/completions` endpoint and gives the answer back as
//! the `$reply` output, which the workflow engine sends to the contact. A message that names one of the
//! hand-over keywords, or a model that answers `HANDOVER`, takes the `handover` branch instead (where the
//! workflow assigns a human); an unreachable or failing model takes `failure`.

use serde_json::{Value, json};
use switchboard_plugin_sdk::host;
use switchboard_plugin_sdk::step::*;

/// What the model is told to answer when a person should take over.
const HANDOVER: &str = "HANDOVER";
const MAX_KEYWORDS: usize = 10;

struct AiReply;

impl Step for AiReply {
    fn describe() -> StepInfo {
        StepInfo {
            id: "ai-reply".into(),
            name: "AI reply".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            inputs_schema: json!({
                "type": "object",
                "properties": {
                    "instructions": { "type": "string", "description": "the system prompt: who the assistant is, what it may answer; variables allowed" },
                    "message": { "type": "string", "description": "what to answer; by default the contact's last incoming message" },
                    "handover": { "type": "boolean", "default": true, "description": "let the model hand over to a human by answering HANDOVER" },
                    "handover_keywords": { "type": "array", "maxItems": MAX_KEYWORDS, "items": { "type": "string" },
                                           "description": "words that hand over at once, e.g. human, agent" },
                    "max_tokens": { "type": "integer", "minimum": 1, "maximum": 4096 },
                    "temperature": { "type": "number", "minimum": 0, "maximum": 2 }
                }
            })
            .to_string(),
            outputs: vec!["ai_reply".into(), "$reply".into(), "error".into()],
            branches: vec!["handover".into(), "failure".into()],
        }
    }

    fn run(context: Value, inputs: Value) -> Result<StepResult, String> {
        let message = inputs["message"]
            .as_str()
            .filter(|m| !m.trim().is_empty())
            .or_else(|| context["message"]["text"].as_str())
            .unwrap_or_default()
            .trim()
            .to_owned();
        if message.is_empty() {
            return Ok(branch("failure", json!({ "error": "there is no message to answer" })));
        }
        let keywords: Vec<String> = match &inputs["handover_keywords"] {
            Value::Null => Vec::new(),
            Value::Array(list) if list.len() <= MAX_KEYWORDS => list
                .iter()
                .map(|k| k.as_str().map(|s| s.trim().to_lowercase()).ok_or("handover_keywords: must be texts"))
                .collect::<Result<_, _>>()?,
            _ => return Err(format!("handover_keywords: a list of at most {MAX_KEYWORDS} texts")),
        };
        if mentions_any(&message, &keywords) {
            return Ok(branch("handover", json!({ "ai_reply": null })));
        }
        let may_hand_over = inputs["handover"].as_bool().unwrap_or(true);
        let request = completion_request(&inputs, &message, may_hand_over)?;
        let base: String = host::config("base_url").ok_or("the plugin's config has no base_url")?;
        let url = format!("{}/chat/completions", base.trim_end_matches('/'));
        let mut headers = Vec::new();
        let key = host::secret("api_key").unwrap_or_default();
        let bearer = format!("Bearer {key}");
        if !key.is_empty() {
            headers.push(("authorization", bearer.as_str()));
        }
        let answer = match host::post_json(&url, &request, &headers) {
            Ok(answer) => answer,
            Err(e) => return Ok(branch("failure", json!({ "error": format!("the model cannot be reached: {e:?}") }))),
        };
        let body: Value = serde_json::from_slice(&answer.body).unwrap_or_default();
        if !(200..300).contains(&answer.status) {
            let why = body["error"]["message"].as_str().unwrap_or("no reason given");
            return Ok(branch("failure", json!({ "error": format!("the model answered {}: {why}", answer.status) })));
        }
        let Some(reply) = body["choices"][0]["message"]["content"].as_str().map(str::trim) else {
            return Ok(branch("failure", json!({ "error": "the model's answer has no choices[0].message.content" })));
        };
        if reply.is_empty() {
            return Ok(branch("failure", json!({ "error": "the model's answer is empty" })));
        }
        if may_hand_over && reply.trim_matches(|c: char| !c.is_alphanumeric()) == HANDOVER {
            return Ok(branch("handover", json!({ "ai_reply": null })));
        }
        Ok(outputs(json!({ "ai_reply": reply, "$reply": reply })))
    }
}

fn branch(name: &str, outputs: Value) -> StepResult {
    StepResult { outputs: outputs.to_string(), branch: name.into() }
}

/// The chat-completions body: the instructions as the system message, the contact's message as the user's.
fn completion_request(inputs: &Value, message: &str, may_hand_over: bool) -> Result<Value, String> {
    let model: String = host::config("model").ok_or("the plugin's config has no model")?;
    let mut system =
        inputs["instructions"].as_str().unwrap_or("You are a helpful customer-support assistant.").to_owned();
    if may_hand_over {
        system.push_str(&format!(
            "\n\nIf you cannot help, or the customer asks for a person, answer only the word {HANDOVER}."
        ));
    }
    let mut request = json!({
        "model": model,
        "messages": [
            { "role": "system", "content": system },
            { "role": "user", "content": message },
        ],
    });
    if let Some(n) = inputs.get("max_tokens").filter(|v| !v.is_null()) {
        request["max_tokens"] = json!(n.as_u64().filter(|n| (1..=4096).contains(n)).ok_or("max_tokens: 1 to 4096")?);
    }
    if let Some(t) = inputs.get("temperature").filter(|v| !v.is_null()) {
        request["temperature"] = json!(t.as_f64().filter(|t| (0.0..=2.0).contains(t)).ok_or("temperature: 0 to 2")?);
    }
    Ok(request)
}

/// Whether the message holds one of the keywords as a word of its own (case-insensitive).
fn mentions_any(message: &str, keywords: &[String]) -> bool {
    let words: Vec<String> =
        message.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect();
    keywords.iter().filter(|k| !k.is_empty()).any(|k| {
        let parts: Vec<&str> = k.split_whitespace().collect();
        words.windows(parts.len().max(1)).any(|w| w.iter().map(String::as_str).eq(parts.iter().copied()))
    })
}

switchboard_plugin_sdk::register_step!(AiReply);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_match_whole_words_in_any_case() {
        let k = vec!["human".to_owned(), "real person".to_owned()];
        assert!(mentions_any("I want a HUMAN please", &k));
        assert!(mentions_any("a real person, now!", &k));
        assert!(!mentions_any("humanity is great", &k));
        assert!(!mentions_any("a person", &k));
        assert!(!mentions_any("anything", &[]));
    }
}
