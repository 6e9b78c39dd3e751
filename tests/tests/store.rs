//! Store conformance suite: every store method against SQLite and (when configured) PostgreSQL, through
//! the same trait object the server uses.

use std::collections::BTreeMap;

use chrono::{Duration, Utc};
use serde_json::json;
use switchboard::model::*;
use switchboard::store::{Store, StoreError};
use switchboard_tests::{Backend, TestDb, both_backends};

fn owner() -> NewUser {
    NewUser { email: "o@x.test".into(), name: "O".into(), password_hash: "h".into(), role: Role::Owner }
}

fn fields(first: &str) -> ContactFields {
    ContactFields { first_name: Some(first.into()), ..Default::default() }
}

fn is_conflict(r: &Result<impl std::fmt::Debug, StoreError>, want: &str) -> bool {
    matches!(r, Err(StoreError::Conflict { code, .. }) if *code == want)
}

async fn event_kinds(s: &dyn Store, ws: Id) -> Vec<String> {
    s.list_events(ws, 0, 1000).await.expect("events").into_iter().map(|e| e.kind).collect()
}

async fn accounts(backend: Backend) {
    let db = TestDb::new(backend).await;
    let app = db.app().await;
    let s = app.store.as_ref();
    assert!(!s.is_initialized().await.expect("check"));
    let (org, ws, owner_user) = s.init_organisation("Org", "Main", &owner()).await.expect("init");
    assert!(s.is_initialized().await.expect("check"));
    assert_eq!(owner_user.role, Role::Owner);
    assert!(is_conflict(&s.init_organisation("Org", "Main", &owner()).await, "already_initialized"));

    let actor = Actor::user(owner_user.id);
    let agent = NewUser { email: "a@x.test".into(), name: "A".into(), password_hash: "h2".into(), role: Role::Agent };
    let a = s.create_user(ws.id, &agent, actor).await.expect("agent");
    assert!(is_conflict(&s.create_user(ws.id, &agent, actor).await, "user_exists"));
    let users = s.list_users(ws.id, &PageRequest { after: None, limit: 1 }).await.expect("page 1");
    assert_eq!(users.items.len(), 1);
    let cursor = Cursor::decode(users.next_cursor.as_deref().expect("more")).expect("cursor");
    let rest = s.list_users(ws.id, &PageRequest { after: Some(cursor), limit: 10 }).await.expect("page 2");
    assert_eq!(rest.items.iter().map(|u| u.id).collect::<Vec<_>>(), vec![a.id]);
    assert!(rest.next_cursor.is_none());

    let updated = s
        .update_user(ws.id, a.id, &UserUpdate { name: Some("Agent A".into()), role: Some(Role::Manager) }, actor)
        .await
        .expect("update");
    assert_eq!((updated.name.as_str(), updated.role), ("Agent A", Role::Manager));
    let demote = UserUpdate { name: None, role: Some(Role::Agent) };
    assert!(is_conflict(&s.update_user(ws.id, owner_user.id, &demote, actor).await, "last_owner"));
    assert!(is_conflict(&s.remove_user(ws.id, owner_user.id, actor).await, "last_owner"));

    let creds = s.user_credentials("a@x.test").await.expect("creds").expect("found");
    assert_eq!(creds.password_hash, "h2");
    assert!(s.user_credentials("nobody@x.test").await.expect("creds").is_none());

    // A second workspace of the same organisation sees none of the first's users but its owner.
    let ws2 = s.create_workspace(org.id, "Second", owner_user.id).await.expect("second workspace");
    assert!(matches!(s.get_user(ws2.id, a.id).await, Err(StoreError::NotFound(_))));
    assert_eq!(s.user_workspaces(owner_user.id).await.expect("memberships").len(), 2);

    let t = s.create_api_token(ws.id, a.id, "ci", "hash-1", "sb_abc", actor).await.expect("token");
    let p = s.principal_for_token("hash-1", Utc::now()).await.expect("lookup").expect("principal");
    assert_eq!((p.user_id, p.workspace_id, p.role, p.token_id), (a.id, ws.id, Role::Manager, Some(t.id)));
    assert!(s.principal_for_token("nope", Utc::now()).await.expect("lookup").is_none());
    assert_eq!(s.list_api_tokens(ws.id, Some(a.id), &PageRequest::default()).await.expect("list").items.len(), 1);
    assert_eq!(
        s.list_api_tokens(ws.id, Some(owner_user.id), &PageRequest::default()).await.expect("list").items.len(),
        0
    );
    assert!(matches!(s.delete_api_token(ws.id, t.id, Some(owner_user.id), actor).await, Err(StoreError::NotFound(_))));
    assert!(matches!(s.delete_api_token(ws2.id, t.id, None, actor).await, Err(StoreError::NotFound(_))));
    s.delete_api_token(ws.id, t.id, Some(a.id), actor).await.expect("own token");
    assert!(s.principal_for_token("hash-1", Utc::now()).await.expect("lookup").is_none());

    let expires = Utc::now() + Duration::hours(1);
    s.create_session("sess", a.id, ws.id, "csrf", expires).await.expect("session");
    let live = s.session("sess", Utc::now()).await.expect("get").expect("live");
    assert_eq!((live.principal.user_id, live.csrf_token.as_str()), (a.id, "csrf"));
    assert!(s.session("sess", expires + Duration::seconds(1)).await.expect("get").is_none(), "expired");
    s.delete_session("sess").await.expect("delete");
    assert!(s.session("sess", Utc::now()).await.expect("get").is_none());

    // Removing a member revokes their tokens and sessions.
    s.create_api_token(ws.id, a.id, "ci2", "hash-2", "sb_def", actor).await.expect("token");
    s.remove_user(ws.id, a.id, actor).await.expect("remove");
    assert!(s.principal_for_token("hash-2", Utc::now()).await.expect("lookup").is_none());

    let w = s
        .update_workspace(
            ws.id,
            &WorkspaceUpdate { closing_note_mode: Some(ClosingNoteMode::CategoryRequired), ..Default::default() },
            actor,
        )
        .await
        .expect("update workspace");
    assert_eq!(w.closing_note_mode, ClosingNoteMode::CategoryRequired);
    assert_eq!(w.name, "Main");
    let kinds = event_kinds(s, ws.id).await;
    for k in [
        "workspace.created",
        "user.created",
        "user.updated",
        "api_token.created",
        "api_token.deleted",
        "user.removed",
        "workspace.updated",
    ] {
        assert!(kinds.iter().any(|x| x == k), "missing event {k} in {kinds:?}");
    }
    drop(app);
    db.cleanup().await;
}
both_backends!(account_store, accounts);

