//! Row shapes as both backends return them, and their conversion into domain types.

use sqlx::FromRow;

use crate::model::*;

use super::from_json;

fn actor(kind: &str, id: Option<Id>) -> Actor {
    Actor { kind: ActorKind::parse(kind).unwrap_or(ActorKind::System), id }
}

#[derive(FromRow)]
pub(super) struct EventRow {
    id: Id,
    workspace_id: Id,
    seq: i64,
    kind: String,
    subject_id: Option<Id>,
    actor_kind: String,
    actor_id: Option<Id>,
    data: String,
    created_at: i64,
}

impl From<EventRow> for Event {
    fn from(r: EventRow) -> Self {
        Event {
            id: r.id,
            workspace_id: r.workspace_id,
            seq: r.seq,
            kind: r.kind,
            subject_id: r.subject_id,
            actor: actor(&r.actor_kind, r.actor_id),
            data: serde_json::from_str(&r.data).unwrap_or(serde_json::Value::Null),
            created_at: ts_from_ms(r.created_at),
        }
    }
}

#[derive(FromRow)]
pub(super) struct OrganisationRow {
    pub id: Id,
    name: String,
    created_at: i64,
}

impl From<OrganisationRow> for Organisation {
    fn from(r: OrganisationRow) -> Self {
        Organisation { id: r.id, name: r.name, created_at: ts_from_ms(r.created_at) }
    }
}

pub(super) const WORKSPACE_COLUMNS: &str = "w.id, w.organisation_id, w.name, w.timezone, w.closing_note_mode, w.auto_close_minutes, w.agent_access, \
     w.created_at";

#[derive(FromRow)]
pub(super) struct WorkspaceRow {
    id: Id,
    organisation_id: Id,
    name: String,
    timezone: String,
    closing_note_mode: String,
    auto_close_minutes: Option<i64>,
    agent_access: String,
    created_at: i64,
}

impl From<WorkspaceRow> for Workspace {
    fn from(r: WorkspaceRow) -> Self {
        Workspace {
            id: r.id,
            organisation_id: r.organisation_id,
            name: r.name,
            timezone: r.timezone,
            closing_note_mode: ClosingNoteMode::parse(&r.closing_note_mode).unwrap_or_default(),
            auto_close_minutes: r.auto_close_minutes.and_then(|m| u32::try_from(m).ok()),
            agent_access: AgentAccess::parse(&r.agent_access).unwrap_or_default(),
            created_at: ts_from_ms(r.created_at),
        }
    }
}

#[derive(FromRow)]
pub(super) struct WorkspaceRoleRow {
    #[sqlx(flatten)]
    workspace: WorkspaceRow,
    role: String,
}

impl From<WorkspaceRoleRow> for (Workspace, Role) {
    fn from(r: WorkspaceRoleRow) -> Self {
        (r.workspace.into(), Role::parse(&r.role).unwrap_or(Role::Agent))
    }
}

pub(super) const USER_COLUMNS: &str = "u.id, u.email, u.name, m.role, u.availability, u.language, m.created_at";

#[derive(FromRow)]
pub(super) struct UserRow {
    pub id: Id,
    email: String,
    name: String,
    role: String,
    availability: String,
    language: Option<String>,
    pub created_at: i64,
}

impl From<UserRow> for User {
    fn from(r: UserRow) -> Self {
        User {
            id: r.id,
            email: r.email,
            name: r.name,
            role: Role::parse(&r.role).unwrap_or(Role::Agent),
            availability: Availability::parse(&r.availability).unwrap_or_default(),
            language: r.language,
            created_at: ts_from_ms(r.created_at),
        }
    }
}

pub(super) const TOKEN_COLUMNS: &str = "id, workspace_id, user_id, name, prefix, created_at, last_used_at";

#[derive(FromRow)]
pub(super) struct TokenRow {
    pub id: Id,
    workspace_id: Id,
    user_id: Id,
    name: String,
    prefix: String,
    created_at: i64,
    last_used_at: Option<i64>,
}

impl From<TokenRow> for ApiToken {
    fn from(r: TokenRow) -> Self {
        ApiToken {
            id: r.id,
            workspace_id: r.workspace_id,
            user_id: r.user_id,
            name: r.name,
            prefix: r.prefix,
            created_at: ts_from_ms(r.created_at),
            last_used_at: r.last_used_at.map(ts_from_ms),
        }
    }
}

#[derive(FromRow)]
pub(super) struct PrincipalRow {
    pub user_id: Id,
    pub workspace_id: Id,
    pub role: String,
    pub token_id: Option<Id>,
}

