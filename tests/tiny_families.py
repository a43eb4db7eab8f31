"""Tiny random causal LMs of five families (llama, qwen2, qwen3, gemma3, phi3), built from configs: nothing is downloaded.

Each has hidden size 64, two layers and a real tokenizer llama.cpp's converter accepts (it hashes how the
tokenizer splits a fixed text to name the pre-tokenizer): the embedded SmolLM2's, with the family's
chat-template tokens added, and for Qwen2 (whose tokenizer class transformers always rebuilds with Qwen2's
own splitting) the real Qwen2 vocabulary, from llama.cpp's tokenizer test file that the converter cache holds.
Weights are scaled so that greedy next tokens are clear of ties (a trained model's margins, not random ones).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHATML = (
    "{% if messages[0]['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
LLAMA3 = (
    "<|begin_of_text|>{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n"
    "{{ m['content'] | trim }}<|eot_id|>{% endfor %}"
    "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
)
GEMMA = (
    "{% set first = messages[0]['content'] + '\n\n' if messages[0]['role'] == 'system' else '' %}"
    "{% for m in messages if m['role'] != 'system' %}"
    "<start_of_turn>{{ 'model' if m['role'] == 'assistant' else m['role'] }}\n"
    "{{ ((first if loop.first else '') + m['content']) | trim }}<end_of_turn>\n{% endfor %}"
    "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)
PHI3 = (
    "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}<|end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% else %}{{ eos_token }}{% endif %}"
)


@dataclass(frozen=True)
class Family:
    """How to build one tiny model: its transformers config class, chat template and end-of-turn token."""

    name: str
    config_class: str  # in transformers
    template: str
    end_of_turn: str
    added: tuple[str, ...] = ()  # special tokens the template needs that SmolLM2's vocabulary lacks
    config: tuple[tuple[str, Any], ...] = ()  # what sets this family apart (tied embeddings, head size, ...)


FAMILIES = {
    family.name: family
    for family in (
        Family(
            "llama", "LlamaConfig", LLAMA3, "<|eot_id|>",
            ("<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"),
            (("tie_word_embeddings", True),),
        ),
        Family("qwen2", "Qwen2Config", CHATML, "<|im_end|>", (), (("tie_word_embeddings", True),)),
        Family("qwen3", "Qwen3Config", CHATML, "<|im_end|>", (), (("head_dim", 16), ("tie_word_embeddings", False))),
        Family(
            "gemma3", "Gemma3TextConfig", GEMMA, "<end_of_turn>", ("<start_of_turn>", "<end_of_turn>"),
            (("head_dim", 16), ("query_pre_attn_scalar", 16), ("sliding_window", 512)),  # llama.cpp: 1/sqrt(head_dim)
        ),
        Family(
            "phi3", "Phi3Config", PHI3, "<|end|>", ("<|system|>", "<|user|>", "<|assistant|>", "<|end|>", "<s>", "</s>", "<unk>"),
            (("original_max_position_embeddings", 512),),
        ),
    )
}  # fmt: skip


def qwen2_tokenizer(converter: Path) -> Any:
    """Qwen2's tokenizer (151,936 tokens) from llama.cpp's ``models/ggml-vocab-qwen2.gguf``."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tokens, merges, types = gguf_vocab(converter / "models" / "ggml-vocab-qwen2.gguf")
    bpe = models.BPE(vocab={t: i for i, t in enumerate(tokens)}, merges=[tuple(m.split(" ", 1)) for m in merges])
    tokenizer = Tokenizer(bpe)
    split = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Split(Regex(split), behavior="isolated"), pre_tokenizers.ByteLevel(False, use_regex=False)]
    )
    tokenizer.decoder = decoders.ByteLevel()
    control = [AddedToken(tokens[i], special=True, normalized=False) for i, kind in enumerate(types) if kind == 3]
    tokenizer.add_special_tokens(control)
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token="<|im_end|>", pad_token="<|endoftext|>")


