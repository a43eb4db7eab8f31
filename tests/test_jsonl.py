"""JSON lines: a writer that died mid-line never costs the other records, and appends do not interleave."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from agent.core.jsonl import append_jsonl, read_jsonl

ROOT = Path(__file__).resolve().parents[1]
RECORDS = [{"id": i, "text": f"record {i}", "note": "café ✓"} for i in range(3)]


def test_records_round_trip_and_the_parent_folder_is_made(tmp_path):
    path = tmp_path / "deep" / "er" / "runs.jsonl"
    for record in RECORDS:
        append_jsonl(path, record)
    assert list(read_jsonl(path)) == RECORDS
    assert path.read_text(encoding="utf-8").count("\n") == 3


@pytest.mark.parametrize(
    "partial",
    [b'{"id": 3, "text": "half a rec', b'{"id": 3, "note": "caf\xc3', b"{"],
    ids=["mid-string", "mid-utf8-character", "one-byte"],
)
def test_an_append_after_a_writer_died_mid_line_keeps_every_complete_record(tmp_path, partial):
    path = tmp_path / "runs.jsonl"
    for record in RECORDS:
        append_jsonl(path, record)
    with open(path, "ab") as f:  # what a writer killed in the middle of its line leaves
        f.write(partial)
    new = {"id": 4, "text": "after the crash"}
    append_jsonl(path, new)

    assert list(read_jsonl(path, skip_bad=True)) == [*RECORDS, new]
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b"" and json.loads(lines[-2]) == new  # the new record is a line of its own
    assert lines[3] == partial  # the torn line stays as it was, on its own line
    with pytest.raises(ValueError, match=rf"{path.name}: line 4 is not valid JSON"):
        list(read_jsonl(path))


def test_a_file_ending_in_a_torn_line_still_reads_with_skip_bad(tmp_path):
    path = tmp_path / "runs.jsonl"
    append_jsonl(path, RECORDS[0])
    with open(path, "ab") as f:
        f.write(b'{"id": 1, "te')
    assert list(read_jsonl(path, skip_bad=True)) == [RECORDS[0]]


WRITER = textwrap.dedent(
    """
    import sys
    from agent.core.jsonl import append_jsonl
    path, writer = sys.argv[1], int(sys.argv[2])
    sys.stdin.read(1)  # start together: the appends overlap
    pad = "x" * (500 + 37 * writer)  # lines of different lengths, up to 15 KB, larger than a write buffer
    for i in range(200):
        append_jsonl(path, {"writer": writer, "i": i, "pad": pad * (1 + i % 24)})
    """
)


def test_concurrent_appends_from_four_processes_give_800_valid_lines(tmp_path):
    path = tmp_path / "shared.jsonl"
    command = [sys.executable, "-c", WRITER, str(path)]
    writers = [
        subprocess.Popen([*command, str(w)], cwd=ROOT, stdin=subprocess.PIPE, stderr=subprocess.PIPE) for w in range(4)
    ]
    for proc in writers:
        proc.stdin.write(b"go")
        proc.stdin.flush()
    for proc in writers:
        _, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err.decode()
    records = list(read_jsonl(path))  # skip_bad=False: any interleaved or torn line raises
    assert len(records) == 800
    assert sorted((r["writer"], r["i"]) for r in records) == [(w, i) for w in range(4) for i in range(200)]
    lines = [line for line in path.read_bytes().split(b"\n") if line.strip()]
    assert len(lines) == 800


@pytest.mark.parametrize(
    "content,line,why",
    [
        (b'{"a": 1}\n\nnot json\n', 3, "not valid JSON"),
        (b'{"a": 1}\n\n[1, 2]\n', 3, "not a JSON object"),
        (b'{"a": 1}\n{"a": "caf\xe9"}\n', 2, "not UTF-8"),
        (b'{"a": 1}\n{"a": 2', 2, "not valid JSON"),
    ],
    ids=["bad-json", "list", "latin-1", "torn-last-line"],
)
def test_read_jsonl_names_file_and_line_of_a_bad_record(tmp_path, content, line, why):
    path = tmp_path / "data.jsonl"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=rf"data\.jsonl: line {line} is .*{why}"):
        list(read_jsonl(path))
    assert list(read_jsonl(path, skip_bad=True)) == [{"a": 1}]


def test_read_jsonl_of_a_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        list(read_jsonl(tmp_path / "nope.jsonl"))
