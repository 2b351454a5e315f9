-- Messages accepted but not yet answered (after a crash) are found at start by scanning the
-- message log from a mark, instead of through an index on their status: that index cost every
-- message an insert and a delete in the busiest table, a tenth of the writer's time.
-- Every inbound message with id <= scan_from has been answered, or given up on; the pipeline
-- moves the mark as it answers. Without the row, the scan starts at 0 (once, after upgrading).
DROP INDEX core_messages_pending;
CREATE TABLE core_inbound_mark (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  scan_from INTEGER NOT NULL
);
