//! The insights log (api.md, Insights): its rows, written in the group commit with the
//! step that produced them (one multi-row insert per commit), its retention, and the
//! aggregate that the API and `botwright insights` answer, computed in SQL (counts,
//! groups, percentiles by rank) so that the size of the log does not reach memory.

use super::sql::{SqlStore, StoreError, now_text};
use crate::engine::{Insight, Reached};
use crate::model::{Action, CompiledBot};
use chrono::{DateTime, FixedOffset, Utc};
use sqlx::Row;
use std::collections::HashMap;

mod report;

pub use report::*;

pub use super::types::LogRow;

/// The rows of one handled update: its outcome first, then its events in order.
pub fn log_rows(
    bot: &str,
    chat: i64,
    now: DateTime<FixedOffset>,
    reached: &Reached,
    events: &[Insight],
) -> Vec<LogRow> {
    let at = now_text(now);
    let row = |kind, name: Option<String>, value: Option<String>| LogRow {
        bot: bot.to_string(),
        at: at.clone(),
        chat,
        kind,
        name,
        value,
        label: None,
        ms: None,
        took: None,
    };
    let value = match reached {
        Reached::Record(id) | Reached::Action(id) => Some(id.clone()),
        Reached::Unknown(text) => text.clone(),
        _ => None,
    };
    let mut first = row("update", Some(reached.kind().to_string()), value);
    first.took = events.iter().find_map(|e| match e {
        Insight::OptionTaken { choice, .. } => Some(choice.clone()),
        _ => None,
    });
    let mut rows = Vec::with_capacity(1 + events.len());
    rows.push(first);
    for e in events {
        rows.push(match e {
            Insight::ChoiceShown { choice } => row(e.kind(), Some(choice.clone()), None),
            Insight::OptionTaken { choice, option, label } => LogRow {
                label: Some(label.clone()),
                ..row(e.kind(), Some(choice.clone()), Some(option.clone()))
            },
            Insight::InputAsked { record }
            | Insight::InputAnswered { record }
            | Insight::InputInvalid { record }
            | Insight::InputGaveUp { record } => row(e.kind(), Some(record.clone()), None),
            Insight::Algorithm { name, ms, result } => LogRow {
                ms: Some(i64::try_from(*ms).unwrap_or(i64::MAX)),
                ..row(e.kind(), Some(name.clone()), Some(result.as_str().to_string()))
            },
        });
    }
    rows
}

/// The aggregate's statements (`$1` the bot, `$2` and `$3` the period), by name: the
/// insights report runs them, and the plan test (`console_plans.rs`) checks each.
pub mod statements {
    use super::PERIOD;

    pub fn totals() -> String {
        format!("SELECT COUNT(*), COUNT(DISTINCT chat) FROM insights WHERE {PERIOD} AND kind = 'update'")
    }

    pub fn hourly() -> String {
        format!(
            "SELECT substr(at, 1, 13), COUNT(*), COUNT(DISTINCT chat) FROM insights \
             WHERE {PERIOD} AND kind = 'update' GROUP BY substr(at, 1, 13)"
        )
    }

    /// Updates by what they reached: `name` is `record` or `unknown` (a constant of ours).
    pub fn reached(name: &str) -> String {
        format!(
            "SELECT value, COUNT(*) FROM insights WHERE {PERIOD} AND kind = 'update' AND name = '{name}' GROUP BY value"
        )
    }

    /// Choices shown, and abandoned.
    pub const CHOICES_SHOWN: &str = super::CHOICES;

    pub fn options_taken() -> String {
        format!(
            "SELECT name, value, MAX(label), COUNT(*) FROM insights WHERE {PERIOD} AND kind = 'option' \
             GROUP BY name, value"
        )
    }

    pub fn inputs() -> String {
        format!(
            "SELECT name, kind, COUNT(*) FROM insights WHERE {PERIOD} \
             AND kind IN ('asked', 'answered', 'invalid', 'gave_up') GROUP BY name, kind"
        )
    }

    pub fn calls() -> String {
        format!("SELECT name, value, COUNT(*) FROM insights WHERE {PERIOD} AND kind = 'algorithm' GROUP BY name, value")
    }

