-- Core schema, version 1: the directory, the message log, stored jobs and API tokens.
CREATE TABLE core_org_units (
  id INTEGER PRIMARY KEY,
  parent_id INTEGER REFERENCES core_org_units(id),
  name TEXT NOT NULL,
  path TEXT NOT NULL UNIQUE,            -- '' is the village root; '一组', '一组/东院'
  responsible_person_id INTEGER         -- 四包一联: who answers for this unit
);
CREATE TABLE core_households (
  id INTEGER PRIMARY KEY,
  code TEXT NOT NULL UNIQUE,            -- 户号
  head_name TEXT NOT NULL DEFAULT '',
  org_unit_id INTEGER REFERENCES core_org_units(id),
  central_household_id INTEGER REFERENCES core_households(id)  -- 一户十联
);
CREATE TABLE core_persons (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  phone TEXT UNIQUE,                    -- E.164
  household_id INTEGER REFERENCES core_households(id),
  org_unit_id INTEGER REFERENCES core_org_units(id),
  lang TEXT NOT NULL DEFAULT 'zh-CN',
  opted_out INTEGER NOT NULL DEFAULT 0,
  channel_preference TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL DEFAULT 0,
  updated_at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX core_persons_household ON core_persons(household_id);
CREATE TABLE core_person_roles (
  person_id INTEGER NOT NULL REFERENCES core_persons(id) ON DELETE CASCADE,
  role TEXT NOT NULL,
  PRIMARY KEY (person_id, role)
);
CREATE INDEX core_person_roles_role ON core_person_roles(role);
CREATE TABLE core_identities (
  person_id INTEGER NOT NULL REFERENCES core_persons(id) ON DELETE CASCADE,
  kind TEXT NOT NULL,                   -- wecom, dingtalk, feishu, telegram, slack
  external_id TEXT NOT NULL,
  PRIMARY KEY (kind, external_id)
);
CREATE INDEX core_identities_person ON core_identities(person_id);

-- Every inbound and outbound message. An inbound row is written before the
-- message is processed (accepted = durable); the unique index drops a repeated
-- platform message id, also after a restart.
CREATE TABLE core_messages (
  id INTEGER PRIMARY KEY,
  direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
  adapter_id TEXT NOT NULL,
  message_id TEXT,
  channel TEXT NOT NULL DEFAULT 'personal',
  identity_kind TEXT NOT NULL DEFAULT 'phone',
  address TEXT NOT NULL DEFAULT '',     -- sender (in) or recipient (out)
  chat_id TEXT NOT NULL DEFAULT '',
  person_id INTEGER,
  text TEXT NOT NULL,
  status TEXT NOT NULL,                 -- in: accepted, processed, rate_limited; out: sent, failed, skipped, reply
  in_reply_to INTEGER REFERENCES core_messages(id),
  error TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX core_messages_dedupe ON core_messages(adapter_id, message_id)
  WHERE direction = 'in' AND message_id IS NOT NULL;
CREATE INDEX core_messages_pending ON core_messages(status) WHERE direction = 'in' AND status = 'accepted';
CREATE INDEX core_messages_reply ON core_messages(in_reply_to) WHERE in_reply_to IS NOT NULL;

CREATE TABLE core_jobs (
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL,
  due_at_ms INTEGER NOT NULL,
  payload TEXT NOT NULL,
  missed TEXT NOT NULL DEFAULT 'fire_late',
  status TEXT NOT NULL DEFAULT 'pending',  -- pending, done, skipped, cancelled, failed
  attempts INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL
);
CREATE INDEX core_jobs_due ON core_jobs(due_at_ms) WHERE status = 'pending';

CREATE TABLE core_tokens (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  role TEXT NOT NULL,
  token_hash TEXT NOT NULL UNIQUE,      -- SHA-256 hex; the token itself is shown once
  created_at INTEGER NOT NULL,
  revoked_at INTEGER
);
