//! `signalscope sim`: a stand-in Conduit instance.
//!
//! It serves one or more of Conduit's hubs (by default `NavigationStateHub`
//! at `/hubs/navigation-state`) with the JSON hub protocol (and, on request,
//! MessagePack) over WebSockets, and scales out through Redis exactly as
//! `Microsoft.AspNetCore.SignalR.StackExchangeRedis` does, so stand-ins and
//! real ASP.NET Core instances on one Redis exchange broadcasts.
//!
//! * [`profiles`]: the hubs it can serve, each modelled on one of Conduit's.
//! * [`hub`]: a hub's behaviour and the local connections and groups.
//! * [`connection`]: one SignalR connection (handshake, then
//!   `OnConnectedAsync`, records, keep-alive on a fixed cadence, the client
//!   timeout), with ASP.NET's order and texts.
//! * [`backplane`]: the Redis side: subscriptions, publishes, group commands
//!   and acks, outages and resubscription.
//! * [`http`]: the routes: negotiate and WebSocket per hub (with the secure
//!   hubs' virtual key), trigger, model mappings, CORS.
//! * [`health`]: `/health` in ASP.NET HealthChecks JSON.

pub mod backplane;
pub mod connection;
pub mod health;
pub mod http;
pub mod hub;
pub mod profiles;

use std::error::Error;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::response::{IntoResponse, Response};
use protocol::backplane::CONDUIT_PREFIX;
use protocol::connection::Liveness;
use protocol::framing::DEFAULT_MAX_RECORD_SIZE;
use protocol::HubProtocol;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use crate::redis_target::RedisTarget;
use hub::Hub;
use profiles::{Profile, NAVIGATION};

/// Conduit's CORS origins (docs/CONDUIT.md §3).
pub const CONDUIT_ORIGINS: [&str; 4] = [
    "http://localhost:5001",
    "http://webui:8080",
    "http://localhost:8080",
    "http://127.0.0.1:5001",
];

/// How long a stopping sim waits for its connections to say goodbye.
const DRAIN_LIMIT: Duration = Duration::from_secs(5);

/// How long start-up waits for the first Redis connection before serving
/// anyway (ASP.NET with `abortConnect=false` also starts without Redis).
const FIRST_CONNECT_WAIT: Duration = Duration::from_secs(5);

/// Command-line settings.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Address to listen on, e.g. 127.0.0.1:5000 [default: from
    /// ASPNETCORE_URLS, else 127.0.0.1:5000]
    #[arg(long)]
    pub listen: Option<String>,
    /// Redis for the backplane: a redis:// or rediss:// URL (append
    /// `/#insecure` for a self-signed server) or a StackExchange.Redis
    /// connection string. Without it the sim runs single-instance.
    #[arg(long, env = "ConnectionStrings__RedisSignalR")]
    pub redis: Option<RedisTarget>,
    /// Instance name: Redis client name and `origin` of its broadcasts
    /// (no spaces) [default: sim-<port>]
    #[arg(long)]
    pub name: Option<String>,
    /// StackExchange.Redis ChannelPrefix, concatenated with no separator,
    /// of the Core API's hubs (admin-notifications keeps the Admin API's
    /// conduit_admin_signalr:).
    #[arg(long, default_value = CONDUIT_PREFIX)]
    pub prefix: String,
    /// A hub to serve (repeatable): `navigation` (Conduit's
    /// NavigationStateHub at /hubs/navigation-state, anonymous),
    /// `notifications` (SystemNotificationHub at /hubs/notifications, needs a
    /// --require-key key) or `admin-notifications` (the Admin API's
    /// AdminNotificationHub at /hubs/admin-notifications, on its own prefix
    /// conduit_admin_signalr:, needs a --require-key key) [default: navigation]
    #[arg(long = "hub", value_name = "PROFILE", value_parser = profiles::find)]
    pub hubs: Vec<&'static Profile>,
    /// A virtual key the secure hubs accept (repeatable), sent as Conduit
    /// takes it: `access_token` or `api_key` in the query, `Authorization:
    /// Bearer`, or `X-API-Key`. The n-th key has id n: its connections join
    /// group `vkey-<n>`.
    #[arg(long = "require-key", value_name = "KEY")]
    pub keys: Vec<String>,
    /// Hub protocols accepted from clients and published to the backplane,
    /// comma-separated: json, messagepack (Conduit: json).
    #[arg(long, value_delimiter = ',', default_value = "json")]
    pub protocols: Vec<HubProtocol>,
    /// Seconds between the server's Pings, a fixed cadence whatever else
    /// is sent (Conduit: 30).
    #[arg(long, default_value_t = 30)]
    pub keep_alive: u64,
    /// Seconds of client silence before the connection is closed, counted
    /// once the client's first Ping arrived (Conduit: 60).
    #[arg(long, default_value_t = 60)]
    pub client_timeout: u64,
    /// Seconds a new connection has to send its handshake.
    #[arg(long, default_value_t = 15)]
    pub handshake_timeout: u64,
    /// An allowed CORS origin (repeatable) [default: Conduit's four]
    #[arg(long = "allow-origin")]
    pub allow_origins: Vec<String>,
    /// Do not also allow every http://localhost:*, 127.0.0.1:* and [::1]:* origin.
    #[arg(long)]
    pub no_loopback_origins: bool,
}

