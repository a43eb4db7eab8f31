"""Training examples: one schema, read from any supported file.

The project schema, one JSON object per line::

    {"problem": "...", "reasoning": "Thought: ...", "answer": "72", "system": "...", "tools": ["calculator"]}

``system`` and ``tools`` are optional: without ``system`` the prompt is the runtime's own ReAct
prompt (:func:`agent.core.prompts.render_react_prompt`) listing ``tools``. The chat form
``{"messages": [{"role": ..., "content": ...}, ...]}`` trains on its last assistant message; the raw
form ``{"prompt": "...", "completion": "..."}`` trains on the completion after the prompt text exactly
as written, with no chat template (for prompts a program sends to ``Model.complete`` as they are,
like the Tree-of-Thoughts prompts of :mod:`search.tasks`).
:func:`load_examples` also reads GSM8K rows, ``agent solve --trace`` files and ToT search trees
(see :mod:`finetune.formats`), and csv/parquet files through ``datasets``.

The :class:`~finetune.schema.Example` class lives in :mod:`finetune.schema`; it and
:class:`~finetune.errors.DataError` are re-exported here.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from finetune.errors import DataError
from finetune.formats import convert_record
from finetune.schema import STYLES, Example, Style, example_tools

log = logging.getLogger(__name__)

_TABLE_SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".arrow": "arrow", ".tsv": "csv"}


def read_jsonl(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line.

    Raises:
        DataError: a line is not a JSON object (the message names the file and the line).
    """
    rows = []
    try:
        with path.open(encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as err:
                    raise DataError(f"{path}:{n}: line {n} is not valid JSON ({err.msg})") from err
                if not isinstance(obj, dict):
                    raise DataError(f"{path}:{n}: line {n} is a JSON {type(obj).__name__}, expected an object")
                rows.append((n, obj))
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: not UTF-8 text ({err.reason})") from err
    return rows


def _read_table(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """Rows of a csv/parquet/arrow file through ``datasets`` (row numbers count from 1)."""
    try:
        import datasets
    except ImportError as err:
        raise DataError(f"{path}: reading {path.suffix} files needs `pip install datasets`") from err
    try:
        table = datasets.load_dataset(_TABLE_SUFFIXES[path.suffix], data_files=str(path), split="train")
    except Exception as err:  # datasets raises many types for a bad file
        raise DataError(f"{path}: cannot read it as {path.suffix[1:]}: {err}") from err
    return [(i, dict(row)) for i, row in enumerate(table, 1)]


def read_records(path: str | Path) -> list[tuple[int, dict[str, Any]]]:
    """The raw records of a data file: JSONL, one JSON document (object or list), csv or parquet.

    Raises:
        DataError: the file is missing, unreadable or malformed.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such data file")
    if path.suffix in _TABLE_SUFFIXES:
        return _read_table(path)
    if path.suffix == ".json":
        text = path.read_text(encoding="utf-8")
        try:
            doc = json.loads(text)
        except json.JSONDecodeError:
            return read_jsonl(path)  # a .json file holding JSON lines
        docs = doc if isinstance(doc, list) else [doc]
        if not all(isinstance(d, dict) for d in docs):
            raise DataError(f"{path}: expected a JSON object or a list of objects")
        return list(enumerate(docs, 1))
    return read_jsonl(path)


def load_examples(path: str | Path, *, style: Style = "react", gold: dict[str, str] | None = None) -> list[Example]:
    """Read training examples, recognising each record's format from its fields.

    Args:
        path: a .jsonl/.json/.csv/.parquet file.
        style: how GSM8K rows become examples: ``react`` (calculator tool calls) or ``chain`` (plain thought).
        gold: question -> gold answer, to filter ``--trace`` trajectories (rejection sampling).

    Returns:
        The examples, in file order.

    Raises:
        DataError: malformed lines, missing fields (named), an unknown style, or no usable example.
    """
    if style not in STYLES:
        raise DataError(f"unknown style {style!r}: choose one of {', '.join(STYLES)}")
    records = read_records(path)
    if not records:
        raise DataError(f"{path}: the data file is empty (no examples)")
    examples: list[Example] = []
    for line, rec in records:
        examples.extend(convert_record(rec, f"{path}:{line}", style=style, gold=gold))
    if not examples:
        raise DataError(
            f"{path}: none of its {len(records)} records gave a training example "
            "(trajectories need a matching gold answer or stats.correct == true)"
        )
    for tools in {ex.tools for ex in examples if not ex.messages and ex.system is None}:
        example_tools(tools)  # fail now, not mid-training, on a tool that cannot be loaded
    log.info("%s: %d examples from %d records", path, len(examples), len(records))
    return examples


def load_gold(path: str | Path) -> dict[str, str]:
    """question -> gold answer from rows with ``question`` and ``answer`` (a GSM8K ``#### N`` answer gives ``N``).

    Raises:
        DataError: the file is unreadable or a row lacks ``question``/``answer``.
    """
    gold = {}
    for line, rec in read_records(path):
        if "question" not in rec or "answer" not in rec:
            raise DataError(f"{path}:{line}: a gold row needs fields question and answer")
        answer = str(rec["answer"])
        final = answer.rpartition("####")[2].strip().replace(",", "")
        gold[str(rec["question"])] = final if "####" in answer else answer
    return gold


def save_examples(examples: list[Example], path: str | Path) -> Path:
    """Write examples in the project schema (JSONL)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(ex.to_dict(), ensure_ascii=False) + "\n" for ex in examples), encoding="utf-8")
    return path


__all__ = [
    "STYLES",
    "DataError",
    "Example",
    "Style",
    "load_examples",
    "load_gold",
    "read_jsonl",
    "read_records",
    "save_examples",
]
