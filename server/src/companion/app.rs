//! The companion's router and the state its handlers share. `app(state)`
//! needs no socket, so handler tests can drive it directly.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::middleware::Next;
use axum::response::sse::{KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use protocol::api::{
    routes, CanaryReport, DashboardConfig, FeedSource, Status, Thresholds, TriggerMode,
    TriggerRequest, TriggerResponse,
};
use protocol::connection::Liveness;
use serde::Deserialize;
use tokio::sync::watch;

use super::feed::{Feed, Filter};
use super::trigger::Trigger;
use super::{assets, status, trigger, AppError, BoxError, CompanionConfig, FeedStats};
use crate::canary::{Canary, CanarySettings};
use crate::load::probe::subscriber_buffers;
use crate::metrics::{self, Metrics};
use crate::redis_link::RedisLink;

/// The companion's Redis command connection's name: who sent a test
/// broadcast, as the feed shows it.
pub(crate) const COMPANION_CLIENT_NAME: &str = "signalscope-companion";

/// What every handler shares; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Shared by every clone.
    inner: Arc<Shared>,
}

struct Shared {
    /// The settings.
    config: CompanionConfig,
    /// The command connection to Redis.
    link: RedisLink,
    /// Sequence numbers and the HTTP client.
    trigger: Trigger,
    /// The feed relays.
    feed: Arc<Feed>,
    /// Turns true on shutdown, so open feeds end and the server can drain.
    stopping: watch::Sender<bool>,
    /// What `/metrics` exports.
    metrics: Arc<Metrics>,
    /// The always-on canary, when `--canary` asked for one.
    canary: Option<Canary>,
}

impl AppState {
    /// State for `config`; connects to nothing yet.
    pub fn new(config: CompanionConfig) -> Result<Self, BoxError> {
        // rediss:// and https:// need a process-wide crypto provider; a second install
        // (another server in the same process) is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let link = RedisLink::new(&config.redis, COMPANION_CLIENT_NAME)?;
        let feed = Arc::new(Feed::new(
            link.clone(),
            config.prefixes(),
            config.feed.clone(),
        ));
        let names: Vec<String> = config.instances.iter().map(|i| i.name.clone()).collect();
        let canary = config.canary.map(|interval| CanarySettings {
            interval,
            instances: config.instances.clone(),
            hubs: config.hubs.clone(),
            keys: config.hub_keys.clone(),
            prefix: config.prefix.clone(),
            redis: config.redis.clone(),
        });
        let listeners = canary.as_ref().map(CanarySettings::labels);
        let metrics = Arc::new(Metrics::new(&names, &listeners.unwrap_or_default()));
        let canary = canary
            .map(|settings| Canary::start(settings, metrics.clone()))
            .transpose()?;
        Ok(Self {
            inner: Arc::new(Shared {
                link,
                trigger: Trigger::new(config.ca_cert.as_deref())?,
                feed,
                stopping: watch::Sender::new(false),
                metrics,
                canary,
                config,
            }),
        })
    }

    /// The switch that ends every open feed; [`super::serve`] flips it on
    /// shutdown.
    pub fn stopping(&self) -> watch::Sender<bool> {
        self.inner.stopping.clone()
    }

    /// Lines the feed relayed from Redis and lines pages dropped because
    /// they fell behind, since this state was made; both only grow, so
    /// they suit Prometheus counters.
    pub fn feed_stats(&self) -> FeedStats {
        self.inner.feed.stats()
    }

    pub(crate) fn config(&self) -> &CompanionConfig {
        &self.inner.config
    }

    pub(crate) fn link(&self) -> &RedisLink {
        &self.inner.link
    }

    pub(crate) fn trigger(&self) -> &Trigger {
        &self.inner.trigger
    }
}

/// Every route: the API, any extra routes (the demo's), and the dashboard.
pub fn app(state: AppState) -> Router {
    let router = Router::new()
        .route(routes::CONFIG, get(config))
        .route(routes::TRIGGER, post(trigger_broadcast))
        .route(routes::FEED, get(feed))
        .merge(monitoring_routes())
        .with_state(state.clone());
    let router = match state.config().extra_routes.clone() {
        Some(extra) => router.merge(extra),
        None => router,
    };
    router
        .fallback_service(assets::dashboard(state.config().dist.clone()))
        .layer(axum::middleware::from_fn_with_state(state, require_token))
}

/// What monitoring reads: `/metrics`, `/api/status`, `/api/canary`.
fn monitoring_routes() -> Router<AppState> {
    Router::new()
        .route(routes::METRICS, get(metrics))
        .route(routes::STATUS, get(status))
        .route(routes::CANARY, get(canary))
}

/// Only the monitoring routes, behind the same token: `signalscope
/// canary`, which serves no page.
pub fn monitoring(state: AppState) -> Router {
    monitoring_routes()
        .with_state(state.clone())
        .layer(axum::middleware::from_fn_with_state(state, require_token))
}

