//! Where the system under test is — its Redis, its instances, the hub's
//! path and channel names — read the same way by `serve`, `load` and
//! `check`: flags, then `SIGNALSCOPE_*` variables, then a TOML file, then
//! Conduit's defaults. One place defines each of these settings.
//!
//! A running `signalscope demo` writes its own settings to
//! [`demo_file`], so `load` and `check` work against it with no flags.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use protocol::api::Instance;
use protocol::backplane::{Channels, CONDUIT_HUB, CONDUIT_PREFIX, NAVIGATION_GROUP};
use serde::{Deserialize, Serialize};

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

/// The TOML file's shape: every setting of every command that reads it.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileConfig {
    /// `--listen` (serve).
    pub listen: Option<SocketAddr>,
    /// `--redis`.
    pub redis: Option<String>,
    /// `--instance`, each `[name=]url`.
    #[serde(default)]
    pub instances: Vec<String>,
    /// `--dist` (serve).
    pub dist: Option<PathBuf>,
    /// `--token` (serve).
    pub token: Option<String>,
    /// `--insecure` (serve).
    #[serde(default)]
    pub insecure: bool,
    /// `--hub-path`.
    pub hub_path: Option<String>,
    /// `--prefix`.
    pub prefix: Option<String>,
    /// `--hub`.
    pub hub: Option<String>,
    /// `--group`.
    pub group: Option<String>,
    /// `--trigger-url` (serve).
    pub trigger_url: Option<String>,
    /// `--trigger-header` (serve), as a table.
    #[serde(default)]
    pub trigger_headers: std::collections::BTreeMap<String, String>,
    /// `--pass-within-ms` (serve, load, check).
    pub pass_within_ms: Option<u64>,
    /// `--ca-cert`.
    pub ca_cert: Option<PathBuf>,
    /// `--canary` (serve), a duration (`10s`).
    pub canary: Option<String>,
    /// `--demo` (load, check): the demo companion whose controls may stop
    /// and start the processes it owns.
    pub demo: Option<String>,
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

/// Writes the demo's settings for `load` and `check` to find.
pub fn write_demo_file(
    redis: &RedisTarget,
    instances: &[Instance],
    companion: &str,
) -> std::io::Result<PathBuf> {
    let file = FileConfig {
        redis: Some(redis.url().to_owned()),
        instances: instances
            .iter()
            .map(|i| format!("{}={}", i.name, i.url))
            .collect(),
        demo: Some(companion.to_owned()),
        ..FileConfig::default()
    };
    let path = demo_file();
    let text = toml::to_string(&file).map_err(std::io::Error::other)?;
    std::fs::write(&path, text)?;
    Ok(path)
}

/// Reads a settings file.
pub(crate) fn read_file(path: &Path) -> Result<FileConfig, BoxError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(toml::from_str::<FileConfig>(&text).map_err(|e| format!("{}: {e}", path.display()))?)
}

impl DeploymentArgs {
    /// Merges flags/environment over the file over the defaults; returns
    /// the file too, for the command's own keys. With `use_demo`, a
    /// command given no Redis, instances or file reads a running demo's.
    pub(crate) fn settle(self, use_demo: bool) -> Result<(Deployment, FileConfig), BoxError> {
        let nothing_given =
            self.config.is_none() && self.redis.is_none() && self.instances.is_empty();
        let demo = demo_file();
        let (file, source) = match &self.config {
            Some(path) => (read_file(path)?, path.display().to_string()),
            None if use_demo && nothing_given && demo.is_file() => (
                read_file(&demo)?,
                format!("the running demo ({})", demo.display()),
            ),
            None => (FileConfig::default(), "flags".to_owned()),
        };
        let redis = self
            .redis
            .clone()
            .or_else(|| file.redis.clone())
            .unwrap_or_else(|| DEFAULT_REDIS.into());
        let redis = RedisTarget::parse(&redis)?;
        let specs = if self.instances.is_empty() {
            &file.instances
        } else {
            &self.instances
        };
        let instances = specs
            .iter()
            .enumerate()
            .map(|(i, s)| parse_instance(i, s))
            .collect::<Result<Vec<_>, _>>()?;
        let deployment = Deployment {
            redis,
            instances,
            channels: Channels::new(
                self.prefix
                    .or_else(|| file.prefix.clone())
                    .unwrap_or_else(|| CONDUIT_PREFIX.into()),
                self.hub
                    .or_else(|| file.hub.clone())
                    .unwrap_or_else(|| CONDUIT_HUB.into()),
            ),
            group: self
                .group
                .or_else(|| file.group.clone())
                .unwrap_or_else(|| NAVIGATION_GROUP.into()),
            hub_path: self
                .hub_path
                .or_else(|| file.hub_path.clone())
                .unwrap_or_else(|| DEFAULT_HUB_PATH.into()),
            ca_cert: self.ca_cert.or_else(|| file.ca_cert.clone()),
            source,
        };
        Ok((deployment, file))
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

    /// The demo's file reads back as the same deployment.
    #[test]
    fn demo_file_round_trips() {
        let dir = std::env::temp_dir().join(format!("signalscope-demo-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = FileConfig {
            redis: Some("redis://127.0.0.1:7000".into()),
            instances: vec!["api-1=http://127.0.0.1:5000".into()],
            demo: Some("http://127.0.0.1:8080".into()),
            ..FileConfig::default()
        };
        let path = dir.join("d.toml");
        std::fs::write(&path, toml::to_string(&file).unwrap()).unwrap();
        let args = DeploymentArgs {
            config: Some(path),
            ..DeploymentArgs::default()
        };
        let (d, f) = args.settle(false).unwrap();
        assert_eq!(d.redis.url(), "redis://127.0.0.1:7000");
        assert_eq!(d.instances[0].name, "api-1");
        assert_eq!(f.demo.as_deref(), Some("http://127.0.0.1:8080"));
    }
}
