//! Telegram's HTML parse mode: which tags it takes and whether a text is
//! well formed. The compiler checks texts with it; the engine checks what
//! algorithms return before sending it as HTML.

use std::ops::Range;

const TAGS: &[&str] = &[
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "span",
    "tg-spoiler",
    "a",
    "code",
    "pre",
    "blockquote",
    "tg-emoji",
];

/// Checks Telegram's HTML: known tags, balanced, and `<` only as the start of a
/// tag (a lone `>` or `&` Telegram reads as text). Templates are treated as plain text (their values are escaped).
pub fn check_html(text: &str) -> Result<(), (Range<usize>, String, String)> {
    let masked = mask_templates(text);
    let bytes = masked.as_bytes();
    let mut open: Vec<(String, Range<usize>)> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'<' => {
                let Some(len) = masked[i..].find('>') else {
                    return Err((
                        i..i + 1,
                        "`<` that starts no tag".into(),
                        "write `&lt;` for a literal `<`".into(),
                    ));
                };
                let tag = &masked[i + 1..i + len];
                let span = i..i + len + 1;
                let closing = tag.starts_with('/');
                let body = tag.trim_start_matches('/');
                let name: String = body
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                    .collect::<String>()
                    .to_ascii_lowercase();
                if name.is_empty() || body.contains('<') {
                    return Err((
                        i..i + 1,
                        "`<` that starts no tag".into(),
                        "write `&lt;` for a literal `<`".into(),
                    ));
                }
                if !TAGS.contains(&name.as_str()) {
                    return Err((
                        span,
                        format!("Telegram does not support the tag `<{name}>`"),
                        format!("supported tags: {}", TAGS.join(", ")),
                    ));
                }
                if closing {
                    match open.pop() {
                        Some((o, _)) if o == name => {}
                        Some((o, _)) => {
                            return Err((
                                span,
                                format!("`</{name}>` closes `<{o}>`"),
                                format!("close `<{o}>` first"),
                            ));
                        }
                        None => {
                            return Err((
                                span,
                                format!("`</{name}>` closes nothing"),
                                "remove it or open the tag before".into(),
                            ));
                        }
                    }
                } else {
                    open.push((name, span));
                }
                i += len + 1;
            }
            _ => i += 1,
        }
    }
    if let Some((name, span)) = open.pop() {
        return Err((span, format!("`<{name}>` is never closed"), format!("add `</{name}>`")));
    }
    Ok(())
}

/// Replaces each `{{ … }}` with spaces of the same length, so positions stay.
fn mask_templates(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        match rest[start..].find("}}") {
            Some(end) => {
                out.extend(std::iter::repeat_n('x', end + 2));
                rest = &rest[start + end + 2..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}
