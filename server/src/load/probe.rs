//! Redis watched once a second during a run: memory, clients, the output
//! buffers of subscriber connections (what grows first when instances
//! cannot keep up), and how many instances listen on the hub's
//! all-channel. The control streams' own keys are subtracted from memory.

use std::time::{Duration, Instant};

use super::summary::{RedisSample, RedisSummary};
use crate::redis_link::RedisLink;

/// One reading, or `up: false` when Redis did not answer.
pub async fn sample(
    link: &RedisLink,
    all_channel: &str,
    control_keys: &[String],
    t_s: f64,
) -> RedisSample {
    let mut s = RedisSample {
        t_s,
        ..RedisSample::default()
    };
    let Ok(info) = link.query::<String>(&redis::cmd("INFO")).await else {
        return s;
    };
    s.up = true;
    let field = |name: &str| info_field(&info, name).unwrap_or(0);
    s.connected_clients = field("connected_clients");
    let mut control = 0u64;
    for key in control_keys {
        let usage: Option<u64> = link
            .query(redis::cmd("MEMORY").arg("USAGE").arg(key))
            .await
            .unwrap_or(None);
        control += usage.unwrap_or(0);
    }
    s.used_memory = field("used_memory").saturating_sub(control);
    if let Some(buffers) = subscriber_buffers(link).await {
        s.pubsub_clients = buffers.clients;
        s.max_subscriber_omem = buffers.max_omem;
    }
    if let Ok((_, n)) = link
        .query::<(String, u64)>(redis::cmd("PUBSUB").arg("NUMSUB").arg(all_channel))
        .await
    {
        s.all_channel_subscribers = n;
    }
    s
}

/// Subscribed clients and their output buffers, from `CLIENT LIST`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SubscriberBuffers {
    /// Clients with a subscription (sub/psub/ssub > 0).
    pub clients: u64,
    /// The largest output buffer among them (`omem`), bytes.
    pub max_omem: u64,
}

/// Reads [`SubscriberBuffers`]; `None` when Redis did not answer.
pub async fn subscriber_buffers(link: &RedisLink) -> Option<SubscriberBuffers> {
    let list = link
        .query::<String>(redis::cmd("CLIENT").arg("LIST"))
        .await
        .ok()?;
    let mut b = SubscriberBuffers::default();
    for client in list.lines() {
        let get = |k: &str| client_field(client, k).unwrap_or(0);
        if get("sub") + get("psub") + get("ssub") > 0 {
            b.clients += 1;
            b.max_omem = b.max_omem.max(get("omem"));
        }
    }
    Some(b)
}

/// `client-output-buffer-limit` for the pubsub class, as configured.
pub async fn pubsub_limit(link: &RedisLink) -> String {
    let answer: Result<Vec<String>, _> = link
        .query(
            redis::cmd("CONFIG")
                .arg("GET")
                .arg("client-output-buffer-limit"),
        )
        .await;
    match answer {
        Ok(v) => v
            .get(1)
            .and_then(|all| {
                let words: Vec<&str> = all.split_whitespace().collect();
                let i = words.iter().position(|w| *w == "pubsub")?;
                Some(words.get(i + 1..i + 4)?.join(" "))
            })
            .unwrap_or_else(|| "unknown".into()),
        Err(e) => format!("unknown ({e})"),
    }
}

/// A numeric `name:value` line of INFO.
fn info_field(info: &str, name: &str) -> Option<u64> {
    info.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .and_then(|v| v.trim().parse().ok())
}

/// A numeric `key=value` of one CLIENT LIST line.
fn client_field(line: &str, key: &str) -> Option<u64> {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
        .and_then(|v| v.parse().ok())
}

/// Samples every second until `stop`; returns every sample.
pub async fn watch(
    link: RedisLink,
    all_channel: String,
    control_keys: Vec<String>,
    started: Instant,
    mut stop: tokio::sync::watch::Receiver<bool>,
    samples: tokio::sync::watch::Sender<Vec<RedisSample>>,
) {
    let mut every = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let t = started.elapsed().as_secs_f64();
        let s = tokio::time::timeout(
            Duration::from_secs(2),
            sample(&link, &all_channel, &control_keys, t),
        )
        .await
        .unwrap_or(RedisSample {
            t_s: t,
            ..RedisSample::default()
        });
        samples.send_modify(|v| v.push(s));
    }
}

/// The run's Redis figures from its samples. Drift is measured over the
/// hold (`hold_s`, seconds since the start): opening connections adds
/// their channels to Redis by design, and that is not drift.
pub fn summarise(samples: Vec<RedisSample>, limit: String, hold_s: (f64, f64)) -> RedisSummary {
    let up: Vec<&RedisSample> = samples
        .iter()
        .filter(|s| s.up && s.t_s >= hold_s.0 && s.t_s <= hold_s.1)
        .collect();
    let (start, end) = match (up.first(), up.last()) {
        (Some(a), Some(b)) => (a.used_memory, b.used_memory),
        _ => (0, 0),
    };
    let drift = end as i64 - start as i64;
    RedisSummary {
        memory_start: start,
        memory_end: end,
        drift_bytes: drift,
        drift_pct: if start > 0 {
            drift as f64 * 100.0 / start as f64
        } else {
            0.0
        },
        max_subscriber_omem: samples
            .iter()
            .map(|s| s.max_subscriber_omem)
            .max()
            .unwrap_or(0),
        pubsub_buffer_limit: limit,
        unreachable_samples: samples.iter().filter(|s| !s.up).count() as u64,
        samples,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// INFO and CLIENT LIST fields are read by exact name.
    #[test]
    fn fields() {
        let info = "# Memory\r\nused_memory:1024\r\nused_memory_rss:9\r\n";
        assert_eq!(info_field(info, "used_memory"), Some(1024));
        assert_eq!(info_field(info, "used_memory_rss"), Some(9));
        assert_eq!(info_field(info, "nope"), None);
        let line = "id=3 addr=127.0.0.1:5 name=api-1 sub=4 psub=0 omem=2048 cmd=subscribe";
        assert_eq!(client_field(line, "sub"), Some(4));
        assert_eq!(client_field(line, "omem"), Some(2048));
    }

    /// Drift is last minus first among the hold's samples Redis answered.
    #[test]
    fn drift_skips_outages() {
        let s = |t: f64, up: bool, m: u64| RedisSample {
            t_s: t,
            up,
            used_memory: m,
            ..RedisSample::default()
        };
        let r = summarise(
            vec![
                s(0.0, true, 10),
                s(1.0, true, 1000),
                s(2.0, false, 0),
                s(3.0, true, 1100),
            ],
            "x".into(),
            (0.5, 3.5),
        );
        assert_eq!((r.drift_bytes, r.unreachable_samples), (100, 1));
        assert!((r.drift_pct - 10.0).abs() < 1e-9);
    }
}
