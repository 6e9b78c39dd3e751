//! The `switchboard` binary: parses the command line and runs the command.

use clap::Parser;

// glibc's allocator took about a tenth of the server's CPU under webhook load (malloc/free in the request,
// plugin and SQL paths); mimalloc's thread-local free lists cost a fraction of that (docs/performance.md).
// Built without transparent huge pages (`no_thp` in Cargo.toml): on kernels that honour its `madvise`, each
// page the server touched in an arena became 2 MiB, about 30 MiB more idle memory, for no gain in throughput.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
