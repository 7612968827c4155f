//! Ordered header maps as Envoy keeps them (lower-case keys, repeated keys allowed, values are
//! bytes) and the proxy-wasm pair serialization used to pass maps across the ABI.

use serde::{Serialize, Serializer};

/// An ordered multi-map of header name → value, with Envoy's semantics: names are lower-cased
/// on insertion, lookups return the first value, `replace` keeps one value in the first
/// position, values may hold any bytes (including non-UTF-8).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderMap {
    entries: Vec<(Vec<u8>, Vec<u8>)>,
}

fn lower(key: &[u8]) -> Vec<u8> {
    key.to_ascii_lowercase()
}

impl HeaderMap {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds a map from pairs in order (names lower-cased, as Envoy's codecs deliver them).
    pub fn from_pairs<K, V, I>(pairs: I) -> Self
    where
        K: AsRef<[u8]>,
        V: AsRef<[u8]>,
        I: IntoIterator<Item = (K, V)>,
    {
        let entries = pairs
            .into_iter()
            .map(|(k, v)| (lower(k.as_ref()), v.as_ref().to_vec()))
            .collect();
        Self { entries }
    }

    /// Number of entries (repeated names count once per value).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when the map has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// First value of `key` (case-insensitive).
    pub fn get(&self, key: &str) -> Option<&[u8]> {
        self.get_raw(key.as_bytes())
    }

    /// First value of a raw (possibly non-UTF-8) key, case-insensitive.
    pub fn get_raw(&self, key: &[u8]) -> Option<&[u8]> {
        let key = lower(key);
        self.entries
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_slice())
    }

    /// First value of `key` as UTF-8, `None` when absent or not UTF-8.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// Every value of `key`, in order.
    pub fn get_all(&self, key: &str) -> Vec<&[u8]> {
        let key = lower(key.as_bytes());
        self.entries
            .iter()
            .filter(|(k, _)| *k == key)
            .map(|(_, v)| v.as_slice())
            .collect()
    }

    /// True when `key` has at least one value.
    pub fn contains(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Appends a value (Envoy `addCopy`).
    pub fn append(&mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) {
        self.entries
            .push((lower(key.as_ref()), value.as_ref().to_vec()));
    }

    /// Sets `key` to exactly one value (Envoy `setCopy`): the first entry keeps its position,
    /// later duplicates are removed; appended when absent.
    pub fn replace(&mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) {
        let key = lower(key.as_ref());
        let value = value.as_ref().to_vec();
        match self.entries.iter().position(|(k, _)| *k == key) {
            Some(first) => {
                self.entries[first].1 = value;
                let mut index = 0;
                self.entries.retain(|(k, _)| {
                    let keep = index <= first || *k != key;
                    index += 1;
                    keep
                });
            }
            None => self.entries.push((key, value)),
        }
    }

    /// Removes every value of `key`.
    pub fn remove(&mut self, key: impl AsRef<[u8]>) {
        let key = lower(key.as_ref());
        self.entries.retain(|(k, _)| *k != key);
    }

    /// Entries in order as byte slices.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.entries
            .iter()
            .map(|(k, v)| (k.as_slice(), v.as_slice()))
    }

    /// Entries as strings, invalid UTF-8 replaced by U+FFFD (for display and JSON).
    pub fn to_lossy_pairs(&self) -> Vec<(String, String)> {
        self.entries
            .iter()
            .map(|(k, v)| {
                (
                    String::from_utf8_lossy(k).into_owned(),
                    String::from_utf8_lossy(v).into_owned(),
                )
            })
            .collect()
    }

    /// Serializes in the proxy-wasm map format: `u32` pair count, then `u32` key size and `u32`
    /// value size per pair, then each key and value followed by a NUL byte (little-endian).
    pub fn encode(&self) -> Vec<u8> {
        let payload: usize = self
            .entries
            .iter()
            .map(|(k, v)| k.len() + v.len() + 2)
            .sum();
        let mut out = Vec::with_capacity(4 + 8 * self.entries.len() + payload);
        out.extend_from_slice(&(self.entries.len() as u32).to_le_bytes());
        for (k, v) in &self.entries {
            out.extend_from_slice(&(k.len() as u32).to_le_bytes());
            out.extend_from_slice(&(v.len() as u32).to_le_bytes());
        }
        for (k, v) in &self.entries {
            out.extend_from_slice(k);
            out.push(0);
            out.extend_from_slice(v);
            out.push(0);
        }
        out
    }

    /// Parses the proxy-wasm map format. Like Envoy, a truncated or inconsistent buffer yields
    /// an empty map rather than an error. Keys are lower-cased as Envoy does on insertion.
    pub fn decode(data: &[u8]) -> Self {
        Self::try_decode(data).unwrap_or_default()
    }

    fn try_decode(data: &[u8]) -> Option<Self> {
        let word = |at: usize| -> Option<usize> {
            let bytes = data.get(at..at.checked_add(4)?)?;
            Some(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize)
        };
        let count = word(0)?;
        let mut sizes = Vec::with_capacity(count.min(data.len() / 8));
        for i in 0..count {
            let at = 4usize.checked_add(i.checked_mul(8)?)?;
            sizes.push((word(at)?, word(at + 4)?));
        }
        let mut cursor = 4usize.checked_add(count.checked_mul(8)?)?;
        let mut map = Self::new();
        for (ks, vs) in sizes {
            let key = data.get(cursor..cursor.checked_add(ks)?)?;
            cursor = cursor.checked_add(ks)?.checked_add(1)?;
            let value = data.get(cursor..cursor.checked_add(vs)?)?;
            cursor = cursor.checked_add(vs)?.checked_add(1)?;
            map.append(key, value);
        }
        Some(map)
    }
}

impl Serialize for HeaderMap {
    /// JSON object name → value (lossy UTF-8; a repeated name keeps its last value).
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.entries.len()))?;
        for (k, v) in self.to_lossy_pairs() {
            map.serialize_entry(&k, &v)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode_round_trip_keeps_order_and_bytes() {
        let map = HeaderMap::from_pairs([
            (&b":path"[..], &b"/a"[..]),
            (b"X-Bin", b"\xff\x00z"),
            (b"x-empty", b""),
            (b"x-bin", b"2"),
        ]);
        let decoded = HeaderMap::decode(&map.encode());
        assert_eq!(decoded, map);
        assert_eq!(decoded.get("x-bin"), Some(&b"\xff\x00z"[..]));
        assert_eq!(decoded.get_all("X-BIN").len(), 2);
    }

    #[test]
    fn truncated_buffer_decodes_to_empty_map() {
        let mut bytes = HeaderMap::from_pairs([("a", "b")]).encode();
        bytes.pop();
        bytes.pop();
        assert!(HeaderMap::decode(&bytes).is_empty());
        assert!(HeaderMap::decode(&[1, 0]).is_empty());
        assert!(HeaderMap::decode(&[255, 255, 255, 255]).is_empty());
    }

    #[test]
    fn replace_keeps_first_position_and_drops_duplicates() {
        let mut map = HeaderMap::from_pairs([("a", "1"), ("b", "2"), ("a", "3")]);
        map.replace("A", "x");
        assert_eq!(
            map.to_lossy_pairs(),
            vec![("a".into(), "x".into()), ("b".into(), "2".into())]
        );
        map.replace("c", "y");
        assert_eq!(map.get_str("c"), Some("y"));
    }
}
