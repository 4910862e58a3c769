//! The page's WebSockets, owned by one dedicated Worker. A frame is stamped
//! the moment the worker's task for it runs, on the worker's own thread, so
//! what the page is busy with (rendering the verdict row a click just
//! added) cannot make an arrival look late. Everything that arrived while
//! the worker was in one burst goes to the page as one message: at 1,000
//! broadcasts a second on three panels the page handles far fewer events,
//! and at low rates a frame waits only for a 0-ms timer.
//!
//! The worker is plain JavaScript ([`SCRIPT`]), started from a Blob URL at
//! runtime: it only owns sockets and stamps frames, everything SignalR stays
//! in Rust on the page. Opening is not a round trip: the constructor's
//! refusal comes back as the socket's first event. The worker lives while
//! some socket does and quits once the last one has closed (after its
//! closing handshake), so a page with no connection keeps no thread; the
//! next socket starts a new one.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use futures::channel::mpsc::UnboundedSender;
use js_sys::{Array, ArrayBuffer, Uint8Array};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Blob, BlobPropertyBag, Event, MessageEvent, Url, Worker};

use super::socket::SocketEvent;

/// The worker. The page posts `[op, id, arg]`: `open` (arg: the URL),
/// `send` (arg: the text), `close` (detach and close with 1000, as the
/// direct socket's drop does) and `quit` (end once closing sockets have).
/// It posts batches of `[id, kind, …]`: 0 the constructor threw (the
/// error, worded as the direct socket's), 1 open, 2 a frame with its
/// arrival time (Unix ms on the high-resolution clock, taken before
/// anything else), 3 closed (code, reason, clean). Binary frames' buffers
/// are transferred, not copied.
const SCRIPT: &str = "const sockets=new Map();let out=[],closing=0,quitting=false;\
const flush=()=>{postMessage(out,out.flatMap(e=>e[2] instanceof ArrayBuffer?[e[2]]:[]));out=[];};\
const report=e=>{if(!out.length)setTimeout(flush,0);out.push(e);};\
const settle=()=>{if(quitting&&!closing)close();};\
onmessage=({data:[op,id,arg]})=>{\
if(op==='open'){try{const ws=new WebSocket(arg);ws.binaryType='arraybuffer';\
ws.onopen=()=>report([id,1]);\
ws.onmessage=e=>report([id,2,e.data,performance.timeOrigin+performance.now()]);\
ws.onclose=e=>{sockets.delete(id);report([id,3,e.code,e.reason,e.wasClean]);};\
sockets.set(id,ws);}catch(e){report([id,0,`cannot open ${arg}: ${e}`]);}}\
else if(op==='send'){try{sockets.get(id)?.send(arg);}catch(e){}}\
else if(op==='close'){const ws=sockets.get(id);if(ws){sockets.delete(id);closing++;\
ws.onopen=ws.onmessage=null;ws.onclose=()=>{closing--;settle();};ws.close(1000);}}\
else{quitting=true;settle();}};";

/// What the page knows of one socket in the worker.
struct Entry {
    /// Its id in the worker.
    id: u32,
    /// The socket's events, to [`super::socket::Socket::next`].
    events: UnboundedSender<SocketEvent>,
}

/// The sockets, shared by the relay and its message handler. A page has a
/// handful, so a list searched by id is enough (and smaller in the .wasm
/// than a hash map).
type Entries = Rc<RefCell<Vec<Entry>>>;

/// Takes the socket `id` out of `entries`, if it is there.
fn take(entries: &mut Vec<Entry>, id: u32) -> Option<Entry> {
    let at = entries.iter().position(|e| e.id == id)?;
    Some(entries.swap_remove(at))
}

/// One running worker and the sockets it owns.
struct Relay {
    /// The worker.
    worker: Worker,
    /// The sockets still open from the page's side.
    entries: Entries,
    /// The id the next socket gets; ids are never reused within a worker, so
    /// a late report for a closed socket finds nothing.
    next_id: Cell<u32>,
    /// Reads the worker's batches; must live while the worker may post.
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    /// Hears that the worker failed (its script refused, e.g. by a CSP).
    _on_error: Closure<dyn FnMut(Event)>,
}

