"""Find what a training run left behind: adapter or full model, base model, tokenizer.

A run directory holds `adapter/` (peft LoRA) or `model/` (full HF model), `base.json`
(`{"base": <HF dir or .gguf path>, "gguf_file": <name or null>}`) and `tokenizer/`.
An adapter or model directory passed directly is accepted too.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from finetune.errors import ExportError

logger = logging.getLogger(__name__)

_MODEL_WEIGHTS = ("*.safetensors", "pytorch_model*.bin")
_ADAPTER_WEIGHTS = ("adapter_model.safetensors", "adapter_model.bin")
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")
# llama.cpp's Phi-3 converter takes a vocabulary without tokenizer.model (Phi-4's BPE) only from a tokenizer
# named GPT2Tokenizer, as Phi-4 ships it; transformers 5 saves every fast tokenizer as TokenizersBackend
_BPE_TOKENIZER_CLASS = {"phi3": "GPT2Tokenizer"}


@dataclass(frozen=True)
class BaseModel:
    """The model an adapter was trained on: an HF directory, or a GGUF file."""

    path: Path  # HF directory, or the GGUF file itself
    is_gguf: bool

    @property
    def hf_dir(self) -> Path | None:
        """The HF directory holding config.json, None for a GGUF base."""
        return None if self.is_gguf else self.path


@dataclass(frozen=True)
class RunSource:
    """A resolved run: exactly one of `adapter_dir` / `model_dir` is set."""

    root: Path
    adapter_dir: Path | None
    model_dir: Path | None
    base: BaseModel | None
    tokenizer_dir: Path | None


def resolve_source(src: str | Path) -> RunSource:
    """Locate the weights, base model and tokenizer of a run directory.

    Raises:
        ExportError: when the directory is missing or holds no adapter/model weights.
    """
    root = Path(src).expanduser()
    if not root.is_dir():
        raise ExportError(f"run directory not found: {root}")
    adapter_dir = _find_dir(root, "adapter", "adapter_config.json")
    model_dir = None if adapter_dir else _find_dir(root, "model", "config.json")
    if adapter_dir and not any((adapter_dir / name).is_file() for name in _ADAPTER_WEIGHTS):
        raise ExportError(f"no adapter weights (adapter_model.safetensors) in {adapter_dir}")
    if model_dir and not any(any(model_dir.glob(pattern)) for pattern in _MODEL_WEIGHTS):
        raise ExportError(f"no model weights (*.safetensors) in {model_dir}")
    if adapter_dir is None and model_dir is None:
        raise ExportError(f"no weights in {root}: expected adapter/ (LoRA run) or model/ (full fine-tune)")
    base = _read_base(root, adapter_dir)
    if adapter_dir and base is None:
        raise ExportError(f"cannot find the base model of the adapter in {root}: write base.json")
    candidates = [root / "tokenizer", adapter_dir, model_dir, root, base.hf_dir if base else None]
    tokenizer_dir = next((d for d in candidates if d and any((d / name).is_file() for name in _TOKENIZER_FILES)), None)
    return RunSource(root, adapter_dir, model_dir, base, tokenizer_dir)


def _find_dir(root: Path, sub: str, marker: str) -> Path | None:
    for candidate in (root / sub, root):
        if (candidate / marker).is_file():
            return candidate
    return None


def _read_base(root: Path, adapter_dir: Path | None) -> BaseModel | None:
    spec_file = root / "base.json"
    if spec_file.is_file():
        try:
            spec = json.loads(spec_file.read_text())
            base, gguf_file = spec["base"], spec.get("gguf_file")
        except (ValueError, KeyError, TypeError) as err:
            raise ExportError(f"invalid base.json in {root}: {err}") from err
    elif adapter_dir is not None:
        config = json.loads((adapter_dir / "adapter_config.json").read_text())
        base, gguf_file = config.get("base_model_name_or_path"), None
        if not base or not (Path(base) / "config.json").is_file():
            return None
    else:
        return None
    path = Path(base).expanduser()
    if not path.is_absolute() and not path.exists() and (root / path).exists():
        path = root / path
    if gguf_file and not str(path).endswith(".gguf"):
        path = path / gguf_file
    if not path.exists():
        raise ExportError(f"base model {path} (named in {spec_file}) does not exist")
    return BaseModel(path=path, is_gguf=path.suffix == ".gguf")


def load_hf_model(base: BaseModel) -> Any:
    """Load a base model in float32 with transformers (GGUF bases dequantized, as the trainer loads them)."""
    import torch

    from finetune.modeling import load_base_model

    try:
        return load_base_model(str(base.path), torch.float32)
    except (OSError, ValueError) as err:
        raise ExportError(f"cannot load model {base.path}: {err}".replace("\n", " ")) from err


def load_merged_model(source: RunSource) -> Any:
    """Return the fine-tuned torch model: the full model, or the base with the LoRA merged in."""
    if source.model_dir is not None:
        return load_hf_model(BaseModel(source.model_dir, is_gguf=False))
    from peft import PeftModel

    if source.base is None or source.adapter_dir is None:
        raise ExportError(f"adapter run {source.root} has no base model")
    logger.info("merging LoRA adapter %s into %s", source.adapter_dir, source.base.path)
    model = PeftModel.from_pretrained(load_hf_model(source.base), source.adapter_dir)
    return model.merge_and_unload()


def load_tokenizer(source: RunSource) -> Any:
    """Load the run's HF tokenizer (for a GGUF base without a saved one: the GGUF's).

    Raises:
        ExportError: no tokenizer is found.
    """
    from transformers import AutoTokenizer

    if source.tokenizer_dir is not None:
        return AutoTokenizer.from_pretrained(source.tokenizer_dir)
    if source.base is not None and source.base.is_gguf:
        return AutoTokenizer.from_pretrained(source.base.path.parent, gguf_file=source.base.path.name)
    raise ExportError(f"no tokenizer found for {source.root}: expected tokenizer/ (tokenizer.json) in the run")


def save_hf_dir(source: RunSource, dest: Path) -> Path:
    """Write the fine-tuned model (a LoRA merged into its base) and its tokenizer as one HF folder in ``dest``.

    Files of the run's tokenizer that ``save_pretrained`` does not write again (a SentencePiece
    ``tokenizer.model``) are copied, since llama.cpp's converter reads some vocabularies from them.
    """
    model = load_merged_model(source)
    model.save_pretrained(dest)
    load_tokenizer(source).save_pretrained(dest)
    kept = source.tokenizer_dir
    for extra in ("tokenizer.model", "added_tokens.json"):
        if kept is not None and (kept / extra).is_file() and not (dest / extra).exists():
            shutil.copy2(kept / extra, dest / extra)
    bpe_class = _BPE_TOKENIZER_CLASS.get(model.config.model_type)
    if bpe_class and not (dest / "tokenizer.model").exists():
        config = json.loads((dest / "tokenizer_config.json").read_text())
        (dest / "tokenizer_config.json").write_text(json.dumps({**config, "tokenizer_class": bpe_class}, indent=1))
    return dest


def save_base_config(base: BaseModel, dest: Path) -> Path:
    """An HF folder holding only the ``config.json`` of a GGUF base (all a LoRA conversion needs of its base)."""
    from transformers import AutoConfig
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    try:
        config = AutoConfig.from_pretrained(base.path.parent, gguf_file=base.path.name)
    except (OSError, ValueError) as err:
        raise ExportError(f"cannot read the model config of {base.path}: {err}".replace("\n", " ")) from err
    if not config.architectures and config.model_type not in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        raise ExportError(f"{base.path}: transformers knows no causal LM for model_type {config.model_type!r}")
    config.architectures = config.architectures or [MODEL_FOR_CAUSAL_LM_MAPPING_NAMES[config.model_type]]
    config.save_pretrained(dest)
    return dest