def gguf_vocab(path: Path) -> tuple[list[str], list[str], list[int]]:
    """Tokens, merges and token types of a vocabulary-only GGUF (gguf's reader takes 16 s on these 300k strings)."""
    import struct

    data = path.read_bytes()
    sizes = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
    pos = 24  # magic, version, tensor count, key/value count
    (n_kv,) = struct.unpack_from("<Q", data, 16)

    def string() -> str:
        nonlocal pos
        (n,) = struct.unpack_from("<Q", data, pos)
        pos += 8 + n
        return data[pos - n : pos].decode("utf-8")

    out: dict[str, list] = {}
    for _ in range(n_kv):
        key = string()
        (kind,) = struct.unpack_from("<I", data, pos)
        pos += 4
        if kind == 9:  # array: element type, count, elements
            sub, count = struct.unpack_from("<IQ", data, pos)
            pos += 12
            if sub == 8:
                out[key] = [string() for _ in range(count)]
            else:
                out[key] = list(struct.unpack_from(f"<{count}i", data, pos)) if sub == 5 else []
                pos += sizes[sub] * count
        elif kind == 8:
            string()
        else:
            pos += sizes[kind]
    return out["tokenizer.ggml.tokens"], out["tokenizer.ggml.merges"], out["tokenizer.ggml.token_type"]


def family_tokenizer(family: Family, smollm2: Any, converter: Path) -> Any:
    """A fresh tokenizer for ``family``: its vocabulary, its chat template, its special tokens."""
    import copy

    tokenizer = qwen2_tokenizer(converter) if family.name == "qwen2" else copy.deepcopy(smollm2)
    if family.added:
        tokenizer.add_special_tokens({"additional_special_tokens": list(family.added)})
    tokenizer.chat_template = family.template
    return tokenizer


def build_tiny(family: Family, tokenizer: Any, dest: Path, seed: int = 0) -> Any:
    """Save a random tiny ``family`` model with ``tokenizer`` in ``dest``; returns the torch model (eval mode).

    Embedding (and untied output) rows get log-normal norms, biases and norm weights random values: plain
    N(0, 0.02) weights give near-tied logits, where 16-bit rounding flips argmaxes.
    """
    import torch
    import transformers

    config = getattr(transformers, family.config_class)(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        initializer_range=0.1,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **dict(family.config),
    )
    torch.manual_seed(seed)
    model = transformers.AutoModelForCausalLM.from_config(config).eval()
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith(".bias"):
                param.normal_(std=0.5)
            elif "norm" in name:
                param.add_(0.2 * torch.randn_like(param))
        tables = {id(m.weight): m.weight for m in (model.get_input_embeddings(), model.get_output_embeddings())}
        for rows in tables.values():  # one table when the embeddings are tied
            rows.mul_(torch.exp(0.75 * torch.randn(rows.shape[0], 1)))
    model.save_pretrained(dest)
    tokenizer.save_pretrained(dest)
    if family.name == "phi3":  # named as Phi-4's BPE tokenizer ships: llama.cpp's Phi-3 converter reads no other
        config_file = dest / "tokenizer_config.json"
        config_file.write_text(json.dumps({**json.loads(config_file.read_text()), "tokenizer_class": "GPT2Tokenizer"}))
    return model


def torch_logits(model, ids: list[list[int]]) -> list[Any]:
    """torch's logits at every position of each prompt (numpy, float32)."""
    import torch

    with torch.no_grad():
        return [model(torch.tensor([x])).logits[0].float().numpy() for x in ids]


def llama_logits(model_path: Path, ids: list[list[int]], lora_path: Path | None = None, n_ctx: int = 256) -> list[Any]:
    """llama.cpp's logits at every position of each prompt (numpy)."""
    import numpy as np
    from llama_cpp import Llama

    llm = Llama(
        model_path=str(model_path),
        lora_path=str(lora_path) if lora_path else None,
        n_ctx=n_ctx,
        logits_all=True,
        n_threads=2,
        verbose=False,
    )
    try:
        out = []
        for x in ids:
            llm.reset()
            llm.eval(x)
            out.append(np.array(llm.scores[: len(x)]))
        return out
    finally:
        llm.close()
