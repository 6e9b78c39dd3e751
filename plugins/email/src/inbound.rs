//! One raw RFC 5322 message turned into events, the same for a poll and for the inbound webhook: the text
//! (without the quoted history, with the subject and the sanitised HTML), then each attachment with its
//! bytes inline; threaded onto the contact of the message it answers; a bounce of our own message becomes
//! its failed status.

use mail_parser::{Message, MessageParser, MimeHeaders, PartType};
use serde_json::{Value, json};
use switchboard_plugin_sdk::channel::{ContactProfile, InboundEvent};
use switchboard_plugin_sdk::host::{self, Level};
use switchboard_plugin_sdk::verify::{base64_encode, sha256_hex};

use crate::report::{self, Report};
use crate::text::{human_size, kind_of, message_ids, split_name, strip_quoted};
use crate::thread;

/// An attachment above this is left in the mailbox rather than copied.
pub const MAX_ATTACHMENT_BYTES: usize = 2 * 1024 * 1024;
/// What one call may return in texts, HTML and inline files (as base64 text): the host caps a call's
/// output at 4 MiB, and the events' JSON needs the rest.
pub const INLINE_BUDGET_BYTES: usize = 3 * 1024 * 1024;
/// A text is cut, and an HTML body left out, above this, so that one message leaves room for the others.
const MAX_BODY_BYTES: usize = 512 * 1024;
/// How many ids of `In-Reply-To` and `References` are looked up to find the thread, newest first.
const MAX_THREAD_LOOKUPS: usize = 10;

/// The output already given out in one poll or webhook call.
#[derive(Debug, Default)]
pub struct Budget {
    used: usize,
}

impl Budget {
    pub fn is_unused(&self) -> bool {
        self.used == 0
    }

    /// Whether `bytes` more fit.
    pub fn fits(&self, bytes: usize) -> bool {
        self.used + bytes <= INLINE_BUDGET_BYTES
    }

    /// Counts text that goes out whatever the budget says.
    fn spend(&mut self, bytes: usize) {
        self.used += bytes;
    }

    /// Counts a file if it fits.
    fn take(&mut self, bytes: usize) -> bool {
        let fits = self.fits(bytes);
        if fits {
            self.used += bytes;
        }
        fits
    }
}

pub fn parse(raw: &[u8]) -> Option<Message<'_>> {
    MessageParser::default().parse(raw)
}

/// About what the message's events will take of the budget, for a poll to stop before a message that
/// does not fit rather than cut its files.
pub fn output_need(message: &Message<'_>) -> usize {
    let files: usize = attachments(message)
        .iter()
        .map(|part| part.contents().len())
        .filter(|&size| size <= MAX_ATTACHMENT_BYTES)
        .map(base64_len)
        .sum();
    let body = |parts: &[u32]| {
        let bytes: usize = parts.iter().filter_map(|&i| message.part(i)).map(|p| p.contents().len()).sum();
        bytes.min(MAX_BODY_BYTES)
    };
    files + body(&message.text_body) + body(&message.html_body)
}

fn base64_len(bytes: usize) -> usize {
    bytes.div_ceil(3) * 4
}

