//! Browser tests (headless Chromium via wasm-bindgen-test-runner): the
//! components render what they are given as text, and a panel's client
//! handles a real connection failure the way the page promises.
#![cfg(target_arch = "wasm32")]

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use leptos::mount::{mount_to, UnmountHandle};
use leptos::prelude::*;
use protocol::api::{
    DashboardConfig, DemoControls, EventNames, FeedLine, FeedSource, Instance, Thresholds,
    TriggerMode, TriggerResponse,
};
use protocol::broadcast::TestBroadcast;
use protocol::connection::Liveness;
use serde_json::json;
use signalscope_frontend::clock::{now_ms, sleep, ticking};
use signalscope_frontend::companion::Companion;
use signalscope_frontend::dashboard::Dashboard;
use signalscope_frontend::feed::Feed;
use signalscope_frontend::frame::FrameBatch;
use signalscope_frontend::instances::Saved;
use signalscope_frontend::panels::message::{MessageList, MessageRow};
use signalscope_frontend::panels::Panel;
use signalscope_frontend::signalr::{ClientEvent, ClientOptions, ConnectionStatus, HubClient};
use signalscope_frontend::verdicts::Verdicts;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;
use web_sys::HtmlElement;

wasm_bindgen_test_configure!(run_in_browser);

/// A fresh element on the page to mount into.
fn container() -> HtmlElement {
    let document = web_sys::window().unwrap().document().unwrap();
    let div = document.create_element("div").unwrap();
    document.body().unwrap().append_child(&div).unwrap();
    div.unchecked_into()
}

/// Polls `check` every 20 ms until it holds or `limit_ms` passes.
async fn eventually(limit_ms: f64, what: &str, check: impl Fn() -> bool) {
    let deadline = now_ms() + limit_ms;
    while !check() {
        assert!(now_ms() < deadline, "timed out waiting for {what}");
        sleep(20).await;
    }
}

/// Mounts `view` on a fresh element with an empty dashboard provided,
/// and returns the element, that dashboard and the mount (drop to unmount).
async fn mount_with_dashboard<N: IntoView>(
    view: impl FnOnce() -> N + 'static,
) -> (HtmlElement, Dashboard, UnmountHandle<N::State>) {
    mount_with_config(config(), view).await
}

/// [`mount_with_dashboard`], the dashboard made with `config`.
async fn mount_with_config<N: IntoView>(
    config: DashboardConfig,
    view: impl FnOnce() -> N + 'static,
) -> (HtmlElement, Dashboard, UnmountHandle<N::State>) {
    let root = container();
    let (tx, rx) = futures::channel::oneshot::channel();
    let handle = mount_to(root.clone(), move || {
        let dash = dashboard_with(config, vec![]);
        provide_context(dash);
        let _ = tx.send(dash);
        view()
    });
    (root, rx.await.unwrap(), handle)
}

fn config() -> DashboardConfig {
    DashboardConfig {
        instances: vec![],
        hub_path: "/hubs/navigation-state".into(),
        events: EventNames {
            broadcast: "NavigationStateUpdate".into(),
            request_state: "RequestCurrentState".into(),
            state_reply: "StateUpdateRequested".into(),
        },
        hubs: vec![protocol::hubs::navigation()],
        hub_keys: vec![],
        thresholds: Thresholds {
            pass_within_ms: 50,
            server_timeout_ms: 60_000,
            keep_alive_ms: 15_000,
        },
        trigger_modes: vec![TriggerMode::Redis],
        token_required: false,
        demo: None,
        canary_interval_ms: None,
    }
}

fn dashboard(instances: Vec<Instance>) -> Dashboard {
    dashboard_with(config(), instances)
}

/// A fresh dashboard for `config`, showing `instances`.
fn dashboard_with(config: DashboardConfig, instances: Vec<Instance>) -> Dashboard {
    Dashboard::new(
        config,
        StoredValue::new(Companion::default()),
        instances,
        Saved::default(),
    )
}

fn response(id: &str, seq: u64) -> TriggerResponse {
    TriggerResponse {
        id: id.into(),
        seq,
        sent_at: String::new(),
        target: "NavigationStateUpdate".into(),
        channel: String::new(),
        mode: TriggerMode::Redis,
        receivers: Some(2),
        channel_subscribers: None,
        instance: None,
        hub: None,
    }
}

/// A message row for seq `seq` of a test broadcast with id `id`.
fn message_row(id: u64, seq: u64, note: &str) -> MessageRow {
    let broadcast = TestBroadcast::new(format!("id-{seq}"), seq, 0, "companion");
    MessageRow {
        id,
        wall_ms: 0.0,
        target: "NavigationStateUpdate".into(),
        arguments: vec![json!({"type": "TestBroadcast", "data": broadcast, "note": note})],
        broadcast_id: Some(format!("id-{seq}")),
        seq: Some(seq),
        duplicate: false,
    }
}

/// A hostile payload shows as text: no element is created from it, and
/// the row carries its target, sequence number and latency.
#[wasm_bindgen_test]
async fn message_content_is_text_not_html() {
    let hostile = "<img src=x onerror=alert(1)>";
    let row = MessageRow {
        target: hostile.into(),
        ..message_row(0, 7, hostile)
    };
    let messages = RwSignal::new(VecDeque::from([row]));
    let (root, dash, _handle) = mount_with_dashboard(move || {
        view! { <MessageList panel="a".to_owned() messages/> }
    })
    .await;
    dash.ledger.update(|l| {
        l.sent(&response("id-7", 7), 0.0, vec!["a".to_owned()], &[]);
        l.arrived("a", &TestBroadcast::new("id-7", 7, 0, "companion"), 12.0);
    });
    leptos::task::tick().await;
    assert!(root.query_selector("img").unwrap().is_none());
    let li = root
        .query_selector("li[data-seq='7']")
        .unwrap()
        .expect("row with data-seq");
    assert_eq!(li.get_attribute("data-target").as_deref(), Some(hostile));
    let text = root.text_content().unwrap();
    assert!(text.contains(hostile));
    assert!(text.contains("12 ms"));
}

