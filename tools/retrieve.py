"""The ``retrieve`` tool: BM25-ranked passages from a local folder of ``.txt`` / ``.md`` notes.

Pure Python, no extra dependencies. Files are split into passages of about 100-200 words
(paragraphs, a heading starting a new passage); the index is cached per folder and rebuilt
when a file is added, removed or modified.

Only regular files whose resolved path lies inside the resolved folder are read: a symlink (to a
file or a folder) that leads out of it is skipped, and so are fifos, devices, sockets, hidden names
and anything under ``/proc`` or ``/sys``. The walk counts as it goes and stops at the first cap it
passes, so a folder that is too large (``AGENT_RETRIEVE_DIR=/``) is refused in milliseconds with
:class:`FolderTooLarge`, a configuration error, not a model mistake.

Example:
    >>> search = make_retrieve_tool("examples/notes")  # doctest: +SKIP
    >>> print(search(query="ferry to the mainland", k=1))  # doctest: +SKIP
    [1] ferry_schedule.md (score 5.31)
    ...
"""

from __future__ import annotations

import functools
import logging
import math
import os
import re
import stat
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tools.base import Tool, ToolError, tool

log = logging.getLogger(__name__)

ENV_VAR = "AGENT_RETRIEVE_DIR"  # the folder the built-in ``retrieve`` tool searches
SUFFIXES = (".txt", ".md")
MIN_WORDS = 50  # a heading starts a new passage once the current one has this many words
TARGET_WORDS = 150  # a passage is closed once it has this many words...
MAX_WORDS = 200  # ...and never grows past this (longer paragraphs are cut)
MAX_K = 10
K1, B = 1.5, 0.75  # BM25 term-frequency saturation and length normalisation

# Caps: a folder of notes is small; these keep a planted or mistyped folder from exhausting the machine.
MIB = 1024 * 1024
MAX_FILE_BYTES = 2 * MIB  # a larger file is a log or a dump, not a note: skipped whole (warning), never half-read
MAX_TOTAL_BYTES = 16 * MIB  # indexing 16 MiB took 1.6 s and ~300 MiB of memory here (64 MiB: ~6.5 s and ~1.2 GiB)
MAX_FILES = 10_000  # files and folders the walk sees, counted as it goes: `/` is refused before any note is read
_PSEUDO_ROOTS = ("/proc", "/sys")  # kernel files: "regular" with a made-up size, and secrets (/proc/self/environ)
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


class FolderTooLarge(ValueError):
    """The configured notes folder is over a cap: the user must point the tool at a smaller one."""


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


def _size(n: int) -> str:
    return f"{n // MIB} MiB" if n % MIB == 0 else f"{n:,} bytes"


def _inside(path: str, folder: str) -> bool:
    """Whether the resolved ``path`` is ``folder`` or lies under it (by path components, not string prefix)."""
    try:
        return os.path.commonpath([path, folder]) == folder
    except ValueError:  # one relative and one absolute, or different drives
        return False


def _too_large(folder: str, what: str) -> FolderTooLarge:
    return FolderTooLarge(
        f"retrieve: {folder} holds more than {what}; point {ENV_VAR} (or make_retrieve_tool) at a smaller folder"
    )


@dataclass(frozen=True)
class NoteFile:
    source: str  # the path relative to the folder, as walked (a symlink keeps its own name)
    path: str  # the resolved regular file, inside the folder
    stat: os.stat_result


