//! The plain request view the routing core decides on, and the parsing of what it carries
//! (authority without port, cookies).

/// Read access to a request's headers, by lower-case name, as raw bytes.
///
/// Pseudo-headers are read the way Envoy passes them: `:authority`, `:path`. Implementations
/// return the first value when a header repeats. Values may be any bytes (non-UTF-8 included).
pub trait RequestView {
    /// The value of header `name` (lower-case), if present.
    fn header(&self, name: &str) -> Option<&[u8]>;

    /// The `:authority` pseudo-header (empty when absent).
    fn authority(&self) -> &[u8] {
        self.header(":authority").unwrap_or_default()
    }

    /// The `:path` pseudo-header, query included (empty when absent).
    fn path(&self) -> &[u8] {
        self.header(":path").unwrap_or_default()
    }
}

/// A request as an owned list of (lower-case name, value) pairs; the glue builds one from the
/// host's header map.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderList {
    pairs: Vec<(String, Vec<u8>)>,
}

impl HeaderList {
    /// Wraps header pairs; names are lower-cased.
    pub fn new(pairs: Vec<(String, Vec<u8>)>) -> HeaderList {
        let pairs = pairs
            .into_iter()
            .map(|(name, value)| (name.to_ascii_lowercase(), value))
            .collect();
        HeaderList { pairs }
    }

    /// The pairs, in order.
    pub fn pairs(&self) -> &[(String, Vec<u8>)] {
        &self.pairs
    }
}

impl RequestView for HeaderList {
    fn header(&self, name: &str) -> Option<&[u8]> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }
}

/// The host part of an authority: the port is removed (`host:80` → `host`, `[::1]:80` → `[::1]`).
pub fn authority_host(authority: &[u8]) -> &[u8] {
    let after_bracket = authority
        .iter()
        .rposition(|&b| b == b']')
        .map_or(0, |i| i + 1);
    match authority.iter().rposition(|&b| b == b':') {
        Some(colon) if colon >= after_bracket => authority.get(..colon).unwrap_or(authority),
        _ => authority,
    }
}

/// The value of cookie `name` in a `Cookie` header (`a=1; b=2`), surrounding quotes removed.
/// Malformed pairs are skipped; an empty value counts as absent.
pub fn cookie_value<'a>(cookie_header: &'a [u8], name: &str) -> Option<&'a [u8]> {
    cookie_header
        .split(|&b| b == b';')
        .filter_map(|pair| {
            let pair = trim(pair);
            let eq = pair.iter().position(|&b| b == b'=')?;
            let (key, value) = (trim(pair.get(..eq)?), trim(pair.get(eq + 1..)?));
            (key == name.as_bytes()).then_some(unquote(value))
        })
        .find(|value| !value.is_empty())
}

fn trim(bytes: &[u8]) -> &[u8] {
    let is_space = |b: &u8| *b == b' ' || *b == b'\t';
    let start = bytes
        .iter()
        .position(|b| !is_space(b))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !is_space(b))
        .map_or(start, |i| i + 1);
    bytes.get(start..end).unwrap_or_default()
}

fn unquote(value: &[u8]) -> &[u8] {
    match value {
        [b'"', inner @ .., b'"'] => inner,
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authority_port_is_ignored() {
        assert_eq!(authority_host(b"svc:8080"), b"svc");
        assert_eq!(authority_host(b"svc"), b"svc");
        assert_eq!(authority_host(b"[::1]:80"), b"[::1]");
        assert_eq!(authority_host(b"[::1]"), b"[::1]");
        assert_eq!(authority_host(b""), b"");
    }

    #[test]
    fn cookies_are_parsed_robustly() {
        let header = b"a=1; uid=\"u-42\";  theme = dark ;broken; uid2=x;=;";
        assert_eq!(cookie_value(header, "uid"), Some(&b"u-42"[..]));
        assert_eq!(cookie_value(header, "theme"), Some(&b"dark"[..]));
        assert_eq!(cookie_value(header, "broken"), None);
        assert_eq!(cookie_value(b"uid=; uid=7", "uid"), Some(&b"7"[..]));
        assert_eq!(cookie_value(b"", "uid"), None);
        assert_eq!(cookie_value(b"uid=\xff\xfe", "uid"), Some(&b"\xff\xfe"[..]));
    }
}
