"""Crash-safe JSON lines: each record is appended with one ``write`` on an ``O_APPEND`` file."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from agent.core.text import dumps


def append_jsonl(path: str | Path, record: dict[str, Any]) -> None:
    """Append ``record`` as one line, atomically: a crash leaves the file valid JSONL.

    Any text is written (:func:`agent.core.text.dumps`: a lone surrogate as the text of its escape). A previous
    writer that died mid-line (no trailing newline) is repaired first, so the new record always starts on
    its own line.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = (dumps(record) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size:
            with open(path, "rb") as f:
                f.seek(size - 1)
                if f.read(1) != b"\n":
                    data = b"\n" + data
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def read_jsonl(path: str | Path, skip_bad: bool = False) -> Iterator[dict[str, Any]]:
    """Yield records; a bad line raises ``ValueError`` naming file and line (or is skipped)."""
    with open(path, "rb") as f:  # bytes: a line cut inside a UTF-8 character is one bad line, not a bad file
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as err:
                if skip_bad:
                    continue
                why = err.msg if isinstance(err, json.JSONDecodeError) else "not UTF-8 text"
                raise ValueError(f"{path}: line {n} is not valid JSON ({why})") from err
            if not isinstance(record, dict):
                if skip_bad:
                    continue
                raise ValueError(f"{path}: line {n} is not a JSON object")
            yield record
