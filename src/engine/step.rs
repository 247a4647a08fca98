//! One incoming event, handled in the processing order of bot-format.md.

use super::buttons::Callback;
use super::session::{ChosenOption, DynamicOption, HistoryEntry, OpenChoice, Pending, ReplyKeyboard, Session, Shown};
use super::{Attachment, Event, InlineButton, Keyboard, Outgoing, User, World, WorldError, world};
use crate::algorithms::{AlgorithmCall, AlgorithmFailure};
use crate::expr::{self, Context, Value};
use crate::model::{Action, CompiledBot, InputKind, RecordIdx, normalize};
use chrono::{DateTime, FixedOffset};
use indexmap::IndexMap;

/// How many records one event may pass through (`alias`, `then`): a guard
/// behind the compile-time cycle check.
const MAX_HOPS: usize = 64;
/// The longest button label, in bytes.
const MAX_LABEL: usize = 64;
/// Telegram's longest message, in characters.
const MAX_MESSAGE_CHARS: usize = 4096;
/// The most messages one update makes to its user.
const MAX_REPLIES: usize = 10;

/// `text` cut to at most `max` characters, the last being `…` when it was cut.
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// At most [`MAX_REPLIES`] messages to `user`: a longer reply is cut, its last message ends
/// with `…` and keeps the keyboard the reply ended with. Messages to others are kept.
fn limit_replies(out: Vec<Outgoing>, user: i64) -> Vec<Outgoing> {
    if out.iter().filter(|m| m.to == user).count() <= MAX_REPLIES {
        return out;
    }
    let last_keyboard = out
        .iter()
        .rev()
        .find(|m| m.to == user)
        .map(|m| m.keyboard.clone())
        .unwrap_or_default();
    let mut kept = Vec::with_capacity(out.len());
    let mut to_user = 0;
    for m in out {
        if m.to != user {
            kept.push(m);
            continue;
        }
        to_user += 1;
        if to_user < MAX_REPLIES {
            kept.push(m);
        } else if to_user == MAX_REPLIES {
            let mut text = cut(&m.text, MAX_MESSAGE_CHARS - 1);
            if !text.ends_with('…') {
                text.push('…');
            }
            kept.push(Outgoing {
                to: m.to,
                text,
                keyboard: last_keyboard.clone(),
            });
        }
    }
    kept
}

/// Handles one event of one user and returns the messages to send, or the
/// world's first failure (then nothing of the step may be kept).
pub fn handle(
    bot: &CompiledBot,
    world: &mut dyn World,
    user: &User,
    event: &Event,
    now: DateTime<FixedOffset>,
) -> Result<Vec<Outgoing>, WorldError> {
    // A closed bot works only in private chats: in groups and channels it stays silent.
    if bot.auth.as_ref().is_some_and(|a| a.required) && user.chat != user.id {
        return Ok(Vec::new());
    }
    let stored = world.session(user.chat, user.id)?;
    let session = match stored {
        Some(s) if s.hash == bot.hash => s,
        Some(_) => {
            tracing::info!(bot = %bot.id, chat = user.chat, "stored session belongs to another definition; starting at the top level");
            Session {
                hash: bot.hash.clone(),
                ..Session::default()
            }
        }
        None => Session {
            hash: bot.hash.clone(),
            ..Session::default()
        },
    };
    let mut turn = Turn::new(bot, world, user, now, session);
    match event {
        Event::Text(text) => turn.text(text),
        Event::Button(data) => turn.button(data),
        Event::Attachment(a) => turn.attachment(Some(a)),
        Event::Unsupported => turn.attachment(None),
    }
    let Turn {
        session,
        out,
        world,
        failure,
        ..
    } = turn;
    if let Some(e) = failure {
        return Err(e);
    }
    world.save_session(user.chat, user.id, &session)?;
    Ok(limit_replies(out, user.chat))
}

/// The context of a record's action: what templates and algorithms see.
#[derive(Debug, Clone, Default)]
pub(super) struct Scope {
    pub input: Option<String>,
    /// The answer of an `input` step that took a file, a photo, a contact or a location:
    /// `input` is then this object instead of text.
    pub answer: Option<Value>,
    pub selected: Option<String>,
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
}

