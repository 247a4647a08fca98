-- Fewer index entries per update and per reply (issue 22: PostgreSQL's server cost).
-- A message without an idempotency key (every reply) had an entry in the key's unique
-- index, twice (when written and when sent): only keyed messages have one now, and the
-- statements that insert name the index's predicate.
DROP INDEX outbox_idempotency;
CREATE UNIQUE INDEX outbox_idempotency ON outbox (bot, idempotency_key) WHERE idempotency_key IS NOT NULL;
-- The rescue of a dead instance's messages and a graceful stop's hand-back read the unsent
-- messages through `outbox_unsent` (the same rows): `outbox_owned` cost every reply an entry.
DROP INDEX outbox_owned;
-- The upkeep's look for updates waiting too long reads the waiting updates through
-- `inbox_new` (the same rows): `inbox_waiting` cost every received update an entry.
DROP INDEX inbox_waiting;
