//! The functions the host calls (proxy-wasm ABI 0.2.1 exports). The VM's contexts live in one
//! single-threaded registry: the root contexts (one per plugin sharing the VM) and the HTTP
//! contexts by id. A callback for an
//! unknown context, or one arriving while the registry is in use (a re-entrant host), is
//! ignored and answers "continue".

use super::types::Action;
use crate::plugin::http::RollgateHttp;
use crate::plugin::root::RollgateRoot;
use std::cell::RefCell;

/// The VM's contexts. Streams are kept sorted by context id (the host hands out growing ids,
/// so a new stream is appended) and found by binary search.
struct Registry {
    roots: Vec<RollgateRoot>,
    streams: Vec<(u32, RollgateHttp)>,
}

impl Registry {
    fn position(&self, id: u32) -> Result<usize, usize> {
        self.streams
            .binary_search_by_key(&id, |(stream_id, _)| *stream_id)
    }

    fn root(&mut self, id: u32) -> Option<&mut RollgateRoot> {
        self.roots.iter_mut().find(|root| root.context_id() == id)
    }

    fn stream(&mut self, id: u32) -> Option<&mut RollgateHttp> {
        let index = self.position(id).ok()?;
        self.streams.get_mut(index).map(|(_, stream)| stream)
    }

    fn insert(&mut self, id: u32, stream: RollgateHttp) {
        match self.position(id) {
            Ok(index) => {
                if let Some(slot) = self.streams.get_mut(index) {
                    slot.1 = stream;
                }
            }
            Err(index) => self.streams.insert(index, (id, stream)),
        }
    }

    fn remove(&mut self, id: u32) -> Option<RollgateHttp> {
        let index = self.position(id).ok()?;
        Some(self.streams.remove(index).1)
    }
}

thread_local! {
    static REGISTRY: RefCell<Registry> = const {
        RefCell::new(Registry { roots: Vec::new(), streams: Vec::new() })
    };
}

/// Runs `f` on the registry; `None` when it is already in use.
fn with_registry<T>(f: impl FnOnce(&mut Registry) -> T) -> Option<T> {
    REGISTRY.with(|cell| cell.try_borrow_mut().ok().map(|mut r| f(&mut r)))
}

/// Runs `f` on HTTP context `id`; `Continue` when it does not exist.
fn on_stream(id: u32, f: impl FnOnce(&mut RollgateHttp) -> Action) -> u32 {
    with_registry(|r| r.stream(id).map(f))
        .flatten()
        .unwrap_or(Action::Continue) as u32
}

/// Runs `f` on root context `id`.
fn on_root<T>(id: u32, f: impl FnOnce(&mut RollgateRoot) -> T) -> Option<T> {
    with_registry(|r| r.root(id).map(f)).flatten()
}

#[cfg(target_os = "wasi")]
extern "C" {
    fn __wasm_call_ctors();
}

/// Reactor initialisation: runs the module's constructors (WASI libc) once, before any callback.
#[no_mangle]
pub extern "C" fn _initialize() {
    // SAFETY: the linker-provided constructor list, run once by the host before anything else.
    #[cfg(target_os = "wasi")]
    unsafe {
        __wasm_call_ctors();
    }
}

/// Declares the ABI version.
#[no_mangle]
pub extern "C" fn proxy_abi_version_0_2_1() {}

/// Allocates `size` bytes the host fills and hands back (taken by `hostcalls`).
#[no_mangle]
pub extern "C" fn proxy_on_memory_allocate(size: usize) -> *mut u8 {
    let mut buffer: Vec<u8> = Vec::with_capacity(size);
    let data = buffer.as_mut_ptr();
    std::mem::forget(buffer);
    data
}

/// Creates a root context (no parent) or an HTTP context of root `parent_context_id`.
#[no_mangle]
pub extern "C" fn proxy_on_context_create(context_id: u32, parent_context_id: u32) {
    with_registry(|r| {
        if parent_context_id == 0 {
            r.roots.retain(|root| root.context_id() != context_id);
            r.roots.push(RollgateRoot::new(context_id));
        } else if let Some(root) = r.root(parent_context_id) {
            let stream = root.create_http_context(context_id);
            r.insert(context_id, stream);
        }
    });
}

