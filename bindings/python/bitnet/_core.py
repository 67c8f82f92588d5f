"""The Pythonic layer over libbitnet: Model, Context, Sampler, generate().

Ownership follows the C API: every Model object owns one reference to its C
model (so a Context, which retains the C model, keeps working after the Model
that made it is closed); Context and Sampler own their handle. All of them
free it in close(), at the end of a `with` block, or when garbage collected.
Thread safety is the header's: a Model may be used from any number of threads
at once; a Context or a Sampler by one thread at a time.
"""

import codecs
import collections
import ctypes
import enum
import os
from collections.abc import Mapping

from . import _lib
from ._lib import (ContextMemoryStruct, ContextParams, ContextStatsStruct, ModelParams, SamplerParams,
                   StoreStatsStruct, TensorInfoStruct, c_token, lib)

try:  # optional: numpy arrays where asked for
    import numpy as _np
except ImportError:  # pragma: no cover - depends on the machine
    _np = None


class Status(enum.IntEnum):
    """bitnet_status: the values are pinned by the C API."""
    OK = 0
    INVALID_ARGUMENT = 1
    IO = 2
    BAD_FORMAT = 3
    UNSUPPORTED = 4
    OUT_OF_MEMORY = 5
    OUT_OF_RANGE = 6
    NOT_FOUND = 7
    TYPE_MISMATCH = 8
    BUFFER_TOO_SMALL = 9
    CONTEXT_FULL = 10
    ABORTED = 11
    INTERNAL = 12
    MEMORY_BUDGET = 13


class Type(enum.IntEnum):
    """bitnet_type: GGUF tensor type ids."""
    F32 = 0
    F16 = 1
    Q4_0 = 2
    Q4_1 = 3
    Q5_0 = 6
    Q5_1 = 7
    Q8_0 = 8
    Q8_1 = 9
    Q2_K = 10
    Q3_K = 11
    Q4_K = 12
    Q5_K = 13
    Q6_K = 14
    Q8_K = 15
    I8 = 24
    I16 = 25
    I32 = 26
    BF16 = 30
    TQ1_0 = 34
    TQ2_0 = 35
    I2_S = 36


class LogLevel(enum.IntEnum):
    ERROR = 0
    WARN = 1
    INFO = 2
    DEBUG = 3


TOKEN_NULL = -1
TOKENIZE_ADD_SPECIAL = 0x1
TOKENIZE_PARSE_SPECIAL = 0x2
DETOKENIZE_SPECIAL = 0x1

_VALUE_ARRAY = 9
_VALUE_KINDS = {0: "uint", 1: "int", 2: "uint", 3: "int", 4: "uint", 5: "int", 6: "float", 7: "bool",
                8: "string", 10: "uint", 11: "int", 12: "float"}
# dtype for tensor reads: (type id, bytes per element, memoryview format, numpy dtype name)
# (memoryview cannot be cast to 'e': 16-bit results are raw bit patterns, 'H')
_DTYPES = {Type.F32: (4, "f", "float32"), Type.F16: (2, "H", "float16"), Type.BF16: (2, "H", "uint16")}


class BitnetError(Exception):
    """A libbitnet call failed. `status` is a Status (an int for values this
    binding does not know), `message` the bitnet_last_error() text, `call`
    the C function's name."""

    def __init__(self, status, message, call=""):
        try:
            status = Status(status)
        except ValueError:
            pass
        self.status = status
        self.message = message
        self.call = call
        super().__init__(status, message)

    def __str__(self):
        text = lib().bitnet_status_str(int(self.status)).decode()
        where = self.call + ": " if self.call else ""
        return "%s%s%s" % (where, text, ": " + self.message if self.message else "")


def _check(status, call):
    if status != 0:
        # bitnet_last_error() is per thread: read it right away, on this thread.
        raise BitnetError(status, (lib().bitnet_last_error() or b"").decode("utf-8", "replace"), call)


