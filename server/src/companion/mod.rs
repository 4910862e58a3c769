//! `signalscope serve`: the companion. It hosts the dashboard, sends test
//! broadcasts, relays a filtered Redis feed over SSE and reports the health
//! of Redis and of every instance.
//!
//! * [`Args`] and [`CompanionConfig`]: settings from flags, environment
//!   variables and a TOML file (flags win, then the environment, then the
//!   file, then Conduit's defaults).
//! * [`app`]: the router; [`serve`] runs it on a listener until shutdown.
//! * `trigger`, `feed`, `status`, `assets`: one module per endpoint family
//!   (`feed` counts what it relays and drops: [`AppState::feed_stats`]);
//!   they share one [`crate::redis_link::RedisLink`]; `error` the one
//!   error type every handler answers with.

mod app;
mod assets;
mod error;
mod feed;
mod status;
mod trigger;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::deployment::{DeploymentArgs, HubKeys};
use crate::load::plan::parse_duration;
use crate::redis_target::RedisTarget;
use axum::Router;
use protocol::api::{DemoControls, Hub, Instance};
use protocol::backplane::{Channels, CONDUIT_PREFIX};
use protocol::hub_protocol::HubProtocol;

pub use app::{app, monitoring, AppState};
pub use error::AppError;
pub use feed::{FeedStats, FeedTuning};
pub use trigger::ConfiguredTrigger;

/// The boxed error of the rare, fatal paths (bad settings, bind failure).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
const DEFAULT_DIST: &str = "dist";
/// The bar for "everyone got it": 50 ms from click to arrival.
const DEFAULT_PASS_WITHIN_MS: u64 = 50;

/// `signalscope serve` settings. Each field is one setting: its flag, its
/// environment variable, its help and its `--config` key
/// ([`crate::settings`]).
#[derive(Debug, Clone, Default, clap::Args)]
#[command(
    after_help = "Settings come from flags, then SIGNALSCOPE_* environment variables, then the --config \
TOML file, then Conduit's defaults. The file's keys are the settings' names in snake_case (hub_path = …, \
pass_within_ms = 50); repeatable ones take an array (instances = [\"api-1=http://…\"]), trigger headers a table \
([trigger_headers] X-API-Key = \"…\"). One file may hold settings of serve, load and check.\n\
TLS: rediss:// and https:// are checked against the system's roots, or only those in the PEM file named by \
SSL_CERT_FILE (or the directories in SSL_CERT_DIR) when set; --ca-cert adds authorities for https:// instances and \
trigger URLs; rediss://…/#insecure skips Redis certificate checks (a connection string has no such key: use the URL form).\n\
Endpoints: / (dashboard), GET /api/config, POST /api/test/trigger-navigation-update (modes redis, instance, \
configured), GET /api/feed?source=monitor|pubsub&filter=… (SSE), GET /api/status, GET /api/canary, GET /metrics \
(Prometheus; the same token rules as /api)."
)]
pub struct Args {
    /// Where the deployment is: Redis, instances, hub path and names.
    #[command(flatten)]
    pub deployment: DeploymentArgs,
    /// Address to listen on [default: 127.0.0.1:8080]. A non-loopback
    /// address needs --token or --insecure.
    #[arg(long, env = "SIGNALSCOPE_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// The trunk-built dashboard directory [default: dist].
    #[arg(long, env = "SIGNALSCOPE_DIST")]
    pub dist: Option<PathBuf>,
    /// Token every /api call must carry (`Authorization: Bearer …` or
    /// `?token=…`).
    #[arg(long, env = "SIGNALSCOPE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Allow a non-loopback bind without a token.
    #[arg(long, env = "SIGNALSCOPE_INSECURE")]
    pub insecure: bool,
    /// Hand the --hub-key keys to the page in /api/config, so it connects
    /// to hubs that need them; only with --token.
    #[arg(long, env = "SIGNALSCOPE_EXPOSE_HUB_KEYS")]
    pub expose_hub_keys: bool,
    /// URL for the `configured` trigger mode (POSTed `{target, payload}`).
    #[arg(long, env = "SIGNALSCOPE_TRIGGER_URL")]
    pub trigger_url: Option<String>,
    /// A header for the configured trigger, `Name: value`; repeat for each.
    /// Never shown to the browser.
    #[arg(
        long = "trigger-header",
        env = "SIGNALSCOPE_TRIGGER_HEADERS",
        value_delimiter = '\n',
        hide_env_values = true
    )]
    pub trigger_headers: Vec<String>,
    /// A broadcast passes when every connected panel got it within this
    /// many ms of the click [default: 50].
    #[arg(long, env = "SIGNALSCOPE_PASS_WITHIN_MS")]
    pub pass_within_ms: Option<u64>,
    /// Run the always-on canary: a test broadcast every this often
    /// (`10s`), timed on every instance, exported on /metrics [default:
    /// off].
    #[arg(long, env = "SIGNALSCOPE_CANARY", value_parser = parse_duration)]
    pub canary: Option<Duration>,
}

