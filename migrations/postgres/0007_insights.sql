-- The insights log (api.md, Insights), written in the group commit with the step. A row per
-- handled update (kind 'update': its outcome in `name`, the record reached or the unknown text
-- as typed in `value`, the choice whose option it took in `took`) and a row per event of its
-- step ('shown', 'option', 'asked', 'answered', 'invalid', 'gave_up', 'algorithm'; `name` is
-- the choice, input record or algorithm, `value` the option taken or how a call ended, `label`
-- the option's label, `ms` a call's duration). Times are UTC RFC 3339 text, as elsewhere.
CREATE TABLE insights (
    id BIGSERIAL PRIMARY KEY,
    bot TEXT NOT NULL,
    at TEXT NOT NULL,
    chat BIGINT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT,
    value TEXT,
    label TEXT,
    ms BIGINT,
    took TEXT
);
-- The API's aggregates: one kind of row of one bot over a period. The only index: every
-- index costs each update a write (retention goes by id, oldest first).
CREATE INDEX insights_period ON insights (bot, kind, at);
