-- The plugin's own settings that must survive restarts (the monthly 红榜 job).
CREATE TABLE points_meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
