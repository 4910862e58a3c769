//! Coordinator ↔ agents over Redis Streams on a control Redis, so agents
//! can run anywhere Redis reaches (other processes, Kubernetes pods):
//!
//! * `signalscope:load:{control}:runs`: one entry per run (`run`), so an
//!   agent started without `--run` finds the newest;
//! * `signalscope:load:{control}:<run>:commands`: coordinator → agents:
//!   `plan` (the [`Plan`] as JSON), `start`, then [`Command`]s (`drain`,
//!   `add`);
//! * `signalscope:load:{control}:<run>:reports`: agents → coordinator:
//!   `hello`, then one [`Interval`] a second (histograms in HdrHistogram
//!   V2, base64).
//!
//! The `{control}` hash tag puts every key in one hash slot, so on a Redis
//! Cluster they all live on one master and both sides talk to that master
//! alone ([`RedisLink::holding`]), as they would to a single server.
//!
//! The run's keys expire after a day and are deleted at the end.

use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::crowd::Command;
use super::meter::Interval;
use super::plan::Plan;
use crate::redis_link::{LinkError, RedisLink};
use crate::redis_target::RedisTarget;

/// Key prefix of everything `load` writes on the control Redis; the hash
/// tag keeps all of it in one cluster slot.
pub const KEY_PREFIX: &str = "signalscope:load:{control}:";
/// How long a blocking read waits before looping.
const BLOCK_MS: u64 = 500;
/// A run older than this is not joined by an agent without `--run`.
const JOINABLE_FOR: Duration = Duration::from_secs(300);
/// Keys are left to expire if the coordinator dies.
const KEY_TTL_S: u64 = 86_400;

/// The runs stream.
fn runs_key() -> String {
    format!("{KEY_PREFIX}runs")
}

/// A run's command stream.
fn commands_key(run: &str) -> String {
    format!("{KEY_PREFIX}{run}:commands")
}

/// A run's report stream.
fn reports_key(run: &str) -> String {
    format!("{KEY_PREFIX}{run}:reports")
}

/// The run's keys, for the memory figures to leave out and for cleanup.
pub fn run_keys(run: &str) -> Vec<String> {
    vec![commands_key(run), reports_key(run)]
}

/// One stream entry: its id and its field/value pairs.
type Entry = (String, Vec<String>);
/// XREAD's answer: per stream, its entries.
type ReadReply = Option<Vec<(String, Vec<Entry>)>>;

/// The value of `field` in an entry's flat field/value list.
fn field<'a>(entry: &'a Entry, name: &str) -> Option<&'a str> {
    entry
        .1
        .chunks(2)
        .find(|kv| kv.first().map(String::as_str) == Some(name))
        .and_then(|kv| kv.get(1).map(String::as_str))
}

/// One side's connection to the control Redis.
#[derive(Clone)]
pub struct Control {
    /// For writes.
    link: RedisLink,
    /// For blocking reads (they would hold up writes on a shared one).
    reader: RedisLink,
}

impl Control {
    /// Connects and checks the control Redis answers, with a clear error.
    pub async fn connect(target: &RedisTarget, name: &'static str) -> Result<Self, String> {
        let unreachable = |e: LinkError| format!("the control Redis {target} is unreachable: {e}");
        let link = RedisLink::holding(target, name, &runs_key()).map_err(unreachable)?;
        let reader = RedisLink::holding(target, name, &runs_key()).map_err(unreachable)?;
        link.query::<String>(&redis::cmd("PING"))
            .await
            .map_err(unreachable)?;
        Ok(Self { link, reader })
    }

    async fn add(&self, key: &str, fields: &[(&str, &str)]) -> Result<String, String> {
        let mut cmd = redis::cmd("XADD");
        cmd.arg(key).arg("MAXLEN").arg("~").arg(100_000).arg("*");
        for (k, v) in fields {
            cmd.arg(*k).arg(*v);
        }
        let id = self
            .link
            .query::<String>(&cmd)
            .await
            .map_err(|e| e.to_string())?;
        let _ = self
            .link
            .query::<i64>(redis::cmd("EXPIRE").arg(key).arg(KEY_TTL_S))
            .await;
        Ok(id)
    }

    /// Entries after `after` on `key`, waiting up to [`BLOCK_MS`].
    async fn read(&self, key: &str, after: &str) -> Result<Vec<Entry>, String> {
        let reply: ReadReply = self
            .reader
            .query(
                redis::cmd("XREAD")
                    .arg("COUNT")
                    .arg(1000)
                    .arg("BLOCK")
                    .arg(BLOCK_MS)
                    .arg("STREAMS")
                    .arg(key)
                    .arg(after),
            )
            .await
            .map_err(|e| e.to_string())?;
        Ok(reply
            .into_iter()
            .flatten()
            .flat_map(|(_, entries)| entries)
            .collect())
    }

    // ---- coordinator side ----

    /// Announces `plan` for agents to pick up.
    pub async fn announce(&self, plan: &Plan) -> Result<(), String> {
        let body = serde_json::to_string(plan).map_err(|e| e.to_string())?;
        self.add(
            &commands_key(&plan.run_id),
            &[("kind", "plan"), ("body", &body)],
        )
        .await?;
        self.add(&runs_key(), &[("run", &plan.run_id)]).await?;
        Ok(())
    }

