//! Workflows: a trigger and a tree of steps (the definition, kept as versioned JSON), and their runs with
//! the log of every step they took.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use chrono::{DateTime, Utc};

use super::{CloseRequest, ContactFields, Id, NewMessage, Timestamp};

/// The job that advances a run (payload: `run_id`, `step_seq`).
pub const WORKFLOW_RUN_JOB: &str = "workflow.run";

/// A workflow as the API shows it: the editable draft and, once published, the live version's number.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Workflow {
    pub id: Id,
    pub workspace_id: Id,
    pub name: String,
    pub status: WorkflowStatus,
    /// The draft being edited (the published version is frozen in `workflow_versions`).
    #[schema(value_type = Object)]
    pub definition: serde_json::Value,
    pub published_version: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WorkflowStatus {
    Draft,
    Published,
}

impl WorkflowStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Published => "published",
        }
    }
}

/// A published version, ready to be matched against events and run.
#[derive(Debug, Clone)]
pub struct PublishedWorkflow {
    pub id: Id,
    pub version: i64,
    pub definition: Definition,
    pub published_at: Timestamp,
}

/// What a workflow does: its trigger and its steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Definition {
    pub trigger: Trigger,
    /// Start at most one run per contact, ever.
    #[serde(default)]
    pub trigger_once_per_contact: bool,
    #[serde(default)]
    pub steps: Vec<Step>,
}

/// What starts a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Trigger {
    /// A conversation opened; `sources` narrows who opened it (none: any).
    ConversationOpened {
        #[serde(default)]
        sources: Vec<OpenSource>,
    },
    ConversationClosed {},
    /// Tags added to or removed from a contact; `tags` narrows which (none: any).
    ContactTagUpdated {
        #[serde(default)]
        tags: Vec<String>,
        #[serde(default)]
        action: TagEvent,
    },
    /// One of `fields` (standard field names or custom field keys) changed.
    ContactFieldUpdated {
        fields: Vec<String>,
    },
    /// The lifecycle stage changed; `stages` narrows to the new stage (none: any).
    LifecycleUpdated {
        #[serde(default)]
        stages: Vec<String>,
    },
    /// Started through the API (`POST /workflows/{id}/runs`) or by another workflow.
    Manual {},
    /// A form an agent runs from a conversation (`POST /conversations/{id}/shortcuts/{workflow_id}`); its
    /// fields become variables.
    Shortcut {
        #[serde(default)]
        fields: Vec<ShortcutField>,
    },
    /// A POST of JSON to the workflow's secret URL; `key` (a dotted path into the body) names the contact
    /// by `identify_by` (a contact is created for a new phone number or e-mail). The body's top-level
    /// values become variables.
    IncomingWebhook {
        identify_by: IdentifyBy,
        key: String,
    },
}

impl Trigger {
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::ConversationOpened { .. } => "conversation_opened",
            Self::ConversationClosed {} => "conversation_closed",
            Self::ContactTagUpdated { .. } => "contact_tag_updated",
            Self::ContactFieldUpdated { .. } => "contact_field_updated",
            Self::LifecycleUpdated { .. } => "lifecycle_updated",
            Self::Manual {} => "manual",
            Self::Shortcut { .. } => "shortcut",
            Self::IncomingWebhook { .. } => "incoming_webhook",
        }
    }
}

/// One field of a shortcut's form: its value becomes `$variables.NAME`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShortcutField {
    pub name: String,
    pub label: String,
    #[serde(default)]
    pub required: bool,
}

/// What an incoming webhook's contact key holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentifyBy {
    Phone,
    Email,
    ContactId,
}

/// Who opened a conversation, for the conversation-opened trigger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpenSource {
    User,
    Workflow,
    Contact,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TagEvent {
    #[default]
    Any,
    Added,
    Removed,
}

/// One step: a unique id (what jumps and the run log name) and what it does.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub id: String,
    pub kind: StepKind,
}

