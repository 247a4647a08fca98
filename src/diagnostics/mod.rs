//! Diagnostics: what the compiler found, where, and how to fix it.
//!
//! Finding problems and drawing them are separate: validators push
//! [`Diagnostic`] values; [`render`] turns them into human, JSON or GitHub
//! output. Every kind of problem has a stable [`Code`].

mod codes;
mod render;

pub use codes::Code;
pub use render::{Format, render, summary};

use std::ops::Range;
use std::sync::Arc;

/// One source file the compiler read, kept for rendering carets.
#[derive(Debug)]
pub struct SourceFile {
    pub path: String,
    pub text: String,
    line_starts: Vec<usize>,
}

impl SourceFile {
    pub fn new(path: impl Into<String>, text: impl Into<String>) -> Arc<SourceFile> {
        let text = text.into();
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Arc::new(SourceFile {
            path: path.into(),
            text,
            line_starts,
        })
    }

    /// One-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = match self.line_starts.binary_search(&offset) {
            Ok(l) => l,
            Err(l) => l - 1,
        };
        let start = self.line_starts[line];
        let col_end = self.text.floor_char_boundary(offset);
        (line + 1, self.text[start..col_end].chars().count() + 1)
    }

    /// The whole lines that `span` touches, with their line ends: the first one's number
    /// (one-based) and their bytes. Rendering reads only these, however long the file.
    pub fn lines_of(&self, span: &Range<usize>) -> (usize, Range<usize>) {
        let (first, _) = self.line_col(span.start);
        let (last, _) = self.line_col(span.end.max(span.start));
        let start = self.line_starts[first - 1];
        let end = self.line_starts.get(last).copied().unwrap_or(self.text.len());
        (first, start..end)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One problem in one place.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    pub file: Arc<SourceFile>,
    pub span: Range<usize>,
    pub code: Code,
    pub message: String,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn new(file: &Arc<SourceFile>, span: Range<usize>, code: Code, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            file: file.clone(),
            span,
            code,
            message: message.into(),
            help: None,
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    pub fn severity(&self) -> Severity {
        self.code.severity()
    }

    pub fn is_error(&self) -> bool {
        self.severity() == Severity::Error
    }

    /// (line, column, end line, end column), one-based.
    pub fn position(&self) -> (usize, usize, usize, usize) {
        let (l, c) = self.file.line_col(self.span.start);
        let (el, ec) = self.file.line_col(self.span.end);
        (l, c, el, ec)
    }
}

/// Sorts diagnostics by file, then position, then code, as `check` prints them.
pub fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by(|a, b| {
        (a.file.path.as_str(), a.span.start, a.code).cmp(&(b.file.path.as_str(), b.span.start, b.code))
    });
}

/// "Did you mean" by edit distance: the nearest candidate within a third of the word's length.
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let length = word.chars().count();
    let limit = (length / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), c))
        .filter(|(d, _)| *d <= limit && *d < length)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}
