//! A hub's key on the wire, placed as `@microsoft/signalr` places an
//! access token: the page and the Rust clients (`load`, `check`, the
//! canary) build their negotiate requests and WebSocket URLs from here, so
//! a key goes out the same way from both.

use std::fmt;

use crate::api::KeyPlacement;

/// A hub's key and how the hub takes it.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    /// The key (a virtual or master key, an access token).
    pub key: String,
    /// Where it goes.
    pub placement: KeyPlacement,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A key is a secret: debug prints and logs show only its placement.
        f.debug_struct("Credential")
            .field("placement", &self.placement)
            .finish_non_exhaustive()
    }
}

/// What a client sends for a key, as one connection attempt needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presented {
    /// The hub URL, with the key as its query parameter when the hub takes
    /// it so (negotiate and the WebSocket both keep the query).
    pub hub_url: String,
    /// A bearer token: `Authorization: Bearer` on negotiate and
    /// `access_token=` on the WebSocket URL. A bearer key is one from the
    /// start, as the official client's `accessTokenFactory` makes it; a
    /// negotiate redirect may replace it with its own.
    pub access_token: Option<String>,
    /// A key sent as a named header: on negotiate, and on the WebSocket
    /// upgrade from clients that can set its headers (browsers cannot).
    pub header: Option<(String, String)>,
}

impl Credential {
    /// What to send to `hub_url` for `credential` (nothing extra without one).
    pub fn present(credential: Option<&Self>, hub_url: &str) -> Presented {
        let mut presented = Presented {
            hub_url: hub_url.to_owned(),
            access_token: None,
            header: None,
        };
        let Some(Self { key, placement }) = credential else {
            return presented;
        };
        match placement {
            KeyPlacement::Bearer => presented.access_token = Some(key.clone()),
            KeyPlacement::Header(name) => presented.header = Some((name.clone(), key.clone())),
            KeyPlacement::Query(name) => {
                let join = if hub_url.contains('?') { '&' } else { '?' };
                presented.hub_url = format!("{hub_url}{join}{name}={}", encode_uri_component(key));
            }
        }
        presented
    }
}

impl Presented {
    /// The key's headers on negotiate: `Authorization: Bearer <token>`
    /// (`HttpConnection` after `accessTokenFactory`) and a header key.
    pub fn negotiate_headers(&self) -> Vec<(String, String)> {
        let bearer = self
            .access_token
            .as_ref()
            .map(|token| ("Authorization".to_owned(), format!("Bearer {token}")));
        bearer.into_iter().chain(self.header.clone()).collect()
    }

    /// `ws_url` with `access_token=` appended when there is a token, as
    /// `WebSocketTransport.connect` appends it.
    pub fn websocket_url(&self, ws_url: &str) -> String {
        match &self.access_token {
            Some(token) => {
                let join = if ws_url.contains('?') { '&' } else { '?' };
                format!("{ws_url}{join}access_token={}", encode_uri_component(token))
            }
            None => ws_url.to_owned(),
        }
    }
}

/// JavaScript's `encodeURIComponent`, which the official client applies
/// to the token: everything but `A–Z a–z 0–9 - _ . ! ~ * ' ( )` as UTF-8
/// `%XX`.
pub fn encode_uri_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(placement: KeyPlacement, key: &str) -> Credential {
        Credential {
            key: key.into(),
            placement,
        }
    }

    /// A bearer key is the `Authorization` header on negotiate and
    /// `access_token=` on the WebSocket URL, encoded; the hub URL stays.
    #[test]
    fn bearer_as_the_official_client() {
        let p = Credential::present(Some(&key(KeyPlacement::Bearer, "k 1")), "http://h/hub");
        assert_eq!(p.hub_url, "http://h/hub");
        assert_eq!(
            p.negotiate_headers(),
            [("Authorization".to_owned(), "Bearer k 1".to_owned())]
        );
        assert_eq!(
            p.websocket_url("ws://h/hub?id=t"),
            "ws://h/hub?id=t&access_token=k%201"
        );
        assert_eq!(
            p.websocket_url("ws://h/hub"),
            "ws://h/hub?access_token=k%201"
        );
    }

    /// A header key is a named header and nothing on any URL.
    #[test]
    fn header_key_is_only_a_header() {
        let p = Credential::present(
            Some(&key(KeyPlacement::Header("X-API-Key".into()), "k")),
            "http://h/hub",
        );
        assert_eq!(p.hub_url, "http://h/hub");
        assert_eq!(
            p.negotiate_headers(),
            [("X-API-Key".to_owned(), "k".to_owned())]
        );
        assert_eq!(p.header, Some(("X-API-Key".to_owned(), "k".to_owned())));
        assert_eq!(p.websocket_url("ws://h/hub?id=t"), "ws://h/hub?id=t");
    }

    /// A query key joins the hub URL's query, encoded, and no header.
    #[test]
    fn query_key_joins_the_hub_url() {
        let q = KeyPlacement::Query("api_key".into());
        let p = Credential::present(Some(&key(q.clone(), "a&b")), "http://h/hub");
        assert_eq!(p.hub_url, "http://h/hub?api_key=a%26b");
        assert!(p.negotiate_headers().is_empty());
        let p = Credential::present(Some(&key(q, "k")), "http://h/hub?x=1");
        assert_eq!(p.hub_url, "http://h/hub?x=1&api_key=k");
    }

    /// No key, nothing added.
    #[test]
    fn no_key_adds_nothing() {
        let p = Credential::present(None, "http://h/hub");
        assert_eq!(p.hub_url, "http://h/hub");
        assert!(p.negotiate_headers().is_empty());
        assert_eq!(p.websocket_url("ws://h/hub"), "ws://h/hub");
    }

    /// Debug prints never show the key.
    #[test]
    fn debug_hides_the_key() {
        let shown = format!("{:?}", key(KeyPlacement::Bearer, "s3cret"));
        assert!(!shown.contains("s3cret"), "{shown}");
    }

    /// encodeURIComponent's unreserved set stays; the rest is %XX of UTF-8.
    #[test]
    fn encoded_like_encode_uri_component() {
        assert_eq!(encode_uri_component("aZ9-_.!~*'()"), "aZ9-_.!~*'()");
        assert_eq!(encode_uri_component("a=b&c/é"), "a%3Db%26c%2F%C3%A9");
    }
}
