//! Where the system under test is — its Redis, its instances, its hubs
//! (path, type name, keys) and channel names — read the same way by
//! `serve`, `load`, `check` and `canary`: flags, then `SIGNALSCOPE_*`
//! variables, then a TOML file (see [`crate::settings`]), then Conduit's
//! defaults. `load`, `check` and the canary drive every hub.
//!
//! A running `signalscope demo` writes its own settings to
//! [`demo_file`], so `load` and `check` work against it with no flags.

use std::fmt;
use std::path::PathBuf;

use protocol::api::{Audience, EventNames, Hub, HubKey, Instance, KeyPlacement};
use protocol::backplane::{Channels, CONDUIT_HUB, CONDUIT_PREFIX};
use protocol::broadcast::NAVIGATION_EVENT;
use protocol::hub_protocol::{HubProtocol, UnknownProtocol};
use protocol::hubs;

use crate::redis_target::RedisTarget;

/// The boxed error of bad settings.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The default Redis.
const DEFAULT_REDIS: &str = "redis://127.0.0.1:6379";
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
    /// The one hub's path on each instance [default: the hub's own,
    /// /hubs/navigation-state]; with several hubs, give each its path in
    /// its --hub.
    #[arg(long, env = "SIGNALSCOPE_HUB_PATH")]
    pub hub_path: Option<String>,
    /// StackExchange.Redis ChannelPrefix of every hub without its own
    /// (`--hub …?prefix=`) [default: conduit_signalr:].
    #[arg(long, env = "SIGNALSCOPE_PREFIX")]
    pub prefix: Option<String>,
    /// A hub the instances serve: a Conduit hub by name (navigation,
    /// notifications, tasks, image-generation, video-generation, spend,
    /// webhooks, admin-notifications), or `name=/path@Hub.Type.FullName`;
    /// repeat for each [default: navigation]. A bare type full name is the
    /// one hub's type, at --hub-path. Append `?prefix=<prefix>` for a hub
    /// whose backplane has its own channel prefix (admin-notifications is
    /// on conduit_admin_signalr: already).
    #[arg(long = "hub", env = "SIGNALSCOPE_HUB", value_delimiter = ',')]
    pub hubs: Vec<String>,
    /// The group the first hub's test broadcasts go to [default: the
    /// hub's own, navigation-updates].
    #[arg(long, env = "SIGNALSCOPE_GROUP")]
    pub group: Option<String>,
    /// How a hub's key is sent, `hub=bearer|header:<Name>|query:<name>`;
    /// repeat for each [default: bearer, as the official client sends an
    /// access token].
    #[arg(long = "hub-auth", env = "SIGNALSCOPE_HUB_AUTH", value_delimiter = ',')]
    pub hub_auth: Vec<String>,
    /// A hub's key, `[instance/]hub=key`; repeat for each. Secret: never
    /// logged, never shown to the browser unless --expose-hub-keys.
    #[arg(
        long = "hub-key",
        env = "SIGNALSCOPE_HUB_KEYS",
        value_delimiter = '\n',
        hide_env_values = true
    )]
    pub hub_keys: Vec<String>,
    /// Protocols test broadcasts are serialized for: json, messagepack
    /// [default: json].
    #[arg(long, env = "SIGNALSCOPE_PROTOCOLS", value_delimiter = ',')]
    pub protocols: Vec<String>,
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
    /// StackExchange.Redis ChannelPrefix.
    pub prefix: String,
    /// The hubs, at least one; `--group` is the first one's.
    pub hubs: Vec<Hub>,
    /// The hubs' keys from the settings.
    pub keys: HubKeys,
    /// What test broadcasts are serialized for.
    pub protocols: Vec<HubProtocol>,
    /// Extra authorities for https:// instances.
    pub ca_cert: Option<PathBuf>,
    /// Where the settings came from, for the user (`flags`, a file).
    pub source: String,
}

impl Deployment {
    /// The first hub: the default one (`--group`, `--hub-path`, `check`'s
    /// backplane probes).
    pub fn primary(&self) -> &Hub {
        &self.hubs[0]
    }

    /// The first hub's channel naming.
    pub fn channels(&self) -> Channels {
        self.primary().channels(&self.prefix)
    }
}

/// The hubs' keys, kept out of every Debug print and log line (`load`
/// hands them to its agents inside the plan).
#[derive(Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct HubKeys(Vec<HubKey>);

