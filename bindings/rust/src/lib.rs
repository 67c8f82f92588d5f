//! Safe Rust bindings for libbitnet.
//!
//! ```no_run
//! use bitnet::{Context, ContextParams, Model, ModelParams, Sampler, SamplerParams};
//! # fn main() -> bitnet::Result<()> {
//! let model = Model::load("model.gguf", &ModelParams::default())?;
//! let mut ctx = Context::new(&model, &ContextParams::default())?;
//! let mut sampler = Sampler::new(&SamplerParams { temperature: 0.0, ..Default::default() })?;
//! let prompt = model.tokenize("In the beginning", true)?;
//! for token in ctx.generate(&mut sampler, &prompt, 32) {
//!     let piece = model.token_to_piece(token?, false)?;
//!     print!("{}", String::from_utf8_lossy(&piece));
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Ownership and threads follow the header's contract: a [`Model`] is
//! reference counted (`Clone` retains, `Drop` releases) and may be shared by
//! any number of threads (`Send + Sync`); a [`Context`] holds its own model
//! reference and a [`Sampler`] is independent; both are used by one thread at
//! a time (`Send`, not `Sync`). Borrowed C data (metadata strings, logits,
//! the context's tokens) is tied to the lifetime of the borrow of its owner,
//! so a decode cannot invalidate logits still in use.

pub mod ffi;

use std::ffi::{CStr, CString};
use std::fmt;
use std::ops::Range;
use std::os::raw::{c_char, c_int, c_void};
use std::path::Path;
use std::ptr::{self, NonNull};
use std::sync::Arc;

pub use ffi::bitnet_token as Token;

/// `bitnet_status` values other than `BITNET_OK`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    InvalidArgument,
    Io,
    BadFormat,
    Unsupported,
    OutOfMemory,
    OutOfRange,
    NotFound,
    TypeMismatch,
    BufferTooSmall,
    ContextFull,
    Aborted,
    Internal,
    MemoryBudget,
    /// A status this binding does not know (from a newer library).
    Other(i32),
}

impl Status {
    pub fn from_code(code: i32) -> Status {
        match code {
            1 => Status::InvalidArgument,
            2 => Status::Io,
            3 => Status::BadFormat,
            4 => Status::Unsupported,
            5 => Status::OutOfMemory,
            6 => Status::OutOfRange,
            7 => Status::NotFound,
            8 => Status::TypeMismatch,
            9 => Status::BufferTooSmall,
            10 => Status::ContextFull,
            11 => Status::Aborted,
            12 => Status::Internal,
            13 => Status::MemoryBudget,
            other => Status::Other(other),
        }
    }

    pub fn code(self) -> i32 {
        match self {
            Status::InvalidArgument => 1,
            Status::Io => 2,
            Status::BadFormat => 3,
            Status::Unsupported => 4,
            Status::OutOfMemory => 5,
            Status::OutOfRange => 6,
            Status::NotFound => 7,
            Status::TypeMismatch => 8,
            Status::BufferTooSmall => 9,
            Status::ContextFull => 10,
            Status::Aborted => 11,
            Status::Internal => 12,
            Status::MemoryBudget => 13,
            Status::Other(code) => code,
        }
    }

    /// The library's short text ("bad format").
    pub fn as_str(self) -> &'static str {
        unsafe { static_str(ffi::bitnet_status_str(self.code())) }
    }
}

/// A failed call: its status and the detail message (`bitnet_last_error()`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub status: Status,
    pub message: String,
}

impl Error {
    /// The error of the call that just failed on this thread.
    fn last(code: c_int) -> Error {
        let message = unsafe { cstr_lossy(ffi::bitnet_last_error()) };
        Error { status: Status::from_code(code), message }
    }

    fn new(status: Status, message: impl Into<String>) -> Error {
        Error { status, message: message.into() }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() {
            f.write_str(self.status.as_str())
        } else {
            write!(f, "{}: {}", self.status.as_str(), self.message)
        }
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

fn check(code: c_int) -> Result<()> {
    if code == 0 {
        Ok(())
    } else {
        Err(Error::last(code))
    }
}

unsafe fn static_str(p: *const c_char) -> &'static str {
    if p.is_null() {
        ""
    } else {
        CStr::from_ptr(p).to_str().unwrap_or("")
    }
}

unsafe fn cstr_lossy(p: *const c_char) -> String {
    if p.is_null() {
        String::new()
    } else {
        CStr::from_ptr(p).to_string_lossy().into_owned()
    }
}

fn c_string(s: &str, what: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::new(Status::InvalidArgument, format!("{} contains a NUL byte", what)))
}

fn c_path(path: &Path) -> Result<CString> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| Error::new(Status::InvalidArgument, "the path contains a NUL byte"))
}

/// Runtime version as major*10000 + minor*100 + patch.
pub fn version() -> u32 {
    unsafe { ffi::bitnet_version() }
}

