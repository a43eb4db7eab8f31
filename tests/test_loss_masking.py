"""Loss masking per chat template: of each family's rendered chat, only the assistant's text and the token that
ends its turn are trained (ChatML's ``<|im_end|>``, Llama 3's ``<|eot_id|>``, Gemma's ``<end_of_turn>``,
Phi-3's ``<|end|>``), whatever the template does around them (trimming, a default system prompt, an eos after).
"""

from __future__ import annotations

import pytest
from tiny_families import FAMILIES, family_tokenizer

from finetune.batches import IGNORE, encode
from finetune.formats import gsm8k_react
from finetune.schema import Example

pytest.importorskip("transformers")

EXAMPLE = Example(problem="What is 3+4?", reasoning="I add 3 and 4.", answer="7", system="Be brief.")


@pytest.fixture(scope="module", params=list(FAMILIES))
def family_and_tokenizer(request, smollm2_tokenizer, llama_converter):
    family = FAMILIES[request.param]
    return family, family_tokenizer(family, smollm2_tokenizer, llama_converter)


def trained_text(example: Example, tokenizer) -> tuple[str, str]:
    """The decoded trained tokens, and the decoded tokens before the first of them."""
    enc = encode(example, tokenizer, 4096)
    first = next(i for i, label in enumerate(enc.labels) if label != IGNORE)
    trained = [tid for tid, label in zip(enc.input_ids, enc.labels) if label != IGNORE]
    assert all(label in (IGNORE, tid) for tid, label in zip(enc.input_ids, enc.labels))
    return tokenizer.decode(trained), tokenizer.decode(enc.input_ids[:first])


def test_trained_tokens_are_the_assistant_text_and_its_end_of_turn(family_and_tokenizer):
    family, tokenizer = family_and_tokenizer
    text, before = trained_text(EXAMPLE, tokenizer)
    target = EXAMPLE.target()
    assert text in (target + family.end_of_turn, target.strip() + family.end_of_turn)
    prompt = tokenizer.apply_chat_template(EXAMPLE.prompt_messages(), tokenize=False, add_generation_prompt=True)
    assert before == prompt  # the whole prompt, up to the generation header, is masked


def test_tool_observations_stay_masked(family_and_tokenizer):
    family, tokenizer = family_and_tokenizer
    example = gsm8k_react("A box holds 24 pens. How many pens are in 17 boxes?", "24*17 = <<24*17=408>>408\n#### 408")
    text, _ = trained_text(example, tokenizer)
    assert text.startswith("Thought:") and text.endswith(family.end_of_turn)
    assert text.removesuffix(family.end_of_turn).strip().endswith("Final Answer: 408")
    assert "Observation:" in text and "Observation: 408" not in text


def test_bos_goes_first_untrained_when_the_tokenizer_asks_for_it(smollm2_tokenizer):
    """llama.cpp puts BOS before a prompt when the GGUF says add_bos_token (Gemma's does): training reads it too."""
    raw = Example(problem="", reasoning="", answer="", completion=" 7", raw_prompt="Q: 3+4?\nA:")
    bos = smollm2_tokenizer.bos_token_id
    plain = encode(raw, smollm2_tokenizer, 4096)
    assert not smollm2_tokenizer.add_bos_token and plain.input_ids[0] != bos
    smollm2_tokenizer.add_bos_token = True
    try:
        with_bos = encode(raw, smollm2_tokenizer, 4096)
        cut = encode(raw, smollm2_tokenizer, len(plain.input_ids))
        chat = encode(EXAMPLE, smollm2_tokenizer, 4096)  # ChatML opens with <|im_start|>, SmolLM2's BOS: not twice
    finally:
        smollm2_tokenizer.add_bos_token = False
    assert with_bos.input_ids == [bos, *plain.input_ids] and with_bos.labels == [IGNORE, *plain.labels]
    assert cut.input_ids == with_bos.input_ids[:-1] and cut.cut
    assert chat.input_ids == encode(EXAMPLE, smollm2_tokenizer, 4096).input_ids and chat.input_ids.count(bos) >= 1


def test_a_base_without_a_chat_template_trains_on_the_runtimes_fallback_turns(tmp_path, smollm2_tokenizer):
    """A template-less base (Gemma 3 270M's GGUF) renders as the llama.cpp backend renders it: the family's turns."""
    import json

    from agent.core.chat_templates import CHATML, GEMMA
    from finetune.modeling import load_tokenizer

    smollm2_tokenizer.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "tokenizer_config.json").read_text())
    config.pop("chat_template", None)
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(config))
    (tmp_path / "chat_template.jinja").unlink(missing_ok=True)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gemma3_text"}))
    assert load_tokenizer(str(tmp_path)).chat_template == GEMMA
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama"}))
    assert load_tokenizer(str(tmp_path)).chat_template == CHATML
