//! [`FilterVm`] and [`VmFactory`] on the harness's wasmtime proxy-wasm host: one
//! [`Plugin`] (module compiled once, metrics shared by its VMs), one [`Vm`] per worker.

use std::path::Path;
use std::time::Duration;

use super::error::ServeError;
use super::metrics::{Histogram, MetricSnapshot, MetricValue};
use super::vm::{
    CallResponse, Direction, DispatchedCall, FilterVerdict, FilterVm, HeaderList, LocalResponse,
    StreamId, VmFactory, VmFailure,
};
use crate::{
    Action, ClockMode, ClusterPolicy, HarnessError, HeaderMap, HttpCallResponse, LogLevel,
    MetricsSnapshot, Plugin, Vm, VmOptions, WasmModule,
};

/// Makes VMs of one compiled `.wasm` module, as Envoy's workers would run it.
pub struct WasmVmFactory {
    plugin: Plugin,
}

impl WasmVmFactory {
    /// Loads and compiles the module at `path`; `clusters` are the clusters http calls may
    /// target (others get BAD_ARGUMENT, as in Envoy).
    pub fn load(path: &Path, clusters: &[String]) -> Result<Self, ServeError> {
        let module = WasmModule::from_file(path).map_err(|err| ServeError::Wasm {
            path: path.to_path_buf(),
            message: err.to_string(),
        })?;
        let options = VmOptions {
            clusters: ClusterPolicy::Only(clusters.iter().cloned().collect()),
            clock: ClockMode::System,
            log_level: LogLevel::Info,
            random_seed: None,
            max_retained_logs: 1_000,
            ..VmOptions::default()
        };
        Ok(Self {
            plugin: Plugin::new(module, options),
        })
    }
}

impl VmFactory for WasmVmFactory {
    fn instantiate(&self, config: &[u8]) -> Result<Box<dyn FilterVm>, VmFailure> {
        let vm = self.plugin.start_vm(config).map_err(failure)?;
        Ok(Box::new(WasmVm { vm }))
    }

    fn metrics(&self) -> MetricSnapshot {
        convert_metrics(&self.plugin.metrics())
    }
}

fn failure(err: HarnessError) -> VmFailure {
    match err {
        HarnessError::ConfigRejected { logs } | HarnessError::VmStartRefused { logs } => {
            VmFailure::ConfigRefused {
                logs: logs
                    .iter()
                    .map(|entry| entry.message.as_str())
                    .collect::<Vec<_>>()
                    .join("; "),
            }
        }
        other => VmFailure::Trapped(other.to_string()),
    }
}

struct WasmVm {
    vm: Vm,
}

impl WasmVm {
    /// Headers as the filter left them, and its local response if it sent one.
    fn after_headers(
        &self,
        stream: StreamId,
        action: Action,
        headers: &mut HeaderList,
        direction: Direction,
    ) -> Result<FilterVerdict, VmFailure> {
        let record = self
            .vm
            .stream(crate::StreamId(stream))
            .ok_or_else(|| unknown(stream))?;
        if let Some(local) = &record.local_response {
            return Ok(FilterVerdict::LocalResponse(LocalResponse {
                status: u16::try_from(local.status).unwrap_or(500),
                headers: to_list(&local.headers),
                body: local.body.clone(),
            }));
        }
        let after = match direction {
            Direction::Request => Some(&record.request_headers),
            Direction::Response => record.response_headers.as_ref(),
        };
        if let Some(after) = after {
            *headers = to_list(after);
        }
        Ok(match action {
            Action::Continue => FilterVerdict::Continue,
            _ => FilterVerdict::Pause,
        })
    }
}

fn unknown(stream: StreamId) -> VmFailure {
    VmFailure::Trapped(format!("stream {stream} is not open on this VM"))
}

impl FilterVm for WasmVm {
    fn create_stream(&mut self) -> Result<StreamId, VmFailure> {
        self.vm.create_stream().map(|id| id.0).map_err(failure)
    }

