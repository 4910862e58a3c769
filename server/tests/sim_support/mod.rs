//! What the sim's integration tests share: a sim served on a real loopback
//! socket (stoppable, restartable on the same port), a minimal SignalR
//! client over tokio-tungstenite that speaks the wire protocol by hand, and
//! a node script (the official client) whose JSON lines are its events.
#![allow(dead_code)] // each test binary uses its own subset

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use protocol::message::HubMessage;
use protocol::RecordSplitter;
use serde_json::Value;
use signalscope::redis_target::RedisTarget;
use signalscope::sim::profiles::{Profile, PROFILES};
use signalscope::sim::{Sim, SimConfig, SimError};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a test waits for any one message.
pub const WAIT: Duration = Duration::from_secs(10);

/// A sim serving on a loopback port.
pub struct TestSim {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The instance, for hub-level calls.
    pub sim: Sim,
    /// Resolves the shutdown future.
    stop: oneshot::Sender<()>,
    /// The serve task.
    task: tokio::task::JoinHandle<Result<(), SimError>>,
}

impl TestSim {
    /// Starts `name` on a free port, with Redis at `redis_url` if given.
    pub async fn start(name: &str, redis_url: Option<&str>) -> Self {
        Self::start_on(name, redis_url, 0).await
    }

    /// Starts `name` on `port` (0 = any), with Redis at `redis_url` if given.
    pub async fn start_on(name: &str, redis_url: Option<&str>, port: u16) -> Self {
        let redis = redis_url.map(|u| RedisTarget::parse(u).expect("a redis URL"));
        Self::start_with(SimConfig::new(name, redis), port).await
    }

    /// Starts a sim with `config` on `port` (0 = any).
    pub async fn start_with(config: SimConfig, port: u16) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.expect("bind");
        let addr = listener.local_addr().unwrap();
        let sim = Sim::start(config).await.expect("sim starts");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(sim.clone().serve(listener, async {
            let _ = stopped.await;
        }));
        Self {
            addr,
            sim,
            stop,
            task,
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops it as Ctrl-C would and waits until it has.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        self.task
            .await
            .expect("serve task")
            .expect("serve ends cleanly");
    }
}

/// How long a node script may take for any one step.
pub const NODE_LIMIT: Duration = Duration::from_secs(30);

/// The official client on `profile`'s hub of `sim`, in `protocol` (json or
/// messagepack), with `key` as its access token, listening for every event
/// any profile sends; returns once its connection channel is subscribed
/// and it is in its groups (the client sees the handshake's `{}` before
/// OnConnectedAsync has done either), with its connection id.
pub async fn listen(
    sim: &TestSim,
    profile: &'static Profile,
    protocol: &str,
    key: Option<&str>,
) -> (Node, String) {
    // Once each: a handler registered twice would report every arrival twice.
    let mut events: Vec<&str> = PROFILES
        .iter()
        .flat_map(|p| p.events.iter().copied())
        .collect();
    events.sort();
    events.dedup();
    let args = [
        format!("{}{}", sim.url(), profile.path),
        protocol.to_owned(),
        key.unwrap_or("-").to_owned(),
        events.join(","),
    ];
    let node = Node::start("server/tests/node/hub-listener.cjs", &args);
    let connected = node.wait_for("connected", 1, |_| true).await;
    let id = connected[0]["connectionId"].as_str().unwrap().to_owned();
    let hub = sim.sim.hub_for(profile).unwrap().clone();
    let redis = hub.config().redis.as_ref().map(|r| r.url().to_owned());
    let channel = hub.channels().connection(&id);
    crate::support::eventually(
        NODE_LIMIT,
        "the connection's channel and groups",
        || async {
            let subscribed = match &redis {
                Some(url) => numsub(url, &channel).await == Some(1),
                None => true,
            };
            let grouped = profile
                .groups_on_connect
                .iter()
                .all(|g| hub.local_members(g).contains(&id));
            (subscribed && grouped).then_some(())
        },
    )
    .await;
    (node, id)
}

/// A node script, its events so far (one JSON object per stdout line,
/// `{"event": …}`), and its stdin.
pub struct Node {
    /// The node process, killed on drop.
    child: Child,
    /// Every JSON line it printed.
    events: Arc<Mutex<Vec<Value>>>,
}

