//! `GET /metrics`: what the companion knows, in the Prometheus (OpenMetrics)
//! text format, through the `prometheus-client` crate.
//!
//! Two kinds of figures live here. The canary's (propagation, sent,
//! missed, connection state, reconnects) are recorded as they happen.
//! Redis's and the instances' health are read at scrape time, as
//! Prometheus exporters do, so a scrape always shows the present.
//!
//! Every per-instance series carries the label `signalr_instance`, not
//! `instance`: Prometheus sets `instance` to the scraped target itself.

use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use protocol::api::Status;

/// The content type of [`Metrics::encode`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Publish → arrival buckets, seconds: fine from 0.5 to 50 ms (where a
/// healthy backplane lives and the 50 ms bar sits), coarse beyond.
const PROPAGATION_BUCKETS: [f64; 19] = [
    0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.075,
    0.1, 0.25, 0.5, 1.0, 5.0,
];

/// The label of every per-instance series.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct InstanceLabel {
    /// The instance's configured name (`api-1`).
    pub signalr_instance: String,
}

impl InstanceLabel {
    fn new(name: &str) -> Self {
        Self {
            signalr_instance: name.to_owned(),
        }
    }
}

/// A float gauge.
type FloatGauge = Gauge<f64, AtomicU64>;

/// Every series the companion exports, and the registry that names them.
pub struct Metrics {
    /// Names, help texts and types, for encoding.
    registry: Registry,
    /// Canary publish → arrival, per instance.
    propagation: Family<InstanceLabel, Histogram>,
    /// Canary broadcasts published.
    canary_sent: Counter,
    /// Canary publishes Redis refused or never answered.
    canary_publish_failed: Counter,
    /// Canaries an instance's clients did not get in time.
    canary_missed: Family<InstanceLabel, Counter>,
    /// The canary's own connection to the instance: 1 open, 0 not.
    instance_up: Family<InstanceLabel, Gauge>,
    /// The canary's reconnects to the instance.
    reconnects: Family<InstanceLabel, Counter>,
    /// The instance's `/health`: 1 Healthy, 0.5 Degraded, 0 otherwise.
    instance_health: Family<InstanceLabel, FloatGauge>,
    /// Redis answered PING at the last scrape.
    redis_up: Gauge,
    /// PING round trip at the last scrape.
    redis_ping: FloatGauge,
    /// `used_memory`.
    redis_memory: Gauge,
    /// Subscribers of the hub's all-channel (one per live instance).
    all_subscribers: Gauge,
    /// Servers with a live ack channel on the backplane.
    backplane_servers: Gauge,
    /// The largest output buffer of a subscribed client (what grows first
    /// when an instance cannot keep up).
    subscriber_buffer: Gauge,
    /// Feed lines relayed to pages.
    feed_relayed: Counter,
    /// Feed lines dropped (a page too slow to keep up).
    feed_dropped: Counter,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    /// Every series registered, none recorded yet; the instances' health
    /// and the canary's listeners' series (`instance`, or `instance/hub`
    /// with several hubs) exist from the start so a dashboard shows zeros,
    /// not gaps.
    pub fn new(instances: &[String], listeners: &[String]) -> Self {
        let mut registry = Registry::with_prefix("signalscope");
        let m = Self {
            registry: Registry::default(),
            propagation: Family::new_with_constructor(|| Histogram::new(PROPAGATION_BUCKETS)),
            canary_sent: Counter::default(),
            canary_publish_failed: Counter::default(),
            canary_missed: Family::default(),
            instance_up: Family::default(),
            reconnects: Family::default(),
            instance_health: Family::default(),
            redis_up: Gauge::default(),
            redis_ping: FloatGauge::default(),
            redis_memory: Gauge::default(),
            all_subscribers: Gauge::default(),
            backplane_servers: Gauge::default(),
            subscriber_buffer: Gauge::default(),
            feed_relayed: Counter::default(),
            feed_dropped: Counter::default(),
        };
        registry.register_with_unit(
            "propagation",
            "Canary broadcast publish to arrival at the canary's client on each instance",
            Unit::Seconds,
            m.propagation.clone(),
        );
        registry.register(
            "canary_sent",
            "Canary broadcasts published into the backplane",
            m.canary_sent.clone(),
        );
        registry.register(
            "canary_publish_failed",
            "Canary broadcasts Redis did not accept",
            m.canary_publish_failed.clone(),
        );
        registry.register(
            "canary_missed",
            "Canary broadcasts an instance's client did not receive in time",
            m.canary_missed.clone(),
        );
        registry.register(
            "instance_up",
            "The canary's SignalR connection to the instance is open (1) or not (0)",
            m.instance_up.clone(),
        );
        registry.register(
            "instance_reconnects",
            "Times the canary's connection to the instance was re-established",
            m.reconnects.clone(),
        );
        registry.register(
            "instance_health",
            "The instance's /health: 1 Healthy, 0.5 Degraded, 0 Unhealthy or unreachable",
            m.instance_health.clone(),
        );
        registry.register(
            "redis_up",
            "Redis answered PING at this scrape",
            m.redis_up.clone(),
        );
        registry.register_with_unit(
            "redis_ping",
            "PING round trip at this scrape",
            Unit::Seconds,
            m.redis_ping.clone(),
        );
        registry.register_with_unit(
            "redis_used_memory",
            "Redis used_memory",
            Unit::Bytes,
            m.redis_memory.clone(),
        );
        registry.register(
            "backplane_all_subscribers",
            "Subscribers of the hub's all-channel: one per live instance",
            m.all_subscribers.clone(),
        );
        registry.register(
            "backplane_servers",
            "Servers with a live ack channel on the backplane",
            m.backplane_servers.clone(),
        );
        registry.register_with_unit(
            "redis_subscriber_output_buffer_max",
            "The largest output buffer of a subscribed Redis client (CLIENT LIST omem)",
            Unit::Bytes,
            m.subscriber_buffer.clone(),
        );
        registry.register(
            "feed_lines_relayed",
            "Redis feed lines relayed to open pages",
            m.feed_relayed.clone(),
        );
        registry.register(
            "feed_lines_dropped",
            "Redis feed lines dropped for pages too slow to keep up",
            m.feed_dropped.clone(),
        );
        for name in listeners {
            let label = InstanceLabel::new(name);
            let _ = m.propagation.get_or_create(&label);
            let _ = m.canary_missed.get_or_create(&label);
            let _ = m.instance_up.get_or_create(&label);
            let _ = m.reconnects.get_or_create(&label);
        }
        for name in instances {
            let _ = m.instance_health.get_or_create(&InstanceLabel::new(name));
        }
        Self { registry, ..m }
    }