impl fmt::Debug for HubKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whose: Vec<String> = self.0.iter().map(whose).collect();
        write!(f, "HubKeys(for {whose:?})")
    }
}

/// `[instance/]hub`, as the settings name a key.
fn whose(k: &HubKey) -> String {
    match &k.instance {
        Some(i) => format!("{i}/{}", k.hub),
        None => k.hub.clone(),
    }
}

impl From<Vec<HubKey>> for HubKeys {
    fn from(keys: Vec<HubKey>) -> Self {
        Self(keys)
    }
}

impl HubKeys {
    /// Every key, for a page allowed to see them.
    pub fn all(&self) -> &[HubKey] {
        &self.0
    }

    /// The key for `hub` on `instance`: the instance's own, else the hub's.
    pub fn find(&self, instance: &str, hub: &str) -> Option<&str> {
        let of = |i: Option<&str>| {
            self.0
                .iter()
                .find(|k| k.hub == hub && k.instance.as_deref() == i)
        };
        of(Some(instance))
            .or_else(|| of(None))
            .map(|k| k.key.as_str())
    }
}

/// Where a running demo leaves its settings.
pub fn demo_file() -> PathBuf {
    std::env::temp_dir().join("signalscope-demo.toml")
}

/// What a running demo serves, as `load` and `check` need to reach it.
pub struct DemoSettings<'a> {
    /// The demo's Redis.
    pub redis: &'a RedisTarget,
    /// Its stand-ins.
    pub instances: &'a [Instance],
    /// The hubs every stand-in serves, by Conduit name (empty: the default).
    pub hubs: &'a [&'a str],
    /// The key a secure hub accepts, if the demo requires one.
    pub key: Option<&'a str>,
    /// The companion's URL.
    pub companion: &'a str,
}

/// Writes the demo's settings for `load` and `check` to find: the same
/// keys a `--config` file has, so a multi-hub demo is driven on every hub
/// (its key is the demo's own test key, already on its command line).
pub fn write_demo_file(demo: &DemoSettings<'_>) -> std::io::Result<PathBuf> {
    let path = demo_file();
    std::fs::write(&path, demo_settings(demo).to_string())?;
    Ok(path)
}

/// The demo's settings as `--config` keys.
fn demo_settings(demo: &DemoSettings<'_>) -> toml::Table {
    let mut file = toml::Table::new();
    file.insert("redis".into(), demo.redis.url().into());
    let specs = demo.instances.iter().map(|i| instance_spec(i).into());
    file.insert("instances".into(), toml::Value::Array(specs.collect()));
    if !demo.hubs.is_empty() {
        let hubs = demo.hubs.iter().map(|h| toml::Value::from(*h));
        file.insert("hubs".into(), toml::Value::Array(hubs.collect()));
    }
    if let Some(key) = demo.key {
        let secure = demo
            .hubs
            .iter()
            .filter(|h| hubs::conduit(h).is_some_and(|c| c.key_required));
        let keys: toml::Table = secure.map(|h| (h.to_string(), key.into())).collect();
        if !keys.is_empty() {
            file.insert("hub_keys".into(), toml::Value::Table(keys));
        }
    }
    file.insert("demo".into(), demo.companion.into());
    file
}

/// An instance as `--instance` spells it.
fn instance_spec(i: &Instance) -> String {
    match i.hubs.as_slice() {
        [] => format!("{}={}", i.name, i.url),
        hubs => format!("{}={}#{}", i.name, i.url, hubs.join("|")),
    }
}

