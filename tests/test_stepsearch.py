"""Search over ReAct steps with a process reward model: best-of-N, beam search, rollout labels, the PRM pieces."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest
from click.testing import CliRunner

from agent.core.backends.fake import ScriptedModel
from agent.core.react import ReActAgent, ReActConfig
from agent.core.steps import Action, Step, Trajectory
from agent.strategies.config import ConfigError, StrategyConfig
from agent.strategies.prm import CachedScorer, aggregate, prm_prompt, prm_record
from agent.strategies.programs import Run, run_strategy
from agent.strategies.rollouts import on_reference, reference_values, rollout_labels
from agent.strategies.stepsearch import ToolCalls, beam_search, best_of_n
from tools.base import Tool


def act(name: str, expression: str) -> str:
    return f'Thought: {name}\nAction: calculator\nAction Input: {{"expression": "{expression}"}}\n'


def final(name: str, answer: str) -> str:
    return f"Thought: {name}\nFinal Answer: {answer}\n"


def tree_model(table: dict[str, list[str]]) -> ScriptedModel:
    """Replies by position in a tree: the key is the thoughts so far joined by '/' ('' at the root); each key's
    replies are given in turn (cycled), one per sample."""
    cursors: Counter = Counter()

    def reply(prompt: str) -> str:
        key = "/".join(re.findall(r"Thought: (\w+)", prompt.split("<|assistant|>\n")[-1]))
        options = table[key]
        cursors[key] += 1
        return options[(cursors[key] - 1) % len(options)]

    return ScriptedModel(reply)


class CountingCalculator:
    def __init__(self):
        self.runs: list[str] = []

    def tool(self) -> Tool:
        def fn(expression: str) -> str:
            self.runs.append(expression)
            return str(eval(expression, {"__builtins__": {}}))

        schema = {"type": "object", "properties": {"expression": {"type": "string"}}, "required": ["expression"]}
        return Tool("calculator", "evaluates arithmetic", schema, fn)


class TablePRM:
    """Scores a step by its thought's name (unknown names 0.5); counts what it was asked."""

    name, judge = "table", "program"

    def __init__(self, table: dict[str, float]):
        self.table = table
        self.asked: list[tuple[str, ...]] = []

    def score(self, question, steps):
        self.asked.append(tuple(s.thought for s in steps))
        return self.table.get(steps[-1].thought, 0.5)


def agent_for(model, tools, max_steps=3, seed=0):
    return ReActAgent(model, tools, ReActConfig(max_steps=max_steps, temperature=0.7, seed=seed))


def test_beam_keeps_b_states_a_depth_and_expands_each_in_one_batch():
    # every state has three distinct non-final next steps; the PRM prefers a > b > c
    model = tree_model({"": [act("a", "1+1"), act("b", "2+2"), act("c", "3+3")],
                        **{k: [act("a", f"{n}*2"), act("b", f"{n}*3"), act("c", f"{n}*4")]
                           for n, k in enumerate(["a", "b", "c", "a/a", "a/b", "a/c", "b/a", "b/b", "b/c"])}})
    calc = CountingCalculator()
    calls = ToolCalls()
    agent = agent_for(model, calls.wrap([calc.tool()]), max_steps=3)
    result = beam_search(agent, CachedScorer(TablePRM({"a": 0.9, "b": 0.6, "c": 0.1})), "q", beam=2, expand=3,
                         tools=calls)
    assert result.stats["kept_per_depth"] == [2, 2, 2]
    assert [c["n"] for c in model.calls] == [3, 3, 3, 3, 3]  # depth 0: the root; then the two kept, twice
    assert result.answer is None and result.stats["finished"] == 0  # nothing final was ever proposed
    kept = [tuple(s.thought for s in result.best.steps)]
    assert kept == [("a", "a", "a")]


