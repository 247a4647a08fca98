//! The store's top: [`SqlStore`], the pool and the driver that serves each
//! database (rusqlite for a SQLite file's hot path, sqlx for the rest and for
//! PostgreSQL), migrations, and the hot path's calls: each opens a
//! transaction (or not) on the right driver and runs the one function of
//! `commit`, `inbox` or `outbox` written over [`Db`](super::db::Db).

use super::db::{Db, Query};
use super::driver_sqlite::Embedded;
use super::driver_sqlx::SqlxDb;
use super::statements as sql;
use super::types::{Committed, Delivery, OutboxMessage, Received, Work, decode_session};
pub use super::types::{Dialect, StoreError, now_text};
use super::{commit, inbox, outbox, reads, rows, writes};
use crate::engine::{ActionButton, AuthRequest, Principal, Session};
use chrono::{DateTime, FixedOffset};
use sqlx::any::AnyPoolOptions;
use sqlx::{Any, AnyPool, Transaction};
use std::sync::Arc;
use std::time::Duration;

/// Migrations, versioned in the repository: one directory per dialect, the same versions in both.
static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Clone)]
pub struct SqlStore {
    pub pool: AnyPool,
    pub dialect: Dialect,
    /// A SQLite file: its hot path through rusqlite (`driver_sqlite`).
    embedded: Option<Arc<Embedded>>,
}

/// PostgreSQL connections per instance. None is ever held while an algorithm runs:
/// a chat is claimed by a row (`chat_claims`), not by a session lock.
const PG_CONNECTIONS: u32 = 24;

/// Runs `$body` with `$db` (a `&mut impl Db`) in one transaction on the store's driver for
/// the hot path, committed when the body succeeds.
macro_rules! transaction {
    ($store:expr, |$db:ident| $body:expr) => {{
        let store: &SqlStore = $store;
        match &store.embedded {
            Some(e) => e.transaction(async |$db| $body),
            None => {
                let mut tx = store.begin().await?;
                let result = {
                    let $db = &mut SqlxDb {
                        conn: &mut tx,
                        dialect: store.dialect,
                    };
                    async { $body }.await
                };
                if result.is_ok() {
                    tx.commit().await?;
                }
                result
            }
        }
    }};
}