    fn headers(
        &mut self,
        stream: StreamId,
        direction: Direction,
        headers: &mut HeaderList,
        eos: bool,
    ) -> Result<FilterVerdict, VmFailure> {
        let (id, map) = (crate::StreamId(stream), to_map(headers));
        let action = match direction {
            Direction::Request => self.vm.request_headers(id, map, eos),
            Direction::Response => self.vm.response_headers(id, map, eos),
        }
        .map_err(failure)?;
        self.after_headers(stream, action, headers, direction)
    }

    fn body(
        &mut self,
        stream: StreamId,
        direction: Direction,
        chunk: &[u8],
        eos: bool,
    ) -> Result<Vec<u8>, VmFailure> {
        let id = crate::StreamId(stream);
        let outcome = match direction {
            Direction::Request => self.vm.request_body(id, chunk, eos),
            Direction::Response => self.vm.response_body(id, chunk, eos),
        }
        .map_err(failure)?;
        Ok(outcome.forwarded)
    }

    fn finish_stream(&mut self, stream: StreamId) {
        if let Err(err) = self.vm.finish_stream(crate::StreamId(stream)) {
            tracing::warn!(stream, error = %err, "ending a filter stream failed");
        }
    }

    fn take_dispatched_calls(&mut self) -> Vec<DispatchedCall> {
        self.vm
            .take_new_http_calls()
            .into_iter()
            .map(|call| DispatchedCall {
                token: call.token,
                cluster: call.cluster,
                headers: to_list(&call.headers),
                body: call.body,
                timeout: Duration::from_millis(u64::from(call.timeout_ms)),
            })
            .collect()
    }

    fn deliver_call_response(
        &mut self,
        token: u32,
        response: Option<CallResponse>,
    ) -> Result<(), VmFailure> {
        let result = match response {
            Some(response) => self.vm.deliver_http_call_response(
                token,
                HttpCallResponse {
                    headers: to_map(&response.headers),
                    body: response.body,
                    trailers: HeaderMap::new(),
                },
            ),
            None => self.vm.fail_http_call(token),
        };
        result.map_err(failure)
    }

    fn run_host_events(&mut self) -> Result<(), VmFailure> {
        self.vm.deliver_queue_ready().map_err(failure)?;
        self.vm.fire_due_tick().map_err(failure)?;
        Ok(())
    }

    fn take_logs(&mut self) -> Vec<(String, String)> {
        self.vm
            .take_logs()
            .into_iter()
            .map(|entry| (entry.level.as_str().to_string(), entry.message))
            .collect()
    }
}

fn to_map(list: &HeaderList) -> HeaderMap {
    HeaderMap::from_pairs(
        list.iter()
            .map(|(name, value)| (name.as_bytes(), value.as_slice())),
    )
}

fn to_list(map: &HeaderMap) -> HeaderList {
    map.iter()
        .map(|(name, value)| (String::from_utf8_lossy(name).into_owned(), value.to_vec()))
        .collect()
}

/// The harness's plugin-wide snapshot in the proxy's terms (histograms de-cumulated).
fn convert_metrics(snapshot: &MetricsSnapshot) -> MetricSnapshot {
    let mut out = MetricSnapshot::default();
    for (name, value) in &snapshot.metrics {
        let value = match value {
            crate::MetricValue::Counter(count) => MetricValue::Counter(*count),
            crate::MetricValue::Gauge(level) => MetricValue::Gauge(*level),
            crate::MetricValue::Histogram(histogram) => {
                let mut converted = Histogram {
                    sum: histogram.sum as f64,
                    count: histogram.count,
                    ..Histogram::default()
                };
                let mut below = 0;
                for (slot, cumulative) in converted
                    .counts
                    .iter_mut()
                    .zip(&histogram.cumulative_buckets)
                {
                    *slot = cumulative.saturating_sub(below);
                    below = *cumulative;
                }
                MetricValue::Histogram(converted)
            }
        };
        out.values.insert(name.clone(), value);
    }
    out
}
