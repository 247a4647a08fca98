//! Reading a transcript (transcripts.md): its lines, messages, presses, files and the
//! business system's `@notify`/`@send`.

use super::{DEFAULT_NOW, Failure};
use crate::algorithms::Stub;
use crate::engine::{self, User};
use crate::notification::Offline;
use chrono::{DateTime, FixedOffset};

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

/// Parses a transcript into numbered lines.
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
