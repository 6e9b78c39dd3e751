//! The assign step's choice: a given user, nobody (unassign), or a member of a team or of the workspace
//! picked by the same rules as a team's auto-assignment; and, while nobody is eligible, how long the step
//! keeps looking.

use chrono::{DateTime, Utc};

use crate::app::App;
use crate::error::AppResult;
use crate::model::*;
use crate::service::assignment::{self, Pick};
use crate::store::StoreError;

/// How often a step waiting for someone eligible looks again.
pub const RETRY: chrono::Duration = chrono::Duration::seconds(60);

/// The step's settings.
#[derive(Debug, Clone)]
pub struct Options {
    pub to: AssignTo,
    pub user_id: Option<Id>,
    pub team_id: Option<Id>,
    pub least_open: bool,
    pub online_only: bool,
    pub max_open: Option<u32>,
}

/// What the step does now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// Assign to this user, or unassign (`None`).
    Assign(Option<Id>),
    /// Nobody in the team or workspace is eligible now.
    Nobody,
}

/// The choice; `Err(reason)` when the step cannot assign at all (the user or team is gone).
pub async fn choose(app: &App, ws: Id, o: &Options) -> AppResult<Result<Choice, String>> {
    let (candidates, rotation) = match o.to {
        AssignTo::Unassign => return Ok(Ok(Choice::Assign(None))),
        AssignTo::User => {
            let Some(user) = o.user_id else { return Ok(Err("the step names no user".to_owned())) };
            return Ok(match app.store.get_user(ws, user).await {
                Ok(_) => Ok(Choice::Assign(Some(user))),
                Err(StoreError::NotFound(_)) => Err(format!("user {user} is no longer a member of the workspace")),
                Err(e) => return Err(e.into()),
            });
        }
        AssignTo::Team => {
            let Some(team) = o.team_id else { return Ok(Err("the step names no team".to_owned())) };
            match app.store.get_team(ws, team).await {
                Ok(team) => (team.member_ids, Some(team.id)),
                Err(StoreError::NotFound(_)) => return Ok(Err(format!("team {team} no longer exists"))),
                Err(e) => return Err(e.into()),
            }
        }
        AssignTo::Workspace => (workspace_users(app, ws).await?, None),
    };
    let pick =
        Pick { candidates, least_open: o.least_open, only_online: o.online_only, max_open: o.max_open, rotation };
    Ok(Ok(match assignment::choose(app, ws, pick).await? {
        Some(user) => Choice::Assign(Some(user)),
        None => Choice::Nobody,
    }))
}

/// Every user of the workspace.
async fn workspace_users(app: &App, ws: Id) -> AppResult<Vec<Id>> {
    let mut users = Vec::new();
    let mut page = PageRequest { after: None, limit: Cursor::MAX_LIMIT };
    loop {
        let got = app.store.list_users(ws, &page).await?;
        users.extend(got.items.into_iter().map(|u| u.id));
        match got.next_cursor.as_deref().and_then(Cursor::decode) {
            Some(next) => page.after = Some(next),
            None => return Ok(users),
        }
    }
}

/// The output of the run's last logged step when it was `step_id`.
pub async fn last_log_of(app: &App, ws: Id, run: &WorkflowRun, step_id: &str) -> AppResult<Option<serde_json::Value>> {
    if run.position.as_deref() != Some(step_id) || run.step_seq == 0 {
        return Ok(None);
    }
    let steps = app.store.run_steps(ws, run.id).await?;
    Ok(steps.into_iter().next_back().filter(|s| s.step_id == step_id).map(|s| s.output))
}

/// The deadline of an assign step the run already waits at (woken to look again), if it does.
pub async fn waiting_until(app: &App, ws: Id, run: &WorkflowRun, step_id: &str) -> AppResult<Option<DateTime<Utc>>> {
    if run.status != RunStatus::Waiting || run.awaiting_answer {
        return Ok(None);
    }
    let output = last_log_of(app, ws, run, step_id).await?;
    Ok(output.and_then(|o| serde_json::from_value(o["waiting_until"].clone()).ok()))
}
