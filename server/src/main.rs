//! The `switchboard` binary: parses the command line and runs the command.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = switchboard::cli::Cli::parse();
    match switchboard::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
