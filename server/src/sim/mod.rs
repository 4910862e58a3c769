//! `signalscope sim`: a stand-in Conduit instance.
//!
//! It serves `NavigationStateHub` at `/hubs/navigation-state` with the JSON
//! hub protocol over WebSockets, and scales out through Redis exactly as
//! `Microsoft.AspNetCore.SignalR.StackExchangeRedis` does, so stand-ins and
//! real ASP.NET Core instances on one Redis exchange broadcasts.
//!
//! * [`hub`]: Conduit's hub behaviour and the local connections and groups.
//! * [`connection`]: one SignalR connection (handshake, then
//!   `OnConnectedAsync`, records, keep-alive on a fixed cadence, the client
//!   timeout), with ASP.NET's order and texts.
//! * [`backplane`]: the Redis side: subscriptions, publishes, group commands
//!   and acks, outages and resubscription.
//! * [`http`]: the routes: negotiate, WebSocket, trigger, model mappings, CORS.
//! * [`health`]: `/health` in ASP.NET HealthChecks JSON.

pub mod backplane;
pub mod connection;
pub mod health;
pub mod http;
pub mod hub;

use std::error::Error;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::response::{IntoResponse, Response};
use protocol::backplane::{Channels, CONDUIT_HUB, CONDUIT_PREFIX};
use protocol::connection::Liveness;
use protocol::framing::DEFAULT_MAX_RECORD_SIZE;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use crate::redis_target::RedisTarget;
use hub::Hub;

/// Where the hub is mapped in Conduit's Core API.
pub const HUB_PATH: &str = "/hubs/navigation-state";

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
    /// StackExchange.Redis ChannelPrefix, concatenated with no separator.
    #[arg(long, default_value = CONDUIT_PREFIX)]
    pub prefix: String,
    /// Hub type full name, the middle part of every channel.
    #[arg(long, default_value = CONDUIT_HUB)]
    pub hub: String,
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
    /// Channel naming (prefix and hub type name).
    pub channels: Channels,
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
            channels: Channels::conduit(),
            liveness: Liveness::CONDUIT_SERVER,
            handshake_timeout: Duration::from_secs(15),
            max_message_size: DEFAULT_MAX_RECORD_SIZE,
            cors: CorsOrigins::default(),
        }
    }
}

/// Everything that can go wrong in the sim; HTTP handlers answer with it.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
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

/// One running stand-in instance: its hub and backplane. Cheap to clone.
#[derive(Clone)]
pub struct Sim {
    /// The hub, shared by every connection and route.
    hub: Arc<Hub>,
}

impl Sim {
    /// Connects the backplane (waiting briefly for Redis) and builds the hub.
    pub async fn start(config: SimConfig) -> Result<Self, SimError> {
        if !valid_name(&config.name) {
            return Err(SimError::InvalidName(config.name));
        }
        let hub = Hub::start(config).await;
        if !hub.backplane().wait_up(FIRST_CONNECT_WAIT).await {
            tracing::warn!("Redis is not reachable yet; serving anyway and retrying");
        }
        Ok(Self { hub })
    }

    /// The hub, for adding remote connections to groups and the like.
    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
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
        self.hub.backplane().stop();
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
        config.channels = Channels::new(self.prefix.clone(), self.hub.clone());
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
    if config.redis.is_some() {
        println!("[Conduit] SignalR configured with Redis backplane for horizontal scaling");
    } else {
        println!("[Conduit] SignalR configured without Redis backplane (single-instance mode)");
    }
    let name = config.name.clone();
    let sim = Sim::start(config).await?;
    println!("listening on http://{addr}");
    tracing::info!("instance {name}: hub at http://{addr}{HUB_PATH}");
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

    /// Names with spaces cannot be Redis client names and are refused.
    #[test]
    fn names_must_be_client_names() {
        assert!(valid_name("api-1"));
        assert!(!valid_name("api 1"));
        assert!(!valid_name(""));
    }
}
