//! The per-request logic: decide, set the routing headers, count, copy the shadow body while
//! the stream continues, and hand the copy to the VM's roots at the end of the request.
//!
//! A request that is not shadow-sampled costs only: one read per header the decision reaches
//! (by name, on first use), one clock read, two header sets, the `clear_route_cache` foreign call and one
//! counter on the request; one `:status` read, two counters, one clock read and one histogram
//! record on the response. Body callbacks return at once; nothing is allocated beyond the
//! header values the host hands over.

use crate::active::Active;
use crate::host::{Buffer, Host, Map};
use crate::metric_ids::class_index;
use crate::shadow_calls::ShadowCopy;
use crate::vm::VmHandle;
use rollgate_core::config::ShadowConfig;
use rollgate_core::metrics::status_class;
use rollgate_core::routing::{HeaderList, RequestView};
use rollgate_core::shadow::{
    extract, BodyCopy, CopyState, JsonScalar, ShadowResult, SHADOW_HEADER,
};
use std::cell::OnceCell;
use std::rc::Rc;
use xxhash_rust::xxh3::xxh3_64;

/// What the request was decided as.
#[derive(Clone, Copy)]
struct Decided {
    experiment: usize,
    variant: usize,
}

/// The shadow copy being assembled.
struct PendingCopy {
    headers: Vec<(String, String)>,
    body: BodyCopy,
}

/// Header slots kept inline in a request's [`LazyHeaders`] (on the stack): a table reading up
/// to this many headers allocates nothing for them; more spill into one `Vec`.
const INLINE_HEADER_SLOTS: usize = 8;

/// One header's value, fetched on first use (`None` inside: absent).
type Slot = OnceCell<Option<Vec<u8>>>;

/// The headers a decision may read (the table's list), each fetched by name from the host the
/// first time the decision asks for it: a header the decision does not reach (the cookie when
/// the unit header is there) costs no host call. Client-sent routing headers read as absent.
struct LazyHeaders<'a, H: Host> {
    host: &'a H,
    names: &'a [String],
    skip: [&'a str; 2],
    inline: [Slot; INLINE_HEADER_SLOTS],
    spill: Vec<Slot>,
}

impl<'a, H: Host> LazyHeaders<'a, H> {
    fn new(host: &'a H, names: &'a [String], skip: [&'a str; 2]) -> Self {
        let spilled = names.len().saturating_sub(INLINE_HEADER_SLOTS);
        LazyHeaders {
            host,
            names,
            skip,
            inline: Default::default(),
            spill: (0..spilled).map(|_| OnceCell::new()).collect(),
        }
    }

    fn slot(&self, index: usize) -> Option<&Slot> {
        match index.checked_sub(INLINE_HEADER_SLOTS) {
            None => self.inline.get(index),
            Some(spilled) => self.spill.get(spilled),
        }
    }
}

impl<H: Host> RequestView for LazyHeaders<'_, H> {
    fn header(&self, name: &str) -> Option<&[u8]> {
        let index = self.names.iter().position(|n| n == name)?;
        self.slot(index)?
            .get_or_init(|| {
                if self.skip.contains(&name) {
                    None
                } else {
                    self.host.header(Map::RequestHeaders, name)
                }
            })
            .as_deref()
    }
}

/// One request's context.
pub struct StreamLogic {
    context_id: u32,
    vm: VmHandle,
    active: Option<Rc<Active>>,
    decided: Option<Decided>,
    started_ms: u64,
    shadow: Option<PendingCopy>,
    /// The handed-over copy whose comparison waits for the primary's value.
    compared_copy: Option<u64>,
    primary_body: Option<BodyCopy>,
}

impl StreamLogic {
    /// A context for one request under `active` (none: the filter passes requests through).
    pub fn new(context_id: u32, vm: VmHandle, active: Option<Rc<Active>>) -> StreamLogic {
        StreamLogic {
            context_id,
            vm,
            active,
            decided: None,
            started_ms: 0,
            shadow: None,
            compared_copy: None,
            primary_body: None,
        }
    }

