-- The rows the sqlite3 import peer loads: the events table of a pmdb store, as CSV without a
-- header, in store order. Run as: sqlite3 -csv STORE.pmdb < bench/sql/export_csv.sql > events.csv
SELECT seq, id, incident, version, type, at, recorded_at, source, approx, data, text, status, channel,
       author, metric, value, unit, component, state, kind, target
FROM events ORDER BY seq;
