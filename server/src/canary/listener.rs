//! The canary's connection to one instance × hub: open it as the official
//! client does (with the hub's key), keep it alive, time each canary that
//! arrives, and reconnect on the official delays, then every 30 s, forever:
//! a canary that gives up watches nothing.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use protocol::broadcast::TestBroadcast;
use protocol::connection::{Liveness, ReconnectPolicy};
use protocol::HubMessage;
use tokio_tungstenite::tungstenite::Message;

use super::Shared;
use crate::load::client::{self, Ws};

/// One attempt (negotiate, WebSocket, handshake) may take this long.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Holds door `i`'s connection until the task is aborted.
pub(super) async fn listen(shared: Arc<Shared>, i: usize, http: reqwest::Client) {
    let door = &shared.doors[i];
    let name = &door.label;
    let policy = ReconnectPolicy::forever();
    let mut retries = 0u32;
    let mut ever_connected = false;
    loop {
        let attempt =
            tokio::time::timeout(CONNECT_TIMEOUT, client::connect(&http, door, false, None))
                .await
                .unwrap_or_else(|_| Err("timeout".into()));
        match attempt {
            Ok(mut ws) => {
                if ever_connected {
                    shared.metrics.reconnected(name);
                }
                ever_connected = true;
                retries = 0;
                shared.connected[i].store(true, Ordering::Relaxed);
                shared.metrics.connection(name, true);
                let reason = hold(&shared, i, &mut ws).await;
                shared.connected[i].store(false, Ordering::Relaxed);
                shared.metrics.connection(name, false);
                tracing::info!(instance = %name, %reason, "canary: connection lost");
            }
            // Said out loud: a refused key is no passing outage.
            Err(reason) if client::is_key_refused(&reason) => {
                tracing::warn!(instance = %name, %reason, "canary: cannot connect")
            }
            Err(reason) => tracing::debug!(instance = %name, %reason, "canary: cannot connect"),
        }
        let delay = policy.next_delay_ms(retries).unwrap_or(30_000);
        retries = retries.saturating_add(1);
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
}

/// Reads, pings and times canaries until the connection ends; says why.
async fn hold(shared: &Shared, i: usize, ws: &mut Ws) -> String {
    let liveness = Liveness::CLIENT_FOR_CONDUIT;
    let keep_alive = Duration::from_millis(liveness.keep_alive_ms);
    let timeout = Duration::from_millis(liveness.timeout_ms);
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + keep_alive, keep_alive);
    let mut last_heard = Instant::now();
    loop {
        tokio::select! {
            frame = ws.next() => {
                // When the frame reached this machine, not when we got to it.
                let arrived_us = ws.get_ref().last_us();
                last_heard = Instant::now();
                let bytes = match frame {
                    Some(Ok(Message::Text(t))) => t.as_bytes().to_vec(),
                    Some(Ok(Message::Binary(b))) => b.to_vec(),
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => return e.to_string(),
                    None => return "closed".into(),
                };
                if let Some(reason) = on_frame(shared, i, &bytes, arrived_us) {
                    return reason;
                }
            }
            _ = ping.tick() => {
                if ws.send(Message::text(client::PING)).await.is_err() {
                    return "ping failed".into();
                }
            }
            _ = tokio::time::sleep_until((last_heard + timeout).into()) => {
                let _ = ws.close(None).await;
                return "server timeout".into();
            }
        }
    }
}

/// Times this canary's broadcasts in one frame; `Some(reason)` when the
/// server closed the connection.
fn on_frame(shared: &Shared, i: usize, bytes: &[u8], arrived_us: u64) -> Option<String> {
    for record in bytes.split(|&b| b == 0x1e).filter(|r| !r.is_empty()) {
        match HubMessage::parse(record) {
            Ok(HubMessage::Invocation {
                target, arguments, ..
            }) if target == shared.doors[i].event => {
                let Some(b) = TestBroadcast::from_arguments(&arguments) else {
                    continue;
                };
                if b.origin != shared.origin {
                    continue;
                }
                let latency = shared.rounds().arrived(i, b.seq, arrived_us);
                if let Some(us) = latency {
                    shared
                        .metrics
                        .propagated(&shared.doors[i].label, us as f64 / 1e6);
                }
            }
            Ok(HubMessage::Close { error, .. }) => {
                return Some(format!(
                    "server closed: {}",
                    error.as_deref().unwrap_or("no error")
                ));
            }
            _ => {}
        }
    }
    None
}
