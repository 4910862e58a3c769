//! `signalscope agent`: one agent process of a load run, anywhere the
//! control Redis is reachable. It joins the run, holds its share of the
//! connections and reports every second; `signalscope load --agents K`
//! starts K of these locally, and a Kubernetes Indexed Job starts them on
//! many machines (the index comes from `JOB_COMPLETION_INDEX`).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::control::Control;
use super::crowd;
use crate::redis_target::RedisTarget;

/// How long an agent waits for its run to start.
const JOIN_WITHIN: Duration = Duration::from_secs(120);
/// How long past the plan's end an agent waits for the coordinator.
const ORPHAN_GRACE: Duration = Duration::from_secs(120);

/// `signalscope agent` settings.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The control Redis the coordinator uses (`load --control-redis`, or
    /// the target Redis by default).
    #[arg(long, env = "SIGNALSCOPE_CONTROL")]
    pub control: RedisTarget,
    /// The run to join [default: the newest one announced].
    #[arg(long, env = "SIGNALSCOPE_RUN")]
    pub run: Option<String>,
    /// This agent's index, 0-based; a Kubernetes Indexed Job sets
    /// JOB_COMPLETION_INDEX.
    #[arg(long, env = "JOB_COMPLETION_INDEX", default_value_t = 0)]
    pub index: u32,
}

/// The agent's CLIENT SETNAME on the control Redis.
const CLIENT_NAME: &str = "signalscope-load-agent";

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Runs one agent until its run is drained.
pub async fn run(args: Args) -> Result<(), BoxError> {
    let control = Control::connect(&args.control, CLIENT_NAME).await?;
    let run = control.find_run(args.run).await?;
    let (plan, after) = control.join(&run, args.index, JOIN_WITHIN).await?;
    eprintln!(
        "agent {} joined run {run}: {} of {} connections",
        args.index,
        plan.share(args.index).count(),
        plan.connections
    );
    let (command_tx, command_rx) = mpsc::unbounded_channel();
    let (report_tx, mut report_rx) = mpsc::unbounded_channel();
    // An agent whose coordinator died must still stop by itself: past the
    // longest the run could take, it drains on its own.
    let longest = Duration::from_secs_f64(plan.connections as f64 / plan.ramp_per_s)
        + Duration::from_millis(plan.hold_ms + plan.connect_timeout_ms + plan.drain_ms)
        + ORPHAN_GRACE;
    let own = command_tx.clone();
    tokio::spawn(async move {
        tokio::time::sleep(longest).await;
        let _ = own.send(crowd::Command::Drain { last_seq: 0 });
    });
    tokio::spawn(control.clone().commands(run.clone(), after, command_tx));
    let crowd = tokio::spawn(crowd::run(
        Arc::new(plan),
        args.index,
        command_rx,
        report_tx,
    ));
    while let Some(interval) = report_rx.recv().await {
        if let Err(e) = control.report(&run, &interval).await {
            tracing::warn!("report lost: {e}");
        }
    }
    crowd.await??;
    Ok(())
}
