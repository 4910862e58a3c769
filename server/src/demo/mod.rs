//! Placeholder: being written.

/// Command-line settings.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {}

/// Runs until shutdown.
pub async fn run(_args: Args) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    Err("not yet implemented".into())
}
