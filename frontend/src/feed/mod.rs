//! The live Redis feed: the companion's `/api/feed` (Server-Sent Events)
//! with a source switch (MONITOR or PSUBSCRIBE), a filter, pause and
//! resume, clear, Redis down/up and `dropped N`, and MONITOR's cost
//! warning while it runs. Lines are batched into the page a few times a
//! second and at most [`log::MAX_LINES`] are kept.

pub mod log;

use std::rc::Rc;
use std::time::Duration;

use leptos::prelude::*;
use protocol::api::{FeedEvent, FeedLine, FeedSource};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{Event, EventSource, MessageEvent};

use crate::clock::local_time;
use crate::dashboard::Dashboard;
use log::{describe, Row};

/// How often arrived lines are put on screen.
const FLUSH: Duration = Duration::from_millis(200);

/// SSE's default event name, listened to as well in case an event comes
/// unnamed; the named ones are [`FeedEvent::NAMES`].
const UNNAMED_EVENT: &str = "message";

/// Where the SSE connection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StreamState {
    /// Opening, or reopening after a drop.
    Retrying,
    /// Events flow.
    Open,
    /// The browser gave up (the companion answered with an error).
    Closed,
}

/// An open EventSource and its listeners; dropping it closes the stream.
struct Stream {
    /// The browser's stream.
    source: EventSource,
    /// Listeners, kept alive as long as the stream.
    _listeners: Vec<Closure<dyn FnMut(Event)>>,
}

impl Stream {
    /// Opens `url`; `on_event` gets each decoded event, `on_state` the
    /// stream's state: open, retrying (the browser retries by itself after
    /// a drop) or closed for good (an HTTP error, e.g. a refused token).
    fn open(
        url: &str,
        on_event: Rc<dyn Fn(FeedEvent)>,
        on_state: Rc<dyn Fn(StreamState)>,
    ) -> Option<Self> {
        let source = EventSource::new(url).ok()?;
        let mut listeners = Vec::new();
        for name in FeedEvent::NAMES.into_iter().chain([UNNAMED_EVENT]) {
            let on_event = on_event.clone();
            let on_state = on_state.clone();
            let stream = source.clone();
            let listener = Closure::<dyn FnMut(Event)>::new(move |e: Event| {
                let data = e
                    .dyn_ref::<MessageEvent>()
                    .and_then(|m| m.data().as_string());
                match data.and_then(|d| FeedEvent::decode(&e.type_(), &d)) {
                    Some(event) => on_event(event),
                    // The stream's own `error` carries no data: it dropped.
                    None if e.type_() == "error" => {
                        on_state(if stream.ready_state() == EventSource::CLOSED {
                            StreamState::Closed
                        } else {
                            StreamState::Retrying
                        })
                    }
                    None => {}
                }
            });
            let _ =
                source.add_event_listener_with_callback(name, listener.as_ref().unchecked_ref());
            listeners.push(listener);
        }
        let opened = Closure::<dyn FnMut(Event)>::new(move |_| on_state(StreamState::Open));
        let _ = source.add_event_listener_with_callback("open", opened.as_ref().unchecked_ref());
        listeners.push(opened);
        Some(Self {
            source,
            _listeners: listeners,
        })
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        self.source.close();
    }
}

