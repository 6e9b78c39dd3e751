-- Workflows write comments and assign in turn across a workspace.
-- A comment is written by a user or by a workflow, so author_id may be NULL when workflow_id is set.
ALTER TABLE comments ALTER COLUMN author_id DROP NOT NULL;
ALTER TABLE comments ADD COLUMN workflow_id BIGINT REFERENCES workflows(id) ON DELETE SET NULL;

-- Round robin across the whole workspace: the user an assign step gave a conversation to last.
ALTER TABLE workspaces ADD COLUMN last_assigned_id BIGINT;
