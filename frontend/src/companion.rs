//! The companion's HTTP API as the page calls it. Paths and bodies are the
//! `protocol::api` types; a token, when the companion requires one, comes
//! from the page's `?token=` parameter and is remembered for the tab.

use std::fmt;

use gloo_net::http::{Request, RequestBuilder, Response};
use protocol::api::{
    routes, CanaryReport, DashboardConfig, FeedSource, Status, TriggerRequest, TriggerResponse,
};
use protocol::from_json::{self, FromJson};
use protocol::to_json::ToJson;

/// sessionStorage key of the token, so reloads and links keep it.
const TOKEN_KEY: &str = "signalscope.token";

/// A failed API call, said plainly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError(pub String);

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The companion that served this page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Companion {
    /// Sent as `Authorization: Bearer` (and `?token=` for SSE, which
    /// cannot carry headers).
    token: Option<String>,
}

impl Companion {
    /// The companion of this page, with the token from `?token=` or the
    /// tab's memory.
    pub fn from_page() -> Self {
        let window = web_sys::window();
        let session = window
            .as_ref()
            .and_then(|w| w.session_storage().ok().flatten());
        let from_query = window
            .as_ref()
            .and_then(|w| w.location().search().ok())
            .and_then(|s| web_sys::UrlSearchParams::new_with_str(&s).ok())
            .and_then(|p| p.get("token"))
            .filter(|t| !t.is_empty());
        if let (Some(t), Some(s)) = (&from_query, &session) {
            let _ = s.set_item(TOKEN_KEY, t);
        }
        let token =
            from_query.or_else(|| session.and_then(|s| s.get_item(TOKEN_KEY).ok().flatten()));
        Self { token }
    }

    fn authorize(&self, request: RequestBuilder) -> RequestBuilder {
        match &self.token {
            Some(t) => request.header("Authorization", &format!("Bearer {t}")),
            None => request,
        }
    }

    /// `GET /api/config`.
    pub async fn config(&self) -> Result<DashboardConfig, ApiError> {
        json(self.authorize(Request::get(routes::CONFIG)).send().await).await
    }

    /// `GET /api/status`.
    pub async fn status(&self) -> Result<Status, ApiError> {
        json(self.authorize(Request::get(routes::STATUS)).send().await).await
    }

    /// `GET /api/canary`.
    pub async fn canary(&self) -> Result<CanaryReport, ApiError> {
        json(self.authorize(Request::get(routes::CANARY)).send().await).await
    }

    /// `POST /api/test/trigger-navigation-update`.
    pub async fn trigger(&self, body: &TriggerRequest) -> Result<TriggerResponse, ApiError> {
        let request = self
            .authorize(Request::post(routes::TRIGGER))
            .header("Content-Type", "application/json")
            .body(body.to_json().to_string())
            .map_err(|e| ApiError(e.to_string()))?;
        json(request.send().await).await
    }

    /// `POST` to one of the demo's controls, a path from [`routes`].
    pub async fn demo(&self, path: &str) -> Result<(), ApiError> {
        let response = self.authorize(Request::post(path)).send().await;
        checked(response).await.map(drop)
    }

    /// The SSE address of the feed from `source`.
    pub fn feed_url(&self, source: FeedSource) -> String {
        let mut url = format!("{}?source={}", routes::FEED, source.as_str());
        if let Some(t) = &self.token {
            url.push_str("&token=");
            url.push_str(&String::from(js_sys::encode_uri_component(t)));
        }
        url
    }
}

/// The response if it is a success, else its status and body as the error.
async fn checked(response: Result<Response, gloo_net::Error>) -> Result<Response, ApiError> {
    let response = response.map_err(|e| ApiError(format!("companion unreachable: {e}")))?;
    if response.ok() {
        return Ok(response);
    }
    let body = response.text().await.unwrap_or_default();
    Err(ApiError(format!(
        "HTTP {} {}: {}",
        response.status(),
        response.status_text(),
        body.trim()
    )))
}

/// The body of a successful response read as `T` ([`from_json`], not
/// serde's derives: a third of the page's decoding code).
async fn json<T: FromJson>(response: Result<Response, gloo_net::Error>) -> Result<T, ApiError> {
    let text = checked(response)
        .await?
        .text()
        .await
        .map_err(|e| ApiError(format!("unexpected answer: {e}")))?;
    from_json::from_str(&text).ok_or_else(|| {
        let start: String = text.chars().take(200).collect();
        ApiError(format!("unexpected answer: {start}"))
    })
}
