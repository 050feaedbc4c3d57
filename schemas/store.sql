-- pmdb store schema, version 4 (a store of version 1, 2 or 3 is upgraded in place when opened:
-- see event_store::open in core/event_store.cpp).
-- Embedded into the pmdb binary at build time and applied to a new, empty file in one
-- transaction. `PRAGMA application_id` marks the file as a pmdb store; `PRAGMA user_version`
-- holds the schema version (a store of a newer version is refused).

PRAGMA application_id = 1886217314; -- 0x706d6462, "pmdb"
PRAGMA user_version = 4;

-- The log. One row per event, never updated or deleted.
CREATE TABLE IF NOT EXISTS events (
  seq         INTEGER PRIMARY KEY,          -- global position: 1, 2, 3… in append order
  id          TEXT    NOT NULL UNIQUE,      -- given by the writer or derived from the content
  incident    TEXT    NOT NULL,             -- the stream this event belongs to
  version     INTEGER NOT NULL,             -- position within the incident's stream: 1, 2, 3…
  type        TEXT    NOT NULL,             -- incident | status | report | alert | change | metric | comm
                                            -- | component | cause | action | note | correction | retraction
  at          INTEGER NOT NULL,             -- when it happened, ms since the epoch, UTC
  recorded_at INTEGER NOT NULL,             -- when it was learned, ms since the epoch, UTC
  source      TEXT    NOT NULL,             -- who said so
  approx      INTEGER NOT NULL DEFAULT 0 CHECK (approx IN (0, 1)), -- 1 when `at` is an estimate
  data        TEXT    NOT NULL,             -- the type's payload, as minified JSON in the writer's key order
  -- Typed columns extracted from `data` at append, so that queries can filter and index them.
  text        TEXT,                         -- data.text (data.title for `incident`)
  status      TEXT,                         -- status: data.status
  channel     TEXT,                         -- comm: data.channel
  author      TEXT,                         -- comm: data.author
  metric      TEXT,                         -- metric: data.name
  value       REAL,                         -- metric: data.value; report: data.count
  unit        TEXT,                         -- metric: data.unit
  component   TEXT,                         -- component: data.component
  state       TEXT,                         -- component: data.state
  kind        TEXT,                         -- cause, action: data.kind
  target      TEXT,                         -- correction, retraction: data.target
  -- Kept by the store (schema 3 on; NULL for the events of an upgraded store, which did not
  -- keep them): when this event was appended, ms since the epoch, and by whom.
  appended_at INTEGER,
  recorded_by TEXT,
  -- The hash chain (schemas/README.md, "The hash chain"): SHA-256 of the previous event's hash
  -- and this row's other columns; 32 bytes.
  hash        BLOB,
  UNIQUE (incident, version)
);

-- The log's own questions ("this incident's events of this type", the `log` relation and SQL
-- written against the log) and the corrections and retractions of an event, by its id.
CREATE INDEX IF NOT EXISTS events_by_incident_type ON events (incident, type, at, seq);
CREATE INDEX IF NOT EXISTS events_by_target ON events (target, seq) WHERE target IS NOT NULL;

CREATE TRIGGER IF NOT EXISTS events_are_append_only_update BEFORE UPDATE ON events
BEGIN
  SELECT RAISE(ABORT, 'pmdb: events are append-only: record a correction event instead of updating');
END;

CREATE TRIGGER IF NOT EXISTS events_are_append_only_delete BEFORE DELETE ON events
BEGIN
  SELECT RAISE(ABORT, 'pmdb: events are append-only: record a retraction event instead of deleting');
END;

-- The chain's head: the last position and its hash, advanced in the transaction of every
-- append. `pmdb verify` checks the log against it, so that removing the last events shows.
CREATE TABLE IF NOT EXISTS chain_head (
  one       INTEGER PRIMARY KEY CHECK (one = 1),
  position  INTEGER NOT NULL,
  hash      BLOB    NOT NULL
);

CREATE TRIGGER IF NOT EXISTS chain_head_only_advances BEFORE UPDATE ON chain_head
WHEN NEW.position < OLD.position OR NEW.one != OLD.one
BEGIN
  SELECT RAISE(ABORT, 'pmdb: the chain head only advances');
END;

CREATE TRIGGER IF NOT EXISTS chain_head_is_kept BEFORE DELETE ON chain_head
BEGIN
  SELECT RAISE(ABORT, 'pmdb: the chain head is kept');
END;

