//! TLS for real: the companion and the sim on a redis-server that speaks
//! only TLS (`rediss://…/#insecure`, its certificate from a throwaway
//! authority), and the companion reading and POSTing to an https instance
//! whose authority it is told to trust with `ca_cert` (`--ca-cert`).

mod companion_support;
mod sim_support;
mod support;

use std::time::Duration;

use companion_support::{config, is_broadcast, trigger, Companion, SseReader, StandIn};
use protocol::api::{InstanceHealth, Status, TriggerMode, TriggerResponse};
use protocol::backplane::{Channels, NAVIGATION_GROUP};
use serde_json::json;
use support::{RedisServer, TestCerts};

const WAIT: Duration = Duration::from_secs(10);

/// The companion's `/api/status`.
async fn status(companion: &Companion) -> Status {
    companion.get_json("/api/status").await
}

/// The one instance's health in `/api/status`.
async fn instance_health(companion: &Companion) -> InstanceHealth {
    let mut s = status(companion).await;
    assert_eq!(s.instances.len(), 1);
    s.instances.remove(0)
}

/// `/api/status` reaches a TLS-only Redis over `rediss://…/#insecure`.
#[tokio::test]
async fn status_reaches_redis_over_rediss() {
    let redis = RedisServer::start_tls();
    assert!(redis.url().starts_with("rediss://"));
    let companion = Companion::start(config(&redis.url(), vec![])).await;
    let s = status(&companion).await;
    assert!(s.redis.reachable, "{:?}", s.redis.error);
    assert_eq!(s.redis.error, None);
    assert!(s
        .redis
        .version
        .as_deref()
        .is_some_and(|v| v.starts_with('7')));
    companion.stop().await;
}

/// Without `#insecure` the throwaway authority is not trusted, so the
/// check above is a real certificate check, not a plain connection.
#[tokio::test]
async fn rediss_without_insecure_refuses_an_untrusted_certificate() {
    let redis = RedisServer::start_tls();
    let strict = redis.url().replace("/#insecure", "");
    let companion = Companion::start(config(&strict, vec![])).await;
    let s = status(&companion).await;
    assert!(!s.redis.reachable);
    let error = s.redis.error.expect("an error");
    assert!(error.contains("certificate"), "{error}");
    companion.stop().await;
}

/// A redis-mode trigger shows in the MONITOR feed, both over TLS.
#[tokio::test]
async fn redis_mode_trigger_shows_in_monitor_feed_over_rediss() {
    let redis = RedisServer::start_tls();
    let companion = Companion::start(config(&redis.url(), vec![])).await;
    let mut feed = SseReader::open(&companion.url("/api/feed")).await;
    feed.until(WAIT, "redis-up", |e| e.name == "redis-up").await;

    let answer = trigger(&companion, json!({})).await;
    assert_eq!(answer.status(), 200);
    let answer: TriggerResponse = answer.json().await.unwrap();
    assert_eq!(answer.mode, TriggerMode::Redis);
    let channel = Channels::conduit().group(NAVIGATION_GROUP);
    let line = feed
        .until(WAIT, "the PUBLISH over TLS", |e| {
            is_broadcast(e, &channel, answer.seq)
        })
        .await;
    assert_eq!(line.data["command"], "PUBLISH");
    companion.stop().await;
}

/// A sim on `rediss://` subscribes and publishes over TLS: its own
/// trigger's broadcast comes back through Redis to its client.
#[tokio::test]
async fn sim_over_rediss_delivers_a_broadcast() {
    let redis = RedisServer::start_tls();
    let sim = sim_support::TestSim::start("api-1", Some(&redis.url())).await;
    let mut client = sim_support::Client::connect(&sim.url()).await;
    let (status, answer) = sim_support::post_json(
        &format!("{}/api/test/trigger-navigation-update", sim.url()),
        "",
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["receivers"], 1, "{answer}");
    let (target, arguments) = client.next_invocation().await;
    assert_eq!(target, "NavigationStateUpdate");
    assert_eq!(arguments[0]["data"]["seq"], answer["seq"]);
    sim.stop().await;
}

/// An https instance's `/health` is read when `ca_cert` names its authority.
#[tokio::test]
async fn https_instance_health_is_read_with_ca_cert() {
    let redis = RedisServer::start();
    let certs = TestCerts::generate();
    let instance = StandIn::start_tls("api-1", &redis.url(), &certs.cert, &certs.key).await;
    assert!(instance.instance.url.starts_with("https://"));
    let mut c = config(&redis.url(), vec![instance.instance.clone()]);
    c.ca_cert = Some(certs.ca.clone());
    let companion = Companion::start(c).await;
    let health = instance_health(&companion).await;
    assert_eq!(health.error, None);
    assert_eq!(health.http_status, Some(200));
    assert_eq!(health.status.as_deref(), Some("Healthy"));
    companion.stop().await;
}

/// Without `ca_cert` the same https instance is refused: the client really
/// checks certificates against its roots.
#[tokio::test]
async fn https_instance_with_unknown_authority_is_an_error() {
    let redis = RedisServer::start();
    let certs = TestCerts::generate();
    let instance = StandIn::start_tls("api-1", &redis.url(), &certs.cert, &certs.key).await;
    let companion = Companion::start(config(&redis.url(), vec![instance.instance.clone()])).await;
    let health = instance_health(&companion).await;
    assert_eq!(health.http_status, None);
    let error = health.error.expect("an error");
    assert!(error.contains("certificate"), "{error}");
    companion.stop().await;
}

/// Instance mode POSTs to an https instance's trigger and relays its answer.
#[tokio::test]
async fn instance_mode_trigger_posts_over_https() {
    let redis = RedisServer::start();
    let certs = TestCerts::generate();
    let instance = StandIn::start_tls("api-1", &redis.url(), &certs.cert, &certs.key).await;
    let mut c = config(&redis.url(), vec![instance.instance.clone()]);
    c.ca_cert = Some(certs.ca.clone());
    let companion = Companion::start(c).await;
    let answer = trigger(&companion, json!({"mode": "instance", "instance": "api-1"})).await;
    assert_eq!(answer.status(), 200);
    let answer: TriggerResponse = answer.json().await.unwrap();
    assert_eq!(answer.mode, TriggerMode::Instance);
    assert_eq!(answer.instance.as_deref(), Some("api-1"));
    companion.stop().await;
}
