"""Distillation from a teacher behind an OpenAI-compatible URL: the teacher answers training questions as ReAct
trajectories, the gold answer keeps the right ones, and `agent finetune` trains a student on them.

The teacher is llama-cpp-python's own server on loopback, serving the shipped model; the student a tiny random
Llama (no download). This is the workflow README's "Distilling from a teacher" documents, command for command.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

pytestmark = pytest.mark.slow

QUESTIONS = [("What is 17 * 23?", 391), ("What is 125 + 376?", 501), ("What is 96 / 4?", 24), ("What is 38 * 11?", 418)]


def test_right_teacher_trajectories_train_the_student_and_its_loss_falls(smollm_gguf, tiny_model, tmp_path):
    pytest.importorskip("uvicorn", reason="llama-cpp-python[server] is not installed")
    pytest.importorskip("peft")
    from agent.app.evaluate.cli import eval_cmd
    from agent.app.train_cli import finetune_cmd
    from agent.core.backends.llama_server import LlamaServer
    from agent.core.embedded import default_adapter_path

    questions = tmp_path / "train.jsonl"
    questions.write_text("".join(json.dumps({"question": q, "answer": f"#### {a}"}) + "\n" for q, a in QUESTIONS))
    teacher_out = tmp_path / "teacher.jsonl"
    with LlamaServer(smollm_gguf, default_adapter_path(), n_ctx=2048, threads=1) as teacher:
        result = CliRunner().invoke(eval_cmd, ["gsm8k", "--data", str(questions), "--model", teacher.url,
                                               "--max-steps", "4", "--no-grammar", "--out", str(teacher_out),
                                               "--json"])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in teacher_out.read_text().splitlines()]
    right = [r for r in records if r["correct"]]
    assert len(records) == len(QUESTIONS) and right, "the teacher got none right"

    run = tmp_path / "student"
    args = ["--data", str(teacher_out), "--base", str(tiny_model), "--out", str(run), "--max-steps", "12",
            "--batch-size", "1", "--seq-len", "512", "--lr", "1e-2", "--dev-fraction", "0", "--json"]
    result = CliRunner().invoke(finetune_cmd, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    from finetune import load_examples

    examples = load_examples(teacher_out)
    assert [ex.problem for ex in examples] == [r["question"] for r in right]  # only the right ones are learned
    losses = summary["losses"]
    assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3 - 0.3, losses