/// VM start on the root context.
#[no_mangle]
pub extern "C" fn proxy_on_vm_start(context_id: u32, vm_configuration_size: usize) -> u32 {
    u32::from(on_root(context_id, |root| root.on_vm_start(vm_configuration_size)).unwrap_or(false))
}

/// Plugin configuration on the root context.
#[no_mangle]
pub extern "C" fn proxy_on_configure(context_id: u32, plugin_configuration_size: usize) -> u32 {
    u32::from(
        on_root(context_id, |root| {
            root.on_configure(plugin_configuration_size)
        })
        .unwrap_or(false),
    )
}

/// Request headers of a stream.
#[no_mangle]
pub extern "C" fn proxy_on_request_headers(id: u32, headers: usize, end_of_stream: u32) -> u32 {
    on_stream(id, |h| {
        h.on_http_request_headers(headers, end_of_stream != 0)
    })
}

/// A request body chunk of a stream.
#[no_mangle]
pub extern "C" fn proxy_on_request_body(id: u32, body_size: usize, end_of_stream: u32) -> u32 {
    on_stream(id, |h| {
        h.on_http_request_body(body_size, end_of_stream != 0)
    })
}

/// Request trailers of a stream.
#[no_mangle]
pub extern "C" fn proxy_on_request_trailers(id: u32, trailers: usize) -> u32 {
    on_stream(id, |h| h.on_http_request_trailers(trailers))
}

/// Response headers of a stream.
#[no_mangle]
pub extern "C" fn proxy_on_response_headers(id: u32, headers: usize, end_of_stream: u32) -> u32 {
    on_stream(id, |h| {
        h.on_http_response_headers(headers, end_of_stream != 0)
    })
}

/// A response body chunk of a stream.
#[no_mangle]
pub extern "C" fn proxy_on_response_body(id: u32, body_size: usize, end_of_stream: u32) -> u32 {
    on_stream(id, |h| {
        h.on_http_response_body(body_size, end_of_stream != 0)
    })
}

/// Response trailers of a stream: nothing to do.
#[no_mangle]
pub extern "C" fn proxy_on_response_trailers(_id: u32, _trailers: usize) -> u32 {
    Action::Continue as u32
}

/// End of a stream's log phase: nothing to do.
#[no_mangle]
pub extern "C" fn proxy_on_log(_context_id: u32) {}

/// The host asks whether the context is done: always.
#[no_mangle]
pub extern "C" fn proxy_on_done(_context_id: u32) -> u32 {
    1
}

/// Deletes a context (dropping an HTTP context releases its body copies).
#[no_mangle]
pub extern "C" fn proxy_on_delete(context_id: u32) {
    // Taken out of the registry first, dropped after it is released.
    let removed = with_registry(|r| {
        match r
            .roots
            .iter()
            .position(|root| root.context_id() == context_id)
        {
            Some(index) => (Some(r.roots.remove(index)), None),
            None => (None, r.remove(context_id)),
        }
    });
    drop(removed);
}

/// A shadow call's response. The call belongs to the plugin's shared state, so the response is
/// handled on the root context (where Envoy delivers it) or, should a host deliver it on a live
/// HTTP context, through that context's shared state.
#[no_mangle]
pub extern "C" fn proxy_on_http_call_response(
    context_id: u32,
    token: u32,
    _headers: usize,
    body_size: usize,
    _trailers: usize,
) {
    with_registry(|r| {
        if let Some(root) = r.root(context_id) {
            root.on_http_call_response(token, body_size);
        } else if let Some(stream) = r.stream(context_id) {
            stream.on_http_call_response(token, body_size);
        }
    });
}

/// Timer ticks: the filter sets none.
#[no_mangle]
pub extern "C" fn proxy_on_tick(_context_id: u32) {}

/// Shared queues: the filter registers none.
#[no_mangle]
pub extern "C" fn proxy_on_queue_ready(_context_id: u32, _queue_id: u32) {}
