//! The live Redis feed: the companion's `/api/feed` (Server-Sent Events)
//! with a source switch (MONITOR or PSUBSCRIBE), a filter, pause and
//! resume, clear, Redis down/up and `dropped N`, and MONITOR's cost
//! warning while it runs. Lines are put on screen once per animation frame
//! ([`FrameBatch`]), whatever their rate, and at most [`log::MAX_LINES`]
//! are kept.
//!
//! [`Feed`] holds the state; [`FeedControls`], [`FeedStatus`] and
//! [`FeedLines`] show it.

pub mod log;
mod stream;

use std::rc::Rc;

use leptos::ev::MouseEvent;
use leptos::prelude::*;
use protocol::api::{FeedEvent, FeedLine, FeedSource};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Element, Event};

use crate::clock::local_time;
use crate::dashboard::Dashboard;
use crate::frame::FrameBatch;
use log::{describe, FeedLog, Row};
use stream::{Stream, StreamState};

/// The feed's state besides its lines, shared by its parts.
#[derive(Debug, Clone, Copy)]
struct FeedState {
    /// MONITOR or PSUBSCRIBE.
    source: RwSignal<FeedSource>,
    /// What the shown lines must contain.
    filter: RwSignal<String>,
    /// Lines the companion dropped for this page (it fell behind).
    dropped: RwSignal<u64>,
    /// Why Redis is down, while it is.
    redis_down: RwSignal<Option<String>>,
    /// The companion's last error on this stream.
    problem: RwSignal<Option<String>>,
    /// Whether the SSE connection is open.
    stream: RwSignal<StreamState>,
}

/// The feed section.
#[component]
pub fn Feed() -> impl IntoView {
    let dash = expect_context::<Dashboard>();
    let log = dash.feed_log;
    let state = FeedState {
        source: RwSignal::new(FeedSource::Monitor),
        filter: RwSignal::new(String::new()),
        dropped: RwSignal::new(0),
        redis_down: RwSignal::new(None),
        problem: RwSignal::new(None),
        stream: RwSignal::new(StreamState::Retrying),
    };
    // The topology hears of publishes once a frame too: noting one as it
    // comes would redraw everything the ledger feeds once per line.
    let lines = StoredValue::new_local(FrameBatch::new(move |lines: Vec<FeedLine>| {
        lines
            .iter()
            .for_each(|line| crate::pictures::topology::note_publish(&dash, line));
        log.try_update(|l| lines.into_iter().for_each(|line| l.push(line)));
    }));
    let stream = StoredValue::new_local(None::<Stream>);

    let on_event: Rc<dyn Fn(FeedEvent)> = Rc::new(move |event| match event {
        FeedEvent::Line(line) => lines.with_value(|b| b.push(line)),
        FeedEvent::Dropped { count } => {
            let _ = state.dropped.try_update(|d| *d += count);
        }
        FeedEvent::RedisDown { error } => {
            let _ = state.redis_down.try_set(Some(error));
            dash.redis_changed.notify();
        }
        FeedEvent::RedisUp => {
            let _ = state.redis_down.try_set(None);
            dash.redis_changed.notify();
        }
        FeedEvent::Error { message } => {
            let _ = state.problem.try_set(Some(message));
        }
    });
    let on_state: Rc<dyn Fn(StreamState)> = Rc::new(move |s| {
        let _ = state.stream.try_set(s);
    });
    Effect::new(move |_| {
        let url = dash
            .companion
            .with_value(|c| c.feed_url(state.source.get()));
        state.problem.set(None);
        state.stream.set(StreamState::Retrying);
        // Close the old stream before opening the next.
        stream.set_value(None);
        stream.set_value(Stream::open(&url, on_event.clone(), on_state.clone()));
    });
    on_cleanup(move || {
        let _ = stream.try_update_value(|s| *s = None);
    });

    // Off screen, the section skips rendering (style/dashboard.css), and
    // its lines need not be made either: they wait in the log and are drawn
    // when it comes into view. The browser says when, by this event; one
    // that never sends it draws every frame, as before.
    let on_screen = RwSignal::new(true);
    let section = NodeRef::<leptos::html::Section>::new();
    // Holds the listener for as long as the feed lives.
    let watcher = StoredValue::new_local(None::<Closure<dyn FnMut(Event)>>);
    section.on_load(move |el| {
        let listener = Closure::<dyn FnMut(Event)>::new(move |ev: Event| {
            let skipped = js_sys::Reflect::get(&ev, &JsValue::from_str("skipped"))
                .ok()
                .and_then(|v| v.as_bool());
            let _ = on_screen.try_set(skipped != Some(true));
        });
        let _ = el.add_event_listener_with_callback(
            "contentvisibilityautostatechange",
            listener.as_ref().unchecked_ref(),
        );
        watcher.set_value(Some(listener));
    });

    let redis_down = move || state.redis_down.with(Option::is_some);
    view! {
        <section
            node_ref=section
            class="feed"
            data-feed=""
            data-redis=move || if redis_down() { "down" } else { "up" }
            aria-labelledby="feed-title"
        >
            <FeedControls state/>
            <FeedStatus state/>
            <FeedLines filter=state.filter on_screen/>
        </section>
    }
}

