-- The household points ledger: append-only, hash-chained (see points_service.hpp).
CREATE TABLE points_entries (
  id INTEGER PRIMARY KEY,
  household_id INTEGER NOT NULL,
  points INTEGER NOT NULL,
  reason TEXT NOT NULL,
  rule_code TEXT NOT NULL DEFAULT '',
  source TEXT NOT NULL DEFAULT '',
  proposer TEXT NOT NULL DEFAULT '',
  approver TEXT NOT NULL DEFAULT '',
  idempotency_key TEXT UNIQUE,
  reverses INTEGER UNIQUE,
  created_at_ms INTEGER NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
CREATE INDEX points_entries_household ON points_entries(household_id, id);
CREATE INDEX points_entries_time ON points_entries(created_at_ms);
CREATE TRIGGER points_entries_no_update BEFORE UPDATE ON points_entries
BEGIN SELECT RAISE(ABORT, 'points_entries is append-only: undo an entry with a reversing entry'); END;
CREATE TRIGGER points_entries_no_delete BEFORE DELETE ON points_entries
BEGIN SELECT RAISE(ABORT, 'points_entries is append-only: undo an entry with a reversing entry'); END;
-- Derived from points_entries in the same transaction; `points verify` checks it.
CREATE TABLE points_balances (
  household_id INTEGER PRIMARY KEY,
  balance INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL
);
CREATE INDEX points_balances_rank ON points_balances(balance);
