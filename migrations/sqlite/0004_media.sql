-- Media files kept by the server (content-addressed in data_dir/media), visible per workspace.
CREATE TABLE media (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    sha256 TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    filename TEXT,
    created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX media_sha ON media (workspace_id, sha256);