impl DeploymentArgs {
    /// The settings over Conduit's defaults (flags, the environment and
    /// the file are already one by now: [`crate::settings`]).
    pub(crate) fn settle(self) -> Result<Deployment, BoxError> {
        let redis = RedisTarget::parse(self.redis.as_deref().unwrap_or(DEFAULT_REDIS))?;
        let mut hubs = parse_hubs(&self.hubs, self.hub_path.as_deref())?;
        if let Some(group) = self.group {
            hubs[0].audience = Audience::Group(group);
        }
        for spec in &self.hub_auth {
            let (hub, way) = split_setting(spec)
                .ok_or_else(|| format!("--hub-auth '{spec}': needs `hub=way`"))?;
            let auth = KeyPlacement::parse(way).ok_or_else(|| {
                format!(
                    "--hub-auth '{spec}': the way must be bearer, header:<Name> or query:<name>"
                )
            })?;
            find_hub(&mut hubs, hub, "--hub-auth")?.auth = auth;
        }
        let mut keys = Vec::new();
        for spec in &self.hub_keys {
            // Never echoed: a malformed key setting may be all secret.
            let (whose, key) = split_setting(spec)
                .ok_or("--hub-key needs `[instance/]hub=key` (a value without '=' was given)")?;
            let (instance, hub) = match whose.split_once('/') {
                Some((i, h)) => (Some(i.trim().to_owned()), h.trim()),
                None => (None, whose),
            };
            find_hub(&mut hubs, hub, "--hub-key")?;
            keys.push(HubKey {
                instance,
                hub: hub.to_owned(),
                key: key.to_owned(),
            });
        }
        let protocols = match self.protocols.as_slice() {
            [] => vec![HubProtocol::Json],
            given => given
                .iter()
                .map(|p| {
                    HubProtocol::from_name(p.trim())
                        .ok_or_else(|| format!("--protocols: {}", UnknownProtocol(p.clone())))
                })
                .collect::<Result<_, _>>()?,
        };
        let instances = self
            .instances
            .iter()
            .enumerate()
            .map(|(i, s)| parse_instance(i, s))
            .collect::<Result<Vec<_>, _>>()?;
        for i in &instances {
            if let Some(h) = i
                .hubs
                .iter()
                .find(|h| !hubs.iter().any(|hub| hub.name == **h))
            {
                return Err(format!(
                    "--instance {}: no hub named '{h}' (hubs: {})",
                    i.name,
                    names(&hubs)
                )
                .into());
            }
        }
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
            prefix: self.prefix.unwrap_or_else(|| CONDUIT_PREFIX.into()),
            hubs,
            keys: HubKeys(keys),
            protocols,
            ca_cert: self.ca_cert,
            source,
        })
    }
}

/// Splits `name=value` (or `name: value`, as a TOML table gives it) at the
/// first `=` or `:`; hub and instance names contain neither.
fn split_setting(spec: &str) -> Option<(&str, &str)> {
    let at = spec.find(['=', ':'])?;
    let (name, value) = (spec[..at].trim(), spec[at + 1..].trim());
    (!name.is_empty()).then_some((name, value))
}

/// The hub called `name`, or an error naming `setting`.
fn find_hub<'a>(hubs: &'a mut [Hub], name: &str, setting: &str) -> Result<&'a mut Hub, BoxError> {
    let known = names(hubs);
    hubs.iter_mut()
        .find(|h| h.name == name)
        .ok_or_else(|| format!("{setting}: no hub named '{name}' (hubs: {known})").into())
}

