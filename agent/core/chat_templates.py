"""The chat templates the project falls back on when a model carries none.

A GGUF usually holds its Jinja chat template (``tokenizer.chat_template``); a base model's often does not (Gemma
3 270M's). The runtime (llama.cpp backend) and training (``finetune``) must then render turns the same way, so
both take the fallback from here: the family's own turns where we know them, else ChatML.
"""

from __future__ import annotations

CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
# Gemma's turns, for a Gemma base GGUF that carries no template (the system text opens the first user turn)
GEMMA = (
    "{% set ns = namespace(system='') %}{% for m in messages %}{% if m['role'] == 'system' %}"
    "{% set ns.system = m['content'] ~ '\n\n' %}{% else %}"
    "<start_of_turn>{{ 'model' if m['role'] == 'assistant' else 'user' }}\n"
    "{% if m['role'] == 'user' %}{{ ns.system }}{% set ns.system = '' %}{% endif %}"
    "{{ m['content'] | trim }}<end_of_turn>\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)
# by GGUF general.architecture, or transformers' model_type; else ChatML
FALLBACK_TEMPLATES = {"gemma": GEMMA, "gemma2": GEMMA, "gemma3": GEMMA, "gemma3_text": GEMMA}


def chat_template(template: str | None, architecture: str | None) -> str:
    """The model's own chat template, else the family's turns (:data:`FALLBACK_TEMPLATES`), else ChatML."""
    return template or FALLBACK_TEMPLATES.get(architecture or "", CHATML)
