-- Volunteer posts (岗位), shifts and sign-ups (issue 9, in progress).
CREATE TABLE vol_posts (
  id INTEGER PRIMARY KEY,
  code TEXT NOT NULL UNIQUE,                 -- from [[plugins.volunteers.posts]]
  name TEXT NOT NULL,
  place TEXT NOT NULL DEFAULT '',
  required_role TEXT NOT NULL DEFAULT '',    -- party_member for 党员岗
  points_rule TEXT NOT NULL DEFAULT '',      -- the points rule a completed shift earns
  points INTEGER NOT NULL DEFAULT 0          -- 0: the rule's points
);

CREATE TABLE vol_shifts (
  id INTEGER PRIMARY KEY,
  post_id INTEGER NOT NULL REFERENCES vol_posts(id),
  start_ms INTEGER NOT NULL,
  end_ms INTEGER NOT NULL,
  capacity INTEGER NOT NULL,
  signup_cutoff_ms INTEGER NOT NULL,         -- sign-ups and cancellations before this
  completion_job_id INTEGER,
  completed_at_ms INTEGER                    -- check-ins turned into points / no-shows
);
CREATE INDEX vol_shifts_start ON vol_shifts(start_ms);

CREATE TABLE vol_signups (
  shift_id INTEGER NOT NULL REFERENCES vol_shifts(id),
  person_id INTEGER NOT NULL,
  status TEXT NOT NULL DEFAULT 'signed',     -- signed, cancelled, completed, no_show
  signed_at_ms INTEGER NOT NULL,
  checked_in_at_ms INTEGER,
  PRIMARY KEY (shift_id, person_id)
) WITHOUT ROWID;
CREATE INDEX vol_signups_person ON vol_signups(person_id, status);
