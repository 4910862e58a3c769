//! One SignalR connection on the server side: handshake, `0x1E` records,
//! hub invocations, keep-alive pings and the client timeout.
//!
//! It is written over any `Sink`/`Stream` of [`Frame`]s, so the WebSocket
//! route drives it with a real socket and the unit tests with channels.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use protocol::connection::{Heartbeat, Liveness};
use protocol::handshake::{HandshakeRequest, HandshakeResponse};
use protocol::message::HubMessage;
use protocol::RecordSplitter;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::hub::{completion, Hub, OUTBOX_CAPACITY};

/// WebSocket close code for a normal end.
pub const CLOSE_NORMAL: u16 = 1000;
/// WebSocket close code for "the server cannot take you now" (Redis down).
pub const CLOSE_INTERNAL_ERROR: u16 = 1011;
/// The only hub protocol Conduit registers.
const PROTOCOL: &str = "json";
/// Highest JSON hub protocol version ASP.NET Core serves.
const MAX_VERSION: u32 = 2;
/// What ASP.NET tells a client whose connection ended in a protocol error.
const CLOSED_WITH_ERROR: &str = "Connection closed with an error.";

/// One WebSocket message, as far as SignalR cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// Record bytes (text frames; binary ones are read the same way).
    Text(Bytes),
    /// The WebSocket is closing with this code and reason.
    Close(u16, String),
}

/// The limits one connection runs under.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Ping interval and client timeout.
    pub liveness: Liveness,
    /// Time allowed for the handshake.
    pub handshake_timeout: Duration,
    /// Largest record accepted.
    pub max_record: usize,
}

/// Why the connection ended, for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// The client closed or went away.
    ClientLeft,
    /// No handshake in time, or a bad one.
    Handshake(String),
    /// Redis was down, so `OnConnectedAsync` failed.
    Refused(String),
    /// A record that is not a valid hub message, or too large.
    ProtocolError(String),
    /// The client was silent past the timeout.
    TimedOut,
    /// The server is shutting down.
    Shutdown,
}

/// Runs connection `id` to its end and tells the hub it is gone.
pub async fn run<Si, St, E>(
    hub: Arc<Hub>,
    id: String,
    limits: Limits,
    sink: Si,
    stream: St,
    shutdown: watch::Receiver<bool>,
) -> Ending
where
    Si: Sink<Frame> + Unpin,
    St: Stream<Item = Result<Frame, E>> + Unpin,
    E: std::fmt::Display,
{
    let (outbox, inbox) = mpsc::channel(OUTBOX_CAPACITY);
    let mut conn = Connection {
        hub,
        id,
        limits,
        sink,
        stream,
        splitter: RecordSplitter::new(limits.max_record),
        outbox,
        inbox,
        origin: Instant::now(),
    };
    let ending = conn.drive(shutdown).await;
    conn.hub.disconnect(&conn.id);
    tracing::debug!("connection {} ended: {ending:?}", conn.id);
    ending
}

/// The state of one live connection.
struct Connection<Si, St> {
    /// The hub it belongs to.
    hub: Arc<Hub>,
    /// Its public connection id.
    id: String,
    /// Its limits.
    limits: Limits,
    /// Frames out.
    sink: Si,
    /// Frames in.
    stream: St,
    /// Splits incoming bytes into records.
    splitter: RecordSplitter,
    /// Given to the hub so broadcasts and replies reach this connection.
    outbox: mpsc::Sender<Bytes>,
    /// Everything to send, in order: broadcasts, replies, completions.
    inbox: mpsc::Receiver<Bytes>,
    /// Zero of the heartbeat's millisecond clock.
    origin: Instant,
}

/// What woke the connection up.
enum Event<E> {
    /// A frame from the client, or the end of its stream.
    Frame(Option<Result<Frame, E>>),
    /// A record to send.
    Outgoing(Bytes),
    /// A ping or the timeout may be due.
    Tick,
    /// The server is shutting down.
    Stop,
}

