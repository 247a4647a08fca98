-- Operators and the audit log (api.md, Operators and the console). An operator's token is
-- kept only as its SHA-256 (hex); the environment's BOTWRIGHT_API_TOKEN is the admin `api`
-- and has no row. The audit log records every call that changed something, with the
-- operator's name; `--retention` does not delete it. Times are UTC RFC 3339 text.
CREATE TABLE operators (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);
CREATE TABLE audit (
    id BIGSERIAL PRIMARY KEY,
    at TEXT NOT NULL,
    operator TEXT NOT NULL,
    action TEXT NOT NULL,
    bot TEXT,
    object TEXT,
    detail TEXT NOT NULL
);
-- The console's message list filtered by recipient, newest first.
CREATE INDEX outbox_chat ON outbox (bot, chat, id);
-- The console's user search: key, name and principal in lower case, folded by the runtime
-- (so that «Вектор» finds «ООО ВЕКТОР» on either database); rows from before get theirs here.
ALTER TABLE registrations ADD COLUMN search TEXT;
UPDATE registrations SET search = LOWER(CAST(chat AS TEXT) || ' ' || name || ' ' || kind || ' ' || principal_id || ' ' || principal_name);
-- The insights' scans of a period read the index alone: the chat (users), the outcome and
-- the record or text (records, unknown texts) are in it. Still one index per row written.
DROP INDEX insights_period;
CREATE INDEX insights_period ON insights (bot, kind, at, chat, name, value);
