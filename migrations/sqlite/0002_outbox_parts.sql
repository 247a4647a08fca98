-- How many parts of a message (its text, then each attachment) Telegram has acknowledged,
-- so that a retry resumes where it stopped instead of sending a part twice, and when an
-- instance claimed it for sending, so that a claim left by a crashed instance can be taken over.
ALTER TABLE outbox ADD COLUMN parts_sent BIGINT NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN claimed_at TEXT;
