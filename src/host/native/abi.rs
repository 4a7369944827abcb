//! The few Envoy dynamic-module calls the native filter makes (Envoy's `abi.h`, ABI v0.1 /
//! v0.2 as Envoy 1.40 ships it: callbacks are C functions Envoy exports, resolved when Envoy
//! loads the library), each wrapped once in a safe function. Buffers Envoy hands out (header
//! names and values, body slices, attribute strings) point into Envoy's memory and are valid
//! until the current event hook returns: the wrappers hand them out as slices tied to the
//! hook's lifetime (`'h`), never stored past it.

use std::ffi::c_void;
use std::marker::PhantomData;

use crate::request::Header;

/// `envoy_dynamic_module_type_envoy_buffer` and `..._module_buffer`: a pointer and a length.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Buf {
    ptr: *const u8,
    len: usize,
}

impl Buf {
    const EMPTY: Buf = Buf { ptr: std::ptr::null(), len: 0 };

    fn of(b: &[u8]) -> Buf {
        Buf { ptr: b.as_ptr(), len: b.len() }
    }

    /// The bytes behind a buffer Envoy filled (empty when null).
    ///
    /// # Safety
    /// Envoy's buffer must stay valid for `'h` (true within the event hook that read it).
    unsafe fn bytes<'h>(self) -> &'h [u8] {
        if self.ptr.is_null() || self.len == 0 {
            &[]
        } else {
            std::slice::from_raw_parts(self.ptr, self.len)
        }
    }
}

/// `envoy_dynamic_module_type_envoy_http_header` / `..._module_http_header`.
#[repr(C)]
#[derive(Clone, Copy)]
struct Pair {
    key: Buf,
    value: Buf,
}

const REQUEST_HEADERS: u32 = 0; // envoy_dynamic_module_type_http_header_type_RequestHeader
const RECEIVED_REQUEST_BODY: u32 = 0; // envoy_dynamic_module_type_http_body_type_ReceivedRequestBody
const BUFFERED_REQUEST_BODY: u32 = 1; // ..._BufferedRequestBody
const REQUEST_PROTOCOL: u32 = 10; // envoy_dynamic_module_type_attribute_id_RequestProtocol

/// `envoy_dynamic_module_type_log_level`.
#[derive(Clone, Copy)]
#[repr(u32)]
pub enum Level {
    /// Info.
    Info = 2,
    /// Warn.
    Warn = 3,
    /// Error.
    Error = 4,
}

extern "C" {
    fn envoy_dynamic_module_callback_http_get_headers_size(f: *mut c_void, kind: u32) -> usize;
    fn envoy_dynamic_module_callback_http_get_headers(f: *mut c_void, kind: u32, out: *mut Pair) -> bool;
    fn envoy_dynamic_module_callback_http_add_header(f: *mut c_void, kind: u32, key: Buf, value: Buf) -> bool;
    fn envoy_dynamic_module_callback_http_set_header(f: *mut c_void, kind: u32, key: Buf, value: Buf) -> bool;
    fn envoy_dynamic_module_callback_http_send_response(f: *mut c_void, status: u32, headers: *const Pair, n: usize, body: Buf, details: Buf);
    fn envoy_dynamic_module_callback_http_get_body_chunks_size(f: *mut c_void, kind: u32) -> usize;
    fn envoy_dynamic_module_callback_http_get_body_size(f: *mut c_void, kind: u32) -> usize;
    fn envoy_dynamic_module_callback_http_get_body_chunks(f: *mut c_void, kind: u32, out: *mut Buf) -> bool;
    fn envoy_dynamic_module_callback_http_received_buffered_request_body(f: *mut c_void) -> bool;
    fn envoy_dynamic_module_callback_http_filter_get_attribute_string(f: *mut c_void, id: u32, out: *mut Buf) -> bool;
    fn envoy_dynamic_module_callback_http_get_downstream_direct_remote_address(f: *mut c_void, addr: *mut Buf, port: *mut u32) -> bool;
    fn envoy_dynamic_module_callback_http_get_filter_state_bytes(f: *mut c_void, key: Buf, out: *mut Buf) -> bool;
    fn envoy_dynamic_module_callback_http_set_filter_state_bytes(f: *mut c_void, key: Buf, value: Buf) -> bool;
    fn envoy_dynamic_module_callback_http_filter_config_define_counter(c: *mut c_void, name: Buf, labels: *const Buf, n: usize, id: *mut usize) -> u32;
    fn envoy_dynamic_module_callback_http_filter_increment_counter(f: *mut c_void, id: usize, labels: *const Buf, n: usize, value: u64) -> u32;
    fn envoy_dynamic_module_callback_log(level: u32, message: Buf);
    fn envoy_dynamic_module_callback_log_enabled(level: u32) -> bool;
}

