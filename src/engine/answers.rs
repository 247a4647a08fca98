//! Checked answers of `input` steps (bot-format.md, `type`, `check`, `invalid`,
//! `attempts`): reading a text answer by its type, checking it, and refusing it.

use super::Keyboard;
use super::session::{HistoryEntry, Pending};
use super::turn::{Scope, Turn};
use crate::expr::{self, Context, Value};
use crate::model::{Action, AnswerType, RecordIdx};
use crate::texts::Text;
use chrono::{DateTime, FixedOffset};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use std::str::FromStr;

/// Reads a text answer as `answer_type` says, or `None` when it cannot.
pub fn read_answer(answer_type: AnswerType, text: &str, now: DateTime<FixedOffset>, tz: Option<Tz>) -> Option<Value> {
    let text = text.trim();
    let without_spaces: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    match answer_type {
        AnswerType::Number => {
            let digits = without_spaces.replace(',', ".");
            let body = digits.strip_prefix(['-', '+']).unwrap_or(&digits);
            let well_formed = body.chars().all(|c| c.is_ascii_digit() || c == '.')
                && body.chars().filter(|&c| c == '.').count() <= 1
                && body.chars().any(|c| c.is_ascii_digit());
            if !well_formed {
                return None;
            }
            Decimal::from_str(&digits).ok().map(|n| Value::Number(n.normalize()))
        }
        AnswerType::Integer => {
            let body = without_spaces.strip_prefix(['-', '+']).unwrap_or(&without_spaces);
            if body.is_empty() || !body.chars().all(|c| c.is_ascii_digit()) {
                return None;
            }
            Decimal::from_str(&without_spaces).ok().map(Value::Number)
        }
        AnswerType::Date => expr::time::date(text, now, tz).ok().map(Value::DateTime),
        AnswerType::Deadline => expr::time::deadline(text, expr::time::in_zone(now, tz), tz)
            .ok()
            .map(Value::DateTime),
        AnswerType::Phone => {
            let kept: String = text
                .chars()
                .filter(|c| !c.is_whitespace() && !matches!(c, '-' | '(' | ')'))
                .collect();
            let digits = kept.strip_prefix('+').unwrap_or(&kept);
            let count = digits.chars().count();
            if !(10..=15).contains(&count) || !digits.chars().all(|c| c.is_ascii_digit()) {
                return None;
            }
            Some(Value::text(format!("+{digits}")))
        }
        AnswerType::Email => {
            let lower = text.to_lowercase();
            let (local, domain) = lower.split_once('@')?;
            let labels: Vec<&str> = domain.split('.').collect();
            let tld = labels.last()?;
            let well_formed = !local.is_empty()
                && !lower
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control() || "<>\"',;:()[]\\".contains(c))
                && !domain.contains('@')
                && labels.len() >= 2
                && labels
                    .iter()
                    .all(|l| !l.is_empty() && l.chars().all(|c| c.is_alphanumeric() || c == '-'))
                && tld.chars().count() >= 2
                && tld.chars().all(char::is_alphabetic);
            well_formed.then(|| Value::text(lower))
        }
    }
}

/// A pending `input` step, as its session keeps it.
pub(super) struct InputStep {
    pub record: String,
    pub history: Vec<HistoryEntry>,
    pub selected: Option<String>,
    pub selected_title: Option<String>,
    pub refused: u32,
}

impl InputStep {
    pub fn pending(self) -> Pending {
        Pending::Input {
            record: self.record,
            history: self.history,
            selected: self.selected,
            selected_title: self.selected_title,
            refused: self.refused,
        }
    }

    /// The scope of what follows the step (or of its texts), with `input` = `answer`.
    pub fn scope(&self, answer: Value) -> Scope {
        Scope {
            input: None,
            answer: Some(answer),
            selected: self.selected.clone(),
            selected_title: self.selected_title.clone(),
            history: self.history.clone(),
            result: None,
        }
    }
}

impl Turn<'_> {
    /// A text answer to the `input` record `idx`, as its `type` read it, when its `check`
    /// takes it; `None` refuses it.
    pub(super) fn checked_answer(&mut self, idx: RecordIdx, step: &InputStep, text: &str) -> Option<Value> {
        let Action::Input { answer_type, check, .. } = &self.bot.records[idx].action else {
            return None;
        };
        let answer = match answer_type {
            Some(t) => read_answer(*t, text, self.now, self.bot.timezone)?,
            None => Value::text(text),
        };
        if let Some(check) = check {
            let vars = self.scope_vars(&step.scope(answer.clone()), &[]);
            let ctx = Context {
                vars: &vars,
                now: self.now,
                tz: self.bot.timezone,
            };
            match expr::evaluate(check, &ctx) {
                Ok(Value::Bool(true)) => {}
                Ok(other) => {
                    tracing::debug!(bot = %self.bot.id, record = %step.record, value = %other.to_text(), "an answer was refused by its check");
                    return None;
                }
                Err(e) => {
                    tracing::debug!(bot = %self.bot.id, record = %step.record, error = %e.0, "an answer's check failed to evaluate");
                    return None;
                }
            }
        }
        Some(answer)
    }

    /// A refused answer: `invalid` (or `input_invalid`) and the step stays pending, or, at the
    /// `attempts`-th refusal in a row, `input_gave_up` alone and nothing pending.
    pub(super) fn refuse_answer(&mut self, idx: RecordIdx, mut step: InputStep, text: &str) {
        let Action::Input { invalid, attempts, .. } = &self.bot.records[idx].action else {
            return self.stale();
        };
        step.refused = step.refused.saturating_add(1);
        // The texts of a refusal see `input` as the text typed.
        let scope = step.scope(Value::text(text));
        if attempts.is_some_and(|n| step.refused >= n) {
            self.session.pending = None;
            self.insight(super::insights::Insight::InputGaveUp {
                record: step.record.clone(),
            });
            let reply = self.render_text(Text::InputGaveUp, &self.scope_vars(&scope, &[]));
            return self.send_to(self.user.chat, reply, Keyboard::None);
        }
        self.insight(super::insights::Insight::InputInvalid {
            record: step.record.clone(),
        });
        let reply = match invalid {
            Some(template) => self.render_scoped(template, &scope),
            None => self.render_text(Text::InputInvalid, &self.scope_vars(&scope, &[])),
        };
        self.session.pending = Some(step.pending());
        self.send_to(self.user.chat, reply, Keyboard::None);
    }
}
