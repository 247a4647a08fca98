//! What a step reports for the insights log (api.md, Insights): the outcome of the
//! update and the events along the way. The engine only reports them; the runtime
//! writes them in the group commit.

use super::turn::Turn;

/// Where an update ended up: one per handled update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reached {
    /// A record ran (its id; through an `alias`, the record it names).
    Record(String),
    /// Nothing matched: the text as typed, or `None` when the bot sets `log_texts = false`.
    Unknown(Option<String>),
    /// Code mode: an expression or an exposed algorithm's name.
    Code,
    /// The registration chain, or an operator's side of it.
    Auth,
    /// A notification's action button ran its record (its id).
    Action(String),
    /// A press of a button of another definition or an outdated message.
    Stale,
    /// A cancel word.
    Cancel,
    /// A start word: the greeting.
    Start,
    /// Anything else (a message of a kind nothing takes, a confirmation asked again).
    Other,
}

impl Reached {
    /// The outcome as the log writes it.
    pub fn kind(&self) -> &'static str {
        match self {
            Reached::Record(_) => "record",
            Reached::Unknown(_) => "unknown",
            Reached::Code => "code",
            Reached::Auth => "auth",
            Reached::Action(_) => "action",
            Reached::Stale => "stale",
            Reached::Cancel => "cancel",
            Reached::Start => "start",
            Reached::Other => "other",
        }
    }
}

/// How an algorithm call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallResult {
    Ok,
    Failed,
    Timeout,
}

impl CallResult {
    pub fn as_str(self) -> &'static str {
        match self {
            CallResult::Ok => "ok",
            CallResult::Failed => "failed",
            CallResult::Timeout => "timeout",
        }
    }
}

/// One event of a step, in the order it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Insight {
    /// A choice was shown (its record's id), static or with an algorithm's options.
    ChoiceShown { choice: String },
    /// An option of a choice was taken (before any confirmation): a static option's record
    /// id, a dynamic option's value.
    OptionTaken {
        choice: String,
        option: String,
        label: String,
    },
    /// An `input` step asked its question.
    InputAsked { record: String },
    /// An `input` step took its answer.
    InputAnswered { record: String },
    /// An `input` step refused an answer (and stays pending).
    InputInvalid { record: String },
    /// An `input` step was left unanswered (a cancel word, a top-level word, a lost registration).
    InputGaveUp { record: String },
    /// An algorithm was called: how long it took and how it ended.
    Algorithm { name: String, ms: u64, result: CallResult },
}

impl Insight {
    /// The event as the log writes it.
    pub fn kind(&self) -> &'static str {
        match self {
            Insight::ChoiceShown { .. } => "shown",
            Insight::OptionTaken { .. } => "option",
            Insight::InputAsked { .. } => "asked",
            Insight::InputAnswered { .. } => "answered",
            Insight::InputInvalid { .. } => "invalid",
            Insight::InputGaveUp { .. } => "gave_up",
            Insight::Algorithm { .. } => "algorithm",
        }
    }
}

/// What one step returns: the messages to send and what the insights log keeps of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub out: Vec<super::Outgoing>,
    pub reached: Reached,
    pub insights: Vec<Insight>,
}

impl Turn<'_> {
    /// The step's outcome, unless an earlier part of the step set it.
    pub(super) fn reached(&mut self, reached: Reached) {
        if self.reached.is_none() {
            self.reached = Some(reached);
        }
    }

    pub(super) fn insight(&mut self, insight: Insight) {
        self.insights.push(insight);
    }

    /// The pending `input` step, if any, was left unanswered.
    pub(super) fn input_left(&mut self, pending: Option<&super::Pending>) {
        if let Some(super::Pending::Input { record, .. }) = pending {
            let record = record.clone();
            self.insight(Insight::InputGaveUp { record });
        }
    }
}
