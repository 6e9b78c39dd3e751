-- Auto-close after inactivity: minutes after a human agent's last reply (30 to 20,160; NULL = off).
ALTER TABLE workspaces ADD COLUMN auto_close_minutes BIGINT;
