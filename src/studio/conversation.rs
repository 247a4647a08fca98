//! A conversation in the studio: the engine against an in-memory world on a
//! frozen clock, exactly as `botwright test` replays transcripts, and the
//! transcript that reproduces it, written as it goes.
//!
//! **Invariant:** every line of the transcript is written from what the
//! engine actually did, with the `@now`, `@stub`s, users and `^K` presses in
//! use, so that `botwright test` passes the saved file.

use crate::algorithms::{Runner, Stub};
use crate::engine::{self, Event, Keyboard, Outgoing, Principal, User};
use crate::model::CompiledBot;
use crate::notification::{self, Offline};
use crate::store::MemoryWorld;
use chrono::{DateTime, FixedOffset};
use serde::Serialize;
use std::collections::HashMap;

/// One message as the studio's chat shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Shown {
    /// Its index among the messages to its chat (what a press names).
    pub index: usize,
    pub to: i64,
    /// HTML text (empty for a file alone).
    pub text: String,
    /// Rows of inline button labels (a notification's action and link buttons too).
    pub buttons: Vec<Vec<String>>,
    /// The links of a notification's link buttons, by label (pressing one opens it).
    pub links: std::collections::BTreeMap<String, String>,
    /// Rows of the reply keyboard it sets (`menu`, or the contact button).
    pub menu: Vec<Vec<String>>,
    pub removes_menu: bool,
    /// Files after the text: `document NAME` or `photo NAME`.
    pub files: Vec<String>,
}

/// What a user did in the chat.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Act {
    /// A text message.
    Text(String),
    /// A press of the button `label` on message `index` of the current user's chat.
    Press { label: String, index: usize },
    /// `> @document …`, `> @photo …`, `> @contact …` or `> @location …`, as in transcripts.
    Attach(String),
    /// Switch to another user (`@user ID "NAME"`).
    User { id: i64, name: String },
    /// Register the current user (`@registered KIND ID "NAME"`).
    Registered { kind: String, id: String, name: String },
    /// Stub an algorithm (`@stub NAME = JSON`, `fail` or `timeout`).
    Stub { algorithm: String, value: String },
    /// The business system sends the current user the bot's notification `name` with `data`
    /// (JSON text of an object), as `@notify NAME JSON`.
    Notify { name: String, data: String },
    /// The business system sends the current user this HTML text, as `@send TEXT`.
    Send(String),
}

/// The most one conversation keeps: what the user did plus the messages the bot sent.
/// Past it, an act is refused (save the transcript and start a new conversation).
pub const MAX_KEPT: usize = 2000;

/// The longest text an act may carry, in characters: Telegram's limit for a message.
pub const MAX_INPUT: usize = 4096;

impl Act {
    /// Every text the act carries.
    fn texts(&self) -> Vec<&str> {
        match self {
            Act::Text(s) | Act::Attach(s) | Act::Send(s) => vec![s],
            // The data is bounded as the API bounds `data` (`notification::parse_data`).
            Act::Notify { name, .. } => vec![name],
            Act::Press { label, .. } => vec![label],
            Act::User { name, .. } => vec![name],
            Act::Registered { kind, id, name } => vec![kind, id, name],
            Act::Stub { algorithm, value } => vec![algorithm, value],
        }
    }
}

pub struct Conversation {
    pub bot: CompiledBot,
    world: MemoryWorld,
    /// Algorithms run offline (no `http`), stubbed as the transcript says.
    runner: Runner,
    user: User,
    now: DateTime<FixedOffset>,
    /// Every message sent, per chat, in order (presses name them by index).
    sent: HashMap<i64, Vec<Outgoing>>,
    /// The transcript so far, without its header.
    lines: Vec<String>,
    files: usize,
    /// Acts done and messages sent so far (at most [`MAX_KEPT`] and one step more).
    kept: usize,
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "'"))
}

/// A bot's text as a transcript expects it: `*` and new lines escaped.
fn expectation(text: &str) -> String {
    text.replace('*', "\\*").replace('\n', "\\n")
}

fn row(labels: &[String]) -> String {
    labels.iter().map(|l| format!("[{l}]")).collect::<Vec<_>>().join(" ")
}

