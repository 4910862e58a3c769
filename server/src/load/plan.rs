//! The plan of a load run: what every agent needs to play its part, and
//! the chaos the coordinator applies. Plain data, serialised onto the
//! control stream for agents in other processes.

use std::net::IpAddr;
use std::time::Duration;

use protocol::api::{Hub, Instance};
use protocol::credential::Credential;
use serde::{Deserialize, Serialize};

use crate::deployment::HubKeys;

/// How test broadcasts are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "camelCase")]
pub enum SendVia {
    /// PUBLISH an ASP.NET-layout invocation into the backplane, as the
    /// companion does: every instance of any deployment delivers it.
    Redis,
    /// POST to the instances' trigger endpoint, round-robin (stand-ins).
    Instance,
}

impl SendVia {
    /// Its name in summaries.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Redis => "redis",
            Self::Instance => "instance",
        }
    }
}

/// Everything an agent needs; the same for every agent of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Names the run: control keys and the broadcasts' origin.
    pub run_id: String,
    /// The instances; the connections go round-robin over every hub each
    /// serves ([`doors`]).
    pub instances: Vec<Instance>,
    /// The hubs driven, in the settings' order.
    pub hubs: Vec<Hub>,
    /// The hubs' keys (`--hub-key`), for the connections to present.
    pub keys: HubKeys,
    /// The event test broadcasts arrive as on every hub (`--event`);
    /// `None`: each hub's own broadcast event.
    pub event: Option<String>,
    /// Skip negotiate and open the WebSocket directly.
    pub skip_negotiation: bool,
    /// Connections in all, over every agent.
    pub connections: u64,
    /// Connections opened per second, over every agent.
    pub ramp_per_s: f64,
    /// How long connections are held once all are open.
    pub hold_ms: u64,
    /// Broadcasts per second.
    pub rate: f64,
    /// Agents sharing the connections: connection `i` belongs to agent
    /// `i % agents` (1 for an in-process run).
    pub agents: u32,
    /// Local addresses to connect from, round-robin (empty: the OS picks).
    pub source_addrs: Vec<IpAddr>,
    /// Ceiling for one connection attempt (negotiate + WebSocket + handshake).
    pub connect_timeout_ms: u64,
    /// How long to wait for the last broadcasts after the sender stops.
    pub drain_ms: u64,
}

impl Plan {
    /// The connections agent `index` owns, as global numbers.
    pub fn share(&self, index: u32) -> impl Iterator<Item = u64> + '_ {
        let agents = u64::from(self.agents.max(1));
        (u64::from(index)..self.connections).step_by(agents as usize)
    }

    /// The `origin` of this run's broadcasts.
    pub fn origin(&self) -> String {
        format!("signalscope-load:{}", self.run_id)
    }

    /// The event test broadcasts arrive as on `hub`.
    pub fn event_of(&self, hub: &Hub) -> String {
        self.event
            .clone()
            .unwrap_or_else(|| hub.events.broadcast.clone())
    }

    /// The instance × hub pairs of `instances`, in the order connections
    /// are spread over them.
    pub fn doors_of(&self, instances: &[Instance]) -> Vec<Door> {
        doors(instances, &self.hubs, &self.keys)
            .into_iter()
            .map(|mut d| {
                d.event = self.event_of(&self.hubs[d.hub]);
                d
            })
            .collect()
    }

    /// Seconds between two connection openings of one agent.
    pub fn ramp_gap(&self) -> Duration {
        let per_agent = self.ramp_per_s / f64::from(self.agents.max(1));
        Duration::from_secs_f64(1.0 / per_agent.max(0.001))
    }
}

