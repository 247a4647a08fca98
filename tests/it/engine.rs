//! Engine behaviour that transcripts cannot express: non-text messages,
//! stored sessions of another definition, forged buttons, long messages.

use botwright::diagnostics::SourceFile;
use botwright::engine::{Event, Session, User, World, handle, split_message};
use botwright::store::MemoryWorld;

fn demo() -> botwright::model::CompiledBot {
    let text = std::fs::read_to_string("bots/demo.toml").unwrap();
    botwright::validate::compile("demo", &SourceFile::new("demo.toml", text), &mut Vec::new()).unwrap()
}

fn now() -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_rfc3339("2021-02-06T14:00:00+03:00").unwrap()
}

const USER: User = User {
    id: 3,
    chat: 3,
    name: String::new(),
    username: None,
};

#[test]
fn a_message_without_text_gets_unsupported_message() {
    let bot = demo();
    let out = handle(
        &bot,
        &mut MemoryWorld::default(),
        &mut botwright::algorithms::Runner::offline(),
        &USER,
        &Event::Unsupported,
        now(),
    )
    .unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].text, "Я понимаю только текст.");
}

#[test]
fn a_session_on_a_changed_record_falls_back_to_the_top_level() {
    let bot = demo();
    let mut world = MemoryWorld::default();
    let mut runner = botwright::algorithms::Runner::offline();
    send(&bot, &mut world, &mut runner, "Выбор");
    let mut session = world.session(3, 3).unwrap().unwrap();
    assert!(session.open.is_some());
    assert_eq!(
        session.stamps.get("choice").map(String::as_str),
        bot.fingerprint_of("choice", 16),
        "the session keeps the fingerprint of the choice it stands on"
    );
    // As if the choice had been edited since: its stamp is not its fingerprint any more.
    session.stamps.insert("choice".into(), "0000000000000000".into());
    session.vars.insert("name".into(), "Ким".into());
    world.save_session(3, 3, &session).unwrap();
    let pressed = format!(
        "{}:o:{}:0",
        bot.fingerprint_of("choice", 8).unwrap(),
        session.open.as_ref().unwrap().seq
    );
    // "1" would be option 1 of the open choice; with the choice dropped it is unknown.
    let out = send(&bot, &mut world, &mut runner, "1");
    assert_eq!(out.len(), 1);
    assert!(out[0].text.starts_with("Не понимаю запрос «1»"), "{}", out[0].text);
    let after = world.session(3, 3).unwrap().unwrap();
    assert_eq!(after.open, None);
    assert_eq!(after.pending, None);
    assert!(after.shown.is_empty() && after.stamps.is_empty(), "{after:?}");
    assert_eq!(after.vars, session.vars, "values in `vars` stay as they were");
    // The choice's message went with it: its buttons are stale.
    let out = handle(&bot, &mut world, &mut runner, &USER, &Event::Button(pressed), now()).unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].text, "Эта кнопка устарела. Начните заново.");
}

/// A session stored before fingerprints (with the whole file's hash) loads: what it stood
/// on counts as changed, and its values stay.
#[test]
fn a_session_stored_with_the_whole_files_hash_keeps_its_values() {
    let bot = demo();
    let mut world = MemoryWorld::default();
    let mut runner = botwright::algorithms::Runner::offline();
    let old = r#"{"hash":"0123456789abcdef","open":{"record":"choice","history":[],"dynamic":null,"seq":4},
        "pending":{"Confirm":{"open":{"record":"choice","history":[],"dynamic":null,"seq":4},
        "option":{"Static":{"record":"option_1","typed":null}},"seq":5}},
        "vars":{"name":"Ким"},"seq":5,
        "shown":[{"seq":4,"open":{"record":"choice","history":[],"dynamic":null,"seq":4}}]}"#;
    let session: Session = serde_json::from_str(old).unwrap();
    world.save_session(3, 3, &session).unwrap();
    let fingerprint = bot.fingerprint_of("choice", 8).unwrap();
    // The old confirmation is not pending any more: «Да» is nothing here.
    let out = send(&bot, &mut world, &mut runner, "Да");
    assert!(out[0].text.starts_with("Не понимаю запрос «Да»"), "{}", out[0].text);
    let out = handle(
        &bot,
        &mut world,
        &mut runner,
        &USER,
        &Event::Button(format!("{fingerprint}:o:4:0")),
        now(),
    )
    .unwrap();
    assert_eq!(out[0].text, "Эта кнопка устарела. Начните заново.");
    let after = world.session(3, 3).unwrap().unwrap();
    assert_eq!(after.vars, session.vars);
    assert_eq!(after.seq, 5, "new messages are numbered after the old ones");
    assert!(after.open.is_none() && after.pending.is_none() && after.shown.is_empty());
}