/// The feed's heading and controls: source, filter, pause, clear.
#[component]
fn FeedControls(
    /// The feed's state, which the controls change.
    state: FeedState,
) -> impl IntoView {
    let log = expect_context::<Dashboard>().feed_log;
    let paused = move || log.with(|l| l.paused());
    let toggle_pause = move |_| log.update(|l| if l.paused() { l.resume() } else { l.pause() });
    let clear = move |_| {
        log.update(|l| l.clear());
        state.dropped.set(0);
    };
    let source_choice = move |value: FeedSource, label: &'static str| {
        view! {
            <label>
                <input
                    type="radio"
                    name="feed-source"
                    prop:checked=move || state.source.get() == value
                    on:change=move |_| state.source.set(value)
                />
                {label}
            </label>
        }
    };
    view! {
        <header class="feed-head">
            <h2 id="feed-title">"Redis feed"</h2>
            <fieldset class="source">
                <legend>"Source"</legend>
                {source_choice(FeedSource::Monitor, "MONITOR")}
                {source_choice(FeedSource::Pubsub, "PSUBSCRIBE")}
            </fieldset>
            <input
                type="search"
                placeholder="Filter lines"
                aria-label="Filter feed lines"
                bind:value=state.filter
            />
            <button type="button" on:click=toggle_pause aria-pressed=move || paused().to_string()>
                {move || if paused() { "Resume" } else { "Pause" }}
            </button>
            <button type="button" on:click=clear>"Clear"</button>
        </header>
    }
}

/// Where the feed stands: Redis up or down, the stream, drops, held lines,
/// the companion's error, and MONITOR's cost while it runs.
#[component]
fn FeedStatus(
    /// The feed's state.
    state: FeedState,
) -> impl IntoView {
    let log = expect_context::<Dashboard>().feed_log;
    let redis_down = move || state.redis_down.with(Option::is_some);
    let monitor_running = move || {
        state.source.get() == FeedSource::Monitor && state.stream.get() == StreamState::Open
    };
    let words = move || {
        let stream = match state.stream.get() {
            StreamState::Open => "stream open",
            StreamState::Retrying => "stream connecting…",
            StreamState::Closed => "stream refused by the companion: switch the source to retry",
        };
        let mut parts = vec![stream.to_owned()];
        if let Some(e) = state.redis_down.get() {
            parts.push(format!("Redis down: {e}"));
        }
        let d = state.dropped.get();
        if d > 0 {
            parts.push(format!("dropped {d}"));
        }
        let (held, overflowed) = log.with(|l| (l.held(), l.overflowed()));
        if held > 0 {
            parts.push(format!("{held} held while paused"));
        }
        if overflowed > 0 {
            parts.push(format!("{overflowed} skipped while paused"));
        }
        parts.join(" · ")
    };
    view! {
        <p class="feed-state" role="status" aria-live="polite">
            <span class=move || if redis_down() { "chip bad" } else { "chip good" }>
                {move || if redis_down() { "Redis down" } else { "Redis up" }}
            </span>
            " " {words}
        </p>
        <Show when=move || state.problem.with(Option::is_some)>
            <p class="error" role="alert">{move || state.problem.get().unwrap_or_default()}</p>
        </Show>
        <Show when=monitor_running>
            <p class="warning" role="note">
                "MONITOR is running: Redis copies every command to this feed, which can cost a busy server much of its throughput. Prefer PSUBSCRIBE on a production Redis."
            </p>
        </Show>
    }
}

