//! The sim's HTTP surface: negotiate and the WebSocket transport at each
//! hub's path (a secure hub's behind its virtual key, taken as Conduit's
//! `VirtualKeyAuthenticationHandler` takes it), the health endpoints, the
//! test trigger and the model-mapping stand-in, all behind Conduit's CORS
//! policy.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::{future, SinkExt, StreamExt};
use protocol::api::{no_such_hub, routes, TriggerMode, TriggerRequest, TriggerResponse};
use protocol::backplane::NAVIGATION_GROUP;
use protocol::broadcast::{iso8601_utc, TestBroadcast, NAVIGATION_EVENT};
use protocol::message::HubMessage;
use protocol::negotiate::{Negotiated, Transport};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tower_http::cors::{AllowHeaders, AllowMethods, AllowOrigin, CorsLayer};

use super::connection::{self, Frame, Limits};
use super::health::{self, Scope};
use super::hub::{new_connection_id, Hub};
use super::profiles::NAVIGATION;
use super::{CorsOrigins, Sim, SimError};
use crate::clock::unix_ms;
use crate::locks::lock;

/// How long a negotiated connection may wait for its WebSocket: ASP.NET's
/// `DisconnectTimeout` (15 s, `ConnectionOptionsSetup`), after which
/// `HttpConnectionManager.Scan` disposes the still-inactive connection.
const NEGOTIATED_LIFETIME: Duration = Duration::from_secs(15);

/// Read buffer of one WebSocket: records are small, and grow past it if needed.
const SOCKET_BUFFER: usize = 4 * 1024;

/// Connection tokens handed out by negotiate.
#[derive(Default)]
struct Tokens {
    /// Negotiated but not yet connected: token → (connection id, when).
    pending: HashMap<String, (String, Instant)>,
    /// Tokens whose WebSocket is open (a second one gets 409).
    active: HashSet<String>,
}

/// The outcome of presenting a token on the WebSocket request.
enum Claim {
    /// First use: the connection id it was negotiated for.
    Fresh(String),
    /// Already in use: 409.
    InUse,
    /// Never issued or long gone: 404.
    Unknown,
}

/// What every route shares.
#[derive(Clone)]
pub struct AppState {
    /// The instance.
    sim: Sim,
    /// Negotiated and open connection tokens.
    tokens: Arc<Mutex<Tokens>>,
    /// Flips to true when the server is stopping.
    stop: watch::Receiver<bool>,
    /// Held by every live connection; the server waits for all to drop.
    done: mpsc::Sender<()>,
}

impl AppState {
    /// State for serving `sim`; `stop` ends connections, `done` tracks them.
    pub fn new(sim: Sim, stop: watch::Receiver<bool>, done: mpsc::Sender<()>) -> Self {
        Self {
            sim,
            tokens: Arc::default(),
            stop,
            done,
        }
    }

    /// The tokens, with negotiated ones past their lifetime dropped.
    fn tokens(&self) -> std::sync::MutexGuard<'_, Tokens> {
        let mut tokens = lock(&self.tokens);
        tokens
            .pending
            .retain(|_, (_, at)| at.elapsed() < NEGOTIATED_LIFETIME);
        tokens
    }

    /// The 404 or 409 a token earns, without using it up.
    fn refusal(&self, token: &str) -> Option<Response> {
        let tokens = self.tokens();
        if tokens.active.contains(token) {
            Some(conflict())
        } else if !tokens.pending.contains_key(token) {
            Some(not_found())
        } else {
            None
        }
    }

    fn claim(&self, token: &str) -> Claim {
        let mut tokens = self.tokens();
        if tokens.active.contains(token) {
            return Claim::InUse;
        }
        match tokens.pending.remove(token) {
            Some((id, _)) => {
                tokens.active.insert(token.to_owned());
                Claim::Fresh(id)
            }
            None => Claim::Unknown,
        }
    }
}

fn conflict() -> Response {
    (StatusCode::CONFLICT, "Connection ID is already in use").into_response()
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "No Connection with that ID").into_response()
}

/// What a hub's two routes share: the app, and which hub they are for.
#[derive(Clone)]
struct HubRoute {
    /// Everything every route shares.
    app: AppState,
    /// The hub mapped at this path.
    hub: Arc<Hub>,
}

