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
