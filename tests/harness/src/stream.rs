//! HTTP stream callbacks on a [`Vm`], in Envoy's order: context create, request headers, body
//! chunks, trailers, response headers, body chunks, trailers, then log, done, delete.

use crate::error::HarnessError;
use crate::headers::HeaderMap;
use crate::host::StreamState;
use crate::record::{CallbackRecord, StreamRecord};
use crate::types::{Action, Callback};
use crate::vm::Vm;
use wasmtime::TypedFunc;

/// Handle of an open HTTP stream (its context id) on one VM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StreamId(pub u32);

/// Result of a body callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyOutcome {
    /// What the callback returned.
    pub action: Action,
    /// Bytes released to the next hop by this call (the possibly modified buffer on
    /// `Continue`; empty while the filter buffers).
    pub forwarded: Vec<u8>,
}

/// One HTTP message for [`Vm::run_exchange`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Message {
    /// Headers (pseudo-headers included, as Envoy passes them).
    pub headers: HeaderMap,
    /// Body chunks, in order (none: a header-only message).
    pub body_chunks: Vec<Vec<u8>>,
    /// Trailers, if any.
    pub trailers: Option<HeaderMap>,
}

impl Message {
    /// A message with the given headers and a single body chunk (none when `body` is empty).
    pub fn new(headers: HeaderMap, body: impl Into<Vec<u8>>) -> Self {
        let body = body.into();
        Self {
            headers,
            body_chunks: if body.is_empty() {
                Vec::new()
            } else {
                vec![body]
            },
            trailers: None,
        }
    }
}

/// A request and the upstream response to feed back, for [`Vm::run_exchange`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Exchange {
    /// The downstream request.
    pub request: Message,
    /// The upstream response (skipped when absent or when the filter sent a local response).
    pub response: Option<Message>,
}

type HeadersFn = Option<TypedFunc<(i32, i32, i32), i32>>;
type BodyFn = Option<TypedFunc<(i32, i32, i32), i32>>;
type TrailersFn = Option<TypedFunc<(i32, i32), i32>>;

impl Vm {
    /// Opens a stream: `proxy_on_context_create(id, root_id)`.
    pub fn create_stream(&mut self) -> Result<StreamId, HarnessError> {
        let id = self.allocate_context_id();
        let root = self.root_context_id();
        let start = self.now_unix_nanos();
        let state = StreamState {
            record: StreamRecord {
                context_id: id,
                ..Default::default()
            },
            start_nanos: start,
            root,
            ..Default::default()
        };
        self.store.data_mut().streams.insert(id, state);
        let func = self.exports.on_context_create.clone();
        if let Err(e) = self.call(
            "proxy_on_context_create",
            id,
            func.as_ref(),
            (id as i32, root as i32),
        ) {
            self.store.data_mut().streams.remove(&id);
            return Err(e);
        }
        Ok(StreamId(id))
    }

    /// The live record of an open stream.
    pub fn stream(&self, stream: StreamId) -> Option<&StreamRecord> {
        self.store.data().streams.get(&stream.0).map(|s| &s.record)
    }

    fn stream_mut(&mut self, stream: StreamId) -> Result<&mut StreamState, HarnessError> {
        self.store
            .data_mut()
            .streams
            .get_mut(&stream.0)
            .ok_or(HarnessError::UnknownStream(stream.0))
    }

    fn finish_callback(
        &mut self,
        stream: StreamId,
        callback: Callback,
        raw: Option<i32>,
    ) -> Result<Action, HarnessError> {
        let stopped = self.store.data().stop_iteration;
        let state = self.stream_mut(stream)?;
        let action = match raw {
            _ if stopped => Action::Pause,
            Some(code) => Action::from_abi(code),
            None => Action::Continue,
        };
        let slot = match callback {
            Callback::RequestHeaders => Some(0),
            Callback::RequestTrailers => Some(1),
            Callback::ResponseHeaders => Some(2),
            Callback::ResponseTrailers => Some(3),
            Callback::RequestBody | Callback::ResponseBody => None,
        };
        if let (Some(slot), Action::Continue) = (slot, action) {
            state.live_maps[slot] = false;
        }
        let record = &mut state.record;
        let headers_after = match callback {
            Callback::RequestHeaders => Some(record.request_headers.clone()),
            Callback::RequestTrailers => record.request_trailers.clone(),
            Callback::ResponseHeaders => record.response_headers.clone(),
            Callback::ResponseTrailers => record.response_trailers.clone(),
            Callback::RequestBody | Callback::ResponseBody => None,
        };
        record.callbacks.push(CallbackRecord {
            callback,
            action,
            headers_after,
        });
        Ok(action)
    }

