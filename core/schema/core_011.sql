-- An answer given again and again (帮助 for the same roles, 积分超市's catalogue: a kilobyte or
-- more each time) is stored once: a later message answered with the same texts names the message
-- whose row holds them (replies_of, an id of core_messages) and leaves its own replies NULL.
-- Readers take COALESCE(m.replies, (replies of m.replies_of)). Deliberately no REFERENCES clause:
-- with foreign keys on, SQLite rewrites every index of the table in an UPDATE that sets a child
-- key column (the unique dedupe index included), which cost more than the kilobyte it saves.
-- The row it names is written and committed before any reference to it (message_log.hpp).
ALTER TABLE core_messages ADD COLUMN replies_of INTEGER;
