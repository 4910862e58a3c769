//! `GET /api/status`: Redis as the backplane sees it (reachability, ping,
//! version, memory, clients, and per hub behind each prefix watched (the
//! deployment's and the hubs' own) its live servers, groups, users and
//! connections, read from `PUBSUB`) and each
//! instance's `/health`, fetched by the server so the page needs no CORS.
//! On a cluster or Sentinel set every node is listed too, and the
//! backplane's channels are counted over every node (a cluster node knows
//! only its own subscribers).

use std::collections::BTreeMap;
use std::time::Instant;

use protocol::api::{
    Hub, HubTraffic, Instance, InstanceHealth, RedisNodeStatus, RedisStatus, Status,
};
use protocol::backplane::channel::classify_any;
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
    let config = state.config();
    let channels = config.channels();
    let info = info(link).await?;
    let field = |key: &str| info_field(&info, key);
    status.version = field("redis_version");
    status.used_memory = field("used_memory_human");
    status.used_memory_bytes = field("used_memory").and_then(|v| v.parse().ok());
    status.connected_clients = field("connected_clients").and_then(|v| v.parse().ok());
    if !config.redis.is_single() {
        let nodes = link.nodes().await?;
        status.nodes = futures_util::future::join_all(
            nodes
                .iter()
                .map(|(address, node)| node_status(address, node)),
        )
        .await;
    }
    status.all_subscribers = Some(link.subscribers_on_every_node(&channels.all()).await?);
    let mut live = Vec::new();
    for prefix in config.prefixes() {
        let rest = link.channels_after_on_every_node(&prefix).await?;
        live.extend(rest.into_iter().map(|r| (prefix.clone(), r)));
    }
    status.hubs = traffic(&live, &config.hubs, &config.prefix);
    // The first hub's figures, as pages older than `hubs` read them: it
    // comes first.
    let first = &status.hubs[0];
    status.live_servers = first.live_servers.clone();
    status.connection_channels = Some(first.connections);
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

/// Per hub, what its live channels (prefix, name after it) say: configured
/// hubs first, in their order, even when silent, each behind its own prefix
/// or `deployment`'s; then any other hub seen, behind whichever prefix.
fn traffic(live: &[(String, String)], hubs: &[Hub], deployment: &str) -> Vec<HubTraffic> {
    let mut seen: BTreeMap<(String, String), HubTraffic> = BTreeMap::new();
    for (prefix, rest) in live {
        let Some((hub_type, kind)) = classify_any("", rest) else {
            continue; // not a SignalR channel
        };
        let key = (prefix.clone(), hub_type.clone());
        let t = seen.entry(key).or_insert_with(|| HubTraffic {
            hub_type,
            prefix: prefix.clone(),
            ..HubTraffic::default()
        });
        match kind {
            ChannelKind::Ack(server) => t.live_servers.push(server),
            ChannelKind::Group(g) => t.groups.push(g),
            ChannelKind::User(u) => t.users.push(u),
            ChannelKind::Connection(_) => t.connections += 1,
            _ => {}
        }
    }
    let mut out: Vec<HubTraffic> = hubs
        .iter()
        .map(|h| {
            let prefix = h.prefix_or(deployment).to_owned();
            let key = (prefix.clone(), h.hub_type.clone());
            HubTraffic {
                name: Some(h.name.clone()),
                ..seen.remove(&key).unwrap_or_else(|| HubTraffic {
                    hub_type: h.hub_type.clone(),
                    prefix,
                    ..HubTraffic::default()
                })
            }
        })
        .collect();
    out.extend(seen.into_values());
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Channels of every hub are counted under their hub and prefix:
    /// configured hubs first (even silent ones), then any other hub seen.
    #[test]
    fn channels_count_per_hub() {
        let nav = protocol::hubs::navigation();
        let tasks = protocol::hubs::conduit("tasks").unwrap();
        let admin = protocol::hubs::conduit("admin-notifications").unwrap();
        let core = |rest: String| ("core:".to_owned(), rest);
        let on_admin = protocol::hubs::CONDUIT_ADMIN_PREFIX.to_owned();
        let live: Vec<(String, String)> = [
            core(format!("{}:internal:ack:api-1", nav.hub_type)),
            core(format!("{}:group:navigation-updates", nav.hub_type)),
            core(format!("{}:connection:a", nav.hub_type)),
            core(format!("{}:connection:b", nav.hub_type)),
            core("Other.Hub:user:u1".to_owned()),
            core("not-signalr".to_owned()),
            (on_admin.clone(), format!("{}:group:admin", admin.hub_type)),
            // The navigation hub's type, but on the other backplane.
            (on_admin.clone(), format!("{}:connection:c", nav.hub_type)),
        ]
        .into();
        let t = traffic(&live, &[nav.clone(), tasks.clone(), admin.clone()], "core:");
        assert_eq!(t.len(), 5);
        assert_eq!(
            (
                t[2].name.as_deref(),
                t[2].prefix.as_str(),
                t[2].groups.as_slice()
            ),
            (
                Some("admin-notifications"),
                on_admin.as_str(),
                &["admin".to_owned()][..]
            )
        );
        assert_eq!(
            (
                t[3].prefix.as_str(),
                t[3].hub_type.as_str(),
                t[3].connections
            ),
            (on_admin.as_str(), nav.hub_type.as_str(), 1)
        );
        assert_eq!(t[0].name.as_deref(), Some("navigation"));
        assert_eq!(t[0].live_servers, ["api-1"]);
        assert_eq!(t[0].groups, ["navigation-updates"]);
        assert_eq!(t[0].connections, 2);
        assert_eq!(
            (t[1].hub_type.as_str(), t[1].connections),
            (tasks.hub_type.as_str(), 0)
        );
        assert_eq!(
            (t[4].hub_type.as_str(), t[4].users.as_slice()),
            ("Other.Hub", &["u1".to_owned()][..])
        );
    }
}
