//! A sim over real sockets, spoken to byte by byte: negotiate, the
//! WebSocket transport's 404/409 rules, the handshake, hub methods and
//! protocol errors; and the `signalscope sim` binary with the guide's
//! environment variables.

mod sim_support;
mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use protocol::message::{HubMessage, Outcome};
use serde_json::json;
use sim_support::{negotiate, Client, Received, TestSim};
use tokio_tungstenite::tungstenite::Error as WsError;

async fn sim() -> TestSim {
    TestSim::start("api-1", None).await
}

fn http_status(e: WsError) -> u16 {
    match e {
        WsError::Http(response) => response.status().as_u16(),
        other => panic!("expected an HTTP refusal, got {other}"),
    }
}

/// Negotiate, WebSocket with the token, handshake: `{}` comes back.
#[tokio::test]
async fn negotiated_connection_handshakes() {
    let sim = sim().await;
    let client = Client::connect(&sim.url()).await;
    assert_eq!(client.connection_id.len(), 22);
}

/// With negotiateVersion 0 the connectionId itself is the transport id.
#[tokio::test]
async fn negotiate_v0_id_opens_the_socket() {
    let sim = sim().await;
    let url = format!("{}/hubs/navigation-state/negotiate", sim.url());
    let (status, body) = sim_support::post_json(&url, "").await;
    assert_eq!((status, body.get("connectionToken")), (200, None));
    let id = body["connectionId"].as_str().unwrap();
    let mut client = Client::open(&sim.url(), Some(id)).await.unwrap();
    client
        .send_text("{\"protocol\":\"json\",\"version\":1}\x1e")
        .await;
    assert!(matches!(client.next().await, Received::Record(r) if r == b"{}"));
}

/// A WebSocket without `id` (skipNegotiation) gets a fresh connection.
#[tokio::test]
async fn skip_negotiation_gets_a_connection() {
    let sim = sim().await;
    let mut client = Client::open(&sim.url(), None).await.unwrap();
    client
        .send_text("{\"protocol\":\"json\",\"version\":1}\x1e")
        .await;
    assert!(matches!(client.next().await, Received::Record(r) if r == b"{}"));
}

/// An id nobody negotiated is refused with 404.
#[tokio::test]
async fn unknown_id_is_404() {
    let sim = sim().await;
    let error = Client::open(&sim.url(), Some("AAAAAAAAAAAAAAAAAAAAAA"))
        .await
        .err()
        .unwrap();
    assert_eq!(http_status(error), 404);
}

/// A token already in use by an open WebSocket is refused with 409.
#[tokio::test]
async fn reused_token_is_409() {
    let sim = sim().await;
    let (_, token) = negotiate(&sim.url()).await;
    let _first = Client::open(&sim.url(), Some(&token)).await.unwrap();
    let error = Client::open(&sim.url(), Some(&token)).await.err().unwrap();
    assert_eq!(http_status(error), 409);
}

/// An unsupported protocol gets ASP.NET's error response, then a close
/// (HubConnectionContext.HandshakeAsync: "The protocol '…' is not supported.").
#[tokio::test]
async fn unsupported_protocol_is_refused() {
    let sim = sim().await;
    let mut client = Client::open(&sim.url(), None).await.unwrap();
    client
        .send_text("{\"protocol\":\"messagepack\",\"version\":1}\x1e")
        .await;
    let Received::Record(r) = client.next().await else {
        panic!("no response")
    };
    assert_eq!(
        r,
        br#"{"error":"The protocol 'messagepack' is not supported."}"#
    );
    assert!(matches!(client.next().await, Received::Closed(_)));
}

