//! The handshake: the first record in each direction (docs/WIRE.md §3).

use serde_json::{Map, Value};
use thiserror::Error;

/// ASP.NET's handshake error when the handshake timeout expires.
pub const HANDSHAKE_CANCELED: &str = "Handshake was canceled.";

/// ASP.NET's handshake error for a request it cannot parse.
pub const HANDSHAKE_UNPARSABLE: &str = "An unexpected error occurred during connection handshake.";

/// Why a handshake record could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HandshakeError {
    /// The record is not a JSON object.
    #[error("handshake is not a JSON object: {0}")]
    NotAnObject(String),
    /// A required field is absent or has the wrong JSON type.
    #[error("handshake field '{0}' is missing or has the wrong type")]
    BadField(&'static str),
    /// A response carried a `type`, so the peer sent a hub message instead.
    #[error("expected a handshake response from the server, got a hub message")]
    NotAHandshake,
}

/// `{"protocol":"json","version":1}`: what the client asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeRequest {
    /// Hub protocol name; the stand-in and Conduit serve only `json`.
    pub protocol: String,
    /// Protocol version; the server accepts any version up to its own.
    pub version: u32,
}

impl HandshakeRequest {
    /// The request every browser and the official client send.
    pub fn json() -> Self {
        Self {
            protocol: "json".into(),
            version: 1,
        }
    }

    /// The JSON text, without the record separator.
    pub fn to_json(&self) -> String {
        let mut m = Map::new();
        m.insert("protocol".into(), Value::from(self.protocol.clone()));
        m.insert("version".into(), Value::from(self.version));
        Value::Object(m).to_string()
    }

    /// Reads a request record (separator already removed).
    pub fn parse(record: &[u8]) -> Result<Self, HandshakeError> {
        let obj = object(record)?;
        let protocol = obj
            .get("protocol")
            .and_then(Value::as_str)
            .ok_or(HandshakeError::BadField("protocol"))?
            .to_owned();
        let version = obj
            .get("version")
            .and_then(Value::as_u64)
            .and_then(|v| u32::try_from(v).ok())
            .ok_or(HandshakeError::BadField("version"))?;
        Ok(Self { protocol, version })
    }
}

/// `{}` on success, `{"error":"..."}` on failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeResponse {
    /// Why the server refused; `None` means accepted.
    pub error: Option<String>,
}

impl HandshakeResponse {
    /// The success response.
    pub fn ok() -> Self {
        Self { error: None }
    }

    /// The refusal ASP.NET sends for a protocol it does not serve
    /// (`HubConnectionContext.HandshakeAsync`; "Requested protocol … is not
    /// available." is only the protocol spec's example and Azure SignalR's).
    pub fn unsupported_protocol(protocol: &str) -> Self {
        Self::refused(format!("The protocol '{protocol}' is not supported."))
    }

    /// The refusal ASP.NET sends when no handshake arrived within the
    /// handshake timeout, or the handshake exceeded the message size limit.
    pub fn canceled() -> Self {
        Self::refused(HANDSHAKE_CANCELED)
    }

    /// The refusal ASP.NET sends for a handshake it cannot parse (without
    /// detailed errors, the exception itself is not shown).
    pub fn unparsable() -> Self {
        Self::refused(HANDSHAKE_UNPARSABLE)
    }

    /// A refusal with `error` as its text.
    pub fn refused(error: impl Into<String>) -> Self {
        Self {
            error: Some(error.into()),
        }
    }

    /// The JSON text, without the record separator.
    pub fn to_json(&self) -> String {
        match &self.error {
            None => "{}".into(),
            Some(e) => {
                let mut m = Map::new();
                m.insert("error".into(), Value::from(e.clone()));
                Value::Object(m).to_string()
            }
        }
    }

    /// Reads a response record (separator already removed).
    pub fn parse(record: &[u8]) -> Result<Self, HandshakeError> {
        let obj = object(record)?;
        if obj.contains_key("type") {
            return Err(HandshakeError::NotAHandshake);
        }
        match obj.get("error") {
            None | Some(Value::Null) => Ok(Self::ok()),
            Some(Value::String(e)) => Ok(Self {
                error: Some(e.clone()),
            }),
            Some(_) => Err(HandshakeError::BadField("error")),
        }
    }
}

fn object(record: &[u8]) -> Result<Map<String, Value>, HandshakeError> {
    match serde_json::from_slice::<Value>(record) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(other) => Err(HandshakeError::NotAnObject(format!("got {other}"))),
        Err(e) => Err(HandshakeError::NotAnObject(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The request's bytes equal the ones the official client sends (docs/WIRE.md §3).
    #[test]
    fn request_bytes_match_the_official_client() {
        assert_eq!(
            HandshakeRequest::json().to_json(),
            r#"{"protocol":"json","version":1}"#
        );
    }

    /// A request round-trips and ignores extra fields.
    #[test]
    fn request_parses_with_extra_fields() {
        let r = HandshakeRequest::parse(br#"{"version":2,"protocol":"json","x":1}"#).unwrap();
        assert_eq!(r.protocol, "json");
        assert_eq!(r.version, 2);
    }

    /// Success is exactly `{}`; an error response keeps its text.
    #[test]
    fn responses_round_trip() {
        assert_eq!(HandshakeResponse::ok().to_json(), "{}");
        let e = HandshakeResponse::unsupported_protocol("messagepack");
        assert_eq!(
            e.to_json(),
            r#"{"error":"The protocol 'messagepack' is not supported."}"#
        );
        assert_eq!(HandshakeResponse::parse(e.to_json().as_bytes()).unwrap(), e);
    }

    /// A hub message where a handshake response belongs is refused.
    #[test]
    fn response_with_type_is_refused() {
        assert_eq!(
            HandshakeResponse::parse(br#"{"type":6}"#),
            Err(HandshakeError::NotAHandshake)
        );
    }
}
