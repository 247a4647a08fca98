//! Records' ids: derived for records without one, and resolved for `parent`, `then`
//! and `alias`.

use super::*;

/// The ids of a file's records, for `parent`, `then` and `alias` to name them.
pub(super) struct Ids<'e> {
    pub(super) by_id: &'e HashMap<String, usize>,
    pub(super) entries: &'e [Entry<'e>],
    /// Each entry's compiled index (`None`: disabled).
    pub(super) index: Vec<Option<usize>>,
}

impl Ids<'_> {
    /// The compiled index of the record `name` names as `what`, or a diagnostic.
    pub(super) fn resolve(&self, this: &mut Validator<'_>, name: &Sp<String>, what: &str) -> Option<usize> {
        let (by_id, entries, index) = (self.by_id, self.entries, &self.index);
        match by_id.get(&name.value) {
            None => {
                let d = this.push(
                    name.span.clone(),
                    Code::UnknownRecord,
                    format!("`{what}` names no record: `{}`", name.value),
                );
                d.help = Some(match suggest(&name.value, by_id.keys().map(String::as_str)) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => "give the record you mean an `id`".into(),
                });
                None
            }
            Some(&target) if entries[target].disabled => {
                this.push(
                    name.span.clone(),
                    Code::DisabledRecord,
                    format!("`{what}` names the disabled record `{}`", name.value),
                )
                .help = Some("enable that record or point elsewhere".into());
                None
            }
            Some(&target) => index[target],
        }
    }
}

/// Gives every enabled record without an `id` one derived from its words (bot-format.md,
/// `id`): its first `match` word normalized, after the `parent` as written and `/` for an
/// option (`choice/вариант№1`). Adding, removing or moving other records changes none of
/// them, so conversations standing on them survive such edits.
///
/// Two enabled records must not share an id. An explicit id keeps its own; a derived id
/// that another enabled record already has (an explicit one, or an earlier derived one;
/// only possible when words collide, which is an error itself, or for words that look
/// like ids or contain `/`) gets `~2`, `~3`… in file order. A record with neither `match`
/// nor `id`, which nothing can reach (`alias` and `then` need an explicit id), is `#N`,
/// N its position among the file's keywords.
pub(super) fn derive_ids(entries: &mut [Entry]) {
    let mut taken: std::collections::HashSet<String> = entries
        .iter()
        .filter(|e| !e.disabled && e.raw.id.is_some())
        .map(|e| e.id.clone())
        .collect();
    for (i, e) in entries.iter_mut().enumerate() {
        if e.raw.id.is_some() {
            continue;
        }
        let word = e
            .raw
            .r#match
            .as_ref()
            .and_then(|m| m.value.first())
            .map(|w| normalize(&w.value))
            .filter(|w| !w.is_empty());
        let Some(word) = word else {
            e.id = format!("#{}", i + 1);
            continue;
        };
        let derived = match &e.raw.parent {
            Some(parent) => format!("{}/{word}", parent.value),
            None => word,
        };
        if e.disabled {
            e.id = derived;
            continue;
        }
        let mut id = derived.clone();
        let mut n = 1;
        while taken.contains(&id) {
            n += 1;
            id = format!("{derived}~{n}");
        }
        taken.insert(id.clone());
        e.id = id;
    }
}
