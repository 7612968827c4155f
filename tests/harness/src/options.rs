//! How a VM is set up: plugin identity, clusters that exist, clock, randomness, properties.

use crate::record::LogEntry;
use crate::types::LogLevel;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

/// Default virtual start time: 2026-01-01T00:00:00Z in nanoseconds since the Unix epoch.
pub const DEFAULT_VIRTUAL_START_NANOS: u64 = 1_767_225_600_000_000_000;

/// Which time the host reports to the guest (`proxy_get_current_time_nanoseconds`,
/// WASI `clock_time_get`) and drives ticks with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockMode {
    /// A clock that only moves when the test advances it (`Vm::advance_clock`).
    Virtual {
        /// Start time, nanoseconds since the Unix epoch.
        start_unix_nanos: u64,
    },
    /// The system clock (time moves by itself; ticks fire only through `Vm::fire_due_tick`).
    System,
}

impl Default for ClockMode {
    fn default() -> Self {
        Self::Virtual {
            start_unix_nanos: DEFAULT_VIRTUAL_START_NANOS,
        }
    }
}

/// Which upstream clusters exist for `proxy_http_call`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ClusterPolicy {
    /// Every cluster name is accepted.
    #[default]
    Any,
    /// Only these names; others get BAD_ARGUMENT as in Envoy.
    Only(BTreeSet<String>),
}

impl ClusterPolicy {
    /// True when a call to `cluster` would be accepted.
    pub fn allows(&self, cluster: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Only(names) => names.contains(cluster),
        }
    }
}

/// A callback that sees every log line as it is written (e.g. to print it).
#[derive(Clone)]
pub struct LogSink(pub Arc<dyn Fn(&LogEntry) + Send + Sync>);

impl fmt::Debug for LogSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LogSink(..)")
    }
}

/// Settings for every VM of a plugin.
#[derive(Debug, Clone)]
pub struct VmOptions {
    /// Plugin name (`plugin_name` property). Default `rollgate`.
    pub plugin_name: String,
    /// Root id (`plugin_root_id` property). Default `rollgate`.
    pub root_id: String,
    /// VM id (`plugin_vm_id` property; scope of shared data and queues). Default empty.
    pub vm_id: String,
    /// VM configuration handed to `proxy_on_vm_start`.
    pub vm_configuration: Vec<u8>,
    /// Clusters that exist for http calls.
    pub clusters: ClusterPolicy,
    /// Clock.
    pub clock: ClockMode,
    /// Level reported by `proxy_get_log_level`; lower-level logs are dropped, as in Envoy.
    pub log_level: LogLevel,
    /// Seed for WASI `random_get`; `None` draws from the OS.
    pub random_seed: Option<u64>,
    /// Extra properties for `proxy_get_property`, by path joined with `.`
    /// (e.g. `"node.id"`, `"source.address"`). Values are returned as given.
    pub properties: BTreeMap<String, Vec<u8>>,
    /// How many log entries a VM keeps for `Vm::take_logs` (oldest dropped first).
    pub max_retained_logs: usize,
    /// Optional live log callback.
    pub log_sink: Option<LogSink>,
}

impl Default for VmOptions {
    fn default() -> Self {
        Self {
            plugin_name: "rollgate".into(),
            root_id: "rollgate".into(),
            vm_id: String::new(),
            vm_configuration: Vec::new(),
            clusters: ClusterPolicy::Any,
            clock: ClockMode::default(),
            log_level: LogLevel::Trace,
            random_seed: Some(0),
            properties: BTreeMap::new(),
            max_retained_logs: 10_000,
            log_sink: None,
        }
    }
}
