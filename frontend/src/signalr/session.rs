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
use protocol::message::Outcome;
use protocol::negotiate::{negotiate_url, websocket_url, NegotiateResponse, Negotiated};
use protocol::HubMessage;

use super::socket::{Socket, SocketEvent};
use super::ClientEvent;
use crate::clock::{now_ms, sleep};

/// The official client gives the handshake 15 s.
const HANDSHAKE_TIMEOUT_MS: u64 = 15_000;
/// The official client follows at most 100 negotiate redirects.
const MAX_REDIRECTS: usize = 100;

/// How a running session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// The transport dropped or the server went silent.
    Lost(String),
    /// The server sent Close.
    ServerClosed {
        /// Its error text, if any.
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

/// Negotiates. `Ok(None)` means the browser could not even ask (CORS or an
/// unreachable host): the caller may try skipNegotiation.
async fn negotiate(hub_url: &str) -> Result<Option<(String, Negotiated)>, String> {
    let mut url = hub_url.to_owned();
    for _ in 0..MAX_REDIRECTS {
        let Ok(response) = Request::post(&negotiate_url(&url)).send().await else {
            return Ok(None);
        };
        if !response.ok() {
            return Err(format!(
                "negotiate answered HTTP {} {}",
                response.status(),
                response.status_text()
            ));
        }
        let body = response
            .binary()
            .await
            .map_err(|e| format!("negotiate body: {e}"))?;
        match NegotiateResponse::parse(&body).map_err(|e| e.to_string())? {
            NegotiateResponse::Connected(n) if n.offers_websockets() => return Ok(Some((url, n))),
            NegotiateResponse::Connected(_) => {
                return Err("negotiate does not offer WebSockets".into())
            }
            NegotiateResponse::Redirect { url: next, .. } => url = next,
            NegotiateResponse::Error(e) => return Err(format!("negotiate refused: {e}")),
        }
    }
    Err("too many negotiate redirects".into())
}

/// The next socket event, or `None` after `ms` without one.
async fn next_within(socket: &mut Socket, ms: u64) -> Option<Option<SocketEvent>> {
    match select(pin!(socket.next()), pin!(sleep(ms))).await {
        Either::Left((event, _)) => Some(event),
        Either::Right(_) => None,
    }
}

impl Session {
    /// Negotiates, opens the WebSocket and completes the handshake.
    pub async fn establish(
        hub_url: &str,
        liveness: Liveness,
        emit: &dyn Fn(ClientEvent),
    ) -> Result<Self, String> {
        let (ws_url, connection_id) = match negotiate(hub_url).await? {
            Some((url, n)) => (
                websocket_url(&url, Some(&n.connection_token)),
                Some(n.connection_id),
            ),
            None => {
                emit(ClientEvent::Notice(
                    "negotiate was refused (CORS or unreachable): trying skipNegotiation + WebSockets"
                        .into(),
                ));
                (websocket_url(hub_url, None), None)
            }
        };
        let negotiated = connection_id.is_some();
        let ws_url = ws_url.map_err(|e| e.to_string())?;
        let mut socket = Socket::open(&ws_url)?;
        match next_within(&mut socket, HANDSHAKE_TIMEOUT_MS).await {
            Some(Some(SocketEvent::Open)) => {}
            Some(Some(SocketEvent::Closed { code, .. })) if !negotiated => {
                return Err(format!(
                    "unreachable: negotiate failed and the WebSocket was refused (code {code})"
                ))
            }
            Some(Some(SocketEvent::Closed { code, reason })) => {
                return Err(format!("WebSocket refused (code {code}) {reason}")
                    .trim_end()
                    .into())
            }
            _ => return Err("WebSocket did not open in time".into()),
        }
        socket.send(&frame(&HandshakeRequest::json().to_json()))?;
        let mut splitter = RecordSplitter::default();
        let deadline = now_ms() + HANDSHAKE_TIMEOUT_MS as f64;
        let mut backlog = VecDeque::new();
        loop {
            let left = (deadline - now_ms()).max(0.0) as u64;
            let bytes = match next_within(&mut socket, left).await {
                Some(Some(SocketEvent::Data(bytes))) => bytes,
                Some(Some(SocketEvent::Closed { code, reason })) => {
                    return Err(format!("closed during handshake (code {code}) {reason}")
                        .trim_end()
                        .into())
                }
                Some(Some(SocketEvent::Open)) => continue,
                _ => return Err("no handshake response within 15 s".into()),
            };
            let at = now_ms();
            let mut records = splitter
                .push(&bytes)
                .map_err(|e| e.to_string())?
                .into_iter();
            let Some(first) = records.next() else {
                continue;
            };
            let response = HandshakeResponse::parse(&first).map_err(|e| e.to_string())?;
            if let Some(error) = response.error {
                return Err(format!("handshake refused: {error}"));
            }
            backlog.extend(records.map(|r| (r, at)));
            break;
        }
        Ok(Self {
            socket,
            splitter,
            heartbeat: Heartbeat::new(liveness, now_ms() as u64),
            backlog,
            next_invocation_id: 0,
            connection_id,
            negotiated,
        })
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
                if let Some(end) = self.handle(&record, at_ms, emit) {
                    return end;
                }
            }
            let now = now_ms() as u64;
            if self.heartbeat.timed_out(now) {
                return Ended::Lost(format!(
                    "server timeout: nothing received for {} s",
                    self.heartbeat.liveness.timeout_ms / 1000
                ));
            }
            if self.heartbeat.ping_due(now) {
                // A failed send changes nothing: the timeout clock decides.
                let _ = self.send(&HubMessage::Ping);
            }
            let wait = self.heartbeat.next_check_in_ms(now_ms() as u64).max(1);
            match next_within(&mut self.socket, wait).await {
                Some(Some(SocketEvent::Data(bytes))) => {
                    let at = now_ms();
                    self.heartbeat.received(at as u64);
                    match self.splitter.push(&bytes) {
                        Ok(records) => self.backlog.extend(records.into_iter().map(|r| (r, at))),
                        Err(e) => return Ended::Lost(e.to_string()),
                    }
                }
                Some(Some(SocketEvent::Closed { code, reason })) => {
                    return Ended::Lost(
                        format!("connection closed (code {code}) {reason}")
                            .trim_end()
                            .into(),
                    )
                }
                Some(None) => return Ended::Lost("connection gone".into()),
                Some(Some(SocketEvent::Open)) | None => {}
            }
        }
    }

    /// One record: reported, or the end of the session.
    fn handle(&mut self, record: &[u8], at_ms: f64, emit: &dyn Fn(ClientEvent)) -> Option<Ended> {
        match HubMessage::parse(record) {
            Ok(HubMessage::Ping) => emit(ClientEvent::Ping { at_ms }),
            Ok(HubMessage::Invocation {
                target, arguments, ..
            }) => emit(ClientEvent::Invocation {
                target,
                arguments,
                at_ms,
            }),
            Ok(HubMessage::Completion {
                outcome: Outcome::Error(error),
                ..
            }) => emit(ClientEvent::Notice(format!(
                "an invocation failed: {error}"
            ))),
            Ok(HubMessage::Close {
                error,
                allow_reconnect,
            }) => {
                return Some(Ended::ServerClosed {
                    error,
                    allow_reconnect,
                })
            }
            // Completions without error, streams, acks: nothing to show.
            Ok(_) => {}
            // The official client closes the connection on a bad message.
            Err(e) => return Some(Ended::Lost(format!("bad message from the server: {e}"))),
        }
        None
    }
}
