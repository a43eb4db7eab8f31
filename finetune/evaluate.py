"""Dev-set evaluation during training: token loss, and answer accuracy from greedy runs.

Accuracy runs the real ReAct loop (:class:`agent.core.react.ReActAgent`, real tools) on the model in
memory for examples that list tools, and one greedy completion for the others.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from agent.core.backends.transformers_backend import TransformersModel
from finetune.data import Example

log = logging.getLogger(__name__)

_FINAL = re.compile(r"Final Answer:\s*(.*)")


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
    wrapped = TransformersModel.from_loaded(model, tokenizer, name="training")
    if example.tools and not example.messages and example.system is None:
        from agent.core.react import ReActAgent, ReActConfig
        from tools import load_tools

        config = ReActConfig(max_steps=max_steps, max_tokens=max_tokens, grammar=False)
        agent = ReActAgent(wrapped, load_tools(list(example.tools)), config)
        return agent.run(example.problem).answer
    prompt = example.raw_prompt if example.raw_prompt is not None else wrapped.render(example.prompt_messages())
    text = wrapped.complete(prompt, max_tokens=2 * max_tokens).text
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
