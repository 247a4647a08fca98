//! Choices and buttons: options typed or pressed, confirmations, keyboards,
//! and the messages a press acts on.
//!
//! Why one file of about 540 lines: typed options, pressed options, confirmations and the
//! keyboards that offer them are one flow over `OpenChoice`; each reads what the others wrote.

use super::buttons::{Callback, STAMP};
use super::insights::{Insight, Reached};
use super::session::{ChosenOption, DynamicOption, HistoryEntry, OpenChoice, Pending, Shown};
use super::turn::{Outcome, Scope, Turn, shorten_label};
use super::{InlineButton, Keyboard, world};
use crate::expr::{self, Value};
use crate::limits::MAX_OPTIONS;
use crate::model::{Action, RecordIdx, normalize};
use crate::texts::Text;

impl Turn<'_> {
    pub(super) fn button(&mut self, data: &str) {
        let Some(callback) = Callback::decode(data) else {
            tracing::info!(bot = %self.bot.id, "a button press with unknown data");
            return self.say(Text::ChoiceStale, &[], Keyboard::None);
        };
        match callback {
            Callback::Option {
                fingerprint,
                seq,
                option,
            } => {
                // The press acts on its own message, as it was shown, while its choice is
                // unchanged: the session dropped the messages of changed choices on load,
                // and the button must carry the choice's fingerprint now.
                let Some(shown) = self.session.shown(seq).cloned() else {
                    return self.say(Text::ChoiceStale, &[], Keyboard::None);
                };
                if !self.stamped(&shown.open.record, &fingerprint)
                    || shown.open.dynamic.is_some()
                    || shown.option.is_some()
                {
                    return self.say(Text::ChoiceStale, &[], Keyboard::None);
                }
                let Some(choice) = self.bot.record_by_id(&shown.open.record) else {
                    return self.say(Text::ChoiceStale, &[], Keyboard::None);
                };
                let choice = &self.bot.records[choice];
                let Some(option) = choice.options.get(option).map(|&o| &self.bot.records[o]) else {
                    return self.say(Text::ChoiceStale, &[], Keyboard::None);
                };
                if !choice.is_choice() || option.is_star {
                    return self.say(Text::ChoiceStale, &[], Keyboard::None);
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
            Callback::Dynamic {
                fingerprint,
                seq,
                index,
            } => {
                let open = match self.session.shown(seq) {
                    Some(shown) if shown.option.is_none() && self.stamped(&shown.open.record, &fingerprint) => {
                        shown.open.clone()
                    }
                    _ => return self.say(Text::ChoiceStale, &[], Keyboard::None),
                };
                if !self.is_public(&open.record) && self.must_register() {
                    return self.auth_gate();
                }
                let Some(item) = open.dynamic.as_ref().and_then(|d| d.get(index)).cloned() else {
                    return self.say(Text::ChoiceStale, &[], Keyboard::None);
                };
                self.session.pending = None;
                self.choose(open, ChosenOption::Dynamic(item));
            }
            Callback::Confirm { fingerprint, seq, yes } => {
                let Some(Shown {
                    open,
                    option: Some(option),
                    ..
                }) = self.session.shown(seq).cloned()
                else {
                    return self.say(Text::ChoiceStale, &[], Keyboard::None);
                };
                if !self.stamped(&open.record, &fingerprint) {
                    return self.say(Text::ChoiceStale, &[], Keyboard::None);
                }
                if !self.is_public(&open.record) && self.must_register() {
                    self.session.pending = None;
                    self.session.open = None;
                    return self.auth_gate();
                }
                // The confirmation of this message, whatever waits now.
                self.session.pending = None;
                self.confirmed(open, option, yes);
            }
            Callback::Action { id } => self.action_press(id),
            other => self.auth_button(other),
        }
    }

    /// Whether a button's fingerprint is that of the record with this id now.
    fn stamped(&self, record: &str, fingerprint: &str) -> bool {
        self.bot.fingerprint_of(record, STAMP) == Some(fingerprint)
    }

    /// The fingerprint a button of this record carries.
    fn button_stamp(&self, record: RecordIdx) -> String {
        self.bot.records[record].fingerprint_prefix(STAMP).to_string()
    }

    /// A notification's action button: ends what is pending and open, then runs its record
    /// with `selected` = the value, as if that record were chosen as an option (api.md).
    fn action_press(&mut self, id: u64) {
        // Only in the chat it was sent to: callback data forged elsewhere names no button.
        let chat = self.user.chat;
        let Some(button) = world!(self, action_button(id, chat)).filter(|b| b.chat == chat) else {
            return self.say(Text::ChoiceStale, &[], Keyboard::None);
        };
        // Valid while its record keeps `action = true`.
        let Some(record) = self
            .bot
            .record_by_id(&button.record)
            .filter(|&r| self.bot.records[r].action_target)
        else {
            return self.say(Text::ChoiceStale, &[], Keyboard::None);
        };
        if !self.bot.records[record].public && self.must_register() {
            return self.auth_gate();
        }
        self.reached(Reached::Action(button.record.clone()));
        self.session.pending = None;
        self.session.open = None;
        let scope = Scope {
            input: Some(button.label.clone()),
            selected: Some(button.value.clone()),
            selected_title: Some(button.label.clone()),
            history: vec![HistoryEntry {
                record: String::new(),
                choice: String::new(),
                title: button.message_text,
                selected: button.value,
                label: button.label,
            }],
            ..Scope::default()
        };
        self.execute(record, scope, 0);
    }

    /// Text typed while a choice is open. Returns whether an option took it.
    pub(super) fn open_choice_text(&mut self, open: &OpenChoice, text: &str, norm: &str) -> bool {
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
    pub(super) fn choose(&mut self, open: OpenChoice, chosen: ChosenOption) {
        let Some(choice) = self.bot.record_by_id(&open.record) else {
            return self.stale();
        };
        let (option, label) = match &chosen {
            ChosenOption::Static { record, .. } => (
                record.clone(),
                self.bot
                    .record_by_id(record)
                    .map(|r| self.bot.records[r].label().to_string())
                    .unwrap_or_default(),
            ),
            ChosenOption::Dynamic(item) => (item.value.clone(), item.label.clone()),
        };
        self.insight(Insight::OptionTaken {
            choice: open.record.clone(),
            option,
            label,
        });
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

    /// `selected`: a static option's label or the text a `"*"` option took, a dynamic
    /// option's value.
    pub(super) fn selected_text(&self, chosen: &ChosenOption) -> String {
        match chosen {
            ChosenOption::Dynamic(item) => item.value.clone(),
            _ => self.selected_label(chosen),
        }
    }

    /// The label of an option as its button showed it (`selected_title`): a static option's
    /// label, a dynamic option's label, or the text a `"*"` option took.
    pub(super) fn selected_label(&self, chosen: &ChosenOption) -> String {
        match chosen {
            ChosenOption::Static { typed: Some(t), .. } => t.clone(),
            ChosenOption::Static { record, typed: None } => self
                .bot
                .record_by_id(record)
                .map(|r| self.bot.records[r].label().to_string())
                .unwrap_or_default(),
            ChosenOption::Dynamic(item) => item.label.clone(),
        }
    }

    pub(super) fn ask_confirm(&mut self, open: &OpenChoice, chosen: &ChosenOption, seq: u32) {
        let scope = Scope {
            selected: Some(self.selected_text(chosen)),
            selected_title: Some(self.selected_label(chosen)),
            history: open.history.clone(),
            ..Scope::default()
        };
        let text = self.render_text(Text::ChoiceConfirm, &self.scope_vars(&scope, &[]));
        // The yes/no buttons belong to the choice: they stay valid while it is unchanged.
        let fingerprint = self
            .bot
            .fingerprint_of(&open.record, STAMP)
            .unwrap_or_default()
            .to_string();
        let row = vec![
            InlineButton {
                label: self.label(Text::Yes),
                data: Callback::Confirm {
                    fingerprint: fingerprint.clone(),
                    seq,
                    yes: true,
                }
                .encode(),
            },
            InlineButton {
                label: self.label(Text::No),
                data: Callback::Confirm {
                    fingerprint,
                    seq,
                    yes: false,
                }
                .encode(),
            },
        ];
        self.send_to(self.user.chat, text, Keyboard::Inline(vec![row]));
    }

    pub(super) fn confirmed(&mut self, open: OpenChoice, chosen: ChosenOption, yes: bool) {
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
    pub(super) fn resend_choice(&mut self, choice: RecordIdx, open: OpenChoice) {
        let scope = Scope {
            history: open.history.clone(),
            ..Scope::default()
        };
        let title = match &self.bot.records[choice].action {
            Action::Choice { title, .. } => self.render_scoped(title, &scope),
            _ => self.render_text(Text::ChooseOption, &self.scope_vars(&scope, &[])),
        };
        let keyboard = match &open.dynamic {
            Some(items) => self.dynamic_keyboard(choice, items, open.seq),
            None => self.static_keyboard(choice, open.seq),
        };
        self.show_choice(open, title, keyboard);
    }

    /// Runs the action of the option taken, then closes the choice unless something new waits.
    pub(super) fn take_option(&mut self, open: OpenChoice, chosen: ChosenOption) {
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
            let reply = self.render_text(Text::Unknown, &self.scope_vars(&scope, &[]));
            return self.send_to(self.user.chat, reply, Keyboard::None);
        };
        // The title as the message showed it (for options an algorithm returned, its text).
        let title = match (&open.title, &record.action) {
            (Some(shown), _) => shown.clone(),
            (None, Action::Choice { title, .. }) => self.render_scoped(
                title,
                &Scope {
                    history: open.history.clone(),
                    ..Scope::default()
                },
            ),
            (None, _) => String::new(),
        };
        let label = self.selected_label(&chosen);
        let mut history = open.history.clone();
        history.push(HistoryEntry {
            record: record.id.clone(),
            choice: record.label().to_string(),
            title,
            selected: selected.clone(),
            label: label.clone(),
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
            selected_title: Some(label),
            history,
            result: None,
        };
        if self.execute(target, scope, 0) == Outcome::Failed {
            // Nothing the algorithm would have changed is changed: the choice stays open.
            self.session.open = before;
        }
    }

    // ----- records -----

    pub(super) fn static_keyboard(&self, choice: RecordIdx, seq: u32) -> Keyboard {
        let fingerprint = self.button_stamp(choice);
        let buttons = self.bot.records[choice]
            .options
            .iter()
            .enumerate()
            .filter(|&(_, &o)| !self.bot.records[o].is_star)
            .map(|(position, &o)| InlineButton {
                label: self.bot.records[o].label().to_string(),
                data: Callback::Option {
                    fingerprint: fingerprint.clone(),
                    seq,
                    option: position,
                }
                .encode(),
            })
            .collect();
        self.option_rows(choice, buttons)
    }

    pub(super) fn dynamic_keyboard(&self, choice: RecordIdx, items: &[DynamicOption], seq: u32) -> Keyboard {
        let fingerprint = self.button_stamp(choice);
        let buttons = items
            .iter()
            .enumerate()
            .map(|(i, item)| InlineButton {
                label: item.label.clone(),
                data: Callback::Dynamic {
                    fingerprint: fingerprint.clone(),
                    seq,
                    index: i,
                }
                .encode(),
            })
            .collect();
        self.option_rows(choice, buttons)
    }

    /// Option buttons laid out `columns` per row (one per row unless the choice says otherwise).
    pub(super) fn option_rows(&self, choice: RecordIdx, buttons: Vec<InlineButton>) -> Keyboard {
        let columns = match self.bot.records[choice].action {
            Action::Choice { columns, .. } => columns.max(1),
            _ => 1,
        };
        Keyboard::Inline(buttons.chunks(columns).map(<[InlineButton]>::to_vec).collect())
    }

    pub(super) fn open_choice(
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
                        self.say(Text::EmptyResult, &[], Keyboard::None);
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
            title: None,
        };
        self.show_choice(open, title, keyboard)
    }

    /// Sends a choice's message and remembers it, as shown, for the presses on it.
    pub(super) fn show_choice(&mut self, mut open: OpenChoice, title: String, keyboard: Keyboard) -> Outcome {
        open.title = Some(title.clone());
        self.insight(Insight::ChoiceShown {
            choice: open.record.clone(),
        });
        self.session.remember(Shown {
            seq: open.seq,
            open: open.clone(),
            option: None,
        });
        self.session.open = Some(open);
        self.send_to(self.user.chat, title, keyboard);
        Outcome::Waiting
    }
}

/// Reads options from an algorithm result: a list, or an object with `choices` (and maybe `text`).
pub(super) fn parse_options(value: &Value) -> Option<(Vec<DynamicOption>, Option<String>)> {
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
        .take(MAX_OPTIONS)
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
