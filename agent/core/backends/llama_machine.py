"""What llama.cpp can do on this machine, remembered across processes.

A small JSON file under ``$XDG_CACHE_HOME/cot-agent`` holds two kinds of verdict, both keyed by
:func:`machine_key` (the CPU's flags, the kernel and the llama.cpp build):

- ``"<machine>": "crashes"``: llama.cpp's extra CPU buffer types (AMX, repacked weights) crash here;
- ``"<machine>:<files>:<bufts>": "clean"``: these GGUF files (path, size, times, inode) loaded and
  decoded cleanly in a probe child, with the extra buffer types on (1) or off (0). A later process
  skips the probe for them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

MAX_CLEAN = 64  # clean verdicts kept (the oldest go first): one per model file a machine has run


def verdict_file() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(root) / "cot-agent" / "llama-extra-bufts.json"


def read_verdicts() -> dict[str, str]:
    try:
        data = json.loads(verdict_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_verdict(key: str, verdict: str) -> None:
    """Record one verdict (best effort: an unwritable cache only means probing again)."""
    verdicts = read_verdicts()
    verdicts.pop(key, None)
    verdicts[key] = verdict
    clean = [k for k, v in verdicts.items() if v == "clean"]
    for old in clean[: max(0, len(clean) - MAX_CLEAN)]:
        del verdicts[old]
    path = verdict_file()
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".verdicts-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(json.dumps(verdicts, indent=1))
            os.replace(tmp, path)  # whole or not at all, even with several processes writing
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)


_MACHINE: list[str] = []  # the key, computed once a process


def machine_key() -> str:
    """The CPU's feature flags, the kernel and the llama.cpp build: what decides whether AMX works here."""
    if not _MACHINE:
        flags = ""
        with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as f:
            flags = next((line.rstrip("\n") for line in f if line.startswith("flags")), "")
        if hasattr(os, "uname"):
            release, machine = os.uname().release, os.uname().machine
        else:  # pragma: no cover - not Linux
            import platform

            release, machine = platform.release(), platform.machine()
        text = f"{flags}|{release}|{machine}|{llama_cpp_build()}"
        _MACHINE.append(hashlib.sha256(text.encode()).hexdigest()[:16])
    return _MACHINE[0]


def llama_cpp_build() -> str:
    """llama-cpp-python's version (from the module when it is imported already: no metadata scan)."""
    version = getattr(sys.modules.get("llama_cpp"), "__version__", None)
    if version:
        return version
    try:
        from importlib.metadata import version as dist_version

        return dist_version("llama_cpp_python")
    except Exception:  # noqa: BLE001 - any failure only makes the key less specific
        return "?"


def files_key(files: Sequence[Path]) -> str:
    """Who these files are: resolved path, size, modification and change times, inode. A rewritten or
    replaced file gets a new key (its change time moves even when its modification time is restored)."""
    parts = []
    for path in files:
        st = path.stat()
        parts.append(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{st.st_ctime_ns}|{st.st_dev}|{st.st_ino}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _clean_key(files: Sequence[Path], extra_bufts: bool) -> str:
    return f"{machine_key()}:{files_key(files)}:{int(extra_bufts)}"


def known_clean(files: Sequence[Path], extra_bufts: bool) -> bool:
    """Whether a probe already loaded and decoded these files cleanly on this machine."""
    try:
        return read_verdicts().get(_clean_key(files, extra_bufts)) == "clean"
    except OSError:
        return False


def remember_clean(files: Sequence[Path], extra_bufts: bool) -> None:
    with contextlib.suppress(OSError):
        write_verdict(_clean_key(files, extra_bufts), "clean")


class ExtraBufts:
    """Whether llama.cpp may put weights in its CPU "extra" buffer types (AMX tiles, repacked
    Q4_0/Q8_0 layouts). They speed some machines up, but a CPU that reports AMX inside a VM
    that does not let a process use it crashes on the first multi-token batch (a general
    protection fault in ``ggml_backend_amx_mul_mat``). The probe finds that out and remembers it
    for this machine, so later processes skip the crashing try and its warning.
    ``AGENT_LLAMA_EXTRA_BUFTS=0`` turns them off without probing, ``=1`` keeps them on."""

    broken = False  # set when a probe crashed with them and ran cleanly without
    _remembered: bool | None = None  # what the cache file says about this machine (read once)

    @classmethod
    def enabled(cls) -> bool:
        forced = os.environ.get("AGENT_LLAMA_EXTRA_BUFTS", "").strip()
        if forced in ("0", "1"):
            return forced == "1"
        if cls._remembered is None:
            cls._remembered = read_verdicts().get(machine_key()) == "crashes"
        return not (cls.broken or cls._remembered)

    @classmethod
    def mark_broken(cls) -> None:
        """Turn them off for this process and remember it for this machine."""
        cls.broken = True
        write_verdict(machine_key(), "crashes")


def follow_extra_bufts_in_high_level_api() -> None:
    """Make ``llama_cpp.Llama`` (llama-cpp-python's high-level class, which has no switch for
    them) load models with or without the extra buffer types as :class:`ExtraBufts` says, at the
    time of each load. For code that opens a ``Llama`` beside ours (tests, benchmarks); idempotent."""
    import llama_cpp.llama_cpp as api

    default = api.llama_model_default_params
    if getattr(default, "follows_extra_bufts", False):
        return

    def params():
        out = default()
        out.use_extra_bufts = ExtraBufts.enabled()
        return out

    params.follows_extra_bufts = True
    api.llama_model_default_params = params