/// bot-format.md, "Changing a bot file": a pending `input` stays pending through a new
/// question text and new records around it (its id comes from its words, not its place),
/// and is dropped silently when what it does with the answer changes.
#[test]
fn a_pending_input_survives_text_edits_and_is_dropped_silently_when_its_record_changes() {
    let text = std::fs::read_to_string("tests/transcripts/inputs.toml").unwrap();
    let compile = |text: String| {
        botwright::validate::compile("inputs", &SourceFile::new("inputs.toml", text), &mut Vec::new()).unwrap()
    };
    let old = compile(text.clone());
    let question = "Share your location or your contact, or type an address.";
    let edited = compile(text.replace(question, "Where are you?").replace(
        "[[keyword]]\nmatch = \"act\"",
        "[[keyword]]\nmatch = \"new\"\nreply = \"New.\"\n\n[[keyword]]\nmatch = \"act\"",
    ));
    assert_eq!(
        old.record_by_id("where").map(|r| old.records[r].id.as_str()),
        Some("where")
    );
    assert_ne!(
        old.record_by_id("where"),
        edited.record_by_id("where"),
        "the record moved"
    );
    let mut world = MemoryWorld::default();
    let mut runner = botwright::algorithms::Runner::offline();
    let mut say = |bot: &botwright::model::CompiledBot, world: &mut MemoryWorld, t: &str| {
        handle(bot, world, &mut runner, &USER, &Event::Text(t.into()), now()).unwrap()
    };
    assert_eq!(say(&old, &mut world, "where")[0].text, question);
    assert_eq!(say(&edited, &mut world, "Main street")[0].text, "Got Main street.");

    for changed in [
        text.replace(
            "accept = [\"location\", \"contact\", \"text\"]",
            "accept = [\"location\", \"text\"]",
        ),
        text.replace("then = \"where_received\"", "then = \"size_taken\""),
        text.replace(
            "then = \"where_received\"",
            "then = \"where_received\"\nsave_as = \"place\"",
        ),
    ] {
        let changed = compile(changed);
        say(&old, &mut world, "where");
        let out = say(&changed, &mut world, "Main street");
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].text, "I do not understand “Main street”. Please try again.");
        assert_eq!(world.session(3, 3).unwrap().unwrap().pending, None);
    }
}

#[test]
fn forged_buttons_are_stale_and_change_nothing() {
    let bot = demo();
    let mut world = MemoryWorld::default();
    let mut runner = botwright::algorithms::Runner::offline();
    send(&bot, &mut world, &mut runner, "Выбор");
    let before = world.session(3, 3).unwrap().unwrap();
    let h = bot.fingerprint_of("choice", 8).unwrap();
    let other = bot.fingerprint_of("option_2", 8).unwrap();
    let seq = before.open.as_ref().unwrap().seq;
    for data in [
        "".to_string(),
        "garbage".into(),
        format!("{h}:o:999999"),
        format!("{h}:o:0"),
        format!("{h}:d:{seq}:0"),
        format!("{h}:y:42"),
        format!("{h}:y:{seq}"),
        format!("{h}:o:{}:0", seq + 1),
        format!("{h}:o:{seq}:3"),
        format!("{h}:o:{seq}:99"),
        format!("{other}:o:{seq}:0"),
        format!("deadbeef:o:{seq}:0"),
        format!("{}:o:{seq}:0", h.to_uppercase()),
    ] {
        let out = handle(
            &bot,
            &mut world,
            &mut runner,
            &USER,
            &Event::Button(data.clone()),
            now(),
        )
        .unwrap();
        assert_eq!(out.len(), 1, "{data}");
        assert_eq!(out[0].text, "Эта кнопка устарела. Начните заново.", "{data}");
        assert_eq!(world.session(3, 3).unwrap().unwrap(), before, "{data}");
    }
    // The genuine button works.
    let out = handle(
        &bot,
        &mut world,
        &mut runner,
        &USER,
        &Event::Button(format!("{h}:o:{seq}:0")),
        now(),
    )
    .unwrap();
    assert_eq!(out[0].text, "Вы выбрали «Вариант №1». Подтвердить?");
}

