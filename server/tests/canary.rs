//! The always-on canary and `/metrics`, against real parts: real
//! redis-server, real stand-ins, the real companion on a port, and a real
//! Prometheus (Debian's) scraping it.

mod companion_support;
mod load_support;
mod support;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use companion_support::{config, Companion, Sim, WAIT};
use load_support::DemoStack;
use protocol::api::CanaryReport;
use signalscope::load::chaos::DemoControls;
use signalscope::load::plan::Act;
use support::{eventually, free_port, RedisServer};

/// A canary every 200 ms: quick enough for tests, far above the 100 ms floor.
const QUICK: Duration = Duration::from_millis(200);

/// Every instance's canary connection receives every round, timed.
#[tokio::test]
async fn every_instance_gets_the_canary() {
    let redis = RedisServer::start();
    let a = Sim::start("api-1", &redis.url()).await;
    let b = Sim::start("api-2", &redis.url()).await;
    let mut c = config(&redis.url(), vec![a.instance.clone(), b.instance.clone()]);
    c.canary = Some(QUICK);
    let companion = Companion::start(c).await;
    let report = eventually(WAIT, "three rounds everywhere", || async {
        let r: CanaryReport = companion.get_json("/api/canary").await;
        let full = r
            .rounds
            .iter()
            .filter(|round| round.latencies_ms.iter().all(Option::is_some))
            .count();
        (full >= 3).then_some(r)
    })
    .await;
    assert_eq!(report.instances, ["api-1", "api-2"]);
    assert_eq!(report.connected, [true, true]);
    assert_eq!(report.missed, [0, 0]);
    companion.stop().await;
}

/// The canary's publishes are named in the MONITOR feed, and its
/// broadcasts carry a canary origin, so the feed and the page can tell
/// them from a person's test broadcasts.
#[tokio::test]
async fn canary_traffic_is_labelled_in_the_feed() {
    let redis = RedisServer::start();
    let sim = Sim::start("api-1", &redis.url()).await;
    let mut c = config(&redis.url(), vec![sim.instance.clone()]);
    c.canary = Some(QUICK);
    let companion = Companion::start(c).await;
    let mut feed = companion.live_feed("?source=monitor").await;
    // Names come from CLIENT LIST, re-read at most once a second: the
    // first line of a new publisher may still be unnamed.
    let line = feed
        .until(WAIT, "a PUBLISH by signalscope-canary", |e| {
            e.name == "line"
                && e.data["command"] == "PUBLISH"
                && e.data["publisherName"] == "signalscope-canary"
        })
        .await;
    let origin = line.data["summary"]["payload"]["arguments"][0]["data"]["origin"]
        .as_str()
        .expect("a test broadcast's origin")
        .to_owned();
    assert!(
        protocol::broadcast::is_canary_origin(&origin),
        "origin {origin}"
    );
    companion.stop().await;
}

/// With a token, a scrape without it is refused and one with it is served
/// in the OpenMetrics format.
#[tokio::test]
async fn scrapes_need_the_token() {
    let redis = RedisServer::start();
    let mut c = config(&redis.url(), vec![]);
    c.token = Some("s3cret".into());
    let companion = Companion::start(c).await;
    let http = reqwest::Client::new();
    let bare = http.get(companion.url("/metrics")).send().await.unwrap();
    assert_eq!(bare.status(), 401);
    let ok = http
        .get(companion.url("/metrics"))
        .bearer_auth("s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert!(ok.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/openmetrics-text"));
    assert!(ok.text().await.unwrap().contains("signalscope_redis_up 1"));
    companion.stop().await;
}

/// Without `--canary` there is no canary to report, and the answer says
/// how to start one.
#[tokio::test]
async fn no_canary_unless_asked() {
    let redis = RedisServer::start();
    let companion = Companion::start(config(&redis.url(), vec![])).await;
    let answer = reqwest::get(companion.url("/api/canary")).await.unwrap();
    assert_eq!(answer.status(), 404);
    assert!(answer.text().await.unwrap().contains("--canary"));
    companion.stop().await;
}

