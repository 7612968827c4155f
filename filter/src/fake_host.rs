//! A fake host for the unit tests: header maps, buffers, metrics, shared data with CAS, http
//! calls, a queue and the clock, all in memory, with a journal of the host calls made. Two
//! fakes made with [`FakeHost::another_vm`] share metrics and shared data as two VMs of one
//! plugin do in Envoy.

use crate::host::{Buffer, CasMismatch, Host, Map, MetricKind};
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

/// What the VMs of one plugin share.
#[derive(Default)]
pub struct PluginState {
    /// Metrics by id (index): name and value (a histogram keeps its sample count).
    pub metrics: Vec<(String, u64)>,
    /// Shared data: value and CAS token.
    pub shared: HashMap<String, (Vec<u8>, u32)>,
    next_cas: u32,
    next_token: u32,
}

/// A dispatched call.
#[derive(Debug, Clone)]
pub struct Call {
    pub token: u32,
    pub cluster: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// One VM's host.
#[derive(Default)]
pub struct FakeHost {
    pub plugin: Rc<RefCell<PluginState>>,
    pub now_ms: Cell<u64>,
    pub request: RefCell<Vec<(String, Vec<u8>)>>,
    pub response: RefCell<Vec<(String, Vec<u8>)>>,
    pub call_response: RefCell<Vec<(String, Vec<u8>)>>,
    pub buffers: RefCell<HashMap<&'static str, Vec<u8>>>,
    pub calls: RefCell<Vec<Call>>,
    /// Clusters the host refuses calls to (BAD_ARGUMENT).
    pub unknown_clusters: RefCell<Vec<String>>,
    pub queue: RefCell<VecDeque<Vec<u8>>>,
    pub tick_ms: Cell<u32>,
    pub done_calls: Cell<u32>,
    /// Every host call made, by name, in order.
    pub journal: RefCell<Vec<&'static str>>,
}

fn buffer_name(buffer: Buffer) -> &'static str {
    match buffer {
        Buffer::RequestBody => "request_body",
        Buffer::ResponseBody => "response_body",
        Buffer::CallResponseBody => "call_response_body",
        Buffer::PluginConfiguration => "plugin_configuration",
    }
}

impl FakeHost {
    /// A fresh host of a fresh plugin.
    pub fn new() -> FakeHost {
        FakeHost {
            now_ms: Cell::new(1_000_000),
            ..FakeHost::default()
        }
    }

    /// A host of another VM of the same plugin (shared metrics and shared data).
    pub fn another_vm(&self) -> FakeHost {
        FakeHost {
            plugin: self.plugin.clone(),
            now_ms: Cell::new(self.now_ms.get()),
            ..FakeHost::default()
        }
    }

    fn note(&self, call: &'static str) {
        self.journal.borrow_mut().push(call);
    }

    /// Sets a buffer's content.
    pub fn set_buffer(&self, buffer: Buffer, bytes: &[u8]) {
        self.buffers
            .borrow_mut()
            .insert(buffer_name(buffer), bytes.to_vec());
    }

    /// Value of the metric with stat name `name` (0 when undefined).
    pub fn metric(&self, name: &str) -> u64 {
        self.plugin
            .borrow()
            .metrics
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| *v)
            .sum()
    }

    /// Moves the clock forward.
    pub fn advance_ms(&self, ms: u64) {
        self.now_ms.set(self.now_ms.get() + ms);
    }

    fn map(&self, map: Map) -> &RefCell<Vec<(String, Vec<u8>)>> {
        match map {
            Map::RequestHeaders => &self.request,
            Map::ResponseHeaders => &self.response,
            Map::CallResponseHeaders => &self.call_response,
        }
    }
}

impl Host for FakeHost {
    fn now_ns(&self) -> u64 {
        self.note("now");
        self.now_ms.get() * 1_000_000
    }

    fn header(&self, map: Map, name: &str) -> Option<Vec<u8>> {
        self.note("header");
        self.map(map)
            .borrow()
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    }

    fn headers(&self, map: Map) -> Vec<(String, Vec<u8>)> {
        self.note("headers");
        self.map(map).borrow().clone()
    }

