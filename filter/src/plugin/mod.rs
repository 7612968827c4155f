//! The proxy-wasm glue (wasm32 only): a thin layer that reads the host's headers and bodies,
//! asks the pure core for a decision and applies it. Every host call goes through
//! [`host`], whose wrappers turn host errors into `None`/`false`: nothing here unwraps.

mod host;
mod http;
mod metric_ids;
mod root;
mod root_dispatch;
mod state;

use proxy_wasm::traits::RootContext;

proxy_wasm::main! {{
    proxy_wasm::set_root_context(|context_id| -> Box<dyn RootContext> {
        Box::new(root::RollgateRoot::new(context_id))
    });
}}
