//! The signalscope dashboard: one live panel per SignalR instance, test
//! broadcasts with verdicts, the Redis feed and the companion's status.
//!
//! A tour, from the wire up:
//!
//! * [`signalr`] is a browser SignalR client over the `protocol` crate:
//!   negotiate (or skipNegotiation when negotiate is refused), WebSocket,
//!   handshake, keep-alive and server timeout, automatic reconnect. It
//!   reports typed [`signalr::ClientEvent`]s (each status change as one
//!   [`signalr::ConnectionStatus`]) and knows nothing of the page.
//! * [`panels`] shows one instance's hub: status, connection id, the last
//!   messages. It knows no wire format, only client events; [`keys`] gives
//!   it the hub's key (the companion's, remembered or typed in).
//! * [`verdicts`] matches test broadcasts to the panels that received them,
//!   times them on one clock and decides PASS or FAIL; it also counts lost
//!   and duplicated messages per panel.
//! * [`feed`] streams the companion's Redis feed (SSE) into a bounded,
//!   filterable log.
//! * [`status_bar`] polls the companion's view of Redis and the instances;
//!   [`canary`] shows the companion's always-on canary when it runs one;
//!   [`export`] downloads the session as JSON.
//! * [`pictures`] draws the session for a room: the topology with each
//!   hop's time, latency over time, and presentation mode.
//! * [`dashboard`] is the state they all share (the page provides it as a
//!   context), [`companion`] the companion's HTTP API, [`instances`] the list of
//!   instances (config, query, saved), [`clock`] the page's clocks, and
//!   [`app`] puts it all on one page; [`frame`] holds messages back to
//!   the next animation frame, so the page renders at the screen's pace.
//!
//! The logic that decides things (retries, verdicts, gaps, filtering,
//! instance lists) is plain Rust with native unit tests; the browser parts
//! are thin.

pub mod app;
pub mod canary;
pub mod clock;
pub mod companion;
pub mod dashboard;
pub mod export;
pub mod feed;
pub mod frame;
pub mod instances;
pub mod keys;
pub mod panels;
pub mod pictures;
pub mod signalr;
pub mod status_bar;
pub mod verdicts;

/// Mounts the dashboard on `<body>`.
pub fn mount() {
    leptos::mount::mount_to_body(app::App);
}
