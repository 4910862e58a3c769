//! `/health`, `/health/ready` and `/health/live` in the JSON ASP.NET
//! HealthChecks writes for Conduit (docs/CONDUIT.md §4): a status, one
//! entry per check, durations in milliseconds, and 503 when unhealthy.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::hub::Hub;

/// Limit on the Redis PING a health check makes.
const PING_LIMIT: Duration = Duration::from_secs(2);

/// `Healthy`, `Degraded` or `Unhealthy`, in that order of severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Status {
    /// All good.
    Healthy,
    /// Working, with a caveat.
    Degraded,
    /// Not working.
    Unhealthy,
}

/// One check's entry.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    /// The check's registered name (`redis`, `signalr`).
    pub name: String,
    /// Its verdict.
    pub status: Status,
    /// A sentence for people.
    pub description: String,
    /// How long it took, in ms.
    pub duration: f64,
    /// The failure's text, if it failed.
    pub exception: Option<String>,
    /// Facts the check gathered.
    pub data: Map<String, Value>,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// The worst of the checks' statuses (`Healthy` with no checks).
    pub status: Status,
    /// Every check run.
    pub checks: Vec<Check>,
    /// Time for all checks, in ms.
    pub total_duration: f64,
}

impl IntoResponse for Report {
    fn into_response(self) -> Response {
        let code = if self.status == Status::Unhealthy {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            StatusCode::OK
        };
        // ASP.NET's writer indents its output.
        let body = serde_json::to_string_pretty(&self).unwrap_or_default();
        (
            code,
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response()
    }
}

/// Which checks a path runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// `/health` and `/health/ready`: every check.
    All,
    /// `/health/live`: none (the process answers, so it lives).
    Live,
}

/// Runs the checks for `scope`.
pub async fn report(hub: &Hub, scope: Scope) -> Report {
    let started = Instant::now();
    let checks = match scope {
        Scope::Live => Vec::new(),
        Scope::All => vec![redis_check(hub).await, signalr_check(hub)],
    };
    Report {
        status: checks
            .iter()
            .map(|c| c.status)
            .max()
            .unwrap_or(Status::Healthy),
        checks,
        total_duration: ms(started.elapsed()),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn redis_check(hub: &Hub) -> Check {
    let started = Instant::now();
    let backplane = hub.backplane();
    let mut data = Map::new();
    data.insert("instance".into(), json!(hub.config().name));
    data.insert("serverName".into(), json!(backplane.server_name()));
    data.insert("channelPrefix".into(), json!(backplane.channels().prefix));
    let (status, description, exception) = if !backplane.uses_redis() {
        (
            Status::Healthy,
            "No Redis backplane configured (single-instance mode)".to_owned(),
            None,
        )
    } else if !backplane.is_up() {
        (
            Status::Unhealthy,
            "Redis backplane is disconnected".to_owned(),
            Some("Redis is not connected; reconnecting".to_owned()),
        )
    } else {
        match tokio::time::timeout(PING_LIMIT, backplane.ping()).await {
            Ok(Ok(())) => (
                Status::Healthy,
                "Redis backplane is connected".to_owned(),
                None,
            ),
            Ok(Err(e)) => (
                Status::Unhealthy,
                "Redis PING failed".to_owned(),
                Some(e.to_string()),
            ),
            Err(_) => (
                Status::Unhealthy,
                "Redis PING timed out".to_owned(),
                Some(format!("no reply within {PING_LIMIT:?}")),
            ),
        }
    };
    Check {
        name: "redis".into(),
        status,
        description,
        duration: ms(started.elapsed()),
        exception,
        data,
    }
}

fn signalr_check(hub: &Hub) -> Check {
    let started = Instant::now();
    let mut data = Map::new();
    data.insert("NavigationStateHub_status".into(), json!("healthy"));
    data.insert("connections".into(), json!(hub.connection_count()));
    Check {
        name: "signalr".into(),
        status: Status::Healthy,
        description: "SignalR hubs are operational".into(),
        duration: ms(started.elapsed()),
        exception: None,
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::SimConfig;

    /// Without Redis both checks pass and the report is Healthy.
    #[tokio::test]
    async fn single_instance_is_healthy() {
        let hub = Hub::start(
            std::sync::Arc::new(SimConfig::new("t", None)),
            &crate::sim::profiles::NAVIGATION,
        )
        .await;
        let r = report(&hub, Scope::All).await;
        assert_eq!(r.status, Status::Healthy);
        let names: Vec<_> = r.checks.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["redis", "signalr"]);
    }

    /// The worst check decides, and Unhealthy answers 503.
    #[test]
    fn unhealthy_answers_503() {
        let r = Report {
            status: Status::Unhealthy,
            checks: vec![],
            total_duration: 0.0,
        };
        assert_eq!(r.into_response().status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(Status::Unhealthy > Status::Degraded && Status::Degraded > Status::Healthy);
    }
}