/// The router, with no socket: tests call it with `oneshot`.
pub fn app(state: AppState) -> Router {
    let cors = cors(&state.sim.hub().config().cors);
    let mut router = Router::new();
    for hub in state.sim.hubs() {
        let route = HubRoute {
            app: state.clone(),
            hub: hub.clone(),
        };
        let path = hub.profile().path;
        router = router
            .route(path, get(websocket).with_state(route.clone()))
            .route(
                &format!("{path}/negotiate"),
                post(negotiate).with_state(route),
            );
    }
    router
        .route("/health", get(health_all))
        .route("/health/ready", get(health_all))
        .route("/health/live", get(health_live))
        .route(routes::TRIGGER, post(trigger))
        .route("/api/admin/model-mappings", post(create_model_mapping))
        .layer(cors)
        .with_state(state)
}

/// Conduit's policy: listed origins exactly, any method and header,
/// credentials allowed; optionally any `http://` loopback origin too.
fn cors(origins: &CorsOrigins) -> CorsLayer {
    let origins = origins.clone();
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin: &HeaderValue, _| {
            origin.to_str().is_ok_and(|o| origin_allowed(&origins, o))
        }))
        .allow_methods(AllowMethods::mirror_request())
        .allow_headers(AllowHeaders::mirror_request())
        .allow_credentials(true)
}

fn origin_allowed(origins: &CorsOrigins, origin: &str) -> bool {
    if origins.exact.iter().any(|o| o == origin) {
        return true;
    }
    if !origins.any_loopback {
        return false;
    }
    let Some(authority) = origin.strip_prefix("http://") else {
        return false;
    };
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => authority,
    };
    matches!(host, "localhost" | "127.0.0.1" | "[::1]")
}

/// Query of the negotiate POST.
#[derive(Debug, Deserialize)]
struct NegotiateQuery {
    /// 0 if absent; the server answers with at most 1.
    #[serde(rename = "negotiateVersion")]
    negotiate_version: Option<String>,
}

/// The virtual key a request presents, where Conduit's
/// `VirtualKeyAuthenticationHandler.ExtractVirtualKey` looks on a `/hubs`
/// path, first found wins: `access_token` in the query (what the official
/// client puts on the WebSocket URL), `api_key` in the query,
/// `Authorization: Bearer` (what it sends on negotiate), `X-API-Key`.
fn presented_key(query: &HashMap<String, String>, headers: &HeaderMap) -> Option<String> {
    let from_query = |name: &str| query.get(name).cloned();
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    from_query("access_token")
        .or_else(|| from_query("api_key"))
        .or_else(|| {
            let auth = header("authorization")?;
            let scheme = auth.get(..7)?;
            scheme
                .eq_ignore_ascii_case("Bearer ")
                .then(|| auth[7..].trim().to_owned())
        })
        .or_else(|| header("x-api-key").map(|k| k.trim().to_owned()))
}

/// A request without a valid virtual key, answered as ASP.NET's
/// authorization middleware answers when the VirtualKey scheme's challenge
/// runs (`AuthenticationHandler`'s default): 401 alone, no body, no
/// `WWW-Authenticate`.
struct Unauthorized;

impl IntoResponse for Unauthorized {
    fn into_response(self) -> Response {
        StatusCode::UNAUTHORIZED.into_response()
    }
}