-- The projection (schemas/README.md, "What the store believes"): one row per version of every
-- event, with the interval of recorded time in which that version is believed. An event that
-- was never corrected has one version, believed from its recorded_at on (valid_to NULL) or
-- until its retraction. Maintained in the same transaction as every append, recomputable from
-- the log alone (`pmdb rebuild`).
CREATE TABLE IF NOT EXISTS event_versions (
  seq         INTEGER NOT NULL,             -- the event's position in the log
  made_by     INTEGER NOT NULL,             -- the position of what made this version: seq, or a correction's
  rank        INTEGER NOT NULL,             -- 0 for the event as appended, then 1, 2… in the corrections' order
  valid_from  INTEGER NOT NULL,             -- believed from this recorded time on…
  valid_to    INTEGER,                      -- …until this one (exclusive); NULL: believed now
  corrected   INTEGER NOT NULL CHECK (corrected IN (0, 1)), -- 1 when a correction set `at` or `data`
  id          TEXT    NOT NULL,
  incident    TEXT    NOT NULL,
  version     INTEGER NOT NULL,
  type        TEXT    NOT NULL,
  at          INTEGER NOT NULL,             -- the believed time (a correction's data.at when given)
  recorded_at INTEGER NOT NULL,             -- the event's own recorded_at
  source      TEXT    NOT NULL,
  approx      INTEGER NOT NULL,
  data        TEXT    NOT NULL,             -- the believed payload (a correction's data.data when given)
  text TEXT, status TEXT, channel TEXT, author TEXT, metric TEXT, value REAL, unit TEXT,
  component TEXT, state TEXT, kind TEXT, target TEXT,
  PRIMARY KEY (seq, made_by)
) WITHOUT ROWID;

-- `at, seq` follow the equality columns, so that the present belief and an `as of` view both
-- walk an incident's events in occurred order and stop at the first match; `valid_to` and
-- `valid_from` are carried in the index, so that belief is checked without reading the row
-- (only corrected events have more than one version to skip).
CREATE INDEX IF NOT EXISTS versions_by_incident_type ON event_versions (incident, type, at, seq, valid_to, valid_from);
CREATE INDEX IF NOT EXISTS versions_by_incident_at   ON event_versions (incident, at, seq, valid_to, valid_from, type);
CREATE INDEX IF NOT EXISTS versions_by_type_at       ON event_versions (type, at, valid_to);
CREATE INDEX IF NOT EXISTS versions_by_id            ON event_versions (id);

-- Read model: one row per incident, maintained in the same transaction as every append and
-- recomputable from the log alone (`pmdb rebuild`).
CREATE TABLE IF NOT EXISTS incidents (
  id        TEXT    PRIMARY KEY,
  title     TEXT,                           -- from the latest believed `incident` event (occurred order)
  org       TEXT,
  services  TEXT,                           -- JSON array of strings
  severity  TEXT,
  summary   TEXT,
  started   INTEGER NOT NULL,               -- the first fact's at (corrections and retractions aside)
  ended     INTEGER NOT NULL,               -- the resolution's at, else the last fact's
  status    TEXT,                           -- the latest believed `status` event's status (occurred order)
  events    INTEGER NOT NULL,               -- number of believed events
  version   INTEGER NOT NULL                -- the stream's current version (its number of stored events)
) WITHOUT ROWID;

CREATE INDEX IF NOT EXISTS incidents_by_started ON incidents (started);
CREATE INDEX IF NOT EXISTS incidents_by_org ON incidents (org, started);

-- Read model (schema 4 on): for each incident and milestone key, the position (at, seq) of the
-- first and of the last believed event with that key, so that `first report`, `status resolved`,
-- `start` and `end` are one lookup instead of a walk over the incident's events. The keys
-- (core/projection.hpp, milestone_spans): type '*' with key '' for every event but corrections
-- and retractions; each type with key ''; status posts by status, communications by channel,
-- components by name ('n:NAME') and by state and name ('s:STATE:NAME'), metrics by their
-- lowercased name. One more row per incident, type '@recorded' with key '', is no milestone: its
-- first and last "at" are the earliest and latest recorded_at of the incident's events (all of
-- them, corrections, retractions and retracted events included): an incident last recorded at
-- or before T is believed as of T as it is now, and `as of T` questions read the read models for
-- it. Maintained in the same transaction as every append (from the new events'
-- versions; an incident whose events were corrected or retracted is recomputed whole),
-- recomputable from the log alone (`pmdb rebuild`).
CREATE TABLE IF NOT EXISTS milestones (
  incident  TEXT    NOT NULL,
  type      TEXT    NOT NULL,
  key       TEXT    NOT NULL,
  first_at  INTEGER NOT NULL,
  first_seq INTEGER NOT NULL,
  last_at   INTEGER NOT NULL,
  last_seq  INTEGER NOT NULL,
  PRIMARY KEY (type, key, incident)
) WITHOUT ROWID;

-- The key first: a question over every incident reads one contiguous range of the table (all
-- the `report` rows, say), in incident order; an incident's own rows are found by the index.
CREATE INDEX IF NOT EXISTS milestones_by_incident ON milestones (incident);
