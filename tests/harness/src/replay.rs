//! `rollgate-harness replay`: JSON Lines of requests in, one JSON line per request out, each
//! run through a new HTTP context of one VM (like one Envoy worker).
//!
//! Input line: `{"request": {"headers": {...}, "body": "..."}, "response": {...},
//! "call_response": {"headers": {":status": "200"}, "body": "..."}}` (`body_base64` instead of
//! `body` for binary). Output line: `{"request_headers", "response_headers", "local_response",
//! "http_calls", "logs"}`. Http calls dispatched while a line runs (by its stream, or by a root
//! context woken by a shared queue the stream enqueued to: the VM delivers `on_queue_ready`
//! right after the callback, as Envoy does) are answered after its stream ends (on the root context, as in
//! Envoy) with the line's `call_response`, or 200 and an empty body.

use crate::error::HarnessError;
use crate::headers::HeaderMap;
use crate::record::{HttpCallResponse, LogEntry};
use crate::stream::{Exchange, Message};
use crate::vm::Vm;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{BufRead, Write};

/// One HTTP message of an input line.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct LineMessage {
    /// Headers, pseudo-headers included.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// UTF-8 body.
    #[serde(default)]
    pub body: Option<String>,
    /// Binary body, base64 (standard alphabet).
    #[serde(default)]
    pub body_base64: Option<String>,
}

/// One input line.
#[derive(Debug, Clone, Deserialize)]
pub struct InputLine {
    /// The downstream request.
    pub request: LineMessage,
    /// The upstream response, if the line has one.
    #[serde(default)]
    pub response: Option<LineMessage>,
    /// How to answer http calls the filter dispatches.
    #[serde(default)]
    pub call_response: Option<LineMessage>,
}

/// A body in output JSON: text, plus base64 when it is not UTF-8.
#[derive(Debug, Clone, Serialize)]
pub struct OutputCall {
    /// Cluster called.
    pub cluster: String,
    /// Request headers of the call.
    pub headers: HeaderMap,
    /// Body (lossy UTF-8).
    pub body: String,
    /// Body as base64, only when it is not valid UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_base64: Option<String>,
}

/// A local response in output JSON.
#[derive(Debug, Clone, Serialize)]
pub struct OutputLocalResponse {
    /// HTTP status.
    pub status: u32,
    /// Body (lossy UTF-8).
    pub body: String,
    /// Body as base64, only when it is not valid UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_base64: Option<String>,
}

/// One output line.
#[derive(Debug, Clone, Serialize)]
pub struct OutputLine {
    /// Request headers as the router sees them.
    pub request_headers: HeaderMap,
    /// Response headers after the filter (empty when no response ran).
    pub response_headers: HeaderMap,
    /// The local response the filter sent, if any.
    pub local_response: Option<OutputLocalResponse>,
    /// Http calls the filter dispatched.
    pub http_calls: Vec<OutputCall>,
    /// `[level, message]` of every log written while the line ran.
    pub logs: Vec<(String, String)>,
}

fn body_fields(bytes: &[u8]) -> (String, Option<String>) {
    match std::str::from_utf8(bytes) {
        Ok(text) => (text.to_string(), None),
        Err(_) => (
            String::from_utf8_lossy(bytes).into_owned(),
            Some(base64::engine::general_purpose::STANDARD.encode(bytes)),
        ),
    }
}

impl LineMessage {
    fn body_bytes(&self, line: usize) -> Result<Vec<u8>, HarnessError> {
        match (&self.body, &self.body_base64) {
            (Some(_), Some(_)) => Err(HarnessError::ReplayInput {
                line,
                message: "give either `body` or `body_base64`, not both".into(),
            }),
            (Some(text), None) => Ok(text.clone().into_bytes()),
            (None, Some(b64)) => base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|e| HarnessError::ReplayInput {
                    line,
                    message: format!("`body_base64` is not base64: {e}"),
                }),
            (None, None) => Ok(Vec::new()),
        }
    }

    fn to_message(&self, line: usize) -> Result<Message, HarnessError> {
        Ok(Message::new(
            HeaderMap::from_pairs(&self.headers),
            self.body_bytes(line)?,
        ))
    }
}

/// Runs one parsed line on `vm` and builds its output.
pub fn run_line(vm: &mut Vm, input: &InputLine, line: usize) -> Result<OutputLine, HarnessError> {
    let exchange = Exchange {
        request: input.request.to_message(line)?,
        response: input
            .response
            .as_ref()
            .map(|r| r.to_message(line))
            .transpose()?,
    };
    let answer = match &input.call_response {
        Some(r) => HttpCallResponse {
            headers: HeaderMap::from_pairs(&r.headers),
            body: r.body_bytes(line)?,
            trailers: HeaderMap::new(),
        },
        None => HttpCallResponse::with_status(200, Vec::new()),
    };
    let mut logs: Vec<LogEntry> = vm.take_logs();
    logs.clear();
    let record = vm.run_exchange(&exchange)?;
    let calls = vm.take_new_http_calls();
    for call in &calls {
        vm.deliver_http_call_response(call.token, answer.clone())?;
    }
    vm.take_root_record();
    logs.extend(vm.take_logs());
    Ok(OutputLine {
        request_headers: record.request_headers,
        response_headers: record.response_headers.unwrap_or_default(),
        local_response: record.local_response.map(|l| {
            let (body, body_base64) = body_fields(&l.body);
            OutputLocalResponse {
                status: l.status,
                body,
                body_base64,
            }
        }),
        http_calls: calls
            .into_iter()
            .map(|c| {
                let (body, body_base64) = body_fields(&c.body);
                OutputCall {
                    cluster: c.cluster,
                    headers: c.headers,
                    body,
                    body_base64,
                }
            })
            .collect(),
        logs: logs
            .into_iter()
            .map(|l| (l.level.as_str().to_string(), l.message))
            .collect(),
    })
}

/// Reads JSON Lines from `input`, writes one JSON line per request to `output`. Blank lines are
/// skipped. Returns the number of requests replayed.
pub fn replay(
    vm: &mut Vm,
    input: impl BufRead,
    mut output: impl Write,
) -> Result<usize, HarnessError> {
    let mut count = 0;
    for (index, text) in input.lines().enumerate() {
        let text = text?;
        let line = index + 1;
        if text.trim().is_empty() {
            continue;
        }
        let parsed: InputLine =
            serde_json::from_str(&text).map_err(|e| HarnessError::ReplayInput {
                line,
                message: e.to_string(),
            })?;
        let out = run_line(vm, &parsed, line)?;
        let json = serde_json::to_string(&out).map_err(|e| HarnessError::ReplayInput {
            line,
            message: format!("cannot encode output: {e}"),
        })?;
        writeln!(output, "{json}")?;
        count += 1;
    }
    output.flush()?;
    Ok(count)
}
