//! Prometheus-style durations (`500ms`, `3s`, `1m`, `2h`, `1h30m`).

use std::fmt::Write as _;

const UNITS: [(&str, u64); 7] = [
    ("y", 365 * 24 * 3_600_000),
    ("w", 7 * 24 * 3_600_000),
    ("d", 24 * 3_600_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
];

/// Parses a Prometheus duration into milliseconds: one or more `<integer><unit>` terms, units
/// `ms`, `s`, `m`, `h`, `d`, `w`, `y` from largest to smallest, e.g. `1h30m`.
pub fn parse_duration_ms(text: &str) -> Result<u64, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration; write e.g. 500ms, 30s, 5m or 2h".to_string());
    }
    let bytes = text.as_bytes();
    let mut pos = 0;
    let mut total: u64 = 0;
    let mut last_unit_rank: Option<usize> = None;
    while pos < bytes.len() {
        let digits_start = pos;
        while pos < bytes.len() && bytes[pos].is_ascii_digit() {
            pos += 1;
        }
        if digits_start == pos {
            return Err(format!("{text:?} is not a duration: expected a number at byte {pos}; write e.g. 500ms, 30s, 5m or 2h"));
        }
        let number: u64 = text[digits_start..pos]
            .parse()
            .map_err(|_| format!("{text:?}: number too large"))?;
        let unit_start = pos;
        while pos < bytes.len() && bytes[pos].is_ascii_alphabetic() {
            pos += 1;
        }
        let unit = &text[unit_start..pos];
        let Some(rank) = UNITS.iter().position(|(name, _)| *name == unit) else {
            return Err(format!(
                "{text:?} is not a duration: unknown unit {unit:?} (use ms, s, m, h, d, w or y)"
            ));
        };
        if last_unit_rank.is_some_and(|last| rank <= last) {
            return Err(format!(
                "{text:?}: units must go from largest to smallest, each once"
            ));
        }
        last_unit_rank = Some(rank);
        total = number
            .checked_mul(UNITS[rank].1)
            .and_then(|ms| total.checked_add(ms))
            .ok_or_else(|| format!("{text:?}: duration too large"))?;
    }
    Ok(total)
}

/// Formats milliseconds as a Prometheus duration (`90000` → `1m30s`, `0` → `0s`).
pub fn format_duration_ms(ms: u64) -> String {
    if ms == 0 {
        return "0s".to_string();
    }
    let mut rest = ms;
    let mut out = String::new();
    for (name, size) in UNITS.iter().skip(2) {
        let count = rest / size;
        if count > 0 {
            let _ = write!(out, "{count}{name}");
            rest -= count * size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit_and_compounds() {
        assert_eq!(parse_duration_ms("500ms"), Ok(500));
        assert_eq!(parse_duration_ms("3s"), Ok(3_000));
        assert_eq!(parse_duration_ms("1m"), Ok(60_000));
        assert_eq!(parse_duration_ms("2h"), Ok(7_200_000));
        assert_eq!(parse_duration_ms("1d"), Ok(86_400_000));
        assert_eq!(parse_duration_ms("1h30m"), Ok(5_400_000));
        assert_eq!(parse_duration_ms("1s500ms"), Ok(1_500));
    }

    #[test]
    fn refuses_malformed_text() {
        for bad in ["", "5", "m", "1.5s", "3 s", "1m1h", "1s1s", "10x", "-1s"] {
            assert!(parse_duration_ms(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn formats_back_to_prometheus_text() {
        assert_eq!(format_duration_ms(0), "0s");
        assert_eq!(format_duration_ms(500), "500ms");
        assert_eq!(format_duration_ms(90_000), "1m30s");
        assert_eq!(format_duration_ms(7_200_000), "2h");
        assert_eq!(format_duration_ms(86_400_000), "1d");
        for ms in [1, 999, 1_000, 61_001, 5_400_000] {
            assert_eq!(parse_duration_ms(&format_duration_ms(ms)), Ok(ms));
        }
    }
}
