"""Tokenizer metadata for exported GGUF files.

Most faithful first: when the base model is a GGUF whose vocabulary the fine-tuned model
still uses, its `tokenizer.*` keys (tokens, merges, pre-tokenizer, chat template) are copied
verbatim. Otherwise they are built from the run's HF tokenizer, GPT-2 byte-level BPE only.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from finetune.errors import ExportError

logger = logging.getLogger(__name__)

TOKENIZER_PREFIX = "tokenizer."


def tokenizer_metadata(
    n_vocab: int, tokenizer: Any | None, tokenizer_dir: Path | None, base_gguf: Any | None
) -> dict[str, Any]:
    """The `tokenizer.*` keys (as `gguf.GGUFValue`) for a model with `n_vocab` embedding rows.

    Args:
        n_vocab: rows of the model's token embedding.
        tokenizer: the run's HF tokenizer, None when it saved none.
        tokenizer_dir: where `tokenizer` was saved (tokenizer.json, tokenizer_config.json).
        base_gguf: the base model's GGUF (a path or an open `gguf.GGUFReader`), None for an HF base.

    Raises:
        ExportError: when no usable tokenizer is found.
    """
    if base_gguf is not None:
        fields = read_gguf_tokenizer(base_gguf)
        tokens = fields["tokenizer.ggml.tokens"].value if "tokenizer.ggml.tokens" in fields else []
        same_vocab = tokenizer is None or tokenizer.convert_ids_to_tokens(list(range(len(tokens)))) == tokens
        if len(tokens) == n_vocab and same_vocab:
            logger.info("copying tokenizer metadata from the base GGUF")
            return fields
        logger.info("vocabulary differs from the base GGUF; rebuilding it from the HF tokenizer")
    if tokenizer is None or tokenizer_dir is None:
        raise ExportError(f"no tokenizer found for the export (no tokenizer.json; base GGUF: {base_gguf})")
    return hf_tokenizer_metadata(tokenizer, tokenizer_dir, n_vocab)


def read_gguf_tokenizer(source: Any) -> dict[str, Any]:
    """Every `tokenizer.*` key of a GGUF (a path or an open `gguf.GGUFReader`) as `gguf.GGUFValue`."""
    import gguf

    reader = source if isinstance(source, gguf.GGUFReader) else gguf.GGUFReader(source)
    out: dict[str, Any] = {}
    for key, field in reader.fields.items():
        if key.startswith(TOKENIZER_PREFIX) and field.types:
            vtype = field.types[0]
            sub_type = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
            out[key] = gguf.GGUFValue(field.contents(), vtype, sub_type)
    return out


def hf_tokenizer_metadata(tokenizer: Any, tokenizer_dir: Path, n_vocab: int) -> dict[str, Any]:
    """Build GPT-2 style BPE tokenizer keys from an HF fast tokenizer saved in `tokenizer_dir`."""
    import gguf

    spec = _tokenizer_json(tokenizer_dir)
    model, decoder = spec.get("model", {}), spec.get("decoder") or {}
    if model.get("type") != "BPE" or model.get("byte_fallback") or decoder.get("type") != "ByteLevel":
        raise ExportError(f"only byte-level BPE (GPT-2 style) tokenizers can be exported; {tokenizer_dir} differs")
    tokens, types = _token_table(tokenizer, n_vocab)
    scratch = gguf.GGUFWriter(None, "llama")  # collects key/values, never opens a file
    scratch.add_tokenizer_model("gpt2")
    scratch.add_tokenizer_pre(bpe_pre_name(spec))
    scratch.add_token_list(tokens)
    scratch.add_token_types(types)
    special = gguf.SpecialVocab(tokenizer_dir, load_merges=True, n_vocab=n_vocab)
    probe = tokenizer("a")["input_ids"]
    special.add_special_token["bos"] = tokenizer.bos_token_id is not None and probe[:1] == [tokenizer.bos_token_id]
    special.add_special_token["eos"] = tokenizer.eos_token_id is not None and probe[-1:] == [tokenizer.eos_token_id]
    special.add_to_gguf(scratch, quiet=True)
    if special.chat_template is None and getattr(tokenizer, "chat_template", None):
        scratch.add_chat_template(tokenizer.chat_template)
    return {key: value for key, value in scratch.kv_data[0].items() if key.startswith(TOKENIZER_PREFIX)}


def _tokenizer_json(tokenizer_dir: Path) -> dict[str, Any]:
    path = tokenizer_dir / "tokenizer.json"
    if not path.is_file():
        raise ExportError(f"no tokenizer.json in {tokenizer_dir}: only fast (tokenizers) tokenizers can be exported")
    return json.loads(path.read_text(encoding="utf-8"))


def _token_table(tokenizer: Any, n_vocab: int) -> tuple[list[str], list[int]]:
    import gguf

    by_id = {idx: text for text, idx in tokenizer.get_vocab().items()}
    added = getattr(tokenizer, "added_tokens_decoder", {}) or {}
    tokens: list[str] = []
    types: list[int] = []
    for idx in range(n_vocab):
        if idx not in by_id:
            tokens.append(f"[PAD{idx}]")
            types.append(gguf.TokenType.UNUSED)
            continue
        tokens.append(by_id[idx])
        if idx in added:
            types.append(gguf.TokenType.CONTROL if added[idx].special else gguf.TokenType.USER_DEFINED)
        else:
            types.append(gguf.TokenType.NORMAL)
    if len(by_id) > n_vocab:
        raise ExportError(f"tokenizer has {len(by_id)} tokens but the model embeds only {n_vocab}")
    return tokens, types


def bpe_pre_name(spec: dict[str, Any]) -> str:
    """Pick llama.cpp's pre-tokenizer (`tokenizer.ggml.pre`) from a tokenizer.json pre_tokenizer.

    Digits(individual) + ByteLevel is SmolLM's; a bare ByteLevel with its regex is GPT-2's.
    """
    pre = spec.get("pre_tokenizer") or {}
    steps = pre.get("pretokenizers", []) if pre.get("type") == "Sequence" else [pre]
    kinds = [step.get("type") for step in steps]
    if kinds == ["Digits", "ByteLevel"] and steps[0].get("individual_digits"):
        return "smollm"
    if kinds == ["ByteLevel"] and steps[0].get("use_regex", True):
        return "gpt-2"
    logger.warning("unrecognised pre-tokenizer %s; llama.cpp will use its default splitting", kinds)
    return "default"
