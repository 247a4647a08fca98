//! Records and algorithm calls: running a record's action, hand-overs
//! (`alias`, `then`) and what algorithms return.

use super::Keyboard;
use super::choices::parse_options;
use super::insights::{CallResult, Insight, Reached};
use super::session::{OpenChoice, Pending, ReplyKeyboard};
use super::turn::{Outcome, Scope, Turn};
use crate::algorithms::{AlgorithmCall, AlgorithmFailure};
use crate::expr::{self, Value};
use crate::model::{Action, RecordIdx, normalize};
use crate::texts::Text;

/// The `attachments` of an algorithm's result (bot-format.md): `Err` says what is wrong.
fn result_files(value: &Value) -> Result<Vec<super::File>, String> {
    let Value::Object(o) = value else {
        return Ok(Vec::new());
    };
    match o.get("attachments") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::List(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                super::File::parse(&item.to_json()).map_err(|(field, why)| match field {
                    Some(f) => format!("attachments[{i}].{f} {why}"),
                    None => format!("attachments[{i}] {why}"),
                })
            })
            .collect(),
        Some(_) => Err("`attachments` must be a list of {name, content_base64}, {name, url} or {name, file_id}".into()),
    }
}

/// How many records one event may pass through (`alias`, `then`): a guard
/// behind the compile-time cycle check.
const MAX_HOPS: usize = 64;

