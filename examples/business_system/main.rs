//! Runs the reference business system of `bots/signal.toml`:
//!
//! ```sh
//! BOTWRIGHT_API_URL=http://127.0.0.1:8080 BOTWRIGHT_API_TOKEN=secret \
//!     cargo run --example business_system -- 127.0.0.1:8090
//! SIGNAL_BS_URL=http://127.0.0.1:8090 SIGNAL_BOT_TOKEN=… BOTWRIGHT_API_TOKEN=secret \
//!     cargo run -- run --listen 127.0.0.1:8080
//! ```

mod system;

#[tokio::main]
async fn main() {
    let address = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:8090".to_string());
    let botwright = std::env::var("BOTWRIGHT_API_URL").unwrap_or_else(|_| "http://127.0.0.1:8080".to_string());
    let token = std::env::var("BOTWRIGHT_API_TOKEN").unwrap_or_default();
    let listener = tokio::net::TcpListener::bind(&address).await.expect("cannot listen");
    println!("business system on http://{address}, notifying through {botwright}");
    let app = system::BusinessSystem::with_demo_data(botwright, token).router();
    axum::serve(listener, app).await.expect("server failed");
}
