//! A proxy-wasm HTTP filter that calls one host function N times per request, so that the
//! Envoy load bench can measure what a single call costs Envoy: run it as `probe:OP:N` next to
//! `noop` in `benches/envoy_load.sh --configs` and divide the CPU-us/req difference by N.
//! The plugin configuration is `OP:N`; OP is one of
//!   headers     proxy_get_header_map_pairs (the request header map)
//!   prop_src    get_property source.address        prop_proto  get_property request.protocol
//!   prop_fs     get_property of an absent filter-state key (distill_guard.ja4 on a plain listener)
//!   time        get_current_time_nanoseconds       inc         increment_metric on one counter
//!   add         add_header_map_value (x-p-0..7, cycling; a 16-byte value)
//!   setmap      get the header map, append 6 headers, set_header_map_pairs (the whole map)
//!   setprop     set_property of a filter-state key (p.0..7, cycling; a 160-byte value, like the verdict)
//!   hold        no calls: hold the headers until the end of the body (Pause, then Continue)
//!   holdbody    like hold, and read the body (get_buffer_bytes) at its end
//!   readbody    no hold: read each body chunk as it streams past (get_buffer_bytes), as the filter
//!               does when it learns from a body
//! Anything else makes no calls (a no-op filter with a configuration). Bench-only code: it uses
//! the SDK's panicking wrappers, which is fine for a filter that is never deployed.

use std::rc::Rc;

use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel, MetricType};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Root { spec: Rc::new(Spec::default()), metric: 0 }) });
}}

#[derive(Default)]
struct Spec {
    op: String,
    n: u32,
}

struct Root {
    spec: Rc<Spec>,
    metric: u32,
}

impl Context for Root {}

impl RootContext for Root {
    fn on_configure(&mut self, _: usize) -> bool {
        let config = String::from_utf8_lossy(&self.get_plugin_configuration().unwrap_or_default()).into_owned();
        let (op, n) = config.split_once(':').unwrap_or((&config, "0"));
        self.spec = Rc::new(Spec { op: op.to_string(), n: n.parse().unwrap_or(0) });
        self.metric = hostcalls::define_metric(MetricType::Counter, "probe.count").unwrap_or(0);
        true
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }

    fn create_http_context(&self, _: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Probe { spec: Rc::clone(&self.spec), metric: self.metric, held: false }))
    }
}

struct Probe {
    spec: Rc<Spec>,
    metric: u32,
    held: bool,
}

const PROPS: [&str; 8] = ["p.0", "p.1", "p.2", "p.3", "p.4", "p.5", "p.6", "p.7"];
const NAMES: [&str; 8] = ["x-p-0", "x-p-1", "x-p-2", "x-p-3", "x-p-4", "x-p-5", "x-p-6", "x-p-7"];

impl Probe {
    fn calls(&mut self) {
        let n = self.spec.n;
        match self.spec.op.as_str() {
            "headers" => (0..n).for_each(|_| {
                let _ = self.get_http_request_headers_bytes();
            }),
            "prop_src" => (0..n).for_each(|_| {
                let _ = self.get_property(vec!["source", "address"]);
            }),
            "prop_proto" => (0..n).for_each(|_| {
                let _ = self.get_property(vec!["request", "protocol"]);
            }),
            "prop_fs" => (0..n).for_each(|_| {
                let _ = self.get_property(vec!["filter_state", "distill_guard.ja4"]);
            }),
            "time" => (0..n).for_each(|_| {
                let _ = self.get_current_time();
            }),
            "inc" => (0..n).for_each(|_| {
                let _ = hostcalls::increment_metric(self.metric, 1);
            }),
            "add" => (0..n).for_each(|i| self.add_http_request_header(NAMES[i as usize % NAMES.len()], "value-0123456789")),
            "setprop" => (0..n).for_each(|i| {
                let _ = self.set_property(vec![PROPS[i as usize % PROPS.len()]], Some(&[b'v'; 160]));
            }),
            "setmap" => {
                for _ in 0..n {
                    let mut h = self.get_http_request_headers_bytes();
                    h.extend(NAMES.iter().take(6).map(|k| (k.to_string(), b"value-0123456789".to_vec())));
                    self.set_http_request_headers_bytes(h.iter().map(|(k, v)| (k.as_str(), v.as_slice())).collect());
                }
            }
            _ => {}
        }
    }
}

impl Context for Probe {}

impl HttpContext for Probe {
    fn on_http_request_headers(&mut self, _: usize, end_of_stream: bool) -> Action {
        if self.spec.op.starts_with("hold") && !end_of_stream {
            self.held = true;
            return Action::Pause;
        }
        self.calls();
        Action::Continue
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        if self.spec.op == "readbody" {
            let _ = self.get_http_request_body(0, body_size);
            return Action::Continue;
        }
        if !self.held {
            return Action::Continue;
        }
        if !end_of_stream {
            return Action::Pause;
        }
        if self.spec.op == "holdbody" {
            let _ = self.get_http_request_body(0, 1 << 16);
        }
        self.held = false;
        Action::Continue
    }
}
