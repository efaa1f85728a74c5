-- 0008: the events each policy caused, for lineage (`aegis lineage`). Outbox rows are deleted in
-- the transaction that inserts them (Debezium reads the insert from the WAL), so a trigger keeps
-- what was announced: the event id, type, schema version, key and time; not the payload (it is on
-- `policy-events`). Never published; trimmed by retention with the audit log.
CREATE TABLE outbox_event_log (
    event_id        UUID PRIMARY KEY,
    aggregateid     TEXT NOT NULL,
    type            TEXT NOT NULL,
    schema_version  TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    txid            BIGINT NOT NULL DEFAULT txid_current()
);
CREATE INDEX idx_outbox_event_log_aggregate ON outbox_event_log (aggregateid, created_at);
CREATE INDEX idx_outbox_event_log_created_at ON outbox_event_log (created_at);

CREATE FUNCTION log_outbox_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO outbox_event_log (event_id, aggregateid, type, schema_version, created_at)
    VALUES (NEW.id, NEW.aggregateid, NEW.type, NEW.schema_version, NEW.created_at)
    ON CONFLICT (event_id) DO NOTHING;
    RETURN NULL;
END $$;

CREATE TRIGGER outbox_log_event AFTER INSERT ON outbox FOR EACH ROW EXECUTE FUNCTION log_outbox_event();
