//! State in a real database through sqlx (SQLite by default, PostgreSQL for
//! scale-out): sessions, registrations, authorization requests, handled
//! update ids and the outbox. Queries are written once with `$N`
//! parameters, which both databases accept.

use crate::algorithms::{self, AlgorithmCall, AlgorithmFailure, Builtins};
use crate::engine::{AuthRequest, AuthStatus, Keyboard, Outgoing, Principal, Session, World, WorldError};
use crate::expr::Value;
use chrono::{DateTime, FixedOffset, Utc};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyPool, Row, Transaction};
use std::time::Duration;

/// Migrations, versioned in the repository: one directory per dialect, the same versions in both.
static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct SqlStore {
    pub pool: AnyPool,
    pub dialect: Dialect,
    /// SQLite: the hot path through rusqlite (see `embedded.rs`).
    pub(crate) embedded: Option<std::sync::Arc<super::embedded::Embedded>>,
}

/// PostgreSQL connections per instance. None is ever held while an algorithm runs:
/// a chat is claimed by a row (`chat_claims`), not by a session lock.
const PG_CONNECTIONS: u32 = 24;

/// Gives up a claim of this instance's.
pub const RELEASE_CHAT: &str = "DELETE FROM chat_claims WHERE bot = $1 AND chat = $2 AND owner = $3";

/// A database error, with nothing secret in it.
#[derive(Debug)]
pub struct StoreError(pub String);

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StoreError {}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> StoreError {
        StoreError(format!("database error: {e}"))
    }
}

