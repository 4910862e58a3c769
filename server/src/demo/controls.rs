//! The demo's extra routes: stop and start the processes it owns, so
//! Scenarios 2 (an instance dies) and 3 (Redis dies) can be shown live.
//! Only the demo mounts them, and only for processes it started itself.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::json;
use tokio::sync::Mutex;

use protocol::api::{routes, DemoAction, Instance};

use super::DemoError;
use crate::children::Supervised;

/// Everything the demo started, behind one lock so that stop and start
/// requests for the same process cannot interleave.
#[derive(Debug)]
pub struct Fleet {
    /// The Redis child, when the demo started one (not with `--redis`).
    pub redis: Option<Supervised>,
    /// The stand-in instances, in panel order.
    pub instances: Vec<Supervised>,
    /// How to start one more (`load --add-instance`).
    pub recipe: StandInRecipe,
}

/// What a new stand-in needs: this binary, the Redis, a port to try first.
#[derive(Debug, Clone)]
pub struct StandInRecipe {
    /// This executable (`signalscope`).
    pub exe: std::path::PathBuf,
    /// The backplane's Redis URL.
    pub redis_url: String,
    /// More `sim` flags every stand-in gets (its hubs and keys).
    pub flags: Vec<String>,
    /// The next port to try; instances take consecutive ports.
    pub next_port: u16,
}

impl StandInRecipe {
    /// A stand-in child named `name` on loopback `port`.
    pub fn child(&self, name: &str, port: u16) -> Supervised {
        Supervised::new(
            name.to_owned(),
            &self.exe,
            [
                "sim".into(),
                "--listen".into(),
                format!("127.0.0.1:{port}"),
                "--redis".into(),
                self.redis_url.clone(),
                "--name".into(),
                name.to_owned(),
            ]
            .into_iter()
            .chain(self.flags.iter().cloned())
            .collect(),
            "listening on",
            true,
        )
    }
}

impl Fleet {
    /// Stops every instance, then Redis: instances first, so their last
    /// words (Close with allowReconnect) reach the clients.
    pub async fn stop_all(&mut self) {
        for i in &mut self.instances {
            i.stop().await;
        }
        if let Some(r) = &mut self.redis {
            r.stop().await;
        }
    }
}

/// Shared handle on the fleet.
pub type SharedFleet = Arc<Mutex<Fleet>>;

/// `/api/demo/instances/{name}/{stop|start}`, `/api/demo/instances` (add
/// one) and `/api/demo/redis/{stop|start}`.
pub fn routes(fleet: SharedFleet) -> Router {
    Router::new()
        .route(routes::DEMO_INSTANCES, post(add_instance))
        .route(
            &format!("{}/{{name}}/{{action}}", routes::DEMO_INSTANCES),
            post(instance),
        )
        .route(&format!("{}/{{action}}", routes::DEMO_REDIS), post(redis))
        .with_state(fleet)
}

async fn instance(
    State(fleet): State<SharedFleet>,
    Path((name, action)): Path<(String, String)>,
) -> Result<Json<serde_json::Value>, DemoError> {
    let mut fleet = fleet.lock().await;
    let child = fleet
        .instances
        .iter_mut()
        .find(|c| c.name == name)
        .ok_or(DemoError::UnknownProcess(name.clone()))?;
    apply(child, &action).await?;
    Ok(Json(json!({ "name": name, "running": child.is_running() })))
}

/// Starts one more stand-in on the next free port; answers its name and URL.
async fn add_instance(State(fleet): State<SharedFleet>) -> Result<Json<Instance>, DemoError> {
    let mut fleet = fleet.lock().await;
    let name = format!("api-{}", fleet.instances.len() + 1);
    let mut port = fleet.recipe.next_port;
    while std::net::TcpListener::bind(("127.0.0.1", port)).is_err() {
        port = port.checked_add(1).ok_or(DemoError::NoFreePort)?;
    }
    let mut child = fleet.recipe.child(&name, port);
    child.start().await?;
    fleet.instances.push(child);
    fleet.recipe.next_port = port.saturating_add(1);
    Ok(Json(Instance {
        name,
        url: format!("http://127.0.0.1:{port}"),
        hubs: Vec::new(),
    }))
}

async fn redis(
    State(fleet): State<SharedFleet>,
    Path(action): Path<String>,
) -> Result<Json<serde_json::Value>, DemoError> {
    let mut fleet = fleet.lock().await;
    let child = fleet
        .redis
        .as_mut()
        .ok_or(DemoError::UnknownProcess("redis".into()))?;
    apply(child, &action).await?;
    Ok(Json(
        json!({ "name": "redis", "running": child.is_running() }),
    ))
}

async fn apply(child: &mut Supervised, action: &str) -> Result<(), DemoError> {
    match DemoAction::parse(action) {
        Some(DemoAction::Stop) => {
            child.stop().await;
            Ok(())
        }
        Some(DemoAction::Start) => Ok(child.start().await?),
        None => Err(DemoError::UnknownAction(action.into())),
    }
}

impl IntoResponse for DemoError {
    fn into_response(self) -> Response {
        let status = match &self {
            DemoError::UnknownProcess(_) | DemoError::UnknownAction(_) => StatusCode::NOT_FOUND,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status.is_server_error() {
            tracing::error!("demo control failed: {self}");
        }
        (status, Json(json!({ "error": self.to_string() }))).into_response()
    }
}
