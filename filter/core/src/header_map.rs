//! The proxy-wasm header map wire format (`proxy_get_header_map_pairs`, `proxy_http_call`):
//! a little-endian u32 pair count, then a (name length, value length) u32 pair per entry, then
//! each name and value followed by a NUL byte. Pure, so it is tested natively; the wasm glue
//! uses it for every header map it reads or sends.

/// Serialises header pairs as the ABI's map format: count, then (name length, value length)
/// per pair, then each name and value followed by a NUL byte.
pub fn serialize_pairs(pairs: &[(&str, &str)]) -> Vec<u8> {
    let mut size = 4;
    for (name, value) in pairs {
        size += 8 + name.len() + value.len() + 2;
    }
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(&len_u32(pairs.len()).to_le_bytes());
    for (name, value) in pairs {
        out.extend_from_slice(&len_u32(name.len()).to_le_bytes());
        out.extend_from_slice(&len_u32(value.len()).to_le_bytes());
    }
    for (name, value) in pairs {
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        out.extend_from_slice(value.as_bytes());
        out.push(0);
    }
    out
}

fn len_u32(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

/// Parses the ABI's map format into (name, value) pairs; a malformed buffer gives the pairs
/// read before the damage.
pub fn deserialize_pairs(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let word = |at: usize| -> Option<usize> {
        let b = bytes.get(at..at + 4)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    let Some(count) = word(0) else {
        return Vec::new();
    };
    let mut pairs = Vec::with_capacity(count.min(bytes.len() / 8));
    let mut data = 4usize.saturating_add(count.saturating_mul(8));
    for index in 0..count {
        let (Some(name_len), Some(value_len)) = (word(4 + index * 8), word(8 + index * 8)) else {
            break;
        };
        let name_end = data.saturating_add(name_len);
        let value_start = name_end.saturating_add(1);
        let value_end = value_start.saturating_add(value_len);
        let (Some(name), Some(value)) =
            (bytes.get(data..name_end), bytes.get(value_start..value_end))
        else {
            break;
        };
        pairs.push((String::from_utf8_lossy(name).into_owned(), value.to_vec()));
        data = value_end.saturating_add(1);
    }
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_round_trip_through_the_wire_format() {
        let pairs = [(":method", "POST"), ("x-user-id", "u1"), ("empty", "")];
        let bytes = serialize_pairs(&pairs);
        let expected: Vec<(String, Vec<u8>)> = pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
            .collect();
        assert_eq!(deserialize_pairs(&bytes), expected);
    }

    #[test]
    fn the_layout_is_count_then_sizes_then_nul_terminated_data() {
        let bytes = serialize_pairs(&[("a", "bc")]);
        assert_eq!(
            bytes,
            [1, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, b'a', 0, b'b', b'c', 0]
        );
        assert_eq!(serialize_pairs(&[]), [0, 0, 0, 0]);
    }

    #[test]
    fn a_truncated_buffer_gives_the_pairs_before_the_damage() {
        let bytes = serialize_pairs(&[("a", "1"), ("b", "2")]);
        assert_eq!(
            deserialize_pairs(&bytes[..bytes.len() - 2]),
            vec![("a".to_string(), b"1".to_vec())]
        );
        assert!(deserialize_pairs(&[1, 0]).is_empty());
        // A huge claimed count with no data must not allocate or loop for it.
        assert!(deserialize_pairs(&[255, 255, 255, 255]).is_empty());
    }
}
