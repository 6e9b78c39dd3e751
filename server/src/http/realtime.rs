//! `GET /api/v1/events/ws?after=SEQ`: the websocket that streams the events a user may see, each with its
//! sequence number, from the event log. A client that reconnects with the last number it saw receives
//! everything it missed, in order, because the stream is a read of the log and not a fan-out of the moment.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::json;
use utoipa::IntoParams;
use utoipa_axum::routes;

use super::ApiRouter;
use super::extract::{Auth, Query};
use crate::app::App;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::model::Principal;
use crate::service::realtime;

/// A client that does not take a frame within this long is too slow: it is closed, not waited for.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Writers that do not wake readers in this process (other nodes, the CLI) are seen within this long.
const POLL: Duration = Duration::from_secs(1);
/// Close codes in the private range, with the reason as text.
const CLOSE_SLOW: u16 = 4008;
const CLOSE_ERROR: u16 = 1011;
const CLOSE_GOING_AWAY: u16 = 1001;

pub(super) fn router() -> ApiRouter {
    ApiRouter::new().routes(routes!(connect))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct StreamQuery {
    /// Stream the events after this sequence number (the last one you saw); from now on when absent.
    after: Option<i64>,
}

/// The realtime stream (a websocket). Frames are JSON text: first `{"type":"ready","last_seq":N}`, then
/// `{"type":"event","event":{…}}` per event. Agents receive message, conversation, comment and contact
/// events; managers and owners every event. Someone else typing in a conversation you may see comes as
/// `{"type":"typing","typing":{…}}` (no sequence number: it is not stored, and not replayed on resume).
/// A client that does not keep up is closed with code 4008.
#[utoipa::path(get, path = "/api/v1/events/ws", tag = "events", params(StreamQuery),
    responses((status = 101, description = "Switching to the websocket protocol"), (status = "4XX", body = ErrorBody)))]
async fn connect(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Query(q): Query<StreamQuery>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> AppResult<Response> {
    same_origin(&headers)?;
    let upgrade = upgrade.map_err(|e| AppError::BadRequest(format!("a websocket upgrade is required: {e}")))?;
    let after = match q.after {
        Some(after) if after < 0 => return Err(AppError::validation("after", "must be 0 or more")),
        Some(after) => after,
        None => realtime::head(&app, &who).await?,
    };
    Ok(upgrade.max_message_size(64 * 1024).on_upgrade(move |socket| stream(app, who, after, socket)))
}

/// Browsers send cookies with a websocket opened by any page, so a page of another origin is refused.
fn same_origin(headers: &HeaderMap) -> AppResult<()> {
    let Some(origin) = headers.get("origin").and_then(|v| v.to_str().ok()) else { return Ok(()) };
    let host = headers.get("host").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let origin_host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
    if origin_host.eq_ignore_ascii_case(host) {
        Ok(())
    } else {
        Err(AppError::forbidden("the realtime stream accepts pages of this server's own origin only"))
    }
}

async fn stream(app: Arc<App>, who: Principal, mut after: i64, socket: WebSocket) {
    let (mut tx, mut rx) = socket.split();
    let mut changes = app.changes.subscribe();
    let mut stopping = app.stopping.subscribe();
    let mut typing = app.typing.subscribe();
    if !send(&mut tx, json!({ "type": "ready", "last_seq": after })).await {
        return;
    }
    loop {
        // Marked seen before reading, so a change committed during the read wakes the next wait at once.
        changes.borrow_and_update();
        loop {
            let batch = match realtime::read(&app, &who, after).await {
                Ok(batch) => batch,
                Err(e) => {
                    tracing::warn!(error = %e, "realtime stream cannot read the event log");
                    close(&mut tx, CLOSE_ERROR, "the event log cannot be read; reconnect").await;
                    return;
                }
            };
            for event in batch.events {
                let seq = event.seq;
                if !send(&mut tx, json!({ "type": "event", "event": event })).await {
                    close(&mut tx, CLOSE_SLOW, "slow_consumer: reconnect with after=SEQ to resume").await;
                    return;
                }
                after = seq;
            }
            after = after.max(batch.last_seq);
            if batch.at_end {
                break;
            }
        }
        tokio::select! {
            _ = changes.changed() => {}
            _ = tokio::time::sleep(POLL) => {}
            _ = stopping.changed() => {}
            t = typing.recv() => match t {
                Ok(t) if realtime::shows_typing(&app, &who, &t).await => {
                    if !send(&mut tx, json!({ "type": "typing", "typing": t })).await {
                        close(&mut tx, CLOSE_SLOW, "slow_consumer: reconnect with after=SEQ to resume").await;
                        return;
                    }
                }
                // Missed indicators are not worth catching up on.
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            },
            frame = rx.next() => match frame {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                // Pings are answered by the websocket layer; clients have nothing else to say.
                Some(Ok(_)) => {}
            },
        }
        if *stopping.borrow() {
            close(&mut tx, CLOSE_GOING_AWAY, "the server is shutting down; reconnect with after=SEQ").await;
            return;
        }
    }
}

type Sink = futures_util::stream::SplitSink<WebSocket, Message>;

/// Sends one JSON frame; false when the client is gone or too slow to take it.
async fn send(tx: &mut Sink, value: serde_json::Value) -> bool {
    let frame = Message::Text(value.to_string().into());
    matches!(tokio::time::timeout(SEND_TIMEOUT, tx.send(frame)).await, Ok(Ok(())))
}

async fn close(tx: &mut Sink, code: u16, reason: &str) {
    let frame = Message::Close(Some(CloseFrame { code, reason: reason.into() }));
    let _ = tokio::time::timeout(Duration::from_secs(1), tx.send(frame)).await;
}
