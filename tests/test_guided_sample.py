"""Guided self-improvement traces: each step the model's own, checked against the gold program."""

from __future__ import annotations

import json
from pathlib import Path

from agent.backends.fake import ScriptedModel
from agent.react import ReActAgent
from finetune.recipes.gsm8k_programs import parse_solution
from finetune.recipes.guided_sample import guided_trace, main
from tools.base import load_tools

ROW = {
    "question": "Tom has 3 bags of 4 apples and eats 2. How many apples are left?",
    "answer": "He had 3*4=<<3*4=12>>12 apples.\nHe has 12-2=<<12-2=10>>10 left.\n#### 10",
}


def step(expr: str) -> str:
    return f'Thought: compute {expr}\nAction: calculator\nAction Input: {{"expression": "{expr}"}}\n'


def by_depth(script: dict[int, list[str]]):
    """A model whose n candidates depend on how many Observations the prompt holds."""

    def reply(prompt: str) -> str:
        depth = prompt.rsplit("Question:", 1)[-1].count("Observation:")
        options = script[depth]
        reply.i[depth] = reply.i.get(depth, -1) + 1
        return options[reply.i[depth] % len(options)]

    reply.i = {}
    return reply


def agent_for(script: dict[int, list[str]]) -> ReActAgent:
    return ReActAgent(ScriptedModel(by_depth(script)), load_tools(["calculator", "python"]))


def test_keeps_the_right_candidate_the_model_drew_most():
    sol = parse_solution(ROW)
    agent = agent_for(
        {
            0: [step("3+4"), step("3*4"), step("4*3"), step("3*4")],  # 7 is wrong; 12 drawn three times
            1: [step("12+2"), step("12-2")],
            2: ["Thought: done\nFinal Answer: 14\n", "Thought: done\nFinal Answer: 10\n"],
        }
    )
    g = guided_trace(agent, sol, k=4, temperature=0.8, seed=0)
    assert g.trace is not None and g.trace.answer == "10"
    assert [s.observation for s in g.trace.steps[:2]] == ["12", "10"]
    assert g.trace.steps[0].action.args == {"expression": "3*4"}  # the first drawn of the most drawn result
    assert g.kept_per_step == [2, 1, 1]  # distinct candidates: 3*4 and 4*3 at the first step
    assert g.gold_steps == 0


def test_a_step_with_no_right_candidate_drops_the_question_or_takes_the_reference():
    sol = parse_solution(ROW)
    script = {0: [step("3+4")], 1: [step("12-2")], 2: ["Thought: done\nFinal Answer: 10\n"]}
    dropped = guided_trace(agent_for(script), sol, k=2, temperature=0.8, seed=0)
    assert dropped.trace is None and dropped.why.startswith("step 1")
    g = guided_trace(agent_for(script), sol, k=2, temperature=0.8, seed=0, fallback=True)
    assert g.gold_steps == 1 and g.trace.answer == "10"
    assert g.trace.steps[0].action.args == {"expression": "3*4"} and g.trace.steps[0].observation == "12"


def test_stops_once_the_gold_answer_is_reached(tmp_path: Path, monkeypatch):
    # the model goes on computing after reaching 10: the trace ends with the runtime's final step instead
    script = {0: [step("3*4")], 1: [step("12-2")], 2: [step("10*2")]}
    sol = parse_solution(ROW)
    g = guided_trace(agent_for(script), sol, k=2, temperature=0.8, seed=0)
    assert g.trace.steps[-1].thought == "I know the answer." and g.trace.answer == "10"

    data = tmp_path / "q.jsonl"
    data.write_text(json.dumps(ROW) + "\n")
    monkeypatch.setattr("agent.model.load_model", lambda spec: ScriptedModel(by_depth(script)))
    out = tmp_path / "traces.jsonl"
    assert main(["--questions", str(data), "--k", "2", "--out", str(out)]) == 0
    assert main(["--questions", str(data), "--k", "2", "--out", str(out)]) == 0  # a rerun skips what is done
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 1 and rows[0]["answer"] == "10" and rows[0]["gold"] == "10"
