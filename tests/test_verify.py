"""The learned verifier: its prompt, its score, votes weighted by it, the sc strategy with it."""

import json
import math

import pytest

from agent.app.evaluate import get_task, run_eval
from agent.core.backends.fake import ScriptedModel
from agent.core.jsonl import read_jsonl
from agent.core.model import Completion, ModelError
from agent.core.steps import Action, Step, StepError, Trajectory
from agent.strategies.config import StrategyConfig
from agent.strategies.features import trajectory_features
from agent.strategies.verify import (
    LABELS,
    FeatureVerifier,
    ModelVerifier,
    label_odds,
    load_verifier,
    verifier_prompt,
    weighted_vote,
)
from tools.base import load_tools


class JudgeModel(ScriptedModel):
    """A verifier whose P(correct) is ``p_right`` when the prompt's answer line is ``Answer: 72``, else 0.2."""

    def __init__(self, p_right: float = 0.9):
        super().__init__(lambda prompt: "x")
        self.p_right = p_right

    def complete(self, prompt, *, grammar=None, logprobs=False, **kwargs):
        super().complete(prompt, grammar=grammar, logprobs=logprobs, **kwargs)
        p = self.p_right if "\nAnswer: 72\n" in prompt else 0.2
        lp = math.log(p) if LABELS[0] in grammar else math.log(1 - p)
        return Completion(["?"], logprobs=[[lp]] if logprobs else None)


STEPS = [
    Step("Half of 48 is sold in May.", Action("calculator", {"expression": "48/2"}), "24"),
    Step("Oops.", None, "Invalid", error=StepError("parse", "no Action line")),
    Step("I know the answer.", answer="72"),
]


def test_prompt_shows_each_tool_call_with_its_result_and_the_answer():
    prompt = verifier_prompt("  How many clips?  ", STEPS, "72")
    assert prompt == (
        "Check the solution (correct/wrong)\nQuestion: How many clips?\n"
        "Half of 48 is sold in May. [calculator: 48/2 = 24]\nOops. [error: no Action line]\n"
        "Answer: 72\nVerdict:"
    )
    assert "(no steps)" in verifier_prompt("Q?", [Step("I know.", answer="3")], "3")


def test_label_odds_compare_the_two_forced_labels():
    model = JudgeModel(p_right=0.9)
    assert label_odds(model, "Question: q\nAnswer: 72\nVerdict:") == pytest.approx(0.9)
    assert [c["grammar"] for c in model.calls] == ['root ::= " correct"', 'root ::= " wrong"']
    assert all(c["temperature"] == 0.0 for c in model.calls)
    assert ModelVerifier(model).score("q", STEPS, None) == 0.0  # no answer: nothing to check, no model call
    assert len(model.calls) == 2


def test_label_odds_need_logprobs():
    class NoLogprobs(ScriptedModel):
        def complete(self, prompt, **kwargs):
            return Completion(["correct"])

    with pytest.raises(ModelError, match="logprobs"):
        label_odds(NoLogprobs([]), "Verdict:")


def test_weighted_vote_sums_scores_per_normalised_answer():
    assert weighted_vote(["12", "$12.0", "7", None], [0.2, 0.3, 0.4, 0.9]) == ("12", {"12": 0.5, "7": 0.4})
    assert weighted_vote(["5", "6"], [0.5, 0.5])[0] == "5"  # a tie goes to the earliest
    assert weighted_vote([None, None], [1.0, 1.0]) == (None, {})
    with pytest.raises(ValueError, match="2 answers but 1 scores"):
        weighted_vote(["1", "2"], [0.3])


def test_load_default_verifier_says_when_none_ships(monkeypatch, tmp_path):
    monkeypatch.setattr("agent.strategies.verify.DEFAULT_VERIFIER", tmp_path / "missing.gguf")
    with pytest.raises(ModelError, match="no verifier ships"):
        load_verifier("default")


