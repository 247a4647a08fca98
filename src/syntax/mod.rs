//! Bot file → spanned raw model. Reads TOML with spans, reports syntax
//! errors, unknown keys (with a suggestion) and values of the wrong type,
//! and keeps going so that every problem is reported at once.
//!
//! **Invariant:** nothing after this module sees TOML; every value a user
//! wrote keeps the byte range it came from.

use crate::diagnostics::{Code, Diagnostic, SourceFile, suggest};
pub use crate::secrets::looks_like_token;
use serde_spanned::Spanned;
use sha2::{Digest, Sha256};
use std::ops::Range;
use std::sync::Arc;
use toml::de::{DeTable, DeValue};

mod keys;
mod raw;

pub use keys::{ALGORITHM_KEYS, AUTH_KEYS, BOT_KEYS, KEYWORD_KEYS, Keys, NOTIFICATION_KEYS, TOP_KEYS};
use keys::{BUTTON_KEYS, RawButtonKeys};
pub use raw::*;

/// Parses one bot file. Problems go to `diagnostics`; the raw model holds whatever could be read.
pub fn parse(file: &Arc<SourceFile>, diagnostics: &mut Vec<Diagnostic>) -> Option<RawBot> {
    let (doc, errors) = DeTable::parse_recoverable(&file.text);
    let mut reader = Reader { file, diagnostics };
    if !errors.is_empty() {
        for e in errors {
            let span = e.span().unwrap_or(0..0);
            let message = e.message().trim().to_string();
            reader.diagnostics.push(Diagnostic::new(
                file,
                span,
                Code::TomlSyntax,
                format!("invalid TOML: {message}"),
            ));
        }
        return None;
    }
    reader.find_tokens_in_table(doc.get_ref());
    let mut bot = reader.bot(doc.get_ref());
    // SHA-256 over an explicit encoding: the same on every build, machine and Rust release.
    let mut hasher = Sha256::new();
    hash_table(doc.get_ref(), &mut hasher);
    bot.content_hash = hasher.finalize().into();
    Some(bot)
}

/// Feeds the value tree to a hash: keys and values in file order, with their
/// types, so that comments and layout do not count but every value does.
/// Lengths are 8-byte little-endian, whatever the platform's `usize`.
fn hash_table(table: &DeTable, hasher: &mut Sha256) {
    hasher.update(b"{");
    for (k, v) in table.iter() {
        hasher.update((k.get_ref().len() as u64).to_le_bytes());
        hasher.update(k.get_ref().as_bytes());
        hash_value(v.get_ref(), hasher);
    }
    hasher.update(b"}");
}

fn hash_value(value: &DeValue, hasher: &mut Sha256) {
    let mut text = |tag: u8, s: &str| {
        hasher.update([tag]);
        hasher.update((s.len() as u64).to_le_bytes());
        hasher.update(s.as_bytes());
    };
    match value {
        DeValue::String(s) => text(b's', s),
        DeValue::Integer(i) => text(b'i', &format!("{}:{}", i.radix(), i.as_str())),
        DeValue::Float(f) => text(b'f', f.as_str()),
        DeValue::Boolean(b) => text(b'b', if *b { "1" } else { "0" }),
        DeValue::Datetime(d) => text(b'd', &d.to_string()),
        DeValue::Array(items) => {
            hasher.update(b"[");
            for i in items.iter() {
                hash_value(i.get_ref(), hasher);
            }
            hasher.update(b"]");
        }
        DeValue::Table(t) => hash_table(t, hasher),
    }
}

struct Reader<'a> {
    file: &'a Arc<SourceFile>,
    diagnostics: &'a mut Vec<Diagnostic>,
}

