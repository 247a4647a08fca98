//! `botwright run`: every bot on Telegram at once, state in a database.

use crate::api::Readiness;
use crate::runtime::{self, Runtime, ServedBot, listener};
use crate::store::sql::SqlStore;
use crate::telegram;
use std::path::PathBuf;
use std::sync::Arc;
use teloxide::prelude::*;
use tokio::sync::watch;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The directory of bot files.
    #[arg(long, default_value = "bots")]
    pub bots: PathBuf,
    /// Where state lives: sqlite://FILE or postgres://…
    #[arg(long, default_value = "sqlite://botwright.db")]
    pub db: String,
    /// The Bot API address (else TELOXIDE_API_URL, else Telegram's).
    #[arg(long)]
    pub api_url: Option<String>,
    /// Also serve the HTTP API on this address.
    #[arg(long)]
    pub listen: Option<String>,
    /// Take updates by webhook at URL/ID instead of polling (needs --listen).
    #[arg(long)]
    pub webhook_url: Option<String>,
    /// Long-polling timeout in seconds.
    #[arg(long, default_value_t = 10, hide = true)]
    pub poll_timeout: u32,
    /// Messages a second per bot (Telegram allows about 30).
    #[arg(long, default_value_t = 30.0, hide = true)]
    pub bot_rate: f64,
    /// Messages a second to one chat after a burst of five.
    #[arg(long, default_value_t = 1.0, hide = true)]
    pub chat_rate: f64,
    /// Take updates and serve the API, but leave sending the outbox to other instances.
    #[arg(long, hide = true)]
    pub receive_only: bool,
    /// Seconds an instance's lease lasts without a heartbeat; then another instance takes over its messages.
    #[arg(long, default_value_t = 3, hide = true)]
    pub lease: u64,
    /// Days after which handled update ids and finished messages are deleted.
    #[arg(long, default_value_t = 30)]
    pub retention: u32,
    /// Updates committed together at most (group commit).
    #[arg(long, default_value_t = 256, hide = true)]
    pub commit_batch: usize,
    /// Milliseconds the group commit waits for more updates while its batch is small.
    #[arg(long, default_value_t = 2, hide = true)]
    pub commit_linger_ms: u64,
    /// Seconds a connection to --listen may take to send a request's headers (for tests).
    #[arg(long, default_value_t = listener::HEADER_TIMEOUT.as_secs(), hide = true, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_timeout: u64,
    /// Seconds a request body to --listen may pause before the request fails (for tests).
    #[arg(long, default_value_t = listener::BODY_TIMEOUT.as_secs(), hide = true, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub body_timeout: u64,
}

