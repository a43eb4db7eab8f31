"""Load the base model and tokenizer, wrap it with LoRA, save what a run leaves behind, merge adapters.

A run directory holds ``adapter/`` (peft LoRA) or ``model/`` (full fine-tune), ``tokenizer/`` and
``base.json`` (``{"base": <HF dir>, "gguf_file": <name or null>, ...}``) naming the base model,
which ``finetune.export`` reads.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from finetune.config import TrainConfig

log = logging.getLogger(__name__)


def resolve_base(base: str | None) -> tuple[Path, str | None]:
    """(HF directory, GGUF file name or None) for ``base``; ``None`` is the embedded SmolLM2 GGUF.

    Raises:
        ValueError: the path does not exist, or the embedded model is not installed.
    """
    if base is None:
        from agent.core.embedded import embedded_model_path
        from agent.core.model import ModelError

        try:
            gguf = embedded_model_path()
        except ModelError as err:
            raise ValueError(str(err)) from err
        return gguf.parent, gguf.name
    from agent.core.embedded import NAMED_MODELS, named_model_path

    if base in NAMED_MODELS:  # a short name: smollm2-135m, gemma3-270m (the [gemma] extra)
        from agent.core.model import ModelError

        try:
            gguf = named_model_path(base)
        except ModelError as err:
            raise ValueError(str(err)) from err
        return gguf.parent, gguf.name
    path = Path(base).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return path.parent.resolve(), path.name
    if path.is_dir() and (path / "config.json").is_file():
        return path.resolve(), None
    raise ValueError(f"base model {base}: expected a .gguf file or an HF model directory with config.json")


def load_tokenizer(base: str | None) -> Any:
    """The base model's tokenizer (from the GGUF when the base is one)."""
    from transformers import AutoTokenizer

    directory, gguf_file = resolve_base(base)
    kwargs = {"gguf_file": gguf_file} if gguf_file else {}
    tokenizer = AutoTokenizer.from_pretrained(str(directory), **kwargs)
    if not tokenizer.chat_template:  # a base model without one: the turns the runtime falls back on too
        from agent.core.chat_templates import chat_template

        architecture = None
        if gguf_file:
            from agent.core.backends.gguf_header import gguf_string

            architecture = gguf_string(directory / gguf_file, "general.architecture")
        else:
            import json

            architecture = json.loads((directory / "config.json").read_text(encoding="utf-8")).get("model_type")
        tokenizer.chat_template = chat_template(None, architecture)
    return tokenizer


def torch_dtype(name: str, device_type: str) -> Any:
    """The torch dtype the weights are kept in; ``auto`` is float32 on CPU and bfloat16 on a GPU that has it."""
    import torch

    if name == "auto":
        bf16 = device_type == "cuda" and torch.cuda.is_bf16_supported()
        return torch.bfloat16 if bf16 else torch.float32
    return getattr(torch, name)


def cpu_has_native_bf16() -> bool:
    """Whether this CPU multiplies bf16 matrices in hardware (AMX or AVX512-BF16).

    There, float32 weights with bf16 autocast train 1.9x faster than float32 (SmolLM2-135M LoRA on a 2-core
    Xeon with AMX, ``python bench/train_speed.py``); elsewhere bf16 is emulated and slower. ``AGENT_CPU_BF16=0|1``
    overrides the check.
    """
    import os

    import torch

    forced = os.environ.get("AGENT_CPU_BF16")
    if forced in ("0", "1"):
        return forced == "1"
    cpu = getattr(torch, "cpu", None)
    checks = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    return any(bool(getattr(cpu, name, lambda: False)()) for name in checks)


def cpu_autocast(name: str, device_type: str) -> bool:
    """Whether a run on ``device_type`` with dtype ``name`` autocasts to bf16 on the CPU (``auto`` on a CPU
    with native bf16: float32 weights, bf16 matrix products)."""
    return name == "auto" and device_type == "cpu" and cpu_has_native_bf16()


def load_base_model(base: str | None, dtype: Any) -> Any:
    """The base causal LM in ``dtype``; a GGUF base is dequantized into a plain dense model.

    transformers marks a model read from GGUF as quantized (it refuses to save or train it, and
    newer versions may keep the blocks packed). We ask for dense weights and drop that mark: the
    weights are ordinary tensors, so the model trains, saves and merges like any other.
    """
    import transformers
    from transformers import AutoModelForCausalLM

    directory, gguf_file = resolve_base(base)
    kwargs: dict[str, Any] = {}
    if gguf_file:
        kwargs["gguf_file"] = gguf_file
        if hasattr(transformers, "GgufConfig"):  # transformers >= 5.2x: packed GGUF blocks unless told otherwise
            kwargs["quantization_config"] = transformers.GgufConfig(dequantize=True)
    try:
        model = AutoModelForCausalLM.from_pretrained(str(directory), dtype=dtype, **kwargs)
    except (OSError, ValueError) as err:
        raise ValueError(f"cannot load base model {gguf_file or directory}: {err}") from err
    if gguf_file:
        model.hf_quantizer = None
        model.is_quantized = False
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
    return model


