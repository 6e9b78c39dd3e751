//! Contacts: CRUD, tags, channel identities and custom field definitions.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::routes;

use super::extract::{Auth, Json, Path, Query};
use super::{ApiRouter, PageQuery};
use crate::app::App;
use crate::error::{AppResult, ErrorBody};
use crate::model::*;
use crate::service::contacts::{self, CreateContact, UpdateContact};
use crate::service::page;

pub(super) fn router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(list_contacts, create_contact))
        .routes(routes!(get_contact, update_contact, delete_contact))
        .routes(routes!(add_tags))
        .routes(routes!(remove_tag))
        .routes(routes!(add_identity))
        .routes(routes!(list_fields, create_field))
        .routes(routes!(delete_field))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ContactQuery {
    /// Matches first or last name, e-mail or phone digits.
    q: Option<String>,
    /// Only contacts with this tag.
    tag: Option<String>,
    cursor: Option<String>,
    /// 1–200, default 50.
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
}

/// Contacts, newest first.
#[utoipa::path(get, path = "/api/v1/contacts", tag = "contacts", params(ContactQuery),
    responses((status = 200, body = Page<Contact>), (status = "4XX", body = ErrorBody)))]
async fn list_contacts(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Query(q): Query<ContactQuery>,
) -> AppResult<Json<Page<Contact>>> {
    let filter = ContactFilter { query: q.q, tag: q.tag };
    let page = page(q.cursor.as_deref(), q.limit)?;
    Ok(Json(app.store.list_contacts(who.workspace_id, &filter, &page).await?))
}

#[utoipa::path(post, path = "/api/v1/contacts", tag = "contacts", request_body = CreateContact,
    responses((status = 201, body = Contact), (status = "4XX", body = ErrorBody)))]
async fn create_contact(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Json(req): Json<CreateContact>,
) -> AppResult<(StatusCode, Json<Contact>)> {
    Ok((StatusCode::CREATED, Json(contacts::create(&app, &who, req).await?)))
}

#[utoipa::path(get, path = "/api/v1/contacts/{id}", tag = "contacts", params(("id" = i64, Path)),
    responses((status = 200, body = Contact), (status = "4XX", body = ErrorBody)))]
async fn get_contact(State(app): State<Arc<App>>, Auth(who): Auth, Path(id): Path<Id>) -> AppResult<Json<Contact>> {
    Ok(Json(app.store.get_contact(who.workspace_id, id).await?))
}

/// Changes fields: absent fields are kept, `null` clears one; custom fields merge by key.
#[utoipa::path(patch, path = "/api/v1/contacts/{id}", tag = "contacts", params(("id" = i64, Path)), request_body = UpdateContact,
    responses((status = 200, body = Contact), (status = "4XX", body = ErrorBody)))]
async fn update_contact(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(id): Path<Id>,
    Json(req): Json<UpdateContact>,
) -> AppResult<Json<Contact>> {
    Ok(Json(contacts::update(&app, &who, id, req).await?))
}

/// Deletes a contact with its conversations and messages (managers and owners).
#[utoipa::path(delete, path = "/api/v1/contacts/{id}", tag = "contacts", params(("id" = i64, Path)),
    responses((status = 204), (status = "4XX", body = ErrorBody)))]
async fn delete_contact(State(app): State<Arc<App>>, Auth(who): Auth, Path(id): Path<Id>) -> AppResult<StatusCode> {
    contacts::delete(&app, &who, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct TagsInput {
    /// At least one tag name (each 1 to 50 characters); tags the workspace does not have yet are created.
    #[schema(schema_with = tag_names_at_least_one)]
    tags: Vec<String>,
}

fn tag_names_at_least_one() -> utoipa::openapi::Array {
    let mut schema = contacts::tag_names_schema();
    schema.min_items = Some(1);
    schema
}

#[utoipa::path(post, path = "/api/v1/contacts/{id}/tags", tag = "contacts", params(("id" = i64, Path)), request_body = TagsInput,
    responses((status = 200, body = Contact), (status = "4XX", body = ErrorBody)))]
async fn add_tags(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(id): Path<Id>,
    Json(req): Json<TagsInput>,
) -> AppResult<Json<Contact>> {
    Ok(Json(contacts::add_tags(&app, &who, id, &req.tags).await?))
}

#[utoipa::path(delete, path = "/api/v1/contacts/{id}/tags/{tag}", tag = "contacts", params(("id" = i64, Path), ("tag" = String, Path)),
    responses((status = 200, body = Contact), (status = "4XX", body = ErrorBody)))]
async fn remove_tag(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path((id, tag)): Path<(Id, String)>,
) -> AppResult<Json<Contact>> {
    Ok(Json(contacts::remove_tag(&app, &who, id, &tag).await?))
}

/// Links the contact to its id on a channel (`identity_taken` if another contact has it).
#[utoipa::path(post, path = "/api/v1/contacts/{id}/identities", tag = "contacts", params(("id" = i64, Path)), request_body = ChannelIdentity,
    responses((status = 200, body = Contact), (status = "4XX", body = ErrorBody)))]
async fn add_identity(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(id): Path<Id>,
    Json(req): Json<ChannelIdentity>,
) -> AppResult<Json<Contact>> {
    Ok(Json(contacts::add_identity(&app, &who, id, req).await?))
}

/// The workspace's custom contact fields.
#[utoipa::path(get, path = "/api/v1/contact-fields", tag = "contacts", params(PageQuery),
    responses((status = 200, body = Page<FieldDefinition>), (status = "4XX", body = ErrorBody)))]
async fn list_fields(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Query(q): Query<PageQuery>,
) -> AppResult<Json<Page<FieldDefinition>>> {
    Ok(Json(app.store.page_field_definitions(who.workspace_id, &q.page()?).await?))
}

/// Defines a custom contact field (managers and owners).
#[utoipa::path(post, path = "/api/v1/contact-fields", tag = "contacts", request_body = FieldDefinition,
    responses((status = 201, body = FieldDefinition), (status = "4XX", body = ErrorBody)))]
async fn create_field(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Json(req): Json<FieldDefinition>,
) -> AppResult<(StatusCode, Json<FieldDefinition>)> {
    Ok((StatusCode::CREATED, Json(contacts::create_field(&app, &who, req).await?)))
}

#[utoipa::path(delete, path = "/api/v1/contact-fields/{id}", tag = "contacts", params(("id" = i64, Path)),
    responses((status = 204), (status = "4XX", body = ErrorBody)))]
async fn delete_field(State(app): State<Arc<App>>, Auth(who): Auth, Path(id): Path<Id>) -> AppResult<StatusCode> {
    contacts::delete_field(&app, &who, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