/// The events of one message. `me` is the business address: copies of our own sends give none.
pub fn events(message: &Message<'_>, raw: &[u8], me: &str, budget: &mut Budget) -> Vec<InboundEvent> {
    let Some(sender) = message.from().and_then(|a| a.first()) else {
        host::log(
            Level::Warn,
            "skipped a message without a From address",
            &[("message_id", &message_id(message, raw))],
        );
        return Vec::new();
    };
    let from_address = sender.address().unwrap_or_default().trim().to_lowercase();
    if from_address.is_empty() || from_address == me {
        return Vec::new();
    }
    let from_name = sender.name().map(str::trim).filter(|n| !n.is_empty());
    let timestamp_ms = message.date().map(|d| d.to_timestamp() * 1000);
    match report::classify(message, timestamp_ms) {
        Report::Status(status) => return vec![*status],
        Report::Notice => return Vec::new(),
        Report::NotOurs => {}
    }

    let id = message_id(message, raw);
    let contact = match earlier_contact(message) {
        // Someone else answering in a known thread (a colleague, another address of the same person) joins
        // that conversation; their name is not the contact's, so it is not given.
        Some(known) if known != from_address => {
            ContactProfile { external_id: known.clone(), email: Some(known), ..Default::default() }
        }
        _ => {
            let (first_name, last_name) = from_name.map(split_name).unwrap_or_default();
            ContactProfile {
                external_id: from_address.clone(),
                email: Some(from_address.clone()),
                first_name,
                last_name,
                ..Default::default()
            }
        }
    };
    let subject = message.subject().map(str::trim).filter(|s| !s.is_empty());
    let text = if cut_off(message, raw) { TOO_LARGE_MESSAGE.to_owned() } else { strip_quoted(&body_text(message)) };
    let text = cut(text);
    let html =
        body_html(message).map(|html| sanitise(&html)).filter(|h| !h.trim().is_empty() && h.len() <= MAX_BODY_BYTES);
    budget.spend(text.len() + html.as_ref().map_or(0, String::len));
    let files = attachments(message);

    let mut events = Vec::new();
    // A message that is only files gets no empty text, unless its subject would be lost with it.
    if !text.is_empty() || files.is_empty() || subject.is_some() {
        let mut content = json!({ "type": "text", "text": if text.is_empty() { "(no text)" } else { &text } });
        if let Some(subject) = subject {
            content["subject"] = subject.into();
        }
        if let Some(html) = html {
            content["html"] = html.into();
        }
        events.push(message_event(&contact, id.clone(), timestamp_ms, content));
    }
    for (n, part) in files.iter().enumerate() {
        let n = n + 1;
        let content = file_content(part, n, budget);
        events.push(message_event(&contact, format!("{id}#{n}"), timestamp_ms, content));
    }

    thread::remember_message(&id, &contact.external_id);
    let date = message.date().map(|d| d.to_rfc822()).unwrap_or_default();
    let inbound = thread::Inbound { text: &text, from_name: from_name.unwrap_or(&from_address), date: &date };
    thread::record(&contact.external_id, &id, subject, Some(inbound));
    events
}

fn message_event(contact: &ContactProfile, id: String, timestamp_ms: Option<i64>, content: Value) -> InboundEvent {
    InboundEvent::Message { contact: contact.clone(), provider_message_id: id, timestamp_ms, content }
}

/// `text` within [`MAX_BODY_BYTES`], cut at a character boundary with a note.
fn cut(mut text: String) -> String {
    if text.len() <= MAX_BODY_BYTES {
        return text;
    }
    let mut end = MAX_BODY_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push_str("\n[the rest of this message is too long to copy; it is still in the mailbox]");
    text
}

/// What a message says when the host handed over only its header: the host does that with a message too
/// large to fetch whole.
const TOO_LARGE_MESSAGE: &str = "[this message is too large to copy; it is still in the mailbox]";

/// Whether the message is a header without its body. A multipart message always has a body, so only
/// those are told apart from a message that is empty on purpose.
fn cut_off(message: &Message<'_>, raw: &[u8]) -> bool {
    let root = message.root_part();
    let multipart = root.content_type().is_some_and(|ct| ct.ctype().eq_ignore_ascii_case("multipart"));
    let body = raw.get(root.raw_body_offset() as usize..).unwrap_or_default();
    multipart && body.iter().all(u8::is_ascii_whitespace)
}

/// The Message-ID without brackets; a message without one is named by its content, so that fetching it
/// again gives the same id.
pub fn message_id(message: &Message<'_>, raw: &[u8]) -> String {
    match message.message_id().map(|id| id.trim().trim_matches(['<', '>'])).filter(|id| !id.is_empty()) {
        Some(id) => id.to_owned(),
        None => format!("{}@switchboard", sha256_hex(raw)),
    }
}

