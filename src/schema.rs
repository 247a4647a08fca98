//! The JSON Schema (draft 2020-12) of bot files, for editors (taplo / Even
//! Better TOML): generated from the types the compiler reads (`syntax`'s
//! `Raw*` structs, with schemars) and the catalogue of built-in texts. Never
//! written by hand; `schema/bot.schema.json` is a copy that a test keeps
//! current.

use crate::syntax::{RawAlgorithm, RawAuth, RawBotSection, RawKeyword, RawNotification};
use serde_json::{Value, json};

/// Where the kept copy lives, relative to the repository.
pub const COPY: &str = "schema/bot.schema.json";

/// The schema of a bot file.
pub fn bot_file() -> Value {
    let mut generator = schemars::generate::SchemaSettings::draft2020_12().into_generator();
    let bot = generator.subschema_for::<RawBotSection>();
    let keyword = generator.subschema_for::<RawKeyword>();
    let algorithm = generator.subschema_for::<RawAlgorithm>();
    let auth = generator.subschema_for::<RawAuth>();
    let notification = generator.subschema_for::<RawNotification>();
    let texts: serde_json::Map<String, Value> = crate::texts::TEXTS
        .iter()
        .map(|t| {
            let mut about = format!("{}. Default: «{}» (en: “{}”).", capitalized(t.about), t.ru, t.en);
            if !t.extra_vars.is_empty() {
                about.push_str(&format!(" Also uses: {}.", t.extra_vars.join(", ")));
            }
            (t.key.to_string(), json!({"type": "string", "description": about}))
        })
        .collect();
    let definitions: serde_json::Map<String, Value> = generator.take_definitions(true).into_iter().collect();
    let mut schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://botwright.dev/schema/bot.schema.json",
        "title": "botwright bot file",
        "description": "A Telegram bot defined declaratively: `[bot]`, `[texts]`, `[[keyword]]` records, `[algorithms.<name>]`, `[auth]` and `[notifications.<name>]` (bot-format.md).",
        "type": "object",
        "additionalProperties": false,
        "required": ["bot"],
        "properties": {
            "bot": with_description(bot, "Who the bot is: its name, the environment variable of its token, its language and words."),
            "texts": {
                "type": "object",
                "description": "Overrides of the built-in texts (`botwright texts` lists them with their defaults).",
                "additionalProperties": false,
                "properties": texts,
            },
            "keyword": {
                "type": "array",
                "description": "The keyword records, like rows of a catalog: each does exactly one of `reply`, `run`, `choice`, `alias`, `input`.",
                "items": keyword,
            },
            "algorithms": {
                "type": "object",
                "description": "Algorithms by name: `expr`, `http` or `builtin`.",
                "additionalProperties": algorithm,
            },
            "auth": with_description(auth, "Registration: `required`, and the chain algorithm → scenario → responsible operators."),
            "notifications": {
                "type": "object",
                "description": "Notification templates by name, for the HTTP API's `template`.",
                "additionalProperties": notification,
            },
        },
        "$defs": definitions,
    });
    without_null(&mut schema);
    schema
}

/// TOML has no null: an optional key is one left out, so `Option`'s null alternative goes.
fn without_null(v: &mut Value) {
    match v {
        Value::Object(o) => {
            if let Some(Value::Array(types)) = o.get_mut("type") {
                types.retain(|t| t != "null");
                if types.len() == 1 {
                    let only = types[0].clone();
                    o.insert("type".into(), only);
                }
            }
            if let Some(Value::Array(values)) = o.get_mut("enum") {
                values.retain(|v| !v.is_null());
            }
            if let Some(Value::Array(alternatives)) = o.get_mut("anyOf") {
                alternatives.retain(|a| a != &json!({"type": "null"}));
                if alternatives.len() == 1 {
                    let only = alternatives.remove(0);
                    o.remove("anyOf");
                    if let Value::Object(inner) = only {
                        for (k, val) in inner {
                            o.entry(k).or_insert(val);
                        }
                    }
                }
            }
            o.values_mut().for_each(without_null);
        }
        Value::Array(items) => items.iter_mut().for_each(without_null),
        _ => {}
    }
}

/// The schema as the repository keeps it (and `botwright schema` prints it).
pub fn bot_file_text() -> String {
    let mut text = serde_json::to_string_pretty(&bot_file()).expect("JSON values serialize");
    text.push('\n');
    text
}

fn with_description(schema: schemars::Schema, description: &str) -> Value {
    let mut v = schema.to_value();
    // A `$ref` may not have siblings in older drafts; 2020-12 allows them.
    if let Some(o) = v.as_object_mut() {
        o.insert("description".into(), json!(description));
    }
    v
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}
