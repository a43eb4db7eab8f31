"""The text side of a loaded llama.cpp model: its chat template, tokens, pieces, special tokens and grammars.

:class:`Vocab` wraps the ``llama_vocab`` of one model for :class:`~agent.core.backends.llama_cpp.LlamaCppModel`,
and caches what the decode loop asks for again and again (token pieces, end-of-turn checks) and the
compiled GBNF grammars.
"""

from __future__ import annotations

import ctypes

from agent.core.backends.llama_log import LOG_SINK
from agent.core.chat_templates import CHATML
from agent.core.model import ModelError
from agent.core.text import escape_surrogates

MAX_GRAMMARS = 32  # compiled grammars kept; the oldest goes first


class Vocab:
    """The vocabulary of a loaded llama.cpp model.

    Args:
        model: the ``llama_model`` (it must outlive this object).
        name: the model's name, which error messages start with.
        template: the Jinja chat template from the GGUF metadata; ``None`` for ChatML.
    """

    def __init__(self, model, name: str, template: str | None) -> None:
        import llama_cpp

        self.raw = llama_cpp.llama_model_get_vocab(model)
        self.name = name
        self.template = template or CHATML  # see chat_template for a model without one
        self._pieces: dict[int, bytes] = {}
        self._eog: dict[int, bool] = {}  # whether a token ends a turn (or generation), asked once each
        self._grammars: dict[str, object] = {}

    def render(self, messages: list[dict[str, str]], add_generation_prompt: bool = True) -> str:
        """Render chat messages with the chat template, in a Jinja sandbox."""
        import jinja2.sandbox

        def raise_exception(message: str):
            raise ModelError(f"{self.name}: chat template error: {message}")

        env = jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        env.globals["raise_exception"] = raise_exception
        return env.from_string(self.template).render(
            messages=messages,
            add_generation_prompt=add_generation_prompt,
            bos_token=self.special_text("bos"),
            eos_token=self.special_text("eos"),
        )

    def tokenize(self, text: str, add_special: bool) -> list[int]:
        """The tokens of ``text`` (special tokens in it parsed as such; BOS first if ``add_special``)."""
        import llama_cpp

        data = escape_surrogates(text).encode("utf-8")  # a lone surrogate is tokenized as its escape's text
        size = len(data) + 8
        for _ in range(2):
            out = (llama_cpp.llama_token * size)()
            got = llama_cpp.llama_tokenize(self.raw, data, len(data), out, size, add_special, True)
            if got >= 0:
                return list(out[:got])
            size = -got
        raise ModelError(f"{self.name}: cannot tokenize a text of {len(data)} bytes")

    def piece(self, token: int) -> bytes:
        """The bytes of one token (cached; control tokens render as nothing)."""
        piece = self._pieces.get(token)
        if piece is None:
            import llama_cpp

            buf = ctypes.create_string_buffer(64)
            got = llama_cpp.llama_token_to_piece(self.raw, token, buf, 64, 0, False)
            if got < 0:
                buf = ctypes.create_string_buffer(-got)
                got = llama_cpp.llama_token_to_piece(self.raw, token, buf, -got, 0, False)
            piece = self._pieces[token] = buf.raw[:got]
        return piece

    def is_end_of_turn(self, token: int) -> bool:
        """Whether ``token`` ends a turn or the generation (cached)."""
        eog = self._eog.get(token)
        if eog is None:
            import llama_cpp

            eog = self._eog[token] = bool(llama_cpp.llama_vocab_is_eog(self.raw, token))
        return eog

    def special(self, which: str) -> int:
        """The id of the ``"bos"`` or ``"eos"`` token (BOS falls back to EOS; -1 if neither)."""
        import llama_cpp

        bos = llama_cpp.llama_vocab_bos(self.raw)
        return bos if which == "bos" and bos >= 0 else llama_cpp.llama_vocab_eos(self.raw)

    def special_text(self, which: str) -> str:
        """The text of the ``"bos"`` or ``"eos"`` token (``""`` if there is none)."""
        import llama_cpp

        token = self.special(which)
        return llama_cpp.llama_vocab_get_text(self.raw, token).decode("utf-8", "replace") if token >= 0 else ""

    def grammar(self, grammar: str):
        """A parsed GBNF grammar sampler, cached per grammar text (each sample clones it).

        Raises:
            ModelError: llama.cpp rejected the grammar.
        """
        parser = self._grammars.get(grammar)
        if parser is None:
            import llama_cpp

            LOG_SINK.errors.clear()
            parser = llama_cpp.llama_sampler_init_grammar(self.raw, grammar.encode(), b"root")
            if not parser:
                raise ModelError(f"{self.name}: llama.cpp rejected the GBNF grammar ({LOG_SINK.last_error()})")
            if len(self._grammars) >= MAX_GRAMMARS:
                llama_cpp.llama_sampler_free(self._grammars.pop(next(iter(self._grammars))))
            self._grammars[grammar] = parser
        return parser

    def close(self) -> None:
        """Free the compiled grammars (before the model goes)."""
        import llama_cpp

        for parser in self._grammars.values():
            llama_cpp.llama_sampler_free(parser)
        self._grammars = {}