async fn contacts(backend: Backend) {
    let db = TestDb::new(backend).await;
    let app = db.app().await;
    let s = app.store.as_ref();
    let (org, ws, o) = s.init_organisation("Org", "Main", &owner()).await.expect("init");
    let actor = Actor::user(o.id);
    let channel = s
        .create_channel(
            ws.id,
            &ChannelFields {
                name: "WA".into(),
                plugin_id: "whatsapp-cloud".into(),
                config: json!({"phone_number_id": "1"}),
                secret_names: vec!["token".into()],
                secrets_sealed: "sealed".into(),
                enabled: true,
            },
            actor,
        )
        .await
        .expect("channel");
    let identity = ChannelIdentity { channel_id: channel.id, external_id: "971501234567".into() };
    let mut f = fields("Ana");
    f.phone = Some("+971501234567".into());
    f.custom_fields = BTreeMap::from([("plan".to_owned(), json!("gold"))]);
    let c = s
        .create_contact(ws.id, &f, &["vip".into(), "lead".into()], std::slice::from_ref(&identity), actor)
        .await
        .expect("create");
    assert_eq!(c.tags, vec!["lead", "vip"]);
    assert_eq!(c.identities, vec![identity.clone()]);
    assert_eq!(c.custom_fields["plan"], "gold");
    let found = s.find_contact_by_identity(ws.id, channel.id, "971501234567").await.expect("find").expect("some");
    assert_eq!(found.id, c.id);
    assert!(s.find_contact_by_identity(ws.id, channel.id, "other").await.expect("find").is_none());
    // The same identity cannot belong to two contacts.
    let dup = s.create_contact(ws.id, &fields("Bob"), &[], std::slice::from_ref(&identity), actor).await;
    assert!(is_conflict(&dup, "identity_taken"));
    assert_eq!(
        s.list_contacts(ws.id, &ContactFilter::default(), &PageRequest::default()).await.expect("list").items.len(),
        1,
        "nothing half-written"
    );

    let b = s.create_contact(ws.id, &fields("Bob"), &[], &[], actor).await.expect("bob");
    let by_name = s
        .list_contacts(ws.id, &ContactFilter { query: Some("an".into()), tag: None }, &PageRequest::default())
        .await
        .expect("search");
    assert_eq!(by_name.items.iter().map(|c| c.id).collect::<Vec<_>>(), vec![c.id]);
    let by_digits = s
        .list_contacts(ws.id, &ContactFilter { query: Some("50123".into()), tag: None }, &PageRequest::default())
        .await
        .expect("search digits");
    assert_eq!(by_digits.items.len(), 1);
    let by_tag = s
        .list_contacts(ws.id, &ContactFilter { query: None, tag: Some("vip".into()) }, &PageRequest::default())
        .await
        .expect("tag filter");
    assert_eq!(by_tag.items.len(), 1);
    let newest =
        s.list_contacts(ws.id, &ContactFilter::default(), &PageRequest { after: None, limit: 1 }).await.expect("page");
    assert_eq!(newest.items[0].id, b.id, "newest first");
    let next = Cursor::decode(newest.next_cursor.as_deref().expect("cursor")).expect("decode");
    let older = s
        .list_contacts(ws.id, &ContactFilter::default(), &PageRequest { after: Some(next), limit: 1 })
        .await
        .expect("page 2");
    assert_eq!(older.items[0].id, c.id);

    let mut changed = f.clone();
    changed.lifecycle_stage = Some("customer".into());
    let u = s.update_contact(ws.id, c.id, &changed, &["lifecycle_stage"], actor).await.expect("update");
    assert_eq!(u.lifecycle_stage.as_deref(), Some("customer"));
    let tagged = s.add_contact_tags(ws.id, b.id, &["vip".into()], actor).await.expect("tag");
    assert_eq!(tagged.tags, vec!["vip"]);
    let untagged = s.remove_contact_tag(ws.id, b.id, "vip", actor).await.expect("untag");
    assert!(untagged.tags.is_empty());
    assert!(matches!(s.remove_contact_tag(ws.id, b.id, "vip", actor).await, Err(StoreError::NotFound(_))));
    let tags = s.list_tags(ws.id, &PageRequest::default()).await.expect("tags");
    assert_eq!(tags.items.len(), 2);
    assert!(is_conflict(&s.create_tag(ws.id, "vip", actor).await, "already_exists"));
    let t = s.create_tag(ws.id, "new", actor).await.expect("tag");
    s.delete_tag(ws.id, t.id, actor).await.expect("delete tag");

    let other = make_identity(channel.id, "tg-1");
    let with_identity = s.add_channel_identity(ws.id, b.id, &other, actor).await.expect("identity");
    assert_eq!(with_identity.identities.len(), 1);

    let def = FieldDefinition {
        id: 0,
        key: "plan".into(),
        label: "Plan".into(),
        field_type: FieldType::List,
        options: vec!["gold".into()],
    };
    let d = s.create_field_definition(ws.id, &def, actor).await.expect("field");
    assert!(is_conflict(&s.create_field_definition(ws.id, &def, actor).await, "already_exists"));
    assert_eq!(s.list_field_definitions(ws.id).await.expect("defs"), vec![FieldDefinition { id: d.id, ..def.clone() }]);
    let page = s.page_field_definitions(ws.id, &PageRequest::default()).await.expect("page");
    assert_eq!(page.items, vec![FieldDefinition { id: d.id, ..def }]);
    s.delete_field_definition(ws.id, d.id, actor).await.expect("delete def");

    // Another workspace sees nothing of this one.
    let ws2 = s.create_workspace(org.id, "Other", o.id).await.expect("ws2");
    assert!(matches!(s.get_contact(ws2.id, c.id).await, Err(StoreError::NotFound(_))));
    assert!(matches!(s.delete_contact(ws2.id, c.id, actor).await, Err(StoreError::NotFound(_))));
    assert!(
        s.list_contacts(ws2.id, &ContactFilter::default(), &PageRequest::default())
            .await
            .expect("list")
            .items
            .is_empty()
    );
    assert!(s.find_contact_by_identity(ws2.id, channel.id, "971501234567").await.expect("find").is_none());

    s.delete_contact(ws.id, c.id, actor).await.expect("delete");
    assert!(matches!(s.get_contact(ws.id, c.id).await, Err(StoreError::NotFound(_))));
    let kinds = event_kinds(s, ws.id).await;
    for k in [
        "contact.created",
        "contact.updated",
        "contact.lifecycle.updated",
        "contact.tag.updated",
        "contact.identity.added",
        "contact.deleted",
        "tag.created",
        "tag.deleted",
        "channel.created",
        "contact_field.created",
    ] {
        assert!(kinds.iter().any(|x| x == k), "missing event {k} in {kinds:?}");
    }
    drop(app);
    db.cleanup().await;
}
both_backends!(contact_store, contacts);

