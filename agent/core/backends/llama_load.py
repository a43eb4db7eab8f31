"""Loading for :class:`~agent.core.backends.llama_cpp.LlamaCppModel`: the model file, a LoRA adapter,
a context over them, and the GGUF metadata strings.

Each function raises :class:`ModelError` with the reason llama.cpp logged (:data:`LOG_SINK`) and what to do.
"""

from __future__ import annotations

import ctypes
from pathlib import Path

from agent.core.backends.llama_log import LOG_SINK
from agent.core.model import ModelError


def load_model_file(path: Path, extra_bufts: bool):
    """The llama.cpp model of the GGUF at ``path`` (freed with ``llama_model_free``).

    Args:
        path: the ``.gguf`` model.
        extra_bufts: let llama.cpp use its extra CPU buffer types (AMX, repacked weights).

    Raises:
        ModelError: llama.cpp cannot load it (a corrupt or truncated file).
    """
    import llama_cpp

    LOG_SINK.errors.clear()
    mparams = llama_cpp.llama_model_default_params()
    mparams.use_extra_bufts = extra_bufts
    model = llama_cpp.llama_model_load_from_file(str(path).encode(), mparams)
    if not model:
        raise ModelError(
            f"{path}: llama.cpp cannot load this GGUF ({LOG_SINK.last_error()}); "
            "the file is corrupt or truncated: export or download it again"
        )
    return model


def load_adapter(model, adapter: Path, model_path: Path):
    """The GGUF LoRA ``adapter`` loaded for ``model`` (from ``model_path``), freed with ``llama_adapter_lora_free``.

    Raises:
        ModelError: llama.cpp cannot load it (not a GGUF LoRA, or one made for another model).
    """
    import llama_cpp

    lora = llama_cpp.llama_adapter_lora_init(model, str(adapter).encode())
    if not lora:
        raise ModelError(
            f"{adapter}: llama.cpp cannot load this LoRA adapter "
            f"({LOG_SINK.last_error()}); is it a GGUF LoRA made for {model_path.name}?"
        )
    return lora


def new_context(
    model,
    lora,
    *,
    n_ctx: int,
    n_batch: int,
    n_seq_max: int,
    n_threads: int,
    model_path: Path,
    adapter: Path | None,
):
    """A llama.cpp context (a unified KV cache of ``n_ctx`` cells for ``n_seq_max`` sequences) with ``lora``
    set, if any; freed with ``llama_free``.

    Raises:
        ModelError: llama.cpp cannot create it (``n_ctx`` too large) or cannot apply the adapter.
    """
    import llama_cpp

    cparams = llama_cpp.llama_context_default_params()
    cparams.n_ctx, cparams.n_batch, cparams.n_ubatch = n_ctx, n_batch, n_batch
    cparams.n_seq_max, cparams.kv_unified, cparams.no_perf = n_seq_max, True, True
    cparams.n_threads = cparams.n_threads_batch = n_threads
    ctx = llama_cpp.llama_init_from_model(model, cparams)
    if not ctx:
        raise ModelError(
            f"{model_path}: llama.cpp cannot create a context with n_ctx={n_ctx} "
            f"({LOG_SINK.last_error()}); try a smaller n_ctx"
        )
    if lora:
        adapters = (llama_cpp.llama_adapter_lora_p_ctypes * 1)(lora)
        if llama_cpp.llama_set_adapters_lora(ctx, adapters, 1, (ctypes.c_float * 1)(1.0)):
            llama_cpp.llama_free(ctx)
            raise ModelError(f"{adapter}: llama.cpp cannot apply this LoRA adapter to {model_path.name}")
    return ctx


def meta_string(model, key: str) -> str | None:
    """The GGUF metadata value of ``key`` as text (``None`` if the file lacks it)."""
    import llama_cpp

    size = 1 << 16
    while True:
        buf = ctypes.create_string_buffer(size)
        n = llama_cpp.llama_model_meta_val_str(model, key.encode(), buf, size)
        if n < 0:
            return None
        if n < size:
            return buf.value.decode("utf-8", "replace")
        size = n + 1
