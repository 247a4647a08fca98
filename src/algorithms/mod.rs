//! Algorithms behind one call: `expr` (evaluated here), `http` (a POST to the
//! business system) and `builtin` (Rust functions a host program registers).

use crate::expr::{self, Context, Value};
use crate::model::{Algorithm, AlgorithmKind, CompiledBot};
use chrono::{DateTime, FixedOffset};
use indexmap::IndexMap;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// One call of an algorithm: everything it may read.
pub struct AlgorithmCall<'a> {
    pub bot: &'a CompiledBot,
    pub algorithm: &'a Algorithm,
    /// The template variables at the call (`user`, `input`, `selected`, `history`, `vars`, …).
    pub vars: &'a IndexMap<String, Value>,
    pub now: DateTime<FixedOffset>,
}

impl AlgorithmCall<'_> {
    /// The JSON body an `http` algorithm receives (bot-format.md), plus
    /// `result`: what the algorithm before it in this step returned (after `then`).
    pub fn request_json(&self) -> serde_json::Value {
        let get = |k: &str| self.vars.get(k).map(Value::to_json).unwrap_or(serde_json::Value::Null);
        serde_json::json!({
            "bot": self.bot.id,
            "algorithm": self.algorithm.name,
            "user": get("user"),
            "input": get("input"),
            "selected": get("selected"),
            "selected_title": get("selected_title"),
            "history": get("history"),
            "vars": get("vars"),
            "result": get("result"),
        })
    }
}

/// Why an algorithm gave no result.
#[derive(Debug, Clone, PartialEq)]
pub enum AlgorithmFailure {
    Failed(String),
    Timeout,
}

impl fmt::Display for AlgorithmFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AlgorithmFailure::Failed(cause) => f.write_str(cause),
            AlgorithmFailure::Timeout => f.write_str("timed out"),
        }
    }
}

/// A Rust function registered under a `builtin` name.
pub type BuiltinFn = Arc<dyn Fn(&AlgorithmCall) -> Result<Value, AlgorithmFailure> + Send + Sync>;

/// The builtin functions a host program registers before running bots.
#[derive(Clone, Default)]
pub struct Builtins {
    functions: HashMap<String, BuiltinFn>,
}

impl Builtins {
    pub fn register(
        &mut self,
        name: &str,
        f: impl Fn(&AlgorithmCall) -> Result<Value, AlgorithmFailure> + Send + Sync + 'static,
    ) {
        self.functions.insert(name.to_string(), Arc::new(f));
    }

    pub fn get(&self, name: &str) -> Option<&BuiltinFn> {
        self.functions.get(name)
    }
}

/// How `http` algorithms may be called in a step.
#[derive(Debug, Clone, Copy)]
pub enum Http<'a> {
    /// Not at all (tests and `chat` stub them).
    Off,
    /// Called; `update` is `X-Botwright-Update` without the call number (`<bot>:<update id>`),
    /// `None` outside an update (an HTTP API request), and `calls` numbers the calls.
    On { update: Option<&'a str>, calls: u32 },
}

/// What a stubbed algorithm does instead of running.
#[derive(Debug, Clone, PartialEq)]
pub enum Stub {
    Returns(serde_json::Value),
    Fails,
    TimesOut,
}

impl Stub {
    /// Parses the right side of `@stub NAME = …` or `--stub NAME=…`: JSON, `fail` or `timeout`.
    pub fn parse(text: &str) -> Result<Stub, String> {
        match text.trim() {
            "fail" => Ok(Stub::Fails),
            "timeout" => Ok(Stub::TimesOut),
            json => serde_json::from_str(json)
                .map(Stub::Returns)
                .map_err(|e| format!("not JSON, `fail` or `timeout`: {e}")),
        }
    }
}

/// Runs the algorithms of one step, handed to the engine beside its `World` (which keeps
/// state only): the builtins, the stubs, whether `http` algorithms are called, and the
/// numbering of a step's `http` calls (`X-Botwright-Update`). Code that holds a database
/// transaction has no runner, so no algorithm can run inside one.
#[derive(Clone, Default)]
pub struct Runner {
    pub builtins: Builtins,
    /// Algorithms that do not run: what they do instead.
    pub stubs: HashMap<String, Stub>,
    /// Whether `http` algorithms are called (off: they fail, as in transcripts unless stubbed).
    pub http: bool,
    /// `<bot>:<update id>` of the update handled, for `X-Botwright-Update`.
    update: Option<String>,
    /// The `http` calls made so far in this step.
    calls: u32,
    /// Why each algorithm failed, in order (for `chat`, which prints them).
    pub failures: Vec<String>,
}

