-- How many parts of a message (its text, then each attachment) Telegram has acknowledged,
-- so that a retry resumes where it stopped instead of sending a part twice.
ALTER TABLE outbox ADD COLUMN parts_sent BIGINT NOT NULL DEFAULT 0;