impl Node {
    /// Runs `script` (a path from the repository root, so `require` finds
    /// node_modules) with `args`.
    pub fn start(script: &str, args: &[String]) -> Self {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        let mut child = Command::new("node")
            .arg(script)
            .args(args)
            .current_dir(root)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("node on PATH");
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = events.clone();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let event = serde_json::from_str(&line).unwrap_or(Value::String(line));
                sink.lock().unwrap().push(event);
            }
        });
        Self { child, events }
    }

    /// Events named `name`.
    pub fn named(&self, name: &str) -> Vec<Value> {
        let events = self.events.lock().unwrap();
        events
            .iter()
            .filter(|e| e["event"] == name)
            .cloned()
            .collect()
    }

    /// Waits until `count` events named `name` match `filter`; fails at
    /// once if the script reported an error.
    pub async fn wait_for(
        &self,
        name: &str,
        count: usize,
        filter: impl Fn(&Value) -> bool,
    ) -> Vec<Value> {
        crate::support::eventually(NODE_LIMIT, &format!("{count} '{name}' events"), || async {
            let errors = self.named("error");
            assert!(errors.is_empty(), "node reported {errors:?}");
            let found: Vec<_> = self.named(name).into_iter().filter(|e| filter(e)).collect();
            (found.len() >= count).then_some(found)
        })
        .await
    }

    /// Says "stop" on stdin and waits for a clean exit.
    pub async fn stop(mut self) {
        let stdin = self.child.stdin.as_mut().unwrap();
        stdin.write_all(b"stop\n").await.unwrap();
        let status = tokio::time::timeout(NODE_LIMIT, self.child.wait())
            .await
            .unwrap()
            .unwrap();
        assert!(status.success(), "node exited with {status}");
    }
}

/// POSTs to `url` with a JSON body; returns status and parsed body.
pub async fn post_json(url: &str, body: &str) -> (u16, serde_json::Value) {
    let response = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .expect("HTTP request");
    let status = response.status().as_u16();
    (
        status,
        response.json().await.unwrap_or(serde_json::Value::Null),
    )
}

/// GETs `url`; returns status and parsed body.
pub async fn get_json(url: &str) -> (u16, serde_json::Value) {
    let response = reqwest::get(url).await.expect("HTTP request");
    let status = response.status().as_u16();
    (
        status,
        response.json().await.unwrap_or(serde_json::Value::Null),
    )
}

/// A SignalR client written out by hand, to see the exact bytes.
pub struct Client {
    /// The socket.
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// The negotiated connection id (what Redis channels use).
    pub connection_id: String,
    /// Splits received frames into records.
    splitter: RecordSplitter,
    /// Records received but not yet read.
    pending: std::collections::VecDeque<Vec<u8>>,
}

/// What the server did with a WebSocket.
#[derive(Debug)]
pub enum Received {
    /// One record, separator removed.
    Record(Vec<u8>),
    /// A close frame with this code.
    Closed(u16),
}

impl Client {
    /// Negotiates (v1) with the sim at `base`, opens the WebSocket and
    /// completes the handshake.
    pub async fn connect(base: &str) -> Self {
        let (id, token) = negotiate(base).await;
        let mut client = Self::open(base, Some(&token))
            .await
            .expect("WebSocket opens");
        client.connection_id = id;
        client
            .send_text("{\"protocol\":\"json\",\"version\":1}\x1e")
            .await;
        match client.next().await {
            Received::Record(r) => assert_eq!(r, b"{}", "handshake response"),
            other => panic!("handshake failed: {other:?}"),
        }
        // `{}` comes before OnConnectedAsync (subscriptions, the group), as
        // in ASP.NET; messages are dispatched only after it, so one round
        // trip means this client is fully connected before a test publishes.
        client
            .send_text("{\"type\":1,\"invocationId\":\"connected\",\"target\":\"Connected?\",\"arguments\":[]}\x1e")
            .await;
        match client.next_message().await {
            HubMessage::Completion { invocation_id, .. } if invocation_id == "connected" => {}
            other => panic!("expected the round trip's completion, got {other:?}"),
        }
        client
    }

