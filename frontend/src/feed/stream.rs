//! The companion's feed as the browser receives it: an EventSource whose
//! events are decoded into [`FeedEvent`]s, and whose drops and refusals
//! are told apart.

use std::rc::Rc;

use protocol::api::FeedEvent;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{Event, EventSource, MessageEvent};

/// SSE's default event name, listened to as well in case an event comes
/// unnamed; the named ones are [`FeedEvent::NAMES`].
const UNNAMED_EVENT: &str = "message";

/// Where the SSE connection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamState {
    /// Opening, or reopening after a drop.
    Retrying,
    /// Events flow.
    Open,
    /// The browser gave up (the companion answered with an error).
    Closed,
}

/// An open EventSource and its listeners; dropping it closes the stream.
pub struct Stream {
    /// The browser's stream.
    source: EventSource,
    /// Listeners, kept alive as long as the stream.
    _listeners: Vec<Closure<dyn FnMut(Event)>>,
}

impl Stream {
    /// Opens `url`; `on_event` gets each decoded event, `on_state` the
    /// stream's state: open, retrying (the browser retries by itself after
    /// a drop) or closed for good (an HTTP error, e.g. a refused token).
    pub fn open(
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
