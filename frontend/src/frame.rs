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
//! milliseconds. A frame takes at most `PER_FRAME`; the rest stay queued,
//! in order, for the next frame.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;

/// A hidden tab gets no animation frames; this bounds how long items wait
/// (and how many pile up) there, in ms.
const FALLBACK_MS: i32 = 250;
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
    /// The requested frame and timer (their handles), while a flush is
    /// pending: later pushes only add to it. Whichever comes first flushes
    /// and cancels the other; a timer left to fire after every frame was a
    /// task of its own per frame, and a closure made per request was
    /// garbage per frame.
    pending: Cell<Option<(i32, i32)>>,
    /// Takes one frame's items, in arrival order.
    flush: Box<dyn Fn(Vec<T>)>,
    /// What the frame and the timer call: made once, holding the batch
    /// weakly so that dropping the batch frees both.
    on_time: Closure<dyn FnMut()>,
}

impl<T: 'static> FrameBatch<T> {
    /// A batch that gives each frame's items to `flush`.
    pub fn new(flush: impl Fn(Vec<T>) + 'static) -> Self {
        Self {
            inner: Rc::new_cyclic(|me: &Weak<Inner<T>>| {
                let me = me.clone();
                Inner {
                    items: RefCell::new(Vec::new()),
                    pending: Cell::new(None),
                    flush: Box::new(flush),
                    on_time: Closure::new(move || {
                        if let Some(inner) = me.upgrade() {
                            inner.run();
                        }
                    }),
                }
            }),
        }
    }

    /// Queues `item` for the next frame; the first item of a frame asks
    /// for it (and for a timer, in case the tab is hidden).
    pub fn push(&self, item: T) {
        self.inner.items.borrow_mut().push(item);
        if self.inner.pending.get().is_none() {
            self.inner.request();
        }
    }
}

impl<T> Inner<T> {
    /// Asks for the next frame, and for a timer in case the tab is hidden.
    fn request(&self) {
        let Some(window) = web_sys::window() else {
            return;
        };
        let callback = self.on_time.as_ref().unchecked_ref();
        let frame = window.request_animation_frame(callback).unwrap_or(0);
        let timer = window
            .set_timeout_with_callback_and_timeout_and_arguments_0(callback, FALLBACK_MS)
            .unwrap_or(0);
        self.pending.set(Some((frame, timer)));
    }

    /// Hands over up to `PER_FRAME` items, if a flush is pending, and
    /// cancels the pending flush's other callback; what is left asks for
    /// the next frame.
    fn run(&self) {
        let Some((frame, timer)) = self.pending.take() else {
            return;
        };
        if let Some(window) = web_sys::window() {
            let _ = window.cancel_animation_frame(frame);
            window.clear_timeout_with_handle(timer);
        }
        let (items, more) = {
            let mut queued = self.items.borrow_mut();
            let n = queued.len().min(PER_FRAME);
            let rest = queued.split_off(n);
            (std::mem::replace(&mut *queued, rest), !queued.is_empty())
        };
        if more {
            self.request();
        }
        if !items.is_empty() {
            (self.flush)(items);
        }
    }
}
