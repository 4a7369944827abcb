//! An Envoy dynamic-module HTTP filter that does nothing (every hook returns Continue and touches
//! nothing): what any native filter costs Envoy, the baseline of the native filter in
//! `benches/envoy_load.sh` (config `noop-native`). Envoy loads it as `libnoop_native.so`.

use std::ffi::c_void;

/// A non-null pointer for the configuration and each filter (nothing is allocated).
const SOME: *const c_void = 8 as *const c_void;

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_program_init() -> *const u8 {
    b"v0.2.0\0".as_ptr()
}
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_config_new(_e: *mut c_void, _n: *const u8, _nl: usize, _c: *const u8, _cl: usize) -> *const c_void {
    SOME
}
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_config_destroy(_c: *const c_void) {}
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_new(_c: *const c_void, _e: *mut c_void) -> *const c_void {
    SOME
}
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_destroy(_f: *const c_void) {}
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_request_headers(_e: *mut c_void, _f: *const c_void, _end: bool) -> u32 {
    0
}
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_request_body(_e: *mut c_void, _f: *const c_void, _end: bool) -> u32 {
    0
}
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_request_trailers(_e: *mut c_void, _f: *const c_void) -> u32 {
    0
}
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_response_headers(_e: *mut c_void, _f: *const c_void, _end: bool) -> u32 {
    0
}
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_response_body(_e: *mut c_void, _f: *const c_void, _end: bool) -> u32 {
    0
}
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_response_trailers(_e: *mut c_void, _f: *const c_void) -> u32 {
    0
}
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_stream_complete(_e: *mut c_void, _f: *const c_void) {}
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_callout_done(_e: *mut c_void, _f: *const c_void, _id: u64, _r: u32, _h: *const c_void, _nh: usize, _b: *const c_void, _nb: usize) {}
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_headers(_e: *mut c_void, _f: *const c_void, _id: u64, _h: *const c_void, _nh: usize, _end: bool) {}
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_data(_e: *mut c_void, _f: *const c_void, _id: u64, _b: *const c_void, _nb: usize, _end: bool) {}
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_trailers(_e: *mut c_void, _f: *const c_void, _id: u64, _h: *const c_void, _nh: usize) {}
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_complete(_e: *mut c_void, _f: *const c_void, _id: u64) {}
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_reset(_e: *mut c_void, _f: *const c_void, _id: u64, _r: u32) {}
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_scheduled(_e: *mut c_void, _f: *const c_void, _id: u64) {}
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_downstream_above_write_buffer_high_watermark(_e: *mut c_void, _f: *const c_void) {}
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_downstream_below_write_buffer_low_watermark(_e: *mut c_void, _f: *const c_void) {}
