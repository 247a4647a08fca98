//! The API fuzzed from its own OpenAPI document by schemathesis (PyPI): no
//! request, however malformed, gets a 5xx, and no response contradicts the
//! document. `.ci/run` installs schemathesis and runs this with
//! `BOTWRIGHT_SCHEMATHESIS` naming its `st` command.

use crate::support::{API_TOKEN, ApiBots, DEMO, SUPPORT, wait_for};
use std::process::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs schemathesis: `.ci/run` installs it and runs this test"]
async fn schemathesis_finds_no_server_error_and_no_contradiction() {
    let st = std::env::var("BOTWRIGHT_SCHEMATHESIS").expect("BOTWRIGHT_SCHEMATHESIS names schemathesis's `st`");
    let s = ApiBots::start(None, &[]).await;
    let (fake, api) = (&s.fake, s.api.clone());
    let document = s.state.path().join("openapi.json");
    let (status, text) = crate::support::http_call("GET", &format!("{api}/api/openapi.json"), None, Some(API_TOKEN));
    assert_eq!(status, 200, "the served OpenAPI document: {text}");
    std::fs::write(&document, text).unwrap();
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
