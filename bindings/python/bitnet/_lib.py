"""Loading libbitnet and declaring its C functions and structs for ctypes.

Everything here mirrors include/bitnet/bitnet.h. The params structs are
checked at load time against the `struct_size` the library's *_default()
functions report, so a header change that this file misses fails loudly
instead of corrupting memory.
"""

import ctypes
import ctypes.util
import os

from ctypes import (POINTER, c_bool, c_char, c_char_p, c_double, c_float, c_int, c_int32, c_int64,
                    c_size_t, c_uint32, c_uint64, c_void_p)

MAX_DIMS = 4

# Opaque handles.
class _Model(ctypes.Structure):
    pass


class _Context(ctypes.Structure):
    pass


class _Sampler(ctypes.Structure):
    pass


class _Value(ctypes.Structure):
    pass


class _Config(ctypes.Structure):
    pass


ModelP = POINTER(_Model)
ContextP = POINTER(_Context)
SamplerP = POINTER(_Sampler)
ValueP = POINTER(_Value)
ConfigP = POINTER(_Config)

c_token = c_int32
c_status = c_int  # a C enum: int-sized on every ABI libbitnet supports


class ModelParams(ctypes.Structure):
    """bitnet_model_params. Create it with ModelParams.default()."""
    _fields_ = [
        ("struct_size", c_size_t),
        ("use_mmap", c_bool),
        ("cache_bytes", c_uint64),
        ("head_type", c_int32),
        ("prefetch", c_bool),
    ]

    @classmethod
    def default(cls):
        return lib().bitnet_model_params_default()


class ContextParams(ctypes.Structure):
    """bitnet_context_params. Create it with ContextParams.default()."""
    _fields_ = [
        ("struct_size", c_size_t),
        ("n_ctx", c_int32),
        ("n_batch", c_int32),
        ("n_threads", c_int32),
        ("kv_type", c_uint32),
        ("logits_all", c_bool),
        ("backend", c_char_p),
        ("blas_min_batch", c_int32),
    ]

    @classmethod
    def default(cls):
        return lib().bitnet_context_params_default()


class SamplerParams(ctypes.Structure):
    """bitnet_sampler_params. Create it with SamplerParams.default()."""
    _fields_ = [
        ("struct_size", c_size_t),
        ("temperature", c_float),
        ("top_k", c_int32),
        ("top_p", c_float),
        ("min_p", c_float),
        ("repeat_penalty", c_float),
        ("frequency_penalty", c_float),
        ("presence_penalty", c_float),
        ("penalty_last_n", c_int32),
        ("seed", c_uint64),
    ]

    @classmethod
    def default(cls):
        return lib().bitnet_sampler_params_default()


class TensorInfoStruct(ctypes.Structure):
    """bitnet_tensor_info (an out-struct: struct_size set by the caller)."""
    _fields_ = [
        ("struct_size", c_size_t),
        ("name", c_char_p),
        ("type", c_uint32),
        ("type_name", c_char_p),
        ("n_dims", c_uint32),
        ("ne", c_int64 * MAX_DIMS),
        ("n_elements", c_int64),
        ("n_rows", c_int64),
        ("n_bytes", c_uint64),
        ("offset", c_uint64),
    ]


class StoreStatsStruct(ctypes.Structure):
    _fields_ = [("struct_size", c_size_t)] + [(name, c_uint64) for name in (
        "hits", "misses", "evictions", "bytes_resident", "bytes_budget", "bytes_mapped", "entries",
        "prefetch_issued", "prefetch_hits", "bytes_peak")]


class ContextMemoryStruct(ctypes.Structure):
    _fields_ = [("struct_size", c_size_t), ("kv_bytes", c_uint64), ("scratch_bytes", c_uint64),
                ("total_bytes", c_uint64)]


class ContextStatsStruct(ctypes.Structure):
    _fields_ = [("struct_size", c_size_t)] + [(name, c_uint64) for name in (
        "n_decode_calls", "n_prefill_tokens", "n_decode_tokens", "prefill_ns", "decode_ns", "cache_hits",
        "cache_misses", "cache_evictions", "prefetch_hits", "n_state_loads")]


LOG_CALLBACK = ctypes.CFUNCTYPE(None, c_int, c_char_p, c_void_p)