/// Which browser origins may call the sim with credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorsOrigins {
    /// Origins allowed exactly as written.
    pub exact: Vec<String>,
    /// Also allow any `http://` loopback origin, whatever its port, so the
    /// companion's dashboard works wherever it listens.
    pub any_loopback: bool,
}

impl Default for CorsOrigins {
    fn default() -> Self {
        Self {
            exact: CONDUIT_ORIGINS.iter().map(|o| o.to_string()).collect(),
            any_loopback: true,
        }
    }
}

/// Everything one sim instance needs; [`SimConfig::new`] gives Conduit's values.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Instance name: Redis client name, `origin` of test broadcasts.
    pub name: String,
    /// The backplane's Redis; `None` is single-instance mode.
    pub redis: Option<RedisTarget>,
    /// StackExchange.Redis `ChannelPrefix` of every hub without its own
    /// (the Admin API's hub is on `conduit_admin_signalr:`).
    pub prefix: String,
    /// The hubs served, in `--hub` order; the first answers `/health` and
    /// a trigger that names no hub.
    pub hubs: Vec<&'static Profile>,
    /// The virtual keys the secure hubs accept; the n-th (from 1) has id n.
    pub keys: Vec<String>,
    /// The hub protocols accepted in handshakes and serialized for in
    /// every publish, in this order.
    pub protocols: Vec<HubProtocol>,
    /// Ping interval and client timeout.
    pub liveness: Liveness,
    /// How long a new connection may take to send its handshake.
    pub handshake_timeout: Duration,
    /// Largest record accepted from a client (`MaximumReceiveMessageSize`).
    pub max_message_size: usize,
    /// CORS policy for the HTTP endpoints.
    pub cors: CorsOrigins,
}

impl SimConfig {
    /// Conduit's settings for an instance called `name`.
    pub fn new(name: impl Into<String>, redis: Option<RedisTarget>) -> Self {
        Self {
            name: name.into(),
            redis,
            prefix: CONDUIT_PREFIX.to_owned(),
            hubs: vec![&NAVIGATION],
            keys: Vec::new(),
            protocols: vec![HubProtocol::Json],
            liveness: Liveness::CONDUIT_SERVER,
            handshake_timeout: Duration::from_secs(15),
            max_message_size: DEFAULT_MAX_RECORD_SIZE,
            cors: CorsOrigins::default(),
        }
    }
}

impl SimConfig {
    /// Checks what flags cannot: a usable set of hubs, keys and protocols.
    /// Each error names the setting at fault.
    fn validate(&self) -> Result<(), SimError> {
        let bad = |why: String| Err(SimError::Config(why));
        if self.hubs.is_empty() {
            return bad("--hub: no hub to serve".into());
        }
        for (i, hub) in self.hubs.iter().enumerate() {
            if self.hubs[..i].iter().any(|h| h.path == hub.path) {
                return bad(format!("--hub: '{}' is given twice", hub.name));
            }
            if hub.requires_key && self.keys.is_empty() {
                return bad(format!(
                    "--hub {} requires a virtual key: add --require-key <key>",
                    hub.name
                ));
            }
        }
        if let Some(key) = self.keys.iter().find(|k| !valid_key(k)) {
            return bad(format!(
                "--require-key: {key:?} is not a usable key (printable ASCII without spaces, not empty)"
            ));
        }
        if self.protocols.is_empty() {
            return bad("--protocols: at least one protocol is needed".into());
        }
        Ok(())
    }
}

/// A key a client can send in a header or a query: printable ASCII, no
/// spaces (a `Bearer` value is trimmed, so spaces could never match).
fn valid_key(key: &str) -> bool {
    valid_name(key)
}

