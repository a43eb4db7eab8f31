"""Tree-of-Thoughts search trees as training data: *propose* examples and *value* examples.

Input: one JSON object per tree (a line of a JSONL file, or a whole .json file), either simple::

    {"task": "game24", "question": "4 9 10 13",
     "nodes": [{"id": 0, "state": "4 9 10 13", "parent": null, "label": "likely"},
               {"id": 1, "state": "4 9 10 13\\n13 - 9 = 4 (left: 4 4 10)", "parent": 0, "label": "sure"}]}

or networkx node-link JSON as ``search.tree.to_json`` writes it (``graph`` attributes ``task`` and
``question``; ``edges``/``links`` with ``source``, ``target`` and ``step``). A node's ``label`` is
``sure``/``likely``/``impossible``; without one it is read from ``value`` on the paper's scale
(>= 20 sure, >= 1 likely, else impossible) when the node was judged.

A *value* example asks for the node's label; a *propose* example asks, from a node, for the
steps to its children that are not ``impossible``, one per line.
"""

from __future__ import annotations

import string
from typing import Any

from finetune.errors import DataError
from finetune.schema import Example

LABELS = ("sure", "likely", "impossible")
TEMPLATES = {
    "propose_system": "You solve $task problems step by step. Given the problem and the steps so far, "
    "write the possible next steps, one per line.",
    "value_system": "You judge partial solutions of $task problems. Given the problem and the steps so far, "
    "answer with one word: sure, likely or impossible.",
}


def _render(name: str, **values: str) -> str:
    return string.Template(TEMPLATES[name]).substitute(**values)


def _label(node: dict[str, Any]) -> str | None:
    label = node.get("label")
    if label is not None:
        return str(label).strip().lower()
    if node.get("judged", "value" in node) and isinstance(node.get("value"), (int, float)):
        value = float(node["value"])
        return "sure" if value >= 20 else "likely" if value >= 1 else "impossible"
    return None


def _parents(rec: dict[str, Any], nodes: dict[Any, dict[str, Any]]) -> dict[Any, tuple[Any, str | None]]:
    """child id -> (parent id, step text or None), from ``edges``/``links`` or ``parent`` attributes."""
    edges = rec.get("edges", rec.get("links"))
    if edges is not None:
        return {e["target"]: (e["source"], e.get("step")) for e in edges}
    return {nid: (n["parent"], n.get("step")) for nid, n in nodes.items() if n.get("parent") is not None}


def _step(parent: dict[str, Any], child: dict[str, Any], step: str | None) -> str:
    if step or child.get("step"):
        return str(step or child["step"]).strip()
    before, after = str(parent.get("state", "")), str(child.get("state", ""))
    return after[len(before) :].strip() if after.startswith(before) else after.strip()


def _index(rec: dict[str, Any], where: str) -> dict[Any, dict[str, Any]]:
    nodes = rec["nodes"]
    if not isinstance(nodes, list) or not all(isinstance(n, dict) for n in nodes):
        raise DataError(f"{where}: 'nodes' must be a list of objects")
    for i, node in enumerate(nodes):
        if "state" not in node:
            raise DataError(f"{where}: node {node.get('id', i)} is missing field 'state'")
    return {n.get("id", i): n for i, n in enumerate(nodes)}


def tree_examples(rec: dict[str, Any], where: str) -> list[Example]:
    """Propose and value examples from one search tree.

    Raises:
        DataError: a node lacks ``state``, a label is not sure/likely/impossible, or an edge names a missing node.
    """
    graph = rec.get("graph") or {}
    task = str(rec.get("task") or graph.get("task") or "reasoning")
    nodes = _index(rec, where)
    children: dict[Any, list[tuple[Any, str]]] = {}
    for child, (parent, step) in _parents(rec, nodes).items():
        if parent not in nodes or child not in nodes:
            raise DataError(f"{where}: an edge {parent} -> {child} names a node that is not in 'nodes'")
        children.setdefault(parent, []).append((child, _step(nodes[parent], nodes[child], step)))
    value_sys, propose_sys = _render("value_system", task=task), _render("propose_system", task=task)
    examples = []
    for nid, node in nodes.items():
        state, label = str(node["state"]), _label(node)
        if label is not None and label not in LABELS:
            raise DataError(f"{where}: node {nid} has label {label!r}; expected one of {', '.join(LABELS)}")
        if label is not None:
            examples.append(
                Example(
                    problem=state,
                    reasoning="",
                    answer=label,
                    completion=label,
                    messages=({"role": "system", "content": value_sys}, {"role": "user", "content": state}),
                )
            )
        good = [step for kid, step in children.get(nid, []) if _label(nodes[kid]) != "impossible" and step]
        if good:
            examples.append(
                Example(
                    problem=state,
                    reasoning="",
                    answer="",
                    completion="\n".join(good) + "\n",
                    messages=({"role": "system", "content": propose_sys}, {"role": "user", "content": state}),
                )
            )
    return examples
