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
    let mut bots = botwright::transcript::Bots::new();
    for chat in chats {
        let files = botwright::transcript::BotFiles::Relative(Some(Path::new("bots")));
        if let Err(f) = botwright::transcript::run_file(&chat, files, &mut bots) {
            panic!("{}:{}: {} {:?}", chat.display(), f.line, f.message, f.diagnostics);
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

fn demo_with(text: &str) -> botwright::model::CompiledBot {
    botwright::validate::compile("demo", &SourceFile::new("demo.toml", text.to_string()), &mut Vec::new()).unwrap()
}

/// bot-format.md, "Changing a bot file": texts change no fingerprint; a choice's options,
/// `confirm` and `options_from`, and an input's `save_as`, `then` and `accept` do.
#[test]
fn fingerprints_follow_what_a_press_or_an_answer_does() {
    let text = std::fs::read_to_string("bots/demo.toml").unwrap();
    let old = demo_with(&text);
    let fingerprint = |bot: &botwright::model::CompiledBot, id: &str| bot.fingerprint_of(id, 64).unwrap().to_string();
    let changed = text.replace("Ответ на ключевое слово А1", "Новый ответ");
    assert_ne!(old.hash, demo_with(&changed).hash, "any value changes the definition");
    assert_eq!(
        old.hash,
        demo_with(&format!("# a comment\n{text}")).hash,
        "comments do not"
    );

    // Texts anywhere, other records, new records, algorithms: no choice changes.
    let texts_only = text
        .replace("Выберите один из вариантов", "Выберите, пожалуйста")
        .replace("Вы выбрали вариант 2.2", "Это вариант 2.2")
        .replace("name = \"Демо-бот\"", "name = \"Бот\"")
        .replace("columns = 2", "columns = 3")
        .replace("run = \"choice_path\"", "reply = \"Путь\"")
        .replace(
            "[[keyword]]\nid = \"a1\"",
            "[[keyword]]\nmatch = \"Новое\"\nreply = \"Новое\"\n\n[[keyword]]\nid = \"a1\"",
        )
        + "\n[texts]\nchoice_stale = \"Старая кнопка\"\n";
    let new = demo_with(&texts_only);
    assert_ne!(old.hash, new.hash);
    for id in ["choice", "option_2", "visit", "calc"] {
        assert_eq!(fingerprint(&old, id), fingerprint(&new, id), "{id}");
    }
    // What a press does: the options (which, in which order, labels, words), `confirm`, `options_from`.
    for (edit, id) in [
        (
            text.replace("match = \"Вариант №1, 1\"", "match = \"Вариант №1а, 1\""),
            "choice",
        ),
        (
            text.replace("match = \"Вариант №1, 1\"", "match = \"Вариант №1, один\""),
            "choice",
        ),
        (text.replace("confirm = true\n", ""), "choice"),
        (
            text.replace(
                "id = \"option_3\"\nparent = \"choice\"",
                "id = \"option_3\"\nparent = \"option_2\"",
            ),
            "choice",
        ),
        (
            text.replace(
                "id = \"option_2_3\"\nparent = \"option_2\"",
                "id = \"option_2_3\"\nparent = \"option_2\"\ndisabled = true",
            ),
            "option_2",
        ),
        (
            text.replace("options_from = \"free_dates\"", "options_from = \"today_info\""),
            "visit",
        ),
        (text.replace("id = \"visit_date\"", "id = \"visit_day\""), "visit"),
        (text.replace("run = \"calculation\"", "run = \"today_info\""), "calc"),
    ] {
        assert_ne!(
            fingerprint(&old, id),
            fingerprint(&demo_with(&edit), id),
            "{id}: {edit}"
        );
    }
    // Swapping two options is a change of order.
    let a = "[[keyword]]\nid = \"option_2_2\"\nparent = \"option_2\"\nmatch = \"Вариант 2.2\"\nreply = \"Вы выбрали вариант 2.2\"\n\n";
    let b = "[[keyword]]\nid = \"option_2_3\"\nparent = \"option_2\"\nmatch = \"Вариант 2.3\"\nreply = \"Вы выбрали вариант 2.3\"\n\n";
    assert!(text.contains(&format!("{a}{b}")));
    let swapped = demo_with(&text.replace(&format!("{a}{b}"), &format!("{b}{a}")));
    assert_ne!(fingerprint(&old, "option_2"), fingerprint(&swapped, "option_2"));
    assert_eq!(fingerprint(&old, "choice"), fingerprint(&swapped, "choice"));
}

#[test]
fn an_inputs_fingerprint_follows_save_as_then_type_check_and_accept() {
    let text = std::fs::read_to_string("bots/signal.toml").unwrap();
    let signal = |text: &str| {
        botwright::validate::compile(
            "signal",
            &SourceFile::new("signal.toml", text.to_string()),
            &mut Vec::new(),
        )
        .unwrap()
    };
    let old = signal(&text);
    let fingerprint = |bot: &botwright::model::CompiledBot| bot.fingerprint_of("new_task", 64).unwrap().to_string();
    let question = "Приложите документ к задаче (файлом) или напишите «нет».";
    assert!(text.contains(question));
    for same in [
        text.replace(question, "Пришлите документ."),
        text.replace("accept = [\"document\", \"text\"]", "accept = [\"text\", \"document\"]"),
        text.replace("Опишите задачу одной строкой", "Опишите задачу"),
    ] {
        assert_eq!(fingerprint(&old), fingerprint(&signal(&same)));
    }
    for changed in [
        text.replace("save_as = \"document\"", "save_as = \"file\""),
        text.replace("accept = [\"document\", \"text\"]", "accept = [\"document\"]"),
        text.replace("then = \"new_task_text\"", "then = \"new_task_check\""),
    ] {
        assert_ne!(fingerprint(&old), fingerprint(&signal(&changed)));
    }
    // The checked task line: its `check` and a `type` count, its `invalid` does not.
    let line = |bot: &botwright::model::CompiledBot| bot.fingerprint_of("new_task_text", 64).unwrap().to_string();
    let invalid = "Не получилось разобрать «{{ input }}».";
    assert!(text.contains(invalid) && text.contains("and trim(split(input, ',')[0]) != ''"));
    assert_eq!(
        line(&old),
        line(&signal(&text.replace(invalid, "Не понял «{{ input }}».")))
    );
    for changed in [
        text.replace("and trim(split(input, ',')[0]) != ''", "and true"),
        text.replace("id = \"new_task_text\"", "id = \"new_task_text\"\ntype = \"email\""),
    ] {
        assert_ne!(line(&old), line(&signal(&changed)));
    }
}

/// Fingerprints of shipped bots, literally: the canonical form and SHA-256 give the same on
/// every build, machine and version, so a deploy of a new build keeps conversations. These
/// values were computed apart from this code, from the encoding that
/// `src/validate/fingerprint.rs` describes. A change here drops every open choice and
/// pending step of every user at once: make it only on purpose, and say so when releasing.
#[test]
fn the_fingerprints_of_shipped_bots_are_pinned() {
    let demo = demo_with(&std::fs::read_to_string("bots/demo.toml").unwrap());
    let signal = compile(Path::new("bots/signal.toml"));
    let pinned = [
        (
            &demo,
            "choice",
            "6a9e711057ada6ed5d1edc27e4d54d5b1fafacd982157d56f6e052df789733b0",
        ),
        (
            &demo,
            "option_2",
            "aa58749a89ed1593158c1715029a71010fd0c7472e96bc08de0084c95d681fe9",
        ),
        (
            &demo,
            "visit",
            "e4453949defbed887a8f087ff12c64bb03ef155fba2c2513f17eb932545b1b34",
        ),
        (
            &demo,
            "calc",
            "4e9bf91baf40cb9597bde9cc3590f03b9f0604950c47166d66a22741446a7f32",
        ),
        (
            &demo,
            "a1",
            "093a6f4aa30f93e1468c53f4f1aba40030e7553fd6f682267f7c77505e6e5c61",
        ),
        (
            &signal,
            "new_task",
            "7acb5ca1314a6e6f2c59bea3bf68eea06eb71e8f6a0446536a0de17f4e59d8b0",
        ),
    ];
    for (bot, id, hex) in pinned {
        assert_eq!(bot.fingerprint_of(id, 64), Some(hex), "{} {id}", bot.id);
    }
}

#[test]
fn a_reload_keeps_choices_whose_records_did_not_change() {
    let text = std::fs::read_to_string("bots/demo.toml").unwrap();
    let old = demo_with(&text);
    use botwright::engine::{Event, Keyboard, User, handle};
    let mut world = botwright::store::MemoryWorld::default();
    let mut runner = botwright::algorithms::Runner::offline();
    let user = User {
        id: 5,
        chat: 5,
        name: "U".into(),
        username: None,
    };
    let now = chrono::DateTime::parse_from_rfc3339("2021-02-06T14:00:00+03:00").unwrap();
    let first_button = |out: &[botwright::engine::Outgoing]| match &out.last().unwrap().keyboard {
        Keyboard::Inline(rows) => rows[0][0].data.clone(),
        other => panic!("buttons: {other:?}"),
    };
    let out = handle(&old, &mut world, &mut runner, &user, &Event::Text("Выбор".into()), now).unwrap();
    let option_1 = first_button(&out);

    // A new record before all others, the choice's title, the option's reply: the old button
    // works, and runs the option as the new file defines it.
    let edited = text
        .replace(
            "[[keyword]]\nid = \"a1\"",
            "[[keyword]]\nmatch = \"Новое\"\nreply = \"Новое\"\n\n[[keyword]]\nid = \"a1\"",
        )
        .replace("Выберите один из вариантов", "Выберите вариант")
        .replace(
            "reply = 'Выбрали \"{{ selected }}\"'",
            "reply = 'Теперь выбрали \"{{ selected }}\"'",
        );
    let new = demo_with(&edited);
    let out = handle(
        &new,
        &mut world,
        &mut runner,
        &user,
        &Event::Button(option_1.clone()),
        now,
    )
    .unwrap();
    assert_eq!(out[0].text, "Вы выбрали «Вариант №1». Подтвердить?");
    let yes = first_button(&out);
    let out = handle(&new, &mut world, &mut runner, &user, &Event::Button(yes), now).unwrap();
    assert_eq!(out[0].text, "Теперь выбрали \"Вариант №1\"");

    // The option's label changes: the choice changed, its old buttons are stale.
    let relabelled = demo_with(&edited.replace("match = \"Вариант №1, 1\"", "match = \"Первый, 1\""));
    let out = handle(
        &relabelled,
        &mut world,
        &mut runner,
        &user,
        &Event::Button(option_1),
        now,
    )
    .unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].text, "Эта кнопка устарела. Начните заново.");

    // A disabled choice is gone: its open choice is dropped, its buttons are stale.
    let mut out = Vec::new();
    for t in ["Выбор", "2", "Да"] {
        out = handle(&old, &mut world, &mut runner, &user, &Event::Text(t.into()), now).unwrap();
    }
    assert_eq!(out[0].text, "Уточните вариант №2");
    let option_2_1 = first_button(&out);
    let disabled = demo_with(&text.replace(
        "id = \"option_2\"\nparent = \"choice\"",
        "id = \"option_2\"\nparent = \"choice\"\ndisabled = true",
    ));
    let out = handle(
        &disabled,
        &mut world,
        &mut runner,
        &user,
        &Event::Button(option_2_1),
        now,
    )
    .unwrap();
    assert_eq!(out[0].text, "Эта кнопка устарела. Начните заново.");
    let out = handle(
        &disabled,
        &mut world,
        &mut runner,
        &user,
        &Event::Text("Вариант 2.2".into()),
        now,
    )
    .unwrap();
    assert!(out[0].text.starts_with("Не понимаю запрос"), "{}", out[0].text);
}

