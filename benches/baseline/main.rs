//! The peer of the runtime benchmark: a hand-written teloxide 0.17 bot that
//! gives the demo bot's replies to the benchmark's script, with no storage.
//! `benches/runtime.rs` runs it and `botwright run` on the same fake Bot API
//! in the same run and compares their CPU per update.
//!
//! `TELOXIDE_TOKEN` and `TELOXIDE_API_URL` say where to poll.

use teloxide::prelude::*;
use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup, ParseMode};

fn buttons(rows: &[&[(&str, &str)]]) -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new(rows.iter().map(|r| {
        r.iter()
            .map(|(label, data)| InlineKeyboardButton::callback(*label, *data))
            .collect::<Vec<_>>()
    }))
}

async fn reply(bot: Bot, msg: Message) -> ResponseResult<()> {
    let text = msg.text().unwrap_or("");
    let chat = msg.chat.id;
    let request = match text {
        "А1" => bot.send_message(chat, "Ответ на ключевое слово А1"),
        "2+2*2" => bot.send_message(chat, "6"),
        "Выбор" => bot
            .send_message(chat, "Выберите один из вариантов")
            .reply_markup(buttons(&[
                &[("Вариант №1", "o1")],
                &[("Вариант №2", "o2")],
                &[("Вариант №3", "o3")],
            ])),
        "1" => bot
            .send_message(chat, "Вы выбрали «Вариант №1». Подтвердить?")
            .reply_markup(buttons(&[&[("Да", "yes"), ("Нет", "no")]])),
        "Да" => bot.send_message(chat, "Выбрали \"Вариант №1\""),
        other => bot.send_message(
            chat,
            format!("Не понимаю запрос «{other}». Напишите «Меню», чтобы увидеть, что я умею."),
        ),
    };
    request.parse_mode(ParseMode::Html).await?;
    Ok(())
}

#[tokio::main]
async fn main() {
    if std::env::var("TELOXIDE_TOKEN").is_err() {
        eprintln!("baseline: set TELOXIDE_TOKEN (and TELOXIDE_API_URL) to run");
        return;
    }
    let bot = Bot::from_env();
    let handler = Update::filter_message().endpoint(reply);
    Dispatcher::builder(bot, handler).build().dispatch().await;
}
