//! The embedded database's driver by numbers: the runtime's group commit (per
//! update: mark it handled, upsert the session, insert the reply; fifty
//! updates a transaction, fsync on) through sqlx's SQLite driver behind the
//! `Any` pool the store uses, and through rusqlite on the same schema.
//! `cargo bench --bench sqlite_driver`; figures in BENCHMARKS.md.

use std::time::Instant;

const UPDATES: i64 = 5_000;
const BATCH: i64 = 50;

const SCHEMA: &[&str] = &[
    "CREATE TABLE inbox (bot TEXT NOT NULL, update_id BIGINT NOT NULL, chat BIGINT NOT NULL, payload TEXT, \
     status TEXT NOT NULL, attempts BIGINT NOT NULL DEFAULT 0, received_at TEXT NOT NULL, handled_at TEXT, \
     PRIMARY KEY (bot, update_id))",
    "CREATE TABLE sessions (bot TEXT NOT NULL, chat BIGINT NOT NULL, user_id BIGINT NOT NULL, data TEXT NOT NULL, \
     updated_at TEXT NOT NULL, PRIMARY KEY (bot, chat, user_id))",
    "CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, bot TEXT NOT NULL, chat BIGINT NOT NULL, \
     text TEXT NOT NULL, status TEXT NOT NULL, created_at TEXT NOT NULL)",
];
const MARK: &str = "INSERT INTO inbox (bot, update_id, chat, payload, status, received_at, handled_at) \
     VALUES ($1, $2, $3, NULL, 'done', $4, $4) ON CONFLICT (bot, update_id) DO UPDATE SET status = 'done' \
     WHERE inbox.status = 'new'";
const SESSION: &str = "INSERT INTO sessions (bot, chat, user_id, data, updated_at) VALUES ($1, $2, $2, $3, $4) \
     ON CONFLICT (bot, chat, user_id) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at";
const REPLY: &str =
    "INSERT INTO outbox (bot, chat, text, status, created_at) VALUES ($1, $2, $3, 'sending', $4) RETURNING id";
const AT: &str = "2026-11-29T12:00:00.000Z";
const DATA: &str = r#"{"hash":"0123456789abcdef","seq":3,"open":null,"pending":null}"#;

fn cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let f: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    (f[11].parse::<f64>().unwrap_or(0.0) + f[12].parse::<f64>().unwrap_or(0.0)) / 100.0
}

fn report(name: &str, wall: f64, cpu: f64) {
    println!(
        "{name:<22} {:>7.1} µs wall, {:>6.1} µs CPU per update",
        wall / UPDATES as f64 * 1e6,
        cpu / UPDATES as f64 * 1e6
    );
}

fn sqlx_any(path: &std::path::Path) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        sqlx::any::install_default_drivers();
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let pool = sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .after_connect(|c, _| {
                Box::pin(async move {
                    sqlx::query("PRAGMA journal_mode = WAL").execute(&mut *c).await?;
                    sqlx::query("PRAGMA synchronous = FULL").execute(&mut *c).await?;
                    Ok(())
                })
            })
            .connect(&url)
            .await
            .unwrap();
        for s in SCHEMA {
            sqlx::query(s).execute(&pool).await.unwrap();
        }
        let (wall, cpu0) = (Instant::now(), cpu());
        for b in 0..UPDATES / BATCH {
            let mut tx = pool.begin().await.unwrap();
            for i in 0..BATCH {
                let n = b * BATCH + i;
                let chat = n % 2_000;
                sqlx::query(MARK)
                    .bind("bench")
                    .bind(n)
                    .bind(chat)
                    .bind(AT)
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                sqlx::query(SESSION)
                    .bind("bench")
                    .bind(chat)
                    .bind(DATA)
                    .bind(AT)
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                let _: i64 = sqlx::query_scalar(REPLY)
                    .bind("bench")
                    .bind(chat)
                    .bind("Ответ на ключевое слово А1")
                    .bind(AT)
                    .fetch_one(&mut *tx)
                    .await
                    .unwrap();
            }
            tx.commit().await.unwrap();
        }
        report("sqlx (Any, SQLite)", wall.elapsed().as_secs_f64(), cpu() - cpu0);
    });
}

fn rusqlite(path: &std::path::Path) {
    let mut conn = rusqlite::Connection::open(path).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", "FULL").unwrap();
    for s in SCHEMA {
        conn.execute(s, []).unwrap();
    }
    let (wall, cpu0) = (Instant::now(), cpu());
    for b in 0..UPDATES / BATCH {
        let tx = conn.transaction().unwrap();
        {
            let mut mark = tx.prepare_cached(MARK).unwrap();
            let mut session = tx.prepare_cached(SESSION).unwrap();
            let mut reply = tx.prepare_cached(REPLY).unwrap();
            for i in 0..BATCH {
                let n = b * BATCH + i;
                let chat = n % 2_000;
                mark.execute(rusqlite::params!["bench", n, chat, AT]).unwrap();
                session.execute(rusqlite::params!["bench", chat, DATA, AT]).unwrap();
                let _: i64 = reply
                    .query_row(
                        rusqlite::params!["bench", chat, "Ответ на ключевое слово А1", AT],
                        |r| r.get(0),
                    )
                    .unwrap();
            }
        }
        tx.commit().unwrap();
    }
    report("rusqlite", wall.elapsed().as_secs_f64(), cpu() - cpu0);
}

fn main() {
    if std::env::args()
        .skip(1)
        .any(|a| !a.starts_with('-') && !"sqlite_driver".contains(a.as_str()))
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    sqlx_any(&dir.path().join("sqlx.db"));
    rusqlite(&dir.path().join("rusqlite.db"));
    sqlx_any(&dir.path().join("sqlx2.db"));
    rusqlite(&dir.path().join("rusqlite2.db"));
}
