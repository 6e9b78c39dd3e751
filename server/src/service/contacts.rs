//! Contacts: create, read, update (PATCH semantics), delete, tags, identities and custom fields.

use std::collections::BTreeMap;

use serde::Deserialize;
use utoipa::ToSchema;

use super::{actor, double_option, require, validate};
use crate::app::App;
use crate::error::{AppError, AppResult};
use crate::model::*;

/// A new contact. At least one of name, phone, e-mail or identity is required.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateContact {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// Any international format; stored as E.164.
    pub phone: Option<String>,
    pub email: Option<String>,
    /// ISO 3166-1 alpha-2; derived from the phone number when absent.
    pub country: Option<String>,
    /// A BCP 47 language tag such as `ar` or `en-GB`.
    #[schema(pattern = r"^\s*([A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*)?\s*$")]
    pub language: Option<String>,
    pub avatar_url: Option<String>,
    pub lifecycle_stage: Option<String>,
    pub assignee_id: Option<Id>,
    #[serde(default)]
    pub blocked: bool,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub custom_fields: BTreeMap<String, serde_json::Value>,
    /// Tag names (each 1 to 50 characters); tags the workspace does not have yet are created.
    #[serde(default)]
    #[schema(schema_with = tag_names_schema)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub identities: Vec<ChannelIdentity>,
}

/// Changes to a contact: absent fields are kept, `null` clears a field.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateContact {
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub first_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub last_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub country: Option<Option<String>>,
    /// A BCP 47 language tag such as `ar` or `en-GB`; `null` clears it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, pattern = r"^\s*([A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*)?\s*$")]
    pub language: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub avatar_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub lifecycle_stage: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub assignee_id: Option<Option<Id>>,
    pub blocked: Option<bool>,
    /// Values to set by key; `null` removes a value. Keys not named are kept.
    #[schema(value_type = Option<Object>)]
    pub custom_fields: Option<BTreeMap<String, serde_json::Value>>,
}

/// The longest tag name, in characters (`TagInput` in settings documents the same).
pub const MAX_TAG_CHARS: usize = 50;

/// The schema of a list of tag names: each 1 to 50 characters, not only spaces, as `tag_names` checks.
pub fn tag_names_schema() -> utoipa::openapi::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(MAX_TAG_CHARS))
                .pattern(Some(r"\S")),
        )
        .build()
}

fn tag_names(tags: &[String]) -> AppResult<Vec<String>> {
    let mut names = Vec::with_capacity(tags.len());
    for (i, t) in tags.iter().enumerate() {
        let name = validate::required(&format!("tags[{i}]"), t, MAX_TAG_CHARS)?;
        if !names.contains(&name) {
            names.push(name);
        }
    }
    Ok(names)
}

async fn check_assignee(app: &App, ws: Id, assignee: Option<Id>) -> AppResult<()> {
    if let Some(user) = assignee {
        app.store
            .get_user(ws, user)
            .await
            .map_err(|_| AppError::validation("assignee_id", "is not a member of this workspace"))?;
    }
    Ok(())
}

/// Validates and normalises every standard field of `f` in place.
fn normalise(f: &mut ContactFields) -> AppResult<()> {
    f.first_name = validate::optional("first_name", f.first_name.as_deref(), 100)?;
    f.last_name = validate::optional("last_name", f.last_name.as_deref(), 100)?;
    f.email = match f.email.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
        Some(e) => Some(validate::email("email", e)?),
        None => None,
    };
    let mut phone_country = None;
    f.phone = match f.phone.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
        Some(p) => {
            let (e164, country) = validate::phone("phone", p)?;
            phone_country = country;
            Some(e164)
        }
        None => None,
    };
    f.country = match f.country.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        Some(c) => Some(validate::country("country", c)?),
        None => phone_country,
    };
    f.language = match f.language.as_deref().map(str::trim).filter(|l| !l.is_empty()) {
        Some(l) => Some(validate::language("language", l)?),
        None => None,
    };
    f.avatar_url = match f.avatar_url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
        Some(u) => Some(validate::url("avatar_url", u)?),
        None => None,
    };
    f.lifecycle_stage = validate::optional("lifecycle_stage", f.lifecycle_stage.as_deref(), 50)?;
    Ok(())
}

pub async fn create(app: &App, who: &Principal, req: CreateContact) -> AppResult<Contact> {
    let new = prepare(app, who.workspace_id, req).await?;
    Ok(app.store.create_contact(who.workspace_id, &new.fields, &new.tags, &new.identities, actor(who)).await?)
}

/// A contact checked and normalised, ready to store.
#[derive(Debug, Clone)]
pub struct NewContact {
    pub fields: ContactFields,
    pub tags: Vec<String>,
    pub identities: Vec<ChannelIdentity>,
}

/// Checks and normalises a new contact without storing it.
pub async fn prepare(app: &App, ws: Id, req: CreateContact) -> AppResult<NewContact> {
    let mut fields = ContactFields {
        first_name: req.first_name,
        last_name: req.last_name,
        phone: req.phone,
        email: req.email,
        country: req.country,
        language: req.language,
        avatar_url: req.avatar_url,
        lifecycle_stage: req.lifecycle_stage,
        assignee_id: req.assignee_id,
        blocked: req.blocked,
        custom_fields: BTreeMap::new(),
    };
    normalise(&mut fields)?;
    if fields.first_name.is_none()
        && fields.last_name.is_none()
        && fields.phone.is_none()
        && fields.email.is_none()
        && req.identities.is_empty()
    {
        return Err(AppError::validation("first_name", "a contact needs a name, phone, e-mail or channel identity"));
    }
    check_assignee(app, ws, fields.assignee_id).await?;
    let defs = app.store.list_field_definitions(ws).await?;
    validate::custom_fields(&defs, &mut fields.custom_fields, &req.custom_fields)?;
    let tags = tag_names(&req.tags)?;
    for (i, identity) in req.identities.iter().enumerate() {
        validate::required(&format!("identities[{i}].external_id"), &identity.external_id, 256)?;
    }
    Ok(NewContact { fields, tags, identities: req.identities })
}

