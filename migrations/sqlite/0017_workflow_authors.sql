-- Workflows write comments and assign in turn across a workspace.
--
-- A comment is written by a user or by a workflow, so author_id may be NULL when workflow_id is set.
-- SQLite cannot drop a NOT NULL constraint, so the table is rebuilt. Migrations run inside a transaction
-- where foreign keys cannot be switched off, and dropping the old table deletes the mentions and the
-- notifications that point at its rows (ON DELETE CASCADE): they are kept aside and put back.
CREATE TEMP TABLE kept_comment_mentions AS SELECT * FROM comment_mentions;
CREATE TEMP TABLE kept_comment_notifications AS SELECT * FROM notifications WHERE comment_id IS NOT NULL;

CREATE TABLE comments_rebuilt (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    author_id INTEGER REFERENCES users(id) ON DELETE CASCADE,
    workflow_id INTEGER REFERENCES workflows(id) ON DELETE SET NULL,
    body TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
INSERT INTO comments_rebuilt (id, workspace_id, conversation_id, author_id, workflow_id, body, created_at)
    SELECT id, workspace_id, conversation_id, author_id, NULL, body, created_at FROM comments;
DROP TABLE comments;
ALTER TABLE comments_rebuilt RENAME TO comments;
CREATE INDEX comments_conversation ON comments (conversation_id, id);

INSERT INTO comment_mentions SELECT * FROM kept_comment_mentions;
INSERT INTO notifications SELECT * FROM kept_comment_notifications;
DROP TABLE kept_comment_mentions;
DROP TABLE kept_comment_notifications;

-- Round robin across the whole workspace: the user an assign step gave a conversation to last.
ALTER TABLE workspaces ADD COLUMN last_assigned_id INTEGER;
