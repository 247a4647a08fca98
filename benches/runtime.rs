//! The runtime against its peer, in the same run, on the same fake Bot API
//! on 127.0.0.1 (Telegram's sending limits lifted):
//! - CPU per update of `botwright run` (SQLite, fsync on) and of the
//!   hand-written teloxide bot of `benches/baseline/` giving the same
//!   replies with no storage: 20,000 updates from 2,000 users;
//! - a second `botwright run` on the same database (20,000 updates of history);
//! - arrival-to-sendMessage latency at 1,000 updates/s;
//! - 100 bots in one process, 100 users each;
//! - the cost of the insights log: fresh-database runs with the log off
//!   (`BOTWRIGHT_NO_INSIGHTS`) and on, alternated (`BOTWRIGHT_BENCH_ONLY=insights`
//!   runs only these).
//!
//! - PostgreSQL (`BOTWRIGHT_BENCH_ONLY=postgres`): `botwright run --db postgres://…`
//!   against the same bot on teloxide with `Dialogue<_, PostgresStorage<Json>>`
//!   (`benches/baseline/postgres.rs`), 4,000 updates from 800 users, each on a
//!   fresh database of one throw-away PostgreSQL 15 server with default
//!   settings, alternated; the server's CPU per update is measured too.
//!
//! - Before and after a change (`BOTWRIGHT_BENCH_ONLY=before`,
//!   `BOTWRIGHT_BENCH_BEFORE=<an earlier build's botwright binary>`): both builds
//!   alternated on fresh SQLite and PostgreSQL databases.
//!
//! CPU is user + system time of the bot's process from /proc.
//! `cargo bench --bench runtime`; figures go to BENCHMARKS.md.

#[path = "../tests/it/support/mod.rs"]
mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::{Botwright, FakeTelegram};

/// Each user's messages: a keyword, a choice, its option, the confirmation, an unknown
/// text, an expression (code mode), again. Every message gets exactly one reply.
const SCRIPT: [&str; 10] = ["А1", "Выбор", "1", "Да", "xyzzy", "2+2*2", "А1", "Выбор", "1", "Да"];

/// User plus system CPU seconds of a process, from /proc.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks: f64 = fields.get(11).and_then(|u| u.parse().ok()).unwrap_or(0.0)
        + fields.get(12).and_then(|s| s.parse().ok()).unwrap_or(0.0);
    ticks / 100.0
}

struct Figures {
    updates: usize,
    polls: usize,
    cpu_us: f64,
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
}

impl std::fmt::Display for Figures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} updates: {:.0} µs CPU per update, {:.0} updates/s, latency p50 {:.1} ms, p99 {:.1} ms, {:.2} getUpdates per update",
            self.updates,
            self.cpu_us,
            self.per_second,
            self.p50_ms,
            self.p99_ms,
            self.polls as f64 / self.updates as f64
        )
    }
}

fn percentile(mut v: Vec<Duration>, p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i].as_secs_f64() * 1000.0
}