# name: (restype, argtypes)
_PROTOTYPES = {
    "bitnet_version": (c_uint32, []),
    "bitnet_version_string": (c_char_p, []),
    "bitnet_status_str": (c_char_p, [c_status]),
    "bitnet_last_error": (c_char_p, []),
    "bitnet_set_log_callback": (None, [LOG_CALLBACK, c_void_p, c_int]),
    "bitnet_type_name": (c_char_p, [c_uint32]),
    # models
    "bitnet_model_params_default": (ModelParams, []),
    "bitnet_model_load_file": (c_status, [c_char_p, POINTER(ModelParams), POINTER(ModelP)]),
    "bitnet_model_load_memory": (c_status, [c_void_p, c_size_t, POINTER(ModelParams), POINTER(ModelP)]),
    "bitnet_model_retain": (None, [ModelP]),
    "bitnet_model_release": (None, [ModelP]),
    "bitnet_model_last_error": (c_char_p, [ModelP]),
    "bitnet_model_gguf_version": (c_uint32, [ModelP]),
    # metadata
    "bitnet_model_meta_count": (c_int64, [ModelP]),
    "bitnet_model_meta_at": (c_status, [ModelP, c_int64, POINTER(c_char_p), POINTER(ValueP)]),
    "bitnet_model_meta_get": (c_status, [ModelP, c_char_p, POINTER(ValueP)]),
    "bitnet_value_get_type": (c_int, [ValueP]),
    "bitnet_value_type_name": (c_char_p, [c_uint32]),
    "bitnet_value_int": (c_status, [ValueP, POINTER(c_int64)]),
    "bitnet_value_uint": (c_status, [ValueP, POINTER(c_uint64)]),
    "bitnet_value_float": (c_status, [ValueP, POINTER(c_double)]),
    "bitnet_value_bool": (c_status, [ValueP, POINTER(c_bool)]),
    # strings as POINTER(c_char) so that their length (not the NUL) decides
    "bitnet_value_string": (c_status, [ValueP, POINTER(POINTER(c_char)), POINTER(c_size_t)]),
    "bitnet_value_array_info": (c_status, [ValueP, POINTER(c_int), POINTER(c_uint64)]),
    "bitnet_value_array_int": (c_status, [ValueP, c_uint64, POINTER(c_int64)]),
    "bitnet_value_array_uint": (c_status, [ValueP, c_uint64, POINTER(c_uint64)]),
    "bitnet_value_array_float": (c_status, [ValueP, c_uint64, POINTER(c_double)]),
    "bitnet_value_array_bool": (c_status, [ValueP, c_uint64, POINTER(c_bool)]),
    "bitnet_value_array_string": (c_status, [ValueP, c_uint64, POINTER(POINTER(c_char)), POINTER(c_size_t)]),
    "bitnet_value_array_array": (c_status, [ValueP, c_uint64, POINTER(ValueP)]),
    # tensors
    "bitnet_model_tensor_count": (c_int64, [ModelP]),
    "bitnet_model_tensor_info": (c_status, [ModelP, c_int64, POINTER(TensorInfoStruct)]),
    "bitnet_model_tensor_find": (c_status, [ModelP, c_char_p, POINTER(c_int64)]),
    "bitnet_model_tensor_info_by_name": (c_status, [ModelP, c_char_p, POINTER(TensorInfoStruct)]),
    "bitnet_model_tensor_read": (c_status, [ModelP, c_char_p, c_int64, c_int64, c_int, c_void_p, c_size_t,
                                            POINTER(c_size_t)]),
    "bitnet_model_store_stats": (c_status, [ModelP, POINTER(StoreStatsStruct)]),
    # vocabulary and tokenizer
    "bitnet_vocab_size": (c_int32, [ModelP]),
    "bitnet_token_bos": (c_token, [ModelP]),
    "bitnet_token_eos": (c_token, [ModelP]),
    "bitnet_token_is_eog": (c_bool, [ModelP, c_token]),
    "bitnet_token_text": (c_char_p, [ModelP, c_token]),
    "bitnet_tokenize": (c_status, [ModelP, c_char_p, c_size_t, c_uint32, POINTER(c_token), c_size_t,
                                   POINTER(c_size_t)]),
    "bitnet_token_to_piece": (c_status, [ModelP, c_token, c_uint32, c_void_p, c_size_t, POINTER(c_size_t)]),
    "bitnet_detokenize": (c_status, [ModelP, POINTER(c_token), c_size_t, c_uint32, c_void_p, c_size_t,
                                     POINTER(c_size_t)]),
    # contexts
    "bitnet_context_params_default": (ContextParams, []),
    "bitnet_context_new": (c_status, [ModelP, POINTER(ContextParams), POINTER(ContextP)]),
    "bitnet_context_free": (None, [ContextP]),
    "bitnet_context_model": (ModelP, [ContextP]),
    "bitnet_context_decode": (c_status, [ContextP, POINTER(c_token), c_int32]),
    "bitnet_context_logits": (POINTER(c_float), [ContextP, c_int32]),
    "bitnet_context_memory": (c_status, [ContextP, POINTER(ContextMemoryStruct)]),
    "bitnet_context_stats_get": (c_status, [ContextP, POINTER(ContextStatsStruct)]),
    "bitnet_context_stats_reset": (None, [ContextP]),
    "bitnet_context_n_past": (c_int32, [ContextP]),
    "bitnet_context_n_ctx": (c_int32, [ContextP]),
    "bitnet_context_tokens": (POINTER(c_token), [ContextP, POINTER(c_int32)]),
    "bitnet_context_clear": (None, [ContextP]),
    "bitnet_context_trim": (c_status, [ContextP, c_int32]),
    # sampler
    "bitnet_sampler_params_default": (SamplerParams, []),
    "bitnet_sampler_new": (c_status, [POINTER(SamplerParams), POINTER(SamplerP)]),
    "bitnet_sampler_free": (None, [SamplerP]),
    "bitnet_sampler_sample": (c_status, [SamplerP, POINTER(c_float), c_int32, POINTER(c_token)]),
    "bitnet_sampler_accept": (c_status, [SamplerP, c_token]),
    "bitnet_sampler_reset": (None, [SamplerP]),
    # state
    "bitnet_context_state_save": (c_status, [ContextP, SamplerP, c_char_p]),
    "bitnet_context_state_load": (c_status, [ContextP, SamplerP, c_char_p]),
    "bitnet_context_state_save_memory": (c_status, [ContextP, SamplerP, c_void_p, c_size_t, POINTER(c_size_t)]),
    "bitnet_context_state_load_memory": (c_status, [ContextP, SamplerP, c_void_p, c_size_t]),
}