def version():
    """Runtime version number: major*10000 + minor*100 + patch."""
    return lib().bitnet_version()


def version_string():
    return lib().bitnet_version_string().decode()


def status_str(status):
    return lib().bitnet_status_str(int(status)).decode()


def type_name(type_id):
    return lib().bitnet_type_name(int(type_id)).decode()


_log_callback = None  # keeps the ctypes thunk alive while installed


def set_log_callback(callback, max_level=LogLevel.INFO):
    """Install `callback(level: LogLevel, message: str)` for the process, or
    silence logging with None. The callback may run on libbitnet's worker
    threads and must not call back into libbitnet."""
    global _log_callback
    if callback is None:
        lib().bitnet_set_log_callback(_lib.LOG_CALLBACK(), None, int(max_level))
        _log_callback = None
        return

    def thunk(level, message, _user):
        try:
            callback(LogLevel(level), message.decode("utf-8", "replace"))
        except Exception:  # an exception cannot cross into C
            pass

    new = _lib.LOG_CALLBACK(thunk)
    lib().bitnet_set_log_callback(new, None, int(max_level))
    _log_callback = new


def _dtype(dtype):
    if isinstance(dtype, str):
        dtype = {"f32": Type.F32, "float32": Type.F32, "f16": Type.F16, "float16": Type.F16,
                 "bf16": Type.BF16, "bfloat16": Type.BF16}.get(dtype.lower(), dtype)
    try:
        dtype = Type(dtype)
    except ValueError:
        raise ValueError("dtype must be f32, f16 or bf16, not %r" % (dtype,)) from None
    if dtype not in _DTYPES:
        raise ValueError("dtype must be f32, f16 or bf16, not %s" % dtype.name.lower())
    return dtype


def _writable(buf):
    """A ctypes char array over a writable, contiguous buffer (no copy)."""
    view = memoryview(buf)
    if view.readonly:
        raise TypeError("the output buffer is read-only")
    if not view.c_contiguous:
        raise ValueError("the output buffer must be C-contiguous")
    view = view.cast("B")
    return (ctypes.c_char * view.nbytes).from_buffer(view), view.nbytes


def _apply(params, overrides):
    for key, value in overrides.items():
        if value is None:
            continue
        if key == "backend" and isinstance(value, str):
            value = value.encode()
        if not hasattr(params, key) or key == "struct_size":
            raise TypeError("unknown parameter %r" % key)
        setattr(params, key, value)
    return params


TensorInfo = collections.namedtuple(
    "TensorInfo", "name type type_name shape n_elements n_rows n_bytes offset")
TensorInfo.__doc__ = """A tensor as stored: `shape` lists ne[0] (the row length) first, like GGUF."""

Token = collections.namedtuple("Token", "id piece text")
Token.__doc__ = """One generated token: its id, its bytes (`piece`) and the text
those bytes complete (a UTF-8 sequence split over byte tokens appears with its
last token)."""


class Metadata(Mapping):
    """The GGUF key/value pairs of a model, read on access: m.metadata["general.name"].
    Values are int, float, bool, str, or lists of them (nested for arrays of arrays)."""

    def __init__(self, model):
        self._model = model

    def __len__(self):
        return lib().bitnet_model_meta_count(self._model._handle)

    def __iter__(self):
        h = self._model._handle
        key = ctypes.c_char_p()
        for i in range(lib().bitnet_model_meta_count(h)):
            _check(lib().bitnet_model_meta_at(h, i, ctypes.byref(key), None), "bitnet_model_meta_at")
            yield key.value.decode("utf-8", "replace")

    def __getitem__(self, key):
        value = _lib.ValueP()
        status = lib().bitnet_model_meta_get(self._model._handle, key.encode(), ctypes.byref(value))
        if status == Status.NOT_FOUND:
            raise KeyError(key)
        _check(status, "bitnet_model_meta_get")
        return _value(value)

    def __contains__(self, key):
        if not isinstance(key, str):
            return False
        value = _lib.ValueP()
        return lib().bitnet_model_meta_get(self._model._handle, key.encode(), ctypes.byref(value)) == 0

    def type_name(self, key):
        """"uint32", "string", "array", ... for the key's value."""
        value = _lib.ValueP()
        _check(lib().bitnet_model_meta_get(self._model._handle, key.encode(), ctypes.byref(value)),
               "bitnet_model_meta_get")
        return lib().bitnet_value_type_name(lib().bitnet_value_get_type(value)).decode()


