"""Training on a tiny random Llama (built from a config, the tokenizer from the embedded GGUF)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from finetune.batches import IGNORE, collate, encode, encode_all
from finetune.config import TrainConfig
from finetune.formats import gsm8k_react
from finetune.train import train

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("peft")
pytest.importorskip("accelerate")

ROOT = Path(__file__).resolve().parent.parent
ROWS = [
    {
        "question": "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. "
        "How many clips did Natalia sell altogether in April and May?",
        "answer": "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\n"
        "Natalia sold 48+24 = <<48+24=72>>72 clips altogether in April and May.\n#### 72",
    },
    {
        "question": "Weng earns $12 an hour for babysitting. Yesterday, she just did 50 minutes of babysitting. "
        "How much did she earn?",
        "answer": "Weng earns 12/60 = $<<12/60=0.2>>0.2 per minute.\n"
        "Working 50 minutes, she earned 0.2 x 50 = $<<0.2*50=10>>10.\n#### 10",
    },
    {
        "question": "A box holds 24 pens. How many pens are in 17 boxes?",
        "answer": "There are 24*17 = <<24*17=408>>408 pens.\n#### 408",
    },
    {
        "question": "Tom has 5 apples and eats 2. How many are left?",
        "answer": "Tom has 5-2 = <<5-2=3>>3 apples left.\n#### 3",
    },
]


SUMS = [
    {
        "problem": f"What is {a}+{b}?",
        "reasoning": f"I add {a} and {b}.",
        "answer": str(a + b),
        "system": "Answer briefly.",
    }
    for a, b in [(3, 4), (10, 5), (7, 8), (2, 9), (12, 30), (6, 6), (1, 1), (40, 2)]
]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One torch thread: on a shared 2-core machine two threads mostly wait for each other."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tokenizer(tiny_model):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tiny_model))


@pytest.fixture
def data(tmp_path) -> Path:
    """Short examples (a short system prompt): training steps on them take milliseconds."""
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in SUMS))
    return path


def config(tiny_model, data, out, **kw) -> TrainConfig:
    base = {
        "data": str(data),
        "out": str(out),
        "base": str(tiny_model),
        "batch_size": 2,
        "seq_len": 256,
        "dev_fraction": 0.0,
        "eval_generations": 0,
        "save_every": 0,
        "lr": 1e-2,
        "lora_dropout": 0.05,
    }
    return TrainConfig(**{**base, **kw})


def test_prompt_tokens_are_masked_and_answer_tokens_are_trained(tokenizer):
    ex = gsm8k_react(ROWS[0]["question"], ROWS[0]["answer"])
    enc = encode(ex, tokenizer, 4096)
    trained = [i for i, label in zip(enc.input_ids, enc.labels) if label != IGNORE]
    first = enc.labels.index(next(label for label in enc.labels if label != IGNORE))
    prompt = tokenizer.apply_chat_template(ex.prompt_messages(), tokenize=False, add_generation_prompt=True)
    assert tokenizer.decode(enc.input_ids[:first]) == prompt  # everything before the answer is masked
    assert all(label == IGNORE for label in enc.labels[:first])
    text = tokenizer.decode(trained)
    assert text.startswith("Thought: Natalia sold 48/2 = 24 clips in May.\nAction: calculator")
    assert text.endswith("Final Answer: 72\n<|im_end|>")  # the end-of-turn token is learnt
    assert "Observation: 24" not in text and "Observation:" in text  # the tool's result is not learnt
    assert all(label in (IGNORE, tid) for tid, label in zip(enc.input_ids, enc.labels))


def test_examples_cut_at_seq_len_are_flagged_and_warned_about(tokenizer, caplog):
    ex = gsm8k_react(ROWS[0]["question"], ROWS[0]["answer"])
    whole = encode(ex, tokenizer, 4096)
    assert not whole.cut
    first = whole.labels.index(next(label for label in whole.labels if label != IGNORE))
    cut = encode(ex, tokenizer, first + 5)  # five trained tokens fit, the final answer does not
    assert cut.cut and cut.n_train == 5 and len(cut.input_ids) == first + 5
    with caplog.at_level("WARNING"):
        assert len(encode_all([ex, ex], tokenizer, first + 5)) == 2
    assert "2 of 2 examples are longer than seq_len" in caplog.text


def test_encoding_in_worker_processes_gives_the_same_examples_in_order(tokenizer):
    examples = [gsm8k_react(r["question"], r["answer"]) for r in ROWS] * 3
    alone = encode_all(examples, tokenizer, 4096, workers=1)
    forked = encode_all(examples, tokenizer, 4096, workers=2)
    assert [(e.input_ids, e.labels) for e in forked] == [(e.input_ids, e.labels) for e in alone]


def test_packed_examples_give_the_same_logits_as_unpacked(tiny_model, tokenizer):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(tiny_model), dtype=torch.float32).eval()
    examples = [encode(gsm8k_react(r["question"], r["answer"]), tokenizer, 4096) for r in ROWS[:3]]
    packed = collate([examples], tokenizer.pad_token_id, packing=True)
    assert "attention_mask" not in packed
    with torch.no_grad():
        logits = model(input_ids=packed["input_ids"], position_ids=packed["position_ids"], use_cache=False).logits
        at = 0
        for e in examples:
            alone = model(input_ids=torch.tensor([e.input_ids]), use_cache=False).logits
            n = len(e.input_ids)
            assert torch.allclose(logits[0, at : at + n], alone[0], atol=1e-5)
            at += n
        padded = collate([[e] for e in examples], tokenizer.pad_token_id, packing=False)
    assert int((packed["targets"] != IGNORE).sum()) == int((padded["targets"] != IGNORE).sum())
    assert torch.equal(packed["targets"][packed["targets"] != IGNORE], padded["targets"][padded["targets"] != IGNORE])


def test_shared_prompt_prefix_runs_once_with_the_same_loss_and_gradients(tiny_model, tokenizer):
    from transformers import AutoModelForCausalLM

    from finetune.loss import TokenLoss

    model = AutoModelForCausalLM.from_pretrained(str(tiny_model), dtype=torch.float32)
    examples = [encode(gsm8k_react(r["question"], r["answer"]), tokenizer, 4096) for r in ROWS[:3]]
    batch = collate([[e] for e in examples], tokenizer.pad_token_id, packing=False)
    assert batch["prefix_len"] > 300  # the ReAct system prompt and "Question:" are shared
    tensors = {k: batch[k] for k in ("input_ids", "targets", "attention_mask")}
    results = []
    for prefix_len in (batch["prefix_len"], 0):
        model.zero_grad()
        loss = TokenLoss(model)(**tensors, prefix_len=prefix_len)
        loss.backward()
        results.append((loss.detach(), [p.grad.clone() for p in model.parameters()]))
    (shared, shared_grads), (plain, plain_grads) = results
    assert torch.allclose(shared, plain, rtol=1e-5)
    assert all(torch.allclose(a, b, atol=1e-4, rtol=1e-4) for a, b in zip(shared_grads, plain_grads))


def test_thirty_steps_lower_the_loss_and_write_the_run(tiny_model, data, tmp_path):
    result = train(config(tiny_model, data, tmp_path / "run", max_steps=30))
    assert len(result.losses) == 30 and result.steps == 30
    assert sum(result.losses[-5:]) / 5 < sum(result.losses[:5]) / 5 - 0.4
    out = tmp_path / "run"
    assert (out / "adapter" / "adapter_config.json").is_file() and (out / "tokenizer" / "tokenizer.json").is_file()
    assert json.loads((out / "base.json").read_text())["base"] == str(tiny_model)
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == list(range(1, 31)) and result.tokens_per_second > 0


def test_cpu_bf16_autocast_keeps_float32_weights_and_the_float32_loss_curve(tiny_model, data, tmp_path, monkeypatch):
    """On a CPU with bf16 matrix units, `--dtype auto` trains float32 weights under bf16 autocast (here forced on,
    so it runs on any CPU): near the float32 curve, float32 adapter out; an explicit float32 stays float32."""
    import torch
    from safetensors.torch import load_file

    from finetune.modeling import cpu_autocast, cpu_has_native_bf16

    monkeypatch.setenv("AGENT_CPU_BF16", "0")
    plain = train(config(tiny_model, data, tmp_path / "fp32", max_steps=8))
    monkeypatch.setenv("AGENT_CPU_BF16", "1")
    assert cpu_has_native_bf16() and cpu_autocast("auto", "cpu") and not cpu_autocast("float32", "cpu")
    assert not cpu_autocast("auto", "cuda")
    mixed = train(config(tiny_model, data, tmp_path / "bf16", max_steps=8))
    assert (plain.precision, mixed.precision) == ("float32", "bf16 autocast")
    assert mixed.losses != plain.losses  # the products really ran in bf16 ...
    assert mixed.losses == pytest.approx(plain.losses, rel=0.05)  # ... and trained the same way
    weights = load_file(tmp_path / "bf16" / "adapter" / "adapter_model.safetensors")
    assert weights and all(w.dtype == torch.float32 for w in weights.values())
    assert train(config(tiny_model, data, tmp_path / "f", max_steps=1, dtype="float32")).precision == "float32"


def test_packing_trains_too(tiny_model, data, tmp_path):
    result = train(config(tiny_model, data, tmp_path / "run", max_steps=6, packing=True))
    assert result.steps == 6 and result.losses[-1] < result.losses[0]


def test_interrupted_run_resumes_to_the_uninterrupted_loss_curve(tiny_model, data, tmp_path):
    full = train(config(tiny_model, data, tmp_path / "a", max_steps=10))
    cut = train(config(tiny_model, data, tmp_path / "b", max_steps=10, save_every=5, stop_after=5))
    assert not cut.finished and cut.steps == 5 and not (tmp_path / "b" / "adapter").exists()
    assert (tmp_path / "b" / "checkpoints" / "step-5" / "weights.pt").is_file()
    partial = tmp_path / "b" / "checkpoints" / ".tmp-step-8-999"  # what a kill in the middle of a save leaves
    partial.mkdir()
    (partial / "weights.pt").write_bytes(b"torn")
    resumed = train(config(tiny_model, data, tmp_path / "b", max_steps=10, save_every=5, resume=True))
    assert resumed.resumed_from == 5 and resumed.steps == 10 and not partial.exists()
    assert resumed.losses == pytest.approx(full.losses, abs=1e-6)
    log = [json.loads(line)["step"] for line in (tmp_path / "b" / "train_log.jsonl").read_text().splitlines()]
    assert log == list(range(1, 11))


def test_resume_with_changed_settings_is_refused(tiny_model, data, tmp_path):
    train(config(tiny_model, data, tmp_path / "b", max_steps=4, save_every=2, stop_after=2))
    with pytest.raises(ValueError, match="batch_size changed"):
        train(config(tiny_model, data, tmp_path / "b", max_steps=4, save_every=2, resume=True, batch_size=1))


def test_full_fine_tune_with_dev_eval_saves_a_model(tiny_model, data, tmp_path):
    result = train(
        config(
            tiny_model, data, tmp_path / "run", max_steps=3, full=True, lr=1e-3, dev_fraction=0.25, eval_generations=1
        )
    )
    assert result.model and (Path(result.model) / "config.json").is_file() and result.adapter is None
    assert result.dev_examples == 2 and result.dev_loss is not None and result.dev_accuracy in (0.0, 1.0)


def test_merge_adapter_gives_the_trained_model(tiny_model, data, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from finetune import merge_adapter

    train(config(tiny_model, data, tmp_path / "run", max_steps=3))
    merged_dir = merge_adapter(tmp_path / "run")
    merged = AutoModelForCausalLM.from_pretrained(str(merged_dir)).eval()
    base = AutoModelForCausalLM.from_pretrained(str(tiny_model))
    peft_model = PeftModel.from_pretrained(base, str(tmp_path / "run" / "adapter")).eval()
    ids = torch.tensor([[1, 2, 3, 4, 5]])
    with torch.no_grad():
        assert torch.allclose(merged(ids).logits, peft_model(ids).logits, atol=1e-5)
        assert not torch.allclose(merged(ids).logits, AutoModelForCausalLM.from_pretrained(str(tiny_model))(ids).logits)


def test_cli_json_summary_is_the_last_line(tiny_model, data, tmp_path):
    from agent.app.train_cli import finetune_cmd

    args = [
        "--data",
        str(data),
        "--out",
        str(tmp_path / "run"),
        "--base",
        str(tiny_model),
        "--max-steps",
        "2",
        "--batch-size",
        "2",
        "--seq-len",
        "256",
        "--dev-fraction",
        "0",
        "--json",
    ]
    res = CliRunner().invoke(finetune_cmd, args)
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout.strip().splitlines()[-1])  # stdout only: the progress bar is on stderr
    assert len(summary["losses"]) == 2 and summary["steps"] == 2 and summary["tokens_per_second"] > 0
    assert summary["adapter"] == str(tmp_path / "run" / "adapter") and summary["out"] == str(tmp_path / "run")


def test_cli_user_errors_are_one_line_without_traceback(tmp_path):
    from agent.app.train_cli import finetune_cmd

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "a", "answer": "b #### 1"}\n{"question": "c", "answer": "d #### 2"}\n{not json\n')
    res = CliRunner().invoke(finetune_cmd, ["--data", str(bad), "--out", str(tmp_path / "o"), "--max-steps", "1"])
    assert res.exit_code == 1 and "bad.jsonl:3" in res.output and "Traceback" not in res.output
    res = CliRunner().invoke(
        finetune_cmd, ["--data", str(bad), "--out", str(tmp_path / "o"), "--full", "--lora-r", "8"]
    )
    assert res.exit_code == 2 and "exclude each other" in res.output


def test_module_import_does_not_import_torch():
    code = "import sys, finetune, agent.app.train_cli; print(any(m.split('.')[0] == 'torch' for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "False"


CLI = "from agent.app.train_cli import finetune_cmd; finetune_cmd()"


@pytest.mark.slow
def test_sigkilled_run_resumes_to_the_same_losses(tiny_model, data, tmp_path):
    out = tmp_path / "killed"
    args = [
        "--data",
        str(data),
        "--out",
        str(out),
        "--base",
        str(tiny_model),
        "--max-steps",
        "60",
        "--batch-size",
        "2",
        "--seq-len",
        "256",
        "--lr",
        "1e-2",
        "--dev-fraction",
        "0",
        "--save-every",
        "3",
        "--json",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-c", CLI, *args], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
    )
    deadline = time.time() + 300
    while not (out / "checkpoints" / "step-3").is_dir() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL and not (out / "adapter").exists()  # killed mid-run
    done = subprocess.run(
        [sys.executable, "-c", CLI, *args, "--resume"], cwd=ROOT, capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    resumed = json.loads(done.stdout.strip().splitlines()[-1])
    assert resumed["resumed_from"] >= 3 and resumed["steps"] == 60
    full = train(config(tiny_model, data, tmp_path / "full", max_steps=60, save_every=3, lora_dropout=0.0))
    assert resumed["losses"] == pytest.approx(full.losses, abs=1e-6)


@pytest.mark.slow
def test_embedded_gguf_base_is_a_plain_dense_model_that_saves(smollm_gguf, tmp_path):
    from transformers import AutoModelForCausalLM

    from finetune.modeling import load_base_model

    model = load_base_model(str(smollm_gguf), torch.float32)
    assert isinstance(model.get_output_embeddings(), torch.nn.Linear) and not model.is_quantized
    model.save_pretrained(tmp_path / "m")  # transformers refuses to save a model still marked as GGUF-quantized
    again = AutoModelForCausalLM.from_pretrained(str(tmp_path / "m"))
    ids = torch.tensor([[1, 2, 3, 4]])
    with torch.no_grad():
        assert torch.allclose(model(ids).logits, again(ids).logits, atol=1e-5)


def test_raw_prompt_completion_trains_on_the_completion_after_the_exact_prompt(tokenizer, tmp_path):
    from finetune.data import load_examples

    prompt = "Evaluate if given numbers can reach 24 (sure/likely/impossible)\n10 14: sure\n4 6 13:"
    path = tmp_path / "raw.jsonl"
    path.write_text(json.dumps({"prompt": prompt, "completion": " impossible"}) + "\n")
    (ex,) = load_examples(path)
    enc = encode(ex, tokenizer, 512)
    first = next(k for k, label in enumerate(enc.labels) if label != IGNORE)
    assert tokenizer.decode(enc.input_ids[:first]) == prompt  # no chat template around it
    assert tokenizer.decode([t for t in enc.labels if t != IGNORE]) == " impossible" + tokenizer.eos_token


def test_grouped_batches_hold_one_prompt_template_each(tokenizer):
    from finetune.batches import plan_epoch, prompt_group
    from finetune.data import Example

    shots = "".join(f"{a} {a + 3}: sure\n" for a in range(1, 13))  # a few-shot block longer than the group key
    templates = ["Propose next steps\n" + shots, "Evaluate if numbers reach 24\n" + shots]
    examples = [
        encode(
            Example(problem="", reasoning="", answer="", raw_prompt=t + f"{i} {i}:", completion=" sure"), tokenizer, 256
        )
        for i in range(10)
        for t in templates
    ]
    groups = [prompt_group(e) for e in examples]
    assert len(set(groups)) == 2
    plan = plan_epoch([len(e.input_ids) for e in examples], 0, 0, 4, False, 256, groups)
    assert sorted(i for batch in plan for row in batch for i in row) == list(range(20))  # each once
    assert all(len({groups[row[0]] for row in batch}) == 1 for batch in plan)
    batch = collate([[examples[row[0]]] for row in plan[0]], tokenizer.pad_token_id, packing=False)
    assert batch["prefix_len"] >= 8  # the template runs once for the batch
    # short prompts that differ within the group key: pooled into full batches, by length
    short = [
        encode(Example(problem="", reasoning="", answer="", raw_prompt=p, completion=" sure"), tokenizer, 256)
        for p in ["1 2:", "3 4 5 6 7 8:", "9 9:", "5 5 5 5 5 5:", "7 8:", "2 2:", "10 11 12 13 14:"]
    ]
    groups = [prompt_group(e) for e in short]
    assert len(set(groups)) == len(short)
    lengths = [len(e.input_ids) for e in short]
    plan = plan_epoch(lengths, 0, 0, 4, False, 256, groups)
    assert sorted(len(b) for b in plan) == [3, 4]  # not seven batches of one
    first = max(plan, key=len)
    assert max(lengths[row[0]] for row in first) <= sorted(lengths)[3]  # the four shortest together


def test_init_adapter_goes_on_from_a_trained_adapter(tiny_model, data, tmp_path):
    first = train(config(tiny_model, data, tmp_path / "a", max_steps=20))
    again = train(config(tiny_model, data, tmp_path / "b", max_steps=2, init_adapter=first.adapter, lr=1e-6))
    assert again.losses[0] < first.losses[0] - 0.4  # starts where the first run ended, not from scratch
    assert json.loads((tmp_path / "b" / "base.json").read_text())["lora_r"] == 16
    with pytest.raises(FileNotFoundError, match="adapter_config.json"):
        train(config(tiny_model, data, tmp_path / "c", max_steps=1, init_adapter=str(tmp_path)))


def test_init_adapter_goes_on_from_a_gguf_lora(tiny_model, data, tmp_path, llama_converter):
    from finetune.export import export_model

    first = train(config(tiny_model, data, tmp_path / "a", max_steps=20))
    lora = export_model(str(tmp_path / "a"), str(tmp_path / "gguf"), "lora")
    again = train(config(tiny_model, data, tmp_path / "b", max_steps=2, init_adapter=str(lora), lr=1e-6))
    assert again.losses[0] < first.losses[0] - 0.4  # the shipped-style GGUF adapter is where it goes on from
    assert abs(again.losses[0] - first.losses[-1]) < 0.5
    assert (tmp_path / "b" / "init-adapter" / "adapter_config.json").is_file()


def test_max_seconds_stops_and_saves_the_run(tiny_model, data, tmp_path):
    result = train(config(tiny_model, data, tmp_path / "t", max_steps=10_000, max_seconds=1.0))
    assert result.out_of_time and result.finished
    assert 0 < result.steps < 10_000
    assert (Path(result.adapter) / "adapter_config.json").is_file()


def test_a_checkpoint_exports_as_the_run_it_would_finish_as(tiny_model, data, tmp_path, llama_converter):
    from safetensors.torch import load_file

    from agent.app.train_cli import export_cmd
    from finetune.checkpoint import snapshot_run

    done = train(config(tiny_model, data, tmp_path / "run", max_steps=3, save_every=3))
    snap = snapshot_run(tmp_path / "run", tmp_path / "snap", step=3)
    final, snapped = (load_file(Path(d) / "adapter_model.safetensors") for d in (done.adapter, snap / "adapter"))
    assert final.keys() == snapped.keys() and all(torch.equal(final[k], snapped[k]) for k in final)
    assert json.loads((snap / "base.json").read_text()) == json.loads((tmp_path / "run" / "base.json").read_text())
    with pytest.raises(ValueError, match="no checkpoint of step 7"):
        snapshot_run(tmp_path / "run", tmp_path / "x", step=7)
    train(config(tiny_model, data, tmp_path / "cut", max_steps=4, save_every=2, stop_after=2))  # training not over
    cli = CliRunner().invoke(
        export_cmd,
        [str(tmp_path / "cut"), "--checkpoint", "latest", "--outtype", "lora", "--out", str(tmp_path / "a.gguf")],
    )
    assert cli.exit_code == 0, cli.output
    assert (tmp_path / "a.gguf").stat().st_size > 0
    bad = CliRunner().invoke(export_cmd, [str(tmp_path / "cut"), "--checkpoint", "last", "--out", str(tmp_path / "b")])
    assert bad.exit_code != 0 and "a step number or 'latest'" in bad.output


def test_shipped_recipe_runs_its_judge_stage_on_the_first_stages_adapter(tiny_model, data, tmp_path, monkeypatch):
    import sys

    from safetensors.torch import load_file

    from examples.recipes import shipped

    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "sums.jsonl").write_text(data.read_text())
    judge = [
        {"prompt": f"Evaluate if given numbers can reach 24\n{a} {b}:", "completion": " impossible"}
        for a, b in [(1, 2), (3, 4), (5, 6)]
    ]
    (data_dir / shipped.JUDGE_DATA).write_text("".join(json.dumps(r) + "\n" for r in judge * 4))
    monkeypatch.setattr(shipped, "MIX", {"sums.jsonl": None})
    monkeypatch.setattr(shipped, "REPEAT", {})
    args = ["shipped", "--data-dir", str(data_dir), "--out", str(tmp_path / "run"), "--base", str(tiny_model)]
    args += ["--steps", "2", "--batch-size", "2", "--lora-r", "4", "--judge-epochs", "2", "--judge-batch-size", "4"]
    monkeypatch.setattr(sys, "argv", [*args, "--copy-to", str(tmp_path / "copy")])
    shipped.main()
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    n_mix = len((tmp_path / "run" / "mix.jsonl").read_text().splitlines())
    assert summary["steps"] == 2 and summary["judge"]["examples"] == 12 + n_mix  # judge prompts + all replayed
    first = load_file(str(tmp_path / "run" / "main" / "adapter" / "adapter_model.safetensors"))
    final = load_file(str(tmp_path / "run" / "judge" / "adapter" / "adapter_model.safetensors"))
    assert first.keys() == final.keys() and any(not torch.equal(first[k], final[k]) for k in first)
    copied = b"".join(p.read_bytes() for p in sorted((tmp_path / "copy").glob("adapter.part*")))
    assert json.loads((tmp_path / "copy" / "summary.json").read_text())["judge"] == summary["judge"] and copied


def test_gpu_probe_times_grouped_and_packed_rows(tiny_model, data, capsys, monkeypatch):
    import sys

    from examples.recipes import gpu_probe

    args = ["gpu_probe", "--data", str(data), "--base", str(tiny_model), "--batch-sizes", "2", "--steps", "1"]
    monkeypatch.setattr(sys, "argv", [*args, "--seq-len", "128", "--packing"])
    gpu_probe.main()
    table = [line.split("|")[1:-1] for line in capsys.readouterr().out.splitlines() if line.startswith("| 2 ")]
    assert [row[1].strip() for row in table] == ["no", "yes"]
    assert all(float(row[3]) > 0 for row in table)  # tokens/s measured for both layouts
