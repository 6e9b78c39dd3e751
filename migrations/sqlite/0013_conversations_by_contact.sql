-- A contact's conversations, latest first, in every status: the contact panel's history and the conversation
-- a search hit on a contact links to (without it, bench/search.sh showed a scan of every conversation:
-- 30-40 ms at 100k conversations).
CREATE INDEX conversations_contact ON conversations (contact_id, last_activity_at);
