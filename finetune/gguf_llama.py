"""Llama architecture facts shared by the GGUF model and LoRA writers.

Hyperparameters as llama.cpp reads them, the Hugging Face -> llama.cpp tensor names,
and the Q/K row permutation that `convert_hf_to_gguf.py` (`LlamaModel.permute`) applies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from finetune.errors import ExportError

if TYPE_CHECKING:
    import torch

ARCH = "llama"

_LAYER_RE = re.compile(r"^model\.layers\.(\d+)\.(.+)\.(weight|bias)$")
_LAYER_NAMES = {
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
    "input_layernorm": "attn_norm",
    "post_attention_layernorm": "ffn_norm",
}
_GLOBAL_NAMES = {
    "model.embed_tokens.weight": "token_embd.weight",
    "model.norm.weight": "output_norm.weight",
    "lm_head.weight": "output.weight",
}


@dataclass(frozen=True)
class LlamaParams:
    """The hyperparameters llama.cpp needs for the `llama` architecture."""

    n_vocab: int
    n_ctx: int  # context length the model was trained for
    n_embd: int
    n_layer: int
    n_ff: int
    n_head: int
    n_head_kv: int
    head_dim: int
    rms_eps: float
    rope_base: float
    tied: bool  # True: output projection shares token_embd, no `output.weight` is written
    rope_linear_factor: float | None = None  # linear RoPE scaling, None when unscaled

    @classmethod
    def from_hf_config(cls, config: Any) -> LlamaParams:
        """Read a transformers `LlamaConfig` (4.x `rope_theta` or 5.x `rope_parameters`)."""
        model_type = getattr(config, "model_type", None)
        if model_type != ARCH:
            raise ExportError(f"only llama-architecture models can be exported, got model_type={model_type!r}")
        rope = dict(getattr(config, "rope_parameters", None) or getattr(config, "rope_scaling", None) or {})
        rope_type = rope.get("rope_type", rope.get("type", "default"))
        if rope_type not in ("default", "linear"):
            raise ExportError(f"RoPE scaling type {rope_type!r} is not supported by the GGUF exporter")
        theta = rope.get("rope_theta", getattr(config, "rope_theta", None)) or 10000.0
        n_head = config.num_attention_heads
        return cls(
            n_vocab=config.vocab_size,
            n_ctx=config.max_position_embeddings,
            n_embd=config.hidden_size,
            n_layer=config.num_hidden_layers,
            n_ff=config.intermediate_size,
            n_head=n_head,
            n_head_kv=getattr(config, "num_key_value_heads", None) or n_head,
            head_dim=getattr(config, "head_dim", None) or config.hidden_size // n_head,
            rms_eps=config.rms_norm_eps,
            rope_base=float(theta),
            tied=bool(getattr(config, "tie_word_embeddings", False)),
            rope_linear_factor=float(rope["factor"]) if rope_type == "linear" else None,
        )

    @classmethod
    def from_gguf(cls, source: Path | Any) -> LlamaParams:
        """Read the hyperparameters of a llama GGUF (a path or an open `gguf.GGUFReader`)."""
        import gguf

        reader = source if isinstance(source, gguf.GGUFReader) else gguf.GGUFReader(source)
        path = reader.data.filename if hasattr(reader.data, "filename") else source

        def field(key: str, default: Any = None) -> Any:
            entry = reader.fields.get(key)
            return entry.contents() if entry is not None else default

        arch = field("general.architecture")
        if arch != ARCH:
            raise ExportError(f"base GGUF {path} has architecture {arch!r}; only llama is supported")
        n_embd, n_head = field("llama.embedding_length"), field("llama.attention.head_count")
        names = {t.name for t in reader.tensors}
        return cls(
            n_vocab=field("llama.vocab_size") or len(field("tokenizer.ggml.tokens", [])),
            n_ctx=field("llama.context_length"),
            n_embd=n_embd,
            n_layer=field("llama.block_count"),
            n_ff=field("llama.feed_forward_length"),
            n_head=n_head,
            n_head_kv=field("llama.attention.head_count_kv", n_head),
            head_dim=field("llama.attention.key_length", n_embd // n_head),
            rms_eps=field("llama.attention.layer_norm_rms_epsilon"),
            rope_base=field("llama.rope.freq_base", 10000.0),
            tied="output.weight" not in names,
        )


def gguf_name(hf_name: str) -> str | None:
    """Map a Hugging Face llama tensor name to its llama.cpp name.

    Returns:
        The GGUF name, or None for buffers llama.cpp does not need (rotary inv_freq).

    Raises:
        ExportError: for a tensor the llama architecture has no slot for.
    """
    if hf_name.endswith("rotary_emb.inv_freq"):
        return None
    if hf_name in _GLOBAL_NAMES:
        return _GLOBAL_NAMES[hf_name]
    match = _LAYER_RE.match(hf_name)
    if match and match.group(2) in _LAYER_NAMES:
        layer, module, kind = match.groups()
        return f"blk.{layer}.{_LAYER_NAMES[module]}.{kind}"
    raise ExportError(f"tensor {hf_name!r} has no llama.cpp equivalent")


def permute_rows(weights: torch.Tensor, n_head: int, inverse: bool = False) -> torch.Tensor:
    """Reorder Q/K rows from HF's rotate-half RoPE layout to llama.cpp's interleaved pairs (``inverse``: back).

    Same as `LlamaModel.permute` in llama.cpp's `convert_hf_to_gguf.py`; works on weights,
    biases and LoRA `B` matrices (whose rows are the projection's output rows).
    """
    shape = weights.shape
    split = (n_head, shape[0] // n_head // 2, 2) if inverse else (n_head, 2, shape[0] // n_head // 2)
    return weights.reshape(*split, *shape[1:]).swapaxes(1, 2).reshape(shape)


def maybe_permute(
    gguf_tensor_name: str, data: torch.Tensor, params: LlamaParams, inverse: bool = False
) -> torch.Tensor:
    """Apply `permute_rows` (or its inverse) when `gguf_tensor_name` is a Q or K projection."""
    if ".attn_q." in gguf_tensor_name:
        return permute_rows(data, params.n_head, inverse)
    if ".attn_k." in gguf_tensor_name:
        return permute_rows(data, params.n_head_kv, inverse)
    return data


def add_llama_metadata(writer: Any, params: LlamaParams) -> None:
    """Write the `llama.*` hyperparameter keys llama.cpp reads at load time."""
    writer.add_context_length(params.n_ctx)
    writer.add_embedding_length(params.n_embd)
    writer.add_block_count(params.n_layer)
    writer.add_feed_forward_length(params.n_ff)
    writer.add_head_count(params.n_head)
    writer.add_head_count_kv(params.n_head_kv)
    writer.add_rope_dimension_count(params.head_dim)
    if params.head_dim != params.n_embd // params.n_head:
        writer.add_key_length(params.head_dim)
        writer.add_value_length(params.head_dim)
    writer.add_layer_norm_rms_eps(params.rms_eps)
    writer.add_rope_freq_base(params.rope_base)
    writer.add_vocab_size(params.n_vocab)
    if params.rope_linear_factor is not None:
        import gguf

        writer.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        writer.add_rope_scaling_factor(params.rope_linear_factor)