/// Everything that can go wrong in the sim; HTTP handlers answer with it.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The settings do not make a usable stand-in.
    #[error("{0}")]
    Config(String),
    /// The instance name cannot be a Redis client name.
    #[error("invalid instance name '{0}': use printable ASCII without spaces")]
    InvalidName(String),
    /// The listen address could not be understood.
    #[error("invalid listen address '{0}'")]
    InvalidListen(String),
    /// The request was malformed.
    #[error("{0}")]
    BadRequest(String),
    /// The backplane is down or refused the operation.
    #[error("backplane unavailable: {0}")]
    Backplane(String),
    /// A group command was not acknowledged in time.
    #[error("no ack for group command {0} within 30 s")]
    AckTimeout(u32),
    /// Binding or serving failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl IntoResponse for SimError {
    fn into_response(self) -> Response {
        use axum::http::StatusCode;
        let status = match &self {
            SimError::BadRequest(_) => StatusCode::BAD_REQUEST,
            SimError::Backplane(_) | SimError::AckTimeout(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status.is_server_error() {
            tracing::warn!("request failed: {self}");
        }
        let body = serde_json::json!({ "error": self.to_string() });
        (status, axum::Json(body)).into_response()
    }
}

/// One running stand-in instance: its hubs and their backplanes. Cheap to
/// clone.
#[derive(Clone)]
pub struct Sim {
    /// The hubs, in `--hub` order, shared by every connection and route.
    hubs: Arc<[Arc<Hub>]>,
}

impl Sim {
    /// Connects the backplanes (waiting briefly for Redis) and builds the
    /// hubs.
    pub async fn start(config: SimConfig) -> Result<Self, SimError> {
        if !valid_name(&config.name) {
            return Err(SimError::InvalidName(config.name));
        }
        config.validate()?;
        let config = Arc::new(config);
        let mut hubs = Vec::with_capacity(config.hubs.len());
        for profile in &config.hubs {
            hubs.push(Hub::start(config.clone(), profile).await);
        }
        for hub in &hubs {
            if !hub.backplane().wait_up(FIRST_CONNECT_WAIT).await {
                tracing::warn!("Redis is not reachable yet; serving anyway and retrying");
                break;
            }
        }
        Ok(Self { hubs: hubs.into() })
    }

    /// The first hub (`navigation` by default): `/health`'s, and the
    /// trigger's when it names none.
    pub fn hub(&self) -> &Arc<Hub> {
        &self.hubs[0]
    }

    /// Every hub, in `--hub` order.
    pub fn hubs(&self) -> &[Arc<Hub>] {
        &self.hubs
    }

    /// The hub called `name` (its profile's name, as `/api/config` names
    /// hubs), or the first.
    pub fn hub_named(&self, name: Option<&str>) -> Option<&Arc<Hub>> {
        match name {
            Some(n) => self.hubs.iter().find(|h| h.profile().name == n),
            None => self.hubs.first(),
        }
    }

    /// The hub serving `profile`, if this instance serves it.
    pub fn hub_for(&self, profile: &Profile) -> Option<&Arc<Hub>> {
        self.hubs.iter().find(|h| h.profile() == profile)
    }

    /// Serves on `listener` until `shutdown` resolves, then sends every
    /// client a Close with `allowReconnect`, waits for them, and drops the
    /// Redis connections.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), SimError> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let (done_tx, mut done_rx) = mpsc::channel::<()>(1);
        let router = http::app(http::AppState::new(self.clone(), stop_rx, done_tx));
        // Connections watch `stop`: flipped on shutdown, or dropped if the
        // server fails, either way they send their Close and end.
        let served = axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                shutdown.await;
                let _ = stop_tx.send(true);
            })
            .await;
        // The router (and its `done` sender) is gone; live connections hold
        // the remaining senders until they have sent their Close.
        let _ = tokio::time::timeout(DRAIN_LIMIT, done_rx.recv()).await;
        for hub in self.hubs.iter() {
            hub.backplane().stop();
        }
        served.map_err(SimError::from)
    }
}

/// Starts a sim from `config` and serves it on `listener` until `shutdown`.
pub async fn serve(
    config: SimConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), SimError> {
    Sim::start(config).await?.serve(listener, shutdown).await
}

/// A Redis client name: printable ASCII, no spaces (CLIENT SETNAME's rule).
fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic())
}

/// The first `http://` address of `ASPNETCORE_URLS` (`;`-separated), with
/// Kestrel's wildcards `+` and `*` meaning every interface.
fn listen_from_urls(urls: &str) -> Option<String> {
    urls.split(';').find_map(|url| {
        let rest = url.trim().strip_prefix("http://")?;
        let authority = rest.split('/').next()?;
        let (host, port) = authority.rsplit_once(':')?;
        let host = match host {
            "+" | "*" | "" => "0.0.0.0",
            "localhost" => "127.0.0.1",
            h => h,
        };
        Some(format!("{host}:{port}"))
    })
}

impl Args {
    /// The settings these flags (and the environment) describe.
    fn config(&self, port: u16) -> SimConfig {
        let mut config = SimConfig::new(
            self.name.clone().unwrap_or_else(|| format!("sim-{port}")),
            self.redis.clone(),
        );
        config.prefix = self.prefix.clone();
        if !self.hubs.is_empty() {
            config.hubs = self.hubs.clone();
        }
        config.keys = self.keys.clone();
        config.protocols = self.protocols.clone();
        config.liveness = Liveness {
            keep_alive_ms: self.keep_alive.saturating_mul(1000),
            timeout_ms: self.client_timeout.saturating_mul(1000),
        };
        config.handshake_timeout = Duration::from_secs(self.handshake_timeout);
        if !self.allow_origins.is_empty() {
            config.cors.exact = self.allow_origins.clone();
        }
        config.cors.any_loopback = !self.no_loopback_origins;
        config
    }
}