def build_model(config: TrainConfig, dtype: Any) -> Any:
    """The model to train: the base with LoRA adapters (seeded), or the whole base when ``full``."""
    import torch

    model = load_base_model(config.base, torch.float32 if config.full else dtype)
    model.config.use_cache = False
    if config.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if config.full:
        return model
    from peft import LoraConfig, PeftModel, get_peft_model

    if config.init_adapter:  # go on training an adapter: its own rank, alpha and targets
        path = Path(config.init_adapter)
        if path.suffix == ".gguf" and path.is_file():  # a GGUF LoRA (the shipped default): back to peft first
            from finetune.lora_gguf import read_lora_gguf

            path = read_lora_gguf(path, Path(config.out) / "init-adapter", model)
        if not (path / "adapter_config.json").is_file():
            raise FileNotFoundError(
                f"--init-adapter {path}: no adapter_config.json there (give a run's adapter/ dir or a GGUF LoRA)"
            )
        return PeftModel.from_pretrained(model, str(path), is_trainable=True)

    torch.manual_seed(config.seed)  # LoRA's A matrices are random: the seed fixes them
    lora = LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=config.lora_targets,
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, lora)


def trainable_state(model: Any) -> dict[str, Any]:
    """The trained parameters (LoRA weights, or all of them), detached on the CPU."""
    return {n: p.detach().cpu().clone() for n, p in model.named_parameters() if p.requires_grad}


def load_trainable_state(model: Any, state: dict[str, Any]) -> None:
    """Copy a :func:`trainable_state` back into ``model``, exactly.

    Raises:
        ValueError: the names do not match the model's trained parameters.
    """
    import torch

    params = {n: p for n, p in model.named_parameters() if p.requires_grad}
    if params.keys() != state.keys():
        missing = sorted(params.keys() ^ state.keys())[:3]
        raise ValueError(f"the checkpoint does not fit this model (parameters differ: {', '.join(missing)} ...)")
    with torch.no_grad():
        for name, p in params.items():
            p.copy_(state[name].to(p.device, p.dtype))


def save_run(model: Any, tokenizer: Any, config: TrainConfig, out: Path) -> dict[str, str]:
    """Write ``adapter/`` or ``model/``, ``tokenizer/`` and ``base.json``; returns their paths."""
    directory, gguf_file = resolve_base(config.base)
    paths = {"tokenizer": str(out / "tokenizer")}
    if config.full:
        model.save_pretrained(out / "model")
        tokenizer.save_pretrained(out / "model")
        paths["model"] = str(out / "model")
    else:
        model.save_pretrained(out / "adapter")
        paths["adapter"] = str(out / "adapter")
    tokenizer.save_pretrained(out / "tokenizer")
    lora = None if config.full else getattr(model, "peft_config", {}).get("default")  # an --init-adapter's own r/alpha
    spec = {
        "base": str(directory),
        "gguf_file": gguf_file,
        "kind": "full" if config.full else "lora",
        "lora_r": None if config.full else getattr(lora, "r", config.lora_r),
        "lora_alpha": None if config.full else getattr(lora, "lora_alpha", config.lora_alpha),
    }
    (out / "base.json").write_text(json.dumps(spec, indent=1) + "\n")
    return paths


def merge_adapter(out_dir: str | Path, dest: str | Path | None = None) -> Path:
    """Merge a run's LoRA adapter into its base and save a plain HF model dir (float32, with tokenizer).

    Args:
        out_dir: a run directory written by :func:`finetune.train.train`.
        dest: where to write; default ``out_dir/merged``. A full fine-tune's ``model/`` is returned as is.

    Returns:
        The directory of the merged HF model.

    Raises:
        ValueError: the run has neither ``adapter/`` nor ``model/``, or no ``base.json``.
    """
    import torch
    from peft import PeftModel

    out = Path(out_dir)
    if (out / "model" / "config.json").is_file():
        return out / "model"
    if not (out / "adapter" / "adapter_config.json").is_file() or not (out / "base.json").is_file():
        raise ValueError(f"{out}: not a fine-tuning run (expected adapter/ and base.json, or model/)")
    spec = json.loads((out / "base.json").read_text())
    base = str(Path(spec["base"]) / spec["gguf_file"]) if spec.get("gguf_file") else spec["base"]
    model = PeftModel.from_pretrained(load_base_model(base, torch.float32), str(out / "adapter"))
    merged = model.merge_and_unload()
    target = Path(dest) if dest else out / "merged"
    merged.save_pretrained(target)
    if (out / "tokenizer").is_dir():
        from transformers import AutoTokenizer

        AutoTokenizer.from_pretrained(str(out / "tokenizer")).save_pretrained(target)
    else:
        load_tokenizer(base).save_pretrained(target)
    log.info("merged %s into %s", out / "adapter", target)
    return target