/// Whether a request may use `hub`: the id of the key it presented
/// (`None` on an anonymous hub).
fn authorize(
    hub: &Hub,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Result<Option<u32>, Unauthorized> {
    if !hub.profile().requires_key {
        return Ok(None);
    }
    let keys = &hub.config().keys;
    presented_key(query, headers)
        .and_then(|key| keys.iter().position(|k| *k == key))
        .map(|at| Some(at as u32 + 1))
        .ok_or(Unauthorized)
}

async fn negotiate(
    State(route): State<HubRoute>,
    Query(q): Query<NegotiateQuery>,
    Query(all): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, SimError> {
    if let Err(refused) = authorize(&route.hub, &all, &headers) {
        return Ok(refused.into_response());
    }
    let state = route.app;
    // HttpConnectionDispatcher.ProcessNegotiate: a bad version is still a
    // 200, with only an error in the body (the client throws it).
    let requested = match q.negotiate_version.as_deref().map(str::parse::<i32>) {
        None => 0,
        Some(Ok(v)) if v >= 0 => v,
        Some(Ok(v)) => {
            return Ok(negotiate_error(format!(
                "The client requested version '{v}', but the server does not support this version."
            )))
        }
        Some(Err(_)) => {
            return Ok(negotiate_error(
                "The client requested a non-integer protocol version.".into(),
            ))
        }
    };
    let version = requested.min(1) as u32;
    let connection_id = new_connection_id();
    let connection_token = if version == 0 {
        connection_id.clone()
    } else {
        new_connection_id()
    };
    {
        let mut tokens = state.tokens();
        tokens.pending.insert(
            connection_token.clone(),
            (connection_id.clone(), Instant::now()),
        );
    }
    let body = Negotiated {
        version,
        connection_id,
        connection_token,
        transports: vec![Transport::websockets()],
        use_stateful_reconnect: false,
    }
    .to_json();
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response())
}

/// Negotiate's error form: 200, `{"error":"…"}` and nothing else.
fn negotiate_error(error: String) -> Response {
    let body = json!({ "error": error }).to_string();
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

/// Query of the WebSocket request.
#[derive(Debug, Deserialize)]
struct SocketQuery {
    /// The negotiated connection token; absent with skipNegotiation.
    id: Option<String>,
}

async fn websocket(
    State(route): State<HubRoute>,
    Query(q): Query<SocketQuery>,
    Query(all): Query<HashMap<String, String>>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    // Authorization runs before the connection dispatcher looks at the id.
    let virtual_key = match authorize(&route.hub, &all, &headers) {
        Ok(key) => key,
        Err(refused) => return refused.into_response(),
    };
    let HubRoute { app: state, hub } = route;
    // ASP.NET checks the id before the transport, so a stale id is a 404
    // even on a request that could not be upgraded.
    if let Some(token) = &q.id {
        if let Some(refusal) = state.refusal(token) {
            return refusal;
        }
    }
    let upgrade = match upgrade {
        Ok(u) => u,
        Err(rejection) => return rejection.into_response(),
    };
    let (connection_id, token) = match q.id {
        None => (new_connection_id(), None),
        Some(token) => match state.claim(&token) {
            Claim::Fresh(id) => (id, Some(token)),
            Claim::InUse => return conflict(),
            Claim::Unknown => return not_found(),
        },
    };
    let config = hub.config();
    let limits = Limits {
        liveness: config.liveness,
        handshake_timeout: config.handshake_timeout,
        max_record: config.max_message_size,
    };
    // Several records may share one WebSocket message; the record limit is
    // enforced by the splitter, this only bounds one message's memory.
    // Small buffers: tungstenite's 128 KiB defaults would dominate the
    // memory of thousands of mostly idle connections.
    upgrade
        .max_message_size(config.max_message_size * 4)
        .read_buffer_size(SOCKET_BUFFER)
        .write_buffer_size(0)
        .on_upgrade(move |socket| {
            let connection = Accepted {
                hub,
                id: connection_id,
                token,
                virtual_key,
                limits,
            };
            serve_socket(state, socket, connection)
        })
}

/// A WebSocket request that passed every check.
struct Accepted {
    /// The hub it is for.
    hub: Arc<Hub>,
    /// Its connection id.
    id: String,
    /// The negotiated token it used up, released when it ends.
    token: Option<String>,
    /// The id of the virtual key it presented.
    virtual_key: Option<u32>,
    /// Its limits.
    limits: Limits,
}

async fn serve_socket(state: AppState, socket: WebSocket, accepted: Accepted) {
    let Accepted {
        hub,
        id,
        token,
        virtual_key,
        limits,
    } = accepted;
    // Holding a `done` sender is how the server knows this one still runs.
    let _running = state.done.clone();
    let (tx, rx) = socket.split();
    let sink = tx.with(|frame: Frame| future::ready(Ok::<_, axum::Error>(to_message(frame))));
    let stream = rx.filter_map(|m| future::ready(from_message(m)));
    connection::run(
        hub,
        id,
        virtual_key,
        limits,
        sink,
        stream,
        state.stop.clone(),
    )
    .await;
    if let Some(token) = token {
        state.tokens().active.remove(&token);
    }
}

fn to_message(frame: Frame) -> Message {
    match frame {
        // Cloning `Bytes` only bumps a count; only a foreign publisher
        // could send "json" that is not UTF-8.
        Frame::Text(bytes) => match axum::extract::ws::Utf8Bytes::try_from(bytes.clone()) {
            Ok(text) => Message::Text(text),
            Err(_) => Message::Binary(bytes),
        },
        Frame::Binary(bytes) => Message::Binary(bytes),
        Frame::Close(code, reason) => Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        })),
    }
}

