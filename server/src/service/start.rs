//! "New conversation": an agent writes first, to a contact picked from the list or added on the spot, on
//! a channel they choose — usually with a template, as the contact's messaging window is closed. Every
//! rule is checked before anything is written, so a refused request leaves no contact or conversation
//! behind.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::contacts::CreateContact;
use super::conversations::SendMessage;
use crate::app::App;
use crate::error::{AppError, AppResult};
use crate::model::*;

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartConversation {
    /// An existing contact without an open conversation…
    pub contact_id: Option<Id>,
    /// …or a new one, as `POST /api/v1/contacts` takes it (a name, and the phone number the channel needs).
    pub contact: Option<CreateContact>,
    /// The channel to write on; the contact must be reachable there (already known on it, or by phone
    /// number on channels that address contacts by number, such as WhatsApp).
    pub channel_id: Id,
    /// The first message: outside the contact's messaging window, a template.
    pub content: MessageContent,
    /// Default: the conversation is assigned to you, unless a team is named (its auto-assignment applies).
    pub assignee_id: Option<Id>,
    pub team_id: Option<Id>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StartedConversation {
    pub conversation: Conversation,
    pub contact: Contact,
    /// The first message, `pending` until the channel has sent it.
    pub message: Message,
}

pub async fn start(app: &App, who: &Principal, req: StartConversation) -> AppResult<StartedConversation> {
    let ws = who.workspace_id;
    let channel = app
        .store
        .get_channel(ws, req.channel_id)
        .await
        .map_err(|_| AppError::validation("channel_id", "no such channel"))?;
    if !channel.enabled {
        return Err(AppError::Unprocessable {
            code: "channel_disabled",
            message: format!("the channel {} is disabled", channel.name),
        });
    }
    let assignee = req.assignee_id.or(if req.team_id.is_none() { Some(who.user_id) } else { None });
    super::conversations::check_assignment(app, ws, assignee, req.team_id).await?;
    super::conversations::check_outgoing(app, ws, &channel, &req.content).await?;
    // How the channel reaches a contact who never wrote on it: by phone number or e-mail address.
    let traits = app.plugins.get(&channel.plugin_id).and_then(|e| e.manifest.as_ref().map(|m| m.channel.clone()));
    let traits = traits.unwrap_or_default();
    let address_of = |phone: Option<&str>, email: Option<&str>| match (traits.phone_address, traits.email_address) {
        (Some(rule), _) => phone.map(|p| rule.of(p)),
        (None, true) => email.map(|e| e.trim().to_lowercase()).filter(|e| !e.is_empty()),
        (None, false) => None,
    };
    let unreachable = || AppError::Unprocessable {
        code: "contact_unreachable",
        message: match (traits.phone_address, traits.email_address) {
            (Some(_), _) => format!("the contact has no phone number to reach on the channel {}", channel.name),
            (None, true) => format!("the contact has no e-mail address to reach on the channel {}", channel.name),
            (None, false) => format!(
                "the channel {} learns a contact's address only when the contact writes first; pick a channel \
                 the contact has used, or one that reaches phone numbers or e-mail addresses",
                channel.name
            ),
        },
    };

    let (contact, new_identity) = match (req.contact_id, req.contact) {
        (Some(id), None) => {
            let contact = app
                .store
                .get_contact(ws, id)
                .await
                .map_err(|_| AppError::validation("contact_id", "no such contact"))?;
            let open = ConversationFilter {
                contact_id: Some(id),
                status: Some(ConversationStatus::Open),
                ..Default::default()
            };
            let page = PageRequest { after: None, limit: 1 };
            if let Some(c) = app.store.list_conversations(ws, &open, &page).await?.items.first() {
                return Err(AppError::conflict(
                    "conversation_already_open",
                    format!("the contact already has an open conversation ({}); reply there", c.id),
                ));
            }
            let known = contact.identities.iter().any(|i| i.channel_id == channel.id);
            let identity = if known {
                None
            } else {
                let address = address_of(contact.phone.as_deref(), contact.email.as_deref()).ok_or_else(unreachable)?;
                check_address_free(app, ws, channel.id, &address, Some(id)).await?;
                Some(ChannelIdentity { channel_id: channel.id, external_id: address })
            };
            super::window::check(app, ws, id, &channel, &req.content).await?;
            (Pick::Existing(contact), identity)
        }
        (None, Some(new)) => {
            let mut new = super::contacts::prepare(app, ws, new).await?;
            if !new.identities.iter().any(|i| i.channel_id == channel.id) {
                let address =
                    address_of(new.fields.phone.as_deref(), new.fields.email.as_deref()).ok_or_else(unreachable)?;
                new.identities.push(ChannelIdentity { channel_id: channel.id, external_id: address });
            }
            for identity in &new.identities {
                check_address_free(app, ws, identity.channel_id, &identity.external_id, None).await?;
            }
            // A contact being added has never written: the window is closed.
            super::window::check_since(app, &channel, None, &req.content)?;
            (Pick::New(new), None)
        }
        _ => return Err(AppError::validation("contact_id", "give either contact_id or contact, not both")),
    };

    // Everything is checked; now the writes.
    let by = super::actor(who);
    let contact = match contact {
        Pick::New(new) => app.store.create_contact(ws, &new.fields, &new.tags, &new.identities, by).await?,
        Pick::Existing(existing) => existing,
    };
    let conversation = app.store.open_conversation(ws, contact.id, req.team_id, by).await?;
    let contact = match new_identity {
        Some(identity) => app.store.add_channel_identity(ws, contact.id, &identity, by).await?,
        None => contact,
    };
    let conversation = match assignee {
        Some(user) => app.store.assign_conversation(ws, conversation.id, Some(user), req.team_id, by).await?,
        None => super::assignment::apply(app, ws, conversation).await?,
    };
    let send = SendMessage { content: req.content, channel_id: Some(channel.id) };
    let message = super::conversations::send(app, who, conversation.id, send).await?;
    // Re-read: the message moved the conversation's activity and channel.
    let conversation = app.store.get_conversation(ws, conversation.id).await?;
    Ok(StartedConversation { conversation, contact, message })
}

enum Pick {
    Existing(Contact),
    New(super::contacts::NewContact),
}

/// Refuses an address that already belongs to another contact on the channel (naming that contact, so
/// the caller can start the conversation with it instead).
async fn check_address_free(app: &App, ws: Id, channel: Id, address: &str, except: Option<Id>) -> AppResult<()> {
    match app.store.find_contact_by_identity(ws, channel, address).await? {
        Some(other) if Some(other.id) != except => Err(AppError::conflict(
            "contact_exists",
            format!("contact {} already has the address {address} on this channel; start with that contact", other.id),
        )),
        _ => Ok(()),
    }
}
