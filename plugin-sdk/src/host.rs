//! Typed helpers over the host imports: logging, key-value storage, configuration and secrets, HTTP and mail
//! through the host, and the clock.

pub use crate::bindings::host::switchboard::plugin::http::{HttpError, OutgoingRequest};
pub use crate::bindings::host::switchboard::plugin::log::Level;
pub use crate::bindings::host::switchboard::plugin::types::{HttpRequest, HttpResponse};
use crate::bindings::host::switchboard::plugin::{clock, config, http, kv, log as hostlog};

/// Writes a structured log line attributed to this plugin.
pub fn log(level: Level, message: &str, fields: &[(&str, &str)]) {
    let fields: Vec<(String, String)> = fields.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    hostlog::log(level, message, &fields);
}

/// A value of this plugin's configuration, parsed from JSON.
pub fn config<T: serde::de::DeserializeOwned>(key: &str) -> Option<T> {
    config::get(key).and_then(|raw| serde_json::from_str(&raw).ok())
}

/// A setting given as text (or a number), trimmed; `None` when it is missing or empty.
pub fn setting(key: &str) -> Option<String> {
    match config::<serde_json::Value>(key)? {
        serde_json::Value::String(s) => Some(s.trim().to_owned()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
    .filter(|s| !s.is_empty())
}

/// A secret the manifest declares and the admin set.
pub fn secret(name: &str) -> Option<String> {
    config::secret(name)
}

/// Plugin-scoped storage.
pub mod store {
    use super::kv;

    pub fn get(key: &str) -> Result<Option<Vec<u8>>, String> {
        kv::get(key)
    }
    pub fn set(key: &str, value: &[u8]) -> Result<(), String> {
        kv::set(key, value)
    }
    pub fn delete(key: &str) -> Result<(), String> {
        kv::delete(key)
    }

    /// Keeps `value` with the time it was stored, for [`get_fresh`]: tokens and ids a provider accepts for a
    /// while (a reply token, a comment open to a private reply).
    pub fn set_stamped(key: &str, value: &str) -> Result<(), String> {
        let stamped = serde_json::json!({ "value": value, "at": super::now_ms() });
        set(key, stamped.to_string().as_bytes())
    }

    /// A value kept by [`set_stamped`] less than `max_age_ms` ago.
    pub fn get_fresh(key: &str, max_age_ms: i64) -> Option<String> {
        let stored: serde_json::Value = serde_json::from_slice(&get(key).ok().flatten()?).ok()?;
        let fresh = stored["at"].as_i64().is_some_and(|at| super::now_ms() - at < max_age_ms);
        stored["value"].as_str().filter(|_| fresh).map(str::to_owned)
    }
}

/// Milliseconds since the Unix epoch, as the host sees it.
pub fn now_ms() -> i64 {
    clock::now_ms()
}

/// Sends an HTTP request through the host (which enforces the grants).
pub fn fetch(request: &OutgoingRequest) -> Result<HttpResponse, HttpError> {
    http::fetch(request)
}

/// A `POST` of a JSON body with extra headers.
pub fn post_json(url: &str, body: &serde_json::Value, headers: &[(&str, &str)]) -> Result<HttpResponse, HttpError> {
    let mut all = vec![("content-type".to_owned(), "application/json".to_owned())];
    all.extend(headers.iter().map(|(k, v)| ((*k).to_lowercase(), (*v).to_owned())));
    fetch(&OutgoingRequest {
        method: "POST".into(),
        url: url.into(),
        headers: all,
        body: serde_json::to_vec(body).unwrap_or_default(),
        timeout_ms: None,
    })
}

impl HttpRequest {
    /// The first value of a header (names are lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str())
    }

    /// The first value of a query parameter (not percent-decoded).
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query.split('&').filter_map(|p| p.split_once('=')).find(|(k, _)| *k == name).map(|(_, v)| v)
    }

    /// The first value of a query parameter, percent-decoded.
    pub fn query_value(&self, name: &str) -> Option<String> {
        crate::form::value(&self.query, name)
    }

    /// The body's `name=value` pairs when it is a form (`application/x-www-form-urlencoded`), decoded, in order.
    pub fn form(&self) -> Vec<(String, String)> {
        crate::form::pairs(&String::from_utf8_lossy(&self.body))
    }
}

impl OutgoingRequest {
    /// A `GET` of `url`, without headers, with the host's default timeout.
    pub fn get(url: impl Into<String>) -> Self {
        Self { method: "GET".into(), url: url.into(), headers: Vec::new(), body: Vec::new(), timeout_ms: None }
    }

    /// The same request with one more header (the name lower-cased).
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }
}

impl HttpResponse {
    /// A response with a status and a text body.
    pub fn text(status: u16, body: &str) -> Self {
        Self { status, headers: vec![("content-type".into(), "text/plain".into())], body: body.as_bytes().to_vec() }
    }

    /// A `200 OK` with an empty body.
    pub fn ok() -> Self {
        Self { status: 200, headers: Vec::new(), body: Vec::new() }
    }
}

/// Mail through the host (since interface 1.1.0; the manifest declares `mail = true` and the server's host
/// must be granted): SMTP to send, IMAP to read.
pub mod mail {
    use crate::bindings::host::switchboard::plugin::mail as hostmail;
    pub use crate::bindings::host::switchboard::plugin::mail::{FetchResult, Fetched, MailError, Security, Server};

    /// Sends one RFC 5322 message (CRLF line endings) from the envelope sender `from` to `recipients`.
    pub fn send(server: &Server, from: &str, recipients: &[String], message: &[u8]) -> Result<(), MailError> {
        hostmail::send(server, from, recipients, message)
    }

    /// Messages of `mailbox` with a UID above `after_uid`, lowest first, at most `limit`; not marked read.
    pub fn fetch(server: &Server, mailbox: &str, after_uid: u32, limit: u32) -> Result<FetchResult, MailError> {
        hostmail::fetch(server, mailbox, after_uid, limit)
    }

    /// Adds `message` to `mailbox`, marked read (a copy of a sent reply in `Sent`).
    pub fn append(server: &Server, mailbox: &str, message: &[u8]) -> Result<(), MailError> {
        hostmail::append(server, mailbox, message)
    }

    impl Security {
        /// `tls` or `starttls` as a setting spells it (case-insensitive); `None` for anything else.
        pub fn parse(text: &str) -> Option<Self> {
            match text.trim().to_ascii_lowercase().as_str() {
                "tls" | "ssl" => Some(Self::Tls),
                "starttls" => Some(Self::Starttls),
                _ => None,
            }
        }
    }
}
