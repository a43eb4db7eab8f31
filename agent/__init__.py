"""The runtime: the model contract, its backends, typed steps and the ReAct loop.

Contract files: :mod:`agent.model` (``Model``, ``Completion``, ``load_model``) and
:mod:`agent.steps` (``Step``, ``Action``, ``Trajectory``). Nothing here imports torch at
import time.
"""

from agent.model import Completion, Model, ModelError, load_model
from agent.steps import Action, Step, StepError, Trajectory

__all__ = ["Action", "Completion", "Model", "ModelError", "Step", "StepError", "Trajectory", "load_model"]