pub fn now_text(t: DateTime<FixedOffset>) -> String {
    t.with_timezone(&Utc)
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn parse_time(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(s).unwrap_or_else(|_| DateTime::<Utc>::UNIX_EPOCH.fixed_offset())
}

impl SqlStore {
    /// Opens (creating a SQLite file if needed) and migrates the database at `url`.
    pub async fn open(url: &str) -> Result<SqlStore, StoreError> {
        sqlx::any::install_default_drivers();
        let (dialect, url) = if let Some(path) = url.strip_prefix("sqlite://") {
            let url = if path.contains('?') {
                format!("sqlite://{path}")
            } else {
                format!("sqlite://{path}?mode=rwc")
            };
            (Dialect::Sqlite, url)
        } else if url.starts_with("sqlite:") {
            (Dialect::Sqlite, url.to_string())
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Dialect::Postgres, url.to_string())
        } else {
            return Err(StoreError(format!(
                "unsupported database URL (use sqlite://FILE or postgres://…): {}",
                redact_password(url)
            )));
        };
        if dialect == Dialect::Sqlite
            && url.contains("mode=rwc")
            && let Some(path) = sqlite_path(&url)
        {
            create_private(std::path::Path::new(&path))?;
        }
        let options = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(30));
        // SQLite has one writer: one connection serializes updates instead of failing them as busy.
        let options = match dialect {
            Dialect::Sqlite => options.max_connections(1).after_connect(|conn, _| {
                Box::pin(async move {
                    sqlx::query("PRAGMA journal_mode = WAL").execute(&mut *conn).await?;
                    sqlx::query("PRAGMA busy_timeout = 10000").execute(&mut *conn).await?;
                    sqlx::query("PRAGMA synchronous = FULL").execute(&mut *conn).await?;
                    Ok(())
                })
            }),
            Dialect::Postgres => options.max_connections(PG_CONNECTIONS),
        };
        let pool = options
            .connect(&url)
            .await
            .map_err(|e| StoreError(format!("cannot open the database {}: {e}", redact_password(&url))))?;
        let mut store = SqlStore {
            pool,
            dialect,
            embedded: None,
        };
        store.migrate().await?;
        if dialect == Dialect::Sqlite
            && let Some(path) = sqlite_path(&url)
        {
            store.embedded = Some(std::sync::Arc::new(super::embedded::Embedded::open(&path)?));
        }
        Ok(store)
    }

    /// Applies the migrations not yet applied (`sqlx::migrate!`; on PostgreSQL it
    /// takes an advisory lock, so instances that start at once migrate one after
    /// another). A database made by the hand-written runner of earlier versions
    /// (`schema_migrations`) has its versions recorded for sqlx first.
    async fn migrate(&self) -> Result<(), StoreError> {
        let migrator = match self.dialect {
            Dialect::Sqlite => &SQLITE_MIGRATIONS,
            Dialect::Postgres => &POSTGRES_MIGRATIONS,
        };
        self.adopt_old_migrations(migrator).await?;
        migrator
            .run(&self.pool)
            .await
            .map_err(|e| StoreError(format!("cannot migrate the database: {e}")))
    }

    async fn adopt_old_migrations(&self, migrator: &sqlx::migrate::Migrator) -> Result<(), StoreError> {
        use sqlx::migrate::Migrate;
        let mut tx = self.begin().await?;
        if self.dialect == Dialect::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock(7263541)")
                .execute(&mut *tx)
                .await?;
        }
        let exists = |table: &'static str| match self.dialect {
            Dialect::Sqlite => format!("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '{table}'"),
            Dialect::Postgres => format!("SELECT COUNT(*) FROM information_schema.tables WHERE table_name = '{table}'"),
        };
        let old: i64 = sqlx::query_scalar(&exists("schema_migrations"))
            .fetch_one(&mut *tx)
            .await?;
        if old == 0 {
            return Ok(());
        }
        let versions: Vec<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations")
            .fetch_all(&mut *tx)
            .await?;
        tx.ensure_migrations_table()
            .await
            .map_err(|e| StoreError(format!("cannot migrate the database: {e}")))?;
        for m in migrator.iter().filter(|m| versions.contains(&m.version)) {
            sqlx::query(
                "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
                 VALUES ($1, $2, TRUE, $3, 0) ON CONFLICT (version) DO NOTHING",
            )
            .bind(m.version)
            .bind(m.description.to_string())
            .bind(m.checksum.to_vec())
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("DROP TABLE schema_migrations").execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The stored session of one user, if any (undecodable ones are logged and dropped).
    pub async fn session(&self, bot: &str, chat: i64, user: i64) -> Result<Option<Session>, StoreError> {
        if let Some(e) = &self.embedded {
            return Ok(e.session(bot, chat, user)?.and_then(|d| decode_session(bot, chat, &d)));
        }
        let data: Option<String> = sqlx::query_scalar(SESSION)
            .bind(bot)
            .bind(chat)
            .bind(user)
            .fetch_optional(&self.pool)
            .await?;
        Ok(data.and_then(|d| decode_session(bot, chat, &d)))
    }

    /// Begins a write transaction. On SQLite it takes the write lock at once (`BEGIN
    /// IMMEDIATE`): a deferred transaction that read first could not write after another
    /// connection's commit (the hot path writes through a connection of its own), and
    /// waiting for the lock is what `busy_timeout` does.
    pub async fn begin(&self) -> Result<Transaction<'static, Any>, sqlx::Error> {
        match self.dialect {
            Dialect::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Dialect::Postgres => self.pool.begin().await,
        }
    }

    /// Gives up this instance's claim of a chat (PostgreSQL).
    pub async fn release_chat(&self, bot: &str, chat: i64, instance: &str) -> Result<(), StoreError> {
        if self.dialect == Dialect::Sqlite {
            return Ok(());
        }
        sqlx::query(RELEASE_CHAT)
            .bind(bot)
            .bind(chat)
            .bind(instance)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// A cheap round trip to the database: whether it answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

pub(crate) fn decode_session(bot: &str, chat: i64, data: &str) -> Option<Session> {
    match serde_json::from_str(data) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(bot, chat, error = %e, "a stored session cannot be decoded; starting at the top level");
            None
        }
    }
}

