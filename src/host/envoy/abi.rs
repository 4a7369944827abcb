//! The proxy-wasm host calls the filter makes, wrapped once, returning `Result` on every
//! status instead of panicking.
//!
//! The SDK's own `hostcalls` panic on statuses they do not expect (an `add_header` after the
//! headers went upstream, for instance), and a panic kills the VM for every later request.
//! So the few calls this filter needs are declared here against the same ABI imports, with
//! statuses read as plain integers. Memory the host hands back was allocated through the
//! SDK's exported `proxy_on_memory_allocate` and is taken over as a `Vec<u8>`.
//! This module knows nothing about policies, verdicts or the sync protocol.

use std::ptr::null_mut;

pub use super::apply::Status;

const OK: u32 = 0;
const NOT_FOUND: u32 = 1;

/// Header maps of the HTTP request.
const REQUEST_HEADERS: u32 = 0;
/// Buffer ids.
const REQUEST_BODY: u32 = 0;
const PLUGIN_CONFIGURATION: u32 = 7;
/// Metric type: counter.
const COUNTER: u32 = 0;

/// Log levels of the ABI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Level {
    /// Debug.
    Debug = 1,
    /// Info.
    Info = 2,
    /// Warn.
    Warn = 3,
    /// Error.
    Error = 4,
}

#[link(wasm_import_module = "env")]
extern "C" {
    fn proxy_log(level: u32, message_data: *const u8, message_size: usize) -> u32;
    fn proxy_get_current_time_nanoseconds(return_time: *mut u64) -> u32;
    fn proxy_get_buffer_bytes(buffer_type: u32, start: usize, max_size: usize, return_data: *mut *mut u8, return_size: *mut usize) -> u32;
    fn proxy_get_header_map_pairs(map_type: u32, return_data: *mut *mut u8, return_size: *mut usize) -> u32;
    fn proxy_remove_header_map_value(map_type: u32, key_data: *const u8, key_size: usize) -> u32;
    fn proxy_add_header_map_value(map_type: u32, key_data: *const u8, key_size: usize, value_data: *const u8, value_size: usize) -> u32;
    fn proxy_get_property(path_data: *const u8, path_size: usize, return_data: *mut *mut u8, return_size: *mut usize) -> u32;
    fn proxy_set_property(path_data: *const u8, path_size: usize, value_data: *const u8, value_size: usize) -> u32;
    #[allow(clippy::too_many_arguments)]
    fn proxy_send_local_response(
        status_code: u32,
        details_data: *const u8,
        details_size: usize,
        body_data: *const u8,
        body_size: usize,
        headers_data: *const u8,
        headers_size: usize,
        grpc_status: i32,
    ) -> u32;
    fn proxy_define_metric(metric_type: u32, name_data: *const u8, name_size: usize, return_id: *mut u32) -> u32;
    fn proxy_increment_metric(metric_id: u32, offset: i64) -> u32;
    fn proxy_set_tick_period_milliseconds(period: u32) -> u32;
    fn proxy_get_shared_data(key_data: *const u8, key_size: usize, return_value_data: *mut *mut u8, return_value_size: *mut usize, return_cas: *mut u32) -> u32;
    fn proxy_set_shared_data(key_data: *const u8, key_size: usize, value_data: *const u8, value_size: usize, cas: u32) -> u32;
}

fn check(status: u32) -> Result<(), Status> {
    if status == OK {
        Ok(())
    } else {
        Err(Status(status))
    }
}

/// Takes over a buffer the host allocated with the module's allocator.
fn take(data: *mut u8, size: usize) -> Vec<u8> {
    if data.is_null() || size == 0 {
        return Vec::new();
    }
    // SAFETY: the host allocated exactly `size` bytes through `proxy_on_memory_allocate`
    // (a boxed slice of that length) and hands ownership to the module.
    unsafe { Vec::from_raw_parts(data, size, size) }
}

/// Logs `message` at `level` (errors of the log call itself are ignored: nowhere to report).
pub fn log(level: Level, message: &str) {
    // SAFETY: pointer and length describe a live &str.
    let _ = unsafe { proxy_log(level as u32, message.as_ptr(), message.len()) };
}

