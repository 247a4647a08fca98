//! The engine: random texts, presses of shown buttons, forged callback data,
//! files and contacts, from two users, against every shipped bot. Never a
//! panic, and nothing over Telegram's limits: at most 10 messages to the user
//! per update, 4,096 characters a message, 64 bytes of callback data. On a
//! closed bot a stranger reaches nothing but `public` records and the auth
//! flow: no choice, input or option button of any other record.
#![no_main]

use botwright::diagnostics::SourceFile;
use botwright::engine::{Attachment, Callback, Event, Keyboard, Pending, User, World, handle};
use botwright::store::MemoryWorld;
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

static BOTS: LazyLock<Vec<botwright::model::CompiledBot>> = LazyLock::new(|| {
    [
        ("demo", include_str!("../../bots/demo.toml")),
        ("support", include_str!("../../bots/support.toml")),
        ("signal", include_str!("../../bots/signal.toml")),
    ]
    .into_iter()
    .map(|(id, text)| {
        botwright::validate::compile(
            id,
            &SourceFile::new(format!("{id}.toml"), text.to_string()),
            &mut Vec::new(),
        )
        .expect("shipped bots compile")
    })
    .collect()
});

fuzz_target!(|data: &[u8]| {
    let Some((&which, mut rest)) = data.split_first() else {
        return;
    };
    let bot = &BOTS[which as usize % BOTS.len()];
    let mut world = MemoryWorld::default();
    // Algorithms run offline: `http` ones fail, as in transcripts.
    let mut runner = botwright::algorithms::Runner::offline();
    let now = chrono::DateTime::parse_from_rfc3339("2021-02-06T14:00:00+03:00").unwrap();
    let mut shown: Vec<String> = Vec::new();
    let words: Vec<String> = bot.records.iter().flat_map(|r| r.words.clone()).collect();
    let mut steps = 0;
    while let Some((&op, tail)) = rest.split_first() {
        steps += 1;
        if steps > 64 {
            break;
        }
        let take = (tail.first().copied().unwrap_or(0) as usize % 24).min(tail.len().saturating_sub(1));
        let chunk = tail.get(1..1 + take).unwrap_or_default();
        rest = tail.get(1 + take..).unwrap_or_default();
        let text = String::from_utf8_lossy(chunk).to_string();
        let user_id = if op & 0x80 == 0 { 11 } else { 12 };
        let user = User {
            id: user_id,
            chat: user_id,
            name: "Fuzz".into(),
            username: None,
        };
        let event = match op % 8 {
            0 | 1 => Event::Text(text),
            2 if !words.is_empty() => Event::Text(words[chunk.len() % words.len()].clone()),
            3 if !shown.is_empty() => Event::Button(shown[chunk.len() % shown.len()].clone()),
            4 => Event::Button(text),
            5 => Event::Attachment(Attachment::Contact {
                phone: text,
                first_name: "Fuzz".into(),
                user_id: Some(if op & 1 == 0 { user_id } else { 99 }),
            }),
            6 => Event::Attachment(Attachment::Document {
                file_id: "f".into(),
                name: text,
                mime: "application/pdf".into(),
                size: chunk.len() as u64,
            }),
            _ => Event::Unsupported,
        };
        let stranger = bot.auth.as_ref().is_some_and(|a| a.required)
            && world.registration(user.chat).ok().flatten().is_none();
        let Ok(out) = handle(bot, &mut world, &mut runner, &user, &event, now) else {
            continue;
        };
        if stranger && world.registration(user.chat).ok().flatten().is_none() {
            stranger_reached_only_public(bot, &mut world, &user, &out);
        }
        assert!(
            out.iter().filter(|m| m.to == user.chat).count() <= 10,
            "more than 10 messages"
        );
        for m in &out {
            assert!(m.text.chars().count() <= 4096, "a message over 4,096 characters");
            if let Keyboard::Inline(rows) = &m.keyboard {
                for b in rows.iter().flatten() {
                    assert!(b.data.len() <= 64, "callback data over 64 bytes");
                    assert!(b.label.len() <= 64, "a label over 64 bytes");
                    shown.push(b.data.clone());
                }
            }
        }
        if shown.len() > 200 {
            shown.drain(..100);
        }
    }
});

/// A stranger on a closed bot: what the step left open or pending, and the option buttons
/// it sent, belong to `public` records (or the auth flow) only.
fn stranger_reached_only_public(
    bot: &botwright::model::CompiledBot,
    world: &mut MemoryWorld,
    user: &User,
    out: &[botwright::engine::Outgoing],
) {
    let public = |id: &str| bot.record_by_id(id).is_some_and(|r| bot.records[r].public);
    let session = world.session(user.chat, user.id).ok().flatten().unwrap_or_default();
    if let Some(open) = &session.open {
        assert!(public(&open.record), "a stranger opened choice `{}`", open.record);
    }
    match &session.pending {
        Some(Pending::Input { record, .. }) => assert!(public(record), "a stranger reached input `{record}`"),
        Some(Pending::Confirm { open, .. }) => {
            assert!(public(&open.record), "a stranger reached the confirmation of `{}`", open.record)
        }
        _ => {}
    }
    for m in out.iter().filter(|m| m.to == user.chat) {
        if let Keyboard::Inline(rows) = &m.keyboard {
            for b in rows.iter().flatten() {
                // An option button names its position among the options of the choice its
                // message showed (remembered in the session by `seq`).
                if let Some(Callback::Option { seq, option, .. }) = Callback::decode(&b.data) {
                    let shown = session.shown(seq).expect("a message with option buttons is remembered");
                    let choice = bot.record_by_id(&shown.open.record).expect("the choice exists");
                    let record = &bot.records[bot.records[choice].options[option]];
                    assert!(record.public, "a stranger was offered option `{}`", record.id);
                }
            }
        }
    }
}
