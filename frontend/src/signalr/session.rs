//! One SignalR connection, from negotiate to its end: negotiate (or
//! skipNegotiation when the browser may not negotiate), WebSocket,
//! handshake, then messages with keep-alive pings and the server-timeout
//! clock. A dropped connection is noticed by that clock or by the socket's
//! close event — browser sends never fail, so they prove nothing.

use std::collections::VecDeque;
use std::pin::pin;

use futures::future::{select, Either};
use gloo_net::http::Request;
use protocol::connection::{Heartbeat, Liveness};
use protocol::framing::{frame, RecordSplitter};
use protocol::handshake::{HandshakeRequest, HandshakeResponse};
use protocol::message::{MessageError, Outcome};
use protocol::negotiate::websocket_url;
use protocol::HubMessage;
use wasm_bindgen::JsValue;
use web_sys::{Headers, RequestCache, RequestCredentials, RequestInit, RequestMode};

use super::negotiation::{
    status_failure, Credential, Destination, NegotiateRequest, Negotiation, Step,
};
use super::socket::{close_error, Socket, SocketEvent};
use super::ClientEvent;
use crate::clock::{now_ms, sleep};

/// `HubConnection._invokeClientMethod`'s answer when no handler gave a result.
const NO_RESULT: &str = "Client didn't provide a result.";

/// `WebSocketTransport.connect`'s text for a socket that closed before it
/// opened (with negotiate, so the host answered HTTP).
const WEBSOCKET_FAILED: &str = "WebSocket failed to connect. The connection could not be found on the server, either the endpoint may not be a SignalR endpoint, the connection ID is not present on the server, or there is a proxy blocking WebSockets. If you have multiple servers check that sticky sessions are enabled.";

/// What the official client says when the server times out, before or
/// after the handshake (`HubConnection.serverTimeout`).
const SERVER_TIMEOUT: &str = "Server timeout elapsed without receiving a message from the server.";

/// How a running session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// The transport dropped or the server went silent.
    Lost(String),
    /// The server sent Close.
    ServerClosed {
        /// The official client's text for its error, if it gave one.
        error: Option<String>,
        /// Whether it invites a reconnect.
        allow_reconnect: bool,
    },
}

/// A connection past its handshake.
pub struct Session {
    /// The transport.
    socket: Socket,
    /// Cuts the byte stream into records.
    splitter: RecordSplitter,
    /// When to ping and when to give up on a silent server.
    heartbeat: Heartbeat,
    /// Records not handled yet, with their arrival time (some arrive in
    /// the same frame as the handshake response).
    backlog: VecDeque<(Vec<u8>, f64)>,
    /// Ids for invocations that expect a Completion.
    next_invocation_id: u64,
    /// The server's id for this connection; unknown with skipNegotiation.
    pub connection_id: Option<String>,
    /// Whether negotiate was used (false: skipNegotiation fallback).
    pub negotiated: bool,
}

/// Negotiates as the official client does (credentials included, its
/// headers, redirects followed). `Ok(None)` means the browser could not
/// even ask the instance (CORS refused the preflight, or the host is
/// unreachable): the caller may try skipNegotiation.
async fn negotiate(
    hub_url: &str,
    credential: Option<&Credential>,
) -> Result<Option<Destination>, String> {
    let mut negotiation = Negotiation::new(hub_url, credential);
    loop {
        let request = fetch_request(&negotiation.request())
            .map_err(|e| format!("cannot build the negotiate request: {e:?}"))?;
        let Ok(response) = request.send().await else {
            return negotiation.unsent().map_or(Ok(None), Err);
        };
        if response.status() != 200 {
            let body = response.text().await.unwrap_or_default();
            return Err(status_failure(
                response.status(),
                &response.status_text(),
                &body,
            ));
        }
        let body = response
            .binary()
            .await
            .map_err(|e| format!("negotiate body: {e}"))?;
        match negotiation.answer(&body) {
            Step::Again => {}
            Step::Connect(destination) => return Ok(Some(destination)),
            Step::Fail(error) => return Err(error),
        }
    }
}

