"""Round trips on tiny random models of five families, through llama.cpp's own converters.

For each of llama, qwen2 (biases on q/k/v), qwen3, gemma3 (text-only) and phi3: fine-tune a LoRA two steps
with :func:`finetune.train`, export the merged model as f16 and the adapter as a GGUF LoRA (on the f16 base
converted beside it), and check that llama.cpp's greedy next tokens, teacher-forced over a few prompts, are
torch's at 99 % of the positions or more. Nothing is downloaded (tests/tiny_families.py).
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from tiny_families import FAMILIES, build_tiny, family_tokenizer, llama_logits, torch_logits

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("peft")
pytestmark = pytest.mark.slow

TEXTS = (
    "Question: Natalia sold clips to 48 of her friends in April, and then half as many in May.",
    "Action: calculator[(48 / 2) + 48]\nObservation: 72\nFinal Answer: 72",
    "The quick brown fox jumps over the lazy dog while the cat watches.",
)
ROWS = [
    {"problem": f"What is {a}+{b}?", "reasoning": f"I add {a} and {b}.", "answer": str(a + b), "system": "Be brief."}
    for a, b in [(3, 4), (10, 5), (7, 8), (2, 9)]
]
AGENT = [sys.executable, "-m", "agent.app.cli"]
MARGIN = 1e-2  # positions whose torch top-2 logits are closer than this are ties that 16-bit weights may flip


@dataclass
class Trained:
    """A tiny base, the run fine-tuned on it, the prompts' token ids and torch's logits for both models."""

    family: str
    base: Path
    run: Path
    base_model: object
    ids: list[list[int]]
    base_logits: list[np.ndarray]
    tuned_logits: list[np.ndarray]


def greedy_agreement(got: list[np.ndarray], want: list[np.ndarray]) -> float:
    """Share of positions (clear of ties in ``want``) where the argmax of ``got`` is that of ``want``."""
    got_all, want_all = np.concatenate(got), np.concatenate(want)
    top2 = np.sort(want_all, axis=-1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] >= MARGIN
    assert clear.mean() > 0.9, f"only {clear.sum()} of {len(clear)} positions are clear of ties"
    return float(np.mean(got_all[clear].argmax(-1) == want_all[clear].argmax(-1)))


def mean_gap(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    return float(np.mean(np.abs(np.concatenate(a) - np.concatenate(b))))


def fine_tune(name: str, smollm2_tokenizer, converter: Path, root: Path) -> Trained:
    """Build the tiny ``name`` model in ``root``, fine-tune a LoRA on it for two steps, and take torch's logits."""
    from peft import PeftModel

    from finetune.config import TrainConfig
    from finetune.train import train

    family = FAMILIES[name]
    tokenizer = family_tokenizer(family, smollm2_tokenizer, converter)
    base_model = build_tiny(family, tokenizer, root / "base")
    data = root / "train.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    config = TrainConfig(
        data=str(data), out=str(root / "run"), base=str(root / "base"), max_steps=2, batch_size=2, seq_len=256,
        lr=5e-2, lora_dropout=0.0, dev_fraction=0.0, eval_generations=0, save_every=0,
    )  # fmt: skip
    result = train(config)
    messages = [{"role": "user", "content": "What is 3+4?"}]
    chat = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    ids = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in (*TEXTS, chat)]
    tuned = PeftModel.from_pretrained(copy.deepcopy(base_model), result.adapter).eval()
    base_logits, tuned_logits = torch_logits(base_model, ids), torch_logits(tuned, ids)
    return Trained(name, root / "base", root / "run", base_model, ids, base_logits, tuned_logits)


@pytest.fixture(scope="module")
def fine_tuned(smollm2_tokenizer, llama_converter, tmp_path_factory):
    """``fine_tuned(name)``: that family's run, made once for this module's tests."""
    done: dict[str, Trained] = {}

    def get(name: str) -> Trained:
        if name not in done:
            done[name] = fine_tune(name, smollm2_tokenizer, llama_converter, tmp_path_factory.mktemp(name))
        return done[name]

    return get


