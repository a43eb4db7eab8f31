"""Low-level llama.cpp pieces behind :class:`agent.backends.llama_cpp.LlamaCppModel`.

Everything here talks to the ctypes API of llama-cpp-python 0.3.36 directly: a quiet log
sink; a GGUF header check and a crash probe in a child process, run before llama.cpp loads
a file in ours; a reusable ``llama_batch``; per-sample sampler chains with a cheap grammar
check; and the decode loop that advances ``n`` samples as parallel sequences of one batch
(one ``llama_decode`` per step for all live samples).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import subprocess
import sys
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from agent.model import ModelError

logger = logging.getLogger(__name__)

GGML_LOG_LEVEL_DEBUG, GGML_LOG_LEVEL_ERROR, GGML_LOG_LEVEL_CONT = 1, 4, 5
GGUF_VERSIONS = (2, 3)
MAX_HEADER_COUNT = 1 << 20  # more tensors or metadata keys than this means a corrupt header
RANDOM_SEED = 0xFFFFFFFF  # LLAMA_DEFAULT_SEED: llama.cpp draws a random seed


class LogSink:
    """Receives llama.cpp's log lines: keeps the recent errors, echoes all only when verbose.

    llama.cpp's logger is process-global, so there is one sink; the ctypes callback is kept
    referenced here for the life of the process (a collected callback would crash llama.cpp).
    """

    def __init__(self) -> None:
        self.verbose = False
        self.errors: deque[str] = deque(maxlen=6)
        self._callback = None
        self._level = GGML_LOG_LEVEL_DEBUG  # of the message being continued

    def install(self, verbose: bool) -> None:
        import llama_cpp

        self.verbose = verbose
        if self._callback is None:
            self._callback = llama_cpp.llama_log_callback(self._on_log)
            llama_cpp.llama_log_set(self._callback, ctypes.c_void_p(0))

    def _on_log(self, level: int, text: bytes, _user_data: ctypes.c_void_p) -> None:
        message = text.decode("utf-8", "replace")
        self._level = self._level if level == GGML_LOG_LEVEL_CONT else level
        if self._level == GGML_LOG_LEVEL_ERROR and message.strip():
            self.errors.append(message.strip())
        if self.verbose and self._level != GGML_LOG_LEVEL_DEBUG:
            sys.stderr.write(message)

    def last_error(self) -> str:
        """The most recent error lines llama.cpp logged, joined on one (bounded) line."""
        text = "; ".join(self.errors) or "no details logged"
        return text if len(text) < 400 else text[:397] + "..."


LOG_SINK = LogSink()


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


_SCALAR_SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}  # GGUF value type -> bytes


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


_PROBED: set[tuple] = set()  # (path, size, mtime) of files whose probe ran cleanly in this process
PROBE = (
    "import sys; from agent.backends.llama_cpp import LlamaCppModel as M; "
    "M(sys.argv[1], adapter=sys.argv[2] or None, n_ctx=64, n_threads=1, n_seq_max=1, probe=False, "
    "extra_bufts=sys.argv[3] == '1').complete('Hello there, world.', max_tokens=1)"
)


class ExtraBufts:
    """Whether llama.cpp may put weights in its CPU "extra" buffer types (AMX tiles, repacked
    Q4_0/Q8_0 layouts). They speed some machines up, but a CPU that reports AMX inside a VM
    that does not let a process use it crashes on the first multi-token batch (a general
    protection fault in ``ggml_backend_amx_mul_mat``). The probe finds that out and remembers it
    for this machine (a small file under ``$XDG_CACHE_HOME/cot-agent``, keyed by the CPU flags, the
    kernel and the llama.cpp build), so later processes skip the crashing try and its warning.
    ``AGENT_LLAMA_EXTRA_BUFTS=0`` turns them off without probing, ``=1`` keeps them on."""

    broken = False  # set when a probe crashed with them and ran cleanly without
    _remembered: bool | None = None  # what the cache file says about this machine (read once)

    @classmethod
    def enabled(cls) -> bool:
        forced = os.environ.get("AGENT_LLAMA_EXTRA_BUFTS", "").strip()
        if forced in ("0", "1"):
            return forced == "1"
        if cls._remembered is None:
            cls._remembered = _machine_key() in _read_verdicts()
        return not (cls.broken or cls._remembered)

    @classmethod
    def mark_broken(cls) -> None:
        """Turn them off for this process and remember it for this machine."""
        cls.broken = True
        verdicts = _read_verdicts()
        verdicts[_machine_key()] = "crashes"
        with contextlib.suppress(OSError):
            _verdict_file().parent.mkdir(parents=True, exist_ok=True)
            _verdict_file().write_text(json.dumps(verdicts, indent=1), encoding="utf-8")


def _verdict_file() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(root) / "cot-agent" / "llama-extra-bufts.json"


def _read_verdicts() -> dict[str, str]:
    try:
        data = json.loads(_verdict_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _machine_key() -> str:
    """The CPU's feature flags, the kernel and the llama.cpp build: what decides whether AMX works here."""
    import hashlib
    import platform

    try:
        lines = Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines()
    except OSError:
        lines = []
    flags = next((line for line in lines if line.startswith("flags")), "")
    try:
        from importlib.metadata import version

        build = version("llama_cpp_python")
    except Exception:  # noqa: BLE001 - any failure only makes the key less specific
        build = "?"
    return hashlib.sha256(f"{flags}|{platform.release()}|{platform.machine()}|{build}".encode()).hexdigest()[:16]


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