/// "MAJOR.MINOR.PATCH".
pub fn version_string() -> &'static str {
    unsafe { static_str(ffi::bitnet_version_string()) }
}

/// Name of a tensor type id ("q4_k", "i2_s", "unknown").
pub fn type_name(type_id: u32) -> &'static str {
    unsafe { static_str(ffi::bitnet_type_name(type_id)) }
}

/// Types tensors can be read (dequantized) into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadType {
    F32 = 0,
    F16 = 1,
    BF16 = 30,
}

impl ReadType {
    pub fn size(self) -> usize {
        match self {
            ReadType::F32 => 4,
            ReadType::F16 | ReadType::BF16 => 2,
        }
    }
}

/// KV cache element types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KvType {
    F32 = 0,
    F16 = 1,
}

/// `bitnet_model_params`; `Default` gives the library's defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelParams {
    pub use_mmap: bool,
    pub cache_bytes: u64,
    /// Re-quantize the output head to this type id; `None`: as stored.
    pub head_type: Option<u32>,
    pub prefetch: bool,
}

impl ModelParams {
    fn raw(&self) -> ffi::bitnet_model_params {
        let mut p = unsafe { ffi::bitnet_model_params_default() };
        p.use_mmap = self.use_mmap;
        p.cache_bytes = self.cache_bytes;
        p.head_type = self.head_type.map_or(-1, |t| t as i32);
        p.prefetch = self.prefetch;
        p
    }
}

impl Default for ModelParams {
    fn default() -> Self {
        let p = unsafe { ffi::bitnet_model_params_default() };
        ModelParams {
            use_mmap: p.use_mmap,
            cache_bytes: p.cache_bytes,
            head_type: if p.head_type < 0 { None } else { Some(p.head_type as u32) },
            prefetch: p.prefetch,
        }
    }
}

/// `bitnet_context_params`; `Default` gives the library's defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct ContextParams {
    /// KV cache positions; 0 = the model's context length.
    pub n_ctx: i32,
    pub n_batch: i32,
    pub n_threads: i32,
    pub kv_type: KvType,
    pub logits_all: bool,
    /// Kernel backend by name; `None`: the best for this CPU.
    pub backend: Option<String>,
    pub blas_min_batch: i32,
}

impl Default for ContextParams {
    fn default() -> Self {
        let p = unsafe { ffi::bitnet_context_params_default() };
        ContextParams {
            n_ctx: p.n_ctx,
            n_batch: p.n_batch,
            n_threads: p.n_threads,
            kv_type: if p.kv_type == KvType::F16 as u32 { KvType::F16 } else { KvType::F32 },
            logits_all: p.logits_all,
            backend: None,
            blas_min_batch: p.blas_min_batch,
        }
    }
}

/// `bitnet_sampler_params`; `Default` gives the library's defaults
/// (temperature 0.8); `temperature: 0.0` is greedy.
#[derive(Clone, Debug, PartialEq)]
pub struct SamplerParams {
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

impl Default for SamplerParams {
    fn default() -> Self {
        let p = unsafe { ffi::bitnet_sampler_params_default() };
        SamplerParams {
            temperature: p.temperature,
            top_k: p.top_k,
            top_p: p.top_p,
            min_p: p.min_p,
            repeat_penalty: p.repeat_penalty,
            frequency_penalty: p.frequency_penalty,
            presence_penalty: p.presence_penalty,
            penalty_last_n: p.penalty_last_n,
            seed: p.seed,
        }
    }
}

/// A tensor as stored. `shape[0]` is the row length (GGUF order).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorInfo {
    pub name: String,
    pub type_id: u32,
    pub type_name: &'static str,
    pub shape: Vec<i64>,
    pub n_elements: i64,
    pub n_rows: i64,
    pub n_bytes: u64,
    pub offset: u64,
}

impl TensorInfo {
    unsafe fn from_raw(r: &ffi::bitnet_tensor_info) -> TensorInfo {
        TensorInfo {
            name: cstr_lossy(r.name),
            type_id: r.type_,
            type_name: static_str(r.type_name),
            shape: r.ne[..(r.n_dims as usize).min(ffi::BITNET_MAX_DIMS)].to_vec(),
            n_elements: r.n_elements,
            n_rows: r.n_rows,
            n_bytes: r.n_bytes,
            offset: r.offset,
        }
    }
}

fn tensor_info_raw() -> ffi::bitnet_tensor_info {
    ffi::bitnet_tensor_info {
        struct_size: std::mem::size_of::<ffi::bitnet_tensor_info>(),
        name: ptr::null(),
        type_: 0,
        type_name: ptr::null(),
        n_dims: 0,
        ne: [0; ffi::BITNET_MAX_DIMS],
        n_elements: 0,
        n_rows: 0,
        n_bytes: 0,
        offset: 0,
    }
}

pub type StoreStats = ffi::bitnet_store_stats;
pub type ContextMemory = ffi::bitnet_context_memory_info;
pub type ContextStats = ffi::bitnet_context_stats;

