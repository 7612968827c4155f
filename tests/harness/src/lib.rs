//! Rollgate harness: a wasmtime host that runs proxy-wasm filters the way Envoy does.
//!
//! It implements the proxy-wasm 0.2.1 host ABI Envoy implements (header maps, buffers,
//! properties, http calls, metrics, shared data and queues, ticks, logs, local responses,
//! foreign functions) plus only the WASI preview1 functions Envoy provides, so a module that
//! Envoy would refuse is refused here. All state lives in the wasmtime `Store` of each VM.
//!
//! ```no_run
//! use rollgate_harness::{HeaderMap, Plugin, VmOptions, WasmModule};
//! # fn main() -> Result<(), rollgate_harness::HarnessError> {
//! let module = WasmModule::from_file("target/wasm32-wasip1/release/rollgate_filter.wasm")?;
//! let plugin = Plugin::new(module, VmOptions::default());
//! let mut vm = plugin.start_vm(br#"{"version":1}"#)?;
//! let stream = vm.create_stream()?;
//! vm.request_headers(stream, HeaderMap::from_pairs([(":path", "/predict")]), true)?;
//! let record = vm.finish_stream(stream)?;
//! println!("{:?}", record.request_headers.get_str("x-rollgate-cluster"));
//! # Ok(()) }
//! ```

mod error;
mod headers;
mod host;
pub mod metrics;
mod module;
mod options;
mod plugin;
pub mod record;
pub mod replay;
mod shared_data;
mod stream;
pub mod types;
mod vm;

pub use error::HarnessError;
pub use headers::HeaderMap;
pub use metrics::{HistogramValue, MetricValue, MetricsSnapshot};
pub use module::{WasmModule, SUPPORTED_ABI_MARKERS};
pub use options::{ClockMode, ClusterPolicy, LogSink, VmOptions, DEFAULT_VIRTUAL_START_NANOS};
pub use plugin::Plugin;
pub use record::{HttpCall, HttpCallResponse, LocalResponse, LogEntry, StreamRecord};
pub use stream::{BodyOutcome, Exchange, Message, StreamId};
pub use types::{Abi, Action, Callback, LogLevel, MetricKind, Status};
pub use vm::Vm;
