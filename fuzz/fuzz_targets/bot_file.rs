//! Bot files: syntax and validation never panic, and every diagnostic renders.
#![no_main]

use botwright::diagnostics::{self, Format, SourceFile};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut found = Vec::new();
    let _ = botwright::validate::compile("fuzz", &SourceFile::new("fuzz.toml", text.to_string()), &mut found);
    for format in [Format::Human, Format::Json, Format::Github] {
        let mut out = termcolor::NoColor::new(Vec::new());
        let _ = diagnostics::render(&found, format, &mut out);
    }
});
