"""Game of 24 task: exact validation, strict move parsing, grammars and prompt layout."""

from fractions import Fraction

import pytest

from agent.core.backends.fake import ScriptedModel
from search import State
from search.tasks.arith import evaluate
from search.tasks.game24 import Game24, compose, legal_moves, parse_move, validate

F = Fraction


@pytest.mark.parametrize(
    "expr", ["(10-4)*(13-9)", "(10 - 4) * (13 - 9) = 24", "Answer: (13 - 9) * (10 - 4) = 24", "4 × (9 − (13 − 10))"]
)
def test_validate_accepts_correct_answers(expr):
    assert validate("4 9 10 13", expr)


@pytest.mark.parametrize(
    "expr",
    [
        "(10-4)*(13-9)+0",  # uses a number not in the puzzle
        "(10-4)*(13-10)",  # 10 twice, 9 never
        "10+4+13-9",  # uses all four but equals 18
        "(10-4)*(13-9)**1",  # power is not allowed
        "__import__('os')",  # not arithmetic
        "",
        "(10-4)*(13-9",  # unbalanced
        "6*4",  # intermediate numbers only
    ],
)
def test_validate_rejects_wrong_answers(expr):
    assert not validate("4 9 10 13", expr)


def test_validate_is_exact_with_fractions():
    assert validate("3 3 8 8", "8 / (3 - 8 / 3)")
    assert not validate("3 3 8 8", "8 / (3 - 8 / 3) + 0.0000001")


def test_evaluate_refuses_names_and_calls():
    with pytest.raises(ValueError):
        evaluate("print(1)")
    with pytest.raises(ValueError):
        evaluate("1/0")


def test_parse_move_accepts_the_papers_format_and_canonicalises():
    nums = [F(4), F(9), F(10), F(13)]
    step, left = parse_move(nums, " 13 - 9 = 4 (left: 4 4 10)")
    assert step == "13 - 9 = 4 (left: 4 4 10)"
    assert left == [F(4), F(4), F(10)]
    step, left = parse_move([F(3), F(3), F(8)], "8 / 3 = 2.67 (left: 2.67 3)")
    assert step == "8 / 3 = 2.67 (left: 2.67 3)" and left == [F(8, 3), F(3)]  # kept exact, shown rounded
    assert parse_move([F(8, 3), F(3)], "2.67 * 3 = 8 (left: 8)")[1] == [F(8)]


@pytest.mark.parametrize(
    "line",
    [
        "13 - 9 = 5 (left: 4 5 10)",  # wrong arithmetic
        "13 - 7 = 6 (left: 4 6 9 10)",  # 7 is not left
        "13 - 9 = 4 (left: 4 10)",  # wrong list left
        "13 - 9 = 4",  # no left list
        "Let's add 13 and 9",  # not a move
        "4 + 4 = 8 (left: 8 9 10 13)",  # only one 4 is left
    ],
)
def test_parse_move_drops_illegal_lines(line):
    assert parse_move([F(4), F(9), F(10), F(13)], line) is None


def test_propose_keeps_only_legal_distinct_moves():
    reply = (
        "13 - 9 = 4 (left: 4 4 10)\n10 - 4 = 6 (left: 6 9 13)\nnonsense line\n13 - 9 = 5 (left: 4 5 10)\n"
        "13 - 9 = 4 (left: 4 4 10)\n"
    )
    model = ScriptedModel([reply])
    steps = Game24(grammar="off", style="list", propose_by="model").propose(
        model, State("4 9 10 13"), 1, temperature=0.7, seed=0
    )
    assert steps == ["13 - 9 = 4 (left: 4 4 10)", "10 - 4 = 6 (left: 6 9 13)"]
    assert model.calls[0]["grammar"] is None


def test_moves_grammar_lists_every_legal_move_and_n_samples_go_in_one_call():
    model = ScriptedModel(lambda p: "4 + 9 = 13 (left: 10 13 13)\n")
    Game24(propose_by="model").propose(model, State("4 9 10 13"), 3, temperature=0.7, seed=1)
    assert len(model.calls) == 1 and model.calls[0]["n"] == 3
    grammar = model.calls[0]["grammar"]
    for move in legal_moves([F(4), F(9), F(10), F(13)]):
        assert f'"{move}"' in grammar
    assert '"13 - 9 = 4 (left: 4 4 10)"' in grammar
    assert "root ::=" in grammar


def test_prompts_put_the_state_last_so_siblings_share_a_prefix():
    task = Game24()
    a = task.value_prompt(State("4 9 10 13", ("13 - 9 = 4 (left: 4 4 10)",))).prompt
    b = task.value_prompt(State("4 9 10 13", ("10 - 4 = 6 (left: 6 9 13)",))).prompt
    common = len(a) - len("4 4 10:")
    assert a[:common] == b[:common] and a.endswith("\n4 4 10:") and b.endswith("\n6 9 13:")
    p1 = task._propose_query([F(4), F(4), F(10)]).prompt
    p2 = task._propose_query([F(6), F(9), F(13)]).prompt
    assert p1.split("Input: 4 4 10")[0] == p2.split("Input: 6 9 13")[0]


