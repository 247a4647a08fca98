//! The sandboxed evaluator: bounded steps, sizes and (through parsing) depth.
//!
//! About 510 lines: one evaluator over one `Expr` type, with its limits; the builtins
//! and time are their own files.

use super::ast::{BinOp, Expr, ExprKind, Segment, Template, UnOp};
use super::builtins::Builtin;
use super::time;
use super::value::Value;
use chrono::{DateTime, Duration, FixedOffset};
use chrono_tz::Tz;
use indexmap::IndexMap;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use std::str::FromStr;

/// The most evaluation steps one evaluation may take.
pub const MAX_STEPS: u32 = 100_000;
/// The longest text a value may be, in characters.
pub const MAX_TEXT: usize = 100_000;
/// The most items a list or object may have.
pub const MAX_ITEMS: usize = 10_000;

pub use super::error::EvalError;

fn err<T>(message: impl Into<String>) -> Result<T, EvalError> {
    Err(EvalError(message.into()))
}

/// What an evaluation sees: its variables and the clock (never read inside).
#[derive(Debug, Clone)]
pub struct Context<'a> {
    pub vars: &'a IndexMap<String, Value>,
    pub now: DateTime<FixedOffset>,
    /// The bot's time zone; without one, the clock's own offset is used.
    pub tz: Option<Tz>,
}

impl Context<'_> {
    /// The current instant in the zone dates are computed in.
    pub fn local_now(&self) -> DateTime<FixedOffset> {
        time::in_zone(self.now, self.tz)
    }
}

pub fn evaluate(expr: &Expr, ctx: &Context) -> Result<Value, EvalError> {
    let mut steps = 0;
    eval(expr, ctx, &mut steps)
}

/// Renders a template; spliced values are HTML-escaped when `escape` is set.
pub fn render(template: &Template, ctx: &Context, escape: bool) -> Result<String, EvalError> {
    let mut out = String::new();
    let mut steps = 0;
    for segment in &template.segments {
        match segment {
            Segment::Text(t) => out.push_str(t),
            Segment::Expr(e) => {
                let value = eval(e, ctx, &mut steps)?;
                if escape {
                    let mut text = String::new();
                    value.write_text(&mut text);
                    escape_html_into(&text, &mut out);
                } else {
                    value.write_text(&mut out);
                }
            }
        }
    }
    Ok(out)
}

/// Escapes `<`, `>`, `&` and `"` so that a value can never break or inject formatting, nor
/// end an attribute it is spliced into (`<a href="…{{ input }}">`).
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    escape_html_into(text, &mut out);
    out
}

fn escape_html_into(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
}

fn check_text(s: String) -> Result<Value, EvalError> {
    if s.len() > MAX_TEXT && s.chars().count() > MAX_TEXT {
        return err(format!("the text would be longer than {MAX_TEXT} characters"));
    }
    Ok(Value::Text(s))
}

fn check_items(n: usize) -> Result<(), EvalError> {
    if n > MAX_ITEMS {
        return err(format!("the list would have more than {MAX_ITEMS} items"));
    }
    Ok(())
}

