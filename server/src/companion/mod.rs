//! `signalscope serve`: the companion. It hosts the dashboard, sends test
//! broadcasts, relays a filtered Redis feed over SSE and reports the health
//! of Redis and of every instance.
//!
//! * [`Args`] and [`CompanionConfig`]: settings from flags, environment
//!   variables and a TOML file (flags win, then the environment, then the
//!   file, then Conduit's defaults).
//! * [`app`]: the router; [`serve`] runs it on a listener until shutdown.
//! * `trigger`, `feed`, `status`, `assets`: one module per endpoint family;
//!   `link` is the command connection to Redis they share; `error` the one
//!   error type every handler answers with.

mod app;
mod assets;
mod error;
mod feed;
mod link;
mod status;
mod trigger;

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;

use axum::Router;
use protocol::api::{DemoControls, Instance};
use protocol::backplane::{Channels, CONDUIT_HUB, CONDUIT_PREFIX, NAVIGATION_GROUP};
use serde::Deserialize;

use crate::redis_target::RedisTarget;

pub use app::{app, AppState};
pub use error::AppError;
pub use feed::FeedTuning;
pub use trigger::ConfiguredTrigger;

/// The boxed error of the rare, fatal paths (bad settings, bind failure).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
const DEFAULT_REDIS: &str = "redis://127.0.0.1:6379";
const DEFAULT_HUB_PATH: &str = "/hubs/navigation-state";
const DEFAULT_DIST: &str = "dist";
/// The bar for "everyone got it": 50 ms from click to arrival.
const DEFAULT_PASS_WITHIN_MS: u64 = 50;

/// `signalscope serve` settings. Every flag also reads an environment
/// variable, and `--config` names a TOML file with the same keys
/// (`listen`, `redis`, `instances = ["api-1=http://…"]`, `dist`, `token`,
/// `insecure`, `hub_path`, `prefix`, `hub`, `group`, `trigger_url`, `pass_within_ms`,
/// `ca_cert`, `trigger_headers = { "X-API-Key" = "…" }`).
#[derive(Debug, Clone, Default, clap::Args)]
#[command(
    after_help = "Settings come from flags, then SIGNALSCOPE_* environment variables, then the --config \
TOML file (same keys: listen, redis, instances = [\"api-1=http://…\"], dist, token, insecure, hub_path, prefix, \
hub, group, trigger_url, pass_within_ms, ca_cert, [trigger_headers]), then Conduit's defaults.\n\
TLS: rediss:// and https:// are checked against the system's roots, or only those in the PEM file named by \
SSL_CERT_FILE (or the directories in SSL_CERT_DIR) when set; --ca-cert adds authorities for https:// instances and \
trigger URLs; rediss://…/#insecure skips Redis certificate checks (a connection string has no such key: use the URL form).\n\
Endpoints: / (dashboard), GET /api/config, POST /api/test/trigger-navigation-update (modes redis, instance, \
configured), GET /api/feed?source=monitor|pubsub&filter=… (SSE), GET /api/status."
)]
pub struct Args {
    /// Address to listen on [default: 127.0.0.1:8080]. A non-loopback
    /// address needs --token or --insecure.
    #[arg(long, env = "SIGNALSCOPE_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// The backplane's Redis: redis://[user:pass@]host:port, rediss://…
    /// (rediss://…/#insecure skips the certificate check), or a
    /// StackExchange.Redis connection string [default: redis://127.0.0.1:6379].
    #[arg(long, env = "SIGNALSCOPE_REDIS", hide_env_values = true)]
    pub redis: Option<String>,
    /// An instance to watch, `[name=]url`; repeat for each (names default to
    /// api-1, api-2, …). The environment variable takes a comma-separated list.
    #[arg(
        long = "instance",
        env = "SIGNALSCOPE_INSTANCES",
        value_delimiter = ','
    )]
    pub instances: Vec<String>,
    /// A TOML file with any of these settings.
    #[arg(long, env = "SIGNALSCOPE_CONFIG")]
    pub config: Option<PathBuf>,
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
    /// Hub path on each instance [default: /hubs/navigation-state].
    #[arg(long, env = "SIGNALSCOPE_HUB_PATH")]
    pub hub_path: Option<String>,
    /// StackExchange.Redis ChannelPrefix [default: conduit_signalr:].
    #[arg(long, env = "SIGNALSCOPE_PREFIX")]
    pub prefix: Option<String>,
    /// The hub's type full name [default: ConduitLLM.Http.Hubs.NavigationStateHub].
    #[arg(long, env = "SIGNALSCOPE_HUB")]
    pub hub: Option<String>,
    /// The group test broadcasts go to [default: navigation-updates].
    #[arg(long, env = "SIGNALSCOPE_GROUP")]
    pub group: Option<String>,
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
    /// A PEM file of extra certificate authorities to trust for https://
    /// instances and trigger URLs (e.g. a private or self-signed CA).
    #[arg(long, env = "SIGNALSCOPE_CA_CERT")]
    pub ca_cert: Option<PathBuf>,
}

/// The TOML file's shape: the same settings as the flags.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    /// `--listen`.
    listen: Option<SocketAddr>,
    /// `--redis`.
    redis: Option<String>,
    /// `--instance`, each `[name=]url`.
    #[serde(default)]
    instances: Vec<String>,
    /// `--dist`.
    dist: Option<PathBuf>,
    /// `--token`.
    token: Option<String>,
    /// `--insecure`.
    #[serde(default)]
    insecure: bool,
    /// `--hub-path`.
    hub_path: Option<String>,
    /// `--prefix`.
    prefix: Option<String>,
    /// `--hub`.
    hub: Option<String>,
    /// `--group`.
    group: Option<String>,
    /// `--trigger-url`.
    trigger_url: Option<String>,
    /// `--trigger-header`, as a table.
    #[serde(default)]
    trigger_headers: BTreeMap<String, String>,
    /// `--pass-within-ms`.
    pass_within_ms: Option<u64>,
    /// `--ca-cert`.
    ca_cert: Option<PathBuf>,
}