fn make_identity(channel_id: Id, external: &str) -> ChannelIdentity {
    ChannelIdentity { channel_id, external_id: external.into() }
}

async fn conversations(backend: Backend) {
    let db = TestDb::new(backend).await;
    let app = db.app().await;
    let s = app.store.as_ref();
    let (_, ws, o) = s.init_organisation("Org", "Main", &owner()).await.expect("init");
    let actor = Actor::user(o.id);
    let c = s.create_contact(ws.id, &fields("Ana"), &[], &[], actor).await.expect("contact");
    let team = s.create_team(ws.id, "Sales", actor).await.expect("team");
    let conv = s.open_conversation(ws.id, c.id, Some(team.id), actor).await.expect("open");
    assert_eq!(conv.status, ConversationStatus::Open);
    assert_eq!(conv.opened_by, actor);
    // One open conversation per contact, enforced by the database.
    let before = s.list_events(ws.id, 0, 1000).await.expect("events").len();
    assert!(is_conflict(
        &s.open_conversation(ws.id, c.id, None, Actor::contact(c.id)).await,
        "conversation_already_open"
    ));
    assert_eq!(s.list_events(ws.id, 0, 1000).await.expect("events").len(), before, "a failed change leaves no event");

    let assigned = s.assign_conversation(ws.id, conv.id, Some(o.id), Some(team.id), actor).await.expect("assign");
    assert_eq!(assigned.assignee_id, Some(o.id));
    let history = s.list_assignments(ws.id, conv.id).await.expect("history");
    assert_eq!(history.len(), 1);
    assert_eq!((history[0].from_user_id, history[0].to_user_id), (None, Some(o.id)));

    let channel = s
        .create_channel(
            ws.id,
            &ChannelFields {
                name: "TG".into(),
                plugin_id: "telegram".into(),
                config: json!({}),
                secret_names: vec![],
                secrets_sealed: String::new(),
                enabled: true,
            },
            actor,
        )
        .await
        .expect("channel");
    let inbound = NewMessage {
        channel_id: Some(channel.id),
        direction: Direction::Incoming,
        sender: Actor::contact(c.id),
        content: MessageContent::text("hello"),
        provider_message_id: Some("wamid.1".into()),
        status: MessageStatus::Delivered,
    };
    let m = s.add_message(ws.id, conv.id, &inbound).await.expect("inbound");
    assert!(
        is_conflict(&s.add_message(ws.id, conv.id, &inbound).await, "duplicate_message"),
        "provider id is unique per channel"
    );
    let after_in = s.get_conversation(ws.id, conv.id).await.expect("conv");
    assert!(after_in.last_incoming_at.is_some());
    assert_eq!(after_in.last_channel_id, Some(channel.id));
    assert!(after_in.first_response_at.is_none());

    let reply = NewMessage {
        channel_id: None,
        direction: Direction::Outgoing,
        sender: actor,
        content: MessageContent::text("hi!"),
        provider_message_id: None,
        status: MessageStatus::Pending,
    };
    let r = s.add_message(ws.id, conv.id, &reply).await.expect("reply");
    assert_eq!(r.status, MessageStatus::Pending);
    let after_out = s.get_conversation(ws.id, conv.id).await.expect("conv");
    assert!(after_out.first_response_at.is_some() && after_out.last_outgoing_at.is_some());
    assert_eq!(after_out.last_channel_id, Some(channel.id), "kept when the message names none");
    // The pending reply has its send job, written in the same transaction.
    let jobs = s.list_jobs(Some(JobStatus::Queued), &PageRequest::default()).await.expect("jobs");
    assert!(jobs.items.iter().any(|j| j.kind == SEND_MESSAGE_JOB && j.payload["message_id"] == r.id));

    // Status moves forward only.
    assert_eq!(
        s.update_message_status(ws.id, r.id, MessageStatus::Sent, None).await.expect("sent").status,
        MessageStatus::Sent
    );
    assert_eq!(
        s.update_message_status(ws.id, r.id, MessageStatus::Read, None).await.expect("read").status,
        MessageStatus::Read
    );
    assert_eq!(
        s.update_message_status(ws.id, r.id, MessageStatus::Delivered, None).await.expect("late").status,
        MessageStatus::Read
    );
    assert_eq!(
        s.update_message_status(ws.id, r.id, MessageStatus::Failed, Some("x")).await.expect("fail").status,
        MessageStatus::Read
    );
    let failed = s.update_message_status(ws.id, m.id, MessageStatus::Failed, Some("131047")).await.expect("no change");
    assert_eq!(failed.status, MessageStatus::Delivered);

    let page = s.list_messages(ws.id, conv.id, &PageRequest { after: None, limit: 1 }).await.expect("messages");
    assert_eq!(page.items[0].id, r.id, "newest first");
    let next = Cursor::decode(page.next_cursor.as_deref().expect("more")).expect("cursor");
    let page2 =
        s.list_messages(ws.id, conv.id, &PageRequest { after: Some(next), limit: 1 }).await.expect("messages 2");
    assert_eq!(page2.items[0].id, m.id);
    assert_eq!(page2.items[0].content, MessageContent::text("hello"));

    let comment = s.add_comment(ws.id, conv.id, o.id, "look @Olivia", &[o.id]).await.expect("comment");
    let comments = s.list_comments(ws.id, conv.id, &PageRequest::default()).await.expect("comments");
    assert_eq!(comments.items.len(), 1);
    assert_eq!(comments.items[0].mentions, vec![o.id]);
    assert_eq!(comments.items[0].id, comment.id);

    s.set_pin(ws.id, o.id, conv.id, true).await.expect("pin");
    s.set_pin(ws.id, o.id, conv.id, true).await.expect("pin twice");
    assert_eq!(s.list_pins(ws.id, o.id).await.expect("pins"), vec![conv.id]);
    s.set_pin(ws.id, o.id, conv.id, false).await.expect("unpin");
    assert!(s.list_pins(ws.id, o.id).await.expect("pins").is_empty());

    let cat = s.create_closing_category(ws.id, "Resolved", actor).await.expect("category");
    let closed = s
        .close_conversation(
            ws.id,
            conv.id,
            &CloseRequest { category_id: Some(cat.id), summary: Some("done".into()) },
            actor,
        )
        .await
        .expect("close");
    assert_eq!(closed.status, ConversationStatus::Closed);
    assert_eq!(closed.closed_by, Some(actor));
    assert_eq!(closed.closing_category_id, Some(cat.id));
    assert!(is_conflict(
        &s.close_conversation(ws.id, conv.id, &CloseRequest::default(), actor).await,
        "conversation_closed"
    ));
    let open = s
        .list_conversations(
            ws.id,
            &ConversationFilter { status: Some(ConversationStatus::Open), ..Default::default() },
            &PageRequest::default(),
        )
        .await
        .expect("open list");
    assert!(open.items.is_empty(), "closed conversations leave the open view");

    // A new conversation may open now; the old one then cannot be reopened.
    let second = s.open_conversation(ws.id, c.id, None, Actor::contact(c.id)).await.expect("second");
    assert!(is_conflict(&s.reopen_conversation(ws.id, conv.id, actor).await, "conversation_already_open"));
    s.close_conversation(ws.id, second.id, &CloseRequest::default(), actor).await.expect("close second");
    // Activity times have millisecond precision: on a fast machine the reopening could share the closing's
    // millisecond, and a tie lists the newer conversation first.
    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    let reopened = s.reopen_conversation(ws.id, conv.id, actor).await.expect("reopen");
    assert_eq!(reopened.status, ConversationStatus::Open);
    assert!(reopened.closed_at.is_none());
    assert_eq!(
        s.list_messages(ws.id, conv.id, &PageRequest::default()).await.expect("history").items.len(),
        2,
        "history kept"
    );

    let all = s
        .list_conversations(ws.id, &ConversationFilter::default(), &PageRequest { after: None, limit: 1 })
        .await
        .expect("list");
    assert_eq!(all.items[0].id, conv.id, "most recent activity first");
    let next = Cursor::decode(all.next_cursor.as_deref().expect("more")).expect("cursor");
    let rest = s
        .list_conversations(ws.id, &ConversationFilter::default(), &PageRequest { after: Some(next), limit: 5 })
        .await
        .expect("rest");
    assert_eq!(rest.items.iter().map(|c| c.id).collect::<Vec<_>>(), vec![second.id]);
    let mine = s
        .list_conversations(
            ws.id,
            &ConversationFilter { assignee_id: Some(o.id), ..Default::default() },
            &PageRequest::default(),
        )
        .await
        .expect("mine");
    assert_eq!(mine.items.len(), 1);
    let unassigned = s
        .list_conversations(
            ws.id,
            &ConversationFilter { unassigned: true, ..Default::default() },
            &PageRequest::default(),
        )
        .await
        .expect("unassigned");
    assert_eq!(unassigned.items.iter().map(|c| c.id).collect::<Vec<_>>(), vec![second.id]);

    let kinds = event_kinds(s, ws.id).await;
    for k in [
        "conversation.opened",
        "conversation.assigned",
        "message.created",
        "message.status.updated",
        "comment.created",
        "conversation.pinned",
        "conversation.unpinned",
        "conversation.closed",
    ] {
        assert!(kinds.iter().any(|x| x == k), "missing event {k} in {kinds:?}");
    }
    drop(app);
    db.cleanup().await;
}
both_backends!(conversation_store, conversations);

