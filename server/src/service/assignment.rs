//! Choosing whom to assign: among a team's members (a team's auto-assignment) or any users (a workflow's
//! assign step), in turn (round robin) or the one with the fewest open conversations, optionally among
//! online users only and under a cap of open conversations each. With nobody eligible nobody is chosen.

use crate::app::App;
use crate::error::AppResult;
use crate::model::*;

/// Who may be chosen and how.
#[derive(Debug, Clone)]
pub struct Pick {
    pub candidates: Vec<Id>,
    pub least_open: bool,
    pub only_online: bool,
    pub max_open: Option<u32>,
    /// Whose turn order a round robin follows: a team's, or the workspace's (`None`).
    pub rotation: Option<Id>,
}

/// The user `pick` chooses, if anyone is eligible. A round robin's position moves to the chosen user.
pub async fn choose(app: &App, ws: Id, pick: Pick) -> AppResult<Option<Id>> {
    let mut members = pick.candidates;
    members.sort_unstable();
    members.dedup();
    if pick.only_online {
        let mut online = Vec::with_capacity(members.len());
        for user in members {
            if app.store.get_user(ws, user).await.is_ok_and(|u| u.availability == Availability::Online) {
                online.push(user);
            }
        }
        members = online;
    }
    let open = app.store.open_counts(ws, &members).await?;
    let open_of = |user: Id| open.iter().find(|(u, _)| *u == user).map_or(0, |(_, n)| *n);
    if let Some(cap) = pick.max_open {
        members.retain(|u| open_of(*u) < u64::from(cap));
    }
    // In turn from the member after the one assigned last; least-open picks the first of the fewest.
    let last = app.store.round_robin_position(ws, pick.rotation).await?;
    let start = last.map_or(0, |last| members.iter().position(|u| *u > last).unwrap_or(0));
    let start = start.min(members.len());
    members.rotate_left(start);
    let chosen =
        if pick.least_open { members.iter().copied().min_by_key(|u| open_of(*u)) } else { members.first().copied() };
    if let Some(user) = chosen {
        app.store.set_round_robin_position(ws, pick.rotation, user).await?;
    }
    Ok(chosen)
}

/// Assigns the conversation by its team's rule when it is open, has a team and no assignee; returns the
/// conversation as it is afterwards.
pub async fn apply(app: &App, ws: Id, conversation: Conversation) -> AppResult<Conversation> {
    let (Some(team_id), None, ConversationStatus::Open) =
        (conversation.team_id, conversation.assignee_id, conversation.status)
    else {
        return Ok(conversation);
    };
    let team = app.store.get_team(ws, team_id).await?;
    if team.auto_assign == AutoAssign::Off || team.member_ids.is_empty() {
        return Ok(conversation);
    }
    let pick = Pick {
        candidates: team.member_ids.clone(),
        least_open: team.auto_assign == AutoAssign::LeastOpen,
        only_online: team.only_online,
        max_open: team.max_open_per_user,
        rotation: Some(team.id),
    };
    let Some(user) = choose(app, ws, pick).await? else {
        return Ok(conversation);
    };
    let assigned =
        app.store.assign_conversation(ws, conversation.id, Some(user), Some(team.id), Actor::system()).await?;
    metrics::counter!("switchboard_auto_assignments_total").increment(1);
    Ok(assigned)
}