/// The steps. A list of steps runs in order; a step's branches hold their own lists, and a run ends at the
/// end of the list it is in (branches do not join again; `jump` goes back to a step).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum StepKind {
    /// Sends text (with variables) on the contact's last interacted channel or on `channel_id`; on a
    /// channel whose plugin `per_channel` names, that content instead (a template, media, buttons: any
    /// message content the API takes, its texts with variables). Failure (no channel, closed window,
    /// content refused) goes to `on_failure`, or ends the run without it.
    SendMessage {
        #[serde(default)]
        text: String,
        #[serde(default)]
        channel_id: Option<Id>,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        per_channel: BTreeMap<String, super::MessageContent>,
        #[serde(default)]
        on_failure: Vec<Step>,
    },
    /// Asks the contact a question on their last interacted channel and waits for the answer. A valid
    /// answer is saved and the run goes on; an invalid one goes to `on_failure` (or ends the run); no
    /// answer within `timeout_seconds` (at most and by default 7 days) goes to `on_timeout` (or ends it).
    /// The contact exits when the question cannot be sent (no channel, a closed window).
    AskQuestion {
        text: String,
        answer: AnswerType,
        #[serde(default)]
        save_to: Option<SaveTo>,
        #[serde(default = "week")]
        timeout_seconds: u64,
        #[serde(default)]
        on_timeout: Vec<Step>,
        #[serde(default)]
        on_failure: Vec<Step>,
    },
    /// Adds or removes contact tags.
    UpdateTag { action: TagChange, tags: Vec<String> },
    /// Sets a contact field (a standard field or a custom field's key); text may hold variables; `null` clears.
    UpdateField {
        field: String,
        #[serde(default)]
        value: serde_json::Value,
    },
    /// The first branch whose conditions hold runs; else `else`.
    Branch {
        branches: Vec<Branch>,
        #[serde(default, rename = "else")]
        otherwise: Vec<Step>,
    },
    /// Pauses the run for `seconds` (at most 7 days).
    Wait { seconds: u64 },
    /// Continues at step `to`; after 10 jumps in a run, continues past the jump instead.
    Jump { to: String },
    /// Assigns the contact's open conversation: to `user_id`, to a member of `team_id` or of the
    /// workspace (in turn or the one with the fewest open conversations, optionally online members only
    /// and under a cap of open conversations), or unassigns it. `to` defaults to `user` when `user_id` is
    /// given, else `unassign`. With nobody eligible the step checks again every minute for up to
    /// `timeout_seconds` and then goes down `on_timeout` (or the run ends); without a timeout the run goes
    /// on with the conversation unassigned.
    Assign {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<AssignTo>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user_id: Option<Id>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        team_id: Option<Id>,
        #[serde(default)]
        rule: AssignRule,
        #[serde(default)]
        online_only: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_open: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timeout_seconds: Option<u64>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        on_timeout: Vec<Step>,
    },
    /// Adds an internal comment to the contact's open conversation (the last one when none is open),
    /// mentioning `mentions` (user ids, notified as an agent's mentions are). Text may hold variables.
    AddComment {
        text: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        mentions: Vec<Id>,
    },
    /// Runs a step plugin (`plugin` is its id: the bundled `http-request`, `google-sheets`, `ai-reply`, or
    /// a third party's) with `inputs`, whose texts may hold variables. Every output becomes a variable of
    /// the run; an output `$reply` is sent to the contact as a message. The branch the plugin takes runs
    /// its steps from `branches`; a branch without steps goes on after the step, except `failure`, which
    /// ends the run like every failure path. An error of the plugin is a `failure`.
    Plugin {
        plugin: String,
        #[serde(default)]
        inputs: serde_json::Map<String, serde_json::Value>,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        branches: BTreeMap<String, Vec<Step>>,
    },
    /// Goes on when now is within `business_hours` (per weekday) or `date_range`, in `timezone` (the
    /// workspace's by default); otherwise down `on_failure` (or the run ends).
    DateTime {
        #[serde(default)]
        timezone: Option<String>,
        #[serde(default)]
        business_hours: Option<BTreeMap<Weekday, Vec<[String; 2]>>>,
        #[serde(default)]
        date_range: Option<DateRange>,
        #[serde(default)]
        on_failure: Vec<Step>,
    },
    /// Starts a published workflow with a manual trigger for the contact, with this run's variables.
    TriggerWorkflow { workflow_id: Id },
    /// Opens a conversation with the contact unless one is open.
    OpenConversation {},
    /// Closes the contact's open conversation with an optional category and summary.
    CloseConversation {
        #[serde(default)]
        category_id: Option<Id>,
        #[serde(default)]
        summary: Option<String>,
    },
}