/// The file of a SQLite URL (`None` for an in-memory database, which a second
/// connection could not share).
/// Creates a missing SQLite database file readable and writable by its owner only (0600,
/// whatever the umask), before SQLite opens it: it holds the users' data. SQLite gives the
/// `-wal` and `-shm` files it makes beside it the same mode. An existing file is left as it is.
fn create_private(path: &std::path::Path) -> Result<(), StoreError> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        // Exactly 0600, even under a umask that takes the owner's bits.
        Ok(file) => file
            .set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .map_err(|e| StoreError(format!("cannot make the database file {} private: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError(format!(
            "cannot create the database file {}: {e}",
            path.display()
        ))),
    }
}

fn sqlite_path(url: &str) -> Option<String> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or("");
    (!path.is_empty() && !path.contains(":memory:")).then(|| path.to_string())
}

/// Hides the password of a database URL.
pub fn redact_password(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// A message waiting in the outbox.
#[derive(Debug, Clone)]
pub struct OutboxMessage {
    pub id: i64,
    pub chat: i64,
    pub text: String,
    pub keyboard: Keyboard,
    pub attachments: Vec<Attachment>,
    pub attempts: i64,
    /// Parts already acknowledged by Telegram: the text is part 0, then each attachment.
    pub parts_sent: i64,
    /// When this instance took it (from its own commit or by a claim).
    pub claimed_at: String,
    /// Part of a broadcast: sent after the replies to users who are talking to the bot.
    pub broadcast: bool,
}

/// A file sent after a message's text.
pub use crate::engine::File as Attachment;

impl OutboxMessage {
    /// A reply just stored with `id`, taken by this instance at `at`.
    pub(crate) fn reply(id: i64, m: &Outgoing, at: &str) -> OutboxMessage {
        OutboxMessage {
            id,
            chat: m.to,
            text: m.text.clone(),
            keyboard: m.keyboard.clone(),
            attachments: m.files.clone(),
            attempts: 0,
            parts_sent: 0,
            claimed_at: at.to_string(),
            broadcast: false,
        }
    }

    pub(crate) fn from_row(r: &AnyRow) -> OutboxMessage {
        let keyboard: String = r.get(3);
        let attachments: String = r.get(4);
        OutboxMessage {
            id: r.get(0),
            chat: r.get(1),
            text: r.get(2),
            keyboard: serde_json::from_str(&keyboard).unwrap_or_default(),
            attachments: serde_json::from_str(&attachments).unwrap_or_default(),
            attempts: r.get(5),
            parts_sent: r.get(6),
            claimed_at: String::new(),
            broadcast: r.get::<Option<i64>, _>(7).is_some(),
        }
    }
}

/// Puts messages into the outbox inside a transaction.
pub async fn enqueue(
    tx: &mut Transaction<'static, Any>,
    bot: &str,
    messages: &[Outgoing],
    now: DateTime<FixedOffset>,
) -> Result<(), sqlx::Error> {
    for m in messages {
        sqlx::query(
            "INSERT INTO outbox (bot, chat, text, keyboard, status, due_at, created_at, attempts, attachments) \
             VALUES ($1, $2, $3, $4, 'queued', $5, $5, 0, $6)",
        )
        .bind(bot)
        .bind(m.to)
        .bind(&m.text)
        .bind(serde_json::to_string(&m.keyboard).expect("keyboards serialize"))
        .bind(now_text(now))
        .bind(serde_json::to_string(&m.files).expect("files serialize"))
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// The engine's world inside one database transaction. Engine calls are
/// synchronous, so each query is driven to completion on the runtime from a
/// blocking thread. The first database error is kept (and returned to the
/// engine, which stops); the caller then rolls back.
pub struct TxWorld<'b> {
    pub tx: Option<Transaction<'static, Any>>,
    pub bot: String,
    pub handle: tokio::runtime::Handle,
    pub builtins: &'b Builtins,
    pub error: Option<sqlx::Error>,
    /// A decision found its request no longer pending (decided by someone else meanwhile).
    pub lost_decision: bool,
}

impl TxWorld<'_> {
    fn run<T>(
        &mut self,
        f: impl AsyncFnOnce(&mut Transaction<'static, Any>, &str) -> Result<T, sqlx::Error>,
    ) -> Result<T, WorldError> {
        if self.error.is_some() {
            return Err(WorldError("an earlier query of this transaction failed".into()));
        }
        let mut tx = self.tx.take().expect("transaction present");
        let bot = self.bot.clone();
        let result = self.handle.block_on(f(&mut tx, &bot));
        self.tx = Some(tx);
        result.map_err(|e| {
            let shown = WorldError(format!("database error: {e}"));
            self.error = Some(e);
            shown
        })
    }
}

pub const UPSERT_SESSION: &str = "INSERT INTO sessions (bot, chat, user_id, data, updated_at) VALUES ($1, $2, $3, $4, $5) \
     ON CONFLICT (bot, chat, user_id) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at";
pub const UPSERT_REGISTRATION: &str = "INSERT INTO registrations (bot, chat, kind, principal_id, principal_name, name, registered_at, search) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (bot, chat) DO UPDATE SET kind = excluded.kind, \
     principal_id = excluded.principal_id, principal_name = excluded.principal_name, name = excluded.name, \
     registered_at = excluded.registered_at, search = excluded.search";

/// What the console's user search looks in: the key, the name and the principal, folded to
/// lower case here (SQLite's `LOWER` folds ASCII only, PostgreSQL's depends on its locale).
pub fn registration_search(key: i64, principal: &Principal, name: &str) -> String {
    format!(
        "{key}\u{1f}{name}\u{1f}{}\u{1f}{}\u{1f}{}",
        principal.kind, principal.id, principal.name
    )
    .to_lowercase()
}

/// Inserts or replaces a session.
pub(crate) async fn upsert_session(
    conn: &mut sqlx::AnyConnection,
    bot: &str,
    (chat, user): (i64, i64),
    session: &Session,
    at: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(UPSERT_SESSION)
        .bind(bot)
        .bind(chat)
        .bind(user)
        .bind(serde_json::to_string(session).expect("sessions serialize"))
        .bind(at)
        .execute(conn)
        .await
        .map(|_| ())
}

/// Registers a chat as a principal, or changes its registration.
pub(crate) async fn upsert_registration(
    conn: &mut sqlx::AnyConnection,
    bot: &str,
    key: i64,
    principal: &Principal,
    name: &str,
    at: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(UPSERT_REGISTRATION)
        .bind(bot)
        .bind(key)
        .bind(&principal.kind)
        .bind(&principal.id)
        .bind(&principal.name)
        .bind(name)
        .bind(at)
        .bind(registration_search(key, principal, name))
        .execute(conn)
        .await
        .map(|_| ())
}

pub(crate) fn request_from_row(r: &AnyRow) -> AuthRequest {
    let status: String = r.get(6);
    AuthRequest {
        id: r.get::<i64, _>(0) as u64,
        key: r.get(1),
        user_id: r.get(2),
        name: r.get(3),
        username: r.get(4),
        data: r.get(5),
        status: match status.as_str() {
            "approved" => AuthStatus::Approved,
            "rejected" => AuthStatus::Rejected,
            _ => AuthStatus::Pending,
        },
        reason: r.get(7),
        created_at: parse_time(&r.get::<String, _>(8)),
    }
}

/// A user's session, and a chat's registration.
pub const SESSION: &str = "SELECT data FROM sessions WHERE bot = $1 AND chat = $2 AND user_id = $3";
pub const REGISTRATION: &str =
    "SELECT kind, principal_id, principal_name FROM registrations WHERE bot = $1 AND chat = $2";

impl SqlStore {
    /// A chat's registration.
    /// A notification action button by id, if it was sent to `chat`.
    pub async fn action_button(
        &self,
        bot: &str,
        id: u64,
        chat: i64,
    ) -> Result<Option<crate::engine::ActionButton>, StoreError> {
        let row = sqlx::query(ACTION_BUTTON)
            .bind(bot)
            .bind(id as i64)
            .bind(chat)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(action_button_from_row))
    }

    /// A user's session and their chat's registration, in one statement.
    pub async fn session_and_registration(
        &self,
        bot: &str,
        chat: i64,
        user: i64,
    ) -> Result<(Option<Session>, Option<Principal>), StoreError> {
        if self.embedded.is_some() {
            return Ok((
                self.session(bot, chat, user).await?,
                self.registration(bot, chat).await?,
            ));
        }
        let row = sqlx::query(SESSION_AND_REGISTRATION)
            .bind(bot)
            .bind(chat)
            .bind(user)
            .fetch_one(&self.pool)
            .await?;
        let session = row
            .get::<Option<String>, _>(0)
            .and_then(|d| decode_session(bot, chat, &d));
        Ok((session, principal_at(&row, 1)))
    }

    pub async fn registration(&self, bot: &str, key: i64) -> Result<Option<Principal>, StoreError> {
        match &self.embedded {
            Some(e) => e.registration(bot, key),
            None => Ok(read_registration(&self.pool, bot, key).await?),
        }
    }
}

/// A chat's registration, through any executor (the pool, a transaction).
pub(crate) async fn read_registration<'e>(
    executor: impl sqlx::Executor<'e, Database = Any>,
    bot: &str,
    key: i64,
) -> Result<Option<Principal>, sqlx::Error> {
    let row = sqlx::query(REGISTRATION)
        .bind(bot)
        .bind(key)
        .fetch_optional(executor)
        .await?;
    Ok(row.map(|r| Principal {
        kind: r.get(0),
        id: r.get(1),
        name: r.get(2),
    }))
}