async fn settings(backend: Backend) {
    let db = TestDb::new(backend).await;
    let app = db.app().await;
    let s = app.store.as_ref();
    let (_, ws, o) = s.init_organisation("Org", "Main", &owner()).await.expect("init");
    let actor = Actor::user(o.id);
    let team = s.create_team(ws.id, "Support", actor).await.expect("team");
    assert!(is_conflict(&s.create_team(ws.id, "Support", actor).await, "already_exists"));
    let with_member = s.set_team_member(ws.id, team.id, o.id, true, actor).await.expect("member");
    assert_eq!(with_member.member_ids, vec![o.id]);
    assert!(matches!(s.set_team_member(ws.id, team.id, 9999, true, actor).await, Err(StoreError::NotFound(_))));
    let renamed = s
        .update_team(ws.id, team.id, &TeamSettings { name: "Care".into(), ..Default::default() }, actor)
        .await
        .expect("rename");
    assert_eq!(renamed.name, "Care");
    assert_eq!(s.list_teams(ws.id, &PageRequest::default()).await.expect("teams").items[0].member_ids, vec![o.id]);
    let without = s.set_team_member(ws.id, team.id, o.id, false, actor).await.expect("remove member");
    assert!(without.member_ids.is_empty());
    s.delete_team(ws.id, team.id, actor).await.expect("delete team");
    assert!(matches!(s.get_team(ws.id, team.id).await, Err(StoreError::NotFound(_))));

    let cat = s.create_closing_category(ws.id, "Spam", actor).await.expect("category");
    assert_eq!(s.get_closing_category(ws.id, cat.id).await.expect("get").name, "Spam");
    assert_eq!(s.list_closing_categories(ws.id, &PageRequest::default()).await.expect("list").items.len(), 1);
    s.delete_closing_category(ws.id, cat.id, actor).await.expect("delete");

    let sn = s.create_snippet(ws.id, "hi", "Hello!", actor).await.expect("snippet");
    assert!(is_conflict(&s.create_snippet(ws.id, "hi", "x", actor).await, "already_exists"));
    let sn2 = s.update_snippet(ws.id, sn.id, "hello", "Hello there", actor).await.expect("update");
    assert_eq!((sn2.shortcut.as_str(), sn2.body.as_str()), ("hello", "Hello there"));
    assert_eq!(s.list_snippets(ws.id, &PageRequest::default()).await.expect("list").items.len(), 1);
    assert_eq!(s.get_snippet(ws.id, sn.id).await.expect("get").body, "Hello there");
    s.delete_snippet(ws.id, sn.id, actor).await.expect("delete");

    let tf = TemplateFields {
        channel_id: None,
        name: "order_update".into(),
        language: "en".into(),
        category: TemplateCategory::Utility,
        components: vec![json!({"type": "BODY", "text": "Your order {{1}} shipped"})],
        status: "approved".into(),
    };
    let t = s.create_template(ws.id, &tf, actor).await.expect("template");
    assert!(is_conflict(&s.create_template(ws.id, &tf, actor).await, "already_exists"));
    assert_eq!(t.components, tf.components);
    let mut tf2 = tf.clone();
    tf2.language = "ar".into();
    assert_eq!(s.update_template(ws.id, t.id, &tf2, actor).await.expect("update").language, "ar");
    assert_eq!(s.list_templates(ws.id, &PageRequest::default()).await.expect("list").items.len(), 1);
    assert_eq!(s.get_template(ws.id, t.id).await.expect("get").category, TemplateCategory::Utility);
    let mut bad = tf.clone();
    bad.channel_id = Some(4242);
    assert!(matches!(s.create_template(ws.id, &bad, actor).await, Err(StoreError::NotFound(_))));
    s.delete_template(ws.id, t.id, actor).await.expect("delete");

    let ch = s
        .create_channel(
            ws.id,
            &ChannelFields {
                name: "Web".into(),
                plugin_id: "webchat".into(),
                config: json!({"color": "blue"}),
                secret_names: vec!["key".into()],
                secrets_sealed: "sealed-bytes".into(),
                enabled: true,
            },
            actor,
        )
        .await
        .expect("channel");
    assert_eq!(ch.config, json!({"color": "blue"}));
    assert_eq!(ch.secret_names, vec!["key"]);
    assert_eq!(s.channel_secrets(ws.id, ch.id).await.expect("secrets"), "sealed-bytes");
    assert_eq!(s.list_channels(ws.id, &PageRequest::default()).await.expect("list").items.len(), 1);
    assert_eq!(s.get_channel(ws.id, ch.id).await.expect("get").plugin_id, "webchat");
    let changed = ChannelFields {
        name: "Web 2".into(),
        plugin_id: "webchat".into(),
        config: json!({}),
        secret_names: vec![],
        secrets_sealed: "new".into(),
        enabled: false,
    };
    let updated = s.update_channel(ws.id, ch.id, &changed, actor).await.expect("update");
    assert_eq!((updated.name.as_str(), updated.enabled), ("Web 2", false));
    assert_eq!(s.channel_secrets(ws.id, ch.id).await.expect("secrets"), "new");
    assert!(matches!(s.update_channel(ws.id, 9999, &changed, actor).await, Err(StoreError::NotFound(_))));
    s.delete_channel(ws.id, ch.id, actor).await.expect("delete");
    drop(app);
    db.cleanup().await;
}
both_backends!(settings_store, settings);

