//! The website chat's public endpoints: `/widget.js` (the script a business puts on its pages) and
//! `/widget/{channel_id}/…` (config, visitor session, messages, live stream). They take no API
//! credentials: a visitor proves who they are with the token the session endpoint signed. They answer
//! any origin (CORS) unless the channel lists its allowed origins, and are rate-limited per client
//! address and per visitor.

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::Stream;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde::Deserialize;
use tower_http::cors::{Any, CorsLayer};

use super::extract::{Json, Path, Query};
use crate::app::App;
use crate::error::{AppError, AppResult};
use crate::model::Id;
use crate::service::widget::{self, Session, VisitorMessage, WidgetChannel, WidgetConfig, WidgetMessage};

const SCRIPT: &str = include_str!("../../assets/widget.js");

/// How long one live stream stays open before the widget reconnects (with its last id): bounds what a
/// forgotten tab holds, and lets a restarting server drain.
const STREAM_FOR: Duration = Duration::from_secs(300);

/// How often a stream re-reads without a wake-up (changes made by another node wake no one here).
const RECHECK: Duration = Duration::from_secs(5);

/// Per-client budgets. A visitor types far slower than these; a script posting in a loop does not.
struct Limits {
    /// New sessions and stream connections per client address.
    connect: DefaultKeyedRateLimiter<IpAddr>,
    /// Messages per client address (many visitors behind one address share it).
    address: DefaultKeyedRateLimiter<IpAddr>,
    /// Messages per visitor.
    visitor: DefaultKeyedRateLimiter<String>,
    /// Typing indicators per visitor (one every two seconds is plenty).
    typing: DefaultKeyedRateLimiter<String>,
}

fn per_minute(n: u32, burst: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN))
        .allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN))
}

impl Limits {
    fn new() -> Self {
        Self {
            connect: RateLimiter::keyed(per_minute(30, 20)),
            address: RateLimiter::keyed(per_minute(120, 60)),
            visitor: RateLimiter::keyed(per_minute(20, 10)),
            typing: RateLimiter::keyed(per_minute(30, 5)),
        }
    }

    fn check<K: std::hash::Hash + Eq + Clone>(limiter: &DefaultKeyedRateLimiter<K>, key: &K) -> AppResult<()> {
        // Forget idle clients now and then so the tables stay small.
        if limiter.len() > 10_000 {
            limiter.retain_recent();
        }
        limiter.check_key(key).map_err(|not_until| {
            metrics::counter!("switchboard_widget_rate_limited_total").increment(1);
            let wait = not_until.wait_time_from(governor::clock::Clock::now(&governor::clock::DefaultClock::default()));
            AppError::RateLimited(wait.as_secs().max(1))
        })
    }
}

pub(super) fn router() -> Router<Arc<App>> {
    let limits = Arc::new(Limits::new());
    // Any page may load the chat (the channel's allowed_origins is checked per request); the visitor token
    // travels in a header, never in cookies, so no credentials are shared across origins.
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .max_age(Duration::from_secs(3600));
    Router::new()
        .route("/widget.js", get(script))
        // The explicit OPTIONS routes let preflights reach the CORS layer (instead of the 405 fallback).
        .route("/widget/{channel_id}/config", get(config).options(preflight))
        .route("/widget/{channel_id}/session", post(session).options(preflight))
        .route("/widget/{channel_id}/messages", get(history).post(send).options(preflight))
        .route("/widget/{channel_id}/stream", get(stream).options(preflight))
        .route("/widget/{channel_id}/typing", post(typing).options(preflight))
        .layer(axum::Extension(limits))
        .layer(cors)
}

async fn preflight() -> StatusCode {
    StatusCode::NO_CONTENT
}

/// The client's address (the TCP peer; behind a reverse proxy, the proxy's).
struct ClientIp(IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
        Ok(Self(peer.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))))
    }
}

async fn script() -> Response {
    let headers =
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=300")];
    (headers, SCRIPT).into_response()
}

/// The chat, if the page asking may use it.
async fn chat(app: &App, id: Id, headers: &HeaderMap) -> AppResult<WidgetChannel> {
    let chat = widget::channel(app, id).await?;
    let origin = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok());
    if !chat.allows_origin(origin) {
        return Err(AppError::forbidden(format!("this chat is not enabled on {}", origin.unwrap_or("this page"))));
    }
    Ok(chat)
}

fn bearer(headers: &HeaderMap) -> &str {
    let value = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or_default();
    value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")).unwrap_or_default()
}

async fn config(State(app): State<Arc<App>>, Path(id): Path<Id>, headers: HeaderMap) -> AppResult<Json<WidgetConfig>> {
    Ok(Json(chat(&app, id, &headers).await?.config()))
}

#[derive(Debug, Deserialize)]
struct SessionRequest {
    #[serde(default)]
    token: Option<String>,
}

async fn session(
    State(app): State<Arc<App>>,
    axum::Extension(limits): axum::Extension<Arc<Limits>>,
    Path(id): Path<Id>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Json(req): Json<SessionRequest>,
) -> AppResult<Json<Session>> {
    let chat = chat(&app, id, &headers).await?;
    Limits::check(&limits.connect, &ip)?;
    Ok(Json(widget::session(&app, &chat, req.token.as_deref()).await?))
}