def sc_run(tmp_path, verifier):
    tmp_path.mkdir()
    path = tmp_path / "gsm8k.jsonl"
    path.write_text(
        json.dumps({"question": "Natalia sold 48 clips, then half as many. How many?", "answer": "#### 72"})
    )
    replies = ["Thought: I know the answer.\nFinal Answer: " + a + "\n" for a in ("70", "72", "70")]
    task, out = get_task("gsm8k"), tmp_path / "sc.jsonl"
    cfg = StrategyConfig("sc", samples=3, verifier=None if verifier is None else "judge")
    summary = run_eval(
        task, task.load(path), ScriptedModel(replies), cfg, out, tools=load_tools("calculator"), verifier=verifier
    )
    return summary, next(read_jsonl(out))


def test_sc_with_a_verifier_lets_scores_outvote_the_majority(tmp_path):
    _, record = sc_run(tmp_path / "plain", None)
    assert not record["correct"] and record["answer"] == "70" and "weighted" not in record
    assert [s["answer"] for s in record["samples"]] == ["70", "72", "70"]
    _, record = sc_run(tmp_path / "judged", ModelVerifier(JudgeModel(p_right=0.9)))
    assert record["correct"] and record["answer"] == "72" and record["variant"] == "sc(samples=3, verifier=judge)"
    assert record["weighted"] == {"70": 0.4, "72": 0.9}
    assert [s["score"] for s in record["samples"]] == [0.2, 0.9, 0.2]
    assert record["steps"][-1]["answer"] == "72"


def test_a_verifier_is_only_for_sc():
    with pytest.raises(ValueError, match="--verifier is for sc"):
        StrategyConfig("react", verifier="default").resolved()


def sc_record(question, gold, answers):
    steps = lambda a: [Step("I know the answer.", answer=a).to_dict()]
    samples = [{"answer": a, "steps": steps(a)} for a in answers]
    return {"index": 0, "question": question, "prompt": question, "gold": gold, "trace": {"samples": samples}}