/// The POST as `FetchHttpClient.send` makes it. Built from `web_sys` rather
/// than gloo's builder, which appends a stray `&` to a URL that already has
/// a query.
fn fetch_request(request: &NegotiateRequest) -> Result<Request, JsValue> {
    let headers = Headers::new()?;
    for (name, value) in &request.headers {
        headers.set(name, value)?;
    }
    let init = RequestInit::new();
    init.set_method("POST");
    init.set_credentials(RequestCredentials::Include);
    init.set_mode(RequestMode::Cors);
    init.set_cache(RequestCache::NoCache);
    init.set_headers_headers(&headers);
    web_sys::Request::new_with_str_and_init(&request.url, &init).map(Request::from)
}

/// The next socket event, or `None` after `ms` without one.
async fn next_within(socket: &mut Socket, ms: u64) -> Option<Option<SocketEvent>> {
    match select(pin!(socket.next()), pin!(sleep(ms))).await {
        Either::Left((event, _)) => Some(event),
        Either::Right(_) => None,
    }
}

impl Session {
    /// Negotiates, opens the WebSocket and completes the handshake. Like the
    /// official client, the handshake answer may take as long as the server
    /// timeout (`HubConnection._startInternal` arms only that clock).
    pub async fn establish(
        hub_url: &str,
        credential: Option<&Credential>,
        liveness: Liveness,
        emit: &dyn Fn(ClientEvent),
    ) -> Result<Self, String> {
        let (ws_url, connection_id) = match negotiate(hub_url, credential).await? {
            Some(d) => (d.ws_url, Some(d.connection_id)),
            None => {
                emit(ClientEvent::Notice(
                    "negotiate was refused (CORS or unreachable): trying skipNegotiation + WebSockets"
                        .into(),
                ));
                let presented = Credential::present(credential, hub_url);
                let url = websocket_url(&presented.hub_url, None).map_err(|e| e.to_string())?;
                (presented.websocket_url(&url), None)
            }
        };
        let negotiated = connection_id.is_some();
        let wait_ms = handshake_wait_ms(liveness);
        let mut socket = Socket::open(&ws_url)?;
        match next_within(&mut socket, wait_ms).await {
            Some(Some(SocketEvent::Open)) => {}
            Some(Some(SocketEvent::Refused(reason))) => return Err(reason),
            Some(Some(SocketEvent::Closed { code, .. })) if !negotiated => {
                return Err(format!(
                    "unreachable: negotiate failed and the WebSocket was refused (code {code})"
                ))
            }
            Some(Some(SocketEvent::Closed { .. })) => return Err(WEBSOCKET_FAILED.into()),
            _ => {
                return Err(format!(
                    "WebSocket did not open within the server timeout ({} s)",
                    wait_ms / 1000
                ))
            }
        }
        socket.send(&frame(&HandshakeRequest::json().to_json()))?;
        let mut splitter = RecordSplitter::default();
        let deadline = now_ms() + wait_ms as f64;
        let mut backlog = VecDeque::new();
        loop {
            let left = (deadline - now_ms()).max(0.0) as u64;
            let (bytes, at) = match next_within(&mut socket, left).await {
                Some(Some(SocketEvent::Data { bytes, at_ms })) => (bytes, at_ms),
                Some(Some(SocketEvent::Closed {
                    code,
                    reason,
                    clean,
                })) => return Err(close_error(code, &reason, clean).unwrap_or_else(|| {
                    "The underlying connection was closed before the hub handshake could complete."
                        .into()
                })),
                Some(Some(SocketEvent::Open)) => continue,
                _ => return Err(SERVER_TIMEOUT.into()),
            };
            let mut records = splitter
                .push(&bytes)
                .map_err(|e| e.to_string())?
                .into_iter();
            let Some(first) = records.next() else {
                continue;
            };
            let response = HandshakeResponse::parse(&first)
                .map_err(|e| format!("Error parsing handshake response: {e}"))?;
            if let Some(error) = response.error {
                return Err(format!("Server returned handshake error: {error}"));
            }
            backlog.extend(records.map(|r| (r, at)));
            break;
        }
        let mut session = Self {
            socket,
            splitter,
            heartbeat: Heartbeat::new(liveness, now_ms() as u64),
            backlog,
            next_invocation_id: 0,
            connection_id,
            negotiated,
        };
        // The official client pings at once; ASP.NET arms its client
        // timeout on the first Ping.
        session.send(&HubMessage::Ping)?;
        Ok(session)
    }

