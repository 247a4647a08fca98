//! The store's second layer: the SQL of the hot path (the group commit, the inbox,
//! the outbox, the step's reads), written once with `$N` parameters, which
//! PostgreSQL, sqlx's SQLite and rusqlite (binding `$N` by name) all accept.
//! Statements that only one dialect runs say so. Every statement a step or a
//! claim runs is in [`super::plans::hot_queries`], whose test checks that it
//! reads through an index on both databases.
//!
//! Imports nothing from `store/` but the shared types.

use super::types::Dialect;

/// The statuses of a message not sent yet, written the same way in every query
/// (SQLite uses a partial index only for a query that repeats its condition).
pub const UNSENT: &str = "status IN ('scheduled', 'queued', 'sending')";

/// The statuses of a message nobody sends yet (the condition of the claim index).
pub const CLAIMABLE: &str = "status IN ('scheduled', 'queued') AND owner IS NULL";

// ----- the step's reads -----

/// A user's session, and a chat's registration.
pub const SESSION: &str = "SELECT data FROM sessions WHERE bot = $1 AND chat = $2 AND user_id = $3";
pub const REGISTRATION: &str =
    "SELECT kind, principal_id, principal_name FROM registrations WHERE bot = $1 AND chat = $2";
/// A user's session and their chat's registration (each column null when there is none).
pub const SESSION_AND_REGISTRATION: &str = "SELECT (SELECT data FROM sessions WHERE bot = $1 AND chat = $2 AND user_id = $3), \
     r.kind, r.principal_id, r.principal_name FROM (SELECT 1 AS one) AS anchor \
     LEFT JOIN registrations r ON r.bot = $1 AND r.chat = $2";
/// The columns of an authorization request, in the order `rows::request` reads them.
pub const REQUEST_COLUMNS: &str = "id, chat, user_id, name, username, data, status, reason, created_at";
/// A request by id (never a draft), and a chat's latest pending request.
pub const REQUEST_BY_ID: &str = "SELECT id, chat, user_id, name, username, data, status, reason, created_at \
     FROM auth_requests WHERE bot = $1 AND id = $2 AND status <> 'draft'";
pub const PENDING_REQUEST: &str = "SELECT id, chat, user_id, name, username, data, status, reason, created_at \
     FROM auth_requests WHERE bot = $1 AND chat = $2 AND status = 'pending' ORDER BY id DESC LIMIT 1";
/// A request, with its status (`draft` for one created in a step, until the step commits).
pub const INSERT_REQUEST: &str = "INSERT INTO auth_requests (bot, chat, user_id, name, username, data, status, reason, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id";
/// A notification action button by bot and id, if it was sent to the chat (rows kept before
/// buttons knew their chat, and not matched to one by migration 0005, have none: stale).
pub const ACTION_BUTTON: &str =
    "SELECT record, value, label, message_text, chat FROM action_buttons WHERE bot = $1 AND id = $2 AND chat = $3";
/// An update's status in the inbox.
pub const UPDATE_STATUS: &str = "SELECT status FROM inbox WHERE bot = $1 AND update_id = $2";
// ----- the group commit -----

/// Marks an update handled (inserting it when it never went through the inbox); changes
/// nothing when it was handled already.
pub const MARK_HANDLED: &str = "INSERT INTO inbox (bot, update_id, chat, payload, status, attempts, received_at, handled_at) \
     VALUES ($1, $2, $3, NULL, 'done', 0, $4, $4) ON CONFLICT (bot, update_id) DO UPDATE \
     SET status = 'done', payload = NULL, handled_at = excluded.handled_at WHERE inbox.status = 'new'";
/// A decision on a request, written only while it is pending.
pub const DECIDE_REQUEST: &str =
    "UPDATE auth_requests SET status = $1, reason = $2 WHERE bot = $3 AND id = $4 AND status = 'pending'";
/// A request created in the step: from draft to its status.
pub const CONFIRM_REQUEST: &str = "UPDATE auth_requests SET status = $1, reason = $2 WHERE bot = $3 AND id = $4";
pub const RECORD_CHAT: &str =
    "INSERT INTO chats (bot, chat, name, first_seen) VALUES ($1, $2, $3, $4) ON CONFLICT (bot, chat) DO NOTHING";
pub const UPSERT_SESSION: &str = "INSERT INTO sessions (bot, chat, user_id, data, updated_at) VALUES ($1, $2, $3, $4, $5) \
     ON CONFLICT (bot, chat, user_id) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at";
