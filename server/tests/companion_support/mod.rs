//! What the companion's integration tests share: the companion on a real
//! port, an SSE reader over a real socket, and a small stand-in instance
//! (a real axum server with a trigger endpoint that publishes into Redis
//! and a `/health`, over http or https), used where `signalscope::sim` is
//! not needed.
#![allow(dead_code)] // each test binary uses its own subset

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use protocol::api::{Instance, TriggerMode, TriggerResponse};
use protocol::backplane::{Channels, Invocation};
use protocol::HubMessage;
use serde_json::{json, Value};
use signalscope::companion::{self, CompanionConfig};
use signalscope::redis_target::RedisTarget;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::{rustls, TlsAcceptor};

/// How long a test waits for any one event.
pub const WAIT: Duration = Duration::from_secs(10);

/// Conduit's navigation group channel, spelled out as the spec gives it.
pub const GROUP_CHANNEL: &str =
    "conduit_signalr:ConduitLLM.Http.Hubs.NavigationStateHub:group:navigation-updates";

/// A companion serving on a loopback port, stopped on drop.
pub struct Companion {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Fires the graceful shutdown.
    stop: Option<oneshot::Sender<()>>,
    /// The server task, to await a clean exit.
    task: Option<JoinHandle<Result<(), companion::BoxError>>>,
}

impl Companion {
    /// GET `path` and read the JSON answer as `T`.
    pub async fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> T {
        reqwest::get(self.url(path))
            .await
            .expect("the companion answers")
            .json()
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// Opens a feed (`query` like `?source=pubsub`) and waits until it is live.
    pub async fn live_feed(&self, query: &str) -> SseReader {
        let mut feed = SseReader::open(&self.url(&format!("/api/feed{query}"))).await;
        feed.until(WAIT, "redis-up", |e| e.name == "redis-up").await;
        feed
    }

    /// Serves `config` on a free loopback port.
    pub async fn start(config: CompanionConfig) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let addr = listener.local_addr().expect("its address");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(companion::serve(config, listener, async move {
            let _ = stopped.await;
        }));
        Self {
            addr,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// `http://addr` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Shuts down gracefully and waits for the server to return.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(10), t)
                .await
                .expect("the companion stops within 10 s")
                .expect("the server task did not panic")
                .expect("the server returned Ok");
        }
    }
}

impl Drop for Companion {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// A config for a test Redis with quick feed settings.
pub fn config(redis_url: &str, instances: Vec<Instance>) -> CompanionConfig {
    let mut c = CompanionConfig::new(
        RedisTarget::parse(redis_url).expect("a redis URL"),
        instances,
    );
    c.feed.keep_alive = Duration::from_millis(500);
    c
}

/// One SSE event: its name and its data as JSON.
#[derive(Debug, Clone)]
pub struct SseEvent {
    /// The `event:` field.
    pub name: String,
    /// The `data:` field, parsed.
    pub data: Value,
}

/// Reads SSE events from a real HTTP response, chunk by chunk.
pub struct SseReader {
    /// The open response.
    response: reqwest::Response,
    /// Bytes received but not yet split into events.
    buf: String,
}

impl SseReader {
    /// Opens `url` and checks it is an event stream.
    pub async fn open(url: &str) -> Self {
        let response = reqwest::Client::new()
            .get(url)
            .send()
            .await
            .expect("the feed answers");
        assert_eq!(response.status(), 200, "feed status");
        let ct = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(ct.starts_with("text/event-stream"), "content type {ct}");
        Self {
            response,
            buf: String::new(),
        }
    }

