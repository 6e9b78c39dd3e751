//! Small pieces of the wire format that several payloads share: numbers sent as strings, and Meta's
//! error object (the same in failed statuses and in error answers).

use serde::Deserialize;

/// A number WhatsApp may send as a JSON string (timestamps, template button indexes) or as a number.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum Number {
    Text(String),
    Int(i64),
}

impl Number {
    pub(crate) fn value(&self) -> Result<i64, String> {
        match self {
            Number::Int(n) => Ok(*n),
            Number::Text(s) => s.trim().parse().map_err(|_| format!("`{s}` is not a number")),
        }
    }

    /// Seconds since the epoch, as milliseconds.
    pub(crate) fn millis(&self) -> Result<i64, String> {
        self.value()?.checked_mul(1000).ok_or_else(|| "timestamp out of range".to_owned())
    }
}

/// Meta's error object: `{"code", "title", "message", "error_data": {"details"}}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct GraphError {
    #[serde(default)]
    pub code: Option<i64>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub error_data: Option<ErrorData>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct ErrorData {
    #[serde(default)]
    pub details: Option<String>,
}

impl GraphError {
    /// The message (or title), followed by the details when they say more: the details are where Meta
    /// explains what to do, the message alone is often just the error's name.
    pub(crate) fn describe(&self) -> Option<String> {
        let head = self.message.as_deref().or(self.title.as_deref()).filter(|s| !s.trim().is_empty());
        let details = self.error_data.as_ref().and_then(|d| d.details.as_deref()).filter(|s| !s.trim().is_empty());
        match (head, details) {
            (Some(h), Some(d)) if h != d => Some(format!("{h}: {d}")),
            (Some(h), _) => Some(h.to_owned()),
            (None, d) => d.map(str::to_owned),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_come_as_strings_or_numbers() {
        let parsed: Vec<Number> = serde_json::from_str(r#"["1697043223", 1697043223, "x"]"#).expect("parse");
        assert_eq!(parsed[0].millis(), Ok(1_697_043_223_000));
        assert_eq!(parsed[1].millis(), Ok(1_697_043_223_000));
        assert_eq!(parsed[2].millis(), Err("`x` is not a number".to_owned()));
    }

    #[test]
    fn an_error_is_described_by_its_message_and_details() {
        let e: GraphError = serde_json::from_str(
            r#"{"code": 131030, "message": "(#131030) Recipient not in allowed list",
                "error_data": {"details": "Add the number to the list"}}"#,
        )
        .expect("parse");
        assert_eq!(
            e.describe().as_deref(),
            Some("(#131030) Recipient not in allowed list: Add the number to the list")
        );
        let same: GraphError =
            serde_json::from_str(r#"{"title": "T", "message": "T", "error_data": {"details": "T"}}"#).expect("parse");
        assert_eq!(same.describe().as_deref(), Some("T"));
        assert_eq!(GraphError::default().describe(), None);
    }
}
