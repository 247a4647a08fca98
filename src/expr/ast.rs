//! The syntax tree of expressions and templates.

use super::builtins::Builtin;
use super::value::Value;
use std::ops::Range;

#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    /// Byte range in the source the expression was parsed from.
    pub span: Range<usize>,
    /// The height of this tree: evaluation recurses this deep.
    pub depth: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Literal(Value),
    Var(String),
    Member(Box<Expr>, String),
    Index(Box<Expr>, Box<Expr>),
    Call {
        name: String,
        /// The built-in named, or `None` for a name no built-in has.
        function: Option<Builtin>,
        args: Vec<Expr>,
    },
    List(Vec<Expr>),
    Object(Vec<(String, Expr)>),
    Unary(UnOp, Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    If(Box<Expr>, Box<Expr>, Box<Expr>),
}

impl Expr {
    pub fn new(kind: ExprKind, span: Range<usize>) -> Expr {
        let below = match &kind {
            ExprKind::Literal(_) | ExprKind::Var(_) => 0,
            ExprKind::Member(e, _) | ExprKind::Unary(_, e) => e.depth,
            ExprKind::Index(a, b) | ExprKind::Binary(_, a, b) => a.depth.max(b.depth),
            ExprKind::Call { args, .. } | ExprKind::List(args) => args.iter().map(|a| a.depth).max().unwrap_or(0),
            ExprKind::Object(fields) => fields.iter().map(|(_, e)| e.depth).max().unwrap_or(0),
            ExprKind::If(a, b, c) => a.depth.max(b.depth).max(c.depth),
        };
        Expr {
            kind,
            span,
            depth: below + 1,
        }
    }

    /// Whether the expression has at least one operator or call: what code
    /// mode needs to tell an expression from an ordinary word.
    pub fn has_operator_or_call(&self) -> bool {
        match &self.kind {
            ExprKind::Unary(..) | ExprKind::Binary(..) | ExprKind::Call { .. } | ExprKind::If(..) => true,
            ExprKind::Literal(Value::Number(n)) => n.is_sign_negative(),
            ExprKind::Member(e, _) => e.has_operator_or_call(),
            ExprKind::Index(e, i) => e.has_operator_or_call() || i.has_operator_or_call(),
            ExprKind::List(items) => items.iter().any(Expr::has_operator_or_call),
            ExprKind::Object(fields) => fields.iter().any(|(_, e)| e.has_operator_or_call()),
            ExprKind::Literal(_) | ExprKind::Var(_) => false,
        }
    }

    /// Calls `f` on this expression and every expression inside it.
    pub fn visit(&self, f: &mut dyn FnMut(&Expr)) {
        f(self);
        match &self.kind {
            ExprKind::Literal(_) | ExprKind::Var(_) => {}
            ExprKind::Member(e, _) | ExprKind::Unary(_, e) => e.visit(f),
            ExprKind::Index(a, b) | ExprKind::Binary(_, a, b) => {
                a.visit(f);
                b.visit(f);
            }
            ExprKind::Call { args, .. } | ExprKind::List(args) => args.iter().for_each(|a| a.visit(f)),
            ExprKind::Object(fields) => fields.iter().for_each(|(_, e)| e.visit(f)),
            ExprKind::If(a, b, c) => {
                a.visit(f);
                b.visit(f);
                c.visit(f);
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnOp {
    Neg,
    Not,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

impl BinOp {
    pub fn precedence(self) -> u8 {
        match self {
            BinOp::Or => 1,
            BinOp::And => 2,
            BinOp::Eq | BinOp::Ne => 3,
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => 4,
            BinOp::Add | BinOp::Sub => 5,
            BinOp::Mul | BinOp::Div | BinOp::Rem => 6,
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Or => "or",
            BinOp::And => "and",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Rem => "%",
        }
    }
}

/// A text with `{{ }}` parts, parsed once.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pub segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Segment {
    Text(String),
    Expr(Expr),
}

impl Template {
    /// A template that is just this text.
    pub fn plain(text: impl Into<String>) -> Template {
        Template {
            segments: vec![Segment::Text(text.into())],
        }
    }

    pub fn has_expressions(&self) -> bool {
        self.segments.iter().any(|s| matches!(s, Segment::Expr(_)))
    }

    pub fn expressions(&self) -> impl Iterator<Item = &Expr> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Expr(e) => Some(e),
            Segment::Text(_) => None,
        })
    }
}
