-- Core schema, version 6: a group post's @-mentions (phones, comma-separated), for the robots that
-- notify people by phone (WeCom mentioned_mobile_list, DingTalk atMobiles).
ALTER TABLE core_outbox ADD COLUMN mentions TEXT NOT NULL DEFAULT '';
