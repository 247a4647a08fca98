//! `botwright studio`: serves the analyst's web page (`crate::studio`) for the bots of a
//! directory, on loopback by default.

use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The directory of bot files and transcripts the studio works on.
    #[arg(long, default_value = "bots")]
    pub bots: PathBuf,
    /// Where to listen (loopback by default: the studio reads and writes files).
    #[arg(long, default_value = "127.0.0.1:8700")]
    pub listen: String,
}

pub fn run(args: Args) -> u8 {
    let studio = match crate::studio::Studio::new(&args.bots) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: --bots {}: {e}", args.bots.display());
            return super::USAGE;
        }
    };
    let runtime = match super::tokio_runtime(Some(2)) {
        Ok(r) => r,
        Err(code) => return code,
    };
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(&args.listen).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("error: cannot listen on {}: {e}", args.listen);
                return super::USAGE;
            }
        };
        let address = listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or(args.listen.clone());
        println!("botwright studio for {} on http://{address}/", studio.dir.display());
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        match axum::serve(listener, crate::studio::router(studio))
            .with_graceful_shutdown(shutdown)
            .await
        {
            Ok(()) => super::OK,
            Err(e) => {
                eprintln!("error: the studio stopped: {e}");
                super::USAGE
            }
        }
    })
}