pub fn run(args: Args) -> u8 {
    init_logging();
    let runtime = match super::tokio_runtime(None) {
        Ok(r) => r,
        Err(code) => return code,
    };
    runtime.block_on(serve(args))
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("BOTWRIGHT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
}

/// Compiles every bot of the directory; `None` (after printing the diagnostics) when any has errors.
fn compile_all(dir: &std::path::Path) -> Result<Vec<crate::model::CompiledBot>, String> {
    let files = super::bot_files(std::slice::from_ref(&dir.to_path_buf())).map_err(|e| e.to_string())?;
    let mut diagnostics = Vec::new();
    let bots: Vec<_> = crate::validate::compile_paths(&files, &mut diagnostics)
        .map_err(|e| format!("cannot read a bot file: {e}"))?
        .into_iter()
        .flatten()
        .collect();
    let errors: Vec<_> = diagnostics.into_iter().filter(|d| d.is_error()).collect();
    if !errors.is_empty() {
        let mut text = termcolor::NoColor::new(Vec::new());
        let _ = crate::diagnostics::render(&errors, crate::diagnostics::Format::Human, &mut text);
        return Err(String::from_utf8_lossy(&text.into_inner()).into_owned());
    }
    Ok(bots)
}

async fn serve(args: Args) -> u8 {
    let bots = match compile_all(&args.bots) {
        Ok(b) if b.is_empty() => {
            eprintln!("error: no bot files in {}", args.bots.display());
            return super::USAGE;
        }
        Ok(b) => b,
        Err(diagnostics) => {
            eprint!("{diagnostics}");
            eprintln!("error: the bots have errors; not starting");
            return super::PROBLEMS;
        }
    };
    let api_url = match args.api_url.clone().or_else(|| std::env::var("TELOXIDE_API_URL").ok()) {
        Some(u) => match url::Url::parse(&u) {
            Ok(u) => Some(u),
            Err(e) => {
                eprintln!("error: the Bot API URL `{u}` is not valid: {e}");
                return super::USAGE;
            }
        },
        None => None,
    };
    // Every token is checked before anything is served.
    let mut served = Vec::new();
    // One HTTP client (one connection pool) for every bot, instead of one each.
    let client = match teloxide::net::default_reqwest_settings().build() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: cannot build the HTTP client: {e}");
            return super::USAGE;
        }
    };
    for definition in bots {
        let var = definition.token_env.clone();
        let Ok(token) = std::env::var(&var) else {
            eprintln!(
                "error: bot `{}`: the environment variable {var} (its token_env) is not set",
                definition.id
            );
            return super::USAGE;
        };
        let mut api = Bot::with_client(token.clone(), client.clone());
        if let Some(u) = &api_url {
            api = api.set_api_url(u.clone());
        }
        match api.get_me().await {
            Ok(me) => {
                tracing::info!(bot = %definition.id, username = %me.username(), "token accepted")
            }
            Err(e) => {
                let why = telegram::redact(&e.to_string(), &token);
                match e {
                    teloxide::RequestError::Network(_) | teloxide::RequestError::Io(_) => {
                        eprintln!(
                            "error: bot `{}`: cannot reach the Bot API to check the token in {var}: {why}",
                            definition.id
                        )
                    }
                    _ => eprintln!(
                        "error: bot `{}`: Telegram rejected the token in {var}: {why}",
                        definition.id
                    ),
                }
                return super::USAGE;
            }
        }
        if let Some(base) = &args.webhook_url {
            let url = format!("{}/{}", base.trim_end_matches('/'), definition.id);
            let Ok(url) = url::Url::parse(&url) else {
                eprintln!("error: --webhook-url {base} is not a URL");
                return super::USAGE;
            };
            let request = api
                .set_webhook(url)
                .secret_token(telegram::webhook::secret_for(&token))
                .allowed_updates(vec![
                    teloxide::types::AllowedUpdate::Message,
                    teloxide::types::AllowedUpdate::CallbackQuery,
                ]);
            if let Err(e) = request.await {
                eprintln!(
                    "error: bot `{}`: setWebhook failed: {}",
                    definition.id,
                    telegram::redact(&e.to_string(), &token)
                );
                return super::USAGE;
            }
        }
        served.push(Arc::new(ServedBot::new(definition, api, token)));
    }
    if args.webhook_url.is_some() && args.listen.is_none() {
        eprintln!("error: --webhook-url needs --listen ADDR to receive the deliveries on");
        return super::USAGE;
    }
    let api_token = match &args.listen {
        Some(_) => match std::env::var("BOTWRIGHT_API_TOKEN") {
            Ok(t) if !t.trim().is_empty() => Some(t),
            _ => {
                eprintln!("error: --listen serves the HTTP API, which needs BOTWRIGHT_API_TOKEN to be set");
                return super::USAGE;
            }
        },
        None => None,
    };
    let listener = match &args.listen {
        Some(addr) => match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => Some(l),
            Err(e) => {
                eprintln!("error: cannot listen on {addr}: {e}");
                return super::USAGE;
            }
        },
        None => None,
    };
    let store = match SqlStore::open(&args.db).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return super::USAGE;
        }
    };
    let (stop, shutdown) = watch::channel(false);
    let runtime = Runtime::new(
        store,
        Default::default(),
        runtime::system_clock(),
        runtime::Limits {
            per_bot: args.bot_rate.max(0.1),
            per_chat: args.chat_rate.max(0.01),
            chat_burst: 5.0,
        },
        shutdown,
        runtime::Tuning {
            commit_batch: args.commit_batch.max(1),
            commit_linger: std::time::Duration::from_millis(args.commit_linger_ms),
            lease: std::time::Duration::from_secs(args.lease.max(1)),
        },
    );
    // The lease before anything is handled: the replies of the resumed updates are this
    // instance's to send, and another instance takes over those of an instance without one.
    if let Err(e) = runtime.renew_lease().await {
        eprintln!("error: cannot take this instance's lease: {e}");
        return super::USAGE;
    }
    let chats = telegram::Chats::new(runtime.clone(), &served);
    match chats.resume().await {
        Ok(0) => {}
        Ok(n) => tracing::info!(updates = n, "handling updates that were stored but not handled"),
        Err(e) => {
            eprintln!("error: cannot read the inbox: {e}");
            return super::USAGE;
        }
    }
    let mut tasks = tokio::task::JoinSet::new();
    let mut senders = tokio::task::JoinSet::new();
    let (stop_senders, senders_stop) = watch::channel(false);
    let upkeep = tokio::spawn(telegram::run_upkeep(
        runtime.clone(),
        chats.clone(),
        served.clone(),
        args.retention,
        senders_stop.clone(),
    ));
    for bot in &served {
        if args.webhook_url.is_none() {
            tasks.spawn(telegram::run_poller(
                runtime.clone(),
                chats.clone(),
                bot.clone(),
                args.poll_timeout,
            ));
        }
        if !args.receive_only {
            senders.spawn(telegram::run_sender(runtime.clone(), bot.clone(), senders_stop.clone()));
        }
    }
    let served = Arc::new(served);
    let webhook_base = args
        .webhook_url
        .as_ref()
        .map(|u| url::Url::parse(u).map(|u| u.path().to_string()).unwrap_or_default());
    let readiness = Arc::new(Readiness::default());
    // The listener stops last of the receivers: while the chats finish it still answers
    // (`/healthz` with 503, webhook deliveries with 503, the API as ever).
    let (stop_http, http_stop) = watch::channel(false);
    let mut http = None;
    if let (Some(listener), Some(token)) = (listener, api_token) {
        let state = crate::api::ApiState {
            runtime: runtime.clone(),
            bots: served.clone(),
            token: Arc::new(token),
            ready: readiness.clone(),
        };
        tracing::info!(address = %listener.local_addr().map(|a| a.to_string()).unwrap_or_default(), "serving the HTTP API");
        let mut app = crate::api::router(state.clone());
        if let Some(base) = &webhook_base {
            app = app.merge(telegram::webhook::router(chats.clone(), state.bots.clone(), base));
        }
        let timeouts = listener::Timeouts {
            header: std::time::Duration::from_secs(args.header_timeout),
            body: std::time::Duration::from_secs(args.body_timeout),
        };
        http = Some(tokio::spawn(listener::serve(listener, app, timeouts, http_stop)));
    }
    tracing::info!(bots = served.len(), "serving");
    readiness.serving();
    signals(&served, &args.bots).await;
    tracing::info!("stopping: finishing updates in flight");
    readiness.stopping();
    let _ = stop.send(true);
    while tasks.join_next().await.is_some() {}
    // Nothing new is taken in any more: what was received is handled before the store closes.
    chats.wait_idle(std::time::Duration::from_secs(30)).await;
    let _ = stop_http.send(true);
    if let Some(http) = http {
        let _ = http.await;
        // A delivery that was being stored as the stop began.
        chats.wait_idle(std::time::Duration::from_secs(30)).await;
    }
    let _ = stop_senders.send(true);
    while senders.join_next().await.is_some() {}
    let _ = upkeep.await;
    // Every sender has stopped: what this instance still owned goes back to the outbox now,
    // instead of when its lease runs out.
    if let Err(e) = runtime.store.leave(&runtime.instance).await {
        tracing::error!(error = %e, "cannot hand this instance's messages back");
    }
    runtime.store.close().await;
    tracing::info!("stopped");
    super::OK
}

