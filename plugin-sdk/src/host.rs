//! Typed helpers over the host imports: logging, key-value storage, configuration and secrets, HTTP
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
