//! Chaos on purpose, only on processes a `signalscope demo` owns: through
//! its controls (`/api/demo/…`), the same ones its page uses.

use protocol::api::{routes, DemoAction, Instance};

use super::plan::Act;

/// The demo companion whose controls stop, start and add processes.
#[derive(Debug, Clone)]
pub struct DemoControls {
    /// `http://127.0.0.1:8080`.
    base: String,
    /// Reused for every call.
    http: reqwest::Client,
}

impl DemoControls {
    /// Controls at `base`.
    pub fn new(base: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            http: reqwest::Client::new(),
        }
    }

    /// Whether the demo answers and says it owns processes.
    pub async fn available(&self) -> Result<(), String> {
        let config: serde_json::Value = self
            .http
            .get(format!("{}{}", self.base, routes::CONFIG))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| format!("the demo at {} does not answer: {e}", self.base))?
            .json()
            .await
            .map_err(|e| format!("the demo at {}: {e}", self.base))?;
        if config.get("demo").is_none_or(serde_json::Value::is_null) {
            return Err(format!(
                "{} is a companion, not a demo: it owns no processes to stop",
                self.base
            ));
        }
        Ok(())
    }

    /// Performs `act`; an added instance is returned.
    pub async fn perform(&self, act: &Act) -> Result<Option<Instance>, String> {
        let path = match act {
            Act::Kill(name) => routes::demo_instance(name, DemoAction::Stop),
            Act::Restart(name) => routes::demo_instance(name, DemoAction::Start),
            Act::Add => routes::DEMO_INSTANCES.to_owned(),
            Act::RedisStop => routes::demo_redis(DemoAction::Stop),
            Act::RedisStart => routes::demo_redis(DemoAction::Start),
        };
        let answer = self
            .http
            .post(format!("{}{path}", self.base))
            .send()
            .await
            .map_err(|e| format!("{path}: {e}"))?;
        let status = answer.status();
        let text = answer.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(format!("{path}: HTTP {} {text}", status.as_u16()));
        }
        if matches!(act, Act::Add) {
            let added: Instance = serde_json::from_str(&text)
                .map_err(|e| format!("{path}: unexpected answer {e}"))?;
            return Ok(Some(added));
        }
        Ok(None)
    }
}

/// How an act reads on the timeline: (kind, words).
pub fn describe(act: &Act) -> (&'static str, String) {
    match act {
        Act::Kill(n) => ("kill", format!("{n} stopped")),
        Act::Restart(n) => ("restart", format!("{n} started again")),
        Act::Add => ("add", "an instance added".to_owned()),
        Act::RedisStop => ("redis-stop", "Redis stopped".to_owned()),
        Act::RedisStart => ("redis-start", "Redis started again".to_owned()),
    }
}
