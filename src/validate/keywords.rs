//! `[[keyword]]`: records, their words, ids, parents and options, aliases and `then`,
//! public subtrees; each record's action is `actions.rs`.

use super::ids::{Ids, derive_ids};
use super::*;

impl Validator<'_> {
    /// The records of `[[keyword]]`: the enabled ones compiled in file order, whether all of
    /// them compiled, and the top level's word index.
    #[allow(clippy::type_complexity)]
    pub(super) fn keywords(
        &mut self,
        raw: &RawBot,
        algorithms: &indexmap::IndexMap<String, Algorithm>,
        start: &[String],
        cancel: &[String],
    ) -> (Vec<Record>, bool, HashMap<String, usize>) {
        let (entries, by_id) = self.entries(&raw.keywords);
        // Enabled records get their compiled index.
        let mut index: Vec<Option<usize>> = vec![None; entries.len()];
        let mut next = 0;
        for (i, e) in entries.iter().enumerate() {
            if !e.disabled {
                index[i] = Some(next);
                next += 1;
            }
        }
        let ids = Ids {
            by_id: &by_id,
            entries: &entries,
            index,
        };
        let mut records: Vec<Record> = Vec::with_capacity(next);
        let mut ok = true;
        for (i, e) in entries.iter().enumerate() {
            if !e.disabled {
                let (record, compiled) = self.record(e, i, &ids, algorithms);
                ok &= compiled;
                records.push(record);
            }
        }
        let spans: Vec<&RawKeyword> = entries.iter().filter(|e| !e.disabled).map(|e| e.raw).collect();
        let top = self.word_indexes(&mut records, &spans);
        self.options(&mut records, &spans);
        self.public_subtrees(&mut records, &spans, start, cancel);
        graph_checks::check(self.file, self.diagnostics, &records, &spans);
        for r in 0..records.len() {
            records[r].fingerprint = fingerprint::fingerprint(&records, r, spans[r]);
        }
        (records, ok, top)
    }

    /// Every record as written, with its id (explicit ones checked and unique, the others
    /// derived from the words), its parent, and whether it is disabled (itself or by an
    /// ancestor); and the explicit ids.
    fn entries<'r>(&mut self, keywords: &'r [RawKeyword]) -> (Vec<Entry<'r>>, HashMap<String, usize>) {
        let mut by_id: HashMap<String, usize> = HashMap::default();
        let mut entries: Vec<Entry> = Vec::with_capacity(keywords.len());
        for (i, k) in keywords.iter().enumerate() {
            let id = match &k.id {
                Some(id) => {
                    if id.value.is_empty()
                        || !id
                            .value
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                    {
                        self.push(
                            id.span.clone(),
                            Code::BadId,
                            format!("`{}` is not a valid id", id.value),
                        )
                        .help = Some("ids are lowercase Latin letters, digits and `_`".into());
                    }
                    if by_id.contains_key(&id.value) {
                        self.push(
                            id.span.clone(),
                            Code::DuplicateId,
                            format!("another record already has the id `{}`", id.value),
                        )
                        .help = Some("ids must be unique in the bot".into());
                    } else {
                        by_id.insert(id.value.clone(), i);
                    }
                    id.value.clone()
                }
                None => String::new(),
            };
            entries.push(Entry {
                raw: k,
                id,
                parent: None,
                disabled: k.disabled.as_ref().is_some_and(|d| d.value),
            });
        }
        // Parents, then disabled-ness inherited down the parent chain.
        for e in entries.iter_mut() {
            if let Some(p) = &e.raw.parent {
                e.parent = by_id.get(&p.value).copied();
            }
        }
        for i in 0..entries.len() {
            let mut at = entries[i].parent;
            let mut steps = 0;
            while let Some(p) = at {
                if entries[p].disabled || steps > entries.len() {
                    entries[i].disabled = true;
                    break;
                }
                at = entries[p].parent;
                steps += 1;
            }
        }
        derive_ids(&mut entries);
        (entries, by_id)
    }

    /// One enabled record, compiled; whether it compiled (a record whose action has errors
    /// stays as a placeholder, so that the checks after it still see every record and
    /// report all problems at once).
    fn record(
        &mut self,
        e: &Entry,
        i: usize,
        ids: &Ids,
        algorithms: &indexmap::IndexMap<String, Algorithm>,
    ) -> (Record, bool) {
        let mut ok = true;
        let k = e.raw;
        let parent = match &k.parent {
            Some(p) => {
                let r = ids.resolve(self, p, "parent");
                ok &= r.is_some();
                r
            }
            None => None,
        };
        let then = match &k.then {
            Some(t) => {
                let r = ids.resolve(self, t, "then");
                ok &= r.is_some();
                r
            }
            None => None,
        };
        let action = self.action(k, i, algorithms, &|this: &mut Self, name: &Sp<String>| {
            ids.resolve(this, name, "alias")
        });
        let words: Vec<String> = k
            .r#match
            .as_ref()
            .map(|m| m.value.iter().map(|w| w.value.clone()).collect())
            .unwrap_or_default();
        if let Some(m) = &k.r#match
            && m.value.is_empty()
        {
            self.push(m.span.clone(), Code::BadValue, "`match` has no words").help =
                Some("write the words that trigger this record, separated by commas".into());
        }
        let is_star = words.iter().any(|w| w == "*");
        if is_star && k.parent.is_none() {
            self.push(
                k.r#match.as_ref().expect("words come from match").span.clone(),
                Code::StarOutsideOption,
                "`*` matches anything only in an option",
            )
            .help = Some("give this record a `parent`, or match real words".into());
        }
        if let Some(parent) = &k.parent
            && words.is_empty()
        {
            let span = parent.span.clone();
            self.push(
                span,
                Code::OptionWithoutMatch,
                "an option needs `match`: its first word is the button label",
            );
        }
        if let Some(first) = words.first().filter(|w| *w != "*")
            && k.parent.is_some()
        {
            self.label(first, &k.r#match.as_ref().expect("words come from match").span);
        }
        if let Some(menu) = &k.menu {
            for b in menu.value.iter().flatten() {
                self.label(&b.value, &b.span);
            }
        }
        let action_target = k.action.as_ref().is_some_and(|a| a.value);
        if let Some(a) = k.action.as_ref().filter(|a| a.value)
            && k.id.is_none()
        {
            self.push(
                a.span.clone(),
                Code::MisplacedKey,
                "an `action` record needs an explicit `id`",
            )
            .help = Some("give it an `id`: action buttons name the record by it, so it must not change".into());
        }
        ok &= action.is_some();
        // A record whose action has errors stays as a placeholder, so that the
        // checks below still see every record and report all problems at once.
        let action = action.unwrap_or(Action::Reply(Template::plain("")));
        let record = Record {
            id: e.id.clone(),
            // Computed once every record and its options are known, below.
            fingerprint: String::new(),
            words,
            is_star,
            parent,
            action,
            then,
            menu: k.menu.as_ref().map(|m| {
                m.value
                    .iter()
                    .map(|r| r.iter().map(|b| b.value.clone()).collect())
                    .collect()
            }),
            hide_menu: k.hide_menu.as_ref().is_some_and(|h| h.value),
            options: Vec::new(),
            option_index: HashMap::default(),
            star_option: None,
            public: false,
            action_target,
        };
        (record, ok)
    }

    /// Options per parent, and the word index of each scope (the top level, each record's
    /// options), which is also where collisions show; the top level's.
    fn word_indexes(&mut self, records: &mut [Record], spans: &[&RawKeyword]) -> HashMap<String, usize> {
        let mut top = HashMap::default();
        for r in 0..records.len() {
            if let Some(p) = records[r].parent {
                records[p].options.push(r);
            }
        }
        // The word index of each scope (top level, each record's options) is also where collisions show.
        for r in 0..records.len() {
            let scope = records[r].parent;
            let words = std::mem::take(&mut records[r].words);
            for (wi, w) in words.iter().enumerate() {
                if w == "*" {
                    continue;
                }
                let n = normalize(w);
                let index = match scope {
                    None => &mut top,
                    Some(p) => &mut records[p].option_index,
                };
                match index.get(&n) {
                    // The same record repeating a word is harmless.
                    Some(&other) if other == r => {}
                    Some(&other) => {
                        let where_ = match scope {
                            None => "at the top level".to_string(),
                            Some(p) => format!("among the options of `{}`", records[p].label()),
                        };
                        let message = format!(
                            "the word `{w}` is already matched by record `{}` {where_}",
                            records[other].id
                        );
                        self.push(word_span(spans[r], wi), Code::DuplicateWord, message).help =
                            Some("matching ignores case and spaces; remove one of them".into());
                    }
                    None => {
                        index.insert(n, r);
                    }
                }
            }
            records[r].words = words;
        }
        top
    }

    /// Each record's options: a `*` option last, a choice's number of options, options only
    /// under a `choice` or `run`, no menu on a choice's message.
    fn options(&mut self, records: &mut [Record], spans: &[&RawKeyword]) {
        for r in 0..records.len() {
            let options = records[r].options.clone();
            if let Some(&star) = options.iter().find(|&&o| records[o].is_star) {
                records[r].star_option = Some(star);
                let after: Vec<usize> = options.iter().copied().skip_while(|&o| o != star).skip(1).collect();
                for o in after {
                    self.push(
                        spans[o].span.clone(),
                        Code::ShadowedOption,
                        format!(
                            "option `{}` can never be chosen by typing: the earlier `*` option takes everything",
                            records[o].label()
                        ),
                    )
                    .help = Some("move the `*` option last".into());
                }
            }
            let raw = spans[r];
            match &records[r].action {
                Action::Choice { options_from, .. } => {
                    let static_options = options.iter().filter(|&&o| !records[o].is_star).count();
                    if options.is_empty() && options_from.is_none() {
                        let span = raw.choice.as_ref().map(|c| c.span.clone()).unwrap_or(raw.span.clone());
                        self.push(
                            span,
                            Code::ChoiceWithoutOptions,
                            format!("the choice `{}` has no options", records[r].id),
                        )
                        .help = Some(match &raw.id {
                            Some(id) => format!("add records with `parent = \"{}\"`, or set `options_from`", id.value),
                            // A derived id cannot be named: `parent` needs an explicit one.
                            None => "give it an `id` and add records with `parent` set to it, or set `options_from`"
                                .to_string(),
                        });
                    }
                    if static_options > MAX_OPTIONS {
                        let span = raw.choice.as_ref().map(|c| c.span.clone()).unwrap_or(raw.span.clone());
                        self.push(
                            span,
                            Code::TooManyOptions,
                            format!(
                                "the choice `{}` has {static_options} options; Telegram shows at most {MAX_OPTIONS}",
                                records[r].id
                            ),
                        )
                        .help = Some("split it into nested choices".into());
                    }
                }
                Action::Run(_) => {}
                _ if !options.is_empty() => {
                    for &o in &options {
                        let span = spans[o]
                            .parent
                            .as_ref()
                            .map(|p| p.span.clone())
                            .unwrap_or(spans[o].span.clone());
                        self.push(
                            span,
                            Code::ParentNotChoice,
                            format!(
                                "the parent `{}` is a `{}` record, not a `choice` or `run`",
                                records[r].id,
                                records[r].action.kind()
                            ),
                        )
                        .help = Some(
                            "options belong to a record with `choice` (or `run` of an algorithm that returns options)"
                                .into(),
                        );
                    }
                }
                _ => {}
            }
            if records[r].menu.is_some() && matches!(records[r].action, Action::Choice { .. }) {
                self.push(
                    spans[r]
                        .menu
                        .as_ref()
                        .map(|m| m.span.clone())
                        .unwrap_or(raw.span.clone()),
                    Code::MenuWithButtons,
                    "a choice message carries inline buttons, so its menu goes on a message of its own",
                )
                .help = Some("put the menu on a `reply` record that leads to the choice with `then`".into());
            }
        }
    }

    /// Marks the subtrees of `public` top-level records, and checks that `public` is on a
    /// top-level record, that its words are not `start` or `cancel` words, and that no
    /// `alias` or `then` inside leads out.
    pub(super) fn public_subtrees(
        &mut self,
        records: &mut [Record],
        spans: &[&RawKeyword],
        start: &[String],
        cancel: &[String],
    ) {
        for r in 0..records.len() {
            let Some(public) = spans[r].public.as_ref().filter(|p| p.value) else {
                continue;
            };
            if records[r].parent.is_some() {
                self.push(
                    public.span.clone(),
                    Code::MisplacedKey,
                    "`public` applies to top-level records only",
                )
                .help = Some("mark the top-level record above it: what lies below a public record is public".into());
                continue;
            }
            records[r].public = true;
            for (wi, w) in records[r].words.iter().enumerate() {
                let n = normalize(w);
                if start.contains(&n) || cancel.contains(&n) {
                    self.push(
                        word_span(spans[r], wi),
                        Code::PublicStartWord,
                        format!("the public word `{w}` is also a `start` or `cancel` word"),
                    )
                    .help = Some("start and cancel words work for everyone already; choose another word".into());
                }
            }
        }
        // A record is public when it or one of its parents is.
        let in_public: Vec<bool> = (0..records.len())
            .map(|r| {
                let mut at = Some(r);
                let mut hops = 0;
                while let Some(i) = at {
                    if records[i].public {
                        return true;
                    }
                    hops += 1;
                    if hops > records.len() {
                        return false;
                    }
                    at = records[i].parent;
                }
                false
            })
            .collect();
        for r in 0..records.len() {
            records[r].public = in_public[r];
            if !in_public[r] {
                continue;
            }
            let mut leaves = Vec::new();
            if let Action::Alias(target) = records[r].action
                && !in_public[target]
            {
                leaves.push(("alias", target, spans[r].alias.as_ref().map(|a| a.span.clone())));
            }
            if let Some(target) = records[r].then
                && !in_public[target]
            {
                leaves.push(("then", target, spans[r].then.as_ref().map(|t| t.span.clone())));
            }
            for (key, target, span) in leaves {
                self.push(
                    span.unwrap_or(spans[r].span.clone()),
                    Code::LeavesPublic,
                    format!(
                        "`{key}` leads from the public record `{}` to `{}`, which strangers may not reach",
                        records[r].id, records[target].id
                    ),
                )
                .help = Some(format!(
                    "make `{}` part of a public subtree, or lead elsewhere",
                    records[target].id
                ));
            }
        }
    }
}

/// The span of the `n`th word of a record's `match`.
fn word_span(k: &RawKeyword, n: usize) -> Range<usize> {
    k.r#match
        .as_ref()
        .and_then(|m| m.value.get(n))
        .map(|w| w.span.clone())
        .unwrap_or(k.span.clone())
}