/// The longest callback data a bot can make: a choice of the most options (100, static and
/// from an algorithm) with a confirmation, shown when the session's counter is at its
/// largest. Telegram refuses more than 64 bytes.
#[test]
fn the_longest_realistic_callback_data_fits_in_64_bytes() {
    let mut text = "[bot]\nname = \"B\"\ntoken_env = \"B_TOKEN\"\n\n\
                    [[keyword]]\nid = \"c\"\nmatch = \"c\"\nchoice = \"Pick\"\nconfirm = true\n\n\
                    [[keyword]]\nid = \"d\"\nmatch = \"d\"\nchoice = \"Pick\"\noptions_from = \"items\"\nconfirm = true\n\n\
                    [[keyword]]\nparent = \"d\"\nmatch = \"*\"\nreply = \"ok\"\n\n\
                    [algorithms.items]\nexpr = \"[\
                    "
    .to_string();
    text += &(0..100).map(|i| format!("'i{i}'")).collect::<Vec<_>>().join(", ");
    text += "]\"\n";
    for i in 0..100 {
        text += &format!("\n[[keyword]]\nparent = \"c\"\nmatch = \"Вариант {i}\"\nreply = \"r\"\n");
    }
    let mut diagnostics = Vec::new();
    let bot = botwright::validate::compile("b", &SourceFile::new("b.toml", text), &mut diagnostics)
        .unwrap_or_else(|| panic!("{diagnostics:?}"));
    let mut longest = String::new();
    for word in ["c", "d"] {
        let mut world = MemoryWorld::default();
        let mut runner = botwright::algorithms::Runner::offline();
        let mut session = Session::default();
        for seq in [u32::MAX - 2, 999_999_999] {
            session.seq = seq;
            world.save_session(3, 3, &session).unwrap();
            let out = handle(&bot, &mut world, &mut runner, &USER, &Event::Text(word.into()), now()).unwrap();
            let botwright::engine::Keyboard::Inline(rows) = &out[0].keyboard else {
                panic!("buttons")
            };
            assert_eq!(rows.iter().flatten().count(), 100);
            let last = rows.last().unwrap().last().unwrap().data.clone();
            // The confirmation of the last option, at the next number.
            let out = handle(
                &bot,
                &mut world,
                &mut runner,
                &USER,
                &Event::Button(last.clone()),
                now(),
            )
            .unwrap();
            let botwright::engine::Keyboard::Inline(rows) = &out[0].keyboard else {
                panic!("yes/no: {out:?}")
            };
            for data in rows.iter().flatten().map(|b| b.data.clone()).chain([last]) {
                if data.len() > longest.len() {
                    longest = data;
                }
            }
        }
    }
    // `FINGERPRINT:o:SEQ:99`: 8 + 3 + 10 + 1 + 2 bytes.
    assert_eq!(longest.len(), 24, "{longest}");
    assert!(longest.len() <= 64);
}

#[test]
fn long_messages_are_split_at_line_breaks_never_cut() {
    let line = "x".repeat(1000);
    let text = [line.as_str(); 9].join("\n");
    let parts = split_message(&text);
    assert_eq!(parts.len(), 3);
    assert!(parts.iter().all(|p| p.chars().count() <= 4096));
    assert_eq!(parts.join("\n"), text);
    let one_line = "y".repeat(9000);
    let parts = split_message(&one_line);
    assert_eq!(parts.concat(), one_line);
    assert!(parts.iter().all(|p| p.chars().count() <= 4096));
}

#[test]
fn only_responsible_operators_decide_requests() {
    let text = std::fs::read_to_string("bots/support.toml").unwrap();
    let bot = botwright::validate::compile("support", &SourceFile::new("support.toml", text), &mut Vec::new()).unwrap();
    let mut world = MemoryWorld::default();
    let mut runner = botwright::algorithms::Runner::offline();
    runner.stubs.insert("crm_lookup".into(), botwright::store::Stub::Fails);
    runner
        .stubs
        .insert("crm_registration".into(), botwright::store::Stub::Fails);
    let asker = User {
        id: 42,
        chat: 42,
        name: "Иван".into(),
        username: None,
    };
    for event in [
        Event::Button("a:r".into()),
        Event::Text("ООО Ромашка".into()),
        Event::Text("Да".into()),
    ] {
        handle(&bot, &mut world, &mut runner, &asker, &event, now()).unwrap();
    }
    assert_eq!(world.requests.len(), 1);
    let stranger = User {
        id: 555,
        chat: 555,
        name: "Чужой".into(),
        username: None,
    };
    for data in ["a:ap:1", "a:rj:1", "a:k:1:0", "a:nm:1"] {
        let out = handle(
            &bot,
            &mut world,
            &mut runner,
            &stranger,
            &Event::Button(data.into()),
            now(),
        )
        .unwrap();
        assert_eq!(out.len(), 1, "{data}");
        assert_eq!(out[0].text, "Вы не можете рассматривать заявки этого бота.", "{data}");
    }
    assert_eq!(
        world.requests[0].status,
        botwright::engine::AuthStatus::Pending,
        "nothing changed"
    );
    assert!(world.registrations.is_empty());
}

#[test]
fn a_code_value_is_one_message_and_a_reply_at_most_ten() {
    let text = std::fs::read_to_string("tests/transcripts/limits.toml").unwrap();
    let bot = botwright::validate::compile("limits", &SourceFile::new("limits.toml", text), &mut Vec::new()).unwrap();
    let mut world = MemoryWorld::default();
    let mut runner = botwright::algorithms::Runner::offline();
    let code =
        "join(split(join(split(join(split('aaaaaaaaaa', 'a'), 'bbbbbbbbbb'), 'b'), 'cccccccccc'), 'c'), 'ddddddddd\n')";
    let out = handle(&bot, &mut world, &mut runner, &USER, &Event::Text(code.into()), now()).unwrap();
    assert_eq!(out.len(), 1, "one message");
    assert_eq!(out[0].text.chars().count(), 4096);
    assert!(out[0].text.ends_with('…'));
    let out = send(&bot, &mut world, &mut runner, "long");
    assert_eq!(out.len(), 10);
    assert!(out.iter().all(|m| m.text.chars().count() <= 4096));
    assert!(out[9].text.ends_with('…'));
    assert!(out[..9].iter().all(|m| !m.text.ends_with('…')));
}

