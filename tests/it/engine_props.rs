//! Random conversations against every shipped bot never panic and always
//! leave the session on records that exist.

use botwright::diagnostics::SourceFile;
use botwright::engine::{Event, Keyboard, Pending, User, World, handle};
use botwright::store::{MemoryWorld, Stub};
use proptest::prelude::*;

fn bots() -> Vec<botwright::model::CompiledBot> {
    ["demo", "support"]
        .iter()
        .map(|id| {
            let text = std::fs::read_to_string(format!("bots/{id}.toml")).unwrap();
            botwright::validate::compile(id, &SourceFile::new(format!("{id}.toml"), text), &mut Vec::new()).unwrap()
        })
        .collect()
}

#[derive(Debug, Clone)]
enum Step {
    Word(usize),
    Press(usize),
    Junk(String),
    Forged(String),
    Switch(i64),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0usize..64).prop_map(Step::Word),
        4 => (0usize..16).prop_map(Step::Press),
        1 => ".{0,12}".prop_map(Step::Junk),
        1 => "[0-9a-f:ayknrpdo]{0,20}".prop_map(Step::Forged),
        1 => prop_oneof![Just(42i64), Just(1001), Just(1002)].prop_map(Step::Switch),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, .. ProptestConfig::default() })]

    #[test]
    fn random_conversations_stay_on_valid_nodes(steps in proptest::collection::vec(step(), 1..40), stub_fail in any::<bool>()) {
        let now = chrono::DateTime::parse_from_rfc3339("2021-02-06T14:00:00+03:00").unwrap();
        for bot in bots() {
            let mut world = MemoryWorld::default();
            let mut runner = botwright::algorithms::Runner::offline();
            for name in bot.algorithms.keys() {
                if matches!(bot.algorithms[name].kind, botwright::model::AlgorithmKind::Http(_)) {
                    let stub = if stub_fail { Stub::Fails } else { Stub::Returns(serde_json::json!({"text": "ok", "choices": ["a", "b"], "principal": {"kind": "user", "id": "1", "name": "N"}})) };
                    runner.stubs.insert(name.clone(), stub);
                }
            }
            let mut words: Vec<String> = bot.records.iter().flat_map(|r| r.words.clone()).collect();
            words.extend(["/start", "Отмена", "Да", "Нет", "2+2*2", "Зарегистрироваться"].map(String::from));
            let mut user = User { id: 42, chat: 42, name: "U".into(), username: None };
            let mut last: Vec<botwright::engine::Outgoing> = Vec::new();
            for s in &steps {
                let event = match s {
                    Step::Word(i) => Event::Text(words[i % words.len()].clone()),
                    Step::Junk(t) => Event::Text(t.clone()),
                    Step::Forged(d) => Event::Button(d.clone()),
                    Step::Press(i) => {
                        let buttons: Vec<String> = last.iter().filter(|m| m.to == user.chat).flat_map(|m| match &m.keyboard {
                            Keyboard::Inline(rows) => rows.iter().flatten().map(|b| b.data.clone()).collect(),
                            _ => Vec::new(),
                        }).collect();
                        if buttons.is_empty() { continue; }
                        Event::Button(buttons[i % buttons.len()].clone())
                    }
                    Step::Switch(id) => {
                        user = User { id: *id, chat: *id, name: format!("U{id}"), username: None };
                        continue;
                    }
                };
                let out = handle(&bot, &mut world, &mut runner, &user, &event, now).unwrap();
                for m in &out {
                    prop_assert!(!m.text.is_empty() || m.keyboard != Keyboard::None, "an empty message");
                    if let Keyboard::Inline(rows) = &m.keyboard {
                        for b in rows.iter().flatten() {
                            prop_assert!(b.data.len() <= 64 && b.label.len() <= 64);
                        }
                    }
                }
                last.extend(out);
                let session = world.session(user.chat, user.id).unwrap().expect("saved");
                // Whatever the session stands on exists and carries its record's fingerprint.
                let stamped = |id: &str| session.stamps.get(id).map(String::as_str) == bot.fingerprint_of(id, 16);
                if let Some(open) = &session.open {
                    prop_assert!(bot.record_by_id(&open.record).is_some());
                    prop_assert!(stamped(&open.record));
                }
                if let Some(Pending::Input { record, .. }) = &session.pending {
                    prop_assert!(bot.record_by_id(record).is_some());
                    prop_assert!(stamped(record));
                }
            }
        }
    }
}

#[test]
fn an_unregistered_user_reaches_nothing_of_a_closed_bot() {
    let now = chrono::DateTime::parse_from_rfc3339("2021-02-06T14:00:00+03:00").unwrap();
    let signal = {
        let text = std::fs::read_to_string("bots/signal.toml").unwrap();
        botwright::validate::compile("signal", &SourceFile::new("signal.toml", text), &mut Vec::new()).unwrap()
    };
    for bot in bots()
        .into_iter()
        .chain([signal])
        .filter(|b| b.auth.as_ref().is_some_and(|a| a.required))
    {
        let mut world = MemoryWorld::default();
        let mut runner = botwright::algorithms::Runner::offline();
        let user = User {
            id: 77,
            chat: 77,
            name: "Stranger".into(),
            username: None,
        };
        // Public records are for strangers too (bot-format.md, "Chats and users"); nothing else is.
        let mut tries: Vec<String> = bot
            .records
            .iter()
            .filter(|r| !r.public)
            .flat_map(|r| r.words.clone())
            .collect();
        tries.extend(bot.algorithms.keys().cloned());
        tries.extend(bot.algorithms.values().filter_map(|a| a.title.clone()));
        tries.push("2+2*2".into());
        // With `[auth] contact`, the auth flow waits for the contact: text gets `input_wrong_kind`.
        let wrong_kind = botwright::texts::TEXTS
            .iter()
            .find(|t| t.key == "input_wrong_kind")
            .unwrap();
        let waiting_for_contact = wrong_kind.ru.split("{{").next().unwrap().to_string();
        for t in tries {
            let out = handle(&bot, &mut world, &mut runner, &user, &Event::Text(t.clone()), now).unwrap();
            if bot.auth.as_ref().is_some_and(|a| a.contact)
                && out.len() == 1
                && out[0].text.starts_with(&waiting_for_contact)
            {
                continue;
            }
            prop_assert_only_auth(&out, &t);
        }
        // A forged press gets `choice_stale` (which strangers may get) or the auth request.
        let stale = handle(
            &bot,
            &mut world,
            &mut runner,
            &user,
            &Event::Button("forged".into()),
            now,
        )
        .unwrap();
        assert_eq!(stale.len(), 1);
        // Every option button of every choice that is not public, as if it had been shown.
        for choice in bot.records.iter().filter(|r| !r.public) {
            let fingerprint = choice.fingerprint_prefix(8);
            for option in 0..choice.options.len() {
                for seq in [0, 1, 2] {
                    let data = format!("{fingerprint}:o:{seq}:{option}");
                    let out = handle(&bot, &mut world, &mut runner, &user, &Event::Button(data), now).unwrap();
                    if out != stale {
                        prop_assert_only_auth(&out, "a button");
                    }
                }
            }
        }
        assert!(world.requests.is_empty(), "nothing was requested");
    }
}

fn prop_assert_only_auth(out: &[botwright::engine::Outgoing], what: &str) {
    assert_eq!(out.len(), 1, "{what}: {out:?}");
    assert!(
        out[0].text.contains("Зарегистрируйтесь"),
        "{what} reached: {}",
        out[0].text
    );
}
