//! `GET /api/status`: Redis as the backplane sees it (reachability, ping,
//! version, memory, clients, live servers and connections, read from
//! `PUBSUB`) and each instance's `/health`, fetched by the server so the
//! page needs no CORS.

use std::time::Instant;

use protocol::api::{Instance, InstanceHealth, RedisStatus, Status};
use protocol::backplane::ChannelKind;
use serde_json::Value;

use super::{AppError, AppState};

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
    let info: String = link
        .query(
            redis::cmd("INFO")
                .arg("server")
                .arg("memory")
                .arg("clients"),
        )
        .await?;
    let field = |key: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(key).and_then(|v| v.strip_prefix(':')))
            .map(|v| v.trim().to_owned())
    };
    status.version = field("redis_version");
    status.used_memory = field("used_memory_human");
    status.used_memory_bytes = field("used_memory").and_then(|v| v.parse().ok());
    status.connected_clients = field("connected_clients").and_then(|v| v.parse().ok());
    let numsub: Vec<(String, u64)> = link
        .query(redis::cmd("PUBSUB").arg("NUMSUB").arg(channels.all()))
        .await?;
    status.all_subscribers = numsub.first().map(|(_, n)| *n);
    status.live_servers = link
        .channels_after(&channels.name(&ChannelKind::Ack(String::new())))
        .await?;
    let connections = link
        .channels_after(&channels.name(&ChannelKind::Connection(String::new())))
        .await?;
    status.connection_channels = Some(connections.len() as u64);
    Ok(())
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