def test_each_distinct_tool_call_runs_once_across_beams():
    # a and b call the same expression, and so do all their children: the calculator runs each once
    model = tree_model({"": [act("a", "6*7"), act("b", "6*7"), act("c", "1+1")],
                        "a": [act("d", "42+1"), final("e", "42")], "b": [act("d", "42+1"), final("e", "42")],
                        "c": [final("f", "2")], "a/d": [final("g", "43")], "b/d": [final("g", "43")]})
    calc = CountingCalculator()
    calls = ToolCalls()
    agent = agent_for(model, calls.wrap([calc.tool()]), max_steps=3)
    prm = CachedScorer(TablePRM({"a": 0.9, "b": 0.8, "c": 0.1, "e": 0.9, "f": 0.2, "d": 0.3}))
    result = beam_search(agent, prm, "q", beam=3, expand=3, tools=calls)
    assert sorted(calc.runs) == sorted(set(calc.runs)) == ["1+1", "42+1", "6*7"]
    assert calls.calls == 3 and calls.hits >= 2
    assert result.answer == "42"  # two beams at min scores 0.9 and 0.8 outweigh 43's two at 0.3 and 2's one at 0.1
    assert result.weighted == {"42": pytest.approx(0.9 + 0.8), "2": pytest.approx(0.1), "43": pytest.approx(0.6)}
    assert result.stats["tool_calls"] == 3


def test_prm_scores_are_cached_per_prefix():
    model = tree_model({"": [act("a", "2*3")], "a": [final("b", "6")]})  # every sample the same two steps
    inner = TablePRM({"a": 0.7, "b": 0.9})
    prm = CachedScorer(inner)
    agent = ReActAgent(model, [CountingCalculator().tool()], ReActConfig(max_steps=3, temperature=0.7, seed=0))
    result = best_of_n(agent, prm, "q", n=3)
    assert inner.asked == [("a",), ("a", "b")]  # two distinct prefixes scored once each
    assert (prm.calls, prm.hits) == (2, 4)
    assert result.answer == "6" and [b.scores for b in result.beams] == [[0.7, 0.9]] * 3


def test_best_of_n_ranks_by_the_aggregate_and_keeps_each_aggregates_answer():
    # sample 1: a weak first step, a confident answer 5; sample 2: steady steps, answer 6
    model = tree_model({"": [act("weak", "2+3"), act("steady", "2*3")], "weak": [final("sure", "5")],
                        "steady": [final("fine", "6")]})
    prm = CachedScorer(TablePRM({"weak": 0.2, "sure": 0.99, "steady": 0.6, "fine": 0.6}))
    agent = ReActAgent(model, [CountingCalculator().tool()], ReActConfig(max_steps=3, temperature=0.7, seed=0))
    result = best_of_n(agent, prm, "q", n=2, how="min")
    assert result.answer == "6" and result.stats["answer_by"] == {"min": "6", "last": "5", "product": "6"}
    assert aggregate([0.2, 0.99], "product") == pytest.approx(0.198)


def test_the_budget_is_respected():
    model = tree_model({"": [act("a", "1+1"), act("b", "2+2"), act("c", "3+3")],
                        **{k: [act("a", "5+5"), act("b", "6+6"), act("c", "7+7")] for k in ["a", "b", "c"]}})
    agent = agent_for(model, [CountingCalculator().tool()], max_steps=5)
    for budget in (5, 20, 40):
        result = beam_search(agent, CachedScorer(TablePRM({})), "q", beam=2, expand=3, budget=budget)
        assert 0 < result.stats["tokens"] <= budget
        assert all(c["n"] == 3 for c in model.calls)


def test_rollout_labels_are_the_share_of_rollouts_that_reach_the_gold_answer():
    # from the prefix [s1]: four rollouts, three reach 6 (one of them via another tool step); the last step is right
    model = tree_model({"s1": [final("r", "6"), final("r", "5"), act("x", "3+3"), final("r", "6")],
                        "s1/x": [final("y", "6")]})
    s1 = Step("s1", Action("calculator", {"expression": "2*3"}), observation="6")
    traj = Trajectory("q", [s1, Step("s2", answer="6")], answer="6")
    agent = agent_for(model, [CountingCalculator().tool()], max_steps=4)
    labels = rollout_labels(agent, traj, gold="6", k=4)
    assert [(lab.index, lab.share, lab.rollouts) for lab in labels] == [(0, 0.75, 4), (1, 1.0, 0)]
    assert [c["n"] for c in model.calls] == [4, 1]  # the first steps in one batch; one rollout goes on alone
    assert labels[0].good and labels[0].tokens > 0
    wrong = rollout_labels(agent, Trajectory("q", [Step("s2", answer="7")], answer="7"), gold="6", k=4)
    assert [(lab.share, lab.good) for lab in wrong] == [(0.0, False)]
    with pytest.raises(ValueError, match="sampling temperature"):
        rollout_labels(ReActAgent(model, [], ReActConfig(temperature=0.0)), traj, gold="6", k=2)


