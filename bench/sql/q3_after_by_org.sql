-- Peer of
--   incidents | let t = time from first report to first status resolved after first status monitoring
--             | summarize count(), median(t), p90(t) by org;
-- Per incident: the first report, the first `monitoring` status post, and the first `resolved`
-- status post at or after that post's position (at, seq) (`first P after N`: it ignores the
-- `from` milestone); all walks of the (incident, type, at, seq) index. NULL when a milestone
-- is missing. The log is what the store believes for these types (pmdb-gen corrects only
-- `comm` posts; bench/run checks this). Per org: as in q3_ttr_by_org.sql. Durations in ms.
WITH firsts AS MATERIALIZED (
  SELECT i.id, i.org,
         (SELECT r.at FROM events AS r WHERE r.incident = i.id AND r.type = 'report' ORDER BY r.at, r.seq LIMIT 1) AS r_at,
         m.at AS m_at, m.seq AS m_seq
  FROM incidents AS i
  LEFT JOIN events AS m
    ON m.seq = (SELECT f.seq FROM events AS f
                 WHERE f.incident = i.id AND f.type = 'status' AND f.status = 'monitoring' ORDER BY f.at, f.seq LIMIT 1)
),
per_incident AS MATERIALIZED (
  SELECT f.org,
         (SELECT s.at FROM events AS s
           WHERE s.incident = f.id AND s.type = 'status' AND s.status = 'resolved'
             AND (s.at > f.m_at OR (s.at = f.m_at AND s.seq >= f.m_seq))
           ORDER BY s.at, s.seq LIMIT 1) - f.r_at AS t
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
