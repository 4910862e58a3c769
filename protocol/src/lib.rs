//! The wire formats signalscope speaks, as pure functions: no sockets, no
//! clocks, no runtime. The same code runs in the browser (wasm32), in the
//! stand-in instance and in the companion server.
//!
//! A tour, in the order bytes meet them:
//!
//! * [`framing`] splits a byte stream into `0x1E`-terminated JSON records,
//!   chunk by chunk, with a size limit.
//! * [`handshake`] is the first record each way: which protocol, and whether
//!   the server accepted it.
//! * [`message`] is every hub message (types 1–9) in the JSON hub protocol,
//!   decoded leniently and encoded in the field order ASP.NET Core writes.
//! * [`msgpack`] is the same messages in the MessagePack hub protocol,
//!   behind VarInt length prefixes, and [`hub_protocol`] names the two
//!   protocols and picks a framing, an encoder and a parser for each.
//! * [`negotiate`] builds the negotiate URL, reads (and, for the stand-in,
//!   writes) its response, and builds the WebSocket URL; [`credential`]
//!   places a hub's key on them as the official client places a token.
//! * [`connection`] is the client's connection policy: states and their
//!   legal transitions, reconnect delays, keep-alive and server timeout,
//!   all as functions of timestamps the caller passes in.
//! * [`backplane`] is `Microsoft.AspNetCore.SignalR.StackExchangeRedis`:
//!   channel names (and classifying a channel back into its parts) and the
//!   MessagePack payloads published on them.
//! * [`broadcast`] is the test broadcast every part agrees on, [`hubs`]
//!   the hubs Conduit serves, and [`api`] the companion's HTTP/SSE API as
//!   types shared with the page, which reads them with [`from_json`] and
//!   writes them with [`to_json`] (by hand, as `Value`s) rather than
//!   through serde's derives.
//! * [`monitor`] parses Redis `MONITOR` lines and turns a backplane
//!   `PUBLISH` into a readable summary.
//!
//! Every parser returns an error for bad input and never panics; the
//! property tests and the fuzz targets in `fuzz/` hold it to that.
#![warn(missing_docs)]

pub mod api;
pub mod backplane;
pub mod broadcast;
pub mod connection;
pub mod credential;
pub mod framing;
pub mod from_json;
pub mod handshake;
pub mod hub_protocol;
pub mod hubs;
pub mod message;
pub mod monitor;
pub mod msgpack;
pub mod negotiate;
pub mod to_json;

pub use framing::{RecordSplitter, RECORD_SEPARATOR};
pub use hub_protocol::HubProtocol;
pub use message::HubMessage;
