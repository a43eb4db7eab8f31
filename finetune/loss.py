"""The training objective as a module (so ``accelerate`` can wrap it in DDP): summed next-token
cross-entropy over the trained positions only.

The output head, the costliest matrix of a small model (SmolLM2: 49k x 576), runs only where a
label is set, not over the whole prompt. Models that post-process logits (soft-capping,
scaling) go through their own ``forward`` instead.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from finetune.batches import IGNORE

_LOGIT_POSTPROCESSING = ("final_logit_softcapping", "logit_scale", "logits_scaling", "output_multiplier_scale")


class TokenLoss(nn.Module):
    """``forward(batch tensors) -> summed loss``; divide by the number of trained tokens yourself.

    With ``prefix_len`` (rows that start with the same untrained tokens, e.g. one system prompt),
    the shared prefix runs once, its key/value cache is repeated for every row and only the rest
    of each row runs: the same loss and gradients for a fraction of the compute.
    """

    def __init__(self, model: Any, share_prefix: bool = True):  # False under gradient checkpointing (no cache)
        super().__init__()
        self.model = model
        config = model.config
        self.head_only_on_targets = not any(getattr(config, k, None) for k in _LOGIT_POSTPROCESSING)
        self.share_prefix = share_prefix and self.head_only_on_targets

    def forward(
        self,
        input_ids: torch.Tensor,
        targets: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        prefix_len: int = 0,
    ) -> torch.Tensor:
        if not self.head_only_on_targets:
            logits = self.model(
                input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, use_cache=False
            ).logits
            return F.cross_entropy(logits[targets != IGNORE].float(), targets[targets != IGNORE], reduction="sum")
        decoder = self.model.get_decoder()
        if prefix_len and self.share_prefix:
            hidden = self._after_shared_prefix(decoder, input_ids, attention_mask, prefix_len)
            targets = targets[:, prefix_len:]
        else:
            hidden = decoder(
                input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, use_cache=False
            ).last_hidden_state
        trained = targets != IGNORE
        logits = self.model.get_output_embeddings()(hidden[trained])
        return F.cross_entropy(logits.float(), targets[trained], reduction="sum")

    @staticmethod
    def _after_shared_prefix(
        decoder: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor | None, prefix_len: int
    ) -> torch.Tensor:
        """Hidden states of positions ``prefix_len:`` of every row, the common prefix computed once."""
        rows, width = input_ids.shape
        name = _cache_argument(decoder)
        out = decoder(input_ids=input_ids[:1, :prefix_len], use_cache=True)
        cache = getattr(out, name)
        cache.batch_repeat_interleave(rows)
        positions = torch.arange(prefix_len, width, device=input_ids.device).expand(rows, -1)
        return decoder(
            input_ids=input_ids[:, prefix_len:],
            attention_mask=attention_mask,
            position_ids=positions,
            use_cache=True,
            **{name: cache},
        ).last_hidden_state


def _cache_argument(decoder: Any) -> str:
    """``cache`` (transformers 5) or ``past_key_values`` (4.x): the decoder's KV-cache argument and output."""
    return "cache" if "cache" in inspect.signature(decoder.forward).parameters else "past_key_values"
