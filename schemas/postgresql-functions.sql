-- The SQL functions pmdb's statements call that PostgreSQL lacks, with the semantics of the
-- SQLite ones (core/sql_functions.cpp, and SQLite's own built-ins), in the schema pmdb. Every
-- statement is idempotent. The store runs this file when it is made (after schemas/postgresql.sql),
-- and at an open by a pmdb whose file differs from the one the store ran (keyed by its hash in
-- pmdb.meta), after dropping the functions of the older one.
-- Connections run with `search_path = pmdb, pg_catalog`, so that a function here of the same
-- name and argument types as a built-in one (round, lower) is the one called.
--
-- Times are integer milliseconds since 1970-01-01T00:00Z, as in the SQLite store. Calendar
-- arithmetic is done on integers (PostgreSQL's dates have no year 0); PostgreSQL is asked only
-- for a zone's UTC offset at an instant, from the system's tz database as SQLite's functions
-- are. A zone is looked up as 'posix/NAME': a bare NAME (CET, EET, MET, WET) would first be
-- read as PostgreSQL's fixed-offset abbreviation of the same spelling.
--
-- Differences that remain:
-- * pmdb_regexp: PostgreSQL's regular expressions (ARE) are not PCRE2. The common syntax is
--   mapped (\b \B \z \Z $, named groups, \p{L} \p{N} \p{Lu} \p{Ll}, \x{HH}); atomic groups,
--   possessive quantifiers, \K, recursion and inline options after the start are not supported
--   and fail as invalid. Classes (\w, \d, [[:alpha:]]) and case folding follow ICU's Unicode
--   tables, where PCRE2 follows its own; backtracking limits do not apply.
-- * json_each's key is text (SQLite gives arrays integer keys).

SELECT pg_advisory_xact_lock(7235401166);  -- two opens at once do not create the same objects together
CREATE SCHEMA IF NOT EXISTS pmdb;

-- ---------------------------------------------------------------- integers and the calendar

CREATE OR REPLACE FUNCTION pmdb.pmdb_floor_div(a bigint, b bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$ SELECT (a - ((a % b) + b) % b) / b $$;

-- The date (y, m, d) of day z since 1970-01-01, proleptic Gregorian with a year 0.
CREATE OR REPLACE FUNCTION pmdb.pmdb_civil(z bigint, OUT y bigint, OUT m bigint, OUT d bigint)
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
  zz bigint := z + 719468;
  era bigint;
  doe bigint;
  yoe bigint;
  doy bigint;
  mp bigint;
BEGIN
  era := (CASE WHEN zz >= 0 THEN zz ELSE zz - 146096 END) / 146097;
  doe := zz - era * 146097;
  yoe := (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  doy := doe - (365 * yoe + yoe / 4 - yoe / 100);
  mp := (5 * doy + 2) / 153;
  d := doy - (153 * mp + 2) / 5 + 1;
  m := CASE WHEN mp < 10 THEN mp + 3 ELSE mp - 9 END;
  y := yoe + era * 400 + CASE WHEN m <= 2 THEN 1 ELSE 0 END;
END $$;

-- Day number since 1970-01-01 of the date (y, m, d).
CREATE OR REPLACE FUNCTION pmdb.pmdb_days(y bigint, m bigint, d bigint) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
  yy bigint := y - CASE WHEN m <= 2 THEN 1 ELSE 0 END;
  era bigint;
  yoe bigint;
  doy bigint;
BEGIN
  era := (CASE WHEN yy >= 0 THEN yy ELSE yy - 399 END) / 400;
  yoe := yy - era * 400;
  doy := (153 * (CASE WHEN m > 2 THEN m - 3 ELSE m + 9 END) + 2) / 5 + d - 1;
  RETURN era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
END $$;

-- The zone to ask PostgreSQL for, or NULL for UTC ('' and 'UTC'). An unknown name is an error;
-- the names known are read once per session.
CREATE OR REPLACE FUNCTION pmdb.pmdb_zone(name text) RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
  known text := current_setting('pmdb.zone_names', true);
BEGIN
  IF name IS NULL THEN RETURN NULL; END IF;
  IF name = '' OR name = 'UTC' THEN RETURN NULL; END IF;
  IF known IS NULL OR known = '' THEN  -- the tz database's names, read once per session
    SELECT '|' || string_agg(t.name, '|') || '|' INTO known FROM pg_catalog.pg_timezone_names t
     WHERE t.name <> 'localtime' AND t.name !~ '^(posix|right)/';
    PERFORM set_config('pmdb.zone_names', known, false);
  END IF;
  IF position('|' || name || '|' IN known) = 0 THEN
    RAISE EXCEPTION 'unknown time zone ''%''', name;
  END IF;
  RETURN 'posix/' || name;
END $$;

-- The zone's UTC offset (ms) at the instant ms. Transitions fall on whole seconds.
CREATE OR REPLACE FUNCTION pmdb.pmdb_offset(ms bigint, tz text) RETURNS bigint
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
  s bigint;
BEGIN
  IF tz IS NULL THEN RETURN 0; END IF;
  -- Past 2037 (the last transition the tz files list; their rule for later years is not read),
  -- a zone keeps its offset of the end of 2037, as SQLite's functions (Howard Hinnant's date) do.
  s := pmdb.pmdb_floor_div(ms, 1000);
  IF s > 2145916799 THEN
    RETURN (extract(epoch FROM (to_timestamp(2145916799::double precision) AT TIME ZONE tz))::bigint - 2145916799) * 1000;
  END IF;
  RETURN (extract(epoch FROM (to_timestamp(s::double precision) AT TIME ZONE tz))::bigint - s) * 1000;
END $$;

-- The instant at which the local time `loc` (ms) begins: in a gap (spring forward), the end of
-- the gap; when ambiguous (fall back), the earlier instant, unless it is not after `after`.
CREATE OR REPLACE FUNCTION pmdb.pmdb_instant(loc bigint, tz text, after bigint) RETURNS bigint
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
  p bigint;
  q bigint;
  v1 boolean;
  v2 boolean;
  lo bigint;
  hi bigint;
  mid bigint;
BEGIN
  IF tz IS NULL THEN RETURN loc; END IF;
  p := pmdb.pmdb_offset(loc - 86400000, tz);
  q := pmdb.pmdb_offset(loc + 86400000, tz);
  IF p = q THEN RETURN loc - p; END IF;
  v1 := pmdb.pmdb_offset(loc - p, tz) = p;
  v2 := pmdb.pmdb_offset(loc - q, tz) = q;
  IF v1 AND v2 THEN
    RETURN CASE WHEN after IS NULL OR loc - p > after THEN loc - p ELSE loc - q END;
  ELSIF v1 THEN
    RETURN loc - p;
  ELSIF v2 THEN
    RETURN loc - q;
  END IF;
  -- In a gap: the first second whose offset is no longer p, between loc - q and loc - p.
  lo := pmdb.pmdb_floor_div(least(loc - q, loc - p), 1000);  -- offset p
  hi := pmdb.pmdb_floor_div(greatest(loc - q, loc - p), 1000) + 1;
  WHILE hi - lo > 1 LOOP
    mid := lo + (hi - lo) / 2;
    IF pmdb.pmdb_offset(mid * 1000, tz) = p THEN lo := mid; ELSE hi := mid; END IF;
  END LOOP;
  RETURN hi * 1000;
END $$;

CREATE OR REPLACE FUNCTION pmdb.pmdb_unit_ok(fn text, u text) RETURNS void
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
  IF u NOT IN ('year', 'quarter', 'month', 'week', 'day', 'hour') THEN
    RAISE EXCEPTION '%: unknown unit ''%'' (one of year, quarter, month, week, day, hour)', fn, u;
  END IF;
END $$;

-- The local start of the bucket (unit u) holding the local time lms, or of the next one.
CREATE OR REPLACE FUNCTION pmdb.pmdb_local_edge(lms bigint, u text, nxt boolean) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
  day bigint := pmdb.pmdb_floor_div(lms, 86400000);
  c record;
  wd bigint;
  qm bigint;
  start bigint;
BEGIN
  c := pmdb.pmdb_civil(day);
  wd := (day % 7 + 10) % 7 + 1;
  IF u = 'year' THEN
    RETURN pmdb.pmdb_days(c.y + CASE WHEN nxt THEN 1 ELSE 0 END, 1, 1) * 86400000;
  ELSIF u = 'quarter' THEN
    qm := (c.m - 1) / 3 * 3 + 1 + CASE WHEN nxt THEN 3 ELSE 0 END;
    IF qm > 12 THEN RETURN pmdb.pmdb_days(c.y + 1, qm - 12, 1) * 86400000; END IF;
    RETURN pmdb.pmdb_days(c.y, qm, 1) * 86400000;
  ELSIF u = 'month' THEN
    IF nxt AND c.m = 12 THEN RETURN pmdb.pmdb_days(c.y + 1, 1, 1) * 86400000; END IF;
    RETURN pmdb.pmdb_days(c.y, c.m + CASE WHEN nxt THEN 1 ELSE 0 END, 1) * 86400000;
  ELSIF u = 'week' THEN
    RETURN (day - (wd - 1) + CASE WHEN nxt THEN 7 ELSE 0 END) * 86400000;
  ELSIF u = 'day' THEN
    RETURN (day + CASE WHEN nxt THEN 1 ELSE 0 END) * 86400000;
  ELSE  -- hour
    start := day * 86400000 + (lms - day * 86400000) / 3600000 * 3600000;
    RETURN start + CASE WHEN nxt THEN 3600000 ELSE 0 END;
  END IF;
END $$;

-- A year as fmt's {:04} writes it: at least four digits, the sign first.
CREATE OR REPLACE FUNCTION pmdb.pmdb_year_text(y bigint) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT CASE WHEN y < 0 THEN '-' || lpad((-y)::text, 3, '0') ELSE lpad(y::text, greatest(4, length(y::text)), '0') END
$$;

CREATE OR REPLACE FUNCTION pmdb.pmdb_in_years(ms bigint) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT ms >= -62167219200000 AND ms < 253402300800000 $$;

-- pmdb_cal(T, PART, ZONE): a bucket label (text) or a calendar number. PostgreSQL functions have
-- one result type: this one gives text for every part; pmdb_cal_number gives the numbers.
CREATE OR REPLACE FUNCTION pmdb.pmdb_cal(ms bigint, part text, zone text) RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
  tz text;
  lms bigint;
  day bigint;
  c record;
  wd bigint;
  th bigint;
  ty record;
BEGIN
  IF ms IS NULL OR part IS NULL OR zone IS NULL THEN RETURN NULL; END IF;
  IF part NOT IN ('weekday', 'hour_of_day', 'day_of_month', 'week_of_year', 'month_of_year', 'quarter_of_year',
                  'year_number', 'year', 'quarter', 'month', 'week', 'day', 'hour') THEN
    RAISE EXCEPTION 'pmdb_cal: unknown part ''%'' (one of weekday, hour_of_day, day_of_month, week_of_year, '
                    'month_of_year, quarter_of_year, year_number, year, quarter, month, week, day, hour)', part;
  END IF;
  tz := pmdb.pmdb_zone(zone);
  IF NOT pmdb.pmdb_in_years(ms) THEN RETURN NULL; END IF;
  lms := ms + pmdb.pmdb_offset(ms, tz);
  day := pmdb.pmdb_floor_div(lms, 86400000);
  c := pmdb.pmdb_civil(day);
  wd := (day % 7 + 10) % 7 + 1;
  th := day + 4 - wd;  -- the ISO week's Thursday decides its year
  ty := pmdb.pmdb_civil(th);
  RETURN CASE part
    WHEN 'weekday' THEN wd::text
    WHEN 'hour_of_day' THEN ((lms - day * 86400000) / 3600000)::text
    WHEN 'day_of_month' THEN c.d::text
    WHEN 'week_of_year' THEN ((th - pmdb.pmdb_days(ty.y, 1, 1)) / 7 + 1)::text
    WHEN 'month_of_year' THEN c.m::text
    WHEN 'quarter_of_year' THEN ((c.m - 1) / 3 + 1)::text
    WHEN 'year_number' THEN c.y::text
    WHEN 'year' THEN pmdb.pmdb_year_text(c.y)
    WHEN 'quarter' THEN pmdb.pmdb_year_text(c.y) || '-Q' || ((c.m - 1) / 3 + 1)::text
    WHEN 'month' THEN pmdb.pmdb_year_text(c.y) || '-' || lpad(c.m::text, 2, '0')
    WHEN 'week' THEN pmdb.pmdb_year_text(ty.y) || '-W' || lpad(((th - pmdb.pmdb_days(ty.y, 1, 1)) / 7 + 1)::text, 2, '0')
    WHEN 'day' THEN pmdb.pmdb_year_text(c.y) || '-' || lpad(c.m::text, 2, '0') || '-' || lpad(c.d::text, 2, '0')
    ELSE pmdb.pmdb_year_text(c.y) || '-' || lpad(c.m::text, 2, '0') || '-' || lpad(c.d::text, 2, '0') || ' ' ||
         lpad(((lms - day * 86400000) / 3600000)::text, 2, '0') || ':00'
  END;
END $$;

CREATE OR REPLACE FUNCTION pmdb.pmdb_cal_number(ms bigint, part text, zone text) RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT pmdb.pmdb_cal(ms, part, zone)::bigint $$;

CREATE OR REPLACE FUNCTION pmdb.pmdb_bucket_start(ms bigint, u text, zone text) RETURNS bigint
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
  tz text;
BEGIN
  IF ms IS NULL OR u IS NULL OR zone IS NULL THEN RETURN NULL; END IF;
  PERFORM pmdb.pmdb_unit_ok('pmdb_bucket_start', u);
  tz := pmdb.pmdb_zone(zone);
  IF NOT pmdb.pmdb_in_years(ms) THEN RETURN NULL; END IF;
  RETURN pmdb.pmdb_instant(pmdb.pmdb_local_edge(ms + pmdb.pmdb_offset(ms, tz), u, false), tz, NULL);
END $$;

CREATE OR REPLACE FUNCTION pmdb.pmdb_bucket_next(ms bigint, u text, zone text) RETURNS bigint
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
  tz text;
BEGIN
  IF ms IS NULL OR u IS NULL OR zone IS NULL THEN RETURN NULL; END IF;
  PERFORM pmdb.pmdb_unit_ok('pmdb_bucket_next', u);
  tz := pmdb.pmdb_zone(zone);
  IF NOT pmdb.pmdb_in_years(ms) THEN RETURN NULL; END IF;
  RETURN pmdb.pmdb_instant(pmdb.pmdb_local_edge(ms + pmdb.pmdb_offset(ms, tz), u, true), tz, ms);
END $$;

CREATE OR REPLACE FUNCTION pmdb.pmdb_iso(ms bigint) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
  day bigint := pmdb.pmdb_floor_div(ms, 86400000);
  rem bigint := ms - day * 86400000;
  c record;
  secs bigint := rem / 1000;
BEGIN
  c := pmdb.pmdb_civil(day);
  RETURN pmdb.pmdb_year_text(c.y) || '-' || lpad(c.m::text, 2, '0') || '-' || lpad(c.d::text, 2, '0') || 'T' ||
         lpad((secs / 3600)::text, 2, '0') || ':' || lpad((secs / 60 % 60)::text, 2, '0') || ':' ||
         lpad((secs % 60)::text, 2, '0') ||
         CASE WHEN rem % 1000 <> 0 THEN '.' || lpad((rem % 1000)::text, 3, '0') ELSE '' END || 'Z';
END $$;

-- The starts of the buckets from the one holding `start` to the last beginning before `end`
-- (at least one), as rows; pmdb_buckets gives them as a JSON array, as SQLite's does.
CREATE OR REPLACE FUNCTION pmdb.pmdb_bucket_series(start bigint, "end" bigint, u text, zone text) RETURNS SETOF bigint
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
  tz text;
  b bigint;
  n integer := 0;
BEGIN
  IF start IS NULL OR "end" IS NULL OR u IS NULL OR zone IS NULL THEN RETURN; END IF;
  PERFORM pmdb.pmdb_unit_ok('pmdb_buckets', u);
  tz := pmdb.pmdb_zone(zone);
  IF NOT pmdb.pmdb_in_years(start) OR NOT pmdb.pmdb_in_years("end") THEN RETURN; END IF;
  b := pmdb.pmdb_instant(pmdb.pmdb_local_edge(start + pmdb.pmdb_offset(start, tz), u, false), tz, NULL);
  LOOP
    n := n + 1;
    IF n > 100000 THEN
      RAISE EXCEPTION 'interval from % to % spans more than 100000 % buckets', pmdb.pmdb_iso(start),
        pmdb.pmdb_iso("end"), u;
    END IF;
    RETURN NEXT b;
    b := pmdb.pmdb_instant(pmdb.pmdb_local_edge(b + pmdb.pmdb_offset(b, tz), u, true), tz, b);
    EXIT WHEN b >= "end";
  END LOOP;
END $$;

CREATE OR REPLACE FUNCTION pmdb.pmdb_buckets(start bigint, "end" bigint, u text, zone text) RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
  r text;
BEGIN
  IF start IS NULL OR "end" IS NULL OR u IS NULL OR zone IS NULL THEN RETURN NULL; END IF;
  PERFORM pmdb.pmdb_unit_ok('pmdb_buckets', u);
  PERFORM pmdb.pmdb_zone(zone);
  IF NOT pmdb.pmdb_in_years(start) OR NOT pmdb.pmdb_in_years("end") THEN RETURN NULL; END IF;
  SELECT '[' || string_agg(b::text, ',' ORDER BY o) || ']' INTO r
    FROM pmdb.pmdb_bucket_series(start, "end", u, zone) WITH ORDINALITY AS s(b, o);
  RETURN r;
END $$;

-- ---------------------------------------------------------------- regular expressions

-- A PCRE2 pattern in PostgreSQL's ARE syntax, for the constructs both have under other names.
CREATE OR REPLACE FUNCTION pmdb.pmdb_are(pattern text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
  out text := '';
  i integer := 1;
  n integer := length(pattern);
  ch text;
  nx text;
  in_class boolean := false;
  class_start integer := 0;
  m text[];
BEGIN
  WHILE i <= n LOOP
    ch := substr(pattern, i, 1);
    IF ch = '\' AND i < n THEN
      nx := substr(pattern, i + 1, 1);
      IF NOT in_class AND nx = 'b' THEN out := out || '\y'; i := i + 2;
      ELSIF NOT in_class AND nx = 'B' THEN out := out || '\Y'; i := i + 2;
      ELSIF NOT in_class AND nx = 'z' THEN out := out || '\Z'; i := i + 2;
      ELSIF NOT in_class AND nx = 'Z' THEN out := out || '(?=\n?\Z)'; i := i + 2;
      ELSIF nx IN ('p', 'P') AND substr(pattern, i + 2, 1) = '{' THEN
        m := regexp_match(substr(pattern, i + 3), '^\^?([A-Za-z_&]+)\}');
        IF m IS NULL THEN RAISE EXCEPTION 'invalid regular expression /%/: malformed \p', pattern; END IF;
        out := out || (CASE WHEN in_class THEN '' ELSE CASE WHEN nx = 'P' OR substr(pattern, i + 3, 1) = '^' THEN '[^' ELSE '[' END END)
                   || CASE m[1] WHEN 'L' THEN '[:alpha:]' WHEN 'Lu' THEN '[:upper:]' WHEN 'Ll' THEN '[:lower:]'
                                WHEN 'N' THEN '[:digit:]' WHEN 'Nd' THEN '[:digit:]' WHEN 'P' THEN '[:punct:]'
                                WHEN 'Z' THEN '[:space:]' WHEN 'Zs' THEN '[:blank:]'
                                ELSE NULL END
                   || CASE WHEN in_class THEN '' ELSE ']' END;
        IF out IS NULL THEN RAISE EXCEPTION 'invalid regular expression /%/: unsupported property \p{%}', pattern, m[1]; END IF;
        i := i + 3 + length(m[1]) + 1 + CASE WHEN substr(pattern, i + 3, 1) = '^' THEN 1 ELSE 0 END;
      ELSIF nx = 'x' AND substr(pattern, i + 2, 1) = '{' THEN
        m := regexp_match(substr(pattern, i + 3), '^([0-9A-Fa-f]{1,6})\}');
        IF m IS NULL THEN RAISE EXCEPTION 'invalid regular expression /%/: malformed \x{}', pattern; END IF;
        out := out || '\U' || lpad(m[1], 8, '0');
        i := i + 3 + length(m[1]) + 1;
      ELSIF nx = 'x' THEN
        m := regexp_match(substr(pattern, i + 2), '^([0-9A-Fa-f]{0,2})');
        out := out || '\u' || lpad(coalesce(nullif(m[1], ''), '0'), 4, '0');
        i := i + 2 + length(m[1]);
      ELSE
        out := out || ch || nx; i := i + 2;
      END IF;
    ELSIF in_class THEN
      IF ch = ']' AND i > class_start THEN in_class := false; END IF;
      IF ch = '[' AND substr(pattern, i + 1, 1) = ':' THEN
        m := regexp_match(substr(pattern, i), '^\[:[a-z]+:\]');
        IF m IS NOT NULL THEN out := out || m[1]; i := i + length(m[1]); CONTINUE; END IF;
      END IF;
      out := out || ch; i := i + 1;
    ELSIF ch = '[' THEN
      in_class := true;
      out := out || ch; i := i + 1;
      IF substr(pattern, i, 1) = '^' THEN out := out || '^'; i := i + 1; END IF;
      class_start := i + 1;  -- a ']' first in the class is a literal
    ELSIF ch = '$' THEN
      out := out || '(?=\n?\Z)'; i := i + 1;
    ELSIF ch = '(' AND substr(pattern, i, 3) IN ('(?<', '(?P') AND substr(pattern, i, 4) NOT IN ('(?<=', '(?<!') THEN
      m := regexp_match(substr(pattern, i), '^\(\?P?<[A-Za-z_][A-Za-z0-9_]*>');
      IF m IS NULL THEN out := out || ch; i := i + 1;
      ELSE out := out || '('; i := i + length(m[1]); END IF;
    ELSE
      out := out || ch; i := i + 1;
    END IF;
  END LOOP;
  RETURN out;
END $$;

-- pmdb_regexp(PATTERN, TEXT): whether TEXT holds a match of PATTERN (NULL when either is NULL).
CREATE OR REPLACE FUNCTION pmdb.pmdb_regexp(pattern text, subject text) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$ SELECT (subject COLLATE "und-x-icu") ~ pmdb.pmdb_are(pattern) $$;

-- pmdb_has_word(TEXT, PHRASE): PHRASE in TEXT between word boundaries, in any case.
CREATE OR REPLACE FUNCTION pmdb.pmdb_has_word(subject text, phrase text) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT CASE WHEN phrase = '' THEN false ELSE
    (subject COLLATE "und-x-icu") ~* ('(?<![[:alnum:]_])' ||
      regexp_replace(phrase, '([^0-9A-Za-z\u0080-\U0010FFFF])', '\\\1', 'g') || '(?![[:alnum:]_])') END
$$;

-- ---------------------------------------------------------------- aggregates

-- pmdb_union_length(START, END): the length of the union of the rows' [START, END) intervals.
CREATE OR REPLACE FUNCTION pmdb.pmdb_union_step(s bigint[], a bigint, b bigint) RETURNS bigint[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN a IS NULL OR b IS NULL OR b < a THEN s ELSE coalesce(s, '{}') || ARRAY[a, b] END
$$;

CREATE OR REPLACE FUNCTION pmdb.pmdb_union_final(s bigint[]) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  r record;
  total bigint := 0;
  rs bigint;
  re bigint;
  first boolean := true;
BEGIN
  IF s IS NULL THEN RETURN NULL; END IF;
  FOR r IN SELECT s[2 * k - 1] AS a, s[2 * k] AS b FROM generate_series(1, array_length(s, 1) / 2) AS k ORDER BY 1, 2 LOOP
    IF first THEN rs := r.a; re := r.b; first := false;
    ELSE
      IF r.a > re THEN total := total + (re - rs); rs := r.a; END IF;
      re := greatest(re, r.b);
    END IF;
  END LOOP;
  RETURN total + (re - rs);
END $$;

CREATE OR REPLACE AGGREGATE pmdb.pmdb_union_length(bigint, bigint) (
  SFUNC = pmdb.pmdb_union_step, STYPE = bigint[], FINALFUNC = pmdb.pmdb_union_final);

-- pmdb_first_by(X, KEY) / pmdb_last_by(X, KEY): X of the row of least / greatest non-null KEY,
-- the first such row on ties; one overload per type of X.
DO $do$
DECLARE
  t text;
  n text;
BEGIN
  FOREACH t IN ARRAY ARRAY['text', 'bigint', 'integer', 'double precision', 'numeric', 'boolean'] LOOP
    n := 'pmdb_by_' || replace(t, ' ', '_');
    IF to_regtype('pmdb.' || n) IS NULL THEN
      EXECUTE format('CREATE TYPE pmdb.%I AS (k bigint, v %s)', n, t);
    END IF;
    EXECUTE format($f$CREATE OR REPLACE FUNCTION pmdb.pmdb_first_step(s pmdb.%1$I, v %2$s, k bigint) RETURNS pmdb.%1$I
      LANGUAGE sql IMMUTABLE PARALLEL SAFE AS 'SELECT CASE WHEN k IS NULL OR (s.k IS NOT NULL AND k >= s.k) THEN s
        ELSE ROW(k, v)::pmdb.%1$I END'$f$, n, t);
    EXECUTE format($f$CREATE OR REPLACE FUNCTION pmdb.pmdb_last_step(s pmdb.%1$I, v %2$s, k bigint) RETURNS pmdb.%1$I
      LANGUAGE sql IMMUTABLE PARALLEL SAFE AS 'SELECT CASE WHEN k IS NULL OR (s.k IS NOT NULL AND k <= s.k) THEN s
        ELSE ROW(k, v)::pmdb.%1$I END'$f$, n, t);
    EXECUTE format($f$CREATE OR REPLACE FUNCTION pmdb.pmdb_by_final(s pmdb.%1$I) RETURNS %2$s
      LANGUAGE sql IMMUTABLE PARALLEL SAFE AS 'SELECT (s).v'$f$, n, t);
    EXECUTE format('CREATE OR REPLACE AGGREGATE pmdb.pmdb_first_by(%2$s, bigint) (SFUNC = pmdb.pmdb_first_step, '
                   'STYPE = pmdb.%1$I, FINALFUNC = pmdb.pmdb_by_final)', n, t);
    EXECUTE format('CREATE OR REPLACE AGGREGATE pmdb.pmdb_last_by(%2$s, bigint) (SFUNC = pmdb.pmdb_last_step, '
                   'STYPE = pmdb.%1$I, FINALFUNC = pmdb.pmdb_by_final)', n, t);
  END LOOP;
END $do$;

-- pmdb_percentile(X, P): the nearest-rank P-th percentile of the group's non-null X: the value
-- at rank max(1, ceil(P·n/100)) of the n values in ascending order (P·n in integers when P is
-- an integer, as SQLite computes it); NULL when there is none.
CREATE OR REPLACE FUNCTION pmdb.pmdb_rank(n bigint, p_int bigint, p_real double precision) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  target double precision;
  whole bigint;
BEGIN
  target := CASE WHEN p_int IS NOT NULL THEN (n * p_int)::double precision / 100.0
                 ELSE n::double precision * coalesce(p_real, 0) / 100.0 END;
  whole := trunc(target)::bigint;
  RETURN least(greatest(whole + CASE WHEN target > whole::double precision THEN 1 ELSE 0 END, 1), n);
END $$;

DO $do$
DECLARE
  t text;
  n text;
  pt text;
BEGIN
  FOREACH t IN ARRAY ARRAY['bigint', 'double precision'] LOOP
    n := 'pmdb_pct_' || replace(t, ' ', '_');
    IF to_regtype('pmdb.' || n) IS NULL THEN
      EXECUTE format('CREATE TYPE pmdb.%I AS (started boolean, p_int bigint, p_real double precision, vals %s[])', n, t);
    END IF;
    EXECUTE format($f$CREATE OR REPLACE FUNCTION pmdb.pmdb_pct_final(s pmdb.%1$I) RETURNS %2$s
      LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $b$
        SELECT CASE WHEN s.started IS NULL OR cardinality(s.vals) = 0 THEN NULL ELSE
          (SELECT x FROM unnest(s.vals) AS x ORDER BY x
           OFFSET pmdb.pmdb_rank(cardinality(s.vals), s.p_int, s.p_real) - 1 LIMIT 1) END $b$$f$, n, t);
    FOREACH pt IN ARRAY ARRAY['bigint', 'double precision'] LOOP
      EXECUTE format($f$CREATE OR REPLACE FUNCTION pmdb.pmdb_pct_step(s pmdb.%1$I, v %2$s, p %3$s) RETURNS pmdb.%1$I
        LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $b$
        BEGIN
          IF s.started IS NULL THEN
            s := ROW(true, %4$s, %5$s, '{}')::pmdb.%1$I;
          END IF;
          IF v IS NOT NULL THEN s.vals := s.vals || v; END IF;
          RETURN s;
        END $b$$f$, n, t, pt,
        CASE WHEN pt = 'bigint' THEN 'p' ELSE 'NULL' END, CASE WHEN pt = 'bigint' THEN 'NULL' ELSE 'p' END);
      EXECUTE format('CREATE OR REPLACE AGGREGATE pmdb.pmdb_percentile(%2$s, %3$s) (SFUNC = pmdb.pmdb_pct_step, '
                     'STYPE = pmdb.%1$I, FINALFUNC = pmdb.pmdb_pct_final)', n, t, pt);
    END LOOP;
  END LOOP;
END $do$;

-- ---------------------------------------------------------------- SQLite's built-ins

-- round(X): SQLite rounds half away from zero (PostgreSQL's round(double precision) to even).
CREATE OR REPLACE FUNCTION pmdb.round(x double precision) RETURNS double precision
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT CASE WHEN x >= 0 AND x < 9223372036854775806 THEN trunc(x + 0.5)
              WHEN x < 0 AND -x < 9223372036854775806 THEN -trunc(-x + 0.5)
              ELSE x END
$$;

-- max(A, B) and min(A, B), scalar: NULL when either is (greatest and least skip NULLs).
CREATE OR REPLACE FUNCTION pmdb.max(a anycompatible, b anycompatible) RETURNS anycompatible
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$ SELECT greatest(a, b) $$;
CREATE OR REPLACE FUNCTION pmdb.min(a anycompatible, b anycompatible) RETURNS anycompatible
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$ SELECT least(a, b) $$;

-- instr(A, B): the 1-based character position of B in A, 0 when absent.
CREATE OR REPLACE FUNCTION pmdb.instr(a text, b text) RETURNS integer
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$ SELECT strpos(a, b) $$;

-- ---------------------------------------------------------------- SQLite's JSON functions

-- A path of SQLite's ('$', '$.a', '$."a.b"', '$[0]', '$.a[1].b') as a path for #>, or NULL
-- (an error) when malformed.
CREATE OR REPLACE FUNCTION pmdb.pmdb_json_path(path text) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
  out text[] := '{}';
  rest text;
  m text[];
BEGIN
  IF left(path, 1) <> '$' THEN RAISE EXCEPTION 'JSON path error near ''%''', path; END IF;
  rest := substr(path, 2);
  WHILE rest <> '' LOOP
    IF left(rest, 2) = '."' THEN
      m := regexp_match(rest, '^\."([^"]*)"');
    ELSIF left(rest, 1) = '.' THEN
      m := regexp_match(rest, '^\.([^.[]+)');
    ELSE
      m := regexp_match(rest, '^\[([0-9]+)\]');
    END IF;
    IF m IS NULL THEN RAISE EXCEPTION 'JSON path error near ''%''', rest; END IF;
    out := out || m[1];
    rest := substr(rest, length(substring(rest FROM '^(\."[^"]*"|\.[^.[]+|\[[0-9]+\])')) + 1);
  END LOOP;
  RETURN out;
END $$;

-- JSON text without insignificant white space, each scalar as written (SQLite's minified form).
CREATE OR REPLACE FUNCTION pmdb.pmdb_json_min(j json) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
  t text := json_typeof(j);
  r text;
BEGIN
  IF t = 'object' THEN
    SELECT '{' || coalesce(string_agg(to_json(e.key)::text || ':' || pmdb.pmdb_json_min(e.value), ',' ORDER BY o), '') || '}'
      INTO r FROM pg_catalog.json_each(j) WITH ORDINALITY AS e(key, value, o);
    RETURN r;
  ELSIF t = 'array' THEN
    SELECT '[' || coalesce(string_agg(pmdb.pmdb_json_min(e.value), ',' ORDER BY o), '') || ']'
      INTO r FROM pg_catalog.json_array_elements(j) WITH ORDINALITY AS e(value, o);
    RETURN r;
  END IF;
  RETURN btrim(j::text, E' \t\n\r');
END $$;

-- A real as SQLite writes it as text (printf's %!.15g: 15 significant digits, '.0' on whole numbers).
CREATE OR REPLACE FUNCTION pmdb.pmdb_real_text(v double precision) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
  e integer;
  t text;
BEGIN
  IF v = 0 THEN RETURN CASE WHEN v::text LIKE '-%' THEN '-0.0' ELSE '0.0' END; END IF;
  IF v::text IN ('Infinity', '-Infinity', 'NaN') THEN RETURN replace(replace(v::text, 'Infinity', 'Inf'), 'NaN', 'NULL'); END IF;
  e := floor(log(abs(v::numeric)))::integer;
  IF e < -4 OR e >= 15 THEN
    t := btrim(to_char(v::numeric, '9.99999999999999EEEE'));
    t := regexp_replace(t, '\.?0*e', 'e');
    t := regexp_replace(t, '^(-?[0-9]+)e', '\1.0e');
    RETURN t;
  END IF;
  t := round(v::numeric, 14 - e)::text;
  IF position('.' IN t) > 0 THEN t := rtrim(rtrim(t, '0'), '.'); END IF;
  IF position('.' IN t) = 0 THEN t := t || '.0'; END IF;
  RETURN t;
END $$;

-- A JSON value as SQLite's json_extract and json_each give it: text unescaped, true and false
-- as 1 and 0, null as NULL, numbers as written, arrays and objects minified.
CREATE OR REPLACE FUNCTION pmdb.pmdb_json_sql(j json) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT CASE json_typeof(j) WHEN 'string' THEN j #>> '{}'
                             WHEN 'boolean' THEN CASE WHEN btrim(j::text, E' \t\n\r') = 'true' THEN '1' ELSE '0' END
                             WHEN 'null' THEN NULL
                             WHEN 'number' THEN CASE WHEN j::text ~ '[.eE]' THEN pmdb.pmdb_real_text((j::text)::double precision)
                                                     ELSE btrim(j::text, E' \t\n\r') END
                             ELSE pmdb.pmdb_json_min(j) END
$$;

-- SQLite's type name of a JSON value.
CREATE OR REPLACE FUNCTION pmdb.pmdb_json_type_of(j json) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT CASE json_typeof(j) WHEN 'string' THEN 'text' WHEN 'number' THEN
           CASE WHEN j::text ~ '[.eE]' THEN 'real' ELSE 'integer' END
         WHEN 'boolean' THEN btrim(j::text, E' \t\n\r')
         ELSE json_typeof(j) END
$$;

CREATE OR REPLACE FUNCTION pmdb.json_valid(x text) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE COST 1 AS $$
BEGIN
  IF x IS NULL THEN RETURN false; END IF;  -- as SQLite's
  PERFORM x::json;
  RETURN true;
EXCEPTION WHEN others THEN
  RETURN false;
END $$;

CREATE OR REPLACE FUNCTION pmdb.json_extract(x text, path text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE COST 1000 AS $$
  SELECT pmdb.pmdb_json_sql(x::json #> pmdb.pmdb_json_path(path))
$$;

CREATE OR REPLACE FUNCTION pmdb.json_type(x text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE COST 1000 AS $$ SELECT pmdb.pmdb_json_type_of(x::json) $$;

CREATE OR REPLACE FUNCTION pmdb.json_type(x text, path text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE COST 1000 AS $$
  SELECT pmdb.pmdb_json_type_of(x::json #> pmdb.pmdb_json_path(path))
$$;

-- json_each(X [, PATH]): the elements of an array or the members of an object (a scalar: one
-- row, its key NULL), with SQLite's columns key, value, type, atom, fullkey and path.
CREATE OR REPLACE FUNCTION pmdb.json_each(x text, root text DEFAULT '$')
RETURNS TABLE (key text, value text, type text, atom text, fullkey text, path text)
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE COST 1000 ROWS 10 AS $$
DECLARE
  j json;
  p text := root;
BEGIN
  IF x IS NULL OR p IS NULL THEN RETURN; END IF;
  j := x::json #> pmdb.pmdb_json_path(p);
  IF j IS NULL THEN RETURN; END IF;
  IF json_typeof(j) = 'array' THEN
    RETURN QUERY SELECT (e.o - 1)::text, pmdb.pmdb_json_sql(e.v), pmdb.pmdb_json_type_of(e.v),
                        CASE WHEN json_typeof(e.v) IN ('array', 'object') THEN NULL ELSE pmdb.pmdb_json_sql(e.v) END,
                        p || '[' || (e.o - 1)::text || ']', p
                   FROM pg_catalog.json_array_elements(j) WITH ORDINALITY AS e(v, o) ORDER BY e.o;
  ELSIF json_typeof(j) = 'object' THEN
    RETURN QUERY SELECT e.k, pmdb.pmdb_json_sql(e.v), pmdb.pmdb_json_type_of(e.v),
                        CASE WHEN json_typeof(e.v) IN ('array', 'object') THEN NULL ELSE pmdb.pmdb_json_sql(e.v) END,
                        p || CASE WHEN e.k ~ '^[A-Za-z_][A-Za-z0-9_]*$' THEN '.' || e.k ELSE '."' || e.k || '"' END, p
                   FROM pg_catalog.json_each(j) WITH ORDINALITY AS e(k, v, o) ORDER BY e.o;
  ELSE
    RETURN QUERY SELECT NULL::text, pmdb.pmdb_json_sql(j), pmdb.pmdb_json_type_of(j), pmdb.pmdb_json_sql(j), p, p;
  END IF;
END $$;
