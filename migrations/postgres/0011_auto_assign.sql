-- Auto-assignment per team: off, round robin or least open conversations; optionally online members only
-- and a cap of open conversations per member. last_assigned_id is the round robin's position.
ALTER TABLE teams ADD COLUMN auto_assign TEXT NOT NULL DEFAULT 'off';
ALTER TABLE teams ADD COLUMN only_online BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE teams ADD COLUMN max_open_per_user BIGINT;
ALTER TABLE teams ADD COLUMN last_assigned_id BIGINT;
-- A user's availability (online or away), which auto-assignment may require.
ALTER TABLE users ADD COLUMN availability TEXT NOT NULL DEFAULT 'online';