impl From<PrincipalRow> for Principal {
    fn from(r: PrincipalRow) -> Self {
        Principal {
            user_id: r.user_id,
            workspace_id: r.workspace_id,
            role: Role::parse(&r.role).unwrap_or(Role::Agent),
            token_id: r.token_id,
        }
    }
}

pub(super) const CONTACT_COLUMNS: &str = "id, workspace_id, first_name, last_name, phone, email, country, language, \
     avatar_url, lifecycle_stage, assignee_id, blocked, custom_fields, created_at, updated_at";

#[derive(FromRow)]
pub(super) struct ContactRow {
    pub id: Id,
    workspace_id: Id,
    first_name: Option<String>,
    last_name: Option<String>,
    phone: Option<String>,
    email: Option<String>,
    country: Option<String>,
    language: Option<String>,
    avatar_url: Option<String>,
    lifecycle_stage: Option<String>,
    assignee_id: Option<Id>,
    blocked: bool,
    custom_fields: String,
    created_at: i64,
    updated_at: i64,
}

impl ContactRow {
    pub fn into_contact(self, tags: Vec<String>, identities: Vec<ChannelIdentity>) -> Contact {
        Contact {
            id: self.id,
            workspace_id: self.workspace_id,
            first_name: self.first_name,
            last_name: self.last_name,
            phone: self.phone,
            email: self.email,
            country: self.country,
            language: self.language,
            avatar_url: self.avatar_url,
            lifecycle_stage: self.lifecycle_stage,
            assignee_id: self.assignee_id,
            blocked: self.blocked,
            custom_fields: from_json(&self.custom_fields),
            tags,
            identities,
            created_at: ts_from_ms(self.created_at),
            updated_at: ts_from_ms(self.updated_at),
        }
    }
}

#[derive(FromRow)]
pub(super) struct FieldDefinitionRow {
    id: Id,
    key: String,
    label: String,
    field_type: String,
    options: String,
}

impl From<FieldDefinitionRow> for FieldDefinition {
    fn from(r: FieldDefinitionRow) -> Self {
        FieldDefinition {
            id: r.id,
            key: r.key,
            label: r.label,
            field_type: FieldType::parse(&r.field_type).unwrap_or(FieldType::Text),
            options: from_json(&r.options),
        }
    }
}

#[derive(FromRow)]
pub(super) struct NamedRow {
    pub id: Id,
    pub name: String,
    pub created_at: i64,
}

impl From<NamedRow> for Tag {
    fn from(r: NamedRow) -> Self {
        Tag { id: r.id, name: r.name, created_at: ts_from_ms(r.created_at) }
    }
}

impl From<NamedRow> for ClosingCategory {
    fn from(r: NamedRow) -> Self {
        ClosingCategory { id: r.id, name: r.name, created_at: ts_from_ms(r.created_at) }
    }
}

pub(super) const CONVERSATION_COLUMNS: &str = "id, workspace_id, contact_id, status, assignee_id, team_id, opened_at, \
     opened_by_kind, opened_by_id, closed_at, closed_by_kind, closed_by_id, closing_category_id, closing_summary, \
     last_incoming_at, last_outgoing_at, first_response_at, last_channel_id, last_activity_at";

#[derive(FromRow)]
pub(super) struct ConversationRow {
    id: Id,
    workspace_id: Id,
    contact_id: Id,
    status: String,
    assignee_id: Option<Id>,
    team_id: Option<Id>,
    opened_at: i64,
    opened_by_kind: String,
    opened_by_id: Option<Id>,
    closed_at: Option<i64>,
    closed_by_kind: Option<String>,
    closed_by_id: Option<Id>,
    closing_category_id: Option<Id>,
    closing_summary: Option<String>,
    last_incoming_at: Option<i64>,
    last_outgoing_at: Option<i64>,
    first_response_at: Option<i64>,
    last_channel_id: Option<Id>,
    last_activity_at: i64,
}

impl From<ConversationRow> for Conversation {
    fn from(r: ConversationRow) -> Self {
        Conversation {
            id: r.id,
            workspace_id: r.workspace_id,
            contact_id: r.contact_id,
            status: ConversationStatus::parse(&r.status).unwrap_or(ConversationStatus::Closed),
            assignee_id: r.assignee_id,
            team_id: r.team_id,
            opened_at: ts_from_ms(r.opened_at),
            opened_by: actor(&r.opened_by_kind, r.opened_by_id),
            closed_at: r.closed_at.map(ts_from_ms),
            closed_by: r.closed_by_kind.map(|k| actor(&k, r.closed_by_id)),
            closing_category_id: r.closing_category_id,
            closing_summary: r.closing_summary,
            last_incoming_at: r.last_incoming_at.map(ts_from_ms),
            last_outgoing_at: r.last_outgoing_at.map(ts_from_ms),
            first_response_at: r.first_response_at.map(ts_from_ms),
            last_channel_id: r.last_channel_id,
            last_activity_at: ts_from_ms(r.last_activity_at),
            unread: r.last_incoming_at.is_some_and(|i| r.last_outgoing_at.is_none_or(|o| o < i)),
            pinned: false,
        }
    }
}

