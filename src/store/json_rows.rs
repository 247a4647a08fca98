//! Rows for PostgreSQL's multi-row statements, as one JSON array of objects (see
//! `statements::MARK_HANDLED_MANY` and its kin): the statement's text stays the same
//! however many rows there are, so the server parses and plans it once per connection.
//! Keys are the names the statement's record gives its columns.

use std::fmt::Write;

/// A JSON array of flat objects, written row by row.
pub struct JsonRows {
    out: String,
    rows: usize,
    fields: usize,
}

impl Default for JsonRows {
    fn default() -> Self {
        JsonRows::new()
    }
}

impl JsonRows {
    pub fn new() -> JsonRows {
        JsonRows {
            out: String::from("["),
            rows: 0,
            fields: 0,
        }
    }

    /// Starts the next row.
    pub fn row(&mut self) -> &mut JsonRows {
        if self.rows > 0 {
            self.out.push_str("},");
        }
        self.out.push('{');
        self.rows += 1;
        self.fields = 0;
        self
    }

    fn key(&mut self, key: &str) {
        if self.fields > 0 {
            self.out.push(',');
        }
        self.fields += 1;
        // Keys are the statements' own column names: plain ASCII, nothing to escape.
        self.out.push('"');
        self.out.push_str(key);
        self.out.push_str("\":");
    }

    pub fn text(&mut self, key: &str, value: &str) -> &mut JsonRows {
        self.key(key);
        // serde_json writes a string with every escape JSON needs.
        let quoted = serde_json::to_string(value).expect("a string is valid JSON");
        self.out.push_str(&quoted);
        self
    }

    pub fn opt_text(&mut self, key: &str, value: Option<&str>) -> &mut JsonRows {
        match value {
            Some(v) => self.text(key, v),
            None => self.null(key),
        }
    }

    pub fn int(&mut self, key: &str, value: i64) -> &mut JsonRows {
        self.key(key);
        write!(self.out, "{value}").expect("a string takes writes");
        self
    }

    pub fn opt_int(&mut self, key: &str, value: Option<i64>) -> &mut JsonRows {
        match value {
            Some(v) => self.int(key, v),
            None => self.null(key),
        }
    }

    fn null(&mut self, key: &str) -> &mut JsonRows {
        self.key(key);
        self.out.push_str("null");
        self
    }

    /// How many rows are written.
    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// The array's text.
    pub fn finish(mut self) -> String {
        if self.rows > 0 {
            self.out.push('}');
        }
        self.out.push(']');
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::JsonRows;

    #[test]
    fn rows_are_a_json_array_of_objects_with_every_text_escaped() {
        assert_eq!(JsonRows::new().finish(), "[]");
        let mut rows = JsonRows::new();
        rows.row().text("bot", "demo").int("chat", -5).opt_text("owner", None);
        rows.row()
            .text("bot", "кавычка \" и \\ и\nстрока\u{1}")
            .int("chat", i64::MAX)
            .opt_int("telegram", None);
        assert_eq!(rows.len(), 2);
        let text = rows.finish();
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            parsed,
            serde_json::json!([
                {"bot": "demo", "chat": -5, "owner": null},
                {"bot": "кавычка \" и \\ и\nстрока\u{1}", "chat": i64::MAX, "telegram": null}
            ])
        );
    }
}
