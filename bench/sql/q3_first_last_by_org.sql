-- Peer of
--   incidents | let d = time from first alert to last report
--             | summarize count(), median(d), p90(d) by org;
-- `first` and `last` ignore the `from` milestone: per incident, the first alert and the last
-- report by position (at, seq), each one walk of the (incident, type, at, seq) index, and their
-- difference (NULL when either is missing). The log is what the store believes for these
-- types: pmdb-gen corrects only `comm` posts and retracts nothing (bench/run checks this).
-- Per org: the number of incidents and the nearest-rank percentiles of the non-null values,
-- as in q3_ttr_by_org.sql. Durations in ms.
WITH per_incident AS MATERIALIZED (
  SELECT i.org,
         (SELECT l.at FROM events AS l WHERE l.incident = i.id AND l.type = 'report' ORDER BY l.at DESC, l.seq DESC LIMIT 1)
         - (SELECT a.at FROM events AS a WHERE a.incident = i.id AND a.type = 'alert' ORDER BY a.at, a.seq LIMIT 1) AS d
  FROM incidents AS i
),
ranked AS (
  SELECT org, d,
         row_number() OVER (PARTITION BY org ORDER BY d IS NULL, d) AS rnk,
         count(d) OVER (PARTITION BY org) AS n
  FROM per_incident
)
SELECT org,
       count(*) AS incidents,
       max(CASE WHEN rnk = (50 * n + 99) / 100 THEN d END) AS median_ms,
       max(CASE WHEN rnk = (90 * n + 99) / 100 THEN d END) AS p90_ms
FROM ranked
GROUP BY org
ORDER BY org;
