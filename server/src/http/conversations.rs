//! Conversations: list and detail, open, assign, close, reopen, messages, comments and pins.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::routes;

use super::extract::{Auth, Json, Path, Query};
use super::{ApiRouter, PageQuery};
use crate::app::App;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::model::*;
use crate::service::conversations::{
    self, AddComment, AssignRequest, CloseConversation, OpenConversation, SendMessage,
};
use crate::service::start::{self, StartConversation, StartedConversation};
use crate::service::window::WindowState;
use crate::service::{access, export, inbox};

pub(super) fn router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(list_conversations, open_conversation))
        .routes(routes!(inbox_counts))
        .routes(routes!(start_conversation))
        .routes(routes!(get_conversation))
        .routes(routes!(list_messages, send_message))
        .routes(routes!(assign))
        .routes(routes!(close))
        .routes(routes!(reopen))
        .routes(routes!(list_comments, add_comment))
        .routes(routes!(pin, unpin))
        .routes(routes!(typing))
        .routes(routes!(export))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ConversationQuery {
    /// `all` (default), `mine`, `unassigned`, `mentions` (where you were @mentioned in a comment) or
    /// `team:{id}`.
    #[param(pattern = r"^(all|mine|unassigned|mentions|team:[1-9][0-9]{0,17}|inbox:[1-9][0-9]{0,17})?$")]
    view: Option<String>,
    /// `open`, `closed` or `all` (default).
    #[param(pattern = "^(open|closed|all)?$")]
    status: Option<String>,
    /// `newest` (default) or `oldest` last activity first; your pinned conversations come first either way.
    #[param(pattern = "^(newest|oldest)?$")]
    sort: Option<String>,
    /// Only conversations awaiting a reply (the last message is the contact's).
    #[serde(default)]
    unread: bool,
    /// Only conversations whose last message went through this channel.
    channel: Option<Id>,
    /// Only conversations whose contact has this tag (by name).
    tag: Option<String>,
    assignee_id: Option<Id>,
    team_id: Option<Id>,
    contact_id: Option<Id>,
    /// Only conversations without an assignee (the same as `view=unassigned`).
    #[serde(default)]
    unassigned: bool,
    cursor: Option<String>,
    /// 1–200, default 50.
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
    /// `summary`: each conversation also carries its contact's name and phone and its latest message (what an
    /// inbox row shows), read in one more query for the page.
    #[param(pattern = "^(summary)?$")]
    include: Option<String>,
}

/// A conversation of a list, with its summary when `include=summary` asked for it.
#[derive(Debug, Serialize, ToSchema)]
struct ListedConversation {
    #[serde(flatten)]
    conversation: Conversation,
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<ConversationSummary>,
}

/// An inbox view: the caller's pinned conversations first, then the others by last activity.
#[utoipa::path(get, path = "/api/v1/conversations", tag = "conversations", params(ConversationQuery),
    responses((status = 200, body = Page<ListedConversation>), (status = "4XX", body = ErrorBody)))]
async fn list_conversations(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Query(q): Query<ConversationQuery>,
) -> AppResult<Json<Page<ListedConversation>>> {
    let summaries = match q.include.as_deref() {
        None | Some("") => false,
        Some("summary") => true,
        Some(_) => return Err(AppError::validation("include", "must be summary")),
    };
    let req = inbox::ListRequest {
        view: q.view,
        status: q.status,
        sort: q.sort,
        unread: q.unread,
        channel_id: q.channel,
        tag: q.tag,
        contact_id: q.contact_id,
        assignee_id: q.assignee_id,
        team_id: q.team_id,
        unassigned: q.unassigned,
        cursor: q.cursor,
        limit: q.limit,
    };
    let page = inbox::list(&app, &who, req).await?;
    let mut found = if summaries { inbox::summaries(&app, &who, &page.items).await? } else { Default::default() };
    let items = page
        .items
        .into_iter()
        .map(|conversation| ListedConversation { summary: found.remove(&conversation.id), conversation })
        .collect();
    Ok(Json(Page { items, next_cursor: page.next_cursor }))
}

/// Open conversations per view (all, mine, unassigned, mentions, each team) and how many await a reply.
#[utoipa::path(get, path = "/api/v1/inbox/counts", tag = "conversations",
    responses((status = 200, body = InboxCounts), (status = "4XX", body = ErrorBody)))]
