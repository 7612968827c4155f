//! The per-request HTTP context: strip client-sent routing headers, decide, set the headers,
//! count, copy the shadow body while the stream continues, and dispatch the copy at the end.

use super::abi::types::{Action, BufferType, LogLevel, MapType};
use super::host;
use super::metric_ids::{class_index, ShadowResult};
use super::state::{Active, SharedState};
use rollgate_core::metrics::status_class;
use rollgate_core::routing::{Decision, HeaderList};
use rollgate_core::shadow::{extract, BodyCopy, CopyState, JsonScalar, SHADOW_HEADER};
use std::rc::Rc;
use xxhash_rust::xxh3::xxh3_64;

/// What the request was decided as (owned indexes; names live in the table).
#[derive(Clone, Copy)]
struct Decided {
    experiment: usize,
    variant: usize,
}

/// The shadow copy being assembled.
struct ShadowCopy {
    headers: Vec<(String, String)>,
    body: BodyCopy,
}

/// One request's context.
pub struct RollgateHttp {
    context_id: u32,
    shared: SharedState,
    active: Option<Rc<Active>>,
    decided: Option<Decided>,
    started_ms: u64,
    shadow: Option<ShadowCopy>,
    token: Option<u32>,
    primary_body: Option<BodyCopy>,
    primary_sent: bool,
}

impl RollgateHttp {
    /// A context for one request.
    pub fn new(context_id: u32, shared: SharedState) -> RollgateHttp {
        RollgateHttp {
            context_id,
            shared,
            active: None,
            decided: None,
            started_ms: 0,
            shadow: None,
            token: None,
            primary_body: None,
            primary_sent: false,
        }
    }

    fn random(&self) -> u64 {
        let counter = {
            let mut shared = self.shared.borrow_mut();
            shared.request_counter = shared.request_counter.wrapping_add(1);
            shared.request_counter
        };
        let mut seed = [0u8; 20];
        seed[..8].copy_from_slice(&host::now_ns().to_le_bytes());
        seed[8..16].copy_from_slice(&counter.to_le_bytes());
        seed[16..].copy_from_slice(&self.context_id.to_le_bytes());
        xxh3_64(&seed)
    }

    fn decide(&mut self, active: &Rc<Active>, pairs: Vec<(String, Vec<u8>)>) {
        let request = HeaderList::new(pairs);
        let random = self.random();
        let table = &active.table;
        let Some(decision) = table.decide_guarded(&request, random, |e, v| active.is_tripped(e, v))
        else {
            return;
        };
        let Decision {
            experiment_index,
            variant_index,
            cluster,
            variant_name,
            shadow,
            ..
        } = decision;
        host::set_header(MapType::HttpRequestHeaders, table.route_header(), cluster);
        host::set_header(
            MapType::HttpRequestHeaders,
            table.variant_header(),
            variant_name,
        );
        host::clear_route_cache();
        let ids = active
            .ids
            .get(experiment_index)
            .and_then(|e| e.variants.get(variant_index));
        host::increment(ids.and_then(|v| v.requests));
        self.decided = Some(Decided {
            experiment: experiment_index,
            variant: variant_index,
        });
        if shadow {
            // The copy carries every header: read the whole map only for sampled requests.
            let (route, variant) = (table.route_header(), table.variant_header());
            let all: Vec<(String, Vec<u8>)> = host::headers(MapType::HttpRequestHeaders)
                .into_iter()
                .filter(|(name, _)| name != route && name != variant)
                .collect();
            self.shadow = shadow_copy(active, experiment_index, &HeaderList::new(all));
        }
    }

    /// Dispatches the shadow copy (end of the request stream).
    fn dispatch_shadow(&mut self) {
        let (Some(copy), Some(active), Some(decided)) =
            (self.shadow.take(), self.active.clone(), self.decided)
        else {
            return;
        };
        let mut body = copy.body;
        let state = body.state();
        let bytes = body.release(&mut self.shared.borrow_mut().budget);
        if state != CopyState::Copying {
            active.count_shadow(decided.experiment, ShadowResult::SkippedTooLarge);
            return;
        }
        let Some(spec) = active
            .table
            .experiments()
            .get(decided.experiment)
            .and_then(|e| e.shadow.as_ref())
        else {
            return;
        };
        let headers: Vec<(&str, &str)> = copy
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let result = host::dispatch(&spec.cluster, &headers, &bytes, spec.timeout_ms);
        match result {
            Ok(token) => {
                active.count_shadow(decided.experiment, ShadowResult::Sent);
                let compared = spec.compare.is_some();
                self.shared.borrow_mut().track_call(
                    token,
                    active.clone(),
                    decided.experiment,
                    compared,
                );
                self.token = Some(token);
            }
            Err(status) => {
                active.count_shadow(decided.experiment, ShadowResult::Failed);
                host::log(
                    LogLevel::Warn,
                    &format!(
                        "rollgate: shadow call to cluster {} failed: {status}",
                        spec.cluster
                    ),
                );
            }
        }
    }

    /// Hands the primary's value to the root-owned comparison store.
    fn send_primary_value(&mut self, value: JsonScalar) {
        if self.primary_sent {
            return;
        }
        if let Some(token) = self.token {
            self.primary_sent = true;
            self.shared.borrow_mut().primary_value(token, value);
        }
    }

    fn compare_pointer(&self) -> Option<String> {
        let (active, decided) = (self.active.as_ref()?, self.decided?);
        let spec = active.table.experiments().get(decided.experiment)?;
        Some(spec.shadow.as_ref()?.compare.as_ref()?.json_pointer.clone())
    }
}

