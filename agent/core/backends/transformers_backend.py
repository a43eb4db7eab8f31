"""transformers backend: a HF model directory, a peft adapter run, or a GGUF loaded through transformers.

Runs on CPU or GPU. It cannot enforce a GBNF grammar (``supports_grammar = False``), so the
ReAct loop relies on its parser there. torch and transformers are imported in the constructor.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from agent.core.model import Completion, ModelError, cut_at_stop
from agent.core.text import escape_surrogates

log = logging.getLogger(__name__)


class TransformersModel:
    """A causal LM through transformers.

    Args:
        path: a HF model directory, a directory with ``adapter_config.json`` (peft), or a ``.gguf`` file.
        device: ``"cpu"``, ``"cuda"``, or ``None`` for cuda when available.
        dtype: ``"float32"``, ``"bfloat16"``, or ``None`` (bf16 on GPU, fp32 on CPU).
    """

    supports_grammar = False

    def __init__(self, path: str, device: str | None = None, dtype: str | None = None):
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as err:
            raise ModelError(
                "the transformers backend needs torch and transformers: pip install 'cot-agent[train]'"
            ) from err
        p = Path(path)
        if not p.exists():
            raise ModelError(f"{path}: no such model file or directory")
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        torch_dtype = getattr(torch, dtype) if dtype else (torch.bfloat16 if self.device == "cuda" else torch.float32)
        kwargs: dict = {"dtype": torch_dtype}
        src = str(p)
        if p.is_file():
            src, kwargs["gguf_file"] = str(p.parent), p.name
        try:
            if (p / "adapter_config.json").exists():
                from peft import AutoPeftModelForCausalLM

                model = AutoPeftModelForCausalLM.from_pretrained(src, **kwargs).merge_and_unload()
            else:
                model = AutoModelForCausalLM.from_pretrained(src, **kwargs)
            self.tokenizer = AutoTokenizer.from_pretrained(src, **{k: v for k, v in kwargs.items() if k != "dtype"})
        except (OSError, ValueError) as err:
            raise ModelError(f"{path}: cannot load a model here ({str(err).splitlines()[0]})") from err
        self.model = model.to(self.device).eval()
        self.name = p.name
        self._torch = torch

    @classmethod
    def from_loaded(cls, model: Any, tokenizer: Any, name: str = "in-memory") -> TransformersModel:
        """Wrap a model already in memory (e.g. one being trained) without loading anything."""
        import torch

        self = cls.__new__(cls)
        self.model, self.tokenizer, self.name, self._torch = model, tokenizer, name, torch
        self.device = next(model.parameters()).device
        return self

    def render(self, messages: list[dict[str, str]], add_generation_prompt: bool = True) -> str:
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(escape_surrogates(text), add_special_tokens=False)["input_ids"])

    def complete(
        self, prompt, *, stop=(), grammar=None, n=1, max_tokens=256, temperature=0.0, seed=None, logprobs=False
    ) -> Completion:
        if grammar:
            raise ModelError("the transformers backend cannot enforce a grammar; use a GGUF model with llama.cpp")
        torch = self._torch
        t0 = time.perf_counter()
        ids = self.tokenizer(escape_surrogates(prompt), return_tensors="pt", add_special_tokens=False).to(self.device)
        if seed is not None:
            torch.manual_seed(seed)
        out = self._generate(
            ids,
            stop,
            max_tokens,
            temperature,
            num_return_sequences=n,
            output_scores=logprobs,
            return_dict_in_generate=True,
            pad_token_id=self.tokenizer.pad_token_id or self.tokenizer.eos_token_id,
        )
        start = ids["input_ids"].shape[1]
        gen = out.sequences[:, start:]
        texts, counts = self._decode(gen, stop)
        lps = None
        if logprobs:
            steps = torch.stack(out.scores, dim=1).log_softmax(-1)  # (n, T, V)
            lps = steps.gather(-1, gen[:, : steps.shape[1], None]).squeeze(-1).tolist()
        return Completion(
            texts=texts,
            prompt_tokens=start,
            completion_tokens=sum(counts),
            seconds=time.perf_counter() - t0,
            logprobs=lps,
            finish_reasons=["stop"] * n,
        )

    def complete_many(
        self, prompts: list[str], *, stop=(), max_tokens: int = 256, temperature: float = 0.0
    ) -> list[Completion]:
        """Continue each prompt once, all in one left-padded batch (what :class:`BatchingModel` calls).

        Sampling is not seeded per prompt: the batch shares one random stream.
        """
        tok = self.tokenizer
        t0 = time.perf_counter()
        side, tok.padding_side = tok.padding_side, "left"
        pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        try:
            if tok.pad_token_id is None:
                tok.pad_token = tok.eos_token
            ids = tok(list(prompts), return_tensors="pt", padding=True, add_special_tokens=False).to(self.device)
        finally:
            tok.padding_side = side
        out = self._generate(ids, stop, max_tokens, temperature, pad_token_id=pad)
        texts, counts = self._decode(out[:, ids["input_ids"].shape[1] :], stop)
        seconds = time.perf_counter() - t0
        mask = ids["attention_mask"].sum(dim=1).tolist()
        return [
            Completion([text], int(m), c, seconds, None, ["length" if c >= max_tokens else "stop"])
            for text, c, m in zip(texts, counts, mask)
        ]

    def _generate(self, ids: Any, stop, max_tokens: int, temperature: float, **extra: Any) -> Any:
        """``model.generate`` with our sampling settings (greedy at temperature 0, no top-p/top-k)."""
        sample = temperature > 0
        with self._torch.no_grad():
            return self.model.generate(
                **ids,
                max_new_tokens=max_tokens,
                do_sample=sample,
                temperature=temperature if sample else None,
                top_p=None,
                top_k=None,
                stop_strings=list(stop) or None,
                tokenizer=self.tokenizer,
                **extra,
            )

    def _decode(self, gen: Any, stop) -> tuple[list[str], list[int]]:
        """Each generated row as text cut at the first stop string, and its token count (no pad or end)."""
        drop = {self.tokenizer.eos_token_id, self.tokenizer.pad_token_id}
        texts, counts = [], []
        for row in gen.tolist():
            toks = [t for t in row if t not in drop]
            counts.append(len(toks))
            texts.append(cut_at_stop(self.tokenizer.decode(toks, skip_special_tokens=True), stop))
        return texts, counts