async fn inbox_counts(State(app): State<Arc<App>>, Auth(who): Auth) -> AppResult<Json<InboxCounts>> {
    Ok(Json(inbox::counts(&app, &who).await?))
}

/// Opens a conversation with a contact that has none open (`conversation_already_open` otherwise).
#[utoipa::path(post, path = "/api/v1/conversations", tag = "conversations", request_body = OpenConversation,
    responses((status = 201, body = Conversation), (status = "4XX", body = ErrorBody)))]
async fn open_conversation(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Json(req): Json<OpenConversation>,
) -> AppResult<(StatusCode, Json<Conversation>)> {
    Ok((StatusCode::CREATED, Json(conversations::open(&app, &who, req).await?)))
}

/// "New conversation": writes first to a contact (existing, or added with this request) on a channel, usually
/// with a template; the conversation opens (opened by you) and is assigned to you unless a team is named.
/// Refused requests (`window_closed`, `contact_unreachable`, `contact_exists`, `conversation_already_open`,
/// a template's parameters) leave nothing behind.
#[utoipa::path(post, path = "/api/v1/conversations/start", tag = "conversations", request_body = StartConversation,
    responses((status = 201, body = StartedConversation), (status = "4XX", body = ErrorBody)))]
async fn start_conversation(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Json(req): Json<StartConversation>,
) -> AppResult<(StatusCode, Json<StartedConversation>)> {
    Ok((StatusCode::CREATED, Json(start::start(&app, &who, req).await?)))
}

/// A conversation with its contact, its assignment history and its messaging window.
#[derive(Debug, Serialize, ToSchema)]
struct ConversationDetail {
    #[serde(flatten)]
    conversation: Conversation,
    contact: Contact,
    assignments: Vec<Assignment>,
    /// The messaging window on the conversation's last channel; `null` without a channel or a loaded plugin.
    window: Option<WindowState>,
}

#[utoipa::path(get, path = "/api/v1/conversations/{id}", tag = "conversations", params(("id" = i64, Path)),
    responses((status = 200, body = ConversationDetail), (status = "4XX", body = ErrorBody)))]
async fn get_conversation(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(id): Path<Id>,
) -> AppResult<Json<ConversationDetail>> {
    let ws = who.workspace_id;
    let mut conversation = access::conversation(&app, &who, id).await?;
    let contact = app.store.get_contact(ws, conversation.contact_id).await?;
    let assignments = app.store.list_assignments(ws, id).await?;
    conversation.pinned = app.store.list_pins(ws, who.user_id).await?.contains(&id);
    let window = match conversation.last_channel_id {
        Some(channel) => match app.store.get_channel(ws, channel).await {
            Ok(channel) => crate::service::window::state(&app, ws, contact.id, &channel).await?,
            Err(_) => None,
        },
        None => None,
    };
    Ok(Json(ConversationDetail { conversation, contact, assignments, window }))
}

/// Messages, newest first.
#[utoipa::path(get, path = "/api/v1/conversations/{id}/messages", tag = "messages", params(("id" = i64, Path), PageQuery),
    responses((status = 200, body = Page<Message>), (status = "4XX", body = ErrorBody)))]
async fn list_messages(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(id): Path<Id>,
    Query(q): Query<PageQuery>,
) -> AppResult<Json<Page<Message>>> {
    access::conversation(&app, &who, id).await?;
    Ok(Json(app.store.list_messages(who.workspace_id, id, &q.page()?).await?))
}

/// Queues an outgoing message: stored `pending` with its delivery job in one transaction.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/messages", tag = "messages", params(("id" = i64, Path)), request_body = SendMessage,
    responses((status = 202, body = Message), (status = "4XX", body = ErrorBody)))]
async fn send_message(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(id): Path<Id>,
    Json(req): Json<SendMessage>,
) -> AppResult<(StatusCode, Json<Message>)> {
    Ok((StatusCode::ACCEPTED, Json(conversations::send(&app, &who, id, req).await?)))
}

/// Assigns to a user and/or team; `null` unassigns. The change is recorded.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/assign", tag = "conversations", params(("id" = i64, Path)), request_body = AssignRequest,
    responses((status = 200, body = Conversation), (status = "4XX", body = ErrorBody)))]
async fn assign(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(id): Path<Id>,
    Json(req): Json<AssignRequest>,
) -> AppResult<Json<Conversation>> {
    Ok(Json(conversations::assign(&app, &who, id, req).await?))
}