    fn headers_callback(
        &mut self,
        stream: StreamId,
        callback: Callback,
        func: HeadersFn,
        count: usize,
        end_of_stream: bool,
    ) -> Result<Action, HarnessError> {
        let name = callback.export_name();
        let raw = self.call(
            name,
            stream.0,
            func.as_ref(),
            (stream.0 as i32, count as i32, end_of_stream as i32),
        )?;
        self.finish_callback(stream, callback, raw)
    }

    /// `proxy_on_request_headers`; the filter sees and may change `headers`.
    pub fn request_headers(
        &mut self,
        stream: StreamId,
        headers: HeaderMap,
        end_of_stream: bool,
    ) -> Result<Action, HarnessError> {
        let count = headers.len();
        let state = self.stream_mut(stream)?;
        state.record.request_headers = headers;
        state.live_maps[0] = true;
        let func = self.exports.on_request_headers.clone();
        self.headers_callback(stream, Callback::RequestHeaders, func, count, end_of_stream)
    }

    /// `proxy_on_response_headers`.
    pub fn response_headers(
        &mut self,
        stream: StreamId,
        headers: HeaderMap,
        end_of_stream: bool,
    ) -> Result<Action, HarnessError> {
        let count = headers.len();
        let state = self.stream_mut(stream)?;
        state.record.response_headers = Some(headers);
        state.live_maps[2] = true;
        state.in_response = true;
        let func = self.exports.on_response_headers.clone();
        self.headers_callback(
            stream,
            Callback::ResponseHeaders,
            func,
            count,
            end_of_stream,
        )
    }

    fn body_callback(
        &mut self,
        stream: StreamId,
        callback: Callback,
        func: BodyFn,
        chunk: &[u8],
        end_of_stream: bool,
    ) -> Result<BodyOutcome, HarnessError> {
        let request = callback == Callback::RequestBody;
        let state = self.stream_mut(stream)?;
        let buffer = if request {
            &mut state.request_body
        } else {
            &mut state.response_body
        };
        buffer.extend_from_slice(chunk);
        let size = buffer.len();
        let name = callback.export_name();
        let raw = self.call(
            name,
            stream.0,
            func.as_ref(),
            (stream.0 as i32, size as i32, end_of_stream as i32),
        )?;
        let action = self.finish_callback(stream, callback, raw)?;
        let state = self.stream_mut(stream)?;
        let (buffer, released) = if request {
            (&mut state.request_body, &mut state.record.request_body)
        } else {
            (&mut state.response_body, &mut state.record.response_body)
        };
        let forwarded = match action {
            Action::Continue => std::mem::take(buffer),
            Action::StopIterationNoBuffer => {
                buffer.clear();
                Vec::new()
            }
            _ => Vec::new(),
        };
        released.extend_from_slice(&forwarded);
        Ok(BodyOutcome { action, forwarded })
    }

    /// `proxy_on_request_body` with the next chunk (appended to what the filter buffered).
    pub fn request_body(
        &mut self,
        stream: StreamId,
        chunk: &[u8],
        end_of_stream: bool,
    ) -> Result<BodyOutcome, HarnessError> {
        let func = self.exports.on_request_body.clone();
        self.body_callback(stream, Callback::RequestBody, func, chunk, end_of_stream)
    }

    /// `proxy_on_response_body` with the next chunk.
    pub fn response_body(
        &mut self,
        stream: StreamId,
        chunk: &[u8],
        end_of_stream: bool,
    ) -> Result<BodyOutcome, HarnessError> {
        self.stream_mut(stream)?.in_response = true;
        let func = self.exports.on_response_body.clone();
        self.body_callback(stream, Callback::ResponseBody, func, chunk, end_of_stream)
    }

    fn trailers_callback(
        &mut self,
        stream: StreamId,
        callback: Callback,
        func: TrailersFn,
        count: usize,
    ) -> Result<Action, HarnessError> {
        let name = callback.export_name();
        let raw = self.call(
            name,
            stream.0,
            func.as_ref(),
            (stream.0 as i32, count as i32),
        )?;
        self.finish_callback(stream, callback, raw)
    }

