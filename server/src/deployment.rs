//! Where the system under test is — its Redis, its instances, the hub's
//! path and channel names — read the same way by `serve`, `load`, `check`
//! and `canary`: flags, then `SIGNALSCOPE_*` variables, then a TOML file
//! (see [`crate::settings`]), then Conduit's defaults.
//!
//! A running `signalscope demo` writes its own settings to
//! [`demo_file`], so `load` and `check` work against it with no flags.

use std::path::PathBuf;

use protocol::api::Instance;
use protocol::backplane::{Channels, CONDUIT_HUB, CONDUIT_PREFIX, NAVIGATION_GROUP};

use crate::redis_target::RedisTarget;

/// The boxed error of bad settings.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The default Redis.
const DEFAULT_REDIS: &str = "redis://127.0.0.1:6379";
/// Conduit's navigation hub.
pub const DEFAULT_HUB_PATH: &str = "/hubs/navigation-state";

/// The settings that say where the deployment is.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct DeploymentArgs {
    /// The backplane's Redis: redis://[user:pass@]host:port, rediss://…
    /// (rediss://…/#insecure skips the certificate check), or a
    /// StackExchange.Redis connection string [default: redis://127.0.0.1:6379].
    #[arg(long, env = "SIGNALSCOPE_REDIS", hide_env_values = true)]
    pub redis: Option<String>,
    /// An instance, `[name=]url`; repeat for each (names default to
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
    /// A PEM file of extra certificate authorities to trust for https://
    /// instances and trigger URLs (e.g. a private or self-signed CA).
    #[arg(long, env = "SIGNALSCOPE_CA_CERT")]
    pub ca_cert: Option<PathBuf>,
}

/// The deployment, resolved.
#[derive(Debug, Clone)]
pub struct Deployment {
    /// The backplane's Redis.
    pub redis: RedisTarget,
    /// The instances, in order.
    pub instances: Vec<Instance>,
    /// Channel naming: prefix and hub type name.
    pub channels: Channels,
    /// The group test broadcasts go to.
    pub group: String,
    /// Hub path on each instance.
    pub hub_path: String,
    /// Extra authorities for https:// instances.
    pub ca_cert: Option<PathBuf>,
    /// Where the settings came from, for the user (`flags`, a file).
    pub source: String,
}

/// Where a running demo leaves its settings.
pub fn demo_file() -> PathBuf {
    std::env::temp_dir().join("signalscope-demo.toml")
}

/// Writes the demo's settings for `load` and `check` to find: the same
/// keys a `--config` file has.
pub fn write_demo_file(
    redis: &RedisTarget,
    instances: &[Instance],
    companion: &str,
) -> std::io::Result<PathBuf> {
    let path = demo_file();
    std::fs::write(
        &path,
        demo_settings(redis, instances, companion).to_string(),
    )?;
    Ok(path)
}

/// The demo's settings as `--config` keys.
fn demo_settings(redis: &RedisTarget, instances: &[Instance], companion: &str) -> toml::Table {
    let mut file = toml::Table::new();
    file.insert("redis".into(), redis.url().into());
    let specs = instances
        .iter()
        .map(|i| format!("{}={}", i.name, i.url).into());
    file.insert("instances".into(), toml::Value::Array(specs.collect()));
    file.insert("demo".into(), companion.into());
    file
}

impl DeploymentArgs {
    /// The settings over Conduit's defaults (flags, the environment and
    /// the file are already one by now: [`crate::settings`]).
    pub(crate) fn settle(self) -> Result<Deployment, BoxError> {
        let redis = RedisTarget::parse(self.redis.as_deref().unwrap_or(DEFAULT_REDIS))?;
        let instances = self
            .instances
            .iter()
            .enumerate()
            .map(|(i, s)| parse_instance(i, s))
            .collect::<Result<Vec<_>, _>>()?;
        let source = match &self.config {
            Some(path) if *path == demo_file() => {
                format!("the running demo ({})", path.display())
            }
            Some(path) => path.display().to_string(),
            None => "flags".to_owned(),
        };
        Ok(Deployment {
            redis,
            instances,
            channels: Channels::new(
                self.prefix.unwrap_or_else(|| CONDUIT_PREFIX.into()),
                self.hub.unwrap_or_else(|| CONDUIT_HUB.into()),
            ),
            group: self.group.unwrap_or_else(|| NAVIGATION_GROUP.into()),
            hub_path: self.hub_path.unwrap_or_else(|| DEFAULT_HUB_PATH.into()),
            ca_cert: self.ca_cert,
            source,
        })
    }
}

/// `[name=]url`, named `api-<n>` when unnamed.
pub fn parse_instance(index: usize, spec: &str) -> Result<Instance, BoxError> {
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

    /// The demo's file, read as `load` reads a `--config` file, gives back
    /// the same deployment and demo.
    #[test]
    fn demo_file_round_trips() {
        use clap::{Args, Command, FromArgMatches};
        let redis = RedisTarget::parse("redis://127.0.0.1:7000").unwrap();
        let instance = Instance {
            name: "api-1".into(),
            url: "http://127.0.0.1:5000".into(),
        };
        let table = demo_settings(&redis, &[instance], "http://127.0.0.1:8080");
        let path =
            std::env::temp_dir().join(format!("signalscope-demo-{}.toml", std::process::id()));
        std::fs::write(&path, table.to_string()).unwrap();
        let cli = Command::new("signalscope")
            .subcommand(crate::load::Args::augment_args(Command::new("load")));
        let argv = ["signalscope", "load", "--config", path.to_str().unwrap()]
            .map(std::ffi::OsString::from)
            .to_vec();
        let argv = crate::settings::with_file_settings(&cli, argv).unwrap();
        let matches = cli.get_matches_from(argv);
        let args = crate::load::Args::from_arg_matches(matches.subcommand().unwrap().1).unwrap();
        assert_eq!(args.demo.as_deref(), Some("http://127.0.0.1:8080"));
        let d = args.deployment.settle().unwrap();
        assert_eq!(d.redis.url(), "redis://127.0.0.1:7000");
        assert_eq!(d.instances[0].name, "api-1");
        assert_eq!(d.instances[0].url, "http://127.0.0.1:5000");
    }
}
