//! Recorded HTTP and mail for the offline test harness: plugins' requests are answered from canned
//! responses and recorded mailboxes, and kept for the test to inspect. Grants are enforced exactly as on
//! the network.

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::bindings::channel::switchboard::plugin::mail::{FetchResult, Fetched, MailError, Server};
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

/// A message a plugin sent over SMTP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMail {
    /// The SMTP server it went to.
    pub host: String,
    pub port: u16,
    /// The envelope.
    pub from: String,
    pub recipients: Vec<String>,
    /// The message as the plugin wrote it.
    pub raw: Vec<u8>,
}

/// The answers and the log of one harness.
#[derive(Debug, Default)]
pub struct RecordedHttp {
    responses: Mutex<Vec<RecordedResponse>>,
    requests: Mutex<Vec<RecordedRequest>>,
    /// Mailboxes by name: (UID, message), in UID order; UIDVALIDITY is always 1.
    mailboxes: Mutex<BTreeMap<String, Mailbox>>,
    sent: Mutex<Vec<SentMail>>,
    appended: Mutex<Vec<(String, Vec<u8>)>>,
}

/// A recorded mailbox: (UID, message) in UID order.
type Mailbox = Vec<(u32, Vec<u8>)>;

/// Refuses a mail server that is not granted, as the live host does.
fn check_mail_grant(grants: &Grants, server: &Server) -> Result<(), MailError> {
    let granted =
        url::Url::parse(&format!("https://{}:{}/", server.host, server.port)).is_ok_and(|url| is_granted(&url, grants));
    if granted { Ok(()) } else { Err(MailError::Denied(format!("the mail server {} is not granted", server.host))) }
}

impl RecordedHttp {
    /// Adds an answer; later answers for the same prefix win, so a test can change the provider's mood.
    pub fn add(&self, response: RecordedResponse) {
        if let Ok(mut list) = self.responses.lock() {
            list.insert(0, response);
        }
    }

    /// Puts a message in a recorded mailbox.
    pub fn add_mail(&self, mailbox: &str, uid: u32, raw: Vec<u8>) {
        if let Ok(mut boxes) = self.mailboxes.lock() {
            let list = boxes.entry(mailbox.to_owned()).or_default();
            list.push((uid, raw));
            list.sort_by_key(|(uid, _)| *uid);
        }
    }

    /// The messages of a recorded mailbox (those appended by the plugin included), in UID order.
    pub fn mailbox(&self, mailbox: &str) -> Vec<(u32, Vec<u8>)> {
        self.mailboxes.lock().ok().and_then(|b| b.get(mailbox).cloned()).unwrap_or_default()
    }

    /// Every message appended so far, as (mailbox, message), in order.
    pub fn appended_mail(&self) -> Vec<(String, Vec<u8>)> {
        self.appended.lock().map(|a| a.clone()).unwrap_or_default()
    }

    /// Every message sent so far, in order.
    pub fn sent_mail(&self) -> Vec<SentMail> {
        self.sent.lock().map(|s| s.clone()).unwrap_or_default()
    }

    pub(crate) fn mail_send(
        &self,
        grants: &Grants,
        server: &Server,
        from: &str,
        recipients: &[String],
        raw: &[u8],
    ) -> Result<(), MailError> {
        check_mail_grant(grants, server)?;
        if recipients.is_empty() {
            return Err(MailError::Rejected("no recipients".into()));
        }
        let mail = SentMail {
            host: server.host.clone(),
            port: server.port,
            from: from.to_owned(),
            recipients: recipients.to_vec(),
            raw: raw.to_vec(),
        };
        self.sent.lock().map_err(|_| MailError::Connection("harness lock poisoned".into()))?.push(mail);
        Ok(())
    }

    pub(crate) fn mail_fetch(
        &self,
        grants: &Grants,
        server: &Server,
        mailbox: &str,
        after_uid: u32,
        limit: u32,
    ) -> Result<FetchResult, MailError> {
        check_mail_grant(grants, server)?;
        let boxes = self.mailboxes.lock().map_err(|_| MailError::Connection("harness lock poisoned".into()))?;
        let Some(list) = boxes.get(mailbox) else {
            return Err(MailError::Rejected(format!("Mailbox doesn't exist: {mailbox}")));
        };
        let newer: Vec<&(u32, Vec<u8>)> = list.iter().filter(|(uid, _)| *uid > after_uid).collect();
        let more = newer.len() > limit as usize;
        let messages =
            newer.into_iter().take(limit as usize).map(|(uid, raw)| Fetched { uid: *uid, raw: raw.clone() }).collect();
        Ok(FetchResult { uid_validity: 1, messages, more })
    }

    pub(crate) fn mail_append(
        &self,
        grants: &Grants,
        server: &Server,
        mailbox: &str,
        raw: &[u8],
    ) -> Result<(), MailError> {
        check_mail_grant(grants, server)?;
        if let Ok(mut log) = self.appended.lock() {
            log.push((mailbox.to_owned(), raw.to_vec()));
        }
        let mut boxes = self.mailboxes.lock().map_err(|_| MailError::Connection("harness lock poisoned".into()))?;
        let list = boxes.entry(mailbox.to_owned()).or_default();
        let uid = list.last().map_or(1, |(uid, _)| uid + 1);
        list.push((uid, raw.to_vec()));
        Ok(())
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