    /// Opens the WebSocket (with `?id=token` if given), no handshake yet.
    pub async fn open(
        base: &str,
        token: Option<&str>,
    ) -> Result<Self, tokio_tungstenite::tungstenite::Error> {
        let hub = format!("{base}/hubs/navigation-state");
        let url = protocol::negotiate::websocket_url(&hub, token).unwrap();
        let (ws, _) = tokio_tungstenite::connect_async(url).await?;
        Ok(Self {
            ws,
            connection_id: String::new(),
            splitter: RecordSplitter::new(1 << 20),
            pending: Default::default(),
        })
    }

    /// Sends one text frame as is.
    pub async fn send_text(&mut self, text: &str) {
        self.ws.send(Message::text(text)).await.expect("send");
    }

    /// The next record or close, within [`WAIT`].
    pub async fn next(&mut self) -> Received {
        loop {
            if let Some(r) = self.pending.pop_front() {
                return Received::Record(r);
            }
            let frame = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("a frame within the wait");
            let bytes = match frame {
                Some(Ok(Message::Text(t))) => t.as_bytes().to_vec(),
                Some(Ok(Message::Binary(b))) => b.to_vec(),
                Some(Ok(Message::Close(c))) => {
                    return Received::Closed(c.map_or(1005, |c| c.code.into()))
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Received::Closed(1006),
            };
            self.pending
                .extend(self.splitter.push(&bytes).expect("records"));
        }
    }

    /// The next hub message that is not a Ping.
    pub async fn next_message(&mut self) -> HubMessage {
        loop {
            match self.next().await {
                Received::Record(r) => match HubMessage::parse(&r).expect("a hub message") {
                    HubMessage::Ping => continue,
                    m => return m,
                },
                Received::Closed(code) => {
                    panic!("connection closed ({code}) while waiting for a message")
                }
            }
        }
    }

    /// The next non-Ping record's raw text.
    pub async fn next_record_text(&mut self) -> String {
        loop {
            match self.next().await {
                Received::Record(r) if r == b"{\"type\":6}" => continue,
                Received::Record(r) => return String::from_utf8(r).expect("UTF-8"),
                Received::Closed(code) => {
                    panic!("connection closed ({code}) while waiting for a record")
                }
            }
        }
    }

    /// The next Invocation's target and arguments.
    pub async fn next_invocation(&mut self) -> (String, Vec<serde_json::Value>) {
        match self.next_message().await {
            HubMessage::Invocation {
                target, arguments, ..
            } => (target, arguments),
            other => panic!("expected an invocation, got {other:?}"),
        }
    }

    /// Sends an Invocation of `target` and returns the next message, which
    /// is the method's reply or its Completion.
    pub async fn invoke(
        &mut self,
        invocation_id: &str,
        target: &str,
        arguments: serde_json::Value,
    ) -> HubMessage {
        let text = serde_json::json!({
            "type": 1, "invocationId": invocation_id, "target": target, "arguments": arguments
        });
        self.send_text(&format!("{text}\x1e")).await;
        self.next_message().await
    }
}

/// POSTs negotiate v1 and returns (connectionId, connectionToken).
pub async fn negotiate(base: &str) -> (String, String) {
    let (status, body) = post_json(
        &format!("{base}/hubs/navigation-state/negotiate?negotiateVersion=1"),
        "",
    )
    .await;
    assert_eq!(status, 200, "negotiate");
    (
        body["connectionId"].as_str().unwrap().to_owned(),
        body["connectionToken"].as_str().unwrap().to_owned(),
    )
}

/// A redis-rs client for a test Redis.
pub fn redis_client(url: &str) -> redis::Client {
    redis::Client::open(url).expect("redis client")
}

/// PUBSUB NUMSUB of one channel.
pub async fn numsub(url: &str, channel: &str) -> Option<i64> {
    let mut conn = redis_client(url)
        .get_multiplexed_async_connection()
        .await
        .ok()?;
    let (_, n): (String, i64) = redis::cmd("PUBSUB")
        .arg("NUMSUB")
        .arg(channel)
        .query_async::<Vec<(String, i64)>>(&mut conn)
        .await
        .ok()?
        .pop()?;
    Some(n)
}

/// PUBLISHes raw bytes; returns the receiver count.
pub async fn publish(url: &str, channel: &str, payload: &[u8]) -> i64 {
    let mut conn = redis_client(url)
        .get_multiplexed_async_connection()
        .await
        .expect("redis");
    redis::cmd("PUBLISH")
        .arg(channel)
        .arg(payload)
        .query_async(&mut conn)
        .await
        .expect("PUBLISH")
}