/// Everything the companion needs, resolved; the in-process entry point
/// (the demo and the tests build one directly).
#[derive(Debug, Clone)]
pub struct CompanionConfig {
    /// The backplane's Redis.
    pub redis: RedisTarget,
    /// The instances the page opens panels for.
    pub instances: Vec<Instance>,
    /// StackExchange.Redis ChannelPrefix of every hub without its own
    /// ([`Hub::prefix`]): the feed and the status read every hub behind it
    /// and behind each hub's own.
    pub prefix: String,
    /// The hubs, at least one; the page opens a panel per instance and
    /// hub, the canary drives the first.
    pub hubs: Vec<Hub>,
    /// The hubs' keys from the settings.
    pub hub_keys: HubKeys,
    /// Whether the page may have the keys (`--expose-hub-keys`).
    pub expose_hub_keys: bool,
    /// What test broadcasts are serialized for unless a request says.
    pub protocols: Vec<HubProtocol>,
    /// Where the trunk-built dashboard lives.
    pub dist: PathBuf,
    /// Token every /api call must carry, if set.
    pub token: Option<String>,
    /// The `configured` trigger mode, if set up.
    pub trigger: Option<ConfiguredTrigger>,
    /// Set by `signalscope demo` so the page shows its controls.
    pub demo: Option<DemoControls>,
    /// Extra routes merged into the app (the demo's controls); they get
    /// the same token check as /api when mounted under /api.
    pub extra_routes: Option<Router>,
    /// Feed batching and buffer sizes.
    pub feed: FeedTuning,
    /// The verdict threshold handed to the page.
    pub pass_within_ms: u64,
    /// Extra authorities (a PEM file) trusted for https:// instances and
    /// trigger URLs, on top of the system's roots.
    pub ca_cert: Option<PathBuf>,
    /// The canary's interval, when one runs.
    pub canary: Option<Duration>,
}

impl CompanionConfig {
    /// The first hub: the one the canary drives.
    pub fn primary(&self) -> &Hub {
        &self.hubs[0]
    }

    /// The first hub's channel naming.
    pub fn channels(&self) -> Channels {
        self.primary().channels(&self.prefix)
    }

    /// Every channel prefix to watch: `--prefix`, then each hub's own not
    /// yet listed.
    pub fn prefixes(&self) -> Vec<String> {
        let mut prefixes = vec![self.prefix.clone()];
        for hub in &self.hubs {
            let own = hub.prefix_or(&self.prefix);
            if !prefixes.iter().any(|p| p == own) {
                prefixes.push(own.to_owned());
            }
        }
        prefixes
    }

    /// The hub called `name`, or the first.
    pub fn hub(&self, name: Option<&str>) -> Option<&Hub> {
        match name {
            Some(n) => self.hubs.iter().find(|h| h.name == n),
            None => self.hubs.first(),
        }
    }

    /// Takes the deployment's Redis, instances, hubs, keys and protocols.
    pub fn for_deployment(deployment: crate::deployment::Deployment) -> Self {
        let mut config = Self::new(deployment.redis, deployment.instances);
        config.prefix = deployment.prefix;
        config.hubs = deployment.hubs;
        config.hub_keys = deployment.keys;
        config.protocols = deployment.protocols;
        config.ca_cert = deployment.ca_cert;
        config
    }

    /// Conduit's defaults around `redis` and `instances`.
    pub fn new(redis: RedisTarget, instances: Vec<Instance>) -> Self {
        Self {
            redis,
            instances,
            prefix: CONDUIT_PREFIX.into(),
            hubs: vec![protocol::hubs::navigation()],
            hub_keys: HubKeys::default(),
            expose_hub_keys: false,
            protocols: vec![HubProtocol::Json],
            dist: DEFAULT_DIST.into(),
            token: None,
            trigger: None,
            demo: None,
            extra_routes: None,
            feed: FeedTuning::default(),
            pass_within_ms: DEFAULT_PASS_WITHIN_MS,
            ca_cert: None,
            canary: None,
        }
    }
}

/// Settled command-line settings: where to listen, whether that is
/// allowed, and the companion's configuration.
#[derive(Debug)]
struct Settings {
    /// The bind address.
    listen: SocketAddr,
    /// `--insecure`.
    insecure: bool,
    /// The rest.
    config: CompanionConfig,
}

impl Args {
    /// Merges flags/environment over the TOML file over the defaults.
    fn settle(self) -> Result<Settings, BoxError> {
        let deployment = self.deployment.settle()?;
        let listen = self
            .listen
            .unwrap_or_else(|| DEFAULT_LISTEN.parse().expect("a valid default"));
        let mut config = CompanionConfig::for_deployment(deployment);
        if let Some(d) = self.dist {
            config.dist = d;
        }
        config.token = self.token.filter(|t| !t.is_empty());
        if self.expose_hub_keys && config.token.is_none() {
            return Err("--expose-hub-keys hands the hubs' keys to whoever loads the page: it needs --token".into());
        }
        config.expose_hub_keys = self.expose_hub_keys;
        if let Some(ms) = self.pass_within_ms {
            config.pass_within_ms = ms;
        }
        config.canary = self.canary;
        config.trigger = match self.trigger_url {
            Some(url) => {
                let mut headers = Vec::new();
                for h in &self.trigger_headers {
                    // Not echoed: a malformed header may be all secret.
                    let (name, value) = h.split_once(':').ok_or(
                        "--trigger-header needs `Name: value` (a header without ':' was given)",
                    )?;
                    headers.push((name.trim().to_owned(), value.trim().to_owned()));
                }
                Some(ConfiguredTrigger::new(url, headers)?)
            }
            None => None,
        };
        Ok(Settings {
            listen,
            insecure: self.insecure,
            config,
        })
    }
}

