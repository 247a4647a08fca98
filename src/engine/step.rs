//! One incoming event, handled in the processing order of bot-format.md.

use super::answers::InputStep;
use super::insights::{Insight, Reached, Step};
use super::session::Pending;
use super::turn::{Outcome, Scope, Turn, cut};
use super::{Attachment, Event, Keyboard, Outgoing, User, World, WorldError, world};
use crate::algorithms::Runner;
use crate::expr::Value;
use crate::limits::{MAX_MESSAGE as MAX_MESSAGE_CHARS, MAX_REPLIES};
use crate::model::{Action, CompiledBot, InputKind, RecordIdx, normalize};
use crate::texts::Text;
use chrono::{DateTime, FixedOffset};

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
                files: m.files,
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
    runner: &mut Runner,
    user: &User,
    event: &Event,
    now: DateTime<FixedOffset>,
) -> Result<Vec<Outgoing>, WorldError> {
    step(bot, world, runner, user, event, now).map(|s| s.out)
}

/// [`handle`], with what the insights log keeps of the step: its outcome and its events.
pub fn step(
    bot: &CompiledBot,
    world: &mut dyn World,
    runner: &mut Runner,
    user: &User,
    event: &Event,
    now: DateTime<FixedOffset>,
) -> Result<Step, WorldError> {
    // A closed bot works only in private chats: in groups and channels it stays silent.
    if bot.auth.as_ref().is_some_and(|a| a.required) && user.chat != user.id {
        return Ok(Step {
            out: Vec::new(),
            reached: Reached::Other,
            insights: Vec::new(),
        });
    }
    let mut session = world.session(user.chat, user.id)?.unwrap_or_default();
    // A reload keeps every conversation whose own records did not change (bot-format.md,
    // "Changing a bot file"); what stands on a changed one is dropped before anything runs.
    if session.drop_changed(bot) {
        tracing::info!(bot = %bot.id, chat = user.chat, "the records of an open choice or pending step changed; dropped");
    }
    let mut turn = Turn::new(bot, world, Some(runner), user, now, session);
    match event {
        Event::Text(text) => turn.text(text),
        Event::Button(data) => turn.button(data),
        Event::Attachment(a) => turn.attachment(Some(a)),
        Event::Unsupported => turn.attachment(None),
    }
    let Turn {
        mut session,
        out,
        world,
        failure,
        reached,
        insights,
        ..
    } = turn;
    if let Some(e) = failure {
        return Err(e);
    }
    session.stamp(bot);
    world.save_session(user.chat, user.id, &session)?;
    Ok(Step {
        out: limit_replies(out, user.chat),
        reached: reached.unwrap_or(Reached::Other),
        insights,
    })
}

