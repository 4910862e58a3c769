//! Backplane decoders never panic; decoded values re-encode to bytes that
//! decode to the same value.
#![no_main]
use libfuzzer_sys::fuzz_target;
use protocol::backplane::{Ack, Completion, GroupCommand, Invocation, Summary};

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = Invocation::decode(data) {
        assert_eq!(Invocation::decode(&v.encode()).unwrap(), v);
    }
    if let Ok(v) = GroupCommand::decode(data) {
        assert_eq!(GroupCommand::decode(&v.encode()).unwrap(), v);
    }
    if let Ok(v) = Ack::decode(data) {
        assert_eq!(Ack::decode(&v.encode()).unwrap(), v);
    }
    if let Ok(v) = Completion::decode(data) {
        assert_eq!(Completion::decode(&v.encode()).unwrap(), v);
    }
    let _ = Summary::of("p:", "p:H:internal:groups", Some(data));
});
