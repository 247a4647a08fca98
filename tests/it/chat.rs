//! `botwright chat` through its binary, lines on stdin: the clock and the name it is given,
//! `/user`, the business system's `/notify` and `/send` with action buttons pressed, and the
//! cause of an algorithm's failure on stderr while the user sees the bot's text.

use std::io::Write;
use std::process::{Command, Stdio};

/// Runs `chat` with these arguments, environment and typed lines; gives (exit code, stdout, stderr).
fn chat(args: &[&str], env: &[(&str, Option<&str>)], lines: &[&str]) -> (i32, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_botwright"));
    command
        .arg("chat")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in env {
        match value {
            Some(v) => command.env(name, v),
            None => command.env_remove(name),
        };
    }
    let mut child = command.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    for line in lines {
        writeln!(stdin, "{line}").unwrap();
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const ANNA: [&str; 10] = [
    "bots/signal.toml",
    "--user",
    "501",
    "--name",
    "Анна",
    "--registered",
    "user",
    "e1",
    "Анна Петрова",
    "--now=2021-02-06T14:00:00+03:00",
];

#[test]
fn chat_plays_the_business_system_and_presses_action_buttons() {
    let (code, out, err) = chat(
        &ANNA,
        &[("SIGNAL_BS_URL", None)],
        &[
            "/start",
            r#"/notify task_assigned {"id": 17, "description": "Отчёт", "deadline": "06.02.2021 18:00", "author": "Иванов"}"#,
            "[Выполнена]",
            "/send Задача <b>перенесена</b>",
            "/notify nope {}",
            "/notify task_assigned [1]",
            "/notify",
            "/user 502 Борис",
            "Мои задачи",
            "/quit",
            "never read",
        ],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    // `--name` is the user's name.
    assert!(out.contains("bot: Здравствуйте, Анна! Я Сигнал."), "{out}");
    assert!(
        out.contains("bot: 📌 Новая задача №17: <b>Отчёт</b>\nСрок: 06.02.2021 18:00\nОт: Иванов\n     [Выполнена] [Подробнее…]\n"),
        "{out}"
    );
    // The action button ran its record for this user.
    assert!(
        out.contains("bot: Напишите комментарий к выполнению задачи №17."),
        "{out}"
    );
    assert!(out.contains("bot: Задача <b>перенесена</b>\n"), "{out}");
    assert!(
        out.contains("(the bot has no notification `nope` (it has task_assigned, process_started))"),
        "{out}"
    );
    assert!(out.contains("must be a JSON object"), "{out}");
    assert!(out.contains("(write `/notify NAME {JSON object}`"), "{out}");
    // `/user ID NAME` switches: Борис is not registered on this closed bot.
    assert!(out.contains("(now user 502, Борис)"), "{out}");
    assert!(out.contains("bot: Бот «Сигнал» доступен сотрудникам."), "{out}");
    assert!(!out.contains("never read"), "{out}");
    assert!(err.is_empty(), "{err}");
}

#[test]
fn chat_prints_why_an_algorithm_failed_on_stderr() {
    let failed = "bot: Не удалось выполнить запрос. Попробуйте позже.";
    // No business system's address at all.
    let (code, out, err) = chat(&ANNA, &[("SIGNAL_BS_URL", None)], &["Мои задачи"]);
    assert_eq!(code, 0);
    assert!(out.contains(failed), "{out}");
    assert!(
        err.contains("algorithm my_tasks failed: ") && err.contains("SIGNAL_BS_URL"),
        "{err}"
    );
    // A business system that is not listening.
    let refused = format!("http://127.0.0.1:{}", crate::support::free_port());
    let (_, out, err) = chat(&ANNA, &[("SIGNAL_BS_URL", Some(&refused))], &["Мои задачи"]);
    assert!(out.contains(failed), "{out}");
    assert!(
        err.contains("algorithm my_tasks failed: ") && err.to_lowercase().contains("connection refused"),
        "{err}"
    );
    // One that answers with an error status.
    let address = crate::support::http_server(|_, _| ("503 Service Unavailable", "{}".to_string()));
    let (_, out, err) = chat(&ANNA, &[("SIGNAL_BS_URL", Some(&address))], &["Мои задачи"]);
    assert!(out.contains(failed), "{out}");
    assert!(
        err.contains("algorithm my_tasks failed: ") && err.contains("503"),
        "{err}"
    );
    // An `expr` algorithm's error.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("calc.toml");
    std::fs::write(
        &file,
        "[bot]\nname = \"Calc\"\ntoken_env = \"CALC_TOKEN\"\n\n[[keyword]]\nmatch = \"go\"\nrun = \"divide\"\n\n\
         [algorithms.divide]\nexpr = \"1 / 0\"\n",
    )
    .unwrap();
    let (_, out, err) = chat(&[file.to_str().unwrap()], &[], &["go"]);
    assert!(
        out.contains("bot: Не удалось выполнить запрос. Попробуйте позже."),
        "{out}"
    );
    assert!(err.contains("algorithm divide failed: "), "{err}");
}

#[test]
fn chat_freezes_the_clock_and_names_the_user() {
    let (code, out, err) = chat(
        &["bots/demo.toml", "--now", "2021-02-06T14:00:00+03:00"],
        &[],
        &["/start", "Расчёт", "/user 7", "/start"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Test User"), "the default name: {out}");
    assert!(
        out.contains("bot: Расчёт выполнен 06.02.2021 14:00: 2 + 2 * 2 = 6"),
        "{out}"
    );
    assert!(out.contains("(now user 7, User 7)"), "{out}");
    // A clock that is not a time is a usage error, said plainly.
    let (code, _, err) = chat(&["bots/demo.toml", "--now", "yesterday"], &[], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--now yesterday: not an RFC 3339 time"), "{err}");
}
