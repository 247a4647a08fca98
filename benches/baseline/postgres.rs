//! The PostgreSQL peer of the runtime benchmark: the demo bot's replies to the
//! benchmark's script written on teloxide 0.17 as teloxide users write a
//! stateful bot, with `Dialogue<State, PostgresStorage<Json>>`: the dialogue is
//! read for every message and written when it changes (the choice shown, the
//! option taken, the confirmation that ends it).
//!
//! `TELOXIDE_TOKEN`, `TELOXIDE_API_URL` and `DATABASE_URL` say where to poll and
//! where to keep the dialogues. Built by `benches/runtime.rs` with
//! `--features bench-postgres-baseline`.

use teloxide::dispatching::dialogue::{Dialogue, PostgresStorage, serializer::Json};
use teloxide::prelude::*;
use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup, ParseMode};

#[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
enum State {
    #[default]
    Start,
    Choosing,
    Confirming,
}

type Talk = Dialogue<State, PostgresStorage<Json>>;
type Failure = Box<dyn std::error::Error + Send + Sync>;

fn buttons(rows: &[&[(&str, &str)]]) -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new(rows.iter().map(|r| {
        r.iter()
            .map(|(label, data)| InlineKeyboardButton::callback(*label, *data))
            .collect::<Vec<_>>()
    }))
}

fn unknown(text: &str) -> String {
    format!("Не понимаю запрос «{text}». Напишите «Меню», чтобы увидеть, что я умею.")
}

async fn reply(bot: Bot, talk: Talk, state: State, msg: Message) -> Result<(), Failure> {
    let text = msg.text().unwrap_or("");
    let chat = msg.chat.id;
    let request = match (state, text) {
        (_, "А1") => bot.send_message(chat, "Ответ на ключевое слово А1"),
        (_, "2+2*2") => bot.send_message(chat, "6"),
        (_, "Выбор") => {
            talk.update(State::Choosing).await?;
            bot.send_message(chat, "Выберите один из вариантов")
                .reply_markup(buttons(&[
                    &[("Вариант №1", "o1")],
                    &[("Вариант №2", "o2")],
                    &[("Вариант №3", "o3")],
                ]))
        }
        (State::Choosing, "1") => {
            talk.update(State::Confirming).await?;
            bot.send_message(chat, "Вы выбрали «Вариант №1». Подтвердить?")
                .reply_markup(buttons(&[&[("Да", "yes"), ("Нет", "no")]]))
        }
        (State::Confirming, "Да") => {
            talk.exit().await?;
            bot.send_message(chat, "Выбрали \"Вариант №1\"")
        }
        (_, other) => bot.send_message(chat, unknown(other)),
    };
    request.parse_mode(ParseMode::Html).await?;
    Ok(())
}

#[tokio::main]
async fn main() {
    let (Ok(_), Ok(url)) = (std::env::var("TELOXIDE_TOKEN"), std::env::var("DATABASE_URL")) else {
        eprintln!("baseline_postgres: set TELOXIDE_TOKEN, TELOXIDE_API_URL and DATABASE_URL to run");
        return;
    };
    let storage = PostgresStorage::open(&url, 10, Json).await.expect("PostgreSQL answers");
    let bot = Bot::from_env();
    let handler = Update::filter_message()
        .enter_dialogue::<Message, PostgresStorage<Json>, State>()
        .endpoint(reply);
    Dispatcher::builder(bot, handler)
        .dependencies(dptree::deps![storage])
        .build()
        .dispatch()
        .await;
}
