//! `botwright studio`: serves the analyst's web page (`crate::studio`) for the bots of a
//! directory, on loopback unless `--allow-remote` is given (then with an access token).

use std::net::ToSocketAddrs;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The directory of bot files and transcripts the studio works on.
    #[arg(long, default_value = "bots")]
    pub bots: PathBuf,
    /// Where to listen (loopback by default: the studio reads and writes files).
    #[arg(long, default_value = "127.0.0.1:8700")]
    pub listen: String,
    /// Serve other machines too: any `Host` is answered, and every API request needs the
    /// access token printed at start (`Authorization: Bearer TOKEN`; the page asks for it).
    #[arg(long)]
    pub allow_remote: bool,
}

pub fn run(args: Args) -> u8 {
    // Where `--listen` leads, before anything is bound: off loopback only when allowed.
    let addresses: Vec<std::net::SocketAddr> = match args.listen.to_socket_addrs() {
        Ok(a) => a.collect(),
        Err(e) => {
            eprintln!("error: --listen {}: {e}", args.listen);
            return super::USAGE;
        }
    };
    if addresses.is_empty() {
        eprintln!("error: --listen {}: the address resolves to nothing", args.listen);
        return super::USAGE;
    }
    if !args.allow_remote
        && let Some(remote) = addresses.iter().find(|a| !a.ip().is_loopback())
    {
        eprintln!(
            "error: --listen {}: {} is not a loopback address; the studio reads and writes bot files, so it serves only this machine unless --allow-remote is given (then the API needs the access token it prints)",
            args.listen,
            remote.ip()
        );
        return super::USAGE;
    }
    let studio = match crate::studio::Studio::new(&args.bots) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: --bots {}: {e}", args.bots.display());
            return super::USAGE;
        }
    };
    let token = if args.allow_remote {
        match crate::studio::guard::new_token() {
            Ok(t) => Some(t),
            Err(e) => {
                eprintln!("error: cannot make an access token (reading /dev/urandom): {e}");
                return super::USAGE;
            }
        }
    } else {
        None
    };
    let runtime = match super::tokio_runtime(Some(2)) {
        Ok(r) => r,
        Err(code) => return code,
    };
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(&addresses[..]).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("error: cannot listen on {}: {e}", args.listen);
                return super::USAGE;
            }
        };
        let address = match listener.local_addr() {
            Ok(a) => a,
            Err(e) => {
                eprintln!("error: cannot listen on {}: {e}", args.listen);
                return super::USAGE;
            }
        };
        let access = match token {
            Some(token) => {
                // The one place the token is shown: the analyst gives it to the page.
                say(&format!("access token: {token}"));
                crate::studio::guard::Access::remote(address, token)
            }
            None => crate::studio::guard::Access::local(address),
        };
        say(&format!(
            "botwright studio for {} on http://{address}/",
            studio.dir.display()
        ));
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        match axum::serve(listener, crate::studio::router(studio, access))
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

/// A line on stdout; a closed stdout (the reader went away) does not stop the studio.
fn say(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}