    /// A canary went out.
    pub fn canary_sent(&self) {
        self.canary_sent.inc();
    }

    /// A canary publish failed.
    pub fn canary_publish_failed(&self) {
        self.canary_publish_failed.inc();
    }

    /// `instance`'s client got a canary `seconds` after its publish.
    pub fn propagated(&self, instance: &str, seconds: f64) {
        self.propagation
            .get_or_create(&InstanceLabel::new(instance))
            .observe(seconds);
    }

    /// `instance`'s client missed a canary.
    pub fn missed(&self, instance: &str) {
        self.canary_missed
            .get_or_create(&InstanceLabel::new(instance))
            .inc();
    }

    /// The canary's connection to `instance` opened (`true`) or dropped.
    pub fn connection(&self, instance: &str, up: bool) {
        self.instance_up
            .get_or_create(&InstanceLabel::new(instance))
            .set(i64::from(up));
    }

    /// The canary's connection to `instance` came back after a drop.
    pub fn reconnected(&self, instance: &str) {
        self.reconnects
            .get_or_create(&InstanceLabel::new(instance))
            .inc();
    }

    /// Takes a scrape-time reading of Redis and the instances.
    pub fn observe_status(&self, status: &Status, subscriber_buffer: Option<u64>) {
        let redis = &status.redis;
        self.redis_up.set(i64::from(redis.reachable));
        self.redis_ping
            .set(redis.ping_ms.map_or(f64::NAN, |ms| ms / 1000.0));
        let gauge = |g: &Gauge, v: Option<u64>| g.set(v.map_or(0, |v| v as i64));
        gauge(&self.redis_memory, redis.used_memory_bytes);
        gauge(&self.all_subscribers, redis.all_subscribers);
        gauge(
            &self.backplane_servers,
            redis.reachable.then_some(redis.live_servers.len() as u64),
        );
        gauge(&self.subscriber_buffer, subscriber_buffer);
        for health in &status.instances {
            let value = match health.status.as_deref() {
                Some("Healthy") if health.http_status == Some(200) => 1.0,
                Some("Degraded") => 0.5,
                _ => 0.0,
            };
            self.instance_health
                .get_or_create(&InstanceLabel::new(&health.name))
                .set(value);
        }
    }