/// With a token configured, every `/api` call and every scrape must carry it.
async fn require_token(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(token) = state.config().token.as_deref() else {
        return next.run(request).await;
    };
    let path = request.uri().path();
    if !(path.starts_with("/api") || path == routes::METRICS) {
        return next.run(request).await;
    }
    let bearer = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let query = request.uri().query().and_then(|q| {
        q.split('&')
            .find_map(|kv| kv.strip_prefix("token="))
            .map(percent_decode)
    });
    let given = bearer.map(str::to_owned).or(query);
    if given.is_some_and(|g| same(g.as_bytes(), token.as_bytes())) {
        next.run(request).await
    } else {
        AppError::Unauthorized.into_response()
    }
}

/// Compares without stopping at the first difference.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `%XX` and `+` as a query string encodes them.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn config(State(state): State<AppState>) -> Json<DashboardConfig> {
    let c = state.config();
    let mut trigger_modes = vec![TriggerMode::Redis];
    if !c.instances.is_empty() {
        trigger_modes.push(TriggerMode::Instance);
    }
    if c.trigger.is_some() {
        trigger_modes.push(TriggerMode::Configured);
    }
    let liveness = Liveness::CLIENT_FOR_CONDUIT;
    Json(DashboardConfig {
        instances: c.instances.clone(),
        hub_path: c.primary().path.clone(),
        events: c.primary().events.clone(),
        hubs: c.hubs.clone(),
        // `--expose-hub-keys` is refused without a token; the check here
        // keeps an in-process config from leaking them all the same.
        hub_keys: match c.expose_hub_keys && c.token.is_some() {
            true => c.hub_keys.all().to_vec(),
            false => Vec::new(),
        },
        thresholds: Thresholds {
            pass_within_ms: c.pass_within_ms,
            server_timeout_ms: liveness.timeout_ms,
            keep_alive_ms: liveness.keep_alive_ms,
        },
        trigger_modes,
        token_required: c.token.is_some(),
        demo: c.demo.clone(),
        canary_interval_ms: state
            .inner
            .canary
            .as_ref()
            .map(|c| c.interval().as_millis() as u64),
    })
}

/// The body is optional: none (or an empty one) means every default.
async fn trigger_broadcast(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<TriggerResponse>, AppError> {
    let request = if body.iter().all(u8::is_ascii_whitespace) {
        TriggerRequest::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| AppError::BadRequest(format!("bad trigger body: {e}")))?
    };
    Ok(Json(trigger::send(&state, request).await?))
}

/// `GET /api/feed` query.
#[derive(Debug, Deserialize)]
struct FeedQuery {
    /// `monitor` (default) or `pubsub`.
    source: Option<FeedSource>,
    /// Substring or glob; absent means the source's default.
    filter: Option<String>,
}

async fn feed(State(state): State<AppState>, Query(q): Query<FeedQuery>) -> impl IntoResponse {
    let source = q.source.unwrap_or(FeedSource::Monitor);
    let feed = &state.inner.feed;
    let filter = q
        .filter
        .as_deref()
        .map_or_else(|| feed.default_filter(source), Filter::parse);
    let events = feed.page(source, filter, state.inner.stopping.subscribe());
    Sse::new(events).keep_alive(KeepAlive::new().interval(state.config().feed.keep_alive))
}

async fn status(State(state): State<AppState>) -> Json<Status> {
    Json(status::status(&state).await)
}

/// Reads Redis and the instances now, then answers with every series.
async fn metrics(State(state): State<AppState>) -> Response {
    let (status, buffers) = tokio::join!(status::status(&state), subscriber_buffers(state.link()));
    let m = &state.inner.metrics;
    m.observe_status(&status, buffers.map(|b| b.max_omem));
    let FeedStats { relayed, dropped } = state.feed_stats();
    m.observe_feed(relayed, dropped);
    ([(CONTENT_TYPE, metrics::CONTENT_TYPE)], m.encode()).into_response()
}

async fn canary(State(state): State<AppState>) -> Result<Json<CanaryReport>, AppError> {
    match &state.inner.canary {
        Some(c) => Ok(Json(c.report())),
        None => Err(AppError::NotFound(
            "no canary runs here (start the companion with --canary 10s)".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redis_target::RedisTarget;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    /// The router answers without a socket or a Redis: a token-guarded
    /// config is refused without the token and served with it.
    #[tokio::test]
    async fn config_behind_a_token() {
        let mut config = CompanionConfig::new(RedisTarget::local(1), Vec::new());
        config.token = Some("t".into());
        let router = app(AppState::new(config).unwrap());
        let bare = Request::get("/api/config").body(Body::empty()).unwrap();
        assert_eq!(
            router.clone().oneshot(bare).await.unwrap().status(),
            StatusCode::UNAUTHORIZED
        );
        let with = Request::get("/api/config?x=1&token=t")
            .body(Body::empty())
            .unwrap();
        assert_eq!(router.oneshot(with).await.unwrap().status(), StatusCode::OK);
    }

    /// Query-string tokens are decoded as browsers encode them.
    #[test]
    fn query_tokens_decode() {
        assert_eq!(percent_decode("a%2Bb+c%zz"), "a+b c%zz");
    }

    /// Equal only when every byte and the length match.
    #[test]
    fn token_comparison() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"abcd"));
    }
}
