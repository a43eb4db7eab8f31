"""GGUF export through llama.cpp's converters: llama.cpp must predict the same next tokens as the torch model.

A tiny random Llama (hidden 64, 2 layers, 4 heads, 2 KV heads) with the embedded SmolLM2
tokenizer stands in for a fine-tuned model; nothing is downloaded but the converter (once, by pip).
The other families' round trips are in test_export_archs.py.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from tiny_families import llama_logits, torch_logits

from finetune.export import ExportError, export_model
from finetune.modelfile import render_modelfile

pytestmark = pytest.mark.usefixtures("llama_converter")

PROMPTS = (
    "<|im_start|>user\nWhat is 23 * 17? Think step by step.<|im_end|>\n<|im_start|>assistant\nThought: I need to multiply.",
    "Question: Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May.",
    "Action: calculator[(48 / 2) + 48]\nObservation: 72\nFinal Answer: 72",
    "The quick brown fox jumps over the lazy dog while the cat watches from the old wooden fence.",
    "def add(a, b):\n    return a + b\n\nprint(add(2, 3))  # prints 5",
)
LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


@dataclass
class Tiny:
    """A saved tiny model, the token ids of PROMPTS and the torch model's greedy next tokens."""

    path: Path
    model: object
    ids: list[list[int]]
    argmax: list[np.ndarray]


def smollm2_gguf() -> Path:
    from agent.core.embedded import embedded_model_path

    return embedded_model_path()


def torch_argmax(model, ids: list[list[int]]) -> list[np.ndarray]:
    return [logits.argmax(-1) for logits in torch_logits(model, ids)]


def llama_argmax(model_path: Path, ids: list[list[int]], lora_path: Path | None = None) -> list[np.ndarray]:
    """Greedy next token at every position, from llama.cpp's logits for the whole prompt."""
    return [logits.argmax(-1) for logits in llama_logits(model_path, ids, lora_path)]


