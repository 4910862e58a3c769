//! Test broadcasts (`POST /api/test/trigger-navigation-update`) to any
//! configured hub, sent one of three ways:
//!
//! * `redis`: PUBLISH an ASP.NET-layout invocation on the channel of the
//!   chosen audience (all, a group, a user or a connection; default the
//!   hub's own), so every instance of any real deployment delivers it;
//! * `instance`: POST the same request (hub, audience, method, arguments,
//!   protocols) to one instance's own trigger endpoint, the first serving
//!   the hub unless one is named; its answer names the channel it used;
//! * `configured`: POST to a configured URL with configured headers (an
//!   admin key, say) that never reach the browser.
//!
//! Every broadcast gets a fresh id, the next sequence number and its send
//! time, so the page can match, time and count it.

use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::http::{HeaderName, HeaderValue};
use protocol::api::{no_such_hub, routes, Instance, TriggerMode, TriggerRequest, TriggerResponse};
use protocol::broadcast::{TestBroadcast, COMPANION_ORIGIN};
use serde_json::{json, Value};

use super::{AppError, AppState, BoxError};
use crate::clock::unix_ms;

/// How long an instance or configured URL may take to answer.
const HTTP_TIMEOUT: Duration = Duration::from_secs(5);
/// How much of a failed upstream answer is quoted back.
const QUOTED_BODY: usize = 300;

/// The `configured` trigger mode's target.
#[derive(Clone)]
pub struct ConfiguredTrigger {
    /// Where to POST.
    url: String,
    /// Sent with every POST; secret, so never shown or logged.
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl fmt::Debug for ConfiguredTrigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        write!(f, "ConfiguredTrigger({}, headers {names:?})", self.url)
    }
}

impl ConfiguredTrigger {
    /// POSTs to `url` with `headers` (name, value).
    pub fn new(url: impl Into<String>, headers: Vec<(String, String)>) -> Result<Self, BoxError> {
        let url = url.into();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(format!("trigger URL '{url}' is not an http(s) URL").into());
        }
        let headers = headers
            .into_iter()
            .map(|(n, v)| {
                let name = HeaderName::try_from(n.as_str())
                    .map_err(|_| format!("bad header name '{n}'"))?;
                let mut value = HeaderValue::try_from(v.as_str())
                    .map_err(|_| format!("bad value for header '{n}'"))?;
                value.set_sensitive(true);
                Ok((name, value))
            })
            .collect::<Result<Vec<_>, BoxError>>()?;
        Ok(Self { url, headers })
    }

    /// Removes every header value from `text`, in case the far end echoes it.
    fn scrub(&self, text: &str) -> String {
        self.headers
            .iter()
            .fold(text.to_owned(), |t, (_, v)| match v.to_str() {
                Ok(s) if !s.is_empty() => t.replace(s, "***"),
                _ => t,
            })
    }
}

/// Sequence numbers and the HTTP client for the POSTing modes.
pub(crate) struct Trigger {
    /// The last sequence number handed out.
    seq: AtomicU64,
    /// Reused for every instance / configured POST.
    http: reqwest::Client,
}

impl Trigger {
    /// Its HTTP client trusts the system's roots plus every certificate in
    /// the PEM file `ca_cert`.
    pub(crate) fn new(ca_cert: Option<&Path>) -> Result<Self, BoxError> {
        let mut http = reqwest::Client::builder().timeout(HTTP_TIMEOUT);
        if let Some(path) = ca_cert {
            let pem = std::fs::read(path)
                .map_err(|e| format!("cannot read --ca-cert {}: {e}", path.display()))?;
            let roots = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| format!("--ca-cert {}: {e}", path.display()))?;
            if roots.is_empty() {
                return Err(
                    format!("--ca-cert {}: no PEM certificate in it", path.display()).into(),
                );
            }
            for root in roots {
                http = http.add_root_certificate(root);
            }
        }
        Ok(Self {
            seq: AtomicU64::new(0),
            http: http.build()?,
        })
    }

    /// The shared HTTP client (the status page fetches `/health` with it).
    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }
}