async fn event_log(backend: Backend) {
    let db = TestDb::new(backend).await;
    let app = db.app().await;
    let s = app.store.as_ref();
    let (org, ws, o) = s.init_organisation("Org", "Main", &owner()).await.expect("init");
    let ws2 = s.create_workspace(org.id, "Other", o.id).await.expect("ws2");
    let actor = Actor::user(o.id);
    let start = s.list_events(ws.id, 0, 1000).await.expect("events").len();
    let c = s.create_contact(ws.id, &fields("Ana"), &["a".into()], &[], actor).await.expect("contact");
    s.create_contact(ws2.id, &fields("Other"), &[], &[], actor).await.expect("other ws contact");
    s.open_conversation(ws.id, c.id, None, Actor::contact(c.id)).await.expect("open");
    let events = s.list_events(ws.id, 0, 1000).await.expect("events");
    assert_eq!(events.len(), start + 2, "one event per change, none from the other workspace");
    let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>(), "per-workspace sequence without gaps");
    let created = &events[start];
    assert_eq!((created.kind.as_str(), created.subject_id, created.actor), ("contact.created", Some(c.id), actor));
    assert_eq!(events[start + 1].kind, "conversation.opened");
    // Resuming after a sequence number returns only what came after.
    let tail = s.list_events(ws.id, events[start].seq, 1000).await.expect("tail");
    assert_eq!(tail.len(), 1);
    // The other workspace has its own sequence.
    assert_eq!(
        s.list_events(ws2.id, 0, 1000).await.expect("ws2 events").iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![1, 2]
    );

    // Failed changes leave no event: duplicate tag, a conflict, an unknown id.
    let n = s.list_events(ws.id, 0, 1000).await.expect("events").len();
    assert!(s.create_tag(ws.id, "a", actor).await.is_err());
    assert!(s.open_conversation(ws.id, c.id, None, actor).await.is_err());
    assert!(s.add_contact_tags(ws.id, 9999, &["x".into()], actor).await.is_err());
    let dup_identity = s
        .create_contact(
            ws.id,
            &fields("X"),
            &["fresh-tag".into()],
            &[ChannelIdentity { channel_id: 777, external_id: "1".into() }],
            actor,
        )
        .await;
    assert!(dup_identity.is_err(), "unknown channel");
    assert_eq!(s.list_events(ws.id, 0, 1000).await.expect("events").len(), n);
    // … and no half-written rows: the contact and its new tag rolled back with the failure.
    assert!(
        s.list_tags(ws.id, &PageRequest::default()).await.expect("tags").items.iter().all(|t| t.name != "fresh-tag")
    );
    drop(app);
    db.cleanup().await;
}
both_backends!(event_log_store, event_log);

