//! Every shipped bot compiles clean, its graph is stable, and its transcripts pass.

use botwright::diagnostics::SourceFile;
use botwright::model::CompiledBot;
use std::path::{Path, PathBuf};

fn shipped(ext: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir("bots")
        .expect("bots/ exists")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    files.sort();
    files
}

fn compile(path: &Path) -> CompiledBot {
    let mut found = Vec::new();
    let bot = botwright::validate::compile_path(path, &mut found).expect("readable");
    assert!(
        found.is_empty(),
        "{} has diagnostics: {:?}",
        path.display(),
        found
            .iter()
            .map(|d| (d.code.as_str(), d.message.clone()))
            .collect::<Vec<_>>()
    );
    bot.expect("compiles")
}

#[test]
fn every_shipped_bot_compiles_with_no_diagnostics() {
    let bots = shipped("toml");
    assert!(bots.len() >= 2, "at least the demo and one more bot");
    for b in bots {
        compile(&b);
    }
}

#[test]
fn demo_graph_snapshot() {
    let bot = compile(Path::new("bots/demo.toml"));
    let g = botwright::graph::build(&bot);
    insta::assert_snapshot!("demo_graph_mermaid", botwright::graph::mermaid(&g));
}

/// Action records hang from the notifications whose buttons reach them, and an operator's
/// rejection is drawn as a rejection, in every format.
#[test]
fn signal_graph_draws_notifications_and_rejections() {
    let bot = compile(Path::new("bots/signal.toml"));
    let g = botwright::graph::build(&bot);
    let mermaid = botwright::graph::mermaid(&g);
    for line in [
        "n_task_assigned>\"notification task_assigned\"]",
        "n_process_started>\"notification process_started\"]",
        "n_task_assigned -->|\"[Выполнена]\"| r_task_done_button",
        "n_task_assigned -->|\"[Подробнее…]\"| r_task_details_button",
        "auth_responsible -->|\"[reject]\"| auth_rejected",
        "auth_rejected[/\"rejected by an operator\"/]",
    ] {
        assert!(mermaid.contains(line), "{line}\n{mermaid}");
    }
    assert!(!mermaid.contains("auth failed"), "{mermaid}");
    let dot = botwright::graph::dot(&g);
    assert!(
        dot.contains("n_task_assigned [label=\"notification task_assigned\", shape=note];"),
        "{dot}"
    );
    assert!(
        dot.contains("n_task_assigned -> r_task_done_button [label=\"[Выполнена]\"];"),
        "{dot}"
    );
    let support = botwright::graph::mermaid(&botwright::graph::build(&compile(Path::new("bots/support.toml"))));
    assert!(support.contains("n_ticket_update>"), "{support}");
    // Without operators, a registration that does not succeed is a failure, not a rejection.
    let phone = botwright::graph::mermaid(&botwright::graph::build(&compile(Path::new(
        "tests/transcripts/phone.toml",
    ))));
    assert!(
        phone.contains("auth_algorithm -->|\"failed\"| auth_failed") && !phone.contains("rejected"),
        "{phone}"
    );
}

#[test]
fn every_transcript_passes() {
    let chats = shipped("chat");
    assert!(chats.len() >= 2);
    for chat in chats {
        let text = std::fs::read_to_string(&chat).unwrap();
        let lines = botwright::transcript::parse(&text)
            .unwrap_or_else(|f| panic!("{}:{}: {}", chat.display(), f.line, f.message));
        let id = lines.iter().find_map(|(_, l)| match l {
            botwright::transcript::Line::Bot(id) => Some(id.clone()),
            _ => None,
        });
        let bot = compile(&Path::new("bots").join(format!("{}.toml", id.expect("@bot"))));
        if let Err(f) = botwright::transcript::replay(&bot, &lines) {
            panic!("{}:{}: {}", chat.display(), f.line, f.message);
        }
    }
}

#[test]
fn a_wrong_transcript_fails_at_its_line() {
    let bot = compile(Path::new("bots/demo.toml"));
    let lines = botwright::transcript::parse("@bot demo\n\n> А1\n< Не тот ответ\n").unwrap();
    let failure = botwright::transcript::replay(&bot, &lines).unwrap_err();
    assert_eq!(failure.line, 4);
    assert!(
        failure.message.contains("Ответ на ключевое слово А1"),
        "{}",
        failure.message
    );
}

#[test]
fn a_changed_definition_makes_old_buttons_stale() {
    let text = std::fs::read_to_string("bots/demo.toml").unwrap();
    let old =
        botwright::validate::compile("demo", &SourceFile::new("demo.toml", text.clone()), &mut Vec::new()).unwrap();
    let changed = text.replace("Ответ на ключевое слово А1", "Новый ответ");
    let new = botwright::validate::compile("demo", &SourceFile::new("demo.toml", changed), &mut Vec::new()).unwrap();
    assert_ne!(old.hash, new.hash);
    let same_with_comment = format!("# a comment\n{text}");
    let commented = botwright::validate::compile(
        "demo",
        &SourceFile::new("demo.toml", same_with_comment),
        &mut Vec::new(),
    )
    .unwrap();
    assert_eq!(old.hash, commented.hash, "comments do not change the definition");

    use botwright::engine::{Event, Keyboard, User, handle};
    let mut world = botwright::store::MemoryWorld::default();
    let user = User {
        id: 5,
        chat: 5,
        name: "U".into(),
        username: None,
    };
    let now = chrono::DateTime::parse_from_rfc3339("2021-02-06T14:00:00+03:00").unwrap();
    let out = handle(&old, &mut world, &user, &Event::Text("Выбор".into()), now).unwrap();
    let Keyboard::Inline(rows) = &out[0].keyboard else {
        panic!("buttons")
    };
    let data = rows[0][0].data.clone();
    let out = handle(&new, &mut world, &user, &Event::Button(data), now).unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].text, "Эта кнопка устарела. Начните заново.");
}

#[test]
fn a_press_names_an_older_message_with_a_caret() {
    let bot = compile(Path::new("bots/demo.toml"));
    // Two choices of one user: `^2` presses the older message's button.
    let script = "@bot demo\n> Выбор\n< Выберите один из вариантов\n> Меню\n< Я умею: *\n> Выбор\n< Выберите один из вариантов\n\
                  > [Вариант №2] ^2\n< Вы выбрали «Вариант №2». Подтвердить?\n";
    let lines = botwright::transcript::parse(script).unwrap();
    assert!(matches!(
        &lines[7].1,
        botwright::transcript::Line::Press { label, nth: 2 } if label == "Вариант №2"
    ));
    if let Err(f) = botwright::transcript::replay(&bot, &lines) {
        panic!("{}: {}", f.line, f.message);
    }
    // A message count beyond the messages with that button is a failure at its line.
    let lines =
        botwright::transcript::parse("@bot demo\n> Выбор\n< Выберите один из вариантов\n> [Вариант №1] ^3\n").unwrap();
    let failure = botwright::transcript::replay(&bot, &lines).unwrap_err();
    assert_eq!(failure.line, 4);
    assert!(failure.message.contains("fewer than 3"), "{}", failure.message);
    assert!(botwright::transcript::parse("@bot demo\n> [Вариант №1] ^0\n").is_err());
}
