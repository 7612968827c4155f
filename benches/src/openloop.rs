//! An open-loop HTTP/1.1 load generator for latency at a fixed request rate.
//!
//! Request `i` is due at `start + i / rate`, whatever happened to earlier requests, and its
//! latency is measured from that due time to the end of its response (no coordinated omission:
//! a stalled proxy delays the requests queued behind it, and their latency shows it). A few
//! worker threads, each with one keep-alive connection, take the next due request in order;
//! each sleeps until shortly before the due time and spins the rest so requests leave on time
//! (thread sleeps alone overshoot by ~60 µs). Requests are raw bytes written by the caller: no
//! client library sits between the clock and the socket.

use anyhow::{bail, Context as _, Result};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A fixed-rate run.
#[derive(Debug, Clone)]
pub struct OpenLoop {
    /// Proxy address.
    pub target: SocketAddr,
    /// Requests per second.
    pub rate: u32,
    /// Length of the run.
    pub duration: Duration,
    /// Connections (and threads): requests in flight at most.
    pub connections: usize,
}

/// Latencies of one run, in µs from each request's due time.
#[derive(Debug, Clone, PartialEq)]
pub struct Latencies {
    /// Sorted ascending.
    pub sorted_us: Vec<f64>,
    /// The largest delay between a due time and the write of its request, in µs (how late the
    /// generator itself was).
    pub max_send_lag_us: f64,
}

impl Latencies {
    /// The `q` quantile (`0.0..=1.0`) as `numpy.percentile(x, 100 * q, method="nearest")`
    /// computes it; 0 when empty.
    pub fn quantile(&self, q: f64) -> f64 {
        if self.sorted_us.is_empty() {
            return 0.0;
        }
        let position = (self.sorted_us.len() - 1) as f64 * q.clamp(0.0, 1.0);
        let rank = position.round_ties_even() as usize;
        self.sorted_us[rank]
    }
}

/// Spin instead of sleeping for the last stretch before a due time.
const SPIN: Duration = Duration::from_micros(200);

impl OpenLoop {
    /// Runs the plan; `request(i)` gives the bytes of request `i`. Fails on any non-2xx
    /// response or transport error (a bench of failing requests measures nothing).
    pub fn run<F>(&self, request: F) -> Result<Latencies>
    where
        F: Fn(u64) -> Vec<u8> + Send + Sync + 'static,
    {
        let total = u64::from(self.rate) * self.duration.as_secs().max(1);
        let interval_ns = 1_000_000_000 / u64::from(self.rate.max(1));
        let next = Arc::new(AtomicU64::new(0));
        let request = Arc::new(request);
        let mut streams = Vec::with_capacity(self.connections);
        for _ in 0..self.connections.max(1) {
            let stream = TcpStream::connect(self.target)
                .with_context(|| format!("connecting to {}", self.target))?;
            stream.set_nodelay(true)?;
            stream.set_read_timeout(Some(Duration::from_secs(5)))?;
            streams.push(stream);
        }
        let start = Instant::now() + Duration::from_millis(20);
        let workers: Vec<_> = streams
            .into_iter()
            .map(|mut stream| {
                let (next, request) = (next.clone(), request.clone());
                std::thread::spawn(move || -> Result<(Vec<f64>, f64)> {
                    let mut latencies = Vec::new();
                    let mut max_lag = 0.0f64;
                    let mut buf = Vec::with_capacity(4096);
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= total {
                            return Ok((latencies, max_lag));
                        }
                        let due = start + Duration::from_nanos(i * interval_ns);
                        wait_until(due);
                        let bytes = request(i);
                        max_lag = max_lag.max(due.elapsed().as_secs_f64() * 1e6);
                        stream.write_all(&bytes).context("writing a request")?;
                        let status = read_response(&mut stream, &mut buf)?;
                        latencies.push(due.elapsed().as_secs_f64() * 1e6);
                        if !(200..300).contains(&status) {
                            bail!("request {i} got HTTP {status}");
                        }
                    }
                })
            })
            .collect();
        let mut sorted_us = Vec::with_capacity(total as usize);
        let mut max_send_lag_us = 0.0f64;
        for worker in workers {
            let (latencies, lag) = worker
                .join()
                .map_err(|_| anyhow::anyhow!("an open-loop worker panicked"))??;
            sorted_us.extend(latencies);
            max_send_lag_us = max_send_lag_us.max(lag);
        }
        sorted_us.sort_by(f64::total_cmp);
        Ok(Latencies {
            sorted_us,
            max_send_lag_us,
        })
    }
}

