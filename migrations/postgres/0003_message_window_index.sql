-- The messaging window looks up a contact's latest incoming message on one channel.
CREATE INDEX messages_contact_channel ON messages (contact_id, channel_id, direction, created_at);
