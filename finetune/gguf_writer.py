"""Write a llama-architecture GGUF model file (f16 or q8_0) from a torch state dict."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from finetune.gguf_llama import ARCH, LlamaParams, add_llama_metadata, gguf_name, maybe_permute

if TYPE_CHECKING:
    import numpy as np
    import torch

logger = logging.getLogger(__name__)

WeightType = Literal["f16", "q8_0"]


def write_model_gguf(
    path: Path,
    params: LlamaParams,
    state_dict: Mapping[str, torch.Tensor],
    weight_type: WeightType,
    tokenizer_keys: Mapping[str, Any],
    name: str = "finetuned",
) -> Path:
    """Write `state_dict` (HF llama names) as a GGUF llama.cpp can load.

    Args:
        path: the .gguf file to write.
        params: hyperparameters of the model.
        state_dict: HF tensor names to tensors (any float dtype).
        weight_type: "f16" (2D weights in F16) or "q8_0" (2D weights in Q8_0); norms stay F32.
        tokenizer_keys: `tokenizer.*` keys to `gguf.GGUFValue` (see `finetune.gguf_vocab`).
        name: `general.name`.

    Returns:
        `path`.
    """
    import gguf

    writer = gguf.GGUFWriter(path, ARCH)
    writer.add_type(gguf.GGUFType.MODEL)
    writer.add_name(name)
    add_llama_metadata(writer, params)
    file_type = gguf.LlamaFileType.MOSTLY_F16 if weight_type == "f16" else gguf.LlamaFileType.MOSTLY_Q8_0
    writer.add_file_type(file_type)
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
    for key, value in tokenizer_keys.items():
        writer.add_key_value(key, value.value, value.type, value.sub_type)
    for hf_name, tensor in state_dict.items():
        target = gguf_name(hf_name)
        if target is None or (params.tied and target == "output.weight"):
            continue
        data = maybe_permute(target, tensor.detach().float().cpu(), params).numpy()
        _add_tensor(writer, target, data, weight_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    logger.info("wrote %s (%s)", path, weight_type)
    return path


def _add_tensor(writer: Any, name: str, data: np.ndarray, weight_type: WeightType) -> None:
    import gguf
    import numpy as np

    if data.ndim == 1:
        writer.add_tensor(name, data.astype(np.float32))
        return
    qtype = gguf.GGMLQuantizationType.Q8_0
    block = gguf.GGML_QUANT_SIZES[qtype][0]
    if weight_type == "q8_0" and data.shape[-1] % block == 0:
        writer.add_tensor(name, gguf.quants.quantize(data, qtype), raw_dtype=qtype)
        return
    writer.add_tensor(name, data.astype(np.float16))
