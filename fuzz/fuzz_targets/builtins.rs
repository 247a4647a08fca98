//! Every built-in function of the expression language, called with any number of
//! arguments of any kinds (huge and tiny decimals, texts, lists, objects, null, booleans,
//! date-times at the ends of their range) under any clock and zone: no call panics, and
//! what one gives stays within the bounds of values.
#![no_main]

use botwright::expr::eval::{MAX_ITEMS, MAX_TEXT};
use botwright::expr::{Builtin, Context, Value, call_builtin};
use chrono::{DateTime, FixedOffset, TimeZone};
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use rust_decimal::Decimal;

/// Pieces that patterns, separators and deadlines are made of, so that the fuzzer reaches
/// past the first check of each function.
const PIECES: &[&str] = &[
    "0",
    "#",
    ",",
    " ",
    "\u{a0}",
    ".",
    "yyyy",
    "yy",
    "MM",
    "M",
    "dd",
    "d",
    "HH",
    "H",
    "mm",
    "ss",
    ":",
    "-",
    "+",
    "29.02",
    "31.12.9999",
    "6.2 14:00",
    "999999",
    "1 234,5",
    "ß",
    "İ",
    "ﬃ",
    "\u{10ffff}",
    "🦀",
];

const ZONES: &[&str] = &[
    "Europe/Moscow",
    "Pacific/Kiritimati",
    "America/St_Johns",
    "Asia/Kathmandu",
    "UTC",
];

fn decimal(u: &mut Unstructured) -> Result<Decimal> {
    Ok(match u.int_in_range(0..=7u8)? {
        0 => Decimal::MAX,
        1 => Decimal::MIN,
        2 => Decimal::ZERO,
        3 => Decimal::new(1, 28),
        4 => Decimal::from(u.arbitrary::<i64>()?),
        5 => Decimal::new(u.arbitrary::<i64>()?, u.int_in_range(0..=28)?),
        6 => Decimal::from(u.int_in_range(-40i64..=40)?),
        _ => Decimal::from_parts(
            u.arbitrary()?,
            u.arbitrary()?,
            u.arbitrary()?,
            u.arbitrary()?,
            u.int_in_range(0..=28)?,
        ),
    })
}

fn date(u: &mut Unstructured) -> Result<DateTime<FixedOffset>> {
    let offset = FixedOffset::east_opt(u.int_in_range(-86_399..=86_399)?).unwrap_or(FixedOffset::east_opt(0).unwrap());
    let instant = match u.int_in_range(0..=3u8)? {
        0 => DateTime::<chrono::Utc>::MAX_UTC,
        1 => DateTime::<chrono::Utc>::MIN_UTC,
        2 => DateTime::from_timestamp(u.int_in_range(0..=4_102_444_800)?, 0).unwrap_or_default(),
        _ => DateTime::from_timestamp(u.arbitrary()?, u.int_in_range(0..=1_999_999_999)?).unwrap_or_default(),
    };
    Ok(offset.from_utc_datetime(&instant.naive_utc()))
}

/// A text; `big` allows texts around the text bound.
fn text(u: &mut Unstructured, big: bool) -> Result<String> {
    Ok(match u.int_in_range(0..=3u8)? {
        0 => u.arbitrary::<String>()?,
        1 => {
            let mut s = String::new();
            for _ in 0..u.int_in_range(0..=40)? {
                s.push_str(u.choose(PIECES)?);
            }
            s
        }
        2 if big => u
            .choose(PIECES)?
            .repeat(u.int_in_range(MAX_TEXT / 4 - 2..=MAX_TEXT + 2)?),
        _ => u.choose(PIECES)?.to_string(),
    })
}

/// A value nested at most three deep; `big` allows texts and lists around their bounds.
fn value(u: &mut Unstructured, depth: u32, big: bool) -> Result<Value> {
    let kinds = if depth >= 3 { 6 } else { 8 };
    Ok(match u.int_in_range(0..=kinds)? {
        0 => Value::Null,
        1 => Value::Bool(u.arbitrary()?),
        2 | 3 => Value::Number(decimal(u)?),
        4 | 5 => Value::Text(text(u, big)?),
        6 => Value::DateTime(date(u)?),
        7 => {
            if big && u.ratio(1, 16)? {
                // Around the item bound, of small items.
                let item = value(u, 3, false)?;
                Value::List(vec![item; u.int_in_range(MAX_ITEMS - 1..=MAX_ITEMS + 1)?])
            } else {
                let mut items = Vec::new();
                for _ in 0..u.int_in_range(0..=8)? {
                    items.push(value(u, depth + 1, false)?);
                }
                Value::List(items)
            }
        }
        _ => {
            let mut fields = indexmap::IndexMap::new();
            for _ in 0..u.int_in_range(0..=6)? {
                fields.insert(text(u, false)?.chars().take(16).collect(), value(u, depth + 1, false)?);
            }
            Value::Object(fields)
        }
    })
}

/// Bytes a value takes as text (lists and objects item by item, without copying).
fn size(v: &Value) -> usize {
    match v {
        Value::List(items) => items.iter().map(size).sum::<usize>() + 2 * items.len(),
        Value::Object(fields) => fields.iter().map(|(k, v)| k.len() + size(v) + 8).sum(),
        Value::Text(s) => s.len(),
        other => other.to_text().len(),
    }
}

fn run(data: &[u8]) -> Result<()> {
    let mut u = Unstructured::new(data);
    let function = *u.choose(Builtin::ALL)?;
    let (min, max) = function.arity();
    // Mostly the right number of arguments; sometimes one too many or too few.
    let count = if u.ratio(1, 8)? {
        u.int_in_range(0..=max + 1)?
    } else {
        u.int_in_range(min..=max)?
    };
    let mut args = Vec::with_capacity(count);
    for _ in 0..count {
        args.push(value(&mut u, 0, true)?);
    }
    let tz = if u.arbitrary()? {
        Some(u.choose(ZONES)?.parse::<chrono_tz::Tz>().expect("a known zone"))
    } else {
        None
    };
    let vars = indexmap::IndexMap::new();
    let ctx = Context {
        vars: &vars,
        now: date(&mut u)?,
        tz,
    };
    let given: usize = args.iter().map(size).sum();
    if let Ok(out) = call_builtin(function, args, &ctx) {
        // Case mapping may triple a text; nothing else grows past the text bound.
        let bound = 4 * (given + MAX_TEXT) + 64;
        assert!(
            size(&out) <= bound,
            "{function:?} gave {} bytes from {given}",
            size(&out)
        );
        if let Value::List(items) = &out {
            assert!(items.len() <= MAX_ITEMS, "{function:?} gave {} items", items.len());
        }
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(data);
});
