//! The Redis side of a sim, as `RedisHubLifetimeManager` does it (docs/WIRE.md §7):
//! one publishing connection and one subscriber connection, both named
//! after the instance as StackExchange.Redis names every connection it
//! opens, the subscriber's channels reference-counted, group commands with
//! acks, and an outage loop that reconnects with back-off and subscribes
//! every channel again.
//!
//! On a cluster or behind Sentinel both connections go to the target's
//! primary node, looked up again at every reconnect: a cluster hands every
//! PUBLISH to every node, and after a failover the sentinels name the new
//! master.
//!
//! Without Redis (single-instance mode) a publish is handed straight back
//! to the hub's inbound queue, so delivery takes the same path either way.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use futures_util::StreamExt;
use protocol::backplane::{Ack, Channels, GroupAction, GroupCommand};
use redis::aio::{MultiplexedConnection, PubSub, PubSubSink, PubSubStream};
use redis::{ConnectionAddr, RedisConnectionInfo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use super::SimError;
use crate::locks::{lock, read, write};
use crate::reconnect::{is_connection_lost, open_named, Backoff};
use crate::redis_target::RedisTarget;

/// How long a sender waits for a group command's ack (ASP.NET's value).
const ACK_TIMEOUT: Duration = Duration::from_secs(30);
/// Limit on any single Redis round trip, so an outage cannot hang a caller.
const REDIS_TIMEOUT: Duration = Duration::from_secs(5);

/// A message that arrived on one of the instance's channels.
#[derive(Debug, Clone)]
pub struct Inbound {
    /// Full channel name, prefix included.
    pub channel: String,
    /// The exact bytes published.
    pub payload: Vec<u8>,
}

/// Where a subscription's outcome is told.
type Confirmation = oneshot::Sender<Result<(), SimError>>;

/// A change to the subscriber connection, applied in order by the link task.
enum Command {
    /// Count one more user of `channel`; SUBSCRIBE on the first.
    Subscribe {
        /// Full channel name.
        channel: String,
        /// Told once the subscription is confirmed, or why it failed.
        done: Confirmation,
    },
    /// Count one user fewer; UNSUBSCRIBE after the last.
    Unsubscribe {
        /// Full channel name.
        channel: String,
    },
}

/// The publishing connection in use.
#[derive(Clone)]
struct Publisher {
    /// Numbers every publishing connection opened, so a broken one is
    /// replaced once and a newer one is never replaced by mistake.
    serial: u64,
    /// The connection (cheap to clone: it is multiplexed).
    connection: MultiplexedConnection,
}

/// Where publishes go: Redis, or straight back to this instance.
enum Mode {
    /// Single-instance: publishes loop back to the hub.
    Local {
        /// The hub's inbound queue.
        inbound: mpsc::UnboundedSender<Inbound>,
    },
    /// Through Redis.
    Redis(Link),
}

/// The handle to the Redis link task.
struct Link {
    /// Subscription changes for the link task.
    commands: mpsc::UnboundedSender<Command>,
    /// The publishing connection while Redis is up; `None` during an outage
    /// (sends then fail at once, nothing is buffered, as in ASP.NET).
    publisher: Arc<RwLock<Option<Publisher>>>,
    /// Group commands waiting for their ack, by id.
    pending_acks: Arc<Mutex<HashMap<u32, oneshot::Sender<()>>>>,
    /// The last group command id used (ASP.NET counts from 1).
    last_command_id: AtomicU32,
    /// Where Redis is, to open a replacement publishing connection.
    target: RedisTarget,
    /// CLIENT SETNAME of every publishing connection.
    client_name: String,
    /// Source of [`Publisher::serial`], shared with the link task.
    serials: Arc<AtomicU64>,
    /// Set while a replacement publishing connection is being opened.
    replacing: Arc<AtomicBool>,
    /// The link task; aborting it closes both Redis connections.
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Link {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The backplane of one instance.
pub struct Backplane {
    /// Channel naming.
    channels: Channels,
    /// `<host>_<32 hex>`, as ASP.NET names servers.
    server_name: String,
    /// Redis or loop-back.
    mode: Mode,
    /// Whether Redis is connected and subscribed (always true when local).
    up: watch::Receiver<bool>,
}

impl Backplane {
    /// Starts the backplane; messages for this instance arrive on the
    /// returned queue. With Redis, connecting happens in the background.
    pub fn start(
        name: &str,
        redis: Option<&RedisTarget>,
        channels: Channels,
    ) -> (Self, mpsc::UnboundedReceiver<Inbound>) {
        let server_name = server_name();
        let (inbound_tx, inbound_rx) = mpsc::unbounded_channel();
        let Some(target) = redis else {
            let (_, up) = watch::channel(true);
            let mode = Mode::Local {
                inbound: inbound_tx,
            };
            return (
                Self {
                    channels,
                    server_name,
                    mode,
                    up,
                },
                inbound_rx,
            );
        };
        let (up_tx, up) = watch::channel(false);
        let (commands, command_rx) = mpsc::unbounded_channel();
        let publisher = Arc::new(RwLock::new(None));
        let pending_acks = Arc::new(Mutex::new(HashMap::new()));
        let serials = Arc::new(AtomicU64::new(0));
        let permanent = vec![
            channels.all(),
            channels.internal_groups(),
            channels.ack(&server_name),
            channels.return_channel(&server_name),
        ];
        let task = tokio::spawn(
            LinkTask {
                target: target.clone(),
                client_name: name.to_owned(),
                ack_channel: channels.ack(&server_name),
                refcounts: permanent.into_iter().map(|c| (c, 1)).collect(),
                commands: command_rx,
                publisher: publisher.clone(),
                pending_acks: pending_acks.clone(),
                inbound: inbound_tx,
                up: up_tx,
                serials: serials.clone(),
                backlog: Vec::new(),
            }
            .run(),
        );
        let link = Link {
            commands,
            publisher,
            pending_acks,
            last_command_id: AtomicU32::new(0),
            target: target.clone(),
            client_name: name.to_owned(),
            serials,
            replacing: Arc::new(AtomicBool::new(false)),
            task,
        };
        (
            Self {
                channels,
                server_name,
                mode: Mode::Redis(link),
                up,
            },
            inbound_rx,
        )
    }

    /// Channel naming in force.
    pub fn channels(&self) -> &Channels {
        &self.channels
    }

    /// This server's backplane name.
    pub fn server_name(&self) -> &str {
        &self.server_name
    }

    /// Whether this instance uses Redis at all.
    pub fn uses_redis(&self) -> bool {
        matches!(self.mode, Mode::Redis(_))
    }

    /// Whether Redis is connected and every channel subscribed.
    pub fn is_up(&self) -> bool {
        *self.up.borrow()
    }

    /// Waits up to `limit` for the backplane to be up; true if it is.
    pub async fn wait_up(&self, limit: Duration) -> bool {
        let mut up = self.up.clone();
        tokio::time::timeout(limit, up.wait_for(|u| *u))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Closes the Redis connections for good (on shutdown).
    pub fn stop(&self) {
        if let Mode::Redis(link) = &self.mode {
            link.task.abort();
            *write(&link.publisher) = None;
        }
    }

    /// PUBLISHes `payload` on `channel`; the reply is the number of
    /// subscribed instances (`None` in single-instance mode).
    pub async fn publish(
        &self,
        channel: String,
        payload: Vec<u8>,
    ) -> Result<Option<i64>, SimError> {
        if let Mode::Local { inbound } = &self.mode {
            let _ = inbound.send(Inbound { channel, payload });
            return Ok(None);
        }
        let Some(mut publisher) = self.publisher() else {
            tracing::warn!("not sent to {channel}: Redis is down");
            return Err(SimError::Backplane("Redis is not connected".into()));
        };
        let published = redis::cmd("PUBLISH")
            .arg(&channel)
            .arg(payload)
            .query_async::<i64>(&mut publisher.connection)
            .await;
        published.map(Some).map_err(|e| {
            tracing::warn!("not sent to {channel}: {e}");
            self.replace_if_broken(&publisher, &e);
            SimError::Backplane(e.to_string())
        })
    }

    /// PINGs Redis on the publishing connection.
    pub async fn ping(&self) -> Result<(), SimError> {
        let Some(mut publisher) = self.publisher() else {
            return Err(SimError::Backplane("Redis is not connected".into()));
        };
        redis::cmd("PING")
            .query_async::<()>(&mut publisher.connection)
            .await
            .map_err(|e| {
                self.replace_if_broken(&publisher, &e);
                SimError::Backplane(e.to_string())
            })
    }

    /// Opens a new publishing connection in the background when `error`
    /// says this one is gone (killed, reset, unrecoverable) while the
    /// subscriber connection may still look fine; sends fail until it is in
    /// place.
    fn replace_if_broken(&self, broken: &Publisher, error: &redis::RedisError) {
        let Mode::Redis(link) = &self.mode else {
            return;
        };
        if !is_connection_lost(error) || link.replacing.swap(true, Ordering::AcqRel) {
            return;
        }
        let (slot, replacing, serials) = (
            link.publisher.clone(),
            link.replacing.clone(),
            link.serials.clone(),
        );
        let (target, name, serial) = (link.target.clone(), link.client_name.clone(), broken.serial);
        tokio::spawn(async move {
            match open_publisher(&target, &name).await {
                Ok(connection) => {
                    let mut slot = write(&slot);
                    // Only if nothing newer (a reconnect) took its place meanwhile.
                    if slot.as_ref().is_some_and(|p| p.serial == serial) {
                        let serial = serials.fetch_add(1, Ordering::Relaxed) + 1;
                        *slot = Some(Publisher { serial, connection });
                        tracing::info!("replaced the broken publishing connection");
                    }
                }
                Err(e) => tracing::warn!("cannot replace the publishing connection: {e}"),
            }
            replacing.store(false, Ordering::Release);
        });
    }

    /// The publishing connection, while Redis is up.
    fn publisher(&self) -> Option<Publisher> {
        match &self.mode {
            Mode::Local { .. } => None,
            Mode::Redis(link) => read(&link.publisher).clone(),
        }
    }

    /// Subscribes `channel` for one more user; resolves once Redis confirmed.
    pub async fn subscribe(&self, channel: String) -> Result<(), SimError> {
        let Mode::Redis(link) = &self.mode else {
            return Ok(());
        };
        let (done, confirmed) = oneshot::channel();
        link.commands
            .send(Command::Subscribe { channel, done })
            .map_err(|_| SimError::Backplane("backplane stopped".into()))?;
        confirmed
            .await
            .unwrap_or_else(|_| Err(SimError::Backplane("backplane stopped".into())))
    }

    /// Releases one user of `channel`.
    pub fn unsubscribe(&self, channel: String) {
        if let Mode::Redis(link) = &self.mode {
            let _ = link.commands.send(Command::Unsubscribe { channel });
        }
    }

    /// Asks whichever instance owns `connection_id` to add it to or remove
    /// it from `group`, and waits for that instance's ack.
    pub async fn group_command(
        &self,
        action: GroupAction,
        group: &str,
        connection_id: &str,
    ) -> Result<(), SimError> {
        let Mode::Redis(link) = &self.mode else {
            // Single-instance: a connection that is not local exists nowhere.
            return Ok(());
        };
        let id = link
            .last_command_id
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_add(1);
        let (acked_tx, acked) = oneshot::channel();
        lock(&link.pending_acks).insert(id, acked_tx);
        let command = GroupCommand {
            id,
            server_name: self.server_name.clone(),
            action,
            group: group.to_owned(),
            connection_id: connection_id.to_owned(),
        };
        let sent = self
            .publish(self.channels.internal_groups(), command.encode())
            .await;
        let result = match sent {
            Err(e) => Err(e),
            Ok(_) => match tokio::time::timeout(ACK_TIMEOUT, acked).await {
                Ok(Ok(())) => Ok(()),
                _ => Err(SimError::AckTimeout(id)),
            },
        };
        lock(&link.pending_acks).remove(&id);
        result
    }

    /// Answers another server's group command.
    pub async fn ack(&self, command: &GroupCommand) -> Result<(), SimError> {
        let channel = self.channels.ack(&command.server_name);
        self.publish(channel, Ack { id: command.id }.encode())
            .await
            .map(drop)
    }
}

/// `<MachineName>_<32 lowercase hex>`, as ASP.NET names its servers.
fn server_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    format!("{host}_{:032x}", rand::random::<u128>())
}

/// The task that owns the Redis connections.
struct LinkTask {
    /// Where Redis is.
    target: RedisTarget,
    /// CLIENT SETNAME of both connections: the instance name.
    client_name: String,
    /// This server's ack channel; acks are settled here, not in the hub.
    ack_channel: String,
    /// Users per subscribed channel; resubscribed after every reconnect.
    refcounts: HashMap<String, usize>,
    /// Subscription changes, applied in arrival order.
    commands: mpsc::UnboundedReceiver<Command>,
    /// Shared with [`Backplane::publish`].
    publisher: Arc<RwLock<Option<Publisher>>>,
    /// Shared with [`Backplane::group_command`].
    pending_acks: Arc<Mutex<HashMap<u32, oneshot::Sender<()>>>>,
    /// The hub's inbound queue.
    inbound: mpsc::UnboundedSender<Inbound>,
    /// Up/down, for health and start-up.
    up: watch::Sender<bool>,
    /// Source of [`Publisher::serial`], shared with [`Link`].
    serials: Arc<AtomicU64>,
    /// Subscriptions asked for while Redis is down, each with its deadline:
    /// StackExchange.Redis keeps a command in its backlog until a connection
    /// comes back or the command times out, so a connection made during an
    /// outage gets `{}` and is dropped only then.
    backlog: Vec<(Instant, String, Confirmation)>,
}

/// Both connections of one Redis session.
struct Session {
    /// PUBLISH goes here.
    publisher: MultiplexedConnection,
    /// SUBSCRIBE / UNSUBSCRIBE.
    sink: PubSubSink,
    /// Messages; ends when the connection drops.
    stream: PubSubStream,
}

impl LinkTask {
    async fn run(mut self) {
        let mut backoff = Backoff::default();
        loop {
            match self.connect().await {
                Ok(session) => {
                    tracing::info!("backplane connected to {}", self.target);
                    backoff.reset();
                    let publisher = Publisher {
                        serial: self.serials.fetch_add(1, Ordering::Relaxed) + 1,
                        connection: session.publisher.clone(),
                    };
                    *write(&self.publisher) = Some(publisher);
                    let _ = self.up.send(true);
                    let ended = self.serve_backlog_then(session).await;
                    *write(&self.publisher) = None;
                    let _ = self.up.send(false);
                    if ended == Ended::Stopped {
                        return;
                    }
                    tracing::warn!("lost Redis at {}; reconnecting", self.target);
                }
                Err(e) => tracing::warn!("cannot reach Redis at {}: {e}", self.target),
            }
            if self.wait_while_down(backoff.pause()).await == Ended::Stopped {
                return;
            }
        }
    }

    /// Opens both connections to the primary node, names them and
    /// subscribes every channel in use.
    async fn connect(&self) -> Result<Session, String> {
        let node = self.target.primary().await.map_err(|e| e.to_string())?;
        if !self.target.is_single() {
            tracing::info!("backplane node of {}: {}", self.target, node.address);
        }
        let publisher = open_publisher(&node.target, &self.client_name).await?;
        let pubsub = tokio::time::timeout(
            REDIS_TIMEOUT,
            open_subscriber(&node.target, &self.client_name),
        )
        .await
        .map_err(|_| "timed out opening the subscriber connection".to_owned())??;
        let (mut sink, stream) = pubsub.split();
        // One SUBSCRIBE for every channel, so that nobody watching Redis
        // sees this instance half subscribed (e.g. live on `:all` but
        // without its ack channel yet).
        let channels: Vec<&String> = self.refcounts.keys().collect();
        if !channels.is_empty() {
            timed(sink.subscribe(channels)).await?;
        }
        Ok(Session {
            publisher,
            sink,
            stream,
        })
    }

    /// Subscribes what waited in the backlog, then serves the session.
    async fn serve_backlog_then(&mut self, mut session: Session) -> Ended {
        self.expire_backlog();
        for (_, channel, done) in std::mem::take(&mut self.backlog) {
            if done.is_closed() {
                continue; // nobody waits for it any more
            }
            if let Err(e) = self
                .apply(Command::Subscribe { channel, done }, &mut session.sink)
                .await
            {
                tracing::warn!("subscription change failed: {e}");
                return Ended::Lost;
            }
        }
        self.serve(session).await
    }

    /// Fails the backlog's subscriptions whose time is up, with
    /// StackExchange.Redis's words.
    fn expire_backlog(&mut self) {
        let now = Instant::now();
        let (expired, waiting) = std::mem::take(&mut self.backlog)
            .into_iter()
            .partition(|(deadline, _, _)| *deadline <= now);
        self.backlog = waiting;
        for (_, _, done) in expired {
            let _ = done.send(Err(SimError::Backplane(format!(
                "The message timed out in the backlog attempting to send because no connection \
                 became available, command=SUBSCRIBE, timeout: {}",
                REDIS_TIMEOUT.as_millis()
            ))));
        }
    }

    /// Runs one session until the connection drops or the backplane stops.
    async fn serve(&mut self, mut session: Session) -> Ended {
        loop {
            tokio::select! {
                command = self.commands.recv() => {
                    let Some(command) = command else { return Ended::Stopped };
                    if let Err(e) = self.apply(command, &mut session.sink).await {
                        tracing::warn!("subscription change failed: {e}");
                        return Ended::Lost;
                    }
                }
                message = session.stream.next() => {
                    let Some(message) = message else { return Ended::Lost };
                    self.route(message.get_channel_name(), message.get_payload_bytes());
                }
            }
        }
    }

    /// One subscription change while connected.
    async fn apply(&mut self, command: Command, sink: &mut PubSubSink) -> Result<(), String> {
        match command {
            Command::Subscribe { channel, done } => {
                let users = self.refcounts.get(&channel).copied().unwrap_or(0);
                if users == 0 {
                    if let Err(e) = timed(sink.subscribe(&channel)).await {
                        let _ = done.send(Err(SimError::Backplane(e.clone())));
                        return Err(e);
                    }
                }
                self.refcounts.insert(channel, users + 1);
                let _ = done.send(Ok(()));
            }
            Command::Unsubscribe { channel } => {
                if self.release(&channel) {
                    timed(sink.unsubscribe(&channel)).await?;
                }
            }
        }
        Ok(())
    }

    /// Drops one user of `channel`; true if it was the last.
    fn release(&mut self, channel: &str) -> bool {
        match self.refcounts.get_mut(channel) {
            Some(users) if *users > 1 => {
                *users -= 1;
                false
            }
            Some(_) => {
                self.refcounts.remove(channel);
                true
            }
            None => false,
        }
    }

    /// Settles an ack addressed to this server, or hands the message on.
    fn route(&self, channel: &str, payload: &[u8]) {
        if channel == self.ack_channel {
            match Ack::decode(payload) {
                Ok(ack) => {
                    if let Some(waiter) = lock(&self.pending_acks).remove(&ack.id) {
                        let _ = waiter.send(());
                    }
                }
                Err(e) => tracing::warn!("undecodable ack on {channel}: {e}"),
            }
            return;
        }
        let _ = self.inbound.send(Inbound {
            channel: channel.to_owned(),
            payload: payload.to_vec(),
        });
    }

    /// Waits out one back-off pause, keeping new subscriptions in the
    /// backlog until their timeout (a connection made while Redis is down
    /// gets `{}` and is closed when its subscribe times out, as ASP.NET's
    /// lifetime manager fails it) and still counting releases.
    async fn wait_while_down(&mut self, pause: Duration) -> Ended {
        let sleep = tokio::time::sleep(pause);
        tokio::pin!(sleep);
        loop {
            self.expire_backlog();
            let next_expiry = self.backlog.iter().map(|(deadline, _, _)| *deadline).min();
            tokio::select! {
                () = &mut sleep => return Ended::Lost,
                () = tokio::time::sleep_until(next_expiry.unwrap_or_else(|| Instant::now() + pause)),
                    if next_expiry.is_some() => {}
                command = self.commands.recv() => match command {
                    None => return Ended::Stopped,
                    Some(Command::Subscribe { channel, done }) => {
                        self.backlog.push((Instant::now() + REDIS_TIMEOUT, channel, done));
                    }
                    Some(Command::Unsubscribe { channel }) => {
                        self.release(&channel);
                    }
                },
            }
        }
    }
}

/// Why a session or pause ended.
#[derive(Debug, PartialEq, Eq)]
enum Ended {
    /// The connection dropped: reconnect.
    Lost,
    /// The backplane was dropped: finish.
    Stopped,
}

/// A multiplexed connection for PUBLISH to the target's primary node,
/// named `client_name` so MONITOR readers can tell which instance published.
async fn open_publisher(
    target: &RedisTarget,
    client_name: &str,
) -> Result<MultiplexedConnection, String> {
    let node = target.primary().await.map_err(|e| e.to_string())?;
    let client = node.target.client().map_err(|e| e.to_string())?;
    let named = open_named(&client, client_name, REDIS_TIMEOUT)
        .await
        .map_err(|e| e.to_string())?;
    // A stand-in is only useful if the feed can tell instances apart.
    match named.name_refused {
        Some(e) => Err(format!("CLIENT SETNAME {client_name}: {e}")),
        None => Ok(named.connection),
    }
}

/// The subscriber connection, named `client_name` as StackExchange.Redis
/// names its subscription connection too (`ServerEndPoint`'s handshake sends
/// CLIENT SETNAME on every physical connection, interactive or
/// subscription), so every SUBSCRIBE in MONITOR or CLIENT LIST has a name.
///
/// redis-rs cannot send a command on a RESP2 pub/sub connection, so over
/// plain TCP the stream is opened here, authenticated and named by hand,
/// then handed to redis-rs. Over TLS or a unix socket it stays unnamed.
/// `target` is a single server (a resolved node).
async fn open_subscriber(target: &RedisTarget, client_name: &str) -> Result<PubSub, String> {
    let client = target.client().map_err(|e| e.to_string())?;
    let info = client.get_connection_info();
    let ConnectionAddr::Tcp(host, port) = info.addr() else {
        tracing::debug!("subscriber connection left unnamed: not plain TCP");
        return client.get_async_pubsub().await.map_err(|e| e.to_string());
    };
    let mut stream = tokio::net::TcpStream::connect((host.as_str(), *port))
        .await
        .map_err(|e| e.to_string())?;
    let settings = info.redis_settings();
    let mut commands: Vec<Vec<&str>> = Vec::new();
    match (settings.username(), settings.password()) {
        (Some(user), Some(password)) => commands.push(vec!["AUTH", user, password]),
        (None, Some(password)) => commands.push(vec!["AUTH", password]),
        _ => {}
    }
    commands.push(vec!["CLIENT", "SETNAME", client_name]);
    let mut request = Vec::new();
    for command in &commands {
        request.extend_from_slice(format!("*{}\r\n", command.len()).as_bytes());
        for arg in command {
            request.extend_from_slice(format!("${}\r\n{arg}\r\n", arg.len()).as_bytes());
        }
    }
    stream
        .write_all(&request)
        .await
        .map_err(|e| e.to_string())?;
    for command in &commands {
        let reply = read_line(&mut stream).await?;
        if reply != "+OK" {
            return Err(format!("{}: {reply}", command[0]));
        }
    }
    // Already authenticated: redis-rs only selects the database.
    let rest = RedisConnectionInfo::default().set_db(settings.db());
    PubSub::new(&rest, stream).await.map_err(|e| e.to_string())
}

/// Reads one simple reply line (without CRLF), byte by byte so nothing
/// after it is consumed.
async fn read_line(stream: &mut tokio::net::TcpStream) -> Result<String, String> {
    let mut line = Vec::new();
    while !line.ends_with(b"\r\n") {
        let byte = stream.read_u8().await.map_err(|e| e.to_string())?;
        line.push(byte);
        if line.len() > 4096 {
            return Err("reply too long".into());
        }
    }
    line.truncate(line.len() - 2);
    Ok(String::from_utf8_lossy(&line).into_owned())
}

/// Runs one Redis round trip with [`REDIS_TIMEOUT`].
async fn timed(f: impl std::future::Future<Output = redis::RedisResult<()>>) -> Result<(), String> {
    match tokio::time::timeout(REDIS_TIMEOUT, f).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("Redis did not answer in time".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Server names follow ASP.NET's `<host>_<32 hex>` shape.
    #[test]
    fn server_name_shape() {
        let name = server_name();
        let (host, hex) = name.rsplit_once('_').unwrap();
        assert!(!host.is_empty());
        assert_eq!(hex.len(), 32);
        assert!(hex
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    }

    /// In single-instance mode a publish comes straight back inbound.
    #[tokio::test]
    async fn local_mode_loops_back() {
        let (b, mut inbound) = Backplane::start("a", None, Channels::conduit());
        assert_eq!(b.publish("ch".into(), vec![1, 2]).await.unwrap(), None);
        let m = inbound.recv().await.unwrap();
        assert_eq!(
            (m.channel.as_str(), m.payload.as_slice()),
            ("ch", &[1u8, 2][..])
        );
    }
}
