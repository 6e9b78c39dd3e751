-- Delivery receipts that arrived before the send they confirm was recorded (a provider may call the webhook
-- before its API answer reaches us); applied when the send is recorded, dropped after a day.
CREATE TABLE pending_receipts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    channel_id INTEGER NOT NULL,
    provider_message_id TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    created_at INTEGER NOT NULL
);
CREATE INDEX pending_receipts_message ON pending_receipts (channel_id, provider_message_id);
CREATE INDEX pending_receipts_age ON pending_receipts (created_at);