    /// Request headers: decide, set (or strip) the routing headers, start the shadow copy.
    pub fn on_request_headers(&mut self, host: &impl Host, end_of_stream: bool) {
        let Some(active) = self.active.as_deref() else {
            return;
        };
        let table = &active.table;
        let (route_header, variant_header) = (table.route_header(), table.variant_header());
        // Only the headers a decision reads, when it reads them; routing headers never.
        let request = LazyHeaders::new(
            host,
            table.request_headers(),
            [route_header, variant_header],
        );
        let now_ns = host.now_ns();
        self.started_ms = now_ns / 1_000_000;
        // The random value only when the decision needs one, and the same one all through it.
        let random = OnceCell::new();
        let random = || *random.get_or_init(|| request_random(&self.vm, self.context_id, now_ns));
        let decision = table.decide_guarded(&request, random, |e, v| active.is_tripped(host, e, v));
        let Some(decision) = decision else {
            // Nothing decided: a client must not pick the cluster or variant itself.
            host.remove_header(Map::RequestHeaders, route_header);
            host.remove_header(Map::RequestHeaders, variant_header);
            return;
        };
        // Replace semantics: whatever a client sent is overwritten.
        host.set_header(Map::RequestHeaders, route_header, decision.cluster);
        host.set_header(Map::RequestHeaders, variant_header, decision.variant_name);
        host.clear_route_cache();
        let (experiment, variant) = (decision.experiment_index, decision.variant_index);
        host.increment(
            active
                .variant_ids(experiment, variant)
                .and_then(|v| v.requests),
        );
        self.decided = Some(Decided {
            experiment,
            variant,
        });
        if decision.shadow {
            // The copy carries every header: the whole map is read only for sampled requests.
            let all: Vec<(String, Vec<u8>)> = host
                .headers(Map::RequestHeaders)
                .into_iter()
                .filter(|(name, _)| name != route_header && name != variant_header)
                .collect();
            self.shadow = shadow_copy(active, experiment, &HeaderList::new(all));
        }
        if end_of_stream {
            self.hand_off(host);
        }
    }

    /// A request body chunk: copied for a sampled request while the stream continues.
    pub fn on_request_body(&mut self, host: &impl Host, body_size: usize, end_of_stream: bool) {
        let Some(copy) = self.shadow.as_mut() else {
            return;
        };
        if copy.body.state() == CopyState::Copying && body_size > 0 {
            let chunk = host
                .buffer(Buffer::RequestBody, body_size)
                .unwrap_or_default();
            copy.body.push(&chunk, &mut self.vm.borrow_mut().budget);
        }
        if end_of_stream {
            self.hand_off(host);
        }
    }

    /// Request trailers: the request is complete.
    pub fn on_request_trailers(&mut self, host: &impl Host) {
        self.hand_off(host);
    }

    /// Hands the finished copy to the VM's roots (or counts it skipped when too large).
    fn hand_off(&mut self, host: &impl Host) {
        let (Some(mut copy), Some(active), Some(decided)) =
            (self.shadow.take(), self.active.clone(), self.decided)
        else {
            return;
        };
        let mut vm = self.vm.borrow_mut();
        let state = copy.body.state();
        let body = copy.body.release(&mut vm.budget);
        if state != CopyState::Copying {
            active.count_shadow(host, decided.experiment, ShadowResult::SkippedTooLarge);
            return;
        }
        let compared = active.compare_spec(decided.experiment).is_some();
        let id = vm.shadow.next_copy_id();
        let copy = ShadowCopy {
            id,
            active,
            experiment: decided.experiment,
            headers: copy.headers,
            body,
        };
        vm.hand_off(host, copy, compared);
        if compared {
            self.compared_copy = Some(id);
        }
    }