fn eval(expr: &Expr, ctx: &Context, steps: &mut u32) -> Result<Value, EvalError> {
    *steps += 1;
    if *steps > MAX_STEPS {
        return err(format!("the expression took more than {MAX_STEPS} steps"));
    }
    match &expr.kind {
        ExprKind::Literal(v) => Ok(v.clone()),
        ExprKind::Var(name) => match ctx.vars.get(name) {
            Some(v) => Ok(v.clone()),
            None => err(format!("unknown variable `{name}`")),
        },
        ExprKind::Member(target, name) => Ok(member_of(target, name, ctx, steps)?),
        ExprKind::Index(target, index) => {
            let target = eval(target, ctx, steps)?;
            let index = eval(index, ctx, steps)?;
            index_value(&target, &index)
        }
        ExprKind::Call { name, function, args } => {
            let Some(function) = function else {
                return err(format!("unknown function `{name}`"));
            };
            let (min, max) = function.arity();
            if args.len() < min || args.len() > max {
                return err(arity_message(name, min, max, args.len()));
            }
            let mut values = Vec::with_capacity(args.len());
            for a in args {
                values.push(eval(a, ctx, steps)?);
            }
            call(*function, values, ctx)
        }
        ExprKind::List(items) => {
            check_items(items.len())?;
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                out.push(eval(item, ctx, steps)?);
            }
            Ok(Value::List(out))
        }
        ExprKind::Object(fields) => {
            let mut out = IndexMap::with_capacity(fields.len());
            for (k, v) in fields {
                out.insert(k.clone(), eval(v, ctx, steps)?);
            }
            Ok(Value::Object(out))
        }
        ExprKind::Unary(op, operand) => {
            let v = eval(operand, ctx, steps)?;
            match op {
                UnOp::Not => Ok(Value::Bool(!v.truthy())),
                UnOp::Neg => match v {
                    Value::Number(n) => Ok(Value::Number(-n)),
                    other => err(format!("cannot negate a {}", other.type_name())),
                },
            }
        }
        ExprKind::Binary(BinOp::And, a, b) => Ok(Value::Bool(
            eval(a, ctx, steps)?.truthy() && eval(b, ctx, steps)?.truthy(),
        )),
        ExprKind::Binary(BinOp::Or, a, b) => Ok(Value::Bool(
            eval(a, ctx, steps)?.truthy() || eval(b, ctx, steps)?.truthy(),
        )),
        ExprKind::Binary(op, a, b) => {
            let a = eval(a, ctx, steps)?;
            let b = eval(b, ctx, steps)?;
            binary(*op, a, b)
        }
        ExprKind::If(cond, then, otherwise) => {
            if eval(cond, ctx, steps)?.truthy() {
                eval(then, ctx, steps)
            } else {
                eval(otherwise, ctx, steps)
            }
        }
    }
}

/// `a.b`: reads the member without cloning the whole object first.
fn member_of(target: &Expr, name: &str, ctx: &Context, steps: &mut u32) -> Result<Value, EvalError> {
    if let ExprKind::Var(var) = &target.kind {
        *steps += 1;
        return match ctx.vars.get(var) {
            Some(v) => Ok(v.member(name)),
            None => err(format!("unknown variable `{var}`")),
        };
    }
    Ok(eval(target, ctx, steps)?.member(name))
}

pub fn arity_message(name: &str, min: usize, max: usize, given: usize) -> String {
    let wanted = if min == max {
        format!("{min}")
    } else {
        format!("{min} to {max}")
    };
    let s = if max == 1 { "" } else { "s" };
    format!("`{name}` takes {wanted} argument{s}, not {given}")
}

fn index_value(target: &Value, index: &Value) -> Result<Value, EvalError> {
    match (target, index) {
        (Value::Null, _) => Ok(Value::Null),
        (Value::List(items), Value::Number(n)) => {
            let Some(i) = n.to_i64().filter(|_| n.fract().is_zero()) else {
                return err("a list index must be a whole number");
            };
            let i = if i < 0 { items.len() as i64 + i } else { i };
            Ok(usize::try_from(i)
                .ok()
                .and_then(|i| items.get(i))
                .cloned()
                .unwrap_or(Value::Null))
        }
        (Value::Text(s), Value::Number(n)) => {
            let Some(i) = n.to_usize().filter(|_| n.fract().is_zero()) else {
                return err("a text index must be a whole number from 0");
            };
            Ok(s.chars()
                .nth(i)
                .map(|c| Value::Text(c.to_string()))
                .unwrap_or(Value::Null))
        }
        (Value::Object(o), Value::Text(k)) => Ok(o.get(k).cloned().unwrap_or(Value::Null)),
        (Value::Object(_), other) => err(format!("an object key must be text, not a {}", other.type_name())),
        (target, index) => err(format!(
            "cannot index a {} with a {}",
            target.type_name(),
            index.type_name()
        )),
    }
}