fn closed_bot() -> botwright::model::CompiledBot {
    let text = r#"
[bot]
name = "Closed"
token_env = "CLOSED_TOKEN"
language = "en"

[auth]
required = true
confirm = false
algorithm = "lookup"
principal_kinds = ["employee"]

[[keyword]]
id = "note"
match = "note"
input = "Your note?"
then = "saved"

[[keyword]]
id = "saved"
reply = "Saved: {{ input }}"

[[keyword]]
id = "sure"
match = "sure"
choice = "Sure?"
confirm = true

[[keyword]]
parent = "sure"
match = "yes please"
reply = "Done."

[algorithms.lookup]
expr = "{principal: {kind: 'employee', id: 'e1', name: 'Ann'}}"
"#;
    botwright::validate::compile(
        "closed",
        &SourceFile::new("closed.toml", text.to_string()),
        &mut Vec::new(),
    )
    .unwrap()
}

#[test]
fn a_closed_bot_is_silent_in_groups() {
    let bot = closed_bot();
    let mut world = MemoryWorld::default();
    let mut runner = botwright::algorithms::Runner::offline();
    let in_group = User {
        id: 3,
        chat: -100_200,
        name: "Ann".into(),
        username: None,
    };
    for event in [
        Event::Text("note".into()),
        Event::Text("/start".into()),
        Event::Unsupported,
    ] {
        assert!(
            handle(&bot, &mut world, &mut runner, &in_group, &event, now())
                .unwrap()
                .is_empty()
        );
    }
    assert!(world.sessions.is_empty(), "nothing is stored for a group");
}

#[test]
fn removing_a_registration_ends_pending_steps() {
    let bot = closed_bot();
    let mut world = MemoryWorld::default();
    let mut runner = botwright::algorithms::Runner::offline();
    let principal = botwright::engine::Principal {
        kind: "employee".into(),
        id: "e1".into(),
        name: "Ann".into(),
    };
    world.register_as(USER.chat, &principal, "Ann");
    let out = send(&bot, &mut world, &mut runner, "note");
    assert_eq!(out[0].text, "Your note?");
    // The registration goes while the input waits: the answer is not taken.
    world.registrations.clear();
    let out = send(&bot, &mut world, &mut runner, "hello");
    assert_eq!(out.len(), 1);
    assert_ne!(out[0].text, "Saved: hello");
    assert!(out[0].keyboard.button_data("Register").is_some(), "{:?}", out[0]);
    assert!(world.session(3, 3).unwrap().unwrap().pending.is_none());

    // The same for a confirmation button pressed after the registration went.
    world.register_as(USER.chat, &principal, "Ann");
    send(&bot, &mut world, &mut runner, "sure");
    let out = send(&bot, &mut world, &mut runner, "yes please");
    let yes = out[0].keyboard.button_data("Yes").expect("a yes button").to_string();
    world.registrations.clear();
    let out = handle(&bot, &mut world, &mut runner, &USER, &Event::Button(yes), now()).unwrap();
    assert_eq!(out.len(), 1);
    assert_ne!(out[0].text, "Done.");
    assert!(out[0].keyboard.button_data("Register").is_some(), "{:?}", out[0]);
}

#[test]
fn a_press_acts_on_the_last_twenty_messages_with_buttons_only() {
    let bot = demo();
    let mut world = MemoryWorld::default();
    let mut runner = botwright::algorithms::Runner::offline();
    let mut presses = Vec::new();
    for _ in 0..21 {
        let out = send(&bot, &mut world, &mut runner, "Выбор");
        presses.push(out[0].keyboard.button_data("Вариант №1").unwrap().to_string());
    }
    assert_eq!(world.session(3, 3).unwrap().unwrap().shown.len(), 20);
    // The first of 21 messages is beyond the twenty: stale.
    let out = handle(
        &bot,
        &mut world,
        &mut runner,
        &USER,
        &Event::Button(presses[0].clone()),
        now(),
    )
    .unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].text, "Эта кнопка устарела. Начните заново.");
    // The second is among them: its press acts on it.
    let out = handle(
        &bot,
        &mut world,
        &mut runner,
        &USER,
        &Event::Button(presses[1].clone()),
        now(),
    )
    .unwrap();
    assert_eq!(out[0].text, "Вы выбрали «Вариант №1». Подтвердить?");
}