fn wait_until(due: Instant) {
    let now = Instant::now();
    if due > now + SPIN {
        std::thread::sleep(due - now - SPIN);
    }
    while Instant::now() < due {
        std::hint::spin_loop();
    }
}

/// Reads one HTTP/1.1 response with a `content-length` body; returns its status. One request
/// is in flight per connection, so nothing follows the body.
pub fn read_response(stream: &mut impl Read, buf: &mut Vec<u8>) -> Result<u16> {
    buf.clear();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some((status, head_len, body_len)) = parse_head(buf)? {
            while buf.len() < head_len + body_len {
                let n = stream.read(&mut chunk).context("reading a response body")?;
                if n == 0 {
                    bail!("connection closed inside a response body");
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            return Ok(status);
        }
        let n = stream.read(&mut chunk).context("reading a response")?;
        if n == 0 {
            bail!("connection closed before a response");
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// `(status, head length, content-length)` once the head is complete, `None` before.
pub fn parse_head(buf: &[u8]) -> Result<Option<(u16, usize, usize)>> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = std::str::from_utf8(&buf[..end]).context("response head is not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("bad status line {status_line:?}"))?;
    let mut length = 0usize;
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().context("bad content-length")?;
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                bail!("chunked responses are not supported by the open-loop client");
            }
        }
    }
    Ok(Some((status, end + 4, length)))
}

/// A `POST` request with `headers` and a JSON `body`, keep-alive.
pub fn post_request(path: &str, authority: &str, headers: &[(&str, &str)], body: &str) -> Vec<u8> {
    let mut out = format!("POST {path} HTTP/1.1\r\nhost: {authority}\r\n");
    for (name, value) in headers {
        out.push_str(name);
        out.push_str(": ");
        out.push_str(value);
        out.push_str("\r\n");
    }
    out.push_str(&format!("content-length: {}\r\n\r\n{body}", body.len()));
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_response_is_read_to_the_end_of_its_body() -> Result<()> {
        let wire = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nx: y\r\n\r\nhello";
        // One byte at a time: the head and the body arrive in pieces.
        let mut reader = std::io::BufReader::with_capacity(1, &wire[..]);
        let mut buf = Vec::new();
        assert_eq!(read_response(&mut reader, &mut buf)?, 200);
        assert_eq!(parse_head(&buf)?, Some((200, 44, 5)));
        assert_eq!(&buf[44..], b"hello");
        let mut cut = &wire[..wire.len() - 1];
        assert!(
            read_response(&mut cut, &mut buf).is_err(),
            "a short body is an error"
        );
        Ok(())
    }

    #[test]
    fn a_head_is_incomplete_until_the_blank_line() -> Result<()> {
        assert_eq!(
            parse_head(b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n")?,
            None
        );
        assert!(parse_head(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n").is_err());
        Ok(())
    }

    #[test]
    fn quantiles_are_numpys_nearest_method() {
        let of = |n: u32| Latencies {
            sorted_us: (1..=n).map(f64::from).collect(),
            max_send_lag_us: 0.0,
        };
        // numpy.percentile(numpy.arange(1, 101), [50, 99, 100], method="nearest") = [51, 99, 100]
        assert_eq!(of(100).quantile(0.5), 51.0);
        assert_eq!(of(100).quantile(0.99), 99.0);
        assert_eq!(of(100).quantile(1.0), 100.0);
        // numpy.percentile(numpy.arange(1, 7), 50, method="nearest") = 3 (ties to even)
        assert_eq!(of(6).quantile(0.5), 3.0);
    }

    #[test]
    fn a_post_request_carries_its_length() {
        let bytes = post_request("/p", "svc", &[("x-user-id", "u1")], "{}");
        assert_eq!(
            String::from_utf8_lossy(&bytes),
            "POST /p HTTP/1.1\r\nhost: svc\r\nx-user-id: u1\r\ncontent-length: 2\r\n\r\n{}"
        );
    }
}
