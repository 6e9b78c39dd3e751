//! Contacts, channel identities, tags and custom field definitions.

use std::collections::HashMap;

use async_trait::async_trait;
use serde_json::json;
use sqlx::QueryBuilder;

use super::rows::*;
use super::{
    Conn, Db, ThisStore, append_event, clamp_limit, delete_owned, event, fetch_limit, found, from_json, now_ms,
    on_unique, push_list, to_json,
};
use crate::model::*;
use crate::store::{ContactStore, StoreError, StoreResult};

/// Loads contacts with their tags and identities (two extra queries for the whole batch).
async fn hydrate(conn: &mut Conn, rows: Vec<ContactRow>) -> StoreResult<Vec<Contact>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Id> = rows.iter().map(|r| r.id).collect();
    let mut qb = QueryBuilder::<Db>::new(
        "SELECT ct.contact_id, t.name FROM contact_tags ct JOIN tags t ON t.id = ct.tag_id WHERE ct.contact_id IN ",
    );
    push_list(&mut qb, ids.iter().copied());
    qb.push(" ORDER BY t.name");
    let tag_rows: Vec<(Id, String)> = qb.build_query_as().fetch_all(&mut *conn).await?;
    let mut tags: HashMap<Id, Vec<String>> = HashMap::new();
    for (contact, name) in tag_rows {
        tags.entry(contact).or_default().push(name);
    }
    let mut qb = QueryBuilder::<Db>::new(
        "SELECT contact_id, channel_id, external_id FROM channel_identities WHERE contact_id IN ",
    );
    push_list(&mut qb, ids.iter().copied());
    qb.push(" ORDER BY id");
    let identity_rows: Vec<(Id, Id, String)> = qb.build_query_as().fetch_all(&mut *conn).await?;
    let mut identities: HashMap<Id, Vec<ChannelIdentity>> = HashMap::new();
    for (contact, channel_id, external_id) in identity_rows {
        identities.entry(contact).or_default().push(ChannelIdentity { channel_id, external_id });
    }
    Ok(rows
        .into_iter()
        .map(|r| {
            let id = r.id;
            r.into_contact(tags.remove(&id).unwrap_or_default(), identities.remove(&id).unwrap_or_default())
        })
        .collect())
}

async fn load_contact(conn: &mut Conn, ws: Id, id: Id) -> StoreResult<Contact> {
    let sql = format!("SELECT {CONTACT_COLUMNS} FROM contacts WHERE workspace_id = $1 AND id = $2");
    let row: Option<ContactRow> = sqlx::query_as(&sql).bind(ws).bind(id).fetch_optional(&mut *conn).await?;
    let row = found(row, "contact")?;
    Ok(hydrate(conn, vec![row]).await?.remove(0))
}

