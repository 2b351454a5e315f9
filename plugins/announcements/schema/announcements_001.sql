-- Notices (通知公告): what officials and other plugins announce. The delivery
-- itself (per-recipient status, acknowledgements) is the core's broadcast;
-- a notice names its broadcast and its reminder's.
CREATE TABLE ann_notices (
  id INTEGER PRIMARY KEY,
  title TEXT NOT NULL,
  body TEXT NOT NULL,
  body_en TEXT NOT NULL DEFAULT '',
  category TEXT NOT NULL DEFAULT '通知',      -- 通知, 决议公开, 实施结果公开, 红榜, 投票结果 ...
  audience TEXT NOT NULL,                     -- JSON (audience_to_json)
  policy TEXT NOT NULL DEFAULT 'group_first', -- group_first, personal_all, sms_all
  urgent INTEGER NOT NULL DEFAULT 0,
  ask_ack INTEGER NOT NULL DEFAULT 1,
  scheduled_at_ms INTEGER NOT NULL DEFAULT 0, -- 0: at once
  expires_at_ms INTEGER NOT NULL DEFAULT 0,   -- 0: the delivery engine's default
  reminder_after_s INTEGER NOT NULL DEFAULT 0,-- 0: no reminder
  status TEXT NOT NULL,                       -- scheduled, sending, sent, cancelled
  broadcast_id INTEGER,
  reminder_broadcast_id INTEGER,
  send_job_id INTEGER,
  reminder_job_id INTEGER,
  source TEXT NOT NULL DEFAULT 'api',         -- chat, api, or the plugin that published it
  created_by TEXT NOT NULL DEFAULT '',
  creator_person_id INTEGER,
  idempotency_key TEXT UNIQUE,
  created_at_ms INTEGER NOT NULL,
  sent_at_ms INTEGER,
  reminded_at_ms INTEGER,
  reminded_persons INTEGER,
  cancelled_at_ms INTEGER,
  cancelled_by TEXT
);
CREATE INDEX ann_notices_status ON ann_notices(status);
CREATE INDEX ann_notices_broadcast ON ann_notices(broadcast_id);
CREATE INDEX ann_notices_category ON ann_notices(category, id);
