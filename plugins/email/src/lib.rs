//! E-mail channel: the business mailbox read over IMAP by the server's poll (or raw messages POSTed to the
//! inbound webhook by a provider's inbound parse), replies sent over SMTP in the contact's thread. Every
//! mail connection goes through the host's `mail` interface.

mod inbound;
mod outbound;
mod report;
mod settings;
mod text;
mod thread;

use switchboard_plugin_sdk::channel::*;
use switchboard_plugin_sdk::host::{self, mail};
use switchboard_plugin_sdk::poller::{PollError, Polled, Poller};
use switchboard_plugin_sdk::verify::constant_time_eq;

use inbound::Budget;
use settings::Settings;

/// Messages read per poll; more wait for the poll the server makes at once when `more` is set.
const FETCH_LIMIT: u32 = 20;

struct Email;

impl Channel for Email {
    fn describe() -> Info {
        Info {
            id: "email".into(),
            name: "E-mail".into(),
            version: "0.1.0".into(),
            capabilities: Capabilities {
                text: true,
                media: true,
                templates: false,
                interactive: false,
                reactions: false,
                locations: false,
            },
            // Mail has no messaging window.
            window: WindowPolicy { free_form_hours: None, templates_outside: false, tags_outside: false },
        }
    }

    /// The inbound-parse webhook: one raw MIME message as the body (Mailgun's `…/messages.mime` route,
    /// SendGrid's "POST the raw, full MIME message"); parsed forms are not accepted.
    fn handle_webhook(request: HttpRequest) -> Result<(Vec<InboundEvent>, HttpResponse), WebhookError> {
        let Some(token) = host::secret("inbound_token").filter(|t| !t.is_empty()) else {
            return Err(WebhookError::Unauthorized("the inbound webhook is off: set the inbound_token secret".into()));
        };
        let given = given_token(&request).unwrap_or_default();
        if !constant_time_eq(given.as_bytes(), token.as_bytes()) {
            return Err(WebhookError::Unauthorized("bad or missing inbound token".into()));
        }
        if !request.method.eq_ignore_ascii_case("POST") {
            return Err(WebhookError::BadRequest("the inbound webhook takes a POST of the raw message".into()));
        }
        let settings = Settings::load().map_err(|e| WebhookError::BadRequest(e.0))?;
        let message = inbound::parse(&request.body)
            .ok_or_else(|| WebhookError::BadRequest("the body is not an RFC 5322 message".into()))?;
        let events = inbound::events(&message, &request.body, &settings.address, &mut Budget::default());
        Ok((events, HttpResponse::ok()))
    }

    fn send(message: OutboundMessage) -> Result<String, SendError> {
        outbound::send(&message)
    }

    /// Only checks the settings: the mail servers are first reached by the first poll or send.
    fn connect(_webhook_url: String) -> Result<(), SendError> {
        Settings::load()?;
        Ok(())
    }
}

/// The token as `Authorization: Bearer <token>` or `?token=<token>`.
fn given_token(request: &HttpRequest) -> Option<String> {
    let bearer = request.header("authorization").and_then(|value| {
        let (scheme, token) = value.trim().split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_owned())
    });
    bearer.or_else(|| request.query_value("token"))
}

impl Poller for Email {
    /// The cursor is `<uidvalidity>:<last uid>`; a new UIDVALIDITY means the UIDs start over, so the
    /// mailbox is read again from the start and the server drops what it already has by provider id.
    fn poll(cursor: String) -> Result<Polled, PollError> {
        let settings = Settings::load()?;
        let password =
            settings::password().ok_or_else(|| PollError::Permanent("the `password` secret is not set".into()))?;
        let server = settings.imap_server(&password).ok_or_else(|| {
            PollError::Permanent("the `imap_host` setting is not set: this channel only receives by webhook".into())
        })?;
        let (validity, after) = parse_cursor(&cursor);
        let mut fetched = mail::fetch(&server, &settings.mailbox, after, FETCH_LIMIT).map_err(settings::poll_error)?;
        let mut last_uid = after;
        if validity.is_some_and(|v| v != fetched.uid_validity) {
            fetched = mail::fetch(&server, &settings.mailbox, 0, FETCH_LIMIT).map_err(settings::poll_error)?;
            last_uid = 0;
        }

        let mut events = Vec::new();
        let mut budget = Budget::default();
        let mut stopped = false;
        for item in &fetched.messages {
            let Some(message) = inbound::parse(&item.raw) else {
                host::log(
                    host::Level::Warn,
                    "skipped a message that does not parse",
                    &[("uid", &item.uid.to_string())],
                );
                last_uid = item.uid;
                continue;
            };
            // A message that does not fit waits for the next poll with a fresh budget, unless nothing was
            // given out yet: then it goes now, its files beyond the budget named instead of copied.
            if !budget.is_unused() && !budget.fits(inbound::output_need(&message)) {
                stopped = true;
                break;
            }
            events.extend(inbound::events(&message, &item.raw, &settings.address, &mut budget));
            last_uid = item.uid;
        }
        Ok(Polled { events, cursor: format!("{}:{last_uid}", fetched.uid_validity), more: fetched.more || stopped })
    }
}

/// The UIDVALIDITY and the last UID of a cursor; an empty or unreadable cursor starts from the beginning.
fn parse_cursor(cursor: &str) -> (Option<u32>, u32) {
    let parsed = cursor.split_once(':').and_then(|(v, u)| Some((v.trim().parse().ok()?, u.trim().parse().ok()?)));
    match parsed {
        Some((validity, uid)) => (Some(validity), uid),
        None => (None, 0),
    }
}

switchboard_plugin_sdk::register_channel!(Email);
switchboard_plugin_sdk::register_poller!(Email);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors() {
        assert_eq!(parse_cursor(""), (None, 0));
        assert_eq!(parse_cursor("7:42"), (Some(7), 42));
        assert_eq!(parse_cursor("garbage"), (None, 0));
    }
}
