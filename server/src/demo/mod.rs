//! `signalscope demo`: the whole system on one machine with one command.
//!
//! Starts a `redis-server` child on a free port (unless `--redis` names
//! one), three stand-in instances as children of this same binary, and the
//! companion in this process with the demo's stop/start controls mounted.
//! Prints the URL and what runs where; Ctrl-C or SIGTERM stops everything.
//!
//! * [`controls`]: the routes that stop and start the children from the
//!   page ([`crate::children`] does the starting and stopping).

pub mod controls;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use protocol::api::{DemoControls, Instance};
use tokio::net::TcpListener;
use tokio::sync::Mutex;

use crate::children::{free_port, ChildError, Supervised};
use crate::companion::{self, CompanionConfig};
use crate::redis_target::RedisTarget;
use crate::sim::profiles::Profile;
use controls::{Fleet, StandInRecipe};

/// Printed once everything is up; scripts and the end-to-end tests wait
/// for it.
pub const READY_LINE: &str = "signalscope demo ready:";

/// What can go wrong running the demo.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// A child process failed to start.
    #[error(transparent)]
    Child(#[from] ChildError),
    /// A control request named a process the demo does not own.
    #[error("the demo does not control a process named '{0}'")]
    UnknownProcess(String),
    /// A control request asked for something other than stop or start.
    #[error("unknown action '{0}' (expected stop or start)")]
    UnknownAction(String),
    /// No port left above the last instance's for a new one.
    #[error("no free port for another instance")]
    NoFreePort,
}

/// Command-line settings.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// How many stand-in instances to run (named api-1, api-2, …).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=32))]
    pub instances: u16,
    /// Port of the first instance; the others follow it.
    #[arg(long, default_value_t = 5000)]
    pub base_port: u16,
    /// Where the dashboard listens.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Use this Redis instead of starting one (then the page cannot stop it).
    #[arg(long)]
    pub redis: Option<RedisTarget>,
    /// The trunk-built dashboard.
    #[arg(long, default_value = "dist")]
    pub dist: PathBuf,
    /// PASS when every connected panel got a broadcast within this many
    /// ms of the click.
    #[arg(long, default_value_t = 50)]
    pub pass_within_ms: u64,
    /// Also run the companion's always-on canary, one broadcast every this
    /// often (`10s`); see /metrics.
    #[arg(long, value_parser = crate::load::plan::parse_duration)]
    pub canary: Option<std::time::Duration>,
    /// A hub every stand-in serves (repeatable): `navigation` (the
    /// default) or `notifications` (needs --require-key); the page opens a
    /// panel per instance and hub.
    #[arg(long = "hub", value_name = "PROFILE", value_parser = crate::sim::profiles::find)]
    pub hubs: Vec<&'static Profile>,
    /// A virtual key the stand-ins' secure hubs accept (repeatable); the
    /// page asks for it on those hubs' panels.
    #[arg(long = "require-key", value_name = "KEY")]
    pub keys: Vec<String>,
}

