//! A turn: the state of one event's handling, what templates see, rendering
//! and sending (with Telegram's limits).

use super::session::{HistoryEntry, Session};
use super::{Keyboard, Outgoing, User, World, WorldError, world};
use crate::algorithms::Runner;
use crate::expr::{self, Context, Value};
use crate::limits::{MAX_LABEL, MAX_MESSAGE as MAX_MESSAGE_CHARS};
use crate::model::CompiledBot;
use crate::texts::Text;
use chrono::{DateTime, FixedOffset};
use indexmap::IndexMap;

/// `text` cut to at most `max` characters, the last being `…` when it was cut.
pub(super) fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// The context of a record's action: what templates and algorithms see.
#[derive(Debug, Clone, Default)]
pub(super) struct Scope {
    pub input: Option<String>,
    /// The answer of an `input` step that took a file, a photo, a contact or a location:
    /// `input` is then this object instead of text.
    pub answer: Option<Value>,
    pub selected: Option<String>,
    /// The label of the option just chosen, as its button showed it (`selected_title`).
    pub selected_title: Option<String>,
    pub history: Vec<HistoryEntry>,
    pub result: Option<Value>,
}

/// What running a record left behind.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Outcome {
    /// Done; nothing waits for the user.
    Done,
    /// A choice (or options) is open, or a step is pending.
    Waiting,
    /// An algorithm failed; the conversation stays where it was.
    Failed,
}

pub(super) struct Turn<'a> {
    pub bot: &'a CompiledBot,
    pub world: &'a mut dyn World,
    /// Runs the step's algorithms; `None` outside a conversation step (a text rendered for
    /// the HTTP API inside its transaction), where no algorithm may run.
    pub runner: Option<&'a mut Runner>,
    pub user: &'a User,
    pub now: DateTime<FixedOffset>,
    pub session: Session,
    pub out: Vec<Outgoing>,
    /// The `user` variable of the current user, read once per event.
    pub cached_user: Option<Value>,
    /// The result of the algorithm that ran last in this step (`result` after `then`).
    pub last_result: Option<Value>,
    /// The world's first failure in this step: from then on nothing runs and the step is thrown away.
    pub failure: Option<WorldError>,
    /// The step's outcome for the insights log (the first part of the step that sets it).
    pub reached: Option<super::insights::Reached>,
    /// The step's events for the insights log.
    pub insights: Vec<super::insights::Insight>,
}

