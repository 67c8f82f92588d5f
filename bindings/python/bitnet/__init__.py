"""Python bindings for libbitnet (pure ctypes, no compiled extension).

    import bitnet
    with bitnet.Model("model.gguf") as m, m.context(n_threads=2) as ctx:
        for tok in bitnet.generate(ctx, "In the beginning", max_new_tokens=32):
            print(tok.text, end="", flush=True)

The shared library is found through $BITNET_LIBRARY (the file, or its
folder), then the repository's build/lib, then the system's search path.
Failures raise BitnetError with the status and bitnet_last_error()'s text.
"""

from ._core import (DETOKENIZE_SPECIAL, TOKEN_NULL, TOKENIZE_ADD_SPECIAL, TOKENIZE_PARSE_SPECIAL, BitnetError,
                    Context, LogLevel, Metadata, Model, Sampler, Status, TensorInfo, Token, Type, generate,
                    set_log_callback, status_str, type_name, version, version_string)
from ._lib import ContextParams, ModelParams, SamplerParams, lib

__all__ = [
    "BitnetError", "Context", "ContextParams", "DETOKENIZE_SPECIAL", "LogLevel", "Metadata", "Model",
    "ModelParams", "Sampler", "SamplerParams", "Status", "TOKENIZE_ADD_SPECIAL", "TOKENIZE_PARSE_SPECIAL",
    "TOKEN_NULL", "TensorInfo", "Token", "Type", "generate", "lib", "set_log_callback", "status_str",
    "type_name", "version", "version_string",
]
