-- Opinion tickets (意见/建议/反映): numbered per year, assigned up the responsibility chain
-- (四包一联), answered, rated (效果共评). Polls and 四议两公开 come in later migrations.
CREATE TABLE op_tickets (
  id INTEGER PRIMARY KEY,
  number TEXT NOT NULL UNIQUE,               -- YJ-2026-0042
  year INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  kind TEXT NOT NULL DEFAULT '意见',          -- 意见, 建议, 反映 (the word the villager used)
  category TEXT NOT NULL,                    -- from the keyword rules; 其他 when none matched
  text TEXT NOT NULL,
  anonymous INTEGER NOT NULL DEFAULT 0,      -- the name is shown only to supervisors
  person_id INTEGER NOT NULL,                -- the sender (never shown to handlers when anonymous)
  org_unit_id INTEGER,                       -- the sender's unit when it was filed
  assigned_unit_id INTEGER,                  -- the unit whose responsible person has it now
  assignee_person_id INTEGER,
  level INTEGER NOT NULL DEFAULT 0,          -- escalations so far (0: the sender's own unit)
  status TEXT NOT NULL DEFAULT 'open',       -- open, answered
  sla_due_ms INTEGER NOT NULL,
  sla_job_id INTEGER,
  created_at_ms INTEGER NOT NULL,
  answer TEXT,
  answered_by_person_id INTEGER,
  answered_by TEXT,
  answered_at_ms INTEGER,
  rating TEXT,                               -- satisfied, unsatisfied
  rated_at_ms INTEGER,
  UNIQUE (year, seq)
);
CREATE INDEX op_tickets_person ON op_tickets(person_id, id);
CREATE INDEX op_tickets_assignee ON op_tickets(assignee_person_id, status);

CREATE TABLE op_ticket_events (
  id INTEGER PRIMARY KEY,
  ticket_id INTEGER NOT NULL REFERENCES op_tickets(id),
  at_ms INTEGER NOT NULL,
  event TEXT NOT NULL,                       -- filed, assigned, escalated, answered, rated
  detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX op_ticket_events_ticket ON op_ticket_events(ticket_id, id);
