//! `botwright send`: a manual or scheduled message through the outbox that
//! `botwright run` sends.

use crate::engine::Keyboard;
use crate::store::sql::{self, NewMessage, SqlStore};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The bot that sends it.
    #[arg(long)]
    pub bot: String,
    /// The chat id of the recipient (a chat that has talked to the bot).
    #[arg(long)]
    pub to: i64,
    /// Send at this RFC 3339 time instead of now.
    #[arg(long)]
    pub at: Option<String>,
    /// The HTML text.
    pub text: String,
    #[arg(long, default_value = "bots")]
    pub bots: PathBuf,
    #[arg(long, default_value = "sqlite://botwright.db")]
    pub db: String,
}

pub fn run(args: Args) -> u8 {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return super::USAGE;
        }
    };
    runtime.block_on(send(args))
}

async fn send(args: Args) -> u8 {
    let path = args.bots.join(format!("{}.toml", args.bot));
    if super::load_bot(&path).is_none() {
        eprintln!("error: no usable bot `{}` in {}", args.bot, args.bots.display());
        return super::PROBLEMS;
    }
    let now = chrono::Local::now().fixed_offset();
    let due = match &args.at {
        None => now,
        Some(t) => match chrono::DateTime::parse_from_rfc3339(t) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: --at {t}: {e} (write e.g. 2026-12-01T09:00:00+03:00)");
                return super::USAGE;
            }
        },
    };
    if args.text.trim().is_empty() {
        eprintln!("error: the text is empty");
        return super::USAGE;
    }
    let store = match SqlStore::open(&args.db).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return super::USAGE;
        }
    };
    let result: Result<Result<(i64, String), String>, sqlx::Error> = async {
        let mut tx = store.begin().await?;
        let known = crate::store::queries::chat_name(&mut tx, &args.bot, args.to).await?;
        if known.is_none() {
            return Ok(Err(format!(
                "chat {} has never talked to the bot `{}`",
                args.to, args.bot
            )));
        }
        let message = NewMessage {
            bot: &args.bot,
            chat: args.to,
            text: &args.text,
            keyboard: &Keyboard::None,
            attachments: &[],
            due,
            now,
            idempotency_key: None,
        };
        let stored = sql::insert_message(&mut tx, &message).await?;
        tx.commit().await?;
        Ok(Ok(stored))
    }
    .await;
    match result {
        Ok(Ok((id, status))) => {
            println!("message {id} {status}");
            super::OK
        }
        Ok(Err(problem)) => {
            eprintln!("error: {problem}");
            super::PROBLEMS
        }
        Err(e) => {
            eprintln!("error: database: {e}");
            super::USAGE
        }
    }
}
