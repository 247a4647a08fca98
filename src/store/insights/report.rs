//! The insights' answer (api.md, Insights): its types, the period asked for, and the
//! unknown texts grouped by normalized form with suggestions (strsim), from per-spelling
//! counts the queries give.

use crate::model::{CompiledBot, normalize};
use chrono::{DateTime, FixedOffset};
use serde::Serialize;
use std::collections::HashMap;
use utoipa::ToSchema;

/// `GET /api/v1/bots/{bot}/insights` (api.md, Insights).
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct Insights {
    /// The period's start (RFC 3339, UTC), included.
    pub from: String,
    /// The period's end (RFC 3339, UTC), excluded.
    pub to: String,
    /// Handled updates.
    pub updates: i64,
    /// Distinct user keys.
    pub users: i64,
    /// One entry per hour that had updates, oldest first.
    pub hourly: Vec<Hour>,
    /// Records reached, most hits first, ties by id.
    pub records: Vec<RecordHits>,
    /// Texts nothing matched, grouped by their normalized form: at most 50, most frequent first.
    pub unknown: Vec<UnknownText>,
    pub choices: Vec<ChoiceStats>,
    pub inputs: Vec<InputStats>,
    /// Every algorithm of the bot.
    pub algorithms: Vec<AlgorithmStats>,
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct Hour {
    /// The hour's start (RFC 3339, UTC).
    pub hour: String,
    pub updates: i64,
    pub users: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct RecordHits {
    pub id: String,
    pub hits: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct UnknownText {
    /// The group's most frequent spelling as typed; null for the texts of a bot with
    /// `log_texts = false` (counted, not kept).
    #[schema(nullable)]
    pub text: Option<String>,
    pub count: i64,
    /// Up to 3 top-level `match` words of the bot, nearest first.
    pub suggest: Vec<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct ChoiceStats {
    /// The choice's record id.
    pub id: String,
    pub shown: i64,
    pub options: Vec<OptionStats>,
    /// Showings after which none of its options was taken.
    pub abandoned: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct OptionStats {
    /// The option's record id; a dynamic option's value.
    pub id: String,
    pub label: String,
    pub chosen: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct InputStats {
    /// The `input` record's id.
    pub id: String,
    pub asked: i64,
    pub answered: i64,
    pub invalid: i64,
    pub gave_up: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct AlgorithmStats {
    pub name: String,
    pub calls: i64,
    pub failed: i64,
    pub timeout: i64,
    /// Nearest rank; null without calls.
    #[schema(nullable)]
    pub p50_ms: Option<i64>,
    #[schema(nullable)]
    pub p95_ms: Option<i64>,
}

/// The default period: the last 7 days.
pub const DEFAULT_DAYS: i64 = 7;

/// A period's start (included) and end (excluded).
pub type Period = (DateTime<FixedOffset>, DateTime<FixedOffset>);

/// The period `[from, to)` of `?from=&to=` (RFC 3339): `to` defaults to `now`, `from` to 7 days
/// before `to`. `Err` names the parameter and says what is wrong.
pub fn period(
    from: Option<&str>,
    to: Option<&str>,
    now: DateTime<FixedOffset>,
) -> Result<Period, (&'static str, String)> {
    let parse = |name: &'static str, v: &str| {
        DateTime::parse_from_rfc3339(v.trim()).map_err(|e| {
            (
                name,
                format!("must be an RFC 3339 time such as 2026-01-31T09:00:00Z: {e}"),
            )
        })
    };
    let to = match to {
        Some(t) => parse("to", t)?,
        None => now,
    };
    let from = match from {
        Some(f) => parse("from", f)?,
        None => to
            .checked_sub_signed(chrono::TimeDelta::days(DEFAULT_DAYS))
            .ok_or(("to", "is too early a time".to_string()))?,
    };
    if from > to {
        return Err(("from", "must not be after `to`".into()));
    }
    Ok((from, to))
}

/// At most this many unknown texts.
pub const MAX_UNKNOWN: usize = 50;

pub(super) const PERIOD: &str = "bot = $1 AND at >= $2 AND at < $3";

/// A choice's showings in the period, and how many were abandoned: the chat's next update
/// that is not an unknown text (in the period: none before its end is abandonment too) took
/// none of its options. The rows of one update follow its `update` row, so a showing's next
/// row among the chat's showings and non-unknown updates is that next update. Only the
/// chats shown a choice in the period are read.
pub(super) const CHOICES: &str = "SELECT name, COUNT(*), SUM(CASE WHEN next_kind = 'update' AND next_took = name THEN 0 ELSE 1 END) \
     FROM (SELECT kind, name, LEAD(kind) OVER w AS next_kind, LEAD(took) OVER w AS next_took \
       FROM insights WHERE bot = $1 AND at >= $2 AND at < $3 \
       AND (kind = 'shown' OR (kind = 'update' AND name <> 'unknown')) \
       AND chat IN (SELECT chat FROM insights WHERE bot = $1 AND kind = 'shown' AND at >= $2 AND at < $3) \
       WINDOW w AS (PARTITION BY chat ORDER BY id)) AS t \
     WHERE kind = 'shown' GROUP BY name";

/// A nearest-rank percentile: `rank` of `n` (1-based).
pub(super) fn nearest_rank(p: f64, n: i64) -> i64 {
    ((p * n as f64).ceil() as i64).clamp(1, n.max(1))
}

/// The bot's top-level `match` words as written, in file order.
pub(super) fn top_words(bot: &CompiledBot) -> Vec<(&str, String)> {
    bot.records
        .iter()
        .filter(|r| r.parent.is_none() && !r.is_star)
        .flat_map(|r| r.words.iter())
        .map(|w| (w.as_str(), normalize(w)))
        .collect()
}

/// Up to 3 top-level words within a third of the normalized text's length (rounded down),
/// nearest first, ties in file order; none for a text under 3 characters.
pub fn suggest(words: &[(&str, String)], text: &str) -> Vec<String> {
    let norm = normalize(text);
    let len = norm.chars().count();
    if len < 3 {
        return Vec::new();
    }
    let max = len / 3;
    let mut near: Vec<(usize, usize, &str)> = words
        .iter()
        .enumerate()
        .filter_map(|(i, (w, n))| {
            let d = strsim::levenshtein(n, &norm);
            (d <= max).then_some((d, i, *w))
        })
        .collect();
    near.sort();
    let mut out: Vec<String> = Vec::new();
    for (_, _, w) in near {
        if !out.iter().any(|o| o == w) {
            out.push(w.to_string());
        }
        if out.len() == 3 {
            break;
        }
    }
    out
}

/// The texts' groups by normalized form from `(text as typed, count)` (a `None` text is one
/// kept without its words): most frequent first, ties by text, at most [`MAX_UNKNOWN`].
pub fn group_unknown(bot: &CompiledBot, spellings: Vec<(Option<String>, i64)>) -> Vec<UnknownText> {
    let mut hidden = 0;
    // normalized → (total, the best spelling and its count)
    let mut groups: HashMap<String, (i64, String, i64)> = HashMap::new();
    for (text, count) in spellings {
        let Some(text) = text else {
            hidden += count;
            continue;
        };
        let g = groups.entry(normalize(&text)).or_insert((0, String::new(), 0));
        g.0 += count;
        if count > g.2 || (count == g.2 && text < g.1) {
            g.1 = text;
            g.2 = count;
        }
    }
    let words = top_words(bot);
    let mut out: Vec<(i64, Option<String>)> = groups.into_values().map(|(n, t, _)| (n, Some(t))).collect();
    if hidden > 0 {
        out.push((hidden, None));
    }
    // Most frequent first, ties by text (the entry without text after the others).
    out.sort_by(|a, b| {
        b.0.cmp(&a.0).then_with(|| match (&a.1, &b.1) {
            (Some(x), Some(y)) => x.cmp(y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        })
    });
    out.truncate(MAX_UNKNOWN);
    out.into_iter()
        .map(|(count, text)| UnknownText {
            suggest: text.as_deref().map(|t| suggest(&words, t)).unwrap_or_default(),
            text,
            count,
        })
        .collect()
}

/// The hour an `at` text falls in, as RFC 3339.
pub(super) fn hour_of(prefix: &str) -> String {
    format!("{prefix}:00:00Z")
}

/// Orders ids as the bot file has their records, ids of other definitions last by id.
pub(super) fn file_order(bot: &CompiledBot, id: &str) -> (usize, String) {
    (bot.record_by_id(id).unwrap_or(usize::MAX), id.to_string())
}
