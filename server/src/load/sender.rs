//! The paced sender: test broadcasts at a fixed rate, each carrying the
//! run's origin, its seq, its actual send time and the time it was
//! *scheduled* for. Receivers measure from the schedule, so a sender that
//! falls behind cannot hide the delay (coordinated omission).
//!
//! A seq is spent only on a broadcast that went out, so a failed publish
//! (Redis down) never shows up as loss at the receivers.

use std::time::{Duration, Instant};

use protocol::api::Instance;
use protocol::broadcast::TestBroadcast;
use serde_json::json;
use tokio::sync::watch;

use crate::clock::{unix_ms, unix_us};
use crate::redis_link::RedisLink;

/// How early the sender wakes before a broadcast is due.
const TIMER_SLACK: Duration = Duration::from_micros(1500);

/// What carries the broadcasts.
pub enum Route {
    /// PUBLISH on every hub's audience channel, each round.
    Redis {
        /// The command connection.
        link: RedisLink,
        /// Per hub: its channel (`<prefix><hub>:group:<group>`, …) and the
        /// event its broadcasts are sent as.
        channels: Vec<(String, String)>,
        /// What each broadcast is serialized for (`--protocols`).
        protocols: Vec<protocol::hub_protocol::HubProtocol>,
    },
    /// POST to each instance's trigger in turn (skipping one that fails).
    Instance {
        /// Shared HTTP client.
        http: reqwest::Client,
        /// The instances, tried round-robin.
        instances: Vec<Instance>,
        /// The event broadcasts are sent as.
        event: String,
    },
}

/// What the sender did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sent {
    /// The last seq that went out (0: none did).
    pub last_seq: u64,
    /// Broadcasts that went out.
    pub sent: u64,
    /// Attempts that failed.
    pub failed: u64,
    /// How far it ever fell behind its schedule.
    pub max_behind: Duration,
}

/// Sends at `rate` per second until `stop` turns true; `progress` carries
/// the count so far.
pub async fn run(
    route: Route,
    origin: String,
    rate: f64,
    mut stop: watch::Receiver<bool>,
    progress: watch::Sender<Sent>,
) -> Sent {
    let mut sent = Sent::default();
    if rate <= 0.0 {
        return sent;
    }
    let gap = Duration::from_secs_f64(1.0 / rate);
    let start = Instant::now();
    let start_us = unix_us();
    let mut turn = 0usize;
    for k in 0u64.. {
        let due = start + gap.mul_f64(k as f64);
        tokio::select! {
            _ = tokio::time::sleep_until(due.checked_sub(TIMER_SLACK).unwrap_or(due).into()) => {}
            _ = stop.wait_for(|s| *s) => break,
        }
        // Tokio's timer fires up to a millisecond late; the last stretch is
        // waited out by yielding, so the schedule (and the latency measured
        // from it) is not off by the timer's granularity.
        while Instant::now() < due {
            tokio::task::yield_now().await;
        }
        sent.max_behind = sent
            .max_behind
            .max(Instant::now().saturating_duration_since(due));
        let seq = sent.last_seq + 1;
        let mut broadcast =
            TestBroadcast::new(format!("{origin}:{seq}"), seq, unix_ms(), origin.clone());
        broadcast.scheduled_at_us = Some(start_us + gap.mul_f64(k as f64).as_micros() as u64);
        broadcast.sent_at_us = Some(unix_us());
        let ok = match &route {
            Route::Redis {
                link,
                channels,
                protocols,
            } => {
                // One seq on every hub: it is spent if any hub got it (a
                // hub whose publish failed then shows the gap as loss).
                let mut any = false;
                for (channel, event) in channels {
                    let argument = vec![broadcast.to_argument()];
                    let published = link
                        .publish_invocation(channel, event, argument, protocols)
                        .await;
                    any |= published.is_ok();
                }
                any
            }
            Route::Instance {
                http,
                instances,
                event,
            } => {
                let body = json!({ "target": event, "payload": broadcast.to_argument() });
                let mut ok = false;
                for _ in 0..instances.len() {
                    let instance = &instances[turn % instances.len()];
                    turn += 1;
                    let url = format!("{}{}", instance.url, protocol::api::routes::TRIGGER);
                    let answer = http.post(url).json(&body).send().await;
                    if answer.is_ok_and(|a| a.status().is_success()) {
                        ok = true;
                        break;
                    }
                }
                ok
            }
        };
        if ok {
            sent.sent += 1;
            sent.last_seq = seq;
        } else {
            sent.failed += 1;
        }
        progress.send_replace(sent.clone());
    }
    sent
}
