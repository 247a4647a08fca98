//! `botwright send`: a manual or scheduled message through the outbox that
//! `botwright run` sends.

use crate::api::ApiError;
use crate::api::compose;
use crate::api::types::{Content, PrincipalRef, Recipient};
use crate::store::sql::SqlStore;
use crate::store::tx_world::TxWorld;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("recipient").required(true).args(["to", "principal"])))]
pub struct Args {
    /// The bot that sends it.
    #[arg(long)]
    pub bot: String,
    /// The chat id of the recipient (a chat that has talked to the bot).
    #[arg(long, allow_hyphen_values = true)]
    pub to: Option<i64>,
    /// A registered principal as KIND:ID (every chat registered as it gets the message).
    #[arg(long)]
    pub principal: Option<String>,
    /// Send at this RFC 3339 time instead of now.
    #[arg(long)]
    pub at: Option<String>,
    /// The HTML text (or give --template).
    #[arg(required_unless_present = "template", conflicts_with = "template")]
    pub text: Option<String>,
    /// A `[notifications.<NAME>]` of the bot file, rendered with --data.
    #[arg(long)]
    pub template: Option<String>,
    /// The template's `data` as JSON.
    #[arg(long, requires = "template")]
    pub data: Option<String>,
    #[arg(long, default_value = "bots")]
    pub bots: PathBuf,
    #[arg(long, default_value = "sqlite://botwright.db")]
    pub db: String,
}

pub fn run(args: Args) -> u8 {
    let runtime = match super::tokio_runtime(Some(1)) {
        Ok(r) => r,
        Err(code) => return code,
    };
    runtime.block_on(send(args))
}

async fn send(args: Args) -> u8 {
    let path = args.bots.join(format!("{}.toml", args.bot));
    let Some(bot) = super::load_bot(&path) else {
        eprintln!("error: no usable bot `{}` in {}", args.bot, args.bots.display());
        return super::PROBLEMS;
    };
    let now = chrono::Local::now().fixed_offset();
    let to = match (&args.to, &args.principal) {
        (Some(k), _) => Recipient::Key(*k),
        (None, Some(p)) => match p.split_once(':') {
            Some((kind, id)) if !kind.is_empty() && !id.is_empty() => Recipient::Principal(PrincipalRef {
                kind: kind.to_string(),
                id: id.to_string(),
            }),
            _ => {
                eprintln!("error: --principal {p}: write KIND:ID, e.g. user:42");
                return super::USAGE;
            }
        },
        (None, None) => {
            eprintln!("error: give --to CHAT_ID or --principal KIND:ID");
            return super::USAGE;
        }
    };
    let data = match &args.data {
        None => None,
        Some(d) => match serde_json::value::RawValue::from_string(d.clone()) {
            Ok(v) => Some(v),
            Err(e) => {
                eprintln!("error: --data is not JSON: {e}");
                return super::USAGE;
            }
        },
    };
    let content = Content {
        text: args.text.clone(),
        template: args.template.clone(),
        data,
        buttons: None,
        attachments: None,
        send_at: args.at.clone(),
        idempotency_key: None,
    };
    let message = match compose::check(content, &bot, now) {
        Ok(m) => m,
        Err(e) => return problem(e),
    };
    let store = match SqlStore::open(&args.db).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return super::USAGE;
        }
    };
    let handle = tokio::runtime::Handle::current();
    let bot_id = args.bot.clone();
    let stored = tokio::task::spawn_blocking(move || {
        let tx = handle.block_on(store.begin()).map_err(ApiError::internal)?;
        let mut world = TxWorld::new(tx, store.dialect, &bot_id, handle.clone());
        let result = compose::chats_of(&mut world, &bot, &to)
            .and_then(|chats| compose::store(&mut world, &bot, &chats, &message, None, now));
        match result {
            Ok(stored) => {
                world.commit().map_err(ApiError::internal)?;
                Ok(stored)
            }
            Err(e) => {
                world.rollback();
                Err(e)
            }
        }
    })
    .await;
    match stored {
        Ok(Ok(stored)) => {
            for id in &stored.ids {
                println!("message {id} {}", stored.status);
            }
            super::OK
        }
        Ok(Err(e)) => problem(e),
        Err(e) => {
            eprintln!("error: {e}");
            super::USAGE
        }
    }
}

/// A refused message: the input's problem (exit 1), or the database's (exit 2).
fn problem(e: ApiError) -> u8 {
    match &e.field {
        Some(f) => eprintln!("error: {f}: {}", e.message),
        None => eprintln!("error: {}", e.message),
    }
    if e.status.is_server_error() {
        super::USAGE
    } else {
        super::PROBLEMS
    }
}
