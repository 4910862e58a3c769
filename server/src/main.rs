//! Run with `cargo run -p signalscope -- --help`.
//!
//! `main` only parses the command line, sets up logging and hands over to
//! the chosen program.

use clap::{CommandFactory, Parser, Subcommand};

/// Watch SignalR broadcasts cross a Redis backplane.
#[derive(Debug, Parser)]
#[command(name = "signalscope", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a stand-in Conduit instance (SignalR hub + Redis backplane).
    Sim(signalscope::sim::Args),
    /// Run the companion: dashboard, test broadcasts, Redis feed, status.
    Serve(Box<signalscope::companion::Args>),
    /// Run Redis, three stand-ins and the companion, and print the URL.
    Demo(signalscope::demo::Args),
    /// Open many SignalR connections, broadcast at a steady rate, and
    /// measure latency, loss, reconnects and Redis under that load.
    Load(Box<signalscope::load::Args>),
    /// One agent process of a distributed `load` run.
    Agent(signalscope::load::agent::Args),
    /// Judge the testing guide's Success Criteria against a deployment.
    Check(Box<signalscope::check::Args>),
    /// Run the always-on canary and serve Prometheus metrics, without the
    /// dashboard.
    Canary(Box<signalscope::canary::Args>),
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let argv = std::env::args_os().collect();
    let argv = match signalscope::settings::with_file_settings(&Cli::command(), argv) {
        Ok(argv) => argv,
        Err(e) => {
            eprintln!("signalscope: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = match Cli::parse_from(argv).command {
        Command::Sim(a) => signalscope::sim::run(a).await,
        Command::Serve(a) => signalscope::companion::run(*a).await,
        Command::Demo(a) => signalscope::demo::run(a).await,
        Command::Load(a) => signalscope::load::run(*a).await,
        Command::Agent(a) => signalscope::load::agent::run(a).await,
        Command::Check(a) => signalscope::check::run(*a).await,
        Command::Canary(a) => signalscope::canary::run(*a).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("signalscope: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
