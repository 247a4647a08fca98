//! The checks of the sections other than the keywords: `[[algorithms]]`, `[texts]`,
//! labels, `[auth]`, actions' targets and `[notifications]`.

use super::*;

impl Validator<'_> {
    pub(super) fn algorithms(&mut self, id: &str, raw: &RawBot) -> indexmap::IndexMap<String, Algorithm> {
        let mut out = indexmap::IndexMap::new();
        for a in &raw.algorithms {
            let kinds: Vec<(&str, &Sp<String>)> = [("expr", &a.expr), ("http", &a.http), ("builtin", &a.builtin)]
                .into_iter()
                .filter_map(|(k, v)| v.as_ref().map(|v| (k, v)))
                .collect();
            let kind = match kinds.as_slice() {
                [("expr", e)] => self.texts().expression(e, COMMON_VARS).map(AlgorithmKind::Expr),
                [("http", url)] => {
                    self.check_url(id, raw.bot.token_env.as_ref().map(|t| t.value.as_str()), url);
                    Some(AlgorithmKind::Http(url.value.clone()))
                }
                [(_, name)] => Some(AlgorithmKind::Builtin(name.value.clone())),
                [] => {
                    self.push(
                        a.name.span.clone(),
                        Code::AlgorithmKind,
                        format!("algorithm `{}` has none of `expr`, `http`, `builtin`", a.name.value),
                    )
                    .help = Some("give it exactly one of them".into());
                    None
                }
                [_, (second, v), ..] => {
                    self.push(
                        v.span.clone(),
                        Code::AlgorithmKind,
                        format!(
                            "algorithm `{}` has more than one of `expr`, `http`, `builtin` (also `{second}`)",
                            a.name.value
                        ),
                    )
                    .help = Some("give it exactly one of them".into());
                    None
                }
            };
            let default_timeout = Duration::from_secs(10);
            let timeout = match &a.timeout {
                None => default_timeout,
                Some(t) => parse_duration(&t.value).unwrap_or_else(|| {
                    self.push(
                        t.span.clone(),
                        Code::BadValue,
                        format!("`{}` is not a duration", t.value),
                    )
                    .help = Some("write a number with `ms`, `s` or `m`, such as \"5s\"".into());
                    default_timeout
                }),
            };
            // A kind that failed to compile is still registered (as a builtin placeholder
            // that never runs: the bot has errors) so references to it are not reported twice.
            out.insert(
                a.name.value.clone(),
                Algorithm {
                    name: a.name.value.clone(),
                    kind: kind.unwrap_or(AlgorithmKind::Builtin(String::new())),
                    timeout,
                    exposed: a.exposed.as_ref().is_some_and(|e| e.value),
                    title: a.title.as_ref().map(|t| t.value.clone()),
                },
            );
        }
        out
    }

    pub(super) fn bot_texts(&mut self, raw: &RawBot, language: Language) -> Option<HashMap<&'static str, Template>> {
        for (key, _) in &raw.texts {
            match texts::find(&key.value) {
                Some(_) => {}
                None => {
                    let d = self.push(
                        key.span.clone(),
                        Code::UnknownText,
                        format!("unknown text key `{}`", key.value),
                    );
                    d.help = Some(match suggest(&key.value, texts::TEXTS.iter().map(|t| t.key)) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => "`botwright texts` lists every text key".into(),
                    });
                }
            }
        }
        let mut out = HashMap::default();
        let mut ok = true;
        for t in texts::TEXTS {
            let default = crate::expr::parse_template(t.default_for(language)).expect("built-in texts parse");
            out.insert(t.key, default);
        }
        // Every value is checked, also one that a shorthand overrides; the table takes the winners.
        let winners = text_overrides(raw);
        for (key, value) in text_sources(raw) {
            let t = texts::find(key).expect("known key");
            let known: Vec<&str> = COMMON_VARS.iter().chain(t.extra_vars).copied().collect();
            match self.texts().template(value, &known) {
                Some(template) => {
                    if matches!(
                        key,
                        "yes" | "no" | "auth_button" | "auth_approve_button" | "auth_reject_button"
                    ) {
                        self.label(&value.value, &value.span);
                    }
                    if winners.get(key).is_some_and(|w| std::ptr::eq(*w, value)) {
                        out.insert(t.key, template);
                    }
                }
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    pub(super) fn label(&mut self, label: &str, span: &Range<usize>) {
        if label.len() > MAX_LABEL {
            self.push(
                span.clone(),
                Code::LabelTooLong,
                format!(
                    "the button label `{label}` is {} bytes; Telegram allows {MAX_LABEL}",
                    label.len()
                ),
            )
            .help = Some("shorten it; Cyrillic letters take two bytes each".into());
        }
    }

    pub(super) fn algorithm_ref(&mut self, name: &Sp<String>, algorithms: &indexmap::IndexMap<String, Algorithm>) {
        if !algorithms.contains_key(&name.value) {
            let d = self.push(
                name.span.clone(),
                Code::UnknownAlgorithm,
                format!("unknown algorithm `{}`", name.value),
            );
            d.help = Some(match suggest(&name.value, algorithms.keys().map(String::as_str)) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("define it in [algorithms.{}]", name.value),
            });
        }
    }

    pub(super) fn auth(&mut self, raw: &RawBot, algorithms: &indexmap::IndexMap<String, Algorithm>) -> Option<Auth> {
        let a = raw.auth.as_ref()?;
        for name in [&a.algorithm, &a.scenario, &a.lookup].into_iter().flatten() {
            self.algorithm_ref(name, algorithms);
        }
        let required = a.required.as_ref().is_some_and(|r| r.value);
        let responsible: Vec<i64> = a
            .responsible
            .as_ref()
            .map(|r| r.value.iter().map(|i| i.value).collect())
            .unwrap_or_default();
        if required && a.algorithm.is_none() && a.scenario.is_none() && responsible.is_empty() {
            let span = a.required.as_ref().map(|r| r.span.clone()).unwrap_or(a.span.clone());
            self.push(
                span,
                Code::AuthWithoutFallback,
                "authorization is required but there is no way to register",
            )
            .help = Some("set at least one of `algorithm`, `scenario` or `responsible` in [auth]".into());
        }
        let kinds = match &a.principal_kinds {
            Some(k) => {
                for w in &k.value {
                    self.label(&w.value, &w.span);
                }
                if k.value.is_empty() {
                    self.push(
                        k.span.clone(),
                        Code::BadValue,
                        "`principal_kinds` must name at least one kind",
                    );
                }
                k.value.iter().map(|w| w.value.clone()).collect()
            }
            None => vec!["user".into(), "partner".into(), "counterparty".into()],
        };
        Some(Auth {
            required,
            confirm: a.confirm.as_ref().is_none_or(|c| c.value),
            algorithm: a.algorithm.as_ref().map(|n| n.value.clone()),
            scenario: a.scenario.as_ref().map(|n| n.value.clone()),
            responsible,
            kinds,
            lookup: a.lookup.as_ref().map(|n| n.value.clone()),
            contact: a.contact.as_ref().is_some_and(|c| c.value),
        })
    }

    /// Notification action buttons name records marked `action = true`.
    pub(super) fn action_targets(&mut self, raw: &RawBot, records: &[Record]) {
        for n in &raw.notifications {
            for b in n.buttons.iter().flat_map(|b| &b.value).flatten() {
                let Some(action) = &b.action else { continue };
                match records.iter().find(|r| r.id == action.value) {
                    None => {
                        self.push(
                            action.span.clone(),
                            Code::UnknownRecord,
                            format!("`action` names no record: `{}`", action.value),
                        )
                        .help = Some("name the `id` of a record marked `action = true`".into());
                    }
                    Some(r) if !r.action_target => {
                        self.push(
                            action.span.clone(),
                            Code::BadValue,
                            format!("record `{}` is not marked `action = true`", action.value),
                        )
                        .help = Some("add `action = true` to that record: only such records run from buttons".into());
                    }
                    Some(_) => {}
                }
            }
        }
    }

    pub(super) fn notifications(&mut self, raw: &RawBot) -> indexmap::IndexMap<String, Notification> {
        let mut out = indexmap::IndexMap::new();
        let known: Vec<&str> = COMMON_VARS.iter().copied().chain(["data"]).collect();
        for n in &raw.notifications {
            // The buttons are checked even when the text has a problem: every error at once.
            let template = match &n.text {
                None => {
                    self.push(
                        n.name.span.clone(),
                        Code::UnknownNotification,
                        format!("notification `{}` has no `text`", n.name.value),
                    );
                    None
                }
                Some(text) => self.texts().template(text, &known),
            };
            let mut buttons = Vec::new();
            for row in n.buttons.iter().flat_map(|b| &b.value) {
                let mut out_row = Vec::new();
                for b in row {
                    if !b.text.value.contains("{{") {
                        self.label(&b.text.value, &b.text.span);
                    }
                    let text = self.texts().template(&b.text, &known);
                    let value = b.value.as_ref().and_then(|v| self.texts().template(v, &known));
                    let Some(text) = text else {
                        continue;
                    };
                    match (&b.url, &b.action, value) {
                        (Some(url), _, _) => out_row.push(crate::model::NotificationButton::Link {
                            text,
                            url: url.value.clone(),
                        }),
                        (None, Some(action), Some(value)) => {
                            out_row.push(crate::model::NotificationButton::Action {
                                text,
                                action: action.value.clone(),
                                value,
                            });
                        }
                        _ => {}
                    }
                }
                buttons.push(out_row);
            }
            let Some(template) = template else {
                continue;
            };
            out.insert(
                n.name.value.clone(),
                Notification {
                    name: n.name.value.clone(),
                    text: template,
                    buttons,
                    attachments: n.attachments.as_ref().is_none_or(|a| a.value),
                },
            );
        }
        out
    }
}