def _scalar(kind, read, *args):
    L = lib()
    if kind == "string":
        ptr, n = ctypes.POINTER(ctypes.c_char)(), ctypes.c_size_t()
        _check(getattr(L, read + "string")(*args, ctypes.byref(ptr), ctypes.byref(n)), read + "string")
        return ctypes.string_at(ptr, n.value).decode("utf-8", "replace")
    out = {"int": ctypes.c_int64, "uint": ctypes.c_uint64, "float": ctypes.c_double,
           "bool": ctypes.c_bool}[kind]()
    _check(getattr(L, read + kind)(*args, ctypes.byref(out)), read + kind)
    return out.value


def _value(value):
    vtype = lib().bitnet_value_get_type(value)
    if vtype != _VALUE_ARRAY:
        return _scalar(_VALUE_KINDS[vtype], "bitnet_value_", value)
    elem, length = ctypes.c_int(), ctypes.c_uint64()
    _check(lib().bitnet_value_array_info(value, ctypes.byref(elem), ctypes.byref(length)), "bitnet_value_array_info")
    if elem.value == _VALUE_ARRAY:
        out = []
        for i in range(length.value):
            inner = _lib.ValueP()
            _check(lib().bitnet_value_array_array(value, i, ctypes.byref(inner)), "bitnet_value_array_array")
            out.append(_value(inner))
        return out
    kind = _VALUE_KINDS[elem.value]
    return [_scalar(kind, "bitnet_value_array_", value, i) for i in range(length.value)]


