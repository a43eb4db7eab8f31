"""Write a peft LoRA adapter as a GGUF LoRA that llama.cpp applies to its base at load time.

Layout follows llama.cpp's `convert_lora_to_gguf.py`: `general.type=adapter`, `adapter.type=lora`,
`adapter.lora.alpha`, and per projection `<name>.weight.lora_a` (rank x in) and `.lora_b`
(out x rank), with B's rows permuted like the Q/K weights. llama.cpp scales by alpha / rank,
so any other peft scaling (rsLoRA, alpha_pattern) is folded into B.
"""

from __future__ import annotations

import json
import logging
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from finetune.errors import ExportError
from finetune.gguf_llama import _LAYER_NAMES, ARCH, LlamaParams, gguf_name, maybe_permute

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)

_PEFT_PREFIX = "base_model.model."
_LORA_SUFFIX = re.compile(r"\.lora_([AB])\.weight$")


def write_lora_gguf(path: Path, adapter_dir: Path, params: LlamaParams, name: str = "lora") -> Path:
    """Convert the adapter in `adapter_dir` (trained on a base described by `params`) to `path`.

    Raises:
        ExportError: for adapters llama.cpp cannot apply (DoRA, trained biases or embeddings, shape mismatch).
    """
    import gguf
    import numpy as np

    config = _read_config(adapter_dir)
    alpha = float(config["lora_alpha"])
    pairs = _lora_pairs(_load_weights(adapter_dir), adapter_dir)
    writer = gguf.GGUFWriter(path, ARCH)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, alpha)
    writer.add_name(name)
    for module, (lora_a, lora_b) in sorted(pairs.items()):
        target = gguf_name(f"{module}.weight") or module
        _check_shapes(target, lora_a, lora_b, params, adapter_dir)
        rank = lora_a.shape[0]
        factor = _peft_scale(config, module, rank) / (alpha / rank)
        lora_b = maybe_permute(target, lora_b.float() * factor, params)
        writer.add_tensor(f"{target}.lora_a", lora_a.float().numpy().astype(np.float16))
        writer.add_tensor(f"{target}.lora_b", lora_b.numpy().astype(np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    logger.info("wrote LoRA adapter %s (%d projections)", path, len(pairs))
    return path


def _read_config(adapter_dir: Path) -> dict[str, Any]:
    config = json.loads((adapter_dir / "adapter_config.json").read_text())
    if config.get("peft_type", "LORA") != "LORA":
        raise ExportError(f"{adapter_dir} holds a {config.get('peft_type')} adapter; only LoRA can be exported")
    if config.get("use_dora"):
        raise ExportError(f"{adapter_dir} is a DoRA adapter, which llama.cpp cannot apply; export f16 instead")
    if config.get("bias", "none") != "none" or config.get("modules_to_save"):
        raise ExportError(f"{adapter_dir} trains biases or whole modules; export the merged model (f16) instead")
    return config


def _load_weights(adapter_dir: Path) -> dict[str, torch.Tensor]:
    safetensors_file = adapter_dir / "adapter_model.safetensors"
    if safetensors_file.is_file():
        from safetensors.torch import load_file

        return load_file(safetensors_file)
    import torch

    return torch.load(adapter_dir / "adapter_model.bin", map_location="cpu", weights_only=True)


def _lora_pairs(weights: dict[str, torch.Tensor], adapter_dir: Path) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Group tensors by module: `model.layers.0.self_attn.q_proj` -> (A, B)."""
    parts: dict[str, dict[str, torch.Tensor]] = {}
    for key, tensor in weights.items():
        match = _LORA_SUFFIX.search(key)
        if match is None:
            raise ExportError(f"adapter tensor {key!r} in {adapter_dir} is not a LoRA A/B matrix; export f16 instead")
        module = key[: match.start()].removeprefix(_PEFT_PREFIX)
        parts.setdefault(module, {})[match.group(1)] = tensor
    incomplete = [module for module, ab in parts.items() if set(ab) != {"A", "B"}]
    if incomplete:
        raise ExportError(f"adapter in {adapter_dir} lacks lora_A or lora_B for {incomplete[0]}")
    return {module: (ab["A"], ab["B"]) for module, ab in parts.items()}


def _expected_shape(target: str, params: LlamaParams) -> tuple[int, int] | None:
    """(out, in) of a llama projection, None for tensors llama.cpp adapters do not cover."""
    q_dim, kv_dim = params.n_head * params.head_dim, params.n_head_kv * params.head_dim
    shapes = {
        "attn_q": (q_dim, params.n_embd),
        "attn_k": (kv_dim, params.n_embd),
        "attn_v": (kv_dim, params.n_embd),
        "attn_output": (params.n_embd, q_dim),
        "ffn_gate": (params.n_ff, params.n_embd),
        "ffn_up": (params.n_ff, params.n_embd),
        "ffn_down": (params.n_embd, params.n_ff),
    }
    parts = target.split(".")
    return shapes.get(parts[2]) if len(parts) == 4 and parts[0] == "blk" else None


def _check_shapes(target: str, lora_a: torch.Tensor, lora_b: torch.Tensor, params: LlamaParams, where: Path) -> None:
    expected = _expected_shape(target, params)
    if expected is None:
        raise ExportError(f"adapter in {where} trains {target}, which a llama.cpp LoRA cannot carry; export f16")
    out_dim, in_dim = expected
    rank = lora_a.shape[0]
    if tuple(lora_a.shape) != (rank, in_dim) or tuple(lora_b.shape) != (out_dim, rank):
        raise ExportError(
            f"adapter in {where} does not fit its base: {target} A{tuple(lora_a.shape)} B{tuple(lora_b.shape)}, "
            f"expected A({rank}, {in_dim}) B({out_dim}, {rank})"
        )


def _peft_scale(config: dict[str, Any], module: str, rank: int) -> float:
    """The factor peft multiplies B @ A by for `module` (alpha / r, or alpha / sqrt(r) with rsLoRA)."""
    alpha = float(config["lora_alpha"])
    for pattern, value in (config.get("alpha_pattern") or {}).items():
        if re.match(rf"(.*\.)?{pattern}$", module):
            alpha = float(value)
            break
    return alpha / math.sqrt(rank) if config.get("use_rslora") else alpha / rank


def read_lora_gguf(path: Path, out_dir: Path, params: LlamaParams) -> Path:
    """The inverse of :func:`write_lora_gguf`: a GGUF LoRA as a peft adapter dir, to go on training it.

    ``params`` describes the base the adapter applies to (its Q/K rows are unpermuted with its head counts).

    Raises:
        ExportError: the file is not a llama LoRA adapter, or a tensor has no peft slot.
    """
    import gguf
    import numpy as np
    import torch
    from safetensors.torch import save_file

    reader = gguf.GGUFReader(path)
    fields = reader.fields
    kind = fields.get(gguf.Keys.Adapter.TYPE)
    if kind is None or bytes(kind.parts[kind.data[0]]).decode() != "lora":
        raise ExportError(f"{path} is not a GGUF LoRA adapter (no adapter.type=lora)")
    alpha_field = fields[gguf.Keys.Adapter.LORA_ALPHA]
    alpha = float(alpha_field.parts[alpha_field.data[0]][0])
    module_of = {short: hf for hf, short in _LAYER_NAMES.items()}
    weights: dict[str, torch.Tensor] = {}
    ranks: set[int] = set()
    targets: set[str] = set()
    for tensor in reader.tensors:
        match = re.fullmatch(r"blk\.(\d+)\.(\w+)\.weight\.lora_([ab])", tensor.name)
        if match is None or match.group(2) not in module_of:
            raise ExportError(f"{path}: tensor {tensor.name!r} is not a LoRA matrix of a llama projection")
        layer, short, ab = match.groups()
        data = torch.from_numpy(np.array(tensor.data, dtype=np.float32))  # (rows, cols): the reader's order
        if ab == "b":
            data = maybe_permute(f"blk.{layer}.{short}.weight", data, params, inverse=True)
        else:
            ranks.add(data.shape[0])
        module = f"model.layers.{layer}.{module_of[short]}"
        targets.add(module_of[short].split(".")[-1])
        weights[f"{_PEFT_PREFIX}{module}.lora_{ab.upper()}.weight"] = data.contiguous()
    if len(ranks) != 1:
        raise ExportError(f"{path}: LoRA ranks {sorted(ranks)}; one rank per adapter is supported")
    out_dir.mkdir(parents=True, exist_ok=True)
    save_file(weights, str(out_dir / "adapter_model.safetensors"))
    config = {
        "peft_type": "LORA",
        "task_type": "CAUSAL_LM",
        "r": ranks.pop(),
        "lora_alpha": alpha,
        "lora_dropout": 0.0,
        "target_modules": sorted(targets),
        "bias": "none",
        "base_model_name_or_path": None,
    }
    (out_dir / "adapter_config.json").write_text(json.dumps(config, indent=1))
    logger.info("read GGUF LoRA %s into %s (%d matrices, r=%d)", path, out_dir, len(weights), config["r"])
    return out_dir
