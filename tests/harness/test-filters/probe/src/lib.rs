//! Probe filter for the harness tests. Behaviour is driven by the plugin config (lines of
//! `key=value`) and by `x-probe-*` request headers, so each test can exercise one ABI area:
//! headers, bodies, config, http calls, ticks, local responses, shared data, queues,
//! properties, foreign functions, metrics, logs, WASI stdout, and a panic; plus root
//! lifecycle (`defer_done`: `on_done` returns false and the root calls `proxy_done` on its
//! next tick) and header maps read after the callback that returned Continue.

use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel, MetricType};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// Configurations this module instance has accepted: a global of the VM, so it shows whether
/// a new configuration ran in the same VM (a new root context) or in a fresh one.
static CONFIGURED: AtomicU32 = AtomicU32::new(0);

proxy_wasm::main! {{
    proxy_wasm::set_root_context(|_| Box::new(ProbeRoot::default()));
}}

fn log(level: LogLevel, message: &str) {
    let _ = hostcalls::log(level, message);
}

/// Logs the http call response being delivered as `<who> call <token> status=<s> body=<b>`
/// and returns its status. A failed call (no headers) has no response maps to read: Envoy
/// answers BAD_ARGUMENT, on which the SDK panics.
fn log_call_response(who: &str, token: u32, headers: usize, body_size: usize) -> String {
    use proxy_wasm::types::{BufferType, MapType};
    let status = if headers == 0 {
        String::new()
    } else {
        hostcalls::get_map_value(MapType::HttpCallResponseHeaders, ":status")
            .ok()
            .flatten()
            .unwrap_or_default()
    };
    let body = hostcalls::get_buffer(BufferType::HttpCallResponseBody, 0, body_size)
        .ok()
        .flatten()
        .unwrap_or_default();
    log(
        LogLevel::Info,
        &format!(
            "{who} call {token} status={status} body={}",
            String::from_utf8_lossy(&body)
        ),
    );
    status
}

#[derive(Default, Clone)]
struct Settings {
    call_cluster: String,
    tick_ms: u64,
    greeting: Option<String>,
    defer_done: bool,
}

#[derive(Default)]
struct ProbeRoot {
    settings: Settings,
    requests: u32,
    header_counts: u32,
    ticks: u32,
    queue: u32,
    shutting_down: bool,
}

impl Context for ProbeRoot {
    fn on_done(&mut self) -> bool {
        log(LogLevel::Info, "root on_done");
        self.shutting_down = true;
        !self.settings.defer_done
    }

    fn on_http_call_response(&mut self, token: u32, headers: usize, body_size: usize, _: usize) {
        log_call_response("root", token, headers, body_size);
    }
}

impl RootContext for ProbeRoot {
    fn on_vm_start(&mut self, _: usize) -> bool {
        self.queue = self.register_shared_queue("probe-queue");
        true
    }

