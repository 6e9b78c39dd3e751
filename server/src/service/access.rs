//! Which conversations a user may see: managers and owners every one; agents as the workspace's
//! `agent_access` says (all of them; their own, their teams' and the unassigned ones; their own and the
//! unassigned ones). A conversation out of sight is "not found", as if it did not exist.

use crate::app::App;
use crate::error::{AppError, AppResult};
use crate::model::*;

/// What `who` may see; `None` when that is everything.
pub async fn scope(app: &App, who: &Principal) -> AppResult<Option<Visibility>> {
    if who.role >= Role::Manager {
        return Ok(None);
    }
    let access = app.store.get_workspace(who.workspace_id).await?.agent_access;
    if access == AgentAccess::All {
        return Ok(None);
    }
    let team_ids = match access {
        AgentAccess::Teams => app.store.user_team_ids(who.workspace_id, who.user_id).await?,
        _ => vec![],
    };
    Ok(Some(Visibility { user_id: who.user_id, team_ids, access }))
}

/// The conversation `id` when `who` may see it.
pub async fn conversation(app: &App, who: &Principal, id: Id) -> AppResult<Conversation> {
    let conversation = app.store.get_conversation(who.workspace_id, id).await?;
    match scope(app, who).await? {
        Some(v) if !v.allows(&conversation) => Err(AppError::NotFound("conversation")),
        _ => Ok(conversation),
    }
}