/// A metadata value, borrowed from its model.
#[derive(Clone, Copy)]
pub struct Value<'m> {
    raw: *const ffi::bitnet_value,
    _model: std::marker::PhantomData<&'m Model>,
}

/// GGUF metadata value type ids.
pub mod value_type {
    pub const UINT8: i32 = 0;
    pub const INT8: i32 = 1;
    pub const UINT16: i32 = 2;
    pub const INT16: i32 = 3;
    pub const UINT32: i32 = 4;
    pub const INT32: i32 = 5;
    pub const FLOAT32: i32 = 6;
    pub const BOOL: i32 = 7;
    pub const STRING: i32 = 8;
    pub const ARRAY: i32 = 9;
    pub const UINT64: i32 = 10;
    pub const INT64: i32 = 11;
    pub const FLOAT64: i32 = 12;
}

fn utf8(bytes: &[u8]) -> Result<&str> {
    std::str::from_utf8(bytes).map_err(|e| Error::new(Status::BadFormat, format!("string is not UTF-8: {}", e)))
}

impl fmt::Debug for Value<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Value").field("type", &self.type_name()).finish()
    }
}

impl<'m> Value<'m> {
    /// One of the [`value_type`] ids.
    pub fn value_type(&self) -> i32 {
        unsafe { ffi::bitnet_value_get_type(self.raw) }
    }

    pub fn type_name(&self) -> &'static str {
        unsafe { static_str(ffi::bitnet_value_type_name(self.value_type() as u32)) }
    }

    pub fn as_int(&self) -> Result<i64> {
        let mut v = 0;
        check(unsafe { ffi::bitnet_value_int(self.raw, &mut v) })?;
        Ok(v)
    }

    pub fn as_uint(&self) -> Result<u64> {
        let mut v = 0;
        check(unsafe { ffi::bitnet_value_uint(self.raw, &mut v) })?;
        Ok(v)
    }

    pub fn as_float(&self) -> Result<f64> {
        let mut v = 0.0;
        check(unsafe { ffi::bitnet_value_float(self.raw, &mut v) })?;
        Ok(v)
    }

    pub fn as_bool(&self) -> Result<bool> {
        let mut v = false;
        check(unsafe { ffi::bitnet_value_bool(self.raw, &mut v) })?;
        Ok(v)
    }

    pub fn as_bytes(&self) -> Result<&'m [u8]> {
        let (mut p, mut n) = (ptr::null(), 0usize);
        check(unsafe { ffi::bitnet_value_string(self.raw, &mut p, &mut n) })?;
        Ok(unsafe { std::slice::from_raw_parts(p as *const u8, n) })
    }

    pub fn as_str(&self) -> Result<&'m str> {
        utf8(self.as_bytes()?)
    }

    /// Element type and length of an array value.
    pub fn array_info(&self) -> Result<(i32, u64)> {
        let (mut t, mut n) = (0 as c_int, 0u64);
        check(unsafe { ffi::bitnet_value_array_info(self.raw, &mut t, &mut n) })?;
        Ok((t, n))
    }

    pub fn array_int(&self, i: u64) -> Result<i64> {
        let mut v = 0;
        check(unsafe { ffi::bitnet_value_array_int(self.raw, i, &mut v) })?;
        Ok(v)
    }

    pub fn array_uint(&self, i: u64) -> Result<u64> {
        let mut v = 0;
        check(unsafe { ffi::bitnet_value_array_uint(self.raw, i, &mut v) })?;
        Ok(v)
    }

    pub fn array_float(&self, i: u64) -> Result<f64> {
        let mut v = 0.0;
        check(unsafe { ffi::bitnet_value_array_float(self.raw, i, &mut v) })?;
        Ok(v)
    }

    pub fn array_bool(&self, i: u64) -> Result<bool> {
        let mut v = false;
        check(unsafe { ffi::bitnet_value_array_bool(self.raw, i, &mut v) })?;
        Ok(v)
    }

    pub fn array_bytes(&self, i: u64) -> Result<&'m [u8]> {
        let (mut p, mut n) = (ptr::null(), 0usize);
        check(unsafe { ffi::bitnet_value_array_string(self.raw, i, &mut p, &mut n) })?;
        Ok(unsafe { std::slice::from_raw_parts(p as *const u8, n) })
    }

    pub fn array_str(&self, i: u64) -> Result<&'m str> {
        utf8(self.array_bytes(i)?)
    }

    /// Element `i` of an array of arrays.
    pub fn array_array(&self, i: u64) -> Result<Value<'m>> {
        let mut v = ptr::null();
        check(unsafe { ffi::bitnet_value_array_array(self.raw, i, &mut v) })?;
        Ok(Value { raw: v, _model: std::marker::PhantomData })
    }
}

/// A loaded model: reference counted, shareable between threads.
pub struct Model {
    raw: NonNull<ffi::bitnet_model>,
    /// The buffer of `load_memory`, kept alive by every holder of a reference.
    data: Option<Arc<[u8]>>,
}

