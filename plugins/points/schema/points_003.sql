-- The points store (积分超市): items and redemptions. A redemption debits the
-- ledger at once (the points are held); handing over the goods fulfils it, a
-- cancellation reverses the debit and puts the stock back.
CREATE TABLE points_store_items (
  code TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  price INTEGER NOT NULL CHECK (price > 0),
  stock INTEGER NOT NULL CHECK (stock >= 0),
  updated_at_ms INTEGER NOT NULL
);
CREATE TABLE points_redemptions (
  id INTEGER PRIMARY KEY,
  voucher TEXT NOT NULL UNIQUE,
  household_id INTEGER NOT NULL,
  person_id INTEGER NOT NULL DEFAULT 0,
  item_code TEXT NOT NULL,
  quantity INTEGER NOT NULL CHECK (quantity > 0),
  points INTEGER NOT NULL,
  status TEXT NOT NULL DEFAULT 'reserved' CHECK (status IN ('reserved', 'fulfilled', 'cancelled')),
  entry_id INTEGER NOT NULL,
  reversal_entry_id INTEGER,
  decided_by TEXT NOT NULL DEFAULT '',
  created_at_ms INTEGER NOT NULL,
  decided_at_ms INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX points_redemptions_household ON points_redemptions(household_id, id);
