//! What the channel remembers in its key-value storage to keep conversations threaded: which contact each
//! Message-ID belongs to (`mid:`), which ids we sent ourselves (`sent:`, for bounces), and per contact the
//! thread a reply continues (`thread:`).

use serde_json::{Value, json};
use switchboard_plugin_sdk::host::{self, Level};

/// The host refuses longer keys; an id that long gets no record rather than a failed call.
const MAX_KEY_BYTES: usize = 512;
/// The ids a reply's `References` draws from.
const KEPT_IDS: usize = 20;
/// The last inbound text is kept only to quote it under a reply; a long one is cut to stay small.
const KEPT_TEXT_CHARS: usize = 8_000;

/// A contact's thread as the next reply needs it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Thread {
    pub subject: String,
    /// Oldest first.
    pub message_ids: Vec<String>,
    pub last_text: String,
    pub last_from_name: String,
    pub last_date: String,
}

/// The last inbound message of a thread, for the quote under the next reply.
pub struct Inbound<'a> {
    pub text: &'a str,
    pub from_name: &'a str,
    pub date: &'a str,
}

fn key(prefix: &str, id: &str) -> Option<String> {
    let key = format!("{prefix}:{id}");
    (key.len() <= MAX_KEY_BYTES).then_some(key)
}

fn get(key: Option<String>) -> Option<String> {
    let stored = host::store::get(&key?).ok().flatten()?;
    String::from_utf8(stored).ok()
}

/// Threading is a convenience: a write that fails is logged and the message still goes through.
fn set(key: Option<String>, value: &str) {
    let Some(key) = key else { return };
    if let Err(why) = host::store::set(&key, value.as_bytes()) {
        host::log(Level::Warn, "could not store threading state", &[("key", &key), ("error", &why)]);
    }
}

/// The contact a message belongs to, if we saw or sent it.
pub fn contact_of(message_id: &str) -> Option<String> {
    get(key("mid", message_id)).filter(|c| !c.is_empty())
}

pub fn remember_message(message_id: &str, contact: &str) {
    set(key("mid", message_id), contact);
}

pub fn remember_sent(message_id: &str) {
    set(key("sent", message_id), "1");
}

pub fn was_sent(message_id: &str) -> bool {
    get(key("sent", message_id)).is_some()
}

pub fn load(contact: &str) -> Thread {
    let stored: Value = get(key("thread", contact)).and_then(|s| serde_json::from_str(&s).ok()).unwrap_or_default();
    let text = |name: &str| stored[name].as_str().unwrap_or_default().to_owned();
    Thread {
        subject: text("subject"),
        message_ids: stored["message_ids"]
            .as_array()
            .map(|ids| ids.iter().filter_map(|id| id.as_str().map(str::to_owned)).collect())
            .unwrap_or_default(),
        last_text: text("last_text"),
        last_from_name: text("last_from_name"),
        last_date: text("last_date"),
    }
}

/// Adds a message to the contact's thread: its id, its subject when it has one, and, for an inbound
/// message, what the next reply quotes. Our own replies leave the quote alone, so that a second reply
/// still quotes what the contact last wrote.
pub fn record(contact: &str, message_id: &str, subject: Option<&str>, inbound: Option<Inbound<'_>>) {
    let mut thread = load(contact);
    if let Some(subject) = subject.map(str::trim).filter(|s| !s.is_empty()) {
        thread.subject = subject.to_owned();
    }
    // A message fetched again (a poll after a crash) is not a new step of the thread.
    if !thread.message_ids.iter().any(|id| id == message_id) {
        thread.message_ids.push(message_id.to_owned());
    }
    let excess = thread.message_ids.len().saturating_sub(KEPT_IDS);
    thread.message_ids.drain(..excess);
    if let Some(inbound) = inbound {
        thread.last_text = inbound.text.chars().take(KEPT_TEXT_CHARS).collect();
        thread.last_from_name = inbound.from_name.to_owned();
        thread.last_date = inbound.date.to_owned();
    }
    let stored = json!({
        "subject": thread.subject,
        "message_ids": thread.message_ids,
        "last_text": thread.last_text,
        "last_from_name": thread.last_from_name,
        "last_date": thread.last_date,
    });
    set(key("thread", contact), &stored.to_string());
}