#[test]
fn a_contact_registration_shows_a_contact_button_and_removes_it() {
    let text = std::fs::read_to_string("tests/transcripts/phone.toml").unwrap();
    let bot = botwright::validate::compile("phone", &SourceFile::new("phone.toml", text), &mut Vec::new()).unwrap();
    let mut world = MemoryWorld::default();
    let mut runner = botwright::algorithms::Runner::offline();
    let out = send(&bot, &mut world, &mut runner, "hi");
    assert_eq!(out[0].keyboard, botwright::engine::Keyboard::Contact("Register".into()));
    let contact = botwright::engine::Attachment::Contact {
        phone: "+79001234567".into(),
        first_name: "Ann".into(),
        user_id: Some(USER.id),
    };
    let out = handle(&bot, &mut world, &mut runner, &USER, &Event::Attachment(contact), now()).unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].keyboard, botwright::engine::Keyboard::RemoveMenu);
    assert_eq!(world.registrations[&USER.chat].0.id, "e1");
}

/// A notification's action button on a closed bot: a stranger gets the auth request; a
/// registered user's press ends what was pending and runs the record with the kept value;
/// a record no longer marked `action = true` makes the button stale.
#[test]
fn action_buttons_check_registration_and_run_their_record() {
    use botwright::engine::{ActionButton, Principal};
    let text = std::fs::read_to_string("bots/signal.toml").unwrap();
    let signal =
        botwright::validate::compile("signal", &SourceFile::new("signal.toml", text.clone()), &mut Vec::new()).unwrap();
    let mut world = MemoryWorld::default();
    let mut runner = botwright::algorithms::Runner::offline();
    world.action_buttons.insert(
        1,
        ActionButton {
            record: "task_done_button".into(),
            value: "19".into(),
            label: "Выполнена".into(),
            message_text: "📌 Новая задача №19".into(),
            chat: 502,
        },
    );
    let user = User {
        id: 502,
        chat: 502,
        name: "Иван".into(),
        username: None,
    };
    let press = Event::Button(botwright::engine::Callback::Action { id: 1 }.encode());
    let out = handle(&signal, &mut world, &mut runner, &user, &press, now()).unwrap();
    assert!(out[0].text.starts_with("Бот «Сигнал» доступен сотрудникам."), "{out:?}");

    let employee = Principal {
        kind: "user".into(),
        id: "e2".into(),
        name: "Иван Иванов".into(),
    };
    world.register_as(502, &employee, "Иван");
    handle(
        &signal,
        &mut world,
        &mut runner,
        &user,
        &Event::Text("Новая задача".into()),
        now(),
    )
    .unwrap();
    let out = handle(&signal, &mut world, &mut runner, &user, &press, now()).unwrap();
    assert_eq!(out[0].text, "Напишите комментарий к выполнению задачи №19.");
    // The comment answers the action's input, not the new task's question it replaced.
    runner.stubs.insert(
        "complete_task".into(),
        botwright::store::Stub::Returns(serde_json::json!("Задача №19 выполнена.")),
    );
    let out = handle(
        &signal,
        &mut world,
        &mut runner,
        &user,
        &Event::Text("Сделано".into()),
        now(),
    )
    .unwrap();
    assert_eq!(out[0].text, "Задача №19 выполнена.");
    // A forged id, and a record that lost `action = true`, are stale.
    let forged = Event::Button("x:777".into());
    assert!(
        handle(&signal, &mut world, &mut runner, &user, &forged, now()).unwrap()[0]
            .text
            .contains("устарела")
    );
    let without = text.replace("id = \"task_done_button\"\naction = true", "id = \"task_done_button\"");
    let changed = botwright::validate::compile("signal", &SourceFile::new("signal.toml", without), &mut Vec::new());
    // The notification's button now names a record that is not an action: a compile error.
    assert!(changed.is_none());
    // A kept button whose record is not (or no longer) `action = true` is stale.
    world.action_buttons.insert(
        2,
        ActionButton {
            record: "task_details".into(),
            value: "19".into(),
            label: "Подробнее…".into(),
            message_text: String::new(),
            chat: 502,
        },
    );
    let stale = Event::Button(botwright::engine::Callback::Action { id: 2 }.encode());
    assert!(
        handle(&signal, &mut world, &mut runner, &user, &stale, now()).unwrap()[0]
            .text
            .contains("устарела")
    );
}

