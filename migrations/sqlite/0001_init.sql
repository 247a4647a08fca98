-- Sessions, registrations, authorization requests, handled updates and the outbox.
CREATE TABLE sessions (
    bot TEXT NOT NULL,
    chat BIGINT NOT NULL,
    user_id BIGINT NOT NULL,
    data TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (bot, chat, user_id)
);
CREATE TABLE chats (
    bot TEXT NOT NULL,
    chat BIGINT NOT NULL,
    name TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    PRIMARY KEY (bot, chat)
);
CREATE TABLE registrations (
    bot TEXT NOT NULL,
    chat BIGINT NOT NULL,
    kind TEXT NOT NULL,
    principal_id TEXT NOT NULL,
    principal_name TEXT NOT NULL,
    name TEXT NOT NULL,
    registered_at TEXT NOT NULL,
    PRIMARY KEY (bot, chat)
);
CREATE INDEX registrations_principal ON registrations (bot, kind, principal_id);
CREATE TABLE auth_requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    bot TEXT NOT NULL,
    chat BIGINT NOT NULL,
    user_id BIGINT NOT NULL,
    name TEXT NOT NULL,
    username TEXT,
    data TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX auth_requests_chat ON auth_requests (bot, chat, status);
CREATE TABLE handled_updates (
    bot TEXT NOT NULL,
    update_id BIGINT NOT NULL,
    handled_at TEXT NOT NULL,
    PRIMARY KEY (bot, update_id)
);
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    bot TEXT NOT NULL,
    chat BIGINT NOT NULL,
    text TEXT NOT NULL,
    keyboard TEXT NOT NULL,
    attachments TEXT NOT NULL,
    status TEXT NOT NULL,
    due_at TEXT NOT NULL,
    created_at TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    last_error TEXT,
    telegram_message_id BIGINT,
    sent_at TEXT,
    idempotency_key TEXT
);
CREATE INDEX outbox_due ON outbox (bot, status, due_at);
CREATE UNIQUE INDEX outbox_idempotency ON outbox (bot, idempotency_key);