_lib = None


def _candidates():
    """Where to look for libbitnet, in order: $BITNET_LIBRARY (a file or a
    folder), the repository's build folder (bindings/python/../../build/lib),
    then the system's search path."""
    env = os.environ.get("BITNET_LIBRARY")
    if env:
        if os.path.isdir(env):
            yield os.path.join(env, "libbitnet.so")
            yield os.path.join(env, "libbitnet.so.0")
        else:
            yield env
        return  # an explicit choice is not second-guessed
    here = os.path.dirname(os.path.abspath(__file__))
    build = os.path.normpath(os.path.join(here, "..", "..", "..", "build", "lib"))
    for name in ("libbitnet.so", "libbitnet.so.0"):
        path = os.path.join(build, name)
        if os.path.exists(path):
            yield path
    found = ctypes.util.find_library("bitnet")
    if found:
        yield found
    yield "libbitnet.so.0"  # the dynamic loader's own search (LD_LIBRARY_PATH, ld.so.cache)


def _declare(dll):
    for name, (restype, argtypes) in _PROTOTYPES.items():
        fn = getattr(dll, name)
        fn.restype = restype
        fn.argtypes = argtypes
    # The structs above must be what this library's *_default() report.
    for fn, struct in (("bitnet_model_params_default", ModelParams),
                       ("bitnet_context_params_default", ContextParams),
                       ("bitnet_sampler_params_default", SamplerParams)):
        got = getattr(dll, fn)().struct_size
        if got != ctypes.sizeof(struct):
            raise ImportError("libbitnet: %s reports struct_size %d, the binding has %d: "
                              "the binding does not match this library" % (fn, got, ctypes.sizeof(struct)))


def lib():
    """The loaded library (loaded on first use)."""
    global _lib
    if _lib is None:
        errors = []
        for path in _candidates():
            try:
                dll = ctypes.CDLL(path)
            except OSError as e:
                errors.append("%s: %s" % (path, e))
                continue
            _declare(dll)
            _lib = dll
            break
        else:
            raise ImportError("cannot load libbitnet (set BITNET_LIBRARY to the path of libbitnet.so): "
                              + "; ".join(errors))
    return _lib