    /// Waits until agents `0..agents` said hello, or `limit` passes.
    /// Returns the indexes that never did.
    pub async fn await_agents(
        &self,
        run: &str,
        agents: u32,
        limit: Duration,
    ) -> Result<Vec<u32>, String> {
        let deadline = Instant::now() + limit;
        let mut joined = vec![false; agents as usize];
        let mut after = "0".to_owned();
        while joined.iter().any(|j| !j) && Instant::now() < deadline {
            for entry in self.read(&reports_key(run), &after).await? {
                after = entry.0.clone();
                if field(&entry, "kind") == Some("hello") {
                    if let Some(i) = field(&entry, "agent").and_then(|a| a.parse::<usize>().ok()) {
                        if let Some(j) = joined.get_mut(i) {
                            *j = true;
                        }
                    }
                }
            }
        }
        Ok((0..agents).filter(|&i| !joined[i as usize]).collect())
    }

    /// Tells every agent `kind` with an optional JSON body.
    pub async fn tell(&self, run: &str, command: Option<&Command>) -> Result<(), String> {
        match command {
            None => self.add(&commands_key(run), &[("kind", "start")]).await?,
            Some(c) => {
                let body = serde_json::to_string(c).map_err(|e| e.to_string())?;
                self.add(&commands_key(run), &[("kind", "command"), ("body", &body)])
                    .await?
            }
        };
        Ok(())
    }

    /// Streams the agents' intervals into `out` until it closes.
    pub async fn collect(self, run: String, out: mpsc::UnboundedSender<Interval>) {
        let mut after = "0".to_owned();
        while !out.is_closed() {
            let entries = match self.read(&reports_key(&run), &after).await {
                Ok(e) => e,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(BLOCK_MS)).await;
                    continue;
                }
            };
            for entry in entries {
                after = entry.0.clone();
                if field(&entry, "kind") != Some("interval") {
                    continue;
                }
                match field(&entry, "body").map(serde_json::from_str::<Interval>) {
                    Some(Ok(i)) => {
                        let _ = out.send(i);
                    }
                    _ => tracing::warn!("unreadable agent report {}", entry.0),
                }
            }
        }
    }

    /// Deletes the run's keys.
    pub async fn cleanup(&self, run: &str) {
        for key in run_keys(run) {
            let _ = self.link.query::<i64>(redis::cmd("DEL").arg(key)).await;
        }
    }

    // ---- agent side ----

    /// The run to join: `run`, or the newest announced in the last
    /// minutes (waiting for one if there is none yet).
    pub async fn find_run(&self, run: Option<String>) -> Result<String, String> {
        if let Some(r) = run {
            return Ok(r);
        }
        // Reading from the stream's start (not `$`) cannot miss a run
        // announced between two calls; old runs are skipped by age.
        let mut after = "0".to_owned();
        loop {
            let now_ms = crate::clock::unix_ms();
            let mut newest = None;
            for entry in self.read(&runs_key(), &after).await? {
                after = entry.0.clone();
                let at: u64 = entry
                    .0
                    .split('-')
                    .next()
                    .and_then(|t| t.parse().ok())
                    .unwrap_or(0);
                if now_ms.saturating_sub(at) < JOINABLE_FOR.as_millis() as u64 {
                    newest = field(&entry, "run").map(str::to_owned).or(newest);
                }
            }
            if let Some(r) = newest {
                return Ok(r);
            }
        }
    }

    /// Reads the run's plan, says hello as agent `index`, and waits for
    /// the start (up to `limit`). Returns the plan and the id to read
    /// further commands after.
    pub async fn join(
        &self,
        run: &str,
        index: u32,
        limit: Duration,
    ) -> Result<(Plan, String), String> {
        let deadline = Instant::now() + limit;
        let mut after = "0".to_owned();
        let mut plan = None;
        while Instant::now() < deadline {
            for entry in self.read(&commands_key(run), &after).await? {
                after = entry.0.clone();
                match field(&entry, "kind") {
                    Some("plan") => {
                        let p: Plan = serde_json::from_str(field(&entry, "body").unwrap_or(""))
                            .map_err(|e| format!("unreadable plan: {e}"))?;
                        if index >= p.agents {
                            return Err(format!(
                                "agent index {index} is outside the plan's {} agents",
                                p.agents
                            ));
                        }
                        self.add(
                            &reports_key(run),
                            &[("kind", "hello"), ("agent", &index.to_string())],
                        )
                        .await?;
                        plan = Some(p);
                    }
                    Some("start") => {
                        if let Some(p) = plan.take() {
                            return Ok((p, after));
                        }
                    }
                    _ => {}
                }
            }
        }
        Err(format!("run {run} did not start within {limit:?}"))
    }

    /// Forwards the run's commands to `out` until it closes.
    pub async fn commands(
        self,
        run: String,
        mut after: String,
        out: mpsc::UnboundedSender<Command>,
    ) {
        while !out.is_closed() {
            let Ok(entries) = self.read(&commands_key(&run), &after).await else {
                tokio::time::sleep(Duration::from_millis(BLOCK_MS)).await;
                continue;
            };
            for entry in entries {
                after = entry.0.clone();
                if field(&entry, "kind") == Some("command") {
                    if let Some(Ok(c)) = field(&entry, "body").map(serde_json::from_str::<Command>)
                    {
                        let _ = out.send(c);
                    }
                }
            }
        }
    }

    /// Sends one interval report.
    pub async fn report(&self, run: &str, interval: &Interval) -> Result<(), String> {
        let body = serde_json::to_string(interval).map_err(|e| e.to_string())?;
        self.add(
            &reports_key(run),
            &[
                ("kind", "interval"),
                ("agent", &interval.agent.to_string()),
                ("body", &body),
            ],
        )
        .await
        .map(|_| ())
    }
}