/// The contact of the newest message this one answers that we know of.
fn earlier_contact(message: &Message<'_>) -> Option<String> {
    let mut named: Vec<String> = Vec::new();
    for value in [message.header_raw("In-Reply-To"), message.header_raw("References")].into_iter().flatten() {
        // `References` lists the oldest first; the newest is the likeliest to be known.
        named.extend(message_ids(value).into_iter().rev());
    }
    named.dedup();
    named.iter().take(MAX_THREAD_LOOKUPS).find_map(|id| thread::contact_of(id))
}

/// The plain text of the message: its text parts, or its HTML as text when it has none.
fn body_text(message: &Message<'_>) -> String {
    let parts: Vec<String> = message
        .text_bodies()
        .filter_map(|part| match &part.body {
            PartType::Text(text) => Some(text.to_string()),
            PartType::Html(html) => Some(mail_parser::decoders::html::html_to_text(html)),
            _ => None,
        })
        .collect();
    parts.join("\n").trim().to_owned()
}

/// The message's own HTML, if it has any (not the HTML made from a text part).
fn body_html(message: &Message<'_>) -> Option<String> {
    let parts: Vec<&str> = message
        .html_bodies()
        .filter_map(|part| match &part.body {
            PartType::Html(html) => Some(html.as_ref()),
            _ => None,
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join("\n"))
}

/// ammonia's defaults (no scripts, styles, event handlers or `javascript:` links), and no images: a remote
/// image is a read receipt the contact did not ask for, and a `cid:` image arrives as its own event.
pub fn sanitise(html: &str) -> String {
    let mut cleaner = ammonia::Builder::default();
    cleaner.rm_tags(["img"]);
    cleaner.clean(html).to_string()
}

/// The parts that become file events: every attachment, except images shown inside the HTML without a
/// name of their own (signatures, spacers).
fn attachments<'m>(message: &'m Message<'m>) -> Vec<&'m mail_parser::MessagePart<'m>> {
    message
        .attachments()
        .filter(|part| !(matches!(part.body, PartType::InlineBinary(_)) && part.attachment_name().is_none()))
        .collect()
}