    fn on_configure(&mut self, size: usize) -> bool {
        let raw = self.get_plugin_configuration().unwrap_or_default();
        let text = String::from_utf8_lossy(&raw).to_string();
        let mut settings = Settings {
            call_cluster: "upstream".into(),
            ..Settings::default()
        };
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let (key, value) = line.split_once('=').unwrap_or((line, ""));
            match key {
                "reject" => {
                    log(LogLevel::Error, &format!("probe config refused: {value}"));
                    return false;
                }
                "cluster" => settings.call_cluster = value.to_string(),
                "tick_ms" => settings.tick_ms = value.parse().unwrap_or(0),
                "println" => settings.greeting = Some(value.to_string()),
                "defer_done" => settings.defer_done = true,
                other => {
                    log(
                        LogLevel::Error,
                        &format!("probe config: unknown key {other:?}"),
                    );
                    return false;
                }
            }
        }
        if let Some(greeting) = &settings.greeting {
            println!("{greeting}");
        }
        if settings.tick_ms > 0 {
            self.set_tick_period(Duration::from_millis(settings.tick_ms));
        }
        self.requests =
            hostcalls::define_metric(MetricType::Counter, "probe_requests_total").unwrap_or(0);
        self.header_counts =
            hostcalls::define_metric(MetricType::Histogram, "probe_header_count").unwrap_or(0);
        self.ticks =
            hostcalls::define_metric(MetricType::Counter, "probe_ticks_total").unwrap_or(0);
        let generation = CONFIGURED.fetch_add(1, Ordering::Relaxed) + 1;
        log(
            LogLevel::Info,
            &format!("probe configured ({size} bytes), configuration {generation} of this VM"),
        );
        self.settings = settings;
        true
    }

    fn on_tick(&mut self) {
        if self.shutting_down {
            log(LogLevel::Info, "root calls proxy_done");
            self.done();
            return;
        }
        let _ = hostcalls::increment_metric(self.ticks, 1);
        let now = self.get_current_time();
        let nanos = now
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        log(LogLevel::Debug, &format!("tick at {nanos}"));
        let headers = vec![
            (":method", "GET"),
            (":path", "/tick"),
            (":authority", "ticker"),
        ];
        if let Err(status) = self.dispatch_http_call(
            &self.settings.call_cluster,
            headers,
            None,
            vec![],
            Duration::from_millis(100),
        ) {
            log(LogLevel::Warn, &format!("tick call refused: {status:?}"));
        }
    }

    fn on_queue_ready(&mut self, queue_id: u32) {
        while let Ok(Some(item)) = self.dequeue_shared_queue(queue_id) {
            log(
                LogLevel::Info,
                &format!("queue item {}", String::from_utf8_lossy(&item)),
            );
        }
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(ProbeStream {
            id: context_id,
            settings: self.settings.clone(),
            requests: self.requests,
            header_counts: self.header_counts,
            queue: self.queue,
            upper_body: false,
            late: None,
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct ProbeStream {
    id: u32,
    settings: Settings,
    requests: u32,
    header_counts: u32,
    queue: u32,
    upper_body: bool,
    /// `x-probe-late`: how to read the request headers in the response phase.
    late: Option<String>,
}

impl Context for ProbeStream {
    fn on_http_call_response(&mut self, token: u32, headers: usize, body_size: usize, _: usize) {
        let status = log_call_response(&format!("stream {}", self.id), token, headers, body_size);
        self.set_http_request_header("x-probe-call-status", Some(&status));
        self.resume_http_request();
    }
}

impl ProbeStream {
    fn header(&self, name: &str) -> Option<String> {
        self.get_http_request_header_bytes(name)
            .map(|v| String::from_utf8_lossy(&v).into_owned())
    }

    fn shared_counter(&self) {
        loop {
            let (value, cas) = self.get_shared_data("probe-hits");
            let current: u64 = value
                .and_then(|v| String::from_utf8(v).ok())
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            let next = (current + 1).to_string();
            if self
                .set_shared_data("probe-hits", Some(next.as_bytes()), cas)
                .is_ok()
            {
                self.set_http_request_header("x-probe-hits", Some(&next));
                return;
            }
        }
    }
}

impl HttpContext for ProbeStream {
    fn on_http_request_headers(&mut self, count: usize, end_of_stream: bool) -> Action {
        let _ = hostcalls::increment_metric(self.requests, 1);
        let _ = hostcalls::record_metric(self.header_counts, count as u64);
        log(
            LogLevel::Info,
            &format!("request headers: {count} eos={end_of_stream}"),
        );
        if self.header("x-probe-panic").is_some() {
            panic!("probe panic requested");
        }
        if let Some(value) = self.header("x-probe-set") {
            // replace semantics: exactly one x-probe-route afterwards
            self.set_http_request_header("x-probe-route", Some(&value));
        }
        if self.header("x-probe-add").is_some() {
            self.add_http_request_header("x-probe-added", "yes");
        }
        if let Some(name) = self.header("x-probe-remove") {
            self.set_http_request_header(&name, None);
        }
        if self.header("x-probe-shared").is_some() {
            self.shared_counter();
        }
        if self.header("x-probe-property").is_some() {
            let path = self
                .get_property(vec!["request", "path"])
                .unwrap_or_default();
            self.set_http_request_header("x-probe-path", Some(&String::from_utf8_lossy(&path)));
            let plugin = self.get_property(vec!["plugin_name"]).unwrap_or_default();
            self.set_http_request_header("x-probe-plugin", Some(&String::from_utf8_lossy(&plugin)));
        }
        if self.header("x-probe-foreign").is_some() {
            let known = hostcalls::call_foreign_function("clear_route_cache", Some(&[]));
            let unknown = hostcalls::call_foreign_function("no_such_function", Some(&[]));
            log(
                LogLevel::Info,
                &format!(
                    "foreign known_ok={} unknown_err={:?}",
                    known.is_ok(),
                    unknown.err()
                ),
            );
        }
        if let Some(item) = self.header("x-probe-enqueue") {
            let _ = self.enqueue_shared_queue(self.queue, Some(item.as_bytes()));
        }
        if self.header("x-probe-time").is_some() {
            let nanos = self
                .get_current_time()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            self.set_http_request_header("x-probe-time", Some(&nanos.to_string()));
        }
        self.late = self.header("x-probe-late");
        if self.header("x-probe-body").as_deref() == Some("upper") {
            self.upper_body = true;
        }
        if let Some(status) = self.header("x-probe-local") {
            let code = status.parse().unwrap_or(403);
            self.send_http_response(code, vec![("x-probe-local", "1")], Some(b"denied by probe"));
            return Action::Pause;
        }
        if let Some(path) = self.header("x-probe-call") {
            let headers = vec![
                (":method", "POST"),
                (":path", path.as_str()),
                (":authority", "probe-upstream"),
                ("x-probe-origin", "stream"),
            ];
            match self.dispatch_http_call(
                &self.settings.call_cluster,
                headers,
                Some(b"call-body"),
                vec![],
                Duration::from_millis(250),
            ) {
                Ok(token) => {
                    log(LogLevel::Info, &format!("dispatched {token}"));
                    if self.header("x-probe-wait").is_some() {
                        return Action::Pause;
                    }
                }
                Err(status) => {
                    log(LogLevel::Warn, &format!("dispatch refused: {status:?}"));
                    self.set_http_request_header("x-probe-dispatch", Some(&format!("{status:?}")));
                }
            }
        }
        if let Some(missing) = self.header("x-probe-bad-call") {
            let mut headers = vec![(":method", "GET"), (":path", "/"), (":authority", "a")];
            headers.retain(|(k, _)| *k != missing);
            let result = self.dispatch_http_call(
                &self.settings.call_cluster,
                headers,
                None,
                vec![],
                Duration::from_millis(10),
            );
            self.set_http_request_header("x-probe-dispatch", Some(&format!("{:?}", result.err())));
        }
        Action::Continue
    }

    fn on_http_request_body(&mut self, size: usize, end_of_stream: bool) -> Action {
        if !self.upper_body {
            return Action::Continue;
        }
        if !end_of_stream {
            return Action::Pause;
        }
        let body = self.get_http_request_body(0, size).unwrap_or_default();
        self.set_http_request_body(0, size, &body.to_ascii_uppercase());
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _: usize, _: bool) -> Action {
        let status = self.get_http_response_header(":status").unwrap_or_default();
        self.set_http_response_header("x-probe-response", Some(&format!("seen-{status}")));
        match self.late.as_deref() {
            // All pairs of a map the host no longer holds: Envoy answers with none.
            Some("pairs") => {
                let count = self.get_http_request_headers().len();
                self.set_http_response_header("x-probe-late-pairs", Some(&count.to_string()));
            }
            // One value of it: BAD_ARGUMENT, on which the SDK panics.
            Some("value") => {
                let value = self.get_http_request_header(":path");
                self.set_http_response_header("x-probe-late-value", value.as_deref());
            }
            _ => {}
        }
        Action::Continue
    }

    fn on_http_response_body(&mut self, size: usize, end_of_stream: bool) -> Action {
        log(
            LogLevel::Debug,
            &format!("response body chunk {size} eos={end_of_stream}"),
        );
        Action::Continue
    }

    fn on_log(&mut self) {
        let path = self.get_http_request_header(":path").unwrap_or_default();
        log(LogLevel::Info, &format!("on_log {} path={path}", self.id));
    }
}
