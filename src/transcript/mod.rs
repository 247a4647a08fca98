//! Transcripts (`*.chat`, ../shared/spec/transcripts.md): parsing and replay
//! against a compiled bot with an in-memory world and a fixed clock.

mod file;

pub use file::{BotFiles, Bots, ReadInside, RunFailure, is_plain_id, run_file};

use crate::algorithms::{Runner, Stub};
use crate::engine::{self, Event, Keyboard, Outgoing, Principal, User};
use crate::model::CompiledBot;
use crate::notification::{self, Offline};
use crate::store::MemoryWorld;
use chrono::{DateTime, FixedOffset};
use std::collections::{HashMap, VecDeque};

/// The clock of a transcript without `@now`: a fixed instant, never the real clock.
pub const DEFAULT_NOW: &str = "2021-02-06T14:00:00+03:00";

/// One line of a transcript that does something.
#[derive(Debug, Clone, PartialEq)]
pub enum Line {
    Bot(String),
    User {
        id: i64,
        name: String,
    },
    Registered {
        kind: String,
        id: String,
        name: String,
    },
    Now(DateTime<FixedOffset>),
    Stub {
        algorithm: String,
        stub: Stub,
    },
    Send(String),
    /// `@notify NAME JSON` or `@send TEXT`: the business system sends the current user a message.
    Business(Offline),
    /// `> @document …`, `> @photo …`, `> @contact …`, `> @location …`.
    Attach(AttachmentLine),
    /// `> [LABEL]` or `> [LABEL] ^K`: press LABEL on the K-th newest message that has it (1 = newest).
    Press {
        label: String,
        nth: usize,
    },
    Expect(String),
    ExpectButtons(Vec<String>),
    ExpectMenu(Vec<String>),
    ExpectOther {
        to: i64,
        text: String,
    },
    ExpectOtherButtons {
        to: i64,
        row: Vec<String>,
    },
    /// `< @document NAME` / `< @photo NAME`: the next message is that file.
    ExpectFile {
        photo: bool,
        name: String,
    },
}

/// A transcript line that could not be read, or an expectation that did not hold.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub line: usize,
    pub message: String,
}

/// Parses a transcript into numbered lines.
/// A non-text message written in a transcript (or typed in `chat`).
#[derive(Debug, Clone, PartialEq)]
pub enum AttachmentLine {
    Ready(engine::Attachment),
    /// A contact whose `user_id` is the sender's unless the line names one.
    Contact {
        phone: String,
        user_id: Option<i64>,
    },
}

impl AttachmentLine {
    /// The engine's attachment, sent by `user`.
    pub fn for_user(&self, user: &User) -> engine::Attachment {
        match self {
            AttachmentLine::Ready(a) => a.clone(),
            AttachmentLine::Contact { phone, user_id } => engine::Attachment::Contact {
                phone: phone.clone(),
                first_name: user.name.clone(),
                user_id: Some(user_id.unwrap_or(user.id)),
            },
        }
    }
}

/// Parses what follows `> @`: `document NAME [MIME SIZE]`, `photo [W H]`, `contact PHONE
/// [USER_ID]` or `location LAT LON`. `files` counts the files so far (their ids are `file-N`).
pub fn attachment_line(text: &str, files: &mut usize) -> Result<AttachmentLine, String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let number = |w: &str, what: &str| -> Result<f64, String> {
        w.parse::<f64>()
            .ok()
            .filter(|n| n.is_finite())
            .ok_or_else(|| format!("`{w}` is not a number ({what})"))
    };
    let mut next_file = || {
        *files += 1;
        format!("file-{files}")
    };
    Ok(match words.as_slice() {
        ["document", name] => AttachmentLine::Ready(engine::Attachment::Document {
            file_id: next_file(),
            name: name.to_string(),
            mime: "application/octet-stream".into(),
            size: 0,
        }),
        ["document", name, mime, size] => AttachmentLine::Ready(engine::Attachment::Document {
            file_id: next_file(),
            name: name.to_string(),
            mime: mime.to_string(),
            size: size.parse().map_err(|_| format!("`{size}` is not a size in bytes"))?,
        }),
        ["photo"] => AttachmentLine::Ready(engine::Attachment::Photo {
            file_id: next_file(),
            width: 1280,
            height: 960,
        }),
        ["photo", w, h] => AttachmentLine::Ready(engine::Attachment::Photo {
            file_id: next_file(),
            width: w.parse().map_err(|_| format!("`{w}` is not a width"))?,
            height: h.parse().map_err(|_| format!("`{h}` is not a height"))?,
        }),
        ["contact", phone] => AttachmentLine::Contact {
            phone: phone.to_string(),
            user_id: None,
        },
        ["contact", phone, id] => AttachmentLine::Contact {
            phone: phone.to_string(),
            user_id: Some(id.parse().map_err(|_| format!("`{id}` is not a user id"))?),
        },
        ["location", lat, lon] => AttachmentLine::Ready(engine::Attachment::Location {
            latitude: number(lat, "latitude")?,
            longitude: number(lon, "longitude")?,
        }),
        _ => {
            return Err(
                "write `@document NAME [MIME SIZE]`, `@photo [W H]`, `@contact PHONE [USER_ID]` or `@location LAT LON`"
                    .into(),
            );
        }
    })
}

