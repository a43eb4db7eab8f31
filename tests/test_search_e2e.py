"""End to end: ToT search on the embedded llama.cpp model (slow)."""

import pytest

from search import solve
from search.tasks.game24 import Game24, parse_move, puzzle_numbers
from search.tree import save


@pytest.fixture(scope="module")
def embedded_model():
    try:
        import llama_cpp  # noqa: F401

        from agent.core.load import load_model
        from agent.core.model import ModelError
    except ImportError as err:
        pytest.skip(f"the llama.cpp backend cannot be imported: {err}")
    try:
        return load_model(None, n_threads=1)  # one thread: fastest on a small, shared CPU
    except ModelError as err:
        pytest.skip(f"the embedded model is not available: {err}")


@pytest.mark.slow
def test_tot_bfs_on_the_embedded_model(embedded_model, tmp_path):
    result = solve(
        "4 9 10 13",
        task="game24",
        model=embedded_model,
        algorithm="bfs",
        beam=2,
        n_generate=4,
        n_evaluate=1,
        max_depth=2,
        seed=0,
        task_options={"propose_by": "model"},  # the model proposes (the grammar lists the legal moves) and judges
    )
    g = result.tree
    assert result.stats["nodes"] > 1 and result.stats["model_calls"] >= 2
    assert result.stats["completion_tokens"] > 0 and result.stats["model_only"] is True
    assert (result.stats["proposer"], result.stats["judge"]) == ("model", "model")
    task = Game24()
    for parent, child, step in g.edges(data="step"):  # the grammar keeps every move legal
        assert parse_move(task.numbers(_state(g, parent)), step) is not None, step
    assert all(g.nodes[n]["judged"] for n in g.nodes if n != 0)
    assert len(result.best_path) == 2
    page = save(result.tree, tmp_path / "tree.html").read_text()
    assert result.best_path[0] in page


def _state(g, node):
    from search import State

    lines = g.nodes[node]["state"].splitlines()
    assert puzzle_numbers(lines[0])
    return State(lines[0], tuple(lines[1:]))
