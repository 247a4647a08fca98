//! From text to AST through the pest grammar in `grammar/expr.pest`.
//!
//! Nesting is bounded before pest sees the text, so that no input can
//! overflow the stack: pest descends recursively into brackets and `if`s.

use super::ast::{BinOp, Expr, ExprKind, Segment, Template, UnOp};
use super::builtins::Builtin;
use super::value::Value;
use pest::Parser;
use pest::iterators::Pair;
use rust_decimal::Decimal;
use std::ops::Range;
use std::str::FromStr;

#[derive(pest_derive::Parser)]
#[grammar = "../grammar/expr.pest"]
struct ExprParser;

/// The deepest nesting of brackets, `if`s and prefix operators an expression may have.
pub const MAX_NESTING: usize = 64;
/// The tallest syntax tree accepted: evaluation recurses this deep at most.
pub const MAX_DEPTH: usize = 256;
/// The longest expression or template source accepted, in bytes.
pub const MAX_SOURCE: usize = 64 * 1024;

/// A syntax error with the byte range it concerns, relative to the parsed text.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError {
    pub span: Range<usize>,
    pub message: String,
}

pub fn parse_expression(source: &str) -> Result<Expr, SyntaxError> {
    precheck(source)?;
    let mut pairs = ExprParser::parse(Rule::expression, source).map_err(syntax_error)?;
    let top = pairs.next().expect("the expression rule");
    let expr = top.into_inner().next().expect("an expr inside expression");
    limit_depth(build_expr(expr)?)
}

fn limit_depth(expr: Expr) -> Result<Expr, SyntaxError> {
    if expr.depth > MAX_DEPTH {
        return Err(SyntaxError {
            span: expr.span.clone(),
            message: format!("the expression is too complex: its syntax tree is deeper than {MAX_DEPTH} levels"),
        });
    }
    Ok(expr)
}

pub fn parse_template(source: &str) -> Result<Template, SyntaxError> {
    if !source.contains("{{") {
        // The common case: a plain text needs no parser at all.
        return Ok(Template {
            segments: vec![Segment::Text(source.to_string())],
        });
    }
    if let Some(template) = simple_template(source) {
        return Ok(template);
    }
    precheck(source)?;
    let mut pairs = ExprParser::parse(Rule::template, source).map_err(syntax_error)?;
    let mut segments = Vec::new();
    for pair in pairs.next().expect("the template rule").into_inner() {
        match pair.as_rule() {
            Rule::literal_text => segments.push(Segment::Text(pair.as_str().to_string())),
            Rule::interpolation => {
                let expr = pair.into_inner().next().expect("an expr inside {{ }}");
                segments.push(Segment::Expr(limit_depth(build_expr(expr)?)?));
            }
            Rule::EOI => {}
            other => unreachable!("template part {other:?}"),
        }
    }
    Ok(Template { segments })
}

/// The common case without the parser: every `{{ … }}` holds a plain name or
/// dotted path (`{{ user.name }}`). Anything else returns `None` for pest.
fn simple_template(source: &str) -> Option<Template> {
    let mut segments = Vec::new();
    let mut at = 0;
    while let Some(open) = source[at..].find("{{") {
        let open = at + open;
        if open > at {
            segments.push(Segment::Text(source[at..open].to_string()));
        }
        let close = open + 2 + source[open + 2..].find("}}")?;
        let inner = &source[open + 2..close];
        let lead = inner.len() - inner.trim_start().len();
        let path = inner.trim();
        let start = open + 2 + lead;
        let mut expr: Option<Expr> = None;
        let mut offset = start;
        for (i, part) in path.split('.').enumerate() {
            let mut chars = part.chars();
            let first = chars.next()?;
            let valid = (first.is_alphabetic() || first == '_')
                && chars.all(|c| c.is_alphabetic() || c.is_ascii_digit() || c == '_');
            if !valid
                || matches!(
                    part,
                    "if" | "then" | "else" | "and" | "or" | "not" | "null" | "true" | "false"
                )
            {
                return None;
            }
            let end = offset + part.len();
            expr = Some(match expr {
                None if i == 0 => Expr::new(ExprKind::Var(part.to_string()), offset..end),
                None => return None,
                Some(target) => Expr::new(ExprKind::Member(Box::new(target), part.to_string()), start..end),
            });
            offset = end + 1;
        }
        segments.push(Segment::Expr(expr?));
        at = close + 2;
    }
    if at < source.len() {
        segments.push(Segment::Text(source[at..].to_string()));
    }
    Some(Template { segments })
}

