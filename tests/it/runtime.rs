//! End to end: the `botwright run` binary against a fake Bot API server.

use crate::support::{Botwright, Failure, FakeTelegram, wait_for};

const DEMO: &str = "111111:demo-token-for-tests";
const CLOSED: &str = "222222:closed-token-for-tests";

/// A bots directory with the demo bot and a closed bot, and the environment naming their tokens.
fn bots_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy("bots/demo.toml", dir.path().join("demo.toml")).unwrap();
    std::fs::copy("tests/transcripts/closed.toml", dir.path().join("closed.toml")).unwrap();
    dir
}

const ENV: &[(&str, &str)] = &[("DEMO_BOT_TOKEN", DEMO), ("CLOSED_TOKEN", CLOSED)];

async fn fake() -> FakeTelegram {
    let fake = FakeTelegram::start().await;
    fake.add_bot(DEMO, 111111, "demo_bot");
    fake.add_bot(CLOSED, 222222, "closed_bot");
    fake
}

fn db(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}", dir.path().join("state.db").display())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_bots_text_and_buttons_crash_and_restart() {
    let fake = fake().await;
    let bots = bots_dir();
    let state = tempfile::tempdir().unwrap();
    let log = state.path().join("log");
    let mut bw = Botwright::start(bots.path(), &db(&state), &fake.url, ENV, log.clone());

    // Two bots in one process.
    fake.text(DEMO, 7, "Ann", "а 1");
    fake.text(CLOSED, 8, "Bob", "secret");
    wait_for("demo answers", || fake.sent(DEMO, 7) == ["Ответ на ключевое слово А1"]).await;
    wait_for("closed bot asks to register", || {
        fake.sent(CLOSED, 8) == ["You need to register to use this bot."]
    })
    .await;

    // A registration and a button conversation.
    let register = fake.button(CLOSED, 8, "Register").expect("register button");
    fake.press(CLOSED, 8, "Bob", &register);
    wait_for("data asked", || fake.sent(CLOSED, 8).len() == 2).await;
    fake.text(CLOSED, 8, "Bob", "Ann");
    wait_for("registered", || {
        fake.sent(CLOSED, 8)
            .last()
            .is_some_and(|t| t == "You are registered as Ann A..")
    })
    .await;
    wait_for("callback answered", || {
        !fake.calls(CLOSED, "AnswerCallbackQuery").is_empty()
    })
    .await;

    fake.text(DEMO, 7, "Ann", "Выбор");
    wait_for("choice", || fake.sent(DEMO, 7).len() == 2).await;
    let option = fake.button(DEMO, 7, "Вариант №2").expect("option button");
    fake.press(DEMO, 7, "Ann", &option);
    wait_for("confirmation", || fake.sent(DEMO, 7).len() == 3).await;
    let yes = fake.button(DEMO, 7, "Да").unwrap();

    // kill -9 in the middle of the conversation, then a restart on the same database.
    bw.child.kill().unwrap();
    bw.child.wait().unwrap();
    let mut bw = Botwright::start(bots.path(), &db(&state), &fake.url, ENV, log.clone());
    fake.press(DEMO, 7, "Ann", &yes);
    wait_for("the old button still works", || {
        fake.sent(DEMO, 7).last().is_some_and(|t| t == "Уточните вариант №2")
    })
    .await;
    fake.text(CLOSED, 8, "Bob", "secret");
    wait_for("the registration was kept", || {
        fake.sent(CLOSED, 8)
            .last()
            .is_some_and(|t| t == "The secret is 42, Ann A..")
    })
    .await;

    // An update delivered twice is handled once.
    let before = fake.sent(DEMO, 7).len();
    let id = fake.text(DEMO, 7, "Ann", "А1");
    wait_for("answered once", || fake.sent(DEMO, 7).len() == before + 1).await;
    wait_for("confirmed", || fake.unconfirmed(DEMO) == 0).await;
    fake.push_with_id(DEMO, crate::support::message_update(7, "Ann", "А1"), id);
    fake.text(DEMO, 7, "Ann", "Меню");
    wait_for("the next update is answered", || {
        fake.sent(DEMO, 7).last().is_some_and(|t| t.starts_with("Я умею"))
    })
    .await;
    assert_eq!(
        fake.sent(DEMO, 7).len(),
        before + 2,
        "the repeated update was not answered again"
    );

    // A sticker is not text.
    fake.push(DEMO, crate::support::sticker_update(7, "Ann"));
    wait_for("unsupported", || {
        fake.sent(DEMO, 7)
            .last()
            .is_some_and(|t| t == "Я понимаю только текст.")
    })
    .await;

    // SIGTERM stops cleanly.
    bw.signal("TERM");
    assert_eq!(bw.exit_code().await, Some(0));
    let text = std::fs::read_to_string(&log).unwrap();
    for token in [DEMO, CLOSED] {
        assert!(!text.contains(token), "a token in the log:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_honoured_and_server_errors_retried() {
    let fake = fake().await;
    let bots = bots_dir();
    let state = tempfile::tempdir().unwrap();
    let _bw = Botwright::start(bots.path(), &db(&state), &fake.url, ENV, state.path().join("log"));
    wait_for("polling", || !fake.calls(DEMO, "GetUpdates").is_empty()).await;
    fake.fail_next("SendMessage", Failure::TooManyRequests { retry_after: 1 });
    fake.fail_next("SendMessage", Failure::ServerError);
    fake.text(DEMO, 9, "Eve", "А1");
    wait_for("sent after the failures", || fake.sent(DEMO, 9).len() == 3).await;
    let calls = fake.calls(DEMO, "SendMessage");
    assert!(calls.iter().all(|c| c.body["text"] == "Ответ на ключевое слово А1"));
    let waited = calls[1].at - calls[0].at;
    assert!(
        waited >= std::time::Duration::from_millis(950),
        "retried after {waited:?}, not the 1 s Telegram asked"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_with_a_broken_file_keeps_serving_and_a_good_one_replaces() {
    let fake = fake().await;
    let bots = bots_dir();
    let state = tempfile::tempdir().unwrap();
    let bw = Botwright::start(bots.path(), &db(&state), &fake.url, ENV, state.path().join("log"));
    fake.text(DEMO, 5, "Kim", "А1");
    wait_for("answer", || fake.sent(DEMO, 5).len() == 1).await;

    let good = std::fs::read_to_string("bots/demo.toml").unwrap();
    std::fs::write(
        bots.path().join("demo.toml"),
        good.replace("reply = \"Ответ на ключевое слово А1\"", "reply = \"{{ nope }}\""),
    )
    .unwrap();
    bw.signal("HUP");
    wait_for("reload rejected", || bw.log_text().contains("reload rejected")).await;
    fake.text(DEMO, 5, "Kim", "А1");
    wait_for("old definition answers", || {
        fake.sent(DEMO, 5) == ["Ответ на ключевое слово А1", "Ответ на ключевое слово А1"]
    })
    .await;

    std::fs::write(
        bots.path().join("demo.toml"),
        good.replace("Ответ на ключевое слово А1", "Новый ответ"),
    )
    .unwrap();
    bw.signal("HUP");
    wait_for("reloaded", || bw.log_text().contains("reloaded")).await;
    fake.text(DEMO, 5, "Kim", "А1");
    wait_for("new definition answers", || {
        fake.sent(DEMO, 5).last().is_some_and(|t| t == "Новый ответ")
    })
    .await;
}

/// bot-format.md, "Changing a bot file": a reload (`SIGHUP`) keeps an open choice while its
/// own records are unchanged, and its buttons run the options as the new file defines them;
/// once its options change, its buttons get `choice_stale`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_keeps_choices_whose_records_did_not_change() {
    let fake = fake().await;
    let bots = bots_dir();
    let state = tempfile::tempdir().unwrap();
    let bw = Botwright::start(bots.path(), &db(&state), &fake.url, ENV, state.path().join("log"));
    let reloads = || {
        bw.log_text()
            .lines()
            .filter(|l| l.contains("reloaded") && l.contains("bot=demo"))
            .count()
    };
    fake.text(DEMO, 5, "Kim", "Выбор");
    wait_for("the choice", || fake.sent(DEMO, 5) == ["Выберите один из вариантов"]).await;
    let option_1 = fake.button(DEMO, 5, "Вариант №1").expect("option button");

    // Texts only: a reply elsewhere, the choice's title, the option's own reply, and a new
    // record before all others (which moves every record's position in the file).
    let good = std::fs::read_to_string("bots/demo.toml").unwrap();
    let texts = good
        .replace("Ответ на ключевое слово А1", "Новый ответ")
        .replace("Выберите один из вариантов", "Выберите вариант")
        .replace(
            "reply = 'Выбрали \"{{ selected }}\"'",
            "reply = 'Теперь: {{ selected }}'",
        )
        .replace(
            "[[keyword]]\nid = \"a1\"",
            "[[keyword]]\nmatch = \"Новое\"\nreply = \"Новое\"\n\n[[keyword]]\nid = \"a1\"",
        );
    std::fs::write(bots.path().join("demo.toml"), &texts).unwrap();
    bw.signal("HUP");
    wait_for("the first reload", || reloads() == 1).await;
    fake.press(DEMO, 5, "Kim", &option_1);
    wait_for("the old button works", || {
        fake.sent(DEMO, 5)
            .last()
            .is_some_and(|t| t == "Вы выбрали «Вариант №1». Подтвердить?")
    })
    .await;
    let yes = fake.button(DEMO, 5, "Да").expect("yes button");
    fake.press(DEMO, 5, "Kim", &yes);
    wait_for("the option as the new file defines it", || {
        fake.sent(DEMO, 5).last().is_some_and(|t| t == "Теперь: Вариант №1")
    })
    .await;

    // An option's label changes: the choice changed, its old buttons are stale.
    std::fs::write(
        bots.path().join("demo.toml"),
        texts.replace("match = \"Вариант №1, 1\"", "match = \"Первый вариант, 1\""),
    )
    .unwrap();
    bw.signal("HUP");
    wait_for("the second reload", || reloads() == 2).await;
    let before = fake.sent(DEMO, 5).len();
    fake.press(DEMO, 5, "Kim", &option_1);
    wait_for("the old button is stale", || {
        let sent = fake.sent(DEMO, 5);
        sent.len() == before + 1 && sent[before] == "Эта кнопка устарела. Начните заново."
    })
    .await;
    // The new definition serves the rest.
    fake.text(DEMO, 5, "Kim", "Выбор");
    wait_for("the new choice", || {
        fake.sent(DEMO, 5).last().is_some_and(|t| t == "Выберите вариант")
    })
    .await;
    assert!(fake.button(DEMO, 5, "Первый вариант").is_some());
    fake.text(DEMO, 5, "Kim", "А1");
    wait_for("the new reply", || {
        fake.sent(DEMO, 5).last().is_some_and(|t| t == "Новый ответ")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_up_refuses_missing_and_rejected_tokens_without_printing_them() {
    let fake = fake().await;
    let bots = bots_dir();
    let state = tempfile::tempdir().unwrap();

    let mut missing = Botwright::start(
        bots.path(),
        &db(&state),
        &fake.url,
        &[("DEMO_BOT_TOKEN", DEMO)],
        state.path().join("missing"),
    );
    assert_eq!(missing.exit_code().await, Some(2));
    let text = missing.log_text();
    assert!(text.contains("bot `closed`") && text.contains("CLOSED_TOKEN"), "{text}");

    let wrong = "333333:wrong-token-nobody-knows-about";
    let mut rejected = Botwright::start(
        bots.path(),
        &db(&state),
        &fake.url,
        &[("DEMO_BOT_TOKEN", DEMO), ("CLOSED_TOKEN", wrong)],
        state.path().join("rejected"),
    );
    assert_eq!(rejected.exit_code().await, Some(2));
    let text = rejected.log_text();
    assert!(text.contains("bot `closed`") && text.contains("CLOSED_TOKEN"), "{text}");
    assert!(!text.contains(wrong), "{text}");

    // A network error carries the request URL, with the token in it: it must not be printed.
    let closed_port = "http://127.0.0.1:9";
    let mut unreachable = Botwright::start(
        bots.path(),
        &db(&state),
        closed_port,
        ENV,
        state.path().join("unreachable"),
    );
    assert_eq!(unreachable.exit_code().await, Some(2));
    let text = unreachable.log_text();
    assert!(!text.contains(DEMO) && !text.contains("demo-token"), "{text}");
    assert!(
        text.contains("cannot reach the Bot API") && text.contains("CLOSED_TOKEN"),
        "{text}"
    );

    // Bots with errors: exit 1 with the diagnostics.
    std::fs::write(bots.path().join("broken.toml"), "[bot]\nname = 1\n").unwrap();
    let mut broken = Botwright::start(bots.path(), &db(&state), &fake.url, ENV, state.path().join("broken"));
    assert_eq!(broken.exit_code().await, Some(1));
    assert!(broken.log_text().contains("error[E005]"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_input_takes_a_document_and_a_location_from_telegram() {
    const INPUTS: &str = "333333:inputs-token-for-tests";
    let fake = FakeTelegram::start().await;
    fake.add_bot(INPUTS, 333333, "inputs_bot");
    let bots = tempfile::tempdir().unwrap();
    std::fs::copy("tests/transcripts/inputs.toml", bots.path().join("inputs.toml")).unwrap();
    let state = tempfile::tempdir().unwrap();
    let _bw = Botwright::start(
        bots.path(),
        &db(&state),
        &fake.url,
        &[("INPUTS_TOKEN", INPUTS)],
        state.path().join("log"),
    );
    fake.text(INPUTS, 5, "Ann", "act");
    wait_for("the question", || fake.sent(INPUTS, 5).len() == 1).await;
    fake.push(INPUTS, crate::support::document_update(5, "Ann", "act.pdf"));
    wait_for("the document taken", || fake.sent(INPUTS, 5).len() == 2).await;
    assert_eq!(
        fake.sent(INPUTS, 5)[1],
        "Received document doc-1 act.pdf; saved as document."
    );
    fake.text(INPUTS, 5, "Ann", "where");
    wait_for("the question", || fake.sent(INPUTS, 5).len() == 3).await;
    fake.push(INPUTS, crate::support::location_update(5, "Ann", 55.75, 37.62));
    wait_for("the location taken", || fake.sent(INPUTS, 5).len() == 4).await;
    assert_eq!(fake.sent(INPUTS, 5)[3], "Got 55.75, 37.62.");
}

/// `http` algorithms from the runtime: each request names its update and call
/// (`X-Botwright-Update`), is signed with `BOTWRIGHT_ALGORITHM_SECRET`, and a redirect
/// is a failure, not followed. The files of a result follow its text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn business_system_requests_are_signed_and_results_carry_files() {
    use hmac::Mac;
    use std::sync::{Arc, Mutex};
    const BS: &str = "444444:bs-token-for-tests";
    const SECRET: &str = "s3cret-shared-with-the-business-system";
    type Seen = Vec<(String, std::collections::HashMap<String, String>, String)>;
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let log = seen.clone();
    let address = crate::support::http_server_with_headers(move |path, headers, body| {
        log.lock()
            .unwrap()
            .push((path.to_string(), headers.clone(), body.to_string()));
        match path {
            "/first" => ("200 OK", r#"{"text": "Задача №17: 2 файла"}"#.to_string()),
            "/files" => (
                "200 OK",
                r#"{"text": "Вложения:", "attachments": [{"name": "act.pdf", "content_base64": "JVBERi0="}, {"name": "scan.png", "content_base64": "iVBORw=="}]}"#
                    .to_string(),
            ),
            "/moved" => ("302 Found", "{}".to_string()),
            _ => ("200 OK", r#""redirect followed""#.to_string()),
        }
    });
    let bot = r#"
[bot]
name = "BS"
token_env = "BS_TOKEN"
language = "en"

[[keyword]]
match = "task"
run = "first"
then = "files"

[[keyword]]
id = "files"
run = "files"

[[keyword]]
match = "moved"
run = "moved"

[algorithms.first]
http = "${BS_URL}/first"

[algorithms.files]
http = "${BS_URL}/files"

[algorithms.moved]
http = "${BOTWRIGHT_URL_BS}/moved"
"#;
    let fake = FakeTelegram::start().await;
    fake.add_bot(BS, 444444, "bs_bot");
    let bots = tempfile::tempdir().unwrap();
    std::fs::write(bots.path().join("bs.toml"), bot).unwrap();
    let state = tempfile::tempdir().unwrap();
    let _bw = Botwright::start(
        bots.path(),
        &db(&state),
        &fake.url,
        &[
            ("BS_TOKEN", BS),
            ("BS_URL", &address),
            ("BOTWRIGHT_URL_BS", &address),
            ("BOTWRIGHT_ALGORITHM_SECRET", SECRET),
        ],
        state.path().join("log"),
    );
    let update = fake.text(BS, 5, "Ann", "task");
    wait_for("the text and both files", || {
        fake.count(BS, "SendDocument") == 1 && fake.count(BS, "SendPhoto") == 1
    })
    .await;
    assert_eq!(fake.sent(BS, 5), ["Задача №17: 2 файла", "Вложения:"]);
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 2);
        for (n, (path, headers, body)) in seen.iter().enumerate() {
            // The same update, numbered calls.
            assert_eq!(
                headers["x-botwright-update"],
                format!("bs:{update}:{}", n + 1),
                "{path}"
            );
            let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
            mac.update(body.as_bytes());
            let expected: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(headers["x-botwright-signature"], format!("sha256={expected}"), "{path}");
        }
    }
    // A redirect is not followed: the user is told the request failed.
    fake.text(BS, 5, "Ann", "moved");
    wait_for("the failure", || fake.sent(BS, 5).len() == 3).await;
    assert_eq!(fake.sent(BS, 5)[2], "The request failed. Please try later.");
    assert!(seen.lock().unwrap().iter().all(|(path, _, _)| path != "/ok"));
}