/// The feed section.
#[component]
pub fn Feed() -> impl IntoView {
    let dash = expect_context::<Dashboard>();
    let log = dash.feed_log;
    let source = RwSignal::new(FeedSource::Monitor);
    let filter = RwSignal::new(String::new());
    let dropped = RwSignal::new(0u64);
    let redis_down = RwSignal::new(None::<String>);
    let problem = RwSignal::new(None::<String>);
    let stream_state = RwSignal::new(StreamState::Retrying);
    let inbox: StoredValue<Vec<FeedLine>> = StoredValue::new(Vec::new());
    let stream = StoredValue::new_local(None::<Stream>);

    let on_event: Rc<dyn Fn(FeedEvent)> = Rc::new(move |event| match event {
        FeedEvent::Line(line) => inbox.update_value(|i| i.push(line)),
        FeedEvent::Dropped { count } => {
            let _ = dropped.try_update(|d| *d += count);
        }
        FeedEvent::RedisDown { error } => {
            let _ = redis_down.try_set(Some(error));
            dash.redis_changed.notify();
        }
        FeedEvent::RedisUp => {
            let _ = redis_down.try_set(None);
            dash.redis_changed.notify();
        }
        FeedEvent::Error { message } => {
            let _ = problem.try_set(Some(message));
        }
    });
    let on_state: Rc<dyn Fn(StreamState)> = Rc::new(move |state| {
        let _ = stream_state.try_set(state);
    });
    Effect::new(move |_| {
        let url = dash.companion.with_value(|c| c.feed_url(source.get()));
        problem.set(None);
        stream_state.set(StreamState::Retrying);
        // Close the old stream before opening the next.
        stream.set_value(None);
        stream.set_value(Stream::open(&url, on_event.clone(), on_state.clone()));
    });
    on_cleanup(move || {
        let _ = stream.try_update_value(|s| *s = None);
    });

    crate::clock::every(FLUSH, move || {
        let lines = inbox.try_update_value(std::mem::take).unwrap_or_default();
        if !lines.is_empty() {
            log.try_update(|l| lines.into_iter().for_each(|line| l.push(line)));
        }
    });

    let rows = move || log.with(|l| l.visible(&filter.get()));
    let paused = move || log.with(|l| l.paused());
    let toggle_pause = move |_| log.update(|l| if l.paused() { l.resume() } else { l.pause() });
    let clear = move |_| {
        log.update(|l| l.clear());
        dropped.set(0);
    };
    let monitor_running =
        move || source.get() == FeedSource::Monitor && stream_state.get() == StreamState::Open;
    let state_words = move || {
        let stream = match stream_state.get() {
            StreamState::Open => "stream open",
            StreamState::Retrying => "stream connecting…",
            StreamState::Closed => "stream refused by the companion: switch the source to retry",
        };
        let mut parts = vec![stream.to_owned()];
        if let Some(e) = redis_down.get() {
            parts.push(format!("Redis down: {e}"));
        }
        let d = dropped.get();
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
    let source_choice = move |value: FeedSource, label: &'static str| {
        view! {
            <label>
                <input
                    type="radio"
                    name="feed-source"
                    prop:checked=move || source.get() == value
                    on:change=move |_| source.set(value)
                />
                {label}
            </label>
        }
    };

    view! {
        <section
            class="feed"
            data-feed=""
            data-redis=move || if redis_down.with(Option::is_some) { "down" } else { "up" }
            aria-labelledby="feed-title"
        >
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
                    bind:value=filter
                />
                <button type="button" on:click=toggle_pause aria-pressed=move || paused().to_string()>
                    {move || if paused() { "Resume" } else { "Pause" }}
                </button>
                <button type="button" on:click=clear>"Clear"</button>
            </header>
            <p class="feed-state" role="status" aria-live="polite">
                <span class=move || if redis_down.with(Option::is_some) { "chip bad" } else { "chip good" }>
                    {move || if redis_down.with(Option::is_some) { "Redis down" } else { "Redis up" }}
                </span>
                " " {state_words}
            </p>
            <Show when=move || problem.with(Option::is_some)>
                <p class="error" role="alert">{move || problem.get().unwrap_or_default()}</p>
            </Show>
            <Show when=monitor_running>
                <p class="warning" role="note">
                    "MONITOR is running: Redis copies every command to this feed, which can cost a busy server much of its throughput. Prefer PSUBSCRIBE on a production Redis."
                </p>
            </Show>
            <ol class="feed-lines">
                <For each=rows key=|row| row.id children=|row| view! { <FeedRow row/> }/>
            </ol>
        </section>
    }
}

/// One feed line: time, publisher, decoded reading; the raw line on demand.
#[component]
fn FeedRow(
    /// The line.
    row: Row,
) -> impl IntoView {
    let line = row.line;
    let raw_open = RwSignal::new(false);
    let who = line
        .publisher_name
        .clone()
        .or_else(|| line.publisher_addr.clone())
        .unwrap_or_default();
    let raw = line.raw.clone();
    view! {
        <li class="feed-line" data-command=line.command.clone()>
            <time>{local_time(line.time_micros as f64 / 1000.0)}</time>
            <span class="who">{who}</span>
            <span class="what">{describe(&line)}</span>
            {line.truncated.then(|| view! { <span class="badge warn">"truncated"</span> })}
            <button
                type="button"
                class="quiet small"
                aria-expanded=move || raw_open.get().to_string()
                on:click=move |_| raw_open.update(|o| *o = !*o)
            >
                "raw"
            </button>
            <Show when=move || raw_open.get()>
                <pre class="raw">{raw.clone()}</pre>
            </Show>
        </li>
    }
}