def probe_gguf(model: Path, adapter: Path | None, timeout: float = 300) -> None:
    """Load ``model`` (and ``adapter``) and decode a short prompt in a child process first.

    llama.cpp aborts the whole process on some corrupt files (a ``GGML_ASSERT`` on a bad
    hyperparameter such as ``block_count = 0``) instead of returning an error; the probe
    turns such a crash into a :class:`ModelError`. Files are probed once per process.
    A clean failure in the child is left to the in-process load to report. A crash that goes
    away without the extra buffer types is this machine's, not the file's: they are turned
    off for the process (:class:`ExtraBufts`).

    Raises:
        ModelError: the child crashed or hung.
    """
    files = [p for p in (model, adapter) if p]
    key = tuple((str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns) for p in files)
    if key in _PROBED:
        return
    done = _probe_child(model, adapter, ExtraBufts.enabled(), timeout)
    if done.returncode < 0 and ExtraBufts.enabled():
        retry = _probe_child(model, adapter, False, timeout)
        if retry.returncode >= 0:
            logger.warning(
                "llama.cpp crashed with its extra CPU buffer types (AMX/repacking) on this machine; "
                "running without them, and remembering that for this machine in %s",
                _verdict_file(),
            )
            ExtraBufts.mark_broken()
            done = retry
    if done.returncode < 0:
        lines = [line for line in done.stderr.splitlines() if "GGML_ASSERT" in line or "error" in line.lower()]
        reason = lines[-1].strip() if lines else f"killed by signal {-done.returncode}"
        reason = reason[reason.find("GGML_ASSERT") :] if "GGML_ASSERT" in reason else reason
        raise ModelError(
            f"{' with '.join(map(str, files))}: llama.cpp crashes on this GGUF ({reason}); "
            "the file is corrupt or was exported wrongly: export it again"
        )
    if done.returncode == 0:
        _PROBED.add(key)


def _probe_child(model: Path, adapter: Path | None, extra_bufts: bool, timeout: float):
    root = str(Path(__file__).resolve().parents[2])
    env = {
        **os.environ,
        "GGML_NO_BACKTRACE": "1",
        "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
    }
    command = [sys.executable, "-c", PROBE, str(model), str(adapter or ""), "1" if extra_bufts else "0"]
    try:
        return subprocess.run(command, check=False, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired as err:
        raise ModelError(f"{model}: llama.cpp hung for {timeout:.0f} s loading this GGUF; export it again") from err


class Batch:
    """A ``llama_batch`` of fixed capacity, refilled in place for every decode."""

    def __init__(self, capacity: int) -> None:
        import llama_cpp

        self.capacity = capacity
        self.raw = llama_cpp.llama_batch_init(capacity, 0, 1)

    def fill(self, rows: Sequence[tuple[int, int, int, bool]]) -> None:
        """Set the batch to ``rows`` of (token, position, sequence id, wants logits)."""
        raw = self.raw
        for i, (token, pos, seq_id, logits) in enumerate(rows):
            raw.token[i] = token
            raw.pos[i] = pos
            raw.n_seq_id[i] = 1
            raw.seq_id[i][0] = seq_id
            raw.logits[i] = logits
        raw.n_tokens = len(rows)

    def close(self) -> None:
        import llama_cpp

        if self.raw is not None:
            llama_cpp.llama_batch_free(self.raw)
            self.raw = None


def make_chain(temperature: float, seed: int, top_k: int, top_p: float, min_p: float):
    """A sampler chain: greedy, or top-k / top-p / min-p / temperature / seeded draw (freed by the caller)."""
    import llama_cpp

    params = llama_cpp.llama_sampler_chain_default_params()
    params.no_perf = True
    chain = llama_cpp.llama_sampler_chain_init(params)
    if temperature <= 0:
        llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_greedy())
        return chain
    for sampler in (
        llama_cpp.llama_sampler_init_top_k(top_k),
        llama_cpp.llama_sampler_init_top_p(top_p, 1),
        llama_cpp.llama_sampler_init_min_p(min_p, 1),
        llama_cpp.llama_sampler_init_temp(temperature),
        llama_cpp.llama_sampler_init_dist(seed),
    ):
        llama_cpp.llama_sampler_chain_add(chain, sampler)
    return chain


