//! One SignalR connection on the server side: handshake, then messages in
//! the hub protocol it chose (`0x1E` JSON records in text frames, or
//! length-prefixed MessagePack in binary frames), hub invocations,
//! keep-alive pings and the client timeout, in the order and with the texts
//! of ASP.NET Core's `HubConnectionHandler` and `HubConnectionContext`.
//!
//! It is written over any `Sink`/`Stream` of [`Frame`]s, so the WebSocket
//! route drives it with a real socket and the unit tests with channels.
//!
//! Timers are made once per connection and re-armed, never rebuilt per
//! message: a broadcast fanned out to thousands of connections then costs
//! no timer-wheel work at all.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use protocol::connection::Liveness;
use protocol::framing::FirstRecord;
use protocol::handshake::{HandshakeRequest, HandshakeResponse};
use protocol::hub_protocol::MessageSplitter;
use protocol::message::HubMessage;
use protocol::{HubProtocol, RecordSplitter};
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, MissedTickBehavior};

use super::hub::{completion, Caller, ConnectFailure, Hub, Outgoing, OUTBOX_CAPACITY};

/// WebSocket close code for a normal end.
pub const CLOSE_NORMAL: u16 = 1000;
/// WebSocket close code ASP.NET's WebSocket transport uses when the
/// application failed (`WebSocketsServerTransport.StartSending`): what a
/// client sees after `{}` when Redis is down.
pub const CLOSE_INTERNAL_ERROR: u16 = 1011;
/// Highest hub protocol version ASP.NET Core serves (JSON 2; MessagePack
/// is at 1, and ASP.NET accepts any version up to the protocol's own).
fn max_version(protocol: HubProtocol) -> u32 {
    match protocol {
        HubProtocol::Json => 2,
        HubProtocol::MessagePack => 1,
    }
}
/// What ASP.NET tells a client whose connection ended in an error.
const CLOSED_WITH_ERROR: &str = "Connection closed with an error.";

/// One WebSocket message, as far as SignalR cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// Bytes in a text frame: JSON records, and every handshake refusal.
    Text(Bytes),
    /// Bytes in a binary frame: what a MessagePack connection gets once its
    /// handshake chose it (`TransferFormat.Binary`), `{}` included. Either
    /// kind is read the same way.
    Binary(Bytes),
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
    /// `MaximumReceiveMessageSize`: a record plus its separator must fit.
    pub max_record: usize,
}

/// Why the connection ended, for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// The client closed or went away.
    ClientLeft,
    /// No handshake in time, or a bad one.
    Handshake(String),
    /// Redis was down, so `OnConnectedAsync` failed after the handshake.
    Refused(String),
    /// A record that is not a valid hub message, or too large.
    ProtocolError(String),
    /// The hub aborted the connection (a backplane message it cannot write).
    Aborted(String),
    /// The client was silent past the timeout.
    TimedOut,
    /// The server is shutting down.
    Shutdown,
}

/// Runs connection `id` (which presented `virtual_key`, if any) to its end
/// and tells the hub it is gone.
pub async fn run<Si, St, E>(
    hub: Arc<Hub>,
    id: String,
    virtual_key: Option<u32>,
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
        virtual_key,
        limits,
        sink,
        stream,
        handshake: RecordSplitter::counting_separator(limits.max_record),
        protocol: HubProtocol::Json,
        splitter: HubProtocol::Json.splitter(limits.max_record),
        outbox,
        inbox,
        client_timeout: None,
    };
    let ending = conn.drive(shutdown).await;
    conn.hub.disconnect(&conn.id).await;
    tracing::debug!("connection {} ended: {ending:?}", conn.id);
    ending
}

/// The state of one live connection.
struct Connection<Si, St> {
    /// The hub it belongs to.
    hub: Arc<Hub>,
    /// Its public connection id.
    id: String,
    /// The virtual key id its request presented (secure hubs).
    virtual_key: Option<u32>,
    /// Its limits.
    limits: Limits,
    /// Frames out.
    sink: Si,
    /// Frames in.
    stream: St,
    /// Splits the handshake off: it is `0x1E`-framed whatever the protocol.
    handshake: RecordSplitter,
    /// The protocol the handshake chose (JSON until then).
    protocol: HubProtocol,
    /// Splits incoming bytes into messages in that protocol's framing.
    splitter: MessageSplitter,
    /// Given to the hub so broadcasts and replies reach this connection.
    outbox: mpsc::Sender<Outgoing>,
    /// Everything to send, in order: broadcasts, replies, completions.
    inbox: mpsc::Receiver<Outgoing>,
    /// When anything last arrived, once the client's first Ping armed the
    /// timeout (`HubConnectionContext.StartClientTimeout`); `None` before.
    client_timeout: Option<Instant>,
}

