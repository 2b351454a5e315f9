-- Core schema, version 7: a message sent in several parts (a long SMS over SMPP or a GSM modem)
-- has a gateway id per part; receipts come per part. Delivered when every part is, failed when one
-- part fails (the outbox row carries the first part's id as provider_id).
CREATE TABLE core_outbox_parts (
  adapter_id TEXT NOT NULL,
  provider_id TEXT NOT NULL,
  outbox_id INTEGER NOT NULL REFERENCES core_outbox (id),
  status TEXT NOT NULL DEFAULT 'sent' CHECK (status IN ('sent', 'delivered', 'failed')),
  PRIMARY KEY (adapter_id, provider_id)
) WITHOUT ROWID;
CREATE INDEX core_outbox_parts_by_outbox ON core_outbox_parts (outbox_id);
