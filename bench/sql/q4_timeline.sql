-- Peer of `timeline INCIDENT;`: every event of one incident in time order, with the time
-- elapsed since its first event (ms). Replace :incident as in q2_time_to_99_fixed.sql.
SELECT at, at - (SELECT min(at) FROM events WHERE incident = :incident) AS elapsed_ms,
       type, source, text, approx
FROM events
WHERE incident = :incident
ORDER BY at, seq;