/// Everything the companion needs, resolved; the in-process entry point
/// (the demo and the tests build one directly).
#[derive(Debug, Clone)]
pub struct CompanionConfig {
    /// The backplane's Redis.
    pub redis: RedisTarget,
    /// The instances the page opens panels for.
    pub instances: Vec<Instance>,
    /// Channel naming: prefix and hub type name.
    pub channels: Channels,
    /// The group test broadcasts go to.
    pub group: String,
    /// Hub path on each instance, handed to the page.
    pub hub_path: String,
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
}

impl CompanionConfig {
    /// Conduit's defaults around `redis` and `instances`.
    pub fn new(redis: RedisTarget, instances: Vec<Instance>) -> Self {
        Self {
            redis,
            instances,
            channels: Channels::new(CONDUIT_PREFIX, CONDUIT_HUB),
            group: NAVIGATION_GROUP.into(),
            hub_path: DEFAULT_HUB_PATH.into(),
            dist: DEFAULT_DIST.into(),
            token: None,
            trigger: None,
            demo: None,
            extra_routes: None,
            feed: FeedTuning::default(),
            pass_within_ms: DEFAULT_PASS_WITHIN_MS,
            ca_cert: None,
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
        let file = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                toml::from_str::<FileConfig>(&text)
                    .map_err(|e| format!("{}: {e}", path.display()))?
            }
            None => FileConfig::default(),
        };
        let listen = self
            .listen
            .or(file.listen)
            .unwrap_or_else(|| DEFAULT_LISTEN.parse().expect("a valid default"));
        let redis = self
            .redis
            .or(file.redis)
            .unwrap_or_else(|| DEFAULT_REDIS.into());
        let redis = RedisTarget::parse(&redis)?;
        let specs = if self.instances.is_empty() {
            file.instances
        } else {
            self.instances
        };
        let instances = specs
            .iter()
            .enumerate()
            .map(|(i, s)| parse_instance(i, s))
            .collect::<Result<Vec<_>, _>>()?;
        let mut config = CompanionConfig::new(redis, instances);
        config.channels = Channels::new(
            self.prefix
                .or(file.prefix)
                .unwrap_or_else(|| CONDUIT_PREFIX.into()),
            self.hub.or(file.hub).unwrap_or_else(|| CONDUIT_HUB.into()),
        );
        if let Some(g) = self.group.or(file.group) {
            config.group = g;
        }
        if let Some(p) = self.hub_path.or(file.hub_path) {
            config.hub_path = p;
        }
        if let Some(d) = self.dist.or(file.dist) {
            config.dist = d;
        }
        config.token = self.token.or(file.token).filter(|t| !t.is_empty());
        if let Some(ms) = self.pass_within_ms.or(file.pass_within_ms) {
            config.pass_within_ms = ms;
        }
        config.ca_cert = self.ca_cert.or(file.ca_cert);
        config.trigger = match self.trigger_url.or(file.trigger_url) {
            Some(url) => {
                let mut headers = file.trigger_headers.into_iter().collect::<Vec<_>>();
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
            insecure: self.insecure || file.insecure,
            config,
        })
    }
}

/// `[name=]url`, named `api-<n>` when unnamed.
fn parse_instance(index: usize, spec: &str) -> Result<Instance, BoxError> {
    let spec = spec.trim();
    let (name, url) = match spec.split_once('=') {
        Some((name, url)) if !name.contains("://") => (name.trim().to_owned(), url.trim()),
        _ => (format!("api-{}", index + 1), spec),
    };
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(format!("instance '{name}': '{url}' is not an http(s) URL").into());
    }
    Ok(Instance {
        name,
        url: url.trim_end_matches('/').to_owned(),
    })
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

    /// Unnamed instances are numbered; named ones keep their name.
    #[test]
    fn instance_specs() {
        let a = parse_instance(0, "http://127.0.0.1:5000/").unwrap();
        assert_eq!(
            (a.name.as_str(), a.url.as_str()),
            ("api-1", "http://127.0.0.1:5000")
        );
        let b = parse_instance(1, "east=https://x.example").unwrap();
        assert_eq!(
            (b.name.as_str(), b.url.as_str()),
            ("east", "https://x.example")
        );
        assert!(parse_instance(0, "ftp://nope").is_err());
    }

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

    /// Flags win over the file, the file over the defaults.
    #[test]
    fn flags_over_file_over_defaults() {
        let dir = std::env::temp_dir().join(format!("signalscope-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("c.toml");
        std::fs::write(
            &path,
            "group = \"g\"\nprefix = \"p:\"\ninstances = [\"a=http://h:1\"]\ntrigger_url = \"http://t\"\nca_cert = \"ca.pem\"\n[trigger_headers]\nX-API-Key = \"k\"\n",
        )
        .unwrap();
        let args = Args {
            config: Some(path),
            prefix: Some("flag:".into()),
            ..Args::default()
        };
        let s = args.settle().unwrap();
        assert_eq!(s.config.channels.prefix, "flag:");
        assert_eq!(s.config.group, "g");
        assert_eq!(s.config.instances[0].name, "a");
        assert_eq!(s.config.hub_path, DEFAULT_HUB_PATH);
        assert_eq!(s.listen.to_string(), DEFAULT_LISTEN);
        assert!(s.config.trigger.is_some());
        assert_eq!(s.config.ca_cert, Some(PathBuf::from("ca.pem")));
    }
}