    /// Mirrors the feed relay's own running totals (they only grow).
    pub fn observe_feed(&self, relayed: u64, dropped: u64) {
        self.feed_relayed.inner().store(relayed, Ordering::Relaxed);
        self.feed_dropped.inner().store(dropped, Ordering::Relaxed);
    }

    /// Everything, in the OpenMetrics text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::api::{InstanceHealth, RedisStatus};

    fn line<'a>(text: &'a str, start: &str) -> &'a str {
        text.lines()
            .find(|l| l.starts_with(start))
            .unwrap_or_else(|| panic!("no line starting {start} in\n{text}"))
    }

    /// Instances' series exist (at zero) before anything happened.
    #[test]
    fn instances_start_at_zero() {
        let text = Metrics::new(&["api-1".into()], &["api-1".into()]).encode();
        line(
            &text,
            "signalscope_canary_missed_total{signalr_instance=\"api-1\"} 0",
        );
        line(
            &text,
            "signalscope_instance_up{signalr_instance=\"api-1\"} 0",
        );
        assert!(text.ends_with("# EOF\n"));
    }

    /// A 3 ms propagation lands in the 3 ms bucket and above, not below.
    #[test]
    fn propagation_buckets() {
        let m = Metrics::new(&["a".into()], &["a".into()]);
        m.propagated("a", 0.003);
        let text = m.encode();
        let bucket = |le: &str| {
            line(
                &text,
                &format!(
                    "signalscope_propagation_seconds_bucket{{le=\"{le}\",signalr_instance=\"a\"}}"
                ),
            )
            .rsplit(' ')
            .next()
            .unwrap()
            .to_owned()
        };
        assert_eq!(bucket("0.002"), "0");
        assert_eq!(bucket("0.003"), "1");
        assert_eq!(bucket("0.05"), "1");
    }

    /// Health maps Healthy/Degraded/other to 1/0.5/0; Redis down reads 0.
    #[test]
    fn status_readings() {
        let m = Metrics::new(&[], &[]);
        let health = |name: &str, status: Option<&str>| InstanceHealth {
            name: name.into(),
            url: String::new(),
            http_status: Some(200),
            status: status.map(str::to_owned),
            duration_ms: None,
            checks: serde_json::Value::Null,
            error: None,
        };
        m.observe_status(
            &Status {
                redis: RedisStatus::default(),
                instances: vec![
                    health("h", Some("Healthy")),
                    health("d", Some("Degraded")),
                    health("x", None),
                ],
            },
            None,
        );
        let text = m.encode();
        line(
            &text,
            "signalscope_instance_health{signalr_instance=\"h\"} 1.0",
        );
        line(
            &text,
            "signalscope_instance_health{signalr_instance=\"d\"} 0.5",
        );
        line(
            &text,
            "signalscope_instance_health{signalr_instance=\"x\"} 0.0",
        );
        line(&text, "signalscope_redis_up 0");
    }
}