def test_solve_with_samples_and_a_verifier_reports_the_weighted_votes(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from agent.app.cli import cli

    replies = tmp_path / "replies.json"
    replies.write_text(json.dumps(["Thought: t\nFinal Answer: " + a + "\n" for a in ("70", "72", "70")]))
    monkeypatch.setattr("agent.strategies.verify.load_verifier", lambda spec: ModelVerifier(JudgeModel(p_right=0.95)))
    args = ["solve", "q", "--model", f"fake:{replies}", "--samples", "3", "--verifier", "judge", "--json"]
    out = json.loads(CliRunner().invoke(cli, args, catch_exceptions=False).output)
    assert out["answer"] == "72" and out["votes"] == {"70": 2, "72": 1}
    assert out["weighted"] == {"70": 0.4, "72": 0.95}


def traj(question, calls, answer):
    steps = [Step("t", Action("calculator", {"expression": e}), o) for e, o in calls]
    return Trajectory(question, [*steps, Step("done", answer=answer)], answer)


def test_features_read_votes_numbers_and_tool_results_off_each_sample():
    q = "Tom has 12 apples and buys 30 more. How many now?"
    good = traj(q, [("12+30", "42")], "42")
    odd = traj(q, [("12*7", "84"), ("84/5", "16.8")], "16.8")
    f_good, f_odd, f_again = trajectory_features(q, [good, odd, good])
    assert f_good["vote_share"] == pytest.approx(2 / 3) and f_odd["vote_share"] == pytest.approx(1 / 3)
    assert (f_good["whole"], f_odd["whole"]) == (1.0, 0.0)
    assert f_good["question_numbers_used"] == 1.0 and f_odd["question_numbers_used"] == 0.5
    assert f_good["invented_numbers"] == 0.0 and f_odd["invented_numbers"] == pytest.approx(2 / 4)  # 7 and 5
    assert f_good["answer_is_last_result"] == f_odd["answer_is_last_result"] == 1.0
    assert f_again == f_good
    none = trajectory_features(q, [Trajectory(q, [Step("hmm", error=StepError("parse", "x"))], None)])[0]
    assert none["no_answer"] == 1.0 and none["vote_share"] == 0.0 and none["errors"] == 0.25


def test_a_feature_verifier_round_trips_through_json_and_prefers_whole_answers(tmp_path):
    from agent.strategies.features import FEATURES

    zeros = dict.fromkeys(FEATURES, 0.0)
    v = FeatureVerifier({"whole": 2.0}, -1.0, zeros, dict.fromkeys(FEATURES, 1.0))
    path = tmp_path / "verifier.json"
    path.write_text(json.dumps(v.to_dict()))
    loaded = load_verifier(str(path))
    q = "Tom has 12 apples and buys 30 more. How many now?"
    scores = loaded.score_all(q, [traj(q, [("12+30", "42")], "42"), traj(q, [("12/5", "2.4")], "2.4")])
    assert scores == pytest.approx([1 / (1 + math.exp(-1.0)), 1 / (1 + math.exp(1.0))])
    path.write_text(json.dumps({**v.to_dict(), "weights": {"shoe_size": 1.0}}))
    with pytest.raises(ModelError, match="unknown features"):
        load_verifier(str(path))


def test_fit_learns_what_separates_right_from_wrong_samples_on_held_out_questions():
    from agent.strategies.features import FEATURES
    from examples.recipes.verifier_fit import cross_validate, fit, labelled, predict

    def record(i):  # right answers are whole, wrong ones fractions; the wrong one wins the majority
        q = f"Tom has {i} apples and buys 30 more. How many now?"
        good = traj(q, [(f"{i}+30", str(i + 30))], str(i + 30))
        bad = traj(q, [(f"{i}/7", "0.5")], "0.5")
        samples = [{"answer": t.answer, "steps": [s.to_dict() for s in t.steps]} for t in (good, bad, bad)]
        return {"index": i, "question": q, "gold": str(i + 30), "trace": {"samples": samples}}

    results = [record(i) for i in range(1, 21)]
    x, y, groups = labelled(results)
    assert x.shape == (60, len(FEATURES)) and y.tolist()[:3] == [1.0, 0.0, 0.0] and groups[-1] == 19
    model = fit(x, y)
    assert (predict(model, x[y == 1]).min() > predict(model, x[y == 0]).max()).all()
    cv = cross_validate(results, folds=4, seed=0)
    assert (cv["majority"], cv["weighted"], cv["ceiling"], cv["auc"]) == (0, 20, 20, 1.0)
    with pytest.raises(ValueError, match="both right and wrong"):
        fit(x[y == 0], y[y == 0])


def test_the_fit_table_holds_each_sample_once_without_timings(tmp_path):
    """The verifier round's data: the same samples give the same bytes whatever their timings."""
    from examples.recipes.round import sha256_of
    from examples.recipes.verifier_fit import labelled, write_table

    q = "Tom has 4 apples and buys 30 more. How many now?"
    good, bad = traj(q, [("4+30", "34")], "34"), traj(q, [("4/7", "0.5")], "0.5")

    def results(seconds):
        steps = [[{**s.to_dict(), "seconds": seconds} for s in t.steps] for t in (good, bad)]
        return [{"index": 0, "question": q, "gold": "34",
                 "trace": {"samples": [{"answer": t.answer, "steps": st} for t, st in zip((good, bad), steps)]}}]

    for name, seconds in (("a.jsonl", 0.5), ("b.jsonl", 9.25)):
        x, y, _ = labelled(results(seconds))
        write_table(tmp_path / name, results(seconds), x, y)
    rows = [json.loads(line) for line in (tmp_path / "a.jsonl").read_text().splitlines()]
    assert [(r["answer"], r["right"]) for r in rows] == [("34", True), ("0.5", False)]
    assert sha256_of(tmp_path / "a.jsonl") == sha256_of(tmp_path / "b.jsonl")
