"""Export a fine-tuning run to GGUF for llama.cpp (and an Ollama Modelfile beside it).

The GGUF is written by llama.cpp's own converters (:mod:`finetune.converter`), so every architecture
llama.cpp converts exports: the model as HF weights goes through ``convert_hf_to_gguf.py``, a LoRA
adapter through ``convert_lora_to_gguf.py``, and Q4_K_M through llama.cpp's quantizer.

Example:
    >>> export_model("runs/cot-lora", "dist", "q8_0")  # doctest: +SKIP
    PosixPath('dist/model-q8_0.gguf')
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Literal, get_args

from agent.core.backends.gguf_header import gguf_string
from finetune.converter import ensure_converter, hf_to_gguf, lora_to_gguf, run_converters
from finetune.errors import ExportError
from finetune.export_source import RunSource, resolve_source, save_base_config, save_hf_dir
from finetune.lora_gguf import adapter_for_llama_cpp
from finetune.modelfile import write_modelfile

__all__ = ["OUTTYPES", "ExportError", "OutType", "export_model"]

logger = logging.getLogger(__name__)

OutType = Literal["f16", "bf16", "q8_0", "q4_k_m", "lora"]
OUTTYPES: tuple[str, ...] = get_args(OutType)


def export_model(src: str, out: str, outtype: str) -> Path:
    """Export the run in `src` as a GGUF file and write an Ollama `Modelfile` next to it.

    Args:
        src: a run directory (`adapter/` or `model/`, `base.json`, `tokenizer/`), or an HF model dir.
        out: output directory (the file is named `model-<outtype>.gguf` or `adapter-lora.gguf`),
            or a path ending in `.gguf`.
        outtype: "f16", "bf16" or "q8_0" (the merged model, converted by llama.cpp), "q4_k_m" (f16, then
            quantized by llama.cpp), or "lora" (a GGUF LoRA adapter llama.cpp applies to the base model at load time).

    Returns:
        The path of the GGUF written.

    Raises:
        ExportError: for a missing or incomplete run, an unknown outtype, "lora" on a full fine-tune, a model
            llama.cpp's converter refuses, or a converter that cannot be fetched (the message says what to run).
    """
    if outtype not in OUTTYPES:
        raise ExportError(f"unknown outtype {outtype!r} for {src}: choose one of {', '.join(OUTTYPES)}")
    source = resolve_source(src)
    target = _target_path(Path(out), outtype)
    target.parent.mkdir(parents=True, exist_ok=True)
    ensure_converter()  # offline without it: say so before minutes of merging
    if outtype == "lora":
        return _export_lora(source, target)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".export-") as tmp:
        hf_dir = save_hf_dir(source, Path(tmp) / "hf")
        if outtype == "q4_k_m":
            f16 = Path(tmp) / "model-f16.gguf"
            run_converters([hf_to_gguf(hf_dir, f16, "f16", _name(source))], str(source.root))
            quantize_q4_k_m(f16, target)
        else:
            run_converters([hf_to_gguf(hf_dir, target, outtype, _name(source))], str(source.root))
    write_modelfile(target, target.parent, _chat_template(target))
    return target


def _target_path(out: Path, outtype: str) -> Path:
    if out.suffix == ".gguf":
        return out
    return out / ("adapter-lora.gguf" if outtype == "lora" else f"model-{outtype}.gguf")


def _name(source: RunSource) -> str:
    return source.root.resolve().name


def _export_lora(source: RunSource, target: Path) -> Path:
    """Write the adapter as a GGUF LoRA; an HF base is converted to f16 beside it so llama.cpp has one."""
    if source.adapter_dir is None or source.base is None:
        raise ExportError(
            f"{source.root} holds a full fine-tune (model/), not a LoRA adapter: export it with f16, q8_0 or q4_k_m"
        )
    base = source.base
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".export-") as tmp:
        adapter = adapter_for_llama_cpp(source.adapter_dir, Path(tmp) / "adapter")
        jobs = []
        if base.is_gguf:  # the converter needs only the base's config.json, which transformers reads from the GGUF
            base_gguf, base_dir = base.path, save_base_config(base, Path(tmp) / "base")
        else:
            base_gguf, base_dir = target.parent / "base-f16.gguf", base.path
            jobs.append(hf_to_gguf(base_dir, base_gguf, "f16", base.path.resolve().name))
        jobs.append(lora_to_gguf(adapter, base_dir, target))
        run_converters(jobs, str(source.root))
    write_modelfile(base_gguf, target.parent, _chat_template(base_gguf), adapter=target)
    return target


def _chat_template(gguf_file: Path) -> str | None:
    """The chat template a GGUF carries (for the Modelfile), None when it has none."""
    return gguf_string(gguf_file, "tokenizer.chat_template", max_keys=1024)


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
