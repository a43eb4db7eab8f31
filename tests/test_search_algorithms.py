"""BFS, DFS and MCTS over the Task protocol, and solve(), with scripted models."""

import functools
import itertools
from dataclasses import dataclass, field
from fractions import Fraction

import pytest

from agent.core.backends.fake import ScriptedModel
from search import Query, SearchResult, State, Task, solve
from search.tasks.game24 import compose, legal_moves, puzzle_numbers, validate

# the scripted models below propose moves and judge with sampled labels (not game24's defaults)
MODEL_PROPOSES = {"evaluator": "value", "task_options": {"propose_by": "model"}}


def solvable(numbers: list[Fraction]) -> bool:
    return _solvable(tuple(sorted(numbers)))


@functools.cache
def _solvable(numbers: tuple[Fraction, ...]) -> bool:
    if len(numbers) == 1:
        return numbers[0] == 24
    for i, j in itertools.permutations(range(len(numbers)), 2):
        rest = [x for k, x in enumerate(numbers) if k not in (i, j)]
        a, b = numbers[i], numbers[j]
        results = [a + b, a - b, a * b] + ([a / b] if b else [])
        if any(_solvable(tuple(sorted([*rest, r]))) for r in results):
            return True
    return False


class Oracle:
    """A perfect Game of 24 player: proposes a legal move per sample (those that can still reach
    24 first, then the rest, in turn) and judges truthfully."""

    def __init__(self):
        self.asked: dict[str, int] = {}

    def __call__(self, prompt: str) -> str:
        lines = prompt.rstrip("\n").splitlines()
        if prompt.endswith("Possible next steps:\n"):
            moves = legal_moves(puzzle_numbers(lines[-2].removeprefix("Input:")))
            moves.sort(key=lambda m: not solvable(puzzle_numbers(m.split("left:")[1])))
            i = self.asked[prompt] = self.asked.get(prompt, -1) + 1
            return moves[i % len(moves)] + "\n"
        if prompt.endswith("Judge:\n"):
            return "sure" if validate(lines[-3].removeprefix("Input:"), lines[-2]) else "impossible"
        if prompt.endswith("Answer:"):
            start = len(lines) - 1 - lines[::-1].index("Steps:")
            state = State(lines[start - 1].removeprefix("Input: "), tuple(lines[start + 1 : -1]))
            return f" {compose(state)} = 24"
        nums = [Fraction(x) for x in lines[-1].rstrip(":").split()]
        return " sure" if solvable(nums) else " impossible"


def oracle_model() -> ScriptedModel:
    return ScriptedModel(Oracle())


@dataclass
class ToyTask:
    """A task given as a table: children of each state, and the model's verdict on each."""

    children: dict[str, list[str]]
    name: str = "toy"
    max_depth: int = 4
    n_generate: int = 1
    proposed: list[str] = field(default_factory=list)

    def key(self, state: State) -> str:
        return "/".join(state.steps) or "root"

    def initial_state(self, question):
        return State(question)

    def propose(self, model, state, n, *, temperature, seed):
        self.proposed.append(self.key(state))
        return list(self.children.get(self.key(state), []))

    def apply(self, state, step):
        return state.then(step)

    def is_terminal(self, state):
        return bool(state.steps) and state.steps[-1].startswith("ans")

    def answer(self, state):
        return state.steps[-1] if self.is_terminal(state) else None

    def value_prompt(self, state):
        return Query(f"value {self.key(state)}")

    def vote_prompt(self, states):
        return Query("vote " + ",".join(self.key(s) for s in states))


def verdicts(table: dict[str, str]) -> ScriptedModel:
    return ScriptedModel(lambda p: table.get(p.removeprefix("value "), "impossible"))


def test_toy_task_satisfies_the_protocol():
    assert isinstance(ToyTask({}), Task)


@pytest.mark.parametrize("beam", [1, 2, 5])
def test_bfs_keeps_exactly_beam_states_per_level_and_solves(beam):
    model = oracle_model()
    result = solve("4 9 10 13", task="game24", model=model, algorithm="bfs", beam=beam, n_evaluate=1, **MODEL_PROPOSES)
    assert isinstance(result, SearchResult)
    g = result.tree
    for depth in range(1, 5):
        level = [n for n, d in g.nodes(data=True) if d["depth"] == depth]
        kept = [n for n in level if not g.nodes[n]["pruned"]]
        assert len(kept) == min(beam, len(level)), depth
        for n in [n for n, d in g.nodes(data=True) if d["depth"] == depth + 1]:
            assert not g.nodes[next(g.predecessors(n))]["pruned"]  # only kept states were expanded
    assert validate("4 9 10 13", result.answer)
    assert result.stats["valid"] is True and result.stats["model_only"] is True
    assert len(result.best_path) == 4 and result.best_path[-1].startswith("Answer:")
    assert result.stats["nodes"] == g.number_of_nodes() > 1


def test_the_beam_defaults_to_the_tasks():
    def kept_at_first_level(**kwargs):
        g = solve("4 9 10 13", task="game24", model=oracle_model(), n_evaluate=1, max_depth=1, **kwargs).tree
        return sum(1 for n, d in g.nodes(data=True) if d["depth"] == 1 and not d["pruned"])

    # the rules propose every legal first move of 4 9 10 13 (more than 10): game24 keeps 10 of them, b=3 keeps 3
    assert kept_at_first_level(evaluator="value") == 10
    assert kept_at_first_level(evaluator="value", beam=3) == 3


