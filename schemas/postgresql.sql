-- pmdb store schema, version 4, on PostgreSQL (15 and later): the tables, columns and read models
-- of schemas/store.sql (whose comments say what each column holds), in the schema `pmdb` of the
-- database the store's URL names. Applied by `pmdb init URL` (or the first write) in one
-- transaction; every statement is idempotent.
--
-- Types: SQLite's INTEGER is bigint, REAL double precision, BLOB bytea, TEXT text in the "C"
-- collation (byte order, as SQLite's BINARY sorts it).
--
-- Distribution: every unique key and every read model is keyed by incident, so that each table
-- can be distributed by `incident` with Citus (README.md, "Team server"); no unique key spans
-- incidents. The event id and the log position, unique in the whole store, are kept so by pmdb's
-- append path, which holds the chain head's row lock (no two appends interleave) and looks each
-- new id up by the index events_by_id; `pmdb verify` checks both.

CREATE SCHEMA IF NOT EXISTS pmdb;
SET LOCAL search_path = pmdb, pg_catalog;

-- What the store is: the application, and the schema version (a store of a newer version is
-- refused, an older one upgraded in place).
CREATE TABLE IF NOT EXISTS meta (
  key   text COLLATE "C" PRIMARY KEY,
  value text COLLATE "C" NOT NULL
);
INSERT INTO meta (key, value) VALUES ('application', 'pmdb') ON CONFLICT (key) DO NOTHING;
INSERT INTO meta (key, value) VALUES ('schema_version', '4') ON CONFLICT (key) DO NOTHING;

-- The log. One row per event, never updated or deleted.
CREATE TABLE IF NOT EXISTS events (
  seq         bigint NOT NULL,
  id          text COLLATE "C" NOT NULL,
  incident    text COLLATE "C" NOT NULL,
  version     bigint NOT NULL,
  type        text COLLATE "C" NOT NULL,
  at          bigint NOT NULL,
  recorded_at bigint NOT NULL,
  source      text COLLATE "C" NOT NULL,
  approx      bigint NOT NULL DEFAULT 0 CHECK (approx IN (0, 1)),
  data        text COLLATE "C" NOT NULL,
  text        text COLLATE "C",
  status      text COLLATE "C",
  channel     text COLLATE "C",
  author      text COLLATE "C",
  metric      text COLLATE "C",
  value       double precision,
  unit        text COLLATE "C",
  component   text COLLATE "C",
  state       text COLLATE "C",
  kind        text COLLATE "C",
  target      text COLLATE "C",
  appended_at bigint,
  recorded_by text COLLATE "C",
  hash        bytea,
  PRIMARY KEY (incident, seq),
  UNIQUE (incident, version),
  UNIQUE (incident, id)
);

CREATE INDEX IF NOT EXISTS events_by_seq ON events (seq);
CREATE INDEX IF NOT EXISTS events_by_id ON events (id);
CREATE INDEX IF NOT EXISTS events_by_incident_type ON events (incident, type, at, seq);
CREATE INDEX IF NOT EXISTS events_by_target ON events (target, seq) WHERE target IS NOT NULL;

CREATE OR REPLACE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'restrict_violation';
END
$$;

CREATE OR REPLACE TRIGGER events_are_append_only_update BEFORE UPDATE ON events FOR EACH ROW
  EXECUTE FUNCTION refuse_change('pmdb: events are append-only: record a correction event instead of updating');
CREATE OR REPLACE TRIGGER events_are_append_only_delete BEFORE DELETE ON events FOR EACH ROW
  EXECUTE FUNCTION refuse_change('pmdb: events are append-only: record a retraction event instead of deleting');
CREATE OR REPLACE TRIGGER events_are_append_only_truncate BEFORE TRUNCATE ON events FOR EACH STATEMENT
  EXECUTE FUNCTION refuse_change('pmdb: events are append-only: record a retraction event instead of deleting');

-- The chain's head. Its one row exists from the start (position 0, the hash of 32 zero bytes):
-- every append locks it (SELECT … FOR UPDATE) before it reads the last position, so that appends
-- from many clients take turns and the chain stays one chain.
CREATE TABLE IF NOT EXISTS chain_head (
  one       bigint PRIMARY KEY CHECK (one = 1),
  position  bigint NOT NULL,
  hash      bytea  NOT NULL
);
INSERT INTO chain_head (one, position, hash) VALUES (1, 0, '\x0000000000000000000000000000000000000000000000000000000000000000')
  ON CONFLICT (one) DO NOTHING;

-- The head only advances, and only to the log's end: its position is the last event's and its
-- hash that event's (appends insert their events first), so that no role moves it by hand.
CREATE OR REPLACE FUNCTION chain_head_only_advances() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.position < OLD.position OR NEW.one <> OLD.one THEN
    RAISE EXCEPTION 'pmdb: the chain head only advances' USING ERRCODE = 'restrict_violation';
  END IF;
  IF NEW.position <> (SELECT coalesce(max(seq), 0) FROM pmdb.events)
     OR (NEW.position > 0 AND NEW.hash IS DISTINCT FROM (SELECT hash FROM pmdb.events WHERE seq = NEW.position)) THEN
    RAISE EXCEPTION 'pmdb: the chain head is the last event''s position and hash' USING ERRCODE = 'restrict_violation';
  END IF;
  RETURN NEW;
END
$$;
CREATE OR REPLACE TRIGGER chain_head_only_advances BEFORE UPDATE ON chain_head FOR EACH ROW
  EXECUTE FUNCTION chain_head_only_advances();
CREATE OR REPLACE TRIGGER chain_head_is_kept BEFORE DELETE ON chain_head FOR EACH ROW
  EXECUTE FUNCTION refuse_change('pmdb: the chain head is kept');
CREATE OR REPLACE TRIGGER chain_head_is_kept_truncate BEFORE TRUNCATE ON chain_head FOR EACH STATEMENT
  EXECUTE FUNCTION refuse_change('pmdb: the chain head is kept');

-- The projection: one row per version of every event.
CREATE TABLE IF NOT EXISTS event_versions (
  seq         bigint NOT NULL,
  made_by     bigint NOT NULL,
  rank        bigint NOT NULL,
  valid_from  bigint NOT NULL,
  valid_to    bigint,
  corrected   bigint NOT NULL CHECK (corrected IN (0, 1)),
  id          text COLLATE "C" NOT NULL,
  incident    text COLLATE "C" NOT NULL,
  version     bigint NOT NULL,
  type        text COLLATE "C" NOT NULL,
  at          bigint NOT NULL,
  recorded_at bigint NOT NULL,
  source      text COLLATE "C" NOT NULL,
  approx      bigint NOT NULL,
  data        text COLLATE "C" NOT NULL,
  text text COLLATE "C", status text COLLATE "C", channel text COLLATE "C", author text COLLATE "C",
  metric text COLLATE "C", value double precision, unit text COLLATE "C", component text COLLATE "C",
  state text COLLATE "C", kind text COLLATE "C", target text COLLATE "C",
  PRIMARY KEY (incident, seq, made_by)
);

CREATE INDEX IF NOT EXISTS versions_by_seq ON event_versions (seq, made_by);
CREATE INDEX IF NOT EXISTS versions_by_incident_type ON event_versions (incident, type, at, seq, valid_to, valid_from);
CREATE INDEX IF NOT EXISTS versions_by_incident_at   ON event_versions (incident, at, seq, valid_to, valid_from, type);
CREATE INDEX IF NOT EXISTS versions_by_type_at       ON event_versions (type, at, valid_to);
CREATE INDEX IF NOT EXISTS versions_by_id            ON event_versions (id);

-- Read model: one row per incident.
CREATE TABLE IF NOT EXISTS incidents (
  id        text COLLATE "C" PRIMARY KEY,
  title     text COLLATE "C",
  org       text COLLATE "C",
  services  text COLLATE "C",
  severity  text COLLATE "C",
  summary   text COLLATE "C",
  started   bigint NOT NULL,
  ended     bigint NOT NULL,
  status    text COLLATE "C",
  events    bigint NOT NULL,
  version   bigint NOT NULL
);

CREATE INDEX IF NOT EXISTS incidents_by_started ON incidents (started);
CREATE INDEX IF NOT EXISTS incidents_by_org ON incidents (org, started);

-- Read model: each incident's milestones.
CREATE TABLE IF NOT EXISTS milestones (
  incident  text COLLATE "C" NOT NULL,
  type      text COLLATE "C" NOT NULL,
  key       text COLLATE "C" NOT NULL,
  first_at  bigint NOT NULL,
  first_seq bigint NOT NULL,
  last_at   bigint NOT NULL,
  last_seq  bigint NOT NULL,
  PRIMARY KEY (incident, type, key)
);

CREATE UNIQUE INDEX IF NOT EXISTS milestones_by_key ON milestones (type, key, incident);
