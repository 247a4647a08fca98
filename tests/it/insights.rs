//! The insights log (api.md, Insights): the events the engine reports, their rows written in
//! the group commit and deleted by retention on SQLite and PostgreSQL, the API's aggregate
//! and `botwright insights`.

use crate::support::{API_TOKEN, Botwright, FakeTelegram, free_port, http_call, wait_for};
use botwright::diagnostics::SourceFile;
use botwright::engine::{CallResult, Event, Insight, Reached, User, step};
use botwright::store::MemoryWorld;
use botwright::store::Stub;
use botwright::store::buffered::BufferedWorld;
use botwright::store::insights::log_rows;
use botwright::store::sql::SqlStore;
use serde_json::{Value, json};

const BOT: &str = r#"
[bot]
name = "Café"
token_env = "CAFE_BOT_TOKEN"
language = "en"

[[keyword]]
id = "hello"
match = "hello, hi"
reply = "Hello!"

[[keyword]]
id = "order"
match = "order"
choice = "What would you like?"

[[keyword]]
id = "tea"
parent = "order"
match = "Tea"
reply = "Tea it is"

[[keyword]]
id = "coffee"
parent = "order"
match = "Coffee"
reply = "Coffee it is"

[[keyword]]
id = "feedback"
match = "feedback"
input = "Tell us"
then = "thanks"

[[keyword]]
id = "thanks"
reply = "Thanks"

[[keyword]]
id = "price"
match = "price"
run = "price"

[algorithms.price]
expr = "'42'"
"#;

fn bot(text: &str) -> botwright::model::CompiledBot {
    let mut found = Vec::new();
    botwright::validate::compile("cafe", &SourceFile::new("cafe.toml", text.to_string()), &mut found)
        .unwrap_or_else(|| panic!("{found:#?}"))
}

fn now() -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_rfc3339("2021-02-06T14:00:00+03:00").unwrap()
}

const USER: User = User {
    id: 5,
    chat: 5,
    name: String::new(),
    username: None,
};

#[test]
fn the_engine_reports_outcomes_and_events() {
    let bot = bot(BOT);
    let mut world = MemoryWorld::default();
    let mut runner = botwright::algorithms::Runner::offline();
    let say = |text: &str, world: &mut MemoryWorld, runner: &mut botwright::algorithms::Runner| {
        step(&bot, world, runner, &USER, &Event::Text(text.into()), now()).unwrap()
    };
    let shown = say("order", &mut world, &mut runner);
    assert_eq!(shown.reached, Reached::Record("order".into()));
    assert_eq!(shown.insights, [Insight::ChoiceShown { choice: "order".into() }]);
    // An unknown text, as typed, keeps the choice open.
    let unknown = say("Cofee  ", &mut world, &mut runner);
    assert_eq!(unknown.reached, Reached::Unknown(Some("Cofee  ".into())));
    assert!(unknown.insights.is_empty());
    let taken = say("coffee", &mut world, &mut runner);
    assert_eq!(taken.reached, Reached::Record("coffee".into()));
    assert_eq!(
        taken.insights,
        [Insight::OptionTaken {
            choice: "order".into(),
            option: "coffee".into(),
            label: "Coffee".into()
        }]
    );
    let asked = say("feedback", &mut world, &mut runner);
    assert_eq!(
        asked.insights,
        [Insight::InputAsked {
            record: "feedback".into()
        }]
    );
    let answered = say("lovely", &mut world, &mut runner);
    assert_eq!(answered.reached, Reached::Record("thanks".into()));
    assert_eq!(
        answered.insights,
        [Insight::InputAnswered {
            record: "feedback".into()
        }]
    );
    // Left by a cancel word: given up.
    say("feedback", &mut world, &mut runner);
    let cancelled = say("/cancel", &mut world, &mut runner);
    assert_eq!(cancelled.reached, Reached::Cancel);
    assert_eq!(
        cancelled.insights,
        [Insight::InputGaveUp {
            record: "feedback".into()
        }]
    );
    // An algorithm that works, then one that fails and one that times out.
    let ok = say("price", &mut world, &mut runner);
    assert!(matches!(&ok.insights[..], [Insight::Algorithm { name, result: CallResult::Ok, .. }] if name == "price"));
    runner.stubs.insert("price".into(), Stub::Fails);
    let failed = say("price", &mut world, &mut runner);
    assert_eq!(failed.reached, Reached::Record("price".into()));
    assert!(matches!(
        &failed.insights[..],
        [Insight::Algorithm {
            result: CallResult::Failed,
            ..
        }]
    ));
    runner.stubs.insert("price".into(), Stub::TimesOut);
    let late = say("price", &mut world, &mut runner);
    assert!(matches!(
        &late.insights[..],
        [Insight::Algorithm {
            result: CallResult::Timeout,
            ..
        }]
    ));
    assert_eq!(say("/start", &mut world, &mut runner).reached, Reached::Start);
    // A forged button is stale.
    let stale = step(
        &bot,
        &mut world,
        &mut runner,
        &USER,
        &Event::Button("o:zzzz:1:1".into()),
        now(),
    )
    .unwrap();
    assert_eq!(stale.reached, Reached::Stale);
}

