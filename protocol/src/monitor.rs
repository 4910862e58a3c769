//! Redis `MONITOR` lines (docs/WIRE.md §7.3):
//! `<secs>.<micros> [<db> <client>] "ARG" "ARG" …`, each argument quoted
//! the way Redis's `sdscatrepr` quotes it.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::backplane::Summary;

/// Why a line is not a MONITOR line.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MonitorError {
    /// The `<secs>.<micros>` timestamp is missing or malformed.
    #[error("MONITOR line has no valid timestamp")]
    Timestamp,
    /// The `[<db> <client>]` part is missing or malformed.
    #[error("MONITOR line has no valid [db client] part")]
    Origin,
    /// An argument is not a properly quoted string.
    #[error("MONITOR argument {index} is badly quoted: {reason}")]
    Argument {
        /// Zero-based argument position.
        index: usize,
        /// What was wrong.
        reason: &'static str,
    },
    /// No arguments at all.
    #[error("MONITOR line has no command")]
    NoCommand,
}

/// Who sent the command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "addr", rename_all = "camelCase")]
pub enum MonitorClient {
    /// A TCP client, `ip:port` (IPv6 addresses keep their colons).
    Tcp(String),
    /// A unix-socket client, the socket path.
    Unix(String),
    /// A Lua script.
    Lua,
}

impl MonitorClient {
    fn parse(s: &str) -> Option<Self> {
        if s == "lua" {
            Some(Self::Lua)
        } else if let Some(path) = s.strip_prefix("unix:") {
            Some(Self::Unix(path.into()))
        } else if s.rsplit_once(':').is_some_and(|(host, port)| {
            !host.is_empty() && !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit())
        }) {
            Some(Self::Tcp(s.into()))
        } else {
            None
        }
    }
}

/// One parsed MONITOR line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorLine {
    /// Unix time of the command, in microseconds.
    pub micros: u64,
    /// The sender's selected database (meaningless for pub/sub).
    pub db: u32,
    /// The sender.
    pub client: MonitorClient,
    /// The command and its arguments, unquoted into raw bytes.
    pub args: Vec<Vec<u8>>,
}

impl MonitorLine {
    /// Parses one line (without its newline).
    pub fn parse(line: &str) -> Result<Self, MonitorError> {
        let line = line.trim_end_matches(['\r', '\n']);
        let (stamp, rest) = line.split_once(' ').ok_or(MonitorError::Timestamp)?;
        let micros = parse_timestamp(stamp).ok_or(MonitorError::Timestamp)?;
        let rest = rest.strip_prefix('[').ok_or(MonitorError::Origin)?;
        let (origin, rest) = rest.split_once("] ").ok_or(MonitorError::Origin)?;
        let (db, client) = origin.split_once(' ').ok_or(MonitorError::Origin)?;
        let db = db.parse().map_err(|_| MonitorError::Origin)?;
        let client = MonitorClient::parse(client).ok_or(MonitorError::Origin)?;
        let args = parse_args(rest)?;
        if args.is_empty() {
            return Err(MonitorError::NoCommand);
        }
        Ok(Self {
            micros,
            db,
            client,
            args,
        })
    }

    /// The command name in upper case (`PUBLISH`, `SUBSCRIBE`, …).
    pub fn command(&self) -> String {
        String::from_utf8_lossy(&self.args[0]).to_ascii_uppercase()
    }

    /// The channel of a PUBLISH / SPUBLISH, or the first channel of a
    /// (P)SUBSCRIBE / (P)UNSUBSCRIBE.
    pub fn channel(&self) -> Option<String> {
        match self.command().as_str() {
            "PUBLISH" | "SPUBLISH" | "SUBSCRIBE" | "UNSUBSCRIBE" | "PSUBSCRIBE"
            | "PUNSUBSCRIBE" | "SSUBSCRIBE" | "SUNSUBSCRIBE" => self
                .args
                .get(1)
                .map(|c| String::from_utf8_lossy(c).into_owned()),
            _ => None,
        }
    }

    /// The published body, for a PUBLISH.
    pub fn published(&self) -> Option<&[u8]> {
        match self.command().as_str() {
            "PUBLISH" | "SPUBLISH" => self.args.get(2).map(Vec::as_slice),
            _ => None,
        }
    }

    /// The backplane summary if this line touches a channel behind `prefix`.
    pub fn backplane(&self, prefix: &str) -> Option<Summary> {
        Summary::of(prefix, &self.channel()?, self.published())
    }
}

