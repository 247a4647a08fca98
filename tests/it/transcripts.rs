//! Data-driven engine tests: every `tests/transcripts/*.chat` replays against its bot.

use std::path::Path;

#[test]
fn engine_transcripts_pass() {
    let dir = Path::new("tests/transcripts");
    let mut chats: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "chat"))
        .collect();
    chats.sort();
    assert!(!chats.is_empty());
    let mut bots = botwright::transcript::Bots::new();
    for chat in chats {
        let files = botwright::transcript::BotFiles::Relative(Some(dir));
        if let Err(f) = botwright::transcript::run_file(&chat, files, &mut bots) {
            panic!("{}:{}: {} {:?}", chat.display(), f.line, f.message, f.diagnostics);
        }
    }
}

/// `tests/transcripts/notify.toml`, compiled.
fn notify_bot() -> botwright::model::CompiledBot {
    let mut diagnostics = Vec::new();
    botwright::validate::compile_path(Path::new("tests/transcripts/notify.toml"), &mut diagnostics)
        .unwrap()
        .unwrap()
}

/// The failure of a transcript against the notify bot: its line and message.
fn failure(text: &str) -> (usize, String) {
    let f = match botwright::transcript::parse(text) {
        Err(f) => f,
        Ok(lines) => botwright::transcript::replay(&notify_bot(), &lines).expect_err("the transcript must fail"),
    };
    (f.line, f.message)
}

#[test]
fn notify_and_send_fail_at_their_line_on_bad_input() {
    let head = "@bot notify\n@registered employee e5 \"Ann A.\"\n";
    // An unknown notification, named with the ones the bot has.
    let (line, message) = failure(&format!("{head}> hello\n< Hello, *\n@notify nope {{}}\n"));
    assert_eq!(line, 5);
    assert!(
        message.contains("no notification `nope`") && message.contains("alert, plain"),
        "{message}"
    );
    // Data that is not an object, or not JSON, or missing.
    for data in ["[1]", "\"x\"", "{\"a\": ", ""] {
        let (line, message) = failure(&format!("{head}@notify alert {data}\n"));
        assert_eq!(line, 3, "{data}: {message}");
        assert!(message.contains("alert"), "{data}: {message}");
    }
    // Data over the API's bounds is refused as the API refuses it.
    let deep = format!("{}{}", "{\"a\":".repeat(40), "}".repeat(40));
    let (line, message) = failure(&format!("{head}@notify alert {deep}\n"));
    assert_eq!(line, 3);
    assert!(message.contains("nested deeper"), "{message}");
    // An empty `@send`.
    let (line, message) = failure(&format!("{head}@send   \n"));
    assert_eq!(line, 3);
    assert!(message.contains("empty"), "{message}");
}

#[test]
fn notify_and_send_messages_are_matched_before_the_next_event() {
    let head = "@bot notify\n@registered employee e5 \"Ann A.\"\n";
    // Not matched before the next `>`: the extra message is reported at the `@send` line.
    let (line, message) = failure(&format!("{head}@send Hi\n> hello\n< Hello, *\n"));
    assert_eq!(line, 3);
    assert!(
        message.contains("does not expect") && message.contains("Hi"),
        "{message}"
    );
    // Nor before the next `@notify`.
    let (line, message) = failure(&format!("{head}@notify plain {{}}\n@send Hi\n< Hi\n"));
    assert_eq!(line, 3);
    assert!(message.contains("Just so you know"), "{message}");
    // A reply not matched before a `@notify`.
    let (line, _) = failure(&format!("{head}> hello\n@notify plain {{}}\n< Just so you know, *\n"));
    assert_eq!(line, 3);
    // The buttons of a notification are rows like any other: listing too few fails.
    let (line, message) = failure(&format!(
        "{head}@notify alert {{\"code\": \"A\"}}\n< Alert *\n< [OK A] [No]\n@send x\n< x\n"
    ));
    assert_eq!(line, 4);
    assert!(message.contains("2 rows"), "{message}");
    // A link button cannot be pressed; a missing one is named.
    let (line, message) = failure(&format!(
        "{head}@notify alert {{\"code\": \"A\"}}\n< Alert *\n> [Open]\n"
    ));
    assert_eq!(line, 5);
    assert!(message.contains("link button"), "{message}");
    // Everything matched, the same lines pass.
    let text = format!(
        "{head}@notify alert {{\"code\": \"A\"}}\n< Alert <b>A</b>: .\n< [OK A] [No]\n< [Open]\n> [OK A]\n< Acknowledged A *\n"
    );
    botwright::transcript::replay(&notify_bot(), &botwright::transcript::parse(&text).unwrap()).unwrap();
}

#[test]
fn an_action_button_runs_only_in_the_chat_it_was_sent_to() {
    // User 5's notification; user 6 cannot press it (the transcript finds no such button).
    let text = "@bot notify\n@user 5 \"Ann\"\n@registered employee e5 \"Ann A.\"\n@notify alert {\"code\": \"A\"}\n< Alert *\n@user 6 \"Bob\"\n> [OK A]\n";
    let (line, message) = failure(text);
    assert_eq!(line, 7);
    assert!(message.contains("no message to user 6"), "{message}");
}

/// A transcript whose bot has errors fails at its `@bot` line with the bot's diagnostics,
/// kept for whoever runs it: `botwright test` prints them on stderr, stdout keeps its lines.
#[test]
fn a_bot_with_errors_fails_with_its_diagnostics() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("broken.toml"),
        "[bot]\nname = \"B\"\ntoken_env = \"B_TOKEN\"\n\n[[keyword]]\nmatch = \"a\"\n",
    )
    .unwrap();
    let chat = dir.path().join("broken.chat");
    std::fs::write(&chat, "# a bot without an action\n@bot broken\n> a\n< x\n").unwrap();
    let mut bots = botwright::transcript::Bots::new();
    let failure = botwright::transcript::run_file(&chat, botwright::transcript::BotFiles::Relative(None), &mut bots)
        .expect_err("the bot has errors");
    assert_eq!(failure.line, 2, "{}", failure.message);
    assert!(failure.message.contains("has errors"), "{}", failure.message);
    let codes: Vec<&str> = failure.diagnostics.iter().map(|d| d.code.as_str()).collect();
    assert_eq!(codes, ["E013"], "{:?}", failure.diagnostics);

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_botwright"))
        .arg("test")
        .arg(&chat)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.lines().count(), 3, "{stdout}");
    assert!(stdout.ends_with("0 passed, 1 failed\n"), "{stdout}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("error[E013]"));
}
