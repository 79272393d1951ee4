//! A small in-isolate cache with per-entry lifetimes and a size bound. Time is passed in; the
//! cache reads no clock. Used for host -> tenant resolution (positive and negative entries) and
//! tenant records.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::Hash;
use std::time::SystemTime;

/// A bounded map whose entries expire.
#[derive(Debug)]
pub struct TtlCache<K, V> {
    max_entries: usize,
    entries: RefCell<HashMap<K, (SystemTime, V)>>,
}

impl<K: Eq + Hash + Clone, V: Clone> TtlCache<K, V> {
    pub fn new(max_entries: usize) -> Self {
        Self { max_entries: max_entries.max(1), entries: RefCell::new(HashMap::new()) }
    }

    /// The value for `key` if it has not expired at `now`.
    pub fn get(&self, key: &K, now: SystemTime) -> Option<V> {
        let mut entries = self.entries.borrow_mut();
        match entries.get(key) {
            Some((expires, value)) if *expires > now => Some(value.clone()),
            Some(_) => {
                entries.remove(key);
                None
            }
            None => None,
        }
    }

    /// Stores `value` until `expires`. When full, expired entries go first, then the entries
    /// closest to expiry.
    pub fn insert(&self, key: K, value: V, now: SystemTime, expires: SystemTime) {
        let mut entries = self.entries.borrow_mut();
        if entries.len() >= self.max_entries && !entries.contains_key(&key) {
            entries.retain(|_, (e, _)| *e > now);
            while entries.len() >= self.max_entries {
                let soonest = entries.iter().min_by_key(|(_, (e, _))| *e).map(|(k, _)| k.clone());
                match soonest {
                    Some(k) => entries.remove(&k),
                    None => break,
                };
            }
        }
        entries.insert(key, (expires, value));
    }

    pub fn remove(&self, key: &K) {
        self.entries.borrow_mut().remove(key);
    }

    /// Drops every entry whose value matches `pred`.
    pub fn remove_where(&self, pred: impl Fn(&K, &V) -> bool) {
        self.entries.borrow_mut().retain(|k, (_, v)| !pred(k, v));
    }

    pub fn len(&self) -> usize {
        self.entries.borrow().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn entries_expire() {
        let c = TtlCache::new(10);
        c.insert("a", 1, at(0), at(60));
        assert_eq!(c.get(&"a", at(59)), Some(1));
        assert_eq!(c.get(&"a", at(60)), None);
        assert!(c.is_empty(), "an expired entry is dropped when read");
    }

    #[test]
    fn the_bound_holds_and_evicts_expired_then_soonest() {
        let c = TtlCache::new(3);
        c.insert("old", 0, at(0), at(5));
        c.insert("b", 1, at(0), at(100));
        c.insert("c", 2, at(0), at(50));
        c.insert("d", 3, at(10), at(200)); // "old" has expired: it goes
        assert_eq!(c.len(), 3);
        assert_eq!(c.get(&"old", at(10)), None);
        c.insert("e", 4, at(10), at(300)); // nothing expired: "c" expires soonest
        assert_eq!(c.len(), 3);
        assert_eq!(c.get(&"c", at(10)), None);
        assert_eq!(c.get(&"b", at(10)), Some(1));
        c.insert("b", 9, at(10), at(400)); // replacing an entry evicts nothing
        assert_eq!((c.len(), c.get(&"b", at(10)), c.get(&"d", at(10))), (3, Some(9), Some(3)));
        c.remove_where(|_, v| *v == 9);
        assert_eq!(c.get(&"b", at(10)), None);
    }
}