fn file_content(part: &mail_parser::MessagePart<'_>, n: usize, budget: &mut Budget) -> Value {
    let mime_type = match part.content_type() {
        Some(ct) => format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or("octet-stream")).to_ascii_lowercase(),
        None => "application/octet-stream".to_owned(),
    };
    let filename = match part.attachment_name().map(str::trim).filter(|n| !n.is_empty()) {
        Some(name) => name.to_owned(),
        None if matches!(part.body, PartType::Message(_)) => format!("message-{n}.eml"),
        None => format!("attachment-{n}"),
    };
    let bytes = part.contents();
    if bytes.len() > MAX_ATTACHMENT_BYTES || !budget.take(base64_len(bytes.len())) {
        let text = format!(
            "[attachment {filename} ({}) too large to copy; it is still in the mailbox]",
            human_size(bytes.len())
        );
        return json!({ "type": "text", "text": text });
    }
    json!({
        "type": "media",
        "kind": kind_of(&mime_type),
        "mime_type": mime_type,
        "filename": filename,
        "data": base64_encode(bytes),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).expect("fixture")
    }

    #[test]
    fn quoted_printable_alternative_gives_text_and_clean_html() {
        let raw = fixture("01-alternative-utf8.eml");
        let message = parse(&raw).expect("parses");
        assert_eq!(message.subject(), Some("Café order – table for four"));
        assert_eq!(
            strip_quoted(&body_text(&message)),
            "Hallo, können wir morgen um 19 Uhr einen Tisch für vier Personen reservieren?\n\nGrüße\nAnna"
        );
        let html = sanitise(&body_html(&message).expect("html"));
        assert_eq!(
            html,
            "<p>Hallo, können wir morgen um 19 Uhr einen Tisch für vier Personen reservieren?</p><p>Grüße<br>Anna</p>"
        );
        assert_eq!(message_id(&message, &raw), "m1.anna@example.org");
        assert!(attachments(&message).is_empty());
    }

    #[test]
    fn html_only_mail_loses_scripts_handlers_and_images() {
        let raw = fixture("04-html-only.eml");
        let message = parse(&raw).expect("parses");
        let html = sanitise(&body_html(&message).expect("html"));
        for banned in ["script", "onclick", "onmouseover", "javascript:", "<img", "<style", "color: red", "alert"] {
            assert!(!html.contains(banned), "{banned} in {html}");
        }
        assert!(
            html.contains("<a href=\"https://example.com/help\" rel=\"noopener noreferrer\">help page</a>"),
            "{html}"
        );
        let text = body_text(&message);
        assert!(text.contains("Please confirm or read") && !text.contains("alert"), "{text}");
        assert_eq!(message_id(&message, &raw), format!("{}@switchboard", sha256_hex(&raw)));
    }

    #[test]
    fn files_become_media_within_the_budget() {
        let raw = fixture("03-attachments.eml");
        let message = parse(&raw).expect("parses");
        let files = attachments(&message);
        assert_eq!(files.len(), 2);
        let mut budget = Budget::default();
        let pdf = file_content(files[0], 1, &mut budget);
        assert_eq!((pdf["kind"].as_str(), pdf["mime_type"].as_str()), (Some("document"), Some("application/pdf")));
        assert_eq!(pdf["filename"], "invoice-march.pdf");
        assert!(pdf["data"].as_str().is_some_and(|d| d.starts_with("JVBERi0xLjQ")), "%PDF-1.4 in base64");
        let png = file_content(files[1], 2, &mut budget);
        assert_eq!((png["kind"].as_str(), png["filename"].as_str()), (Some("image"), Some("logo.png")));
        // The files as base64, and the text counted once as text and once as the HTML made from it.
        let files_need = base64_len(files[0].contents().len()) + base64_len(files[1].contents().len());
        let need = output_need(&message);
        assert!(need > files_need && need < files_need + 1024, "{need} for {files_need} of files");

        let mut spent = Budget { used: INLINE_BUDGET_BYTES - 10 };
        let refused = file_content(files[0], 1, &mut spent);
        assert_eq!(refused["type"], "text");
        let text = refused["text"].as_str().unwrap_or_default();
        assert!(
            text.starts_with("[attachment invoice-march.pdf (")
                && text.ends_with("bytes) too large to copy; it is still in the mailbox]"),
            "{text}"
        );
    }

    #[test]
    fn a_forwarded_message_is_a_file_of_its_own() {
        let raw = "From: a@example.org\r\nSubject: Fwd\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
                   --b\r\nContent-Type: text/plain\r\n\r\nSee below\r\n\
                   --b\r\nContent-Type: message/rfc822\r\n\r\nFrom: c@example.org\r\nSubject: Old\r\n\r\nOld text\r\n\
                   --b--\r\n";
        let message = parse(raw.as_bytes()).expect("parses");
        let files = attachments(&message);
        assert_eq!(files.len(), 1);
        let forwarded = file_content(files[0], 1, &mut Budget::default());
        assert_eq!(
            (forwarded["mime_type"].as_str(), forwarded["filename"].as_str()),
            (Some("message/rfc822"), Some("message-1.eml"))
        );
        let data = forwarded["data"].as_str().unwrap_or_default();
        assert_eq!(data, base64_encode(b"From: c@example.org\r\nSubject: Old\r\n\r\nOld text"));
    }

    #[test]
    fn a_multipart_header_without_its_body_was_cut_off_by_the_host() {
        let header = "From: a@example.org\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n";
        assert!(cut_off(&parse(header.as_bytes()).expect("parses"), header.as_bytes()));
        let empty = "From: a@example.org\r\nContent-Type: text/plain\r\n\r\n";
        assert!(!cut_off(&parse(empty.as_bytes()).expect("parses"), empty.as_bytes()));
        let raw = fixture("03-attachments.eml");
        assert!(!cut_off(&parse(&raw).expect("parses"), &raw));
    }

    #[test]
    fn long_texts_are_cut_at_a_character() {
        let long = "ü".repeat(MAX_BODY_BYTES);
        let kept = cut(long);
        assert!(kept.len() <= MAX_BODY_BYTES + 100 && kept.ends_with("it is still in the mailbox]"));
        assert_eq!(cut("short".into()), "short");
    }
}