/// Sends one test broadcast as `req` asks.
pub(crate) async fn send(
    state: &AppState,
    req: TriggerRequest,
) -> Result<TriggerResponse, AppError> {
    let config = state.config();
    let mode = req.mode.unwrap_or(TriggerMode::Redis);
    let hub = config.hub(req.hub.as_deref()).ok_or_else(|| {
        AppError::BadRequest(no_such_hub(
            req.hub.as_deref().unwrap_or_default(),
            config.hubs.iter().map(|h| h.name.as_str()),
        ))
    })?;
    let instance = req.instance.clone();
    let plan = req
        .plan(&hub.audience, &hub.events.broadcast)
        .map_err(AppError::BadRequest)?;
    let seq = state.trigger().seq.fetch_add(1, Ordering::Relaxed) + 1;
    let id = format!("{:032x}", rand::random::<u128>());
    let broadcast = TestBroadcast::new(id, seq, unix_ms(), COMPANION_ORIGIN);
    let mut answer = TriggerResponse {
        id: broadcast.id.clone(),
        seq,
        sent_at: broadcast.sent_at.clone(),
        target: plan.target.clone(),
        channel: hub.channels(&config.prefix).name(&plan.audience.channel()),
        mode,
        receivers: None,
        channel_subscribers: None,
        instance: None,
        hub: Some(hub.name.clone()),
    };
    match mode {
        TriggerMode::Redis => {
            let arguments = plan
                .arguments
                .unwrap_or_else(|| vec![broadcast.to_argument()]);
            let protocols = plan.protocols.as_ref().unwrap_or(&config.protocols);
            let receivers = state
                .link()
                .publish_invocation(&answer.channel, &answer.target, arguments, protocols)
                .await?;
            answer.receivers = Some(receivers);
            // PUBLISH counts pattern subscribers too (this companion's own
            // pub/sub feed, say): the channel's own count is the instances.
            answer.channel_subscribers = state
                .link()
                .query::<Vec<(String, i64)>>(
                    redis::cmd("PUBSUB").arg("NUMSUB").arg(&answer.channel),
                )
                .await
                .ok()
                .and_then(|v| v.first().map(|(_, n)| *n));
            Ok(answer)
        }
        TriggerMode::Instance => {
            // The instance builds its own broadcast (its sequence, its name
            // as origin) unless the caller gave arguments, publishes it in
            // its own protocols unless the caller named some, and answers
            // with what reached the panels, which is relayed.
            let instance = pick_instance(&config.instances, instance.as_deref(), &hub.name)?;
            let url = format!("{}{}", instance.url, routes::TRIGGER);
            let what = format!("instance {}", instance.name);
            let body = TriggerRequest {
                target: Some(plan.target),
                arguments: plan.arguments,
                hub: Some(hub.name.clone()),
                audience: Some(plan.audience),
                protocols: plan
                    .protocols
                    .map(|p| p.iter().map(|p| p.name().to_owned()).collect()),
                ..TriggerRequest::default()
            };
            let text = post(state, &url, &[], &body, &what, |t| t.to_owned()).await?;
            answer.instance = Some(instance.name.clone());
            Ok(relayed(answer, &text))
        }
        TriggerMode::Configured => {
            // The far end may be anything, so it is handed our broadcast
            // and our account stands; only a receiver count is taken over.
            let configured = config.trigger.as_ref().ok_or_else(|| {
                AppError::BadRequest(
                    "the configured mode is not set up (start with --trigger-url)".into(),
                )
            })?;
            // The far end takes one argument, as the stand-in's `payload`.
            let payload = match plan.arguments {
                Some(arguments) => arguments.into_iter().next().unwrap_or(Value::Null),
                None => broadcast.to_argument(),
            };
            let body = json!({ "target": answer.target, "payload": payload });
            let scrub = |t: &str| configured.scrub(t);
            let text = post(
                state,
                &configured.url,
                &configured.headers,
                &body,
                "the configured trigger",
                scrub,
            )
            .await?;
            answer.receivers = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v.get("receivers")?.as_i64());
            Ok(answer)
        }
    }
}

/// The named instance, or the first serving `hub` (an Admin API instance
/// serves other hubs than a Core API one); one that does not serve it is
/// refused before it is asked.
fn pick_instance<'a>(
    instances: &'a [Instance],
    name: Option<&str>,
    hub: &str,
) -> Result<&'a Instance, AppError> {
    let refused = |why: String| AppError::BadRequest(why);
    match name {
        Some(n) => {
            let instance = instances
                .iter()
                .find(|i| i.name == n)
                .ok_or_else(|| refused(format!("no instance named '{n}'")))?;
            if !instance.serves(hub) {
                return Err(refused(format!(
                    "instance '{n}' does not serve hub '{hub}' (its hubs: {})",
                    instance.hubs.join(", ")
                )));
            }
            Ok(instance)
        }
        None if instances.is_empty() => {
            Err(refused("no instances configured (pass --instance)".into()))
        }
        None => instances
            .iter()
            .find(|i| i.serves(hub))
            .ok_or_else(|| refused(format!("no instance serves hub '{hub}'"))),
    }
}

