//! Transcripts (`*.chat`, ../shared/spec/transcripts.md): parsing and replay
//! against a compiled bot with an in-memory world and a fixed clock.

mod file;
mod parse;

pub use file::{BotFiles, Bots, ReadInside, RunFailure, is_plain_id, run_file};
pub use parse::{AttachmentLine, Line, attachment_line, parse};

use crate::algorithms::Runner;
use crate::engine::{self, Event, Keyboard, Outgoing, Principal, User};
use crate::model::CompiledBot;
use crate::notification::{self, Offline};
use crate::store::MemoryWorld;
use chrono::DateTime;
use std::collections::{HashMap, VecDeque};

/// The clock of a transcript without `@now`: a fixed instant, never the real clock.
pub const DEFAULT_NOW: &str = "2021-02-06T14:00:00+03:00";

/// A transcript line that could not be read, or an expectation that did not hold.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub line: usize,
    pub message: String,
}

/// Whether `actual` matches an expected line: trimmed, `\n` for a line break,
/// `*` for any run of characters, `\*` for a star.
pub fn matches(expected: &str, actual: &str) -> bool {
    #[derive(PartialEq)]
    enum Tok {
        Char(char),
        Any,
    }
    let mut pattern = Vec::new();
    let mut chars = expected.trim().chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'n') => {
                chars.next();
                pattern.push(Tok::Char('\n'));
            }
            '\\' if chars.peek() == Some(&'*') => {
                chars.next();
                pattern.push(Tok::Char('*'));
            }
            '*' => pattern.push(Tok::Any),
            c => pattern.push(Tok::Char(c)),
        }
    }
    let text: Vec<char> = actual.trim().chars().collect();
    // Glob matching with backtracking to the last star: linear in practice.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == Tok::Char(text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == Tok::Any {
            star = Some((p, t));
            p += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while p < pattern.len() && pattern[p] == Tok::Any {
        p += 1;
    }
    p == pattern.len()
}