    /// The next event (keep-alive comments skipped), or `None` at the end
    /// of the stream; panics after `limit`.
    pub async fn next(&mut self, limit: Duration) -> Option<SseEvent> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let (mut name, mut data) = (String::from("message"), String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        name = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim_start());
                    }
                }
                if data.is_empty() {
                    continue; // a keep-alive comment
                }
                let data = serde_json::from_str(&data).unwrap_or(Value::String(data));
                return Some(SseEvent { name, data });
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let chunk = tokio::time::timeout(left, self.response.chunk())
                .await
                .unwrap_or_else(|_| {
                    panic!("no SSE event within {limit:?}; unparsed: {:?}", self.buf)
                });
            match chunk.expect("the feed keeps reading") {
                Some(bytes) => self.buf.push_str(&String::from_utf8_lossy(&bytes)),
                None => return None,
            }
        }
    }

    /// Reads until an event satisfies `want`, returning it; panics after `limit`.
    pub async fn until(
        &mut self,
        limit: Duration,
        what: &str,
        want: impl Fn(&SseEvent) -> bool,
    ) -> SseEvent {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "timed out after {limit:?} waiting for {what}"
            );
            match self.next(left).await {
                Some(e) if want(&e) => return e,
                Some(_) => {}
                None => panic!("the feed ended while waiting for {what}"),
            }
        }
    }
}

/// A line event on `channel` whose test broadcast has sequence `seq`.
pub fn is_broadcast(e: &SseEvent, channel: &str, seq: u64) -> bool {
    e.name == "line"
        && e.data["channel"] == channel
        && e.data["summary"]["payload"]["target"] == "NavigationStateUpdate"
        && e.data["summary"]["payload"]["arguments"][0]["data"]["seq"] == seq
}

/// The real stand-in instance (`signalscope::sim`) on a free port,
/// stopped on drop.
pub struct Sim {
    /// How the companion names and reaches it.
    pub instance: Instance,
    /// Fires its graceful shutdown.
    _stop: oneshot::Sender<()>,
}

impl Sim {
    /// Starts a sim named `name` on the backplane at `redis_url`.
    pub async fn start(name: &str, redis_url: &str) -> Self {
        let redis = RedisTarget::parse(redis_url).expect("a redis URL");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let addr = listener.local_addr().expect("its address");
        let (stop, stopped) = oneshot::channel::<()>();
        let config = signalscope::sim::SimConfig::new(name, Some(redis));
        tokio::spawn(signalscope::sim::serve(config, listener, async move {
            let _ = stopped.await;
        }));
        Self {
            instance: Instance {
                name: name.into(),
                url: format!("http://{addr}"),
                hubs: Vec::new(),
            },
            _stop: stop,
        }
    }
}

/// A small stand-in instance: `POST /api/test/trigger-navigation-update`
/// publishes `{target, payload}` to the navigation group from a Redis
/// connection named after the instance; `/health` answers like Conduit.
pub struct StandIn {
    /// How the companion names and reaches it.
    pub instance: Instance,
    /// The server task, aborted on drop.
    task: JoinHandle<()>,
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What the small stand-in's handlers share.
#[derive(Clone)]
struct StandInState {
    /// Its name, reported in its answers.
    name: String,
    /// Its publishing connection, named after it.
    conn: redis::aio::MultiplexedConnection,
    /// A header its trigger insists on, like an admin key.
    required_header: Option<(String, String)>,
}

impl StandIn {
    /// Starts one named `name` against `redis_url`; with `required_header`
    /// its trigger answers 401 unless that header is sent.
    pub async fn start(name: &str, redis_url: &str, required_header: Option<(&str, &str)>) -> Self {
        let app = stand_in_app(name, redis_url, required_header).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let addr = listener.local_addr().expect("its address");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            instance: Instance {
                name: name.into(),
                url: format!("http://{addr}"),
                hubs: Vec::new(),
            },
            task,
        }
    }

    /// Like [`StandIn::start`] without a required header, but serving
    /// https with the PEM certificate `cert` and key `key`.
    pub async fn start_tls(name: &str, redis_url: &str, cert: &Path, key: &Path) -> Self {
        let app = stand_in_app(name, redis_url, None).await;
        let certs = CertificateDer::pem_file_iter(cert)
            .expect("the certificate file")
            .collect::<Result<Vec<_>, _>>()
            .expect("PEM certificates");
        let key = PrivateKeyDer::from_pem_file(key).expect("a PEM private key");
        let tls = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .expect("a usable certificate");
        let listener = TlsListener {
            tcp: tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("a port"),
            tls: TlsAcceptor::from(Arc::new(tls)),
        };
        let addr = listener.tcp.local_addr().expect("its address");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            instance: Instance {
                name: name.into(),
                url: format!("https://{addr}"),
                hubs: Vec::new(),
            },
            task,
        }
    }
}

