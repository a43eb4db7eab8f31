"""Evaluators (value, vote, verifier, learned scorer), their caches, and the line-based tasks."""

import math

import pytest

from agent.core.backends.fake import ScriptedModel
from agent.core.model import Completion, ModelError
from search import Evaluator, State, solve
from search.evaluators import (
    LearnedScorer,
    LogprobScorer,
    ScorerEvaluator,
    ValueEvaluator,
    VerifierEvaluator,
    VoteEvaluator,
    make_evaluator,
    read_label,
)
from search.tasks.game24 import Game24
from search.tasks.generic import Generic
from search.tasks.gsm8k import GSM8K, arithmetic_verifier, check_equations

S1 = State("4 9 10 13", ("13 - 9 = 4 (left: 4 4 10)",))
S2 = State("4 9 10 13", ("10 - 4 = 6 (left: 6 9 13)",))


def test_value_weights_sure_likely_impossible_over_n_samples_in_one_call():
    model = ScriptedModel([" sure", " likely", " impossible"])
    ev = ValueEvaluator(n=3)
    (e,) = ev.evaluate(model, Game24(), [S1])
    assert e.value == pytest.approx(20 + 1 + 0.001)
    assert len(model.calls) == 1 and model.calls[0]["n"] == 3
    assert e.outputs == (" sure", " likely", " impossible")


def test_value_evaluations_are_cached_per_state():
    model = ScriptedModel(lambda p: " sure")
    ev = ValueEvaluator(n=2)
    first = ev.evaluate(model, Game24(), [S1, S2])
    again = ev.evaluate(model, Game24(), [S2, S1, S1])
    assert len(model.calls) == 2 and ev.hits == 3
    assert [e.value for e in again] == [first[1].value, first[0].value, first[0].value]


@pytest.mark.parametrize(
    "text,label",
    [
        ("sure", "sure"),
        ("4 + 4 + 10 = 18\nimpossible\n5 6 6\nlikely", "impossible"),
        ("I think it is likely.", "likely"),
        ("no idea", None),
        (" Sure.", "sure"),
    ],
)
def test_read_label_takes_the_first_verdict(text, label):
    assert read_label(text) == label


def test_vote_counts_votes_in_one_call_and_caches_the_set():
    model = ScriptedModel(["The best choice is 2", "the best choice is 2", "The best choice is 1", "choice 9"])
    ev = VoteEvaluator(n=4)
    values = [e.value for e in ev.evaluate(model, Game24(), [S1, S2])]
    assert values == [1.0, 2.0]
    assert len(model.calls) == 1 and model.calls[0]["n"] == 4
    assert "Choice 1:\n13 - 9 = 4" in model.calls[0]["prompt"] and "Choice 2:" in model.calls[0]["prompt"]
    ev.evaluate(model, Game24(), [S1, S2])
    assert len(model.calls) == 1 and ev.hits == 1


def test_verifier_is_reported_as_not_model_only_and_cached():
    calls = []

    def closeness(question, state):
        calls.append(state)
        return 1.0 if "24" in state.text else 0.0

    result = solve(
        "4 9 10 13",
        model=ScriptedModel(lambda p: "13 - 9 = 4 (left: 4 4 10)\n"),
        evaluator=closeness,
        beam=2,
        task_options={"propose_by": "model"},
    )
    assert result.stats["evaluator"] == "verifier:closeness"
    # the model proposed, a program judged: not model-only
    assert (result.stats["proposer"], result.stats["judge"], result.stats["model_only"]) == ("model", "program", False)
    assert len(calls) == len(set(calls))  # each state judged once
    ev = VerifierEvaluator(closeness)
    ev.evaluate(None, Game24(), [S1, S1])
    assert ev.hits == 1


class FixedScorer:
    def score(self, question, state):
        return 0.25


def test_make_evaluator_accepts_names_objects_scorers_and_callables():
    task = Game24()
    assert isinstance(make_evaluator("value", None, task), ValueEvaluator)
    assert isinstance(make_evaluator("vote", None, task), VoteEvaluator)
    assert isinstance(FixedScorer(), LearnedScorer)
    scorer = make_evaluator(FixedScorer(), None, task)
    assert isinstance(scorer, ScorerEvaluator) and isinstance(scorer, Evaluator)
    assert scorer.evaluate(None, task, [S1])[0].value == 0.25
    assert isinstance(make_evaluator(lambda q, s: 1.0, None, task), VerifierEvaluator)
    with pytest.raises(ValueError):
        make_evaluator("oracle", None, task)
    with pytest.raises(ValueError):
        make_evaluator(42, None, task)


class LabelLogprobModel(ScriptedModel):
    """Reports log-probabilities as if P(sure) = 0.6 and P(impossible) = 0.2."""

    def complete(self, prompt, *, grammar=None, logprobs=False, **kwargs):
        out = super().complete(prompt, grammar=grammar, logprobs=logprobs, **kwargs)
        lp = math.log(0.6) if '"sure"' in grammar else math.log(0.2)
        return Completion(out.texts, logprobs=[[lp]] if logprobs else None)