impl StepKind {
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::SendMessage { .. } => "send_message",
            Self::AskQuestion { .. } => "ask_question",
            Self::UpdateTag { .. } => "update_tag",
            Self::UpdateField { .. } => "update_field",
            Self::Branch { .. } => "branch",
            Self::Wait { .. } => "wait",
            Self::Jump { .. } => "jump",
            Self::Assign { .. } => "assign",
            Self::AddComment { .. } => "add_comment",
            Self::Plugin { .. } => "plugin",
            Self::DateTime { .. } => "date_time",
            Self::TriggerWorkflow { .. } => "trigger_workflow",
            Self::OpenConversation {} => "open_conversation",
            Self::CloseConversation { .. } => "close_conversation",
        }
    }

    /// The lists of steps under this one, with the name of the path each is.
    pub fn children(&self) -> Vec<(String, &[Step])> {
        match self {
            Self::SendMessage { on_failure, .. } | Self::DateTime { on_failure, .. } => {
                vec![("failure".into(), on_failure.as_slice())]
            }
            Self::AskQuestion { on_timeout, on_failure, .. } => {
                vec![("timeout".into(), on_timeout.as_slice()), ("failure".into(), on_failure.as_slice())]
            }
            Self::Assign { on_timeout, .. } => vec![("timeout".into(), on_timeout.as_slice())],
            Self::Plugin { branches, .. } => {
                branches.iter().map(|(name, steps)| (name.clone(), steps.as_slice())).collect()
            }
            Self::Branch { branches, otherwise } => {
                let mut out: Vec<(String, &[Step])> =
                    branches.iter().map(|b| (b.name.clone(), b.steps.as_slice())).collect();
                out.push(("else".into(), otherwise));
                out
            }
            _ => vec![],
        }
    }
}

impl Serialize for Step {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut value = serde_json::to_value(&self.kind).map_err(serde::ser::Error::custom)?;
        if let Some(map) = value.as_object_mut() {
            map.insert("id".into(), serde_json::Value::String(self.id.clone()));
        }
        value.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Step {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let mut map = serde_json::Map::deserialize(d)?;
        let id = match map.remove("id") {
            Some(serde_json::Value::String(id)) => id,
            Some(_) => return Err(D::Error::custom("`id` must be a string")),
            None => return Err(D::Error::missing_field("id")),
        };
        let kind = StepKind::deserialize(serde_json::Value::Object(map)).map_err(D::Error::custom)?;
        Ok(Self { id, kind })
    }
}

/// Whom an assign step assigns to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssignTo {
    User,
    Team,
    Workspace,
    Unassign,
}

/// How an assign step picks among eligible users.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssignRule {
    /// The next one after the user assigned last (per team, or per workspace), in turn.
    #[default]
    RoundRobin,
    /// The one with the fewest open conversations.
    LeastOpen,
}

/// Days of the week, as business hours name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Weekday {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

/// From and to, each `yyyy-mm-ddThh:mm` or `yyyy-mm-dd` (a whole day), in the step's time zone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DateRange {
    pub from: String,
    pub to: String,
}

fn week() -> u64 {
    7 * 24 * 3600
}

/// What a question accepts as an answer (the seed's question types).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum AnswerType {
    Text {},
    /// One of up to 10 options (each at most 20 characters), answered by its text or its number.
    MultipleChoice {
        options: Vec<String>,
    },
    Number {
        #[serde(default)]
        min: Option<f64>,
        #[serde(default)]
        max: Option<f64>,
    },
    /// `mm/dd/yyyy`; saved as `yyyy-mm-dd`.
    Date {},
    /// With the country code; saved in E.164.
    Phone {},
    Email {},
    Url {},
    /// 1 to 5.
    Rating {},
}

impl AnswerType {
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Text {} => "text",
            Self::MultipleChoice { .. } => "multiple_choice",
            Self::Number { .. } => "number",
            Self::Date {} => "date",
            Self::Phone {} => "phone",
            Self::Email {} => "email",
            Self::Url {} => "url",
            Self::Rating {} => "rating",
        }
    }
}

/// Where an answer is kept: a contact field, a run variable, or (multiple choice only) a tag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SaveTo {
    ContactField(String),
    Variable(String),
    Tag,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TagChange {
    Add,
    Remove,
}

/// One branch of a branch step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Branch {
    pub name: String,
    /// How the conditions combine.
    #[serde(default, rename = "match")]
    pub join: Join,
    pub conditions: Vec<StepCondition>,
    #[serde(default)]
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Join {
    #[default]
    All,
    Any,
}

/// `variable operator value`, e.g. `$contact.tags has_any_of ["vip"]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepCondition {
    pub variable: String,
    pub operator: Operator,
    #[serde(default)]
    pub value: serde_json::Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operator {
    Equal,
    NotEqual,
    Contains,
    NotContains,
    Exists,
    NotExists,
    GreaterThan,
    LessThan,
    Before,
    After,
    HasAnyOf,
    HasAllOf,
    HasNoneOf,
}

impl Operator {
    /// Whether the operator compares with a value (`exists` and `not_exists` do not).
    pub fn needs_value(self) -> bool {
        !matches!(self, Self::Exists | Self::NotExists)
    }
}