def test_bfs_sampled_selection_is_repeatable_and_keeps_beam():
    runs = [
        solve("4 9 10 13", model=oracle_model(), beam=3, selection="sample", seed=7, n_evaluate=1, **MODEL_PROPOSES)
        for _ in range(2)
    ]
    kept = [[n for n, d in r.tree.nodes(data=True) if d["depth"] == 1 and not d["pruned"]] for r in runs]
    assert kept[0] == kept[1] and len(kept[0]) == 3


def test_dfs_prunes_below_threshold_and_backtracks():
    task = ToyTask({"root": ["a", "b", "c"], "a": ["a1"], "b": ["ans-b"]})
    model = verdicts({"a": "sure", "b": "likely", "c": "impossible", "a/a1": "likely", "b/ans-b": "sure"})
    result = solve("toy", task=task, model=model, algorithm="dfs", n_evaluate=1, value_threshold=1.0)
    assert result.answer == "ans-b"
    assert result.best_path == ["b", "ans-b"]
    assert task.proposed == ["root", "a", "a/a1", "b"]  # a first (best), dead end, back to b; c never
    g = result.tree
    c = next(n for n, d in g.nodes(data=True) if d["state"] == "toy\nc")
    assert g.nodes[c]["pruned"] and g.out_degree(c) == 0
    assert result.stats["backtracks"] >= 1


def test_dfs_stops_at_max_nodes():
    task = ToyTask({"root": ["a", "b"], "a": ["a1", "a2"], "a/a1": ["a1x"], "b": ["ans-b"]})
    model = verdicts({k: "sure" for k in ["a", "b", "a/a1", "a/a2", "a/a1/a1x", "b/ans-b"]})
    result = solve("toy", task=task, model=model, algorithm="dfs", n_evaluate=1, max_nodes=3)
    assert result.stats["nodes"] == 3 and result.answer is None  # root, a, b: then the budget is spent


def test_mcts_visits_grow_and_rewards_back_propagate():
    table = {"root": ["a", "b"], "a": ["ans-a"], "b": ["ans-b", "b2"]}
    labels = {"a": "likely", "b": "sure", "a/ans-a": "sure", "b/ans-b": "impossible", "b/b2": "likely"}
    visits = []
    for iterations in (1, 3, 6):
        result = solve(
            "toy", task=ToyTask(table), model=verdicts(labels), algorithm="mcts", n_evaluate=1, iterations=iterations
        )
        g = result.tree
        visits.append(g.nodes[0]["visits"])
        for node in g.nodes:  # a node is visited at least as often as all its children together
            assert g.nodes[node]["visits"] >= sum(g.nodes[c]["visits"] for c in g.successors(node))
    assert visits == [1, 3, 6]
    ans_a = next(n for n, d in g.nodes(data=True) if d["answer"] == "ans-a")
    assert g.nodes[ans_a]["visits"] >= 1 and g.nodes[ans_a]["q"] == pytest.approx(1.0)  # "sure" of 20
    assert 0 < g.nodes[0]["q"] <= 1
    assert result.answer == "ans-a"


def test_mcts_on_game24_reaches_an_answer():
    result = solve("4 9 10 13", model=oracle_model(), algorithm="mcts", iterations=2, n_evaluate=1, **MODEL_PROPOSES)
    assert validate("4 9 10 13", result.answer)
    assert result.tree.nodes[0]["visits"] == 2


def test_same_value_prompt_is_judged_once_across_the_search():
    model = oracle_model()
    solve("4 9 10 13", model=model, beam=3, n_evaluate=2, **MODEL_PROPOSES)
    value_prompts = [c["prompt"] for c in model.calls if not c["prompt"].endswith(("steps:\n", "Answer:"))]
    assert len(value_prompts) == len(set(value_prompts))  # e.g. "4 4 10" left by different moves: one call
    assert all(c["n"] == 2 for c in model.calls if c["prompt"] in value_prompts)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"algorithm": "astar"},
        {"evaluator": "oracle"},
        {"task": "chess"},
        {"beam": 0},
        {"selection": "best"},
        {"no_such_option": 1},
    ],
)
def test_solve_rejects_unknown_strategies(kwargs):
    with pytest.raises(ValueError):
        solve("4 9 10 13", model=oracle_model(), **kwargs)


def test_stats_count_model_calls_and_tokens():
    model = oracle_model()
    result = solve("4 9 10 13", model=model, beam=2, n_evaluate=1, **MODEL_PROPOSES)
    s = result.stats
    assert s["model_calls"] == len(model.calls)
    assert s["prompt_tokens"] == sum(model.count_tokens(c["prompt"]) for c in model.calls)
    assert s["completion_tokens"] > 0 and s["seconds"] >= 0
    assert s["evaluator"] == "value" and s["algorithm"] == "bfs" and s["task"] == "game24"
    assert [c["seed"] for c in model.calls] == [1000 * i for i in range(len(model.calls))]  # repeatable


def test_to_dict_is_json_ready_and_task_options_reach_the_task():
    import json

    result = solve(
        "4 9 10 13",
        model=oracle_model(),
        beam=2,
        n_evaluate=1,
        evaluator="value",
        task_options={"answer_by": "steps", "propose_by": "model"},
    )
    data = json.loads(json.dumps(result.to_dict()))
    assert set(data) == {"answer", "best_path", "stats"} and data["stats"]["nodes"] == result.tree.number_of_nodes()
    assert validate("4 9 10 13", data["answer"])
    assert data["stats"]["task_options"]["answer_by"] == "steps"  # reported: the expression was transcribed
    with pytest.raises(TypeError):
        solve("4 9 10 13", task=object(), model=oracle_model())
