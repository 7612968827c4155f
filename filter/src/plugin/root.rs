//! The root context: loads configs (keeping the last good one on a refusal), creates HTTP
//! contexts, and receives shadow responses the host delivers to it.

use super::abi::types::{BufferType, LogLevel, MetricType};
use super::host;
use super::http::RollgateHttp;
use super::state::{Active, Shared, SharedState};
use rollgate_core::metrics::{stat_name, CONFIG_REJECTED_TOTAL};
use rollgate_core::routing::RoutingTable;
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

    /// This root context's id.
    pub fn context_id(&self) -> u32 {
        self.context_id
    }

    /// A shadow call's response (delivered to the root, whichever context dispatched it).
    pub fn on_http_call_response(&mut self, token_id: u32, body_size: usize) {
        self.shared
            .borrow_mut()
            .shadow_response(token_id, body_size);
    }

    /// VM start: defines the config-rejection counter.
    pub fn on_vm_start(&mut self, _vm_configuration_size: usize) -> bool {
        let mut shared = self.shared.borrow_mut();
        shared.config_rejected =
            host::define(MetricType::Counter, &stat_name(CONFIG_REJECTED_TOTAL, &[]));
        true
    }

    /// Loads a plugin configuration; a refused one keeps the previous one serving.
    pub fn on_configure(&mut self, plugin_configuration_size: usize) -> bool {
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

    /// The HTTP context of a new stream, sharing this root's state.
    pub fn create_http_context(&self, context_id: u32) -> RollgateHttp {
        RollgateHttp::new(context_id, self.shared.clone())
    }
}
