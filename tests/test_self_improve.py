"""The self-improvement recipe: sample with the runtime, keep the right trajectories (no training here)."""

import json

from examples.recipes import self_improve
from examples.recipes.tool_problems import HELD_OUT
from finetune.data import load_examples


def test_tool_questions_are_fresh_distinct_and_answered():
    rows = self_improve.tool_questions(40, seed=3)
    assert len(rows) == 40 and len({r["question"] for r in rows}) == 40
    assert not {r["question"] for r in rows} & set(HELD_OUT)
    assert all(r["answer"].strip() for r in rows)
    assert rows == self_improve.tool_questions(40, seed=3)  # seeded


def test_a_round_samples_with_the_runtime_and_keeps_only_right_distinct_trajectories(tmp_path):
    questions = tmp_path / "q.jsonl"
    questions.write_text(
        json.dumps({"question": "What is 6 * 7?", "answer": "42"})
        + "\n"
        + json.dumps({"question": "What is 2 + 2?", "answer": "4"})
        + "\n"
    )
    # the fake model cycles: a calculator call, then "42" (right for q1, wrong for q2), every sample alike
    replies = tmp_path / "replies.json"
    call = 'Thought: I multiply.\nAction: calculator\nAction Input: {"expression": "6*7"}\n'
    replies.write_text(json.dumps([call, "Thought: I know the answer.\nFinal Answer: 42\n"]))
    out = tmp_path / "round"
    argv = ["--model", f"fake:{replies}", "--questions", str(questions), "--samples", "2"]
    assert self_improve.main([*argv, "--out", str(out), "--no-train"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["trajectories"] == 4 and summary["correct_distinct"] == 1 and summary["usable"] == 1
    (example,) = load_examples(out / "kept.jsonl")
    from tools import load_tools

    assert example.problem == "What is 6 * 7?"
    assert example.tools == tuple(t.name for t in load_tools())  # the runtime's default tools, as sampled
    assert "Observation: 42" in example.completion and example.completion.endswith("Final Answer: 42\n")
