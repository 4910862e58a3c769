//! The splitter never panics, and what it yields never exceeds its limit.
#![no_main]
use libfuzzer_sys::fuzz_target;
use protocol::RecordSplitter;

fuzz_target!(|data: &[u8]| {
    let mut s = RecordSplitter::new(1024);
    // Feed in uneven chunks, as sockets do.
    for chunk in data.chunks(7) {
        if let Ok(records) = s.push(chunk) {
            assert!(records.iter().all(|r| r.len() <= 1024));
        }
    }
});
