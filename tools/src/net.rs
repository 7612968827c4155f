//! Loopback networking helpers: free ports and a tiny blocking HTTP/1.1 client (one request per
//! connection, `Connection: close`; chunked answers are decoded). HTTP/1.1 because Envoy's
//! admin interface refuses HTTP/1.0 (426 Upgrade Required).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

/// What can go wrong talking to a loopback server.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// A socket operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// OS error.
        source: std::io::Error,
    },
    /// The server answered something that is not HTTP.
    #[error("{what}: {why}")]
    Protocol {
        /// The request.
        what: String,
        /// What was wrong.
        why: String,
    },
}

/// A loopback port that was free a moment ago: bind `127.0.0.1:0`, read the port, release it.
/// For programs that cannot report the port they bound themselves.
pub fn free_port() -> Result<u16, NetError> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|source| NetError::Io {
        what: "binding 127.0.0.1:0 to find a free port".to_string(),
        source,
    })?;
    let port = listener
        .local_addr()
        .map_err(|source| NetError::Io {
            what: "reading the local address of a bound socket".to_string(),
            source,
        })?
        .port();
    Ok(port)
}

/// An HTTP response: status and body text.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpReply {
    /// Status code.
    pub status: u16,
    /// Body, as (lossy) UTF-8.
    pub body: String,
}

/// Percent-encodes a query parameter value (RFC 3986 unreserved characters pass through).
pub fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Sends one HTTP/1.0 request to a loopback address and reads the whole answer.
pub fn http(
    addr: SocketAddr,
    method: &str,
    path_and_query: &str,
    body: Option<&str>,
    timeout: Duration,
) -> Result<HttpReply, NetError> {
    let what = format!("{method} http://{addr}{path_and_query}");
    let io = |source| NetError::Io {
        what: what.clone(),
        source,
    };
    let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(io)?;
    stream.set_read_timeout(Some(timeout)).map_err(io)?;
    stream.set_write_timeout(Some(timeout)).map_err(io)?;
    let body = body.unwrap_or("");
    let request = format!(
        "{method} {path_and_query} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).map_err(io)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).map_err(io)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| NetError::Protocol {
            what: what.clone(),
            why: format!("no HTTP status line in {:?}", head.lines().next()),
        })?;
    let chunked = head.lines().any(|line| {
        line.split_once(':').is_some_and(|(name, value)| {
            name.trim().eq_ignore_ascii_case("transfer-encoding")
                && value.trim().eq_ignore_ascii_case("chunked")
        })
    });
    let body = if chunked {
        dechunk(body).ok_or_else(|| NetError::Protocol {
            what: what.clone(),
            why: "malformed chunked body".to_string(),
        })?
    } else {
        body.to_string()
    };
    Ok(HttpReply { status, body })
}

/// Decodes a chunked HTTP/1.1 body (`<hex size>\r\n<data>\r\n` ... `0\r\n\r\n`).
fn dechunk(mut rest: &str) -> Option<String> {
    let mut out = String::new();
    loop {
        let (size_line, after) = rest.split_once("\r\n")?;
        let size_text = size_line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).ok()?;
        if size == 0 {
            return Some(out);
        }
        out.push_str(after.get(..size)?);
        rest = after.get(size..)?.strip_prefix("\r\n")?;
    }
}

/// `GET` with a 5 s timeout.
pub fn http_get(addr: SocketAddr, path_and_query: &str) -> Result<HttpReply, NetError> {
    http(addr, "GET", path_and_query, None, Duration::from_secs(5))
}

/// `POST` of a JSON body with a 5 s timeout.
pub fn http_post(addr: SocketAddr, path: &str, json: &str) -> Result<HttpReply, NetError> {
    http(addr, "POST", path, Some(json), Duration::from_secs(5))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_promql() {
        assert_eq!(
            url_encode("sum(rate(x{a=\"b\"}[5s]))"),
            "sum%28rate%28x%7Ba%3D%22b%22%7D%5B5s%5D%29%29"
        );
    }

    #[test]
    fn decodes_chunked_bodies() {
        assert_eq!(
            dechunk("4\r\nWiki\r\n6;x=y\r\npedia \r\n0\r\n\r\n").as_deref(),
            Some("Wikipedia ")
        );
        assert_eq!(dechunk("zz\r\n"), None);
        assert_eq!(dechunk("9\r\nshort\r\n"), None);
    }

    #[test]
    fn free_ports_are_bindable() -> Result<(), NetError> {
        let port = free_port()?;
        assert!(port > 0);
        assert!(TcpListener::bind(("127.0.0.1", port)).is_ok());
        Ok(())
    }
}