#[derive(FromRow)]
pub(super) struct AssignmentRow {
    id: Id,
    conversation_id: Id,
    actor_kind: String,
    actor_id: Option<Id>,
    from_user_id: Option<Id>,
    to_user_id: Option<Id>,
    from_team_id: Option<Id>,
    to_team_id: Option<Id>,
    created_at: i64,
}

impl From<AssignmentRow> for Assignment {
    fn from(r: AssignmentRow) -> Self {
        Assignment {
            id: r.id,
            conversation_id: r.conversation_id,
            actor: actor(&r.actor_kind, r.actor_id),
            from_user_id: r.from_user_id,
            to_user_id: r.to_user_id,
            from_team_id: r.from_team_id,
            to_team_id: r.to_team_id,
            created_at: ts_from_ms(r.created_at),
        }
    }
}

pub(super) const MESSAGE_COLUMNS: &str = "id, workspace_id, conversation_id, contact_id, channel_id, direction, \
     sender_kind, sender_id, content, provider_message_id, status, failure_reason, created_at, updated_at";

#[derive(FromRow)]
pub(super) struct MessageRow {
    id: Id,
    workspace_id: Id,
    conversation_id: Id,
    contact_id: Id,
    channel_id: Option<Id>,
    direction: String,
    sender_kind: String,
    sender_id: Option<Id>,
    content: String,
    provider_message_id: Option<String>,
    status: String,
    failure_reason: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl From<MessageRow> for Message {
    fn from(r: MessageRow) -> Self {
        let content = serde_json::from_str(&r.content).unwrap_or_else(|_| MessageContent::text("[unreadable content]"));
        Message {
            id: r.id,
            workspace_id: r.workspace_id,
            conversation_id: r.conversation_id,
            contact_id: r.contact_id,
            channel_id: r.channel_id,
            direction: Direction::parse(&r.direction).unwrap_or(Direction::Incoming),
            sender: actor(&r.sender_kind, r.sender_id),
            content,
            provider_message_id: r.provider_message_id,
            status: MessageStatus::parse(&r.status).unwrap_or(MessageStatus::Pending),
            failure_reason: r.failure_reason,
            created_at: ts_from_ms(r.created_at),
            updated_at: ts_from_ms(r.updated_at),
        }
    }
}

/// A conversation id and workspace, its contact's name columns, and its latest message (all `NULL` without one).
#[derive(FromRow)]
pub(super) struct SummaryRow(
    Id,
    pub Id,
    Id,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<Id>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<Id>,
    Option<i64>,
);

impl SummaryRow {
    pub(super) fn into_summary(self) -> (Id, ConversationSummary) {
        let SummaryRow(id, _, contact, first, last, phone, email, message, direction, content, status, channel, at) =
            self;
        let last_message = match (message, direction, content, status, at) {
            (Some(message), Some(direction), Some(content), Some(status), Some(at)) => {
                let content: MessageContent =
                    serde_json::from_str(&content).unwrap_or_else(|_| MessageContent::text("[unreadable content]"));
                Some(LastMessage {
                    id: message,
                    direction: Direction::parse(&direction).unwrap_or(Direction::Incoming),
                    kind: content.type_name().to_owned(),
                    preview: content.preview(),
                    status: MessageStatus::parse(&status).unwrap_or(MessageStatus::Pending),
                    channel_id: channel,
                    created_at: ts_from_ms(at),
                })
            }
            _ => None,
        };
        let contact_name = contact_display_name(contact, [&first, &last], &phone, &email);
        (id, ConversationSummary { contact_name, contact_phone: phone, last_message })
    }
}

#[derive(FromRow)]
pub(super) struct CommentRow {
    pub id: Id,
    workspace_id: Id,
    conversation_id: Id,
    author_id: Option<Id>,
    workflow_id: Option<Id>,
    body: String,
    created_at: i64,
}

impl CommentRow {
    pub fn into_comment(self, mentions: Vec<Id>) -> Comment {
        Comment {
            id: self.id,
            workspace_id: self.workspace_id,
            conversation_id: self.conversation_id,
            author_id: self.author_id,
            workflow_id: self.workflow_id,
            body: self.body,
            mentions,
            created_at: ts_from_ms(self.created_at),
        }
    }
}

#[derive(FromRow)]
pub(super) struct SnippetRow {
    id: Id,
    shortcut: String,
    body: String,
    created_at: i64,
    updated_at: i64,
}

impl From<SnippetRow> for Snippet {
    fn from(r: SnippetRow) -> Self {
        Snippet {
            id: r.id,
            shortcut: r.shortcut,
            body: r.body,
            created_at: ts_from_ms(r.created_at),
            updated_at: ts_from_ms(r.updated_at),
        }
    }
}

pub(super) const TEMPLATE_COLUMNS: &str =
    "id, channel_id, name, language, category, components, status, created_at, updated_at";

#[derive(FromRow)]
pub(super) struct TemplateRow {
    id: Id,
    channel_id: Option<Id>,
    name: String,
    language: String,
    category: String,
    components: String,
    status: String,
    created_at: i64,
    updated_at: i64,
}

impl From<TemplateRow> for Template {
    fn from(r: TemplateRow) -> Self {
        Template {
            id: r.id,
            channel_id: r.channel_id,
            name: r.name,
            language: r.language,
            category: TemplateCategory::parse(&r.category).unwrap_or(TemplateCategory::Utility),
            components: from_json(&r.components),
            status: r.status,
            created_at: ts_from_ms(r.created_at),
            updated_at: ts_from_ms(r.updated_at),
        }
    }
}

pub(super) const CHANNEL_COLUMNS: &str = "id, name, plugin_id, config, secret_names, enabled, created_at";

#[derive(FromRow)]
pub(super) struct ChannelRow {
    id: Id,
    name: String,
    plugin_id: String,
    config: String,
    secret_names: String,
    enabled: bool,
    created_at: i64,
}

/// A channel with its workspace (the public webhook route looks channels up by id alone).
#[derive(FromRow)]
pub(super) struct WorkspaceChannelRow {
    workspace_id: Id,
    #[sqlx(flatten)]
    channel: ChannelRow,
}

impl WorkspaceChannelRow {
    pub(super) fn split(self) -> (Id, Channel) {
        (self.workspace_id, self.channel.into())
    }
}

impl From<ChannelRow> for Channel {
    fn from(r: ChannelRow) -> Self {
        Channel {
            id: r.id,
            name: r.name,
            plugin_id: r.plugin_id,
            config: serde_json::from_str(&r.config).unwrap_or(serde_json::Value::Null),
            secret_names: from_json(&r.secret_names),
            enabled: r.enabled,
            created_at: ts_from_ms(r.created_at),
        }
    }
}

pub(super) const JOB_COLUMNS: &str = "id, workspace_id, kind, payload, status, run_at, attempts, max_attempts, \
     locked_until, last_error, created_at, updated_at";

#[derive(FromRow)]
pub(super) struct JobRow {
    id: Id,
    workspace_id: Option<Id>,
    kind: String,
    payload: String,
    status: String,
    run_at: i64,
    attempts: i64,
    max_attempts: i64,
    locked_until: Option<i64>,
    last_error: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl From<JobRow> for Job {
    fn from(r: JobRow) -> Self {
        Job {
            id: r.id,
            workspace_id: r.workspace_id,
            kind: r.kind,
            payload: serde_json::from_str(&r.payload).unwrap_or(serde_json::Value::Null),
            status: JobStatus::parse(&r.status).unwrap_or(JobStatus::Failed),
            run_at: ts_from_ms(r.run_at),
            attempts: u32::try_from(r.attempts).unwrap_or(u32::MAX),
            max_attempts: u32::try_from(r.max_attempts).unwrap_or(u32::MAX),
            locked_until: r.locked_until.map(ts_from_ms),
            last_error: r.last_error,
            created_at: ts_from_ms(r.created_at),
            updated_at: ts_from_ms(r.updated_at),
        }
    }
}

pub(super) const NOTIFICATION_COLUMNS: &str =
    "id, kind, conversation_id, comment_id, actor_kind, actor_id, created_at, read_at";

#[derive(FromRow)]
pub(super) struct NotificationRow {
    id: Id,
    kind: String,
    conversation_id: Id,
    comment_id: Option<Id>,
    actor_kind: String,
    actor_id: Option<Id>,
    created_at: i64,
    read_at: Option<i64>,
}

impl From<NotificationRow> for Notification {
    fn from(r: NotificationRow) -> Self {
        Notification {
            id: r.id,
            kind: r.kind,
            conversation_id: r.conversation_id,
            comment_id: r.comment_id,
            actor: actor(&r.actor_kind, r.actor_id),
            created_at: ts_from_ms(r.created_at),
            read_at: r.read_at.map(ts_from_ms),
        }
    }
}