    /// `proxy_on_request_trailers`.
    pub fn request_trailers(
        &mut self,
        stream: StreamId,
        trailers: HeaderMap,
    ) -> Result<Action, HarnessError> {
        let count = trailers.len();
        let state = self.stream_mut(stream)?;
        state.record.request_trailers = Some(trailers);
        state.live_maps[1] = true;
        let func = self.exports.on_request_trailers.clone();
        self.trailers_callback(stream, Callback::RequestTrailers, func, count)
    }

    /// `proxy_on_response_trailers`.
    pub fn response_trailers(
        &mut self,
        stream: StreamId,
        trailers: HeaderMap,
    ) -> Result<Action, HarnessError> {
        let count = trailers.len();
        let state = self.stream_mut(stream)?;
        state.record.response_trailers = Some(trailers);
        state.live_maps[3] = true;
        let func = self.exports.on_response_trailers.clone();
        self.trailers_callback(stream, Callback::ResponseTrailers, func, count)
    }

    /// Ends a stream: `proxy_on_log`, `proxy_on_done`, `proxy_on_delete`; returns its record.
    /// The stream is removed even if a callback traps (the error is returned). A guest whose
    /// `proxy_on_done` returns false (deferring deletion until `proxy_done`) is deleted at once.
    pub fn finish_stream(&mut self, stream: StreamId) -> Result<StreamRecord, HarnessError> {
        self.stream_mut(stream)?;
        let id = stream.0 as i32;
        let on_log = self.exports.on_log.clone();
        let on_done = self.exports.on_done.clone();
        let on_delete = self.exports.on_delete.clone();
        self.store.data_mut().log_phase = true;
        let logged = self.call("proxy_on_log", stream.0, on_log.as_ref(), id);
        self.store.data_mut().log_phase = false;
        let result = logged
            .and_then(|_| self.call("proxy_on_done", stream.0, on_done.as_ref(), id))
            .and_then(|_| self.call("proxy_on_delete", stream.0, on_delete.as_ref(), id));
        let state = self
            .store
            .data_mut()
            .streams
            .remove(&stream.0)
            .ok_or(HarnessError::UnknownStream(stream.0))?;
        let record = result.map(|_| state.record)?;
        self.retire_if_idle(state.root)?;
        Ok(record)
    }

    /// Runs a whole exchange on a new stream: request headers (end of stream when there is no
    /// body or trailers), body chunks, trailers; then, unless the filter sent a local response,
    /// the response the same way; then log/done/delete. Returns the stream's record.
    pub fn run_exchange(&mut self, exchange: &Exchange) -> Result<StreamRecord, HarnessError> {
        let stream = self.create_stream()?;
        let outcome = self.drive_exchange(stream, exchange);
        match outcome {
            Ok(()) => self.finish_stream(stream),
            Err(e) => {
                self.store.data_mut().streams.remove(&stream.0);
                Err(e)
            }
        }
    }

    fn drive_exchange(
        &mut self,
        stream: StreamId,
        exchange: &Exchange,
    ) -> Result<(), HarnessError> {
        self.drive_message(stream, &exchange.request, true)?;
        let local = self
            .stream(stream)
            .is_some_and(|s| s.local_response.is_some());
        if let (Some(response), false) = (&exchange.response, local) {
            self.drive_message(stream, response, false)?;
        }
        Ok(())
    }

    fn drive_message(
        &mut self,
        stream: StreamId,
        message: &Message,
        request: bool,
    ) -> Result<(), HarnessError> {
        let chunks = message.body_chunks.len();
        let has_trailers = message.trailers.is_some();
        let headers_end = chunks == 0 && !has_trailers;
        if request {
            self.request_headers(stream, message.headers.clone(), headers_end)?;
        } else {
            self.response_headers(stream, message.headers.clone(), headers_end)?;
        }
        for (i, chunk) in message.body_chunks.iter().enumerate() {
            if self
                .stream(stream)
                .is_some_and(|s| s.local_response.is_some())
            {
                return Ok(());
            }
            let end = i + 1 == chunks && !has_trailers;
            if request {
                self.request_body(stream, chunk, end)?;
            } else {
                self.response_body(stream, chunk, end)?;
            }
        }
        if let Some(trailers) = &message.trailers {
            if request {
                self.request_trailers(stream, trailers.clone())?;
            } else {
                self.response_trailers(stream, trailers.clone())?;
            }
        }
        Ok(())
    }
}
