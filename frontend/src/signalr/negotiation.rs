//! Negotiate the way `@microsoft/signalr` does, as plain Rust: the request
//! (URL and headers), following redirects with their access token, the
//! WebSocket URL it leads to, and the official client's error texts. The
//! browser part in `session` only sends what this builds and hands back the
//! answers.

pub use protocol::credential::Credential;
use protocol::credential::Presented;
use protocol::negotiate::{negotiate_url, websocket_url, NegotiateResponse};

/// What a panel says when the hub answers 401.
pub const KEY_REFUSED: &str = "401 Unauthorized: key refused";

/// `HttpConnection.ts` gives up after this many negotiate redirects.
const MAX_REDIRECTS: usize = 100;

/// The `X-SignalR-User-Agent` value, shaped as `Utils.constructUserAgent`
/// shapes it in a browser (no OS, no runtime version), with our name.
pub const USER_AGENT: &str = concat!(
    "signalscope/",
    env!("CARGO_PKG_VERSION_MAJOR"),
    ".",
    env!("CARGO_PKG_VERSION_MINOR"),
    " (",
    env!("CARGO_PKG_VERSION"),
    "; Unknown OS; Browser; Unknown Runtime Version)"
);

/// One negotiate POST, ready to send with `credentials: include`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiateRequest {
    /// Where to POST.
    pub url: String,
    /// Header names and values: the official client's set, plus a key's
    /// header when the hub takes it so.
    pub headers: Vec<(String, String)>,
}

/// Where negotiate led: the WebSocket to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// The WebSocket URL with `id=` and, after a redirect, `access_token=`.
    pub ws_url: String,
    /// The server's public id for the connection.
    pub connection_id: String,
}

/// What to do with a negotiate answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Redirected: send [`Negotiation::request`] again.
    Again,
    /// Negotiated: open this WebSocket.
    Connect(Destination),
    /// Negotiate failed, with the text the dashboard shows.
    Fail(String),
}

/// One negotiate exchange, across its redirects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiation {
    /// The key as sent; a redirect replaces its hub URL (`url`) and, when
    /// it gives one, its access token (a bearer token for the next
    /// negotiate and `access_token=` on the WebSocket: browsers cannot set
    /// headers on a WebSocket).
    presented: Presented,
    /// Redirects followed so far, against [`MAX_REDIRECTS`].
    redirects: usize,
}

impl Negotiation {
    /// Starts at the hub URL the user gave, presenting `credential` as the
    /// hub takes it ([`Credential::present`]).
    pub fn new(hub_url: &str, credential: Option<&Credential>) -> Self {
        Self {
            presented: Credential::present(credential, hub_url),
            redirects: 0,
        }
    }

    /// The next POST: `X-Requested-With` as `FetchHttpClient` adds it,
    /// `X-SignalR-User-Agent` as `getUserAgentHeader` does in a browser, and
    /// `Authorization` once a redirect gave a token.
    pub fn request(&self) -> NegotiateRequest {
        let mut headers = vec![
            ("X-Requested-With".to_owned(), "XMLHttpRequest".to_owned()),
            ("X-SignalR-User-Agent".to_owned(), USER_AGENT.to_owned()),
        ];
        headers.extend(self.presented.negotiate_headers());
        NegotiateRequest {
            url: negotiate_url(&self.presented.hub_url),
            headers,
        }
    }

    /// The error when the browser could not send the POST at all (CORS or
    /// an unreachable host), or `None` to fall back to skipNegotiation:
    /// only the hub URL the user gave is tried without negotiate, never a
    /// redirect's.
    pub fn unsent(&self) -> Option<String> {
        (self.redirects > 0).then(|| failed("TypeError: Failed to fetch"))
    }

    /// Reads a `200` answer's body.
    pub fn answer(&mut self, body: &[u8]) -> Step {
        let response = match NegotiateResponse::parse(body) {
            Ok(response) => response,
            Err(e) => return Step::Fail(failed(&e.to_string())),
        };
        match response {
            NegotiateResponse::Redirect { url, access_token } => {
                self.redirects += 1;
                if self.redirects == MAX_REDIRECTS {
                    return Step::Fail("Negotiate redirection limit exceeded.".into());
                }
                self.presented.hub_url = url;
                if access_token.is_some() {
                    self.presented.access_token = access_token;
                }
                Step::Again
            }
            NegotiateResponse::Error(e) => Step::Fail(e),
            NegotiateResponse::Connected(n) if n.use_stateful_reconnect => Step::Fail(failed(
                "Client didn't negotiate Stateful Reconnect but the server did.",
            )),
            NegotiateResponse::Connected(n) if !n.offers_websockets() => {
                Step::Fail("negotiate does not offer WebSockets".into())
            }
            NegotiateResponse::Connected(n) => {
                match websocket_url(&self.presented.hub_url, Some(&n.connection_token)) {
                    Ok(ws_url) => Step::Connect(Destination {
                        ws_url: self.presented.websocket_url(&ws_url),
                        connection_id: n.connection_id,
                    }),
                    Err(e) => Step::Fail(e.to_string()),
                }
            }
        }
    }
}

