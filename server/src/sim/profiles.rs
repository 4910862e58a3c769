//! The hubs a stand-in can serve (`sim --hub <profile>`), each modelled on
//! one of Conduit's (docs/CONDUIT.md §1–§2 and §6): where it is mapped, its
//! type name (the middle of its backplane channels), who may connect, the
//! groups a connection joins, what its server sends and which methods
//! clients may call. Name, path and type come from [`protocol::hubs`], the
//! list the companion and the page use.

use protocol::backplane::Channels;
use protocol::hubs;

/// A method clients may invoke on a hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HubMethod {
    /// `NavigationStateHub.RequestCurrentState`: reply
    /// `StateUpdateRequested {timestamp}` to the caller.
    RequestCurrentState,
    /// `NavigationStateHub.SubscribeToModel`: join `model-{id}`.
    SubscribeToModel,
    /// `NavigationStateHub.UnsubscribeFromModel`: leave `model-{id}`.
    UnsubscribeFromModel,
}

/// Who a hub's server-side notifications go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// `Clients.All`: the `:all` channel.
    All,
    /// `Clients.Group(name)`: that group's channel.
    Group(&'static str),
}

impl Audience {
    /// The same audience as a trigger request names it.
    pub fn api(self) -> protocol::api::Audience {
        match self {
            Audience::All => protocol::api::Audience::All,
            Audience::Group(group) => protocol::api::Audience::Group(group.into()),
        }
    }
}

/// One hub, as the stand-in serves it.
#[derive(Debug, PartialEq, Eq)]
pub struct Profile {
    /// The name `--hub` takes.
    pub name: &'static str,
    /// Where `MapHub` puts it (negotiate is this plus `/negotiate`).
    pub path: &'static str,
    /// `typeof(THub).FullName`: the middle of every channel of the hub.
    pub type_name: &'static str,
    /// Its API's own channel prefix (the Admin API's); `None` is the
    /// instance's `--prefix`.
    pub prefix: Option<&'static str>,
    /// Whether a connection needs a key (Conduit's `SecureHub`, mapped with
    /// `RequireAuthorization()`, or the Admin API's master key policy);
    /// without one, negotiate and the WebSocket request are answered 401.
    pub requires_key: bool,
    /// Whether a keyed connection joins its key's group ([`key_group`]),
    /// as `SecureHub` does with a virtual key; a master key has none.
    pub joins_key_group: bool,
    /// Groups every connection joins in `OnConnectedAsync`.
    pub groups_on_connect: &'static [&'static str],
    /// Where the server's notifications (and the stand-in's trigger) go.
    pub audience: Audience,
    /// The client events its server sends; the first is what the trigger
    /// sends.
    pub events: &'static [&'static str],
    /// The methods clients may invoke.
    pub methods: &'static [HubMethod],
}

impl Profile {
    /// The event the stand-in's trigger sends.
    pub fn trigger_event(&self) -> &'static str {
        self.events[0]
    }

    /// The hub's channel names under its own prefix, else `prefix` (the
    /// instance's `--prefix`).
    pub fn channels(&self, prefix: &str) -> Channels {
        Channels::new(self.prefix.unwrap_or(prefix), self.type_name)
    }
}

/// Conduit's anonymous `NavigationStateHub` (docs/CONDUIT.md §1–§2): the
/// stand-in's default, and exactly what it served before profiles.
pub const NAVIGATION: Profile = Profile {
    name: hubs::NAVIGATION_HUB.name,
    path: hubs::NAVIGATION_HUB.path,
    type_name: hubs::NAVIGATION_HUB.hub_type,
    prefix: hubs::NAVIGATION_HUB.prefix,
    requires_key: hubs::NAVIGATION_HUB.key_required,
    joins_key_group: false,
    groups_on_connect: &[protocol::backplane::NAVIGATION_GROUP],
    audience: Audience::Group(protocol::backplane::NAVIGATION_GROUP),
    events: &[protocol::broadcast::NAVIGATION_EVENT],
    methods: &[
        HubMethod::RequestCurrentState,
        HubMethod::SubscribeToModel,
        HubMethod::UnsubscribeFromModel,
    ],
};

