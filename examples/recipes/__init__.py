"""Recipes that build the training data of the shipped CoT model, by code (no model needed).

Examples, not the library (none of it is in the wheel). ``python -m examples.recipes.round
examples/recipes/rounds/NAME.json [--data-only]`` rebuilds one round of what ships (README.md).

``python -m examples.recipes.build_data --out data/`` writes every family:

* :mod:`~examples.recipes.gsm8k_programs`: GSM8K solutions as calculator ReAct traces;
* :mod:`~examples.recipes.gsm8k_reinstantiate`: the same problems with new numbers;
* :mod:`~examples.recipes.tool_problems` and :mod:`~examples.recipes.text_problems`: synthetic
  calculator and python tool use;
* :mod:`~examples.recipes.game24_data`: Game of 24 propose/value/answer examples for Tree of Thoughts.

ReAct records are :class:`agent.core.steps.Trajectory` dicts; prompt/completion records are
``{"messages": [...]}`` (see :mod:`examples.recipes.traces`).
"""

__all__ = [
    "build_data",
    "game24_data",
    "gsm8k_programs",
    "gsm8k_reinstantiate",
    "mix",
    "numbers",
    "round",
    "text_problems",
    "tool_problems",
    "traces",
]