/// One instance × hub: where a share of the connections (or one canary
/// listener) goes, and how it presents its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Door {
    /// What the summary, the canary's report and its metrics call it: the
    /// instance's name, or `instance/hub` when there are several hubs.
    pub label: String,
    /// The hub's index among the configured hubs.
    pub hub: usize,
    /// The hub's name, for errors (`--hub-key <name>=…`).
    pub hub_name: String,
    /// The hub's URL on the instance.
    pub hub_url: String,
    /// The event test broadcasts arrive as.
    pub event: String,
    /// The hub's key for this instance, placed as the hub takes it.
    pub credential: Option<Credential>,
}

/// Every hub each instance serves, instance by instance, with its key.
pub fn doors(instances: &[Instance], hubs: &[Hub], keys: &HubKeys) -> Vec<Door> {
    let mut out = Vec::new();
    for instance in instances {
        for (h, hub) in hubs.iter().enumerate() {
            if !instance.serves(&hub.name) {
                continue;
            }
            out.push(Door {
                label: if hubs.len() == 1 {
                    instance.name.clone()
                } else {
                    format!("{}/{}", instance.name, hub.name)
                },
                hub: h,
                hub_name: hub.name.clone(),
                hub_url: format!("{}{}", instance.url, hub.path),
                event: hub.events.broadcast.clone(),
                credential: keys.find(&instance.name, &hub.name).map(|key| Credential {
                    key: key.to_owned(),
                    placement: hub.auth.clone(),
                }),
            });
        }
    }
    out
}

/// One act of chaos at a moment of the run (measured from the start of
/// the hold).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chaos {
    /// When, from the start of the hold.
    pub at: Duration,
    /// What.
    pub act: Act,
}

/// The acts `load` can perform on processes the demo owns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Act {
    /// Stop an instance's process.
    Kill(String),
    /// Start it again.
    Restart(String),
    /// Start one more instance and put connections on it.
    Add,
    /// Stop Redis.
    RedisStop,
    /// Start it again.
    RedisStart,
}

/// `60s`, `1.5m`, `500ms`, `2h`, or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (number, unit) = match s.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a duration (try 60s, 500ms, 2m)"))?;
    let scale = match unit {
        "ms" => 0.001,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return Err(format!("'{s}': unknown unit '{unit}' (use ms, s, m or h)")),
    };
    if !value.is_finite() || value < 0.0 {
        return Err(format!("'{s}' is not a duration (try 60s, 500ms, 2m)"));
    }
    Ok(Duration::from_secs_f64(value * scale))
}

/// `api-2@30s` → (`api-2`, 30 s); `@60s` → (``, 60 s).
pub fn parse_at(s: &str) -> Result<(String, Duration), String> {
    let (name, at) = s
        .rsplit_once('@')
        .ok_or_else(|| format!("'{s}': expected NAME@TIME, e.g. api-2@30s"))?;
    Ok((name.trim().to_owned(), parse_duration(at)?))
}