/// A pending confirmation survives a text edit and is dropped silently when its choice
/// changes; the text that would have answered it goes on as if nothing were pending.
#[test]
fn a_pending_confirmation_follows_its_choice() {
    let text = std::fs::read_to_string("bots/demo.toml").unwrap();
    use botwright::engine::{Event, User, handle};
    let mut world = botwright::store::MemoryWorld::default();
    let mut runner = botwright::algorithms::Runner::offline();
    let user = User {
        id: 6,
        chat: 6,
        name: "U".into(),
        username: None,
    };
    let now = chrono::DateTime::parse_from_rfc3339("2021-02-06T14:00:00+03:00").unwrap();
    let old = demo_with(&text);
    for t in ["Выбор", "1"] {
        handle(&old, &mut world, &mut runner, &user, &Event::Text(t.into()), now).unwrap();
    }
    let retitled = demo_with(&text.replace("Выберите один из вариантов", "Выберите вариант"));
    let out = handle(
        &retitled,
        &mut world,
        &mut runner,
        &user,
        &Event::Text("Да".into()),
        now,
    )
    .unwrap();
    assert_eq!(out[0].text, "Выбрали \"Вариант №1\"");

    for t in ["Выбор", "1"] {
        handle(&old, &mut world, &mut runner, &user, &Event::Text(t.into()), now).unwrap();
    }
    let unconfirmed = demo_with(&text.replace("confirm = true\n", ""));
    let out = handle(
        &unconfirmed,
        &mut world,
        &mut runner,
        &user,
        &Event::Text("Да".into()),
        now,
    )
    .unwrap();
    assert_eq!(out.len(), 1);
    assert!(out[0].text.starts_with("Не понимаю запрос «Да»"), "{}", out[0].text);
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