/// The stand-in's routes, publishing from a connection named `name`.
async fn stand_in_app(
    name: &str,
    redis_url: &str,
    required_header: Option<(&str, &str)>,
) -> Router {
    let client = redis::Client::open(redis_url).expect("a redis URL");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("redis");
    let _: () = redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg(name)
        .query_async(&mut conn)
        .await
        .expect("CLIENT SETNAME");
    let state = StandInState {
        name: name.into(),
        conn,
        required_header: required_header.map(|(n, v)| (n.to_owned(), v.to_owned())),
    };
    Router::new()
        .route(
            "/api/test/trigger-navigation-update",
            post(stand_in_trigger),
        )
        .route(
            "/health",
            get(|| async {
                Json(json!({"status": "Healthy", "checks": [], "totalDuration": 0.0}))
            }),
        )
        .with_state(state)
}

/// A TCP listener that completes a TLS handshake on each connection before
/// handing it to `axum::serve`, so the stand-in can speak https.
struct TlsListener {
    /// Accepts the TCP connections.
    tcp: tokio::net::TcpListener,
    /// Runs the server side of each handshake.
    tls: TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let (tcp, addr) = axum::serve::Listener::accept(&mut self.tcp).await;
            // A failed handshake (a client that distrusts the certificate)
            // ends that connection only.
            if let Ok(stream) = self.tls.accept(tcp).await {
                return (stream, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

async fn stand_in_trigger(
    State(mut s): State<StandInState>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Result<Json<TriggerResponse>, StatusCode> {
    if let Some((name, value)) = &s.required_header {
        if headers.get(name.as_str()).and_then(|v| v.to_str().ok()) != Some(value.as_str()) {
            return Err(StatusCode::UNAUTHORIZED);
        }
    }
    let target = body["target"]
        .as_str()
        .unwrap_or("NavigationStateUpdate")
        .to_owned();
    let payload = body["payload"].clone();
    let channel = Channels::conduit().group("navigation-updates");
    let bytes = Invocation::json(
        &HubMessage::invocation(target.clone(), vec![payload.clone()]),
        Vec::new(),
    )
    .encode();
    let receivers: i64 = redis::cmd("PUBLISH")
        .arg(&channel)
        .arg(bytes)
        .query_async(&mut s.conn)
        .await
        .map_err(|_| StatusCode::BAD_GATEWAY)?;
    let data = &payload["data"];
    Ok(Json(TriggerResponse {
        id: data["id"].as_str().unwrap_or_default().to_owned(),
        seq: data["seq"].as_u64().unwrap_or_default(),
        sent_at: data["sentAt"].as_str().unwrap_or_default().to_owned(),
        target,
        channel,
        mode: TriggerMode::Redis,
        receivers: Some(receivers),
        channel_subscribers: None,
        instance: Some(s.name.clone()),
        hub: None,
    }))
}

/// POSTs `body` (JSON) to the companion's trigger endpoint.
pub async fn trigger(companion: &Companion, body: Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(companion.url("/api/test/trigger-navigation-update"))
        .json(&body)
        .send()
        .await
        .expect("the companion answers")
}

/// PUBLISHes raw bytes on `channel` from a fresh connection.
pub async fn publish(redis_url: &str, channel: &str, body: &[u8]) {
    let client = redis::Client::open(redis_url).expect("a redis URL");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("redis");
    let _: i64 = redis::cmd("PUBLISH")
        .arg(channel)
        .arg(body)
        .query_async(&mut conn)
        .await
        .expect("PUBLISH");
}
