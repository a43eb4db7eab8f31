"""Export a fine-tuning run to GGUF for llama.cpp (and an Ollama Modelfile beside it).

Example:
    >>> export_model("runs/cot-lora", "dist", "q8_0")  # doctest: +SKIP
    PosixPath('dist/model-q8_0.gguf')
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any, Literal, get_args

from finetune.errors import ExportError
from finetune.export_source import RunSource, load_hf_model, load_merged_model, load_tokenizer, resolve_source
from finetune.gguf_llama import LlamaParams
from finetune.gguf_lora import write_lora_gguf
from finetune.gguf_vocab import read_gguf_tokenizer, tokenizer_metadata
from finetune.gguf_writer import WeightType, write_model_gguf
from finetune.modelfile import write_modelfile

__all__ = ["OUTTYPES", "ExportError", "OutType", "export_model"]

logger = logging.getLogger(__name__)

OutType = Literal["f16", "q8_0", "q4_k_m", "lora"]
OUTTYPES: tuple[str, ...] = get_args(OutType)


def export_model(src: str, out: str, outtype: str) -> Path:
    """Export the run in `src` as a GGUF file and write an Ollama `Modelfile` next to it.

    Args:
        src: a run directory (`adapter/` or `model/`, `base.json`, `tokenizer/`), or an HF model dir.
        out: output directory (the file is named `model-<outtype>.gguf` or `adapter-lora.gguf`),
            or a path ending in `.gguf`.
        outtype: "f16" or "q8_0" (merged model written here), "q4_k_m" (quantized by llama.cpp),
            or "lora" (a GGUF LoRA adapter llama.cpp applies to the base model at load time).

    Returns:
        The path of the GGUF written.

    Raises:
        ExportError: for a missing or incomplete run, an unknown outtype, or "lora" on a full fine-tune.
    """
    if outtype not in OUTTYPES:
        raise ExportError(f"unknown outtype {outtype!r} for {src}: choose one of {', '.join(OUTTYPES)}")
    source = resolve_source(src)
    target = _target_path(Path(out), outtype)
    target.parent.mkdir(parents=True, exist_ok=True)
    if outtype == "lora":
        return _export_lora(source, target)
    if outtype == "q4_k_m":
        with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
            f16, chat_template = _export_merged(source, Path(tmp) / "model-f16.gguf", "f16")
            quantize_q4_k_m(f16, target)
    else:
        _, chat_template = _export_merged(source, target, "f16" if outtype == "f16" else "q8_0")
    write_modelfile(target, target.parent, chat_template)
    return target


def _target_path(out: Path, outtype: str) -> Path:
    if out.suffix == ".gguf":
        return out
    return out / ("adapter-lora.gguf" if outtype == "lora" else f"model-{outtype}.gguf")


def _export_merged(source: RunSource, target: Path, weight_type: WeightType) -> tuple[Path, str | None]:
    """Write the (merged) fine-tuned model with 2D weights in `weight_type`; return it and its chat template."""
    model = load_merged_model(source)
    params = LlamaParams.from_hf_config(model.config)
    base_gguf = source.base.path if source.base and source.base.is_gguf else None
    keys = tokenizer_metadata(params.n_vocab, load_tokenizer(source), source.tokenizer_dir, base_gguf)
    write_model_gguf(target, params, model.state_dict(), weight_type, keys, source.root.name)
    return target, _chat_template(keys)


def _export_lora(source: RunSource, target: Path) -> Path:
    """Write the adapter as a GGUF LoRA; an HF base is exported to f16 beside it so llama.cpp has one."""
    if source.adapter_dir is None or source.base is None:
        raise ExportError(
            f"{source.root} holds a full fine-tune (model/), not a LoRA adapter: export it with f16, q8_0 or q4_k_m"
        )
    import gguf

    base = source.base
    if base.is_gguf:
        base_gguf = base.path
        reader = gguf.GGUFReader(base_gguf)
        params = LlamaParams.from_gguf(reader)
        chat_template = _chat_template(read_gguf_tokenizer(reader))
    else:
        base_gguf = target.parent / "base-f16.gguf"
        model = load_hf_model(base)
        params = LlamaParams.from_hf_config(model.config)
        keys = tokenizer_metadata(params.n_vocab, load_tokenizer(source), source.tokenizer_dir, None)
        write_model_gguf(base_gguf, params, model.state_dict(), "f16", keys, base.path.name)
        chat_template = _chat_template(keys)
    write_lora_gguf(target, source.adapter_dir, params, source.root.name)
    write_modelfile(base_gguf, target.parent, chat_template, adapter=target)
    return target


def _chat_template(tokenizer_keys: dict[str, Any]) -> str | None:
    value = tokenizer_keys.get("tokenizer.chat_template")
    return value.value if value is not None and isinstance(value.value, str) else None


def quantize_q4_k_m(src: Path, dst: Path) -> Path:
    """Quantize an f16 GGUF to Q4_K_M with llama.cpp's own quantizer (`llama_model_quantize`).

    Rows whose length is not a multiple of 256 fall back to llama.cpp's legacy quant types.
    """
    try:
        import llama_cpp
    except ImportError as err:
        raise ExportError(f"quantizing {dst.name} needs llama-cpp-python (pip install llama-cpp-python)") from err
    import ctypes

    llama_cpp.llama_backend_init()
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M
    status = llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), ctypes.byref(params))
    if status != 0 or not dst.is_file():
        raise ExportError(f"llama.cpp failed to quantize {src} to {dst} (status {status})")
    logger.info("quantized %s -> %s", src, dst)
    return dst
