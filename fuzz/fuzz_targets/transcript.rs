//! Transcripts: parsing and replay against the demo bot never panic.
#![no_main]

use botwright::diagnostics::SourceFile;
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

static DEMO: LazyLock<botwright::model::CompiledBot> = LazyLock::new(|| {
    let text = include_str!("../../bots/demo.toml").to_string();
    botwright::validate::compile("demo", &SourceFile::new("demo.toml", text), &mut Vec::new())
        .expect("the demo bot compiles")
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(lines) = botwright::transcript::parse(text) {
        let _ = botwright::transcript::replay(&DEMO, &lines);
    }
});
