//! `/api/config`, `/api/status` and the dashboard files, over a real socket.

mod companion_support;
mod support;

use companion_support::{config, Companion, StandIn};
use protocol::api::{DashboardConfig, Instance, Status, TriggerMode};
use protocol::backplane::Channels;
use support::RedisServer;

/// The config names the instances, the hub path, Conduit's events and the offered modes.
#[tokio::test]
async fn config_describes_what_the_page_needs() {
    let redis = RedisServer::start();
    let instance = Instance {
        name: "api-1".into(),
        url: "http://127.0.0.1:9".into(),
        hubs: Vec::new(),
    };
    let companion = Companion::start(config(&redis.url(), vec![instance.clone()])).await;
    let c: DashboardConfig = companion.get_json("/api/config").await;
    assert_eq!(c.instances, vec![instance]);
    assert_eq!(c.hub_path, "/hubs/navigation-state");
    assert_eq!(c.events.broadcast, "NavigationStateUpdate");
    assert_eq!(
        c.trigger_modes,
        vec![TriggerMode::Redis, TriggerMode::Instance]
    );
    assert!(!c.token_required);
    assert_eq!(c.demo, None);
    companion.stop().await;
}

/// Status reads live servers and connections from PUBSUB and each instance's /health.
#[tokio::test]
async fn status_reports_redis_and_instances() {
    let redis = RedisServer::start();
    let channels = Channels::conduit();
    // What one live ASP.NET server with one connected client subscribes.
    let client = redis::Client::open(redis.url()).unwrap();
    let mut server = client.get_async_pubsub().await.unwrap();
    for ch in [
        channels.all(),
        channels.ack("host_0abc"),
        channels.connection("c0nn"),
    ] {
        server.subscribe(ch).await.unwrap();
    }
    let stand_in = StandIn::start("api-1", &redis.url(), None).await;
    let down = Instance {
        name: "api-2".into(),
        url: format!("http://127.0.0.1:{}", support::free_port()),
        hubs: Vec::new(),
    };
    let companion =
        Companion::start(config(&redis.url(), vec![stand_in.instance.clone(), down])).await;

    let s: Status = companion.get_json("/api/status").await;
    assert!(s.redis.reachable, "{:?}", s.redis.error);
    assert!(s.redis.ping_ms.is_some());
    assert!(s
        .redis
        .version
        .as_deref()
        .is_some_and(|v| v.starts_with('7')));
    assert!(s.redis.used_memory.is_some());
    assert!(s.redis.connected_clients.is_some_and(|n| n >= 2));
    assert_eq!(s.redis.all_subscribers, Some(1));
    assert_eq!(s.redis.live_servers, vec!["host_0abc".to_owned()]);
    assert_eq!(s.redis.connection_channels, Some(1));
    assert_eq!(s.redis.error, None);

    let up = &s.instances[0];
    assert_eq!(
        (up.http_status, up.status.as_deref()),
        (Some(200), Some("Healthy"))
    );
    assert!(up.duration_ms.is_some() && up.error.is_none());
    let gone = &s.instances[1];
    assert_eq!(gone.http_status, None);
    assert!(gone.error.is_some());
    companion.stop().await;
}

/// With Redis down, status still answers, saying why.
#[tokio::test]
async fn status_answers_when_redis_is_down() {
    let mut redis = RedisServer::start();
    let companion = Companion::start(config(&redis.url(), vec![])).await;
    redis.kill();
    let s: Status = companion.get_json("/api/status").await;
    assert!(!s.redis.reachable);
    assert!(s.redis.error.is_some());
    companion.stop().await;
}

/// Without a built dashboard every page names the exact build command.
#[tokio::test]
async fn unbuilt_dashboard_names_the_build_command() {
    let redis = RedisServer::start();
    let mut c = config(&redis.url(), vec![]);
    c.dist = std::env::temp_dir().join(format!("signalscope-no-dist-{}", support::free_port()));
    let companion = Companion::start(c).await;
    for path in ["/", "/some/page"] {
        let page = reqwest::get(companion.url(path))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(page.contains("trunk build index.html --release"), "{page}");
    }
    companion.stop().await;
}

/// A built dashboard is served, unknown paths get index.html, unknown API paths a JSON 404.
#[tokio::test]
async fn built_dashboard_is_served_with_spa_fallback() {
    let redis = RedisServer::start();
    let dist = std::env::temp_dir().join(format!("signalscope-dist-{}", support::free_port()));
    std::fs::create_dir_all(&dist).unwrap();
    std::fs::write(dist.join("index.html"), "<title>signalscope page</title>").unwrap();
    std::fs::write(dist.join("app.js"), "console.log(1)").unwrap();
    let mut c = config(&redis.url(), vec![]);
    c.dist = dist.clone();
    let companion = Companion::start(c).await;

    let js = reqwest::get(companion.url("/app.js")).await.unwrap();
    assert_eq!(js.status(), 200);
    assert_eq!(js.text().await.unwrap(), "console.log(1)");
    let deep = reqwest::get(companion.url("/instances/api-1"))
        .await
        .unwrap();
    assert_eq!(deep.status(), 200);
    assert!(deep.text().await.unwrap().contains("signalscope page"));
    let api = reqwest::get(companion.url("/api/nope")).await.unwrap();
    assert_eq!(api.status(), 404);
    assert!(api.text().await.unwrap().contains("\"error\""));
    companion.stop().await;
    let _ = std::fs::remove_dir_all(dist);
}

/// A real stand-in on the backplane shows as one live server subscribed to the all channel.
#[tokio::test]
async fn status_counts_a_real_stand_in() {
    let redis = RedisServer::start();
    let sim = companion_support::Sim::start("api-1", &redis.url()).await;
    let companion = Companion::start(config(&redis.url(), vec![sim.instance.clone()])).await;
    let url = companion.url("/api/status");
    let s = support::eventually(
        std::time::Duration::from_secs(10),
        "the stand-in is live",
        || async {
            let s: Status = reqwest::get(&url).await.ok()?.json().await.ok()?;
            (s.redis.all_subscribers == Some(1) && s.instances[0].http_status == Some(200))
                .then_some(s)
        },
    )
    .await;
    assert_eq!(s.redis.live_servers.len(), 1, "{:?}", s.redis.live_servers);
    assert_eq!(s.instances[0].status.as_deref(), Some("Healthy"));
    companion.stop().await;
}
