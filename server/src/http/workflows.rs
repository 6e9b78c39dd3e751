//! Workflows: drafts, publishing, manual starts and run logs (owners and managers).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use utoipa_axum::routes;

use super::extract::{Auth, Json, Path, Query, RawBody};
use super::{ApiRouter, PageQuery};
use crate::app::App;
use crate::error::{AppResult, ErrorBody};
use crate::model::*;
use crate::service::workflows::{self, RunShortcut, RunView, Shortcut, StartRun, WorkflowInput, WorkflowView};
use crate::store::RunFilter;

/// The public webhook that starts workflows with an incoming-webhook trigger (no API auth: the URL is the key).
pub(super) fn public_router() -> axum::Router<Arc<App>> {
    axum::Router::new().route("/hooks/workflows/{id}/{signature}", axum::routing::post(hook))
}

async fn hook(
    State(app): State<Arc<App>>,
    axum::extract::Path((id, signature)): axum::extract::Path<(String, String)>,
    RawBody(body): RawBody,
) -> AppResult<(StatusCode, Json<serde_json::Value>)> {
    let Ok(id) = id.parse::<Id>() else {
        return Err(crate::error::AppError::NotFound("workflow"));
    };
    if body.len() > workflows::MAX_HOOK_BYTES {
        return Err(crate::error::AppError::validation(
            "body",
            format!("must be at most {} bytes", workflows::MAX_HOOK_BYTES),
        ));
    }
    let value: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| crate::error::AppError::validation("body", format!("is not JSON: {e}")))?;
    let run = workflows::hook(&app, id, &signature, &value).await?;
    Ok((StatusCode::ACCEPTED, Json(serde_json::json!({ "run_id": run.id }))))
}

pub(super) fn router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(list_workflows, create_workflow))
        .routes(routes!(get_workflow, update_workflow, delete_workflow))
        .routes(routes!(publish_workflow))
        .routes(routes!(unpublish_workflow))
        .routes(routes!(list_workflow_runs, start_workflow_run))
        .routes(routes!(get_workflow_run))
        .routes(routes!(list_contact_workflow_runs))
        .routes(routes!(list_step_types))
        .routes(routes!(list_shortcuts))
        .routes(routes!(run_shortcut))
}

#[utoipa::path(get, path = "/api/v1/workflows", tag = "workflows", params(PageQuery),
    responses((status = 200, body = Page<Workflow>), (status = "4XX", body = ErrorBody)))]
async fn list_workflows(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Query(q): Query<PageQuery>,
) -> AppResult<Json<Page<Workflow>>> {
    Ok(Json(workflows::list(&app, &who, &q.page()?).await?))
}

/// Saves a new workflow as a draft; `problems` lists what must be fixed before it can be published.
#[utoipa::path(post, path = "/api/v1/workflows", tag = "workflows", request_body = WorkflowInput,
    responses((status = 201, body = WorkflowView), (status = "4XX", body = ErrorBody)))]
async fn create_workflow(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Json(req): Json<WorkflowInput>,
) -> AppResult<(StatusCode, Json<WorkflowView>)> {
    Ok((StatusCode::CREATED, Json(workflows::create(&app, &who, req).await?)))
}

#[utoipa::path(get, path = "/api/v1/workflows/{id}", tag = "workflows", params(("id" = i64, Path)),
    responses((status = 200, body = WorkflowView), (status = "4XX", body = ErrorBody)))]
async fn get_workflow(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(id): Path<Id>,
) -> AppResult<Json<WorkflowView>> {
    Ok(Json(workflows::get(&app, &who, id).await?))
}

/// Replaces the draft (runs in progress keep the version they started on).
#[utoipa::path(put, path = "/api/v1/workflows/{id}", tag = "workflows", params(("id" = i64, Path)),
    request_body = WorkflowInput, responses((status = 200, body = WorkflowView), (status = "4XX", body = ErrorBody)))]
async fn update_workflow(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(id): Path<Id>,
    Json(req): Json<WorkflowInput>,
) -> AppResult<Json<WorkflowView>> {
    Ok(Json(workflows::update(&app, &who, id, req).await?))
}

/// Deletes the workflow with its versions and runs.
#[utoipa::path(delete, path = "/api/v1/workflows/{id}", tag = "workflows", params(("id" = i64, Path)),
    responses((status = 204), (status = "4XX", body = ErrorBody)))]
async fn delete_workflow(State(app): State<Arc<App>>, Auth(who): Auth, Path(id): Path<Id>) -> AppResult<StatusCode> {
    workflows::delete(&app, &who, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Publishes the draft as the next version (422 naming the first problem while it has any).
#[utoipa::path(post, path = "/api/v1/workflows/{id}/publish", tag = "workflows", params(("id" = i64, Path)),
    responses((status = 200, body = WorkflowView), (status = "4XX", body = ErrorBody)))]
