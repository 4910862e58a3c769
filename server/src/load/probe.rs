//! Redis watched once a second during a run: memory, clients, the output
//! buffers of subscriber connections (what grows first when instances
//! cannot keep up), and how many instances listen on the hub's
//! all-channel. The control streams' own keys are subtracted from memory.
//! On a Redis Cluster every master is read (each knows only its own
//! memory, clients and subscribers) and the sample is their total, with
//! each master's figures beside it.

use std::time::{Duration, Instant};

use super::summary::{RedisNodeMemory, RedisNodeSample, RedisSample, RedisSummary};
use crate::redis_link::RedisLink;

/// One reading of every node, or `up: false` when Redis did not answer.
pub async fn sample(
    link: &RedisLink,
    all_channel: &str,
    control_keys: &[String],
    t_s: f64,
) -> RedisSample {
    let Ok(mut nodes) = link.nodes().await else {
        return RedisSample {
            t_s,
            ..RedisSample::default()
        };
    };
    if nodes.len() == 1 {
        let (_, node) = nodes.swap_remove(0);
        return sample_node(&node, all_channel, control_keys, t_s).await;
    }
    let each =
        futures_util::future::join_all(nodes.into_iter().map(|(address, node)| async move {
            RedisNodeSample {
                sample: sample_node(&node, all_channel, control_keys, t_s).await,
                address,
            }
        }))
        .await;
    total(t_s, each)
}

/// The masters' figures added up: memory, clients and subscribers summed,
/// the largest buffer of all; up only if every master answered.
fn total(t_s: f64, nodes: Vec<RedisNodeSample>) -> RedisSample {
    let mut s = RedisSample {
        t_s,
        up: nodes.iter().all(|n| n.sample.up),
        ..RedisSample::default()
    };
    for n in nodes.iter().map(|n| &n.sample) {
        s.used_memory += n.used_memory;
        s.connected_clients += n.connected_clients;
        s.pubsub_clients += n.pubsub_clients;
        s.all_channel_subscribers += n.all_channel_subscribers;
        s.max_subscriber_omem = s.max_subscriber_omem.max(n.max_subscriber_omem);
    }
    s.nodes = nodes;
    s
}

/// One server's reading. A control key another master holds answers
/// MEMORY USAGE with MOVED here, and counts nothing.
async fn sample_node(
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
    let nodes = match (up.first(), up.last()) {
        (Some(a), Some(b)) => node_memory(a, b),
        _ => Vec::new(),
    };
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
        nodes,
    }
}

/// Each master's memory between two samples, matched by address (a
/// master that is not in both, one that failed over, is left out).
fn node_memory(first: &RedisSample, last: &RedisSample) -> Vec<RedisNodeMemory> {
    first
        .nodes
        .iter()
        .filter_map(|a| {
            let b = last.nodes.iter().find(|b| b.address == a.address)?;
            let (start, end) = (a.sample.used_memory, b.sample.used_memory);
            Some(RedisNodeMemory {
                address: a.address.clone(),
                memory_start: start,
                memory_end: end,
                drift_bytes: end as i64 - start as i64,
            })
        })
        .collect()
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

    /// A cluster's sample is its masters' total (the largest buffer, not
    /// a sum), down if one master is; each master's drift is its own.
    #[test]
    fn masters_add_up() {
        let node = |address: &str, up: bool, memory: u64, omem: u64| RedisNodeSample {
            address: address.into(),
            sample: RedisSample {
                up,
                used_memory: memory,
                connected_clients: 2,
                pubsub_clients: 1,
                max_subscriber_omem: omem,
                all_channel_subscribers: 1,
                ..RedisSample::default()
            },
        };
        let first = total(
            1.0,
            vec![node("a:1", true, 100, 5), node("b:2", true, 200, 9)],
        );
        assert!(first.up);
        assert_eq!(
            (
                first.used_memory,
                first.connected_clients,
                first.pubsub_clients,
                first.all_channel_subscribers,
                first.max_subscriber_omem
            ),
            (300, 4, 2, 2, 9)
        );
        assert!(!total(2.0, vec![node("a:1", true, 1, 0), node("b:2", false, 0, 0)]).up);
        let last = total(
            3.0,
            vec![node("a:1", true, 150, 0), node("b:2", true, 190, 0)],
        );
        let r = summarise(vec![first, last], "x".into(), (0.0, 4.0));
        assert_eq!(r.drift_bytes, 40);
        let drifts: Vec<(&str, i64)> = r
            .nodes
            .iter()
            .map(|n| (n.address.as_str(), n.drift_bytes))
            .collect();
        assert_eq!(drifts, [("a:1", 50), ("b:2", -10)]);
    }
}
