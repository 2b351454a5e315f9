-- Core schema, version 2: the audit log, tokens acting for a person (a cadre's
-- scope), and the indexes audience resolution walks.
CREATE TABLE core_audit_log (
  id INTEGER PRIMARY KEY,
  at_ms INTEGER NOT NULL,
  actor TEXT NOT NULL,                  -- the API token's name, or cli:<user>
  actor_role TEXT NOT NULL DEFAULT '',
  via TEXT NOT NULL,                    -- api, cli
  action TEXT NOT NULL,                 -- person.create, household.update, token.revoke, import.people ...
  entity TEXT NOT NULL,                 -- org_unit, household, person, token, import
  entity_id TEXT NOT NULL DEFAULT '',
  before TEXT,                          -- JSON, NULL when created
  after TEXT                            -- JSON, NULL when deleted
);
CREATE INDEX core_audit_entity ON core_audit_log(entity, entity_id);
CREATE INDEX core_audit_actor ON core_audit_log(actor);
-- Append-only: no code path may rewrite history.
CREATE TRIGGER core_audit_no_update BEFORE UPDATE ON core_audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER core_audit_no_delete BEFORE DELETE ON core_audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;

ALTER TABLE core_tokens ADD COLUMN person_id INTEGER REFERENCES core_persons(id) ON DELETE SET NULL;

CREATE INDEX core_org_units_parent ON core_org_units(parent_id);
CREATE INDEX core_org_units_responsible ON core_org_units(responsible_person_id)
  WHERE responsible_person_id IS NOT NULL;
CREATE INDEX core_households_org_unit ON core_households(org_unit_id);
CREATE INDEX core_households_central ON core_households(central_household_id)
  WHERE central_household_id IS NOT NULL;
CREATE INDEX core_persons_org_unit ON core_persons(org_unit_id);
