//! A proxy-wasm HTTP filter that does nothing: every callback keeps its default
//! (`Continue`). Envoy still creates a context per request and crosses into the VM for each
//! callback, so this measures the cost of having *any* Wasm filter in the chain, the floor
//! under distill-guard's own cost. Built by benches/envoy_load.sh for wasm32-wasip1.

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{ContextType, LogLevel};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Root) });
}}

struct Root;

impl Context for Root {}

impl RootContext for Root {
    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Noop))
    }
}

struct Noop;

impl Context for Noop {}

impl HttpContext for Noop {}
