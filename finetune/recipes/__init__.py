"""Recipes that build the training data of the shipped CoT model, by code (no model needed).

``python -m finetune.recipes.build_data --out data/`` writes every family:

* :mod:`~finetune.recipes.gsm8k_programs`: GSM8K solutions as calculator ReAct traces;
* :mod:`~finetune.recipes.gsm8k_reinstantiate`: the same problems with new numbers;
* :mod:`~finetune.recipes.tool_problems` and :mod:`~finetune.recipes.text_problems`: synthetic
  calculator and python tool use;
* :mod:`~finetune.recipes.game24_data`: Game of 24 propose/value/answer examples for Tree of Thoughts.

ReAct records are :class:`agent.steps.Trajectory` dicts; prompt/completion records are
``{"messages": [...]}`` (see :mod:`finetune.recipes.traces`).
"""

__all__ = [
    "build_data",
    "game24_data",
    "gsm8k_programs",
    "gsm8k_reinstantiate",
    "numbers",
    "text_problems",
    "tool_problems",
    "traces",
]