/// Waits for SIGTERM or SIGINT; SIGHUP reloads the bots meanwhile.
async fn signals(served: &[Arc<ServedBot>], dir: &std::path::Path) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
    ) else {
        tracing::error!("cannot install signal handlers");
        return;
    };
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = hup.recv() => reload(served, dir),
        }
    }
}

/// Recompiles the bots; a valid new definition replaces the old one at once, an invalid one is logged and ignored.
fn reload(served: &[Arc<ServedBot>], dir: &std::path::Path) {
    match compile_all(dir) {
        Err(diagnostics) => {
            tracing::error!(diagnostics = %diagnostics, "reload rejected: the bots have errors; the old definitions keep serving")
        }
        Ok(bots) => {
            for new in bots {
                match served.iter().find(|b| b.id == new.id) {
                    Some(bot) => {
                        let old = bot.current();
                        let changed = old.hash != new.hash;
                        // Records whose conversations the new definition drops (bot-format.md,
                        // "Changing a bot file"): changed, removed or disabled.
                        let records_changed = old
                            .records
                            .iter()
                            .filter(|r| new.fingerprint_of(&r.id, r.fingerprint.len()) != Some(r.fingerprint.as_str()))
                            .count();
                        *bot.definition.write().expect("definition lock") = Arc::new(new);
                        tracing::info!(bot = %bot.id, changed, records_changed, "reloaded");
                    }
                    None => {
                        tracing::warn!(bot = %new.id, "a new bot file needs a restart to be served")
                    }
                }
            }
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct UnhookArgs {
    /// The directory of bot files.
    #[arg(long, default_value = "bots")]
    pub bots: PathBuf,
    /// The Bot API address (else TELOXIDE_API_URL, else Telegram's).
    #[arg(long)]
    pub api_url: Option<String>,
}

/// `botwright unhook`: removes every bot's webhook. Stopping an instance never does
/// (the others keep receiving); this explicit command is the only way.
pub fn unhook(args: UnhookArgs) -> u8 {
    init_logging();
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
        return super::USAGE;
    };
    runtime.block_on(async {
        let bots = match compile_all(&args.bots) {
            Ok(b) => b,
            Err(d) => {
                eprint!("{d}");
                return super::PROBLEMS;
            }
        };
        let api_url = args
            .api_url
            .clone()
            .or_else(|| std::env::var("TELOXIDE_API_URL").ok())
            .and_then(|u| url::Url::parse(&u).ok());
        for b in bots {
            let Ok(token) = std::env::var(&b.token_env) else {
                eprintln!(
                    "error: bot `{}`: the environment variable {} (its token_env) is not set",
                    b.id, b.token_env
                );
                return super::USAGE;
            };
            let mut api = Bot::new(token.clone());
            if let Some(u) = &api_url {
                api = api.set_api_url(u.clone());
            }
            match api.delete_webhook().await {
                Ok(_) => println!("bot `{}`: webhook removed", b.id),
                Err(e) => {
                    eprintln!(
                        "error: bot `{}`: deleteWebhook failed: {}",
                        b.id,
                        telegram::redact(&e.to_string(), &token)
                    );
                    return super::USAGE;
                }
            }
        }
        super::OK
    })
}
