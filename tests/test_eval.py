"""The evaluation harness: tasks, strategies, resumable results, the report and the CLI."""

import json
import types

import networkx as nx
import pytest
from click.testing import CliRunner

from agent.app.evaluate import get_task, run_eval
from agent.app.evaluate.cli import eval_cmd
from agent.app.evaluate.faithfulness import check_chain
from agent.app.evaluate.report import group_results
from agent.app.evaluate.tasks import match_answer, validate_game24
from agent.core.backends.fake import ScriptedModel
from agent.core.jsonl import read_jsonl
from agent.core.model import Completion
from agent.strategies.config import StrategyConfig
from agent.strategies.programs import cot_answer
from tools.base import tool


@tool
def calculator(expression: str) -> str:
    """Evaluate arithmetic.

    Args:
        expression: digits and + - * / only.
    """
    if set(expression) - set("0123456789+-*/(). "):
        raise ValueError("not arithmetic")
    return str(eval(expression, {"__builtins__": {}}, {}))  # the test controls the input


GSM8K = [
    {
        "question": "Natalia sold 48 clips in April and half as many in May. How many in all?",
        "answer": "She sold 48/2 = <<48/2=24>>24 in May.\n#### 72",
    },
    {"question": "Weng earns $12 an hour. How much for 5 hours?", "answer": "12*5=60\n#### 60"},
    {"question": "A shop has 1,200 pens and sells 200. How many are left?", "answer": "#### 1,000"},
]


def act(expression: str, thought: str = "I compute it.") -> str:
    return f'Thought: {thought}\nAction: calculator\nAction Input: {{"expression": "{expression}"}}\n'


def final(answer: str, thought: str = "I know the answer.") -> str:
    return f"Thought: {thought}\nFinal Answer: {answer}\n"


# item 0: tool then right; item 1: wrong; item 2: right, with one wrong and one right claim in its thought
REACT_REPLIES = [
    act("48 + 48/2"),
    final("72"),
    final("65", "12 * 5 = 65"),
    final("$1,000", "1200 - 200 = 1000 and 2 + 2 = 5"),
]


@pytest.fixture
def gsm8k_file(tmp_path):
    path = tmp_path / "gsm8k.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in GSM8K))
    return path


def run_gsm8k(path, out, replies, limit=None, strategy="react", **cfg):
    task = get_task("gsm8k")
    model = ScriptedModel(replies)
    summary = run_eval(task, task.load(path)[:limit], model, StrategyConfig(strategy, **cfg), out, tools=[calculator])
    return summary, model


def test_gsm8k_react_scores_and_writes_one_line_per_item(gsm8k_file, tmp_path):
    out = tmp_path / "res.jsonl"
    summary, model = run_gsm8k(gsm8k_file, out, REACT_REPLIES)
    records = list(read_jsonl(out))
    assert [r["correct"] for r in records] == [True, False, True]
    assert [r["gold"] for r in records] == ["72", "60", "1000"]
    assert [r["n_steps"] for r in records] == [2, 1, 1] and len(model.calls) == 4
    assert records[0]["steps"][0]["observation"] == "72.0"
    assert all(r["strategy"] == "react" and r["model"] == "scripted" and r["task"] == "gsm8k" for r in records)
    assert summary.n == 3 and summary.correct == 2 and summary.extra == {"skipped": 0}
    assert summary.tokens_per_item == pytest.approx(sum(r["tokens"] for r in records) / 3)
    # claims in thoughts: 12*5=65 wrong, 1200-200=1000 right, 2+2=5 wrong
    assert (summary.n_checked, summary.faithfulness) == (3, pytest.approx(1 / 3))


def test_rerun_skips_done_items_without_calling_the_model(gsm8k_file, tmp_path):
    out = tmp_path / "res.jsonl"
    first, _ = run_gsm8k(gsm8k_file, out, REACT_REPLIES)
    summary, model = run_gsm8k(gsm8k_file, out, [])  # any model call would raise: no replies left
    assert model.calls == []
    assert len(out.read_text().splitlines()) == 3
    assert summary.extra == {"skipped": 3} and (summary.n, summary.correct) == (first.n, first.correct)