    /// An algorithm's (`$4`) call time at a rank (`$5`, from 0).
    pub fn call_at_rank() -> String {
        format!(
            "SELECT ms FROM insights WHERE {PERIOD} AND kind = 'algorithm' AND name = $4 \
             ORDER BY ms LIMIT 1 OFFSET $5"
        )
    }
}

/// The rows of one of the aggregate's statements over a bot's period `[f, t)`.
async fn over_period(
    conn: &mut sqlx::AnyConnection,
    sql: &str,
    bot: &str,
    f: &str,
    t: &str,
) -> Result<Vec<sqlx::any::AnyRow>, sqlx::Error> {
    sqlx::query(sql).bind(bot).bind(f).bind(t).fetch_all(conn).await
}

/// Updates and distinct users of a bot in `[f, t)` (stored times).
pub(super) async fn totals(
    conn: &mut sqlx::AnyConnection,
    bot: &str,
    f: &str,
    t: &str,
) -> Result<(i64, i64), sqlx::Error> {
    let row = sqlx::query(&statements::totals())
        .bind(bot)
        .bind(f)
        .bind(t)
        .fetch_one(conn)
        .await?;
    Ok((row.get(0), row.get(1)))
}

/// Updates and distinct users per hour of a bot in `[f, t)`, hours with updates only,
/// oldest first.
pub(super) async fn hourly(
    conn: &mut sqlx::AnyConnection,
    bot: &str,
    f: &str,
    t: &str,
) -> Result<Vec<Hour>, sqlx::Error> {
    let rows = over_period(conn, &statements::hourly(), bot, f, t).await?;
    let mut hourly: Vec<Hour> = rows
        .iter()
        .map(|r| Hour {
            hour: hour_of(&r.get::<String, _>(0)),
            updates: r.get(1),
            users: r.get(2),
        })
        .collect();
    hourly.sort_by(|a, b| a.hour.cmp(&b.hour));
    Ok(hourly)
}