/// The text for a negotiate answered with anything but `200`, as
/// `FetchHttpClient` (`HttpError`) and `_getNegotiationResponse` word it.
pub fn status_failure(status: u16, status_text: &str, body: &str) -> String {
    // Said first and plainly: a refused key is no unreachable instance.
    if status == 401 {
        return format!(
            "{KEY_REFUSED}; {}",
            failed("Error: Unauthorized: Status code '401'")
        );
    }
    if (200..300).contains(&status) {
        return failed(&format!(
            "Error: Unexpected status code returned from negotiate '{status}'"
        ));
    }
    let message = if body.is_empty() { status_text } else { body };
    let mut text = failed(&format!("Error: {message}: Status code '{status}'"));
    if status == 404 {
        text.push_str(
            " Either this is not a SignalR endpoint or there is a proxy blocking the connection.",
        );
    }
    text
}

/// Whether a failed attempt was the hub refusing the key ([`status_failure`]
/// words a 401 so): not transient, so not retried.
pub fn is_key_refusal(reason: &str) -> bool {
    reason.starts_with(KEY_REFUSED)
}

fn failed(error: &str) -> String {
    format!("Failed to complete negotiation with the server: {error}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::api::KeyPlacement;

    const CONNECTED: &[u8] = br#"{"negotiateVersion":1,"connectionId":"pub","connectionToken":"tok","availableTransports":[{"transport":"WebSockets","transferFormats":["Text","Binary"]}]}"#;

    fn header<'a>(request: &'a NegotiateRequest, name: &str) -> Option<&'a str> {
        request
            .headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first negotiate carries the official client's two headers and no
    /// `Authorization` (FetchHttpClient.send adds `X-Requested-With`;
    /// HttpConnection._getNegotiationResponse adds `getUserAgentHeader()`).
    #[test]
    fn first_request_has_the_official_headers() {
        let request = Negotiation::new("http://h:5000/hubs/x", None).request();
        assert_eq!(
            request.url,
            "http://h:5000/hubs/x/negotiate?negotiateVersion=1"
        );
        assert_eq!(header(&request, "X-Requested-With"), Some("XMLHttpRequest"));
        assert_eq!(header(&request, "X-SignalR-User-Agent"), Some(USER_AGENT));
        assert_eq!(header(&request, "Authorization"), None);
    }

    /// The user agent has the form Utils.constructUserAgent gives in a
    /// browser: `Name/major.minor (full; Unknown OS; Browser; Unknown Runtime Version)`.
    #[test]
    fn user_agent_has_the_official_shape() {
        let version = env!("CARGO_PKG_VERSION");
        let short: Vec<&str> = version.split('.').take(2).collect();
        assert_eq!(
            USER_AGENT,
            format!(
                "signalscope/{} ({version}; Unknown OS; Browser; Unknown Runtime Version)",
                short.join(".")
            )
        );
    }

    /// A redirect moves negotiate to its `url` and sends its `accessToken`
    /// as a bearer token, then puts it on the WebSocket as `access_token`
    /// (HttpConnection._startInternal; WebSocketTransport.connect).
    #[test]
    fn redirect_is_followed_with_its_token() {
        let mut n = Negotiation::new("http://h/hub", None);
        let redirect = br#"{"url":"https://azure.example/client/?hub=x","accessToken":"a b+c"}"#;
        assert_eq!(n.answer(redirect), Step::Again);
        let request = n.request();
        assert_eq!(
            request.url,
            "https://azure.example/client/negotiate?hub=x&negotiateVersion=1"
        );
        assert_eq!(header(&request, "Authorization"), Some("Bearer a b+c"));
        assert_eq!(
            n.answer(CONNECTED),
            Step::Connect(Destination {
                ws_url: "wss://azure.example/client/?hub=x&id=tok&access_token=a%20b%2Bc".into(),
                connection_id: "pub".into(),
            })
        );
    }

    /// Without a redirect there is no token on the WebSocket URL.
    #[test]
    fn plain_negotiate_has_no_token() {
        let mut n = Negotiation::new("http://h/hub", None);
        assert_eq!(
            n.answer(CONNECTED),
            Step::Connect(Destination {
                ws_url: "ws://h/hub?id=tok".into(),
                connection_id: "pub".into(),
            })
        );
    }

    /// 99 redirects are followed; the 100th fails with the official text
    /// (HttpConnection._startInternal, MAX_REDIRECTS = 100).
    #[test]
    fn redirects_stop_at_one_hundred() {
        let redirect = br#"{"url":"http://other/hub"}"#;
        let mut n = Negotiation::new("http://h/hub", None);
        for _ in 0..99 {
            assert_eq!(n.answer(redirect), Step::Again);
        }
        assert_eq!(
            n.answer(redirect),
            Step::Fail("Negotiate redirection limit exceeded.".into())
        );
    }

    /// A POST the browser could not send falls back to skipNegotiation
    /// only before any redirect; after one it fails with the text the
    /// official client gives a failed fetch (_getNegotiationResponse).
    #[test]
    fn unsent_falls_back_only_before_a_redirect() {
        let mut n = Negotiation::new("http://h/hub", None);
        assert_eq!(n.unsent(), None);
        n.answer(br#"{"url":"http://other/hub"}"#);
        assert_eq!(
            n.unsent().as_deref(),
            Some("Failed to complete negotiation with the server: TypeError: Failed to fetch")
        );
    }

    /// The server's `error` is shown as is (`throw new Error(negotiateResponse.error)`).
    #[test]
    fn negotiate_error_is_shown_as_is() {
        assert_eq!(
            Negotiation::new("http://h/hub", None).answer(br#"{"error":"Not allowed"}"#),
            Step::Fail("Not allowed".into())
        );
    }

    /// Stateful reconnect offered unasked is refused, as
    /// HttpConnection._getNegotiationResponse does.
    #[test]
    fn unasked_stateful_reconnect_is_refused() {
        let body = br#"{"useStatefulReconnect":true,"negotiateVersion":1,"connectionId":"a","connectionToken":"b","availableTransports":[{"transport":"WebSockets","transferFormats":["Text"]}]}"#;
        assert_eq!(
            Negotiation::new("http://h/hub", None).answer(body),
            Step::Fail("Failed to complete negotiation with the server: Client didn't negotiate Stateful Reconnect but the server did.".into())
        );
    }

    /// HTTP failures read as FetchHttpClient's HttpError wrapped by
    /// _getNegotiationResponse, with the 404 hint.
    #[test]
    fn http_failures_use_the_official_texts() {
        assert_eq!(
            status_failure(404, "Not Found", ""),
            "Failed to complete negotiation with the server: Error: Not Found: Status code '404' Either this is not a SignalR endpoint or there is a proxy blocking the connection."
        );
        assert_eq!(
            status_failure(500, "Internal Server Error", "boom"),
            "Failed to complete negotiation with the server: Error: boom: Status code '500'"
        );
        assert_eq!(
            status_failure(204, "No Content", ""),
            "Failed to complete negotiation with the server: Error: Unexpected status code returned from negotiate '204'"
        );
    }

    /// A bearer key goes as `Authorization: Bearer` on negotiate and
    /// `access_token=` on the WebSocket, as the official client sends an
    /// access token.
    #[test]
    fn bearer_key_as_the_official_client() {
        let key = Credential {
            key: "k 1".into(),
            placement: KeyPlacement::Bearer,
        };
        let mut n = Negotiation::new("http://h/hub", Some(&key));
        assert_eq!(header(&n.request(), "Authorization"), Some("Bearer k 1"));
        match n.answer(CONNECTED) {
            Step::Connect(d) => assert_eq!(d.ws_url, "ws://h/hub?id=tok&access_token=k%201"),
            other => panic!("{other:?}"),
        }
    }

    /// A header key goes on negotiate; a query key on negotiate and the WebSocket.
    #[test]
    fn header_and_query_keys() {
        let header_key = Credential {
            key: "k".into(),
            placement: KeyPlacement::Header("X-API-Key".into()),
        };
        let request = Negotiation::new("http://h/hub", Some(&header_key)).request();
        assert_eq!(header(&request, "X-API-Key"), Some("k"));
        assert_eq!(header(&request, "Authorization"), None);
        let query_key = Credential {
            key: "a&b".into(),
            placement: KeyPlacement::Query("api_key".into()),
        };
        let mut n = Negotiation::new("http://h/hub", Some(&query_key));
        assert_eq!(
            n.request().url,
            "http://h/hub/negotiate?api_key=a%26b&negotiateVersion=1"
        );
        match n.answer(CONNECTED) {
            Step::Connect(d) => assert_eq!(d.ws_url, "ws://h/hub?api_key=a%26b&id=tok"),
            other => panic!("{other:?}"),
        }
    }

    /// A 401 says plainly that the key was refused.
    #[test]
    fn unauthorized_says_key_refused() {
        assert!(status_failure(401, "Unauthorized", "").starts_with(KEY_REFUSED));
    }

    /// Only a 401 is a refused key; other failures stay retryable.
    #[test]
    fn only_a_401_is_a_key_refusal() {
        assert!(is_key_refusal(&status_failure(401, "Unauthorized", "")));
        assert!(!is_key_refusal(&status_failure(403, "Forbidden", "")));
        assert!(!is_key_refusal(&status_failure(503, "", "")));
        assert!(!is_key_refusal(&failed("TypeError: Failed to fetch")));
    }
}
