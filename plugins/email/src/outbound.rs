//! A reply as an RFC 5322 message: in the contact's thread (`Re:` subject, `In-Reply-To`, `References`),
//! the last thing the contact wrote quoted under it, plain text with an HTML alternative; sent over SMTP
//! and copied to the sent mailbox.

use mail_builder::MessageBuilder;
use serde_json::Value;
use switchboard_plugin_sdk::channel::{OutboundMessage, SendError};
use switchboard_plugin_sdk::host::{self, Level, mail};
use switchboard_plugin_sdk::verify::{base64_decode, sha256_hex};

use crate::settings::{self, Settings, domain_of};
use crate::text::{escape_html, paragraphs, quote, reply_subject};
use crate::thread::{self, Thread};

/// How many of the thread's ids go in `References`.
const REFERENCES: usize = 10;

/// What the agent wrote, as the mail carries it.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub text: String,
    pub subject: Option<String>,
    pub attachment: Option<Attachment>,
}

/// A file the reply carries.
#[derive(Debug, Clone, PartialEq)]
pub struct Attachment {
    pub content_type: String,
    pub filename: String,
    pub bytes: Vec<u8>,
}

/// The reply a message's content makes. A file the server handed over with its bytes (`data`: the
/// manifest's `inline_media`, files up to 2.5 MB) is attached; a bigger one goes as its link.
pub fn reply_of(content: &Value) -> Result<Reply, SendError> {
    let field = |name: &str| content[name].as_str().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
    match content["type"].as_str().unwrap_or_default() {
        "text" => {
            let text = field("text").ok_or_else(|| SendError::Permanent("the message has no `text`".into()))?;
            Ok(Reply { text, subject: field("subject"), attachment: None })
        }
        "media" if content["data"].is_string() => {
            let bytes = base64_decode(content["data"].as_str().unwrap_or_default())
                .map_err(|e| SendError::Permanent(format!("the file's data is not base64: {e}")))?;
            let filename = field("filename").unwrap_or_else(|| default_filename(content));
            let content_type = field("mime_type").unwrap_or_else(|| "application/octet-stream".into());
            let text = field("caption").unwrap_or_else(|| filename.clone());
            Ok(Reply { text, subject: None, attachment: Some(Attachment { content_type, filename, bytes }) })
        }
        "media" => {
            let url = field("url").ok_or_else(|| SendError::Permanent("the file has no `url`".into()))?;
            let link = match field("filename") {
                Some(name) => format!("{name}: {url}"),
                None => url,
            };
            let text = match field("caption") {
                Some(caption) => format!("{caption}\n\n{link}"),
                None => link,
            };
            Ok(Reply { text, subject: None, attachment: None })
        }
        _ => Err(SendError::Permanent("e-mail sends text and files only".into())),
    }
}

/// A name for a file that came without one: `image.jpg`, `document.pdf`… from its kind and type.
fn default_filename(content: &Value) -> String {
    let kind = content["kind"].as_str().filter(|k| !k.is_empty()).unwrap_or("file");
    let subtype = content["mime_type"].as_str().and_then(|m| m.split_once('/')).map(|(_, s)| s);
    let extension = match subtype {
        Some("jpeg") => "jpg",
        Some(s) if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric()) => s,
        _ => "bin",
    };
    format!("{kind}.{extension}")
}

pub fn send(message: &OutboundMessage) -> Result<String, SendError> {
    let settings = Settings::load()?;
    let to = message.to.trim().to_lowercase();
    if domain_of(&to).is_none() {
        return Err(SendError::Permanent(format!("`{to}` is not an e-mail address")));
    }
    let reply = reply_of(&message.content)?;
    let password =
        settings::password().ok_or_else(|| SendError::BadCredentials("the `password` secret is not set".into()))?;
    let thread = thread::load(&to);
    let id = message_id(&message.reference, &settings, &to, &reply.text);
    let subject = match (&reply.subject, thread.subject.is_empty()) {
        (Some(own), _) => own.clone(),
        (None, false) => reply_subject(&thread.subject),
        (None, true) => settings.default_subject.clone(),
    };
    let raw = compose(&settings, &to, &id, &subject, &reply, &thread, host::now_ms().div_euclid(1000))?;

    mail::send(&settings.smtp_server(&password), &settings.address, std::slice::from_ref(&to), &raw)
        .map_err(settings::send_error)?;

    thread::remember_sent(&id);
    thread::remember_message(&id, &to);
    thread::record(&to, &id, Some(&subject), None);
    keep_copy(&settings, &password, &raw);
    Ok(id)
}

