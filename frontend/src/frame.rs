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
//! milliseconds. A frame takes at most `PER_FRAME`; the rest stay
//! queued, in order, for the next frame.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use leptos::prelude::{request_animation_frame, set_timeout};

/// A hidden tab gets no animation frames; this bounds how long items wait
/// (and how many pile up) there.
const FALLBACK: Duration = Duration::from_millis(250);
/// Items one frame hands over at most. A count, not a time budget: on a
/// busy machine the page's thread is often not running at all, and a
/// budget in wall time then cut each frame's share until the page fell
/// behind. 1,000 messages a second on three panels are 3,000 items: this
/// keeps up at three frames a second, and a burst's backlog is spread.
const PER_FRAME: usize = 1_000;

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

    /// Hands over up to [`PER_FRAME`] items, if `request` is still the
    /// pending one (the later of its frame and timer finds it answered);
    /// what is left asks for the next frame.
    fn run(this: &Rc<Self>, request: u64) {
        if !this.scheduled.get() || this.request.get() != request {
            return;
        }
        let (items, more) = {
            let mut queued = this.items.borrow_mut();
            let n = queued.len().min(PER_FRAME);
            let rest = queued.split_off(n);
            (std::mem::replace(&mut *queued, rest), !queued.is_empty())
        };
        match more {
            true => Inner::request(this),
            false => this.scheduled.set(false),
        }
        if !items.is_empty() {
            (this.flush)(items);
        }
    }
}
