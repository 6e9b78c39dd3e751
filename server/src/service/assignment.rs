//! Auto-assignment per team: a conversation open for a team without an assignee gets one of the team's
//! members, in turn (round robin) or the one with the fewest open conversations, optionally among online
//! members only and under a cap of open conversations each. With nobody eligible it stays with the team.

use crate::app::App;
use crate::error::AppResult;
use crate::model::*;

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
    let mut members = team.member_ids.clone();
    members.sort_unstable();
    if team.only_online {
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
    if let Some(cap) = team.max_open_per_user {
        members.retain(|u| open_of(*u) < u64::from(cap));
    }
    // In turn from the member after the one assigned last; least-open picks the first of the fewest.
    let last = app.store.round_robin_position(ws, team.id).await?;
    let start = last.map_or(0, |last| members.iter().position(|u| *u > last).unwrap_or(0));
    let start = start.min(members.len());
    members.rotate_left(start);
    let chosen = match team.auto_assign {
        AutoAssign::LeastOpen => members.iter().copied().min_by_key(|u| open_of(*u)),
        _ => members.first().copied(),
    };
    let Some(user) = chosen else {
        return Ok(conversation);
    };
    let assigned =
        app.store.assign_conversation(ws, conversation.id, Some(user), Some(team.id), Actor::system()).await?;
    app.store.set_round_robin_position(ws, team.id, user).await?;
    metrics::counter!("switchboard_auto_assignments_total").increment(1);
    Ok(assigned)
}
