//! Values of the expression language and how they read as text.

use chrono::{DateTime, FixedOffset};
use indexmap::IndexMap;
use rust_decimal::Decimal;
use std::str::FromStr;

/// A value: null, boolean, exact decimal, text, date-time with offset, list or object.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Number(Decimal),
    Text(String),
    DateTime(DateTime<FixedOffset>),
    List(Vec<Value>),
    Object(IndexMap<String, Value>),
}

impl Value {
    pub fn text(s: impl Into<String>) -> Value {
        Value::Text(s.into())
    }

    pub fn object<K: Into<String>>(pairs: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Object(pairs.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// The name of the value's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(_) => "number",
            Value::Text(_) => "text",
            Value::DateTime(_) => "date-time",
            Value::List(_) => "list",
            Value::Object(_) => "object",
        }
    }

    /// Whether the value counts as true in `if`, `and`, `or` and `not`:
    /// everything but null, false, zero, empty text and empty lists.
    pub fn truthy(&self) -> bool {
        match self {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Number(n) => !n.is_zero(),
            Value::Text(s) => !s.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Object(o) => !o.is_empty(),
            Value::DateTime(_) => true,
        }
    }

    /// Whether this is null, empty text or an empty list: an "empty result".
    pub fn is_empty_result(&self) -> bool {
        match self {
            Value::Null => true,
            Value::Text(s) => s.is_empty(),
            Value::List(l) => l.is_empty(),
            _ => false,
        }
    }

    /// Member access: a key of an object; anything else (null included) gives null.
    pub fn member(&self, key: &str) -> Value {
        match self {
            Value::Object(o) => o.get(key).cloned().unwrap_or(Value::Null),
            _ => Value::Null,
        }
    }

    /// The value as text, exactly as expressions.md says ("Values as text").
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        self.write_text(&mut out);
        out
    }

    pub fn write_text(&self, out: &mut String) {
        match self {
            Value::Null => {}
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Number(n) => out.push_str(&format_number(*n)),
            Value::Text(s) => out.push_str(s),
            Value::DateTime(d) => out.push_str(&d.format("%d.%m.%Y %H:%M:%S").to_string()),
            Value::List(items) => {
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    item.write_text(out);
                }
            }
            Value::Object(_) => out.push_str(&self.to_json().to_string()),
        }
    }

    /// The value as JSON: date-times become RFC 3339 strings, numbers stay exact where JSON allows.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Number(n) => serde_json::Value::Number(
                serde_json::Number::from_str(&format_number(*n)).unwrap_or_else(|_| serde_json::Number::from(0)),
            ),
            Value::Text(s) => serde_json::Value::String(s.clone()),
            Value::DateTime(d) => serde_json::Value::String(d.to_rfc3339()),
            Value::List(items) => serde_json::Value::Array(items.iter().map(Value::to_json).collect()),
            Value::Object(o) => serde_json::Value::Object(o.iter().map(|(k, v)| (k.clone(), v.to_json())).collect()),
        }
    }

    /// A JSON value as an expression value. Numbers that do not fit a decimal become errors.
    pub fn from_json(json: &serde_json::Value) -> Result<Value, String> {
        Ok(match json {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => {
                let s = n.to_string();
                Value::Number(
                    Decimal::from_str(&s)
                        .or_else(|_| Decimal::from_scientific(&s))
                        .map_err(|_| format!("the number {s} is out of range"))?,
                )
            }
            serde_json::Value::String(s) => Value::Text(s.clone()),
            serde_json::Value::Array(items) => {
                Value::List(items.iter().map(Value::from_json).collect::<Result<_, _>>()?)
            }
            serde_json::Value::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, v)| Ok((k.clone(), Value::from_json(v)?)))
                    .collect::<Result<_, String>>()?,
            ),
        })
    }
}

/// The key of the object that stands for a date-time in stored JSON.
const STORED_DATETIME: &str = "$datetime";
/// The key of the object that stands for a number JSON cannot hold exactly in stored JSON.
const STORED_DECIMAL: &str = "$decimal";

impl Value {
    /// The value as JSON that reads back as the same value ([`Value::from_stored_json`]): how
    /// sessions keep `vars`, so that a date an `input` parsed is still a date after a restart.
    /// Date-times become `{"$datetime": RFC 3339}`, numbers JSON would round become
    /// `{"$decimal": text}`; everything else is as [`Value::to_json`] writes it.
    pub fn to_stored_json(&self) -> serde_json::Value {
        match self {
            Value::DateTime(d) => serde_json::json!({ STORED_DATETIME: d.to_rfc3339() }),
            Value::Number(n) => {
                let json = self.to_json();
                if Value::from_json(&json).ok() == Some(Value::Number(*n)) {
                    json
                } else {
                    serde_json::json!({ STORED_DECIMAL: format_number(*n) })
                }
            }
            Value::List(items) => serde_json::Value::Array(items.iter().map(Value::to_stored_json).collect()),
            Value::Object(o) => {
                serde_json::Value::Object(o.iter().map(|(k, v)| (k.clone(), v.to_stored_json())).collect())
            }
            other => other.to_json(),
        }
    }

    /// Reads JSON written by [`Value::to_stored_json`] (plain JSON reads as [`Value::from_json`]).
    pub fn from_stored_json(json: &serde_json::Value) -> Result<Value, String> {
        match json {
            serde_json::Value::Object(o) => {
                if o.len() == 1 {
                    let tagged = |key: &str| o.get(key).and_then(serde_json::Value::as_str);
                    if let Some(d) = tagged(STORED_DATETIME).and_then(|t| DateTime::parse_from_rfc3339(t).ok()) {
                        return Ok(Value::DateTime(d));
                    }
                    if let Some(n) = tagged(STORED_DECIMAL).and_then(|t| Decimal::from_str(t).ok()) {
                        return Ok(Value::Number(n));
                    }
                }
                Ok(Value::Object(
                    o.iter()
                        .map(|(k, v)| Ok((k.clone(), Value::from_stored_json(v)?)))
                        .collect::<Result<_, String>>()?,
                ))
            }
            serde_json::Value::Array(items) => Ok(Value::List(
                items.iter().map(Value::from_stored_json).collect::<Result<_, _>>()?,
            )),
            other => Value::from_json(other),
        }
    }
}

/// A number in plain decimal without trailing zeros: `6`, `2.5`, `-0.125`.
pub fn format_number(n: Decimal) -> String {
    let n = n.normalize();
    if n.is_zero() {
        return "0".to_string();
    }
    n.to_string()
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::Text(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Text(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Value {
        Value::Number(Decimal::from(n))
    }
}
