-- One row the server rewrites to learn whether database writes work again after a failure (a full
-- disk, a lock held by another process) while no message arrives: /healthz clears
-- database_writes_failing only after a real write.
CREATE TABLE core_health_probe (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  at_ms INTEGER NOT NULL
);
