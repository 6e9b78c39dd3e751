-- Indexes for the inbox's lists and counts at 100k conversations (measured by bench/inbox.sh):
-- any status by activity, one assignee's or one team's conversations by activity, and the sidebar counts
-- read from the index alone (status, team, assignee and the two times that say "awaiting a reply").
CREATE INDEX conversations_recent ON conversations (workspace_id, last_activity_at, id);
CREATE INDEX conversations_assignee ON conversations (workspace_id, assignee_id, status, last_activity_at, id);
CREATE INDEX conversations_team ON conversations (workspace_id, team_id, status, last_activity_at, id);
CREATE INDEX conversations_counts ON conversations (workspace_id, status, team_id, assignee_id, last_incoming_at, last_outgoing_at);
