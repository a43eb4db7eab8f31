"""Reading a GGUF file's header in Python, before (or without) llama.cpp: a sanity check and one metadata key."""

from __future__ import annotations

from pathlib import Path

from agent.core.model import ModelError

GGUF_VERSIONS = (2, 3)
MAX_HEADER_COUNT = 1 << 20  # more tensors or metadata keys than this means a corrupt header
_SCALAR_SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}  # GGUF value type -> bytes


def check_gguf(path: Path, what: str) -> None:
    """Check that ``path`` is a GGUF file with a sane header before llama.cpp opens it.

    Raises:
        ModelError: missing file, bad magic, unknown version or an absurd header.
    """
    if not path.is_file():
        raise ModelError(f"{path}: {what} file not found; check the path (or pass None for the embedded model)")
    with path.open("rb") as f:
        head = f.read(24)
    if head[:4] != b"GGUF":
        raise ModelError(
            f"{path}: not a GGUF file (bad magic {head[:4]!r}); give a .gguf {what} exported for llama.cpp"
        )
    version = int.from_bytes(head[4:8], "little")
    n_tensors = int.from_bytes(head[8:16], "little")
    n_kv = int.from_bytes(head[16:24], "little")
    if len(head) < 24 or version not in GGUF_VERSIONS or n_tensors > MAX_HEADER_COUNT or n_kv > MAX_HEADER_COUNT:
        raise ModelError(
            f"{path}: corrupt or truncated GGUF header (version {version}, {n_tensors} tensors, {n_kv} keys); "
            f"export or download the {what} again"
        )


def gguf_string(path: Path, key: str, max_keys: int = 64) -> str | None:
    """The string value of metadata ``key`` among the first ``max_keys`` of a GGUF file (None if absent).

    Reads the header only (no llama.cpp): ``general.type`` tells a LoRA adapter (``adapter``) from a model.
    """

    def take(f, n: int) -> bytes:
        if n > limit:  # a length no header holds: random bytes after the magic
            raise ValueError(n)
        data = f.read(n)
        if len(data) != n:
            raise EOFError
        return data

    def length(f) -> int:
        n = int.from_bytes(take(f, 8), "little")
        if n > limit:
            raise ValueError(n)
        return n

    def skip(f, kind: int) -> None:
        if kind == 8:
            f.seek(length(f), 1)
        elif kind == 9:
            inner, count = int.from_bytes(take(f, 4), "little"), length(f)
            if inner in _SCALAR_SIZES:
                f.seek(_SCALAR_SIZES[inner] * count, 1)
            else:
                for _ in range(count):
                    skip(f, inner)
        elif kind in _SCALAR_SIZES:
            f.seek(_SCALAR_SIZES[kind], 1)
        else:
            raise ValueError(kind)

    limit = 1 << 24
    try:
        with Path(path).open("rb") as f:
            if take(f, 4) != b"GGUF":
                return None
            take(f, 12)
            n_kv = int.from_bytes(take(f, 8), "little")
            for _ in range(min(n_kv, max_keys)):
                name = take(f, length(f)).decode("utf-8", "replace")
                kind = int.from_bytes(take(f, 4), "little")
                if name == key and kind == 8:
                    return take(f, length(f)).decode("utf-8", "replace")
                skip(f, kind)
    except (OSError, EOFError, ValueError, OverflowError, MemoryError, RecursionError):
        return None
    return None
