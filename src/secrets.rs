//! Recognising secrets in text, low in the pipeline: the compiler refuses a
//! token written in a bot file, and the runtime hides token-shaped text in
//! what it logs.

/// Whether a text contains something shaped like a bot token: digits, a colon, 30+ token characters.
pub fn looks_like_token(s: &str) -> bool {
    let bytes = s.as_bytes();
    for (i, _) in s.match_indices(':') {
        let digits = bytes[..i].iter().rev().take_while(|b| b.is_ascii_digit()).count();
        let tail = bytes[i + 1..]
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_' || **b == b'-')
            .count();
        if (6..=12).contains(&digits) && tail >= 30 {
            return true;
        }
    }
    false
}
