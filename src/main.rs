use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = botwright::cli::Cli::parse();
    std::process::ExitCode::from(botwright::cli::run(cli))
}
