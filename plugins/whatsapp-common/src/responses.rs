//! The API's answers: the id of a sent message, what an error means for retrying, a page of message
//! templates, and where a media item can be downloaded.

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::wire::GraphError;

#[derive(Deserialize)]
struct SendResponse {
    #[serde(default)]
    messages: Vec<SentMessage>,
}

#[derive(Deserialize)]
struct SentMessage {
    id: String,
}

/// The provider's id of the message just sent (`messages[0].id`).
pub fn parse_send_response(body: &[u8]) -> Result<String, String> {
    let answer: SendResponse =
        serde_json::from_slice(body).map_err(|e| format!("unreadable answer from WhatsApp: {e}"))?;
    answer
        .messages
        .into_iter()
        .next()
        .map(|m| m.id)
        .filter(|id| !id.is_empty())
        .ok_or_else(|| "WhatsApp's answer has no message id".to_owned())
}

/// What a failed call means for the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// Worth retrying later.
    Transient,
    /// Will never succeed as it is.
    Permanent,
    /// The 24-hour customer service window is closed: only a template can reach the contact now.
    WindowClosed,
    /// The access token is wrong, expired or lacks a permission.
    BadCredentials,
}

/// A classified error answer, with the provider's explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: FailureKind,
    pub reason: String,
}

#[derive(Deserialize)]
struct ErrorAnswer {
    error: GraphError,
}

/// Graph's "invalid or expired access token".
const TOKEN_INVALID: i64 = 190;
/// Re-engagement: more than 24 hours since the contact last wrote (470 is its older number).
const WINDOW_CLOSED: [i64; 2] = [131_047, 470];
/// Codes Meta documents as temporary (service hiccups and rate limits), whatever the HTTP status.
const TEMPORARY: [i64; 8] = [1, 2, 4, 80_007, 130_429, 131_000, 131_016, 131_056];

/// Classifies a non-2xx answer of the Graph API from its status and error body.
pub fn classify_failure(status: u16, body: &[u8]) -> Failure {
    let error = serde_json::from_slice::<ErrorAnswer>(body).map(|a| a.error).unwrap_or_default();
    let reason = error.describe().unwrap_or_else(|| format!("WhatsApp answered HTTP {status}"));
    let kind = match error.code {
        _ if matches!(status, 401 | 403) => FailureKind::BadCredentials,
        Some(TOKEN_INVALID) => FailureKind::BadCredentials,
        Some(code) if WINDOW_CLOSED.contains(&code) => FailureKind::WindowClosed,
        Some(code) if TEMPORARY.contains(&code) => FailureKind::Transient,
        _ if status == 429 || status >= 500 => FailureKind::Transient,
        _ => FailureKind::Permanent,
    };
    Failure { kind, reason }
}

#[derive(Deserialize)]
struct TemplateList {
    /// Meta's `data`; 360dialog's `GET /v1/configs/templates` names the same list `waba_templates`.
    #[serde(default, alias = "waba_templates")]
    data: Vec<Template>,
    #[serde(default)]
    paging: Option<Paging>,
}

#[derive(Deserialize)]
struct Paging {
    #[serde(default)]
    next: Option<String>,
}

/// One template as the API lists it and as the server stores it (the same fields, category and status
/// in lower case).
#[derive(Deserialize, Serialize)]
struct Template {
    name: String,
    language: String,
    category: String,
    status: String,
    #[serde(default)]
    components: Vec<Json>,
}

/// One page of `GET /{waba-id}/message_templates`.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplatePage {
    /// `{"name", "language", "category", "status", "components"}` each.
    pub templates: Vec<Json>,
    /// The URL of the next page, if there is one.
    pub next: Option<String>,
}

/// Parses one page of the business account's message templates.
pub fn parse_templates(body: &[u8]) -> Result<TemplatePage, String> {
    let list: TemplateList =
        serde_json::from_slice(body).map_err(|e| format!("unreadable template list from WhatsApp: {e}"))?;
    let templates = list
        .data
        .into_iter()
        .map(|t| {
            let t = Template { category: t.category.to_lowercase(), status: t.status.to_lowercase(), ..t };
            serde_json::to_value(t).map_err(|e| e.to_string())
        })
        .collect::<Result<_, _>>()?;
    let next = list.paging.and_then(|p| p.next).filter(|n| !n.is_empty());
    Ok(TemplatePage { templates, next })
}

