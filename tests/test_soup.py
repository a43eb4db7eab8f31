"""A LoRA soup is the exact weighted sum of its runs' weight updates."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
peft = pytest.importorskip("peft")
from transformers import LlamaConfig, LlamaForCausalLM

from finetune.recipes.soup import main


def _model() -> LlamaForCausalLM:
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=64,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
    )
    return LlamaForCausalLM(config)


def _adapter(out: Path, seed: int, r: int) -> Path:
    model = peft.get_peft_model(
        _model(), peft.LoraConfig(r=r, lora_alpha=2 * r, target_modules=["q_proj", "down_proj"])
    )
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_" in name:
                p.normal_()
    model.save_pretrained(out / "adapter")
    return out


def _delta(run: Path) -> dict[str, torch.Tensor]:
    merged = peft.PeftModel.from_pretrained(_model(), str(run / "adapter")).merge_and_unload().state_dict()
    base = _model().state_dict()
    return {
        k: merged[k] - base[k]
        for k in ("model.layers.0.self_attn.q_proj.weight", "model.layers.0.mlp.down_proj.weight")
    }


def test_soup_is_the_weighted_sum_of_the_updates(tmp_path: Path):
    one, two = _adapter(tmp_path / "one", 1, 4), _adapter(tmp_path / "two", 2, 4)
    assert main(["--out", str(tmp_path / "soup"), str(one), f"{two}:0.25"]) == 0
    soup, d1, d2 = _delta(tmp_path / "soup"), _delta(one), _delta(two)
    for name, d in soup.items():
        assert torch.allclose(d, 0.5 * d1[name] + 0.25 * d2[name], atol=1e-5), name
    assert (d1[name] - d2[name]).abs().max() > 0.1  # the two runs differ: the sum is not trivially either


def test_runs_of_another_scale_are_refused(tmp_path: Path):
    one = _adapter(tmp_path / "one", 1, 4)
    other = peft.get_peft_model(_model(), peft.LoraConfig(r=4, lora_alpha=4, target_modules=["q_proj", "down_proj"]))
    other.save_pretrained(tmp_path / "other" / "adapter")
    with pytest.raises(ValueError, match="alpha/r differs"):
        main(["--out", str(tmp_path / "soup"), str(one), str(tmp_path / "other")])