    /// Response headers: count the response, feed the guard, start copying a compared body.
    pub fn on_response_headers(&mut self, host: &impl Host, end_of_stream: bool) {
        // A stream answered before its request ended (an early reply) still sends its copy.
        if self.shadow.is_some() {
            self.hand_off(host);
        }
        let (Some(active), Some(decided)) = (self.active.as_ref(), self.decided) else {
            return;
        };
        let status = host
            .header(Map::ResponseHeaders, ":status")
            .and_then(|s| std::str::from_utf8(&s).ok()?.trim().parse::<u32>().ok())
            .unwrap_or(0);
        if let Some(ids) = active.variant_ids(decided.experiment, decided.variant) {
            host.increment(ids.exposures);
            host.increment(
                ids.responses
                    .get(class_index(status_class(status)))
                    .copied()
                    .flatten(),
            );
            host.record(ids.duration, host.now_ms().saturating_sub(self.started_ms));
        }
        active.guard_response(host, decided.experiment, decided.variant, status);
        if self.compared_copy.is_some() {
            if end_of_stream {
                self.send_primary_value(host, JsonScalar::Absent);
            } else {
                let limit = active
                    .shadow_spec(decided.experiment)
                    .map_or(0, ShadowConfig::body_limit);
                self.primary_body = Some(BodyCopy::new(limit));
            }
        }
    }

    /// A response body chunk of a compared request: copied; at the end its value is handed
    /// to the comparison.
    pub fn on_response_body(&mut self, host: &impl Host, body_size: usize, end_of_stream: bool) {
        let Some(copy) = self.primary_body.as_mut() else {
            return;
        };
        if copy.state() == CopyState::Copying && body_size > 0 {
            let chunk = host
                .buffer(Buffer::ResponseBody, body_size)
                .unwrap_or_default();
            copy.push(&chunk, &mut self.vm.borrow_mut().budget);
        }
        if end_of_stream {
            if let Some(mut copy) = self.primary_body.take() {
                let state = copy.state();
                let bytes = copy.release(&mut self.vm.borrow_mut().budget);
                let value = match (state, self.compare_pointer()) {
                    (CopyState::Copying, Some(pointer)) => extract(&bytes, pointer),
                    _ => JsonScalar::Absent,
                };
                self.send_primary_value(host, value);
            }
        }
    }

    fn compare_pointer(&self) -> Option<&str> {
        let (active, decided) = (self.active.as_ref()?, self.decided?);
        Some(
            active
                .compare_spec(decided.experiment)?
                .json_pointer
                .as_str(),
        )
    }

    fn send_primary_value(&mut self, host: &impl Host, value: JsonScalar) {
        let (Some(copy), Some(active)) = (self.compared_copy.take(), self.active.as_ref()) else {
            return;
        };
        self.vm
            .borrow_mut()
            .shadow
            .primary_value(host, active, copy, value);
    }

    /// The host deletes the stream: body copies go back to the budget, and a comparison still
    /// waiting for this primary (a reset stream, a body that never ended) gets an absent
    /// value, so it completes (incomparable) instead of waiting forever.
    pub fn on_delete(&mut self, host: &impl Host) {
        {
            let mut vm = self.vm.borrow_mut();
            if let Some(copy) = self.shadow.as_mut() {
                copy.body.release(&mut vm.budget);
            }
            if let Some(copy) = self.primary_body.as_mut() {
                copy.release(&mut vm.budget);
            }
        }
        self.send_primary_value(host, JsonScalar::Absent);
    }
}

/// A request's random value: the clock, the VM's request counter and the context id, hashed.
fn request_random(vm: &VmHandle, context_id: u32, now_ns: u64) -> u64 {
    let counter = vm.borrow_mut().next_request();
    let mut seed = [0u8; 20];
    seed[..8].copy_from_slice(&now_ns.to_le_bytes());
    seed[8..16].copy_from_slice(&counter.to_le_bytes());
    seed[16..].copy_from_slice(&context_id.to_le_bytes());
    xxh3_64(&seed)
}

/// The copy's headers: the request's (routing headers already removed), `:authority` rewritten,
/// `x-rollgate-shadow: 1` added. Values that are not UTF-8 are carried lossily.
fn shadow_copy(active: &Active, experiment: usize, request: &HeaderList) -> Option<PendingCopy> {
    let spec = active.shadow_spec(experiment)?;
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
    Some(PendingCopy {
        headers,
        body: BodyCopy::new(spec.body_limit()),
    })
}
