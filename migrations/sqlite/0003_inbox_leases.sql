-- Runtime v2: an inbox of received updates (it replaces the handled update ids), instances
-- that keep a lease by heartbeat, outbox messages owned by the instance that sends them, and
-- partial indexes so that every query on the hot path reads only unfinished rows.
CREATE TABLE inbox (
    bot TEXT NOT NULL,
    update_id BIGINT NOT NULL,
    chat BIGINT NOT NULL,
    payload TEXT,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    last_error TEXT,
    received_at TEXT NOT NULL,
    handled_at TEXT,
    PRIMARY KEY (bot, update_id)
);
INSERT INTO inbox (bot, update_id, chat, payload, status, attempts, received_at, handled_at)
    SELECT bot, update_id, 0, NULL, 'done', 0, handled_at, handled_at FROM handled_updates;
DROP TABLE handled_updates;
CREATE INDEX inbox_new ON inbox (bot, chat, update_id) WHERE status = 'new';
CREATE INDEX inbox_waiting ON inbox (received_at) WHERE status = 'new';
CREATE INDEX inbox_handled ON inbox (handled_at) WHERE handled_at IS NOT NULL;

CREATE TABLE instances (
    id TEXT PRIMARY KEY,
    started_at TEXT NOT NULL,
    heartbeat_at TEXT NOT NULL
);

ALTER TABLE outbox ADD COLUMN owner TEXT;
ALTER TABLE outbox ADD COLUMN finished_at TEXT;
UPDATE outbox SET finished_at = COALESCE(sent_at, created_at) WHERE status IN ('sent', 'blocked', 'failed', 'cancelled');
UPDATE outbox SET status = 'queued', claimed_at = NULL WHERE status = 'sending';
DROP INDEX outbox_due;
CREATE INDEX outbox_claimable ON outbox (bot, due_at) WHERE status IN ('scheduled', 'queued') AND owner IS NULL;
CREATE INDEX outbox_unsent ON outbox (bot, chat, id) WHERE status IN ('scheduled', 'queued', 'sending');
CREATE INDEX outbox_owned ON outbox (owner) WHERE status IN ('scheduled', 'queued', 'sending');
CREATE INDEX outbox_finished ON outbox (finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX outbox_status ON outbox (bot, status, id);
