//! Workflows and their runs: definitions with frozen published versions, the trigger reader's cursor
//! moved together with the runs it starts, and each step committed with its effect in one transaction.

use async_trait::async_trait;
use serde_json::json;

use super::contacts::{add_contact_tags_in, remove_contact_tag_in, update_contact_in};
use super::conversations::{
    add_comment_in, add_message_in, assign_conversation_in, close_conversation_in, open_conversation_in,
};
use super::rows::{MESSAGE_COLUMNS, MessageRow};
use super::{Conn, ThisStore, append_event, clamp_limit, event, fetch_limit, found, now_ms, to_json};
use crate::model::*;
use crate::store::{RunFilter, StoreError, StoreResult, WorkflowStore};

const WORKFLOW_COLUMNS: &str = "id, workspace_id, name, status, definition, published_version, created_at, updated_at";

type WorkflowRow = (Id, Id, String, String, String, Option<i64>, i64, i64);

fn workflow(r: WorkflowRow) -> Workflow {
    let (id, workspace_id, name, status, definition, published_version, created_at, updated_at) = r;
    Workflow {
        id,
        workspace_id,
        name,
        status: if status == "published" { WorkflowStatus::Published } else { WorkflowStatus::Draft },
        definition: serde_json::from_str(&definition).unwrap_or(serde_json::Value::Null),
        published_version,
        created_at: ts_from_ms(created_at),
        updated_at: ts_from_ms(updated_at),
    }
}

const RUN_COLUMNS: &str = "id, workspace_id, workflow_id, version, contact_id, conversation_id, status, position, \
     step_seq, jumps, variables, awaiting_answer, wake_at, end_reason, started_at, updated_at, ended_at";

#[derive(sqlx::FromRow)]
struct RunRow {
    id: Id,
    workspace_id: Id,
    workflow_id: Id,
    version: i64,
    contact_id: Id,
    conversation_id: Option<Id>,
    status: String,
    position: Option<String>,
    step_seq: i64,
    jumps: i64,
    variables: String,
    awaiting_answer: bool,
    wake_at: Option<i64>,
    end_reason: Option<String>,
    started_at: i64,
    updated_at: i64,
    ended_at: Option<i64>,
}

impl From<RunRow> for WorkflowRun {
    fn from(r: RunRow) -> Self {
        Self {
            id: r.id,
            workspace_id: r.workspace_id,
            workflow_id: r.workflow_id,
            version: r.version,
            contact_id: r.contact_id,
            conversation_id: r.conversation_id,
            status: RunStatus::parse(&r.status),
            position: r.position,
            step_seq: r.step_seq,
            jumps: r.jumps,
            variables: serde_json::from_str(&r.variables).unwrap_or_default(),
            awaiting_answer: r.awaiting_answer,
            wake_at: r.wake_at.map(ts_from_ms),
            end_reason: r.end_reason,
            started_at: ts_from_ms(r.started_at),
            updated_at: ts_from_ms(r.updated_at),
            ended_at: r.ended_at.map(ts_from_ms),
        }
    }
}

async fn load_workflow(conn: &mut Conn, ws: Id, id: Id) -> StoreResult<Workflow> {
    let sql = format!("SELECT {WORKFLOW_COLUMNS} FROM workflows WHERE workspace_id = $1 AND id = $2");
    let row: Option<WorkflowRow> = sqlx::query_as(&sql).bind(ws).bind(id).fetch_optional(&mut *conn).await?;
    Ok(workflow(found(row, "workflow")?))
}

async fn load_run(conn: &mut Conn, ws: Id, id: Id) -> StoreResult<WorkflowRun> {
    let sql = format!("SELECT {RUN_COLUMNS} FROM workflow_runs WHERE workspace_id = $1 AND id = $2");
    let row: Option<RunRow> = sqlx::query_as(&sql).bind(ws).bind(id).fetch_optional(&mut *conn).await?;
    Ok(found(row, "workflow run")?.into())
}

/// Queues the job that takes a run's next step, due at `at` (epoch ms).
async fn queue_step(conn: &mut Conn, ws: Id, run: Id, step_seq: i64, at: i64) -> StoreResult<()> {
    queue_job(conn, ws, &json!({ "run_id": run, "step_seq": step_seq }), at).await
}

