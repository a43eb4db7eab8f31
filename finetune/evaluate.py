"""Dev-set evaluation during training: token loss, and answer accuracy from greedy runs.

Accuracy runs the real ReAct loop (:class:`agent.react.ReActAgent`, real tools) on the model in
memory for examples that list tools, and one greedy completion for the others.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from agent.model import Completion
from finetune.data import Example

log = logging.getLogger(__name__)

_FINAL = re.compile(r"Final Answer:\s*(.*)")


class InMemoryModel:
    """A torch causal LM being trained, behind the runtime's :class:`agent.model.Model` protocol (greedy only)."""

    supports_grammar = False

    def __init__(self, model: Any, tokenizer: Any, name: str = "training"):
        self.model, self.tokenizer, self.name = model, tokenizer, name

    def render(self, messages: list[dict[str, str]], add_generation_prompt: bool = True) -> str:
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

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
        import torch

        t0 = time.perf_counter()
        device = next(self.model.parameters()).device
        ids = self.tokenizer(prompt, add_special_tokens=False, return_tensors="pt")["input_ids"].to(device)
        with torch.no_grad():
            out = self.model.generate(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=max_tokens,
                do_sample=False,
                use_cache=True,
                stop_strings=list(stop) or None,
                tokenizer=self.tokenizer,
                pad_token_id=self.tokenizer.pad_token_id or self.tokenizer.eos_token_id,
            )
        new = out[0, ids.shape[1] :]
        text = self.tokenizer.decode(new, skip_special_tokens=True)
        cuts = [i for i in (text.find(s) for s in stop if s) if i >= 0]
        text = text[: min(cuts)] if cuts else text
        return Completion(
            [text] * n,
            prompt_tokens=ids.shape[1],
            completion_tokens=len(new) * n,
            seconds=time.perf_counter() - t0,
            finish_reasons=["stop"] * n,
        )


def dev_loss(loss_fn: Any, batches: list[dict[str, Any]]) -> float:
    """Mean token loss over ``batches`` (collated micro-batches), without gradients."""
    import torch

    total, count = 0.0, 0
    with torch.no_grad():
        for batch in batches:
            loss_sum, n = loss_fn(batch)
            total += float(loss_sum)
            count += n
    return total / max(count, 1)


def answer_of(example: Example, model: Any, tokenizer: Any, max_steps: int = 4, max_tokens: int = 96) -> str | None:
    """The model's greedy answer to ``example``: a ReAct run with its tools, or one completion.

    Bounded (``max_steps`` ReAct steps of ``max_tokens``) so that evaluating on a CPU stays cheap.
    """
    wrapped = InMemoryModel(model, tokenizer)
    if example.tools and not example.messages and example.system is None:
        from agent.react import ReActAgent, ReActConfig
        from tools import load_tools

        config = ReActConfig(max_steps=max_steps, max_tokens=max_tokens, grammar=False)
        agent = ReActAgent(wrapped, load_tools(list(example.tools)), config)
        return agent.run(example.problem).answer
    text = wrapped.complete(wrapped.render(example.prompt_messages()), max_tokens=2 * max_tokens).text
    found = _FINAL.findall(text)
    return found[-1].strip() if found else text.strip()


def answer_accuracy(examples: list[Example], model: Any, tokenizer: Any, limit: int) -> float | None:
    """Share of the first ``limit`` dev examples (with an answer) answered right; ``None`` when none."""
    from finetune.formats import answers_match

    chosen = [ex for ex in examples if ex.answer][:limit]
    if not chosen:
        return None
    was_training = model.training
    model.eval()
    try:
        right = sum(answers_match(answer_of(ex, model, tokenizer), ex.answer) for ex in chosen)
    finally:
        model.train(was_training)
    return right / len(chosen)
