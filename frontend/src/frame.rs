//! Rendering at the screen's pace, not the wire's: messages can arrive far
//! faster than a screen redraws (1,000 a second against 60 frames), and
//! re-rendering per message would spend the main thread on frames nobody
//! sees and delay the next message's handling. A [`FrameBatch`] collects
//! items as they come and hands them over once per animation frame, so the
//! page updates each signal once a frame, with everything that arrived.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use leptos::prelude::{request_animation_frame, set_timeout};

/// A hidden tab gets no animation frames; this bounds how long items wait
/// (and how many pile up) there.
const FALLBACK: Duration = Duration::from_millis(250);

/// Items waiting for the next frame, and what to do with them there.
pub struct FrameBatch<T> {
    /// Shared with the scheduled callbacks.
    inner: Rc<Inner<T>>,
}

/// The state the frame callbacks share with the batch.
struct Inner<T> {
    /// Arrived since the last flush, in order.
    items: RefCell<Vec<T>>,
    /// A flush is requested: later pushes only add to it.
    scheduled: Cell<bool>,
    /// Counts requests. Each request sets a frame and a timer; whichever
    /// comes first flushes, and the other, seeing a newer (or no) request,
    /// does nothing: the late one used to flush the next batch early, a
    /// second render in the same frame for a few items.
    request: Cell<u64>,
    /// Takes one frame's items, in arrival order.
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
        if self.inner.scheduled.replace(true) {
            return;
        }
        let request = self.inner.request.get() + 1;
        self.inner.request.set(request);
        let on_frame = Rc::clone(&self.inner);
        request_animation_frame(move || on_frame.run(request));
        let on_timer = Rc::clone(&self.inner);
        set_timeout(move || on_timer.run(request), FALLBACK);
    }
}

impl<T> Inner<T> {
    /// Hands over everything queued, if `request` is still the pending
    /// one: the later of its frame and timer finds it answered.
    fn run(&self, request: u64) {
        if !self.scheduled.get() || self.request.get() != request {
            return;
        }
        self.scheduled.set(false);
        let items = self.items.take();
        if !items.is_empty() {
            (self.flush)(items);
        }
    }
}
