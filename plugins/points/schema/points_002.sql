-- Proposals (加分/扣分) waiting for the evaluation group (积分评议小组).
CREATE TABLE points_proposals (
  id INTEGER PRIMARY KEY,
  household_id INTEGER NOT NULL,
  points INTEGER NOT NULL,
  reason TEXT NOT NULL,
  rule_code TEXT NOT NULL DEFAULT '',
  source TEXT NOT NULL DEFAULT '',
  proposer_person_id INTEGER NOT NULL DEFAULT 0,
  proposer TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
  decided_by_person_id INTEGER NOT NULL DEFAULT 0,
  decided_by TEXT NOT NULL DEFAULT '',
  note TEXT NOT NULL DEFAULT '',
  entry_id INTEGER,
  idempotency_key TEXT UNIQUE,
  created_at_ms INTEGER NOT NULL,
  decided_at_ms INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX points_proposals_status ON points_proposals(status, id);