async fn send(
    State(app): State<Arc<App>>,
    axum::Extension(limits): axum::Extension<Arc<Limits>>,
    Path(id): Path<Id>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Json(msg): Json<VisitorMessage>,
) -> AppResult<(StatusCode, Json<WidgetMessage>)> {
    let chat = chat(&app, id, &headers).await?;
    let visitor = widget::visitor_of(&app, &chat, bearer(&headers))?;
    Limits::check(&limits.address, &ip)?;
    Limits::check(&limits.visitor, &visitor)?;
    Ok((StatusCode::CREATED, Json(widget::post(&app, &chat, &visitor, msg).await?)))
}

/// The visitor is typing: agents looking at the conversation see it. Nothing is stored.
async fn typing(
    State(app): State<Arc<App>>,
    axum::Extension(limits): axum::Extension<Arc<Limits>>,
    Path(id): Path<Id>,
    headers: HeaderMap,
) -> AppResult<StatusCode> {
    let chat = chat(&app, id, &headers).await?;
    let visitor = widget::visitor_of(&app, &chat, bearer(&headers))?;
    Limits::check(&limits.typing, &visitor)?;
    crate::service::typing::visitor(&app, chat.workspace_id, chat.channel.id, &visitor).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
struct AfterQuery {
    #[serde(default)]
    after: Id,
}

#[derive(serde::Serialize)]
struct History {
    messages: Vec<WidgetMessage>,
}

async fn history(
    State(app): State<Arc<App>>,
    Path(id): Path<Id>,
    Query(q): Query<AfterQuery>,
    headers: HeaderMap,
) -> AppResult<Json<History>> {
    let chat = chat(&app, id, &headers).await?;
    let visitor = widget::visitor_of(&app, &chat, bearer(&headers))?;
    Ok(Json(History { messages: widget::history(&app, &chat, &visitor, q.after).await? }))
}

#[derive(Debug, Deserialize)]
struct StreamQuery {
    /// EventSource cannot send headers, so the token comes in the query.
    token: String,
    #[serde(default)]
    after: Id,
}

/// `text/event-stream` of the visitor's messages after `after` (or the `Last-Event-ID` the browser sends
/// when it reconnects by itself): `event: message`, `id:` the message id, `data:` the message.
async fn stream(
    State(app): State<Arc<App>>,
    axum::Extension(limits): axum::Extension<Arc<Limits>>,
    Path(id): Path<Id>,
    Query(q): Query<StreamQuery>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
) -> AppResult<Response> {
    let chat = chat(&app, id, &headers).await?;
    let visitor = widget::visitor_of(&app, &chat, &q.token)?;
    Limits::check(&limits.connect, &ip)?;
    let resumed = headers.get("last-event-id").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<Id>().ok());
    let after = resumed.unwrap_or(0).max(q.after);
    let mut response = Sse::new(messages(app, chat, visitor, after)).keep_alive(KeepAlive::default()).into_response();
    // Proxies must not buffer the stream.
    response.headers_mut().insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}

struct Live {
    app: Arc<App>,
    chat: WidgetChannel,
    visitor: String,
    after: Id,
    pending: std::collections::VecDeque<WidgetMessage>,
    changes: tokio::sync::watch::Receiver<u64>,
    stopping: tokio::sync::watch::Receiver<bool>,
    typing: tokio::sync::broadcast::Receiver<crate::model::Typing>,
    /// The visitor's contact, once they have written.
    contact: Option<Id>,
    until: tokio::time::Instant,
}

impl Live {
    /// Whether an indicator is an agent typing to this visitor.
    async fn is_for_visitor(&mut self, t: &crate::model::Typing) -> bool {
        if t.workspace_id != self.chat.workspace_id || t.actor.kind != crate::model::ActorKind::User {
            return false;
        }
        if self.contact.is_none() {
            let (ws, channel) = (self.chat.workspace_id, self.chat.channel.id);
            let found = self.app.store.find_contact_by_identity(ws, channel, &self.visitor).await;
            self.contact = found.ok().flatten().map(|c| c.id);
        }
        self.contact == Some(t.contact_id)
    }
}

fn messages(
    app: Arc<App>,
    chat: WidgetChannel,
    visitor: String,
    after: Id,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let live = Live {
        changes: app.changes.subscribe(),
        stopping: app.stopping.subscribe(),
        typing: app.typing.subscribe(),
        contact: None,
        app,
        chat,
        visitor,
        after,
        pending: Default::default(),
        until: tokio::time::Instant::now() + STREAM_FOR,
    };
    futures_util::stream::unfold(live, |mut live| async move {
        loop {
            if let Some(m) = live.pending.pop_front() {
                live.after = m.id;
                let data = serde_json::to_string(&m).unwrap_or_default();
                return Some((Ok(Event::default().event("message").id(m.id.to_string()).data(data)), live));
            }
            if *live.stopping.borrow() || tokio::time::Instant::now() >= live.until {
                return None;
            }
            live.changes.borrow_and_update();
            match widget::history(&live.app, &live.chat, &live.visitor, live.after).await {
                Ok(found) if !found.is_empty() => {
                    live.pending.extend(found);
                    continue;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "website chat stream ended by an error");
                    return None;
                }
            }
            tokio::select! {
                _ = live.changes.changed() => {}
                _ = live.stopping.changed() => {}
                _ = tokio::time::sleep(RECHECK) => {}
                t = live.typing.recv() => {
                    if let Ok(t) = t
                        && live.is_for_visitor(&t).await
                    {
                        let data = serde_json::json!({ "name": t.name }).to_string();
                        return Some((Ok(Event::default().event("typing").data(data)), live));
                    }
                }
            }
        }
    })
}