async fn publish_workflow(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(id): Path<Id>,
) -> AppResult<Json<WorkflowView>> {
    Ok(Json(workflows::publish(&app, &who, id).await?))
}

/// Stops new runs; runs in progress finish.
#[utoipa::path(post, path = "/api/v1/workflows/{id}/unpublish", tag = "workflows", params(("id" = i64, Path)),
    responses((status = 200, body = WorkflowView), (status = "4XX", body = ErrorBody)))]
async fn unpublish_workflow(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(id): Path<Id>,
) -> AppResult<Json<WorkflowView>> {
    Ok(Json(workflows::unpublish(&app, &who, id).await?))
}

/// The workflow's runs, newest first.
#[utoipa::path(get, path = "/api/v1/workflows/{id}/runs", tag = "workflows", params(("id" = i64, Path), PageQuery),
    responses((status = 200, body = Page<WorkflowRun>), (status = "4XX", body = ErrorBody)))]
async fn list_workflow_runs(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(id): Path<Id>,
    Query(q): Query<PageQuery>,
) -> AppResult<Json<Page<WorkflowRun>>> {
    let filter = RunFilter { workflow_id: Some(id), contact_id: None };
    Ok(Json(workflows::runs(&app, &who, filter, &q.page()?).await?))
}

/// Starts a published workflow whose trigger is `manual` for one contact.
#[utoipa::path(post, path = "/api/v1/workflows/{id}/runs", tag = "workflows", params(("id" = i64, Path)),
    request_body = StartRun, responses((status = 201, body = WorkflowRun), (status = "4XX", body = ErrorBody)))]
async fn start_workflow_run(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(id): Path<Id>,
    Json(req): Json<StartRun>,
) -> AppResult<(StatusCode, Json<WorkflowRun>)> {
    Ok((StatusCode::CREATED, Json(workflows::start(&app, &who, id, req).await?)))
}

/// A run with its log: each step, its input, output, branch and error.
#[utoipa::path(get, path = "/api/v1/workflow-runs/{id}", tag = "workflows", params(("id" = i64, Path)),
    responses((status = 200, body = RunView), (status = "4XX", body = ErrorBody)))]
async fn get_workflow_run(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(id): Path<Id>,
) -> AppResult<Json<RunView>> {
    Ok(Json(workflows::run(&app, &who, id).await?))
}

/// The contact's workflow runs, newest first.
#[utoipa::path(get, path = "/api/v1/contacts/{id}/workflow-runs", tag = "workflows", params(("id" = i64, Path), PageQuery),
    responses((status = 200, body = Page<WorkflowRun>), (status = "4XX", body = ErrorBody)))]
async fn list_contact_workflow_runs(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(id): Path<Id>,
    Query(q): Query<PageQuery>,
) -> AppResult<Json<Page<WorkflowRun>>> {
    let filter = RunFilter { workflow_id: None, contact_id: Some(id) };
    Ok(Json(workflows::runs(&app, &who, filter, &q.page()?).await?))
}

/// The steps a workflow can use: the built-in ones and every ready step plugin with the inputs (a JSON
/// Schema), outputs and branches it declares.
#[utoipa::path(get, path = "/api/v1/workflow-steps", tag = "workflows",
    responses((status = 200, body = Vec<workflows::StepType>), (status = "4XX", body = ErrorBody)))]
async fn list_step_types(State(app): State<Arc<App>>, Auth(who): Auth) -> AppResult<Json<Vec<workflows::StepType>>> {
    Ok(Json(workflows::step_types(&app, &who)?))
}

/// The shortcuts agents can run from a conversation (published workflows with a shortcut trigger).
#[utoipa::path(get, path = "/api/v1/shortcuts", tag = "workflows",
    responses((status = 200, body = Vec<Shortcut>), (status = "4XX", body = ErrorBody)))]
async fn list_shortcuts(State(app): State<Arc<App>>, Auth(who): Auth) -> AppResult<Json<Vec<Shortcut>>> {
    Ok(Json(workflows::shortcuts(&app, &who).await?))
}

/// Runs a shortcut for the conversation's contact; the form's values become the run's variables.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/shortcuts/{workflow_id}", tag = "workflows",
    params(("id" = i64, Path), ("workflow_id" = i64, Path)), request_body = RunShortcut,
    responses((status = 201, body = WorkflowRun), (status = "4XX", body = ErrorBody)))]
async fn run_shortcut(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path((id, workflow_id)): Path<(Id, Id)>,
    Json(req): Json<RunShortcut>,
) -> AppResult<(StatusCode, Json<WorkflowRun>)> {
    Ok((StatusCode::CREATED, Json(workflows::run_shortcut(&app, &who, id, workflow_id, req).await?)))
}
