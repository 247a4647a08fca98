use crate::expr::{self, Context, Value};
use chrono::{DateTime, FixedOffset, Local};
use indexmap::IndexMap;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The expression, e.g. "2+2*2".
    pub expr: String,
    /// The clock, RFC 3339 (default: now, in the machine's offset).
    #[arg(long)]
    pub now: Option<String>,
    /// A variable as NAME=JSON; may be repeated.
    #[arg(long = "var", value_name = "NAME=JSON")]
    pub vars: Vec<String>,
}

pub fn run(args: Args) -> u8 {
    let now = match &args.now {
        Some(t) => match DateTime::parse_from_rfc3339(t) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: --now {t}: {e} (write e.g. 2021-02-06T14:00:00+03:00)");
                return super::USAGE;
            }
        },
        None => Local::now().fixed_offset(),
    };
    let mut vars: IndexMap<String, Value> = IndexMap::new();
    for v in &args.vars {
        match parse_var(v) {
            Ok((name, value)) => {
                vars.insert(name, value);
            }
            Err(e) => {
                eprintln!("error: --var {v}: {e}");
                return super::USAGE;
            }
        }
    }
    match evaluate(&args.expr, &vars, now) {
        Ok(text) => {
            println!("{text}");
            super::OK
        }
        Err(e) => {
            eprintln!("error: {e}");
            super::PROBLEMS
        }
    }
}

pub fn parse_var(v: &str) -> Result<(String, Value), String> {
    let (name, json) = v.split_once('=').ok_or("write NAME=JSON")?;
    let json: serde_json::Value = serde_json::from_str(json).map_err(|e| format!("bad JSON: {e}"))?;
    Ok((name.trim().to_string(), Value::from_json(&json)?))
}

/// Parses and evaluates an expression, giving its value as text.
pub fn evaluate(source: &str, vars: &IndexMap<String, Value>, now: DateTime<FixedOffset>) -> Result<String, String> {
    let e = expr::parse_expression(source).map_err(|e| format!("at {}: {}", e.span.start + 1, e.message))?;
    let ctx = Context { vars, now, tz: None };
    expr::evaluate(&e, &ctx).map(|v| v.to_text()).map_err(|e| e.0)
}
