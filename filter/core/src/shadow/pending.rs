//! The root context's bounded store of comparisons waiting for their second half.
//!
//! A comparison is keyed by the id of its shadow copy (given when the stream hands the copy
//! to the root, before any call token exists). The primary's value and the shadow's value arrive in
//! either order; whichever comes second completes the comparison. When the store is full the
//! oldest entry is evicted.

use super::JsonScalar;
use std::collections::VecDeque;

#[derive(Debug, Clone, PartialEq)]
struct Entry {
    copy: u64,
    experiment: usize,
    primary: Option<JsonScalar>,
    shadow: Option<JsonScalar>,
}

/// Both values of a comparison, ready to compare.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadyComparison {
    /// Experiment index in the routing table.
    pub experiment: usize,
    /// The shadow's value.
    pub shadow: JsonScalar,
    /// The primary's value.
    pub primary: JsonScalar,
}

/// Comparisons waiting for a value, at most `capacity` of them, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingComparisons {
    capacity: usize,
    entries: VecDeque<Entry>,
}

impl PendingComparisons {
    /// An empty store holding at most `capacity` comparisons.
    pub fn new(capacity: usize) -> PendingComparisons {
        PendingComparisons {
            capacity,
            entries: VecDeque::new(),
        }
    }

    /// Starts waiting on the comparison of copy `copy` of `experiment`. Returns the experiment index of the
    /// entry evicted to make room, if any.
    pub fn insert(&mut self, copy: u64, experiment: usize) -> Option<usize> {
        self.entries.retain(|e| e.copy != copy);
        let evicted = if self.entries.len() >= self.capacity {
            self.entries.pop_front().map(|e| e.experiment)
        } else {
            None
        };
        if self.capacity > 0 {
            self.entries.push_back(Entry {
                copy,
                experiment,
                primary: None,
                shadow: None,
            });
        }
        evicted
    }

    /// Records the primary's value; returns the comparison when the shadow's is already there.
    pub fn primary_value(&mut self, copy: u64, value: JsonScalar) -> Option<ReadyComparison> {
        self.fill(copy, |entry| entry.primary = Some(value))
    }

    /// Records the shadow's value; returns the comparison when the primary's is already there.
    pub fn shadow_value(&mut self, copy: u64, value: JsonScalar) -> Option<ReadyComparison> {
        self.fill(copy, |entry| entry.shadow = Some(value))
    }

    /// Stops waiting on `copy` (e.g. the call failed). Returns whether it was pending.
    pub fn remove(&mut self, copy: u64) -> bool {
        let before = self.entries.len();
        self.entries.retain(|e| e.copy != copy);
        before != self.entries.len()
    }

    /// Whether `copy` is pending.
    pub fn contains(&self, copy: u64) -> bool {
        self.entries.iter().any(|e| e.copy == copy)
    }

    /// Number of pending comparisons.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn fill(&mut self, copy: u64, set: impl FnOnce(&mut Entry)) -> Option<ReadyComparison> {
        let position = self.entries.iter().position(|e| e.copy == copy)?;
        let entry = self.entries.get_mut(position)?;
        set(entry);
        if entry.primary.is_none() || entry.shadow.is_none() {
            return None;
        }
        let entry = self.entries.remove(position)?;
        Some(ReadyComparison {
            experiment: entry.experiment,
            shadow: entry.shadow.unwrap_or(JsonScalar::Absent),
            primary: entry.primary.unwrap_or(JsonScalar::Absent),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completes_in_either_order() {
        let mut store = PendingComparisons::new(4);
        store.insert(1, 0);
        store.insert(2, 1);
        assert_eq!(store.primary_value(1, JsonScalar::Number(1.0)), None);
        let Some(ready) = store.shadow_value(1, JsonScalar::Number(2.0)) else {
            panic!("the shadow value completes the pair");
        };
        assert_eq!(
            (ready.experiment, ready.shadow, ready.primary),
            (0, JsonScalar::Number(2.0), JsonScalar::Number(1.0))
        );
        assert_eq!(store.shadow_value(2, JsonScalar::Bool(true)), None);
        assert!(store.primary_value(2, JsonScalar::Bool(true)).is_some());
        assert!(store.is_empty());
        assert_eq!(store.shadow_value(99, JsonScalar::Absent), None);
    }

    #[test]
    fn evicts_the_oldest_when_full() {
        let mut store = PendingComparisons::new(2);
        assert_eq!(store.insert(1, 10), None);
        assert_eq!(store.insert(2, 20), None);
        assert_eq!(store.insert(3, 30), Some(10));
        assert!(!store.contains(1) && store.contains(2) && store.contains(3));
        assert!(store.remove(2));
        assert_eq!(store.len(), 1);
    }
}
