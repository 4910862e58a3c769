//! MONITOR lines never panic the parser; parsed arguments quote back to a
//! line that parses to the same arguments.
#![no_main]
use libfuzzer_sys::fuzz_target;
use protocol::monitor::{quote, MonitorLine};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(line) = MonitorLine::parse(text) {
        let _ = line.backplane("conduit_signalr:");
        let requoted: Vec<String> = line.args.iter().map(|a| quote(a)).collect();
        let again = format!("1.000000 [0 lua] {}", requoted.join(" "));
        assert_eq!(MonitorLine::parse(&again).unwrap().args, line.args);
    }
});
