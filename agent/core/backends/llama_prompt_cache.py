"""The system prompt's KV state kept across processes, so a new process need not evaluate it again.

Every ReAct run starts with the same system message (the tools and the format, about 420 tokens),
and evaluating it was most of the time to the first step of a short run. The backend evaluates a
prompt's first chat turn (up to its first end-of-turn token, :func:`first_turn_end`) as a batch of
its own, always, so the cells it leaves do not depend on what follows; a process that evaluated it
from nothing saves them here, and a later process whose first prompt starts with the same turn loads
them instead of evaluating them. Either way the same numbers reach the rest of the prompt.

A file under ``$XDG_CACHE_HOME/cot-agent/prompts`` is named after a key that carries everything the
cells depend on (this machine and llama.cpp build, the model and adapter files, the extra buffer
types, the batch size and threads) and a hash of the turn's tokens; it holds ``MAGIC``, the token
count (uint32), the tokens (int32 each), the state's length (uint64), a 32-byte BLAKE2b digest of
the tokens and the state, then the state from ``llama_state_seq_get_data``. A file that fails any
check is ignored. ``AGENT_PROMPT_CACHE=0`` turns the files off (the turn is still its own batch).
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import logging
import os
import struct
import tempfile
from array import array
from collections.abc import Callable
from pathlib import Path

logger = logging.getLogger(__name__)

MAGIC = b"cot-kv\x00\x02"
MIN_TURN = 64  # a first turn shorter than this is evaluated with the rest, and never saved
MAX_BYTES = 64 << 20  # all saved states together; the least recently used go first
MAX_STATE = 32 << 20  # a larger state (a first turn over ~1,400 tokens on SmolLM2) is not saved


def enabled() -> bool:
    return os.environ.get("AGENT_PROMPT_CACHE", "").strip() != "0"


def cache_dir() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(root) / "cot-agent" / "prompts"


def first_turn_end(tokens: list[int], is_end_of_turn: Callable[[int], bool]) -> int:
    """Where the prompt's first chat turn ends (just after its end-of-turn token), or 0: no such turn,
    one shorter than ``MIN_TURN``, or one that leaves nothing but the last token after it."""
    end = next((i + 1 for i in range(1, len(tokens) - 2) if is_end_of_turn(tokens[i])), 0)
    return end if end >= MIN_TURN else 0


class PromptCache:
    """Saved first turns for one model set-up, identified by ``key`` (a short hex string).

    Args:
        key: what the KV cells depend on, hashed; files of other keys are never read.
        directory: where the files live (default :func:`cache_dir`).
    """

    def __init__(self, key: str, directory: Path | None = None) -> None:
        self.key = key
        self.directory = directory or cache_dir()

    def path(self, tokens: list[int]) -> Path:
        ids = array("i", tokens).tobytes()
        return self.directory / f"{self.key}-{hashlib.blake2b(ids, digest_size=8).hexdigest()}.kv"

    def restore(self, ctx, tokens: list[int]) -> bool:
        """Load the saved state of exactly ``tokens`` into sequence 0 (which must be empty).
        Returns whether it did; on any failure sequence 0 is left empty."""
        path = self.path(tokens)
        try:
            state = self._read(path, tokens)
        except FileNotFoundError:
            return False
        except (OSError, ValueError, struct.error) as err:
            logger.debug("prompt cache: %s unusable (%s)", path, err)
            return False
        import llama_cpp

        buf = (ctypes.c_uint8 * len(state)).from_buffer(state)
        if llama_cpp.llama_state_seq_set_data(ctx, buf, len(state), 0) == 0:
            llama_cpp.llama_memory_seq_rm(llama_cpp.llama_get_memory(ctx), 0, -1, -1)
            return False
        with contextlib.suppress(OSError):
            os.utime(path)  # recently used: evicted last
        return True

    def save(self, ctx, tokens: list[int]) -> None:
        """Save what sequence 0 holds (exactly ``tokens``), best effort: a full or read-only disk only
        means evaluating the turn again next time."""
        import llama_cpp

        size = llama_cpp.llama_state_seq_get_size(ctx, 0)
        if not 0 < size <= MAX_STATE:
            return
        state = (ctypes.c_uint8 * size)()
        if llama_cpp.llama_state_seq_get_data(ctx, state, size, 0) != size:
            return
        ids = array("i", tokens).tobytes()
        digest = hashlib.blake2b(ids, digest_size=32)
        digest.update(state)
        header = MAGIC + struct.pack("<I", len(tokens)) + ids + struct.pack("<Q", size) + digest.digest()
        with contextlib.suppress(OSError):
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".kv-")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(header)
                    f.write(state)
                os.replace(tmp, self.path(tokens))  # whole or not at all, even with several writers
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
            self._evict()

    @staticmethod
    def _read(path: Path, tokens: list[int]) -> bytearray:
        """The state bytes of a file, after its tokens and digest are checked."""
        with path.open("rb") as f:
            if f.read(len(MAGIC)) != MAGIC:
                raise ValueError("not a prompt state")
            (count,) = struct.unpack("<I", f.read(4))
            ids = f.read(4 * count)
            if ids != array("i", tokens).tobytes():
                raise ValueError("other tokens")
            (size,) = struct.unpack("<Q", f.read(8))
            expected = f.read(32)
            if not 0 < size <= MAX_STATE:
                raise ValueError("bad header")
            state = bytearray(size)
            if f.readinto(state) != size or f.read(1):
                raise ValueError("truncated or overlong")
        digest = hashlib.blake2b(ids, digest_size=32)
        digest.update(state)
        if digest.digest() != expected:
            raise ValueError("checksum mismatch")
        return state

    def _evict(self) -> None:
        """Delete the least recently used files of every key until all fit ``MAX_BYTES``."""
        with contextlib.suppress(OSError):
            files = [(p.stat().st_mtime_ns, p.stat().st_size, p) for p in self.directory.glob("*.kv")]
            total = sum(size for _, size, _ in files)
            for _, size, path in sorted(files, key=lambda f: f[0]):
                if total <= MAX_BYTES:
                    break
                with contextlib.suppress(OSError):
                    path.unlink()
                total -= size
