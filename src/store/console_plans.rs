//! The statements built per request (the console's and the API's paged lists and
//! searches, the overview, broadcasts' counts, request pages, registered chats and the
//! insights aggregate), in each of their forms, for the plan test that `plans.rs` runs on
//! the hot path's statements: none may read the outbox, the inbox, the sessions or the
//! log whole.

use super::plans::{HotQuery, Param};

/// The statements built per request (the console's and the API's lists, searches and the
/// insights aggregate), in each of their forms, with values of the right types.
pub fn console_queries() -> Vec<HotQuery> {
    use super::insights::statements as insights;
    use super::operators::{self, Page};
    use super::queries::{self, Registered};
    use Param::{Int, Text};
    let t = "2026-01-01T00:00:00.000Z";
    let now = chrono::DateTime::parse_from_rfc3339(t).expect("a time");
    let q = |name, sql: String, params: Vec<Param>| HotQuery { name, sql, params };
    let period = || vec![Text("demo"), Text(t), Text(t)];
    let pages = [
        Page::Oldest { after: 0, limit: 50 },
        Page::Newest {
            before: None,
            limit: 50,
        },
        Page::Newest {
            before: Some(100),
            limit: 50,
        },
    ];
    let mut out = Vec::new();
    for page in pages {
        out.push(operators::audit_statement(page).hot("audit page"));
        out.push(operators::broadcasts_statement("demo", page).hot("broadcasts page"));
        for status in [None, Some("queued"), Some("scheduled"), Some("failed")] {
            for to in [None, Some(1)] {
                out.push(operators::messages_statement("demo", status, to, now, page).hot("messages page"));
            }
        }
    }
    for search in [None, Some("вектор")] {
        out.push(operators::users_statement("demo", search, 0, 50).hot("users page"));
    }
    out.push(q(
        "overview: failed calls",
        operators::ALGORITHM_FAILURES.into(),
        vec![Text("demo"), Text(t)],
    ));
    out.push(q(
        "overview: waiting messages",
        operators::WAITING_COUNTS.into(),
        vec![Text("demo"), Text(t)],
    ));
    out.push(q(
        "broadcasts' counts",
        queries::broadcasts_counts_sql(2),
        vec![Text("demo"), Text(t), Int(1), Int(2)],
    ));
    out.push(q(
        "requests page",
        queries::auth_requests_sql(false),
        vec![Text("demo"), Int(0), Int(50)],
    ));
    out.push(q(
        "requests page by status",
        queries::auth_requests_sql(true),
        vec![Text("demo"), Int(0), Int(50), Text("pending")],
    ));
    for private in [false, true] {
        let whom = [
            Registered::All,
            Registered::Kind("k"),
            Registered::Principal { kind: "k", id: "1" },
        ];
        for who in whom {
            let (sql, values) = queries::registered_chats_sql(who, private);
            let params = std::iter::once(Text("demo"))
                .chain(values.into_iter().map(Text))
                .collect();
            out.push(q("registered chats", sql, params));
        }
    }
    for (name, sql) in [
        ("insights: totals", insights::totals()),
        ("insights: hourly", insights::hourly()),
        ("insights: records", insights::reached("record")),
        ("insights: unknown", insights::reached("unknown")),
        ("insights: choices", insights::CHOICES_SHOWN.to_string()),
        ("insights: options", insights::options_taken()),
        ("insights: inputs", insights::inputs()),
        ("insights: calls", insights::calls()),
    ] {
        out.push(q(name, sql, period()));
    }
    out.push(q(
        "insights: a call at a rank",
        insights::call_at_rank(),
        [period(), vec![Text("check"), Int(0)]].concat(),
    ));
    out
}

#[cfg(test)]
mod tests {
    /// The console's statements (sqlx only, which binds by number) have a value for each
    /// of their parameters.
    #[test]
    fn every_console_statement_has_its_values() {
        for q in super::console_queries() {
            let mut numbers = super::super::plans::first_appearances(&q.sql);
            numbers.sort();
            let expected: Vec<usize> = (1..=numbers.len()).collect();
            assert_eq!(numbers, expected, "{}: {}", q.name, q.sql);
            assert_eq!(numbers.len(), q.params.len(), "{}: the values for its plan", q.name);
        }
    }
}
