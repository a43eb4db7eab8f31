"""Every bad input a user can type or point the CLI at gives one clear error line, never a traceback.

Each case runs the real ``agent`` console script in a subprocess, in a fresh directory.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

_SCRIPT = Path(sys.executable).with_name("agent")
AGENT = [str(_SCRIPT)] if _SCRIPT.exists() else [shutil.which("agent") or "agent"]
HAS_TRANSFORMERS = importlib.util.find_spec("transformers") is not None
HAS_TORCH = importlib.util.find_spec("torch") is not None
GOOD_ROWS = [{"question": "What is 1 + 1?", "answer": "1 + 1 = 2\n#### 2"}]

pytestmark = pytest.mark.skipif(shutil.which(AGENT[0]) is None, reason="the agent console script is not installed")


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def error_line(self) -> str:
        """The one ``Error`` line on stderr (a click usage error adds only its Usage/Try lines)."""
        lines = [line for line in self.stderr.splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("Error")]
        assert len(errors) == 1, f"expected one Error line, got:\n{self.stderr}"
        others = [line for line in lines if line not in errors]
        if self.code == 2:  # click's usage errors: "Usage: ...", "Try '... --help' for help."
            others = [line for line in others if not line.startswith(("Usage:", "Try "))]
        assert not others, f"more than the error line on stderr:\n{self.stderr}"
        return errors[0]


def agent(cwd: Path, *args: str) -> Run:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    proc = subprocess.run([*AGENT, *args], check=False, cwd=cwd, capture_output=True, text=True, timeout=300, env=env)
    return Run(proc.returncode, proc.stdout, proc.stderr)


def check(run: Run, *names: str) -> str:
    """Non-zero exit, no traceback, one error line naming every one of ``names``; returns that line."""
    assert "Traceback" not in run.stdout + run.stderr, run.stderr
    assert run.code != 0, f"exit status 0 for a bad input\nstdout: {run.stdout}\nstderr: {run.stderr}"
    line = run.error_line
    for name in names:
        assert name in line, f"{name!r} not named in: {line}"
    return line


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


# ---- models ----


def test_missing_model_file(tmp_path):
    line = check(agent(tmp_path, "solve", "hi", "--model", "missing.gguf"), "missing.gguf")
    assert "not found" in line


def test_corrupt_gguf(tmp_path):
    (tmp_path / "corrupt.gguf").write_bytes(b"GGUF" + os.urandom(4096))
    line = check(agent(tmp_path, "solve", "hi", "--model", "corrupt.gguf"), "corrupt.gguf")
    assert "corrupt" in line


def test_truncated_gguf(tmp_path, smollm_gguf):
    with smollm_gguf.open("rb") as f:
        (tmp_path / "truncated.gguf").write_bytes(f.read(1 << 20))
    line = check(agent(tmp_path, "solve", "hi", "--model", "truncated.gguf"), "truncated.gguf")
    assert "truncated" in line


def test_a_file_that_is_not_gguf(tmp_path):
    (tmp_path / "notes.gguf").write_text("these are my notes, not a model\n")
    line = check(agent(tmp_path, "solve", "hi", "--model", "notes.gguf"), "notes.gguf")
    assert "not a GGUF" in line


def test_an_empty_model_directory(tmp_path):
    (tmp_path / "empty_model").mkdir()
    check(agent(tmp_path, "solve", "hi", "--model", "empty_model"), "empty_model")


@pytest.mark.skipif(not HAS_TRANSFORMERS, reason="needs transformers (the train extra)")
def test_a_model_directory_with_only_config_json(tmp_path):
    folder = tmp_path / "no_weights"
    folder.mkdir()
    config = {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": 64,
              "intermediate_size": 128, "num_attention_heads": 2, "num_hidden_layers": 2, "vocab_size": 100}  # fmt: skip
    (folder / "config.json").write_text(json.dumps(config))
    check(agent(tmp_path, "solve", "hi", "--model", "no_weights"), "no_weights")


def test_a_dead_openai_server(tmp_path, free_port):
    url = f"http://127.0.0.1:{free_port}"
    check(agent(tmp_path, "solve", "hi", "--model", url), url)


# ---- tools and options ----


@pytest.mark.parametrize("spec,name", [("no_such_tool", "no_such_tool"), ("nomodule:thing", "nomodule")])
def test_unknown_tools(tmp_path, spec, name):
    check(agent(tmp_path, "solve", "hi", "--model", "missing.gguf", "--tools", spec), name)


@pytest.mark.parametrize(
    "source,names",
    [
        ("raise RuntimeError('no config found')\n", ["broken", "RuntimeError", "no config found"]),
        ("def f(:\n", ["broken", "SyntaxError"]),
        ("import sys\nsys.exit(3)\n", ["broken", "SystemExit"]),
    ],
    ids=["raises", "syntax-error", "exits"],
)
def test_a_tools_module_that_fails_on_import(tmp_path, source, names):
    (tmp_path / "broken.py").write_text(source)
    check(agent(tmp_path, "solve", "hi", "--model", "missing.gguf", "--tools", "calculator,broken:toolset"), *names)


@pytest.mark.parametrize("question", ["", "   "], ids=["empty", "blank"])
def test_an_empty_question_is_a_usage_error(tmp_path, question):
    run = agent(tmp_path, "solve", question, "--model", "missing.gguf")
    check(run, "QUESTION", "empty")
    assert run.code == 2


def test_a_question_too_long_for_the_context_names_both_sizes(tmp_path, smollm_gguf):
    line = check(agent(tmp_path, "solve", "How many apples? " * 1500, "--model", str(smollm_gguf)), "4096")
    assert re.search(r"the question has \d{4,} tokens", line), line


@pytest.fixture
def nested_json_server() -> Iterator[str]:
    """A loopback server whose every answer is JSON nested 100,000 levels deep."""
    body = b"[" * 100_000 + b"]" * 100_000
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                head, _, rest = data.partition(b"\r\n\r\n")
                length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
                while len(rest) < length:
                    rest += conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)

    threading.Thread(target=serve, daemon=True).start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    listener.close()


def test_a_server_answering_deeply_nested_json(tmp_path, nested_json_server):
    line = check(agent(tmp_path, "solve", "hi", "--model", nested_json_server), nested_json_server)
    assert "nested too deeply" in line


@pytest.mark.parametrize(
    "option,value",
    [("--max-steps", "0"), ("--samples", "-1"), ("--temperature", "-1"), ("--strategy", "bogus")],
)
def test_invalid_option_values(tmp_path, option, value):
    run = agent(tmp_path, "solve", "hi", option, value)
    line = check(run, option, value.lstrip("-"))
    assert run.code == 2 and "Invalid value" in line


# ---- finetune data ----

finetune_only = pytest.mark.skipif(not HAS_TORCH, reason="agent finetune needs the train extra")


def finetune(tmp_path: Path, data: Path) -> Run:
    return agent(tmp_path, "finetune", "--data", data.name, "--out", "o", "--max-steps", "1")


@finetune_only
def test_finetune_with_a_line_that_is_not_json(tmp_path):
    data = write_jsonl(tmp_path / "bad.jsonl", [*GOOD_ROWS, *GOOD_ROWS, "{this is not json"])
    line = check(finetune(tmp_path, data), "bad.jsonl")
    assert re.search(r"(line |:)3\b", line), line
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").rglob("*.safetensors"))


@finetune_only
def test_finetune_with_missing_fields(tmp_path):
    data = write_jsonl(tmp_path / "noanswer.jsonl", [*GOOD_ROWS, {"question": "What is 2 + 2?"}])
    check(finetune(tmp_path, data), "noanswer.jsonl", "answer")


@finetune_only
def test_finetune_on_an_empty_dataset(tmp_path):
    data = tmp_path / "empty.jsonl"
    data.write_text("")
    line = check(finetune(tmp_path, data), "empty.jsonl")
    assert "empty" in line


@finetune_only
def test_finetune_on_a_file_that_is_not_utf8(tmp_path):
    data = tmp_path / "latin1.jsonl"
    data.write_bytes(json.dumps(GOOD_ROWS[0]).encode() + b"\n" + '{"question": "caf\xe9"}\n'.encode("latin-1"))
    check(finetune(tmp_path, data), "latin1.jsonl")


# ---- eval ----


def test_eval_with_a_missing_data_file(tmp_path):
    check(agent(tmp_path, "eval", "gsm8k", "--data", "nope.jsonl"), "nope.jsonl")


def test_eval_with_a_line_that_is_not_json(tmp_path):
    data = write_jsonl(tmp_path / "bad.jsonl", [*GOOD_ROWS, *GOOD_ROWS, "not json"])
    line = check(agent(tmp_path, "eval", "gsm8k", "--data", data.name, "--model", "missing.gguf"), "bad.jsonl")
    assert "line 3" in line


def test_eval_on_a_file_that_is_not_utf8(tmp_path):
    data = tmp_path / "latin1.jsonl"
    data.write_bytes(json.dumps(GOOD_ROWS[0]).encode() + b"\n" + '{"question": "caf\xe9"}\n'.encode("latin-1"))
    line = check(agent(tmp_path, "eval", "gsm8k", "--data", data.name, "--model", "missing.gguf"), "latin1.jsonl")
    assert "line 2" in line


def test_eval_on_an_empty_dataset(tmp_path):
    (tmp_path / "empty.jsonl").write_text("")
    (tmp_path / "replies.json").write_text(json.dumps(["Thought: easy\nFinal Answer: 2"]))
    check(agent(tmp_path, "eval", "gsm8k", "--data", "empty.jsonl", "--model", "fake:replies.json"), "empty.jsonl")


# ---- export ----


def test_export_a_missing_run_directory(tmp_path):
    check(agent(tmp_path, "export", "missing_dir", "--out", "x.gguf", "--outtype", "f16"), "missing_dir")


def test_export_a_run_directory_without_weights(tmp_path):
    (tmp_path / "run").mkdir()
    check(agent(tmp_path, "export", "run", "--out", "x.gguf"), "run")
    assert not (tmp_path / "x.gguf").exists()


@pytest.mark.parametrize("extra", [[], ["--out", "x.gguf"]], ids=["without-out", "with-out"])
def test_export_with_a_bogus_outtype(tmp_path, extra):
    (tmp_path / "run").mkdir()
    run = agent(tmp_path, "export", "run", "--outtype", "bogus", *extra)
    check(run, "--outtype", "bogus")


def test_a_verifier_needs_sampled_react_trajectories(tmp_path):
    check(agent(tmp_path, "solve", "hi", "--verifier", "default"), "--verifier", "--samples")
    check(agent(tmp_path, "solve", "hi", "--strategy", "tot", "--verifier", "default"), "--verifier")
    write_jsonl(tmp_path / "q.jsonl", GOOD_ROWS)
    check(agent(tmp_path, "eval", "gsm8k", "--data", "q.jsonl", "--verifier", "x.gguf"), "--verifier", "sc")