#[test]
fn a_spliced_value_cannot_end_an_attribute() {
    let text = "[bot]\nname = \"Q\"\ntoken_env = \"Q_TOKEN\"\n\n[[keyword]]\nid = \"find\"\nmatch = \"find\"\ninput = \"What?\"\nthen = \"link\"\n\n[[keyword]]\nid = \"link\"\nreply = '<a href=\"https://shop.example/?q={{ input }}\">results</a> for {{ input }}'\n";
    let mut found = Vec::new();
    let bot = botwright::validate::compile("q", &SourceFile::new("q.toml", text), &mut found)
        .unwrap_or_else(|| panic!("{found:?}"));
    let mut world = MemoryWorld::default();
    let mut runner = botwright::algorithms::Runner::offline();
    send(&bot, &mut world, &mut runner, "find");
    let out = handle(
        &bot,
        &mut world,
        &mut runner,
        &USER,
        &Event::Text("x\" href=\"https://evil.example/ <b>&".into()),
        now(),
    )
    .unwrap();
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(
        out[0].text,
        "<a href=\"https://shop.example/?q=x&quot; href=&quot;https://evil.example/ &lt;b&gt;&amp;\">results</a> \
         for x&quot; href=&quot;https://evil.example/ &lt;b&gt;&amp;"
    );
    assert_eq!(out[0].text.matches("href=\"").count(), 1);
    assert_eq!(botwright::expr::escape_html("\"'<>&"), "&quot;'&lt;&gt;&amp;");
}

/// An action button acts only in the chat it was sent to: callback data naming another chat's
/// button, forged in a chat of a registered user, is stale and changes nothing.
#[test]
fn an_action_button_acts_only_in_its_chat() {
    use botwright::engine::{ActionButton, Callback, Principal};
    let text = std::fs::read_to_string("bots/signal.toml").unwrap();
    let signal =
        botwright::validate::compile("signal", &SourceFile::new("signal.toml", text), &mut Vec::new()).unwrap();
    let mut world = MemoryWorld::default();
    let mut runner = botwright::algorithms::Runner::offline();
    world.action_buttons.insert(
        1,
        ActionButton {
            record: "task_done_button".into(),
            value: "19".into(),
            label: "Выполнена".into(),
            message_text: "📌 Новая задача №19".into(),
            chat: 502,
        },
    );
    let employee = Principal {
        kind: "user".into(),
        id: "e2".into(),
        name: "Иван Иванов".into(),
    };
    let mallory = User {
        id: 666,
        chat: 666,
        name: "Мэллори".into(),
        username: None,
    };
    world.register_as(502, &employee, "Иван");
    world.register_as(666, &employee, "Мэллори");
    let press = Event::Button(Callback::Action { id: 1 }.encode());
    let out = handle(&signal, &mut world, &mut runner, &mallory, &press, now()).unwrap();
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].text, "Эта кнопка устарела. Начните заново.");
    assert!(
        world.session(666, 666).unwrap().and_then(|s| s.pending).is_none(),
        "the action's question is not pending"
    );
    // In its own chat it acts.
    let owner = User {
        id: 502,
        chat: 502,
        name: "Иван".into(),
        username: None,
    };
    let out = handle(&signal, &mut world, &mut runner, &owner, &press, now()).unwrap();
    assert_eq!(out[0].text, "Напишите комментарий к выполнению задачи №19.");
}

fn answers_bot() -> botwright::model::CompiledBot {
    let text = std::fs::read_to_string("tests/transcripts/answers.toml").unwrap();
    botwright::validate::compile("answers", &SourceFile::new("answers.toml", text), &mut Vec::new()).unwrap()
}

fn say(bot: &botwright::model::CompiledBot, world: &mut MemoryWorld, text: &str) -> Vec<String> {
    handle(
        bot,
        world,
        &mut botwright::algorithms::Runner::offline(),
        &USER,
        &Event::Text(text.into()),
        now(),
    )
    .unwrap()
    .into_iter()
    .map(|m| m.text)
    .collect()
}

/// A world that holds only this user's session, read back from the JSON a store keeps.
fn restarted(world: &MemoryWorld) -> (MemoryWorld, String) {
    let json = serde_json::to_string(&world.sessions[&(3, 3)]).unwrap();
    let mut fresh = MemoryWorld::default();
    fresh.sessions.insert((3, 3), serde_json::from_str(&json).unwrap());
    (fresh, json)
}

