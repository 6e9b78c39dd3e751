//! The channel's settings read and checked once per call: the business mailbox, its IMAP and SMTP servers
//! and the login; and how the host's mail errors become the channel's send and poll errors.

use switchboard_plugin_sdk::channel::SendError;
use switchboard_plugin_sdk::host::{self, mail};
use switchboard_plugin_sdk::poller::PollError;

/// A setting that is missing or wrong, named with its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub String);

impl From<Invalid> for SendError {
    fn from(e: Invalid) -> Self {
        SendError::Permanent(e.0)
    }
}

impl From<Invalid> for PollError {
    fn from(e: Invalid) -> Self {
        PollError::Permanent(e.0)
    }
}

/// Where a mail server is and how its connection is secured; the login is added when a call needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    pub security: mail::Security,
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// The business mailbox, lower-cased: the From of every reply and the envelope sender.
    pub address: String,
    pub display_name: Option<String>,
    /// `None` when the channel only receives through the inbound webhook.
    pub imap: Option<Endpoint>,
    pub smtp: Endpoint,
    pub username: String,
    pub mailbox: String,
    /// Empty: no copies of sent replies are kept.
    pub sent_mailbox: String,
    pub default_subject: String,
}

impl Settings {
    pub fn load() -> Result<Self, Invalid> {
        let address = host::setting("address")
            .map(|a| a.to_lowercase())
            .ok_or_else(|| Invalid("the `address` setting (the business mailbox) is not set".into()))?;
        if domain_of(&address).is_none() {
            return Err(Invalid(format!("the `address` setting `{address}` is not an e-mail address")));
        }
        let display_name = host::setting("display_name");
        let imap = match host::setting("imap_host") {
            Some(host) => Some(endpoint(host, "imap_port", 993, "imap_security", |port| port != 143)?),
            None => None,
        };
        let smtp_host =
            host::setting("smtp_host").ok_or_else(|| Invalid("the `smtp_host` setting is not set".into()))?;
        let smtp = endpoint(smtp_host, "smtp_port", 465, "smtp_security", |port| port == 465)?;
        // An empty `sent_mailbox` is a choice (keep no copies), unlike a missing one, so it is read raw.
        let sent_mailbox = match host::config::<serde_json::Value>("sent_mailbox") {
            Some(serde_json::Value::String(s)) => s.trim().to_owned(),
            _ => "Sent".to_owned(),
        };
        let default_subject = host::setting("default_subject")
            .unwrap_or_else(|| format!("Message from {}", display_name.as_deref().unwrap_or(&address)));
        Ok(Self {
            username: host::setting("username").unwrap_or_else(|| address.clone()),
            mailbox: host::setting("mailbox").unwrap_or_else(|| "INBOX".to_owned()),
            address,
            display_name,
            imap,
            smtp,
            sent_mailbox,
            default_subject,
        })
    }

    /// The part of the address after `@`, which names our Message-IDs.
    pub fn domain(&self) -> &str {
        domain_of(&self.address).unwrap_or("localhost")
    }

    /// The IMAP server with the login, for polling and for copies in the sent mailbox.
    pub fn imap_server(&self, password: &str) -> Option<mail::Server> {
        self.imap.as_ref().map(|e| self.server(e, password))
    }

    pub fn smtp_server(&self, password: &str) -> mail::Server {
        self.server(&self.smtp, password)
    }

    fn server(&self, endpoint: &Endpoint, password: &str) -> mail::Server {
        mail::Server {
            host: endpoint.host.clone(),
            port: endpoint.port,
            security: endpoint.security,
            username: self.username.clone(),
            password: password.to_owned(),
        }
    }
}

/// The `password` secret, or `None` when the admin has not set it.
pub fn password() -> Option<String> {
    host::secret("password").filter(|p| !p.is_empty())
}

pub fn domain_of(address: &str) -> Option<&str> {
    let (local, domain) = address.rsplit_once('@')?;
    (!local.is_empty() && !domain.is_empty() && !domain.contains(char::is_whitespace)).then_some(domain)
}

