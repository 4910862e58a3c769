//! `load`, `check` and the canary on several hubs, one of them secure,
//! against real parts: a real redis-server, real stand-ins serving
//! `navigation` (anonymous) and `notifications` (a key), the real binary.

mod companion_support;
mod load_support;
mod sim_support;
mod support;

use std::time::Duration;

use load_support::{cli, load, DemoStack, SERIAL};
use protocol::api::{CanaryReport, HubKey, KeyPlacement};
use serde_json::Value;
use signalscope::redis_target::RedisTarget;
use signalscope::sim::profiles::{NAVIGATION, NOTIFICATIONS};
use signalscope::sim::SimConfig;
use sim_support::TestSim;
use support::{eventually, RedisServer};

/// The notifications hub's key on the stand-ins.
const KEY: &str = "k";

/// A Redis and two stand-ins on it serving both hubs, notifications
/// behind [`KEY`], and the flags that point `load`/`check` at them.
struct SecureStack {
    /// The backplane.
    redis: RedisServer,
    /// api-1 and api-2; kept so they serve until the test ends.
    sims: Vec<TestSim>,
    /// `--redis … --instance … --hub navigation --hub notifications`, no key.
    flags: Vec<String>,
}

impl SecureStack {
    async fn start() -> Self {
        let redis = RedisServer::start();
        let mut sims = Vec::new();
        let mut flags = vec!["--redis".to_owned(), redis.url()];
        for name in ["api-1", "api-2"] {
            let mut config = SimConfig::new(name, Some(RedisTarget::parse(&redis.url()).unwrap()));
            config.hubs = vec![&NAVIGATION, &NOTIFICATIONS];
            config.keys = vec![KEY.to_owned()];
            let sim = TestSim::start_with(config, 0).await;
            flags.extend(["--instance".to_owned(), format!("{name}={}", sim.url())]);
            sims.push(sim);
        }
        flags.extend(["--hub", "navigation", "--hub", "notifications"].map(str::to_owned));
        Self { redis, sims, flags }
    }

    /// The flags with `more` after them.
    fn with<'a>(&'a self, more: &[&'a str]) -> Vec<&'a str> {
        self.flags
            .iter()
            .map(String::as_str)
            .chain(more.iter().copied())
            .collect()
    }
}

/// A short, small run.
const SMALL: [&str; 6] = ["--connections", "40", "--duration", "2s", "--rate", "10"];

/// With the key, `load` spreads its connections over instance × hub,
/// broadcasts on both hubs' channels, and every connection of both hubs
/// gets every broadcast, accounted per hub and per instance × hub.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_delivers_on_every_hub_with_its_key() {
    let _serial = SERIAL.lock().await;
    let stack = SecureStack::start().await;
    let mut args = stack.with(&["--hub-key", "notifications=k"]);
    args.extend(SMALL);
    let (_, s) = load(&args).await;
    assert_eq!(s.connections.opened, 40, "{:?}", s.connections);
    let rows: Vec<_> = s
        .hubs
        .iter()
        .map(|h| (h.name.as_str(), h.connections))
        .collect();
    assert_eq!(rows, [("navigation", 20), ("notifications", 20)]);
    let names: Vec<_> = s.instances.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "api-1/navigation",
            "api-1/notifications",
            "api-2/navigation",
            "api-2/notifications"
        ]
    );
    let sent = s.broadcasts.sent;
    assert!(sent >= 10, "sent {sent}");
    for hub in &s.hubs {
        assert_eq!(hub.delivery.lost_while_connected, 0, "{hub:?}");
        assert_eq!(hub.delivery.silent_connections, 0, "{hub:?}");
        assert_eq!(hub.delivery.received, 20 * sent, "{hub:?}");
    }
    assert_eq!(s.delivery.received, 40 * sent);
}

/// Without the key, `load` stops before its run and names the hub and
/// the setting that gives its key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_without_the_key_says_so() {
    let _serial = SERIAL.lock().await;
    let stack = SecureStack::start().await;
    let mut args = vec!["load", "--quiet"];
    args.extend(stack.with(&SMALL));
    let out = cli(&args, Duration::from_secs(60)).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("api-1/notifications: negotiate: HTTP 401 a key is required by hub notifications (give its key with --hub-key notifications=<key>)"),
        "{stderr}"
    );
    assert!(!stderr.contains("navigation: negotiate"), "{stderr}");
}