/// A run's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Has a step to take now (its job is queued).
    Active,
    /// Paused until `wake_at`.
    Waiting,
    /// Reached the end of its path.
    Completed,
    /// Left early: a failure without a failure branch, or the contact has no channel (see `end_reason`).
    Exited,
    /// Stopped by an error of the server or of the definition.
    Failed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Waiting => "waiting",
            Self::Completed => "completed",
            Self::Exited => "exited",
            Self::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "active" => Self::Active,
            "waiting" => Self::Waiting,
            "completed" => Self::Completed,
            "exited" => Self::Exited,
            _ => Self::Failed,
        }
    }

    pub fn is_over(self) -> bool {
        matches!(self, Self::Completed | Self::Exited | Self::Failed)
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WorkflowRun {
    pub id: Id,
    pub workspace_id: Id,
    pub workflow_id: Id,
    pub version: i64,
    pub contact_id: Id,
    pub conversation_id: Option<Id>,
    pub status: RunStatus,
    /// The step to take next (`null` once over).
    pub position: Option<String>,
    /// How many steps were committed.
    pub step_seq: i64,
    pub jumps: i64,
    /// Trigger data, answers and step outputs (`$variables.NAME`).
    #[schema(value_type = Object)]
    pub variables: BTreeMap<String, serde_json::Value>,
    /// Waiting at a question for the contact's answer (`wake_at` is then the answer's deadline).
    pub awaiting_answer: bool,
    pub wake_at: Option<DateTime<Utc>>,
    pub end_reason: Option<String>,
    pub started_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
}

/// One entry of a run's log.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RunStep {
    pub seq: i64,
    pub step_id: String,
    pub step_type: String,
    #[schema(value_type = Object)]
    pub input: serde_json::Value,
    #[schema(value_type = Object)]
    pub output: serde_json::Value,
    /// The path taken (`failure`, a branch's name, `else`), if the step has several.
    pub branch: Option<String>,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A run about to start.
#[derive(Debug, Clone)]
pub struct NewRun {
    pub workflow_id: Id,
    pub version: i64,
    pub contact_id: Id,
    pub conversation_id: Option<Id>,
    /// The first step (`None`: a workflow without steps, over at once).
    pub position: Option<String>,
    pub variables: BTreeMap<String, serde_json::Value>,
    /// The event that started it (`None` for a manual start).
    pub trigger_seq: Option<i64>,
    /// Refuse if the contact ever had a run of this workflow.
    pub once_per_contact: bool,
}

/// A contact's reply routed to the run waiting for it at a question (the job that checks it).
#[derive(Debug, Clone, Copy)]
pub struct RunAnswer {
    pub run_id: Id,
    /// The run's `step_seq` while it waits at the question.
    pub step_seq: i64,
    pub message_id: Id,
}

/// What a step changes outside its run, applied in the transaction that records the step.
#[derive(Debug, Clone)]
pub enum StepEffect {
    None,
    /// Sends on the contact's open conversation, opening one (by the workflow) when none is open.
    SendMessage(NewMessage),
    AddTags(Vec<String>),
    RemoveTags(Vec<String>),
    UpdateContact {
        fields: Box<ContactFields>,
        changed: Vec<&'static str>,
    },
    /// Assigns the contact's open conversation; `team_id` moves it to that team as well.
    Assign {
        conversation_id: Id,
        user_id: Option<Id>,
        team_id: Option<Id>,
    },
    /// An internal comment on a conversation, written by the run's workflow.
    Comment {
        conversation_id: Id,
        text: String,
        mentions: Vec<Id>,
    },
    OpenConversation,
    CloseConversation {
        conversation_id: Id,
        close: CloseRequest,
    },
    /// Starts another workflow's run for the contact.
    StartRun(Box<NewRun>),
}

/// A step's outcome, committed at once with its effect (see `WorkflowStore::commit_step`).
#[derive(Debug, Clone)]
pub struct StepCommit {
    pub run_id: Id,
    /// The run's `step_seq` the step was computed from: the commit is refused if it moved meanwhile.
    pub expected_seq: i64,
    pub effect: StepEffect,
    pub step_id: String,
    pub step_type: &'static str,
    pub input: serde_json::Value,
    pub output: serde_json::Value,
    pub branch: Option<String>,
    pub error: Option<String>,
    /// Where the run goes next.
    pub status: RunStatus,
    pub position: Option<String>,
    pub jumps: i64,
    pub variables: BTreeMap<String, serde_json::Value>,
    pub awaiting_answer: bool,
    pub wake_at: Option<DateTime<Utc>>,
    pub end_reason: Option<String>,
}
