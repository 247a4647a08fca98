//! The console's pages at scale (issue: "with 100,000 registered users and
//! 1,000,000 messages in the database, every console page and list answers in
//! under 300 ms"): a database filled with 100,000 registered users, 1,000,000
//! outbox messages (1,000 broadcasts among them), 1,000,000 logged updates over
//! the last 30 days (the default retention: about one reply per update), 100,000 authorization requests and 100,000 audit entries,
//! served by `botwright run --listen` on the fake Bot API; each API call the
//! console makes is timed through HTTP (the median and the slowest of 7, after
//! one warm-up). SQLite always; PostgreSQL too when `BOTWRIGHT_TEST_POSTGRES`
//! names a server. `cargo bench --bench console`; figures go to BENCHMARKS.md.

#[path = "../tests/it/support/mod.rs"]
mod support;

use std::time::Instant;
use support::{API_TOKEN, ApiBots, http_call};

const USERS: i64 = 100_000;
const MESSAGES: i64 = 1_000_000;
const UPDATES: i64 = 1_000_000;
const REQUESTS: i64 = 100_000;
const AUDIT: i64 = 100_000;

/// `n` rows of `x` from 1, as a recursive CTE both SQLite and PostgreSQL run.
fn series(n: i64) -> String {
    format!("WITH RECURSIVE s(x) AS (SELECT CAST(1 AS BIGINT) UNION ALL SELECT x + 1 FROM s WHERE x < {n})")
}

/// The stored text of the time `seconds` before now (UTC RFC 3339 with milliseconds).
fn ago(postgres: bool, seconds: &str) -> String {
    if postgres {
        format!(
            "to_char((now() - ({seconds}) * interval '1 second') AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
        )
    } else {
        format!("strftime('%Y-%m-%dT%H:%M:%fZ', 'now', (0 - ({seconds})) || ' seconds')")
    }
}

async fn fill(url: &str) {
    let store = botwright::store::sql::SqlStore::open(url).await.unwrap();
    let pg = url.starts_with("postgres");
    let started = Instant::now();
    let statements = [
        format!(
            "{} INSERT INTO chats (bot, chat, name, first_seen) SELECT 'demo', x, 'User ' || x, {} FROM s",
            series(USERS),
            ago(pg, "x")
        ),
        format!(
            "{} INSERT INTO registrations (bot, chat, kind, principal_id, principal_name, name, registered_at, search) \
             SELECT 'demo', x, 'user', 'p' || x, 'Пользователь ' || x, 'User ' || x, {}, \
             x || ' user ' || x || ' user p' || x || ' пользователь ' || x FROM s",
            series(USERS),
            ago(pg, "x")
        ),
        format!(
            "{} INSERT INTO broadcasts (bot, recipients, unknown, created_at) SELECT 'demo', 20, '[]', {} FROM s",
            series(1_000),
            ago(pg, "x * 600")
        ),
        // Most sent; one in a hundred failed; one in a thousand scheduled for tomorrow; one
        // in fifty part of a broadcast.
        format!(
            "{} INSERT INTO outbox (bot, chat, text, keyboard, attachments, status, due_at, created_at, attempts, \
             sent_at, finished_at, broadcast) \
             SELECT 'demo', x % {USERS} + 1, 'Сообщение ' || x, '', '[]', \
             CASE WHEN x % 1000 = 1 THEN 'scheduled' WHEN x % 100 = 0 THEN 'failed' ELSE 'sent' END, \
             CASE WHEN x % 1000 = 1 THEN {} ELSE {} END, {}, 0, {}, {}, \
             CASE WHEN x % 50 = 0 THEN x % 1000 + 1 ELSE NULL END FROM s",
            series(MESSAGES),
            ago(pg, "-86400"),
            ago(pg, &format!("({MESSAGES} - x) / 2")),
            ago(pg, &format!("({MESSAGES} - x) / 2")),
            ago(pg, &format!("({MESSAGES} - x) / 2")),
            ago(pg, &format!("({MESSAGES} - x) / 2"))
        ),
        format!(
            "{} INSERT INTO insights (bot, at, chat, kind, name, value) \
             SELECT 'demo', {}, x % {USERS} + 1, 'update', \
             CASE WHEN x % 5 = 0 THEN 'unknown' ELSE 'record' END, \
             CASE WHEN x % 5 = 0 THEN 'xyzzy' || (x % 50) ELSE 'a1' END FROM s",
            series(UPDATES),
            ago(pg, &format!("x * 2592000 / {UPDATES}"))
        ),
        format!(
            "{} INSERT INTO insights (bot, at, chat, kind, name, value, ms) \
             SELECT 'demo', {}, x % {USERS} + 1, 'algorithm', 'calculation', \
             CASE WHEN x % 20 = 0 THEN 'failed' ELSE 'ok' END, x % 300 FROM s",
            series(UPDATES / 10),
            ago(pg, &format!("x * 2592000 / {}", UPDATES / 10))
        ),
        format!(
            "{} INSERT INTO auth_requests (bot, chat, user_id, name, data, status, created_at) \
             SELECT 'support', x, x, 'User ' || x, 'ООО ' || x, \
             CASE WHEN x % 10 = 0 THEN 'pending' ELSE 'approved' END, {} FROM s",
            series(REQUESTS),
            ago(pg, "x")
        ),
        format!(
            "{} INSERT INTO audit (at, operator, action, bot, object, detail) \
             SELECT {}, 'oleg', 'send message', 'demo', '' || x, 'to key ' || x FROM s",
            series(AUDIT),
            ago(pg, "x")
        ),
    ];
    for sql in statements {
        sqlx::query(&sql).execute(&store.pool).await.unwrap();
    }
    sqlx::query("ANALYZE").execute(&store.pool).await.unwrap();
    store.pool.close().await;
    println!("  filled in {:.1} s", started.elapsed().as_secs_f64());
}