class _Walk:
    """One walk of a resolved folder that records notes and raises as soon as a cap is passed."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.notes: list[NoteFile] = []
        self.entries = 0
        self.total_bytes = 0
        self._folders: set[str] = set()  # resolved folders walked: each once, so a symlink loop ends

    def run(self) -> list[NoteFile]:
        folders = [(self.root, "")]  # (resolved folder, its path relative to the root)
        links: list[tuple[str, str]] = []  # folders reached by a symlink: walked last, so real names win
        while folders or links:
            folder, rel = folders.pop() if folders else links.pop()
            if folder in self._folders:
                continue
            self._folders.add(folder)
            try:
                with os.scandir(folder) as entries:
                    for entry in entries:
                        if (sub := self._visit(entry, rel)) is not None:
                            (links if entry.is_symlink() else folders).append(sub)
            except OSError as err:
                log.debug("retrieve: cannot list %s: %s", folder, err)
        return sorted(self.notes, key=lambda n: n.source)

    def _visit(self, entry: os.DirEntry[str], rel: str) -> tuple[str, str] | None:
        """Record a note, or return a folder to walk (resolved path, relative path); skip anything else."""
        self.entries += 1
        if self.entries > MAX_FILES:
            raise _too_large(self.root, f"{MAX_FILES:,} files and folders")
        is_note = entry.name.lower().endswith(SUFFIXES)
        if entry.name.startswith(".") or not (is_note or entry.is_dir()):
            return None
        real = os.path.realpath(entry.path) if entry.is_symlink() else entry.path
        if not _inside(real, self.root) or any(_inside(real, p) for p in _PSEUDO_ROOTS):
            log.debug(
                "retrieve: skipping %s: it resolves to %s, outside %s or in /proc, /sys", entry.path, real, self.root
            )
            return None
        try:
            st = os.stat(real)  # never opens: a fifo or a device is only looked at
        except OSError as err:
            log.debug("retrieve: skipping %s: %s", entry.path, err)
            return None
        name = os.path.join(rel, entry.name)
        if stat.S_ISDIR(st.st_mode):
            return real, name
        if is_note and stat.S_ISREG(st.st_mode):
            self._add(NoteFile(name, real, st))
        return None

    def _add(self, note: NoteFile) -> None:
        if note.stat.st_size <= MAX_FILE_BYTES:  # a larger one is listed, never read, and does not count
            self.total_bytes += note.stat.st_size
        if self.total_bytes > MAX_TOTAL_BYTES:
            raise _too_large(self.root, f"{_size(MAX_TOTAL_BYTES)} of .txt/.md notes")
        self.notes.append(note)


def walk_notes(folder: str | Path) -> list[NoteFile]:
    """The ``.txt``/``.md`` regular files in ``folder``, sorted by name; see the module docstring for what is skipped.

    A file over ``MAX_FILE_BYTES`` is listed (so its changes are noticed) but not counted; the index skips it.

    Raises:
        FolderTooLarge: more than ``MAX_FILES`` files and folders, or ``MAX_TOTAL_BYTES`` of notes.
    """
    return _Walk(os.path.realpath(folder)).run()


def read_note(note: NoteFile) -> bytes | None:
    """The note's bytes (at most ``MAX_FILE_BYTES``), or ``None`` when it is no longer the file the walk saw."""
    try:
        fd = os.open(note.path, _OPEN_FLAGS)  # O_NONBLOCK: a fifo swapped in after the walk cannot hang us
    except OSError as err:
        log.debug("retrieve: cannot open %s: %s", note.source, err)
        return None
    with os.fdopen(fd, "rb") as file:
        st = os.fstat(file.fileno())
        if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) != (note.stat.st_dev, note.stat.st_ino):
            log.debug("retrieve: skipping %s: replaced since the walk", note.source)
            return None
        data = file.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        log.warning("retrieve: skipping %s: it grew past %s", note.source, _size(MAX_FILE_BYTES))
        return None
    return data


def _passages(folder: str, notes: list[NoteFile]) -> list[Passage]:
    """Read and split the notes (run when the index is rebuilt, so each skipped file is logged once a change)."""
    passages: list[Passage] = []
    total = 0
    for note in notes:
        if note.stat.st_size > MAX_FILE_BYTES:
            size, cap = _size(note.stat.st_size), _size(MAX_FILE_BYTES)
            log.warning("retrieve: skipping %s: %s, more than the %s a note may have", note.source, size, cap)
            continue
        data = read_note(note)
        if data is None:
            continue
        total += len(data)
        if total > MAX_TOTAL_BYTES:  # files grown since the walk
            raise _too_large(folder, f"{_size(MAX_TOTAL_BYTES)} of .txt/.md notes")
        passages += [Passage(note.source, text) for text in split_passages(data.decode("utf-8", errors="replace"))]
    return passages


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
        self._signature: tuple[tuple[str, int, int, int], ...] | None = None
        self._index: BM25Index | None = None

    def index(self) -> BM25Index:
        """The folder's index, rebuilt when a file's name, size or modification time changed.

        Raises:
            FolderTooLarge: the folder is over a cap (a configuration error: the user must fix it).
        """
        if not self.folder.is_dir():
            raise ToolError(f"the notes folder {self.folder} does not exist")
        notes = walk_notes(self.folder)
        signature = tuple((n.source, n.stat.st_ino, n.stat.st_mtime_ns, n.stat.st_size) for n in notes)
        if signature != self._signature or self._index is None:
            self._index, self._signature = BM25Index(_passages(str(self.folder), notes)), signature
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
        FolderTooLarge: ``folder`` is over a cap; checked now, so a toolset fails when it is built.
    """
    if not Path(folder).expanduser().is_dir():
        raise FileNotFoundError(f"retrieve: {folder} is not a folder of .txt/.md notes")
    retriever = Retriever(folder)
    walk_notes(retriever.folder)
    return _make(retriever.search)


retrieve = _make(None)  # searches the folder named by $AGENT_RETRIEVE_DIR
