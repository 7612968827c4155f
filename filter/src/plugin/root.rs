//! The root context: loads configs (keeping the last good one on a refusal), creates HTTP
//! contexts, and receives shadow responses the host delivers to it.

use super::host;
use super::http::RollgateHttp;
use super::state::{Active, Shared, SharedState};
use crate::metrics::{stat_name, CONFIG_REJECTED_TOTAL};
use crate::routing::RoutingTable;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{BufferType, ContextType, LogLevel, MetricType};
use std::cell::RefCell;
use std::rc::Rc;

/// The plugin's root context.
pub struct RollgateRoot {
    context_id: u32,
    shared: SharedState,
}

impl RollgateRoot {
    /// A root context with no config yet.
    pub fn new(context_id: u32) -> RollgateRoot {
        RollgateRoot {
            context_id,
            shared: Rc::new(RefCell::new(Shared::new())),
        }
    }

    fn reject(&self, reason: &str) -> bool {
        host::log(LogLevel::Error, &format!("rollgate: plugin configuration rejected: {reason}; the previous configuration keeps serving"));
        let mut shared = self.shared.borrow_mut();
        if shared.config_rejected.is_none() {
            shared.config_rejected =
                host::define(MetricType::Counter, &stat_name(CONFIG_REJECTED_TOTAL, &[]));
        }
        host::increment(shared.config_rejected);
        false
    }
}

impl Context for RollgateRoot {
    fn on_http_call_response(
        &mut self,
        token_id: u32,
        _num_headers: usize,
        body_size: usize,
        _num_trailers: usize,
    ) {
        self.shared
            .borrow_mut()
            .shadow_response(token_id, body_size);
    }
}

impl RootContext for RollgateRoot {
    fn on_vm_start(&mut self, _vm_configuration_size: usize) -> bool {
        let mut shared = self.shared.borrow_mut();
        shared.config_rejected =
            host::define(MetricType::Counter, &stat_name(CONFIG_REJECTED_TOTAL, &[]));
        true
    }

    fn on_configure(&mut self, plugin_configuration_size: usize) -> bool {
        // Re-entered by an HTTP context to dispatch a shadow call as the root (root_dispatch).
        let job = self.shared.borrow_mut().dispatch_job.take();
        if let Some(job) = job {
            let headers: Vec<(&str, &str)> = job
                .headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            let body = (!job.body.is_empty()).then_some(job.body.as_slice());
            let result = host::dispatch(&job.cluster, headers, body, job.timeout_ms);
            self.shared.borrow_mut().dispatch_result = Some(result);
            return true;
        }
        let Some(bytes) = host::buffer(BufferType::PluginConfiguration, plugin_configuration_size)
        else {
            return self.reject("the plugin configuration is empty; give the filter config JSON");
        };
        match RoutingTable::from_json(&bytes) {
            Ok(table) => {
                let experiments = table.experiments().len();
                let active = Rc::new(Active::new(table));
                self.shared.borrow_mut().active = Some(active);
                host::log(
                    LogLevel::Info,
                    &format!("rollgate: configuration loaded ({experiments} experiments, root context {})", self.context_id),
                );
                true
            }
            Err(err) => self.reject(&err.to_string()),
        }
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(RollgateHttp::new(
            context_id,
            self.context_id,
            self.shared.clone(),
        )))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}