@dataclass
class Sample:
    """One sample being generated as llama.cpp sequence ``seq_id``."""

    seq_id: int
    chain: object
    grammar: object | None  # this sample's own copy of the grammar sampler (its own parse state)
    pos: int  # position its next token will be decoded at
    idx: int = 0  # row of the last decoded batch holding its logits
    tokens: list[int] = field(default_factory=list)
    decoded: int = 0  # how many of ``tokens`` are in the KV cache
    data: bytearray = field(default_factory=bytearray)
    text: str = ""
    logprobs: list[float] = field(default_factory=list)
    finish: str | None = None


@dataclass(frozen=True)
class Limits:
    """When a sample ends, and what to record while it runs."""

    stop: tuple[str, ...]
    max_tokens: int
    logprobs: bool


def draw(ctx, sample: Sample, logits) -> int:
    """Draw the next token of ``sample`` from ``logits`` (its row of the last batch).

    With a grammar, llama.cpp's own shortcut: draw unconstrained and keep the token if the
    grammar accepts it; only when it does not, mask the whole vocabulary with the grammar
    and draw again (masking every token costs ten times a plain draw).
    """
    import llama_cpp
    import numpy as np

    token = llama_cpp.llama_sampler_sample(sample.chain, ctx, sample.idx)
    if sample.grammar is None:
        return token
    one = (llama_cpp.llama_token_data * 1)(llama_cpp.llama_token_data(token, float(logits[token]), 0.0))
    check = llama_cpp.llama_token_data_array(one, 1, -1, False)
    llama_cpp.llama_sampler_apply(sample.grammar, ctypes.byref(check))
    if not np.isfinite(one[0].logit):
        candidates = np.zeros(len(logits), dtype=[("id", np.int32), ("logit", np.float32), ("p", np.float32)])
        candidates["id"], candidates["logit"] = np.arange(len(logits)), logits
        data = candidates.ctypes.data_as(llama_cpp.llama_token_data_p)
        every = llama_cpp.llama_token_data_array(data, len(logits), -1, False)
        llama_cpp.llama_sampler_apply(sample.grammar, ctypes.byref(every))
        llama_cpp.llama_sampler_apply(sample.chain, ctypes.byref(every))
        token = every.data[every.selected].id
    llama_cpp.llama_sampler_accept(sample.grammar, token)
    return token


def log_softmax_at(logits, token: int) -> float:
    """log-softmax of ``logits`` at ``token``."""
    import numpy as np

    top = float(logits.max())
    return float(logits[token]) - top - float(np.log(np.exp(logits - top, dtype=np.float64).sum()))


def _advance(ctx, vocab, n_vocab: int, sample: Sample, limits: Limits, piece: Callable[[int], bytes]) -> None:
    """Sample the next token of ``sample`` and update its text and finish reason."""
    import llama_cpp
    import numpy as np

    logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(ctx, sample.idx), shape=(n_vocab,))
    token = draw(ctx, sample, logits)
    if llama_cpp.llama_vocab_is_eog(vocab, token):
        sample.finish = "stop"
        return
    if limits.logprobs:
        sample.logprobs.append(log_softmax_at(logits, token))
    sample.tokens.append(token)
    seen = len(sample.text)
    sample.data += piece(token)
    sample.text = sample.data.decode("utf-8", "ignore")
    cuts = [i for s in limits.stop if s and (i := sample.text.find(s, max(0, seen - len(s)))) >= 0]
    if cuts:
        sample.text = sample.text[: min(cuts)]
        sample.finish = "stop"
    elif len(sample.tokens) >= limits.max_tokens:
        sample.finish = "length"


def generate(ctx, vocab, batch: Batch, samples: list[Sample], limits: Limits, piece: Callable[[int], bytes]) -> None:
    """Run ``samples`` to their end, decoding one token per live sample per step in one batch.

    Each sample's first token is drawn from the logits its ``idx`` points at (the prompt's
    last row, shared by all samples); its sequence must already hold the prompt.

    Raises:
        ModelError: llama.cpp failed to decode.
    """
    import llama_cpp

    n_vocab = llama_cpp.llama_vocab_n_tokens(vocab)
    live = [s for s in samples if s.finish is None]
    while live:
        for sample in live:
            _advance(ctx, vocab, n_vocab, sample, limits, piece)
        live = [s for s in live if s.finish is None]
        if not live:
            return
        batch.fill([(s.tokens[-1], s.pos, s.seq_id, True) for s in live])
        status = llama_cpp.llama_decode(ctx, batch.raw)
        if status == 1:  # no KV slot left: the context is full
            logger.warning("llama.cpp context full after %d tokens; ending %d samples", live[0].pos, len(live))
            for sample in live:
                sample.finish = "length"
            return
        if status != 0:
            raise ModelError(f"llama_decode failed with status {status}: {LOG_SINK.last_error()}")
        for row, sample in enumerate(live):
            sample.idx, sample.pos, sample.decoded = row, sample.pos + 1, sample.decoded + 1