    /// Invokes a hub method that takes no arguments, expecting a Completion.
    pub fn invoke(&mut self, target: &str) -> Result<(), String> {
        self.next_invocation_id += 1;
        let message = HubMessage::Invocation {
            headers: Vec::new(),
            invocation_id: Some(self.next_invocation_id.to_string()),
            target: target.into(),
            arguments: Vec::new(),
            stream_ids: Vec::new(),
        };
        self.send(&message)
    }

    fn send(&mut self, message: &HubMessage) -> Result<(), String> {
        self.socket.send(&frame(&message.to_json()))?;
        self.heartbeat.sent(now_ms() as u64);
        Ok(())
    }

    /// Handles messages until the connection ends.
    pub async fn run(&mut self, emit: &dyn Fn(ClientEvent)) -> Ended {
        loop {
            while let Some((record, at_ms)) = self.backlog.pop_front() {
                let read = read(&record, at_ms);
                if let Some(event) = read.event {
                    emit(event);
                }
                if let Some(reply) = read.reply {
                    // A lost reply is the server's to time out, as with the official client.
                    let _ = self.send(&reply);
                }
                if let Some(end) = read.end {
                    return end;
                }
            }
            let now = now_ms() as u64;
            if self.heartbeat.timed_out(now) {
                return Ended::Lost(SERVER_TIMEOUT.into());
            }
            if self.heartbeat.ping_due(now) {
                // A failed send changes nothing: the timeout clock decides.
                let _ = self.send(&HubMessage::Ping);
            }
            let wait = self.heartbeat.next_check_in_ms(now_ms() as u64).max(1);
            match next_within(&mut self.socket, wait).await {
                Some(Some(SocketEvent::Data { bytes, at_ms })) => {
                    self.heartbeat.received(at_ms as u64);
                    match self.splitter.push(&bytes) {
                        Ok(records) => self.backlog.extend(records.into_iter().map(|r| (r, at_ms))),
                        Err(e) => return Ended::Lost(e.to_string()),
                    }
                }
                Some(Some(SocketEvent::Closed {
                    code,
                    reason,
                    clean,
                })) => {
                    return Ended::Lost(close_error(code, &reason, clean).unwrap_or_else(|| {
                        "the server closed the WebSocket normally (code 1000)".into()
                    }))
                }
                Some(None) => return Ended::Lost("connection gone".into()),
                Some(Some(SocketEvent::Open | SocketEvent::Refused(_))) | None => {}
            }
        }
    }
}

/// How long the WebSocket may take to open, and then the handshake answer:
/// the server timeout, the only clock `HubConnection._startInternal` arms
/// (a 15 s clock of our own would give up on a Conduit that the official
/// client, told to wait 60 s, still reaches).
fn handshake_wait_ms(liveness: Liveness) -> u64 {
    liveness.timeout_ms
}

/// What one record asks of a session, decided without the socket.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Read {
    /// What to tell the page.
    pub event: Option<ClientEvent>,
    /// What to send back.
    pub reply: Option<HubMessage>,
    /// Set when the record ends the session.
    pub end: Option<Ended>,
}

impl Read {
    fn event(event: ClientEvent) -> Self {
        Self {
            event: Some(event),
            ..Self::default()
        }
    }

    fn end(end: Ended) -> Self {
        Self {
            end: Some(end),
            ..Self::default()
        }
    }
}