/// The chaos flags, turned into a schedule sorted by time. Instance names
/// must be among `instances`.
pub fn schedule(
    kill: &[String],
    restart_after: Option<Duration>,
    add: &[String],
    restart_redis: &[String],
    instances: &[Instance],
) -> Result<Vec<Chaos>, String> {
    let mut acts = Vec::new();
    for spec in kill {
        let (name, at) = parse_at(spec)?;
        if !instances.iter().any(|i| i.name == name) {
            let known: Vec<&str> = instances.iter().map(|i| i.name.as_str()).collect();
            return Err(format!(
                "--kill-instance '{spec}': no instance named '{name}' (known: {})",
                known.join(", ")
            ));
        }
        acts.push(Chaos {
            at,
            act: Act::Kill(name.clone()),
        });
        if let Some(after) = restart_after {
            acts.push(Chaos {
                at: at + after,
                act: Act::Restart(name),
            });
        }
    }
    for spec in add {
        let (_, at) = parse_at(spec)?;
        acts.push(Chaos { at, act: Act::Add });
    }
    for spec in restart_redis {
        let (_, at) = parse_at(spec)?;
        acts.push(Chaos {
            at,
            act: Act::RedisStop,
        });
        acts.push(Chaos {
            at: at + restart_after.unwrap_or(Duration::from_secs(2)),
            act: Act::RedisStart,
        });
    }
    acts.sort_by_key(|c| c.at);
    Ok(acts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instances() -> Vec<Instance> {
        ["api-1", "api-2"]
            .map(|n| Instance {
                name: n.into(),
                url: "http://x".into(),
                hubs: Vec::new(),
            })
            .to_vec()
    }

    /// Durations read in every unit the flags document.
    #[test]
    fn durations() {
        assert_eq!(parse_duration("60s"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5m"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert!(parse_duration("10 parsecs").is_err());
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("").is_err());
    }

    /// A kill with a restart-after becomes two acts; unknown names are refused.
    #[test]
    fn chaos_schedule() {
        let s = schedule(
            &["api-2@30s".into()],
            Some(Duration::from_secs(10)),
            &["@20s".into()],
            &[],
            &instances(),
        )
        .unwrap();
        assert_eq!(
            s.iter()
                .map(|c| (c.at.as_secs(), &c.act))
                .collect::<Vec<_>>(),
            [
                (20, &Act::Add),
                (30, &Act::Kill("api-2".into())),
                (40, &Act::Restart("api-2".into()))
            ]
        );
        let err = schedule(&["api-9@1s".into()], None, &[], &[], &instances()).unwrap_err();
        assert!(
            err.contains("api-9") && err.contains("api-1, api-2"),
            "{err}"
        );
    }

    /// Each instance gets a door per hub it serves, labelled with the hub
    /// when there are several, with its own key before the hub's.
    #[test]
    fn doors_cover_instance_by_hub() {
        use protocol::api::{HubKey, KeyPlacement};
        let mut list = instances();
        list[1].hubs = vec!["notifications".into()];
        let mut notifications = protocol::hubs::conduit("notifications").unwrap();
        notifications.auth = KeyPlacement::Query("api_key".into());
        let hubs = [protocol::hubs::navigation(), notifications];
        let key = |instance: Option<&str>, key: &str| HubKey {
            instance: instance.map(str::to_owned),
            hub: "notifications".into(),
            key: key.into(),
        };
        let keys = HubKeys::from(vec![key(None, "k"), key(Some("api-2"), "k2")]);
        let d = doors(&list, &hubs, &keys);
        let labels: Vec<_> = d.iter().map(|d| d.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "api-1/navigation",
                "api-1/notifications",
                "api-2/notifications"
            ]
        );
        assert_eq!(d[0].credential, None);
        assert_eq!(d[1].hub_url, "http://x/hubs/notifications");
        assert_eq!(d[1].event, "SystemAnnouncement");
        let key_of = |d: &Door| d.credential.as_ref().map(|c| c.key.clone());
        assert_eq!(key_of(&d[1]).as_deref(), Some("k"));
        assert_eq!(key_of(&d[2]).as_deref(), Some("k2"));
        assert_eq!(
            d[2].credential.as_ref().map(|c| &c.placement),
            Some(&KeyPlacement::Query("api_key".into()))
        );
        let one = doors(&list[..1], &hubs[..1], &keys);
        assert_eq!(one[0].label, "api-1");
    }

    /// Agents split the connections without overlap or gap.
    #[test]
    fn shares_partition_connections() {
        let plan = Plan {
            run_id: "r".into(),
            instances: instances(),
            hubs: vec![protocol::hubs::navigation()],
            keys: HubKeys::default(),
            event: None,
            skip_negotiation: false,
            connections: 10,
            ramp_per_s: 100.0,
            hold_ms: 0,
            rate: 1.0,
            agents: 3,
            source_addrs: Vec::new(),
            connect_timeout_ms: 1000,
            drain_ms: 0,
        };
        let mut all: Vec<u64> = (0..3).flat_map(|i| plan.share(i)).collect();
        all.sort_unstable();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
    }
}