async fn queue_job(conn: &mut Conn, ws: Id, payload: &serde_json::Value, at: i64) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO jobs (workspace_id, kind, payload, status, run_at, attempts, max_attempts, created_at, \
         updated_at) VALUES ($1, $2, $3, 'queued', $4, 0, 10, $5, $5)",
    )
    .bind(ws)
    .bind(WORKFLOW_RUN_JOB)
    .bind(to_json(payload)?)
    .bind(at)
    .bind(now_ms())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Inserts a run with the job of its first step; `None` when it is left out (once per contact, or started
/// by the same trigger event already).
async fn insert_run(conn: &mut Conn, ws: Id, run: &NewRun, now: i64) -> StoreResult<Option<Id>> {
    if run.once_per_contact {
        let before: Option<Id> =
            sqlx::query_scalar("SELECT id FROM workflow_runs WHERE workflow_id = $1 AND contact_id = $2 LIMIT 1")
                .bind(run.workflow_id)
                .bind(run.contact_id)
                .fetch_optional(&mut *conn)
                .await?;
        if before.is_some() {
            return Ok(None);
        }
    }
    let (status, ended) = match run.position {
        Some(_) => ("active", None),
        None => ("completed", Some(now)),
    };
    let id: Option<Id> = sqlx::query_scalar(
        "INSERT INTO workflow_runs (workspace_id, workflow_id, version, contact_id, conversation_id, status, \
         position, variables, trigger_seq, started_at, updated_at, ended_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11) \
         ON CONFLICT (workflow_id, contact_id, trigger_seq) DO NOTHING RETURNING id",
    )
    .bind(ws)
    .bind(run.workflow_id)
    .bind(run.version)
    .bind(run.contact_id)
    .bind(run.conversation_id)
    .bind(status)
    .bind(&run.position)
    .bind(to_json(&run.variables)?)
    .bind(run.trigger_seq)
    .bind(now)
    .bind(ended)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(id) = id else { return Ok(None) };
    let data = json!({ "workflow_id": run.workflow_id, "version": run.version, "contact_id": run.contact_id });
    append_event(conn, ws, event("workflow.run.started", id, Actor::system(), data)).await?;
    if run.position.is_some() {
        queue_step(conn, ws, id, 0, now).await?;
    }
    Ok(Some(id))
}

async fn open_conversation_of(conn: &mut Conn, ws: Id, contact: Id) -> StoreResult<Option<Id>> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM conversations WHERE workspace_id = $1 AND contact_id = $2 AND status = 'open'",
    )
    .bind(ws)
    .bind(contact)
    .fetch_optional(&mut *conn)
    .await?)
}

