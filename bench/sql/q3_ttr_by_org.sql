-- Peer of
--   incidents | let ttr = time from first report to status resolved
--             | summarize count(), median(ttr), p90(ttr) by org;
-- Per incident: the first report, then the first `resolved` status post at or after it (both
-- min() lookups on the (incident, type, at, seq) index), each computed once (MATERIALIZED:
-- otherwise SQLite copies the correlated subqueries into every place that uses their value).
-- Per org: the number of incidents and the nearest-rank percentiles of the non-null ttr values:
-- for n sorted values the p-th percentile is the value at rank ceil(p/100 * n), computed in
-- integers as (p*n + 99) / 100. Sorting NULLs last lets one row_number() window serve both
-- percentiles. Durations in ms.
WITH firsts AS MATERIALIZED (
  SELECT i.id, i.org,
         (SELECT min(r.at) FROM events AS r WHERE r.incident = i.id AND r.type = 'report') AS first_report
  FROM incidents AS i
),
per_incident AS MATERIALIZED (
  SELECT f.org,
         (SELECT min(s.at) FROM events AS s
           WHERE s.incident = f.id AND s.type = 'status' AND s.status = 'resolved' AND s.at >= f.first_report)
         - f.first_report AS ttr
  FROM firsts AS f
),
ranked AS (
  SELECT org, ttr,
         row_number() OVER (PARTITION BY org ORDER BY ttr IS NULL, ttr) AS rnk,
         count(ttr) OVER (PARTITION BY org) AS n
  FROM per_incident
)
SELECT org,
       count(*) AS incidents,
       max(CASE WHEN rnk = (50 * n + 99) / 100 THEN ttr END) AS median_ms,
       max(CASE WHEN rnk = (90 * n + 99) / 100 THEN ttr END) AS p90_ms
FROM ranked
GROUP BY org
ORDER BY org;
