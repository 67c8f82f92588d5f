//! Raw declarations of include/bitnet/bitnet.h, written by hand.
//!
//! C enums passed or returned by value are declared as `c_int` (their
//! values are pinned by the header, and an unknown value from a newer
//! library must not be undefined behaviour in Rust). The params structs are
//! checked against the `struct_size` their `*_default()` functions report
//! (see the tests).
#![allow(non_camel_case_types)]

use std::os::raw::{c_char, c_int, c_void};

pub type bitnet_status = c_int;
pub type bitnet_token = i32;
pub type bitnet_log_callback = Option<unsafe extern "C" fn(level: c_int, message: *const c_char, user: *mut c_void)>;

pub const BITNET_MAX_DIMS: usize = 4;
pub const BITNET_TOKEN_NULL: bitnet_token = -1;
pub const BITNET_TOKENIZE_ADD_SPECIAL: u32 = 0x1;
pub const BITNET_TOKENIZE_PARSE_SPECIAL: u32 = 0x2;
pub const BITNET_DETOKENIZE_SPECIAL: u32 = 0x1;
pub const BITNET_VALUE_ARRAY: c_int = 9;

macro_rules! opaque {
    ($($name:ident),*) => {$(
        #[repr(C)]
        pub struct $name {
            _private: [u8; 0],
        }
    )*};
}
opaque!(bitnet_model, bitnet_context, bitnet_sampler, bitnet_value);

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct bitnet_model_params {
    pub struct_size: usize,
    pub use_mmap: bool,
    pub cache_bytes: u64,
    pub head_type: i32,
    pub prefetch: bool,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct bitnet_context_params {
    pub struct_size: usize,
    pub n_ctx: i32,
    pub n_batch: i32,
    pub n_threads: i32,
    pub kv_type: u32,
    pub logits_all: bool,
    pub backend: *const c_char,
    pub blas_min_batch: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct bitnet_sampler_params {
    pub struct_size: usize,
    pub temperature: f32,
    pub top_k: i32,
    pub top_p: f32,
    pub min_p: f32,
    pub repeat_penalty: f32,
    pub frequency_penalty: f32,
    pub presence_penalty: f32,
    pub penalty_last_n: i32,
    pub seed: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct bitnet_tensor_info {
    pub struct_size: usize,
    pub name: *const c_char,
    pub type_: u32,
    pub type_name: *const c_char,
    pub n_dims: u32,
    pub ne: [i64; BITNET_MAX_DIMS],
    pub n_elements: i64,
    pub n_rows: i64,
    pub n_bytes: u64,
    pub offset: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct bitnet_store_stats {
    pub struct_size: usize,
    pub hits: u64,
    pub misses: u64,
    pub evictions: u64,
    pub bytes_resident: u64,
    pub bytes_budget: u64,
    pub bytes_mapped: u64,
    pub entries: u64,
    pub prefetch_issued: u64,
    pub prefetch_hits: u64,
    pub bytes_peak: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct bitnet_context_memory_info {
    pub struct_size: usize,
    pub kv_bytes: u64,
    pub scratch_bytes: u64,
    pub total_bytes: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct bitnet_context_stats {
    pub struct_size: usize,
    pub n_decode_calls: u64,
    pub n_prefill_tokens: u64,
    pub n_decode_tokens: u64,
    pub prefill_ns: u64,
    pub decode_ns: u64,
    pub cache_hits: u64,
    pub cache_misses: u64,
    pub cache_evictions: u64,
    pub prefetch_hits: u64,
    pub n_state_loads: u64,
}

extern "C" {
    pub fn bitnet_version() -> u32;
    pub fn bitnet_version_string() -> *const c_char;
    pub fn bitnet_status_str(status: bitnet_status) -> *const c_char;
    pub fn bitnet_last_error() -> *const c_char;
    pub fn bitnet_set_log_callback(callback: bitnet_log_callback, user_data: *mut c_void, max_level: c_int);
    pub fn bitnet_type_name(type_: u32) -> *const c_char;

    pub fn bitnet_model_params_default() -> bitnet_model_params;
    pub fn bitnet_model_load_file(
        path: *const c_char,
        params: *const bitnet_model_params,
        out: *mut *mut bitnet_model,
    ) -> bitnet_status;
    pub fn bitnet_model_load_memory(
        data: *const c_void,
        size: usize,
        params: *const bitnet_model_params,
        out: *mut *mut bitnet_model,
    ) -> bitnet_status;
    pub fn bitnet_model_retain(model: *mut bitnet_model);
    pub fn bitnet_model_release(model: *mut bitnet_model);
    pub fn bitnet_model_last_error(model: *const bitnet_model) -> *const c_char;
    pub fn bitnet_model_gguf_version(model: *const bitnet_model) -> u32;

    pub fn bitnet_model_meta_count(model: *const bitnet_model) -> i64;
    pub fn bitnet_model_meta_at(
        model: *const bitnet_model,
        index: i64,
        key: *mut *const c_char,
        value: *mut *const bitnet_value,
    ) -> bitnet_status;
    pub fn bitnet_model_meta_get(
        model: *const bitnet_model,
        key: *const c_char,
        value: *mut *const bitnet_value,
    ) -> bitnet_status;
    pub fn bitnet_value_get_type(value: *const bitnet_value) -> c_int;
    pub fn bitnet_value_type_name(type_: u32) -> *const c_char;
    pub fn bitnet_value_int(value: *const bitnet_value, out: *mut i64) -> bitnet_status;
    pub fn bitnet_value_uint(value: *const bitnet_value, out: *mut u64) -> bitnet_status;
    pub fn bitnet_value_float(value: *const bitnet_value, out: *mut f64) -> bitnet_status;
    pub fn bitnet_value_bool(value: *const bitnet_value, out: *mut bool) -> bitnet_status;
    pub fn bitnet_value_string(value: *const bitnet_value, out: *mut *const c_char, len: *mut usize)
        -> bitnet_status;
    pub fn bitnet_value_array_info(value: *const bitnet_value, elem_type: *mut c_int, length: *mut u64)
        -> bitnet_status;
    pub fn bitnet_value_array_int(array: *const bitnet_value, index: u64, out: *mut i64) -> bitnet_status;
    pub fn bitnet_value_array_uint(array: *const bitnet_value, index: u64, out: *mut u64) -> bitnet_status;
    pub fn bitnet_value_array_float(array: *const bitnet_value, index: u64, out: *mut f64) -> bitnet_status;
    pub fn bitnet_value_array_bool(array: *const bitnet_value, index: u64, out: *mut bool) -> bitnet_status;
    pub fn bitnet_value_array_string(
        array: *const bitnet_value,
        index: u64,
        out: *mut *const c_char,
        len: *mut usize,
    ) -> bitnet_status;
    pub fn bitnet_value_array_array(array: *const bitnet_value, index: u64, out: *mut *const bitnet_value)
        -> bitnet_status;

    pub fn bitnet_model_tensor_count(model: *const bitnet_model) -> i64;
    pub fn bitnet_model_tensor_info(model: *const bitnet_model, index: i64, out: *mut bitnet_tensor_info)
        -> bitnet_status;
    pub fn bitnet_model_tensor_find(model: *const bitnet_model, name: *const c_char, index: *mut i64)
        -> bitnet_status;
    pub fn bitnet_model_tensor_info_by_name(
        model: *const bitnet_model,
        name: *const c_char,
        out: *mut bitnet_tensor_info,
    ) -> bitnet_status;
    pub fn bitnet_model_tensor_read(
        model: *mut bitnet_model,
        name: *const c_char,
        row_begin: i64,
        row_end: i64,
        dst_type: c_int,
        dst: *mut c_void,
        dst_capacity_bytes: usize,
        written: *mut usize,
    ) -> bitnet_status;
    pub fn bitnet_model_store_stats(model: *const bitnet_model, out: *mut bitnet_store_stats) -> bitnet_status;

    pub fn bitnet_vocab_size(model: *const bitnet_model) -> i32;
    pub fn bitnet_token_bos(model: *const bitnet_model) -> bitnet_token;
    pub fn bitnet_token_eos(model: *const bitnet_model) -> bitnet_token;
    pub fn bitnet_token_is_eog(model: *const bitnet_model, token: bitnet_token) -> bool;
    pub fn bitnet_token_text(model: *const bitnet_model, token: bitnet_token) -> *const c_char;
    pub fn bitnet_tokenize(
        model: *const bitnet_model,
        text: *const c_char,
        text_len: usize,
        flags: u32,
        tokens: *mut bitnet_token,
        capacity: usize,
        n_tokens: *mut usize,
    ) -> bitnet_status;
    pub fn bitnet_token_to_piece(
        model: *const bitnet_model,
        token: bitnet_token,
        flags: u32,
        buf: *mut c_char,
        capacity: usize,
        length: *mut usize,
    ) -> bitnet_status;
    pub fn bitnet_detokenize(
        model: *const bitnet_model,
        tokens: *const bitnet_token,
        n_tokens: usize,
        flags: u32,
        buf: *mut c_char,
        capacity: usize,
        length: *mut usize,
    ) -> bitnet_status;

    pub fn bitnet_context_params_default() -> bitnet_context_params;
    pub fn bitnet_context_new(
        model: *mut bitnet_model,
        params: *const bitnet_context_params,
        out: *mut *mut bitnet_context,
    ) -> bitnet_status;
    pub fn bitnet_context_free(ctx: *mut bitnet_context);
    pub fn bitnet_context_model(ctx: *const bitnet_context) -> *mut bitnet_model;
    pub fn bitnet_context_decode(ctx: *mut bitnet_context, tokens: *const bitnet_token, n: i32) -> bitnet_status;
    pub fn bitnet_context_logits(ctx: *const bitnet_context, i: i32) -> *const f32;
    pub fn bitnet_context_memory(ctx: *const bitnet_context, out: *mut bitnet_context_memory_info) -> bitnet_status;
    pub fn bitnet_context_stats_get(ctx: *const bitnet_context, out: *mut bitnet_context_stats) -> bitnet_status;
    pub fn bitnet_context_stats_reset(ctx: *mut bitnet_context);
    pub fn bitnet_context_n_past(ctx: *const bitnet_context) -> i32;
    pub fn bitnet_context_n_ctx(ctx: *const bitnet_context) -> i32;
    pub fn bitnet_context_tokens(ctx: *const bitnet_context, n: *mut i32) -> *const bitnet_token;
    pub fn bitnet_context_clear(ctx: *mut bitnet_context);
    pub fn bitnet_context_trim(ctx: *mut bitnet_context, n_keep: i32) -> bitnet_status;

    pub fn bitnet_sampler_params_default() -> bitnet_sampler_params;
    pub fn bitnet_sampler_new(params: *const bitnet_sampler_params, out: *mut *mut bitnet_sampler)
        -> bitnet_status;
    pub fn bitnet_sampler_free(sampler: *mut bitnet_sampler);
    pub fn bitnet_sampler_sample(
        sampler: *mut bitnet_sampler,
        logits: *const f32,
        n_vocab: i32,
        out: *mut bitnet_token,
    ) -> bitnet_status;
    pub fn bitnet_sampler_accept(sampler: *mut bitnet_sampler, token: bitnet_token) -> bitnet_status;
    pub fn bitnet_sampler_reset(sampler: *mut bitnet_sampler);

    pub fn bitnet_context_state_save(
        ctx: *const bitnet_context,
        sampler: *const bitnet_sampler,
        path: *const c_char,
    ) -> bitnet_status;
    pub fn bitnet_context_state_load(
        ctx: *mut bitnet_context,
        sampler: *mut bitnet_sampler,
        path: *const c_char,
    ) -> bitnet_status;
    pub fn bitnet_context_state_save_memory(
        ctx: *const bitnet_context,
        sampler: *const bitnet_sampler,
        buf: *mut c_void,
        capacity: usize,
        size: *mut usize,
    ) -> bitnet_status;
    pub fn bitnet_context_state_load_memory(
        ctx: *mut bitnet_context,
        sampler: *mut bitnet_sampler,
        data: *const c_void,
        size: usize,
    ) -> bitnet_status;
}