impl<'a> Turn<'a> {
    /// A turn for one user, with the `user` variable read once.
    pub fn new(
        bot: &'a CompiledBot,
        world: &'a mut dyn World,
        user: &'a User,
        now: DateTime<FixedOffset>,
        session: Session,
    ) -> Turn<'a> {
        let mut turn = Turn {
            bot,
            world,
            user,
            now,
            session,
            out: Vec::new(),
            cached_user: None,
            last_result: None,
            failure: None,
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
            self.out.push(Outgoing {
                to,
                text: c,
                keyboard: Keyboard::None,
            });
        }
        self.out.push(Outgoing {
            to,
            text: last,
            keyboard,
        });
    }

    /// Renders a built-in text for this user and sends it.
    pub fn say(&mut self, key: &str, extra: &[(&str, Value)], keyboard: Keyboard) {
        let text = self.render_text(key, &self.scope_vars(&Scope::default(), extra));
        self.send_to(self.user.chat, text, keyboard);
    }

    pub fn render_text(&self, key: &str, vars: &IndexMap<String, Value>) -> String {
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

    pub fn label(&self, key: &str) -> String {
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
            "history".to_string(),
            Value::List(
                scope
                    .history
                    .iter()
                    .map(|h| {
                        Value::object([
                            ("choice", Value::text(&h.choice)),
                            ("title", Value::text(&h.title)),
                            ("selected", Value::text(&h.selected)),
                        ])
                    })
                    .collect(),
            ),
        );
        let session_vars = serde_json::Value::Object(self.session.vars.clone());
        vars.insert(
            "vars".to_string(),
            Value::from_json(&session_vars).unwrap_or(Value::Null),
        );
        vars.insert("result".to_string(), scope.result.clone().unwrap_or(Value::Null));
        for (k, v) in extra {
            vars.insert(k.to_string(), v.clone());
        }
        vars
    }
}

