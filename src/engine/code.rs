//! Code mode: exposed algorithms by name and expressions typed by users.

use super::Keyboard;
use super::turn::{Scope, Turn, cut};
use crate::expr::{self, Context, Value};
use crate::limits::MAX_MESSAGE as MAX_MESSAGE_CHARS;
use crate::texts::Text;

impl Turn<'_> {
    pub(super) fn code(&mut self, text: &str, norm: &str) -> bool {
        if let Some(name) = self.bot.code_names.get(norm).cloned() {
            let scope = Scope {
                input: Some(text.to_string()),
                ..Scope::default()
            };
            if let Ok(value) = self.call_algorithm(&name, &scope) {
                let is_expr = matches!(self.bot.algorithms[&name].kind, crate::model::AlgorithmKind::Expr(_));
                if value.is_empty_result() {
                    self.say(Text::EmptyResult, &[], Keyboard::None);
                } else {
                    let shown = match &value {
                        Value::Object(o) if o.contains_key("text") => o["text"].to_text(),
                        other => other.to_text(),
                    };
                    let t = self.algorithm_text(&cut(&shown, MAX_MESSAGE_CHARS), is_expr);
                    self.send_to(self.user.chat, t, Keyboard::None);
                }
            }
            return true;
        }
        // Without an operator or a call there is nothing to evaluate: skip the parser.
        let may_be_code = text.contains(['+', '-', '*', '/', '%', '<', '>', '=', '!', '&', '|', '('])
            || text
                .split_whitespace()
                .any(|w| matches!(w, "and" | "or" | "not" | "if"));
        if !may_be_code {
            return false;
        }
        let Ok(parsed) = expr::parse_expression(text) else {
            return false;
        };
        if !parsed.has_operator_or_call() {
            return false;
        }
        let scope = Scope {
            input: Some(text.to_string()),
            ..Scope::default()
        };
        let vars = self.scope_vars(&scope, &[]);
        let ctx = Context {
            vars: &vars,
            now: self.now,
            tz: self.bot.timezone,
        };
        match expr::evaluate(&parsed, &ctx) {
            Ok(v) => {
                // A value is one message: cut to Telegram's length, ending with `…`.
                let t = expr::escape_html(&cut(&v.to_text(), MAX_MESSAGE_CHARS));
                let t = if t.is_empty() {
                    self.render_text(Text::EmptyResult, &vars)
                } else {
                    t
                };
                self.send_to(self.user.chat, t, Keyboard::None);
            }
            Err(e) => self.say(Text::CodeError, &[("error", Value::text(e.0))], Keyboard::None),
        }
        true
    }
}