/// Runs until Ctrl-C or SIGTERM.
pub async fn run(args: Args) -> Result<(), Box<dyn Error + Send + Sync>> {
    let listen = match &args.listen {
        Some(l) => l.clone(),
        None => match std::env::var("ASPNETCORE_URLS") {
            Ok(urls) => listen_from_urls(&urls).ok_or(SimError::InvalidListen(urls))?,
            Err(_) => "127.0.0.1:5000".to_owned(),
        },
    };
    let listener = TcpListener::bind(&listen)
        .await
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on {listen}: {e}")))?;
    let addr = listener.local_addr()?;
    let config = args.config(addr.port());
    // Refuse bad settings before saying anything about the backplane.
    config.validate()?;
    if config.redis.is_some() {
        println!("[Conduit] SignalR configured with Redis backplane for horizontal scaling");
    } else {
        println!("[Conduit] SignalR configured without Redis backplane (single-instance mode)");
    }
    let name = config.name.clone();
    let sim = Sim::start(config).await?;
    println!("listening on http://{addr}");
    for hub in sim.hubs() {
        let profile = hub.profile();
        tracing::info!(
            "instance {name}: {} hub at http://{addr}{}",
            profile.name,
            profile.path
        );
    }
    sim.serve(listener, crate::shutdown::signal()).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The guide's ASPNETCORE_URLS spellings all become bindable addresses.
    #[test]
    fn aspnetcore_urls_forms() {
        assert_eq!(
            listen_from_urls("http://localhost:5000").as_deref(),
            Some("127.0.0.1:5000")
        );
        assert_eq!(
            listen_from_urls("http://+:5000").as_deref(),
            Some("0.0.0.0:5000")
        );
        assert_eq!(
            listen_from_urls("http://*:5001/").as_deref(),
            Some("0.0.0.0:5001")
        );
        assert_eq!(
            listen_from_urls("https://x:1;http://10.0.0.1:80").as_deref(),
            Some("10.0.0.1:80")
        );
        assert_eq!(listen_from_urls("https://x:1"), None);
    }

    /// Bad hub, key and protocol settings are refused with the setting named.
    #[test]
    fn bad_settings_name_the_setting() {
        let config = |hubs: Vec<&'static Profile>, keys: &[&str]| {
            let mut c = SimConfig::new("api-1", None);
            c.hubs = hubs;
            c.keys = keys.iter().map(|k| k.to_string()).collect();
            c.validate().map_err(|e| e.to_string())
        };
        let secure = &profiles::NOTIFICATIONS;
        assert!(config(vec![secure], &[])
            .unwrap_err()
            .contains("--hub notifications requires a virtual key"));
        assert!(config(vec![secure], &["a key"])
            .unwrap_err()
            .starts_with("--require-key:"));
        assert!(config(vec![&NAVIGATION, &NAVIGATION], &[])
            .unwrap_err()
            .contains("given twice"));
        assert_eq!(config(vec![&NAVIGATION, secure], &["k1"]), Ok(()));
    }

    /// The command line refuses an unknown profile or protocol, naming the
    /// flag and what is known.
    #[test]
    fn unknown_profile_or_protocol_is_refused_by_the_cli() {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            args: Args,
        }
        let err = Cli::try_parse_from(["sim", "--hub", "admin"])
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("--hub") && err.contains("navigation, notifications"),
            "{err}"
        );
        let err = Cli::try_parse_from(["sim", "--protocols", "json,protobuf"])
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("--protocols") && err.contains("known: json, messagepack"),
            "{err}"
        );
        let cli = Cli::try_parse_from([
            "sim",
            "--hub",
            "navigation",
            "--hub",
            "notifications",
            "--require-key",
            "k",
            "--protocols",
            "json,messagepack",
        ])
        .unwrap();
        let config = cli.args.config(5000);
        assert_eq!(config.hubs, [&NAVIGATION, &profiles::NOTIFICATIONS]);
        assert_eq!(
            config.protocols,
            [HubProtocol::Json, HubProtocol::MessagePack]
        );
        assert_eq!(config.validate().map_err(|e| e.to_string()), Ok(()));
    }

    /// Names with spaces cannot be Redis client names and are refused.
    #[test]
    fn names_must_be_client_names() {
        assert!(valid_name("api-1"));
        assert!(!valid_name("api 1"));
        assert!(!valid_name(""));
    }
}