/// Links existing or new tags to a contact; returns the names newly linked.
async fn link_tags(conn: &mut Conn, ws: Id, contact: Id, names: &[String]) -> StoreResult<Vec<String>> {
    let now = now_ms();
    let mut added = Vec::new();
    for name in names {
        sqlx::query("INSERT INTO tags (workspace_id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
            .bind(ws)
            .bind(name)
            .bind(now)
            .execute(&mut *conn)
            .await?;
        let tag_id: Id = sqlx::query_scalar("SELECT id FROM tags WHERE workspace_id = $1 AND name = $2")
            .bind(ws)
            .bind(name)
            .fetch_one(&mut *conn)
            .await?;
        let linked = sqlx::query(
            "INSERT INTO contact_tags (contact_id, tag_id, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(contact)
        .bind(tag_id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
        if linked.rows_affected() > 0 {
            added.push(name.clone());
        }
    }
    Ok(added)
}

async fn insert_identity(conn: &mut Conn, ws: Id, contact: Id, identity: &ChannelIdentity) -> StoreResult<()> {
    let channel: Option<Id> = sqlx::query_scalar("SELECT id FROM channels WHERE workspace_id = $1 AND id = $2")
        .bind(ws)
        .bind(identity.channel_id)
        .fetch_optional(&mut *conn)
        .await?;
    found(channel, "channel")?;
    sqlx::query(
        "INSERT INTO channel_identities (workspace_id, channel_id, external_id, contact_id, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(ws)
    .bind(identity.channel_id)
    .bind(&identity.external_id)
    .bind(contact)
    .bind(now_ms())
    .execute(&mut *conn)
    .await
    .map_err(|e| on_unique(e, "identity_taken", "this channel identity already belongs to a contact"))?;
    Ok(())
}

pub(super) async fn update_contact_in(
    conn: &mut Conn,
    ws: Id,
    id: Id,
    fields: &ContactFields,
    changed: &[&'static str],
    actor: Actor,
) -> StoreResult<Contact> {
    // Which custom fields' values change, by key: the event names them (workflow triggers filter on them).
    let mut custom_changed = std::collections::BTreeSet::new();
    if changed.contains(&"custom_fields") {
        let stored: Option<String> =
            sqlx::query_scalar("SELECT custom_fields FROM contacts WHERE workspace_id = $1 AND id = $2")
                .bind(ws)
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?;
        let before: std::collections::BTreeMap<String, serde_json::Value> = from_json(&stored.unwrap_or_default());
        let keys = before.keys().chain(fields.custom_fields.keys());
        custom_changed = keys.filter(|k| before.get(*k) != fields.custom_fields.get(*k)).cloned().collect();
    }
    let done = sqlx::query(
        "UPDATE contacts SET first_name = $1, last_name = $2, phone = $3, email = $4, country = $5, \
         language = $6, avatar_url = $7, lifecycle_stage = $8, assignee_id = $9, blocked = $10, \
         custom_fields = $11, updated_at = $12 WHERE workspace_id = $13 AND id = $14",
    )
    .bind(&fields.first_name)
    .bind(&fields.last_name)
    .bind(&fields.phone)
    .bind(&fields.email)
    .bind(&fields.country)
    .bind(&fields.language)
    .bind(&fields.avatar_url)
    .bind(&fields.lifecycle_stage)
    .bind(fields.assignee_id)
    .bind(fields.blocked)
    .bind(to_json(&fields.custom_fields)?)
    .bind(now_ms())
    .bind(ws)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound("contact"));
    }
    let data = json!({ "changed": changed, "custom_fields": custom_changed });
    append_event(&mut *conn, ws, event("contact.updated", id, actor, data)).await?;
    if changed.contains(&"lifecycle_stage") {
        let data = json!({ "lifecycle_stage": fields.lifecycle_stage });
        append_event(&mut *conn, ws, event("contact.lifecycle.updated", id, actor, data)).await?;
    }
    if changed.contains(&"assignee_id") {
        let data = json!({ "assignee_id": fields.assignee_id });
        append_event(&mut *conn, ws, event("contact.assignee.updated", id, actor, data)).await?;
    }
    let contact = load_contact(&mut *conn, ws, id).await?;
    Ok(contact)
}

pub(super) async fn add_contact_tags_in(
    conn: &mut Conn,
    ws: Id,
    id: Id,
    tags: &[String],
    actor: Actor,
) -> StoreResult<Contact> {
    load_contact(&mut *conn, ws, id).await?;
    let added = link_tags(&mut *conn, ws, id, tags).await?;
    if !added.is_empty() {
        let data = json!({ "added": added, "removed": [] });
        append_event(&mut *conn, ws, event("contact.tag.updated", id, actor, data)).await?;
    }
    let contact = load_contact(&mut *conn, ws, id).await?;
    Ok(contact)
}

pub(super) async fn remove_contact_tag_in(
    conn: &mut Conn,
    ws: Id,
    id: Id,
    tag: &str,
    actor: Actor,
) -> StoreResult<Contact> {
    load_contact(&mut *conn, ws, id).await?;
    let done = sqlx::query(
        "DELETE FROM contact_tags WHERE contact_id = $1 AND tag_id IN \
         (SELECT id FROM tags WHERE workspace_id = $2 AND name = $3)",
    )
    .bind(id)
    .bind(ws)
    .bind(tag)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound("tag on this contact"));
    }
    let data = json!({ "added": [], "removed": [tag] });
    append_event(&mut *conn, ws, event("contact.tag.updated", id, actor, data)).await?;
    let contact = load_contact(&mut *conn, ws, id).await?;
    Ok(contact)
}

#[async_trait]
impl ContactStore for ThisStore {
    async fn create_contact(
        &self,
        ws: Id,
        fields: &ContactFields,
        tags: &[String],
        identities: &[ChannelIdentity],
        actor: Actor,
    ) -> StoreResult<Contact> {
        let mut tx = self.begin().await?;
        let now = now_ms();
        let id: Id = sqlx::query_scalar(
            "INSERT INTO contacts (workspace_id, first_name, last_name, phone, email, country, language, avatar_url, \
             lifecycle_stage, assignee_id, blocked, custom_fields, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13) RETURNING id",
        )
        .bind(ws)
        .bind(&fields.first_name)
        .bind(&fields.last_name)
        .bind(&fields.phone)
        .bind(&fields.email)
        .bind(&fields.country)
        .bind(&fields.language)
        .bind(&fields.avatar_url)
        .bind(&fields.lifecycle_stage)
        .bind(fields.assignee_id)
        .bind(fields.blocked)
        .bind(to_json(&fields.custom_fields)?)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        link_tags(&mut tx, ws, id, tags).await?;
        for identity in identities {
            insert_identity(&mut tx, ws, id, identity).await?;
        }
        append_event(&mut tx, ws, event("contact.created", id, actor, json!({ "tags": tags }))).await?;
        let contact = load_contact(&mut tx, ws, id).await?;
        tx.commit().await?;
        Ok(contact)
    }

    async fn get_contact(&self, ws: Id, id: Id) -> StoreResult<Contact> {
        load_contact(&mut *self.pool.acquire().await?, ws, id).await
    }

    async fn list_contacts(&self, ws: Id, filter: &ContactFilter, page: &PageRequest) -> StoreResult<Page<Contact>> {
        let mut conn = self.pool.acquire().await?;
        let mut qb = QueryBuilder::<Db>::new(format!("SELECT {CONTACT_COLUMNS} FROM contacts WHERE workspace_id = "));
        qb.push_bind(ws);
        if let Some(after) = page.after {
            qb.push(" AND id < ").push_bind(after.id);
        }
        if let Some(q) = filter.query.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
            let pattern = format!("%{}%", q.to_lowercase().replace(['%', '_'], ""));
            let digits: String = q.chars().filter(char::is_ascii_digit).collect();
            qb.push(" AND (LOWER(COALESCE(first_name, '') || ' ' || COALESCE(last_name, '')) LIKE ")
                .push_bind(pattern.clone())
                .push(" OR LOWER(COALESCE(email, '')) LIKE ")
                .push_bind(pattern);
            if !digits.is_empty() {
                qb.push(" OR COALESCE(phone, '') LIKE ").push_bind(format!("%{digits}%"));
            }
            qb.push(")");
        }
        if let Some(tag) = &filter.tag {
            qb.push(
                " AND id IN (SELECT ct.contact_id FROM contact_tags ct JOIN tags t ON t.id = ct.tag_id WHERE t.name = ",
            )
            .push_bind(tag.clone())
            .push(")");
        }
        qb.push(" ORDER BY id DESC LIMIT ").push_bind(fetch_limit(page));
        let rows: Vec<ContactRow> = qb.build_query_as().fetch_all(&mut *conn).await?;
        let contacts = hydrate(&mut conn, rows).await?;
        Ok(Page::from_overfetch(contacts, clamp_limit(page), |c| Cursor { key: 0, id: c.id }))
    }

    async fn update_contact(
        &self,
        ws: Id,
        id: Id,
        fields: &ContactFields,
        changed: &[&'static str],
        actor: Actor,
    ) -> StoreResult<Contact> {
        let mut tx = self.begin().await?;
        let out = update_contact_in(&mut tx, ws, id, fields, changed, actor).await?;
        tx.commit().await?;
        Ok(out)
    }

    async fn delete_contact(&self, ws: Id, id: Id, actor: Actor) -> StoreResult<()> {
        delete_owned(self, "contacts", "contact", "contact.deleted", ws, id, actor).await
    }

    async fn add_contact_tags(&self, ws: Id, id: Id, tags: &[String], actor: Actor) -> StoreResult<Contact> {
        let mut tx = self.begin().await?;
        let out = add_contact_tags_in(&mut tx, ws, id, tags, actor).await?;
        tx.commit().await?;
        Ok(out)
    }

    async fn remove_contact_tag(&self, ws: Id, id: Id, tag: &str, actor: Actor) -> StoreResult<Contact> {
        let mut tx = self.begin().await?;
        let out = remove_contact_tag_in(&mut tx, ws, id, tag, actor).await?;
        tx.commit().await?;
        Ok(out)
    }

    async fn add_channel_identity(
        &self,
        ws: Id,
        id: Id,
        identity: &ChannelIdentity,
        actor: Actor,
    ) -> StoreResult<Contact> {
        let mut tx = self.begin().await?;
        load_contact(&mut tx, ws, id).await?;
        insert_identity(&mut tx, ws, id, identity).await?;
        let data = json!({ "channel_id": identity.channel_id, "external_id": identity.external_id });
        append_event(&mut tx, ws, event("contact.identity.added", id, actor, data)).await?;
        let contact = load_contact(&mut tx, ws, id).await?;
        tx.commit().await?;
        Ok(contact)
    }

    async fn find_contact_by_identity(&self, ws: Id, channel: Id, external_id: &str) -> StoreResult<Option<Contact>> {
        let mut conn = self.pool.acquire().await?;
        let id: Option<Id> = sqlx::query_scalar(
            "SELECT contact_id FROM channel_identities WHERE workspace_id = $1 AND channel_id = $2 AND external_id = $3",
        )
        .bind(ws)
        .bind(channel)
        .bind(external_id)
        .fetch_optional(&mut *conn)
        .await?;
        match id {
            Some(id) => Ok(Some(load_contact(&mut conn, ws, id).await?)),
            None => Ok(None),
        }
    }

    async fn create_field_definition(
        &self,
        ws: Id,
        def: &FieldDefinition,
        actor: Actor,
    ) -> StoreResult<FieldDefinition> {
        let mut tx = self.begin().await?;
        let row: FieldDefinitionRow = sqlx::query_as(
            "INSERT INTO contact_field_definitions (workspace_id, key, label, field_type, options, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id, key, label, field_type, options",
        )
        .bind(ws)
        .bind(&def.key)
        .bind(&def.label)
        .bind(def.field_type.as_str())
        .bind(to_json(&def.options)?)
        .bind(now_ms())
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| on_unique(e, "already_exists", "a custom field with this key already exists"))?;
        let created = FieldDefinition::from(row);
        append_event(&mut tx, ws, event("contact_field.created", created.id, actor, json!({ "key": def.key }))).await?;
        tx.commit().await?;
        Ok(created)
    }

    async fn list_field_definitions(&self, ws: Id) -> StoreResult<Vec<FieldDefinition>> {
        let rows: Vec<FieldDefinitionRow> = sqlx::query_as(
            "SELECT id, key, label, field_type, options FROM contact_field_definitions WHERE workspace_id = $1 ORDER BY id",
        )
        .bind(ws)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn page_field_definitions(&self, ws: Id, page: &PageRequest) -> StoreResult<Page<FieldDefinition>> {
        let columns = "id, key, label, field_type, options";
        self.list_by_id::<FieldDefinitionRow, FieldDefinition>("contact_field_definitions", columns, ws, page, |d| d.id)
            .await
    }

    async fn delete_field_definition(&self, ws: Id, id: Id, actor: Actor) -> StoreResult<()> {
        delete_owned(self, "contact_field_definitions", "custom field", "contact_field.deleted", ws, id, actor).await
    }

    async fn create_tag(&self, ws: Id, name: &str, actor: Actor) -> StoreResult<Tag> {
        let mut tx = self.begin().await?;
        let row: NamedRow = sqlx::query_as(
            "INSERT INTO tags (workspace_id, name, created_at) VALUES ($1, $2, $3) RETURNING id, name, created_at",
        )
        .bind(ws)
        .bind(name)
        .bind(now_ms())
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| on_unique(e, "already_exists", "a tag with this name already exists"))?;
        append_event(&mut tx, ws, event("tag.created", row.id, actor, json!({ "name": name }))).await?;
        tx.commit().await?;
        Ok(row.into())
    }

    async fn list_tags(&self, ws: Id, page: &PageRequest) -> StoreResult<Page<Tag>> {
        self.list_by_id::<NamedRow, Tag>("tags", "id, name, created_at", ws, page, |t| t.id).await
    }

    async fn delete_tag(&self, ws: Id, id: Id, actor: Actor) -> StoreResult<()> {
        delete_owned(self, "tags", "tag", "tag.deleted", ws, id, actor).await
    }
}
