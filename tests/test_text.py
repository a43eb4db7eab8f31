"""Text is never fatal: lone surrogates are written as escapes, escape sequences never reach a terminal.

The CLI cases run the real ``agent`` console script on the scripted fake model, in a fresh directory.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.core.backends.fake import ScriptedModel
from agent.core.jsonl import append_jsonl, read_jsonl
from agent.core.react import ReActAgent
from agent.core.text import clean, dumps, for_terminal
from tools import tool

_SCRIPT = Path(sys.executable).with_name("agent")
AGENT = str(_SCRIPT) if _SCRIPT.exists() else shutil.which("agent") or "agent"
needs_cli = pytest.mark.skipif(shutil.which(AGENT) is None, reason="the agent console script is not installed")

TITLE = "\x1b]0;owned\x07"  # an OSC sequence that retitles the terminal window
HOSTILE = f"{TITLE}\x1b[2J\x1b[31mred\x1b[0m\x1bc\x9b1m\r\x00\x07bell\x7f"  # clear screen, colour, reset, C1 CSI


# ---- the two mechanisms ----


def test_dumps_writes_a_lone_surrogate_as_the_text_of_its_escape():
    text = dumps({"name": "caf\udce9.md", "k\ud800": ["\\\ud800", "é 中"]})
    assert json.loads(text.encode("utf-8")) == {"name": "caf\\udce9.md", "k\\ud800": ["\\\\ud800", "é 中"]}
    assert "é 中" in text  # other text stays as it is


def test_append_jsonl_writes_a_record_with_a_lone_surrogate(tmp_path):
    path = tmp_path / "trace.jsonl"
    append_jsonl(path, {"question": "\ud800?", "answer": "ok"})
    append_jsonl(path, {"question": "next"})
    assert [r["question"] for r in read_jsonl(path)] == ["\\ud800?", "next"]


def test_clean_removes_escape_sequences_and_controls_but_keeps_newline_and_tab():
    assert clean(f"a{HOSTILE}\tb\nc é 中 \u2603") == "aredbell\tb\nc é 中 \u2603"
    assert clean("\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\") == "link"  # a hyperlink, ST-terminated
    assert clean("cut \x1b]0;no end") == "cut "  # an unterminated OSC is removed to the end
    assert clean("\x1bP1$qm\x1b\\ dcs") == " dcs"


@given(st.text(alphabet=st.characters(max_codepoint=0x2FF, exclude_categories=["Cs"])))
def test_clean_leaves_no_control_character(text):
    out = clean(text)
    assert not any(ord(c) < 0x20 and c not in "\n\t" or 0x7F <= ord(c) <= 0x9F for c in out)
    assert clean(out) == out


def test_for_terminal_is_printable_and_encodable():
    out = for_terminal(f"\ud800{TITLE}x")
    assert out == "\\ud800x" and out.encode("utf-8")


# ---- observations ----


@tool
def noisy(text: str) -> str:
    """Echo a text wrapped in terminal escapes.

    Args:
        text: what to echo.
    """
    if text == "raise":
        raise RuntimeError(f"bad {TITLE}thing")
    return f"{HOSTILE} {text}\r\n"


@pytest.mark.parametrize("text,observation", [("hi", "redbell hi"), ("raise", "Error: RuntimeError: bad thing")])
def test_observations_are_cleaned_where_they_are_made(text, observation):
    model = ScriptedModel(
        [f'Thought: t\nAction: noisy\nAction Input: {{"text": "{text}"}}\n', "Thought: done\nFinal Answer: 1\n"]
    )
    traj = ReActAgent(model, [noisy]).run("q")
    assert traj.steps[0].observation == observation
    assert f"Observation: {observation}\n" in model.prompts[1]  # the model sees the cleaned text too
    if traj.steps[0].error is not None:
        assert "\x1b" not in traj.steps[0].error.message


# ---- the CLI: --trace, --json and agent eval write every record ----

REPLIES = [
    'Thought: look it up \ud800\nAction: retrieve\nAction Input: {"query": "ferry \ud800"}\n',  # surrogate in a call
    'Thought: add\nAction: calculator\nAction Input: {"expression": "1+\ud800"}\n',
    f"Thought: done {TITLE}\nFinal Answer: nine \ud800 \x1b[31mo'clock\x1b[0m\n",
]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    notes = tmp_path / "notes"
    notes.mkdir()
    try:  # a file name that is not UTF-8: Python reads it as "caf\udce9.md"
        (Path(os.fsdecode(bytes(notes) + b"/caf\xe9.md"))).write_text("The ferry to the mainland leaves at nine.\n")
    except (OSError, UnicodeError):
        pytest.skip("this file system refuses names that are not UTF-8")
    (tmp_path / "replies.json").write_text(json.dumps(REPLIES))
    rows = [{"question": "When \ud800 does the ferry leave?", "answer": "nine"}, {"question": "Again?", "answer": "9"}]
    (tmp_path / "q.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return tmp_path


def agent(cwd: Path, *args: str | bytes) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_COLOR": "1", "AGENT_RETRIEVE_DIR": "notes"}
    tools = ["--model", "fake:replies.json", "--tools", "retrieve,calculator"]
    proc = subprocess.run([AGENT, *args, *tools], cwd=cwd, capture_output=True, timeout=120, env=env, check=False)
    assert b"Traceback" not in proc.stderr, proc.stderr.decode(errors="replace")
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    for stream in (proc.stdout, proc.stderr):
        assert b"\x1b" not in stream and b"\x07" not in stream  # JSON escapes them, the trace drops them
        stream.decode("utf-8")  # what reached the terminal is text
    return proc


def check_run(run: dict, question: str) -> None:
    assert run["question"] == question
    first, second = run["steps"][0], run["steps"][1]
    assert first["action"]["args"] == {"query": "ferry \\ud800"}
    assert "caf\\udce9.md" in first["observation"]  # the note's name, escaped, in the observation
    assert second["action"]["args"] == {"expression": "1+\\ud800"}
    assert run["answer"].startswith("nine \\ud800")


@needs_cli
def test_solve_trace_records_a_run_full_of_surrogates(workdir):
    question = b"When does the ferry leave, caf\xe9?"  # a command-line byte that is not UTF-8
    proc = agent(workdir, "solve", question, "--trace", "t.jsonl")
    (run,) = read_jsonl(workdir / "t.jsonl")
    check_run(run, "When does the ferry leave, caf\\udce9?")
    assert b"caf\\udce9.md" in proc.stderr and proc.stdout.startswith(b"nine \\ud800 o'clock")
    assert b"owned" not in proc.stderr + proc.stdout  # the title change is gone, not shown


@needs_cli
def test_solve_json_prints_a_run_full_of_surrogates(workdir):
    proc = agent(workdir, "solve", b"caf\xe9?", "--json", "--trace", "t.jsonl")
    out = json.loads(proc.stdout)
    check_run({"question": "caf\\udce9?", **out}, "caf\\udce9?")
    (run,) = read_jsonl(workdir / "t.jsonl")
    assert run["steps"] == out["steps"]


@needs_cli
def test_eval_writes_every_items_record(workdir):
    for _ in range(2):  # the rerun finds both records and skips them
        proc = agent(workdir, "eval", "qa", "--data", "q.jsonl", "--strategy", "react", "--out", "r.jsonl", "--json")
    records = list(read_jsonl(workdir / "r.jsonl"))
    assert len(records) == 2 and json.loads(proc.stdout)["skipped"] == 2
    first = records[0]
    check_run(first, "When \\ud800 does the ferry leave?")
