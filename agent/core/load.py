"""The backend registry: which backend a model spec names, constructed with its heavy imports inside.

It imports the backends; the backends import only the contract (:mod:`agent.core.model`), never this.
"""

from __future__ import annotations

from agent.core.model import Model, ModelError


def load_model(spec: str | None = None, *, adapter: str | None = None, **kwargs) -> Model:
    """Pick a backend from a model spec.

    Args:
        spec: ``None`` for the embedded default model; ``http(s)://...`` for an
            OpenAI-compatible server; a ``.gguf`` file for llama.cpp; ``hf:DIR`` or a
            directory holding ``config.json`` for transformers; ``fake:FILE.json`` for a
            scripted model (a JSON list of replies). A ``.gguf`` spec may carry a LoRA adapter
            as ``base.gguf+adapter.gguf``; a GGUF LoRA adapter alone (``agent export --outtype
            lora``) is applied to the named base of its architecture (llama: the embedded SmolLM2;
            gemma3: gemma3-270m). A short name (``smollm2-135m``, ``gemma3-270m``) stands for the
            model file its package provides, alone or as ``NAME+adapter.gguf``.
        adapter: a GGUF LoRA adapter applied on top of a llama.cpp base.

    Raises:
        ModelError: the spec points at nothing usable (the message says what to do).
    """
    from pathlib import Path

    if spec and spec.startswith(("http://", "https://")):
        from agent.core.backends.openai_http import OpenAIModel

        return OpenAIModel(spec, **kwargs)
    if spec and spec.startswith("fake:"):
        from agent.core.backends.fake import ScriptedModel

        return ScriptedModel.from_file(spec[5:])
    if spec and "+" in spec and spec.endswith(".gguf") and adapter is None:
        spec, adapter = spec.split("+", 1)
    from agent.core.embedded import NAMED_MODELS, named_model_path

    if spec in NAMED_MODELS:  # a short name: smollm2-135m (the embedded base), gemma3-270m
        spec = str(named_model_path(spec))
    if spec and spec.startswith("hf:"):
        from agent.core.backends.transformers_backend import TransformersModel

        return TransformersModel(spec[3:], **kwargs)
    if spec and Path(spec).is_dir():
        if (Path(spec) / "config.json").exists() or (Path(spec) / "adapter_config.json").exists():
            from agent.core.backends.transformers_backend import TransformersModel

            return TransformersModel(spec, **kwargs)
        ggufs = sorted(Path(spec).glob("*.gguf"))
        if not ggufs:
            raise ModelError(f"{spec}: a directory with neither config.json nor a .gguf file")
        spec = str(ggufs[0])
    from agent.core.backends.gguf_header import gguf_string
    from agent.core.backends.llama_cpp import LlamaCppModel

    if spec and adapter is None and gguf_string(Path(spec), "general.type") == "adapter":
        # an adapter alone runs on the named base of its architecture (the embedded SmolLM2 for llama)
        from agent.core.embedded import NAMED_ARCHITECTURES

        architecture = gguf_string(Path(spec), "general.architecture")
        if architecture not in NAMED_ARCHITECTURES:
            raise ModelError(f"{spec} is a LoRA adapter for a {architecture} model and no named model is one: "
                             "give its base as --model BASE.gguf+ADAPTER.gguf")
        spec, adapter = str(named_model_path(NAMED_ARCHITECTURES[architecture])), spec
    return LlamaCppModel(spec, adapter=adapter, **kwargs)
