-- Peer of `pmdb import`: the same rows (the events table of a pmdb store, exported as CSV) loaded
-- by the sqlite3 shell into a bare table with the same columns, no index, in one transaction
-- (.import runs in one). Run as
--   sqlite3 NEW.db -cmd '.read bench/sql/import_bare.sql' '.import --csv events.csv events'
-- (events.csv has no header row). `seq` stays the rowid alias: it is not an index.
PRAGMA journal_mode = WAL;
PRAGMA synchronous = FULL;
CREATE TABLE events (
  seq INTEGER PRIMARY KEY, id TEXT NOT NULL, incident TEXT NOT NULL, version INTEGER NOT NULL,
  type TEXT NOT NULL, at INTEGER NOT NULL, recorded_at INTEGER NOT NULL, source TEXT NOT NULL,
  approx INTEGER NOT NULL, data TEXT NOT NULL, text TEXT, status TEXT, channel TEXT, author TEXT,
  metric TEXT, value REAL, unit TEXT, component TEXT, state TEXT, kind TEXT, target TEXT
);