impl SqlStore {
    /// The insights of `bot` over `[from, to)`.
    pub async fn insights(
        &self,
        bot: &CompiledBot,
        from: DateTime<FixedOffset>,
        to: DateTime<FixedOffset>,
    ) -> Result<Insights, StoreError> {
        let id = bot.id.as_str();
        let (f, t) = (now_text(from), now_text(to));
        let mut conn = self.pool.acquire().await?;
        let (updates, users) = totals(&mut conn, id, &f, &t).await?;
        let hourly = hourly(&mut conn, id, &f, &t).await?;
        let records = over_period(&mut conn, &statements::reached("record"), id, &f, &t).await?;
        let mut records: Vec<RecordHits> = records
            .iter()
            .map(|r| RecordHits {
                id: r.get::<Option<String>, _>(0).unwrap_or_default(),
                hits: r.get(1),
            })
            .collect();
        records.sort_by(|a, b| b.hits.cmp(&a.hits).then_with(|| a.id.cmp(&b.id)));
        let unknown = over_period(&mut conn, &statements::reached("unknown"), id, &f, &t).await?;
        let unknown = group_unknown(
            bot,
            unknown
                .iter()
                .map(|r| (r.get::<Option<String>, _>(0), r.get::<i64, _>(1)))
                .collect(),
        );
        // Choices: showings and abandonments, then the options taken.
        let shown = over_period(&mut conn, CHOICES, id, &f, &t).await?;
        let taken = over_period(&mut conn, &statements::options_taken(), id, &f, &t).await?;
        let mut choices: HashMap<String, ChoiceStats> = HashMap::new();
        for r in &shown {
            let name: String = r.get::<Option<String>, _>(0).unwrap_or_default();
            choices.insert(
                name.clone(),
                ChoiceStats {
                    id: name,
                    shown: r.get(1),
                    options: Vec::new(),
                    abandoned: r.get::<Option<i64>, _>(2).unwrap_or(0),
                },
            );
        }
        let mut chosen: HashMap<String, Vec<OptionStats>> = HashMap::new();
        for r in &taken {
            let choice: String = r.get::<Option<String>, _>(0).unwrap_or_default();
            chosen.entry(choice).or_default().push(OptionStats {
                id: r.get::<Option<String>, _>(1).unwrap_or_default(),
                label: r.get::<Option<String>, _>(2).unwrap_or_default(),
                chosen: r.get(3),
            });
        }
        for choice in chosen.keys() {
            choices.entry(choice.clone()).or_insert_with(|| ChoiceStats {
                id: choice.clone(),
                shown: 0,
                options: Vec::new(),
                abandoned: 0,
            });
        }
        let mut choices: Vec<ChoiceStats> = choices.into_values().collect();
        choices.sort_by_key(|c| file_order(bot, &c.id));
        for c in &mut choices {
            let mut logged = chosen.remove(&c.id).unwrap_or_default();
            logged.sort_by(|a, b| b.chosen.cmp(&a.chosen).then_with(|| a.id.cmp(&b.id)));
            // A static choice lists its options as the file has them, taken or not.
            if let Some(idx) = bot.record_by_id(&c.id)
                && let Action::Choice { options_from: None, .. } = &bot.records[idx].action
            {
                for &o in &bot.records[idx].options {
                    let option = &bot.records[o];
                    if option.is_star {
                        continue;
                    }
                    let n = logged
                        .iter()
                        .position(|l| l.id == option.id)
                        .map(|i| logged.remove(i).chosen)
                        .unwrap_or(0);
                    c.options.push(OptionStats {
                        id: option.id.clone(),
                        label: option.label().to_string(),
                        chosen: n,
                    });
                }
            }
            c.options.extend(logged);
        }
        // Inputs.
        let inputs = over_period(&mut conn, &statements::inputs(), id, &f, &t).await?;
        let mut by_input: HashMap<String, InputStats> = HashMap::new();
        for r in &inputs {
            let name: String = r.get::<Option<String>, _>(0).unwrap_or_default();
            let kind: String = r.get(1);
            let n: i64 = r.get(2);
            let s = by_input.entry(name.clone()).or_insert_with(|| InputStats {
                id: name,
                asked: 0,
                answered: 0,
                invalid: 0,
                gave_up: 0,
            });
            match kind.as_str() {
                "asked" => s.asked += n,
                "answered" => s.answered += n,
                "invalid" => s.invalid += n,
                _ => s.gave_up += n,
            }
        }
        let mut inputs: Vec<InputStats> = by_input.into_values().collect();
        inputs.sort_by_key(|i| file_order(bot, &i.id));
        // Algorithms: every one of the bot, with its calls' ends and percentiles by rank.
        let calls = over_period(&mut conn, &statements::calls(), id, &f, &t).await?;
        let mut algorithms = Vec::with_capacity(bot.algorithms.len());
        for name in bot.algorithms.keys() {
            let mut s = AlgorithmStats {
                name: name.clone(),
                calls: 0,
                failed: 0,
                timeout: 0,
                p50_ms: None,
                p95_ms: None,
            };
            for r in calls
                .iter()
                .filter(|r| r.get::<Option<String>, _>(0).as_deref() == Some(name))
            {
                let n: i64 = r.get(2);
                s.calls += n;
                match r.get::<Option<String>, _>(1).as_deref() {
                    Some("failed") => s.failed += n,
                    Some("timeout") => s.timeout += n,
                    _ => {}
                }
            }
            if s.calls > 0 {
                let rank_sql = statements::call_at_rank();
                for (p, slot) in [(0.5, &mut s.p50_ms), (0.95, &mut s.p95_ms)] {
                    let rank = nearest_rank(p, s.calls);
                    *slot = sqlx::query_scalar::<_, Option<i64>>(&rank_sql)
                        .bind(id)
                        .bind(&f)
                        .bind(&t)
                        .bind(name.as_str())
                        .bind(rank - 1)
                        .fetch_optional(&mut *conn)
                        .await?
                        .flatten();
                }
            }
            algorithms.push(s);
        }
        let text = |t: DateTime<FixedOffset>| {
            t.with_timezone(&Utc)
                .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
        };
        Ok(Insights {
            from: text(from),
            to: text(to),
            updates,
            users,
            hourly,
            records,
            unknown,
            choices,
            inputs,
            algorithms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        assert_eq!(nearest_rank(0.5, 1), 1);
        assert_eq!(nearest_rank(0.5, 4), 2);
        assert_eq!(nearest_rank(0.95, 20), 19);
        assert_eq!(nearest_rank(0.95, 21), 20);
    }
}