/// After 25 messages the list shows the newest ten, newest first, in ten
/// rows; an opened row shows its arguments and stays with its message as
/// newer ones push it down, and the rows it leaves are closed.
#[wasm_bindgen_test]
async fn message_rows_show_the_newest_ten_and_keep_an_opened_one_open() {
    let messages = RwSignal::new(VecDeque::new());
    let push = move |seq: u64| messages.update(|m| m.push_front(message_row(seq, seq, "n")));
    let (root, _dash, _handle) = mount_with_dashboard(move || {
        view! { <MessageList panel="a".to_owned() messages/> }
    })
    .await;
    (0..25).for_each(push);
    leptos::task::tick().await;
    let seqs = || {
        let list = root.query_selector("ol.messages").unwrap().expect("list");
        std::iter::successors(list.first_element_child(), |li| li.next_element_sibling())
            .map(|li| li.get_attribute("data-seq").unwrap_or_default())
            .collect::<Vec<_>>()
    };
    let expected = |newest: u64| {
        (newest - 9..=newest)
            .rev()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(seqs(), expected(24));
    let summary: HtmlElement = root
        .query_selector("li[data-seq='20'] summary")
        .unwrap()
        .expect("row of seq 20")
        .unchecked_into();
    summary.click();
    eventually(2_000.0, "the opened row's arguments", || {
        root.query_selector("li[data-seq='20'] details[open] pre")
            .unwrap()
            .is_some()
    })
    .await;
    push(25);
    leptos::task::tick().await;
    assert_eq!(seqs(), expected(25));
    assert!(
        root.query_selector("li:not([data-seq='20']) details[open]")
            .unwrap()
            .is_none(),
        "no other row open"
    );
    let pre = root
        .query_selector("li[data-seq='20'] details[open] pre")
        .unwrap()
        .expect("the opened message is still open");
    assert!(pre.text_content().unwrap().contains("\"id-20\""));
    assert!(root
        .query_selector("li:not([data-seq='20']) pre")
        .unwrap()
        .is_none());
}

/// A panel whose instance is unreachable falls back to skipNegotiation,
/// says so, and goes on retrying (status `reconnecting`) instead of
/// giving up after the first failed start.
#[wasm_bindgen_test]
async fn unreachable_instance_is_retried_with_fallback() {
    let root = container();
    let _handle = mount_to(root.clone(), || {
        // Port 9 (discard) on loopback: refused at once.
        let instance = Instance {
            name: "ghost".into(),
            url: "http://127.0.0.1:9".into(),
            hubs: Vec::new(),
        };
        provide_context(dashboard(vec![instance.clone()]));
        view! { <Panel instance/> }
    });
    let panel = root
        .query_selector("[data-instance='ghost']")
        .unwrap()
        .expect("panel");
    eventually(10_000.0, "status reconnecting", || {
        panel.get_attribute("data-status").as_deref() == Some("reconnecting")
    })
    .await;
    let text = panel.text_content().unwrap();
    assert!(
        text.contains("skipNegotiation"),
        "no fallback notice in: {text}"
    );
    assert!(text.contains("attempt"), "no attempt count in: {text}");
}

/// Verdict rows carry their id and verdict, and a FAIL names who missed.
#[wasm_bindgen_test]
async fn verdict_rows_name_who_missed() {
    let (root, dash, _handle) = mount_with_dashboard(|| view! { <Verdicts/> }).await;
    let both = vec!["api-1".to_owned(), "api-2".to_owned()];
    dash.ledger.update(|l| {
        l.sent(&response("good", 1), 0.0, both.clone(), &[]);
        l.sent(&response("bad", 2), 0.0, both, &[]);
        for (panel, id, seq) in [
            ("api-1", "good", 1),
            ("api-2", "good", 1),
            ("api-1", "bad", 2),
        ] {
            l.arrived(panel, &TestBroadcast::new(id, seq, 0, "companion"), 10.0);
        }
    });
    dash.now.set(1_000.0);
    leptos::task::tick().await;
    let row = |id: &str| {
        root.query_selector(&format!("[data-broadcast-id='{id}']"))
            .unwrap()
            .unwrap_or_else(|| panic!("no row for {id}"))
    };
    assert_eq!(
        row("good").get_attribute("data-verdict").as_deref(),
        Some("pass")
    );
    assert_eq!(
        row("bad").get_attribute("data-verdict").as_deref(),
        Some("fail")
    );
    let text = row("bad").text_content().unwrap();
    assert!(text.contains("missed by api-2"), "got: {text}");
}

/// Items pushed before a frame reach its flush together, once, in order;
/// nothing is flushed before the frame.
#[wasm_bindgen_test]
async fn a_frame_batch_flushes_once_per_frame() {
    let flushed = Rc::new(RefCell::new(Vec::<Vec<u32>>::new()));
    let batch = {
        let flushed = flushed.clone();
        FrameBatch::new(move |items| flushed.borrow_mut().push(items))
    };
    (1..=3).for_each(|i| batch.push(i));
    assert!(flushed.borrow().is_empty(), "flushed before the frame");
    eventually(2_000.0, "the frame's flush", || {
        !flushed.borrow().is_empty()
    })
    .await;
    batch.push(4);
    eventually(2_000.0, "the next frame's flush", || {
        flushed.borrow().len() == 2
    })
    .await;
    assert_eq!(*flushed.borrow(), [vec![1, 2, 3], vec![4]]);
}

/// Resolves after the next animation frame's callbacks (those asked for
/// earlier run first).
async fn next_frame() {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        web_sys::window()
            .unwrap()
            .request_animation_frame(&resolve)
            .unwrap();
    });
    wasm_bindgen_futures::JsFuture::from(promise).await.unwrap();
}