/// Reads one record the way `HubConnection._processIncomingData` does.
pub fn read(record: &[u8], at_ms: f64) -> Read {
    match HubMessage::parse(record) {
        Ok(HubMessage::Ping) => Read::event(ClientEvent::Ping { at_ms }),
        Ok(HubMessage::Invocation {
            invocation_id,
            target,
            arguments,
            ..
        }) => Read {
            event: Some(ClientEvent::Invocation {
                target,
                arguments,
                at_ms,
            }),
            // The page's handlers return nothing, so a server waiting for a
            // client result gets the official client's "no result" answer.
            reply: invocation_id.map(|invocation_id| HubMessage::Completion {
                headers: Vec::new(),
                invocation_id,
                outcome: Outcome::Error(NO_RESULT.into()),
            }),
            end: None,
        },
        Ok(HubMessage::Completion {
            outcome: Outcome::Error(error),
            ..
        }) => Read::event(ClientEvent::Notice(format!(
            "an invocation failed: {error}"
        ))),
        Ok(HubMessage::Close {
            error,
            allow_reconnect,
        }) => Read::end(Ended::ServerClosed {
            error: error.map(|e| format!("Server returned an error on close: {e}")),
            allow_reconnect,
        }),
        // Completions without error, streams, acks: nothing to show.
        Ok(_) => Read::default(),
        // Future protocol versions may add types; old clients ignore them.
        Err(MessageError::UnknownType(kind)) => Read::event(ClientEvent::Notice(format!(
            "Unknown message type '{kind}' ignored."
        ))),
        // The official client closes the connection on a bad message.
        Err(e) => Read::end(Ended::Lost(format!("bad message from the server: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The handshake waits as long as the server timeout, not a clock of
    /// its own (HubConnection._startInternal: `_resetTimeoutPeriod()` before
    /// awaiting the handshake, nothing else).
    #[test]
    fn handshake_waits_for_the_server_timeout() {
        assert_eq!(handshake_wait_ms(Liveness::CLIENT_DEFAULT), 30_000);
        assert_eq!(handshake_wait_ms(Liveness::CLIENT_FOR_CONDUIT), 60_000);
    }

    /// A server invocation with an `invocationId` is shown and answered with
    /// the official "no result" Completion (HubConnection._invokeClientMethod:
    /// no handler, or handlers returning undefined, give this error).
    #[test]
    fn client_result_invocation_is_answered() {
        let read = read(
            br#"{"type":1,"invocationId":"7","target":"GetState","arguments":[1]}"#,
            5.0,
        );
        assert_eq!(
            read.event,
            Some(ClientEvent::Invocation {
                target: "GetState".into(),
                arguments: vec![json!(1)],
                at_ms: 5.0,
            })
        );
        assert_eq!(
            read.reply.map(|m| m.to_json()).as_deref(),
            Some(r#"{"type":3,"invocationId":"7","error":"Client didn't provide a result."}"#)
        );
        assert_eq!(read.end, None);
    }

    /// A fire-and-forget invocation (no `invocationId`) gets no answer.
    #[test]
    fn plain_invocation_is_not_answered() {
        let read = read(br#"{"type":1,"target":"Update","arguments":[]}"#, 0.0);
        assert!(read.event.is_some());
        assert_eq!(read.reply, None);
    }

    /// An unknown message type is ignored with the official log text and
    /// the session goes on (JsonHubProtocol.parseMessages: "old clients can
    /// ignore them").
    #[test]
    fn unknown_type_is_ignored() {
        let read = read(br#"{"type":42,"future":true}"#, 0.0);
        assert_eq!(
            read.event,
            Some(ClientEvent::Notice(
                "Unknown message type '42' ignored.".into()
            ))
        );
        assert_eq!((read.reply, read.end), (None, None));
    }

    /// A malformed known message still ends the session, as a parse
    /// error closes the official client's transport.
    #[test]
    fn malformed_message_ends_the_session() {
        let read = read(br#"{"type":1,"arguments":[]}"#, 0.0);
        assert!(matches!(read.end, Some(Ended::Lost(_))));
    }

    /// Close with an error carries the official text
    /// (HubConnection._processIncomingData, MessageType.Close); without one,
    /// no error.
    #[test]
    fn close_error_uses_the_official_text() {
        assert_eq!(
            read(br#"{"type":7,"error":"Boom","allowReconnect":true}"#, 0.0).end,
            Some(Ended::ServerClosed {
                error: Some("Server returned an error on close: Boom".into()),
                allow_reconnect: true,
            })
        );
        assert_eq!(
            read(br#"{"type":7}"#, 0.0).end,
            Some(Ended::ServerClosed {
                error: None,
                allow_reconnect: false,
            })
        );
    }
}
