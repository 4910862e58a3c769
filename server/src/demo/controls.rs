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

/// `/api/demo/instances/{name}/{stop|start}` and `/api/demo/redis/{stop|start}`.
pub fn routes(fleet: SharedFleet) -> Router {
    Router::new()
        .route("/api/demo/instances/{name}/{action}", post(instance))
        .route("/api/demo/redis/{action}", post(redis))
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
    match action {
        "stop" => {
            child.stop().await;
            Ok(())
        }
        "start" => Ok(child.start().await?),
        other => Err(DemoError::UnknownAction(other.into())),
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