/// What woke the connection up.
enum Event<E> {
    /// A frame from the client, or the end of its stream.
    Frame(Option<Result<Frame, E>>),
    /// Something the hub wants done.
    Outgoing(Outgoing),
    /// The keep-alive cadence came round.
    Ping,
    /// The client-timeout deadline passed (it may have moved since).
    Deadline,
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
    async fn drive(&mut self, mut shutdown: watch::Receiver<bool>) -> Ending {
        let after_handshake = match self.handshake().await {
            Ok(rest) => rest,
            Err(ending) => return ending,
        };
        if let Err(ending) = self.on_connected().await {
            return ending;
        }
        for record in after_handshake {
            if let Err(ending) = self.handle(&record).await {
                return ending;
            }
        }
        // An interval cannot have a zero period (`--keep-alive 0`).
        let keep_alive = Duration::from_millis(self.limits.liveness.keep_alive_ms.max(1));
        let timeout = Duration::from_millis(self.limits.liveness.timeout_ms);
        // Pings on a fixed cadence whatever else was sent, as ASP.NET's
        // KeepAliveTick does: only a ping moves its clock.
        let mut pings = tokio::time::interval_at(Instant::now() + keep_alive, keep_alive);
        pings.set_missed_tick_behavior(MissedTickBehavior::Delay);
        // One Sleep for the client timeout, moved only when it fires early
        // (the last receipt is a plain Instant, updated for free).
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let stop = shutdown.wait_for(|stop| *stop);
        tokio::pin!(stop);
        loop {
            let armed = self.client_timeout.is_some();
            let event = tokio::select! {
                frame = self.stream.next() => Event::Frame(frame),
                Some(outgoing) = self.inbox.recv() => Event::Outgoing(outgoing),
                _ = pings.tick() => Event::Ping,
                () = &mut deadline, if armed => Event::Deadline,
                _ = &mut stop => Event::Stop,
            };
            match event {
                Event::Frame(frame) => {
                    let records = match self.split(frame).await {
                        Incoming::Records(r) => r,
                        Incoming::End(ending) => return ending,
                    };
                    let received = !records.is_empty();
                    let was_armed = self.client_timeout.is_some();
                    for record in records {
                        if let Err(ending) = self.handle(&record).await {
                            return ending;
                        }
                    }
                    if let Some(last) = self.client_timeout.as_mut().filter(|_| received) {
                        *last = Instant::now();
                        if !was_armed {
                            deadline.as_mut().reset(*last + timeout);
                        }
                    }
                }
                Event::Outgoing(Outgoing::Record(record)) => {
                    if self.send_bytes(record).await.is_err() {
                        return Ending::ClientLeft;
                    }
                }
                Event::Outgoing(Outgoing::Abort(why)) => {
                    tracing::info!("connection {} aborted: {why}", self.id);
                    self.close_with_error(true, "aborted").await;
                    return Ending::Aborted(why);
                }
                Event::Ping => {
                    if self.send_record(&HubMessage::Ping).await.is_err() {
                        return Ending::ClientLeft;
                    }
                }
                Event::Deadline => {
                    let last = self.client_timeout.unwrap_or_else(Instant::now);
                    if last.elapsed() >= timeout {
                        // CheckClientTimeout sets a CloseException and
                        // aborts allowing reconnect.
                        self.close_with_error(true, "client timeout").await;
                        return Ending::TimedOut;
                    }
                    deadline.as_mut().reset(last + timeout);
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

    /// Reads the handshake and answers it (`HubConnectionContext.HandshakeAsync`),
    /// switching to the protocol it chose. Returns the messages that
    /// followed the handshake in the same frame.
    async fn handshake(&mut self) -> Result<Vec<Vec<u8>>, Ending> {
        let deadline = Instant::now() + self.limits.handshake_timeout;
        let FirstRecord { record, rest } =
            match tokio::time::timeout_at(deadline, self.next_handshake_record()).await {
                Err(_) => {
                    self.refuse(HandshakeResponse::canceled()).await;
                    return Err(Ending::Handshake("no handshake in time".into()));
                }
                Ok(Err(ending)) => return Err(ending),
                Ok(Ok(found)) => found,
            };
        let served = &self.hub.config().protocols;
        let chosen = match HandshakeRequest::parse(&record) {
            Err(e) => {
                tracing::debug!("connection {}: bad handshake: {e}", self.id);
                Err(HandshakeResponse::unparsable())
            }
            Ok(r) => match HubProtocol::from_name(&r.protocol).filter(|p| served.contains(p)) {
                None => Err(HandshakeResponse::unsupported_protocol(&r.protocol)),
                Some(p) if r.version > max_version(p) => Err(HandshakeResponse::refused(format!(
                    "The server does not support version {} of the '{}' protocol.",
                    r.version, r.protocol
                ))),
                Some(p) => Ok(p),
            },
        };
        let protocol = match chosen {
            Ok(p) => p,
            Err(response) => {
                let error = response.error.clone().unwrap_or_default();
                self.refuse(response).await;
                return Err(Ending::Handshake(error));
            }
        };
        // The transfer format is set before `{}` is written, so a
        // MessagePack client gets even that in a binary frame.
        self.protocol = protocol;
        self.splitter = protocol.splitter(self.limits.max_record);
        let ok = protocol::framing::frame(&HandshakeResponse::ok().to_json());
        self.send_bytes(ok).await.map_err(|()| Ending::ClientLeft)?;
        match self.splitter.push(&rest) {
            Ok(messages) => Ok(messages),
            Err(e) => Err(self.protocol_error(e.to_string()).await),
        }
    }

    /// After `{}`, as in `HubConnectionHandler.OnConnectedAsync`: the
    /// lifetime manager, then the hub. A failing lifetime manager escapes
    /// the handler (WebSocket close 1011, no Close message); a failing hub
    /// gets a Close with an error that forbids reconnecting.
    async fn on_connected(&mut self) -> Result<(), Ending> {
        let caller = Caller {
            protocol: self.protocol,
            virtual_key: self.virtual_key,
        };
        match self
            .hub
            .connect(&self.id, self.outbox.clone(), caller)
            .await
        {
            Ok(()) => Ok(()),
            Err(failure) => {
                tracing::warn!("connection {} refused: {failure}", self.id);
                match failure {
                    ConnectFailure::LifetimeManager(_) => {
                        self.close(CLOSE_INTERNAL_ERROR, "").await;
                    }
                    ConnectFailure::Hub(_) => self.close_with_error(false, "").await,
                }
                Err(Ending::Refused(failure.to_string()))
            }
        }
    }

    /// Writes a handshake refusal (in a text frame: no protocol was
    /// chosen), then closes.
    async fn refuse(&mut self, response: HandshakeResponse) {
        let _ = self
            .send_bytes(protocol::framing::frame(&response.to_json()))
            .await;
        self.close(CLOSE_NORMAL, "").await;
    }

    /// Waits for the frame that completes the handshake record; returns it
    /// and the raw bytes after it. A handshake over the size limit is
    /// "canceled", as ASP.NET says.
    async fn next_handshake_record(&mut self) -> Result<FirstRecord, Ending> {
        loop {
            let bytes = match self.stream.next().await {
                Some(Ok(Frame::Text(bytes) | Frame::Binary(bytes))) => bytes,
                other => return Err(self.transport_ended(other)),
            };
            match self.handshake.push_first(&bytes) {
                Ok(None) => continue,
                Ok(Some(found)) => return Ok(found),
                Err(e) => {
                    self.refuse(HandshakeResponse::canceled()).await;
                    return Err(Ending::Handshake(e.to_string()));
                }
            }
        }
    }

    /// The ending for a stream that gave no text frame.
    fn transport_ended(&self, frame: Option<Result<Frame, E>>) -> Ending {
        if let Some(Err(e)) = frame {
            tracing::debug!("connection {}: transport error: {e}", self.id);
        }
        Ending::ClientLeft
    }

    /// Splits one incoming frame into records.
    async fn split(&mut self, frame: Option<Result<Frame, E>>) -> Incoming {
        let bytes = match frame {
            Some(Ok(Frame::Text(bytes) | Frame::Binary(bytes))) => bytes,
            other => return Incoming::End(self.transport_ended(other)),
        };
        match self.splitter.push(&bytes) {
            Ok(records) => Incoming::Records(records),
            Err(e) => Incoming::End(self.protocol_error(e.to_string()).await),
        }
    }

    /// Handles one hub message from the client.
    async fn handle(&mut self, record: &[u8]) -> Result<(), Ending> {
        let message = match self.protocol.parse(record) {
            Ok(m) => m,
            Err(e) => return Err(self.protocol_error(e.to_string()).await),
        };
        match message {
            HubMessage::Invocation {
                invocation_id,
                target,
                arguments,
                stream_ids,
                ..
            } => {
                let result = self
                    .hub
                    .invoke(&self.id, &target, &arguments, stream_ids.len())
                    .await;
                // Fire-and-forget invocations get no Completion.
                if let Some(invocation_id) = invocation_id {
                    self.queue(completion(invocation_id, result));
                }
            }
            // None of Conduit's methods streams: refused before anything runs.
            HubMessage::StreamInvocation {
                invocation_id,
                target,
                ..
            } => {
                let error = self.hub.stream_invocation_error(&target);
                self.queue(completion(invocation_id, Err(error)));
            }
            // A client result: re-encoded as the server's protocol writes it.
            HubMessage::Completion {
                ref invocation_id, ..
            } => {
                self.hub
                    .client_result(&self.id, invocation_id, &message)
                    .await;
            }
            // The client's first Ping arms the client timeout
            // (DefaultHubDispatcher.DispatchMessageAsync → StartClientTimeout).
            HubMessage::Ping => {
                self.client_timeout.get_or_insert_with(Instant::now);
            }
            HubMessage::Close { .. } => return Err(Ending::ClientLeft),
            _ => {}
        }
        Ok(())
    }

    /// Queues a message behind whatever is already waiting, keeping order.
    fn queue(&self, message: HubMessage) {
        let _ = self.outbox.try_send(Outgoing::Record(Bytes::from(
            self.protocol.encode(&message),
        )));
    }

    /// Ends the connection as ASP.NET does on a bad record: a Close with an
    /// error that allows reconnecting (only `Abort()` forbids it), then
    /// nothing else.
    async fn protocol_error(&mut self, why: String) -> Ending {
        tracing::info!("connection {}: protocol error: {why}", self.id);
        self.close_with_error(true, "protocol error").await;
        Ending::ProtocolError(why)
    }

    /// Sends `{"type":7,"error":"Connection closed with an error."…}`, then
    /// closes the socket normally (the handler caught the exception).
    async fn close_with_error(&mut self, allow_reconnect: bool, reason: &str) {
        let close = HubMessage::Close {
            error: Some(CLOSED_WITH_ERROR.into()),
            allow_reconnect,
        };
        let _ = self.send_record(&close).await;
        self.close(CLOSE_NORMAL, reason).await;
    }

    async fn send_record(&mut self, message: &HubMessage) -> Result<(), ()> {
        self.send_bytes(self.protocol.encode(message)).await
    }

    async fn send_bytes(&mut self, bytes: impl Into<Bytes>) -> Result<(), ()> {
        self.sink.send(self.frame(bytes.into())).await.map_err(drop)
    }

    /// Bytes in the frame kind of the connection's protocol.
    fn frame(&self, bytes: Bytes) -> Frame {
        if self.protocol.is_binary() {
            Frame::Binary(bytes)
        } else {
            Frame::Text(bytes)
        }
    }

    async fn close(&mut self, code: u16, reason: &str) {
        let _ = self.sink.send(Frame::Close(code, reason.into())).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::profiles::NAVIGATION;
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
        /// The hub, to broadcast and to look at groups.
        hub: Arc<Hub>,
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
        start_with(SimConfig::new("t", None), limits).await
    }

    async fn start_with(config: SimConfig, limits: Limits) -> Harness {
        let hub = Hub::start(Arc::new(config), &NAVIGATION).await;
        let (to_server, stream) = mpsc::unbounded_channel();
        let stream = UnboundedReceiverStream::new(stream);
        let (sink_tx, from_server) = mpsc::unbounded_channel();
        let sink = Box::pin(futures_util::sink::unfold(
            sink_tx,
            |tx, frame: Frame| async move { tx.send(frame).map(|()| tx) },
        ));
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(run(
            hub.clone(),
            "c1".into(),
            None,
            limits,
            sink,
            stream,
            stop_rx,
        ));
        Harness {
            to_server,
            from_server,
            task,
            stop,
            hub,
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
        /// Sends the handshake and reads its `{}`.
        async fn handshake(&mut self) {
            self.send("{\"protocol\":\"json\",\"version\":1}\x1e");
            assert_eq!(self.next().await, text("{}\x1e"));
        }
        /// The next message, failing (not hanging) if none comes in 5 s.
        async fn next_message_soon(&mut self) -> HubMessage {
            tokio::time::timeout(Duration::from_secs(5), self.next_message())
                .await
                .expect("a message within 5 s")
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

    /// An unsupported protocol gets ASP.NET's text, then a close
    /// (HubConnectionContext.HandshakeAsync).
    #[tokio::test]
    async fn unsupported_protocol_refused() {
        let mut h = start(limits()).await;
        h.send("{\"protocol\":\"messagepack\",\"version\":1}\x1e");
        assert_eq!(
            h.next().await,
            text("{\"error\":\"The protocol 'messagepack' is not supported.\"}\x1e")
        );
        assert!(matches!(h.next().await, Frame::Close(CLOSE_NORMAL, _)));
    }

    /// Without a handshake the server writes "Handshake was canceled." and
    /// closes after the handshake timeout (HubConnectionContext.HandshakeAsync,
    /// the OperationCanceledException branch).
    #[tokio::test(start_paused = true)]
    async fn handshake_timeout_says_canceled() {
        let mut h = start(limits()).await;
        assert_eq!(
            h.next().await,
            text("{\"error\":\"Handshake was canceled.\"}\x1e")
        );
        assert!(matches!(h.next().await, Frame::Close(..)));
        assert!(matches!(h.task.await.unwrap(), Ending::Handshake(_)));
    }

    /// A handshake that is not a valid request gets ASP.NET's generic text
    /// (HubConnectionContext.HandshakeAsync, the catch-all branch).
    #[tokio::test]
    async fn unparsable_handshake_gets_the_unexpected_error_text() {
        let mut h = start(limits()).await;
        h.send("{\"protocol\":1}\x1e");
        assert_eq!(
            h.next().await,
            text("{\"error\":\"An unexpected error occurred during connection handshake.\"}\x1e")
        );
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

    /// A malformed record gets a Close with an error that allows
    /// reconnecting, and nothing more (HubConnectionHandler.RunHubAsync
    /// catches the exception; HubOnDisconnectedAsync passes
    /// connection.AllowReconnect, true unless Abort() was called).
    #[tokio::test]
    async fn malformed_record_closes_with_reconnectable_error() {
        let mut h = start(limits()).await;
        h.handshake().await;
        h.send("not json\x1e");
        assert_eq!(
            h.next().await,
            text("{\"type\":7,\"error\":\"Connection closed with an error.\",\"allowReconnect\":true}\x1e")
        );
        assert!(matches!(h.next().await, Frame::Close(..)));
        assert!(matches!(h.task.await.unwrap(), Ending::ProtocolError(_)));
        assert!(h.from_server.recv().await.is_none());
    }

    /// A record over the size limit is a protocol error too, and also
    /// allows reconnecting.
    #[tokio::test]
    async fn oversized_record_closes_with_reconnectable_error() {
        let mut h = start(limits()).await;
        h.handshake().await;
        h.send(&"x".repeat(300));
        assert_eq!(
            h.next_message().await,
            HubMessage::Close {
                error: Some(CLOSED_WITH_ERROR.into()),
                allow_reconnect: true
            }
        );
    }

    /// `{"type":6}` padded to `len` bytes of JSON.
    fn padded_ping(len: usize) -> String {
        let json = format!("{{\"type\":6,\"p\":\"{}\"}}", "x".repeat(len - 17));
        assert_eq!(json.len(), len);
        json
    }

    /// The limit counts the separator: JSON of exactly the limit plus its
    /// 0x1E is refused (HubConnectionHandler.DispatchMessagesAsync parses
    /// within a window of MaximumReceiveMessageSize bytes).
    #[tokio::test]
    async fn limit_counts_the_separator() {
        let mut h = start(limits()).await;
        h.handshake().await;
        h.send(&format!("{}\x1e", padded_ping(255)));
        h.send(&format!("{}\x1e", padded_ping(256)));
        assert!(matches!(
            h.next_message_soon().await,
            HubMessage::Close { error: Some(_), .. }
        ));
        assert!(matches!(h.task.await.unwrap(), Ending::ProtocolError(_)));
    }

    /// A StreamInvocation of an existing, non-streaming method gets
    /// ASP.NET's text and the method does not run
    /// (DefaultHubDispatcher.ValidateInvocationMode).
    #[tokio::test]
    async fn stream_invocation_of_plain_method_is_refused_unrun() {
        let mut h = start(limits()).await;
        h.handshake().await;
        h.send("{\"type\":4,\"invocationId\":\"1\",\"target\":\"SubscribeToModel\",\"arguments\":[\"m\"]}\x1e");
        assert_eq!(
            h.next_message().await,
            completion(
                "1".into(),
                Err("The client attempted to invoke the non-streaming 'SubscribeToModel' method with a streaming invocation.".into())
            )
        );
        assert!(h.hub.local_members("model-m").is_empty());
    }

    /// An Invocation announcing client streams the method does not take
    /// gets ASP.NET's text and the method does not run
    /// (DefaultHubDispatcher.Invoke, the stream-count check).
    #[tokio::test]
    async fn stream_ids_mismatch_is_refused_unrun() {
        let mut h = start(limits()).await;
        h.handshake().await;
        h.send("{\"type\":1,\"invocationId\":\"1\",\"target\":\"SubscribeToModel\",\"arguments\":[\"m\"],\"streamIds\":[\"0\"]}\x1e");
        assert_eq!(
            h.next_message().await,
            completion(
                "1".into(),
                Err("An unexpected error occurred invoking 'SubscribeToModel' on the server. HubException: Client sent 1 stream(s), Hub method expects 0.".into())
            )
        );
        assert!(h.hub.local_members("model-m").is_empty());
    }

    /// A backplane message without a "json" entry aborts the connection it
    /// was for, allowing a reconnect (HubConnectionContext.WriteCore catches
    /// SerializedHubMessage.GetSerializedMessage's exception and calls
    /// AbortAllowReconnect).
    #[tokio::test]
    async fn backplane_message_without_json_aborts() {
        let mut h = start(limits()).await;
        h.handshake().await;
        let body = protocol::backplane::Invocation {
            excluded_connection_ids: vec![],
            messages: vec![("messagepack".into(), vec![0x95])],
            return_to: None,
        }
        .encode();
        let channel = h.hub.channels().connection("c1");
        h.hub.backplane().publish(channel, body).await.unwrap();
        assert_eq!(
            h.next_message_soon().await,
            HubMessage::Close {
                error: Some(CLOSED_WITH_ERROR.into()),
                allow_reconnect: true
            }
        );
        assert!(matches!(h.task.await.unwrap(), Ending::Aborted(_)));
    }

    /// A stand-in serving both protocols.
    fn both_protocols() -> SimConfig {
        let mut config = SimConfig::new("t", None);
        config.protocols = vec![HubProtocol::Json, HubProtocol::MessagePack];
        config
    }

    /// A MessagePack handshake is answered `{}` in a binary frame, and a
    /// message sent in the same frame after it is read in MessagePack
    /// (HubConnectionContext sets the transfer format before answering).
    #[tokio::test]
    async fn messagepack_handshake_switches_framing() {
        let mut h = start_with(both_protocols(), limits()).await;
        let mut first = b"{\"protocol\":\"messagepack\",\"version\":1}\x1e".to_vec();
        let invoke = HubMessage::Invocation {
            headers: vec![],
            invocation_id: Some("7".into()),
            target: "Nope".into(),
            arguments: vec![],
            stream_ids: vec![],
        };
        first.extend(HubProtocol::MessagePack.encode(&invoke));
        h.to_server
            .send(Ok(Frame::Binary(Bytes::from(first))))
            .unwrap();
        assert_eq!(h.next().await, Frame::Binary(Bytes::from_static(b"{}\x1e")));
        let Frame::Binary(reply) = h.next().await else {
            panic!("expected a binary frame")
        };
        let mut splitter = HubProtocol::MessagePack.splitter(1024);
        let payloads = splitter.push(&reply).unwrap();
        assert!(matches!(
            protocol::msgpack::parse(&payloads[0]).unwrap(),
            HubMessage::Completion {
                outcome: Outcome::Error(_),
                ..
            }
        ));
    }

    /// A backplane message with only a "json" entry aborts a MessagePack
    /// connection, with the Close in MessagePack
    /// (SerializedHubMessage.GetSerializedMessage throws for a protocol a
    /// message from Redis lacks; HubConnectionContext.WriteCore aborts).
    #[tokio::test]
    async fn json_only_backplane_message_aborts_a_messagepack_connection() {
        let mut h = start_with(both_protocols(), limits()).await;
        h.send("{\"protocol\":\"messagepack\",\"version\":1}\x1e");
        assert_eq!(h.next().await, Frame::Binary(Bytes::from_static(b"{}\x1e")));
        let body = protocol::backplane::Invocation::json(&HubMessage::Ping, vec![]).encode();
        let channel = h.hub.channels().connection("c1");
        h.hub.backplane().publish(channel, body).await.unwrap();
        let close = HubMessage::Close {
            error: Some(CLOSED_WITH_ERROR.into()),
            allow_reconnect: true,
        };
        assert_eq!(
            h.next().await,
            Frame::Binary(Bytes::from(HubProtocol::MessagePack.encode(&close)))
        );
        assert!(matches!(h.task.await.unwrap(), Ending::Aborted(_)));
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

    /// Pings keep their cadence while broadcasts flow: one about every
    /// keep-alive interval, not only after silence
    /// (HubConnectionContext.KeepAliveTick moves its clock on pings only).
    #[tokio::test(start_paused = true)]
    async fn pings_keep_their_cadence_while_broadcasts_flow() {
        let mut h = start(limits()).await;
        h.handshake().await;
        let began = Instant::now();
        let hub = h.hub.clone();
        // A broadcast every 10 s: the connection is never silent for 30 s.
        tokio::spawn(async move {
            let broadcast = HubMessage::invocation("NavigationStateUpdate", vec![]);
            for _ in 0..7 {
                tokio::time::sleep(Duration::from_secs(10)).await;
                let group = protocol::backplane::NAVIGATION_GROUP;
                hub.send_group(group, &broadcast).await.unwrap();
            }
        });
        let (mut pings, mut broadcasts) = (Vec::new(), 0);
        while broadcasts < 7 {
            match h.next_message().await {
                HubMessage::Ping => pings.push(began.elapsed().as_secs()),
                _ => broadcasts += 1,
            }
        }
        assert_eq!(pings, [30, 60]);
    }

    /// Before its first Ping a client is never timed out, however silent
    /// (the check is registered by HubConnectionContext.StartClientTimeout,
    /// which DefaultHubDispatcher calls on a PingMessage).
    #[tokio::test(start_paused = true)]
    async fn no_timeout_before_the_first_ping() {
        let mut h = start(limits()).await;
        h.handshake().await;
        tokio::time::sleep(Duration::from_secs(180)).await;
        while let Ok(frame) = h.from_server.try_recv() {
            assert_eq!(frame, text("{\"type\":6}\x1e"), "only pings");
        }
        assert!(!h.task.is_finished());
    }

    /// Once it has pinged, a client silent past the timeout gets a Close
    /// with an error that allows reconnecting (HubConnectionContext.
    /// CheckClientTimeout sets CloseException and calls AbortAllowReconnect).
    #[tokio::test(start_paused = true)]
    async fn silent_client_times_out_reconnectably() {
        let mut h = start(limits()).await;
        h.handshake().await;
        h.send("{\"type\":6}\x1e");
        let pinged = Instant::now();
        let close = loop {
            match h.next_message().await {
                HubMessage::Ping => continue,
                other => break other,
            }
        };
        assert_eq!(
            close,
            HubMessage::Close {
                error: Some(CLOSED_WITH_ERROR.into()),
                allow_reconnect: true
            }
        );
        assert_eq!(pinged.elapsed().as_secs(), 60);
        assert!(matches!(h.next().await, Frame::Close(CLOSE_NORMAL, _)));
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
