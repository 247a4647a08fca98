//! Data-driven engine tests: every `tests/transcripts/*.chat` replays against its bot.

use std::path::Path;

#[test]
fn engine_transcripts_pass() {
    let dir = Path::new("tests/transcripts");
    let mut chats: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "chat"))
        .collect();
    chats.sort();
    assert!(!chats.is_empty());
    for chat in chats {
        let lines = botwright::transcript::parse(&std::fs::read_to_string(&chat).unwrap()).unwrap();
        let id = lines.iter().find_map(|(_, l)| match l {
            botwright::transcript::Line::Bot(id) => Some(id.clone()),
            _ => None,
        });
        let mut diagnostics = Vec::new();
        let bot =
            botwright::validate::compile_path(&dir.join(format!("{}.toml", id.unwrap())), &mut diagnostics).unwrap();
        let bot = bot.unwrap_or_else(|| panic!("{:?}", diagnostics.iter().map(|d| &d.message).collect::<Vec<_>>()));
        if let Err(f) = botwright::transcript::replay(&bot, &lines) {
            panic!("{}:{}: {}", chat.display(), f.line, f.message);
        }
    }
}