// The header: a model is immutable after load apart from its cache, lazily
// built tokenizer and error copy, all locked; reference counting is atomic.
unsafe impl Send for Model {}
unsafe impl Sync for Model {}

impl Clone for Model {
    fn clone(&self) -> Self {
        unsafe { ffi::bitnet_model_retain(self.raw.as_ptr()) };
        Model { raw: self.raw, data: self.data.clone() }
    }
}

impl Drop for Model {
    fn drop(&mut self) {
        unsafe { ffi::bitnet_model_release(self.raw.as_ptr()) };
    }
}

impl fmt::Debug for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Model").field("raw", &self.raw).finish()
    }
}

impl Model {
    /// Load a GGUF file.
    pub fn load<P: AsRef<Path>>(path: P, params: &ModelParams) -> Result<Model> {
        let path = c_path(path.as_ref())?;
        let p = params.raw();
        let mut out = ptr::null_mut();
        check(unsafe { ffi::bitnet_model_load_file(path.as_ptr(), &p, &mut out) })?;
        Ok(Model { raw: NonNull::new(out).expect("libbitnet returned no model"), data: None }) // BITNET_OK sets out
    }

    /// Load from bytes in memory. The buffer is used in place (not copied by
    /// the library) and lives as long as any reference to the model.
    pub fn load_memory(data: impl Into<Arc<[u8]>>, params: &ModelParams) -> Result<Model> {
        let data: Arc<[u8]> = data.into();
        let p = params.raw();
        let mut out = ptr::null_mut();
        check(unsafe { ffi::bitnet_model_load_memory(data.as_ptr() as *const c_void, data.len(), &p, &mut out) })?;
        Ok(Model { raw: NonNull::new(out).expect("libbitnet returned no model"), data: Some(data) })
    }

    pub fn as_ptr(&self) -> *mut ffi::bitnet_model {
        self.raw.as_ptr()
    }

    pub fn gguf_version(&self) -> u32 {
        unsafe { ffi::bitnet_model_gguf_version(self.raw.as_ptr()) }
    }

    /// The last failure on this model ("" if none).
    pub fn last_error(&self) -> String {
        unsafe { cstr_lossy(ffi::bitnet_model_last_error(self.raw.as_ptr())) }
    }

    // -- metadata ---------------------------------------------------------

    pub fn meta_count(&self) -> usize {
        unsafe { ffi::bitnet_model_meta_count(self.raw.as_ptr()) as usize }
    }

    /// Key and value at `index` in [0, meta_count()).
    pub fn meta_at(&self, index: usize) -> Result<(&str, Value<'_>)> {
        let (mut k, mut v) = (ptr::null(), ptr::null());
        check(unsafe { ffi::bitnet_model_meta_at(self.raw.as_ptr(), index as i64, &mut k, &mut v) })?;
        let key = unsafe { CStr::from_ptr(k) }.to_str().map_err(|e| Error::new(Status::BadFormat, e.to_string()))?;
        Ok((key, Value { raw: v, _model: std::marker::PhantomData }))
    }

    /// Every key, in file order.
    pub fn meta_keys(&self) -> Result<Vec<&str>> {
        (0..self.meta_count()).map(|i| self.meta_at(i).map(|(k, _)| k)).collect()
    }

