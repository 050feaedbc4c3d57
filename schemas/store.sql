-- pmdb store schema, version 1.
-- Embedded into the pmdb binary at build time and applied to a new, empty file in one
-- transaction. `PRAGMA application_id` marks the file as a pmdb store; `PRAGMA user_version`
-- holds the schema version (a store of a newer version is refused).

PRAGMA application_id = 1886217314; -- 0x706d6462, "pmdb"
PRAGMA user_version = 1;

-- The log. One row per event, never updated or deleted.
CREATE TABLE events (
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
  UNIQUE (incident, version)
);

CREATE INDEX events_by_incident_type ON events (incident, type, at, seq);
CREATE INDEX events_by_incident_at   ON events (incident, at, seq);
CREATE INDEX events_by_type_at       ON events (type, at);

CREATE TRIGGER events_are_append_only_update BEFORE UPDATE ON events
BEGIN
  SELECT RAISE(ABORT, 'pmdb: events are append-only: record a correction event instead of updating');
END;

CREATE TRIGGER events_are_append_only_delete BEFORE DELETE ON events
BEGIN
  SELECT RAISE(ABORT, 'pmdb: events are append-only: record a retraction event instead of deleting');
END;

-- Read model: one row per incident, maintained in the same transaction as every append and
-- recomputable from the log alone (`pmdb rebuild`).
CREATE TABLE incidents (
  id        TEXT    PRIMARY KEY,
  title     TEXT,                           -- from the latest `incident` event (occurred order)
  org       TEXT,
  services  TEXT,                           -- JSON array of strings
  severity  TEXT,
  summary   TEXT,
  started   INTEGER NOT NULL,               -- min(at) over the incident's events
  ended     INTEGER NOT NULL,               -- max(at)
  status    TEXT,                           -- the latest `status` event's status (occurred order)
  events    INTEGER NOT NULL,               -- number of events
  version   INTEGER NOT NULL                -- the stream's current version (= events)
) WITHOUT ROWID;

CREATE INDEX incidents_by_started ON incidents (started);
CREATE INDEX incidents_by_org ON incidents (org, started);