/// A backlog of 5,000 items is handed over across several frames, at
/// most 1,000 a frame (so input is handled between them), every item
/// once and in order.
#[wasm_bindgen_test]
async fn a_frame_batch_spreads_a_backlog_over_frames() {
    let flushed = Rc::new(RefCell::new(Vec::<Vec<u32>>::new()));
    let batch = {
        let flushed = flushed.clone();
        FrameBatch::new(move |items| flushed.borrow_mut().push(items))
    };
    (0..5_000).for_each(|i| batch.push(i));
    next_frame().await;
    assert_eq!(flushed.borrow().len(), 1, "one flush in the first frame");
    eventually(10_000.0, "every item", || {
        flushed.borrow().concat().len() >= 5_000
    })
    .await;
    let sizes: Vec<usize> = flushed.borrow().iter().map(Vec::len).collect();
    assert_eq!(sizes, [1_000; 5]);
    assert_eq!(flushed.borrow().concat(), (0..5_000).collect::<Vec<_>>());
}

/// A `sleep` dropped before its time clears its timer (a session makes one
/// per message: left pending, each held a promise and closures for up to
/// 30 s, and the JS heap grew with the message rate); one awaited still
/// wakes.
#[wasm_bindgen_test]
async fn a_dropped_sleep_clears_its_timer() {
    run_js(
        "globalThis.__cleared = [];
         globalThis.__realClear ??= globalThis.clearTimeout;
         globalThis.clearTimeout = (h) => { globalThis.__cleared.push(h); globalThis.__realClear(h); };",
    );
    drop(sleep(60_000));
    let cleared = run_js("return globalThis.__cleared.length;");
    run_js("globalThis.clearTimeout = globalThis.__realClear;");
    assert_eq!(cleared.as_f64(), Some(1.0));
    sleep(10).await;
}

/// A clock's text sits in a box of fixed size (the page's own stylesheet:
/// `contain: strict`): a longer text changes the text node in place, and
/// neither the element nor its size.
#[wasm_bindgen_test]
async fn a_ticking_clock_keeps_its_box() {
    let style = web_sys::window()
        .unwrap()
        .document()
        .unwrap()
        .create_element("style")
        .unwrap();
    style.set_text_content(Some(include_str!("../../style/dashboard.css")));
    container().append_child(&style).unwrap();
    let root = container();
    let text = RwSignal::new("1.0 s ago".to_owned());
    let _mount = mount_to(root.clone(), move || ticking(move || text.get()));
    leptos::task::tick().await;
    run_js(
        "const el = document.querySelector('.ticking');
         globalThis.__clock = { el, text: el.firstChild, box: JSON.stringify(el.getBoundingClientRect()) };",
    );
    text.set("2 h 59 min 59 s ago, and then some more words".into());
    leptos::task::tick().await;
    let same = run_js(
        "const c = globalThis.__clock, el = document.querySelector('.ticking');
         return el === c.el && el.firstChild === c.text
             && JSON.stringify(el.getBoundingClientRect()) === c.box
             && getComputedStyle(el).contain === 'strict'
             && el.textContent.startsWith('2 h 59 min');",
    );
    assert_eq!(same.as_bool(), Some(true), "the clock's box moved or grew");
    style.remove();
}

/// A PUBLISH line from api-1 whose raw text is `raw`.
fn feed_line(raw: &str) -> FeedLine {
    FeedLine {
        time_micros: 0,
        source: FeedSource::Monitor,
        node: None,
        publisher_addr: Some("127.0.0.1:1".into()),
        publisher_name: Some("api-1".into()),
        command: "PUBLISH".into(),
        channel: None,
        summary: None,
        raw: raw.into(),
        truncated: false,
    }
}

/// The feed draws only its newest 100 lines; the older ones it keeps
/// appear on "Show older lines", which goes once none are left.
#[wasm_bindgen_test]
async fn feed_draws_a_window_and_shows_older_lines_on_request() {
    let (root, dash, _handle) = mount_with_dashboard(|| view! { <Feed/> }).await;
    dash.feed_log
        .update(|l| (0..150).for_each(|i| l.push(feed_line(&i.to_string()))));
    leptos::task::tick().await;
    let lines = || {
        root.query_selector(".feed-lines")
            .unwrap()
            .map_or(0, |l| l.child_element_count())
    };
    assert_eq!(lines(), 100);
    let more: HtmlElement = root
        .query_selector("[data-feed-more]")
        .unwrap()
        .expect("show older lines")
        .unchecked_into();
    more.click();
    leptos::task::tick().await;
    assert_eq!(lines(), 150);
    assert!(root.query_selector("[data-feed-more]").unwrap().is_none());
}

/// The feed shows lines as text, raw only on demand, and its Redis state.
#[wasm_bindgen_test]
async fn feed_shows_lines_as_text_and_raw_on_demand() {
    let hostile = "\"PUBLISH\" \"<img src=x onerror=alert(1)>\"";
    let (root, dash, _handle) = mount_with_dashboard(|| view! { <Feed/> }).await;
    dash.feed_log.update(|l| {
        l.push(FeedLine {
            channel: Some("<img src=x onerror=alert(1)>".into()),
            ..feed_line(hostile)
        })
    });
    leptos::task::tick().await;
    let feed = root.query_selector("[data-feed]").unwrap().expect("feed");
    assert_eq!(feed.get_attribute("data-redis").as_deref(), Some("up"));
    assert!(feed.query_selector(".feed-line").unwrap().is_some());
    assert!(feed
        .query_selector(".feed-line + .feed-line")
        .unwrap()
        .is_none());
    assert!(feed.query_selector("pre.raw").unwrap().is_none());
    let raw_button: HtmlElement = feed
        .query_selector(".feed-line button")
        .unwrap()
        .expect("raw button")
        .unchecked_into();
    raw_button.click();
    leptos::task::tick().await;
    let raw = feed.query_selector("pre.raw").unwrap().expect("raw shown");
    assert_eq!(raw.text_content().as_deref(), Some(hostile));
    assert!(root.query_selector("img").unwrap().is_none());
}