impl Turn<'_> {
    pub(super) fn execute(&mut self, record: RecordIdx, scope: Scope, hops: usize) -> Outcome {
        if hops > MAX_HOPS {
            tracing::error!(bot = %self.bot.id, "too many hand-overs in one step");
            self.say(Text::AlgorithmFailed, &[], Keyboard::None);
            return Outcome::Failed;
        }
        let bot = self.bot;
        let r = &bot.records[record];
        if !matches!(r.action, Action::Alias(_)) {
            self.reached(Reached::Record(r.id.clone()));
        }
        let first_message = self.out.len();
        let outcome = match &r.action {
            Action::Reply(template) => {
                let text = self.render_scoped(template, &scope);
                self.send_to(self.user.chat, text, Keyboard::None);
                Outcome::Done
            }
            Action::Alias(target) => return self.execute(*target, scope, hops + 1),
            Action::Input { question, .. } => {
                let text = self.render_scoped(question, &scope);
                self.send_to(self.user.chat, text, Keyboard::None);
                self.insight(Insight::InputAsked { record: r.id.clone() });
                self.session.pending = Some(Pending::Input {
                    record: r.id.clone(),
                    history: scope.history.clone(),
                    selected: scope.selected.clone(),
                    selected_title: scope.selected_title.clone(),
                    refused: 0,
                });
                Outcome::Waiting
            }
            Action::Choice {
                title, options_from, ..
            } => self.open_choice(record, title, options_from.as_deref(), scope.clone()),
            Action::Run(name) => self.run_record(record, name, &scope),
        };
        self.attach_menu(record, first_message);
        if outcome == Outcome::Done
            && let Some(next) = r.then
        {
            let mut scope = scope;
            if let Action::Run(_) = r.action {
                scope.result = self.last_result.clone();
            }
            return self.execute(next, scope, hops + 1);
        }
        outcome
    }

    pub(super) fn attach_menu(&mut self, record: RecordIdx, first_message: usize) {
        let r = &self.bot.records[record];
        let keyboard = if let Some(menu) = &r.menu {
            self.session.menu = Some(ReplyKeyboard {
                record: r.id.clone(),
                labels: menu.iter().flatten().map(|l| normalize(l)).collect(),
            });
            Keyboard::Menu(menu.clone())
        } else if r.hide_menu {
            self.session.menu = None;
            Keyboard::RemoveMenu
        } else {
            return;
        };
        if let Some(m) = self.out[first_message..]
            .iter_mut()
            .rev()
            .find(|m| m.keyboard == Keyboard::None)
        {
            m.keyboard = keyboard;
        }
    }

    pub(super) fn run_record(&mut self, record: RecordIdx, name: &str, scope: &Scope) -> Outcome {
        let value = match self.call_algorithm(name, scope) {
            Ok(v) => v,
            Err(()) => return Outcome::Failed,
        };
        self.last_result = Some(value.clone());
        let is_expr = matches!(
            self.bot.algorithms.get(name).map(|a| &a.kind),
            Some(crate::model::AlgorithmKind::Expr(_))
        );
        if value.is_empty_result() {
            self.say(Text::EmptyResult, &[], Keyboard::None);
            return Outcome::Done;
        }
        let files = match result_files(&value) {
            Ok(files) => files,
            Err(why) => {
                tracing::warn!(bot = %self.bot.id, algorithm = name, cause = %why, "algorithm failed");
                self.say(Text::AlgorithmFailed, &[], Keyboard::None);
                return Outcome::Failed;
            }
        };
        let (text, options) = match &value {
            Value::List(_) => (None, parse_options(&value)),
            Value::Object(o) if o.contains_key("choices") => (o.get("text").map(Value::to_text), parse_options(&value)),
            Value::Object(o) if o.contains_key("text") => (o.get("text").map(Value::to_text), None),
            // Files alone: a message of no text, only the files.
            Value::Object(o) if !files.is_empty() && o.len() == 1 => {
                self.out.push(super::Outgoing {
                    to: self.user.chat,
                    text: String::new(),
                    keyboard: Keyboard::None,
                    files,
                });
                return Outcome::Done;
            }
            Value::Object(_) => (Some(value.to_text()), None),
            other => (Some(other.to_text()), None),
        };
        let first_message = self.out.len();
        let outcome = self.show_result(record, text, options, scope, is_expr);
        // The files follow the result's text.
        if !files.is_empty()
            && let Some(m) = self.out[first_message..]
                .iter_mut()
                .rev()
                .find(|m| m.to == self.user.chat)
        {
            m.files = files;
        }
        outcome
    }

    fn show_result(
        &mut self,
        record: RecordIdx,
        text: Option<String>,
        options: Option<(Vec<super::DynamicOption>, Option<String>)>,
        scope: &Scope,
        is_expr: bool,
    ) -> Outcome {
        match options {
            Some((items, _)) if !items.is_empty() => {
                let r = &self.bot.records[record];
                self.session.seq = self.session.seq.wrapping_add(1);
                let seq = self.session.seq;
                let title = match text {
                    Some(t) => self.algorithm_text(&t, is_expr),
                    None => self.render_text(Text::ChooseOption, &self.scope_vars(scope, &[])),
                };
                let keyboard = self.dynamic_keyboard(record, &items, seq);
                let open = OpenChoice {
                    record: r.id.clone(),
                    history: scope.history.clone(),
                    dynamic: Some(items),
                    seq,
                    title: None,
                };
                self.show_choice(open, title, keyboard)
            }
            Some(_) if text.is_none() => {
                self.say(Text::EmptyResult, &[], Keyboard::None);
                Outcome::Done
            }
            _ => {
                let text = self.algorithm_text(&text.unwrap_or_default(), is_expr);
                self.send_to(self.user.chat, text, Keyboard::None);
                Outcome::Done
            }
        }
    }

    /// An algorithm's text as sent: expr results escaped; others as HTML when it is valid.
    pub(super) fn algorithm_text(&self, text: &str, is_expr: bool) -> String {
        if is_expr || crate::html::check_html(text).is_err() {
            expr::escape_html(text)
        } else {
            text.to_string()
        }
    }

    /// Calls an algorithm; a failure is told to the user and logged, and gives `Err`.
    pub(super) fn call_algorithm(&mut self, name: &str, scope: &Scope) -> Result<Value, ()> {
        match self.try_algorithm(name, scope, &[]) {
            Ok(v) => Ok(v),
            Err(failure) => {
                let key = match failure {
                    AlgorithmFailure::Timeout => Text::AlgorithmTimeout,
                    AlgorithmFailure::Failed(_) => Text::AlgorithmFailed,
                };
                self.say(key, &[], Keyboard::None);
                Err(())
            }
        }
    }

    /// Calls an algorithm and logs a failure, without telling the user.
    pub(super) fn try_algorithm(
        &mut self,
        name: &str,
        scope: &Scope,
        extra: &[(&str, Value)],
    ) -> Result<Value, AlgorithmFailure> {
        let Some(algorithm) = self.bot.algorithms.get(name) else {
            return Err(AlgorithmFailure::Failed(format!("unknown algorithm `{name}`")));
        };
        let vars = self.scope_vars(scope, extra);
        let call = AlgorithmCall {
            bot: self.bot,
            algorithm,
            vars: &vars,
            now: self.now,
        };
        // After a failure of the world nothing more runs: no business system sees a made-up state.
        if self.failure.is_some() {
            return Err(AlgorithmFailure::Failed("the step was aborted".into()));
        }
        // The call's duration for the insights log, measured where the call is made (it
        // changes nothing the step does).
        let started = std::time::Instant::now();
        let result = match self.runner.as_deref_mut() {
            Some(runner) => runner.run(&call),
            None => Err(AlgorithmFailure::Failed(
                "algorithms do not run outside a conversation step".into(),
            )),
        };
        self.insight(Insight::Algorithm {
            name: name.to_string(),
            ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            result: match &result {
                Ok(_) => CallResult::Ok,
                Err(AlgorithmFailure::Timeout) => CallResult::Timeout,
                Err(AlgorithmFailure::Failed(_)) => CallResult::Failed,
            },
        });
        if let Err(failure) = &result {
            tracing::warn!(bot = %self.bot.id, algorithm = name, cause = %failure, "algorithm failed");
        }
        result
    }
}
