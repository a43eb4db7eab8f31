"""The runtime: the model contract, its backends, typed steps and the ReAct loop.

Contract files: :mod:`agent.core.model` (``Model``, ``Completion``, ``load_model``) and
:mod:`agent.core.steps` (``Step``, ``Action``, ``Trajectory``). Nothing here imports torch at
import time.
"""

from agent.core.load import load_model
from agent.core.model import Completion, Model, ModelError
from agent.core.steps import Action, Step, StepError, Trajectory

__all__ = ["Action", "Completion", "Model", "ModelError", "Step", "StepError", "Trajectory", "load_model"]
