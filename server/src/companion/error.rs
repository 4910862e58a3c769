//! The one error every companion handler answers with: user mistakes are
//! answered plainly, upstream failures as 502, and the rest as 500, logged
//! once. Bodies are `{"error": "…"}`.

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
    /// No valid token.
    #[error("missing or wrong token: send `Authorization: Bearer <token>` or `?token=<token>`")]
    Unauthorized,
    /// Redis or an instance failed; the text is already free of secrets.
    #[error("{0}")]
    Upstream(String),
    /// A bug or an unexpected state.
    #[error("{0}")]
    Internal(String),
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = match &self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Upstream(_) => StatusCode::BAD_GATEWAY,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status.is_server_error() {
            tracing::warn!(%status, error = %self, "request failed");
        }
        (status, Json(json!({ "error": self.to_string() }))).into_response()
    }
}