impl Reader<'_> {
    fn push(&mut self, span: Range<usize>, code: Code, message: impl Into<String>) -> &mut Diagnostic {
        self.diagnostics.push(Diagnostic::new(self.file, span, code, message));
        self.diagnostics.last_mut().expect("just pushed")
    }

    /// Reads a table's known keys into `into`, reporting the unknown ones with a suggestion.
    fn read<T>(&mut self, table: &DeTable, keys: &Keys<T>, context: &str, into: &mut T) {
        for (key, value) in table.iter() {
            let name: &str = key.get_ref();
            if let Some((known, read)) = keys.0.iter().find(|(k, _)| *k == name) {
                read(self, into, value, known);
                continue;
            }
            let d = self.push(
                key.span(),
                Code::UnknownKey,
                format!("unknown key `{name}` in {context}"),
            );
            let names = keys.names();
            match suggest(name, names.iter().copied()) {
                Some(s) => d.help = Some(format!("did you mean `{s}`?")),
                None => d.help = Some(format!("the keys of {context} are: {}", names.join(", "))),
            }
        }
    }

    /// The named tables of a table of tables (`[algorithms.NAME]`, `[notifications.NAME]`).
    fn named_tables<'t, 'i>(
        &mut self,
        value: &'t Spanned<DeValue<'i>>,
        key: &str,
    ) -> Vec<(Sp<String>, &'t DeTable<'i>, Range<usize>)> {
        let mut out = Vec::new();
        if let Some(t) = self.table(value, key) {
            for (name, v) in t.iter() {
                if let Some(body) = self.table(v, name.get_ref()) {
                    out.push((Sp::new(name.get_ref().to_string(), name.span()), body, v.span()));
                }
            }
        }
        out
    }

    fn wrong_type(&mut self, value: &Spanned<DeValue>, key: &str, wanted: &str) {
        let found = value.get_ref().type_str();
        self.push(
            value.span(),
            Code::WrongType,
            format!("`{key}` must be {wanted}, not {found}"),
        );
    }

    fn string(&mut self, value: &Spanned<DeValue>, key: &str) -> Option<Sp<String>> {
        match value.get_ref() {
            DeValue::String(s) => Some(Sp::new(s.to_string(), value.span())),
            _ => {
                self.wrong_type(value, key, "a string");
                None
            }
        }
    }

    fn boolean(&mut self, value: &Spanned<DeValue>, key: &str) -> Option<Sp<bool>> {
        match value.get_ref() {
            DeValue::Boolean(b) => Some(Sp::new(*b, value.span())),
            _ => {
                self.wrong_type(value, key, "true or false");
                None
            }
        }
    }

    fn integer(&mut self, value: &Spanned<DeValue>, key: &str) -> Option<Sp<i64>> {
        match value.get_ref() {
            DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
                Ok(n) => Some(Sp::new(n, value.span())),
                Err(_) => {
                    self.push(value.span(), Code::BadValue, format!("`{key}` is out of range"));
                    None
                }
            },
            _ => {
                self.wrong_type(value, key, "a whole number");
                None
            }
        }
    }

    /// A string or an array of strings. With `split_commas`, a single string is split on commas.
    fn words(&mut self, value: &Spanned<DeValue>, key: &str, split_commas: bool) -> Option<Words> {
        match value.get_ref() {
            DeValue::String(s) => {
                let words = if split_commas {
                    split_words(s, value.span())
                } else {
                    vec![Sp::new(s.trim().to_string(), value.span())]
                };
                Some(Sp::new(words, value.span()))
            }
            DeValue::Array(items) => {
                let mut words = Vec::new();
                for item in items.iter() {
                    if let Some(s) = self.string(item, key) {
                        words.push(Sp::new(s.value.trim().to_string(), s.span));
                    }
                }
                Some(Sp::new(words, value.span()))
            }
            _ => {
                self.wrong_type(value, key, "a string or an array of strings");
                None
            }
        }
    }

    fn table<'t, 'i>(&mut self, value: &'t Spanned<DeValue<'i>>, key: &str) -> Option<&'t DeTable<'i>> {
        match value.get_ref() {
            DeValue::Table(t) => Some(t),
            _ => {
                self.wrong_type(value, key, "a table");
                None
            }
        }
    }

    fn bot(&mut self, doc: &DeTable) -> RawBot {
        let mut raw = RawBot::default();
        self.read(doc, &TOP_KEYS, "a bot file", &mut raw);
        raw
    }

    fn bot_section(&mut self, t: &DeTable, span: Range<usize>) -> RawBotSection {
        let mut s = RawBotSection {
            span,
            present: true,
            ..Default::default()
        };
        self.read(t, &BOT_KEYS, "[bot]", &mut s);
        s
    }

    fn keyword(&mut self, t: &DeTable, span: Range<usize>) -> RawKeyword {
        let mut k = RawKeyword {
            span,
            ..Default::default()
        };
        self.read(t, &KEYWORD_KEYS, "a [[keyword]]", &mut k);
        k
    }

    /// `menu`: an array of strings (one button per row) or of arrays of strings (rows).
    fn menu(&mut self, v: &Spanned<DeValue>) -> Option<Sp<Vec<Vec<Sp<String>>>>> {
        let DeValue::Array(items) = v.get_ref() else {
            self.wrong_type(v, "menu", "an array of strings or of arrays of strings");
            return None;
        };
        let mut rows = Vec::new();
        for item in items.iter() {
            match item.get_ref() {
                DeValue::String(s) => rows.push(vec![Sp::new(s.to_string(), item.span())]),
                DeValue::Array(row) => {
                    let row: Vec<_> = row.iter().filter_map(|b| self.string(b, "menu")).collect();
                    rows.push(row);
                }
                _ => self.wrong_type(item, "menu", "a string or an array of strings"),
            }
        }
        Some(Sp::new(rows, v.span()))
    }

    fn algorithm(&mut self, name: Sp<String>, t: &DeTable, span: Range<usize>) -> RawAlgorithm {
        let context = format!("[algorithms.{}]", name.value);
        let mut a = RawAlgorithm {
            name,
            span,
            ..Default::default()
        };
        self.read(t, &ALGORITHM_KEYS, &context, &mut a);
        a
    }

    fn notification(&mut self, name: Sp<String>, t: &DeTable, span: Range<usize>) -> RawNotification {
        let context = format!("[notifications.{}]", name.value);
        let mut n = RawNotification {
            name,
            span,
            ..Default::default()
        };
        self.read(t, &NOTIFICATION_KEYS, &context, &mut n);
        n
    }

    /// Rows of `{text, url}` buttons; a flat array means one button per row.
    fn link_buttons(&mut self, v: &Spanned<DeValue>) -> Option<Sp<Vec<Vec<RawLinkButton>>>> {
        let DeValue::Array(items) = v.get_ref() else {
            self.wrong_type(v, "buttons", "an array of rows of {text, url} buttons");
            return None;
        };
        let mut rows = Vec::new();
        for item in items.iter() {
            match item.get_ref() {
                DeValue::Table(_) => rows.push(self.link_button(item).into_iter().collect()),
                DeValue::Array(row) => rows.push(row.iter().filter_map(|b| self.link_button(b)).collect()),
                _ => self.wrong_type(item, "buttons", "a {text, url} button or a row of them"),
            }
        }
        Some(Sp::new(rows, v.span()))
    }

    fn link_button(&mut self, v: &Spanned<DeValue>) -> Option<RawLinkButton> {
        let t = self.table(v, "button")?;
        let mut b = RawButtonKeys::default();
        self.read(t, &BUTTON_KEYS, "a button", &mut b);
        let RawButtonKeys {
            text,
            url,
            action,
            value,
        } = b;
        match (text, url, action, value) {
            (Some(text), Some(url), None, None) => Some(RawLinkButton {
                text,
                url: Some(url),
                action: None,
                value: None,
            }),
            (Some(text), None, Some(action), Some(value)) => Some(RawLinkButton {
                text,
                url: None,
                action: Some(action),
                value: Some(value),
            }),
            _ => {
                self.push(
                    v.span(),
                    Code::MissingKey,
                    "a button needs `text` and `url` (a link), or `text`, `action` and `value` (an action)",
                );
                None
            }
        }
    }

    fn find_tokens_in_table(&mut self, table: &DeTable) {
        for (_, v) in table.iter() {
            self.find_tokens(v);
        }
    }

    fn find_tokens(&mut self, value: &Spanned<DeValue>) {
        match value.get_ref() {
            DeValue::String(s) if looks_like_token(s) => {
                self.push(value.span(), Code::TokenLiteral, "this looks like a Telegram bot token")
                    .help = Some("never write a token in a bot file: put it in an environment variable and name that variable in `token_env`".into());
            }
            DeValue::Array(items) => items.iter().for_each(|i| self.find_tokens(i)),
            DeValue::Table(t) => self.find_tokens_in_table(t),
            _ => {}
        }
    }
}

/// Splits a `match` string on commas. Every word gets the whole string's span
/// (a diagnostic about one word underlines the string it is written in).
fn split_words(s: &str, span: Range<usize>) -> Vec<Sp<String>> {
    s.split(',')
        .map(|w| w.trim())
        .filter(|w| !w.is_empty())
        .map(|w| Sp::new(w.to_string(), span.clone()))
        .collect()
}
