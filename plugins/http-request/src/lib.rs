//! The HTTP request workflow step: sends one request built from the step's inputs (the engine has already
//! put the run's variables into them) and maps values of a JSON answer into workflow variables.
//! A 2xx answer takes the `default` branch; any other status, a refused host or a network error takes
//! `failure`, with `status` and `error` as outputs so the workflow can tell what happened.

mod json_path;

use serde::Deserialize;
use serde_json::{Map, Value, json};
use switchboard_plugin_sdk::host::{self, HttpError, OutgoingRequest};
use switchboard_plugin_sdk::step::*;

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];
const MAX_HEADERS: usize = 10;
const MAX_MAPPINGS: usize = 10;

/// The step's inputs, as the workflow definition holds them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Inputs {
    #[serde(default = "get")]
    method: String,
    url: String,
    #[serde(default)]
    headers: Vec<Header>,
    /// Sent as is; `content-type: application/json` is added when it parses as JSON and no header names one.
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    mappings: Vec<Mapping>,
    #[serde(default)]
    timeout_ms: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    name: String,
    value: String,
}

/// `$.data.items[0].id` from the answer into `$variables.NAME`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Mapping {
    path: String,
    variable: String,
}

fn get() -> String {
    "GET".into()
}

struct HttpRequestStep;

impl Step for HttpRequestStep {
    fn describe() -> StepInfo {
        StepInfo {
            id: "http-request".into(),
            name: "HTTP request".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            inputs_schema: json!({
                "type": "object",
                "required": ["url"],
                "properties": {
                    "method": { "type": "string", "enum": METHODS, "default": "GET" },
                    "url": { "type": "string", "description": "https:// or http:// URL; variables allowed" },
                    "headers": {
                        "type": "array", "maxItems": MAX_HEADERS,
                        "items": { "type": "object", "required": ["name", "value"],
                                   "properties": { "name": { "type": "string" }, "value": { "type": "string" } } }
                    },
                    "body": { "type": "string", "description": "the request body; variables allowed" },
                    "mappings": {
                        "type": "array", "maxItems": MAX_MAPPINGS,
                        "items": { "type": "object", "required": ["path", "variable"],
                                   "properties": { "path": { "type": "string", "description": "JSON path into the answer, e.g. $.data.id" },
                                                   "variable": { "type": "string" } } }
                    },
                    "timeout_ms": { "type": "integer", "minimum": 1, "maximum": 15000 }
                }
            })
            .to_string(),
            outputs: vec!["status".into(), "body".into(), "error".into()],
            branches: vec!["failure".into()],
        }
    }

    fn run(_context: Value, inputs: Value) -> Result<StepResult, String> {
        let inputs: Inputs = serde_json::from_value(inputs).map_err(|e| format!("inputs: {e}"))?;
        let request = request(&inputs)?;
        let answer = match host::fetch(&request) {
            Ok(answer) => answer,
            Err(e) => return Ok(failure(None, describe(&e))),
        };
        let text = String::from_utf8_lossy(&answer.body).into_owned();
        if !(200..300).contains(&answer.status) {
            let mut result = failure(Some(answer.status), format!("the server answered {}", answer.status));
            let mut outputs: Map<String, Value> = serde_json::from_str(&result.outputs).unwrap_or_default();
            outputs.insert("body".into(), Value::String(truncate(&text, 2000)));
            result.outputs = Value::Object(outputs).to_string();
            return Ok(result);
        }
        let mut outputs = Map::new();
        outputs.insert("status".into(), json!(answer.status));
        outputs.insert("body".into(), Value::String(truncate(&text, 2000)));
        if !inputs.mappings.is_empty() {
            let Ok(document) = serde_json::from_str::<Value>(&text) else {
                return Ok(failure(Some(answer.status), "the answer is not JSON, so nothing can be mapped".into()));
            };
            for m in &inputs.mappings {
                // A path that finds nothing leaves the variable unset, as respond.io does.
                if let Some(found) =
                    json_path::find(&document, &m.path).map_err(|e| format!("mappings: `{}`: {e}", m.path))?
                {
                    outputs.insert(m.variable.clone(), found.clone());
                }
            }
        }
        Ok(outputs_result(outputs))
    }
}