    /// The value of `key` (`Status::NotFound` if absent).
    pub fn meta(&self, key: &str) -> Result<Value<'_>> {
        let key = c_string(key, "the key")?;
        let mut v = ptr::null();
        check(unsafe { ffi::bitnet_model_meta_get(self.raw.as_ptr(), key.as_ptr(), &mut v) })?;
        Ok(Value { raw: v, _model: std::marker::PhantomData })
    }

    pub fn meta_str(&self, key: &str) -> Result<&str> {
        self.meta(key)?.as_str()
    }

    pub fn meta_int(&self, key: &str) -> Result<i64> {
        self.meta(key)?.as_int()
    }

    pub fn meta_uint(&self, key: &str) -> Result<u64> {
        self.meta(key)?.as_uint()
    }

    pub fn meta_float(&self, key: &str) -> Result<f64> {
        self.meta(key)?.as_float()
    }

    pub fn meta_bool(&self, key: &str) -> Result<bool> {
        self.meta(key)?.as_bool()
    }

    // -- tensors ----------------------------------------------------------

    pub fn tensor_count(&self) -> usize {
        unsafe { ffi::bitnet_model_tensor_count(self.raw.as_ptr()) as usize }
    }

    pub fn tensor_info(&self, index: usize) -> Result<TensorInfo> {
        let mut r = tensor_info_raw();
        check(unsafe { ffi::bitnet_model_tensor_info(self.raw.as_ptr(), index as i64, &mut r) })?;
        Ok(unsafe { TensorInfo::from_raw(&r) })
    }

    /// Every tensor, in file order.
    pub fn tensors(&self) -> Result<Vec<TensorInfo>> {
        (0..self.tensor_count()).map(|i| self.tensor_info(i)).collect()
    }

    /// One tensor by name (`Status::NotFound` if absent).
    pub fn tensor(&self, name: &str) -> Result<TensorInfo> {
        let name = c_string(name, "the tensor name")?;
        let mut r = tensor_info_raw();
        check(unsafe { ffi::bitnet_model_tensor_info_by_name(self.raw.as_ptr(), name.as_ptr(), &mut r) })?;
        Ok(unsafe { TensorInfo::from_raw(&r) })
    }

    /// Dequantize rows `rows` of tensor `name` into `dst` as `ty`; returns
    /// the bytes written. A short `dst` gives `Status::BufferTooSmall` and
    /// writes nothing. Thread-safe.
    pub fn read_tensor_into(&self, name: &str, rows: Range<i64>, ty: ReadType, dst: &mut [u8]) -> Result<usize> {
        let name = c_string(name, "the tensor name")?;
        let mut written = 0usize;
        check(unsafe {
            ffi::bitnet_model_tensor_read(
                self.raw.as_ptr(),
                name.as_ptr(),
                rows.start,
                rows.end,
                ty as c_int,
                dst.as_mut_ptr() as *mut c_void,
                dst.len(),
                &mut written,
            )
        })?;
        Ok(written)
    }

    fn rows_len(&self, name: &str, rows: &Range<i64>) -> Result<usize> {
        let info = self.tensor(name)?;
        let n = rows.end.saturating_sub(rows.start).max(0) as usize;
        Ok(n.saturating_mul(info.shape[0] as usize))
    }

    /// Rows of a tensor as f32 values.
    pub fn read_tensor_f32(&self, name: &str, rows: Range<i64>) -> Result<Vec<f32>> {
        let mut out = vec![0f32; self.rows_len(name, &rows)?];
        let bytes = unsafe { std::slice::from_raw_parts_mut(out.as_mut_ptr() as *mut u8, out.len() * 4) };
        let n = self.read_tensor_into(name, rows, ReadType::F32, bytes)?;
        out.truncate(n / 4);
        Ok(out)
    }

    /// Rows of a tensor as F16 or BF16 bit patterns.
    pub fn read_tensor_u16(&self, name: &str, rows: Range<i64>, ty: ReadType) -> Result<Vec<u16>> {
        if ty == ReadType::F32 {
            return Err(Error::new(Status::InvalidArgument, "read_tensor_u16 reads F16 or BF16"));
        }
        let mut out = vec![0u16; self.rows_len(name, &rows)?];
        let bytes = unsafe { std::slice::from_raw_parts_mut(out.as_mut_ptr() as *mut u8, out.len() * 2) };
        let n = self.read_tensor_into(name, rows, ty, bytes)?;
        out.truncate(n / 2);
        Ok(out)
    }

    pub fn store_stats(&self) -> Result<StoreStats> {
        let mut s = StoreStats { struct_size: std::mem::size_of::<StoreStats>(), ..Default::default() };
        check(unsafe { ffi::bitnet_model_store_stats(self.raw.as_ptr(), &mut s) })?;
        Ok(s)
    }

    // -- vocabulary and tokenizer -----------------------------------------

    pub fn vocab_size(&self) -> i32 {
        unsafe { ffi::bitnet_vocab_size(self.raw.as_ptr()) }
    }

    pub fn bos(&self) -> Option<Token> {
        let t = unsafe { ffi::bitnet_token_bos(self.raw.as_ptr()) };
        if t == ffi::BITNET_TOKEN_NULL {
            None
        } else {
            Some(t)
        }
    }

    pub fn eos(&self) -> Option<Token> {
        let t = unsafe { ffi::bitnet_token_eos(self.raw.as_ptr()) };
        if t == ffi::BITNET_TOKEN_NULL {
            None
        } else {
            Some(t)
        }
    }

    pub fn is_eog(&self, token: Token) -> bool {
        unsafe { ffi::bitnet_token_is_eog(self.raw.as_ptr(), token) }
    }

    /// The vocabulary entry as stored; `None` when out of range.
    pub fn token_text(&self, token: Token) -> Option<&[u8]> {
        let p = unsafe { ffi::bitnet_token_text(self.raw.as_ptr(), token) };
        if p.is_null() {
            None
        } else {
            Some(unsafe { CStr::from_ptr(p) }.to_bytes())
        }
    }

    /// Text to tokens; `add_special` adds BOS/EOS as the model asks.
    pub fn tokenize(&self, text: &str, add_special: bool) -> Result<Vec<Token>> {
        let flags = if add_special { ffi::BITNET_TOKENIZE_ADD_SPECIAL } else { 0 };
        self.tokenize_bytes(text.as_bytes(), flags)
    }

    /// Tokenize UTF-8 bytes with `BITNET_TOKENIZE_*` flags.
    pub fn tokenize_bytes(&self, text: &[u8], flags: u32) -> Result<Vec<Token>> {
        let mut toks: Vec<Token> = vec![0; text.len() + 4]; // one per byte at most, plus specials
        loop {
            let mut n = 0usize;
            let s = unsafe {
                ffi::bitnet_tokenize(
                    self.raw.as_ptr(),
                    text.as_ptr() as *const c_char,
                    text.len(),
                    flags,
                    toks.as_mut_ptr(),
                    toks.len(),
                    &mut n,
                )
            };
            if s == Status::BufferTooSmall.code() && n > toks.len() {
                toks.resize(n, 0);
                continue;
            }
            check(s)?;
            toks.truncate(n);
            return Ok(toks);
        }
    }

    fn two_call<F>(&self, f: F) -> Result<Vec<u8>>
    where
        F: Fn(*mut c_char, usize, &mut usize) -> c_int,
    {
        let mut n = 0usize;
        let s = f(ptr::null_mut(), 0, &mut n);
        if s == 0 {
            return Ok(Vec::new());
        }
        if s != Status::BufferTooSmall.code() {
            check(s)?;
        }
        let mut buf = vec![0u8; n];
        check(f(buf.as_mut_ptr() as *mut c_char, buf.len(), &mut n))?;
        buf.truncate(n);
        Ok(buf)
    }

    /// The bytes one token stands for (`special`: render control tokens).
    pub fn token_to_piece(&self, token: Token, special: bool) -> Result<Vec<u8>> {
        let flags = if special { ffi::BITNET_DETOKENIZE_SPECIAL } else { 0 };
        self.two_call(|buf, cap, n| unsafe { ffi::bitnet_token_to_piece(self.raw.as_ptr(), token, flags, buf, cap, n) })
    }

    /// Tokens back to bytes.
    pub fn detokenize_bytes(&self, tokens: &[Token], special: bool) -> Result<Vec<u8>> {
        let flags = if special { ffi::BITNET_DETOKENIZE_SPECIAL } else { 0 };
        self.two_call(|buf, cap, n| unsafe {
            ffi::bitnet_detokenize(self.raw.as_ptr(), tokens.as_ptr(), tokens.len(), flags, buf, cap, n)
        })
    }

    /// Tokens back to text (invalid UTF-8 becomes U+FFFD).
    pub fn detokenize(&self, tokens: &[Token], special: bool) -> Result<String> {
        Ok(String::from_utf8_lossy(&self.detokenize_bytes(tokens, special)?).into_owned())
    }
}