def test_last_step_asks_the_model_for_the_expression():
    steps = ("13 - 9 = 4 (left: 4 4 10)", "10 - 4 = 6 (left: 4 6)", "4 * 6 = 24 (left: 24)")
    state = State("4 9 10 13", steps)
    model = ScriptedModel([" (10 - 4) * (13 - 9) = 24", " garbage", " (10 - 4) * (13 - 9) = 24"])
    task = Game24(n_answers=3, answer_by="model")
    answers = task.propose(model, state, 1, temperature=0.7, seed=0)
    assert answers == ["Answer: (10 - 4) * (13 - 9) = 24"]
    assert model.calls[0]["prompt"].endswith("4 * 6 = 24 (left: 24)\nAnswer:")
    done = task.apply(state, answers[0])
    assert task.is_terminal(done) and task.answer(done) == "(10 - 4) * (13 - 9)"
    assert "Judge:" in task.value_prompt(done).prompt


def test_compose_builds_the_expression_from_the_moves():
    steps = ("13 - 9 = 4 (left: 4 4 10)", "10 - 4 = 6 (left: 4 6)", "6 * 4 = 24 (left: 24)")
    expr = compose(State("4 9 10 13", steps))
    assert validate("4 9 10 13", expr)
    task = Game24(answer_by="steps")
    assert task.propose(ScriptedModel([]), State("4 9 10 13", steps), 1, temperature=0, seed=0) == [
        f"Answer: {expr} = 24"
    ]


def test_dead_end_has_no_proposals_and_bad_puzzle_raises():
    task = Game24()
    dead = State("1 1 1 1", ("1 + 1 = 2 (left: 1 1 2)", "1 + 1 = 2 (left: 2 2)", "2 + 2 = 4 (left: 4)"))
    assert task.propose(ScriptedModel([]), dead, 1, temperature=0, seed=0) == []
    with pytest.raises(ValueError):
        task.initial_state("1 2 3")
    with pytest.raises(ValueError):
        Game24(grammar="sometimes")


def test_rules_proposer_lists_every_legal_move_without_asking_the_model():
    model = ScriptedModel([])  # any call would raise: no replies scripted
    task = Game24(propose_by="rules")
    state = task.initial_state("4 9 10 13")
    assert task.propose(model, state, 8, temperature=0.7, seed=0) == legal_moves([F(4), F(9), F(10), F(13)])
    two = state.then("13 - 9 = 4 (left: 4 4 10)").then("10 - 4 = 6 (left: 4 6)")
    assert "6 * 4 = 24 (left: 24)" in task.propose(model, two, 1, temperature=0.7, seed=0)
    assert model.calls == []
    with pytest.raises(ValueError, match="propose_by"):
        Game24(propose_by="solver")


def test_rules_proposer_search_finds_what_the_judge_ranks_first():
    """BFS over every legal move: a judge that rates only the states on one winning line 'sure' leads to it."""
    from search import solve

    on_line = {"4 4 10", "4 6", "24"}

    def judge(prompt: str) -> str:
        numbers = prompt.rstrip(":").splitlines()[-1].strip().rstrip(":")
        if prompt.startswith("Evaluate") and "Answer:" not in prompt:
            return " sure" if numbers in on_line else " impossible"
        return "sure"  # the answer judgement

    model = ScriptedModel(judge)
    result = solve("4 9 10 13", task=Game24(), model=model, beam=1, n_evaluate=1, evaluator="value")
    assert validate("4 9 10 13", result.answer)
    assert result.best_path[:3] == ["13 - 9 = 4 (left: 4 4 10)", "10 - 4 = 6 (left: 4 6)", "6 * 4 = 24 (left: 24)"]


def test_game24_defaults_are_the_rules_proposer_and_the_logprob_judge():
    from search import solve

    model = ScriptedModel(lambda prompt: "sure")
    result = solve("4 9 10 13", task="game24", model=model, beam=2)
    assert result.stats["evaluator"] == "logprob"
    # the rules proposed, the model judged: not model-only
    assert (result.stats["proposer"], result.stats["judge"], result.stats["model_only"]) == ("rules", "model", False)
    assert all(c["grammar"] in ('root ::= "sure"', 'root ::= "impossible"') for c in model.calls)  # judging only
    assert (
        solve("4 9 10 13", task="game24", model=ScriptedModel(lambda p: "sure"), evaluator="value").stats["evaluator"]
        == "value"
    )
