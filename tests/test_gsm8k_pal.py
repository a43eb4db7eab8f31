"""GSM8K solutions as one python program each: names, comments, the printed answer, what is dropped."""

from __future__ import annotations

from collections import Counter

import pytest

from agent.steps import Trajectory
from finetune.recipes.gsm8k_pal import MAX_COMMENT_CHARS, PROGRAM_THOUGHT, pal_trace, program_code, run_program
from finetune.recipes.gsm8k_programs import gsm8k_react
from finetune.recipes.traces import run_tool
from tests.test_recipe_data import BETTY, NATALIA, WENG


def _code(rec):
    (step, final) = rec["steps"]
    assert step["action"]["tool"] == "python" and final["answer"] == rec["answer"]
    return step["action"]["args"]["code"], step["observation"]


def test_a_two_step_solution_becomes_a_program_that_names_its_results_and_prints_the_answer():
    traces, _, _ = gsm8k_react([NATALIA])
    rec = pal_trace(traces[0])
    code, observation = _code(rec)
    assert code == (
        "# Natalia sold clips in May.\n"
        "clips = 48 / 2\n"
        "# Natalia sold clips altogether in April and May.\n"
        "answer = 48 + clips\n"
        "print(answer)"
    )
    assert observation == "72.0" and rec["answer"] == "72" and rec["gold"] == "72"
    assert rec["steps"][0]["thought"] == PROGRAM_THOUGHT
    text = Trajectory.from_dict(rec).render()
    assert 'Action: python\nAction Input: {"code": "# Natalia sold clips in May.\\nclips = 48 / 2\\n' in text
    assert text.endswith("Observation: 72.0\nThought: I know the answer.\nFinal Answer: 72\n")


def test_the_program_prints_what_the_sandboxed_python_tool_prints():
    traces, _, _ = gsm8k_react([NATALIA, BETTY, WENG])
    for rec in map(pal_trace, traces):
        code, observation = _code(rec)
        assert run_tool("python", {"code": code}) == observation
        assert all(len(line) <= 2 + MAX_COMMENT_CHARS for line in code.splitlines() if line.startswith("#"))


def test_results_are_named_numbers_written_in_the_question_stay_literal_and_x_is_a_product():
    traces, _, _ = gsm8k_react([BETTY, WENG])
    betty, _ = _code(pal_trace(traces[0]))
    assert "x1 = 100 / 2\n" in betty and "answer = 100 - x1 - x2 - 15\n" in betty  # 15: the question's, not a name
    weng, _ = _code(pal_trace(traces[1]))
    assert (
        weng
        == "# Weng earns per minute.\nminute = 12 / 60\n# Working 50 minutes, she earned.\nanswer = minute * 50\nprint(answer)"
    )
    assert "0.2" not in weng  # the first result is named, never copied (the annotation wrote "0.2 x 50")


def test_steps_after_the_gold_answer_are_dropped_and_traces_that_never_reach_it_are_refused():
    traces, _, _ = gsm8k_react([NATALIA])
    rec = dict(traces[0])
    extra = {**rec["steps"][1], "thought": "Then 72*2 more.", "observation": "144"}
    extra["action"] = {"tool": "calculator", "args": {"expression": "72*2"}}
    rec["steps"] = [rec["steps"][0], rec["steps"][1], extra, rec["steps"][2]]
    code, _ = _code(pal_trace(rec))
    assert "72" not in code and code.endswith("answer = 48 + clips\nprint(answer)")
    why = Counter()
    assert pal_trace({**rec, "gold": "73", "answer": "73"}, why) is None
    assert why == {"no step computes the answer": 1}


def test_program_code_refuses_what_is_not_arithmetic():
    with pytest.raises(ValueError):
        program_code("q", [("t", "sqrt(4)")])
    assert run_program("a = 3 * 4\nprint(a)") == "12"
