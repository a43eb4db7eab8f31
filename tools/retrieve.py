"""The ``retrieve`` tool: BM25-ranked passages from a local folder of ``.txt`` / ``.md`` notes.

Pure Python, no extra dependencies. Files are split into passages of about 100-200 words
(paragraphs, a heading starting a new passage); the index is cached per folder and rebuilt
when a file is added, removed or modified.

Example:
    >>> search = make_retrieve_tool("examples/notes")  # doctest: +SKIP
    >>> print(search(query="ferry to the mainland", k=1))  # doctest: +SKIP
    [1] ferry_schedule.md (score 5.31)
    ...
"""

from __future__ import annotations

import functools
import math
import os
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tools.base import Tool, ToolError, tool

ENV_VAR = "AGENT_RETRIEVE_DIR"  # the folder the built-in ``retrieve`` tool searches
SUFFIXES = (".txt", ".md")
MIN_WORDS = 50  # a heading starts a new passage once the current one has this many words
TARGET_WORDS = 150  # a passage is closed once it has this many words...
MAX_WORDS = 200  # ...and never grows past this (longer paragraphs are cut)
MAX_K = 10
K1, B = 1.5, 0.75  # BM25 term-frequency saturation and length normalisation

_TOKEN = re.compile(r"[a-z0-9]+")
_STOPWORD_TEXT = (
    "a an and are as at be by did do does for from has have how i in is it its of on or that the this to was "
    "what when where which who why will with"
)
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens without stopwords."""
    return [t for t in _TOKEN.findall(text.lower()) if t not in _STOPWORDS]


def split_passages(text: str) -> list[str]:
    """Split a note into passages: paragraphs merged up to ~150-200 words; headings start new ones."""
    passages: list[str] = []
    current: list[str] = []
    words = 0
    for block in (b.strip() for b in re.split(r"\n\s*\n", text)):
        n = len(block.split())
        if not n:
            continue
        if current and ((block.startswith("#") and words >= MIN_WORDS) or words + n > MAX_WORDS):
            passages.append("\n\n".join(current))
            current, words = [], 0
        if n > MAX_WORDS:
            tokens = block.split()
            passages += [" ".join(tokens[i : i + TARGET_WORDS]) for i in range(0, n, TARGET_WORDS)]
            continue
        current.append(block)
        words += n
        if words >= TARGET_WORDS:
            passages.append("\n\n".join(current))
            current, words = [], 0
    if current:
        passages.append("\n\n".join(current))
    return passages


@dataclass(frozen=True)
class Passage:
    source: str  # file path relative to the folder
    text: str


@dataclass
class BM25Index:
    """Okapi BM25 over passages."""

    passages: list[Passage]
    counts: list[Counter[str]] = field(init=False)
    doc_freq: Counter[str] = field(init=False)
    avg_len: float = field(init=False)

    def __post_init__(self) -> None:
        self.counts = [Counter(tokenize(p.text)) for p in self.passages]
        self.doc_freq = Counter(term for c in self.counts for term in c)
        self.avg_len = sum(c.total() for c in self.counts) / max(len(self.counts), 1) or 1.0

    def search(self, query: str, k: int) -> list[tuple[float, Passage]]:
        """The ``k`` best passages with a positive score, best first."""
        terms = set(tokenize(query))
        n = len(self.passages)
        idf = {t: math.log(1 + (n - self.doc_freq[t] + 0.5) / (self.doc_freq[t] + 0.5)) for t in terms}
        scored = []
        for passage, counts in zip(self.passages, self.counts):
            norm = K1 * (1 - B + B * counts.total() / self.avg_len)
            score = sum(idf[t] * counts[t] * (K1 + 1) / (counts[t] + norm) for t in terms if counts[t])
            if score > 0:
                scored.append((score, passage))
        return sorted(scored, key=lambda s: -s[0])[:k]


class Retriever:
    """Searches one folder; the index is rebuilt only when the folder's files change."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder).expanduser().resolve()
        self._signature: tuple[tuple[str, int, int], ...] | None = None
        self._index: BM25Index | None = None

    def _files(self) -> list[Path]:
        if not self.folder.is_dir():
            raise ToolError(f"the notes folder {self.folder} does not exist")
        return sorted(
            p
            for p in self.folder.rglob("*")
            if p.suffix.lower() in SUFFIXES
            and p.is_file()
            and not any(part.startswith(".") for part in p.relative_to(self.folder).parts)
        )

    def index(self) -> BM25Index:
        """The folder's index, rebuilt when a file's name, size or modification time changed."""
        files = self._files()
        signature = tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files)
        if signature != self._signature or self._index is None:
            passages = [
                Passage(str(p.relative_to(self.folder)), text)
                for p in files
                for text in split_passages(p.read_text(encoding="utf-8", errors="replace"))
            ]
            self._index, self._signature = BM25Index(passages), signature
        if not self._index.passages:
            raise ToolError(f"the notes folder {self.folder} has no .txt or .md files with text")
        return self._index

    def search(self, query: str, k: int = 3) -> str:
        """Numbered passages with their source file, best first."""
        if not tokenize(query):
            raise ToolError("the query has no searchable words")
        if k < 1:
            raise ToolError("k must be at least 1")
        hits = self.index().search(query, min(k, MAX_K))
        if not hits:
            return f"No passage in the notes matches {query!r}."
        return "\n\n".join(f"[{i}] {p.source} (score {s:.2f})\n{p.text}" for i, (s, p) in enumerate(hits, 1))


@functools.lru_cache(maxsize=16)
def _retriever_for(folder: str) -> Retriever:
    return Retriever(folder)


def _make(search: Callable[[str, int], str] | None) -> Tool:
    def retrieve(query: str, k: int = 3) -> str:
        """Search the local notes and return the k passages most relevant to the query, each with its file name.

        Args:
            query: keywords or a question.
            k: how many passages to return (1-10).
        """
        if search is not None:
            return search(query, k)
        folder = os.environ.get(ENV_VAR)
        if not folder:
            raise ToolError(f"no notes folder: set {ENV_VAR} or build the tool with make_retrieve_tool(folder)")
        return _retriever_for(str(Path(folder).expanduser().resolve())).search(query, k)

    return tool(retrieve)


def make_retrieve_tool(folder: str | Path) -> Tool:
    """A ``retrieve`` tool over ``folder`` (``.txt`` and ``.md`` files, searched recursively).

    Raises:
        FileNotFoundError: ``folder`` is not a directory.
    """
    if not Path(folder).expanduser().is_dir():
        raise FileNotFoundError(f"retrieve: {folder} is not a folder of .txt/.md notes")
    return _make(Retriever(folder).search)


retrieve = _make(None)  # searches the folder named by $AGENT_RETRIEVE_DIR
