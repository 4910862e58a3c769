//! A small map from names (panels, origins) to values, kept as a Vec
//! sorted by name. The ledger holds a few entries per broadcast and per
//! panel; a `BTreeMap` per value type cost the .wasm several kilobytes
//! each (issue 12), while this is a binary search over a Vec whose code
//! the page links anyway. Iteration is in name order, as a `BTreeMap`'s.

use serde::{Serialize, Serializer};

/// Values by name, in name order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ByName<V>(Vec<(String, V)>);

impl<V> Default for ByName<V> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<V> ByName<V> {
    /// Where `name` is, or where it would go.
    fn find(&self, name: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(n, _)| n.as_str().cmp(name))
    }

    /// The value for `name`.
    pub fn get(&self, name: &str) -> Option<&V> {
        self.find(name).ok().map(|i| &self.0[i].1)
    }

    /// The value for `name`, to change in place.
    pub fn get_mut(&mut self, name: &str) -> Option<&mut V> {
        self.find(name).ok().map(|i| &mut self.0[i].1)
    }

    /// Whether `name` has a value.
    pub fn contains_key(&self, name: &str) -> bool {
        self.find(name).is_ok()
    }

    /// The value for `name`, made by `make` when there is none yet.
    pub fn or_insert_with(&mut self, name: &str, make: impl FnOnce() -> V) -> &mut V {
        let i = match self.find(name) {
            Ok(i) => i,
            Err(i) => {
                self.0.insert(i, (name.to_owned(), make()));
                i
            }
        };
        &mut self.0[i].1
    }

    /// Sets `name`'s value, replacing any.
    pub fn insert(&mut self, name: &str, value: V) {
        match self.find(name) {
            Ok(i) => self.0[i].1 = value,
            Err(i) => self.0.insert(i, (name.to_owned(), value)),
        }
    }

    /// (name, value) pairs in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &V)> {
        self.0.iter().map(|(n, v)| (n, v))
    }
}

impl<V: Default> ByName<V> {
    /// The value for `name`, the default when there is none yet.
    pub fn or_default(&mut self, name: &str) -> &mut V {
        self.or_insert_with(name, V::default)
    }
}

impl<V> FromIterator<(String, V)> for ByName<V> {
    /// Later pairs replace earlier ones of the same name, as in a map.
    fn from_iter<I: IntoIterator<Item = (String, V)>>(pairs: I) -> Self {
        let mut map = Self::default();
        for (name, value) in pairs {
            map.insert(&name, value);
        }
        map
    }
}

impl<V: Serialize> Serialize for ByName<V> {
    /// A JSON object, as a `BTreeMap` was: the export's format is unchanged.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Names stay sorted whatever the insertion order, and a second insert
    /// replaces the value.
    #[test]
    fn sorted_and_replacing() {
        let mut m = ByName::default();
        m.insert("b", 2);
        m.insert("a", 1);
        m.insert("c", 3);
        m.insert("b", 20);
        let pairs: Vec<_> = m.iter().map(|(n, v)| (n.as_str(), *v)).collect();
        assert_eq!(pairs, [("a", 1), ("b", 20), ("c", 3)]);
        assert_eq!(m.get("b"), Some(&20));
        assert!(!m.contains_key("d"));
    }

    /// `or_default` creates once, then returns the same value.
    #[test]
    fn or_default_creates_once() {
        let mut m: ByName<u64> = ByName::default();
        *m.or_default("x") += 1;
        *m.or_default("x") += 1;
        assert_eq!(m.get("x"), Some(&2));
    }

    /// It serializes as a JSON object in name order, as a `BTreeMap` did.
    #[test]
    fn serializes_as_an_object() {
        let m: ByName<f64> = [("z".to_owned(), 1.5), ("a".to_owned(), 2.0)]
            .into_iter()
            .collect();
        assert_eq!(serde_json::to_string(&m).unwrap(), r#"{"a":2.0,"z":1.5}"#);
    }
}
