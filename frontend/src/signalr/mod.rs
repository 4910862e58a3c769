//! A SignalR client for the browser, in Rust over the `protocol` crate.
//!
//! [`HubClient::start`] runs one connection in the background: negotiate
//! (falling back to skipNegotiation when the browser may not), WebSocket,
//! handshake, `RequestCurrentState` after every (re)connect, keep-alive and
//! server timeout, and automatic reconnect by the official policy (or
//! forever). Everything it sees is reported as a [`ClientEvent`]; it knows
//! nothing of the page.
//!
//! It behaves like `@microsoft/signalr` 10.0 (credentialed negotiate with
//! its headers, redirects, the server timeout as the handshake's only
//! clock, a Ping right after it, "no result" answers to client-result invocations, unknown message
//! types ignored, the official error texts); the README lists where it
//! differs on purpose. `negotiation`, `session::read` and
//! `socket::close_error` hold that behaviour as plain Rust.

pub mod lifecycle;
mod negotiation;

use negotiation::is_key_refusal;
pub use negotiation::{Credential, KEY_REFUSED};
mod relay;
mod session;
mod socket;

use std::cell::{Cell, RefCell};
use std::pin::pin;
use std::rc::Rc;

use futures::channel::mpsc::{unbounded, UnboundedReceiver, UnboundedSender};
use futures::future::{select, Either};
use futures::StreamExt;
use protocol::connection::{Liveness, ReconnectPolicy};
use serde_json::Value;

use crate::clock::{now_ms, sleep};
use lifecycle::{Lifecycle, NextStep};
use session::{Ended, Session};

/// Where a connection stands, with what is known in that state.
#[derive(Debug, Clone, PartialEq)]
pub enum ConnectionStatus {
    /// A (re)start by the user began: negotiating, opening or shaking hands.
    Connecting,
    /// The handshake completed; messages flow.
    Connected {
        /// The server's connection id; `None` with skipNegotiation.
        connection_id: Option<String>,
    },
    /// The connection dropped or an attempt failed; another follows.
    Reconnecting {
        /// Which retry, from 1.
        attempt: u32,
        /// When it starts, on the [`now_ms`] clock.
        retry_at_ms: f64,
        /// Why the last one ended.
        reason: String,
    },
    /// Stopped by the user, or closed by the server without a reconnect.
    Disconnected {
        /// The server's reason, if it closed.
        reason: Option<String>,
    },
    /// The reconnect policy gave up.
    Failed {
        /// Why the last attempt failed.
        reason: String,
    },
    /// The hub refused the key (401). Not transient: no retry until a key
    /// is given or the user reconnects.
    NeedsKey {
        /// The refusal, starting with [`KEY_REFUSED`].
        reason: String,
    },
}

/// What a connection reports, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientEvent {
    /// The connection's status changed.
    Status(ConnectionStatus),
    /// The server pinged.
    Ping {
        /// When, on the [`now_ms`] clock.
        at_ms: f64,
    },
    /// The server invoked a client method.
    Invocation {
        /// The method (event) name.
        target: String,
        /// Its arguments.
        arguments: Vec<Value>,
        /// When its frame arrived, on the [`now_ms`] clock: stamped in the
        /// WebSocket's `onmessage`, before parsing, so the verdicts'
        /// click → arrival does not include the page's own work.
        at_ms: f64,
    },
    /// Something worth saying that changes no state.
    Notice(String),
}

/// How to connect.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Instance URL + hub path.
    pub hub_url: String,
    /// Ping interval and server timeout.
    pub liveness: Liveness,
    /// The method invoked after every (re)connect (`RequestCurrentState`);
    /// empty for none.
    pub request_state: String,
    /// Shared with the page's "retry forever" switch; read at each decision.
    pub retry_forever: Rc<Cell<bool>>,
    /// The hub's key, shared with the panel's key field; read at each
    /// (re)connect, so a key typed in counts from the next attempt.
    pub credential: Rc<RefCell<Option<Credential>>>,
}

/// What the page may ask of a running connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Command {
    /// Close and start anew, counting retries from zero.
    Restart,
    /// Close and stay closed.
    Stop,
}

/// Handle to one background connection; dropping it closes the connection.
#[derive(Debug)]
pub struct HubClient {
    /// The background task's inbox; dropping it ends the task.
    commands: UnboundedSender<Command>,
}