async fn jobs(backend: Backend) {
    let db = TestDb::new(backend).await;
    let app = db.app().await;
    let s = app.store.as_ref();
    let now = Utc::now();
    let kinds = vec!["test.kind".to_owned()];
    let job = s
        .enqueue_job(&NewJob {
            workspace_id: None,
            kind: "test.kind".into(),
            payload: json!({"n": 1}),
            run_at: now,
            max_attempts: 3,
        })
        .await
        .expect("enqueue");
    let later = s
        .enqueue_job(&NewJob {
            workspace_id: None,
            kind: "test.kind".into(),
            payload: json!({"n": 2}),
            run_at: now + Duration::hours(1),
            max_attempts: 3,
        })
        .await
        .expect("enqueue later");
    assert!(
        s.claim_job(&["other".into()], now, now + Duration::seconds(30)).await.expect("claim").is_none(),
        "kinds filter"
    );
    let claimed = s.claim_job(&kinds, now, now + Duration::seconds(30)).await.expect("claim").expect("due job");
    assert_eq!((claimed.id, claimed.attempts, claimed.status), (job.id, 1, JobStatus::Running));
    assert!(
        s.claim_job(&kinds, now, now + Duration::seconds(30)).await.expect("claim").is_none(),
        "locked and the other is not due"
    );
    // The worker "crashes": after the lease runs out, another claim takes the job over.
    let after_lease = now + Duration::seconds(31);
    let again = s
        .claim_job(&kinds, after_lease, after_lease + Duration::seconds(30))
        .await
        .expect("claim")
        .expect("taken over");
    assert_eq!((again.id, again.attempts), (job.id, 2));
    let retried =
        s.fail_job(job.id, "boom", Some(after_lease + Duration::seconds(5)), after_lease).await.expect("retry later");
    assert_eq!((retried.status, retried.last_error.as_deref()), (JobStatus::Queued, Some("boom")));
    assert!(s.claim_job(&kinds, after_lease, after_lease).await.expect("claim").is_none(), "not before run_at");
    let t3 = after_lease + Duration::seconds(6);
    let third = s.claim_job(&kinds, t3, t3 + Duration::seconds(30)).await.expect("claim").expect("due again");
    assert_eq!(third.attempts, 3);
    let dead = s.fail_job(job.id, "final", None, t3).await.expect("fail");
    assert_eq!((dead.status, dead.last_error.as_deref()), (JobStatus::Failed, Some("final")));
    let failed = s.list_jobs(Some(JobStatus::Failed), &PageRequest::default()).await.expect("list failed");
    assert_eq!(failed.items.iter().map(|j| j.id).collect::<Vec<_>>(), vec![job.id]);
    let requeued = s.retry_job(job.id, t3).await.expect("retry");
    assert_eq!((requeued.status, requeued.attempts), (JobStatus::Queued, 0));
    assert!(is_conflict(&s.retry_job(job.id, t3).await, "job_not_failed"));
    let next = s.claim_job(&kinds, t3, t3 + Duration::seconds(30)).await.expect("claim").expect("requeued job");
    assert_eq!(next.id, job.id);
    s.complete_job(job.id, t3).await.expect("done");
    assert_eq!(s.get_job(job.id).await.expect("get").status, JobStatus::Done);
    assert_eq!(s.get_job(later.id).await.expect("get").status, JobStatus::Queued);
    drop(app);
    db.cleanup().await;
}
both_backends!(job_store, jobs);

