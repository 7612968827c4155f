//! Throughput at a fixed number of connections with Debian's `wrk` (closed loop: each
//! connection sends its next request when the previous response arrived).

use anyhow::{bail, Context as _, Result};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// One `wrk` run.
#[derive(Debug, Clone)]
pub struct WrkRun {
    /// CPU list `wrk` is pinned to (`taskset -c`).
    pub cpus: String,
    /// Connections (one thread drives them all).
    pub connections: u32,
    /// Length of the run.
    pub duration: Duration,
}

/// What `wrk` reported.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WrkResult {
    /// Requests completed.
    pub requests: u64,
    /// Requests without a response within 10 s (a proxy starved of CPU by other processes).
    pub timeouts: u64,
    /// Requests per second over the run.
    pub requests_per_second: f64,
}

/// A Lua script for `wrk`: `POST path` with `headers`, the unit header `x-user-id` set to
/// `user-<n>` (a new user per request), and `body`.
pub fn lua_script(path: &str, authority: &str, headers: &[(&str, &str)], body: &str) -> String {
    // `wrk.format` adds `Host` (capitalised) unless the table has it, and `Content-Length`.
    let mut fields = format!("[\"Host\"] = {}", lua_string(authority));
    for (name, value) in headers {
        fields.push_str(&format!(", [{}] = {}", lua_string(name), lua_string(value)));
    }
    format!(
        "local n = 0\nlocal headers = {{ {fields} }}\nrequest = function()\n  n = n + 1\n  \
         headers[\"x-user-id\"] = \"user-\" .. n\n  return wrk.format(\"POST\", {path}, headers, {body})\nend\n",
        path = lua_string(path),
        body = lua_string(body),
    )
}

fn lua_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

impl WrkRun {
    /// Runs `wrk` with `script` against `port` on loopback. Fails when `wrk` is missing or
    /// saw errors or non-2xx responses.
    pub fn run(&self, script: &Path, port: u16) -> Result<WrkResult> {
        let out = Command::new("taskset")
            .args(["-c", &self.cpus, "wrk", "-t1"])
            .arg(format!("-c{}", self.connections))
            .arg(format!("-d{}s", self.duration.as_secs().max(1)))
            .arg("--timeout")
            .arg("10s")
            .arg("-s")
            .arg(script)
            .arg(format!("http://127.0.0.1:{port}/"))
            .output()
            .context("running wrk (`make bench-tools` installs Debian's wrk)")?;
        let text = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            bail!(
                "wrk failed: {}{}",
                text,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        parse_output(&text)
    }
}

/// Reads `N requests in ...`, `Requests/sec: R` and the timeouts; refuses `Non-2xx`
/// responses and connect, read or write errors.
pub fn parse_output(text: &str) -> Result<WrkResult> {
    if let Some(line) = text.lines().find(|l| l.contains("Non-2xx")) {
        bail!("wrk saw failing responses: {}", line.trim());
    }
    let mut timeouts = 0;
    if let Some(line) = text.lines().find(|l| l.contains("Socket errors:")) {
        // `Socket errors: connect 0, read 0, write 0, timeout 16`
        let count = |kind: &str| -> u64 {
            line.split(',')
                .find_map(|part| part.trim().rsplit_once(kind).map(|(_, n)| n.trim()))
                .and_then(|n| n.parse().ok())
                .unwrap_or(0)
        };
        if count("connect") + count("read") + count("write") > 0 {
            bail!("wrk saw socket errors: {}", line.trim());
        }
        timeouts = count("timeout");
    }
    let requests = text
        .lines()
        .find(|l| l.contains("requests in"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("no request count in wrk's output:\n{text}"))?;
    let requests_per_second = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Requests/sec:"))
        .and_then(|r| r.trim().parse().ok())
        .with_context(|| format!("no Requests/sec in wrk's output:\n{text}"))?;
    Ok(WrkResult {
        requests,
        timeouts,
        requests_per_second,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTPUT: &str = "Running 3s test @ http://127.0.0.1:1/\n  1 threads and 16 connections\n  \
        Thread Stats   Avg      Stdev     Max   +/- Stdev\n    Latency   1.10ms  200.00us   5.00ms   90.00%\n  \
        45012 requests in 3.00s, 6.01MB read\nRequests/sec:  15003.97\nTransfer/sec:      2.00MB\n";

    #[test]
    fn output_gives_requests_and_rate() -> Result<()> {
        let r = parse_output(OUTPUT)?;
        assert_eq!(r.requests, 45012);
        assert_eq!(r.timeouts, 0);
        assert!((r.requests_per_second - 15003.97).abs() < 1e-9);
        Ok(())
    }

    #[test]
    fn failing_responses_are_refused() {
        let bad = OUTPUT.replace(
            "Requests/sec",
            "  Non-2xx or 3xx responses: 12\nRequests/sec",
        );
        assert!(parse_output(&bad).is_err());
    }

    #[test]
    fn timeouts_are_counted_and_other_socket_errors_refused() -> Result<()> {
        let slow = OUTPUT.replace(
            "Requests/sec",
            "  Socket errors: connect 0, read 0, write 0, timeout 16\nRequests/sec",
        );
        assert_eq!(parse_output(&slow)?.timeouts, 16);
        let broken = OUTPUT.replace(
            "Requests/sec",
            "  Socket errors: connect 0, read 3, write 0, timeout 0\nRequests/sec",
        );
        assert!(parse_output(&broken).is_err());
        Ok(())
    }

    #[test]
    fn the_script_posts_with_a_new_user_each_request() {
        let s = lua_script("/p", "svc", &[("x-a", "q\"uote")], "{\"k\":1}");
        assert!(s.contains("[\"Host\"] = \"svc\", [\"x-a\"] = \"q\\\"uote\""));
        assert!(s.contains("headers[\"x-user-id\"] = \"user-\" .. n"));
        assert!(s.contains("wrk.format(\"POST\", \"/p\", headers, \"{\\\"k\\\":1}\")"));
    }
}
