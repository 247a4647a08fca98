//! Expressions: parsing and evaluation never panic, never run unbounded, and a
//! value stays within the text bound.
#![no_main]

use botwright::expr::{self, Context, Value};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(parsed) = expr::parse_expression(source) else {
        return;
    };
    let mut vars = indexmap::IndexMap::new();
    vars.insert("input".to_string(), Value::text(source));
    vars.insert("user".to_string(), Value::object([("name", Value::text("Ann"))]));
    let ctx = Context {
        vars: &vars,
        now: chrono::DateTime::parse_from_rfc3339("2021-02-06T14:00:00+03:00").unwrap(),
        tz: None,
    };
    if let Ok(v) = expr::evaluate(&parsed, &ctx) {
        assert!(v.to_text().len() <= 4 * botwright::expr::eval::MAX_TEXT + 64);
    }
});