fn outputs_result(outputs: Map<String, Value>) -> StepResult {
    switchboard_plugin_sdk::step::outputs(Value::Object(outputs))
}

fn failure(status: Option<u16>, error: String) -> StepResult {
    StepResult { outputs: json!({ "status": status, "error": error }).to_string(), branch: "failure".into() }
}

/// Checks the inputs and builds the request; a mistake in the step's configuration is an error of the step.
fn request(inputs: &Inputs) -> Result<OutgoingRequest, String> {
    let method = inputs.method.to_ascii_uppercase();
    if !METHODS.contains(&method.as_str()) {
        return Err(format!("method: `{}` is not one of {}", inputs.method, METHODS.join(", ")));
    }
    let url = inputs.url.trim();
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(format!("url: `{url}` must start with https:// or http://"));
    }
    if inputs.headers.len() > MAX_HEADERS {
        return Err(format!("headers: at most {MAX_HEADERS}"));
    }
    if inputs.mappings.len() > MAX_MAPPINGS {
        return Err(format!("mappings: at most {MAX_MAPPINGS}"));
    }
    let mut headers = Vec::with_capacity(inputs.headers.len() + 1);
    for (i, h) in inputs.headers.iter().enumerate() {
        let name = h.name.trim().to_ascii_lowercase();
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b)) {
            return Err(format!("headers[{i}].name: `{}` is not a header name", h.name));
        }
        if h.value.contains(['\r', '\n']) {
            return Err(format!("headers[{i}].value: must be one line"));
        }
        headers.push((name, h.value.clone()));
    }
    let body = inputs.body.clone().unwrap_or_default();
    if !body.is_empty()
        && !headers.iter().any(|(n, _)| n == "content-type")
        && serde_json::from_str::<Value>(&body).is_ok()
    {
        headers.push(("content-type".into(), "application/json".into()));
    }
    Ok(OutgoingRequest { method, url: url.to_owned(), headers, body: body.into_bytes(), timeout_ms: inputs.timeout_ms })
}

fn describe(e: &HttpError) -> String {
    match e {
        HttpError::Denied(why) => format!("refused: {why}"),
        HttpError::InvalidRequest(why) => format!("invalid request: {why}"),
        HttpError::Timeout => "the server did not answer in time".into(),
        HttpError::Connection(why) => format!("cannot connect: {why}"),
        HttpError::TooLarge => "the answer is too large".into(),
        HttpError::Limited(why) => format!("too many requests: {why}"),
    }
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => text[..i].to_owned(),
        None => text.to_owned(),
    }
}

switchboard_plugin_sdk::register_step!(HttpRequestStep);

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(v: Value) -> Inputs {
        serde_json::from_value(v).expect("inputs")
    }

    #[test]
    fn builds_the_request_with_json_content_type() {
        let r = request(&inputs(json!({
            "method": "post", "url": " https://api.test/x ", "body": "{\"a\":1}",
            "headers": [{ "name": "X-Key", "value": "k" }]
        })))
        .expect("a request");
        assert_eq!(r.method, "POST");
        assert_eq!(r.url, "https://api.test/x");
        assert_eq!(r.headers, vec![("x-key".into(), "k".into()), ("content-type".into(), "application/json".into())]);
    }

    #[test]
    fn refuses_what_cannot_be_sent() {
        let err = |v: Value| request(&inputs(v)).expect_err("refused");
        assert!(err(json!({ "url": "ftp://x" })).starts_with("url:"));
        assert!(err(json!({ "url": "https://x", "method": "TRACE" })).starts_with("method:"));
        assert!(
            err(json!({ "url": "https://x", "headers": [{ "name": "a b", "value": "" }] }))
                .starts_with("headers[0].name")
        );
        assert!(
            err(json!({ "url": "https://x", "headers": [{ "name": "a", "value": "x\r\nb: c" }] }))
                .starts_with("headers[0].value")
        );
        let eleven: Vec<Value> = (0..11).map(|i| json!({ "name": format!("h{i}"), "value": "" })).collect();
        assert!(err(json!({ "url": "https://x", "headers": eleven })).starts_with("headers: at most"));
    }
}