/// `sb.<reference>@<our domain>`: the same on every retry of a send, so the contact's client can tell a
/// repeat. Without a reference (an older server) the id comes from the clock and the message.
fn message_id(reference: &str, settings: &Settings, to: &str, text: &str) -> String {
    let reference: String = reference
        .trim()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '_' })
        .collect();
    let local = if reference.is_empty() {
        let now = host::now_ms();
        format!("t{now}.{}", &sha256_hex(format!("{now}\n{to}\n{text}").as_bytes())[..12])
    } else {
        reference
    };
    format!("sb.{local}@{}", settings.domain())
}

fn compose(
    settings: &Settings,
    to: &str,
    id: &str,
    subject: &str,
    reply: &Reply,
    thread: &Thread,
    date_s: i64,
) -> Result<Vec<u8>, SendError> {
    let text = reply.text.as_str();
    let from = match &settings.display_name {
        Some(name) => mail_builder::headers::address::Address::from((name.as_str(), settings.address.as_str())),
        None => settings.address.as_str().into(),
    };
    let mut builder = MessageBuilder::new()
        .from(from)
        .to(to)
        .subject(subject)
        .message_id(id)
        .date(date_s)
        .text_body(plain_body(text, thread))
        .html_body(html_body(text, thread));
    if let Some(file) = &reply.attachment {
        builder = builder.attachment(file.content_type.as_str(), file.filename.as_str(), file.bytes.as_slice());
    }
    if let Some(last) = thread.message_ids.last() {
        let start = thread.message_ids.len().saturating_sub(REFERENCES);
        builder = builder.in_reply_to(last.as_str()).references(thread.message_ids[start..].to_vec());
    }
    builder.write_to_vec().map_err(|e| SendError::Permanent(format!("the message could not be written: {e}")))
}

/// `On <date>, <name> wrote:`, or without the date when the contact's message had none.
fn attribution(thread: &Thread) -> String {
    if thread.last_date.is_empty() {
        format!("{} wrote:", thread.last_from_name)
    } else {
        format!("On {}, {} wrote:", thread.last_date, thread.last_from_name)
    }
}

pub fn plain_body(text: &str, thread: &Thread) -> String {
    if thread.last_text.is_empty() {
        return format!("{text}\n");
    }
    format!("{text}\n\n{}\n{}\n", attribution(thread), quote(&thread.last_text))
}

pub fn html_body(text: &str, thread: &Thread) -> String {
    let mut html = format!("<!DOCTYPE html>\n<html><body>\n{}\n", paragraphs(text));
    if !thread.last_text.is_empty() {
        html.push_str(&format!(
            "<p>{}</p>\n<blockquote type=\"cite\">\n{}\n</blockquote>\n",
            escape_html(&attribution(thread)),
            paragraphs(&thread.last_text)
        ));
    }
    html.push_str("</body></html>\n");
    html
}

