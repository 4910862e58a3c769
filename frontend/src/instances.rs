//! Which instances get a panel: the companion's config, plus those added
//! on the page (remembered in localStorage) and `?instance=` parameters,
//! minus those removed on the page.

use protocol::api::Instance;
use protocol::from_json::{self, FromJson, Object};
use protocol::to_json::ToJson;
use serde_json::Value;

/// localStorage key of the page's own additions and removals.
const STORAGE_KEY: &str = "signalscope.instances";

/// What the page remembers between visits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Saved {
    /// Instances added on the page.
    pub added: Vec<Instance>,
    /// Names removed on the page, so config instances stay hidden too.
    pub removed: Vec<String>,
}

impl ToJson for Saved {
    fn to_json(&self) -> Value {
        serde_json::json!({
            "added": self.added.to_json(),
            "removed": self.removed.to_json(),
        })
    }
}

impl FromJson for Saved {
    /// Either list may be missing (an older page wrote only one).
    fn from_json(value: &Value) -> Option<Self> {
        let o = Object::of(value)?;
        Some(Self {
            added: o.or_default("added")?,
            removed: o.or_default("removed")?,
        })
    }
}

impl Saved {
    /// Reads what this browser remembered; nothing if unreadable.
    pub fn load() -> Self {
        local_storage()
            .and_then(|s| s.get_item(STORAGE_KEY).ok().flatten())
            .and_then(|text| from_json::from_str(&text))
            .unwrap_or_default()
    }

    /// Remembers it; a full or disabled storage only loses the memory.
    pub fn store(&self) {
        if let Some(storage) = local_storage() {
            let _ = storage.set_item(STORAGE_KEY, &self.to_json().to_string());
        }
    }

    /// Adds (or re-adds) an instance.
    pub fn add(&mut self, instance: Instance) {
        self.removed.retain(|n| *n != instance.name);
        self.added.retain(|i| i.name != instance.name);
        self.added.push(instance);
    }

    /// Removes an instance, wherever it came from.
    pub fn remove(&mut self, name: &str) {
        self.added.retain(|i| i.name != name);
        if !self.removed.iter().any(|n| n == name) {
            self.removed.push(name.to_owned());
        }
    }
}

fn local_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

/// Reads one `?instance=` value: `name=url`, or a bare URL named after its
/// host and port. `None` for anything that is not an http(s) URL.
pub fn parse_instance(value: &str) -> Option<Instance> {
    let value = value.trim();
    let (name, url) = match value.split_once('=') {
        // A '=' after "://" belongs to the URL's query, not to a name.
        Some((name, url)) if !name.contains("://") && !name.is_empty() => (Some(name), url),
        _ => (None, value),
    };
    let url = url.trim().trim_end_matches('/');
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))?;
    let authority = rest.split(['/', '?']).next().filter(|a| !a.is_empty())?;
    Some(Instance {
        name: name.unwrap_or(authority).trim().to_owned(),
        url: url.to_owned(),
        hubs: Vec::new(),
    })
}

/// The instances to show, in order: config, then saved, then query; later
/// sources replace earlier ones of the same name; removed names are left out
/// unless the query names them explicitly.
pub fn merge(config: &[Instance], saved: &Saved, query: &[Instance]) -> Vec<Instance> {
    let mut out: Vec<Instance> = Vec::new();
    let mut put = |i: &Instance| match out.iter_mut().find(|o| o.name == i.name) {
        Some(slot) => *slot = i.clone(),
        None => out.push(i.clone()),
    };
    config
        .iter()
        .chain(&saved.added)
        .filter(|i| !saved.removed.contains(&i.name))
        .for_each(&mut put);
    query.iter().for_each(put);
    out
}

/// The instances named in the page's own `?instance=` parameters.
pub fn from_query() -> Vec<Instance> {
    let search = web_sys::window()
        .and_then(|w| w.location().search().ok())
        .unwrap_or_default();
    let Ok(params) = web_sys::UrlSearchParams::new_with_str(&search) else {
        return Vec::new();
    };
    params
        .get_all("instance")
        .iter()
        .filter_map(|v| v.as_string())
        .filter_map(|v| parse_instance(&v))
        .collect()
}

/// The hub's URL: instance URL + hub path, with exactly one slash between.
pub fn hub_url(instance_url: &str, hub_path: &str) -> String {
    format!(
        "{}/{}",
        instance_url.trim_end_matches('/'),
        hub_path.trim_start_matches('/')
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inst(name: &str, url: &str) -> Instance {
        Instance {
            name: name.into(),
            url: url.into(),
            hubs: Vec::new(),
        }
    }

    /// `name=url` names the instance; the trailing slash is dropped.
    #[test]
    fn named_query_value() {
        assert_eq!(
            parse_instance("api-9=http://127.0.0.1:5009/"),
            Some(inst("api-9", "http://127.0.0.1:5009"))
        );
    }

    /// A bare URL is named after its host and port, even with '=' in its query.
    #[test]
    fn bare_url_query_value() {
        assert_eq!(
            parse_instance("https://h:5001/x?a=b"),
            Some(inst("h:5001", "https://h:5001/x?a=b"))
        );
    }

    /// Anything but an http(s) URL is refused.
    #[test]
    fn non_http_values_are_refused() {
        assert_eq!(parse_instance("api=ftp://h"), None);
        assert_eq!(parse_instance("http://"), None);
        assert_eq!(parse_instance(""), None);
    }

    /// Saved additions follow config; removals hide config instances.
    #[test]
    fn merge_adds_and_removes() {
        let config = [inst("a", "http://a"), inst("b", "http://b")];
        let mut saved = Saved::default();
        saved.add(inst("c", "http://c"));
        saved.remove("a");
        let names: Vec<_> = merge(&config, &saved, &[])
            .into_iter()
            .map(|i| i.name)
            .collect();
        assert_eq!(names, ["b", "c"]);
    }

    /// A query instance replaces one of the same name and overrides a removal.
    #[test]
    fn query_overrides() {
        let config = [inst("a", "http://a")];
        let mut saved = Saved::default();
        saved.remove("a");
        let merged = merge(&config, &saved, &[inst("a", "http://other")]);
        assert_eq!(merged, [inst("a", "http://other")]);
    }

    /// What `store` writes, `load` reads back; a missing list is empty.
    #[test]
    fn saved_round_trips() {
        let mut saved = Saved::default();
        saved.add(inst("c", "http://c"));
        saved.remove("a");
        let text = saved.to_json().to_string();
        assert_eq!(from_json::from_str::<Saved>(&text), Some(saved));
        assert_eq!(
            from_json::from_str::<Saved>(r#"{"removed":["a"]}"#).map(|s| s.removed),
            Some(vec!["a".to_owned()])
        );
    }

    /// Re-adding a removed instance brings it back.
    #[test]
    fn re_adding_undoes_a_removal() {
        let mut saved = Saved::default();
        saved.remove("a");
        saved.add(inst("a", "http://a"));
        assert!(saved.removed.is_empty());
        assert_eq!(merge(&[], &saved, &[]), [inst("a", "http://a")]);
    }

    /// Exactly one slash joins instance URL and hub path.
    #[test]
    fn hub_url_joins_with_one_slash() {
        assert_eq!(hub_url("http://h/", "/hubs/x"), "http://h/hubs/x");
        assert_eq!(hub_url("http://h", "hubs/x"), "http://h/hubs/x");
    }
}
