-- Peer of `time from first report to 99% fixed in INCIDENT;` for one incident.
-- Replace :incident with the incident's id as an SQL string ('acme-2024-01-01-1'), or run
--   sqlite3 STORE.pmdb -cmd ".parameter set :incident acme-2024-01-01-1" < bench/sql/q2_time_to_99_fixed.sql
-- Result: milliseconds from the first report to the first `fixed` metric >= 99 at or after it
-- (NULL when either is missing). Both lookups are min() on the (incident, type, at, seq) index.
SELECT (SELECT min(m.at) FROM events AS m
         WHERE m.incident = :incident AND m.type = 'metric' AND m.metric = 'fixed' AND m.value >= 99
           AND m.at >= r.first_report) - r.first_report AS duration_ms
FROM (SELECT min(at) AS first_report FROM events WHERE incident = :incident AND type = 'report') AS r;