impl Conversation {
    /// A new conversation as user 1 "Test User", on a clock frozen at `now`.
    pub fn new(bot: CompiledBot, now: DateTime<FixedOffset>) -> Conversation {
        Conversation {
            bot,
            world: MemoryWorld::default(),
            runner: Runner::offline(),
            user: User {
                id: 1,
                chat: 1,
                name: "Test User".into(),
                username: None,
            },
            now,
            sent: HashMap::new(),
            lines: Vec::new(),
            files: 0,
            kept: 0,
        }
    }

    /// The transcript that reproduces the conversation.
    pub fn transcript(&self) -> String {
        let mut out = format!(
            "# Written by botwright studio.\n@bot {}\n@now {}\n",
            self.bot.id,
            self.now.to_rfc3339()
        );
        for l in &self.lines {
            out.push_str(l);
            out.push('\n');
        }
        out
    }

    pub fn user(&self) -> &User {
        &self.user
    }

    /// Does what the user did; gives the messages it made (to anyone), or why it could not.
    pub fn act(&mut self, act: Act) -> Result<Vec<Shown>, String> {
        if self.kept >= MAX_KEPT {
            return Err(format!(
                "this conversation has reached {MAX_KEPT} messages, the most the studio keeps for one: save it as a transcript and start a new conversation"
            ));
        }
        if act.texts().iter().any(|t| t.chars().count() > MAX_INPUT) {
            return Err(format!("a text of more than {MAX_INPUT} characters is not sent"));
        }
        let shown = self.step(act)?;
        self.kept += 1 + shown.len();
        Ok(shown)
    }

    fn step(&mut self, act: Act) -> Result<Vec<Shown>, String> {
        let (event, line) = match act {
            Act::User { id, name } => {
                if name.trim().is_empty() {
                    return Err("a user needs a name".into());
                }
                self.user = User {
                    id,
                    chat: id,
                    name: name.clone(),
                    username: None,
                };
                self.lines.push(format!("@user {id} {}", quote(&name)));
                return Ok(Vec::new());
            }
            Act::Registered { kind, id, name } => {
                let word = |s: &str| !s.is_empty() && !s.contains(char::is_whitespace);
                if !word(&kind) || !word(&id) || name.trim().is_empty() {
                    return Err("`@registered` needs a kind and an id without spaces, and a name".into());
                }
                let p = Principal {
                    kind: kind.clone(),
                    id: id.clone(),
                    name: name.clone(),
                };
                self.world.register_as(self.user.chat, &p, &self.user.name);
                self.lines.push(format!("@registered {kind} {id} {}", quote(&name)));
                return Ok(Vec::new());
            }
            Act::Stub { algorithm, value } => {
                if !self.bot.algorithms.contains_key(&algorithm) {
                    return Err(format!("the bot has no algorithm `{algorithm}`"));
                }
                let stub = Stub::parse(&value)?;
                // One line in the transcript: JSON written compactly.
                let written = match &stub {
                    Stub::Returns(v) => v.to_string(),
                    Stub::Fails => "fail".into(),
                    Stub::TimesOut => "timeout".into(),
                };
                self.runner.stubs.insert(algorithm.clone(), stub);
                self.lines.push(format!("@stub {algorithm} = {written}"));
                return Ok(Vec::new());
            }
            Act::Notify { name, data } => {
                let what = Offline::notify_parts(name.trim(), &data)?;
                return Ok(self.business(what)?.into_iter().collect());
            }
            Act::Send(text) => {
                notification::check_text(&text).map_err(|e| format!("the text {e}"))?;
                return Ok(self.business(Offline::Send(text))?.into_iter().collect());
            }
            Act::Text(text) => {
                if text.trim().is_empty() {
                    return Err("an empty message is not sent".into());
                }
                let line = format!("> {}", text.replace('\n', "\\n"));
                (Event::Text(text), line)
            }
            Act::Attach(spec) => {
                let a = crate::transcript::attachment_line(spec.trim().trim_start_matches('@'), &mut self.files)?;
                let line = format!("> @{}", spec.trim().trim_start_matches('@'));
                (Event::Attachment(a.for_user(&self.user)), line)
            }
            Act::Press { label, index } => {
                let msgs = self.sent.get(&self.user.chat).map(Vec::as_slice).unwrap_or_default();
                let Some(data) = msgs.get(index).and_then(|m| m.keyboard.button_data(&label)) else {
                    if let Some(url) = msgs.get(index).and_then(|m| show(m, index).links.remove(&label)) {
                        return Err(format!(
                            "[{label}] is a link button: it opens {url}, the bot gets nothing"
                        ));
                    }
                    return Err(format!("message {index} has no button [{label}]"));
                };
                let data = data.to_string();
                // The K-th newest message with that button, as transcripts count.
                let k = msgs[index..]
                    .iter()
                    .filter(|m| m.keyboard.button_data(&label).is_some())
                    .count();
                let line = if k == 1 {
                    format!("> [{label}]")
                } else {
                    format!("> [{label}] ^{k}")
                };
                (Event::Button(data), line)
            }
        };
        let out = engine::handle(
            &self.bot,
            &mut self.world,
            &mut self.runner,
            &self.user,
            &event,
            self.now,
        )
        .map_err(|e| format!("the engine's world failed: {e}"))?;
        self.lines.push(line);
        let mut shown = Vec::with_capacity(out.len());
        for m in out {
            self.expect(&m);
            let list = self.sent.entry(m.to).or_default();
            list.push(m.clone());
            shown.push(show(&m, list.len() - 1));
        }
        Ok(shown)
    }