/// A copy in the sent mailbox, so the mailbox shows the whole conversation; the reply has gone out
/// already, so a failure here is only logged.
fn keep_copy(settings: &Settings, password: &str, raw: &[u8]) {
    if settings.sent_mailbox.is_empty() {
        return;
    }
    // A channel that only receives through the webhook has no IMAP server to keep copies on.
    let Some(imap) = settings.imap_server(password) else { return };
    if let Err(e) = mail::append(&imap, &settings.sent_mailbox, raw) {
        let why = format!("{e:?}");
        host::log(
            Level::Warn,
            "could not keep a copy of the reply",
            &[("mailbox", &settings.sent_mailbox), ("error", &why)],
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn content_becomes_a_reply() {
        let text = reply_of(&json!({ "type": "text", "text": " Hi ", "subject": "Your order" })).expect("text");
        assert_eq!(text, Reply { text: "Hi".into(), subject: Some("Your order".into()), attachment: None });
        let attached = reply_of(&json!({ "type": "media", "kind": "document", "url": "https://x.test/f",
                                         "mime_type": "application/pdf", "data": "JVBERi0=" }))
        .expect("a file with its bytes");
        assert_eq!(attached.text, "document.pdf", "no caption: the file's name is the text");
        let file = attached.attachment.expect("attached");
        assert_eq!(
            (file.filename.as_str(), file.content_type.as_str(), file.bytes.as_slice()),
            ("document.pdf", "application/pdf", b"%PDF-".as_slice())
        );
        let file = reply_of(
            &json!({ "type": "media", "kind": "document", "url": "https://x.test/f", "filename": "f.pdf", "caption": "Your invoice" }),
        );
        assert_eq!(file.expect("media").text, "Your invoice\n\nf.pdf: https://x.test/f");
        let bare = reply_of(&json!({ "type": "media", "kind": "image", "url": "https://x.test/i" })).expect("media");
        assert_eq!(bare.text, "https://x.test/i");
        assert!(matches!(reply_of(&json!({ "type": "location" })), Err(SendError::Permanent(_))));
        assert!(matches!(reply_of(&json!({ "type": "text", "text": "" })), Err(SendError::Permanent(_))));
    }

    #[test]
    fn bodies_quote_the_last_inbound_text() {
        let thread = Thread {
            last_text: "Six, please.\n\nAnna".into(),
            last_from_name: "Anna".into(),
            last_date: "Mon, 05 Jan 2026 10:15:00 +0100".into(),
            ..Default::default()
        };
        assert_eq!(
            plain_body("Done <3", &thread),
            "Done <3\n\nOn Mon, 05 Jan 2026 10:15:00 +0100, Anna wrote:\n> Six, please.\n>\n> Anna\n"
        );
        let html = html_body("Done <3", &thread);
        assert!(html.contains("<p>Done &lt;3</p>"), "{html}");
        assert!(html.contains("<blockquote type=\"cite\">\n<p>Six, please.</p>\n<p>Anna</p>\n</blockquote>"), "{html}");
        assert_eq!(plain_body("Hello", &Thread::default()), "Hello\n");
    }

    #[test]
    fn a_reply_is_a_threaded_multipart_message() {
        let settings = Settings {
            address: "hello@shop.example".into(),
            display_name: Some("Shop".into()),
            imap: None,
            smtp: crate::settings::Endpoint { host: "smtp.test".into(), port: 465, security: mail::Security::Tls },
            username: "hello@shop.example".into(),
            mailbox: "INBOX".into(),
            sent_mailbox: "Sent".into(),
            default_subject: "Message from Shop".into(),
        };
        let thread = Thread {
            subject: "Café order".into(),
            message_ids: (1..=12).map(|n| format!("m{n}@example.org")).collect(),
            last_text: "Für sechs, bitte.".into(),
            last_from_name: "Anna".into(),
            last_date: "Mon, 05 Jan 2026 10:15:00 +0100".into(),
        };
        let raw = compose(
            &settings,
            "anna@example.org",
            "sb.r1@shop.example",
            "Re: Café order",
            &Reply { text: "Gern – bis morgen!".into(), subject: None, attachment: None },
            &thread,
            1_767_225_600,
        )
        .expect("written");
        assert!(raw.windows(2).all(|w| w[1] != b'\n' || w[0] == b'\r'), "CRLF line endings only");
        let parsed = mail_parser::MessageParser::default().parse(&raw).expect("parses");
        assert_eq!(parsed.subject(), Some("Re: Café order"));
        assert_eq!(parsed.message_id(), Some("sb.r1@shop.example"));
        assert_eq!(parsed.in_reply_to().as_text(), Some("m12@example.org"));
        let references: Vec<&str> =
            parsed.references().as_text_list().unwrap_or_default().iter().map(|r| r.as_ref()).collect();
        assert_eq!(references, (3..=12).map(|n| format!("m{n}@example.org")).collect::<Vec<_>>());
        let from = parsed.from().and_then(|f| f.first()).expect("from");
        assert_eq!((from.name(), from.address()), (Some("Shop"), Some("hello@shop.example")));
        assert_eq!(parsed.date().map(|d| d.to_timestamp()), Some(1_767_225_600));
        assert_eq!(
            parsed.body_text(0).as_deref(),
            Some(
                "Gern – bis morgen!\r\n\r\nOn Mon, 05 Jan 2026 10:15:00 +0100, Anna wrote:\r\n> Für sechs, bitte.\r\n"
            )
        );
        let html = parsed.body_html(0).unwrap_or_default();
        assert!(html.contains("<p>Gern – bis morgen!</p>") && html.contains("<blockquote type=\"cite\">"), "{html}");
    }
}