def agreement(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    return float(np.mean(np.concatenate([x == y for x, y in zip(a, b)])))


@pytest.fixture(scope="module")
def tokenizer(smollm2_tokenizer):
    return smollm2_tokenizer


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, tokenizer) -> Tiny:
    """Random tied-embedding Llama whose embedding rows get log-normal norms.

    Plain N(0, 0.1) weights give near-tied logits (top-2 gap ~0.1 std), so 8-bit rounding flips
    ~10% of argmaxes; uneven row norms give the clear margins a trained model has.
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        initializer_range=0.1,
        tie_word_embeddings=True,
    )
    model = LlamaForCausalLM(config).eval()
    with torch.no_grad():
        embed = model.model.embed_tokens.weight
        embed.mul_(torch.exp(0.75 * torch.randn(embed.shape[0], 1)))
    path = tmp_path_factory.mktemp("tiny")
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    ids = [tokenizer(p)["input_ids"] for p in PROMPTS]
    return Tiny(path, model, ids, torch_argmax(model, ids))


@pytest.fixture(scope="module")
def f16_gguf(tiny, tmp_path_factory) -> Path:
    return export_model(str(tiny.path), str(tmp_path_factory.mktemp("f16")), "f16")


def test_f16_predicts_the_torch_models_next_tokens(tiny, f16_gguf):
    assert f16_gguf.name == "model-f16.gguf"
    assert agreement(llama_argmax(f16_gguf, tiny.ids), tiny.argmax) >= 0.99


def test_f16_metadata_and_tokenizer_round_trip(tiny, tokenizer, f16_gguf):
    import gguf
    from llama_cpp import Llama

    fields = gguf.GGUFReader(f16_gguf).fields
    assert fields["general.architecture"].contents() == "llama"
    assert fields["llama.block_count"].contents() == 2
    assert fields["llama.attention.head_count_kv"].contents() == 2
    assert fields["llama.rope.dimension_count"].contents() == 16
    assert fields["tokenizer.ggml.model"].contents() == "gpt2"
    assert "<|im_start|>" in fields["tokenizer.chat_template"].contents()
    llm = Llama(model_path=str(f16_gguf), n_ctx=64, verbose=False, vocab_only=True)
    try:
        for prompt, ids in zip(PROMPTS, tiny.ids):
            assert llm.tokenize(prompt.encode(), add_bos=False, special=True) == ids
    finally:
        llm.close()


def test_vocab_converted_from_the_hf_tokenizer_equals_the_original_gguf(f16_gguf):
    from tiny_families import gguf_vocab

    from agent.core.backends.gguf_header import gguf_string

    tokens, merges, _types = gguf_vocab(f16_gguf)
    assert (tokens, merges) == gguf_vocab(smollm2_gguf())[:2]
    assert gguf_string(f16_gguf, "tokenizer.ggml.pre", 1024) == gguf_string(smollm2_gguf(), "tokenizer.ggml.pre", 1024)


@pytest.mark.slow
def test_full_run_on_a_gguf_base_keeps_its_tokenizer(tiny, tmp_path):
    import gguf

    run = tmp_path / "run"
    shutil.copytree(tiny.path, run / "model")
    (run / "base.json").write_text(json.dumps({"base": str(smollm2_gguf()), "gguf_file": None}))
    out = export_model(str(run), str(tmp_path / "out"), "f16")
    fields = gguf.GGUFReader(out).fields
    assert fields["tokenizer.ggml.pre"].contents() == "smollm"  # the SmolLM2 GGUF's own pre-tokenizer
    assert fields["general.name"].contents() == "run"


def test_q8_0_predicts_the_torch_models_next_tokens(tiny, tmp_path):
    import gguf

    out = export_model(str(tiny.path), str(tmp_path), "q8_0")
    types = {t.name: t.tensor_type for t in gguf.GGUFReader(out).tensors}
    assert types["blk.0.attn_q.weight"] == gguf.GGMLQuantizationType.Q8_0
    assert types["blk.0.attn_norm.weight"] == gguf.GGMLQuantizationType.F32
    assert agreement(llama_argmax(out, tiny.ids), tiny.argmax) >= 0.95


def make_lora_run(tiny: Tiny, base: Path, run: Path, **lora_kwargs) -> object:
    """Save a peft LoRA with non-zero random B on the tiny model as a run dir whose base.json names `base`."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(1)
    tiny_model = AutoModelForCausalLM.from_pretrained(tiny.path, dtype=torch.float32)
    model = get_peft_model(tiny_model, LoraConfig(target_modules=LORA_TARGETS, **lora_kwargs)).eval()
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(std=0.2)
    model.save_pretrained(run / "adapter")
    shutil.copytree(tiny.path, run / "tokenizer", ignore=shutil.ignore_patterns("*.safetensors", "config.json"))
    (run / "base.json").write_text(json.dumps({"base": str(base), "gguf_file": None}))
    return model


@pytest.mark.slow
def test_lora_adapter_applied_by_llama_cpp_equals_merged_export(tiny, f16_gguf, tmp_path):
    peft_model = make_lora_run(tiny, f16_gguf, tmp_path / "run", r=4, lora_alpha=8)
    adapter = export_model(str(tmp_path / "run"), str(tmp_path / "lora"), "lora")
    merged = export_model(str(tmp_path / "run"), str(tmp_path / "merged"), "f16")
    assert adapter.stat().st_size < merged.stat().st_size / 10

    with_lora = llama_argmax(f16_gguf, tiny.ids, lora_path=adapter)
    assert agreement(with_lora, llama_argmax(merged, tiny.ids)) >= 0.99
    assert agreement(with_lora, torch_argmax(peft_model, tiny.ids)) >= 0.95
    assert agreement(with_lora, tiny.argmax) < 0.5  # the adapter really changes the model

    modelfile = (tmp_path / "lora" / "Modelfile").read_text()
    assert f"FROM {f16_gguf.resolve()}" in modelfile
    assert "ADAPTER ./adapter-lora.gguf" in modelfile


