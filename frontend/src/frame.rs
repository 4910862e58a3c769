//! Rendering at the screen's pace, not the wire's: messages can arrive far
//! faster than a screen redraws (1,000 a second against 60 frames), and
//! re-rendering per message would spend the main thread on frames nobody
//! sees and delay the next message's handling. A [`FrameBatch`] collects
//! items as they come and hands them over once per animation frame, so the
//! page updates each signal once a frame, with everything that arrived.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;

/// A hidden tab gets no animation frames; this bounds how long items wait
/// (and how many pile up) there, in ms.
const FALLBACK_MS: i32 = 250;

/// Items waiting for the next frame, and what to do with them there.
pub struct FrameBatch<T> {
    /// Shared with the scheduled callbacks.
    inner: Rc<Inner<T>>,
}

/// The state the frame callbacks share with the batch.
struct Inner<T> {
    /// Arrived since the last flush, in order.
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
        if self.inner.pending.get().is_some() {
            return;
        }
        let Some(window) = web_sys::window() else {
            return;
        };
        let callback = self.inner.on_time.as_ref().unchecked_ref();
        let frame = window.request_animation_frame(callback).unwrap_or(0);
        let timer = window
            .set_timeout_with_callback_and_timeout_and_arguments_0(callback, FALLBACK_MS)
            .unwrap_or(0);
        self.inner.pending.set(Some((frame, timer)));
    }
}

impl<T> Inner<T> {
    /// Hands over everything queued, if a flush is pending, and cancels
    /// the pending flush's other callback.
    fn run(&self) {
        let Some((frame, timer)) = self.pending.take() else {
            return;
        };
        if let Some(window) = web_sys::window() {
            let _ = window.cancel_animation_frame(frame);
            window.clear_timeout_with_handle(timer);
        }
        let items = self.items.take();
        if !items.is_empty() {
            (self.flush)(items);
        }
    }
}
