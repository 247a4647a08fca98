//! Templates: parsing and rendering never panic.
#![no_main]

use botwright::expr::{self, Context, Value};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(template) = expr::parse_template(source) else {
        return;
    };
    let mut vars = indexmap::IndexMap::new();
    vars.insert("input".to_string(), Value::text("<b>&"));
    let ctx = Context {
        vars: &vars,
        now: chrono::DateTime::parse_from_rfc3339("2021-02-06T14:00:00+03:00").unwrap(),
        tz: None,
    };
    let _ = expr::render(&template, &ctx, true);
});