#[tokio::test]
async fn sqlite_runs_in_wal_mode_with_durable_commits() {
    let db = TestDb::new(Backend::Sqlite).await;
    let app = db.app().await;
    app.store.init_organisation("Org", "Main", &owner()).await.expect("init");
    // The journal mode is a property of the database file: check it from a separate connection.
    let path = db.dir.path().join("switchboard.db");
    let url = format!("sqlite://{}", path.display());
    let pool = sqlx::SqlitePool::connect(&url).await.expect("open the file directly");
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&pool).await.expect("pragma");
    assert_eq!(mode, "wal");
    pool.close().await;
    assert!(db.dir.path().join("switchboard.db-wal").exists(), "write-ahead log in use");
    assert_eq!(app.config.database_url().expect("url"), switchboard::config::DatabaseUrl::Sqlite(path));
    app.store.close().await;
}

async fn plugin_kv(backend: Backend) {
    let db = TestDb::new(backend).await;
    let app = db.app().await;
    let s = app.store.as_ref();
    assert_eq!(s.kv_get("p/1", "k").await.expect("get"), None);
    s.kv_set("p/1", "k", b"one").await.expect("set");
    s.kv_set("p/1", "k", &[0, 159, 146, 150]).await.expect("overwrite with bytes that are not UTF-8");
    s.kv_set("p/2", "k", b"other scope").await.expect("set");
    assert_eq!(s.kv_get("p/1", "k").await.expect("get"), Some(vec![0, 159, 146, 150]));
    assert_eq!(s.kv_get("p/2", "k").await.expect("get"), Some(b"other scope".to_vec()));
    s.kv_delete("p/1", "k").await.expect("delete");
    assert_eq!(s.kv_get("p/1", "k").await.expect("get"), None);
    s.kv_delete("p/1", "k").await.expect("deleting twice is fine");
    drop(app);
    db.cleanup().await;
}
both_backends!(plugin_kv_store, plugin_kv);

/// A WhatsApp channel's fields, for the messaging pipeline's tests.
fn whatsapp() -> ChannelFields {
    ChannelFields {
        name: "WA".into(),
        plugin_id: "whatsapp-cloud".into(),
        config: json!({}),
        secret_names: vec![],
        secrets_sealed: String::new(),
        enabled: true,
    }
}

fn incoming(external_id: &str, provider_id: &str, text: &str) -> InboundItem {
    InboundItem::Message {
        external_id: external_id.into(),
        profile: fields("Batch"),
        provider_message_id: provider_id.into(),
        content: MessageContent::text(text),
    }
}

