//! The splitters never panic, and what they yield never exceeds the limit.
#![no_main]
use libfuzzer_sys::fuzz_target;
use protocol::msgpack::LengthPrefixSplitter;
use protocol::RecordSplitter;

fuzz_target!(|data: &[u8]| {
    let mut s = RecordSplitter::new(1024);
    // Feed in uneven chunks, as sockets do.
    for chunk in data.chunks(7) {
        if let Ok(records) = s.push(chunk) {
            assert!(records.iter().all(|r| r.len() <= 1024));
        }
    }
    let mut s = LengthPrefixSplitter::new(1024);
    for chunk in data.chunks(7) {
        if let Ok(payloads) = s.push(chunk) {
            assert!(payloads.iter().all(|p| p.len() < 1024));
        }
    }
});