impl Runner {
    /// A runner that calls `http` algorithms (the runtime's).
    pub fn online(builtins: &Builtins) -> Runner {
        Runner {
            builtins: builtins.clone(),
            http: true,
            ..Runner::default()
        }
    }

    /// A runner with no builtins that calls nothing over HTTP (tests, transcripts, `chat`).
    pub fn offline() -> Runner {
        Runner::default()
    }

    /// The update this step handles: its `http` calls carry `X-Botwright-Update`.
    pub fn for_update(mut self, bot: &str, update_id: i64) -> Runner {
        self.update = Some(format!("{bot}:{update_id}"));
        self
    }

    /// Runs an algorithm (or its stub).
    pub fn run(&mut self, call: &AlgorithmCall) -> Result<Value, AlgorithmFailure> {
        let result = match self.stubs.get(&call.algorithm.name) {
            Some(Stub::Returns(json)) => Value::from_json(json).map_err(AlgorithmFailure::Failed),
            Some(Stub::Fails) => Err(AlgorithmFailure::Failed("stubbed to fail".into())),
            Some(Stub::TimesOut) => Err(AlgorithmFailure::Timeout),
            None => {
                let http = if !self.http {
                    Http::Off
                } else {
                    if matches!(call.algorithm.kind, AlgorithmKind::Http(_)) {
                        self.calls += 1;
                    }
                    Http::On {
                        update: self.update.as_deref(),
                        calls: self.calls,
                    }
                };
                run(call, &self.builtins, http)
            }
        };
        if let Err(e) = &result {
            self.failures
                .push(format!("algorithm {} failed: {e}", call.algorithm.name));
        }
        result
    }
}

/// Runs an algorithm for real. `http` calls go out only when `http` is allowed.
pub fn run(call: &AlgorithmCall, builtins: &Builtins, http: Http) -> Result<Value, AlgorithmFailure> {
    match &call.algorithm.kind {
        AlgorithmKind::Expr(e) => {
            let ctx = Context {
                vars: call.vars,
                now: call.now,
                tz: call.bot.timezone,
            };
            expr::evaluate(e, &ctx).map_err(|e| AlgorithmFailure::Failed(e.0))
        }
        AlgorithmKind::Builtin(name) => match builtins.get(name) {
            Some(f) => f(call),
            None => Err(AlgorithmFailure::Failed(format!("no builtin `{name}` is registered"))),
        },
        AlgorithmKind::Http(url) => match http {
            #[cfg(feature = "runtime")]
            Http::On { update, calls } => http_call(call, url, update.map(|u| format!("{u}:{calls}"))),
            #[cfg(not(feature = "runtime"))]
            Http::On { .. } => Err(AlgorithmFailure::Failed(format!(
                "http algorithms need botwright's `runtime` feature ({url})"
            ))),
            Http::Off => Err(AlgorithmFailure::Failed(
                "http algorithms are not called here (stub them)".into(),
            )),
        },
    }
}

