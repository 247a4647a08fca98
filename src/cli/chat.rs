//! `botwright chat`: talk to a bot in the terminal, offline.

use crate::algorithms::{Runner, Stub};
use crate::engine::{self, Event, Principal, User};
use crate::notification::{self, Offline};
use crate::store::MemoryWorld;
use chrono::DateTime;
use std::io::{BufRead, Write};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    pub bot_file: PathBuf,
    /// Your Telegram user id in this chat.
    #[arg(long, default_value_t = 1)]
    pub user: i64,
    /// Your name in this chat (templates' `user.name`).
    #[arg(long, default_value = "Test User")]
    pub name: String,
    /// Start registered as this principal: KIND ID NAME.
    #[arg(long, num_args = 3, value_names = ["KIND", "ID", "NAME"])]
    pub registered: Option<Vec<String>>,
    /// Stub an algorithm: NAME=JSON, NAME=fail or NAME=timeout; may be repeated.
    #[arg(long = "stub", value_name = "NAME=JSON")]
    pub stubs: Vec<String>,
    /// Freeze the clock at this RFC 3339 time, as a transcript's `@now` does.
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
}

/// The message of a failure that `chat` prints on stderr (the user sees the bot's text).
fn report(failures: &[String]) {
    let stderr = std::io::stderr();
    let mut err = stderr.lock();
    for f in failures {
        let _ = writeln!(err, "{f}");
    }
}

/// Prints the bot's messages as `chat` shows them, and keeps them for presses.
fn show(out: &mut impl Write, user: &User, messages: Vec<engine::Outgoing>, history: &mut Vec<engine::Outgoing>) {
    for m in messages {
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

/// What follows the command `name` (alone or followed by white space) at the start of `line`.
fn command<'l>(line: &'l str, name: &str) -> Option<&'l str> {
    let rest = line.strip_prefix(name)?;
    (rest.is_empty() || rest.starts_with(char::is_whitespace)).then_some(rest)
}

pub fn run(args: Args) -> u8 {
    let frozen = match &args.now {
        None => None,
        Some(t) => match DateTime::parse_from_rfc3339(t) {
            Ok(t) => Some(t),
            Err(e) => {
                eprintln!(
                    "error: --now {t}: not an RFC 3339 time such as {}: {e}",
                    crate::transcript::DEFAULT_NOW
                );
                return crate::cli::USAGE;
            }
        },
    };
    if args.name.trim().is_empty() {
        eprintln!("error: --name must not be empty");
        return crate::cli::USAGE;
    }
    let Some(bot) = crate::cli::load_bot(&args.bot_file) else {
        return crate::cli::PROBLEMS;
    };
    let mut world = MemoryWorld::default();
    // `chat` calls `http` algorithms for real (stub them with `--stub`).
    let mut runner = Runner::offline();
    runner.http = true;
    for s in &args.stubs {
        let Some((name, value)) = s.split_once('=') else {
            eprintln!("error: --stub {s}: write NAME=JSON");
            return crate::cli::USAGE;
        };
        if !bot.algorithms.contains_key(name.trim()) {
            eprintln!("error: --stub {s}: the bot has no algorithm `{}`", name.trim());
            return crate::cli::USAGE;
        }
        match Stub::parse(value) {
            Ok(stub) => {
                runner.stubs.insert(name.trim().to_string(), stub);
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
        name: args.name.clone(),
        username: None,
    };
    let now = || frozen.unwrap_or_else(|| chrono::Local::now().fixed_offset());
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
        "Talking to {} ({}) as user {} ({}). Type messages; [label] presses a button; /user ID [NAME] switches user; /notify NAME JSON and /send TEXT play the business system; /quit leaves.",
        bot.name, bot.id, user.id, user.name
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
        if let Some(rest) = line.strip_prefix("/user ") {
            let rest = rest.trim();
            let (id, name) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            match id.parse() {
                Ok(id) => {
                    let name = name.trim().trim_matches('"');
                    user = User {
                        id,
                        chat: id,
                        name: if name.is_empty() {
                            format!("User {id}")
                        } else {
                            name.to_string()
                        },
                        username: None,
                    };
                    let _ = writeln!(out, "(now user {id}, {})", user.name);
                }
                Err(_) => {
                    let _ = writeln!(out, "(write /user, a numeric id and optionally a name)");
                }
            }
            continue;
        }
        let business = match command(line, "/notify") {
            Some(rest) => Some(Offline::notify(rest).map_err(|e| e.replace("`@notify", "`/notify"))),
            None => command(line, "/send").map(|rest| Offline::send(rest).map_err(|e| e.replace("`@send", "`/send"))),
        };
        if let Some(what) = business {
            let sent = what.and_then(|w| notification::offline(&bot, &mut world, &user, &w, now()));
            match sent {
                Ok(m) => show(&mut out, &user, vec![m], &mut history),
                Err(e) => {
                    let _ = writeln!(out, "({e})");
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
        let replies = engine::handle(&bot, &mut world, &mut runner, &user, &event, now());
        let failures = std::mem::take(&mut runner.failures);
        match replies {
            Ok(replies) => show(&mut out, &user, replies, &mut history),
            Err(e) => {
                let _ = writeln!(out, "(error: {e})");
            }
        }
        // After the user's view of the step, so that the two read in order on a terminal.
        let _ = out.flush();
        report(&failures);
    }
    crate::cli::OK
}
