//! The dashboard's files: the trunk-built directory served as is, with
//! `index.html` for every other path (a single-page app routes itself).
//! Until it is built, every page is a short note with the command that
//! builds it. Unknown `/api/…` paths stay a JSON 404.

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::{Json, Router};
use serde_json::json;
use tower_http::services::{ServeDir, ServeFile};

/// The exact command that builds the dashboard, run from the repository root.
pub(crate) const BUILD_COMMAND: &str = "trunk build index.html --release";

/// Serves `dist`, falling back to its `index.html`.
pub(crate) fn dashboard(dist: PathBuf) -> Router {
    let files = ServeDir::new(&dist).fallback(ServeFile::new(dist.join("index.html")));
    Router::new()
        .fallback_service(files)
        .layer(axum::middleware::from_fn_with_state(Arc::new(dist), built))
}

/// Answers what the files cannot: unknown API paths, and everything while
/// the dashboard is not built (checked per request, so building it while
/// the companion runs needs only a reload).
async fn built(State(dist): State<Arc<PathBuf>>, request: Request, next: Next) -> Response {
    if request.uri().path().starts_with("/api/") {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": "no such API endpoint" })),
        )
            .into_response();
    }
    if !dist.join("index.html").is_file() {
        return not_built(&dist);
    }
    next.run(request).await
}

fn not_built(dist: &std::path::Path) -> Response {
    let page = format!(
        "<!doctype html><meta charset=utf-8><title>signalscope: dashboard not built</title>\
         <h1>The dashboard is not built yet</h1>\
         <p>Build it from the repository root with:</p><pre>{BUILD_COMMAND}</pre>\
         <p>then reload this page. The companion serves it from <code>{}</code> \
         (change with <code>--dist</code>). The API under <code>/api/</code> works meanwhile.</p>",
        html_escape(&dist.display().to_string())
    );
    (StatusCode::SERVICE_UNAVAILABLE, Html(page)).into_response()
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