pub fn parse(text: &str) -> Result<Vec<(usize, Line)>, Failure> {
    let mut out = Vec::new();
    let mut seen_send = false;
    let mut files = 0;
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fail = |message: String| Failure { line: n, message };
        let parsed = if let Some(rest) = line.strip_prefix('@') {
            let (word, rest) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            let rest = rest.trim();
            match word {
                "bot" if !seen_send => Line::Bot(rest.to_string()),
                "bot" => {
                    return Err(fail("`@bot` belongs in the header, before the first `>`".into()));
                }
                "user" => {
                    let (id, name) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
                    let id = id
                        .parse()
                        .map_err(|_| fail(format!("`@user` needs a numeric Telegram user id, not `{id}`")))?;
                    let name = unquote(name.trim());
                    Line::User {
                        id,
                        name: if name.is_empty() { format!("User {id}") } else { name },
                    }
                }
                "registered" => {
                    let mut parts = rest.splitn(3, char::is_whitespace);
                    let (kind, id, name) = (parts.next(), parts.next(), parts.next());
                    match (kind, id, name) {
                        (Some(k), Some(i), Some(nm)) if !k.is_empty() => Line::Registered {
                            kind: k.into(),
                            id: i.into(),
                            name: unquote(nm.trim()),
                        },
                        _ => return Err(fail("write `@registered KIND ID \"NAME\"`".into())),
                    }
                }
                "now" => Line::Now(
                    DateTime::parse_from_rfc3339(rest)
                        .map_err(|e| fail(format!("`@now` needs an RFC 3339 time such as {DEFAULT_NOW}: {e}")))?,
                ),
                "stub" => {
                    let (name, value) = rest
                        .split_once('=')
                        .ok_or_else(|| fail("write `@stub ALGORITHM = JSON` (or `= fail`, `= timeout`)".into()))?;
                    Line::Stub {
                        algorithm: name.trim().to_string(),
                        stub: Stub::parse(value).map_err(|e| fail(format!("`@stub`: {e}")))?,
                    }
                }
                "notify" => Line::Business(Offline::notify(rest).map_err(fail)?),
                "send" => Line::Business(Offline::send(rest).map_err(fail)?),
                other => return Err(fail(format!("unknown directive `@{other}`"))),
            }
        } else if let Some(rest) = line.strip_prefix("<<") {
            let rest = rest.trim();
            let (id, text) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            let to = id
                .parse()
                .map_err(|_| fail(format!("`<<` needs a user id first, not `{id}`")))?;
            let text = text.trim();
            match button_row(text) {
                Some(row) => Line::ExpectOtherButtons { to, row },
                None => Line::ExpectOther {
                    to,
                    text: text.to_string(),
                },
            }
        } else if let Some(rest) = line.strip_prefix('<') {
            let rest = rest.trim();
            if let Some(name) = rest.strip_prefix("@document ") {
                Line::ExpectFile {
                    photo: false,
                    name: name.trim().to_string(),
                }
            } else if let Some(name) = rest.strip_prefix("@photo ") {
                Line::ExpectFile {
                    photo: true,
                    name: name.trim().to_string(),
                }
            } else if let Some(menu) = rest.strip_prefix("menu:") {
                Line::ExpectMenu(button_row(menu.trim()).ok_or_else(|| fail("write `< menu: [A] [B]`".into()))?)
            } else if let Some(row) = button_row(rest) {
                Line::ExpectButtons(row)
            } else {
                Line::Expect(rest.to_string())
            }
        } else if let Some(rest) = line.strip_prefix('>') {
            seen_send = true;
            let rest = rest.trim();
            if let Some(attachment) = rest.strip_prefix('@') {
                out.push((n, Line::Attach(attachment_line(attachment, &mut files).map_err(fail)?)));
                continue;
            }
            // `[LABEL] ^K`: the K-th newest message with that button.
            let (button, nth) = match rest.rsplit_once(" ^") {
                Some((b, k))
                    if b.trim_end().ends_with(']') && !k.is_empty() && k.bytes().all(|c| c.is_ascii_digit()) =>
                {
                    let nth: usize = k.parse().map_err(|_| fail(format!("`^{k}` is not a message count")))?;
                    if nth == 0 {
                        return Err(fail("`^K` counts from 1 (the newest message)".into()));
                    }
                    (b.trim_end(), nth)
                }
                _ => (rest, 1),
            };
            match button.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
                Some(label) if !label.contains("] [") => Line::Press {
                    label: label.to_string(),
                    nth,
                },
                _ => Line::Send(rest.to_string()),
            }
        } else {
            return Err(fail(format!(
                "a transcript line starts with `>`, `<`, `<<`, `@` or `#`: `{line}`"
            )));
        };
        out.push((n, parsed));
    }
    Ok(out)
}

fn unquote(s: &str) -> String {
    s.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(s)
        .to_string()
}

/// `[A] [B]` → `["A", "B"]`; `None` when the text is not only buttons.
fn button_row(text: &str) -> Option<Vec<String>> {
    let mut rest = text.trim();
    if !rest.starts_with('[') {
        return None;
    }
    let mut row = Vec::new();
    while !rest.is_empty() {
        let inner = rest.strip_prefix('[')?;
        let end = inner.find(']')?;
        row.push(inner[..end].to_string());
        rest = inner[end + 1..].trim_start();
    }
    Some(row)
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