/// The hubs' names, for errors.
fn names(hubs: &[Hub]) -> String {
    hubs.iter()
        .map(|h| h.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The `--hub` values (navigation when none), `--hub-path` placing a lone one.
pub fn parse_hubs(specs: &[String], hub_path: Option<&str>) -> Result<Vec<Hub>, BoxError> {
    let mut hubs = Vec::new();
    for spec in specs.iter().map(|s| s.trim()) {
        let hub = parse_hub(spec)?;
        if hubs.iter().any(|h: &Hub| h.name == hub.name) {
            return Err(format!("--hub '{spec}': a second hub named '{}'", hub.name).into());
        }
        hubs.push(hub);
    }
    if hubs.is_empty() {
        hubs.push(hubs::navigation());
    }
    if let Some(path) = hub_path {
        let [hub] = hubs.as_mut_slice() else {
            return Err("--hub-path names one hub's path; with several hubs give each its path in its --hub (name=/path@Hub.Type)".into());
        };
        hub.path = path.to_owned();
    }
    Ok(hubs)
}

/// One `--hub` value: a hub ([`hub_of`]), then optionally
/// `?prefix=<prefix>`, its own channel prefix (when its API's backplane is
/// not on `--prefix`'s, as the Admin API's is not).
fn parse_hub(spec: &str) -> Result<Hub, BoxError> {
    let Some((hub, option)) = spec.split_once('?') else {
        return hub_of(spec);
    };
    let prefix = option
        .strip_prefix("prefix=")
        .filter(|p| !p.is_empty() && !p.contains(char::is_whitespace))
        .ok_or_else(|| {
            format!("--hub '{spec}': after `?` give `prefix=<channel prefix>` (no spaces), e.g. admin-notifications?prefix=conduit_admin_signalr:")
        })?;
    let mut hub = hub_of(hub.trim())?;
    hub.prefix = Some(prefix.to_owned());
    Ok(hub)
}

/// A hub: a Conduit hub's name, `name=/path@Type.FullName`, or a bare type
/// full name (the one hub's type).
fn hub_of(spec: &str) -> Result<Hub, BoxError> {
    if let Some(hub) = hubs::conduit(spec) {
        return Ok(hub);
    }
    let custom = |name: &str, path: &str, hub_type: &str| Hub {
        name: name.to_owned(),
        path: path.to_owned(),
        hub_type: hub_type.to_owned(),
        events: EventNames {
            broadcast: NAVIGATION_EVENT.into(),
            request_state: String::new(),
            state_reply: String::new(),
        },
        audience: Audience::All,
        key_required: false,
        auth: KeyPlacement::Bearer,
        prefix: None,
    };
    if let Some((name, rest)) = spec.split_once('=') {
        let (path, hub_type) = rest.split_once('@').unwrap_or((rest, ""));
        let (name, path, hub_type) = (name.trim(), path.trim(), hub_type.trim());
        if name.is_empty() || !path.starts_with('/') || !is_type_name(hub_type) {
            return Err(format!(
                "--hub '{spec}': needs `name=/path@Hub.Type.FullName`, e.g. chat=/hubs/chat@MyApp.Hubs.ChatHub"
            )
            .into());
        }
        return Ok(custom(name, path, hub_type));
    }
    if is_type_name(spec) {
        // The old single-hub form: Conduit's navigation hub under another type name.
        let mut hub = hubs::navigation();
        if spec != CONDUIT_HUB {
            hub.hub_type = spec.to_owned();
        }
        return Ok(hub);
    }
    Err(format!(
        "--hub '{spec}': not a Conduit hub ({}) nor `name=/path@Hub.Type.FullName`",
        hubs::conduit_names().join(", ")
    )
    .into())
}

/// A .NET type full name: dotted identifiers (no `:`, which would end it in
/// a channel name).
fn is_type_name(s: &str) -> bool {
    s.contains('.')
        && s.split('.').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || c == '+')
        })
}