/// `signalscope canary`, headless: its settings from a `--config` file,
/// `/metrics` on its own port with the canary's propagations, and no
/// dashboard.
#[tokio::test]
async fn headless_canary_serves_metrics_only() {
    let redis = RedisServer::start();
    let sim = Sim::start("api-1", &redis.url()).await;
    let config = load_support::temp_path("canary.toml");
    std::fs::write(
        &config,
        format!(
            "redis = \"{}\"\ninstances = [\"api-1={}\"]\n",
            redis.url(),
            sim.instance.url
        ),
    )
    .unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let _canary = tokio::process::Command::new(load_support::exe())
        .args(["canary", "--interval", "200ms", "--listen", &listen])
        .arg("--config")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("signalscope canary starts");
    let metrics = eventually(WAIT, "a propagation on /metrics", || async {
        let text = reqwest::get(format!("http://{listen}/metrics"))
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        let line = "signalscope_propagation_seconds_count{signalr_instance=\"api-1\"} ";
        let count: u64 = text
            .lines()
            .find_map(|l| l.strip_prefix(line))?
            .parse()
            .ok()?;
        (count > 0).then_some(text)
    })
    .await;
    assert!(metrics.contains("signalscope_instance_up{signalr_instance=\"api-1\"} 1"));
    let page = reqwest::get(format!("http://{listen}/")).await.unwrap();
    assert_eq!(page.status(), 404, "no dashboard here");
    let _ = std::fs::remove_file(config);
}

/// Debian's Prometheus scraping a demo with a canary: the propagation
/// histogram fills; after an instance is stopped its `instance_up` goes to
/// 0 and its misses climb, while the others miss nothing.
#[tokio::test]
async fn prometheus_sees_propagation_and_an_instance_going_down() {
    let demo = DemoStack::start_with(&["--canary", "500ms"]).await;
    let prometheus = Prometheus::start(demo.url.trim_start_matches("http://"));
    eventually(
        Duration::from_secs(60),
        "propagations in Prometheus",
        || async {
            let n = prometheus
                .query("sum(signalscope_propagation_seconds_count)")
                .await?;
            (n >= 6.0).then_some(())
        },
    )
    .await;
    let p99 = prometheus
        .query("histogram_quantile(0.99, sum by (le) (signalscope_propagation_seconds_bucket))")
        .await
        .expect("a p99");
    assert!(p99 > 0.0 && p99 < 5.0, "p99 {p99}");

    DemoControls::new(&demo.url)
        .perform(&Act::Kill("api-2".into()))
        .await
        .expect("the demo stops api-2");
    eventually(Duration::from_secs(60), "api-2 down", || async {
        let up = prometheus
            .query("signalscope_instance_up{signalr_instance=\"api-2\"}")
            .await?;
        (up == 0.0).then_some(())
    })
    .await;
    let missed = |name: &'static str| {
        let prometheus = &prometheus;
        async move {
            prometheus
                .query(&format!(
                    "signalscope_canary_missed_total{{signalr_instance=\"{name}\"}}"
                ))
                .await
        }
    };
    let first = eventually(Duration::from_secs(60), "api-2 missing", || async {
        missed("api-2").await.filter(|m| *m >= 1.0)
    })
    .await;
    eventually(
        Duration::from_secs(60),
        "api-2's misses climbing",
        || async { missed("api-2").await.filter(|m| *m > first) },
    )
    .await;
    assert_eq!(missed("api-1").await, Some(0.0));
    assert_eq!(missed("api-3").await, Some(0.0));
}

/// A Prometheus server on a free port scraping one target every second,
/// with its own data directory; killed on drop.
struct Prometheus {
    /// The server.
    child: Child,
    /// Its HTTP API.
    url: String,
    /// Config and data, removed on drop.
    dir: PathBuf,
}

impl Prometheus {
    /// Starts scraping `target` (`host:port`) at `/metrics`.
    fn start(target: &str) -> Self {
        let dir = load_support::temp_path("prometheus");
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: signalscope\n    static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .unwrap();
        let port = free_port();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus runs (Debian package `prometheus`; scripts/setup.sh installs it)");
        Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            dir,
        }
    }

    /// The value of an instant query that yields one sample; `None` until
    /// Prometheus is up and has one.
    async fn query(&self, expr: &str) -> Option<f64> {
        let answer: serde_json::Value = reqwest::Client::new()
            .get(format!("{}/api/v1/query", self.url))
            .query(&[("query", expr)])
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        let result = answer["data"]["result"].as_array()?;
        match result.as_slice() {
            [one] => one["value"][1].as_str()?.parse().ok(),
            _ => None,
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