/// Feed lines on screen at first, and how many more each "Show more" adds.
/// Every line in the DOM is styled and laid out again on each frame that
/// adds one at the top, so the page draws a window of the newest and keeps
/// the rest of the log ([`log::MAX_LINES`]) for the filter, more and export.
const WINDOW: usize = 100;

/// The newest matching lines, newest first, keyed by line id: a frame
/// creates rows only for the lines it brought. The older ones on request.
#[component]
fn FeedLines(
    /// What the shown lines must contain.
    filter: RwSignal<String>,
    /// Whether the feed is on screen: off it, the lines drawn stay as they
    /// are, and the log is not even read.
    on_screen: RwSignal<bool>,
) -> impl IntoView {
    let log = expect_context::<Dashboard>().feed_log;
    let limit = RwSignal::new(WINDOW);
    let drawn = StoredValue::new(Vec::<Row>::new());
    let rows = move || {
        if !on_screen.get() {
            return drawn.get_value();
        }
        let rows = log.with(|l| l.visible(&filter.get(), limit.get()));
        drawn.set_value(rows.clone());
        rows
    };
    let more = move || {
        log.with(|l| l.count(&filter.get()))
            .saturating_sub(limit.get())
    };
    view! {
        <ol class="feed-lines" on:click=move |ev| toggle_raw(&ev, log)>
            <For each=rows key=|row| row.id children=|row| view! { <FeedRow row/> }/>
        </ol>
        <Show when=move || { more() > 0 }>
            <button type="button" class="quiet small" data-feed-more="" on:click=move |_| limit.update(|l| *l += WINDOW)>
                // Fixed words: a count here would change, and be laid out
                // again, on every frame that brings a line.
                "Show older lines"
            </button>
        </Show>
    }
}

/// Shows or hides a line's raw text under it when its "raw" button is
/// clicked. One listener on the list does it for every line: a listener,
/// a signal and a <Show> per line were a large part of making each one, and
/// few lines are ever opened.
fn toggle_raw(ev: &MouseEvent, log: RwSignal<FeedLog>) {
    let clicked = ev.target().and_then(|t| t.dyn_into::<Element>().ok());
    let Some(button) = clicked.and_then(|e| e.closest("[data-raw]").ok().flatten()) else {
        return;
    };
    let Some(line) = button.closest("[data-line]").ok().flatten() else {
        return;
    };
    if let Some(open) = line.query_selector("pre.raw").ok().flatten() {
        open.remove();
        let _ = button.set_attribute("aria-expanded", "false");
        return;
    }
    let id = line
        .get_attribute("data-line")
        .and_then(|id| id.parse::<u64>().ok());
    let raw = id.and_then(|id| log.with_untracked(|l| l.raw(id).map(str::to_owned)));
    let pre = raw.and_then(|text| {
        let pre = line.owner_document()?.create_element("pre").ok()?;
        pre.set_class_name("raw");
        pre.set_text_content(Some(&text));
        Some(pre)
    });
    if let Some(pre) = pre {
        let _ = line.append_child(&pre);
        let _ = button.set_attribute("aria-expanded", "true");
    }
}

/// One feed line: time, publisher, decoded reading, and a button for the
/// raw line ([`toggle_raw`]).
#[component]
fn FeedRow(
    /// The line.
    row: Row,
) -> impl IntoView {
    let line = row.line;
    let who = line
        .publisher_name
        .clone()
        .or_else(|| line.publisher_addr.clone())
        .unwrap_or_default();
    view! {
        <li class="feed-line" data-command=line.command.clone() data-line=row.id>
            <time>{local_time(line.time_micros as f64 / 1000.0)}</time>
            <span class="who">{who}</span>
            <span class="what">{describe(&line)}</span>
            {line.truncated.then(|| view! { <span class="badge warn">"truncated"</span> })}
            <button type="button" class="quiet small" aria-expanded="false" data-raw="">
                "raw"
            </button>
        </li>
    }
}