def test_logprob_scorer_compares_sure_with_impossible():
    scorer = LogprobScorer(LabelLogprobModel(lambda p: "x"), Game24())
    assert scorer.score("4 9 10 13", S1) == pytest.approx(0.6 / (0.6 + 0.2))


def test_logprob_scorer_needs_logprobs():
    class NoLogprobs(ScriptedModel):
        def complete(self, prompt, **kwargs):
            return Completion(["sure"])

    with pytest.raises(ModelError, match="logprobs"):
        LogprobScorer(NoLogprobs([]), Game24()).score("4 9 10 13", S1)


def test_gsm8k_steps_are_lines_and_the_last_gives_the_number():
    task = GSM8K()
    model = ScriptedModel(["In May she sold 48/2=24 clips.\nmore", "  ", "In May she sold 48/2=24 clips."])
    state = task.initial_state("Natalia sold 48 clips in April and half as many in May. How many in total?")
    steps = task.propose(model, state, 3, temperature=0.7, seed=0)
    assert steps == ["In May she sold 48/2=24 clips."]
    assert model.calls[0]["prompt"].endswith("How many in total?\nAnswer:\n") and model.calls[0]["n"] == 3
    done = task.apply(task.apply(state, steps[0]), "The answer is 1,072.")
    assert task.is_terminal(done) and task.answer(done) == "1072"
    assert not task.is_terminal(task.apply(state, steps[0]))
    child = task.apply(state, steps[0])
    assert task.value_prompt(child).prompt.startswith(task.value_prompt(state).prompt.split("Steps:\n(none)")[0])


def test_arithmetic_verifier_recomputes_equations():
    assert check_equations("12*7=84 and <<48/2=24>> then 3 + 4 = 8") == (3, 1)
    good = State("q", ("She earns 12*7=84 dollars.", "Then 84+16=100."))
    bad = State("q", ("She earns 12*7=85 dollars.",))
    plain = State("q", ("She is happy.",))
    assert arithmetic_verifier("q", good) == 1.0
    assert arithmetic_verifier("q", bad) == 0.0
    assert arithmetic_verifier("q", plain) == 0.5


def test_gsm8k_search_with_the_verifier_reaches_the_answer():
    replies = {
        "": ["In May she sold 48/2=25 clips.", "In May she sold 48/2=24 clips."],
        "24": ["Altogether 48+24=72 clips."],
        "72": ["The answer is 72."],
    }

    def model_fn(prompt):  # proposes only: the verifier judges
        last = prompt.rstrip("\n").splitlines()[-1]
        key = "72" if "72" in last else "24" if "=24" in last else "25" if "=25" in last else ""
        options = replies.get(key, ["The answer is 0."])
        model_fn.i = getattr(model_fn, "i", -1) + 1
        return options[model_fn.i % len(options)]

    result = solve(
        "Natalia sold 48 clips in April and half as many in May. How many in total?",
        task="gsm8k",
        model=ScriptedModel(model_fn),
        evaluator=arithmetic_verifier,
        beam=1,
        n_generate=2,
    )
    assert result.answer == "72"
    assert result.best_path[0] == "In May she sold 48/2=24 clips."


def test_generic_task_ends_on_an_answer_line():
    task = Generic()
    state = task.apply(task.initial_state("Capital of France?"), "France's capital is Paris.")
    assert not task.is_terminal(state)
    done = task.apply(state, "Answer: Paris")
    assert task.is_terminal(done) and task.answer(done) == "Paris"
    with pytest.raises(ValueError):
        task.initial_state("   ")


def test_grammars_are_dropped_for_backends_that_cannot_enforce_them():
    class RefusesGrammar(ScriptedModel):
        def complete(self, prompt, *, grammar=None, **kwargs):
            if grammar:
                raise ModelError("this backend cannot enforce a grammar")
            return super().complete(prompt, grammar=grammar, **kwargs)

    no_grammar = ScriptedModel(lambda p: " sure")
    no_grammar.supports_grammar = False
    for model in (no_grammar, RefusesGrammar(lambda p: " sure")):
        result = solve("4 9 10 13", model=model, beam=1, n_evaluate=1, max_depth=1)
        assert all(c["grammar"] is None for c in model.calls)
        assert result.stats["model_calls"] >= 1


def test_provenance_is_model_only_only_when_the_model_proposed_and_judged():
    from search.contract import provenance

    class Silent:  # a task or evaluator that does not say who it is
        pass

    model_task, rules_task = Game24(propose_by="model"), Game24(propose_by="rules")
    assert provenance(model_task, ValueEvaluator()) == {"proposer": "model", "judge": "model", "model_only": True}
    assert provenance(rules_task, ValueEvaluator())["model_only"] is False
    assert provenance(model_task, VerifierEvaluator(lambda q, s: 1.0))["model_only"] is False
    assert provenance(Silent(), ValueEvaluator()) == {"proposer": "unknown", "judge": "model", "model_only": False}
    assert provenance(model_task, Silent())["judge"] == "unknown"
    assert ScorerEvaluator(FixedScorer()).judge == "model"
    assert ScorerEvaluator(FixedScorer(), judge="program").judge == "program"
    with pytest.raises(ValueError, match="judge must be one of model, program"):
        ScorerEvaluator(FixedScorer(), judge="oracle")
