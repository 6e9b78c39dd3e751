-- Workspace exports: conversations opened in a date range, written to a file in the data directory by a
-- background job (workspace.export) that records its progress here.
CREATE TABLE exports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    requested_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
    format TEXT NOT NULL CHECK (format IN ('json', 'csv')),
    opened_from INTEGER NOT NULL,
    opened_to INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
    total INTEGER NOT NULL DEFAULT 0,
    done INTEGER NOT NULL DEFAULT 0,
    bytes INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    created_at INTEGER NOT NULL,
    finished_at INTEGER
);
CREATE INDEX exports_workspace ON exports (workspace_id, id);