    fn set_header(&self, map: Map, name: &str, value: &str) {
        self.note("set_header");
        let mut pairs = self.map(map).borrow_mut();
        pairs.retain(|(n, _)| n != name);
        pairs.push((name.to_string(), value.as_bytes().to_vec()));
    }

    fn remove_header(&self, map: Map, name: &str) {
        self.note("remove_header");
        self.map(map).borrow_mut().retain(|(n, _)| n != name);
    }

    fn buffer(&self, buffer: Buffer, size: usize) -> Option<Vec<u8>> {
        self.note("buffer");
        let buffers = self.buffers.borrow();
        let bytes = buffers.get(buffer_name(buffer))?;
        (!bytes.is_empty()).then(|| bytes[..size.min(bytes.len())].to_vec())
    }

    fn clear_route_cache(&self) {
        self.note("clear_route_cache");
    }

    fn define_metric(&self, _kind: MetricKind, name: &str) -> Option<u32> {
        self.note("define_metric");
        let mut plugin = self.plugin.borrow_mut();
        if let Some(id) = plugin.metrics.iter().position(|(n, _)| n == name) {
            return u32::try_from(id).ok();
        }
        plugin.metrics.push((name.to_string(), 0));
        u32::try_from(plugin.metrics.len() - 1).ok()
    }

    fn increment(&self, metric: Option<u32>) {
        self.note("increment");
        if let Some(id) = metric {
            if let Some(m) = self.plugin.borrow_mut().metrics.get_mut(id as usize) {
                m.1 += 1;
            }
        }
    }

    fn record(&self, metric: Option<u32>, _value: u64) {
        self.note("record");
        if let Some(id) = metric {
            if let Some(m) = self.plugin.borrow_mut().metrics.get_mut(id as usize) {
                m.1 += 1;
            }
        }
    }

    fn dispatch(
        &self,
        cluster: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        _timeout_ms: u32,
    ) -> Result<u32, &'static str> {
        self.note("dispatch");
        if self.unknown_clusters.borrow().iter().any(|c| c == cluster) {
            return Err("BAD_ARGUMENT");
        }
        let token = {
            let mut plugin = self.plugin.borrow_mut();
            plugin.next_token += 1;
            plugin.next_token
        };
        self.calls.borrow_mut().push(Call {
            token,
            cluster: cluster.to_string(),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: body.to_vec(),
        });
        Ok(token)
    }

    fn shared_data(&self, key: &str) -> (Option<Vec<u8>>, Option<u32>) {
        self.note("shared_data");
        match self.plugin.borrow().shared.get(key) {
            Some((value, cas)) => (Some(value.clone()), Some(*cas)),
            None => (None, None),
        }
    }

    fn set_shared_data(
        &self,
        key: &str,
        value: &[u8],
        cas: Option<u32>,
    ) -> Result<(), CasMismatch> {
        self.note("set_shared_data");
        let mut plugin = self.plugin.borrow_mut();
        if let (Some((_, current)), Some(cas)) = (plugin.shared.get(key), cas) {
            if *current != cas {
                return Err(CasMismatch);
            }
        }
        plugin.next_cas += 1;
        let token = plugin.next_cas;
        plugin
            .shared
            .insert(key.to_string(), (value.to_vec(), token));
        Ok(())
    }

    fn register_queue(&self, _name: &str) -> Option<u32> {
        self.note("register_queue");
        Some(1)
    }

    fn enqueue(&self, _queue: u32, value: &[u8]) -> bool {
        self.note("enqueue");
        self.queue.borrow_mut().push_back(value.to_vec());
        true
    }

    fn dequeue(&self, _queue: u32) -> Option<Vec<u8>> {
        self.note("dequeue");
        self.queue.borrow_mut().pop_front()
    }

    fn set_tick_period_ms(&self, period_ms: u32) {
        self.note("set_tick_period");
        self.tick_ms.set(period_ms);
    }

    fn done(&self) {
        self.note("done");
        self.done_calls.set(self.done_calls.get() + 1);
    }
}
