-- Peer of `pmdb import` (durable): what a user with the sqlite3 shell would write to load the
-- same JSONL file into one typed table with the columns of pmdb's log (the envelope, `at` and
-- `recorded_at` as integer ms, the payload as minified JSON and the typed columns pmdb
-- extracts from it) and one index, (incident, type, at), in one transaction.
-- bench/run replaces :jsonl with the file's path and pipes this script to `sqlite3 NEW.db`.
-- The lines get into SQLite with .import in ascii mode with a unit separator (0x1F) between
-- fields and a newline between rows: JSON text holds no raw control character (they are
-- escaped in strings) and no newline within a line, so each line is one field of one row, read
-- as is (ascii mode does not interpret quotes). A missing recorded_at is the load's time.
PRAGMA journal_mode = WAL;
PRAGMA synchronous = FULL;
CREATE TABLE events (
  seq INTEGER PRIMARY KEY, id TEXT, incident TEXT NOT NULL, type TEXT NOT NULL,
  at INTEGER NOT NULL, recorded_at INTEGER NOT NULL, source TEXT NOT NULL, approx INTEGER NOT NULL,
  data TEXT NOT NULL, text TEXT, status TEXT, channel TEXT, author TEXT, metric TEXT, value REAL,
  unit TEXT, component TEXT, state TEXT, kind TEXT, target TEXT
);
BEGIN;
CREATE TEMP TABLE raw (line TEXT);
.mode ascii
.separator "\037" "\n"
.import --schema temp :jsonl raw
INSERT INTO events (id, incident, type, at, recorded_at, source, approx, data, text, status, channel, author,
                    metric, value, unit, component, state, kind, target)
SELECT json_extract(line, '$.id'), json_extract(line, '$.incident'), json_extract(line, '$.type'),
       unixepoch(json_extract(line, '$.at')) * 1000 + CAST(substr(strftime('%f', json_extract(line, '$.at')), 4) AS INTEGER),
       coalesce(unixepoch(json_extract(line, '$.recorded_at')) * 1000
                  + CAST(substr(strftime('%f', json_extract(line, '$.recorded_at')), 4) AS INTEGER),
                unixepoch('now') * 1000),
       json_extract(line, '$.source'), coalesce(json_extract(line, '$.approx'), 0), json_extract(line, '$.data'),
       CASE json_extract(line, '$.type') WHEN 'incident' THEN json_extract(line, '$.data.title')
                                          ELSE json_extract(line, '$.data.text') END,
       json_extract(line, '$.data.status'), json_extract(line, '$.data.channel'), json_extract(line, '$.data.author'),
       CASE json_extract(line, '$.type') WHEN 'metric' THEN json_extract(line, '$.data.name') END,
       CASE json_extract(line, '$.type') WHEN 'report' THEN json_extract(line, '$.data.count')
                                          WHEN 'metric' THEN json_extract(line, '$.data.value') END,
       CASE json_extract(line, '$.type') WHEN 'metric' THEN json_extract(line, '$.data.unit') END, json_extract(line, '$.data.component'), json_extract(line, '$.data.state'),
       json_extract(line, '$.data.kind'), json_extract(line, '$.data.target')
FROM temp.raw
WHERE line <> '';
CREATE INDEX events_by_incident_type ON events (incident, type, at);
DROP TABLE temp.raw;
COMMIT;
