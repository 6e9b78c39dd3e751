//! Migrations that rebuild a table keep what it held: SQLite's 0017 rebuilds `comments` (to let a
//! workflow write comments), and the mentions and notifications pointing at its rows must survive it.

use std::borrow::Cow;

use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

#[tokio::test]
async fn rebuilding_comments_keeps_their_mentions_and_notifications() {
    let dir = tempfile::tempdir().expect("dir");
    let options =
        SqliteConnectOptions::new().filename(dir.path().join("db.sqlite")).create_if_missing(true).foreign_keys(true);
    let pool = SqlitePoolOptions::new().max_connections(1).connect_with(options).await.expect("open");
    let all = sqlx::migrate!("../migrations/sqlite");
    let before_0017: Vec<_> = all.migrations.iter().filter(|m| m.version < 17).cloned().collect();
    assert_eq!(before_0017.len(), 16);
    let mut earlier = sqlx::migrate!("../migrations/sqlite");
    earlier.migrations = Cow::Owned(before_0017);
    earlier.run(&pool).await.expect("migrations up to 0016");
    for sql in [
        "INSERT INTO organisations (id, name, created_at) VALUES (1, 'o', 0)",
        "INSERT INTO workspaces (id, organisation_id, name, created_at) VALUES (1, 1, 'w', 0)",
        "INSERT INTO users (id, organisation_id, email, name, password_hash, created_at) VALUES (1, 1, 'a@x.test', 'A', 'h', 0)",
        "INSERT INTO users (id, organisation_id, email, name, password_hash, created_at) VALUES (2, 1, 'b@x.test', 'B', 'h', 0)",
        "INSERT INTO contacts (id, workspace_id, created_at, updated_at) VALUES (1, 1, 0, 0)",
        "INSERT INTO conversations (id, workspace_id, contact_id, status, opened_at, opened_by_kind, last_activity_at) \
         VALUES (1, 1, 1, 'open', 0, 'contact', 0)",
        "INSERT INTO comments (id, workspace_id, conversation_id, author_id, body, created_at) VALUES (5, 1, 1, 1, 'hi @B', 0)",
        "INSERT INTO comment_mentions (comment_id, user_id, workspace_id) VALUES (5, 2, 1)",
        "INSERT INTO notifications (workspace_id, user_id, kind, conversation_id, comment_id, actor_kind, actor_id, created_at) \
         VALUES (1, 2, 'mention', 1, 5, 'user', 1, 0)",
    ] {
        sqlx::query(sql).execute(&pool).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    all.run(&pool).await.expect("the remaining migrations");
    let comment: (i64, Option<i64>, Option<i64>, String) =
        sqlx::query_as("SELECT id, author_id, workflow_id, body FROM comments").fetch_one(&pool).await.expect("kept");
    assert_eq!(comment, (5, Some(1), None, "hi @B".to_owned()));
    let mentions: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM comment_mentions WHERE comment_id = 5")
        .fetch_one(&pool)
        .await
        .expect("count");
    let notes: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM notifications WHERE comment_id = 5")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!((mentions, notes), (1, 1));
    // The rebuilt table still cascades and still takes new ids after the old ones.
    sqlx::query("INSERT INTO comments (workspace_id, conversation_id, workflow_id, body, created_at) VALUES (1, 1, NULL, 'x', 0)")
        .execute(&pool)
        .await
        .expect("a comment without a user");
    let next: i64 = sqlx::query_scalar("SELECT MAX(id) FROM comments").fetch_one(&pool).await.expect("max");
    assert_eq!(next, 6);
    sqlx::query("DELETE FROM comments WHERE id = 5").execute(&pool).await.expect("delete");
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM comment_mentions").fetch_one(&pool).await.expect("count");
    assert_eq!(left, 0, "mentions still go with their comment");
    let fk: Vec<(String,)> =
        sqlx::query_as("SELECT \"table\" FROM pragma_foreign_key_check").fetch_all(&pool).await.expect("check");
    assert!(fk.is_empty(), "{fk:?}");
}
