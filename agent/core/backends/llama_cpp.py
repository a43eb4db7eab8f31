"""The llama.cpp backend: the runtime's default, on CPU, through llama-cpp-python's C API.

One context holds a unified KV cache shared by up to ``n_seq_max`` sequences. A call
evaluates only the part of the prompt that differs from what sequence 0 already holds
(the previous prompt plus its first sample), then draws its ``n`` samples as parallel
sequences of one batch: the prompt's cache cells are shared, not copied, and each step
decodes one token for every live sample in a single ``llama_decode``.

This file keeps the :class:`~agent.core.model.Model` protocol and the KV cache: what each sequence holds,
prefill, and the rounds of samples. Loading the files and creating the context is ``llama_load``'s
job, the vocabulary (chat template, tokens, pieces, grammars) ``llama_vocab``'s, and the decode loop
``llama_batch``'s.

Example:
    >>> m = LlamaCppModel()  # the embedded SmolLM2-135M-Instruct
    >>> prompt = m.render([{"role": "user", "content": "Say yes or no."}])
    >>> m.complete(prompt, grammar='root ::= "yes" | "no"').text in ("yes", "no")
    True
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from pathlib import Path

from agent.core import embedded
from agent.core.backends import llama_machine, llama_prompt_cache
from agent.core.backends.gguf_header import check_gguf
from agent.core.backends.llama_batch import Batch, Limits, Sample, generate
from agent.core.backends.llama_load import load_adapter, load_model_file, meta_string, new_context
from agent.core.backends.llama_log import LOG_SINK
from agent.core.backends.llama_probe import probe_gguf
from agent.core.backends.llama_sampling import RANDOM_SEED, free_samplers, make_chain
from agent.core.backends.llama_vocab import Vocab
from agent.core.chat_templates import chat_template
from agent.core.embedded import default_adapter_path, embedded_model_path
from agent.core.model import Completion, ModelError


def adapter_label(adapter: Path) -> str:
    """How results name an adapter: the shipped one by its file name, any other with its folder too.

    Training runs export alike-named files (``runs/g5/touch-adapter.gguf``, ``runs/g6/touch-adapter.gguf``);
    ``agent eval report`` groups by model name, so the folder keeps two runs' rows apart.
    """
    shipped = embedded.default_adapter_path()
    same = shipped is not None and adapter.resolve() == shipped.resolve()
    return adapter.name if same or not adapter.parent.name else f"{adapter.parent.name}/{adapter.name}"


def _shared(a: list[int], b: list[int]) -> int:
    """The length of the common prefix of two token lists."""
    n = min(len(a), len(b))
    return next((i for i in range(n) if a[i] != b[i]), n)


class LlamaCppModel:
    """A GGUF model (optionally with a GGUF LoRA adapter) run by llama.cpp.

    Args:
        path: the ``.gguf`` model; ``None`` for the embedded SmolLM2-135M-Instruct (with the
            shipped default adapter, if any, when ``adapter`` is also ``None``).
        adapter: a GGUF LoRA adapter applied on top of the model.
        n_ctx: KV cache cells, shared by all sequences (prompt cells are shared by the samples).
        n_threads: CPU threads; default ``$AGENT_THREADS`` or ``os.cpu_count()`` (fewer helps on a busy machine).
        n_seq_max: the most samples drawn in one batch; larger ``n`` runs in rounds.
        verbose: let llama.cpp's own logging through to stderr.
        probe: first load the files in a child process (about a second; once per file and machine,
            as a clean verdict is remembered), so a corrupt file that would abort llama.cpp raises
            :class:`ModelError` (and a machine whose AMX crashes llama.cpp runs without it).
        extra_bufts: let llama.cpp use its extra CPU buffer types (AMX, repacked weights);
            default: yes unless a probe found them crashing here or ``$AGENT_LLAMA_EXTRA_BUFTS=0``.
        prompt_cache: the first prompt may start from a state an earlier process saved (and a long
            first prompt evaluated from nothing is saved), see :mod:`agent.core.backends.llama_prompt_cache`;
            default: yes unless ``$AGENT_PROMPT_CACHE=0``.

    Raises:
        ModelError: a missing, non-GGUF, corrupt or truncated model or adapter file.
    """

    top_k = 40  # sampling at temperature > 0 follows llama.cpp's defaults
    top_p = 0.95
    min_p = 0.05

    def __init__(
        self,
        path: str | None = None,
        *,
        adapter: str | None = None,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        n_seq_max: int = 8,
        verbose: bool = False,
        probe: bool = True,
        extra_bufts: bool | None = None,
        prompt_cache: bool | None = None,
    ):
        try:
            import llama_cpp
        except ImportError as err:
            raise ModelError("llama-cpp-python is not installed: `pip install llama-cpp-python==0.3.36`") from err
        if path is None:
            path, adapter = embedded_model_path(), adapter or default_adapter_path()
        self.path, self.adapter = Path(path), Path(adapter) if adapter else None
        self.name = self.path.name + (f"+{adapter_label(self.adapter)}" if self.adapter else "")
        self.n_ctx, self.n_seq_max = n_ctx, max(1, n_seq_max)
        self.n_batch = min(n_ctx, 512)
        self._model = self._ctx = self._batch = self._lora = self._vocab = None
        check_gguf(self.path, "model")
        if self.adapter:
            check_gguf(self.adapter, "LoRA adapter")
        if probe:
            probe_gguf(self.path, self.adapter)
        self.extra_bufts = llama_machine.ExtraBufts.enabled() if extra_bufts is None else extra_bufts
        LOG_SINK.install(verbose)
        llama_cpp.llama_backend_init()  # cheap and idempotent
        self.n_threads = n_threads or int(os.environ.get("AGENT_THREADS") or 0) or os.cpu_count() or 1
        self._model = load_model_file(self.path, self.extra_bufts)
        self._owner: LlamaCppModel | None = None  # with_adapter: the model whose weights these are
        if self.adapter:
            self._lora = load_adapter(self._model, self.adapter, self.path)
        self._set_up(llama_prompt_cache.enabled() if prompt_cache is None else prompt_cache)

    def _set_up(self, use_disk: bool) -> None:
        """The context, vocabulary, batch and caches over the loaded weights (and adapter)."""
        self._new_context()
        template = chat_template(meta_string(self._model, "tokenizer.chat_template"),
                                 meta_string(self._model, "general.architecture"))
        self._vocab = Vocab(self._model, self.name, template)
        self._batch = Batch(max(self.n_batch, self.n_seq_max))
        self._cache: list[int] = []  # the tokens sequence 0 holds in the KV cache
        self._held: dict[int, list[int]] = {}  # complete_many: the tokens each sequence holds
        self._lock = threading.Lock()
        self._disk = self._prompt_cache() if use_disk else None  # used by the first prefill only

    def with_adapter(self, adapter: str | Path) -> LlamaCppModel:
        """The same loaded weights with another GGUF LoRA ``adapter`` (a PRM beside the policy): one base in
        memory, its own context and KV cache. Close it before this model; it keeps this model alive.

        Raises:
            ModelError: the adapter is missing, not a GGUF LoRA, or made for another model.
        """
        other = object.__new__(type(self))
        other.path, other.adapter = self.path, Path(adapter)
        other._model = other._ctx = other._batch = other._lora = other._vocab = None
        check_gguf(other.adapter, "LoRA adapter")
        other.name = self.path.name + f"+{adapter_label(other.adapter)}"
        other.n_ctx, other.n_seq_max, other.n_batch = self.n_ctx, self.n_seq_max, self.n_batch
        other.extra_bufts, other.n_threads = self.extra_bufts, self.n_threads
        other._model, other._owner = self._model, self
        other._lora = load_adapter(self._model, other.adapter, self.path)
        other._set_up(self._disk is not None)
        return other

    def _prompt_cache(self) -> llama_prompt_cache.PromptCache | None:
        """The saved prompt states for this set-up: what the KV cells depend on names them."""
        import hashlib

        try:
            files = llama_machine.files_key([p for p in (self.path, self.adapter) if p])
        except OSError:
            return None
        setup = f"{llama_machine.machine_key()}|{files}|{int(self.extra_bufts)}|{self.n_batch}|{self.n_threads}"
        return llama_prompt_cache.PromptCache(hashlib.sha256(setup.encode()).hexdigest()[:16])

    def _new_context(self) -> None:
        """The llama.cpp context (KV cache for ``n_ctx`` cells, ``n_seq_max`` sequences) with the adapter set."""
        import llama_cpp

        self._ctx = new_context(
            self._model,
            self._lora,
            n_ctx=self.n_ctx,
            n_batch=self.n_batch,
            n_seq_max=self.n_seq_max,
            n_threads=self.n_threads,
            model_path=self.path,
            adapter=self.adapter,
        )
        self._mem = llama_cpp.llama_get_memory(self._ctx)

    def reserve(self, sequences: int, n_ctx_each: int = 4096) -> None:
        """Make room for ``sequences`` parallel sequences of ``n_ctx_each`` cells (``agent eval --parallel``):
        a new, larger context (the weights stay loaded). The cache stays unified: sequences share their
        common prefix's cells (separate streams per sequence measured slower here)."""
        import llama_cpp

        n_seq_max = max(self.n_seq_max, sequences)
        n_ctx = n_seq_max * n_ctx_each
        if (n_ctx, n_seq_max) == (self.n_ctx, self.n_seq_max):
            return
        with self._lock:
            llama_cpp.llama_free(self._ctx)
            self._ctx = None
            self.n_ctx, self.n_seq_max = n_ctx, n_seq_max
            self._new_context()
            self._batch.close()
            self._batch = Batch(max(self.n_batch, self.n_seq_max))
            self._cache, self._held = [], {}

    # -- the Model protocol ---------------------------------------------------------------

    def render(self, messages: list[dict[str, str]], add_generation_prompt: bool = True) -> str:
        """Render chat messages with the chat template from the GGUF metadata."""
        return self._vocab.render(messages, add_generation_prompt)

    def count_tokens(self, text: str) -> int:
        """Number of tokens ``text`` encodes to (special tokens in the text count as one)."""
        return len(self._vocab.tokenize(text, add_special=False))

    def complete(
        self,
        prompt: str,
        *,
        stop: list[str] | tuple[str, ...] = (),
        grammar: str | None = None,
        n: int = 1,
        max_tokens: int = 256,
        temperature: float = 0.0,
        seed: int | None = None,
        logprobs: bool = False,
    ) -> Completion:
        """Continue ``prompt`` with ``n`` samples drawn as parallel sequences of one batch.

        See :meth:`agent.core.model.Model.complete`. Seeded samples are repeatable: sample ``i``
        uses seed ``seed + i``.
        """
        if n < 1 or max_tokens < 0:
            raise ValueError(f"n must be >= 1 and max_tokens >= 0, got n={n}, max_tokens={max_tokens}")
        start = time.perf_counter()
        limits = Limits(tuple(stop), max_tokens, logprobs)
        with self._lock:
            tokens = self._encode(prompt)
            parser = self._vocab.grammar(grammar) if grammar else None
            self._drop_held()
            evaluated, samples = 0, []
            for first in range(0, n, self.n_seq_max):
                evaluated += self._prefill(tokens)
                count = min(self.n_seq_max, n - first)
                samples += self._sample(tokens, first, count, limits, parser, temperature, seed)
        return Completion(
            texts=[s.text for s in samples],
            prompt_tokens=evaluated,
            completion_tokens=sum(len(s.tokens) for s in samples),
            seconds=time.perf_counter() - start,
            logprobs=[s.logprobs for s in samples] if logprobs else None,
            finish_reasons=[s.finish or "length" for s in samples],
        )

    batch_grammar = True  # complete_many takes a grammar (BatchingModel passes it through)

    def complete_many(
        self,
        prompts: list[str],
        *,
        stop: list[str] | tuple[str, ...] = (),
        grammar: str | None = None,
        max_tokens: int = 256,
        temperature: float = 0.0,
        seed: int | None = None,
    ) -> list[Completion]:
        """Continue each of ``prompts`` once, up to ``n_seq_max`` of them as parallel sequences of one batch.

        What :class:`~agent.core.backends.batching.BatchingModel` calls to serve many agents at once (``agent eval
        --parallel``). The prompts' common prefix (the system prompt, for ReAct runs) is evaluated once and
        shared in the KV cache. Greedy texts equal :meth:`complete`'s up to llama.cpp's batch rounding.
        """
        if max_tokens < 0:
            raise ValueError(f"max_tokens must be >= 0, got {max_tokens}")
        limits = Limits(tuple(stop), max_tokens, False)
        out: list[Completion] = []
        with self._lock:
            parser = self._vocab.grammar(grammar) if grammar else None
            encoded = [self._encode(p) for p in prompts]
            for first in range(0, len(encoded), self.n_seq_max):
                out += self._many(encoded[first : first + self.n_seq_max], limits, parser, temperature, seed, first)
        return out

    def _many(self, group: list[list[int]], limits: Limits, parser, temperature: float, seed, first: int):
        """One round of :meth:`complete_many`: sequence ``j`` comes to hold ``group[j]``; all decode together.

        Each sequence keeps what it held after the last round (``self._held``), so an agent's next step
        evaluates only its new tokens; the round's common prefix (the system prompt) is evaluated once and
        shared with the sequences that lack it.
        """
        import llama_cpp

        start = time.perf_counter()
        held = self._held
        held[0] = self._cache
        seqs: list[int] = []  # the sequence each prompt goes to: the free one holding most of it
        for tokens in group:
            free = [j for j in range(self.n_seq_max) if j not in seqs]
            seqs.append(max(free, key=lambda j: (_shared(held.get(j, []), tokens), -j)))
        others = [j for j in held if j not in seqs]
        new_cells = sum(len(t) - _shared(held.get(j, []), t) for j, t in zip(seqs, group))
        cells = sum(len(held[j]) for j in held) + new_cells + len(group) * limits.max_tokens
        if cells > self.n_ctx:
            for j in others:  # make room: sequences this round does not use free their cells
                llama_cpp.llama_memory_seq_rm(self._mem, j, -1, -1)
                del held[j]
        common = min(len(t) for t in group) - 1  # every sequence keeps at least its last token to decode
        for tokens in group[1:]:
            common = min(common, _shared(group[0], tokens))
        keep = [min(_shared(held.get(j, []), tokens), len(tokens) - 1) for j, tokens in zip(seqs, group)]
        root = max(range(len(group)), key=lambda i: keep[i])
        evaluated = 0
        samples: list[Sample] = []
        with self._drawing(samples):
            for i, j in enumerate(seqs):
                llama_cpp.llama_memory_seq_rm(self._mem, j, keep[i], -1)
                held[j] = group[i][: keep[i]]
            rows = [(t, keep[root] + k, seqs[root], False) for k, t in enumerate(group[root][keep[root] : common])]
            for at in range(0, len(rows), self.n_batch):  # the shared prefix, once, into the best-kept sequence
                self._decode_rows(rows[at : at + self.n_batch])
            evaluated += len(rows)
            keep[root] = max(keep[root], common)
            for i, j in enumerate(seqs):
                if keep[i] < common:  # share the prefix's cells instead of evaluating them again
                    llama_cpp.llama_memory_seq_rm(self._mem, j, -1, -1)
                    llama_cpp.llama_memory_seq_cp(self._mem, seqs[root], j, 0, common)
                    keep[i] = common
            rows = [
                (t, keep[i] + k, j, False) for i, j in enumerate(seqs) for k, t in enumerate(group[i][keep[i] : -1])
            ]
            for at in range(0, len(rows), self.n_batch):
                self._decode_rows(rows[at : at + self.n_batch])
            self._decode_rows([(tokens[-1], len(tokens) - 1, j, True) for j, tokens in zip(seqs, group)])
            evaluated += len(rows) + len(group)
            for i, (j, tokens) in enumerate(zip(seqs, group)):
                samples.append(self._new_sample(j, len(tokens), parser, temperature, seed, first + i, idx=i))
            if limits.max_tokens > 0:
                generate(self._ctx, self._vocab.raw, self._batch, samples, limits, self._vocab.piece)
            for sample, tokens in zip(samples, group):
                held[sample.seq_id] = tokens + sample.tokens[: sample.decoded]
            self._cache = held.get(0, [])
        seconds = time.perf_counter() - start
        return [
            Completion(
                texts=[s.text],
                prompt_tokens=evaluated if j == 0 else 0,  # the round's evaluated tokens, counted once
                completion_tokens=len(s.tokens),
                seconds=seconds,
                finish_reasons=[s.finish or "length"],
            )
            for j, s in enumerate(samples)
        ]

    @contextlib.contextmanager
    def _drawing(self, samples: list[Sample]):
        """Around a generation: free the samples' samplers at the end; on any failure forget the KV cache,
        whose state is then unknown."""
        try:
            yield
        except BaseException:
            self._forget_cache()
            raise
        finally:
            free_samplers(samples)

    def _forget_cache(self) -> None:
        import llama_cpp

        llama_cpp.llama_memory_clear(self._mem, True)
        self._cache, self._held = [], {}

    def _drop_held(self) -> None:
        """Free the sequences other than 0 that :meth:`complete_many` kept (before a single-prompt call)."""
        import llama_cpp

        for j in [j for j in self._held if j > 0]:
            llama_cpp.llama_memory_seq_rm(self._mem, j, -1, -1)
        self._held = {}

    # -- the KV cache and the batch -------------------------------------------------------

    def _prefill(self, tokens: list[int], logits: bool = True) -> int:
        """Make sequence 0 hold ``tokens``, evaluating only what the cache lacks; the last
        token is always decoded alone (with ``logits``), so sampling starts from the same logits
        whatever was cached. The first chat turn (the system prompt) is a batch of its own, so its
        cells are the same whatever follows: the first prompt of a model may take them from a file
        an earlier process saved (:mod:`~agent.core.backends.llama_prompt_cache`). Returns the number of
        tokens evaluated."""
        import llama_cpp

        turn = llama_prompt_cache.first_turn_end(tokens, self._vocab.is_end_of_turn)
        disk, self._disk = self._disk, None
        if disk is not None and turn and not self._cache and disk.restore(self._ctx, tokens[:turn]):
            self._cache = tokens[:turn]
        keep = 0
        for cached, token in zip(self._cache, tokens[:-1]):
            if cached != token:
                break
            keep += 1
        if not llama_cpp.llama_memory_seq_rm(self._mem, -1, keep, -1):
            llama_cpp.llama_memory_clear(self._mem, True)
            keep = 0
        self._cache = tokens[:keep]
        if keep < turn:
            self._evaluate(tokens[keep:turn], keep)
            if disk is not None and keep == 0:
                disk.save(self._ctx, tokens[:turn])  # the next process may start from it
        start = max(keep, turn)
        self._evaluate(tokens[start:-1], start)
        self._decode([(tokens[-1], len(tokens) - 1, 0, logits)])
        return len(tokens) - keep

    def _evaluate(self, tokens: list[int], start: int) -> None:
        """Decode ``tokens`` into sequence 0 from position ``start``, in batches of ``n_batch``, no logits."""
        for at in range(0, len(tokens), self.n_batch):
            self._decode([(t, start + at + i, 0, False) for i, t in enumerate(tokens[at : at + self.n_batch])])

    def _decode(self, rows: list[tuple[int, int, int, bool]]) -> None:
        """Decode rows of sequence 0 (whose tokens ``self._cache`` tracks)."""
        self._decode_rows(rows)
        self._cache += [row[0] for row in rows]

    def _decode_rows(self, rows: list[tuple[int, int, int, bool]]) -> None:
        import llama_cpp

        self._batch.fill(rows)
        status = llama_cpp.llama_decode(self._ctx, self._batch.raw)
        if status != 0:
            self._forget_cache()
            raise ModelError(f"{self.name}: llama_decode failed with status {status} ({LOG_SINK.last_error()})")

    def _new_sample(
        self, seq_id: int, pos: int, parser, temperature: float, seed: int | None, index: int, idx: int = 0
    ) -> Sample:
        """Sample number ``index`` of a call (its seed is ``seed + index``) as sequence ``seq_id``, with its own
        sampler chain and grammar state; its first token is drawn from row ``idx`` of the last batch."""
        import llama_cpp

        draw_seed = RANDOM_SEED if seed is None else (seed + index) % RANDOM_SEED
        chain = make_chain(temperature, draw_seed, self.top_k, self.top_p, self.min_p)
        grammar = llama_cpp.llama_sampler_clone(parser) if parser else None
        return Sample(seq_id=seq_id, chain=chain, grammar=grammar, pos=pos, idx=idx, greedy=temperature <= 0)

    def _sample(
        self, tokens: list[int], first: int, count: int, limits: Limits, parser, temperature: float, seed: int | None
    ) -> list[Sample]:
        """Draw ``count`` samples (global indices from ``first``) as sequences 0..count-1."""
        import llama_cpp

        samples = []
        for j in range(count):
            if j:
                llama_cpp.llama_memory_seq_cp(self._mem, 0, j, -1, -1)
            samples.append(self._new_sample(j, len(tokens), parser, temperature, seed, first + j))
        try:
            with self._drawing(samples):
                if limits.max_tokens > 0:
                    generate(self._ctx, self._vocab.raw, self._batch, samples, limits, self._vocab.piece)
                self._cache = tokens + samples[0].tokens[: samples[0].decoded]
        finally:
            for j in range(1, count):
                llama_cpp.llama_memory_seq_rm(self._mem, j, -1, -1)
        return samples

    # -- the prompt's tokens, cleanup -----------------------------------------------------

    def _encode(self, prompt: str) -> list[int]:
        """The prompt's tokens (BOS alone for an empty one).

        Raises:
            ModelError: it does not fit the context.
        """
        tokens = self._vocab.tokenize(prompt, add_special=True) or [self._vocab.special("bos")]
        if len(tokens) >= self.n_ctx:
            raise ModelError(
                f"{self.name}: the prompt has {len(tokens)} tokens, more than n_ctx={self.n_ctx} "
                "holds; shorten it or raise n_ctx"
            )
        return tokens

    def close(self) -> None:
        """Free the llama.cpp context, adapter and model (also done when collected)."""
        import llama_cpp

        if getattr(self, "_vocab", None) is not None:
            self._vocab.close()  # the grammars, before the model they were compiled for
        if getattr(self, "_batch", None) is not None:
            self._batch.close()
        for attr, free in (
            ("_ctx", llama_cpp.llama_free),
            ("_lora", llama_cpp.llama_adapter_lora_free),
            ("_model", llama_cpp.llama_model_free),
        ):
            if getattr(self, attr, None) and not (attr == "_model" and getattr(self, "_owner", None) is not None):
                free(getattr(self, attr))  # a with_adapter model leaves the weights to their owner
            setattr(self, attr, None)
        self._owner = None

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # at interpreter exit llama_cpp may be gone already
            self.close()
