//! Conversions between hyper's header maps and the proxy-wasm header list, the way Envoy
//! presents them: pseudo-headers first, lower-case names, hop-by-hop headers left to the proxy.

use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::request::Parts;

use super::vm::HeaderList;

/// Connection-level headers a proxy never forwards (RFC 9110 §7.6.1), plus `host`, which the
/// proxy derives from `:authority`.
const NOT_FORWARDED: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "te",
    "trailer",
    "proxy-authenticate",
    "host",
];

/// The request headers the filter sees: `:method`, `:path`, `:authority`, `:scheme`, then the
/// client's headers; an `x-request-id` is added when the client sent none, as Envoy does.
pub fn request_header_list(parts: &Parts) -> HeaderList {
    let authority = parts
        .headers
        .get(http::header::HOST)
        .map(|value| value.as_bytes().to_vec())
        .or_else(|| {
            parts
                .uri
                .authority()
                .map(|authority| authority.as_str().as_bytes().to_vec())
        })
        .unwrap_or_default();
    let path = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    let mut list: HeaderList = vec![
        (
            ":method".to_string(),
            parts.method.as_str().as_bytes().to_vec(),
        ),
        (":path".to_string(), path.as_bytes().to_vec()),
        (":authority".to_string(), authority),
        (":scheme".to_string(), b"http".to_vec()),
    ];
    for (name, value) in &parts.headers {
        if name != http::header::HOST {
            list.push((name.as_str().to_string(), value.as_bytes().to_vec()));
        }
    }
    if !parts.headers.contains_key("x-request-id") {
        list.push(("x-request-id".to_string(), new_request_id().into_bytes()));
    }
    list
}

/// A random UUID v4 in its text form.
fn new_request_id() -> String {
    let bits = (rand::random::<u128>() & !(0xf << 76) & !(0x3 << 62)) | (0x4 << 76) | (0x2 << 62);
    let hex = format!("{bits:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// The response headers the filter sees: `:status`, then the upstream's headers.
pub fn response_header_list(status: u16, headers: &HeaderMap) -> HeaderList {
    let mut list: HeaderList = vec![(":status".to_string(), status.to_string().into_bytes())];
    list.extend(
        headers
            .iter()
            .map(|(name, value)| (name.as_str().to_string(), value.as_bytes().to_vec())),
    );
    list
}

/// The value of `name` (first occurrence) in a header list.
pub fn find<'a>(list: &'a HeaderList, name: &str) -> Option<&'a [u8]> {
    list.iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_slice())
}

/// The non-pseudo, forwardable headers of a list as a header map; entries hyper cannot carry
/// (invalid names or values) are dropped and returned by name for logging.
pub fn to_header_map(list: &HeaderList) -> (HeaderMap, Vec<String>) {
    let mut map = HeaderMap::with_capacity(list.len());
    let mut dropped = Vec::new();
    for (name, value) in list {
        if name.starts_with(':')
            || NOT_FORWARDED
                .iter()
                .any(|skip| name.eq_ignore_ascii_case(skip))
        {
            continue;
        }
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_bytes(value),
        ) {
            (Ok(name), Ok(value)) => {
                map.append(name, value);
            }
            _ => dropped.push(name.clone()),
        }
    }
    (map, dropped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_get_pseudo_headers_first_and_a_request_id() {
        let request = http::Request::builder()
            .method("POST")
            .uri("/predict?x=1")
            .header("host", "fraud-detector:8080")
            .header("x-user-id", "u1")
            .body(())
            .expect("valid request");
        let (parts, ()) = request.into_parts();
        let list = request_header_list(&parts);
        let names: Vec<&str> = list.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(
            names,
            [
                ":method",
                ":path",
                ":authority",
                ":scheme",
                "x-user-id",
                "x-request-id"
            ]
        );
        assert_eq!(find(&list, ":path"), Some(&b"/predict?x=1"[..]));
        assert_eq!(find(&list, ":authority"), Some(&b"fraud-detector:8080"[..]));
        let id =
            String::from_utf8(find(&list, "x-request-id").expect("id").to_vec()).expect("ascii");
        assert_eq!((id.len(), &id[14..15]), (36, "4"));
    }

    #[test]
    fn header_map_leaves_out_pseudo_hop_by_hop_and_invalid_headers() {
        let list: HeaderList = vec![
            (":status".into(), b"200".to_vec()),
            ("connection".into(), b"close".to_vec()),
            ("x-ok".into(), b"1".to_vec()),
            ("x-ok".into(), b"2".to_vec()),
            ("bad name".into(), b"v".to_vec()),
            ("x-bad-value".into(), b"a\nb".to_vec()),
        ];
        let (map, dropped) = to_header_map(&list);
        assert_eq!(map.len(), 2);
        assert_eq!(map.get_all("x-ok").iter().count(), 2);
        assert_eq!(dropped, ["bad name", "x-bad-value"]);
        assert_eq!(
            response_header_list(204, &map)[0],
            (":status".to_string(), b"204".to_vec())
        );
    }
}