impl Args {
    /// The stand-ins' own flags for the hubs and keys asked for; refused
    /// before anything starts when a secure hub has no key.
    fn stand_in_flags(&self) -> Result<Vec<String>, BoxError> {
        if let Some(hub) = self.hubs.iter().find(|h| h.requires_key) {
            if self.keys.is_empty() {
                return Err(format!(
                    "--hub {} requires a virtual key: add --require-key <key>",
                    hub.name
                )
                .into());
            }
        }
        let hubs = self
            .hubs
            .iter()
            .flat_map(|h| ["--hub".into(), h.name.into()]);
        let keys = self
            .keys
            .iter()
            .flat_map(|k| ["--require-key".into(), k.clone()]);
        Ok(hubs.chain(keys).collect())
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Runs the demo until Ctrl-C or SIGTERM, then stops every child.
pub async fn run(args: Args) -> Result<(), BoxError> {
    ensure_dashboard(&args.dist)?;
    let stand_in_flags = args.stand_in_flags()?;
    // Claim every port before starting anything, so a busy port fails fast
    // with a clear message instead of half a demo.
    let listener = TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {} ({e}); pass --listen", args.listen))?;
    let ports: Vec<u16> = (0..args.instances)
        .map(|i| args.base_port.checked_add(i).ok_or("--base-port too high"))
        .collect::<Result<_, _>>()?;
    for &port in &ports {
        std::net::TcpListener::bind(("127.0.0.1", port))
            .map_err(|e| format!("port {port} is not free ({e}); pass --base-port"))?;
    }

    let exe = std::env::current_exe()?;
    let (redis_target, mut redis_child) = match &args.redis {
        Some(t) => (t.clone(), None),
        None => {
            let port = free_port()?;
            let child = Supervised::redis_server(port);
            (RedisTarget::local(port), Some(child))
        }
    };
    if let Some(r) = &mut redis_child {
        r.start().await?;
    }
    let mut fleet = Fleet {
        redis: redis_child,
        instances: Vec::new(),
        recipe: StandInRecipe {
            exe,
            redis_url: redis_target.url().into(),
            flags: stand_in_flags,
            next_port: ports.last().map_or(args.base_port, |p| p.saturating_add(1)),
        },
    };
    let mut instances = Vec::new();
    for (i, port) in ports.iter().enumerate() {
        let name = format!("api-{}", i + 1);
        let mut child = fleet.recipe.child(&name, *port);
        if let Err(e) = child.start().await {
            fleet.stop_all().await;
            return Err(e.into());
        }
        fleet.instances.push(child);
        instances.push(Instance {
            name,
            url: format!("http://127.0.0.1:{port}"),
            hubs: Vec::new(),
        });
    }

    let demo = DemoControls {
        instances: instances.iter().map(|i| i.name.clone()).collect(),
        redis: fleet.redis.is_some(),
    };
    let fleet = Arc::new(Mutex::new(fleet));
    let mut config = CompanionConfig::new(redis_target.clone(), instances.clone());
    config.dist = args.dist.clone();
    config.pass_within_ms = args.pass_within_ms;
    config.canary = args.canary;
    config.demo = Some(demo);
    if !args.hubs.is_empty() {
        // Every stand-in profile is one of Conduit's hubs (profiles.rs).
        config.hubs = args
            .hubs
            .iter()
            .filter_map(|p| protocol::hubs::conduit(p.name))
            .collect();
    }
    config.extra_routes = Some(controls::routes(fleet.clone()));

    let url = format!("http://{}/", listener.local_addr()?);
    println!("signalscope demo");
    println!("  dashboard  {url}");
    println!(
        "  redis      {redis_target}{}",
        if args.redis.is_some() {
            " (yours)"
        } else {
            " (started by the demo)"
        }
    );
    let paths: Vec<&str> = config.hubs.iter().map(|h| h.path.as_str()).collect();
    for i in &instances {
        println!(
            "  {:<10} {}  (stand-in instance, {})",
            i.name,
            i.url,
            paths.join(", ")
        );
    }
    if let Some(every) = args.canary {
        println!("  canary     every {every:?}; Prometheus metrics at {url}metrics");
    }
    // `load` and `check` find the demo through this file.
    let hub_names: Vec<&str> = args.hubs.iter().map(|p| p.name).collect();
    let demo_file = crate::deployment::write_demo_file(&crate::deployment::DemoSettings {
        redis: &redis_target,
        instances: &instances,
        hubs: &hub_names,
        key: args.keys.first().map(String::as_str),
        companion: url.trim_end_matches('/'),
    });
    if let Err(e) = &demo_file {
        tracing::warn!("could not write the demo's settings for load/check: {e}");
    }
    println!("Ctrl-C stops everything.");
    println!("{READY_LINE} {url}");

    let served = companion::serve(config, listener, crate::shutdown::signal()).await;
    println!("stopping…");
    if let Ok(path) = demo_file {
        let _ = std::fs::remove_file(path);
    }
    fleet.lock().await.stop_all().await;
    served
}

/// Fails with the exact build command when the dashboard is missing.
fn ensure_dashboard(dist: &Path) -> Result<(), BoxError> {
    if dist.join("index.html").is_file() {
        return Ok(());
    }
    Err(format!(
        "the dashboard is not built ({} has no index.html). Build it with:\n    bash scripts/build-dashboard.sh\n(or run the demo with bash scripts/demo.sh, which builds it first)",
        dist.display()
    )
    .into())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    /// `demo`'s flags as `main` would read them.
    fn demo(args: &[&str]) -> Args {
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            demo: Args,
        }
        Cli::parse_from(std::iter::once("demo").chain(args.iter().copied())).demo
    }

    /// Without `--hub` the stand-ins get no extra flag: today's demo.
    #[test]
    fn no_hub_adds_no_flag() {
        assert!(demo(&[]).stand_in_flags().unwrap().is_empty());
    }

    /// Hubs and keys reach every stand-in as its own flags, in order.
    #[test]
    fn hubs_and_keys_reach_the_stand_ins() {
        let args = demo(&[
            "--hub",
            "navigation",
            "--hub",
            "notifications",
            "--require-key",
            "vk-1",
        ]);
        assert_eq!(
            args.stand_in_flags().unwrap(),
            [
                "--hub",
                "navigation",
                "--hub",
                "notifications",
                "--require-key",
                "vk-1"
            ]
        );
    }

    /// A secure hub without a key is refused before anything starts,
    /// naming the flag to add.
    #[test]
    fn a_secure_hub_needs_a_key() {
        let e = demo(&["--hub", "notifications"])
            .stand_in_flags()
            .unwrap_err();
        assert!(e.to_string().contains("--require-key"), "{e}");
    }
}
