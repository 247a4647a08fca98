//! Record fingerprints (bot-format.md, "Changing a bot file"): SHA-256 of a canonical
//! form of exactly what a press on a record's buttons, or an answer to its question, does.
//! A conversation standing on a record (an open choice, a pending `input`, a pending
//! confirmation) survives a reload while that record's fingerprint stays the same.
//!
//! What each kind of record writes, in this order:
//! - `choice`: `options_from` (when set), `confirm`, then `options`;
//! - `run` (whose algorithm may return options): `run`, then `options`;
//! - `input`: `save_as` (when set), `then` (the id of the record it leads to, when set),
//!   `type` and `check` (when set), then `accept`;
//! - `reply` and `alias`: nothing (no conversation waits on them).
//!
//! `options` are the records whose `parent` this is, in file order, each as its id and its
//! `match` words as written (the first is its label). Texts (`reply`, a choice's title, an
//! input's question, `[texts]`, names), `columns`, `menu` and the options' own actions are
//! not part of it: changing them keeps every conversation.
//!
//! **Invariant:** the canonical form is written here byte by byte (explicit order, explicit
//! lengths), never through `Debug`, serde or the iteration order of a hash map, so a
//! fingerprint is the same on every build, machine and version; `tests/it/bots.rs` pins
//! some of `bots/demo.toml`'s. Changing the form is changing every fingerprint: every
//! open choice and pending step of every user is then dropped at the next message.
//!
//! Encoding (version 1): the text `botwright.record.v1` and the record's kind, then each
//! field as its name and its value. A text is its length in bytes (8 bytes, big-endian) and
//! its UTF-8 bytes; a flag is one byte, 0 or 1; a list is its length (8 bytes, big-endian)
//! and its items. An absent optional field is not written at all, so a key that joins the
//! form later leaves the fingerprints of the records that do not use it as they were.

use crate::model::{Action, InputKind, Record, RecordIdx};
use crate::syntax::RawKeyword;
use sha2::{Digest, Sha256};

/// The fingerprint (64 hex digits) of record `r`, with `raw` the keyword it was compiled from.
pub(super) fn fingerprint(records: &[Record], r: RecordIdx, raw: &RawKeyword) -> String {
    let record = &records[r];
    let mut form = Canonical::new(record.action.kind());
    match &record.action {
        Action::Choice {
            options_from, confirm, ..
        } => {
            if let Some(name) = options_from {
                form.field("options_from").text(name);
            }
            form.field("confirm").flag(*confirm);
            form.options(records, &record.options);
        }
        Action::Run(name) => {
            form.field("run").text(name);
            form.options(records, &record.options);
        }
        Action::Input { save_as, accept, .. } => {
            if let Some(name) = save_as {
                form.field("save_as").text(name);
            }
            if let Some(then) = record.then {
                form.field("then").text(&records[then].id);
            }
            let (answer_type, check) = type_and_check(raw);
            if let Some(name) = answer_type {
                form.field("type").text(name);
            }
            if let Some(source) = check {
                form.field("check").text(source);
            }
            // As a set, in one fixed order: `accept = ["text", "document"]` written the other
            // way round takes the same messages.
            let kinds: Vec<&str> = InputKind::ALL
                .iter()
                .filter(|(_, kind)| accept.contains(kind))
                .map(|(name, _)| *name)
                .collect();
            form.field("accept").count(kinds.len());
            for name in kinds {
                form.text(name);
            }
        }
        Action::Reply(_) | Action::Alias(_) => {}
    }
    form.finish()
}

/// How an `input` reads and checks its answer: its `type` (the name as written) and the
/// source of its `check` (as written), from the keyword (bot-format.md, `input`). Both
/// belong to the fingerprint of a pending `input`; records that set neither keep the
/// fingerprints they had before these keys existed.
fn type_and_check(raw: &RawKeyword) -> (Option<&str>, Option<&str>) {
    (
        raw.r#type.as_ref().map(|t| t.value.as_str()),
        raw.check.as_ref().map(|c| c.value.as_str()),
    )
}

/// The canonical form of one record, fed to SHA-256 as it is written.
struct Canonical(Sha256);

impl Canonical {
    const VERSION: &'static str = "botwright.record.v1";

    fn new(kind: &str) -> Canonical {
        let mut form = Canonical(Sha256::new());
        form.text(Canonical::VERSION).text(kind);
        form
    }

    fn field(&mut self, name: &str) -> &mut Canonical {
        self.text(name)
    }

    fn text(&mut self, text: &str) -> &mut Canonical {
        self.count(text.len());
        self.0.update(text.as_bytes());
        self
    }

    fn count(&mut self, n: usize) -> &mut Canonical {
        self.0.update((n as u64).to_be_bytes());
        self
    }

    fn flag(&mut self, on: bool) -> &mut Canonical {
        self.0.update([u8::from(on)]);
        self
    }

    /// Which records are offered, in which order, with their labels and words.
    fn options(&mut self, records: &[Record], options: &[RecordIdx]) {
        self.field("options").count(options.len());
        for &o in options {
            self.text(&records[o].id).count(records[o].words.len());
            for word in &records[o].words {
                self.text(word);
            }
        }
    }

    fn finish(self) -> String {
        self.0.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}
