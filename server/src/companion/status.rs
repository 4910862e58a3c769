//! `GET /api/status`: Redis as the backplane sees it (reachability, ping,
//! version, memory, clients, live servers and connections, read from
//! `PUBSUB`) and each instance's `/health`, fetched by the server so the
//! page needs no CORS. On a cluster or Sentinel set every node is listed
//! too, and the backplane's channels are counted over every node (a
//! cluster node knows only its own subscribers).

use std::time::Instant;

use protocol::api::{Instance, InstanceHealth, RedisNodeStatus, RedisStatus, Status};
use protocol::backplane::ChannelKind;
use serde_json::Value;

use super::{AppError, AppState};
use crate::redis_link::RedisLink;

/// Both halves, fetched concurrently.
pub(crate) async fn status(state: &AppState) -> Status {
    let instances = futures_util::future::join_all(
        state
            .config()
            .instances
            .iter()
            .map(|i| instance_health(state.trigger().http(), i)),
    );
    let (redis, instances) = tokio::join!(redis_status(state), instances);
    Status { redis, instances }
}

async fn redis_status(state: &AppState) -> RedisStatus {
    let started = Instant::now();
    if let Err(e) = state.link().query::<String>(&redis::cmd("PING")).await {
        return RedisStatus {
            error: Some(e.to_string()),
            ..RedisStatus::default()
        };
    }
    let mut status = RedisStatus {
        reachable: true,
        ping_ms: Some(started.elapsed().as_secs_f64() * 1000.0),
        ..RedisStatus::default()
    };
    if let Err(e) = fill(state, &mut status).await {
        status.error = Some(e.to_string());
    }
    status
}

/// Everything after PING; the first failure stops it and is reported.
async fn fill(state: &AppState, status: &mut RedisStatus) -> Result<(), AppError> {
    let link = state.link();
    let channels = &state.config().channels;
    let info = info(link).await?;
    let field = |key: &str| info_field(&info, key);
    status.version = field("redis_version");
    status.used_memory = field("used_memory_human");
    status.used_memory_bytes = field("used_memory").and_then(|v| v.parse().ok());
    status.connected_clients = field("connected_clients").and_then(|v| v.parse().ok());
    let nodes = link.nodes().await?;
    if !state.config().redis.is_single() {
        status.nodes = futures_util::future::join_all(
            nodes
                .iter()
                .map(|(address, node)| node_status(address, node)),
        )
        .await;
    }
    let (mut all, mut servers, mut connections) = (0, Vec::new(), Vec::new());
    for (_, node) in &nodes {
        let numsub: Vec<(String, u64)> = node
            .query(redis::cmd("PUBSUB").arg("NUMSUB").arg(channels.all()))
            .await?;
        all += numsub.first().map_or(0, |(_, n)| *n);
        servers.extend(
            node.channels_after(&channels.name(&ChannelKind::Ack(String::new())))
                .await?,
        );
        connections.extend(
            node.channels_after(&channels.name(&ChannelKind::Connection(String::new())))
                .await?,
        );
    }
    servers.sort();
    servers.dedup();
    connections.sort();
    connections.dedup();
    status.all_subscribers = Some(all);
    status.live_servers = servers;
    status.connection_channels = Some(connections.len() as u64);
    Ok(())
}

/// The INFO sections the status shows.
async fn info(link: &RedisLink) -> Result<String, AppError> {
    Ok(link
        .query(
            redis::cmd("INFO")
                .arg("server")
                .arg("memory")
                .arg("clients")
                .arg("replication"),
        )
        .await?)
}

/// `key:value` of an INFO reply.
fn info_field(info: &str, key: &str) -> Option<String> {
    info.lines()
        .find_map(|l| l.strip_prefix(key).and_then(|v| v.strip_prefix(':')))
        .map(|v| v.trim().to_owned())
}

/// One node: PING, then its role, memory and clients.
async fn node_status(address: &str, link: &RedisLink) -> RedisNodeStatus {
    let mut node = RedisNodeStatus {
        address: address.to_owned(),
        ..RedisNodeStatus::default()
    };
    let started = Instant::now();
    if let Err(e) = link.query::<String>(&redis::cmd("PING")).await {
        node.error = Some(e.to_string());
        return node;
    }
    node.reachable = true;
    node.ping_ms = Some(started.elapsed().as_secs_f64() * 1000.0);
    match info(link).await {
        Ok(info) => {
            let field = |key: &str| info_field(&info, key);
            node.role = field("role");
            node.used_memory_bytes = field("used_memory").and_then(|v| v.parse().ok());
            node.connected_clients = field("connected_clients").and_then(|v| v.parse().ok());
        }
        Err(e) => node.error = Some(e.to_string()),
    }
    node
}

async fn instance_health(http: &reqwest::Client, instance: &Instance) -> InstanceHealth {
    let mut health = InstanceHealth {
        name: instance.name.clone(),
        url: instance.url.clone(),
        http_status: None,
        status: None,
        duration_ms: None,
        checks: Value::Null,
        error: None,
    };
    let started = Instant::now();
    let response = http.get(format!("{}/health", instance.url)).send().await;
    let body = match response {
        Ok(r) => {
            health.http_status = Some(r.status().as_u16());
            r.text().await
        }
        Err(e) => Err(e),
    };
    health.duration_ms = Some(started.elapsed().as_secs_f64() * 1000.0);
    match body {
        Ok(text) => match serde_json::from_str::<Value>(&text) {
            Ok(v) => {
                health.status = v.get("status").and_then(Value::as_str).map(str::to_owned);
                health.checks = v.get("checks").cloned().unwrap_or(Value::Null);
            }
            Err(_) => health.error = Some("the /health body is not JSON".into()),
        },
        Err(e) => health.error = Some(super::trigger::describe(e)),
    }
    health
}
