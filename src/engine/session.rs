//! What the engine remembers of one user between messages. Serializable;
//! names records by their stable ids and carries the fingerprints of the
//! records it stands on, so that a reload drops only what changed.

use crate::model::CompiledBot;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// The fingerprint ([`STAMP`] hex digits) of every record that the open choice, the
    /// pending step and the remembered messages stand on, by record id, as those records
    /// were when the session got there (bot-format.md, "Changing a bot file"). A session
    /// stored before fingerprints has none: everything it stands on counts as changed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub stamps: BTreeMap<String, String>,
    /// The choice (or options-returning run) whose options are on offer.
    pub open: Option<OpenChoice>,
    /// A step waiting for this user's next message.
    pub pending: Option<Pending>,
    /// Values saved by `input` steps (`vars`).
    pub vars: serde_json::Map<String, serde_json::Value>,
    /// A counter that makes every offered dynamic list and confirmation unique.
    pub seq: u32,
    /// The user's last messages with option or yes/no buttons, as they were shown, oldest
    /// first (at most [`SHOWN`]): a press acts on its own message, never on a later one.
    #[serde(default, skip_serializing_if = "std::collections::VecDeque::is_empty")]
    pub shown: std::collections::VecDeque<Shown>,
    /// The labels of the user's reply keyboard (the last `menu` sent; none after `hide_menu`),
    /// normalized, and the record that set it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub menu: Option<ReplyKeyboard>,
}

/// How many messages with buttons a press may still act on.
pub const SHOWN: usize = 20;

/// How many hex digits of a record's fingerprint a session keeps: 64 bits, plenty to tell
/// an edit from none (the file's author is no adversary), in a fraction of the space.
pub const STAMP: usize = 16;

/// A message with option or yes/no buttons, as it was shown: its choice (the options,
/// dynamic ones included, and the path), and for a confirmation the option it asks about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shown {
    pub seq: u32,
    pub open: OpenChoice,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub option: Option<ChosenOption>,
}

impl Session {
    /// Remembers a message with buttons (the oldest beyond [`SHOWN`] are forgotten).
    pub fn remember(&mut self, shown: Shown) {
        self.shown.retain(|s| s.seq != shown.seq);
        self.shown.push_back(shown);
        while self.shown.len() > SHOWN {
            self.shown.pop_front();
        }
    }

    /// The message shown with `seq`, if it is among the remembered ones.
    pub fn shown(&self, seq: u32) -> Option<&Shown> {
        self.shown.iter().find(|s| s.seq == seq)
    }

    /// Drops what stands on a record that changed since the session got there, was removed
    /// or disabled (its stamp differs from the record's fingerprint now, or it has none): the
    /// open choice, a pending `input` or confirmation, and remembered messages, whose
    /// buttons then get `choice_stale`. Everything else stays: `vars`, the reply keyboard,
    /// auth steps. Returns whether anything was dropped.
    pub fn drop_changed(&mut self, bot: &CompiledBot) -> bool {
        // Each stamped record looked up once (a session stands on a few records, and may
        // remember many messages of each).
        let current: std::collections::BTreeSet<String> = self
            .stamps
            .iter()
            .filter(|(id, stamp)| bot.fingerprint_of(id, STAMP) == Some(stamp.as_str()))
            .map(|(id, _)| id.clone())
            .collect();
        let unchanged = |id: &str| current.contains(id);
        let mut dropped = false;
        if self.open.as_ref().is_some_and(|o| !unchanged(&o.record)) {
            self.open = None;
            dropped = true;
        }
        let stands = match &self.pending {
            Some(Pending::Input { record, .. }) => unchanged(record),
            Some(Pending::Confirm { open, .. }) => unchanged(&open.record),
            _ => true,
        };
        if !stands {
            self.pending = None;
            dropped = true;
        }
        let before = self.shown.len();
        self.shown.retain(|s| unchanged(&s.open.record));
        dropped |= self.shown.len() != before;
        dropped
    }

    /// Stamps every record the session stands on with its fingerprint in `bot`, forgetting
    /// the stamps of records it no longer stands on. Called before the session is saved:
    /// whatever stands on a record got there under the definition being run.
    pub fn stamp(&mut self, bot: &CompiledBot) {
        let mut ids: Vec<&str> = Vec::new();
        ids.extend(self.open.as_ref().map(|o| o.record.as_str()));
        match &self.pending {
            Some(Pending::Input { record, .. }) => ids.push(record),
            Some(Pending::Confirm { open, .. }) => ids.push(&open.record),
            _ => {}
        }
        ids.extend(self.shown.iter().map(|s| s.open.record.as_str()));
        ids.sort_unstable();
        ids.dedup();
        let stamps: BTreeMap<String, String> = ids
            .into_iter()
            .filter_map(|id| Some((id.to_string(), bot.fingerprint_of(id, STAMP)?.to_string())))
            .collect();
        self.stamps = stamps;
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplyKeyboard {
    pub record: String,
    pub labels: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenChoice {
    pub record: String,
    pub history: Vec<HistoryEntry>,
    /// The options an algorithm returned; they live only while this choice is open.
    pub dynamic: Option<Vec<DynamicOption>>,
    pub seq: u32,
    /// The text of the message that carried the options, as the user saw it: the `title` of
    /// the history entry an option adds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DynamicOption {
    pub label: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// The choice record's id (to cut history on re-entry).
    pub record: String,
    /// The choice's label: its first word, or its id when it has none.
    pub choice: String,
    pub title: String,
    pub selected: String,
    /// The label of the option taken, as its button showed it (`selected_title`).
    #[serde(default)]
    pub label: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Pending {
    /// An `input` step waits for its answer.
    Input {
        record: String,
        history: Vec<HistoryEntry>,
        selected: Option<String>,
        /// `selected_title` where the step was asked.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        selected_title: Option<String>,
        /// Answers refused in a row (`check`, `type`), for `attempts`.
        #[serde(default, skip_serializing_if = "is_zero")]
        refused: u32,
    },
    /// A choice with `confirm` waits for yes or no.
    Confirm {
        open: OpenChoice,
        option: ChosenOption,
        seq: u32,
    },
    /// The registration data is awaited.
    AuthData,
    /// The registration data waits for confirmation.
    AuthConfirm { data: String, seq: u32 },
    /// An approving operator chooses the kind.
    OperatorKind { request: u64 },
    /// An approving operator enters the name.
    OperatorName { request: u64, kind: String },
    /// A rejecting operator enters the reason.
    OperatorReason { request: u64 },
    /// An approving operator types a search text for `[auth] lookup`.
    OperatorLookup { request: u64, kind: String },
    /// An approving operator picks one of the principals the lookup found.
    OperatorPick { request: u64, found: Vec<Found> },
}

impl Pending {
    /// A step of the authorization flow (the user's own data entry, or an operator's answer):
    /// these need no registration.
    pub fn is_auth_step(&self) -> bool {
        matches!(
            self,
            Pending::AuthData
                | Pending::AuthConfirm { .. }
                | Pending::OperatorKind { .. }
                | Pending::OperatorName { .. }
                | Pending::OperatorReason { .. }
                | Pending::OperatorLookup { .. }
                | Pending::OperatorPick { .. }
        )
    }
}

/// A principal the `lookup` algorithm found, with the label of its button.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Found {
    pub label: String,
    pub principal: crate::engine::Principal,
}

/// An option the user took, before its action runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ChosenOption {
    /// A static option record, by id; `typed` is what a `"*"` option received.
    Static {
        record: String,
        typed: Option<String>,
    },
    Dynamic(DynamicOption),
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}
