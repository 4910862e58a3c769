//! The page's clocks: `performance.now()` for every duration and latency
//! (one monotonic clock, so click-to-arrival times are comparable), the
//! wall clock only for what people read.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use leptos::prelude::*;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};

/// Milliseconds on the page's monotonic clock.
pub fn now_ms() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map(|p| p.now())
        .unwrap_or_default()
}

/// Unix milliseconds, for display and export.
pub fn wall_ms() -> f64 {
    js_sys::Date::now()
}

/// `HH:MM:SS.mmm` in the viewer's time zone.
pub fn local_time(wall_ms: f64) -> String {
    let d = js_sys::Date::new(&JsValue::from_f64(wall_ms));
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        d.get_hours(),
        d.get_minutes(),
        d.get_seconds(),
        d.get_milliseconds()
    )
}

/// Resolves after `ms` milliseconds; dropped before that, it clears its
/// timer. A session waits for its next frame *or* its heartbeat check with
/// a fresh `sleep` per frame: a timer left to fire 15–30 s later, holding a
/// promise and closures, was kept for every message — at 1,000 messages a
/// second, megabytes of JS heap and thousands of timers firing into nothing.
pub fn sleep(ms: u64) -> Sleep {
    let shared = Rc::new(Fired::default());
    let on_fire = {
        let shared = Rc::clone(&shared);
        Closure::<dyn FnMut()>::new(move || {
            shared.done.set(true);
            if let Some(waker) = shared.waker.take() {
                waker.wake();
            }
        })
    };
    let ms = i32::try_from(ms).unwrap_or(i32::MAX);
    let timer = web_sys::window().and_then(|w| {
        w.set_timeout_with_callback_and_timeout_and_arguments_0(
            on_fire.as_ref().unchecked_ref(),
            ms,
        )
        .ok()
    });
    Sleep {
        shared,
        timer,
        _on_fire: on_fire,
    }
}

/// The future [`sleep`] returns.
pub struct Sleep {
    /// What the timer's callback and the future share.
    shared: Rc<Fired>,
    /// The browser's timer, cleared on drop (a no-op once it fired).
    timer: Option<i32>,
    /// The timer's callback: owned here, so it lives exactly as long as
    /// the wait and is never called after (its timer is cleared first).
    _on_fire: Closure<dyn FnMut()>,
}

/// Whether the timer fired, and who to wake when it does.
#[derive(Default)]
struct Fired {
    /// The timer fired.
    done: Cell<bool>,
    /// The task waiting on it.
    waker: RefCell<Option<Waker>>,
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.shared.done.get() {
            return Poll::Ready(());
        }
        *self.shared.waker.borrow_mut() = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let (Some(timer), Some(w)) = (self.timer.take(), web_sys::window()) {
            w.clear_timeout_with_handle(timer);
        }
    }
}

/// A duration as people say it: `0.4 s`, `12 s`, `3 min 5 s`, `2 h 1 min`.
pub fn span(ms: f64) -> String {
    let ms = ms.max(0.0);
    if ms < 10_000.0 {
        return format!("{} s", one_decimal(ms / 1000.0));
    }
    let secs = (ms / 1000.0).floor() as u64;
    match secs {
        0..=59 => format!("{secs} s"),
        60..=3599 => format!("{} min {} s", secs / 60, secs % 60),
        _ => format!("{} h {} min", secs / 3600, secs % 3600 / 60),
    }
}

/// Whole milliseconds: `12 ms`.
pub fn millis(ms: f64) -> String {
    format!("{} ms", ms.round() as i64)
}

/// One decimal place, by integer arithmetic: float formatting with a
/// precision would pull a large formatter into the .wasm.
pub fn one_decimal(x: f64) -> String {
    let tenths = (x * 10.0).round() as i64;
    let sign = if tenths < 0 { "-" } else { "" };
    format!("{sign}{}.{}", tenths.abs() / 10, tenths.abs() % 10)
}

/// A text that follows the 1 s clock ("3 min 5 s", "12 s ago"), in a box
/// of its own (`.ticking` in style/dashboard.css: fixed height, `contain:
/// strict`, tabular digits): its change every second lays out and paints
/// that box alone, not the panel and the page around it, which is what an
/// idle page spent its main thread on. The text is written only when it
/// changes.
pub fn ticking(text: impl Fn() -> String + Send + Sync + 'static) -> impl IntoView {
    view! { <span class="ticking">{text}</span> }
}

/// Runs `tick` every `period` for as long as the calling component (or
/// reactive owner) lives: the interval is cleared on its cleanup.
pub fn every(period: std::time::Duration, tick: impl Fn() + 'static) {
    if let Ok(handle) = leptos::prelude::set_interval_with_handle(tick, period) {
        leptos::prelude::on_cleanup(move || handle.clear());
    }
}

#[cfg(test)]
mod tests {
    use super::{millis, one_decimal, span};

    /// Rounding to a decimal or a whole millisecond works for either sign.
    #[test]
    fn numbers_round_half_away_from_zero() {
        assert_eq!(one_decimal(2.649), "2.6");
        assert_eq!(one_decimal(2.65), "2.7");
        assert_eq!(one_decimal(-0.25), "-0.3");
        assert_eq!(one_decimal(0.0), "0.0");
        assert_eq!(millis(12.5), "13 ms");
    }

    /// Short spans keep a decimal; long ones switch to minutes and hours.
    #[test]
    fn spans_read_naturally() {
        assert_eq!(span(-5.0), "0.0 s");
        assert_eq!(span(400.0), "0.4 s");
        assert_eq!(span(12_300.0), "12 s");
        assert_eq!(span(185_000.0), "3 min 5 s");
        assert_eq!(span(7_260_000.0), "2 h 1 min");
    }
}
