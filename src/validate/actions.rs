//! One record's action: `reply`, `run`, `input` (with `type`, `check`, `invalid`,
//! `attempts`, `accept`), `choice` and the rest of bot-format.md's keys of a record.

use super::*;

impl Validator<'_> {
    /// The one action of a record, checking the keys that go with it.
    pub(super) fn action(
        &mut self,
        k: &RawKeyword,
        _position: usize,
        algorithms: &indexmap::IndexMap<String, Algorithm>,
        resolve_alias: &dyn Fn(&mut Self, &Sp<String>) -> Option<usize>,
    ) -> Option<Action> {
        let present: Vec<(&str, &Range<usize>)> = [
            ("reply", k.reply.as_ref().map(|v| &v.span)),
            ("run", k.run.as_ref().map(|v| &v.span)),
            ("choice", k.choice.as_ref().map(|v| &v.span)),
            ("alias", k.alias.as_ref().map(|v| &v.span)),
            ("input", k.input.as_ref().map(|v| &v.span)),
        ]
        .into_iter()
        .filter_map(|(n, s)| s.map(|s| (n, s)))
        .collect();
        let misplaced = |this: &mut Self, key: &str, span: Option<&Range<usize>>, allowed: &[&str], kind: &str| {
            if let Some(span) = span
                && !allowed.contains(&kind)
            {
                this.push(
                    span.clone(),
                    Code::MisplacedKey,
                    format!("`{key}` does not apply to a `{kind}` record"),
                )
                .help = Some(format!("`{key}` goes with {}", allowed.join(" or ")));
            }
        };
        let kind = match present.as_slice() {
            [] => {
                self.push(k.span.clone(), Code::NoAction, "this record does nothing")
                    .help = Some("give it one of `reply`, `run`, `choice`, `alias`, `input`".into());
                return None;
            }
            [(kind, _)] => *kind,
            [(first, _), (second, span), ..] => {
                self.push(
                    (*span).clone(),
                    Code::SeveralActions,
                    format!("this record has both `{first}` and `{second}`"),
                )
                .help = Some("a record does exactly one thing; split it into two records".into());
                return None;
            }
        };
        misplaced(
            self,
            "options_from",
            k.options_from.as_ref().map(|v| &v.span),
            &["choice"],
            kind,
        );
        misplaced(self, "confirm", k.confirm.as_ref().map(|v| &v.span), &["choice"], kind);
        misplaced(self, "columns", k.columns.as_ref().map(|v| &v.span), &["choice"], kind);
        misplaced(self, "save_as", k.save_as.as_ref().map(|v| &v.span), &["input"], kind);
        misplaced(self, "accept", k.accept.as_ref().map(|v| &v.span), &["input"], kind);
        misplaced(self, "type", k.r#type.as_ref().map(|v| &v.span), &["input"], kind);
        misplaced(self, "check", k.check.as_ref().map(|v| &v.span), &["input"], kind);
        misplaced(self, "invalid", k.invalid.as_ref().map(|v| &v.span), &["input"], kind);
        misplaced(self, "attempts", k.attempts.as_ref().map(|v| &v.span), &["input"], kind);
        misplaced(
            self,
            "then",
            k.then.as_ref().map(|v| &v.span),
            &["input", "reply", "run"],
            kind,
        );
        let known = COMMON_VARS;
        Some(match kind {
            "reply" => Action::Reply(self.texts().template(k.reply.as_ref()?, known)?),
            "run" => {
                let name = k.run.as_ref()?;
                self.algorithm_ref(name, algorithms);
                Action::Run(name.value.clone())
            }
            "choice" => {
                if let Some(f) = &k.options_from {
                    self.algorithm_ref(f, algorithms);
                }
                let columns = match &k.columns {
                    None => 1,
                    Some(c) if (1..=8).contains(&c.value) => c.value as usize,
                    Some(c) => {
                        self.push(c.span.clone(), Code::BadValue, "`columns` must be from 1 to 8")
                            .help = Some("Telegram shows at most 8 buttons in a row".into());
                        1
                    }
                };
                Action::Choice {
                    title: self.texts().template(k.choice.as_ref()?, known)?,
                    options_from: k.options_from.as_ref().map(|f| f.value.clone()),
                    confirm: k.confirm.as_ref().is_some_and(|c| c.value),
                    columns,
                }
            }
            "alias" => Action::Alias(resolve_alias(self, k.alias.as_ref()?)?),
            _ => {
                if k.then.is_none() {
                    self.push(
                        k.input.as_ref()?.span.clone(),
                        Code::InputWithoutThen,
                        "an `input` step needs `then`",
                    )
                    .help = Some("name the record that handles the answer: `then = \"its_id\"`".into());
                }
                if let Some(s) = &k.save_as
                    && (s.value.is_empty() || !s.value.chars().all(|c| c.is_alphanumeric() || c == '_'))
                {
                    self.push(
                        s.span.clone(),
                        Code::BadValue,
                        format!("`{}` is not a variable name", s.value),
                    )
                    .help = Some("use letters, digits and `_`, so that templates can write `vars.NAME`".into());
                }
                let mut accept = Vec::new();
                match &k.accept {
                    None => accept.push(crate::model::InputKind::Text),
                    Some(kinds) => {
                        for w in &kinds.value {
                            match crate::model::InputKind::parse(&w.value) {
                                Some(kind) => accept.push(kind),
                                None => {
                                    self.push(
                                        w.span.clone(),
                                        Code::BadValue,
                                        format!("`{}` is not a kind of message an input takes", w.value),
                                    )
                                    .help = Some("use text, document, photo, contact or location".into());
                                }
                            }
                        }
                        if kinds.value.is_empty() {
                            self.push(
                                kinds.span.clone(),
                                Code::BadValue,
                                "`accept` must name at least one kind",
                            )
                            .help = Some("use text, document, photo, contact or location".into());
                        }
                    }
                }
                let answer_type = k.r#type.as_ref().and_then(|t| self.answer_type(t, &accept));
                let check = k.check.as_ref().and_then(|c| self.texts().expression(c, known));
                let invalid = k.invalid.as_ref().and_then(|i| self.texts().template(i, known));
                let attempts = k.attempts.as_ref().and_then(|a| {
                    if a.value < 1 {
                        self.push(
                            a.span.clone(),
                            Code::BadValue,
                            format!("`attempts` must be at least 1, not {}", a.value),
                        )
                        .help = Some("leave `attempts` out for no limit".into());
                        return None;
                    }
                    // More than anyone will ever type is no limit at all.
                    Some(u32::try_from(a.value).unwrap_or(u32::MAX))
                });
                // A key with an error was reported above, and the file is not built.
                let question = self.texts().template(k.input.as_ref()?, known)?;
                Action::Input {
                    question,
                    save_as: k.save_as.as_ref().map(|s| s.value.clone()),
                    accept,
                    answer_type,
                    check,
                    invalid,
                    attempts,
                }
            }
        })
    }
}

impl Validator<'_> {
    /// An `input`'s `type`: a known one, on a step that takes text.
    pub(super) fn answer_type(&mut self, t: &Sp<String>, accept: &[InputKind]) -> Option<AnswerType> {
        let Some(answer_type) = AnswerType::parse(&t.value) else {
            let names: Vec<&str> = AnswerType::ALL.iter().map(|(n, _)| *n).collect();
            let d = self.push(
                t.span.clone(),
                Code::UnknownAnswerType,
                format!("`{}` is not a type of answer", t.value),
            );
            d.help = Some(match suggest(&t.value, names.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("use one of: {}", names.join(", ")),
            });
            return None;
        };
        if !accept.contains(&InputKind::Text) {
            self.push(
                t.span.clone(),
                Code::TypeWithoutText,
                format!("`type = \"{}\"` reads text, but this step's `accept` takes no text", t.value),
            )
            .help = Some(
                "add \"text\" to `accept`, or remove `type`: files, photos, contacts and locations are taken as they are"
                    .into(),
            );
            return None;
        }
        Some(answer_type)
    }
}
