//! The web pages' words (the studio and the console): one catalogue per
//! language with the same keys, every key a page names is in them, no visible
//! text is written into the pages outside them, and every diagnostic code has
//! its explanation in both languages.

use botwright::web::{ASSETS, CONSOLE_PAGE, STUDIO_PAGE, catalogue};
use std::collections::BTreeSet;

fn keys(language: &str) -> BTreeSet<String> {
    catalogue(language)
        .unwrap_or_else(|| panic!("i18n/{language}.json is a flat JSON object"))
        .into_iter()
        .map(|(key, value)| {
            assert!(
                value.as_str().is_some_and(|v| !v.trim().is_empty()),
                "{language}: {key} is not a non-empty string"
            );
            key
        })
        .collect()
}

fn asset(name: &str) -> &'static str {
    let found = ASSETS.iter().find(|a| a.name == name).unwrap();
    std::str::from_utf8(found.body).unwrap()
}

/// The keys a page or script names: `data-i18n…="key"` and `t("key")` / `t('key')`.
fn named_keys(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (open, close) in [
        ("data-i18n=\"", '"'),
        ("data-i18n-title=\"", '"'),
        ("data-i18n-placeholder=\"", '"'),
        ("data-i18n-label=\"", '"'),
        ("t(\"", '"'),
        ("t('", '\''),
    ] {
        for (at, _) in text.match_indices(open) {
            let rest = &text[at + open.len()..];
            if let Some(end) = rest.find(close) {
                let key = &rest[..end];
                if key.starts_with("studio.") || key.starts_with("console.") || key.starts_with("common.") {
                    found.insert(key.to_string());
                }
            }
        }
    }
    found
}

#[test]
fn both_catalogues_have_the_same_keys() {
    let (en, ru) = (keys("en"), keys("ru"));
    let only_en: Vec<_> = en.difference(&ru).collect();
    let only_ru: Vec<_> = ru.difference(&en).collect();
    assert!(
        only_en.is_empty() && only_ru.is_empty(),
        "only in en: {only_en:?}; only in ru: {only_ru:?}"
    );
    assert!(en.len() > 100, "{} keys", en.len());
}

#[test]
fn every_key_the_pages_name_is_in_the_catalogue() {
    let en = keys("en");
    for (name, text) in [
        ("studio.html", STUDIO_PAGE),
        ("console.html", CONSOLE_PAGE),
        ("studio.js", asset("studio.js")),
        ("console.js", asset("console.js")),
        ("i18n.js", asset("i18n.js")),
    ] {
        let named = named_keys(text);
        assert!(!named.is_empty() || name == "i18n.js", "{name} names no key");
        // A key made in the script (`"console.nav." + page`) names its prefix: some key has it.
        let (prefixes, named): (BTreeSet<String>, BTreeSet<String>) = named.into_iter().partition(|k| k.ends_with('.'));
        for prefix in prefixes {
            assert!(
                en.iter().any(|k| k.starts_with(&prefix)),
                "{name} makes keys from {prefix:?}, which no key has"
            );
        }
        let missing: Vec<_> = named.difference(&en).collect();
        assert!(missing.is_empty(), "{name} names keys the catalogue lacks: {missing:?}");
    }
}

#[test]
fn no_visible_text_is_written_into_the_pages() {
    for (name, page) in [("studio.html", STUDIO_PAGE), ("console.html", CONSOLE_PAGE)] {
        // Markup only: scripts, styles and comments out.
        let mut markup = page.to_string();
        for (open, close) in [("<script", "</script>"), ("<style", "</style>"), ("<!--", "-->")] {
            while let Some(start) = markup.find(open) {
                let end = markup[start..]
                    .find(close)
                    .map(|e| start + e + close.len())
                    .unwrap_or(markup.len());
                markup.replace_range(start..end, "");
            }
        }
        for piece in markup.split('<').skip(1) {
            let Some((tag, text)) = piece.split_once('>') else {
                continue;
            };
            let text = text.trim();
            let words = text.chars().any(char::is_alphabetic);
            // The title and an element that names its key are filled on load.
            assert!(
                !words || tag.starts_with("title") || tag.contains("data-i18n=") || text == "botwright",
                "{name}: visible text outside the catalogue: {text:?} (in <{tag}>)"
            );
            // Attributes people read are named by key too.
            for attribute in ["title=\"", "placeholder=\"", "aria-label=\""] {
                if let Some(at) = tag.find(attribute) {
                    let before = &tag[..at];
                    assert!(
                        before.ends_with("data-i18n-") || before.ends_with('-'),
                        "{name}: <{tag}> writes {attribute} in the markup"
                    );
                }
            }
        }
    }
}

#[test]
fn every_diagnostic_code_is_explained_in_both_languages() {
    let (en, ru) = (keys("en"), keys("ru"));
    for code in botwright::diagnostics::Code::ALL {
        let key = format!("studio.code.{}", code.as_str());
        assert!(
            en.contains(&key) && ru.contains(&key),
            "no explanation of {}",
            code.as_str()
        );
    }
}

#[test]
fn the_vendored_editor_keeps_its_licence() {
    let licence = asset("vendor/codemirror/LICENSE");
    assert!(licence.contains("MIT License") && licence.contains("Marijn Haverbeke"));
    assert!(asset("vendor/codemirror/codemirror.js").contains("CodeMirror"));
}