/// A KV cache and scratch for running a model; used by one thread at a time.
pub struct Context {
    raw: NonNull<ffi::bitnet_context>,
    model: Model,
    n_vocab: usize,
}

// A context may move between threads, but is used by one at a time: Send, not Sync.
unsafe impl Send for Context {}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context").field("raw", &self.raw).field("n_past", &self.n_past()).finish()
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        unsafe { ffi::bitnet_context_free(self.raw.as_ptr()) };
    }
}

impl Context {
    pub fn new(model: &Model, params: &ContextParams) -> Result<Context> {
        let backend = match &params.backend {
            Some(b) => Some(c_string(b, "the backend name")?),
            None => None,
        };
        let mut p = unsafe { ffi::bitnet_context_params_default() };
        p.n_ctx = params.n_ctx;
        p.n_batch = params.n_batch;
        p.n_threads = params.n_threads;
        p.kv_type = params.kv_type as u32;
        p.logits_all = params.logits_all;
        p.backend = backend.as_ref().map_or(ptr::null(), |b| b.as_ptr());
        p.blas_min_batch = params.blas_min_batch;
        let mut out = ptr::null_mut();
        check(unsafe { ffi::bitnet_context_new(model.raw.as_ptr(), &p, &mut out) })?;
        Ok(Context {
            raw: NonNull::new(out).expect("libbitnet returned no context"),
            model: model.clone(),
            n_vocab: model.vocab_size().max(0) as usize,
        })
    }

    pub fn as_ptr(&self) -> *mut ffi::bitnet_context {
        self.raw.as_ptr()
    }

    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Append tokens at the end of the KV cache and compute logits.
    pub fn decode(&mut self, tokens: &[Token]) -> Result<()> {
        let n = i32::try_from(tokens.len()).map_err(|_| Error::new(Status::InvalidArgument, "too many tokens"))?;
        check(unsafe { ffi::bitnet_context_decode(self.raw.as_ptr(), tokens.as_ptr(), n) })
    }

    /// Logits of the last token of the last decode; `None` before one.
    pub fn logits(&self) -> Option<&[f32]> {
        self.logits_at(-1)
    }

    /// Logits of row `i` of the last decode (-1: its last; other rows need `logits_all`).
    pub fn logits_at(&self, i: i32) -> Option<&[f32]> {
        let p = unsafe { ffi::bitnet_context_logits(self.raw.as_ptr(), i) };
        if p.is_null() {
            None
        } else {
            Some(unsafe { std::slice::from_raw_parts(p, self.n_vocab) })
        }
    }

