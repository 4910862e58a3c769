//! Rendering at the screen's pace, not the wire's: messages can arrive far
//! faster than a screen redraws (1,000 a second against 60 frames), and
//! re-rendering per message would spend the main thread on frames nobody
//! sees and delay the next message's handling. A [`FrameBatch`] collects
//! items as they come and hands them over once per animation frame, so the
//! page updates each signal once a frame, with everything that arrived.
//!
//! A frame's work is bounded, though: after a stall (a busy machine, a
//! collection, a hidden tab) thousands of items may wait, and handing them
//! over in one task kept the page from handling input for hundreds of
//! milliseconds. A frame takes them in chunks for at most [`BUDGET_MS`];
//! the rest stay queued, in order, for the next frame.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use leptos::prelude::{request_animation_frame, set_timeout};

use crate::clock::now_ms;

/// A hidden tab gets no animation frames; this bounds how long items wait
/// (and how many pile up) there.
const FALLBACK: Duration = Duration::from_millis(250);
/// Items handed to `flush` at once: small enough that the budget is
/// checked often, large enough that a frame's usual dozens go in one.
const CHUNK: usize = 64;
/// Main-thread time one frame may spend flushing; with the render that
/// follows, a key press waits well under 100 ms. At 1,000 messages a second
/// on three panels a frame needs a fraction of it, so the page keeps up.
const BUDGET_MS: f64 = 30.0;

/// Items waiting for the next frame, and what to do with them there.
pub struct FrameBatch<T> {
    /// Shared with the scheduled callbacks.
    inner: Rc<Inner<T>>,
}

/// The state the frame callbacks share with the batch.
struct Inner<T> {
    /// Arrived and not yet flushed, in order.
    items: RefCell<Vec<T>>,
    /// A flush is requested: later pushes only add to it.
    scheduled: Cell<bool>,
    /// Counts requests. Each request sets a frame and a timer; whichever
    /// comes first flushes, and the other, seeing a newer (or no) request,
    /// does nothing: the late one used to flush the next batch early, a
    /// second render in the same frame for a few items.
    request: Cell<u64>,
    /// Takes a chunk of a frame's items, in arrival order.
    flush: Box<dyn Fn(Vec<T>)>,
}

impl<T: 'static> FrameBatch<T> {
    /// A batch that gives each frame's items to `flush`.
    pub fn new(flush: impl Fn(Vec<T>) + 'static) -> Self {
        Self {
            inner: Rc::new(Inner {
                items: RefCell::new(Vec::new()),
                scheduled: Cell::new(false),
                request: Cell::new(0),
                flush: Box::new(flush),
            }),
        }
    }

    /// Queues `item` for the next frame; the first item of a frame asks
    /// for it (and for a timer, in case the tab is hidden).
    pub fn push(&self, item: T) {
        self.inner.items.borrow_mut().push(item);
        if !self.inner.scheduled.replace(true) {
            Inner::request(&self.inner);
        }
    }
}

impl<T: 'static> Inner<T> {
    /// Asks for a frame and a timer, whichever comes first.
    fn request(this: &Rc<Self>) {
        let request = this.request.get() + 1;
        this.request.set(request);
        let on_frame = Rc::clone(this);
        request_animation_frame(move || Inner::run(&on_frame, request));
        let on_timer = Rc::clone(this);
        set_timeout(move || Inner::run(&on_timer, request), FALLBACK);
    }

    /// Hands over what is queued, chunk by chunk for at most [`BUDGET_MS`],
    /// if `request` is still the pending one (the later of its frame and
    /// timer finds it answered); what is left asks for the next frame.
    fn run(this: &Rc<Self>, request: u64) {
        if !this.scheduled.get() || this.request.get() != request {
            return;
        }
        let started = now_ms();
        loop {
            let chunk = {
                let mut items = this.items.borrow_mut();
                let n = items.len().min(CHUNK);
                let rest = items.split_off(n);
                std::mem::replace(&mut *items, rest)
            };
            if chunk.is_empty() {
                this.scheduled.set(false);
                return;
            }
            (this.flush)(chunk);
            if now_ms() - started >= BUDGET_MS && !this.items.borrow().is_empty() {
                Inner::request(this);
                return;
            }
        }
    }
}
