//! Texts inside TOML strings: templates, expressions, HTML and length.
//! Positions found inside a string are mapped back to the file.

use crate::diagnostics::{Code, Diagnostic, SourceFile};
use crate::expr::{self, Expr, NameProblem, Template};
use crate::syntax::Sp;
use std::ops::Range;
use std::sync::Arc;

/// Telegram's message limit in characters.
pub use crate::html::check_html;
pub use crate::limits::MAX_MESSAGE;

pub struct TextChecker<'a> {
    pub file: &'a Arc<SourceFile>,
    pub diagnostics: &'a mut Vec<Diagnostic>,
}

impl TextChecker<'_> {
    /// Maps a byte range inside a string's value to the file. Exact where the
    /// string is written without escapes; otherwise the whole string.
    fn map(&self, value: &Sp<String>, inner: Range<usize>) -> Range<usize> {
        let raw = self.file.text.get(value.span.clone()).unwrap_or("");
        let (delim, literal) = if raw.starts_with("\"\"\"") {
            (3, false)
        } else if raw.starts_with("'''") {
            (3, true)
        } else if raw.starts_with('"') {
            (1, false)
        } else if raw.starts_with('\'') {
            (1, true)
        } else {
            return value.span.clone();
        };
        if raw.len() < 2 * delim {
            return value.span.clone();
        }
        let mut body = &raw[delim..raw.len() - delim];
        let mut start = value.span.start + delim;
        if delim == 3 {
            if let Some(rest) = body.strip_prefix("\r\n") {
                body = rest;
                start += 2;
            } else if let Some(rest) = body.strip_prefix('\n') {
                body = rest;
                start += 1;
            }
        }
        if (literal || !body.contains('\\')) && body == value.value {
            (start + inner.start)..(start + inner.end.max(inner.start + 1).min(body.len().max(inner.start + 1)))
        } else {
            value.span.clone()
        }
    }

    fn push(&mut self, span: Range<usize>, code: Code, message: String, help: Option<String>) {
        let mut d = Diagnostic::new(self.file, span, code, message);
        d.help = help;
        self.diagnostics.push(d);
    }

    /// Compiles a text: its templates, its HTML and its length. `None` when it has errors.
    pub fn template(&mut self, value: &Sp<String>, known: &[&str]) -> Option<Template> {
        let template = match expr::parse_template(&value.value) {
            Ok(t) => t,
            Err(e) => {
                let span = self.map(value, e.span);
                self.push(
                    span,
                    Code::ExprSyntax,
                    format!("this template does not parse: {}", e.message),
                    Some("a template is `{{ expression }}`; write `{{` only to open one".into()),
                );
                return None;
            }
        };
        let mut ok = true;
        for e in template.expressions() {
            ok &= self.names(value, e, known);
        }
        ok &= self.html(value);
        if !template.has_expressions() {
            let length = visible_length(&value.value);
            if length > MAX_MESSAGE {
                self.push(
                    value.span.clone(),
                    Code::TextTooLong,
                    format!("this text is {length} characters long; Telegram allows {MAX_MESSAGE}"),
                    Some("split it into several records joined with `then`".into()),
                );
                ok = false;
            }
        }
        ok.then_some(template)
    }

    /// Compiles an `expr` algorithm.
    pub fn expression(&mut self, value: &Sp<String>, known: &[&str]) -> Option<Expr> {
        match expr::parse_expression(&value.value) {
            Ok(e) => self.names(value, &e, known).then_some(e),
            Err(e) => {
                let span = self.map(value, e.span);
                self.push(
                    span,
                    Code::ExprSyntax,
                    format!("this expression does not parse: {}", e.message),
                    None,
                );
                None
            }
        }
    }

    fn names(&mut self, value: &Sp<String>, e: &Expr, known: &[&str]) -> bool {
        let mut problems = Vec::new();
        expr::check_names(e, known, &mut problems);
        let ok = problems.is_empty();
        for p in problems {
            match p {
                NameProblem::UnknownVariable { name, span, suggestion } => {
                    let help = match suggestion {
                        Some(s) => {
                            format!("did you mean `{s}`? Variables here: {}", known.join(", "))
                        }
                        None => format!("variables here: {}", known.join(", ")),
                    };
                    let span = self.map(value, span);
                    self.push(
                        span,
                        Code::UnknownVariable,
                        format!("unknown variable `{name}`"),
                        Some(help),
                    );
                }
                NameProblem::UnknownFunction { name, span, suggestion } => {
                    let help = suggestion
                        .map(|s| format!("did you mean `{s}`?"))
                        .or(Some("`botwright eval --help` lists the built-in functions".into()));
                    let span = self.map(value, span);
                    self.push(span, Code::UnknownFunction, format!("unknown function `{name}`"), help);
                }
                NameProblem::WrongArity { message, span } => {
                    let span = self.map(value, span);
                    self.push(span, Code::WrongArity, message, None);
                }
            }
        }
        ok
    }

    fn html(&mut self, value: &Sp<String>) -> bool {
        match check_html(&value.value) {
            Ok(()) => true,
            Err((at, message, help)) => {
                let span = self.map(value, at);
                self.push(span, Code::BadHtml, message, Some(help));
                false
            }
        }
    }
}

/// The characters a text shows once tags are removed and entities read.
fn visible_length(text: &str) -> usize {
    let mut n = 0;
    let mut in_tag = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            '&' if !in_tag => {
                n += 1;
                while let Some(&d) = chars.peek() {
                    chars.next();
                    if d == ';' || !(d.is_ascii_alphanumeric() || d == '#') {
                        break;
                    }
                }
            }
            _ if !in_tag => n += 1,
            _ => {}
        }
    }
    n
}