/// In demo mode a panel whose instance the demo owns offers Stop and Start.
#[wasm_bindgen_test]
async fn demo_mode_offers_instance_controls() {
    let root = container();
    let _handle = mount_to(root.clone(), || {
        let mut demo_config = config();
        demo_config.demo = Some(DemoControls {
            instances: vec!["owned".into()],
            redis: true,
        });
        let instances = ["owned", "foreign"].map(|name| Instance {
            name: name.into(),
            url: "http://127.0.0.1:9".into(),
            hubs: Vec::new(),
        });
        provide_context(Dashboard::new(
            demo_config,
            StoredValue::new(Companion::default()),
            instances.to_vec(),
            Saved::default(),
        ));
        instances
            .into_iter()
            .map(|instance| view! { <Panel instance/> })
            .collect_view()
    });
    leptos::task::tick().await;
    let buttons = |name: &str| {
        root.query_selector(&format!("[data-instance='{name}'] .actions"))
            .unwrap()
            .expect("actions")
            .text_content()
            .unwrap()
    };
    assert!(buttons("owned").contains("Stop instance"));
    assert!(buttons("owned").contains("Start instance"));
    assert!(!buttons("foreign").contains("Stop instance"));
}

/// The canary's history shows each instance's connection, its misses and
/// one cell per round, coloured by the verdict threshold.
#[wasm_bindgen_test]
async fn canary_history_draws_rounds_and_misses() {
    use protocol::api::{CanaryReport, CanaryRound};
    use signalscope_frontend::canary::CanaryHistory;
    let report = CanaryReport {
        interval_ms: 10_000,
        miss_after_ms: 10_000,
        instances: vec!["api-1".into(), "api-2".into()],
        connected: vec![true, false],
        sent: 2,
        missed: vec![0, 1],
        rounds: vec![
            CanaryRound {
                seq: 1,
                sent_at_ms: 0,
                latencies_ms: vec![Some(2.0), None],
                settled: true,
            },
            CanaryRound {
                seq: 2,
                sent_at_ms: 10_000,
                latencies_ms: vec![Some(80.0), None],
                settled: false,
            },
        ],
    };
    let root = container();
    let _handle = mount_to(
        root.clone(),
        move || view! { <CanaryHistory report=report.clone() pass_within_ms=50/> },
    );
    leptos::task::tick().await;
    let q = |s: &str| root.query_selector(s).unwrap().is_some();
    assert!(q("[data-canary-sent='2']"));
    assert!(q(
        "li[data-canary-instance='api-2'][data-missed='1'][data-connected='false']"
    ));
    assert!(q(
        "li[data-canary-instance='api-1'] .cell.good[data-seq='1']"
    ));
    assert!(q(
        "li[data-canary-instance='api-1'] .cell.slow[data-seq='2']"
    ));
    assert!(q(
        "li[data-canary-instance='api-2'] .cell.bad[data-seq='1']"
    ));
    assert!(q(
        "li[data-canary-instance='api-2'] .cell.pending[data-seq='2']"
    ));
}

/// Runs JavaScript in the page and returns its value.
fn run_js(code: &str) -> JsValue {
    js_sys::Function::new_no_args(code)
        .call0(&JsValue::NULL)
        .unwrap()
}

/// Replaces the page's `fetch` with one that records each negotiate POST in
/// `__negotiates` and answers the n-th with `answers[n]` (the last one
/// again after that), so a client runs without a server. An answer with a
/// `status` is sent with that HTTP status, others with 200.
fn fake_fetch(answers: &[serde_json::Value]) {
    run_js(&format!(
        r#"
        globalThis.__realFetch ??= globalThis.fetch;
        globalThis.__negotiates = [];
        const answers = {answers};
        globalThis.fetch = async (req) => {{
            globalThis.__negotiates.push({{
                url: req.url, method: req.method, credentials: req.credentials,
                mode: req.mode, cache: req.cache,
                requestedWith: req.headers.get("x-requested-with"),
                userAgent: req.headers.get("x-signalr-user-agent"),
                authorization: req.headers.get("authorization"),
            }});
            const body = answers[Math.min(globalThis.__negotiates.length, answers.length) - 1];
            return new Response(JSON.stringify(body), {{ status: body.status ?? 200 }});
        }};"#,
        answers = serde_json::Value::from(answers.to_vec())
    ));
}

/// Puts the page's own `fetch`, `WebSocket` and `Worker` back.
fn restore_page() {
    run_js(
        "if (globalThis.__realFetch) globalThis.fetch = globalThis.__realFetch;
         if (globalThis.__realWebSocket) globalThis.WebSocket = globalThis.__realWebSocket;
         if (globalThis.__realWorker) globalThis.Worker = globalThis.__realWorker;",
    );
}

/// The negotiate answer of a server that offers WebSockets.
fn negotiated() -> serde_json::Value {
    json!({
        "negotiateVersion": 1, "connectionId": "pub", "connectionToken": "tok",
        "availableTransports": [{"transport": "WebSockets", "transferFormats": ["Text"]}],
    })
}