/// One request's filter in Envoy (`filter_envoy_ptr`), valid during the event hook `'h`.
#[derive(Clone, Copy)]
pub struct Stream<'h> {
    ptr: *mut c_void,
    hook: PhantomData<&'h ()>,
}

impl<'h> Stream<'h> {
    /// Wraps the pointer Envoy passed to the current event hook.
    ///
    /// # Safety
    /// `ptr` is the `filter_envoy_ptr` of the running hook.
    pub unsafe fn new(ptr: *mut c_void) -> Self {
        Stream { ptr, hook: PhantomData }
    }

    /// The request headers in Envoy's order (pseudo-headers first), borrowed from Envoy.
    pub fn request_headers(self) -> Option<Vec<Header<'h>>> {
        // SAFETY: the pointer is the running hook's; Envoy fills at most `n` pairs, valid
        // during the hook.
        unsafe {
            let n = envoy_dynamic_module_callback_http_get_headers_size(self.ptr, REQUEST_HEADERS);
            let mut pairs = vec![Pair { key: Buf::EMPTY, value: Buf::EMPTY }; n];
            if n > 0 && !envoy_dynamic_module_callback_http_get_headers(self.ptr, REQUEST_HEADERS, pairs.as_mut_ptr()) {
                return None;
            }
            Some(pairs.iter().map(|p| Header { name: p.key.bytes(), value: p.value.bytes() }).collect())
        }
    }

    /// `request.protocol` (`HTTP/1.1`, `HTTP/2`, ...).
    pub fn protocol(self) -> Option<&'h [u8]> {
        let mut out = Buf::EMPTY;
        // SAFETY: as above; Envoy writes one buffer.
        unsafe { envoy_dynamic_module_callback_http_filter_get_attribute_string(self.ptr, REQUEST_PROTOCOL, &mut out).then(|| out.bytes()) }
    }

    /// The connection's peer address (not X-Forwarded-For) as text: `ip:port` from Envoy 1.40.
    pub fn peer_address(self) -> Option<&'h [u8]> {
        let (mut addr, mut port) = (Buf::EMPTY, 0u32);
        // SAFETY: as above.
        unsafe { envoy_dynamic_module_callback_http_get_downstream_direct_remote_address(self.ptr, &mut addr, &mut port).then(|| addr.bytes()) }
    }

    /// A string filter-state value of the stream (e.g. what a `set_filter_state` filter put there).
    pub fn filter_state(self, key: &[u8]) -> Option<&'h [u8]> {
        let mut out = Buf::EMPTY;
        // SAFETY: as above; Envoy writes one buffer.
        unsafe { envoy_dynamic_module_callback_http_get_filter_state_bytes(self.ptr, Buf::of(key), &mut out).then(|| out.bytes()) }
    }

    /// Sets a string filter-state value of the stream (readable as `%FILTER_STATE(key:PLAIN)%`).
    pub fn set_filter_state(self, key: &[u8], value: &[u8]) -> bool {
        // SAFETY: the buffers outlive the call; Envoy copies them.
        unsafe { envoy_dynamic_module_callback_http_set_filter_state_bytes(self.ptr, Buf::of(key), Buf::of(value)) }
    }

    /// Adds `value` to the counter `id` ([`define_counter`]).
    pub fn increment_counter(self, id: usize, value: u64) {
        // SAFETY: as above; no labels.
        unsafe { envoy_dynamic_module_callback_http_filter_increment_counter(self.ptr, id, std::ptr::null(), 0, value) };
    }

    /// Adds a request header; false when Envoy refused (it refuses an empty value).
    pub fn add_request_header(self, name: &[u8], value: &[u8]) -> bool {
        // SAFETY: the buffers outlive the call; Envoy copies them.
        unsafe { envoy_dynamic_module_callback_http_add_header(self.ptr, REQUEST_HEADERS, Buf::of(name), Buf::of(value)) }
    }

    /// Removes every request header `name`.
    pub fn remove_request_header(self, name: &[u8]) -> bool {
        // SAFETY: as above; a null value removes the header.
        unsafe { envoy_dynamic_module_callback_http_set_header(self.ptr, REQUEST_HEADERS, Buf::of(name), Buf::EMPTY) }
    }

    /// Answers the request locally.
    pub fn send_response(self, status: u16, headers: &[(String, String)], body: &[u8]) {
        let pairs: Vec<Pair> = headers.iter().map(|(n, v)| Pair { key: Buf::of(n.as_bytes()), value: Buf::of(v.as_bytes()) }).collect();
        // SAFETY: every buffer outlives the call; Envoy copies them.
        unsafe { envoy_dynamic_module_callback_http_send_response(self.ptr, u32::from(status), pairs.as_ptr(), pairs.len(), Buf::of(body), Buf::of(b"distill_guard")) }
    }

    /// The body buffers that hold the request body so far: the current hook's chunk, or with
    /// `buffered` the body Envoy buffered for this filter and the current chunk (which is not
    /// part of it unless Envoy says so).
    fn body_kinds(self, buffered: bool) -> &'static [u32] {
        if !buffered {
            &[RECEIVED_REQUEST_BODY]
        // SAFETY: as above.
        } else if unsafe { envoy_dynamic_module_callback_http_received_buffered_request_body(self.ptr) } {
            &[BUFFERED_REQUEST_BODY]
        } else {
            &[BUFFERED_REQUEST_BODY, RECEIVED_REQUEST_BODY]
        }
    }

    /// Bytes of the request body so far ([`Stream::read_body`]'s buffers), without reading them.
    pub fn body_size(self, buffered: bool) -> usize {
        // SAFETY: as above.
        self.body_kinds(buffered).iter().map(|&kind| unsafe { envoy_dynamic_module_callback_http_get_body_size(self.ptr, kind) }).sum()
    }

    /// Appends the request body so far (the buffers of [`Stream::body_kinds`]) to `out`, up to
    /// `limit` bytes in all.
    pub fn read_body(self, buffered: bool, out: &mut Vec<u8>, limit: usize) {
        for &kind in self.body_kinds(buffered) {
            // SAFETY: as above; Envoy fills at most `n` slices valid during the hook.
            unsafe {
                let n = envoy_dynamic_module_callback_http_get_body_chunks_size(self.ptr, kind);
                if n == 0 {
                    continue;
                }
                let mut chunks = vec![Buf::EMPTY; n];
                if !envoy_dynamic_module_callback_http_get_body_chunks(self.ptr, kind, chunks.as_mut_ptr()) {
                    continue;
                }
                for c in chunks {
                    let room = limit.saturating_sub(out.len());
                    if room == 0 {
                        return;
                    }
                    let b = c.bytes();
                    out.extend_from_slice(&b[..b.len().min(room)]);
                }
            }
        }
    }
}

/// Defines a counter of the filter configuration `config` (only while Envoy builds it, in
/// `on_http_filter_config_new`): its id, or `None` when Envoy refused.
///
/// # Safety
/// `config` is the `filter_config_envoy_ptr` of the running `on_http_filter_config_new`.
pub unsafe fn define_counter(config: *mut c_void, name: &str) -> Option<usize> {
    let mut id = 0usize;
    (envoy_dynamic_module_callback_http_filter_config_define_counter(config, Buf::of(name.as_bytes()), std::ptr::null(), 0, &mut id) == 0).then_some(id)
}

/// Logs `message` to Envoy's `dynamic_modules` logger.
pub fn log(level: Level, message: &str) {
    // SAFETY: plain C calls; the message outlives the call.
    unsafe {
        if envoy_dynamic_module_callback_log_enabled(level as u32) {
            envoy_dynamic_module_callback_log(level as u32, Buf::of(message.as_bytes()));
        }
    }
}
