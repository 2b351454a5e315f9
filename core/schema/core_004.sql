-- Core schema, version 4: what the announcements plugin (issue 6) needs of a broadcast.
-- title: shown in status views and the 收到 reply. ask_ack: 收到 acknowledges the latest
-- broadcast that asks for it (a 红榜 does not). follow_up_of: a reminder; 收到 to it
-- acknowledges the original too. idempotency_key: a retried broadcast is not queued twice.
ALTER TABLE core_broadcasts ADD COLUMN title TEXT NOT NULL DEFAULT '';
ALTER TABLE core_broadcasts ADD COLUMN ask_ack INTEGER NOT NULL DEFAULT 1;
ALTER TABLE core_broadcasts ADD COLUMN follow_up_of INTEGER REFERENCES core_broadcasts(id);
ALTER TABLE core_broadcasts ADD COLUMN idempotency_key TEXT;
CREATE UNIQUE INDEX core_broadcasts_key ON core_broadcasts(idempotency_key) WHERE idempotency_key IS NOT NULL;
