//! Storage: store traits over domain types, and one implementation per backend (SQLite, PostgreSQL).
//!
//! This is the only module that knows SQL. Every method is one use case and runs its own transaction,
//! so transactions never cross this seam; every method that changes state appends its event(s) to the
//! event log inside that same transaction. The backend is chosen at run time from the database URL.

mod postgres;
mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

use crate::config::DatabaseUrl;
use crate::model::*;

/// What can go wrong in the store, classified for the caller.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A uniqueness or state rule of the data model would be broken; `code` is a stable error code.
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// The database failed (connection, I/O, a bug in a query).
    #[error("database error: {0}")]
    Database(String),
}

impl StoreError {
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict { code, message: message.into() }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => Self::NotFound("row"),
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                Self::conflict("already_exists", "an item with the same unique value already exists")
            }
            _ => Self::Database(e.to_string()),
        }
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        Self::Database(format!("migration failed: {e}"))
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The SQL type of a column of rows bound as one JSON parameter (each backend's `json_rows`): PostgreSQL
/// casts from the JSON text, SQLite takes JSON numbers and strings as they are.
#[derive(Clone, Copy)]
enum ColumnKind {
    Int,
    Text,
}

/// Organisations, workspaces, users and their roles, API tokens and login sessions.
#[async_trait]
pub trait AccountStore {
    /// Creates the organisation, its first workspace and its owner; refuses (`already_initialized`) if
    /// an organisation exists.
    async fn init_organisation(
        &self,
        organisation: &str,
        workspace: &str,
        owner: &NewUser,
    ) -> StoreResult<(Organisation, Workspace, User)>;
    async fn is_initialized(&self) -> StoreResult<bool>;
    /// Adds a workspace to an organisation with `owner` (an existing user of it) as its owner.
    async fn create_workspace(&self, organisation: Id, name: &str, owner: Id) -> StoreResult<Workspace>;
    async fn list_all_workspaces(&self) -> StoreResult<Vec<Workspace>>;
    async fn get_workspace(&self, ws: Id) -> StoreResult<Workspace>;
    async fn update_workspace(&self, ws: Id, update: &WorkspaceUpdate, actor: Actor) -> StoreResult<Workspace>;
    /// The workspaces a user belongs to, with their role in each.
    async fn user_workspaces(&self, user: Id) -> StoreResult<Vec<(Workspace, Role)>>;
    /// Adds a user to a workspace, creating the account if the email is new (`user_exists` if already a member).
    async fn create_user(&self, ws: Id, user: &NewUser, actor: Actor) -> StoreResult<User>;
    async fn get_user(&self, ws: Id, id: Id) -> StoreResult<User>;
    async fn set_availability(&self, user: Id, availability: Availability) -> StoreResult<()>;
    /// The web app's language for the user (`None`: the browser's).
    async fn set_language(&self, user: Id, language: Option<&str>) -> StoreResult<()>;
    async fn list_users(&self, ws: Id, page: &PageRequest) -> StoreResult<Page<User>>;
    async fn update_user(&self, ws: Id, id: Id, update: &UserUpdate, actor: Actor) -> StoreResult<User>;
    /// Removes a user from a workspace (the account stays); refuses to remove the last owner.
    async fn remove_user(&self, ws: Id, id: Id, actor: Actor) -> StoreResult<()>;
    async fn user_credentials(&self, email: &str) -> StoreResult<Option<UserCredentials>>;
    async fn create_api_token(
        &self,
        ws: Id,
        user: Id,
        name: &str,
        token_hash: &str,
        prefix: &str,
        actor: Actor,
    ) -> StoreResult<ApiToken>;
    /// Tokens of the workspace; only `user`'s when given.
    async fn list_api_tokens(&self, ws: Id, user: Option<Id>, page: &PageRequest) -> StoreResult<Page<ApiToken>>;
    /// Deletes a token; when `user` is given, only if it is theirs.
    async fn delete_api_token(&self, ws: Id, id: Id, user: Option<Id>, actor: Actor) -> StoreResult<()>;
    /// The caller behind a token hash, if the token exists and its user is still a member; records its use.
    async fn principal_for_token(&self, token_hash: &str, now: Timestamp) -> StoreResult<Option<Principal>>;
    async fn create_session(
        &self,
        token_hash: &str,
        user: Id,
        ws: Id,
        csrf_token: &str,
        expires_at: Timestamp,
    ) -> StoreResult<()>;
    /// A live session (not expired, user still a member).
    async fn session(&self, token_hash: &str, now: Timestamp) -> StoreResult<Option<Session>>;
    async fn delete_session(&self, token_hash: &str) -> StoreResult<()>;
}

/// Contacts, their identities and tags, custom field definitions.
#[async_trait]
pub trait ContactStore {
    async fn create_contact(
        &self,
        ws: Id,
        fields: &ContactFields,
        tags: &[String],
        identities: &[ChannelIdentity],
        actor: Actor,
    ) -> StoreResult<Contact>;
    async fn get_contact(&self, ws: Id, id: Id) -> StoreResult<Contact>;
    async fn list_contacts(&self, ws: Id, filter: &ContactFilter, page: &PageRequest) -> StoreResult<Page<Contact>>;
    /// Replaces the stored fields; `changed` names them for the event.
    async fn update_contact(
        &self,
        ws: Id,
        id: Id,
        fields: &ContactFields,
        changed: &[&'static str],
        actor: Actor,
    ) -> StoreResult<Contact>;
    async fn delete_contact(&self, ws: Id, id: Id, actor: Actor) -> StoreResult<()>;
    /// Adds tags by name, creating tags the workspace does not have yet.
    async fn add_contact_tags(&self, ws: Id, id: Id, tags: &[String], actor: Actor) -> StoreResult<Contact>;
    async fn remove_contact_tag(&self, ws: Id, id: Id, tag: &str, actor: Actor) -> StoreResult<Contact>;
    async fn add_channel_identity(
        &self,
        ws: Id,
        id: Id,
        identity: &ChannelIdentity,
        actor: Actor,
    ) -> StoreResult<Contact>;
    async fn find_contact_by_identity(&self, ws: Id, channel: Id, external_id: &str) -> StoreResult<Option<Contact>>;
    async fn create_field_definition(
        &self,
        ws: Id,
        def: &FieldDefinition,
        actor: Actor,
    ) -> StoreResult<FieldDefinition>;
    /// Every definition of the workspace (for validating values).
    async fn list_field_definitions(&self, ws: Id) -> StoreResult<Vec<FieldDefinition>>;
    /// One page of the definitions, for the API.
    async fn page_field_definitions(&self, ws: Id, page: &PageRequest) -> StoreResult<Page<FieldDefinition>>;
    async fn delete_field_definition(&self, ws: Id, id: Id, actor: Actor) -> StoreResult<()>;
    async fn create_tag(&self, ws: Id, name: &str, actor: Actor) -> StoreResult<Tag>;
    async fn list_tags(&self, ws: Id, page: &PageRequest) -> StoreResult<Page<Tag>>;
    async fn delete_tag(&self, ws: Id, id: Id, actor: Actor) -> StoreResult<()>;
}

/// Conversations, messages, comments, assignments and pins.
#[async_trait]
pub trait ConversationStore {
    /// Opens a conversation; `conversation_already_open` if the contact has one open.
    async fn open_conversation(&self, ws: Id, contact: Id, team: Option<Id>, actor: Actor)
    -> StoreResult<Conversation>;
    async fn get_conversation(&self, ws: Id, id: Id) -> StoreResult<Conversation>;
    /// Conversations matching the filter, by last activity in the filter's order (pins are a filter here:
    /// the inbox service lists the pinned ones first).
    async fn list_conversations(
        &self,
        ws: Id,
        filter: &ConversationFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Conversation>>;
    /// For each of `ids` in the workspace (others are left out): the contact's name and phone and the
    /// latest message, as an inbox row shows them.
    async fn conversation_summaries(&self, ws: Id, ids: &[Id]) -> StoreResult<Vec<(Id, ConversationSummary)>>;
    /// The workspace's open conversations counted by team and assignee.
    async fn open_groups(&self, ws: Id) -> StoreResult<Vec<OpenGroup>>;
    /// The conversations in whose comments `user` was mentioned.
    async fn mentioned_conversations(&self, ws: Id, user: Id) -> StoreResult<Vec<Id>>;
    /// Open conversations assigned to each of `users` (users without any are left out).
    async fn open_counts(&self, ws: Id, users: &[Id]) -> StoreResult<Vec<(Id, u64)>>;
    /// How many conversations match the filter, and how many of them await a reply.
    async fn count_conversations(&self, ws: Id, filter: &ConversationFilter) -> StoreResult<ViewCount>;
    /// Sets the assignee and team (either may be `None` to unassign) and records the change.
    async fn assign_conversation(
        &self,
        ws: Id,
        id: Id,
        user: Option<Id>,
        team: Option<Id>,
        actor: Actor,
    ) -> StoreResult<Conversation>;
    async fn list_assignments(&self, ws: Id, conversation: Id) -> StoreResult<Vec<Assignment>>;
    /// Closes an open conversation (`conversation_closed` if it is not open).
    async fn close_conversation(&self, ws: Id, id: Id, close: &CloseRequest, actor: Actor)
    -> StoreResult<Conversation>;
    /// Reopens a closed conversation (`conversation_already_open` if the contact has another one open).
    async fn reopen_conversation(&self, ws: Id, id: Id, actor: Actor) -> StoreResult<Conversation>;
    /// Stores a message and updates the conversation's activity times; for a pending outgoing message
    /// also enqueues its `message.send` job, all in one transaction.
    async fn add_message(&self, ws: Id, conversation: Id, message: &NewMessage) -> StoreResult<Message>;
    async fn get_message(&self, ws: Id, id: Id) -> StoreResult<Message>;
    /// When a user (not a workflow, broadcast or the contact) last wrote in the conversation.
    async fn last_human_reply_at(&self, ws: Id, conversation: Id) -> StoreResult<Option<Timestamp>>;
    /// Newest first.
    async fn list_messages(&self, ws: Id, conversation: Id, page: &PageRequest) -> StoreResult<Page<Message>>;
    /// Moves a message's status forward (never backward); returns the message as stored after the call.
    async fn update_message_status(
        &self,
        ws: Id,
        id: Id,
        status: MessageStatus,
        failure_reason: Option<&str>,
    ) -> StoreResult<Message>;
    async fn add_comment(
        &self,
        ws: Id,
        conversation: Id,
        author: Id,
        body: &str,
        mentions: &[Id],
    ) -> StoreResult<Comment>;
    /// Oldest first.
    async fn list_comments(&self, ws: Id, conversation: Id, page: &PageRequest) -> StoreResult<Page<Comment>>;
    async fn set_pin(&self, ws: Id, user: Id, conversation: Id, pinned: bool) -> StoreResult<()>;
    async fn list_pins(&self, ws: Id, user: Id) -> StoreResult<Vec<Id>>;
}

/// Teams, closing categories, snippets, templates and channels.
#[async_trait]
pub trait SettingsStore {
    async fn create_team(&self, ws: Id, name: &str, actor: Actor) -> StoreResult<Team>;
    async fn get_team(&self, ws: Id, id: Id) -> StoreResult<Team>;
    async fn list_teams(&self, ws: Id, page: &PageRequest) -> StoreResult<Page<Team>>;
    /// Every team of the workspace, in id order.
    async fn team_ids(&self, ws: Id) -> StoreResult<Vec<Id>>;
    /// The teams `user` is a member of.
    async fn user_team_ids(&self, ws: Id, user: Id) -> StoreResult<Vec<Id>>;
    /// Replaces a team's name and auto-assignment settings.
    async fn update_team(&self, ws: Id, id: Id, settings: &TeamSettings, actor: Actor) -> StoreResult<Team>;
    /// The user a round robin assigned last: a team's (`Some(team)`) or the whole workspace's (`None`).
    async fn round_robin_position(&self, ws: Id, team: Option<Id>) -> StoreResult<Option<Id>>;
    async fn set_round_robin_position(&self, ws: Id, team: Option<Id>, user: Id) -> StoreResult<()>;
    async fn delete_team(&self, ws: Id, id: Id, actor: Actor) -> StoreResult<()>;
    /// Adds (`member = true`) or removes a workspace member to or from a team.
    async fn set_team_member(&self, ws: Id, team: Id, user: Id, member: bool, actor: Actor) -> StoreResult<Team>;
    async fn create_closing_category(&self, ws: Id, name: &str, actor: Actor) -> StoreResult<ClosingCategory>;
    async fn list_closing_categories(&self, ws: Id, page: &PageRequest) -> StoreResult<Page<ClosingCategory>>;
    async fn get_closing_category(&self, ws: Id, id: Id) -> StoreResult<ClosingCategory>;
    async fn delete_closing_category(&self, ws: Id, id: Id, actor: Actor) -> StoreResult<()>;
    async fn create_snippet(&self, ws: Id, shortcut: &str, body: &str, actor: Actor) -> StoreResult<Snippet>;
    async fn get_snippet(&self, ws: Id, id: Id) -> StoreResult<Snippet>;
    async fn list_snippets(&self, ws: Id, page: &PageRequest) -> StoreResult<Page<Snippet>>;
    /// Snippets whose shortcut starts with `q` (first, by shortcut) or whose text contains it; any case.
    async fn search_snippets(&self, ws: Id, q: &str, limit: u32) -> StoreResult<Vec<Snippet>>;
    async fn update_snippet(&self, ws: Id, id: Id, shortcut: &str, body: &str, actor: Actor) -> StoreResult<Snippet>;
    async fn delete_snippet(&self, ws: Id, id: Id, actor: Actor) -> StoreResult<()>;
    async fn create_template(&self, ws: Id, fields: &TemplateFields, actor: Actor) -> StoreResult<Template>;
    async fn get_template(&self, ws: Id, id: Id) -> StoreResult<Template>;
    async fn list_templates(&self, ws: Id, page: &PageRequest) -> StoreResult<Page<Template>>;
    async fn update_template(&self, ws: Id, id: Id, fields: &TemplateFields, actor: Actor) -> StoreResult<Template>;
    async fn delete_template(&self, ws: Id, id: Id, actor: Actor) -> StoreResult<()>;
    /// Makes `channel`'s templates match the provider's list: new ones created, changed ones updated (by name
    /// and language), ones the provider no longer lists marked `deleted` (messages may still refer to them).
    async fn sync_templates(&self, ws: Id, channel: Id, templates: &[TemplateFields]) -> StoreResult<TemplateSync>;
    async fn create_channel(&self, ws: Id, fields: &ChannelFields, actor: Actor) -> StoreResult<Channel>;
    async fn get_channel(&self, ws: Id, id: Id) -> StoreResult<Channel>;
    async fn list_channels(&self, ws: Id, page: &PageRequest) -> StoreResult<Page<Channel>>;
    /// The encrypted secrets of a channel, to be opened by the secrets box.
    async fn channel_secrets(&self, ws: Id, id: Id) -> StoreResult<String>;
    /// Replaces a channel's name, configuration, sealed secrets and enabled flag.
    async fn update_channel(&self, ws: Id, id: Id, fields: &ChannelFields, actor: Actor) -> StoreResult<Channel>;
    async fn delete_channel(&self, ws: Id, id: Id, actor: Actor) -> StoreResult<()>;
}

/// The messaging pipeline: deliveries from providers in, send results out.
#[async_trait]
pub trait InboundStore {
    /// A channel by id in any workspace, with its workspace (the public webhook route knows only the id).
    async fn find_channel(&self, id: Id) -> StoreResult<Option<(Id, Channel)>>;
    /// Ingests one parsed delivery in one transaction: resolves or creates each contact by its identity on
    /// `channel`, reuses its open conversation or opens one (opened by the contact), inserts each message
    /// once per provider id, moves statuses forward only, and appends the events.
    async fn ingest(&self, ws: Id, channel: Id, items: &[InboundItem]) -> StoreResult<IngestReport>;
    /// Ingests several deliveries in one transaction (group commit: one durable commit for all of them),
    /// each exactly as [`InboundStore::ingest`] would and in order; all or nothing.
    async fn ingest_many(&self, deliveries: &[Delivery<'_>]) -> StoreResult<Vec<IngestReport>>;
    /// What sending a stored outgoing message needs: the message, its channel and the contact's id there.
    async fn outbound(&self, ws: Id, message: Id) -> StoreResult<OutboundContext>;
    /// When the contact's latest incoming message on `channel` arrived (the start of a messaging window).
    async fn last_incoming_at(&self, ws: Id, contact: Id, channel: Id) -> StoreResult<Option<Timestamp>>;
    /// Records the provider's id of a sent message and moves it to `sent` (if it is still pending).
    async fn record_sent(&self, ws: Id, message: Id, provider_message_id: &str) -> StoreResult<Message>;
    /// The message with this provider id on the channel.
    async fn message_by_provider_id(
        &self,
        ws: Id,
        channel: Id,
        provider_message_id: &str,
    ) -> StoreResult<Option<Message>>;
    /// The messages exchanged on `channel` with the contact known there as `external_id` (every one of
    /// its conversations), with `id > after`, oldest first, at most `limit`: what a website-chat visitor sees.
    async fn channel_history(
        &self,
        ws: Id,
        channel: Id,
        external_id: &str,
        after: Id,
        limit: u32,
    ) -> StoreResult<Vec<Message>>;
}

/// One parsed delivery for [`InboundStore::ingest_many`].
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    pub workspace_id: Id,
    pub channel_id: Id,
    pub items: &'a [InboundItem],
}

/// Media files the server keeps (the bytes live in the data directory; these rows say who may see them).
#[async_trait]
pub trait MediaStore {
    /// Records that `ws` holds this file (once per workspace and hash).
    async fn record_media(&self, ws: Id, file: &MediaFile) -> StoreResult<MediaFile>;
    async fn get_media(&self, ws: Id, sha256: &str) -> StoreResult<Option<MediaFile>>;
    /// Points an incoming media message at the stored file and appends `message.media.stored`.
    async fn attach_media(&self, ws: Id, message: Id, file: &MediaFile) -> StoreResult<Message>;
}

/// Custom inboxes (saved filters); who may see one is the inbox service's business.
#[async_trait]
pub trait CustomInboxStore {
    async fn create_inbox(&self, ws: Id, owner: Id, fields: &InboxFields, actor: Actor) -> StoreResult<CustomInbox>;
    async fn get_inbox(&self, ws: Id, id: Id) -> StoreResult<CustomInbox>;
    /// Every custom inbox of the workspace, in id order.
    async fn list_inboxes(&self, ws: Id) -> StoreResult<Vec<CustomInbox>>;
    async fn update_inbox(&self, ws: Id, id: Id, fields: &InboxFields, actor: Actor) -> StoreResult<CustomInbox>;
    async fn delete_inbox(&self, ws: Id, id: Id, actor: Actor) -> StoreResult<()>;
}

/// Workspace exports (the file itself is the export service's).
#[async_trait]
pub trait ExportStore {
    /// Stores the request and enqueues its job, in one transaction.
    async fn create_export(
        &self,
        ws: Id,
        user: Id,
        format: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<WorkspaceExport>;
    async fn get_export(&self, ws: Id, id: Id) -> StoreResult<WorkspaceExport>;
    /// The latest 100, newest first.
    async fn list_exports(&self, ws: Id) -> StoreResult<Vec<WorkspaceExport>>;
    async fn export_progress(&self, ws: Id, id: Id, status: &str, total: u64, done: u64) -> StoreResult<()>;
    /// Done with the file's size, or failed with the reason.
    async fn finish_export(&self, ws: Id, id: Id, outcome: Result<u64, &str>) -> StoreResult<()>;
}

/// Per-user notifications (mentions, assignments); written by the comment and assignment transactions.
#[async_trait]
pub trait NotificationStore {
    /// Newest first.
    async fn list_notifications(
        &self,
        ws: Id,
        user: Id,
        unread_only: bool,
        page: &PageRequest,
    ) -> StoreResult<Page<Notification>>;
    /// Marks the user's notifications read (those with these ids, or all); returns how many changed.
    async fn mark_notifications_read(&self, ws: Id, user: Id, ids: Option<&[Id]>) -> StoreResult<u64>;
    async fn unread_notifications(&self, ws: Id, user: Id) -> StoreResult<u64>;
}

/// What the search index is built from, and what a search needs to show and filter its hits.
#[async_trait]
pub trait SearchSourceStore {
    /// Contacts in id order: a page across workspaces, or the named ones of a workspace.
    async fn contacts_to_index(&self, pick: IndexPick<'_>) -> StoreResult<Vec<IndexContact>>;
    /// Messages in id order: a page across workspaces, or the named ones of a workspace.
    async fn messages_to_index(&self, pick: IndexPick<'_>) -> StoreResult<Vec<IndexMessage>>;
    /// How many contacts and messages there are in all (a rebuild's progress).
    async fn count_to_index(&self) -> StoreResult<(u64, u64)>;
    /// The conversations with these ids (missing ones are left out).
    async fn conversations_by_ids(&self, ws: Id, ids: &[Id]) -> StoreResult<Vec<Conversation>>;
    /// Every conversation of these contacts, latest activity first.
    async fn conversations_of_contacts(&self, ws: Id, contacts: &[Id]) -> StoreResult<Vec<Conversation>>;
}

/// The event log (read side; writes happen inside the other methods' transactions).
#[async_trait]
pub trait EventStore {
    /// Events with `seq > after`, in order, at most `limit`.
    async fn list_events(&self, ws: Id, after: i64, limit: u32) -> StoreResult<Vec<Event>>;
    /// The sequence number of the workspace's latest event (0 before the first).
    async fn last_event_seq(&self, ws: Id) -> StoreResult<i64>;
}

/// The durable jobs table.
#[async_trait]
pub trait JobStore {
    async fn enqueue_job(&self, job: &NewJob) -> StoreResult<Job>;
    /// Atomically claims the oldest due job of one of `kinds`: a queued job whose `run_at` has come, or a
    /// running job whose lease ran out (its worker died). Sets it running until `lease_until` and counts the attempt.
    async fn claim_job(&self, kinds: &[String], now: Timestamp, lease_until: Timestamp) -> StoreResult<Option<Job>>;
    async fn complete_job(&self, id: Id, now: Timestamp) -> StoreResult<()>;
    /// Records a failed attempt: back to queued until `retry_at`, or failed for good when `retry_at` is `None`.
    async fn fail_job(&self, id: Id, error: &str, retry_at: Option<Timestamp>, now: Timestamp) -> StoreResult<Job>;
    async fn get_job(&self, id: Id) -> StoreResult<Job>;
    async fn list_jobs(&self, status: Option<JobStatus>, page: &PageRequest) -> StoreResult<Page<Job>>;
    /// Puts a failed job back in the queue with a fresh set of attempts.
    async fn retry_job(&self, id: Id, now: Timestamp) -> StoreResult<Job>;
}

/// Plugin-scoped key-value storage (plugin state, not domain state: no events).
#[async_trait]
pub trait PluginKvStore {
    async fn kv_get(&self, scope: &str, key: &str) -> StoreResult<Option<Vec<u8>>>;
    async fn kv_set(&self, scope: &str, key: &str, value: &[u8]) -> StoreResult<()>;
    async fn kv_delete(&self, scope: &str, key: &str) -> StoreResult<()>;
    /// The plugins owners switched through the API: `(id, enabled)`, server-wide.
    async fn plugin_switches(&self) -> StoreResult<Vec<(String, bool)>>;
    async fn set_plugin_switch(&self, plugin: &str, enabled: bool, by: Id) -> StoreResult<()>;
}

/// Which runs to list.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunFilter {
    pub workflow_id: Option<Id>,
    pub contact_id: Option<Id>,
}

/// Workflows, their published versions, and their runs.
#[async_trait]
pub trait WorkflowStore {
    async fn count_workflows(&self, ws: Id) -> StoreResult<u64>;
    /// Stores a new workflow as a draft.
    async fn create_workflow(
        &self,
        ws: Id,
        name: &str,
        definition: &serde_json::Value,
        actor: Actor,
    ) -> StoreResult<Workflow>;
    async fn get_workflow(&self, ws: Id, id: Id) -> StoreResult<Workflow>;
    /// A workflow by id in any workspace (its public webhook URL knows only the id).
    async fn find_workflow(&self, id: Id) -> StoreResult<Option<Workflow>>;
    /// The contact of the workspace with this (normalised) phone number or e-mail, the oldest if several.
    async fn contact_with(&self, ws: Id, by: IdentifyBy, value: &str) -> StoreResult<Option<Id>>;
    async fn list_workflows(&self, ws: Id, page: &PageRequest) -> StoreResult<Page<Workflow>>;
    /// Replaces the draft (the published version, and the runs on it, are untouched).
    async fn update_workflow(
        &self,
        ws: Id,
        id: Id,
        name: &str,
        definition: &serde_json::Value,
        actor: Actor,
    ) -> StoreResult<Workflow>;
    /// Deletes a workflow with its versions and runs.
    async fn delete_workflow(&self, ws: Id, id: Id, actor: Actor) -> StoreResult<()>;
    /// Freezes `definition` (the checked draft) as the next version and makes it the live one.
    async fn publish_workflow(&self, ws: Id, id: Id, definition: &Definition, actor: Actor) -> StoreResult<Workflow>;
    /// Stops new runs (runs in progress finish).
    async fn unpublish_workflow(&self, ws: Id, id: Id, actor: Actor) -> StoreResult<Workflow>;
    /// The live version of every published workflow of the workspace.
    async fn published_workflows(&self, ws: Id) -> StoreResult<Vec<PublishedWorkflow>>;
    async fn workflow_version(&self, ws: Id, workflow: Id, version: i64) -> StoreResult<Definition>;
    /// How far the trigger reader has read the workspace's event log (`None`: never).
    async fn workflow_cursor(&self, ws: Id) -> StoreResult<Option<i64>>;
    /// Starts `runs` (each with the job of its first step) and, when `cursor` is given as `(from, to)`,
    /// moves the trigger reader's cursor from `from` to `to`, all in one transaction. `None` when the
    /// cursor was not at `from` (another reader went first; nothing is written). Runs already started by
    /// the same trigger event, and runs of a once-per-contact workflow the contact had, are left out.
    /// Each of `answers` queues the job that checks a reply for the run waiting at its question.
    async fn start_runs(
        &self,
        ws: Id,
        cursor: Option<(Option<i64>, i64)>,
        runs: &[NewRun],
        answers: &[RunAnswer],
    ) -> StoreResult<Option<Vec<WorkflowRun>>>;
    /// The contact's runs that wait (at a wait step or a question), the latest to wait first.
    async fn waiting_runs(&self, ws: Id, contact: Id) -> StoreResult<Vec<WorkflowRun>>;
    /// Whether any run of the workspace waits.
    async fn has_waiting_runs(&self, ws: Id) -> StoreResult<bool>;
    /// The conversation's latest message in `direction` (`$message.*` and `$last_outgoing.*` of workflows).
    async fn last_message(&self, ws: Id, conversation: Id, direction: Direction) -> StoreResult<Option<Message>>;
    async fn get_run(&self, ws: Id, id: Id) -> StoreResult<WorkflowRun>;
    /// Newest first.
    async fn list_runs(&self, ws: Id, filter: RunFilter, page: &PageRequest) -> StoreResult<Page<WorkflowRun>>;
    /// The run's log, in order.
    async fn run_steps(&self, ws: Id, run: Id) -> StoreResult<Vec<RunStep>>;
    /// Records one step of a run with its effect (and the effect's events), the run's next state and, when
    /// it waits, the job that wakes it, in one transaction; `false` (nothing written) if the run's `step_seq` is no
    /// longer `expected_seq`, i.e. the step was committed already.
    async fn commit_step(&self, ws: Id, step: &StepCommit) -> StoreResult<bool>;
}

/// Everything the server needs from storage.
#[async_trait]
pub trait Store:
    AccountStore
    + ContactStore
    + ConversationStore
    + SettingsStore
    + InboundStore
    + MediaStore
    + NotificationStore
    + CustomInboxStore
    + ExportStore
    + SearchSourceStore
    + EventStore
    + JobStore
    + PluginKvStore
    + WorkflowStore
    + Send
    + Sync
{
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
    /// Applies the embedded migrations that have not run yet.
    async fn migrate(&self) -> StoreResult<()>;
    /// A cheap round trip to the database, for readiness checks.
    async fn ping(&self) -> StoreResult<()>;
    async fn close(&self);
}

/// Connects to the database the URL names. SQLite creates the file (not its directory); PostgreSQL must
/// be reachable. Never falls back to another backend.
pub async fn connect(url: &DatabaseUrl, settings: &crate::config::DatabaseConfig) -> StoreResult<Arc<dyn Store>> {
    let max_connections = settings.max_connections;
    Ok(match url {
        DatabaseUrl::Sqlite(path) => {
            let durable = settings.sqlite_synchronous != "normal";
            Arc::new(SqliteStore::open(path, max_connections, durable).await?)
        }
        DatabaseUrl::Postgres(url) => Arc::new(PgStore::connect(url, max_connections).await?),
    })
}
