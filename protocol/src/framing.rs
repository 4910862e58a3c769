//! `0x1E` record framing of the JSON hub protocol (docs/WIRE.md §3).
//!
//! A WebSocket message may carry several records, and a byte stream may cut
//! a record anywhere; [`RecordSplitter`] accepts arbitrary chunks and yields
//! only complete records, keeping the partial tail for the next chunk.

use thiserror::Error;

/// The ASCII record separator that ends every JSON hub protocol message.
pub const RECORD_SEPARATOR: u8 = 0x1E;

/// ASP.NET Core's default `MaximumReceiveMessageSize`, which Conduit keeps.
pub const DEFAULT_MAX_RECORD_SIZE: usize = 32 * 1024;

/// Why a chunk could not be split.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FramingError {
    /// A record grew past the limit before its separator arrived.
    #[error("record exceeds the maximum size of {limit} bytes (at least {seen} bytes without a record separator)")]
    TooLarge {
        /// The configured limit.
        limit: usize,
        /// How many bytes of the record had been seen.
        seen: usize,
    },
    /// A MessagePack length prefix longer than five bytes or over 2 GB
    /// (`BinaryMessageParser.TryParseMessage`).
    #[error("Messages over 2GB in size are not supported.")]
    LengthPrefix,
}

/// The first record of a stream and the raw bytes that followed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirstRecord {
    /// The record, separator removed.
    pub record: Vec<u8>,
    /// What came after its separator in the same chunk, unsplit.
    pub rest: Vec<u8>,
}

/// Incremental splitter of `0x1E`-terminated records.
#[derive(Debug, Clone)]
pub struct RecordSplitter {
    /// Bytes of a record whose separator has not arrived yet.
    tail: Vec<u8>,
    /// Largest record accepted, separator excluded; bounds memory per peer.
    max_record: usize,
}

impl Default for RecordSplitter {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_RECORD_SIZE)
    }
}

impl RecordSplitter {
    /// A splitter that refuses records longer than `max_record` bytes.
    pub fn new(max_record: usize) -> Self {
        Self {
            tail: Vec::new(),
            max_record,
        }
    }

    /// A splitter for a server whose limit is ASP.NET's
    /// `MaximumReceiveMessageSize`, which counts the separator: the record
    /// plus its `0x1E` must fit (`HubConnectionHandler.DispatchMessagesAsync`
    /// parses within a window of that many bytes). A separator-less tail is
    /// refused once it reaches the limit, one byte before ASP.NET notices;
    /// such a record could never fit anyway.
    pub fn counting_separator(max_message_size: usize) -> Self {
        Self::new(max_message_size.saturating_sub(1))
    }

    /// Feeds one chunk; returns every record it completes, separators
    /// removed. After an error the splitter is reset: the oversized record
    /// is dropped, and the caller is expected to close the connection.
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<Vec<u8>>, FramingError> {
        let mut records = Vec::new();
        let mut rest = chunk;
        while let Some(at) = rest.iter().position(|&b| b == RECORD_SEPARATOR) {
            let piece = &rest[..at];
            let size = self.tail.len() + piece.len();
            if size > self.max_record {
                self.tail.clear();
                return Err(FramingError::TooLarge {
                    limit: self.max_record,
                    seen: size,
                });
            }
            let mut record = std::mem::take(&mut self.tail);
            record.extend_from_slice(piece);
            records.push(record);
            rest = &rest[at + 1..];
        }
        if self.tail.len() + rest.len() > self.max_record {
            let seen = self.tail.len() + rest.len();
            self.tail.clear();
            return Err(FramingError::TooLarge {
                limit: self.max_record,
                seen,
            });
        }
        self.tail.extend_from_slice(rest);
        Ok(records)
    }

    /// Feeds one chunk until the first complete record, and returns that
    /// record with the bytes after its separator, untouched: the handshake
    /// is `0x1E`-framed whatever protocol frames what follows it.
    pub fn push_first(&mut self, chunk: &[u8]) -> Result<Option<FirstRecord>, FramingError> {
        let Some(at) = chunk.iter().position(|&b| b == RECORD_SEPARATOR) else {
            self.push(chunk)?;
            return Ok(None);
        };
        let size = self.tail.len() + at;
        if size > self.max_record {
            self.tail.clear();
            return Err(FramingError::TooLarge {
                limit: self.max_record,
                seen: size,
            });
        }
        let mut record = std::mem::take(&mut self.tail);
        record.extend_from_slice(&chunk[..at]);
        Ok(Some(FirstRecord {
            record,
            rest: chunk[at + 1..].to_vec(),
        }))
    }

    /// Bytes held back waiting for a separator.
    pub fn pending(&self) -> usize {
        self.tail.len()
    }
}

/// Appends the record separator to one JSON text.
pub fn frame(json: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(json.len() + 1);
    out.extend_from_slice(json.as_bytes());
    out.push(RECORD_SEPARATOR);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record cut across two chunks comes out once, whole.
    #[test]
    fn record_split_across_chunks_is_kept() {
        let mut s = RecordSplitter::default();
        assert!(s.push(b"{\"type\"").unwrap().is_empty());
        assert_eq!(s.pending(), 7);
        let out = s.push(b":6}\x1e{\"ty").unwrap();
        assert_eq!(out, vec![b"{\"type\":6}".to_vec()]);
        assert_eq!(s.pending(), 4);
    }

    /// Several records in one chunk all come out, in order.
    #[test]
    fn many_records_in_one_chunk() {
        let mut s = RecordSplitter::default();
        let out = s.push(b"{}\x1e{\"type\":6}\x1e").unwrap();
        assert_eq!(out, vec![b"{}".to_vec(), b"{\"type\":6}".to_vec()]);
        assert_eq!(s.pending(), 0);
    }

    /// A tail longer than the limit is refused even before its separator.
    #[test]
    fn oversized_tail_is_refused() {
        let mut s = RecordSplitter::new(4);
        assert_eq!(
            s.push(b"12345"),
            Err(FramingError::TooLarge { limit: 4, seen: 5 })
        );
        assert_eq!(s.pending(), 0);
    }

    /// Under ASP.NET's rule a record plus its separator must fit the limit.
    #[test]
    fn counting_separator_refuses_a_record_of_the_limit() {
        let mut s = RecordSplitter::counting_separator(4);
        assert_eq!(s.push(b"123\x1e").unwrap(), vec![b"123".to_vec()]);
        assert!(s.push(b"1234\x1e").is_err());
    }

    /// The first record comes out with the raw bytes after it, which may
    /// be another protocol's.
    #[test]
    fn push_first_keeps_what_follows() {
        let mut s = RecordSplitter::default();
        assert_eq!(s.push_first(b"{\"pro").unwrap(), None);
        let first = s.push_first(b"tocol\"}\x1e\x02\x91\x06").unwrap().unwrap();
        assert_eq!(first.record, b"{\"protocol\"}");
        assert_eq!(first.rest, [0x02, 0x91, 0x06]);
    }

    /// A record of exactly the limit passes.
    #[test]
    fn record_at_the_limit_passes() {
        let mut s = RecordSplitter::new(4);
        assert_eq!(s.push(b"1234\x1e").unwrap(), vec![b"1234".to_vec()]);
    }
}