/// The registration in columns `first..first + 3` of a row (kind, id, name), when they are
/// not null (a `LEFT JOIN` of `registrations` that found none).
pub(crate) fn principal_at(row: &AnyRow, first: usize) -> Option<Principal> {
    match (
        row.get::<Option<String>, _>(first),
        row.get::<Option<String>, _>(first + 1),
        row.get::<Option<String>, _>(first + 2),
    ) {
        (Some(kind), Some(id), Some(name)) => Some(Principal { kind, id, name }),
        _ => None,
    }
}

/// A user's session and their chat's registration (each column null when there is none).
pub const SESSION_AND_REGISTRATION: &str = "SELECT (SELECT data FROM sessions WHERE bot = $1 AND chat = $2 AND user_id = $3), \
     r.kind, r.principal_id, r.principal_name FROM (SELECT 1 AS one) AS o \
     LEFT JOIN registrations r ON r.bot = $1 AND r.chat = $2";

pub(crate) const REQUEST_COLUMNS: &str = "id, chat, user_id, name, username, data, status, reason, created_at";

impl World for TxWorld<'_> {
    fn session(&mut self, chat: i64, user: i64) -> Result<Option<Session>, WorldError> {
        let data: Result<Option<String>, WorldError> = self.run(async |tx, bot| {
            sqlx::query_scalar("SELECT data FROM sessions WHERE bot = $1 AND chat = $2 AND user_id = $3")
                .bind(bot)
                .bind(chat)
                .bind(user)
                .fetch_optional(&mut **tx)
                .await
        });
        Ok(data?.and_then(|d| decode_session(&self.bot, chat, &d)))
    }

    fn save_session(&mut self, chat: i64, user: i64, session: &Session) -> Result<(), WorldError> {
        let now = now_text(Utc::now().fixed_offset());
        self.run(async |tx, bot| upsert_session(tx, bot, (chat, user), session, &now).await)
    }

    fn registration(&mut self, key: i64) -> Result<Option<Principal>, WorldError> {
        self.run(async |tx, bot| read_registration(&mut **tx, bot, key).await)
    }

    fn register(
        &mut self,
        key: i64,
        principal: &Principal,
        name: &str,
        at: DateTime<FixedOffset>,
    ) -> Result<(), WorldError> {
        let at = now_text(at);
        self.run(async |tx, bot| upsert_registration(tx, bot, key, principal, name, &at).await)
    }

    fn create_auth_request(&mut self, r: AuthRequest) -> Result<u64, WorldError> {
        let created = now_text(r.created_at);
        let id: Result<i64, WorldError> = self.run(async |tx, bot| {
            sqlx::query_scalar(
                "INSERT INTO auth_requests (bot, chat, user_id, name, username, data, status, reason, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
            )
            .bind(bot)
            .bind(r.key)
            .bind(r.user_id)
            .bind(&r.name)
            .bind(&r.username)
            .bind(&r.data)
            .bind(r.status.as_str())
            .bind(&r.reason)
            .bind(&created)
            .fetch_one(&mut **tx)
            .await
        });
        Ok(id? as u64)
    }

    fn auth_request(&mut self, id: u64) -> Result<Option<AuthRequest>, WorldError> {
        self.run(async |tx, bot| {
            sqlx::query(&format!(
                "SELECT {REQUEST_COLUMNS} FROM auth_requests WHERE bot = $1 AND id = $2 AND status <> 'draft'"
            ))
            .bind(bot)
            .bind(id as i64)
            .fetch_optional(&mut **tx)
            .await
            .map(|r| r.as_ref().map(request_from_row))
        })
    }

    fn pending_auth_request(&mut self, key: i64) -> Result<Option<AuthRequest>, WorldError> {
        self.run(async |tx, bot| {
            sqlx::query(&format!("SELECT {REQUEST_COLUMNS} FROM auth_requests WHERE bot = $1 AND chat = $2 AND status = 'pending' ORDER BY id DESC LIMIT 1"))
                .bind(bot)
                .bind(key)
                .fetch_optional(&mut **tx)
                .await
                .map(|r| r.as_ref().map(request_from_row))
        })
    }

    fn update_auth_request(&mut self, r: &AuthRequest) -> Result<(), WorldError> {
        // A decision is written only while the request is pending, and the rows are counted:
        // of two decisions at once, exactly one wins.
        let decision = r.status != AuthStatus::Pending;
        let sql = if decision {
            super::commit::DECIDE_REQUEST
        } else {
            "UPDATE auth_requests SET status = $1, reason = $2 WHERE bot = $3 AND id = $4"
        };
        let rows = self.run(async |tx, bot| {
            sqlx::query(sql)
                .bind(r.status.as_str())
                .bind(&r.reason)
                .bind(bot)
                .bind(r.id as i64)
                .execute(&mut **tx)
                .await
                .map(|done| done.rows_affected())
        })?;
        if decision && rows == 0 {
            self.lost_decision = true;
            return Err(WorldError(format!("authorization request {} is already decided", r.id)));
        }
        Ok(())
    }

    fn action_button(&mut self, id: u64, chat: i64) -> Result<Option<crate::engine::ActionButton>, WorldError> {
        self.run(async |tx, bot| {
            let row = sqlx::query(ACTION_BUTTON)
                .bind(bot)
                .bind(id as i64)
                .bind(chat)
                .fetch_optional(&mut **tx)
                .await?;
            Ok(row.as_ref().map(action_button_from_row))
        })
    }

    fn run_algorithm(&mut self, call: &AlgorithmCall) -> Result<Value, AlgorithmFailure> {
        algorithms::run(call, self.builtins, algorithms::Http::On { update: None, calls: 0 })
    }
}