    pub fn n_past(&self) -> i32 {
        unsafe { ffi::bitnet_context_n_past(self.raw.as_ptr()) }
    }

    pub fn n_ctx(&self) -> i32 {
        unsafe { ffi::bitnet_context_n_ctx(self.raw.as_ptr()) }
    }

    /// The tokens at positions [0, n_past).
    pub fn tokens(&self) -> &[Token] {
        let mut n = 0i32;
        let p = unsafe { ffi::bitnet_context_tokens(self.raw.as_ptr(), &mut n) };
        if p.is_null() || n <= 0 {
            &[]
        } else {
            unsafe { std::slice::from_raw_parts(p, n as usize) }
        }
    }

    pub fn clear(&mut self) {
        unsafe { ffi::bitnet_context_clear(self.raw.as_ptr()) }
    }

    /// Keep the first `n_keep` positions.
    pub fn trim(&mut self, n_keep: i32) -> Result<()> {
        check(unsafe { ffi::bitnet_context_trim(self.raw.as_ptr(), n_keep) })
    }

    pub fn memory(&self) -> Result<ContextMemory> {
        let mut m = ContextMemory { struct_size: std::mem::size_of::<ContextMemory>(), ..Default::default() };
        check(unsafe { ffi::bitnet_context_memory(self.raw.as_ptr(), &mut m) })?;
        Ok(m)
    }

    pub fn stats(&self) -> Result<ContextStats> {
        let mut s = ContextStats { struct_size: std::mem::size_of::<ContextStats>(), ..Default::default() };
        check(unsafe { ffi::bitnet_context_stats_get(self.raw.as_ptr(), &mut s) })?;
        Ok(s)
    }

    pub fn reset_stats(&mut self) {
        unsafe { ffi::bitnet_context_stats_reset(self.raw.as_ptr()) }
    }

    /// Save positions, KV cache and last logits (and the sampler) to a file.
    pub fn save_state<P: AsRef<Path>>(&self, sampler: Option<&Sampler>, path: P) -> Result<()> {
        let path = c_path(path.as_ref())?;
        let s = sampler.map_or(ptr::null(), |s| s.raw.as_ptr() as *const _);
        check(unsafe { ffi::bitnet_context_state_save(self.raw.as_ptr(), s, path.as_ptr()) })
    }

    /// Load a saved state; on failure the context and sampler are unchanged.
    pub fn load_state<P: AsRef<Path>>(&mut self, sampler: Option<&mut Sampler>, path: P) -> Result<()> {
        let path = c_path(path.as_ref())?;
        let s = sampler.map_or(ptr::null_mut(), |s| s.raw.as_ptr());
        check(unsafe { ffi::bitnet_context_state_load(self.raw.as_ptr(), s, path.as_ptr()) })
    }

    /// The state as bytes (the file format).
    pub fn state_to_vec(&self, sampler: Option<&Sampler>) -> Result<Vec<u8>> {
        let s = sampler.map_or(ptr::null(), |s| s.raw.as_ptr() as *const _);
        let mut n = 0usize;
        let st = unsafe { ffi::bitnet_context_state_save_memory(self.raw.as_ptr(), s, ptr::null_mut(), 0, &mut n) };
        if st != Status::BufferTooSmall.code() {
            check(st)?;
        }
        let mut buf = vec![0u8; n];
        check(unsafe {
            ffi::bitnet_context_state_save_memory(self.raw.as_ptr(), s, buf.as_mut_ptr() as *mut c_void, n, &mut n)
        })?;
        buf.truncate(n);
        Ok(buf)
    }

    pub fn load_state_bytes(&mut self, sampler: Option<&mut Sampler>, data: &[u8]) -> Result<()> {
        let s = sampler.map_or(ptr::null_mut(), |s| s.raw.as_ptr());
        check(unsafe {
            ffi::bitnet_context_state_load_memory(self.raw.as_ptr(), s, data.as_ptr() as *const c_void, data.len())
        })
    }

    /// Decode `prompt` (empty: continue from the last logits) and generate
    /// up to `max_new` tokens, stopping at an end-of-generation token. The
    /// loop is `bitnet run`'s: prompt tokens are accepted by the sampler,
    /// each chosen token is accepted and then decoded before the next (the
    /// last one is not decoded: the context ends at n_past = prompt + n - 1).
    pub fn generate<'a>(&'a mut self, sampler: &'a mut Sampler, prompt: &[Token], max_new: usize) -> Generate<'a> {
        Generate {
            ctx: self,
            sampler,
            prompt: Some(prompt.to_vec()),
            last: None,
            step: 0,
            max_new,
            ignore_eos: false,
            done: false,
        }
    }
}

/// The iterator of [`Context::generate`]: yields token ids, or one error.
pub struct Generate<'a> {
    ctx: &'a mut Context,
    sampler: &'a mut Sampler,
    prompt: Option<Vec<Token>>,
    last: Option<Token>,
    step: usize,
    max_new: usize,
    ignore_eos: bool,
    done: bool,
}