/// Refuses to expose the API beyond this machine without a token, unless
/// the user said `--insecure`.
pub fn check_exposure(
    listen: SocketAddr,
    token: Option<&str>,
    insecure: bool,
) -> Result<(), BoxError> {
    if listen.ip().is_loopback() || token.is_some() || insecure {
        return Ok(());
    }
    Err(format!(
        "refusing to listen on {listen} (not loopback) without --token; pass --token <secret>, or --insecure to allow anyone who can reach it"
    )
    .into())
}

/// Runs `signalscope serve` until Ctrl-C or SIGTERM.
pub async fn run(args: Args) -> Result<(), BoxError> {
    let Settings {
        listen,
        insecure,
        config,
    } = args.settle()?;
    check_exposure(listen, config.token.as_deref(), insecure)?;
    config.redis.check_reachable("--redis").await?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    println!("listening on http://{}", listener.local_addr()?);
    tracing::info!(redis = %config.redis, instances = config.instances.len(), "companion started");
    serve(config, listener, crate::shutdown::signal()).await
}

/// Serves the companion on `listener` until `shutdown` resolves, then
/// ends every open feed and drains the remaining requests.
pub async fn serve(
    config: CompanionConfig,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), BoxError> {
    let state = AppState::new(config)?;
    let stopping = state.stopping();
    let router = app(state);
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            shutdown.await;
            stopping.send_replace(true);
        })
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Loopback needs nothing; anything else needs a token or --insecure.
    #[test]
    fn exposure_rules() {
        let lo: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let any: SocketAddr = "0.0.0.0:1".parse().unwrap();
        assert!(check_exposure(lo, None, false).is_ok());
        assert!(check_exposure(any, None, false).is_err());
        assert!(check_exposure(any, Some("t"), false).is_ok());
        assert!(check_exposure(any, None, true).is_ok());
    }

    /// The help's endpoint list names every route, trigger mode and feed
    /// source as `protocol::api` spells them, so a rename cannot leave the
    /// help behind.
    #[test]
    fn help_names_the_shared_names() {
        use clap::Args as _;
        use protocol::api::{routes, FeedSource, TriggerMode};
        let help = Args::augment_args(clap::Command::new("serve"))
            .get_after_help()
            .map(ToString::to_string)
            .unwrap_or_default();
        let modes = TriggerMode::ALL.map(TriggerMode::as_str);
        let sources = FeedSource::ALL.map(FeedSource::as_str);
        let routes = [
            routes::CONFIG,
            routes::TRIGGER,
            routes::FEED,
            routes::STATUS,
        ];
        for name in routes.into_iter().chain(modes).chain(sources) {
            assert!(help.contains(name), "the help does not mention {name}");
        }
    }

    /// Flags win over the file, the file over the defaults: `serve` read
    /// as `main` reads it.
    #[test]
    fn flags_over_file_over_defaults() {
        use clap::{Args as _, Command, FromArgMatches};
        let dir = std::env::temp_dir().join(format!("signalscope-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("c.toml");
        std::fs::write(
            &path,
            "group = \"g\"\nprefix = \"p:\"\ninstances = [\"a=http://h:1\"]\ntrigger_url = \"http://t\"\nca_cert = \"ca.pem\"\ncanary = \"10s\"\n[trigger_headers]\nX-API-Key = \"k\"\n",
        )
        .unwrap();
        let cli = Command::new("signalscope").subcommand(Args::augment_args(Command::new("serve")));
        let argv = [
            "signalscope",
            "serve",
            "--prefix",
            "flag:",
            "--config",
            path.to_str().unwrap(),
        ]
        .map(std::ffi::OsString::from)
        .to_vec();
        let argv = crate::settings::with_file_settings(&cli, argv).unwrap();
        let matches = cli.get_matches_from(argv);
        let args = Args::from_arg_matches(matches.subcommand().unwrap().1).unwrap();
        let s = args.settle().unwrap();
        assert_eq!(s.config.prefix, "flag:");
        assert_eq!(
            s.config.primary().audience,
            protocol::api::Audience::Group("g".into())
        );
        assert_eq!(s.config.instances[0].name, "a");
        assert_eq!(s.config.primary().path, "/hubs/navigation-state");
        assert_eq!(s.listen.to_string(), DEFAULT_LISTEN);
        assert!(s.config.trigger.is_some());
        assert_eq!(s.config.ca_cert, Some(PathBuf::from("ca.pem")));
        assert_eq!(s.config.canary, Some(Duration::from_secs(10)));
    }
}