/// Runs `$body` with `$db` outside a transaction: each statement commits on its own.
macro_rules! autocommit {
    ($store:expr, |$db:ident| $body:expr) => {{
        let store: &SqlStore = $store;
        match &store.embedded {
            Some(e) => e.autocommit(async |$db| $body),
            None => {
                let mut conn = store.pool.acquire().await?;
                let $db = &mut SqlxDb {
                    conn: &mut conn,
                    dialect: store.dialect,
                };
                async { $body }.await
            }
        }
    }};
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
            return Err(StoreError::Setup(format!(
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
            .map_err(|e| StoreError::Setup(format!("cannot open the database {}: {e}", redact_password(&url))))?;
        let mut store = SqlStore {
            pool,
            dialect,
            embedded: None,
        };
        store.migrate().await?;
        if dialect == Dialect::Sqlite
            && let Some(path) = sqlite_path(&url)
        {
            store.embedded = Some(Arc::new(Embedded::open(&path)?));
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
            .map_err(|e| StoreError::Setup(format!("cannot migrate the database: {e}")))
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
            .map_err(|e| StoreError::Setup(format!("cannot migrate the database: {e}")))?;
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
}

impl SqlStore {
    /// Like [`open`](Self::open), with every statement on sqlx even for a SQLite file (the
    /// drivers' test runs the same work through both).
    pub async fn open_on_sqlx(url: &str) -> Result<SqlStore, StoreError> {
        let mut store = SqlStore::open(url).await?;
        store.embedded = None;
        Ok(store)
    }

    /// Begins a write transaction on sqlx. On SQLite it takes the write lock at once (`BEGIN
    /// IMMEDIATE`): a deferred transaction that read first could not write after another
    /// connection's commit (the hot path writes through a connection of its own), and
    /// waiting for the lock is what `busy_timeout` does.
    pub async fn begin(&self) -> Result<Transaction<'static, Any>, StoreError> {
        Ok(match self.dialect {
            Dialect::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Dialect::Postgres => self.pool.begin().await?,
        })
    }

    /// The group commit: the work in one transaction, a result per item, in order.
    pub async fn commit(&self, works: &[Work]) -> Result<Vec<Committed>, StoreError> {
        let outcome = transaction!(self, |db| commit::commit(db, works).await)?;
        outcome.tell_releases();
        Ok(outcome.results)
    }

    /// Stores received updates in one transaction of their own; gives back the ids that
    /// were new (a redelivered update is stored once and handled once). The runtime stores
    /// them through the group commit instead.
    pub async fn receive(
        &self,
        bot: &str,
        updates: &[Received],
        now: DateTime<FixedOffset>,
    ) -> Result<Vec<i64>, StoreError> {
        transaction!(self, |db| inbox::receive(db, bot, updates, now).await)
    }

    /// A chat's updates waiting to be handled, oldest first.
    pub async fn waiting_updates(&self, bot: &str, chat: i64, limit: i64) -> Result<Vec<Received>, StoreError> {
        autocommit!(self, |db| inbox::waiting_updates(db, bot, chat, limit).await)
    }

    /// Every update of a bot still waiting (at start: what a crash left), oldest first.
    pub async fn all_waiting_updates(&self, bot: &str) -> Result<Vec<Received>, StoreError> {
        autocommit!(self, |db| inbox::all_waiting_updates(db, bot).await)
    }

    /// Chats with an update that has waited since before `before` (its instance may have died).
    pub async fn chats_waiting_since(
        &self,
        before: DateTime<FixedOffset>,
        limit: i64,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        autocommit!(self, |db| inbox::chats_waiting_since(db, before, limit).await)
    }

    /// Records a failed attempt at an update; gives the number of attempts so far.
    pub async fn update_failed(&self, bot: &str, update_id: i64, error: &str) -> Result<i64, StoreError> {
        autocommit!(self, |db| inbox::update_failed(db, bot, update_id, error).await)
    }

    /// Gives up on an update: recorded as `poison` with its error, and skipped.
    pub async fn poison_update(
        &self,
        bot: &str,
        update_id: i64,
        error: &str,
        now: DateTime<FixedOffset>,
    ) -> Result<(), StoreError> {
        autocommit!(self, |db| inbox::poison_update(db, bot, update_id, error, now).await)
    }

    /// The updates given up on, newest first: `(update id, attempts, error)`.
    pub async fn poisoned_updates(&self, bot: &str) -> Result<Vec<(i64, i64, String)>, StoreError> {
        autocommit!(self, |db| inbox::poisoned_updates(db, bot).await)
    }

    /// Claims due messages of a bot that nobody sends, oldest first, for `owner`.
    pub async fn claim(
        &self,
        bot: &str,
        owner: &str,
        now: DateTime<FixedOffset>,
        limit: i64,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        transaction!(self, |db| outbox::claim(db, bot, owner, now, limit).await)
    }

    /// Records the outcomes of `owner`'s delivery attempts in one transaction.
    pub async fn record_deliveries(&self, deliveries: &[Delivery], owner: &str) -> Result<(), StoreError> {
        transaction!(self, |db| outbox::record_deliveries(db, deliveries, owner).await)
    }

    /// Renews this instance's lease.
    pub async fn heartbeat(&self, instance: &str, now: DateTime<FixedOffset>) -> Result<(), StoreError> {
        autocommit!(self, |db| outbox::heartbeat(db, instance, now).await)
    }

    /// Gives the messages of instances whose lease ran out back to the queue; how many came back.
    pub async fn rescue(&self, now: DateTime<FixedOffset>, lease: Duration) -> Result<u64, StoreError> {
        transaction!(self, |db| outbox::rescue(db, now, lease).await)
    }

    /// Hands this instance's unsent messages back and ends its lease (a graceful stop).
    pub async fn leave(&self, instance: &str) -> Result<(), StoreError> {
        transaction!(self, |db| outbox::leave(db, instance).await)
    }

    /// Retention (see [`outbox::delete_finished`]); each statement commits on its own.
    pub async fn delete_finished(&self, before: DateTime<FixedOffset>) -> Result<u64, StoreError> {
        autocommit!(self, |db| outbox::delete_finished(db, before).await)
    }

    /// Messages waiting to be sent, over every bot.
    pub async fn queue_depth(&self) -> Result<i64, StoreError> {
        autocommit!(self, |db| outbox::queue_depth(db).await)
    }

    /// The stored session of one user, if any (undecodable ones are logged and dropped).
    pub async fn session(&self, bot: &str, chat: i64, user: i64) -> Result<Option<Session>, StoreError> {
        autocommit!(self, |db| reads::session(db, bot, chat, user).await)
    }

    /// A chat's registration.
    pub async fn registration(&self, bot: &str, key: i64) -> Result<Option<Principal>, StoreError> {
        autocommit!(self, |db| reads::registration(db, bot, key).await)
    }

    /// A user's session and their chat's registration, in one statement.
    pub async fn session_and_registration(
        &self,
        bot: &str,
        chat: i64,
        user: i64,
    ) -> Result<(Option<Session>, Option<Principal>), StoreError> {
        let (data, principal) = autocommit!(self, |db| {
            let q = Query::new(sql::SESSION_AND_REGISTRATION)
                .bind(bot)
                .bind(chat)
                .bind(user);
            match db.fetch_optional(q).await? {
                Some(row) => Ok((row.opt_text(0)?, rows::principal_at(&row, 1)?)),
                None => Ok((None, None)),
            }
        })?;
        Ok((data.and_then(|d| decode_session(bot, chat, &d)), principal))
    }

    /// A notification action button by id, if it was sent to `chat`.
    pub async fn action_button(&self, bot: &str, id: u64, chat: i64) -> Result<Option<ActionButton>, StoreError> {
        autocommit!(self, |db| reads::action_button(db, bot, id, chat).await)
    }

    /// An update's status in the inbox (`None`: never stored).
    pub async fn update_status(&self, bot: &str, update_id: i64) -> Result<Option<String>, StoreError> {
        autocommit!(self, |db| reads::update_status(db, bot, update_id).await)
    }

    /// Stores a request created in a step as a draft (so that its id can go on buttons);
    /// the step's commit makes it real. A draft left by a failed step is never shown or decided.
    pub async fn insert_draft_request(&self, bot: &str, r: &AuthRequest) -> Result<u64, StoreError> {
        autocommit!(self, |db| writes::insert_request(db, bot, r, "draft").await)
    }

    /// A request by id (not a draft).
    pub async fn auth_request(&self, bot: &str, id: u64) -> Result<Option<AuthRequest>, StoreError> {
        autocommit!(self, |db| reads::request(db, bot, id).await)
    }

    /// A chat's latest pending request.
    pub async fn pending_auth_request(&self, bot: &str, key: i64) -> Result<Option<AuthRequest>, StoreError> {
        autocommit!(self, |db| reads::pending_request(db, bot, key).await)
    }

    /// Gives up this instance's claim of a chat (PostgreSQL).
    pub async fn release_chat(&self, bot: &str, chat: i64, instance: &str) -> Result<(), StoreError> {
        if self.dialect == Dialect::Sqlite {
            return Ok(());
        }
        autocommit!(self, |db| {
            let q = Query::new(sql::RELEASE_CHAT).bind(bot).bind(chat).bind(instance);
            db.execute(q).await.map(|_| ())
        })
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
            .map_err(|e| StoreError::Setup(format!("cannot make the database file {} private: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Setup(format!(
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
