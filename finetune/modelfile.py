"""Ollama `Modelfile` next to an exported GGUF (`ollama create NAME -f Modelfile`)."""

from __future__ import annotations

import os
import re
from pathlib import Path

CHATML_TEMPLATE = (
    "{{- if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}"
    "{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}"
    "<|im_start|>assistant\n"
)
CHATML_STOPS = ("<|im_start|>", "<|im_end|>")
_DEFAULT_SYSTEM = re.compile(r"<\|im_start\|>system\n(.+?)<\|im_end\|>", re.DOTALL)


def render_modelfile(model: Path, here: Path, chat_template: str | None, adapter: Path | None = None) -> str:
    """Return the Modelfile text.

    Args:
        model: the GGUF to run (for a LoRA export: the base model).
        here: the folder the Modelfile is written to; paths inside it are made relative when they can be.
        chat_template: the model's Jinja chat template; ChatML templates become an Ollama TEMPLATE.
        adapter: a GGUF LoRA adapter applied on top of `model`.
    """
    lines = [f"FROM {_ref(model, here)}"]
    if adapter is not None:
        lines.append(f"ADAPTER {_ref(adapter, here)}")
    if chat_template and "<|im_start|>" in chat_template:
        lines.append(f'TEMPLATE """{CHATML_TEMPLATE}"""')
        system = _DEFAULT_SYSTEM.search(chat_template)
        if system and "{{" not in system.group(1):
            lines.append(f'SYSTEM """{system.group(1)}"""')
        lines.extend(f'PARAMETER stop "{stop}"' for stop in CHATML_STOPS)
    else:
        lines.append("# no ChatML chat template found: Ollama will pass prompts through unchanged")
    return "\n".join(lines) + "\n"


def write_modelfile(model: Path, here: Path, chat_template: str | None, adapter: Path | None = None) -> Path:
    """Write `here/Modelfile` (see `render_modelfile`) and return its path."""
    path = here / "Modelfile"
    path.write_text(render_modelfile(model, here, chat_template, adapter), encoding="utf-8")
    return path


def _ref(target: Path, here: Path) -> str:
    target, here = target.resolve(), here.resolve()
    if target.parent == here or here in target.parents:
        return "./" + os.path.relpath(target, here)
    return str(target)
