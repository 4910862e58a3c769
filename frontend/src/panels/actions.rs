//! A panel's buttons: reconnect, disconnect, remove, and for an instance
//! the demo owns, stop and start it.

use leptos::prelude::*;
use protocol::api::{routes, DemoAction};

use super::PanelEntry;
use crate::dashboard::Dashboard;

/// The buttons under a panel's facts.
#[component]
pub fn PanelActions(
    /// The panel they act on.
    entry: PanelEntry,
) -> impl IntoView {
    let dash = expect_context::<Dashboard>();
    let name = entry.instance.name.clone();
    let demo_owned = dash
        .config
        .with_value(|c| c.demo.as_ref().is_some_and(|d| d.instances.contains(&name)));
    let reconnect = {
        let entry = entry.clone();
        move |_| entry.reconnect()
    };
    let disconnect = move |_| entry.disconnect();
    let remove = {
        let name = name.clone();
        move |_| dash.remove_instance(&name)
    };
    view! {
        <div class="actions">
            <button type="button" on:click=reconnect>"Reconnect"</button>
            <button type="button" on:click=disconnect>"Disconnect"</button>
            {demo_owned.then(|| view! { <DemoButtons name/> })}
            <button type="button" class="quiet" on:click=remove title="Remove this panel">
                "Remove"
            </button>
        </div>
    }
}

/// Stop and Start for an instance the demo owns.
#[component]
fn DemoButtons(
    /// The instance's name, as the demo knows it.
    name: String,
) -> impl IntoView {
    let dash = expect_context::<Dashboard>();
    let call = move |action: DemoAction| {
        let path = routes::demo_instance(&name, action);
        move |_| dash.demo(path.clone())
    };
    view! {
        <button type="button" class="demo" on:click=call(DemoAction::Stop)>"Stop instance"</button>
        <button type="button" class="demo" on:click=call(DemoAction::Start)>"Start instance"</button>
    }
}
