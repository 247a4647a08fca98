//! The API fuzzed from its own OpenAPI document by schemathesis (PyPI): no
//! request, however malformed, gets a 5xx, and no response contradicts the
//! document. `.ci/run` installs schemathesis and runs this with
//! `BOTWRIGHT_SCHEMATHESIS` naming its `st` command.

mod support;

use std::process::Command;
use support::{Botwright, FakeTelegram, wait_for};

const DEMO: &str = "111111:demo-token-for-tests";
const SUPPORT: &str = "333333:support-token-for-tests";
const API_TOKEN: &str = "api-secret-for-tests";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs schemathesis: `.ci/run` installs it and runs this test"]
async fn schemathesis_finds_no_server_error_and_no_contradiction() {
    let st = std::env::var("BOTWRIGHT_SCHEMATHESIS").expect("BOTWRIGHT_SCHEMATHESIS names schemathesis's `st`");
    let fake = FakeTelegram::start().await;
    fake.add_bot(DEMO, 111111, "demo_bot");
    fake.add_bot(SUPPORT, 333333, "support_bot");
    let bots = tempfile::tempdir().unwrap();
    for b in ["demo", "support"] {
        std::fs::copy(format!("bots/{b}.toml"), bots.path().join(format!("{b}.toml"))).unwrap();
    }
    let state = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let db = format!("sqlite://{}", state.path().join("state.db").display());
    let listen = format!("127.0.0.1:{port}");
    let env = [
        ("DEMO_BOT_TOKEN", DEMO),
        ("SUPPORT_BOT_TOKEN", SUPPORT),
        ("BOTWRIGHT_API_TOKEN", API_TOKEN),
        ("SUPPORT_CRM_URL", "http://127.0.0.1:9"),
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
    let document = state.path().join("openapi.json");
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let fetch = {
        let url = format!("{api}/api/openapi.json");
        move || -> Option<String> {
            let mut r = agent
                .get(&url)
                .header("authorization", format!("Bearer {API_TOKEN}"))
                .call()
                .ok()?;
            (r.status() == 200)
                .then(|| r.body_mut().read_to_string().ok())
                .flatten()
        }
    };
    wait_for("the API is up", || {
        fetch().is_some_and(|text| std::fs::write(&document, text).is_ok())
    })
    .await;
    // Some chats have talked to the bots, so that positive cases reach the database too.
    for chat in [1, 7, 8] {
        fake.text(DEMO, chat, "Ann", "А1");
        fake.text(SUPPORT, chat, "Ann", "Привет");
    }
    wait_for("the chats talked", || {
        (1..=8).filter(|c| !fake.sent(DEMO, *c).is_empty()).count() == 3
    })
    .await;

    // How long the fuzzing phase goes on (seconds), and which phases run.
    let max_time = std::env::var("BOTWRIGHT_SCHEMATHESIS_SECONDS").unwrap_or_else(|_| "120".into());
    let phases = std::env::var("BOTWRIGHT_SCHEMATHESIS_PHASES").unwrap_or_else(|_| "examples,fuzzing".into());
    let output = tokio::task::spawn_blocking(move || {
        Command::new(st)
            .arg("run")
            .arg(&document)
            .args(["--url", &api])
            .args(["--header", &format!("Authorization: Bearer {API_TOKEN}")])
            .args([
                "--checks",
                "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
            ])
            .args(["--phases", &phases])
            .args([
                "--max-examples",
                "40",
                "--seed",
                "1",
                "--workers",
                "2",
                "--max-time",
                &max_time,
            ])
            .args(["--generation-database", "none", "--no-color", "--request-timeout", "20"])
            .env("SCHEMATHESIS_HOOKS", "")
            .output()
            .expect("schemathesis runs")
    })
    .await
    .unwrap();
    let report = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    println!("{report}");
    assert!(output.status.success(), "schemathesis found problems:\n{report}");
}
