-- Core schema, version 3: the delivery engine (durable outbox, broadcasts and
-- their recipients, acknowledgements, group chats) and recurring jobs.

-- One row per message to send: a personal message or one group post.
-- queued → sending → sent → delivered | failed | expired; acknowledged (the
-- recipient replied); cancelled (opted out, or the broadcast was cancelled).
CREATE TABLE core_outbox (
  id INTEGER PRIMARY KEY,
  broadcast_id INTEGER REFERENCES core_broadcasts(id),
  adapter_id TEXT NOT NULL,
  channel TEXT NOT NULL DEFAULT 'personal',   -- personal, group
  address TEXT NOT NULL,                      -- phone, platform user id or chat id
  person_id INTEGER,                          -- NULL for a group post
  text TEXT NOT NULL,
  priority INTEGER NOT NULL DEFAULT 2,        -- 0 emergency, 1 reply, 2 notice, 3 bulk
  essential INTEGER NOT NULL DEFAULT 0,
  sms INTEGER NOT NULL DEFAULT 0,             -- through an SMS adapter (quiet hours, opt-out)
  segments INTEGER NOT NULL DEFAULT 0,        -- SMS segments, 0 for chat messages
  idempotency_key TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'queued',
  attempts INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  provider_id TEXT,
  not_before_ms INTEGER NOT NULL DEFAULT 0,   -- retry back-off or quiet hours
  expires_at_ms INTEGER NOT NULL,
  created_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL,
  sent_at_ms INTEGER,
  delivered_at_ms INTEGER,
  acked_at_ms INTEGER
);
-- What a dispatcher takes next: its adapter's queued messages by priority.
CREATE INDEX core_outbox_ready ON core_outbox(adapter_id, priority, id) WHERE status = 'queued';
CREATE INDEX core_outbox_sending ON core_outbox(status) WHERE status = 'sending';
CREATE INDEX core_outbox_broadcast ON core_outbox(broadcast_id, status);
CREATE INDEX core_outbox_provider ON core_outbox(adapter_id, provider_id) WHERE provider_id IS NOT NULL;
CREATE INDEX core_outbox_person ON core_outbox(person_id, id) WHERE person_id IS NOT NULL;

CREATE TABLE core_broadcasts (
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL,                         -- notice, alert, poll, reminder ... (the sender's word)
  text TEXT NOT NULL,
  audience TEXT NOT NULL,                     -- JSON (audience_to_json)
  policy TEXT NOT NULL,                       -- group_first, personal_all, sms_all
  priority INTEGER NOT NULL,
  essential INTEGER NOT NULL DEFAULT 0,
  created_by TEXT NOT NULL DEFAULT '',
  plan TEXT NOT NULL DEFAULT '{}',            -- JSON: counts, SMS segments, estimated cost
  status TEXT NOT NULL DEFAULT 'active',      -- active, cancelled
  created_at_ms INTEGER NOT NULL
);

-- Who a broadcast is for, and which outbox row reaches them (their own
-- message, or the group post that covers them; NULL: no channel reaches them).
CREATE TABLE core_broadcast_recipients (
  broadcast_id INTEGER NOT NULL REFERENCES core_broadcasts(id),
  person_id INTEGER NOT NULL,
  outbox_id INTEGER REFERENCES core_outbox(id),
  via TEXT NOT NULL,                          -- group, personal, sms, none
  acked_at_ms INTEGER,
  PRIMARY KEY (broadcast_id, person_id)
) WITHOUT ROWID;
CREATE INDEX core_broadcast_recipients_outbox ON core_broadcast_recipients(outbox_id);
CREATE INDEX core_broadcast_recipients_person ON core_broadcast_recipients(person_id);

-- Group chats the bot posts into, and the org unit whose people they hold.
CREATE TABLE core_group_chats (
  id INTEGER PRIMARY KEY,
  adapter_id TEXT NOT NULL,
  chat_id TEXT NOT NULL,
  name TEXT NOT NULL DEFAULT '',
  org_unit_id INTEGER REFERENCES core_org_units(id),
  UNIQUE (adapter_id, chat_id)
);

ALTER TABLE core_jobs ADD COLUMN cron TEXT;     -- recurring: the expression; NULL for one-shot