fn number_op(op: BinOp, a: Decimal, b: Decimal) -> Result<Value, EvalError> {
    let result = match op {
        BinOp::Add => a.checked_add(b),
        BinOp::Sub => a.checked_sub(b),
        BinOp::Mul => a.checked_mul(b),
        BinOp::Div => {
            if b.is_zero() {
                return err("division by zero");
            }
            a.checked_div(b)
        }
        BinOp::Rem => {
            if b.is_zero() {
                return err("remainder of division by zero");
            }
            a.checked_rem(b)
        }
        _ => unreachable!("number_op with {op:?}"),
    };
    match result {
        Some(n) => Ok(Value::Number(n)),
        None => err(format!("the result of `{}` is too large", op.symbol())),
    }
}

fn binary(op: BinOp, a: Value, b: Value) -> Result<Value, EvalError> {
    use std::cmp::Ordering;
    match op {
        BinOp::Eq => return Ok(Value::Bool(a == b)),
        BinOp::Ne => return Ok(Value::Bool(a != b)),
        BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
            let ordering: Ordering = match (&a, &b) {
                (Value::Number(x), Value::Number(y)) => x.cmp(y),
                (Value::Text(x), Value::Text(y)) => x.cmp(y),
                (Value::DateTime(x), Value::DateTime(y)) => x.cmp(y),
                (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
                _ => {
                    return err(format!("cannot compare a {} with a {}", a.type_name(), b.type_name()));
                }
            };
            let holds = match op {
                BinOp::Lt => ordering.is_lt(),
                BinOp::Le => ordering.is_le(),
                BinOp::Gt => ordering.is_gt(),
                _ => ordering.is_ge(),
            };
            return Ok(Value::Bool(holds));
        }
        _ => {}
    }
    match (op, a, b) {
        (_, Value::Number(x), Value::Number(y)) => number_op(op, x, y),
        (BinOp::Add, Value::List(mut x), Value::List(y)) => {
            check_items(x.len() + y.len())?;
            x.extend(y);
            Ok(Value::List(x))
        }
        (BinOp::Add, a @ Value::Text(_), b) | (BinOp::Add, a, b @ Value::Text(_)) => {
            let mut s = a.to_text();
            b.write_text(&mut s);
            check_text(s)
        }
        (BinOp::Sub, Value::DateTime(x), Value::DateTime(y)) => {
            let seconds = Decimal::from((x - y).num_seconds());
            Ok(Value::Number(seconds / Decimal::from(86_400)))
        }
        (op, a, b) => err(format!(
            "cannot apply `{}` to a {} and a {}",
            op.symbol(),
            a.type_name(),
            b.type_name()
        )),
    }
}

fn as_text<'v>(v: &'v Value, function: &str) -> Result<std::borrow::Cow<'v, str>, EvalError> {
    match v {
        Value::Text(s) => Ok(std::borrow::Cow::Borrowed(s)),
        Value::List(_) | Value::Object(_) => err(format!("`{function}` needs text, not a {}", v.type_name())),
        other => Ok(std::borrow::Cow::Owned(other.to_text())),
    }
}

/// Calls a built-in function with arguments already evaluated, as a call in an expression
/// does (its arity checked first): for tools and the fuzzer, which call every function with
/// any values.
pub fn call_builtin(function: Builtin, args: Vec<Value>, ctx: &Context) -> Result<Value, EvalError> {
    let (min, max) = function.arity();
    if args.len() < min || args.len() > max {
        return err(arity_message(function.english(), min, max, args.len()));
    }
    call(function, args, ctx)
}