def test_rerun_runs_only_the_missing_items(gsm8k_file, tmp_path):
    out = tmp_path / "res.jsonl"
    run_gsm8k(gsm8k_file, out, REACT_REPLIES[:3], limit=2)
    summary, model = run_gsm8k(gsm8k_file, out, REACT_REPLIES[3:])
    assert len(model.calls) == 1 and "1,200 pens" in model.prompts[0]
    assert len(list(read_jsonl(out))) == 3
    assert (summary.n, summary.correct, summary.extra["skipped"]) == (3, 2, 2)


def test_a_line_cut_short_by_a_crash_is_tolerated_and_redone(gsm8k_file, tmp_path):
    out = tmp_path / "res.jsonl"
    run_gsm8k(gsm8k_file, out, REACT_REPLIES)
    lines = out.read_text().splitlines()
    out.write_text("\n".join(lines[:2]) + "\n" + lines[2][: len(lines[2]) // 2])  # crash mid-write
    summary, model = run_gsm8k(gsm8k_file, out, REACT_REPLIES[3:])
    assert len(model.calls) == 1
    assert (summary.n, summary.correct) == (3, 2)
    assert len(group_results([out])) == 1 and group_results([out])[0].n == 3


def test_malformed_data_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(GSM8K[0]) + "\n{not json\n")
    with pytest.raises(ValueError, match=r"bad\.jsonl: line 2"):
        get_task("gsm8k").load(bad)
    bad.write_text(json.dumps({"question": "q", "answer": "no final line"}) + "\n")
    with pytest.raises(ValueError, match=r"bad\.jsonl: record 1 .*####"):
        get_task("gsm8k").load(bad)


@pytest.mark.parametrize(
    "prediction, gold, correct",
    [
        ("The answer is $1,000.", "1000", True),
        ("1000", "1,000", True),
        ("0.5", "1/2", True),
        ("72 clips", "72", True),
        ("73", "72", False),
        ("-3", "3", False),
        (None, "3", False),
        ("Paris", "paris", True),
        ("The Eiffel Tower!", "eiffel tower", True),
        ("Paris, France", "Paris", False),
        ("", "Paris", False),
    ],
)
def test_qa_matching(prediction, gold, correct):
    assert match_answer(prediction, gold) is correct


@pytest.mark.parametrize(
    "puzzle, answer, valid",
    [
        ("4 6 4 8", "(4 + 8) * (6 - 4) = 24", True),
        ("4 6 4 8", "Answer: (4 + 8) * (6 - 4) = 24", True),
        ("1 1 4 6", "1 * 1 * 4 × 6", True),
        ("3 3 8 8", "8 / (3 - 8 / 3)", True),  # exact only with fractions
        ("4 6 4 8", "(4 + 8) * (6 - 4) + 0", False),  # a number too many
        ("1 1 4 6", "(1 + 1 + 4) * 6", False),  # 36
        ("1 1 4 6", "4 * 6", False),  # numbers left out
        ("1 1 4 6", "__import__('os').system('true')", False),
        ("2 2 6 0", "(2 + 2) * 6 / 0", False),
        ("1 1 4 6", None, False),
    ],
)
def test_game24_validator(puzzle, answer, valid):
    assert validate_game24(puzzle, answer) is valid


def test_faithfulness_recomputes_arithmetic_claims():
    assert check_chain("48/2 = 24, so 48 + 24 = 72 in all.") == (2, 2)
    assert check_chain("10/3 = 3.33 and 10/3 = 3 and 2 + 3 = 5 + 4 = 9") == (4, 3)
    assert check_chain("No arithmetic here; x <= 3.") == (0, 0)


def test_cot_and_direct_extract_the_answer(gsm8k_file, tmp_path):
    cot_text = "She sold 48/2 = 24 in May, so 48 + 24 = 72 in all.\nThe answer is 72."
    summary, model = run_gsm8k(gsm8k_file, tmp_path / "cot.jsonl", [cot_text], limit=1, strategy="cot")
    assert summary.correct == 1 and (summary.n_checked, summary.faithfulness) == (2, 1.0)
    assert model.calls[0]["temperature"] == 0.0 and "step by step" in model.prompts[0]
    summary, _ = run_gsm8k(gsm8k_file, tmp_path / "direct.jsonl", ["\n72\nbecause"], limit=1, strategy="direct")
    assert summary.correct == 1 and summary.faithfulness is None
    assert cot_answer("so the final answer is: (4 + 8) * (6 - 4) = 24.") == "(4 + 8) * (6 - 4) = 24"


def test_self_consistency_votes_over_samples(gsm8k_file, tmp_path):
    replies = [final("72"), final("70"), final("72")]
    summary, model = run_gsm8k(gsm8k_file, tmp_path / "sc.jsonl", replies, limit=1, strategy="sc", samples=3)
    record = next(read_jsonl(tmp_path / "sc.jsonl"))
    assert model.calls[0]["n"] == 3 and model.calls[0]["temperature"] == 0.7
    assert record["correct"] and record["votes"] == {"72": 2, "70": 1}
    assert summary.tokens_per_item == sum(model.count_tokens(r) for r in replies)


class SeededModel(ScriptedModel):
    """Each sample's reply is a function of its seed, as a real backend's seeded draws are: the first step
    (sample ``i`` of a call seeded ``s`` draws with ``s + i``) calls the calculator, the next step answers."""

    def __init__(self):
        super().__init__(lambda prompt: "", name="seeded")

    def complete(self, prompt, *, n=1, seed=None, **kwargs):
        self.calls.append({"prompt": prompt, "n": n, "seed": seed})
        if "Observation:" in prompt.rsplit("Question:", 1)[-1]:
            texts = [final(str(70 + seed % 5))]
        else:
            texts = [act(f"{seed + j} + 0") for j in range(n)]
        return Completion(texts, 1, sum(len(t.split()) for t in texts), 0.0, None, ["stop"] * n)


def untimed(samples):
    """Samples without their wall times (a busy machine makes a step take a few milliseconds)."""
    return [{**s, "steps": [{k: v for k, v in step.items() if k != "seconds"} for step in s["steps"]]} for s in samples]


def test_a_bigger_sc_run_grows_the_earlier_one_and_draws_the_same_samples(gsm8k_file, tmp_path):
    task = get_task("gsm8k")
    items = task.load(gsm8k_file)[:2]
    whole = tmp_path / "whole.jsonl"
    run_eval(task, items, SeededModel(), StrategyConfig("sc", samples=6), whole, tools=[calculator])
    grown = tmp_path / "grown.jsonl"
    run_eval(task, items, SeededModel(), StrategyConfig("sc", samples=4), grown, tools=[calculator])
    model = SeededModel()
    summary = run_eval(task, items, model, StrategyConfig("sc", samples=6), grown, tools=[calculator])
    # only the two new samples of each item are drawn: one first-step call of n=2 seeded past the first 4
    firsts = [c for c in model.calls if "Observation:" not in c["prompt"].rsplit("Question:", 1)[-1]]
    assert [(c["n"], c["seed"]) for c in firsts] == [(2, 4), (2, 5)]
    want = {r["index"]: r for r in read_jsonl(whole)}
    got = [r for r in read_jsonl(grown) if r["variant"] == "sc(samples=6)"]
    assert len(got) == 2 and summary.n == 2
    for r in got:
        assert r["stats"]["reused"] == 4
        assert untimed(r["samples"]) == untimed(want[r["index"]]["samples"])
        assert r["answer"] == want[r["index"]]["answer"]
    # another seed is another run: nothing is skipped or reused
    model = SeededModel()
    run_eval(task, items, model, StrategyConfig("sc", samples=4, seed=1), grown, tools=[calculator])
    assert [(c["n"], c["seed"]) for c in model.calls if c["n"] > 1] == [(4, 1), (4, 2)]
    assert not any("reused" in r["stats"] for r in read_jsonl(grown) if r["seed"] == 1)


def test_tot_strategy_calls_search_solve(tmp_path, monkeypatch):
    seen = []

    def solve(question, task, model, algorithm, evaluator, beam, seed, n_generate=None, **kwargs):
        seen.append((question, task, algorithm, evaluator, beam, seed, n_generate))
        path = [
            "4 + 8 = 12 (left: 4 6 12)",
            "6 - 4 = 2 (left: 2 12)",
            "2 * 12 = 24 (left: 24)",
            "Answer: (4 + 8) * (6 - 4) = 24",
        ]
        return types.SimpleNamespace(
            answer=path[-1],
            best_path=path,
            tree=nx.DiGraph(),
            stats={"completion_tokens": 40, "prompt_tokens": 400, "nodes": 9},
        )

    import search

    monkeypatch.setattr(search, "solve", solve)
    csv_file = tmp_path / "24.csv"
    csv_file.write_text("Rank,Puzzles,AMT (s)\n1,4 6 4 8,4.4\n2,1 1 1 1,9.9\n")
    task = get_task("game24")
    config = StrategyConfig("tot", beam=3, n_generate=16)
    summary = run_eval(task, task.load(csv_file), ScriptedModel([]), config, tmp_path / "o.jsonl")
    assert seen[0] == ("4 6 4 8", "game24", "bfs", None, 3, 0, 16) and seen[1][-2] == 1  # None: the task's
    assert (summary.n, summary.correct, summary.tokens_per_item) == (2, 1, 40)  # 1 1 1 1: same answer, invalid
    assert summary.n_checked == 8 and summary.faithfulness == 1.0  # 4 claims per path, answer line included


def test_cli_runs_a_fake_model_and_prints_json(tmp_path):
    data = tmp_path / "qa.jsonl"
    data.write_text('{"question": "Capital of France?", "answer": "Paris"}\n{"question": "2+2?", "answer": 4}\n')
    replies = tmp_path / "replies.json"
    replies.write_text(json.dumps(["Paris", "5"]))
    out = tmp_path / "qa.jsonl.out"
    args = [
        "qa",
        "--data",
        str(data),
        "--model",
        f"fake:{replies}",
        "--strategy",
        "direct",
        "--out",
        str(out),
        "--json",
    ]
    result = CliRunner().invoke(eval_cmd, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["n"] == 2 and summary["accuracy"] == 0.5 and summary["strategy"] == "direct"
    assert summary["out"] == str(out) and len(out.read_text().splitlines()) == 2


def test_tot_proposer_reaches_the_game24_task(tmp_path, monkeypatch):
    import search

    seen = []

    def solve(question, task, model, task_options=None, **kwargs):
        seen.append(task_options)
        return types.SimpleNamespace(answer=None, best_path=[], tree=nx.DiGraph(), stats={})

    monkeypatch.setattr(search, "solve", solve)
    csv_file = tmp_path / "24.csv"
    csv_file.write_text("Rank,Puzzles,AMT (s)\n1,4 6 4 8,4.4\n")
    task = get_task("game24")
    run_eval(task, task.load(csv_file), ScriptedModel([]), StrategyConfig("tot", proposer="rules"), tmp_path / "o.jsonl")
    run_eval(task, task.load(csv_file), ScriptedModel([]), StrategyConfig("tot"), tmp_path / "p.jsonl")
    assert seen == [{"propose_by": "rules"}, {}]
    data = tmp_path / "qa.jsonl"
    data.write_text('{"question": "2+2?", "answer": 4}\n')
    result = CliRunner().invoke(eval_cmd, ["qa", "--data", str(data), "--strategy", "tot", "--proposer", "rules"])
    assert result.exit_code != 0 and "--proposer is for --strategy tot on game24" in result.output
    assert "Traceback" not in result.output


def test_game24_reports_keep_the_papers_setting_and_the_rules_proposer_apart(tmp_path):
    """Who proposed and who judged is in every record and in the report: the rules+judge default is never
    labelled model-only, the paper's setting (the model proposes, value judges) is."""
    from agent.app.evaluate.report import markdown_table

    csv_file = tmp_path / "24.csv"
    csv_file.write_text("Rank,Puzzles,AMT (s)\n1,4 6 4 8,4.4\n")
    task = get_task("game24")
    judge = ScriptedModel(lambda prompt: "sure")
    run_eval(task, task.load(csv_file), judge, StrategyConfig("tot", beam=2), tmp_path / "rules.jsonl")
    paper = StrategyConfig("tot", proposer="model", evaluator="value", beam=2)
    run_eval(task, task.load(csv_file), ScriptedModel(lambda prompt: "sure"), paper, tmp_path / "paper.jsonl")
    rules_stats = next(read_jsonl(tmp_path / "rules.jsonl"))["stats"]
    paper_stats = next(read_jsonl(tmp_path / "paper.jsonl"))["stats"]
    assert (rules_stats["proposer"], rules_stats["judge"], rules_stats["model_only"]) == ("rules", "model", False)
    assert (paper_stats["proposer"], paper_stats["judge"], paper_stats["model_only"]) == ("model", "model", True)
    summary = run_eval(task, task.load(csv_file), judge, StrategyConfig("tot", beam=2), tmp_path / "rules.jsonl")
    assert summary.roles == "rules / model"  # the summary agent eval prints says it too
    rows = markdown_table(group_results([tmp_path / "rules.jsonl", tmp_path / "paper.jsonl"])).splitlines()[2:]
    assert len(rows) == 2
    assert {row.split(" | ")[3] for row in rows} == {"rules / model", "model / model"}


def test_sc_with_a_verifier_is_judged_by_a_program(gsm8k_file, tmp_path):
    from agent.strategies.programs import Run, run_strategy

    class Verifier:
        def score_all(self, question, trajectories):
            return [1.0 for _ in trajectories]

    model = ScriptedModel(["Final Answer: 72"] * 4)
    record = run_strategy("q?", StrategyConfig("sc", samples=2), Run(model, tools=[], verifier=Verifier()))
    assert (record.stats["proposer"], record.stats["judge"], record.stats["model_only"]) == ("model", "program", False)
    record = run_strategy("q?", StrategyConfig("sc", samples=2), Run(model, tools=[]))
    assert (record.stats["judge"], record.stats["model_only"]) == ("model", True)


def test_cli_missing_data_file_is_one_clear_line(tmp_path):
    from agent.app.cli import cli

    result = CliRunner().invoke(cli, ["eval", "gsm8k", "--data", str(tmp_path / "nope.jsonl")])
    assert result.exit_code != 0
    assert "nope.jsonl" in result.output and "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)


def test_cli_malformed_data_is_reported(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{oops\n")
    result = CliRunner().invoke(eval_cmd, ["qa", "--data", str(bad), "--model", "fake:x.json"])
    assert result.exit_code == 1 and "bad.jsonl: line 1" in result.output


def test_report_writes_markdown_and_png(gsm8k_file, tmp_path):
    run_gsm8k(gsm8k_file, tmp_path / "react.jsonl", REACT_REPLIES)
    run_gsm8k(gsm8k_file, tmp_path / "direct.jsonl", ["72", "1", "2"], strategy="direct")
    md, png = tmp_path / "t.md", tmp_path / "p.png"
    result = CliRunner().invoke(
        eval_cmd,
        ["report", str(tmp_path / "react.jsonl"), str(tmp_path / "direct.jsonl"), "--md", str(md), "--png", str(png)],
    )
    assert result.exit_code == 0, result.output
    rows = md.read_text().splitlines()
    assert rows[2].startswith("| gsm8k | scripted | direct | model / model | 33.3% | 3 |")
    assert rows[3].startswith("| gsm8k | scripted | react | model / model | 66.7% | 3 |")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_draws_the_compute_curve_one_line_per_strategy_and_judge(gsm8k_file, tmp_path):
    from agent.app.evaluate.report import _family

    run_gsm8k(gsm8k_file, tmp_path / "react.jsonl", REACT_REPLIES)
    run_gsm8k(gsm8k_file, tmp_path / "direct.jsonl", ["72", "1", "2"], strategy="direct")
    curve = tmp_path / "curve.png"
    args = ["report", str(tmp_path / "react.jsonl"), str(tmp_path / "direct.jsonl"), "--curve", str(curve)]
    result = CliRunner().invoke(eval_cmd, args)
    assert result.exit_code == 0, result.output
    assert curve.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert _family("sc(samples=8)") == _family("sc(samples=16)") == "sc"
    assert _family("sc(samples=8, verifier=default)") == "sc verifier=default"
    assert _family("beam(beam=2, prm=features)") == "beam prm=features"


def test_correct_eval_trajectories_become_training_examples(gsm8k_file, tmp_path):
    """Self-improvement: `agent finetune --data RESULTS.jsonl` trains on the right answers only, in the
    exact text the runtime wrote (the same system prompt, tools and steps)."""
    from agent.core.prompts import render_react_prompt
    from agent.core.steps import Step, Trajectory
    from finetune.data import load_examples

    out = tmp_path / "res.jsonl"
    run_gsm8k(gsm8k_file, out, REACT_REPLIES)
    records = list(read_jsonl(out))
    examples = load_examples(out)
    assert [ex.problem for ex in examples] == [records[0]["question"], records[2]["question"]]  # item 1 was wrong
    first = examples[0]
    steps = [Step.from_dict(s) for s in records[0]["steps"]]
    assert first.completion == Trajectory(records[0]["question"], steps, "72").render()
    assert "Observation: 72.0" in first.completion and first.completion.endswith("Final Answer: 72\n")
    assert first.tools == ("calculator",)
    from tools import load_tools  # tools are named in the record and loaded from the registry

    assert first.prompt_messages() == render_react_prompt(records[0]["question"], load_tools(["calculator"]))


def test_options_are_part_of_a_run_so_reports_and_reruns_keep_them_apart(tmp_path, monkeypatch):
    assert StrategyConfig("tot").variant == "tot"
    assert StrategyConfig("tot", evaluator="logprob", n_generate=16).variant == "tot(logprob, n_generate=16)"
    assert StrategyConfig("sc", samples=10).variant == "sc(samples=10)"
    assert StrategyConfig("tot", proposer="rules").variant == "tot(proposer=rules)"
    with pytest.raises(ValueError, match="proposer"):
        StrategyConfig("tot", proposer="solver")
    import search

    def solve(question, task, model, algorithm, evaluator, beam, seed, n_generate=None, **kwargs):
        path = ["4 + 8 = 12 (left: 4 6 12)", "6 - 4 = 2 (left: 2 12)", "2 * 12 = 24 (left: 24)"]
        answer = "(4 + 8) * (6 - 4)" if evaluator == "logprob" else "4 * 6"
        return types.SimpleNamespace(answer=answer, best_path=path, tree=nx.DiGraph(), stats={})

    monkeypatch.setattr(search, "solve", solve)
    csv_file = tmp_path / "24.csv"
    csv_file.write_text("Rank,Puzzles,AMT (s)\n1,4 6 4 8,4.4\n")
    task, out = get_task("game24"), tmp_path / "o.jsonl"
    plain = run_eval(task, task.load(csv_file), ScriptedModel([]), StrategyConfig("tot"), out)
    tuned = StrategyConfig("tot", evaluator="logprob", n_generate=16)
    other = run_eval(task, task.load(csv_file), ScriptedModel([]), tuned, out)  # same file: not skipped as done
    assert (plain.correct, other.correct) == (0, 1) and other.extra.get("skipped", 0) == 0
    reseeded = run_eval(task, task.load(csv_file), ScriptedModel([]), StrategyConfig("tot", seed=3), out)
    assert reseeded.extra.get("skipped", 0) == 0  # another seed is another run
    rows = {s.strategy: s.correct for s in group_results([out])}
    assert rows == {"tot": 0, "tot(logprob, n_generate=16)": 1, "tot seed=3": 0}


class BatchedReplies(ScriptedModel):
    """Replies chosen by the question in the prompt, served in batches (``complete_many``) like llama.cpp's."""

    def __init__(self):
        by_question = {"Natalia": [act("48 + 48/2"), final("72")], "Weng": [final("65")], "pens": [final("1,000")]}

        def reply(prompt: str) -> str:
            key = next(k for k in by_question if k in prompt)
            return by_question[key][prompt[prompt.rindex(key) :].count("Observation:")]

        super().__init__(reply)
        self.batch_grammar = True
        self.batches: list[int] = []

    def complete_many(self, prompts, **kw):
        self.batches.append(len(prompts))
        return [self.complete(p, **kw) for p in prompts]


def test_parallel_items_share_batches_and_score_as_one_at_a_time(gsm8k_file, tmp_path):
    task = get_task("gsm8k")
    items = task.load(gsm8k_file)
    one = run_eval(task, items, BatchedReplies(), StrategyConfig("react"), tmp_path / "one.jsonl", tools=[calculator])
    model = BatchedReplies()
    three = run_eval(task, items, model, StrategyConfig("react"), tmp_path / "par.jsonl", tools=[calculator], parallel=3)
    assert (three.n, three.correct) == (one.n, one.correct) == (3, 2)
    records = sorted(read_jsonl(tmp_path / "par.jsonl"), key=lambda r: r["index"])
    assert [r["correct"] for r in records] == [True, False, True] and [r["n_steps"] for r in records] == [2, 1, 1]
    assert max(model.batches) > 1 and sum(model.batches) == 4  # some calls went out together, none twice
    assert all(call["grammar"] for call in model.calls)  # the ReAct grammar travels through the batch
    again = run_eval(task, items, model, StrategyConfig("react"), tmp_path / "par.jsonl", tools=[calculator], parallel=3)
    assert three.extra["parallel"] == 3 and three.extra["wall_seconds_per_item"] >= 0
    assert again.extra == {"skipped": 3} and sum(model.batches) == 4  # a rerun skips them all


@pytest.mark.parametrize("config", [StrategyConfig("sc"), StrategyConfig("react", temperature=0.7), StrategyConfig("tot")])
def test_parallel_refuses_sampled_and_searching_strategies(config, gsm8k_file, tmp_path):
    task = get_task("gsm8k")
    with pytest.raises(ValueError, match="--parallel runs greedy"):
        run_eval(task, task.load(gsm8k_file), BatchedReplies(), config, tmp_path / "o.jsonl", parallel=2)
    with pytest.raises(ValueError, match="batches prompts"):
        run_eval(task, task.load(gsm8k_file), ScriptedModel([]), StrategyConfig("react"), tmp_path / "o.jsonl", parallel=2)


def test_cli_parallel_is_refused_for_sampling_before_a_model_loads(gsm8k_file):
    args = ["gsm8k", "--data", str(gsm8k_file), "--strategy", "sc", "--parallel", "2", "--model", "nope.gguf"]
    result = CliRunner().invoke(eval_cmd, args)
    assert result.exit_code != 0 and "--parallel runs greedy" in result.output and "nope.gguf" not in result.output
