-- Peer of
--   incidents as of T | let t = time from first alert to last report | summarize count(), median(t), p90(t) by org;
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
per_incident AS MATERIALIZED (
  SELECT k.org,
         (SELECT l.at FROM events AS l WHERE l.seq = (SELECT x.seq FROM events AS x WHERE x.incident = k.id AND x.type = 'report' AND x.recorded_at <= :asof ORDER BY x.at DESC, x.seq DESC LIMIT 1))
         - (SELECT a.at FROM events AS a WHERE a.seq = (SELECT y.seq FROM events AS y WHERE y.incident = k.id AND y.type = 'alert' AND y.recorded_at <= :asof ORDER BY y.at, y.seq LIMIT 1)) AS t
  FROM known AS k
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
