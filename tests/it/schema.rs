//! The JSON Schema of bot files: generated from the compiler's types, kept
//! current in the repository, with a description for every key and the
//! same keys the compiler accepts.

use botwright::schema;
use serde_json::Value;

#[test]
fn the_kept_copy_is_current() {
    let kept = std::fs::read_to_string(schema::COPY).expect("schema/bot.schema.json is kept in the repository");
    assert!(
        kept == schema::bot_file_text(),
        "{} is stale: run `cargo run -- schema > {}`",
        schema::COPY,
        schema::COPY
    );
}

/// The property names of the schema at `pointer`, following a `$ref`.
fn keys(root: &Value, pointer: &str) -> Vec<String> {
    let mut node = root.pointer(pointer).unwrap_or_else(|| panic!("no {pointer}"));
    if let Some(r) = node["$ref"].as_str() {
        node = root.pointer(r.trim_start_matches('#')).unwrap();
    }
    assert_eq!(
        node["additionalProperties"], false,
        "{pointer} must reject unknown keys"
    );
    let mut keys: Vec<String> = node["properties"].as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

fn sorted(list: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = list.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

#[test]
fn it_accepts_exactly_the_keys_the_compiler_accepts() {
    use botwright::syntax::*;
    let s = schema::bot_file();
    assert_eq!(s["$schema"], "https://json-schema.org/draft/2020-12/schema");
    assert_eq!(keys(&s, ""), sorted(&TOP_KEYS.names()));
    assert_eq!(keys(&s, "/properties/bot"), sorted(&BOT_KEYS.names()));
    assert_eq!(keys(&s, "/properties/keyword/items"), sorted(&KEYWORD_KEYS.names()));
    assert_eq!(
        keys(&s, "/properties/algorithms/additionalProperties"),
        sorted(&ALGORITHM_KEYS.names())
    );
    assert_eq!(keys(&s, "/properties/auth"), sorted(&AUTH_KEYS.names()));
    assert_eq!(
        keys(&s, "/properties/notifications/additionalProperties"),
        sorted(&NOTIFICATION_KEYS.names())
    );
    let texts: Vec<&str> = botwright::texts::TEXTS.iter().map(|t| t.key).collect();
    assert_eq!(keys(&s, "/properties/texts"), sorted(&texts));
}

#[test]
fn every_key_has_a_description() {
    fn walk(v: &Value, at: &str, missing: &mut Vec<String>) {
        if let Some(props) = v.get("properties").and_then(Value::as_object) {
            for (k, p) in props {
                if p.get("description").and_then(Value::as_str).is_none_or(str::is_empty) {
                    missing.push(format!("{at}.{k}"));
                }
            }
        }
        match v {
            Value::Object(o) => o.iter().for_each(|(k, c)| walk(c, &format!("{at}/{k}"), missing)),
            Value::Array(a) => a.iter().for_each(|c| walk(c, at, missing)),
            _ => {}
        }
    }
    let mut missing = Vec::new();
    walk(&schema::bot_file(), "", &mut missing);
    assert!(missing.is_empty(), "keys without a description: {missing:?}");
}

#[test]
fn shipped_bots_point_at_the_kept_copy() {
    for entry in std::fs::read_dir("bots").unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(
                text.starts_with("#:schema ../schema/bot.schema.json\n"),
                "{} does not start with its #:schema line",
                path.display()
            );
        }
    }
    let taplo = std::fs::read_to_string(".taplo.toml").unwrap();
    assert!(taplo.contains("./schema/bot.schema.json"));
}

#[test]
fn the_command_prints_it() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_botwright"))
        .arg("schema")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), schema::bot_file_text());
}