class Model:
    """A loaded GGUF model.

        with bitnet.Model("model.gguf", cache_bytes=64 << 20) as m:
            print(m.metadata["general.architecture"], len(m.tensors))

    Keyword arguments set bitnet_model_params fields (use_mmap, cache_bytes,
    head_type, prefetch); `params` gives a whole ModelParams instead.
    """

    def __init__(self, path, params=None, **overrides):
        p = _apply(params if params is not None else ModelParams.default(), overrides)
        handle = _lib.ModelP()
        _check(lib().bitnet_model_load_file(os.fsencode(path), ctypes.byref(p), ctypes.byref(handle)),
               "bitnet_model_load_file")
        self._h = handle
        self._keep = None  # the buffer of from_bytes, shared with every wrapper of this model

    @classmethod
    def from_bytes(cls, data, params=None, **overrides):
        """Load from a bytes-like object. The bytes are copied once into a
        buffer that lives as long as any Model or Context of this model."""
        p = _apply(params if params is not None else ModelParams.default(), overrides)
        buf = (ctypes.c_char * len(data)).from_buffer_copy(data)
        handle = _lib.ModelP()
        _check(lib().bitnet_model_load_memory(buf, len(data), ctypes.byref(p), ctypes.byref(handle)),
               "bitnet_model_load_memory")
        return cls._wrap(handle, buf)

    @classmethod
    def _wrap(cls, handle, keep):
        self = cls.__new__(cls)
        self._h = handle
        self._keep = keep
        return self

    @property
    def _handle(self):
        if not self._h:
            raise ValueError("the model is closed")
        return self._h

    def close(self):
        """Release this object's reference (contexts keep their own)."""
        h, self._h = getattr(self, "_h", None), None
        if h and _lib._lib is not None:
            lib().bitnet_model_release(h)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()

    # -- metadata -----------------------------------------------------------
    @property
    def metadata(self):
        return Metadata(self)

    @property
    def gguf_version(self):
        return lib().bitnet_model_gguf_version(self._handle)

    @property
    def last_error(self):
        """bitnet_model_last_error(): the last failure on this model."""
        return lib().bitnet_model_last_error(self._handle).decode("utf-8", "replace")

    # -- tensors ------------------------------------------------------------
    def _info(self, fn, key):
        info = TensorInfoStruct(struct_size=ctypes.sizeof(TensorInfoStruct))
        _check(getattr(lib(), fn)(self._handle, key, ctypes.byref(info)), fn)
        return TensorInfo(info.name.decode("utf-8", "replace"), info.type, info.type_name.decode(),
                          tuple(info.ne[:info.n_dims]), info.n_elements, info.n_rows, info.n_bytes, info.offset)

    @property
    def tensors(self):
        """Every tensor, in file order, as TensorInfo."""
        return [self._info("bitnet_model_tensor_info", i)
                for i in range(lib().bitnet_model_tensor_count(self._handle))]

    def tensor(self, name):
        """TensorInfo of one tensor by name (BitnetError NOT_FOUND if absent)."""
        return self._info("bitnet_model_tensor_info_by_name", name.encode())

    def _rows(self, name, rows):
        if rows is None:
            return 0, self.tensor(name).n_rows
        if isinstance(rows, int):
            return rows, rows + 1
        if isinstance(rows, (slice, range)):
            if rows.step not in (None, 1):
                raise ValueError("rows must be contiguous")
            n = self.tensor(name).n_rows
            begin, end, _ = slice(rows.start, rows.stop).indices(n)
            return begin, max(begin, end)
        begin, end = rows
        return int(begin), int(end)

    def read_tensor_into(self, name, out, rows=None, dtype=Type.F32):
        """Dequantize rows [begin, end) of `name` into the writable buffer
        `out` (bytearray, array, memoryview, numpy array...) as f32, f16 or
        bf16; returns the bytes written. `rows`: None (all), an int, a
        (begin, end) pair or a slice."""
        dtype = _dtype(dtype)
        begin, end = self._rows(name, rows)
        dst, capacity = _writable(out)
        written = ctypes.c_size_t()
        _check(lib().bitnet_model_tensor_read(self._handle, name.encode(), begin, end, int(dtype), dst, capacity,
                                              ctypes.byref(written)), "bitnet_model_tensor_read")
        return written.value

    def read_tensor(self, name, rows=None, dtype=Type.F32):
        """Rows of a tensor as a flat memoryview over a new bytearray: format
        'f' for f32; for f16 and bf16 'H', the raw 16-bit patterns (convert
        f16 with struct's 'e' format, or use read_tensor_numpy)."""
        dtype = _dtype(dtype)
        begin, end = self._rows(name, rows)
        row_len = self.tensor(name).shape[0]
        size, fmt, _ = _DTYPES[dtype]
        buf = bytearray(max(0, end - begin) * row_len * size)
        n = self.read_tensor_into(name, buf, (begin, end), dtype)
        return memoryview(buf)[:n].cast(fmt)

    def read_tensor_numpy(self, name, rows=None, dtype=Type.F32):
        """Like read_tensor, as a numpy array (float32, float16, or uint16 for
        bf16): the tensor's numpy shape (ne reversed) for a whole tensor,
        (rows, ne[0]) for a row range."""
        if _np is None:
            raise ImportError("numpy is not installed")
        dtype = _dtype(dtype)
        info = self.tensor(name)
        begin, end = self._rows(name, rows)
        shape = tuple(reversed(info.shape)) if rows is None else (max(0, end - begin), info.shape[0])
        arr = _np.empty(shape, dtype=_DTYPES[dtype][2])
        self.read_tensor_into(name, arr, (begin, end), dtype)
        return arr

    def store_stats(self):
        """bitnet_store_stats as a dict."""
        s = StoreStatsStruct(struct_size=ctypes.sizeof(StoreStatsStruct))
        _check(lib().bitnet_model_store_stats(self._handle, ctypes.byref(s)), "bitnet_model_store_stats")
        return {name: getattr(s, name) for name, _ in StoreStatsStruct._fields_[1:]}

    # -- vocabulary and tokenizer --------------------------------------------
    @property
    def vocab_size(self):
        return lib().bitnet_vocab_size(self._handle)

    @property
    def bos(self):
        """BOS token id, or None when the model has none."""
        t = lib().bitnet_token_bos(self._handle)
        return None if t == TOKEN_NULL else t

    @property
    def eos(self):
        t = lib().bitnet_token_eos(self._handle)
        return None if t == TOKEN_NULL else t

    def is_eog(self, token):
        return bool(lib().bitnet_token_is_eog(self._handle, token))

    def token_text(self, token):
        """The vocabulary entry as stored, or None when out of range."""
        t = lib().bitnet_token_text(self._handle, token)
        return None if t is None else t.decode("utf-8", "replace")

    def tokenize(self, text, add_special=True, parse_special=False):
        """Text (str or UTF-8 bytes) to a list of token ids."""
        data = text.encode() if isinstance(text, str) else bytes(text)
        flags = (TOKENIZE_ADD_SPECIAL if add_special else 0) | (TOKENIZE_PARSE_SPECIAL if parse_special else 0)
        n = ctypes.c_size_t()
        capacity = len(data) + 4  # one token per byte at most, plus specials: usually enough
        while True:
            toks = (c_token * capacity)()
            status = lib().bitnet_tokenize(self._handle, data, len(data), flags, toks, capacity, ctypes.byref(n))
            if status == Status.BUFFER_TOO_SMALL and n.value > capacity:
                capacity = n.value
                continue
            _check(status, "bitnet_tokenize")
            return list(toks[:n.value])

    def _two_call(self, fn, *args):
        n = ctypes.c_size_t()
        status = getattr(lib(), fn)(self._handle, *args, None, 0, ctypes.byref(n))
        if status == 0:
            return b""
        if status != Status.BUFFER_TOO_SMALL:
            _check(status, fn)
        buf = ctypes.create_string_buffer(n.value)
        _check(getattr(lib(), fn)(self._handle, *args, buf, n.value, ctypes.byref(n)), fn)
        return buf.raw[:n.value]

    def token_to_piece(self, token, special=False):
        """The bytes one token stands for."""
        return self._two_call("bitnet_token_to_piece", token, DETOKENIZE_SPECIAL if special else 0)

    def detokenize_bytes(self, tokens, special=False):
        toks = (c_token * len(tokens))(*tokens)
        return self._two_call("bitnet_detokenize", toks, len(tokens), DETOKENIZE_SPECIAL if special else 0)

    def detokenize(self, tokens, special=False):
        """Tokens back to text (invalid UTF-8 becomes U+FFFD)."""
        return self.detokenize_bytes(tokens, special).decode("utf-8", "replace")

    # -- convenience ----------------------------------------------------------
    def context(self, params=None, **overrides):
        """A new Context of this model (see Context)."""
        return Context(self, params, **overrides)


