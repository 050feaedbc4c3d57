-- Peer of
--   incidents as of T | let t = time from first report to 99% fixed | summarize count(), median(t), p90(t) by org;
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
  SELECT k.id, k.org, r.at AS r_at, r.seq AS r_seq
  FROM known AS k
  LEFT JOIN events AS r ON r.seq = (SELECT f.seq FROM events AS f WHERE f.incident = k.id AND f.type = 'report' AND f.recorded_at <= :asof ORDER BY f.at, f.seq LIMIT 1)
),
per_incident AS MATERIALIZED (
  SELECT f.org,
         (SELECT m.at FROM events AS m
           WHERE m.incident = f.id AND m.type = 'metric' AND m.metric = 'fixed' AND m.value >= 99
             AND m.recorded_at <= :asof AND (m.at > f.r_at OR (m.at = f.r_at AND m.seq >= f.r_seq))
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
