//! Who may reach the companion: loopback by default, a token otherwise.

mod companion_support;
mod support;

use std::time::Duration;

use clap::Parser;
use companion_support::{config, Companion, SseReader};
use signalscope::companion::{self, Args};
use support::RedisServer;

/// `signalscope serve`'s flags, as main.rs mounts them.
#[derive(Parser)]
struct Serve {
    /// The companion's own flags.
    #[command(flatten)]
    args: Args,
}

/// A non-loopback bind without a token is refused before anything listens.
#[tokio::test]
async fn non_loopback_bind_refused_without_token() {
    let port = support::free_port().to_string();
    let serve = Serve::try_parse_from(["serve", "--listen", &format!("0.0.0.0:{port}")]).unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(5), companion::run(serve.args))
        .await
        .expect("run returns at once");
    let error = outcome.expect_err("the bind is refused").to_string();
    assert!(
        error.contains("--token") && error.contains("--insecure"),
        "{error}"
    );
    assert!(std::net::TcpStream::connect(("127.0.0.1", port.parse::<u16>().unwrap())).is_err());
}

/// With a token set, every /api call needs it (header or query); the page itself does not.
#[tokio::test]
async fn token_guards_every_api_call() {
    const TOKEN: &str = "t0ken+/=";
    let redis = RedisServer::start();
    let mut c = config(&redis.url(), vec![]);
    c.token = Some(TOKEN.into());
    let companion = Companion::start(c).await;
    let http = reqwest::Client::new();

    for path in ["/api/config", "/api/status", "/api/feed"] {
        let r = http.get(companion.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 401, "{path} without a token");
        let r = http
            .get(companion.url(path))
            .bearer_auth("wrong")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{path} with a wrong token");
    }
    let r = http
        .post(companion.url("/api/test/trigger-navigation-update"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    let r = http
        .get(companion.url("/api/config"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let c: serde_json::Value = r.json().await.unwrap();
    assert_eq!(c["tokenRequired"], true);
    // EventSource cannot set headers: the token rides in the query, URL-encoded.
    let mut feed = SseReader::open(&companion.url("/api/feed?token=t0ken%2B%2F%3D")).await;
    feed.until(Duration::from_secs(10), "redis-up", |e| {
        e.name == "redis-up"
    })
    .await;
    drop(feed);

    let page = http.get(companion.url("/")).send().await.unwrap();
    assert_ne!(page.status(), 401);
    companion.stop().await;
}
