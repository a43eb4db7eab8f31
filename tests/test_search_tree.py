"""The search tree: export to JSON and GraphML and back, and the offline HTML page."""

import itertools
import json
import re

import networkx as nx
import pytest

from agent.core.backends.fake import ScriptedModel
from search import solve
from search.tasks.game24 import legal_moves, puzzle_numbers
from search.tree import from_json, read_graphml, save, to_json


@pytest.fixture(scope="module")
def result():
    asked = itertools.count()

    def model(prompt):  # legal moves in turn, verdicts by prompt length: a varied tree
        lines = prompt.rstrip("\n").splitlines()
        if prompt.endswith("Possible next steps:\n"):
            moves = legal_moves(puzzle_numbers(lines[-2]))
            return moves[next(asked) % len(moves)] + "\n"
        if prompt.endswith("Answer:"):
            return " (10 - 4) * (13 - 9) = 24"
        return [" sure", " likely", " impossible"][len(prompt) % 3]

    return solve(
        "4 9 10 13",
        model=ScriptedModel(model),
        beam=2,
        n_evaluate=2,
        n_generate=3,
        evaluator="value",
        task_options={"propose_by": "model"},  # this scripted model proposes
    )


def assert_same_graph(a: nx.DiGraph, b: nx.DiGraph):
    assert nx.utils.graphs_equal(a, b)
    for node in a.nodes:
        assert a.nodes[node] == b.nodes[node]
        assert {k: type(v) for k, v in a.nodes[node].items()} == {k: type(v) for k, v in b.nodes[node].items()}
    for u, v in a.edges:
        assert a.edges[u, v] == b.edges[u, v]
    assert a.graph == b.graph


def test_tree_nodes_carry_state_depth_value_and_evaluations(result):
    g = result.tree
    root = g.nodes[0]
    assert root["state"] == "4 9 10 13" and root["depth"] == 0 and root["tokens"] > 0
    child = next(iter(g.successors(0)))
    assert g.nodes[child]["judged"] and g.nodes[child]["value"] > 0
    assert json.loads(g.nodes[child]["evaluations"])  # the raw judgements are kept
    assert g.edges[0, child]["step"] in g.nodes[child]["state"]
    chosen = [n for n, d in g.nodes(data=True) if d["chosen"]]
    assert len(chosen) == len(result.best_path) + 1 and len(result.best_path) >= 3
    assert max(d for _, d in g.nodes(data="depth")) >= 3 and any(d["pruned"] for _, d in g.nodes(data=True))


def test_json_export_reloads_into_an_equal_graph(result, tmp_path):
    assert_same_graph(result.tree, from_json(to_json(result.tree)))
    path = save(result.tree, tmp_path / "tree.json")
    assert_same_graph(result.tree, from_json(path.read_text()))


def test_graphml_export_reloads_into_an_equal_graph(result, tmp_path):
    path = save(result.tree, tmp_path / "tree.graphml")
    assert_same_graph(result.tree, read_graphml(path))


def test_html_page_is_self_contained_and_shows_the_states(result, tmp_path):
    path = save(result.tree, tmp_path / "tree.html")
    page = path.read_text()
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)\s*=", page, re.IGNORECASE)
    assert "http://" not in page and "https://" not in page and "@import" not in page
    for _, state in result.tree.nodes(data="state"):
        assert state.splitlines()[-1] in page
    assert 'class="edge chosen"' in page and "node chosen" in page
    assert page.count('class="node') == result.tree.number_of_nodes()


def test_html_escapes_model_text(tmp_path):
    model = ScriptedModel(lambda p: "</script><b>x</b>" if p.endswith("Thoughts:\n") else "Answer: <i>y</i>")
    res = solve(
        "What is <this>?", task="generic", model=model, beam=1, n_generate=1, max_depth=2, evaluator=lambda q, s: 1.0
    )
    page = save(res.tree, tmp_path / "t.html").read_text()
    assert "</script><b>" not in page and "<i>y</i>" not in page.split("<script")[0]


def test_save_refuses_unknown_formats(result, tmp_path):
    with pytest.raises(ValueError, match="html"):
        save(result.tree, tmp_path / "tree.png")
