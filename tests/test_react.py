"""The ReAct loop's behaviour, driven by a scripted model."""

import json

import pytest

from agent.core.backends.fake import ScriptedModel
from agent.core.errors import UserError
from agent.core.grammar import react_grammar
from agent.core.parse import parse_step
from agent.core.react import ReActAgent, ReActConfig
from agent.core.steps import Trajectory
from agent.strategies.consistency import majority_vote, normalize_answer, self_consistency
from tools.base import ToolError, tool


@tool
def add(a: int, b: int) -> str:
    """Add two integers.

    Args:
        a: the first number.
        b: the second number.
    """
    return str(a + b)


@tool
def fail(text: str) -> str:
    """Always fails.

    Args:
        text: anything.
    """
    raise ToolError(f"cannot handle {text}")


@tool
def buggy(text: str) -> str:
    """Has a bug.

    Args:
        text: anything.
    """
    return str(1 / 0)


def act(tool_name: str, args: dict, thought: str = "use a tool") -> str:
    return f"Thought: {thought}\nAction: {tool_name}\nAction Input: {json.dumps(args)}\n"


def final(answer: str) -> str:
    return f"Thought: I know it.\nFinal Answer: {answer}\n"


def run(replies, max_steps=6, tools=(add, fail, buggy), **cfg):
    model = ScriptedModel(replies)
    agent = ReActAgent(model, list(tools), ReActConfig(max_steps=max_steps, **cfg))
    return agent.run("question?"), model


def test_tool_then_answer_counts_steps_and_observations():
    traj, model = run([act("add", {"a": 2, "b": 40}), final("42")])
    assert traj.answer == "42"
    assert len(traj.steps) == 2
    assert traj.steps[0].observation == "42" and traj.steps[0].error is None
    assert traj.stats["steps"] == 2 and traj.stats["finished"]
    # the observation is fed back into the next prompt
    assert "Observation: 42\n" in model.prompts[1]
    assert model.prompts[1].startswith(model.prompts[0])


def test_parse_error_becomes_observation_and_loop_continues():
    traj, _ = run(["I think the answer is 5", final("5")])
    assert traj.steps[0].error.type == "parse"
    assert traj.steps[0].observation.startswith("Error:")
    assert traj.answer == "5"


def test_unknown_tool_bad_args_tool_error_and_bug_are_observations():
    traj, _ = run(
        [
            act("search_web", {"q": "x"}),
            act("add", {"a": "two", "b": 1}),
            act("fail", {"text": "x"}),
            act("buggy", {"text": "y"}),
            final("1"),
        ]
    )
    types = [s.error.type if s.error else None for s in traj.steps]
    assert types == ["unknown_tool", "bad_args", "tool_error", "tool_error", None]
    assert "search_web" in traj.steps[0].observation and "add" in traj.steps[0].observation
    assert "cannot handle x" in traj.steps[2].observation
    assert "ZeroDivisionError" in traj.steps[3].observation


def test_max_steps_ends_gracefully_and_last_step_is_forced_final():
    model = ScriptedModel([act("add", {"a": 1, "b": i}) for i in range(2)] + [final("2")])
    agent = ReActAgent(model, [add], ReActConfig(max_steps=3))
    traj = agent.run("q")
    assert len(traj.steps) == 3 and traj.answer == "2"
    grammars = [c["grammar"] for c in model.calls]
    assert "action ::=" in grammars[0] and "action ::=" not in grammars[2]  # last step: final answer only
    assert model.prompts[2].endswith("Thought: I have used my steps; I give my best answer.\n")


def test_max_steps_without_any_answer_returns_none():
    traj, _ = run([act("add", {"a": 1, "b": i}) for i in range(5)], max_steps=3)
    assert len(traj.steps) == 3 and traj.answer is None and not traj.stats["finished"]


def test_repeat_guard_stops_identical_actions():
    same = act("add", {"a": 1, "b": 1})
    traj, model = run([same, same, same, final("2")], max_steps=8)
    assert [s.error.type if s.error else None for s in traj.steps] == [None, "repeat", "repeat", None]
    assert "already ran" in traj.steps[1].observation
    assert "action ::=" not in model.calls[3]["grammar"]  # after the repeat limit only a final answer is allowed


def test_parse_step_variants():
    p = parse_step("Thought: x\nAction: calculator\nAction Input: 2+3", {"calculator": "expression"})
    assert p.action.args == {"expression": "2+3"} and p.error is None
    p = parse_step("Thought: done\nFinal Answer: 7 apples\n")
    assert p.answer == "7 apples" and p.action is None
    assert parse_step("").error.type == "parse"
    assert parse_step("Thought: hmm\nAction: add\nAction Input: {broken").error.type == "parse"


def test_grammar_names_every_tool_and_its_arguments():
    g = react_grammar([add, fail])
    assert '"Action: add\\nAction Input: "' in g and '"\\"a\\""' in g and "integer" in g
    assert "Action" not in react_grammar([add], final_only=True).split("final ::=")[0].split("root ::=")[1]


def test_trajectory_json_round_trip():
    traj, _ = run([act("add", {"a": 2, "b": 3}), final("5")])
    again = Trajectory.from_dict(json.loads(traj.to_json()))
    assert again.to_dict() == traj.to_dict()
    assert again.render() == traj.render()
    assert 'Action Input: {"a": 2, "b": 3}\nObservation: 5\n' in again.render()


def test_self_consistency_draws_first_steps_in_one_batch_and_votes():
    replies = [final("12"), final("13"), final("12"), final("twelve")]
    model = ScriptedModel(replies)
    agent = ReActAgent(model, [add], ReActConfig(max_steps=4, seed=1))
    vote = self_consistency(agent, "q", samples=4)
    assert model.calls[0]["n"] == 4 and len(model.calls) == 1
    assert model.calls[0]["temperature"] > 0
    assert vote.answer == "12" and vote.votes == {"12": 2, "13": 1, "twelve": 1}
    assert len(vote.trajectories) == 4


def test_majority_vote_normalises_numbers():
    assert normalize_answer("$1,200.00") == "1200"
    assert majority_vote(["3.5", "7/2", "4"])[0] == "3.5"
    assert majority_vote([None, None]) == (None, {})


def test_invalid_config_raises():
    with pytest.raises(ValueError):
        ReActConfig(max_steps=0)


def test_a_step_cut_off_by_max_tokens_is_reported_as_truncated():
    long_input = act("add", {"a": 1, "b": 2}).replace('{"a"', '{"a"' + " x" * 50)
    traj, _ = run([long_input, final("3")], max_tokens=20)
    assert traj.steps[0].error.type == "truncated" and "cut off" in traj.steps[0].observation
    assert traj.steps[0].action.tool == "add" and traj.answer == "3"


def test_a_full_context_ends_the_run_without_a_crash():
    model = ScriptedModel([act("add", {"a": 1, "b": i}) for i in range(6)])
    model.n_ctx = len(ReActAgent(model, [add]).prompt(Trajectory(question="question?")).split()) + 200 + 32 + 30
    traj = ReActAgent(model, [add], ReActConfig(max_steps=6, max_tokens=200)).run("question?")
    assert 1 <= len(traj.steps) < 6 and traj.stats["stopped"] == "context_full" and traj.answer is None


def test_a_question_too_long_for_the_context_is_a_user_error_naming_both_sizes():
    model = ScriptedModel([final("1")])
    model.n_ctx = 300
    with pytest.raises(UserError, match=r"the question has 400 tokens.*context of 300 tokens"):
        ReActAgent(model, [add], ReActConfig(max_tokens=100)).run("word " * 400)
    assert model.prompts == []  # refused before the model is called
