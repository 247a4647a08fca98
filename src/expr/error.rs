//! The error of evaluation, apart from the evaluator: `time.rs` (deadlines,
//! formats) reports it too, and sits below the evaluator.

use std::fmt;

/// An evaluation error: a message a user can act on.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalError(pub String);

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for EvalError {}