/// Conduit's `SystemNotificationHub` at `/hubs/notifications`
/// (docs/CONDUIT.md §6): a `SecureHub`, so a virtual key is required and
/// each connection joins `vkey-{id}`; its services notify `Clients.All`.
/// Its own methods (preferences, the `On{type}` sends to the key's group)
/// are not modelled: invoking them says the method does not exist.
pub const NOTIFICATIONS: Profile = Profile {
    name: hubs::NOTIFICATIONS_HUB.name,
    path: hubs::NOTIFICATIONS_HUB.path,
    type_name: hubs::NOTIFICATIONS_HUB.hub_type,
    prefix: hubs::NOTIFICATIONS_HUB.prefix,
    requires_key: hubs::NOTIFICATIONS_HUB.key_required,
    joins_key_group: true,
    groups_on_connect: &[],
    audience: Audience::All,
    events: &[
        "OnModelMappingChanged",
        "OnProviderHealthChanged",
        "OnModelAvailabilityChanged",
        "RateLimitWarning",
        "SystemAnnouncement",
        "ServiceDegraded",
        "ServiceRestored",
        "ConfigurationChanged",
    ],
    methods: &[],
};

/// The Admin API's `AdminNotificationHub` at `/hubs/admin-notifications`
/// (docs/CONDUIT.md §6), on the Admin API's own backplane prefix
/// `conduit_admin_signalr:`: a master key is required (the stand-in takes
/// its `--require-key` keys, in the same places as a virtual key), every
/// connection joins `admin`, and `AdminNotificationService` sends to that
/// group. Its methods (subscribing to a key's or a provider's group) and
/// the `InitialProviderHealth` sent on connect are not modelled.
pub const ADMIN_NOTIFICATIONS: Profile = Profile {
    name: hubs::ADMIN_NOTIFICATIONS_HUB.name,
    path: hubs::ADMIN_NOTIFICATIONS_HUB.path,
    type_name: hubs::ADMIN_NOTIFICATIONS_HUB.hub_type,
    prefix: hubs::ADMIN_NOTIFICATIONS_HUB.prefix,
    requires_key: hubs::ADMIN_NOTIFICATIONS_HUB.key_required,
    joins_key_group: false,
    groups_on_connect: &["admin"],
    audience: Audience::Group("admin"),
    events: &[
        "SystemAnnouncement",
        "VirtualKeyUpdate",
        "HighSpendAlert",
        "SecurityAlert",
        "ModelCapabilityUpdate",
    ],
    methods: &[],
};

/// Every profile, in the order `--help` lists them.
pub const PROFILES: [&Profile; 3] = [&NAVIGATION, &NOTIFICATIONS, &ADMIN_NOTIFICATIONS];

/// A `--hub` value that names no profile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown hub profile '{0}' (known: navigation, notifications, admin-notifications)")]
pub struct UnknownProfile(pub String);

/// The profile called `name`.
pub fn find(name: &str) -> Result<&'static Profile, UnknownProfile> {
    PROFILES
        .into_iter()
        .find(|p| p.name == name.trim())
        .ok_or_else(|| UnknownProfile(name.trim().to_owned()))
}

/// The group a virtual key's connections join (`SecureHub.OnConnectedAsync`
/// adds `vkey-{virtualKeyId}`). The stand-in numbers its `--require-key`
/// keys from 1 in the order given, as ids.
pub fn key_group(key_id: u32) -> String {
    format!("vkey-{key_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The error for an unknown profile names every known profile, so it
    /// cannot drift from the list (clap adds the flag's name).
    #[test]
    fn unknown_profile_lists_the_known_ones() {
        let err = find("admin").unwrap_err().to_string();
        assert!(err.starts_with("unknown hub profile 'admin'"));
        for p in PROFILES {
            assert!(err.contains(p.name), "{err} lacks {}", p.name);
        }
        assert_eq!(find("notifications"), Ok(&NOTIFICATIONS));
    }

    /// Profiles do not share a path or a type name: each is its own hub.
    #[test]
    fn profiles_are_distinct() {
        assert_ne!(NAVIGATION.path, NOTIFICATIONS.path);
        assert_ne!(NAVIGATION.type_name, NOTIFICATIONS.type_name);
        assert_eq!(
            NOTIFICATIONS.channels("conduit_signalr:").all(),
            "conduit_signalr:ConduitLLM.Http.Hubs.SystemNotificationHub:all"
        );
        assert_eq!(
            ADMIN_NOTIFICATIONS
                .channels("conduit_signalr:")
                .group("admin"),
            "conduit_admin_signalr:ConduitLLM.Admin.Hubs.AdminNotificationHub:group:admin"
        );
    }
}