fn call(function: Builtin, mut args: Vec<Value>, ctx: &Context) -> Result<Value, EvalError> {
    let name = function.english();
    match function {
        Builtin::Now => Ok(Value::DateTime(ctx.local_now())),
        Builtin::Today => Ok(Value::DateTime(time::start_of_day(ctx.local_now(), ctx.tz))),
        Builtin::Format => {
            let pattern = as_text(&args[1], name)?.into_owned();
            match &args[0] {
                Value::DateTime(d) => match time::format_date(*d, &pattern) {
                    Some(text) => check_text(text),
                    None => err("the date-time is out of range"),
                },
                Value::Number(n) => Ok(Value::Text(format_number_pattern(*n, &pattern)?)),
                Value::Null => Ok(Value::Text(String::new())),
                other => err(format!(
                    "`format` formats dates and numbers, not a {}",
                    other.type_name()
                )),
            }
        }
        Builtin::Deadline => {
            let text = as_text(&args[0], name)?;
            time::deadline(&text, ctx.local_now(), ctx.tz).map(Value::DateTime)
        }
        Builtin::Len => match &args[0] {
            Value::Text(s) => Ok(Value::from(s.chars().count() as i64)),
            Value::List(l) => Ok(Value::from(l.len() as i64)),
            Value::Object(o) => Ok(Value::from(o.len() as i64)),
            Value::Null => Ok(Value::from(0)),
            other => err(format!("`len` needs text or a list, not a {}", other.type_name())),
        },
        Builtin::Upper => Ok(Value::Text(as_text(&args[0], name)?.to_uppercase())),
        Builtin::Lower => Ok(Value::Text(as_text(&args[0], name)?.to_lowercase())),
        Builtin::Trim => Ok(Value::Text(as_text(&args[0], name)?.trim().to_string())),
        Builtin::Split => {
            let text = as_text(&args[0], name)?;
            let sep = as_text(&args[1], name)?;
            if sep.is_empty() {
                return err("`split` needs a separator that is not empty");
            }
            let parts: Vec<Value> = text.split(&*sep).take(MAX_ITEMS + 1).map(Value::from).collect();
            check_items(parts.len())?;
            Ok(Value::List(parts))
        }
        Builtin::Join => {
            let sep = as_text(&args[1], name)?.into_owned();
            let Value::List(items) = &args[0] else {
                return err(format!("`join` needs a list, not a {}", args[0].type_name()));
            };
            let mut out = String::new();
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(&sep);
                }
                item.write_text(&mut out);
                if out.len() > MAX_TEXT * 4 {
                    return err(format!("the text would be longer than {MAX_TEXT} characters"));
                }
            }
            check_text(out)
        }
        Builtin::Contains => match &args[0] {
            Value::List(items) => Ok(Value::Bool(items.contains(&args[1]))),
            Value::Text(s) => Ok(Value::Bool(s.contains(&*as_text(&args[1], name)?))),
            Value::Object(o) => Ok(Value::Bool(o.contains_key(&*as_text(&args[1], name)?))),
            Value::Null => Ok(Value::Bool(false)),
            other => err(format!("`contains` needs text or a list, not a {}", other.type_name())),
        },
        Builtin::Number => match args.swap_remove(0) {
            Value::Number(n) => Ok(Value::Number(n)),
            Value::Text(s) => parse_number(&s).map(Value::Number),
            other => err(format!("a {} is not a number", other.type_name())),
        },
        Builtin::Text => check_text(args[0].to_text()),
        Builtin::Round => {
            let digits = match args.get(1) {
                None => 0,
                Some(Value::Number(d)) => match d.to_u32().filter(|n| *n <= 28 && d.fract().is_zero()) {
                    Some(d) => d,
                    None => return err("`round` takes a whole number of digits from 0 to 28"),
                },
                Some(other) => {
                    return err(format!("`round` takes a number of digits, not a {}", other.type_name()));
                }
            };
            match &args[0] {
                Value::Number(n) => Ok(Value::Number(
                    n.round_dp_with_strategy(digits, RoundingStrategy::MidpointAwayFromZero),
                )),
                other => err(format!("`round` needs a number, not a {}", other.type_name())),
            }
        }
        Builtin::AddDays => {
            let Value::DateTime(date) = &args[0] else {
                return err(format!("`add_days` needs a date-time, not a {}", args[0].type_name()));
            };
            let Value::Number(n) = &args[1] else {
                return err(format!(
                    "`add_days` needs a number of days, not a {}",
                    args[1].type_name()
                ));
            };
            let Some(days) = n.to_i64().filter(|d| n.fract().is_zero() && d.abs() <= 1_000_000) else {
                return err("`add_days` takes a whole number of days");
            };
            // A wall-clock time the zone skips moves by whole days of 24 hours instead.
            match time::add_days(*date, days, ctx.tz).or_else(|| date.checked_add_signed(Duration::try_days(days)?)) {
                Some(moved) if time::local_time(&moved).is_some() => Ok(Value::DateTime(moved)),
                _ => err("the date-time would be out of range"),
            }
        }
    }
}

