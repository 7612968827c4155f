//! The host side of the proxy-wasm 0.2.1 ABI: per-VM state kept in the wasmtime `Store`, and
//! the imports Envoy provides, split by concept. Nothing here is global: every VM has its own
//! `HostState`; only metrics and shared data/queues are shared (through `Arc`) by the VMs of
//! one plugin, as in Envoy.

/// Unwraps an `Abi<T>`, or returns its status code from the enclosing host function.
macro_rules! abi_try {
    ($e:expr) => {
        match $e {
            Ok(value) => value,
            Err(status) => return Ok(crate::types::Status::code(status)),
        }
    };
}

mod buffers;
mod http_calls;
mod maps;
mod memory;
mod metrics;
mod misc;
mod properties;
mod shared;
mod wasi;

use crate::headers::HeaderMap;
use crate::metrics::MetricStore;
use crate::options::{ClockMode, VmOptions};
use crate::record::{HttpCall, HttpCallResponse, LogEntry, StreamRecord};
use crate::shared_data::SharedData;
use crate::types::{Abi, LogLevel};
use rand::rngs::StdRng;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use wasmtime::{Engine, Linker, Memory, TypedFunc};

/// State shared by all VMs of one plugin: metrics and shared data/queues.
#[derive(Debug, Default)]
pub(crate) struct PluginShared {
    metrics: Mutex<MetricStore>,
    data: Mutex<SharedData>,
}

impl PluginShared {
    pub(crate) fn metrics(&self) -> MutexGuard<'_, MetricStore> {
        self.metrics.lock().unwrap_or_else(|e| e.into_inner())
    }
    pub(crate) fn data(&self) -> MutexGuard<'_, SharedData> {
        self.data.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Per-stream host state: the record plus the body buffers the guest can read and modify.
#[derive(Debug, Default)]
pub(crate) struct StreamState {
    pub(crate) record: StreamRecord,
    pub(crate) request_body: Vec<u8>,
    pub(crate) response_body: Vec<u8>,
    pub(crate) properties: HashMap<Vec<u8>, Vec<u8>>,
    pub(crate) start_nanos: u64,
    pub(crate) in_response: bool,
    /// The root context this stream was created under (`proxy_on_context_create` parent).
    pub(crate) root: u32,
    /// Which of the stream's maps the host still holds, by `MapType` index 0..4 (request
    /// headers, request trailers, response headers, response trailers). As in Envoy's
    /// `Context::decodeHeaders` & co., a map is handed to the filter for its callback and
    /// dropped when that callback returns Continue.
    pub(crate) live_maps: [bool; 4],
}

/// Lifecycle state of one root context.
#[derive(Debug, Clone, Default)]
pub(crate) struct RootState {
    /// Tick period the root set (0 = none).
    pub(crate) tick_period_ms: u32,
    /// `proxy_on_done` returned false: the root lives until it calls `proxy_done`.
    pub(crate) pending_done: bool,
    /// Replaced by a new configuration; shut down when its last stream ends.
    pub(crate) retiring: bool,
}

/// The VM's clock.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    pub(crate) mode: ClockMode,
    pub(crate) virtual_now: u64,
}

impl Clock {
    pub(crate) fn new(mode: ClockMode) -> Self {
        let virtual_now = match mode {
            ClockMode::Virtual { start_unix_nanos } => start_unix_nanos,
            ClockMode::System => 0,
        };
        Self { mode, virtual_now }
    }

    pub(crate) fn now_nanos(&self) -> u64 {
        match self.mode {
            ClockMode::Virtual { .. } => self.virtual_now,
            ClockMode::System => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0),
        }
    }
}

/// Everything one VM's host functions read and write.
pub(crate) struct HostState {
    pub(crate) memory: Option<Memory>,
    pub(crate) allocator: Option<TypedFunc<i32, i32>>,
    pub(crate) options: Arc<VmOptions>,
    pub(crate) shared: Arc<PluginShared>,
    pub(crate) vm_key: u64,
    pub(crate) clock: Clock,
    pub(crate) rng: StdRng,
    pub(crate) current_context: u32,
    pub(crate) effective_context: Option<u32>,
    /// The active root context: new streams are created under it.
    pub(crate) root_context_id: u32,
    /// Every root context still alive (active, retiring until its streams end, or waiting
    /// for `proxy_done` after `proxy_on_done` returned false) with its tick period (ms).
    pub(crate) roots: BTreeMap<u32, RootState>,
    /// Roots that called `proxy_done` while pending: deleted after the current VM call.
    pub(crate) done_requested: Vec<u32>,
    pub(crate) plugin_configuration: Option<Vec<u8>>,
    pub(crate) streams: HashMap<u32, StreamState>,
    /// Activity of the root context (ticks, http call responses, configure).
    pub(crate) root_record: StreamRecord,
    pub(crate) logs: VecDeque<LogEntry>,
    /// Number of log entries ever pushed (to find the ones written during one call).
    pub(crate) log_seq: u64,
    pub(crate) new_calls: Vec<HttpCall>,
    pub(crate) pending_calls: BTreeMap<u32, HttpCall>,
    pub(crate) next_token: u32,
    pub(crate) call_response: Option<HttpCallResponse>,
    pub(crate) vm_properties: HashMap<Vec<u8>, Vec<u8>>,
    pub(crate) stop_iteration: bool,
    /// True during `proxy_on_log`: Envoy gives the access-log view of the maps (read-only).
    pub(crate) log_phase: bool,
}

