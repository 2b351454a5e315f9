-- Polls (投票): a question with options for an audience (snapshotted as its members), one vote
-- per household or per person; a vote changed before the deadline replaces the earlier one;
-- results with turnout by org unit stored at the close.
CREATE TABLE op_polls (
  id INTEGER PRIMARY KEY,
  code TEXT NOT NULL UNIQUE,                 -- what people type: 投票 P3 2
  question TEXT NOT NULL,
  options TEXT NOT NULL,                     -- JSON array of strings, voted by number from 1
  audience TEXT NOT NULL,                    -- JSON (audience_to_json)
  per_household INTEGER NOT NULL DEFAULT 1,  -- one vote per household (else per person)
  anonymous INTEGER NOT NULL DEFAULT 0,      -- voters' names never listed
  deadline_ms INTEGER NOT NULL,
  status TEXT NOT NULL DEFAULT 'open',       -- open, closed
  close_job_id INTEGER,
  created_by TEXT NOT NULL DEFAULT '',
  created_at_ms INTEGER NOT NULL,
  closed_at_ms INTEGER,
  results TEXT                               -- JSON, at the close
);

-- Who may vote (the audience when the poll was created) and their unit, for turnout.
CREATE TABLE op_poll_members (
  poll_id INTEGER NOT NULL REFERENCES op_polls(id),
  person_id INTEGER NOT NULL,
  household_id INTEGER,
  org_unit_id INTEGER,
  PRIMARY KEY (poll_id, person_id)
) WITHOUT ROWID;
CREATE INDEX op_poll_members_person ON op_poll_members(person_id);

-- One row per voter: the household (per_household) or the person; the latest vote counts.
CREATE TABLE op_votes (
  poll_id INTEGER NOT NULL REFERENCES op_polls(id),
  voter_key INTEGER NOT NULL,
  person_id INTEGER NOT NULL,
  option INTEGER NOT NULL,
  org_unit_id INTEGER,
  voted_at_ms INTEGER NOT NULL,
  PRIMARY KEY (poll_id, voter_key)
) WITHOUT ROWID;
