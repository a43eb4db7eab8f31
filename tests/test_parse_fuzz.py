"""Property tests: the step parser and the ReAct loop never raise on model text, whatever it is."""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.core.backends.fake import ScriptedModel
from agent.core.parse import Parsed, parse_step
from agent.core.react import ReActAgent, ReActConfig
from agent.core.steps import StepError
from tools import ToolError, load_tools, tool

FUZZ = settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LOOP = settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SHAPED = settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])  # narrower inputs
FIRST_ARGS = {"calculator": "expression", "echo": "text", "boom": "x"}
STEP_ERRORS = {"parse", "unknown_tool", "bad_args", "tool_error", "repeat"}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
KEYWORDS = ["Thought:", "Action:", "Action Input:", "Final Answer:", "Observation:", "Question:"]
PIECES = [" ", "\n", "\r\n", "\t", "\u2028", "\x1c", "```", "```json", "{", "}", '"', "`", ":", "calculator", "echo",
          "boom", "2 + 2", "42", " the answer is", '{"expression": "6*7"}', '{"text": "hi"}']  # fmt: skip
fragment = st.one_of(
    st.sampled_from(KEYWORDS),
    st.sampled_from(PIECES),
    json_values.map(json.dumps),
    st.text(max_size=12),
)
react_text = st.lists(fragment, max_size=40).map("".join)
any_text = st.one_of(st.text(), react_text)


def check_parsed(parsed: Parsed) -> None:
    assert isinstance(parsed, Parsed)
    assert isinstance(parsed.thought, str)
    assert parsed.error is None or (isinstance(parsed.error, StepError) and parsed.error.type == "parse")
    assert parsed.error is not None or parsed.action is not None or parsed.answer is not None
    if parsed.action is not None:
        assert isinstance(parsed.action.args, dict)
        assert isinstance(parsed.action.tool, str)
        assert parsed.error is not None or parsed.action.tool.strip(), "an action without a tool name"
        assert "\n" not in parsed.action.tool
    if parsed.answer is not None:
        assert parsed.answer.strip() == parsed.answer != ""
        assert len(parsed.answer.splitlines()) == 1
        assert parsed.action is None


@pytest.mark.slow
@FUZZ
@given(text=st.text())
def test_arbitrary_text_parses_without_raising(text):
    check_parsed(parse_step(text, FIRST_ARGS))


@pytest.mark.slow
@FUZZ
@given(text=react_text)
def test_react_like_text_parses_without_raising(text):
    check_parsed(parse_step(text, FIRST_ARGS))
    check_parsed(parse_step(text))


@pytest.mark.slow
@SHAPED
@given(thought=st.text(max_size=40), args=st.dictionaries(st.text(max_size=8), json_values, max_size=4))
def test_a_well_formed_action_round_trips(thought, args):
    thought = " ".join(thought.split())
    parsed = parse_step(f"Thought: {thought}\nAction: echo\nAction Input: {json.dumps(args)}\n")
    assert parsed.error is None
    assert parsed.thought == thought and parsed.action.tool == "echo" and parsed.action.args == args


@pytest.mark.slow
@SHAPED
@given(answer=st.text(min_size=1, max_size=40), tail=st.text(max_size=40))
def test_a_final_answer_is_its_first_line(answer, tail):
    parsed = parse_step(f"Thought: done\nFinal Answer: {answer}\n{tail}")
    check_parsed(parsed)
    if answer.strip() and parsed.error is None and parsed.action is None:
        assert parsed.answer == answer.strip().splitlines()[0].strip()


def test_an_empty_action_line_is_not_a_tool_named_after_the_next_line():
    parsed = parse_step("Thought: hm\nAction:\nFinal Answer: 4")
    assert parsed.action is None or parsed.action.tool != "Final Answer: 4"
    parsed = parse_step("Thought: hm\nAction: `\nAction Input: {}")
    assert parsed.error is not None and parsed.error.type == "parse"


@pytest.mark.parametrize(
    "text",
    [
        "Thought:" + "\n" * 20_000,
        "Thought: a\n" + "\n \n" * 7_000,
        "Final Answer:" + " \n" * 10_000,
        "Action: x\nAction Input:" + "\n" * 20_000,
        "Thought: a" + " " * 20_000 + "\nAction: x",
    ],
    ids=["newlines", "blank-lines", "final-blank", "input-newlines", "spaces"],
)
def test_parsing_long_whitespace_is_linear(text):
    start = time.perf_counter()
    check_parsed(parse_step(text, FIRST_ARGS))
    assert time.perf_counter() - start < 1.0  # quadratic regexes take tens of seconds here


# ---- the ReAct loop ----


@tool
def echo(text: str) -> str:
    """Return the text.

    Args:
        text: anything.
    """
    return text


@tool
def boom(x: str) -> str:
    """Always fail.

    Args:
        x: ignored.
    """
    raise ToolError(f"boom on {x!r}")


TOOLS = [*load_tools("calculator"), echo, boom]


@pytest.mark.slow
@LOOP
@given(replies=st.lists(any_text, min_size=1, max_size=8), max_steps=st.integers(1, 6))
def test_react_loop_on_arbitrary_text_ends_within_max_steps(replies, max_steps):
    model = ScriptedModel(replies, cycle=True)
    traj = ReActAgent(model, TOOLS, ReActConfig(max_steps=max_steps, seed=0)).run("What is 6 times 7?")
    assert 1 <= len(traj.steps) <= max_steps
    assert len(model.prompts) == len(traj.steps)
    if traj.answer is None:
        assert len(traj.steps) == max_steps and traj.stats["finished"] is False
    else:
        assert traj.steps[-1].answer == traj.answer and "\n" not in traj.answer
    for step in traj.steps[:-1]:
        assert step.answer is None
    for step in traj.steps:
        assert step.error is None or step.error.type in STEP_ERRORS, step.error
        if step.error is not None:
            assert step.observation  # the model is told what went wrong
    json.dumps(traj.to_dict())  # the trace always serialises
