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

/// `s` with the secret part of every token-shaped text (what follows the colon) replaced by
/// `*`, character for character, so that carets under the text still line up.
pub fn mask_tokens(s: &str) -> String {
    if !looks_like_token(s) {
        return s.to_string();
    }
    let bytes = s.as_bytes();
    let mut masked = bytes.to_vec();
    for (i, _) in s.match_indices(':') {
        let digits = bytes[..i].iter().rev().take_while(|b| b.is_ascii_digit()).count();
        let tail = bytes[i + 1..]
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_' || **b == b'-')
            .count();
        if (6..=12).contains(&digits) && tail >= 30 {
            for b in &mut masked[i + 1..i + 1 + tail] {
                *b = b'*';
            }
        }
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
