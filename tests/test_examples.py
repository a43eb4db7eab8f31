"""The runnable examples work end to end (with a scripted model standing in for the LLM)."""

import json
import sys
from pathlib import Path

from agent.core.backends.fake import ScriptedModel

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def step(tool, args):
    return f"Thought: use {tool}\nAction: {tool}\nAction Input: {json.dumps(args)}\n"


def test_math_agent_uses_the_calculator():
    from examples import math_agent

    model = ScriptedModel([step("calculator", {"expression": "4817 * 296"}), "Thought: done\nFinal Answer: 1425832\n"])
    assert math_agent.main("crates?", model=model) == "1425832"
    assert "Observation: 1425832" in model.prompts[1]


def test_data_question_runs_python():
    from examples import data_question

    code = "rows=[120,95,143,160,151,98]\nprint(max(rows), sum(rows)/len(rows))"
    model = ScriptedModel([step("python", {"code": code}), "Thought: ok\nFinal Answer: Apr, 127.83\n"])
    assert data_question.main(model=model) == "Apr, 127.83"
    assert "160 127.8" in model.prompts[1]


def test_notes_qa_retrieves_from_the_folder(tmp_path):
    from examples import notes_qa

    (tmp_path / "ops.md").write_text("# Staging\nThe staging server listens on port 8443.\n")
    model = ScriptedModel([step("retrieve", {"query": "staging port"}), "Thought: ok\nFinal Answer: 8443\n"])
    assert notes_qa.main("port?", model=model, notes=tmp_path) == "8443"
    assert "8443" in model.prompts[1]


def test_custom_tool_schema_and_run():
    from examples import custom_tool

    assert custom_tool.days_between.parameters["required"] == ["start", "end"]
    model = ScriptedModel(
        [step("days_between", {"start": "2024-02-10", "end": "2024-03-01"}), "Thought: ok\nFinal Answer: 20\n"]
    )
    assert custom_tool.main(model=model) == "20"
    assert "Observation: 20" in model.prompts[1]