/// Where a media item can be fetched, from `GET /{media-id}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct MediaLocation {
    /// A short-lived URL that needs the same credentials as the API.
    pub url: String,
    #[serde(default)]
    pub mime_type: Option<String>,
}

/// Parses the answer of `GET /{media-id}`.
pub fn parse_media(body: &[u8]) -> Result<MediaLocation, String> {
    let media: MediaLocation =
        serde_json::from_slice(body).map_err(|e| format!("unreadable media answer from WhatsApp: {e}"))?;
    if media.url.is_empty() {
        return Err("WhatsApp's media answer has no url".into());
    }
    Ok(media)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn error(code: i64, message: &str) -> Vec<u8> {
        json!({"error": {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "A"}})
            .to_string()
            .into_bytes()
    }

    #[test]
    fn failures_are_classified_by_status_and_code() {
        let kind = |status, body: &[u8]| classify_failure(status, body).kind;
        assert_eq!(kind(401, b""), FailureKind::BadCredentials);
        assert_eq!(kind(403, &error(10, "no permission")), FailureKind::BadCredentials);
        assert_eq!(kind(400, &error(190, "expired")), FailureKind::BadCredentials);
        assert_eq!(kind(400, &error(131_047, "window")), FailureKind::WindowClosed);
        assert_eq!(kind(400, &error(130_429, "throughput")), FailureKind::Transient);
        assert_eq!(kind(429, b"not json"), FailureKind::Transient);
        assert_eq!(kind(503, b""), FailureKind::Transient);
        assert_eq!(kind(400, &error(100, "bad parameter")), FailureKind::Permanent);
        assert_eq!(kind(404, b""), FailureKind::Permanent);
        assert_eq!(classify_failure(502, b"<html>").reason, "WhatsApp answered HTTP 502");
        assert_eq!(classify_failure(400, &error(100, "(#100) Invalid parameter")).reason, "(#100) Invalid parameter");
    }

    #[test]
    fn the_send_answer_gives_the_message_id() {
        assert_eq!(parse_send_response(br#"{"messages": [{"id": "wamid.1"}]}"#), Ok("wamid.1".to_owned()));
        assert_eq!(parse_send_response(br#"{"messages": []}"#), Err("WhatsApp's answer has no message id".to_owned()));
    }

    #[test]
    fn templates_are_listed_in_lower_case_with_the_next_page() {
        let body = json!({
            "data": [{"name": "hello", "language": "en_US", "category": "UTILITY", "status": "APPROVED",
                      "id": "9", "components": [{"type": "BODY", "text": "Hi {{1}}"}]}],
            "paging": {"cursors": {"before": "a", "after": "b"}, "next": "https://graph.test/next"},
        });
        assert_eq!(
            parse_templates(body.to_string().as_bytes()),
            Ok(TemplatePage {
                templates: vec![json!({"name": "hello", "language": "en_US", "category": "utility",
                                       "status": "approved", "components": [{"type": "BODY", "text": "Hi {{1}}"}]})],
                next: Some("https://graph.test/next".into()),
            })
        );
        assert_eq!(parse_templates(br#"{"data": []}"#), Ok(TemplatePage { templates: vec![], next: None }));
        // 360dialog's list: the same templates under another name, paged by offset.
        let d360 = json!({"count": 1, "limit": 100, "offset": 0, "total": 1, "waba_templates": [
            {"name": "hello", "language": "en_US", "category": "UTILITY", "status": "approved", "namespace": "ns",
             "components": [{"type": "BODY", "text": "Hi {{1}}"}]}]});
        let page = parse_templates(d360.to_string().as_bytes()).expect("parsed");
        assert_eq!((page.templates.len(), page.templates[0]["status"].clone()), (1, json!("approved")));
    }

    #[test]
    fn the_media_answer_gives_the_download_url() {
        let body = br#"{"messaging_product": "whatsapp", "url": "https://lookaside.fbsbx.com/x?mid=1",
                        "mime_type": "image/jpeg", "sha256": "s", "file_size": 10, "id": "1"}"#;
        assert_eq!(
            parse_media(body),
            Ok(MediaLocation {
                url: "https://lookaside.fbsbx.com/x?mid=1".into(),
                mime_type: Some("image/jpeg".into())
            })
        );
        assert_eq!(parse_media(br#"{"url": ""}"#), Err("WhatsApp's media answer has no url".to_owned()));
    }
}
