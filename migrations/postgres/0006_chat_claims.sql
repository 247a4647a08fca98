-- A chat is claimed by a row instead of a session-level advisory lock, so that no
-- connection is held while the chat's algorithms run (a slow business system used to
-- hold one pooled connection per waiting chat). A claim whose owner's lease ran out is
-- taken over by another instance.
CREATE TABLE chat_claims (
    bot TEXT NOT NULL,
    chat BIGINT NOT NULL,
    owner TEXT NOT NULL,
    claimed_at TEXT NOT NULL,
    PRIMARY KEY (bot, chat)
);
