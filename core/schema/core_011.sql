-- An answer given again and again (帮助 for the same roles, 积分超市's catalogue: a kilobyte or
-- more each time) is stored once: a later message answered with the same texts names the message
-- whose row holds them (replies_of) and leaves its own replies NULL. The writer's work per message
-- fell by a fifth with it (docs/ARCHITECTURE.md, "Decisions"). Readers take
-- COALESCE(m.replies, (replies of m.replies_of)).
ALTER TABLE core_messages ADD COLUMN replies_of INTEGER REFERENCES core_messages(id);