fn parse_timestamp(s: &str) -> Option<u64> {
    let (secs, frac) = s.split_once('.')?;
    if secs.is_empty()
        || frac.len() != 6
        || !(secs.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let secs: u64 = secs.parse().ok()?;
    let frac: u64 = frac.parse().ok()?;
    secs.checked_mul(1_000_000)?.checked_add(frac)
}

fn parse_args(s: &str) -> Result<Vec<Vec<u8>>, MonitorError> {
    let bytes = s.as_bytes();
    let mut args = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let index = args.len();
        let bad = |reason| MonitorError::Argument { index, reason };
        if bytes[i] != b'"' {
            return Err(bad("does not start with a quote"));
        }
        i += 1;
        let mut arg = Vec::new();
        loop {
            let Some(&b) = bytes.get(i) else {
                return Err(bad("no closing quote"));
            };
            i += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    let Some(&e) = bytes.get(i) else {
                        return Err(bad("escape at end of line"));
                    };
                    i += 1;
                    arg.push(match e {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'a' => 0x07,
                        b'b' => 0x08,
                        b'"' => b'"',
                        b'\\' => b'\\',
                        b'x' => {
                            let hex = bytes.get(i..i + 2).ok_or(bad("short \\x escape"))?;
                            i += 2;
                            let hex =
                                std::str::from_utf8(hex).map_err(|_| bad("bad \\x escape"))?;
                            u8::from_str_radix(hex, 16).map_err(|_| bad("bad \\x escape"))?
                        }
                        _ => return Err(bad("unknown escape")),
                    });
                }
                other => arg.push(other),
            }
        }
        args.push(arg);
        match bytes.get(i) {
            None => {}
            Some(b' ') if i + 1 < bytes.len() => i += 1,
            Some(_) => {
                return Err(MonitorError::Argument {
                    index,
                    reason: "no space after the closing quote",
                })
            }
        }
    }
    Ok(args)
}

/// Quotes bytes as Redis does in MONITOR, for showing a raw argument.
pub fn quote(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x07 => out.push_str("\\a"),
            0x08 => out.push_str("\\b"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backplane::{ChannelKind, Payload};

    const SEEN: &str = r#"1795756157.203954 [2 127.0.0.1:45686] "PUBLISH" "conduit_signalr:ConduitLLM.Http.Hubs.NavigationStateHub:group:navigation-updates" "\x92\x90\x81\xa4json\xc4){\"type\":1,\"target\":\"Nav\",\"arguments\":[]}\x1e""#;

    /// The line from docs/WIRE.md §7.3 parses into its parts and decodes.
    #[test]
    fn spec_line_parses_and_decodes() {
        let l = MonitorLine::parse(SEEN).unwrap();
        assert_eq!(l.micros, 1_795_756_157_203_954);
        assert_eq!(l.db, 2);
        assert_eq!(l.client, MonitorClient::Tcp("127.0.0.1:45686".into()));
        assert_eq!(l.command(), "PUBLISH");
        let s = l.backplane("conduit_signalr:").unwrap();
        assert_eq!(s.channel, ChannelKind::Group("navigation-updates".into()));
        let Some(Payload::Invocation { target, .. }) = s.payload else {
            panic!("expected an invocation")
        };
        assert_eq!(target.as_deref(), Some("Nav"));
    }

    /// Lua and unix-socket clients are recognised.
    #[test]
    fn lua_and_unix_clients() {
        let l = MonitorLine::parse(r#"1.000001 [0 lua] "GET" "k""#).unwrap();
        assert_eq!(l.client, MonitorClient::Lua);
        let l = MonitorLine::parse(r#"1.000001 [0 unix:/tmp/r.sock] "PING""#).unwrap();
        assert_eq!(l.client, MonitorClient::Unix("/tmp/r.sock".into()));
        let l = MonitorLine::parse(r#"1.000001 [0 [::1]:6000] "PING""#).unwrap();
        assert_eq!(l.client, MonitorClient::Tcp("[::1]:6000".into()));
    }

    /// Every escape Redis writes is undone, and `quote` writes them back.
    #[test]
    fn escapes_round_trip() {
        let raw: Vec<u8> = (0u8..=255).collect();
        let line = format!("1.000000 [0 127.0.0.1:1] \"SET\" {}", quote(&raw));
        let l = MonitorLine::parse(&line).unwrap();
        assert_eq!(l.args[1], raw);
    }

    /// Broken lines give errors that say where.
    #[test]
    fn broken_lines_are_errors() {
        assert_eq!(MonitorLine::parse("OK"), Err(MonitorError::Timestamp));
        assert_eq!(
            MonitorLine::parse("1.5 [0 lua] \"X\""),
            Err(MonitorError::Timestamp)
        );
        assert_eq!(
            MonitorLine::parse("1.000000 0 lua \"X\""),
            Err(MonitorError::Origin)
        );
        assert_eq!(
            MonitorLine::parse(r#"1.000000 [0 lua] "X" "unterminated"#),
            Err(MonitorError::Argument {
                index: 1,
                reason: "no closing quote"
            })
        );
        assert_eq!(
            MonitorLine::parse(r#"1.000000 [0 lua] "\xZZ""#),
            Err(MonitorError::Argument {
                index: 0,
                reason: "bad \\x escape"
            })
        );
    }
}
