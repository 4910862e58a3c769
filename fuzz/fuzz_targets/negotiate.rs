//! Negotiate responses never panic the reader.
#![no_main]
use libfuzzer_sys::fuzz_target;
use protocol::negotiate::{negotiate_url, websocket_url, NegotiateResponse};

fuzz_target!(|data: &[u8]| {
    let _ = NegotiateResponse::parse(data);
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = negotiate_url(s);
        let _ = websocket_url(s, Some("t"));
    }
});