    /// The business system's message to the current user (`@notify`, `@send`).
    fn business(&mut self, what: Offline) -> Result<Option<Shown>, String> {
        let m = notification::offline(&self.bot, &mut self.world, &self.user, &what, self.now)?;
        self.lines.push(what.line());
        self.expect(&m);
        let list = self.sent.entry(m.to).or_default();
        list.push(m.clone());
        Ok(Some(show(&m, list.len() - 1)))
    }

    /// The transcript lines that expect `m`.
    fn expect(&mut self, m: &Outgoing) {
        let to_me = m.to == self.user.chat;
        let prefix = if to_me { "<".to_string() } else { format!("<< {}", m.to) };
        if !m.text.is_empty() || m.files.is_empty() {
            self.lines.push(format!("{prefix} {}", expectation(&m.text)));
            match &m.keyboard {
                Keyboard::Inline(_) | Keyboard::Links(_) => {
                    for labels in m.keyboard.lines() {
                        self.lines.push(format!("{prefix} {labels}"));
                    }
                }
                Keyboard::Menu(rows) if to_me => {
                    for r in rows {
                        self.lines.push(format!("< menu: {}", row(r)));
                    }
                }
                Keyboard::Contact(label) if to_me => self.lines.push(format!("< menu: [{label}]")),
                _ => {}
            }
        }
        if to_me {
            for f in &m.files {
                let kind = if f.is_photo() { "photo" } else { "document" };
                self.lines.push(format!("< @{kind} {}", f.name));
            }
        }
    }
}

