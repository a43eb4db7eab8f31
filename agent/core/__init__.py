"""The core layer: the model contract and its backends, typed steps, prompts, grammar, parsing and the ReAct loop.

It imports nothing above it (``tools`` is below it). Contract files: :mod:`agent.core.model`
(``Model``, ``Completion``, ``ModelError``), :mod:`agent.core.steps` (``Step``, ``Action``,
``Trajectory``) and :mod:`agent.core.record` (the run record every strategy returns).
"""
