//! Messaging windows: each channel plugin declares when free-form messages are allowed (WhatsApp: 24 hours
//! after the contact's last incoming message, templates outside). The rule is enforced here for every
//! sender, and the state is shown on the conversation.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::App;
use crate::error::{AppError, AppResult};
use crate::model::*;

/// Whether a contact can be sent free-form messages on a channel now.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WindowState {
    pub channel_id: Id,
    /// `true` when the channel has no window or it is open now.
    pub open: bool,
    /// When the window closes (or closed); `null` when the channel has none or the contact never wrote.
    pub closes_at: Option<DateTime<Utc>>,
    /// Seconds until it closes; 0 once closed; `null` without a window.
    pub seconds_left: Option<i64>,
    /// The contact's latest incoming message on this channel.
    pub last_incoming_at: Option<DateTime<Utc>>,
    /// What may still be sent while it is closed: `templates`, `tags`.
    pub outside: Vec<String>,
}

/// The window of `contact` on `channel`; `None` when the channel's plugin is not loaded (unknown policy).
pub async fn state(app: &App, ws: Id, contact: Id, channel: &Channel) -> AppResult<Option<WindowState>> {
    let Some(policy) = policy(app, channel) else { return Ok(None) };
    let last = app.store.last_incoming_at(ws, contact, channel.id).await?;
    Ok(Some(compute(channel.id, &policy, last, Utc::now())))
}

/// Whether `contact`'s window on `channel` is closed now; `false` without reading anything on channels
/// that have no window (most sends), or whose plugin is not loaded.
pub async fn is_closed(app: &App, ws: Id, contact: Id, channel: &Channel) -> AppResult<bool> {
    match policy(app, channel) {
        Some(p) if p.free_form_hours.is_some() => Ok(state(app, ws, contact, channel).await?.is_some_and(|w| !w.open)),
        _ => Ok(false),
    }
}

/// The window under `policy` at `now`, given the contact's latest incoming message.
pub fn compute(
    channel_id: Id,
    policy: &crate::plugins::WindowPolicy,
    last: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> WindowState {
    let mut outside = Vec::new();
    if policy.templates_outside {
        outside.push("templates".to_owned());
    }
    if policy.tags_outside {
        outside.push("tags".to_owned());
    }
    let Some(hours) = policy.free_form_hours else {
        return WindowState {
            channel_id,
            open: true,
            closes_at: None,
            seconds_left: None,
            last_incoming_at: last,
            outside,
        };
    };
    let closes_at = last.map(|t| t + Duration::hours(i64::from(hours)));
    let left = closes_at.map(|c| (c - now).num_seconds().max(0)).unwrap_or(0);
    WindowState { channel_id, open: left > 0, closes_at, seconds_left: Some(left), last_incoming_at: last, outside }
}

/// Refuses free-form content outside the window (templates pass where the channel allows them).
pub async fn check(app: &App, ws: Id, contact: Id, channel: &Channel, content: &MessageContent) -> AppResult<()> {
    if policy(app, channel).is_none() {
        return Ok(());
    }
    let last = app.store.last_incoming_at(ws, contact, channel.id).await?;
    check_since(app, channel, last, content)
}

/// [`check`] given the contact's latest incoming message on the channel (`None`: a contact who never
/// wrote there, such as one being added).
pub fn check_since(
    app: &App,
    channel: &Channel,
    last: Option<DateTime<Utc>>,
    content: &MessageContent,
) -> AppResult<()> {
    let Some(policy) = policy(app, channel) else { return Ok(()) };
    let window = compute(channel.id, &policy, last, Utc::now());
    if window.open || allowed_outside(&window, content) {
        return Ok(());
    }
    let message = match window.closes_at {
        Some(at) => format!(
            "the messaging window on this channel closed at {} (no message from the contact since); send a template",
            at.to_rfc3339()
        ),
        None => "the contact has not written on this channel yet, so its messaging window is closed; send a template"
            .to_owned(),
    };
    Err(AppError::Unprocessable { code: "window_closed", message })
}

/// Whether `content` may go out while the window is closed: a template where the channel allows them, and
/// anything else where the channel tags what it sends outside the window (Messenger's message tags; the
/// provider decides whether the tag still applies, and its refusal fails the message with its reason).
fn allowed_outside(window: &WindowState, content: &MessageContent) -> bool {
    let allows = |what: &str| window.outside.iter().any(|o| o == what);
    match content {
        MessageContent::Template { .. } => allows("templates"),
        _ => allows("tags"),
    }
}

/// The channel's window policy; `None` when its plugin is not loaded (unknown policy).
fn policy(app: &App, channel: &Channel) -> Option<crate::plugins::WindowPolicy> {
    app.plugins.get(&channel.plugin_id).and_then(|e| e.channel_info().map(|i| i.window))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::WindowPolicy;

    #[test]
    fn whatsapp_style_window_opens_for_24_hours_after_the_last_incoming_message() {
        let policy = WindowPolicy { free_form_hours: Some(24), templates_outside: true, tags_outside: false };
        let wrote = DateTime::parse_from_rfc3339("2026-11-20T10:00:00Z").expect("time").to_utc();
        let at = |s: &str| DateTime::parse_from_rfc3339(s).expect("time").to_utc();
        let open = compute(1, &policy, Some(wrote), at("2026-11-21T09:00:00Z"));
        assert_eq!((open.open, open.seconds_left), (true, Some(3600)));
        assert_eq!(open.closes_at, Some(at("2026-11-21T10:00:00Z")));
        let closed = compute(1, &policy, Some(wrote), at("2026-11-21T10:00:01Z"));
        assert_eq!(
            (closed.open, closed.seconds_left, closed.outside.clone()),
            (false, Some(0), vec!["templates".into()])
        );
        let never = compute(1, &policy, None, at("2026-11-21T10:00:00Z"));
        assert_eq!((never.open, never.closes_at), (false, None));
        let none = WindowPolicy { free_form_hours: None, templates_outside: false, tags_outside: false };
        assert!(compute(1, &none, None, at("2026-11-21T10:00:00Z")).open, "no window: always open");
    }

    #[test]
    fn outside_the_window_templates_or_tagged_messages_pass_as_the_channel_declares() {
        let at = DateTime::parse_from_rfc3339("2026-11-22T10:00:00Z").expect("time").to_utc();
        let text = MessageContent::text("hi");
        let template = MessageContent::Template { template_id: 1, parameters: vec![], header: None, buttons: vec![] };
        let whatsapp = WindowPolicy { free_form_hours: Some(24), templates_outside: true, tags_outside: false };
        let closed = compute(1, &whatsapp, None, at);
        assert_eq!((allowed_outside(&closed, &template), allowed_outside(&closed, &text)), (true, false));
        let messenger = WindowPolicy { free_form_hours: Some(24), templates_outside: false, tags_outside: true };
        let closed = compute(1, &messenger, None, at);
        assert_eq!((allowed_outside(&closed, &template), allowed_outside(&closed, &text)), (false, true));
    }
}