/// Rejects sources that are too long or nest too deeply, scanning outside string literals.
fn precheck(source: &str) -> Result<(), SyntaxError> {
    if source.len() > MAX_SOURCE {
        return Err(SyntaxError {
            span: 0..source.len(),
            message: format!("the expression is longer than {MAX_SOURCE} bytes"),
        });
    }
    let too_deep = |at: usize| SyntaxError {
        span: at..at + 1,
        message: format!("the expression nests deeper than {MAX_NESTING} levels"),
    };
    let bytes = source.as_bytes();
    let mut depth = 0usize;
    let mut ifs = 0usize;
    let mut prefix_run = 0usize;
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if let Some(q) = quote {
            if b == b'\\' {
                i += 1;
            } else if b == q {
                quote = None;
            }
            i += 1;
            continue;
        }
        match b {
            b'\'' | b'"' => {
                quote = Some(b);
                prefix_run = 0;
            }
            b'(' | b'[' | b'{' => {
                depth += 1;
                if depth + ifs > MAX_NESTING {
                    return Err(too_deep(i));
                }
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            b'-' | b'!' => {
                prefix_run += 1;
                if prefix_run > MAX_NESTING {
                    return Err(too_deep(i));
                }
            }
            b' ' | b'\t' | b'\r' | b'\n' => {}
            _ => {
                let word_start = i == 0 || !is_word_byte(bytes[i - 1]);
                if word_start && starts_word(bytes, i, b"if") {
                    ifs += 1;
                    if depth + ifs > MAX_NESTING * 2 {
                        return Err(too_deep(i));
                    }
                } else if word_start && starts_word(bytes, i, b"not") {
                    prefix_run += 1;
                    if prefix_run > MAX_NESTING {
                        return Err(too_deep(i));
                    }
                    i += 3;
                    continue;
                } else {
                    prefix_run = 0;
                }
            }
        }
        i += 1;
    }
    Ok(())
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

fn starts_word(bytes: &[u8], at: usize, word: &[u8]) -> bool {
    bytes[at..].starts_with(word) && bytes.get(at + word.len()).is_none_or(|b| !is_word_byte(*b))
}

fn syntax_error(e: pest::error::Error<Rule>) -> SyntaxError {
    let span = match e.location {
        pest::error::InputLocation::Pos(p) => p..p,
        pest::error::InputLocation::Span((a, b)) => a..b,
    };
    let message = match &e.variant {
        pest::error::ErrorVariant::ParsingError { positives, .. } => {
            let mut wanted: Vec<&str> = positives.iter().filter_map(|r| describe(*r)).collect();
            wanted.dedup();
            if wanted.is_empty() {
                "unexpected text in the expression".to_string()
            } else {
                format!("expected {}", wanted.join(" or "))
            }
        }
        pest::error::ErrorVariant::CustomError { message } => message.clone(),
    };
    SyntaxError { span, message }
}

fn describe(rule: Rule) -> Option<&'static str> {
    Some(match rule {
        Rule::expr | Rule::binary | Rule::unary | Rule::postfix | Rule::conditional => "an expression",
        Rule::op_or
        | Rule::op_and
        | Rule::op_eq
        | Rule::op_ne
        | Rule::op_le
        | Rule::op_ge
        | Rule::op_lt
        | Rule::op_gt
        | Rule::op_add
        | Rule::op_sub
        | Rule::op_mul
        | Rule::op_div
        | Rule::op_rem => "an operator",
        Rule::member | Rule::index | Rule::call_args => "`.`, `[` or `(`",
        Rule::ident => "a name",
        Rule::number => "a number",
        Rule::string => "a string",
        Rule::kw_then => "`then`",
        Rule::kw_else => "`else`",
        Rule::interpolation => "`{{`",
        Rule::EOI => "the end of the expression",
        Rule::pair => "a `key: value` pair",
        _ => return None,
    })
}

fn span_of(pair: &Pair<Rule>) -> Range<usize> {
    pair.as_span().start()..pair.as_span().end()
}

fn build_expr(pair: Pair<Rule>) -> Result<Expr, SyntaxError> {
    debug_assert_eq!(pair.as_rule(), Rule::expr);
    let inner = pair.into_inner().next().expect("expr has one child");
    match inner.as_rule() {
        Rule::conditional => {
            let span = span_of(&inner);
            let mut parts = inner.into_inner().filter(|p| p.as_rule() == Rule::expr);
            let cond = build_expr(parts.next().expect("if condition"))?;
            let then = build_expr(parts.next().expect("then branch"))?;
            let otherwise = build_expr(parts.next().expect("else branch"))?;
            Ok(Expr::new(
                ExprKind::If(Box::new(cond), Box::new(then), Box::new(otherwise)),
                span,
            ))
        }
        Rule::binary => build_binary(inner),
        other => unreachable!("expr child {other:?}"),
    }
}

fn binop(rule: Rule) -> BinOp {
    match rule {
        Rule::op_or => BinOp::Or,
        Rule::op_and => BinOp::And,
        Rule::op_eq => BinOp::Eq,
        Rule::op_ne => BinOp::Ne,
        Rule::op_le => BinOp::Le,
        Rule::op_ge => BinOp::Ge,
        Rule::op_lt => BinOp::Lt,
        Rule::op_gt => BinOp::Gt,
        Rule::op_add => BinOp::Add,
        Rule::op_sub => BinOp::Sub,
        Rule::op_mul => BinOp::Mul,
        Rule::op_div => BinOp::Div,
        Rule::op_rem => BinOp::Rem,
        other => unreachable!("operator {other:?}"),
    }
}