def test_on_reference_labels_read_the_reference_solutions_values():
    values = reference_values("Natalia sold 48/2 = <<48/2=24>>24 clips in May. Altogether <<48+24=72>>72.")
    assert values == {24, 72}
    assert on_reference(Step("half", Action("calculator", {"expression": "48/2"}), observation="24.0"), values)
    assert not on_reference(Step("x", Action("calculator", {"expression": "48*2"}), observation="96"), values)
    assert on_reference(Step("done", answer="72 clips"), values)


def test_prm_prompt_shares_its_prefix_step_by_step():
    steps = [Step("half", Action("calculator", {"expression": "48/2"}), observation="24"), Step("sum", answer="72")]
    first, second = prm_prompt("How many?", steps[:1]), prm_prompt("How many?", steps)
    assert second.startswith(first.removesuffix("\nVerdict:"))  # step 2's prompt extends step 1's
    assert "Step 1: half [calculator: 48/2 = 24]" in first and "Step 2: sum Answer: 72" in second
    assert prm_record("How many?", steps, good=False)["completion"] == " bad"


def test_strategies_bon_and_beam_return_one_record_with_the_budget_spent():
    model = tree_model({"": [act("a", "2*3")], "a": [final("b", "6")]})
    run = Run(model, tools=[CountingCalculator().tool()], prm=TablePRM({"a": 0.7, "b": 0.9}))
    record = run_strategy("q?", StrategyConfig("beam", beam=2, expand=2), run)
    assert record.answer == "6" and record.strategy == "beam" and record.variant == "beam(beam=2, expand=2)"
    assert {"prm_calls", "tool_calls", "seconds", "expansions"} <= set(record.stats) and record.tokens > 0
    assert (record.stats["proposer"], record.stats["judge"], record.stats["model_only"]) == ("model", "program", False)
    record = run_strategy("q?", StrategyConfig("bon", samples=3), run)
    assert record.answer == "6" and len(record.samples) == 3 and record.samples[0].score == pytest.approx(0.7)


def test_step_search_options_are_refused_where_they_mean_nothing():
    with pytest.raises(ConfigError, match="--prm is for --strategy bon or beam"):
        StrategyConfig("react", prm="features").resolved()
    with pytest.raises(ConfigError, match="--expand is for --strategy beam"):
        StrategyConfig("bon", expand=2).resolved()
    assert StrategyConfig("beam").resolved().beam == 4 and StrategyConfig("bon").resolved().samples == 8


def test_agent_solve_runs_beam_with_the_feature_prm(tmp_path):
    from agent.app.cli import cli

    replies = tmp_path / "r.json"
    replies.write_text(json.dumps([act("a", "17*23"), final("b", "391")]))
    args = ["solve", "What is 17 * 23?", "--model", f"fake:{replies}", "--strategy", "beam", "--beam", "2",
            "--expand", "2", "--prm", "features", "--json"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["answer"] == "391" and out["stats"]["prm"] == "prm:features" and out["stats"]["judge"] == "program"


def test_prm_data_recipe_labels_every_step_and_the_auc_bench_reads_it(tmp_path, capsys):
    from examples.recipes import prm_data

    questions = tmp_path / "q.jsonl"
    questions.write_text(json.dumps({"question": "What is 2 times 3?", "answer": "2*3=<<2*3=6>>6\n#### 6"}) + "\n")
    replies = tmp_path / "r.json"
    replies.write_text(json.dumps([act("a", "2*3"), final("b", "6")]))
    out, records = tmp_path / "labelled.jsonl", tmp_path / "records.jsonl"
    prm_data.main([str(questions), "--out", str(out), "--records", str(records), "--model", f"fake:{replies}",
                   "--samples", "2", "--k", "2"])
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 2 and all(len(r["labels"]) == len(r["steps"]) for r in rows)
    n_steps = sum(len(r["steps"]) for r in rows)
    recs = [json.loads(line) for line in records.read_text().splitlines()]
    assert len(recs) == n_steps and {r["completion"] for r in recs} <= {" good", " bad"}
    prm_data.main([str(questions), "--out", str(out), "--model", f"fake:{replies}"])  # resumes: nothing new
    assert len(out.read_text().splitlines()) == 2
    import importlib.util

    spec = importlib.util.spec_from_file_location("prm_auc", "bench/prm_auc.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    capsys.readouterr()
    bench.main([str(out)])
    table = capsys.readouterr().out
    assert f"{n_steps} steps of 1 questions" in table and "| prm:features | program |" in table
