//! The hubs a Conduit deployment serves, by the short names the settings,
//! the page and the stand-in use (`navigation`, `notifications`, …): each
//! one's path, type full name (its backplane channels' middle part), the
//! event a test broadcast is sent as and where it goes by default.
//!
//! Read from Conduit's hub responsibility matrix: the Core API's hubs take
//! a virtual key, the Admin API's a master key; only NavigationStateHub is
//! anonymous.

use crate::api::{Audience, EventNames, Hub};
use crate::backplane::{CONDUIT_HUB, NAVIGATION_GROUP};
use crate::broadcast::NAVIGATION_EVENT;

/// The navigation hub's short name, the default hub.
pub const NAVIGATION: &str = "navigation";

/// One Conduit hub, as constants.
struct Profile {
    /// Short name.
    name: &'static str,
    /// Path on the instance.
    path: &'static str,
    /// `typeof(THub).FullName`.
    hub_type: &'static str,
    /// What a test broadcast is sent as.
    broadcast: &'static str,
    /// Its default group, `None` for every connection of the hub.
    group: Option<&'static str>,
    /// Whether connecting takes a key.
    key_required: bool,
}

/// Every hub Conduit serves, navigation first.
const PROFILES: [Profile; 8] = [
    Profile {
        name: NAVIGATION,
        path: "/hubs/navigation-state",
        hub_type: CONDUIT_HUB,
        broadcast: NAVIGATION_EVENT,
        group: Some(NAVIGATION_GROUP),
        key_required: false,
    },
    Profile {
        name: "notifications",
        path: "/hubs/notifications",
        hub_type: "ConduitLLM.Http.Hubs.SystemNotificationHub",
        broadcast: "SystemAnnouncement",
        group: None,
        key_required: true,
    },
    Profile {
        name: "tasks",
        path: "/hubs/tasks",
        hub_type: "ConduitLLM.Http.Hubs.TaskHub",
        broadcast: "TaskProgress",
        group: None,
        key_required: true,
    },
    Profile {
        name: "image-generation",
        path: "/hubs/image-generation",
        hub_type: "ConduitLLM.Http.Hubs.ImageGenerationHub",
        broadcast: "ImageGenerationProgress",
        group: None,
        key_required: true,
    },
    Profile {
        name: "video-generation",
        path: "/hubs/video-generation",
        hub_type: "ConduitLLM.Http.Hubs.VideoGenerationHub",
        broadcast: "VideoGenerationProgress",
        group: None,
        key_required: true,
    },
    Profile {
        name: "spend",
        path: "/hubs/spend",
        hub_type: "ConduitLLM.Http.Hubs.SpendNotificationHub",
        broadcast: "SpendUpdate",
        group: None,
        key_required: true,
    },
    Profile {
        name: "webhooks",
        path: "/hubs/webhooks",
        hub_type: "ConduitLLM.Http.Hubs.WebhookDeliveryHub",
        broadcast: "DeliveryAttempt",
        group: None,
        key_required: true,
    },
    Profile {
        name: "admin-notifications",
        path: "/hubs/admin-notifications",
        hub_type: "ConduitLLM.Admin.Hubs.AdminNotificationHub",
        broadcast: "SystemAlert",
        group: Some("admin"),
        key_required: true,
    },
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
}
