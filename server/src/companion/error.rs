//! The one error every companion handler answers with: user mistakes are
//! answered plainly (400, 401), failures of Redis or an instance as 502 and
//! logged once. Bodies are `{"error": "…"}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request itself is wrong (unknown instance, mode not set up, …).
    #[error("{0}")]
    BadRequest(String),
    /// The thing asked for is not here (the canary, when none runs).
    #[error("{0}")]
    NotFound(String),
    /// No valid token.
    #[error("missing or wrong token: send `Authorization: Bearer <token>` or `?token=<token>`")]
    Unauthorized,
    /// Redis or an instance failed; the text is already free of secrets.
    #[error("{0}")]
    Upstream(String),
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = match &self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Upstream(_) => StatusCode::BAD_GATEWAY,
        };
        if status.is_server_error() {
            tracing::warn!(%status, error = %self, "request failed");
        }
        (status, Json(json!({ "error": self.to_string() }))).into_response()
    }
}

impl From<crate::redis_link::LinkError> for AppError {
    fn from(e: crate::redis_link::LinkError) -> Self {
        Self::Upstream(e.to_string())
    }
}
