//! Unit tests of the glue's logic against the fake host: what a request costs in host calls,
//! root-owned shadow calls and their accounting across config pushes, and the guard shared by
//! the VMs of one plugin.

mod guard;
mod request;
mod shadow;

use crate::fake_host::FakeHost;
use crate::host::Buffer;
use crate::root::RootLogic;
use crate::stream::StreamLogic;
use crate::vm::{VmHandle, VmState};
use rollgate_core::metrics::{
    stat_name, LABEL_CLASS, LABEL_EXPERIMENT, LABEL_RESULT, LABEL_VARIANT,
};
use serde_json::Value;

/// One VM: its host, its shared state, and its root contexts (newest last).
pub struct TestVm {
    pub host: FakeHost,
    pub vm: VmHandle,
    pub roots: Vec<RootLogic>,
    next_id: u32,
}

impl TestVm {
    /// A VM of its own plugin, configured with `config`.
    pub fn start(config: &Value) -> TestVm {
        TestVm::start_on(FakeHost::new(), config)
    }

    /// A VM on `host` (e.g. another VM of the same plugin), configured with `config`.
    pub fn start_on(host: FakeHost, config: &Value) -> TestVm {
        let mut vm = TestVm {
            host,
            vm: VmState::handle("rollgate.shadow.test".to_string()),
            roots: Vec::new(),
            next_id: 1,
        };
        assert!(vm.push(config), "the config is accepted");
        vm
    }

    /// A new root context configured with `config` (as Envoy does on a push); `false` when
    /// refused (the refused root is dropped).
    pub fn push(&mut self, config: &Value) -> bool {
        let id = self.next_id;
        self.next_id += 1;
        let mut root = RootLogic::new(id, self.vm.clone());
        root.on_vm_start(&self.host);
        let bytes = config.to_string();
        self.host
            .set_buffer(Buffer::PluginConfiguration, bytes.as_bytes());
        if !root.on_configure(&self.host, bytes.len()) {
            return false;
        }
        self.roots.push(root);
        true
    }

    /// The newest root.
    pub fn root(&mut self) -> &mut RootLogic {
        self.roots.last_mut().expect("a root")
    }

    /// A stream of the newest root.
    pub fn stream(&mut self) -> StreamLogic {
        let id = self.next_id;
        self.next_id += 1;
        let active = self.root().active();
        StreamLogic::new(id, self.vm.clone(), active)
    }

    /// Delivers the pending queue wake-ups to the newest root (the queue's owner).
    pub fn deliver_queue(&mut self) -> usize {
        let mut delivered = 0;
        while !self.host.queue.borrow().is_empty() {
            let TestVm { host, roots, .. } = self;
            roots.last_mut().expect("a root").on_queue_ready(host, 1);
            delivered += 1;
        }
        delivered
    }

    /// One request from `user` with `body`, answered `status` with `response_body`.
    pub fn request(&mut self, user: &str, body: &[u8], status: u32, response_body: &[u8]) {
        let mut stream = self.stream();
        let host = &self.host;
        *host.request.borrow_mut() = vec![
            (":method".into(), b"POST".to_vec()),
            (":path".into(), b"/predict".to_vec()),
            (":authority".into(), b"model".to_vec()),
            ("x-user-id".into(), user.as_bytes().to_vec()),
        ];
        stream.on_request_headers(host, body.is_empty());
        if !body.is_empty() {
            host.set_buffer(Buffer::RequestBody, body);
            stream.on_request_body(host, body.len(), true);
        }
        *host.response.borrow_mut() = vec![(":status".into(), status.to_string().into_bytes())];
        stream.on_response_headers(host, response_body.is_empty());
        if !response_body.is_empty() {
            host.set_buffer(Buffer::ResponseBody, response_body);
            stream.on_response_body(host, response_body.len(), true);
        }
        stream.on_delete(host);
    }

    /// Answers call `token` on root `index` with `status` and `body`.
    pub fn answer(&mut self, index: usize, token: u32, status: u32, body: &[u8]) {
        *self.host.call_response.borrow_mut() =
            vec![(":status".into(), status.to_string().into_bytes())];
        self.host.set_buffer(Buffer::CallResponseBody, body);
        let TestVm { host, roots, .. } = self;
        roots[index].on_http_call_response(host, token, 1, body.len());
    }

    /// Counter `rollgate_shadow_requests_total{experiment, result}`.
    pub fn shadow_result(&self, experiment: &str, result: &str) -> u64 {
        self.host.metric(&stat_name(
            rollgate_core::metrics::SHADOW_REQUESTS_TOTAL,
            &[(LABEL_EXPERIMENT, experiment), (LABEL_RESULT, result)],
        ))
    }

    /// Sum of `rollgate_shadow_responses_total{experiment}` over classes.
    pub fn shadow_answered(&self, experiment: &str) -> u64 {
        ["2xx", "3xx", "4xx", "5xx"]
            .iter()
            .map(|class| {
                self.host.metric(&stat_name(
                    rollgate_core::metrics::SHADOW_RESPONSES_TOTAL,
                    &[(LABEL_EXPERIMENT, experiment), (LABEL_CLASS, class)],
                ))
            })
            .sum()
    }

    /// Counter `rollgate_requests_total{experiment, variant}`.
    pub fn requests(&self, experiment: &str, variant: &str) -> u64 {
        self.host.metric(&stat_name(
            rollgate_core::metrics::REQUESTS_TOTAL,
            &[(LABEL_EXPERIMENT, experiment), (LABEL_VARIANT, variant)],
        ))
    }
}
