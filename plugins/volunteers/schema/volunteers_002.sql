-- Recurring shifts, reminders, swaps, unavailability, no-show limits and rota drafts (issue 9).

-- Recurring templates (every Saturday 07:00–09:00): shifts are made from them for the coming
-- weeks; the unique index makes that idempotent (a restart or a second run adds nothing).
CREATE TABLE vol_templates (
  id INTEGER PRIMARY KEY,
  code TEXT UNIQUE,                          -- from [[plugins.volunteers.templates]]; NULL: made through the API
  post_id INTEGER NOT NULL REFERENCES vol_posts(id),
  weekdays TEXT NOT NULL,                    -- ISO days, 1 Monday … 7 Sunday: "6" or "1,3,5"
  start_minute INTEGER NOT NULL,             -- village time, minutes after midnight
  end_minute INTEGER NOT NULL,               -- after start_minute; ≤ 1440
  capacity INTEGER NOT NULL,
  cutoff_minutes INTEGER NOT NULL DEFAULT 0, -- sign-ups close this long before the start
  active INTEGER NOT NULL DEFAULT 1
);

ALTER TABLE vol_shifts ADD COLUMN template_id INTEGER REFERENCES vol_templates(id);
ALTER TABLE vol_shifts ADD COLUMN cancelled_at_ms INTEGER;
CREATE UNIQUE INDEX vol_shifts_from_template ON vol_shifts(template_id, start_ms) WHERE template_id IS NOT NULL;

-- Swaps: a volunteer offers their place (offered_at_ms); whoever takes it gets a new sign-up and
-- the offer's row becomes 'swapped' with swapped_to.
ALTER TABLE vol_signups ADD COLUMN offered_at_ms INTEGER;
ALTER TABLE vol_signups ADD COLUMN swapped_to INTEGER;

-- Times a volunteer cannot serve; the rota and sign-ups honour them.
CREATE TABLE vol_unavailable (
  id INTEGER PRIMARY KEY,
  person_id INTEGER NOT NULL,
  from_ms INTEGER NOT NULL,
  to_ms INTEGER NOT NULL,
  reason TEXT NOT NULL DEFAULT '',
  created_at_ms INTEGER NOT NULL
);
CREATE INDEX vol_unavailable_person ON vol_unavailable(person_id, to_ms);

-- No-shows before this time no longer count (a cadre cleared them).
CREATE TABLE vol_people (
  person_id INTEGER PRIMARY KEY,
  no_shows_cleared_at_ms INTEGER NOT NULL DEFAULT 0
);

-- A rota preview kept for adjustment and publication.
CREATE TABLE vol_rota_drafts (
  id INTEGER PRIMARY KEY,
  from_ms INTEGER NOT NULL,
  to_ms INTEGER NOT NULL,
  assignments TEXT NOT NULL,                 -- JSON [{shift_id, person_id}]
  created_at_ms INTEGER NOT NULL,
  created_by TEXT NOT NULL DEFAULT '',
  published_at_ms INTEGER
);

CREATE TABLE vol_meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
