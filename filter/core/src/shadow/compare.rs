//! Comparison of the shadow's answer with the primary's at a JSON pointer.

use std::fmt;

/// The value found at the JSON pointer of a response body.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonScalar {
    /// A JSON number.
    Number(f64),
    /// A JSON string.
    String(String),
    /// A JSON boolean.
    Bool(bool),
    /// Null, an object or an array: present but not comparable.
    Other,
    /// The body is not JSON or the pointer finds nothing.
    Absent,
}

impl fmt::Display for JsonScalar {
    /// Short rendering for log lines: strings are cut at 64 characters.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JsonScalar::Number(n) => write_number(f, *n),
            JsonScalar::String(s) => {
                let cut: String = s
                    .chars()
                    .take(64)
                    .map(|c| if c.is_control() { '?' } else { c })
                    .collect();
                let ellipsis = if cut.len() < s.len() { "..." } else { "" };
                write!(f, "\"{cut}{ellipsis}\"")
            }
            JsonScalar::Bool(b) => write!(f, "{b}"),
            JsonScalar::Other => f.write_str("(non-scalar)"),
            JsonScalar::Absent => f.write_str("(absent)"),
        }
    }
}

/// Writes a number without the float formatter (which would double the wasm size): integers
/// as integers, others with up to 6 decimals.
fn write_number(f: &mut fmt::Formatter<'_>, n: f64) -> fmt::Result {
    if !n.is_finite() || n.abs() >= 1e15 {
        return f.write_str(if n.is_nan() { "NaN" } else { "(large)" });
    }
    let sign = if n < 0.0 { "-" } else { "" };
    let micros = (n.abs() * 1e6).round() as u64;
    let (int, frac) = (micros / 1_000_000, micros % 1_000_000);
    if frac == 0 {
        return write!(f, "{sign}{int}");
    }
    let mut digits = format!("{frac:06}");
    while digits.ends_with('0') {
        digits.pop();
    }
    write!(f, "{sign}{int}.{digits}")
}

/// Outcome of one comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// Same string/bool, or numbers within tolerance.
    Agree,
    /// Comparable values that differ.
    Disagree,
    /// Different types, absent or non-scalar values.
    Incomparable,
}

impl Comparison {
    /// The `result` label of the comparisons metric.
    pub fn label(self) -> &'static str {
        match self {
            Comparison::Agree => "agree",
            Comparison::Disagree => "disagree",
            Comparison::Incomparable => "incomparable",
        }
    }
}

/// The scalar at RFC 6901 `pointer` in `body` (JSON).
pub fn extract(body: &[u8], pointer: &str) -> JsonScalar {
    let Ok(document) = serde_json::from_slice::<serde_json::Value>(body) else {
        return JsonScalar::Absent;
    };
    match document.pointer(pointer) {
        None => JsonScalar::Absent,
        Some(serde_json::Value::Number(n)) => {
            n.as_f64().map_or(JsonScalar::Other, JsonScalar::Number)
        }
        Some(serde_json::Value::String(s)) => JsonScalar::String(s.clone()),
        Some(serde_json::Value::Bool(b)) => JsonScalar::Bool(*b),
        Some(_) => JsonScalar::Other,
    }
}

/// Compares the shadow's value with the primary's: numbers agree when they differ by at most
/// `tolerance`, strings and booleans by equality; anything else is incomparable.
pub fn compare(shadow: &JsonScalar, primary: &JsonScalar, tolerance: f64) -> Comparison {
    let agree = match (shadow, primary) {
        (JsonScalar::Number(a), JsonScalar::Number(b)) => (a - b).abs() <= tolerance,
        (JsonScalar::String(a), JsonScalar::String(b)) => a == b,
        (JsonScalar::Bool(a), JsonScalar::Bool(b)) => a == b,
        _ => return Comparison::Incomparable,
    };
    if agree {
        Comparison::Agree
    } else {
        Comparison::Disagree
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparison_table() {
        let cases: [(&str, &str, f64, Comparison); 12] = [
            (r#"{"p":0.91}"#, r#"{"p":0.91}"#, 0.0, Comparison::Agree),
            (r#"{"p":0.91}"#, r#"{"p":0.93}"#, 0.05, Comparison::Agree),
            (r#"{"p":0.91}"#, r#"{"p":0.99}"#, 0.05, Comparison::Disagree),
            (r#"{"p":1}"#, r#"{"p":1.0}"#, 0.0, Comparison::Agree),
            (
                r#"{"p":"fraud"}"#,
                r#"{"p":"fraud"}"#,
                0.0,
                Comparison::Agree,
            ),
            (
                r#"{"p":"fraud"}"#,
                r#"{"p":"ok"}"#,
                10.0,
                Comparison::Disagree,
            ),
            (r#"{"p":true}"#, r#"{"p":true}"#, 0.0, Comparison::Agree),
            (r#"{"p":true}"#, r#"{"p":false}"#, 0.0, Comparison::Disagree),
            (r#"{"p":"1"}"#, r#"{"p":1}"#, 0.0, Comparison::Incomparable),
            (
                r#"{"p":null}"#,
                r#"{"p":null}"#,
                0.0,
                Comparison::Incomparable,
            ),
            (r#"{"q":1}"#, r#"{"p":1}"#, 0.0, Comparison::Incomparable),
            ("not json", r#"{"p":1}"#, 0.0, Comparison::Incomparable),
        ];
        for (shadow, primary, tolerance, expected) in cases {
            let got = compare(
                &extract(shadow.as_bytes(), "/p"),
                &extract(primary.as_bytes(), "/p"),
                tolerance,
            );
            assert_eq!(got, expected, "{shadow} vs {primary} ±{tolerance}");
        }
    }

    #[test]
    fn nested_pointers_and_escapes() {
        let body = br#"{"a":{"b/c":[10,{"d~e":"x"}]}}"#;
        assert_eq!(extract(body, "/a/b~1c/0"), JsonScalar::Number(10.0));
        assert_eq!(
            extract(body, "/a/b~1c/1/d~0e"),
            JsonScalar::String("x".into())
        );
        assert_eq!(extract(body, "/a"), JsonScalar::Other);
        assert_eq!(extract(b"\xff\xfe", "/a"), JsonScalar::Absent);
    }

    #[test]
    fn numbers_display_without_float_formatting() {
        for (n, text) in [
            (0.5, "0.5"),
            (-2.0, "-2"),
            (0.123_456_7, "0.123457"),
            (12.25, "12.25"),
        ] {
            assert_eq!(JsonScalar::Number(n).to_string(), text);
        }
    }

    #[test]
    fn display_is_short() {
        let long = JsonScalar::String("y".repeat(1000));
        assert!(long.to_string().len() < 80);
    }
}
