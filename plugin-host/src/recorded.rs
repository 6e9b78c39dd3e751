//! Recorded HTTP for the offline test harness: plugins' requests are answered from canned responses and
//! kept for the test to inspect. Grants are enforced exactly as on the network.

use std::sync::Mutex;

use super::egress::{EgressError, Grants, OutboundRequest, OutboundResponse, is_granted};

/// A canned answer for requests whose method matches and whose URL starts with `url_prefix`.
#[derive(Debug, Clone)]
pub struct RecordedResponse {
    pub method: String,
    pub url_prefix: String,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// A request a plugin made, as the host received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RecordedRequest {
    /// The body parsed as JSON (`Null` if it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_default()
    }

    /// The first header with this name, case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// The answers and the log of one harness.
#[derive(Debug, Default)]
pub struct RecordedHttp {
    responses: Mutex<Vec<RecordedResponse>>,
    requests: Mutex<Vec<RecordedRequest>>,
}

impl RecordedHttp {
    /// Adds an answer; later answers for the same prefix win, so a test can change the provider's mood.
    pub fn add(&self, response: RecordedResponse) {
        if let Ok(mut list) = self.responses.lock() {
            list.insert(0, response);
        }
    }

    /// Every request made so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }

    pub(crate) fn answer(&self, grants: &Grants, req: OutboundRequest) -> Result<OutboundResponse, EgressError> {
        let url = url::Url::parse(&req.url).map_err(|e| EgressError::Invalid(format!("bad URL: {e}")))?;
        if !is_granted(&url, grants) {
            return Err(EgressError::Denied(format!("{} is not granted to this plugin", url.host_str().unwrap_or(""))));
        }
        let method = req.method.to_ascii_uppercase();
        if let Ok(mut log) = self.requests.lock() {
            log.push(RecordedRequest {
                method: method.clone(),
                url: req.url.clone(),
                headers: req.headers.clone(),
                body: req.body.clone(),
            });
        }
        let list = self.responses.lock().map_err(|_| EgressError::Connection("harness lock poisoned".into()))?;
        let found = list.iter().find(|r| r.method.eq_ignore_ascii_case(&method) && req.url.starts_with(&r.url_prefix));
        match found {
            Some(r) => Ok(OutboundResponse { status: r.status, headers: r.headers.clone(), body: r.body.clone() }),
            None => Err(EgressError::Connection(format!("no recorded response for {method} {}", req.url))),
        }
    }
}
