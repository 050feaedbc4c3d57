-- Peer of
--   incidents | let t = time from first report to 99% fixed
--             | summarize count(), median(t), p90(t) by org;
-- Per incident: the first report by position (at, seq), then the first `fixed` metric with a
-- value >= 99 at or after that position (a bare pattern in `to` position), both walks of the
-- (incident, type, at, seq) index. The log is what the store believes for these types
-- (pmdb-gen corrects only `comm` posts; bench/run checks this). Per org: as in
-- q3_ttr_by_org.sql. Durations in ms.
WITH firsts AS MATERIALIZED (
  SELECT i.id, i.org, r.at AS r_at, r.seq AS r_seq
  FROM incidents AS i
  LEFT JOIN events AS r
    ON r.seq = (SELECT f.seq FROM events AS f WHERE f.incident = i.id AND f.type = 'report' ORDER BY f.at, f.seq LIMIT 1)
),
per_incident AS MATERIALIZED (
  SELECT f.org,
         (SELECT m.at FROM events AS m
           WHERE m.incident = f.id AND m.type = 'metric' AND m.metric = 'fixed' AND m.value >= 99
             AND (m.at > f.r_at OR (m.at = f.r_at AND m.seq >= f.r_seq))
           ORDER BY m.at, m.seq LIMIT 1) - f.r_at AS t
  FROM firsts AS f
),
ranked AS (
  SELECT org, t,
         row_number() OVER (PARTITION BY org ORDER BY t IS NULL, t) AS rnk,
         count(t) OVER (PARTITION BY org) AS n
  FROM per_incident
)
SELECT org,
       count(*) AS incidents,
       max(CASE WHEN rnk = (50 * n + 99) / 100 THEN t END) AS median_ms,
       max(CASE WHEN rnk = (90 * n + 99) / 100 THEN t END) AS p90_ms
FROM ranked
GROUP BY org
ORDER BY org;
