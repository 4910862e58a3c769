//! Negotiate and the transport URL (docs/WIRE.md §1–§2).

use serde_json::{Map, Value};
use thiserror::Error;

/// Why a negotiate exchange failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NegotiateError {
    /// The body is not a JSON object.
    #[error("negotiate response is not a JSON object: {0}")]
    NotAnObject(String),
    /// A field is absent or has the wrong JSON type.
    #[error("negotiate response field '{0}' is missing or invalid")]
    BadField(&'static str),
    /// The server speaks the classic ASP.NET SignalR, not ASP.NET Core's.
    #[error("detected a connection attempt to an ASP.NET SignalR server; this client only supports ASP.NET Core SignalR")]
    ClassicSignalR,
    /// The URL's scheme is none of http, https, ws, wss.
    #[error("unsupported URL scheme in '{0}' (expected http, https, ws or wss)")]
    BadScheme(String),
}

/// The transport names negotiate lists.
pub const WEBSOCKETS: &str = "WebSockets";

/// `POST` target for negotiate: `negotiate` as a path segment before the
/// query, then `negotiateVersion=1` unless the URL already names a version.
pub fn negotiate_url(hub_url: &str) -> String {
    let (path, query) = match hub_url.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (hub_url, None),
    };
    let mut url = String::with_capacity(hub_url.len() + 32);
    url.push_str(path);
    if !url.ends_with('/') {
        url.push('/');
    }
    url.push_str("negotiate");
    if let Some(q) = query {
        url.push('?');
        url.push_str(q);
    }
    if !url.contains("negotiateVersion") {
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str("negotiateVersion=1");
    }
    url
}

/// The WebSocket URL for a hub: `id=<token>` appended when negotiated
/// (none for skipNegotiation), and http→ws / https→wss.
pub fn websocket_url(
    hub_url: &str,
    connection_token: Option<&str>,
) -> Result<String, NegotiateError> {
    let rest = if let Some(r) = hub_url.strip_prefix("http") {
        r
    } else if let Some(r) = hub_url.strip_prefix("ws") {
        r
    } else {
        return Err(NegotiateError::BadScheme(hub_url.into()));
    };
    if !(rest.starts_with("://") || rest.starts_with("s://")) {
        return Err(NegotiateError::BadScheme(hub_url.into()));
    }
    let mut url = format!("ws{rest}");
    if let Some(token) = connection_token {
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str("id=");
        url.push_str(token);
    }
    Ok(url)
}

/// One entry of `availableTransports`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transport {
    /// `WebSockets`, `ServerSentEvents` or `LongPolling`.
    pub transport: String,
    /// `Text` and/or `Binary`.
    pub transfer_formats: Vec<String>,
}

impl Transport {
    /// WebSockets with both formats: all the stand-in offers.
    pub fn websockets() -> Self {
        Self {
            transport: WEBSOCKETS.into(),
            transfer_formats: vec!["Text".into(), "Binary".into()],
        }
    }
}

/// A negotiate answer that names a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// The version the server picked (0 or 1).
    pub version: u32,
    /// Public id: `Context.ConnectionId`, used in `:connection:` channels.
    pub connection_id: String,
    /// Secret, single-use id for the transport request; equals
    /// `connection_id` in version 0.
    pub connection_token: String,
    /// What the server offers.
    pub transports: Vec<Transport>,
    /// Set only when the client asked and the hub allows it.
    pub use_stateful_reconnect: bool,
}

impl Negotiated {
    /// Whether WebSockets is offered, the only transport signalscope uses.
    pub fn offers_websockets(&self) -> bool {
        self.transports.iter().any(|t| t.transport == WEBSOCKETS)
    }

    /// The response body in ASP.NET's writer order.
    pub fn to_json(&self) -> String {
        let mut m = Map::new();
        if self.use_stateful_reconnect {
            m.insert("useStatefulReconnect".into(), Value::Bool(true));
        }
        m.insert("negotiateVersion".into(), Value::from(self.version));
        m.insert(
            "connectionId".into(),
            Value::from(self.connection_id.clone()),
        );
        if self.version >= 1 {
            m.insert(
                "connectionToken".into(),
                Value::from(self.connection_token.clone()),
            );
        }
        let transports = self
            .transports
            .iter()
            .map(|t| {
                let mut o = Map::new();
                o.insert("transport".into(), Value::from(t.transport.clone()));
                o.insert(
                    "transferFormats".into(),
                    Value::from(t.transfer_formats.clone()),
                );
                Value::Object(o)
            })
            .collect();
        m.insert("availableTransports".into(), Value::Array(transports));
        Value::Object(m).to_string()
    }
}

/// Everything a negotiate response can say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NegotiateResponse {
    /// A connection was created.
    Connected(Negotiated),
    /// Negotiate again at `url` with this token (e.g. Azure SignalR).
    Redirect {
        /// The new hub URL.
        url: String,
        /// Bearer token for the new URL.
        access_token: Option<String>,
    },
    /// The server refused.
    Error(String),
}