class Sampler:
    """The sampling chain: penalties, top-k, top-p, min-p, temperature, then a
    greedy or seeded choice. Keyword arguments set bitnet_sampler_params
    fields (temperature=0 is greedy)."""

    def __init__(self, params=None, **overrides):
        p = _apply(params if params is not None else SamplerParams.default(), overrides)
        handle = _lib.SamplerP()
        _check(lib().bitnet_sampler_new(ctypes.byref(p), ctypes.byref(handle)), "bitnet_sampler_new")
        self._h = handle

    @property
    def _handle(self):
        if not self._h:
            raise ValueError("the sampler is closed")
        return self._h

    def close(self):
        h, self._h = getattr(self, "_h", None), None
        if h and _lib._lib is not None:
            lib().bitnet_sampler_free(h)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()

    def sample(self, logits):
        """Choose a token. `logits`: a Context (its last logits, without a
        copy) or n_vocab float32 values (memoryview, array('f'), numpy)."""
        if isinstance(logits, Context):
            ptr, n = logits._logits_ptr(-1), logits._n_vocab
            keep = None
        else:
            view = memoryview(logits)
            if view.format not in ("f", "<f", "=f") or not view.c_contiguous:
                raise TypeError("logits must be contiguous float32 values")
            n = view.nbytes // 4
            keep = (ctypes.c_float * n).from_buffer_copy(view) if view.readonly else \
                (ctypes.c_float * n).from_buffer(view.cast("B"))
            ptr = ctypes.cast(keep, ctypes.POINTER(ctypes.c_float))
        out = c_token()
        _check(lib().bitnet_sampler_sample(self._handle, ptr, n, ctypes.byref(out)), "bitnet_sampler_sample")
        del keep
        return out.value

    def accept(self, token):
        """Record a token (prompt or generated) for the penalties."""
        _check(lib().bitnet_sampler_accept(self._handle, token), "bitnet_sampler_accept")

    def reset(self):
        lib().bitnet_sampler_reset(self._handle)