impl Turn<'_> {
    fn is_cancel(&self, norm: &str) -> bool {
        self.bot.cancel.iter().any(|w| w == norm)
    }

    /// A top-level word: a top-level record's word, a `start` or `cancel` word, and with
    /// `allow_code` an exposed algorithm's name or title.
    fn is_top_level_word(&self, norm: &str) -> bool {
        self.bot.top.contains_key(norm)
            || self.bot.start.iter().any(|w| w == norm)
            || self.is_cancel(norm)
            || (self.bot.allow_code && self.bot.code_names.contains_key(norm))
    }

    /// Whether the record with this id lies in a `public` subtree (strangers reach it).
    fn is_public(&self, id: &str) -> bool {
        self.bot.record_by_id(id).is_some_and(|r| self.bot.records[r].public)
    }

    /// The public top-level record a text names, if any.
    fn public_word(&self, norm: &str) -> Option<RecordIdx> {
        self.bot.top.get(norm).copied().filter(|&r| self.bot.records[r].public)
    }

    /// A pending step that a stranger may go on with: their own auth steps, an operator's
    /// answers, and steps of public records.
    fn open_to_strangers(&self, pending: &Pending) -> bool {
        match pending {
            Pending::Input { record, .. } => self.is_public(record),
            Pending::Confirm { open, .. } => self.is_public(&open.record),
            other => other.is_auth_step(),
        }
    }

    /// A label of the user's reply keyboard.
    fn is_menu_label(&self, norm: &str) -> bool {
        self.session
            .menu
            .as_ref()
            .is_some_and(|m| m.labels.iter().any(|l| l == norm))
    }

    fn text(&mut self, text: &str) {
        let norm = normalize(text);
        // A cancel word is checked before anything else, always.
        if self.is_cancel(&norm) {
            let key = match &self.session.pending {
                Some(Pending::Input { .. } | Pending::AuthData | Pending::AuthConfirm { .. })
                | Some(
                    Pending::OperatorKind { .. }
                    | Pending::OperatorName { .. }
                    | Pending::OperatorReason { .. }
                    | Pending::OperatorLookup { .. }
                    | Pending::OperatorPick { .. },
                ) => "input_cancelled",
                _ => "choice_cancelled",
            };
            self.session.pending = None;
            self.session.open = None;
            self.say(key, &[], Keyboard::None);
            return;
        }
        // On a closed bot every step checks the registration first: a user whose
        // registration was removed loses their pending steps and open choices (their own
        // auth steps and an operator's answers need none).
        if self
            .session
            .pending
            .as_ref()
            .is_some_and(|p| !self.open_to_strangers(p))
            && self.must_register()
        {
            self.session.pending = None;
            self.session.open = None;
        }
        // 1. A pending step takes the message. A confirmation or an `input` never takes a
        // top-level word or a label of the user's reply keyboard (unless the input set that
        // keyboard itself): such a text ends the step silently and goes on.
        if let Some(pending) = self.session.pending.take() {
            let steps_aside = match &pending {
                // Auth data entry never takes a public word.
                Pending::AuthData => self.public_word(&norm).is_some(),
                Pending::Confirm { .. } => self.is_top_level_word(&norm) || self.is_menu_label(&norm),
                Pending::Input { record, .. } => {
                    let own_menu = self.session.menu.as_ref().is_some_and(|m| &m.record == record);
                    self.is_top_level_word(&norm) || (!own_menu && self.is_menu_label(&norm))
                }
                _ => false,
            };
            if !steps_aside {
                self.pending(pending, text, &norm);
                return;
            }
            if matches!(pending, Pending::Confirm { .. }) {
                self.session.open = None;
            }
        }
        // 2. A start word: the greeting.
        if self.bot.start.contains(&norm) {
            self.session.open = None;
            let greeting_scope = Scope {
                input: Some(text.to_string()),
                ..Scope::default()
            };
            let greeting = self.render_text("greeting", &self.scope_vars(&greeting_scope, &[]));
            self.send_to(self.user.chat, greeting, Keyboard::None);
            if self.must_register() {
                self.auth_gate();
            }
            return;
        }
        // 3. An unregistered user of a bot with required authorization: public records and the
        // options of an open choice below one are handled as usual; anything else gets the
        // auth request.
        if self.must_register() {
            // Typing the registration button's label is pressing it.
            if norm == normalize(&self.label("auth_button")) {
                self.register_pressed();
                return;
            }
            if let Some(open) = self.session.open.clone().filter(|o| self.is_public(&o.record))
                && self.open_choice_text(&open, text, &norm)
            {
                return;
            }
            match self.public_word(&norm) {
                Some(record) => {
                    let before = self.session.open.take();
                    let scope = Scope {
                        input: Some(text.to_string()),
                        ..Scope::default()
                    };
                    if self.execute(record, scope, 0) == Outcome::Failed {
                        self.session.open = before;
                    }
                }
                None => self.auth_gate(),
            }
            return;
        }
        // 4. An open choice: its options, a "*" option last.
        if let Some(open) = self.session.open.clone()
            && self.open_choice_text(&open, text, &norm)
        {
            return;
        }
        // 5. Code mode.
        if self.bot.allow_code && self.code(text, &norm) {
            return;
        }
        // 6. Top-level keywords.
        if let Some(&record) = self.bot.top.get(&norm) {
            let before = self.session.open.take();
            let scope = Scope {
                input: Some(text.to_string()),
                ..Scope::default()
            };
            if self.execute(record, scope, 0) == Outcome::Failed {
                self.session.open = before;
            }
            return;
        }
        // 7. Unknown.
        let scope = Scope {
            input: Some(text.to_string()),
            ..Scope::default()
        };
        let reply = self.render_text("unknown", &self.scope_vars(&scope, &[]));
        self.send_to(self.user.chat, reply, Keyboard::None);
    }

    /// A message that is not text: a pending `input` that accepts its kind takes it; one that
    /// does not says what it waits for and stays pending; otherwise `unsupported_message`.
    fn attachment(&mut self, attachment: Option<&Attachment>) {
        if self
            .session
            .pending
            .as_ref()
            .is_some_and(|p| !self.open_to_strangers(p))
            && self.must_register()
        {
            self.session.pending = None;
            self.session.open = None;
        }
        let (record, history, selected) = match self.session.pending.take() {
            Some(Pending::Input {
                record,
                history,
                selected,
            }) => (record, history, selected),
            // Registration data: with `[auth] contact`, the user's own contact.
            Some(Pending::AuthData) => return self.auth_contact(attachment),
            other => {
                self.session.pending = other;
                return self.say("unsupported_message", &[], Keyboard::None);
            }
        };
        let Some(idx) = self.bot.record_by_id(&record) else {
            return self.stale();
        };
        let Action::Input { save_as, accept, .. } = &self.bot.records[idx].action else {
            return self.stale();
        };
        let Some(attachment) = attachment.filter(|a| accept.contains(&a.kind())) else {
            let accept = accept.clone();
            self.session.pending = Some(Pending::Input {
                record,
                history,
                selected,
            });
            return self.wrong_kind(&accept);
        };
        let answer = attachment.to_value();
        if let Some(name) = save_as {
            self.session.vars.insert(name.clone(), answer.to_json());
        }
        let scope = Scope {
            input: None,
            answer: Some(answer),
            selected,
            history,
            result: None,
        };
        if let Some(next) = self.bot.records[idx].then {
            self.execute(next, scope, 0);
        }
    }

    /// `input_wrong_kind`, naming the kinds the pending step takes.
    pub(super) fn wrong_kind(&mut self, accept: &[InputKind]) {
        let names: Vec<&str> = accept
            .iter()
            .map(|k| match (self.bot.language, k) {
                (crate::Language::Ru, InputKind::Text) => "текст",
                (crate::Language::Ru, InputKind::Document) => "документ",
                (crate::Language::Ru, InputKind::Photo) => "фото",
                (crate::Language::Ru, InputKind::Contact) => "контакт",
                (crate::Language::Ru, InputKind::Location) => "геопозицию",
                (crate::Language::En, InputKind::Text) => "text",
                (crate::Language::En, InputKind::Document) => "a document",
                (crate::Language::En, InputKind::Photo) => "a photo",
                (crate::Language::En, InputKind::Contact) => "a contact",
                (crate::Language::En, InputKind::Location) => "a location",
            })
            .collect();
        let or = if self.bot.language == crate::Language::Ru {
            " или "
        } else {
            " or "
        };
        self.say(
            "input_wrong_kind",
            &[("expected", Value::text(names.join(or)))],
            Keyboard::None,
        );
    }

    /// Whether this user must register before reaching anything.
    pub(super) fn must_register(&mut self) -> bool {
        match &self.bot.auth {
            Some(a) if a.required => world!(self, registration(self.user.chat)).is_none(),
            _ => false,
        }
    }

    fn pending(&mut self, pending: Pending, text: &str, norm: &str) {
        match pending {
            Pending::Input {
                record,
                history,
                selected,
            } => {
                let Some(idx) = self.bot.record_by_id(&record) else {
                    return self.stale();
                };
                let Action::Input { save_as, accept, .. } = &self.bot.records[idx].action else {
                    return self.stale();
                };
                if !accept.contains(&InputKind::Text) {
                    // Text the step does not take: it says what it waits for and stays pending.
                    let accept = accept.clone();
                    self.session.pending = Some(Pending::Input {
                        record,
                        history,
                        selected,
                    });
                    return self.wrong_kind(&accept);
                }
                if let Some(name) = save_as {
                    self.session
                        .vars
                        .insert(name.clone(), serde_json::Value::String(text.to_string()));
                }
                let scope = Scope {
                    input: Some(text.to_string()),
                    answer: None,
                    selected,
                    history,
                    result: None,
                };
                if let Some(next) = self.bot.records[idx].then {
                    // The answer stays consumed even if what follows fails.
                    self.execute(next, scope, 0);
                }
            }
            Pending::Confirm { open, option, seq } => {
                let yes = normalize(&self.label("yes"));
                let no = normalize(&self.label("no"));
                if norm == yes {
                    self.confirmed(open, option, true);
                } else if norm == no {
                    self.confirmed(open, option, false);
                } else {
                    // The confirmation takes the message: ask again.
                    self.session.pending = Some(Pending::Confirm {
                        open: open.clone(),
                        option: option.clone(),
                        seq,
                    });
                    self.ask_confirm(&open, &option, seq);
                }
            }
            other => self.auth_pending_step(other, text, norm),
        }
    }

    fn stale(&mut self) {
        self.session.open = None;
        self.session.pending = None;
        self.say("choice_stale", &[], Keyboard::None);
    }

    fn button(&mut self, data: &str) {
        let Some(callback) = Callback::decode(data) else {
            tracing::info!(bot = %self.bot.id, "a button press with unknown data");
            return self.say("choice_stale", &[], Keyboard::None);
        };
        match callback {
            Callback::Option { hash, seq, record } => {
                if hash != self.bot.short_hash() {
                    return self.say("choice_stale", &[], Keyboard::None);
                }
                // The press acts on its own message, as it was shown.
                let Some(shown) = self.session.shown(seq).cloned() else {
                    return self.say("choice_stale", &[], Keyboard::None);
                };
                let Some(option) = self.bot.records.get(record) else {
                    return self.say("choice_stale", &[], Keyboard::None);
                };
                let belongs = option
                    .parent
                    .is_some_and(|p| self.bot.records[p].id == shown.open.record && self.bot.records[p].is_choice());
                if !belongs || option.is_star || shown.open.dynamic.is_some() || shown.option.is_some() {
                    return self.say("choice_stale", &[], Keyboard::None);
                }
                if !option.public && self.must_register() {
                    return self.auth_gate();
                }
                self.session.pending = None;
                let chosen = ChosenOption::Static {
                    record: option.id.clone(),
                    typed: None,
                };
                self.choose(shown.open, chosen);
            }
            Callback::Dynamic { hash, seq, index } => {
                if hash != self.bot.short_hash() {
                    return self.say("choice_stale", &[], Keyboard::None);
                }
                let open = match self.session.shown(seq) {
                    Some(shown) if shown.option.is_none() => shown.open.clone(),
                    _ => return self.say("choice_stale", &[], Keyboard::None),
                };
                if !self.is_public(&open.record) && self.must_register() {
                    return self.auth_gate();
                }
                let Some(item) = open.dynamic.as_ref().and_then(|d| d.get(index)).cloned() else {
                    return self.say("choice_stale", &[], Keyboard::None);
                };
                self.session.pending = None;
                self.choose(open, ChosenOption::Dynamic(item));
            }
            Callback::Confirm { hash, seq, yes } => {
                if hash != self.bot.short_hash() {
                    return self.say("choice_stale", &[], Keyboard::None);
                }
                let Some(Shown {
                    open,
                    option: Some(option),
                    ..
                }) = self.session.shown(seq).cloned()
                else {
                    return self.say("choice_stale", &[], Keyboard::None);
                };
                if !self.is_public(&open.record) && self.must_register() {
                    self.session.pending = None;
                    self.session.open = None;
                    return self.auth_gate();
                }
                // The confirmation of this message, whatever waits now.
                self.session.pending = None;
                self.confirmed(open, option, yes);
            }
            other => self.auth_button(other),
        }
    }

    /// Text typed while a choice is open. Returns whether an option took it.
    fn open_choice_text(&mut self, open: &OpenChoice, text: &str, norm: &str) -> bool {
        let Some(choice) = self.bot.record_by_id(&open.record) else {
            self.session.open = None;
            return false;
        };
        let record = &self.bot.records[choice];
        let chosen = if let Some(items) = &open.dynamic {
            match items
                .iter()
                .find(|i| normalize(&i.label) == norm || normalize(&i.value) == norm)
            {
                Some(item) => ChosenOption::Dynamic(item.clone()),
                None if record.star_option.is_some() && !self.is_top_level_word(norm) && !self.is_menu_label(norm) => {
                    ChosenOption::Dynamic(DynamicOption {
                        label: text.to_string(),
                        value: text.to_string(),
                    })
                }
                None => return false,
            }
        } else if let Some(&o) = record.option_index.get(norm) {
            ChosenOption::Static {
                record: self.bot.records[o].id.clone(),
                typed: None,
            }
        } else if let Some(star) = record.star_option
            && !self.is_top_level_word(norm)
            && !self.is_menu_label(norm)
        {
            // A `"*"` option never takes a top-level word or a reply-keyboard label.
            ChosenOption::Static {
                record: self.bot.records[star].id.clone(),
                typed: Some(text.to_string()),
            }
        } else {
            return false;
        };
        self.choose(open.clone(), chosen);
        true
    }

    /// An option was taken: confirm first when the choice asks for it.
    fn choose(&mut self, open: OpenChoice, chosen: ChosenOption) {
        let Some(choice) = self.bot.record_by_id(&open.record) else {
            return self.stale();
        };
        if let Action::Choice { confirm: true, .. } = self.bot.records[choice].action {
            self.session.seq = self.session.seq.wrapping_add(1);
            let seq = self.session.seq;
            self.session.pending = Some(Pending::Confirm {
                open: open.clone(),
                option: chosen.clone(),
                seq,
            });
            self.session.open = Some(open.clone());
            self.session.remember(Shown {
                seq,
                open: open.clone(),
                option: Some(chosen.clone()),
            });
            return self.ask_confirm(&open, &chosen, seq);
        }
        self.take_option(open, chosen);
    }

    fn selected_text(&self, chosen: &ChosenOption) -> String {
        match chosen {
            ChosenOption::Static { typed: Some(t), .. } => t.clone(),
            ChosenOption::Static { record, typed: None } => self
                .bot
                .record_by_id(record)
                .map(|r| self.bot.records[r].label().to_string())
                .unwrap_or_default(),
            ChosenOption::Dynamic(item) => item.value.clone(),
        }
    }

    fn ask_confirm(&mut self, open: &OpenChoice, chosen: &ChosenOption, seq: u32) {
        let scope = Scope {
            selected: Some(self.selected_text(chosen)),
            history: open.history.clone(),
            ..Scope::default()
        };
        let text = self.render_text("choice_confirm", &self.scope_vars(&scope, &[]));
        let hash = self.bot.short_hash().to_string();
        let row = vec![
            InlineButton {
                label: self.label("yes"),
                data: Callback::Confirm {
                    hash: hash.clone(),
                    seq,
                    yes: true,
                }
                .encode(),
            },
            InlineButton {
                label: self.label("no"),
                data: Callback::Confirm { hash, seq, yes: false }.encode(),
            },
        ];
        self.send_to(self.user.chat, text, Keyboard::Inline(vec![row]));
    }

    fn confirmed(&mut self, open: OpenChoice, chosen: ChosenOption, yes: bool) {
        if yes {
            return self.take_option(open, chosen);
        }
        // No: the choice message again, and nothing else.
        let Some(choice) = self.bot.record_by_id(&open.record) else {
            return self.stale();
        };
        self.resend_choice(choice, open);
    }

    /// Sends a choice's message again with the options it had.
    fn resend_choice(&mut self, choice: RecordIdx, open: OpenChoice) {
        let scope = Scope {
            history: open.history.clone(),
            ..Scope::default()
        };
        let title = match &self.bot.records[choice].action {
            Action::Choice { title, .. } => self.render_scoped(title, &scope),
            _ => self.render_text("choose_option", &self.scope_vars(&scope, &[])),
        };
        let keyboard = match &open.dynamic {
            Some(items) => self.dynamic_keyboard(choice, items, open.seq),
            None => self.static_keyboard(choice, open.seq),
        };
        self.session.remember(Shown {
            seq: open.seq,
            open: open.clone(),
            option: None,
        });
        self.session.open = Some(open);
        self.send_to(self.user.chat, title, keyboard);
    }

    /// Runs the action of the option taken, then closes the choice unless something new waits.
    fn take_option(&mut self, open: OpenChoice, chosen: ChosenOption) {
        let Some(choice) = self.bot.record_by_id(&open.record) else {
            return self.stale();
        };
        let record = &self.bot.records[choice];
        let selected = self.selected_text(&chosen);
        let target = match &chosen {
            ChosenOption::Static { record: id, .. } => self.bot.record_by_id(id),
            ChosenOption::Dynamic(item) => record
                .option_index
                .get(&normalize(&item.value))
                .or_else(|| record.option_index.get(&normalize(&item.label)))
                .copied()
                .or(record.star_option),
        };
        let Some(target) = target else {
            tracing::warn!(bot = %self.bot.id, choice = %record.id, "an option was chosen that no record handles");
            self.session.open = None;
            let scope = Scope {
                input: Some(selected),
                ..Scope::default()
            };
            let reply = self.render_text("unknown", &self.scope_vars(&scope, &[]));
            return self.send_to(self.user.chat, reply, Keyboard::None);
        };
        let title = match &record.action {
            Action::Choice { title, .. } => self.render_scoped(
                title,
                &Scope {
                    history: open.history.clone(),
                    ..Scope::default()
                },
            ),
            _ => String::new(),
        };
        let mut history = open.history.clone();
        history.push(HistoryEntry {
            record: record.id.clone(),
            choice: record.label().to_string(),
            title,
            selected: selected.clone(),
        });
        let before = Some(open.clone());
        self.session.open = None;
        let input = match &chosen {
            ChosenOption::Static { typed: Some(t), .. } => t.clone(),
            _ => selected.clone(),
        };
        let scope = Scope {
            input: Some(input),
            answer: None,
            selected: Some(selected),
            history,
            result: None,
        };
        if self.execute(target, scope, 0) == Outcome::Failed {
            // Nothing the algorithm would have changed is changed: the choice stays open.
            self.session.open = before;
        }
    }

    // ----- records -----

    pub(super) fn execute(&mut self, record: RecordIdx, scope: Scope, hops: usize) -> Outcome {
        if hops > MAX_HOPS {
            tracing::error!(bot = %self.bot.id, "too many hand-overs in one step");
            self.say("algorithm_failed", &[], Keyboard::None);
            return Outcome::Failed;
        }
        let bot = self.bot;
        let r = &bot.records[record];
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
                self.session.pending = Some(Pending::Input {
                    record: r.id.clone(),
                    history: scope.history.clone(),
                    selected: scope.selected.clone(),
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

    fn attach_menu(&mut self, record: RecordIdx, first_message: usize) {
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

    fn static_keyboard(&self, choice: RecordIdx, seq: u32) -> Keyboard {
        let hash = self.bot.short_hash();
        let buttons = self.bot.records[choice]
            .options
            .iter()
            .filter(|&&o| !self.bot.records[o].is_star)
            .map(|&o| InlineButton {
                label: self.bot.records[o].label().to_string(),
                data: Callback::Option {
                    hash: hash.to_string(),
                    seq,
                    record: o,
                }
                .encode(),
            })
            .collect();
        self.option_rows(choice, buttons)
    }

    fn dynamic_keyboard(&self, choice: RecordIdx, items: &[DynamicOption], seq: u32) -> Keyboard {
        let hash = self.bot.short_hash();
        let buttons = items
            .iter()
            .enumerate()
            .map(|(i, item)| InlineButton {
                label: item.label.clone(),
                data: Callback::Dynamic {
                    hash: hash.to_string(),
                    seq,
                    index: i,
                }
                .encode(),
            })
            .collect();
        self.option_rows(choice, buttons)
    }

    /// Option buttons laid out `columns` per row (one per row unless the choice says otherwise).
    fn option_rows(&self, choice: RecordIdx, buttons: Vec<InlineButton>) -> Keyboard {
        let columns = match self.bot.records[choice].action {
            Action::Choice { columns, .. } => columns.max(1),
            _ => 1,
        };
        Keyboard::Inline(buttons.chunks(columns).map(<[InlineButton]>::to_vec).collect())
    }

    fn open_choice(
        &mut self,
        record: RecordIdx,
        title: &expr::Template,
        options_from: Option<&str>,
        scope: Scope,
    ) -> Outcome {
        let r = &self.bot.records[record];
        // Re-entering a choice on the path cuts the path back to where it was first entered.
        let mut history = scope.history.clone();
        if let Some(at) = history.iter().position(|h| h.record == r.id) {
            history.truncate(at);
        }
        let scope = Scope {
            history: history.clone(),
            ..scope
        };
        let (dynamic, text_override) = match options_from {
            None => (None, None),
            Some(name) => match self.call_algorithm(name, &scope) {
                Err(()) => return Outcome::Failed,
                Ok(value) => match parse_options(&value) {
                    Some((items, text)) if !items.is_empty() => (Some(items), text),
                    _ => {
                        self.say("empty_result", &[], Keyboard::None);
                        return Outcome::Done;
                    }
                },
            },
        };
        let title = text_override.unwrap_or_else(|| self.render_scoped(title, &scope));
        self.session.seq = self.session.seq.wrapping_add(1);
        let seq = self.session.seq;
        let keyboard = match &dynamic {
            Some(items) => self.dynamic_keyboard(record, items, seq),
            None => self.static_keyboard(record, seq),
        };
        let open = OpenChoice {
            record: r.id.clone(),
            history,
            dynamic,
            seq,
        };
        self.session.remember(Shown {
            seq,
            open: open.clone(),
            option: None,
        });
        self.session.open = Some(open);
        self.send_to(self.user.chat, title, keyboard);
        Outcome::Waiting
    }

    fn run_record(&mut self, record: RecordIdx, name: &str, scope: &Scope) -> Outcome {
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
            self.say("empty_result", &[], Keyboard::None);
            return Outcome::Done;
        }
        let (text, options) = match &value {
            Value::List(_) => (None, parse_options(&value)),
            Value::Object(o) if o.contains_key("choices") => (o.get("text").map(Value::to_text), parse_options(&value)),
            Value::Object(o) if o.contains_key("text") => (o.get("text").map(Value::to_text), None),
            Value::Object(_) => (Some(value.to_text()), None),
            other => (Some(other.to_text()), None),
        };
        match options {
            Some((items, _)) if !items.is_empty() => {
                let r = &self.bot.records[record];
                self.session.seq = self.session.seq.wrapping_add(1);
                let seq = self.session.seq;
                let title = match text {
                    Some(t) => self.algorithm_text(&t, is_expr),
                    None => self.render_text("choose_option", &self.scope_vars(scope, &[])),
                };
                let keyboard = self.dynamic_keyboard(record, &items, seq);
                let open = OpenChoice {
                    record: r.id.clone(),
                    history: scope.history.clone(),
                    dynamic: Some(items),
                    seq,
                };
                self.session.remember(Shown {
                    seq,
                    open: open.clone(),
                    option: None,
                });
                self.session.open = Some(open);
                self.send_to(self.user.chat, title, keyboard);
                Outcome::Waiting
            }
            Some(_) if text.is_none() => {
                self.say("empty_result", &[], Keyboard::None);
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
    fn algorithm_text(&self, text: &str, is_expr: bool) -> String {
        if is_expr || crate::validate::check_html(text).is_err() {
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
                    AlgorithmFailure::Timeout => "algorithm_timeout",
                    AlgorithmFailure::Failed(_) => "algorithm_failed",
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
        let result = self.world.run_algorithm(&call);
        if let Err(failure) = &result {
            tracing::warn!(bot = %self.bot.id, algorithm = name, cause = %failure, "algorithm failed");
        }
        result
    }

    fn code(&mut self, text: &str, norm: &str) -> bool {
        if let Some(name) = self.bot.code_names.get(norm).cloned() {
            let scope = Scope {
                input: Some(text.to_string()),
                ..Scope::default()
            };
            if let Ok(value) = self.call_algorithm(&name, &scope) {
                let is_expr = matches!(self.bot.algorithms[&name].kind, crate::model::AlgorithmKind::Expr(_));
                if value.is_empty_result() {
                    self.say("empty_result", &[], Keyboard::None);
                } else {
                    let shown = match &value {
                        Value::Object(o) if o.contains_key("text") => o["text"].to_text(),
                        other => other.to_text(),
                    };
                    let t = self.algorithm_text(&cut(&shown, MAX_MESSAGE_CHARS), is_expr);
                    self.send_to(self.user.chat, t, Keyboard::None);
                }
            }
            return true;
        }
        // Without an operator or a call there is nothing to evaluate: skip the parser.
        let may_be_code = text.contains(['+', '-', '*', '/', '%', '<', '>', '=', '!', '&', '|', '('])
            || text
                .split_whitespace()
                .any(|w| matches!(w, "and" | "or" | "not" | "if"));
        if !may_be_code {
            return false;
        }
        let Ok(parsed) = expr::parse_expression(text) else {
            return false;
        };
        if !parsed.has_operator_or_call() {
            return false;
        }
        let scope = Scope {
            input: Some(text.to_string()),
            ..Scope::default()
        };
        let vars = self.scope_vars(&scope, &[]);
        let ctx = Context {
            vars: &vars,
            now: self.now,
            tz: self.bot.timezone,
        };
        match expr::evaluate(&parsed, &ctx) {
            Ok(v) => {
                // A value is one message: cut to Telegram's length, ending with `…`.
                let t = expr::escape_html(&cut(&v.to_text(), MAX_MESSAGE_CHARS));
                let t = if t.is_empty() {
                    self.render_text("empty_result", &vars)
                } else {
                    t
                };
                self.send_to(self.user.chat, t, Keyboard::None);
            }
            Err(e) => self.say("code_error", &[("error", Value::text(e.0))], Keyboard::None),
        }
        true
    }
}

/// Reads options from an algorithm result: a list, or an object with `choices` (and maybe `text`).
fn parse_options(value: &Value) -> Option<(Vec<DynamicOption>, Option<String>)> {
    let (list, text) = match value {
        Value::List(items) => (items, None),
        Value::Object(o) => match o.get("choices") {
            Some(Value::List(items)) => (items, o.get("text").map(Value::to_text)),
            _ => return None,
        },
        _ => return None,
    };
    let items = list
        .iter()
        .take(crate::validate::MAX_OPTIONS)
        .map(|item| match item {
            Value::Object(o) => {
                let value = o
                    .get("value")
                    .or_else(|| o.get("label"))
                    .map(Value::to_text)
                    .unwrap_or_default();
                let label = o.get("label").map(Value::to_text).unwrap_or_else(|| value.clone());
                DynamicOption {
                    label: shorten_label(&label),
                    value,
                }
            }
            other => {
                let t = other.to_text();
                DynamicOption {
                    label: shorten_label(&t),
                    value: t,
                }
            }
        })
        .filter(|o| !o.label.is_empty())
        .collect();
    Some((items, text))
}

/// Shortens a label to Telegram's 64 bytes, ending it with `…`.
pub(super) fn shorten_label(label: &str) -> String {
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
    const LIMIT: usize = crate::validate::MAX_MESSAGE;
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
    let session = Session {
        hash: bot.hash.clone(),
        ..Session::default()
    };
    let turn = Turn::new(bot, world, user, now, session);
    let scope = Scope::default();
    let text = turn.render(template, &turn.scope_vars(&scope, extra));
    if let Some(e) = turn.failure {
        return Err(e);
    }
    Ok(Outgoing {
        to: user.chat,
        text,
        keyboard: Keyboard::None,
    })
}
