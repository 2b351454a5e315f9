-- Emergency mobilisation (应急动员): alerts, who was alerted and what they answered,
-- the escalation steps that ran, and the timeline for the after-action review.
CREATE TABLE em_alerts (
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL DEFAULT '应急',          -- 防汛, 火情, 地质灾害 ... (the commander's word)
  text TEXT NOT NULL,
  meeting_point TEXT NOT NULL DEFAULT '',
  team TEXT NOT NULL,                          -- a [[plugins.emergency.teams]] name
  responses_needed INTEGER NOT NULL,           -- escalation stops when this many are coming
  drill INTEGER NOT NULL DEFAULT 0,            -- 演练: marked 【演练】, kept out of the statistics
  status TEXT NOT NULL,                        -- sending, active, stood_down
  broadcast_id INTEGER,
  next_cycle INTEGER NOT NULL DEFAULT 0,       -- the escalation step due next
  next_step INTEGER NOT NULL DEFAULT 0,
  next_job_id INTEGER,
  commander_person_id INTEGER,
  created_by TEXT NOT NULL DEFAULT '',
  idempotency_key TEXT UNIQUE,
  created_at_ms INTEGER NOT NULL,
  sent_at_ms INTEGER,
  enough_at_ms INTEGER,                        -- when responses_needed were coming
  stood_down_at_ms INTEGER,
  stood_down_by TEXT,
  stand_down_broadcast_id INTEGER
);
CREATE INDEX em_alerts_status ON em_alerts(status);

-- Who was alerted (the team when it was triggered) and their latest answer.
CREATE TABLE em_members (
  alert_id INTEGER NOT NULL REFERENCES em_alerts(id),
  person_id INTEGER NOT NULL,
  answer TEXT,                                 -- coming, cannot; NULL: no answer
  answered_at_ms INTEGER,
  PRIMARY KEY (alert_id, person_id)
) WITHOUT ROWID;
CREATE INDEX em_members_person ON em_members(person_id);

-- Escalation steps that ran: (cycle, step) at most once per alert.
CREATE TABLE em_steps (
  alert_id INTEGER NOT NULL REFERENCES em_alerts(id),
  cycle INTEGER NOT NULL,
  step INTEGER NOT NULL,
  action TEXT NOT NULL,
  persons INTEGER NOT NULL DEFAULT 0,          -- how many it concerned
  done_at_ms INTEGER NOT NULL,
  PRIMARY KEY (alert_id, cycle, step)
) WITHOUT ROWID;

-- triggered, sent, coming, cannot, late_answer, resend, notify_leaders, notify_commander,
-- enough, stood_down — each with its time.
CREATE TABLE em_timeline (
  id INTEGER PRIMARY KEY,
  alert_id INTEGER NOT NULL REFERENCES em_alerts(id),
  at_ms INTEGER NOT NULL,
  event TEXT NOT NULL,
  person_id INTEGER,
  detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX em_timeline_alert ON em_timeline(alert_id, id);