impl Turn<'_> {
    pub(super) fn is_cancel(&self, norm: &str) -> bool {
        self.bot.cancel.iter().any(|w| w == norm)
    }

    /// A top-level word: a top-level record's word, a `start` or `cancel` word, and with
    /// `allow_code` an exposed algorithm's name or title.
    pub(super) fn is_top_level_word(&self, norm: &str) -> bool {
        self.bot.top.contains_key(norm)
            || self.bot.start.iter().any(|w| w == norm)
            || self.is_cancel(norm)
            || (self.bot.allow_code && self.bot.code_names.contains_key(norm))
    }

    /// Whether the record with this id lies in a `public` subtree (strangers reach it).
    pub(super) fn is_public(&self, id: &str) -> bool {
        self.bot.record_by_id(id).is_some_and(|r| self.bot.records[r].public)
    }

    /// The public top-level record a text names, if any.
    pub(super) fn public_word(&self, norm: &str) -> Option<RecordIdx> {
        self.bot.top.get(norm).copied().filter(|&r| self.bot.records[r].public)
    }

    /// A pending step that a stranger may go on with: their own auth steps, an operator's
    /// answers, and steps of public records.
    pub(super) fn open_to_strangers(&self, pending: &Pending) -> bool {
        match pending {
            Pending::Input { record, .. } => self.is_public(record),
            Pending::Confirm { open, .. } => self.is_public(&open.record),
            other => other.is_auth_step(),
        }
    }

    /// A label of the user's reply keyboard.
    pub(super) fn is_menu_label(&self, norm: &str) -> bool {
        self.session
            .menu
            .as_ref()
            .is_some_and(|m| m.labels.iter().any(|l| l == norm))
    }

    pub(super) fn text(&mut self, text: &str) {
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
                ) => Text::InputCancelled,
                _ => Text::ChoiceCancelled,
            };
            let pending = self.session.pending.take();
            self.input_left(pending.as_ref());
            self.session.open = None;
            self.say(key, &[], Keyboard::None);
            return;
        }
        self.check_registration_first();
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
            self.input_left(Some(&pending));
            if matches!(pending, Pending::Confirm { .. }) {
                self.session.open = None;
            }
        }
        // 2. A start word: the greeting.
        if self.bot.start.contains(&norm) {
            self.reached(Reached::Start);
            self.session.open = None;
            let greeting_scope = Scope {
                input: Some(text.to_string()),
                ..Scope::default()
            };
            let greeting = self.render_text(Text::Greeting, &self.scope_vars(&greeting_scope, &[]));
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
            if norm == normalize(&self.label(Text::AuthButton)) {
                self.register_pressed();
                return;
            }
            if let Some(open) = self.session.open.clone().filter(|o| self.is_public(&o.record))
                && self.open_choice_text(&open, text, &norm)
            {
                return;
            }
            match self.public_word(&norm) {
                Some(record) => self.top_level(record, text),
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
            // Code mode runs no record: whatever it called, the outcome is `code`.
            self.reached = Some(Reached::Code);
            return;
        }
        // 6. Top-level keywords.
        if let Some(&record) = self.bot.top.get(&norm) {
            return self.top_level(record, text);
        }
        // 7. Unknown.
        let typed = self.bot.log_texts.then(|| text.to_string());
        self.reached(Reached::Unknown(typed));
        let scope = Scope {
            input: Some(text.to_string()),
            ..Scope::default()
        };
        let reply = self.render_text(Text::Unknown, &self.scope_vars(&scope, &[]));
        self.send_to(self.user.chat, reply, Keyboard::None);
    }

    /// A top-level record named by the text: it closes the open choice, which stays open
    /// when the record's algorithm fails.
    fn top_level(&mut self, record: RecordIdx, text: &str) {
        let before = self.session.open.take();
        let scope = Scope {
            input: Some(text.to_string()),
            ..Scope::default()
        };
        if self.execute(record, scope, 0) == Outcome::Failed {
            self.session.open = before;
        }
    }

    /// On a closed bot every step checks the registration first: a user whose registration
    /// was removed loses their pending steps and open choices (their own auth steps, an
    /// operator's answers and steps of public records need none).
    fn check_registration_first(&mut self) {
        if self
            .session
            .pending
            .as_ref()
            .is_some_and(|p| !self.open_to_strangers(p))
            && self.must_register()
        {
            let pending = self.session.pending.take();
            self.input_left(pending.as_ref());
            self.session.open = None;
        }
    }

    /// A message that is not text: a pending `input` that accepts its kind takes it; one that
    /// does not says what it waits for and stays pending; otherwise `unsupported_message`.
    pub(super) fn attachment(&mut self, attachment: Option<&Attachment>) {
        self.check_registration_first();
        let step = match self.session.pending.take() {
            Some(Pending::Input {
                record,
                history,
                selected,
                selected_title,
                refused,
            }) => InputStep {
                record,
                history,
                selected,
                selected_title,
                refused,
            },
            // Registration data: with `[auth] contact`, the user's own contact.
            Some(Pending::AuthData) => return self.auth_contact(attachment),
            other => {
                self.session.pending = other;
                return self.say(Text::UnsupportedMessage, &[], Keyboard::None);
            }
        };
        let Some(idx) = self.bot.record_by_id(&step.record) else {
            return self.stale();
        };
        let Action::Input { save_as, accept, .. } = &self.bot.records[idx].action else {
            return self.stale();
        };
        // Another kind of message neither counts as a refused answer nor resets the count.
        let Some(attachment) = attachment.filter(|a| accept.contains(&a.kind())) else {
            let accept = accept.clone();
            self.insight(Insight::InputInvalid {
                record: step.record.clone(),
            });
            self.session.pending = Some(step.pending());
            return self.wrong_kind(&accept);
        };
        self.insight(Insight::InputAnswered {
            record: step.record.clone(),
        });
        let answer = attachment.to_value();
        if let Some(name) = save_as {
            self.session.vars.insert(name.clone(), answer.to_stored_json());
        }
        let scope = step.scope(answer);
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
            Text::InputWrongKind,
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

    pub(super) fn pending(&mut self, pending: Pending, text: &str, norm: &str) {
        match pending {
            Pending::Input {
                record,
                history,
                selected,
                selected_title,
                refused,
            } => {
                let step = InputStep {
                    record,
                    history,
                    selected,
                    selected_title,
                    refused,
                };
                let Some(idx) = self.bot.record_by_id(&step.record) else {
                    return self.stale();
                };
                let Action::Input { save_as, accept, .. } = &self.bot.records[idx].action else {
                    return self.stale();
                };
                if !accept.contains(&InputKind::Text) {
                    // Text the step does not take: it says what it waits for and stays pending.
                    let accept = accept.clone();
                    self.insight(Insight::InputInvalid {
                        record: step.record.clone(),
                    });
                    self.session.pending = Some(step.pending());
                    return self.wrong_kind(&accept);
                }
                let save_as = save_as.clone();
                let Some(answer) = self.checked_answer(idx, &step, text) else {
                    return self.refuse_answer(idx, step, text);
                };
                self.insight(Insight::InputAnswered {
                    record: step.record.clone(),
                });
                if let Some(name) = save_as {
                    self.session.vars.insert(name, answer.to_stored_json());
                }
                let scope = step.scope(answer);
                if let Some(next) = self.bot.records[idx].then {
                    // The answer stays consumed even if what follows fails.
                    self.execute(next, scope, 0);
                }
            }
            Pending::Confirm { open, option, seq } => {
                let yes = normalize(&self.label(Text::Yes));
                let no = normalize(&self.label(Text::No));
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

    pub(super) fn stale(&mut self) {
        self.session.open = None;
        self.session.pending = None;
        self.say(Text::ChoiceStale, &[], Keyboard::None);
    }
}