impl NegotiateResponse {
    /// Reads a negotiate response body.
    pub fn parse(body: &[u8]) -> Result<Self, NegotiateError> {
        let obj = match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(m)) => m,
            Ok(other) => return Err(NegotiateError::NotAnObject(format!("got {other}"))),
            Err(e) => return Err(NegotiateError::NotAnObject(e.to_string())),
        };
        let opt_str = |field: &'static str| match obj.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(NegotiateError::BadField(field)),
        };
        if obj.contains_key("ProtocolVersion") {
            return Err(NegotiateError::ClassicSignalR);
        }
        if let Some(e) = opt_str("error")? {
            return Ok(Self::Error(e));
        }
        if let Some(url) = opt_str("url")? {
            return Ok(Self::Redirect {
                url,
                access_token: opt_str("accessToken")?,
            });
        }
        let version = match obj.get("negotiateVersion") {
            None | Some(Value::Null) => 0,
            Some(v) => v
                .as_u64()
                .and_then(|v| u32::try_from(v).ok())
                .ok_or(NegotiateError::BadField("negotiateVersion"))?,
        };
        let connection_id =
            opt_str("connectionId")?.ok_or(NegotiateError::BadField("connectionId"))?;
        let connection_token = if version >= 1 {
            opt_str("connectionToken")?.ok_or(NegotiateError::BadField("connectionToken"))?
        } else {
            connection_id.clone()
        };
        let transports = match obj.get("availableTransports") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a.iter().map(transport).collect::<Result<_, _>>()?,
            Some(_) => return Err(NegotiateError::BadField("availableTransports")),
        };
        let use_stateful_reconnect = match obj.get("useStatefulReconnect") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(NegotiateError::BadField("useStatefulReconnect")),
        };
        Ok(Self::Connected(Negotiated {
            version,
            connection_id,
            connection_token,
            transports,
            use_stateful_reconnect,
        }))
    }
}

fn transport(v: &Value) -> Result<Transport, NegotiateError> {
    let bad = || NegotiateError::BadField("availableTransports");
    let o = v.as_object().ok_or_else(bad)?;
    let name = o.get("transport").and_then(Value::as_str).ok_or_else(bad)?;
    let formats = match o.get("transferFormats") {
        Some(Value::Array(a)) => a
            .iter()
            .map(|f| f.as_str().map(str::to_owned).ok_or_else(bad))
            .collect::<Result<_, _>>()?,
        None | Some(Value::Null) => Vec::new(),
        Some(_) => return Err(bad()),
    };
    Ok(Transport {
        transport: name.into(),
        transfer_formats: formats,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `negotiate` goes before the query and the version is appended.
    #[test]
    fn negotiate_url_shapes() {
        assert_eq!(
            negotiate_url("http://h:5000/hubs/navigation-state"),
            "http://h:5000/hubs/navigation-state/negotiate?negotiateVersion=1"
        );
        assert_eq!(
            negotiate_url("http://h/hub/?a=1"),
            "http://h/hub/negotiate?a=1&negotiateVersion=1"
        );
        assert_eq!(
            negotiate_url("http://h/hub?negotiateVersion=0"),
            "http://h/hub/negotiate?negotiateVersion=0"
        );
    }

    /// http→ws, https→wss, and the token is appended as `id=`.
    #[test]
    fn websocket_url_shapes() {
        assert_eq!(
            websocket_url("http://h:5000/hub", Some("AbC")).unwrap(),
            "ws://h:5000/hub?id=AbC"
        );
        assert_eq!(
            websocket_url("https://h/hub?x=1", Some("t")).unwrap(),
            "wss://h/hub?x=1&id=t"
        );
        assert_eq!(websocket_url("https://h/hub", None).unwrap(), "wss://h/hub");
        assert!(websocket_url("ftp://h/hub", None).is_err());
        assert!(websocket_url("httpx://h", None).is_err());
    }

    /// Version 1 responses carry a separate token; version 0 reuses the id.
    #[test]
    fn versions_zero_and_one() {
        let v1 = br#"{"negotiateVersion":1,"connectionId":"a","connectionToken":"b","availableTransports":[{"transport":"WebSockets","transferFormats":["Text","Binary"]}]}"#;
        let NegotiateResponse::Connected(n) = NegotiateResponse::parse(v1).unwrap() else {
            panic!("expected a connection")
        };
        assert_eq!(
            (n.connection_id.as_str(), n.connection_token.as_str()),
            ("a", "b")
        );
        assert!(n.offers_websockets());
        assert_eq!(n.to_json().as_bytes(), v1);

        let v0 = br#"{"connectionId":"a","availableTransports":[]}"#;
        let NegotiateResponse::Connected(n) = NegotiateResponse::parse(v0).unwrap() else {
            panic!("expected a connection")
        };
        assert_eq!(n.connection_token, "a");
        assert!(!n.offers_websockets());
    }

    /// Redirects, errors and classic SignalR are told apart.
    #[test]
    fn redirect_error_and_classic() {
        assert_eq!(
            NegotiateResponse::parse(br#"{"url":"https://x/h","accessToken":"t"}"#).unwrap(),
            NegotiateResponse::Redirect {
                url: "https://x/h".into(),
                access_token: Some("t".into())
            }
        );
        assert_eq!(
            NegotiateResponse::parse(br#"{"error":"nope"}"#).unwrap(),
            NegotiateResponse::Error("nope".into())
        );
        assert_eq!(
            NegotiateResponse::parse(br#"{"ProtocolVersion":"1.5"}"#),
            Err(NegotiateError::ClassicSignalR)
        );
        assert_eq!(
            NegotiateResponse::parse(br#"{"negotiateVersion":1,"connectionId":"a"}"#),
            Err(NegotiateError::BadField("connectionToken"))
        );
    }
}