/// A server from its host setting, its port setting (a number or text) and its security setting; without
/// a security setting, `tls_by_default(port)` chooses between implicit TLS and STARTTLS.
fn endpoint(
    host: String,
    port_key: &str,
    default_port: u16,
    security_key: &str,
    tls_by_default: fn(u16) -> bool,
) -> Result<Endpoint, Invalid> {
    let port = match host::setting(port_key) {
        None => default_port,
        Some(text) => parse_port(&text).ok_or_else(|| Invalid(format!("`{port_key}` is not a port: `{text}`")))?,
    };
    let security = match host::setting(security_key) {
        None if tls_by_default(port) => mail::Security::Tls,
        None => mail::Security::Starttls,
        Some(text) => mail::Security::parse(&text)
            .ok_or_else(|| Invalid(format!("`{security_key}` must be `tls` or `starttls`, not `{text}`")))?,
    };
    Ok(Endpoint { host, port, security })
}

fn parse_port(text: &str) -> Option<u16> {
    text.parse::<u16>().ok().filter(|p| *p != 0)
}

/// A failed SMTP send as the server should treat it.
pub fn send_error(error: mail::MailError) -> SendError {
    use mail::MailError as E;
    match error {
        E::Auth(why) => SendError::BadCredentials(format!("the SMTP server refused the login: {why}")),
        E::Rejected(why) => SendError::Permanent(format!("the SMTP server refused the message: {why}")),
        E::Denied(why) => SendError::Permanent(format!("the SMTP server may not be used: {why}")),
        // A message above the host's cap stays above it.
        E::TooLarge => SendError::Permanent("the message is larger than the host allows".into()),
        E::Temporary(why) => SendError::Transient(format!("the SMTP server refused for now: {why}")),
        E::Connection(why) => SendError::Transient(format!("the SMTP server could not be reached: {why}")),
        E::Timeout => SendError::Transient("the SMTP server did not answer in time".into()),
        E::Limited(why) => SendError::Transient(format!("too many mail connections: {why}")),
    }
}

/// A failed IMAP fetch: wrong settings or credentials wait for the admin, anything else for the next poll.
pub fn poll_error(error: mail::MailError) -> PollError {
    use mail::MailError as E;
    match error {
        E::Auth(why) => PollError::Permanent(format!("the IMAP server refused the login: {why}")),
        E::Denied(why) => PollError::Permanent(format!("the IMAP server may not be used: {why}")),
        E::Rejected(why) => PollError::Permanent(format!("the IMAP server refused: {why}")),
        E::Connection(why) => PollError::Transient(format!("the IMAP server could not be reached: {why}")),
        E::Timeout => PollError::Transient("the IMAP server did not answer in time".into()),
        E::Temporary(why) => PollError::Transient(format!("the IMAP server refused for now: {why}")),
        E::TooLarge => PollError::Transient("the messages were larger than the host allows".into()),
        E::Limited(why) => PollError::Transient(format!("too many mail connections: {why}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_and_domains() {
        assert_eq!(parse_port("587"), Some(587));
        assert_eq!(parse_port("0"), None);
        assert_eq!(parse_port("70000"), None);
        assert_eq!(domain_of("hello@shop.example"), Some("shop.example"));
        assert_eq!(domain_of("hello"), None);
        assert_eq!(domain_of("@shop.example"), None);
    }

    #[test]
    fn mail_errors_are_classified() {
        use mail::MailError as E;
        assert!(matches!(send_error(E::Auth("535".into())), SendError::BadCredentials(_)));
        assert!(matches!(send_error(E::Rejected("550".into())), SendError::Permanent(_)));
        assert!(matches!(send_error(E::Denied("not granted".into())), SendError::Permanent(_)));
        for transient in
            [E::Temporary("451".into()), E::Timeout, E::Connection("refused".into()), E::Limited("4".into())]
        {
            assert!(matches!(send_error(transient), SendError::Transient(_)));
        }
        assert!(matches!(poll_error(E::Auth("no".into())), PollError::Permanent(_)));
        assert!(matches!(poll_error(E::Rejected("no mailbox".into())), PollError::Permanent(_)));
        assert!(matches!(poll_error(E::Timeout), PollError::Transient(_)));
    }
}
