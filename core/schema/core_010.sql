-- A message's replies are kept in its own row (a JSON array of the reply texts), written by the
-- same UPDATE that marks it answered, instead of one 'out' row per reply: with the partial
-- index on in_reply_to those rows were half of the writer's work per message. Messages answered
-- before this migration keep their 'out' rows (replies is NULL): duplicates of them are still
-- answered from those.
ALTER TABLE core_messages ADD COLUMN replies TEXT;
