//! Channel names (docs/WIRE.md §7.1): `<ChannelPrefix><HubFullName><suffix>`, the
//! prefix concatenated with no separator, as StackExchange.Redis does.

use serde::{Deserialize, Serialize};

/// What a backplane channel carries, with its variable part.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "name", rename_all = "camelCase")]
pub enum ChannelKind {
    /// `:all`: every connection of the hub.
    All,
    /// `:group:<name>`.
    Group(String),
    /// `:connection:<connectionId>`.
    Connection(String),
    /// `:user:<userId>`.
    User(String),
    /// `:internal:groups`: group add/remove commands.
    InternalGroups,
    /// `:internal:ack:<serverName>`: acks to that server's group commands.
    Ack(String),
    /// `:internal:return:<serverName>`: client results for that server.
    Return(String),
}

impl ChannelKind {
    /// The suffix after the hub name.
    pub fn suffix(&self) -> String {
        match self {
            Self::All => ":all".into(),
            Self::Group(g) => format!(":group:{g}"),
            Self::Connection(c) => format!(":connection:{c}"),
            Self::User(u) => format!(":user:{u}"),
            Self::InternalGroups => ":internal:groups".into(),
            Self::Ack(s) => format!(":internal:ack:{s}"),
            Self::Return(s) => format!(":internal:return:{s}"),
        }
    }

    /// A short word for the kind, for display and filtering.
    pub fn label(&self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Group(_) => "group",
            Self::Connection(_) => "connection",
            Self::User(_) => "user",
            Self::InternalGroups => "groups",
            Self::Ack(_) => "ack",
            Self::Return(_) => "return",
        }
    }

    /// Reads a suffix (without its leading colon).
    fn parse(rest: &str) -> Option<Self> {
        if rest == "all" {
            return Some(Self::All);
        }
        if rest == "internal:groups" {
            return Some(Self::InternalGroups);
        }
        type Make = fn(String) -> ChannelKind;
        let pairs: [(&str, Make); 5] = [
            ("group:", Self::Group),
            ("connection:", Self::Connection),
            ("user:", Self::User),
            ("internal:ack:", Self::Ack),
            ("internal:return:", Self::Return),
        ];
        pairs
            .iter()
            .find_map(|(p, make)| rest.strip_prefix(p).map(|v| make(v.to_owned())))
    }
}

/// Channel naming for one hub behind one prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channels {
    /// StackExchange.Redis `ChannelPrefix`, possibly empty.
    pub prefix: String,
    /// `typeof(THub).FullName`.
    pub hub: String,
}

impl Channels {
    /// Naming for `hub` behind `prefix`.
    pub fn new(prefix: impl Into<String>, hub: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
            hub: hub.into(),
        }
    }

    /// Conduit's naming: `conduit_signalr:` and NavigationStateHub.
    pub fn conduit() -> Self {
        Self::new(super::CONDUIT_PREFIX, super::CONDUIT_HUB)
    }

    /// The full channel name for `kind`, prefix included.
    pub fn name(&self, kind: &ChannelKind) -> String {
        format!("{}{}{}", self.prefix, self.hub, kind.suffix())
    }

    /// The channel name without the prefix, as SignalR itself builds it;
    /// the 4-element invocation carries its return channel in this form.
    pub fn unprefixed(&self, kind: &ChannelKind) -> String {
        format!("{}{}", self.hub, kind.suffix())
    }

    /// `:all`.
    pub fn all(&self) -> String {
        self.name(&ChannelKind::All)
    }

    /// `:group:<group>`.
    pub fn group(&self, group: &str) -> String {
        self.name(&ChannelKind::Group(group.into()))
    }

    /// `:connection:<id>`.
    pub fn connection(&self, connection_id: &str) -> String {
        self.name(&ChannelKind::Connection(connection_id.into()))
    }

    /// `:internal:groups`.
    pub fn internal_groups(&self) -> String {
        self.name(&ChannelKind::InternalGroups)
    }

    /// `:internal:ack:<server>`.
    pub fn ack(&self, server: &str) -> String {
        self.name(&ChannelKind::Ack(server.into()))
    }

    /// `:internal:return:<server>`.
    pub fn return_channel(&self, server: &str) -> String {
        self.name(&ChannelKind::Return(server.into()))
    }

    /// The glob that matches every channel of every hub behind the prefix.
    pub fn pattern(&self) -> String {
        format!("{}*", self.prefix)
    }

    /// This hub's kind of `channel`, or `None` if it is not one of its.
    pub fn classify(&self, channel: &str) -> Option<ChannelKind> {
        let rest = channel
            .strip_prefix(&self.prefix)?
            .strip_prefix(&self.hub)?;
        ChannelKind::parse(rest.strip_prefix(':')?)
    }
}

/// Splits any backplane channel behind `prefix` into (hub, kind), whatever
/// the hub. Hub type names contain no `:`, so the first one ends it.
pub fn classify_any(prefix: &str, channel: &str) -> Option<(String, ChannelKind)> {
    let rest = channel.strip_prefix(prefix)?;
    let (hub, suffix) = rest.split_once(':')?;
    if hub.is_empty() {
        return None;
    }
    Some((hub.to_owned(), ChannelKind::parse(suffix)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Conduit's channels read as in docs/CONDUIT.md §3.
    #[test]
    fn conduit_names() {
        let c = Channels::conduit();
        assert_eq!(
            c.all(),
            "conduit_signalr:ConduitLLM.Http.Hubs.NavigationStateHub:all"
        );
        assert_eq!(
            c.group("navigation-updates"),
            "conduit_signalr:ConduitLLM.Http.Hubs.NavigationStateHub:group:navigation-updates"
        );
        assert_eq!(
            c.unprefixed(&ChannelKind::Return("s".into())),
            "ConduitLLM.Http.Hubs.NavigationStateHub:internal:return:s"
        );
    }

    /// The prefix is concatenated with no separator of its own.
    #[test]
    fn prefix_has_no_implied_separator() {
        assert_eq!(Channels::new("X", "App.Hub").all(), "XApp.Hub:all");
    }

    /// Every kind classifies back to itself, colons in names included.
    #[test]
    fn every_kind_round_trips() {
        let c = Channels::conduit();
        for kind in [
            ChannelKind::All,
            ChannelKind::Group("model-a:b".into()),
            ChannelKind::Connection("abc".into()),
            ChannelKind::User("u".into()),
            ChannelKind::InternalGroups,
            ChannelKind::Ack("host_0123".into()),
            ChannelKind::Return("host_0123".into()),
        ] {
            assert_eq!(c.classify(&c.name(&kind)), Some(kind.clone()));
            assert_eq!(
                classify_any("conduit_signalr:", &c.name(&kind)),
                Some((c.hub.clone(), kind))
            );
        }
    }

    /// Other hubs, other prefixes and SE.Redis's own channel are not ours.
    #[test]
    fn foreign_channels_are_not_classified() {
        let c = Channels::conduit();
        assert_eq!(c.classify("conduit_signalr:Other.Hub:all"), None);
        assert_eq!(
            c.classify("other:ConduitLLM.Http.Hubs.NavigationStateHub:all"),
            None
        );
        assert_eq!(
            classify_any(
                "conduit_signalr:",
                "conduit_signalr:__Booksleeve_MasterChanged"
            ),
            None
        );
    }
}