@pytest.mark.slow
def test_lora_rslora_and_alpha_pattern_scaling_is_folded(tiny, f16_gguf, tmp_path):
    peft_model = make_lora_run(
        tiny, f16_gguf, tmp_path / "run", r=8, lora_alpha=4, use_rslora=True, alpha_pattern={"down_proj": 16}
    )
    adapter = export_model(str(tmp_path / "run"), str(tmp_path / "lora"), "lora")
    assert agreement(llama_argmax(f16_gguf, tiny.ids, lora_path=adapter), torch_argmax(peft_model, tiny.ids)) >= 0.95


@pytest.mark.slow
def test_lora_on_an_hf_base_exports_the_base_beside_it(tiny, tmp_path):
    peft_model = make_lora_run(tiny, tiny.path, tmp_path / "run", r=4, lora_alpha=8)
    adapter = export_model(str(tmp_path / "run"), str(tmp_path / "lora"), "lora")
    base = tmp_path / "lora" / "base-f16.gguf"
    assert agreement(llama_argmax(base, tiny.ids, lora_path=adapter), torch_argmax(peft_model, tiny.ids)) >= 0.95
    assert "FROM ./base-f16.gguf" in (tmp_path / "lora" / "Modelfile").read_text()


def test_missing_run_dir_names_the_path(tmp_path):
    with pytest.raises(ExportError, match="nope") as err:
        export_model(str(tmp_path / "nope"), str(tmp_path / "out"), "f16")
    assert "\n" not in str(err.value)