impl<'a> Turn<'a> {
    /// A turn for one user, with the `user` variable read once.
    pub fn new(
        bot: &'a CompiledBot,
        world: &'a mut dyn World,
        runner: Option<&'a mut Runner>,
        user: &'a User,
        now: DateTime<FixedOffset>,
        session: Session,
    ) -> Turn<'a> {
        let mut turn = Turn {
            bot,
            world,
            runner,
            user,
            now,
            session,
            out: Vec::new(),
            cached_user: None,
            last_result: None,
            failure: None,
            reached: None,
            insights: Vec::new(),
        };
        turn.refresh_user();
        turn
    }

    /// Keeps the world's first failure; a neutral value stands in for the result.
    pub fn check<T: Default>(&mut self, result: Result<T, WorldError>) -> T {
        match result {
            Ok(v) => v,
            Err(e) => {
                if self.failure.is_none() {
                    tracing::warn!(bot = %self.bot.id, chat = self.user.chat, error = %e, "the world failed; the step is aborted");
                    self.failure = Some(e);
                }
                T::default()
            }
        }
    }

    // ----- sending -----

    pub fn send_to(&mut self, to: i64, text: String, keyboard: Keyboard) {
        let mut chunks = split_message(&text);
        let last = chunks.pop().unwrap_or_default();
        for c in chunks {
            self.out.push(Outgoing::text(to, c, Keyboard::None));
        }
        self.out.push(Outgoing::text(to, last, keyboard));
    }

    /// Renders a built-in text for this user and sends it.
    pub fn say(&mut self, key: Text, extra: &[(&str, Value)], keyboard: Keyboard) {
        match key {
            Text::ChoiceStale => self.reached(super::insights::Reached::Stale),
            Text::ChoiceCancelled | Text::InputCancelled => self.reached(super::insights::Reached::Cancel),
            _ => {}
        }
        let text = self.render_text(key, &self.scope_vars(&Scope::default(), extra));
        self.send_to(self.user.chat, text, keyboard);
    }

    pub fn render_text(&self, key: Text, vars: &IndexMap<String, Value>) -> String {
        self.render(self.bot.text(key), vars)
    }

    pub fn render(&self, template: &expr::Template, vars: &IndexMap<String, Value>) -> String {
        let ctx = Context {
            vars,
            now: self.now,
            tz: self.bot.timezone,
        };
        match expr::render(template, &ctx, true) {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(bot = %self.bot.id, error = %e, "a template failed to render");
                let mut text = String::new();
                for s in &template.segments {
                    if let crate::expr::ast::Segment::Text(t) = s {
                        text.push_str(t);
                    }
                }
                text
            }
        }
    }

    /// Renders a template in a scope, building the variables only when it has expressions.
    pub(super) fn render_scoped(&self, template: &expr::Template, scope: &Scope) -> String {
        if template.has_expressions() {
            return self.render(template, &self.scope_vars(scope, &[]));
        }
        let mut text = String::new();
        for segment in &template.segments {
            if let crate::expr::ast::Segment::Text(t) = segment {
                text.push_str(t);
            }
        }
        text
    }

    pub fn label(&self, key: Text) -> String {
        shorten_label(&self.render_text(key, &self.scope_vars(&Scope::default(), &[])))
    }

    // ----- variables -----

    pub fn refresh_user(&mut self) {
        let user = self.user;
        self.cached_user = Some(self.user_value(user));
    }

    pub fn user_value(&mut self, user: &User) -> Value {
        let principal = world!(self, registration(user.chat))
            .map(|p| p.to_value())
            .unwrap_or(Value::Null);
        Value::object([
            ("id", Value::from(user.id)),
            ("key", Value::from(user.chat)),
            ("name", Value::text(&user.name)),
            (
                "username",
                user.username.as_ref().map(Value::text).unwrap_or(Value::Null),
            ),
            ("principal", principal),
        ])
    }

    pub fn bot_value(&self) -> Value {
        Value::object([
            ("name", Value::text(&self.bot.name)),
            ("description", Value::text(&self.bot.description)),
            ("id", Value::text(&self.bot.id)),
        ])
    }

    pub fn scope_vars(&self, scope: &Scope, extra: &[(&str, Value)]) -> IndexMap<String, Value> {
        let mut vars = IndexMap::with_capacity(8 + extra.len());
        vars.insert("bot".to_string(), self.bot_value());
        vars.insert("user".to_string(), self.cached_user.clone().unwrap_or(Value::Null));
        vars.insert(
            "input".to_string(),
            match &scope.answer {
                Some(answer) => answer.clone(),
                None => scope.input.clone().map(Value::Text).unwrap_or(Value::Null),
            },
        );
        vars.insert(
            "selected".to_string(),
            scope.selected.clone().map(Value::Text).unwrap_or(Value::Null),
        );
        vars.insert(
            "selected_title".to_string(),
            scope.selected_title.clone().map(Value::Text).unwrap_or(Value::Null),
        );
        vars.insert(
            "history".to_string(),
            Value::List(
                scope
                    .history
                    .iter()
                    .map(|h| {
                        Value::object([
                            // An action button's entry has no choice (api.md).
                            (
                                "choice",
                                if h.record.is_empty() {
                                    Value::Null
                                } else {
                                    Value::text(&h.choice)
                                },
                            ),
                            ("title", Value::text(&h.title)),
                            ("selected", Value::text(&h.selected)),
                            ("label", Value::text(&h.label)),
                        ])
                    })
                    .collect(),
            ),
        );
        let session_vars = serde_json::Value::Object(self.session.vars.clone());
        vars.insert(
            "vars".to_string(),
            Value::from_stored_json(&session_vars).unwrap_or(Value::Null),
        );
        vars.insert("result".to_string(), scope.result.clone().unwrap_or(Value::Null));
        for (k, v) in extra {
            vars.insert(k.to_string(), v.clone());
        }
        vars
    }
}

/// Shortens a label to Telegram's 64 bytes, ending it with `…`.
pub fn shorten_label(label: &str) -> String {
    if label.len() <= MAX_LABEL {
        return label.to_string();
    }
    let mut end = MAX_LABEL - '…'.len_utf8();
    while !label.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &label[..end])
}

/// Splits a message over Telegram's 4096 characters at line breaks (a line
/// that is itself too long is split where it must be); nothing is cut off.
pub fn split_message(text: &str) -> Vec<String> {
    const LIMIT: usize = MAX_MESSAGE_CHARS;
    if text.chars().count() <= LIMIT {
        return vec![text.to_string()];
    }
    let mut chunks = Vec::new();
    let mut current = String::new();
    let mut current_len = 0;
    for line in text.split_inclusive('\n') {
        let mut line = line;
        loop {
            let len = line.chars().count();
            if current_len + len <= LIMIT {
                current.push_str(line);
                current_len += len;
                break;
            }
            if current_len > 0 {
                chunks.push(std::mem::take(&mut current));
                current_len = 0;
                continue;
            }
            let cut = line.char_indices().nth(LIMIT).map(|(i, _)| i).unwrap_or(line.len());
            chunks.push(line[..cut].to_string());
            line = &line[cut..];
        }
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks
        .into_iter()
        .map(|c| c.trim_end_matches('\n').to_string())
        .collect()
}

/// A text for a user outside any conversation step: the HTTP API's
/// registrations and decisions, and notifications. `user` is the recipient;
/// `extra` adds variables (such as `data` or `reason`).
pub fn message_for(
    bot: &CompiledBot,
    world: &mut dyn World,
    user: &User,
    template: &expr::Template,
    extra: &[(&str, Value)],
    now: DateTime<FixedOffset>,
) -> Result<Outgoing, WorldError> {
    let turn = Turn::new(bot, world, None, user, now, Session::default());
    let scope = Scope::default();
    let text = turn.render(template, &turn.scope_vars(&scope, extra));
    if let Some(e) = turn.failure {
        return Err(e);
    }
    Ok(Outgoing::text(user.chat, text, Keyboard::None))
}
