//! Recognising secrets in text, low in the pipeline: the compiler refuses a
//! token written in a bot file, and the runtime hides token-shaped text in
//! what it logs.

/// The byte ranges of the secret parts (what follows the colon) of token-shaped texts in `s`:
/// 6 to 12 digits, a colon, then 30 or more token characters.
fn token_secrets(s: &str) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
    let bytes = s.as_bytes();
    s.match_indices(':').filter_map(move |(i, _)| {
        let digits = bytes[..i].iter().rev().take_while(|b| b.is_ascii_digit()).count();
        let tail = bytes[i + 1..]
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_' || **b == b'-')
            .count();
        ((6..=12).contains(&digits) && tail >= 30).then_some(i + 1..i + 1 + tail)
    })
}

/// Whether a text contains something shaped like a bot token: digits, a colon, 30+ token characters.
pub fn looks_like_token(s: &str) -> bool {
    token_secrets(s).next().is_some()
}

/// `s` with the secret part of every token-shaped text (what follows the colon) replaced by
/// `*`, character for character, so that carets under the text still line up.
pub fn mask_tokens(s: &str) -> String {
    let mut masked = s.as_bytes().to_vec();
    for range in token_secrets(s) {
        masked[range].fill(b'*');
    }
    // Only ASCII bytes were replaced by ASCII: still UTF-8.
    String::from_utf8(masked).unwrap_or_else(|_| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_the_secret_part_and_keeps_the_width() {
        let line = r#"reply = "123456789:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" # Ключ"#;
        let masked = mask_tokens(line);
        assert_eq!(masked.chars().count(), line.chars().count());
        assert!(masked.contains("123456789:****"), "{masked}");
        assert!(!looks_like_token(&masked));
        assert_eq!(mask_tokens("plain: text"), "plain: text");
    }
}