/// POSTs `body` and returns the answer's text; failures quote at most a
/// little of the answer, passed through `scrub` first.
async fn post(
    state: &AppState,
    url: &str,
    headers: &[(HeaderName, HeaderValue)],
    body: &impl serde::Serialize,
    what: &str,
    scrub: impl Fn(&str) -> String,
) -> Result<String, AppError> {
    let mut request = state.trigger().http.post(url).json(body);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let response = request
        .send()
        .await
        .map_err(|e| AppError::Upstream(format!("{what} unreachable: {}", scrub(&describe(e)))))?;
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|e| AppError::Upstream(format!("{what}: {}", scrub(&describe(e)))))?;
    if !status.is_success() {
        let quoted: String = scrub(&text).chars().take(QUOTED_BODY).collect();
        return Err(AppError::Upstream(format!(
            "{what} answered {status}: {quoted}"
        )));
    }
    Ok(text)
}

/// `e` with its causes (`error sending request` alone hides a refused
/// connection or an untrusted certificate), without the URL, which may
/// carry secrets.
pub(crate) fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        let next = c.to_string();
        // Some layers repeat their inner error in their own text.
        if !text.ends_with(&next) {
            text = format!("{text}: {next}");
        }
        cause = c.source();
    }
    text
}

/// The far end's own account when it gives one (its id and seq are what
/// reaches the panels), keeping our mode and instance; ours otherwise.
fn relayed(ours: TriggerResponse, text: &str) -> TriggerResponse {
    match serde_json::from_str::<TriggerResponse>(text) {
        Ok(theirs) => TriggerResponse {
            mode: ours.mode,
            instance: ours.instance.or(theirs.instance),
            ..theirs
        },
        Err(_) => ours,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Header values never show in Debug output and are scrubbed from echoes.
    #[test]
    fn configured_headers_stay_secret() {
        let t = ConfiguredTrigger::new("http://x", vec![("X-API-Key".into(), "s3cret".into())])
            .unwrap();
        assert!(!format!("{t:?}").contains("s3cret"));
        assert_eq!(t.scrub("bad key s3cret"), "bad key ***");
    }

    /// Instance mode asks the named instance, or the first serving the
    /// hub; an instance narrowed to other hubs is refused, never asked.
    #[test]
    fn picks_an_instance_serving_the_hub() {
        let narrowed = |name: &str, hubs: &[&str]| Instance {
            hubs: hubs.iter().map(|h| h.to_string()).collect(),
            ..Instance::new(name, "http://h:1")
        };
        let instances = [
            narrowed("core", &["navigation"]),
            narrowed("admin", &["admin-notifications"]),
            Instance::new("any", "http://h:2"),
        ];
        let pick = |name: Option<&str>, hub: &str| {
            pick_instance(&instances, name, hub)
                .map(|i| i.name.clone())
                .map_err(|e| e.to_string())
        };
        assert_eq!(pick(None, "admin-notifications"), Ok("admin".into()));
        assert_eq!(pick(None, "navigation"), Ok("core".into()));
        assert_eq!(pick(None, "tasks"), Ok("any".into()));
        assert_eq!(pick(Some("any"), "navigation"), Ok("any".into()));
        assert_eq!(
            pick(Some("core"), "admin-notifications"),
            Err(
                "instance 'core' does not serve hub 'admin-notifications' (its hubs: navigation)"
                    .into()
            )
        );
        assert_eq!(
            pick(Some("nope"), "navigation"),
            Err("no instance named 'nope'".into())
        );
        assert_eq!(
            pick_instance(&instances[..2], None, "tasks")
                .map_err(|e| e.to_string())
                .err(),
            Some("no instance serves hub 'tasks'".into())
        );
    }

    /// A far end's TriggerResponse is relayed with our mode; other bodies keep ours.
    #[test]
    fn relays_their_answer() {
        let ours = TriggerResponse {
            id: "a".into(),
            seq: 1,
            sent_at: "t".into(),
            target: "T".into(),
            channel: "c".into(),
            mode: TriggerMode::Instance,
            receivers: None,
            channel_subscribers: None,
            instance: Some("api-1".into()),
            hub: None,
        };
        let mut theirs = ours.clone();
        theirs.id = "b".into();
        theirs.mode = TriggerMode::Redis;
        theirs.receivers = Some(3);
        let r = relayed(ours.clone(), &serde_json::to_string(&theirs).unwrap());
        assert_eq!(
            (r.id.as_str(), r.mode, r.receivers),
            ("b", TriggerMode::Instance, Some(3))
        );
        assert_eq!(relayed(ours.clone(), "ok"), ours);
    }
}