/// What the next incoming frame amounted to.
enum Incoming {
    /// Complete records, separators removed.
    Records(Vec<Vec<u8>>),
    /// The connection is over.
    End(Ending),
}

impl<Si, St, E> Connection<Si, St>
where
    Si: Sink<Frame> + Unpin,
    St: Stream<Item = Result<Frame, E>> + Unpin,
    E: std::fmt::Display,
{
    fn now_ms(&self) -> u64 {
        self.origin.elapsed().as_millis() as u64
    }

    async fn drive(&mut self, mut shutdown: watch::Receiver<bool>) -> Ending {
        let after_handshake = match self.handshake().await {
            Ok(rest) => rest,
            Err(ending) => return ending,
        };
        let mut heartbeat = Heartbeat::new(self.limits.liveness, self.now_ms());
        for record in after_handshake {
            if let Err(ending) = self.handle(&record).await {
                return ending;
            }
        }
        loop {
            let wait = Duration::from_millis(heartbeat.next_check_in_ms(self.now_ms()));
            let event = tokio::select! {
                frame = self.stream.next() => Event::Frame(frame),
                Some(record) = self.inbox.recv() => Event::Outgoing(record),
                () = tokio::time::sleep(wait) => Event::Tick,
                _ = shutdown.wait_for(|stop| *stop) => Event::Stop,
            };
            match event {
                Event::Frame(frame) => {
                    heartbeat.received(self.now_ms());
                    let records = match self.split(frame).await {
                        Incoming::Records(r) => r,
                        Incoming::End(ending) => return ending,
                    };
                    for record in records {
                        if let Err(ending) = self.handle(&record).await {
                            return ending;
                        }
                    }
                }
                Event::Outgoing(record) => {
                    if self.sink.send(Frame::Text(record)).await.is_err() {
                        return Ending::ClientLeft;
                    }
                    heartbeat.sent(self.now_ms());
                }
                Event::Tick => {
                    let now = self.now_ms();
                    if heartbeat.timed_out(now) {
                        self.close(CLOSE_NORMAL, "client timeout").await;
                        return Ending::TimedOut;
                    }
                    if heartbeat.ping_due(now) {
                        if self.send_record(&HubMessage::Ping).await.is_err() {
                            return Ending::ClientLeft;
                        }
                        heartbeat.sent(now);
                    }
                }
                Event::Stop => {
                    let close = HubMessage::Close {
                        error: None,
                        allow_reconnect: true,
                    };
                    let _ = self.send_record(&close).await;
                    self.close(CLOSE_NORMAL, "server shutting down").await;
                    return Ending::Shutdown;
                }
            }
        }
    }

    /// Reads the handshake, runs `OnConnectedAsync` and answers `{}`.
    /// Returns the records that followed the handshake in the same frame.
    async fn handshake(&mut self) -> Result<Vec<Vec<u8>>, Ending> {
        let deadline = Instant::now() + self.limits.handshake_timeout;
        let mut records = Vec::new();
        while records.is_empty() {
            match tokio::time::timeout_at(deadline, self.next_records()).await {
                Err(_) => {
                    self.close(CLOSE_NORMAL, "handshake timeout").await;
                    return Err(Ending::Handshake("no handshake in time".into()));
                }
                Ok(Incoming::End(ending)) => return Err(ending),
                Ok(Incoming::Records(r)) => records = r,
            }
        }
        let first = records.remove(0);
        let refusal = match HandshakeRequest::parse(&first) {
            Err(e) => Some(format!("Handshake was canceled: {e}")),
            Ok(r) if r.protocol != PROTOCOL => {
                HandshakeResponse::unsupported_protocol(&r.protocol).error
            }
            Ok(r) if r.version > MAX_VERSION => Some(format!(
                "The server does not support version {} of the '{}' protocol.",
                r.version, r.protocol
            )),
            Ok(_) => None,
        };
        if let Some(error) = refusal {
            let response = HandshakeResponse {
                error: Some(error.clone()),
            };
            let _ = self
                .send_bytes(protocol::framing::frame(&response.to_json()))
                .await;
            self.close(CLOSE_NORMAL, "handshake refused").await;
            return Err(Ending::Handshake(error));
        }
        if let Err(e) = self.hub.connect(&self.id, self.outbox.clone()).await {
            tracing::warn!("connection {} refused: {e}", self.id);
            self.close(CLOSE_INTERNAL_ERROR, "backplane unavailable")
                .await;
            return Err(Ending::Refused(e.to_string()));
        }
        let ok = protocol::framing::frame(&HandshakeResponse::ok().to_json());
        self.send_bytes(ok).await.map_err(|()| Ending::ClientLeft)?;
        Ok(records)
    }

    /// Waits for the next frame that completes at least one record.
    async fn next_records(&mut self) -> Incoming {
        loop {
            let frame = self.stream.next().await;
            match self.split(frame).await {
                Incoming::Records(r) if r.is_empty() => continue,
                other => return other,
            }
        }
    }

    /// Splits one incoming frame into records.
    async fn split(&mut self, frame: Option<Result<Frame, E>>) -> Incoming {
        let bytes = match frame {
            None | Some(Ok(Frame::Close(..))) => return Incoming::End(Ending::ClientLeft),
            Some(Err(e)) => {
                tracing::debug!("connection {}: transport error: {e}", self.id);
                return Incoming::End(Ending::ClientLeft);
            }
            Some(Ok(Frame::Text(bytes))) => bytes,
        };
        match self.splitter.push(&bytes) {
            Ok(records) => Incoming::Records(records),
            Err(e) => Incoming::End(self.protocol_error(e.to_string()).await),
        }
    }

    /// Handles one hub message from the client.
    async fn handle(&mut self, record: &[u8]) -> Result<(), Ending> {
        let message = match HubMessage::parse(record) {
            Ok(m) => m,
            Err(e) => return Err(self.protocol_error(e.to_string()).await),
        };
        match message {
            HubMessage::Invocation {
                invocation_id,
                target,
                arguments,
                ..
            } => {
                let result = self.hub.invoke(&self.id, &target, &arguments).await;
                // Fire-and-forget invocations get no Completion.
                if let Some(invocation_id) = invocation_id {
                    self.queue(completion(invocation_id, result));
                }
            }
            HubMessage::StreamInvocation {
                invocation_id,
                target,
                ..
            } => {
                let error = format!(
                    "Failed to invoke '{target}' due to an error on the server. HubException: Method does not exist."
                );
                self.queue(completion(invocation_id, Err(error)));
            }
            // A client result: re-encoded as the server's protocol writes it.
            HubMessage::Completion {
                ref invocation_id, ..
            } => {
                let record = message.to_record();
                self.hub
                    .client_result(&self.id, invocation_id, record)
                    .await;
            }
            HubMessage::Close { .. } => return Err(Ending::ClientLeft),
            // Pings only refresh the timeout; the rest needs no answer here.
            _ => {}
        }
        Ok(())
    }

    /// Queues a message behind whatever is already waiting, keeping order.
    fn queue(&self, message: HubMessage) {
        let _ = self.outbox.try_send(Bytes::from(message.to_record()));
    }

    /// Ends the connection as ASP.NET does on a bad record: a Close with an
    /// error, then nothing else.
    async fn protocol_error(&mut self, why: String) -> Ending {
        tracing::info!("connection {}: protocol error: {why}", self.id);
        let close = HubMessage::Close {
            error: Some(CLOSED_WITH_ERROR.into()),
            allow_reconnect: false,
        };
        let _ = self.send_record(&close).await;
        self.close(CLOSE_NORMAL, "protocol error").await;
        Ending::ProtocolError(why)
    }

    async fn send_record(&mut self, message: &HubMessage) -> Result<(), ()> {
        self.send_bytes(message.to_record()).await
    }

    async fn send_bytes(&mut self, bytes: Vec<u8>) -> Result<(), ()> {
        self.sink
            .send(Frame::Text(Bytes::from(bytes)))
            .await
            .map_err(drop)
    }

    async fn close(&mut self, code: u16, reason: &str) {
        let _ = self.sink.send(Frame::Close(code, reason.into())).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::SimConfig;
    use protocol::message::Outcome;
    use tokio_stream::wrappers::UnboundedReceiverStream;

    /// A connection under test: what the client sends and what it receives.
    struct Harness {
        /// Frames from the "client".
        to_server: mpsc::UnboundedSender<Result<Frame, String>>,
        /// Frames the server wrote.
        from_server: mpsc::UnboundedReceiver<Frame>,
        /// The connection task.
        task: tokio::task::JoinHandle<Ending>,
        /// Flip to shut the server down.
        stop: watch::Sender<bool>,
    }

    fn limits() -> Limits {
        Limits {
            liveness: Liveness {
                keep_alive_ms: 30_000,
                timeout_ms: 60_000,
            },
            handshake_timeout: Duration::from_secs(15),
            max_record: 256,
        }
    }

    async fn start(limits: Limits) -> Harness {
        let hub = Hub::start(SimConfig::new("t", None)).await;
        let (to_server, stream) = mpsc::unbounded_channel();
        let stream = UnboundedReceiverStream::new(stream);
        let (sink_tx, from_server) = mpsc::unbounded_channel();
        let sink = Box::pin(futures_util::sink::unfold(
            sink_tx,
            |tx, frame: Frame| async move { tx.send(frame).map(|()| tx) },
        ));
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(run(hub, "c1".into(), limits, sink, stream, stop_rx));
        Harness {
            to_server,
            from_server,
            task,
            stop,
        }
    }

    impl Harness {
        fn send(&self, text: &str) {
            self.to_server
                .send(Ok(Frame::Text(Bytes::from(text.to_owned()))))
                .unwrap();
        }
        async fn next(&mut self) -> Frame {
            self.from_server.recv().await.expect("a frame")
        }
        async fn next_message(&mut self) -> HubMessage {
            match self.next().await {
                Frame::Text(b) => {
                    HubMessage::parse(b.strip_suffix(b"\x1e").expect("one record")).unwrap()
                }
                other => panic!("expected a record, got {other:?}"),
            }
        }
    }

    fn text(s: &str) -> Frame {
        Frame::Text(Bytes::from(s.to_owned()))
    }

    /// A json handshake is answered with exactly `{}` + 0x1E.
    #[tokio::test]
    async fn handshake_ok() {
        let mut h = start(limits()).await;
        h.send("{\"protocol\":\"json\",\"version\":1}\x1e");
        assert_eq!(h.next().await, text("{}\x1e"));
    }

    /// An unsupported protocol gets the error response, then a close.
    #[tokio::test]
    async fn unsupported_protocol_refused() {
        let mut h = start(limits()).await;
        h.send("{\"protocol\":\"messagepack\",\"version\":1}\x1e");
        assert_eq!(
            h.next().await,
            text("{\"error\":\"Requested protocol 'messagepack' is not available.\"}\x1e")
        );
        assert!(matches!(h.next().await, Frame::Close(CLOSE_NORMAL, _)));
    }

    /// Without a handshake the server closes after the handshake timeout.
    #[tokio::test(start_paused = true)]
    async fn handshake_timeout_closes() {
        let mut h = start(limits()).await;
        assert!(matches!(h.next().await, Frame::Close(..)));
        assert!(matches!(h.task.await.unwrap(), Ending::Handshake(_)));
    }

    /// Records after the handshake in the same frame are processed.
    #[tokio::test]
    async fn records_after_handshake_in_same_frame() {
        let mut h = start(limits()).await;
        h.send("{\"protocol\":\"json\",\"version\":1}\x1e{\"type\":1,\"invocationId\":\"0\",\"target\":\"Nope\",\"arguments\":[]}\x1e");
        assert_eq!(h.next().await, text("{}\x1e"));
        assert!(matches!(
            h.next_message().await,
            HubMessage::Completion {
                outcome: Outcome::Error(_),
                ..
            }
        ));
    }

    /// RequestCurrentState's reply comes before its Completion.
    #[tokio::test]
    async fn request_current_state_reply_then_completion() {
        let mut h = start(limits()).await;
        h.send("{\"protocol\":\"json\",\"version\":1}\x1e");
        h.next().await;
        h.send("{\"arguments\":[],\"invocationId\":\"0\",\"target\":\"RequestCurrentState\",\"type\":1}\x1e");
        let reply = h.next_message().await;
        let HubMessage::Invocation {
            target, arguments, ..
        } = reply
        else {
            panic!("expected the reply, got {reply:?}")
        };
        assert_eq!(target, "StateUpdateRequested");
        assert!(arguments[0]["timestamp"].is_string());
        assert_eq!(
            h.next().await,
            text("{\"type\":3,\"invocationId\":\"0\",\"result\":null}\x1e")
        );
    }

    /// A malformed record gets a Close with an error and nothing more.
    #[tokio::test]
    async fn malformed_record_closes_with_error() {
        let mut h = start(limits()).await;
        h.send("{\"protocol\":\"json\",\"version\":1}\x1e");
        h.next().await;
        h.send("not json\x1e");
        assert_eq!(
            h.next().await,
            text("{\"type\":7,\"error\":\"Connection closed with an error.\"}\x1e")
        );
        assert!(matches!(h.next().await, Frame::Close(..)));
        assert!(matches!(h.task.await.unwrap(), Ending::ProtocolError(_)));
        assert!(h.from_server.recv().await.is_none());
    }

    /// A record over the size limit is a protocol error too.
    #[tokio::test]
    async fn oversized_record_closes_with_error() {
        let mut h = start(limits()).await;
        h.send("{\"protocol\":\"json\",\"version\":1}\x1e");
        h.next().await;
        h.send(&"x".repeat(300));
        assert!(matches!(
            h.next_message().await,
            HubMessage::Close { error: Some(_), .. }
        ));
    }

    /// An idle connection gets a Ping every keep-alive interval.
    #[tokio::test(start_paused = true)]
    async fn idle_connection_is_pinged() {
        let mut h = start(limits()).await;
        h.send("{\"protocol\":\"json\",\"version\":1}\x1e");
        h.next().await;
        let before = Instant::now();
        assert_eq!(h.next_message().await, HubMessage::Ping);
        assert!(before.elapsed() >= Duration::from_secs(30));
    }

    /// A client silent past the timeout is dropped.
    #[tokio::test(start_paused = true)]
    async fn silent_client_times_out() {
        let mut h = start(limits()).await;
        h.send("{\"protocol\":\"json\",\"version\":1}\x1e");
        h.next().await;
        assert_eq!(h.next_message().await, HubMessage::Ping);
        assert!(matches!(h.next().await, Frame::Close(..)));
        assert_eq!(h.task.await.unwrap(), Ending::TimedOut);
    }

    /// Shutdown sends Close with allowReconnect before closing.
    #[tokio::test]
    async fn shutdown_allows_reconnect() {
        let mut h = start(limits()).await;
        h.send("{\"protocol\":\"json\",\"version\":1}\x1e");
        h.next().await;
        h.stop.send(true).unwrap();
        assert_eq!(
            h.next().await,
            text("{\"type\":7,\"allowReconnect\":true}\x1e")
        );
        assert!(matches!(h.next().await, Frame::Close(CLOSE_NORMAL, _)));
    }
}