impl<'a> Generate<'a> {
    /// Keep going past end-of-generation tokens.
    pub fn ignore_eos(mut self, ignore: bool) -> Self {
        self.ignore_eos = ignore;
        self
    }

    fn step(&mut self) -> Result<Option<Token>> {
        if let Some(prompt) = self.prompt.take() {
            if !prompt.is_empty() {
                self.ctx.decode(&prompt)?;
                for &t in &prompt {
                    self.sampler.accept(t)?;
                }
            }
        } else if let Some(t) = self.last.take() {
            // The last token is not decoded (as in `bitnet run`), nor one that
            // does not fit.
            if self.step >= self.max_new || self.ctx.n_past() == self.ctx.n_ctx() {
                return Ok(None);
            }
            self.ctx.decode(&[t])?;
        }
        if self.step >= self.max_new {
            return Ok(None);
        }
        let logits = self
            .ctx
            .logits()
            .ok_or_else(|| Error::new(Status::InvalidArgument, "no logits: decode a prompt first"))?;
        let t = self.sampler.sample(logits)?;
        if !self.ignore_eos && self.ctx.model.is_eog(t) {
            return Ok(None);
        }
        self.sampler.accept(t)?;
        self.step += 1;
        self.last = Some(t);
        Ok(Some(t))
    }
}

impl<'a> Iterator for Generate<'a> {
    type Item = Result<Token>;

    fn next(&mut self) -> Option<Result<Token>> {
        if self.done {
            return None;
        }
        match self.step() {
            Ok(Some(t)) => Some(Ok(t)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// The sampling chain; used by one thread at a time.
pub struct Sampler {
    raw: NonNull<ffi::bitnet_sampler>,
}

unsafe impl Send for Sampler {}

impl fmt::Debug for Sampler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sampler").field("raw", &self.raw).finish()
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        unsafe { ffi::bitnet_sampler_free(self.raw.as_ptr()) };
    }
}

impl Sampler {
    pub fn new(params: &SamplerParams) -> Result<Sampler> {
        let mut p = unsafe { ffi::bitnet_sampler_params_default() };
        p.temperature = params.temperature;
        p.top_k = params.top_k;
        p.top_p = params.top_p;
        p.min_p = params.min_p;
        p.repeat_penalty = params.repeat_penalty;
        p.frequency_penalty = params.frequency_penalty;
        p.presence_penalty = params.presence_penalty;
        p.penalty_last_n = params.penalty_last_n;
        p.seed = params.seed;
        let mut out = ptr::null_mut();
        check(unsafe { ffi::bitnet_sampler_new(&p, &mut out) })?;
        Ok(Sampler { raw: NonNull::new(out).expect("libbitnet returned no sampler") })
    }

    /// A greedy (argmax) sampler.
    pub fn greedy() -> Result<Sampler> {
        Sampler::new(&SamplerParams { temperature: 0.0, ..Default::default() })
    }

    pub fn as_ptr(&self) -> *mut ffi::bitnet_sampler {
        self.raw.as_ptr()
    }

    /// Choose a token from n_vocab logits.
    pub fn sample(&mut self, logits: &[f32]) -> Result<Token> {
        let n = i32::try_from(logits.len()).map_err(|_| Error::new(Status::InvalidArgument, "too many logits"))?;
        let mut t = 0;
        check(unsafe { ffi::bitnet_sampler_sample(self.raw.as_ptr(), logits.as_ptr(), n, &mut t) })?;
        Ok(t)
    }

    /// Record a token (prompt or generated) for the penalties.
    pub fn accept(&mut self, token: Token) -> Result<()> {
        check(unsafe { ffi::bitnet_sampler_accept(self.raw.as_ptr(), token) })
    }

    /// Forget the history and restart the random stream from the seed.
    pub fn reset(&mut self) {
        unsafe { ffi::bitnet_sampler_reset(self.raw.as_ptr()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_structs_match_the_library() {
        unsafe {
            assert_eq!(ffi::bitnet_model_params_default().struct_size, std::mem::size_of::<ffi::bitnet_model_params>());
            assert_eq!(
                ffi::bitnet_context_params_default().struct_size,
                std::mem::size_of::<ffi::bitnet_context_params>()
            );
            assert_eq!(
                ffi::bitnet_sampler_params_default().struct_size,
                std::mem::size_of::<ffi::bitnet_sampler_params>()
            );
        }
    }

    #[test]
    fn thread_safety_markers() {
        fn send<T: Send>() {}
        fn sync<T: Sync>() {}
        send::<Model>();
        sync::<Model>();
        send::<Context>();
        send::<Sampler>();
    }

    #[test]
    fn status_codes_round_trip() {
        for code in 1..=13 {
            assert_eq!(Status::from_code(code).code(), code);
        }
        assert_eq!(Status::from_code(99), Status::Other(99));
        assert_eq!(Status::NotFound.as_str(), "not found");
        assert!(version() >= 100);
        assert_eq!(version_string().split('.').count(), 3);
    }
}
