"""Import circles among the project's files.

    python bench/import_cycles.py            # a table: files in circles, circles, the edges that close them
    python bench/import_cycles.py --list     # every elementary circle, one per line

Every ``import`` and ``from ... import`` in the packages counts, wherever it
stands (top level or inside a function), and so do ``importlib.import_module``
calls with a literal name. A package's ``__init__.py`` is a file like any
other: ``from agent import X`` is an edge to ``agent/__init__.py``, and a
submodule that imports its own package's ``__init__`` while the ``__init__``
imports it is a circle. The test suite (tests/test_import_layers.py) asserts that
no circle exists.
"""

from __future__ import annotations

import argparse
import ast
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("agent", "search", "tools", "finetune")


def module_files(root: Path = ROOT) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file of the packages."""
    out = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


def _absolute(name: str, level: int, current: str, is_package: bool) -> str:
    if level == 0:
        return name
    base = current.split(".") if is_package else current.split(".")[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, name] if name else base)


def _targets(dotted: str, modules: dict[str, Path]) -> list[str]:
    """The project file an import names: the deepest module of ``dotted`` that exists.

    As import-linter (grimp) counts them: ``from agent.core.model import X`` depends on agent/core/model.py, not on
    agent/__init__.py, though Python runs the package first; ``from agent import X`` depends on the
    ``__init__`` (and on agent/X.py when X is a submodule)."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        if ".".join(parts[:i]) in modules:
            return [".".join(parts[:i])]
    return []


def import_graph(root: Path = ROOT) -> nx.DiGraph:
    modules = module_files(root)
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            imported: list[str] = []
            if isinstance(node, ast.Import):
                imported = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _absolute(node.module or "", node.level, name, is_package)
                # `from pkg import sub` imports the submodule when there is one
                imported = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                            for alias in node.names]
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                  and node.func.attr == "import_module" and node.args
                  and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                imported = [node.args[0].value]
            for dotted in imported:
                for target in _targets(dotted, modules):
                    if target != name:
                        graph.add_edge(name, target)
    return graph


def circles(graph: nx.DiGraph) -> list[list[str]]:
    return [sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="print every elementary circle")
    args = parser.parse_args()
    graph = import_graph()
    groups = circles(graph)
    elementary = list(nx.simple_cycles(graph.subgraph([m for g in groups for m in g])))
    print("| files | import edges | files in circles | strongly connected groups | elementary circles |")
    print("|---|---|---|---|---|")
    print(f"| {graph.number_of_nodes()} | {graph.number_of_edges()} | {sum(map(len, groups))} | {len(groups)} "
          f"| {len(elementary)} |")
    for group in groups:
        print("group:", ", ".join(group))
    if args.list:
        for cycle in elementary:
            print(" -> ".join([*cycle, cycle[0]]))


if __name__ == "__main__":
    main()