/// RequestCurrentState replies to the caller, then completes with null.
#[tokio::test]
async fn request_current_state_round_trip() {
    let sim = sim().await;
    let mut client = Client::connect(&sim.url()).await;
    let reply = client.invoke("0", "RequestCurrentState", json!([])).await;
    let HubMessage::Invocation {
        target, arguments, ..
    } = reply
    else {
        panic!("no reply")
    };
    assert_eq!(target, "StateUpdateRequested");
    assert!(arguments[0]["timestamp"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        client.next_record_text().await,
        r#"{"type":3,"invocationId":"0","result":null}"#
    );
}

/// An unknown method completes with ASP.NET's error text; the connection lives on.
#[tokio::test]
async fn unknown_method_gets_error_completion() {
    let sim = sim().await;
    let mut client = Client::connect(&sim.url()).await;
    let completion = client.invoke("3", "SubscribeToUpdates", json!([])).await;
    assert_eq!(
        completion,
        HubMessage::Completion {
            headers: vec![],
            invocation_id: "3".into(),
            outcome: Outcome::Error(
                "Failed to invoke 'SubscribeToUpdates' due to an error on the server. HubException: Method does not exist."
                    .into()
            ),
        }
    );
    let again = client.invoke("4", "SubscribeToModel", json!(["gpt"])).await;
    assert!(matches!(
        again,
        HubMessage::Completion {
            outcome: Outcome::Result(serde_json::Value::Null),
            ..
        }
    ));
}

/// A malformed frame closes that connection with an error that allows
/// reconnecting, and nothing else; other connections are untouched
/// (HubConnectionHandler.HubOnDisconnectedAsync passes AllowReconnect).
#[tokio::test]
async fn malformed_frame_closes_only_that_connection() {
    let sim = sim().await;
    let mut bad = Client::connect(&sim.url()).await;
    let mut good = Client::connect(&sim.url()).await;
    bad.send_text("{\"type\":\x1e").await;
    assert_eq!(
        bad.next_record_text().await,
        r#"{"type":7,"error":"Connection closed with an error.","allowReconnect":true}"#
    );
    assert!(matches!(bad.next().await, Received::Closed(_)));
    let reply = good.invoke("0", "RequestCurrentState", json!([])).await;
    assert!(matches!(reply, HubMessage::Invocation { .. }));
}

/// A record above 32 KiB is refused the same way, reconnectably.
#[tokio::test]
async fn oversized_record_is_refused() {
    let sim = sim().await;
    let mut client = Client::connect(&sim.url()).await;
    let big = format!(
        "{{\"type\":1,\"target\":\"X\",\"arguments\":[\"{}\"]}}\x1e",
        "y".repeat(33 * 1024)
    );
    client.send_text(&big).await;
    assert_eq!(
        client.next_record_text().await,
        r#"{"type":7,"error":"Connection closed with an error.","allowReconnect":true}"#
    );
}

/// A handshake that never comes is answered "Handshake was canceled."
/// before the close (HubConnectionContext.HandshakeAsync).
#[tokio::test]
async fn handshake_timeout_writes_canceled() {
    let mut config = signalscope::sim::SimConfig::new("api-1", None);
    config.handshake_timeout = Duration::from_millis(200);
    let sim = TestSim::start_with(config, 0).await;
    let mut client = Client::open(&sim.url(), None).await.unwrap();
    let Received::Record(r) = client.next().await else {
        panic!("no handshake response")
    };
    assert_eq!(r, br#"{"error":"Handshake was canceled."}"#);
    assert!(matches!(client.next().await, Received::Closed(_)));
}

/// Stopping the sim sends every client a Close that allows reconnecting.
#[tokio::test]
async fn shutdown_sends_reconnectable_close() {
    let sim = sim().await;
    let mut client = Client::connect(&sim.url()).await;
    let stopping = tokio::spawn(sim.stop());
    assert_eq!(
        client.next_record_text().await,
        r#"{"type":7,"allowReconnect":true}"#
    );
    assert!(matches!(client.next().await, Received::Closed(1000)));
    stopping.await.unwrap();
}

/// Runs `signalscope sim` with `env` (plus `ASPNETCORE_URLS` for `port`),
/// returns its first two stdout lines, checks /health, then SIGTERMs it
/// and checks it exits cleanly.
async fn run_binary(port: u16, env: &[(&str, String)]) -> (String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_signalscope"))
        .arg("sim")
        .env("ASPNETCORE_URLS", format!("http://localhost:{port}"))
        .env_remove("ConnectionStrings__RedisSignalR")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next = || lines.next().expect("a line").expect("UTF-8");
    let (first, second) = (next(), next());
    let (status, health) = sim_support::get_json(&format!("http://127.0.0.1:{port}/health")).await;
    assert_eq!((status, health["status"].as_str()), (200, Some("Healthy")));
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "exit status {status}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "sim did not exit on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    (first, second)
}

/// The binary honours ASPNETCORE_URLS and ConnectionStrings__RedisSignalR,
/// prints Conduit's line and its address, and exits cleanly on SIGTERM.
#[tokio::test]
async fn binary_honours_the_guides_environment() {
    let redis = support::RedisServer::start();
    let port = support::free_port();
    let connection_string = format!(
        "127.0.0.1:{},abortConnect=false,connectTimeout=5000",
        redis.port
    );
    let lines = run_binary(
        port,
        &[("ConnectionStrings__RedisSignalR", connection_string)],
    )
    .await;
    assert_eq!(
        lines,
        (
            "[Conduit] SignalR configured with Redis backplane for horizontal scaling".to_owned(),
            format!("listening on http://127.0.0.1:{port}")
        )
    );
}

/// Without Redis the binary prints Conduit's single-instance line.
#[tokio::test]
async fn binary_without_redis_is_single_instance() {
    let port = support::free_port();
    let (first, _) = run_binary(port, &[]).await;
    assert_eq!(
        first,
        "[Conduit] SignalR configured without Redis backplane (single-instance mode)"
    );
}