def test_run_without_weights_names_the_path(tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text("{}")
    with pytest.raises(ExportError, match=str(tmp_path)):
        export_model(str(tmp_path), str(tmp_path / "out"), "f16")


def test_unknown_outtype_is_rejected(tiny, tmp_path):
    with pytest.raises(ExportError, match="q3_x.*f16, bf16, q8_0, q4_k_m, lora"):
        export_model(str(tiny.path), str(tmp_path), "q3_x")


def test_lora_from_a_full_fine_tune_is_rejected(tiny, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny.path, run / "model")
    with pytest.raises(ExportError, match=f"{run}.*full fine-tune"):
        export_model(str(run), str(tmp_path / "out"), "lora")


@pytest.mark.slow
def test_q4_k_m_quantizes_with_llama_cpp_and_loads(tokenizer, tmp_path):
    import gguf
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(  # rows of 256 so that Q4_K applies (smaller rows fall back to Q5_0/Q8_0)
        vocab_size=len(tokenizer),
        hidden_size=256,
        intermediate_size=512,
        num_hidden_layers=1,
        num_attention_heads=4,
        num_key_value_heads=2,
        tie_word_embeddings=True,
    )
    LlamaForCausalLM(config).save_pretrained(tmp_path / "model")
    tokenizer.save_pretrained(tmp_path / "model")
    out = export_model(str(tmp_path / "model"), str(tmp_path / "out"), "q4_k_m")
    reader = gguf.GGUFReader(out)
    assert reader.fields["general.file_type"].contents() == 15  # LLAMA_FTYPE_MOSTLY_Q4_K_M
    assert gguf.GGMLQuantizationType.Q4_K in {t.tensor_type for t in reader.tensors}
    assert sorted(p.name for p in out.parent.iterdir()) == ["Modelfile", "model-q4_k_m.gguf"]
    ids = tokenizer("Hello there, how are you?")["input_ids"]
    (predicted,) = llama_argmax(out, [ids])
    assert len(predicted) == len(ids)


def test_modelfile_for_a_chatml_model(f16_gguf):
    text = (f16_gguf.parent / "Modelfile").read_text()
    assert text.startswith("FROM ./model-f16.gguf\n")
    assert "<|im_start|>{{ .Role }}" in text
    assert 'PARAMETER stop "<|im_end|>"' in text
    assert 'SYSTEM """You are a helpful AI assistant named SmolLM' in text


def test_modelfile_without_chatml_has_no_template(tmp_path):
    text = render_modelfile(tmp_path / "m.gguf", tmp_path, "{{ bos_token }}{{ messages }}")
    assert text.startswith("FROM ./m.gguf\n")
    assert "TEMPLATE" not in text


def test_a_gguf_that_is_no_lora_is_refused(tiny, f16_gguf, tmp_path):
    from finetune.lora_gguf import read_lora_gguf

    with pytest.raises(ExportError, match="not a GGUF LoRA"):
        read_lora_gguf(f16_gguf, tmp_path / "back", tiny.model)


def test_bf16_export_keeps_bf16_weights(tiny, tmp_path):
    import gguf

    out = export_model(str(tiny.path), str(tmp_path), "bf16")
    types = {t.name: t.tensor_type for t in gguf.GGUFReader(out).tensors}
    assert out.name == "model-bf16.gguf" and types["blk.0.attn_q.weight"] == gguf.GGMLQuantizationType.BF16
    assert agreement(llama_argmax(out, tiny.ids), tiny.argmax) >= 0.95


def fake_sdist(path: Path, version: str, names: list[str]) -> Path:
    """A tar.gz laid out like the llama-cpp-python sdist, holding empty files at ``vendor/llama.cpp/<name>``."""
    import io
    import tarfile

    with tarfile.open(path, "w:gz") as tar:
        for name in names:
            info = tarfile.TarInfo(f"llama_cpp_python-{version}/vendor/llama.cpp/{name}")
            tar.addfile(info, io.BytesIO(b""))
    return path


def test_converter_is_extracted_from_a_given_sdist_keeping_only_its_files(tmp_path, monkeypatch):
    from finetune.converter import CONVERTER_ENV, NEEDED, SDIST_ENV, ensure_converter, llama_cpp_version

    version = llama_cpp_version()
    names = [*NEEDED, "conversion/llama.py", "gguf-py/tests/test_x.py", "ggml/src/ggml.c", "README.md"]
    monkeypatch.setenv(SDIST_ENV, str(fake_sdist(tmp_path / "s.tar.gz", version, names)))
    monkeypatch.setenv(CONVERTER_ENV, str(tmp_path / "converter"))
    home = ensure_converter()
    assert home == tmp_path / "converter"
    kept = sorted(str(p.relative_to(home)) for p in home.rglob("*") if p.is_file())
    assert kept == sorted([*NEEDED, "conversion/llama.py"])
    assert ensure_converter() == home  # found, not fetched again

    monkeypatch.setenv(SDIST_ENV, str(fake_sdist(tmp_path / "bad.tar.gz", version, ["README.md"])))
    monkeypatch.setenv(CONVERTER_ENV, str(tmp_path / "other"))
    with pytest.raises(
        ExportError, match="not the llama-cpp-python .* sdist: no vendor/llama.cpp/convert_hf_to_gguf.py"
    ):
        ensure_converter()


def test_offline_export_says_what_to_run(tiny, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from agent.app.train_cli import export_cmd
    from finetune.converter import CONVERTER_ENV, SDIST_ENV, llama_cpp_version

    (tmp_path / "links").mkdir()
    monkeypatch.setenv(CONVERTER_ENV, str(tmp_path / "converter"))
    monkeypatch.delenv(SDIST_ENV, raising=False)
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # pip as it is offline: no index, no links to look in
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path / "links"))
    version = llama_cpp_version()
    with pytest.raises(ExportError) as err:
        export_model(str(tiny.path), str(tmp_path / "out"), "f16")
    message = str(err.value)
    assert (
        f"python -m pip download llama-cpp-python=={version} --no-binary llama-cpp-python --no-deps -d DIR" in message
    )
    assert f"{SDIST_ENV}=DIR/llama_cpp_python-{version}.tar.gz" in message
    assert str(tmp_path / "converter") in message and CONVERTER_ENV in message and "\n" not in message
    assert not (tmp_path / "out" / "model-f16.gguf").exists()
    cli = CliRunner().invoke(export_cmd, [str(tiny.path), "--out", str(tmp_path / "out")])
    assert cli.exit_code != 0 and "pip download" in cli.output and "Traceback" not in cli.output