/// Makes the next socket worker's `WebSocket` a fake server that opens at
/// once, answers the handshake, and delivers whatever the page posts on
/// the `fake-socket` BroadcastChannel as a frame: the worker's own script
/// runs after it, unchanged.
fn fake_socket_in_worker() {
    run_js(
        r##"
        globalThis.__realWorker ??= globalThis.Worker;
        const Real = globalThis.__realWorker;
        globalThis.Worker = function (url) {
            const fake = `self.WebSocket = class {
                constructor(url) {
                    this.channel = new BroadcastChannel("fake-socket");
                    this.channel.onmessage = (e) => this.onmessage(new MessageEvent("message", { data: e.data }));
                    setTimeout(() => this.onopen(new Event("open")), 0);
                }
                send(text) {
                    if (text.includes('"protocol"'))
                        setTimeout(() => this.onmessage(new MessageEvent("message", { data: "{}\x1e" })), 0);
                }
                close() {
                    this.channel.close();
                    setTimeout(() => this.onclose(new CloseEvent("close", { code: 1000, wasClean: true })), 0);
                }
            };
            importScripts(${JSON.stringify(url)});`;
            return new Real(URL.createObjectURL(new Blob([fake], { type: "text/javascript" })));
        };"##,
    );
}

/// Starts a client for `hub_url` and returns it with the events it reports.
fn start_client(hub_url: &str) -> (HubClient, Rc<RefCell<Vec<ClientEvent>>>) {
    let events = Rc::new(RefCell::new(Vec::new()));
    let client = HubClient::start(
        ClientOptions {
            hub_url: hub_url.into(),
            liveness: Liveness::CLIENT_DEFAULT,
            request_state: "RequestCurrentState".into(),
            retry_forever: Rc::new(Cell::new(false)),
            credential: Rc::new(RefCell::new(None)),
        },
        {
            let events = events.clone();
            move |e| events.borrow_mut().push(e)
        },
    );
    (client, events)
}

/// Whether any reported event matches.
fn reported(events: &RefCell<Vec<ClientEvent>>, check: impl Fn(&ClientEvent) -> bool) -> bool {
    events.borrow().iter().any(check)
}

/// The negotiate POST goes out as FetchHttpClient.send and
/// HttpConnection._getNegotiationResponse send it — `credentials:
/// "include"`, `mode: "cors"`, `cache: "no-cache"`, `X-Requested-With` and
/// `X-SignalR-User-Agent` — and a redirect is followed with its
/// `accessToken` as a bearer token (HttpConnection._startInternal). The
/// page's `fetch` is replaced for the test, so no server is needed.
#[wasm_bindgen_test]
async fn negotiate_is_credentialed_and_follows_redirects() {
    fake_fetch(&[
        json!({"url": "http://redirected.invalid/hub", "accessToken": "t0k"}),
        json!({"error": "stop here"}),
    ]);
    let (client, events) = start_client("http://origin.invalid/hub");
    eventually(5_000.0, "the redirected negotiate's error", || {
        reported(&events, |e| {
            matches!(e, ClientEvent::Status(ConnectionStatus::Reconnecting { reason, .. }) if reason == "stop here")
        })
    })
    .await;
    drop(client);
    let seen = run_js("return JSON.stringify(globalThis.__negotiates);");
    restore_page();
    let seen: serde_json::Value = serde_json::from_str(&seen.as_string().unwrap()).unwrap();
    let first = json!({
        "url": "http://origin.invalid/hub/negotiate?negotiateVersion=1",
        "method": "POST", "credentials": "include", "mode": "cors", "cache": "no-cache",
        "requestedWith": "XMLHttpRequest",
        "userAgent": concat!(
            "signalscope/", env!("CARGO_PKG_VERSION_MAJOR"), ".", env!("CARGO_PKG_VERSION_MINOR"),
            " (", env!("CARGO_PKG_VERSION"), "; Unknown OS; Browser; Unknown Runtime Version)"
        ),
        "authorization": null,
    });
    assert_eq!(seen[0], first);
    assert_eq!(
        seen[1]["url"],
        "http://redirected.invalid/hub/negotiate?negotiateVersion=1"
    );
    assert_eq!(seen[1]["authorization"], "Bearer t0k");
    assert_eq!(seen[1]["credentials"], "include");
}

