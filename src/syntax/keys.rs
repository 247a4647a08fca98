//! Each table's keys and how each is read, written once: the reader, its unknown-key
//! check and the schema's test all take them from here.

use super::Reader;
use super::raw::*;
use serde_spanned::Spanned;
use toml::de::DeValue;

/// A table's keys and how each is read into its raw struct: the one list of them. The
/// unknown-key check, the reader and the schema's test all take the keys from here.
pub struct Keys<T: 'static>(pub(super) &'static [(&'static str, ReadKey<T>)]);

/// Reads one key's value into the raw struct (`key` names it in messages).
type ReadKey<T> = for<'a, 'v, 'i> fn(&mut Reader<'a>, &mut T, &'v Spanned<DeValue<'i>>, &'static str);

impl<T> Keys<T> {
    /// The keys, in the order the format lists them.
    pub fn names(&self) -> Vec<&'static str> {
        self.0.iter().map(|(k, _)| *k).collect()
    }
}

pub static TOP_KEYS: Keys<RawBot> = Keys(&[
    ("bot", |r, raw, v, key| {
        if let Some(t) = r.table(v, key) {
            raw.bot = r.bot_section(t, v.span());
        }
    }),
    ("texts", |r, raw, v, key| {
        if let Some(t) = r.table(v, key) {
            for (k, v) in t.iter() {
                if let Some(s) = r.string(v, k.get_ref()) {
                    raw.texts.push((Sp::new(k.get_ref().to_string(), k.span()), s));
                }
            }
        }
    }),
    ("keyword", |r, raw, v, key| match v.get_ref() {
        DeValue::Array(items) => {
            for item in items.iter() {
                if let Some(t) = r.table(item, "keyword") {
                    raw.keywords.push(r.keyword(t, item.span()));
                }
            }
        }
        _ => r.wrong_type(v, key, "an array of tables (`[[keyword]]`)"),
    }),
    ("algorithms", |r, raw, v, key| {
        for (name, body, span) in r.named_tables(v, key) {
            let algorithm = r.algorithm(name, body, span);
            raw.algorithms.push(algorithm);
        }
    }),
    ("auth", |r, raw, v, key| {
        if let Some(t) = r.table(v, key) {
            let mut auth = RawAuth {
                span: v.span(),
                ..Default::default()
            };
            r.read(t, &AUTH_KEYS, "[auth]", &mut auth);
            raw.auth = Some(auth);
        }
    }),
    ("notifications", |r, raw, v, key| {
        for (name, body, span) in r.named_tables(v, key) {
            let notification = r.notification(name, body, span);
            raw.notifications.push(notification);
        }
    }),
]);

pub static BOT_KEYS: Keys<RawBotSection> = Keys(&[
    ("name", |r, s, v, key| {
        s.name = r.string(v, key);
        if s.name.is_none() {
            s.mistyped.push(key);
        }
    }),
    ("description", |r, s, v, key| s.description = r.string(v, key)),
    ("token_env", |r, s, v, key| {
        s.token_env = r.string(v, key);
        if s.token_env.is_none() {
            s.mistyped.push(key);
        }
    }),
    ("language", |r, s, v, key| s.language = r.string(v, key)),
    ("start", |r, s, v, key| s.start = r.words(v, key, false)),
    ("cancel", |r, s, v, key| s.cancel = r.words(v, key, false)),
    ("unknown", |r, s, v, key| s.unknown = r.string(v, key)),
    ("timezone", |r, s, v, key| s.timezone = r.string(v, key)),
    ("log_texts", |r, s, v, key| s.log_texts = r.boolean(v, key)),
    ("allow_code", |r, s, v, key| s.allow_code = r.boolean(v, key)),
]);

pub static KEYWORD_KEYS: Keys<RawKeyword> = Keys(&[
    ("id", |r, k, v, key| k.id = r.string(v, key)),
    ("match", |r, k, v, key| k.r#match = r.words(v, key, true)),
    ("parent", |r, k, v, key| k.parent = r.string(v, key)),
    ("disabled", |r, k, v, key| k.disabled = r.boolean(v, key)),
    ("reply", |r, k, v, key| k.reply = r.string(v, key)),
    ("run", |r, k, v, key| k.run = r.string(v, key)),
    ("choice", |r, k, v, key| k.choice = r.string(v, key)),
    ("options_from", |r, k, v, key| k.options_from = r.string(v, key)),
    ("confirm", |r, k, v, key| k.confirm = r.boolean(v, key)),
    ("columns", |r, k, v, key| k.columns = r.integer(v, key)),
    ("alias", |r, k, v, key| k.alias = r.string(v, key)),
    ("input", |r, k, v, key| k.input = r.string(v, key)),
    ("save_as", |r, k, v, key| k.save_as = r.string(v, key)),
    ("then", |r, k, v, key| k.then = r.string(v, key)),
    ("menu", |r, k, v, _| k.menu = r.menu(v)),
    ("hide_menu", |r, k, v, key| k.hide_menu = r.boolean(v, key)),
    ("public", |r, k, v, key| k.public = r.boolean(v, key)),
    ("accept", |r, k, v, key| k.accept = r.words(v, key, false)),
    ("action", |r, k, v, key| k.action = r.boolean(v, key)),
    ("type", |r, k, v, key| k.r#type = r.string(v, key)),
    ("check", |r, k, v, key| k.check = r.string(v, key)),
    ("invalid", |r, k, v, key| k.invalid = r.string(v, key)),
    ("attempts", |r, k, v, key| k.attempts = r.integer(v, key)),
]);

pub static ALGORITHM_KEYS: Keys<RawAlgorithm> = Keys(&[
    ("expr", |r, a, v, key| a.expr = r.string(v, key)),
    ("http", |r, a, v, key| a.http = r.string(v, key)),
    ("builtin", |r, a, v, key| a.builtin = r.string(v, key)),
    ("timeout", |r, a, v, key| a.timeout = r.string(v, key)),
    ("exposed", |r, a, v, key| a.exposed = r.boolean(v, key)),
    ("title", |r, a, v, key| a.title = r.string(v, key)),
]);

pub static AUTH_KEYS: Keys<RawAuth> = Keys(&[
    ("required", |r, a, v, key| a.required = r.boolean(v, key)),
    ("request", |r, a, v, key| a.request = r.string(v, key)),
    ("confirm", |r, a, v, key| a.confirm = r.boolean(v, key)),
    ("algorithm", |r, a, v, key| a.algorithm = r.string(v, key)),
    ("scenario", |r, a, v, key| a.scenario = r.string(v, key)),
    ("responsible", |r, a, v, key| match v.get_ref() {
        DeValue::Array(items) => {
            let ids = items.iter().filter_map(|i| r.integer(i, key)).collect();
            a.responsible = Some(Sp::new(ids, v.span()));
        }
        _ => r.wrong_type(v, key, "an array of Telegram user ids"),
    }),
    ("principal_kinds", |r, a, v, key| {
        a.principal_kinds = r.words(v, key, false)
    }),
    ("lookup", |r, a, v, key| a.lookup = r.string(v, key)),
    ("contact", |r, a, v, key| a.contact = r.boolean(v, key)),
]);

/// The keys of a notification's button, as written (which of them make a button is
/// `link_button`'s to say).
#[derive(Default)]
pub(super) struct RawButtonKeys {
    pub(super) text: Option<Sp<String>>,
    pub(super) url: Option<Sp<String>>,
    pub(super) action: Option<Sp<String>>,
    pub(super) value: Option<Sp<String>>,
}

pub(super) static BUTTON_KEYS: Keys<RawButtonKeys> = Keys(&[
    ("text", |r, b, v, key| b.text = r.string(v, key)),
    ("url", |r, b, v, key| b.url = r.string(v, key)),
    ("action", |r, b, v, key| b.action = r.string(v, key)),
    ("value", |r, b, v, key| b.value = r.string(v, key)),
]);

pub static NOTIFICATION_KEYS: Keys<RawNotification> = Keys(&[
    ("text", |r, n, v, key| n.text = r.string(v, key)),
    ("buttons", |r, n, v, _| n.buttons = r.link_buttons(v)),
    ("attachments", |r, n, v, key| n.attachments = r.boolean(v, key)),
]);
