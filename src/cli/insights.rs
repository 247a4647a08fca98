//! `botwright insights`: the insights of a bot over a period (api.md, Insights), read from
//! the database `run` writes, with the bot's words from its file.

use crate::store::insights::{Insights, period};
use crate::store::sql::SqlStore;
use std::fmt::Write as _;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The bot (its file name without `.toml`).
    #[arg(long)]
    pub bot: String,
    /// Where the bot's file is: its top-level words are the suggestions for unknown texts.
    #[arg(long, default_value = "bots")]
    pub bots: PathBuf,
    #[arg(long, default_value = "sqlite://botwright.db")]
    pub db: String,
    /// The period's start (RFC 3339; default: 7 days before --to).
    #[arg(long)]
    pub from: Option<String>,
    /// The period's end (RFC 3339; default: now).
    #[arg(long)]
    pub to: Option<String>,
    /// `json` prints exactly the API's object.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

pub fn run(args: Args) -> u8 {
    let runtime = match super::tokio_runtime(Some(1)) {
        Ok(r) => r,
        Err(code) => return code,
    };
    runtime.block_on(insights(args))
}

async fn insights(args: Args) -> u8 {
    let now = chrono::Local::now().fixed_offset();
    let (from, to) = match period(args.from.as_deref(), args.to.as_deref(), now) {
        Ok(p) => p,
        Err((field, why)) => {
            eprintln!("error: --{field} {why}");
            return super::USAGE;
        }
    };
    let path = args.bots.join(format!("{}.toml", args.bot));
    let Some(bot) = super::load_bot(&path) else {
        eprintln!("error: no usable bot `{}` in {}", args.bot, args.bots.display());
        return super::PROBLEMS;
    };
    let store = match SqlStore::open(&args.db).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return super::USAGE;
        }
    };
    match store.insights(&bot, from, to).await {
        Ok(found) => {
            match args.format {
                Format::Json => println!("{}", serde_json::to_string_pretty(&found).expect("insights serialize")),
                Format::Text => print!("{}", text(&found)),
            }
            super::OK
        }
        Err(e) => {
            eprintln!("error: {e}");
            super::USAGE
        }
    }
}

/// The insights for a person: a section per list.
pub fn text(i: &Insights) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{} – {}: {} updates from {} users", i.from, i.to, i.updates, i.users);
    if !i.hourly.is_empty() {
        let _ = writeln!(s, "\nper hour:");
        for h in &i.hourly {
            let _ = writeln!(s, "  {}  {} updates, {} users", h.hour, h.updates, h.users);
        }
    }
    if !i.records.is_empty() {
        let _ = writeln!(s, "\nrecords reached:");
        for r in &i.records {
            let _ = writeln!(s, "  {:>6}  {}", r.hits, r.id);
        }
    }
    if !i.unknown.is_empty() {
        let _ = writeln!(s, "\nunknown texts:");
        for u in &i.unknown {
            let text = u
                .text
                .as_deref()
                .map(|t| format!("{t:?}"))
                .unwrap_or("(texts not kept)".into());
            let _ = write!(s, "  {:>6}  {text}", u.count);
            if !u.suggest.is_empty() {
                let _ = write!(s, "  → did they mean: {}", u.suggest.join(", "));
            }
            s.push('\n');
        }
    }
    if !i.choices.is_empty() {
        let _ = writeln!(s, "\nchoices:");
        for c in &i.choices {
            let _ = writeln!(s, "  {}: shown {}, abandoned {}", c.id, c.shown, c.abandoned);
            for o in &c.options {
                let _ = writeln!(s, "    {:>6}  {} ({})", o.chosen, o.label, o.id);
            }
        }
    }
    if !i.inputs.is_empty() {
        let _ = writeln!(s, "\ninputs:");
        for n in &i.inputs {
            let _ = writeln!(
                s,
                "  {}: asked {}, answered {}, invalid {}, gave up {}",
                n.id, n.asked, n.answered, n.invalid, n.gave_up
            );
        }
    }
    if !i.algorithms.is_empty() {
        let _ = writeln!(s, "\nalgorithms:");
        for a in &i.algorithms {
            let ms = |v: Option<i64>| v.map(|v| format!("{v} ms")).unwrap_or("-".into());
            let _ = writeln!(
                s,
                "  {}: {} calls, {} failed, {} timed out, p50 {}, p95 {}",
                a.name,
                a.calls,
                a.failed,
                a.timeout,
                ms(a.p50_ms),
                ms(a.p95_ms)
            );
        }
    }
    s
}
