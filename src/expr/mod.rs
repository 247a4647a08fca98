//! The expression language (../shared/spec/expressions.md): parsing through
//! the pest grammar, a static check of names, and a sandboxed evaluator.
//!
//! **Invariant:** evaluation never reads the clock, the network or files;
//! `now` comes in through [`Context`].

pub mod ast;
pub mod builtins;
pub mod error;
pub mod eval;
pub mod parse;
pub mod time;
pub mod value;

pub use ast::{Expr, Template};
pub use builtins::Builtin;
pub use eval::{Context, EvalError, call_builtin, escape_html, evaluate, render};
pub use parse::{SyntaxError, parse_expression, parse_template};
pub use value::Value;

use ast::ExprKind;
use std::ops::Range;

/// A problem with names in a parsed expression, found before it ever runs.
#[derive(Debug, Clone, PartialEq)]
pub enum NameProblem {
    UnknownVariable {
        name: String,
        span: Range<usize>,
        suggestion: Option<String>,
    },
    UnknownFunction {
        name: String,
        span: Range<usize>,
        suggestion: Option<String>,
    },
    WrongArity {
        message: String,
        span: Range<usize>,
    },
}

/// Checks that every variable is in `known` and every call names a built-in with the right arity.
pub fn check_names(expr: &Expr, known: &[&str], problems: &mut Vec<NameProblem>) {
    expr.visit(&mut |e| match &e.kind {
        ExprKind::Var(name) if !known.contains(&name.as_str()) => {
            problems.push(NameProblem::UnknownVariable {
                name: name.clone(),
                span: e.span.clone(),
                suggestion: crate::diagnostics::suggest(name, known.iter().copied()).map(str::to_string),
            });
        }
        ExprKind::Call {
            name, function: None, ..
        } => {
            let names = Builtin::ALL.iter().map(|b| b.english());
            problems.push(NameProblem::UnknownFunction {
                name: name.clone(),
                span: e.span.start..e.span.start + name.len(),
                suggestion: crate::diagnostics::suggest(name, names).map(str::to_string),
            });
        }
        ExprKind::Call {
            name,
            function: Some(f),
            args,
        } => {
            let (min, max) = f.arity();
            if args.len() < min || args.len() > max {
                problems.push(NameProblem::WrongArity {
                    message: eval::arity_message(name, min, max, args.len()),
                    span: e.span.clone(),
                });
            }
        }
        _ => {}
    });
}