/// `[name=]url[#hub|hub…]`, named `api-<n>` when unnamed; the hubs after
/// `#` are the ones it serves (every hub when none).
pub fn parse_instance(index: usize, spec: &str) -> Result<Instance, BoxError> {
    let (spec, hubs) = match spec.trim().split_once('#') {
        Some((spec, hubs)) => (
            spec,
            hubs.split('|')
                .map(|h| h.trim().to_owned())
                .filter(|h| !h.is_empty())
                .collect(),
        ),
        None => (spec.trim(), Vec::new()),
    };
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
        hubs,
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
    /// the same deployment, hubs, secure hub's key and demo.
    #[test]
    fn demo_file_round_trips() {
        use clap::{Args, Command, FromArgMatches};
        let redis = RedisTarget::parse("redis://127.0.0.1:7000").unwrap();
        let instance = Instance {
            name: "api-1".into(),
            url: "http://127.0.0.1:5000".into(),
            hubs: Vec::new(),
        };
        let table = demo_settings(&DemoSettings {
            redis: &redis,
            instances: &[instance],
            hubs: &["navigation", "notifications"],
            key: Some("vk-1"),
            companion: "http://127.0.0.1:8080",
        });
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
        let hubs: Vec<&str> = d.hubs.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(hubs, ["navigation", "notifications"]);
        assert_eq!(d.keys.find("api-1", "notifications"), Some("vk-1"));
        assert_eq!(d.keys.find("api-1", "navigation"), None);
    }

    /// Deployment settings as `serve` reads them from flags alone.
    fn settle(args: &[&str]) -> Result<Deployment, BoxError> {
        use clap::{Args, Command, FromArgMatches};
        let cli = DeploymentArgs::augment_args(Command::new("serve"));
        let matches = cli
            .try_get_matches_from(std::iter::once("serve").chain(args.iter().copied()))
            .unwrap();
        DeploymentArgs::from_arg_matches(&matches).unwrap().settle()
    }

    /// Several hubs by Conduit name and one custom; instances may narrow them.
    #[test]
    fn several_hubs() {
        let d = settle(&[
            "--hub",
            "navigation",
            "--hub",
            "tasks",
            "--hub",
            "chat=/hubs/chat@App.Hubs.ChatHub",
            "--instance",
            "core=http://h:1#navigation|tasks",
            "--hub-auth",
            "tasks=query:api_key",
        ])
        .unwrap();
        let names: Vec<_> = d.hubs.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["navigation", "tasks", "chat"]);
        assert_eq!(d.hubs[1].auth, KeyPlacement::Query("api_key".into()));
        assert_eq!(d.hubs[2].hub_type, "App.Hubs.ChatHub");
        assert_eq!(d.instances[0].hubs, ["navigation", "tasks"]);
        assert!(!d.instances[0].serves("chat"));
        assert_eq!(d.protocols, [HubProtocol::Json]);
    }

    /// A hub spec may give the hub its own prefix; the Admin API's hub has
    /// its own already, the Core API's follow `--prefix`.
    #[test]
    fn hub_prefixes() {
        let d = settle(&[
            "--prefix",
            "core:",
            "--hub",
            "navigation",
            "--hub",
            "admin-notifications",
            "--hub",
            "chat=/hubs/chat@App.ChatHub?prefix=chat_signalr:",
        ])
        .unwrap();
        let alls: Vec<String> = d.hubs.iter().map(|h| h.channels(&d.prefix).all()).collect();
        assert_eq!(
            alls,
            [
                "core:ConduitLLM.Http.Hubs.NavigationStateHub:all",
                "conduit_admin_signalr:ConduitLLM.Admin.Hubs.AdminNotificationHub:all",
                "chat_signalr:App.ChatHub:all",
            ]
        );
        let d = settle(&["--hub", "tasks?prefix=other:"]).unwrap();
        assert_eq!(d.hubs[0].prefix.as_deref(), Some("other:"));
        for bad in ["tasks?prefix=", "tasks?prefx=a:", "tasks?prefix=a b"] {
            let e = settle(&["--hub", bad]).unwrap_err().to_string();
            assert!(e.contains("prefix=<channel prefix>"), "{e}");
        }
    }

    /// The old single-hub flags keep their meaning.
    #[test]
    fn one_hub_by_type_and_path() {
        let d = settle(&["--hub", "My.Hub", "--hub-path", "/h", "--group", "g"]).unwrap();
        assert_eq!(d.hubs.len(), 1);
        assert_eq!(d.primary().path, "/h");
        assert_eq!(
            d.channels().name(&d.primary().audience.channel()),
            "conduit_signalr:My.Hub:group:g"
        );
    }

    /// Keys are found per instance first, then per hub, and never printed.
    #[test]
    fn keys_stay_secret() {
        let d = settle(&[
            "--hub-key",
            "navigation=k-all",
            "--hub-key",
            "api-2/navigation=k-2",
        ])
        .unwrap();
        assert_eq!(d.keys.find("api-1", "navigation"), Some("k-all"));
        assert_eq!(d.keys.find("api-2", "navigation"), Some("k-2"));
        assert_eq!(d.keys.find("api-1", "tasks"), None);
        let shown = format!("{d:?}");
        assert!(
            !shown.contains("k-all") && !shown.contains("k-2"),
            "{shown}"
        );
    }

    /// Bad hub settings are refused with the setting's name, never the key.
    #[test]
    fn bad_hub_settings_name_the_setting() {
        let error = |args: &[&str]| settle(args).unwrap_err().to_string();
        assert!(error(&["--hub", "chat"]).contains("--hub 'chat'"));
        assert!(error(&["--hub", "x=hubs/x@A.B"]).contains("--hub 'x=hubs/x@A.B'"));
        assert!(error(&["--hub", "tasks", "--hub", "tasks"]).contains("second hub"));
        assert!(error(&["--hub-auth", "navigation=cookie"]).contains("--hub-auth"));
        let e = error(&["--hub-key", "chat=s3cret"]);
        assert!(
            e.contains("--hub-key: no hub named 'chat'") && !e.contains("s3cret"),
            "{e}"
        );
        let e = error(&["--hub-key", "s3cret"]);
        assert!(e.contains("--hub-key") && !e.contains("s3cret"), "{e}");
        assert!(error(&["--instance", "http://h:1#tasks"])
            .contains("--instance api-1: no hub named 'tasks'"));
        assert!(
            error(&["--hub", "navigation", "--hub", "tasks", "--hub-path", "/x"])
                .contains("--hub-path")
        );
        assert!(
            error(&["--protocols", "json,xml"]).contains("--protocols: unknown hub protocol 'xml'")
        );
    }
}