@pytest.fixture(scope="module", params=list(FAMILIES))
def trained(request, fine_tuned) -> Trained:
    return fine_tuned(request.param)


@pytest.fixture(scope="module")
def f16_export(fine_tuned, tmp_path_factory):
    """``f16_export(name)``: the f16 GGUF of that family's run; Qwen2's through the `agent export` command
    (which raised for every family but llama before the converters), the others through ``export_model``."""
    from finetune.export import export_model

    done: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in done:
            run, out = fine_tuned(name).run, tmp_path_factory.mktemp(f"{name}-f16") / f"{name}-tiny.gguf"
            if name == "qwen2":
                command = [*AGENT, "export", str(run), "--out", str(out)]
                export = subprocess.run(command, capture_output=True, text=True, check=False)
                assert export.returncode == 0, export.stderr[-2000:]
            else:
                export_model(str(run), str(out), "f16")
            done[name] = out
        return done[name]

    return get


def test_the_fine_tune_changed_the_model(trained):
    assert mean_gap(trained.tuned_logits, trained.base_logits) > 0.02


def test_f16_export_predicts_the_fine_tuned_models_next_tokens(trained, f16_export):
    got = llama_logits(f16_export(trained.family), trained.ids)
    assert greedy_agreement(got, trained.tuned_logits) >= 0.99
    assert mean_gap(got, trained.tuned_logits) < mean_gap(trained.tuned_logits, trained.base_logits) / 2


def test_lora_export_on_the_f16_base_predicts_the_fine_tuned_models_next_tokens(trained, tmp_path):
    from finetune.export import export_model
    from finetune.lora_gguf import read_lora_gguf

    adapter = export_model(str(trained.run), str(tmp_path), "lora")
    base = tmp_path / "base-f16.gguf"
    assert greedy_agreement(llama_logits(base, trained.ids), trained.base_logits) >= 0.99
    got = llama_logits(base, trained.ids, lora_path=adapter)
    assert greedy_agreement(got, trained.tuned_logits) >= 0.99
    assert mean_gap(got, trained.tuned_logits) < mean_gap(trained.tuned_logits, trained.base_logits) / 2

    from safetensors.torch import load_file

    back = read_lora_gguf(adapter, tmp_path / "back", trained.base_model)  # --init-adapter X.gguf goes on from it
    original = load_file(trained.run / "adapter" / "adapter_model.safetensors")
    read = load_file(back / "adapter_model.safetensors")
    assert set(read) == set(original)
    for name, tensor in original.items():
        torch.testing.assert_close(read[name], tensor.float(), atol=2e-3, rtol=2e-3)
    config = json.loads((back / "adapter_config.json").read_text())
    trained_config = json.loads((trained.run / "adapter" / "adapter_config.json").read_text())
    assert (config["r"], config["lora_alpha"]) == (trained_config["r"], trained_config["lora_alpha"])
    assert set(config["target_modules"]) == {name.split(".")[-1] for name in trained_config["target_modules"]}


def test_agent_export_of_a_fine_tuned_qwen2_runs_under_agent_solve(f16_export):
    """What `agent export` wrote for the fine-tuned Qwen2 (checked against torch above) answers `agent solve`."""
    gguf = f16_export("qwen2")
    assert (gguf.parent / "Modelfile").read_text().startswith(f"FROM ./{gguf.name}")
    solve = subprocess.run(
        [*AGENT, "solve", "--model", str(gguf), "--max-steps", "1", "--json", "What is 17 * 23?"],
        check=False,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert solve.returncode == 0 and "Traceback" not in solve.stderr, solve.stderr[-2000:]
    record = json.loads(solve.stdout)
    assert record["question"] == "What is 17 * 23?" and record["model"] == gguf.name and len(record["steps"]) == 1