#[test]
fn without_log_texts_an_unknown_text_is_counted_not_kept() {
    let bot = bot(&BOT.replace("language = \"en\"", "language = \"en\"\nlog_texts = false"));
    let s = step(
        &bot,
        &mut MemoryWorld::default(),
        &mut botwright::algorithms::Runner::offline(),
        &USER,
        &Event::Text("secret".into()),
        now(),
    )
    .unwrap();
    assert_eq!(s.reached, Reached::Unknown(None));
}

/// Rows written in the group commit with their update (once: a duplicate writes none),
/// aggregated, and deleted by retention.
async fn store_suite(url: &str) {
    let bot = bot(BOT);
    let store = SqlStore::open(url).await.unwrap();
    let store2 = store.clone();
    let compiled = self::bot(BOT);
    tokio::task::spawn_blocking(move || {
        let handle = tokio::runtime::Handle::current();
        let store = store2;
        let mut memory = MemoryWorld::default();
        let mut runner = botwright::algorithms::Runner::offline();
        for (update, text) in [(1, "order"), (2, "helo"), (3, "hello"), (4, "order"), (5, "Coffee")] {
            let s = step(
                &compiled,
                &mut memory,
                &mut runner,
                &USER,
                &Event::Text(text.into()),
                now(),
            )
            .unwrap();
            let rows = log_rows("cafe", 5, now(), &s.reached, &s.insights);
            let w = BufferedWorld::new(&store, "cafe", handle.clone());
            w.commit_logged(Some(update), &USER, &s.out, rows.clone(), now())
                .unwrap();
            if update == 5 {
                // The same update again: a duplicate, whose rows are not written twice.
                let w = BufferedWorld::new(&store, "cafe", handle.clone());
                assert!(w.commit_logged(Some(update), &USER, &s.out, rows, now()).is_err());
            }
        }
    })
    .await
    .unwrap();
    let (from, to) = (now() - chrono::Duration::hours(1), now() + chrono::Duration::hours(1));
    let found = store.insights(&bot, from, to).await.unwrap();
    assert_eq!(found.updates, 5, "{url}");
    assert_eq!(found.users, 1);
    let v = serde_json::to_value(&found).unwrap();
    assert_eq!(
        v["records"],
        json!([{"id": "order", "hits": 2}, {"id": "coffee", "hits": 1}, {"id": "hello", "hits": 1}])
    );
    assert_eq!(
        v["unknown"],
        json!([{"text": "helo", "count": 1, "suggest": ["hello"]}])
    );
    // The first showing: the next message that is not unknown ("hello") took none of its options.
    assert_eq!(v["choices"][0]["shown"], 2);
    assert_eq!(v["choices"][0]["abandoned"], 1);
    let early = store.insights(&bot, from, now()).await.unwrap();
    assert_eq!(early.updates, 0, "`to` is excluded");
    let gone = store.delete_finished(now() + chrono::Duration::days(1)).await.unwrap();
    assert!(gone >= 5, "{gone}");
    let after = store.insights(&bot, from, to).await.unwrap();
    assert_eq!(after.updates, 0, "retention deletes the log on {url}");
    assert!(after.choices.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_is_written_in_the_group_commit_and_retained_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    store_suite(&format!("sqlite://{}", dir.path().join("s.db").display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_is_written_in_the_group_commit_and_retained_on_postgres() {
    store_suite(&crate::support::postgres_db().await).await;
}

const CAFE: &str = "444444:cafe-token-for-tests";
const QUIET: &str = "555555:quiet-token-for-tests";

fn get(url: &str) -> (u16, Value) {
    let (status, text) = http_call("GET", url, None, Some(API_TOKEN));
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// A scripted conversation through `botwright run`, then the API's object and the same from
/// `botwright insights`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_and_the_cli_answer_the_aggregate() {
    let fake = FakeTelegram::start().await;
    fake.add_bot(CAFE, 444444, "cafe_bot");
    fake.add_bot(QUIET, 555555, "quiet_bot");
    let bots = tempfile::tempdir().unwrap();
    std::fs::write(bots.path().join("cafe.toml"), BOT).unwrap();
    let quiet = BOT
        .replace("CAFE_BOT_TOKEN", "QUIET_BOT_TOKEN")
        .replace("language = \"en\"", "language = \"en\"\nlog_texts = false");
    std::fs::write(bots.path().join("quiet.toml"), quiet).unwrap();
    let state = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", state.path().join("state.db").display());
    let listen = format!("127.0.0.1:{}", free_port());
    let env = [
        ("CAFE_BOT_TOKEN", CAFE),
        ("QUIET_BOT_TOKEN", QUIET),
        ("BOTWRIGHT_API_TOKEN", API_TOKEN),
    ];
    let _bw = Botwright::start_with(
        bots.path(),
        &db,
        &fake.url,
        &env,
        state.path().join("log"),
        &["--listen", &listen],
    );
    let api = format!("http://{listen}");
    let health = format!("{api}/healthz");
    wait_for("the API is up", || http_call("GET", &health, None, None).0 == 200).await;

    let script = [
        "hello", "order", "Cofee", "Coffee", "order", "hello", "feedback", "great", "price", "helo", "helo", "HELO",
    ];
    for (i, text) in script.iter().enumerate() {
        fake.text(CAFE, 5, "Ann", text);
        wait_for("a reply", || fake.sent(CAFE, 5).len() > i).await;
    }
    fake.text(CAFE, 6, "Bob", "hi");
    wait_for("Bob's reply", || !fake.sent(CAFE, 6).is_empty()).await;
    fake.text(QUIET, 7, "Cat", "secret");
    wait_for("Cat's reply", || !fake.sent(QUIET, 7).is_empty()).await;

    let all = "from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z";
    let url = format!("{api}/api/v1/bots/cafe/insights?{all}");
    // The log is written in the commit that sends the reply: it is there by now.
    let (status, body) = get(&url);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["from"], "2000-01-01T00:00:00Z");
    assert_eq!(body["to"], "2100-01-01T00:00:00Z");
    assert_eq!(body["updates"], 13);
    assert_eq!(body["users"], 2);
    let hourly = body["hourly"].as_array().unwrap();
    assert!(!hourly.is_empty() && hourly.len() <= 2, "{body}");
    assert_eq!(hourly.iter().map(|h| h["updates"].as_i64().unwrap()).sum::<i64>(), 13);
    assert!(hourly[0]["hour"].as_str().unwrap().ends_with(":00:00Z"));
    assert_eq!(
        body["records"],
        json!([
            {"id": "hello", "hits": 3},
            {"id": "order", "hits": 2},
            {"id": "coffee", "hits": 1},
            {"id": "feedback", "hits": 1},
            {"id": "price", "hits": 1},
            {"id": "thanks", "hits": 1},
        ])
    );
    assert_eq!(
        body["unknown"],
        json!([
            {"text": "helo", "count": 3, "suggest": ["hello"]},
            {"text": "Cofee", "count": 1, "suggest": []},
        ])
    );
    assert_eq!(
        body["choices"],
        json!([{
            "id": "order",
            "shown": 2,
            "options": [
                {"id": "tea", "label": "Tea", "chosen": 0},
                {"id": "coffee", "label": "Coffee", "chosen": 1},
            ],
            "abandoned": 1,
        }])
    );
    assert_eq!(
        body["inputs"],
        json!([{"id": "feedback", "asked": 1, "answered": 1, "invalid": 0, "gave_up": 0}])
    );
    let price = &body["algorithms"][0];
    assert_eq!(
        (price["name"].clone(), price["calls"].clone(), price["failed"].clone()),
        (json!("price"), json!(1), json!(0))
    );
    assert!(price["p50_ms"].is_i64() && price["p95_ms"].is_i64(), "{body}");

    // With `log_texts = false` only the count is kept.
    let (_, quiet) = get(&format!("{api}/api/v1/bots/quiet/insights?{all}"));
    assert_eq!(quiet["unknown"], json!([{"text": null, "count": 1, "suggest": []}]));
    // An empty period: every list present, the counts 0; the bot's algorithms without calls.
    let (status, empty) = get(&format!(
        "{api}/api/v1/bots/cafe/insights?from=2020-01-01T00:00:00Z&to=2020-01-08T00:00:00Z"
    ));
    assert_eq!(status, 200);
    for list in ["hourly", "records", "unknown", "choices", "inputs"] {
        assert_eq!(empty[list], json!([]), "{list}");
    }
    assert_eq!((empty["updates"].clone(), empty["users"].clone()), (json!(0), json!(0)));
    assert_eq!(
        empty["algorithms"],
        json!([{"name": "price", "calls": 0, "failed": 0, "timeout": 0, "p50_ms": null, "p95_ms": null}])
    );
    // The default period: the last 7 days, which hold today's traffic.
    let (_, recent) = get(&format!("{api}/api/v1/bots/cafe/insights"));
    assert_eq!(recent["updates"], 13);
    // Bad times are 400 naming the parameter; another bot 404.
    let (status, bad) = get(&format!("{api}/api/v1/bots/cafe/insights?from=yesterday"));
    assert_eq!((status, bad["error"]["field"].clone()), (400, json!("from")));
    let (status, bad) = get(&format!(
        "{api}/api/v1/bots/cafe/insights?from=2021-01-02T00:00:00Z&to=2021-01-01T00:00:00Z"
    ));
    assert_eq!((status, bad["error"]["field"].clone()), (400, json!("from")));
    assert_eq!(get(&format!("{api}/api/v1/bots/nobody/insights")).0, 404);
    let (status, _) = http_call("GET", &url, None, Some("wrong"));
    assert_eq!(status, 401);
    // In the OpenAPI document.
    let (_, doc) = get(&format!("{api}/api/openapi.json"));
    assert!(doc["paths"]["/api/v1/bots/{bot}/insights"]["get"].is_object());

    // `botwright insights` prints the same object from the database.
    let cli = |format: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_botwright"))
            .args(["insights", "--bot", "cafe", "--bots"])
            .arg(bots.path())
            .args([
                "--db",
                &db,
                "--from",
                "2000-01-01T00:00:00Z",
                "--to",
                "2100-01-01T00:00:00Z",
                "--format",
                format,
            ])
            .output()
            .unwrap()
    };
    let json_out = cli("json");
    assert!(
        json_out.status.success(),
        "{}",
        String::from_utf8_lossy(&json_out.stderr)
    );
    let printed: Value = serde_json::from_slice(&json_out.stdout).unwrap();
    assert_eq!(printed, body);
    let text_out = cli("text");
    assert!(text_out.status.success());
    let text = String::from_utf8_lossy(&text_out.stdout);
    assert!(text.contains("13 updates from 2 users"), "{text}");
    assert!(text.contains("\"helo\"  → did they mean: hello"), "{text}");
    // A bad time is a usage error; an unknown bot a problem.
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_botwright"))
        .args(["insights", "--bot", "cafe", "--bots"])
        .arg(bots.path())
        .args(["--db", &db, "--from", "soon"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--from"));
    let none = std::process::Command::new(env!("CARGO_BIN_EXE_botwright"))
        .args(["insights", "--bot", "nobody", "--bots"])
        .arg(bots.path())
        .args(["--db", &db])
        .output()
        .unwrap();
    assert_eq!(none.status.code(), Some(1));
}

/// A checked answer's refusals are `invalid` events, and the refusal that uses up its
/// `attempts` is `gave_up` alone.
#[test]
fn refused_answers_are_invalid_and_the_last_attempt_gives_up() {
    let bot = bot(&BOT.replace(
        "input = \"Tell us\"\nthen = \"thanks\"",
        "input = \"How many stars?\"\ntype = \"integer\"\nattempts = 2\nthen = \"thanks\"",
    ));
    let mut world = MemoryWorld::default();
    let mut runner = botwright::algorithms::Runner::offline();
    let say = |text: &str, world: &mut MemoryWorld, runner: &mut botwright::algorithms::Runner| {
        step(&bot, world, runner, &USER, &Event::Text(text.into()), now()).unwrap()
    };
    say("feedback", &mut world, &mut runner);
    let feedback = || "feedback".to_string();
    assert_eq!(
        say("five", &mut world, &mut runner).insights,
        [Insight::InputInvalid { record: feedback() }]
    );
    assert_eq!(
        say("lots", &mut world, &mut runner).insights,
        [Insight::InputGaveUp { record: feedback() }]
    );
    say("feedback", &mut world, &mut runner);
    let answered = say("5", &mut world, &mut runner);
    assert_eq!(answered.insights, [Insight::InputAnswered { record: feedback() }]);
    assert_eq!(answered.reached, Reached::Record("thanks".into()));
}