pub const UPSERT_REGISTRATION: &str = "INSERT INTO registrations (bot, chat, kind, principal_id, principal_name, name, registered_at, search) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (bot, chat) DO UPDATE SET kind = excluded.kind, \
     principal_id = excluded.principal_id, principal_name = excluded.principal_name, name = excluded.name, \
     registered_at = excluded.registered_at, search = excluded.search";
/// A message to a chat that waits and is not the given owner's.
pub const OTHERS_WAITING: &str = "SELECT id FROM outbox WHERE bot = $1 AND chat = $2 \
     AND status IN ('scheduled', 'queued', 'sending') \
     AND (owner IS NULL OR owner <> $3) AND (status = 'sending' OR due_at <= $4 OR attempts > 0) LIMIT 1";
pub const INSERT_REPLY: &str = "INSERT INTO outbox (bot, chat, text, keyboard, status, due_at, created_at, \
     attempts, owner, claimed_at, attachments) VALUES ($1, $2, $3, $4, $5, $6, $6, 0, $7, $8, $9) RETURNING id";
pub const SAVEPOINT: &str = "SAVEPOINT job";
pub const RELEASE_SAVEPOINT: &str = "RELEASE SAVEPOINT job";
pub const ROLLBACK_TO_SAVEPOINT: &str = "ROLLBACK TO SAVEPOINT job";

/// `($1, $2, …), (…)`: `rows` tuples of `width` numbered placeholders, with `extra` text
/// (constants) appended inside each tuple.
pub fn tuples(rows: usize, width: usize, extra: &str) -> String {
    let mut out = String::with_capacity(rows * (width * 5 + extra.len() + 4));
    for r in 0..rows {
        if r > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for k in 0..width {
            if k > 0 {
                out.push_str(", ");
            }
            out.push('$');
            out.push_str(&(1 + r * width + k).to_string());
        }
        out.push_str(extra);
        out.push(')');
    }
    out
}

