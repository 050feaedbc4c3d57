-- Peer of
--   incidents as of T | let t = time from first report to first status resolved after first status monitoring | summarize count(), median(t), p90(t) by org;
-- The store as of :asof (ms since the epoch): the log restricted to the events recorded by
-- then (schemas/README.md, "What the store believes", rule 1). pmdb-gen writes no retraction
-- and corrects only `comm` posts' times (bench/run checks this), so for the types read here
-- the restricted log is what the store believed at :asof. An incident exists as of :asof
-- when one of its events was recorded by then; its org is that of its latest `incident` event
-- (by at, seq) recorded by then (NULL when none was). Percentiles as in q3_ttr_by_org.sql.
WITH known AS MATERIALIZED (
  SELECT k.incident AS id,
         (SELECT json_extract(v.data, '$.org') FROM events AS v
           WHERE v.incident = k.incident AND v.type = 'incident' AND v.recorded_at <= :asof
           ORDER BY v.at DESC, v.seq DESC LIMIT 1) AS org
  FROM (SELECT DISTINCT incident FROM events WHERE recorded_at <= :asof) AS k
),
firsts AS MATERIALIZED (
  SELECT k.id, k.org,
         (SELECT r.at FROM events AS r WHERE r.seq = (SELECT f.seq FROM events AS f WHERE f.incident = k.id AND f.type = 'report' AND f.recorded_at <= :asof ORDER BY f.at, f.seq LIMIT 1)) AS r_at,
         m.at AS m_at, m.seq AS m_seq
  FROM known AS k
  LEFT JOIN events AS m ON m.seq = (SELECT g.seq FROM events AS g WHERE g.incident = k.id AND g.type = 'status' AND g.status = 'monitoring' AND g.recorded_at <= :asof ORDER BY g.at, g.seq LIMIT 1)
),
per_incident AS MATERIALIZED (
  SELECT f.org,
         (SELECT s.at FROM events AS s
           WHERE s.incident = f.id AND s.type = 'status' AND s.status = 'resolved' AND s.recorded_at <= :asof
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
