"""Real end-to-end runs on the embedded GGUF (slow)."""

import json
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.slow


def solve_json(*args: str) -> dict:
    """``agent solve ARGS --json`` in a fresh process: exit 0, the JSON it prints."""
    p = subprocess.run(
        [sys.executable, "-m", "agent.app.cli", "solve", *args, "--json"],
        check=False,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert p.returncode == 0, p.stderr[-2000:]
    return json.loads(p.stdout)


def test_agent_help_is_instant_and_imports_no_torch():
    code = "import sys; from agent.app.cli import cli; print('torch' in sys.modules, 'llama_cpp' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "agent.app.cli", "--help"], capture_output=True, check=True)
    assert time.perf_counter() - t < 2.0


def test_solve_json_on_the_embedded_model(smollm_gguf, tmp_path):
    trace = tmp_path / "trace.jsonl"
    out = solve_json(
        "What is 48713 * 2291? Use the calculator.",
        "--tools",
        "calculator",
        "--max-steps",
        "4",
        "--trace",
        str(trace),
    )
    assert set(out) >= {"answer", "steps", "stats"}
    assert 1 <= len(out["steps"]) <= 4
    for i, s in enumerate(out["steps"]):
        assert set(s) >= {"thought", "action", "observation", "error"}
        assert s["error"] is None or s["error"]["type"] not in ("parse", "unknown_tool")
        if i < len(out["steps"]) - 1:
            assert s["action"]["tool"] == "calculator"
    line = json.loads(trace.read_text().splitlines()[0])
    assert line["question"].startswith("What is 48713") and line["steps"] == out["steps"]


def test_the_shipped_default_model_uses_its_tools_and_gets_it_right():
    """The fine-tuned adapter in agent/data is applied by default and answers a tool question (greedy)."""
    from agent.core.embedded import default_adapter_path

    assert default_adapter_path() is not None, "agent/data/default-adapter.gguf ships with the package"
    out = solve_json("Compute 3 raised to the power 23.")
    assert out["steps"][0]["action"]["tool"] in ("calculator", "python")
    assert out["answer"].replace(",", "") == str(3**23)