/// A notification action button by bot and id, if it was sent to the chat (rows kept before
/// buttons knew their chat, and not matched to one by migration 0005, have none: stale).
pub const ACTION_BUTTON: &str =
    "SELECT record, value, label, message_text, chat FROM action_buttons WHERE bot = $1 AND id = $2 AND chat = $3";

pub fn action_button_from_row(r: &AnyRow) -> crate::engine::ActionButton {
    crate::engine::ActionButton {
        record: r.get(0),
        value: r.get(1),
        label: r.get(2),
        message_text: r.get(3),
        chat: r.get(4),
    }
}

/// Keeps an action button's record and value; gives the id its callback data names.
pub async fn insert_action_button(
    tx: &mut Transaction<'static, Any>,
    bot: &str,
    button: &crate::engine::ActionButton,
    now: DateTime<FixedOffset>,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO action_buttons (bot, record, value, label, message_text, created_at, chat) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(bot)
    .bind(&button.record)
    .bind(&button.value)
    .bind(&button.label)
    .bind(&button.message_text)
    .bind(now_text(now))
    .bind(button.chat)
    .fetch_one(&mut **tx)
    .await
}

/// A message for the outbox from the HTTP API or `botwright send`.
pub struct NewMessage<'a> {
    pub bot: &'a str,
    pub chat: i64,
    pub text: &'a str,
    pub keyboard: &'a Keyboard,
    pub attachments: &'a [Attachment],
    pub due: DateTime<FixedOffset>,
    pub now: DateTime<FixedOffset>,
    pub idempotency_key: Option<&'a str>,
    /// The first message of the same request (a principal registered from several chats).
    pub first_id: Option<i64>,
    /// The broadcast it belongs to.
    pub broadcast: Option<i64>,
}