/// Parses a number as users write it: `.` or `,` as the decimal separator,
/// spaces (also non-breaking) between digit groups.
pub fn parse_number(text: &str) -> Result<Decimal, EvalError> {
    let cleaned: String = text
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '\u{a0}' | '\u{202f}'))
        .map(|c| if c == ',' { '.' } else { c })
        .collect();
    let valid = !cleaned.is_empty()
        && cleaned
            .chars()
            .enumerate()
            .all(|(i, c)| c.is_ascii_digit() || c == '.' || (i == 0 && (c == '-' || c == '+')))
        && cleaned.chars().any(|c| c.is_ascii_digit());
    if valid && let Ok(n) = Decimal::from_str(cleaned.trim_start_matches('+')) {
        return Ok(n);
    }
    err(format!("«{text}» is not a number"))
}

/// Formats a number by a pattern such as `0.00`, `0` or `# ##0.00`: as many
/// decimals as the pattern has after its `.`, groups of three separated by the
/// pattern's `,` or space when it has one before the `.`.
fn format_number_pattern(n: Decimal, pattern: &str) -> Result<String, EvalError> {
    let (int_part, frac_part) = match pattern.split_once('.') {
        Some((i, f)) => (i, f),
        None => (pattern, ""),
    };
    let decimals = frac_part.chars().filter(|c| *c == '0' || *c == '#').count() as u32;
    if decimals > 28 || int_part.chars().any(|c| !matches!(c, '0' | '#' | ',' | ' ' | '\u{a0}')) {
        return err(format!(
            "«{pattern}» is not a number pattern: use one like 0.00 or # ##0.00"
        ));
    }
    let group = int_part.chars().find(|c| matches!(c, ',' | ' ' | '\u{a0}'));
    let rounded = n.round_dp_with_strategy(decimals, RoundingStrategy::MidpointAwayFromZero);
    // Rounding never adds decimals: the digits are padded with zeros here, as rust_decimal's
    // own precision formatting overflows its buffer for large numbers with many decimals.
    let text = rounded.abs().to_string();
    let (whole, frac) = match text.split_once('.') {
        Some((w, f)) => (w.to_string(), f.to_string()),
        None => (text, String::new()),
    };
    let frac = (decimals > 0).then(|| format!("{frac:0<width$}", width = decimals as usize));
    let whole = match group {
        Some(sep) => {
            let digits: Vec<char> = whole.chars().collect();
            let mut out = String::new();
            for (i, d) in digits.iter().enumerate() {
                if i > 0 && (digits.len() - i).is_multiple_of(3) {
                    out.push(sep);
                }
                out.push(*d);
            }
            out
        }
        None => whole,
    };
    let sign = if rounded.is_sign_negative() && !rounded.is_zero() {
        "-"
    } else {
        ""
    };
    Ok(match frac {
        Some(f) => format!("{sign}{whole}.{f}"),
        None => format!("{sign}{whole}"),
    })
}