fn show(m: &Outgoing, index: usize) -> Shown {
    let labels = |rows: &Vec<Vec<String>>| rows.clone();
    Shown {
        index,
        to: m.to,
        text: m.text.clone(),
        buttons: match &m.keyboard {
            Keyboard::Inline(rows) => rows
                .iter()
                .map(|r| r.iter().map(|b| b.label.clone()).collect())
                .collect(),
            Keyboard::Links(rows) => rows
                .iter()
                .map(|r| r.iter().map(|b| b.text.clone()).collect())
                .collect(),
            _ => Vec::new(),
        },
        links: match &m.keyboard {
            Keyboard::Links(rows) => rows
                .iter()
                .flatten()
                .filter(|b| b.data.is_none())
                .map(|b| (b.text.clone(), b.url.clone()))
                .collect(),
            _ => Default::default(),
        },
        menu: match &m.keyboard {
            Keyboard::Menu(rows) => labels(rows),
            Keyboard::Contact(label) => vec![vec![label.clone()]],
            _ => Vec::new(),
        },
        removes_menu: m.keyboard == Keyboard::RemoveMenu,
        files: m
            .files
            .iter()
            .map(|f| format!("{} {}", if f.is_photo() { "photo" } else { "document" }, f.name))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostics::SourceFile;

    fn demo() -> CompiledBot {
        let text = std::fs::read_to_string("bots/demo.toml").unwrap();
        crate::validate::compile("demo", &SourceFile::new("demo.toml", text), &mut Vec::new()).unwrap()
    }

    #[test]
    fn the_written_transcript_replays() {
        let now = DateTime::parse_from_rfc3339("2026-11-29T12:00:00+03:00").unwrap();
        let mut c = Conversation::new(demo(), now);
        let shown = c.act(Act::Text("Выбор".into())).unwrap();
        assert_eq!(shown[0].buttons[0], ["Вариант №1"]);
        c.act(Act::Text("Выбор".into())).unwrap();
        // The older message's button: `^2`.
        let shown = c
            .act(Act::Press {
                label: "Вариант №1".into(),
                index: 0,
            })
            .unwrap();
        assert_eq!(shown[0].buttons[0], ["Да", "Нет"]);
        c.act(Act::Press {
            label: "Да".into(),
            index: 2,
        })
        .unwrap();
        c.act(Act::User {
            id: 2,
            name: "Вера \"В\"".into(),
        })
        .unwrap();
        c.act(Act::Text("Меню".into())).unwrap();
        c.act(Act::Text("а1".into())).unwrap();
        let text = c.transcript();
        assert!(text.contains("> [Вариант №1] ^2"), "{text}");
        let lines = crate::transcript::parse(&text).unwrap();
        crate::transcript::replay(&c.bot, &lines).unwrap_or_else(|f| panic!("line {}: {}\n{text}", f.line, f.message));
    }

    #[test]
    fn notifications_and_texts_of_the_business_system_are_written_and_replay() {
        let now = DateTime::parse_from_rfc3339("2026-11-29T12:00:00+03:00").unwrap();
        let mut c = Conversation::new(demo(), now);
        let shown = c
            .act(Act::Notify {
                name: "visit_reminder".into(),
                data: r#"{"date": "08.02", "extra": [1, "*"]}"#.into(),
            })
            .unwrap();
        assert_eq!(shown[0].text, "Напоминаем: визит 08.02 в 10:00.");
        assert_eq!(shown[0].buttons, [["Подтвердить"]]);
        let shown = c
            .act(Act::Press {
                label: "Подтвердить".into(),
                index: shown[0].index,
            })
            .unwrap();
        assert_eq!(shown[0].text, "Спасибо! Визит 08.02 подтверждён.");
        c.act(Act::Send("Две\nстроки <b>*</b>".into())).unwrap();
        // Bad input: an unknown name, data that is not an object, an empty text.
        let unknown = c
            .act(Act::Notify {
                name: "nope".into(),
                data: "{}".into(),
            })
            .unwrap_err();
        assert!(unknown.contains("visit_reminder"), "{unknown}");
        let not_object = c
            .act(Act::Notify {
                name: "visit_reminder".into(),
                data: "[]".into(),
            })
            .unwrap_err();
        assert!(not_object.contains("JSON object"), "{not_object}");
        assert!(c.act(Act::Send(" ".into())).unwrap_err().contains("empty"));
        let text = c.transcript();
        assert!(
            text.contains("@notify visit_reminder {\"date\":\"08.02\",\"extra\":[1,\"*\"]}\n< Напоминаем"),
            "{text}"
        );
        assert!(text.contains("@send Две\\nстроки <b>*</b>\n"), "{text}");
        let lines = crate::transcript::parse(&text).unwrap();
        crate::transcript::replay(&c.bot, &lines).unwrap_or_else(|f| panic!("line {}: {}\n{text}", f.line, f.message));
    }

    #[test]
    fn a_conversation_keeps_a_bounded_number_of_messages() {
        let now = DateTime::parse_from_rfc3339("2026-11-29T12:00:00+03:00").unwrap();
        let mut c = Conversation::new(demo(), now);
        let mut acts = 0;
        while c.act(Act::Text("Выбор".into())).is_ok() {
            acts += 1;
            assert!(acts <= MAX_KEPT, "never refused");
        }
        // Each act is the user's message and the bot's answer.
        assert_eq!(acts, MAX_KEPT / 2);
        let sent: usize = c.sent.values().map(Vec::len).sum();
        assert!(sent + acts <= MAX_KEPT + 10, "{sent}");
        let refused = c
            .act(Act::User {
                id: 2,
                name: "Вера".into(),
            })
            .unwrap_err();
        assert!(refused.contains("save it as a transcript"), "{refused}");
        let lines = c.transcript().lines().count();
        assert!(lines < 3 * MAX_KEPT, "{lines}");
    }

    #[test]
    fn an_overlong_text_is_refused() {
        let now = DateTime::parse_from_rfc3339("2026-11-29T12:00:00+03:00").unwrap();
        let mut c = Conversation::new(demo(), now);
        let refused = c.act(Act::Text("я".repeat(MAX_INPUT + 1))).unwrap_err();
        assert!(refused.contains("4096"), "{refused}");
        assert!(c.act(Act::Text("я".repeat(MAX_INPUT))).is_ok());
    }
}
