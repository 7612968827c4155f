//! A keep-alive HTTP/1.1 client for Envoy's listener: one connection pool, requests sent
//! many at a time so a test can route 10,000+ users in seconds.

use super::upstream::UPSTREAM_HEADER;
use crate::E2eError;
use bytes::Bytes;
use futures::stream::{self, StreamExt};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// One request to Envoy's listener.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// `GET` or `POST` (any method name).
    pub method: String,
    /// Path and query.
    pub path: String,
    /// `:authority` (the `Host` header); default: the listener address.
    pub authority: Option<String>,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// Body (sent with a content length).
    pub body: Option<Bytes>,
}

impl Request {
    /// `GET path`.
    pub fn get(path: &str) -> Self {
        Self {
            method: "GET".to_string(),
            path: path.to_string(),
            authority: None,
            headers: Vec::new(),
            body: None,
        }
    }

    /// `POST path` with `body`.
    pub fn post(path: &str, body: impl Into<Bytes>) -> Self {
        Self {
            method: "POST".to_string(),
            body: Some(body.into()),
            ..Self::get(path)
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Adds `x-user-id: user` (the default unit header).
    pub fn user(self, user: &str) -> Self {
        self.header("x-user-id", user)
    }

    /// Sets the `:authority`.
    pub fn authority(mut self, authority: &str) -> Self {
        self.authority = Some(authority.to_string());
        self
    }
}

/// Envoy's answer.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Response headers, names lower-case.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Bytes,
    /// Time from sending to the whole body.
    pub elapsed: Duration,
}

impl Reply {
    /// The first value of response header `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Which loopback upstream answered (its `x-upstream` header), if one did.
    pub fn upstream(&self) -> Option<&str> {
        self.header(UPSTREAM_HEADER)
    }
}

/// A pooled client of one Envoy listener.
#[derive(Debug, Clone)]
pub struct Client {
    inner: reqwest::Client,
    addr: SocketAddr,
}

impl Client {
    /// A client of `addr` (no proxy, HTTP/1.1 keep-alive, 10 s per request).
    pub fn new(addr: SocketAddr) -> Result<Self, E2eError> {
        let inner = reqwest::Client::builder()
            .no_proxy()
            .http1_only()
            .pool_max_idle_per_host(256)
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|err| E2eError::Protocol {
                what: "building an HTTP client".to_string(),
                why: err.to_string(),
            })?;
        Ok(Self { inner, addr })
    }

    /// The listener address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Sends one request.
    pub async fn send(&self, request: &Request) -> Result<Reply, E2eError> {
        let url = format!("http://{}{}", self.addr, request.path);
        let what = || format!("{} {url}", request.method);
        let method = reqwest::Method::from_bytes(request.method.as_bytes()).map_err(|err| {
            E2eError::Protocol {
                what: what(),
                why: err.to_string(),
            }
        })?;
        let mut builder = self.inner.request(method, &url);
        if let Some(authority) = &request.authority {
            builder = builder.header(reqwest::header::HOST, authority);
        }
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        if let Some(body) = &request.body {
            builder = builder.body(body.clone());
        }
        let started = Instant::now();
        let response = builder.send().await.map_err(|err| E2eError::Protocol {
            what: what(),
            why: format!("{err:?}"),
        })?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = response.bytes().await.map_err(|err| E2eError::Protocol {
            what: what(),
            why: format!("reading the body: {err:?}"),
        })?;
        Ok(Reply {
            status,
            headers,
            body,
            elapsed: started.elapsed(),
        })
    }

    /// Sends `requests` with at most `concurrency` in flight; the replies in request order.
    pub async fn send_all(
        &self,
        requests: &[Request],
        concurrency: usize,
    ) -> Result<Vec<Reply>, E2eError> {
        let replies: Vec<Result<Reply, E2eError>> = stream::iter(requests)
            .map(|r| self.send(r))
            .buffered(concurrency.max(1))
            .collect()
            .await;
        replies.into_iter().collect()
    }
}
