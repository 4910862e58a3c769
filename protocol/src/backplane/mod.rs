//! The ASP.NET Core Redis backplane (`Microsoft.AspNetCore.SignalR.StackExchangeRedis`, docs/WIRE.md §7).
//!
//! * [`channel`]: channel names from (prefix, hub) and back.
//! * [`codec`]: the MessagePack payloads published on them.
//! * [`summary`]: a readable, serialisable account of one publish, for the
//!   live feed.

pub mod channel;
pub mod codec;
pub mod summary;

pub use channel::{ChannelKind, Channels};
pub use codec::{
    Ack, BackplaneError, Completion, GroupAction, GroupCommand, Invocation, ReturnAddress,
};
pub use summary::{Payload, Summary};

/// Conduit's `ChannelPrefix`, trailing colon included.
pub const CONDUIT_PREFIX: &str = "conduit_signalr:";
/// `typeof(NavigationStateHub).FullName`.
pub const CONDUIT_HUB: &str = "ConduitLLM.Http.Hubs.NavigationStateHub";
/// The group every NavigationStateHub connection joins on connect.
pub const NAVIGATION_GROUP: &str = "navigation-updates";
