-- Workflows: a trigger and a tree of steps. The editable draft lives on the workflow; publishing freezes
-- it as a numbered version, and every run keeps the version it started on.
CREATE TABLE workflows (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('draft', 'published')),
    definition TEXT NOT NULL,
    published_version INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX workflows_workspace ON workflows (workspace_id, id);

CREATE TABLE workflow_versions (
    workflow_id INTEGER NOT NULL REFERENCES workflows(id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    definition TEXT NOT NULL,
    published_at INTEGER NOT NULL,
    PRIMARY KEY (workflow_id, version)
);

-- One contact going through one version of a workflow. step_seq counts the steps committed: a step's
-- effect, its log entry and the run's next position are written in one transaction guarded by it, so a
-- step is never applied twice.
CREATE TABLE workflow_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    workflow_id INTEGER NOT NULL REFERENCES workflows(id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    conversation_id INTEGER REFERENCES conversations(id) ON DELETE SET NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'waiting', 'completed', 'exited', 'failed')),
    position TEXT,
    step_seq INTEGER NOT NULL DEFAULT 0,
    jumps INTEGER NOT NULL DEFAULT 0,
    variables TEXT NOT NULL,
    -- Waiting at a question for the contact's answer (else waiting for time).
    awaiting_answer BOOLEAN NOT NULL DEFAULT FALSE,
    wake_at INTEGER,
    end_reason TEXT,
    trigger_seq INTEGER,
    started_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    ended_at INTEGER
);
CREATE INDEX workflow_runs_workflow ON workflow_runs (workflow_id, id);
CREATE INDEX workflow_runs_contact ON workflow_runs (contact_id, id);
-- A trigger event starts a workflow once for a contact, whoever reads the log.
CREATE UNIQUE INDEX workflow_runs_trigger ON workflow_runs (workflow_id, contact_id, trigger_seq);

-- The run log: each committed step with what it used, what it produced, the branch taken and any error.
CREATE TABLE workflow_run_steps (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id INTEGER NOT NULL REFERENCES workflow_runs(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    step_id TEXT NOT NULL,
    step_type TEXT NOT NULL,
    input TEXT NOT NULL,
    output TEXT NOT NULL,
    branch TEXT,
    error TEXT,
    created_at INTEGER NOT NULL,
    UNIQUE (run_id, seq)
);

-- How far the workflow trigger reader has read each workspace's event log.
CREATE TABLE workflow_cursors (
    workspace_id INTEGER PRIMARY KEY REFERENCES workspaces(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL
);
CREATE INDEX workflow_runs_waiting ON workflow_runs (workspace_id, status);
