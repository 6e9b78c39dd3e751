-- What agents see: every conversation ('all'), those of their teams and the unassigned ones ('teams'), or
-- their own and the unassigned ones ('assigned'). Managers and owners see everything.
ALTER TABLE workspaces ADD COLUMN agent_access TEXT NOT NULL DEFAULT 'all';