/// Closes with a closing note as the workspace's closing-note mode requires.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/close", tag = "conversations", params(("id" = i64, Path)), request_body = CloseConversation,
    responses((status = 200, body = Conversation), (status = "4XX", body = ErrorBody)))]
async fn close(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(id): Path<Id>,
    Json(req): Json<CloseConversation>,
) -> AppResult<Json<Conversation>> {
    Ok(Json(conversations::close(&app, &who, id, req).await?))
}

/// Reopens a closed conversation; its history is kept.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/open", tag = "conversations", params(("id" = i64, Path)),
    responses((status = 200, body = Conversation), (status = "4XX", body = ErrorBody)))]
async fn reopen(State(app): State<Arc<App>>, Auth(who): Auth, Path(id): Path<Id>) -> AppResult<Json<Conversation>> {
    Ok(Json(conversations::reopen(&app, &who, id).await?))
}

/// Internal comments, oldest first.
#[utoipa::path(get, path = "/api/v1/conversations/{id}/comments", tag = "conversations", params(("id" = i64, Path), PageQuery),
    responses((status = 200, body = Page<Comment>), (status = "4XX", body = ErrorBody)))]
async fn list_comments(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(id): Path<Id>,
    Query(q): Query<PageQuery>,
) -> AppResult<Json<Page<Comment>>> {
    access::conversation(&app, &who, id).await?;
    Ok(Json(app.store.list_comments(who.workspace_id, id, &q.page()?).await?))
}

/// Adds an internal comment with optional @mentions.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/comments", tag = "conversations", params(("id" = i64, Path)), request_body = AddComment,
    responses((status = 201, body = Comment), (status = "4XX", body = ErrorBody)))]
async fn add_comment(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(id): Path<Id>,
    Json(req): Json<AddComment>,
) -> AppResult<(StatusCode, Json<Comment>)> {
    Ok((StatusCode::CREATED, Json(conversations::comment(&app, &who, id, req).await?)))
}

/// Tells the others that you are typing in this conversation: agents watching it see a `typing` frame on the
/// realtime stream, a website-chat visitor sees it in the chat. Send it every few seconds while typing;
/// nothing is stored.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/typing", tag = "conversations", params(("id" = i64, Path)),
    responses((status = 204), (status = "4XX", body = ErrorBody)))]
async fn typing(State(app): State<Arc<App>>, Auth(who): Auth, Path(id): Path<Id>) -> AppResult<StatusCode> {
    crate::service::typing::agent(&app, &who, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Pins the conversation for the caller (pins are per user).
#[utoipa::path(put, path = "/api/v1/conversations/{id}/pin", tag = "conversations", params(("id" = i64, Path)),
    responses((status = 204), (status = "4XX", body = ErrorBody)))]
async fn pin(State(app): State<Arc<App>>, Auth(who): Auth, Path(id): Path<Id>) -> AppResult<StatusCode> {
    conversations::set_pin(&app, &who, id, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/api/v1/conversations/{id}/pin", tag = "conversations", params(("id" = i64, Path)),
    responses((status = 204), (status = "4XX", body = ErrorBody)))]
async fn unpin(State(app): State<Arc<App>>, Auth(who): Auth, Path(id): Path<Id>) -> AppResult<StatusCode> {
    conversations::set_pin(&app, &who, id, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ExportQuery {
    /// `json` (everything), `csv` (one row per timeline entry) or `text` (a readable transcript).
    #[param(pattern = "^(json|csv|text)$")]
    format: Option<String>,
}

/// The conversation as a file: messages, comments, assignments and closing note, times in the workspace's
/// time zone.
#[utoipa::path(get, path = "/api/v1/conversations/{id}/export", tag = "conversations", params(("id" = i64, Path), ExportQuery),
    responses((status = 200, description = "The file, as an attachment"), (status = "4XX", body = ErrorBody)))]
async fn export(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(id): Path<Id>,
    Query(q): Query<ExportQuery>,
) -> AppResult<axum::response::Response> {
    use axum::http::header;
    use axum::response::IntoResponse;
    let file = export::conversation(&app, &who, id, q.format.as_deref().unwrap_or("json")).await?;
    let disposition = format!("attachment; filename=\"{}\"", file.filename);
    Ok(([(header::CONTENT_TYPE, file.content_type.to_owned()), (header::CONTENT_DISPOSITION, disposition)], file.body)
        .into_response())
}
