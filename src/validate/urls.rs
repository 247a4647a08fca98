//! What a bot file's `http` URLs may name: `${NAME}` variables of the bot's own
//! `<ID>_…URL…` or `BOTWRIGHT_URL_…`, never a token or a secret (E036); the same
//! rule `algorithms::expand_env` applies at run time.

use super::*;

/// The `${NAME}` variables of a URL with their byte ranges in it.
pub fn url_variables(url: &str) -> Vec<(String, Range<usize>)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(start) = url[from..].find("${").map(|i| i + from) {
        let Some(end) = url[start..].find('}').map(|i| i + start) else {
            out.push((String::new(), start..url.len()));
            break;
        };
        out.push((url[start + 2..end].to_string(), start..end + 1));
        from = end + 1;
    }
    out
}

/// A bot's own environment-variable prefix, without its `_`: the id in upper case, characters
/// other than letters and digits as `_` (bot-format.md).
pub fn env_prefix(bot_id: &str) -> String {
    bot_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// Why a bot may not read `name` in an `http` URL, if it may not (bot-format.md): only
/// `<ID>_…` names in which `URL` is one of the `_`-separated words after the id, of this
/// bot and of no bot with a longer id that prefixes the name too, or `BOTWRIGHT_URL_…`;
/// never a token or a secret.
pub fn forbidden_url_variable(
    bot_id: &str,
    own_token: Option<&str>,
    neighbours: &Neighbours,
    name: &str,
) -> Option<String> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Some(format!("`${{{name}}}` is not a variable name"));
    }
    if name == "BOTWRIGHT_API_TOKEN" || name == "BOTWRIGHT_ALGORITHM_SECRET" || Some(name) == own_token {
        return Some(format!(
            "`{name}` holds a secret, and a URL would send it to whoever serves it"
        ));
    }
    if neighbours.tokens.iter().any(|t| t == name) {
        return Some(format!(
            "`{name}` is the token of a bot, and a URL would send it to whoever serves it"
        ));
    }
    if name.strip_prefix("BOTWRIGHT_URL_").is_some_and(|rest| !rest.is_empty()) {
        return None;
    }
    let prefix = env_prefix(bot_id) + "_";
    let Some(rest) = name.strip_prefix(&prefix) else {
        return Some(format!("`{name}` is not named `{prefix}…URL…` or `BOTWRIGHT_URL_…`"));
    };
    if !rest.split('_').any(|word| word == "URL") {
        return Some(format!(
            "`{name}` has no word `URL` after `{prefix}`, so it may hold a secret rather than an address"
        ));
    }
    // The variable belongs to the bot with the longest id that prefixes it.
    if let Some(owner) = neighbours
        .ids
        .iter()
        .filter(|other| {
            let theirs = env_prefix(other) + "_";
            theirs.len() > prefix.len() && name.starts_with(&theirs)
        })
        .max_by_key(|other| env_prefix(other).len())
    {
        return Some(format!(
            "`{name}` belongs to bot `{owner}`, whose id prefixes it more closely than `{bot_id}`"
        ));
    }
    None
}

impl Validator<'_> {
    /// Only this bot's `<ID>_…URL…` and `BOTWRIGHT_URL_…` variables, never a token or a secret.
    pub(super) fn check_url(&mut self, id: &str, own_token: Option<&str>, url: &Sp<String>) {
        let neighbours = self.neighbours;
        for (name, range) in url_variables(&url.value) {
            let Some(why) = forbidden_url_variable(id, own_token, neighbours, &name) else {
                continue;
            };
            // The value's span includes its opening quote; without escapes the offsets match.
            let start = (url.span.start + 1 + range.start).min(url.span.end);
            let end = (url.span.start + 1 + range.end).min(url.span.end);
            let prefix = env_prefix(id);
            self.push(start..end, Code::UrlVariable, why).help = Some(format!(
                "use this bot's own `{prefix}_…` variable with `URL` as one of its `_`-separated words (such as `{prefix}_API_URL`), or `BOTWRIGHT_URL_…`; bot files cannot read tokens or secrets"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Neighbours, forbidden_url_variable};

    fn allowed(bot: &str, ids: &[&str], name: &str) -> bool {
        let neighbours = Neighbours {
            ids: ids.iter().map(|s| s.to_string()).collect(),
            tokens: vec!["SHOP_TOKEN".into(), "SIGNAL_URL_TOKEN".into()],
        };
        forbidden_url_variable(bot, Some("OWN_TOKEN"), &neighbours, name).is_none()
    }

    #[test]
    fn only_the_bots_own_url_variables_and_botwright_url_ones() {
        for name in [
            "SIGNAL_BS_URL",
            "SIGNAL_URL_TASKS",
            "SIGNAL_URL",
            "SIGNAL_A_URL_B",
            "BOTWRIGHT_URL_BS",
        ] {
            assert!(allowed("signal", &[], name), "{name}");
        }
        for name in [
            "SIGNAL_CURL",
            "SIGNAL_URLS",
            "SIGNAL_BS_url",
            "SIGNAL_",
            "SIGNAL",
            "SIGNALURL",
            "SIGNAL_SECRET",
            "SIGNAL_URL_TOKEN",
            "SHOP_TOKEN",
            "OWN_TOKEN",
            "BOTWRIGHT_URL_",
            "BOTWRIGHT_API_TOKEN",
            "BOTWRIGHT_ALGORITHM_SECRET",
            "OTHER_URL",
            "SIGNAL-URL",
            "",
        ] {
            assert!(!allowed("signal", &[], name), "{name}");
        }
    }

    #[test]
    fn the_prefix_alone_is_not_enough() {
        assert!(!allowed("aws", &[], "AWS_SECRET_ACCESS_KEY"));
        assert!(!allowed("database", &[], "DATABASE_PASSWORD"));
        // bot-format.md's rule: the name after the id is `URL`, one word that is `URL`.
        assert!(allowed("database", &[], "DATABASE_URL"));
        assert!(!allowed("shop", &[], "SHOP_ADMIN_SIGNING_KEY"));
        assert!(allowed("shop-admin", &[], "SHOP_ADMIN_URL"));
    }

    #[test]
    fn a_variable_belongs_to_the_bot_with_the_longest_id_that_prefixes_it() {
        let ids = ["shop", "shop_admin"];
        assert!(!allowed("shop", &ids, "SHOP_ADMIN_URL"));
        assert!(!allowed("shop", &ids, "SHOP_ADMIN_API_URL"));
        assert!(allowed("shop", &ids, "SHOP_URL"));
        assert!(allowed("shop", &ids, "SHOP_ADMINS_URL"));
        assert!(allowed("shop_admin", &ids, "SHOP_ADMIN_URL"));
        // Alone, `shop` may name it: nobody else claims it.
        assert!(allowed("shop", &["shop"], "SHOP_ADMIN_URL"));
        let why = forbidden_url_variable(
            "shop",
            None,
            &Neighbours {
                ids: vec!["shop".into(), "shop_admin".into(), "shop-admin-eu".into()],
                tokens: vec![],
            },
            "SHOP_ADMIN_EU_URL",
        )
        .expect("forbidden");
        assert!(why.contains("`shop-admin-eu`"), "{why}");
    }
}