pub async fn update(app: &App, who: &Principal, id: Id, req: UpdateContact) -> AppResult<Contact> {
    let ws = who.workspace_id;
    let current = app.store.get_contact(ws, id).await?;
    let (fields, changed) = changes(app, ws, &current, req).await?;
    Ok(app.store.update_contact(ws, id, &fields, &changed, actor(who)).await?)
}

/// The contact's fields after `req`, checked and normalised, and the names of those it changes; writes
/// nothing (the API and workflows' update-field step both use it).
pub async fn changes(
    app: &App,
    ws: Id,
    current: &Contact,
    req: UpdateContact,
) -> AppResult<(ContactFields, Vec<&'static str>)> {
    let mut f = ContactFields {
        first_name: current.first_name.clone(),
        last_name: current.last_name.clone(),
        phone: current.phone.clone(),
        email: current.email.clone(),
        country: current.country.clone(),
        language: current.language.clone(),
        avatar_url: current.avatar_url.clone(),
        lifecycle_stage: current.lifecycle_stage.clone(),
        assignee_id: current.assignee_id,
        blocked: current.blocked,
        custom_fields: current.custom_fields.clone(),
    };
    let mut changed: Vec<&'static str> = Vec::new();
    // A new phone number re-derives the country unless one is given.
    let rederive_country = req.phone.is_some() && req.country.is_none();
    macro_rules! apply {
        ($($field:ident),*) => {$(
            if let Some(v) = req.$field {
                f.$field = v;
                changed.push(stringify!($field));
            }
        )*};
    }
    apply!(first_name, last_name, phone, email, country, language, avatar_url, lifecycle_stage, assignee_id);
    if rederive_country {
        f.country = None;
    }
    if let Some(b) = req.blocked {
        f.blocked = b;
        changed.push("blocked");
    }
    // Only what this request changes is checked: a value stored earlier (a provider's phone number that
    // today's number plan rejects, say) must not block an edit of another field. Unchanged values are set
    // aside while the rest is normalised, then put back as stored.
    let checked = |field: &str| changed.contains(&field) || (field == "country" && rederive_country);
    macro_rules! normalise_changed {
        ($($field:ident),*) => {{
            $(let $field = (!checked(stringify!($field))).then(|| f.$field.take());)*
            normalise(&mut f)?;
            $(if let Some(stored) = $field { f.$field = stored; })*
        }};
    }
    normalise_changed!(phone, email, language, avatar_url, country);
    if changed.contains(&"assignee_id") {
        check_assignee(app, ws, f.assignee_id).await?;
    }
    if let Some(updates) = &req.custom_fields {
        let defs = app.store.list_field_definitions(ws).await?;
        validate::custom_fields(&defs, &mut f.custom_fields, updates)?;
        changed.push("custom_fields");
    }
    Ok((f, changed))
}

pub async fn delete(app: &App, who: &Principal, id: Id) -> AppResult<()> {
    require(who, Role::Manager)?;
    Ok(app.store.delete_contact(who.workspace_id, id, actor(who)).await?)
}

pub async fn add_tags(app: &App, who: &Principal, id: Id, tags: &[String]) -> AppResult<Contact> {
    if tags.is_empty() {
        return Err(AppError::validation("tags", "must name at least one tag"));
    }
    let tags = tag_names(tags)?;
    Ok(app.store.add_contact_tags(who.workspace_id, id, &tags, actor(who)).await?)
}

pub async fn remove_tag(app: &App, who: &Principal, id: Id, tag: &str) -> AppResult<Contact> {
    Ok(app.store.remove_contact_tag(who.workspace_id, id, tag, actor(who)).await?)
}

pub async fn create_field(app: &App, who: &Principal, def: FieldDefinition) -> AppResult<FieldDefinition> {
    require(who, Role::Manager)?;
    let mut def = def;
    def.key = validate::key("key", &def.key)?;
    def.label = validate::required("label", &def.label, 100)?;
    if def.field_type == FieldType::List {
        if def.options.is_empty() {
            return Err(AppError::validation("options", "a list field needs at least one option"));
        }
        for (i, o) in def.options.iter_mut().enumerate() {
            *o = validate::required(&format!("options[{i}]"), o, 100)?;
        }
    } else if !def.options.is_empty() {
        return Err(AppError::validation("options", "only list fields have options"));
    }
    Ok(app.store.create_field_definition(who.workspace_id, &def, actor(who)).await?)
}

pub async fn delete_field(app: &App, who: &Principal, id: Id) -> AppResult<()> {
    require(who, Role::Manager)?;
    Ok(app.store.delete_field_definition(who.workspace_id, id, actor(who)).await?)
}

/// Links a contact to its id on a channel (`identity_taken` if another contact has it).
pub async fn add_identity(app: &App, who: &Principal, id: Id, identity: ChannelIdentity) -> AppResult<Contact> {
    let external_id = validate::required("external_id", &identity.external_id, 256)?;
    let identity = ChannelIdentity { channel_id: identity.channel_id, external_id };
    app.store
        .get_channel(who.workspace_id, identity.channel_id)
        .await
        .map_err(|_| AppError::validation("channel_id", "no such channel"))?;
    Ok(app.store.add_channel_identity(who.workspace_id, id, &identity, actor(who)).await?)
}
