//! Typing indicators: an agent typing a reply (shown to the other agents, who then leave the reply to
//! them, and to a website-chat visitor) and a website-chat visitor typing (shown to agents). They are
//! ephemeral — never stored, not in the event log — and reach the live streams of this process only.

use crate::app::App;
use crate::error::{AppError, AppResult};
use crate::model::*;

/// Announces that the calling agent is typing in conversation `id` (which they must be able to see, and
/// which must be open).
pub async fn agent(app: &App, who: &Principal, id: Id) -> AppResult<()> {
    let conversation = super::access::conversation(app, who, id).await?;
    if conversation.status != ConversationStatus::Open {
        return Err(AppError::conflict("conversation_closed", "the conversation is closed"));
    }
    let name = app.store.get_user(who.workspace_id, who.user_id).await.ok().map(|u| u.name);
    announce(
        app,
        Typing {
            workspace_id: who.workspace_id,
            conversation_id: id,
            contact_id: conversation.contact_id,
            actor: Actor::user(who.user_id),
            name,
        },
    );
    Ok(())
}

/// Announces that a website-chat visitor is typing; nothing happens before their first message (there is
/// no conversation to show it in yet).
pub async fn visitor(app: &App, ws: Id, channel: Id, visitor: &str) -> AppResult<()> {
    let Some(contact) = app.store.find_contact_by_identity(ws, channel, visitor).await? else { return Ok(()) };
    let open = ConversationFilter {
        contact_id: Some(contact.id),
        status: Some(ConversationStatus::Open),
        ..Default::default()
    };
    let page = PageRequest { after: None, limit: 1 };
    if let Some(conversation) = app.store.list_conversations(ws, &open, &page).await?.items.first() {
        let actor = Actor::contact(contact.id);
        let (conversation_id, contact_id) = (conversation.id, contact.id);
        announce(app, Typing { workspace_id: ws, conversation_id, contact_id, actor, name: None });
    }
    Ok(())
}

fn announce(app: &App, typing: Typing) {
    // No live stream listening is not an error.
    let _ = app.typing.send(typing);
}