impl HostState {
    pub(crate) fn new(options: Arc<VmOptions>, shared: Arc<PluginShared>, vm_key: u64) -> Self {
        use rand::SeedableRng;
        let rng = match options.random_seed {
            Some(seed) => StdRng::seed_from_u64(seed ^ vm_key),
            None => StdRng::from_os_rng(),
        };
        Self {
            memory: None,
            allocator: None,
            clock: Clock::new(options.clock),
            options,
            shared,
            vm_key,
            rng,
            current_context: 0,
            effective_context: None,
            root_context_id: 0,
            roots: BTreeMap::new(),
            done_requested: Vec::new(),
            plugin_configuration: None,
            streams: HashMap::new(),
            root_record: StreamRecord::default(),
            logs: VecDeque::new(),
            log_seq: 0,
            new_calls: Vec::new(),
            pending_calls: BTreeMap::new(),
            next_token: 1,
            call_response: None,
            vm_properties: HashMap::new(),
            stop_iteration: false,
            log_phase: false,
        }
    }

    /// The context host calls act on: the effective context if set and alive, else the
    /// context the host called into.
    pub(crate) fn target_context(&self) -> u32 {
        match self.effective_context {
            Some(id) if self.roots.contains_key(&id) || self.streams.contains_key(&id) => id,
            _ => self.current_context,
        }
    }

    /// The root context of `context` (itself for a root).
    pub(crate) fn root_of(&self, context: u32) -> u32 {
        self.streams.get(&context).map_or(context, |s| s.root)
    }

    /// The stream host calls act on, if the target context is a stream.
    pub(crate) fn target_stream(&mut self) -> Option<&mut StreamState> {
        let id = self.target_context();
        self.streams.get_mut(&id)
    }

    /// The record activity is attributed to: the target stream's, else the root's.
    pub(crate) fn activity(&mut self) -> &mut StreamRecord {
        let id = self.target_context();
        match self.streams.get_mut(&id) {
            Some(stream) => &mut stream.record,
            None => &mut self.root_record,
        }
    }

    /// The record to append activity to: the target stream's, or the root's while the list
    /// `len_of` measures still has room (root lists are bounded for long-running VMs).
    pub(crate) fn activity_bounded(
        &mut self,
        len_of: impl Fn(&StreamRecord) -> usize,
    ) -> Option<&mut StreamRecord> {
        let id = self.target_context();
        let limit = self.options.max_retained_logs;
        match self.streams.get_mut(&id) {
            Some(stream) => Some(&mut stream.record),
            None if len_of(&self.root_record) < limit => Some(&mut self.root_record),
            None => None,
        }
    }

    /// Records a log line (dropped below the configured level, as in Envoy).
    pub(crate) fn push_log(&mut self, level: LogLevel, message: String) {
        if level < self.options.log_level {
            return;
        }
        let entry = LogEntry {
            level,
            message,
            context_id: self.target_context(),
        };
        if let Some(sink) = &self.options.log_sink {
            (sink.0)(&entry);
        }
        if let Some(record) = self.activity_bounded(|r| r.logs.len()) {
            record.logs.push(entry.clone());
        }
        if self.logs.len() >= self.options.max_retained_logs.max(1) {
            self.logs.pop_front();
        }
        self.logs.push_back(entry);
        self.log_seq += 1;
    }

    /// Logs pushed since `seq` (as far as the bounded journal still holds them).
    pub(crate) fn logs_since(&self, seq: u64) -> Vec<LogEntry> {
        let count = (self.log_seq.saturating_sub(seq) as usize).min(self.logs.len());
        self.logs
            .iter()
            .skip(self.logs.len() - count)
            .cloned()
            .collect()
    }

    /// Headers of a map type for the target context, if the host holds that map now: a
    /// stream's map only during the callbacks until one returned Continue (and read-only in
    /// `proxy_on_log`), a call response's only during `proxy_on_http_call_response`.
    pub(crate) fn map(&mut self, map: crate::types::MapType) -> Option<&mut HeaderMap> {
        use crate::types::MapType as M;
        let slot = match map {
            M::HttpCallResponseHeaders => {
                return self.call_response.as_mut().map(|r| &mut r.headers)
            }
            M::HttpCallResponseTrailers => {
                return self.call_response.as_mut().map(|r| &mut r.trailers)
            }
            M::GrpcReceiveInitialMetadata | M::GrpcReceiveTrailingMetadata => return None,
            M::RequestHeaders => 0,
            M::RequestTrailers => 1,
            M::ResponseHeaders => 2,
            M::ResponseTrailers => 3,
        };
        let log_phase = self.log_phase;
        let stream = self.target_stream()?;
        // Envoy's access-log view (`getConstMap` in the log phase) has no request trailers.
        if (log_phase && slot == 1) || (!log_phase && !stream.live_maps[slot]) {
            return None;
        }
        let record = &mut stream.record;
        match slot {
            0 => Some(&mut record.request_headers),
            1 => record.request_trailers.as_mut(),
            2 => record.response_headers.as_mut(),
            _ => record.response_trailers.as_mut(),
        }
    }
}

/// Builds a linker with every import Envoy gives a proxy-wasm module of ABI `abi`: the
/// proxy-wasm ABI in module `env` (per ABI version as cpp-host's `registerCallbacks`) and
/// cpp-host's WASI preview1 list in `wasi_snapshot_preview1` and `wasi_unstable`.
pub(crate) fn linker(engine: &Engine, abi: Abi) -> wasmtime::Result<Linker<HostState>> {
    let mut linker = Linker::new(engine);
    misc::register(&mut linker)?;
    misc::register_abi_specific(&mut linker, abi)?;
    maps::register(&mut linker)?;
    buffers::register(&mut linker)?;
    http_calls::register(&mut linker)?;
    metrics::register(&mut linker)?;
    shared::register(&mut linker)?;
    properties::register(&mut linker)?;
    wasi::register(&mut linker, "wasi_snapshot_preview1")?;
    wasi::register(&mut linker, "wasi_unstable")?;
    Ok(linker)
}