/// Replays a transcript against a bot. `Ok` when every line held.
pub fn replay(bot: &CompiledBot, lines: &[(usize, Line)]) -> Result<(), Failure> {
    let mut world = MemoryWorld::default();
    // Transcripts run offline: `http` algorithms fail unless stubbed.
    let mut runner = Runner::offline();
    let mut user = User {
        id: 1,
        chat: 1,
        name: "Test User".into(),
        username: None,
    };
    let mut now = DateTime::parse_from_rfc3339(DEFAULT_NOW).expect("valid default");
    // Every message sent so far, per chat, for finding buttons to press.
    let mut sent: HashMap<i64, Vec<Outgoing>> = HashMap::new();
    // Messages of the last `>` not yet matched, per recipient.
    let mut queue: HashMap<i64, VecDeque<Outgoing>> = HashMap::new();
    let mut last_send_line = 0;
    // The message just matched, whose buttons the next lines may list.
    let mut matched: Option<(Outgoing, usize)> = None;
    let mut rows_checked = 0;
    let check_rows_complete = |matched: &Option<(Outgoing, usize)>, rows_checked: usize| -> Result<(), Failure> {
        if let Some((m, line)) = matched
            && rows_checked > 0
            && let Some(rows) = inline_rows(&m.keyboard)
            && rows != rows_checked
        {
            return Err(Failure {
                line: *line,
                message: format!(
                    "the message has {rows} rows of buttons, the transcript lists {rows_checked}\n  actual: {}",
                    describe(m)
                ),
            });
        }
        Ok(())
    };
    let leftovers = |queue: &HashMap<i64, VecDeque<Outgoing>>, line: usize| -> Result<(), Failure> {
        let mut extra: Vec<(&i64, &Outgoing)> = queue
            .iter()
            .flat_map(|(to, q)| q.iter().map(move |m| (to, m)))
            .collect();
        extra.sort_by_key(|(to, _)| **to);
        match extra.first() {
            Some((to, m)) => Err(Failure {
                line,
                message: format!(
                    "the bot sent a message the transcript does not expect (to {to})\n  actual: {}",
                    describe(m)
                ),
            }),
            None => Ok(()),
        }
    };
    for (n, line) in lines {
        let n = *n;
        let is_expectation = matches!(
            line,
            Line::Expect(_)
                | Line::ExpectButtons(_)
                | Line::ExpectMenu(_)
                | Line::ExpectOther { .. }
                | Line::ExpectOtherButtons { .. }
                | Line::ExpectFile { .. }
        );
        if !is_expectation
            || matches!(
                line,
                Line::Expect(_) | Line::ExpectOther { .. } | Line::ExpectFile { .. }
            )
        {
            check_rows_complete(&matched, rows_checked)?;
        }
        // Every message of the last event is matched before the next event.
        if matches!(
            line,
            Line::Send(_) | Line::Press { .. } | Line::Attach(_) | Line::Business(_)
        ) {
            leftovers(&queue, last_send_line)?;
        }
        if !is_expectation {
            matched = None;
        }
        match line {
            Line::Bot(_) => {}
            Line::User { id, name } => {
                user = User {
                    id: *id,
                    chat: *id,
                    name: name.clone(),
                    username: None,
                }
            }
            Line::Registered { kind, id, name } => {
                let p = Principal {
                    kind: kind.clone(),
                    id: id.clone(),
                    name: name.clone(),
                };
                world.register_as(user.chat, &p, &user.name);
            }
            Line::Now(t) => now = *t,
            Line::Stub { algorithm, stub } => {
                if !bot.algorithms.contains_key(algorithm) {
                    return Err(Failure {
                        line: n,
                        message: format!("`@stub`: the bot has no algorithm `{algorithm}`"),
                    });
                }
                runner.stubs.insert(algorithm.clone(), stub.clone());
            }
            Line::Business(what) => {
                let m = notification::offline(bot, &mut world, &user, what, now).map_err(|message| Failure {
                    line: n,
                    message: format!("{}: {message}", what_line(what)),
                })?;
                deliver(vec![m], &mut sent, &mut queue);
                last_send_line = n;
            }
            Line::Send(_) | Line::Press { .. } | Line::Attach(_) => {
                let event = match line {
                    Line::Attach(a) => Event::Attachment(a.for_user(&user)),
                    Line::Press { label, nth } => {
                        let found = sent.get(&user.chat).and_then(|msgs| {
                            msgs.iter()
                                .rev()
                                .filter_map(|m| m.keyboard.button_data(label).map(str::to_string))
                                .nth(nth - 1)
                        });
                        match found {
                            Some(data) => Event::Button(data),
                            None if sent.get(&user.chat).is_some_and(|msgs| {
                                msgs.iter().any(|m| match &m.keyboard {
                                    Keyboard::Links(rows) => rows.iter().flatten().any(|b| &b.text == label),
                                    _ => false,
                                })
                            }) =>
                            {
                                return Err(Failure {
                                    line: n,
                                    message: format!(
                                        "[{label}] is a link button: pressing it opens its link, the bot gets nothing"
                                    ),
                                });
                            }
                            None if *nth == 1 => {
                                return Err(Failure {
                                    line: n,
                                    message: format!("no message to user {} has a button [{label}]", user.id),
                                });
                            }
                            None => {
                                return Err(Failure {
                                    line: n,
                                    message: format!(
                                        "fewer than {nth} messages to user {} have a button [{label}]",
                                        user.id
                                    ),
                                });
                            }
                        }
                    }
                    Line::Send(text) => Event::Text(text.replace("\\n", "\n")),
                    _ => unreachable!("matched above"),
                };
                // The in-memory world cannot fail; a failure would still be reported, not ignored.
                let out = engine::handle(bot, &mut world, &mut runner, &user, &event, now).map_err(|e| Failure {
                    line: n,
                    message: format!("the engine's world failed: {e}"),
                })?;
                deliver(out, &mut sent, &mut queue);
                last_send_line = n;
            }
            Line::Expect(text) | Line::ExpectOther { text, .. } => {
                let to = match line {
                    Line::ExpectOther { to, .. } => *to,
                    _ => user.chat,
                };
                let Some(m) = queue.get_mut(&to).and_then(VecDeque::pop_front) else {
                    return Err(Failure {
                        line: n,
                        message: format!("expected a message to {to}: {text}\n  actual: nothing more was sent"),
                    });
                };
                if !m.files.is_empty() || !matches(text, &m.text) {
                    return Err(Failure {
                        line: n,
                        message: format!("expected: {text}\n  actual: {}", describe(&m)),
                    });
                }
                matched = Some((m, n));
                rows_checked = 0;
            }
            Line::ExpectFile { photo, name } => {
                let expected = format!("@{} {name}", if *photo { "photo" } else { "document" });
                let Some(m) = queue.get_mut(&user.chat).and_then(VecDeque::pop_front) else {
                    return Err(Failure {
                        line: n,
                        message: format!("expected a file: {expected}\n  actual: nothing more was sent"),
                    });
                };
                if describe(&m) != expected {
                    return Err(Failure {
                        line: n,
                        message: format!("expected: {expected}\n  actual: {}", describe(&m)),
                    });
                }
                matched = None;
            }
            Line::ExpectButtons(row) | Line::ExpectOtherButtons { row, .. } | Line::ExpectMenu(row) => {
                let menu = matches!(line, Line::ExpectMenu(_));
                let what = if menu { "menu" } else { "buttons" };
                let Some((m, _)) = &matched else {
                    return Err(Failure {
                        line: n,
                        message: format!("a {what} line must follow the message it belongs to"),
                    });
                };
                if m.keyboard.row(rows_checked, menu).as_ref() != Some(row) {
                    return Err(Failure {
                        line: n,
                        message: format!("expected {what}: {}\n  actual: {}", show_row(row), describe(m)),
                    });
                }
                rows_checked += 1;
            }
        }
    }
    check_rows_complete(&matched, rows_checked)?;
    leftovers(&queue, last_send_line)
}