/// Current wall-clock time in milliseconds since the Unix epoch.
pub fn now_ms() -> Result<u64, Status> {
    let mut ns = 0u64;
    // SAFETY: the host writes one u64 to a live local.
    check(unsafe { proxy_get_current_time_nanoseconds(&mut ns) })?;
    Ok(ns / 1_000_000)
}

fn get_buffer(buffer_type: u32, start: usize, max: usize) -> Result<Vec<u8>, Status> {
    let (mut data, mut size) = (null_mut(), 0usize);
    // SAFETY: the host writes a pointer and a size to live locals.
    let st = unsafe { proxy_get_buffer_bytes(buffer_type, start, max, &mut data, &mut size) };
    match st {
        OK => Ok(take(data, size)),
        NOT_FOUND => Ok(Vec::new()),
        other => Err(Status(other)),
    }
}

/// The plugin configuration (the policy JSON; empty when none is configured).
pub fn plugin_configuration() -> Result<Vec<u8>, Status> {
    get_buffer(PLUGIN_CONFIGURATION, 0, usize::MAX)
}

/// Up to `max` bytes of the buffered request body, from its start.
pub fn request_body(max: usize) -> Result<Vec<u8>, Status> {
    get_buffer(REQUEST_BODY, 0, max)
}

/// The request header map, serialized (parse with `wire::parse_pairs`).
pub fn request_headers() -> Result<Vec<u8>, Status> {
    let (mut data, mut size) = (null_mut(), 0usize);
    // SAFETY: the host writes a pointer and a size to live locals.
    check(unsafe { proxy_get_header_map_pairs(REQUEST_HEADERS, &mut data, &mut size) })?;
    Ok(take(data, size))
}

/// Removes every request header named `name`.
pub fn remove_request_header(name: &[u8]) -> Result<(), Status> {
    // SAFETY: pointer and length describe a live slice.
    check(unsafe { proxy_remove_header_map_value(REQUEST_HEADERS, name.as_ptr(), name.len()) })
}

/// Appends a request header. Only valid while the filter holds the request headers.
pub fn add_request_header(name: &str, value: &str) -> Result<(), Status> {
    // SAFETY: pointers and lengths describe live strs.
    check(unsafe { proxy_add_header_map_value(REQUEST_HEADERS, name.as_ptr(), name.len(), value.as_ptr(), value.len()) })
}

/// A property by path, its segments joined by NUL (`b"source\0address"`); `None` when the
/// host has no value.
pub fn property(key: &[u8]) -> Result<Option<Vec<u8>>, Status> {
    let (mut data, mut size) = (null_mut(), 0usize);
    // SAFETY: the key is live; the host writes a pointer and a size to live locals.
    let st = unsafe { proxy_get_property(key.as_ptr(), key.len(), &mut data, &mut size) };
    match st {
        OK if data.is_null() => Ok(None),
        OK => Ok(Some(take(data, size))),
        NOT_FOUND => Ok(None),
        other => Err(Status(other)),
    }
}

/// Sets a property of the stream: Envoy stores it in filter state as `wasm.<key>` (bytes,
/// readable by access logs as `%FILTER_STATE(wasm.<key>:PLAIN)%` and by CEL expressions).
pub fn set_property(key: &str, value: &[u8]) -> Result<(), Status> {
    // SAFETY: pointers and lengths describe live slices.
    check(unsafe { proxy_set_property(key.as_ptr(), key.len(), value.as_ptr(), value.len()) })
}

/// Answers the request locally; `headers` is a serialized header map.
pub fn send_local_response(status: u16, headers: &[u8], body: &[u8]) -> Result<(), Status> {
    // SAFETY: every pointer and length describes a live slice; details are empty.
    check(unsafe {
        proxy_send_local_response(status as u32, null_mut(), 0, body.as_ptr(), body.len(), headers.as_ptr(), headers.len(), -1)
    })
}

/// Defines (or finds) a counter by name.
pub fn define_counter(name: &str) -> Result<u32, Status> {
    let mut id = 0u32;
    // SAFETY: name is live; the host writes one u32 to a live local.
    check(unsafe { proxy_define_metric(COUNTER, name.as_ptr(), name.len(), &mut id) })?;
    Ok(id)
}

/// Adds `n` to a counter.
pub fn add(id: u32, n: i64) -> Result<(), Status> {
    // SAFETY: plain values.
    check(unsafe { proxy_increment_metric(id, n) })
}