/// Operator precedence by shunting-yard: no recursion, whatever the chain's length.
fn build_binary(pair: Pair<Rule>) -> Result<Expr, SyntaxError> {
    let mut operands: Vec<Expr> = Vec::new();
    let mut operators: Vec<BinOp> = Vec::new();
    fn reduce(operands: &mut Vec<Expr>, op: BinOp) {
        let right = operands.pop().expect("right operand");
        let left = operands.pop().expect("left operand");
        let span = left.span.start..right.span.end;
        operands.push(Expr::new(ExprKind::Binary(op, Box::new(left), Box::new(right)), span));
    }
    for part in pair.into_inner() {
        if part.as_rule() == Rule::unary {
            operands.push(build_unary(part)?);
        } else {
            let op = binop(part.as_rule());
            while let Some(&top) = operators.last() {
                if top.precedence() >= op.precedence() {
                    operators.pop();
                    reduce(&mut operands, top);
                } else {
                    break;
                }
            }
            operators.push(op);
        }
    }
    while let Some(op) = operators.pop() {
        reduce(&mut operands, op);
    }
    Ok(operands.pop().expect("a binary expression has an operand"))
}

fn build_unary(pair: Pair<Rule>) -> Result<Expr, SyntaxError> {
    let mut prefixes = Vec::new();
    let mut result = None;
    for part in pair.into_inner() {
        match part.as_rule() {
            Rule::op_neg => prefixes.push((UnOp::Neg, span_of(&part))),
            Rule::op_not => prefixes.push((UnOp::Not, span_of(&part))),
            Rule::postfix => result = Some(build_postfix(part)?),
            other => unreachable!("unary part {other:?}"),
        }
    }
    let mut expr = result.expect("unary has an operand");
    for (op, span) in prefixes.into_iter().rev() {
        let span = span.start..expr.span.end;
        // A minus before a number literal is part of the number.
        if let (UnOp::Neg, ExprKind::Literal(Value::Number(n))) = (op, &expr.kind) {
            expr = Expr::new(ExprKind::Literal(Value::Number(-*n)), span);
            continue;
        }
        expr = Expr::new(ExprKind::Unary(op, Box::new(expr)), span);
    }
    Ok(expr)
}

fn build_postfix(pair: Pair<Rule>) -> Result<Expr, SyntaxError> {
    let mut parts = pair.into_inner();
    let first = parts.next().expect("postfix has a primary");
    let mut expr = build_primary(first)?;
    for part in parts {
        let span = expr.span.start..part.as_span().end();
        match part.as_rule() {
            Rule::member => {
                let name = part.into_inner().next().expect("member name").as_str().to_string();
                expr = Expr::new(ExprKind::Member(Box::new(expr), name), span);
            }
            Rule::index => {
                let index = build_expr(part.into_inner().next().expect("index expr"))?;
                expr = Expr::new(ExprKind::Index(Box::new(expr), Box::new(index)), span);
            }
            Rule::call_args => {
                let args_span = span_of(&part);
                let args = part.into_inner().map(build_expr).collect::<Result<Vec<_>, _>>()?;
                let ExprKind::Var(name) = &expr.kind else {
                    return Err(SyntaxError {
                        span: args_span,
                        message: "only built-in functions can be called, by name".to_string(),
                    });
                };
                let function = Builtin::find(name);
                expr = Expr::new(
                    ExprKind::Call {
                        name: name.clone(),
                        function,
                        args,
                    },
                    span,
                );
            }
            other => unreachable!("postfix part {other:?}"),
        }
    }
    Ok(expr)
}

fn build_primary(pair: Pair<Rule>) -> Result<Expr, SyntaxError> {
    let span = span_of(&pair);
    let kind = match pair.as_rule() {
        Rule::kw_null => ExprKind::Literal(Value::Null),
        Rule::kw_true => ExprKind::Literal(Value::Bool(true)),
        Rule::kw_false => ExprKind::Literal(Value::Bool(false)),
        Rule::number => ExprKind::Literal(Value::Number(Decimal::from_str(pair.as_str()).map_err(|_| {
            SyntaxError {
                span: span.clone(),
                message: "this number is too large".to_string(),
            }
        })?)),
        Rule::string => ExprKind::Literal(Value::Text(unescape(pair))),
        Rule::ident => ExprKind::Var(pair.as_str().to_string()),
        Rule::list => ExprKind::List(pair.into_inner().map(build_expr).collect::<Result<_, _>>()?),
        Rule::object => {
            let mut fields = Vec::new();
            for field in pair.into_inner() {
                let mut kv = field.into_inner();
                let key = kv.next().expect("object key");
                let key = match key.as_rule() {
                    Rule::string => unescape(key),
                    _ => key.as_str().to_string(),
                };
                fields.push((key, build_expr(kv.next().expect("object value"))?));
            }
            ExprKind::Object(fields)
        }
        Rule::expr => return build_expr(pair),
        other => unreachable!("primary {other:?}"),
    };
    Ok(Expr::new(kind, span))
}

fn unescape(pair: Pair<Rule>) -> String {
    let inner = pair.into_inner().next().map(|p| p.as_str()).unwrap_or("");
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(other) => out.push(other),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}