/// Keeps the messages of one event: in `sent` for presses, in `queue` to be matched (each
/// file a message of its own, after the text).
fn deliver(out: Vec<Outgoing>, sent: &mut HashMap<i64, Vec<Outgoing>>, queue: &mut HashMap<i64, VecDeque<Outgoing>>) {
    for mut m in out {
        let files = std::mem::take(&mut m.files);
        let to = m.to;
        sent.entry(to).or_default().push(m.clone());
        let q = queue.entry(to).or_default();
        if !m.text.is_empty() || files.is_empty() {
            q.push_back(m);
        }
        for f in files {
            q.push_back(Outgoing {
                to,
                text: String::new(),
                keyboard: Keyboard::None,
                files: vec![f],
            });
        }
    }
}

/// `@notify NAME` or `@send`, for a failure's message.
fn what_line(what: &Offline) -> String {
    match what {
        Offline::Notify { name, .. } => format!("`@notify {name}`"),
        Offline::Send(_) => "`@send`".to_string(),
    }
}

/// How many rows of inline buttons (options, or a notification's links and actions) a keyboard has.
fn inline_rows(keyboard: &Keyboard) -> Option<usize> {
    match keyboard {
        Keyboard::Inline(rows) => Some(rows.len()),
        Keyboard::Links(rows) => Some(rows.len()),
        _ => None,
    }
}

fn show_row(row: &[String]) -> String {
    row.iter().map(|b| format!("[{b}]")).collect::<Vec<_>>().join(" ")
}

/// A message as a transcript would write it.
pub fn describe(m: &Outgoing) -> String {
    // A file stands alone in a transcript: `@document NAME` or `@photo NAME`.
    if m.text.is_empty()
        && let [f] = m.files.as_slice()
    {
        return format!("@{} {}", if f.is_photo() { "photo" } else { "document" }, f.name);
    }
    let mut s = m.text.replace('\n', "\\n");
    for line in m.keyboard.lines() {
        s.push_str(" | ");
        s.push_str(&line);
    }
    s
}
