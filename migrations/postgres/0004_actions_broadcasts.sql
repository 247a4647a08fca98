-- Business-system integration, second round: the values of action buttons (kept by the
-- runtime, so that callback data stays within Telegram's 64 bytes), broadcasts, and the
-- grouping of the messages one request made (a principal registered from several chats).
CREATE TABLE action_buttons (
    id BIGSERIAL PRIMARY KEY,
    bot TEXT NOT NULL,
    record TEXT NOT NULL,
    value TEXT NOT NULL,
    label TEXT NOT NULL,
    message_text TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE broadcasts (
    id BIGSERIAL PRIMARY KEY,
    bot TEXT NOT NULL,
    recipients BIGINT NOT NULL,
    unknown TEXT NOT NULL,
    idempotency_key TEXT,
    created_at TEXT NOT NULL
);
CREATE UNIQUE INDEX broadcasts_idempotency ON broadcasts (bot, idempotency_key);
ALTER TABLE outbox ADD COLUMN broadcast BIGINT;
ALTER TABLE outbox ADD COLUMN first_id BIGINT;
CREATE INDEX outbox_broadcast ON outbox (broadcast, status) WHERE broadcast IS NOT NULL;
CREATE INDEX outbox_first ON outbox (first_id) WHERE first_id IS NOT NULL;
