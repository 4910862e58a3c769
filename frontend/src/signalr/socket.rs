//! A browser WebSocket as an async stream of events: the callbacks are
//! turned into messages on a channel, so the connection logic can be
//! written as one sequential loop. The socket lives in the page's socket
//! worker ([`super::relay`]), which stamps frames off the main thread; only
//! where no worker can be had does the page own it directly.

use futures::channel::mpsc::{unbounded, UnboundedReceiver, UnboundedSender};
use futures::StreamExt;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{BinaryType, CloseEvent, Event, MessageEvent, WebSocket};

use super::relay::{self, frame_bytes, Relayed};
use crate::clock::now_ms;

/// What the socket reported.
#[derive(Debug, Clone, PartialEq)]
pub enum SocketEvent {
    /// The connection is open.
    Open,
    /// The browser would not even make the socket (the constructor threw:
    /// a malformed URL, a blocked port). Comes first if at all, worded as
    /// [`Socket::open`]'s error, for a socket in the worker.
    Refused(String),
    /// A message's bytes (text frames as UTF-8).
    Data {
        /// The payload.
        bytes: Vec<u8>,
        /// When the frame arrived, on the page's monotonic clock: taken
        /// first thing in the worker's `onmessage` (the page's, for a direct
        /// socket), before any parsing or rendering, so what the page does
        /// cannot delay it.
        at_ms: f64,
    },
    /// The connection closed (or never opened).
    Closed {
        /// The close code (1006 when the browser saw no close frame).
        code: u16,
        /// The peer's reason text, often empty.
        reason: String,
        /// Whether the closing handshake completed.
        clean: bool,
    },
}

/// The official client's error for a close (`WebSocketTransport._close`):
/// none for a clean close with code 1000, else the code and reason.
pub fn close_error(code: u16, reason: &str, clean: bool) -> Option<String> {
    if clean && code == 1000 {
        return None;
    }
    let reason = if reason.is_empty() {
        "no reason given"
    } else {
        reason
    };
    Some(format!(
        "WebSocket closed with status code: {code} ({reason})."
    ))
}

/// An open (or opening) WebSocket.
pub struct Socket {
    /// Where the socket lives.
    transport: Transport,
    /// Events in arrival order.
    events: UnboundedReceiver<SocketEvent>,
}

/// Who owns the browser's socket.
enum Transport {
    /// The socket worker.
    Relayed(Relayed),
    /// The page, where no worker can be had.
    Direct(Direct),
}

impl Socket {
    /// Starts opening `url`; the first event says whether it worked. `Err`
    /// is the WebSocket constructor's refusal where the page makes the
    /// socket; the worker's comes as [`SocketEvent::Refused`].
    pub fn open(url: &str) -> Result<Self, String> {
        let (tx, events) = unbounded();
        let transport = match relay::open(url, tx.clone()) {
            Some(relayed) => Transport::Relayed(relayed),
            None => Transport::Direct(Direct::open(url, tx)?),
        };
        Ok(Self { transport, events })
    }

    /// The next event; `None` only if the socket is gone.
    pub async fn next(&mut self) -> Option<SocketEvent> {
        self.events.next().await
    }

    /// Sends one text frame. Browsers accept sends even after a drop, so
    /// an `Ok` here proves nothing about the peer.
    pub fn send(&self, bytes: &[u8]) -> Result<(), String> {
        let text = String::from_utf8_lossy(bytes);
        match &self.transport {
            Transport::Relayed(socket) => socket.send(&text),
            Transport::Direct(socket) => socket
                .ws
                .send_with_str(&text)
                .map_err(|e| format!("send failed: {e:?}")),
        }
    }
}

/// A WebSocket the page owns, and its callbacks.
struct Direct {
    /// The browser's socket.
    ws: WebSocket,
    /// The callbacks must live as long as the socket may call them.
    _callbacks: [Closure<dyn FnMut(Event)>; 3],
}

impl Direct {
    /// Opens `url`, reporting to `tx`.
    fn open(url: &str, tx: UnboundedSender<SocketEvent>) -> Result<Self, String> {
        let ws = WebSocket::new(url).map_err(|e| format!("cannot open {url}: {e:?}"))?;
        ws.set_binary_type(BinaryType::Arraybuffer);
        let on_open = {
            let tx = tx.clone();
            Closure::<dyn FnMut(Event)>::new(move |_| {
                let _ = tx.unbounded_send(SocketEvent::Open);
            })
        };
        let on_message = {
            let tx = tx.clone();
            Closure::<dyn FnMut(Event)>::new(move |e: Event| {
                let at_ms = now_ms();
                if let Some(bytes) = e
                    .dyn_ref::<MessageEvent>()
                    .and_then(|m| frame_bytes(&m.data()))
                {
                    let _ = tx.unbounded_send(SocketEvent::Data { bytes, at_ms });
                }
            })
        };
        let on_close = Closure::<dyn FnMut(Event)>::new(move |e: Event| {
            let (code, reason, clean) = e
                .dyn_ref::<CloseEvent>()
                .map(|c| (c.code(), c.reason(), c.was_clean()))
                .unwrap_or((1006, String::new(), false));
            let _ = tx.unbounded_send(SocketEvent::Closed {
                code,
                reason,
                clean,
            });
        });
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        Ok(Self {
            ws,
            _callbacks: [on_open, on_message, on_close],
        })
    }
}

impl Drop for Direct {
    fn drop(&mut self) {
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        let _ = self.ws.close_with_code(1000);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A dropped socket reads as WebSocketTransport._close words it, with
    /// "no reason given" for an empty reason; a clean 1000 close is no error.
    #[test]
    fn close_errors_use_the_official_text() {
        assert_eq!(
            close_error(1006, "", false).as_deref(),
            Some("WebSocket closed with status code: 1006 (no reason given).")
        );
        assert_eq!(
            close_error(1011, "going away", true).as_deref(),
            Some("WebSocket closed with status code: 1011 (going away).")
        );
        assert_eq!(
            close_error(1000, "", false).as_deref(),
            Some("WebSocket closed with status code: 1000 (no reason given).")
        );
        assert_eq!(close_error(1000, "bye", true), None);
    }
}