/// Against a server faked in the page, a connection does what
/// HubConnection does: handshake, then a Ping (`_startInternal` sends
/// `_cachedPingMessage`), then our `RequestCurrentState`; a server
/// invocation with an `invocationId` is answered "Client didn't provide a
/// result." (`_invokeClientMethod`); an unknown type is ignored and the
/// connection stays up (JsonHubProtocol.parseMessages); a Close with an
/// error ends it with "Server returned an error on close: …". With no
/// `Worker` in the page, the socket is the page's own, so the fake serves it.
#[wasm_bindgen_test]
async fn connection_talks_like_the_official_client() {
    fake_fetch(&[negotiated()]);
    run_js(
        r#"
        globalThis.__realWorker ??= globalThis.Worker;
        globalThis.Worker = undefined;
        globalThis.__realWebSocket ??= globalThis.WebSocket;
        globalThis.__sent = [];
        globalThis.WebSocket = class {
            constructor(url) {
                this.url = url;
                globalThis.__socket = this;
                setTimeout(() => this.onopen(new Event("open")), 0);
            }
            send(text) { globalThis.__sent.push(text); }
            close() {}
            receive(data) { this.onmessage(new MessageEvent("message", { data })); }
        };"#,
    );
    let (client, events) = start_client("http://fake.invalid/hub");
    let sent = || -> Vec<String> {
        let all = run_js("return JSON.stringify(globalThis.__sent);");
        serde_json::from_str(&all.as_string().unwrap()).unwrap()
    };
    eventually(5_000.0, "the handshake request", || !sent().is_empty()).await;
    assert_eq!(
        run_js("return globalThis.__socket.url;"),
        "ws://fake.invalid/hub?id=tok"
    );
    run_js(r#"globalThis.__socket.receive("{}\x1e");"#);
    eventually(5_000.0, "the RequestCurrentState invocation", || {
        sent().len() >= 3
    })
    .await;
    assert_eq!(
        sent()[..2],
        [
            "{\"protocol\":\"json\",\"version\":1}\u{1e}",
            "{\"type\":6}\u{1e}"
        ]
    );
    assert!(sent()[2].contains("\"target\":\"RequestCurrentState\""));

    run_js(
        r#"globalThis.__socket.receive('{"type":1,"invocationId":"9","target":"Ask","arguments":[]}\x1e{"type":99}\x1e');"#,
    );
    let answer =
        "{\"type\":3,\"invocationId\":\"9\",\"error\":\"Client didn't provide a result.\"}\u{1e}";
    eventually(5_000.0, "the Completion", || {
        sent().iter().any(|s| s == answer)
    })
    .await;
    eventually(5_000.0, "the unknown-type notice", || {
        reported(&events, |e| {
            *e == ClientEvent::Notice("Unknown message type '99' ignored.".into())
        })
    })
    .await;
    assert!(!reported(&events, |e| matches!(
        e,
        ClientEvent::Status(ConnectionStatus::Reconnecting { .. })
    )));

    run_js(r#"globalThis.__socket.receive('{"type":7,"error":"Bye"}\x1e');"#);
    eventually(5_000.0, "the close", || {
        reported(&events, |e| {
            *e == ClientEvent::Status(ConnectionStatus::Disconnected {
                reason: Some("Server returned an error on close: Bye".into()),
            })
        })
    })
    .await;
    drop(client);
    restore_page();
}

/// Frames come through the socket worker stamped when they reach it: a
/// frame sent while the page's main thread is busy for 50 ms carries a time
/// from within that spell, not from when the page got round to it.
#[wasm_bindgen_test]
async fn frames_are_stamped_in_the_worker_while_the_page_is_busy() {
    fake_fetch(&[negotiated()]);
    fake_socket_in_worker();
    let (client, events) = start_client("http://fake.invalid/hub");
    eventually(
        5_000.0,
        "connected through the worker's fake socket",
        || {
            reported(&events, |e| {
                matches!(e, ClientEvent::Status(ConnectionStatus::Connected { .. }))
            })
        },
    )
    .await;
    let busy_from = now_ms();
    run_js(
        r#"const channel = new BroadcastChannel("fake-socket");
           channel.postMessage('{"type":1,"target":"Hello","arguments":[]}\x1e');
           channel.close();"#,
    );
    while now_ms() < busy_from + 50.0 {}
    let busy_until = now_ms();
    let stamp = || {
        events.borrow().iter().find_map(|e| match e {
            ClientEvent::Invocation { target, at_ms, .. } if target == "Hello" => Some(*at_ms),
            _ => None,
        })
    };
    eventually(5_000.0, "the Hello invocation", || stamp().is_some()).await;
    let at = stamp().unwrap();
    drop(client);
    restore_page();
    assert!(
        busy_from <= at && at < busy_until,
        "stamped at {at}, busy from {busy_from} until {busy_until}"
    );
}

/// Two instances, `api-1` and `api-2`, shown on a fresh dashboard that
/// `view` is mounted with; returns what [`mount_with_dashboard`] does.
async fn mount_with_two_instances<N: IntoView>(
    view: impl FnOnce() -> N + 'static,
) -> (HtmlElement, Dashboard, UnmountHandle<N::State>) {
    let (root, dash, handle) = mount_with_dashboard(view).await;
    dash.instances.set(
        ["api-1", "api-2"]
            .map(|name| Instance::new(name, "http://127.0.0.1:9"))
            .to_vec(),
    );
    leptos::task::tick().await;
    (root, dash, handle)
}

/// An attribute of the first element matching `selector` under `root`.
fn attr(root: &HtmlElement, selector: &str, name: &str) -> Option<String> {
    root.query_selector(selector)
        .unwrap()
        .unwrap_or_else(|| panic!("nothing matches {selector}"))
        .get_attribute(name)
}

/// The topology writes each hop's time on its edge and in `data-ms` (the
/// PUBLISH the feed saw, the arrival at each panel), and sends a dot only
/// along the hops that happened.
#[wasm_bindgen_test]
async fn topology_writes_each_hop_on_its_edge() {
    use signalscope_frontend::pictures::topology::Topology;
    let (root, dash, _handle) = mount_with_two_instances(|| view! { <Topology/> }).await;
    let both = vec!["api-1".to_owned(), "api-2".to_owned()];
    dash.ledger.update(|l| {
        l.sent(&response("x", 3), 100.0, both, &[]);
        l.published("x", 102.5);
        l.arrived("api-1", &TestBroadcast::new("x", 3, 0, "companion"), 110.0);
    });
    leptos::task::tick().await;
    assert_eq!(attr(&root, ".topology", "data-seq").as_deref(), Some("3"));
    assert_eq!(
        attr(&root, "[data-hop='publish']", "data-ms").as_deref(),
        Some("2.5")
    );
    assert_eq!(
        attr(&root, "[data-hop='api-1']", "data-ms").as_deref(),
        Some("10.0")
    );
    assert_eq!(attr(&root, "[data-hop='api-2']", "data-ms"), None);
    let label = root.query_selector("[data-hop='api-1']").unwrap().unwrap();
    assert_eq!(label.text_content().as_deref(), Some("10.0 ms"));
    let dots = run_js(
        "return [...document.querySelectorAll('.topology .hop-dot')].map((d) => d.getAttribute('class')).join();",
    );
    assert_eq!(
        dots.as_string().as_deref(),
        Some("hop-dot publish,hop-dot delivery")
    );
}

/// Redis is drawn down or up, and each instance by its health, as the
/// companion's last status says.
#[wasm_bindgen_test]
async fn topology_draws_redis_and_health_from_the_status() {
    use protocol::api::{InstanceHealth, RedisStatus, Status};
    use signalscope_frontend::pictures::topology::Topology;
    let (root, dash, _handle) = mount_with_two_instances(|| view! { <Topology/> }).await;
    assert_eq!(
        attr(&root, "[data-node='redis']", "data-status").as_deref(),
        Some("unknown")
    );
    let status = |up: bool| Status {
        redis: RedisStatus {
            reachable: up,
            ..Default::default()
        },
        instances: vec![InstanceHealth {
            name: "api-1".into(),
            url: String::new(),
            http_status: up.then_some(200),
            status: up.then(|| "Healthy".into()),
            duration_ms: None,
            checks: serde_json::Value::Null,
            error: (!up).then(|| "connection refused".into()),
        }],
    };
    dash.status.set(Some(Ok(status(false))));
    leptos::task::tick().await;
    assert_eq!(
        attr(&root, "[data-node='redis']", "data-status").as_deref(),
        Some("down")
    );
    assert_eq!(
        attr(&root, "[data-node='api-1']", "data-status").as_deref(),
        Some("down")
    );
    dash.status.set(Some(Ok(status(true))));
    leptos::task::tick().await;
    assert_eq!(
        attr(&root, "[data-node='redis']", "data-status").as_deref(),
        Some("up")
    );
    assert_eq!(
        attr(&root, "[data-node='api-1']", "data-status").as_deref(),
        Some("healthy")
    );
    assert_eq!(
        attr(&root, "[data-node='api-2']", "data-status").as_deref(),
        Some("unknown")
    );
}

/// The latency chart draws a line per instance from its arrivals, the
/// threshold from the config, and the last value in the legend.
#[wasm_bindgen_test]
async fn latency_chart_draws_lines_and_the_threshold() {
    use signalscope_frontend::pictures::latency::LatencyChart;
    let (root, dash, _handle) = mount_with_two_instances(|| view! { <LatencyChart/> }).await;
    let now = dash.now.get_untracked();
    let both = vec!["api-1".to_owned(), "api-2".to_owned()];
    dash.ledger.update(|l| {
        l.sent(&response("x", 1), now - 20_000.0, both.clone(), &[]);
        l.sent(&response("y", 2), now - 1_000.0, both, &[]);
        for (id, seq, at) in [("x", 1, now - 19_990.0), ("y", 2, now - 988.0)] {
            l.arrived("api-1", &TestBroadcast::new(id, seq, 0, "companion"), at);
        }
    });
    leptos::task::tick().await;
    assert_eq!(
        attr(&root, "[data-series='api-1']", "data-points").as_deref(),
        Some("2")
    );
    assert_eq!(
        attr(&root, "[data-series='api-2']", "data-points").as_deref(),
        Some("0")
    );
    assert_eq!(
        attr(&root, "[data-threshold-ms]", "data-threshold-ms").as_deref(),
        Some("50")
    );
    assert_eq!(
        attr(&root, "[data-legend='api-1'] .last", "data-last-ms").as_deref(),
        Some("12.0")
    );
    assert_eq!(
        attr(&root, "[data-legend='api-2'] .last", "data-last-ms"),
        None
    );
}

/// The presentation banner gives the latest verdict and its slowest panel.
#[wasm_bindgen_test]
async fn presentation_banner_names_the_slowest() {
    use signalscope_frontend::pictures::present::Presentation;
    let present = RwSignal::new(true);
    let (root, dash, _handle) =
        mount_with_dashboard(move || view! { <Presentation present/> }).await;
    assert_eq!(
        attr(&root, ".banner", "data-verdict").as_deref(),
        Some("NONE")
    );
    let both = vec!["api-1".to_owned(), "api-2".to_owned()];
    dash.ledger.update(|l| {
        l.sent(&response("x", 5), 0.0, both, &[]);
        l.arrived("api-1", &TestBroadcast::new("x", 5, 0, "companion"), 4.0);
        l.arrived("api-2", &TestBroadcast::new("x", 5, 0, "companion"), 9.0);
    });
    dash.now.set(1_000.0);
    leptos::task::tick().await;
    assert_eq!(
        attr(&root, ".banner", "data-verdict").as_deref(),
        Some("PASS")
    );
    assert_eq!(
        attr(&root, ".banner", "data-slowest").as_deref(),
        Some("api-2")
    );
    assert_eq!(
        attr(&root, ".banner", "data-slowest-ms").as_deref(),
        Some("9.0")
    );
    present.set(false);
    leptos::task::tick().await;
    assert!(root.query_selector(".banner").unwrap().is_none());
}

/// In presentation mode `b` sends a test broadcast whose verdict the banner
/// shows, a `b` typed into a field does not, and `Esc` leaves.
#[wasm_bindgen_test]
async fn presentation_keys_broadcast_and_leave() {
    use signalscope_frontend::pictures::present::Presentation;
    fake_fetch(&[serde_json::to_value(response("k", 9)).unwrap()]);
    let present = RwSignal::new(true);
    let (root, _dash, _handle) =
        mount_with_dashboard(move || view! { <Presentation present/> }).await;
    let key = |target: &str, key: &str| {
        run_js(&format!(
            "{target}.dispatchEvent(new KeyboardEvent('keydown', {{ key: '{key}', bubbles: true }}));"
        ))
    };
    key(
        "document.body.appendChild(document.createElement('input'))",
        "b",
    );
    run_js("document.querySelectorAll('body > input').forEach((e) => e.remove());");
    key("document.body", "b");
    eventually(5_000.0, "the banner to show broadcast #9", || {
        attr(&root, ".banner", "data-seq").as_deref() == Some("9")
    })
    .await;
    let posts = run_js("return JSON.stringify(globalThis.__negotiates.map((r) => r.url));");
    let posts: Vec<String> = serde_json::from_str(&posts.as_string().unwrap()).unwrap();
    assert_eq!(posts.len(), 1, "one broadcast, not one per key: {posts:?}");
    assert!(
        posts[0].ends_with(protocol::api::routes::TRIGGER),
        "{posts:?}"
    );
    // Nobody was connected at the key press: nothing to prove, FAIL.
    assert_eq!(
        attr(&root, ".banner", "data-verdict").as_deref(),
        Some("FAIL")
    );
    key("document.body", "Escape");
    leptos::task::tick().await;
    assert!(!present.get_untracked());
    restore_page();
}

/// The companion's config with two hubs, navigation and notifications.
fn two_hub_config() -> DashboardConfig {
    let notifications = protocol::hubs::conduit("notifications").unwrap();
    let mut config = config();
    config.hubs.push(notifications);
    config
}

/// With two hubs the topology draws a panel node per hub under its
/// instance, each with its own hop named after the panel; a broadcast to
/// one hub is timed and animated only towards that hub's panels.
#[wasm_bindgen_test]
async fn topology_draws_a_panel_per_hub() {
    use signalscope_frontend::pictures::topology::Topology;
    let (root, dash, _handle) = mount_with_config(two_hub_config(), || view! { <Topology/> }).await;
    let mut nav_only = Instance::new("api-2", "http://127.0.0.1:9");
    nav_only.hubs = vec!["navigation".into()];
    dash.instances
        .set(vec![Instance::new("api-1", "http://127.0.0.1:9"), nav_only]);
    leptos::task::tick().await;
    let all = |selector: &str, name: &str| -> String {
        let code = format!(
            r#"return [...document.querySelectorAll(".topology {selector}")].map((e) => e.getAttribute("{name}")).join();"#
        );
        run_js(&code).as_string().unwrap()
    };
    assert_eq!(
        all("[data-node^='panel:']", "data-node"),
        "panel:api-1/navigation,panel:api-1/notifications,panel:api-2/navigation"
    );
    assert_eq!(
        all("[data-hop]", "data-hop"),
        "publish,api-1/navigation,api-1/notifications,api-2/navigation"
    );
    assert_eq!(all(".instance", "data-node"), "api-1,api-2");
    let title = |node: &str| {
        root.query_selector(&format!("[data-node='{node}'] .name"))
            .unwrap()
            .unwrap()
            .text_content()
    };
    assert_eq!(
        title("panel:api-1/notifications").as_deref(),
        Some("notifications")
    );

    let to = "api-1/notifications".to_owned();
    dash.ledger.update(|l| {
        l.sent(&response("n", 5), 100.0, vec![to.clone()], &[]);
        l.arrived(&to, &TestBroadcast::new("n", 5, 0, "companion"), 107.0);
    });
    leptos::task::tick().await;
    assert_eq!(
        attr(&root, "[data-hop='api-1/notifications']", "data-ms").as_deref(),
        Some("7.0")
    );
    assert_eq!(
        attr(&root, "[data-hop='api-1/navigation']", "data-ms"),
        None
    );
    assert_eq!(
        attr(&root, "[data-hop='api-2/navigation']", "data-ms"),
        None
    );
    assert_eq!(all(".hop-dot", "class"), "hop-dot publish,hop-dot delivery");
}

/// How many negotiates the faked `fetch` has seen.
fn negotiates() -> usize {
    run_js("return globalThis.__negotiates.length;")
        .as_f64()
        .unwrap() as usize
}

/// Holds for `ms` that the faked `fetch` saw exactly `count` negotiates:
/// a retry would have come within it (the official policy retries at
/// once, then after 2 s).
async fn negotiates_stay(count: usize, ms: f64, what: &str) {
    let until = now_ms() + ms;
    while now_ms() < until {
        assert_eq!(negotiates(), count, "{what}");
        sleep(50).await;
    }
}

/// A panel whose hub refuses its key (401) stops retrying and says it
/// waits for a key; typing a key tries once with it, and so does
/// Reconnect — no negotiate in between.
#[wasm_bindgen_test]
async fn refused_key_waits_for_a_key_without_retrying() {
    fake_fetch(&[json!({"status": 401})]);
    let root = container();
    root.set_id("keyed");
    let _handle = mount_to(root.clone(), || {
        let instance = Instance::new("api-1", "http://keyed.invalid");
        provide_context(dashboard_with(two_hub_config(), vec![instance.clone()]));
        let hub = protocol::hubs::conduit("notifications").unwrap();
        view! { <Panel instance hub/> }
    });
    let panel = root.query_selector("section.panel").unwrap().unwrap();
    let status = || panel.get_attribute("data-status").unwrap_or_default();
    eventually(5_000.0, "status needs-key", || status() == "needs-key").await;
    let text = panel.text_content().unwrap();
    assert!(
        text.contains("Waiting for a key: 401 Unauthorized: key refused"),
        "{text}"
    );
    negotiates_stay(1, 2_500.0, "a refused key is not retried").await;

    run_js(
        r#"const input = document.querySelector('#keyed form.key input[type=password]');
           input.value = "vk-1";
           input.dispatchEvent(new Event("input"));
           input.form.requestSubmit();"#,
    );
    eventually(5_000.0, "a negotiate with the typed key", || {
        negotiates() == 2
    })
    .await;
    eventually(5_000.0, "refused again", || status() == "needs-key").await;
    negotiates_stay(2, 1_000.0, "the typed key is tried once").await;
    let key = run_js("return globalThis.__negotiates[1].authorization;");
    assert_eq!(key.as_string().as_deref(), Some("Bearer vk-1"));

    run_js(
        r#"[...document.querySelectorAll('#keyed button')]
               .find((b) => b.textContent === "Reconnect").click();"#,
    );
    eventually(5_000.0, "a negotiate on Reconnect", || negotiates() == 3).await;
    restore_page();
}
