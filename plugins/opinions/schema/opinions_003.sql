-- 四议两公开 proposals: four deliberation stages in order, then two public disclosures.
-- Stage 0 党支部提议, 1 两委会商议, 2 党员大会审议, 3 村民代表会议决议, 4 决议公开, 5 实施结果公开.
CREATE TABLE op_proposals (
  id INTEGER PRIMARY KEY,
  title TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL DEFAULT 'in_progress',  -- in_progress, rejected, resolved (决议公开 done), completed
  next_stage INTEGER NOT NULL DEFAULT 0,
  created_by TEXT NOT NULL DEFAULT '',
  created_at_ms INTEGER NOT NULL
);

CREATE TABLE op_proposal_stages (
  proposal_id INTEGER NOT NULL REFERENCES op_proposals(id),
  stage INTEGER NOT NULL,
  decision TEXT NOT NULL,                      -- passed, rejected, published
  note TEXT NOT NULL DEFAULT '',
  poll_code TEXT,                              -- stage 3 decided by a poll of the representatives
  decided_by TEXT NOT NULL DEFAULT '',
  decided_at_ms INTEGER NOT NULL,
  PRIMARY KEY (proposal_id, stage)
) WITHOUT ROWID;
