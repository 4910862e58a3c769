//! Parsing never panics; what parses re-encodes to something that parses
//! to the same message.
#![no_main]
use libfuzzer_sys::fuzz_target;
use protocol::handshake::{HandshakeRequest, HandshakeResponse};
use protocol::HubMessage;

fuzz_target!(|data: &[u8]| {
    let _ = HandshakeRequest::parse(data);
    let _ = HandshakeResponse::parse(data);
    let _ = protocol::msgpack::parse(data);
    if let Ok(m) = HubMessage::parse(data) {
        let again = HubMessage::parse(m.to_json().as_bytes()).expect("re-encoded message parses");
        assert_eq!(again, m);
    }
});
