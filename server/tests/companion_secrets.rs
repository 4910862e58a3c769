//! The password of a password-protected Redis appears in no response, no
//! feed event and no log line, whether it is right or wrong. Its own test
//! binary, because it captures the process-wide log.

mod companion_support;
mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use companion_support::{config, trigger, Companion, SseReader};
use serde_json::json;
use support::RedisServer;

const PASSWORD: &str = "pw-9d8e7f6a5b";
const WRONG: &str = "wrong-pw-3c2b1a";

/// A log sink the test can read back.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Everything a page could see from a companion on `url`: config, status,
/// a trigger's answer and the first feed events.
async fn everything_shown(url: &str) -> String {
    let companion = Companion::start(config(url, vec![])).await;
    let mut shown = String::new();
    for path in ["/api/config", "/api/status"] {
        shown += &reqwest::get(companion.url(path))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
    }
    shown += &trigger(&companion, json!({})).await.text().await.unwrap();
    let mut feed = SseReader::open(&companion.url("/api/feed")).await;
    let first = feed
        .until(Duration::from_secs(15), "a state event", |e| {
            e.name != "line"
        })
        .await;
    shown += &first.data.to_string();
    drop(feed);
    companion.stop().await;
    shown
}

/// Neither the right nor a wrong password shows in responses, events or logs.
#[tokio::test]
async fn redis_password_never_appears() {
    let log = Captured::default();
    let sink = log.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || sink.clone())
        .init();
    let redis = RedisServer::start_with(&["--requirepass", PASSWORD]);

    let right = everything_shown(&format!("redis://:{PASSWORD}@127.0.0.1:{}", redis.port)).await;
    assert!(right.contains("\"reachable\":true"), "{right}");
    assert!(
        right.contains("redis-up")
            || right.contains("redisUp")
            || right.contains("\"type\":\"redis-up\""),
        "{right}"
    );
    let wrong = everything_shown(&format!("redis://:{WRONG}@127.0.0.1:{}", redis.port)).await;
    assert!(wrong.contains("\"reachable\":false"), "{wrong}");

    let log = String::from_utf8_lossy(&log.0.lock().unwrap()).into_owned();
    assert!(!log.is_empty(), "the companion logged something");
    for secret in [PASSWORD, WRONG] {
        assert!(
            !right.contains(secret) && !wrong.contains(secret),
            "{secret} leaked into a response"
        );
        assert!(!log.contains(secret), "{secret} leaked into the log");
    }
}