/// Stores a message; `None` when its idempotency key is taken (by a request committed
/// before, or at the same moment: the database's conflict handling decides, never an error).
/// Gives its id and status.
pub async fn insert_message(
    tx: &mut Transaction<'static, Any>,
    m: &NewMessage<'_>,
) -> Result<Option<(i64, String)>, sqlx::Error> {
    let status = if m.due > m.now { "scheduled" } else { "queued" };
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO outbox (bot, chat, text, keyboard, attachments, status, due_at, created_at, attempts, \
         idempotency_key, first_id, broadcast) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, $10, $11) \
         ON CONFLICT (bot, idempotency_key) DO NOTHING RETURNING id",
    )
    .bind(m.bot)
    .bind(m.chat)
    .bind(m.text)
    .bind(serde_json::to_string(m.keyboard).expect("keyboards serialize"))
    .bind(serde_json::to_string(m.attachments).expect("attachments serialize"))
    .bind(status)
    .bind(now_text(m.due))
    .bind(now_text(m.now))
    .bind(m.idempotency_key)
    .bind(m.first_id)
    .bind(m.broadcast)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(id.map(|id| (id, status.to_string())))
}

/// The message a request with this idempotency key stored, with every message of that
/// request (ids, oldest first) and the first one's status.
pub async fn message_by_key(
    tx: &mut Transaction<'static, Any>,
    bot: &str,
    key: &str,
    now: DateTime<FixedOffset>,
) -> Result<Option<(Vec<i64>, String)>, sqlx::Error> {
    let Some(r) = sqlx::query("SELECT id, status, due_at FROM outbox WHERE bot = $1 AND idempotency_key = $2")
        .bind(bot)
        .bind(key)
        .fetch_optional(&mut **tx)
        .await?
    else {
        return Ok(None);
    };
    let first: i64 = r.get(0);
    let status: String = r.get(1);
    let due: String = r.get(2);
    let mut ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM outbox WHERE bot = $1 AND first_id = $2 ORDER BY id")
        .bind(bot)
        .bind(first)
        .fetch_all(&mut **tx)
        .await?;
    ids.insert(0, first);
    Ok(Some((ids, shown_status(&status, &due, now))))
}

/// A message's status as the API shows it: a scheduled message whose time has come is queued.
/// A message being sent (`sending`) is still `queued` to the API: it is not sent until Telegram says so.
pub fn shown_status(status: &str, due: &str, now: DateTime<FixedOffset>) -> String {
    if status == "sending" || (status == "scheduled" && parse_time(due) <= now) {
        "queued".to_string()
    } else {
        status.to_string()
    }
}

pub fn parse_stored_time(s: &str) -> DateTime<FixedOffset> {
    parse_time(s)
}