class Context:
    """A KV cache and scratch for running a model. Keyword arguments set
    bitnet_context_params fields (n_ctx, n_batch, n_threads, kv_type,
    logits_all, backend, blas_min_batch). Used by one thread at a time."""

    def __init__(self, model, params=None, **overrides):
        p = _apply(params if params is not None else ContextParams.default(), overrides)
        handle = _lib.ContextP()
        _check(lib().bitnet_context_new(model._handle, ctypes.byref(p), ctypes.byref(handle)),
               "bitnet_context_new")
        self._h = handle
        self._keep = model._keep
        # The context holds its own reference to the C model: borrow it.
        self._model = Model._wrap(lib().bitnet_context_model(handle), self._keep)
        lib().bitnet_model_retain(self._model._h)
        self._n_vocab = self._model.vocab_size

    @property
    def _handle(self):
        if not self._h:
            raise ValueError("the context is closed")
        return self._h

    def close(self):
        h, self._h = getattr(self, "_h", None), None
        if h and _lib._lib is not None:
            lib().bitnet_context_free(h)
        model = getattr(self, "_model", None)
        if model is not None:
            model.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()

    @property
    def model(self):
        """The context's model (a Model sharing its reference; do not close it)."""
        return self._model

    def decode(self, tokens):
        """Append tokens at the end of the KV cache and compute logits."""
        toks = (c_token * len(tokens))(*tokens)
        _check(lib().bitnet_context_decode(self._handle, toks, len(tokens)), "bitnet_context_decode")

    def _logits_ptr(self, i):
        ptr = lib().bitnet_context_logits(self._handle, i)
        if not ptr:
            raise IndexError("no logits for row %d (decode first; rows other than -1 need logits_all)" % i)
        return ptr

    def logits(self, i=-1):
        """A copy of the n_vocab logits of row i of the last decode (-1: its
        last token) as a memoryview of format 'f'."""
        n = self._n_vocab
        return memoryview(bytearray(ctypes.string_at(self._logits_ptr(i), n * 4))).cast("f")

    def logits_numpy(self, i=-1):
        """Like logits(), as a numpy float32 array (a copy)."""
        if _np is None:
            raise ImportError("numpy is not installed")
        return _np.ctypeslib.as_array(self._logits_ptr(i), shape=(self._n_vocab,)).copy()

    @property
    def n_past(self):
        return lib().bitnet_context_n_past(self._handle)

    @property
    def n_ctx(self):
        return lib().bitnet_context_n_ctx(self._handle)

    @property
    def tokens(self):
        """The tokens at positions [0, n_past)."""
        n = ctypes.c_int32()
        ptr = lib().bitnet_context_tokens(self._handle, ctypes.byref(n))
        return list(ptr[:n.value]) if n.value else []

    def clear(self):
        lib().bitnet_context_clear(self._handle)

    def trim(self, n_keep):
        """Keep the first n_keep positions."""
        _check(lib().bitnet_context_trim(self._handle, n_keep), "bitnet_context_trim")

    def memory(self):
        m = ContextMemoryStruct(struct_size=ctypes.sizeof(ContextMemoryStruct))
        _check(lib().bitnet_context_memory(self._handle, ctypes.byref(m)), "bitnet_context_memory")
        return {name: getattr(m, name) for name, _ in ContextMemoryStruct._fields_[1:]}

    def stats(self):
        s = ContextStatsStruct(struct_size=ctypes.sizeof(ContextStatsStruct))
        _check(lib().bitnet_context_stats_get(self._handle, ctypes.byref(s)), "bitnet_context_stats_get")
        return {name: getattr(s, name) for name, _ in ContextStatsStruct._fields_[1:]}

    def reset_stats(self):
        lib().bitnet_context_stats_reset(self._handle)

    # -- state --------------------------------------------------------------
    @staticmethod
    def _sampler(sampler):
        return sampler._handle if sampler is not None else None

    def save_state(self, path, sampler=None):
        """Save positions, KV cache, last logits (and the sampler) to a file."""
        _check(lib().bitnet_context_state_save(self._handle, self._sampler(sampler), os.fsencode(path)),
               "bitnet_context_state_save")

    def load_state(self, path, sampler=None):
        """Load a saved state; on failure nothing changes."""
        _check(lib().bitnet_context_state_load(self._handle, self._sampler(sampler), os.fsencode(path)),
               "bitnet_context_state_load")

    def state_bytes(self, sampler=None):
        """The state as bytes (the file format)."""
        n = ctypes.c_size_t()
        s = self._sampler(sampler)
        status = lib().bitnet_context_state_save_memory(self._handle, s, None, 0, ctypes.byref(n))
        if status != Status.BUFFER_TOO_SMALL:
            _check(status, "bitnet_context_state_save_memory")
        buf = ctypes.create_string_buffer(n.value)
        _check(lib().bitnet_context_state_save_memory(self._handle, s, buf, n.value, ctypes.byref(n)),
               "bitnet_context_state_save_memory")
        return buf.raw[:n.value]

    def load_state_bytes(self, data, sampler=None):
        data = bytes(data)
        _check(lib().bitnet_context_state_load_memory(self._handle, self._sampler(sampler), data, len(data)),
               "bitnet_context_state_load_memory")

    def generate(self, prompt, sampler=None, max_new_tokens=64, add_special=True, ignore_eos=False):
        """See bitnet.generate()."""
        return generate(self, prompt, sampler, max_new_tokens, add_special, ignore_eos)