/// Pushes `rounds` of the script for `users` chats of each token, either all at once
/// (`rate` = None) or paced at `rate` updates a second; waits for every reply and
/// measures the process.
async fn drive(
    fake: &FakeTelegram,
    tokens: &[String],
    users: i64,
    rounds: usize,
    rate: Option<f64>,
    pid: u32,
) -> Figures {
    let total = tokens.len() * users as usize * rounds;
    let already: usize = tokens.iter().map(|t| fake.count(t, "SendMessage")).sum();
    let polls_before: usize = tokens.iter().map(|t| fake.count(t, "GetUpdates")).sum();
    let cpu_before = cpu_seconds(pid);
    let started = Instant::now();
    let mut n = 0usize;
    for round in 0..rounds {
        for u in 0..users {
            for t in tokens {
                if let Some(rate) = rate {
                    let due = started + Duration::from_secs_f64(n as f64 / rate);
                    if let Some(wait) = due.checked_duration_since(Instant::now()) {
                        tokio::time::sleep(wait).await;
                    }
                }
                fake.text(t, 1_000 + u, "Bench", SCRIPT[round % SCRIPT.len()]);
                n += 1;
            }
        }
    }
    let deadline = Instant::now() + Duration::from_secs(600);
    while tokens.iter().map(|t| fake.count(t, "SendMessage")).sum::<usize>() < already + total {
        assert!(Instant::now() < deadline, "not every update was answered");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds(pid) - cpu_before;
    let latencies: Vec<Duration> = tokens.iter().flat_map(|t| fake.reply_latencies(t)).collect();
    let polls: usize = tokens.iter().map(|t| fake.count(t, "GetUpdates")).sum::<usize>() - polls_before;
    Figures {
        updates: total,
        polls,
        cpu_us: cpu / total as f64 * 1e6,
        per_second: total as f64 / elapsed,
        p50_ms: percentile(latencies.clone(), 0.5),
        p99_ms: percentile(latencies, 0.99),
    }
}

fn baseline_binary() -> std::path::PathBuf {
    let status = Command::new(env!("CARGO"))
        .args(["build", "--release", "--quiet", "--example", "baseline"])
        .status()
        .expect("cargo runs");
    assert!(status.success(), "the baseline bot builds");
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/examples/baseline")
}

struct Baseline(Child);

impl Drop for Baseline {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn baseline(binary: &std::path::Path, users: i64, rate: Option<f64>) -> Figures {
    let fake = FakeTelegram::start().await;
    let token = "600000:baseline-token".to_string();
    fake.add_bot(&token, 600_000, "baseline");
    let child = Command::new(binary)
        .env("TELOXIDE_TOKEN", &token)
        .env("TELOXIDE_API_URL", &fake.url)
        .env("RUST_LOG", "off")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the baseline bot starts");
    let child = Baseline(child);
    wait_polling(&fake, std::slice::from_ref(&token)).await;
    drive(&fake, &[token], users, SCRIPT.len(), rate, child.0.id()).await
}

async fn wait_polling(fake: &FakeTelegram, tokens: &[String]) {
    support::wait_for("polling", || tokens.iter().all(|t| fake.count(t, "GetUpdates") > 0)).await;
}

/// A directory of `bots` copies of the demo bot, with their tokens.
fn bots_dir(dir: &std::path::Path, fake: &FakeTelegram, bots: usize) -> (Vec<(String, String)>, Vec<String>) {
    let demo = std::fs::read_to_string("bots/demo.toml").unwrap();
    let mut env = Vec::new();
    let mut tokens = Vec::new();
    for i in 0..bots {
        let token = format!("{}:bench-token-{i}", 500_000 + i);
        fake.add_bot(&token, 500_000 + i as i64, &format!("bench{i}"));
        let body = demo.replace("DEMO_BOT_TOKEN", &format!("BENCH_TOKEN_{i}"));
        std::fs::write(dir.join(format!("bench{i}.toml")), body).unwrap();
        env.push((format!("BENCH_TOKEN_{i}"), token.clone()));
        tokens.push(token);
    }
    (env, tokens)
}

fn start(dir: &std::path::Path, db: &str, fake: &FakeTelegram, env: &[(String, String)], log: &str) -> Botwright {
    start_binary(
        std::path::Path::new(env!("CARGO_BIN_EXE_botwright")),
        dir,
        db,
        fake,
        env,
        log,
    )
}

fn start_binary(
    binary: &std::path::Path,
    dir: &std::path::Path,
    db: &str,
    fake: &FakeTelegram,
    env: &[(String, String)],
    log: &str,
) -> Botwright {
    let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Botwright::start_binary(
        binary,
        dir,
        db,
        &fake.url,
        &env_refs,
        dir.join(log),
        &["--bot-rate", "100000", "--chat-rate", "100000"],
    )
}

async fn botwright_runs(users: i64) -> (Figures, Figures) {
    let fake = FakeTelegram::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (env, tokens) = bots_dir(dir.path(), &fake, 1);
    let db = format!("sqlite://{}", dir.path().join("state.db").display());
    let first = {
        let bw = start(dir.path(), &db, &fake, &env, "log1");
        wait_polling(&fake, &tokens).await;
        let f = drive(&fake, &tokens, users, SCRIPT.len(), None, bw.child.id()).await;
        bw.signal("TERM");
        f
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let polls = fake.count(&tokens[0], "GetUpdates");
    let bw = start(dir.path(), &db, &fake, &env, "log2");
    support::wait_for("polling again", || fake.count(&tokens[0], "GetUpdates") > polls).await;
    let second = drive(&fake, &tokens, users, SCRIPT.len(), None, bw.child.id()).await;
    (first, second)
}

/// One run on a fresh database, with the insights log on or off.
async fn botwright_fresh(users: i64, log: bool) -> Figures {
    let fake = FakeTelegram::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (mut env, tokens) = bots_dir(dir.path(), &fake, 1);
    if !log {
        env.push(("BOTWRIGHT_NO_INSIGHTS".into(), "1".into()));
    }
    let db = format!("sqlite://{}", dir.path().join("state.db").display());
    let bw = start(dir.path(), &db, &fake, &env, "log");
    wait_polling(&fake, &tokens).await;
    drive(&fake, &tokens, users, SCRIPT.len(), None, bw.child.id()).await
}

/// One run of a given build of botwright on a fresh database: SQLite, or PostgreSQL when
/// `cluster` is given (then the server's CPU per update is added to the bot's).
async fn build_fresh(binary: &std::path::Path, users: i64, cluster: Option<(&Cluster, String)>) -> (f64, Figures) {
    let fake = FakeTelegram::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (env, tokens) = bots_dir(dir.path(), &fake, 1);
    let db = match &cluster {
        Some((_, url)) => url.clone(),
        None => format!("sqlite://{}", dir.path().join("state.db").display()),
    };
    let bw = start_binary(binary, dir.path(), &db, &fake, &env, "log");
    wait_polling(&fake, &tokens).await;
    let server = cluster.as_ref().map(|(c, _)| c.cpu()).unwrap_or(0.0);
    let f = drive(&fake, &tokens, users, SCRIPT.len(), None, bw.child.id()).await;
    let server = match &cluster {
        Some((c, _)) => (c.cpu() - server) / f.updates as f64 * 1e6,
        None => 0.0,
    };
    (f.cpu_us + server, f)
}

/// `BOTWRIGHT_BENCH_ONLY=before` with `BOTWRIGHT_BENCH_BEFORE=<an earlier build of
/// botwright>`: that build and this one, alternated on fresh databases, on SQLite and on a
/// throw-away PostgreSQL; the mean CPU per update (bot, plus server on PostgreSQL) of each.
async fn before_and_after(before: &std::path::Path, pairs: usize) {
    let after = std::path::Path::new(env!("CARGO_BIN_EXE_botwright"));
    let cluster = Cluster::start();
    for postgres in [false, true] {
        let (mut b, mut a, mut b_rate, mut a_rate) = (0.0, 0.0, 0.0, 0.0);
        for i in 0..pairs {
            for (name, binary) in [("before", before), ("after ", after)] {
                let on = postgres.then(|| (&cluster, cluster.database(&format!("{}_{i}", name.trim()))));
                let users = if postgres { 800 } else { 2_000 };
                let (cpu, f) = build_fresh(binary, users, on).await;
                println!(
                    "{name} {} {f}; {cpu:.0} µs CPU per update with the server",
                    if postgres { "PostgreSQL" } else { "SQLite    " }
                );
                if name == "before" {
                    b += cpu;
                    b_rate += f.per_second;
                } else {
                    a += cpu;
                    a_rate += f.per_second;
                }
            }
        }
        let n = pairs as f64;
        println!(
            "{}: before {:.0} µs, {:.0} updates/s; after {:.0} µs, {:.0} updates/s (mean of {pairs}); after / before {:.2}x CPU, {:.2}x throughput",
            if postgres { "PostgreSQL" } else { "SQLite" },
            b / n,
            b_rate / n,
            a / n,
            a_rate / n,
            a / b,
            a_rate / b_rate
        );
    }
}

/// The insights log's cost: runs with the log off and on, alternated so that a change in the
/// machine's load falls on both; the ratio of their mean CPU per update.
async fn insights_cost(users: i64, pairs: usize) -> f64 {
    let (mut off, mut on) = (0.0, 0.0);
    for _ in 0..pairs {
        let f = botwright_fresh(users, false).await;
        println!("botwright, insights log off {f}");
        off += f.cpu_us;
        let f = botwright_fresh(users, true).await;
        println!("botwright, insights log on  {f}");
        on += f.cpu_us;
    }
    let ratio = on / off;
    println!(
        "insights log: {:.0} µs with, {:.0} µs without (mean of {pairs} each): {ratio:.3}x",
        on / pairs as f64,
        off / pairs as f64
    );
    ratio
}

async fn botwright_paced(users: i64, rate: f64) -> Figures {
    let fake = FakeTelegram::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (env, tokens) = bots_dir(dir.path(), &fake, 1);
    let db = format!("sqlite://{}", dir.path().join("state.db").display());
    let bw = start(dir.path(), &db, &fake, &env, "log");
    wait_polling(&fake, &tokens).await;
    drive(&fake, &tokens, users, SCRIPT.len(), Some(rate), bw.child.id()).await
}

async fn many_bots(bots: usize, users: i64, rounds: usize) -> Figures {
    let fake = FakeTelegram::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (env, tokens) = bots_dir(dir.path(), &fake, bots);
    let db = format!("sqlite://{}", dir.path().join("state.db").display());
    let bw = start(dir.path(), &db, &fake, &env, "log");
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while !tokens.iter().all(|t| fake.count(t, "GetUpdates") > 0) {
        if std::time::Instant::now() > deadline {
            let log = bw.log_text();
            let polling = tokens.iter().filter(|t| fake.count(t, "GetUpdates") > 0).count();
            panic!(
                "{polling} of {bots} bots poll after 120 s; the log ends:\n{}",
                log.chars()
                    .rev()
                    .take(3000)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect::<String>()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drive(&fake, &tokens, users, rounds, None, bw.child.id()).await
}

/// A throw-away PostgreSQL 15 server with default settings (fsync and synchronous commit
/// on), stopped and removed when dropped.
struct Cluster {
    dir: std::path::PathBuf,
    port: u16,
}

fn as_postgres(args: &[&str]) -> Command {
    let mut c = Command::new("runuser");
    c.args(["-u", "postgres", "--"]).args(args);
    c
}

impl Cluster {
    fn start() -> Cluster {
        let bin = std::path::Path::new("/usr/lib/postgresql/15/bin");
        let dir = std::env::temp_dir().join(format!("botwright-bench-pg-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Command::new("chown").arg("postgres").arg(&dir).status().unwrap();
        let port = support::free_port();
        let d = dir.display().to_string();
        let ok = as_postgres(&[
            bin.join("initdb").to_str().unwrap(),
            "-D",
            &d,
            "-A",
            "trust",
            "-U",
            "postgres",
        ])
        .stdout(Stdio::null())
        .status()
        .unwrap();
        assert!(ok.success(), "initdb");
        let mut options = format!("-p {port} -k {d} -c listen_addresses=127.0.0.1");
        // `BOTWRIGHT_BENCH_PG_STATS=1`: where the server's time goes, by statement.
        if std::env::var_os("BOTWRIGHT_BENCH_PG_STATS").is_some() {
            options.push_str(" -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all");
        }
        let ok = as_postgres(&[
            bin.join("pg_ctl").to_str().unwrap(),
            "-D",
            &d,
            "-o",
            &options,
            "-l",
            &format!("{d}/log"),
            "-w",
            "start",
        ])
        .stdout(Stdio::null())
        .status()
        .unwrap();
        assert!(ok.success(), "pg_ctl start");
        Cluster { dir, port }
    }

    /// A new database's URL.
    fn database(&self, name: &str) -> String {
        let ok = as_postgres(&[
            "psql",
            "-h",
            "127.0.0.1",
            "-p",
            &self.port.to_string(),
            "-U",
            "postgres",
            "-q",
            "-c",
            &format!("CREATE DATABASE {name}"),
        ])
        .status()
        .unwrap();
        assert!(ok.success());
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// The server's CPU seconds so far: the postmaster with the children it reaped, and its
    /// living children.
    fn cpu(&self) -> f64 {
        let pid_file = std::fs::read_to_string(self.dir.join("postmaster.pid")).unwrap_or_default();
        let Some(master) = pid_file.lines().next().and_then(|l| l.trim().parse::<u32>().ok()) else {
            return 0.0;
        };
        let stat = |pid: &str| -> Option<Vec<String>> {
            let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            Some(
                text.rsplit(')')
                    .next()?
                    .split_whitespace()
                    .map(str::to_string)
                    .collect(),
            )
        };
        let ticks = |f: &[String], from: usize, to: usize| -> f64 {
            (from..=to)
                .filter_map(|i| f.get(i).and_then(|v| v.parse::<f64>().ok()))
                .sum()
        };
        let mut total = stat(&master.to_string()).map(|f| ticks(&f, 11, 14)).unwrap_or(0.0);
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if !name.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            if let Some(f) = stat(&name)
                && f.get(1).map(String::as_str) == Some(&master.to_string())
            {
                total += ticks(&f, 11, 12);
            }
        }
        total / 100.0
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let d = self.dir.display().to_string();
        let _ = as_postgres(&["/usr/lib/postgresql/15/bin/pg_ctl", "-D", &d, "-m", "immediate", "stop"])
            .stdout(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn postgres_baseline_binary() -> std::path::PathBuf {
    let status = Command::new(env!("CARGO"))
        .args([
            "build",
            "--release",
            "--quiet",
            "--example",
            "baseline_postgres",
            "--features",
            "bench-postgres-baseline",
        ])
        .status()
        .expect("cargo runs");
    assert!(status.success(), "the PostgreSQL baseline bot builds");
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/examples/baseline_postgres")
}

/// (bot, server CPU µs per update, the figures) of one run.
async fn teloxide_postgres(
    binary: &std::path::Path,
    cluster: &Cluster,
    db: &str,
    users: i64,
    rounds: usize,
) -> (f64, Figures) {
    let fake = FakeTelegram::start().await;
    let token = "600001:baseline-pg-token".to_string();
    fake.add_bot(&token, 600_001, "baseline_pg");
    let child = Baseline(
        Command::new(binary)
            .env("TELOXIDE_TOKEN", &token)
            .env("TELOXIDE_API_URL", &fake.url)
            .env("DATABASE_URL", db)
            .env("RUST_LOG", "off")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the baseline bot starts"),
    );
    wait_polling(&fake, std::slice::from_ref(&token)).await;
    let server = cluster.cpu();
    let f = drive(&fake, &[token], users, rounds, None, child.0.id()).await;
    ((cluster.cpu() - server) / f.updates as f64 * 1e6, f)
}

async fn botwright_postgres(cluster: &Cluster, db: &str, users: i64, rounds: usize) -> (f64, Figures) {
    let fake = FakeTelegram::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (env, tokens) = bots_dir(dir.path(), &fake, 1);
    let bw = start(dir.path(), db, &fake, &env, "log");
    wait_polling(&fake, &tokens).await;
    let server = cluster.cpu();
    let f = drive(&fake, &tokens, users, rounds, None, bw.child.id()).await;
    let server = (cluster.cpu() - server) / f.updates as f64 * 1e6;
    if std::env::var_os("BOTWRIGHT_BENCH_PG_STATS").is_some() {
        let name = db.rsplit('/').next().unwrap_or("");
        let sql = "CREATE EXTENSION IF NOT EXISTS pg_stat_statements; \
             SELECT calls, round(total_exec_time::numeric, 1) AS ms, rows, left(regexp_replace(query, '\\s+', ' ', 'g'), 150) \
             FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) \
             ORDER BY total_exec_time DESC LIMIT 30";
        let out = as_postgres(&[
            "psql",
            "-h",
            "127.0.0.1",
            "-p",
            &cluster.port.to_string(),
            "-U",
            "postgres",
            "-d",
            name,
            "-c",
            sql,
        ])
        .output()
        .unwrap();
        println!("{}", String::from_utf8_lossy(&out.stdout));
    }
    (server, f)
}

/// botwright and teloxide + PostgresStorage on one server, alternated.
async fn postgres_pairs(users: i64, pairs: usize) {
    let binary = postgres_baseline_binary();
    let cluster = Cluster::start();
    let rounds = 5;
    let (mut t_total, mut b_total) = (0.0, 0.0);
    let (mut t_rate, mut b_rate) = (0.0, 0.0);
    for i in 0..pairs {
        let db = cluster.database(&format!("teloxide_{i}"));
        let (server, f) = teloxide_postgres(&binary, &cluster, &db, users, rounds).await;
        println!(
            "teloxide + PostgresStorage  {f}; server {server:.0} µs per update; bot + server {:.0} µs",
            f.cpu_us + server
        );
        t_total += f.cpu_us + server;
        t_rate += f.per_second;
        let db = cluster.database(&format!("botwright_{i}"));
        let (server, f) = botwright_postgres(&cluster, &db, users, rounds).await;
        println!(
            "botwright --db postgres     {f}; server {server:.0} µs per update; bot + server {:.0} µs",
            f.cpu_us + server
        );
        b_total += f.cpu_us + server;
        b_rate += f.per_second;
    }
    let n = pairs as f64;
    println!(
        "PostgreSQL: botwright {:.0} µs (bot + server) per update, {:.0} updates/s; teloxide + PostgresStorage {:.0} µs, {:.0} updates/s; ratio {:.2}x CPU, {:.2}x throughput",
        b_total / n,
        b_rate / n,
        t_total / n,
        t_rate / n,
        (b_total / n) / (t_total / n),
        (b_rate / n) / (t_rate / n)
    );
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument that is not ours skips this benchmark.
    if std::env::args()
        .skip(1)
        .any(|a| !a.starts_with('-') && !"runtime".contains(a.as_str()))
    {
        return;
    }
    let binary = baseline_binary();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        if std::env::var("BOTWRIGHT_BENCH_ONLY").as_deref() == Ok("many") {
            let many = many_bots(100, 100, 2).await;
            println!("botwright, 100 bots        {many}");
            return;
        }
        if std::env::var("BOTWRIGHT_BENCH_ONLY").as_deref() == Ok("postgres") {
            postgres_pairs(800, 3).await;
            return;
        }
        if std::env::var("BOTWRIGHT_BENCH_ONLY").as_deref() == Ok("before") {
            let before =
                std::env::var("BOTWRIGHT_BENCH_BEFORE").expect("BOTWRIGHT_BENCH_BEFORE names the earlier build");
            let pairs = std::env::var("BOTWRIGHT_BENCH_PAIRS")
                .ok()
                .and_then(|p| p.parse().ok())
                .unwrap_or(3);
            before_and_after(std::path::Path::new(&before), pairs).await;
            return;
        }
        if std::env::var("BOTWRIGHT_BENCH_ONLY").as_deref() == Ok("insights") {
            insights_cost(2_000, 3).await;
            return;
        }
        let base = baseline(&binary, 2_000, None).await;
        println!("baseline teloxide bot      {base}");
        let (first, second) = botwright_runs(2_000).await;
        println!("botwright, fresh database  {first}");
        println!("botwright, same database   {second}");
        println!(
            "ratio to the baseline: {:.2}x (fresh), {:.2}x (with history); second run / first: {:.2}x",
            first.cpu_us / base.cpu_us,
            second.cpu_us / base.cpu_us,
            second.cpu_us / first.cpu_us
        );
        // `BOTWRIGHT_BENCH_ONLY=fresh`: only the comparison above.
        if std::env::var("BOTWRIGHT_BENCH_ONLY").as_deref() == Ok("fresh") {
            return;
        }
        let paced_base = baseline(&binary, 1_000, Some(1_000.0)).await;
        println!("baseline at 1,000/s        {paced_base}");
        let paced = botwright_paced(1_000, 1_000.0).await;
        println!("botwright at 1,000/s       {paced}");
        let many = many_bots(100, 100, 2).await;
        println!("botwright, 100 bots        {many}");
        println!("100 bots / 1 bot CPU per update: {:.2}x", many.cpu_us / first.cpu_us);
        insights_cost(2_000, 2).await;
    });
}