/// `X-Botwright-Signature`: `sha256=` and the lowercase hex HMAC-SHA256 of `body` with `secret`.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256=");
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// `${VAR}` in a bot's `http` URL, replaced from the environment. A variable the bot may not
/// read (bot-format.md, `[algorithms]`; the compiler refuses it already, E036) is refused here
/// too, before the environment is read.
pub fn expand_env(bot: &CompiledBot, url: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = url;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').ok_or("unclosed `${` in the URL")?;
        let name = &rest[start + 2..start + end];
        if let Some(why) = crate::validate::forbidden_url_variable(&bot.id, Some(&bot.token_env), &bot.neighbours, name)
        {
            return Err(format!("the URL may not name this variable: {why}"));
        }
        out.push_str(&std::env::var(name).map_err(|_| format!("the environment variable {name} is not set"))?);
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(feature = "runtime")]
fn http_call(call: &AlgorithmCall, url: &str, update: Option<String>) -> Result<Value, AlgorithmFailure> {
    let url = expand_env(call.bot, url).map_err(AlgorithmFailure::Failed)?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(call.algorithm.timeout))
        .http_status_as_error(false)
        // A redirect is an answer like any other that is not 2xx: a failure.
        .max_redirects(0)
        .build()
        .into();
    let body = serde_json::to_vec(&call.request_json()).expect("JSON values serialize");
    let mut request = agent.post(&url).header("content-type", "application/json");
    if let Some(update) = &update {
        request = request.header("x-botwright-update", update);
    }
    if let Ok(secret) = std::env::var("BOTWRIGHT_ALGORITHM_SECRET")
        && !secret.is_empty()
    {
        request = request.header("x-botwright-signature", signature(secret.as_bytes(), &body));
    }
    let mut response = match request.send(&body[..]) {
        Ok(r) => r,
        Err(ureq::Error::Timeout(_)) => return Err(AlgorithmFailure::Timeout),
        Err(e) => {
            return Err(AlgorithmFailure::Failed(format!(
                "request failed: {}",
                redact_url(&e.to_string())
            )));
        }
    };
    let status = response.status();
    if !status.is_success() {
        return Err(AlgorithmFailure::Failed(format!(
            "the business system answered {status}"
        )));
    }
    let text = match response.body_mut().with_config().limit(1024 * 1024).read_to_string() {
        Ok(t) => t,
        Err(ureq::Error::Timeout(_)) => return Err(AlgorithmFailure::Timeout),
        Err(e) => {
            return Err(AlgorithmFailure::Failed(format!("reading the answer failed: {e}")));
        }
    };
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| AlgorithmFailure::Failed(format!("the answer is not JSON: {e}")))?;
    Value::from_json(&json).map_err(AlgorithmFailure::Failed)
}

/// Hides anything that looks like a bot token in a message that may carry a URL.
pub fn redact_url(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_inclusive(|c: char| c == '/' || c.is_whitespace()) {
        if crate::secrets::looks_like_token(word) {
            out.push_str("<redacted>");
            if word.ends_with('/') {
                out.push('/');
            }
        } else {
            out.push_str(word);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::expand_env;
    use crate::diagnostics::SourceFile;
    use crate::validate::{Neighbours, compile_with};

    fn bot(id: &str, neighbours: &Neighbours) -> crate::model::CompiledBot {
        let text = "[bot]\nname = \"S\"\ntoken_env = \"SHOP_TOKEN\"\n\n[[keyword]]\nmatch = \"go\"\nreply = \"x\"\n";
        let mut found = Vec::new();
        compile_with(id, &SourceFile::new("shop.toml", text), neighbours, &mut found).expect("compiles")
    }

    #[test]
    fn expanding_refuses_what_the_compiler_refuses() {
        let alone = bot("shop", &Neighbours::default());
        // Refused before the environment is read: `PATH` is set, yet never read.
        for url in [
            "${PATH}",
            "https://x/${SHOP_TOKEN}",
            "${SHOP_SECRET_KEY}",
            "${BOTWRIGHT_API_TOKEN}",
        ] {
            let e = expand_env(&alone, url).expect_err(url);
            assert!(e.contains("may not name"), "{url}: {e}");
        }
        // Allowed names are read (this one is not set).
        let e = expand_env(&alone, "${SHOP_ADMIN_URL}/x").expect_err("not set");
        assert!(e.contains("is not set"), "{e}");
        assert_eq!(expand_env(&alone, "https://plain/x").as_deref(), Ok("https://plain/x"));
        // Beside `shop_admin`, `SHOP_ADMIN_URL` is that bot's.
        let beside = bot(
            "shop",
            &Neighbours {
                ids: vec!["shop".into(), "shop_admin".into()],
                tokens: vec!["SHOP_ADMIN_URL_TOKEN".into()],
            },
        );
        for url in ["${SHOP_ADMIN_URL}/x", "${SHOP_ADMIN_URL_TOKEN}"] {
            let e = expand_env(&beside, url).expect_err(url);
            assert!(e.contains("may not name"), "{url}: {e}");
        }
    }
}