/// Asks for `on_tick` every `ms` milliseconds (0 stops it).
pub fn set_tick_period_ms(ms: u32) -> Result<(), Status> {
    // SAFETY: plain value.
    check(unsafe { proxy_set_tick_period_milliseconds(ms) })
}

/// A shared-data value and its CAS; `None` when the key does not exist.
pub fn get_shared_data(key: &str) -> Result<Option<(Vec<u8>, u32)>, Status> {
    let (mut data, mut size, mut cas) = (null_mut(), 0usize, 0u32);
    // SAFETY: the key is live; the host writes a pointer, a size and a CAS to live locals.
    let st = unsafe { proxy_get_shared_data(key.as_ptr(), key.len(), &mut data, &mut size, &mut cas) };
    match st {
        OK => Ok(Some((take(data, size), cas))),
        NOT_FOUND => Ok(None),
        other => Err(Status(other)),
    }
}

/// Sets a shared-data value; with `cas != 0` only if the key's CAS is still `cas`
/// (status 8, CAS mismatch, otherwise).
pub fn set_shared_data(key: &str, value: &[u8], cas: u32) -> Result<(), Status> {
    // SAFETY: pointers and lengths describe live slices.
    check(unsafe { proxy_set_shared_data(key.as_ptr(), key.len(), value.as_ptr(), value.len(), cas) })
}

// --- Calls of the fleet sync (root context only; see `fleet_root.rs`).

/// Header map and buffer of an HTTP call's response.
const HTTP_CALL_RESPONSE_HEADERS: u32 = 6;
const HTTP_CALL_RESPONSE_BODY: u32 = 4;
/// Metric type: gauge.
const GAUGE: u32 = 1;

#[link(wasm_import_module = "env")]
extern "C" {
    fn proxy_record_metric(metric_id: u32, value: u64) -> u32;
}

/// Sends an HTTP request to `upstream` (an Envoy cluster); the answer comes to the root
/// context's `on_http_call_response` with the returned token. Through the SDK's call (it
/// must record the token for its dispatcher, or the answer would find no context), which
/// only returns the statuses Envoy's `httpCall` has (Ok, BadArgument, InternalFailure).
pub fn dispatch_http_call(upstream: &str, headers: Vec<(&str, &str)>, body: &[u8], timeout_ms: u32) -> Result<u32, Status> {
    let timeout = std::time::Duration::from_millis(u64::from(timeout_ms));
    proxy_wasm::hostcalls::dispatch_http_call(upstream, headers, Some(body), Vec::new(), timeout).map_err(|s| Status(s as u32))
}

/// The `:status` of the HTTP call's response being delivered (`None` when it has none: the
/// call failed before an answer).
pub fn http_call_status() -> Result<Option<u16>, Status> {
    let (mut data, mut size) = (null_mut(), 0usize);
    // SAFETY: the host writes a pointer and a size to live locals.
    match unsafe { proxy_get_header_map_pairs(HTTP_CALL_RESPONSE_HEADERS, &mut data, &mut size) } {
        OK => {}
        NOT_FOUND => return Ok(None),
        other => return Err(Status(other)),
    }
    let map = take(data, size);
    let status = super::wire::find_value(&map, b":status").and_then(|v| std::str::from_utf8(v).ok()?.parse().ok());
    Ok(status)
}

/// Up to `max` bytes of the HTTP call's response body being delivered.
pub fn http_call_body(max: usize) -> Result<Vec<u8>, Status> {
    get_buffer(HTTP_CALL_RESPONSE_BODY, 0, max)
}

/// Defines (or finds) a gauge by name.
pub fn define_gauge(name: &str) -> Result<u32, Status> {
    let mut id = 0u32;
    // SAFETY: name is live; the host writes one u32 to a live local.
    check(unsafe { proxy_define_metric(GAUGE, name.as_ptr(), name.len(), &mut id) })?;
    Ok(id)
}

/// Sets a gauge.
pub fn set_gauge(id: u32, value: u64) -> Result<(), Status> {
    // SAFETY: plain values.
    check(unsafe { proxy_record_metric(id, value) })
}

/// 64 random bits from the host (WASI `random_get`, through the standard library's
/// randomly keyed hasher).
pub fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0x9e37_79b9_7f4a_7c15);
    h.finish()
}