/// Applies a step's effect for the run's contact; returns what the log should add (ids made) and the
/// conversation the run is now about, if the effect touched one.
async fn apply_effect(
    conn: &mut Conn,
    ws: Id,
    contact: Id,
    actor: Actor,
    effect: &StepEffect,
) -> StoreResult<(serde_json::Value, Option<Id>)> {
    Ok(match effect {
        StepEffect::None => (json!({}), None),
        StepEffect::SendMessage(message) => {
            let conversation = match open_conversation_of(conn, ws, contact).await? {
                Some(id) => id,
                None => open_conversation_in(conn, ws, contact, None, actor).await?.id,
            };
            let stored = add_message_in(conn, ws, conversation, message).await?;
            (json!({ "message_id": stored.id, "conversation_id": conversation }), Some(conversation))
        }
        StepEffect::AddTags(tags) => {
            add_contact_tags_in(conn, ws, contact, tags, actor).await?;
            (json!({}), None)
        }
        StepEffect::RemoveTags(tags) => {
            for tag in tags {
                match remove_contact_tag_in(conn, ws, contact, tag, actor).await {
                    // Not on the contact: nothing to remove.
                    Ok(_) | Err(StoreError::NotFound(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            (json!({}), None)
        }
        StepEffect::UpdateContact { fields, changed } => {
            update_contact_in(conn, ws, contact, fields, changed, actor).await?;
            (json!({}), None)
        }
        StepEffect::Assign { conversation_id, user_id, team_id } => {
            let team = match team_id {
                Some(team) => Some(*team),
                None => sqlx::query_scalar::<_, Option<Id>>("SELECT team_id FROM conversations WHERE id = $1")
                    .bind(conversation_id)
                    .fetch_optional(&mut *conn)
                    .await?
                    .flatten(),
            };
            assign_conversation_in(conn, ws, *conversation_id, *user_id, team, actor).await?;
            (json!({}), Some(*conversation_id))
        }
        StepEffect::Comment { conversation_id, text, mentions } => {
            let comment = add_comment_in(conn, ws, *conversation_id, actor, text, mentions).await?;
            (json!({ "comment_id": comment.id }), Some(*conversation_id))
        }
        StepEffect::OpenConversation => {
            let id = open_conversation_in(conn, ws, contact, None, actor).await?.id;
            (json!({ "conversation_id": id }), Some(id))
        }
        StepEffect::CloseConversation { conversation_id, close } => {
            close_conversation_in(conn, ws, *conversation_id, close, actor).await?;
            (json!({}), Some(*conversation_id))
        }
        StepEffect::StartRun(run) => match insert_run(conn, ws, run, now_ms()).await? {
            Some(id) => (json!({ "run_id": id }), None),
            None => (json!({ "run_id": null, "reason": "the contact had its one run of that workflow" }), None),
        },
    })
}

#[async_trait]
impl WorkflowStore for ThisStore {
    async fn count_workflows(&self, ws: Id) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM workflows WHERE workspace_id = $1")
            .bind(ws)
            .fetch_one(&self.pool)
            .await?;
        Ok(n as u64)
    }

    async fn create_workflow(
        &self,
        ws: Id,
        name: &str,
        definition: &serde_json::Value,
        actor: Actor,
    ) -> StoreResult<Workflow> {
        let mut tx = self.begin().await?;
        let now = now_ms();
        let id: Id = sqlx::query_scalar(
            "INSERT INTO workflows (workspace_id, name, status, definition, created_at, updated_at) \
             VALUES ($1, $2, 'draft', $3, $4, $4) RETURNING id",
        )
        .bind(ws)
        .bind(name)
        .bind(to_json(definition)?)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        append_event(&mut tx, ws, event("workflow.created", id, actor, json!({ "name": name }))).await?;
        let created = load_workflow(&mut tx, ws, id).await?;
        tx.commit().await?;
        Ok(created)
    }

    async fn get_workflow(&self, ws: Id, id: Id) -> StoreResult<Workflow> {
        load_workflow(&mut *self.pool.acquire().await?, ws, id).await
    }

    async fn find_workflow(&self, id: Id) -> StoreResult<Option<Workflow>> {
        let sql = format!("SELECT {WORKFLOW_COLUMNS} FROM workflows WHERE id = $1");
        let row: Option<WorkflowRow> = sqlx::query_as(&sql).bind(id).fetch_optional(&self.pool).await?;
        Ok(row.map(workflow))
    }

    async fn contact_with(&self, ws: Id, by: IdentifyBy, value: &str) -> StoreResult<Option<Id>> {
        let column = match by {
            IdentifyBy::Phone => "phone",
            IdentifyBy::Email => "email",
            IdentifyBy::ContactId => "id",
        };
        if by == IdentifyBy::ContactId {
            let id: Option<Id> = value.parse().ok();
            let found: Option<Id> = sqlx::query_scalar("SELECT id FROM contacts WHERE workspace_id = $1 AND id = $2")
                .bind(ws)
                .bind(id.unwrap_or(-1))
                .fetch_optional(&self.pool)
                .await?;
            return Ok(found);
        }
        let sql = format!("SELECT id FROM contacts WHERE workspace_id = $1 AND {column} = $2 ORDER BY id LIMIT 1");
        Ok(sqlx::query_scalar(&sql).bind(ws).bind(value).fetch_optional(&self.pool).await?)
    }

    async fn list_workflows(&self, ws: Id, page: &PageRequest) -> StoreResult<Page<Workflow>> {
        let sql = format!(
            "SELECT {WORKFLOW_COLUMNS} FROM workflows WHERE workspace_id = $1 AND id > $2 ORDER BY id LIMIT $3"
        );
        let rows: Vec<WorkflowRow> = sqlx::query_as(&sql)
            .bind(ws)
            .bind(page.after.map_or(0, |c| c.id))
            .bind(fetch_limit(page))
            .fetch_all(&self.pool)
            .await?;
        let items = rows.into_iter().map(workflow).collect();
        Ok(Page::from_overfetch(items, clamp_limit(page), |w: &Workflow| Cursor { key: 0, id: w.id }))
    }

    async fn update_workflow(
        &self,
        ws: Id,
        id: Id,
        name: &str,
        definition: &serde_json::Value,
        actor: Actor,
    ) -> StoreResult<Workflow> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE workflows SET name = $1, definition = $2, updated_at = $3 WHERE workspace_id = $4 AND id = $5",
        )
        .bind(name)
        .bind(to_json(definition)?)
        .bind(now_ms())
        .bind(ws)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("workflow"));
        }
        append_event(&mut tx, ws, event("workflow.updated", id, actor, json!({ "name": name }))).await?;
        let updated = load_workflow(&mut tx, ws, id).await?;
        tx.commit().await?;
        Ok(updated)
    }

    async fn delete_workflow(&self, ws: Id, id: Id, actor: Actor) -> StoreResult<()> {
        super::delete_owned(self, "workflows", "workflow", "workflow.deleted", ws, id, actor).await
    }

    async fn publish_workflow(&self, ws: Id, id: Id, definition: &Definition, actor: Actor) -> StoreResult<Workflow> {
        let mut tx = self.begin().await?;
        let current = load_workflow(&mut tx, ws, id).await?;
        let version = current.published_version.unwrap_or(0) + 1;
        let now = now_ms();
        sqlx::query(
            "INSERT INTO workflow_versions (workflow_id, version, definition, published_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(version)
        .bind(to_json(definition)?)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE workflows SET status = 'published', published_version = $1, updated_at = $2 WHERE id = $3")
            .bind(version)
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        append_event(&mut tx, ws, event("workflow.published", id, actor, json!({ "version": version }))).await?;
        let published = load_workflow(&mut tx, ws, id).await?;
        tx.commit().await?;
        Ok(published)
    }

    async fn unpublish_workflow(&self, ws: Id, id: Id, actor: Actor) -> StoreResult<Workflow> {
        let mut tx = self.begin().await?;
        load_workflow(&mut tx, ws, id).await?;
        sqlx::query("UPDATE workflows SET status = 'draft', updated_at = $1 WHERE id = $2")
            .bind(now_ms())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        append_event(&mut tx, ws, event("workflow.unpublished", id, actor, json!({}))).await?;
        let done = load_workflow(&mut tx, ws, id).await?;
        tx.commit().await?;
        Ok(done)
    }

    async fn published_workflows(&self, ws: Id) -> StoreResult<Vec<PublishedWorkflow>> {
        let rows: Vec<(Id, i64, String, i64)> = sqlx::query_as(
            "SELECT w.id, v.version, v.definition, v.published_at FROM workflows w \
             JOIN workflow_versions v ON v.workflow_id = w.id AND v.version = w.published_version \
             WHERE w.workspace_id = $1 AND w.status = 'published' ORDER BY w.id",
        )
        .bind(ws)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for (id, version, definition, published_at) in rows {
            match serde_json::from_str(&definition) {
                Ok(definition) => {
                    out.push(PublishedWorkflow { id, version, definition, published_at: ts_from_ms(published_at) })
                }
                Err(e) => tracing::error!(workflow = id, version, error = %e, "a published workflow cannot be read"),
            }
        }
        Ok(out)
    }

    async fn workflow_version(&self, ws: Id, workflow: Id, version: i64) -> StoreResult<Definition> {
        let definition: Option<String> = sqlx::query_scalar(
            "SELECT v.definition FROM workflow_versions v JOIN workflows w ON w.id = v.workflow_id \
             WHERE w.workspace_id = $1 AND v.workflow_id = $2 AND v.version = $3",
        )
        .bind(ws)
        .bind(workflow)
        .bind(version)
        .fetch_optional(&self.pool)
        .await?;
        serde_json::from_str(&found(definition, "workflow version")?)
            .map_err(|e| StoreError::Database(format!("workflow {workflow} version {version} cannot be read: {e}")))
    }

    async fn workflow_cursor(&self, ws: Id) -> StoreResult<Option<i64>> {
        Ok(sqlx::query_scalar("SELECT seq FROM workflow_cursors WHERE workspace_id = $1")
            .bind(ws)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn start_runs(
        &self,
        ws: Id,
        cursor: Option<(Option<i64>, i64)>,
        runs: &[NewRun],
        answers: &[RunAnswer],
    ) -> StoreResult<Option<Vec<WorkflowRun>>> {
        let mut tx = self.begin().await?;
        if let Some((from, to)) = cursor {
            let moved = match from {
                Some(from) => {
                    sqlx::query("UPDATE workflow_cursors SET seq = $1 WHERE workspace_id = $2 AND seq = $3")
                        .bind(to)
                        .bind(ws)
                        .bind(from)
                        .execute(&mut *tx)
                        .await?
                }
                None => {
                    sqlx::query(
                        "INSERT INTO workflow_cursors (workspace_id, seq) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    )
                    .bind(ws)
                    .bind(to)
                    .execute(&mut *tx)
                    .await?
                }
            };
            if moved.rows_affected() == 0 {
                // Another reader moved the cursor first; it started these runs.
                return Ok(None);
            }
        }
        let now = now_ms();
        let mut started = Vec::with_capacity(runs.len());
        for run in runs {
            if let Some(id) = insert_run(&mut tx, ws, run, now).await? {
                started.push(load_run(&mut tx, ws, id).await?);
            }
        }
        for answer in answers {
            let payload =
                json!({ "run_id": answer.run_id, "step_seq": answer.step_seq, "message_id": answer.message_id });
            queue_job(&mut tx, ws, &payload, now).await?;
        }
        tx.commit().await?;
        Ok(Some(started))
    }

    async fn last_message(&self, ws: Id, conversation: Id, direction: Direction) -> StoreResult<Option<Message>> {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE workspace_id = $1 AND conversation_id = $2 \
             AND direction = $3 ORDER BY id DESC LIMIT 1"
        );
        let row: Option<MessageRow> = sqlx::query_as(&sql)
            .bind(ws)
            .bind(conversation)
            .bind(direction.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(Into::into))
    }

    async fn has_waiting_runs(&self, ws: Id) -> StoreResult<bool> {
        let any: Option<Id> =
            sqlx::query_scalar("SELECT id FROM workflow_runs WHERE workspace_id = $1 AND status = 'waiting' LIMIT 1")
                .bind(ws)
                .fetch_optional(&self.pool)
                .await?;
        Ok(any.is_some())
    }

    async fn waiting_runs(&self, ws: Id, contact: Id) -> StoreResult<Vec<WorkflowRun>> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM workflow_runs WHERE workspace_id = $1 AND contact_id = $2 AND status = 'waiting' \
             ORDER BY updated_at DESC, id DESC"
        );
        let rows: Vec<RunRow> = sqlx::query_as(&sql).bind(ws).bind(contact).fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn get_run(&self, ws: Id, id: Id) -> StoreResult<WorkflowRun> {
        load_run(&mut *self.pool.acquire().await?, ws, id).await
    }

    async fn list_runs(&self, ws: Id, filter: RunFilter, page: &PageRequest) -> StoreResult<Page<WorkflowRun>> {
        let mut qb = sqlx::QueryBuilder::<super::Db>::new(format!(
            "SELECT {RUN_COLUMNS} FROM workflow_runs WHERE workspace_id = "
        ));
        qb.push_bind(ws);
        if let Some(workflow) = filter.workflow_id {
            qb.push(" AND workflow_id = ").push_bind(workflow);
        }
        if let Some(contact) = filter.contact_id {
            qb.push(" AND contact_id = ").push_bind(contact);
        }
        qb.push(" AND id < ").push_bind(page.after.map_or(i64::MAX, |c| c.id));
        qb.push(" ORDER BY id DESC LIMIT ").push_bind(fetch_limit(page));
        let rows: Vec<RunRow> = qb.build_query_as().fetch_all(&self.pool).await?;
        let items = rows.into_iter().map(WorkflowRun::from).collect();
        Ok(Page::from_overfetch(items, clamp_limit(page), |r: &WorkflowRun| Cursor { key: 0, id: r.id }))
    }

    async fn run_steps(&self, ws: Id, run: Id) -> StoreResult<Vec<RunStep>> {
        let mut conn = self.pool.acquire().await?;
        load_run(&mut conn, ws, run).await?;
        let rows: Vec<(i64, String, String, String, String, Option<String>, Option<String>, i64)> = sqlx::query_as(
            "SELECT seq, step_id, step_type, input, output, branch, error, created_at FROM workflow_run_steps \
             WHERE run_id = $1 ORDER BY seq",
        )
        .bind(run)
        .fetch_all(&mut *conn)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(seq, step_id, step_type, input, output, branch, error, at)| RunStep {
                seq,
                step_id,
                step_type,
                input: serde_json::from_str(&input).unwrap_or_default(),
                output: serde_json::from_str(&output).unwrap_or_default(),
                branch,
                error,
                created_at: ts_from_ms(at),
            })
            .collect())
    }

    async fn commit_step(&self, ws: Id, step: &StepCommit) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let now = now_ms();
        let seq = step.expected_seq + 1;
        let ended = step.status.is_over().then_some(now);
        // The guard: only the holder of the run's current step_seq may commit its next step.
        let run: Option<(Id, Id, Option<Id>)> = sqlx::query_as(
            "UPDATE workflow_runs SET step_seq = $1, status = $2, position = $3, jumps = $4, variables = $5, \
             wake_at = $6, end_reason = $7, updated_at = $8, ended_at = $9, awaiting_answer = $13 \
             WHERE workspace_id = $10 AND id = $11 AND step_seq = $12 \
             RETURNING workflow_id, contact_id, conversation_id",
        )
        .bind(seq)
        .bind(step.status.as_str())
        .bind(&step.position)
        .bind(step.jumps)
        .bind(to_json(&step.variables)?)
        .bind(step.wake_at.map(|t| t.timestamp_millis()))
        .bind(&step.end_reason)
        .bind(now)
        .bind(ended)
        .bind(ws)
        .bind(step.run_id)
        .bind(step.expected_seq)
        .bind(step.awaiting_answer)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((workflow_id, contact, conversation)) = run else {
            return Ok(false);
        };
        let actor = Actor { kind: ActorKind::Workflow, id: Some(workflow_id) };
        let (made, touched) = apply_effect(&mut tx, ws, contact, actor, &step.effect).await?;
        if let Some(conversation_id) = touched.filter(|c| Some(*c) != conversation) {
            sqlx::query("UPDATE workflow_runs SET conversation_id = $1 WHERE id = $2")
                .bind(conversation_id)
                .bind(step.run_id)
                .execute(&mut *tx)
                .await?;
        }
        let mut output = step.output.clone();
        if let (Some(out), Some(made)) = (output.as_object_mut(), made.as_object()) {
            out.extend(made.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        sqlx::query(
            "INSERT INTO workflow_run_steps (run_id, seq, step_id, step_type, input, output, branch, error, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(step.run_id)
        .bind(seq)
        .bind(&step.step_id)
        .bind(step.step_type)
        .bind(to_json(&step.input)?)
        .bind(to_json(&output)?)
        .bind(&step.branch)
        .bind(&step.error)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        match step.status {
            // The job that took this step goes on with the next one (and is taken over if its worker dies).
            RunStatus::Active => {}
            RunStatus::Waiting => {
                let at = step.wake_at.map_or(now, |t| t.timestamp_millis());
                queue_step(&mut tx, ws, step.run_id, seq, at).await?;
            }
            _ => {
                let data = json!({
                    "workflow_id": workflow_id, "contact_id": contact, "status": step.status,
                    "end_reason": step.end_reason,
                });
                append_event(&mut tx, ws, event("workflow.run.ended", step.run_id, actor, data)).await?;
            }
        }
        tx.commit().await?;
        Ok(true)
    }
}