async fn group_commit(backend: Backend) {
    use switchboard::service::committer::{Committer, Writers};
    use switchboard::store::Delivery;
    let db = TestDb::new(backend).await;
    let app = db.app().await;
    let s = app.store.as_ref();
    let (_, ws, owner_user) = s.init_organisation("Org", "Main", &owner()).await.expect("init");
    let ch = s.create_channel(ws.id, &whatsapp(), Actor::user(owner_user.id)).await.expect("channel").id;

    // Two deliveries from the same new contact in one transaction: one contact, one conversation, and the
    // second delivery sees what the first created; a repeated provider id inside the batch is a duplicate.
    let first = [incoming("c-1", "m-1", "one")];
    let second = [incoming("c-1", "m-2", "two"), incoming("c-1", "m-1", "one again")];
    let batch = [
        Delivery { workspace_id: ws.id, channel_id: ch, items: &first },
        Delivery { workspace_id: ws.id, channel_id: ch, items: &second },
    ];
    let reports = s.ingest_many(&batch).await.expect("ingest many");
    assert_eq!(
        reports
            .iter()
            .map(|r| (r.messages, r.duplicates, r.contacts_created, r.conversations_opened))
            .collect::<Vec<_>>(),
        vec![(1, 0, 1, 1), (1, 1, 0, 0)]
    );
    let kinds = event_kinds(s, ws.id).await;
    assert_eq!(kinds.iter().filter(|k| *k == "message.created").count(), 2);
    assert_eq!(kinds.iter().filter(|k| *k == "conversation.opened").count(), 1);

    // All or nothing: a delivery for a workspace that does not exist fails the whole transaction.
    let third = [incoming("c-2", "m-3", "three")];
    let bad = [incoming("c-3", "m-4", "four")];
    let broken = [
        Delivery { workspace_id: ws.id, channel_id: ch, items: &third },
        Delivery { workspace_id: ws.id + 1000, channel_id: ch, items: &bad },
    ];
    assert!(s.ingest_many(&broken).await.is_err());
    assert_eq!(event_kinds(s, ws.id).await.len(), kinds.len(), "nothing of the failed batch was written");

    // A batch across two channels: identities and provider ids are per channel, and each conversation
    // remembers the channel of its latest message.
    let second = ChannelFields { name: "WA 2".into(), ..whatsapp() };
    let ch2 = s.create_channel(ws.id, &second, Actor::user(owner_user.id)).await.expect("channel").id;
    let (on_two, on_one) = ([incoming("c-1", "m-1", "same ids, other channel")], [incoming("c-1", "m-5", "five")]);
    let batch = [
        Delivery { workspace_id: ws.id, channel_id: ch2, items: &on_two },
        Delivery { workspace_id: ws.id, channel_id: ch, items: &on_one },
    ];
    let reports = s.ingest_many(&batch).await.expect("ingest across channels");
    let summary: Vec<_> = reports.iter().map(|r| (r.messages, r.duplicates, r.contacts_created)).collect();
    assert_eq!(summary, vec![(1, 0, 1), (1, 0, 0)]);
    let page = PageRequest { after: None, limit: 10 };
    for (channel, texts) in [(ch2, vec!["same ids, other channel"]), (ch, vec!["five", "two", "one"])] {
        let filter = ConversationFilter { channel_id: Some(channel), ..Default::default() };
        let conversations = s.list_conversations(ws.id, &filter, &page).await.expect("list").items;
        assert_eq!(conversations.len(), 1, "channel {channel}");
        assert!(conversations[0].unread && conversations[0].last_incoming_at.is_some());
        let messages = s.list_messages(ws.id, conversations[0].id, &page).await.expect("messages").items;
        let got: Vec<_> = messages
            .iter()
            .map(|m| match &m.content {
                MessageContent::Text { text, .. } => text.as_str(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(got, texts, "channel {channel}");
    }

    // The committer batches concurrent deliveries; when a batch fails it commits them one by one, so the
    // bad delivery fails alone and the others are stored.
    // Both ways the committers run: on a thread of their own (the server's choice for SQLite, whose
    // connections are tied to no runtime) and as tasks on the caller's runtime (PostgreSQL's).
    let modes = match backend {
        Backend::Sqlite => vec![Writers::Dedicated, Writers::Shared(2)],
        Backend::Postgres => vec![Writers::Shared(2)],
    };
    let rounds = modes.len();
    for (round, writers) in modes.into_iter().enumerate() {
        let committer = Committer::start(app.store.clone(), writers).expect("committer");
        let mut waiting = Vec::new();
        for i in 0..40 {
            let (c, w) = (committer.clone(), if i == 7 { ws.id + 1000 } else { ws.id });
            let items = vec![incoming(&format!("c-{}", i % 5), &format!("k-{round}-{i}"), "hi")];
            waiting.push(tokio::spawn(async move { c.ingest(w, ch, items).await }));
        }
        let mut stored = 0;
        for (i, w) in waiting.into_iter().enumerate() {
            match w.await.expect("task") {
                Ok(report) => stored += report.messages,
                Err(e) => assert_eq!(i, 7, "only the bad delivery fails: {e}"),
            }
        }
        assert_eq!(stored, 39, "{writers:?}");
    }
    let kinds = event_kinds(s, ws.id).await;
    assert_eq!(kinds.iter().filter(|k| *k == "message.created").count(), 2 + 2 + rounds * 39);
    drop(app);
    db.cleanup().await;
}
both_backends!(group_commit_store, group_commit);

async fn early_receipts(backend: Backend) {
    let db = TestDb::new(backend).await;
    let app = db.app().await;
    let s = app.store.as_ref();
    let (_, ws, owner_user) = s.init_organisation("Org", "Main", &owner()).await.expect("init");
    let actor = Actor::user(owner_user.id);
    let ch = s.create_channel(ws.id, &whatsapp(), actor).await.expect("channel").id;
    s.ingest(ws.id, ch, &[incoming("c-1", "in-1", "hello")]).await.expect("ingest");
    let first = s.message_by_provider_id(ws.id, ch, "in-1").await.expect("find").expect("stored");

    // The provider reports delivered and read before its answer to the send reached us.
    let receipt = |status| InboundItem::Status { provider_message_id: "out-1".into(), status, reason: None };
    let report = s
        .ingest(ws.id, ch, &[receipt(MessageStatus::Delivered), receipt(MessageStatus::Read)])
        .await
        .expect("early receipts");
    assert_eq!((report.statuses, report.statuses_early), (0, 2));

    let reply = NewMessage {
        channel_id: Some(ch),
        direction: Direction::Outgoing,
        sender: actor,
        content: MessageContent::text("hi"),
        provider_message_id: None,
        status: MessageStatus::Pending,
    };
    let reply = s.add_message(ws.id, first.conversation_id, &reply).await.expect("reply");
    // Recording the send applies what came early: the message is read, not merely sent.
    let sent = s.record_sent(ws.id, reply.id, "out-1").await.expect("record sent");
    assert_eq!(sent.status, MessageStatus::Read);
    let kinds = event_kinds(s, ws.id).await;
    assert_eq!(kinds.iter().filter(|k| *k == "message.status.updated").count(), 3, "sent, delivered, read");
    // The early receipts were used up: a later send under another id does not inherit them.
    let again = s.ingest(ws.id, ch, &[receipt(MessageStatus::Read)]).await.expect("late receipt");
    assert_eq!((again.statuses, again.statuses_ignored), (0, 1), "already read");
    drop(app);
    db.cleanup().await;
}
both_backends!(early_receipts_store, early_receipts);
