-- Core schema, version 5: a message sent with an idempotency key (Messenger::send_to_person,
-- Messenger::send) is queued once: a plugin's job run again after a crash, or twice, finds the
-- first. Broadcast rows carry no key of their own, so the partial index costs them nothing.
CREATE INDEX core_outbox_key ON core_outbox(idempotency_key) WHERE idempotency_key != '';
