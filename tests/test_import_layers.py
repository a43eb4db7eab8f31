"""The house rules: layers imported one way, no import circles, each command-line option declared once."""

from __future__ import annotations

import ast
import importlib.util
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import fields
from pathlib import Path

import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
import import_cycles

from agent.app.cli import cli
from agent.strategies.config import StrategyConfig
from finetune.config import TrainConfig


def test_no_file_imports_another_in_a_circle():
    graph = import_cycles.import_graph(ROOT)
    assert graph.number_of_nodes() > 50  # the packages were found
    assert import_cycles.circles(graph) == []


def test_the_cycle_counter_sees_a_circle_through_a_package_init(tmp_path):
    pkg = tmp_path / "agent"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from agent.sub.mod import X\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "mod.py").write_text("def f():\n    from agent import Y\n")
    for name in ("search", "tools", "finetune"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text("")
    assert import_cycles.circles(import_cycles.import_graph(tmp_path)) == [["agent", "agent.sub.mod"]]


@pytest.mark.skipif(shutil.which("lint-imports") is None and importlib.util.find_spec("importlinter") is None,
                    reason="import-linter is not installed (pip install 'cot-agent[dev]')")
def test_the_layers_contract_holds():
    proc = subprocess.run([sys.executable, "-m", "importlinter.cli"] if shutil.which("lint-imports") is None
                          else ["lint-imports"], check=False, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "1 kept, 0 broken" in proc.stdout


def _declared_flags() -> Counter:
    """Every ``--flag`` string literal given to ``click.option`` in the source of ``agent solve`` and ``agent eval``."""
    flags: Counter = Counter()
    for path in (ROOT / "agent" / "app" / "cli.py", ROOT / "agent" / "app" / "evaluate" / "cli.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "option":
                for arg in node.args:
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value.startswith("--"):
                        flags[arg.value] += 1
    return flags


def test_no_click_option_is_declared_twice_and_solve_and_eval_share_the_dataclass():
    twice = {flag: n for flag, n in _declared_flags().items() if n > 1}
    assert twice == {}
    runner = CliRunner()
    solve_help = runner.invoke(cli, ["solve", "--help"]).output
    eval_help = runner.invoke(cli, ["eval", "gsm8k", "--help"]).output
    for f in fields(StrategyConfig):
        flag = (f.metadata.get("flag") or "--" + f.name.replace("_", "-")).split("/")[0]  # --on/--off: --on
        assert (flag in solve_help) == ("solve" in f.metadata["commands"]), flag
        assert (flag in eval_help) == ("eval" in f.metadata["commands"]), flag


def test_the_finetune_options_are_the_train_configs_fields():
    text = CliRunner().invoke(cli, ["finetune", "--help"]).output
    exposed = [f for f in fields(TrainConfig) if "help" in f.metadata]
    assert len(exposed) > 20
    for f in exposed:
        assert (f.metadata.get("flag") or "--" + f.name.replace("_", "-")).split("/")[0] in text, f.name
    source = (ROOT / "agent" / "app" / "train_cli.py").read_text()
    finetune_source = source[source.index('@click.command("finetune")') : source.index('@click.command("export")')]
    assert "click.option(" not in finetune_source  # all generated


def test_agent_export_offers_every_outtype_the_exporter_writes():
    from agent.app.train_cli import _OUTTYPES
    from finetune.export import OUTTYPES

    assert _OUTTYPES == OUTTYPES