/// `n` received updates (update id, chat, payload, received at; the bot is `$1`), answering
/// the ids that were new.
pub fn receive_sql(n: usize) -> String {
    format!(
        "INSERT INTO inbox (bot, update_id, chat, payload, received_at, status, attempts) VALUES {} \
         ON CONFLICT (bot, update_id) DO NOTHING RETURNING update_id",
        (0..n)
            .map(|r| {
                let p = 2 + r * 4;
                format!("($1, ${}, ${}, ${}, ${}, 'new', 0)", p, p + 1, p + 2, p + 3)
            })
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// A multi-row statement in a few sizes: `build(n)` for 1, 2, 4, … 64 rows, each text built
/// once, so that a driver keeps each one prepared however batches vary in size.
pub struct Powers {
    texts: std::sync::OnceLock<Vec<String>>,
    build: fn(usize) -> String,
}

impl Powers {
    pub const fn new(build: fn(usize) -> String) -> Powers {
        Powers {
            texts: std::sync::OnceLock::new(),
            build,
        }
    }

    /// For `rows` rows to write (at least one): how many the next statement takes (the
    /// largest size that they fill), and its text.
    pub fn next(&'static self, rows: usize) -> (usize, &'static str) {
        let texts = self
            .texts
            .get_or_init(|| (0..7).map(|p| (self.build)(1 << p)).collect());
        let power = rows.clamp(1, 64).ilog2() as usize;
        (1 << power, &texts[power])
    }
}

/// [`receive_sql`] and [`insert_log_sql`] in sizes of powers of two.
pub static RECEIVE: Powers = Powers::new(receive_sql);
pub static INSERT_LOG: Powers = Powers::new(insert_log_sql);

/// The insights log's columns, in the order of [`insert_log_sql`].
pub const LOG_COLUMNS: usize = 9;

/// `INSERT` of `rows` rows of the insights log.
pub fn insert_log_sql(rows: usize) -> String {
    format!(
        "INSERT INTO insights (bot, at, chat, kind, name, value, label, ms, took) VALUES {}",
        tuples(rows, LOG_COLUMNS, "")
    )
}

// PostgreSQL's group commit (`commit_many.rs`): each statement takes its rows as one JSON
// array of objects (`$1`, built by `json_rows::JsonRows`, keys named as the record's
// columns), so its text is the same however many rows a batch has. The server parses and
// plans it once per connection; a `VALUES` list of a new length each batch was a new
// statement to parse and plan every time, which cost the server more than running it.

/// Updates marked handled (bot, update_id, chat, at), answering those not handled before.
pub const MARK_HANDLED_MANY: &str = "INSERT INTO inbox (bot, update_id, chat, handled_at, received_at, payload, status, attempts) \
     SELECT v.bot, v.update_id, v.chat, v.at, v.at, NULL, 'done', 0 \
     FROM json_to_recordset(CAST($1 AS json)) AS v(bot text, update_id bigint, chat bigint, at text) \
     ON CONFLICT (bot, update_id) DO UPDATE SET status = 'done', payload = NULL, handled_at = excluded.handled_at \
     WHERE inbox.status = 'new' RETURNING bot, update_id";

/// The insights log's rows (bot, at, chat, kind, name, value, label, ms, took), in the order
/// of the array: the rows of an update follow one another, oldest id first.
pub const INSERT_LOG_MANY: &str = "INSERT INTO insights (bot, at, chat, kind, name, value, label, ms, took) \
     SELECT v.bot, v.at, v.chat, v.kind, v.name, v.value, v.label, v.ms, v.took \
     FROM ROWS FROM (json_to_recordset(CAST($1 AS json)) AS (bot text, at text, chat bigint, kind text, name text, \
     value text, label text, ms bigint, took text)) WITH ORDINALITY \
     AS v(bot, at, chat, kind, name, value, label, ms, took, n) ORDER BY v.n";

/// Chats recorded (bot, chat, name, at).
pub const RECORD_CHATS_MANY: &str = "INSERT INTO chats (bot, chat, name, first_seen) \
     SELECT v.bot, v.chat, v.name, v.at FROM json_to_recordset(CAST($1 AS json)) AS v(bot text, chat bigint, name text, at text) \
     ON CONFLICT (bot, chat) DO NOTHING";

/// Sessions (bot, chat, user_id, data, at); one row per user.
pub const SESSIONS_MANY: &str = "INSERT INTO sessions (bot, chat, user_id, data, updated_at) \
     SELECT v.bot, v.chat, v.user_id, v.data, v.at \
     FROM json_to_recordset(CAST($1 AS json)) AS v(bot text, chat bigint, user_id bigint, data text, at text) \
     ON CONFLICT (bot, chat, user_id) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at";

/// The chats, among (bot, chat, owner, at) rows, for which a message that is not the owner's
/// waits (the multi-row form of [`OTHERS_WAITING`], one index lookup per row).
pub const OTHERS_WAITING_MANY: &str = "SELECT v.bot, v.chat FROM json_to_recordset(CAST($1 AS json)) \
     AS v(bot text, chat bigint, owner text, at text) \
     WHERE EXISTS (SELECT 1 FROM outbox o WHERE o.bot = v.bot AND o.chat = v.chat \
     AND o.status IN ('scheduled', 'queued', 'sending') AND (o.owner IS NULL OR o.owner <> v.owner) \
     AND (o.status = 'sending' OR o.due_at <= v.at OR o.attempts > 0))";

/// Replies (bot, chat, text, keyboard, status, at, owner, claimed_at, attachments), in the
/// order of the rows; their ids come back in that order.
pub const REPLIES_MANY: &str = "INSERT INTO outbox (bot, chat, text, keyboard, status, due_at, created_at, owner, claimed_at, attachments, attempts) \
     SELECT v.bot, v.chat, v.text, v.keyboard, v.status, v.at, v.at, v.owner, v.claimed_at, v.attachments, 0 \
     FROM ROWS FROM (json_to_recordset(CAST($1 AS json)) AS (bot text, chat bigint, text text, keyboard text, \
     status text, at text, owner text, claimed_at text, attachments text)) WITH ORDINALITY \
     AS v(bot, chat, text, keyboard, status, at, owner, claimed_at, attachments, n) ORDER BY v.n RETURNING id";

/// Chat claims (bot, chat, owner, at), then (`$2`) the time before which an owner is gone:
/// a new claim, this instance's own again, or one whose owner's lease ran out and which is
/// older than that. Answers the chats that are this instance's now.
pub const CLAIM_MANY: &str = "INSERT INTO chat_claims (bot, chat, owner, claimed_at) \
     SELECT v.bot, v.chat, v.owner, v.at FROM json_to_recordset(CAST($1 AS json)) AS v(bot text, chat bigint, owner text, at text) \
     ON CONFLICT (bot, chat) DO UPDATE SET owner = excluded.owner, claimed_at = excluded.claimed_at \
     WHERE chat_claims.owner = excluded.owner \
     OR (chat_claims.claimed_at < $2 AND chat_claims.owner NOT IN (SELECT id FROM instances WHERE heartbeat_at >= $2)) \
     RETURNING bot, chat";

/// For claimed chats (bot, chat): the ids of their waiting updates, their private user's
/// session and their registration.
pub const CLAIMED_STATE_MANY: &str = "SELECT v.bot, v.chat, \
     (SELECT string_agg(CAST(i.update_id AS TEXT), ',' ORDER BY i.update_id) FROM inbox i \
      WHERE i.bot = v.bot AND i.chat = v.chat AND i.status = 'new'), \
     (SELECT s.data FROM sessions s WHERE s.bot = v.bot AND s.chat = v.chat AND s.user_id = v.chat), \
     r.kind, r.principal_id, r.principal_name \
     FROM json_to_recordset(CAST($1 AS json)) AS v(bot text, chat bigint) \
     LEFT JOIN registrations r ON r.bot = v.bot AND r.chat = v.chat";

/// Claims let go (bot, chat, owner): this instance's only; answers the chats among them
/// whose updates wait in the inbox.
pub const RELEASE_MANY: &str = "WITH v AS (SELECT * FROM json_to_recordset(CAST($1 AS json)) AS v(bot text, chat bigint, owner text)), \
     gone AS (DELETE FROM chat_claims c USING v WHERE c.bot = v.bot AND c.chat = v.chat AND c.owner = v.owner) \
     SELECT v.bot, v.chat FROM v WHERE EXISTS \
     (SELECT 1 FROM inbox i WHERE i.bot = v.bot AND i.chat = v.chat AND i.status = 'new')";

/// Gives up a claim of this instance's (PostgreSQL).
pub const RELEASE_CHAT: &str = "DELETE FROM chat_claims WHERE bot = $1 AND chat = $2 AND owner = $3";

// ----- the inbox -----

/// A chat's waiting updates, oldest first.
pub const WAITING_UPDATES: &str = "SELECT update_id, chat, payload FROM inbox WHERE bot = $1 AND chat = $2 \
     AND status = 'new' ORDER BY update_id LIMIT $3";
/// Chats with an update waiting since before a time.
pub const WAITING_CHATS: &str =
    "SELECT DISTINCT bot, chat FROM inbox WHERE status = 'new' AND received_at < $1 LIMIT $2";

/// Every update of a bot still waiting (at start: what a crash left), oldest first.
pub const ALL_WAITING_UPDATES: &str =
    "SELECT update_id, chat, payload FROM inbox WHERE bot = $1 AND status = 'new' ORDER BY chat, update_id";
pub const UPDATE_FAILED: &str = "UPDATE inbox SET attempts = attempts + 1, last_error = $1 WHERE bot = $2 AND update_id = $3 \
     RETURNING attempts";
pub const POISON_UPDATE: &str =
    "UPDATE inbox SET status = 'poison', last_error = $1, handled_at = $2 WHERE bot = $3 AND update_id = $4";
pub const POISONED_UPDATES: &str = "SELECT update_id, attempts, COALESCE(last_error, '') FROM inbox \
     WHERE bot = $1 AND status = 'poison' ORDER BY update_id DESC";

// ----- the outbox -----

/// The claim's selection (`FOR UPDATE SKIP LOCKED` on PostgreSQL): due messages nobody
/// sends, when no earlier message to their chat waits (a scheduled one not yet due does
/// not count) or is being sent.
pub fn claim_query(dialect: Dialect) -> String {
    let lock = if dialect == Dialect::Postgres {
        " FOR UPDATE SKIP LOCKED"
    } else {
        ""
    };
    format!(
        "SELECT id, chat, text, keyboard, attachments, attempts, parts_sent, broadcast FROM outbox o \
         WHERE o.bot = $1 AND o.{CLAIMABLE} AND o.due_at <= $2 \
         AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.bot = o.bot AND p.chat = o.chat AND p.{UNSENT} \
             AND p.id < o.id AND (p.status = 'sending' OR p.due_at <= $2 OR p.attempts > 0)) \
         ORDER BY o.due_at, o.id LIMIT $3{lock}"
    )
}

/// The claimed messages (`ids`: a list of integers the store read) taken for `$1` at `$2`.
pub fn take_claimed_sql(ids: &str) -> String {
    format!("UPDATE outbox SET status = 'sending', owner = $1, claimed_at = $2 WHERE id IN ({ids}) AND {CLAIMABLE}")
}

/// A stored message that cannot be read, out of the queue for good.
pub const FAIL_CORRUPT: &str =
    "UPDATE outbox SET status = 'failed', owner = NULL, last_error = $1, finished_at = $2 WHERE id = $3";

/// Unsent messages of instances whose lease ran out, back to the queue.
pub const RESCUE: &str = "UPDATE outbox SET status = 'queued', owner = NULL, claimed_at = NULL \
     WHERE status IN ('scheduled', 'queued', 'sending') AND owner IS NOT NULL \
     AND owner NOT IN (SELECT id FROM instances WHERE heartbeat_at >= $1)";

/// This instance's lease, taken or renewed.
pub const HEARTBEAT: &str = "INSERT INTO instances (id, started_at, heartbeat_at) VALUES ($1, $2, $2) \
     ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at";
pub const FORGET_INSTANCES: &str = "DELETE FROM instances WHERE heartbeat_at < $1";
/// A graceful stop: this instance's unsent messages back to the queue, and its lease gone.
pub const HAND_BACK: &str = "UPDATE outbox SET status = 'queued', owner = NULL, claimed_at = NULL \
     WHERE status IN ('scheduled', 'queued', 'sending') AND owner = $1";
pub const LEAVE: &str = "DELETE FROM instances WHERE id = $1";
/// Messages waiting to be sent, over every bot.
pub const QUEUE_DEPTH: &str = "SELECT COUNT(*) FROM outbox WHERE status IN ('scheduled', 'queued', 'sending')";

/// Retention, a thousand rows at a time.
pub const RETAIN_INBOX: &str = "DELETE FROM inbox WHERE (bot, update_id) IN \
     (SELECT bot, update_id FROM inbox WHERE handled_at < $1 LIMIT 1000)";
pub const RETAIN_OUTBOX: &str =
    "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE finished_at < $1 LIMIT 1000)";
/// The insights log's retention, a thousand ids at a time from the oldest: rows are written
/// in the order of their time, so the oldest ids are the oldest rows, and no index on the
/// time is kept (an index costs every update a write).
pub const RETAIN_LOG: &str = "DELETE FROM insights WHERE id <= (SELECT MIN(id) FROM insights) + 1000 AND at < $1";

/// Delivery outcomes.
pub const SENT: &str = "UPDATE outbox SET status = 'sent', sent_at = $1, finished_at = $1, owner = NULL, \
     telegram_message_id = COALESCE($2, telegram_message_id), parts_sent = $3 WHERE id = $4";
pub const PART_SENT: &str =
    "UPDATE outbox SET parts_sent = $1, telegram_message_id = COALESCE($2, telegram_message_id) WHERE id = $3";
/// Outcomes of an attempt that take a message out of `sending` apply only while the message
/// is still being sent by the instance that tried (`owner` = the last parameter): an
/// instance whose lease ran out while it tried may learn of its failure after another
/// instance took the message over and sent it, and must neither queue a sent message again
/// nor mark it failed. (`Sent` is a fact and is always written.)
pub const RETRY: &str = "UPDATE outbox SET status = 'queued', owner = NULL, claimed_at = NULL, attempts = $1, due_at = $2, \
     last_error = $3 WHERE id = $4 AND status = 'sending' AND owner = $5";
pub const FAILED: &str = "UPDATE outbox SET status = 'failed', owner = NULL, attempts = $1, last_error = $2, finished_at = $3 \
     WHERE id = $4 AND status = 'sending' AND owner = $5";
pub const BLOCKED: &str = "UPDATE outbox SET status = 'blocked', owner = NULL, last_error = $1, finished_at = $2 \
     WHERE id = $3 AND status = 'sending' AND owner = $4";
pub const TEXT_REPLACED: &str = "UPDATE outbox SET text = $1 WHERE id = $2";
pub const RELEASED: &str = "UPDATE outbox SET status = 'queued', owner = NULL, claimed_at = NULL \
     WHERE id = $1 AND status = 'sending' AND owner = $2";

/// PostgreSQL: many `Sent` outcomes in one statement (`$1` the time; `$2` rows of id,
/// telegram (the message id, or null to keep the stored one) and parts).
pub const SENT_MANY: &str = "UPDATE outbox o SET status = 'sent', sent_at = $1, finished_at = $1, owner = NULL, \
     telegram_message_id = COALESCE(v.telegram, o.telegram_message_id), parts_sent = v.parts \
     FROM json_to_recordset(CAST($2 AS json)) AS v(id bigint, telegram bigint, parts bigint) WHERE o.id = v.id";

// ----- the HTTP API's (in its transaction, or on the pool) -----

/// A message's columns as the API shows it (`queries::StoredMessage`), in its order.
pub const MESSAGE_COLUMNS: &str =
    "id, chat, text, status, due_at, created_at, sent_at, telegram_message_id, attempts, last_error, broadcast";
/// A message as the API shows it.
pub const MESSAGE_BY_ID: &str = "SELECT id, chat, text, status, due_at, created_at, sent_at, telegram_message_id, \
     attempts, last_error, broadcast FROM outbox WHERE bot = $1 AND id = $2";
pub const MESSAGE_STATUS: &str = "SELECT status FROM outbox WHERE bot = $1 AND id = $2";
/// A message, and every message of a broadcast, that nobody sends yet: cancelled.
pub const CANCEL_MESSAGE: &str = "UPDATE outbox SET status = 'cancelled', finished_at = $1 WHERE bot = $2 AND id = $3 \
     AND status IN ('scheduled', 'queued') AND owner IS NULL";
pub const CANCEL_BROADCAST: &str = "UPDATE outbox SET status = 'cancelled', finished_at = $1 \
     WHERE bot = $2 AND broadcast = $3 AND status IN ('scheduled', 'queued') AND owner IS NULL";
pub const BROADCAST_BY_ID: &str = "SELECT recipients, unknown FROM broadcasts WHERE bot = $1 AND id = $2";
pub const BROADCAST_BY_KEY: &str = "SELECT id FROM broadcasts WHERE bot = $1 AND idempotency_key = $2";
pub const INSERT_BROADCAST: &str = "INSERT INTO broadcasts (bot, recipients, unknown, idempotency_key, created_at) \
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (bot, idempotency_key) DO NOTHING RETURNING id";
pub const UNREGISTER: &str = "DELETE FROM registrations WHERE bot = $1 AND chat = $2";
pub const CHAT_NAME: &str = "SELECT name FROM chats WHERE bot = $1 AND chat = $2";
/// A message of the engine's (a decision's, a registration's) for the outbox.
pub const ENQUEUE: &str = "INSERT INTO outbox (bot, chat, text, keyboard, status, due_at, created_at, attempts, attachments) \
     VALUES ($1, $2, $3, $4, 'queued', $5, $5, 0, $6)";
/// A message of the API's: `None` back when its idempotency key is taken.
pub const INSERT_MESSAGE: &str = "INSERT INTO outbox (bot, chat, text, keyboard, attachments, status, due_at, created_at, \
     attempts, idempotency_key, first_id, broadcast) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, $10, $11) \
     ON CONFLICT (bot, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING RETURNING id";
/// The message a request with an idempotency key stored, and the others of that request.
pub const MESSAGE_BY_KEY: &str = "SELECT id, status, due_at FROM outbox WHERE bot = $1 AND idempotency_key = $2";
pub const MESSAGES_OF_FIRST: &str = "SELECT id FROM outbox WHERE bot = $1 AND first_id = $2 ORDER BY id";
pub const INSERT_ACTION_BUTTON: &str = "INSERT INTO action_buttons (bot, record, value, label, message_text, created_at, chat) \
     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id";

#[cfg(test)]
mod tests {
    use super::*;

    /// The statements that write a column list out read the columns their rows are read by.
    #[test]
    fn written_out_column_lists_are_the_lists_rows_are_read_by() {
        assert!(MESSAGE_BY_ID.starts_with(&format!("SELECT {MESSAGE_COLUMNS} FROM outbox")));
        for request in [REQUEST_BY_ID, PENDING_REQUEST] {
            assert!(
                request.starts_with(&format!("SELECT {REQUEST_COLUMNS} FROM auth_requests")),
                "{request}"
            );
        }
    }

    #[test]
    fn multi_row_statements_number_their_parameters_in_order() {
        assert_eq!(tuples(2, 2, ", 0"), "($1, $2, 0), ($3, $4, 0)");
        assert_eq!(
            receive_sql(2),
            "INSERT INTO inbox (bot, update_id, chat, payload, received_at, status, attempts) VALUES \
             ($1, $2, $3, $4, $5, 'new', 0), ($1, $6, $7, $8, $9, 'new', 0) \
             ON CONFLICT (bot, update_id) DO NOTHING RETURNING update_id"
        );
        assert!(
            insert_log_sql(2)
                .ends_with("($1, $2, $3, $4, $5, $6, $7, $8, $9), ($10, $11, $12, $13, $14, $15, $16, $17, $18)")
        );
    }
}