/// A value an `input` parsed (a date, a number) keeps its type in `vars` after the session
/// is stored and read back: the next step compares and formats it as a date, computes with it.
#[test]
fn parsed_answers_keep_their_type_after_a_restart() {
    let bot = answers_bot();
    let mut world = MemoryWorld::default();
    assert_eq!(say(&bot, &mut world, "visit"), ["Which day?"]);
    assert_eq!(say(&bot, &mut world, "8.2"), ["Until when may it take?"]);
    let (mut world, json) = restarted(&world);
    assert!(
        json.contains(r#""day":{"$datetime":"2021-02-08T00:00:00+03:00"}"#),
        "{json}"
    );
    // `check = "input > vars.day"` compares two dates: a text would fail and refuse it.
    assert_eq!(
        say(&bot, &mut world, "7.2 18:00"),
        ["I cannot take “7.2 18:00” as the answer. Please try again."]
    );
    assert_eq!(
        say(&bot, &mut world, "9.2 10:00"),
        ["Visit on 08.02.2021 00:00, done by 09.02 10:00, 09.02 at the latest."]
    );

    assert_eq!(say(&bot, &mut world, "price"), ["The price?"]);
    assert_eq!(say(&bot, &mut world, "0,1"), ["How many (1 to 10)?"]);
    // The refusals so far count across a restart too.
    assert_eq!(say(&bot, &mut world, "0"), ["«0» is not a count from 1 to 10."]);
    assert_eq!(say(&bot, &mut world, "11"), ["«11» is not a count from 1 to 10."]);
    let (mut world, _) = restarted(&world);
    assert_eq!(say(&bot, &mut world, "3"), ["3 × 0.1 = 0.3 (4 would cost more)."]);
    let (mut world, json) = restarted(&world);
    assert!(
        json.contains(r#""price":0.1"#) && json.contains(r#""quantity":3"#),
        "{json}"
    );
    assert_eq!(say(&bot, &mut world, "price"), ["The price?"]);
    assert_eq!(say(&bot, &mut world, "0"), ["How many (1 to 10)?"]);
    assert_eq!(say(&bot, &mut world, "0"), ["«0» is not a count from 1 to 10."]);
    assert_eq!(say(&bot, &mut world, "0"), ["«0» is not a count from 1 to 10."]);
    let (mut world, _) = restarted(&world);
    assert_eq!(
        say(&bot, &mut world, "0"),
        ["Too many wrong answers. Please start again."]
    );
    assert!(world.sessions[&(3, 3)].pending.is_none());
}

/// Reading answers by `type`, exactly as bot-format.md defines each.
#[test]
fn answers_are_read_by_their_type() {
    use botwright::engine::read_answer;
    use botwright::expr::Value;
    use botwright::model::AnswerType::*;
    let tz: Option<chrono_tz::Tz> = Some("Europe/Moscow".parse().unwrap());
    let read = |t, text: &str| read_answer(t, text, now(), tz).map(|v| v.to_text());
    assert_eq!(read(Number, "1 500,5").as_deref(), Some("1500.5"));
    assert_eq!(read(Number, " -2.25 ").as_deref(), Some("-2.25"));
    assert_eq!(read(Number, "7").as_deref(), Some("7"));
    for bad in ["", "1,2,3", "1e5", "abc", ",", "1.5 руб", "--1"] {
        assert_eq!(read(Number, bad), None, "{bad}");
    }
    assert_eq!(read(Integer, "1 000 000").as_deref(), Some("1000000"));
    assert_eq!(read(Integer, "-3").as_deref(), Some("-3"));
    for bad in ["1.5", "1,0", "", "+", "ten", "99999999999999999999999999999999"] {
        assert_eq!(read(Integer, bad), None, "{bad}");
    }
    // Dates: the start of the day in the bot's zone; without a year, not before today.
    let date = |text: &str| read_answer(Date, text, now(), tz);
    let day = |s: &str| Value::DateTime(chrono::DateTime::parse_from_rfc3339(s).unwrap());
    assert_eq!(date("6.2"), Some(day("2021-02-06T00:00:00+03:00")));
    assert_eq!(date("05.02"), Some(day("2022-02-05T00:00:00+03:00")));
    assert_eq!(date("05.02.21"), Some(day("2021-02-05T00:00:00+03:00")));
    assert_eq!(date("1.3.2021"), Some(day("2021-03-01T00:00:00+03:00")));
    assert_eq!(date("2"), Some(day("2021-02-08T00:00:00+03:00")));
    for bad in ["6.2 14:00", "31.02.2021", "tomorrow", "", "6/2"] {
        assert_eq!(date(bad), None, "{bad}");
    }
    assert_eq!(
        read_answer(Deadline, "6.2", now(), tz),
        Some(day("2021-02-06T18:00:00+03:00"))
    );
    assert_eq!(read_answer(Deadline, "soon", now(), tz), None);
    assert_eq!(read(Phone, "+7 (912) 345-67-89").as_deref(), Some("+79123456789"));
    assert_eq!(read(Phone, "89123456789").as_deref(), Some("+89123456789"));
    for bad in [
        "12345",
        "+7 912 345 67 89 12 34 5",
        "7912abc4567",
        "++79123456789",
        "phone",
    ] {
        assert_eq!(read(Phone, bad), None, "{bad}");
    }
    assert_eq!(
        read(Email, " Anna.P@Mail.Example.COM ").as_deref(),
        Some("anna.p@mail.example.com")
    );
    for bad in [
        "anna",
        "anna@",
        "@example.com",
        "anna@example",
        "a b@example.com",
        "a@b@example.com",
        "anna@example.c0m",
        "anna@.com",
    ] {
        assert_eq!(read(Email, bad), None, "{bad}");
    }
}

/// `selected_title` and `history[].label` of an action press: the button's text; `title` the
/// notification's text; `choice` null. And `selected_title` reaches algorithms' requests.
#[test]
fn an_action_press_gives_its_label_and_algorithms_get_selected_title() {
    use botwright::engine::{ActionButton, Callback};
    let text = "[bot]\nname = \"T\"\ntoken_env = \"T_TOKEN\"\nlanguage = \"en\"\n\n\
        [[keyword]]\nid = \"done\"\naction = true\nrun = \"echo\"\n\n\
        [algorithms.echo]\nbuiltin = \"echo\"\n";
    let bot = botwright::validate::compile("t", &SourceFile::new("t.toml", text), &mut Vec::new()).unwrap();
    let mut world = MemoryWorld::default();
    let mut runner = botwright::algorithms::Runner::offline();
    runner.builtins.register("echo", |call| {
        let body = call.request_json();
        Ok(botwright::expr::Value::text(format!(
            "{} {} {}",
            body["selected_title"], body["selected"], body["history"]
        )))
    });
    world.action_buttons.insert(
        4,
        ActionButton {
            record: "done".into(),
            value: "19".into(),
            label: "Done".into(),
            message_text: "Task 19".into(),
            chat: 3,
        },
    );
    let out = handle(
        &bot,
        &mut world,
        &mut runner,
        &USER,
        &Event::Button(Callback::Action { id: 4 }.encode()),
        now(),
    )
    .unwrap();
    assert_eq!(
        out[0].text,
        r#""Done" "19" [{"choice":null,"title":"Task 19","selected":"19","label":"Done"}]"#
    );
}

/// A world that fails its first registration read and counts every call after it.
struct FailsOnce {
    inner: MemoryWorld,
    failed: bool,
    calls_after: usize,
}

impl FailsOnce {
    fn note(&mut self) {
        if self.failed {
            self.calls_after += 1;
        }
    }
}

impl World for FailsOnce {
    fn session(&mut self, chat: i64, user: i64) -> Result<Option<Session>, botwright::engine::WorldError> {
        self.note();
        self.inner.session(chat, user)
    }
    fn save_session(&mut self, chat: i64, user: i64, s: &Session) -> Result<(), botwright::engine::WorldError> {
        self.note();
        self.inner.save_session(chat, user, s)
    }
    fn registration(
        &mut self,
        key: i64,
    ) -> Result<Option<botwright::engine::Principal>, botwright::engine::WorldError> {
        self.note();
        if !self.failed {
            self.failed = true;
            return Err(botwright::engine::WorldError::Storage("the database is gone".into()));
        }
        self.inner.registration(key)
    }
    fn register(
        &mut self,
        key: i64,
        p: &botwright::engine::Principal,
        name: &str,
        at: chrono::DateTime<chrono::FixedOffset>,
    ) -> Result<(), botwright::engine::WorldError> {
        self.note();
        self.inner.register(key, p, name, at)
    }
    fn create_auth_request(&mut self, r: botwright::engine::AuthRequest) -> Result<u64, botwright::engine::WorldError> {
        self.note();
        self.inner.create_auth_request(r)
    }
    fn auth_request(
        &mut self,
        id: u64,
    ) -> Result<Option<botwright::engine::AuthRequest>, botwright::engine::WorldError> {
        self.note();
        self.inner.auth_request(id)
    }
    fn pending_auth_request(
        &mut self,
        key: i64,
    ) -> Result<Option<botwright::engine::AuthRequest>, botwright::engine::WorldError> {
        self.note();
        self.inner.pending_auth_request(key)
    }
    fn update_auth_request(&mut self, r: &botwright::engine::AuthRequest) -> Result<(), botwright::engine::WorldError> {
        self.note();
        self.inner.update_auth_request(r)
    }
    fn action_button(
        &mut self,
        id: u64,
        chat: i64,
    ) -> Result<Option<botwright::engine::ActionButton>, botwright::engine::WorldError> {
        self.note();
        self.inner.action_button(id, chat)
    }
}

/// After the world's first failure the step calls it no more, and fails.
#[test]
fn the_step_stops_calling_the_world_at_its_first_failure() {
    let text = std::fs::read_to_string("bots/support.toml").unwrap();
    let bot = botwright::validate::compile("support", &SourceFile::new("support.toml", text), &mut Vec::new()).unwrap();
    let mut world = FailsOnce {
        inner: MemoryWorld::default(),
        failed: false,
        calls_after: 0,
    };
    let result = handle(
        &bot,
        &mut world,
        &mut botwright::algorithms::Runner::offline(),
        &USER,
        &Event::Text("Привет".into()),
        now(),
    );
    assert!(world.failed, "the closed bot reads the registration");
    assert!(result.is_err(), "the step fails with the world");
    assert_eq!(world.calls_after, 0, "the world was called after its failure");
}

/// `USER` writes `text`; the step's messages (offline: `runner`'s stubs, no `http`).
fn send(
    bot: &botwright::model::CompiledBot,
    world: &mut MemoryWorld,
    runner: &mut botwright::algorithms::Runner,
    text: &str,
) -> Vec<botwright::engine::Outgoing> {
    handle(bot, world, runner, &USER, &Event::Text(text.into()), now()).unwrap()
}