/// (median, slowest) milliseconds of `path`, after a warm-up.
async fn time(api: &str, path: &str) -> (f64, f64, usize) {
    let url = format!("{api}{path}");
    let mut times = Vec::new();
    let mut bytes = 0;
    for round in 0..8 {
        let url = url.clone();
        let started = Instant::now();
        let (status, body) = tokio::task::spawn_blocking(move || http_call("GET", &url, None, Some(API_TOKEN)))
            .await
            .unwrap();
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        assert_eq!(status, 200, "{path}: {body}");
        bytes = body.len();
        if round > 0 {
            times.push(ms);
        }
    }
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], times[times.len() - 1], bytes)
}

async fn measure(name: &str, url: String) {
    println!("{name}: {USERS} users, {MESSAGES} messages, {UPDATES} updates logged");
    fill(&url).await;
    let s = ApiBots::start(Some(url), &[]).await;
    let since = |hours: i64| {
        (chrono::Utc::now() - chrono::Duration::hours(hours)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    let paths = [
        "/console/".to_string(),
        "/api/v1/me".into(),
        "/api/v1/bots".into(),
        "/api/v1/bots/demo/overview".into(),
        "/api/v1/bots/demo/users?limit=50".into(),
        "/api/v1/bots/demo/users?limit=50&after=50000".into(),
        "/api/v1/bots/demo/users?limit=50&q=%D0%BF%D0%BE%D0%BB%D1%8C%D0%B7%D0%BE%D0%B2%D0%B0%D1%82%D0%B5%D0%BB%D1%8C%2077777".into(),
        "/api/v1/bots/demo/users?limit=50&q=nobody".into(),
        "/api/v1/bots/support/auth-requests?status=pending&limit=50".into(),
        "/api/v1/bots/support/auth-requests?status=pending&limit=50&after=50000".into(),
        "/api/v1/bots/demo/messages?order=newest&limit=50".into(),
        "/api/v1/bots/demo/messages?order=newest&limit=50&before=500000".into(),
        "/api/v1/bots/demo/messages?order=newest&limit=50&status=failed".into(),
        "/api/v1/bots/demo/messages?order=newest&limit=50&status=scheduled".into(),
        "/api/v1/bots/demo/messages?order=newest&limit=50&status=queued".into(),
        "/api/v1/bots/demo/messages?order=newest&limit=50&to=77777".into(),
        "/api/v1/bots/demo/messages?limit=50&after=900000".into(),
        "/api/v1/bots/demo/broadcasts?order=newest&limit=50".into(),
        format!("/api/v1/bots/demo/insights?from={}", since(24)),
        "/api/v1/bots/demo/insights".into(),
        format!("/api/v1/bots/demo/insights?from={}", since(24 * 30)),
        "/api/v1/audit?order=newest&limit=50".into(),
        "/api/v1/audit?order=newest&limit=50&before=50000".into(),
    ];
    let mut slowest = (0.0, String::new());
    for path in &paths {
        let (median, max, bytes) = time(&s.api, path).await;
        println!("  {median:>7.1} ms median {max:>7.1} ms max {bytes:>8} B  {path}");
        if max > slowest.0 {
            slowest = (max, path.clone());
        }
    }
    println!(
        "  slowest: {:.1} ms ({}); target 300 ms: {}",
        slowest.0,
        slowest.1,
        if slowest.0 < 300.0 { "met" } else { "MISSED" }
    );
}

fn main() {
    if std::env::args()
        .skip(1)
        .any(|a| !a.starts_with('-') && !"console".contains(a.as_str()))
    {
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        // `BOTWRIGHT_BENCH_DB=PATH` keeps the SQLite database there, for a look at the plans.
        let file = std::env::var("BOTWRIGHT_BENCH_DB")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|_| dir.path().join("console.db"));
        let _ = std::fs::remove_file(&file);
        let sqlite = format!("sqlite://{}", file.display());
        measure("SQLite", sqlite).await;
        if std::env::var("BOTWRIGHT_TEST_POSTGRES").is_ok() {
            let pg = support::postgres_db().await;
            measure("PostgreSQL", pg).await;
        }
    });
}