/// The copy's headers: the request's (routing headers already removed), `:authority` rewritten,
/// `x-rollgate-shadow: 1` added. Values that are not UTF-8 are carried lossily.
fn shadow_copy(active: &Active, experiment: usize, request: &HeaderList) -> Option<ShadowCopy> {
    let spec = active
        .table
        .experiments()
        .get(experiment)?
        .shadow
        .as_ref()?;
    let mut headers: Vec<(String, String)> = request
        .pairs()
        .iter()
        .filter(|(name, _)| {
            name != ":authority" && name != SHADOW_HEADER && name != "content-length"
        })
        .map(|(name, value)| (name.clone(), String::from_utf8_lossy(value).into_owned()))
        .collect();
    headers.push((":authority".to_string(), spec.authority.clone()));
    headers.push((SHADOW_HEADER.to_string(), "1".to_string()));
    let limit = usize::try_from(spec.max_body_bytes).unwrap_or(usize::MAX);
    Some(ShadowCopy {
        headers,
        body: BodyCopy::new(limit),
    })
}

impl RollgateHttp {
    /// A shadow call's response delivered on this context (hosts deliver to the root).
    pub fn on_http_call_response(&mut self, token_id: u32, body_size: usize) {
        self.shared
            .borrow_mut()
            .shadow_response(token_id, body_size);
    }

    /// Request headers: strip client-sent routing headers, decide, start the shadow copy.
    pub fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        let active = self.shared.borrow().active.clone();
        let Some(active) = active else {
            return Action::Continue;
        };
        let (route_header, variant_header) =
            (active.table.route_header(), active.table.variant_header());
        host::remove_header(MapType::HttpRequestHeaders, route_header);
        host::remove_header(MapType::HttpRequestHeaders, variant_header);
        // Only the headers a decision reads, one by name: no copy of the whole map.
        let pairs: Vec<(String, Vec<u8>)> = active
            .table
            .request_headers()
            .iter()
            .filter(|name| *name != route_header && *name != variant_header)
            .filter_map(|name| {
                host::header(MapType::HttpRequestHeaders, name).map(|v| (name.clone(), v))
            })
            .collect();
        self.started_ms = host::now_ms();
        self.decide(&active, pairs);
        self.active = Some(active);
        if end_of_stream {
            self.dispatch_shadow();
        }
        Action::Continue
    }

    /// A request body chunk: copy it for the shadow while the stream continues.
    pub fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        if let Some(copy) = self.shadow.as_mut() {
            if copy.body.state() == CopyState::Copying {
                let chunk =
                    host::buffer(BufferType::HttpRequestBody, body_size).unwrap_or_default();
                copy.body.push(&chunk, &mut self.shared.borrow_mut().budget);
            }
        }
        if end_of_stream {
            self.dispatch_shadow();
        }
        Action::Continue
    }

    /// Request trailers: the request is complete, send the shadow copy.
    pub fn on_http_request_trailers(&mut self, _num_trailers: usize) -> Action {
        self.dispatch_shadow();
        Action::Continue
    }

    /// Response headers: count the response, feed the guard, start copying the primary body.
    pub fn on_http_response_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        // A stream that never saw end of request (e.g. an early response) still sends its copy.
        self.dispatch_shadow();
        let (Some(active), Some(decided)) = (self.active.clone(), self.decided) else {
            return Action::Continue;
        };
        let status = host::header(MapType::HttpResponseHeaders, ":status")
            .and_then(|s| {
                std::str::from_utf8(&s)
                    .ok()
                    .and_then(|s| s.trim().parse::<u32>().ok())
            })
            .unwrap_or(0);
        if let Some(ids) = active
            .ids
            .get(decided.experiment)
            .and_then(|e| e.variants.get(decided.variant))
        {
            host::increment(ids.exposures);
            host::increment(
                ids.responses
                    .get(class_index(status_class(status)))
                    .copied()
                    .flatten(),
            );
            host::record(ids.duration, host::now_ms().saturating_sub(self.started_ms));
        }
        active.guard_response(decided.experiment, decided.variant, status);
        if self.token.is_some() {
            if end_of_stream {
                self.send_primary_value(JsonScalar::Absent);
            } else {
                let limit = active
                    .table
                    .experiments()
                    .get(decided.experiment)
                    .and_then(|e| e.shadow.as_ref())
                    .map_or(0, |s| {
                        usize::try_from(s.max_body_bytes).unwrap_or(usize::MAX)
                    });
                self.primary_body = Some(BodyCopy::new(limit));
            }
        }
        Action::Continue
    }

    /// A response body chunk: copy it; at the end hand the compared value over.
    pub fn on_http_response_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        if let Some(copy) = self.primary_body.as_mut() {
            if copy.state() == CopyState::Copying {
                let chunk =
                    host::buffer(BufferType::HttpResponseBody, body_size).unwrap_or_default();
                copy.push(&chunk, &mut self.shared.borrow_mut().budget);
            }
        }
        if end_of_stream {
            if let Some(mut copy) = self.primary_body.take() {
                let state = copy.state();
                let bytes = copy.release(&mut self.shared.borrow_mut().budget);
                let value = match (state, self.compare_pointer()) {
                    (CopyState::Copying, Some(pointer)) => extract(&bytes, &pointer),
                    _ => JsonScalar::Absent,
                };
                self.send_primary_value(value);
            }
        }
        Action::Continue
    }
}

impl Drop for RollgateHttp {
    fn drop(&mut self) {
        let mut shared = self.shared.borrow_mut();
        if let Some(copy) = self.shadow.as_mut() {
            copy.body.release(&mut shared.budget);
        }
        if let Some(copy) = self.primary_body.as_mut() {
            copy.release(&mut shared.budget);
        }
        // The shadow call (if any) stays pending: its response arrives on the root context.
    }
}