fn from_message(message: Result<Message, axum::Error>) -> Option<Result<Frame, axum::Error>> {
    match message {
        Ok(Message::Text(text)) => Some(Ok(Frame::Text(Bytes::from(text)))),
        Ok(Message::Binary(bytes)) => Some(Ok(Frame::Binary(bytes))),
        Ok(Message::Close(frame)) => {
            let (code, reason) =
                frame.map_or((1005, String::new()), |f| (f.code, f.reason.to_string()));
            Some(Ok(Frame::Close(code, reason)))
        }
        Ok(Message::Ping(_) | Message::Pong(_)) => None,
        Err(e) => Some(Err(e)),
    }
}

async fn health_all(State(state): State<AppState>) -> health::Report {
    health::report(state.sim.hub(), Scope::All).await
}

async fn health_live(State(state): State<AppState>) -> health::Report {
    health::report(state.sim.hub(), Scope::Live).await
}

/// Reads an optional JSON body: empty means the default.
fn optional_json<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> Result<T, SimError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body)
        .map_err(|e| SimError::BadRequest(format!("invalid JSON body: {e}")))
}

/// The stand-in's own test broadcast, read as the companion reads the same
/// request ([`TriggerRequest::plan`]): to the hub named (default the
/// first), its audience, method, arguments and protocols or the hub's and
/// the instance's own.
async fn trigger(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<TriggerResponse>, SimError> {
    let request: TriggerRequest = optional_json(&body)?;
    let hub = state.sim.hub_named(request.hub.as_deref()).ok_or_else(|| {
        SimError::BadRequest(no_such_hub(
            request.hub.as_deref().unwrap_or_default(),
            state.sim.hubs().iter().map(|h| h.profile().name),
        ))
    })?;
    let profile = hub.profile();
    let plan = request
        .plan(&profile.audience.api(), profile.trigger_event())
        .map_err(SimError::BadRequest)?;
    let name = hub.config().name.clone();
    let broadcast = TestBroadcast::new(
        format!("{:032x}", rand::random::<u128>()),
        hub.next_broadcast_seq(),
        unix_ms(),
        name.clone(),
    );
    let arguments = plan
        .arguments
        .unwrap_or_else(|| vec![broadcast.to_argument()]);
    let protocols = plan.protocols.as_ref().unwrap_or(&hub.config().protocols);
    let message = HubMessage::invocation(plan.target.clone(), arguments);
    let (channel, receivers) = hub.send_to(&plan.audience, &message, protocols).await?;
    Ok(Json(TriggerResponse {
        id: broadcast.id,
        seq: broadcast.seq,
        sent_at: broadcast.sent_at,
        target: plan.target,
        channel,
        mode: TriggerMode::Instance,
        receivers,
        channel_subscribers: None,
        instance: Some(name),
        hub: Some(profile.name.to_owned()),
    }))
}

/// The field of a model-mapping body that must be a non-empty string.
fn required<'a>(body: &'a Map<String, Value>, field: &str) -> Result<&'a str, SimError> {
    body.get(field)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| {
            SimError::BadRequest(format!(
                "'{field}' is required and must be a non-empty string"
            ))
        })
}