impl HubClient {
    /// Starts connecting at once and reports every event to `emit`.
    pub fn start(options: ClientOptions, emit: impl Fn(ClientEvent) + 'static) -> Self {
        let (commands, inbox) = unbounded();
        wasm_bindgen_futures::spawn_local(drive(options, inbox, Rc::new(emit)));
        Self { commands }
    }

    /// Closes the connection and connects anew (a new connection id).
    pub fn reconnect(&self) {
        let _ = self.commands.unbounded_send(Command::Restart);
    }

    /// Closes the connection and stays disconnected.
    pub fn disconnect(&self) {
        let _ = self.commands.unbounded_send(Command::Stop);
    }
}

/// Why a connection stopped trying by itself.
enum Terminal {
    /// The policy ran out of attempts.
    GaveUp(String),
    /// The server closed without allowing a reconnect.
    ServerClosed(Option<String>),
    /// The hub refused the key: retrying with the same one would only be
    /// refused again.
    KeyRefused(String),
}

/// The background task: obeys commands, and between them connects.
async fn drive(
    options: ClientOptions,
    mut inbox: UnboundedReceiver<Command>,
    emit: Rc<dyn Fn(ClientEvent)>,
) {
    let mut life = Lifecycle::default();
    let mut command = Command::Restart;
    loop {
        if command == Command::Stop {
            life.stop();
            emit(ClientEvent::Status(ConnectionStatus::Disconnected {
                reason: None,
            }));
            match inbox.next().await {
                Some(next) => command = next,
                None => return,
            }
            continue;
        }
        life.start();
        emit(ClientEvent::Status(ConnectionStatus::Connecting));
        let next = match select(pin!(connect(&options, &mut life, &*emit)), inbox.next()).await {
            Either::Left((terminal, pending)) => {
                drop(pending);
                emit(ClientEvent::Status(match terminal {
                    Terminal::GaveUp(reason) => ConnectionStatus::Failed { reason },
                    Terminal::ServerClosed(reason) => ConnectionStatus::Disconnected { reason },
                    Terminal::KeyRefused(reason) => ConnectionStatus::NeedsKey { reason },
                }));
                inbox.next().await
            }
            Either::Right((next, _)) => next,
        };
        match next {
            Some(next) => command = next,
            None => return,
        }
    }
}

/// Connects, runs and retries until the policy gives up, the server
/// closes for good or the hub refuses the key. Dropping it closes the socket.
async fn connect(
    options: &ClientOptions,
    life: &mut Lifecycle,
    emit: &dyn Fn(ClientEvent),
) -> Terminal {
    loop {
        let credential = options.credential.borrow().clone();
        let established = Session::establish(
            &options.hub_url,
            credential.as_ref(),
            options.liveness,
            emit,
        );
        let reason = match established.await {
            Ok(mut session) => {
                life.opened();
                emit(ClientEvent::Status(ConnectionStatus::Connected {
                    connection_id: session.connection_id.clone(),
                }));
                if !session.negotiated {
                    emit(ClientEvent::Notice(
                        "connected with skipNegotiation + WebSockets: the server does not tell the connection id"
                            .into(),
                    ));
                }
                // Only some hubs (NavigationStateHub) have such a method.
                if !options.request_state.is_empty() {
                    if let Err(e) = session.invoke(&options.request_state) {
                        emit(ClientEvent::Notice(e));
                    }
                }
                match session.run(emit).await {
                    Ended::Lost(reason) => reason,
                    Ended::ServerClosed {
                        error,
                        allow_reconnect: true,
                    } => error.unwrap_or_else(|| {
                        "the server closed the connection and allowed a reconnect".into()
                    }),
                    Ended::ServerClosed { error, .. } => {
                        life.ended();
                        return Terminal::ServerClosed(Some(
                            error.unwrap_or_else(|| "the server closed the connection".into()),
                        ));
                    }
                }
            }
            Err(reason) if is_key_refusal(&reason) => {
                life.ended();
                return Terminal::KeyRefused(reason);
            }
            Err(reason) => reason,
        };
        let policy = if options.retry_forever.get() {
            ReconnectPolicy::forever()
        } else {
            ReconnectPolicy::default()
        };
        match life.failed(&policy) {
            NextStep::Retry { attempt, delay_ms } => {
                emit(ClientEvent::Status(ConnectionStatus::Reconnecting {
                    attempt,
                    retry_at_ms: now_ms() + delay_ms as f64,
                    reason,
                }));
                sleep(delay_ms).await;
            }
            NextStep::GiveUp => return Terminal::GaveUp(reason),
        }
    }
}
