//! `botwright chat`: talk to a bot in the terminal, offline.

use crate::engine::{self, Event, Principal, User};
use crate::store::{MemoryWorld, Stub};
use std::io::{BufRead, Write};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    pub bot_file: PathBuf,
    /// Your Telegram user id in this chat.
    #[arg(long, default_value_t = 1)]
    pub user: i64,
    /// Start registered as this principal: KIND ID NAME.
    #[arg(long, num_args = 3, value_names = ["KIND", "ID", "NAME"])]
    pub registered: Option<Vec<String>>,
    /// Stub an algorithm: NAME=JSON, NAME=fail or NAME=timeout; may be repeated.
    #[arg(long = "stub", value_name = "NAME=JSON")]
    pub stubs: Vec<String>,
}

pub fn run(args: Args) -> u8 {
    let Some(bot) = crate::cli::load_bot(&args.bot_file) else {
        return crate::cli::PROBLEMS;
    };
    let mut world = MemoryWorld {
        http: true,
        ..MemoryWorld::default()
    };
    for s in &args.stubs {
        let Some((name, value)) = s.split_once('=') else {
            eprintln!("error: --stub {s}: write NAME=JSON");
            return crate::cli::USAGE;
        };
        match Stub::parse(value) {
            Ok(stub) => {
                world.stubs.insert(name.trim().to_string(), stub);
            }
            Err(e) => {
                eprintln!("error: --stub {s}: {e}");
                return crate::cli::USAGE;
            }
        }
    }
    let mut user = User {
        id: args.user,
        chat: args.user,
        name: format!("User {}", args.user),
        username: None,
    };
    let now = || chrono::Local::now().fixed_offset();
    if let Some(r) = &args.registered {
        let p = Principal {
            kind: r[0].clone(),
            id: r[1].clone(),
            name: r[2].clone(),
        };
        world.register_as(user.chat, &p, &user.name);
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let _ = writeln!(
        out,
        "Talking to {} ({}) as user {}. Type messages; [label] presses a button; /user ID switches user; /quit leaves.",
        bot.name, bot.id, user.id
    );
    let mut history: Vec<engine::Outgoing> = Vec::new();
    let mut files = 0;
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if line == "/quit" {
            break;
        }
        if let Some(id) = line.strip_prefix("/user ") {
            match id.trim().parse() {
                Ok(id) => {
                    user = User {
                        id,
                        chat: id,
                        name: format!("User {id}"),
                        username: None,
                    };
                    let _ = writeln!(out, "(now user {id})");
                }
                Err(_) => {
                    let _ = writeln!(out, "(write /user and a numeric id)");
                }
            }
            continue;
        }
        let event = match line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            // `@document …`, `@photo …`, `@contact …`, `@location …`, as transcripts write them.
            None if line.starts_with('@') => match crate::transcript::attachment_line(&line[1..], &mut files) {
                Ok(a) => Event::Attachment(a.for_user(&user)),
                Err(e) => {
                    let _ = writeln!(out, "({e})");
                    continue;
                }
            },
            Some(label) => {
                let data = history
                    .iter()
                    .rev()
                    .filter(|m| m.to == user.chat)
                    .find_map(|m| m.keyboard.button_data(label).map(str::to_string));
                match data {
                    Some(d) => Event::Button(d),
                    None => {
                        let _ = writeln!(out, "(no button [{label}] on your messages)");
                        continue;
                    }
                }
            }
            None => Event::Text(line.to_string()),
        };
        let replies = match engine::handle(&bot, &mut world, &user, &event, now()) {
            Ok(replies) => replies,
            Err(e) => {
                let _ = writeln!(out, "(error: {e})");
                continue;
            }
        };
        for m in replies {
            let prefix = if m.to == user.chat {
                "bot".to_string()
            } else {
                format!("bot → {}", m.to)
            };
            if !m.text.is_empty() || m.files.is_empty() {
                let _ = writeln!(out, "{prefix}: {}", m.text);
            }
            for line in m.keyboard.lines() {
                let _ = writeln!(out, "     {line}");
            }
            for f in &m.files {
                let kind = if f.is_photo() { "photo" } else { "document" };
                let _ = writeln!(out, "{prefix}: @{kind} {}", f.name);
            }
            history.push(m);
        }
    }
    crate::cli::OK
}
