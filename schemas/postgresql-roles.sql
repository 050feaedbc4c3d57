-- The roles of a team server store, made by `pmdb init URL --roles` (idempotent). Both are
-- group roles (NOLOGIN): a person or a bot logs in as a role of its own that is a member of one,
--   CREATE ROLE alice LOGIN IN ROLE pmdb_analyst;
--   CREATE ROLE incident_bot LOGIN PASSWORD '…' IN ROLE pmdb_writer;
--
-- pmdb_analyst reads: the log, the versions, the read models; nothing else.
-- pmdb_writer appends through pmdb (record, import, copy into an empty store, rebuild): it may
-- insert into the log but never update, delete or truncate a row of it (no such privilege, and
-- the append-only triggers, which only the store's owner could disable, refuse it anyway); it
-- maintains the read models, which `pmdb rebuild` recomputes from the log and `pmdb verify`
-- checks against it; and it advances the chain head, which only advances. A row a writer
-- inserted by hand, outside pmdb, breaks the hash chain: `pmdb verify` names its position.
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pmdb_analyst') THEN
    CREATE ROLE pmdb_analyst NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pmdb_writer') THEN
    CREATE ROLE pmdb_writer NOLOGIN;
  END IF;
END
$$;
GRANT USAGE ON SCHEMA pmdb TO pmdb_analyst, pmdb_writer;
GRANT SELECT ON ALL TABLES IN SCHEMA pmdb TO pmdb_analyst, pmdb_writer;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA pmdb TO pmdb_analyst, pmdb_writer;
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA pmdb FROM pmdb_analyst;
GRANT INSERT ON pmdb.events TO pmdb_writer;
REVOKE UPDATE, DELETE, TRUNCATE ON pmdb.events FROM pmdb_writer;
GRANT INSERT, UPDATE, DELETE ON pmdb.event_versions, pmdb.incidents, pmdb.milestones TO pmdb_writer;
GRANT UPDATE ON pmdb.chain_head TO pmdb_writer;
