-- Custom inboxes: a saved filter (JSON) over conversations, private to its owner, public, or shared with
-- named users and teams (JSON arrays of ids).
CREATE TABLE custom_inboxes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    owner_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    sharing TEXT NOT NULL CHECK (sharing IN ('private', 'public', 'shared')),
    user_ids TEXT NOT NULL DEFAULT '[]',
    team_ids TEXT NOT NULL DEFAULT '[]',
    filter TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX custom_inboxes_workspace ON custom_inboxes (workspace_id, id);