/// The seed guide's `POST /api/admin/model-mappings`: pretend to create the
/// mapping and notify as Conduit's consumer would.
async fn create_model_mapping(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), SimError> {
    let body: Value = serde_json::from_slice(&body)
        .map_err(|e| SimError::BadRequest(format!("body must be JSON: {e}")))?;
    let body = body
        .as_object()
        .ok_or_else(|| SimError::BadRequest("body must be a JSON object".into()))?;
    let alias = required(body, "virtualModelName")?;
    let provider_model = required(body, "providerModelName")?;
    let provider = required(body, "providerName")?;
    let hub = state.sim.hub_for(&NAVIGATION).ok_or_else(|| {
        SimError::BadRequest(
            "model mappings notify the navigation hub, which is not served (--hub navigation)"
                .into(),
        )
    })?;
    let mapping_id = hub.next_mapping_id();
    let event = json!({
        "type": "ModelMappingChanged",
        "data": {
            "mappingId": mapping_id,
            "modelAlias": alias,
            "changeType": "Created",
            "timestamp": iso8601_utc(unix_ms()),
        }
    });
    let navigation = HubMessage::invocation(NAVIGATION_EVENT, vec![event.clone()]);
    let navigation_receivers = hub.send_group(NAVIGATION_GROUP, &navigation).await?;
    let model_update = HubMessage::invocation("ModelUpdate", vec![event]);
    let model_receivers = hub
        .send_group(&format!("model-{alias}"), &model_update)
        .await?;
    let created = json!({
        "id": mapping_id,
        "virtualModelName": alias,
        "providerModelName": provider_model,
        "providerName": provider,
        "receivers": { "navigationUpdates": navigation_receivers, "modelGroup": model_receivers },
    });
    Ok((StatusCode::CREATED, Json(created)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::SimConfig;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    async fn router() -> Router {
        let sim = Sim::start(SimConfig::new("api-1", None)).await.unwrap();
        let (_stop_tx, stop) = watch::channel(false);
        let (done, _) = mpsc::channel(1);
        app(AppState::new(sim, stop, done))
    }

    async fn call(
        router: Router,
        request: Request<Body>,
    ) -> (StatusCode, Value, axum::http::HeaderMap) {
        let response = router.oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            headers,
        )
    }

    fn post(uri: &str, body: &str) -> Request<Body> {
        Request::post(uri)
            .body(Body::from(body.to_owned()))
            .unwrap()
    }

    /// Negotiate v1 gives distinct 22-character id and token and WebSockets only.
    #[tokio::test]
    async fn negotiate_v1() {
        let (status, body, _) = call(
            router().await,
            post("/hubs/navigation-state/negotiate?negotiateVersion=1", ""),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["negotiateVersion"], 1);
        let (id, token) = (
            body["connectionId"].as_str().unwrap(),
            body["connectionToken"].as_str().unwrap(),
        );
        assert_eq!((id.len(), token.len()), (22, 22));
        assert_ne!(id, token);
        assert_eq!(
            body["availableTransports"],
            json!([{"transport": "WebSockets", "transferFormats": ["Text", "Binary"]}])
        );
    }

    /// Negotiate v0 has no token.
    #[tokio::test]
    async fn negotiate_v0_has_no_token() {
        let (_, body, _) = call(router().await, post("/hubs/navigation-state/negotiate", "")).await;
        assert_eq!(body["negotiateVersion"], 0);
        assert!(body.get("connectionToken").is_none());
    }

    /// The dashboard's negotiate, sent as `@microsoft/signalr` sends it
    /// (credentials included, `X-Requested-With`, `X-SignalR-User-Agent` and,
    /// after a redirect, `Authorization`), passes the preflight the way
    /// ASP.NET's CORS with AllowCredentials answers it: the origin echoed,
    /// credentials allowed, those headers allowed; the POST itself carries
    /// the same origin and credentials headers, so the browser reads it.
    /// An origin not listed gets no CORS headers: the browser refuses it.
    #[tokio::test]
    async fn cors_on_negotiate() {
        let origin = "http://localhost:5001";
        let asked = "x-requested-with,x-signalr-user-agent,authorization";
        let preflight = |origin: &str| {
            Request::options("/hubs/navigation-state/negotiate?negotiateVersion=1")
                .header("origin", origin)
                .header("access-control-request-method", "POST")
                .header("access-control-request-headers", asked)
                .body(Body::empty())
                .unwrap()
        };
        let (status, _, h) = call(router().await, preflight(origin)).await;
        assert!(status.is_success(), "preflight answered {status}");
        assert_eq!(h["access-control-allow-origin"], origin);
        assert_eq!(h["access-control-allow-credentials"], "true");
        assert_eq!(h["access-control-allow-headers"], asked);
        assert_eq!(h["access-control-allow-methods"], "POST");

        let negotiate = Request::post("/hubs/navigation-state/negotiate?negotiateVersion=1")
            .header("origin", origin)
            .header("x-requested-with", "XMLHttpRequest")
            .header(
                "x-signalr-user-agent",
                "signalscope/0.1 (0.1.0; Unknown OS; Browser; Unknown Runtime Version)",
            )
            .header("cookie", "affinity=1")
            .body(Body::empty())
            .unwrap();
        let (status, body, h) = call(router().await, negotiate).await;
        assert_eq!(status, StatusCode::OK);
        assert!(body["connectionToken"].is_string());
        assert_eq!(h["access-control-allow-origin"], origin);
        assert_eq!(h["access-control-allow-credentials"], "true");

        let (_, _, h) = call(router().await, preflight("http://evil.example")).await;
        assert!(h.get("access-control-allow-origin").is_none());
    }

    /// The trigger answers a cross-origin preflight from a loopback page
    /// (the companion's dashboard) with credentials allowed.
    #[tokio::test]
    async fn cors_on_trigger() {
        let request = Request::options("/api/test/trigger-navigation-update")
            .header("origin", "http://127.0.0.1:8099")
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .body(Body::empty())
            .unwrap();
        let (status, _, h) = call(router().await, request).await;
        assert!(status.is_success());
        assert_eq!(h["access-control-allow-origin"], "http://127.0.0.1:8099");
        assert_eq!(h["access-control-allow-credentials"], "true");
        assert!(h["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("POST"));
    }

    /// The key is looked for where Conduit's handler looks, in its order:
    /// `access_token`, `api_key`, `Authorization: Bearer` (any case,
    /// trimmed), `X-API-Key`.
    #[test]
    fn presented_key_follows_conduits_order() {
        let query = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let mut headers = HeaderMap::new();
        headers.insert("x-api-key", HeaderValue::from_static("from-header"));
        assert_eq!(
            presented_key(&query(&[]), &headers).as_deref(),
            Some("from-header")
        );
        headers.insert(
            "authorization",
            HeaderValue::from_static("bearer  from-bearer "),
        );
        assert_eq!(
            presented_key(&query(&[]), &headers).as_deref(),
            Some("from-bearer")
        );
        let both = query(&[("api_key", "from-api-key"), ("access_token", "from-token")]);
        assert_eq!(
            presented_key(&both, &headers).as_deref(),
            Some("from-token")
        );
        headers.insert("authorization", HeaderValue::from_static("Basic abc"));
        headers.remove("x-api-key");
        assert_eq!(presented_key(&query(&[]), &headers), None);
    }

    /// Any loopback origin is allowed by default, other hosts only if listed.
    #[test]
    fn loopback_origins() {
        let o = CorsOrigins::default();
        assert!(origin_allowed(&o, "http://127.0.0.1:8099"));
        assert!(origin_allowed(&o, "http://localhost:3000"));
        assert!(origin_allowed(&o, "http://webui:8080"));
        assert!(!origin_allowed(&o, "http://localhost.evil:1"));
        assert!(!origin_allowed(
            &CorsOrigins {
                any_loopback: false,
                ..o
            },
            "http://127.0.0.1:8099"
        ));
    }

    /// The trigger answers with what it sent; seq counts from 1.
    #[tokio::test]
    async fn trigger_answers_what_it_sent() {
        let r = router().await;
        let (status, body, _) =
            call(r.clone(), post("/api/test/trigger-navigation-update", "")).await;
        assert_eq!(status, StatusCode::OK);
        let response: TriggerResponse = serde_json::from_value(body).unwrap();
        assert_eq!((response.seq, response.mode), (1, TriggerMode::Instance));
        assert_eq!(response.instance.as_deref(), Some("api-1"));
        assert_eq!(response.target, "NavigationStateUpdate");
        let (_, body, _) = call(r, post("/api/test/trigger-navigation-update", "{}")).await;
        assert_eq!(body["seq"], 2);
    }

    /// A bad trigger body is a 400 that says why.
    #[tokio::test]
    async fn trigger_bad_body_is_400() {
        let (status, body, _) = call(
            router().await,
            post("/api/test/trigger-navigation-update", "{"),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body["error"].as_str().unwrap().contains("invalid JSON"));
    }

    /// A model mapping without its alias is a 400 naming the field.
    #[tokio::test]
    async fn model_mapping_missing_field_is_400() {
        let (status, body, _) = call(
            router().await,
            post(
                "/api/admin/model-mappings",
                r#"{"providerModelName":"gpt-3.5-turbo","providerName":"openai"}"#,
            ),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body["error"].as_str().unwrap().contains("virtualModelName"));
    }

    /// The seed's cURL body creates a mapping (201).
    #[tokio::test]
    async fn model_mapping_created() {
        let (status, body, _) = call(
            router().await,
            post(
                "/api/admin/model-mappings",
                r#"{"virtualModelName":"test-model-1","providerModelName":"gpt-3.5-turbo","providerName":"openai"}"#,
            ),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(body["id"], 1);
    }

    /// /health/live has no checks; /health has redis and signalr.
    #[tokio::test]
    async fn health_shapes() {
        let get = |uri: &str| Request::get(uri).body(Body::empty()).unwrap();
        let (status, body, _) = call(router().await, get("/health/live")).await;
        assert_eq!(
            (status, body["status"].clone(), body["checks"].clone()),
            (StatusCode::OK, json!("Healthy"), json!([]))
        );
        let (_, body, _) = call(router().await, get("/health")).await;
        assert_eq!(body["checks"][0]["name"], "redis");
        assert_eq!(body["checks"][1]["name"], "signalr");
        assert!(body["totalDuration"].is_number());
    }

    /// A non-integer negotiateVersion is a 200 whose body is only ASP.NET's
    /// error (HttpConnectionDispatcher.ProcessNegotiate, int.TryParse failing).
    #[tokio::test]
    async fn negotiate_non_integer_version_is_200_with_error() {
        let (status, body, _) = call(
            router().await,
            post("/hubs/navigation-state/negotiate?negotiateVersion=x", ""),
        )
        .await;
        assert_eq!(
            (status, body),
            (
                StatusCode::OK,
                json!({"error": "The client requested a non-integer protocol version."})
            )
        );
    }

    /// A negative negotiateVersion is below MinimumProtocolVersion (0): 200
    /// and ASP.NET's error (HttpConnectionDispatcher.ProcessNegotiate).
    #[tokio::test]
    async fn negotiate_negative_version_is_200_with_error() {
        let (status, body, _) = call(
            router().await,
            post("/hubs/navigation-state/negotiate?negotiateVersion=-1", ""),
        )
        .await;
        assert_eq!(
            (status, body),
            (
                StatusCode::OK,
                json!({"error": "The client requested version '-1', but the server does not support this version."})
            )
        );
    }

    /// A WebSocket upgrade request for `token`.
    fn upgrade(token: &str) -> Request<Body> {
        Request::get(format!("/hubs/navigation-state?id={token}"))
            .header("connection", "upgrade")
            .header("upgrade", "websocket")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
            .body(Body::empty())
            .unwrap()
    }

    /// A negotiated connection nobody opened within 15 s is gone: its token
    /// is a 404 (HttpConnectionManager.Scan disposes inactive connections
    /// after DisconnectTimeout, 15 s by ConnectionOptionsSetup).
    #[tokio::test(start_paused = true)]
    async fn unused_negotiated_connection_expires_after_15_s() {
        let r = router().await;
        let negotiate = || post("/hubs/navigation-state/negotiate?negotiateVersion=1", "");
        let (_, body, _) = call(r.clone(), negotiate()).await;
        let fresh = body["connectionToken"].as_str().unwrap().to_owned();
        let (_, body, _) = call(r.clone(), negotiate()).await;
        let stale = body["connectionToken"].as_str().unwrap().to_owned();
        tokio::time::advance(Duration::from_secs(14)).await;
        let response = r.clone().oneshot(upgrade(&fresh)).await.unwrap();
        assert_ne!(response.status(), StatusCode::NOT_FOUND, "alive at 14 s");
        tokio::time::advance(Duration::from_secs(2)).await;
        let response = r.oneshot(upgrade(&stale)).await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }

    /// An unknown connection token is a 404, before any upgrade happens.
    #[tokio::test]
    async fn unknown_token_is_404() {
        let request = Request::get("/hubs/navigation-state?id=nope")
            .header("connection", "upgrade")
            .header("upgrade", "websocket")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
            .body(Body::empty())
            .unwrap();
        let response = router().await.oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }
}
