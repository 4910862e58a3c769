//! The hubs a Conduit deployment serves, by the short names the settings,
//! the page and the stand-in use (`navigation`, `notifications`, …): each
//! one's path, type full name (its backplane channels' middle part), the
//! event a test broadcast is sent as and where it goes by default.
//!
//! Read from Conduit's hub responsibility matrix: the Core API's hubs take
//! a virtual key, the Admin API's a master key; only NavigationStateHub is
//! anonymous. The two APIs are two backplanes: the Admin API's
//! `Program.cs` sets the channel prefix `conduit_admin_signalr:`, the Core
//! API keeps `conduit_signalr:` (docs/CONDUIT.md §6).

use crate::api::{Audience, EventNames, Hub};
use crate::backplane::{CONDUIT_HUB, NAVIGATION_GROUP};
use crate::broadcast::NAVIGATION_EVENT;

/// The navigation hub's short name, the default hub.
pub const NAVIGATION: &str = "navigation";

/// The Admin API's StackExchange.Redis channel prefix
/// (`ConduitLLM.Admin/Program.cs`, `redisChannelPrefix`).
pub const CONDUIT_ADMIN_PREFIX: &str = "conduit_admin_signalr:";

/// One Conduit hub, as constants (the stand-in's profiles read theirs
/// from here, so a hub's name, path and type are written once).
#[derive(Debug, PartialEq, Eq)]
pub struct ConduitHub {
    /// Short name.
    pub name: &'static str,
    /// Path on the instance.
    pub path: &'static str,
    /// `typeof(THub).FullName`.
    pub hub_type: &'static str,
    /// What a test broadcast is sent as.
    pub broadcast: &'static str,
    /// Its default group, `None` for every connection of the hub.
    pub group: Option<&'static str>,
    /// Whether connecting takes a key.
    pub key_required: bool,
    /// Its API's channel prefix when that is not the Core API's: `None`
    /// follows the deployment's `--prefix` (Conduit's `conduit_signalr:`
    /// unless told otherwise), as every Core API hub shares it.
    pub prefix: Option<&'static str>,
}

/// Conduit's anonymous `NavigationStateHub`.
pub const NAVIGATION_HUB: ConduitHub = ConduitHub {
    name: NAVIGATION,
    path: "/hubs/navigation-state",
    hub_type: CONDUIT_HUB,
    broadcast: NAVIGATION_EVENT,
    group: Some(NAVIGATION_GROUP),
    key_required: false,
    prefix: None,
};

/// Conduit's `SystemNotificationHub`, a `SecureHub` (virtual key).
pub const NOTIFICATIONS_HUB: ConduitHub = ConduitHub {
    name: "notifications",
    path: "/hubs/notifications",
    hub_type: "ConduitLLM.Http.Hubs.SystemNotificationHub",
    broadcast: "SystemAnnouncement",
    group: None,
    key_required: true,
    prefix: None,
};

/// The Admin API's `AdminNotificationHub` (master key), on the Admin API's
/// own backplane prefix.
pub const ADMIN_NOTIFICATIONS_HUB: ConduitHub = ConduitHub {
    name: "admin-notifications",
    path: "/hubs/admin-notifications",
    hub_type: "ConduitLLM.Admin.Hubs.AdminNotificationHub",
    broadcast: "SystemAnnouncement",
    group: Some("admin"),
    key_required: true,
    prefix: Some(CONDUIT_ADMIN_PREFIX),
};

/// Every hub Conduit serves, navigation first.
const PROFILES: [ConduitHub; 8] = [
    NAVIGATION_HUB,
    NOTIFICATIONS_HUB,
    ConduitHub {
        name: "tasks",
        path: "/hubs/tasks",
        hub_type: "ConduitLLM.Http.Hubs.TaskHub",
        broadcast: "TaskProgress",
        group: None,
        key_required: true,
        prefix: None,
    },
    ConduitHub {
        name: "image-generation",
        path: "/hubs/image-generation",
        hub_type: "ConduitLLM.Http.Hubs.ImageGenerationHub",
        broadcast: "ImageGenerationProgress",
        group: None,
        key_required: true,
        prefix: None,
    },
    ConduitHub {
        name: "video-generation",
        path: "/hubs/video-generation",
        hub_type: "ConduitLLM.Http.Hubs.VideoGenerationHub",
        broadcast: "VideoGenerationProgress",
        group: None,
        key_required: true,
        prefix: None,
    },
    ConduitHub {
        name: "spend",
        path: "/hubs/spend",
        hub_type: "ConduitLLM.Http.Hubs.SpendNotificationHub",
        broadcast: "SpendUpdate",
        group: None,
        key_required: true,
        prefix: None,
    },
    ConduitHub {
        name: "webhooks",
        path: "/hubs/webhooks",
        hub_type: "ConduitLLM.Http.Hubs.WebhookDeliveryHub",
        broadcast: "DeliveryAttempt",
        group: None,
        key_required: true,
        prefix: None,
    },
    ADMIN_NOTIFICATIONS_HUB,
];

/// The short names of every Conduit hub, for help texts and errors.
pub fn conduit_names() -> Vec<&'static str> {
    PROFILES.iter().map(|p| p.name).collect()
}

/// The Conduit hub called `name`.
pub fn conduit(name: &str) -> Option<Hub> {
    let p = PROFILES.iter().find(|p| p.name == name)?;
    // Only NavigationStateHub asks the client for its state on connect.
    let navigation = p.name == NAVIGATION;
    Some(Hub {
        name: p.name.into(),
        path: p.path.into(),
        hub_type: p.hub_type.into(),
        events: EventNames {
            broadcast: p.broadcast.into(),
            request_state: if navigation {
                "RequestCurrentState"
            } else {
                ""
            }
            .into(),
            state_reply: if navigation {
                "StateUpdateRequested"
            } else {
                ""
            }
            .into(),
        },
        audience: match p.group {
            Some(g) => Audience::Group(g.into()),
            None => Audience::All,
        },
        key_required: p.key_required,
        auth: Default::default(),
        prefix: p.prefix.map(str::to_owned),
    })
}

/// Conduit's navigation hub, the default when no hub is configured.
pub fn navigation() -> Hub {
    conduit(NAVIGATION).expect("navigation is a Conduit hub")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every name finds its profile; navigation keeps today's defaults.
    #[test]
    fn every_name_resolves() {
        for name in conduit_names() {
            assert_eq!(conduit(name).map(|h| h.name), Some(name.to_owned()));
        }
        let nav = navigation();
        assert_eq!(nav.path, "/hubs/navigation-state");
        assert_eq!(nav.audience, Audience::Group(NAVIGATION_GROUP.into()));
        assert!(!nav.key_required);
        assert!(conduit("nope").is_none());
    }

    /// The Admin API's hub is named on its own prefix; a Core API hub
    /// follows the deployment's.
    #[test]
    fn admin_hub_has_its_own_prefix() {
        let admin = conduit("admin-notifications").unwrap();
        assert_eq!(
            admin.channels("conduit_signalr:").all(),
            "conduit_admin_signalr:ConduitLLM.Admin.Hubs.AdminNotificationHub:all"
        );
        assert_eq!(
            navigation().channels("p:").all(),
            format!("p:{CONDUIT_HUB}:all")
        );
    }
}
