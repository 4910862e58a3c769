//! Who sent a MONITOR line: the CLIENT SETNAME behind its address, read
//! from CLIENT LIST (the stand-ins, the companion and `load` all name
//! their connections). On a cluster every node lists only its own
//! clients, so every node is asked.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::redis_link::RedisLink;

/// CLIENT LIST is re-read for an unknown publisher at most this often, so
/// a stream of unnamed publishers cannot turn into a stream of CLIENT LISTs.
const CLIENT_LIST_EVERY: Duration = Duration::from_secs(1);

/// Client names by address, from CLIENT LIST, re-read when an unknown
/// address shows up (at most once a second).
pub(super) struct Publishers {
    /// Runs CLIENT LIST.
    link: RedisLink,
    /// The names and when they were last read.
    cache: tokio::sync::Mutex<(HashMap<String, String>, Option<Instant>)>,
}

impl Publishers {
    pub(super) fn new(link: RedisLink) -> Self {
        Self {
            link,
            cache: tokio::sync::Mutex::new((HashMap::new(), None)),
        }
    }

    /// The CLIENT SETNAME of the client at `addr`, if it set one.
    pub(super) async fn name(&self, addr: &str) -> Option<String> {
        let mut cache = self.cache.lock().await;
        if !cache.0.contains_key(addr) && cache.1.is_none_or(|t| t.elapsed() >= CLIENT_LIST_EVERY) {
            cache.1 = Some(Instant::now());
            if let Ok(nodes) = self.link.nodes().await {
                let mut names = HashMap::new();
                for (_, node) in nodes {
                    if let Ok(list) = node.query::<String>(redis::cmd("CLIENT").arg("LIST")).await {
                        names.extend(parse_client_list(&list));
                    }
                }
                cache.0 = names;
            }
        }
        cache.0.get(addr).filter(|n| !n.is_empty()).cloned()
    }
}

/// `addr` → `name` for every line of CLIENT LIST.
fn parse_client_list(list: &str) -> HashMap<String, String> {
    list.lines()
        .filter_map(|line| {
            let field = |key: &str| {
                line.split(' ')
                    .find_map(|kv| kv.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
            };
            Some((
                field("addr")?.to_owned(),
                field("name").unwrap_or_default().to_owned(),
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CLIENT LIST lines give addr → name, unnamed clients included.
    #[test]
    fn client_list() {
        let list = "id=3 addr=127.0.0.1:50000 laddr=127.0.0.1:6379 fd=8 name=api-1 age=0\nid=4 addr=127.0.0.1:50001 laddr=x fd=9 name= age=1\n";
        let m = parse_client_list(list);
        assert_eq!(m["127.0.0.1:50000"], "api-1");
        assert_eq!(m["127.0.0.1:50001"], "");
    }
}