/// A header key goes on the WebSocket upgrade too: with negotiate
/// skipped, the upgrade alone carries it, and a wrong key is refused there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_key_rides_the_upgrade() {
    let _serial = SERIAL.lock().await;
    let stack = SecureStack::start().await;
    let header = ["--hub-auth", "notifications=header:X-API-Key"];
    let mut args = stack.with(&["--skip-negotiation", "--hub-key", "notifications=k"]);
    args.extend(header);
    args.extend(SMALL);
    let (_, s) = load(&args).await;
    assert_eq!(s.connections.failed, 0, "{:?}", s.connections);
    assert_eq!(s.delivery.lost_while_connected, 0);
    assert_eq!(s.hubs[1].delivery.received, 20 * s.broadcasts.sent);

    let mut args = vec!["load", "--quiet", "--skip-negotiation"];
    args.extend(stack.with(&["--hub-key", "notifications=wrong"]));
    args.extend(header);
    args.extend(SMALL);
    let out = cli(&args, Duration::from_secs(60)).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("websocket: HTTP 401 key refused by hub notifications"),
        "{stderr}"
    );
}

/// Runs `check --json` small, with `flags`; returns whether it passed and
/// its criteria.
async fn check(flags: Vec<&str>) -> (bool, Value) {
    #[rustfmt::skip]
    let mut args = vec![
        "check", "--json", "--connections", "40", "--duration", "2s", "--chaos-connections", "60",
        "--chaos-duration", "6s", "--max-lag-ms", "1000", "--pass-within-ms", "500",
    ];
    args.extend(flags);
    let out = cli(&args, Duration::from_secs(180)).await;
    let json: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON ({e}): {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.success(), json)
}

/// The verdict of criterion `n`.
fn verdict(json: &Value, n: u64) -> Option<&str> {
    json.as_array()?
        .iter()
        .find(|c| c["number"] == n)
        .and_then(|c| c["verdict"].as_str())
}

/// `check` measures a deployment with a secure hub when given its key:
/// the criteria its runs judge pass on both hubs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_passes_a_secure_hub_with_its_key() {
    let _serial = SERIAL.lock().await;
    let stack = SecureStack::start().await;
    let (ok, json) = check(stack.with(&["--hub-key", "notifications=k"])).await;
    for n in [1, 2, 3, 4, 6] {
        assert_eq!(verdict(&json, n), Some("PASS"), "{n}: {json:#}");
    }
    assert!(ok, "{json:#}");
}

/// Against a demo serving both hubs, `check` with the key passes all
/// eight: the chaos run's added instance gets connections on both hubs,
/// and the removed instance's come back on both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_passes_all_eight_on_a_demo_with_a_secure_hub() {
    let _serial = SERIAL.lock().await;
    let hubs = ["--hub", "navigation", "--hub", "notifications"];
    let mut extra = hubs.to_vec();
    extra.extend(["--require-key", KEY]);
    let demo = DemoStack::start_with(&extra).await;
    let flags = demo.flags();
    let mut args: Vec<&str> = flags.iter().map(String::as_str).collect();
    args.extend(hubs);
    args.extend(["--hub-key", "notifications=k"]);
    let (ok, json) = check(args).await;
    for n in 1..=8 {
        assert_eq!(verdict(&json, n), Some("PASS"), "{n}: {json:#}");
    }
    assert!(ok, "{json:#}");
}

/// The canary holds a connection to every hub of every instance, the
/// secure one with its key, and each gets every round, named by hub in
/// its report and its metrics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canary_watches_every_hub_with_its_key() {
    let stack = SecureStack::start().await;
    let mut c = companion_support::config(
        &stack.redis.url(),
        stack
            .sims
            .iter()
            .enumerate()
            .map(|(i, s)| protocol::api::Instance::new(format!("api-{}", i + 1), s.url()))
            .collect(),
    );
    let mut notifications = protocol::hubs::conduit("notifications").unwrap();
    notifications.auth = KeyPlacement::Query("api_key".into());
    c.hubs = vec![protocol::hubs::navigation(), notifications];
    c.hub_keys = vec![HubKey {
        instance: None,
        hub: "notifications".into(),
        key: KEY.into(),
    }]
    .into();
    c.canary = Some(Duration::from_millis(200));
    let companion = companion_support::Companion::start(c).await;
    let report = eventually(
        companion_support::WAIT,
        "three rounds everywhere",
        || async {
            let r: CanaryReport = companion.get_json("/api/canary").await;
            let full = r
                .rounds
                .iter()
                .filter(|round| round.latencies_ms.iter().all(Option::is_some))
                .count();
            (full >= 3).then_some(r)
        },
    )
    .await;
    assert_eq!(
        report.instances,
        [
            "api-1/navigation",
            "api-1/notifications",
            "api-2/navigation",
            "api-2/notifications"
        ]
    );
    assert_eq!(report.connected, [true; 4]);
    assert_eq!(report.missed, [0; 4]);
    let metrics = reqwest::get(companion.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("signalscope_instance_up{signalr_instance=\"api-2/notifications\"} 1"),
        "{metrics}"
    );
    // No series for a bare instance: it would read as a canary that is down.
    assert!(
        !metrics.contains("signalscope_instance_up{signalr_instance=\"api-1\"}"),
        "{metrics}"
    );
    companion.stop().await;
}