def generate(context, prompt, sampler=None, max_new_tokens=64, add_special=True, ignore_eos=False):
    """Decode `prompt` (text, or a list of token ids; None or [] to continue
    from the context's last logits) and yield up to `max_new_tokens` Token
    tuples (id, piece, text), stopping early at an end-of-generation token
    unless `ignore_eos`. The loop is the one of `bitnet run`: the prompt
    tokens are accepted by the sampler, and each chosen token is accepted and
    decoded before the next is sampled. Without a sampler, greedy."""
    model = context.model
    if isinstance(prompt, (str, bytes)):
        prompt = model.tokenize(prompt, add_special=add_special)
    own = sampler is None
    if own:
        sampler = Sampler(temperature=0.0)
    try:
        if prompt:
            context.decode(prompt)
            for t in prompt:
                sampler.accept(t)
        text = codecs.getincrementaldecoder("utf-8")("replace")
        for step in range(max_new_tokens):
            t = sampler.sample(context)
            if not ignore_eos and model.is_eog(t):
                break
            sampler.accept(t)
            piece = model.token_to_piece(t)
            yield Token(t, piece, text.decode(piece))
            if step + 1 == max_new_tokens or context.n_past == context.n_ctx:
                break
            context.decode([t])
    finally:
        if own:
            sampler.close()