thread_local! {
    /// The running worker, if any socket needs one now.
    static RELAY: RefCell<Option<Rc<Relay>>> = const { RefCell::new(None) };
    /// Set when a worker failed after it was made: its script cannot load
    /// here, so every later socket goes direct rather than waiting on
    /// another. (A constructor that throws is cheap to try again.)
    static BROKEN: Cell<bool> = const { Cell::new(false) };
    /// The worker's script as a Blob URL, made once: a worker may still be
    /// loading it when another has quit.
    static SCRIPT_URL: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// A socket owned by the worker; dropping it closes the socket.
pub struct Relayed {
    /// Its id in the worker.
    id: u32,
    /// The worker it lives in.
    relay: Rc<Relay>,
}

/// Opens `url` in the worker, reporting to `events`. `None` when no worker
/// can be had (none may be created, or it failed): the caller opens the
/// socket directly.
pub fn open(url: &str, events: UnboundedSender<SocketEvent>) -> Option<Relayed> {
    let relay = running()?;
    let id = relay.next_id.get();
    relay.next_id.set(id.wrapping_add(1));
    relay.entries.borrow_mut().push(Entry { id, events });
    let socket = Relayed { id, relay };
    socket.post("open", url);
    Some(socket)
}

impl Relayed {
    /// Sends one text frame. Like the browser's own `send` after a drop,
    /// it succeeds as long as the worker takes the message.
    pub fn send(&self, text: &str) -> Result<(), String> {
        self.post_checked("send", text)
    }

    /// Posts `[op, id, arg]` to the worker, ignoring a failure (a worker
    /// gone quiet is noticed by the caller's own clocks).
    fn post(&self, op: &str, arg: &str) {
        let _ = self.post_checked(op, arg);
    }

    /// Posts `[op, id, arg]` to the worker.
    fn post_checked(&self, op: &str, arg: &str) -> Result<(), String> {
        let message = Array::of3(&op.into(), &self.id.into(), &arg.into());
        self.relay
            .worker
            .post_message(&message)
            .map_err(|e| format!("send failed: {e:?}"))
    }
}

impl Drop for Relayed {
    fn drop(&mut self) {
        // Gone already if the server closed it or the worker failed.
        if take(&mut self.relay.entries.borrow_mut(), self.id).is_some() {
            self.post("close", "");
        }
        if !self.relay.entries.borrow().is_empty() {
            return;
        }
        let retiring = RELAY.with(|r| {
            let mut running = r.borrow_mut();
            let ours = running
                .as_ref()
                .is_some_and(|on| Rc::ptr_eq(on, &self.relay));
            ours && running.take().is_some()
        });
        if retiring {
            self.post("quit", "");
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.worker.set_onmessage(None);
        self.worker.set_onerror(None);
    }
}

/// The running worker, started if none runs; `None` if none can be.
fn running() -> Option<Rc<Relay>> {
    if BROKEN.get() {
        return None;
    }
    if let Some(relay) = RELAY.with(|r| r.borrow().clone()) {
        return Some(relay);
    }
    let relay = Rc::new(start()?);
    RELAY.with(|r| *r.borrow_mut() = Some(relay.clone()));
    Some(relay)
}

/// Starts a worker on [`SCRIPT`].
fn start() -> Option<Relay> {
    let url = SCRIPT_URL.with(|u| {
        if u.borrow().is_none() {
            let options = BlobPropertyBag::new();
            options.set_type("text/javascript");
            let parts = Array::of1(&SCRIPT.into());
            let blob = Blob::new_with_str_sequence_and_options(&parts, &options).ok()?;
            *u.borrow_mut() = Some(Url::create_object_url_with_blob(&blob).ok()?);
        }
        u.borrow().clone()
    })?;
    let worker = Worker::new(&url).ok()?;
    let entries = Entries::default();
    // The worker's clock is converted to the page's by the two origins.
    let origin = web_sys::window()?.performance()?.time_origin();
    let on_message = {
        let entries = entries.clone();
        Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
            deliver(&entries, &e.data(), origin)
        })
    };
    let on_error = {
        let entries = entries.clone();
        Closure::<dyn FnMut(Event)>::new(move |_| failed(&entries))
    };
    worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    Some(Relay {
        worker,
        entries,
        next_id: Cell::new(0),
        _on_message: on_message,
        _on_error: on_error,
    })
}

/// Hands one batch from the worker to its sockets, in order.
fn deliver(entries: &Entries, batch: &JsValue, origin: f64) {
    let Some(batch) = batch.dyn_ref::<Array>() else {
        return;
    };
    let mut entries = entries.borrow_mut();
    for report in batch.iter() {
        let report: Array = report.unchecked_into();
        let Some(id) = report.get(0).as_f64() else {
            continue;
        };
        let id = id as u32;
        let Some(entry) = entries.iter_mut().find(|e| e.id == id) else {
            continue;
        };
        let event = match report.get(1).as_f64().unwrap_or(-1.0) as i32 {
            0 => SocketEvent::Refused(report.get(2).as_string().unwrap_or_default()),
            1 => SocketEvent::Open,
            2 => {
                let Some(bytes) = frame_bytes(&report.get(2)) else {
                    continue;
                };
                let at_ms = report.get(3).as_f64().unwrap_or_default() - origin;
                SocketEvent::Data { bytes, at_ms }
            }
            3 => SocketEvent::Closed {
                code: report.get(2).as_f64().unwrap_or(1006.0) as u16,
                reason: report.get(3).as_string().unwrap_or_default(),
                clean: report.get(4).as_bool().unwrap_or(false),
            },
            _ => continue,
        };
        // The socket's last word: later reports for its id find nothing.
        let last = matches!(event, SocketEvent::Refused(_) | SocketEvent::Closed { .. });
        let _ = entry.events.unbounded_send(event);
        if last {
            take(&mut entries, id);
        }
    }
}

/// The worker died: its sockets end as a dropped connection does, and
/// every later one (the retry included) goes direct.
fn failed(entries: &Entries) {
    BROKEN.set(true);
    RELAY.with(|r| r.borrow_mut().take());
    for entry in entries.borrow_mut().drain(..) {
        let _ = entry.events.unbounded_send(SocketEvent::Closed {
            code: 1006,
            reason: "the socket worker failed".into(),
            clean: false,
        });
    }
}

/// A frame's payload as bytes, whether it came as text or binary.
pub fn frame_bytes(data: &JsValue) -> Option<Vec<u8>> {
    if let Some(text) = data.as_string() {
        return Some(text.into_bytes());
    }
    data.dyn_ref::<ArrayBuffer>()
        .map(|buf| Uint8Array::new(buf).to_vec())
}
