//! `signalscope demo`: the whole system on one machine with one command.
//!
//! Starts a `redis-server` child on a free port (unless `--redis` names
//! one), three stand-in instances as children of this same binary, and the
//! companion in this process with the demo's stop/start controls mounted.
//! Prints the URL and what runs where; Ctrl-C or SIGTERM stops everything.
//!
//! * [`children`]: starting, awaiting and stopping child processes.
//! * [`controls`]: the routes that stop and start them from the page.

pub mod children;
pub mod controls;

/// What can go wrong running the demo.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// A child could not be spawned at all.
    #[error("could not start {name} ({program}): {reason}")]
    Spawn {
        /// Which child.
        name: String,
        /// The executable tried.
        program: String,
        /// The OS's reason.
        reason: String,
    },
    /// A child started but never said it was ready.
    #[error("{name} did not become ready (waited for '{marker}' on its output)")]
    NotReady {
        /// Which child.
        name: String,
        /// The line it should have printed.
        marker: &'static str,
    },
    /// A control request named a process the demo does not own.
    #[error("the demo does not control a process named '{0}'")]
    UnknownProcess(String),
    /// A control request asked for something other than stop or start.
    #[error("unknown action '{0}' (expected stop or start)")]
    UnknownAction(String),
}

/// Command-line settings.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {}

/// Runs until shutdown.
pub async fn run(_args: Args) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    Err("not yet implemented".into())
}
