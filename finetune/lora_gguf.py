"""A peft LoRA made ready for llama.cpp's ``convert_lora_to_gguf.py``, and a GGUF LoRA read back into peft.

llama.cpp scales every adapted projection by ``adapter.lora.alpha / rank``; peft's other scalings (rsLoRA,
``alpha_pattern``) are folded into ``B`` before conversion. Reading back (``--init-adapter X.gguf``, to go on
training the shipped adapter) inverts the converter's tensor names with gguf's own name map, and for the
``llama`` architecture its Q/K row permutation (``LlamaModel.permute`` in llama.cpp's converter).
"""

from __future__ import annotations

import json
import logging
import math
import re
import shutil
from pathlib import Path
from typing import Any

from finetune.errors import ExportError

logger = logging.getLogger(__name__)

_PEFT_PREFIX = "base_model.model."
_WEIGHTS = ("adapter_model.safetensors", "adapter_model.bin")


def adapter_for_llama_cpp(adapter_dir: Path, scratch: Path) -> Path:
    """``adapter_dir``, or a copy in ``scratch`` whose ``B`` matrices carry peft's scaling as alpha / rank.

    Raises:
        ExportError: for adapters llama.cpp cannot apply (DoRA, trained biases or whole modules).
    """
    config = json.loads((adapter_dir / "adapter_config.json").read_text())
    if config.get("peft_type", "LORA") != "LORA":
        raise ExportError(f"{adapter_dir} holds a {config.get('peft_type')} adapter; only LoRA can be exported")
    if config.get("use_dora"):
        raise ExportError(f"{adapter_dir} is a DoRA adapter, which llama.cpp cannot apply; export f16 instead")
    if config.get("bias", "none") != "none" or config.get("modules_to_save"):
        raise ExportError(f"{adapter_dir} trains biases or whole modules; export the merged model (f16) instead")
    if not config.get("use_rslora") and not config.get("alpha_pattern"):
        return adapter_dir
    from safetensors.torch import save_file

    alpha = float(config["lora_alpha"])
    weights = _load_weights(adapter_dir)
    for key, tensor in weights.items():
        if key.endswith(".lora_B.weight"):
            module = key.removesuffix(".lora_B.weight").removeprefix(_PEFT_PREFIX)
            rank = tensor.shape[1]
            weights[key] = (tensor.float() * (_peft_scale(config, module, rank) / (alpha / rank))).contiguous()
    scratch.mkdir(parents=True, exist_ok=True)
    save_file(weights, str(scratch / "adapter_model.safetensors"))
    config.update(use_rslora=False, alpha_pattern={})
    (scratch / "adapter_config.json").write_text(json.dumps(config, indent=1))
    return scratch


def _load_weights(adapter_dir: Path) -> dict[str, Any]:
    if (adapter_dir / _WEIGHTS[0]).is_file():
        from safetensors.torch import load_file

        return load_file(adapter_dir / _WEIGHTS[0])
    import torch

    return torch.load(adapter_dir / _WEIGHTS[1], map_location="cpu", weights_only=True)


def _peft_scale(config: dict[str, Any], module: str, rank: int) -> float:
    """The factor peft multiplies B @ A by for ``module`` (alpha / r, or alpha / sqrt(r) with rsLoRA)."""
    alpha = float(config["lora_alpha"])
    for pattern, value in (config.get("alpha_pattern") or {}).items():
        if re.match(rf"(.*\.)?{pattern}$", module):
            alpha = float(value)
            break
    return alpha / math.sqrt(rank) if config.get("use_rslora") else alpha / rank


def read_lora_gguf(path: Path, out_dir: Path, model: Any) -> Path:
    """A GGUF LoRA adapter as a peft adapter folder for ``model`` (the HF base it applies to), to go on training it.

    Raises:
        ExportError: the file is not a LoRA adapter, or a tensor has no projection of ``model`` to go to.
    """
    import gguf
    import numpy as np
    import torch
    from safetensors.torch import save_file

    reader = gguf.GGUFReader(path)
    fields = reader.fields
    if "adapter.type" not in fields or fields["adapter.type"].contents() != "lora":
        raise ExportError(f"{path} is not a GGUF LoRA adapter (no adapter.type=lora)")
    arch = fields["general.architecture"].contents()
    alpha = float(fields["adapter.lora.alpha"].contents())
    modules = _gguf_to_hf_modules(model, arch)
    weights: dict[str, torch.Tensor] = {}
    ranks: set[int] = set()
    used: set[str] = set()
    for tensor in reader.tensors:
        match = re.fullmatch(r"(.+)\.weight\.lora_([ab])", tensor.name)
        if match is None or match.group(1) not in modules:
            raise ExportError(f"{path}: tensor {tensor.name!r} is not a LoRA matrix of a {arch} projection")
        module, ab = modules[match.group(1)], match.group(2)
        data = torch.from_numpy(np.array(tensor.data, dtype=np.float32))  # (rows, cols): the reader's order
        if ab == "a":
            ranks.add(data.shape[0])
        elif arch == "llama" and module.endswith(("q_proj", "k_proj")):
            data = _unpermute(data, model.config, module.endswith("k_proj"))
        weights[f"{_PEFT_PREFIX}{module}.lora_{ab.upper()}.weight"] = data.contiguous()
        used.add(module)
    if len(ranks) != 1:
        raise ExportError(f"{path}: LoRA ranks {sorted(ranks)}; one rank per adapter is supported")
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    save_file(weights, str(out_dir / "adapter_model.safetensors"))
    config = {
        "peft_type": "LORA",
        "task_type": "CAUSAL_LM",
        "r": ranks.pop(),
        "lora_alpha": alpha,
        "lora_dropout": 0.0,
        "target_modules": sorted({module.split(".")[-1] for module in modules.values() if module in used}),
        "bias": "none",
        "base_model_name_or_path": None,
    }
    (out_dir / "adapter_config.json").write_text(json.dumps(config, indent=1))
    logger.info("read GGUF LoRA %s into %s (%d matrices, r=%d)", path, out_dir, len(weights), config["r"])
    return out_dir


def _gguf_to_hf_modules(model: Any, arch: str) -> dict[str, str]:
    """GGUF tensor name (``blk.0.attn_q``) -> the HF module it came from, for every linear layer of ``model``."""
    import gguf
    import torch

    kinds = {name: kind for kind, name in gguf.MODEL_ARCH_NAMES.items()}
    if arch not in kinds:
        raise ExportError(f"GGUF architecture {arch!r} is unknown to the installed gguf package (pip install -U gguf)")
    names = gguf.get_tensor_name_map(kinds[arch], model.config.num_hidden_layers)
    out = {}
    for module, layer in model.named_modules():
        target = names.get_name(module) if isinstance(layer, torch.nn.Linear) else None
        if target is not None:
            out[target] = module
    return out


def _unpermute(rows: Any, config: Any, key: bool) -> Any:
    """Undo llama.cpp's Q/K row order (interleaved RoPE pairs) on a LoRA ``B`` back to HF's rotate-half order."""
    heads = config.num_attention_heads
    if key:
        heads = getattr(config, "num_key_value_heads", None) or heads
    shape = rows.shape
    return rows.reshape(heads, shape[0] // heads // 2, 2, *shape[1:]).swapaxes(1, 2).reshape(shape)
